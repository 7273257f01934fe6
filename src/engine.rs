//! The decryption engine: one frame in, decrypted MPDUs and MSDUs out.
//!
//! [`Engine::process`] takes a captured frame (link header included), locates
//! the 802.11 frame, learns SSIDs from management frames, feeds EAPOL-Key frames
//! to the [`Tracker`], and decrypts protected frames with the keys in the
//! [`KeyStore`]: CCMP-128 or TKIP, pairwise (both address orders are tried, so
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
//! - **Bounds.** Replay windows live as long as their key; the fragment cache
//!   holds at most [`MAX_FRAGMENT_CHAINS`] chains of [`MAX_MSDU_LEN`] bytes.
//!
//! Decryption itself ([`crate::ccmp::decrypt`], [`crate::tkip::decrypt_mpdu`]) is
//! a pure function of key + bytes; only the bookkeeping here is stateful.

use std::sync::Arc;

use crate::capture::link::{FcsStatus, LinkKind, locate_dot11};
use crate::ccmp_mb::{self, Job, MbKey};
use crate::wire::dot11::{AmsduIter, Dot11, FrameType, fc, mgmt};
use crate::wire::llc::{self, ethertype};
use crate::wire::{MacAddr, rsn};
use crate::wpa::handshake::{HsEvent, NetworkSecret, Tracker};
use crate::wpa::keys::Cipher;
use crate::wpa::keystore::{KeyEntry, KeyStore};
use crate::{ccmp, tkip};

/// Fragment chains being reassembled at once.
pub const MAX_FRAGMENT_CHAINS: usize = 64;
/// Largest reassembled MSDU (IEEE 802.11-2020 9.2.4.7: 2304 bytes; A-MSDUs up to 11454).
pub const MAX_MSDU_LEN: usize = 11_454 + 64;

/// Why a frame was not passed on. Every dropped frame has exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DropReason {
    /// The FCS did not verify (or radiotap flagged it bad).
    BadFcs,
    /// Captured length shorter than the frame (snaplen).
    Truncated,
    /// Link or 802.11 header too short or inconsistent.
    Malformed,
    /// Protected without the Extended IV bit: WEP, not supported.
    Wep,
    /// Protected unicast frame, no pairwise key for the station.
    NoKey,
    /// Protected group frame, no group key for that BSSID and key ID.
    NoGroupKey,
    /// CCMP MIC failed under every candidate key.
    MicFailure,
    /// TKIP ICV failed under every candidate key.
    IcvFailure,
    /// TKIP Michael MIC failed.
    MichaelFailure,
    /// Packet number already seen (without Retry) or too old for the window.
    Replay,
    /// Fragment out of sequence or chain evicted.
    Fragment,
}

impl DropReason {
    pub const ALL: [DropReason; 11] = [
        DropReason::BadFcs,
        DropReason::Truncated,
        DropReason::Malformed,
        DropReason::Wep,
        DropReason::NoKey,
        DropReason::NoGroupKey,
        DropReason::MicFailure,
        DropReason::IcvFailure,
        DropReason::MichaelFailure,
        DropReason::Replay,
        DropReason::Fragment,
    ];
    /// Stable snake_case name used in JSON and summaries.
    pub fn name(self) -> &'static str {
        match self {
            DropReason::BadFcs => "bad_fcs",
            DropReason::Truncated => "truncated",
            DropReason::Malformed => "malformed",
            DropReason::Wep => "wep_unsupported",
            DropReason::NoKey => "no_key",
            DropReason::NoGroupKey => "no_group_key",
            DropReason::MicFailure => "mic_failure",
            DropReason::IcvFailure => "icv_failure",
            DropReason::MichaelFailure => "michael_failure",
            DropReason::Replay => "replay",
            DropReason::Fragment => "fragment",
        }
    }
    fn index(self) -> usize {
        self as usize
    }
}

/// Frame counters for the whole run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    pub read: u64,
    pub decrypted: u64,
    pub retransmitted: u64,
    pub plaintext: u64,
    pub dropped: [u64; DropReason::ALL.len()],
    /// Decrypted frames that were robust management frames (802.11w).
    pub decrypted_mgmt: u64,
    /// Decrypted frames sent to a group address (GTK).
    pub decrypted_group: u64,
    /// Frames whose FCS was found (and stripped) without the link layer saying so.
    pub fcs_detected: u64,
}

