//! `mobikectl drill` and `mobikectl lab`: parse a drill, run it on the embedded virtual
//! lab or against a `mobikectl peer` process, print the report. Exit codes: 0 every
//! expectation held, 1 one failed, 2 bad file or configuration (nothing ran), 128 + N
//! when signal N interrupted a drill against a peer.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use super::args::{DrillArgs, LabArgs, ReportFormat};
use crate::drill::peer_target::{PeerSpec, PeerTarget, PEER_NODE};
use crate::drill::run::check_drill;
use crate::drill::DrillTarget;
use crate::drill::{parse_drill, report, run_drill, DrillOutcome, RunOptions};
use crate::embedded_lab::{default_drill, LabOptions, LoopbackLab, VirtualLab};
use crate::io::signals::SignalPipe;

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

/// Which embedded lab a drill runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LabKind {
    /// The in-memory network with a simulated clock ([`VirtualLab`]).
    #[default]
    Virtual,
    /// Real UDP sockets on loopback addresses and the wall clock ([`LoopbackLab`]).
    Loopback,
}

/// A lab of either kind, for the runner and the pcap.
enum AnyLab {
    Virtual(Box<VirtualLab>),
    Loopback(Box<LoopbackLab>),
}

impl AnyLab {
    fn new(kind: LabKind, options: LabOptions) -> Result<AnyLab, String> {
        match kind {
            LabKind::Virtual => VirtualLab::new(options)
                .map(|l| AnyLab::Virtual(Box::new(l)))
                .map_err(|e| format!("virtual lab: {e}")),
            LabKind::Loopback => LoopbackLab::new(options)
                .map(|l| AnyLab::Loopback(Box::new(l)))
                .map_err(|e| format!("loopback lab: {e}")),
        }
    }

    fn target(&mut self) -> &mut dyn DrillTarget {
        match self {
            AnyLab::Virtual(l) => l.as_mut(),
            AnyLab::Loopback(l) => l.as_mut(),
        }
    }

    fn finish(&mut self) -> Vec<crate::drill::TimedEvent> {
        match self {
            AnyLab::Virtual(l) => l.finish(),
            AnyLab::Loopback(l) => l.finish(),
        }
    }

    /// How to decode the pcap, when the lab did not get the usual ports.
    fn ports_note(&self) -> Option<String> {
        let AnyLab::Loopback(l) = self else {
            return None;
        };
        let ports = l.ports();
        (ports != crate::embedded_lab::common::LabPorts::default()).then(|| {
            format!(
                "the lab's ports were IKE {} and NAT-T {} (10500 or 14500 were taken): \
                 mobikectl decode --udp-port {} --natt-port {} ...",
                ports.ike, ports.natt, ports.ike, ports.natt
            )
        })
    }

    fn pcap(&self) -> Vec<u8> {
        match self {
            AnyLab::Virtual(l) => l.pcap(),
            AnyLab::Loopback(l) => l.pcap(),
        }
    }
}

