//! The live UI without a terminal: the virtual lab (simulated clock, the same events on
//! every run) feeds the model, keys become peer commands that the lab runs, and whole
//! frames are snapshotted. A failover drill with the keyboard alone: take the SA's address
//! away, probe, move to a chosen path, drop a path.
use mobikectl::drill::DrillTarget;
use mobikectl::embedded_lab::{LabOptions, VirtualLab};
use mobikectl::engine::Timestamp;
use mobikectl::tui::keymap::{Key, KeyMap};
use mobikectl::tui::live::{LiveApp, LiveMode, LivePane};
use mobikectl::tui::live_model::LiveModel;
use mobikectl::tui::live_source::parse_node_command;
use mobikectl::tui::{live_view, Looks};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::time::Duration;

struct Drive {
    lab: VirtualLab,
    app: LiveApp,
}

impl Drive {
    fn new() -> Drive {
        let lab = VirtualLab::new(LabOptions::default()).unwrap();
        let nodes = lab.node_names();
        let app = LiveApp::new(LiveModel::new(&nodes), KeyMap::default(), "lab (virtual)");
        let mut d = Drive { lab, app };
        d.send(None, "up");
        d.run(Duration::from_secs(2));
        d
    }

    fn send(&mut self, node: Option<&str>, line: &str) {
        let names: Vec<String> = self
            .app
            .model
            .nodes
            .iter()
            .map(|n| n.name.clone())
            .collect();
        let text = match node {
            Some(n) => format!("{n}: {line}"),
            None => line.to_string(),
        };
        let c = parse_node_command(&text, &names).unwrap();
        self.lab.command(c.node.as_deref(), &c.command).unwrap();
    }

    /// Lets simulated time pass, the way the live source does: status every 250 ms.
    fn run(&mut self, d: Duration) {
        let end = self.lab.now() + d;
        while self.lab.now() < end {
            for n in ["initiator", "responder"] {
                self.send(Some(n), "status");
            }
            let slice = (self.lab.now() + Duration::from_millis(250)).min(end);
            loop {
                let events = self.lab.advance_until(slice);
                for e in &events {
                    self.app.model.apply(e);
                }
                if self.lab.now() >= slice {
                    break;
                }
            }
        }
        for n in ["initiator", "responder"] {
            self.send(Some(n), "status");
        }
        let events = self.lab.advance_until(self.lab.now());
        for e in &events {
            self.app.model.apply(e);
        }
    }

    /// Keys, then the commands they queued run on the lab.
    fn keys(&mut self, keys: &[Key]) {
        for k in keys {
            self.app.key(*k);
        }
        for (node, line) in std::mem::take(&mut self.app.outbox) {
            self.send(node.as_deref(), &line);
        }
        self.run(Duration::from_millis(500));
    }

