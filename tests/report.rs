//! `plugsniff report` on the demo capture: the HTML parses (html5ever via
//! `scraper`), shows every device with its plot and its messages, names no
//! external resource, and renders in headless Chromium (screenshot, DOM
//! complete with name resolution disabled). `--format json` carries the same
//! content. Chromium tests skip when it is missing, but fail under `CI=true`
//! (`.ci/run` installs the Debian package `chromium`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use scraper::{Html, Selector};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_plugsniff"));
    c.env_remove("PLUGSNIFF_PASSPHRASE")
        .env_remove("PLUGSNIFF_PMK")
        .stdin(Stdio::null());
    c
}

fn demo() -> (String, String) {
    let d = env!("CARGO_MANIFEST_DIR");
    (
        format!("{d}/captures/demo.pcapng"),
        format!("{d}/captures/demo.toml"),
    )
}

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn render(dir: &Path, format: &str) -> PathBuf {
    let (cap, cfg) = demo();
    let out = dir.join(format!("report.{format}"));
    let o = bin()
        .args(["report", "-r", &cap, "--config", &cfg, "-o"])
        .arg(&out)
        .args(["--format", format])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "report failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        !dir.join(format!("report.{format}.partial")).exists(),
        "no .partial left"
    );
    out
}

fn sel(s: &str) -> Selector {
    Selector::parse(s).unwrap()
}

