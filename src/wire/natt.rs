//! UDP encapsulation on the NAT-T port (RFC 3948 §2): what a datagram there is, told by
//! its first bytes — the 4-byte non-ESP marker before an IKE message, a single 0xFF for
//! a NAT-T keepalive, anything else an ESP packet (its first four bytes, the SPI, are
//! never zero). Shared by the sockets (`io::socket`) and the in-memory network, which
//! carries datagrams as they are on the wire.

/// The non-ESP marker (RFC 3948 §2.2): four zero bytes before IKE messages on port 4500.
pub const NON_ESP_MARKER: [u8; 4] = [0; 4];

/// What arrived on a socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// An IKE message (non-ESP marker removed) for the engine.
    Ike(Vec<u8>),
    /// ESP in UDP (RFC 3948), SPI first, for [`Engine::handle_esp`](crate::engine::Engine::handle_esp).
    Esp(Vec<u8>),
    /// NAT-T keepalive (a single 0xFF byte): dropped.
    Keepalive,
    /// Too short to be anything on the NAT-T port: dropped.
    Runt,
}

/// Classify a datagram: on a NAT-T socket (`natt`) by its first bytes, else it is IKE.
pub fn classify(natt: bool, data: &[u8]) -> Received {
    if !natt {
        return Received::Ike(data.to_vec());
    }
    if data == [0xff] {
        return Received::Keepalive;
    }
    if data.len() < 4 {
        return Received::Runt;
    }
    if data[..4] == NON_ESP_MARKER {
        Received::Ike(data[4..].to_vec())
    } else {
        Received::Esp(data.to_vec())
    }
}

/// The UDP payload for `bytes`: with the non-ESP marker in front if `marker`.
pub fn frame(bytes: &[u8], marker: bool) -> Vec<u8> {
    let mut v = Vec::with_capacity(bytes.len() + 4);
    if marker {
        v.extend_from_slice(&NON_ESP_MARKER);
    }
    v.extend_from_slice(bytes);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_keepalive_esp_and_runts() {
        assert_eq!(classify(false, &[1, 2]), Received::Ike(vec![1, 2]));
        assert_eq!(classify(true, &[0, 0, 0, 0, 9]), Received::Ike(vec![9]));
        assert_eq!(classify(true, &[0xff]), Received::Keepalive);
        assert_eq!(
            classify(true, &[1, 2, 3, 4, 5]),
            Received::Esp(vec![1, 2, 3, 4, 5])
        );
        assert_eq!(classify(true, &[0, 0]), Received::Runt);
        assert_eq!(frame(&[7], true), vec![0, 0, 0, 0, 7]);
        assert_eq!(frame(&[7], false), vec![7]);
    }
}
