//! The offline browser without a terminal: keys in, state out; whole frames on ratatui's
//! TestBackend (insta snapshots of the text and of the styles, in colour and monochrome);
//! every size down to 1x1; the help overlay against the key map.
mod tui_common;

use std::path::PathBuf;

use mobikectl::tui::browser::{Browser, Mode, Pane};
use mobikectl::tui::browser_view;
use mobikectl::tui::capture_index::{ByteRange, CaptureIndex, LoadOptions};
use mobikectl::tui::keymap::{keys_markdown, Key, KeyCode, KeyMap, Ui, UI_COMMANDS};
use mobikectl::tui::lanes::{LaneItem, Mark};
use mobikectl::tui::search::{SearchRun, SearchStep};
use mobikectl::tui::Looks;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Modifier;
use ratatui::Terminal;
use tui_common::{styles, text};

fn repo(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(p)
}

/// strongSwan's MOBIKE move seen at the gateway, decrypted.
fn moon() -> Browser {
    let index = CaptureIndex::load(LoadOptions {
        files: vec![repo("testdata/strongswan-move/cap-moon.pcap")],
        keys: vec![repo("testdata/strongswan-move/ikev2_decryption_table")],
        ..LoadOptions::default()
    });
    Browser::new(index, KeyMap::default())
}

fn press(b: &mut Browser, keys: &[Key]) {
    for k in keys {
        b.key(*k);
    }
}

fn typed(b: &mut Browser, s: &str) {
    for c in s.chars() {
        b.key(Key::char(c));
    }
}

const ENTER: Key = Key::plain(KeyCode::Enter);
const TAB: Key = Key::plain(KeyCode::Tab);
const DOWN: Key = Key::plain(KeyCode::Down);
const RIGHT: Key = Key::plain(KeyCode::Right);

fn frame(b: &mut Browser, w: u16, h: u16, looks: Looks) -> Buffer {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    let theme = looks.theme();
    t.draw(|f| browser_view::draw(f, b, &theme)).unwrap();
    t.backend().buffer().clone()
}

const COLOUR: Looks = Looks {
    mono: false,
    ascii: false,
};
const MONO: Looks = Looks {
    mono: true,
    ascii: false,
};

#[test]
fn the_capture_is_indexed_with_pairs_retransmissions_and_the_move() {
    let b = moon();
    let ix = &b.index;
    assert_eq!(ix.messages.len(), 20);
    assert_eq!(ix.sas.len(), 1);
    // frame 7: the probe's copy to the gateway's other address
    let m7 = ix.messages.get(6).unwrap();
    assert_eq!((m7.frame, m7.copy, m7.message_id), (7, 1, 2));
    // frame 8 answers mid 2: paired with the last copy before it
    assert_eq!(ix.messages.get(7).unwrap().partner, Some(6));
    assert_eq!(ix.messages.get(6).unwrap().partner, Some(7));
    let update = ix.messages.get(8).unwrap();
    assert!(
        update.summary().contains("N(UPDATE_SA_ADDRESSES)"),
        "{}",
        update.summary()
    );
    assert_eq!(update.partner, Some(9));
    assert!(ix
        .timeline
        .iter()
        .any(|e| e.frame == 9 && ix.timeline_text(e).contains("UPDATE_SA_ADDRESSES")));
}

#[test]
fn a_filter_typed_in_the_bar_selects_messages_and_errors_stay_in_the_bar() {
    let mut b = moon();
    press(&mut b, &[Key::char('/')]);
    assert_eq!(b.mode, Mode::Filter);
    typed(&mut b, "exch == BOGUS");
    assert!(b.filter_error.is_some());
    press(&mut b, &[ENTER]);
    // refused: still editing, nothing applied
    assert_eq!(b.mode, Mode::Filter);
    assert!(b.filter.is_none());
    for _ in 0.."BOGUS".len() {
        b.key(Key::plain(KeyCode::Backspace));
    }
    typed(&mut b, "INFORMATIONAL && notify == UPDATE_SA_ADDRESSES");
    assert!(b.filter_error.is_none());
    press(&mut b, &[ENTER]);
    assert_eq!(b.mode, Mode::Normal);
    let frames: Vec<u64> = b
        .shown
        .iter()
        .map(|&i| b.index.messages.get(i as usize).unwrap().frame)
        .collect();
    assert_eq!(frames, [9]);
    // Wireshark's field names work too
    b.apply_filter("isakmp.messageid == 2 && !retransmit");
    let frames: Vec<u64> = b
        .shown
        .iter()
        .map(|&i| b.index.messages.get(i as usize).unwrap().frame)
        .collect();
    assert_eq!(frames, [6, 8]);
    press(&mut b, &[Key::ctrl('l')]);
    assert_eq!(b.shown.len(), 20);
}

