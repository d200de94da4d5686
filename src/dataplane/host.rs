//! The data-plane end host of one peer: glue between an [`Engine`] and the probes, the
//! same for the `peer` command and the in-memory network.
//!
//! * Inner packets that arrive ([`crate::engine::EngineEvent::EspReceived`]) go to [`DataPlane::on_esp`]:
//!   a reply to our running [`PingProbe`] is counted, an echo request addressed inside
//!   the CHILD_SA's local traffic selectors (or our virtual IP) is answered through the
//!   same CHILD_SA.
//! * [`DataPlane::poll_timeout`] / [`DataPlane::on_timeout`] send the probe's requests
//!   through the CHILD_SA whose remote selectors cover the target (looked up for every
//!   request, so a rekeyed or moved CHILD_SA is followed).

use std::net::IpAddr;
use std::time::Duration;

use super::icmp::answer_echo;
use super::ping::{PingProbe, PingStats};
use crate::engine::esp::{ts_contains, EspError};
use crate::engine::{Engine, SaId, Timestamp, TsRange};

/// What [`DataPlane::on_timeout`] has to report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DataPlaneOutput {
    /// The probe's periodic summary.
    pub report: Option<PingStats>,
    /// Requests that could not be sent (no CHILD_SA, no UDP encapsulation, ...).
    pub errors: Vec<EspError>,
}

/// One peer's probe and echo responder.
#[derive(Debug, Clone)]
pub struct DataPlane {
    /// Answer echo requests for our own selectors.
    pub responder: bool,
    probe: Option<PingProbe>,
    /// Echo requests answered.
    pub answered: u64,
}

impl Default for DataPlane {
    fn default() -> Self {
        DataPlane {
            responder: true,
            probe: None,
            answered: 0,
        }
    }
}

/// An address to send from inside `range`: its only address, or the first after the
/// start of a larger range (the start of a subnet is its network address).
fn address_in(range: &TsRange) -> IpAddr {
    if range.start == range.end {
        return range.start;
    }
    match range.start {
        IpAddr::V4(a) => IpAddr::V4(u32::from(a).saturating_add(1).into()),
        IpAddr::V6(a) => IpAddr::V6(u128::from(a).saturating_add(1).into()),
    }
}

/// The source address for probes to `dst`: our virtual IP if the local traffic
/// selectors of the CHILD_SA that covers `dst` contain it, else an address in those
/// selectors, of `dst`'s family (what the CHILD_SA may carry).
pub fn probe_source(engine: &Engine, dst: IpAddr) -> Result<IpAddr, String> {
    let (sa, spi) = engine
        .esp_child_for(dst)
        .ok_or_else(|| format!("no CHILD_SA covers {dst}"))?;
    let ike = engine
        .sa(sa)
        .ok_or_else(|| format!("IKE SA {sa} is gone"))?;
    let child = ike
        .children
        .iter()
        .find(|c| c.spi_in == spi)
        .ok_or_else(|| format!("CHILD_SA {spi:08x} is gone"))?;
    let covered = |a: &IpAddr| child.ts_local.iter().any(|t| ts_contains(t, *a));
    if let Some(vip) = ike.vip.filter(covered) {
        return Ok(vip);
    }
    child
        .ts_local
        .iter()
        .find(|t| t.start.is_ipv4() == dst.is_ipv4())
        .map(address_in)
        .ok_or_else(|| format!("CHILD_SA {spi:08x} has no local selector of {dst}'s family"))
}

impl DataPlane {
    /// Start pinging `dst` every `interval` (replacing a running probe, whose final
    /// numbers are returned).
    pub fn start_ping(
        &mut self,
        engine: &Engine,
        now: Timestamp,
        dst: IpAddr,
        interval: Duration,
        ident: u16,
    ) -> Result<Option<PingStats>, String> {
        let src = probe_source(engine, dst)?;
        let old = self.stop_ping(now);
        self.probe = Some(PingProbe::new(now, src, dst, interval, ident));
        Ok(old)
    }

    /// Stop the probe; its final numbers.
    pub fn stop_ping(&mut self, now: Timestamp) -> Option<PingStats> {
        self.probe.take().map(|p| p.stats(now))
    }

    /// The running probe.
    pub fn probe(&self) -> Option<&PingProbe> {
        self.probe.as_ref()
    }

    /// When [`DataPlane::on_timeout`] is due.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.probe.as_ref().map(PingProbe::poll_timeout)
    }

    /// Send the probe's due requests through the engine.
    pub fn on_timeout(&mut self, engine: &mut Engine, now: Timestamp) -> DataPlaneOutput {
        let mut out = DataPlaneOutput::default();
        let Some(probe) = self.probe.as_mut() else {
            return out;
        };
        let dst = probe.dst();
        let due = probe.on_timeout(now);
        out.report = due.report;
        for request in due.requests {
            let sent = match engine.esp_child_for(dst) {
                Some((_, spi)) => engine.send_esp(now, spi, &request).map(|_| ()),
                None => Err(EspError::NoChildFor(dst)),
            };
            if let Err(e) = sent {
                out.errors.push(e);
            }
        }
        out
    }

    /// An inner packet of CHILD_SA `spi_in` of `sa` arrived: count a reply to our probe,
    /// answer an echo request for our selectors. `Err` when the answer could not be sent.
    pub fn on_esp(
        &mut self,
        engine: &mut Engine,
        now: Timestamp,
        (sa, spi_in): (SaId, u32),
        packet: &[u8],
    ) -> Result<(), EspError> {
        if let Some(p) = self.probe.as_mut() {
            if p.on_reply(now, packet) {
                return Ok(());
            }
        }
        if !self.responder {
            return Ok(());
        }
        let Some(ike) = engine.sa(sa) else {
            return Ok(());
        };
        let Some(child) = ike.children.iter().find(|c| c.spi_in == spi_in) else {
            return Ok(());
        };
        if let Some(reply) = answer_echo(packet, &child.ts_local, ike.vip) {
            self.answered += 1;
            engine.send_esp(now, spi_in, &reply)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_inside_a_range_skips_the_network_address() {
        let r = TsRange::parse("10.2.0.0/16").unwrap();
        assert_eq!(address_in(&r), "10.2.0.1".parse::<IpAddr>().unwrap());
        let h = TsRange::host("2001:db8::5".parse().unwrap());
        assert_eq!(address_in(&h), "2001:db8::5".parse::<IpAddr>().unwrap());
        let r6 = TsRange::parse("2001:db8:1::/64").unwrap();
        assert_eq!(address_in(&r6), "2001:db8:1::1".parse::<IpAddr>().unwrap());
    }
}
