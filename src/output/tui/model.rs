//! The dashboard's model: what the ordered stage folds events into, and the
//! [`Snapshot`] it hands to the UI thread.
//!
//! Owns [`Model`] (kept by the sink on the ordered stage) and [`Snapshot`]
//! (an immutable picture of it, drawn by `view`). Guarantees:
//! - bounded memory: the power history is [`History`]'s (its caps); the
//!   event log keeps the newest [`MAX_EVENTS`] lines, the warning list the
//!   newest [`MAX_WARNINGS`]; each device keeps its newest
//!   [`MAX_MESSAGES_PER_DEVICE`] messages for the detail view, each message's
//!   pretty-printed JSON cut at [`MAX_JSON_TEXT`] bytes, for at most
//!   [`MAX_DETAIL_DEVICES`] devices; per-device state lives only for devices
//!   the bounded inventory holds. Every line or message pushed out is counted
//!   ([`Snapshot::events_dropped`], [`Snapshot::messages_dropped`]);
//! - a snapshot is cheap to take: log lines and messages are shared
//!   (`Arc`), devices and stations are rows of plain values (at most
//!   [`MAX_STATION_ROWS`] stations, the busiest);
//! - nothing here panics on any event: every string is cut on a character
//!   boundary and every number is checked before it is scaled.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use crate::decoders::MessageKind;
use crate::output::RunView;
use crate::output::device_state::{DeviceStates, display_name};
use crate::output::live::{Style, render};
use crate::report::counters::CaptureCounts;
use crate::report::event::{CloudState, Event, EventBody};
use crate::report::history::History;
use crate::report::inventory::Role;
use crate::wire::{MacAddr, Ts};
use crate::wpa::handshake::KeyStatus;

/// Lines kept in the event log.
pub const MAX_EVENTS: usize = 1_000;
/// Warnings kept for the radio panel.
pub const MAX_WARNINGS: usize = 64;
/// Messages kept per device for the detail view.
pub const MAX_MESSAGES_PER_DEVICE: usize = 32;
/// Bytes kept of one message's pretty-printed JSON.
pub const MAX_JSON_TEXT: usize = 4_096;
/// Devices whose messages are kept for the detail view.
pub const MAX_DETAIL_DEVICES: usize = 256;
/// Stations shown in the radio panel (the busiest).
pub const MAX_STATION_ROWS: usize = 64;
/// Power samples in a device's sparkline (the newest).
pub const SPARK_POINTS: usize = 48;
/// How far back a sparkline reaches, in capture time.
pub const SPARK_WINDOW: Duration = Duration::from_secs(10 * 60);

/// How an event-log line is styled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    Request,
    Response,
    Alert,
    Cloud,
    Note,
    Other,
}

/// One line of the event log.
#[derive(Debug, Clone)]
pub struct EventLine {
    pub kind: LineKind,
    /// The readable line (`output::live::render`, colour off).
    pub text: String,
}

/// One message of a device, for the detail view.
#[derive(Debug, Clone)]
pub struct DetailMessage {
    pub ts: Ts,
    /// `request`, `response` or `notify`, the ends and the methods.
    pub header: String,
    /// The application JSON, pretty-printed (cut at [`MAX_JSON_TEXT`]).
    pub json: String,
}

/// A device's last command, as the table shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandCell {
    pub text: String,
    /// Who sent it: the controller's name when the inventory knows the
    /// sender's address, else its IP.
    pub from: String,
    /// Time to the device's answer, once seen.
    pub latency: Option<Duration>,
}

