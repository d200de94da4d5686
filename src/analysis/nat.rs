//! NAT detection hashes (RFC 7296 §2.23).

use std::net::{IpAddr, SocketAddr};

use sha1::{Digest, Sha1};

/// SHA-1(SPIi | SPIr | IP | port) as carried in NAT_DETECTION_SOURCE_IP /
/// NAT_DETECTION_DESTINATION_IP. Pass the SPIs of the message's IKE header (SPIr is zero in
/// an IKE_SA_INIT request) and the address and port the hash is about.
pub fn nat_detection_hash(spi_i: u64, spi_r: u64, addr: SocketAddr) -> [u8; 20] {
    let mut h = Sha1::new();
    h.update(spi_i.to_be_bytes());
    h.update(spi_r.to_be_bytes());
    match addr.ip() {
        IpAddr::V4(a) => h.update(a.octets()),
        IpAddr::V6(a) => h.update(a.octets()),
    }
    h.update(addr.port().to_be_bytes());
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_input_layout() {
        // SHA-1 of the 22 bytes 00..0f | c0 00 02 0a | 01 f4, computed with
        // `printf '\x00\x01...\x01\xf4' | sha1sum`.
        let a: SocketAddr = "192.0.2.10:500".parse().unwrap();
        let h = nat_detection_hash(0x0001_0203_0405_0607, 0x0809_0a0b_0c0d_0e0f, a);
        assert_eq!(hex::encode(h), "2788fcdd1dd74edb5a662ada9e2ef8a4b224515b");
        let v6: SocketAddr = "[2001:db8::1]:4500".parse().unwrap();
        assert_ne!(nat_detection_hash(1, 2, v6), nat_detection_hash(1, 2, a));
    }
}
