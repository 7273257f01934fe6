//! `[output.metrics]`: Prometheus metrics on `http://<listen>/metrics`, in
//! the text exposition format 0.0.4 (prometheus.io/docs/instrumenting/
//! exposition_formats).
//!
//! # What is exported
//! Capture (`plugsniff_frames_captured_total`, `…_filtered_total`,
//! `…_shed_total`, libpcap's `plugsniff_pcap_dropped_total`), decryption
//! (`plugsniff_frames_{read,decrypted,plaintext,retransmitted}_total`,
//! `plugsniff_frames_dropped_total{reason}` with every reason, zeros
//! included), the pipeline's queue depth (`plugsniff_pipeline_queued_batches`),
//! every decoder counter of the summary's `decode` object as
//! `plugsniff_decode_<name>_total`, messages and undecodable payloads per
//! protocol, the memory gauges, per-station key status
//! (`plugsniff_station_key_confirmed{bssid,ssid,sta}`), per-plug relay, power,
//! voltage, current, energy, messages and last-seen gauges, attack and
//! anomaly warnings per kind, and the MQTT output's counters when it runs.
//! The names and their meaning are listed in `docs/events.md` ("Metrics").
//! Counters equal the run's final summary once the capture is idle.
//!
//! # How
//! The values live in the engine and the watcher, on the ordered stage's
//! thread. [`MetricsSink`] renders them to text there, at most once per
//! [`RENDER_EVERY`] and at the end of the run, and hands the text to the
//! `metrics` thread, which serves the latest rendering. A scrape so never
//! touches the pipeline, and costs the capture one render per second.
//!
//! # Why no crates
//! - Encoder: every value is a snapshot of a counter owned elsewhere; a
//!   registry crate (`prometheus-client`) would mean mirroring each counter
//!   into its own atomics, or a custom collector that is most of this file
//!   anyway. The format is a few lines of text with one escaping rule, and
//!   the tests parse our output with the Prometheus project's own Python
//!   parser (`prometheus_client.parser`).
//! - Server: one read-only endpoint, GET only, one connection at a time, no
//!   keep-alive: `std::net::TcpListener` with a request head capped at
//!   [`MAX_REQUEST`] bytes and 2-second read and write timeouts, so a slow or
//!   hostile client holds the endpoint for two seconds at most and can never
//!   reach the capture. The listener is bound at start (before privileges
//!   are dropped, so a port below 1024 works) and its thread is started
//!   before the sandbox.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::device_state::{DeviceStates, display_name};
use super::mqtt::MqttStats;
use super::{EventSink, RunView};
use crate::engine::DropReason;
use crate::report::counters::Count;
use crate::report::event::Event;
use crate::report::inventory::Role;

/// Longest rendering interval while running.
pub const RENDER_EVERY: Duration = Duration::from_secs(1);
/// Largest request head read from a client.
pub const MAX_REQUEST: usize = 8 << 10;
/// Read and write timeout per connection.
const IO_TIMEOUT: Duration = Duration::from_secs(2);

/// The metrics endpoint (module doc).
pub struct MetricsSink {
    text: Arc<Mutex<Arc<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    addr: SocketAddr,
    states: DeviceStates,
    mqtt: Option<Arc<MqttStats>>,
    last: Option<Instant>,
}

impl MetricsSink {
    /// Binds `listen` and starts serving (an empty page until the first
    /// rendering).
    pub fn start(listen: SocketAddr, mqtt: Option<Arc<MqttStats>>) -> std::io::Result<Self> {
        let listener = TcpListener::bind(listen)?;
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let text = Arc::new(Mutex::new(Arc::new(String::new())));
        let stop = Arc::new(AtomicBool::new(false));
        let (t, s) = (text.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("metrics".into())
            .spawn(move || serve(listener, t, s))?;
        Ok(MetricsSink {
            text,
            stop,
            thread: Some(thread),
            addr,
            states: DeviceStates::default(),
            mqtt,
            last: None,
        })
    }

    /// Where it listens (the port, when `listen` asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    fn render_now(&mut self, view: &RunView<'_>) {
        let text = render(view, &self.states, self.mqtt.as_deref());
        if let Ok(mut t) = self.text.lock() {
            *t = Arc::new(text);
        }
        self.last = Some(Instant::now());
    }
}

impl EventSink for MetricsSink {
    fn event(&mut self, e: &Event, view: &RunView<'_>) -> std::io::Result<()> {
        self.states.on_event(e, view.inventory);
        Ok(())
    }
    fn tick(&mut self, view: &RunView<'_>) -> std::io::Result<()> {
        if self.last.is_none_or(|t| t.elapsed() >= RENDER_EVERY) {
            self.render_now(view);
        }
        Ok(())
    }
    fn finish(&mut self, view: &RunView<'_>) -> std::io::Result<()> {
        self.render_now(view);
        Ok(())
    }
}

