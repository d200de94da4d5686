//! Failover drills: the parser, the runner on the embedded virtual lab, and the
//! `mobikectl drill` / `mobikectl lab` commands.
use std::net::IpAddr;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use mobikectl::cli::command::PeerCommand;
use mobikectl::drill::parse::{
    parse_duration, DrillCommand, Endpoint, EventPattern, Expectation, FieldMatch, SaCondition,
    StatementKind, DEFAULT_WAIT,
};
use mobikectl::drill::run::{run_drill, Applied, DrillTarget, RunOptions, Verdict};
use mobikectl::drill::{parse_drill, report, Drill, SyntaxError};
use mobikectl::embedded_lab::{
    default_drill, LabOptions, VirtualLab, DEFAULT_DRILL, DEFAULT_DRILL_NAME,
};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn parse_ok(source: &str) -> Drill {
    parse_drill("t.drill", source).unwrap_or_else(|e| panic!("{e:?}"))
}

fn parse_err(source: &str) -> Vec<SyntaxError> {
    match parse_drill("t.drill", source) {
        Ok(d) => panic!("parsed: {d:?}"),
        Err(e) => e,
    }
}

fn kinds(d: &Drill) -> Vec<StatementKind> {
    d.statements.iter().map(|s| s.kind.clone()).collect()
}

/// A command statement, as written in the drill.
fn command(text: &str, command: PeerCommand) -> StatementKind {
    StatementKind::Command(DrillCommand {
        command,
        text: text.into(),
    })
}

fn pattern(name: &str, fields: &[(&str, &str)]) -> EventPattern {
    EventPattern {
        name: name.into(),
        fields: fields
            .iter()
            .map(|(k, v)| FieldMatch {
                path: k.split('.').map(str::to_string).collect(),
                value: v.to_string(),
            })
            .collect(),
    }
}

// ------------------------------------------------------------------------ parser

#[test]
fn parses_every_statement() {
    let d = parse_ok(
        "# a drill\n\
         up\n\
         responder: addr del 127.0.0.10\n\
         wait moved new.local=127.0.0.3 cause=address_lost within 1.5s\n\
         wait ike_up\n\
         expect rr_check ok=true\n\
         expect no ike_down\n\
         initiator: expect sa established\n\
         expect sa none\n\
         expect path 127.0.0.2 127.0.0.10:14500\n\
         expect path state=ok\n\
         sleep 10ms\n\
         mark t0\n\
         initiator: measure failover from t0 to moved cause=address_lost\n\
         shell ip -br addr   # comment\n\
         down #2 # comment after an SA handle\n\
         repeat 2 {\n\
         probe\n\
         }\n",
    );
    let k = kinds(&d);
    assert_eq!(k[0], command("up", PeerCommand::Up(None)));
    assert_eq!(d.statements[1].node.as_deref(), Some("responder"));
    assert_eq!(
        k[1],
        command(
            "addr del 127.0.0.10",
            PeerCommand::AddrDel(ip("127.0.0.10"), None)
        )
    );
    assert_eq!(
        k[2],
        StatementKind::Wait {
            event: pattern(
                "moved",
                &[("new.local", "127.0.0.3"), ("cause", "address_lost")]
            ),
            within: Duration::from_millis(1500),
        }
    );
    assert_eq!(
        k[3],
        StatementKind::Wait {
            event: pattern("ike_up", &[]),
            within: DEFAULT_WAIT
        }
    );
    assert_eq!(
        k[4],
        StatementKind::Expect(Expectation::Event(pattern("rr_check", &[("ok", "true")])))
    );
    assert_eq!(
        k[5],
        StatementKind::Expect(Expectation::NoEvent(pattern("ike_down", &[])))
    );
    assert_eq!(
        k[6],
        StatementKind::Expect(Expectation::Sa(SaCondition::Established))
    );
    assert_eq!(d.statements[6].node.as_deref(), Some("initiator"));
    assert_eq!(
        k[7],
        StatementKind::Expect(Expectation::Sa(SaCondition::None))
    );
    assert_eq!(
        k[8],
        StatementKind::Expect(Expectation::Path {
            local: Endpoint::Ip(ip("127.0.0.2")),
            remote: Endpoint::Socket("127.0.0.10:14500".parse().unwrap()),
        })
    );
    assert_eq!(
        k[9],
        StatementKind::Expect(Expectation::Event(pattern("path", &[("state", "ok")])))
    );
    assert_eq!(k[10], StatementKind::Sleep(Duration::from_millis(10)));
    assert_eq!(k[11], StatementKind::Mark("t0".into()));
    assert_eq!(
        k[12],
        StatementKind::Measure {
            name: "failover".into(),
            from: "t0".into(),
            to: pattern("moved", &[("cause", "address_lost")]),
        }
    );
    assert_eq!(
        k[13],
        StatementKind::Shell("ip -br addr   # comment".into())
    );
    assert_eq!(
        k[14],
        command(
            "down #2",
            PeerCommand::Down(Some(mobikectl::engine::SaId(2)))
        )
    );
    assert_eq!(
        k[15],
        StatementKind::Repeat {
            count: 2,
            body: vec![mobikectl::drill::parse::Statement {
                line: 18,
                text: "probe".into(),
                node: None,
                kind: command("probe", PeerCommand::Probe(None)),
            }],
        }
    );
    assert_eq!(d.statements[15].line, 17);
    assert_eq!(d.statements.len(), 16);
}

