#!/usr/bin/env bash
# Interop lab driver for tests/interop_strongswan.rs: builds a topology with a
# strongSwan responder/initiator ("moon") and an empty namespace for mobikectl
# ("peer"), leaves it running, and tears it down on request. Reuses lab/lib.sh.
#
#   lab/interop/lab.sh up TOPO PREFIX DIR [charon_conf options...]
#       TOPO: v4 | v6 | nat4 (peer behind NAT) | nat4moon (strongSwan behind NAT). Namespaces PREFIX-peer, PREFIX-moon (and PREFIX-nat).
#       moon's charon config/log in DIR/moon/, captures DIR/moon.pcap (moon's side)
#       and DIR/peer.pcap (peer's side). Prints the addresses as KEY=VALUE lines.
#       charon's /run (vici socket) is /run/mobikectl-lab/PREFIX/moon/ (short, whatever
#       DIR is: a Unix socket path has at most 107 bytes); `down` removes it.
#       Certificate auth: --auth pubkey --cert F --key F --cacert F (e.g. testdata/pki).
#   lab/interop/lab.sh down PREFIX DIR     stop captures (flushed), kill everything in
#                                          PREFIX-* namespaces, delete them. Idempotent.
#   lab/interop/lab.sh swanctl PREFIX DIR ARGS...   swanctl against moon's charon
#   lab/interop/lab.sh rebind PREFIX       forget the NAT's UDP mappings (nat4)
#   lab/interop/lab.sh nft PREFIX NS       load an nftables ruleset from stdin into
#                                          PREFIX-NS (e.g. make moon drop IKE)
#
# Addresses (documentation prefixes only):
#   v4:   peer 192.0.2.10  -- moon 192.0.2.1;   moon LAN 198.18.1.1/24, peer LAN 198.18.2.1/24
#   v6:   peer 2001:db8:1::10 -- moon 2001:db8:1::1; moon LAN 2001:db8:ff:1::1/64,
#         peer LAN 2001:db8:ff:2::1/64
#   nat4: peer 198.51.100.10 -- nat 198.51.100.1 | 192.0.2.254 (masquerade) -- moon 192.0.2.1
#   nat4moon: moon 198.51.100.10 -- nat 198.51.100.1 | 192.0.2.254 (masquerade) -- peer 192.0.2.10
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_PREFIX=${LAB_PREFIX:-}
# shellcheck source=../lib.sh
. "$here/../lib.sh"

teardown() {
    local prefix=$1 ns pid
    local -a nss=()
    while read -r ns _; do
        [[ $ns == "$prefix"-* ]] && nss+=("$ns")
    done < <(ip netns list 2>/dev/null)
    # charons' short run dirs (vici sockets): LAB_RUN_ROOT/PREFIX
    (( ${#nss[@]} )) || { LAB_PREFIX=$prefix lab_rundir_remove; return 0; }
    # tcpdump first, gently (after the last packets were read), so the captures are complete
    sleep 0.2
    for ns in "${nss[@]}"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            [[ $(cat "/proc/$pid/comm" 2>/dev/null) == tcpdump ]] && kill -TERM "$pid" 2>/dev/null
        done
    done
    sleep 0.3
    for ns in "${nss[@]}"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -TERM "$pid" 2>/dev/null; done
    done
    local n=30
    while (( n-- > 0 )); do
        local left=0
        for ns in "${nss[@]}"; do [[ -n $(ip netns pids "$ns" 2>/dev/null) ]] && left=1; done
        (( left )) || break
        sleep 0.1
    done
    for ns in "${nss[@]}"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
        ip netns del "$ns" 2>/dev/null || true
    done
    LAB_PREFIX=$prefix lab_rundir_remove
}

cmd=${1:?usage: lab.sh up|down|swanctl|rebind|nft ...}; shift
case $cmd in
up)
    topo=$1 LAB_PREFIX=$2 LAB_DIR=$3; shift 3
    export LAB_PREFIX LAB_DIR
    mkdir -p "$LAB_DIR"; LAB_DIR=$(cd "$LAB_DIR" && pwd)
    [[ $EUID -eq 0 ]] || lab_die "must run as root"
    trap 'rc=$?; if (( rc != 0 )); then teardown "$LAB_PREFIX"; fi' EXIT
    teardown "$LAB_PREFIX"   # leftovers of an earlier run with this prefix
    case $topo in
    v4|v6)
        lab_ns peer; lab_ns moon
        lab_link peer eth0 moon eth0
        lab_addr peer eth0 192.0.2.10/24 2001:db8:1::10/64
        lab_addr moon eth0 192.0.2.1/24 2001:db8:1::1/64
        lab_lan moon 198.18.1.1/24 2001:db8:ff:1::1/64
        lab_lan peer 198.18.2.1/24 2001:db8:ff:2::1/64
        if [[ $topo == v4 ]]; then echo "PEER=192.0.2.10"; echo "MOON=192.0.2.1"
        else echo "PEER=2001:db8:1::10"; echo "MOON=2001:db8:1::1"; fi
        ;;
    nat4)
        lab_ns peer; lab_ns nat; lab_ns moon
        lab_link peer eth0 nat eth0
        lab_link nat eth1 moon eth0
        lab_addr peer eth0 198.51.100.10/24
        lab_addr nat eth0 198.51.100.1/24
        lab_addr nat eth1 192.0.2.254/24
        lab_addr moon eth0 192.0.2.1/24
        lab_lan moon 198.18.1.1/24
        lab_route peer add default via 198.51.100.1
        lab_forwarding nat
        lab_nat nat eth1 random
        echo "PEER=198.51.100.10"; echo "MOON=192.0.2.1"; echo "NAT=192.0.2.254"
        ;;
    nat4moon)
        # the strongSwan side behind the NAT (mobikectl responds to a NATed initiator)
        lab_ns peer; lab_ns nat; lab_ns moon
        lab_link moon eth0 nat eth0
        lab_link nat eth1 peer eth0
        lab_addr moon eth0 198.51.100.10/24
        lab_addr nat eth0 198.51.100.1/24
        lab_addr nat eth1 192.0.2.254/24
        lab_addr peer eth0 192.0.2.10/24
        lab_lan peer 198.18.2.1/24
        lab_route moon add default via 198.51.100.1
        lab_forwarding nat
        lab_nat nat eth1 random
        echo "PEER=192.0.2.10"; echo "MOON=198.51.100.10"; echo "NAT=192.0.2.254"
        ;;
    *) lab_die "unknown topology $topo";;
    esac
    charon_conf moon "$@"
    lab_capture_start moon eth0 "$LAB_DIR/moon.pcap" --immediate-mode udp
    lab_capture_start peer eth0 "$LAB_DIR/peer.pcap" --immediate-mode udp
    charon_start moon
    trap - EXIT
    ;;
down)
    teardown "$1"
    ;;
swanctl)
    LAB_PREFIX=$1 LAB_DIR=$2; shift 2
    lab_nsexec moon swanctl "$@" --uri "unix://$(charon_vici moon)"
    ;;
rebind)
    ip netns exec "$1-nat" conntrack -D -p udp >/dev/null 2>&1 || true
    ;;
nft)
    LAB_PREFIX=$1
    lab_nft "$2" "$(cat)"
    ;;
*)
    echo "unknown command $cmd" >&2; exit 2;;
esac
