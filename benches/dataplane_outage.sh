#!/usr/bin/env bash
# Data-plane outage of a MOBIKE move after an address loss with a second path up, on the
# lab's dual-uplink topology (strongswan-lab/interop/lab.sh dual), as root:
#
#   sudo bash benches/dataplane_outage.sh --tool mobikectl   # `mobikectl peer` initiator
#   sudo bash benches/dataplane_outage.sh --tool strongswan  # strongSwan carol initiator
#   sudo RUNS=10 bash benches/dataplane_outage.sh --tool both   # both, then the ratios
#
# moon is always strongSwan 5.9 with kernel-libipsec (responder, mobike = yes, protects
# 198.18.1.0/24 with 198.18.1.1 on its lo, hands out virtual IPs from 198.18.0.0/24). The
# initiator in the peer namespace asks for a virtual IP and uses both of its links:
#
#   mobikectl   `mobikectl peer --local PEER_A --local PEER_B --remote MOON_A --remote MOON_B
#               --follow-os --vip 0.0.0.0 --remote-ts 198.18.1.0/24`, then its own
#               `ping 198.18.1.1 10ms` (ESP-protected ICMP echo from the virtual IP).
#   strongswan  charon "carol" (mobike = yes, vips = 0.0.0.0, kernel-libipsec: the virtual
#               IP on ipsec0, a route to 198.18.1.0/24 in table 220), then the kernel's
#               `ping -D -i 0.01 -I VIP 198.18.1.1` in the peer namespace.
#
# Each run: a fresh lab, the SA up, the ping every 10 ms for PRE s, `ip addr flush` of the
# initiator's link-A interface (its first address goes; link B stays up), POST s more of
# pinging (strongSwan moon rekeys the CHILD_SA about 1.5 s after the address update, that
# is inside the window), ping stopped. Measured: the longest time between two consecutive
# replies over the whole run (the outage; with a 10 ms interval a run without outage gives
# about 10 ms), from the peer's `ping` event (`longest_gap_ms`) or from ping -D's reply
# timestamps, and the lost requests; also whether the longest gap contains the flush (a
# longest gap elsewhere means the move cost less than that). And the same outage on the
# wire, for both tools alike: the last ESP packet from moon that reached the initiator
# before the flush (the initiator's captures of link A; later ones are dropped, the address
# is gone) -> the first one on link B after it. Note: iputils ping sends every ~16.6 ms
# with `-i 0.01` in this lab (see ping.txt), so its figures are in steps of ~16.6 ms where
# the peer's probe keeps to 10 ms.
#
# Prints the best and the median of the runs (ms) and the raw values, and with --tool both
# the ratios strongSwan / mobikectl; everything (captures, logs, events, ping output,
# results.tsv) stays in OUT.
#
# Options / environment:
#   --tool mobikectl|strongswan|both   initiator (default both)
#   RUNS=5                        runs per tool
#   PRE=1 POST=4                  seconds of pinging before / after the flush
#   OUT=DIR                       results directory (default /tmp/dataplane-outage.XXXXXX)
#   MOBIKECTL=PATH                mobikectl binary (default target/release/mobikectl, built
#                                 with `cargo build --release --bin mobikectl` if missing)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LABSH=$ROOT/strongswan-lab/interop/lab.sh
RUNS=${RUNS:-5}
PRE=${PRE:-1}
POST=${POST:-4}
TOOL=both
while (( $# )); do
    case $1 in
        --tool) TOOL=$2; shift 2;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0;;
        *) echo "unknown option $1 (see --help)" >&2; exit 2;;
    esac
done
case $TOOL in
    mobikectl|strongswan) TOOLS=("$TOOL");;
    both) TOOLS=(mobikectl strongswan);;
    *) echo "--tool mobikectl|strongswan|both" >&2; exit 2;;
esac
[[ $EUID -eq 0 ]] || { echo "must run as root" >&2; exit 1; }
for c in tcpdump swanctl nft ping python3; do
    command -v "$c" >/dev/null || { echo "needs $c (bash .ci/install-packages)" >&2; exit 1; }
done
MOBIKECTL=${MOBIKECTL:-$ROOT/target/release/mobikectl}
if [[ ! -x $MOBIKECTL ]]; then
    (cd "$ROOT" && cargo build --release --bin mobikectl)
