//! Live capture on the loopback interface. Needs capture privileges (root or
//! CAP_NET_RAW); skipped with a note when the interface cannot be opened.
mod capture_common;

use std::net::UdpSocket;
use std::sync::mpsc;
use std::time::Duration;

use capture_common::moon_messages;
use mobikectl::capture::{
    live_filter, live_filter_untagged, CaptureEvent, CaptureOptions, CaptureReader, Transport,
};

#[test]
fn filters_compile_for_supported_link_types() {
    let opts = CaptureOptions {
        udp_ports: vec![7500],
        udp_encap_ports: vec![14500],
        tcp_ports: vec![8443],
        ..CaptureOptions::default()
    };
    let tagged = live_filter(&opts);
    assert!(tagged.contains("udp port 7500") && tagged.contains("tcp port 8443"));
    let eth = pcap::Capture::dead(pcap::Linktype::ETHERNET).expect("dead capture");
    eth.compile(&tagged, true).expect("Ethernet filter");
    for lt in [113, 276, 12, 0, 108, 228, 229] {
        let cap = pcap::Capture::dead(pcap::Linktype(lt)).expect("dead capture");
        cap.compile(&live_filter_untagged(&opts), true)
            .unwrap_or_else(|e| panic!("link type {lt}: {e}"));
    }
}

#[test]
fn live_loopback() {
    // An unusual port so that nothing else on the machine interferes.
    let port = 47_500;
    let opts = CaptureOptions {
        udp_ports: vec![port],
        ..CaptureOptions::default()
    };
    let mut reader = match CaptureReader::open_live("lo", &opts) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("skipping live capture test: {e}");
            return;
        }
    };
    let msg = moon_messages()[0].data.clone();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        while let Some(ev) = reader.next_event() {
            if let CaptureEvent::Ike(p) = ev {
                if p.dport == port {
                    let _ = tx.send(p);
                    return;
                }
            }
        }
    });
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    for _ in 0..100 {
        sock.send_to(&msg, ("127.0.0.1", port)).expect("send");
        if let Ok(p) = rx.recv_timeout(Duration::from_millis(100)) {
            assert_eq!(p.data, msg);
            assert_eq!(p.transport, Transport::Udp);
            assert_eq!(p.dst, "127.0.0.1".parse::<std::net::IpAddr>().expect("ip"));
            assert!(p.frame >= 1 && p.time_us > 1_600_000_000_000_000);
            return;
        }
    }
    panic!("no IKE event from the live capture within 10 s");
}