/// How to run a drill on an embedded lab and report it.
#[derive(Debug, Clone)]
pub struct LabRun {
    /// The virtual or the loopback lab.
    pub kind: LabKind,
    /// The drill's name in messages.
    pub file: String,
    /// The lab's setup from the command line (merged with the drill's `# lab:` line).
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

/// Parse and run `source` on a fresh lab of `run.kind`; prints the report; returns the
/// exit code (2 also when the pcap cannot be written).
pub fn run_on_lab(run: &LabRun, source: &str, out: &mut dyn Write) -> u8 {
    let (file, format) = (run.file.as_str(), run.format);
    let drill = match parse_drill(file, source) {
        Ok(d) => d,
        Err(errors) => {
            let list: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
            return refuse(file, format, &list);
        }
    };
    let lab = match LabOptions::from_drill(file, source) {
        Ok(from_file) => from_file.merged(run.lab),
        Err(e) => return refuse(file, format, &[e]),
    };
    let mut lab = match AnyLab::new(run.kind, lab) {
        Ok(t) => t,
        Err(e) => return refuse(file, format, &[e]),
    };
    let mut outcome = match run_drill(&drill, lab.target(), run.options) {
        Ok(o) => o,
        Err(e) => return refuse(file, format, &[e]),
    };
    // what the last statements caused (`ping stop`'s numbers), as for a peer
    outcome.events.extend(lab.finish());
    let svg_failed = write_report(&outcome, format, run.events, run.svg.as_deref(), out);
    if let Some(path) = &run.pcap {
        if let Err(e) = std::fs::write(path, lab.pcap()) {
            eprintln!("mobikectl: --pcap {}: {e}", path.display());
            return 2;
        }
        if let Some(note) = lab.ports_note() {
            eprintln!("mobikectl: --pcap {}: {note}", path.display());
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

/// `mobikectl drill FILE`: on the virtual lab (`--lab`) or against a real gateway
/// through a `mobikectl peer` process.
pub fn drill_main(args: &DrillArgs) -> ExitCode {
    let file = args.file.display().to_string();
    let source = match read_drill(&args.file) {
        Ok(s) => s,
        Err(e) => return ExitCode::from(refuse(&file, args.report, &[e])),
    };
    let options = RunOptions {
        allow_shell: args.allow_shell,
    };
    if args.lab {
        let run = LabRun {
            kind: LabKind::Virtual,
            file,
            lab: LabOptions {
                nat: args.nat,
                ..LabOptions::default()
            },
            options,
            format: args.report,
            events: args.events,
            pcap: args.pcap.clone(),
            svg: args.svg.clone(),
        };
        return ExitCode::from(run_on_lab(&run, &source, &mut io::stdout().lock()));
    }
    let mut peer_options = Vec::new();
    if let Some(config) = &args.peer_config {
        peer_options.extend(["--config".to_string(), config.display().to_string()]);
    }
    peer_options.extend(args.peer_options.iter().cloned());
    if peer_options.is_empty() {
        let msg = "which gateway? give the options of the mobikectl peer to drive after -- \
                   (mobikectl drill FILE -- --remote GATEWAY --psk-file FILE ...), \
                   --peer-config FILE, or --lab for the embedded virtual lab"
            .to_string();
        return ExitCode::from(refuse(&file, args.report, &[msg]));
    }
    let program = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => return ExitCode::from(refuse(&file, args.report, &[format!("mobikectl: {e}")])),
    };
    let run = PeerRun {
        file,
        peer: PeerSpec {
            program,
            options: peer_options,
        },
        options,
        format: args.report,
        events: args.events,
        svg: args.svg.clone(),
    };
    ExitCode::from(run_on_peer(&run, &source, &mut io::stdout().lock()))
}

/// How to run a drill against a `mobikectl peer` process and report it.
#[derive(Debug, Clone)]
pub struct PeerRun {
    /// The drill's name in messages.
    pub file: String,
    /// The peer to start.
    pub peer: PeerSpec,
    /// The runner's options.
    pub options: RunOptions,
    /// Report format.
    pub format: ReportFormat,
    /// Every event in the report.
    pub events: bool,
    /// Write a picture of the run here (SVG).
    pub svg: Option<PathBuf>,
}

/// Parse `source`, start the peer, run the drill against it, end the peer (end of
/// input, or SIGTERM on a signal: it deletes every IKE SA), print the report. Returns
/// the exit code: 0, 1, 2 as for the lab; 128 + the signal when one interrupted it.
pub fn run_on_peer(run: &PeerRun, source: &str, out: &mut dyn Write) -> u8 {
    let (file, format) = (run.file.as_str(), run.format);
    let drill = match parse_drill(file, source) {
        Ok(d) => d,
        Err(errors) => {
            let list: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
            return refuse(file, format, &list);
        }
    };
    // before the peer starts: a drill that cannot run starts nothing
    if let Err(e) = check_drill(&drill, &[PEER_NODE.to_string()], run.options) {
        return refuse(file, format, &[e]);
    }
    let signals = match SignalPipe::install(&[libc::SIGINT, libc::SIGTERM]) {
        Ok(p) => p,
        Err(e) => return refuse(file, format, &[format!("signal handlers: {e}")]),
    };
    let mut target = match PeerTarget::spawn(&run.peer) {
        Ok(t) => t,
        Err(e) => return refuse(file, format, &[e]),
    };
    target.watch_signals(signals);
    let mut outcome = match run_drill(&drill, &mut target, run.options) {
        Ok(o) => o,
        Err(e) => return refuse(file, format, &[e]),
    };
    outcome.events.extend(target.finish());
    outcome.signal = target.caught_signal();
    let svg_failed = write_report(&outcome, format, run.events, run.svg.as_deref(), out);
    if svg_failed {
        return 2;
    }
    outcome.exit_code()
}

/// Print the report (and write the picture first when asked); true if the picture could
/// not be written.
fn write_report(
    outcome: &DrillOutcome,
    format: ReportFormat,
    events: bool,
    svg: Option<&std::path::Path>,
    out: &mut dyn Write,
) -> bool {
    let svg_failed = write_svg(svg, outcome);
    let svg_written = svg.filter(|_| !svg_failed).map(|p| p.display().to_string());
    let written = match format {
        ReportFormat::Text => {
            let mut text = report::text_report(outcome, events);
            if let Some(path) = &svg_written {
                text.push_str(&report::svg_note(path));
            }
            out.write_all(text.as_bytes())
        }
        ReportFormat::Json => {
            let mut json = report::json_report(outcome, events);
            if let Some(path) = svg_written {
                json["svg"] = path.into();
            }
            writeln!(out, "{json}")
        }
    };
    if let Err(e) = written.and_then(|()| out.flush()) {
        if e.kind() != io::ErrorKind::BrokenPipe {
            eprintln!("mobikectl: {e}");
        }
    }
    svg_failed
}

/// `mobikectl lab`: the default drill (`drills/nat.drill` with `--nat`), or `--drill
/// FILE`, on the loopback lab (real sockets), or on the virtual lab with `--virtual`.
pub fn lab_main(args: &LabArgs) -> ExitCode {
    if let Some(n) = args.sas {
        return scale_main(n as usize, args.report);
    }
    if opens_the_tui(args) {
        let options = LabOptions {
            nat: args.nat,
            ..LabOptions::default()
        };
        let looks = super::ui_looks(&args.ui);
        let run = super::ui_keymap(&args.ui, None).and_then(|keymap| {
            crate::tui::run_live(crate::tui::LiveTarget::Lab(options), keymap, looks)
        });
        return match run {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("mobikectl lab: {e}");
                ExitCode::from(2)
            }
        };
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
            let (name, text) = default_drill(LabOptions {
                nat: args.nat,
                ..LabOptions::default()
            });
            (name.to_string(), text.to_string())
        }
    };
    let run = LabRun {
        kind: if args.virtual_lab {
            LabKind::Virtual
        } else {
            LabKind::Loopback
        },
        file,
        lab: LabOptions {
            nat: args.nat,
            ..LabOptions::default()
        },
        options: RunOptions {
            allow_shell: args.allow_shell,
        },
        format: args.report,
        events: args.events,
        pcap: args.pcap.clone(),
        svg: args.svg.clone(),
    };
    ExitCode::from(run_on_lab(&run, &source, &mut io::stdout().lock()))
}

/// `lab` opens the live UI on a terminal, unless asked for a report.
fn opens_the_tui(args: &LabArgs) -> bool {
    use std::io::IsTerminal;
    !args.no_tui
        && io::stdout().is_terminal()
        && io::stdin().is_terminal()
        && args.drill.is_none()
        && !args.virtual_lab
        && args.report == ReportFormat::Text
        && !args.events
        && args.pcap.is_none()
        && args.svg.is_none()
        && !args.allow_shell
}

/// `mobikectl lab --sas N`: exit 0 when every SA was set up and moved, 1 if not.
fn scale_main(n: usize, format: ReportFormat) -> ExitCode {
    match crate::embedded_lab::scale::run_scale(n) {
        Ok(r) => {
            match format {
                ReportFormat::Text => print!("{}", r.text()),
                ReportFormat::Json => println!("{}", r.json()),
            }
            let all = r.established == n && r.moved_initiator == n && r.moved_responder == n;
            ExitCode::from(if all { 0 } else { 1 })
        }
        Err(e) => {
            eprintln!("mobikectl lab --sas: {e}");
            ExitCode::from(2)
        }
    }
}
