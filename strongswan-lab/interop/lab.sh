#!/usr/bin/env bash
# Interop lab driver for tests/interop_strongswan.rs: builds a topology with a
# strongSwan responder/initiator ("moon") and an empty namespace for mobikectl
# ("peer"), leaves it running, and tears it down on request. Reuses strongswan-lab/lib.sh.
#
#   strongswan-lab/interop/lab.sh up TOPO PREFIX DIR [charon_conf options...]
#       TOPO: v4 | v6 | nat4 (peer behind NAT) | nat4moon (strongSwan behind NAT)
#       | dual | dualnat | dualnatmoon (two links, MOBIKE; below). Namespaces PREFIX-peer, PREFIX-moon
#       (and PREFIX-nat).
#       moon's charon config/log in DIR/moon/, captures DIR/moon.pcap (moon's side)
#       and DIR/peer.pcap (peer's side). Prints the addresses as KEY=VALUE lines.
#       charon's /run (vici socket) is /run/mobikectl-lab/PREFIX/moon/ (short, whatever
#       DIR is: a Unix socket path has at most 107 bytes); `down` removes it.
#       Certificate auth: --auth pubkey --cert F --key F --cacert F (e.g. testdata/pki).
#   strongswan-lab/interop/lab.sh down PREFIX DIR     stop captures (flushed), kill everything in
#                                          PREFIX-* namespaces, delete them. Idempotent.
#   strongswan-lab/interop/lab.sh swanctl PREFIX DIR [--node NODE] ARGS...
#                                          swanctl against moon's charon (or NODE's)
#   strongswan-lab/interop/lab.sh charon PREFIX DIR NODE [--ns NS] [charon_conf options...]
#                                          a second charon NODE (e.g. carol) in PREFIX-NS
#                                          (default: peer), config/log in DIR/NODE/: runs
#                                          strongSwan against strongSwan on the same topology
#   strongswan-lab/interop/lab.sh rebind PREFIX       forget the NAT's UDP mappings (nat4, dualnat)
#   strongswan-lab/interop/lab.sh nft PREFIX NS       load an nftables ruleset from stdin into
#                                          PREFIX-NS (e.g. make moon drop IKE)
#   strongswan-lab/interop/lab.sh addr PREFIX NS add|del|flush IFACE [CIDR]    address loss/gain
#   strongswan-lab/interop/lab.sh link PREFIX NS IFACE up|down
#   strongswan-lab/interop/lab.sh loss PREFIX NS PERCENT [IFACE]   drop PERCENT % of UDP in both
#                                          directions at random (nftables numgen, netdev
#                                          hooks: silent); 0 removes it
#   strongswan-lab/interop/lab.sh blackhole PREFIX NS ADDR on|off  silently drop everything from and
#                                          to ADDR in PREFIX-NS (no address/route event)
#
# Addresses (documentation prefixes only):
#   v4:   peer 192.0.2.10  -- moon 192.0.2.1;   moon LAN 198.18.1.1/24, peer LAN 198.18.2.1/24
#   v6:   peer 2001:db8:1::10 -- moon 2001:db8:1::1; moon LAN 2001:db8:ff:1::1/64,
#         peer LAN 2001:db8:ff:2::1/64
#   nat4: peer 198.51.100.10 -- nat 198.51.100.1 | 192.0.2.254 (masquerade) -- moon 192.0.2.1
#   nat4moon: moon 198.51.100.10 -- nat 198.51.100.1 | 192.0.2.254 (masquerade) -- peer 192.0.2.10
#   dual: link A peer eth0 192.0.2.10, 2001:db8:1::10 -- moon eth0 192.0.2.1, 2001:db8:1::1
#         link B peer eth1 198.51.100.10 -- moon eth1 198.51.100.1
#         (no default routes: losing link A's address leaves only link B); moon LAN as v4/v6.
#         Captures DIR/moon.pcap, DIR/peer.pcap (link A), DIR/moon-b.pcap, DIR/peer-b.pcap (B).
#   dualnat: link A as dual; link B through a NAT (masquerade, random ports; `rebind`):
#         peer eth1 198.51.100.10 -- nat 198.51.100.1 | 203.0.113.254 -- moon eth1 203.0.113.1
#   dualnatmoon: link A as dual; link B with moon behind the NAT (masquerade towards peer):
#         moon eth1 203.0.113.1 -- nat 203.0.113.254 | 198.51.100.254 -- peer eth1 198.51.100.10
#         (NAT=198.51.100.254 public, NAT_IN=203.0.113.254; moon's route to 198.51.100.0/24)
#   dual/dualnat/dualnatmoon print PEER_A PEER_B PEER_A6 MOON_A MOON_B MOON_A6 IF_A IF_B (PEER/MOON =
#   the link A addresses), dualnat also NAT (its public address) and NAT_IN.
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

