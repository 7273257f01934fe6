//! The end-of-run summary of `watch`: devices, flows, message counts, frames
//! and drops by reason; as a text table or a final JSON line.

use std::fmt::Write as _;

use serde::Serialize;

use super::json::rfc3339;
use super::live::Style;
use super::summary::WifiSummary;
use crate::engine::Engine;
use crate::report::counters::WatchStats;
use crate::report::inventory::{Device, Inventory, IpDevice, Role};

#[derive(Serialize)]
pub struct WatchSummary<'a> {
    /// Capture time of the last frame (`None` when the input had none).
    #[serde(skip)]
    pub ts: Option<crate::wire::Ts>,
    #[serde(serialize_with = "devices_json")]
    pub devices: Devices<'a>,
    pub flows: FlowCounts,
    #[serde(serialize_with = "decode_json")]
    pub decode: &'a WatchStats,
    pub wifi: WifiSummary,
}

/// The inventory: devices named by MAC, then those known only by IP.
pub struct Devices<'a> {
    pub by_mac: Vec<&'a Device>,
    pub ip_only: Vec<&'a IpDevice>,
}

/// The inventory's devices as JSON objects (`docs/events.md`, `summary`);
/// a device known only by IP has `"mac": null`.
fn devices_json<S: serde::Serializer>(d: &Devices<'_>, s: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Dev<'a> {
        mac: Option<String>,
        role: &'static str,
        ip: Option<std::net::IpAddr>,
        vendor: Option<&'a str>,
        hostname: &'a Option<String>,
        model: &'a Option<String>,
        alias: &'a Option<String>,
        firmware: &'a Option<String>,
        hardware: &'a Option<String>,
        relay_on: Option<bool>,
        power_w: Option<f64>,
        voltage_v: Option<f64>,
        total_kwh: Option<f64>,
        protocols: &'a std::collections::BTreeSet<&'static str>,
        notes: &'a std::collections::BTreeSet<String>,
        messages: u64,
        first_seen: String,
        last_seen: String,
    }
    let none = (&None, &None, &None, &None, &None);
    let empty = std::collections::BTreeSet::new();
    let ip_only = d.ip_only.iter().map(|d| Dev {
        mac: None,
        role: role_name(d.role),
        ip: Some(d.ip),
        vendor: None,
        hostname: none.0,
        model: none.1,
        alias: none.2,
        firmware: none.3,
        hardware: none.4,
        relay_on: None,
        power_w: None,
        voltage_v: None,
        total_kwh: None,
        protocols: &d.protocols,
        notes: &empty,
        messages: d.messages,
        first_seen: rfc3339(d.first_seen),
        last_seen: rfc3339(d.last_seen),
    });
    s.collect_seq(
        d.by_mac
            .iter()
            .map(|d| Dev {
                mac: Some(d.mac.to_string()),
                role: role_name(d.role),
                ip: d.ip,
                vendor: d.vendor.as_deref(),
                hostname: &d.hostname,
                model: &d.model,
                alias: &d.alias,
                firmware: &d.firmware,
                hardware: &d.hardware,
                relay_on: d.relay_on,
                power_w: d.power_w,
                voltage_v: d.voltage_v,
                total_kwh: d.total_kwh,
                protocols: &d.protocols,
                notes: &d.notes,
                messages: d.messages,
                first_seen: rfc3339(d.first_seen),
                last_seen: rfc3339(d.last_seen),
            })
            .chain(ip_only),
    )
}

/// The decoding counters as one JSON object, in their stable order.
fn decode_json<S: serde::Serializer>(w: &&WatchStats, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(None)?;
    for (c, n) in w.iter() {
        m.serialize_entry(c.name(), &n)?;
    }
    m.end()
}

fn role_name(r: Role) -> &'static str {
    match r {
        Role::Plug => "plug",
        Role::Controller => "controller",
    }
}

#[derive(Serialize)]
pub struct FlowCounts {
    pub created: u64,
    pub open_at_end: usize,
    /// Flows that had not carried payload, evicted to make room (a full table).
    pub evicted_no_payload: u64,
    /// New flows refused: the table was full of flows that had all carried payload.
    pub refused_table_full: u64,
}

impl<'a> WatchSummary<'a> {
    pub fn new(
        inventory: &'a Inventory,
        flows: FlowCounts,
        decode: &'a WatchStats,
        engine: &Engine,
        ts: Option<crate::wire::Ts>,
    ) -> Self {
        WatchSummary {
            ts,
            devices: Devices {
                by_mac: inventory.devices().collect(),
                ip_only: inventory.ip_only().collect(),
            },
            flows,
            decode,
            wifi: WifiSummary::from_engine(engine),
        }
    }

