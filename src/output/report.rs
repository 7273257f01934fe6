//! The capture report (`plugsniff report`): what a whole capture showed, as
//! one self-contained HTML page or as the same content in JSON.
//!
//! Owns: [`Collector`], the [`EventSink`] a watch run feeds (events in
//! capture order, the per-device [`History`], and at the end a snapshot of
//! the inventory, the Wi-Fi summary and the counters); [`Report`], the data
//! (`--format json` is its serialisation); [`to_html`], the page.
//!
//! Guarantees:
//! - bounded: at most [`MAX_EVENTS`] events are kept (the rest are counted in
//!   `events_not_listed`), histories are bounded by `report::history`;
//! - the page needs nothing but itself: CSS, the filter script and the plots
//!   are inline, no `src`/`href` names anything outside the page (checked by
//!   `tests/report.rs` in a browser with name resolution disabled);
//! - every string from the capture is HTML-escaped ([`esc`]); the JSON data is
//!   not embedded in a `<script>` (no `</script>` injection to worry about);
//! - secrets are masked as in `watch` (the events are masked at the source
//!   unless `--show-secrets`).
//!
//! The plots are SVG written here, not with `plotters`: a time series is one
//! `<polyline>` in a fixed frame with a few labels, ~60 lines of code, whereas
//! `plotters` would add a dependency tree (fonts, image backends off or on)
//! for the same output and its text rendering is harder to keep
//! self-contained and deterministic.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::Value;

use super::json::{rfc3339, to_json_line};
use super::live::{Style, render};
use super::watch_summary::{FlowCounts, WatchSummary};
use super::{EventSink, RunView};
use crate::report::event::{Event, EventBody};
use crate::report::history::{History, MarkKind};
use crate::wire::{MacAddr, Ts};

/// Events kept in a report (the rest are counted).
pub const MAX_EVENTS: usize = 100_000;

/// What a watch run hands the report: filled by the [`EventSink`] impl on the
/// ordered stage's thread, read once the run is over.
#[derive(Default)]
pub struct Collector {
    pub history: History,
    pub events: Vec<EventRow>,
    pub events_not_listed: u64,
    /// Set by `finish`: the run's end state.
    pub end: Option<EndState>,
}

/// The run's end state as data.
pub struct EndState {
    /// The watch summary's JSON (devices, decoding counters, Wi-Fi).
    pub summary: Value,
    pub capture: crate::report::counters::CaptureCounts,
}

/// One event of the report.
#[derive(Debug, Clone, Serialize)]
pub struct EventRow {
    pub ts: String,
    /// The JSON `event` name: `message`, `discovery`, `cloud_link`, `warning`…
    pub event: String,
    /// The device it is about, when known.
    pub device: Option<String>,
    /// Every device it involves: [`EventRow::device`] and the devices whose
    /// IP address is its source or destination (a controller's commands).
    pub devices: Vec<String>,
    /// The readable line `watch` prints.
    pub text: String,
    /// The JSON line `watch --json` prints (docs/events.md).
    pub json: Value,
}

fn event_device(e: &Event) -> Option<MacAddr> {
    match &e.body {
        EventBody::Message(m) => m.device,
        EventBody::Discovery(d) => d.device,
        EventBody::CredentialLeak(l) => l.device,
        EventBody::CloudLink(c) => c.device,
        EventBody::KlapSession(k) => k.device,
        EventBody::Handshake(h) => Some(h.sta),
        EventBody::Warning(w) => Some(w.sta),
        EventBody::Undecodable(_) => None,
    }
}

impl Collector {
    /// Records one event (what the sink does).
    pub fn record(&mut self, e: &Event) {
        self.history.record(e);
        if self.events.len() >= MAX_EVENTS {
            self.events_not_listed = self.events_not_listed.saturating_add(1);
            return;
        }
        let json: Value = serde_json::from_str(&to_json_line(e)).unwrap_or(Value::Null);
        let event = json
            .get("event")
            .and_then(Value::as_str)
            .unwrap_or("event")
            .to_string();
        self.events.push(EventRow {
            ts: rfc3339(e.ts),
            event,
            device: event_device(e).map(|m| m.to_string()),
            devices: Vec::new(),
            text: render(
                e,
                Style {
                    color: false,
                    show_json: false,
                },
            ),
            json,
        });
    }
}

