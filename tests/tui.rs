//! `watch --tui` end to end.
//!
//! - Each pane (devices, radio, events, a device's messages) drawn from a
//!   real run over `captures/demo.pcapng` (the run's own `TuiSink` and its
//!   final snapshot) into a ratatui `TestBackend`, compared with
//!   `tests/snapshots/tui-*.txt`. After a deliberate change (or a new demo
//!   capture): `UPDATE_SNAPSHOTS=1 cargo test --test tui`.
//! - The built binary in a real terminal: a detached `tmux` session of a
//!   fixed size on a private socket; keys through `send-keys`, the screen
//!   through `capture-pane`. The table shows the plugs and their power, `/`
//!   narrows it, Enter shows a device's JSON, `q` quits and SIGTERM stops it,
//!   each time with the terminal restored (alternate screen left, `icanon`
//!   and `echo` back, the shell usable). Skipped with a message when tmux
//!   is missing, except under `CI=true`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use plugsniff::cli::watch::{RunConfig, SourceSpec, run_config};
use plugsniff::output::live::Style;
use plugsniff::output::tui::model::Snapshot;
use plugsniff::output::tui::view::{self, UiState};
use plugsniff::output::tui::{Mailbox, TuiSink};
use plugsniff::pipeline::Limits;
use plugsniff::wire::MacAddr;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const COFFEE_MAKER: MacAddr = MacAddr([0x1c, 0x3b, 0xf3, 0x6e, 0xa8, 0x12]);

fn demo() -> (String, String) {
    (
        format!("{DIR}/captures/demo.pcapng"),
        format!("{DIR}/captures/demo.toml"),
    )
}

/// The final snapshot of a run over the demo, as the dashboard gets it.
fn demo_snapshot() -> Snapshot {
    let (cap, conf) = demo();
    let mailbox = Arc::new(Mailbox::default());
    // The demo's network and plug keys (Tuya local keys), as --config loads them.
    let file = plugsniff::cli::config::ConfigFile::load(&conf).unwrap();
    let cfg = RunConfig {
        source: SourceSpec::File {
            path: cap,
            filter: None,
        },
        networks: file.networks(&conf).unwrap(),
        workers: 1,
        limits: Limits::default(),
        stdout_json: None,
        style: Style {
            color: false,
            show_json: false,
        },
        quiet_wpa: false,
        jsonl: None,
        pcap: None,
        status_interval: None,
        user: None,
        sandbox: false,
        decoders: file.decoder_config(&conf, false).unwrap(),
        sinks: vec![Box::new(TuiSink::new(mailbox.clone()))],
        summary_on_stdout: false,
    };
    run_config(cfg).unwrap();
    let s = mailbox.take().expect("finish publishes a snapshot");
    assert!(s.finished);
    s
}

