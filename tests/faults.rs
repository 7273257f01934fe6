//! Faults: a full disk for outputs, an unreadable config, a corrupted pcapng
//! block, a pipe closed mid-record, the live interface vanishing mid-capture.
//! Each gives a clear message and a documented exit code; files already
//! written stay valid.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_plugsniff"));
    c.stdin(Stdio::null()).env_remove("PLUGSNIFF_PASSPHRASE");
    c
}

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/captures/demo.pcapng");
const DEMO_CFG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/captures/demo.toml");

/// The demo capture's blocks as (offset, block type), walking the
/// little-endian pcapng block lengths (pcapng draft §3.1).
fn pcapng_blocks(b: &[u8]) -> Vec<(usize, u32)> {
    let mut out = Vec::new();
    let mut o = 0;
    while o + 8 <= b.len() {
        let t = u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
        let len = u32::from_le_bytes(b[o + 4..o + 8].try_into().unwrap()) as usize;
        assert!(
            len >= 12 && len.is_multiple_of(4),
            "demo.pcapng block at {o}"
        );
        out.push((o, t));
        o += len;
    }
    out
}

/// Records in a finished pcap file: it opens and reads to the end cleanly.
fn records(p: &std::path::Path) -> usize {
    match plugsniff::capture::file::read_all(p) {
        Ok((_, frames)) => frames.len(),
        Err(e) => panic!("{}: {e}", p.display()),
    }
}

/// A pcapng Enhanced Packet Block whose length field is corrupted halfway
/// through the file: the frames before it are processed and written, the
/// output pcap is complete, the exit code is 1 with libpcap's reason.
#[test]
fn corrupt_pcapng_block_keeps_what_was_read_and_exits_1() {
    let mut b = std::fs::read(DEMO).unwrap();
    let epbs: Vec<usize> = pcapng_blocks(&b)
        .into_iter()
        .filter(|&(_, t)| t == 6)
        .map(|(o, _)| o)
        .collect();
    let all = epbs.len();
    let bad = epbs[all / 2];
    b[bad + 4..bad + 8].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("bad.pcapng");
    std::fs::write(&input, &b).unwrap();
    let out = tmp.path().join("out.pcap");
    let o = bin()
        .args([
            "decrypt",
            input.to_str().unwrap(),
            "--config",
            DEMO_CFG,
            "-o",
        ])
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("read error after {} frames", all / 2)),
        "{err}"
    );
    assert!(err.contains("block size"), "{err}");
    let n = records(&out);
    assert!(n > 0 && n < all, "{n} of {all} records");
}

/// A producer that dies mid-record (`tcpdump -w - | plugsniff …` killed):
/// the truncated stream is a read error after the complete records, for
/// decrypt (its output pcap complete) and for watch (its events and summary
/// still written).
#[test]
fn pipe_closed_mid_record_keeps_what_was_read_and_exits_1() {
    let b = std::fs::read(DEMO).unwrap();
    let epbs: Vec<usize> = pcapng_blocks(&b)
        .into_iter()
        .filter(|&(_, t)| t == 6)
        .map(|(o, _)| o)
        .collect();
    let cut = epbs[epbs.len() / 2] + 30;
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out.pcap");
    let jsonl = tmp.path().join("events.jsonl");
    let runs: [Vec<std::ffi::OsString>; 2] = [
        vec![
            "decrypt".into(),
            "-".into(),
            "--config".into(),
            DEMO_CFG.into(),
            "-o".into(),
            out.clone().into(),
        ],
        vec![
            "watch".into(),
            "-r".into(),
            "-".into(),
            "--config".into(),
            DEMO_CFG.into(),
            "--jsonl".into(),
            jsonl.clone().into(),
        ],
    ];
    for args in runs {
        let mut child = bin()
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        {
            let mut w = child.stdin.take().unwrap();
            w.write_all(&b[..cut]).unwrap();
        } // closed mid-record
        let o = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains(&format!("-: read error after {} frames", epbs.len() / 2))
                && err.contains("truncated"),
            "{args:?}: {err}"
        );
    }
    let n = records(&out);
    assert!(n > 0 && n < epbs.len(), "{n} records");
    let events = std::fs::read_to_string(&jsonl).unwrap();
    let last: serde_json::Value =
        serde_json::from_str(events.lines().last().expect("events written")).unwrap();
    assert_eq!(last["event"], "summary", "{events}");
    assert!(events.contains("\"event\":\"message\""), "{events}");
}

#[test]
fn example_config_in_docs_parses() {
    let p = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/plugsniff.toml");
    let c = plugsniff::cli::config::ConfigFile::load(p).unwrap();
    assert_eq!(c.networks(p).unwrap().len(), 1);
    assert_eq!(c.capture.unwrap().interface, "mon0");
    assert!(c.output.unwrap().jsonl.is_some());
}