/// The demo's devices as `watch --json` lists them in its summary line: the
/// reference the report is checked against (a different code path).
fn watch_devices() -> Vec<serde_json::Value> {
    let (cap, cfg) = demo();
    let o = bin()
        .args(["watch", "-r", &cap, "--config", &cfg, "--json"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let out = String::from_utf8(o.stdout).unwrap();
    let last = out.lines().last().unwrap();
    let v: serde_json::Value = serde_json::from_str(last).unwrap();
    v["devices"].as_array().unwrap().clone()
}

#[test]
fn html_report_of_the_demo() {
    let dir = tempfile::tempdir().unwrap();
    let path = render(dir.path(), "html");
    let html = std::fs::read_to_string(&path).unwrap();
    let doc = Html::parse_document(&html);
    assert!(doc.errors.is_empty(), "HTML parse errors: {:?}", doc.errors);
    let devices = watch_devices();
    assert!(devices.len() >= 2, "the demo has plugs: {devices:?}");
    let mut metering = 0;
    for d in &devices {
        let mac = d["mac"].as_str().unwrap();
        let id = format!("#dev-{}", mac.replace(':', ""));
        let section = doc
            .select(&sel(&id))
            .next()
            .unwrap_or_else(|| panic!("no section for {mac}"));
        if let Some(alias) = d["alias"].as_str() {
            let h3 = section.select(&sel("h3")).next().unwrap();
            assert!(h3.text().collect::<String>().contains(alias));
        }
        if d["power_w"].is_number() {
            metering += 1;
            let lines = section
                .select(&sel("svg polyline, svg path"))
                .filter(|p| {
                    let pts = p.value().attr("points").or(p.value().attr("d"));
                    pts.is_some_and(|s| s.split_whitespace().count() >= 1)
                })
                .count();
            assert!(lines >= 1, "no plot line for metering plug {mac}");
            let text: String = section.text().collect();
            assert!(text.contains("Power (W)"));
        }
        // Its messages are in the table.
        let n_msgs = d["messages"].as_u64().unwrap_or(0);
        let rows = doc
            .select(&sel(&format!("#events tbody tr[data-device~=\"{mac}\"]")))
            .filter(|r| r.value().attr("data-event") == Some("message"))
            .count() as u64;
        if n_msgs > 0 {
            assert!(rows > 0, "no message rows for {mac} ({n_msgs} messages)");
        }
    }
    assert!(metering >= 1, "the demo has a metering plug");
    // Every message event of `watch --json` is a row.
    let rows = doc
        .select(&sel("#events tbody tr[data-event=\"message\"]"))
        .count();
    assert!(rows > 0);
    for s in [
        "#network",
        "#devices",
        "#warnings",
        "#stats",
        "#messages",
        "table.stations",
    ] {
        assert!(doc.select(&sel(s)).next().is_some(), "{s} missing");
    }
    // No external resources: no src/href/action names http(s) or //.
    for el in doc.select(&sel(
        "[src], [href], [action], link, iframe, img, object, embed",
    )) {
        for attr in ["src", "href", "action"] {
            if let Some(v) = el.value().attr(attr) {
                let v = v.trim().to_ascii_lowercase();
                assert!(
                    !(v.starts_with("http:") || v.starts_with("https:") || v.starts_with("//")),
                    "external resource: {attr}={v}"
                );
            }
        }
    }
    assert!(!html.contains("@import") && !html.contains("url("));
}

#[test]
fn json_report_has_the_same_content() {
    let dir = tempfile::tempdir().unwrap();
    let path = render(dir.path(), "json");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let devices = watch_devices();
    let got: Vec<&str> = v["summary"]["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["mac"].as_str().unwrap())
        .collect();
    let want: Vec<&str> = devices.iter().map(|d| d["mac"].as_str().unwrap()).collect();
    assert_eq!(got, want);
    // Metering plugs have power samples in their history.
    for d in devices.iter().filter(|d| d["power_w"].is_number()) {
        let h = v["history"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["mac"] == d["mac"])
            .expect("history for a metering plug");
        assert!(
            h["samples"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["power_w"].is_number())
        );
    }
    assert!(v["events"].as_array().unwrap().len() > 10);
    assert!(v["counts"]["captured"].as_u64().unwrap() > 0);
    // Secrets stay masked.
    assert!(!v.to_string().contains("correct horse battery"));
}

#[test]
fn report_refuses_to_overwrite_its_input() {
    let (cap, cfg) = demo();
    let before = std::fs::read(&cap).unwrap();
    let o = bin()
        .args(["report", "-r", &cap, "--config", &cfg, "-o", &cap])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(std::fs::read(&cap).unwrap(), before);
}

fn chromium() -> Option<PathBuf> {
    for c in ["chromium", "chromium-browser", "google-chrome"] {
        if let Ok(o) = Command::new("which").arg(c).output()
            && o.status.success()
        {
            let p = String::from_utf8_lossy(&o.stdout).trim().to_string();
            if !p.is_empty() {
                return Some(PathBuf::from(p));
            }
        }
    }
    None
}

fn run_chromium(bin: &Path, profile: &Path, args: &[&str]) -> std::process::Output {
    Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            // No name resolves: a page that needed the network would not load it.
            "--host-resolver-rules=MAP * ~NOTFOUND",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn report_renders_in_headless_chromium() {
    let Some(chrome) = chromium() else {
        assert!(!ci(), "CI=true but chromium is missing");
        eprintln!("skipping: chromium not installed (apt-get install chromium)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = render(dir.path(), "html");
    let url = format!("file://{}", path.display());
    let profile = dir.path().join("profile");
    // The DOM after scripts ran: the filter script counted every row.
    let o = run_chromium(&chrome, &profile, &["--dump-dom", &url]);
    let dom = String::from_utf8_lossy(&o.stdout);
    assert!(
        dom.contains("</html>"),
        "no DOM: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let doc = Html::parse_document(&dom);
    let rows = doc.select(&sel("#events tbody tr")).count();
    let shown: usize = doc
        .select(&sel("#shown"))
        .next()
        .unwrap()
        .text()
        .collect::<String>()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(shown, rows, "the filter script ran over every row");
    for d in watch_devices() {
        let id = format!("#dev-{}", d["mac"].as_str().unwrap().replace(':', ""));
        assert!(doc.select(&sel(&id)).next().is_some(), "{id} not rendered");
    }
    assert!(doc.select(&sel("svg polyline")).next().is_some());
    // A screenshot is produced (and is a PNG).
    let png = dir.path().join("report.png");
    let o = run_chromium(
        &chrome,
        &profile,
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1280,2000",
            "--hide-scrollbars",
            &url,
        ],
    );
    let bytes = std::fs::read(&png).unwrap_or_else(|e| {
        panic!(
            "no screenshot ({e}): {}",
            String::from_utf8_lossy(&o.stderr)
        )
    });
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
    assert!(bytes.len() > 10_000, "a blank page would be tiny");
    if let Some(keep) = std::env::var_os("PLUGSNIFF_REPORT_PNG") {
        std::fs::copy(&png, keep).unwrap();
    }
}
