//! The end-of-run summary of `watch`: devices, flows, message counts, frames
//! and drops by reason; as a text table or a final JSON line.

use std::fmt::Write as _;

use serde::Serialize;

use super::live::Style;
use super::summary::Summary;
use crate::watch::Watcher;
use crate::watch::inventory::Device;

#[derive(Serialize)]
pub struct WatchSummary<'a> {
    pub devices: Vec<&'a Device>,
    pub flows: FlowCounts,
    pub decode: &'a crate::watch::WatchStats,
    pub wifi: Summary,
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
    pub fn new(w: &'a Watcher) -> Self {
        let fs = w.flow_stats();
        WatchSummary {
            devices: w.inventory.devices().collect(),
            flows: FlowCounts {
                created: fs.created,
                open_at_end: w.flow_count(),
                evicted_no_payload: fs.evicted_no_payload,
                refused_table_full: fs.refused_full,
            },
            decode: &w.stats,
            wifi: Summary::from_engine(&w.engine),
        }
    }

    pub fn to_json_line(&self) -> String {
        #[derive(Serialize)]
        struct Line<'b, 'a> {
            v: u32,
            event: &'static str,
            #[serde(flatten)]
            s: &'b WatchSummary<'a>,
        }
        serde_json::to_string(&Line {
            v: super::event::EVENT_VERSION,
            event: "summary",
            s: self,
        })
        .unwrap_or_else(|_| "{}".into())
    }

    pub fn to_text(&self, st: Style) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "\n{}", st.bold("devices"));
        if self.devices.is_empty() {
            let _ = writeln!(s, "  none seen speaking a TP-Link protocol");
        }
        for d in &self.devices {
            let name = d.alias.as_deref().unwrap_or("-");
            let _ = writeln!(
                s,
                "  {} {:<10} {:<18} {:<12} {:<16} {}",
                d.mac,
                format!("{:?}", d.role).to_lowercase(),
                format!("{name:?}"),
                d.model.as_deref().unwrap_or("-"),
                d.ip.map_or("-".into(), |i| i.to_string()),
                d.vendor.unwrap_or("")
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
            facts.push(format!("seen {} .. {}", d.first_seen, d.last_seen));
            let _ = writeln!(s, "      {}", facts.join(", "));
            for n in &d.notes {
                let _ = writeln!(s, "      {}", st.dim(n));
            }
        }
        let d = self.decode;
        let _ = writeln!(
            s,
            "{}: {} TP-Link messages ({} undecodable; {} over KLAP, {} KLAP handshakes of which {} matched, {} not decrypted), {} discovery, {} TLS flows, {} credential leak(s); flows {} ({} evicted before carrying payload, {} refused)",
            st.bold("decoded"),
            d.tplink_messages,
            d.tplink_undecodable,
            d.klap_messages,
            d.klap_handshakes,
            d.klap_handshakes_matched,
            d.klap_undecrypted,
            d.discovery,
            d.tls_flows,
            d.credential_leaks,
            self.flows.created,
            self.flows.evicted_no_payload,
            self.flows.refused_table_full
        );
        let _ = writeln!(
            s,
            "packets: {} MSDUs, {} IP ({} malformed, {} fragments, {} not IP), {} TCP, {} UDP",
            d.msdus,
            d.ip_packets,
            d.ip_malformed,
            d.ip_fragments,
            d.not_ip,
            d.tcp_segments,
            d.udp_datagrams
        );
        if self.wifi.frames.read > 0 {
            let _ = write!(s, "{}", self.wifi.to_text());
        }
        s
    }
}
