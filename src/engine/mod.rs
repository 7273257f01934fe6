//! The decryption engine: one frame in, decrypted MPDUs and MSDUs out.
//!
//! [`Engine::process`] takes a captured frame (link header included), locates
//! the 802.11 frame, learns SSIDs from management frames, feeds EAPOL-Key frames
//! to the [`Tracker`], and decrypts protected frames with the keys in the
//! [`KeyStore`]: CCMP-128/256, GCMP-128/256 or TKIP, pairwise (both address orders are tried, so
//! 4-address WDS and every ToDS/FromDS layout work) or group (GTK by key ID),
//! data or robust management (802.11w). EAPOL frames found inside decrypted
//! data (rekeys, group-key handshakes) go back to the tracker.
//!
//! # Guarantees
//! - **Accounting.** Every frame is counted exactly once: `read = decrypted +
//!   plaintext + Σ dropped[reason]` ([`Counters::balanced`]). `retransmitted` is
//!   the part of `decrypted` that repeated an already seen packet number with the
//!   Retry bit set (802.11 retransmissions: delivered, as on the air).
//! - **Replay.** Packet numbers are checked per key, transmitter and TID
//!   (IEEE 802.11-2020 12.5.3.4.4) after the MIC verifies, with a 64-packet window
//!   for reordering in the capture: a PN already seen without Retry, or older
//!   than the window, is a replay and is dropped.
//! - **Integrity.** A frame whose MIC (CCMP), ICV or Michael MIC (TKIP) fails
//!   under every candidate key is dropped, never passed on.
//! - **Reassembly as a receiver does it** ([`defrag`]): fragments of one MSDU
//!   must share the key instance and have consecutive PNs; plaintext and
//!   protected fragments never mix; the cache is flushed on (re)association
//!   and rekey. An A-MSDU whose first subframe's DA is an LLC/SNAP header is
//!   dropped (A-MSDU injection). Each refusal has its own [`DropReason`].
//! - **Attacks named** ([`security`]): refusals and anomalies (mixed keys, PN
//!   gaps, A-MSDU injection, key reinstallation, nonce reuse, deauth floods,
//!   plaintext after the key is in use) become [`SecurityWarning`]s naming
//!   the stations, frame numbers and CVE, taken with [`Engine::take_warnings`].
//! - **Bounds.** Replay windows live as long as their key; the fragment cache
//!   holds at most [`MAX_FRAGMENT_CHAINS`] chains of [`MAX_MSDU_LEN`] bytes;
//!   the warning queue [`security::MAX_QUEUED_WARNINGS`].
//! - **Each MSDU marked once** for consumers that want it once:
//!   [`Msdu::retransmit`] (a MAC retransmission) and [`Msdu::relayed`] (the
//!   AP's relayed copy, [`relay`]), so the watcher and both decrypted-pcap
//!   writers agree on which to hand on.
//!
//! Decryption itself ([`cipher::decrypt`] over [`crate::crypto`]) is a pure
//! function of key + bytes; only the bookkeeping here is stateful.

pub mod cipher;
pub mod defrag;
pub mod health;
pub mod relay;
pub mod replay;
pub mod security;
pub mod sink;
pub mod stats;
pub mod worker;

use std::collections::hash_map::Entry;
use std::sync::Arc;

use crate::crypto::tkip;
use crate::wire::dot11::{AmsduIter, Dot11, FrameType, SecurityHeader, fc, mgmt};
use crate::wire::link::{FcsStatus, LinkKind, locate_dot11};
use crate::wire::llc::{self, ethertype};
use crate::wire::{MacAddr, Ts, rsn};
use crate::wpa::handshake::{NetworkSecret, Tracker};
use crate::wpa::keys::Cipher;
use crate::wpa::keystore::{KeyEntry, KeyStore};
use defrag::{Defragmenter, Fragment, Refusal};
pub use defrag::{MAX_FRAGMENT_CHAINS, MAX_MSDU_LEN};
use replay::{PnCheck, ReplayWindow};
pub use security::SecurityWarning;
use security::{Links, Warnings, kind, reference};
pub use sink::{Mpdu, Msdu, NullSink, Sink};
pub use stats::{BssInfo, Counters, DropReason, LinkStats};
pub use worker::{PreDecrypted, WorkerKeys};

/// The engine: handshake tracker, keystore, replay windows, counters.
pub struct Engine {
    /// Capture-health statistics per station (directions, gaps, rates).
    pub health: crate::engine::health::HealthTracker,
    pub tracker: Tracker,
    pub keys: KeyStore,
    pub counters: Counters,
    pub bss: crate::FastMap<MacAddr, BssInfo>,
    pub stations: crate::FastMap<(MacAddr, MacAddr), LinkStats>,
    windows: crate::FastMap<(u64, MacAddr, u8), ReplayWindow>,
    defrag: Defragmenter,
    /// Attack and anomaly warnings not yet taken, with their totals.
    pub warnings: Warnings,
    links: Links,
    /// The replay the last [`Engine::accept`] refused: key, PN, and whether
    /// the bytes differ from the first frame with that PN (nonce reuse).
    last_replay: Option<(Arc<KeyEntry>, u64, bool)>,
    /// The packet number of the frame [`Engine::try_keys`] last accepted.
    last_pn: u64,
    /// Where its plaintext starts in `plain` (after a worker's header).
    plain_off: usize,
    /// (BSSID, STA, group key ID) no configured raw TK decrypts.
    raw_tk_misses: crate::FastMap<(MacAddr, MacAddr, u8), ()>,
    /// Decrypted body of the current frame.
    plain: Vec<u8>,
    /// Output MPDU (header + plain body) of the current frame.
    out: Vec<u8>,
    /// Unpadded copy of a frame that had radiotap data padding.
    unpadded: Vec<u8>,
    /// Which MSDUs are the AP's relayed copies ([`Msdu::relayed`]).
    relay: relay::RelayFilter,
    /// A worker's decryption of the current frame, if any ([`Engine::process_pre`]).
    pre: Option<PreDecrypted>,
    /// The current frame's candidate keys (kept for its allocation).
    cands: Vec<Arc<KeyEntry>>,
    /// The keys [`Engine::process_batch`] pre-decrypts with, and how much of
    /// the keystore's history they already hold.
    batch_keys: WorkerKeys,
    batch_forwarded: usize,
}