#[test]
fn keys_move_by_sa_by_mobike_event_and_to_the_partner() {
    let mut b = moon();
    let frame = |b: &Browser| b.selected_message().unwrap().1.frame;
    assert_eq!(frame(&b), 1);
    press(&mut b, &[Key::char('}')]);
    assert_eq!(frame(&b), 3, "IKE_AUTH announces an additional address");
    press(&mut b, &[Key::char('}'), Key::char('}'), Key::char('}')]);
    assert_eq!(frame(&b), 9, "the UPDATE_SA_ADDRESSES");
    press(&mut b, &[Key::char('=')]);
    assert_eq!(frame(&b), 10, "its response");
    press(&mut b, &[Key::char('=')]);
    assert_eq!(frame(&b), 9);
    press(&mut b, &[Key::plain(KeyCode::End)]);
    assert_eq!(frame(&b), 20);
    assert!(b.follow, "End resumes follow");
    press(&mut b, &[Key::char('k')]);
    assert!(!b.follow, "moving up pauses it");
    press(&mut b, &[Key::char(':')]);
    typed(&mut b, "goto 12");
    press(&mut b, &[ENTER]);
    assert_eq!(frame(&b), 12);
    press(&mut b, &[Key::char(':')]);
    typed(&mut b, "goto 99");
    press(&mut b, &[ENTER]);
    assert!(b.status.as_deref().unwrap_or("").contains("no frame 99"));
}

#[test]
fn the_tree_expands_and_the_selected_payload_highlights_its_bytes() {
    let mut b = moon();
    press(&mut b, &[Key::char(':')]);
    typed(&mut b, "goto 9");
    press(&mut b, &[ENTER, Key::char('3')]);
    assert_eq!(b.focus, Pane::Tree);
    let visible: Vec<String> = b
        .tree
        .visible()
        .iter()
        .map(|&i| b.tree.lines[i].text.clone())
        .collect();
    assert!(visible[1].starts_with("IKE header"), "{visible:?}");
    assert!(visible[2].starts_with("SK "), "{visible:?}");
    assert!(
        visible.iter().any(|l| l == "N(UPDATE_SA_ADDRESSES)"),
        "{visible:?}"
    );
    // down to the first inner payload: its bytes are in the decrypted content
    press(&mut b, &[DOWN, DOWN, DOWN, DOWN]);
    let line = &b.tree.lines[b.tree.selected];
    assert_eq!(line.text, "N(UPDATE_SA_ADDRESSES)");
    let r = line.bytes.unwrap();
    assert!(r.decrypted && r.start == 0 && r.end == 8, "{r:?}");
    let buf = frame(&mut b, 120, 36, COLOUR);
    let screen = text(&buf);
    assert!(screen.contains("Bytes (decrypted SK content)"), "{screen}");
    // the highlighted cells are exactly the 8 bytes of the notify (next payload N, length 8,
    // protocol 0, SPI size 0, type 16400), then the same 8 as text
    let highlighted: Vec<String> = buf
        .content
        .iter()
        .filter(|c| {
            c.modifier.contains(Modifier::REVERSED) && c.fg == ratatui::style::Color::Yellow
        })
        .map(|c| c.symbol().to_string())
        .collect();
    let hex: String = highlighted.concat();
    assert_eq!(hex, "2900000800004010).....@.");
    // Left goes to the parent, Right expands the payload's fields
    press(&mut b, &[Key::char('k'), Key::char('k')]);
    let sk = b.tree.selected;
    assert!(b.tree.lines[sk].text.starts_with("SK "));
    let before = b.tree.visible().len();
    press(&mut b, &[Key::plain(KeyCode::Left)]);
    assert!(b.tree.visible().len() < before, "collapsed");
    press(&mut b, &[RIGHT, Key::char('E')]);
    assert_eq!(b.tree.visible().len(), b.tree.lines.len());
}

