//! `[output.mqtt]`: events, device state and sensor health to an MQTT broker
//! (3.1.1 or 5, plain or TLS), with Home Assistant discovery.
//!
//! # Topics (the contract, `docs/events.md` "MQTT")
//! - `<prefix>/<sensor>/events/<event>`: every event as its JSON line (with
//!   `"sensor"` and the message `"id"`), QoS `qos_events` (0), not retained.
//! - `<prefix>/<sensor>/device/<mac>/state` and `<prefix>/devices/<mac>/state`:
//!   a plug's state document ([`super::device_state`]), retained, QoS
//!   `qos_state` (1). The first is this sensor's view; the second is shared
//!   by every sensor that hears the plug (Home Assistant reads it).
//! - `<prefix>/<sensor>/status`: the sensor's health (capture counters,
//!   drops, keys, the MQTT queue), retained; `{"state":"online",…}` while
//!   running, `{"state":"offline",…}` after a clean stop, and the same
//!   `offline` document as the connection's last will.
//! - `<ha_prefix>/…/config`: Home Assistant discovery ([`super::ha_discovery`]).
//!
//! # Never blocking the capture
//! [`MqttSink`] runs on the ordered stage's thread and only ever *tries*:
//! an event goes into a bounded queue of `queue` events (`try_send`); when
//! the queue is full (the broker is away, or slower than the air) the event
//! is dropped and counted (`events_dropped`). Retained documents (state,
//! discovery, status) are coalesced per topic, latest wins, so they need no
//! bound beyond the number of topics (per plug of the bounded inventory,
//! nine at most). The network side is the `mqtt` thread: rumqttc's event
//! loop on a current-thread tokio runtime, fed from the queue.
//!
//! # While the broker is away
//! Nothing is handed to rumqttc while the connection is down, so the queue
//! is the only buffer and `queue` means what it says. The `mqtt` thread
//! reconnects with exponential backoff (`reconnect_min` doubling to
//! `reconnect_max`). What rumqttc held when the connection broke
//! (publishes not yet written, QoS 1/2 publishes not yet acknowledged) is
//! taken out of its event loop before the reconnect can discard it (a clean
//! session drops them) and handed back first after the new CONNACK. After
//! every reconnect, every retained document is published again (a restarted
//! broker without persistence has lost them). A QoS 1 event may so arrive
//! twice: consumers de-duplicate by `id`. A QoS 0 event written to a socket
//! just as the broker died is lost without being counted: for exact
//! accounting across broker restarts use `qos_events = 1`.
//!
//! # Accounting
//! Every event offered is `queued` or `dropped`; every queued event is, at
//! the end, `published` (written to the broker before the final DISCONNECT,
//! which the broker processes after it) or `unsent` (still queued when
//! `flush_timeout` ran out). `queued = published + unsent` exactly, and both
//! are printed when the run ends (`plugsniff: mqtt: …`). After the
//! DISCONNECT the thread reads until the broker closes: closing with the
//! broker's acknowledgements unread would make the kernel send a TCP reset,
//! and a reset makes the broker's kernel discard what it had not read yet
//! (seen: 12 of 29 events arrived before this was done).
//!
//! # Bounds
//! The queue (`queue` events, at most `cli::outputs::MAX_QUEUE`); an event
//! at most [`MAX_PACKET`] bytes; rumqttc's own channel (`CLIENT_CHANNEL`,
//! 64 requests) and in-flight window (100); one retained document per topic,
//! twice (pending and sent), for at most nine topics per plug of the
//! inventory (`MAX_DEVICES`) and the sensor's nine.
//!
//! # Failures at start
//! The sink waits up to `connect_wait` for the first connection. A broker
//! that refuses it (bad user name or password, not authorized, bad client
//! id, protocol version) or a TLS failure (certificate not trusted, wrong
//! name) is a configuration error: [`MqttSink::start`] fails and the command
//! exits 4 before capturing. A broker that is merely unreachable is retried
//! in the background: capture starts anyway.
//!
//! # Secrets
//! The password comes from the config file only (never the command line),
//! lives in a `Zeroizing` string here, and is never logged; [`MqttConfig`]'s
//! `Debug` shows `<redacted>`. rumqttc keeps its own copy for reconnects.
//!
//! # Sandbox
//! The `mqtt` thread is started before `cli::sandbox` confines the process
//! (Landlock binds the calling thread and the threads it starts later), so it
//! can resolve the broker's name again on every reconnect; it opens no files
//! after start (the CA and client certificate are read here, at start).

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use zeroize::Zeroizing;

use super::device_state::DeviceStates;
use super::ha_discovery;
use super::{EventSink, RunView};
use crate::report::event::{Event, EventBody};
use crate::report::inventory::Role;

/// Requests rumqttc's channel holds between the queue and the network.
const CLIENT_CHANNEL: usize = 64;
/// How long a clean stop waits for the broker to close after DISCONNECT.
const CLOSE_WAIT: Duration = Duration::from_secs(2);
/// Largest MQTT packet sent or accepted. An event whose JSON does not fit is
/// dropped and counted (`events_oversized`) rather than break the session.
pub const MAX_PACKET: usize = 1 << 20;

