//! Interop tests: `mobikectl peer` against a real strongSwan 5.9 charon in network
//! namespaces built by `strongswan-lab/interop/lab.sh` (which reuses `strongswan-lab/lib.sh`).
//!
//! Needs root (CAP_NET_ADMIN) and the packages from `.ci/install-packages`; without them
//! every test here prints why it is skipped and passes (set MOBIKECTL_REQUIRE_INTEROP=1
//! to make a skip a failure). Run them with
//!
//! ```text
//! sudo -E cargo test --test interop_strongswan
//! ```
//!
//! Each test writes `target/interop/<test>/`: `moon.pcap` / `peer.pcap` (tcpdump on both
//! sides), `own.pcapng` (the peer's own `--pcap`), `keys.log` (its `--keylog`),
//! `moon/charon.log` (`ike 4`: keys included), `events.jsonl` (the peer's events) and
//! `peer.stderr`. Decode a failure with
//! `mobikectl decode --keys target/interop/T/keys.log --keys target/interop/T/moon/charon.log target/interop/T/moon.pcap`.
//!
//! Every test uses its own namespace prefix, so they run in parallel; namespaces and
//! processes are removed when the test ends, also on failure (drop guards). The harness
//! (Lab, Peer, ...) is `tests/interop_common/`, shared with other interop test files.

mod interop_common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use interop_common::*;

#[test]
fn initiator_v4_aead_vip_delete_by_us() {
    let ike = "aes256gcm16-prfsha384-ecp384";
    let esp = "aes256gcm16";
    let Some(lab) = Lab::up(
        "initiator_v4_aead_vip_delete_by_us",
        "v4",
        &moon_responder(
            "192.0.2.1",
            ike,
            esp,
            &["--local-ts", "198.18.1.0/24", "--pool", "198.18.0.0/24"],
        ),
    ) else {
        return;
    };
    let moon = lab.var("MOON");
    let mut p = peer_initiator(
        &lab,
        &moon,
        ike,
        esp,
        &["--vip", "0.0.0.0", "--remote-ts", "198.18.1.0/24"],
    );
    let up = p.wait_event("ike_up");
    assert_eq!(
        up["proposal"],
        "IKE:AES_GCM_16_256/PRF_HMAC_SHA2_384/ECP_384"
    );
    assert_eq!(up["initiator"], true);
    let child = p.wait_event("child_up");
    assert_eq!(child["vip"], "198.18.0.1");
    assert_eq!(child["ts"]["remote"][0], "198.18.1.0/24");
    assert_eq!(child["proposal"], "ESP:AES_GCM_16_256/NO_EXT_SEQ");
    let sas = lab.wait_sas("an installed CHILD_SA", |s| s.contains("INSTALLED"));
    assert!(sas.contains("ESTABLISHED"), "{sas}");
    assert!(
        sas.contains(&up["spi_i"].as_str().unwrap().to_string()),
        "{sas}"
    );
    assert!(sas.contains("198.18.0.1/32"), "{sas}");
    // bad commands do not stop the peer
    p.send("fly me to the moon");
    assert!(p.wait_event("error")["reason"]
        .as_str()
        .unwrap()
        .contains("unknown command"));
    p.send("rekey child");
    let r = p.wait_event("rekeyed");
    assert_eq!(r["what"], "child", "{r}");
    let new_in = r["new_spis"]["in"].as_str().unwrap().to_string();
    lab.wait_sas("the rekeyed CHILD_SA", |s| s.contains(&new_in));
    p.send("rekey ike");
    let r = p.wait_event("rekeyed");
    assert_eq!(r["what"], "ike", "{r}");
    let new_i = r["new_spis"]["i"].as_str().unwrap().to_string();
    let sas = lab.wait_sas("the rekeyed IKE SA", |s| s.contains(&new_i));
    assert!(sas.contains("INSTALLED"), "{sas}");
    p.send("status");
    let st = p.wait_event("status");
    assert!(
        st["sas"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["state"] == "Established" && s["spi_i"] == new_i.as_str()),
        "{st}"
    );
    // delete from our side
    p.send("down");
    p.wait(r"sent D(IKE)", |v| {
        v["event"] == "sent" && v["payloads"].as_str().unwrap_or("").contains("D(IKE)")
    });
    p.wait_event("ike_down");
    lab.wait_log("received DELETE for IKE_SA");
    lab.wait_sas("no SAs", |s| !s.contains("ESTABLISHED"));
    p.quit();
    keylog_decrypts_own_pcap(&lab);
}

#[test]
fn initiator_v4_cbc_dpd_delete_by_strongswan() {
    let ike = "aes128-sha256-x25519";
    let esp = "aes128-sha256";
    let Some(lab) = Lab::up(
        "initiator_v4_cbc_dpd_delete_by_strongswan",
        "v4",
        &moon_responder(
            "192.0.2.1",
            ike,
            esp,
            &[
                "--local-ts",
                "198.18.1.0/24",
                "--pool",
                "198.18.0.0/24",
                "--dpd",
                "2s",
            ],
        ),
    ) else {
        return;
    };
    let moon = lab.var("MOON");
    let mut p = peer_initiator(
        &lab,
        &moon,
        ike,
        esp,
        &["--vip", "0.0.0.0", "--remote-ts", "198.18.1.0/24"],
    );
    let up = p.wait_event("ike_up");
    assert_eq!(
        up["proposal"],
        "IKE:AES_CBC_128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/CURVE_25519"
    );
    let child = p.wait_event("child_up");
    assert_eq!(
        child["proposal"],
        "ESP:AES_CBC_128/HMAC_SHA2_256_128/NO_EXT_SEQ"
    );
    lab.wait_sas("an installed CHILD_SA", |s| s.contains("INSTALLED"));
    // our DPD
    p.send("dpd");
    p.wait("our DPD answered", |v| {
        v["event"] == "received" && v["exchange"] == "INFORMATIONAL" && v["response"] == true
    });
    // strongSwan's DPD (dpd_delay 2s, nothing else going on) gets answered
    p.wait("strongSwan's DPD", |v| {
        v["event"] == "received" && v["exchange"] == "INFORMATIONAL" && v["response"] == false
    });
    // delete from strongSwan's side
    let out = lab.swanctl(&["--terminate", "--ike", "home", "--timeout", "10"]);
    assert!(out.contains("terminate completed successfully"), "{out}");
    let down = p.wait_event("ike_down");
    assert!(down["reason"].as_str().is_some(), "{down}");
    p.quit();
    keylog_decrypts_own_pcap(&lab);
}

