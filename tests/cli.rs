//! The `plugsniff` binary end to end: config file, stdin, FIFO, outputs,
//! exported keys that Wireshark accepts, errors and exit codes, and no secret
//! in any output stream.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::shared_captures;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_plugsniff"));
    c.env_remove("PLUGSNIFF_PASSPHRASE")
        .env_remove("PLUGSNIFF_PMK");
    c.stdin(Stdio::null());
    c
}

fn config(dir: &Path, body: &str) -> std::path::PathBuf {
    static COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let i = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let p = dir.join(format!("plugsniff-{i}.toml"));
    std::fs::write(&p, body).unwrap();
    p
}

fn count_records(p: &Path) -> (i32, usize) {
    let (dlt, frames) = plugsniff::capture::file::read_all(p).unwrap();
    (dlt, frames.len())
}

fn assert_no_secret(out: &Output, secrets: &[&str]) {
    let all = [&out.stdout[..], &out.stderr[..]].concat();
    let text = String::from_utf8_lossy(&all);
    for s in secrets {
        assert!(
            !text.contains(s),
            "secret {s:?} leaked into output:\n{text}"
        );
    }
}

const LINKSYS: &str = "[[network]]\nssid = \"linksys\"\npassphrase = \"dictionary\"\n";

#[test]
fn decrypt_with_config_writes_ethernet_and_80211() {
    let Some(dir) = shared_captures() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path(), LINKSYS);
    let input = dir.join("wpa2-psk-linksys.cap");
    let out_eth = tmp.path().join("eth.pcap");
    let o = bin()
        .args([
            "decrypt",
            input.to_str().unwrap(),
            "-o",
            out_eth.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // 30 decrypted data frames, 4 of them MAC retransmissions: the Ethernet
    // output holds each MSDU once (the 802.11 output below keeps all 30).
    assert_eq!(count_records(&out_eth), (1, 26));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("wrote 26 frames") && text.contains("4 MAC retransmission(s)"),
        "{text}"
    );
    assert!(text.contains("key confirmed"), "{text}");
    assert!(text.contains("no_key 2"), "{text}");
    assert_no_secret(&o, &["dictionary"]);

    let out_wlan = tmp.path().join("wlan.pcap");
    let keys = tmp.path().join("keys");
    let o = bin()
        .args([
            "decrypt",
            input.to_str().unwrap(),
            "--keep-80211",
            "--json",
            "--config",
            cfg.to_str().unwrap(),
        ])
        .arg("-o")
        .arg(&out_wlan)
        .arg("--export-keys")
        .arg(&keys)
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(count_records(&out_wlan), (105, 30));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["frames"]["decrypted"], 30);
    assert_eq!(v["frames"]["balanced"], true);
    assert_eq!(v["networks"][0]["stations"][0]["key_confirmed"], true);
    // The key file holds TKs only, never the passphrase; it is private.
    let k = std::fs::read_to_string(&keys).unwrap();
    assert_eq!(k.lines().filter(|l| l.starts_with("\"tk\",\"")).count(), 4);
    assert!(!k.contains("dictionary"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for p in [&keys, &out_wlan] {
            assert_eq!(
                std::fs::metadata(p).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }
    // Wireshark decrypts the original capture with the exported keys alone.
    if let Some(n) = tshark_with_keys(&input, &k) {
        assert_eq!(n, 30, "tshark with exported keys");
    }
    // No 802.11 frame in the --keep-80211 output is still marked protected.
    if which("tshark") {
        let o = Command::new("tshark")
            .arg("-r")
            .arg(&out_wlan)
            .args(["-Y", "wlan.fc.protected==1"])
            .output()
            .unwrap();
        assert!(String::from_utf8_lossy(&o.stdout).trim().is_empty());
    }
}

fn which(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !ok {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true but {tool} is not installed");
        }
        eprintln!("SKIP: {tool} not installed");
    }
    ok
}

/// Counts the protected frames tshark decrypts with an `80211_keys` file.
fn tshark_with_keys(input: &Path, keys: &str) -> Option<usize> {
    if !which("tshark") {
        return None;
    }
    let conf = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(conf.path().join("wireshark")).unwrap();
    std::fs::write(conf.path().join("wireshark/80211_keys"), keys).unwrap();
    let o = Command::new("tshark")
        .env("XDG_CONFIG_HOME", conf.path())
        .env("HOME", conf.path())
        .arg("-r")
        .arg(input)
        .args([
            "-o",
            "wlan.enable_decryption:TRUE",
            "-Y",
            "wlan.fc.protected==1 && llc",
        ])
        .output()
        .unwrap();
    Some(String::from_utf8_lossy(&o.stdout).lines().count())
}

#[test]
fn reads_stdin_and_fifo() {
    let Some(dir) = shared_captures() else { return };
    let input = dir.join("wpa-psk-linksys.cap");
    let bytes = std::fs::read(&input).unwrap();
    // stdin, passphrase from the environment.
    let mut child = bin()
        .args(["decrypt", "-", "--ssid", "linksys", "--json"])
        .env("PLUGSNIFF_PASSPHRASE", "dictionary")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(&bytes).unwrap();
    }
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["frames"]["decrypted"], 59);
    assert_no_secret(&o, &["dictionary"]);
    // A FIFO.
    #[cfg(unix)]
    {
        let tmp = tempfile::tempdir().unwrap();
        let fifo = tmp.path().join("cap.fifo");
        let st = Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(st.success());
        let f2 = fifo.clone();
        let writer = std::thread::spawn(move || std::fs::write(f2, bytes).unwrap());
        let o = bin()
            .args([
                "decrypt",
                fifo.to_str().unwrap(),
                "--ssid",
                "linksys",
                "--json",
            ])
            .env("PLUGSNIFF_PASSPHRASE", "dictionary")
            .output()
            .unwrap();
        writer.join().unwrap();
        assert!(o.status.success());
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["frames"]["decrypted"], 59);
    }
}

