//! Secrets never leave the process except where the user asked for them.
//!
//! Runs the real binary (`decrypt` and `watch`, with `-vvv` trace logging) on
//! `captures/demo.pcapng` and greps every output stream for the passphrase,
//! the PMK, every temporal key and the cloud account password the demo's
//! `cnCloud.bind` carries in the clear (masked unless `--show-secrets`). The
//! keys are derived here through the library, independently of the binary.
//! Also: `Debug` of the secret types, config errors on a file holding a
//! secret, and the mode of the files written (0600).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use plugsniff::capture::FileSource;
use plugsniff::engine::{Engine, NullSink};
use plugsniff::wpa::handshake::{NetworkSecret, Secret};
use plugsniff::wpa::kdf::{self, PtkKdf};
use plugsniff::wpa::keys::{Cipher, Passphrase, TemporalKey};

const SSID: &str = "plugsniff-demo";
const PASSPHRASE: &str = "correct horse battery";
const CLOUD_PASSWORD: &str = "hunter2-demo";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn demo() -> String {
    root().join("captures/demo.pcapng").display().to_string()
}

fn config() -> String {
    root().join("captures/demo.toml").display().to_string()
}

/// Every secret of the demo, as the strings that must not appear:
/// (what, needle). Hex in both cases.
fn secrets() -> Vec<(String, String)> {
    let pass = Passphrase::new(PASSPHRASE.into());
    let pmk = kdf::pmk_from_passphrase(&pass, SSID.as_bytes());
    let mut v = vec![
        ("passphrase".to_string(), PASSPHRASE.to_string()),
        ("cloud password".to_string(), CLOUD_PASSWORD.to_string()),
        ("PMK".to_string(), pmk.to_hex_secret()),
    ];
    // Every key the engine installs on the demo.
    let mut e = Engine::new(vec![NetworkSecret {
        ssid: Some(SSID.as_bytes().to_vec()),
        secret: Secret::Passphrase(pass),
    }]);
    let mut src = FileSource::open(&demo()).unwrap();
    let kind = src.kind;
    while let Some(f) = src.next_frame().unwrap() {
        e.process(f.ts, kind, f.data, f.orig_len, &mut NullSink);
    }
    let hist = e.keys.history();
    assert!(hist.len() >= 5, "3 pairwise + 2 group keys expected");
    for k in hist {
        v.push((
            format!("TK of {} / {:?} id {}", k.bssid, k.sta, k.key_id),
            k.tk.to_hex_secret(),
        ));
    }
    let upper: Vec<_> = v
        .iter()
        .filter(|(w, _)| w.starts_with("TK") || w == "PMK")
        .map(|(w, n)| (format!("{w} (upper case)"), n.to_uppercase()))
        .collect();
    v.extend(upper);
    v
}

fn run(args: &[&str]) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_plugsniff"))
        .args(args)
        .env_remove("PLUGSNIFF_PASSPHRASE")
        .env("NO_COLOR", "1")
        // Everything the crate and its dependencies would log, whatever -v says.
        .env("PLUGSNIFF_LOG", "trace")
        .output()
        .unwrap();
    let so = String::from_utf8_lossy(&out.stdout).into_owned();
    let se = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{args:?} failed:\n{se}");
    (so, se)
}

