//! Engine and connection configuration: identities, traffic selectors, timers.

use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use zeroize::Zeroizing;

use super::proposal::Proposal;
use crate::wire::{id_type, Id, TrafficSelector};

/// An IKE identity (IDi / IDr payload content).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Identity {
    /// ID_IPV4_ADDR.
    Ipv4(Ipv4Addr),
    /// ID_IPV6_ADDR.
    Ipv6(Ipv6Addr),
    /// ID_FQDN.
    Fqdn(String),
    /// ID_RFC822_ADDR.
    Rfc822(String),
    /// ID_KEY_ID (opaque).
    KeyId(Vec<u8>),
    /// ID_DER_ASN1_DN: the DER of an X.509 Name (a certificate subject).
    Dn(Vec<u8>),
}

impl Identity {
    /// strongSwan-like syntax: an IP address; `@#0a0b..` = KEY_ID (hex); `@host` or `host` =
    /// FQDN; `user@host` = RFC822; `C=XX, O=org, CN=name` (with `=`) = a distinguished
    /// name, most significant RDN first as strongSwan writes it.
    pub fn parse(s: &str) -> Result<Identity, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("empty identity".into());
        }
        if s.contains('=') && !s.starts_with('@') {
            return parse_dn(s).map(Identity::Dn);
        }
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(Identity::from(ip));
        }
        if let Some(h) = s.strip_prefix("@#") {
            return hex::decode(h)
                .map(Identity::KeyId)
                .map_err(|e| format!("bad KEY_ID hex '{h}': {e}"));
        }
        if let Some(f) = s.strip_prefix('@') {
            return Ok(Identity::Fqdn(f.to_string()));
        }
        if s.contains('@') {
            return Ok(Identity::Rfc822(s.to_string()));
        }
        Ok(Identity::Fqdn(s.to_string()))
    }

    /// ID type and data.
    pub fn encode(&self) -> (u8, Vec<u8>) {
        match self {
            Identity::Ipv4(a) => (id_type::ID_IPV4_ADDR, a.octets().to_vec()),
            Identity::Ipv6(a) => (id_type::ID_IPV6_ADDR, a.octets().to_vec()),
            Identity::Fqdn(s) => (id_type::ID_FQDN, s.as_bytes().to_vec()),
            Identity::Rfc822(s) => (id_type::ID_RFC822_ADDR, s.as_bytes().to_vec()),
            Identity::KeyId(k) => (id_type::ID_KEY_ID, k.clone()),
            Identity::Dn(d) => (id_type::ID_DER_ASN1_DN, d.clone()),
        }
    }

    /// The ID payload body.
    pub fn to_payload(&self) -> Id<'static> {
        let (t, d) = self.encode();
        Id {
            id_type: t,
            reserved: [0; 3],
            data: Cow::Owned(d),
        }
    }

    /// From an ID payload; `None` for types not supported here (DN, GN) or bad lengths.
    pub fn from_payload(id: &Id<'_>) -> Option<Identity> {
        match id.id_type {
            id_type::ID_IPV4_ADDR => id.ipv4().map(Identity::Ipv4),
            id_type::ID_IPV6_ADDR => id.ipv6().map(Identity::Ipv6),
            id_type::ID_FQDN => id.text().map(|s| Identity::Fqdn(s.to_string())),
            id_type::ID_RFC822_ADDR => id.text().map(|s| Identity::Rfc822(s.to_string())),
            id_type::ID_KEY_ID => Some(Identity::KeyId(id.data.to_vec())),
            id_type::ID_DER_ASN1_DN => {
                use der::Decode;
                x509_cert::name::Name::from_der(&id.data)
                    .ok()
                    .map(|_| Identity::Dn(id.data.to_vec()))
            }
            _ => None,
        }
    }
}

impl From<IpAddr> for Identity {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(a) => Identity::Ipv4(a),
            IpAddr::V6(a) => Identity::Ipv6(a),
        }
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Identity::Ipv4(a) => write!(f, "{a}"),
            Identity::Ipv6(a) => write!(f, "{a}"),
            Identity::Fqdn(s) | Identity::Rfc822(s) => f.write_str(s),
            Identity::KeyId(k) => write!(f, "@#{}", hex::encode(k)),
            Identity::Dn(d) => {
                use der::Decode;
                match x509_cert::name::Name::from_der(d) {
                    // RFC 4514 order (least significant first), as x509-cert prints it
                    Ok(n) => write!(f, "{n}"),
                    Err(_) => write!(f, "DN#{}", hex::encode(d)),
                }
            }
        }
    }
}

