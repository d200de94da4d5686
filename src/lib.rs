//! mobikectl: IKEv2 and MOBIKE (RFC 4555) codec, capture dissector and peer.
pub mod capture;
pub mod crypto;
pub mod keys;
pub mod wire;
