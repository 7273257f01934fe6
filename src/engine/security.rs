//! Attack and anomaly warnings: what the engine saw that a receiver refuses
//! or that only an attacker (or a broken stack) sends, named with the
//! stations, the frame numbers and the CVE or paper.
//!
//! Kismet's alerts are the anchor (`DEAUTHFLOOD`, `NONCEREUSE`, …); the
//! FragAttacks and KRACK checks go further. Every kind is a constant of
//! [`kind`], documented in `docs/events.md`:
//!
//! | kind | raised when | reference |
//! |---|---|---|
//! | `fragment_mixed_key` | fragments of one MSDU under different key instances | CVE-2020-24587 |
//! | `fragment_pn_gap` | fragments of one MSDU with non-consecutive PNs | CVE-2020-26146 |
//! | `fragment_mixed_plaintext` | a plaintext fragment inside a protected MSDU (or the reverse) | CVE-2020-26147 |
//! | `fragment_out_of_order` | a lone fragment, or one that skips a number | IEEE 802.11-2020 10.6 |
//! | `fragment_cache` | a fragment continuing an MSDU whose fragments a (re)association or rekey discarded | CVE-2020-24586 |
//! | `amsdu_injection` | an A-MSDU whose first subframe DA is an LLC/SNAP header | CVE-2020-24588 |
//! | `key_reinstallation` | the PN of an installed key goes back after a retransmitted M3 / group message | CVE-2017-13077/13080 (KRACK) |
//! | `nonce_reuse` | two different frames under one key with the same PN | KRACK (CCS 2017) |
//! | `deauth_flood` | [`DEAUTH_FLOOD_FRAMES`] unprotected deauth/disassoc frames for one link within [`DEAUTH_FLOOD_SECS`] | Kismet DEAUTHFLOOD |
//! | `plaintext_eapol` | an EAPOL-Key frame in plaintext after the link's key is in use | KRACK (CCS 2017) §3.4 |
//! | `plaintext_data` | a plaintext data frame (not EAPOL) to or from a station whose key is in use | CVE-2020-26140, CVE-2020-26143 |
//! | `bip_mic_failure` | a group-addressed robust management frame whose BIP MIC fails | IEEE 802.11-2020 12.5.4 |
//!
//! # Bounds
//! The queue holds at most [`MAX_QUEUED_WARNINGS`] until taken (the rest are
//! counted in [`Warnings::dropped`]); a kind repeats for one link at most once
//! per [`WARNING_REPEAT_SECS`] of capture time (repeats counted in
//! [`Warnings::suppressed`]); the rate table holds [`MAX_RATE_ENTRIES`] links
//! and is cleared when full. Link state is kept for [`MAX_LINKS`] links, flood
//! counters for [`MAX_FLOOD_LINKS`].

use std::collections::BTreeMap;
use std::collections::hash_map::Entry;

use crate::wire::{MacAddr, Ts};

/// One warning, in the shape the watcher turns into a `warning` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityWarning {
    /// One of [`kind`].
    pub kind: &'static str,
    pub bssid: MacAddr,
    /// The station; `ff:ff:ff:ff:ff:ff` for group traffic.
    pub sta: MacAddr,
    /// Frame number in the capture (1-based, as Wireshark counts).
    pub frame: u64,
    /// The finding in words, naming the stations and frames.
    pub message: String,
    /// The CVE or paper, when there is one.
    pub reference: Option<&'static str>,
}

/// The warning kinds (stable names: they appear in JSON).
pub mod kind {
    pub const FRAGMENT_MIXED_KEY: &str = "fragment_mixed_key";
    pub const FRAGMENT_PN_GAP: &str = "fragment_pn_gap";
    pub const FRAGMENT_MIXED_PLAINTEXT: &str = "fragment_mixed_plaintext";
    pub const FRAGMENT_OUT_OF_ORDER: &str = "fragment_out_of_order";
    pub const FRAGMENT_CACHE: &str = "fragment_cache";
    pub const AMSDU_INJECTION: &str = "amsdu_injection";
    pub const KEY_REINSTALLATION: &str = "key_reinstallation";
    pub const NONCE_REUSE: &str = "nonce_reuse";
    pub const DEAUTH_FLOOD: &str = "deauth_flood";
    pub const PLAINTEXT_EAPOL: &str = "plaintext_eapol";
    pub const PLAINTEXT_DATA: &str = "plaintext_data";
    pub const BIP_MIC_FAILURE: &str = "bip_mic_failure";

    /// Every kind, for documentation tests.
    pub const ALL: [&str; 12] = [
        FRAGMENT_MIXED_KEY,
        FRAGMENT_PN_GAP,
        FRAGMENT_MIXED_PLAINTEXT,
        FRAGMENT_OUT_OF_ORDER,
        FRAGMENT_CACHE,
        AMSDU_INJECTION,
        KEY_REINSTALLATION,
        NONCE_REUSE,
        DEAUTH_FLOOD,
        PLAINTEXT_EAPOL,
        PLAINTEXT_DATA,
        BIP_MIC_FAILURE,
    ];
}

