//! Exit code 5 (issue 12, item 7): keys were given, handshakes were seen,
//! and every MIC failed. `decrypt` and `watch -r` still write their summary,
//! then exit 5 with advice that names the passphrase or SSID (never "no
//! handshake … power-cycle the plug": the handshake was there). On the
//! bundled demo (synthetic) and on a real capture of `../shared/captures`.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/captures/demo.pcapng");
const DEMO_CFG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/captures/demo.toml");

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_plugsniff"))
        .args(args)
        .stdin(Stdio::null())
        .env_remove("PLUGSNIFF_PASSPHRASE")
        .env_remove("PLUGSNIFF_PMK")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn config(dir: &Path, ssid: &str, pass: &str) -> String {
    let p = dir.join(format!("{ssid}-{}.toml", pass.len()));
    std::fs::write(
        &p,
        format!("[[network]]\nssid = \"{ssid}\"\npassphrase = \"{pass}\"\n"),
    )
    .unwrap();
    p.to_str().unwrap().to_string()
}

/// Both subcommands on `capture` with a wrong and the right key.
fn check(capture: &str, wrong: &str, right: &str, handshakes: &str, stations: &str) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.pcap");
    let out = out.to_str().unwrap();
    for args in [
        vec!["decrypt", capture, "-o", out, "--config", wrong],
        vec!["watch", "-r", capture, "--config", wrong],
    ] {
        let o = run(&args);
        let (stdout, stderr) = (text(&o.stdout), text(&o.stderr));
        assert_eq!(o.status.code(), Some(5), "{args:?}\n{stdout}\n{stderr}");
        assert!(
            stdout.contains("MIC mismatch: wrong passphrase or SSID") && stdout.contains("frames:"),
            "{args:?}: the summary is written first\n{stdout}"
        );
        assert!(
            stderr.contains(&format!(
                "{handshakes} handshake(s) seen from {stations} station(s), every MIC failed: the passphrase or SSID is wrong"
            )),
            "{args:?}\n{stderr}"
        );
        assert!(
            !stdout.contains("power-cycle"),
            "{args:?}: wrong advice\n{stdout}"
        );
    }
    assert!(
        Path::new(out).exists(),
        "decrypt still finishes its (empty) pcap"
    );
    // `watch` advises about the passphrase, per station.
    let o = run(&["watch", "-r", capture, "--config", wrong]);
    assert!(
        text(&o.stdout).contains("every MIC failed: the passphrase or SSID is wrong"),
        "{}",
        text(&o.stdout)
    );
    for args in [
        vec!["decrypt", capture, "-o", out, "--config", right],
        vec!["watch", "-r", capture, "--config", right],
    ] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(0), "{args:?}\n{}", text(&o.stderr));
    }
}

#[test]
fn wrong_passphrase_on_the_demo_exits_5() {
    let dir = tempfile::tempdir().unwrap();
    let wrong = config(dir.path(), "plugsniff-demo", "not the passphrase");
    check(DEMO, &wrong, DEMO_CFG, "7", "7");
    // A wrong SSID is the same failure.
    let wrong_ssid = config(dir.path(), "another-network", "correct horse battery");
    let o = run(&["decrypt", DEMO, "--config", &wrong_ssid]);
    assert_eq!(o.status.code(), Some(5), "{}", text(&o.stderr));
    // No key at all: only unencrypted traffic is decoded, exit 0 (a warning
    // says so); exit 5 needs keys that were tried and failed.
    let o = run(&["watch", "-r", DEMO, "--no-prompt"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
}

#[test]
fn wrong_passphrase_on_a_real_capture_exits_5() {
    let Some(dir) = common::shared_captures() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let cap = dir.join("wpa2-psk-linksys.cap");
    let wrong = config(tmp.path(), "linksys", "not-dictionary");
    let right = config(tmp.path(), "linksys", "dictionary");
    check(cap.to_str().unwrap(), &wrong, &right, "3", "1");
    // Keys given, but a capture without any handshake: nothing to confirm.
    let wired = dir.join("kasa-hs110-wired.pcapng");
    let o = run(&["watch", "-r", wired.to_str().unwrap(), "--config", &wrong]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
}