/// The event file cannot be written (a file-size limit, as a full disk):
/// exit 4 with the reason. (`--jsonl /dev/full` is refused now: a device is
/// never an output, tests/outputs.rs.)
#[test]
fn write_failure_for_event_file_exits_4() {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("events.jsonl");
    let o = Command::new("bash")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 1; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_plugsniff"))
        .args(["watch", "-r", DEMO, "--config", DEMO_CFG, "--jsonl"])
        .arg(&jsonl)
        .stdin(Stdio::null())
        .env_remove("PLUGSNIFF_PASSPHRASE")
        .output();
    let Ok(o) = o else {
        eprintln!("SKIP: no bash");
        return;
    };
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(4), "{err}");
    assert!(err.contains("File too large"), "{err}");
}

#[test]
fn unreadable_config_exits_2() {
    let o = bin()
        .args([
            "watch",
            "-r",
            DEMO,
            "--config",
            "/nonexistent/plugsniff.toml",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/plugsniff.toml"));
}

fn is_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}

fn need_root(what: &str) -> bool {
    if is_root() {
        return true;
    }
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "CI=true but not root: {what} cannot run"
    );
    eprintln!("SKIP: {what} needs root");
    false
}

/// A decrypted pcap that hits a full disk: exit 4, and the final name never
/// holds a torn file (it is written as NAME.partial and renamed at the end).
#[test]
fn full_disk_for_decrypted_pcap_never_leaves_a_torn_file() {
    if !need_root("tmpfs full-disk test") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let st = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4k", "tmpfs"])
        .arg(dir.path())
        .status();
    if !st.is_ok_and(|s| s.success()) {
        // Mounting needs CAP_SYS_ADMIN, which some containers withhold even from root.
        eprintln!("SKIP: cannot mount a tmpfs here");
        return;
    }
    let out = dir.path().join("out.pcap");
    let o = bin()
        .args(["decrypt", DEMO, "--config", DEMO_CFG, "-o"])
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    let exists = out.exists();
    let partial = dir.path().join("out.pcap.partial").exists();
    let _ = Command::new("umount").arg(dir.path()).status();
    assert_eq!(o.status.code(), Some(4), "{err}");
    assert!(err.contains("No space left"), "{err}");
    assert!(!exists, "a torn file under the final name");
    assert!(!partial, "the .partial was left behind on the full disk");
}

/// The live interface disappears mid-capture: exit 1 with a clear message,
/// and the events seen so far were written.
#[test]
fn interface_vanishing_mid_capture_exits_1() {
    if !need_root("live interface test") {
        return;
    }
    if Command::new("python3").arg("-V").output().is_err()
        || !std::path::Path::new("/dev/net/tun").exists()
    {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "CI=true but no python3 or /dev/net/tun"
        );
        eprintln!("SKIP: needs python3 and /dev/net/tun");
        return;
    }
    let ns = format!("psniff-gone-{}", std::process::id());
    let _ = Command::new("ip")
        .args(["netns", "del", &ns])
        .stderr(Stdio::null())
        .status();
    assert!(
        Command::new("ip")
            .args(["netns", "add", &ns])
            .status()
            .unwrap()
            .success()
    );
    struct Del(String);
    impl Drop for Del {
        fn drop(&mut self) {
            let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
        }
    }
    let _guard = Del(ns.clone());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/tun_replay.py");
    let mut py = Command::new("ip")
        .args(["netns", "exec", &ns, "python3", script, "gone0", DEMO])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pyout = BufReader::new(py.stdout.take().unwrap());
    let mut l = String::new();
    pyout.read_line(&mut l).unwrap();
    assert_eq!(l.trim(), "ready");
    let tmp = tempfile::tempdir().unwrap();
    let jsonl = tmp.path().join("e.jsonl");
    let mut ps = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns,
            env!("CARGO_BIN_EXE_plugsniff"),
            "watch",
            "-i",
            "gone0",
            "--json",
        ])
        .args(["--config", DEMO_CFG, "--jsonl"])
        .arg(&jsonl)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(ps.stderr.take().unwrap());
    let mut text = String::new();
    loop {
        let mut l = String::new();
        if err.read_line(&mut l).unwrap() == 0 {
            break;
        }
        text.push_str(&l);
        if l.contains("capturing on") {
            break;
        }
    }
    writeln!(py.stdin.as_mut().unwrap(), "go").unwrap();
    l.clear();
    pyout.read_line(&mut l).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    // Closing the TUN fd removes the interface.
    drop(py.stdin.take());
    let _ = py.wait();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut rest = String::new();
        for l in err.lines().map_while(Result::ok) {
            rest.push_str(&l);
            rest.push('\n');
        }
        let _ = tx.send(rest);
    });
    let status = ps.wait().unwrap();
    text.push_str(&rx.recv_timeout(Duration::from_secs(10)).unwrap_or_default());
    assert_eq!(status.code(), Some(1), "{text}");
    assert!(text.contains("gone0"), "{text}");
    let events = std::fs::read_to_string(&jsonl).unwrap();
    assert!(
        events.contains("\"event\":\"message\""),
        "events seen before the loss were written"
    );
    assert!(events.lines().last().unwrap().contains("\"summary\""));
}
