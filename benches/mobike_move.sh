#!/usr/bin/env bash
# MOBIKE "failure noticed -> SA moved" benchmark on the lab's dual-uplink topologies
# (strongswan-lab/interop/lab.sh dual | dualnat), as root:
#
#   sudo bash benches/mobike_move.sh                    # strongSwan carol -> strongSwan moon
#   sudo RUNS=10 bash benches/mobike_move.sh --cases a,b
#   sudo bash benches/mobike_move.sh --tool mobikectl   # `mobikectl peer` as the initiator
#
# moon is always strongSwan 5.9 (responder, mobike = yes). The initiator in the peer
# namespace is strongSwan's charon "carol" (mobike = yes; `--tool strongswan`, default) or
# `mobikectl peer --remote MOON_A --remote MOON_B --local PEER_A --local PEER_B --follow-os --dpd DPD ...
# --events json` (`--tool mobikectl`). Cases, each run on a fresh lab:
#
#   a  address loss with a second path up (dual): `ip addr flush` of the initiator's link-A
#      interface (192.0.2.10 and 2001:db8:1::10). Measured: flush -> the UPDATE_SA_ADDRESSES
#      request reaching moon, and flush -> moon's response to it.
#   b  NAT rebinding (dualnat, SA established on link B through the NAT, dpd_delay = 2s):
#      `conntrack -D` on the NAT once the first DPD has recorded the mapping, at a random
#      point of the next DPD interval. Measured: conntrack -D -> UPDATE_SA_ADDRESSES reaching
#      moon (and -> moon's response). (mobikectl: `--dpd DPD`.)
#   c  silent black hole of the current path (dual, dpd_delay = 2s): moon drops everything
#      from and to the initiator's link-A address (netdev hooks: no error, no address event).
#      Measured: the first request that reaches moon unanswered -> a move (an
#      UPDATE_SA_ADDRESSES or any IKE message of the SA on link B), waited for at most CAP
#      seconds (strongSwan never moves here: "no move"). Both have dpd_delay = DPD.
#
# Times come from moon's captures (tcpdump on both of moon's interfaces, merged), decrypted
# by `mobikectl decode --timeline --keys moon/charon.log` (charon logs keys at ike 4); the
# start time is the wall clock just before the flush / conntrack -D / black hole (same clock
# as the captures). With `--tool mobikectl` the peer's `moved` events (elapsed_ms) are
# reported too when there are any.
#
# Prints per case the best and the median of the runs (ms) and the raw values; everything
# (captures, logs, per-run results.tsv) stays in OUT.
#
# Options / environment:
#   --tool strongswan|mobikectl   initiator (default strongswan)
#   --cases a,b,c                 which cases (default all)
#   RUNS=5                        runs per case
#   CAP=40                        case c: seconds to wait for a move
#   DPD=2                         dpd_delay (b, c) in seconds
#   OUT=DIR                       results directory (default /tmp/mobike-move.XXXXXX)
#   MOBIKECTL=PATH                mobikectl binary (default target/release/mobikectl, built
#                                 with `cargo build --release --bin mobikectl` if missing)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LABSH=$ROOT/strongswan-lab/interop/lab.sh
RUNS=${RUNS:-5}
CAP=${CAP:-40}
DPD=${DPD:-2}
TOOL=strongswan
CASES=a,b,c
while (( $# )); do
    case $1 in
        --tool) TOOL=$2; shift 2;;
        --cases) CASES=$2; shift 2;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0;;
        *) echo "unknown option $1 (see --help)" >&2; exit 2;;
    esac
done
[[ $TOOL == strongswan || $TOOL == mobikectl ]] || { echo "--tool strongswan|mobikectl" >&2; exit 2; }
[[ $EUID -eq 0 ]] || { echo "must run as root" >&2; exit 1; }
for c in tcpdump mergecap swanctl nft conntrack python3; do
    command -v "$c" >/dev/null || { echo "needs $c (bash .ci/install-packages)" >&2; exit 1; }
done
MOBIKECTL=${MOBIKECTL:-$ROOT/target/release/mobikectl}
if [[ ! -x $MOBIKECTL ]]; then
    (cd "$ROOT" && cargo build --release --bin mobikectl)
fi
OUT=${OUT:-$(mktemp -d /tmp/mobike-move.XXXXXX)}
mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd)
PREFIX=mm$$
PSK=mobikectl-lab-psk-0123456789
PEER_PID=""

log() { printf '[bench %(%T)T] %s\n' -1 "$*" >&2; }
now() { date +%s.%N; }

