//! The conventions of command-line tools that users expect: no ANSI codes in
//! logs written to a file or pipe (or with `NO_COLOR`), each warning once,
//! shell completions and a man page.

use std::process::{Command, Stdio};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_plugsniff"));
    c.env_remove("PLUGSNIFF_PASSPHRASE")
        .env_remove("PLUGSNIFF_PMK")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null());
    c
}

fn demo() -> String {
    format!("{}/captures/demo.pcapng", env!("CARGO_MANIFEST_DIR"))
}

/// Logs on a pipe carry no escape sequences, even at the most verbose level,
/// and the `--passphrase` warning is printed once.
#[test]
fn logs_to_a_pipe_are_plain_and_warnings_come_once() {
    let o = bin()
        .args(["-vvv", "watch", "-r", &demo(), "--no-prompt"])
        .args(["--ssid", "PlugLab", "--passphrase", "not-the-demo-key"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(" INFO "), "log lines expected:\n{err}");
    assert!(!err.contains('\x1b'), "ANSI codes in piped logs:\n{err}");
    assert_eq!(
        err.matches("--passphrase is visible").count(),
        1,
        "the warning once:\n{err}"
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(!out.contains('\x1b'), "ANSI codes on a piped stdout");
}

/// `--color always` is the one way to get colours into a pipe; `NO_COLOR`
/// is honoured on the live view too.
#[test]
fn color_always_and_no_color() {
    let cfg = format!("{}/captures/demo.toml", env!("CARGO_MANIFEST_DIR"));
    let run = |extra: &[&str], no_color: bool| {
        let mut c = bin();
        c.args(["watch", "-r", &demo(), "--config", &cfg])
            .args(extra);
        if no_color {
            c.env("NO_COLOR", "1");
        }
        let o = c.output().unwrap();
        assert!(o.status.success());
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert!(run(&["--color", "always"], false).contains('\x1b'));
    assert!(!run(&[], false).contains('\x1b'));
    assert!(!run(&["--color", "auto"], true).contains('\x1b'));
}

/// `plugsniff completions bash` is a script bash loads, completing the
/// subcommands; zsh and fish scripts are produced too.
#[test]
fn shell_completions() {
    let o = bin().args(["completions", "bash"]).output().unwrap();
    assert!(o.status.success());
    let script = String::from_utf8(o.stdout).unwrap();
    for sub in ["decrypt", "watch", "daemon", "bench", "synth"] {
        assert!(script.contains(sub), "{sub} missing from the bash script");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plugsniff.bash");
    std::fs::write(&path, &script).unwrap();
    // Loaded by bash, it registers a completion for `plugsniff`.
    let b = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {} && complete -p plugsniff",
            path.display()
        ))
        .output()
        .unwrap();
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    assert!(String::from_utf8_lossy(&b.stdout).contains("plugsniff"));
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let o = bin().args(["completions", shell]).output().unwrap();
        assert!(o.status.success() && !o.stdout.is_empty(), "{shell}");
    }
    let bad = bin().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

/// `plugsniff man` is a roff page with every subcommand's options and the
/// exit codes; `man -l` renders it without warnings where man is installed.
#[test]
fn man_page() {
    let o = bin().arg("man").output().unwrap();
    assert!(o.status.success());
    let page = String::from_utf8(o.stdout).unwrap();
    assert!(
        page.starts_with(".ie") || page.starts_with(".TH"),
        "{}",
        &page[..80]
    );
    assert!(page.contains(".TH plugsniff 1"));
    for sec in [
        "PLUGSNIFF DECRYPT",
        "PLUGSNIFF WATCH",
        "PLUGSNIFF DAEMON",
        "EXIT STATUS",
    ] {
        assert!(page.contains(sec), "{sec} missing");
    }
    assert!(page.contains("\\-\\-export\\-keys") || page.contains("--export-keys"));
    if Command::new("groff").arg("--version").output().is_ok() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("plugsniff.1");
        std::fs::write(&p, &page).unwrap();
        let g = Command::new("groff")
            .args(["-man", "-Tutf8", "-ww", "-z"])
            .arg(&p)
            .output()
            .unwrap();
        let warnings = String::from_utf8_lossy(&g.stderr);
        assert!(warnings.trim().is_empty(), "groff warnings:\n{warnings}");
    } else {
        eprintln!("groff not installed: the page is not rendered");
    }
}