/// The sink half: shares a [`Collector`] with whoever builds the report.
pub struct ReportSink(pub Arc<Mutex<Collector>>);

impl EventSink for ReportSink {
    fn event(&mut self, e: &Event, _view: &RunView<'_>) -> std::io::Result<()> {
        if let Ok(mut c) = self.0.lock() {
            c.record(e);
        }
        Ok(())
    }

    fn finish(&mut self, view: &RunView<'_>) -> std::io::Result<()> {
        // The flow table is not part of the view: its counts are left out
        // rather than shown as zeros.
        let s = WatchSummary::new(
            view.inventory,
            FlowCounts {
                created: 0,
                open_at_end: 0,
                evicted_no_payload: 0,
                refused_table_full: 0,
            },
            view.stats,
            view.engine,
            None,
        );
        let mut summary = serde_json::to_value(&s).map_err(std::io::Error::other)?;
        if let Some(m) = summary.as_object_mut() {
            m.remove("flows");
        }
        if let Ok(mut c) = self.0.lock() {
            c.end = Some(EndState {
                summary,
                capture: view.capture,
            });
        }
        Ok(())
    }
}

/// The report as data (`--format json`); the HTML page shows exactly this.
#[derive(Debug, Serialize)]
pub struct Report {
    pub v: u32,
    /// The capture file as named on the command line.
    pub capture: String,
    pub counts: Counts,
    /// `devices`, `decode` (counters) and `wifi` (networks, stations with key
    /// status and radio, warnings, frame totals), as in the `summary` line.
    pub summary: Value,
    pub history: Vec<DeviceSeries>,
    /// Devices whose history was not kept (past the cap).
    pub history_refused: u64,
    pub events: Vec<EventRow>,
    pub events_not_listed: u64,
}

#[derive(Debug, Serialize)]
pub struct Counts {
    pub captured: u64,
    pub filtered: u64,
    pub shed_load: u64,
    pub pcap_dropped: u64,
    pub pcap_if_dropped: u64,
}

/// One device's history as data.
#[derive(Debug, Serialize)]
pub struct DeviceSeries {
    pub mac: String,
    pub samples: Vec<SampleRow>,
    pub samples_dropped: u64,
    pub timeline: Vec<MarkRow>,
    pub timeline_dropped: u64,
}

