//! Capture health: can this capture see both directions of each station's
//! link, and how much of it is missed?
//!
//! The lesson behind it: a 2×2 sniffer cannot decode a 3×3 access point's
//! three-stream frames (or an 80 MHz link on a 20 MHz capture), and the only
//! symptom is seeing one direction of a conversation. Per station this module
//! counts data frames in each direction, estimates missed frames from gaps in
//! 802.11 sequence numbers (IEEE 802.11-2020 10.3.2.14: modulo 4096; a QoS
//! Data frame to an individual address takes its number from a counter per
//! ⟨receiver, TID⟩, other frames from one counter per transmitter; a
//! retransmission repeats the number), and records
//! per direction the highest PHY, MCS, spatial streams and channel width seen
//! in radiotap ([`RadioMax`]: the HT, VHT and HE fields of radiotap.org, with
//! their "known" bits honoured; nothing is inferred from a field that is absent).
//!
//! [`HealthTracker::warnings`] turns that into advice; each warning is
//! raised once per station. Bounded by [`MAX_STATIONS`].

use std::collections::hash_map::Entry;

use crate::wire::MacAddr;
use crate::wire::Ts;
use crate::wire::dot11::Dot11;
use crate::wire::link::LinkKind;
use crate::wire::radiotap::{Radiotap, bit};

/// Stations whose health is tracked: as many as the handshake tracker keeps.
pub use crate::wpa::handshake::MAX_STATIONS;
/// Seconds of one-directional traffic before warning.
pub const ONE_WAY_SECS: i64 = 30;
/// Sequence gaps larger than this are a new burst (station asleep, roamed), not loss.
const MAX_COUNTED_GAP: u16 = 64;
/// A number at most this far behind the last one is an old frame sent again
/// (a retransmission, a replay, a frame the AP relays late): it neither
/// counts as loss nor moves the baseline. Further behind is a counter that
/// restarted (the station re-associated), which becomes the new baseline.
const MAX_BEHIND: u16 = 64;
/// Sequence counters tracked per direction: one per TID (QoS Data), and one
/// for non-QoS Data ([`NON_QOS`]).
const COUNTERS: usize = 17;
const NON_QOS: usize = 16;
/// No number seen yet on that counter (sequence numbers are 12 bits).
const NO_SEQ: u16 = u16::MAX;

/// The PHY generation a frame was received with (radiotap's MCS, VHT or HE field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phy {
    /// 802.11n (HT), radiotap MCS field.
    Ht,
    /// 802.11ac (VHT).
    Vht,
    /// 802.11ax (HE).
    He,
}

impl Phy {
    pub fn name(self) -> &'static str {
        match self {
            Phy::Ht => "HT",
            Phy::Vht => "VHT",
            Phy::He => "HE",
        }
    }
}

/// The highest rate parameters seen in one direction of a link, each kept
/// separately (the highest MCS may come from a one-stream frame). `None`:
/// no frame in that direction said so.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RadioMax {
    pub phy: Option<Phy>,
    /// MCS index within its PHY (HT 0–7 per stream, VHT 0–9, HE 0–11).
    pub mcs: Option<u8>,
    /// Spatial streams.
    pub nss: Option<u8>,
    pub width_mhz: Option<u16>,
}

impl RadioMax {
    fn see(&mut self, phy: Phy, mcs: Option<u8>, nss: Option<u8>, width: Option<u16>) {
        self.phy = self.phy.max(Some(phy));
        self.mcs = self.mcs.max(mcs);
        self.nss = self.nss.max(nss);
        self.width_mhz = self.width_mhz.max(width);
    }