/// One row of the devices table.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceRow {
    pub mac: MacAddr,
    pub plug: bool,
    /// Vendor and model (`TP-Link HS110(EU)`).
    pub kind: String,
    /// The alias, else the host name, else the model, else the MAC.
    pub name: String,
    pub ip: Option<String>,
    pub relay: Option<bool>,
    pub power_w: Option<f64>,
    /// Power over the last [`SPARK_WINDOW`], oldest first, in tenths of a watt.
    pub spark: Vec<u64>,
    pub command: Option<CommandCell>,
    pub protocols: String,
    /// The cloud link: `Some(true)` open now, `Some(false)` seen and closed.
    pub cloud: Option<bool>,
    /// The station's key in one word (`ok`, `none`, `failed`…), `None` when
    /// the device was not seen as a Wi-Fi station.
    pub key: Option<&'static str>,
    pub messages: u64,
    pub last_seen: Ts,
}

/// One station of the radio panel.
#[derive(Debug, Clone, PartialEq)]
pub struct StationRow {
    pub bssid: MacAddr,
    pub sta: MacAddr,
    /// The inventory's name for the station, when it has one.
    pub name: Option<String>,
    pub frames_to_ap: u64,
    pub frames_from_ap: u64,
    pub missed: u64,
    /// Highest rates each way (`VHT MCS9 2ss 80MHz`), `[to AP, from AP]`.
    pub rates: [String; 2],
    /// Handshake messages seen (`M1 M2 G1`).
    pub handshake: String,
    pub key: &'static str,
}

/// The capture counters (`status_line`'s, and the drops by reason).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counters {
    pub capture: CaptureCounts,
    pub read: u64,
    pub decrypted: u64,
    pub plaintext: u64,
    pub dropped: Vec<(&'static str, u64)>,
    pub devices: usize,
    pub messages: u64,
    /// Warnings raised by kind, repeats included (`engine::security`).
    pub warning_totals: Vec<(&'static str, u64)>,
}

/// What the UI draws: a picture of the model at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Capture time of the newest event.
    pub now: Option<Ts>,
    /// The capture ended (a file was read to its end, or the run stopped).
    pub finished: bool,
    pub devices: Vec<DeviceRow>,
    pub stations: Vec<StationRow>,
    /// Stations not shown (past [`MAX_STATION_ROWS`]).
    pub stations_hidden: usize,
    pub counters: Counters,
    pub warnings: Vec<Arc<str>>,
    pub events: Vec<Arc<EventLine>>,
    pub events_dropped: u64,
    pub messages: BTreeMap<MacAddr, Vec<Arc<DetailMessage>>>,
    pub messages_dropped: u64,
}

#[derive(Debug, Default)]
struct DeviceExtra {
    /// Cloud links open now, and whether one was ever seen.
    cloud_open: u32,
    cloud_seen: bool,
    /// The last command's time, and the latency of the answer to it.
    command_ts: Option<Ts>,
    latency: Option<Duration>,
}

/// The model the sink keeps on the ordered stage (module doc).
#[derive(Default)]
pub struct Model {
    history: History,
    states: DeviceStates,
    extra: BTreeMap<MacAddr, DeviceExtra>,
    events: VecDeque<Arc<EventLine>>,
    events_dropped: u64,
    warnings: VecDeque<Arc<str>>,
    messages: BTreeMap<MacAddr, VecDeque<Arc<DetailMessage>>>,
    messages_dropped: u64,
    now: Option<Ts>,
}

/// `s` cut to at most `max` bytes on a character boundary, with `…` when cut.
pub fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

fn line_kind(e: &Event) -> LineKind {
    match &e.body {
        EventBody::Message(m) if m.kind == MessageKind::Request => LineKind::Request,
        EventBody::Message(_) => LineKind::Response,
        EventBody::Discovery(d) if d.reply => LineKind::Response,
        EventBody::Discovery(_) => LineKind::Request,
        EventBody::CredentialLeak(_) | EventBody::Warning(_) => LineKind::Alert,
        EventBody::CloudLink(_) => LineKind::Cloud,
        EventBody::Handshake(_) | EventBody::Undecodable(_) | EventBody::KlapSession(_) => {
            LineKind::Note
        }
    }
}

fn direction(k: MessageKind) -> &'static str {
    match k {
        MessageKind::Request => "request",
        MessageKind::Response => "response",
        MessageKind::Notify => "notify",
    }
}

