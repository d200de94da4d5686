# shellcheck shell=bash
# mobikectl strongSwan lab: reusable functions. Source this file from bash
# scripts that run with `set -euo pipefail` as root:
#
#   . strongswan-lab/lib.sh
#   lab_init                       # work dir + cleanup trap (EXIT/INT/TERM)
#   lab_ns carol; lab_ns moon      # network namespaces (names get a run prefix)
#   lab_link carol eth0 moon eth0  # veth pair between two namespaces
#   lab_addr carol eth0 192.0.2.10/24 ...
#   charon_conf carol --role init ...; charon_start carol
#   lab_capture_start carol eth0 "$OUT/cap.pcap"
#   lab_swanctl carol --initiate --child net
#
# Topology, charon and capture are independent layers so that the Rust interop
# tests can use only the topology + capture layers with our own peer.
#
# Only documentation prefixes are used (192.0.2.0/24, 198.51.100.0/24,
# 203.0.113.0/24, 198.18.0.0/15, 2001:db8::/32), only inside namespaces that
# this file creates. Nothing is changed in the root namespace.

LAB_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CHARON_BIN=${CHARON_BIN:-/usr/lib/ipsec/charon}
# prefix of every namespace this run creates (unique per run, short: netns
# names are free-form but keep them readable in `ip netns list`)
LAB_PREFIX=${LAB_PREFIX:-mk$$}
LAB_DIR=${LAB_DIR:-}
LAB_KEEP=${LAB_KEEP:-0}        # 1: keep the work dir after cleanup
# charon's /run (pid file, vici socket) is kept apart from LAB_DIR, under a short
# per-lab directory LAB_RUN_ROOT/PREFIX/NODE: a Unix socket path has at most 107
# bytes, and LAB_DIR may be deep (a clone's target/interop/<test>/).
LAB_RUN_ROOT=${LAB_RUN_ROOT:-/run/mobikectl-lab}
[[ -d ${LAB_RUN_ROOT%/*} ]] || LAB_RUN_ROOT=/tmp/mkl
LAB_VERBOSE=${LAB_VERBOSE:-0}

LAB_NAMESPACES=()   # created namespaces (full names)
LAB_PIDS=()         # background processes started by us (charon, tcpdump, ...)
declare -A LAB_CAPTURE_PIDS=()
declare -A LAB_CAPTURE_LOGS=()
declare -A LAB_CHARON_PIDS=()

lab_log() { printf '[lab %(%T)T] %s\n' -1 "$*" >&2; }
lab_die() { lab_log "ERROR: $*"; exit 1; }

# ----------------------------------------------------------------- lifecycle

# lab_init [DIR]: create the work dir (default: mktemp) and install the trap.
lab_init() {
    [[ $EUID -eq 0 ]] || lab_die "must run as root"
    if [[ -n ${1:-} ]]; then LAB_DIR=$1; mkdir -p "$LAB_DIR"
    elif [[ -z $LAB_DIR ]]; then LAB_DIR=$(mktemp -d /tmp/mobike-lab.XXXXXX)
    else mkdir -p "$LAB_DIR"; fi
    LAB_DIR=$(cd "$LAB_DIR" && pwd)
    trap 'lab_cleanup' EXIT
    trap 'lab_log "interrupted"; exit 130' INT TERM
    lab_log "work dir $LAB_DIR, namespace prefix $LAB_PREFIX"
}

# lab_cleanup: stop captures and charons, delete namespaces. Idempotent;
# safe to call on failure (installed as EXIT trap by lab_init).
lab_cleanup() {
    local rc=$? pid ns
    set +e
    for pid in "${LAB_CAPTURE_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in "${LAB_CAPTURE_PIDS[@]}"; do lab_wait_pid "$pid" 5; done
    for pid in "${LAB_CHARON_PIDS[@]}" "${LAB_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in "${LAB_CHARON_PIDS[@]}" "${LAB_PIDS[@]}"; do
        lab_wait_pid "$pid" 5 || kill -KILL "$pid" 2>/dev/null
    done
    for ns in "${LAB_NAMESPACES[@]}"; do
        # anything still running inside our own namespaces was started by us
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
        ip netns del "$ns" 2>/dev/null
    done
    LAB_CAPTURE_PIDS=(); LAB_CHARON_PIDS=(); LAB_PIDS=(); LAB_NAMESPACES=()
    lab_rundir_remove
    if [[ $LAB_KEEP != 1 && -n $LAB_DIR && $LAB_DIR == /tmp/mobike-lab.* ]]; then
        rm -rf "$LAB_DIR"
    fi
    return $rc
}

# lab_wait_pid PID SECONDS: wait until PID is gone; 1 on timeout
lab_wait_pid() {
    local pid=$1 n=$(( $2 * 10 ))
    while kill -0 "$pid" 2>/dev/null; do
        (( n-- > 0 )) || return 1
        sleep 0.1
    done
    wait "$pid" 2>/dev/null || true
    return 0
}

# ------------------------------------------------------------------ topology

lab_nsname() { printf '%s-%s' "$LAB_PREFIX" "$1"; }

# lab_ns NAME: new namespace with lo up, no IPv6 DAD delays, no forwarding.
lab_ns() {
    local ns; ns=$(lab_nsname "$1")
    ip netns add "$ns"
    LAB_NAMESPACES+=("$ns")
    ip -n "$ns" link set dev lo up
    lab_nsexec "$1" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
        net.ipv6.conf.default.accept_ra=0 net.ipv6.conf.all.accept_ra=0
}

# lab_nsexec NAME CMD...: run CMD inside the namespace
lab_nsexec() { local ns; ns=$(lab_nsname "$1"); shift; ip netns exec "$ns" "$@"; }

# lab_link NS1 IF1 NS2 IF2: veth pair created directly inside both namespaces
lab_link() {
    local a b; a=$(lab_nsname "$1"); b=$(lab_nsname "$3")
    ip link add "$2" netns "$a" type veth peer name "$4" netns "$b"
    ip -n "$a" link set dev "$2" up
    ip -n "$b" link set dev "$4" up
}

# lab_lan NS ADDR/PLEN...: a "protected subnet" address behind a gateway. The
# kernel here has no dummy driver, so the address goes on lo.
lab_lan() {
    local node=$1; shift
    lab_addr "$node" lo "$@"
}

# lab_addr NS IF ADDR/PLEN...: add addresses (IPv6 without DAD)
lab_addr() {
    local ns a; ns=$(lab_nsname "$1"); local dev=$2; shift 2
    for a in "$@"; do
        if [[ $a == *:* ]]; then ip -n "$ns" addr add "$a" dev "$dev" nodad
        else ip -n "$ns" addr add "$a" dev "$dev"; fi
    done
}

# lab_route NS ARGS...: `ip route ARGS` (or `ip -6 route` when ARGS mention ':')
lab_route() {
    local ns; ns=$(lab_nsname "$1"); shift
    if [[ "$*" == *:* ]]; then ip -n "$ns" -6 route "$@"; else ip -n "$ns" route "$@"; fi
}

# lab_forwarding NS: make NS a router (IPv4 and IPv6)
lab_forwarding() {
    lab_nsexec "$1" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
}

# lab_nat NS OUTIF [random]: masquerade everything leaving OUTIF. With
# `random` the source port is randomised, so a deleted mapping comes back on a
# new port (a visible NAT rebinding).
lab_nat() {
    local ns; ns=$(lab_nsname "$1"); local oif=$2 opt=${3:-}
    local flags=""
    [[ $opt == random ]] && flags=" random"
    ip netns exec "$ns" nft -f - <<EOF
table ip labnat {
    chain post {
        type nat hook postrouting priority srcnat; policy accept;
        oifname "$oif" masquerade$flags
    }
}
EOF
}

# lab_nat_rebind NS: forget every UDP mapping; the next packet gets a new one
lab_nat_rebind() {
    lab_nsexec "$1" conntrack -D -p udp >/dev/null 2>&1 || true
}

# lab_nft NS RULESET: load an nftables ruleset (string) into NS
lab_nft() { lab_nsexec "$1" nft -f - <<<"$2"; }

# lab_addr_flush NS IF: drop every address on IF (a clean MOBIKE move)
lab_addr_flush() { ip -n "$(lab_nsname "$1")" addr flush dev "$2"; }

# lab_addr_op NS add|del|flush IF [CIDR]: an address event (MOBIKE drills);
# IPv6 additions without DAD
lab_addr_op() {
    local ns; ns=$(lab_nsname "$1"); local op=$2 dev=$3 a=${4:-}
    case $op in
        add) [[ -n $a ]] || lab_die "addr add needs a CIDR"; lab_addr "$1" "$dev" "$a";;
        del) [[ -n $a ]] || lab_die "addr del needs a CIDR"; ip -n "$ns" addr del "$a" dev "$dev";;
        flush) if [[ -n $a ]]; then ip -n "$ns" addr flush dev "$dev" to "$a"
               else ip -n "$ns" addr flush dev "$dev"; fi;;
        *) lab_die "addr: add|del|flush, not $op";;
    esac
}

# lab_link_set NS IF up|down (down keeps the addresses: see strongswan-lab/README.md)
lab_link_set() {
    [[ $3 == up || $3 == down ]] || lab_die "link: up|down, not $3"
    ip -n "$(lab_nsname "$1")" link set dev "$2" "$3"
}

# lab_devices NS: NS's links (not lo, not the tunnel devices ipsec*)
lab_devices() {
    ip -n "$(lab_nsname "$1")" -o link show | awk -F': ' '{ sub(/@.*/, "", $2); if ($2 != "lo" && $2 !~ /^ipsec/) print $2 }'
}

