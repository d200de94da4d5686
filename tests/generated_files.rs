//! completions/ and man/ are generated from the clap definition; this fails when they are stale.
//! Regenerate with `bash .ci/regenerate`.
use std::path::Path;

use mobikectl::cli;

fn check(relative: &str, generated: Vec<u8>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{relative} is stale or missing: run `bash .ci/regenerate` and commit the result"
    );
}

#[test]
fn completions_match_the_cli() {
    for (shell, file) in [
        (clap_complete::Shell::Bash, "completions/mobikectl.bash"),
        (clap_complete::Shell::Zsh, "completions/_mobikectl"),
        (clap_complete::Shell::Fish, "completions/mobikectl.fish"),
    ] {
        let mut out = Vec::new();
        cli::write_completions(shell, &mut out);
        assert!(!out.is_empty());
        check(file, out);
    }
}

#[test]
fn man_page_matches_the_cli() {
    let mut out = Vec::new();
    cli::write_man(&mut out).expect("render man page");
    assert!(String::from_utf8_lossy(&out).contains("decode"));
    check("man/mobikectl.1", out);
}
