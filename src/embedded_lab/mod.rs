//! The embedded lab: an initiator and a responder of our own engine in one process, as
//! drill targets. On a virtual network with a simulated clock ([`virtual_lab`]), so
//! that drills run in milliseconds and give the same result every time; or on real UDP
//! sockets on loopback addresses with the wall clock ([`loopback_lab`], `mobikectl
//! lab`), with a user-space NAT when a drill wants one. Both share the address plan,
//! configurations and event forms ([`common`]). [`scale`] is `lab --sas N`. Not to be
//! confused with `strongswan-lab/`, the strongSwan harness in network namespaces.
pub mod common;
pub mod loopback_lab;
pub mod scale;
mod user_nat;
pub mod virtual_lab;

pub use loopback_lab::LoopbackLab;
pub use virtual_lab::{LabOptions, VirtualLab};

/// The drill `mobikectl lab` runs: SA up, address loss, probe, move, NAT rebinding,
/// move back, with the move times measured.
pub const DEFAULT_DRILL: &str = include_str!("../../drills/default.drill");

/// The name the default drill is reported under.
pub const DEFAULT_DRILL_NAME: &str = "drills/default.drill";

/// The drill `mobikectl lab --nat` runs: SA up through a NAT, address loss, a real NAT
/// rebinding found by a DPD, move back.
pub const DEFAULT_NAT_DRILL: &str = include_str!("../../drills/nat.drill");

/// The name the NAT drill is reported under.
pub const DEFAULT_NAT_DRILL_NAME: &str = "drills/nat.drill";

/// The built-in drill for a lab with or without a NAT: (name, text).
pub fn default_drill(options: LabOptions) -> (&'static str, &'static str) {
    if options.nat {
        (DEFAULT_NAT_DRILL_NAME, DEFAULT_NAT_DRILL)
    } else {
        (DEFAULT_DRILL_NAME, DEFAULT_DRILL)
    }
}