#[test]
fn initiator_v4_modp2048() {
    let ike = "aes256-sha256-modp2048";
    let esp = "aes256-sha256";
    let Some(lab) = Lab::up(
        "initiator_v4_modp2048",
        "v4",
        &moon_responder(
            "192.0.2.1",
            ike,
            esp,
            &["--local-ts", "198.18.1.0/24", "--pool", "198.18.0.0/24"],
        ),
    ) else {
        return;
    };
    let moon = lab.var("MOON");
    let mut p = peer_initiator(
        &lab,
        &moon,
        ike,
        esp,
        &["--vip", "0.0.0.0", "--remote-ts", "198.18.1.0/24"],
    );
    let up = p.wait_event("ike_up");
    assert_eq!(
        up["proposal"],
        "IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048"
    );
    p.wait_event("child_up");
    let sas = lab.wait_sas("an installed CHILD_SA", |s| s.contains("INSTALLED"));
    assert!(sas.contains("MODP_2048"), "{sas}");
    p.quit();
    // quit deletes the IKE SA
    lab.wait_log("received DELETE for IKE_SA");
    keylog_decrypts_own_pcap(&lab);
}

#[test]
fn initiator_v6_aead_vip() {
    let ike = "aes256gcm16-prfsha384-ecp384";
    let esp = "aes256gcm16";
    let Some(lab) = Lab::up(
        "initiator_v6_aead_vip",
        "v6",
        &moon_responder(
            "2001:db8:1::1",
            ike,
            esp,
            &[
                "--local-ts",
                "2001:db8:ff:1::/64",
                "--pool",
                "2001:db8:ff:100::/120",
            ],
        ),
    ) else {
        return;
    };
    let moon = lab.var("MOON");
    let mut p = peer_initiator(
        &lab,
        &moon,
        ike,
        esp,
        &["--vip", "::", "--remote-ts", "2001:db8:ff:1::/64"],
    );
    let up = p.wait_event("ike_up");
    assert!(
        up["local"]
            .as_str()
            .unwrap()
            .starts_with("[2001:db8:1::10]"),
        "{up}"
    );
    let child = p.wait_event("child_up");
    assert_eq!(child["vip"], "2001:db8:ff:100::1");
    let sas = lab.wait_sas("an installed CHILD_SA", |s| s.contains("INSTALLED"));
    assert!(sas.contains("2001:db8:ff:100::1/128"), "{sas}");
    p.send("down");
    p.wait_event("ike_down");
    lab.wait_log("received DELETE for IKE_SA");
    p.quit();
    keylog_decrypts_own_pcap(&lab);
}

#[test]
fn responder_v4_cbc_vip_delete_by_us() {
    let ike = "aes128-sha256-x25519";
    let esp = "aes128-sha256";
    let Some(lab) = Lab::up(
        "responder_v4_cbc_vip_delete_by_us",
        "v4",
        &moon_initiator(
            "192.0.2.1",
            "192.0.2.10",
            ike,
            esp,
            &["--remote-ts", "198.18.2.0/24"],
        ),
    ) else {
        return;
    };
    let mut p = peer_responder(
        &lab,
        &[
            "--local",
            "192.0.2.10",
            "--ike",
            ike,
            "--esp",
            esp,
            "--local-ts",
            "198.18.2.0/24",
            "--pool",
            "198.18.100.0/24",
        ],
    );
    p.wait_event("ready");
    let out = lab.swanctl(&["--initiate", "--child", "net", "--timeout", "20"]);
    assert!(out.contains("initiate completed successfully"), "{out}");
    let up = p.wait_event("ike_up");
    assert_eq!(up["initiator"], false);
    assert_eq!(
        up["proposal"],
        "IKE:AES_CBC_128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/CURVE_25519"
    );
    let child = p.wait_event("child_up");
    assert_eq!(child["vip"], "198.18.100.1");
    assert_eq!(child["ts"]["local"][0], "198.18.2.0/24");
    let sas = lab.wait_sas("an installed CHILD_SA", |s| s.contains("INSTALLED"));
    assert!(sas.contains("198.18.100.1/32"), "{sas}");
    lab.wait_log("installing new virtual IP 198.18.100.1");
    // strongSwan rekeys: the CHILD_SA, then the IKE SA
    let out = lab.swanctl(&["--rekey", "--child", "net"]);
    assert!(out.contains("rekey completed successfully"), "{out}");
    let r = p.wait_event("rekeyed");
    assert_eq!(
        (r["what"].as_str(), r["initiator"].as_bool()),
        (Some("child"), Some(false)),
        "{r}"
    );
    let out = lab.swanctl(&["--rekey", "--ike", "home"]);
    assert!(out.contains("rekey completed successfully"), "{out}");
    let r = p.wait_event("rekeyed");
    assert_eq!(
        (r["what"].as_str(), r["initiator"].as_bool()),
        (Some("ike"), Some(false)),
        "{r}"
    );
    let new_r = r["new_spis"]["r"].as_str().unwrap().to_string();
    lab.wait_sas("the rekeyed IKE SA", |s| {
        s.contains(&new_r) && s.contains("INSTALLED")
    });
    p.send("down");
    p.wait_event("ike_down");
    lab.wait_log("received DELETE for IKE_SA");
    p.quit();
    keylog_decrypts_own_pcap(&lab);
}