/// Draws with `draw` into a `w`×`h` buffer; the screen as text lines.
fn render(w: u16, h: u16, draw: impl FnOnce(&mut ratatui::Frame<'_>)) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(draw).unwrap();
    let buf = t.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..h {
        let mut line = String::new();
        for x in 0..w {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Compares with (or, under `UPDATE_SNAPSHOTS`, writes) a snapshot.
fn snapshot(name: &str, text: &str) {
    let path = PathBuf::from(DIR).join(format!("tests/snapshots/tui-{name}.txt"));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{} missing: run with UPDATE_SNAPSHOTS=1", path.display()));
    assert_eq!(
        text, want,
        "the {name} pane changed; review and rerun with UPDATE_SNAPSHOTS=1"
    );
}

fn ui() -> UiState {
    UiState {
        source: "demo.pcapng".into(),
        ..UiState::default()
    }
}

#[test]
fn panes_of_the_demo() {
    let snap = demo_snapshot();
    let ui = ui();
    // Devices: the plugs by name with their power.
    let devices = render(160, 10, |f| view::devices(f, f.area(), &snap, &ui));
    for name in ["Coffee maker", "Desk lamp"] {
        assert!(devices.contains(name), "{name} missing:\n{devices}");
    }
    let coffee = snap.devices.iter().find(|d| d.mac == COFFEE_MAKER).unwrap();
    let power = format!("{:.1} W", coffee.power_w.expect("the HS110 reports power"));
    let row = devices
        .lines()
        .find(|l| l.contains("Coffee maker"))
        .unwrap();
    assert!(row.contains(&power), "{power} not in {row:?}");
    assert!(row.contains("TP-Link"), "{row}");
    let cmd = coffee
        .command
        .as_ref()
        .expect("the Coffee maker was sent commands");
    let start: String = cmd.text.chars().take(12).collect();
    assert!(row.contains(&start), "last command {start:?}: {row}");
    snapshot("devices", &devices);

    // Radio: every station's key confirmed, the counters balanced.
    let radio = render(160, 14, |f| view::radio(f, f.area(), &snap));
    assert!(radio.contains(&COFFEE_MAKER.to_string()), "{radio}");
    assert!(radio.contains("captured"), "{radio}");
    let c = &snap.counters;
    assert!(c.capture.captured > 0 && c.decrypted > 0);
    assert!(snap.stations.iter().all(|s| s.key == "ok"), "{radio}");
    snapshot("radio", &radio);

    // Events: the newest lines, the cloud link among them.
    let events = render(160, 16, |f| view::events(f, f.area(), &snap, &ui));
    assert!(events.contains("cloud link"), "{events}");
    snapshot("events", &events);

    // Detail: the Coffee maker's messages, JSON pretty-printed.
    let detail_ui = UiState {
        detail: Some(COFFEE_MAKER),
        ..ui.clone()
    };
    let detail = render(120, 40, |f| view::detail(f, f.area(), &snap, &detail_ui));
    assert!(detail.contains("Coffee maker"), "{detail}");
    let pretty = detail
        .lines()
        .map(|l| l.trim_matches(|c: char| c == '│' || c.is_whitespace()))
        .any(|l| l.starts_with('"') && l.ends_with("\": {"));
    assert!(pretty, "pretty JSON:\n{detail}");
    assert!(detail.contains("\"err_code\": 0"), "{detail}");
    assert!(
        !detail.contains("hunter2"),
        "a masked password stays masked"
    );
    snapshot("detail", &detail);

    // The whole screen, with the status bar.
    let screen = render(160, 48, |f| view::draw(f, &snap, &ui));
    assert!(screen.contains("capture finished"), "{screen}");
    snapshot("screen", &screen);

    // The filter narrows the table.
    let lamp = UiState {
        filter: "lamp".into(),
        ..ui.clone()
    };
    let narrowed = render(160, 10, |f| view::devices(f, f.area(), &snap, &lamp));
    assert!(narrowed.contains("Desk lamp") && !narrowed.contains("Coffee maker"));
}

// ---- the binary in tmux ----

fn tmux_available() -> bool {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "CI=true but tmux is missing"
        );
        eprintln!("SKIP: tmux not installed");
    }
    ok
}

/// A detached tmux session on a private server, killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn new(tag: &str) -> Tmux {
        let t = Tmux {
            socket: format!("plugsniff-test-{tag}-{}", std::process::id()),
        };
        let st = t
            .cmd()
            .args(["-f", "/dev/null", "new-session", "-d", "-s", "t"])
            .args(["-x", "160", "-y", "48"])
            .args([
                "env",
                "PS1=$ ",
                "TERM=xterm-256color",
                "bash",
                "--norc",
                "--noprofile",
            ])
            .status()
            .unwrap();
        assert!(st.success());
        t
    }
    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]);
        c
    }
    fn send(&self, keys: &[&str]) {
        let st = self
            .cmd()
            .args(["send-keys", "-t", "t"])
            .args(keys)
            .status()
            .unwrap();
        assert!(st.success());
    }
    /// Types `text` literally, then Enter.
    fn line(&self, text: &str) {
        self.send(&["-l", text]);
        self.send(&["Enter"]);
    }
    fn screen(&self) -> String {
        let o = self
            .cmd()
            .args(["capture-pane", "-p", "-t", "t"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    }
    fn alternate_on(&self) -> bool {
        let o = self
            .cmd()
            .args(["display-message", "-p", "-t", "t", "#{alternate_on}"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).trim() == "1"
    }
    /// Polls the screen until `pred` holds (at most 20 s).
    fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let t0 = Instant::now();
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "timed out waiting for {what}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    /// After the dashboard ended: the shell is back with a sane terminal.
    fn assert_restored(&self, how: &str) {
        let exit_line = |s: &str| -> Option<String> {
            s.lines()
                .find(|l| l.starts_with("EXIT="))
                .map(str::to_owned)
        };
        let s = self.wait_for(&format!("EXIT= after {how}"), |s| exit_line(s).is_some());
        assert_eq!(exit_line(&s).as_deref(), Some("EXIT=0"), "{how}: {s}");
        assert!(
            s.contains("plugsniff: dashboard closed"),
            "{how}: the note: {s}"
        );
        assert!(
            !s.contains("capture finished"),
            "{how}: the UI is still on screen:\n{s}"
        );
        assert!(!self.alternate_on(), "{how}: still on the alternate screen");
        // The modes `stty` reports, on one line ending in a marker the
        // command line itself does not contain.
        self.line("stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e -icanon -e echo -e -echo | sort | tr '\\n' ' '; echo STTY-$((1+1))");
        let s = self.wait_for("stty", |s| s.contains("STTY-2"));
        let line = s.lines().find(|l| l.contains("STTY-2")).unwrap();
        assert!(
            line.split_whitespace().any(|w| w == "icanon")
                && line.split_whitespace().any(|w| w == "echo"),
            "{how}: terminal not restored: {line:?}"
        );
        self.line("echo still-$((40+2))");
        self.wait_for("a working shell", |s| s.contains("still-42"));
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn launch(t: &Tmux, pidfile: &Path) {
    let (cap, conf) = demo();
    let bin = env!("CARGO_BIN_EXE_plugsniff");
    t.line(&format!(
        "sh -c 'echo $$ > {}; exec \"$0\" \"$@\"' {} watch -r {} --config {} --tui; echo EXIT=$?",
        pidfile.display(),
        shell_quote(bin),
        shell_quote(&cap),
        shell_quote(&conf),
    ));
}

#[test]
fn dashboard_in_tmux_keys_and_quit() {
    if !tmux_available() {
        return;
    }
    let t = Tmux::new("keys");
    let d = tempfile::tempdir().unwrap();
    launch(&t, &d.path().join("pid"));
    let s = t.wait_for("the final view", |s| {
        s.contains("capture finished") && s.contains("Coffee maker")
    });
    assert!(t.alternate_on());
    assert!(s.contains("Desk lamp"), "{s}");
    let coffee = s
        .lines()
        .find(|l| l.contains("Coffee maker") && l.contains("TP-Link"))
        .unwrap();
    assert!(coffee.contains(" W "), "power shown: {coffee}");
    assert!(
        s.contains("radio and capture") && s.contains("events"),
        "{s}"
    );
    // `/lamp` Enter: the table narrows to the lamp.
    t.send(&["/"]);
    t.send(&["-l", "lamp"]);
    t.wait_for("the filter being typed", |s| s.contains("filter: lamp"));
    t.send(&["Enter"]);
    let s = t.wait_for("the filtered table", |s| s.contains("devices 1/"));
    let table: String = s
        .lines()
        .take_while(|l| !l.contains("radio and capture"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        table.contains("Desk lamp") && !table.contains("Coffee maker"),
        "{table}"
    );
    // Enter: the lamp's messages in full.
    t.send(&["Enter"]);
    let s = t.wait_for("the detail view", |s| s.contains("newest first"));
    assert!(
        s.contains("Desk lamp") && s.contains("\"system\": {"),
        "{s}"
    );
    assert!(s.contains("\"alias\": \"Desk lamp\""), "{s}");
    t.send(&["Escape"]);
    t.wait_for("the table again", |s| s.contains("devices 1/"));
    t.send(&["q"]);
    t.assert_restored("q");
}

#[test]
fn dashboard_in_tmux_sigterm_restores_the_terminal() {
    if !tmux_available() {
        return;
    }
    let t = Tmux::new("term");
    let d = tempfile::tempdir().unwrap();
    let pidfile = d.path().join("pid");
    launch(&t, &pidfile);
    t.wait_for("the final view", |s| s.contains("capture finished"));
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    let st = Command::new("kill")
        .args(["-TERM", pid.trim()])
        .status()
        .unwrap();
    assert!(st.success());
    t.assert_restored("SIGTERM");
}

#[test]
fn tui_refuses_json_stdout_pcap_and_a_pipe() {
    let (cap, conf) = demo();
    let bin = env!("CARGO_BIN_EXE_plugsniff");
    for extra in [&["--json"][..], &["-w", "-"][..], &[][..]] {
        let o = Command::new(bin)
            .args(["watch", "-r", &cap, "--config", &conf, "--tui"])
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{extra:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("--tui") || err.contains("--json"),
            "{extra:?}: {err}"
        );
        assert!(o.stdout.is_empty(), "{extra:?}");
    }
}
