//! The live UI without a terminal: the virtual lab (simulated clock, the same events on
//! every run) feeds the model, keys become peer commands that the lab runs, and whole
//! frames are snapshotted. A failover drill with the keyboard alone: take the SA's address
//! away, probe, move to a chosen path, drop a path.
mod tui_common;

use mobikectl::drill::DrillTarget;
use mobikectl::embedded_lab::{LabOptions, VirtualLab};
use mobikectl::engine::Timestamp;
use mobikectl::tui::keymap::{Key, KeyCode, KeyMap, Ui, UI_COMMANDS};
use mobikectl::tui::live::{LiveApp, LiveMode, LivePane};
use mobikectl::tui::live_model::{LiveModel, LogLine};
use mobikectl::tui::live_source::parse_node_command;
use mobikectl::tui::{live_view, Looks};
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Modifier;
use ratatui::Terminal;
use std::time::{Duration, Instant};
use tui_common::{styles, text};

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

    /// What the live loop does for Enter on an exchange: the lab's capture files to the
    /// app, then the decoding (on its own thread) until it is done.
    fn serve_capture(&mut self, dir: &std::path::Path) {
        assert!(
            std::mem::take(&mut self.app.capture_wanted),
            "no capture asked for"
        );
        let files = self.lab.capture_files(dir);
        self.app.capture_ready(files);
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.app.decoding.is_some() && Instant::now() < deadline {
            if !self.app.tick() {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }

    /// Selects the last log line that `pick` accepts, with the keys (pane 4, then up).
    fn select_log(&mut self, pick: impl Fn(&LogLine) -> bool) {
        let rows = self.app.log_rows();
        let want = rows
            .iter()
            .rposition(|&i| self.app.model.log.get(i).is_some_and(&pick))
            .expect("no such log line");
        self.app.key(Key::char('4'));
        self.app.key(Key::plain(KeyCode::End));
        for _ in want + 1..rows.len() {
            self.app.key(Key::char('k'));
        }
        assert_eq!(self.app.selected_log(), Some(rows[want]));
    }

    fn frame(&mut self, w: u16, h: u16, looks: Looks) -> Buffer {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        let theme = looks.theme();
        t.draw(|f| live_view::draw(f, &mut self.app, &theme))
            .unwrap();
        t.backend().buffer().clone()
    }

    fn screen(&mut self, w: u16, h: u16) -> String {
        text(&self.frame(w, h, COLOUR))
    }
}

const COLOUR: Looks = Looks {
    mono: false,
    ascii: false,
};
const MONO: Looks = Looks {
    mono: true,
    ascii: false,
};

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
fn the_help_overlay_and_the_command_line_with_its_choices() {
    let mut d = Drive::new();
    d.app.key(Key::char('?'));
    // generated from the key map: the live view's commands, their keys, what they do here
    let tall = d.screen(120, 70);
    for spec in UI_COMMANDS {
        let name = format!(" {} ", spec.name);
        if spec.command.in_ui(Ui::Live) {
            assert!(tall.contains(&name), "help lacks {}", spec.name);
            let help = spec.help_in(Ui::Live);
            assert!(
                tall.contains(help),
                "help lacks {}'s help\n{tall}",
                spec.name
            );
        } else {
            let rows = d.app.keymap.help_rows(Ui::Live);
            assert!(!rows.iter().any(|r| r.1 == spec.name), "{}", spec.name);
        }
    }
    for (key, c) in d.app.keymap.bindings() {
        if c.in_ui(Ui::Live) {
            assert!(tall.contains(&key.to_string()), "help lacks key {key}");
        }
    }
    assert!(
        tall.contains("the path matrix"),
        "key 3's meaning here\n{tall}"
    );
    let s = d.screen(120, 36);
    assert!(s.contains("Help: keys"), "{s}");
    // scrolling stops at the last command instead of a blank overlay
    for _ in 0..200 {
        d.app.key(Key::plain(KeyCode::Down));
    }
    let scrolled = d.screen(120, 36);
    assert!(scrolled.contains(" quit "), "{scrolled}");
    let last = d.app.keymap.help_rows(Ui::Live).len() - 1;
    assert_eq!(d.app.mode, LiveMode::Help(last), "Up comes back at once");
    d.app.key(Key::plain(KeyCode::Esc));
    d.app.key(Key::char('?'));
    insta::assert_snapshot!("live_help_120x36", s);
    insta::assert_snapshot!("live_help_80x24", d.screen(80, 24));
    d.app.key(Key::plain(KeyCode::Esc));
    assert_eq!(d.app.mode, LiveMode::Normal);
    // ':' then "p" and Tab: the UI's and the peer's commands that start so, once each
    d.app.key(Key::char(':'));
    d.app.key(Key::char('p'));
    d.app.key(Key::plain(KeyCode::Tab));
    let choices = d.app.command_line.choices.clone();
    assert!(choices.len() > 1, "{choices:?}");
    assert!(choices.iter().any(|c| c == "probe"), "{choices:?}");
    assert!(choices.iter().any(|c| c == "page-up"), "{choices:?}");
    assert!(
        !choices.iter().any(|c| c == "partner"),
        "the browser's: {choices:?}"
    );
    for (i, c) in choices.iter().enumerate() {
        assert!(!choices[..i].contains(c), "{c} twice: {choices:?}");
    }
    let s = d.screen(120, 36);
    assert!(s.contains(&choices.join("  ")), "{s}");
    insta::assert_snapshot!("live_command_line_120x36", s);
    insta::assert_snapshot!("live_command_line_80x24", d.screen(80, 24));
    d.app.key(Key::plain(KeyCode::Esc));
    assert_eq!(d.app.mode, LiveMode::Normal);
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
    // the payload tree overlay too, while decoding and once decoded
    d.select_log(|l| l.name == "sent");
    d.app.key(Key::plain(KeyCode::Enter));
    let _ = d.screen(1, 1);
    let _ = d.screen(40, 10);
    let dir = tempfile::tempdir().unwrap();
    d.serve_capture(dir.path());
    for w in (1..=200).step_by(9).chain([1, 29, 30]) {
        for h in (1..=60).step_by(7).chain([1, 7, 8]) {
            let _ = d.screen(w, h);
        }
    }
    // every field unfolded
    d.app.key(Key::char('E'));
    sweep(&mut d);
    d.app.key(Key::plain(KeyCode::Esc));
    d.app.key(Key::char('?'));
    let s = d.screen(120, 60);
    assert!(s.contains("addr-toggle") && s.contains("move-here"), "{s}");
    sweep(&mut d);
    // the : line with its choices above it
    d.app.key(Key::plain(KeyCode::Esc));
    d.app.key(Key::char(':'));
    d.app.key(Key::char('p'));
    d.app.key(Key::plain(KeyCode::Tab));
    assert!(!d.app.command_line.choices.is_empty());
    sweep(&mut d);
}

/// Every size from 1x1 up: no panic, and below a useful size the screen says so.
fn sweep(d: &mut Drive) {
    for w in (1..=200).step_by(9).chain([1, 2, 29, 30]) {
        for h in (1..=60).step_by(7).chain([1, 2, 7, 8]) {
            let s = d.screen(w, h);
            if (w < 30 || h < 8) && w >= 18 {
                assert!(s.starts_with("terminal too small"), "{w}x{h}\n{s}");
            }
        }
    }
}

#[test]
fn the_sa_pane_lists_age_rekey_message_ids_selectors_and_esp_as_swanctl_does() {
    let mut d = Drive::new();
    d.keys(&[Key::char('P')]);
    d.run(Duration::from_secs(2));
    // the status event carries the new fields (the lab's as the peer's)
    let sa = d.app.model.nodes[0].sa("#1").cloned().unwrap();
    assert_eq!(sa["initiator"], true);
    assert!(sa["established_s"].as_f64().unwrap() >= 4.0, "{sa:?}");
    assert!(sa["rekey_in_s"].as_f64().unwrap() > 3600.0, "{sa:?}");
    assert_eq!(
        (sa["next_mid"].as_u64(), sa["peer_mid"].as_u64()),
        (Some(2), Some(0))
    );
    let child = &sa["children"][0];
    assert_eq!(child["ts"]["local"][0], "10.2.0.0/16");
    assert_eq!(child["ts"]["remote"][0], "10.1.0.0/16");
    assert!(
        child["esp"]["sent"].as_u64().unwrap() > 100,
        "ESP counters in the lab's status too"
    );
    let s = d.screen(120, 36);
    for want in [
        "initiator #1 Established initiator 6474c28a_i* 9e1a90b3_r",
        "established 4s ago, rekeying in 13283s  mid ours 2 peer 0",
        "CHILD 514a3adc_i 2d5e6215_o  installed 4s ago, rekeying in 3280s",
        "10.2.0.0/16 === 10.1.0.0/16  ESP 251/249 pkts out/in",
        "ping 10.1.0.1: 199/201 replies",
    ] {
        assert!(s.contains(want), "{want}\n{s}");
    }
    insta::assert_snapshot!("live_sas_120x36", s);
    let narrow = d.screen(80, 24);
    assert!(
        narrow.contains("mid ours 2 peer 0"),
        "whole SA lines at 80 columns\n{narrow}"
    );
    insta::assert_snapshot!("live_sas_80x24", narrow);
    insta::assert_snapshot!("live_sas_styles_colour", styles(&d.frame(120, 36, COLOUR)));
    insta::assert_snapshot!("live_sas_styles_mono", styles(&d.frame(120, 36, MONO)));
}

#[test]
fn the_virtual_ip_shows_on_its_side_of_the_path() {
    let mut m = LiveModel::new(&["peer".into()]);
    let status = serde_json::json!({"sas": [{"sa": "#1", "state": "Established",
        "initiator": true, "local": "192.0.2.10:4500", "remote": "192.0.2.1:4500",
        "vip": "10.3.0.1", "established_s": 12.9, "rekey_in_s": 3594.2, "next_mid": 3,
        "peer_mid": 2, "outstanding_mid": 2, "children": []}]});
    m.apply(&mobikectl::drill::TimedEvent {
        at: Timestamp::from_millis(1),
        node: "peer".into(),
        name: "status".into(),
        fields: status.as_object().cloned().unwrap(),
    });
    let mut app = LiveApp::new(m, KeyMap::default(), "peer");
    let mut t = Terminal::new(TestBackend::new(120, 36)).unwrap();
    t.draw(|f| live_view::draw(f, &mut app, &COLOUR.theme()))
        .unwrap();
    let s = text(t.backend().buffer());
    assert!(
        s.contains("192.0.2.10:4500 [10.3.0.1] → 192.0.2.1:4500"),
        "{s}"
    );
    assert!(
        s.contains("   established 12s ago, rekeying in 3594s      "),
        "{s}"
    );
    assert!(
        s.contains("   mid ours 3 (awaiting 2) peer 2 "),
        "too long for one line: two\n{s}"
    );
}

#[test]
fn enter_on_an_exchange_shows_its_decrypted_payload_tree_and_bytes() {
    let mut d = Drive::new();
    // the SA's address taken away: the initiator sends UPDATE_SA_ADDRESSES (inside SK)
    d.keys(&[Key::char('2'), Key::char('a')]);
    d.select_log(|l| {
        l.node == "initiator" && l.name == "sent" && l.text.contains("UPDATE_SA_ADDRESSES")
    });
    d.app.key(Key::plain(KeyCode::Enter));
    assert_eq!(d.app.mode, LiveMode::Message);
    let dir = tempfile::tempdir().unwrap();
    d.serve_capture(dir.path());
    let view = d.app.message.clone().expect("decoded");
    let tree: Vec<String> = view.tree.lines.iter().map(|l| l.text.clone()).collect();
    assert!(tree.iter().any(|l| l.contains("integrity=ok")), "{tree:#?}");
    assert!(
        tree.iter().any(|l| l.contains("N(UPDATE_SA_ADDRESSES)")),
        "{tree:#?}"
    );
    let s = d.screen(120, 36);
    assert!(
        s.contains("Message: initiator sent INFORMATIONAL request mid"),
        "{s}"
    );
    assert!(s.contains("N(UPDATE_SA_ADDRESSES)"), "{s}");
    assert!(
        s.contains("Bytes (decrypted SK content"),
        "the first inner payload selected\n{s}"
    );
    assert!(s.contains("0000  "), "{s}");
    insta::assert_snapshot!("live_message_120x36", s);
    insta::assert_snapshot!("live_message_80x24", d.screen(80, 24));
    // the selected payload's bytes are highlighted
    let buf = d.frame(120, 36, COLOUR);
    let lit = buf
        .content
        .iter()
        .filter(|c| c.modifier.contains(Modifier::REVERSED))
        .count();
    assert!(lit > 20, "highlighted bytes and the selected line");
    // Right unfolds the payload into its fields, as in the browser; Right again selects
    // the first, whose bytes lie inside the payload's
    let payload = d.app.message.clone().expect("decoded").tree;
    let payload_bytes = payload.selected_bytes().expect("a payload's bytes");
    assert!(!d.screen(120, 36).contains("notify message type"));
    d.app.key(Key::plain(KeyCode::Right));
    let s = d.screen(120, 36);
    assert!(
        s.contains("notify message type: UPDATE_SA_ADDRESSES (16400)"),
        "{s}"
    );
    d.app.key(Key::plain(KeyCode::Right));
    let tree = d.app.message.clone().expect("decoded").tree;
    let field = tree.selected_line().expect("a field selected");
    assert!(field.field, "{field:?}");
    let r = field.bytes.expect("a field's bytes");
    assert!(r.decrypted && r.start >= payload_bytes.start && r.end <= payload_bytes.end);
    assert!(r.end - r.start < payload_bytes.end - payload_bytes.start);
    // y copies the field's value
    d.app.key(Key::char('y'));
    assert!(d.app.clipboard.take().is_some_and(|c| !c.is_empty()));
    assert!(d.screen(120, 36).contains("copied: "));
    // Left goes back to the payload, Left again folds it
    d.app.key(Key::plain(KeyCode::Left));
    d.app.key(Key::plain(KeyCode::Left));
    assert!(!d.screen(120, 36).contains("notify message type"));
    assert_eq!(d.app.mode, LiveMode::Message);
    // Top: the header line, whose bytes are the message's first 28
    d.app.key(Key::plain(KeyCode::Home));
    let s = d.screen(120, 36);
    assert!(s.contains("Bytes ("), "{s}");
    assert!(!s.contains("decrypted SK content"), "{s}");
    d.app.key(Key::plain(KeyCode::Esc));
    assert_eq!(d.app.mode, LiveMode::Normal);

    // the responder's view of IKE_AUTH: IDi only exists inside SK
    d.select_log(|l| l.node == "responder" && l.name == "received" && l.text.contains("IKE_AUTH"));
    d.app.key(Key::plain(KeyCode::Enter));
    d.serve_capture(dir.path());
    let s = d.screen(120, 36);
    assert!(
        s.contains("responder received IKE_AUTH request mid 1"),
        "{s}"
    );
    assert!(s.contains("IDi"), "{s}");
}

#[test]
fn enter_on_an_event_that_is_no_message_says_so() {
    let mut d = Drive::new();
    d.select_log(|l| l.name == "ike_up");
    d.app.key(Key::plain(KeyCode::Enter));
    assert_eq!(d.app.mode, LiveMode::Normal);
    assert!(!d.app.capture_wanted);
    assert!(
        d.app
            .status
            .as_deref()
            .unwrap_or("")
            .contains("not a message"),
        "{:?}",
        d.app.status
    );
}

#[test]
fn the_path_matrix_draws_rtt_history_as_a_sparkline() {
    let mut d = Drive::new();
    d.keys(&[Key::char('p')]);
    d.keys(&[Key::char('p')]);
    d.keys(&[Key::char('p')]);
    let s = d.screen(120, 36);
    let row = s
        .lines()
        .find(|l| l.contains("127.0.0.3") && l.contains("127.0.0.11") && l.contains("OK"))
        .unwrap_or_default();
    assert!(row.contains("  ███ "), "three probes, three bars\n{s}");
    // bars scale to the slowest answer; x is a failed test, in every theme
    let history: std::collections::VecDeque<Option<f64>> =
        [Some(10.0), Some(20.0), None, Some(40.0)]
            .into_iter()
            .collect();
    let spark = |looks: Looks| -> String {
        live_view::sparkline(&history, 40.0, &looks.theme(), ratatui::style::Style::new())
            .iter()
            .map(|s| s.content.to_string())
            .collect()
    };
    assert_eq!(spark(COLOUR), "▃▅x█");
    assert_eq!(spark(MONO), "▃▅x█");
    assert_eq!(
        spark(Looks {
            mono: true,
            ascii: true
        }),
        ":-x#"
    );
}
