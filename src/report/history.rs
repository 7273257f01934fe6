//! Per-device history: a bounded time series per device (relay, power,
//! voltage, current, energy) and a timeline of what happened to it (relay
//! commands and who sent them, state reports, cloud link up and down), fed
//! from the typed [`Event`]s in capture order.
//!
//! Owns: [`History`] and its [`DeviceHistory`] rings. Guarantees:
//! - bounded memory: at most [`MAX_DEVICES`] devices (devices past the cap
//!   are counted in [`History::refused`]), each with at most
//!   [`MAX_SAMPLES`] samples and [`MAX_MARKS`] timeline entries; the oldest
//!   entry is dropped first and counted ([`DeviceHistory::samples_dropped`],
//!   [`DeviceHistory::marks_dropped`]); strings kept in a mark are cut to
//!   [`MAX_TEXT`] bytes;
//! - never panics on any event (non-finite readings are ignored);
//! - a sample is recorded only for what a device said about itself (a
//!   response or notification carrying sysinfo or an energy reading); a
//!   relay *command* is a timeline entry, not a sample, since the plug may
//!   not obey.
//!
//! Readers: `output::report` (the HTML/JSON capture report). The CSV form
//! ([`DeviceHistory::write_csv`]) is for `[output] history = "dir"`.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use crate::decoders::MessageKind;
use crate::decoders::summary::{RelayState, Summary};
use crate::report::event::{CloudState, Event, EventBody};
use crate::wire::{MacAddr, Ts};

/// Devices tracked at most.
pub const MAX_DEVICES: usize = 1_024;
/// Samples kept per device (the newest).
pub const MAX_SAMPLES: usize = 4_096;
/// Timeline entries kept per device (the newest).
pub const MAX_MARKS: usize = 1_024;
/// Bytes kept of a method name or server name in a mark.
pub const MAX_TEXT: usize = 128;

/// What a device reported about itself at one moment; each field `None`
/// when that message did not say.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Sample {
    pub ts: Ts,
    pub relay_on: Option<bool>,
    pub power_w: Option<f64>,
    pub voltage_v: Option<f64>,
    pub current_a: Option<f64>,
    /// The device's running total, kWh.
    pub energy_kwh: Option<f64>,
}

impl Sample {
    fn is_empty(&self) -> bool {
        self.relay_on.is_none()
            && self.power_w.is_none()
            && self.voltage_v.is_none()
            && self.current_a.is_none()
            && self.energy_kwh.is_none()
    }
}

/// One entry of a device's timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    pub ts: Ts,
    pub what: MarkKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum MarkKind {
    /// A request sent to the device: its methods, who sent it, and the relay
    /// state it asked for (a `set_relay_state`).
    Command {
        methods: Vec<String>,
        from: SocketAddr,
        relay: Option<bool>,
    },
    /// The device answered a request after `latency`.
    Answer { latency: Option<Duration> },
    /// The relay state the device reported changed (or was first seen).
    Relay { on: bool },
    /// The device's TLS link to the vendor cloud opened or closed.
    Cloud { up: bool, server: Option<String> },
}

/// The history of one device.
#[derive(Debug, Clone, Default)]
pub struct DeviceHistory {
    samples: VecDeque<Sample>,
    marks: VecDeque<Mark>,
    pub samples_dropped: u64,
    pub marks_dropped: u64,
    last_relay: Option<bool>,
}

impl DeviceHistory {
    /// Samples, oldest first.
    pub fn samples(&self) -> impl ExactSizeIterator<Item = &Sample> {
        self.samples.iter()
    }

    /// Timeline entries, oldest first.
    pub fn marks(&self) -> impl ExactSizeIterator<Item = &Mark> {
        self.marks.iter()
    }

    /// Whether any sample carries a power or energy reading.
    pub fn is_metering(&self) -> bool {
        self.samples
            .iter()
            .any(|s| s.power_w.is_some() || s.energy_kwh.is_some())
    }

    fn push_sample(&mut self, s: Sample) {
        if let Some(on) = s.relay_on {
            if self.last_relay != Some(on) {
                self.push_mark(Mark {
                    ts: s.ts,
                    what: MarkKind::Relay { on },
                });
            }
            self.last_relay = Some(on);
        }
        if self.samples.len() >= MAX_SAMPLES {
            self.samples.pop_front();
            self.samples_dropped = self.samples_dropped.saturating_add(1);
        }
        self.samples.push_back(s);
    }

    fn push_mark(&mut self, m: Mark) {
        if self.marks.len() >= MAX_MARKS {
            self.marks.pop_front();
            self.marks_dropped = self.marks_dropped.saturating_add(1);
        }
        self.marks.push_back(m);
    }

