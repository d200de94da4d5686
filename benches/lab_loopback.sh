#!/usr/bin/env bash
# The embedded lab's move and outage times, no root needed:
#
#   bash benches/lab_loopback.sh            # 20 runs of each lab
#   RUNS=5 bash benches/lab_loopback.sh
#
# Runs `mobikectl lab --report json --events` (release build; the loopback lab: real UDP
# sockets on 127.0.0.x, the wall clock) RUNS times, then the same with `--virtual` (the
# in-memory network: 10 ms one-way latency, a simulated clock, so every run is the same),
# and prints for each the best and the median of
#
#   move_after_loss  the default drill's `measure move_after_loss`: `addr del` of the
#                    SA's address -> the initiator's `moved` event (ms);
#   outage           the longest gap of the ping through the CHILD_SA (10.2.0.1 ->
#                    10.1.0.1 every 10 ms, from SA up to the end of the drill): the
#                    `longest_gap_ms` of its final `ping stopped` event (ms).
#                    Its resolution is the ping interval: with no reply lost it is
#                    10 ms plus scheduling jitter.
#
# A run whose drill fails is counted and left out. Needs python3 (JSON).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-20}

cargo build --release --quiet
bin=${CARGO_TARGET_DIR:-target}/release/mobikectl

# one line per run: "MOVE_MS OUTAGE_MS", or "FAILED"
measure() {
    local out
    if ! out=$("$bin" lab --report json --events "$@"); then
        echo FAILED
        return
    fi
    python3 -c '
import json, sys
r = json.load(sys.stdin)
move = next((m["ms"] for m in r["measurements"] if m["name"] == "move_after_loss"), None)
stops = [e for e in r.get("events", []) if e.get("event") == "ping" and e.get("state") == "stopped"]
gap = stops[-1].get("longest_gap_ms") if stops else None
print("FAILED" if move is None or gap is None else f"{move} {gap}")
' <<<"$out"
}

# best and median of a column of numbers on stdin
summary() {
    python3 -c '
import statistics, sys
v = sorted(float(x) for x in sys.stdin.read().split())
print("-" if not v else f"best {v[0]:8.3f} ms   median {statistics.median(v):8.3f} ms")
'
}

for lab in loopback virtual; do
    flags=()
    [[ $lab == virtual ]] && flags=(--virtual)
    results=$(for _ in $(seq "$RUNS"); do measure "${flags[@]}"; done)
    ok=$(grep -v FAILED <<<"$results" || true)
    failed=$(grep -c FAILED <<<"$results" || true)
    echo "$lab lab, $RUNS runs ($failed failed):"
    echo "  move_after_loss  $(awk '{print $1}' <<<"$ok" | summary)"
    echo "  outage (ping)    $(awk '{print $2}' <<<"$ok" | summary)"
done
