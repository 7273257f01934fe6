//! Every cipher and AKM on generated networks (`synth::network`), checked two
//! ways: plugsniff decrypts exactly the datagrams that were sent, and tshark
//! (the independent implementation, skipped when absent unless `CI=true`)
//! decrypts the same ones from the same file given the same key, in
//! Wireshark's own `80211_keys` file, which plugsniff imports as it is.
//!
//! tshark 4.0 derives keys for AKMs 1–6, 8, 9, 11, 12, 18 and the first
//! association of 13; it decrypts every cipher here given the TKs. It does not
//! know SAE-EXT-KEY (24), the FT roam of AKM 13, GTKs under AKM 12, or 32-byte
//! TKIP `tk` keys: those cases are checked against the TKs only, or (24, the
//! AKM 13 roam) by plugsniff alone, which the report names.

mod common;

use std::path::Path;
use std::process::Command;

use plugsniff::engine::{DropReason, Engine, Msdu, Sink};
use plugsniff::synth::network::{self, NetworkCapture, NetworkSpec};
use plugsniff::wire::link::LinkKind;
use plugsniff::wire::llc;
use plugsniff::wpa::akm::{self, KeySource};
use plugsniff::wpa::handshake::{KeyStatus, NetworkSecret, Secret};
use plugsniff::wpa::keys::{Cipher, Passphrase, PmkAny, VarKey};

/// UDP payloads of decrypted MSDUs, in order.
#[derive(Default)]
struct Payloads(Vec<Vec<u8>>);

impl Sink for Payloads {
    fn msdu(&mut self, m: &Msdu<'_>) {
        if !m.decrypted {
            return;
        }
        let Some(s) = llc::parse_snap(m.llc) else {
            return;
        };
        if s.ethertype != llc::ethertype::IPV4 || s.payload.len() < 28 {
            return;
        }
        self.0.push(s.payload[28..].to_vec());
    }
}

fn run(cap: &NetworkCapture, nets: Vec<NetworkSecret>) -> (Engine, Vec<Vec<u8>>) {
    let mut e = Engine::new(nets);
    let mut p = Payloads::default();
    for (ts, f) in &cap.frames {
        e.process(*ts, LinkKind::Radiotap, f, f.len() as u32, &mut p);
    }
    assert!(e.counters.balanced());
    (e, p.0)
}

/// The secret a user would give for the network: the passphrase (PSK), the
/// PMK with its PMKID (SAE, OWE), the MSK (802.1X).
fn secret(cap: &NetworkCapture) -> NetworkSecret {
    let s = &cap.spec;
    let secret = match akm::source(s.akm).unwrap() {
        KeySource::Psk => Secret::Passphrase(Passphrase::new(s.passphrase.clone())),
        KeySource::Sae | KeySource::Owe => Secret::NamedPmk {
            pmk: PmkAny::from_slice(&cap.keys.pmk).unwrap(),
            pmkid: cap.keys.pmkid,
        },
        KeySource::Eap => Secret::Msk(VarKey::from_slice(cap.keys.msk.as_ref().unwrap()).unwrap()),
    };
    NetworkSecret {
        ssid: Some(s.ssid.as_bytes().to_vec()),
        secret,
    }
}

fn expected(cap: &NetworkCapture) -> Vec<Vec<u8>> {
    let mut want = cap.unicast_payloads.clone();
    want.truncate(4);
    want.push(cap.group_payloads[0].clone());
    if cap.unicast_payloads.len() > 4 {
        want.extend(cap.unicast_payloads[4..].iter().cloned());
        want.push(cap.group_payloads[1].clone());
    }
    want
}

/// The AKMs and ciphers checked.
const CASES: &[(u32, Cipher)] = &[
    (0x000F_AC02, Cipher::Ccmp),
    (0x000F_AC02, Cipher::Gcmp),
    (0x000F_AC02, Cipher::Gcmp256),
    (0x000F_AC02, Cipher::Ccmp256),
    (0x000F_AC02, Cipher::Tkip),
    (0x000F_AC01, Cipher::Ccmp),
    (0x000F_AC05, Cipher::Ccmp),
    (0x000F_AC06, Cipher::Ccmp),
    (0x000F_AC06, Cipher::Gcmp256),
    (0x000F_AC08, Cipher::Ccmp),
    (0x000F_AC08, Cipher::Gcmp256),
    (0x000F_AC0B, Cipher::Gcmp),
    (0x000F_AC0C, Cipher::Gcmp256),
    (0x000F_AC0C, Cipher::Ccmp256),
    (0x000F_AC12, Cipher::Ccmp),
    (0x000F_AC18, Cipher::Ccmp),
    (0x000F_AC03, Cipher::Ccmp),
    (0x000F_AC04, Cipher::Ccmp),
    (0x000F_AC09, Cipher::Gcmp),
    (0x000F_AC0D, Cipher::Gcmp256),
];