/// The highlighted cells of the bytes pane: hex digits, then the same bytes as text.
fn highlighted(buf: &Buffer) -> String {
    buf.content
        .iter()
        .filter(|c| {
            c.modifier.contains(Modifier::REVERSED) && c.fg == ratatui::style::Color::Yellow
        })
        .map(|c| c.symbol().to_string())
        .collect()
}

/// Select the first tree line whose text starts with `prefix`, expanding everything.
fn select_tree_line(b: &mut Browser, prefix: &str) -> usize {
    press(b, &[Key::char('E')]);
    let i = b
        .tree
        .lines
        .iter()
        .position(|l| l.text.starts_with(prefix))
        .unwrap_or_else(|| panic!("no tree line {prefix}: {:#?}", b.tree.lines));
    while b.tree.selected < i {
        press(b, &[DOWN]);
    }
    assert_eq!(b.tree.selected, i);
    i
}

#[test]
fn a_selected_field_highlights_only_its_own_bytes() {
    let mut b = moon();
    press(&mut b, &[Key::char(':')]);
    typed(&mut b, "goto 9");
    press(&mut b, &[ENTER, Key::char('3')]);
    // a header field: the message ID, bytes 20..24 of the message
    let i = select_tree_line(&mut b, "message ID:");
    assert_eq!(b.tree.lines[i].text, "message ID: 3");
    let r = b.tree.lines[i].bytes.unwrap();
    assert!(!r.decrypted && (r.start, r.end) == (20, 24), "{r:?}");
    assert_eq!(highlighted(&frame(&mut b, 120, 36, COLOUR)), "00000003....");
    // a field of an encrypted payload: the notify type of N(UPDATE_SA_ADDRESSES), in the
    // decrypted content, two bytes (16400 = 0x4010)
    let i = select_tree_line(&mut b, "notify message type: UPDATE_SA_ADDRESSES");
    let r = b.tree.lines[i].bytes.unwrap();
    assert!(r.decrypted && (r.start, r.end) == (6, 8), "{r:?}");
    let buf = frame(&mut b, 120, 36, COLOUR);
    assert!(text(&buf).contains("Bytes (decrypted SK content)"));
    assert_eq!(highlighted(&buf), "4010@.");
    // the COOKIE2 value, its 16 bytes; `y` copies the value, not the field's name
    let i = select_tree_line(&mut b, "cookie: 69d2243e587f45cbb89cef3fd884631a");
    let r = b.tree.lines[i].bytes.unwrap();
    assert_eq!(r.end - r.start, 16, "{r:?}");
    press(&mut b, &[Key::char('y')]);
    assert_eq!(
        b.clipboard.as_deref(),
        Some("69d2243e587f45cbb89cef3fd884631a")
    );
    // and in the bytes pane, the field's bytes in hex
    press(&mut b, &[Key::char('4'), Key::char('y')]);
    assert_eq!(
        b.clipboard.as_deref(),
        Some("69d2243e587f45cbb89cef3fd884631a")
    );
}

#[test]
fn every_field_of_every_testdata_message_lies_inside_its_payload() {
    // field lines are children of their payload: their bytes must lie inside the parent's
    // (the header line's children are the payloads, beside the header, not in it)
    let mut checked = 0;
    for cap in testdata_captures() {
        let index = load(cap.clone());
        for (n, m) in index.messages.iter().enumerate() {
            let lines = index.tree_lines(m);
            let mut parents: Vec<Option<ByteRange>> = Vec::new();
            for l in &lines {
                parents.truncate(l.depth);
                if let (Some(r), Some(Some(p))) = (l.bytes, parents.last()) {
                    if r.decrypted == p.decrypted && l.depth >= 2 {
                        assert!(
                            r.start >= p.start && r.end <= p.end,
                            "{cap:?} message {n}: {} {r:?} outside {p:?}",
                            l.text
                        );
                        checked += 1;
                    }
                }
                parents.resize(l.depth, None);
                parents.push(l.bytes);
            }
        }
    }
    assert!(checked > 1000, "only {checked} fields checked");
}

