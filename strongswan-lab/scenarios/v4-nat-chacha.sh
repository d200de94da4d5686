# shellcheck shell=bash
# v4-nat-chacha: carol behind an nftables masquerade NAT (random ports),
# ChaCha20-Poly1305, NAT-T keepalives, ESP in UDP, then a NAT rebinding
# (conntrack -D -p udp) that carol detects and answers with UPDATE_SA_ADDRESSES.
#
#   carol eth0 198.51.100.10 --- in0 198.51.100.1 [router r, masquerade] out0 203.0.113.2 --- eth0 203.0.113.1 moon
#   moon protected 198.18.1.1/24 (lo), virtual IP pool 198.18.0.0/24
scenario_v4_nat_chacha() {
    local out=$1
    lab_ns carol; lab_ns r; lab_ns moon
    lab_link carol eth0 r in0
    lab_link r out0 moon eth0
    lab_forwarding r
    lab_addr carol eth0 198.51.100.10/24
    lab_addr r in0 198.51.100.1/24
    lab_addr r out0 203.0.113.2/24
    lab_addr moon eth0 203.0.113.1/24
    lab_lan moon 198.18.1.1/24
    lab_route carol add default via 198.51.100.1
    lab_route moon add default via 203.0.113.2
    lab_nat r out0 random

    local ike=chacha20poly1305-prfsha256-x25519 esp=chacha20poly1305
    charon_conf carol --role init --local 198.51.100.10 --remote 203.0.113.1 \
        --id carol@example.org --remote-id moon.example.org --ike $ike --esp $esp \
        --remote-ts 198.18.1.0/24 --dpd 8s --opt "keep_alive = 3s"
    charon_conf moon --role resp --local 203.0.113.1 \
        --id moon.example.org --remote-id carol@example.org --ike $ike --esp $esp \
        --local-ts 198.18.1.0/24 --pool 198.18.0.0/24 --dpd 0s

    lab_capture_start r in0 "$out/nat-inside.pcap"
    lab_capture_start r out0 "$out/nat-outside.pcap"
    charon_start moon
    charon_start carol

    lab_initiate carol net
    local vip; vip=$(lab_vip carol)
    lab_log "carol vip $vip"
    lab_ping carol 198.18.1.1 5 "$vip"
    # keepalives from carol (idle > 3 s) and a first DPD: strongSwan's DPD
    # carries NAT detection behind a NAT and only the second one can notice a
    # changed mapping (the first one records it)
    lab_wait_log carol "parsed INFORMATIONAL response 2 " 30
    sleep 1
    lab_log "NAT rebinding: conntrack -D -p udp"
    lab_nat_rebind r
    lab_ping carol 198.18.1.1 2 "$vip" || true   # new mapping; replies go to the old one
    lab_wait_log carol "INFORMATIONAL request [0-9]+ \\[ N\\(UPD_SA_ADDR\\)" 30
    sleep 2
    lab_ping carol 198.18.1.1 5 "$vip"
    sleep 6
    lab_swanctl carol --terminate --ike home --timeout 10 >/dev/null
    sleep 1
    lab_capture_stop_all
    charon_stop carol; charon_stop moon
}

check_v4_nat_chacha() {
    # Wireshark 4.0 has no ChaCha20-Poly1305 for IKEv2: only the clear
    # IKE_SA_INIT notifies can be checked with tshark (NAT_DETECTION_*);
    # ikev2-keys.py checked the keys with python3-cryptography
    expect_notify "$1" 16388 16389
    grep -q "generating INFORMATIONAL request [0-9]* \[ N(UPD_SA_ADDR)" "$1/carol-charon.log"
    # at least one NAT-T keepalive (1-byte 0xff payload on 4500) on each side
    local p
    for p in "$1"/nat-inside.pcap "$1"/nat-outside.pcap; do
        [[ $(tshark -r "$p" -Y 'udp.port == 4500 && udp.length == 9' 2>/dev/null | wc -l) -ge 1 ]] \
            || { echo "no NAT-T keepalive in $p" >&2; return 1; }
    done
}
