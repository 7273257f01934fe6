//! The per-station radio summary (`docs/hardware.md`): data frames each way
//! and the highest MCS, streams and width seen each way, checked against
//! tshark's own radiotap dissection of real captures.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

/// (bssid, sta, to_ap) → (frames, max MCS, max streams, max width).
type Links = BTreeMap<(String, String, bool), (u64, Option<u64>, Option<u64>, Option<u64>)>;

/// What tshark dissects: data frames to or from an AP (not WDS), unicast
/// station, with radiotap's HT MCS field where it says the index / width are known.
fn tshark_links(path: &std::path::Path) -> Links {
    let o = Command::new("tshark")
        .arg("-r")
        .arg(path)
        .args([
            "-Y",
            "wlan.fc.type==2 && (wlan.fc.ds==1 || wlan.fc.ds==2)",
            "-T",
            "fields",
            "-e",
            "wlan.fc.ds",
            "-e",
            "wlan.ra",
            "-e",
            "wlan.ta",
            "-e",
            "radiotap.mcs.have_index",
            "-e",
            "radiotap.mcs.index",
            "-e",
            "radiotap.mcs.have_bw",
            "-e",
            "radiotap.mcs.bw",
        ])
        .output()
        .expect("tshark runs");
    assert!(o.status.success());
    let mut links = Links::new();
    for line in String::from_utf8_lossy(&o.stdout).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let to_ap = f[0] == "0x01";
        let (bssid, sta) = if to_ap { (f[1], f[2]) } else { (f[2], f[1]) };
        let group = u8::from_str_radix(&sta[..2], 16).unwrap() & 1 == 1;
        if group {
            continue;
        }
        let e = links
            .entry((bssid.to_string(), sta.to_string(), to_ap))
            .or_default();
        e.0 += 1;
        let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
        if num(3) == Some(1)
            && let Some(idx) = num(4).filter(|i| *i < 32)
        {
            e.1 = e.1.max(Some(idx % 8));
            e.2 = e.2.max(Some(idx / 8 + 1));
        }
        if num(5) == Some(1) {
            let w = if num(6) == Some(1) { 40 } else { 20 };
            e.3 = e.3.max(Some(w));
        }
    }
    links
}

fn plugsniff_links(path: &std::path::Path, ssid: &str) -> Links {
    let o = Command::new(env!("CARGO_BIN_EXE_plugsniff"))
        .arg("decrypt")
        .arg(path)
        .args(["--json", "--no-prompt", "--ssid", ssid])
        .env("PLUGSNIFF_PASSPHRASE", "abcdefgh")
        .output()
        .unwrap();
    assert!(
        o.status.code().is_some_and(|c| c <= 1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut links = Links::new();
    for n in v["networks"].as_array().unwrap() {
        for s in n["stations"].as_array().unwrap() {
            let r = &s["radio"];
            if r.is_null() {
                continue;
            }
            for (to_ap, frames, rates) in [
                (true, &r["frames_to_ap"], &r["to_ap"]),
                (false, &r["frames_from_ap"], &r["from_ap"]),
            ] {
                let frames = frames.as_u64().unwrap();
                if frames == 0 {
                    continue;
                }
                if !rates["phy"].is_null() {
                    assert_eq!(rates["phy"], "HT", "these captures carry HT fields only");
                }
                links.insert(
                    (
                        n["bssid"].as_str().unwrap().to_string(),
                        s["mac"].as_str().unwrap().to_string(),
                        to_ap,
                    ),
                    (
                        frames,
                        rates["mcs"].as_u64(),
                        rates["streams"].as_u64(),
                        rates["width_mhz"].as_u64(),
                    ),
                );
            }
        }
    }
    links
}

/// Same frames each way and the same highest MCS / streams / width per
/// station and direction as tshark reads from the radiotap headers.
#[test]
fn radio_summary_matches_tshark_on_real_captures() {
    let Some(dir) = common::shared_captures() else {
        return;
    };
    if Command::new("tshark").arg("--version").output().is_err() {
        assert!(
            std::env::var("CI").is_err(),
            "CI=true but tshark is missing"
        );
        eprintln!("SKIP: tshark not installed");
        return;
    }
    let mut with_rates = 0;
    for (file, ssid) in [
        ("ping_I_F_BE_AE-fromap.pcapng", "testnetwork"),
        ("ping_I_E_E___inc_pn_2-fromap.pcapng", "testnetwork"),
        ("amsdu-inject-fromap.pcapng", "testnetwork"),
        (
            "wpa3_transition_wpa3client_5ghz.pcapng",
            "WPA3-AP-Transition-5G",
        ),
    ] {
        let p = dir.join(file);
        let want = tshark_links(&p);
        let got = plugsniff_links(&p, ssid);
        assert_eq!(got, want, "{file}");
        with_rates += got.values().filter(|l| l.1.is_some()).count();
    }
    assert!(with_rates >= 4, "the captures exercise the MCS field");
}
