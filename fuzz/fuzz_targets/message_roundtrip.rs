//! Whatever parses must emit back to the same bytes and parse again to an equal message.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mobikectl::wire::Message;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = Message::parse(data) {
        let emitted = msg.emit();
        assert_eq!(emitted, data, "emit(parse(m)) != m");
        let again = Message::parse(&emitted).expect("emitted message parses");
        assert_eq!(again, msg);
    }
});
