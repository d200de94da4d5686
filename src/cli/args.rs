//! The command-line definition. Completions and the man page are generated from it.
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// IKEv2 and MOBIKE (RFC 4555) interop toolkit: decode captured IKEv2 traffic.
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
}