/// References, written once.
pub mod reference {
    pub const MIXED_KEY: &str = "CVE-2020-24587 (FragAttacks mixed-key attack; Vanhoef, Fragment and Forge, USENIX Security 2021)";
    pub const PN_GAP: &str = "CVE-2020-26146 (FragAttacks: non-consecutive packet numbers; Vanhoef, Fragment and Forge, USENIX Security 2021)";
    pub const MIXED_PLAINTEXT: &str = "CVE-2020-26147 (FragAttacks: mixed plaintext and encrypted fragments; Vanhoef, Fragment and Forge, USENIX Security 2021)";
    pub const AMSDU: &str = "CVE-2020-24588 (FragAttacks A-MSDU injection; Vanhoef, Fragment and Forge, USENIX Security 2021)";
    pub const CACHE: &str = "CVE-2020-24586 (FragAttacks fragment cache; Vanhoef, Fragment and Forge, USENIX Security 2021)";
    pub const REINSTALL_PAIRWISE: &str = "CVE-2017-13077 (KRACK: pairwise key reinstallation; Vanhoef and Piessens, Key Reinstallation Attacks, CCS 2017)";
    pub const REINSTALL_GROUP: &str = "CVE-2017-13080 (KRACK: group key reinstallation; Vanhoef and Piessens, Key Reinstallation Attacks, CCS 2017)";
    pub const NONCE_REUSE: &str =
        "Vanhoef and Piessens, Key Reinstallation Attacks, CCS 2017 (nonce reuse)";
    pub const PLAINTEXT_EAPOL: &str = "Vanhoef and Piessens, Key Reinstallation Attacks, CCS 2017 §3.4 (plaintext retransmission of message 3)";
    pub const PLAINTEXT_DATA: &str = "CVE-2020-26140, CVE-2020-26143 (FragAttacks: plaintext frames accepted in a protected network; Vanhoef, Fragment and Forge, USENIX Security 2021)";
    pub const DEAUTH_FLOOD: &str = "Kismet DEAUTHFLOOD";
    pub const BIP: &str = "IEEE 802.11-2020 12.5.4 (BIP); forged group management frame";
}

/// Warnings queued at most until taken.
pub const MAX_QUEUED_WARNINGS: usize = 1_024;
/// A kind repeats for one link at most once per this many seconds of capture time.
pub const WARNING_REPEAT_SECS: i64 = 60;
/// Links remembered by the rate limiter (cleared when full).
pub const MAX_RATE_ENTRIES: usize = 16_384;
/// Links whose key-in-use state is kept.
pub const MAX_LINKS: usize = 16_384;
/// Links whose deauthentication counters are kept (cleared when full).
pub const MAX_FLOOD_LINKS: usize = 4_096;
/// Unprotected deauthentication/disassociation frames for one link …
pub const DEAUTH_FLOOD_FRAMES: u32 = 10;
/// … within this many seconds of capture time make a flood.
pub const DEAUTH_FLOOD_SECS: i64 = 10;

/// The warning queue with its rate limiter and totals.
#[derive(Default)]
pub struct Warnings {
    queue: Vec<SecurityWarning>,
    last: crate::FastMap<(&'static str, MacAddr, MacAddr), i64>,
    /// Every warning raised, per kind, repeats included.
    pub totals: BTreeMap<&'static str, u64>,
    /// Repeats not queued (rate limit).
    pub suppressed: u64,
    /// Warnings not queued because the queue was full.
    pub dropped: u64,
}

impl Warnings {
    /// Queues `w` unless the same kind was queued for the same link less than
    /// [`WARNING_REPEAT_SECS`] ago.
    pub fn raise(&mut self, ts: Ts, w: SecurityWarning) {
        *self.totals.entry(w.kind).or_default() += 1;
        let key = (w.kind, w.bssid, w.sta);
        if let Some(&t) = self.last.get(&key)
            && ts.sec.saturating_sub(t) < WARNING_REPEAT_SECS
            && ts.sec >= t
        {
            self.suppressed += 1;
            return;
        }
        if self.last.len() >= MAX_RATE_ENTRIES && !self.last.contains_key(&key) {
            self.last.clear();
        }
        self.last.insert(key, ts.sec);
        if self.queue.len() >= MAX_QUEUED_WARNINGS {
            self.dropped += 1;
            return;
        }
        self.queue.push(w);
    }

    /// The warnings queued and not yet taken, oldest first.
    pub fn pending(&self) -> &[SecurityWarning] {
        &self.queue
    }

    /// Takes the queued warnings, oldest first.
    pub fn take(&mut self) -> std::vec::Drain<'_, SecurityWarning> {
        self.queue.drain(..)
    }
}