/// MQTT protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// MQTT 3.1.1 (protocol level 4).
    V311,
    /// MQTT 5.
    V5,
}

/// PEM files for TLS, read at start.
#[derive(Default)]
pub struct TlsFiles {
    /// CA certificates to trust instead of the system's roots.
    pub ca_pem: Option<Vec<u8>>,
    /// Client certificate chain and key, for brokers that require them.
    pub client_cert_pem: Option<Vec<u8>>,
    pub client_key_pem: Option<Zeroizing<Vec<u8>>>,
}

/// Everything the sink needs (built by `cli` from `[output.mqtt]`).
pub struct MqttConfig {
    pub host: String,
    pub port: u16,
    /// `mqtts://`: TLS with these files (empty: the system's roots).
    pub tls: Option<TlsFiles>,
    pub protocol: Protocol,
    /// This sensor's name in topics and payloads.
    pub sensor: String,
    pub topic_prefix: String,
    pub ha_discovery: bool,
    pub ha_prefix: String,
    pub username: Option<String>,
    pub password: Option<Zeroizing<String>>,
    pub client_id: String,
    pub qos_events: u8,
    pub qos_state: u8,
    /// Events held while the broker is away or slow.
    pub queue: usize,
    pub keep_alive: Duration,
    /// How long start waits for the first connection.
    pub connect_wait: Duration,
    /// How long the end of the run waits for the queue to reach the broker.
    pub flush_timeout: Duration,
    pub reconnect_min: Duration,
    pub reconnect_max: Duration,
    /// How often the status document is refreshed.
    pub status_every: Duration,
}

impl MqttConfig {
    /// The broker as a URL, for messages (`mqtts://host:8883`).
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "mqtts" } else { "mqtt" };
        if self.host.contains(':') {
            format!("{scheme}://[{}]:{}", self.host, self.port)
        } else {
            format!("{scheme}://{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Debug for MqttConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MqttConfig")
            .field("url", &self.url())
            .field("protocol", &self.protocol)
            .field("sensor", &self.sensor)
            .field("topic_prefix", &self.topic_prefix)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("client_id", &self.client_id)
            .field("qos", &(self.qos_events, self.qos_state))
            .field("queue", &self.queue)
            .finish_non_exhaustive()
    }
}

/// Why the sink could not start.
#[derive(Debug, thiserror::Error)]
pub enum MqttError {
    /// The broker answered the CONNECT with a refusal.
    #[error("{url}: the broker refused the connection: {reason}")]
    Refused { url: String, reason: String },
    #[error("{url}: TLS: {reason}")]
    Tls { url: String, reason: String },
    #[error("{url}: {reason}")]
    Setup { url: String, reason: String },
}

/// Counters shared with the status document and the metrics sink.
#[derive(Debug, Default)]
pub struct MqttStats {
    pub events_queued: AtomicU64,
    pub events_dropped: AtomicU64,
    pub events_oversized: AtomicU64,
    /// Known at the end of the run.
    pub events_published: AtomicU64,
    pub events_unsent: AtomicU64,
    /// Events in the queue now (updated at every tick).
    pub queue_depth: AtomicU64,
    pub connected: AtomicBool,
    /// Successful connections (the first one included).
    pub connects: AtomicU64,
    /// Connections lost or attempts failed.
    pub connect_failures: AtomicU64,
}

impl MqttStats {
    fn get(a: &AtomicU64) -> u64 {
        a.load(Ordering::Relaxed)
    }
    fn inc(a: &AtomicU64) {
        a.fetch_add(1, Ordering::Relaxed);
    }
}

/// An event on its way to the broker.
struct Msg {
    topic: String,
    payload: Vec<u8>,
}

/// A retained document.
#[derive(Clone)]
struct Doc {
    payload: Vec<u8>,
    qos: u8,
}

/// Retained documents between the sink and the `mqtt` thread.
#[derive(Default)]
struct Retained {
    /// Not yet handed to the client: the latest per topic.
    pending: BTreeMap<String, Doc>,
    /// Handed to the client: the latest per topic, published again after
    /// every reconnect.
    memory: BTreeMap<String, Doc>,
}

/// What the sink and the `mqtt` thread share.
struct Shared {
    stats: Arc<MqttStats>,
    retained: Mutex<Retained>,
    /// New retained documents, or the queue closed.
    wake: tokio::sync::Notify,
    /// Give up (flush timeout).
    abort: tokio::sync::Notify,
    aborted: AtomicBool,
    /// Every event topic starts with this (`<prefix>/<sensor>/events/`).
    events_prefix: String,
}

/// The first connection's outcome, for [`MqttSink::start`].
enum Startup {
    Connected,
    Failed(Failure),
}

/// Why a connection attempt failed.
#[derive(Debug, Clone)]
enum Failure {
    /// The broker said no: a configuration error.
    Refused(String),
    Tls(String),
    /// Unreachable, timed out, dropped: retried.
    Transient(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Refused(s) => write!(f, "refused: {s}"),
            Failure::Tls(s) => write!(f, "TLS: {s}"),
            Failure::Transient(s) => f.write_str(s),
        }
    }
}

