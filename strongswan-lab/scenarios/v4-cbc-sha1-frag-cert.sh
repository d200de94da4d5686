# shellcheck shell=bash
# v4-cbc-sha1-frag-cert: RSA-3072 certificate auth (throwaway CA made with
# `pki`), AES-CBC-256 + HMAC-SHA1-96 + MODP-2048, fragmentation = force with
# charon.fragment_size = 576, so IKE_AUTH travels as SKF fragments (RFC 7383).
#
#   carol eth0 192.0.2.10/24 ──── eth0 192.0.2.1/24 moon (protected 198.18.1.0/24, pool 198.18.0.0/24)

# lab_make_pki DIR: CA + carol/moon RSA-3072 certs (PEM) in DIR
lab_make_pki() {
    local d=$1 n id
    mkdir -p "$d"
    exec 3>&2 2>>"$d/pki.log"     # pki's plugin loader is chatty (tpm) on stderr
    pki --gen --type rsa --size 3072 --outform pem >"$d/ca.key"
    pki --self --ca --lifetime 3650 --in "$d/ca.key" --outform pem \
        --dn "C=XX, O=mobikectl lab, CN=mobikectl lab CA" >"$d/ca.crt"
    for n in carol moon; do
        if [[ $n == carol ]]; then id=carol@example.org; else id=moon.example.org; fi
        pki --gen --type rsa --size 3072 --outform pem >"$d/$n.key"
        pki --pub --in "$d/$n.key" | pki --issue --cacert "$d/ca.crt" --cakey "$d/ca.key" \
            --lifetime 3650 --dn "C=XX, O=mobikectl lab, CN=$id" --san "$id" --outform pem >"$d/$n.crt"
    done
    exec 2>&3 3>&-
}

scenario_v4_cbc_sha1_frag_cert() {
    local out=$1
    lab_make_pki "$LAB_DIR/pki"
    lab_ns carol; lab_ns moon
    lab_link carol eth0 moon eth0
    lab_addr carol eth0 192.0.2.10/24
    lab_addr moon eth0 192.0.2.1/24
    lab_lan moon 198.18.1.1/24

    local ike=aes256-sha1-modp2048 esp=aes256-sha1 p=$LAB_DIR/pki
    charon_conf carol --role init --local 192.0.2.10 --remote 192.0.2.1 --auth pubkey \
        --cert "$p/carol.crt" --key "$p/carol.key" --cacert "$p/ca.crt" \
        --id carol@example.org --remote-id moon.example.org --ike $ike --esp $esp \
        --remote-ts 198.18.1.0/24 --dpd 2s --frag force --opt "fragment_size = 576"
    charon_conf moon --role resp --local 192.0.2.1 --auth pubkey \
        --cert "$p/moon.crt" --key "$p/moon.key" --cacert "$p/ca.crt" \
        --id moon.example.org --remote-id carol@example.org --ike $ike --esp $esp \
        --local-ts 198.18.1.0/24 --pool 198.18.0.0/24 --dpd 0s --frag force --opt "fragment_size = 576"
    cp "$p/ca.crt" "$p/carol.crt" "$p/moon.crt" "$out/"

    lab_capture_start moon eth0 "$out/moon-eth0.pcap"
    charon_start moon
    charon_start carol

    lab_initiate carol net
    local vip; vip=$(lab_vip carol)
    lab_log "carol vip $vip"
    lab_ping carol 198.18.1.1 3 "$vip"
    sleep 5                                    # DPDs
    lab_swanctl carol --terminate --ike home --timeout 10 >/dev/null
    sleep 1
    lab_capture_stop_all
    charon_stop carol; charon_stop moon
}

check_v4_cbc_sha1_frag_cert() {
    # IKEV2_FRAGMENTATION_SUPPORTED; SKF payloads (53) on the wire
    expect_notify "$1" 16430
    [[ $(tshark -r "$1/moon-eth0.pcap" -Y 'isakmp.nextpayload == 53' 2>/dev/null | wc -l) -ge 4 ]] \
        || { echo "no SKF fragments" >&2; return 1; }
}