#[test]
fn snapshots_of_every_pane_at_two_sizes_in_colour_and_mono() {
    let mut b = moon();
    press(&mut b, &[Key::char(':')]);
    typed(&mut b, "goto 9");
    press(&mut b, &[ENTER]);
    insta::assert_snapshot!("browser_120x36", text(&frame(&mut b, 120, 36, COLOUR)));
    insta::assert_snapshot!("browser_80x24", text(&frame(&mut b, 80, 24, COLOUR)));
    press(&mut b, &[Key::char('3'), DOWN, DOWN, DOWN]);
    insta::assert_snapshot!(
        "browser_tree_focused_styles_colour",
        styles(&frame(&mut b, 120, 36, COLOUR))
    );
    insta::assert_snapshot!(
        "browser_tree_focused_styles_mono",
        styles(&frame(&mut b, 120, 36, MONO))
    );
    press(&mut b, &[Key::char('5')]);
    insta::assert_snapshot!(
        "browser_timeline_80x24",
        text(&frame(&mut b, 80, 24, COLOUR))
    );
    let ascii = Looks {
        mono: true,
        ascii: true,
    };
    insta::assert_snapshot!("browser_ascii_80x24", text(&frame(&mut b, 80, 24, ascii)));
}

#[test]
fn mono_keeps_state_readable_without_colour() {
    let mut b = moon();
    press(&mut b, &[Key::char('3')]);
    let buf = frame(&mut b, 120, 36, MONO);
    for c in &buf.content {
        assert_eq!(c.fg, ratatui::style::Color::Reset, "no colour in mono");
        assert_eq!(c.bg, ratatui::style::Color::Reset);
    }
    // the selected tree row is reversed, and the focused pane's title says it in text
    assert!(buf
        .content
        .iter()
        .any(|c| c.modifier.contains(Modifier::REVERSED)));
    assert!(text(&buf).contains("[3 Message"));
}

#[test]
fn the_help_overlay_lists_every_command_of_the_key_map() {
    let mut b = moon();
    press(&mut b, &[Key::char('?')]);
    assert_eq!(b.mode, Mode::Help(0));
    let screen = text(&frame(&mut b, 120, 60, COLOUR));
    for s in UI_COMMANDS {
        let name = format!(" {} ", s.name);
        if s.command.in_ui(Ui::Offline) {
            assert!(screen.contains(&name), "help lacks {}", s.name);
            let help = s.help_in(Ui::Offline);
            assert!(screen.contains(help), "help lacks {}'s help", s.name);
        } else {
            let rows = b.keymap.help_rows(Ui::Offline);
            assert!(!rows.iter().any(|r| r.1 == s.name), "{} is live", s.name);
        }
    }
    for (key, c) in b.keymap.bindings() {
        if c.in_ui(Ui::Offline) {
            assert!(screen.contains(&key.to_string()), "help lacks key {key}");
        }
    }
    insta::assert_snapshot!("browser_help_120x36", text(&frame(&mut b, 120, 36, COLOUR)));
    insta::assert_snapshot!("browser_help_80x24", text(&frame(&mut b, 80, 24, COLOUR)));
    press(&mut b, &[Key::plain(KeyCode::Esc)]);
    assert_eq!(b.mode, Mode::Normal);
}

#[test]
fn the_command_line_completes_shows_the_choices_and_keeps_a_history() {
    let mut b = moon();
    press(&mut b, &[Key::char(':')]);
    assert_eq!(b.mode, Mode::Command);
    typed(&mut b, "ne");
    press(&mut b, &[TAB]);
    assert_eq!(b.command_line.text, "next-");
    let s = text(&frame(&mut b, 120, 36, COLOUR));
    assert!(s.contains("next-message  next-in-sa  next-mobike"), "{s}");
    assert!(s.ends_with(":next-"), "{s}");
    insta::assert_snapshot!("browser_command_line_120x36", s);
    insta::assert_snapshot!(
        "browser_command_line_80x24",
        text(&frame(&mut b, 80, 24, COLOUR))
    );
    // two more letters: one completion, the choices gone
    typed(&mut b, "mo");
    assert!(b.command_line.choices.is_empty());
    press(&mut b, &[TAB]);
    assert_eq!(b.command_line.text, "next-mobike ");
    press(&mut b, &[ENTER]);
    assert_eq!(b.mode, Mode::Normal);
    // from the first message (IKE_SA_INIT) to the first with a MOBIKE payload
    let (_, m) = b.selected_message().expect("a MOBIKE message");
    assert!(m.summary().contains("MOBIKE_SUPPORTED"), "{}", m.summary());
    // the history: Up brings the last command back
    press(&mut b, &[Key::char(':'), Key::plain(KeyCode::Up)]);
    assert_eq!(b.command_line.text, "next-mobike");
    press(&mut b, &[Key::plain(KeyCode::Esc)]);
    assert_eq!(b.mode, Mode::Normal);
}