# lab_devset NS [IF]: "eth0, eth1" (IF alone when given) for nftables netdev chains
lab_devset() {
    if [[ -n ${2:-} ]]; then printf '%s' "$2"; return; fi
    lab_devices "$1" | paste -sd, - | sed 's/,/, /g'
}

# lab_loss NS PERCENT [IF]: drop PERCENT % of the UDP packets entering and
# leaving NS (through IF, default every interface) at random; 0 removes it.
# netdev ingress/egress hooks: the sender sees no error (an output-hook drop
# would return EPERM to it), as with a real lossy link.
lab_loss() {
    local node=$1 pct=$2 dev=${3:-}
    [[ $pct =~ ^[0-9]+$ ]] && (( pct <= 100 )) || lab_die "loss: PERCENT 0..100, not $pct"
    lab_nsexec "$node" nft delete table netdev labloss 2>/dev/null || true
    (( pct > 0 )) || return 0
    local devs rule="meta l4proto udp numgen random mod 100 < $pct counter drop"
    devs=$(lab_devset "$node" "$dev")
    (( pct < 100 )) || rule="meta l4proto udp counter drop"
    lab_nft "$node" "table netdev labloss {
    chain in {
        type filter hook ingress devices = { $devs } priority 0; policy accept;
        $rule
    }
    chain out {
        type filter hook egress devices = { $devs } priority 0; policy accept;
        $rule
    }
}"
}