impl Model {
    /// Folds one event in (after the watcher applied it to the inventory).
    pub fn on_event(&mut self, e: &Event, view: &RunView<'_>) {
        self.now = Some(self.now.map_or(e.ts, |n| n.max(e.ts)));
        self.history.record(e);
        self.states.on_event(e, view.inventory);
        let text = render(
            e,
            Style {
                color: false,
                show_json: false,
            },
        );
        push_bounded(
            &mut self.events,
            Arc::new(EventLine {
                kind: line_kind(e),
                text,
            }),
            MAX_EVENTS,
            &mut self.events_dropped,
        );
        match &e.body {
            EventBody::Warning(w) => {
                let mut unused = 0;
                push_bounded(
                    &mut self.warnings,
                    Arc::from(format!(
                        "{} {}: {}",
                        crate::output::live::clock(e.ts),
                        w.kind,
                        w.message
                    )),
                    MAX_WARNINGS,
                    &mut unused,
                );
            }
            EventBody::CloudLink(c) => {
                if let Some(x) = c.device.and_then(|m| self.extra_for(m, view)) {
                    x.cloud_seen = true;
                    match c.state {
                        CloudState::Opened => x.cloud_open = x.cloud_open.saturating_add(1),
                        CloudState::Closed => x.cloud_open = x.cloud_open.saturating_sub(1),
                    }
                }
            }
            EventBody::Message(m) => {
                let Some(mac) = m.device else { return };
                if view.inventory.get(&mac).is_none() {
                    return;
                }
                // The latency of the answer to the last command.
                let cmd = self.states.last_command(&mac).cloned();
                if let Some(x) = self.extra_for(mac, view)
                    && let Some(c) = cmd
                {
                    if x.command_ts != Some(c.ts) {
                        x.command_ts = Some(c.ts);
                        x.latency = None;
                    }
                    if m.kind == MessageKind::Response
                        && x.latency.is_none()
                        && e.ts >= c.ts
                        && m.methods.iter().any(|x| c.methods.contains(x))
                    {
                        x.latency = m.latency;
                    }
                }
                if !self.messages.contains_key(&mac) && self.messages.len() >= MAX_DETAIL_DEVICES {
                    self.messages_dropped = self.messages_dropped.saturating_add(1);
                    return;
                }
                let json = serde_json::to_string_pretty(&m.json).unwrap_or_default();
                let header = format!(
                    "{} {}  {} → {}  {} {}{}",
                    crate::output::live::clock(e.ts),
                    direction(m.kind),
                    m.src,
                    m.dst,
                    m.protocol,
                    cut(&m.methods.join(" + "), 200),
                    m.latency.map_or(String::new(), |l| format!(
                        "  ({:.0} ms)",
                        l.as_secs_f64() * 1e3
                    )),
                );
                let ring = self.messages.entry(mac).or_default();
                push_bounded(
                    ring,
                    Arc::new(DetailMessage {
                        ts: e.ts,
                        header,
                        json: cut(&json, MAX_JSON_TEXT),
                    }),
                    MAX_MESSAGES_PER_DEVICE,
                    &mut self.messages_dropped,
                );
            }
            _ => {}
        }
    }

    /// The per-device state of a device the inventory holds.
    fn extra_for(&mut self, mac: MacAddr, view: &RunView<'_>) -> Option<&mut DeviceExtra> {
        view.inventory.get(&mac)?;
        Some(self.extra.entry(mac).or_default())
    }

