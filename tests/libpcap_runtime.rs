//! libpcap loaded at run time: what a machine without it is told, and BPF
//! filters (`-f`) on capture files, matched frame by frame with
//! `pcap_offline_filter` and checked against tshark's count of the same
//! frames (an independent dissector, display filters instead of BPF).
//!
//! `PLUGSNIFF_LIBPCAP` replaces the library search, so pointing it at a
//! missing file shows a machine without libpcap even where it is installed.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::shared_captures;

const MISSING: &str = "/nonexistent/libpcap.so";
const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/captures/demo.pcapng");
const DEMO_KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/captures/demo.toml");

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_plugsniff"));
    c.env_remove("PLUGSNIFF_PASSPHRASE")
        .env_remove("PLUGSNIFF_PMK")
        .env_remove("PLUGSNIFF_LIBPCAP")
        .stdin(Stdio::null());
    c
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The machine's libpcap is needed to compile filters; absent → skip (a
/// failure under CI, whose script installs it).
fn have_libpcap() -> bool {
    match plugsniff::capture::libpcap::Libpcap::get() {
        Ok(_) => true,
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true but libpcap is missing: {e}")
        }
        Err(e) => {
            eprintln!("SKIP: {e}");
            false
        }
    }
}

/// Frames of `file` matching a tshark display filter, or `None` without
/// tshark (a failure under CI).
fn tshark_count(file: &Path, display_filter: &str) -> Option<usize> {
    let o = match Command::new("tshark")
        .args(["-r"])
        .arg(file)
        .args(["-Y", display_filter])
        .stderr(Stdio::null())
        .output()
    {
        Ok(o) if o.status.success() => o,
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true but tshark is not usable")
        }
        _ => {
            eprintln!("skipping the tshark cross-check: tshark not found");
            return None;
        }
    };
    Some(String::from_utf8_lossy(&o.stdout).lines().count())
}

/// `watch -r FILE --json` with `extra`: (events without the summary, the
/// final status line).
fn watch_file(file: &Path, extra: &[&str]) -> (Vec<serde_json::Value>, String) {
    let o = bin()
        .args(["watch", "-r"])
        .arg(file)
        .args(["--json", "--status-interval", "3600"])
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let events = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["event"] != "summary")
        .collect();
    let err = stderr(&o);
    let fin = err
        .lines()
        .find(|l| l.starts_with("plugsniff: final "))
        .unwrap_or_else(|| panic!("no final status line: {err}"))
        .to_string();
    (events, fin)
}

fn counter(status: &str, name: &str) -> u64 {
    status
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} missing in {status}"))
}

fn count_events(events: &[serde_json::Value], kind: &str) -> usize {
    events.iter().filter(|e| e["event"] == kind).count()
}

#[test]
fn without_libpcap_live_capture_exits_3_naming_the_package() {
    let o = bin()
        .env("PLUGSNIFF_LIBPCAP", MISSING)
        .args(["watch", "-i", "lo"])
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains("live capture needs libpcap"), "{err}");
    assert!(err.contains(&format!("tried {MISSING}: ")), "{err}");
    assert!(
        err.contains("Debian/Ubuntu `apt install libpcap0.8`"),
        "{err}"
    );
    assert!(err.contains("Fedora `dnf install libpcap`"), "{err}");
    // The variable replaced the search: the system library was not tried.
    assert!(!err.contains("libpcap.so.1"), "{err}");
}

