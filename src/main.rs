use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use clap::Parser;
use mobikectl::cli::{self, args::Command, Cli};

// decode moves every message's buffers from the capture thread to the rendering thread; with
// glibc's allocator the frees contend for the first thread's arena lock.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = io::stdout();
    // Large writes: decode can print hundreds of megabytes (live capture flushes each record).
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    match cli.command {
        Command::Decode(args) => {
            let mut err = io::stderr().lock();
            match cli::decode::run(&args, &mut out, &mut err) {
                Ok(outcome) if outcome.malformed > 0 => {
                    let _ = out.flush();
                    let _ = writeln!(
                        err,
                        "mobikectl: {} malformed or truncated input(s)",
                        outcome.malformed
                    );
                    ExitCode::from(1)
                }
                Ok(_) => ExitCode::SUCCESS,
                Err(e) => {
                    let _ = out.flush();
                    let _ = writeln!(err, "mobikectl: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Peer(args) => {
            drop(out);
            cli::peer::main(&args)
        }
        Command::Drill(args) => {
            drop(out);
            cli::drill::drill_main(&args)
        }
        Command::Lab(args) => {
            drop(out);
            cli::drill::lab_main(&args)
        }
        Command::Tui(args) => {
            drop(out);
            cli::tui_main(&args)
        }
        Command::Completions { shell } => {
            cli::write_completions(shell, &mut out);
            finish(out)
        }
        Command::Man => match cli::write_man(&mut out) {
            Ok(()) => finish(out),
            Err(e) => {
                eprintln!("mobikectl: {e}");
                ExitCode::from(2)
            }
        },
    }
}

fn finish(mut out: impl Write) -> ExitCode {
    match out.flush() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mobikectl: {e}");
            ExitCode::from(2)
        }
    }
}