impl Engine {
    /// New capture-health warnings ([`health::HealthTracker::warnings`]),
    /// with each keyless station's advice taken from its handshakes: "no
    /// handshake" only when none was seen, the passphrase or the PMK when
    /// handshakes were seen and every MIC failed.
    pub fn health_warnings(&mut self, now: Ts, at_end: bool) -> Vec<health::HealthWarning> {
        use crate::wpa::handshake::KeyStatus;
        let (keys, tracker) = (&self.keys, &self.tracker);
        self.health.warnings(now, at_end, |b, s| {
            if !keys.pairwise(b, s).is_empty() {
                return health::KeyState::Usable;
            }
            match tracker.station(b, s) {
                Some(st) if st.handshakes_failed > 0 => health::KeyState::Failed {
                    handshakes: st.handshakes_failed,
                    // Not when the passphrase is confirmed elsewhere: then
                    // this station used another one, which `why` says.
                    passphrase_wrong: st.last_failure == Some(KeyStatus::MicMismatch)
                        && tracker.passphrase_confirmed_elsewhere(b, s).is_none(),
                    why: tracker.describe_station(b, s),
                },
                _ => health::KeyState::NoHandshake,
            }
        })
    }
}

/// Caps on the per-BSS and per-station tables (a flood of fake addresses is
/// counted in the totals but not given its own entry).
pub const MAX_BSS: usize = 4_096;
pub const MAX_STATION_STATS: usize = 65_536;

impl Engine {
    pub fn new(networks: Vec<NetworkSecret>) -> Self {
        Engine {
            health: crate::engine::health::HealthTracker::default(),
            tracker: Tracker::new(networks),
            keys: KeyStore::new(),
            counters: Counters::default(),
            bss: crate::FastMap::default(),
            stations: crate::FastMap::default(),
            windows: crate::FastMap::default(),
            defrag: Defragmenter::default(),
            warnings: Warnings::default(),
            links: Links::default(),
            last_replay: None,
            last_pn: 0,
            plain_off: 0,
            raw_tk_misses: crate::FastMap::default(),
            plain: Vec::with_capacity(4096),
            out: Vec::with_capacity(4096),
            unpadded: Vec::new(),
            relay: relay::RelayFilter::default(),
            pre: None,
            cands: Vec::new(),
            batch_keys: WorkerKeys::default(),
            batch_forwarded: 0,
        }
    }

    /// [`Engine::process`] for a batch of frames `(ts, raw, orig_len)`, in
    /// order: the CCMP frames are first decrypted together by the
    /// multi-buffer kernel with the keys known at the start of the batch,
    /// then every frame goes through [`Engine::process_pre`]. Results and
    /// counters are those of calling [`Engine::process`] on each frame (a key
    /// installed mid-batch is simply used by the engine's own per-frame path).
    pub fn process_batch(
        &mut self,
        link: LinkKind,
        frames: &[(Ts, &[u8], u32)],
        sink: &mut dyn Sink,
    ) {
        let history = self.keys.history();
        for k in history.get(self.batch_forwarded..).unwrap_or(&[]) {
            self.batch_keys.add(k.clone());
        }
        self.batch_forwarded = history.len();
        let raws: Vec<&[u8]> = frames.iter().map(|f| f.1).collect();
        let mut pre: Vec<Option<PreDecrypted>> = vec![None; frames.len()];
        self.batch_keys
            .predecrypt_batch(link, &raws, &mut pre, &mut Vec::new());
        for (&(ts, raw, orig_len), mut p) in frames.iter().zip(pre) {
            self.process_pre(ts, link, raw, orig_len, &mut p, sink);
        }
    }

    fn drop_frame(&mut self, r: DropReason) {
        self.counters.dropped[r.index()] += 1;
    }