#[test]
fn without_libpcap_a_filter_on_a_file_exits_2_and_files_still_read() {
    let o = bin()
        .env("PLUGSNIFF_LIBPCAP", MISSING)
        .args(["watch", "-r", DEMO, "-f", "tcp"])
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("-f needs libpcap to compile BPF filters"),
        "{err}"
    );
    assert!(err.contains(MISSING) && err.contains("libpcap0.8"), "{err}");
    let o = bin()
        .env("PLUGSNIFF_LIBPCAP", MISSING)
        .args(["decrypt", DEMO, "--config", DEMO_KEYS, "-f", "tcp"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("-f needs libpcap"));
    // Without -f a file needs no run-time libpcap.
    let o = bin()
        .env("PLUGSNIFF_LIBPCAP", MISSING)
        .args(["watch", "-r", DEMO, "--config", DEMO_KEYS])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn filter_on_a_radiotap_file_passes_only_matching_frames() {
    if !have_libpcap() {
        return;
    }
    let demo = Path::new(DEMO);
    let keys = ["--config", DEMO_KEYS];
    let (all, all_status) = watch_file(demo, &keys);
    assert_eq!(counter(&all_status, "filtered"), 0);
    let captured = counter(&all_status, "captured");
    // Every event of the demo comes from data frames (keys from the
    // config, not from beacons): the same events, fewer frames processed.
    let (data, status) = watch_file(demo, &[&keys[..], &["-f", "wlan type data"]].concat());
    assert_eq!(data, all);
    assert!(count_events(&data, "message") > 0);
    let passed = counter(&status, "processed");
    assert_eq!(counter(&status, "captured"), captured);
    assert_eq!(passed + counter(&status, "filtered"), captured);
    assert_eq!(passed, 303);
    if let Some(n) = tshark_count(demo, "wlan.fc.type == 2") {
        assert_eq!(passed as usize, n, "tshark counts the data frames");
    }
    // The complement: no data frame, so no handshake and no message.
    let (none, status) = watch_file(demo, &[&keys[..], &["-f", "not wlan type data"]].concat());
    assert_eq!(count_events(&none, "handshake"), 0);
    assert_eq!(count_events(&none, "message"), 0);
    assert_eq!(counter(&status, "filtered"), passed);
    // -c counts frames that passed the filter, as tcpdump's does.
    let (_, status) = watch_file(
        demo,
        &[&keys[..], &["-f", "wlan type data", "-c", "5"]].concat(),
    );
    assert_eq!(counter(&status, "processed"), 5, "{status}");
    assert_eq!(
        counter(&status, "captured"),
        5 + counter(&status, "filtered"),
        "{status}"
    );
}

#[test]
fn bad_filter_is_a_usage_error_naming_the_expression() {
    if !have_libpcap() {
        return;
    }
    for cmd in [
        &["watch", "-r", DEMO][..],
        &["decrypt", DEMO, "--config", DEMO_KEYS][..],
    ] {
        let o = bin().args(cmd).args(["-f", "garbage(("]).output().unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{cmd:?}: {err}");
        assert!(err.contains("filter \"garbage((\""), "{err}");
        assert!(err.contains("syntax error"), "{err}");
        assert!(err.contains("link type 127 (IEEE802_11_RADIO)"), "{err}");
        assert!(o.stdout.is_empty(), "nothing run: {cmd:?}");
    }
}

#[test]
fn filter_on_the_wired_hs110_capture_matches_tshark() {
    if !have_libpcap() {
        return;
    }
    let Some(dir) = shared_captures() else { return };
    let file = dir.join("kasa-hs110-wired.pcapng");
    for (bpf, transport, frames_filter) in [
        ("tcp port 9999", "tcp", "tcp.port == 9999"),
        ("udp port 9999", "udp", "udp.port == 9999"),
    ] {
        let (events, status) = watch_file(&file, &["-f", bpf]);
        let messages: Vec<_> = events.iter().filter(|e| e["event"] == "message").collect();
        assert!(!messages.is_empty(), "{bpf}");
        assert!(
            messages.iter().all(|m| m["transport"] == transport),
            "{bpf}: only {transport} messages"
        );
        // The README's tshark figures: 10 TCP + 31 UDP messages.
        assert_eq!(messages.len(), if transport == "tcp" { 10 } else { 31 });
        if let Some(n) = tshark_count(&file, &format!("tplink-smarthome && {transport}")) {
            assert_eq!(messages.len(), n, "{bpf}: tshark's TP-Link messages");
        }
        if let Some(n) = tshark_count(&file, frames_filter) {
            assert_eq!(counter(&status, "processed") as usize, n, "{bpf}: frames");
        }
        assert_eq!(count_events(&events, "cloud_link"), 0, "{bpf}");
    }
}

#[test]
fn decrypt_reads_only_the_frames_the_filter_matches() {
    if !have_libpcap() {
        return;
    }
    let Some(dir) = shared_captures() else { return };
    let file = dir.join("wpa2-psk-linksys.cap");
    let run = |filter: &[&str]| -> (serde_json::Value, String) {
        let json = bin()
            .env("PLUGSNIFF_PASSPHRASE", "dictionary")
            .arg("decrypt")
            .arg(&file)
            .args(["--ssid", "linksys", "--json"])
            .args(filter)
            .output()
            .unwrap();
        assert!(json.status.success(), "{}", stderr(&json));
        let text = bin()
            .env("PLUGSNIFF_PASSPHRASE", "dictionary")
            .arg("decrypt")
            .arg(&file)
            .args(["--ssid", "linksys"])
            .args(filter)
            .output()
            .unwrap();
        (
            serde_json::from_slice::<serde_json::Value>(&json.stdout).unwrap()["frames"].clone(),
            String::from_utf8_lossy(&text.stdout).into_owned(),
        )
    };
    let (all, _) = run(&[]);
    let (data, text) = run(&["-f", "wlan type data"]);
    assert_eq!(data["decrypted"], all["decrypted"]);
    assert_eq!(data["decrypted"], 30);
    let read = data["read"].as_u64().unwrap();
    assert!(read < all["read"].as_u64().unwrap());
    if let Some(n) = tshark_count(&file, "wlan.fc.type == 2") {
        assert_eq!(read as usize, n, "tshark counts the data frames");
    }
    assert!(
        text.contains(&format!(
            "filter \"wlan type data\": {read} of {} frames matched",
            all["read"]
        )),
        "{text}"
    );
    let (mgmt, _) = run(&["-f", "not wlan type data"]);
    assert_eq!(mgmt["decrypted"], 0);
    assert_eq!(
        mgmt["read"].as_u64().unwrap() + read,
        all["read"].as_u64().unwrap()
    );
}
