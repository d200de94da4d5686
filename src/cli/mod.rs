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

/// `mobikectl tui`: the offline browser.
pub fn tui_main(args: &args::TuiArgs) -> std::process::ExitCode {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let mono = match args.color {
        args::ColorChoice::Never => true,
        args::ColorChoice::Always => false,
        args::ColorChoice::Auto => no_color,
    };
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
        bindings: args.bindings.clone(),
        looks: crate::tui::Looks {
            mono,
            ascii: args.ascii,
        },
        plain: args.plain,
        filter: args.filter.clone(),
    };
    match crate::tui::run_browser(options) {
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