#[test]
fn nested_repeat_blocks() {
    let d = parse_ok("repeat 3 {\n  dpd\n  repeat 2 {\n    probe\n    sleep 1s\n  }\n}\nstatus\n");
    assert_eq!(d.statements.len(), 2);
    let StatementKind::Repeat { count: 3, body } = &d.statements[0].kind else {
        panic!("{d:?}")
    };
    assert_eq!(body.len(), 2);
    let StatementKind::Repeat {
        count: 2,
        body: inner,
    } = &body[1].kind
    else {
        panic!("{body:?}")
    };
    assert_eq!(inner.len(), 2);
    assert_eq!(inner[1].line, 5);
    assert_eq!(d.statements[1].kind, command("status", PeerCommand::Status));
}

#[test]
fn durations() {
    for (text, ms) in [
        ("10ms", 10),
        ("1.5s", 1500),
        ("2m", 120_000),
        ("1h", 3_600_000),
        ("0s", 0),
        ("0.25s", 250),
    ] {
        assert_eq!(
            parse_duration(text),
            Ok(Duration::from_millis(ms)),
            "{text}"
        );
    }
    for bad in [
        "10",
        "s",
        "1.5.2s",
        "-1s",
        "10x",
        ".5s",
        "5.s",
        "1e3s",
        "25h",
        "NaNs",
        "1 s",
        "",
        "ms",
        "99999999999999999999999h",
    ] {
        assert!(parse_duration(bad).is_err(), "{bad}");
    }
}

#[test]
fn bad_durations_are_reported_at_their_column() {
    let e = parse_err("sleep 10\nwait moved within 1.5.2s\nsleep 3d\n");
    let at: Vec<(usize, usize)> = e.iter().map(|e| (e.line, e.column)).collect();
    assert_eq!(at, vec![(1, 7), (2, 19), (3, 7)], "{e:?}");
    assert!(e[0].message.contains("not a duration"), "{}", e[0]);
}

#[test]
fn every_error_has_file_line_column_and_what_was_expected() {
    let e = parse_err(
        "up\n\
         fly away\n\
         wait movd\n\
         \x20 expect sa maybe\n\
         measure m from nowhere to moved\n\
         repeat x {\n\
         }\n\
         }\n\
         wait moved within\n\
         expect path 127.0.0.2\n\
         sleep 1s: \n\
         mark a b\n\
         responder: sleep 1s\n\
         wait moved cause\n\
         repeat 2 {\n\
         status\n",
    );
    let got: Vec<String> = e.iter().map(|e| e.to_string()).collect();
    let want = [
        ("t.drill:2:1:", "unknown command 'fly'"),
        ("t.drill:3:6:", "expected an event name, found 'movd'"),
        ("t.drill:4:13:", "expected 'established' or 'none'"),
        ("t.drill:5:16:", "no 'mark nowhere' before this line"),
        ("t.drill:6:8:", "expected a count"),
        // line 7's '}' closes nothing since line 6 failed; line 8 likewise
        ("t.drill:7:1:", "'}' closes no 'repeat'"),
        ("t.drill:8:1:", "'}' closes no 'repeat'"),
        ("t.drill:9:12:", "expected a duration after 'within'"),
        ("t.drill:10:13:", "the peer's address REMOTE"),
        ("t.drill:11:7:", "not a duration"),
        ("t.drill:12:8:", "expected the end of the line"),
        ("t.drill:13:1:", "a node prefix goes only before"),
        ("t.drill:14:12:", "expected FIELD=VALUE"),
        ("t.drill:15:1:", "expected '}' to close this 'repeat'"),
    ];
    assert_eq!(got.len(), want.len(), "{got:#?}");
    for (g, (at, what)) in got.iter().zip(want) {
        assert!(
            g.starts_with(at) && g.contains(what),
            "{g} (want {at} {what})"
        );
    }
}