/// The MQTT output (module doc).
pub struct MqttSink {
    shared: Arc<Shared>,
    events: Option<tokio::sync::mpsc::Sender<Msg>>,
    queue: usize,
    thread: Option<std::thread::JoinHandle<()>>,
    done: std::sync::mpsc::Receiver<()>,
    url: String,
    sensor: String,
    prefix: String,
    ha_prefix: Option<String>,
    qos_state: u8,
    flush_timeout: Duration,
    status_every: Duration,
    last_status: Option<Instant>,
    states: DeviceStates,
    /// Discovery documents sent, by topic (sent again only when changed).
    discovery: BTreeMap<String, Vec<u8>>,
    /// The sensor device's discovery documents were queued.
    sensor_discovered: bool,
    /// When the queue last overflowed (to log an outage once).
    dropping_since: Option<Instant>,
}

impl MqttSink {
    /// Starts the `mqtt` thread and waits (up to `connect_wait`) for the
    /// first connection (module doc, "Failures at start").
    pub fn start(cfg: MqttConfig) -> Result<MqttSink, MqttError> {
        let url = cfg.url();
        let tls = match &cfg.tls {
            Some(files) => Some(tls_config(files).map_err(|reason| MqttError::Tls {
                url: url.clone(),
                reason,
            })?),
            None => None,
        };
        let (events_tx, events_rx) = tokio::sync::mpsc::channel::<Msg>(cfg.queue.max(1));
        let shared = Arc::new(Shared {
            stats: Arc::new(MqttStats::default()),
            retained: Mutex::new(Retained::default()),
            wake: tokio::sync::Notify::new(),
            abort: tokio::sync::Notify::new(),
            aborted: AtomicBool::new(false),
            events_prefix: format!("{}/{}/events/", cfg.topic_prefix, cfg.sensor),
        });
        let (startup_tx, startup_rx) = std::sync::mpsc::sync_channel::<Startup>(1);
        let (done_tx, done_rx) = std::sync::mpsc::sync_channel::<()>(1);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| MqttError::Setup {
                url: url.clone(),
                reason: format!("cannot start the MQTT runtime: {e}"),
            })?;
        let status = ha_discovery::status_topic(&cfg.topic_prefix, &cfg.sensor);
        let will = offline_doc(&cfg.sensor);
        let opts = Opts {
            host: cfg.host.clone(),
            port: cfg.port,
            tls,
            client_id: cfg.client_id.clone(),
            username: cfg.username.clone(),
            password: cfg.password.clone(),
            keep_alive: cfg.keep_alive,
            will_topic: status,
            will_payload: will,
            will_qos: cfg.qos_state,
        };
        let sh = shared.clone();
        let timing = Timing {
            min: cfg.reconnect_min,
            max: cfg.reconnect_max.max(cfg.reconnect_min),
        };
        let qos_events = cfg.qos_events;
        let protocol = cfg.protocol;
        let thread = std::thread::Builder::new()
            .name("mqtt".into())
            .spawn(move || {
                rt.block_on(async move {
                    let io = Io {
                        sh: &sh,
                        startup: std::cell::RefCell::new(Some(startup_tx)),
                        timing,
                        qos_events,
                        in_hand: std::cell::Cell::new(false),
                    };
                    match protocol {
                        Protocol::V311 => run::<V4>(&io, opts, events_rx).await,
                        Protocol::V5 => run::<V5>(&io, opts, events_rx).await,
                    }
                });
                let _ = done_tx.send(());
            })
            .map_err(|e| MqttError::Setup {
                url: url.clone(),
                reason: format!("cannot start the MQTT thread: {e}"),
            })?;
        let mut sink = MqttSink {
            shared,
            events: Some(events_tx),
            queue: cfg.queue.max(1),
            thread: Some(thread),
            done: done_rx,
            url: url.clone(),
            sensor: cfg.sensor,
            prefix: cfg.topic_prefix,
            ha_prefix: cfg.ha_discovery.then_some(cfg.ha_prefix),
            qos_state: cfg.qos_state,
            flush_timeout: cfg.flush_timeout,
            status_every: cfg.status_every,
            last_status: None,
            states: DeviceStates::default(),
            discovery: BTreeMap::new(),
            sensor_discovered: false,
            dropping_since: None,
        };
        match startup_rx.recv_timeout(cfg.connect_wait) {
            Ok(Startup::Connected) => {
                tracing::info!("MQTT: connected to {url}");
            }
            Ok(Startup::Failed(Failure::Refused(reason))) => {
                sink.abort();
                return Err(MqttError::Refused { url, reason });
            }
            Ok(Startup::Failed(Failure::Tls(reason))) => {
                sink.abort();
                return Err(MqttError::Tls { url, reason });
            }
            Ok(Startup::Failed(Failure::Transient(why))) => {
                eprintln!(
                    "plugsniff: warning: MQTT broker {url} not reachable ({why}); \
                     retrying in the background, events are queued (up to {}) meanwhile",
                    sink.queue
                );
            }
            Err(_) => {
                eprintln!(
                    "plugsniff: warning: MQTT broker {url}: no connection after {:?}; \
                     retrying in the background",
                    cfg.connect_wait
                );
            }
        }
        Ok(sink)
    }

    /// The counters (for the metrics sink).
    pub fn stats(&self) -> Arc<MqttStats> {
        self.shared.stats.clone()
    }

    fn abort(&mut self) {
        self.events = None;
        self.shared.aborted.store(true, Ordering::SeqCst);
        self.shared.abort.notify_one();
        self.shared.wake.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    fn retain(&self, topic: String, payload: Vec<u8>) {
        if let Ok(mut r) = self.shared.retained.lock() {
            r.pending.insert(
                topic,
                Doc {
                    payload,
                    qos: self.qos_state,
                },
            );
        }
        self.shared.wake.notify_one();
    }

    /// State (and discovery) of the devices that changed.
    fn publish_states(&mut self, view: &RunView<'_>) {
        for mac in self.states.take_dirty() {
            let Some(d) = view.inventory.get(&mac) else {
                continue;
            };
            if d.role != Role::Plug {
                continue;
            }
            let doc = self.states.state(d, view.inventory, &self.sensor);
            let payload = serde_json::to_vec(&doc).unwrap_or_default();
            self.retain(
                format!("{}/{}/device/{}/state", self.prefix, self.sensor, d.mac),
                payload.clone(),
            );
            self.retain(ha_discovery::shared_state_topic(&self.prefix, d), payload);
            if let Some(ha) = &self.ha_prefix {
                let cx = ha_discovery::Ctx {
                    ha_prefix: ha,
                    prefix: &self.prefix,
                    sensor: &self.sensor,
                };
                for (topic, doc) in ha_discovery::plug_configs(&cx, d, &self.states) {
                    let payload = serde_json::to_vec(&doc).unwrap_or_default();
                    if self.discovery.get(&topic) != Some(&payload) {
                        self.discovery.insert(topic.clone(), payload.clone());
                        self.retain(topic, payload);
                    }
                }
            }
        }
    }

    fn publish_status(&mut self, view: &RunView<'_>, state: &str) {
        if !self.sensor_discovered {
            self.sensor_discovered = true;
            if let Some(ha) = &self.ha_prefix {
                let cx = ha_discovery::Ctx {
                    ha_prefix: ha,
                    prefix: &self.prefix,
                    sensor: &self.sensor,
                };
                for (topic, doc) in ha_discovery::sensor_configs(&cx) {
                    self.retain(topic, serde_json::to_vec(&doc).unwrap_or_default());
                }
            }
        }
        let doc = status_doc(&self.sensor, state, view, &self.shared.stats, self.queue);
        self.retain(
            ha_discovery::status_topic(&self.prefix, &self.sensor),
            doc.into_bytes(),
        );
        self.last_status = Some(Instant::now());
    }

    fn note_depth(&self) {
        if let Some(tx) = &self.events {
            let depth = self.queue.saturating_sub(tx.capacity());
            self.shared
                .stats
                .queue_depth
                .store(depth as u64, Ordering::Relaxed);
        }
    }
}