#[test]
fn responder_v6_modp_dpd_delete_by_strongswan() {
    let ike = "aes256-sha256-modp2048";
    let esp = "aes256gcm16";
    let Some(lab) = Lab::up(
        "responder_v6_modp_dpd_delete_by_strongswan",
        "v6",
        &moon_initiator(
            "2001:db8:1::1",
            "2001:db8:1::10",
            ike,
            esp,
            &["--remote-ts", "2001:db8:ff:2::/64", "--dpd", "2s"],
        ),
    ) else {
        return;
    };
    let mut p = peer_responder(
        &lab,
        &[
            "--local",
            "2001:db8:1::10",
            "--ike",
            ike,
            "--esp",
            esp,
            "--local-ts",
            "2001:db8:ff:2::/64",
            "--pool",
            "2001:db8:ff:200::/120",
            "--events",
            "json",
        ],
    );
    p.wait_event("ready");
    let out = lab.swanctl(&["--initiate", "--child", "net", "--timeout", "20"]);
    assert!(out.contains("initiate completed successfully"), "{out}");
    let up = p.wait_event("ike_up");
    assert_eq!(
        up["proposal"],
        "IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048"
    );
    let child = p.wait_event("child_up");
    assert_eq!(child["vip"], "2001:db8:ff:200::1");
    lab.wait_sas("an installed CHILD_SA", |s| s.contains("INSTALLED"));
    p.wait("strongSwan's DPD", |v| {
        v["event"] == "received" && v["exchange"] == "INFORMATIONAL" && v["response"] == false
    });
    let out = lab.swanctl(&["--terminate", "--ike", "home", "--timeout", "10"]);
    assert!(out.contains("terminate completed successfully"), "{out}");
    p.wait_event("ike_down");
    p.quit();
    keylog_decrypts_own_pcap(&lab);
}

#[test]
fn initiator_behind_nat_floats_to_4500() {
    let ike = "aes128-sha256-x25519";
    let esp = "aes128gcm16";
    let Some(lab) = Lab::up(
        "initiator_behind_nat_floats_to_4500",
        "nat4",
        &moon_responder(
            "192.0.2.1",
            ike,
            esp,
            &["--local-ts", "198.18.1.0/24", "--pool", "198.18.0.0/24"],
        ),
    ) else {
        return;
    };
    let moon = lab.var("MOON");
    let nat = lab.var("NAT");
    // without MOBIKE, only NAT detection makes IKE move to 4500
    let mut p = peer_initiator(
        &lab,
        &moon,
        ike,
        esp,
        &[
            "--vip",
            "0.0.0.0",
            "--remote-ts",
            "198.18.1.0/24",
            "--no-mobike",
        ],
    );
    let init = p.wait("IKE_SA_INIT request", |v| {
        v["event"] == "sent" && v["exchange"] == "IKE_SA_INIT"
    });
    assert!(init["local"].as_str().unwrap().ends_with(":500"), "{init}");
    let up = p.wait_event("ike_up");
    assert_eq!(up["nat_local"], true, "{up}");
    assert!(up["local"].as_str().unwrap().ends_with(":4500"), "{up}");
    assert!(up["remote"].as_str().unwrap().ends_with(":4500"), "{up}");
    p.wait_event("child_up");
    lab.wait_log("remote host is behind NAT");
    let sas = lab.wait_sas("an installed CHILD_SA", |s| s.contains("INSTALLED"));
    // strongSwan sees the NAT's public address
    assert!(sas.contains(&format!("@ {nat}[")), "{sas}");
    // the NAT forgets its mapping: our DPD comes from a new port and still works
    Command::new("bash")
        .arg(script())
        .args(["rebind", &lab.prefix])
        .status()
        .unwrap();
    p.send("dpd");
    p.wait("DPD answered after NAT rebinding", |v| {
        v["event"] == "received" && v["exchange"] == "INFORMATIONAL" && v["response"] == true
    });
    p.send("down");
    p.wait_event("ike_down");
    lab.wait_log("received DELETE for IKE_SA");
    p.quit();
    keylog_decrypts_own_pcap(&lab);
}