# lab_blackhole NS ADDR on|off: silently drop every packet from or to ADDR on
# NS's interfaces (netdev ingress and egress: no error for the sender, no
# address or route event). Several addresses may be black-holed at once.
lab_blackhole() {
    local node=$1 addr=$2 op=$3 set=bh4
    [[ $addr == *:* ]] && set=bh6
    if ! lab_nsexec "$node" nft list table netdev labblackhole >/dev/null 2>&1; then
        [[ $op == off ]] && return 0
        local devs; devs=$(lab_devset "$node")
        lab_nft "$node" "table netdev labblackhole {
    set bh4 { type ipv4_addr; }
    set bh6 { type ipv6_addr; }
    chain in {
        type filter hook ingress devices = { $devs } priority -10; policy accept;
        ip saddr @bh4 counter drop
        ip daddr @bh4 counter drop
        ip6 saddr @bh6 counter drop
        ip6 daddr @bh6 counter drop
    }
    chain out {
        type filter hook egress devices = { $devs } priority -10; policy accept;
        ip saddr @bh4 counter drop
        ip daddr @bh4 counter drop
        ip6 saddr @bh6 counter drop
        ip6 daddr @bh6 counter drop
    }
}"
    fi
    case $op in
        on) lab_nsexec "$node" nft add element netdev labblackhole "$set" "{ $addr }";;
        off) lab_nsexec "$node" nft delete element netdev labblackhole "$set" "{ $addr }" 2>/dev/null || true;;
        *) lab_die "blackhole: on|off, not $op";;
    esac
}

