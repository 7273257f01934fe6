//! No output ever destroys data (issue 12, item 5), end to end through the
//! binary: an output that is an input (same path, symlink, hard link,
//! standard input, the config file), a device node, a directory, a symlinked
//! `.partial`, two outputs on one file, all refused with exit 2 before
//! anything is read, the input byte-identical; secret files 0600 even over a
//! 0644 file; no `.partial` after a failed write or an interrupt; `-o -`
//! read back by tshark; FIFOs written directly.

use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/captures/demo.pcapng");
const DEMO_CFG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/captures/demo.toml");

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_plugsniff"));
    c.stdin(Stdio::null())
        .env_remove("PLUGSNIFF_PASSPHRASE")
        .env_remove("PLUGSNIFF_PMK");
    c
}

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn is_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}

/// A tool the test needs: present, or skip (a failure under `CI=true`).
fn have(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !ok {
        assert!(!ci(), "CI=true but {tool} is not installed");
        eprintln!("SKIP: {tool} is not installed");
    }
    ok
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A copy of the demo capture and its config in a fresh directory.
struct Fixture {
    dir: tempfile::TempDir,
    input: PathBuf,
    cfg: PathBuf,
    original: Vec<u8>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.pcapng");
    std::fs::copy(DEMO, &input).unwrap();
    let cfg = dir.path().join("demo.toml");
    std::fs::copy(DEMO_CFG, &cfg).unwrap();
    let original = std::fs::read(&input).unwrap();
    Fixture {
        dir,
        input,
        cfg,
        original,
    }
}

impl Fixture {
    fn p(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    /// The three names of the input: itself, a symlink, a hard link.
    fn aliases(&self) -> Vec<PathBuf> {
        let sym = self.p("sym.pcapng");
        let hard = self.p("hard.pcapng");
        if !sym.exists() {
            std::os::unix::fs::symlink(&self.input, &sym).unwrap();
            std::fs::hard_link(&self.input, &hard).unwrap();
        }
        vec![self.input.clone(), sym, hard]
    }
    fn assert_intact(&self, what: &str) {
        assert_eq!(
            std::fs::read(&self.input).unwrap(),
            self.original,
            "{what}: the input was modified"
        );
        assert!(
            !self.p("in.pcapng.partial").exists(),
            "{what}: a .partial was created"
        );
    }
}

fn assert_refused(o: &Output, flag: &str, what: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "{what}: {err}");
    assert!(
        err.contains(&format!("refusing {flag}")),
        "{what}: the message names the option and the path: {err}"
    );
    assert!(!err.contains("panicked"), "{what}: {err}");
}

#[test]
fn decrypt_onto_its_input_is_refused_and_the_input_kept() {
    let f = fixture();
    for out in f.aliases() {
        let o = run(&["decrypt", s(&f.input), "-o", s(&out), "--config", s(&f.cfg)]);
        assert_refused(&o, "-o", &format!("-o {}", out.display()));
        assert!(
            stderr(&o).contains("same file as the capture"),
            "{}",
            stderr(&o)
        );
        f.assert_intact(&format!("decrypt -o {}", out.display()));
    }
    // The config file and the Wireshark key file are inputs too.
    let keys = f.p("80211_keys");
    std::fs::write(
        &keys,
        "\"wpa-pwd\",\"correct horse battery:plugsniff-demo\"\n",
    )
    .unwrap();
    let cfg_before = std::fs::read(&f.cfg).unwrap();
    for out in [&f.cfg, &keys] {
        let o = run(&[
            "decrypt",
            s(&f.input),
            "-o",
            s(out),
            "--config",
            s(&f.cfg),
            "--wireshark-keys",
            s(&keys),
        ]);
        assert_refused(&o, "-o", "-o onto a key file");
    }
    assert_eq!(std::fs::read(&f.cfg).unwrap(), cfg_before);
}

#[test]
fn decrypt_from_stdin_onto_that_file_is_refused() {
    let f = fixture();
    let o = bin()
        .args(["decrypt", "-", "-o", s(&f.input), "--config", s(&f.cfg)])
        .stdin(std::fs::File::open(&f.input).unwrap())
        .output()
        .unwrap();
    assert_refused(&o, "-o", "decrypt - -o IN < IN");
    assert!(stderr(&o).contains("standard input"), "{}", stderr(&o));
    f.assert_intact("decrypt - -o IN < IN");
}

#[test]
fn watch_w_onto_its_input_is_refused() {
    let f = fixture();
    for out in f.aliases() {
        let o = run(&[
            "watch",
            "-r",
            s(&f.input),
            "-w",
            s(&out),
            "--config",
            s(&f.cfg),
        ]);
        assert_refused(&o, "-w", &format!("-w {}", out.display()));
        f.assert_intact(&format!("watch -w {}", out.display()));
    }
    // A rotated name of -w is the input: rotation would move it away.
    let rotated = f.p("d.pcap.1");
    std::fs::copy(&f.input, &rotated).unwrap();
    let o = run(&[
        "watch",
        "-r",
        s(&rotated),
        "-w",
        s(&f.p("d.pcap")),
        "--config",
        s(&f.cfg),
    ]);
    assert_refused(&o, "-w", "-w whose rotated name is the input");
    assert_eq!(std::fs::read(&rotated).unwrap(), f.original);
}

#[test]
fn jsonl_onto_an_input_is_refused() {
    let f = fixture();
    let mut outs = f.aliases();
    outs.push(f.cfg.clone());
    let cfg_before = std::fs::read(&f.cfg).unwrap();
    for out in outs {
        let o = run(&[
            "watch",
            "-r",
            s(&f.input),
            "--jsonl",
            s(&out),
            "--config",
            s(&f.cfg),
        ]);
        assert_refused(&o, "--jsonl", &format!("--jsonl {}", out.display()));
        f.assert_intact(&format!("--jsonl {}", out.display()));
    }
    assert_eq!(std::fs::read(&f.cfg).unwrap(), cfg_before);
}

#[test]
fn export_keys_onto_an_input_is_refused() {
    let f = fixture();
    let cfg_link = f.p("cfg-hard.toml");
    std::fs::hard_link(&f.cfg, &cfg_link).unwrap();
    let cfg_before = std::fs::read(&f.cfg).unwrap();
    let mut outs = f.aliases();
    outs.push(cfg_link);
    for out in outs {
        let o = run(&[
            "decrypt",
            s(&f.input),
            "--export-keys",
            s(&out),
            "--config",
            s(&f.cfg),
        ]);
        assert_refused(
            &o,
            "--export-keys",
            &format!("--export-keys {}", out.display()),
        );
        f.assert_intact(&format!("--export-keys {}", out.display()));
    }
    assert_eq!(std::fs::read(&f.cfg).unwrap(), cfg_before);
}

#[test]
fn two_outputs_on_one_file_are_refused() {
    let f = fixture();
    let out = f.p("out");
    let o = run(&[
        "decrypt",
        s(&f.input),
        "-o",
        s(&out),
        "--export-keys",
        s(&out),
        "--config",
        s(&f.cfg),
    ]);
    assert_refused(&o, "--export-keys", "-o X --export-keys X");
    assert!(!out.exists());
    let o = run(&[
        "watch",
        "-r",
        s(&f.input),
        "-w",
        s(&out),
        "--jsonl",
        s(&out),
        "--config",
        s(&f.cfg),
    ]);
    assert_refused(&o, "-w", "--jsonl X -w X");
    assert!(!out.exists());
}

#[test]
fn a_character_device_is_refused_and_stays_a_device() {
    if !is_root() {
        assert!(!ci(), "CI=true but not root: mknod needs root");
        eprintln!("SKIP: creating a device node needs root");
        return;
    }
    let f = fixture();
    let node = f.p("null-node");
    let st = Command::new("mknod")
        .arg(&node)
        .args(["c", "1", "3"])
        .status()
        .unwrap();
    assert!(st.success(), "mknod failed");
    let rdev = std::fs::metadata(&node).unwrap().rdev();
    let link = f.p("node-link");
    std::os::unix::fs::symlink(&node, &link).unwrap();
    let runs: Vec<(&str, Vec<String>)> = vec![
        (
            "-o",
            vec!["decrypt".into(), s(&f.input).into(), "-o".into()],
        ),
        (
            "-w",
            vec!["watch".into(), "-r".into(), s(&f.input).into(), "-w".into()],
        ),
        (
            "--jsonl",
            vec![
                "watch".into(),
                "-r".into(),
                s(&f.input).into(),
                "--jsonl".into(),
            ],
        ),
        (
            "--export-keys",
            vec!["decrypt".into(), s(&f.input).into(), "--export-keys".into()],
        ),
    ];
    for (flag, args) in &runs {
        for target in [&node, &link] {
            let o = bin()
                .args(args)
                .arg(target)
                .args(["--config", s(&f.cfg)])
                .output()
                .unwrap();
            assert_refused(&o, flag, &format!("{flag} onto a device node"));
            assert!(stderr(&o).contains("character device"), "{}", stderr(&o));
            let m = std::fs::symlink_metadata(&node).unwrap();
            assert!(
                m.file_type().is_char_device(),
                "{flag}: the node was replaced"
            );
            assert_eq!(m.rdev(), rdev);
        }
    }
}

#[test]
fn a_directory_is_refused() {
    let f = fixture();
    let d = f.p("outdir");
    std::fs::create_dir(&d).unwrap();
    let o = run(&["decrypt", s(&f.input), "-o", s(&d), "--config", s(&f.cfg)]);
    assert_refused(&o, "-o", "-o DIR");
    assert!(stderr(&o).contains("directory"), "{}", stderr(&o));
    let o = run(&[
        "watch",
        "-r",
        s(&f.input),
        "--jsonl",
        s(&d),
        "--config",
        s(&f.cfg),
    ]);
    assert_refused(&o, "--jsonl", "--jsonl DIR");
    assert!(d.is_dir() && std::fs::read_dir(&d).unwrap().next().is_none());
}

#[test]
fn a_partial_name_that_is_not_a_regular_file_is_refused() {
    let f = fixture();
    let victim = f.p("victim");
    std::fs::write(&victim, b"precious").unwrap();
    let out = f.p("out.pcap");
    std::os::unix::fs::symlink(&victim, f.p("out.pcap.partial")).unwrap();
    let o = run(&["decrypt", s(&f.input), "-o", s(&out), "--config", s(&f.cfg)]);
    assert_refused(&o, "-o", "-o X with X.partial a symlink");
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert!(!out.exists());
    // X.partial being the input itself.
    let base = f.p("in");
    std::fs::rename(&f.input, f.p("in.partial")).unwrap();
    let o = run(&[
        "decrypt",
        s(&f.p("in.partial")),
        "-o",
        s(&base),
        "--config",
        s(&f.cfg),
    ]);
    assert_refused(&o, "-o", "-o X with X.partial the input");
    assert_eq!(std::fs::read(f.p("in.partial")).unwrap(), f.original);
}

#[test]
fn a_symlink_to_a_file_is_written_through_and_kept() {
    let f = fixture();
    let real = f.p("real.pcap");
    std::fs::write(&real, b"old").unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o644)).unwrap();
    let link = f.p("link.pcap");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let o = run(&[
        "decrypt",
        s(&f.input),
        "-o",
        s(&link),
        "--config",
        s(&f.cfg),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        std::fs::symlink_metadata(&link).unwrap().is_symlink(),
        "the link was replaced"
    );
    let (_, frames) = plugsniff::capture::file::read_all(&real).unwrap();
    assert_eq!(frames.len(), 149, "each MSDU of the demo once");
    assert_eq!(std::fs::metadata(&real).unwrap().mode() & 0o777, 0o600);
}

