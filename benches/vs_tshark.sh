#!/usr/bin/env bash
# Whole-process speed and memory of decrypting `mobikectl decode` against tshark on the same
# capture and keys: a real strongSwan MOBIKE capture replicated into COPIES IKE SAs (20
# messages each; default 1,400 copies = 28,000 messages), every SK payload decryptable.
# Prints the best of RUNS wall-clock times for JSON (vs `tshark -T json`) and text (vs
# `tshark -V`), the ratios (json1/text1: decode in one thread), and peak memory on BIG_COPIES
# copies (default 140,000 messages).
set -euo pipefail
cd "$(dirname "$0")/.."
copies=${COPIES:-1400}
big_copies=${BIG_COPIES:-7000}
runs=${RUNS:-3}
target=${CARGO_TARGET_DIR:-target}
bin=$target/release/mobikectl
out=$target/vs-tshark
src=testdata/strongswan-move

cargo build --release --quiet --example make_large_capture --bin mobikectl
gen() { "$target/release/examples/make_large_capture" "$src/cap-moon.pcap" "$src/ikev2_decryption_table" "$1" "$2" >/dev/null; }
gen "$copies" "$out/n$copies"
messages=$((copies * 20))
pcap=$out/n$copies/large.pcap
keys=$out/n$copies/ikev2_decryption_table
# tshark reads the same key table from its configuration directory.
export WIRESHARK_CONFIG_DIR=$out/n$copies/wireshark
mkdir -p "$WIRESHARK_CONFIG_DIR"
cp "$keys" "$WIRESHARK_CONFIG_DIR/ikev2_decryption_table"

seconds() { # wall time in seconds of "$@", output discarded
  local s e
  s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N)
  awk -v s="$s" -v e="$e" 'BEGIN { printf "%.4f", e - s }'
}
lower() { awk -v t="$1" -v b="$2" 'BEGIN { print (b == "" || t < b) ? t : b }'; }
check_decrypts() { # the runs must really decrypt: count inner payload lists in our JSON
  local n
  n=$("$bin" decode --keys "$keys" -f json "$pcap" | grep -c '"integrity":"ok"' || true)
  echo "messages with integrity ok in our JSON: $n of $messages"
}

check_decrypts
# Best of $runs runs each; the runs of both tools take turns, so that both see the same
# machine (on a shared machine other load comes and goes).
ours_json="" tshark_json="" ours_text="" tshark_text="" ours_json_1="" ours_text_1=""
for _ in $(seq "$runs"); do
  ours_json=$(lower "$(seconds "$bin" decode --keys "$keys" -f json "$pcap")" "$ours_json")
  tshark_json=$(lower "$(seconds tshark -n -r "$pcap" -T json)" "$tshark_json")
  ours_text=$(lower "$(seconds "$bin" decode --keys "$keys" "$pcap")" "$ours_text")
  tshark_text=$(lower "$(seconds tshark -n -r "$pcap" -V)" "$tshark_text")
  # The same in one thread (decode renders on a second thread when there is a second CPU).
  ours_json_1=$(lower "$(MOBIKECTL_THREADS=1 seconds "$bin" decode --keys "$keys" -f json "$pcap")" "$ours_json_1")
  ours_text_1=$(lower "$(MOBIKECTL_THREADS=1 seconds "$bin" decode --keys "$keys" "$pcap")" "$ours_text_1")
done

report() {
  awk -v what="$1" -v ours="$2" -v theirs="$3" -v n="$messages" 'BEGIN {
    printf "%-5s ours %.3f s (%.0f msg/s)  tshark %.3f s (%.0f msg/s)  ratio %.1fx\n",
      what, ours, n / ours, theirs, n / theirs, theirs / ours }'
}
echo "$messages IKE messages, $copies IKE SAs, best of $runs runs:"
report json "$ours_json" "$tshark_json"
report text "$ours_text" "$tshark_text"
report json1 "$ours_json_1" "$tshark_json"
report text1 "$ours_text_1" "$tshark_text"

gen "$big_copies" "$out/n$big_copies"
big=$out/n$big_copies
rss=$( { /usr/bin/time -f %M "$bin" decode --keys "$big/ikev2_decryption_table" -f json "$big/large.pcap" >/dev/null; } 2>&1 | tail -1)
echo "peak memory, $((big_copies * 20)) messages, JSON with keys: $((rss / 1024)) MB"