#[test]
fn errors_have_clear_messages_and_exit_codes() {
    let tmp = tempfile::tempdir().unwrap();
    // Not an 802.11 capture: our own Ethernet output.
    let eth = tmp.path().join("eth.pcap");
    let mut w = plugsniff::output::pcap_out::PcapWriter::create(&eth, 1).unwrap();
    w.write(Default::default(), &[0u8; 60]).unwrap();
    w.finish().unwrap();
    let cfg = config(tmp.path(), LINKSYS);
    let o = bin()
        .args([
            "decrypt",
            eth.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("link type 1") && err.contains("EN10MB"),
        "{err}"
    );
    // Bad config: line and column, never the secret.
    let bad = config(
        tmp.path(),
        "[[network]]\npassphrase = \"supersecret1\"\npsk = 5\n",
    );
    let o = bin()
        .args([
            "decrypt",
            eth.to_str().unwrap(),
            "--config",
            bad.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("line 3"));
    assert_no_secret(&o, &["supersecret1"]);
    // No key at all and no terminal: a usage error.
    let o = bin()
        .args(["decrypt", eth.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no key given"));
    // Missing file.
    let o = bin()
        .args([
            "decrypt",
            "/nonexistent.pcap",
            "--config",
            cfg.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    // A missing interface, for watch.
    let o = bin()
        .args(["watch", "-i", "nosuchif0", "-c", "1"])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("nosuchif0"));
}

#[test]
fn plain_passphrase_flag_warns() {
    let Some(dir) = shared_captures() else { return };
    let o = bin()
        .args([
            "decrypt",
            dir.join("wpa.cap").to_str().unwrap(),
            "--ssid",
            "test",
            "--passphrase",
            "biscotte",
        ])
        .output()
        .unwrap();
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("warning"), "{err}");
    assert!(!err.contains("biscotte"));
}

#[test]
fn torn_capture_keeps_what_was_read_and_exits_1() {
    let Some(dir) = shared_captures() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(dir.join("wpa2-psk-linksys.cap")).unwrap();
    let torn = tmp.path().join("torn.cap");
    std::fs::write(&torn, &bytes[..bytes.len() - 7]).unwrap();
    let cfg = config(tmp.path(), LINKSYS);
    let out = tmp.path().join("out.pcap");
    let o = bin()
        .args([
            "decrypt",
            torn.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("read error after 498 frames"));
    // The output written so far is complete and readable.
    let (_, n) = count_records(&out);
    assert!(n >= 25, "{n}");
}

/// A reader that leaves early (`plugsniff decrypt … | head`) is not an
/// error: the output file is complete and the exit code is 0, not a panic.
#[test]
fn closed_stdout_is_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let out = dir.path().join("d.pcap");
    let decrypt: Vec<std::ffi::OsString> = vec![
        "decrypt".into(),
        demo.join("demo.pcapng").into(),
        "--config".into(),
        demo.join("demo.toml").into(),
        "-o".into(),
        out.clone().into(),
    ];
    // The bench's report, whose groups were once written with `print!`.
    let bench: Vec<std::ffi::OsString> = vec!["bench".into(), "--quick".into()];
    for args in [decrypt, bench] {
        let mut child = bin()
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let res = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&res.stderr);
        assert!(res.status.success(), "{args:?}: {:?}: {stderr}", res.status);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    assert!(count_records(&out).1 > 0);
}

/// `decrypt --bssid` / `--ssid` write one network of a capture that holds
/// two (as airdecap-ng's `-b` / `-e`): each selection writes what decrypting
/// that network's own capture writes, and the rest is counted, not written.
#[test]
fn bssid_and_ssid_select_networks() {
    let Some(dir) = shared_captures() else { return };
    if !which("mergecap") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (
        dir.join("wpa2-psk-linksys.cap"),
        dir.join("ping_I_F_BE_AE-fromap.pcapng"),
    );
    let both = tmp.path().join("both.pcapng");
    let st = Command::new("mergecap")
        .arg("-w")
        .arg(&both)
        .arg(&a)
        .arg(&b)
        .status()
        .unwrap();
    assert!(st.success());
    let cfg = config(
        tmp.path(),
        &format!("{LINKSYS}[[network]]\nssid = \"testnetwork\"\npassphrase = \"abcdefgh\"\n"),
    );
    let decrypt = |input: &Path, name: &str, extra: &[&str]| -> (usize, String) {
        let out = tmp.path().join(name);
        let o = bin()
            .arg("decrypt")
            .arg(input)
            .arg("-o")
            .arg(&out)
            .arg("--config")
            .arg(&cfg)
            .args(extra)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        (
            count_records(&out).1,
            String::from_utf8_lossy(&o.stdout).into_owned(),
        )
    };
    let (alone_a, _) = decrypt(&a, "a.pcap", &[]);
    let (alone_b, _) = decrypt(&b, "b.pcap", &[]);
    let (all, _) = decrypt(&both, "all.pcap", &[]);
    assert_eq!(all, alone_a + alone_b);
    let (only_a, said) = decrypt(&both, "only-a.pcap", &["--bssid", "00:0b:86:c2:a4:85"]);
    assert_eq!(only_a, alone_a);
    assert!(said.contains("not selected by --bssid/--ssid"), "{said}");
    let (only_b, _) = decrypt(&both, "only-b.pcap", &["--ssid", "testnetwork"]);
    assert_eq!(only_b, alone_b);
    let (none, _) = decrypt(&both, "none.pcap", &["-b", "02:00:00:00:00:99"]);
    assert_eq!(none, 0);
    // A group address is not a BSSID: a usage error.
    let o = bin()
        .arg("decrypt")
        .arg(&both)
        .args(["--bssid", "ff:ff:ff:ff:ff:ff", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}