#[test]
fn plugsniff_decrypts_every_akm_and_cipher() {
    for &(a, c) in CASES {
        let cap = network::build(&NetworkSpec::new(a, c));
        let (e, got) = run(&cap, vec![secret(&cap)]);
        let what = format!("AKM {} {}", a & 0xff, c.name());
        assert_eq!(got, expected(&cap), "{what}");
        assert_eq!(e.counters.dropped_total(), 0, "{what}: {:?}", e.counters);
        assert_eq!(
            e.counters.decrypted_mgmt as usize, cap.protected_mgmt,
            "{what}"
        );
        assert_eq!(e.counters.bip_verified as usize, cap.bip_frames, "{what}");
        let st = e.tracker.station(cap.spec.ap, cap.spec.sta).unwrap();
        assert_eq!(st.status, KeyStatus::Confirmed, "{what}");
        assert_eq!(st.akm, Some(a), "{what}");
        if cap.spec.roam {
            let st2 = e.tracker.station(cap.spec.ap2, cap.spec.sta).unwrap();
            assert_eq!(st2.status, KeyStatus::Confirmed, "{what}: FT roam");
            assert_eq!(st2.via, Some("FT"));
            assert_eq!(st2.seen, [0; 6], "{what}: no four-way handshake with AP2");
        }
        assert!(
            e.warnings.totals.is_empty(),
            "{what}: {:?}",
            e.warnings.pending()
        );
    }
}

/// 802.1X AKMs also take the PMK itself; SAE/OWE without the PMKID too.
#[test]
fn pmk_instead_of_msk_or_pmkid() {
    for &(a, c) in CASES {
        let cap = network::build(&NetworkSpec::new(a, c));
        let src = akm::source(a).unwrap();
        if src == KeySource::Psk {
            continue;
        }
        let pmk = NetworkSecret {
            ssid: None,
            secret: Secret::NamedPmk {
                pmk: PmkAny::from_slice(&cap.keys.pmk).unwrap(),
                pmkid: None,
            },
        };
        let (_, got) = run(&cap, vec![pmk]);
        assert_eq!(got, expected(&cap), "AKM {}", a & 0xff);
    }
}

/// Raw TKs alone (`[[key]]` / Wireshark `tk`): every frame of every network.
#[test]
fn raw_tks_alone() {
    for &(a, c) in CASES {
        let cap = network::build(&NetworkSpec::new(a, c));
        let mut nets: Vec<NetworkSecret> = cap
            .keys
            .tks
            .iter()
            .map(|t| NetworkSecret {
                ssid: None,
                secret: Secret::Tk {
                    tk: VarKey::from_slice(t).unwrap(),
                    bssid: None,
                    sta: None,
                },
            })
            .collect();
        nets.push(NetworkSecret {
            ssid: None,
            secret: Secret::Tk {
                tk: VarKey::from_slice(&cap.keys.gtk).unwrap(),
                bssid: None,
                sta: None,
            },
        });
        let (e, got) = run(&cap, nets);
        assert_eq!(got, expected(&cap), "AKM {} {}", a & 0xff, c.name());
        assert_eq!(e.counters.dropped(DropReason::NoKey), 0);
    }
}

