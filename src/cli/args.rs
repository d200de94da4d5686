//! The command-line definition. Completions and the man page are generated from it.
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// IKEv2 and MOBIKE (RFC 4555) interop toolkit: decode captured IKEv2 traffic, run a live
/// IKEv2 peer.
#[derive(Debug, Parser)]
#[command(name = "mobikectl", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Decode IKEv2 messages from pcap/pcapng files or a live interface.
    ///
    /// Reads UDP 500, UDP 4500 (non-ESP marker, NAT-T keepalives, ESP-in-UDP), raw ESP and
    /// IKE over TCP (RFC 8229/9329). Exit status: 0 when everything decoded, 1 when some input
    /// was malformed or truncated (decoding goes on; each problem is reported on stderr),
    /// 2 when a file or interface could not be opened or the arguments are wrong.
    Decode(DecodeArgs),
    /// Run a live, headless IKEv2 peer (PSK or certificate authentication).
    ///
    /// Initiates the first connection at start (responder with --listen), reads commands on
    /// stdin, one per line (`help` lists them: up, down, rekey, dpd, child, status, addr,
    /// move, probe, update, nat, drop, loss, send, quit; end of input = quit) and writes
    /// events to stdout as JSON Lines (or text).
    /// Every option can also be set in a TOML file (--config), which may define several named
    /// connections; command-line options override the file. Exit status: 0 after quit,
    /// 2 when the configuration is wrong or a socket cannot be bound.
    Peer(Box<PeerArgs>),
    /// Run a failover drill (a script of peer commands, waits and expectations).
    ///
    /// Against a real gateway: `mobikectl drill FILE -- PEER-OPTIONS...` (or --peer-config
    /// FILE) runs `mobikectl peer PEER-OPTIONS...` and drives it; with --lab the drill runs
    /// on the embedded virtual lab (two engines on an in-memory network with a simulated
    /// clock, the same result on every run). Prints a timeline and a summary table (or
    /// JSON). Exit status: 0 when every expectation held, 1 when one failed, 2 when the
    /// file or the configuration is wrong (nothing ran); SIGINT or SIGTERM stop the drill
    /// (the peer deletes its SAs, the report shows what was measured so far) with 130 or
    /// 143.
    Drill(DrillArgs),
    /// Run the embedded lab: the default failover drill (SA up, address loss, probe, move,
    /// NAT rebinding, move back, a ping through the CHILD_SA throughout) with two engines
    /// on loopback addresses (real UDP sockets, no root), or on a virtual network with a
    /// simulated clock (--virtual).
    ///
    /// Exit status as for drill.
    Lab(LabArgs),
    /// A terminal UI: browse captures (`tui FILE...`), or drive a live peer (`tui --
    /// PEER-OPTIONS`, `tui --peer-config FILE`).
    ///
    /// Captures: SA list, MOBIKE timeline, message list with request/response pairing,
    /// payload tree, bytes, display filter; without a terminal (or with --plain) one line
    /// per message and the MOBIKE analysis' events. Live: the peer's SAs, address sets,
    /// path matrix, events, moves and ping, with keys for address loss, probes, updates,
    /// moves, dropped paths, NAT rebinding, rekeys; without a terminal (or with --plain) the
    /// peer's own output, one line per event. Keys as in Wireshark and termshark
    /// (`?` lists them; `--bindings FILE` rebinds them). Exit status: 0, or 2 when a file
    /// cannot be read or the arguments are wrong.
    Tui(TuiArgs),
    /// Print a shell completion script for SHELL to stdout.
    Completions {
        /// The shell to generate completions for.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout.
    Man,
}

/// Output format of `decode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One header line per IKE message and an indented payload tree.
    Text,
    /// JSON Lines: one object per IKE message (schema in README).
    Json,
    /// Summary tables: one row per IKE SA, per exchange, per ESP SPI.
    Table,
}

