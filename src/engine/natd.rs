//! NAT detection (RFC 7296 §2.23): NAT_DETECTION_SOURCE_IP / _DESTINATION_IP hashes.

use std::net::{IpAddr, SocketAddr};

use sha1::{Digest, Sha1};

use super::Path;
use crate::wire::{notify_type as nt, payload_type as pt, Notify, NotifyData, Payload};

/// `SHA-1(SPIi | SPIr | IP | Port)`.
pub fn natd_hash(spi_i: u64, spi_r: u64, addr: SocketAddr) -> [u8; 20] {
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

/// The two NAT-D notifies for a message sent on `path`.
pub fn natd_payloads(spi_i: u64, spi_r: u64, path: Path) -> [Payload<'static>; 2] {
    let mk = |t, a| {
        Payload::new(
            pt::NOTIFY,
            crate::wire::PayloadBody::Notify(Notify::new(
                t,
                NotifyData::NatDetection(natd_hash(spi_i, spi_r, a)),
            )),
        )
    };
    [
        mk(nt::NAT_DETECTION_SOURCE_IP, path.local),
        mk(nt::NAT_DETECTION_DESTINATION_IP, path.remote),
    ]
}

/// [`natd_payloads`], but with a source hash of no real address when `claim_nat`: the peer
/// sees a NAT in front of us (strongSwan's `encap = yes`, our `nat fake`).
pub fn natd_payloads_claiming(
    spi_i: u64,
    spi_r: u64,
    path: Path,
    claim_nat: bool,
) -> [Payload<'static>; 2] {
    let mut p = natd_payloads(spi_i, spi_r, path);
    if claim_nat {
        p[0] = Payload::new(
            pt::NOTIFY,
            crate::wire::PayloadBody::Notify(Notify::new(
                nt::NAT_DETECTION_SOURCE_IP,
                NotifyData::NatDetection(natd_hash(spi_i ^ 1, spi_r, path.local)),
            )),
        );
    }
    p
}

/// Result of checking a peer's NAT-D notifies on a message that arrived on `path`:
/// `None` if the peer sent none (no NAT-T support), else `Some((nat_local, nat_remote))`.
pub fn check(payloads: &[Payload<'_>], spi_i: u64, spi_r: u64, path: Path) -> Option<(bool, bool)> {
    let mut src = Vec::new();
    let mut dst = Vec::new();
    for n in payloads.iter().filter_map(|p| p.as_notify()) {
        if let NotifyData::NatDetection(h) = n.data {
            match n.notify_type {
                nt::NAT_DETECTION_SOURCE_IP => src.push(h),
                nt::NAT_DETECTION_DESTINATION_IP => dst.push(h),
                _ => {}
            }
        }
    }
    if src.is_empty() || dst.is_empty() {
        return None;
    }
    let remote_ok = src.contains(&natd_hash(spi_i, spi_r, path.remote));
    let local_ok = dst.contains(&natd_hash(spi_i, spi_r, path.local));
    Some((!local_ok, !remote_ok))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_both_directions() {
        let a: SocketAddr = "192.0.2.1:500".parse().unwrap();
        let b: SocketAddr = "198.51.100.1:500".parse().unwrap();
        let nat: SocketAddr = "203.0.113.9:31000".parse().unwrap();
        let p = natd_payloads(1, 2, Path::new(a, b));
        assert_eq!(check(&p, 1, 2, Path::new(b, a)), Some((false, false)));
        // a's packets appear to come from the NAT
        assert_eq!(check(&p, 1, 2, Path::new(b, nat)), Some((false, true)));
        // received on another local address than a addressed
        assert_eq!(check(&p, 1, 2, Path::new(nat, a)), Some((true, false)));
        assert_eq!(check(&[], 1, 2, Path::new(b, a)), None);
    }
}