impl Counters {
    pub fn dropped(&self, r: DropReason) -> u64 {
        self.dropped[r.index()]
    }
    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().sum()
    }
    /// The accounting identity: every frame read is decrypted, plaintext or dropped.
    pub fn balanced(&self) -> bool {
        self.read == self.decrypted + self.plaintext + self.dropped_total()
    }
}

/// Per-station (or per-BSS for group traffic) protected-frame statistics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkStats {
    pub protected: u64,
    pub decrypted: u64,
    pub retransmitted: u64,
    pub replayed: u64,
    pub mic_failed: u64,
    pub no_key: u64,
    pub other_dropped: u64,
}

/// What is known about one BSS.
#[derive(Debug, Clone, Default)]
pub struct BssInfo {
    pub ssid: Option<Vec<u8>>,
    /// AKM suites from the RSN (or WPA) element, e.g. 0x000FAC02 PSK, 0x000FAC06 PSK-SHA256.
    pub akms: Vec<u32>,
    pub group_cipher: Option<u32>,
    pub wpa1: bool,
    pub group: LinkStats,
}

/// Capture timestamp.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ts {
    pub sec: i64,
    pub usec: u32,
}

/// One MSDU handed to the sinks (after decryption, A-MSDU split, defragmentation).
#[derive(Debug, Clone, Copy)]
pub struct Msdu<'a> {
    pub ts: Ts,
    pub da: MacAddr,
    pub sa: MacAddr,
    pub bssid: Option<MacAddr>,
    /// LLC/SNAP header onward.
    pub llc: &'a [u8],
    pub decrypted: bool,
    pub retransmit: bool,
    pub tid: u8,
    /// 802.11 direction bits of the frame that carried it: a ToDS MSDU for
    /// another station of the BSS comes again FromDS when the AP relays it.
    pub to_ds: bool,
    pub from_ds: bool,
}

/// One MPDU handed to the sinks: the 802.11 frame with the Protected bit
/// cleared and the security header and MIC removed.
#[derive(Debug, Clone, Copy)]
pub struct Mpdu<'a> {
    pub ts: Ts,
    pub frame: &'a [u8],
    pub decrypted: bool,
    pub retransmit: bool,
}

