# shellcheck shell=bash
# v4-ctr-modp-rekey: AES-CTR + HMAC-SHA-384 + MODP-3072, short lifetimes:
# CHILD_SA rekey (CREATE_CHILD_SA with N(REKEY_SA), PFS KE), IKE SA rekey
# (CREATE_CHILD_SA with an IKE proposal), DPDs on the new IKE SA, delete.
#
#   carol eth0 192.0.2.10/24 ──── eth0 192.0.2.1/24 moon (protected 198.18.1.0/24, pool 198.18.0.0/24)
scenario_v4_ctr_modp_rekey() {
    local out=$1
    lab_ns carol; lab_ns moon
    lab_link carol eth0 moon eth0
    lab_addr carol eth0 192.0.2.10/24
    lab_addr moon eth0 192.0.2.1/24
    lab_lan moon 198.18.1.1/24

    local ike=aes192ctr-sha384-modp3072 esp=aes192ctr-sha384-modp3072
    charon_conf carol --role init --local 192.0.2.10 --remote 192.0.2.1 \
        --id carol@example.org --remote-id moon.example.org --ike $ike --esp $esp \
        --remote-ts 198.18.1.0/24 --dpd 5s \
        --ike-rekey 22s --ike-rand 0s --conn-opt "over_time = 10s" \
        --child-rekey 8s --child-rand 0s --child-opt "life_time = 14s"
    charon_conf moon --role resp --local 192.0.2.1 \
        --id moon.example.org --remote-id carol@example.org --ike $ike --esp $esp \
        --local-ts 198.18.1.0/24 --pool 198.18.0.0/24 --dpd 0s

    lab_capture_start moon eth0 "$out/moon-eth0.pcap"
    charon_start moon
    charon_start carol

    lab_initiate carol net
    local vip; vip=$(lab_vip carol)
    lab_log "carol vip $vip"
    lab_ping carol 198.18.1.1 3 "$vip"
    lab_wait_log carol "generating CREATE_CHILD_SA request [0-9]+ \\[ N\\(REKEY_SA\\)" 30
    lab_log "CHILD_SA rekeyed"
    sleep 1
    lab_ping carol 198.18.1.1 3 "$vip"
    lab_wait_log carol "IKE_SA home\\[[0-9]+\\] rekeyed between" 40
    lab_log "IKE_SA rekeyed"
    lab_ping carol 198.18.1.1 3 "$vip"
    sleep 6                                    # a DPD on the new IKE SA
    lab_swanctl carol --terminate --ike home --timeout 10 >/dev/null
    sleep 1
    lab_capture_stop_all
    charon_stop carol; charon_stop moon
}

check_v4_ctr_modp_rekey() {
    # REKEY_SA in a decrypted CREATE_CHILD_SA, 2 IKE SAs with keys, a Delete payload
    expect_notify "$1" 16393
    expect_exchange "$1" 36 4
    [[ $(grep -c '"spi_i"' "$1/ikev2_keys.json") -ge 2 ]] || { echo "no rekeyed IKE SA keys" >&2; return 1; }
    [[ $(WIRESHARK_CONFIG_DIR=$1 tshark -r "$1/moon-eth0.pcap" -Y 'isakmp.typepayload == 42' 2>/dev/null | wc -l) -ge 2 ]]
}
