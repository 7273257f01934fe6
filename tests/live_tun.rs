//! Live capture without a radio: a TUN device with radiotap link type, in a
//! network namespace the test creates, fed by `tests/support/tun_replay.py`.
//! libpcap delivers each frame with DLT 127, as from a monitor-mode card.
//! `watch -i` must produce the same events as `watch -r` on the same file,
//! stop cleanly on SIGTERM with flushed outputs, and report no libpcap drops.
//! A TAP device (Ethernet, DLT 1) fed a real wired capture stands for a wired
//! interface. libpcap is the machine's, loaded at run time.
//!
//! Needs root, `ip`, `python3` and /dev/net/tun: skipped with a message where
//! absent, a failure under `CI=true`.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Netns(String);

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn can_run() -> bool {
    let root = nix::unistd::Uid::effective().is_root();
    let tun = std::path::Path::new("/dev/net/tun").exists();
    let ip = Command::new("ip").arg("-V").output().is_ok();
    let py = Command::new("python3").arg("-V").output().is_ok();
    if root && tun && ip && py {
        return true;
    }
    let why = format!("root={root} /dev/net/tun={tun} ip={ip} python3={py}");
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true but the live TUN test cannot run: {why}");
    }
    eprintln!("SKIP: live TUN test needs root, ip, python3, /dev/net/tun ({why})");
    false
}

fn netns(tag: &str) -> Netns {
    let name = format!("psniff-{tag}-{}", std::process::id());
    let _ = Command::new("ip")
        .args(["netns", "del", &name])
        .stderr(Stdio::null())
        .status();
    let st = Command::new("ip")
        .args(["netns", "add", &name])
        .status()
        .unwrap();
    assert!(st.success(), "ip netns add");
    Netns(name)
}

fn normalise(line: &str) -> Option<serde_json::Value> {
    let mut v: serde_json::Value = serde_json::from_str(line).ok()?;
    if v["event"] == "summary" {
        return None;
    }
    let o = v.as_object_mut()?;
    // Capture times differ between the file and the live replay.
    for k in ["ts", "latency_ms", "duration_s", "mean_interval_s"] {
        o.remove(k);
    }
    Some(v)
}

struct Replay {
    py: Child,
    out: BufReader<std::process::ChildStdout>,
}

fn start_replay(ns: &Netns, dev: &str, file: &str) -> Replay {
    start_replay_args(ns, dev, file, &[])
}

fn start_replay_args(ns: &Netns, dev: &str, file: &str, extra: &[&str]) -> Replay {
    start_replay_opts(ns, &[], dev, file, extra)
}