/// What a user is told when the key cannot come from what they gave.
#[test]
fn diagnosis_of_sae_owe_and_8021x() {
    for (a, c, needle) in [
        (0x000F_AC08, Cipher::Ccmp, "SAE (WPA3-Personal"),
        (0x000F_AC12, Cipher::Ccmp, "OWE (Enhanced Open"),
        (0x000F_AC01, Cipher::Ccmp, "MS-MPPE-Recv-Key"),
        (0x000F_AC0C, Cipher::Gcmp256, "Suite B 192"),
    ] {
        let cap = network::build(&NetworkSpec::new(a, c));
        // A passphrase only: the key cannot come from it.
        let pass = NetworkSecret {
            ssid: Some(cap.spec.ssid.as_bytes().to_vec()),
            secret: Secret::Passphrase(Passphrase::new("some passphrase".into())),
        };
        let (e, got) = run(&cap, vec![pass]);
        assert!(got.is_empty());
        let st = e.tracker.station(cap.spec.ap, cap.spec.sta).unwrap();
        assert_eq!(st.status, KeyStatus::NeedsKey { akm: a });
        let d = e.tracker.describe_station(cap.spec.ap, cap.spec.sta);
        assert!(d.contains(needle), "{d}");
        // A wrong PMK of the right length.
        let wrong = NetworkSecret {
            ssid: None,
            secret: Secret::NamedPmk {
                pmk: PmkAny::from_slice(&vec![7u8; cap.keys.pmk.len()]).unwrap(),
                pmkid: None,
            },
        };
        let (e, _) = run(&cap, vec![wrong]);
        let st = e.tracker.station(cap.spec.ap, cap.spec.sta).unwrap();
        assert_eq!(
            st.status,
            KeyStatus::PmkMismatch { akm: a, tried: 1 },
            "AKM {a:x}"
        );
    }
}

/// A forged broadcast management frame in an MFP network: dropped, named.
#[test]
fn forged_bip_frame() {
    let cap = network::build(&NetworkSpec::new(0x000F_AC08, Cipher::Gcmp256));
    let mut frames = cap.frames.clone();
    let bip_at = frames
        .iter()
        .position(|(_, f)| {
            let d = &f[plugsniff::synth::frames::RADIOTAP_LEN..];
            d[0] == 0xd0 && d[4] == 0xff
        })
        .unwrap();
    let (ts, mut f) = frames[bip_at].clone();
    let n = f.len();
    f[n - 1] ^= 1;
    frames.push((ts, f));
    // And one without any MME.
    let (ts, f) = frames[bip_at].clone();
    frames.push((ts, f[..n - 18].to_vec()));
    let c2 = NetworkCapture {
        frames,
        ..cap.clone()
    };
    let (mut e, _) = run(&c2, vec![secret(&cap)]);
    assert_eq!(e.counters.bip_verified, 1);
    assert_eq!(e.counters.dropped(DropReason::BipMicFailure), 2);
    let w: Vec<_> = e.take_warnings().collect();
    assert_eq!(w.len(), 1, "rate limited to one per link: {w:#?}");
    assert_eq!(w[0].kind, "bip_mic_failure");
    assert_eq!(e.warnings.totals["bip_mic_failure"], 2);
}

// ---------------------------------------------------------------------------
// tshark
// ---------------------------------------------------------------------------

fn have_tshark() -> bool {
    let ok = Command::new("tshark").arg("-v").output().is_ok();
    if !ok {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true but tshark is not installed");
        }
        eprintln!("SKIP: tshark not installed");
    }
    ok
}

/// The UDP payloads tshark decrypts from `pcap` with `keys` (an
/// `80211_keys` file's text).
fn tshark_payloads(pcap: &Path, keys: &str) -> Vec<Vec<u8>> {
    let conf = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(conf.path().join("wireshark")).unwrap();
    std::fs::write(conf.path().join("wireshark/80211_keys"), keys).unwrap();
    let o = Command::new("tshark")
        .env("XDG_CONFIG_HOME", conf.path())
        .env("HOME", conf.path())
        .arg("-r")
        .arg(pcap)
        .args([
            "-o",
            "wlan.enable_decryption:TRUE",
            "-Y",
            "udp.port==5000 || udp.port==5001",
            "-T",
            "fields",
            "-e",
            "udp.payload",
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| hex::decode(l.trim().replace(':', "")).unwrap())
        .collect()
}

/// How many frames tshark shows for `filter` with `keys`.
fn tshark_count(pcap: &Path, keys: &str, filter: &str) -> usize {
    let conf = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(conf.path().join("wireshark")).unwrap();
    std::fs::write(conf.path().join("wireshark/80211_keys"), keys).unwrap();
    let o = Command::new("tshark")
        .env("XDG_CONFIG_HOME", conf.path())
        .env("HOME", conf.path())
        .arg("-r")
        .arg(pcap)
        .args(["-o", "wlan.enable_decryption:TRUE", "-Y", filter])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).lines().count()
}

fn write_pcap(dir: &Path, cap: &NetworkCapture) -> std::path::PathBuf {
    let p = dir.join("net.pcap");
    std::fs::write(&p, plugsniff::synth::scenario::pcap_bytes(&cap.frames)).unwrap();
    p
}