/// Where the engine sends what it produces.
pub trait Sink {
    fn mpdu(&mut self, _m: &Mpdu<'_>) {}
    fn msdu(&mut self, _m: &Msdu<'_>) {}
    fn handshake(&mut self, _ts: Ts, _bssid: MacAddr, _sta: MacAddr, _ev: &HsEvent) {}
}

/// A sink that ignores everything.
pub struct NullSink;
impl Sink for NullSink {}

#[derive(Default, Clone, Copy)]
struct ReplayWindow {
    highest: u64,
    bitmap: u64,
    any: bool,
}

enum PnCheck {
    New,
    Seen,
    TooOld,
}

impl ReplayWindow {
    const SIZE: u64 = 64;
    fn check(&self, pn: u64) -> PnCheck {
        if !self.any || pn > self.highest {
            return PnCheck::New;
        }
        let diff = self.highest - pn;
        if diff >= Self::SIZE {
            PnCheck::TooOld
        } else if self.bitmap & (1 << diff) != 0 {
            PnCheck::Seen
        } else {
            PnCheck::New
        }
    }
    fn mark(&mut self, pn: u64) {
        if !self.any {
            *self = ReplayWindow {
                highest: pn,
                bitmap: 1,
                any: true,
            };
        } else if pn > self.highest {
            let shift = pn - self.highest;
            self.bitmap = if shift >= Self::SIZE {
                0
            } else {
                self.bitmap << shift
            };
            self.bitmap |= 1;
            self.highest = pn;
        } else {
            let diff = self.highest - pn;
            if diff < Self::SIZE {
                self.bitmap |= 1 << diff;
            }
        }
    }
}

struct FragChain {
    ta: MacAddr,
    seq: u16,
    next_frag: u8,
    /// Plain 802.11 header of the first fragment (Protected cleared).
    header: Vec<u8>,
    body: Vec<u8>,
    decrypted: bool,
    key: Option<Arc<KeyEntry>>,
    age: u64,
}

/// The engine: handshake tracker, keystore, replay windows, counters.
pub struct Engine {
    /// Capture-health statistics per station (directions, gaps, rates).
    pub health: crate::health::HealthTracker,
    pub tracker: Tracker,
    pub keys: KeyStore,
    pub counters: Counters,
    pub bss: crate::FastMap<MacAddr, BssInfo>,
    pub stations: crate::FastMap<(MacAddr, MacAddr), LinkStats>,
    windows: crate::FastMap<(u64, MacAddr, u8), ReplayWindow>,
    frags: Vec<FragChain>,
    /// Decrypted body of the current frame.
    plain: Vec<u8>,
    /// Output MPDU (header + plain body) of the current frame.
    out: Vec<u8>,
    /// Unpadded copy of a frame that had radiotap data padding.
    unpadded: Vec<u8>,
    clock: u64,
    /// A worker's decryption of the current frame, if any ([`Engine::process_pre`]).
    pre: Option<PreDecrypted>,
    /// The current frame's candidate keys (kept for its allocation).
    cands: Vec<Arc<KeyEntry>>,
    /// The keys [`Engine::process_batch`] pre-decrypts with, and how much of
    /// the keystore's history they already hold.
    batch_keys: WorkerKeys,
    batch_forwarded: usize,
}

/// A decryption done ahead of time by a pipeline worker: the key (by serial),
/// the packet number and the plaintext, all verified by the MIC (CCMP) or ICV
/// (TKIP). The engine still does everything stateful (replay, Michael, order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreDecrypted {
    pub serial: u64,
    pub pn: u64,
    pub plain: Vec<u8>,
}

/// The keys a pipeline worker knows, copied from the engine's keystore as it
/// installs them (newest first per slot, at most `MAX_KEYS_PER_SLOT`).
#[derive(Default)]
pub struct WorkerKeys {
    pairwise: crate::FastMap<(MacAddr, MacAddr), Vec<Arc<KeyEntry>>>,
    group: crate::FastMap<(MacAddr, u8), Vec<Arc<KeyEntry>>>,
    /// CCMP keys expanded once for the multi-buffer kernel, by serial; an
    /// entry lives as long as its key is in a slot.
    mb: crate::FastMap<u64, MbKey>,
    out: Vec<u8>,
    unpadded: Vec<u8>,
    /// Candidate serials of the frames of a batch, flat (`Pending::cands`
    /// indexes it): one allocation per worker, not one per frame.
    cand_buf: Vec<u64>,
}

/// A frame of a batch waiting for the kernel: where its bytes are, its
/// CCMP candidate keys in the engine's order, and the next one to try.
struct Pending {
    idx: usize,
    /// `None`: the bytes are the caller's frame; `Some(i)`: `copies[i]`
    /// (radiotap data padding removed).
    copy: Option<usize>,
    start: usize,
    end: usize,
    hdr_len: usize,
    /// This frame's candidates in `WorkerKeys::cand_buf`.
    cands: std::ops::Range<usize>,
    next: usize,
}

impl WorkerKeys {
    pub fn add(&mut self, k: Arc<KeyEntry>) {
        let slot = match k.sta {
            Some(sta) => self.pairwise.entry((k.bssid, sta)).or_default(),
            None => self.group.entry((k.bssid, k.key_id)).or_default(),
        };
        if slot.iter().any(|e| e.serial == k.serial) {
            return;
        }
        if k.tk.cipher == Cipher::Ccmp {
            self.mb.insert(k.serial, MbKey::new(k.tk.key16()));
        }
        slot.insert(0, k);
        let max = crate::wpa::keystore::MAX_KEYS_PER_SLOT;
        if slot.len() > max {
            for old in slot.split_off(max) {
                self.mb.remove(&old.serial);
            }
        }
    }

