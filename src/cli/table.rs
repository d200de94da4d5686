//! `--format table`: a summary per IKE SA, per exchange and per ESP SPI.
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};

use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};

use super::decode::{endpoint, rfc3339_micros};
use std::net::IpAddr;

use crate::analysis::{Analyzer, NatVerdict, SaInfo, Side, SideInfo};
use crate::capture::{IkePacket, Severity};
use crate::wire::{registry, Header};

#[derive(Debug, Default)]
struct IkeSaRow {
    spi_r: u64,
    peers: BTreeSet<String>,
    exchanges: BTreeMap<String, u64>,
    messages: u64,
    first_us: i64,
    last_us: i64,
}

#[derive(Debug, Default)]
struct ExchangeRow {
    requests: u64,
    responses: u64,
    sas: BTreeSet<u64>,
}

#[derive(Debug, Default)]
struct EspRow {
    flows: BTreeSet<String>,
    packets: u64,
    bytes: u64,
    encap: bool,
}

/// Everything the tables show, accumulated while the capture streams by.
#[derive(Debug, Default)]
pub struct Summary {
    // An IKE SA is known by its initiator SPI: the responder SPI is zero in the first request.
    sas: BTreeMap<u64, IkeSaRow>,
    exchanges: BTreeMap<String, ExchangeRow>,
    esp: BTreeMap<u32, EspRow>,
    keepalives: u64,
    diagnostics: BTreeMap<String, u64>,
    // Rendered rows of the MOBIKE analysis, one per logical IKE SA (kept across rekeys).
    mobike: Vec<[String; 6]>,
}

fn exchange_label(exchange_type: u8) -> String {
    registry::exchange_name(exchange_type)
        .map(str::to_string)
        .unwrap_or_else(|| exchange_type.to_string())
}

impl Summary {
    /// Counts one IKE message.
    pub fn message(&mut self, pkt: &IkePacket, h: &Header) {
        let name = exchange_label(h.exchange_type);
        let sa = self.sas.entry(h.spi_i).or_insert_with(|| IkeSaRow {
            first_us: pkt.time_us,
            ..IkeSaRow::default()
        });
        if sa.spi_r == 0 {
            sa.spi_r = h.spi_r;
        }
        sa.peers.insert(endpoint(pkt.src, pkt.sport));
        sa.peers.insert(endpoint(pkt.dst, pkt.dport));
        *sa.exchanges.entry(name.clone()).or_default() += 1;
        sa.messages += 1;
        sa.first_us = sa.first_us.min(pkt.time_us);
        sa.last_us = sa.last_us.max(pkt.time_us);
        let ex = self.exchanges.entry(name).or_default();
        if h.is_response() {
            ex.responses += 1;
        } else {
            ex.requests += 1;
        }
        ex.sas.insert(h.spi_i);
    }

    /// Counts one ESP packet by SPI.
    pub fn esp(&mut self, spi: u32, src: IpAddr, dst: IpAddr, len: u32, encap: bool) {
        let row = self.esp.entry(spi).or_default();
        row.flows.insert(format!("{src} -> {dst}"));
        row.packets += 1;
        row.bytes += u64::from(len);
        row.encap |= encap;
    }

    /// Adds the per-SA MOBIKE view of one capture's analysis: SPI pairs (rekeys), the address
    /// history, the addresses each side announced and the NAT verdicts.
    pub fn mobike(&mut self, file: Option<&str>, analyzer: &Analyzer) {
        for sa in analyzer.sas() {
            let spis: Vec<String> = sa
                .spis
                .iter()
                .map(|p| {
                    // Who rekeyed: that side holds the I role under these SPIs.
                    let mut notes = Vec::new();
                    if p.rekeyed_from.is_some() {
                        notes.push(format!("rekeyed by {} #{}", p.initiator, p.first_frame));
                    }
                    if let Some(frame) = p.deleted_frame {
                        notes.push(format!("deleted #{frame}"));
                    }
                    let mut s = format!("{:016x}/{:016x}", p.spi_i, p.spi_r);
                    if !notes.is_empty() {
                        s.push_str(&format!(" ({})", notes.join(", ")));
                    }
                    s
                })
                .collect();
            let history: Vec<String> = sa
                .paths
                .iter()
                .map(|c| format!("#{} {} {}", c.frame, c.reason.as_str(), c.path))
                .collect();
            let label = match file {
                Some(f) => format!("{f}\nSA #{}", sa.id.0),
                None => format!("SA #{}", sa.id.0),
            };
            self.mobike.push([
                label,
                spis.join("\n"),
                history.join("\n"),
                side_summary(sa, Side::Initiator),
                side_summary(sa, Side::Responder),
                format!(
                    "{} exchanges\n{} retransmissions",
                    sa.exchanges, sa.retransmissions
                ),
            ]);
        }
    }

