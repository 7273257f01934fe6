//! The receiver rules of IEEE 802.11-2020 for fragments and A-MSDUs on the
//! FragAttacks example captures (vanhoefm/fragattacks `example-pcaps/`, see
//! `../shared/captures/README.md`), and the warnings they raise: the attack
//! frames are not delivered, each is named, every other frame is delivered
//! as before; and no warning fires on the clean real captures.
//!
//! Reference outputs: the binary before these rules delivered 58, 40 and 38
//! Ethernet frames on the three captures (decrypted 59, 41 and 37 frames);
//! tshark reassembles the attack fragments and splits the forged A-MSDU too.

mod common;

use common::*;
use plugsniff::engine::{DropReason, Engine};

const SSID: &str = "testnetwork";
const PASS: &str = "abcdefgh";

/// An IPv4 ICMP echo request from the attacker's address 192.168.100.1 (the
/// forged ping every attack injects), in an Ethernet frame.
fn is_forged_ping(eth: &[u8]) -> bool {
    eth.len() > 34
        && eth[12..14] == [0x08, 0x00]
        && eth[23] == 1
        && eth[26..30] == [192, 168, 100, 1]
        && eth[34] == 8
}

fn warnings(e: &mut Engine) -> Vec<(&'static str, u64, String, Option<&'static str>)> {
    e.take_warnings()
        .map(|w| (w.kind, w.frame, w.message, w.reference))
        .collect()
}

#[test]
fn mixed_key_fragments_are_refused_and_named() {
    let Some(dir) = shared_captures() else { return };
    let (mut e, c) = run_file(
        &dir.join("ping_I_F_BE_AE-fromap.pcapng"),
        vec![passphrase(Some(SSID), PASS)],
    );
    assert_eq!(e.counters.dropped(DropReason::FragmentMixedKey), 1);
    assert_eq!(e.counters.decrypted, 58, "{:?}", e.counters);
    assert_eq!(c.ethernet.len(), 57, "one MSDU fewer than before the rules");
    assert!(!c.ethernet.iter().any(|f| is_forged_ping(f)));
    let w = warnings(&mut e);
    let mk: Vec<_> = w.iter().filter(|w| w.0 == "fragment_mixed_key").collect();
    assert_eq!(mk.len(), 1, "{w:#?}");
    // Fragment 1 (frame 180, new key) continues fragment 0 (frame 170, old key).
    assert_eq!(mk[0].1, 180);
    assert!(mk[0].2.contains("frame 170"), "{}", mk[0].2);
    assert!(mk[0].2.contains("64:70:02:2f:d7:67"));
    assert!(mk[0].3.unwrap().contains("CVE-2020-24587"));
    // The attack tool also sends a plaintext M4 after the key is in use.
    assert!(
        w.iter()
            .all(|w| matches!(w.0, "fragment_mixed_key" | "plaintext_eapol")),
        "{w:#?}"
    );
}

#[test]
fn non_consecutive_pns_are_refused_and_named() {
    let Some(dir) = shared_captures() else { return };
    let (mut e, c) = run_file(
        &dir.join("ping_I_E_E___inc_pn_2-fromap.pcapng"),
        vec![passphrase(Some(SSID), PASS)],
    );
    assert_eq!(e.counters.dropped(DropReason::FragmentPnGap), 1);
    assert_eq!(e.counters.decrypted, 40, "{:?}", e.counters);
    assert_eq!(c.ethernet.len(), 39);
    assert!(!c.ethernet.iter().any(|f| is_forged_ping(f)));
    let w = warnings(&mut e);
    assert_eq!(w.len(), 1, "{w:#?}");
    assert_eq!((w[0].0, w[0].1), ("fragment_pn_gap", 132));
    assert!(
        w[0].2.contains("PN 0x103") && w[0].2.contains("0x101"),
        "{}",
        w[0].2
    );
    assert!(w[0].3.unwrap().contains("CVE-2020-26146"));
    // The echo of the injected fragments (same PNs) stays a replay.
    assert_eq!(e.counters.dropped(DropReason::Replay), 3);
}