#[derive(Debug, clap::Args)]
pub struct DecodeArgs {
    /// Capture files (pcap or pcapng), decoded one after another.
    #[arg(
        value_name = "FILE",
        required_unless_present = "interface",
        conflicts_with = "interface"
    )]
    pub files: Vec<PathBuf>,
    /// Capture live from this interface instead of reading files (needs root or CAP_NET_RAW).
    #[arg(short, long, value_name = "IFACE")]
    pub interface: Option<String>,
    /// Stop a live capture after this many IKE messages.
    #[arg(short = 'c', long, value_name = "N", requires = "interface")]
    pub count: Option<u64>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Instead of the messages, print what happened per IKE SA, one line per event in time
    /// order: request/response pairs with round-trip times, retransmissions, path probes,
    /// NAT detection verdicts, MOBIKE address announcements and moves, COOKIE2 checks,
    /// rekeys and protocol violations (JSON Lines with --format json).
    #[arg(long, conflicts_with = "hex")]
    pub timeline: bool,
    /// Also show ESP packets, decrypted when the CHILD_SA's keys are known: derived from SK_d
    /// and the decrypted IKE_AUTH / CREATE_CHILD_SA exchanges (key logs and charon logs carry
    /// SK_d), or taken from a charon log at `chd 4`. Shows the inner IP header.
    #[arg(long, conflicts_with = "timeline")]
    pub esp: bool,
    /// Add a hex dump of every payload (text output).
    #[arg(long)]
    pub hex: bool,
    /// Only show messages matching KEY=VALUE; KEY is spi (either SPI, hex), exchange (name or
    /// number), addr (source or destination IP) or mid (message ID). Repeat to narrow down; the
    /// same key repeated matches any of its values.
    #[arg(long, value_name = "KEY=VALUE")]
    pub filter: Vec<String>,
    /// Decrypt SK/SKF payloads with the keys in FILE (repeatable): a Wireshark
    /// ikev2_decryption_table, a strongSwan charon log at 'ike 4', or a mobikectl key log; the
    /// format is detected from the content.
    #[arg(short, long = "keys", value_name = "FILE")]
    pub keys: Vec<PathBuf>,
    /// Also treat this TCP port as IKE over TCP (RFC 8229); 4500 always is.
    #[arg(long = "tcp-port", value_name = "PORT")]
    pub tcp_ports: Vec<u16>,
    /// Also treat this UDP port as IKE (besides 500 and 4500).
    #[arg(long = "udp-port", value_name = "PORT")]
    pub udp_ports: Vec<u16>,
    /// Also treat this UDP port as a NAT-T port (besides 4500): IKE after the non-ESP
    /// marker, ESP in UDP, keepalives.
    #[arg(long = "natt-port", value_name = "PORT")]
    pub natt_ports: Vec<u16>,
}

/// Event output format of `peer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventFormat {
    /// JSON Lines: one object per event with `event` and `time` keys (schema in README).
    Json,
    /// One readable line per event.
    Text,
}