    /// A picture of the model and the run now.
    pub fn snapshot(&self, view: &RunView<'_>, finished: bool) -> Snapshot {
        let e = view.engine;
        let inv = view.inventory;
        let device_key = |mac: MacAddr| -> Option<&'static str> {
            let mut best: Option<&'static str> = None;
            for ((_, s), st) in e.tracker.stations() {
                if *s == mac {
                    let w = key_word(&st.status, st.keys_installed);
                    if w == "ok" {
                        return Some(w);
                    }
                    best = Some(w);
                }
            }
            if best.is_none() && e.health.stations().any(|((_, s), _)| *s == mac) {
                best = Some(key_word(&KeyStatus::NoHandshake, 0));
            }
            best
        };
        let now = self.now;
        let devices = inv
            .devices()
            .map(|d| {
                let x = self.extra.get(&d.mac);
                let spark = self
                    .history
                    .get(&d.mac)
                    .map(|h| {
                        let from = now.map(|n| {
                            n.as_micros()
                                .saturating_sub(SPARK_WINDOW.as_micros() as u64)
                        });
                        let pts: Vec<u64> = h
                            .samples()
                            .filter(|s| from.is_none_or(|f| s.ts.as_micros() >= f))
                            .filter_map(|s| s.power_w)
                            .map(|w| {
                                if w > 0.0 {
                                    (w * 10.0).min(1e15) as u64
                                } else {
                                    0
                                }
                            })
                            .collect();
                        pts[pts.len().saturating_sub(SPARK_POINTS)..].to_vec()
                    })
                    .unwrap_or_default();
                let command = self.states.last_command(&d.mac).map(|c| CommandCell {
                    text: c.text.clone(),
                    from: inv
                        .devices()
                        .find(|o| o.role == Role::Controller && o.ip == Some(c.from.ip()))
                        .and_then(|o| o.alias.clone().or_else(|| o.hostname.clone()))
                        .unwrap_or_else(|| c.from.ip().to_string()),
                    latency: x
                        .filter(|x| x.command_ts == Some(c.ts))
                        .and_then(|x| x.latency),
                });
                DeviceRow {
                    mac: d.mac,
                    plug: d.role == Role::Plug,
                    kind: [d.vendor.clone(), d.model.clone()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(" "),
                    name: d
                        .alias
                        .clone()
                        .or_else(|| d.hostname.clone())
                        .unwrap_or_else(|| display_name(d)),
                    ip: d.ip.map(|i| i.to_string()),
                    relay: d.relay_on,
                    power_w: d.power_w.filter(|p| p.is_finite()),
                    spark,
                    command,
                    protocols: d.protocols.iter().copied().collect::<Vec<_>>().join(" "),
                    cloud: x.filter(|x| x.cloud_seen).map(|x| x.cloud_open > 0),
                    key: device_key(d.mac),
                    messages: d.messages,
                    last_seen: d.last_seen,
                }
            })
            .collect();
        // The busiest stations, with their handshake and key.
        let mut st: Vec<(&(MacAddr, MacAddr), &crate::engine::health::StationHealth)> =
            e.health.stations().collect();
        st.sort_by_key(|(k, h)| (std::cmp::Reverse(h.frames_to_ap + h.frames_from_ap), **k));
        let mut keys: Vec<(MacAddr, MacAddr)> = st.iter().map(|(k, _)| **k).collect();
        for (k, _) in e.tracker.stations() {
            if e.health.station(k.0, k.1).is_none() {
                keys.push(*k);
            }
        }
        let stations_hidden = keys.len().saturating_sub(MAX_STATION_ROWS);
        keys.truncate(MAX_STATION_ROWS);
        let stations = keys
            .into_iter()
            .map(|(b, s)| {
                let h = e.health.station(b, s);
                let hs = e.tracker.station(b, s);
                const NAMES: [&str; 6] = ["M1", "M2", "M3", "M4", "G1", "G2"];
                StationRow {
                    bssid: b,
                    sta: s,
                    name: inv.get(&s).map(display_name),
                    frames_to_ap: h.map_or(0, |h| h.frames_to_ap),
                    frames_from_ap: h.map_or(0, |h| h.frames_from_ap),
                    missed: h.map_or(0, |h| h.missed_estimate),
                    rates: [0, 1].map(|i| h.map_or("-".into(), |h| rates(&h.radio[i]))),
                    handshake: hs.map_or(String::new(), |hs| {
                        NAMES
                            .iter()
                            .zip(hs.seen)
                            .filter(|(_, n)| *n > 0)
                            .map(|(m, _)| *m)
                            .collect::<Vec<_>>()
                            .join(" ")
                    }),
                    key: hs.map_or(key_word(&KeyStatus::NoHandshake, 0), |hs| {
                        key_word(&hs.status, hs.keys_installed)
                    }),
                }
            })
            .collect();
        let c = &e.counters;
        let counters = Counters {
            capture: view.capture,
            read: c.read,
            decrypted: c.decrypted,
            plaintext: c.plaintext,
            dropped: crate::engine::DropReason::ALL
                .iter()
                .filter(|r| c.dropped(**r) > 0)
                .map(|r| (r.name(), c.dropped(*r)))
                .collect(),
            devices: inv.len(),
            messages: view.stats.messages.values().sum(),
            warning_totals: e.warnings.totals.iter().map(|(k, v)| (*k, *v)).collect(),
        };
        Snapshot {
            now,
            finished,
            devices,
            stations,
            stations_hidden,
            counters,
            warnings: self.warnings.iter().cloned().collect(),
            events: self.events.iter().cloned().collect(),
            events_dropped: self.events_dropped,
            messages: self
                .messages
                .iter()
                .map(|(k, v)| (*k, v.iter().cloned().collect()))
                .collect(),
            messages_dropped: self.messages_dropped,
        }
    }
}

