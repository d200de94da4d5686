//! `mobikectl drill` and `mobikectl lab`: parse a drill, run it on the embedded virtual
//! lab, print the report. Exit codes: 0 every expectation held, 1 one failed, 2 bad
//! file or configuration (nothing ran).

use std::io::{self, Write};
use std::process::ExitCode;

use super::args::{DrillArgs, LabArgs, ReportFormat};
use crate::drill::{parse_drill, report, run_drill, RunOptions};
use crate::embedded_lab::{default_drill, LabOptions, VirtualLab};

/// Why the drill did not run (exit code 2).
fn refuse(file: &str, format: ReportFormat, errors: &[String]) -> u8 {
    match format {
        ReportFormat::Json => {
            println!("{}", report::json_errors(file, errors));
        }
        ReportFormat::Text => {
            let mut err = io::stderr().lock();
            for e in errors {
                let _ = writeln!(err, "{e}");
            }
            let _ = writeln!(err, "mobikectl: {file}: not run");
        }
    }
    2
}

/// Parse and run `source` on a fresh virtual lab; prints the report; returns the exit
/// code.
pub fn run_on_virtual_lab(
    file: &str,
    source: &str,
    lab: LabOptions,
    options: RunOptions,
    format: ReportFormat,
    events: bool,
    out: &mut dyn Write,
) -> u8 {
    let drill = match parse_drill(file, source) {
        Ok(d) => d,
        Err(errors) => {
            let list: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
            return refuse(file, format, &list);
        }
    };
    let mut target = match VirtualLab::new(lab) {
        Ok(t) => t,
        Err(e) => return refuse(file, format, &[format!("virtual lab: {e}")]),
    };
    let outcome = match run_drill(&drill, &mut target, options) {
        Ok(o) => o,
        Err(e) => return refuse(file, format, &[e]),
    };
    let written = match format {
        ReportFormat::Text => out.write_all(report::text_report(&outcome, events).as_bytes()),
        ReportFormat::Json => writeln!(out, "{}", report::json_report(&outcome, events)),
    };
    if let Err(e) = written.and_then(|()| out.flush()) {
        if e.kind() != io::ErrorKind::BrokenPipe {
            eprintln!("mobikectl: {e}");
        }
    }
    outcome.exit_code()
}

fn read_drill(path: &std::path::Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// `mobikectl drill FILE`.
pub fn drill_main(args: &DrillArgs) -> ExitCode {
    let file = args.file.display().to_string();
    if !args.lab {
        let msg = "drills against a real gateway (a running mobikectl peer) are not supported \
                   yet; add --lab to run the drill on the embedded virtual lab"
            .to_string();
        return ExitCode::from(refuse(&file, args.report, &[msg]));
    }
    let source = match read_drill(&args.file) {
        Ok(s) => s,
        Err(e) => return ExitCode::from(refuse(&file, args.report, &[e])),
    };
    let options = RunOptions {
        allow_shell: args.allow_shell,
    };
    let lab = LabOptions { nat: args.nat };
    let mut out = io::stdout().lock();
    ExitCode::from(run_on_virtual_lab(
        &file,
        &source,
        lab,
        options,
        args.report,
        args.events,
        &mut out,
    ))
}

/// `mobikectl lab`: the default drill (`drills/nat.drill` with `--nat`), or `--drill
/// FILE`, on the virtual lab. There is
/// no real-sockets lab yet: without `--virtual` it says so and runs the virtual one.
pub fn lab_main(args: &LabArgs) -> ExitCode {
    if !args.virtual_lab {
        eprintln!(
            "mobikectl lab: the real-sockets lab is not there yet; running the virtual lab \
             (--virtual)"
        );
    }
    let (file, source) = match &args.drill {
        Some(path) => match read_drill(path) {
            Ok(s) => (path.display().to_string(), s),
            Err(e) => {
                let file = path.display().to_string();
                return ExitCode::from(refuse(&file, args.report, &[e]));
            }
        },
        None => {
            let (name, text) = default_drill(LabOptions { nat: args.nat });
            (name.to_string(), text.to_string())
        }
    };
    let options = RunOptions {
        allow_shell: args.allow_shell,
    };
    let lab = LabOptions { nat: args.nat };
    let mut out = io::stdout().lock();
    ExitCode::from(run_on_virtual_lab(
        &file,
        &source,
        lab,
        options,
        args.report,
        args.events,
        &mut out,
    ))
}
