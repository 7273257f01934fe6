//! The per-station diagnosis of `decrypt`'s summary (text and JSON) and of
//! `Tracker::describe_station`: SAE named with the key to supply on the real
//! WPA3 capture; "this station used a different passphrase" when another
//! station or the AP's PMKID confirmed the configured one; failed and
//! successful handshakes of one station reported together.

mod common;

use common::*;
use plugsniff::engine::{Engine, NullSink};
use plugsniff::output::summary::WifiSummary;
use plugsniff::synth::network::{self, NetworkSpec};
use plugsniff::wire::MacAddr;
use plugsniff::wire::link::LinkKind;
use plugsniff::wpa::handshake::{Confirmation, KeyStatus};
use plugsniff::wpa::keys::Cipher;

const PSK: u32 = 0x000F_AC02;

fn feed(e: &mut Engine, frames: &[(plugsniff::wire::Ts, Vec<u8>)]) {
    for (ts, f) in frames {
        e.process(*ts, LinkKind::Radiotap, f, f.len() as u32, &mut NullSink);
    }
}

/// `../shared/captures/wpa3_transition_wpa3client_5ghz.pcapng`: the client
/// joined with SAE; the passphrase cannot give its PMK, and the summary says
/// what to supply instead of "unsupported key descriptor version 0".
#[test]
fn real_wpa3_capture_names_sae() {
    let Some(dir) = shared_captures() else { return };
    let (e, _) = run_file(
        &dir.join("wpa3_transition_wpa3client_5ghz.pcapng"),
        vec![passphrase(Some("WPA3-AP-Transition-5G"), "abcdefgh")],
    );
    let ap = MacAddr([0x00, 0xa0, 0x57, 0x2e, 0x19, 0xb1]);
    let sta = MacAddr([0x2c, 0xb0, 0x5d, 0x5b, 0xd2, 0x65]);
    let st = e.tracker.station(ap, sta).unwrap();
    assert_eq!(st.status, KeyStatus::NeedsKey { akm: 0x000F_AC08 });
    let s = WifiSummary::from_engine(&e);
    let text = s.to_text();
    assert!(
        !text.contains("unsupported key descriptor version"),
        "{text}"
    );
    assert!(text.contains("SAE (WPA3-Personal"), "{text}");
    assert!(text.contains("wpa_cli pmksa"), "{text}");
    let j: serde_json::Value = serde_json::from_str(&s.to_json()).unwrap();
    let st = &j["networks"][0]["stations"][0];
    assert_eq!(st["akm"], "SAE");
    assert_eq!(st["key_source"], "SAE");
    assert_eq!(st["key_confirmed"], false);
    // The transition network announces both.
    let akms = j["networks"][0]["akms"].as_array().unwrap();
    assert!(
        akms.iter().any(|a| a == "SAE") && akms.iter().any(|a| a == "PSK"),
        "{akms:?}"
    );
}

/// Two stations, one typed another passphrase: the configured one is
/// confirmed by the other station.
#[test]
fn different_passphrase_confirmed_by_another_station() {
    let good = network::build(&NetworkSpec::new(PSK, Cipher::Ccmp));
    let mut spec = NetworkSpec::new(PSK, Cipher::Ccmp);
    spec.sta = MacAddr([0x02, 0x5a, 0, 0, 1, 2]);
    spec.station_passphrase = Some("not the passphrase".into());
    let bad = network::build(&spec);
    let mut e = Engine::new(vec![passphrase(
        Some(&good.spec.ssid),
        &good.spec.passphrase,
    )]);
    feed(&mut e, &bad.frames);
    feed(&mut e, &good.frames);
    let st = e.tracker.station(spec.ap, spec.sta).unwrap();
    // Either confirmation names the real cause; the station's own is first.
    assert_eq!(st.status, KeyStatus::MicMismatch);
    let d = e.tracker.describe_station(spec.ap, spec.sta);
    assert!(
        d.contains("this station used a different passphrase"),
        "{d}"
    );
    let good_st = e.tracker.station(good.spec.ap, good.spec.sta).unwrap();
    assert_eq!(good_st.status, KeyStatus::Confirmed);
    // Alone, with nothing confirming the passphrase but the AP's PMKID.
    let mut e = Engine::new(vec![passphrase(
        Some(&good.spec.ssid),
        &good.spec.passphrase,
    )]);
    feed(&mut e, &bad.frames);
    let d = e.tracker.describe_station(spec.ap, spec.sta);
    assert_eq!(
        d,
        KeyStatus::DifferentPassphrase(Confirmation::Pmkid).describe(),
        "{d}"
    );
    // And with a wrong configured passphrase: a plain MIC mismatch.
    let mut e = Engine::new(vec![passphrase(Some(&good.spec.ssid), "another wrong one")]);
    feed(&mut e, &bad.frames);
    assert_eq!(
        e.tracker.describe_station(spec.ap, spec.sta),
        "MIC mismatch: wrong passphrase or SSID"
    );
}

/// A failed attempt (wrong passphrase) then a handshake that installs the
/// key: reported as both, not as "MIC mismatch".
#[test]
fn failed_then_successful_handshake() {
    let good = network::build(&NetworkSpec::new(PSK, Cipher::Ccmp));
    let mut spec = NetworkSpec::new(PSK, Cipher::Ccmp);
    spec.station_passphrase = Some("typo passphrase".into());
    spec.seed ^= 1;
    let bad = network::build(&spec);
    let mut e = Engine::new(vec![passphrase(
        Some(&good.spec.ssid),
        &good.spec.passphrase,
    )]);
    feed(&mut e, &bad.frames);
    feed(&mut e, &good.frames);
    let st = e.tracker.station(good.spec.ap, good.spec.sta).unwrap();
    assert_eq!(st.status, KeyStatus::Confirmed);
    assert_eq!((st.keys_installed, st.handshakes_failed), (1, 1));
    let d = e.tracker.describe_station(good.spec.ap, good.spec.sta);
    assert!(
        d.starts_with("key confirmed in 1 handshake(s); 1 other handshake(s) failed"),
        "{d}"
    );
    assert!(d.contains("different passphrase"), "{d}");
    // The reverse order: the last handshake failed after a key was installed.
    let mut e = Engine::new(vec![passphrase(
        Some(&good.spec.ssid),
        &good.spec.passphrase,
    )]);
    feed(&mut e, &good.frames);
    feed(&mut e, &bad.frames);
    let d = e.tracker.describe_station(good.spec.ap, good.spec.sta);
    assert!(
        d.starts_with("1 handshake(s) installed a key, 1 failed; the last:"),
        "{d}"
    );
    let s = WifiSummary::from_engine(&e);
    let j: serde_json::Value = serde_json::from_str(&s.to_json()).unwrap();
    let st = &j["networks"][0]["stations"][0];
    assert_eq!(st["handshakes_failed"], 1);
    assert_eq!(st["keys_installed"], 1);
}
