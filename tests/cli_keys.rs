//! The new key forms through the binary: `synth network`, then `decrypt`
//! with a Wireshark `80211_keys` file (`--wireshark-keys`), with a config
//! naming it (`wireshark_keys`), with `[[key]] tk`, with a 48-byte PMK in
//! `PLUGSNIFF_PMK`; `--export-keys` read back; no key in any output stream.

use std::path::Path;
use std::process::{Command, Stdio};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_plugsniff"));
    c.env_remove("PLUGSNIFF_PASSPHRASE")
        .env_remove("PLUGSNIFF_PMK");
    c.stdin(Stdio::null());
    c
}

/// `synth network`: writes the capture, returns the printed key lines.
fn synth(dir: &Path, akm: u8, cipher: &str) -> (std::path::PathBuf, Vec<String>) {
    let p = dir.join(format!("akm{akm}-{cipher}.pcap"));
    let o = bin()
        .args([
            "synth",
            "network",
            "--akm",
            &akm.to_string(),
            "--cipher",
            cipher,
            "-o",
        ])
        .arg(&p)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with('"'))
        .map(str::to_owned)
        .collect();
    (p, lines)
}

fn decrypt_json(
    args: &[&str],
    input: &Path,
    env: Option<(&str, &str)>,
) -> (serde_json::Value, String) {
    let mut c = bin();
    c.arg("decrypt")
        .arg(input)
        .args(args)
        .args(["--json", "--no-prompt"]);
    if let Some((k, v)) = env {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{all}");
    (serde_json::from_slice(&o.stdout).unwrap(), all)
}

fn key_hex(line: &str) -> &str {
    line.split('"').nth(3).unwrap()
}

#[test]
fn wireshark_key_file_and_config_forms() {
    let tmp = tempfile::tempdir().unwrap();
    // Suite B 192: a 48-byte PMK as Wireshark's wpa-psk.
    let (cap, keys) = synth(tmp.path(), 12, "gcmp256");
    let psk = keys.iter().find(|l| l.starts_with("\"wpa-psk\"")).unwrap();
    let kf = tmp.path().join("80211_keys");
    std::fs::write(&kf, format!("# from synth\n{psk}\n")).unwrap();
    let (v, out) = decrypt_json(&["--wireshark-keys", kf.to_str().unwrap()], &cap, None);
    assert_eq!(v["frames"]["decrypted"], 6, "{v}");
    assert_eq!(v["networks"][0]["stations"][0]["akm"], "802.1X Suite B 192");
    assert!(!out.contains(key_hex(psk)));
    // The same through a config naming the file (relative to the config).
    let cfg = tmp.path().join("p.toml");
    std::fs::write(&cfg, "wireshark_keys = \"80211_keys\"\n").unwrap();
    let (v, _) = decrypt_json(&["--config", cfg.to_str().unwrap()], &cap, None);
    assert_eq!(v["frames"]["decrypted"], 6);
    // PLUGSNIFF_PMK takes 48 bytes.
    let (v, out) = decrypt_json(&[], &cap, Some(("PLUGSNIFF_PMK", key_hex(psk))));
    assert_eq!(v["frames"]["decrypted"], 6);
    assert!(!out.contains(key_hex(psk)));
    // Raw TKs only, in the config's [[key]] table: every data frame, no handshake used.
    let tks: Vec<&str> = keys
        .iter()
        .filter(|l| l.starts_with("\"tk\""))
        .map(|l| key_hex(l))
        .collect();
    let body: String = tks
        .iter()
        .map(|t| format!("[[key]]\ntk = \"{t}\"\nbssid = \"02:5a:00:00:00:01\"\n"))
        .collect();
    std::fs::write(&cfg, body).unwrap();
    let exported = tmp.path().join("exported_keys");
    let (v, out) = decrypt_json(
        &[
            "--config",
            cfg.to_str().unwrap(),
            "--export-keys",
            exported.to_str().unwrap(),
        ],
        &cap,
        None,
    );
    assert_eq!(v["frames"]["decrypted"], 6, "{v}");
    for t in &tks {
        assert!(!out.contains(t));
    }
    // --export-keys writes the TKs back as Wireshark tk lines, which plugsniff reads.
    let (v, _) = decrypt_json(
        &["--wireshark-keys", exported.to_str().unwrap()],
        &cap,
        None,
    );
    assert_eq!(v["frames"]["decrypted"], 6);
}

#[test]
fn sae_without_its_pmk_is_explained() {
    let tmp = tempfile::tempdir().unwrap();
    let (cap, _) = synth(tmp.path(), 8, "ccmp");
    let cfg = tmp.path().join("p.toml");
    std::fs::write(
        &cfg,
        "[[network]]\nssid = \"plugsniff-synth\"\npassphrase = \"synthetic passphrase\"\n",
    )
    .unwrap();
    let o = bin()
        .arg("decrypt")
        .arg(&cap)
        .args(["--config", cfg.to_str().unwrap(), "--no-prompt"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("SAE (WPA3-Personal, AKM 8 SAE)"), "{text}");
    assert!(text.contains("wpa_cli pmksa"), "{text}");
}

#[test]
fn bad_key_files_name_the_line_not_the_secret() {
    let tmp = tempfile::tempdir().unwrap();
    let (cap, _) = synth(tmp.path(), 2, "ccmp");
    let kf = tmp.path().join("80211_keys");
    std::fs::write(
        &kf,
        "\"wpa-pwd\",\"supersecret:ssid\"\n\"wpa-psk\",\"abcdsecret\"\n",
    )
    .unwrap();
    let o = bin()
        .arg("decrypt")
        .arg(&cap)
        .args(["--wireshark-keys", kf.to_str().unwrap(), "--no-prompt"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("line 2"), "{err}");
    assert!(!err.contains("secret"), "{err}");
}
