//! Per-device state for the publishers (MQTT retained state, Prometheus
//! gauges): what the inventory knows of a plug, plus what only the event
//! stream carries (the last current reading, the last command and who sent
//! it), and which devices changed since the last publication.
//!
//! Bounded by the inventory: a device gets an entry here only once the
//! inventory holds it ([`crate::report::inventory::MAX_DEVICES`]).
//!
//! A *command* is a request to the device that changes something: a relay
//! switch, or a method whose name (after its last `.` or `/`) starts with
//! `set` or is one of `bind`, `unbind`, `reboot`, `reset`, `control`,
//! `control_new`, `switch`, `toggle` (TP-Link `system.set_relay_state`,
//! `cnCloud.bind`, Meross `Appliance.Control.ToggleX.SET`, Wemo
//! `SetBinaryState`, Tuya `CONTROL`, eWeLink `zeroconf/switch`). Polls
//! (`get_sysinfo`, `Switch.GetStatus`) are not commands.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use serde::Serialize;

use crate::decoders::MessageKind;
use crate::decoders::summary::Summary;
use crate::report::event::{Event, EventBody};
use crate::report::inventory::{Device, Inventory, Role};
use crate::wire::{MacAddr, Ts};

/// Longest `last_command_text` (Home Assistant's state limit is 255).
pub const MAX_COMMAND_TEXT: usize = 255;

/// Version of the state document (`docs/events.md`, "MQTT").
pub const STATE_VERSION: u32 = 1;

/// The last command a device was sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    pub ts: Ts,
    /// The summary in words (`"switch OFF"`), else the methods.
    pub text: String,
    pub methods: Vec<String>,
    pub protocol: &'static str,
    /// The sender's address.
    pub from: SocketAddr,
}

#[derive(Debug, Clone, Default)]
struct Extra {
    current_a: Option<f64>,
    last_command: Option<Command>,
}

/// What the event stream adds to the inventory, and what changed.
#[derive(Debug, Default)]
pub struct DeviceStates {
    extra: BTreeMap<MacAddr, Extra>,
    dirty: BTreeSet<MacAddr>,
}

impl DeviceStates {
    /// Folds one event in (after the watcher applied it to `inv`).
    pub fn on_event(&mut self, e: &Event, inv: &Inventory) {
        let device = match &e.body {
            EventBody::Message(m) => m.device,
            EventBody::Discovery(d) => d.device,
            EventBody::CredentialLeak(l) => l.device,
            EventBody::CloudLink(c) => c.device,
            EventBody::KlapSession(k) => k.device,
            EventBody::Handshake(h) => Some(h.sta),
            EventBody::Undecodable(_) | EventBody::Warning(_) => None,
        };
        let Some(mac) = device else { return };
        if inv.get(&mac).is_none() {
            return; // not (or no longer) in the bounded inventory
        }
        self.dirty.insert(mac);
        let EventBody::Message(m) = &e.body else {
            return;
        };
        match m.kind {
            MessageKind::Request => {
                if is_command(&m.methods, &m.summary) {
                    let words: Vec<String> = m.summary.iter().map(super::words::describe).collect();
                    let text = if words.is_empty() {
                        m.methods.join(", ")
                    } else {
                        words.join("; ")
                    };
                    self.extra.entry(mac).or_default().last_command = Some(Command {
                        ts: e.ts,
                        text: truncate(text, MAX_COMMAND_TEXT),
                        methods: m.methods.clone(),
                        protocol: m.protocol,
                        from: m.src,
                    });
                }
            }
            MessageKind::Response | MessageKind::Notify => {
                for s in &m.summary {
                    if let Summary::Emeter(r) = s
                        && let Some(a) = r.current_a
                    {
                        self.extra.entry(mac).or_default().current_a = Some(a);
                    }
                }
            }
        }
    }

    /// Devices that changed since the last call.
    pub fn take_dirty(&mut self) -> Vec<MacAddr> {
        std::mem::take(&mut self.dirty).into_iter().collect()
    }

    /// Marks every device changed (after a reconnect, to publish them all).
    pub fn mark_all(&mut self, inv: &Inventory) {
        self.dirty.extend(inv.devices().map(|d| d.mac));
    }

    pub fn current_a(&self, mac: &MacAddr) -> Option<f64> {
        self.extra.get(mac).and_then(|x| x.current_a)
    }

    pub fn last_command(&self, mac: &MacAddr) -> Option<&Command> {
        self.extra.get(mac).and_then(|x| x.last_command.as_ref())
    }