    /// The attack and anomaly warnings raised since the last call, oldest
    /// first (at most [`security::MAX_QUEUED_WARNINGS`] are kept between
    /// calls; totals per kind stay in `warnings.totals`).
    pub fn take_warnings(&mut self) -> std::vec::Drain<'_, SecurityWarning> {
        self.warnings.take()
    }

    /// Raises a warning about the current frame.
    fn warn(
        &mut self,
        ts: Ts,
        kind: &'static str,
        (bssid, sta): (MacAddr, MacAddr),
        message: String,
        reference: Option<&'static str>,
    ) {
        let frame = self.counters.read;
        self.warnings.raise(
            ts,
            SecurityWarning {
                kind,
                bssid,
                sta,
                frame,
                message,
                reference,
            },
        );
    }

    fn bss_mut(&mut self, bssid: MacAddr) -> Option<&mut BssInfo> {
        // One lookup per call (these run for every protected frame).
        let full = self.bss.len() >= MAX_BSS || bssid.is_group();
        match self.bss.entry(bssid) {
            Entry::Occupied(o) => Some(o.into_mut()),
            Entry::Vacant(_) if full => None,
            Entry::Vacant(v) => Some(v.insert(BssInfo::default())),
        }
    }

    fn station_mut(&mut self, bssid: MacAddr, sta: MacAddr) -> Option<&mut LinkStats> {
        let full = self.stations.len() >= MAX_STATION_STATS;
        match self.stations.entry((bssid, sta)) {
            Entry::Occupied(o) => Some(o.into_mut()),
            Entry::Vacant(_) if full => None,
            Entry::Vacant(v) => Some(v.insert(LinkStats::default())),
        }
    }

    /// [`Engine::process`] with a worker's decryption of the frame, which is
    /// used instead of decrypting again when its key is among the candidates.
    /// `pre` is taken and handed back spent: its buffer can be reused for the
    /// next decryption (the pipeline recycles it to the workers).
    pub fn process_pre(
        &mut self,
        ts: Ts,
        link: LinkKind,
        raw: &[u8],
        orig_len: u32,
        pre: &mut Option<PreDecrypted>,
        sink: &mut dyn Sink,
    ) {
        self.pre = pre.take();
        self.process(ts, link, raw, orig_len, sink);
        // The spent decryption (its buffer now possibly the engine's previous
        // one, see `try_keys`) goes back to the caller for reuse.
        *pre = self.pre.take();
    }

    /// Counts a captured frame of a link type that is not 802.11 (a pcapng
    /// file mixing interfaces): read, and dropped as [`DropReason::NotDot11`].
    pub fn skip_not_dot11(&mut self) {
        self.counters.read += 1;
        self.drop_frame(DropReason::NotDot11);
    }

    /// Processes one captured frame. `orig_len` is the length on the wire (for
    /// snaplen truncation); `raw` includes the link-layer header of `link`.
    pub fn process(
        &mut self,
        ts: Ts,
        link: LinkKind,
        raw: &[u8],
        orig_len: u32,
        sink: &mut dyn Sink,
    ) {
        self.counters.read += 1;
        if (raw.len() as u64) < u64::from(orig_len) {
            return self.drop_frame(DropReason::Truncated);
        }
        let loc = match locate_dot11(link, raw) {
            Ok(l) => l,
            Err(_) => return self.drop_frame(DropReason::Malformed),
        };
        match loc.fcs {
            FcsStatus::PresentBad => return self.drop_frame(DropReason::BadFcs),
            FcsStatus::Present => self.counters.fcs_detected += 1,
            FcsStatus::Absent => {}
        }
        let Some(frame) = raw.get(loc.start..loc.end) else {
            return self.drop_frame(DropReason::Malformed);
        };
        let d = match Dot11::new_checked(frame, loc.data_pad) {
            Ok(d) => d,
            Err(_) => return self.drop_frame(DropReason::Malformed),
        };
        self.health.observe(ts, link, raw, &d);
        if !d.protected() {
            let res = match d.frame_type() {
                FrameType::Management => {
                    self.on_mgmt(&d);
                    self.on_plain_mgmt(ts, &d);
                    if let Some((b, s, ev)) = self.tracker.on_mgmt(&mut self.keys, &d) {
                        sink.handshake(ts, b, s, &ev);
                    }
                    self.check_bip(ts, &d)
                }
                FrameType::Data if !d.is_null() => self.deliver_plain(ts, &d, sink),
                _ => Ok(()),
            };
            match res {
                Ok(()) => self.counters.plaintext += 1,
                Err(r) => self.drop_frame(r),
            }
            return;
        }
        if !(d.is_data() || d.is_mgmt()) {
            return self.drop_frame(DropReason::Malformed);
        }
        // The ciphers below read the MAC header at fixed offsets followed by the
        // security header; remove radiotap's alignment padding first.
        let mut unpadded = std::mem::take(&mut self.unpadded);
        let res = if d.header_len() != d.mac_header_len() {
            unpadded.clear();
            unpadded.extend_from_slice(d.header());
            unpadded.extend_from_slice(d.body());
            match Dot11::new_checked(&unpadded, false) {
                Ok(u) => self.on_protected(ts, &u, sink),
                Err(_) => Err(DropReason::Malformed),
            }
        } else {
            self.on_protected(ts, &d, sink)
        };
        self.unpadded = unpadded;
        if let Err(r) = res {
            self.drop_frame(r);
        }
    }

    /// Learns the SSID and the RSN (or WPA1) suites a network announces.
    fn on_mgmt(&mut self, d: &Dot11<'_>) {
        let (Some(ies), Some(bssid)) = (mgmt::elements_of(d.subtype(), d.body()), d.addr3()) else {
            return;
        };
        if let Some(ssid) = rsn::ssid_from_elements(ies) {
            self.tracker.learn_ssid(bssid, ssid);
        }
        let ssid = self.tracker.ssid(&bssid).map(<[u8]>::to_vec);
        let mut akms = Vec::new();
        let mut group = None;
        let mut wpa1 = false;
        for (id, el) in rsn::elements(ies) {
            if id == rsn::ID_RSN {
                if let Ok(r) = rsn::RsnInfo::parse(el) {
                    akms = r.akms.as_slice().to_vec();
                    group = Some(r.group_cipher);
                }
            } else if id == rsn::ID_VENDOR
                && el.starts_with(&rsn::WPA_VENDOR_PREFIX)
                && group.is_none()
                && let Ok(r) = rsn::RsnInfo::parse_wpa_vendor(el)
            {
                akms = r.akms.as_slice().to_vec();
                group = Some(r.group_cipher);
                wpa1 = true;
            }
        }
        if let Some(b) = self.bss_mut(bssid) {
            if ssid.is_some() {
                b.ssid = ssid;
            }
            if group.is_some() {
                b.akms = akms;
                b.group_cipher = group;
                b.wpa1 = wpa1;
            }
        }
    }

    /// Management frames that (re)start or end a link: its fragment cache and
    /// key-in-use state start over; unprotected deauthentication and
    /// disassociation frames are counted for the flood check.
    fn on_plain_mgmt(&mut self, ts: Ts, d: &Dot11<'_>) {
        self.link_mgmt(d);
        if !matches!(d.subtype(), mgmt::DEAUTH | mgmt::DISASSOC) || d.retry() {
            return;
        }
        let link = station_of(d);
        if let Some(first) = self.links.deauth(link.0, link.1, ts, self.counters.read) {
            let msg = format!(
                "{} unprotected deauthentication/disassociation frames for {} (BSS {}) within {} s, from frame {first} to frame {}",
                security::DEAUTH_FLOOD_FRAMES,
                link.1,
                link.0,
                security::DEAUTH_FLOOD_SECS,
                self.counters.read
            );
            self.warn(
                ts,
                kind::DEAUTH_FLOOD,
                link,
                msg,
                Some(reference::DEAUTH_FLOOD),
            );
        }
    }

    /// (Re)association, authentication, deauthentication, disassociation of
    /// a unicast link: forget its fragments (CVE-2020-24586) and its
    /// key-in-use state.
    fn link_mgmt(&mut self, d: &Dot11<'_>) {
        if !matches!(
            d.subtype(),
            mgmt::AUTH
                | mgmt::ASSOC_REQ
                | mgmt::ASSOC_RESP
                | mgmt::REASSOC_REQ
                | mgmt::REASSOC_RESP
                | mgmt::DEAUTH
                | mgmt::DISASSOC
        ) || d.addr1().is_group()
        {
            return;
        }
        let (bssid, sta) = station_of(d);
        self.defrag.flush_link(bssid, sta);
        self.links.reset(bssid, sta);
    }

    /// BIP for a group-addressed robust management frame (IEEE 802.11-2020
    /// 12.5.4.5): when the BSS's IGTK is known, its MME must verify and its
    /// IPN increase. Frames of BSSes with no known IGTK pass unchecked.
    fn check_bip(&mut self, ts: Ts, d: &Dot11<'_>) -> Result<(), DropReason> {
        use crate::crypto::bip;
        if !d.addr1().is_group() || !is_robust_group_mgmt(d) {
            return Ok(());
        }
        let Some(ta) = d.addr2() else {
            return Ok(());
        };
        let Some(algo) = self.keys.igtk_algo(ta) else {
            return Ok(());
        };
        // BIP covers a 24-byte header: drop an HT Control field first.
        let owned;
        let frame: &[u8] = if d.mac_header_len() == 24 && d.header_len() == 24 {
            d.bytes()
        } else {
            owned = [&d.header()[..24.min(d.header().len())], d.body()].concat();
            &owned
        };
        let link = (ta, MacAddr::BROADCAST);
        let n = self.counters.read;
        let what = match d.subtype() {
            mgmt::DEAUTH => "deauthentication",
            mgmt::DISASSOC => "disassociation",
            _ => "action frame",
        };
        let Some(m) = bip::mme(frame, algo.mic_len()) else {
            let msg = format!(
                "group-addressed {what} from {ta} (frame {n}) without a management MIC element, \
                 in a BSS that protects management frames ({}): forged; dropped",
                algo.name()
            );
            self.warn(ts, kind::BIP_MIC_FAILURE, link, msg, Some(reference::BIP));
            return Err(DropReason::BipMicFailure);
        };
        let Some(entry) = self.keys.igtk(ta, m.key_id) else {
            return Ok(()); // an IGTK we were not given
        };
        match bip::verify(entry.algo, &entry.key, frame) {
            Ok(m) => {
                if m.ipn <= entry.ipn {
                    return Err(DropReason::Replay);
                }
                if let Some(e) = self.keys.igtk_mut(ta, m.key_id) {
                    e.ipn = m.ipn;
                }
                self.counters.bip_verified += 1;
                Ok(())
            }
            Err(_) => {
                let msg = format!(
                    "group-addressed {what} from {ta} (frame {n}): its {} MIC does not verify under IGTK {}: \
                     forged; dropped",
                    entry.algo.name(),
                    m.key_id
                );
                self.warn(ts, kind::BIP_MIC_FAILURE, link, msg, Some(reference::BIP));
                Err(DropReason::BipMicFailure)
            }
        }
    }

    /// Tries the configured raw temporal keys (`[[key]]`) on a protected frame
    /// no derived key is known for; the first that verifies is installed for
    /// the frame's station (or group key ID), as Wireshark does with `tk`
    /// keys. A (BSS, station, key ID) that no raw key fits is remembered, so
    /// a foreign network's traffic costs one attempt per station.
    fn try_raw_tks(&mut self, d: &Dot11<'_>, ta: MacAddr, key_id: u8) -> bool {
        if self.tracker.raw_tks().next().is_none() {
            return false;
        }
        let group = d.addr1().is_group();
        let (bssid, sta) = if group {
            (ta, MacAddr::BROADCAST)
        } else {
            station_of(d)
        };
        let miss = (bssid, sta, if group { key_id } else { 0 });
        if self.raw_tk_misses.contains_key(&miss) {
            return false;
        }
        let mut found = None;
        for (tk, fb, fs) in self.tracker.raw_tks() {
            if fb.is_some_and(|b| b != bssid) || fs.is_some_and(|s| group || s != sta) {
                continue;
            }
            for &c in crate::wpa::keys::Cipher::for_tk_len(tk.len()) {
                let Some(t) = crate::wpa::keys::TemporalKey::new(c, tk) else {
                    continue;
                };
                if cipher::decrypt(&t, ta, d.bytes(), d.header_len(), &mut self.plain).is_ok() {
                    found = Some(t);
                    break;
                }
            }
            if found.is_some() {
                break;
            }
        }
        let Some(t) = found else {
            if self.raw_tk_misses.len() >= MAX_RAW_TK_MISSES {
                self.raw_tk_misses.clear();
            }
            self.raw_tk_misses.insert(miss, ());
            return false;
        };
        if group {
            self.keys.install_group(ta, key_id, t);
        } else {
            self.keys.install_pairwise(bssid, sta, t);
        }
        true
    }

    fn deliver_plain(
        &mut self,
        ts: Ts,
        d: &Dot11<'_>,
        sink: &mut dyn Sink,
    ) -> Result<(), DropReason> {
        let (seq, frag) = d.seq_ctl().unwrap_or((0, 0));
        let fragmented = d.more_frags() || frag > 0;
        let ta = d.addr2().unwrap_or_default();
        let ra = d.addr1();
        let link = if ra.is_group() {
            (ta, MacAddr::BROADCAST)
        } else {
            station_of(d)
        };
        let frame = self.counters.read;
        if fragmented && let Err(r) = self.defrag.push_plaintext(ta, ra, seq, frag, frame) {
            self.fragment_warning(ts, d, r, None);
            return Err(r.reason());
        }
        let body = d.body();
        if d.amsdu() && !fragmented && amsdu_injected(body) {
            self.amsdu_warning(ts, d, link);
            return Err(DropReason::AmsduInjection);
        }
        if let Some(since) = self.links.get(link.0, link.1).key_in_use {
            let eapol = !d.amsdu()
                && llc::parse_snap(body).is_some_and(|s| s.ethertype == ethertype::EAPOL);
            if eapol {
                let msg = crate::wire::eapol::EapolKey::new_checked(
                    llc::parse_snap(body).map_or(&[][..], |s| s.payload),
                )
                .ok()
                .flatten()
                .map_or("EAPOL", |k| k.message().name());
                let msg = format!(
                    "{msg} from {ta} to {ra} in plaintext (frame {frame}) while the link's key is in use (since frame {since}): \
                     a retransmitted handshake message sent in the clear, as key reinstallation attacks do"
                );
                self.warn(
                    ts,
                    kind::PLAINTEXT_EAPOL,
                    link,
                    msg,
                    Some(reference::PLAINTEXT_EAPOL),
                );
            } else {
                let msg = format!(
                    "plaintext data frame from {ta} to {ra} (frame {frame}) while their key is in use (since frame {since}): \
                     a receiver must drop it"
                );
                self.warn(
                    ts,
                    kind::PLAINTEXT_DATA,
                    link,
                    msg,
                    Some(reference::PLAINTEXT_DATA),
                );
            }
        }
        sink.mpdu(&Mpdu {
            ts,
            frame: d.bytes(),
            decrypted: false,
            retransmit: false,
        });
        // Fragmented plaintext MSDUs are rare (open networks); they are passed
        // per MPDU only, not reassembled.
        if fragmented {
            return Ok(());
        }
        self.deliver_msdus(ts, d, body, false, false, sink);
        Ok(())
    }

    /// The warning for a fragment refused by [`Defragmenter`]; `pn` for a
    /// protected one.
    fn fragment_warning(&mut self, ts: Ts, d: &Dot11<'_>, r: Refusal, pn: Option<u64>) {
        let ta = d.addr2().unwrap_or_default();
        let ra = d.addr1();
        let (seq, frag) = d.seq_ctl().unwrap_or((0, 0));
        let n = self.counters.read;
        let link = if ra.is_group() {
            (ta, MacAddr::BROADCAST)
        } else {
            station_of(d)
        };
        let what = format!("fragment {frag} of MSDU {seq} from {ta} to {ra} (frame {n})");
        let (kind, msg, reference) = match r {
            Refusal::MixedKey { first_frame } => (
                kind::FRAGMENT_MIXED_KEY,
                format!(
                    "{what} is protected under another key than the MSDU's first fragment (frame {first_frame}): \
                     not reassembled (mixed-key attack)"
                ),
                reference::MIXED_KEY,
            ),
            Refusal::PnGap {
                prev_pn,
                first_frame,
            } => (
                kind::FRAGMENT_PN_GAP,
                format!(
                    "{what} has PN {:#x}, the previous fragment {prev_pn:#x}: fragments of one MSDU must have \
                     consecutive packet numbers; not reassembled (first fragment: frame {first_frame})",
                    pn.unwrap_or(0)
                ),
                reference::PN_GAP,
            ),
            Refusal::MixedPlaintext { first_frame } => (
                kind::FRAGMENT_MIXED_PLAINTEXT,
                if pn.is_some() {
                    format!(
                        "protected {what} continues a plaintext MSDU (first fragment: frame {first_frame}): refused"
                    )
                } else {
                    format!(
                        "plaintext {what} is offered to a protected MSDU (first fragment: frame {first_frame}): refused"
                    )
                },
                reference::MIXED_PLAINTEXT,
            ),
            Refusal::Lone { flushed_at: None } => (
                kind::FRAGMENT_OUT_OF_ORDER,
                format!("{what} has no first fragment: dropped"),
                "IEEE 802.11-2020 10.6",
            ),
            Refusal::Lone {
                flushed_at: Some(f),
            } => (
                kind::FRAGMENT_CACHE,
                format!(
                    "{what} continues an MSDU (first fragment: frame {f}) whose fragments were discarded \
                     by a (re)association or rekey: dropped"
                ),
                reference::CACHE,
            ),
            Refusal::OutOfOrder {
                expected,
                first_frame,
            } => (
                kind::FRAGMENT_OUT_OF_ORDER,
                format!(
                    "{what} arrives where fragment {expected} was expected (first fragment: frame {first_frame}): \
                     the MSDU is dropped"
                ),
                "IEEE 802.11-2020 10.6",
            ),
            Refusal::TooLong { first_frame } => (
                kind::FRAGMENT_OUT_OF_ORDER,
                format!(
                    "{what} grows its MSDU (first fragment: frame {first_frame}) past {MAX_MSDU_LEN} bytes: dropped"
                ),
                "IEEE 802.11-2020 10.6",
            ),
        };
        self.warn(ts, kind, link, msg, Some(reference));
    }

    fn amsdu_warning(&mut self, ts: Ts, d: &Dot11<'_>, link: (MacAddr, MacAddr)) {
        let msg = format!(
            "A-MSDU from {} to {} (frame {}) whose first subframe's destination is an LLC/SNAP header \
             (aa:aa:03:00:00:00): a normal frame with a forged A-MSDU flag; dropped",
            d.addr2().unwrap_or_default(),
            d.addr1(),
            self.counters.read
        );
        self.warn(ts, kind::AMSDU_INJECTION, link, msg, Some(reference::AMSDU));
    }

    /// Splits A-MSDUs, hands MSDUs to the sink, and EAPOL frames to the tracker.
    fn deliver_msdus(
        &mut self,
        ts: Ts,
        d: &Dot11<'_>,
        body: &[u8],
        decrypted: bool,
        retransmit: bool,
        sink: &mut dyn Sink,
    ) {
        let ta = d.addr2().unwrap_or_default();
        let ra = d.addr1();
        let bssid = d.bssid();
        let tid = d.tid();
        let (to_ds, from_ds) = (d.to_ds(), d.from_ds());
        let mut one = |eng: &mut Engine, da: MacAddr, sa: MacAddr, llc_body: &[u8]| {
            if let Some(snap) = llc::parse_snap(llc_body)
                && snap.ethertype == ethertype::EAPOL
                && !retransmit
            {
                eng.on_eapol(ts, ta, ra, snap.payload, sink);
            }
            let mut m = Msdu {
                ts,
                da,
                sa,
                bssid,
                llc: llc_body,
                decrypted,
                retransmit,
                relayed: false,
                tid,
                to_ds,
                from_ds,
            };
            // Every MSDU but a retransmission goes through the filter,
            // plaintext ones too (EAPOL tells it which addresses are stations).
            m.relayed = !retransmit && eng.relay.is_relay(&m);
            sink.msdu(&m);
        };
        if d.amsdu() {
            for sf in AmsduIter::new(body) {
                one(self, sf.da, sf.sa, sf.msdu);
            }
        } else if let (Some(da), Some(sa)) = (d.da(), d.sa()) {
            one(self, da, sa, body);
        }
    }

    /// An EAPOL frame found in an MSDU: to the tracker. A new key flushes
    /// the fragments of its link (the fragment cache attack); a key installed
    /// again while in use (a retransmitted M3 or group message) arms the key
    /// reinstallation check of its link.
    fn on_eapol(&mut self, ts: Ts, ta: MacAddr, ra: MacAddr, payload: &[u8], sink: &mut dyn Sink) {
        let before = self.keys.history().len();
        self.keys.take_reinstalled();
        let ev = self.tracker.on_eapol(&mut self.keys, ta, ra, payload);
        let (b, s) = if ev_from_ap(payload) {
            (ta, ra)
        } else {
            (ra, ta)
        };
        sink.handshake(ts, b, s, &ev);
        let new: Vec<(MacAddr, Option<MacAddr>)> = self
            .keys
            .history()
            .get(before..)
            .unwrap_or(&[])
            .iter()
            .map(|k| (k.bssid, k.sta))
            .collect();
        for (bssid, sta) in new {
            match sta {
                Some(sta) => self.defrag.flush_link(bssid, sta),
                None => self.defrag.flush_group(bssid),
            }
        }
        let frame = self.counters.read;
        for k in self.keys.take_reinstalled() {
            let link = (k.bssid, k.sta.unwrap_or(MacAddr::BROADCAST));
            if let Some(st) = self.links.get_mut(link.0, link.1) {
                // Only a key already protecting traffic: a retransmitted M3
                // of a rekey reinstalls a key nothing was sent under yet.
                if st.serial_in_use == Some(k.serial) {
                    st.reinstall_at = Some((k.serial, frame));
                }
            }
        }
    }

    fn on_protected(
        &mut self,
        ts: Ts,
        d: &Dot11<'_>,
        sink: &mut dyn Sink,
    ) -> Result<(), DropReason> {
        let Some(sec) = SecurityHeader::parse(d.body()) else {
            return Err(DropReason::Malformed);
        };
        if !sec.ext_iv {
            return Err(DropReason::Wep);
        }
        let key_id = sec.key_id;
        let ra = d.addr1();
        let Some(ta) = d.addr2() else {
            return Err(DropReason::Malformed);
        };
        let group = ra.is_group();
        let (stat_bssid, stat_sta) = if group {
            (ta, MacAddr::BROADCAST)
        } else {
            station_of(d)
        };
        let mut cands = std::mem::take(&mut self.cands);
        cands.clear();
        for round in 0..2 {
            if group {
                cands.extend_from_slice(self.keys.group(ta, key_id));
            } else {
                cands.extend_from_slice(self.keys.pairwise(ta, ra));
                cands.extend_from_slice(self.keys.pairwise(ra, ta));
            }
            if !cands.is_empty() || round == 1 || !self.try_raw_tks(d, ta, key_id) {
                break;
            }
        }
        self.last_replay = None;
        let res = self.try_keys(d, ta, &cands);
        cands.clear();
        self.cands = cands;
        if let (Err(DropReason::Replay), Some((key, pn, differs))) = (&res, self.last_replay.take())
        {
            self.replay_warning(ts, d, &key, pn, differs);
        }
        let res = match res {
            Ok((key, plain_len, retransmit)) => {
                // Output MPDU: header with Protected cleared + plaintext;
                // a worker's decryption is laid out so already.
                let mut out = std::mem::take(&mut self.out);
                let hdr_len = d.header().len();
                if self.plain_off == hdr_len {
                    std::mem::swap(&mut out, &mut self.plain);
                    out.truncate(hdr_len + plain_len);
                } else {
                    out.clear();
                    out.extend_from_slice(d.header());
                    out[1] &= !fc::PROTECTED;
                    out.extend_from_slice(&self.plain[self.plain_off..][..plain_len]);
                }
                let pn = self.last_pn;
                let r = self.after_decrypt(ts, d, &out, hdr_len, key.clone(), pn, retransmit, sink);
                self.out = out;
                r.map(|()| (key, retransmit))
            }
            Err(DropReason::NoKey) if group => Err(DropReason::NoGroupKey),
            Err(e) => Err(e),
        };
        // Statistics.
        let stats = if group {
            self.bss_mut(stat_bssid).map(|b| &mut b.group)
        } else {
            self.station_mut(stat_bssid, stat_sta)
        };
        if let Some(s) = stats {
            s.protected += 1;
            match &res {
                Ok((_, retx)) => {
                    s.decrypted += 1;
                    s.retransmitted += u64::from(*retx);
                }
                Err(DropReason::Replay) => s.replayed += 1,
                Err(
                    DropReason::MicFailure | DropReason::IcvFailure | DropReason::MichaelFailure,
                ) => s.mic_failed += 1,
                Err(DropReason::NoKey | DropReason::NoGroupKey) => s.no_key += 1,
                Err(_) => s.other_dropped += 1,
            }
        }
        // Counted decrypted only once it is passed on (a fragment that breaks its
        // chain, or a reassembled MSDU whose Michael MIC fails, is a drop instead).
        let (key, retransmit) = res?;
        self.counters.decrypted += 1;
        self.counters.retransmitted += u64::from(retransmit);
        if group {
            self.counters.decrypted_group += 1;
        }
        // The link's key is in use from its first decrypted frame on.
        let link = (key.bssid, key.sta.unwrap_or(MacAddr::BROADCAST));
        let frame = self.counters.read;
        if let Some(st) = self.links.get_mut(link.0, link.1) {
            st.key_in_use.get_or_insert(frame);
            st.serial_in_use = Some(key.serial);
        }
        Ok(())
    }

    /// A refused repeated PN: plain replays and retransmission copies say
    /// nothing; other bytes under a used PN are nonce reuse, and a PN going
    /// back to the start after a retransmitted M3 / group message is a key
    /// reinstallation (KRACK).
    fn replay_warning(&mut self, ts: Ts, d: &Dot11<'_>, key: &KeyEntry, pn: u64, differs: bool) {
        let link = (key.bssid, key.sta.unwrap_or(MacAddr::BROADCAST));
        let st = self.links.get(link.0, link.1);
        let ta = d.addr2().unwrap_or_default();
        let ra = d.addr1();
        let n = self.counters.read;
        let back_to_start = pn <= REINSTALL_PN_START;
        match st.reinstall_at {
            Some((serial, m)) if serial == key.serial && (differs || back_to_start) => {
                let msg = format!(
                    "{ta} reused PN {pn:#x} of its {} key with {ra} (frame {n}) after a handshake message \
                     re-sent in frame {m} installed the key again: key reinstallation; dropped as a replay",
                    if key.is_group() { "group" } else { "pairwise" }
                );
                let r = if key.is_group() {
                    reference::REINSTALL_GROUP
                } else {
                    reference::REINSTALL_PAIRWISE
                };
                self.warn(ts, kind::KEY_REINSTALLATION, link, msg, Some(r));
            }
            _ if differs => {
                let msg = format!(
                    "{ta} sent two different frames with PN {pn:#x} under one key (to {ra}, the second in \
                     frame {n}): nonce reuse; the second dropped as a replay"
                );
                self.warn(
                    ts,
                    kind::NONCE_REUSE,
                    link,
                    msg,
                    Some(reference::NONCE_REUSE),
                );
            }
            _ => {}
        }
    }

    /// Tries every candidate key; on success `self.plain[off..off + len]`
    /// holds the MSDU (fragment) payload, with any TKIP Michael MIC verified
    /// and stripped, `self.plain[..off]` the output header when a worker put
    /// it there (`off` is `self.plain_off`, 0 otherwise), and `self.last_pn`
    /// its packet number.
    fn try_keys(
        &mut self,
        d: &Dot11<'_>,
        ta: MacAddr,
        cands: &[Arc<KeyEntry>],
    ) -> Result<(Arc<KeyEntry>, usize, bool), DropReason> {
        if cands.is_empty() {
            return Err(DropReason::NoKey);
        }
        let frame = d.bytes();
        let hdr_len = d.header_len();
        let class = if d.is_mgmt() {
            17
        } else if d.is_qos() {
            d.tid()
        } else {
            16
        };
        let mut fail = DropReason::MicFailure;
        let mut plain = std::mem::take(&mut self.plain);
        let mut result = Err(fail);
        for key in cands {
            // A worker's decryption with this very key stands for ours.
            // The plaintext is swapped in, not copied; a serial is tried once.
            let pre = self
                .pre
                .as_mut()
                .filter(|p| p.serial == key.serial)
                .map(|p| {
                    std::mem::swap(&mut plain, &mut p.plain);
                    p.serial = u64::MAX;
                    (p.pn, p.fp, p.hdr_len)
                });
            let (pn, fp, off) = match pre {
                Some(got) => got,
                None => match cipher::decrypt(&key.tk, ta, frame, hdr_len, &mut plain) {
                    Ok(pn) => (pn, worker::fingerprint(frame), 0),
                    Err(cipher::CipherError::Mic) => continue,
                    Err(cipher::CipherError::Icv) => {
                        if fail == DropReason::MicFailure {
                            fail = DropReason::IcvFailure;
                        }
                        continue;
                    }
                    Err(cipher::CipherError::Malformed) => {
                        fail = DropReason::Malformed;
                        continue;
                    }
                },
            };
            let Some(body) = plain.get_mut(off..) else {
                continue;
            };
            match self.accept(d, ta, key, class, pn, fp, body) {
                Ok(r) => {
                    self.last_pn = pn;
                    self.plain_off = off;
                    result = Ok(r);
                    break;
                }
                Err(DropReason::Replay) => {
                    result = Err(DropReason::Replay);
                    break;
                }
                Err(e) => {
                    fail = e;
                    continue;
                }
            }
        }
        self.plain = plain;
        match result {
            Err(DropReason::MicFailure) => Err(fail),
            r => r,
        }
    }

    /// After a MIC/ICV verified: the TKIP Michael check (unfragmented frames;
    /// fragments are checked after reassembly), then the replay window. `fp`
    /// is the frame's [`worker::fingerprint`].
    #[allow(clippy::too_many_arguments)]
    fn accept(
        &mut self,
        d: &Dot11<'_>,
        ta: MacAddr,
        key: &Arc<KeyEntry>,
        class: u8,
        pn: u64,
        fp: u32,
        plain: &mut [u8],
    ) -> Result<(Arc<KeyEntry>, usize, bool), DropReason> {
        let mut len = plain.len();
        let fragmented = d.more_frags() || d.seq_ctl().is_some_and(|(_, f)| f > 0);
        if key.tk.cipher == Cipher::Tkip && !fragmented {
            let (Some(da), Some(sa)) = (d.da(), d.sa()) else {
                return Err(DropReason::Malformed);
            };
            let mic_key = if ta == key.bssid {
                key.tk.mic_from_ap()
            } else {
                key.tk.mic_to_ap()
            };
            if len < 8 || !tkip::verify_michael(mic_key, da.0, sa.0, d.tid(), plain) {
                return Err(DropReason::MichaelFailure);
            }
            len -= 8;
        }
        // Replay check, after the MIC authenticated the PN. A fingerprint of
        // the frame tells a copy (a retransmission with Retry, else a replay)
        // from another frame under the same key and PN: the last four bytes,
        // the end of the MIC (CCMP, GCMP) or of the encrypted ICV (TKIP),
        // which differ for other contents but for a 2^-32 chance.
        let w = self.windows.entry((key.serial, ta, class)).or_default();
        let retransmit = match w.check(pn) {
            PnCheck::New => false,
            PnCheck::Seen => {
                let same = w.fingerprint(pn) == Some(fp);
                if same && d.retry() {
                    true
                } else {
                    self.last_replay = Some((key.clone(), pn, !same));
                    return Err(DropReason::Replay);
                }
            }
            PnCheck::TooOld => {
                self.last_replay = Some((key.clone(), pn, false));
                return Err(DropReason::Replay);
            }
        };
        w.mark_fp(pn, fp);
        Ok((key.clone(), len, retransmit))
    }

    #[allow(clippy::too_many_arguments)]
    fn after_decrypt(
        &mut self,
        ts: Ts,
        protected: &Dot11<'_>,
        out: &[u8],
        hdr_len: usize,
        key: Arc<KeyEntry>,
        pn: u64,
        retransmit: bool,
        sink: &mut dyn Sink,
    ) -> Result<(), DropReason> {
        let Ok(d) = Dot11::new_checked(out, false) else {
            return Err(DropReason::Malformed);
        };
        let (seq, frag) = d.seq_ctl().unwrap_or((0, 0));
        let fragmented = d.more_frags() || frag > 0;
        let ta = d.addr2().unwrap_or_default();
        let link = if d.addr1().is_group() {
            (ta, MacAddr::BROADCAST)
        } else {
            station_of(&d)
        };
        if !fragmented {
            if d.is_data() && d.amsdu() && amsdu_injected(&out[hdr_len..]) {
                self.amsdu_warning(ts, &d, link);
                return Err(DropReason::AmsduInjection);
            }
            if d.is_mgmt() {
                self.counters.decrypted_mgmt += 1;
                self.link_mgmt(&d);
            }
            sink.mpdu(&Mpdu {
                ts,
                frame: out,
                decrypted: true,
                retransmit,
            });
            if d.is_data() {
                self.deliver_msdus(ts, &d, &out[hdr_len..], true, retransmit, sink);
            }
            return Ok(());
        }
        // Fragments: IEEE 802.11-2020 10.6 defragmentation, per (TA, sequence).
        if retransmit {
            if d.is_mgmt() {
                self.counters.decrypted_mgmt += 1;
            }
            return Ok(()); // the first copy was already taken into its chain
        }
        let pushed = self.defrag.push(Fragment {
            ta,
            ra: d.addr1(),
            seq,
            frag,
            more: d.more_frags(),
            header: &out[..hdr_len],
            body: &out[hdr_len..],
            key,
            pn,
            frame: self.counters.read,
        });
        let c = match pushed {
            Ok(Some(c)) => c,
            Ok(None) => {
                if d.is_mgmt() {
                    self.counters.decrypted_mgmt += 1;
                }
                return Ok(());
            }
            Err(r) => {
                self.fragment_warning(ts, protected, r, Some(pn));
                return Err(r.reason());
            }
        };
        let mut body = c.body;
        if c.key.tk.cipher == Cipher::Tkip {
            let hd = Dot11::new_checked(&c.header, false).map_err(|_| DropReason::Malformed)?;
            let (Some(da), Some(sa)) = (hd.da(), hd.sa()) else {
                return Err(DropReason::Malformed);
            };
            let mic_key = if ta == c.key.bssid {
                c.key.tk.mic_from_ap()
            } else {
                c.key.tk.mic_to_ap()
            };
            if body.len() < 8 || !tkip::verify_michael(mic_key, da.0, sa.0, hd.tid(), &body) {
                // Counted on the last fragment; earlier ones were counted decrypted.
                return Err(DropReason::MichaelFailure);
            }
            body.truncate(body.len() - 8);
        }
        let mut whole = c.header;
        let hl = whole.len();
        whole.extend_from_slice(&body);
        if let Ok(wd) = Dot11::new_checked(&whole, false) {
            if wd.is_data() && wd.amsdu() && amsdu_injected(&whole[hl..]) {
                self.amsdu_warning(ts, &wd, link);
                return Err(DropReason::AmsduInjection);
            }
            if wd.is_mgmt() {
                self.counters.decrypted_mgmt += 1;
            }
            sink.mpdu(&Mpdu {
                ts,
                frame: &whole,
                decrypted: true,
                retransmit: false,
            });
            if wd.is_data() {
                self.deliver_msdus(ts, &wd, &whole[hl..], true, false, sink);
            }
        }
        Ok(())
    }
}

