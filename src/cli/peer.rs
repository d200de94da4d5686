//! `mobikectl peer`: configuration (command line + TOML), the command language on stdin,
//! events on stdout, key log and pcapng output around the [`io`](crate::io) event loop.
//!
//! # TOML file
//!
//! Top-level keys: `listen`, `port`, `natt_port`, `keylog`, `pcap`, `events`, `keepalive`,
//! `retransmit_timeout`, `retransmit_base`, `retransmit_tries`, and any
//! connection key (defaults for every connection). `[connections.NAME]` tables define
//! named connections (in file order; the first one is initiated at start and is the
//! default of `up`). Connection keys: `local`, `remote` (address or list), `id`,
//! `remote_id`, `psk_file`, `cert`, `key`, `ca` (file or list), `ike`, `esp`, `vip`,
//! `local_ts`, `remote_ts` (CIDR or list), `pool` (CIDR or list), `mobike` (bool). Relative paths are relative to the file.
//! Options on the command line override the file for every connection.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::args::{EventFormat, PeerArgs};
use super::command::{parse_command, PeerCommand, RekeyTarget};
use crate::engine::pubkey::CertAuth;
use crate::engine::{
    Command, Config, ConnConfig, Engine, EngineEvent, Identity, IkeState, OsRandom, Proposal,
    Protocol, Psk, Rekey, SaId, Timestamp, TsRange,
};
use crate::io::clock::Clock;
use crate::io::event_loop::{self, Direction, Handler};
use crate::io::pcap::PcapWriter;
use crate::io::socket::{self, Sockets};
use crate::keys::keylog;
use crate::wire::registry;

/// How long `quit` waits for Delete responses.
pub const QUIT_GRACE: Duration = Duration::from_secs(3);

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
}