#[derive(Debug, Default, clap::Args)]
pub struct PeerArgs {
    /// Read settings (and named connections) from this TOML file; options given here win.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Our address (repeatable: our address set; the first one initiates). Default: the
    /// source address the routing table picks for the first --remote; with --listen and no
    /// --local, every interface address.
    #[arg(long = "local", value_name = "ADDR")]
    pub local: Vec<std::net::IpAddr>,
    /// The peer's address (repeatable; the first one is initiated to, the others are the
    /// peer's further addresses MOBIKE may move to). With --listen it restricts who may
    /// connect.
    #[arg(long = "remote", value_name = "ADDR")]
    pub remote: Vec<std::net::IpAddr>,
    /// Responder mode: do not initiate at start, wait for peers.
    #[arg(long)]
    pub listen: bool,
    /// Follow the OS's address changes (Linux rtnetlink, RTM_NEWADDR / RTM_DELADDR): bind
    /// sockets on a new address and announce it, close them on a removed one and move the
    /// SAs that used it. Off by default: the address set changes only with `addr add|del`.
    #[arg(long = "follow-os")]
    pub follow_os: bool,
    /// Our identity: an IP address, @fqdn, user@host, @#hex (KEY_ID) or a DN such as
    /// "C=XX, O=org, CN=name". Default: the first subjectAltName of --cert, else our
    /// address.
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,
    /// The identity the peer must authenticate as (default: any).
    #[arg(long = "remote-id", value_name = "ID")]
    pub remote_id: Option<String>,
    /// File holding the pre-shared key (first line; `0x` prefix = hex). A PSK is never
    /// accepted on the command line.
    #[arg(long = "psk-file", value_name = "FILE")]
    pub psk_file: Option<PathBuf>,
    /// Authenticate with this X.509 certificate (PEM; intermediate CA certificates may
    /// follow ours in the file) instead of a PSK. Needs --key and --ca.
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// The private key of --cert (PEM: PKCS#8, PKCS#1 RSA or SEC1 EC; RSA, P-256, P-384).
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// A CA certificate (PEM) the peer's certificate must chain to (repeatable).
    #[arg(long = "ca", value_name = "FILE")]
    pub ca: Vec<PathBuf>,
    /// IKE proposals in strongSwan syntax, e.g. aes256gcm16-prfsha384-ecp384 (comma list).
    #[arg(long, value_name = "PROPOSALS")]
    pub ike: Option<String>,
    /// ESP proposals in strongSwan syntax, e.g. aes128gcm16 or aes128-sha256-modp2048.
    #[arg(long, value_name = "PROPOSALS")]
    pub esp: Option<String>,
    /// Request a virtual IP from the responder: 0.0.0.0 or :: (the family follows the IKE
    /// address family).
    #[arg(long, value_name = "ADDR")]
    pub vip: Option<std::net::IpAddr>,
    /// Our traffic selectors (CIDR, repeatable). Default: our address or virtual IP.
    #[arg(long = "local-ts", value_name = "CIDR")]
    pub local_ts: Vec<String>,
    /// The peer's traffic selectors (CIDR, repeatable). Default: its address or virtual IP.
    #[arg(long = "remote-ts", value_name = "CIDR")]
    pub remote_ts: Vec<String>,
    /// Responder: virtual IPs to hand out (CIDR or address, repeatable).
    #[arg(long = "pool", value_name = "CIDR")]
    pub pool: Vec<String>,
    /// Do not announce MOBIKE (IKE then stays on the IKE port unless a NAT is detected).
    #[arg(long = "no-mobike")]
    pub no_mobike: bool,
    /// IKE port (default 500).
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// NAT-T port, with the non-ESP marker (default 4500).
    #[arg(long = "natt-port", value_name = "PORT")]
    pub natt_port: Option<u16>,
    /// Write every IKE SA's keys to FILE (mobikectl key log: a Wireshark
    /// ikev2_decryption_table line plus SK_d, PRF and nonces), created with mode 0600.
    #[arg(long, value_name = "FILE")]
    pub keylog: Option<PathBuf>,
    /// Write every datagram sent and received to FILE (pcapng, raw IP + UDP).
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<PathBuf>,
    /// Event output format (default json).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub events: Option<EventFormat>,
    /// The peer's IKE port (default: ours, --port).
    #[arg(long = "remote-port", value_name = "PORT")]
    pub remote_port: Option<u16>,
    /// The peer's NAT-T port (default: ours, --natt-port).
    #[arg(long = "remote-natt-port", value_name = "PORT")]
    pub remote_natt_port: Option<u16>,
    /// No NAT traversal: no NAT detection, no float to the NAT-T port; MOBIKE messages
    /// that can change addresses carry NO_NATS_ALLOWED (RFC 4555 §3.9).
    #[arg(long = "no-natt")]
    pub no_natt: bool,
    /// Claim a NAT in front of us in NAT detection from IKE_SA_INIT on, so that ESP is
    /// UDP-encapsulated on the NAT-T port even without a NAT (strongSwan `encap = yes`).
    #[arg(long)]
    pub encap: bool,
    /// Dead peer detection: send an empty INFORMATIONAL when nothing came from the peer
    /// for this long (default 0 = only on the `dpd` command).
    #[arg(long, value_name = "SECONDS")]
    pub dpd: Option<f64>,
    // -- MOBIKE policies and timers (engine-wide)
    /// Responder: return routability check (COOKIE2 to the new address) before moving
    /// the CHILD_SAs: always (RFC 4555), unannounced (only for addresses the peer did not
    /// announce), never (as strongSwan does) or optimistic (move at once, check after, move
    /// back if the check fails). Default always.
    #[arg(long, value_name = "POLICY", value_parser = ["always", "unannounced", "never", "optimistic"])]
    pub rr: Option<String>,
    /// Responder: refuse UPDATE_SA_ADDRESSES to addresses in CIDR with
    /// UNACCEPTABLE_ADDRESSES (repeatable).
    #[arg(long, value_name = "CIDR")]
    pub refuse: Vec<String>,
    /// MOBIKE: first retransmission timeout of a path probe (default 0.5; later ones
    /// back off by 1.5, at most 5 s apart).
    #[arg(long = "probe-timeout", value_name = "SECONDS")]
    pub probe_timeout: Option<f64>,
    /// MOBIKE: delete the IKE SA when no path answered probes for this long (default 165).
    #[arg(long = "give-up", value_name = "SECONDS")]
    pub give_up: Option<f64>,
    /// MOBIKE responder: keep an IKE SA whose initiator stopped answering at least this
    /// long (default 300, RFC 4555 §3.11).
    #[arg(long = "responder-hold", value_name = "SECONDS")]
    pub responder_hold: Option<f64>,
    /// MOBIKE: test the other paths this often while the current one works (default 0 =
    /// never; RFC 4555 §3.10).
    #[arg(long = "path-test", value_name = "SECONDS")]
    pub path_test: Option<f64>,
    // -- timers: NAT-T keepalives and the retransmission schedule (strongSwan defaults)
    /// NAT-T keepalive interval in seconds, sent while a NAT is detected in front of us
    /// (default 20; 0 = off).
    #[arg(long, value_name = "SECONDS")]
    pub keepalive: Option<f64>,
    /// Retransmission: first timeout in seconds (default 4).
    #[arg(long = "retransmit-timeout", value_name = "SECONDS")]
    pub retransmit_timeout: Option<f64>,
    /// Retransmission: exponential back-off base (default 1.8).
    #[arg(long = "retransmit-base", value_name = "FACTOR")]
    pub retransmit_base: Option<f64>,
    /// Retransmission: retransmissions before an exchange times out (default 5).
    #[arg(long = "retransmit-tries", value_name = "N")]
    pub retransmit_tries: Option<u32>,
}

