//! The command-line front end: argument definition, `decode` driver and output renderers.
pub mod args;
pub mod command;
pub mod decode;
pub mod drill;
pub mod filter;
pub mod peer;
mod table;
pub(crate) mod text;

use std::io::{self, Write};

use clap::CommandFactory;

pub use args::Cli;

/// Writes the completion script for `shell` (the files in completions/ come from this).
pub fn write_completions(shell: clap_complete::Shell, out: &mut dyn Write) {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "mobikectl", out);
}

/// The UI's looks from `--color`, NO_COLOR and `--ascii`.
pub fn ui_looks(ui: &args::UiArgs) -> crate::tui::Looks {
    let mono = match ui.color {
        args::ColorChoice::Never => true,
        args::ColorChoice::Always => false,
        args::ColorChoice::Auto => mono_by_default(),
    };
    crate::tui::Looks {
        mono,
        ascii: ui.ascii,
    }
}

/// The UI's keys: the defaults, then a peer configuration file's `[keys]` table, then
/// `--bindings FILE` (the last word wins).
pub fn ui_keymap(
    ui: &args::UiArgs,
    config: Option<&std::path::Path>,
) -> Result<crate::tui::keymap::KeyMap, String> {
    let mut keymap = crate::tui::keymap::KeyMap::default();
    if let Some(path) = config {
        let lines = peer::config::key_lines(path)?;
        keymap
            .apply(&lines)
            .map_err(|e| format!("{}: [keys]: {e}", path.display()))?;
    }
    if let Some(path) = &ui.bindings {
        keymap.apply_file(path)?;
    }
    Ok(keymap)
}

/// `mobikectl tui`: the offline browser, or the live UI over a peer.
pub fn tui_main(args: &args::TuiArgs) -> std::process::ExitCode {
    let looks = ui_looks(&args.ui);
    let keymap = match ui_keymap(&args.ui, args.peer_config.as_deref()) {
        Ok(k) => k,
        Err(e) => return exit_of(Err(e)),
    };
    if args.files.is_empty() {
        let mut options = Vec::new();
        if let Some(config) = &args.peer_config {
            options.extend(["--config".to_string(), config.display().to_string()]);
        }
        options.extend(args.peer_options.iter().cloned());
        if args.plain || !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
            return plain_peer(&options);
        }
        let program = match std::env::current_exe() {
            Ok(p) => p,
            Err(e) => {
                eprintln!("mobikectl: {e}");
                return std::process::ExitCode::from(2);
            }
        };
        let spec = crate::drill::peer_target::PeerSpec { program, options };
        return exit_of(crate::tui::run_live(
            crate::tui::LiveTarget::Peer(spec),
            keymap,
            looks,
        ));
    }
    let options = crate::tui::BrowserOptions {
        load: crate::tui::capture_index::LoadOptions {
            files: args.files.clone(),
            keys: args.keys.clone(),
            capture: crate::capture::CaptureOptions {
                udp_ports: args.udp_ports.clone(),
                udp_encap_ports: args.natt_ports.clone(),
                ..crate::capture::CaptureOptions::default()
            },
        },
        keymap,
        looks,
        plain: args.plain,
        filter: args.filter.clone(),
    };
    exit_of(crate::tui::run_browser(options))
}

/// The live UI without a terminal (or with `--plain`): the peer itself, which prints one
/// line per event and takes its commands on stdin.
fn plain_peer(options: &[String]) -> std::process::ExitCode {
    let argv = ["mobikectl", "peer"]
        .into_iter()
        .map(str::to_string)
        .chain(options.iter().cloned());
    match <Cli as clap::Parser>::try_parse_from(argv) {
        Ok(Cli {
            command: args::Command::Peer(peer_args),
        }) => peer::main(&peer_args),
        Ok(_) => std::process::ExitCode::from(2),
        Err(e) => {
            let _ = e.print();
            std::process::ExitCode::from(2)
        }
    }
}

/// Colours unless NO_COLOR is set (and not empty).
pub fn mono_by_default() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

fn exit_of(r: Result<i32, String>) -> std::process::ExitCode {
    match r {
        Ok(code) => std::process::ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => {
            eprintln!("mobikectl: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

/// Writes the man page (man/mobikectl.1 comes from this).
pub fn write_man(out: &mut dyn Write) -> io::Result<()> {
    clap_mangen::Man::new(Cli::command()).render(out)
}
