//! Any text as a drill file: the parser returns a drill or its syntax errors, never
//! panics; a drill that parses is checked against the virtual lab's nodes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mobikectl::drill::{parse_drill, run::check_drill, RunOptions};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(drill) = parse_drill("fuzz", &text) {
        let nodes = ["initiator".to_string(), "responder".to_string()];
        let _ = check_drill(&drill, &nodes, RunOptions::default());
    }
});
