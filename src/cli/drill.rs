//! `mobikectl drill` and `mobikectl lab`: parse a drill, run it on the embedded virtual
//! lab, print the report. Exit codes: 0 every expectation held, 1 one failed, 2 bad
//! file or configuration (nothing ran).

use std::io::{self, Write};
use std::path::PathBuf;
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

/// How to run a drill on the virtual lab and report it.
#[derive(Debug, Clone)]
pub struct LabRun {
    /// The drill's name in messages.
    pub file: String,
    /// The lab's setup.
    pub lab: LabOptions,
    /// The runner's options.
    pub options: RunOptions,
    /// Report format.
    pub format: ReportFormat,
    /// Every event in the report.
    pub events: bool,
    /// Write what the network carried here (pcap) after the run.
    pub pcap: Option<PathBuf>,
    /// Write a picture of the run here (SVG).
    pub svg: Option<PathBuf>,
}

/// Parse and run `source` on a fresh virtual lab; prints the report; returns the exit
/// code (2 also when the pcap cannot be written).
pub fn run_on_virtual_lab(run: &LabRun, source: &str, out: &mut dyn Write) -> u8 {
    let (file, format) = (run.file.as_str(), run.format);
    let drill = match parse_drill(file, source) {
        Ok(d) => d,
        Err(errors) => {
            let list: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
            return refuse(file, format, &list);
        }
    };
    let mut target = match VirtualLab::new(run.lab) {
        Ok(t) => t,
        Err(e) => return refuse(file, format, &[format!("virtual lab: {e}")]),
    };
    let outcome = match run_drill(&drill, &mut target, run.options) {
        Ok(o) => o,
        Err(e) => return refuse(file, format, &[e]),
    };
    let svg_failed = write_svg(run.svg.as_deref(), &outcome);
    let written = match format {
        ReportFormat::Text => {
            let mut text = report::text_report(&outcome, run.events);
            if let Some(path) = run.svg.as_ref().filter(|_| !svg_failed) {
                text.push_str(&report::svg_note(&path.display().to_string()));
            }
            out.write_all(text.as_bytes())
        }
        ReportFormat::Json => {
            let mut json = report::json_report(&outcome, run.events);
            if let Some(path) = run.svg.as_ref().filter(|_| !svg_failed) {
                json["svg"] = path.display().to_string().into();
            }
            writeln!(out, "{json}")
        }
    };
    if let Err(e) = written.and_then(|()| out.flush()) {
        if e.kind() != io::ErrorKind::BrokenPipe {
            eprintln!("mobikectl: {e}");
        }
    }
    if let Some(path) = &run.pcap {
        if let Err(e) = std::fs::write(path, target.pcap()) {
            eprintln!("mobikectl: --pcap {}: {e}", path.display());
            return 2;
        }
    }
    if svg_failed {
        return 2;
    }
    outcome.exit_code()
}

/// Write the picture of the run to `path`; true when that failed (said on stderr).
fn write_svg(path: Option<&std::path::Path>, outcome: &crate::drill::DrillOutcome) -> bool {
    let Some(path) = path else {
        return false;
    };
    match std::fs::write(path, crate::drill::svg::drill_svg(outcome)) {
        Ok(()) => false,
        Err(e) => {
            eprintln!("mobikectl: --svg {}: {e}", path.display());
            true
        }
    }
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
    let run = LabRun {
        file,
        lab: LabOptions { nat: args.nat },
        options: RunOptions {
            allow_shell: args.allow_shell,
        },
        format: args.report,
        events: args.events,
        pcap: args.pcap.clone(),
        svg: args.svg.clone(),
    };
    ExitCode::from(run_on_virtual_lab(&run, &source, &mut io::stdout().lock()))
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
    let run = LabRun {
        file,
        lab: LabOptions { nat: args.nat },
        options: RunOptions {
            allow_shell: args.allow_shell,
        },
        format: args.report,
        events: args.events,
        pcap: args.pcap.clone(),
        svg: args.svg.clone(),
    };
    ExitCode::from(run_on_virtual_lab(&run, &source, &mut io::stdout().lock()))
}