#[derive(Debug, Serialize)]
pub struct SampleRow {
    pub ts: String,
    /// Seconds since the epoch (for plotting).
    pub t: f64,
    pub relay_on: Option<bool>,
    pub power_w: Option<f64>,
    pub voltage_v: Option<f64>,
    pub current_a: Option<f64>,
    pub energy_kwh: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct MarkRow {
    pub ts: String,
    /// Seconds since the epoch (for plotting).
    pub t: f64,
    /// The relay state a command asked for.
    pub relay: Option<bool>,
    /// `command`, `answer`, `relay`, `cloud`.
    pub kind: &'static str,
    pub text: String,
}

fn secs(ts: Ts) -> f64 {
    ts.sec as f64 + f64::from(ts.nsec) / 1e9
}

fn mark_row(ts: Ts, k: &MarkKind) -> MarkRow {
    let (kind, text) = match k {
        MarkKind::Command {
            methods,
            from,
            relay,
        } => {
            let mut t = format!("{} from {}", methods.join(", "), from.ip());
            if let Some(on) = relay {
                let _ = write!(t, ": switch {}", if *on { "ON" } else { "OFF" });
            }
            ("command", t)
        }
        MarkKind::Answer { latency } => (
            "answer",
            match latency {
                Some(d) => format!("answered in {:.1} ms", d.as_secs_f64() * 1e3),
                None => "answered".into(),
            },
        ),
        MarkKind::Relay { on } => ("relay", format!("relay {}", if *on { "ON" } else { "OFF" })),
        MarkKind::Cloud { up, server } => (
            "cloud",
            format!(
                "cloud link {}{}",
                if *up { "up" } else { "down" },
                server
                    .as_deref()
                    .map(|s| format!(" ({s})"))
                    .unwrap_or_default()
            ),
        ),
    };
    MarkRow {
        ts: rfc3339(ts),
        t: secs(ts),
        relay: match k {
            MarkKind::Command { relay, .. } => *relay,
            _ => None,
        },
        kind,
        text,
    }
}

impl Report {
    /// The report of a finished run (`capture`: the file as named).
    pub fn new(capture: &str, c: Collector) -> Report {
        let Collector {
            history: hist,
            mut events,
            events_not_listed,
            end,
        } = c;
        let (summary, cc) = match end {
            Some(e) => (e.summary, e.capture),
            None => (Value::Null, Default::default()),
        };
        let ips: Vec<(String, String)> = summary
            .get("devices")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|d| Some((s_of(d, "ip")?.to_string(), s_of(d, "mac")?.to_string())))
            .collect();
        for e in &mut events {
            let mut ds: Vec<String> = e.device.iter().cloned().collect();
            for k in ["src", "dst"] {
                let Some(addr) = e.json.get(k).and_then(Value::as_str) else {
                    continue;
                };
                let ip = addr
                    .parse::<std::net::SocketAddr>()
                    .map(|a| a.ip().to_string())
                    .unwrap_or_else(|_| addr.to_string());
                for (dip, mac) in &ips {
                    if *dip == ip && !ds.contains(mac) {
                        ds.push(mac.clone());
                    }
                }
            }
            e.devices = ds;
        }
        let history = hist
            .devices()
            .map(|(mac, d)| DeviceSeries {
                mac: mac.to_string(),
                samples: d
                    .samples()
                    .map(|s| SampleRow {
                        ts: rfc3339(s.ts),
                        t: secs(s.ts),
                        relay_on: s.relay_on,
                        power_w: s.power_w,
                        voltage_v: s.voltage_v,
                        current_a: s.current_a,
                        energy_kwh: s.energy_kwh,
                    })
                    .collect(),
                samples_dropped: d.samples_dropped,
                timeline: d.marks().map(|m| mark_row(m.ts, &m.what)).collect(),
                timeline_dropped: d.marks_dropped,
            })
            .collect();
        Report {
            v: 1,
            capture: capture.to_string(),
            counts: Counts {
                captured: cc.captured,
                filtered: cc.filtered,
                shed_load: cc.shed_load,
                pcap_dropped: cc.pcap_dropped,
                pcap_if_dropped: cc.pcap_if_dropped,
            },
            summary,
            history,
            history_refused: hist.refused,
            events,
            events_not_listed,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".into())
    }
}

/// HTML-escapes text for element content and quoted attributes.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => o.push('\u{fffd}'),
            c => o.push(c),
        }
    }
    o
}

/// How a series is drawn.
#[derive(Debug, Clone, Copy)]
pub struct Axes {
    /// The time span of the x axis (seconds since the epoch): the capture's,
    /// so the plots of every device line up.
    pub span: (f64, f64),
    /// A fixed y range (the relay's 0..1), else from the data.
    pub y: Option<(f64, f64)>,
    /// Hold each value until the next (a state), rather than join points.
    pub step: bool,
}

