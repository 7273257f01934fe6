//! End to end on real captures from other projects' test suites
//! (`../shared/captures`, see its README for SSIDs, keys and the peers' counts):
//! plugsniff must decrypt at least the union of what tshark and airdecap-ng
//! decrypt, explain every protected frame it does not, and produce sane frames.

mod common;

use common::*;
use plugsniff::engine::DropReason;
use plugsniff::wire::MacAddr;
use plugsniff::wire::llc::is_known_ethertype;
use plugsniff::wpa::handshake::KeyStatus;

fn all_sane(c: &Collect) {
    for (i, t) in c.ethertypes.iter().enumerate() {
        let t = t.unwrap_or_else(|| panic!("decrypted MSDU {i} is not LLC/SNAP"));
        assert!(
            is_known_ethertype(t),
            "decrypted MSDU {i} has EtherType {t:#06x}"
        );
    }
}

fn mac(s: &str) -> MacAddr {
    let mut a = [0u8; 6];
    for (i, p) in s.split(':').enumerate() {
        a[i] = u8::from_str_radix(p, 16).unwrap();
    }
    MacAddr(a)
}

#[test]
fn wpa2_psk_linksys_ccmp_unicast_and_group() {
    let Some(dir) = shared_captures() else { return };
    let (e, c) = run_file(
        &dir.join("wpa2-psk-linksys.cap"),
        vec![passphrase(Some("linksys"), "dictionary")],
    );
    // tshark: 30 (28 unicast + 2 group); airdecap-ng: 25.
    assert_eq!(e.counters.decrypted, 30, "{:?}", e.counters);
    assert!(e.counters.decrypted_group >= 1);
    // The two protected frames before the first handshake have no key.
    assert_eq!(e.counters.dropped(DropReason::NoKey), 2);
    assert_eq!(e.counters.dropped_total(), 2);
    // Three handshakes, retransmissions recognised by the Retry bit.
    let st = e
        .tracker
        .station(mac("00:0b:86:c2:a4:85"), mac("00:13:ce:55:98:ef"))
        .unwrap();
    assert_eq!(st.status, KeyStatus::Confirmed);
    assert_eq!(st.keys_installed, 3);
    assert!(e.counters.retransmitted >= 4);
    assert_eq!(e.counters.dropped(DropReason::Replay), 0);
    all_sane(&c);
}

#[test]
fn passphrase_without_ssid_learns_it_from_beacons() {
    let Some(dir) = shared_captures() else { return };
    let (e, _) = run_file(
        &dir.join("wpa2-psk-linksys.cap"),
        vec![passphrase(None, "dictionary")],
    );
    assert_eq!(e.counters.decrypted, 30);
}

#[test]
fn wrong_passphrase_is_a_mic_mismatch() {
    let Some(dir) = shared_captures() else { return };
    let (e, c) = run_file(
        &dir.join("wpa2-psk-linksys.cap"),
        vec![passphrase(Some("linksys"), "dictionarx")],
    );
    assert_eq!(e.counters.decrypted, 0);
    assert!(c.ethernet.is_empty());
    let st = e
        .tracker
        .station(mac("00:0b:86:c2:a4:85"), mac("00:13:ce:55:98:ef"))
        .unwrap();
    assert_eq!(st.status, KeyStatus::MicMismatch);
    assert_eq!(
        st.status.describe(),
        "MIC mismatch: wrong passphrase or SSID"
    );
    // Every protected frame is explained.
    let nokey = e.counters.dropped(DropReason::NoKey) + e.counters.dropped(DropReason::NoGroupKey);
    assert_eq!(nokey, 32);
    assert_eq!(e.counters.dropped_total(), 32);
}

#[test]
fn m2_m3_without_m1_still_decrypts() {
    let Some(dir) = shared_captures() else { return };
    let (kind, frames) = read_all(&dir.join("wpa2-psk-linksys.cap"));
    let mut e = plugsniff::engine::Engine::new(vec![passphrase(Some("linksys"), "dictionary")]);
    let mut c = Collect::default();
    let mut skipped = 0;
    for (ts, len, f) in &frames {
        if is_m1(kind, f) {
            skipped += 1;
            continue;
        }
        e.process(*ts, kind, f, *len, &mut c);
    }
    assert_eq!(skipped, 3);
    assert_eq!(e.counters.decrypted, 30);
}