impl EventSink for MqttSink {
    fn event(&mut self, e: &Event, view: &RunView<'_>) -> std::io::Result<()> {
        self.states.on_event(e, view.inventory);
        let stats = &self.shared.stats;
        let topic = format!("{}{}", self.shared.events_prefix, event_name(&e.body));
        let payload = super::json::to_json_line_from(e, Some(&self.sensor)).into_bytes();
        if payload.len() + topic.len() + 16 > MAX_PACKET {
            MqttStats::inc(&stats.events_oversized);
            MqttStats::inc(&stats.events_dropped);
            return Ok(());
        }
        let Some(tx) = &self.events else {
            MqttStats::inc(&stats.events_dropped);
            return Ok(());
        };
        match tx.try_send(Msg { topic, payload }) {
            Ok(()) => {
                MqttStats::inc(&stats.events_queued);
                if let Some(t) = self.dropping_since.take() {
                    tracing::info!("MQTT: queue accepting events again after {:?}", t.elapsed());
                }
            }
            Err(_) => {
                MqttStats::inc(&stats.events_dropped);
                if self.dropping_since.is_none() {
                    self.dropping_since = Some(Instant::now());
                    eprintln!(
                        "plugsniff: warning: MQTT queue full ({} events, broker {}): dropping events (counted)",
                        self.queue, self.url
                    );
                }
            }
        }
        Ok(())
    }

    fn tick(&mut self, view: &RunView<'_>) -> std::io::Result<()> {
        self.publish_states(view);
        if self
            .last_status
            .is_none_or(|t| t.elapsed() >= self.status_every)
        {
            self.publish_status(view, "online");
        }
        self.note_depth();
        Ok(())
    }

