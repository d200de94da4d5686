//! The command-line front end: argument definition, `decode` driver and output renderers.
pub mod args;
pub mod command;
pub mod decode;
pub mod drill;
pub mod filter;
pub mod peer;
mod table;
mod text;

use std::io::{self, Write};

use clap::CommandFactory;

pub use args::Cli;

/// Writes the completion script for `shell` (the files in completions/ come from this).
pub fn write_completions(shell: clap_complete::Shell, out: &mut dyn Write) {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "mobikectl", out);
}

/// Writes the man page (man/mobikectl.1 comes from this).
pub fn write_man(out: &mut dyn Write) -> io::Result<()> {
    clap_mangen::Man::new(Cli::command()).render(out)
}