#[test]
fn unknown_and_malformed_commands_are_refused_with_the_tables_reason() {
    let e = parse_err("addr flip 1.2.3.4\n  move banana\nresponder: down x\n");
    assert_eq!(e.len(), 3);
    assert_eq!((e[0].line, e[0].column), (1, 1));
    assert!(
        e[0].message.contains("unknown 'addr' command 'flip'"),
        "{}",
        e[0]
    );
    assert_eq!((e[1].line, e[1].column), (2, 3));
    assert!(e[1].message.contains("not an IP address"), "{}", e[1]);
    assert_eq!((e[2].line, e[2].column), (3, 12));
    assert!(e[2].message.contains("usage: down [SA]"), "{}", e[2]);
}

#[test]
fn the_default_drill_parses() {
    let d = parse_ok(DEFAULT_DRILL);
    assert!(d.statements.len() > 20);
}

/// Random lines from drill words and bytes: the parser answers, never panics.
#[test]
fn random_input_never_panics() {
    let words = [
        "wait",
        "expect",
        "sleep",
        "mark",
        "measure",
        "from",
        "to",
        "shell",
        "repeat",
        "{",
        "}",
        "within",
        "no",
        "sa",
        "path",
        "moved",
        "up",
        "addr",
        "del",
        "127.0.0.2",
        "#1",
        "#",
        "x=1",
        "=",
        "a.b=",
        "10ms",
        "1.5s",
        "responder:",
        ":",
        "é",
        "\u{0}",
        "9999999999",
        "initiator:",
        "move",
        "nat",
        "rebind",
        "loss",
        "100",
    ];
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..2000 {
        let mut text = String::new();
        for _ in 0..(next() % 8) {
            for _ in 0..(next() % 7) {
                let r = next();
                if r % 11 == 0 {
                    text.push(char::from_u32((r >> 8) as u32 % 0x3000).unwrap_or('?'));
                } else {
                    text.push_str(words[(r >> 8) as usize % words.len()]);
                }
                text.push(if r % 5 == 0 { '\t' } else { ' ' });
            }
            text.push('\n');
        }
        let _ = parse_drill("random", &text);
    }
}

// ------------------------------------------------------------------------ runner on the lab

fn run_on_lab(source: &str, options: RunOptions) -> mobikectl::drill::DrillOutcome {
    let drill = parse_ok(source);
    let mut lab = VirtualLab::new(LabOptions::default()).unwrap();
    run_drill(&drill, &mut lab, options).unwrap()
}

#[test]
fn the_default_drill_passes_and_is_identical_on_every_run() {
    let drill = parse_drill(DEFAULT_DRILL_NAME, DEFAULT_DRILL).unwrap();
    let run = || {
        let mut lab = VirtualLab::new(LabOptions::default()).unwrap();
        run_drill(&drill, &mut lab, RunOptions::default()).unwrap()
    };
    let (a, b) = (run(), run());
    let text = report::text_report(&a, true);
    assert_eq!(a.exit_code(), 0, "{text}");
    assert_eq!(text, report::text_report(&b, true));
    assert_eq!(report::json_report(&a, true), report::json_report(&b, true));
    let names: Vec<&str> = a.measurements.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "move_after_loss",
            "move_back_on_return",
            "move_on_command",
            "move_back",
            "outage"
        ]
    );
    assert!(a
        .measurements
        .iter()
        .all(|m| m.value > Duration::ZERO && m.value < Duration::from_secs(1)));
    assert!(text.contains("result: every expectation held"), "{text}");
}