/// A plot of `(t, y)` points as inline SVG: a fixed 640×160 frame, the y
/// range and the time span as labels, one `<polyline>` and a dot per point.
pub fn svg_plot(title: &str, unit: &str, pts: &[(f64, f64)], ax: Axes) -> String {
    let step = ax.step;
    const W: f64 = 640.0;
    const H: f64 = 160.0;
    const L: f64 = 56.0;
    const R: f64 = 8.0;
    const T: f64 = 20.0;
    const B: f64 = 22.0;
    let pts: Vec<(f64, f64)> = pts
        .iter()
        .copied()
        .filter(|(t, y)| t.is_finite() && y.is_finite())
        .collect();
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg class="plot" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-label="{t}"><rect x="{L}" y="{T}" width="{pw}" height="{ph}" fill="#fafafa" stroke="#ccc"/><text x="{L}" y="14" class="pt">{t} ({u})</text>"##,
        t = esc(title),
        u = esc(unit),
        pw = W - L - R,
        ph = H - T - B,
    );
    if pts.is_empty() {
        let _ = write!(
            s,
            r#"<text x="{}" y="{}">no reading</text></svg>"#,
            L + 10.0,
            H / 2.0
        );
        return s;
    }
    let (t0, t1) = pts
        .iter()
        .fold(ax.span, |(a, b), (t, _)| (a.min(*t), b.max(*t)));
    let (mut y0, mut y1) = pts.iter().fold((f64::MAX, f64::MIN), |(a, b), (_, y)| {
        (a.min(*y), b.max(*y))
    });
    if let Some(r) = ax.y {
        (y0, y1) = (r.0.min(y0), r.1.max(y1));
    } else {
        // Zero in view when it is close; a flat series gets ±10 %.
        if y0 > 0.0 && y0 < (y1 - y0) {
            y0 = 0.0;
        }
        if y1 - y0 < 1e-9 {
            let m = (y0.abs() * 0.1).max(1e-3);
            y1 = y0 + m;
            y0 -= m;
        }
    }
    let span = (t1 - t0).max(1e-6);
    let x = |t: f64| L + (t - t0) / span * (W - L - R);
    let y = |v: f64| T + (1.0 - (v - y0) / (y1 - y0)) * (H - T - B);
    let mut poly = String::new();
    let mut prev: Option<f64> = None;
    let mut pts = pts;
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (t, v) in &pts {
        if let Some(p) = prev.filter(|_| step) {
            let _ = write!(poly, "{:.1},{:.1} ", x(*t), y(p));
        }
        let _ = write!(poly, "{:.1},{:.1} ", x(*t), y(*v));
        prev = Some(*v);
    }
    if step {
        // A state holds until the end of the capture.
        if let Some(p) = prev {
            let _ = write!(poly, "{:.1},{:.1}", x(t1), y(p));
        }
    }
    let _ = write!(
        s,
        r##"<polyline fill="none" stroke="#1565c0" stroke-width="1.5" points="{}"/>"##,
        poly.trim_end()
    );
    for (t, v) in &pts {
        let _ = write!(
            s,
            r##"<circle cx="{:.1}" cy="{:.1}" r="3" fill="#1565c0"><title>{v} {u}</title></circle><text x="{:.1}" y="{:.1}" class="ax">{n}</text>"##,
            x(*t),
            y(*v),
            (x(*t) + 4.0).min(W - R - 40.0),
            (y(*v) - 4.0).max(T + 10.0),
            u = esc(unit),
            n = if pts.len() <= 12 {
                num(*v)
            } else {
                String::new()
            },
        );
        if pts.len() > 200 {
            break;
        }
    }
    let _ = write!(
        s,
        r#"<text x="{a}" y="{yt}" text-anchor="end" class="ax">{hi}</text><text x="{a}" y="{yb}" text-anchor="end" class="ax">{lo}</text><text x="{L}" y="{bt}" class="ax">0 s</text><text x="{r}" y="{bt}" text-anchor="end" class="ax">{span:.1} s (capture time)</text></svg>"#,
        a = L - 4.0,
        yt = T + 10.0,
        yb = H - B,
        hi = num(y1),
        lo = num(y0),
        bt = H - 6.0,
        r = W - R,
    );
    s
}