    /// The samples as CSV: `time_us,relay_on,power_w,voltage_v,current_a,energy_kwh`
    /// (microseconds since the epoch; empty fields where the message did not say).
    pub fn write_csv(&self, w: &mut impl std::io::Write) -> std::io::Result<()> {
        writeln!(w, "time_us,relay_on,power_w,voltage_v,current_a,energy_kwh")?;
        let f = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
        for s in &self.samples {
            writeln!(
                w,
                "{},{},{},{},{},{}",
                s.ts.as_micros(),
                s.relay_on
                    .map(|b| u8::from(b).to_string())
                    .unwrap_or_default(),
                f(s.power_w),
                f(s.voltage_v),
                f(s.current_a),
                f(s.energy_kwh)
            )?;
        }
        Ok(())
    }
}

/// Every device's history.
#[derive(Debug, Default)]
pub struct History {
    devices: BTreeMap<MacAddr, DeviceHistory>,
    /// Events about devices past [`MAX_DEVICES`], not recorded.
    pub refused: u64,
}

fn cut(s: &str) -> String {
    let mut end = s.len().min(MAX_TEXT);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

fn finite(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite())
}

impl History {
    pub fn get(&self, mac: &MacAddr) -> Option<&DeviceHistory> {
        self.devices.get(mac)
    }

    /// Devices with a history, by MAC.
    pub fn devices(&self) -> impl Iterator<Item = (&MacAddr, &DeviceHistory)> {
        self.devices.iter()
    }

    pub fn len(&self) -> usize {
        self.devices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
    }

    fn device(&mut self, mac: MacAddr) -> Option<&mut DeviceHistory> {
        if mac.is_group() || mac == MacAddr::default() {
            return None;
        }
        if !self.devices.contains_key(&mac) && self.devices.len() >= MAX_DEVICES {
            self.refused = self.refused.saturating_add(1);
            return None;
        }
        Some(self.devices.entry(mac).or_default())
    }