/// `flags` go before the device name (`--tap`, `--arphrd N`).
fn start_replay_opts(ns: &Netns, flags: &[&str], dev: &str, file: &str, extra: &[&str]) -> Replay {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/tun_replay.py");
    let mut py = Command::new("ip")
        .args(["netns", "exec", &ns.0, "python3", script])
        .args(flags)
        .args([dev, file])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(py.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready", "tun_replay.py did not start");
    Replay { py, out }
}

/// Runs `watch -i` on a replay of `file`; returns (stdout lines, stderr).
fn live_watch(
    tag: &str,
    file: &str,
    extra: &[&str],
    outputs: &std::path::Path,
) -> (Vec<String>, String) {
    live_watch_opts(tag, &[], "ptun0", file, extra, outputs)
}

/// As [`live_watch`], with `tun_replay.py` flags and device name.
fn live_watch_opts(
    tag: &str,
    replay_flags: &[&str],
    dev: &str,
    file: &str,
    extra: &[&str],
    outputs: &std::path::Path,
) -> (Vec<String>, String) {
    let ns = netns(tag);
    let mut rp = start_replay_opts(&ns, replay_flags, dev, file, &[]);
    let jsonl = outputs.join("events.jsonl");
    let pcap = outputs.join("decrypted.pcap");
    let mut ps = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.0,
            env!("CARGO_BIN_EXE_plugsniff"),
            "watch",
            "-i",
            dev,
            "--json",
        ])
        .args(["--status-interval", "1", "--jsonl"])
        .arg(&jsonl)
        .arg("-w")
        .arg(&pcap)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = ps.stdout.take().unwrap();
    let out_thread = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });
    let mut err = BufReader::new(ps.stderr.take().unwrap());
    // Wait until the capture is open.
    let mut stderr_text = String::new();
    let t0 = Instant::now();
    loop {
        let mut l = String::new();
        if err.read_line(&mut l).unwrap() == 0 {
            panic!("plugsniff exited before capturing: {stderr_text}");
        }
        stderr_text.push_str(&l);
        if l.contains("capturing on") {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "no 'capturing on': {stderr_text}"
        );
    }
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        for l in err.lines().map_while(Result::ok) {
            s.push_str(&l);
            s.push('\n');
        }
        s
    });
    writeln!(rp.py.stdin.as_mut().unwrap(), "go").unwrap();
    let mut done = String::new();
    rp.out.read_line(&mut done).unwrap();
    assert!(done.starts_with("done"), "replay: {done}");
    // Let the pipeline drain (batches are cut after 20 ms), then SIGTERM.
    std::thread::sleep(Duration::from_millis(1500));
    let st = Command::new("kill")
        .args(["-TERM", &ps.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let status = ps.wait().unwrap();
    drop(rp.py.stdin.take());
    let _ = rp.py.wait();
    let lines = out_thread.join().unwrap();
    stderr_text.push_str(&err_thread.join().unwrap());
    assert!(status.success(), "plugsniff exit {status:?}: {stderr_text}");
    (lines, stderr_text)
}

fn file_watch(file: &str, extra: &[&str]) -> Vec<String> {
    let o = Command::new(env!("CARGO_BIN_EXE_plugsniff"))
        .args(["watch", "-r", file, "--json"])
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Records in a classic little-endian pcap file (what `-w` writes): the
/// 24-byte file header, then 16-byte record headers with `incl_len` at 8..12.
fn pcap_records(path: &std::path::Path) -> usize {
    let b = std::fs::read(path).unwrap();
    assert_eq!(
        b.get(..4),
        Some(&[0xd4, 0xc3, 0xb2, 0xa1][..]),
        "pcap magic"
    );
    let (mut off, mut n) = (24usize, 0);
    while let Some(h) = b.get(off..off + 16) {
        let incl = u32::from_le_bytes([h[8], h[9], h[10], h[11]]) as usize;
        off += 16 + incl;
        assert!(off <= b.len(), "torn record {n}");
        n += 1;
    }
    assert_eq!(off, b.len(), "trailing bytes");
    n
}

fn final_counter(stderr: &str, name: &str) -> u64 {
    let line = stderr
        .lines()
        .rev()
        .find(|l| l.contains("plugsniff: final"))
        .expect("final status line");
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} missing in {line}"))
}

#[test]
fn live_tun_replay_of_demo_matches_file() {
    if !can_run() {
        return;
    }
    let dir = env!("CARGO_MANIFEST_DIR");
    let file = format!("{dir}/captures/demo.pcapng");
    let cfg = format!("{dir}/captures/demo.toml");
    let tmp = tempfile::tempdir().unwrap();
    let (live, stderr) = live_watch("demo", &file, &["--config", &cfg], tmp.path());
    let want: Vec<_> = file_watch(&file, &["--config", &cfg])
        .iter()
        .filter_map(|l| normalise(l))
        .collect();
    let got: Vec<_> = live.iter().filter_map(|l| normalise(l)).collect();
    assert_eq!(
        got, want,
        "live events differ from the file's\nstderr: {stderr}"
    );
    // Accounting, no libpcap drops, final outputs flushed.
    assert_eq!(final_counter(&stderr, "captured"), 424, "{stderr}");
    assert_eq!(final_counter(&stderr, "processed"), 424);
    assert_eq!(final_counter(&stderr, "pcap_drop"), 0);
    assert_eq!(final_counter(&stderr, "shed_load"), 0);
    let events = std::fs::read_to_string(tmp.path().join("events.jsonl")).unwrap();
    assert!(
        events
            .lines()
            .last()
            .unwrap()
            .contains("\"event\":\"summary\"")
    );
    let n = pcap_records(&tmp.path().join("decrypted.pcap"));
    assert!(
        n > 40,
        "decrypted pcap has {n} frames (46: each MSDU of the demo once)"
    );
    // A status line was printed while running.
    assert!(stderr.contains("plugsniff: status") || stderr.contains("plugsniff: final"));
}

#[test]
fn live_tun_replay_of_real_capture_matches_file() {
    if !can_run() {
        return;
    }
    let Some(shared) = common::shared_captures() else {
        return;
    };
    let file = shared
        .join("wpa-eap-tls.pcap")
        .to_str()
        .unwrap()
        .to_string();
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("eap.toml");
    std::fs::write(
        &cfg,
        "[[network]]\npmk = \"a5001e18e0b3f792278825bc3abff72d7021d7c157b600470ef730e2490835d4\"\n\
         [[network]]\npmk = \"79258f6ceeecedd3482b92deaabdb675f09bcb4003ef5074f5ddb10a94ebe00a\"\n\
         [[network]]\npmk = \"23a9ee58c7810546ae3e7509fda9f97435778d689e53a54891c56d02f18ca162\"\n",
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap().to_string();
    let (live, stderr) = live_watch("real", &file, &["--config", &cfg], tmp.path());
    let want: Vec<_> = file_watch(&file, &["--config", &cfg])
        .iter()
        .filter_map(|l| normalise(l))
        .collect();
    let got: Vec<_> = live.iter().filter_map(|l| normalise(l)).collect();
    assert_eq!(got, want);
    assert_eq!(final_counter(&stderr, "captured"), 86);
    assert_eq!(final_counter(&stderr, "decrypted"), 61);
    assert_eq!(final_counter(&stderr, "pcap_drop"), 0);
}

#[test]
fn monitor_mode_refused_and_missing_interface() {
    if !can_run() {
        return;
    }
    let ns = netns("mon");
    let mut rp = start_replay(
        &ns,
        "ptun1",
        concat!(env!("CARGO_MANIFEST_DIR"), "/captures/demo.pcapng"),
    );
    let o = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.0,
            env!("CARGO_BIN_EXE_plugsniff"),
            "watch",
            "-i",
            "ptun1",
            "--monitor",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.to_lowercase().contains("monitor mode"), "{err}");
    assert!(err.contains("docs/hardware.md"), "{err}");
    drop(rp.py.stdin.take());
    let _ = rp.py.wait();
    let o = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.0,
            env!("CARGO_BIN_EXE_plugsniff"),
            "watch",
            "-i",
            "nosuch0",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    // Loopback (DLT 1) is a wired link: watch opens it as one, and
    // --duration ends the run although nothing arrives (Linux libpcap does not
    // return from an idle read on its timeout; the pipeline breaks it).
    let _ = Command::new("ip")
        .args(["netns", "exec", &ns.0, "ip", "link", "set", "lo", "up"])
        .status();
    let o = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.0,
            env!("CARGO_BIN_EXE_plugsniff"),
            "watch",
            "-i",
            "lo",
            "--duration",
            "0.5",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("capturing on lo (EN10MB"), "{err}");
    assert!(err.contains("lo is a wired link (EN10MB)"), "{err}");
    // A link type that is neither 802.11 nor a wired one plugsniff decodes
    // (ARPHRD_IEEE802154, DLT 230): refused, naming both.
    let mut rp = start_replay_opts(
        &ns,
        &["--arphrd", "804"],
        "ptun2",
        concat!(env!("CARGO_MANIFEST_DIR"), "/captures/demo.pcapng"),
        &[],
    );
    let o = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.0,
            env!("CARGO_BIN_EXE_plugsniff"),
            "watch",
            "-i",
            "ptun2",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    drop(rp.py.stdin.take());
    let _ = rp.py.wait();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains("link type 230"), "{err}");
    assert!(
        err.contains("not a monitor-mode interface nor a wired link"),
        "{err}"
    );
}