#[test]
fn every_size_down_to_1x1_renders_without_panic() {
    let mut b = moon();
    for keys in [
        vec![],
        vec![Key::char('?')],
        vec![Key::char('/')],
        vec![Key::char('5')],
        vec![Key::char('5'), Key::char('\\')],
        vec![Key::char('5'), Key::char('v')],
        vec![Key::ctrl('f'), Key::char('x'), ENTER],
    ] {
        press(&mut b, &keys);
        for w in (1..=200).step_by(7).chain([1, 2, 29, 30, 99, 100]) {
            for h in (1..=60).step_by(5).chain([1, 7, 8]) {
                let buf = frame(&mut b, w, h, COLOUR);
                // below a useful size it says so (as much of it as fits)
                if (w < 30 || h < 8) && w >= 18 {
                    assert!(text(&buf).starts_with("terminal too small"), "{w}x{h}");
                }
            }
        }
        press(&mut b, &[Key::plain(KeyCode::Esc)]);
    }
}

#[test]
fn focus_cycles_and_every_command_runs_on_every_pane() {
    let mut b = moon();
    let mut seen = Vec::new();
    for _ in 0..5 {
        seen.push(b.focus);
        press(&mut b, &[TAB]);
    }
    assert_eq!(b.focus, Pane::Messages);
    assert_eq!(seen.len(), 5);
    for pane in ['1', '2', '3', '4', '5'] {
        for s in UI_COMMANDS {
            press(&mut b, &[Key::char(pane)]);
            b.run(s.command);
            b.mode = Mode::Normal;
            b.quit = false;
            b.zoom = false;
            let _ = frame(&mut b, 80, 24, COLOUR);
        }
    }
}

#[test]
fn every_testdata_capture_opens() {
    let files = testdata_captures();
    assert!(files.len() > 20, "{files:?}");
    for index in files.into_iter().map(load) {
        let mut b = Browser::new(index, KeyMap::default());
        // every message's tree and bytes draw
        for _ in 0..b.shown.len() {
            let _ = frame(&mut b, 100, 30, COLOUR);
            press(&mut b, &[Key::char('j')]);
        }
    }
}

/// Every capture under testdata/, with the key table next to it if there is one.
fn testdata_captures() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in std::fs::read_dir(repo("testdata")).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&dir).unwrap() {
            let f = f.unwrap().path();
            let name = f.to_string_lossy().to_string();
            if name.ends_with(".pcap") || name.ends_with(".pcapng") {
                files.push(f);
            }
        }
    }
    files.sort();
    files
}

fn load(f: PathBuf) -> CaptureIndex {
    let keys: Vec<PathBuf> = ["ikev2_decryption_table"]
        .iter()
        .map(|k| f.parent().unwrap().join(k))
        .filter(|k| k.exists())
        .collect();
    let index = CaptureIndex::load(LoadOptions {
        files: vec![f.clone()],
        keys,
        ..LoadOptions::default()
    });
    assert!(index.error.is_none(), "{}: {:?}", f.display(), index.error);
    index
}

#[test]
fn the_readme_lists_the_keys_of_the_key_map() {
    let readme = std::fs::read_to_string(repo("README.md")).unwrap();
    let table = keys_markdown();
    assert!(
        readme.contains(&table),
        "README's key table is out of date; it must read:\n{table}"
    );
    for snap in [
        "tests/snapshots/tui_browser__browser_120x36.snap",
        "tests/snapshots/tui_live__live_after_drill_120x36.snap",
    ] {
        let text = std::fs::read_to_string(repo(snap)).unwrap();
        let screen = text.splitn(3, "---\n").nth(2).unwrap().trim_end();
        assert!(
            readme.contains(screen),
            "README's picture of {snap} is out of date"
        );
    }
}

/// The moon capture without its keys: nothing decrypted.
fn moon_without_keys() -> Browser {
    let index = CaptureIndex::load(LoadOptions {
        files: vec![repo("testdata/strongswan-move/cap-moon.pcap")],
        ..LoadOptions::default()
    });
    Browser::new(index, KeyMap::default())
}