/// The key line a Wireshark user would write: `wpa-pwd` for PSK AKMs,
/// `wpa-psk` with the PMK (or FT XXKey) otherwise.
fn wireshark_key(cap: &NetworkCapture) -> String {
    match akm::source(cap.spec.akm).unwrap() {
        KeySource::Psk => format!(
            "\"wpa-pwd\",\"{}:{}\"\n",
            cap.spec.passphrase, cap.spec.ssid
        ),
        _ => format!("\"wpa-psk\",\"{}\"\n", hex::encode(&cap.keys.pmk)),
    }
}

#[test]
fn tshark_agrees_with_the_keys() {
    if !have_tshark() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    for &(a, c) in CASES {
        let cap = network::build(&NetworkSpec::new(a, c));
        let what = format!("AKM {} {}", a & 0xff, c.name());
        let pcap = write_pcap(tmp.path(), &cap);
        let want = expected(&cap);
        // 1. Given the TKs, tshark decrypts every datagram (its `tk` keys
        //    do not cover TKIP).
        if c != Cipher::Tkip {
            let mut keys = String::new();
            for t in cap.keys.tks.iter().chain(std::iter::once(&cap.keys.gtk)) {
                keys.push_str(&format!("\"tk\",\"{}\"\n", hex::encode(t)));
            }
            let mut theirs = tshark_payloads(&pcap, &keys);
            let mut ours = want.clone();
            theirs.sort();
            ours.sort();
            assert_eq!(theirs, ours, "{what}: tshark with the TKs");
            // The protected SA Query (a robust management frame): the
            // management AAD and nonce of each cipher.
            assert_eq!(
                tshark_count(&pcap, &keys, "wlan.fixed.category_code == 8"),
                cap.protected_mgmt,
                "{what}: tshark decrypts the robust management frame"
            );
        }
        // 2. Given the passphrase or PMK, tshark derives the same keys: it
        //    decrypts the unicast datagrams of the first association (and
        //    more where it supports them), all of them among ours.
        let key = wireshark_key(&cap);
        let theirs = tshark_payloads(&pcap, &key);
        let first: Vec<Vec<u8>> = cap.unicast_payloads[..4].to_vec();
        let tshark_derives = a != 0x000F_AC18;
        if tshark_derives {
            for p in &first {
                assert!(
                    theirs.contains(p),
                    "{what}: tshark did not decrypt {:?} with {key}",
                    String::from_utf8_lossy(p)
                );
            }
        }
        for p in &theirs {
            assert!(
                want.contains(p),
                "{what}: tshark decrypted a datagram we did not"
            );
        }
        // 3. plugsniff imports the same file and decrypts at least as much.
        let kf = tmp.path().join("80211_keys");
        std::fs::write(&kf, &key).unwrap();
        let nets = plugsniff::cli::config::load_wireshark_keys(kf.to_str().unwrap()).unwrap();
        let (_, ours) = run(&cap, nets);
        for p in &theirs {
            assert!(ours.contains(p), "{what}: ours from the Wireshark key file");
        }
        if akm::source(a) == Some(KeySource::Psk) || !akm::params(a, 32).is_some_and(|p| p.ft) {
            assert_eq!(ours, want, "{what}: ours from the Wireshark key file");
        }
    }
}

/// The small captures committed under `captures/` are what the generator
/// makes today (see captures/README.md for the commands).
#[test]
fn committed_network_captures_are_reproducible() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    for (file, akm, cipher) in COMMITTED {
        let cap = network::build(&NetworkSpec::new(*akm, *cipher));
        let bytes = std::fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(
            bytes,
            plugsniff::synth::scenario::pcap_bytes(&cap.frames),
            "{file}: regenerate with the command in captures/README.md"
        );
    }
}

const COMMITTED: &[(&str, u32, Cipher)] = &[
    ("wpa3-sae-gcmp256.pcap", 0x000F_AC08, Cipher::Gcmp256),
    ("wpa3-suiteb192-gcmp256.pcap", 0x000F_AC0C, Cipher::Gcmp256),
    ("owe-ccmp.pcap", 0x000F_AC12, Cipher::Ccmp),
    ("ft-psk-roam-ccmp.pcap", 0x000F_AC04, Cipher::Ccmp),
    ("wpa2-psk-ccmp256.pcap", 0x000F_AC02, Cipher::Ccmp256),
    ("wpa2-psk-gcmp.pcap", 0x000F_AC02, Cipher::Gcmp),
];
