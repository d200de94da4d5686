# shellcheck shell=bash
# v6-gcm-mobike: IPv6 only, multihomed initiator carol, one address flushed,
# MOBIKE moves the IKE SA and CHILD_SA to the other address.
#
#   carol eth0 2001:db8:1::10 --- 2001:db8:1::1 r0 \
#                                                  router r  r2 2001:db8:3::1 --- 2001:db8:3::100 moon eth0
#   carol eth1 2001:db8:2::10 --- 2001:db8:2::1 r1 /                               moon lo 2001:db8:100::1/64
#   virtual IP pool 2001:db8:ffff::/120, CHILD_SA vip === 2001:db8:100::/64
scenario_v6_gcm_mobike() {
    local out=$1
    lab_ns carol; lab_ns r; lab_ns moon
    lab_link carol eth0 r r0
    lab_link carol eth1 r r1
    lab_link r r2 moon eth0
    lab_forwarding r
    lab_addr carol eth0 2001:db8:1::10/64
    lab_addr carol eth1 2001:db8:2::10/64
    lab_addr r r0 2001:db8:1::1/64
    lab_addr r r1 2001:db8:2::1/64
    lab_addr r r2 2001:db8:3::1/64
    lab_addr moon eth0 2001:db8:3::100/64
    lab_lan moon 2001:db8:100::1/64
    lab_route carol add default via 2001:db8:1::1 dev eth0 metric 100
    lab_route carol add default via 2001:db8:2::1 dev eth1 metric 200
    lab_route moon add default via 2001:db8:3::1 dev eth0

    local ike=aes256gcm16-prfsha384-ecp384 esp=aes256gcm16
    charon_conf carol --role init --local "2001:db8:1::10,2001:db8:2::10" --remote 2001:db8:3::100 \
        --id carol@example.org --remote-id moon.example.org --ike $ike --esp $esp \
        --remote-ts 2001:db8:100::/64 --dpd 3s
    charon_conf moon --role resp --local 2001:db8:3::100 \
        --id moon.example.org --remote-id carol@example.org --ike $ike --esp $esp \
        --local-ts 2001:db8:100::/64 --pool 2001:db8:ffff::/120 --dpd 0s

    lab_capture_start carol eth0 "$out/carol-eth0.pcap"
    lab_capture_start carol eth1 "$out/carol-eth1.pcap"
    lab_capture_start moon eth0 "$out/moon-eth0.pcap"
    charon_start moon
    charon_start carol

    lab_initiate carol net
    local vip; vip=$(lab_vip carol)
    lab_log "carol vip $vip"
    lab_ping carol 2001:db8:100::1 5 "$vip"
    sleep 4                                   # one DPD on the first path
    lab_log "flushing carol eth0"
    lab_addr_flush carol eth0
    lab_route carol del default via 2001:db8:1::1 dev eth0 2>/dev/null || true
    lab_wait_log carol "INFORMATIONAL request [0-9]+ \\[ N\\(UPD_SA_ADDR\\)" 30
    sleep 2
    lab_ping carol 2001:db8:100::1 5 "$vip"
    sleep 7                                   # a few DPDs on the new path
    lab_swanctl carol --terminate --ike home --timeout 10 >/dev/null
    sleep 1
    lab_capture_stop_all
    charon_stop carol; charon_stop moon
}

check_v6_gcm_mobike() {
    # MOBIKE_SUPPORTED, ADDITIONAL_IP6_ADDRESS, UPDATE_SA_ADDRESSES, COOKIE2, NO_ADDITIONAL_ADDRESSES
    expect_notify "$1" 16396 16398 16399 16400 16401
    expect_exchange "$1" 37 10    # INFORMATIONAL: path probes, DPDs, delete
}