#[test]
fn the_nat_drill_passes_on_the_nat_lab() {
    let options = LabOptions {
        nat: true,
        ..LabOptions::default()
    };
    let (name, text) = default_drill(options);
    let drill = parse_drill(name, text).unwrap();
    let mut lab = VirtualLab::new(options).unwrap();
    let o = run_drill(&drill, &mut lab, RunOptions::default()).unwrap();
    assert_eq!(o.exit_code(), 0, "{}", report::text_report(&o, true));
    let rebinding = o
        .measurements
        .iter()
        .find(|m| m.name == "rebinding_followed");
    assert!(rebinding.is_some_and(|m| m.value < Duration::from_secs(1)));
}

#[test]
fn a_false_expectation_fails_naming_its_line_and_what_was_seen() {
    let o = run_on_lab(
        "up\n\
         initiator: wait child_up within 5s\n\
         expect path 127.0.0.3 127.0.0.11\n\
         expect moved\n\
         expect sa established\n",
        RunOptions::default(),
    );
    assert_eq!(o.exit_code(), 1);
    let failed: Vec<(usize, &str)> = o.failures().map(|s| (s.line, s.detail.as_str())).collect();
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert_eq!(failed[0].0, 3);
    assert!(
        failed[0].1.contains("127.0.0.2:14500 -> 127.0.0.10:14500"),
        "{}",
        failed[0].1
    );
    assert_eq!(failed[1].0, 4);
    assert!(
        failed[1].1.contains("no 'moved' event; seen:"),
        "{}",
        failed[1].1
    );
    // a failed expect does not end the drill
    assert_eq!(o.steps.last().map(|s| s.line), Some(5));
    assert_eq!(o.steps.last().map(|s| s.verdict), Some(Verdict::Held));
    let text = report::text_report(&o, false);
    assert!(text.contains("FAILED at t.drill:3, t.drill:4"), "{text}");
    let json = report::json_report(&o, false);
    assert_eq!(json["exit_code"], 1);
    assert_eq!(json["failures"][0]["line"], 3);
}

#[test]
fn a_wait_that_times_out_ends_the_drill() {
    let o = run_on_lab("up\nwait moved within 2s\nstatus\n", RunOptions::default());
    assert_eq!(o.exit_code(), 1);
    assert_eq!(o.steps.len(), 2);
    assert!(o.stopped.as_deref().unwrap_or("").contains("line 2"));
    assert_eq!(o.steps[1].at, Duration::from_secs(2));
    assert!(
        o.steps[1].detail.contains("not within 2.000s"),
        "{}",
        o.steps[1].detail
    );
}

#[test]
fn a_command_that_cannot_be_applied_fails() {
    let o = run_on_lab("probe\nstatus\n", RunOptions::default());
    assert_eq!(o.exit_code(), 1);
    assert_eq!(o.steps.len(), 1);
    assert!(
        o.steps[0].detail.contains("no established IKE SA"),
        "{:?}",
        o.steps[0]
    );
}

#[test]
fn repeat_runs_its_body_and_labels_the_iterations() {
    let o = run_on_lab(
        "up\n\
         initiator: wait child_up within 5s\n\
         repeat 2 {\n\
         addr del 127.0.0.2\n\
         initiator: wait moved new.local=127.0.0.3 within 10s\n\
         responder: wait moved children=true within 5s\n\
         addr add 127.0.0.2\n\
         move 127.0.0.2\n\
         initiator: wait moved new.local=127.0.0.2 within 10s\n\
         responder: wait moved children=true within 5s\n\
         }\n\
         expect path 127.0.0.2 127.0.0.10\n",
        RunOptions::default(),
    );
    let text = report::text_report(&o, false);
    assert_eq!(o.exit_code(), 0, "{text}");
    let labels: Vec<&str> = o
        .steps
        .iter()
        .filter(|s| s.line == 9)
        .map(|s| s.iteration.as_str())
        .collect();
    assert_eq!(labels, ["1/2", "2/2"]);
}