impl Drop for MetricsSink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(listener: TcpListener, text: Arc<Mutex<Arc<String>>>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((conn, _)) => {
                let body = text.lock().map(|t| t.clone()).unwrap_or_default();
                if let Err(e) = answer(conn, &body) {
                    tracing::debug!("metrics: {e}");
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => {
                tracing::debug!("metrics: accept: {e}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// Reads one request head and answers it.
fn answer(mut conn: TcpStream, body: &str) -> std::io::Result<()> {
    conn.set_nonblocking(false)?;
    conn.set_read_timeout(Some(IO_TIMEOUT))?;
    conn.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
        if head.len() > MAX_REQUEST {
            respond(
                &mut conn,
                "431 Request Header Fields Too Large",
                "text/plain",
                "",
            )?;
            // Read what the client still sends (bounded by the timeout), so
            // closing does not reset the connection under the answer.
            conn.shutdown(std::net::Shutdown::Write)?;
            let mut left = 1usize << 20;
            while left > 0 {
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => left = left.saturating_sub(n),
                }
            }
            return Ok(());
        }
    }
    let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    match (method, path) {
        ("GET", "/metrics") => respond(
            &mut conn,
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            body,
        ),
        ("GET", "/") => respond(
            &mut conn,
            "200 OK",
            "text/html; charset=utf-8",
            "<html><body><a href=\"/metrics\">/metrics</a></body></html>\n",
        ),
        ("GET", _) => respond(&mut conn, "404 Not Found", "text/plain", "not found\n"),
        _ => respond(
            &mut conn,
            "405 Method Not Allowed",
            "text/plain",
            "GET only\n",
        ),
    }
}

fn respond(conn: &mut TcpStream, status: &str, ctype: &str, body: &str) -> std::io::Result<()> {
    write!(
        conn,
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    conn.write_all(body.as_bytes())?;
    conn.flush()
}

/// The text exposition of a run's state.
pub fn render(view: &RunView<'_>, states: &DeviceStates, mqtt: Option<&MqttStats>) -> String {
    let mut w = Writer::default();
    let cap = &view.capture;
    let c = &view.engine.counters;
    w.one(
        "plugsniff_build_info",
        "gauge",
        "Always 1; the version as a label.",
        &[("version", env!("CARGO_PKG_VERSION"))],
        1.0,
    );
    for (name, help, v) in [
        (
            "plugsniff_frames_captured_total",
            "Frames read from the capture source.",
            cap.captured,
        ),
        (
            "plugsniff_frames_filtered_total",
            "Frames of a file the -f filter rejected.",
            cap.filtered,
        ),
        (
            "plugsniff_frames_shed_total",
            "Live frames dropped because the pipeline could not keep up (shed_load).",
            cap.shed_load,
        ),
        (
            "plugsniff_pcap_dropped_total",
            "libpcap's ps_drop: frames the kernel buffer had no room for.",
            cap.pcap_dropped,
        ),
        (
            "plugsniff_pcap_interface_dropped_total",
            "libpcap's ps_ifdrop: frames the interface dropped.",
            cap.pcap_if_dropped,
        ),
        (
            "plugsniff_frames_read_total",
            "802.11 frames the engine read.",
            c.read,
        ),
        (
            "plugsniff_frames_decrypted_total",
            "Protected frames decrypted.",
            c.decrypted,
        ),
        (
            "plugsniff_frames_retransmitted_total",
            "MAC-layer retransmissions (a subset of decrypted).",
            c.retransmitted,
        ),
        (
            "plugsniff_frames_plaintext_total",
            "Frames passed on unprotected.",
            c.plaintext,
        ),
    ] {
        w.one(name, "counter", help, &[], v as f64);
    }
    w.head(
        "plugsniff_frames_dropped_total",
        "counter",
        "Frames not passed on, by reason (docs/events.md, Drop reasons).",
    );
    for r in DropReason::ALL {
        w.sample(
            "plugsniff_frames_dropped_total",
            &[("reason", r.name())],
            c.dropped(r) as f64,
        );
    }
    w.one(
        "plugsniff_pipeline_queued_batches",
        "gauge",
        "Batches of up to 64 frames waiting between the capture thread, the decrypt workers and the ordered stage.",
        &[],
        cap.queued_batches as f64,
    );
    for (k, v) in view.stats.iter() {
        let name = format!("plugsniff_decode_{}_total", k.name());
        w.one(&name, "counter", decode_help(k), &[], v as f64);
    }
    for (name, help, map) in [
        (
            "plugsniff_messages_total",
            "Plug messages decoded, by protocol.",
            &view.stats.messages,
        ),
        (
            "plugsniff_undecodable_total",
            "Undecodable payloads and labels, by protocol.",
            &view.stats.undecodable,
        ),
        (
            "plugsniff_desyncs_total",
            "Framing lost and found again, by protocol.",
            &view.stats.desyncs,
        ),
    ] {
        w.head(name, "counter", help);
        for (p, v) in map {
            w.sample(name, &[("protocol", p)], *v as f64);
        }
    }
    w.one(
        "plugsniff_tcp_buffered_bytes",
        "gauge",
        "Out-of-order TCP bytes buffered, all flows.",
        &[],
        view.stats.tcp_buffered as f64,
    );
    w.one(
        "plugsniff_decoder_held_bytes",
        "gauge",
        "Heap bytes the decoders of all flows hold.",
        &[],
        view.stats.decoder_held as f64,
    );
    w.head(
        "plugsniff_devices",
        "gauge",
        "Devices in the inventory, by role.",
    );
    for (role, r) in [("plug", Role::Plug), ("controller", Role::Controller)] {
        let n = view.inventory.devices().filter(|d| d.role == r).count();
        w.sample("plugsniff_devices", &[("role", role)], n as f64);
    }
    w.one(
        "plugsniff_devices_refused_total",
        "counter",
        "Devices not stored because the inventory was full.",
        &[],
        view.inventory.refused as f64,
    );
    // Stations and their keys.
    let wifi = super::summary::WifiSummary::from_engine(view.engine);
    w.head(
        "plugsniff_station_key_confirmed",
        "gauge",
        "1 when a pairwise key is confirmed for the station, 0 otherwise.",
    );
    for n in &wifi.networks {
        for s in &n.stations {
            w.sample(
                "plugsniff_station_key_confirmed",
                &[
                    ("bssid", &n.bssid),
                    ("ssid", n.ssid.as_deref().unwrap_or("")),
                    ("sta", &s.mac),
                ],
                if s.key_confirmed { 1.0 } else { 0.0 },
            );
        }
    }
    w.head(
        "plugsniff_station_handshakes_failed_total",
        "counter",
        "Handshakes of the station that failed.",
    );
    for n in &wifi.networks {
        for s in &n.stations {
            w.sample(
                "plugsniff_station_handshakes_failed_total",
                &[("bssid", &n.bssid), ("sta", &s.mac)],
                f64::from(s.handshakes_failed),
            );
        }
    }
    w.head(
        "plugsniff_warnings_total",
        "counter",
        "Attack and anomaly warnings raised, by kind (repeats included).",
    );
    for (k, v) in &view.engine.warnings.totals {
        w.sample("plugsniff_warnings_total", &[("kind", k)], *v as f64);
    }
    // Plugs.
    let plugs: Vec<_> = view
        .inventory
        .devices()
        .filter(|d| d.role == Role::Plug)
        .collect();
    type Get = fn(&crate::report::inventory::Device, &DeviceStates) -> Option<f64>;
    let gauges: [(&str, &str, Get); 6] = [
        (
            "plugsniff_device_relay_on",
            "1 when the plug's relay was last seen on, 0 off.",
            |d, _| d.relay_on.map(|on| if on { 1.0 } else { 0.0 }),
        ),
        (
            "plugsniff_device_power_watts",
            "The plug's last power reading.",
            |d, _| d.power_w,
        ),
        (
            "plugsniff_device_voltage_volts",
            "The plug's last voltage reading.",
            |d, _| d.voltage_v,
        ),
        (
            "plugsniff_device_current_amperes",
            "The plug's last current reading.",
            |d, s| s.current_a(&d.mac),
        ),
        (
            "plugsniff_device_energy_kwh",
            "The energy total the plug reports (kWh).",
            |d, _| d.total_kwh,
        ),
        (
            "plugsniff_device_last_seen_timestamp_seconds",
            "Capture time the plug was last seen (Unix seconds).",
            |d, _| Some(d.last_seen.sec as f64 + f64::from(d.last_seen.nsec) / 1e9),
        ),
    ];
    for (name, help, get) in gauges {
        w.head(name, "gauge", help);
        for d in &plugs {
            if let Some(v) = get(d, states) {
                let mac = d.mac.to_string();
                w.sample(name, &[("mac", &mac), ("name", &display_name(d))], v);
            }
        }
    }
    w.head(
        "plugsniff_device_messages_total",
        "counter",
        "Messages decoded to or from the plug.",
    );
    for d in &plugs {
        let mac = d.mac.to_string();
        w.sample(
            "plugsniff_device_messages_total",
            &[("mac", &mac), ("name", &display_name(d))],
            d.messages as f64,
        );
    }
    if let Some(m) = mqtt {
        let g = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed) as f64;
        for (name, kind, help, v) in [
            (
                "plugsniff_mqtt_events_queued_total",
                "counter",
                "Events accepted into the MQTT queue.",
                g(&m.events_queued),
            ),
            (
                "plugsniff_mqtt_events_dropped_total",
                "counter",
                "Events dropped: the MQTT queue was full, or the event too large.",
                g(&m.events_dropped),
            ),
            (
                "plugsniff_mqtt_queue_depth",
                "gauge",
                "Events waiting in the MQTT queue.",
                g(&m.queue_depth),
            ),
            (
                "plugsniff_mqtt_connected",
                "gauge",
                "1 while connected to the broker.",
                if m.connected.load(Ordering::Relaxed) {
                    1.0
                } else {
                    0.0
                },
            ),
            (
                "plugsniff_mqtt_connects_total",
                "counter",
                "Connections made to the broker.",
                g(&m.connects),
            ),
            (
                "plugsniff_mqtt_connect_failures_total",
                "counter",
                "Connection attempts failed and connections lost.",
                g(&m.connect_failures),
            ),
        ] {
            w.one(name, kind, help, &[], v);
        }
    }
    w.out
}

fn decode_help(c: Count) -> &'static str {
    match c {
        Count::Msdus => "MSDUs (or wired frames) handed to the layers above the link.",
        Count::RelayedDuplicates => {
            "MSDUs the AP relayed between two stations (second copy, not decoded again)."
        }
        Count::FlowsRefused => "New flows refused by a full flow table.",
        Count::TcpBudgetFlushes => {
            "Streams that gave up their holes to the global out-of-order budget."
        }
        Count::DecoderBudgetReleases => {
            "Flows whose decoders dropped partial messages to the global budget."
        }
        _ => "A decoding counter of the summary's decode object (docs/events.md).",
    }
}

/// Text exposition writer: HELP and TYPE once per family, escaped labels.
#[derive(Default)]
struct Writer {
    out: String,
    seen: BTreeMap<String, ()>,
}

impl Writer {
    fn head(&mut self, name: &str, kind: &str, help: &str) {
        if self.seen.insert(name.to_owned(), ()).is_some() {
            return;
        }
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], v: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, val)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape_label(val));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {}", number(v));
    }
    fn one(&mut self, name: &str, kind: &str, help: &str, labels: &[(&str, &str)], v: f64) {
        self.head(name, kind, help);
        self.sample(name, labels, v);
    }
}

