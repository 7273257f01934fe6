//! No argument panics (issue 12, item 6): every subcommand run with extreme
//! numbers (0, -1, huge, not numbers, NaN, infinity) in its options and in
//! the config file's equivalents. Out of range is exit 2 with a message; an
//! extreme value in range runs; nothing exits outside the README's table
//! (0-5) or prints a panic.

use std::path::Path;
use std::process::{Command, Output, Stdio};

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/captures/demo.pcapng");
const DEMO_CFG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/captures/demo.toml");

/// The exit codes the README documents.
const TABLE: [i32; 6] = [0, 1, 2, 3, 4, 5];

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_plugsniff"))
        .args(args)
        .stdin(Stdio::null())
        .env_remove("PLUGSNIFF_PASSPHRASE")
        .env_remove("PLUGSNIFF_PMK")
        // A panic would say so even without a backtrace.
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap()
}

fn check(args: &[&str], want: Option<i32>) {
    let o = run(args);
    let err = String::from_utf8_lossy(&o.stderr);
    let code = o.status.code();
    assert!(
        code.is_some_and(|c| TABLE.contains(&c)),
        "{args:?}: exit {:?} (a signal or a code outside the README's table)\n{err}",
        o.status
    );
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{args:?}: panicked\n{err}"
    );
    if let Some(w) = want {
        assert_eq!(code, Some(w), "{args:?}\n{err}");
    }
    if want == Some(2) {
        assert!(!err.trim().is_empty(), "{args:?}: exit 2 without a message");
    }
}

/// Values no bounded option accepts.
const BAD: &[&str] = &[
    "0",
    "-1",
    "99999999999",
    "18446744073709551616",
    "abc",
    "1.5",
    "",
    "nan",
    "inf",
    "1e300",
];

#[test]
fn decrypt_workers() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.pcap");
    for v in BAD.iter().chain(&["100000", "257"]) {
        let opt = format!("--workers={v}");
        check(&["decrypt", DEMO, "--config", DEMO_CFG, &opt], Some(2));
    }
    for v in ["1", "256"] {
        check(
            &[
                "decrypt",
                DEMO,
                "--config",
                DEMO_CFG,
                "--workers",
                v,
                "-o",
                out.to_str().unwrap(),
            ],
            Some(0),
        );
    }
}

#[test]
fn watch_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("w.pcap");
    let base = ["watch", "-r", DEMO, "--config", DEMO_CFG];
    let with = |extra: &[&str], want| {
        let mut a: Vec<&str> = base.to_vec();
        a.extend_from_slice(extra);
        check(&a, want);
    };
    for v in BAD.iter().chain(&["100000", "257"]) {
        with(&[&format!("--workers={v}")], Some(2));
    }
    for v in BAD.iter().filter(|v| **v != "99999999999") {
        with(&[&format!("-c={v}")], Some(2));
    }
    with(&["-c", "18446744073709551615"], Some(0));
    with(&["-c", "1"], Some(0));
    for v in ["-1", "inf", "-inf", "nan", "1e300", "31536001", "abc", ""] {
        with(&[&format!("--duration={v}")], Some(2));
    }
    for v in ["0", "0.000000001", "31536000"] {
        with(&["--duration", v], Some(0));
    }
    for v in BAD.iter().chain(&["2048"]) {
        with(&[&format!("--buffer-mb={v}")], Some(2));
    }
    with(&["--buffer-mb", "2047"], Some(0));
    for v in [
        "-1",
        "1048577",
        "99999999999",
        "18446744073709551616",
        "abc",
        "1.5",
    ] {
        with(
            &["-w", w.to_str().unwrap(), &format!("--pcap-rotate-mb={v}")],
            Some(2),
        );
    }
    for v in ["0", "1", "1048576"] {
        with(&["-w", w.to_str().unwrap(), "--pcap-rotate-mb", v], Some(0));
    }
    for v in ["-1", "86401", "18446744073709551615", "abc"] {
        with(&[&format!("--status-interval={v}")], Some(2));
    }
    with(&["--status-interval", "86400"], Some(0));
    // -v saturates.
    let many = format!("-{}", "v".repeat(300));
    with(&[&many], Some(0));
}