    /// Reads the radiotap rate fields of one frame (radiotap.org, fields 19,
    /// 21 and 23).
    pub fn observe(&mut self, rt: &Radiotap<'_>) {
        // MCS (802.11n): known, flags, index. known bit 0: bandwidth, bit 1:
        // MCS index; flags bits 0-1: 0 = 20, 1 = 40, 2/3 = 20L/20U MHz.
        // Indices 0-31 are equal modulation (streams = idx / 8 + 1); 32 is
        // the 40 MHz duplicate, 33-76 unequal modulation (no single MCS).
        if let Some((known, flags, idx)) = rt.mcs() {
            let width = (known & 0x01 != 0).then_some(if flags & 0x03 == 1 { 40 } else { 20 });
            let (mcs, nss) = if known & 0x02 != 0 && idx < 32 {
                (Some(idx % 8), Some(idx / 8 + 1))
            } else {
                (None, None)
            };
            self.see(Phy::Ht, mcs, nss, width);
        }
        // VHT (802.11ac): known u16 (bit 6: bandwidth known), flags,
        // bandwidth, mcs_nss per user (MCS high nibble, NSS low; NSS 0 = no user).
        if let Some(v) = rt.vht() {
            let known = u16::from_le_bytes([v[0], v[1]]);
            let width = if known & 0x0040 != 0 {
                match v[3] {
                    0 => Some(20),
                    1..=3 => Some(40),
                    4..=10 => Some(80),
                    11..=25 => Some(160),
                    _ => None,
                }
            } else {
                None
            };
            self.see(Phy::Vht, None, None, width);
            for &u in &v[4..8] {
                let (mcs, nss) = (u >> 4, u & 0x0f);
                if nss > 0 && mcs <= 9 {
                    self.see(Phy::Vht, Some(mcs), Some(nss), None);
                }
            }
        }
        // HE (802.11ax): six u16 data words. data1 bit 5: data MCS known,
        // bit 14: data bandwidth/RU allocation known; data3 bits 8-11: MCS,
        // bit 15: STBC; data5 bits 0-3: 0-3 = 20/40/80/160 MHz (4 and up: an
        // RU of a wider channel, no width); data6 bits 0-3: NSTS (0 unknown).
        if let Some(he) = rt.he() {
            let w = |i: usize| u16::from_le_bytes([he[2 * i], he[2 * i + 1]]);
            let (d1, d3, d5, d6) = (w(0), w(2), w(4), w(5));
            let mcs = (d1 & 0x0020 != 0)
                .then_some(((d3 >> 8) & 0x0f) as u8)
                .filter(|m| *m <= 11);
            let width = if d1 & 0x4000 != 0 {
                [20, 40, 80, 160].get(usize::from(d5 & 0x0f)).copied()
            } else {
                None
            };
            let nsts = (d6 & 0x0f) as u8;
            let stbc = d3 & 0x8000 != 0;
            let nss = match (nsts, stbc) {
                (0, _) => None,
                (n, true) => Some(n.div_ceil(2)),
                (n, false) => Some(n),
            };
            self.see(Phy::He, mcs, nss, width);
        }
    }
}

#[derive(Debug, Clone)]
pub struct StationHealth {
    pub frames_to_ap: u64,
    pub frames_from_ap: u64,
    /// Frames missed, estimated from sequence-number gaps (both directions).
    pub missed_estimate: u64,
    /// The highest rates seen: `[to the AP, from the AP]`.
    pub radio: [RadioMax; 2],
    /// The last sequence number per direction and counter ([`NO_SEQ`]: none).
    last_seq: [[u16; COUNTERS]; 2],
    first_ts: Option<Ts>,
    last_ts: Ts,
    warned: u8,
}

impl Default for StationHealth {
    fn default() -> Self {
        StationHealth {
            frames_to_ap: 0,
            frames_from_ap: 0,
            missed_estimate: 0,
            radio: [RadioMax::default(); 2],
            last_seq: [[NO_SEQ; COUNTERS]; 2],
            first_ts: None,
            last_ts: Ts::default(),
            warned: 0,
        }
    }
}

impl StationHealth {
    /// Share of frames missed, 0..1.
    pub fn missed_share(&self) -> f64 {
        let seen = self.frames_to_ap + self.frames_from_ap;
        if seen + self.missed_estimate == 0 {
            0.0
        } else {
            self.missed_estimate as f64 / (seen + self.missed_estimate) as f64
        }
    }
}

/// A piece of advice about the capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthWarning {
    pub bssid: MacAddr,
    pub sta: MacAddr,
    pub kind: &'static str,
    pub message: String,
}

/// What the handshake tracker knows of a station's key, for the advice a
/// station without a usable key gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyState {
    /// A key is installed: its traffic decrypts.
    Usable,
    /// No handshake (or too little of one) seen: the device must reconnect.
    NoHandshake,
    /// Handshakes seen, none confirmed a key.
    Failed {
        /// Handshakes that failed (once per handshake).
        handshakes: u32,
        /// Every MIC failed with the passphrase(s) given.
        passphrase_wrong: bool,
        /// The tracker's diagnosis in words (what key to give, and where).
        why: String,
    },
}

const W_ONE_WAY: u8 = 1;
const W_MISSED: u8 = 2;
const W_NO_HANDSHAKE: u8 = 4;