/// What the engine remembers of one (BSSID, STA) link for the checks.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LinkState {
    /// First frame decrypted under the link's pairwise key since the last
    /// (re)association: the key is in use from then on.
    pub key_in_use: Option<u64>,
    /// Serial of the key that last decrypted a frame of the link.
    pub serial_in_use: Option<u64>,
    /// A key of the link installed again by an M3 (pairwise) or group
    /// message re-sent after the link's key was in use: (key serial, frame),
    /// for the KRACK check.
    pub reinstall_at: Option<(u64, u64)>,
}

/// The per-link state of the checks, bounded.
#[derive(Default)]
pub(crate) struct Links {
    map: crate::FastMap<(MacAddr, MacAddr), LinkState>,
    flood: crate::FastMap<(MacAddr, MacAddr), (i64, u32, u64)>,
    /// Links not tracked because [`MAX_LINKS`] was reached.
    pub untracked: u64,
}

impl Links {
    pub fn get(&self, bssid: MacAddr, sta: MacAddr) -> LinkState {
        self.map.get(&(bssid, sta)).copied().unwrap_or_default()
    }

    pub fn get_mut(&mut self, bssid: MacAddr, sta: MacAddr) -> Option<&mut LinkState> {
        // One lookup per call (this runs for every decrypted frame).
        let full = self.map.len() >= MAX_LINKS;
        match self.map.entry((bssid, sta)) {
            Entry::Occupied(o) => Some(o.into_mut()),
            Entry::Vacant(_) if full => {
                self.untracked += 1;
                None
            }
            Entry::Vacant(v) => Some(v.insert(LinkState::default())),
        }
    }

    /// A (re)association, authentication or disconnection: the link starts over.
    pub fn reset(&mut self, bssid: MacAddr, sta: MacAddr) {
        self.map.remove(&(bssid, sta));
    }

    /// Counts one unprotected deauthentication/disassociation for the link;
    /// returns the frame that started the burst when it reaches a flood.
    pub fn deauth(&mut self, bssid: MacAddr, sta: MacAddr, ts: Ts, frame: u64) -> Option<u64> {
        let key = (bssid, sta);
        if self.flood.len() >= MAX_FLOOD_LINKS && !self.flood.contains_key(&key) {
            self.flood.clear();
        }
        let e = self.flood.entry(key).or_insert((ts.sec, 0, frame));
        if ts.sec.saturating_sub(e.0) >= DEAUTH_FLOOD_SECS || ts.sec < e.0 {
            *e = (ts.sec, 0, frame);
        }
        e.1 = e.1.saturating_add(1);
        (e.1 == DEAUTH_FLOOD_FRAMES).then_some(e.2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(kind: &'static str, sta: u8) -> SecurityWarning {
        SecurityWarning {
            kind,
            bssid: MacAddr([1; 6]),
            sta: MacAddr([sta; 6]),
            frame: 1,
            message: String::new(),
            reference: None,
        }
    }

    #[test]
    fn rate_limited_per_kind_and_link_and_bounded() {
        let mut q = Warnings::default();
        let t = |s| Ts::from_micros(s, 0);
        q.raise(t(100), w(kind::NONCE_REUSE, 2));
        q.raise(t(110), w(kind::NONCE_REUSE, 2));
        q.raise(t(110), w(kind::NONCE_REUSE, 3));
        q.raise(t(110), w(kind::PLAINTEXT_DATA, 2));
        q.raise(t(100 + WARNING_REPEAT_SECS), w(kind::NONCE_REUSE, 2));
        assert_eq!(q.pending().len(), 4);
        assert_eq!(q.suppressed, 1);
        assert_eq!(q.totals[kind::NONCE_REUSE], 4);
        assert_eq!(q.take().count(), 4);
        assert!(q.pending().is_empty());
        for i in 0..(MAX_QUEUED_WARNINGS + 5) {
            let mut x = w(kind::DEAUTH_FLOOD, 0);
            x.sta = MacAddr([0, 0, 0, 0, (i >> 8) as u8, i as u8]);
            q.raise(t(1000), x);
        }
        assert_eq!(q.pending().len(), MAX_QUEUED_WARNINGS);
        assert_eq!(q.dropped, 5);
    }

    #[test]
    fn deauth_flood_threshold_and_window() {
        let mut l = Links::default();
        let (b, s) = (MacAddr([1; 6]), MacAddr([2; 6]));
        let t = |s| Ts::from_micros(s, 0);
        for i in 0..DEAUTH_FLOOD_FRAMES - 1 {
            assert_eq!(l.deauth(b, s, t(5), u64::from(i) + 10), None);
        }
        assert_eq!(l.deauth(b, s, t(6), 99), Some(10));
        assert_eq!(l.deauth(b, s, t(7), 100), None, "raised once per burst");
        // Spread out: never a flood.
        let s2 = MacAddr([3; 6]);
        for i in 0..100 {
            assert_eq!(l.deauth(b, s2, t(i * DEAUTH_FLOOD_SECS), 1), None);
        }
    }
}