/// Report format of `drill` and `lab`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ReportFormat {
    /// A timeline (one line per step) and a summary table.
    #[default]
    Text,
    /// One JSON object: steps, measurements, failures, exit code.
    Json,
}

#[derive(Debug, clap::Args)]
pub struct DrillArgs {
    /// The drill file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Run on the embedded virtual lab instead of a real gateway.
    #[arg(long, conflicts_with_all = ["peer_options", "peer_config"])]
    pub lab: bool,
    /// Drive `mobikectl peer --config FILE` (options after -- are added).
    #[arg(long = "peer-config", value_name = "FILE")]
    pub peer_config: Option<PathBuf>,
    /// The options of the `mobikectl peer` the drill drives, after -- (as for
    /// `mobikectl peer`; --events is set by the drill).
    #[arg(last = true, value_name = "PEER-OPTIONS")]
    pub peer_options: Vec<String>,
    /// Put a NAT in front of the lab's initiator.
    #[arg(long, requires = "lab")]
    pub nat: bool,
    /// Report format.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = ReportFormat::Text)]
    pub report: ReportFormat,
    /// Allow `shell` statements (refused otherwise: the drill does not run).
    #[arg(long = "allow-shell")]
    pub allow_shell: bool,
    /// Show every event of the target in the report.
    #[arg(long)]
    pub events: bool,
    /// Write every datagram the lab's network carried to FILE (pcap, as the receivers saw
    /// them; `mobikectl decode --udp-port 10500 --natt-port 14500 FILE` decodes it).
    #[arg(long, value_name = "FILE", requires = "lab")]
    pub pcap: Option<PathBuf>,
    /// Write a picture of the run to FILE (SVG: one lane per path, messages, moves,
    /// NAT changes, the dark interval shaded).
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct LabArgs {
    /// The virtual lab (in-memory network, simulated clock: the same output on every
    /// run) instead of the loopback lab (real UDP sockets on 127.0.0.x, the wall clock).
    #[arg(long = "virtual")]
    pub virtual_lab: bool,
    /// Run this drill instead of the default one.
    #[arg(long, value_name = "FILE")]
    pub drill: Option<PathBuf>,
    /// Run the drill and print the report instead of opening the terminal UI (the UI opens
    /// only on a terminal, for the loopback lab without --drill, --virtual, --report json,
    /// --events, --pcap or --svg).
    #[arg(long = "no-tui")]
    pub no_tui: bool,
    /// Put a NAT in front of the initiator (the default drill is then drills/nat.drill: a
    /// real NAT rebinding).
    #[arg(long)]
    pub nat: bool,
    /// Report format.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = ReportFormat::Text)]
    pub report: ReportFormat,
    /// Allow `shell` statements in --drill FILE.
    #[arg(long = "allow-shell")]
    pub allow_shell: bool,
    /// Show every event of the lab in the report.
    #[arg(long)]
    pub events: bool,
    /// Write every datagram the lab's network carried to FILE (pcap, as the receivers saw
    /// them; `mobikectl decode --udp-port 10500 --natt-port 14500 FILE` decodes it; the
    /// loopback lab uses other ports when these are taken).
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<PathBuf>,
    /// Write a picture of the run to FILE (SVG: one lane per path, messages, moves,
    /// NAT changes, the dark interval shaded).
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// Scale test instead of a drill: N IKE SAs (each with a CHILD_SA) set up on the
    /// virtual lab, then all moved by one address loss; reports set-up rate, time until
    /// all moved, CPU per move and memory per SA.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub sas: Option<u32>,
    #[command(flatten)]
    pub ui: UiArgs,
}

/// When to use colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Unless NO_COLOR is set.
    Auto,
    Always,
    Never,
}