fn selected_frame(b: &Browser) -> u64 {
    b.selected_message().map_or(0, |(_, m)| m.frame)
}

/// The lane of a path, by its two ends.
fn lane(b: &Browser, initiator: &str, responder: &str) -> u16 {
    let at = b
        .lanes
        .paths
        .iter()
        .position(|p| p.initiator.to_string() == initiator && p.responder.to_string() == responder)
        .unwrap_or_else(|| panic!("no lane {initiator} - {responder}: {:?}", b.lanes.paths));
    u16::try_from(at).unwrap()
}

#[test]
fn the_lanes_have_one_lane_per_path_and_the_move_goes_from_the_old_lane_to_the_new() {
    let mut b = moon();
    press(&mut b, &[Key::char('5')]);
    assert!(b.lanes_view, "lanes are the timeline's first view");
    assert_eq!(b.lanes.sa, Some(0));
    // the four paths of the capture: IKE_SA_INIT on 500, the float to 4500, then the
    // initiator's second address to both of the gateway's
    assert_eq!(b.lanes.paths.len(), 4, "{:?}", b.lanes.paths);
    let init = lane(&b, "192.0.2.10:500", "203.0.113.1:500");
    let old = lane(&b, "192.0.2.10:4500", "203.0.113.1:4500");
    let new = lane(&b, "198.51.100.10:4500", "203.0.113.1:4500");
    let other = lane(&b, "198.51.100.10:4500", "203.0.113.2:4500");
    let rows = &b.lanes.rows;
    // the setup moved the SA from port 500 to 4500 with IKE_AUTH (frame 3)
    let auth = rows.iter().find(|r| r.frame == 3).unwrap();
    assert_eq!((auth.from, auth.lane, auth.current), (Some(init), old, old));
    // the probe's copies on the two new paths, answered on one, while the SA stays
    let probes: Vec<(u64, u16)> = rows
        .iter()
        .filter(|r| r.mark == Mark::Probe)
        .map(|r| (r.frame, r.lane))
        .collect();
    assert_eq!(probes, [(6, new), (7, other)]);
    assert!(rows.iter().any(|r| r.frame == 8
        && r.mark == Mark::ProbeAnswered
        && r.lane == new
        && r.current == old));
    // UPDATE_SA_ADDRESSES: an arrow from the old lane to the new, which is current after
    let at = rows.iter().position(|r| r.mark == Mark::Move).unwrap();
    let mv = rows[at];
    assert_eq!(
        (mv.frame, mv.from, mv.lane, mv.current),
        (9, Some(old), new, new)
    );
    assert!(rows[..at]
        .iter()
        .filter(|r| r.frame >= 3)
        .all(|r| r.current == old));
    assert!(rows[at..].iter().all(|r| r.current == new));
    // the responder's retransmission after the move, on the new path
    assert!(rows
        .iter()
        .any(|r| r.frame == 17 && r.mark == Mark::Retransmission && r.lane == new));
    // on screen: the selected row is the move; the legend marks the new path current
    // with '*' (text, not only colour), and the arrow runs from lane B to lane C
    for _ in 0..at {
        press(&mut b, &[DOWN]);
    }
    assert_eq!(b.timeline_selected, at);
    assert_eq!(
        selected_frame(&b),
        9,
        "moving in the lanes selects the message"
    );
    let screen = text(&frame(&mut b, 120, 36, COLOUR));
    assert!(
        screen.contains("C* 198.51.100.10:4500 - 203.0.113.1:4500"),
        "{screen}"
    );
    assert!(
        screen.contains("B  192.0.2.10:4500 - 203.0.113.1:4500"),
        "{screen}"
    );
    assert!(
        screen.contains("─▶ ") && screen.contains("moved B->C UPDATE_SA_ADDRESSES"),
        "{screen}"
    );
    let ascii = Looks {
        mono: true,
        ascii: true,
    };
    let screen = text(&frame(&mut b, 120, 36, ascii));
    assert!(screen.contains("-> "), "{screen}");
    assert!(screen.contains("C* 198.51.100.10"), "{screen}");
}