#[test]
fn the_nat_lab_puts_a_nat_in_front_of_the_initiator() {
    let drill = parse_ok(
        "up\n\
         initiator: wait ike_up nat_local=true within 5s\n\
         responder: wait ike_up remote=127.0.0.100 within 5s\n",
    );
    let mut lab = VirtualLab::new(LabOptions {
        nat: true,
        ..LabOptions::default()
    })
    .unwrap();
    let o = run_drill(&drill, &mut lab, RunOptions::default()).unwrap();
    assert_eq!(o.exit_code(), 0, "{}", report::text_report(&o, true));
}

#[test]
fn unknown_nodes_and_refused_shell_stop_the_drill_before_anything_runs() {
    let drill = parse_ok("up\nnobody: status\nshell true\n");
    let mut lab = VirtualLab::new(LabOptions::default()).unwrap();
    let before = lab.now();
    let e = run_drill(&drill, &mut lab, RunOptions::default()).unwrap_err();
    assert!(e.contains("t.drill:2: unknown node 'nobody'"), "{e}");
    assert!(e.contains("t.drill:3: 'shell' is refused"), "{e}");
    assert_eq!(lab.now(), before);
    assert!(lab.advance_until(before).is_empty(), "nothing ran");
    assert!(lab.sa_summaries(None).unwrap().is_empty());
}

#[test]
fn shell_runs_when_allowed() {
    let o = run_on_lab(
        "shell echo hello\nshell exit 3\n",
        RunOptions { allow_shell: true },
    );
    assert_eq!(o.steps[0].verdict, Verdict::Held);
    assert_eq!(o.steps[0].detail, "hello");
    assert_eq!(o.steps[1].verdict, Verdict::Failed);
    assert!(o.steps[1].detail.starts_with("exit 3"));
}

// ------------------------------------------------------------------------ runner on any target

/// A scripted target: events at fixed times, commands recorded.
struct ScriptedTarget {
    now: mobikectl::engine::Timestamp,
    script: Vec<(u64, &'static str, &'static str, serde_json::Value)>,
    commands: Vec<(Option<String>, PeerCommand)>,
}

impl DrillTarget for ScriptedTarget {
    fn now(&self) -> mobikectl::engine::Timestamp {
        self.now
    }
    fn node_names(&self) -> Vec<String> {
        vec!["gw".into()]
    }
    fn command(&mut self, node: Option<&str>, c: &DrillCommand) -> Result<Applied, String> {
        self.commands
            .push((node.map(str::to_string), c.command.clone()));
        Ok(Applied::on("gw"))
    }
    fn advance_until(
        &mut self,
        deadline: mobikectl::engine::Timestamp,
    ) -> Vec<mobikectl::drill::TimedEvent> {
        let next = self
            .script
            .iter()
            .map(|e| mobikectl::engine::Timestamp::from_millis(e.0))
            .filter(|t| *t > self.now && *t <= deadline)
            .min();
        self.now = next.unwrap_or(deadline);
        let now = self.now;
        self.script
            .iter()
            .filter(|e| mobikectl::engine::Timestamp::from_millis(e.0) == now)
            .map(|(_, node, name, fields)| mobikectl::drill::TimedEvent {
                at: now,
                node: node.to_string(),
                name: name.to_string(),
                fields: fields.as_object().cloned().unwrap_or_default(),
            })
            .collect()
    }
    fn sa_summaries(
        &mut self,
        _node: Option<&str>,
    ) -> Result<Vec<mobikectl::drill::run::SaSummary>, String> {
        Ok(vec![])
    }
}

/// A peer that initiated at start: its SA came up before the drill's first `up`,
/// which it absorbs.
struct InitiatedAtStart {
    early: Vec<mobikectl::drill::TimedEvent>,
}

