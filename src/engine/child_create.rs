//! CHILD_SA negotiation shared by IKE_AUTH and CREATE_CHILD_SA ([`super::create_child`]):
//! ESP proposals, traffic selectors and narrowing (the responder answers with the
//! intersection of what it allows and what was proposed), CHILD_SA keys.

use std::net::IpAddr;

use super::config::{ConnConfig, TsRange};
use super::proposal::{self, Chosen};
use super::sa::{ChildRequest, ChildSa};
use super::Path;
use crate::crypto::{derive_child_sa_keys, ChildSaKeys, IkeSaKeys};
use crate::wire::{notify_type as nt, payload_type as pt, Payload, PayloadBody, Sa, Ts};

/// Initiator's TSi / TSr for a connection.
pub fn initiator_ts(
    conn: &ConnConfig,
    local: IpAddr,
    remote: IpAddr,
) -> (Vec<TsRange>, Vec<TsRange>) {
    let tsi = if !conn.local_ts.is_empty() {
        conn.local_ts.clone()
    } else if conn.request_vip {
        vec![TsRange::any(local.is_ipv6())]
    } else {
        vec![TsRange::host(local)]
    };
    let tsr = if conn.remote_ts.is_empty() {
        vec![TsRange::host(remote)]
    } else {
        conn.remote_ts.clone()
    };
    (tsi, tsr)
}

/// Initiator: SA, TSi, TSr payloads for a new CHILD_SA in IKE_AUTH (no KE transforms).
pub(crate) fn request_payloads(
    conn: &ConnConfig,
    spi_in: u32,
    local: IpAddr,
    remote: IpAddr,
) -> (Vec<Payload<'static>>, ChildRequest) {
    let (tsi, tsr) = initiator_ts(conn, local, remote);
    let payloads = vec![
        Payload::new(
            pt::SA,
            PayloadBody::Sa(proposal::sa_payload(
                &conn.esp_proposals,
                &spi_in.to_be_bytes(),
                false,
            )),
        ),
        ts_payload(pt::TSI, &tsi),
        ts_payload(pt::TSR, &tsr),
    ];
    (
        payloads,
        ChildRequest {
            spi_in,
            ts_i: tsi,
            ts_r: tsr,
        },
    )
}

/// A TSi / TSr payload.
pub fn ts_payload(ty: u8, list: &[TsRange]) -> Payload<'static> {
    Payload::new(
        ty,
        PayloadBody::Ts(Ts::new(list.iter().map(TsRange::to_wire).collect())),
    )
}

/// Decode a TS payload body (unsupported selector types are skipped).
pub fn ts_list(ts: &Ts<'_>) -> Vec<TsRange> {
    ts.selectors.iter().filter_map(TsRange::from_wire).collect()
}

/// Narrow: every non-empty intersection of an allowed selector with a proposed one.
pub fn narrow(allowed: &[TsRange], proposed: &[TsRange]) -> Vec<TsRange> {
    let mut out = Vec::new();
    for p in proposed {
        for a in allowed {
            if let Some(x) = a.intersect(p) {
                if !out.contains(&x) {
                    out.push(x);
                }
            }
        }
    }
    out
}

/// What the responder decided for the CHILD_SA.
pub(crate) struct ResponderChild {
    pub chosen: Chosen,
    pub number: u8,
    pub spi_out: u32,
    pub ts_i: Vec<TsRange>,
    pub ts_r: Vec<TsRange>,
}

impl ResponderChild {
    /// The CHILD_SA it makes with our inbound SPI and the derived keys, on the IKE SA's
    /// path.
    pub(crate) fn child_sa(&self, spi_in: u32, keys: ChildSaKeys, path: Path) -> ChildSa {
        ChildSa::new(
            false,
            (spi_in, self.spi_out),
            self.chosen,
            (self.ts_i.clone(), self.ts_r.clone()),
            keys,
            path,
        )
    }
}

/// Responder: select a proposal and narrow the selectors. `Err(notify type)` when the
/// CHILD_SA cannot be created. `pfs`: `None` in IKE_AUTH (key exchange transforms are
/// ignored); in CREATE_CHILD_SA `Some(group of the KE payload, if any)`, and the chosen
/// proposal keeps its key exchange group.
#[allow(clippy::too_many_arguments)]
pub(crate) fn respond(
    conn: &ConnConfig,
    sa: &Sa<'_>,
    tsi: &Ts<'_>,
    tsr: &Ts<'_>,
    local: IpAddr,
    remote: IpAddr,
    vip: Option<IpAddr>,
    pfs: Option<Option<crate::crypto::dh::DhGroup>>,
) -> Result<ResponderChild, u16> {
    let offered = proposal::offered(sa);
    let (chosen, their) =
        proposal::select(&conn.esp_proposals, &offered, pfs.is_none(), pfs.flatten())
            .ok_or(nt::NO_PROPOSAL_CHOSEN)?;
    let spi_out = <[u8; 4]>::try_from(&their.spi[..])
        .map(u32::from_be_bytes)
        .map_err(|_| nt::INVALID_SYNTAX)?;
    let allowed_i = if conn.remote_ts.is_empty() {
        vec![TsRange::host(vip.unwrap_or(remote))]
    } else {
        conn.remote_ts.clone()
    };
    let allowed_r = if conn.local_ts.is_empty() {
        vec![TsRange::host(local)]
    } else {
        conn.local_ts.clone()
    };
    let ts_i = narrow(&allowed_i, &ts_list(tsi));
    let ts_r = narrow(&allowed_r, &ts_list(tsr));
    if ts_i.is_empty() || ts_r.is_empty() {
        return Err(nt::TS_UNACCEPTABLE);
    }
    Ok(ResponderChild {
        chosen: if pfs.is_none() {
            Chosen { dh: None, ..chosen }
        } else {
            chosen
        },
        number: their.number,
        spi_out,
        ts_i,
        ts_r,
    })
}

/// Initiator: are the responder's selectors within what we proposed?
pub fn ts_acceptable(proposed: &[TsRange], got: &[TsRange]) -> bool {
    !got.is_empty()
        && got
            .iter()
            .all(|g| proposed.iter().any(|p| g.is_subset_of(p)))
}

/// `KEYMAT = prf+(SK_d, Ni | Nr)` for a CHILD_SA created in IKE_AUTH.
pub fn child_keys(
    ike: &IkeSaKeys,
    chosen: &Chosen,
    ni: &[u8],
    nr: &[u8],
) -> Result<ChildSaKeys, String> {
    derive_child_sa_keys(
        ike.transforms.prf,
        &ike.sk_d,
        chosen.encr,
        chosen.integ,
        None,
        ni,
        nr,
    )
    .map_err(|e| format!("CHILD_SA key derivation: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrowing() {
        let allowed = vec![TsRange::parse("10.1.0.0/16").unwrap()];
        let proposed = vec![
            TsRange::parse("10.0.0.0/8").unwrap(),
            TsRange::parse("192.0.2.0/24").unwrap(),
        ];
        assert_eq!(narrow(&allowed, &proposed), allowed);
        assert!(ts_acceptable(&proposed, &allowed));
        assert!(!ts_acceptable(&allowed, &proposed));
        assert!(narrow(&allowed, &proposed[1..]).is_empty());
    }
}