/// `C=XX, O=org, CN=name` (strongSwan order) to the DER of an X.509 Name.
fn parse_dn(s: &str) -> Result<Vec<u8>, String> {
    use der::Encode;
    use std::str::FromStr;
    // RFC 4514 strings list the RDNs last first.
    let rfc4514: Vec<&str> = s.split(',').map(str::trim).rev().collect();
    let name = x509_cert::name::Name::from_str(&rfc4514.join(","))
        .map_err(|e| format!("bad distinguished name '{s}': {e}"))?;
    name.to_der()
        .map_err(|e| format!("bad distinguished name '{s}': {e}"))
}

/// A traffic selector: an address range, a port range and an IP protocol (0 = any).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TsRange {
    /// IP protocol, 0 = any.
    pub protocol: u8,
    /// First port.
    pub start_port: u16,
    /// Last port.
    pub end_port: u16,
    /// First address.
    pub start: IpAddr,
    /// Last address (same family as `start`).
    pub end: IpAddr,
}

fn v6_u128(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(a) => u32::from(a) as u128,
        IpAddr::V6(a) => u128::from(a),
    }
}

fn same_family(a: IpAddr, b: IpAddr) -> bool {
    a.is_ipv4() == b.is_ipv4()
}

impl TsRange {
    /// A single host, all protocols and ports.
    pub fn host(a: IpAddr) -> TsRange {
        TsRange {
            protocol: 0,
            start_port: 0,
            end_port: 65535,
            start: a,
            end: a,
        }
    }

    /// Every address of a family.
    pub fn any(v6: bool) -> TsRange {
        if v6 {
            TsRange::cidr(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0)
        } else {
            TsRange::cidr(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0)
        }
    }

    /// A prefix.
    pub fn cidr(a: IpAddr, prefix: u8) -> TsRange {
        let (start, end) = match a {
            IpAddr::V4(a) => {
                let p = prefix.min(32) as u32;
                let mask = if p == 0 { 0 } else { u32::MAX << (32 - p) };
                let s = u32::from(a) & mask;
                (
                    IpAddr::V4(Ipv4Addr::from(s)),
                    IpAddr::V4(Ipv4Addr::from(s | !mask)),
                )
            }
            IpAddr::V6(a) => {
                let p = prefix.min(128) as u32;
                let mask = if p == 0 { 0 } else { u128::MAX << (128 - p) };
                let s = u128::from(a) & mask;
                (
                    IpAddr::V6(Ipv6Addr::from(s)),
                    IpAddr::V6(Ipv6Addr::from(s | !mask)),
                )
            }
        };
        TsRange {
            protocol: 0,
            start_port: 0,
            end_port: 65535,
            start,
            end,
        }
    }

    /// `10.0.0.0/24`, `2001:db8::/64`, `192.0.2.1` (host).
    pub fn parse(s: &str) -> Result<TsRange, String> {
        let s = s.trim();
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let ip: IpAddr = a
            .parse()
            .map_err(|e| format!("bad traffic selector '{s}': {e}"))?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|&p| p <= max)
                .ok_or_else(|| format!("bad prefix length in '{s}'"))?,
            None => max,
        };
        Ok(TsRange::cidr(ip, prefix))
    }

    /// Intersection (narrowing), `None` if empty or of different families.
    pub fn intersect(&self, o: &TsRange) -> Option<TsRange> {
        if !same_family(self.start, o.start) {
            return None;
        }
        let protocol = match (self.protocol, o.protocol) {
            (0, p) | (p, 0) => p,
            (a, b) if a == b => a,
            _ => return None,
        };
        let sp = self.start_port.max(o.start_port);
        let ep = self.end_port.min(o.end_port);
        let s = v6_u128(self.start).max(v6_u128(o.start));
        let e = v6_u128(self.end).min(v6_u128(o.end));
        if sp > ep || s > e {
            return None;
        }
        let mk = |x: u128| match self.start {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(x as u32)),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(x)),
        };
        Some(TsRange {
            protocol,
            start_port: sp,
            end_port: ep,
            start: mk(s),
            end: mk(e),
        })
    }

    /// Is `self` entirely inside `o`?
    pub fn is_subset_of(&self, o: &TsRange) -> bool {
        self.intersect(o).as_ref() == Some(self)
    }

    /// Wire form.
    pub fn to_wire(&self) -> TrafficSelector<'static> {
        match (self.start, self.end) {
            (IpAddr::V4(s), IpAddr::V4(e)) => TrafficSelector::Ipv4 {
                ip_protocol: self.protocol,
                start_port: self.start_port,
                end_port: self.end_port,
                start: s,
                end: e,
            },
            (s, e) => TrafficSelector::Ipv6 {
                ip_protocol: self.protocol,
                start_port: self.start_port,
                end_port: self.end_port,
                start: to_v6(s),
                end: to_v6(e),
            },
        }
    }

    /// From the wire; `None` for unsupported TS types or start > end.
    pub fn from_wire(t: &TrafficSelector<'_>) -> Option<TsRange> {
        let a = t.address_range()?;
        let r = TsRange {
            protocol: a.ip_protocol,
            start_port: a.start_port,
            end_port: a.end_port,
            start: a.start,
            end: a.end,
        };
        (v6_u128(r.start) <= v6_u128(r.end) && r.start_port <= r.end_port).then_some(r)
    }
}

