#!/bin/bash
# Regenerate the strongSwan captures in testdata/<scenario>/.
#   sudo strongswan-lab/make-captures.sh                 # every scenario
#   sudo strongswan-lab/make-captures.sh v6-gcm-mobike   # only some
# Each scenario runs in its own subshell (own namespaces, own cleanup trap).
# Output per scenario: *.pcap, <node>-charon.log (ike 4, chd 4),
# ikev2_decryption_table (Wireshark UAT), ikev2_keys.json (all IKE SA keys).
# A hand-written README.md already in the directory is kept.
set -euo pipefail
LAB=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$LAB/.." && pwd)
TESTDATA=${TESTDATA:-$ROOT/testdata}
ALL=(v6-gcm-mobike v4-nat-chacha v4-ctr-modp-rekey v4-cbc-sha1-frag-cert v4-ccm-cookie v4-resp-rekey-mobike)
(( $# )) && ALL=("$@")

# expect_notify DIR NOTIFY...: every named notify type appears (decrypted) in DIR's captures
expect_notify() {
    local dir=$1 n; shift
    local found
    found=$(for p in "$dir"/*.pcap; do
        WIRESHARK_CONFIG_DIR=$dir tshark -r "$p" -T fields -e isakmp.notify.msgtype 2>/dev/null
    done | tr ',' '\n' | sort -u)
    for n in "$@"; do
        grep -qx "$n" <<<"$found" || { echo "missing notify $n in $dir" >&2; return 1; }
    done
}

# expect_exchange DIR EXCHTYPE MIN: at least MIN messages of that exchange type
expect_exchange() {
    local dir=$1 t=$2 min=$3 c=0 p
    for p in "$dir"/*.pcap; do
        c=$(( c + $(tshark -r "$p" -Y "isakmp.exchangetype == $t" 2>/dev/null | wc -l) ))
    done
    (( c >= min )) || { echo "only $c messages of exchange $t in $dir (want $min)" >&2; return 1; }
}

run_one() {
    local s=$1 out tmp
    out=$TESTDATA/$s
    tmp=$TESTDATA/.$s.new
    rm -rf "$tmp"; mkdir -p "$tmp"
    (
        # shellcheck source=strongswan-lab/lib.sh
        . "$LAB/lib.sh"
        # shellcheck disable=SC1090
        . "$LAB/scenarios/$s.sh"
        copy_logs() {
            local d
            for d in "$LAB_DIR"/*/; do
                [[ -f $d/charon.log ]] && cp "$d/charon.log" "$tmp/$(basename "$d")-charon.log"
            done
            return 0
        }
        lab_init
        # keep the logs even when the scenario fails (then look at $tmp)
        trap 'copy_logs; lab_cleanup' EXIT
        "scenario_${s//-/_}" "$tmp"
    )
    local -a pc=() lg=()
    for f in "$tmp"/*.pcap; do pc+=(--pcap "$f"); done
    for f in "$tmp"/carol-charon.log "$tmp"/*-charon.log; do [[ -f $f ]] && lg+=(--log "$f"); done
    python3 "$LAB/ikev2-keys.py" "${lg[@]}" "${pc[@]}" --out "$tmp"
    if declare -F "check_${s//-/_}" >/dev/null; then "check_${s//-/_}" "$tmp"; fi
    [[ -f $out/README.md ]] && cp "$out/README.md" "$tmp/"
    rm -rf "$out"; mv "$tmp" "$out"
    echo "== $s: $(du -sh "$out" | cut -f1)"; ls -l "$out"
}

for s in "${ALL[@]}"; do
    # shellcheck disable=SC1090
    . "$LAB/scenarios/$s.sh"     # for check_<scenario>
    run_one "$s"
done