    /// Records what `e` says about a device (other events are ignored).
    pub fn record(&mut self, e: &Event) {
        match &e.body {
            EventBody::Message(m) => {
                let Some(mac) = m.device else { return };
                let Some(d) = self.device(mac) else { return };
                if m.kind == MessageKind::Request {
                    let relay = m.summary.iter().find_map(|s| match s {
                        Summary::SetRelayState(r) => Some(*r == RelayState::On),
                        _ => None,
                    });
                    d.push_mark(Mark {
                        ts: e.ts,
                        what: MarkKind::Command {
                            methods: m.methods.iter().take(8).map(|s| cut(s)).collect(),
                            from: m.src,
                            relay,
                        },
                    });
                    return;
                }
                if m.kind == MessageKind::Response {
                    d.push_mark(Mark {
                        ts: e.ts,
                        what: MarkKind::Answer { latency: m.latency },
                    });
                }
                let mut s = Sample {
                    ts: e.ts,
                    ..Sample::default()
                };
                for x in &m.summary {
                    match x {
                        Summary::SysInfo(si) => {
                            if let Some(r) = si.relay_state {
                                s.relay_on = Some(r == RelayState::On);
                            }
                        }
                        Summary::Emeter(r) => {
                            s.power_w = finite(r.power_w).or(s.power_w);
                            s.voltage_v = finite(r.voltage_v).or(s.voltage_v);
                            s.current_a = finite(r.current_a).or(s.current_a);
                            s.energy_kwh = finite(r.total_kwh).or(s.energy_kwh);
                        }
                        _ => {}
                    }
                }
                if !s.is_empty() {
                    d.push_sample(s);
                }
            }
            EventBody::CloudLink(c) => {
                let Some(mac) = c.device else { return };
                let Some(d) = self.device(mac) else { return };
                let server = c.sni.as_deref().or(c.dns_name.as_deref()).map(cut);
                d.push_mark(Mark {
                    ts: e.ts,
                    what: MarkKind::Cloud {
                        up: c.state == CloudState::Opened,
                        server,
                    },
                });
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::summary::{EmeterReading, SysInfo};
    use crate::report::event::{CloudEvent, MessageEvent};

    const PLUG: MacAddr = MacAddr([0x50, 0xc7, 0xbf, 1, 2, 3]);

    fn msg(sec: i64, kind: MessageKind, summary: Vec<Summary>) -> Event {
        Event {
            ts: Ts::from_micros(sec, 0),
            anchor: None,
            body: EventBody::Message(MessageEvent {
                protocol: "xor-tcp",
                transport: "tcp",
                src: "192.168.1.10:50000".parse().unwrap(),
                dst: "192.168.1.20:9999".parse().unwrap(),
                kind,
                device: Some(PLUG),
                alias: None,
                methods: vec!["system.set_relay_state".into()],
                summary,
                latency: (kind == MessageKind::Response).then(|| Duration::from_millis(12)),
                json: serde_json::Value::Null,
                meta: None,
            }),
        }
    }

    fn emeter(w: f64) -> Summary {
        Summary::Emeter(EmeterReading {
            power_w: Some(w),
            voltage_v: Some(230.0),
            current_a: Some(w / 230.0),
            total_kwh: Some(1.5),
            added_kwh: None,
        })
    }

    fn sysinfo(on: bool) -> Summary {
        Summary::SysInfo(Box::new(SysInfo {
            relay_state: Some(if on { RelayState::On } else { RelayState::Off }),
            ..SysInfo::default()
        }))
    }

    #[test]
    fn samples_commands_and_relay_changes() {
        let mut h = History::default();
        h.record(&msg(1, MessageKind::Response, vec![sysinfo(false)]));
        h.record(&msg(
            2,
            MessageKind::Request,
            vec![Summary::SetRelayState(RelayState::On)],
        ));
        h.record(&msg(
            3,
            MessageKind::Response,
            vec![sysinfo(true), emeter(60.0)],
        ));
        h.record(&msg(
            4,
            MessageKind::Notify,
            vec![sysinfo(true), emeter(f64::NAN)],
        ));
        let d = h.get(&PLUG).unwrap();
        let s: Vec<_> = d.samples().collect();
        assert_eq!(s.len(), 3);
        assert_eq!(s[1].power_w, Some(60.0));
        assert_eq!(s[2].power_w, None, "NaN is not a reading");
        assert!(d.is_metering());
        let kinds: Vec<_> = d.marks().map(|m| &m.what).collect();
        // Relay off (first seen), answer, command (asks for on), answer, relay on.
        assert!(matches!(kinds[0], MarkKind::Answer { .. }));
        assert!(matches!(kinds[1], MarkKind::Relay { on: false }));
        assert!(matches!(
            kinds[2],
            MarkKind::Command {
                relay: Some(true),
                ..
            }
        ));
        assert!(matches!(kinds.last(), Some(MarkKind::Relay { on: true })));
        // The unchanged relay state at t=4 adds no mark.
        assert_eq!(
            kinds
                .iter()
                .filter(|k| matches!(k, MarkKind::Relay { .. }))
                .count(),
            2
        );
    }

    #[test]
    fn rings_are_bounded() {
        let mut h = History::default();
        for i in 0..(MAX_SAMPLES as i64 + 10) {
            h.record(&msg(i, MessageKind::Notify, vec![emeter(i as f64)]));
        }
        let d = h.get(&PLUG).unwrap();
        assert_eq!(d.samples().len(), MAX_SAMPLES);
        assert_eq!(d.samples_dropped, 10);
        assert_eq!(d.samples().next().unwrap().power_w, Some(10.0));
        for i in 0..(MAX_MARKS as i64 + 3) {
            h.record(&msg(i, MessageKind::Request, vec![]));
        }
        let d = h.get(&PLUG).unwrap();
        assert_eq!(d.marks().len(), MAX_MARKS);
        assert!(d.marks_dropped >= 3);
    }

    #[test]
    fn device_cap_and_group_addresses() {
        let mut h = History::default();
        for i in 0..(MAX_DEVICES + 5) {
            let mac = MacAddr([0x02, 0, 0, (i >> 16) as u8, (i >> 8) as u8, i as u8]);
            h.record(&Event {
                ts: Ts::from_micros(0, 0),
                anchor: None,
                body: EventBody::CloudLink(CloudEvent {
                    state: CloudState::Opened,
                    device: Some(mac),
                    src: "192.168.1.20:40000".parse().unwrap(),
                    dst: "1.2.3.4:443".parse().unwrap(),
                    initiated_by_device: true,
                    initiator_seen: true,
                    sni: Some("é".repeat(200)),
                    dns_name: None,
                    tls_version: None,
                    server_cert_cn: None,
                    bytes_up: 0,
                    bytes_down: 0,
                    packets: 0,
                    duration: Duration::ZERO,
                    mean_interval_s: None,
                }),
            });
        }
        assert_eq!(h.len(), MAX_DEVICES);
        assert_eq!(h.refused, 5);
        let (_, d) = h.devices().next().unwrap();
        match &d.marks().next().unwrap().what {
            MarkKind::Cloud {
                up: true,
                server: Some(s),
            } => assert!(s.len() <= MAX_TEXT),
            other => panic!("{other:?}"),
        }
        let mut h = History::default();
        let mut e = msg(1, MessageKind::Notify, vec![emeter(1.0)]);
        if let EventBody::Message(m) = &mut e.body {
            m.device = Some(MacAddr([0xff; 6]));
        }
        h.record(&e);
        assert!(h.is_empty());
    }

    #[test]
    fn csv() {
        let mut h = History::default();
        h.record(&msg(
            2,
            MessageKind::Response,
            vec![sysinfo(true), emeter(23.0)],
        ));
        let mut out = Vec::new();
        h.get(&PLUG).unwrap().write_csv(&mut out).unwrap();
        let s = String::from_utf8(out).unwrap();
        let lines: Vec<_> = s.lines().collect();
        assert_eq!(
            lines[0],
            "time_us,relay_on,power_w,voltage_v,current_a,energy_kwh"
        );
        assert!(lines[1].starts_with("2000000,1,23,230,"), "{}", lines[1]);
        assert!(lines[1].ends_with(",1.5"));
    }
}