    /// [`WorkerKeys::predecrypt`] for a whole batch: CCMP frames go through the
    /// multi-buffer kernel ([`crate::ccmp_mb`]) together, candidate key by
    /// candidate key in the order the engine would try them, so `pre[i]` is
    /// what `predecrypt(link, frames[i])` gives. Frames with a TKIP candidate
    /// are done one at a time.
    ///
    /// Plaintext buffers are taken from `spare` (and the ones left over go
    /// back to it), so a worker that recycles the spent [`PreDecrypted`]s of
    /// earlier batches allocates nothing per frame.
    ///
    /// # Panics
    /// If `pre` is shorter than `frames`.
    pub fn predecrypt_batch(
        &mut self,
        link: LinkKind,
        frames: &[&[u8]],
        pre: &mut [Option<PreDecrypted>],
        spare: &mut Vec<Vec<u8>>,
    ) {
        let mut pending: Vec<Pending> = Vec::with_capacity(frames.len());
        let mut cand_buf = std::mem::take(&mut self.cand_buf);
        cand_buf.clear();
        let mut copies: Vec<Vec<u8>> = Vec::new();
        for (i, raw) in frames.iter().enumerate() {
            pre[i] = None;
            let Ok(loc) = locate_dot11(link, raw) else {
                continue;
            };
            if loc.fcs == FcsStatus::PresentBad {
                continue;
            }
            let Some(frame) = raw.get(loc.start..loc.end) else {
                continue;
            };
            let Ok(d) = Dot11::new_checked(frame, loc.data_pad) else {
                continue;
            };
            if !d.protected() || !(d.is_data() || d.is_mgmt()) {
                continue;
            }
            let (copy, start, end) = if d.header_len() != d.mac_header_len() {
                let mut c = Vec::with_capacity(frame.len());
                c.extend_from_slice(d.header());
                c.extend_from_slice(d.body());
                copies.push(c);
                (Some(copies.len() - 1), 0, copies[copies.len() - 1].len())
            } else {
                (None, loc.start, loc.end)
            };
            let bytes = match copy {
                Some(c) => &copies[c][..],
                None => frame,
            };
            let Ok(d) = Dot11::new_checked(bytes, false) else {
                continue;
            };
            let first = cand_buf.len();
            match self.candidates(&d, &mut cand_buf) {
                None => continue,
                Some(false) => {
                    cand_buf.truncate(first);
                    pre[i] = self.try_frame(&d);
                    continue;
                }
                Some(true) => {}
            }
            if cand_buf.len() > first {
                pending.push(Pending {
                    idx: i,
                    copy,
                    start,
                    end,
                    hdr_len: d.header_len(),
                    cands: first..cand_buf.len(),
                    next: 0,
                });
            }
        }
        let mut outs: Vec<Vec<u8>> = Vec::new();
        let mut results = Vec::new();
        while !pending.is_empty() {
            while outs.len() < pending.len() {
                outs.push(spare.pop().unwrap_or_default());
            }
            results.clear();
            results.resize(pending.len(), Err(ccmp::CcmpError::TooShort));
            let mut jobs: Vec<Job<'_>> = Vec::with_capacity(pending.len());
            for (p, out) in pending.iter().zip(outs.iter_mut()) {
                let bytes = match p.copy {
                    Some(c) => &copies[c][..],
                    None => &frames[p.idx][p.start..p.end],
                };
                let Some(key) = cand_buf
                    .get(p.cands.start + p.next)
                    .and_then(|serial| self.mb.get(serial))
                else {
                    continue;
                };
                jobs.push(Job {
                    key,
                    frame: bytes,
                    hdr_len: p.hdr_len,
                    out,
                });
            }
            if jobs.len() != pending.len() {
                // A candidate without an expanded key cannot happen (both are
                // updated together in `add`); be safe and go frame by frame.
                drop(jobs);
                for p in pending.drain(..) {
                    pre[p.idx] = self.predecrypt(link, frames[p.idx]);
                }
                break;
            }
            ccmp_mb::decrypt_batch(&mut jobs, &mut results);
            drop(jobs);
            let mut still = Vec::new();
            for ((mut p, r), out) in pending.drain(..).zip(results.iter()).zip(outs.iter_mut()) {
                match r {
                    Ok(h) => {
                        pre[p.idx] = Some(PreDecrypted {
                            serial: cand_buf[p.cands.start + p.next],
                            pn: h.pn,
                            plain: std::mem::replace(out, spare.pop().unwrap_or_default()),
                        });
                    }
                    Err(_) => {
                        p.next += 1;
                        if p.next < p.cands.len() {
                            still.push(p);
                        }
                    }
                }
            }
            pending = still;
        }
        spare.extend(outs.into_iter().filter(|o| o.capacity() > 0));
        self.cand_buf = cand_buf;
    }