impl ConnOpts {
    /// `other`'s values win where given.
    fn overlay(&mut self, other: &ConnOpts) {
        macro_rules! take {
            ($($f:ident),*) => {$( if other.$f.is_some() { self.$f = other.$f.clone(); } )*};
        }
        take!(
            local, remote, id, remote_id, psk_file, cert, key, ca, ike, esp, vip, local_ts,
            remote_ts, pool, mobike
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
    ] {
        if let Some(v) = table.remove(key) {
            *dst = Some(num(v).ok_or((key, "expected a number".to_string()))?);
        }
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
    let remotes = o
        .remote
        .clone()
        .map(OneOrMany::into_vec)
        .unwrap_or_default();
    let mut locals = o.local.clone().map(OneOrMany::into_vec).unwrap_or_default();
    if remotes.is_empty() && !listen {
        return Err(e(
            "no --remote address to initiate to (use --listen to wait for peers)".into(),
        ));
    }
    if locals.is_empty() {
        if let Some(r) = remotes.first() {
            locals.push(socket::route_source(*r).map_err(|x| e(x.to_string()))?);
        }
    }
    if let (Some(l), Some(r)) = (locals.first(), remotes.first()) {
        if l.is_ipv4() != r.is_ipv4() {
            return Err(e(format!(
                "local {l} and remote {r} are of different address families"
            )));
        }
    }
    bind.extend(locals.iter().copied());
    let cert = cert_auth(o).map_err(e)?;
    let psk = match (&o.psk_file, &cert) {
        (Some(p), None) => read_psk(p).map_err(e)?,
        (Some(_), Some(_)) => {
            return Err(e("give either --psk-file or --cert, not both".into()));
        }
        (None, Some(_)) => Psk::default(),
        (None, None) => {
            return Err(e(
                "no PSK or certificate: give --psk-file FILE (a PSK is never taken from the command line) or --cert/--key/--ca"
                    .into(),
            ))
        }
    };
    let local_id = match &o.id {
        Some(s) => Identity::parse(s).map_err(|x| e(format!("--id: {x}")))?,
        None => match (
            cert.as_ref().and_then(|c| c.chain[0].first_identity()),
            locals.first(),
        ) {
            (Some(id), _) => id,
            (None, Some(a)) => Identity::from(*a),
            (None, None) => {
                return Err(e(
                    "give --id (no single local address to use as identity)".into()
                ))
            }
        },
    };
    let remote_id = o
        .remote_id
        .as_deref()
        .map(Identity::parse)
        .transpose()
        .map_err(|x| e(format!("--remote-id: {x}")))?;
    let ike = match &o.ike {
        Some(s) => {
            Proposal::parse_list(Protocol::Ike, s).map_err(|x| e(format!("--ike: {}", x.0)))?
        }
        None => Proposal::default_ike(),
    };
    let esp = match &o.esp {
        Some(s) => {
            Proposal::parse_list(Protocol::Esp, s).map_err(|x| e(format!("--esp: {}", x.0)))?
        }
        None => Proposal::default_esp(),
    };
    let ts = |v: &Option<OneOrMany<String>>, what: &str| -> Result<Vec<TsRange>, String> {
        v.clone()
            .map(OneOrMany::into_vec)
            .unwrap_or_default()
            .iter()
            .map(|s| TsRange::parse(s).map_err(|x| e(format!("{what}: {x}"))))
            .collect()
    };
    let local_ts = ts(&o.local_ts, "--local-ts")?;
    let remote_ts = ts(&o.remote_ts, "--remote-ts")?;
    if let Some(v) = o.vip {
        if !v.is_unspecified() {
            return Err(e(format!(
                "--vip {v}: only 0.0.0.0 or :: (any address) can be requested so far"
            )));
        }
    }
    let mut pool = Vec::new();
    for p in o.pool.clone().map(OneOrMany::into_vec).unwrap_or_default() {
        pool.extend(pool_addrs(&p).map_err(e)?);
    }
    let any = |v6: bool| -> IpAddr {
        if v6 {
            Ipv6Addr::UNSPECIFIED.into()
        } else {
            Ipv4Addr::UNSPECIFIED.into()
        }
    };
    let local = if listen && locals.len() != 1 {
        SocketAddr::new(any(false), 0)
    } else {
        SocketAddr::new(locals[0], port)
    };
    let remote_list: Vec<SocketAddr> = if remotes.is_empty() {
        vec![SocketAddr::new(any(false), 0)]
    } else {
        // a responder accepts the peer on any source port (NAT)
        remotes
            .iter()
            .map(|r| SocketAddr::new(*r, if listen { 0 } else { port }))
            .collect()
    };
    let mut out = Vec::new();
    for (i, remote) in remote_list.iter().enumerate() {
        if i > 0 && !listen {
            break; // an initiator uses the first remote address
        }
        let cname = if i == 0 {
            name.to_string()
        } else {
            format!("{name}/{}", i + 1)
        };
        let mut c = ConnConfig::new(&cname, local, *remote, local_id.clone(), &[]);
        c.psk = psk.clone();
        c.cert = cert.clone();
        c.remote_id = remote_id.clone();
        c.ike_proposals = ike.clone();
        c.esp_proposals = esp.clone();
        c.local_ts = local_ts.clone();
        c.remote_ts = remote_ts.clone();
        c.request_vip = o.vip.is_some();
        c.vip_pool = pool.clone();
        c.mobike = o.mobike.unwrap_or(true);
        // the peer's ports are ours unless told otherwise (both ends of a lab on
        // unprivileged ports)
        c.remote_nat_t_port = natt_port;
        out.push(c);
    }
    Ok(out)
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
    if bind.is_empty() {
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
        bind,
    })
}

// ---------------------------------------------------------------- events

fn rfc3339(t: SystemTime) -> String {
    time::OffsetDateTime::from(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn exchange(x: u8) -> Value {
    registry::exchange_name(x)
        .map(|s| Value::from(s.to_string()))
        .unwrap_or_else(|| Value::from(x))
}

fn spi64(s: u64) -> String {
    format!("{s:016x}")
}

fn spi32(s: u32) -> String {
    format!("{s:08x}")
}

fn ts_list(v: &[TsRange]) -> Value {
    Value::from(v.iter().map(|t| t.to_string()).collect::<Vec<_>>())
}

/// The JSON object for an engine event (without `time`).
pub fn event_json(ev: &EngineEvent) -> (&'static str, Map<String, Value>) {
    let sa = |s: &SaId| Value::from(s.to_string());
    let osa = |s: &Option<SaId>| s.as_ref().map(sa).unwrap_or(Value::Null);
    let (name, v) = match ev {
        EngineEvent::IkeUp {
            sa: id,
            spi_i,
            spi_r,
            path,
            proposal,
            initiator,
            nat_local,
            nat_remote,
        } => (
            "ike_up",
            json!({"sa": sa(id), "spi_i": spi64(*spi_i), "spi_r": spi64(*spi_r),
                "local": path.local.to_string(), "remote": path.remote.to_string(),
                "proposal": proposal.to_string(), "initiator": initiator,
                "nat_local": nat_local, "nat_remote": nat_remote}),
        ),
        EngineEvent::ChildUp {
            sa: id,
            spis,
            ts_local,
            ts_remote,
            proposal,
            vip,
        } => (
            "child_up",
            json!({"sa": sa(id), "spis": {"in": spi32(spis.0), "out": spi32(spis.1)},
                "ts": {"local": ts_list(ts_local), "remote": ts_list(ts_remote)},
                "proposal": proposal.to_string(), "vip": vip.map(|v| v.to_string())}),
        ),
        EngineEvent::IkeDown { sa: id, reason } => {
            ("ike_down", json!({"sa": sa(id), "reason": reason}))
        }
        EngineEvent::ChildDown {
            sa: id,
            spis,
            reason,
        } => (
            "child_down",
            json!({"sa": sa(id), "spis": {"in": spi32(spis.0), "out": spi32(spis.1)},
                "reason": reason}),
        ),
        EngineEvent::Rekeyed {
            sa: id,
            rekey,
            initiator,
        } => {
            let mut v = json!({"sa": sa(id), "what": rekey.kind(), "initiator": initiator});
            match rekey {
                Rekey::Ike {
                    old_sa,
                    old_spis,
                    new_spis,
                } => {
                    v["old_sa"] = sa(old_sa);
                    v["old_spis"] = json!({"i": spi64(old_spis.0), "r": spi64(old_spis.1)});
                    v["new_spis"] = json!({"i": spi64(new_spis.0), "r": spi64(new_spis.1)});
                }
                Rekey::Child { old_spis, new_spis } => {
                    v["old_spis"] = json!({"in": spi32(old_spis.0), "out": spi32(old_spis.1)});
                    v["new_spis"] = json!({"in": spi32(new_spis.0), "out": spi32(new_spis.1)});
                }
            }
            ("rekeyed", v)
        }
        EngineEvent::Sent { sa: id, info } | EngineEvent::Received { sa: id, info } => (
            if matches!(ev, EngineEvent::Sent { .. }) {
                "sent"
            } else {
                "received"
            },
            json!({"sa": osa(id), "exchange": exchange(info.exchange),
                "message_id": info.message_id, "response": info.response,
                "payloads": info.payloads, "crafted": info.crafted, "local": info.path.local.to_string(),
                "remote": info.path.remote.to_string()}),
        ),
        EngineEvent::Retransmit {
            sa: id,
            exchange: x,
            message_id,
            attempt,
        } => (
            "retransmit",
            json!({"sa": sa(id), "exchange": exchange(*x), "message_id": message_id,
                "attempt": attempt}),
        ),
        EngineEvent::Timeout {
            sa: id,
            exchange: x,
            message_id,
        } => (
            "timeout",
            json!({"sa": sa(id), "exchange": exchange(*x), "message_id": message_id}),
        ),
        EngineEvent::Error { sa: id, reason } => {
            ("error", json!({"sa": osa(id), "reason": reason}))
        }
        EngineEvent::Status(list) => (
            "status",
            json!({"sas": list.iter().map(|s| json!({
                "sa": sa(&s.sa), "conn": s.conn, "state": format!("{:?}", s.state),
                "spi_i": spi64(s.spi_i), "spi_r": spi64(s.spi_r),
                "local": s.path.local.to_string(), "remote": s.path.remote.to_string(),
                "proposal": s.proposal.map(|p| p.to_string()),
                "children": s.children.iter().map(|c| json!({"in": spi32(c.0), "out": spi32(c.1)})).collect::<Vec<_>>(),
                "mobike": s.mobike, "mobike_state": s.mobike_state,
                "local_addrs": addr_list(&s.local_addrs), "remote_addrs": addr_list(&s.remote_addrs),
                "nat_local": s.nat_local, "nat_remote": s.nat_remote,
            })).collect::<Vec<_>>()}),
        ),
        EngineEvent::Path {
            sa: id,
            path,
            state,
            rtt,
        } => (
            "path",
            json!({"sa": sa(id), "local": path.local.to_string(), "remote": path.remote.to_string(),
                "state": state.name(), "rtt_ms": rtt.map(|d| d.as_secs_f64() * 1000.0)}),
        ),
        EngineEvent::Moved {
            sa: id,
            old,
            new,
            cause,
            elapsed,
            children,
        } => (
            "moved",
            json!({"sa": sa(id), "old": path_json(old), "new": path_json(new),
                "cause": cause.name(), "elapsed_ms": elapsed.as_secs_f64() * 1000.0,
                "children": children}),
        ),
        EngineEvent::Addresses {
            sa: id,
            local,
            remote,
        } => (
            "addresses",
            json!({"sa": sa(id), "local": addr_list(local), "remote": addr_list(remote)}),
        ),
        EngineEvent::Nat {
            sa: id,
            local,
            remote,
            mapping_changed,
        } => (
            "nat",
            json!({"sa": sa(id), "local": local, "remote": remote, "mapping_changed": mapping_changed}),
        ),
        EngineEvent::RrCheck { sa: id, path, ok } => (
            "rr_check",
            json!({"sa": sa(id), "path": path_json(path), "ok": ok}),
        ),
        EngineEvent::MobikeNotify {
            sa: id,
            sent,
            notify,
            detail,
        } => (
            "mobike_notify",
            json!({"sa": sa(id), "sent": sent,
                "notify": crate::wire::registry::notify_name(*notify).map(str::to_string).unwrap_or_else(|| notify.to_string()),
                "detail": detail}),
        ),
    };
    let Value::Object(m) = v else {
        unreachable!("json! object")
    };
    (name, m)
}

fn path_json(p: &crate::engine::Path) -> Value {
    json!({"local": p.local.to_string(), "remote": p.remote.to_string()})
}

fn addr_list(v: &[IpAddr]) -> Value {
    Value::from(v.iter().map(|a| a.to_string()).collect::<Vec<_>>())
}

fn text_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        Value::Array(a) => a.iter().map(text_value).collect::<Vec<_>>().join(","),
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| format!("{k}:{}", text_value(v)))
            .collect::<Vec<_>>()
            .join(";"),
        other => other.to_string(),
    }
}

