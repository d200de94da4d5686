# shellcheck shell=bash
# v4-resp-rekey-mobike: the responder rekeys the IKE SA (`swanctl --rekey --ike`
# on moon), so moon is the initiator of the new IKE SA (RFC 7296 §2.2: it sends
# with the I flag, carol without). Then carol, multihomed and the mobile side,
# loses her first address and moves the new IKE SA with MOBIKE.
#
#   carol eth0 192.0.2.10/24 ---- r0 192.0.2.1 \
#                                               router r  r2 203.0.113.2 ---- eth0 203.0.113.1 moon
#   carol eth1 198.51.100.10/24 - r1 198.51.100.1 /       (protected 198.18.1.1/24 on lo, pool 198.18.0.0/24)
scenario_v4_resp_rekey_mobike() {
    local out=$1
    lab_ns carol; lab_ns r; lab_ns moon
    lab_link carol eth0 r r0
    lab_link carol eth1 r r1
    lab_link r r2 moon eth0
    lab_forwarding r
    lab_addr carol eth0 192.0.2.10/24
    lab_addr carol eth1 198.51.100.10/24
    lab_addr r r0 192.0.2.1/24
    lab_addr r r1 198.51.100.1/24
    lab_addr r r2 203.0.113.2/24
    lab_addr moon eth0 203.0.113.1/24
    lab_lan moon 198.18.1.1/24
    lab_route carol add default via 192.0.2.1 dev eth0 metric 100
    lab_route carol add default via 198.51.100.1 dev eth1 metric 200
    lab_route moon add default via 203.0.113.2 dev eth0

    local ike=aes256-sha512-ecp256 esp=aes128-sha256
    charon_conf carol --role init --local "192.0.2.10,198.51.100.10" --remote 203.0.113.1 \
        --id carol@example.org --remote-id moon.example.org --ike $ike --esp $esp \
        --remote-ts 198.18.1.0/24 --dpd 5s
    charon_conf moon --role resp --local 203.0.113.1 \
        --id moon.example.org --remote-id carol@example.org --ike $ike --esp $esp \
        --local-ts 198.18.1.0/24 --pool 198.18.0.0/24 --dpd 0s

    lab_capture_start moon eth0 "$out/moon-eth0.pcap"
    charon_start moon
    charon_start carol

    lab_initiate carol net
    local vip; vip=$(lab_vip carol)
    lab_log "carol vip $vip"
    lab_ping carol 198.18.1.1 3 "$vip"
    lab_log "moon (responder) rekeys the IKE SA"
    lab_swanctl moon --rekey --ike home >/dev/null
    lab_wait_log moon "IKE_SA home\\[[0-9]+\\] rekeyed between" 30
    sleep 1
    lab_ping carol 198.18.1.1 3 "$vip"
    sleep 6                                   # a DPD by carol on the new IKE SA
    lab_log "flushing carol eth0"
    lab_addr_flush carol eth0
    lab_route carol del default via 192.0.2.1 dev eth0 2>/dev/null || true
    lab_wait_log carol "INFORMATIONAL request [0-9]+ \\[ N\\(UPD_SA_ADDR\\)" 30
    sleep 2
    lab_ping carol 198.18.1.1 3 "$vip"
    sleep 1
    lab_swanctl carol --terminate --ike home --timeout 10 >/dev/null
    sleep 1
    lab_capture_stop_all
    charon_stop carol; charon_stop moon
}

check_v4_resp_rekey_mobike() {
    # MOBIKE_SUPPORTED, ADDITIONAL_IP4_ADDRESS, UPDATE_SA_ADDRESSES, COOKIE2 (decrypted)
    expect_notify "$1" 16396 16397 16400 16401
    # IKE SA rekey by moon: a CREATE_CHILD_SA request without the I flag, and keys of
    # both IKE SAs
    local p=$1/moon-eth0.pcap
    [[ $(tshark -r "$p" -Y 'isakmp.exchangetype == 36 && isakmp.flag_i == 0 && isakmp.flag_r == 0' \
        2>/dev/null | wc -l) -ge 1 ]] || { echo "no CREATE_CHILD_SA request by moon" >&2; return 1; }
    [[ $(grep -c '"spi_i"' "$1/ikev2_keys.json") -ge 2 ]] || { echo "no rekeyed IKE SA keys" >&2; return 1; }
    grep -q "generating INFORMATIONAL request [0-9]* \[ N(UPD_SA_ADDR)" "$1/carol-charon.log"
}
