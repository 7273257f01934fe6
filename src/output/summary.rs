//! The run summary: per network and station, the handshake messages seen, key
//! confirmed or why not, and what happened to protected frames; totals with
//! every drop reason. Rendered as text or JSON (same content).

use serde::Serialize;

use crate::engine::{DropReason, Engine, LinkStats};
use crate::wire::MacAddr;

/// The words of exit code 5 (`decrypt`, `watch -r`): keys were given,
/// handshakes were seen, every MIC failed and nothing was decrypted. `None`
/// when a key was confirmed, something decrypted (a raw TK), no handshake
/// was checked, or no key was given.
pub fn keys_unconfirmed(e: &Engine, keys_given: bool) -> Option<String> {
    let v = e.tracker.verdict();
    if !keys_given || !v.every_mic_failed() || e.counters.decrypted > 0 {
        return None;
    }
    let n = v.passphrase_failed.saturating_add(v.pmk_failed);
    let why = match (v.passphrase_failed > 0, v.pmk_failed > 0) {
        (true, false) => "the passphrase or SSID is wrong",
        (false, _) => {
            "none of the given PMKs or MSKs is this network's (an SAE PMK is new at every authentication)"
        }
        (true, true) => {
            "the passphrase or SSID is wrong, and none of the given PMKs or MSKs verifies either"
        }
    };
    Some(format!(
        "{n} handshake(s) seen from {} station(s), every MIC failed: {why} (no key confirmed, nothing decrypted)",
        v.stations_failed
    ))
}

#[derive(Debug, Serialize)]
pub struct WifiSummary {
    pub frames: Totals,
    pub networks: Vec<Network>,
    /// Attack and anomaly warnings (`engine::security`), oldest first.
    pub warnings: Vec<Warning>,
    /// Warnings raised per kind, repeats included.
    pub warning_totals: std::collections::BTreeMap<&'static str, u64>,
    /// Warnings not listed: repeats within the rate limit, and those past the
    /// queue's cap.
    pub warnings_not_listed: u64,
}

/// One attack or anomaly warning, as `warning` events carry it.
#[derive(Debug, Serialize)]
pub struct Warning {
    pub kind: &'static str,
    pub bssid: String,
    pub sta: String,
    pub frame: u64,
    pub message: String,
    pub reference: Option<&'static str>,
}

#[derive(Debug, Serialize)]
pub struct Totals {
    pub read: u64,
    pub decrypted: u64,
    pub retransmitted: u64,
    pub decrypted_group: u64,
    pub decrypted_mgmt: u64,
    pub plaintext: u64,
    pub dropped: std::collections::BTreeMap<&'static str, u64>,
    pub fcs_detected: u64,
    /// Group-addressed management frames whose BIP MIC verified.
    pub bip_verified: u64,
    pub balanced: bool,
}

#[derive(Debug, Serialize)]
pub struct Network {
    pub bssid: String,
    pub ssid: Option<String>,
    /// AKM suites the BSS announces, by name ("PSK", "SAE", "FT-PSK", …).
    pub akms: Vec<&'static str>,
    pub group_keys: usize,
    pub group: Traffic,
    pub stations: Vec<Station>,
}

#[derive(Debug, Serialize)]
pub struct Station {
    pub mac: String,
    /// Handshake messages seen: M1, M2, M3, M4, G1, G2.
    pub handshake: std::collections::BTreeMap<&'static str, u32>,
    /// The diagnosis in words: key confirmed, or why not and what to give
    /// (the PMK for SAE/OWE/802.1X and where it is found), "a different
    /// passphrase", handshakes that failed beside ones that installed keys.
    pub key: String,
    pub key_confirmed: bool,
    pub keys_installed: u32,
    /// Handshakes that failed (once per handshake), whatever came later.
    pub handshakes_failed: u32,
    /// The AKM the station negotiated, by name, when seen.
    pub akm: Option<&'static str>,
    /// Where its PMK comes from: "PSK", "SAE", "OWE", "802.1X".
    pub key_source: Option<&'static str>,
    pub traffic: Traffic,
    /// What the sniffer heard of this link (`engine::health`): data frames
    /// each way, frames missed, and the highest rates seen each way. Absent
    /// when no data frame was seen.
    pub radio: Option<StationRadio>,
}

/// One station's link as the capture heard it (`docs/hardware.md`: a 2×2
/// adapter cannot decode a 3×3 access point's three-stream frames; these
/// numbers show it).
#[derive(Debug, Serialize)]
pub struct StationRadio {
    pub frames_to_ap: u64,
    pub frames_from_ap: u64,
    /// Frames missed, estimated from sequence-number gaps (both directions).
    pub missed_estimate: u64,
    /// Highest rates in frames the station sent to the AP.
    pub to_ap: Rates,
    /// Highest rates in frames the AP sent to the station.
    pub from_ap: Rates,
}

