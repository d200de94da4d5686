//! `mobikectl peer` configuration: the command line and a TOML file merged into
//! [`PeerSettings`].
//!
//! # TOML file
//!
//! Top-level keys: `listen`, `follow_os`, `port`, `natt_port`, `keylog`, `pcap`, `events`, `keepalive`,
//! `retransmit_timeout`, `retransmit_base`, `retransmit_tries`, the MOBIKE keys `rr`
//! (`always`, `unannounced`, `never`, `optimistic`), `refuse` (CIDR or list), `probe_timeout`,
//! `give_up`, `responder_hold`, `path_test` (seconds), and any connection key (defaults
//! for every connection). `[connections.NAME]` tables define named connections (in file
//! order; the first one is initiated at start and is the default of `up`). Connection
//! keys: `local`, `remote` (address or list; an initiator's further addresses become the
//! peer's further MOBIKE addresses), `id`, `remote_id`, `psk_file`, `cert`, `key`, `ca`
//! (file or list), `ike`, `esp`, `vip`, `local_ts`, `remote_ts` (CIDR or list), `pool`
//! (CIDR or list), `mobike` (bool), `remote_port`, `remote_natt_port`, `no_natt` (bool),
//! `encap` (bool), `dpd` (seconds). Relative paths are relative to the file. A `[keys]`
//! table (`"ctrl-n" = "down"`) rebinds the keys of `mobikectl tui --peer-config FILE`; the
//! peer itself ignores it.
//! Options on the command line override the file for every connection.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::cli::args::{EventFormat, PeerArgs};
use crate::engine::pubkey::CertAuth;
use crate::engine::{
    Config, ConnConfig, Identity, Proposal, Protocol, Psk, ReturnRoutability, TsRange,
};
use crate::io::socket;

/// A value or a list of values (TOML convenience).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    fn into_vec(self) -> Vec<T> {
        match self {
            OneOrMany::One(t) => vec![t],
            OneOrMany::Many(v) => v,
        }
    }
}

/// Connection options, from the file or the command line; `None` = not given.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnOpts {
    local: Option<OneOrMany<IpAddr>>,
    remote: Option<OneOrMany<IpAddr>>,
    id: Option<String>,
    #[serde(alias = "remote-id")]
    remote_id: Option<String>,
    #[serde(alias = "psk-file")]
    psk_file: Option<PathBuf>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    ca: Option<OneOrMany<PathBuf>>,
    ike: Option<String>,
    esp: Option<String>,
    vip: Option<IpAddr>,
    #[serde(alias = "local-ts")]
    local_ts: Option<OneOrMany<String>>,
    #[serde(alias = "remote-ts")]
    remote_ts: Option<OneOrMany<String>>,
    pool: Option<OneOrMany<String>>,
    mobike: Option<bool>,
    #[serde(alias = "remote-port")]
    remote_port: Option<u16>,
    #[serde(alias = "remote-natt-port")]
    remote_natt_port: Option<u16>,
    #[serde(alias = "no-natt")]
    no_natt: Option<bool>,
    encap: Option<bool>,
    dpd: Option<f64>,
}

impl ConnOpts {
    /// `other`'s values win where given.
    fn overlay(&mut self, other: &ConnOpts) {
        macro_rules! take {
            ($($f:ident),*) => {$( if other.$f.is_some() { self.$f = other.$f.clone(); } )*};
        }
        take!(
            local,
            remote,
            id,
            remote_id,
            psk_file,
            cert,
            key,
            ca,
            ike,
            esp,
            vip,
            local_ts,
            remote_ts,
            pool,
            mobike,
            remote_port,
            remote_natt_port,
            no_natt,
            encap,
            dpd
        );
    }

    fn from_args(a: &PeerArgs) -> ConnOpts {
        let list = |v: &Vec<String>| (!v.is_empty()).then(|| OneOrMany::Many(v.clone()));
        ConnOpts {
            local: (!a.local.is_empty()).then(|| OneOrMany::Many(a.local.clone())),
            remote: (!a.remote.is_empty()).then(|| OneOrMany::Many(a.remote.clone())),
            id: a.id.clone(),
            remote_id: a.remote_id.clone(),
            psk_file: a.psk_file.clone(),
            cert: a.cert.clone(),
            key: a.key.clone(),
            ca: (!a.ca.is_empty()).then(|| OneOrMany::Many(a.ca.clone())),
            ike: a.ike.clone(),
            esp: a.esp.clone(),
            vip: a.vip,
            local_ts: list(&a.local_ts),
            remote_ts: list(&a.remote_ts),
            pool: list(&a.pool),
            mobike: a.no_mobike.then_some(false),
            remote_port: a.remote_port,
            remote_natt_port: a.remote_natt_port,
            no_natt: a.no_natt.then_some(true),
            encap: a.encap.then_some(true),
            dpd: a.dpd,
        }
    }