/// One readable line for an event object (`event` and `time` included).
pub fn event_text(obj: &Map<String, Value>) -> String {
    let ev = obj.get("event").and_then(Value::as_str).unwrap_or("?");
    let time = obj
        .get("time")
        .and_then(Value::as_str)
        .map(|t| t.get(11..23).unwrap_or(t).to_string())
        .unwrap_or_default();
    let get = |k: &str| obj.get(k).map(text_value).unwrap_or_default();
    let body = match ev {
        "sent" | "received" => format!(
            "{} {} {} {} [ {} ] {} {} {}",
            get("sa"),
            get("exchange"),
            if obj.get("response") == Some(&Value::Bool(true)) {
                "response"
            } else {
                "request"
            },
            get("message_id"),
            get("payloads"),
            get("local"),
            if ev == "sent" { "->" } else { "<-" },
            get("remote")
        ),
        "status" => {
            let sas = obj
                .get("sas")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if sas.is_empty() {
                "no IKE SAs".into()
            } else {
                sas.iter()
                    .map(|s| {
                        s.as_object()
                            .map(|m| {
                                m.iter()
                                    .map(|(k, v)| format!("{k}={}", text_value(v)))
                                    .collect::<Vec<_>>()
                                    .join(" ")
                            })
                            .unwrap_or_default()
                    })
                    .collect::<Vec<_>>()
                    .join(" | ")
            }
        }
        _ => obj
            .iter()
            .filter(|(k, _)| *k != "event" && *k != "time")
            .map(|(k, v)| {
                if k == "sa" || k == "reason" {
                    text_value(v)
                } else {
                    format!("{k}={}", text_value(v))
                }
            })
            .collect::<Vec<_>>()
            .join(" "),
    };
    format!("{time} {ev} {body}")
}