cleanup() {
    set +e
    exec 7>&- 2>/dev/null
    [[ -n $PEER_PID ]] && kill "$PEER_PID" 2>/dev/null
    bash "$LABSH" down "$PREFIX" >/dev/null 2>&1
}
trap cleanup EXIT
trap 'exit 130' INT TERM

declare -A V=()
# lab_up TOPO DIR: lab with moon (responder), V[...] = its KEY=VALUE lines
lab_up() {
    local line
    V=()
    while IFS= read -r line; do V[${line%%=*}]=${line#*=}; done < <(
        bash "$LABSH" up "$1" "$PREFIX" "$2" --role responder --mobike yes \
            --id moon.example.org --remote-id carol@example.org \
            --local-ts 198.18.1.0/24 --pool 198.18.0.0/24 2>"$2.lab.log"
    )
    [[ -n ${V[MOON_B]:-} ]] || { cat "$2.lab.log" >&2; return 1; }
}

# wait_for SECONDS CMD...: poll CMD every 0.1 s; 1 on timeout
wait_for() {
    local n=$(( $1 * 10 )); shift
    until "$@"; do (( n-- > 0 )) || return 1; sleep 0.1; done
}

# start_initiator DIR FIRST_REMOTE SECOND_REMOTE FIRST_LOCAL SECOND_LOCAL DPD_DELAY
start_initiator() {
    local dir=$1 r1=$2 r2=$3 l1=$4 l2=$5 dpd=$6
    if [[ $TOOL == strongswan ]]; then
        bash "$LABSH" charon "$PREFIX" "$dir" carol --ns peer --role initiator --mobike yes \
            --local "$l1,$l2" --remote "$r1,$r2" --id carol@example.org \
            --remote-id moon.example.org --remote-ts 198.18.1.0/24 --dpd-delay "$dpd" \
            2>>"$dir.lab.log"
        bash "$LABSH" swanctl "$PREFIX" "$dir" --node carol --initiate --child net \
            --timeout 20 >"$dir/carol-initiate.log" 2>&1 \
            || { log "carol could not initiate: $(tail -3 "$dir/carol-initiate.log")"; return 1; }
    else
        printf '%s\n' "$PSK" >"$dir/psk"
        rm -f "$dir/peer.in"; mkfifo "$dir/peer.in"
        ip netns exec "$PREFIX-peer" "$MOBIKECTL" peer --remote "$r1" --remote "$r2" \
            --local "$l1" --local "$l2" --follow-os --dpd "${dpd%s}" \
            --id carol@example.org --remote-id moon.example.org \
            --psk-file "$dir/psk" --events json --vip 0.0.0.0 --remote-ts 198.18.1.0/24 \
            --keylog "$dir/keys.log" --pcap "$dir/own.pcapng" \
            <"$dir/peer.in" >"$dir/events.jsonl" 2>"$dir/peer.stderr" &
        PEER_PID=$!
        exec 7>"$dir/peer.in"
        wait_for 20 grep -q '"event":"ike_up"' "$dir/events.jsonl" \
            || { log "mobikectl peer: no ike_up (see $dir/events.jsonl, $dir/peer.stderr)"; return 1; }
    fi
}

peer_cmd() { [[ $TOOL == mobikectl ]] && printf '%s\n' "$1" >&7 || true; }

stop_run() {
    if [[ -n $PEER_PID ]]; then
        exec 7>&-          # EOF: the peer quits
        wait_for 5 eval '! kill -0 "$PEER_PID" 2>/dev/null' || kill "$PEER_PID" 2>/dev/null || true
        wait "$PEER_PID" 2>/dev/null || true
        PEER_PID=""
    fi
    bash "$LABSH" down "$PREFIX" >/dev/null 2>&1 || true
}

# analyze CASE DIR T0 PEER_A PEER_B: prints "upd_ms resp_ms" (a, b) or "move_ms first" (c),
# "-" for what did not happen
analyze() {
    local case=$1 dir=$2 t0=$3 pa=$4 pb=$5
    mergecap -w "$dir/moon-all.pcap" "$dir/moon.pcap" "$dir/moon-b.pcap"
    "$MOBIKECTL" decode --timeline -f json --keys "$dir/moon/charon.log" "$dir/moon-all.pcap" \
        >"$dir/timeline.jsonl" 2>"$dir/timeline.stderr" || true
    "$MOBIKECTL" decode -f json --keys "$dir/moon/charon.log" "$dir/moon-all.pcap" \
        >"$dir/messages.jsonl" 2>"$dir/messages.stderr" || true
    python3 - "$case" "$dir" "$t0" "$pa" "$pb" "$CAP" <<'PY'
import json, sys
from datetime import datetime
case, d, t0, pa, pb = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4], sys.argv[5]
cap = float(sys.argv[6])
def secs(t):
    return datetime.strptime(t.rstrip("Z")[:26], "%Y-%m-%dT%H:%M:%S.%f").replace(
        tzinfo=__import__("datetime").timezone.utc).timestamp()