    fn finish(&mut self, view: &RunView<'_>) -> std::io::Result<()> {
        self.publish_states(view);
        self.note_depth();
        // The final status is in place before the queue closes: closing it
        // lets the thread publish what it holds and the retained documents,
        // then disconnect (no last will on a clean stop); a status set after
        // that could miss the final round.
        self.publish_status(view, "offline");
        self.events = None;
        self.shared.wake.notify_one();
        if self.done.recv_timeout(self.flush_timeout).is_err() {
            self.shared.aborted.store(true, Ordering::SeqCst);
            self.shared.abort.notify_one();
            self.shared.wake.notify_one();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let s = &self.shared.stats;
        let (queued, unsent) = (
            MqttStats::get(&s.events_queued),
            MqttStats::get(&s.events_unsent),
        );
        s.events_published
            .store(queued.saturating_sub(unsent), Ordering::Relaxed);
        eprintln!(
            "plugsniff: mqtt: {} events queued, {} published, {} unsent, {} dropped (queue full or too large); broker {}",
            queued,
            queued.saturating_sub(unsent),
            unsent,
            MqttStats::get(&s.events_dropped),
            self.url
        );
        Ok(())
    }
}

impl Drop for MqttSink {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.abort();
        }
    }
}

/// The `event` field of an event, as in its JSON.
pub fn event_name(b: &EventBody) -> &'static str {
    match b {
        EventBody::Message(_) => "message",
        EventBody::Discovery(_) => "discovery",
        EventBody::CredentialLeak(_) => "credential_leak",
        EventBody::CloudLink(_) => "cloud_link",
        EventBody::Handshake(_) => "handshake",
        EventBody::Undecodable(_) => "undecodable",
        EventBody::Warning(_) => "warning",
        EventBody::KlapSession(_) => "klap_session",
    }
}

/// The last will, and the status after a clean stop, before any counter.
fn offline_doc(sensor: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({"v": 1, "sensor": sensor, "state": "offline"}))
        .unwrap_or_default()
}

/// The sensor's status document (`docs/events.md`, "Sensor status").
fn status_doc(
    sensor: &str,
    state: &str,
    view: &RunView<'_>,
    mqtt: &MqttStats,
    queue: usize,
) -> String {
    let c = &view.engine.counters;
    let wifi = super::summary::WifiSummary::from_engine(view.engine);
    let stations: Vec<_> = wifi.networks.iter().flat_map(|n| &n.stations).collect();
    let dropped: BTreeMap<&str, u64> = crate::engine::DropReason::ALL
        .iter()
        .filter(|r| c.dropped(**r) > 0)
        .map(|r| (r.name(), c.dropped(*r)))
        .collect();
    let now = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let doc = serde_json::json!({
        "v": 1,
        "sensor": sensor,
        "state": state,
        "version": env!("CARGO_PKG_VERSION"),
        "ts": now,
        "capture": {
            "captured": view.capture.captured,
            "filtered": view.capture.filtered,
            "shed_load": view.capture.shed_load,
            "pcap_dropped": view.capture.pcap_dropped,
            "pcap_if_dropped": view.capture.pcap_if_dropped,
        },
        "frames": {
            "read": c.read,
            "decrypted": c.decrypted,
            "plaintext": c.plaintext,
            "dropped": c.dropped_total(),
            "dropped_by_reason": dropped,
        },
        "keys": {
            "stations": stations.len(),
            "confirmed": stations.iter().filter(|s| s.key_confirmed).count(),
        },
        "devices": view.inventory.len(),
        "plugs": view.inventory.devices().filter(|d| d.role == Role::Plug).count(),
        "messages": view.stats.messages.values().sum::<u64>(),
        "mqtt": {
            "events_queued": MqttStats::get(&mqtt.events_queued),
            "events_dropped": MqttStats::get(&mqtt.events_dropped),
            "queue_depth": MqttStats::get(&mqtt.queue_depth),
            "queue_capacity": queue,
        },
    });
    doc.to_string()
}

/// rustls with the `ring` provider, the CA file or the system's roots, and
/// an optional client certificate.
fn tls_config(files: &TlsFiles) -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    match &files.ca_pem {
        Some(pem) => {
            for c in rustls_pemfile::certs(&mut &pem[..]) {
                let c = c.map_err(|e| format!("ca_file: {e}"))?;
                roots
                    .add(c)
                    .map_err(|e| format!("ca_file: certificate refused: {e}"))?;
            }
            if roots.is_empty() {
                return Err("ca_file holds no PEM certificate".into());
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err("no system CA certificates found: set ca_file".into());
            }
        }
    }
    let b = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    let cfg = match (&files.client_cert_pem, &files.client_key_pem) {
        (Some(cert), Some(key)) => {
            let chain = rustls_pemfile::certs(&mut &cert[..])
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("client_cert: {e}"))?;
            let key = rustls_pemfile::private_key(&mut &key[..])
                .map_err(|e| format!("client_key: {e}"))?
                .ok_or("client_key holds no private key")?;
            b.with_client_auth_cert(chain, key)
                .map_err(|e| format!("client certificate: {e}"))?
        }
        (None, None) => b.with_no_client_auth(),
        _ => return Err("client_cert and client_key go together".into()),
    };
    Ok(Arc::new(cfg))
}

/// Connection options for either protocol version.
struct Opts {
    host: String,
    port: u16,
    tls: Option<Arc<rustls::ClientConfig>>,
    client_id: String,
    username: Option<String>,
    password: Option<Zeroizing<String>>,
    keep_alive: Duration,
    will_topic: String,
    will_payload: Vec<u8>,
    will_qos: u8,
}