fn to_v6(a: IpAddr) -> Ipv6Addr {
    match a {
        IpAddr::V4(a) => a.to_ipv6_mapped(),
        IpAddr::V6(a) => a,
    }
}

impl fmt::Display for TsRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bits = if self.start.is_ipv4() { 32 } else { 128 };
        let s = v6_u128(self.start);
        let span = v6_u128(self.end).wrapping_sub(s);
        if span.wrapping_add(1) & span == 0 && s & span == 0 {
            let host_bits = 128 - span.leading_zeros();
            write!(f, "{}/{}", self.start, bits - host_bits.min(bits))?;
        } else {
            write!(f, "{}..{}", self.start, self.end)?;
        }
        if self.protocol != 0 || self.start_port != 0 || self.end_port != 65535 {
            write!(
                f,
                "[{}/{}-{}]",
                self.protocol, self.start_port, self.end_port
            )?;
        }
        Ok(())
    }
}

/// Retransmission schedule (strongSwan's `retransmit_timeout`, `retransmit_base`,
/// `retransmit_tries`): the n-th retransmission (n = 1..=tries) is sent
/// `timeout * base^(n-1)` after the previous transmission; the exchange fails
/// `timeout * base^tries` after the last one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetransmitConfig {
    /// First timeout (strongSwan: 4 s).
    pub timeout: Duration,
    /// Exponential base (strongSwan: 1.8).
    pub base: f64,
    /// Number of retransmissions (strongSwan: 5).
    pub tries: u32,
}

impl Default for RetransmitConfig {
    fn default() -> Self {
        RetransmitConfig {
            timeout: Duration::from_secs(4),
            base: 1.8,
            tries: 5,
        }
    }
}

impl RetransmitConfig {
    /// Time from the first transmission of a request until the exchange fails.
    pub fn total(&self) -> Duration {
        (0..=self.tries).map(|n| self.delay(n)).sum()
    }

    /// Delay after transmission number `n` (0 = the original).
    pub fn delay(&self, n: u32) -> Duration {
        let f = self.base.max(1.0).powi(n.min(64) as i32);
        let secs = (self.timeout.as_secs_f64() * f).min(86_400.0 * 365.0);
        Duration::from_secs_f64(secs)
    }
}

/// Pre-shared key; zeroized on drop, never printed.
#[derive(Clone, Default)]
pub struct Psk(pub Zeroizing<Vec<u8>>);

impl Psk {
    /// From bytes.
    pub fn new(b: impl Into<Vec<u8>>) -> Psk {
        Psk(Zeroizing::new(b.into()))
    }
}

impl fmt::Debug for Psk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Psk(<{} bytes redacted>)", self.0.len())
    }
}