    /// Counts one NAT-T keepalive.
    pub fn keepalive(&mut self) {
        self.keepalives += 1;
    }

    /// Counts one capture diagnostic.
    pub fn diagnostic(&mut self, severity: Severity) {
        *self.diagnostics.entry(severity.to_string()).or_default() += 1;
    }

    /// Writes the tables.
    pub fn render(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut sas = new_table(&[
            "SPIi",
            "SPIr",
            "peers",
            "exchanges",
            "messages",
            "first",
            "last",
        ]);
        for (spi_i, sa) in &self.sas {
            let exchanges: Vec<String> = sa
                .exchanges
                .iter()
                .map(|(n, c)| format!("{n} ×{c}"))
                .collect();
            sas.add_row(vec![
                format!("{spi_i:016x}"),
                format!("{:016x}", sa.spi_r),
                sa.peers.iter().cloned().collect::<Vec<_>>().join("\n"),
                exchanges.join("\n"),
                sa.messages.to_string(),
                rfc3339_micros(sa.first_us),
                rfc3339_micros(sa.last_us),
            ]);
        }
        writeln!(out, "IKE SAs\n{sas}")?;

        let mut ex = new_table(&["exchange", "requests", "responses", "IKE SAs"]);
        for (name, row) in &self.exchanges {
            ex.add_row(vec![
                name.clone(),
                row.requests.to_string(),
                row.responses.to_string(),
                row.sas.len().to_string(),
            ]);
        }
        writeln!(out, "\nExchanges\n{ex}")?;

        if !self.esp.is_empty() {
            let mut esp = new_table(&["ESP SPI", "flows", "packets", "bytes", "UDP-encapsulated"]);
            for (spi, row) in &self.esp {
                esp.add_row(vec![
                    format!("{spi:08x}"),
                    row.flows.iter().cloned().collect::<Vec<_>>().join("\n"),
                    row.packets.to_string(),
                    row.bytes.to_string(),
                    if row.encap { "yes" } else { "no" }.to_string(),
                ]);
            }
            writeln!(out, "\nESP\n{esp}")?;
        }
        if !self.mobike.is_empty() {
            let mut t = new_table(&[
                "IKE SA",
                "SPIs (rekeys)",
                "address history (frame, why, initiator <-> responder)",
                "initiator",
                "responder",
                "activity",
            ]);
            for row in &self.mobike {
                t.add_row(row.to_vec());
            }
            writeln!(out, "\nMOBIKE per IKE SA\n{t}")?;
        }
        if self.keepalives > 0 {
            writeln!(out, "\nNAT-T keepalives: {}", self.keepalives)?;
        }
        for (severity, count) in &self.diagnostics {
            writeln!(out, "{severity} diagnostics: {count}")?;
        }
        Ok(())
    }
}

fn new_table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(header.to_vec());
    t
}

/// MOBIKE support, announced addresses and NAT verdict of one side.
fn side_summary(sa: &SaInfo, side: Side) -> String {
    let info: &SideInfo = sa.side(side);
    let mut lines = vec![match info.mobike_supported {
        Some(frame) => format!("MOBIKE (#{frame})"),
        None => "no MOBIKE seen".to_string(),
    }];
    if let Some(set) = &info.announced {
        let addrs: Vec<String> = set.addresses.iter().map(ToString::to_string).collect();
        lines.push(match (addrs.is_empty(), set.no_additional) {
            (true, true) => format!("no additional addresses (#{})", set.frame),
            _ => format!("also {} (#{})", addrs.join(", "), set.frame),
        });
    }
    if let Some(nat) = info.nat {
        lines.push(
            match nat {
                NatVerdict::Nat => "behind a NAT",
                NatVerdict::NoNat => "no NAT",
                NatVerdict::NatOrFake => "NAT keeping the port, or faked NAT-D hash",
            }
            .to_string(),
        );
    }
    lines.join("\n")
}