/// Label values escape `\`, `"` and newline (exposition format 0.0.4).
pub fn escape_label(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '\\' => o.push_str("\\\\"),
            '"' => o.push_str("\\\""),
            '\n' => o.push_str("\\n"),
            c => o.push(c),
        }
    }
    o
}

/// Go's float formatting as Prometheus reads it: `NaN`, `+Inf`, `-Inf`.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_numbers() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(number(f64::NAN), "NaN");
        assert_eq!(number(f64::INFINITY), "+Inf");
        assert_eq!(number(3.0), "3");
        assert_eq!(number(94.512), "94.512");
        let mut w = Writer::default();
        w.one("x_total", "counter", "h\nx", &[("l", "v")], 2.0);
        w.one("x_total", "counter", "h", &[("l", "w")], 3.0);
        assert_eq!(
            w.out,
            "# HELP x_total h\\nx\n# TYPE x_total counter\nx_total{l=\"v\"} 2\nx_total{l=\"w\"} 3\n"
        );
    }

    /// The endpoint answers GET /metrics, refuses other methods, and a
    /// client that sends an endless head is cut off.
    #[test]
    fn serves_metrics_only() {
        let s = MetricsSink::start("127.0.0.1:0".parse().unwrap(), None).unwrap();
        *s.text.lock().unwrap() = Arc::new("a_total 1\n".into());
        let get = |req: &[u8]| -> String {
            let mut c = TcpStream::connect(s.local_addr()).unwrap();
            c.write_all(req).unwrap();
            let mut out = String::new();
            let _ = c.read_to_string(&mut out);
            out
        };
        let r = get(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
        assert!(r.ends_with("\r\n\r\na_total 1\n"), "{r}");
        assert!(get(b"POST /metrics HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405"));
        assert!(get(b"GET /nope HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404"));
        let big = vec![b'a'; MAX_REQUEST + 2048];
        assert!(get(&big).starts_with("HTTP/1.1 431"));
    }
}