    fn relative_to(&mut self, dir: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        };
        for p in [&mut self.psk_file, &mut self.cert, &mut self.key]
            .into_iter()
            .flatten()
        {
            fix(p);
        }
        if let Some(c) = &mut self.ca {
            match c {
                OneOrMany::One(p) => fix(p),
                OneOrMany::Many(v) => v.iter_mut().for_each(fix),
            }
        }
    }
}

/// Everything `peer` needs, after merging file and command line.
#[derive(Debug)]
pub struct PeerSettings {
    /// Responder mode.
    pub listen: bool,
    /// IKE port.
    pub port: u16,
    /// NAT-T port.
    pub natt_port: u16,
    /// Key log path.
    pub keylog: Option<PathBuf>,
    /// pcapng path.
    pub pcap: Option<PathBuf>,
    /// Event format.
    pub events: EventFormat,
    /// Engine configuration.
    pub config: Config,
    /// Addresses to bind.
    pub bind: Vec<IpAddr>,
    /// Our address set for the engine (announced to MOBIKE peers): the --local
    /// addresses, or without them every interface address but loopback ones.
    pub addrs: Vec<IpAddr>,
    /// Follow the OS's address changes (rtnetlink).
    pub follow_os: bool,
}

/// The `[keys]` table of a configuration file as `KEY = command` lines (the terminal UI's
/// key file syntax); empty without one.
pub fn key_lines(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let Some(keys) = table.get("keys") else {
        return Ok(String::new());
    };
    let keys = keys
        .as_table()
        .ok_or_else(|| format!("{}: 'keys': expected a table", path.display()))?;
    let mut lines = String::new();
    for (key, command) in keys {
        let command = command.as_str().ok_or_else(|| {
            format!(
                "{}: [keys] '{key}': expected a command name in quotes",
                path.display()
            )
        })?;
        lines.push_str(&format!("{key} = {command}\n"));
    }
    Ok(lines)
}

/// Global settings, connection defaults and named connections of a TOML file.
type FileSettings = (PeerArgs, ConnOpts, Vec<(String, ConnOpts)>);

fn file_settings(path: &Path) -> Result<FileSettings, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut table: toml::Table = text
        .parse()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let dir = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let err = |k: &str, e: String| format!("{}: '{k}': {e}", path.display());
    let mut g = PeerArgs::default();
    if let Some(v) = table.remove("listen") {
        g.listen = v
            .as_bool()
            .ok_or_else(|| err("listen", "expected true or false".into()))?;
    }
    if let Some(v) = table.remove("follow_os") {
        g.follow_os = v
            .as_bool()
            .ok_or_else(|| err("follow_os", "expected true or false".into()))?;
    }
    for key in ["port", "natt_port"] {
        if let Some(v) = table.remove(key) {
            let p = v
                .as_integer()
                .and_then(|i| u16::try_from(i).ok())
                .ok_or_else(|| err(key, "expected a port number".into()))?;
            if key == "port" {
                g.port = Some(p);
            } else {
                g.natt_port = Some(p);
            }
        }
    }
    for key in ["keylog", "pcap"] {
        if let Some(v) = table.remove(key) {
            let s = v
                .as_str()
                .ok_or_else(|| err(key, "expected a path".into()))?;
            let p = dir.join(s);
            if key == "keylog" {
                g.keylog = Some(p);
            } else {
                g.pcap = Some(p);
            }
        }
    }
    // the terminal UI's key bindings: the UI reads them (key_lines), the peer has no keys
    if let Some(v) = table.remove("keys") {
        if !v.is_table() {
            return Err(err("keys", "expected a table of KEY = \"command\"".into()));
        }
    }
    timer_settings(&mut table, &mut g).map_err(|(k, e)| err(k, e))?;
    if let Some(v) = table.remove("events") {
        g.events = Some(match v.as_str() {
            Some("json") => EventFormat::Json,
            Some("text") => EventFormat::Text,
            _ => return Err(err("events", "expected \"json\" or \"text\"".into())),
        });
    }
    let conns = match table.remove("connections") {
        None => vec![],
        Some(toml::Value::Table(t)) => {
            let mut v = Vec::new();
            for (name, body) in t {
                let mut c: ConnOpts = body.try_into().map_err(|e: toml::de::Error| {
                    err(&format!("connections.{name}"), e.to_string())
                })?;
                c.relative_to(&dir);
                v.push((name, c));
            }
            v
        }
        Some(_) => return Err(err("connections", "expected a table".into())),
    };
    let mut defaults: ConnOpts = toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| format!("{}: {e}", path.display()))?;
    defaults.relative_to(&dir);
    Ok((g, defaults, conns))
}