def lines(f):
    try:
        return [json.loads(l) for l in open(f) if l.startswith("{")]
    except FileNotFoundError:
        return []
tl = lines(f"{d}/timeline.jsonl")
msgs = lines(f"{d}/messages.jsonl")
fmt = lambda x: "-" if x is None else f"{x * 1000:.1f}"
if case in ("a", "b"):
    upd = next((e for e in tl if e["event"] == "address_update" and e["time_us"] / 1e6 > t0), None)
    resp = None
    if upd:
        resp = next((e for e in tl if e["event"] == "exchange" and e["exchange"] == "INFORMATIONAL"
                     and e["message_id"] == upd["message_id"] and e["requester"] == "initiator"
                     and e["time_us"] >= upd["time_us"]), None)
    print(fmt(upd and upd["time_us"] / 1e6 - t0), fmt(resp and resp["time_us"] / 1e6 - t0))
else:
    # first request of the initiator from the black-holed address after t0 (unanswered)
    first = next((m for m in msgs if "exchange" in m and not m.get("response") and m["src"] == pa
                  and secs(m["time"]) > t0), None)
    tf = secs(first["time"]) if first else None
    moved = [e["time_us"] / 1e6 for e in tl if e["event"] == "address_update" and e["time_us"] / 1e6 > t0]
    moved += [secs(m["time"]) for m in msgs if "exchange" in m and m["src"] == pb and secs(m["time"]) > t0]
    tm = min(moved) if moved else None
    if tm is not None and tf is not None and tm - tf > cap:
        tm = None  # later than the cap: "no move"
    print(fmt(tm - tf if tm is not None and tf is not None else None), fmt(tf - t0 if tf else None))
PY
}

# moved_ms DIR: elapsed_ms of the mobikectl peer's first `moved` event, or - (the whole
# event stays in DIR/events.jsonl)
moved_ms() {
    python3 - "$1/events.jsonl" <<'PY'
import json, sys
try:
    ev = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
except FileNotFoundError:
    ev = []
m = next((e for e in ev if e.get("event") == "moved"), None)
print("-" if m is None or m.get("elapsed_ms") is None else m["elapsed_ms"])
PY
}

RESULTS=$OUT/results.tsv
printf 'tool\tcase\trun\tmetric\tms\n' >"$RESULTS"
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$TOOL" "$1" "$2" "$3" "$4" >>"$RESULTS"; }

run_a() {
    local n=$1 dir=$OUT/$TOOL-a-$n t0 r
    lab_up dual "$dir" || return 1
    start_initiator "$dir" "${V[MOON_A]}" "${V[MOON_B]}" "${V[PEER_A]}" "${V[PEER_B]}" 0s || { stop_run; return 1; }
    sleep 1
    # the clock is read in the namespace's shell right before `ip addr flush` (starting
    # lab.sh, bash and `ip netns exec` would add 10-20 ms to every figure)
    t0=$(ip netns exec "$PREFIX-peer" sh -c 'date +%s.%N; exec ip addr flush dev "$1"' sh "${V[IF_A]}")
    sleep 4
    stop_run
    r=$(analyze a "$dir" "$t0" "${V[PEER_A]}" "${V[PEER_B]}")
    record a "$n" update_at_moon "${r% *}"
    record a "$n" response_at_moon "${r#* }"
    [[ $TOOL == mobikectl ]] && record a "$n" peer_moved_event "$(moved_ms "$dir")"
    log "a run $n: UPDATE at moon ${r% *} ms, response ${r#* } ms"
}

