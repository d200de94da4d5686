# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_mobikectl_global_optspecs
    string join \n h/help V/version
end

function __fish_mobikectl_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_mobikectl_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_mobikectl_using_subcommand
    set -l cmd (__fish_mobikectl_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c mobikectl -n "__fish_mobikectl_needs_command" -s h -l help -d 'Print help'
complete -c mobikectl -n "__fish_mobikectl_needs_command" -s V -l version -d 'Print version'
complete -c mobikectl -n "__fish_mobikectl_needs_command" -f -a "decode" -d 'Decode IKEv2 messages from pcap/pcapng files or a live interface'
complete -c mobikectl -n "__fish_mobikectl_needs_command" -f -a "peer" -d 'Run a live, headless IKEv2 peer (PSK or certificate authentication)'
complete -c mobikectl -n "__fish_mobikectl_needs_command" -f -a "drill" -d 'Run a failover drill (a script of peer commands, waits and expectations)'
complete -c mobikectl -n "__fish_mobikectl_needs_command" -f -a "lab" -d 'Run the embedded lab: the default failover drill (SA up, address loss, probe, move, NAT rebinding, move back, a ping through the CHILD_SA throughout) with two engines on loopback addresses (real UDP sockets, no root), or on a virtual network with a simulated clock (--virtual)'
complete -c mobikectl -n "__fish_mobikectl_needs_command" -f -a "tui" -d 'A terminal UI: browse captures (`tui FILE...`), or drive a live peer (`tui -- PEER-OPTIONS`, `tui --peer-config FILE`)'
complete -c mobikectl -n "__fish_mobikectl_needs_command" -f -a "completions" -d 'Print a shell completion script for SHELL to stdout'
complete -c mobikectl -n "__fish_mobikectl_needs_command" -f -a "man" -d 'Print the man page (roff) to stdout'
complete -c mobikectl -n "__fish_mobikectl_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mobikectl -n "__fish_mobikectl_using_subcommand decode" -s i -l interface -d 'Capture live from this interface instead of reading files (needs root or CAP_NET_RAW)' -r
complete -c mobikectl -n "__fish_mobikectl_using_subcommand decode" -s c -l count -d 'Stop a live capture after this many IKE messages' -r
complete -c mobikectl -n "__fish_mobikectl_using_subcommand decode" -s f -l format -d 'Output format' -r -f -a "text\t'One header line per IKE message and an indented payload tree'
json\t'JSON Lines: one object per IKE message (schema in README)'
table\t'Summary tables: one row per IKE SA, per exchange, per ESP SPI'"
complete -c mobikectl -n "__fish_mobikectl_using_subcommand decode" -l filter -d 'Only show messages matching KEY=VALUE; KEY is spi (either SPI, hex), exchange (name or number), addr (source or destination IP) or mid (message ID). Repeat to narrow down; the same key repeated matches any of its values' -r
complete -c mobikectl -n "__fish_mobikectl_using_subcommand decode" -s k -l keys -d 'Decrypt SK/SKF payloads with the keys in FILE (repeatable): a Wireshark ikev2_decryption_table, a strongSwan charon log at \'ike 4\', or a mobikectl key log; the format is detected from the content' -r -F
complete -c mobikectl -n "__fish_mobikectl_using_subcommand decode" -l tcp-port -d 'Also treat this TCP port as IKE over TCP (RFC 8229); 4500 always is' -r
complete -c mobikectl -n "__fish_mobikectl_using_subcommand decode" -l udp-port -d 'Also treat this UDP port as IKE (besides 500 and 4500)' -r
complete -c mobikectl -n "__fish_mobikectl_using_subcommand decode" -l natt-port -d 'Also treat this UDP port as a NAT-T port (besides 4500): IKE after the non-ESP marker, ESP in UDP, keepalives' -r
complete -c mobikectl -n "__fish_mobikectl_using_subcommand decode" -l timeline -d 'Instead of the messages, print what happened per IKE SA, one line per event in time order: request/response pairs with round-trip times, retransmissions, path probes, NAT detection verdicts, MOBIKE address announcements and moves, COOKIE2 checks, rekeys and protocol violations (JSON Lines with --format json)'
complete -c mobikectl -n "__fish_mobikectl_using_subcommand decode" -l esp -d 'Also show ESP packets, decrypted when the CHILD_SA\'s keys are known: derived from SK_d and the decrypted IKE_AUTH / CREATE_CHILD_SA exchanges (key logs and charon logs carry SK_d), or taken from a charon log at `chd 4`. Shows the inner IP header'
complete -c mobikectl -n "__fish_mobikectl_using_subcommand decode" -l hex -d 'Add a hex dump of every payload (text output)'
complete -c mobikectl -n "__fish_mobikectl_using_subcommand decode" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mobikectl -n "__fish_mobikectl_using_subcommand peer" -l config -d 'Read settings (and named connections) from this TOML file; options given here win' -r -F
complete -c mobikectl -n "__fish_mobikectl_using_subcommand peer" -l local -d 'Our address (repeatable: our address set; the first one initiates). Default: the source address the routing table picks for the first --remote; with --listen and no --local, every interface address' -r
complete -c mobikectl -n "__fish_mobikectl_using_subcommand peer" -l remote -d 'The peer\'s address (repeatable; the first one is initiated to, the others are the peer\'s further addresses MOBIKE may move to). With --listen it restricts who may connect' -r
complete -c mobikectl -n "__fish_mobikectl_using_subcommand peer" -l id -d 'Our identity: an IP address, @fqdn, user@host, @#hex (KEY_ID) or a DN such as "C=XX, O=org, CN=name". Default: the first subjectAltName of --cert, else our address' -r
complete -c mobikectl -n "__fish_mobikectl_using_subcommand peer" -l remote-id -d 'The identity the peer must authenticate as (default: any)' -r
complete -c mobikectl -n "__fish_mobikectl_using_subcommand peer" -l psk-file -d 'File holding the pre-shared key (first line; `0x` prefix = hex). A PSK is never accepted on the command line' -r -F
complete -c mobikectl -n "__fish_mobikectl_using_subcommand peer" -l cert -d 'Authenticate with this X.509 certificate (PEM; intermediate CA certificates may follow ours in the file) instead of a PSK. Needs --key and --ca' -r -F
complete -c mobikectl -n "__fish_mobikectl_using_subcommand peer" -l key -d 'The private key of --cert (PEM: PKCS#8, PKCS#1 RSA or SEC1 EC; RSA, P-256, P-384)' -r -F
complete -c mobikectl -n "__fish_mobikectl_using_subcommand peer" -l ca -d 'A CA certificate (PEM) the peer\'s certificate must chain to (repeatable)' -r -F
complete -c mobikectl -n "__fish_mobikectl_using_subcommand peer" -l ike -d 'IKE proposals in strongSwan syntax, e.g. aes256gcm16-prfsha384-ecp384 (comma list)' -r
complete -c mobikectl -n "__fish_mobikectl_using_subcommand peer" -l esp -d 'ESP proposals in strongSwan syntax, e.g. aes128gcm16 or aes128-sha256-modp2048' -r
complete -c mobikectl -n "__fish_mobikectl_using_subcommand peer" -l vip -d 'Request a virtual IP from the responder: 0.0.0.0 or :: (the family follows the IKE address family)' -r
complete -c mobikectl -n "__fish_mobikectl_using_subcommand peer" -l local-ts -d 'Our traffic selectors (CIDR, repeatable). Default: our address or virtual IP' -r
complete -c mobikectl -n "__fish_mobikectl_using_subcommand peer" -l remote-ts -d 'The peer\'s traffic selectors (CIDR, repeatable). Default: its address or virtual IP' -r
complete -c mobikectl -n "__fish_mobikectl_using_subcommand peer" -l pool -d 'Responder: virtual IPs to hand out (CIDR or address, repeatable)' -r
complete -c mobikectl -n "__fish_mobikectl_using_subcommand peer" -l port -d 'IKE port (default 500)' -r
complete -c mobikectl -n "__fish_mobikectl_using_subcommand peer" -l natt-port -d 'NAT-T port, with the non-ESP marker (default 4500)' -r
complete -c mobikectl -n "__fish_mobikectl_using_subcommand peer" -l keylog -d 'Write every IKE SA\'s keys to FILE (mobikectl key log: a Wireshark ikev2_decryption_table line plus SK_d, PRF and nonces), created with mode 0600' -r -F
complete -c mobikectl -n "__fish_mobikectl_using_subcommand peer" -l pcap -d 'Write every datagram sent and received to FILE (pcapng, raw IP + UDP)' -r -F
complete -c mobikectl -n "__fish_mobikectl_using_subcommand peer" -l events -d 'Event output format (default json)' -r -f -a "json\t'JSON Lines: one object per event with `event` and `time` keys (schema in README)'
text\t'One readable line per event'"
complete -c mobikectl -n "__fish_mobikectl_using_subcommand peer" -l remote-port -d 'The peer\'s IKE port (default: ours, --port)' -r
complete -c mobikectl -n "__fish_mobikectl_using_subcommand peer" -l remote-natt-port -d 'The peer\'s NAT-T port (default: ours, --natt-port)' -r
complete -c mobikectl -n "__fish_mobikectl_using_subcommand peer" -l dpd -d 'Dead peer detection: send an empty INFORMATIONAL when nothing came from the peer for this long (default 0 = only on the `dpd` command)' -r
complete -c mobikectl -n "__fish_mobikectl_using_subcommand peer" -l rr -d 'Responder: return routability check (COOKIE2 to the new address) before moving the CHILD_SAs: always (RFC 4555), unannounced (only for addresses the peer did not announce), never (as strongSwan does) or optimistic (move at once, check after, move back if the check fails). Default always' -r -f -a "always\t''
unannounced\t''
never\t''
optimistic\t''"
complete -c mobikectl -n "__fish_mobikectl_using_subcommand peer" -l refuse -d 'Responder: refuse UPDATE_SA_ADDRESSES to addresses in CIDR with UNACCEPTABLE_ADDRESSES (repeatable)' -r
complete -c mobikectl -n "__fish_mobikectl_using_subcommand peer" -l probe-timeout -d 'MOBIKE: first retransmission timeout of a path probe (default 0.5; later ones back off by 1.5, at most 5 s apart)' -r
complete -c mobikectl -n "__fish_mobikectl_using_subcommand peer" -l give-up -d 'MOBIKE: delete the IKE SA when no path answered probes for this long (default 165)' -r
complete -c mobikectl -n "__fish_mobikectl_using_subcommand peer" -l responder-hold -d 'MOBIKE responder: keep an IKE SA whose initiator stopped answering at least this long (default 300, RFC 4555 §3.11)' -r
complete -c mobikectl -n "__fish_mobikectl_using_subcommand peer" -l path-test -d 'MOBIKE: test the other paths this often while the current one works (default 0 = never; RFC 4555 §3.10)' -r
complete -c mobikectl -n "__fish_mobikectl_using_subcommand peer" -l keepalive -d 'NAT-T keepalive interval in seconds, sent while a NAT is detected in front of us (default 20; 0 = off)' -r
complete -c mobikectl -n "__fish_mobikectl_using_subcommand peer" -l retransmit-timeout -d 'Retransmission: first timeout in seconds (default 4)' -r
complete -c mobikectl -n "__fish_mobikectl_using_subcommand peer" -l retransmit-base -d 'Retransmission: exponential back-off base (default 1.8)' -r
complete -c mobikectl -n "__fish_mobikectl_using_subcommand peer" -l retransmit-tries -d 'Retransmission: retransmissions before an exchange times out (default 5)' -r
complete -c mobikectl -n "__fish_mobikectl_using_subcommand peer" -l listen -d 'Responder mode: do not initiate at start, wait for peers'
complete -c mobikectl -n "__fish_mobikectl_using_subcommand peer" -l follow-os -d 'Follow the OS\'s address changes (Linux rtnetlink, RTM_NEWADDR / RTM_DELADDR): bind sockets on a new address and announce it, close them on a removed one and move the SAs that used it. Off by default: the address set changes only with `addr add|del`'
complete -c mobikectl -n "__fish_mobikectl_using_subcommand peer" -l no-mobike -d 'Do not announce MOBIKE (IKE then stays on the IKE port unless a NAT is detected)'
complete -c mobikectl -n "__fish_mobikectl_using_subcommand peer" -l no-natt -d 'No NAT traversal: no NAT detection, no float to the NAT-T port; MOBIKE messages that can change addresses carry NO_NATS_ALLOWED (RFC 4555 §3.9)'
complete -c mobikectl -n "__fish_mobikectl_using_subcommand peer" -l encap -d 'Claim a NAT in front of us in NAT detection from IKE_SA_INIT on, so that ESP is UDP-encapsulated on the NAT-T port even without a NAT (strongSwan `encap = yes`)'
complete -c mobikectl -n "__fish_mobikectl_using_subcommand peer" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mobikectl -n "__fish_mobikectl_using_subcommand drill" -l peer-config -d 'Drive `mobikectl peer --config FILE` (options after -- are added)' -r -F
complete -c mobikectl -n "__fish_mobikectl_using_subcommand drill" -l report -d 'Report format' -r -f -a "text\t'A timeline (one line per step) and a summary table'
json\t'One JSON object: steps, measurements, failures, exit code'"
complete -c mobikectl -n "__fish_mobikectl_using_subcommand drill" -l pcap -d 'Write every datagram the lab\'s network carried to FILE (pcap, as the receivers saw them; `mobikectl decode --udp-port 10500 --natt-port 14500 FILE` decodes it)' -r -F
complete -c mobikectl -n "__fish_mobikectl_using_subcommand drill" -l svg -d 'Write a picture of the run to FILE (SVG: one lane per path, messages, moves, NAT changes, the dark interval shaded)' -r -F
complete -c mobikectl -n "__fish_mobikectl_using_subcommand drill" -l lab -d 'Run on the embedded virtual lab instead of a real gateway'
complete -c mobikectl -n "__fish_mobikectl_using_subcommand drill" -l nat -d 'Put a NAT in front of the lab\'s initiator'
complete -c mobikectl -n "__fish_mobikectl_using_subcommand drill" -l allow-shell -d 'Allow `shell` statements (refused otherwise: the drill does not run)'
complete -c mobikectl -n "__fish_mobikectl_using_subcommand drill" -l events -d 'Show every event of the target in the report'
complete -c mobikectl -n "__fish_mobikectl_using_subcommand drill" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mobikectl -n "__fish_mobikectl_using_subcommand lab" -l drill -d 'Run this drill instead of the default one' -r -F
complete -c mobikectl -n "__fish_mobikectl_using_subcommand lab" -l report -d 'Report format' -r -f -a "text\t'A timeline (one line per step) and a summary table'
json\t'One JSON object: steps, measurements, failures, exit code'"
complete -c mobikectl -n "__fish_mobikectl_using_subcommand lab" -l pcap -d 'Write every datagram the lab\'s network carried to FILE (pcap, as the receivers saw them; `mobikectl decode --udp-port 10500 --natt-port 14500 FILE` decodes it; the loopback lab uses other ports when these are taken)' -r -F
complete -c mobikectl -n "__fish_mobikectl_using_subcommand lab" -l svg -d 'Write a picture of the run to FILE (SVG: one lane per path, messages, moves, NAT changes, the dark interval shaded)' -r -F
complete -c mobikectl -n "__fish_mobikectl_using_subcommand lab" -l sas -d 'Scale test instead of a drill: N IKE SAs (each with a CHILD_SA) set up on the virtual lab, then all moved by one address loss; reports set-up rate, time until all moved, CPU per move and memory per SA' -r
complete -c mobikectl -n "__fish_mobikectl_using_subcommand lab" -l bindings -d 'Key bindings: `KEY = command` lines (e.g. `ctrl-n = down`); a peer configuration file\'s `[keys]` table rebinds them too' -r -F
complete -c mobikectl -n "__fish_mobikectl_using_subcommand lab" -l color -d 'Colours' -r -f -a "auto\t'Unless NO_COLOR is set'
always\t''
never\t''"
complete -c mobikectl -n "__fish_mobikectl_using_subcommand lab" -l virtual -d 'The virtual lab (in-memory network, simulated clock: the same output on every run) instead of the loopback lab (real UDP sockets on 127.0.0.x, the wall clock)'
complete -c mobikectl -n "__fish_mobikectl_using_subcommand lab" -l no-tui -d 'Run the drill and print the report instead of opening the terminal UI (the UI opens only on a terminal, for the loopback lab without --drill, --virtual, --report json, --events, --pcap or --svg)'
complete -c mobikectl -n "__fish_mobikectl_using_subcommand lab" -l nat -d 'Put a NAT in front of the initiator (the default drill is then drills/nat.drill: a real NAT rebinding)'
complete -c mobikectl -n "__fish_mobikectl_using_subcommand lab" -l allow-shell -d 'Allow `shell` statements in --drill FILE'
complete -c mobikectl -n "__fish_mobikectl_using_subcommand lab" -l events -d 'Show every event of the lab in the report'
complete -c mobikectl -n "__fish_mobikectl_using_subcommand lab" -l ascii -d 'ASCII borders and glyphs, for terminals without box drawing'
complete -c mobikectl -n "__fish_mobikectl_using_subcommand lab" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mobikectl -n "__fish_mobikectl_using_subcommand tui" -l peer-config -d 'Drive `mobikectl peer --config FILE` live (options after -- are added)' -r -F
complete -c mobikectl -n "__fish_mobikectl_using_subcommand tui" -s k -l keys -d 'Decrypt SK/SKF payloads with the keys in FILE (repeatable), as for decode' -r -F
complete -c mobikectl -n "__fish_mobikectl_using_subcommand tui" -s Y -l filter -d 'Start with this display filter (isakmp.* fields, or exch==, notify==, sa==, mid==...)' -r
complete -c mobikectl -n "__fish_mobikectl_using_subcommand tui" -l bindings -d 'Key bindings: `KEY = command` lines (e.g. `ctrl-n = down`); a peer configuration file\'s `[keys]` table rebinds them too' -r -F
complete -c mobikectl -n "__fish_mobikectl_using_subcommand tui" -l color -d 'Colours' -r -f -a "auto\t'Unless NO_COLOR is set'
always\t''
never\t''"
complete -c mobikectl -n "__fish_mobikectl_using_subcommand tui" -l udp-port -d 'Also treat this UDP port as IKE (besides 500 and 4500), as for decode' -r
complete -c mobikectl -n "__fish_mobikectl_using_subcommand tui" -l natt-port -d 'Also treat this UDP port as a NAT-T port (besides 4500), as for decode' -r
complete -c mobikectl -n "__fish_mobikectl_using_subcommand tui" -l ascii -d 'ASCII borders and glyphs, for terminals without box drawing'
complete -c mobikectl -n "__fish_mobikectl_using_subcommand tui" -l plain -d 'One line per message (live: per event) instead of the UI (also without a terminal)'
complete -c mobikectl -n "__fish_mobikectl_using_subcommand tui" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mobikectl -n "__fish_mobikectl_using_subcommand completions" -s h -l help -d 'Print help'
complete -c mobikectl -n "__fish_mobikectl_using_subcommand man" -s h -l help -d 'Print help'
complete -c mobikectl -n "__fish_mobikectl_using_subcommand help; and not __fish_seen_subcommand_from decode peer drill lab tui completions man help" -f -a "decode" -d 'Decode IKEv2 messages from pcap/pcapng files or a live interface'
complete -c mobikectl -n "__fish_mobikectl_using_subcommand help; and not __fish_seen_subcommand_from decode peer drill lab tui completions man help" -f -a "peer" -d 'Run a live, headless IKEv2 peer (PSK or certificate authentication)'
complete -c mobikectl -n "__fish_mobikectl_using_subcommand help; and not __fish_seen_subcommand_from decode peer drill lab tui completions man help" -f -a "drill" -d 'Run a failover drill (a script of peer commands, waits and expectations)'
complete -c mobikectl -n "__fish_mobikectl_using_subcommand help; and not __fish_seen_subcommand_from decode peer drill lab tui completions man help" -f -a "lab" -d 'Run the embedded lab: the default failover drill (SA up, address loss, probe, move, NAT rebinding, move back, a ping through the CHILD_SA throughout) with two engines on loopback addresses (real UDP sockets, no root), or on a virtual network with a simulated clock (--virtual)'
complete -c mobikectl -n "__fish_mobikectl_using_subcommand help; and not __fish_seen_subcommand_from decode peer drill lab tui completions man help" -f -a "tui" -d 'A terminal UI: browse captures (`tui FILE...`), or drive a live peer (`tui -- PEER-OPTIONS`, `tui --peer-config FILE`)'
complete -c mobikectl -n "__fish_mobikectl_using_subcommand help; and not __fish_seen_subcommand_from decode peer drill lab tui completions man help" -f -a "completions" -d 'Print a shell completion script for SHELL to stdout'
complete -c mobikectl -n "__fish_mobikectl_using_subcommand help; and not __fish_seen_subcommand_from decode peer drill lab tui completions man help" -f -a "man" -d 'Print the man page (roff) to stdout'
complete -c mobikectl -n "__fish_mobikectl_using_subcommand help; and not __fish_seen_subcommand_from decode peer drill lab tui completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