/// `--cert`, `--key`, `--ca` (PEM files): all three or none.
fn cert_auth(o: &ConnOpts) -> Result<Option<CertAuth>, String> {
    let cas = o.ca.clone().map(OneOrMany::into_vec).unwrap_or_default();
    let (cert, key) = match (&o.cert, &o.key) {
        (None, None) if cas.is_empty() => return Ok(None),
        (Some(c), Some(k)) if !cas.is_empty() => (c, k),
        _ => return Err("certificate authentication needs --cert, --key and --ca".into()),
    };
    let read =
        |p: &Path| std::fs::read_to_string(p).map_err(|x| format!("reading {}: {x}", p.display()));
    let ca_pems = cas.iter().map(|p| read(p)).collect::<Result<Vec<_>, _>>()?;
    CertAuth::from_pem(&read(cert)?, &read(key)?, &ca_pems)
        .map(Some)
        .map_err(|x| format!("--cert {} / --key {}: {x}", cert.display(), key.display()))
}

/// Top-level timer keys of a TOML file: `keepalive`, `retransmit_timeout`,
/// `retransmit_base` (seconds / factor, numbers) and `retransmit_tries` (integer).
fn timer_settings(table: &mut toml::Table, g: &mut PeerArgs) -> Result<(), (&'static str, String)> {
    let num = |v: toml::Value| v.as_float().or_else(|| v.as_integer().map(|i| i as f64));
    for (key, dst) in [
        ("keepalive", &mut g.keepalive),
        ("retransmit_timeout", &mut g.retransmit_timeout),
        ("retransmit_base", &mut g.retransmit_base),
        ("probe_timeout", &mut g.probe_timeout),
        ("give_up", &mut g.give_up),
        ("responder_hold", &mut g.responder_hold),
        ("path_test", &mut g.path_test),
    ] {
        if let Some(v) = table.remove(key) {
            *dst = Some(num(v).ok_or((key, "expected a number".to_string()))?);
        }
    }
    if let Some(v) = table.remove("rr") {
        let s = v.as_str().map(str::to_string);
        g.rr = Some(s.ok_or((
            "rr",
            "expected \"always\", \"unannounced\", \"never\" or \"optimistic\"".into(),
        ))?);
    }
    if let Some(v) = table.remove("refuse") {
        let list = match v {
            toml::Value::String(s) => vec![s],
            toml::Value::Array(a) => a
                .into_iter()
                .map(|x| x.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or(("refuse", "expected CIDR strings".to_string()))?,
            _ => return Err(("refuse", "expected a CIDR or a list".into())),
        };
        g.refuse = list;
    }
    if let Some(v) = table.remove("retransmit_tries") {
        let n = v.as_integer().and_then(|i| u32::try_from(i).ok());
        g.retransmit_tries = Some(n.ok_or(("retransmit_tries", "expected a count".into()))?);
    }
    Ok(())
}

/// Keepalive interval and retransmission schedule from the command line (winning) or the
/// file, checked.
fn timers(args: &PeerArgs, file: &PeerArgs, config: &mut Config) -> Result<(), String> {
    let secs = |name: &str, v: f64, min: f64| {
        if v.is_finite() && v >= min && v <= 86_400.0 {
            Ok(Duration::from_secs_f64(v))
        } else {
            Err(format!(
                "--{name} {v}: expected seconds between {min} and 86400"
            ))
        }
    };
    if let Some(v) = args.keepalive.or(file.keepalive) {
        config.keepalive = secs("keepalive", v, 0.0)?;
    }
    let r = &mut config.retransmit;
    if let Some(v) = args.retransmit_timeout.or(file.retransmit_timeout) {
        r.timeout = secs("retransmit-timeout", v, 0.01)?;
    }
    if let Some(v) = args.retransmit_base.or(file.retransmit_base) {
        if !(v.is_finite() && (1.0..=10.0).contains(&v)) {
            return Err(format!("--retransmit-base {v}: expected 1 to 10"));
        }
        r.base = v;
    }
    if let Some(n) = args.retransmit_tries.or(file.retransmit_tries) {
        if n > 100 {
            return Err(format!("--retransmit-tries {n}: expected 0 to 100"));
        }
        r.tries = n;
    }
    let m = &mut config.mobike;
    if let Some(s) = args.rr.as_ref().or(file.rr.as_ref()) {
        m.return_routability = ReturnRoutability::parse(s).map_err(|e| format!("--rr: {e}"))?;
    }
    let refuse = if args.refuse.is_empty() {
        &file.refuse
    } else {
        &args.refuse
    };
    m.refuse = refuse
        .iter()
        .map(|c| TsRange::parse(c).map_err(|e| format!("--refuse {c}: {e}")))
        .collect::<Result<_, _>>()?;
    if let Some(v) = args.probe_timeout.or(file.probe_timeout) {
        m.probe_timeout = secs("probe-timeout", v, 0.01)?;
    }
    if let Some(v) = args.give_up.or(file.give_up) {
        m.give_up = secs("give-up", v, 0.1)?;
    }
    if let Some(v) = args.responder_hold.or(file.responder_hold) {
        m.responder_hold = secs("responder-hold", v, 0.0)?;
    }
    if let Some(v) = args.path_test.or(file.path_test) {
        m.path_test_interval = secs("path-test", v, 0.0)?;
    }
    Ok(())
}

fn read_psk(path: &Path) -> Result<Psk, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("PSK file {}: {e}", path.display()))?;
    let line = text.lines().next().unwrap_or("").trim_end_matches('\r');
    let bytes = if let Some(h) = line.strip_prefix("0x") {
        hex::decode(h).map_err(|e| format!("PSK file {}: bad hex: {e}", path.display()))?
    } else {
        line.as_bytes().to_vec()
    };
    if bytes.is_empty() {
        return Err(format!("PSK file {} is empty", path.display()));
    }
    Ok(Psk::new(bytes))
}

