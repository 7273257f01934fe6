//! Frame accounting: why a frame was dropped, the run's counters, and the
//! per-station and per-BSS statistics the summaries print.
//!
//! **Invariant**: every frame read is counted exactly once, as decrypted,
//! plaintext or under one [`DropReason`] ([`Counters::balanced`]).

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
    /// Fragment out of sequence: a fragment with no first fragment before it
    /// (lone), one that skips a fragment number, or a chain grown past
    /// `MAX_MSDU_LEN` (IEEE 802.11-2020 10.6).
    Fragment,
    /// A frame of a link type that is not 802.11, in a capture that mixes
    /// link types (pcapng interfaces); `decrypt` only reads 802.11.
    NotDot11,
    /// A fragment protected under another key instance than the earlier
    /// fragments of its MSDU (FragAttacks mixed-key attack, CVE-2020-24587).
    FragmentMixedKey,
    /// A fragment whose packet number does not follow the previous fragment's
    /// by exactly one (IEEE 802.11-2020 12.5.3.3.2; CVE-2020-26146).
    FragmentPnGap,
    /// A plaintext fragment of an MSDU whose other fragments are protected, or
    /// the other way round (CVE-2020-26147).
    FragmentMixedPlaintext,
    /// An A-MSDU whose first subframe's destination address is an LLC/SNAP
    /// header `aa:aa:03:00:00:00`: a normal frame with a forged A-MSDU flag
    /// (FragAttacks A-MSDU injection, CVE-2020-24588).
    AmsduInjection,
    /// A group-addressed robust management frame whose BIP MIC (MME) failed
    /// under the known IGTK (IEEE 802.11-2020 12.5.4.5).
    BipMicFailure,
}

impl DropReason {
    pub const ALL: [DropReason; 17] = [
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
        DropReason::NotDot11,
        DropReason::FragmentMixedKey,
        DropReason::FragmentPnGap,
        DropReason::FragmentMixedPlaintext,
        DropReason::AmsduInjection,
        DropReason::BipMicFailure,
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
            DropReason::NotDot11 => "not_80211",
            DropReason::FragmentMixedKey => "fragment_mixed_key",
            DropReason::FragmentPnGap => "fragment_pn_gap",
            DropReason::FragmentMixedPlaintext => "fragment_mixed_plaintext",
            DropReason::AmsduInjection => "amsdu_injection",
            DropReason::BipMicFailure => "bip_mic_failure",
        }
    }
    pub(crate) fn index(self) -> usize {
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
    /// Group-addressed robust management frames whose BIP MIC verified under
    /// a known IGTK (counted in `plaintext`: BIP does not encrypt).
    pub bip_verified: u64,
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