/// The highest PHY, MCS, spatial streams and width seen in one direction;
/// each `null` when no frame's radiotap header said so.
#[derive(Debug, Default, Serialize)]
pub struct Rates {
    pub phy: Option<&'static str>,
    pub mcs: Option<u8>,
    pub streams: Option<u8>,
    pub width_mhz: Option<u16>,
}

impl From<&crate::engine::health::RadioMax> for Rates {
    fn from(r: &crate::engine::health::RadioMax) -> Self {
        Rates {
            phy: r.phy.map(|p| p.name()),
            mcs: r.mcs,
            streams: r.nss,
            width_mhz: r.width_mhz,
        }
    }
}

impl Rates {
    /// `"VHT MCS 9, 2 streams, 80 MHz"`, or `"rates not in the radiotap headers"`.
    fn to_text(&self) -> String {
        let mut p = Vec::new();
        if let Some(phy) = self.phy {
            p.push(phy.to_string());
        }
        if let Some(m) = self.mcs {
            p.push(format!("MCS {m}"));
        }
        if let Some(n) = self.streams {
            p.push(format!("{n} stream{}", if n == 1 { "" } else { "s" }));
        }
        if let Some(w) = self.width_mhz {
            p.push(format!("{w} MHz"));
        }
        if p.is_empty() {
            "no rate in the radiotap headers".into()
        } else {
            p.join(" ")
        }
    }
}

#[derive(Debug, Default, Serialize)]
pub struct Traffic {
    pub protected: u64,
    pub decrypted: u64,
    pub retransmitted: u64,
    pub replayed: u64,
    pub mic_failed: u64,
    pub no_key: u64,
    pub other_dropped: u64,
}

impl From<&LinkStats> for Traffic {
    fn from(s: &LinkStats) -> Self {
        Traffic {
            protected: s.protected,
            decrypted: s.decrypted,
            retransmitted: s.retransmitted,
            replayed: s.replayed,
            mic_failed: s.mic_failed,
            no_key: s.no_key,
            other_dropped: s.other_dropped,
        }
    }
}

const MSG_NAMES: [&str; 6] = ["M1", "M2", "M3", "M4", "G1", "G2"];