/// Addresses of a pool entry: a single address or the hosts of a prefix (at most 4096).
fn pool_addrs(s: &str) -> Result<Vec<IpAddr>, String> {
    let r = TsRange::parse(s).map_err(|e| format!("pool: {e}"))?;
    let (a, b) = match (r.start, r.end) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u128::from(u32::from(a)), u128::from(u32::from(b))),
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b)),
        _ => return Err(format!("pool '{s}': mixed families")),
    };
    let (first, last) = if b > a + 1 { (a + 1, b - 1) } else { (a, b) };
    let n = (last - first + 1).min(4096);
    Ok((0..n)
        .map(|i| match r.start {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from((first + i) as u32)),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(first + i)),
        })
        .collect())
}

fn build_conns(
    name: &str,
    o: &ConnOpts,
    listen: bool,
    (port, natt_port): (u16, u16),
    bind: &mut Vec<IpAddr>,
) -> Result<Vec<ConnConfig>, String> {
    let e = |m: String| format!("connection '{name}': {m}");
    let (locals, remotes) = conn_addresses(o, listen).map_err(e)?;
    bind.extend(locals.iter().copied());
    let cert = cert_auth(o).map_err(e)?;
    let psk = conn_psk(o, cert.as_ref()).map_err(e)?;
    let local_id = local_identity(o, cert.as_ref(), &locals).map_err(e)?;
    let local = match locals.first() {
        Some(l) if !listen || locals.len() == 1 => SocketAddr::new(*l, port),
        _ => SocketAddr::new(any_addr(false), 0),
    };
    let mut base = ConnConfig::new(
        name,
        local,
        SocketAddr::new(any_addr(false), 0),
        local_id,
        &[],
    );
    base.psk = psk;
    base.cert = cert;
    conn_policy(o, &mut base).map_err(e)?;
    // the peer's ports are ours unless told otherwise (both ends of a lab on
    // unprivileged ports)
    base.remote_nat_t_port = o.remote_natt_port.unwrap_or(natt_port);
    if !listen {
        // the peer's other addresses: MOBIKE may move there before it announces them
        base.remote_addrs = remotes.iter().skip(1).copied().collect();
    }
    let remote_port = o.remote_port.unwrap_or(port);
    let remote_list: Vec<SocketAddr> = if remotes.is_empty() {
        vec![SocketAddr::new(any_addr(false), 0)]
    } else {
        // a responder accepts the peer on any source port (NAT)
        remotes
            .iter()
            .map(|r| SocketAddr::new(*r, if listen { 0 } else { remote_port }))
            .collect()
    };
    // an initiator uses the first remote address
    let count = if listen { remote_list.len() } else { 1 };
    Ok(remote_list
        .iter()
        .take(count)
        .enumerate()
        .map(|(i, remote)| ConnConfig {
            name: if i == 0 {
                name.to_string()
            } else {
                format!("{name}/{}", i + 1)
            },
            remote: *remote,
            ..base.clone()
        })
        .collect())
}