fi
OUT=${OUT:-$(mktemp -d /tmp/dataplane-outage.XXXXXX)}
mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd)
PREFIX=do$$
PSK=mobikectl-lab-psk-0123456789
MOON_LAN=198.18.1.1
PEER_PID=""
PING_PID=""

log() { printf '[bench %(%T)T] %s\n' -1 "$*" >&2; }

cleanup() {
    set +e
    exec 7>&- 2>/dev/null
    [[ -n $PING_PID ]] && kill "$PING_PID" 2>/dev/null
    [[ -n $PEER_PID ]] && kill "$PEER_PID" 2>/dev/null
    bash "$LABSH" down "$PREFIX" >/dev/null 2>&1
}
trap cleanup EXIT
trap 'exit 130' INT TERM

declare -A V=()
# lab_up DIR: dual lab with moon (responder), V[...] = its KEY=VALUE lines
lab_up() {
    local line
    V=()
    while IFS= read -r line; do V[${line%%=*}]=${line#*=}; done < <(
        bash "$LABSH" up dual "$PREFIX" "$1" --role responder --mobike yes \
            --id moon.example.org --remote-id carol@example.org \
            --local-ts 198.18.1.0/24 --pool 198.18.0.0/24 2>"$1.lab.log"
    )
    [[ -n ${V[MOON_B]:-} ]] || { cat "$1.lab.log" >&2; return 1; }
}

# wait_for SECONDS CMD...: poll CMD every 0.1 s; 1 on timeout
wait_for() {
    local n=$(( $1 * 10 )); shift
    until "$@"; do (( n-- > 0 )) || return 1; sleep 0.1; done
}

# start_initiator TOOL DIR: the SA up on link A with a virtual IP
start_initiator() {
    local tool=$1 dir=$2
    if [[ $tool == strongswan ]]; then
        bash "$LABSH" charon "$PREFIX" "$dir" carol --ns peer --role initiator --mobike yes \
            --local "${V[PEER_A]},${V[PEER_B]}" --remote "${V[MOON_A]},${V[MOON_B]}" \
            --id carol@example.org --remote-id moon.example.org --remote-ts 198.18.1.0/24 \
            2>>"$dir.lab.log"
        bash "$LABSH" swanctl "$PREFIX" "$dir" --node carol --initiate --child net \
            --timeout 20 >"$dir/carol-initiate.log" 2>&1 \
            || { log "carol could not initiate: $(tail -3 "$dir/carol-initiate.log")"; return 1; }
    else
        printf '%s\n' "$PSK" >"$dir/psk"
        rm -f "$dir/peer.in"; mkfifo "$dir/peer.in"
        ip netns exec "$PREFIX-peer" "$MOBIKECTL" peer --remote "${V[MOON_A]}" \
            --remote "${V[MOON_B]}" --local "${V[PEER_A]}" --local "${V[PEER_B]}" --follow-os \
            --id carol@example.org --remote-id moon.example.org \
            --psk-file "$dir/psk" --events json --vip 0.0.0.0 --remote-ts 198.18.1.0/24 \
            --keylog "$dir/keys.log" --pcap "$dir/own.pcapng" \
            <"$dir/peer.in" >"$dir/events.jsonl" 2>"$dir/peer.stderr" &
        PEER_PID=$!
        exec 7>"$dir/peer.in"
        wait_for 20 grep -q '"event":"child_up"' "$dir/events.jsonl" \
            || { log "mobikectl peer: no child_up (see $dir/events.jsonl, $dir/peer.stderr)"; return 1; }
    fi
}

# the initiator's virtual IP
vip_of() {
    local tool=$1 dir=$2
    if [[ $tool == strongswan ]]; then
        sed -n 's/.*installing new virtual IP \([^ ]*\).*/\1/p' "$dir/carol/charon.log" | tail -1
    else
        sed -n 's/.*"event":"child_up".*"vip":"\([^"]*\)".*/\1/p' "$dir/events.jsonl" | head -1
    fi
}

ping_start() {
    local tool=$1 dir=$2 vip=$3
    if [[ $tool == strongswan ]]; then
        ip netns exec "$PREFIX-peer" ping -D -n -i 0.01 -W 2 -I "$vip" "$MOON_LAN" \
            >"$dir/ping.txt" 2>&1 &
        PING_PID=$!
    else
        printf 'ping %s 10ms\n' "$MOON_LAN" >&7
    fi
}