run_b() {
    local n=$1 dir=$OUT/$TOOL-b-$n t0 r i
    lab_up dualnat "$dir" || return 1
    # established on link B, through the NAT
    start_initiator "$dir" "${V[MOON_B]}" "${V[MOON_A]}" "${V[PEER_B]}" "${V[PEER_A]}" "${DPD}s" || { stop_run; return 1; }
    # the first DPD records the NAT mapping; a rebinding is noticed by the next one
    if [[ $TOOL == strongswan ]]; then
        wait_for $(( DPD * 3 + 5 )) grep -Eq 'parsed INFORMATIONAL response [0-9]+ \[ N\(NATD_S_IP\) N\(NATD_D_IP\) \]' \
            "$dir/carol/charon.log" || log "b run $n: no DPD with NAT detection before the rebinding"
    else
        wait_for $(( DPD * 3 + 5 )) grep -q '"event":"nat"' "$dir/events.jsonl" \
            || log "b run $n: no DPD with NAT detection before the rebinding"
    fi
    # the rebinding at a random phase of the DPD interval (the DPD timer decides when it
    # is noticed; a fixed phase would measure one point of that interval)
    sleep "$(awk -v d="$DPD" -v r="$RANDOM" 'BEGIN { printf "%.3f", 0.1 + (d - 0.2) * r / 32768 }')"
    t0=$(now)
    bash "$LABSH" rebind "$PREFIX"
    sleep $(( DPD * 4 ))
    sleep 1
    stop_run
    r=$(analyze b "$dir" "$t0" "${V[PEER_B]}" "${V[PEER_A]}")
    record b "$n" update_at_moon "${r% *}"
    record b "$n" response_at_moon "${r#* }"
    [[ $TOOL == mobikectl ]] && record b "$n" peer_moved_event "$(moved_ms "$dir")"
    log "b run $n: UPDATE at moon ${r% *} ms, response ${r#* } ms"
}

run_c() {
    local n=$1 dir=$OUT/$TOOL-c-$n t0 r
    lab_up dual "$dir" || return 1
    start_initiator "$dir" "${V[MOON_A]}" "${V[MOON_B]}" "${V[PEER_A]}" "${V[PEER_B]}" "${DPD}s" || { stop_run; return 1; }
    sleep 1
    t0=$(now)
    bash "$LABSH" blackhole "$PREFIX" moon "${V[PEER_A]}" on
    # strongSwan's DPD comes within DPD s; then CAP s to move
    sleep $(( DPD + CAP + 1 ))
    stop_run
    r=$(analyze c "$dir" "$t0" "${V[PEER_A]}" "${V[PEER_B]}")
    record c "$n" first_unanswered_after_blackhole "${r#* }"
    record c "$n" move_after_first_unanswered "${r% *}"
    [[ $TOOL == mobikectl ]] && record c "$n" peer_moved_event "$(moved_ms "$dir")"
    log "c run $n: first unanswered request ${r#* } ms after the black hole, move ${r% *}"
}

log "tool $TOOL, cases $CASES, $RUNS runs each, results in $OUT"
for c in ${CASES//,/ }; do
    for (( n = 1; n <= RUNS; n++ )); do
        "run_$c" "$n" || { log "$c run $n failed"; record "$c" "$n" failed -; stop_run; }
    done
done

python3 - "$RESULTS" "$CAP" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
cap = sys.argv[2]
names = {
    ("a", "update_at_moon"): "a addr loss: flush -> UPDATE at moon",
    ("a", "response_at_moon"): "a addr loss: flush -> response at moon",
    ("a", "peer_moved_event"): "a addr loss: peer's moved event",
    ("b", "update_at_moon"): "b NAT rebind: conntrack -D -> UPDATE at moon",
    ("b", "response_at_moon"): "b NAT rebind: conntrack -D -> response at moon",
    ("b", "peer_moved_event"): "b NAT rebind: peer's moved event",
    ("c", "first_unanswered_after_blackhole"): "c black hole: on -> first unanswered request",
    ("c", "move_after_first_unanswered"): f"c black hole: first unanswered -> move (cap {cap} s)",
    ("c", "peer_moved_event"): "c black hole: peer's moved event",
}
order, vals = [], {}
for r in rows:
    k = (r["case"], r["metric"])
    if k not in vals:
        order.append(k); vals[k] = []
    vals[k].append(r["ms"])
tool = rows[0]["tool"] if rows else "?"
print(f"\nMOBIKE move times, initiator {tool} (ms; '-' = did not happen)")
print(f"{'case':<50} {'runs':>4} {'ok':>3} {'best':>9} {'median':>9}  raw")
for k in order:
    raw = vals[k]
    num = []
    for v in raw:
        try:
            num.append(float(v))
        except ValueError:
            pass
    best = f"{min(num):.1f}" if num else ("no move" if k[1].startswith("move") else "-")
    med = f"{statistics.median(num):.1f}" if num else "-"
    print(f"{names.get(k, ' '.join(k)):<50} {len(raw):>4} {len(num):>3} {best:>9} {med:>9}  {' '.join(raw)}")
PY
log "raw results: $RESULTS"