/// A station's key status in one word.
fn key_word(s: &KeyStatus, installed: u32) -> &'static str {
    if installed > 0 || *s == KeyStatus::Confirmed {
        return "ok";
    }
    match s {
        KeyStatus::NoHandshake => "none",
        KeyStatus::Incomplete | KeyStatus::NoSnonce => "partial",
        KeyStatus::NeedsKey { .. } | KeyStatus::SsidUnknown => "needed",
        KeyStatus::Unsupported(_) | KeyStatus::UnsupportedAkm(_) => "unsupported",
        _ => "failed",
    }
}

/// `VHT MCS9 2ss 80MHz`, or `-`.
fn rates(r: &crate::engine::health::RadioMax) -> String {
    let mut p = Vec::new();
    if let Some(phy) = r.phy {
        p.push(phy.name().to_string());
    }
    if let Some(m) = r.mcs {
        p.push(format!("MCS{m}"));
    }
    if let Some(n) = r.nss {
        p.push(format!("{n}ss"));
    }
    if let Some(w) = r.width_mhz {
        p.push(format!("{w}MHz"));
    }
    if p.is_empty() {
        "-".into()
    } else {
        p.join(" ")
    }
}

fn push_bounded<T>(q: &mut VecDeque<T>, v: T, cap: usize, dropped: &mut u64) {
    if q.len() >= cap {
        q.pop_front();
        *dropped = dropped.saturating_add(1);
    }
    q.push_back(v);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_on_char_boundaries() {
        assert_eq!(cut("abc", 3), "abc");
        assert_eq!(cut("abcd", 3), "abc…");
        assert_eq!(cut(&"é".repeat(10), 5), "éé…");
    }

    #[test]
    fn rings_are_bounded_and_count() {
        let mut q = VecDeque::new();
        let mut dropped = 0;
        for i in 0..10 {
            push_bounded(&mut q, i, 4, &mut dropped);
        }
        assert_eq!(q.iter().copied().collect::<Vec<_>>(), vec![6, 7, 8, 9]);
        assert_eq!(dropped, 6);
    }

    #[test]
    fn key_words() {
        assert_eq!(key_word(&KeyStatus::Confirmed, 0), "ok");
        assert_eq!(key_word(&KeyStatus::MicMismatch, 1), "ok");
        assert_eq!(key_word(&KeyStatus::MicMismatch, 0), "failed");
        assert_eq!(key_word(&KeyStatus::NoHandshake, 0), "none");
    }
}
