//! Layer 4: the sans-IO IKEv2 peer engine.

pub mod proposal;