impl DrillTarget for InitiatedAtStart {
    fn now(&self) -> mobikectl::engine::Timestamp {
        mobikectl::engine::Timestamp::from_millis(10)
    }
    fn node_names(&self) -> Vec<String> {
        vec!["peer".into()]
    }
    fn command(&mut self, _node: Option<&str>, c: &DrillCommand) -> Result<Applied, String> {
        match c.command {
            PeerCommand::Up(None) => Ok(Applied {
                on: "peer (it initiated at start)".into(),
                already_done: true,
            }),
            _ => Ok(Applied::on("peer")),
        }
    }
    fn advance_until(
        &mut self,
        _deadline: mobikectl::engine::Timestamp,
    ) -> Vec<mobikectl::drill::TimedEvent> {
        vec![]
    }
    fn events_so_far(&mut self) -> Vec<mobikectl::drill::TimedEvent> {
        std::mem::take(&mut self.early)
    }
    fn sa_summaries(
        &mut self,
        _node: Option<&str>,
    ) -> Result<Vec<mobikectl::drill::run::SaSummary>, String> {
        Ok(vec![])
    }
}

#[test]
fn an_up_the_peer_did_at_start_keeps_the_events_that_came_before_it() {
    let early = |name: &str| mobikectl::drill::TimedEvent {
        at: mobikectl::engine::Timestamp::from_millis(5),
        node: "peer".into(),
        name: name.into(),
        fields: Default::default(),
    };
    let mut target = InitiatedAtStart {
        early: vec![early("ike_up"), early("child_up")],
    };
    // the CI flake: the SA was up before the drill read its first statement
    let drill = parse_ok("up\nwait child_up within 1s\nrekey child\nexpect no ike_up\n");
    let o = run_drill(&drill, &mut target, RunOptions::default()).unwrap();
    let verdicts: Vec<Verdict> = o.steps.iter().map(|s| s.verdict).collect();
    assert_eq!(
        verdicts,
        [Verdict::Done, Verdict::Held, Verdict::Done, Verdict::Held],
        "{:?}",
        o.steps
    );
    assert_eq!(o.steps[1].detail.trim(), "peer: child_up");
}

#[test]
fn the_runner_drives_any_target_by_its_clock_and_events() {
    use serde_json::json;
    let mut target = ScriptedTarget {
        now: mobikectl::engine::Timestamp::from_millis(0),
        script: vec![
            (
                100,
                "gw",
                "path",
                json!({"state": "ok", "local": "192.0.2.1:4500"}),
            ),
            (
                250,
                "gw",
                "moved",
                json!({"new": {"local": "192.0.2.1:4500"}}),
            ),
            (
                900,
                "peer",
                "moved",
                json!({"new": {"local": "198.51.100.1:4500"}}),
            ),
        ],
        commands: vec![],
    };
    let drill = parse_ok(
        "mark t
         gw: move 192.0.2.1
         WAIT moved new.local=192.0.2.1 WITHIN 1s
         measure m from t to moved
         expect path state=ok
         expect sa none
         wait moved within 500ms
",
    );
    let o = run_drill(&drill, &mut target, RunOptions::default()).unwrap();
    assert_eq!(
        target.commands,
        vec![(
            Some("gw".to_string()),
            PeerCommand::Move {
                local: ip("192.0.2.1"),
                remote: None,
                sa: None
            }
        )]
    );
    let at: Vec<(usize, u128, Verdict)> = o
        .steps
        .iter()
        .map(|s| (s.line, s.at.as_millis(), s.verdict))
        .collect();
    assert_eq!(
        at,
        vec![
            (1, 0, Verdict::Done),
            (2, 0, Verdict::Done),
            (3, 250, Verdict::Held),
            (4, 250, Verdict::Held),
            (5, 250, Verdict::Held),
            (6, 250, Verdict::Held),
            // the second moved comes from another node at 900 ms: within 500 ms of 250
            (7, 750, Verdict::Failed),
        ]
    );
    assert_eq!(o.measurements[0].value, Duration::from_millis(250));
    assert!(
        o.steps[6].detail.contains("not within 500.0ms"),
        "{}",
        o.steps[6].detail
    );
}

// ------------------------------------------------------------------------ command line

fn mobikectl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mobikectl"))
        .args(args)
        .output()
        .expect("run mobikectl")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn lab_virtual_runs_the_default_drill_quickly() {
    let start = Instant::now();
    let out = mobikectl(&["lab", "--virtual", "--no-tui"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(start.elapsed() < Duration::from_secs(10));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("measure move_after_loss"), "{stdout}");
    assert!(
        stdout.ends_with("result: every expectation held\n"),
        "{stdout}"
    );
    assert!(text(&out.stderr).is_empty());
    // the same bytes on every run
    let again = mobikectl(&["lab", "--virtual"]);
    assert_eq!(again.stdout, out.stdout);
    // the JSON report (without --virtual the loopback lab runs: tests/lab_loopback.rs)
    let out = mobikectl(&["lab", "--virtual", "--report", "json"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stderr).is_empty());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["exit_code"], 0);
    assert_eq!(v["measurements"].as_array().map(Vec::len), Some(5));
}

