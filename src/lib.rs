//! mobikectl: IKEv2 and MOBIKE (RFC 4555) codec, capture dissector and peer.
pub mod analysis;
pub mod capture;
pub mod child_sa;
pub mod cli;
pub mod crypto;
pub mod dataplane;
pub mod decrypt;
pub mod dissect;
pub mod drill;
pub mod embedded_lab;
pub mod engine;
pub mod io;
pub mod keys;
pub mod netsim;
pub mod tui;
pub mod wire;