ping_stop() {
    local tool=$1
    if [[ $tool == strongswan ]]; then
        kill -INT "$PING_PID" 2>/dev/null || true
        wait "$PING_PID" 2>/dev/null || true
        PING_PID=""
    else
        printf 'ping stop\n' >&7
        sleep 0.3
    fi
}

stop_run() {
    if [[ -n $PING_PID ]]; then kill "$PING_PID" 2>/dev/null || true; wait "$PING_PID" 2>/dev/null || true; PING_PID=""; fi
    if [[ -n $PEER_PID ]]; then
        exec 7>&-          # EOF: the peer quits
        wait_for 5 eval '! kill -0 "$PEER_PID" 2>/dev/null' || kill "$PEER_PID" 2>/dev/null || true
        wait "$PEER_PID" 2>/dev/null || true
        PEER_PID=""
    fi
    bash "$LABSH" down "$PREFIX" >/dev/null 2>&1 || true
}

# wire_replies DIR MOON_A MOON_B: "TIME LINK" of every ESP packet from moon in the
# initiator's captures (link A: peer.pcap, link B: peer-b.pcap): the echo replies
wire_replies() {
    local dir=$1
    tshark -r "$dir/peer.pcap" -Y "esp && ip.src == $2" -T fields -e frame.time_epoch 2>/dev/null \
        | sed 's/$/ A/' || true
    tshark -r "$dir/peer-b.pcap" -Y "esp && ip.src == $3" -T fields -e frame.time_epoch 2>/dev/null \
        | sed 's/$/ B/' || true
}

# analyze TOOL DIR T0: "gap_ms lost sent received covers_flush moved wire_gap_ms" for the run
analyze() {
    wire_replies "$2" "${V[MOON_A]}" "${V[MOON_B]}" >"$2/wire-replies.txt"
    python3 - "$1" "$2" "$3" <<'PY'
import json, re, sys
from datetime import datetime, timezone
tool, d, t0 = sys.argv[1], sys.argv[2], float(sys.argv[3])
# the move on the wire: the last ESP from moon that reached the initiator before the flush
# (link A packets after the flush are captured but dropped: the address is gone) -> the
# first one on link B after it
wire = []
for l in open(f"{d}/wire-replies.txt"):
    p = l.split()
    if len(p) == 2:
        wire.append((float(p[0]), p[1]))
before = [t for t, link in wire if t <= t0]
after = [t for t, link in wire if t > t0 and link == "B"]
wire_gap = f"{(min(after) - max(before)) * 1000:.1f}" if before and after else "-"
# a gap "contains the flush" when it ends after it and starts at most 50 ms later (the
# clock is read just before `ip addr flush` runs; a reply may still come in between)
def covers(a, b):
    return "yes" if a <= t0 + 0.05 and b >= t0 else "no"
def secs(t):
    t = t.rstrip("Z")
    head, _, frac = t.partition(".")
    base = datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp()
    return base + (float("0." + frac) if frac else 0.0)
if tool == "mobikectl":
    ev = []
    for l in open(f"{d}/events.jsonl"):
        if l.startswith("{"):
            ev.append(json.loads(l))
    fin = next((e for e in ev if e.get("event") == "ping" and e.get("state") == "stopped"), None)
    moved = any(e.get("event") == "moved" for e in ev)
    if fin is None:
        print(f"- - - - - - {wire_gap}"); sys.exit()
    gs, ge = fin.get("gap_start"), fin.get("gap_end")
    cov = "-" if not gs or not ge else covers(secs(gs), secs(ge))
    print(f'{fin["longest_gap_ms"]:.1f} {fin["lost"]} {fin["sent"]} {fin["received"]} {cov} {"yes" if moved else "no"} {wire_gap}')
else:
    text = open(f"{d}/ping.txt").read()
    times = [float(m) for m in re.findall(r"^\[(\d+\.\d+)\] \d+ bytes from", text, re.M)]
    st = re.search(r"(\d+) packets transmitted, (\d+) received", text)
    sent, rec = (int(st.group(1)), int(st.group(2))) if st else (None, len(times))
    gap, a, b = 0.0, None, None
    for x, y in zip(times, times[1:]):
        if y - x > gap:
            gap, a, b = y - x, x, y
    cov = "-" if a is None else covers(a, b)
    try:
        log = open(f"{d}/carol/charon.log").read()
        moved = "yes" if "UPD_SA_ADDR" in log else "no"
    except FileNotFoundError:
        moved = "-"
    lost = "-" if sent is None else sent - rec
    print(f'{gap * 1000:.1f} {lost} {sent if sent is not None else "-"} {rec} {cov} {moved} {wire_gap}')
PY
}

