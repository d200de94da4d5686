# shellcheck shell=bash
# v4-ccm-cookie: AES-CCM IKE SA; the responder demands a COOKIE and then
# answers INVALID_KE_PAYLOAD (carol's first KE is ECP-256, moon only takes
# MODP-2048).
#
# strongSwan sends COOKIEs only while the number of half-open IKE SAs is at
# least charon.cookie_threshold (0 disables it). So moon gets
# cookie_threshold = 1 and a second initiator, mallory, leaves one half-open
# IKE SA behind (its IKE_AUTH is dropped by nftables in its own namespace,
# so it never reaches the wire).
#
#   carol eth0 192.0.2.10 ───── r0 192.0.2.1    \
#                                                 router r ── r2 203.0.113.254 ── eth0 203.0.113.1 moon
#   mallory eth0 198.51.100.66 ─ r1 198.51.100.1 /        (protected 198.18.1.0/24, pool 198.18.0.0/24)
scenario_v4_ccm_cookie() {
    local out=$1
    lab_ns carol; lab_ns mallory; lab_ns r; lab_ns moon
    lab_link carol eth0 r r0
    lab_link mallory eth0 r r1
    lab_link r r2 moon eth0
    lab_forwarding r
    lab_addr carol eth0 192.0.2.10/24
    lab_addr mallory eth0 198.51.100.66/24
    lab_addr r r0 192.0.2.1/24
    lab_addr r r1 198.51.100.1/24
    lab_addr r r2 203.0.113.254/24
    lab_addr moon eth0 203.0.113.1/24
    lab_lan moon 198.18.1.1/24
    lab_route carol add default via 192.0.2.1
    lab_route mallory add default via 198.51.100.1
    lab_route moon add default via 203.0.113.254
    lab_nft mallory 'table inet drop_auth {
        chain out {
            type filter hook output priority 0; policy accept;
            udp dport 4500 drop
        }
    }'

    local esp=aes128ccm16
    charon_conf carol --role init --local 192.0.2.10 --remote 203.0.113.1 \
        --id carol@example.org --remote-id moon.example.org \
        --ike aes128ccm16-prfsha256-ecp256-modp2048 --esp $esp \
        --remote-ts 198.18.1.0/24 --dpd 3s
    charon_conf mallory --role init --local 198.51.100.66 --remote 203.0.113.1 \
        --id mallory@example.org --remote-id moon.example.org \
        --ike aes128ccm16-prfsha256-modp2048 --esp $esp --remote-ts 198.18.1.0/24
    charon_conf moon --role resp --local 203.0.113.1 \
        --id moon.example.org --remote-id carol@example.org \
        --ike aes128ccm16-prfsha256-modp2048 --esp $esp \
        --local-ts 198.18.1.0/24 --pool 198.18.0.0/24 --dpd 0s --opt "cookie_threshold = 1"

    lab_capture_start moon eth0 "$out/moon-eth0.pcap"
    lab_capture_start carol eth0 "$out/carol-eth0.pcap"
    charon_start moon
    charon_start mallory
    charon_start carol

    # mallory: IKE_SA_INIT completes, IKE_AUTH never leaves -> one half-open SA on moon
    lab_swanctl mallory --initiate --child net --timeout 1 >/dev/null 2>&1 || true
    lab_wait_log moon "sending packet: from 203.0.113.1\\[500\\] to 198.51.100.66" 10
    sleep 1
    lab_initiate carol net
    charon_stop mallory
    local vip; vip=$(lab_vip carol)
    lab_log "carol vip $vip"
    lab_ping carol 198.18.1.1 3 "$vip"
    sleep 7                                    # DPDs
    lab_swanctl carol --terminate --ike home --timeout 10 >/dev/null
    sleep 1
    lab_capture_stop_all
    charon_stop carol; charon_stop moon
}

check_v4_ccm_cookie() {
    # INVALID_KE_PAYLOAD (17) and COOKIE (16390)
    expect_notify "$1" 17 16390
}
