//! Layer 4½: the live peer's I/O — UDP sockets, a monotonic clock, a pcapng writer and a
//! single-threaded event loop that feeds the sans-IO [`Engine`](crate::engine::Engine).
//!
//! Deliberately thin: no protocol logic lives here.
//!
//! * [`socket::Sockets`] binds one UDP socket per (local address, port) for the IKE port
//!   (500) and the NAT-T port (4500), so the source address of every datagram is the one
//!   the engine chose ([`Transmit::local`](crate::engine::Transmit)). On the NAT-T port the
//!   4-byte non-ESP marker is stripped on receive (NAT-T keepalives are dropped, ESP goes
//!   to [`Engine::handle_esp`](crate::engine::Engine::handle_esp)) and added on send when
//!   [`Transmit::non_esp_marker`](crate::engine::Transmit) says so; ESP transmits
//!   ([`Transmit::esp`](crate::engine::Transmit)) go out bare.
//! * [`clock::Clock`] turns [`std::time::Instant`] into engine [`Timestamp`](crate::engine::Timestamp)s.
//! * [`pcap::PcapWriter`] writes what is sent and received as IPv4/IPv6 + UDP frames in a
//!   pcapng file with LINKTYPE_RAW, readable by `mobikectl decode` and tshark.
//! * [`event_loop::run`] waits with `poll(2)` on the sockets and on a command pipe fed by
//!   a reader thread (stdin), calls the engine's `handle_datagram` / `handle_timeout` /
//!   `command`, and hands events and packets to a [`event_loop::Handler`].
//! * `netlink::AddrWatch` (Linux) reports the OS's address changes (RTM_NEWADDR,
//!   RTM_DELADDR) for `peer --follow-os`.

pub mod clock;
pub mod event_loop;
pub mod icmp;
pub mod memory;
#[cfg(target_os = "linux")]
pub mod netlink;
pub mod pcap;
pub mod signals;
pub mod socket;