// ---------------------------------------------------------------- runtime

struct Peer {
    out: Box<dyn Write>,
    format: EventFormat,
    pcap: Option<PcapWriter<BufWriter<File>>>,
    keylog: Option<File>,
    logged: HashSet<(u64, u64)>,
    quitting: Option<Timestamp>,
}

impl Peer {
    fn emit(&mut self, name: &str, body: Map<String, Value>) {
        let mut m = Map::new();
        m.insert("event".into(), Value::from(name));
        m.insert("time".into(), Value::from(rfc3339(SystemTime::now())));
        m.extend(body);
        let line = match self.format {
            EventFormat::Json => Value::Object(m).to_string(),
            EventFormat::Text => event_text(&m),
        };
        // stdout gone: nothing sensible left to report to
        let _ = writeln!(self.out, "{line}");
        let _ = self.out.flush();
    }

    fn error(&mut self, sa: Option<SaId>, reason: impl Into<String>) {
        let mut m = Map::new();
        m.insert(
            "sa".into(),
            sa.map(|s| Value::from(s.to_string()))
                .unwrap_or(Value::Null),
        );
        m.insert("reason".into(), Value::from(reason.into()));
        self.emit("error", m);
    }

    fn established(engine: &Engine) -> Vec<SaId> {
        engine
            .sas()
            .filter(|s| s.state == IkeState::Established)
            .map(|s| s.id)
            .collect()
    }