impl Opts {
    /// The user name with its password (empty when none is set), when a
    /// user name is set (both protocol versions send them the same way).
    fn credentials(&self) -> Option<(String, String)> {
        let p = self.password.as_ref().map(|p| p.to_string());
        Some((self.username.clone()?, p.unwrap_or_default()))
    }

    /// TLS with the configured roots, when `mqtts://`.
    fn transport(&self) -> Option<rumqttc::Transport> {
        let tls = self.tls.clone()?;
        Some(rumqttc::Transport::tls_with_config(
            rumqttc::TlsConfiguration::Rustls(tls),
        ))
    }
}

#[derive(Clone, Copy)]
struct Timing {
    min: Duration,
    max: Duration,
}

/// What one poll of the event loop gave.
enum Polled {
    ConnAck,
    /// The DISCONNECT was written: everything queued before it was too.
    Disconnected,
    Other,
    Failed(Failure),
}

/// The two rumqttc clients behind one face.
trait Proto {
    type Client: Clone;
    type Loop;
    type Req;
    fn build(o: Opts) -> (Self::Client, Self::Loop);
    fn poll(l: &mut Self::Loop) -> impl std::future::Future<Output = Polled>;
    /// Publishes and DISCONNECTs rumqttc holds for a resend (after a
    /// failure, before a reconnect could discard them).
    fn take_pending(l: &mut Self::Loop) -> VecDeque<Self::Req>;
    fn put_pending(l: &mut Self::Loop, p: VecDeque<Self::Req>);
    /// Moves everything rumqttc holds (channel, in flight) into pending.
    fn clean(l: &mut Self::Loop);
    /// Whether a held request is an event (topic under `events_prefix`).
    fn is_event(r: &Self::Req, events_prefix: &str) -> bool;
    fn publish(
        c: &Self::Client,
        topic: String,
        qos: u8,
        retain: bool,
        payload: Vec<u8>,
    ) -> impl std::future::Future<Output = bool>;
    fn disconnect(c: &Self::Client) -> impl std::future::Future<Output = ()>;
}

struct V4;
struct V5;

fn qos4(q: u8) -> rumqttc::QoS {
    match q {
        0 => rumqttc::QoS::AtMostOnce,
        1 => rumqttc::QoS::AtLeastOnce,
        _ => rumqttc::QoS::ExactlyOnce,
    }
}