/// One connection (strongSwan: a `connections.<name>` section with one child).
#[derive(Debug, Clone)]
pub struct ConnConfig {
    /// Name, used in commands.
    pub name: String,
    /// Our address and IKE port (500). Unspecified IP / port 0 match anything (responder).
    pub local: SocketAddr,
    /// The peer. Unspecified IP / port 0 match anything (responder); the initiator needs a
    /// concrete address.
    pub remote: SocketAddr,
    /// IKE proposals, most preferred first.
    pub ike_proposals: Vec<Proposal>,
    /// ESP proposals for the CHILD_SA.
    pub esp_proposals: Vec<Proposal>,
    /// Our identity.
    pub local_id: Identity,
    /// Expected peer identity; `None` accepts any (the initiator then sends no IDr).
    pub remote_id: Option<Identity>,
    /// Pre-shared key (both directions), used unless `cert` is set.
    pub psk: Psk,
    /// Certificate authentication (both directions) instead of the PSK: our certificate
    /// and key, and the CAs the peer's certificate must chain to. The peer's identity
    /// (`remote_id`, if set) must then be a subjectAltName of its certificate.
    pub cert: Option<super::pubkey::CertAuth>,
    /// Our side's traffic selectors; empty = "dynamic" (our address, or virtual IP).
    pub local_ts: Vec<TsRange>,
    /// The peer's traffic selectors; empty = "dynamic" (its address, or the virtual IP we
    /// assigned).
    pub remote_ts: Vec<TsRange>,
    /// Initiator: ask for a virtual IPv4 address with a CP request.
    pub request_vip: bool,
    /// Responder: addresses handed out on CP requests.
    pub vip_pool: Vec<IpAddr>,
    /// Send MOBIKE_SUPPORTED and float to port 4500 for IKE_AUTH even without NAT
    /// (RFC 4555 §3.2; MOBIKE itself comes later).
    pub mobike: bool,
    /// Send INITIAL_CONTACT in IKE_AUTH when no other IKE SA with the peer's identity
    /// is up (RFC 7296 §2.4); `false`: never.
    pub initial_contact: bool,
    /// The peer's NAT-T port, used when we float (RFC 3948: 4500).
    pub remote_nat_t_port: u16,
    /// More addresses of the peer, known by configuration (its first address is
    /// `remote`): MOBIKE probes them before the peer announced its own set.
    pub remote_addrs: Vec<IpAddr>,
    /// NAT traversal on (NAT detection, float to the NAT-T port). Off: no NAT
    /// detection, and MOBIKE messages that can change addresses carry NO_NATS_ALLOWED
    /// (RFC 4555 §3.9).
    pub nat_traversal: bool,
    /// Claim a NAT in front of us in the NAT detection of IKE_SA_INIT, so that the SA
    /// floats and ESP is UDP-encapsulated without a NAT (strongSwan `encap = yes`).
    pub encap: bool,
    /// Send an empty INFORMATIONAL (with NAT detection behind a NAT) when nothing came
    /// from the peer for this long (strongSwan `dpd_delay`). Zero: only on demand.
    pub dpd_delay: Duration,
    /// Rekey the IKE SA this long after it was established (strongSwan `rekey_time`,
    /// 4 h). Zero: never.
    pub ike_rekey_time: Duration,
    /// Rekey the IKE SA up to this much earlier, at random (strongSwan `rand_time`,
    /// default 10 % of `rekey_time`), so both peers rarely rekey at once.
    pub ike_rand_time: Duration,
    /// Rekey each CHILD_SA this long after it was created (strongSwan `rekey_time` of a
    /// child, 1 h). Zero: never.
    pub child_rekey_time: Duration,
    /// Rekey a CHILD_SA up to this much earlier, at random (strongSwan: `life_time` −
    /// `rekey_time` = 6 min).
    pub child_rand_time: Duration,
}

impl ConnConfig {
    /// A connection with default proposals and settings.
    pub fn new(
        name: &str,
        local: SocketAddr,
        remote: SocketAddr,
        local_id: Identity,
        psk: &[u8],
    ) -> ConnConfig {
        ConnConfig {
            name: name.to_string(),
            local,
            remote,
            ike_proposals: Proposal::default_ike(),
            esp_proposals: Proposal::default_esp(),
            local_id,
            remote_id: None,
            psk: Psk::new(psk),
            cert: None,
            local_ts: vec![],
            remote_ts: vec![],
            request_vip: false,
            vip_pool: vec![],
            mobike: true,
            initial_contact: true,
            remote_nat_t_port: 4500,
            encap: false,
            remote_addrs: vec![],
            nat_traversal: true,
            dpd_delay: Duration::ZERO,
            ike_rekey_time: Duration::from_secs(4 * 3600),
            ike_rand_time: Duration::from_secs(24 * 60),
            child_rekey_time: Duration::from_secs(3600),
            child_rand_time: Duration::from_secs(6 * 60),
        }
    }