    fn screen(&mut self, w: u16, h: u16) -> String {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        let theme = Looks {
            mono: false,
            ascii: false,
        }
        .theme();
        t.draw(|f| live_view::draw(f, &mut self.app, &theme))
            .unwrap();
        let buf = t.backend().buffer().clone();
        buf.content
            .chunks(w as usize)
            .map(|r| {
                r.iter()
                    .map(|c| c.symbol())
                    .collect::<String>()
                    .trim_end()
                    .to_string()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn state_of(app: &LiveApp, local: &str, remote: &str) -> String {
    app.path_rows()
        .iter()
        .find(|p| p.local == local && p.remote == remote)
        .map(|p| format!("{}{}", p.state, if p.current { " current" } else { "" }))
        .unwrap_or_default()
}

#[test]
fn the_sa_comes_up_and_shows_its_addresses_and_paths() {
    let mut d = Drive::new();
    let rows = d.app.sa_rows();
    assert_eq!(rows.len(), 2, "one SA on each node");
    assert_eq!(
        state_of(&d.app, "127.0.0.2", "127.0.0.10"),
        "untested current"
    );
    assert_eq!(d.app.path_rows().len(), 4, "2 x 2 addresses");
    let s = d.screen(120, 36);
    assert!(s.contains("initiator #1 Established"), "{s}");
    assert!(s.contains("127.0.0.3"), "{s}");
    insta::assert_snapshot!("live_up_120x36", s);
}

#[test]
fn a_failover_drill_with_the_keyboard_alone() {
    let mut d = Drive::new();
    // ping through the CHILD_SA, then take the SA's address away (pane 2, first row)
    d.keys(&[Key::char('P')]);
    assert_eq!(
        d.app.model.nodes[0].ping_target.as_deref(),
        Some("10.1.0.1")
    );
    d.keys(&[Key::char('2'), Key::char('a')]);
    let moved = &d.app.model.nodes[0].moves;
    assert_eq!(moved.len(), 1, "{moved:?}");
    assert_eq!(moved[0].cause, "address_lost");
    assert_eq!(state_of(&d.app, "127.0.0.2", "127.0.0.10"), "address down");
    assert!(state_of(&d.app, "127.0.0.3", "127.0.0.10").ends_with("current"));
    // probe: every usable path tested ok
    d.keys(&[Key::char('1'), Key::char('p')]);
    assert_eq!(state_of(&d.app, "127.0.0.3", "127.0.0.11"), "ok");
    // move to a chosen path: pane 3, the row of 127.0.0.3 -> 127.0.0.11
    let row = d
        .app
        .path_rows()
        .iter()
        .position(|p| p.local == "127.0.0.3" && p.remote == "127.0.0.11")
        .unwrap();
    d.app.run(mobikectl::tui::keymap::UiCommand::FocusTree);
    for _ in 0..row {
        d.app.key(Key::char('j'));
    }
    d.keys(&[Key::char('m')]);
    assert_eq!(state_of(&d.app, "127.0.0.3", "127.0.0.11"), "ok current");
    // drop the current path: the SA finds out and moves away
    d.keys(&[Key::char('x')]);
    assert!(d.app.path_rows()[row].dropped);
    // the address comes back (pane 2, a again): the SA moves back to its configured pair
    d.keys(&[Key::char('2'), Key::char('a')]);
    d.run(Duration::from_secs(3));
    let causes: Vec<String> = d.app.model.nodes[0]
        .moves
        .iter()
        .map(|m| m.cause.clone())
        .collect();
    assert!(causes.contains(&"address_gained".to_string()), "{causes:?}");
    d.keys(&[Key::char('P')]);
    let ping = d.app.model.nodes[0].ping.clone().unwrap();
    assert_eq!(ping["state"], "stopped");
    let s = d.screen(120, 36);
    assert!(s.contains("address_lost"), "{s}");
    insta::assert_snapshot!("live_after_drill_120x36", s);
    insta::assert_snapshot!("live_after_drill_80x24", d.screen(80, 24));
}

#[test]
fn destructive_keys_ask_first() {
    let mut d = Drive::new();
    d.app.key(Key::char('D'));
    assert!(matches!(d.app.mode, LiveMode::Confirm(_)));
    d.app.key(Key::char('n'));
    assert!(d.app.outbox.is_empty(), "cancelled");
    d.app.key(Key::char('R'));
    d.keys(&[Key::char('y')]);
    let rekeyed = d
        .app
        .model
        .log
        .iter()
        .any(|l| l.name == "rekeyed" && l.text.contains("ike"));
    assert!(rekeyed, "rekey ran after y");
    d.app.key(Key::char('q'));
    assert!(!d.app.quit, "quit asks while SAs are up");
    d.app.key(Key::char('y'));
    assert!(d.app.quit);
}

#[test]
fn the_command_line_takes_peer_commands_for_either_node() {
    let mut d = Drive::new();
    d.app.key(Key::char(':'));
    for c in "responder: probe".chars() {
        d.app.key(Key::char(c));
    }
    d.keys(&[Key::plain(mobikectl::tui::keymap::KeyCode::Enter)]);
    let probed = d
        .app
        .model
        .log
        .iter()
        .any(|l| l.node == "responder" && l.name == "path");
    assert!(probed, "the responder probed");
    d.app.key(Key::char(':'));
    for c in "bogus thing".chars() {
        d.app.key(Key::char(c));
    }
    d.app
        .key(Key::plain(mobikectl::tui::keymap::KeyCode::Enter));
    assert!(
        d.app.status.as_deref().unwrap_or("").contains("bogus"),
        "{:?}",
        d.app.status
    );
    assert!(d.app.outbox.is_empty());
}

#[test]
fn the_event_log_follows_and_pauses() {
    let mut d = Drive::new();
    d.app.focus = LivePane::Events;
    assert!(d.app.follow);
    d.app.key(Key::char('k'));
    assert!(!d.app.follow && d.app.log_back == 1);
    d.app.key(Key::plain(mobikectl::tui::keymap::KeyCode::End));
    assert!(d.app.follow && d.app.log_back == 0);
    let _ = Timestamp::from_millis(0);
}

#[test]
fn every_size_down_to_1x1_renders_without_panic() {
    let mut d = Drive::new();
    for w in (1..=200).step_by(9).chain([1, 29, 30]) {
        for h in (1..=60).step_by(7).chain([1, 7, 8]) {
            let _ = d.screen(w, h);
        }
    }
    d.app.key(Key::char('?'));
    let s = d.screen(120, 60);
    assert!(s.contains("addr-toggle") && s.contains("move-here"), "{s}");
}
