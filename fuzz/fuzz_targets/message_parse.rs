//! Any byte string: parse must return Ok or Err, never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mobikectl::wire::Message;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = Message::parse(data) {
        let _ = mobikectl::dissect::payloads_json(&msg);
    }
});