    /// The candidate keys for a protected frame, in the engine's order
    /// (group keys by key ID; pairwise keys for both address orders).
    /// Their serials are appended to `out`; the result says whether they are
    /// all CCMP (`Some(true)`, the kernel's case) and is `None` when the frame
    /// has no CCMP/TKIP header.
    fn candidates(&self, d: &Dot11<'_>, out: &mut Vec<u64>) -> Option<bool> {
        let body = d.body();
        if body.len() < 8 || body[3] & 0x20 == 0 {
            return None;
        }
        let ra = d.addr1();
        let ta = d.addr2()?;
        let slots: [Option<&Vec<Arc<KeyEntry>>>; 2] = if ra.is_group() {
            [self.group.get(&(ta, body[3] >> 6)), None]
        } else {
            [self.pairwise.get(&(ta, ra)), self.pairwise.get(&(ra, ta))]
        };
        let mut all_ccmp = true;
        for k in slots.into_iter().flatten().flatten() {
            all_ccmp &= k.tk.cipher == Cipher::Ccmp;
            out.push(k.serial);
        }
        Some(all_ccmp)
    }

    /// Decrypts a protected frame with the keys known here. `None` when the
    /// frame is not protected, no key fits, or it is malformed: the engine then
    /// does the work itself, so a worker that lags behind a rekey costs time,
    /// never correctness.
    pub fn predecrypt(&mut self, link: LinkKind, raw: &[u8]) -> Option<PreDecrypted> {
        let loc = locate_dot11(link, raw).ok()?;
        if loc.fcs == FcsStatus::PresentBad {
            return None;
        }
        let frame = raw.get(loc.start..loc.end)?;
        let d = Dot11::new_checked(frame, loc.data_pad).ok()?;
        if !d.protected() || !(d.is_data() || d.is_mgmt()) {
            return None;
        }
        let mut unpadded = std::mem::take(&mut self.unpadded);
        let r = if d.header_len() != d.mac_header_len() {
            unpadded.clear();
            unpadded.extend_from_slice(d.header());
            unpadded.extend_from_slice(d.body());
            match Dot11::new_checked(&unpadded, false) {
                Ok(u) => self.try_frame(&u),
                Err(_) => None,
            }
        } else {
            self.try_frame(&d)
        };
        self.unpadded = unpadded;
        r
    }