#[test]
fn m3_m4_alone_is_reported_impossible() {
    let Some(dir) = shared_captures() else { return };
    let (kind, frames) = read_all(&dir.join("wpa2-psk-linksys.cap"));
    let mut e = plugsniff::engine::Engine::new(vec![passphrase(Some("linksys"), "dictionary")]);
    let mut c = Collect::default();
    for (ts, len, f) in &frames {
        if matches!(eapol_message(kind, f), Some(Message::M1 | Message::M2)) {
            continue;
        }
        e.process(*ts, kind, f, *len, &mut c);
    }
    assert_eq!(e.counters.decrypted, 0);
    let st = e
        .tracker
        .station(mac("00:0b:86:c2:a4:85"), mac("00:13:ce:55:98:ef"))
        .unwrap();
    assert_eq!(st.status, KeyStatus::NoSnonce);
    assert!(st.status.describe().contains("SNonce"));
}

use plugsniff::wire::eapol::Message;

fn is_m1(kind: plugsniff::wire::link::LinkKind, f: &[u8]) -> bool {
    eapol_message(kind, f) == Some(Message::M1)
}

fn eapol_message(kind: plugsniff::wire::link::LinkKind, f: &[u8]) -> Option<Message> {
    use plugsniff::wire::{dot11::Dot11, eapol::EapolKey, llc};
    let l = plugsniff::wire::link::locate_dot11(kind, f).ok()?;
    let d = Dot11::new_checked(&f[l.start..l.end], l.data_pad).ok()?;
    if d.protected() || !d.is_data() {
        return None;
    }
    let s = llc::parse_snap(d.body())?;
    EapolKey::new_checked(s.payload).ok()?.map(|k| k.message())
}

#[test]
fn replayed_frame_is_counted_and_not_passed_on() {
    let Some(dir) = shared_captures() else { return };
    let (kind, mut frames) = read_all(&dir.join("wpa2-psk-linksys.cap"));
    // Frame 285 (1-based) is a protected unicast frame without Retry: send it again.
    let (ts, len, f) = frames[284].clone();
    frames.push((ts, len, f.clone()));
    // And a copy with the Retry bit set is a retransmission, not a replay.
    let mut retry = f.clone();
    retry[1] |= 0x08;
    frames.push((ts, len, retry));
    let mut e = plugsniff::engine::Engine::new(vec![passphrase(Some("linksys"), "dictionary")]);
    let mut c = Collect::default();
    for (ts, len, f) in &frames {
        e.process(*ts, kind, f, *len, &mut c);
    }
    assert_eq!(e.counters.dropped(DropReason::Replay), 1);
    assert_eq!(e.counters.decrypted, 31);
    assert!(e.counters.balanced());
}

#[test]
fn wpa1_tkip_linksys() {
    let Some(dir) = shared_captures() else { return };
    let (e, c) = run_file(
        &dir.join("wpa-psk-linksys.cap"),
        vec![passphrase(Some("linksys"), "dictionary")],
    );
    // tshark: 59 (51 unicast + 8 group); airdecap-ng: 53.
    assert_eq!(e.counters.decrypted, 59, "{:?}", e.counters);
    assert_eq!(e.counters.dropped_total(), 0);
    all_sane(&c);
}

#[test]
fn prism_with_fcs_detected_without_being_told() {
    let Some(dir) = shared_captures() else { return };
    let (e, c) = run_file(
        &dir.join("wpa.cap"),
        vec![passphrase(Some("test"), "biscotte")],
    );
    assert_eq!(e.counters.fcs_detected, 13);
    assert_eq!(e.counters.decrypted, 2);
    all_sane(&c);
}

#[test]
fn akm6_psk_sha256_with_protected_management_frames() {
    let Some(dir) = shared_captures() else { return };
    let (e, c) = run_file(
        &dir.join("n-02.cap"),
        vec![passphrase(Some("Neheb"), "bo$$password")],
    );
    // tshark: 20 (data + robust management); airdecap-ng: 0.
    assert!(e.counters.decrypted >= 20, "{:?}", e.counters);
    assert!(e.counters.decrypted_mgmt >= 1);
    // Everything not decrypted was sent before the handshake: no key, nothing else.
    let nokey = e.counters.dropped(DropReason::NoKey) + e.counters.dropped(DropReason::NoGroupKey);
    assert_eq!(e.counters.dropped_total(), nokey);
    assert_eq!(e.counters.decrypted + nokey, 103);
    all_sane(&c);
}