#[test]
fn watch_live_numbers_are_checked_before_the_interface() {
    for v in BAD.iter().chain(&["2048"]) {
        check(
            &[
                "watch",
                "-i",
                "plugsniff-no-such-if0",
                &format!("--buffer-mb={v}"),
            ],
            Some(2),
        );
    }
    // In range: the interface is missing (3), or libpcap is (3).
    check(
        &[
            "watch",
            "-i",
            "plugsniff-no-such-if0",
            "--buffer-mb",
            "2047",
            "--no-prompt",
        ],
        None,
    );
}

fn daemon_config(dir: &Path, section: &str, key: &str, value: &str) -> String {
    let p = dir.join(format!("{key}-{}.toml", value.replace(['-', '.'], "_")));
    let body = match section {
        "capture" => format!(
            "[[network]]\nssid = \"x\"\npassphrase = \"12345678\"\n[capture]\ninterface = \"plugsniff-no-such-if0\"\n{key} = {value}\n[output]\nlive = true\n"
        ),
        _ => format!(
            "[[network]]\nssid = \"x\"\npassphrase = \"12345678\"\n[capture]\ninterface = \"plugsniff-no-such-if0\"\n[output]\nlive = true\n{key} = {value}\n"
        ),
    };
    std::fs::write(&p, body).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn daemon_config_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "capture",
            "workers",
            &["0", "-1", "257", "100000", "99999999999", "1e300", "\"x\""],
        ),
        (
            "capture",
            "buffer_mb",
            &["0", "-1", "2048", "99999999999", "\"x\""],
        ),
        (
            "output",
            "pcap_rotate_mb",
            &["-1", "1048577", "99999999999", "\"x\""],
        ),
        (
            "output",
            "status_interval",
            &["-1", "86401", "99999999999", "\"x\""],
        ),
    ];
    for (section, key, values) in cases {
        for v in *values {
            let cfg = daemon_config(dir.path(), section, key, v);
            check(&["daemon", "--config", &cfg], Some(2));
            // The same file given to watch -r for its keys is refused too.
            check(&["watch", "-r", DEMO, "--config", &cfg], Some(2));
        }
    }
    // In range: the missing interface (exit 3), not a bound.
    let cfg = daemon_config(dir.path(), "capture", "workers", "256");
    check(&["daemon", "--config", &cfg], Some(3));
}

#[test]
fn bench_and_synth_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("b.pcap");
    let p = p.to_str().unwrap();
    for v in ["0", "-1", "inf", "nan", "1e300", "3601", "abc", ""] {
        check(
            &["bench", &format!("--seconds={v}"), "--write-pcap", p],
            Some(2),
        );
    }
    for v in BAD.iter().chain(&["100000", "257"]) {
        check(
            &["bench", &format!("--threads={v}"), "--write-pcap", p],
            Some(2),
        );
    }
    for v in BAD.iter().chain(&["51"]) {
        check(
            &["bench", &format!("--rounds={v}"), "--write-pcap", p],
            Some(2),
        );
    }
    check(
        &["bench", "--rounds=50", "--write-pcap", p, "--size", "0"],
        Some(0),
    );
    for v in [
        "-1",
        "2T",
        "99999999999G",
        "18446744073709551616",
        "1X",
        "abc",
        "",
    ] {
        check(
            &["bench", "--write-pcap", p, &format!("--size={v}")],
            Some(2),
        );
    }
    check(&["bench", "--write-pcap", p, "--size", "0"], Some(0));
    for v in ["-1", "18446744073709551616", "abc"] {
        check(
            &[
                "bench",
                "--write-pcap",
                p,
                "--size",
                "0",
                &format!("--seed={v}"),
            ],
            Some(2),
        );
    }
    check(
        &[
            "bench",
            "--write-pcap",
            p,
            "--size",
            "0",
            "--seed",
            "18446744073709551615",
        ],
        Some(0),
    );
    // synth: the AKM and the seed.
    for v in ["0", "-1", "256", "99999999999", "abc", "7"] {
        check(
            &["synth", "network", "-o", p, &format!("--akm={v}")],
            Some(2),
        );
    }
    for v in ["-1", "18446744073709551616", "abc"] {
        check(
            &["synth", "network", "-o", p, &format!("--seed={v}")],
            Some(2),
        );
        check(&["synth", "demo", "-o", p, &format!("--seed={v}")], Some(2));
    }
    check(
        &["synth", "demo", "-o", p, "--seed", "18446744073709551615"],
        Some(0),
    );
    check(&["synth", "network", "-o", p, "--seed", "0"], Some(0));
}