impl WifiSummary {
    pub fn from_engine(e: &Engine) -> WifiSummary {
        let c = &e.counters;
        let dropped = DropReason::ALL
            .iter()
            .filter(|r| c.dropped(**r) > 0)
            .map(|r| (r.name(), c.dropped(*r)))
            .collect();
        let mut bssids: Vec<MacAddr> = e.bss.keys().copied().collect();
        for ((b, _), _) in e.tracker.stations() {
            bssids.push(*b);
        }
        for (b, _) in e.stations.keys() {
            bssids.push(*b);
        }
        bssids.sort();
        bssids.dedup();
        let mut networks = Vec::new();
        for b in bssids {
            let info = e.bss.get(&b);
            let mut stas: Vec<MacAddr> = e
                .tracker
                .stations()
                .filter(|((bb, _), _)| *bb == b)
                .map(|((_, s), _)| *s)
                .chain(
                    e.stations
                        .keys()
                        .filter(|(bb, _)| *bb == b)
                        .map(|(_, s)| *s),
                )
                .collect();
            stas.sort();
            stas.dedup();
            let stations: Vec<Station> = stas
                .into_iter()
                .map(|s| {
                    let hs = e.tracker.station(b, s);
                    let status = hs.map_or(crate::wpa::handshake::KeyStatus::NoHandshake, |h| {
                        h.status.clone()
                    });
                    Station {
                        handshakes_failed: hs.map_or(0, |h| h.handshakes_failed),
                        akm: hs.and_then(|h| h.akm).map(crate::wpa::akm::name),
                        key_source: hs.and_then(|h| h.key_source()).map(|k| k.name()),
                        mac: s.to_string(),
                        handshake: MSG_NAMES
                            .iter()
                            .enumerate()
                            .filter_map(|(i, n)| {
                                let v = hs.map_or(0, |h| h.seen[i]);
                                (v > 0).then_some((*n, v))
                            })
                            .collect(),
                        key: e.tracker.describe_station(b, s),
                        key_confirmed: status == crate::wpa::handshake::KeyStatus::Confirmed,
                        keys_installed: hs.map_or(0, |h| h.keys_installed),
                        traffic: e
                            .stations
                            .get(&(b, s))
                            .map(Traffic::from)
                            .unwrap_or_default(),
                        radio: e.health.station(b, s).map(|h| StationRadio {
                            frames_to_ap: h.frames_to_ap,
                            frames_from_ap: h.frames_from_ap,
                            missed_estimate: h.missed_estimate,
                            to_ap: Rates::from(&h.radio[0]),
                            from_ap: Rates::from(&h.radio[1]),
                        }),
                    }
                })
                .collect();
            let group = info.map(|i| Traffic::from(&i.group)).unwrap_or_default();
            // Skip BSSes that carried nothing protected and no handshake (beacons of neighbours).
            if stations.is_empty() && group.protected == 0 {
                continue;
            }
            networks.push(Network {
                akms: info
                    .map(|i| i.akms.iter().map(|a| crate::wpa::akm::name(*a)).collect())
                    .unwrap_or_default(),
                bssid: b.to_string(),
                ssid: e
                    .tracker
                    .ssid(&b)
                    .map(|s| String::from_utf8_lossy(s).into_owned()),
                group_keys: (0..4).map(|id| e.keys.group(b, id).len()).sum(),
                group,
                stations,
            });
        }
        let w = &e.warnings;
        WifiSummary {
            warnings: w
                .pending()
                .iter()
                .map(|w| Warning {
                    kind: w.kind,
                    bssid: w.bssid.to_string(),
                    sta: w.sta.to_string(),
                    frame: w.frame,
                    message: w.message.clone(),
                    reference: w.reference,
                })
                .collect(),
            warning_totals: w.totals.clone(),
            warnings_not_listed: w.suppressed + w.dropped,
            frames: Totals {
                read: c.read,
                decrypted: c.decrypted,
                retransmitted: c.retransmitted,
                decrypted_group: c.decrypted_group,
                decrypted_mgmt: c.decrypted_mgmt,
                plaintext: c.plaintext,
                dropped,
                fcs_detected: c.fcs_detected,
                bip_verified: c.bip_verified,
                balanced: c.balanced(),
            },
            networks,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".into())
    }

    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        for n in &self.networks {
            let _ = writeln!(
                s,
                "network {} ssid {:?}: {} group key(s); group frames {}",
                n.bssid,
                n.ssid.as_deref().unwrap_or("?"),
                n.group_keys,
                traffic(&n.group)
            );
            for st in &n.stations {
                let hs: Vec<String> = st
                    .handshake
                    .iter()
                    .map(|(k, v)| format!("{k}×{v}"))
                    .collect();
                let _ = writeln!(
                    s,
                    "  station {}  handshake [{}]  {}\n    frames {}",
                    st.mac,
                    if hs.is_empty() {
                        "none".into()
                    } else {
                        hs.join(" ")
                    },
                    st.key,
                    traffic(&st.traffic)
                );
                if let Some(r) = &st.radio {
                    let _ = writeln!(
                        s,
                        "    radio: {} to AP ({}), {} from AP ({}), ~{} missed",
                        r.frames_to_ap,
                        r.to_ap.to_text(),
                        r.frames_from_ap,
                        r.from_ap.to_text(),
                        r.missed_estimate
                    );
                }
            }
        }
        let f = &self.frames;
        let _ = writeln!(
            s,
            "frames: {} read = {} decrypted ({} retransmitted, {} group, {} management) + {} plaintext + {} dropped",
            f.read,
            f.decrypted,
            f.retransmitted,
            f.decrypted_group,
            f.decrypted_mgmt,
            f.plaintext,
            f.dropped.values().sum::<u64>()
        );
        if !f.dropped.is_empty() {
            let d: Vec<String> = f.dropped.iter().map(|(k, v)| format!("{k} {v}")).collect();
            let _ = writeln!(s, "dropped: {}", d.join(", "));
        }
        if f.fcs_detected > 0 {
            let _ = writeln!(s, "FCS detected and stripped on {} frames", f.fcs_detected);
        }
        for w in &self.warnings {
            let _ = writeln!(
                s,
                "warning {} (frame {}): {}{}",
                w.kind,
                w.frame,
                w.message,
                w.reference.map_or(String::new(), |r| format!(" [{r}]"))
            );
        }
        if self.warnings_not_listed > 0 {
            let _ = writeln!(
                s,
                "{} more warning(s) not listed (repeats, or past the cap)",
                self.warnings_not_listed
            );
        }
        s
    }
}

fn traffic(t: &Traffic) -> String {
    format!(
        "protected {} decrypted {} retransmitted {} replayed {} mic-failed {} no-key {}",
        t.protected, t.decrypted, t.retransmitted, t.replayed, t.mic_failed, t.no_key
    )
}