#[test]
fn pcapng_with_group_key_handshake() {
    let Some(dir) = shared_captures() else { return };
    let (e, c) = run_file(
        &dir.join("wnm-sleep-wpa2-psk.pcapng"),
        vec![passphrase(Some("test-wnm-rsn"), "12345678")],
    );
    assert_eq!(e.counters.decrypted, 2);
    let (_, st) = e.tracker.stations().next().unwrap();
    assert!(st.seen[4] >= 1, "group-key message 1 seen");
    all_sane(&c);
}

#[test]
fn eap_tls_with_three_pmks() {
    let Some(dir) = shared_captures() else { return };
    let pmks = [
        "a5001e18e0b3f792278825bc3abff72d7021d7c157b600470ef730e2490835d4",
        "79258f6ceeecedd3482b92deaabdb675f09bcb4003ef5074f5ddb10a94ebe00a",
        "23a9ee58c7810546ae3e7509fda9f97435778d689e53a54891c56d02f18ca162",
    ];
    let (e, c) = run_file(
        &dir.join("wpa-eap-tls.pcap"),
        pmks.iter().map(|p| pmk(p)).collect(),
    );
    assert_eq!(e.counters.decrypted, 61, "{:?}", e.counters);
    assert_eq!(e.counters.dropped_total(), 0);
    all_sane(&c);
    let (e, _) = run_file(&dir.join("wpa-eap-tls.pcap"), vec![pmk(pmks[0])]);
    assert_eq!(e.counters.decrypted, 29);
}

#[test]
fn handshake_only_captures_confirm_the_key() {
    let Some(dir) = shared_captures() else { return };
    for (file, ssid) in [
        ("wpa2.eapol.cap", "Harkonen"),
        ("testm1m2m3.pcap", "WLAN-2"),
    ] {
        let (e, _) = run_file(&dir.join(file), vec![passphrase(Some(ssid), "12345678")]);
        let (_, st) = e.tracker.stations().next().unwrap();
        assert_eq!(st.status, KeyStatus::Confirmed, "{file}");
        let (e, _) = run_file(&dir.join(file), vec![passphrase(Some(ssid), "87654321")]);
        let (_, st) = e.tracker.stations().next().unwrap();
        assert_eq!(st.status, KeyStatus::MicMismatch, "{file}");
    }
}

/// airdecap-ng (installed by `.ci/run`) writes `FILE-dec.cap`, Ethernet frames.
/// Every frame it decrypts must be byte-identical to one of ours.
#[test]
fn ethernet_payloads_match_airdecap_ng() {
    let Some(dir) = shared_captures() else { return };
    if std::process::Command::new("airdecap-ng")
        .arg("--help")
        .output()
        .is_err()
    {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true but airdecap-ng is not installed");
        }
        eprintln!("SKIP: airdecap-ng not installed");
        return;
    }
    let cases = [
        ("wpa2-psk-linksys.cap", "linksys", "dictionary", 25),
        ("wpa-psk-linksys.cap", "linksys", "dictionary", 53),
        ("wpa.cap", "test", "biscotte", 2),
    ];
    for (file, ssid, pass, expect) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let input = tmp.path().join(file);
        std::fs::copy(dir.join(file), &input).unwrap();
        let out = std::process::Command::new("airdecap-ng")
            .args(["-e", ssid, "-p", pass])
            .arg(&input)
            .output()
            .unwrap();
        assert!(out.status.success(), "airdecap-ng failed on {file}");
        let stem = file.rsplit_once('.').unwrap().0;
        let dec = tmp.path().join(format!("{stem}-dec.cap"));
        let (dlt, frames) = plugsniff::capture::file::read_all(&dec).unwrap();
        assert_eq!(dlt, 1, "airdecap-ng writes Ethernet");
        let theirs: Vec<Vec<u8>> = frames.into_iter().map(|f| f.data).collect();
        assert_eq!(theirs.len(), expect, "{file}: airdecap-ng count changed");
        let (_, ours) = run_file(&dir.join(file), vec![passphrase(Some(ssid), pass)]);
        for (i, f) in theirs.iter().enumerate() {
            assert!(
                ours.ethernet.iter().any(|o| o == f),
                "{file}: airdecap-ng frame {i} ({} bytes) not among ours",
                f.len()
            );
        }
    }
}
