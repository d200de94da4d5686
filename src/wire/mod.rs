//! Layer 1: the IKEv2 codec (RFC 7296 §3, RFC 4555, RFC 7383). Pure: no I/O, no crypto,
//! no clock.
//!
//! Modelled on smoltcp's `wire` module: every header and payload has a typed
//! representation with its parser and emitter side by side.
//!
//! ```
//! use mobikectl::wire::Message;
//! # let bytes: Vec<u8> = {
//! #   let mut m = vec![0u8; 28]; m[17] = 0x20; m[18] = 37; m[27] = 28; m };
//! let msg = Message::parse(&bytes)?;          // zero-copy: borrows from `bytes`
//! assert_eq!(msg.emit(), bytes);              // byte-exact round trip
//! let owned: Message<'static> = msg.into_owned();
//! # let _ = owned;
//! # Ok::<(), mobikectl::wire::WireError>(())
//! ```
//!
//! # Round-trip rules
//! * Everything that is not a length or a count is stored verbatim (reserved bytes, the whole
//!   generic-header flags byte, `last substruc` bytes, attribute TV/TLV format, bytes after
//!   the last payload in [`Message::trailing`]).
//! * Lengths and counts (message length, payload lengths, proposal/transform/attribute lengths,
//!   number of transforms / selectors, EAP length...) are recomputed on emit; the parser rejects
//!   any input where a stored length or count disagrees with the content, so a message that
//!   parses emits to the identical bytes.
//! * Next-payload fields are recomputed from the following payload's `payload_type`, except in
//!   SK and SKF payloads, where the field names the first *inner* payload and is stored in
//!   [`Sk::next_payload`] / [`Skf::next_payload`]. Parsing stops after SK / SKF.
//! * Emitted lengths that do not fit their field (e.g. a payload > 65535 bytes built by hand)
//!   are truncated; the parser never produces such values.
#![warn(missing_docs)]

mod cp;
mod error;
mod header;
pub mod ip;
mod message;
pub mod natt;
mod notify;
mod reader;
pub mod registry;
mod sa;
mod simple;
mod sk;
mod ts;

pub use cp::{CfgAttribute, Cp};
pub use error::{WireError, WireErrorKind};
pub use header::{
    Header, CREATE_CHILD_SA, FLAG_INITIATOR, FLAG_RESPONSE, FLAG_VERSION, HEADER_LEN, IKE_AUTH,
    IKE_SA_INIT, INFORMATIONAL,
};
pub use message::{
    emit_payload_chain, parse_payload_chain, payload_warnings, Message, Payload, PayloadBody,
    CRITICAL,
};
pub use notify::{notify_type, Notify, NotifyData};
pub use sa::{Attribute, AttributeValue, Proposal, Sa, Transform};
pub use simple::{id_type, Auth, Cert, Delete, Eap, Id, Ke};
pub use sk::{Sk, Skf, Split};
pub use ts::{AddressRange, TrafficSelector, Ts};

/// Payload type numbers (IANA "IKEv2 Payload Types").
pub mod payload_type {
    /// No next payload.
    pub const NONE: u8 = 0;
    /// Security Association.
    pub const SA: u8 = 33;
    /// Key Exchange.
    pub const KE: u8 = 34;
    /// Identification - Initiator.
    pub const IDI: u8 = 35;
    /// Identification - Responder.
    pub const IDR: u8 = 36;
    /// Certificate.
    pub const CERT: u8 = 37;
    /// Certificate Request.
    pub const CERTREQ: u8 = 38;
    /// Authentication.
    pub const AUTH: u8 = 39;
    /// Nonce.
    pub const NONCE: u8 = 40;
    /// Notify.
    pub const NOTIFY: u8 = 41;
    /// Delete.
    pub const DELETE: u8 = 42;
    /// Vendor ID.
    pub const VENDOR_ID: u8 = 43;
    /// Traffic Selector - Initiator.
    pub const TSI: u8 = 44;
    /// Traffic Selector - Responder.
    pub const TSR: u8 = 45;
    /// Encrypted and Authenticated.
    pub const SK: u8 = 46;
    /// Configuration.
    pub const CP: u8 = 47;
    /// Extensible Authentication.
    pub const EAP: u8 = 48;
    /// Generic Secure Password Methods.
    pub const GSPM: u8 = 49;
    /// Group Identification.
    pub const IDG: u8 = 50;
    /// Group Security Association.
    pub const GSA: u8 = 51;
    /// Key Download.
    pub const KD: u8 = 52;
    /// Encrypted and Authenticated Fragment (RFC 7383).
    pub const SKF: u8 = 53;
    /// Puzzle Solution (RFC 8019).
    pub const PS: u8 = 54;
}

/// Security protocol identifiers (IANA "IKEv2 Security Protocol Identifiers").
pub mod protocol_id {
    /// IKE.
    pub const IKE: u8 = 1;
    /// AH.
    pub const AH: u8 = 2;
    /// ESP.
    pub const ESP: u8 = 3;
}

pub use cp::{CFG_ACK, CFG_REPLY, CFG_REQUEST, CFG_SET};
pub use sa::{ATTR_KEY_LENGTH, MORE_PROPOSALS, MORE_TRANSFORMS};
pub use ts::{TS_IPV4_ADDR_RANGE, TS_IPV6_ADDR_RANGE};