fn qos5(q: u8) -> rumqttc::v5::mqttbytes::QoS {
    use rumqttc::v5::mqttbytes::QoS;
    match q {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

impl Proto for V4 {
    type Client = rumqttc::AsyncClient;
    type Loop = rumqttc::EventLoop;
    type Req = rumqttc::Request;

    fn build(o: Opts) -> (Self::Client, Self::Loop) {
        let (creds, transport) = (o.credentials(), o.transport());
        let mut m = rumqttc::MqttOptions::new(o.client_id, o.host, o.port);
        m.set_keep_alive(o.keep_alive.max(Duration::from_secs(5)));
        m.set_clean_session(true);
        m.set_max_packet_size(MAX_PACKET, MAX_PACKET);
        m.set_last_will(rumqttc::LastWill::new(
            o.will_topic,
            o.will_payload,
            qos4(o.will_qos),
            true,
        ));
        if let Some((u, p)) = creds {
            m.set_credentials(u, p);
        }
        if let Some(t) = transport {
            m.set_transport(t);
        }
        let (c, mut l) = rumqttc::AsyncClient::new(m, CLIENT_CHANNEL);
        l.network_options.set_connection_timeout(5);
        (c, l)
    }

    async fn poll(l: &mut Self::Loop) -> Polled {
        use rumqttc::{ConnectReturnCode as C, ConnectionError as E, Event, Outgoing, Packet};
        match l.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => Polled::ConnAck,
            Ok(Event::Outgoing(Outgoing::Disconnect)) => Polled::Disconnected,
            Ok(_) => Polled::Other,
            Err(E::ConnectionRefused(code)) => Polled::Failed(match code {
                C::BadUserNamePassword => Failure::Refused(
                    "bad user name or password (username/password in [output.mqtt])".into(),
                ),
                C::NotAuthorized => Failure::Refused(
                    "not authorized: wrong username or password, or a user the broker does not admit (username/password in [output.mqtt])".into(),
                ),
                C::BadClientId => Failure::Refused("client id rejected (client_id)".into()),
                C::RefusedProtocolVersion => {
                    Failure::Refused("MQTT 3.1.1 not accepted (try protocol = 5)".into())
                }
                other => Failure::Transient(format!("refused: {other:?}")),
            }),
            Err(E::Tls(e)) => Polled::Failed(Failure::Tls(e.to_string())),
            Err(e) => Polled::Failed(Failure::Transient(e.to_string())),
        }
    }

    fn take_pending(l: &mut Self::Loop) -> VecDeque<Self::Req> {
        std::mem::take(&mut l.pending)
            .into_iter()
            .filter(|r| {
                matches!(
                    r,
                    rumqttc::Request::Publish(_) | rumqttc::Request::Disconnect(_)
                )
            })
            .collect()
    }

    fn put_pending(l: &mut Self::Loop, p: VecDeque<Self::Req>) {
        l.pending.extend(p);
    }

    fn clean(l: &mut Self::Loop) {
        l.clean();
    }

    fn is_event(r: &Self::Req, events_prefix: &str) -> bool {
        matches!(r, rumqttc::Request::Publish(p) if p.topic.starts_with(events_prefix))
    }

    async fn publish(
        c: &Self::Client,
        topic: String,
        qos: u8,
        retain: bool,
        payload: Vec<u8>,
    ) -> bool {
        c.publish(topic, qos4(qos), retain, payload).await.is_ok()
    }

    async fn disconnect(c: &Self::Client) {
        let _ = c.disconnect().await;
    }
}

impl Proto for V5 {
    type Client = rumqttc::v5::AsyncClient;
    type Loop = rumqttc::v5::EventLoop;
    type Req = rumqttc::v5::Request;

    fn build(o: Opts) -> (Self::Client, Self::Loop) {
        use rumqttc::v5::mqttbytes::v5::LastWill;
        let (creds, transport) = (o.credentials(), o.transport());
        let mut m = rumqttc::v5::MqttOptions::new(o.client_id, o.host, o.port);
        m.set_keep_alive(o.keep_alive.max(Duration::from_secs(5)));
        m.set_clean_start(true);
        m.set_max_packet_size(Some(MAX_PACKET as u32));
        m.set_connection_timeout(5);
        m.set_last_will(LastWill::new(
            o.will_topic,
            o.will_payload,
            qos5(o.will_qos),
            true,
            None,
        ));
        if let Some((u, p)) = creds {
            m.set_credentials(u, p);
        }
        if let Some(t) = transport {
            m.set_transport(t);
        }
        rumqttc::v5::AsyncClient::new(m, CLIENT_CHANNEL)
    }

    async fn poll(l: &mut Self::Loop) -> Polled {
        use rumqttc::Outgoing;
        use rumqttc::v5::mqttbytes::v5::{ConnectReturnCode as C, Packet};
        use rumqttc::v5::{ConnectionError as E, Event};
        match l.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => Polled::ConnAck,
            Ok(Event::Outgoing(Outgoing::Disconnect)) => Polled::Disconnected,
            Ok(_) => Polled::Other,
            Err(E::ConnectionRefused(code)) => Polled::Failed(match code {
                C::BadUserNamePassword => Failure::Refused(
                    "bad user name or password (username/password in [output.mqtt])".into(),
                ),
                C::NotAuthorized => Failure::Refused(
                    "not authorized: wrong username or password, or a user the broker does not admit (username/password in [output.mqtt])".into(),
                ),
                C::ClientIdentifierNotValid | C::BadClientId => {
                    Failure::Refused("client id rejected (client_id)".into())
                }
                C::UnsupportedProtocolVersion | C::RefusedProtocolVersion => {
                    Failure::Refused("MQTT 5 not accepted (try protocol = 4)".into())
                }
                C::Banned => Failure::Refused("banned".into()),
                C::BadAuthenticationMethod => Failure::Refused("bad authentication method".into()),
                other => Failure::Transient(format!("refused: {other:?}")),
            }),
            Err(E::Tls(e)) => Polled::Failed(Failure::Tls(e.to_string())),
            Err(e) => Polled::Failed(Failure::Transient(e.to_string())),
        }
    }

    fn take_pending(l: &mut Self::Loop) -> VecDeque<Self::Req> {
        std::mem::take(&mut l.pending)
            .into_iter()
            .filter(|r| {
                matches!(
                    r,
                    rumqttc::v5::Request::Publish(_) | rumqttc::v5::Request::Disconnect
                )
            })
            .collect()
    }

    fn put_pending(l: &mut Self::Loop, p: VecDeque<Self::Req>) {
        l.pending.extend(p);
    }

    fn clean(l: &mut Self::Loop) {
        l.clean();
    }

    fn is_event(r: &Self::Req, events_prefix: &str) -> bool {
        matches!(r, rumqttc::v5::Request::Publish(p) if p.topic.starts_with(events_prefix.as_bytes()))
    }

    async fn publish(
        c: &Self::Client,
        topic: String,
        qos: u8,
        retain: bool,
        payload: Vec<u8>,
    ) -> bool {
        c.publish(topic, qos5(qos), retain, payload).await.is_ok()
    }

    async fn disconnect(c: &Self::Client) {
        let _ = c.disconnect().await;
    }
}

/// The `mqtt` thread's side.
struct Io<'a> {
    sh: &'a Shared,
    startup: std::cell::RefCell<Option<std::sync::mpsc::SyncSender<Startup>>>,
    timing: Timing,
    qos_events: u8,
    /// The feeder holds an event it took from the queue and is handing over.
    in_hand: std::cell::Cell<bool>,
}

impl Io<'_> {
    fn report(&self, s: Startup) {
        if let Some(tx) = self.startup.borrow_mut().take() {
            let _ = tx.try_send(s);
        }
    }
}