/// A wired interface: a TAP device (Ethernet) replaying the real HS110
/// capture. `watch -i` reports the messages `watch -r` reports, in the same
/// order, and every other event too. Only the order of the cloud-link events
/// may differ: a flow's idle expiry is measured in capture time, and the
/// replay compresses the capture's 20 minutes into a fraction of a second, so
/// expired flows are reported at other points of the stream.
#[test]
fn live_wired_replay_of_hs110_matches_file() {
    if !can_run() {
        return;
    }
    let Some(shared) = common::shared_captures() else {
        return;
    };
    let file = shared
        .join("kasa-hs110-wired.pcapng")
        .to_str()
        .unwrap()
        .to_string();
    let tmp = tempfile::tempdir().unwrap();
    let (live, stderr) = live_watch_opts("wired", &["--tap"], "ptap0", &file, &[], tmp.path());
    assert!(stderr.contains("capturing on ptap0 (EN10MB"), "{stderr}");
    assert!(stderr.contains("ptap0 is a wired link"), "{stderr}");
    let want: Vec<_> = file_watch(&file, &[])
        .iter()
        .filter_map(|l| normalise(l))
        .collect();
    let got: Vec<_> = live.iter().filter_map(|l| normalise(l)).collect();
    let messages = |v: &[serde_json::Value]| -> Vec<serde_json::Value> {
        v.iter()
            .filter(|e| e["event"] == "message")
            .cloned()
            .collect()
    };
    // tshark's TP-Link dissector: 10 TCP + 31 UDP messages.
    assert_eq!(messages(&want).len(), 41);
    assert_eq!(messages(&got), messages(&want), "stderr: {stderr}");
    let sorted = |v: &[serde_json::Value]| {
        let mut s: Vec<String> = v.iter().map(|e| e.to_string()).collect();
        s.sort();
        s
    };
    assert_eq!(sorted(&got), sorted(&want));
    assert_eq!(final_counter(&stderr, "captured"), 888, "{stderr}");
    assert_eq!(final_counter(&stderr, "processed"), 888);
    assert_eq!(final_counter(&stderr, "pcap_drop"), 0);
    assert_eq!(final_counter(&stderr, "shed_load"), 0);
}