    /// The state document of a device (`docs/events.md`, "Device state").
    pub fn state<'a>(&'a self, d: &'a Device, inv: &'a Inventory, sensor: &'a str) -> State<'a> {
        let cmd = self.last_command(&d.mac);
        State {
            v: STATE_VERSION,
            mac: d.mac.to_string(),
            sensor,
            role: match d.role {
                Role::Plug => "plug",
                Role::Controller => "controller",
            },
            name: display_name(d),
            alias: d.alias.as_deref(),
            model: d.model.as_deref(),
            vendor: d.vendor.as_deref(),
            ip: d.ip.map(|i| i.to_string()),
            firmware: d.firmware.as_deref(),
            hardware: d.hardware.as_deref(),
            relay: d.relay_on.map(|on| if on { "on" } else { "off" }),
            power_w: d.power_w.map(round6),
            voltage_v: d.voltage_v.map(round6),
            current_a: self.current_a(&d.mac).map(round6),
            energy_kwh: d.total_kwh.map(round6),
            messages: d.messages,
            protocols: d.protocols.iter().copied().collect(),
            notes: d.notes.iter().map(String::as_str).collect(),
            first_seen: super::json::rfc3339(d.first_seen),
            last_seen: super::json::rfc3339(d.last_seen),
            last_command_text: cmd.map(|c| c.text.as_str()),
            last_command: cmd.map(|c| CommandDoc {
                ts: super::json::rfc3339(c.ts),
                text: &c.text,
                methods: &c.methods,
                protocol: c.protocol,
                from: c.from.to_string(),
                from_mac: controller_mac(inv, c.from),
            }),
        }
    }
}

/// The device state document, serialized as JSON.
#[derive(Debug, Serialize)]
pub struct State<'a> {
    pub v: u32,
    pub mac: String,
    pub sensor: &'a str,
    pub role: &'static str,
    /// The alias, else the model, else the DHCP host name, else the MAC.
    pub name: String,
    pub alias: Option<&'a str>,
    pub model: Option<&'a str>,
    pub vendor: Option<&'a str>,
    pub ip: Option<String>,
    pub firmware: Option<&'a str>,
    pub hardware: Option<&'a str>,
    /// `"on"`, `"off"`, or null when never seen.
    pub relay: Option<&'static str>,
    pub power_w: Option<f64>,
    pub voltage_v: Option<f64>,
    pub current_a: Option<f64>,
    pub energy_kwh: Option<f64>,
    pub messages: u64,
    pub protocols: Vec<&'static str>,
    pub notes: Vec<&'a str>,
    pub first_seen: String,
    pub last_seen: String,
    /// `last_command.text`, at most [`MAX_COMMAND_TEXT`] bytes.
    pub last_command_text: Option<&'a str>,
    pub last_command: Option<CommandDoc<'a>>,
}

#[derive(Debug, Serialize)]
pub struct CommandDoc<'a> {
    pub ts: String,
    pub text: &'a str,
    pub methods: &'a [String],
    pub protocol: &'static str,
    /// Sender `ip:port`.
    pub from: String,
    /// The sender's MAC, when it is a controller the inventory knows.
    pub from_mac: Option<String>,
}

/// The alias, else the model, else the DHCP host name, else the MAC.
pub fn display_name(d: &Device) -> String {
    d.alias
        .clone()
        .or_else(|| d.model.clone())
        .or_else(|| d.hostname.clone())
        .unwrap_or_else(|| d.mac.to_string())
}

/// Whether a request changes something on the device (module doc).
pub fn is_command(methods: &[String], summary: &[Summary]) -> bool {
    if summary.iter().any(|s| {
        matches!(
            s,
            Summary::SetRelayState(_) | Summary::CredentialLeak { .. }
        )
    }) {
        return true;
    }
    methods.iter().any(|m| {
        let last = m
            .rsplit(['.', '/'])
            .next()
            .unwrap_or(m)
            .to_ascii_lowercase();
        last.starts_with("set")
            || matches!(
                last.as_str(),
                "bind"
                    | "unbind"
                    | "reboot"
                    | "reset"
                    | "control"
                    | "control_new"
                    | "switch"
                    | "toggle"
            )
    })
}

/// The MAC of the controller at `from`'s IP, when the inventory has one.
fn controller_mac(inv: &Inventory, from: SocketAddr) -> Option<String> {
    inv.devices()
        .find(|d| d.role == Role::Controller && d.ip == Some(from.ip()))
        .map(|d| d.mac.to_string())
}

/// Rounds to 6 decimals (`230.12300000000002` → `230.123`): readings come
/// from integer milli-units, the binary noise of the division is not data.
pub fn round6(x: f64) -> f64 {
    if x.is_finite() && x.abs() < 1e12 {
        (x * 1e6).round() / 1e6
    } else {
        x
    }
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::summary::RelayState;

    #[test]
    fn commands_and_polls() {
        let m = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(is_command(&m(&["system.set_relay_state"]), &[]));
        assert!(is_command(&m(&["cnCloud.bind"]), &[]));
        assert!(is_command(&m(&["Appliance.Control.ToggleX.SET"]), &[]));
        assert!(is_command(&m(&["SetBinaryState"]), &[]));
        assert!(is_command(&m(&["CONTROL"]), &[]));
        assert!(is_command(&m(&["zeroconf/switch"]), &[]));
        assert!(is_command(
            &m(&["relay/0"]),
            &[Summary::SetRelayState(RelayState::On)]
        ));
        assert!(!is_command(&m(&["system.get_sysinfo"]), &[]));
        assert!(!is_command(&m(&["Switch.GetStatus", "status"]), &[]));
        assert!(!is_command(&m(&["emeter.get_realtime"]), &[]));
    }

    #[test]
    fn rounding_and_truncation() {
        assert_eq!(round6(230.12300000000002), 230.123);
        assert!(round6(f64::NAN).is_nan());
        assert_eq!(truncate("é".repeat(200), 255).len(), 254);
        assert_eq!(truncate("abc".into(), 255), "abc");
    }
}