    fn try_frame(&mut self, d: &Dot11<'_>) -> Option<PreDecrypted> {
        let body = d.body();
        if body.len() < 8 || body[3] & 0x20 == 0 {
            return None;
        }
        let ra = d.addr1();
        let ta = d.addr2()?;
        let empty = Vec::new();
        let (first, second) = if ra.is_group() {
            (
                self.group.get(&(ta, body[3] >> 6)).unwrap_or(&empty),
                &empty,
            )
        } else {
            (
                self.pairwise.get(&(ta, ra)).unwrap_or(&empty),
                self.pairwise.get(&(ra, ta)).unwrap_or(&empty),
            )
        };
        for key in first.iter().chain(second.iter()) {
            let pn = match key.tk.cipher {
                Cipher::Ccmp => {
                    ccmp::decrypt(key.tk.key16(), d.bytes(), d.header_len(), &mut self.out)
                        .ok()
                        .map(|h| h.pn)
                }
                Cipher::Tkip => tkip::decrypt_mpdu(
                    key.tk.key16(),
                    ta.0,
                    d.bytes(),
                    d.header_len(),
                    &mut self.out,
                )
                .ok()
                .map(|h| h.tsc),
            };
            if let Some(pn) = pn {
                return Some(PreDecrypted {
                    serial: key.serial,
                    pn,
                    plain: std::mem::take(&mut self.out),
                });
            }
        }
        None
    }
}

/// Caps on the per-BSS and per-station tables (a flood of fake addresses is
/// counted in the totals but not given its own entry).
pub const MAX_BSS: usize = 4_096;
pub const MAX_STATION_STATS: usize = 65_536;

impl Engine {
    pub fn new(networks: Vec<NetworkSecret>) -> Self {
        Engine {
            health: crate::health::HealthTracker::default(),
            tracker: Tracker::new(networks),
            keys: KeyStore::new(),
            counters: Counters::default(),
            bss: crate::FastMap::default(),
            stations: crate::FastMap::default(),
            windows: crate::FastMap::default(),
            frags: Vec::new(),
            plain: Vec::with_capacity(4096),
            out: Vec::with_capacity(4096),
            unpadded: Vec::new(),
            clock: 0,
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

    fn bss_mut(&mut self, bssid: MacAddr) -> Option<&mut BssInfo> {
        if !self.bss.contains_key(&bssid) && (self.bss.len() >= MAX_BSS || bssid.is_group()) {
            return None;
        }
        Some(self.bss.entry(bssid).or_default())
    }

    fn station_mut(&mut self, bssid: MacAddr, sta: MacAddr) -> Option<&mut LinkStats> {
        if !self.stations.contains_key(&(bssid, sta)) && self.stations.len() >= MAX_STATION_STATS {
            return None;
        }
        Some(self.stations.entry((bssid, sta)).or_default())
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
        self.clock += 1;
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
            self.counters.plaintext += 1;
            match d.frame_type() {
                FrameType::Management => self.on_mgmt(&d),
                FrameType::Data if !d.is_null() => self.deliver_plain(ts, &d, sink),
                _ => {}
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

    fn on_mgmt(&mut self, d: &Dot11<'_>) {
        let body = d.body();
        let (ies, ssid_bssid) = match d.subtype() {
            mgmt::BEACON | mgmt::PROBE_RESP => (body.get(12..), d.addr3()),
            mgmt::ASSOC_REQ => (body.get(4..), d.addr3()),
            mgmt::REASSOC_REQ => (body.get(10..), d.addr3()),
            _ => (None, None),
        };
        let (Some(ies), Some(bssid)) = (ies, ssid_bssid) else {
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
            if id == 48 {
                if let Ok(r) = rsn::parse_rsn(el) {
                    akms = r.akms.as_slice().to_vec();
                    group = Some(r.group_cipher);
                }
            } else if id == 221 && el.starts_with(&[0x00, 0x50, 0xf2, 0x01]) && group.is_none() {
                if let Ok(r) = rsn::parse_wpa_vendor(el) {
                    akms = r.akms.as_slice().to_vec();
                    group = Some(r.group_cipher);
                    wpa1 = true;
                }
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

    fn deliver_plain(&mut self, ts: Ts, d: &Dot11<'_>, sink: &mut dyn Sink) {
        sink.mpdu(&Mpdu {
            ts,
            frame: d.bytes(),
            decrypted: false,
            retransmit: false,
        });
        // Fragmented plaintext MSDUs are rare (open networks); they are passed
        // per MPDU only, not reassembled.
        if d.more_frags() || d.seq_ctl().is_some_and(|(_, f)| f > 0) {
            return;
        }
        let body = d.body();
        self.deliver_msdus(ts, d, body, false, false, sink);
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
            if let Some(snap) = llc::parse_snap(llc_body) {
                if snap.ethertype == ethertype::EAPOL && !retransmit {
                    let ev = eng.tracker.on_eapol(&mut eng.keys, ta, ra, snap.payload);
                    let (b, s) = if ev_from_ap(snap.payload) {
                        (ta, ra)
                    } else {
                        (ra, ta)
                    };
                    sink.handshake(ts, b, s, &ev);
                }
            }
            sink.msdu(&Msdu {
                ts,
                da,
                sa,
                bssid,
                llc: llc_body,
                decrypted,
                retransmit,
                tid,
                to_ds,
                from_ds,
            });
        };
        if d.amsdu() {
            for sf in AmsduIter::new(body) {
                one(self, sf.da, sf.sa, sf.msdu);
            }
        } else if let (Some(da), Some(sa)) = (d.da(), d.sa()) {
            one(self, da, sa, body);
        }
    }

    fn on_protected(
        &mut self,
        ts: Ts,
        d: &Dot11<'_>,
        sink: &mut dyn Sink,
    ) -> Result<(), DropReason> {
        let body = d.body();
        if body.len() < 8 {
            return Err(DropReason::Malformed);
        }
        if body[3] & 0x20 == 0 {
            return Err(DropReason::Wep);
        }
        let key_id = body[3] >> 6;
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
        if group {
            cands.extend_from_slice(self.keys.group(ta, key_id));
        } else {
            cands.extend_from_slice(self.keys.pairwise(ta, ra));
            cands.extend_from_slice(self.keys.pairwise(ra, ta));
        }
        let res = self.try_keys(d, ta, &cands);
        cands.clear();
        self.cands = cands;
        // Statistics.
        let stats = if group {
            self.bss_mut(stat_bssid).map(|b| &mut b.group)
        } else {
            self.station_mut(stat_bssid, stat_sta)
        };
        if let Some(s) = stats {
            s.protected += 1;
            match &res {
                Ok((_, _, retx)) => {
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
        let (key, plain_len, retransmit) = match res {
            Ok(r) => r,
            Err(DropReason::NoKey) if group => return Err(DropReason::NoGroupKey),
            Err(e) => return Err(e),
        };
        // Output MPDU: header with Protected cleared + plaintext.
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        out.extend_from_slice(d.header());
        out[1] &= !fc::PROTECTED;
        out.extend_from_slice(&self.plain[..plain_len]);
        let hdr_len = d.header().len();
        let res = self.after_decrypt(ts, &out, hdr_len, key, retransmit, sink);
        self.out = out;
        // Counted decrypted only once it is passed on (a fragment that breaks its
        // chain, or a reassembled MSDU whose Michael MIC fails, is a drop instead).
        res?;
        self.counters.decrypted += 1;
        self.counters.retransmitted += u64::from(retransmit);
        if group {
            self.counters.decrypted_group += 1;
        }
        Ok(())
    }

    /// Tries every candidate key; on success `self.plain[..len]` holds the MSDU
    /// (fragment) payload, with any TKIP Michael MIC verified and stripped.
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
            let pre_pn = self
                .pre
                .as_mut()
                .filter(|p| p.serial == key.serial)
                .map(|p| {
                    std::mem::swap(&mut plain, &mut p.plain);
                    p.serial = u64::MAX;
                    p.pn
                });
            let pn = match (pre_pn, key.tk.cipher) {
                (Some(pn), _) => pn,
                (None, Cipher::Ccmp) => {
                    match ccmp::decrypt(key.tk.key16(), frame, hdr_len, &mut plain) {
                        Ok(h) => h.pn,
                        Err(ccmp::CcmpError::MicFailure) => continue,
                        Err(_) => {
                            fail = DropReason::Malformed;
                            continue;
                        }
                    }
                }
                (None, Cipher::Tkip) => {
                    match tkip::decrypt_mpdu(key.tk.key16(), ta.0, frame, hdr_len, &mut plain) {
                        Ok(h) => h.tsc,
                        Err(tkip::TkipError::IcvFailure) => {
                            if fail == DropReason::MicFailure {
                                fail = DropReason::IcvFailure;
                            }
                            continue;
                        }
                        Err(_) => {
                            fail = DropReason::Malformed;
                            continue;
                        }
                    }
                }
            };
            match self.accept(d, ta, key, class, pn, &mut plain) {
                Ok(r) => {
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
    /// fragments are checked after reassembly), then the replay window.
    fn accept(
        &mut self,
        d: &Dot11<'_>,
        ta: MacAddr,
        key: &Arc<KeyEntry>,
        class: u8,
        pn: u64,
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
        // Replay check, after the MIC authenticated the PN.
        let w = self.windows.entry((key.serial, ta, class)).or_default();
        let retransmit = match w.check(pn) {
            PnCheck::New => false,
            PnCheck::Seen if d.retry() => true,
            PnCheck::Seen | PnCheck::TooOld => return Err(DropReason::Replay),
        };
        w.mark(pn);
        Ok((key.clone(), len, retransmit))
    }

    fn after_decrypt(
        &mut self,
        ts: Ts,
        out: &[u8],
        hdr_len: usize,
        key: Arc<KeyEntry>,
        retransmit: bool,
        sink: &mut dyn Sink,
    ) -> Result<(), DropReason> {
        let Ok(d) = Dot11::new_checked(out, false) else {
            return Err(DropReason::Malformed);
        };
        if d.is_mgmt() {
            self.counters.decrypted_mgmt += 1;
        }
        let (seq, frag) = d.seq_ctl().unwrap_or((0, 0));
        let fragmented = d.more_frags() || frag > 0;
        if !fragmented {
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
            return Ok(()); // the first copy was already taken into its chain
        }
        let ta = d.addr2().unwrap_or_default();
        let body = &out[hdr_len..];
        self.clock += 1;
        let pos = self.frags.iter().position(|c| c.ta == ta && c.seq == seq);
        if frag == 0 {
            if let Some(p) = pos {
                self.frags.swap_remove(p);
            }
            if self.frags.len() >= MAX_FRAGMENT_CHAINS {
                if let Some(old) = self
                    .frags
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, c)| c.age)
                    .map(|(i, _)| i)
                {
                    self.frags.swap_remove(old);
                }
            }
            self.frags.push(FragChain {
                ta,
                seq,
                next_frag: 1,
                header: out[..hdr_len].to_vec(),
                body: body.to_vec(),
                decrypted: true,
                key: Some(key),
                age: self.clock,
            });
            return Ok(());
        }
        let Some(p) = pos else {
            return Err(DropReason::Fragment);
        };
        let c = &mut self.frags[p];
        if c.next_frag != frag || c.body.len() + body.len() > MAX_MSDU_LEN {
            self.frags.swap_remove(p);
            return Err(DropReason::Fragment);
        }
        c.body.extend_from_slice(body);
        c.next_frag += 1;
        c.age = self.clock;
        if d.more_frags() {
            return Ok(());
        }
        let mut c = self.frags.swap_remove(p);
        // Reassembled MSDU: header of the first fragment with More Fragments
        // cleared and fragment number 0.
        c.header[1] &= !fc::MORE_FRAGS;
        if let Some(k) = &c.key {
            if k.tk.cipher == Cipher::Tkip {
                let hd = Dot11::new_checked(&c.header, false).map_err(|_| DropReason::Malformed)?;
                let (Some(da), Some(sa)) = (hd.da(), hd.sa()) else {
                    return Err(DropReason::Malformed);
                };
                let mic_key = if ta == k.bssid {
                    k.tk.mic_from_ap()
                } else {
                    k.tk.mic_to_ap()
                };
                if c.body.len() < 8 || !tkip::verify_michael(mic_key, da.0, sa.0, hd.tid(), &c.body)
                {
                    // Counted on the last fragment; earlier ones were counted decrypted.
                    return Err(DropReason::MichaelFailure);
                }
                c.body.truncate(c.body.len() - 8);
            }
        }
        let mut whole = c.header.clone();
        whole.extend_from_slice(&c.body);
        if let Ok(wd) = Dot11::new_checked(&whole, false) {
            sink.mpdu(&Mpdu {
                ts,
                frame: &whole,
                decrypted: c.decrypted,
                retransmit: false,
            });
            if wd.is_data() {
                let hl = c.header.len();
                self.deliver_msdus(ts, &wd, &whole[hl..], true, false, sink);
            }
        }
        Ok(())
    }
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

    #[test]
    fn replay_window() {
        let mut w = ReplayWindow::default();
        assert!(matches!(w.check(5), PnCheck::New));
        w.mark(5);
        assert!(matches!(w.check(5), PnCheck::Seen));
        assert!(matches!(w.check(4), PnCheck::New));
        w.mark(4);
        assert!(matches!(w.check(4), PnCheck::Seen));
        w.mark(100);
        assert!(matches!(w.check(5), PnCheck::TooOld));
        assert!(matches!(w.check(99), PnCheck::New));
        assert!(matches!(w.check(100), PnCheck::Seen));
        w.mark(100 + 64 + 3);
        assert!(matches!(w.check(100), PnCheck::TooOld));
    }

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
            let f = crate::ccmp::encrypt(&tk, &h, pn, 0, &body);
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