/// `-f` on a live interface is compiled for it and set in the kernel: only
/// the matching frames are captured at all (none is counted `filtered`), and
/// the events are those of `watch -r` with the same filter.
#[test]
fn live_filter_is_set_on_the_interface() {
    if !can_run() {
        return;
    }
    let dir = env!("CARGO_MANIFEST_DIR");
    let file = format!("{dir}/captures/demo.pcapng");
    let cfg = format!("{dir}/captures/demo.toml");
    let args = ["--config", &cfg, "-f", "wlan type data"];
    let tmp = tempfile::tempdir().unwrap();
    let (live, stderr) = live_watch("filter", &file, &args, tmp.path());
    let want: Vec<_> = file_watch(&file, &args)
        .iter()
        .filter_map(|l| normalise(l))
        .collect();
    let got: Vec<_> = live.iter().filter_map(|l| normalise(l)).collect();
    assert_eq!(got, want, "stderr: {stderr}");
    // The demo's 303 data frames (tshark: wlan.fc.type == 2) of 424.
    assert_eq!(final_counter(&stderr, "captured"), 303, "{stderr}");
    assert_eq!(final_counter(&stderr, "filtered"), 0);
    assert_eq!(final_counter(&stderr, "pcap_drop"), 0);
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Soak: the demo replayed in a loop as fast as the device takes it, for
/// `PLUGSNIFF_SOAK_SECS` (default 10) seconds, through the daemon. Memory
/// stays flat, the accounting identity holds, libpcap drops are reported.
#[test]
fn soak_daemon_memory_flat_and_accounting_holds() {
    if !can_run() {
        return;
    }
    let secs: u64 = std::env::var("PLUGSNIFF_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let ns = netns("soak");
    let dev = "psoak0";
    let dir = env!("CARGO_MANIFEST_DIR");
    let mut rp = start_replay_args(
        &ns,
        dev,
        &format!("{dir}/captures/demo.pcapng"),
        &[&secs.to_string()],
    );
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("daemon.toml");
    let jsonl = tmp.path().join("events.jsonl");
    let demo_key = std::fs::read_to_string(format!("{dir}/captures/demo.toml")).unwrap();
    std::fs::write(
        &cfg,
        format!(
            "{demo_key}\n[capture]\ninterface = \"{dev}\"\n[output]\njsonl = \"{}\"\nstatus_interval = 1\n",
            jsonl.display()
        ),
    )
    .unwrap();
    let mut ps = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.0,
            env!("CARGO_BIN_EXE_plugsniff"),
            "daemon",
            "--config",
        ])
        .arg(&cfg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(ps.stderr.take().unwrap());
    let mut stderr_text = String::new();
    loop {
        let mut l = String::new();
        assert!(
            err.read_line(&mut l).unwrap() > 0,
            "daemon exited: {stderr_text}"
        );
        stderr_text.push_str(&l);
        if l.contains("capturing on") {
            break;
        }
    }
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        for l in err.lines().map_while(Result::ok) {
            s.push_str(&l);
            s.push('\n');
        }
        s
    });
    writeln!(rp.py.stdin.as_mut().unwrap(), "go").unwrap();
    std::thread::sleep(Duration::from_secs_f64(secs as f64 * 0.3));
    let early = rss_kib(ps.id());
    // SIGHUP mid-run: outputs reopened, nothing lost.
    assert!(
        Command::new("kill")
            .args(["-HUP", &ps.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let mut done = String::new();
    rp.out.read_line(&mut done).unwrap();
    let late = rss_kib(ps.id());
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        Command::new("kill")
            .args(["-TERM", &ps.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let status = ps.wait().unwrap();
    drop(rp.py.stdin.take());
    let _ = rp.py.wait();
    stderr_text.push_str(&err_thread.join().unwrap());
    assert!(status.success(), "{stderr_text}");
    let replayed: u64 = done
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let captured = final_counter(&stderr_text, "captured");
    let processed = final_counter(&stderr_text, "processed");
    let shed = final_counter(&stderr_text, "shed_load");
    let _pcap_drop = final_counter(&stderr_text, "pcap_drop");
    eprintln!(
        "soak {secs} s: replayed {replayed}, captured {captured}, shed {shed}, RSS {early} → {late} KiB"
    );
    assert_eq!(captured, processed + shed, "accounting identity");
    assert!(captured > 1000, "{stderr_text}");
    assert!(late < 256 * 1024, "RSS {late} KiB");
    assert!(
        late <= early + 32 * 1024,
        "memory grew from {early} to {late} KiB"
    );
    assert!(
        stderr_text.matches("plugsniff: status").count() >= 2,
        "periodic status lines"
    );
    let events = std::fs::read_to_string(&jsonl).unwrap();
    assert!(events.lines().last().unwrap().contains("\"summary\""));
}