/// The unspecified address of a family.
fn any_addr(v6: bool) -> IpAddr {
    if v6 {
        Ipv6Addr::UNSPECIFIED.into()
    } else {
        Ipv4Addr::UNSPECIFIED.into()
    }
}

/// Our addresses (by default the route's source towards the first remote one) and the
/// peer's, of one family.
fn conn_addresses(o: &ConnOpts, listen: bool) -> Result<(Vec<IpAddr>, Vec<IpAddr>), String> {
    let remotes = o
        .remote
        .clone()
        .map(OneOrMany::into_vec)
        .unwrap_or_default();
    let mut locals = o.local.clone().map(OneOrMany::into_vec).unwrap_or_default();
    if remotes.is_empty() && !listen {
        return Err("no --remote address to initiate to (use --listen to wait for peers)".into());
    }
    if locals.is_empty() {
        if let Some(r) = remotes.first() {
            locals.push(socket::route_source(*r).map_err(|x| x.to_string())?);
        }
    }
    if let (Some(l), Some(r)) = (locals.first(), remotes.first()) {
        if l.is_ipv4() != r.is_ipv4() {
            return Err(format!(
                "local {l} and remote {r} are of different address families"
            ));
        }
    }
    Ok((locals, remotes))
}

/// The PSK (read from its file), or an empty one with certificate authentication.
fn conn_psk(o: &ConnOpts, cert: Option<&CertAuth>) -> Result<Psk, String> {
    match (&o.psk_file, cert) {
        (Some(p), None) => read_psk(p),
        (Some(_), Some(_)) => Err("give either --psk-file or --cert, not both".into()),
        (None, Some(_)) => Ok(Psk::default()),
        (None, None) => Err(
            "no PSK or certificate: give --psk-file FILE (a PSK is never taken from the command line) or --cert/--key/--ca"
                .into(),
        ),
    }
}

/// `--id`, else the certificate's first identity, else our first address.
fn local_identity(
    o: &ConnOpts,
    cert: Option<&CertAuth>,
    locals: &[IpAddr],
) -> Result<Identity, String> {
    if let Some(s) = &o.id {
        return Identity::parse(s).map_err(|x| format!("--id: {x}"));
    }
    let from_cert = cert
        .and_then(|c| c.chain.first())
        .and_then(|c| c.first_identity());
    match (from_cert, locals.first()) {
        (Some(id), _) => Ok(id),
        (None, Some(a)) => Ok(Identity::from(*a)),
        (None, None) => Err("give --id (no single local address to use as identity)".into()),
    }
}

/// What the connection negotiates and how it behaves: remote ID, proposals, traffic
/// selectors, virtual IP, address pool, MOBIKE, NAT traversal, DPD.
fn conn_policy(o: &ConnOpts, c: &mut ConnConfig) -> Result<(), String> {
    c.remote_id = o
        .remote_id
        .as_deref()
        .map(Identity::parse)
        .transpose()
        .map_err(|x| format!("--remote-id: {x}"))?;
    if let Some(s) = &o.ike {
        c.ike_proposals =
            Proposal::parse_list(Protocol::Ike, s).map_err(|x| format!("--ike: {}", x.0))?;
    }
    if let Some(s) = &o.esp {
        c.esp_proposals =
            Proposal::parse_list(Protocol::Esp, s).map_err(|x| format!("--esp: {}", x.0))?;
    }
    let ts = |v: &Option<OneOrMany<String>>, what: &str| -> Result<Vec<TsRange>, String> {
        v.clone()
            .map(OneOrMany::into_vec)
            .unwrap_or_default()
            .iter()
            .map(|s| TsRange::parse(s).map_err(|x| format!("{what}: {x}")))
            .collect()
    };
    c.local_ts = ts(&o.local_ts, "--local-ts")?;
    c.remote_ts = ts(&o.remote_ts, "--remote-ts")?;
    if let Some(v) = o.vip {
        if !v.is_unspecified() {
            return Err(format!(
                "--vip {v}: only 0.0.0.0 or :: (any address) can be requested so far"
            ));
        }
    }
    c.request_vip = o.vip.is_some();
    for p in o.pool.clone().map(OneOrMany::into_vec).unwrap_or_default() {
        c.vip_pool.extend(pool_addrs(&p)?);
    }
    c.dpd_delay = match o.dpd {
        Some(v) if v.is_finite() && (0.0..=86_400.0).contains(&v) => Duration::from_secs_f64(v),
        Some(v) => return Err(format!("--dpd {v}: expected seconds between 0 and 86400")),
        None => Duration::ZERO,
    };
    c.mobike = o.mobike.unwrap_or(true);
    c.nat_traversal = !o.no_natt.unwrap_or(false);
    c.encap = o.encap.unwrap_or(false);
    Ok(())
}