    /// Does a message on `path` belong to this connection? Ports: the configured IKE
    /// port or the NAT-T port (ours: `nat_t_port`; the peer's: `remote_nat_t_port`, or
    /// any port when a NAT may have translated it).
    pub(crate) fn matches_addrs(&self, path: super::Path, nat_t_port: u16) -> bool {
        let ip_ok =
            |cfg: SocketAddr, a: SocketAddr| cfg.ip().is_unspecified() || cfg.ip() == a.ip();
        let local_port_ok = self.local.port() == 0
            || self.local.port() == path.local.port()
            || path.local.port() == nat_t_port;
        let remote_port_ok = self.remote.port() == 0
            || self.remote.port() == path.remote.port()
            || path.remote.port() == self.remote_nat_t_port;
        ip_ok(self.local, path.local)
            && ip_ok(self.remote, path.remote)
            && local_port_ok
            && remote_port_ok
    }
}

/// Engine-wide settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Connections (initiated by [`Command::Up`](super::Command::Up), or matched by
    /// address when a peer initiates).
    pub connections: Vec<ConnConfig>,
    /// Retransmission schedule.
    pub retransmit: RetransmitConfig,
    /// Demand a COOKIE (RFC 7296 §2.6) when this many half-open IKE SAs exist
    /// (`Some(0)`: always). `None`: never (strongSwan's default threshold is 10).
    pub cookie_threshold: Option<usize>,
    /// Responder: half-open IKE SAs are dropped after this long (strongSwan: 30 s).
    pub half_open_timeout: Duration,
    /// Nonce length (bytes, 16..=256).
    pub nonce_len: usize,
    /// Port we float to for NAT traversal / MOBIKE (4500).
    pub nat_t_port: u16,
    /// How often an initiator retries after INVALID_KE_PAYLOAD or a COOKIE demand.
    pub max_init_retries: u32,
    /// NAT-T keepalive interval (RFC 3948 §2.3; strongSwan's `keep_alive`, 20 s): an
    /// established IKE SA with a NAT detected in front of us sends a single 0xFF byte
    /// (no non-ESP marker) to the peer's NAT-T port when it sent nothing for this long.
    /// Zero: never.
    pub keepalive: Duration,
    /// Unix time (seconds) at [`Timestamp`](super::Timestamp) zero: certificate validity
    /// dates are checked at this plus the engine's `now`. `None`: dates are not checked.
    pub unix_time_at_epoch: Option<u64>,
    /// MOBIKE (RFC 4555) policies and timers.
    pub mobike: MobikeConfig,
}

/// When a responder checks that the initiator can receive at a new address before it
/// moves the CHILD_SAs there (return routability, RFC 4555 §3.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReturnRoutability {
    /// For every new address (RFC 4555's default).
    #[default]
    Always,
    /// Only for addresses the peer did not announce (ADDITIONAL_*_ADDRESS).
    Unannounced,
    /// Never: move at once (what strongSwan, libreswan and OpenIKED do).
    Never,
    /// Move the CHILD_SAs at once and check afterwards (RFC 4555 §3.7 MAY); a failed
    /// check moves the SA back to the path it came from.
    Optimistic,
}

impl ReturnRoutability {
    /// `always`, `unannounced`, `never` or `optimistic`.
    pub fn parse(s: &str) -> Result<ReturnRoutability, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "always" => Ok(ReturnRoutability::Always),
            "unannounced" => Ok(ReturnRoutability::Unannounced),
            "never" => Ok(ReturnRoutability::Never),
            "optimistic" => Ok(ReturnRoutability::Optimistic),
            o => Err(format!(
                "return routability policy '{o}': use always, unannounced, never or optimistic"
            )),
        }
    }

    /// The name, as `parse` takes it.
    pub fn name(self) -> &'static str {
        match self {
            ReturnRoutability::Always => "always",
            ReturnRoutability::Unannounced => "unannounced",
            ReturnRoutability::Never => "never",
            ReturnRoutability::Optimistic => "optimistic",
        }
    }
}