#[test]
fn enter_on_a_lane_row_jumps_to_its_message_and_v_shows_the_event_list() {
    let mut b = moon();
    press(&mut b, &[Key::char('5')]);
    let probe = b.lanes.rows.iter().position(|r| r.frame == 7).unwrap();
    assert!(matches!(b.lanes.rows[probe].item, LaneItem::Message(_)));
    for _ in 0..probe {
        press(&mut b, &[DOWN]);
    }
    press(&mut b, &[ENTER]);
    assert_eq!(b.focus, Pane::Messages);
    assert_eq!(selected_frame(&b), 7);
    // moving in the message list, the lanes follow
    press(&mut b, &[Key::char('j')]);
    assert_eq!(selected_frame(&b), 8);
    let row = b.lanes.rows[b.timeline_selected];
    assert_eq!((row.frame, row.mark), (8, Mark::ProbeAnswered));
    // v: the plain event list, at the same frame; v again: the lanes
    press(&mut b, &[Key::char('5'), Key::char('v')]);
    assert!(!b.lanes_view);
    let rows = b.timeline_rows();
    let e = b.index.timeline[rows[b.timeline_selected]];
    assert_eq!(e.frame, 8);
    let screen = text(&frame(&mut b, 120, 36, COLOUR));
    assert!(screen.contains("5 MOBIKE timeline"), "{screen}");
    press(&mut b, &[Key::char('v')]);
    assert!(b.lanes_view);
    assert_eq!(b.lanes.rows[b.timeline_selected].frame, 8);
}

#[test]
fn lanes_snapshots_at_two_sizes_in_colour_and_in_mono_ascii() {
    let mut b = moon();
    press(&mut b, &[Key::char('5')]);
    let at = b
        .lanes
        .rows
        .iter()
        .position(|r| r.mark == Mark::Move)
        .unwrap();
    for _ in 0..at {
        press(&mut b, &[DOWN]);
    }
    insta::assert_snapshot!(
        "browser_lanes_120x36",
        text(&frame(&mut b, 120, 36, COLOUR))
    );
    insta::assert_snapshot!("browser_lanes_80x24", text(&frame(&mut b, 80, 24, COLOUR)));
    insta::assert_snapshot!(
        "browser_lanes_styles_colour_120x36",
        styles(&frame(&mut b, 120, 36, COLOUR))
    );
    let ascii = Looks {
        mono: true,
        ascii: true,
    };
    insta::assert_snapshot!(
        "browser_lanes_mono_ascii_120x36",
        text(&frame(&mut b, 120, 36, ascii))
    );
    insta::assert_snapshot!(
        "browser_lanes_mono_ascii_80x24",
        text(&frame(&mut b, 80, 24, ascii))
    );
    let buf = frame(&mut b, 80, 24, ascii);
    // the lanes pane (rows 1 to 16) in ASCII only
    let screen = text(&buf);
    for line in screen.lines().skip(1).take(16) {
        assert!(line.is_ascii(), "{line}");
    }
    assert!(buf
        .content
        .iter()
        .all(|c| c.fg == ratatui::style::Color::Reset && c.bg == ratatui::style::Color::Reset));
}

#[test]
fn ctrl_f_finds_a_string_that_is_only_in_a_decrypted_payload() {
    // COOKIE2's value is inside SK: in no list line, only in the decrypted tree
    let cookie = "69D2243E587F45CB";
    let mut b = moon();
    assert!(b
        .index
        .messages
        .iter()
        .all(|m| !m.summary().to_lowercase().contains(&cookie.to_lowercase())));
    press(&mut b, &[Key::ctrl('f')]);
    assert_eq!(b.mode, Mode::Search);
    typed(&mut b, cookie);
    press(&mut b, &[ENTER]);
    assert_eq!(b.mode, Mode::Normal);
    assert_eq!(
        selected_frame(&b),
        9,
        "the UPDATE_SA_ADDRESSES request's COOKIE2"
    );
    let status = b.status.clone().unwrap_or_default();
    assert_eq!(status, format!("found '{cookie}' in frame 9"));
    // the : line searches too
    press(&mut b, &[Key::char('g'), Key::char(':')]);
    typed(&mut b, "search Carol@Example.org");
    press(&mut b, &[ENTER]);
    assert_eq!(
        b.status.as_deref(),
        Some("found 'Carol@Example.org' in frame 3")
    );
    // without the keys the same search finds nothing, and the bar says so
    let mut b = moon_without_keys();
    press(&mut b, &[Key::ctrl('f')]);
    typed(&mut b, cookie);
    press(&mut b, &[ENTER]);
    assert_eq!(b.mode, Mode::Search, "the bar stays open");
    assert_eq!(
        b.search_verdict.as_deref(),
        Some(format!("not found: '{cookie}'").as_str())
    );
    assert_eq!(selected_frame(&b), 1, "the selection stays");
}