# ------------------------------------------------------------------- capture

# lab_capture_start NS IF FILE [FILTER...]: tcpdump, full snaplen, packet-
# buffered; returns once tcpdump is listening.
lab_capture_start() {
    local node=$1 dev=$2 file=$3; shift 3
    local log="$file.tcpdump.log"
    lab_nsexec "$node" tcpdump -Z root -i "$dev" -s 0 -U -n -w "$file" "$@" >"$log" 2>&1 &
    local pid=$!
    LAB_CAPTURE_PIDS["$node/$dev"]=$pid
    LAB_CAPTURE_LOGS["$node/$dev"]=$log
    local n=50
    until grep -q "listening on" "$log" 2>/dev/null; do
        kill -0 "$pid" 2>/dev/null || lab_die "tcpdump on $node/$dev failed: $(cat "$log")"
        (( n-- > 0 )) || lab_die "tcpdump on $node/$dev not listening"
        sleep 0.1
    done
}

# lab_capture_stop_all: stop every capture (flushes files)
lab_capture_stop_all() {
    local k pid
    for k in "${!LAB_CAPTURE_PIDS[@]}"; do kill -TERM "${LAB_CAPTURE_PIDS[$k]}" 2>/dev/null || true; done
    for k in "${!LAB_CAPTURE_PIDS[@]}"; do
        pid=${LAB_CAPTURE_PIDS[$k]}
        lab_wait_pid "$pid" 5 || kill -KILL "$pid" 2>/dev/null || true
        unset "LAB_CAPTURE_PIDS[$k]"
        rm -f "${LAB_CAPTURE_LOGS[$k]}"
        unset "LAB_CAPTURE_LOGS[$k]"
    done
}

# ------------------------------------------------------------------- charon

# charon_dir NODE: that node's config/log directory (in LAB_DIR)
charon_dir() { printf '%s/%s' "$LAB_DIR" "$1"; }

# lab_rundir: this lab's short run directory (LAB_RUN_ROOT/PREFIX)
lab_rundir() { printf '%s/%s' "$LAB_RUN_ROOT" "$LAB_PREFIX"; }

# charon_rundir NODE: bound over /run in NODE's charon mount namespace
charon_rundir() { printf '%s/%s' "$(lab_rundir)" "$1"; }

# charon_vici NODE: NODE's vici socket as seen from outside charon's mount namespace
charon_vici() { printf '%s/charon.vici' "$(charon_rundir "$1")"; }