/// Stations remembered as fitting no configured raw TK (cleared when full).
pub const MAX_RAW_TK_MISSES: usize = 4_096;

/// Whether a group-addressed management frame is robust (IEEE 802.11-2020
/// 12.2.8 and Table 9-51): Deauthentication, Disassociation, and Action
/// frames of the robust categories.
fn is_robust_group_mgmt(d: &Dot11<'_>) -> bool {
    match d.subtype() {
        mgmt::DEAUTH | mgmt::DISASSOC => true,
        mgmt::ACTION | mgmt::ACTION_NO_ACK => d.body().first().is_some_and(|c| {
            matches!(
                c,
                0 | 1 | 2 | 3 | 5 | 6 | 8 | 9 | 10 | 13 | 14 | 16 | 18 | 19 | 126
            )
        }),
        _ => false,
    }
}

/// A PN at most this far from a key's start, seen again after a handshake
/// message installed the key again, is a reinstallation (KRACK resets the
/// sender's PN to its first values).
pub const REINSTALL_PN_START: u64 = 64;

/// Whether an A-MSDU body starts with an LLC/SNAP header where the first
/// subframe's DA belongs: a normal MSDU whose A-MSDU Present bit was flipped
/// by an attacker (FragAttacks §3; the defence the paper recommends).
fn amsdu_injected(body: &[u8]) -> bool {
    body.starts_with(&[0xaa, 0xaa, 0x03, 0x00, 0x00, 0x00])
}