    fn pick(&mut self, engine: &Engine, sa: Option<SaId>) -> Option<SaId> {
        match sa {
            Some(s) => Some(s),
            None => {
                let newest = Self::established(engine).into_iter().max();
                if newest.is_none() {
                    self.error(None, "no established IKE SA (bring one up with 'up')");
                }
                newest
            }
        }
    }

    fn run_engine(&mut self, engine: &mut Engine, now: Timestamp, c: Command) {
        if let Err(e) = engine.command(now, c) {
            let sa = match &e {
                crate::engine::CommandError::UnknownSa(s)
                | crate::engine::CommandError::UnknownChild(s, _)
                | crate::engine::CommandError::InvalidState(s, _) => Some(*s),
                _ => None,
            };
            self.error(sa, e.to_string());
        }
    }

    fn quit(&mut self, engine: &mut Engine, now: Timestamp) {
        if self.quitting.is_some() {
            return;
        }
        self.quitting = Some(now + QUIT_GRACE);
        for id in Self::established(engine) {
            self.run_engine(engine, now, Command::Down(id));
        }
    }
}

impl Handler for Peer {
    fn command(&mut self, engine: &mut Engine, now: Timestamp, line: &str) {
        let cmd = match parse_command(line) {
            Ok(Some(c)) => c,
            Ok(None) => return,
            Err(e) => {
                self.error(None, e.0);
                return;
            }
        };
        match cmd {
            PeerCommand::Up(name) => {
                let conn = match name {
                    Some(n) => engine.config().connections.iter().find(|c| c.name == n),
                    None => engine.config().connections.first(),
                };
                match conn {
                    Some(c) if c.remote.ip().is_unspecified() => {
                        let msg = format!(
                            "connection '{}' has no remote address to initiate to (--remote)",
                            c.name
                        );
                        self.error(None, msg);
                    }
                    Some(c) => {
                        let n = c.name.clone();
                        self.run_engine(engine, now, Command::Up(n));
                    }
                    None => {
                        let names: Vec<String> = engine
                            .config()
                            .connections
                            .iter()
                            .map(|c| c.name.clone())
                            .collect();
                        self.error(
                            None,
                            format!("no such connection; configured: {}", names.join(", ")),
                        );
                    }
                }
            }
            PeerCommand::Down(Some(id)) => self.run_engine(engine, now, Command::Down(id)),
            PeerCommand::Down(None) => {
                let all = Self::established(engine);
                if all.is_empty() {
                    self.error(None, "no established IKE SA to delete");
                }
                for id in all {
                    self.run_engine(engine, now, Command::Down(id));
                }
            }
            PeerCommand::Dpd(sa) => {
                if let Some(id) = self.pick(engine, sa) {
                    self.run_engine(engine, now, Command::Dpd(id));
                }
            }
            PeerCommand::Rekey(what, sa) => {
                if let Some(id) = self.pick(engine, sa) {
                    let c = match what {
                        RekeyTarget::Ike => Command::RekeyIke(id),
                        RekeyTarget::Child => {
                            match engine.sa(id).and_then(|s| s.children.first()) {
                                Some(c) => Command::RekeyChild(id, c.spi_in),
                                None => {
                                    self.error(Some(id), format!("IKE SA {id} has no CHILD_SA"));
                                    return;
                                }
                            }
                        }
                    };
                    self.run_engine(engine, now, c);
                }
            }
            PeerCommand::Status => self.run_engine(engine, now, Command::Status),
            PeerCommand::Quit => self.quit(engine, now),
        }
    }

    fn input_closed(&mut self, engine: &mut Engine, now: Timestamp) {
        self.quit(engine, now);
    }

    fn event(&mut self, _engine: &Engine, event: EngineEvent) {
        let (name, body) = event_json(&event);
        self.emit(name, body);
    }

