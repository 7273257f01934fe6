//! `[output] history = "dir"` end to end on the demo capture: one CSV per
//! device, named by its MAC, whose rows are the samples `plugsniff report
//! --format json` shows for that device; the directory is checked before
//! the run and no CSV is ever an input.

use std::path::Path;
use std::process::Command;

const DIR: &str = env!("CARGO_MANIFEST_DIR");

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_plugsniff"))
}

/// The demo's config with `[output] history = dir`.
fn config_with_history(at: &Path, dir: &Path) -> std::path::PathBuf {
    let demo = std::fs::read_to_string(format!("{DIR}/captures/demo.toml")).unwrap();
    let p = at.join("plugsniff.toml");
    std::fs::write(
        &p,
        format!(
            "{demo}\n[output]\nhistory = {:?}\n",
            dir.display().to_string()
        ),
    )
    .unwrap();
    p
}

fn report_history() -> Vec<serde_json::Value> {
    let o = bin()
        .args(["report", "-r", &format!("{DIR}/captures/demo.pcapng")])
        .args(["--config", &format!("{DIR}/captures/demo.toml")])
        .args(["--format", "json", "-o", "-"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v["history"].as_array().unwrap().clone()
}

#[test]
fn one_csv_per_device_with_the_reports_samples() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("history");
    std::fs::create_dir(&out).unwrap();
    let cfg = config_with_history(d.path(), &out);
    let o = bin()
        .args(["watch", "-r", &format!("{DIR}/captures/demo.pcapng")])
        .args(["--config", cfg.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let history = report_history();
    let with_samples: Vec<&serde_json::Value> = history
        .iter()
        .filter(|h| !h["samples"].as_array().unwrap().is_empty())
        .collect();
    assert!(!with_samples.is_empty());
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(
        names.iter().all(|n| n.ends_with(".csv")),
        "no .partial left: {names:?}"
    );
    for h in &with_samples {
        let mac = h["mac"].as_str().unwrap();
        let name = format!("{}.csv", mac.replace(':', "-"));
        assert!(names.contains(&name), "{name} not in {names:?}");
        let p = out.join(&name);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let text = std::fs::read_to_string(&p).unwrap();
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some("time_us,relay_on,power_w,voltage_v,current_a,energy_kwh")
        );
        let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
        let samples = h["samples"].as_array().unwrap();
        assert_eq!(rows.len(), samples.len(), "{name}");
        for (r, s) in rows.iter().zip(samples) {
            assert_eq!(r.len(), 6, "{r:?}");
            // Time: microseconds, the report's seconds.
            let t: u64 = r[0].parse().unwrap();
            assert!((t as f64 / 1e6 - s["t"].as_f64().unwrap()).abs() < 1e-3);
            let num = |i: usize| (!r[i].is_empty()).then(|| r[i].parse::<f64>().unwrap());
            assert_eq!(num(2), s["power_w"].as_f64(), "{name} power");
            assert_eq!(num(3), s["voltage_v"].as_f64(), "{name} voltage");
            assert_eq!(num(5), s["energy_kwh"].as_f64(), "{name} energy");
            let relay = (!r[1].is_empty()).then(|| r[1] == "1");
            assert_eq!(relay, s["relay_on"].as_bool(), "{name} relay");
        }
    }
    // The metering plug's power is in its file.
    let coffee = std::fs::read_to_string(out.join("1c-3b-f3-6e-a8-12.csv")).unwrap();
    assert!(
        coffee
            .lines()
            .skip(1)
            .any(|l| !l.split(',').nth(2).unwrap().is_empty()),
        "{coffee}"
    );
}

#[test]
fn history_must_be_an_existing_directory() {
    let d = tempfile::tempdir().unwrap();
    for target in [d.path().join("absent"), d.path().join("a-file")] {
        std::fs::write(d.path().join("a-file"), "x").unwrap();
        let cfg = config_with_history(d.path(), &target);
        let o = bin()
            .args(["watch", "-r", &format!("{DIR}/captures/demo.pcapng")])
            .args(["--config", cfg.to_str().unwrap(), "--json"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{}", target.display());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("[output] history"), "{err}");
        assert!(o.stdout.is_empty(), "nothing read before the check");
    }
}

/// A CSV name that is an input (here, a symlink to the capture) is refused
/// and the capture is untouched.
#[test]
fn a_csv_never_overwrites_an_input() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("history");
    std::fs::create_dir(&out).unwrap();
    let cap = d.path().join("demo.pcapng");
    std::fs::copy(format!("{DIR}/captures/demo.pcapng"), &cap).unwrap();
    std::os::unix::fs::symlink(&cap, out.join("1c-3b-f3-6e-a8-12.csv")).unwrap();
    let cfg = config_with_history(d.path(), &out);
    let before = std::fs::read(&cap).unwrap();
    let o = bin()
        .args(["watch", "-r", cap.to_str().unwrap()])
        .args(["--config", cfg.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("which is read"), "{err}");
    assert_eq!(std::fs::read(&cap).unwrap(), before);
}