#[test]
fn n_and_shift_n_go_to_the_next_and_previous_match_and_wrap() {
    let mut b = moon();
    press(&mut b, &[Key::char('n')]);
    assert_eq!(b.status.as_deref(), Some("nothing searched yet: Ctrl-F"));
    // the request echoes its cookie in the response: frames 9 and 10
    press(&mut b, &[Key::ctrl('f')]);
    typed(&mut b, "69d2243e");
    press(&mut b, &[ENTER]);
    assert_eq!(selected_frame(&b), 9);
    press(&mut b, &[Key::char('n')]);
    assert_eq!(selected_frame(&b), 10);
    assert_eq!(b.status.as_deref(), Some("found '69d2243e' in frame 10"));
    press(&mut b, &[Key::char('n')]);
    assert_eq!(selected_frame(&b), 9);
    assert_eq!(
        b.status.as_deref(),
        Some("found '69d2243e' in frame 9 (wrapped to the top)")
    );
    press(&mut b, &[Key::char('N')]);
    assert_eq!(selected_frame(&b), 10);
    assert_eq!(
        b.status.as_deref(),
        Some("found '69d2243e' in frame 10 (wrapped to the bottom)")
    );
    press(&mut b, &[Key::char('N')]);
    assert_eq!(selected_frame(&b), 9);
    // list text counts too, case ignored: the next INFORMATIONAL retransmission
    press(&mut b, &[Key::ctrl('f'), Key::ctrl('u')]);
    typed(&mut b, "[RETRANSMISSION 1]");
    press(&mut b, &[ENTER]);
    assert_eq!(selected_frame(&b), 17);
    // within what the filter shows only
    b.apply_filter("exch == IKE_AUTH");
    press(&mut b, &[Key::char('n')]);
    assert_eq!(b.status.as_deref(), Some("not found: '[RETRANSMISSION 1]'"));
}

#[test]
fn a_search_not_found_says_so_in_the_bar_and_esc_closes_it() {
    let mut b = moon();
    press(&mut b, &[Key::ctrl('f')]);
    typed(&mut b, "no such text");
    press(&mut b, &[ENTER]);
    assert_eq!(b.mode, Mode::Search);
    let screen = text(&frame(&mut b, 80, 24, COLOUR));
    let bar = screen.lines().last().unwrap_or("");
    assert_eq!(bar, "Find: no such text  not found: 'no such text'");
    insta::assert_snapshot!("browser_search_not_found_80x24", screen);
    // typing again clears the verdict; Esc closes the bar, nothing moved
    typed(&mut b, "!");
    assert_eq!(b.search_verdict, None);
    press(&mut b, &[Key::plain(KeyCode::Esc)]);
    assert_eq!(b.mode, Mode::Normal);
    assert_eq!(selected_frame(&b), 1);
}

#[test]
fn a_search_runs_in_slices_and_says_how_far_it_got() {
    let b = moon();
    // a zero budget tries one message per slice: a long search yields to the event loop
    let mut run = SearchRun::new("69d2243e", true, Some(0));
    let mut slices = 0;
    let step = loop {
        match run.advance(&b.index, &b.shown, std::time::Duration::ZERO) {
            SearchStep::Running => slices += 1,
            other => break other,
        }
    };
    assert_eq!(
        step,
        SearchStep::Found {
            row: 8,
            wrapped: false
        }
    );
    assert_eq!(slices, 7, "frames 2 to 8 each had a slice");
    assert_eq!(run.at_frame, 9);
    // while one runs, the status line says where it is, and Esc stops it
    let mut b = moon();
    b.search = Some(SearchRun::new("nowhere", true, Some(0)));
    let screen = text(&frame(&mut b, 100, 30, COLOUR));
    assert!(
        screen.contains("searching 'nowhere'... frame 0 (Esc stops)"),
        "{screen}"
    );
    assert!(b.busy());
    press(&mut b, &[Key::plain(KeyCode::Esc)]);
    assert!(!b.busy());
    assert_eq!(b.status.as_deref(), Some("search stopped"));
}