#[test]
fn drill_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, body: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        p.display().to_string()
    };
    let good = write("good.drill", "up\ninitiator: wait ike_up within 5s\n");
    let false_ = write(
        "false.drill",
        "up\ninitiator: wait ike_up within 5s\nexpect path 127.0.0.3 127.0.0.11\n",
    );
    let bad = write("bad.drill", "up\nwait\nsleep forever\n");
    let shell = write("shell.drill", "shell true\n");

    let out = mobikectl(&["drill", &good, "--lab"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));

    let out = mobikectl(&["drill", &false_, "--lab", "--report", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["failures"][0]["line"], 3, "{v}");

    let out = mobikectl(&["drill", &bad, "--lab"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stdout).is_empty(), "nothing ran");
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("{bad}:2:1: expected an event name")),
        "{err}"
    );
    assert!(err.contains(&format!("{bad}:3:7:")), "{err}");

    let out = mobikectl(&["drill", &shell, "--lab"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--allow-shell"));
    let out = mobikectl(&["drill", &shell, "--lab", "--allow-shell"]);
    assert_eq!(out.status.code(), Some(0));

    let pcap = dir.path().join("lab.pcap");
    let out = mobikectl(&[
        "drill",
        &good,
        "--lab",
        "--pcap",
        &pcap.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let bytes = std::fs::read(&pcap).unwrap();
    assert!(bytes.len() > 24 && bytes[..4] == 0xa1b2_c3d4u32.to_le_bytes());
    let out = mobikectl(&["drill", &good, "--lab", "--pcap", "/nonexistent/dir/x.pcap"]);
    assert_eq!(out.status.code(), Some(2));

    let out = mobikectl(&["drill", &good]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("which gateway?"));

    let out = mobikectl(&["drill", "/nonexistent/x.drill", "--lab"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn measure_outage_takes_the_longest_ping_gap_around_a_move() {
    let o = run_on_lab(
        "up\n\
         initiator: wait child_up within 5s\n\
         ping 10.1.0.1 10ms\n\
         sleep 500ms\n\
         mark lost\n\
         addr del 127.0.0.2\n\
         initiator: wait moved within 10s\n\
         sleep 500ms\n\
         ping stop\n\
         initiator: wait ping state=stopped within 1s\n\
         measure outage outage from lost\n\
         measure whole outage\n",
        RunOptions::default(),
    );
    assert_eq!(o.exit_code(), 0, "{}", report::text_report(&o, true));
    let m: Vec<(&str, Duration)> = o
        .measurements
        .iter()
        .map(|m| (m.name.as_str(), m.value))
        .collect();
    assert_eq!(m.len(), 2, "{m:?}");
    // replies stop with the address and resume on the new path: longer than the
    // 10 ms interval, shorter than the drill's half-second after the move
    assert!(
        m[0].1 > Duration::from_millis(20) && m[0].1 < Duration::from_millis(500),
        "{m:?}"
    );
    assert_eq!(m[0].1, m[1].1);
}

#[test]
fn measure_outage_without_ping_fails_and_says_what_to_do() {
    let o = run_on_lab(
        "up\n\
         initiator: wait child_up within 5s\n\
         measure outage outage\n",
        RunOptions::default(),
    );
    assert_eq!(o.exit_code(), 1);
    let failed: Vec<&str> = o.failures().map(|s| s.detail.as_str()).collect();
    assert!(failed[0].contains("start `ping ADDR`"), "{failed:?}");
    // and the grammar: a mark must exist, nothing may follow it
    let errs = parse_err("measure o outage from nowhere\n");
    assert!(
        errs[0].to_string().contains("no 'mark nowhere'"),
        "{errs:?}"
    );
    let errs = parse_err("mark a\nmeasure o outage from a b\n");
    assert!(!errs.is_empty());
}
