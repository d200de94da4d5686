//! The live UI against strongSwan 5.9 in network namespaces (`strongswan-lab/interop/lab.sh`,
//! topology `dual`), in tmux: `mobikectl tui -- PEER-OPTIONS` in the peer's namespace brings
//! an SA up with moon's charon, and keys alone take the SA's address away and probe; the
//! screen shows the move and the new current pair; Enter on the UPDATE_SA_ADDRESSES in the
//! event log shows it decrypted from the peer's own capture and key log; and quitting
//! deletes the SA at moon.
//! Needs root, the lab packages and tmux; skipped with a message otherwise.
mod interop_common;
mod tmux_common;

use std::time::Duration;

use interop_common::*;
use tmux_common::Tmux;

#[test]
fn live_ui_against_strongswan_moves_by_keys() {
    let Some(lab) = Lab::up("tui-live", "dual", &moon_gateway(&[])) else {
        return;
    };
    let cmd = format!(
        "ip netns exec {}-peer {BIN} tui -- --psk-file {} --id carol@example.org \
         --remote-id moon.example.org --ike {LAB_IKE} --esp {LAB_ESP} \
         --local 192.0.2.10 --local 198.51.100.10 --remote 192.0.2.1 --remote 198.51.100.1 \
         --vip 0.0.0.0 --remote-ts 198.18.1.0/24",
        lab.prefix,
        lab.path("psk")
    );
    let Some(t) = Tmux::start("interop-tui", 120, 36, &[], &cmd) else {
        return;
    };
    let long = Duration::from_secs(20);
    let s = t.wait_for_within("peer #1 Established", long);
    assert!(s.contains("192.0.2.10:4500"), "{s}");
    assert!(lab.list_sas().contains("ESTABLISHED"));
    // pane 2, first address (the SA's): taken away; the SA moves to the other uplink
    t.keys(&["2", "a"]);
    let s = t.wait_for_within("address_lost", long);
    assert!(s.contains("192.0.2.10 removed"), "{s}");
    t.keys(&["1", "p"]);
    let s = t.wait_for_within("OK (current)", long);
    let current = s
        .lines()
        .find(|l| l.contains("(current)"))
        .unwrap_or_default()
        .to_string();
    assert!(current.contains("198.51.100.10"), "{s}");
    // moon follows: its SA is on the second pair
    let sas = lab.wait_sas("moon's SA on 198.51.100.10", |s| {
        s.contains("198.51.100.10")
    });
    assert!(sas.contains("ESTABLISHED"), "{sas}");
    // the exchange that moved it, decoded from the peer's own capture and key log
    t.keys(&["4", "/"]);
    t.typed("UPDATE_SA_ADDRESSES");
    t.keys(&["Enter"]);
    t.wait_for("Events matching 'UPDATE_SA_ADDRESSES'");
    t.keys(&["Enter"]);
    let s = t.wait_for_within("integrity=ok", long);
    assert!(s.contains("peer sent INFORMATIONAL request"), "{s}");
    assert!(s.contains("N(UPDATE_SA_ADDRESSES)"), "{s}");
    assert!(s.contains("Bytes (decrypted SK content"), "{s}");
    t.keys(&["Escape"]);
    t.wait_for("a addr away/back");
    t.keys(&["q"]);
    t.wait_for("quit? the IKE SAs are deleted");
    t.keys(&["y"]);
    assert_eq!(t.wait_exit(), "0");
    let sas = lab.wait_sas("no SA at moon", |s| !s.contains("ESTABLISHED"));
    assert!(!sas.contains("ESTABLISHED"), "{sas}");
}