cmd=${1:?usage: lab.sh up|down|swanctl|charon|rebind|nft|addr|link|loss|blackhole ...}; shift
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
    dual|dualnat|dualnatmoon)
        lab_ns peer; lab_ns moon
        lab_link peer eth0 moon eth0
        lab_addr peer eth0 192.0.2.10/24 2001:db8:1::10/64
        lab_addr moon eth0 192.0.2.1/24 2001:db8:1::1/64
        lab_lan moon 198.18.1.1/24 2001:db8:ff:1::1/64
        lab_lan peer 198.18.2.1/24 2001:db8:ff:2::1/64
        if [[ $topo == dual ]]; then
            lab_link peer eth1 moon eth1
            lab_addr peer eth1 198.51.100.10/24
            lab_addr moon eth1 198.51.100.1/24
            moon_b=198.51.100.1
        elif [[ $topo == dualnatmoon ]]; then
            lab_ns nat
            lab_link moon eth1 nat eth1
            lab_link nat eth0 peer eth1
            lab_addr peer eth1 198.51.100.10/24
            lab_addr nat eth0 198.51.100.254/24
            lab_addr nat eth1 203.0.113.254/24
            lab_addr moon eth1 203.0.113.1/24
            lab_route moon add 198.51.100.0/24 via 203.0.113.254
            lab_forwarding nat
            lab_nat nat eth0 random
            moon_b=203.0.113.1
            echo "NAT=198.51.100.254"; echo "NAT_IN=203.0.113.254"
        else
            lab_ns nat
            lab_link peer eth1 nat eth0
            lab_link nat eth1 moon eth1
            lab_addr peer eth1 198.51.100.10/24
            lab_addr nat eth0 198.51.100.1/24
            lab_addr nat eth1 203.0.113.254/24
            lab_addr moon eth1 203.0.113.1/24
            lab_route peer add 203.0.113.0/24 via 198.51.100.1
            lab_forwarding nat
            lab_nat nat eth1 random
            moon_b=203.0.113.1
            echo "NAT=203.0.113.254"; echo "NAT_IN=198.51.100.1"
        fi
        echo "PEER=192.0.2.10"; echo "MOON=192.0.2.1"
        echo "PEER_A=192.0.2.10"; echo "PEER_B=198.51.100.10"; echo "PEER_A6=2001:db8:1::10"
        echo "MOON_A=192.0.2.1"; echo "MOON_B=$moon_b"; echo "MOON_A6=2001:db8:1::1"
        echo "IF_A=eth0"; echo "IF_B=eth1"
        ;;
    *) lab_die "unknown topology $topo";;
    esac
    charon_conf moon "$@"
    lab_capture_start moon eth0 "$LAB_DIR/moon.pcap" --immediate-mode udp
    lab_capture_start peer eth0 "$LAB_DIR/peer.pcap" --immediate-mode udp
    if [[ $topo == dual* ]]; then
        lab_capture_start moon eth1 "$LAB_DIR/moon-b.pcap" --immediate-mode udp
        lab_capture_start peer eth1 "$LAB_DIR/peer-b.pcap" --immediate-mode udp
    fi
    charon_start moon
    trap - EXIT
    ;;
down)
    teardown "$1"
    ;;
swanctl)
    LAB_PREFIX=$1 LAB_DIR=$2; shift 2
    node=moon
    if [[ ${1:-} == --node ]]; then node=$2; shift 2; fi
    # the socket is a file: swanctl needs no namespace
    lab_swanctl "$node" "$@"
    ;;
charon)
    LAB_PREFIX=$1 LAB_DIR=$2 node=$3; shift 3
    LAB_DIR=$(cd "$LAB_DIR" && pwd)
    ns=peer
    if [[ ${1:-} == --ns ]]; then ns=$2; shift 2; fi
    [[ $node != moon ]] || lab_die "charon: moon is started by up"
    [[ -e /run/netns/$LAB_PREFIX-$ns ]] || lab_die "no namespace $LAB_PREFIX-$ns (lab up?)"
    charon_conf "$node" "$@"
    charon_start "$node" "$ns"
    ;;
addr)
    LAB_PREFIX=$1; shift
    lab_addr_op "$@"
    ;;
link)
    LAB_PREFIX=$1; shift
    lab_link_set "$@"
    ;;
loss)
    LAB_PREFIX=$1; shift
    lab_loss "$@"
    ;;
blackhole)
    LAB_PREFIX=$1; shift
    (( $# == 3 )) || lab_die "usage: blackhole PREFIX NS ADDR on|off"
    lab_blackhole "$@"
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