/// Merge the TOML file (if any) and the command line.
pub fn settings(args: &PeerArgs) -> Result<PeerSettings, String> {
    let (file, defaults, named) = match &args.config {
        Some(p) => file_settings(p)?,
        None => (PeerArgs::default(), ConnOpts::default(), vec![]),
    };
    let listen = args.listen || file.listen;
    let port = args.port.or(file.port).unwrap_or(500);
    let natt_port = args.natt_port.or(file.natt_port).unwrap_or(4500);
    if port == natt_port {
        return Err(format!("--port and --natt-port must differ (both {port})"));
    }
    let cli = ConnOpts::from_args(args);
    let named = if named.is_empty() {
        vec![("peer".to_string(), ConnOpts::default())]
    } else {
        named
    };
    let mut config = Config {
        nat_t_port: natt_port,
        ..Config::default()
    };
    timers(args, &file, &mut config)?;
    let mut bind = Vec::new();
    for (name, own) in &named {
        let mut o = defaults.clone();
        o.overlay(own);
        o.overlay(&cli);
        config
            .connections
            .extend(build_conns(name, &o, listen, (port, natt_port), &mut bind)?);
    }
    let every_interface = bind.is_empty();
    if every_interface {
        bind =
            socket::interface_addrs().map_err(|e| format!("listing interface addresses: {e}"))?;
    }
    let mut seen = HashSet::new();
    bind.retain(|a| seen.insert(*a));
    Ok(PeerSettings {
        listen,
        port,
        natt_port,
        keylog: args.keylog.clone().or(file.keylog),
        pcap: args.pcap.clone().or(file.pcap),
        events: args.events.or(file.events).unwrap_or(EventFormat::Json),
        config,
        addrs: if every_interface {
            bind.iter().copied().filter(|a| !a.is_loopback()).collect()
        } else {
            bind.clone()
        },
        bind,
        follow_os: args.follow_os || file.follow_os,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools() {
        assert_eq!(pool_addrs("198.18.0.0/30").unwrap().len(), 2);
        assert_eq!(
            pool_addrs("198.18.0.7").unwrap(),
            vec!["198.18.0.7".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(pool_addrs("2001:db8::/64").unwrap().len(), 4096);
    }

    #[test]
    fn toml_file_and_overrides() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("psk"), "secret-secret-secret\n").unwrap();
        let cfg = dir.path().join("peer.toml");
        std::fs::write(
            &cfg,
            r#"
events = "text"
keylog = "keys.log"
psk_file = "psk"
ike = "aes128-sha256-x25519"

[connections.home]
local = "127.0.0.1"
remote = ["127.0.0.2"]
remote_id = "moon.example.org"
vip = "0.0.0.0"
remote_ts = ["198.18.1.0/24"]

[connections.work]
local = "127.0.0.1"
remote = "127.0.0.3"
esp = "aes256gcm16"
"#,
        )
        .unwrap();
        let args = PeerArgs {
            config: Some(cfg.clone()),
            id: Some("carol@example.org".into()),
            ..PeerArgs::default()
        };
        let s = settings(&args).unwrap();
        assert_eq!(s.events, EventFormat::Text);
        assert_eq!(s.keylog, Some(dir.path().join("keys.log")));
        let c = &s.config.connections;
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].name, "home");
        assert_eq!(c[0].remote, "127.0.0.2:500".parse().unwrap());
        assert!(c[0].request_vip);
        assert_eq!(c[1].local_id, Identity::parse("carol@example.org").unwrap());
        assert_eq!(c[1].esp_proposals.len(), 1);
        assert_eq!(c[1].psk.0.as_slice(), b"secret-secret-secret");

        std::fs::write(&cfg, "remote = \"127.0.0.2\"\nbogus = 1\n").unwrap();
        let e = settings(&args).unwrap_err();
        assert!(e.contains("bogus"), "{e}");
    }

    #[test]
    fn a_keys_table_rebinds_the_ui_and_the_peer_ignores_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("psk"), "secret-secret-secret\n").unwrap();
        let cfg = dir.path().join("peer.toml");
        std::fs::write(
            &cfg,
            "remote = \"127.0.0.2\"\npsk_file = \"psk\"\n\n[keys]\n\"ctrl-n\" = \"down\"\nF5 = \"probe\"\n",
        )
        .unwrap();
        let args = PeerArgs {
            config: Some(cfg.clone()),
            ..PeerArgs::default()
        };
        assert!(settings(&args).is_ok(), "the peer ignores [keys]");
        let lines = key_lines(&cfg).unwrap();
        assert_eq!(lines, "ctrl-n = down\nF5 = probe\n");
        let mut keys = crate::tui::keymap::KeyMap::default();
        keys.apply(&lines).unwrap();
        let ctrl_n = crate::tui::keymap::Key::parse("ctrl-n").unwrap();
        assert_eq!(
            keys.command(crate::tui::keymap::Ui::Live, ctrl_n),
            crate::tui::keymap::UiCommand::by_name("down")
        );
        // a bad entry names the key
        std::fs::write(&cfg, "[keys]\n\"ctrl-n\" = 3\n").unwrap();
        assert!(key_lines(&cfg).unwrap_err().contains("ctrl-n"));
        std::fs::write(&cfg, "keys = 3\nremote = \"127.0.0.2\"\n").unwrap();
        assert!(settings(&args).unwrap_err().contains("keys"));
    }

    #[test]
    fn toml_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let pki = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/pki");
        for f in ["sun.crt", "sun.key", "rsa-ca.crt", "ec-ca.crt"] {
            std::fs::copy(pki.join(f), dir.path().join(f)).unwrap();
        }
        let cfg = dir.path().join("peer.toml");
        std::fs::write(
            &cfg,
            r#"
cert = "sun.crt"
key = "sun.key"
ca = ["rsa-ca.crt", "ec-ca.crt"]

[connections.home]
local = "127.0.0.1"
remote = "127.0.0.2"
"#,
        )
        .unwrap();
        let args = PeerArgs {
            config: Some(cfg.clone()),
            ..PeerArgs::default()
        };
        let s = settings(&args).unwrap();
        let c = s.config.connections[0]
            .cert
            .as_ref()
            .expect("certificate auth");
        assert_eq!(c.cas.len(), 2);
        assert!(c.chain[0].subject().contains("sun.example.org"));
        // a key without certificate is an error
        let args = PeerArgs {
            remote: vec!["127.0.0.1".parse().unwrap()],
            key: Some(dir.path().join("sun.key")),
            ..PeerArgs::default()
        };
        let e = settings(&args).unwrap_err();
        assert!(e.contains("--cert, --key and --ca"), "{e}");
    }

    #[test]
    fn timers_from_file_and_command_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("psk"), "secret-secret-secret\n").unwrap();
        let cfg = dir.path().join("peer.toml");
        std::fs::write(
            &cfg,
            "keepalive = 5\nretransmit_timeout = 0.5\nretransmit_base = 2\n\
             retransmit_tries = 3\npsk_file = \"psk\"\nremote = \"127.0.0.2\"\n\
             local = \"127.0.0.1\"\n",
        )
        .unwrap();
        let mut args = PeerArgs {
            config: Some(cfg.clone()),
            ..PeerArgs::default()
        };
        let c = settings(&args).unwrap().config;
        assert_eq!(c.keepalive, Duration::from_secs(5));
        assert_eq!(c.retransmit.timeout, Duration::from_millis(500));
        assert_eq!(c.retransmit.base, 2.0);
        assert_eq!(c.retransmit.tries, 3);
        args.keepalive = Some(0.0);
        args.retransmit_tries = Some(1);
        let c = settings(&args).unwrap().config;
        assert!(c.keepalive.is_zero());
        assert_eq!(c.retransmit.tries, 1);
        args.config = None;
        args.local = vec!["127.0.0.1".parse().unwrap()];
        args.remote = vec!["127.0.0.2".parse().unwrap()];
        args.psk_file = Some(dir.path().join("psk"));
        let c = settings(&args).unwrap().config;
        assert_eq!(c.retransmit.timeout, Duration::from_secs(4));
        args.retransmit_base = Some(0.5);
        assert!(settings(&args).unwrap_err().contains("--retransmit-base"));
        args.retransmit_base = None;
        args.keepalive = Some(-1.0);
        assert!(settings(&args).unwrap_err().contains("--keepalive"));
        std::fs::write(&cfg, "keepalive = \"often\"\n").unwrap();
        args.config = Some(cfg);
        assert!(settings(&args).unwrap_err().contains("'keepalive'"));
    }

    #[test]
    fn errors_are_actionable() {
        let e = settings(&PeerArgs::default()).unwrap_err();
        assert!(e.contains("--remote"), "{e}");
        let args = PeerArgs {
            remote: vec!["127.0.0.1".parse().unwrap()],
            ..PeerArgs::default()
        };
        assert!(settings(&args).unwrap_err().contains("--psk-file"));
    }

    #[test]
    fn mobike_options() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("psk"), "secret-secret-secret\n").unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let mut args = PeerArgs {
            local: vec![ip("127.0.0.1"), ip("127.0.0.4")],
            remote: vec![ip("127.0.0.2"), ip("127.0.0.3")],
            psk_file: Some(dir.path().join("psk")),
            remote_port: Some(1500),
            remote_natt_port: Some(14500),
            no_natt: true,
            dpd: Some(30.0),
            rr: Some("unannounced".into()),
            refuse: vec!["10.0.0.0/8".into()],
            probe_timeout: Some(0.25),
            give_up: Some(20.0),
            responder_hold: Some(60.0),
            path_test: Some(10.0),
            ..PeerArgs::default()
        };
        let s = settings(&args).unwrap();
        assert_eq!(s.bind, vec![ip("127.0.0.1"), ip("127.0.0.4")]);
        let c = &s.config.connections;
        assert_eq!(c.len(), 1, "an initiator has one connection");
        assert_eq!(c[0].remote, "127.0.0.2:1500".parse().unwrap());
        assert_eq!(c[0].remote_addrs, vec![ip("127.0.0.3")]);
        assert_eq!(c[0].remote_nat_t_port, 14500);
        assert!(!c[0].nat_traversal);
        assert_eq!(c[0].dpd_delay, Duration::from_secs(30));
        let m = &s.config.mobike;
        assert_eq!(m.return_routability, ReturnRoutability::Unannounced);
        assert_eq!(m.refuse, vec![TsRange::parse("10.0.0.0/8").unwrap()]);
        assert_eq!(m.probe_timeout, Duration::from_millis(250));
        assert_eq!(m.give_up, Duration::from_secs(20));
        assert_eq!(m.responder_hold, Duration::from_secs(60));
        assert_eq!(m.path_test_interval, Duration::from_secs(10));

        // a responder with several addresses: one connection matching each of them
        args.listen = true;
        args.local = vec![ip("127.0.0.2"), ip("127.0.0.3")];
        args.remote = vec![];
        let s = settings(&args).unwrap();
        let c = &s.config.connections;
        assert_eq!(c.len(), 1);
        for l in ["127.0.0.2", "127.0.0.3"] {
            for port in [500, 4500] {
                let p = crate::engine::Path::new(
                    SocketAddr::new(ip(l), port),
                    "127.0.0.1:4500".parse().unwrap(),
                );
                assert!(c[0].matches_addrs(p, 4500), "{p}");
            }
        }

        args.rr = Some("sometimes".into());
        assert!(settings(&args).unwrap_err().contains("--rr"));
        args.rr = None;
        args.refuse = vec!["nonsense".into()];
        assert!(settings(&args).unwrap_err().contains("--refuse"));
        args.refuse = vec![];
        args.dpd = Some(-1.0);
        assert!(settings(&args).unwrap_err().contains("--dpd"));

        // the same keys in TOML
        let cfg = dir.path().join("peer.toml");
        std::fs::write(
            &cfg,
            "follow_os = true\nrr = \"never\"\nrefuse = [\"192.0.2.0/24\"]\nprobe_timeout = 1\ngive_up = 30\n\
             responder_hold = 10\npath_test = 5\npsk_file = \"psk\"\n\
             [connections.a]\nlocal = \"127.0.0.1\"\nremote = [\"127.0.0.2\", \"127.0.0.3\"]\n\
             remote_port = 600\nremote_natt_port = 4600\nno_natt = true\ndpd = 5\n",
        )
        .unwrap();
        let args = PeerArgs {
            config: Some(cfg),
            ..PeerArgs::default()
        };
        let s = settings(&args).unwrap();
        assert!(s.follow_os);
        let m = &s.config.mobike;
        assert_eq!(m.return_routability, ReturnRoutability::Never);
        assert_eq!(m.refuse.len(), 1);
        assert_eq!(m.probe_timeout, Duration::from_secs(1));
        assert_eq!(m.give_up, Duration::from_secs(30));
        assert_eq!(m.responder_hold, Duration::from_secs(10));
        assert_eq!(m.path_test_interval, Duration::from_secs(5));
        let c = &s.config.connections[0];
        assert_eq!(c.remote.port(), 600);
        assert_eq!(c.remote_nat_t_port, 4600);
        assert_eq!(c.remote_addrs, vec![ip("127.0.0.3")]);
        assert!(!c.nat_traversal);
        assert_eq!(c.dpd_delay, Duration::from_secs(5));
    }
}
