//! The data-plane probe, sans-IO: what travels inside a CHILD_SA when two mobikectl
//! peers measure each other.
//!
//! * [`icmp`]: ICMP / ICMPv6 echo packets (with their IP header) built and parsed with
//!   correct checksums, and the echo responder for addresses inside our own traffic
//!   selectors.
//! * [`ping`]: [`ping::PingProbe`], periodic echo requests and the accounting a failover
//!   drill needs (loss, round-trip times, the longest time without a reply).
//!
//! The engine carries the packets ([`Engine::send_esp`](crate::engine::Engine::send_esp),
//! [`EngineEvent::EspReceived`](crate::engine::EngineEvent::EspReceived)); the `peer`
//! command and the in-memory network tests drive both.

pub mod host;
pub mod icmp;
pub mod ping;

pub use icmp::{answer_echo, Echo};
pub use ping::{Gap, PingOutput, PingProbe, PingStats};