#[test]
fn responder_to_initiator_behind_nat() {
    let ike = "aes256gcm16-prfsha384-ecp384";
    let esp = "aes128-sha256";
    let Some(lab) = Lab::up(
        "responder_to_initiator_behind_nat",
        "nat4moon",
        &moon_initiator(
            "198.51.100.10",
            "192.0.2.10",
            ike,
            esp,
            &["--remote-ts", "198.18.2.0/24"],
        ),
    ) else {
        return;
    };
    let nat = lab.var("NAT");
    let mut p = peer_responder(
        &lab,
        &[
            "--local",
            "192.0.2.10",
            "--ike",
            ike,
            "--esp",
            esp,
            "--local-ts",
            "198.18.2.0/24",
            "--pool",
            "198.18.100.0/24",
        ],
    );
    p.wait_event("ready");
    let out = lab.swanctl(&["--initiate", "--child", "net", "--timeout", "20"]);
    assert!(out.contains("initiate completed successfully"), "{out}");
    let init = p.wait("IKE_SA_INIT request", |v| {
        v["event"] == "received" && v["exchange"] == "IKE_SA_INIT"
    });
    // the NAT translated strongSwan's source (random port)
    assert!(
        init["remote"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{nat}:")),
        "{init}"
    );
    let up = p.wait_event("ike_up");
    assert_eq!(up["nat_remote"], true, "{up}");
    assert!(up["local"].as_str().unwrap().ends_with(":4500"), "{up}");
    p.wait_event("child_up");
    lab.wait_log("local host is behind NAT");
    lab.wait_sas("an installed CHILD_SA", |s| s.contains("INSTALLED"));
    p.send("down");
    p.wait_event("ike_down");
    lab.wait_log("received DELETE for IKE_SA");
    p.quit();
    keylog_decrypts_own_pcap(&lab);
}

#[test]
fn wrong_psk_is_reported() {
    let ike = "aes128-sha256-x25519";
    let esp = "aes128gcm16";
    let Some(lab) = Lab::up(
        "wrong_psk_is_reported",
        "v4",
        &moon_responder(
            "192.0.2.1",
            ike,
            esp,
            &["--local-ts", "198.18.1.0/24", "--pool", "198.18.0.0/24"],
        ),
    ) else {
        return;
    };
    std::fs::write(lab.dir.join("psk"), "not-the-lab-psk-at-all-0000\n").unwrap();
    let moon = lab.var("MOON");
    let mut p = peer_initiator(
        &lab,
        &moon,
        ike,
        esp,
        &["--vip", "0.0.0.0", "--remote-ts", "198.18.1.0/24"],
    );
    let e = p.wait_event("error");
    assert!(
        e["reason"]
            .as_str()
            .unwrap()
            .contains("AUTHENTICATION_FAILED"),
        "{e}"
    );
    lab.wait_log("generating IKE_AUTH response 1 [ N(AUTH_FAILED) ]");
    assert!(!lab.list_sas().contains("ESTABLISHED"));
    p.quit();
    // keys were logged after IKE_SA_INIT: the failed IKE_AUTH decrypts too
    keylog_decrypts_own_pcap(&lab);
}

#[test]
fn keepalives_behind_nat_keep_the_mapping() {
    let ike = "aes128-sha256-x25519";
    let esp = "aes128gcm16";
    let Some(lab) = Lab::up(
        "keepalives_behind_nat_keep_the_mapping",
        "nat4",
        &moon_responder(
            "192.0.2.1",
            ike,
            esp,
            &["--local-ts", "198.18.1.0/24", "--pool", "198.18.0.0/24"],
        ),
    ) else {
        return;
    };
    let (moon, nat) = (lab.var("MOON"), lab.var("NAT"));
    // the NAT forgets idle UDP mappings after 4 s: only keepalives keep ours
    let st = Command::new("ip")
        .args([
            "netns",
            "exec",
            &format!("{}-nat", lab.prefix),
            "sysctl",
            "-qw",
        ])
        .args([
            "net.netfilter.nf_conntrack_udp_timeout=4",
            "net.netfilter.nf_conntrack_udp_timeout_stream=4",
        ])
        .status()
        .unwrap();
    assert!(st.success(), "sysctl in the NAT namespace");
    let interval = 1.5;
    let mut p = peer_initiator(
        &lab,
        &moon,
        ike,
        esp,
        &[
            "--vip",
            "0.0.0.0",
            "--remote-ts",
            "198.18.1.0/24",
            "--keepalive",
            "1.5",
        ],
    );
    let up = p.wait_event("ike_up");
    assert_eq!(up["nat_local"], true, "{up}");
    p.wait_event("child_up");
    lab.wait_sas("an installed CHILD_SA", |s| s.contains("INSTALLED"));
    // 10 s without IKE traffic: the mapping lives on keepalives alone
    std::thread::sleep(Duration::from_secs(10));
    // strongSwan rekeys the IKE SA: its request reaches us through the same mapping
    let out = lab.swanctl(&["--rekey", "--ike", "home"]);
    assert!(out.contains("rekey completed successfully"), "{out}");
    let r = p.wait_event("rekeyed");
    assert_eq!(r["what"], "ike", "{r}");
    assert_eq!(r["initiator"], false, "{r}");
    lab.wait_sas("the rekeyed IKE SA", |s| {
        s.contains("ESTABLISHED") && s.contains("INSTALLED")
    });
    p.send("down");
    p.wait_event("ike_down");
    p.quit();
    lab_down(&lab);
    // inside the NAT: from our 4500 to moon's 4500; outside: from the NAT's mapping
    let inside = keepalives_in(&lab.dir.join("peer.pcap"));
    let outside = keepalives_in(&lab.dir.join("moon.pcap"));
    assert!(inside.len() >= 6, "{inside:?}");
    assert!(outside.len() >= 6, "{outside:?}");
    for k in &inside {
        assert_eq!(
            (k.2, k.3.as_str(), k.4),
            (4500, moon.as_str(), 4500),
            "{k:?}"
        );
    }
    for k in &outside {
        assert_eq!(
            (k.1.as_str(), k.3.as_str(), k.4),
            (nat.as_str(), moon.as_str(), 4500)
        );
    }
    // the mapping never changed: one NAT port for all of them
    assert!(outside.iter().all(|k| k.2 == outside[0].2), "{outside:?}");
    // at the configured interval (a run of keepalives without IKE traffic in between)
    let gaps: Vec<f64> = inside.windows(2).map(|w| w[1].0 - w[0].0).collect();
    let regular = gaps.iter().filter(|g| (*g - interval).abs() < 0.3).count();
    assert!(regular >= 5, "keepalive gaps {gaps:?}");
    assert!(
        gaps.iter().all(|g| *g > interval - 0.3),
        "keepalive gaps {gaps:?}"
    );
    keylog_decrypts_own_pcap(&lab);
}

#[test]
fn retransmissions_back_off_then_timeout() {
    let ike = "aes128-sha256-x25519";
    let esp = "aes128gcm16";
    let Some(lab) = Lab::up(
        "retransmissions_back_off_then_timeout",
        "v4",
        &moon_responder(
            "192.0.2.1",
            ike,
            esp,
            &["--local-ts", "198.18.1.0/24", "--pool", "198.18.0.0/24"],
        ),
    ) else {
        return;
    };
    let moon = lab.var("MOON");
    let mut p = peer_initiator(
        &lab,
        &moon,
        ike,
        esp,
        &[
            "--vip",
            "0.0.0.0",
            "--remote-ts",
            "198.18.1.0/24",
            "--retransmit-timeout",
            "0.5",
            "--retransmit-base",
            "2",
            "--retransmit-tries",
            "3",
        ],
    );
    p.wait_event("child_up");
    lab.wait_sas("an installed CHILD_SA", |s| s.contains("INSTALLED"));
    // strongSwan stops answering: moon drops all IKE
    let mut nft = Command::new("bash")
        .arg(script())
        .args(["nft", &lab.prefix, "moon"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    nft.stdin
        .take()
        .unwrap()
        .write_all(
            b"table inet labdrop {\n chain in {\n  type filter hook input priority 0; policy accept;\n  udp dport { 500, 4500 } drop\n }\n}\n",
        )
        .unwrap();
    assert!(nft.wait().unwrap().success(), "nft in moon");
    p.send("dpd");
    let sent = p.wait("DPD request", |v| {
        v["event"] == "sent" && v["exchange"] == "INFORMATIONAL" && v["response"] == false
    });
    let t0 = event_secs(&sent);
    let mid = sent["message_id"].clone();
    // 0.5 s, then ×2: retransmissions at +0.5, +1.5, +3.5, the timeout at +7.5
    for (attempt, at) in [(1, 0.5), (2, 1.5), (3, 3.5)] {
        let r = p.wait_event("retransmit");
        assert_eq!(r["attempt"], attempt, "{r}");
        assert_eq!(r["exchange"], "INFORMATIONAL", "{r}");
        assert_eq!(r["message_id"], mid, "{r}");
        let dt = event_secs(&r) - t0;
        assert!(
            (dt - at).abs() < 0.25,
            "retransmit {attempt} after {dt} s, want {at} s"
        );
    }
    let t = p.wait_event("timeout");
    assert_eq!(t["message_id"], mid, "{t}");
    let dt = event_secs(&t) - t0;
    assert!((dt - 7.5).abs() < 0.25, "timeout after {dt} s, want 7.5 s");
    let down = p.wait_event("ike_down");
    assert!(
        down["reason"]
            .as_str()
            .unwrap()
            .contains("after 3 retransmissions"),
        "{down}"
    );
    assert!(
        !p.seen
            .iter()
            .any(|v| v["event"] == "retransmit" && v["attempt"] == 4),
        "a fourth retransmission"
    );
    p.quit();
    lab_down(&lab);
    // all four transmissions reached moon's interface (and were dropped there)
    let out = Command::new("tshark")
        .arg("-r")
        .arg(lab.dir.join("moon.pcap"))
        .args(["-Y", &format!("isakmp.exchangetype == 37 && isakmp.messageid == {mid} && isakmp.flag_r == 0 && ip.src != {moon}")])
        .args(["-T", "fields", "-e", "frame.time_epoch"])
        .output()
        .unwrap();
    let times: Vec<f64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    assert_eq!(times.len(), 4, "{times:?}");
    let gaps: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    for (g, want) in gaps.iter().zip([0.5, 1.0, 2.0]) {
        assert!((g - want).abs() < 0.25, "gaps {gaps:?}");
    }
}

#[test]
fn cert_initiator_ecdsa_to_strongswan_rsa() {
    // mobikectl: carol, ECDSA P-384 (ec-ca); strongSwan: moon, RSA (rsa-ca)
    let ike = "aes256gcm16-prfsha384-ecp384";
    let esp = "aes256gcm16";
    let (mc, mk, eca) = (pki("moon.crt"), pki("moon.key"), pki("ec-ca.crt"));
    let Some(lab) = Lab::up(
        "cert_initiator_ecdsa_to_strongswan_rsa",
        "v4",
        &moon_responder(
            "192.0.2.1",
            ike,
            esp,
            &[
                "--auth",
                "pubkey",
                "--cert",
                &mc,
                "--key",
                &mk,
                "--cacert",
                &eca,
                "--local-ts",
                "198.18.1.0/24",
                "--pool",
                "198.18.0.0/24",
            ],
        ),
    ) else {
        return;
    };
    let moon = lab.var("MOON");
    let (cc, ck, rca) = (pki("carol.crt"), pki("carol.key"), pki("rsa-ca.crt"));
    let mut p = peer_initiator(
        &lab,
        &moon,
        ike,
        esp,
        &[
            "--cert",
            &cc,
            "--key",
            &ck,
            "--ca",
            &rca,
            "--vip",
            "0.0.0.0",
            "--remote-ts",
            "198.18.1.0/24",
        ],
    );
    p.wait_event("ike_up");
    p.wait_event("child_up");
    lab.wait_sas("an installed CHILD_SA", |s| s.contains("INSTALLED"));
    let log = lab.charon_log();
    // strongSwan verified our RFC 7427 ECDSA signature and sent its RSA one
    for want in [
        "authentication of 'carol@example.org' with ECDSA_WITH_SHA384_DER successful",
        "authentication of 'moon.example.org' (myself) with RSA_EMSA_PKCS1_SHA2_256",
    ] {
        assert!(
            log.contains(want),
            "{want}: see {}",
            lab.path("moon/charon.log")
        );
    }
    p.quit();
    lab.wait_log("received DELETE for IKE_SA");
    keylog_decrypts_own_pcap(&lab);
}

#[test]
fn cert_responder_rsa_to_strongswan_ecdsa() {
    // strongSwan initiates as sun, ECDSA P-256 (ec-ca); mobikectl responds as moon, RSA
    // (rsa-ca)
    let ike = "aes128-sha256-ecp256";
    let esp = "aes128gcm16";
    let (sc, sk, rca) = (pki("sun.crt"), pki("sun.key"), pki("rsa-ca.crt"));
    let Some(lab) = Lab::up(
        "cert_responder_rsa_to_strongswan_ecdsa",
        "v4",
        &[
            "--role",
            "init",
            "--local",
            "192.0.2.1",
            "--remote",
            "192.0.2.10",
            "--id",
            "sun.example.org",
            "--remote-id",
            "moon.example.org",
            "--ike",
            ike,
            "--esp",
            esp,
            "--auth",
            "pubkey",
            "--cert",
            &sc,
            "--key",
            &sk,
            "--cacert",
            &rca,
            "--remote-ts",
            "198.18.2.0/24",
        ],
    ) else {
        return;
    };
    let (mc, mk, eca) = (pki("moon.crt"), pki("moon.key"), pki("ec-ca.crt"));
    let mut p = lab.peer(&[
        "--listen",
        "--local",
        "192.0.2.10",
        "--id",
        "moon.example.org",
        "--remote-id",
        "sun.example.org",
        "--ike",
        ike,
        "--esp",
        esp,
        "--cert",
        &mc,
        "--key",
        &mk,
        "--ca",
        &eca,
        "--local-ts",
        "198.18.2.0/24",
        "--pool",
        "198.18.100.0/24",
    ]);
    p.wait_event("ready");
    let out = lab.swanctl(&["--initiate", "--child", "net", "--timeout", "20"]);
    assert!(out.contains("initiate completed successfully"), "{out}");
    let up = p.wait_event("ike_up");
    assert_eq!(up["initiator"], false);
    p.wait_event("child_up");
    let log = lab.charon_log();
    assert!(
        log.contains(
            "authentication of 'moon.example.org' with RSA_EMSA_PKCS1_SHA2_256 successful"
        ),
        "see {}",
        lab.path("moon/charon.log")
    );
    p.send("down");
    p.wait_event("ike_down");
    lab.wait_log("received DELETE for IKE_SA");
    p.quit();
    keylog_decrypts_own_pcap(&lab);
}

#[test]
fn cert_untrusted_strongswan_is_authentication_failed() {
    // strongSwan's certificate (rsa-ca) is not from the CA we trust (ec-ca)
    let ike = "aes128-sha256-ecp256";
    let esp = "aes128gcm16";
    let (mc, mk, eca) = (pki("moon.crt"), pki("moon.key"), pki("ec-ca.crt"));
    let Some(lab) = Lab::up(
        "cert_untrusted_strongswan_is_authentication_failed",
        "v4",
        &moon_responder(
            "192.0.2.1",
            ike,
            esp,
            &[
                "--auth", "pubkey", "--cert", &mc, "--key", &mk, "--cacert", &eca,
            ],
        ),
    ) else {
        return;
    };
    let moon = lab.var("MOON");
    let (cc, ck, oca) = (pki("carol.crt"), pki("carol.key"), pki("other-ca.crt"));
    let mut p = peer_initiator(
        &lab,
        &moon,
        ike,
        esp,
        &["--cert", &cc, "--key", &ck, "--ca", &oca],
    );
    let e = p.wait("an AUTHENTICATION_FAILED error", |v| {
        v["event"] == "error"
            && v["reason"].as_str().is_some_and(|r| {
                r.contains("AUTHENTICATION_FAILED") && r.contains("not signed by a trusted CA")
            })
    });
    assert!(
        e["reason"]
            .as_str()
            .unwrap()
            .contains("CN=moon.example.org"),
        "{e}"
    );
    p.quit();
}

#[test]
fn cert_initiator_with_intermediate_ca() {
    // mobikectl: venus (ECDSA P-256) under an intermediate CA that it sends along;
    // strongSwan (moon, RSA) trusts only the root, rsa-ca.
    let ike = "aes128gcm16-prfsha256-ecp256";
    let esp = "aes128gcm16";
    let (mc, mk, rca) = (pki("moon.crt"), pki("moon.key"), pki("rsa-ca.crt"));
    let Some(lab) = Lab::up(
        "cert_initiator_with_intermediate_ca",
        "v4",
        &[
            "--role",
            "resp",
            "--local",
            "192.0.2.1",
            "--id",
            "moon.example.org",
            "--remote-id",
            "venus.example.org",
            "--ike",
            ike,
            "--esp",
            esp,
            "--auth",
            "pubkey",
            "--cert",
            &mc,
            "--key",
            &mk,
            "--cacert",
            &rca,
            "--local-ts",
            "198.18.1.0/24",
            "--pool",
            "198.18.0.0/24",
        ],
    ) else {
        return;
    };
    let moon = lab.var("MOON");
    let (vc, vk) = (pki("venus-chain.crt"), pki("venus.key"));
    let mut p = lab.peer(&[
        "--remote",
        &moon,
        "--remote-id",
        "moon.example.org",
        "--ike",
        ike,
        "--esp",
        esp,
        "--cert",
        &vc,
        "--key",
        &vk,
        "--ca",
        &rca,
        "--vip",
        "0.0.0.0",
        "--remote-ts",
        "198.18.1.0/24",
    ]);
    p.wait_event("ike_up");
    p.wait_event("child_up");
    lab.wait_log("authentication of 'venus.example.org' with ECDSA_WITH_SHA256_DER successful");
    assert!(
        lab.charon_log()
            .contains("using untrusted intermediate certificate \"C=XX, O=mobikectl test, CN=Intermediate test CA\""),
        "see {}",
        lab.path("moon/charon.log")
    );
    p.quit();
    lab.wait_log("received DELETE for IKE_SA");
}

#[test]
fn cert_distinguished_name_identities() {
    // strongSwan uses its certificate's subject as identity (no `id`) and expects ours as
    // a DN; mobikectl sends ID_DER_ASN1_DN and matches strongSwan's against the subject.
    let ike = "aes128gcm16-prfsha256-ecp256";
    let esp = "aes128gcm16";
    let (mc, mk, eca) = (pki("moon.crt"), pki("moon.key"), pki("ec-ca.crt"));
    let Some(lab) = Lab::up(
        "cert_distinguished_name_identities",
        "v4",
        &[
            "--role",
            "resp",
            "--local",
            "192.0.2.1",
            "--remote-id",
            "C=XX, O=mobikectl test, CN=carol@example.org",
            "--ike",
            ike,
            "--esp",
            esp,
            "--auth",
            "pubkey",
            "--cert",
            &mc,
            "--key",
            &mk,
            "--cacert",
            &eca,
            "--local-ts",
            "198.18.1.0/24",
            "--pool",
            "198.18.0.0/24",
        ],
    ) else {
        return;
    };
    let moon = lab.var("MOON");
    let (cc, ck, rca) = (pki("carol.crt"), pki("carol.key"), pki("rsa-ca.crt"));
    let mut p = lab.peer(&[
        "--remote",
        &moon,
        "--id",
        "C=XX, O=mobikectl test, CN=carol@example.org",
        "--remote-id",
        "C=XX, O=mobikectl test, CN=moon.example.org",
        "--ike",
        ike,
        "--esp",
        esp,
        "--cert",
        &cc,
        "--key",
        &ck,
        "--ca",
        &rca,
        "--vip",
        "0.0.0.0",
        "--remote-ts",
        "198.18.1.0/24",
    ]);
    p.wait_event("ike_up");
    p.wait_event("child_up");
    lab.wait_log("authentication of 'C=XX, O=mobikectl test, CN=carol@example.org' with ECDSA_WITH_SHA384_DER successful");
    p.quit();
    lab.wait_log("received DELETE for IKE_SA");
}

/// Our default proposals (no `--ike`/`--esp`) against strongSwan's own defaults
/// (`proposals = default`): the lists must overlap, or a user who configures nothing fails.
#[test]
fn initiator_default_proposals_meet_strongswan_defaults() {
    let Some(lab) = Lab::up(
        "initiator_default_proposals",
        "v4",
        &moon_responder(
            "192.0.2.1",
            "default",
            "default",
            &["--local-ts", "198.18.1.0/24", "--pool", "198.18.0.0/24"],
        ),
    ) else {
        return;
    };
    let moon = lab.var("MOON");
    let mut p = lab.peer(&[
        "--remote",
        &moon,
        "--id",
        "carol@example.org",
        "--remote-id",
        "moon.example.org",
        "--vip",
        "0.0.0.0",
        "--remote-ts",
        "198.18.1.0/24",
    ]);
    let up = p.wait_event("ike_up");
    assert!(
        up["proposal"]
            .as_str()
            .is_some_and(|s| s.starts_with("IKE:")),
        "{up}"
    );
    p.wait_event("child_up");
    let sas = lab.wait_sas("an installed CHILD_SA", |s| s.contains("INSTALLED"));
    assert!(sas.contains("ESTABLISHED"), "{sas}");
    p.quit();
    lab.wait_log("received DELETE for IKE_SA");
}

/// The lab works wherever the clone lives: charon's vici socket is not put in the lab
/// directory (a Unix socket path has at most 107 bytes) but under a short run directory,
/// which `down` removes.
#[test]
fn lab_in_a_long_directory_keeps_socket_paths_short() {
    let test = "lab_in_a_long_directory_keeps_socket_paths_short";
    let dir = target_dir()
        .join("interop")
        .join(format!("{test}_{}", "x".repeat(80)));
    assert!(dir.as_os_str().len() > 108, "{}", dir.display());
    let Some(lab) = Lab::up_in(
        test,
        dir,
        "v4",
        &moon_responder(
            "192.0.2.1",
            "aes128-sha256-x25519",
            "aes128gcm16",
            &["--local-ts", "198.18.1.0/24", "--pool", "198.18.0.0/24"],
        ),
    ) else {
        return;
    };
    let conns = lab.swanctl(&["--list-conns"]);
    assert!(conns.contains("home: IKEv2"), "{conns}");
    let stats = lab.swanctl(&["--stats"]);
    assert!(stats.contains("uptime:"), "{stats}");
    // logs and configs stay in the lab directory
    assert!(lab.dir.join("moon/charon.log").exists());
    assert!(lab.dir.join("moon/swanctl.conf").exists());
    let root = std::env::var("LAB_RUN_ROOT").unwrap_or_else(|_| "/run/mobikectl-lab".into());
    let run = PathBuf::from(root).join(&lab.prefix);
    assert!(run.join("moon/charon.vici").exists(), "{}", run.display());
    drop(lab);
    assert!(!run.exists(), "{} left behind", run.display());
}

/// charon_conf options of strongSwan as carol, the MOBIKE initiator in the peer namespace
/// of a dual topology: both local addresses, both of moon's, link `first` (`A` or `B`)
/// first (strongSwan initiates from the first local address to the first remote one).
fn carol_mobike(lab: &Lab, first: char, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = [
        "--role",
        "initiator",
        "--mobike",
        "yes",
        "--id",
        "carol@example.org",
        "--remote-id",
        "moon.example.org",
        "--remote-ts",
        "198.18.1.0/24",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let links = if first == 'B' { ["B", "A"] } else { ["A", "B"] };
    for l in links {
        v.push("--local".into());
        v.push(lab.var(&format!("PEER_{l}")));
    }
    for l in links {
        v.push("--remote".into());
        v.push(lab.var(&format!("MOON_{l}")));
    }
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn dual_lab(test: &str, topo: &str) -> Option<Lab> {
    Lab::up(
        test,
        topo,
        &[
            "--role",
            "responder",
            "--mobike",
            "yes",
            "--id",
            "moon.example.org",
            "--remote-id",
            "carol@example.org",
            "--local-ts",
            "198.18.1.0/24",
            "--pool",
            "198.18.0.0/24",
        ],
    )
}

/// The dual-uplink topology with strongSwan on both ends (carol in the peer namespace):
/// losing the link-A address moves the SA to link B with UPDATE_SA_ADDRESSES.
#[test]
fn dual_strongswan_pair_moves_on_address_loss() {
    let Some(lab) = dual_lab("dual_strongswan_pair_moves_on_address_loss", "dual") else {
        return;
    };
    for (k, v) in [
        ("PEER_A", "192.0.2.10"),
        ("PEER_B", "198.51.100.10"),
        ("PEER_A6", "2001:db8:1::10"),
        ("MOON_A", "192.0.2.1"),
        ("MOON_B", "198.51.100.1"),
        ("MOON_A6", "2001:db8:1::1"),
    ] {
        assert_eq!(lab.var(k), v, "{k}");
    }
    let conf = carol_mobike(&lab, 'A', &[]);
    lab.charon(
        "carol",
        &conf.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let out = lab.swanctl_node(
        "carol",
        &["--initiate", "--child", "net", "--timeout", "20"],
    );
    assert!(out.contains("initiate completed successfully"), "{out}");
    let (pa, pb) = (lab.var("PEER_A"), lab.var("PEER_B"));
    let sas = lab.wait_sas("carol on link A", |s| s.contains("INSTALLED"));
    assert!(sas.contains(&format!("@ {pa}[4500]")), "{sas}");
    lab.addr("peer", "flush", &lab.var("IF_A"), None);
    lab.wait_sas("carol on link B", |s| s.contains(&format!("@ {pb}[4500]")));
    lab.wait_node_log("carol", "requesting address change using MOBIKE");
    lab.wait_log("N(UPD_SA_ADDR)");
    // the address comes back: carol announces it again (no move: link B still works)
    lab.addr("peer", "add", "eth0", Some("192.0.2.10/24"));
    let sas = carol_sas(&lab);
    assert!(sas.contains("ESTABLISHED"), "{sas}");
}

fn carol_sas(lab: &Lab) -> String {
    lab.swanctl_node("carol", &["--list-sas"])
}

/// dualnat: an SA on link B behind a NAT; `rebind` (conntrack -D) changes the mapping and
/// strongSwan's next DPD notices it and sends UPDATE_SA_ADDRESSES.
#[test]
fn dualnat_rebinding_noticed_by_strongswan_dpd() {
    let Some(lab) = dual_lab("dualnat_rebinding_noticed_by_strongswan_dpd", "dualnat") else {
        return;
    };
    let (moon_b, nat) = (lab.var("MOON_B"), lab.var("NAT"));
    assert_eq!(
        (moon_b.as_str(), nat.as_str()),
        ("203.0.113.1", "203.0.113.254")
    );
    let conf = carol_mobike(&lab, 'B', &["--dpd-delay", "1s"]);
    lab.charon(
        "carol",
        &conf.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let out = lab.swanctl_node(
        "carol",
        &["--initiate", "--child", "net", "--timeout", "20"],
    );
    assert!(out.contains("initiate completed successfully"), "{out}");
    let sas = lab.wait_sas("carol behind the NAT", |s| s.contains("INSTALLED"));
    assert!(sas.contains(&format!("@ {nat}[")), "{sas}");
    // the first DPD with NAT detection records the mapping
    lab.wait_node_log("carol", "[ N(NATD_S_IP) N(NATD_D_IP) ]");
    lab.rebind();
    lab.wait_node_log(
        "carol",
        "detected changes in NAT mappings, initiating MOBIKE update",
    );
    lab.wait_log("N(UPD_SA_ADDR)");
}

/// `blackhole` and `loss` drop silently (the sender gets no error; no address event):
/// strongSwan only retransmits, and gets its answer once they are lifted. `link` takes an
/// interface down and up.
#[test]
fn blackhole_and_loss_are_silent() {
    let Some(lab) = dual_lab("blackhole_and_loss_are_silent", "dual") else {
        return;
    };
    let conf = carol_mobike(&lab, 'A', &["--dpd-delay", "1s"]);
    lab.charon(
        "carol",
        &conf.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let out = lab.swanctl_node(
        "carol",
        &["--initiate", "--child", "net", "--timeout", "20"],
    );
    assert!(out.contains("initiate completed successfully"), "{out}");
    lab.wait_sas("an installed CHILD_SA", |s| s.contains("INSTALLED"));
    let (retransmit, answer) = ("retransmit 1 of request", "parsed INFORMATIONAL response");
    lab.wait_node_log("carol", answer); // a DPD went through
    let pa = lab.var("PEER_A");
    let r = lab.node_log_count("carol", retransmit);
    lab.blackhole("moon", &pa, true);
    lab.wait_node_log_count("carol", retransmit, r + 1);
    let rules = lab.nsexec("moon", &["nft", "list", "table", "netdev", "labblackhole"]);
    assert!(rules.contains(&pa), "{rules}");
    assert!(
        rules
            .lines()
            .any(|l| l.contains("counter packets") && !l.contains("counter packets 0 ")),
        "nothing dropped: {rules}"
    );
    let a = lab.node_log_count("carol", answer);
    lab.blackhole("moon", &pa, false);
    lab.wait_node_log_count("carol", answer, a + 1);
    // 100 % loss on moon's links: retransmissions again, then answers after loss 0
    let r = lab.node_log_count("carol", retransmit);
    lab.loss("moon", 100, None);
    lab.wait_node_log_count("carol", retransmit, r + 1);
    let a = lab.node_log_count("carol", answer);
    lab.loss("moon", 0, None);
    lab.wait_node_log_count("carol", answer, a + 1);
    assert!(!lab
        .nsexec("moon", &["nft", "list", "ruleset"])
        .contains("labloss"));
    let log = lab.node_log("carol");
    assert!(
        !log.contains("error writing to socket"),
        "the sender saw an error"
    );
    assert!(
        !log.contains("checking path"),
        "a move without an address event"
    );
    // link down/up
    lab.link("peer", "eth1", false);
    let l = lab.nsexec("peer", &["ip", "link", "show", "dev", "eth1"]);
    assert!(l.contains("state DOWN"), "{l}");
    lab.link("peer", "eth1", true);
    let sas = carol_sas(&lab);
    assert!(sas.contains("ESTABLISHED"), "{sas}");
}