#[derive(Default)]
pub struct HealthTracker {
    stations: crate::FastMap<(MacAddr, MacAddr), StationHealth>,
    pub refused: u64,
}

impl HealthTracker {
    /// Records one data frame between an AP and a station.
    pub fn observe(&mut self, ts: Ts, link: LinkKind, raw: &[u8], d: &Dot11<'_>) {
        if !d.is_data() || d.is_wds() {
            return;
        }
        let (bssid, sta, to_ap) = match (d.to_ds(), d.from_ds()) {
            (true, false) => match d.addr2() {
                Some(a2) => (d.addr1(), a2, true),
                None => return,
            },
            (false, true) => match d.addr2() {
                Some(a2) => (a2, d.addr1(), false),
                None => return,
            },
            _ => return,
        };
        if sta.is_group() {
            return;
        }
        // One lookup per frame.
        let full = self.stations.len() >= MAX_STATIONS;
        let h = match self.stations.entry((bssid, sta)) {
            Entry::Occupied(o) => o.into_mut(),
            Entry::Vacant(_) if full => {
                self.refused += 1;
                return;
            }
            Entry::Vacant(v) => v.insert(StationHealth::default()),
        };
        h.first_ts.get_or_insert(ts);
        h.last_ts = ts;
        let dir = usize::from(!to_ap);
        if to_ap {
            h.frames_to_ap += 1;
        } else {
            h.frames_from_ap += 1;
        }
        if let Some((seq, 0)) = d.seq_ctl() {
            let counter = d.qos_ctl().map_or(NON_QOS, |q| usize::from(q & 0x0f));
            let last = &mut h.last_seq[dir][counter];
            if *last == NO_SEQ {
                *last = seq;
            } else {
                let gap = seq.wrapping_sub(*last) & 0x0fff;
                let behind = (*last).wrapping_sub(seq) & 0x0fff;
                if gap == 0 || behind <= MAX_BEHIND {
                    // The same or an older frame again: not loss, and the
                    // baseline stays.
                } else {
                    if gap > 1 && gap <= MAX_COUNTED_GAP && !d.retry() {
                        h.missed_estimate += u64::from(gap - 1);
                    }
                    *last = seq;
                }
            }
        }
        // Parse the radiotap header only when it may hold MCS, VHT or HE
        // info: a first presence word without those bits and without
        // extensions settles it (most headers, and a per-frame cost saved).
        let rate_info = || {
            raw.get(4..8).is_some_and(|p| {
                let p = u32::from_le_bytes([p[0], p[1], p[2], p[3]]);
                p & (1 << bit::MCS | 1 << bit::VHT | 1 << bit::HE | 1 << bit::EXT) != 0
            })
        };
        if link == LinkKind::Radiotap
            && rate_info()
            && let Ok(rt) = Radiotap::new_checked(raw)
        {
            h.radio[dir].observe(&rt);
        }
    }

    pub fn stations(&self) -> impl Iterator<Item = (&(MacAddr, MacAddr), &StationHealth)> {
        self.stations.iter()
    }

    /// One station's health, when it sent or received data frames.
    pub fn station(&self, bssid: MacAddr, sta: MacAddr) -> Option<&StationHealth> {
        self.stations.get(&(bssid, sta))
    }