RESULTS=$OUT/results.tsv
printf 'tool\trun\tgap_ms\tlost\tsent\treceived\tgap_covers_flush\tmoved\twire_gap_ms\n' >"$RESULTS"

run() {
    local tool=$1 n=$2 dir=$OUT/$1-$2 t0 vip r
    lab_up "$dir" || return 1
    start_initiator "$tool" "$dir" || { stop_run; return 1; }
    vip=$(vip_of "$tool" "$dir")
    [[ -n $vip ]] || { log "$tool run $n: no virtual IP"; stop_run; return 1; }
    ping_start "$tool" "$dir" "$vip"
    sleep "$PRE"
    # the clock is read in the namespace's shell right before `ip addr flush` (as in
    # benches/mobike_move.sh)
    t0=$(ip netns exec "$PREFIX-peer" sh -c 'date +%s.%N; exec ip addr flush dev "$1"' sh "${V[IF_A]}")
    sleep "$POST"
    ping_stop "$tool"
    stop_run
    r=$(analyze "$tool" "$dir" "$t0")
    read -r gap lost sent rec covers moved wire <<<"$r"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$n" "$gap" "$lost" "$sent" "$rec" "$covers" "$moved" "$wire" >>"$RESULTS"
    log "$tool run $n: longest gap $gap ms (contains the flush: $covers), replies on the wire: $wire ms without across the flush, lost $lost of $sent, moved: $moved"
}

log "tools ${TOOLS[*]}, $RUNS runs each, results in $OUT"
for tool in "${TOOLS[@]}"; do
    for (( n = 1; n <= RUNS; n++ )); do
        run "$tool" "$n" || {
            log "$tool run $n failed"
            printf '%s\t%s\t-\t-\t-\t-\t-\t-\t-\n' "$tool" "$n" >>"$RESULTS"
            stop_run
        }
    done
done

python3 - "$RESULTS" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
tools = list(dict.fromkeys(r["tool"] for r in rows))
def nums(tool, k):
    v = []
    for r in rows:
        if r["tool"] == tool:
            try:
                v.append(float(r[k]))
            except ValueError:
                pass
    return v
metrics = [
    ("gap_ms", "longest time between two replies, whole run (ping's view)"),
    ("wire_gap_ms", "last reply before the flush -> first on link B (initiator's captures)"),
    ("lost", "lost requests"),
]
print("\nData-plane outage across a MOBIKE move (address loss, second path up), ping every 10 ms")
summary = {}
for k, title in metrics:
    print(f"\n{title}")
    print(f"{'initiator':<11} {'runs':>4} {'ok':>3} {'best':>8} {'median':>8} {'worst':>8}  raw")
    for tool in tools:
        v = nums(tool, k)
        raw = " ".join(r[k] for r in rows if r["tool"] == tool)
        n = sum(1 for r in rows if r["tool"] == tool)
        if v:
            summary[(tool, k)] = (min(v), statistics.median(v))
            print(f"{tool:<11} {n:>4} {len(v):>3} {min(v):>8.1f} {statistics.median(v):>8.1f} {max(v):>8.1f}  {raw}")
        else:
            print(f"{tool:<11} {n:>4} {0:>3} {'-':>8} {'-':>8} {'-':>8}  {raw}")
for k, title in metrics[:2]:
    m, st = summary.get(("mobikectl", k)), summary.get(("strongswan", k))
    if m and st and m[0] > 0 and m[1] > 0:
        print(f"ratio strongswan / mobikectl, {k}: best {st[0] / m[0]:.1f}x, median {st[1] / m[1]:.1f}x")
PY
log "raw results: $RESULTS"