/// Runs the event loop (reconnects, resends) and the feeder (queue →
/// client) side by side until the DISCONNECT is written or the sink aborts;
/// then counts the events left unsent.
async fn run<P: Proto>(io: &Io<'_>, o: Opts, mut events: tokio::sync::mpsc::Receiver<Msg>) {
    let (client, mut lp) = P::build(o);
    // Whether the broker is connected now (the poller tells the feeder).
    let (up_tx, up_rx) = tokio::sync::watch::channel(false);
    let poller = async {
        let mut rescued: VecDeque<P::Req> = VecDeque::new();
        let mut backoff = io.timing.min;
        let mut down_since: Option<Instant> = None;
        let mut first = true;
        loop {
            if io.sh.aborted.load(Ordering::SeqCst) {
                return false;
            }
            let polled = tokio::select! {
                p = P::poll(&mut lp) => p,
                _ = io.sh.abort.notified() => return false,
            };
            match polled {
                Polled::Disconnected => {
                    // Read until the broker closes: closing with its
                    // acknowledgements unread would send a TCP reset, and
                    // a reset discards what the broker has not read yet.
                    let drain =
                        async { while !matches!(P::poll(&mut lp).await, Polled::Failed(_)) {} };
                    let _ = tokio::time::timeout(CLOSE_WAIT, drain).await;
                    return true;
                }
                Polled::ConnAck => {
                    P::put_pending(&mut lp, std::mem::take(&mut rescued));
                    io.sh.stats.connected.store(true, Ordering::Relaxed);
                    let _ = up_tx.send(true);
                    MqttStats::inc(&io.sh.stats.connects);
                    backoff = io.timing.min;
                    io.report(Startup::Connected);
                    if let Some(t) = down_since.take() {
                        tracing::warn!("MQTT: reconnected after {:?}", t.elapsed());
                        eprintln!(
                            "plugsniff: MQTT: reconnected after {:.1} s; publishing the retained state again",
                            t.elapsed().as_secs_f64()
                        );
                    }
                    if !first {
                        // The broker may have lost what was retained.
                        if let Ok(mut r) = io.sh.retained.lock() {
                            let mem = std::mem::take(&mut r.memory);
                            for (t, d) in mem {
                                r.pending.entry(t).or_insert(d);
                            }
                        }
                        io.sh.wake.notify_one();
                    }
                    first = false;
                }
                Polled::Other => {}
                Polled::Failed(f) => {
                    rescued.extend(P::take_pending(&mut lp));
                    io.sh.stats.connected.store(false, Ordering::Relaxed);
                    let _ = up_tx.send(false);
                    MqttStats::inc(&io.sh.stats.connect_failures);
                    if down_since.is_none() {
                        down_since = Some(Instant::now());
                        if !first {
                            eprintln!(
                                "plugsniff: warning: MQTT connection lost ({f}); reconnecting (events are queued, then dropped and counted)"
                            );
                        }
                    }
                    if first {
                        io.report(Startup::Failed(f.clone()));
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = io.sh.abort.notified() => return false,
                    }
                    backoff = (backoff * 2).min(io.timing.max);
                }
            }
        }
    };
    let feeder = async {
        let mut up = up_rx;
        loop {
            // Nothing is handed to rumqttc while the broker is away: the
            // queue (`queue` events) is then the only buffer, and what
            // overflows it is counted.
            if up.wait_for(|c| *c).await.is_err() {
                break;
            }
            publish_retained::<P>(io, &client).await;
            let m = tokio::select! {
                biased;
                _ = io.sh.wake.notified() => continue,
                m = events.recv() => m,
            };
            let Some(m) = m else { break };
            io.in_hand.set(true);
            let ok = P::publish(&client, m.topic, io.qos_events, false, m.payload).await;
            io.in_hand.set(false);
            if !ok {
                break;
            }
        }
        // The queue is closed: the final documents, then DISCONNECT.
        let _ = up.wait_for(|c| *c).await;
        publish_retained::<P>(io, &client).await;
        P::disconnect(&client).await;
        std::future::pending::<()>().await;
    };
    let clean = tokio::select! {
        clean = poller => clean,
        _ = feeder => false,
    };
    // Whatever did not reach the broker.
    let mut unsent = events.len() as u64 + u64::from(io.in_hand.get());
    if !clean {
        P::clean(&mut lp);
        unsent += P::take_pending(&mut lp)
            .iter()
            .filter(|r| P::is_event(r, &io.sh.events_prefix))
            .count() as u64;
    }
    io.sh.stats.events_unsent.store(unsent, Ordering::Relaxed);
    io.sh.stats.connected.store(false, Ordering::Relaxed);
}

/// Hands every pending retained document to the client.
async fn publish_retained<P: Proto>(io: &Io<'_>, client: &P::Client) {
    loop {
        let next = match io.sh.retained.lock() {
            Ok(mut r) => r.pending.pop_first(),
            Err(_) => None,
        };
        let Some((topic, doc)) = next else { return };
        if let Ok(mut r) = io.sh.retained.lock() {
            r.memory.insert(topic.clone(), doc.clone());
        }
        if !P::publish(client, topic, doc.qos, true, doc.payload).await {
            return;
        }
    }
}