    /// New warnings since the last call. `key(bssid, sta)` says whether the
    /// station's traffic can be decrypted, and if not why (no handshake, or
    /// handshakes whose MIC failed: the advice differs); `at_end` relaxes the
    /// time condition.
    pub fn warnings(
        &mut self,
        now: Ts,
        at_end: bool,
        key: impl Fn(MacAddr, MacAddr) -> KeyState,
    ) -> Vec<HealthWarning> {
        let mut out = Vec::new();
        for ((bssid, sta), h) in self.stations.iter_mut() {
            let span = h.first_ts.map_or(0, |f| now.sec - f.sec);
            let one_way = h.frames_to_ap == 0 && h.frames_from_ap >= 20;
            if one_way && (span >= ONE_WAY_SECS || at_end) && h.warned & W_ONE_WAY == 0 {
                h.warned |= W_ONE_WAY;
                out.push(HealthWarning {
                    bssid: *bssid,
                    sta: *sta,
                    kind: "one_direction",
                    message: format!(
                        "only AP→STA frames seen for {sta} ({} frames over {span} s): your adapter may not decode this link's MIMO rates or channel width{}",
                        h.frames_from_ap,
                        match (h.radio[1].nss, h.radio[1].width_mhz) {
                            (Some(n), Some(w)) => format!(" (AP→STA uses up to {n} streams, {w} MHz)"),
                            _ => String::new(),
                        }
                    ),
                });
            }
            let total = h.frames_to_ap + h.frames_from_ap;
            if total >= 50 && h.missed_share() > 0.10 && h.warned & W_MISSED == 0 {
                h.warned |= W_MISSED;
                out.push(HealthWarning {
                    bssid: *bssid,
                    sta: *sta,
                    kind: "frames_missed",
                    message: format!(
                        "about {:.0}% of {sta}'s frames were missed (sequence gaps): move the sniffer closer or match the channel width",
                        h.missed_share() * 100.0
                    ),
                });
            }
            if total >= 5 && (span >= 10 || at_end) && h.warned & W_NO_HANDSHAKE == 0 {
                let (kind, message) = match key(*bssid, *sta) {
                    KeyState::Usable => continue,
                    KeyState::NoHandshake => (
                        "no_handshake",
                        format!(
                            "no handshake for STA {sta} yet: reconnect that device (e.g. power-cycle the plug) while capturing"
                        ),
                    ),
                    KeyState::Failed {
                        handshakes,
                        passphrase_wrong: true,
                        ..
                    } => (
                        "handshake_failed",
                        format!(
                            "{handshakes} handshake(s) seen for STA {sta}, every MIC failed: the passphrase or SSID is wrong"
                        ),
                    ),
                    KeyState::Failed {
                        handshakes, why, ..
                    } => (
                        "handshake_failed",
                        format!(
                            "{handshakes} handshake(s) seen for STA {sta}, no key confirmed: {why}"
                        ),
                    ),
                };
                h.warned |= W_NO_HANDSHAKE;
                out.push(HealthWarning {
                    bssid: *bssid,
                    sta: *sta,
                    kind,
                    message,
                });
            }
        }
        out.sort_by_key(|w| (w.sta, w.kind));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::frames::{DataOpts, DsDir, data_header};

    fn frame(dir: DsDir, seq: u16) -> Vec<u8> {
        frame_opts(dir, seq, DataOpts::default())
    }

    fn frame_opts(dir: DsDir, seq: u16, o: DataOpts) -> Vec<u8> {
        let ap = MacAddr([2, 0, 0, 0, 0, 1]);
        let sta = MacAddr([2, 0, 0, 0, 0, 2]);
        let other = MacAddr([2, 0, 0, 0, 0, 3]);
        let (a1, a2) = match dir {
            DsDir::ToDs => (ap, sta),
            DsDir::FromDs => (sta, ap),
        };
        let mut f = data_header(dir, a1, a2, other, seq, o);
        f.extend_from_slice(&[0xaa, 0xaa, 3, 0, 0, 0, 8, 0]);
        f
    }

    #[test]
    fn one_direction_and_gaps() {
        let mut h = HealthTracker::default();
        for i in 0..100u16 {
            let f = frame(DsDir::FromDs, i * 2); // every other frame missed
            let d = Dot11::new_checked(&f, false).unwrap();
            h.observe(
                Ts::from_micros(i64::from(i), 0),
                LinkKind::Ieee80211,
                &f,
                &d,
            );
        }
        let w = h.warnings(Ts::from_micros(100, 0), false, |_, _| KeyState::Usable);
        let kinds: Vec<_> = w.iter().map(|w| w.kind).collect();
        assert_eq!(kinds, vec!["frames_missed", "one_direction"]);
        assert!(
            h.warnings(Ts::from_micros(200, 0), true, |_, _| KeyState::Usable)
                .is_empty(),
            "raised once"
        );
        let (_, s) = h.stations().next().unwrap();
        assert_eq!(s.missed_estimate, 99);
    }

    /// Each TID numbers its own frames (IEEE 802.11-2020 10.3.2.14), and a
    /// frame sent again (Retry bit, or a replay without it) is not loss:
    /// neither interleaved TIDs nor old numbers look like missed frames.
    #[test]
    fn per_tid_counters_and_old_frames_are_not_gaps() {
        let mut h = HealthTracker::default();
        let feed = |h: &mut HealthTracker, seq: u16, tid: u8, retry: bool| {
            let o = DataOpts {
                tid,
                retry,
                ..DataOpts::default()
            };
            let f = frame_opts(DsDir::FromDs, seq, o);
            let d = Dot11::new_checked(&f, false).unwrap();
            h.observe(Ts::from_micros(1, 0), LinkKind::Ieee80211, &f, &d);
        };
        // EAPOL on TID 7, data on TID 0, EAPOL again (a rekey), data again.
        for (seq, tid) in [(0, 7), (1, 7), (0, 0), (1, 0), (2, 0), (2, 7), (3, 0)] {
            feed(&mut h, seq, tid, false);
        }
        // A retransmission and a replay of earlier frames, then the next one.
        feed(&mut h, 1, 0, true);
        feed(&mut h, 2, 0, false);
        feed(&mut h, 4, 0, false);
        let (_, s) = h.stations().next().unwrap();
        assert_eq!(s.missed_estimate, 0);
        // A real gap on one TID still counts, and a restarted counter is a
        // new baseline, not 4000 frames behind.
        feed(&mut h, 7, 0, false);
        feed(&mut h, 3000, 0, false);
        feed(&mut h, 10, 0, false);
        feed(&mut h, 11, 0, false);
        let (_, s) = h.stations().next().unwrap();
        assert_eq!(s.missed_estimate, 2);
    }

    /// Handshakes whose MIC failed get the passphrase advice, not "no
    /// handshake … power-cycle the plug" (issue 12).
    #[test]
    fn failed_handshakes_name_the_passphrase_not_the_plug() {
        let advice = |state: KeyState| {
            let mut h = HealthTracker::default();
            for i in 0..6u16 {
                let f = frame(DsDir::ToDs, i);
                let d = Dot11::new_checked(&f, false).unwrap();
                h.observe(
                    Ts::from_micros(i64::from(i), 0),
                    LinkKind::Ieee80211,
                    &f,
                    &d,
                );
            }
            h.warnings(Ts::from_micros(20, 0), true, |_, _| state.clone())
        };
        let w = advice(KeyState::Failed {
            handshakes: 4,
            passphrase_wrong: true,
            why: String::new(),
        });
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].kind, "handshake_failed");
        assert!(
            w[0].message.contains("4 handshake(s) seen")
                && w[0]
                    .message
                    .contains("every MIC failed: the passphrase or SSID is wrong"),
            "{}",
            w[0].message
        );
        assert!(!w[0].message.contains("power-cycle"));
        let w = advice(KeyState::NoHandshake);
        assert_eq!(w[0].kind, "no_handshake");
        assert!(w[0].message.contains("power-cycle"));
        assert!(advice(KeyState::Usable).is_empty());
    }

    /// The rates the AP uses come from radiotap's MCS (bit 19) and VHT
    /// (bit 21) fields, and from a header that has neither nothing is made up.
    #[test]
    fn mcs_and_vht_from_radiotap() {
        let observe = |rt: &[u8]| {
            let mut raw = rt.to_vec();
            let f = frame(DsDir::FromDs, 1);
            raw.extend_from_slice(&f);
            let d = Dot11::new_checked(&f, false).unwrap();
            let mut h = HealthTracker::default();
            h.observe(Ts::default(), LinkKind::Radiotap, &raw, &d);
            let (_, s) = h.stations().next().unwrap();
            assert_eq!(s.radio[0], RadioMax::default(), "nothing to the AP");
            let r = s.radio[1];
            (r.mcs, r.nss, r.width_mhz)
        };
        // Flags + MCS: known, flags (bandwidth 40 MHz), index 13 (MCS 5, 2 streams).
        let present: u32 = 1 << bit::FLAGS | 1 << bit::MCS;
        let mut mcs = vec![0, 0, 12, 0];
        mcs.extend_from_slice(&present.to_le_bytes());
        mcs.extend_from_slice(&[0, 0x3f, 1, 13]);
        assert_eq!(observe(&mcs), (Some(5), Some(2), Some(40)));
        // VHT: bandwidth 4 (80 MHz), user 0 = MCS 9, 3 streams.
        let present: u32 = 1 << bit::VHT;
        let mut vht = vec![0, 0, 20, 0];
        vht.extend_from_slice(&present.to_le_bytes());
        vht.extend_from_slice(&[0xff, 0x07, 0, 4, 0x93, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(observe(&vht), (Some(9), Some(3), Some(80)));
        // The same MCS field behind an extended presence word is still read.
        // (word 0: flags, back to the radiotap namespace, more words; word 1: MCS).
        let mut ext = vec![0, 0, 16, 0];
        let w0: u32 = 1 << bit::FLAGS | 1 << bit::RADIOTAP_NAMESPACE | 1 << bit::EXT;
        ext.extend_from_slice(&w0.to_le_bytes());
        ext.extend_from_slice(&(1u32 << bit::MCS).to_le_bytes());
        ext.extend_from_slice(&[0, 0x3f, 0, 7]);
        assert_eq!(observe(&ext), (Some(7), Some(1), Some(20)));
        // Rate, channel, signal only: no rate information.
        let present: u32 = 1 << bit::FLAGS | 1 << bit::RATE | 1 << bit::CHANNEL;
        let mut legacy = vec![0, 0, 14, 0];
        legacy.extend_from_slice(&present.to_le_bytes());
        legacy.extend_from_slice(&[0, 108, 0x9a, 0x09, 0xa0, 0x00]);
        assert_eq!(observe(&legacy), (None, None, None));
        // MCS with the index not known: the bandwidth only.
        let present: u32 = 1 << bit::MCS;
        let mut unknown = vec![0, 0, 11, 0];
        unknown.extend_from_slice(&present.to_le_bytes());
        unknown.extend_from_slice(&[0x01, 0x01, 15]);
        assert_eq!(observe(&unknown), (None, None, Some(40)));
    }

    fn he_header(words: [u16; 6]) -> Vec<u8> {
        let present: u32 = 1 << bit::HE;
        // The HE field is 2-aligned: at offset 8, right after the presence word.
        let mut v = vec![0, 0, 20, 0];
        v.extend_from_slice(&present.to_le_bytes());
        for w in words {
            v.extend_from_slice(&w.to_le_bytes());
        }
        v
    }

    fn radio_of(rt: &[u8]) -> RadioMax {
        let rt = Radiotap::new_checked(rt).unwrap();
        let mut r = RadioMax::default();
        r.observe(&rt);
        r
    }

    /// HE (radiotap field 23): MCS from data3 when data1 says it is known,
    /// the bandwidth from data5, the streams from data6 (halved under STBC).
    #[test]
    fn he_rates_from_radiotap() {
        // HE SU, MCS 11 known, 80 MHz known, 2 streams.
        let r = radio_of(&he_header([0x4020, 0, 11 << 8, 0, 2, 2]));
        assert_eq!(
            r,
            RadioMax {
                phy: Some(Phy::He),
                mcs: Some(11),
                nss: Some(2),
                width_mhz: Some(80)
            }
        );
        // Nothing known but the streams; 4 space-time streams with STBC = 2.
        let r = radio_of(&he_header([0, 0, 0x8000 | (7 << 8), 0, 3, 4]));
        assert_eq!((r.mcs, r.nss, r.width_mhz), (None, Some(2), None));
        // A 26-tone RU is not a channel width; MCS 12+ does not exist.
        let r = radio_of(&he_header([0x4020, 0, 13 << 8, 0, 4, 1]));
        assert_eq!((r.mcs, r.nss, r.width_mhz), (None, Some(1), None));
    }

    /// The highest of each parameter is kept per direction, across PHYs.
    #[test]
    fn maxima_are_kept_per_direction() {
        let mut h = HealthTracker::default();
        let vht = {
            let present: u32 = 1 << bit::VHT;
            let mut v = vec![0, 0, 20, 0];
            v.extend_from_slice(&present.to_le_bytes());
            // bandwidth 1 (40 MHz), users: MCS 7 x1, MCS 4 x3.
            v.extend_from_slice(&[0x40, 0, 0, 1, 0x71, 0x43, 0, 0, 0, 0, 0, 0]);
            v
        };
        for (dir, rt) in [
            (DsDir::FromDs, vht.clone()),
            (DsDir::ToDs, he_header([0x0020, 0, 5 << 8, 0, 0, 1])),
        ] {
            let f = frame(dir, 1);
            let mut raw = rt;
            raw.extend_from_slice(&f);
            let d = Dot11::new_checked(&f, false).unwrap();
            h.observe(Ts::default(), LinkKind::Radiotap, &raw, &d);
        }
        let (_, s) = h.stations().next().unwrap();
        assert_eq!(
            s.radio[1],
            RadioMax {
                phy: Some(Phy::Vht),
                mcs: Some(7),
                nss: Some(3),
                width_mhz: Some(40)
            }
        );
        assert_eq!(
            s.radio[0],
            RadioMax {
                phy: Some(Phy::He),
                mcs: Some(5),
                nss: Some(1),
                width_mhz: None
            }
        );
    }
}