    pub fn to_json_line(&self) -> String {
        #[derive(Serialize)]
        struct Line<'b, 'a> {
            v: u32,
            ts: Option<String>,
            event: &'static str,
            #[serde(flatten)]
            s: &'b WatchSummary<'a>,
        }
        serde_json::to_string(&Line {
            v: super::json::EVENT_VERSION,
            ts: self.ts.map(rfc3339),
            event: "summary",
            s: self,
        })
        .unwrap_or_else(|_| "{}".into())
    }

    pub fn to_text(&self, st: Style) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "\n{}", st.bold("devices"));
        if self.devices.by_mac.is_empty() && self.devices.ip_only.is_empty() {
            let _ = writeln!(s, "  none seen speaking a smart-plug protocol");
        }
        for d in &self.devices.by_mac {
            let name = d.alias.as_deref().or(d.hostname.as_deref()).unwrap_or("-");
            let _ = writeln!(
                s,
                "  {} {:<10} {:<18} {:<12} {:<16} {}",
                d.mac,
                role_name(d.role),
                format!("{name:?}"),
                d.model.as_deref().unwrap_or("-"),
                d.ip.map_or("-".into(), |i| i.to_string()),
                d.vendor.as_deref().unwrap_or("")
            );
            let mut facts = Vec::new();
            if let Some(f) = &d.firmware {
                facts.push(format!("fw {f}"));
            }
            if let Some(r) = d.relay_on {
                facts.push(format!("relay {}", if r { "ON" } else { "OFF" }));
            }
            if let Some(p) = d.power_w {
                facts.push(format!("{p:.1} W"));
            }
            if let Some(k) = d.total_kwh {
                facts.push(format!("{k:.3} kWh"));
            }
            if !d.protocols.is_empty() {
                facts.push(format!(
                    "via {}",
                    d.protocols.iter().copied().collect::<Vec<_>>().join("/")
                ));
            }
            facts.push(format!("{} messages", d.messages));
            facts.push(format!(
                "seen {} .. {}",
                rfc3339(d.first_seen),
                rfc3339(d.last_seen)
            ));
            let _ = writeln!(s, "      {}", facts.join(", "));
            for n in &d.notes {
                let _ = writeln!(s, "      {}", st.dim(n));
            }
        }
        for d in &self.devices.ip_only {
            let _ = writeln!(
                s,
                "  {:<17} {:<10} {:<18} {:<12} {}",
                "(no MAC seen)",
                role_name(d.role),
                "\"-\"",
                "-",
                d.ip,
            );
            let _ = writeln!(
                s,
                "      via {}, {} messages, seen {} .. {}",
                d.protocols.iter().copied().collect::<Vec<_>>().join("/"),
                d.messages,
                rfc3339(d.first_seen),
                rfc3339(d.last_seen)
            );
        }
        let d = self.decode;
        use crate::report::counters::Count as C;
        let n = |c| d.get(c);
        let _ = writeln!(
            s,
            "{}: {} TP-Link messages ({} undecodable; {} over KLAP, {} KLAP handshakes of which {} matched, {} not decrypted), {} discovery, {} TLS flows, {} credential leak(s); flows {} ({} evicted before carrying payload, {} refused)",
            st.bold("decoded"),
            n(C::TplinkMessages),
            n(C::TplinkUndecodable),
            n(C::KlapMessages),
            n(C::KlapHandshakes),
            n(C::KlapHandshakesMatched),
            n(C::KlapUndecrypted),
            n(C::Discovery),
            n(C::TlsFlows),
            n(C::CredentialLeaks),
            self.flows.created,
            self.flows.evicted_no_payload,
            self.flows.refused_table_full
        );
        // Per protocol: messages decoded, and payloads left undecoded
        // (labelled: a key needed, a key that does not match…).
        let protocols: std::collections::BTreeSet<&str> = d
            .messages
            .keys()
            .chain(d.undecodable.keys())
            .copied()
            .collect();
        if !protocols.is_empty() {
            let per: Vec<String> = protocols
                .iter()
                .map(|p| {
                    let n = d.messages.get(p).copied().unwrap_or(0);
                    match d.undecodable.get(p).copied().unwrap_or(0) {
                        0 => format!("{p} {n}"),
                        bad => format!("{p} {n} ({bad} undecodable)"),
                    }
                })
                .collect();
            let _ = writeln!(s, "{}: {}", st.bold("messages"), per.join(", "));
        }
        let _ = writeln!(
            s,
            "packets: {} MSDUs, {} IP ({} malformed, {} fragments, {} not IP), {} TCP, {} UDP",
            n(C::Msdus),
            n(C::IpPackets),
            n(C::IpMalformed),
            n(C::IpFragments),
            n(C::NotIp),
            n(C::TcpSegments),
            n(C::UdpDatagrams)
        );
        if self.wifi.frames.read > 0 {
            let _ = write!(s, "{}", self.wifi.to_text());
        }
        s
    }
}
