#!/usr/bin/env bash
# Compares `mobikectl decode` of two builds (stdout, stderr and exit status) on every capture
# under testdata, without keys and with each key file of the capture's directory, as JSON,
# text and text with --hex, --timeline, --esp and the table.
# Usage: benches/same_output.sh OLD_BINARY NEW_BINARY [EXTRA.pcap KEYS]...
set -uo pipefail
cd "$(dirname "$0")/.."
old=$1 new=$2
shift 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
runs=0 diffs=0
check() { # args: decode arguments
  "$old" decode "$@" >"$tmp/o.out" 2>"$tmp/o.err"; local oc=$?
  "$new" decode "$@" >"$tmp/n.out" 2>"$tmp/n.err"; local nc=$?
  runs=$((runs + 1))
  if [ $oc != $nc ] || ! cmp -s "$tmp/o.out" "$tmp/n.out" || ! cmp -s "$tmp/o.err" "$tmp/n.err"; then
    diffs=$((diffs + 1))
    echo "DIFFERENT: decode $* (exit $oc vs $nc)"
    diff <(head -c 100000 "$tmp/o.out") <(head -c 100000 "$tmp/n.out") | head -5
    diff "$tmp/o.err" "$tmp/n.err" | head -5
  fi
}
formats() {
  check -f json "$@"; check "$@"; check --hex "$@"
  check --timeline "$@"; check -f json --timeline "$@"
  check --esp "$@"; check -f json --esp "$@"; check -f table "$@"
}
while IFS= read -r cap; do
  dir=$(dirname "$cap")
  formats "$cap"
  for k in "$dir"/ikev2_decryption_table "$dir"/ikev2_keys.json "$dir"/*charon.log; do
    [ -f "$k" ] && formats --keys "$k" "$cap"
  done
done < <(find testdata -name '*.pcap' -o -name '*.pcapng' | sort)
while [ $# -ge 2 ]; do
  check -f json --keys "$2" "$1"; check --keys "$2" "$1"; shift 2
done
echo "$runs runs, $diffs different"
[ $diffs = 0 ]