# lab_rundir_remove: delete this lab's run directory (charons must be gone)
lab_rundir_remove() {
    [[ -n $LAB_PREFIX && $LAB_PREFIX != */* ]] || return 0
    rm -rf "$(lab_rundir)"
}

# charon_conf NODE OPTIONS...: write NODE's strongswan.conf and swanctl.conf.
#   --role init|resp          initiator gets vips=0.0.0.0/::, responder a pool
#                             (also spelled initiator|responder)
#   --local ADDRS --remote ADDRS   comma lists (local_addrs/remote_addrs); repeatable,
#                             the lists add up (MOBIKE: `--local A --local B`)
#   --id ID --remote-id ID
#   --auth psk|pubkey         pubkey: --cert F --key F --cacert F (copied in)
#   --psk SECRET
#   --ike PROPOSALS --esp PROPOSALS
#   --mobike yes|no --frag yes|no|force|accept --encap yes|no
#   --ike-rekey T --ike-rand T --child-rekey T --child-rand T
#   --dpd T, --dpd-delay T    dpd_delay (connection; 0s: off)
#   --retransmit-timeout S --retransmit-base F --retransmit-tries N
#   --retransmit-jitter PCT --retransmit-limit S   charon.retransmit_* (the lab's
#                             defaults: timeout 2.0, tries 4, base 1.8 as strongSwan)
#   --keep-alive T            charon.keep_alive (NAT-T keepalive interval, default 20s)
#   --vips ADDR               override vips (initiator)
#   --pool CIDR               responder pool (may repeat with a comma)
#   --local-ts TS --remote-ts TS
#   --opt 'key = value'       extra line inside charon { } (repeatable)
#   --conn-opt 'key = value'  extra line in the connection (repeatable)
#   --child-opt 'key = value' extra line in the child (repeatable)
charon_conf() {
    local node=$1; shift
    local role=init local="" remote="" id="" rid="" auth=psk psk="mobikectl-lab-psk-0123456789"
    local ike="aes128-sha256-x25519" esp="aes128gcm16" mobike=yes frag=yes encap=no
    local ike_rekey=4h ike_rand="" child_rekey=1h child_rand="" dpd=0s vips="" pool=""
    local lts="" rts="" cert="" key="" cacert=""
    local rt_timeout=2.0 rt_base="" rt_tries=4 rt_jitter="" rt_limit="" keep_alive=""
    local -a opts=() copts=() chopts=()
    while (( $# )); do
        case $1 in
            --role) case $2 in
                        init|initiator) role=init;; resp|responder) role=resp;;
                        *) lab_die "charon_conf: --role init|resp, not $2";;
                    esac;;
            --local) local=${local:+$local, }${2//,/, };;
            --remote) remote=${remote:+$remote, }${2//,/, };;
            --dpd-delay) dpd=$2;;
            --retransmit-timeout) rt_timeout=$2;; --retransmit-base) rt_base=$2;;
            --retransmit-tries) rt_tries=$2;; --retransmit-jitter) rt_jitter=$2;;
            --retransmit-limit) rt_limit=$2;; --keep-alive) keep_alive=$2;;
            --id) id=$2;; --remote-id) rid=$2;; --auth) auth=$2;; --psk) psk=$2;;
            --ike) ike=$2;; --esp) esp=$2;; --mobike) mobike=$2;; --frag) frag=$2;;
            --encap) encap=$2;; --ike-rekey) ike_rekey=$2;; --ike-rand) ike_rand=$2;;
            --child-rekey) child_rekey=$2;; --child-rand) child_rand=$2;; --dpd) dpd=$2;;
            --vips) vips=$2;; --pool) pool=$2;; --local-ts) lts=$2;; --remote-ts) rts=$2;;
            --cert) cert=$2;; --key) key=$2;; --cacert) cacert=$2;;
            --opt) opts+=("$2");; --conn-opt) copts+=("$2");; --child-opt) chopts+=("$2");;
            *) lab_die "charon_conf: unknown option $1";;
        esac
        shift 2
    done
    local dir; dir=$(charon_dir "$node")
    rm -rf "$dir"; mkdir -p "$dir/x509" "$dir/x509ca" "$dir/private"

    local o
    {
        cat <<EOF
# generated by strongswan-lab/lib.sh charon_conf for node $node
charon {
    # only what the lab needs: no stroke (/etc/ipsec.secrets), no forecast/farp
    load = random nonce x509 revocation constraints pubkey pkcs1 pkcs8 pem openssl gmp curve25519 aes sha1 sha2 hmac ctr ccm gcm chapoly xcbc cmac kdf drbg mgf1 kernel-libipsec kernel-netlink socket-default vici
    install_routes = no
    retransmit_timeout = $rt_timeout
    retransmit_tries = $rt_tries
EOF
        [[ -n $rt_base ]] && echo "    retransmit_base = $rt_base"
        [[ -n $rt_jitter ]] && echo "    retransmit_jitter = $rt_jitter"
        [[ -n $rt_limit ]] && echo "    retransmit_limit = $rt_limit"
        [[ -n $keep_alive ]] && echo "    keep_alive = $keep_alive"
        cat <<EOF
    filelog {
        lab {
            path = $dir/charon.log
            time_format = %b %e %T
            ike_name = yes
            append = no
            flush_line = yes
            default = 1
            ike = 4
            chd = 4
            cfg = 2
            knl = 2
            net = 1
            enc = 1
        }
    }
    syslog {
        daemon {
            default = -1
        }
    }
    plugins {
        vici {
            # /run is $(charon_rundir "$node") (charon_start binds it over /run)
            socket = unix:///run/charon.vici
        }
        kernel-libipsec {
            load = yes
        }
    }
EOF
        for o in "${opts[@]}"; do printf '    %s\n' "$o"; done
        echo "}"
    } >"$dir/strongswan.conf"

    local lauth=$auth rauth=$auth
    if [[ $auth == pubkey ]]; then
        cp "$cert" "$dir/x509/"; cp "$key" "$dir/private/"; cp "$cacert" "$dir/x509ca/"
    fi
    if [[ -z $vips && $role == init ]]; then
        if [[ ${remote%%,*} == *:* ]]; then vips="::"; else vips="0.0.0.0"; fi
    fi
    {
        echo "connections {"
        echo "    home {"
        echo "        version = 2"
        [[ -n $local ]] && echo "        local_addrs = $local"
        [[ -n $remote ]] && echo "        remote_addrs = $remote"
        echo "        proposals = $ike"
        echo "        mobike = $mobike"
        echo "        fragmentation = $frag"
        echo "        encap = $encap"
        echo "        rekey_time = $ike_rekey"
        [[ -n $ike_rand ]] && echo "        rand_time = $ike_rand"
        echo "        dpd_delay = $dpd"
        [[ $role == init ]] && echo "        vips = $vips"
        [[ $role == resp && -n $pool ]] && echo "        pools = labpool"
        [[ $auth == pubkey ]] && echo "        send_cert = always"
        for o in "${copts[@]}"; do printf '        %s\n' "$o"; done
        echo "        local {"
        echo "            auth = $lauth"
        [[ -n $id ]] && echo "            id = $id"
        [[ $auth == pubkey ]] && echo "            certs = $(basename "$cert")"
        echo "        }"
        echo "        remote {"
        echo "            auth = $rauth"
        [[ -n $rid ]] && echo "            id = $rid"
        echo "        }"
        echo "        children {"
        echo "            net {"
        [[ -n $lts ]] && echo "                local_ts = $lts"
        [[ -n $rts ]] && echo "                remote_ts = $rts"
        echo "                esp_proposals = $esp"
        echo "                rekey_time = $child_rekey"
        [[ -n $child_rand ]] && echo "                rand_time = $child_rand"
        echo "                start_action = none"
        for o in "${chopts[@]}"; do printf '                %s\n' "$o"; done
        echo "            }"
        echo "        }"
        echo "    }"
        echo "}"
        if [[ $auth == psk ]]; then
            echo "secrets {"
            echo "    ike-lab {"
            [[ -n $id ]] && echo "        id-1 = $id"
            [[ -n $rid ]] && echo "        id-2 = $rid"
            echo "        secret = \"$psk\""
            echo "    }"
            echo "}"
        fi
        if [[ $role == resp && -n $pool ]]; then
            echo "pools {"
            echo "    labpool {"
            echo "        addrs = $pool"
            echo "    }"
            echo "}"
        fi
    } >"$dir/swanctl.conf"
}

# charon_start NODE [NS]: start charon inside network namespace NS (default:
# NODE's own; e.g. a second charon "carol" in the namespace "peer") and a
# private mount namespace whose /run is `charon_rundir NODE` (pid file, vici
# socket), load swanctl.conf, return when ready.
charon_start() {
    local node=$1 ns=${2:-$1} dir run sock; dir=$(charon_dir "$node")
    run=$(charon_rundir "$node"); sock=$(charon_vici "$node")
    (( ${#sock} <= 107 )) || lab_die "vici socket path $sock is longer than 107 bytes: shorten LAB_PREFIX or LAB_RUN_ROOT"
    rm -rf "$run"; mkdir -p "$run"; chmod 0700 "$(lab_rundir)"
    rm -f "$dir/charon.log"
    lab_nsexec "$ns" unshare -m --propagation private \
        sh -c 'mount --bind "$1" /run && STRONGSWAN_CONF="$2/strongswan.conf" exec "$3"' \
        sh "$run" "$dir" "$CHARON_BIN" >"$dir/charon.stdout" 2>&1 &
    LAB_CHARON_PIDS[$node]=$!
    local n=100
    until [[ -S $sock ]]; do
        kill -0 "${LAB_CHARON_PIDS[$node]}" 2>/dev/null || lab_die "charon $node died: $(tail -5 "$dir/charon.stdout")"
        (( n-- > 0 )) || lab_die "charon $node: no vici socket"
        sleep 0.1
    done
    lab_swanctl "$node" --load-all --file "$dir/swanctl.conf" >"$dir/swanctl-load.log" 2>&1 \
        || lab_die "swanctl --load-all on $node failed: $(cat "$dir/swanctl-load.log")"
}

# charon_stop NODE: SIGTERM and wait (charon deletes its SAs first only if
# asked to: use `lab_swanctl NODE --terminate --ike home` before for a DELETE)
charon_stop() {
    local node=$1 pid=${LAB_CHARON_PIDS[$1]:-}
    [[ -n $pid ]] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    lab_wait_pid "$pid" 10 || kill -KILL "$pid" 2>/dev/null || true
    unset "LAB_CHARON_PIDS[$node]"
}

# lab_swanctl NODE ARGS...: swanctl against NODE's charon
lab_swanctl() {
    local node=$1; shift
    swanctl "$@" --uri "unix://$(charon_vici "$node")"
}

# lab_initiate NODE [CHILD]: initiate and wait for the result (timeout 30 s)
lab_initiate() {
    lab_swanctl "$1" --initiate --child "${2:-net}" --timeout 30 >>"$(charon_dir "$1")/swanctl-initiate.log" 2>&1
}

# lab_wait_log NODE REGEX [SECONDS]: wait until NODE's charon.log matches
lab_wait_log() {
    local log; log="$(charon_dir "$1")/charon.log"
    local n=$(( ${3:-30} * 10 ))
    until grep -Eq -- "$2" "$log" 2>/dev/null; do
        (( n-- > 0 )) || lab_die "timeout waiting for /$2/ in $1's log"
        sleep 0.1
    done
}

# lab_count_log NODE REGEX: number of matching lines in NODE's log
lab_count_log() { grep -Ec -- "$2" "$(charon_dir "$1")/charon.log" 2>/dev/null || true; }

# lab_wait_log_count NODE REGEX COUNT [SECONDS]
lab_wait_log_count() {
    local n=$(( ${4:-30} * 10 ))
    until (( $(lab_count_log "$1" "$2") >= $3 )); do
        (( n-- > 0 )) || lab_die "timeout waiting for $3 x /$2/ in $1's log"
        sleep 0.1
    done
}

# lab_ping NODE DEST COUNT [SRC]: pings (through the tunnel when SRC is the vip)
lab_ping() {
    local node=$1 dst=$2 count=$3 src=${4:-}
    local -a a=(-c "$count" -i 0.2 -W 2 -n -q)
    [[ -n $src ]] && a+=(-I "$src")
    lab_nsexec "$node" ping "${a[@]}" "$dst"
}

# lab_vip NODE: the virtual IP the node got (first one), from its log
lab_vip() {
    sed -n 's/.*installing new virtual IP \([^ ]*\).*/\1/p' "$(charon_dir "$1")/charon.log" | tail -1
}