#[test]
fn export_keys_over_a_world_readable_file_ends_0600() {
    let f = fixture();
    let keys = f.p("keys");
    std::fs::write(&keys, "old\n").unwrap();
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = run(&[
        "decrypt",
        s(&f.input),
        "--export-keys",
        s(&keys),
        "--config",
        s(&f.cfg),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let m = std::fs::metadata(&keys).unwrap();
    assert_eq!(
        m.mode() & 0o777,
        0o600,
        "exported keys must not stay world-readable"
    );
    let text = std::fs::read_to_string(&keys).unwrap();
    assert!(text.contains("\"tk\""), "{text}");
    // The same for the JSON-lines event log, which is appended to.
    let jsonl = f.p("events.jsonl");
    std::fs::write(&jsonl, "").unwrap();
    std::fs::set_permissions(&jsonl, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = run(&[
        "watch",
        "-r",
        s(&f.input),
        "--jsonl",
        s(&jsonl),
        "--config",
        s(&f.cfg),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(std::fs::metadata(&jsonl).unwrap().mode() & 0o777, 0o600);
}

/// Runs plugsniff under `bash` with a file-size limit (RLIMIT_FSIZE) and
/// SIGXFSZ ignored, so a write past the limit fails with EFBIG.
fn run_with_fsize_limit(kib: u32, args: &[&str]) -> Output {
    let mut script = format!("trap '' XFSZ; ulimit -f {kib}; exec \"$0\"");
    for i in 0..args.len() {
        script.push_str(&format!(" \"${}\"", i + 1));
    }
    let mut c = Command::new("bash");
    c.arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_plugsniff"))
        .args(args)
        .stdin(Stdio::null())
        .env_remove("PLUGSNIFF_PASSPHRASE");
    c.output().unwrap()
}

#[test]
fn a_failed_write_leaves_no_partial() {
    if !have("bash") {
        return;
    }
    let f = fixture();
    let out = f.p("out.pcap");
    let o = run_with_fsize_limit(
        4,
        &["decrypt", s(&f.input), "-o", s(&out), "--config", s(&f.cfg)],
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(4), "{err}");
    assert!(
        err.contains("too large") || err.contains("File too large"),
        "{err}"
    );
    assert!(!out.exists(), "a torn file under the final name");
    assert!(
        !f.p("out.pcap.partial").exists(),
        "the .partial was left behind"
    );
    let w = f.p("w.pcap");
    let o = run_with_fsize_limit(
        4,
        &[
            "watch",
            "-r",
            s(&f.input),
            "-w",
            s(&w),
            "--config",
            s(&f.cfg),
        ],
    );
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(
        !f.p("w.pcap.partial").exists(),
        "watch -w left its .partial behind"
    );
    let names: Vec<_> = std::fs::read_dir(f.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(names.iter().all(|n| !n.ends_with(".partial")), "{names:?}");
}

#[test]
fn stdout_pcap_is_read_back_by_tshark() {
    if !have("tshark") {
        return;
    }
    let f = fixture();
    let file = f.p("out.pcap");
    let count = |o: &Output| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .count()
    };
    for (file_args, stdout_args) in [
        (
            vec![
                "decrypt",
                s(&f.input),
                "-o",
                s(&file),
                "--config",
                s(&f.cfg),
            ],
            vec!["decrypt", s(&f.input), "-o", "-", "--config", s(&f.cfg)],
        ),
        (
            vec![
                "watch",
                "-r",
                s(&f.input),
                "-w",
                s(&file),
                "--config",
                s(&f.cfg),
            ],
            vec!["watch", "-r", s(&f.input), "-w", "-", "--config", s(&f.cfg)],
        ),
    ] {
        let o = run(&file_args);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let from_file = Command::new("tshark")
            .arg("-r")
            .arg(&file)
            .output()
            .unwrap();
        assert!(from_file.status.success());
        let n = count(&from_file);
        assert!(n > 40, "{file_args:?}: {n} frames");
        let mut p = bin()
            .args(&stdout_args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let ts = Command::new("tshark")
            .args(["-r", "-"])
            .stdin(p.stdout.take().unwrap())
            .output()
            .unwrap();
        let o = p.wait_with_output().unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(0), "{stdout_args:?}: {err}");
        assert!(
            ts.status.success(),
            "tshark: {}",
            String::from_utf8_lossy(&ts.stderr)
        );
        assert_eq!(
            count(&ts),
            n,
            "{stdout_args:?}: tshark reads the same frames from stdout"
        );
        // Every readable line went to stderr.
        assert!(
            err.contains("frames:"),
            "{stdout_args:?}: the summary goes to stderr: {err}"
        );
    }
}

#[test]
fn json_on_stdout_with_the_pcap_there_is_refused() {
    let f = fixture();
    for args in [
        vec![
            "decrypt",
            s(&f.input),
            "-o",
            "-",
            "--json",
            "--config",
            s(&f.cfg),
        ],
        vec![
            "watch",
            "-r",
            s(&f.input),
            "-w",
            "-",
            "--json",
            "--config",
            s(&f.cfg),
        ],
    ] {
        let o = bin().args(&args).stdout(Stdio::piped()).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(o.stdout.is_empty(), "{args:?}: nothing on stdout");
        assert!(stderr(&o).contains("--json"), "{}", stderr(&o));
    }
}

fn mkfifo(p: &Path) {
    let st = Command::new("mkfifo").arg(p).status().unwrap();
    assert!(st.success(), "mkfifo failed");
}

/// Reads a FIFO to the end on a thread; `None` when nothing opened it for
/// writing within the time (the FIFO was replaced by a regular file).
fn fifo_reader(p: &Path) -> std::sync::mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = std::sync::mpsc::channel();
    let p = p.to_path_buf();
    std::thread::spawn(move || {
        let mut f = std::fs::File::open(&p).unwrap();
        let mut v = Vec::new();
        f.read_to_end(&mut v).unwrap();
        let _ = tx.send(v);
    });
    rx
}

#[test]
fn a_fifo_output_is_written_directly() {
    let f = fixture();
    let file = f.p("out.pcap");
    let o = run(&[
        "decrypt",
        s(&f.input),
        "-o",
        s(&file),
        "--config",
        s(&f.cfg),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let fifo = f.p("out.fifo");
    mkfifo(&fifo);
    let rx = fifo_reader(&fifo);
    let o = run(&[
        "decrypt",
        s(&f.input),
        "-o",
        s(&fifo),
        "--config",
        s(&f.cfg),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let got = rx.recv_timeout(Duration::from_secs(20));
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo(),
        "the FIFO was replaced by a file"
    );
    assert!(!f.p("out.fifo.partial").exists());
    let got = got.expect("nothing was written into the FIFO");
    assert_eq!(
        got,
        std::fs::read(&file).unwrap(),
        "the FIFO carries the same pcap"
    );
}

/// Feeds a FIFO the demo capture and then keeps it open (a writer that has
/// gone quiet), until the returned sender is dropped.
fn quiet_writer(fifo: &Path) -> std::sync::mpsc::Sender<()> {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let p = fifo.to_path_buf();
    std::thread::spawn(move || {
        let mut w = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
        let _ = w.write_all(&std::fs::read(DEMO).unwrap());
        let _ = w.flush();
        let _ = rx.recv_timeout(Duration::from_secs(60));
    });
    tx
}

fn interrupt(child: &std::process::Child) {
    let st = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
}

fn wait_timeout(mut child: std::process::Child, secs: u64) -> std::process::ExitStatus {
    for _ in 0..secs * 10 {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!("plugsniff did not stop within {secs} s of SIGINT");
}

#[test]
fn an_interrupted_decrypt_leaves_no_file() {
    use std::os::unix::process::ExitStatusExt;
    let f = fixture();
    let fifo = f.p("in.fifo");
    mkfifo(&fifo);
    let out = f.p("out.pcap");
    let keys = f.p("keys");
    let child = bin()
        .args([
            "decrypt",
            s(&fifo),
            "-o",
            s(&out),
            "--export-keys",
            s(&keys),
        ])
        .args(["--config", s(&f.cfg)])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _writer = quiet_writer(&fifo);
    // Until the output is being written.
    for _ in 0..100 {
        if f.p("out.pcap.partial").exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        f.p("out.pcap.partial").exists(),
        "decrypt never started writing"
    );
    std::thread::sleep(Duration::from_millis(500));
    interrupt(&child);
    let st = wait_timeout(child, 15);
    assert_eq!(
        st.signal(),
        Some(2),
        "ends by SIGINT, as an interrupted tool does: {st:?}"
    );
    assert!(
        !out.exists(),
        "an interrupted decryption is not the output asked for"
    );
    assert!(
        !f.p("out.pcap.partial").exists(),
        "the .partial was left behind"
    );
    assert!(!keys.exists());
}

#[test]
fn an_interrupted_watch_finishes_its_pcap() {
    let f = fixture();
    let fifo = f.p("in.fifo");
    mkfifo(&fifo);
    let w = f.p("w.pcap");
    let child = bin()
        .args(["watch", "-r", s(&fifo), "-w", s(&w), "--config", s(&f.cfg)])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _writer = quiet_writer(&fifo);
    for _ in 0..100 {
        if f.p("w.pcap.partial").exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(1000));
    interrupt(&child);
    let st = wait_timeout(child, 15);
    assert_eq!(st.code(), Some(0), "{st:?}");
    assert!(
        !f.p("w.pcap.partial").exists(),
        "the .partial was left behind"
    );
    let (dlt, _) = plugsniff::capture::file::read_all(&w).expect("a complete pcap");
    assert_eq!(dlt, 1);
}