fn num(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

const CSS: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}\
h1{font-size:1.5em}h2{border-bottom:1px solid #ddd;margin-top:1.6em}\
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top}\
th{background:#f0f0f0}.ok{color:#2e7d32}.bad{color:#c62828}.dim{color:#777}\
.device{border:1px solid #ccc;border-radius:6px;padding:.5em 1em;margin:1em 0}\
.plot text{font:11px sans-serif;fill:#444}.plot .pt{font-weight:bold}\
#events td.text{font-family:monospace;white-space:pre-wrap}\
details pre{background:#f6f6f6;padding:4px;max-width:100%;overflow:auto}\
.filters{margin:.5em 0}.filters input{width:20em}";

const SCRIPT: &str = "(function(){var q=document.getElementById('q'),k=document.getElementById('k'),\
d=document.getElementById('d'),n=document.getElementById('shown');\
function f(){var t=q.value.toLowerCase(),kv=k.value,dv=d.value,c=0;\
document.querySelectorAll('#events tbody tr').forEach(function(r){\
var ok=(!kv||r.dataset.event===kv)&&(!dv||(' '+r.dataset.device+' ').indexOf(' '+dv+' ')>=0)&&(!t||r.textContent.toLowerCase().indexOf(t)>=0);\
r.style.display=ok?'':'none';if(ok)c++;});n.textContent=c;}\
q.addEventListener('input',f);k.addEventListener('change',f);d.addEventListener('change',f);f();})();";

fn s_of<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

fn cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "<span class=\"dim\">–</span>".into(),
        Some(Value::String(s)) => esc(s),
        Some(Value::Array(a)) => esc(&a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| x.to_string())
            })
            .collect::<Vec<_>>()
            .join(", ")),
        Some(v) => esc(&v.to_string()),
    }
}

/// The device's display name: alias, else model, else MAC.
fn device_name(d: &Value) -> String {
    s_of(d, "alias")
        .or_else(|| s_of(d, "model"))
        .or_else(|| s_of(d, "hostname"))
        .or_else(|| s_of(d, "mac"))
        .unwrap_or("?")
        .to_string()
}