    fn packet(&mut self, dir: Direction, path: crate::engine::Path, wire: &[u8]) {
        let (src, dst) = match dir {
            Direction::Sent => (path.local, path.remote),
            Direction::Received => (path.remote, path.local),
        };
        if let Some(p) = self.pcap.as_mut() {
            if let Err(e) = p.write_udp(SystemTime::now(), src, dst, wire) {
                self.pcap = None;
                self.error(None, format!("pcap: {e}; capture stopped"));
            }
        }
    }

    fn io_error(&mut self, message: String) {
        self.error(None, message);
    }

    fn after_round(&mut self, engine: &Engine) {
        let Some(f) = self.keylog.as_mut() else {
            return;
        };
        let mut failed = None;
        for sa in engine.sas() {
            let (Some(keys), true) = (sa.keys.as_ref(), sa.spi_r != 0) else {
                continue;
            };
            if !self.logged.insert((sa.spi_i, sa.spi_r)) {
                continue;
            }
            if let Err(e) = keylog::write_keylog_record(f, sa.spi_i, sa.spi_r, keys, &sa.ni, &sa.nr)
                .and_then(|()| f.flush())
            {
                failed = Some(e);
                break;
            }
        }
        if let Some(e) = failed {
            self.keylog = None;
            self.error(None, format!("key log: {e}; no more keys are written"));
        }
    }

    fn finished(&mut self, engine: &Engine, now: Timestamp) -> bool {
        match self.quitting {
            None => false,
            Some(deadline) => {
                now >= deadline
                    || !engine
                        .sas()
                        .any(|s| matches!(s.state, IkeState::Established | IkeState::Deleting))
            }
        }
    }

    fn deadline(&self) -> Option<Timestamp> {
        self.quitting
    }
}

fn create_keylog(path: &Path) -> io::Result<File> {
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| io::Error::new(e.kind(), format!("key log {}: {e}", path.display())))?;
    // an existing file keeps its mode on open: enforce 0600
    use std::os::unix::fs::PermissionsExt;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    keylog::write_keylog_header(&mut f)?;
    f.flush()?;
    Ok(f)
}

/// Run the peer with stdin commands and stdout events. Returns the process exit code.
pub fn main(args: &PeerArgs) -> ExitCode {
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mobikectl peer: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &PeerArgs) -> Result<(), String> {
    let s = settings(args)?;
    let sockets = Sockets::bind(&s.bind, s.port, s.natt_port).map_err(|e| e.to_string())?;
    let keylog = s
        .keylog
        .as_deref()
        .map(create_keylog)
        .transpose()
        .map_err(|e| e.to_string())?;
    let pcap = s
        .pcap
        .as_deref()
        .map(PcapWriter::create)
        .transpose()
        .map_err(|e| format!("pcap: {e}"))?;
    let names: Vec<String> = s
        .config
        .connections
        .iter()
        .map(|c| c.name.clone())
        .collect();
    let first = names.first().cloned();
    let mut config = s.config;
    // Certificate validity dates: engine time zero is (about) now.
    config.unix_time_at_epoch = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs());
    let mut engine = Engine::new(config, Box::new(OsRandom));
    let clock = Clock::new();
    let mut peer = Peer {
        out: Box::new(io::stdout()),
        format: s.events,
        pcap,
        keylog,
        logged: HashSet::new(),
        quitting: None,
    };
    let mut ready = Map::new();
    ready.insert(
        "listening".into(),
        Value::from(
            sockets
                .local_addrs()
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>(),
        ),
    );
    ready.insert("connections".into(), Value::from(names));
    ready.insert(
        "mode".into(),
        Value::from(if s.listen { "responder" } else { "initiator" }),
    );
    peer.emit("ready", ready);
    if !s.listen {
        if let Some(n) = first {
            peer.run_engine(&mut engine, clock.now(), Command::Up(n));
        }
    }
    let input = event_loop::spawn_line_reader(BufReader::new(io::stdin()))
        .map_err(|e| format!("stdin reader: {e}"))?;
    event_loop::run(&mut engine, &sockets, &clock, Some(input), &mut peer)
        .map_err(|e| format!("event loop: {e}"))?;
    peer.emit("exit", Map::new());
    Ok(())
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
    fn text_lines() {
        let mut m = Map::new();
        m.insert("event".into(), "error".into());
        m.insert("time".into(), "2024-01-01T12:00:00.123456Z".into());
        m.insert("sa".into(), Value::Null);
        m.insert("reason".into(), "boom".into());
        assert_eq!(event_text(&m), "12:00:00.123 error - boom");
    }
}