/// MOBIKE settings (engine-wide).
#[derive(Debug, Clone, PartialEq)]
pub struct MobikeConfig {
    /// Responder: return routability checks before moving CHILD_SAs.
    pub return_routability: ReturnRoutability,
    /// Responder: refuse UPDATE_SA_ADDRESSES to these addresses with
    /// UNACCEPTABLE_ADDRESSES (RFC 4555 §3.5).
    pub refuse: Vec<TsRange>,
    /// First retransmission of a path probe; later ones back off by `probe_base`.
    pub probe_timeout: Duration,
    /// Back-off factor of path probes.
    pub probe_base: f64,
    /// Longest interval between two probe rounds.
    pub probe_max_interval: Duration,
    /// Probe the other paths when a request of ours went unanswered this many times
    /// (its retransmissions): the current path may be a black hole. 0: never.
    pub path_fail_after: u32,
    /// Delete the IKE SA when no path answered probes for this long.
    pub give_up: Duration,
    /// Responder: keep an IKE SA whose initiator stopped answering at least this long
    /// (RFC 4555 §3.11 suggests 5 minutes).
    pub responder_hold: Duration,
    /// Wait this long after an address change before acting (strongSwan: 100 ms).
    /// Zero: act on the first change (the loss of the path's own address is final;
    /// later changes of a burst only re-announce the set).
    pub roam_debounce: Duration,
    /// Test the other paths this often while the current one works (RFC 4555 §3.10).
    /// Zero: never.
    pub path_test_interval: Duration,
    /// Most addresses we announce (ADDITIONAL_*_ADDRESS notifies per message).
    pub max_announced: usize,
}

impl Default for MobikeConfig {
    fn default() -> Self {
        MobikeConfig {
            return_routability: ReturnRoutability::Always,
            refuse: vec![],
            probe_timeout: Duration::from_millis(500),
            probe_base: 1.5,
            probe_max_interval: Duration::from_secs(5),
            path_fail_after: 2,
            give_up: Duration::from_secs(165),
            responder_hold: Duration::from_secs(300),
            roam_debounce: Duration::ZERO,
            path_test_interval: Duration::ZERO,
            max_announced: 16,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            connections: vec![],
            retransmit: RetransmitConfig::default(),
            cookie_threshold: Some(10),
            half_open_timeout: Duration::from_secs(30),
            nonce_len: 32,
            nat_t_port: 4500,
            max_init_retries: 5,
            keepalive: Duration::from_secs(20),
            unix_time_at_epoch: None,
            mobike: MobikeConfig::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ts_narrowing() {
        let a = TsRange::parse("10.0.0.0/16").unwrap();
        let b = TsRange::parse("10.0.1.0/24").unwrap();
        assert_eq!(a.intersect(&b), Some(b));
        assert!(b.is_subset_of(&a) && !a.is_subset_of(&b));
        let c = TsRange::parse("192.0.2.0/24").unwrap();
        assert_eq!(a.intersect(&c), None);
        let v6 = TsRange::parse("2001:db8::/32").unwrap();
        assert_eq!(a.intersect(&v6), None);
        assert_eq!(b.to_string(), "10.0.1.0/24");
        assert_eq!(
            TsRange::host("192.0.2.1".parse().unwrap()).to_string(),
            "192.0.2.1/32"
        );
        assert_eq!(TsRange::any(false).to_string(), "0.0.0.0/0");
        let mut p = b;
        p.protocol = 17;
        p.start_port = 53;
        p.end_port = 53;
        assert_eq!(p.intersect(&a), Some(p));
        assert_eq!(TsRange::from_wire(&p.to_wire()), Some(p));
        assert!(TsRange::parse("10.0.0.0/33").is_err());
    }

    #[test]
    fn identities() {
        for (s, t) in [
            ("192.0.2.1", id_type::ID_IPV4_ADDR),
            ("2001:db8::1", id_type::ID_IPV6_ADDR),
            ("@moon.example", id_type::ID_FQDN),
            ("sun.example", id_type::ID_FQDN),
            ("carol@example.org", id_type::ID_RFC822_ADDR),
            ("@#0102ff", id_type::ID_KEY_ID),
        ] {
            let id = Identity::parse(s).unwrap();
            let p = id.to_payload();
            assert_eq!(p.id_type, t, "{s}");
            assert_eq!(Identity::from_payload(&p), Some(id));
        }
    }

    #[test]
    fn retransmit_schedule() {
        let r = RetransmitConfig::default();
        let d: Vec<f64> = (0..=5).map(|n| r.delay(n).as_secs_f64()).collect();
        let want = [4.0, 7.2, 12.96, 23.328, 41.9904, 75.58272];
        for (a, b) in d.iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{d:?}");
        }
    }
}