/// How the terminal UI looks and which keys it takes (`tui` and `lab`).
#[derive(Debug, Clone, clap::Args)]
pub struct UiArgs {
    /// Key bindings: `KEY = command` lines (e.g. `ctrl-n = down`); a peer configuration
    /// file's `[keys]` table rebinds them too.
    #[arg(long, value_name = "FILE")]
    pub bindings: Option<PathBuf>,
    /// Colours.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// ASCII borders and glyphs, for terminals without box drawing.
    #[arg(long)]
    pub ascii: bool,
}

/// Arguments of `tui`.
#[derive(Debug, clap::Args)]
pub struct TuiArgs {
    /// Capture files (pcap or pcapng).
    #[arg(value_name = "FILE", required_unless_present_any = ["peer_options", "peer_config"])]
    pub files: Vec<PathBuf>,
    /// Drive `mobikectl peer --config FILE` live (options after -- are added).
    #[arg(long = "peer-config", value_name = "FILE", conflicts_with = "files")]
    pub peer_config: Option<PathBuf>,
    /// Drive a live `mobikectl peer` with these options, after -- (as for `mobikectl peer`).
    #[arg(last = true, value_name = "PEER-OPTIONS", conflicts_with = "files")]
    pub peer_options: Vec<String>,
    /// Decrypt SK/SKF payloads with the keys in FILE (repeatable), as for decode.
    #[arg(short, long = "keys", value_name = "FILE")]
    pub keys: Vec<PathBuf>,
    /// Start with this display filter (isakmp.* fields, or exch==, notify==, sa==, mid==...).
    #[arg(short = 'Y', long, value_name = "EXPR")]
    pub filter: Option<String>,
    #[command(flatten)]
    pub ui: UiArgs,
    /// One line per message (live: per event) instead of the UI (also without a terminal).
    #[arg(long)]
    pub plain: bool,
    /// Also treat this UDP port as IKE (besides 500 and 4500), as for decode.
    #[arg(long = "udp-port", value_name = "PORT")]
    pub udp_ports: Vec<u16>,
    /// Also treat this UDP port as a NAT-T port (besides 4500), as for decode.
    #[arg(long = "natt-port", value_name = "PORT")]
    pub natt_ports: Vec<u16>,
}