fn assert_clean(what: &str, text: &str, secrets: &[(String, String)]) {
    for (name, needle) in secrets {
        assert!(!text.contains(needle.as_str()), "{what} shows the {name}");
    }
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn full_runs_never_print_secrets() {
    let secrets = secrets();
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("out.pcap");
    let keys = dir.path().join("keys.txt");
    let (demo, config) = (demo(), config());

    let runs: Vec<Vec<&str>> = vec![
        vec![
            "decrypt",
            &demo,
            "--config",
            &config,
            "-o",
            pcap.to_str().unwrap(),
            "--export-keys",
            keys.to_str().unwrap(),
            "-vvv",
        ],
        vec!["decrypt", &demo, "--config", &config, "--json", "-vvv"],
        vec!["-vvv", "watch", "-r", &demo, "--config", &config],
        vec![
            "watch",
            "-r",
            &demo,
            "--config",
            &config,
            "--show-json",
            "-vvv",
        ],
        vec!["watch", "-r", &demo, "--config", &config, "--json", "-vvv"],
    ];
    for args in &runs {
        let (so, se) = run(args);
        assert_clean(&format!("{args:?} stdout"), &so, &secrets);
        assert_clean(&format!("{args:?} stderr"), &se, &secrets);
        if args.contains(&"watch") {
            // The leak is reported, masked.
            assert!(
                so.contains("alice@example.com"),
                "{args:?}: leak not reported"
            );
        }
    }

    // The decrypted pcap holds plaintext traffic (the cloud password is in
    // it: that is the point of decrypting), never key material.
    let written = std::fs::read(&pcap).unwrap();
    let hay = String::from_utf8_lossy(&written);
    assert_clean(
        "decrypted pcap",
        &hay,
        &secrets
            .iter()
            .filter(|(w, _)| w != "cloud password")
            .cloned()
            .collect::<Vec<_>>(),
    );
    // Files that may hold secrets are private.
    assert_eq!(mode(&pcap), 0o600, "decrypted pcap mode");
    assert_eq!(mode(&keys), 0o600, "exported keys mode");
    // The export is the one place TKs are written, on request.
    let exported = std::fs::read_to_string(&keys).unwrap();
    assert!(
        secrets
            .iter()
            .any(|(w, n)| w.starts_with("TK") && exported.contains(n.as_str()))
    );

    // --show-secrets does show the cloud password (so the grep above means
    // something), and only it.
    let (so, _) = run(&["watch", "-r", &demo, "--config", &config, "--show-secrets"]);
    assert!(so.contains(CLOUD_PASSWORD));
}

#[test]
fn passphrase_on_the_command_line_is_not_echoed() {
    let secrets = secrets();
    let demo = demo();
    let (so, se) = run(&[
        "decrypt",
        &demo,
        "--ssid",
        SSID,
        "--passphrase",
        PASSPHRASE,
        "--no-prompt",
        "-vvv",
    ]);
    assert_clean("stdout", &so, &secrets);
    assert_clean("stderr", &se, &secrets);
}

#[test]
fn config_errors_never_echo_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "s3cret-passphrase-in-a-broken-file";
    for (i, text) in [
        format!("[[network]]\nssid = \"x\"\npassphrase = \"{secret}\" junk\n"),
        format!("[[network]]\nssid = \"x\"\npassphrase = \"{secret}\"\npsk = \"{secret}\"\n"),
        format!("[[network]]\nssid = \"x\"\npassphrase = \"{secret}\"\nunknown = 1\n"),
        format!("[[network]]\npmk = \"{secret}\"\n"),
        format!("[[network]]\npassphrase = \"{secret}\u{1}\"\n"),
    ]
    .iter()
    .enumerate()
    {
        let p = dir.path().join(format!("bad{i}.toml"));
        std::fs::write(&p, text).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_plugsniff"))
            .args(["decrypt", &demo(), "--config", p.to_str().unwrap(), "-vvv"])
            .output()
            .unwrap();
        assert!(!out.status.success(), "bad config {i} accepted");
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !all.contains(secret),
            "config error {i} echoes the secret:\n{all}"
        );
        assert!(!all.contains("s3cret"), "config error {i}:\n{all}");
        // And through the library.
        if let Err(e) = plugsniff::cli::config::ConfigFile::parse("x.toml", text)
            .and_then(|c| c.networks("x.toml"))
        {
            assert!(!format!("{e} {e:?}").contains("s3cret"), "{e:?}");
        }
    }
}

#[test]
fn debug_of_secret_types_shows_no_bytes() {
    let pass = Passphrase::new(PASSPHRASE.into());
    let pmk = kdf::pmk_from_passphrase(&pass, SSID.as_bytes());
    let pmk_hex = pmk.to_hex_secret();
    let ptk = kdf::derive_ptk(
        &pmk,
        PtkKdf::Sha1Prf,
        &plugsniff::wire::MacAddr([2; 6]),
        &plugsniff::wire::MacAddr([4; 6]),
        &[1; 32],
        &[3; 32],
        Cipher::Ccmp,
    );
    let tk = TemporalKey::new(Cipher::Ccmp, &[0xc5; 16]).unwrap();
    let tkip = TemporalKey::new(Cipher::Tkip, &[0x7e; 32]).unwrap();
    let net_pass = NetworkSecret {
        ssid: Some(SSID.as_bytes().to_vec()),
        secret: Secret::Passphrase(pass.clone()),
    };
    let net_pmk = NetworkSecret {
        ssid: None,
        secret: Secret::Pmk(pmk.clone()),
    };
    let hexes = |b: &[u8]| vec![hex::encode(b), hex::encode_upper(b), format!("{b:?}")];
    let mut needles = vec![PASSPHRASE.to_string(), pmk_hex.clone()];
    needles.extend(hexes(&ptk.kck));
    needles.extend(hexes(&ptk.kek));
    needles.extend(hexes(ptk.tk.as_slice()));
    needles.extend(hexes(tk.as_slice()));
    needles.extend(hexes(tkip.as_slice()));
    needles.extend(hexes(pmk.as_bytes()));
    // Decimal byte lists of the first bytes, as a derived Debug would print.
    needles.push(format!("{}, {}, {}", ptk.kck[0], ptk.kck[1], ptk.kck[2]));
    needles.push("197, 197, 197".into()); // 0xc5
    needles.push("126, 126, 126".into()); // 0x7e
    for (what, s) in [
        ("Passphrase", format!("{pass:?}")),
        ("Pmk", format!("{pmk:?}")),
        ("Ptk", format!("{ptk:?} {ptk:#?}")),
        ("TemporalKey", format!("{tk:?} {tk:#?} {tkip:?}")),
        ("NetworkSecret", format!("{net_pass:?} {net_pmk:#?}")),
        (
            "Secret list",
            format!("{:?}", vec![net_pass.clone(), net_pmk.clone()]),
        ),
        (
            "CcmpKey",
            format!("{:?}", plugsniff::crypto::ccmp::CcmpKey::new(tk.key16())),
        ),
    ] {
        for n in &needles {
            assert!(!s.contains(n.as_str()), "Debug of {what} shows {n}: {s}");
        }
    }
}