#[test]
fn amsdu_injection_is_refused_and_named() {
    let Some(dir) = shared_captures() else { return };
    let (mut e, c) = run_file(
        &dir.join("amsdu-inject-fromap.pcapng"),
        vec![passphrase(Some(SSID), PASS)],
    );
    assert_eq!(e.counters.dropped(DropReason::AmsduInjection), 1);
    assert_eq!(e.counters.decrypted, 36, "{:?}", e.counters);
    // Before: the forged ping and a garbage frame made of the LLC header.
    assert_eq!(c.ethernet.len(), 36);
    assert!(!c.ethernet.iter().any(|f| is_forged_ping(f)));
    let w = warnings(&mut e);
    assert_eq!(w.len(), 1, "{w:#?}");
    assert_eq!((w[0].0, w[0].1), ("amsdu_injection", 124));
    assert!(w[0].3.unwrap().contains("CVE-2020-24588"));
    // Frame 131, the kernel's echo of the injection, is a replay.
    assert_eq!(e.counters.dropped(DropReason::Replay), 1);
}

/// Every 802.11 capture of `../shared/captures` except the FragAttacks ones,
/// and the bundled demo: not one warning.
#[test]
fn no_warning_on_clean_captures() {
    let Some(dir) = shared_captures() else { return };
    let eap = [
        "a5001e18e0b3f792278825bc3abff72d7021d7c157b600470ef730e2490835d4",
        "79258f6ceeecedd3482b92deaabdb675f09bcb4003ef5074f5ddb10a94ebe00a",
        "23a9ee58c7810546ae3e7509fda9f97435778d689e53a54891c56d02f18ca162",
    ];
    let cases: Vec<(std::path::PathBuf, Vec<_>)> = vec![
        (
            dir.join("wpa2-psk-linksys.cap"),
            vec![passphrase(Some("linksys"), "dictionary")],
        ),
        (
            dir.join("wpa-psk-linksys.cap"),
            vec![passphrase(Some("linksys"), "dictionary")],
        ),
        (
            dir.join("wpa.cap"),
            vec![passphrase(Some("test"), "biscotte")],
        ),
        (
            dir.join("n-02.cap"),
            vec![passphrase(Some("Neheb"), "bo$$password")],
        ),
        (
            dir.join("wpa2.eapol.cap"),
            vec![passphrase(Some("Harkonen"), "12345678")],
        ),
        (
            dir.join("testm1m2m3.pcap"),
            vec![passphrase(Some("WLAN-2"), "12345678")],
        ),
        (
            dir.join("wnm-sleep-wpa2-psk.pcapng"),
            vec![passphrase(Some("test-wnm-rsn"), "12345678")],
        ),
        (
            dir.join("wpa-eap-tls.pcap"),
            eap.iter().map(|p| pmk(p)).collect(),
        ),
        (
            dir.join("wpa3_transition_wpa3client_5ghz.pcapng"),
            vec![passphrase(Some("WPA3-AP-Transition-5G"), PASS)],
        ),
        (
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("captures/demo.pcapng"),
            vec![passphrase(
                Some(plugsniff::fuzz_targets::DEMO_SSID),
                plugsniff::fuzz_targets::DEMO_PASSPHRASE,
            )],
        ),
    ];
    for (path, nets) in cases {
        let (e, _) = run_file(&path, nets);
        assert!(
            e.warnings.totals.is_empty() && e.warnings.pending().is_empty(),
            "{}: {:#?}",
            path.display(),
            e.warnings.pending()
        );
        for r in [
            DropReason::FragmentMixedKey,
            DropReason::FragmentPnGap,
            DropReason::FragmentMixedPlaintext,
            DropReason::AmsduInjection,
            DropReason::BipMicFailure,
        ] {
            assert_eq!(e.counters.dropped(r), 0, "{}: {r:?}", path.display());
        }
    }
}