/// The page.
pub fn to_html(r: &Report) -> String {
    let mut h = String::with_capacity(64 * 1024 + r.events.len() * 512);
    let title = format!("plugsniff report: {}", r.capture);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{t}</title><style>{CSS}</style></head><body>\n<h1>{t}</h1>\n",
        t = esc(&title)
    );
    let devices: Vec<&Value> = r
        .summary
        .get("devices")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let wifi = r.summary.get("wifi").unwrap_or(&Value::Null);
    let nets = wifi.get("networks").and_then(Value::as_array);
    let _ = writeln!(
        h,
        "<p id=\"overview\">{} device(s), {} network(s), {} event(s){}, {} frame(s) captured.</p>",
        devices.len(),
        nets.map_or(0, Vec::len),
        r.events.len(),
        if r.events_not_listed > 0 {
            format!(" (+{} not listed)", r.events_not_listed)
        } else {
            String::new()
        },
        r.counts.captured
    );

    // Network and stations.
    h.push_str("<h2 id=\"network\">Network and stations</h2>\n");
    for n in nets.into_iter().flatten() {
        let _ = writeln!(
            h,
            "<h3>{} <span class=\"dim\">{}</span></h3><p>AKM: {}; group keys: {}</p>",
            esc(s_of(n, "ssid").unwrap_or("(hidden SSID)")),
            esc(s_of(n, "bssid").unwrap_or("")),
            cell(n.get("akms")),
            cell(n.get("group_keys"))
        );
        h.push_str(
            "<table class=\"stations\"><thead><tr><th>Station</th><th>Key</th><th>Handshake</th>\
<th>Frames to AP / from AP</th><th>Missed (est.)</th><th>Best rate to AP</th><th>Best rate from AP</th></tr></thead><tbody>\n",
        );
        for st in n
            .get("stations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let ok = st.get("key_confirmed").and_then(Value::as_bool) == Some(true);
            let radio = st.get("radio").unwrap_or(&Value::Null);
            let rate = |d: &str| -> String {
                let r = radio.get(d).unwrap_or(&Value::Null);
                let mut parts = Vec::new();
                if let Some(p) = s_of(r, "phy") {
                    parts.push(p.to_string());
                }
                if let Some(m) = r.get("mcs").and_then(Value::as_u64) {
                    parts.push(format!("MCS {m}"));
                }
                if let Some(m) = r.get("streams").and_then(Value::as_u64) {
                    parts.push(format!("{m} ss"));
                }
                if let Some(m) = r.get("width_mhz").and_then(Value::as_u64) {
                    parts.push(format!("{m} MHz"));
                }
                if parts.is_empty() {
                    "–".into()
                } else {
                    esc(&parts.join(" "))
                }
            };
            let hs = st
                .get("handshake")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| format!("{k}×{v}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default();
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{} / {}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                cell(st.get("mac")),
                if ok { "ok" } else { "bad" },
                cell(st.get("key")),
                esc(&hs),
                cell(radio.get("frames_to_ap")),
                cell(radio.get("frames_from_ap")),
                cell(radio.get("missed_estimate")),
                rate("to_ap"),
                rate("from_ap"),
            );
        }
        h.push_str("</tbody></table>\n");
    }

    // Devices. Every plot spans the capture's time (as far as histories saw).
    let span = r
        .history
        .iter()
        .flat_map(|d| {
            d.samples
                .iter()
                .map(|s| s.t)
                .chain(d.timeline.iter().map(|m| m.t))
        })
        .fold((f64::MAX, f64::MIN), |(a, b), t| (a.min(t), b.max(t)));
    h.push_str("<h2 id=\"devices\">Devices</h2>\n");
    for d in &devices {
        let mac = s_of(d, "mac").unwrap_or("");
        let _ = writeln!(
            h,
            "<section class=\"device\" id=\"dev-{id}\" data-mac=\"{m}\"><h3>{name} <span class=\"dim\">{m}</span></h3>",
            id = esc(&mac.replace(':', "")),
            m = esc(mac),
            name = esc(&device_name(d)),
        );
        h.push_str("<table class=\"facts\"><tbody>");
        for (label, key) in [
            ("Role", "role"),
            ("Vendor", "vendor"),
            ("Model", "model"),
            ("IP", "ip"),
            ("Firmware", "firmware"),
            ("Relay", "relay_on"),
            ("Power (W)", "power_w"),
            ("Voltage (V)", "voltage_v"),
            ("Energy (kWh)", "total_kwh"),
            ("Protocols", "protocols"),
            ("Notes", "notes"),
            ("Messages", "messages"),
            ("First seen", "first_seen"),
            ("Last seen", "last_seen"),
        ] {
            let v = d.get(key);
            if key == "relay_on" {
                let t = match v.and_then(Value::as_bool) {
                    Some(true) => "ON",
                    Some(false) => "OFF",
                    None => "–",
                };
                let _ = write!(h, "<tr><th>{label}</th><td>{t}</td></tr>");
            } else {
                let _ = write!(h, "<tr><th>{label}</th><td>{}</td></tr>", cell(v));
            }
        }
        h.push_str("</tbody></table>\n");
        if let Some(series) = r.history.iter().find(|s| s.mac == mac) {
            let pts = |f: &dyn Fn(&SampleRow) -> Option<f64>| -> Vec<(f64, f64)> {
                series
                    .samples
                    .iter()
                    .filter_map(|s| f(s).map(|y| (s.t, y)))
                    .collect()
            };
            let power = pts(&|s| s.power_w);
            let energy = pts(&|s| s.energy_kwh);
            // Relay: what the device reported and what it was told.
            let mut relay = pts(&|s| s.relay_on.map(|b| if b { 1.0 } else { 0.0 }));
            relay.extend(
                series
                    .timeline
                    .iter()
                    .filter_map(|m| m.relay.map(|b| (m.t, if b { 1.0 } else { 0.0 }))),
            );
            let line = Axes {
                span,
                y: None,
                step: false,
            };
            if !power.is_empty() || !energy.is_empty() {
                h.push_str("<div class=\"plots\">");
                h.push_str(&svg_plot("Power", "W", &power, line));
                h.push_str(&svg_plot("Energy", "kWh", &energy, line));
                let volts = pts(&|s| s.voltage_v);
                if !volts.is_empty() {
                    h.push_str(&svg_plot("Voltage", "V", &volts, line));
                }
                h.push_str("</div>\n");
            }
            if !relay.is_empty() {
                h.push_str(&svg_plot(
                    "Relay, reported or commanded (1 = on)",
                    "state",
                    &relay,
                    Axes {
                        span,
                        y: Some((0.0, 1.0)),
                        step: true,
                    },
                ));
            }
            if !series.timeline.is_empty() {
                h.push_str(
                    "<details open><summary>Timeline</summary><table class=\"timeline\"><tbody>",
                );
                for m in &series.timeline {
                    let _ = write!(
                        h,
                        "<tr class=\"{k}\"><td>{}</td><td>{k}</td><td>{}</td></tr>",
                        esc(&m.ts),
                        esc(&m.text),
                        k = m.kind
                    );
                }
                if series.timeline_dropped > 0 {
                    let _ = write!(
                        h,
                        "<tr><td colspan=\"3\" class=\"dim\">{} older entries not kept</td></tr>",
                        series.timeline_dropped
                    );
                }
                h.push_str("</tbody></table></details>\n");
            }
        }
        let n = r
            .events
            .iter()
            .filter(|e| e.devices.iter().any(|d| d == mac))
            .count();
        let _ = writeln!(
            h,
            "<p class=\"msgs\">{n} event(s) in the table below (filter on this device).</p></section>"
        );
    }

    // Warnings.
    h.push_str("<h2 id=\"warnings\">Warnings</h2>\n<ul class=\"warnings\">");
    let mut any = false;
    for e in r.events.iter().filter(|e| e.event == "warning") {
        any = true;
        let _ = write!(h, "<li>{} {}</li>", esc(&e.ts), esc(&e.text));
    }
    for w in wifi
        .get("warnings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        any = true;
        let _ = write!(
            h,
            "<li>{}: {} (station {}, frame {})</li>",
            cell(w.get("kind")),
            cell(w.get("message")),
            cell(w.get("sta")),
            cell(w.get("frame"))
        );
    }
    if !any {
        h.push_str("<li class=\"ok\">none</li>");
    }
    h.push_str("</ul>\n");

    // Statistics.
    h.push_str("<h2 id=\"stats\">Capture statistics</h2>\n<table class=\"stats\"><tbody>");
    for (k, v) in [
        ("captured", r.counts.captured),
        ("filtered (-f)", r.counts.filtered),
        ("shed load", r.counts.shed_load),
        ("libpcap dropped", r.counts.pcap_dropped),
        ("interface dropped", r.counts.pcap_if_dropped),
    ] {
        let _ = write!(h, "<tr><th>{k}</th><td>{v}</td></tr>");
    }
    if let Some(fr) = wifi.get("frames").and_then(Value::as_object) {
        for (k, v) in fr {
            if let Some(m) = v.as_object() {
                for (r, n) in m {
                    let _ = write!(
                        h,
                        "<tr><th>{} {}</th><td>{}</td></tr>",
                        esc(k),
                        esc(r),
                        cell(Some(n))
                    );
                }
            } else {
                let _ = write!(h, "<tr><th>{}</th><td>{}</td></tr>", esc(k), cell(Some(v)));
            }
        }
    }
    if let Some(dc) = r.summary.get("decode").and_then(Value::as_object) {
        for (k, v) in dc {
            let _ = write!(h, "<tr><th>{}</th><td>{}</td></tr>", esc(k), cell(Some(v)));
        }
    }
    h.push_str("</tbody></table>\n");

    // Events.
    let mut kinds: Vec<&str> = r.events.iter().map(|e| e.event.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    let _ = write!(
        h,
        "<h2 id=\"messages\">Messages and events</h2>\n<div class=\"filters\">\
<input id=\"q\" type=\"search\" placeholder=\"filter: text, IP, method…\" aria-label=\"filter\"> \
<select id=\"k\" aria-label=\"event type\"><option value=\"\">every type</option>"
    );
    for k in &kinds {
        let _ = write!(h, "<option value=\"{0}\">{0}</option>", esc(k));
    }
    h.push_str(
        "</select> <select id=\"d\" aria-label=\"device\"><option value=\"\">every device</option>",
    );
    for d in &devices {
        let mac = s_of(d, "mac").unwrap_or("");
        let _ = write!(
            h,
            "<option value=\"{}\">{} ({})</option>",
            esc(mac),
            esc(&device_name(d)),
            esc(mac)
        );
    }
    let _ = writeln!(
        h,
        "</select> <span id=\"shown\">{}</span> of {} shown</div>",
        r.events.len(),
        r.events.len()
    );
    h.push_str(
        "<table id=\"events\"><thead><tr><th>Time</th><th>Type</th><th>Device</th><th>Event</th></tr></thead><tbody>\n",
    );
    for e in &r.events {
        let dev = e.devices.join(" ");
        let json = serde_json::to_string_pretty(&e.json).unwrap_or_default();
        let _ = writeln!(
            h,
            "<tr data-event=\"{k}\" data-device=\"{d}\"><td>{}</td><td>{k}</td><td>{d}</td><td class=\"text\">{}\
<details><summary>JSON</summary><pre>{}</pre></details></td></tr>",
            esc(&e.ts),
            esc(&e.text),
            esc(&json),
            k = esc(&e.event),
            d = esc(&dev),
        );
    }
    h.push_str("</tbody></table>\n");
    if r.events_not_listed > 0 {
        let _ = writeln!(
            h,
            "<p class=\"dim\">{} more event(s) not listed (the report keeps {MAX_EVENTS}).</p>",
            r.events_not_listed
        );
    }
    let _ = write!(
        h,
        "<p class=\"dim\">Generated by plugsniff {} from {}. Self-contained: no external resources.</p>\n\
<script>{SCRIPT}</script>\n</body></html>\n",
        env!("CARGO_PKG_VERSION"),
        esc(&r.capture)
    );
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn plot_has_a_polyline_through_every_point() {
        let ax = Axes {
            span: (0.0, 2.0),
            y: None,
            step: false,
        };
        let s = svg_plot("Power", "W", &[(0.0, 1.0), (1.0, 5.0), (2.0, 3.0)], ax);
        assert!(s.starts_with("<svg"));
        assert!(s.ends_with("</svg>"));
        let pts = s
            .split("points=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert_eq!(pts.split(' ').count(), 3);
        // Highest value at the top of the frame, lowest (0 baseline) lower.
        assert!(pts.contains("56.0,"));
        let empty = svg_plot("Power", "W", &[(0.0, f64::NAN)], ax);
        assert!(empty.contains("no reading") && !empty.contains("polyline"));
    }

    #[test]
    fn hostile_strings_are_escaped() {
        let r = Report {
            v: 1,
            capture: "<script>alert(1)</script>".into(),
            counts: Counts {
                captured: 0,
                filtered: 0,
                shed_load: 0,
                pcap_dropped: 0,
                pcap_if_dropped: 0,
            },
            summary: serde_json::json!({"devices":[{"mac":"aa:bb:cc:dd:ee:ff","alias":"</section><img src=http://x>"}]}),
            history: vec![],
            history_refused: 0,
            events: vec![],
            events_not_listed: 0,
        };
        let h = to_html(&r);
        assert!(!h.contains("<img"));
        assert!(!h.contains("<script>alert"));
        assert_eq!(h.matches("<script>").count(), 1);
    }
}