/// (BSSID, STA) of a unicast frame, by the ToDS/FromDS table.
fn station_of(d: &Dot11<'_>) -> (MacAddr, MacAddr) {
    let a1 = d.addr1();
    let a2 = d.addr2().unwrap_or_default();
    if d.is_mgmt() {
        let bssid = d.addr3().unwrap_or(a2);
        return if a2 == bssid { (a2, a1) } else { (bssid, a2) };
    }
    match (d.to_ds(), d.from_ds()) {
        (true, false) => (a1, a2),
        (false, true) => (a2, a1),
        (false, false) => (d.addr3().unwrap_or(a2), a2),
        (true, true) => (a1, a2),
    }
}

/// Whether an EAPOL-Key frame was sent by the authenticator (Ack bit).
fn ev_from_ap(eapol: &[u8]) -> bool {
    matches!(crate::wire::eapol::EapolKey::new_checked(eapol), Ok(Some(k)) if k.has(crate::wire::eapol::info::ACK))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 4-address (WDS) frames decrypt in both directions with one pairwise
    /// key, and A-MSDUs are split; every ToDS/FromDS layout finds its key.
    #[test]
    fn wds_both_directions_and_every_ds_layout() {
        use crate::wpa::keys::TemporalKey;
        let ap = MacAddr([0x02, 0, 0, 0, 0, 1]);
        let peer = MacAddr([0x02, 0, 0, 0, 0, 2]);
        let (da, sa) = (
            MacAddr([0x02, 0, 0, 0, 0, 9]),
            MacAddr([0x02, 0, 0, 0, 0, 8]),
        );
        let tk = [7u8; 16];
        let mut e = Engine::new(Vec::new());
        e.keys
            .install_pairwise(ap, peer, TemporalKey::new(Cipher::Ccmp, &tk).unwrap());
        #[derive(Default)]
        struct Count(Vec<(MacAddr, MacAddr, Vec<u8>)>);
        impl Sink for Count {
            fn msdu(&mut self, m: &Msdu<'_>) {
                self.0.push((m.da, m.sa, m.llc.to_vec()));
            }
        }
        let mut sink = Count::default();
        let body = [0xaa, 0xaa, 3, 0, 0, 0, 0x08, 0x00, 0x45, 0, 0, 20];
        // (flags, a1, a2, a3, a4)
        let layouts = [
            (0x43u8, ap, peer, da, Some(sa)), // WDS peer → ap
            (0x43, peer, ap, da, Some(sa)),   // WDS ap → peer
            (0x41, ap, peer, da, None),       // ToDS
            (0x42, peer, ap, sa, None),       // FromDS
        ];
        for (pn, (flags, a1, a2, a3, a4)) in (1u64..).zip(layouts) {
            let mut h = vec![0x88, flags, 0, 0];
            h.extend_from_slice(&a1.0);
            h.extend_from_slice(&a2.0);
            h.extend_from_slice(&a3.0);
            h.extend_from_slice(&(pn as u16 * 16).to_le_bytes());
            if let Some(a4) = a4 {
                h.extend_from_slice(&a4.0);
            }
            h.extend_from_slice(&[0, 0]); // QoS TID 0
            let f = crate::crypto::ccmp::encrypt(&tk, &h, pn, 0, &body);
            e.process(
                Ts::default(),
                LinkKind::Ieee80211,
                &f,
                f.len() as u32,
                &mut sink,
            );
        }
        assert_eq!(e.counters.decrypted, 4, "{:?}", e.counters);
        assert_eq!(sink.0.len(), 4);
        assert_eq!(
            (sink.0[0].0, sink.0[0].1),
            (da, sa),
            "WDS: DA = A3, SA = A4"
        );
        assert!(sink.0.iter().all(|(_, _, b)| b == &body));
        assert!(e.counters.balanced());
    }
}
