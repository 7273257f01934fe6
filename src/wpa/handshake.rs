//! Four-way and group-key handshake tracking per (BSSID, STA), and fast BSS
//! transition (IEEE 802.11-2020 12.7.6 4-way handshake, 12.7.7 group key
//! handshake, 12.7.1.7 FT key hierarchy, 13.8 FT protocol).
//!
//! Heads up: read 12.7.1.3 (PTK), 12.7.2 (EAPOL-Key frames, KDEs), Table
//! 9-151 and Table 12-11 (what each AKM changes) and 13.4–13.8 (FT) first;
//! [`super::akm`] holds the AKM table.
//!
//! The tracker is fed every EAPOL-Key frame in capture order, plaintext or found
//! inside decrypted data (rekeys), and the management frames that set a link up
//! ([`Tracker::on_mgmt`]: beacons' RSNE and MDE, (re)association and FT
//! authentication frames). A PTK is derived as soon as one message with the
//! ANonce and one with the SNonce are both known — M1+M2, or M2+M3 without M1
//! (the ANonce is repeated in M3) — and is installed only when the MIC of a
//! message carrying it verifies with the derived KCK. The AKM and pairwise
//! cipher come from the station's RSNE (message 2, else its (re)association
//! request), else from the key descriptor version; they choose the KDF, the
//! KCK/KEK/MIC lengths and the MIC algorithm. Under FT the PTK comes from
//! PMK-R1 (R0KH-ID and R1KH-ID from message 2's FTE or the association
//! response); an FT reassociation installs a PTK from the FT authentication
//! nonces without any four-way handshake, checked by the FTE MIC of the
//! reassociation request.
//!
//! Every candidate key is tried: passphrases (PMK by PBKDF2, for PSK AKMs),
//! PMKs of the AKM's length, MSKs (PMK = MSK[0..32], or the FT XXKey); a
//! PMKID in message 1 (or given with a PMK) orders the candidates so the
//! station's own PMK is tried first. None verifying is reported per key
//! source: a passphrase for a PSK station ("MIC mismatch", or "this station
//! used a different passphrase" when the passphrase was confirmed by another
//! station or by the AP's PMKID), the PMK to supply and where to find it for
//! SAE, OWE and 802.1X. M3+M4 alone cannot give a key (M4 carries no nonce).
//!
//! GTKs and IGTKs come from the key data of M3 and of group-key message 1
//! (RSN: KDEs, AES key wrap with the KEK; WPA1: the raw key, RC4 or AES
//! wrapped) and from the FTE of an FT reassociation response; the group
//! cipher from the AP's RSNE (message 3, beacons).
//!
//! Bounds: [`MAX_STATIONS`] tracked stations (oldest activity evicted, counted),
//! stored EAPOL frames up to [`MAX_EAPOL_LEN`] bytes, [`MAX_SSIDS`] learned
//! SSIDs and BSS security descriptions, [`MAX_CANDIDATES`] keys per handshake.

use std::collections::{BTreeMap, HashMap};

use super::akm::{self, AkmParams, KeySource};
use super::gtk::{self, Kde};
use super::kdf::{self, FtIds, KdfHash};
use super::keys::{Cipher, Passphrase, Pmk, PmkAny, Ptk, TemporalKey, VarKey};
use super::keystore::KeyStore;
use super::mic::{self, MicAlgo};
use crate::crypto::bip::BipAlgo;
use crate::wire::MacAddr;
use crate::wire::dot11::{Dot11, mgmt};
use crate::wire::eapol::{self, EapolKey, Message, info};
use crate::wire::rsn::{self, RsnInfo};

pub const MAX_STATIONS: usize = 16_384;
pub const MAX_EAPOL_LEN: usize = 2_048;
pub const MAX_SSIDS: usize = 4_096;
/// Candidate keys tried per handshake (networks × SSIDs), bounded so a config with
/// many entries cannot turn one hostile frame into unbounded PBKDF2 work.
pub const MAX_CANDIDATES: usize = 64;
/// Longest MSK accepted: EAP methods export at least 64 octets (RFC 3748
/// §7.10); Wireshark takes up to 128.
pub const MAX_MSK_LEN: usize = 128;

/// An EAP Master Session Key, 64 to [`MAX_MSK_LEN`] bytes.
pub type Msk = VarKey<MAX_MSK_LEN>;

/// A configured secret.
#[derive(Clone)]
pub enum Secret {
    /// A passphrase: PMK = PBKDF2(passphrase, SSID) (PSK AKMs; XXKey of FT-PSK).
    Passphrase(Passphrase),
    /// A 32-byte PMK (or PSK).
    Pmk(Pmk),
    /// A PMK of 32, 48 or 64 bytes, with the PMKID that names it when known
    /// (SAE and OWE PMKIDs come from their key exchange; `wpa_cli pmksa`
    /// lists both).
    NamedPmk {
        pmk: PmkAny,
        pmkid: Option<[u8; 16]>,
    },
    /// An EAP MSK (802.1X): PMK = MSK[0..32] (MSK[0..48] for AKM 12); the FT
    /// XXKey is MSK[32..64] (AKM 3) or MSK[0..48] (AKM 13).
    Msk(Msk),
    /// A raw temporal key (16 bytes: CCMP-128 or GCMP-128; 32: GCMP-256,
    /// CCMP-256 or TKIP), for the given BSSID and station or any; used by the
    /// engine when no derived key fits a frame.
    Tk {
        tk: VarKey<32>,
        bssid: Option<MacAddr>,
        sta: Option<MacAddr>,
    },
}

impl Secret {
    fn kind(&self) -> &'static str {
        match self {
            Secret::Passphrase(_) => "passphrase",
            Secret::Pmk(_) | Secret::NamedPmk { .. } => "pmk",
            Secret::Msk(_) => "msk",
            Secret::Tk { .. } => "tk",
        }
    }
}

/// One `[[network]]` (or `[[key]]`) entry. `ssid: None` means "any network": a
/// passphrase then needs the SSID learned from the air; a PMK is tried on every
/// handshake.
#[derive(Clone)]
pub struct NetworkSecret {
    pub ssid: Option<Vec<u8>>,
    pub secret: Secret,
}

impl std::fmt::Debug for NetworkSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "NetworkSecret {{ ssid: {:?}, {}: <redacted> }}",
            self.ssid.as_deref().map(String::from_utf8_lossy),
            self.secret.kind()
        )
    }
}

/// What confirmed a passphrase a station's handshake did not verify with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmation {
    /// Another station's handshake verified with it.
    Station(MacAddr),
    /// The AP's PMKID in message 1 matched it.
    Pmkid,
}

/// Where a station's key derivation stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyStatus {
    /// No EAPOL-Key frame seen yet.
    NoHandshake,
    /// Messages seen, but not yet both nonces.
    Incomplete,
    /// PTK derived and confirmed by a MIC.
    Confirmed,
    /// No candidate PMK produced a verifying MIC.
    MicMismatch,
    /// Only M3 and/or M4 seen: the SNonce (in M2) was never captured.
    NoSnonce,
    /// Passphrase given without SSID and none learned for this BSSID.
    SsidUnknown,
    /// Key descriptor version the crate cannot handle and no AKM to go by.
    Unsupported(u8),
    /// The AKM's PMK does not come from a passphrase, and no key of its kind
    /// was given: SAE, OWE, 802.1X.
    NeedsKey { akm: u32 },
    /// Keys of the AKM's kind were given (PMKs, MSKs), none verified.
    PmkMismatch { akm: u32, tried: usize },
    /// MIC mismatch, but the passphrase is right: this station used another one.
    DifferentPassphrase(Confirmation),
    /// An AKM whose keys this crate does not derive (FILS, TDLS, vendor).
    UnsupportedAkm(u32),
    /// Fast BSS transition, but the R0KH-ID, MDID or SSID the key hierarchy is
    /// bound to was not captured.
    FtContextMissing,
}

/// Where to find the key an AKM needs, for diagnoses.
fn key_advice(akm: u32) -> String {
    let n = akm::name(akm);
    let num = akm & 0xff;
    match akm::source(akm) {
        Some(KeySource::Sae) => format!(
            "SAE (WPA3-Personal, AKM {num} {n}): the PMK comes from the SAE exchange, not from the passphrase; \
             give that session's PMK as `pmk` in a [[network]] entry (hostapd -d and wpa_supplicant -dd log it \
             after \"SAE: PMK\"; `wpa_cli pmksa` lists each PMKID with its PMK)"
        ),
        Some(KeySource::Owe) => format!(
            "OWE (Enhanced Open, AKM {num}): the PMK comes from a Diffie-Hellman exchange; give it as `pmk` \
             (hostapd -d and wpa_supplicant -dd log \"OWE: PMK\"; `wpa_cli pmksa` lists it)"
        ),
        Some(KeySource::Eap) => format!(
            "802.1X (WPA-Enterprise, AKM {num} {n}): give the PMK as `pmk` or the EAP MSK as `msk`: the RADIUS \
             server sends the PMK as MS-MPPE-Recv-Key (FreeRADIUS -X prints it), hostapd -d logs \"WPA: PMK\", \
             wpa_supplicant -dd logs \"EAP: MSK\""
        ),
        Some(KeySource::Psk) | None => "give the network's passphrase".into(),
    }
}

impl KeyStatus {
    /// The sentence shown in summaries.
    pub fn describe(&self) -> String {
        match self {
            KeyStatus::NoHandshake => {
                "no handshake captured: reconnect the device while capturing".into()
            }
            KeyStatus::Incomplete => "handshake incomplete: need M1+M2 or M2+M3".into(),
            KeyStatus::Confirmed => "key confirmed".into(),
            KeyStatus::MicMismatch => "MIC mismatch: wrong passphrase or SSID".into(),
            KeyStatus::NoSnonce => {
                "only M3/M4 captured: the SNonce (M2) is missing, the key cannot be derived".into()
            }
            KeyStatus::SsidUnknown => {
                "SSID unknown for this BSSID (no beacon/probe response seen): give the SSID".into()
            }
            KeyStatus::Unsupported(v) => format!("unsupported key descriptor version {v}"),
            KeyStatus::NeedsKey { akm } => key_advice(*akm),
            KeyStatus::PmkMismatch { akm, tried } => format!(
                "MIC mismatch: none of the {tried} given key(s) verifies this handshake. {}{}",
                key_advice(*akm),
                if akm::source(*akm) == Some(KeySource::Sae) {
                    "; an SAE PMK is new at every authentication"
                } else {
                    ""
                }
            ),
            KeyStatus::DifferentPassphrase(Confirmation::Station(s)) => format!(
                "MIC mismatch: this station used a different passphrase (the configured one is confirmed by station {s})"
            ),
            KeyStatus::DifferentPassphrase(Confirmation::Pmkid) => {
                "MIC mismatch: this station used a different passphrase (the configured one matches the AP's PMKID in message 1)"
                    .into()
            }
            KeyStatus::UnsupportedAkm(a) => format!(
                "AKM {} ({}) is not supported: its keys cannot be derived",
                a & 0xff,
                akm::name(*a)
            ),
            KeyStatus::FtContextMissing => {
                "fast BSS transition: the R0KH-ID, mobility domain or SSID the keys are bound to was not captured \
                 (capture the (re)association response or message 2)"
                    .into()
            }
        }
    }

    fn is_failure(&self) -> bool {
        matches!(
            self,
            KeyStatus::MicMismatch
                | KeyStatus::NeedsKey { .. }
                | KeyStatus::PmkMismatch { .. }
                | KeyStatus::DifferentPassphrase(_)
                | KeyStatus::SsidUnknown
                | KeyStatus::UnsupportedAkm(_)
                | KeyStatus::FtContextMissing
                | KeyStatus::Unsupported(_)
        )
    }
}

#[derive(Clone)]
struct Stored {
    frame: Vec<u8>,
    nonce: [u8; 32],
    replay: u64,
}

/// The confirmed PTK and how it was derived (for later messages of the
/// same handshake and group-key messages).
#[derive(Clone)]
struct Confirmed {
    ptk: Ptk,
    anonce: [u8; 32],
    snonce: [u8; 32],
    /// EAPOL-Key MIC algorithm (its length is the MIC field's).
    algo: MicAlgo,
    /// Message 3 of this handshake was already taken: a later one with the
    /// same nonces is a retransmission, and installs the key again.
    m3_done: bool,
}

/// What fast BSS transition binds a station's keys to.
#[derive(Clone, Default)]
struct FtInfo {
    mdid: Option<[u8; 2]>,
    r0kh_id: Option<Vec<u8>>,
    r1kh_id: Option<[u8; 6]>,
    /// Nonces of the FT authentication exchange (over the air).
    anonce: Option<[u8; 32]>,
    snonce: Option<[u8; 32]>,
}

/// Per (BSSID, STA) handshake state.
pub struct StationHs {
    m1: Option<Stored>,
    m2: Option<Stored>,
    m3: Option<Stored>,
    confirmed: Option<Confirmed>,
    ft: FtInfo,
    pub status: KeyStatus,
    /// Messages seen, indexed M1..M4, G1, G2.
    pub seen: [u32; 6],
    pub keys_installed: u32,
    /// Handshakes (or FT reassociations) that failed, whatever came later.
    pub handshakes_failed: u32,
    /// The last failure, kept when a later handshake confirmed a key.
    pub last_failure: Option<KeyStatus>,
    /// SNonce of the last failed handshake (retransmitted messages of one
    /// handshake count once).
    failed_snonce: Option<[u8; 32]>,
    /// Descriptor version of the last handshake (1 TKIP/MD5, 2 CCMP/SHA1, 3 AES-CMAC, 0 AKM-defined).
    pub version: u8,
    /// The AKM the station negotiated (its RSNE in message 2 or its
    /// (re)association request), when seen.
    pub akm: Option<u32>,
    /// The pairwise cipher the station negotiated, when seen.
    pub pairwise: Option<Cipher>,
    /// PMKID the AP named the PMK with in message 1.
    pub pmkid: Option<[u8; 16]>,
    /// How the last key was installed: `"M1+M2"`, `"M2+M3"`, `"FT"`.
    pub via: Option<&'static str>,
    last_activity: u64,
}

impl StationHs {
    fn new() -> Self {
        StationHs {
            m1: None,
            m2: None,
            m3: None,
            confirmed: None,
            ft: FtInfo::default(),
            status: KeyStatus::NoHandshake,
            seen: [0; 6],
            keys_installed: 0,
            handshakes_failed: 0,
            last_failure: None,
            failed_snonce: None,
            version: 0,
            akm: None,
            pairwise: None,
            pmkid: None,
            via: None,
            last_activity: 0,
        }
    }

    /// The key source of the station's AKM, when known.
    pub fn key_source(&self) -> Option<KeySource> {
        self.akm.and_then(akm::source)
    }

    /// Records a failure of the handshake with `snonce` (counted once per
    /// handshake).
    fn fail(&mut self, s: KeyStatus, snonce: Option<[u8; 32]>) -> HsEvent {
        if s.is_failure() && (snonce.is_none() || snonce != self.failed_snonce) {
            self.handshakes_failed = self.handshakes_failed.saturating_add(1);
            self.failed_snonce = snonce;
        }
        if s.is_failure() {
            self.last_failure = Some(s.clone());
        }
        self.status = s.clone();
        HsEvent::Failed(s)
    }
}

/// What the tracker did with one EAPOL-Key (or FT management) frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HsEvent {
    /// A message was recorded; nothing derived yet.
    Seen(Message),
    /// A pairwise key was confirmed and installed.
    PairwiseInstalled { via: &'static str },
    /// A group key was installed.
    GroupInstalled { key_id: u8 },
    /// The station's status changed to a failure.
    Failed(KeyStatus),
    /// Not a frame the tracker uses (bad length, unknown descriptor, …).
    Ignored(&'static str),
}

/// What a BSS announces in its beacons and probe responses.
#[derive(Clone, Default)]
struct BssRsn {
    group_cipher: Option<u32>,
    mgmt_cipher: Option<u32>,
    akms: Vec<u32>,
    pairwise: Vec<u32>,
    mdid: Option<[u8; 2]>,
}

/// One key to try on a handshake.
struct Candidate {
    key: PmkAny,
    /// Index of the configured entry it came from.
    net: usize,
    passphrase: bool,
    /// The PMKID configured with it.
    pmkid: Option<[u8; 16]>,
}

/// How a handshake's keys are derived.
#[derive(Clone, Copy)]
struct Scheme {
    hash: KdfHash,
    mic: MicAlgo,
    kck_len: usize,
    kek_len: usize,
    ft: bool,
    cipher: Cipher,
}

/// How a run's handshakes went ([`Tracker::verdict`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Stations with a key confirmed by a MIC.
    pub confirmed_stations: usize,
    /// Stations whose handshakes all failed their MIC with every key given.
    pub stations_failed: usize,
    /// Their handshakes no configured passphrase verified (once per handshake).
    pub passphrase_failed: u32,
    /// Their handshakes no configured PMK or MSK verified.
    pub pmk_failed: u32,
}

impl Verdict {
    /// Handshakes were seen and checked, and none confirmed a key.
    pub fn every_mic_failed(&self) -> bool {
        self.confirmed_stations == 0 && self.passphrase_failed.saturating_add(self.pmk_failed) > 0
    }
}

/// Handshake tracker for every station, plus the SSIDs learned from the air.
pub struct Tracker {
    networks: Vec<NetworkSecret>,
    pmk_cache: HashMap<(usize, Vec<u8>), Pmk>,
    ssids: HashMap<MacAddr, Vec<u8>>,
    bss: HashMap<MacAddr, BssRsn>,
    stations: HashMap<(MacAddr, MacAddr), StationHs>,
    /// `stations` by `last_activity` (unique: the clock ticks per frame), so
    /// the eviction under a flood of fake stations is `O(log n)`, not a scan.
    by_activity: BTreeMap<u64, (MacAddr, MacAddr)>,
    /// Configured passphrases a MIC confirmed: entry index → the first
    /// (BSSID, STA) it confirmed.
    confirmed_nets: HashMap<usize, (MacAddr, MacAddr)>,
    clock: u64,
    pub evicted_stations: u64,
    /// Bumped whenever an SSID is learned or changes (readers that derive
    /// something from the SSIDs recompute only then).
    ssid_epoch: u64,
}

impl Tracker {
    pub fn new(networks: Vec<NetworkSecret>) -> Self {
        Tracker {
            networks,
            pmk_cache: HashMap::new(),
            ssids: HashMap::new(),
            bss: HashMap::new(),
            stations: HashMap::new(),
            by_activity: BTreeMap::new(),
            confirmed_nets: HashMap::new(),
            clock: 0,
            evicted_stations: 0,
            ssid_epoch: 0,
        }
    }

    /// The configured raw temporal keys (`[[key]]` entries).
    pub fn raw_tks(&self) -> impl Iterator<Item = (&VarKey<32>, Option<MacAddr>, Option<MacAddr>)> {
        self.networks.iter().filter_map(|n| match &n.secret {
            Secret::Tk { tk, bssid, sta } => Some((tk, *bssid, *sta)),
            _ => None,
        })
    }

    /// Records the SSID a BSSID announces (beacon, probe response, association request).
    pub fn learn_ssid(&mut self, bssid: MacAddr, ssid: &[u8]) {
        if ssid.is_empty() || ssid.len() > 32 || ssid.iter().all(|&b| b == 0) {
            return; // hidden-SSID beacons carry an empty or zeroed SSID
        }
        if self.ssids.get(&bssid).is_some_and(|s| s == ssid) {
            return;
        }
        if self.ssids.len() >= MAX_SSIDS && !self.ssids.contains_key(&bssid) {
            return;
        }
        self.ssids.insert(bssid, ssid.to_vec());
        self.ssid_epoch += 1;
    }

    /// Changes whenever [`Tracker::learn_ssid`] learns something new.
    pub fn ssid_epoch(&self) -> u64 {
        self.ssid_epoch
    }

    /// The BSSIDs announcing `ssid` (`O(MAX_SSIDS)`).
    pub fn bssids_of<'a>(&'a self, ssid: &'a [u8]) -> impl Iterator<Item = MacAddr> + 'a {
        self.ssids
            .iter()
            .filter(move |(_, s)| s.as_slice() == ssid)
            .map(|(b, _)| *b)
    }

    /// Records the security a BSS announces (RSNE of a beacon or probe
    /// response, and its Mobility Domain).
    pub fn learn_rsn(&mut self, bssid: MacAddr, rsn: &RsnInfo, mdid: Option<[u8; 2]>) {
        if self.bss.len() >= MAX_SSIDS && !self.bss.contains_key(&bssid) {
            return;
        }
        let b = self.bss.entry(bssid).or_default();
        b.group_cipher = Some(rsn.group_cipher);
        b.mgmt_cipher = rsn.group_mgmt_cipher;
        b.akms = rsn.akms.as_slice().to_vec();
        b.pairwise = rsn.pairwise.as_slice().to_vec();
        if mdid.is_some() {
            b.mdid = mdid;
        }
    }

    pub fn ssid(&self, bssid: &MacAddr) -> Option<&[u8]> {
        self.ssids.get(bssid).map(Vec::as_slice)
    }

    pub fn stations(&self) -> impl Iterator<Item = (&(MacAddr, MacAddr), &StationHs)> {
        self.stations.iter()
    }

    pub fn station(&self, bssid: MacAddr, sta: MacAddr) -> Option<&StationHs> {
        self.stations.get(&(bssid, sta))
    }

    /// How the run's handshakes went, over every station: what the exit
    /// code of `decrypt` and `watch -r` is decided by.
    pub fn verdict(&self) -> Verdict {
        let mut v = Verdict::default();
        for ((b, s), st) in &self.stations {
            if st.keys_installed > 0 || st.status == KeyStatus::Confirmed {
                v.confirmed_stations += 1;
                continue;
            }
            let failed = st.handshakes_failed;
            match st.last_failure.as_ref().unwrap_or(&st.status) {
                KeyStatus::MicMismatch if self.passphrase_confirmed_elsewhere(*b, *s).is_none() => {
                    v.passphrase_failed = v.passphrase_failed.saturating_add(failed.max(1));
                }
                KeyStatus::PmkMismatch { .. } => {
                    v.pmk_failed = v.pmk_failed.saturating_add(failed.max(1));
                }
                _ => continue,
            }
            v.stations_failed += 1;
        }
        v
    }

    /// The diagnosis of a station in words: its status, what to supply for
    /// SAE, OWE and 802.1X, "a different passphrase" when another station or
    /// the AP's PMKID confirmed the configured one, and both when some
    /// handshakes installed keys and others failed.
    pub fn describe_station(&self, bssid: MacAddr, sta: MacAddr) -> String {
        let Some(st) = self.stations.get(&(bssid, sta)) else {
            return KeyStatus::NoHandshake.describe();
        };
        let mut status = st.status.clone();
        if status == KeyStatus::MicMismatch
            && let Some(c) = self.passphrase_confirmed_elsewhere(bssid, sta)
        {
            status = KeyStatus::DifferentPassphrase(c);
        }
        let mut s = status.describe();
        if st.keys_installed > 0 && st.handshakes_failed > 0 {
            let failure = match &st.last_failure {
                Some(KeyStatus::MicMismatch) => self
                    .passphrase_confirmed_elsewhere(bssid, sta)
                    .map_or(KeyStatus::MicMismatch, KeyStatus::DifferentPassphrase),
                Some(f) => f.clone(),
                None => KeyStatus::MicMismatch,
            };
            if status == KeyStatus::Confirmed {
                s = format!(
                    "key confirmed in {} handshake(s); {} other handshake(s) failed ({})",
                    st.keys_installed,
                    st.handshakes_failed,
                    failure.describe()
                );
            } else {
                s = format!(
                    "{} handshake(s) installed a key, {} failed; the last: {}",
                    st.keys_installed,
                    st.handshakes_failed,
                    status.describe()
                );
            }
        }
        s
    }

    /// A configured passphrase for this BSS's SSID that a MIC confirmed for
    /// another station, or that the AP's PMKID in message 1 matched.
    pub fn passphrase_confirmed_elsewhere(
        &self,
        bssid: MacAddr,
        sta: MacAddr,
    ) -> Option<Confirmation> {
        let ssid = self.ssids.get(&bssid);
        for (net, (b, s)) in &self.confirmed_nets {
            let Some(n) = self.networks.get(*net) else {
                continue;
            };
            if !matches!(n.secret, Secret::Passphrase(_)) || *s == sta {
                continue;
            }
            let same = *b == bssid || (ssid.is_some() && self.ssids.get(b) == ssid);
            if same {
                return Some(Confirmation::Station(*s));
            }
        }
        let st = self.stations.get(&(bssid, sta))?;
        let pmkid = st.pmkid?;
        let ssid = ssid?;
        for (i, n) in self.networks.iter().enumerate() {
            if !matches!(n.secret, Secret::Passphrase(_)) {
                continue;
            }
            let Some(pmk) = self.pmk_cache.get(&(i, ssid.clone())) else {
                continue;
            };
            for hash in [KdfHash::Sha1, KdfHash::Sha256] {
                if kdf::pmkid(hash, pmk.as_bytes(), &bssid, &sta) == pmkid {
                    return Some(Confirmation::Pmkid);
                }
            }
        }
        None
    }

    /// The station entry, created (evicting the least recently active one
    /// past [`MAX_STATIONS`]) and marked active.
    fn touch(&mut self, aa: MacAddr, spa: MacAddr) -> &mut StationHs {
        self.clock += 1;
        let clock = self.clock;
        if !self.stations.contains_key(&(aa, spa))
            && self.stations.len() >= MAX_STATIONS
            && let Some((_, old)) = self.by_activity.pop_first()
        {
            self.stations.remove(&old);
            self.evicted_stations += 1;
        }
        let st = self
            .stations
            .entry((aa, spa))
            .or_insert_with(StationHs::new);
        self.by_activity.remove(&st.last_activity);
        self.by_activity.insert(clock, (aa, spa));
        st.last_activity = clock;
        st
    }

    /// Candidate keys for a BSSID and AKM (`None`: legacy PSK by version),
    /// computing (and caching) passphrase PMKs. Also returns whether a
    /// passphrase lacked its SSID, and how many configured keys did not fit
    /// the AKM (a passphrase for SAE, a 32-byte PMK for Suite B 192…).
    fn candidates(&mut self, bssid: &MacAddr, akm: Option<u32>) -> (Vec<Candidate>, bool) {
        let learned = self.ssids.get(bssid).cloned();
        let mut out = Vec::new();
        let mut ssid_missing = false;
        let single = self.networks.len() == 1;
        let source = akm.and_then(akm::source).unwrap_or(KeySource::Psk);
        let fits = |len: usize| match akm {
            Some(a) => akm::pmk_lens(a).contains(&len),
            None => len == 32,
        };
        for i in 0..self.networks.len() {
            if out.len() >= MAX_CANDIDATES {
                break;
            }
            let n = &self.networks[i];
            // A network entry applies when its SSID matches the learned one, when
            // nothing was learned, or when it has no SSID.
            let ssid = match (&n.ssid, &learned) {
                (Some(s), Some(l)) if s != l && !single => continue,
                (Some(s), _) => Some(s.clone()),
                (None, l) => l.clone(),
            };
            let mut push = |key: &[u8], passphrase: bool, pmkid: Option<[u8; 16]>| {
                if fits(key.len())
                    && let Some(key) = PmkAny::from_slice(key)
                {
                    out.push(Candidate {
                        key,
                        net: i,
                        passphrase,
                        pmkid,
                    });
                }
            };
            match &n.secret {
                Secret::Pmk(p) => push(p.as_bytes(), false, None),
                Secret::NamedPmk { pmk, pmkid } => push(pmk, false, *pmkid),
                Secret::Msk(m) => {
                    // PMK = MSK[0..32] (48 for Suite B 192); FT-802.1X XXKey =
                    // MSK[32..64] (AKM 3) or MSK[0..48] (AKM 13).
                    let range = match akm {
                        Some(0x000F_AC03) => 32..64,
                        Some(0x000F_AC0C | 0x000F_AC0D) => 0..48,
                        _ => 0..32,
                    };
                    if let Some(k) = m.get(range) {
                        push(k, false, None);
                    }
                }
                Secret::Passphrase(pass) => {
                    if source != KeySource::Psk {
                        continue;
                    }
                    let Some(ssid) = ssid else {
                        ssid_missing = true;
                        continue;
                    };
                    let pmk = self
                        .pmk_cache
                        .entry((i, ssid.clone()))
                        .or_insert_with(|| kdf::pmk_from_passphrase(pass, &ssid))
                        .clone();
                    push(pmk.as_bytes(), true, None);
                }
                Secret::Tk { .. } => {}
            }
        }
        (out, ssid_missing)
    }

    /// The AKM and pairwise cipher of a station: its RSNE in `m2_kd` (message
    /// 2's key data), else what its (re)association request said, else the
    /// BSS's only AKM.
    fn station_suites(
        &self,
        aa: &MacAddr,
        spa: &MacAddr,
        m2_kd: Option<&[u8]>,
    ) -> (Option<u32>, Option<Cipher>) {
        if let Some(kd) = m2_kd {
            for (id, body) in rsn::elements(kd) {
                let r = if id == rsn::ID_RSN {
                    rsn::RsnInfo::parse(body)
                } else if id == rsn::ID_VENDOR && body.starts_with(&rsn::WPA_VENDOR_PREFIX) {
                    rsn::RsnInfo::parse_wpa_vendor(body)
                } else {
                    continue;
                };
                if let Ok(r) = r {
                    return (
                        r.akms.first(),
                        r.pairwise.first().and_then(Cipher::from_suite),
                    );
                }
            }
        }
        let st = self.stations.get(&(*aa, *spa));
        let b = self.bss.get(aa);
        let akm = st
            .and_then(|s| s.akm)
            .or_else(|| b.and_then(|b| (b.akms.len() == 1).then(|| b.akms[0])));
        let cipher = st.and_then(|s| s.pairwise).or_else(|| {
            b.and_then(|b| (b.pairwise.len() == 1).then(|| b.pairwise[0]))
                .and_then(Cipher::from_suite)
        });
        (akm, cipher)
    }

    /// How keys are derived for a handshake with key descriptor `version`.
    fn scheme(
        akm: Option<u32>,
        cipher: Option<Cipher>,
        version: u8,
        pmk_len: usize,
    ) -> Result<Scheme, KeyStatus> {
        let legacy = |v: u8| match v {
            1 => Ok(Scheme {
                hash: KdfHash::Sha1,
                mic: MicAlgo::HmacMd5,
                kck_len: 16,
                kek_len: 16,
                ft: false,
                cipher: Cipher::Tkip,
            }),
            2 => Ok(Scheme {
                hash: KdfHash::Sha1,
                mic: MicAlgo::HmacSha1_128,
                kck_len: 16,
                kek_len: 16,
                ft: false,
                cipher: Cipher::Ccmp,
            }),
            3 => Ok(Scheme {
                hash: KdfHash::Sha256,
                mic: MicAlgo::AesCmac,
                kck_len: 16,
                kek_len: 16,
                ft: false,
                cipher: Cipher::Ccmp,
            }),
            v => Err(KeyStatus::Unsupported(v)),
        };
        let Some(a) = akm else {
            let mut s = legacy(version)?;
            if let Some(c) = cipher {
                s.cipher = c;
            }
            return Ok(s);
        };
        let Some(p): Option<AkmParams> = akm::params(a, pmk_len) else {
            if akm::pmk_lens(a).is_empty() || akm::source(a).is_none() {
                return Err(KeyStatus::UnsupportedAkm(a));
            }
            return Err(KeyStatus::NeedsKey { akm: a });
        };
        let mic = match version {
            1..=3 => MicAlgo::from_key_descriptor_version(version).unwrap_or(p.mic),
            _ => p.mic,
        };
        let cipher = cipher.unwrap_or(if version == 1 {
            Cipher::Tkip
        } else {
            Cipher::Ccmp
        });
        Ok(Scheme {
            hash: p.hash,
            mic,
            kck_len: p.kck_len,
            kek_len: p.kek_len,
            ft: p.ft,
            cipher,
        })
    }

    /// Feeds one EAPOL frame (802.1X header onward) sent by `ta` to `ra`.
    pub fn on_eapol(
        &mut self,
        keys: &mut KeyStore,
        ta: MacAddr,
        ra: MacAddr,
        frame: &[u8],
    ) -> HsEvent {
        // Key Information sits before the MIC: the direction, and so the
        // station (and its AKM's MIC length), is known before parsing.
        let (Some(&ptype), Some(ki)) = (frame.get(1), frame.get(5..7)) else {
            return HsEvent::Ignored("malformed EAPOL-Key frame");
        };
        if ptype != 3 {
            return HsEvent::Ignored("not an EAPOL-Key frame");
        }
        let from_ap = u16::from_be_bytes([ki[0], ki[1]]) & info::ACK != 0;
        let (aa, spa) = if from_ap { (ta, ra) } else { (ra, ta) };
        let hint = self
            .stations
            .get(&(aa, spa))
            .and_then(|s| s.akm)
            .or_else(|| {
                self.bss
                    .get(&aa)
                    .and_then(|b| (b.akms.len() == 1).then(|| b.akms[0]))
            })
            .and_then(|a| akm::params(a, akm::pmk_lens(a)[0]))
            .map(|p| p.mic_len());
        let k = match EapolKey::detect(frame, hint) {
            Ok(Some(k)) => k,
            Ok(None) => return HsEvent::Ignored("not an EAPOL-Key frame"),
            Err(_) => return HsEvent::Ignored("malformed EAPOL-Key frame"),
        };
        if !matches!(k.descriptor_type(), 2 | 254) {
            return HsEvent::Ignored("unknown key descriptor type");
        }
        if k.frame().len() > MAX_EAPOL_LEN {
            return HsEvent::Ignored("EAPOL-Key frame too long");
        }
        let msg = k.message();
        let st = self.touch(aa, spa);
        let idx = match msg {
            Message::M1 => 0,
            Message::M2 => 1,
            Message::M3 => 2,
            Message::M4 => 3,
            Message::G1 => 4,
            Message::G2 => 5,
        };
        st.seen[idx] = st.seen[idx].saturating_add(1);
        if st.status == KeyStatus::NoHandshake {
            st.status = KeyStatus::Incomplete;
        }
        let version = k.version();
        if msg != Message::G1 && msg != Message::G2 {
            st.version = version;
        }
        let stored = Stored {
            frame: k.frame().to_vec(),
            nonce: *k.nonce(),
            replay: k.replay_counter(),
        };
        match msg {
            Message::M1 => {
                // The PMKID KDE names the PMK (plaintext key data in M1).
                if let Some(id) = gtk::kdes(k.key_data()).find_map(|kde| match kde {
                    Kde::Pmkid(id) => Some(id),
                    _ => None,
                }) {
                    st.pmkid = Some(id);
                }
                st.m1 = Some(stored);
                HsEvent::Seen(msg)
            }
            Message::M2 => {
                let kd = k.key_data().to_vec();
                self.note_station_elements(aa, spa, &kd);
                let st = self.touch(aa, spa);
                st.m2 = Some(stored.clone());
                // The ANonce: from the M1 this M2 answers (same replay counter),
                // else any M1, else the M3 already seen (M3 repeats the ANonce).
                let mut anonces: Vec<[u8; 32]> = Vec::with_capacity(2);
                let m1 = st.m1.as_ref().map(|m| (m.replay == stored.replay, m.nonce));
                let m3 = st.m3.as_ref().map(|m| m.nonce);
                if let Some((true, n)) = m1 {
                    anonces.push(n);
                }
                anonces.extend(m3);
                if let Some((false, n)) = m1 {
                    anonces.push(n);
                }
                anonces.dedup();
                if anonces.is_empty() {
                    return HsEvent::Seen(msg);
                }
                let mut ev = HsEvent::Seen(msg);
                for an in anonces {
                    ev = self.derive(keys, aa, spa, an, stored.nonce, &stored.frame, &kd, "M1+M2");
                    if matches!(ev, HsEvent::PairwiseInstalled { .. }) {
                        break;
                    }
                }
                if let HsEvent::Failed(s) = &ev {
                    let s = s.clone();
                    let st = self.touch(aa, spa);
                    return st.fail(s, Some(stored.nonce));
                }
                ev
            }
            Message::M3 => {
                st.m3 = Some(stored.clone());
                let Some(m2) = st.m2.clone() else {
                    if st.confirmed.is_none() {
                        return st.fail(KeyStatus::NoSnonce, None);
                    }
                    return HsEvent::Seen(msg);
                };
                // Same nonces as the confirmed PTK: check M3 and take its GTK.
                if let Some(c) = &st.confirmed
                    && c.anonce == stored.nonce
                    && c.snonce == m2.nonce
                {
                    let c = c.clone();
                    return self.take_m3_gtk(keys, aa, spa, &c, &stored.frame, true);
                }
                let m2kd = EapolKey::detect(&m2.frame, Some(k.mic_len()))
                    .ok()
                    .flatten()
                    .map(|m| m.key_data().to_vec())
                    .unwrap_or_default();
                let ev = self.derive(
                    keys,
                    aa,
                    spa,
                    stored.nonce,
                    m2.nonce,
                    &stored.frame,
                    &m2kd,
                    "M2+M3",
                );
                if let HsEvent::Failed(s) = &ev {
                    let s = s.clone();
                    return self.touch(aa, spa).fail(s, Some(m2.nonce));
                }
                ev
            }
            Message::M4 => {
                if st.confirmed.is_none() && st.m2.is_none() {
                    return st.fail(KeyStatus::NoSnonce, None);
                }
                HsEvent::Seen(msg)
            }
            Message::G1 => self.on_group_m1(keys, aa, spa, &stored.frame),
            Message::G2 => HsEvent::Seen(msg),
        }
    }

    /// Learns the AKM, pairwise cipher and FT identities from a station's
    /// elements (message 2's key data, its (re)association request).
    fn note_station_elements(&mut self, aa: MacAddr, spa: MacAddr, ies: &[u8]) {
        let (akm, cipher) = self.station_suites(&aa, &spa, Some(ies));
        let st = self.touch(aa, spa);
        if let Some(a) = akm {
            st.akm = Some(a);
        }
        if let Some(c) = cipher {
            st.pairwise = Some(c);
        }
        Self::note_ft(st, ies);
    }

    /// MDE and FTE identities (R0KH-ID, R1KH-ID) from elements.
    fn note_ft(st: &mut StationHs, ies: &[u8]) {
        let mic_len = Self::ft_mic_len(st.akm);
        for (id, body) in rsn::elements(ies) {
            match id {
                rsn::ID_MDE => {
                    if let Some(m) = rsn::parse_mde(body) {
                        st.ft.mdid = Some(m);
                    }
                }
                rsn::ID_FTE => {
                    if let Some(f) = rsn::parse_fte(body, mic_len) {
                        if let Some(r0) = f.r0kh_id {
                            st.ft.r0kh_id = Some(r0.to_vec());
                        }
                        if let Some(r1) = f.r1kh_id {
                            st.ft.r1kh_id = Some(r1);
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// MIC length of an FTE (IEEE 802.11-2020 9.4.2.47): 24 for AKM 13.
    fn ft_mic_len(akm: Option<u32>) -> usize {
        if akm == Some(0x000F_AC0D) { 24 } else { 16 }
    }

    /// Derives and checks the PTK for the handshake whose message `mic_frame`
    /// carries a MIC (M2 or M3); `m2_kd` is message 2's key data (the
    /// station's RSNE, MDE, FTE).
    #[allow(clippy::too_many_arguments)]
    fn derive(
        &mut self,
        keys: &mut KeyStore,
        aa: MacAddr,
        spa: MacAddr,
        anonce: [u8; 32],
        snonce: [u8; 32],
        mic_frame: &[u8],
        m2_kd: &[u8],
        via: &'static str,
    ) -> HsEvent {
        let (akm, cipher) = self.station_suites(&aa, &spa, Some(m2_kd));
        let Some(version) = mic_frame.get(6).map(|b| b & 7) else {
            return HsEvent::Ignored("malformed EAPOL-Key frame");
        };
        // Legacy (no AKM known) needs a descriptor version that names the MIC.
        if akm.is_none() && !matches!(version, 1..=3) {
            return HsEvent::Failed(KeyStatus::Unsupported(version));
        }
        if let Some(a) = akm
            && akm::source(a).is_none()
        {
            return HsEvent::Failed(KeyStatus::UnsupportedAkm(a));
        }
        let (cands, ssid_missing) = self.candidates(&aa, akm);
        let (m1_pmkid, ft, r1name) = {
            let st = self.touch(aa, spa);
            let r1name = rsn::rsn_element(m2_kd)
                .and_then(|b| rsn::RsnInfo::parse(b).ok())
                .and_then(|r| r.pmkid);
            (st.pmkid, st.ft.clone(), r1name)
        };
        let ssid = self.ssids.get(&aa).cloned();
        // The station's own PMK first: the one the PMKID names.
        let mut order: Vec<(usize, bool)> = Vec::with_capacity(cands.len());
        for (i, c) in cands.iter().enumerate() {
            let named = m1_pmkid.is_some_and(|id| {
                c.pmkid == Some(id)
                    || pmkid_hash(akm).is_some_and(|h| kdf::pmkid(h, &c.key, &aa, &spa) == id)
            });
            order.push((i, named));
        }
        order.sort_by_key(|(_, named)| !named);
        let mut found: Option<(Confirmed, usize)> = None;
        let mut ft_missing = false;
        let mut tried = 0;
        for (i, _) in &order {
            let c = &cands[*i];
            let scheme = match Self::scheme(akm, cipher, version, c.key.len()) {
                Ok(s) => s,
                Err(_) => continue,
            };
            tried += 1;
            let ptk = if scheme.ft {
                let (Some(mdid), Some(r0kh), Some(ssid)) = (
                    ft.mdid.or_else(|| self.bss.get(&aa).and_then(|b| b.mdid)),
                    ft.r0kh_id.as_deref(),
                    ssid.as_deref(),
                ) else {
                    ft_missing = true;
                    continue;
                };
                let ids = FtIds {
                    ssid,
                    mdid,
                    r0kh_id: r0kh,
                    r1kh_id: ft.r1kh_id.unwrap_or(aa.0),
                    sta: spa,
                };
                let (r0, r0name) = kdf::pmk_r0(scheme.hash, &c.key, &ids);
                let (r1, name) = kdf::pmk_r1(scheme.hash, &r0, &r0name, &ids.r1kh_id, &spa);
                if r1name.is_some_and(|n| n != name) {
                    continue; // the station named another PMK-R1
                }
                kdf::ft_ptk(
                    scheme.hash,
                    &r1,
                    scheme.kck_len,
                    scheme.kek_len,
                    &anonce,
                    &snonce,
                    &aa,
                    &spa,
                    scheme.cipher,
                )
            } else {
                kdf::derive_ptk_akm(
                    &c.key,
                    scheme.hash,
                    scheme.kck_len,
                    scheme.kek_len,
                    &aa,
                    &spa,
                    &anonce,
                    &snonce,
                    scheme.cipher,
                )
            };
            if mic::verify(scheme.mic, &ptk.kck, mic_frame, eapol::MIC_OFFSET) {
                found = Some((
                    Confirmed {
                        ptk,
                        anonce,
                        snonce,
                        algo: scheme.mic,
                        m3_done: false,
                    },
                    c.net,
                ));
                break;
            }
        }
        let passphrase_used = found
            .as_ref()
            .is_some_and(|(_, n)| cands.iter().any(|c| c.net == *n && c.passphrase));
        let st = self.touch(aa, spa);
        let Some((conf, net)) = found else {
            let source = akm.and_then(akm::source).unwrap_or(KeySource::Psk);
            let status = if ft_missing && tried > 0 {
                KeyStatus::FtContextMissing
            } else if source != KeySource::Psk {
                match akm {
                    Some(a) if tried == 0 => KeyStatus::NeedsKey { akm: a },
                    Some(a) => KeyStatus::PmkMismatch { akm: a, tried },
                    None => KeyStatus::MicMismatch,
                }
            } else if cands.is_empty() && ssid_missing {
                KeyStatus::SsidUnknown
            } else if tried == 0 {
                match (akm, version) {
                    (Some(a), _) if akm::params(a, 32).is_none() && akm::source(a).is_some() => {
                        KeyStatus::NeedsKey { akm: a }
                    }
                    (_, v) if !matches!(v, 1..=3) => KeyStatus::Unsupported(v),
                    _ => KeyStatus::MicMismatch,
                }
            } else {
                KeyStatus::MicMismatch
            };
            return HsEvent::Failed(status);
        };
        let fresh = st
            .confirmed
            .as_ref()
            .is_none_or(|c| c.anonce != anonce || c.snonce != snonce);
        let tk = conf.ptk.tk.clone();
        st.confirmed = Some(conf.clone());
        st.status = KeyStatus::Confirmed;
        st.via = Some(via);
        if fresh {
            st.keys_installed += 1;
        }
        if passphrase_used {
            self.confirmed_nets.entry(net).or_insert((aa, spa));
        }
        keys.install_pairwise(aa, spa, tk);
        if let Ok(Some(k)) = EapolKey::detect(mic_frame, Some(conf.algo.mic_len()))
            && k.message() == Message::M3
        {
            self.take_m3_gtk(keys, aa, spa, &conf, mic_frame, false);
        }
        HsEvent::PairwiseInstalled { via }
    }

    /// Verifies M3 (when not already verified) and installs the GTK and IGTK
    /// from its key data.
    fn take_m3_gtk(
        &mut self,
        keys: &mut KeyStore,
        aa: MacAddr,
        spa: MacAddr,
        c: &Confirmed,
        frame: &[u8],
        check_mic: bool,
    ) -> HsEvent {
        let Ok(Some(k)) = EapolKey::detect(frame, Some(c.algo.mic_len())) else {
            return HsEvent::Ignored("malformed EAPOL-Key frame");
        };
        if check_mic && !mic::verify(c.algo, &c.ptk.kck, frame, eapol::MIC_OFFSET) {
            return HsEvent::Ignored("M3 MIC does not verify with the confirmed PTK");
        }
        if c.m3_done {
            // A retransmitted M3: a supplicant installs the PTK again (what
            // key reinstallation attacks exploit); the keystore records the
            // reinstallation for the engine's check.
            keys.install_pairwise(aa, spa, c.ptk.tk.clone());
        } else if let Some(cf) = self
            .stations
            .get_mut(&(aa, spa))
            .and_then(|st| st.confirmed.as_mut())
        {
            cf.m3_done = true;
        }
        // WPA1 M3 carries the WPA IE in clear; its GTK comes by group handshake.
        if k.descriptor_type() != 2 || !k.has(info::ENCRYPTED) {
            return HsEvent::Seen(Message::M3);
        }
        let mut plain = zeroize::Zeroizing::new(Vec::new());
        if gtk::decrypt_key_data(
            k.version(),
            &c.ptk.kek,
            k.key_iv(),
            k.key_data(),
            &mut plain,
        )
        .is_err()
        {
            return HsEvent::Ignored("M3 key data does not unwrap");
        }
        // The AP's RSNE in M3 names the group cipher and management cipher.
        if let Some(r) = rsn::rsn_element(&plain).and_then(|b| rsn::RsnInfo::parse(b).ok())
            && (self.bss.len() < MAX_SSIDS || self.bss.contains_key(&aa))
        {
            let b = self.bss.entry(aa).or_default();
            b.group_cipher = Some(r.group_cipher);
            if r.group_mgmt_cipher.is_some() {
                b.mgmt_cipher = r.group_mgmt_cipher;
            }
        }
        let pairwise = c.ptk.tk.cipher;
        self.install_group_kdes(keys, aa, pairwise, &plain)
            .map_or(HsEvent::Seen(Message::M3), |key_id| {
                HsEvent::GroupInstalled { key_id }
            })
    }

    /// The cipher of a group key of `len` bytes for `bssid`: the BSS's group
    /// cipher when announced, else the pairwise cipher's family.
    fn group_cipher(&self, bssid: MacAddr, pairwise: Cipher, len: usize) -> Cipher {
        if let Some(c) = self
            .bss
            .get(&bssid)
            .and_then(|b| b.group_cipher)
            .and_then(Cipher::from_suite)
            .filter(|c| c.tk_len() <= len)
        {
            return c;
        }
        match (len >= 32, pairwise) {
            (true, Cipher::Gcmp256 | Cipher::Ccmp256) => pairwise,
            (true, _) => Cipher::Tkip,
            (false, Cipher::Gcmp) => Cipher::Gcmp,
            (false, _) => Cipher::Ccmp,
        }
    }

    /// Installs every GTK and IGTK KDE in decrypted key data; returns the last
    /// GTK key ID installed.
    fn install_group_kdes(
        &self,
        keys: &mut KeyStore,
        bssid: MacAddr,
        pairwise: Cipher,
        plain: &[u8],
    ) -> Option<u8> {
        let mut last = None;
        for kde in gtk::kdes(plain) {
            match kde {
                Kde::Gtk { key_id, key, .. } => {
                    let cipher = self.group_cipher(bssid, pairwise, key.len());
                    if let Some(tk) = TemporalKey::new(cipher, key) {
                        keys.install_group(bssid, key_id, tk);
                        last = Some(key_id);
                    }
                }
                Kde::Igtk { key_id, ipn, key } => {
                    let mut b = [0u8; 8];
                    b[..6].copy_from_slice(&ipn);
                    self.install_igtk(keys, bssid, key_id, key, u64::from_le_bytes(b));
                }
                _ => {}
            }
        }
        last
    }

    fn install_igtk(&self, keys: &mut KeyStore, bssid: MacAddr, key_id: u16, key: &[u8], ipn: u64) {
        let algo = self
            .bss
            .get(&bssid)
            .and_then(|b| b.mgmt_cipher)
            .and_then(BipAlgo::from_suite)
            .filter(|a| a.key_len() == key.len())
            .or(match key.len() {
                16 => Some(BipAlgo::Cmac128),
                32 => Some(BipAlgo::Gmac256),
                _ => None,
            });
        if let Some(a) = algo {
            keys.install_igtk(bssid, key_id, a, key, ipn);
        }
    }

    fn on_group_m1(
        &mut self,
        keys: &mut KeyStore,
        aa: MacAddr,
        spa: MacAddr,
        frame: &[u8],
    ) -> HsEvent {
        let Some(st) = self.stations.get(&(aa, spa)) else {
            return HsEvent::Seen(Message::G1);
        };
        let Some(c) = st.confirmed.clone() else {
            return HsEvent::Ignored("group key message before any pairwise key");
        };
        let Ok(Some(k)) = EapolKey::detect(frame, Some(c.algo.mic_len())) else {
            return HsEvent::Ignored("malformed EAPOL-Key frame");
        };
        let algo = match k.version() {
            v @ 1..=3 => MicAlgo::from_key_descriptor_version(v).unwrap_or(c.algo),
            _ => c.algo,
        };
        if !mic::verify(algo, &c.ptk.kck, frame, eapol::MIC_OFFSET) {
            return HsEvent::Ignored("group message MIC does not verify with the station's PTK");
        }
        let mut plain = zeroize::Zeroizing::new(Vec::new());
        if gtk::decrypt_key_data(
            k.version(),
            &c.ptk.kek,
            k.key_iv(),
            k.key_data(),
            &mut plain,
        )
        .is_err()
        {
            return HsEvent::Ignored("group key data does not unwrap");
        }
        if k.descriptor_type() == 254 {
            // WPA1 (IEEE 802.11i D3 / WPA spec 2.2.4): the key data is the raw GTK,
            // its length in Key Length, its index in the Key Information bits.
            let len = (k.key_len() as usize).min(plain.len());
            let cipher = if len >= 32 {
                Cipher::Tkip
            } else {
                Cipher::Ccmp
            };
            return match TemporalKey::new(cipher, &plain[..len]) {
                Some(tk) => {
                    let key_id = k.key_index();
                    keys.install_group(aa, key_id, tk);
                    HsEvent::GroupInstalled { key_id }
                }
                None => HsEvent::Ignored("group key too short"),
            };
        }
        self.install_group_kdes(keys, aa, c.ptk.tk.cipher, &plain)
            .map_or(HsEvent::Seen(Message::G1), |key_id| {
                HsEvent::GroupInstalled { key_id }
            })
    }

    /// Management frames that carry key context: a beacon's or probe
    /// response's RSNE and MDE, a station's RSNE in its (re)association
    /// request, FT identities in (re)association responses, the nonces of FT
    /// authentication, and the FT reassociation that installs a PTK without
    /// a four-way handshake (IEEE 802.11-2020 13.5, 13.8). Returns
    /// `(bssid, sta, event)` when keys were derived or refused.
    pub fn on_mgmt(
        &mut self,
        keys: &mut KeyStore,
        d: &Dot11<'_>,
    ) -> Option<(MacAddr, MacAddr, HsEvent)> {
        let body = d.body();
        let a1 = d.addr1();
        let a2 = d.addr2()?;
        let bssid = d.addr3()?;
        match d.subtype() {
            mgmt::BEACON | mgmt::PROBE_RESP => {
                let ies = body.get(mgmt::BEACON_FIXED_LEN..)?;
                let r = rsn::rsn_element(ies).and_then(|b| rsn::RsnInfo::parse(b).ok())?;
                let mdid = rsn::elements(ies)
                    .find(|(id, _)| *id == rsn::ID_MDE)
                    .and_then(|(_, b)| rsn::parse_mde(b));
                self.learn_rsn(bssid, &r, mdid);
                None
            }
            mgmt::ASSOC_REQ | mgmt::REASSOC_REQ => {
                let fixed = if d.subtype() == mgmt::ASSOC_REQ {
                    mgmt::ASSOC_REQ_FIXED_LEN
                } else {
                    mgmt::REASSOC_REQ_FIXED_LEN
                };
                let ies = body.get(fixed..)?;
                if let Some(ssid) = rsn::ssid_from_elements(ies) {
                    self.learn_ssid(bssid, ssid);
                }
                let (aa, sta) = (a1, a2);
                let r = rsn::rsn_element(ies).and_then(|b| rsn::RsnInfo::parse(b).ok());
                // A new association starts a new handshake.
                let st = self.touch(aa, sta);
                if let Some(r) = r {
                    st.akm = r.akms.first();
                    st.pairwise = r.pairwise.first().and_then(Cipher::from_suite);
                }
                Self::note_ft(st, ies);
                let ft_reassoc = d.subtype() == mgmt::REASSOC_REQ
                    && st.ft.anonce.is_some()
                    && st
                        .akm
                        .and_then(|a| akm::params(a, akm::pmk_lens(a)[0]))
                        .is_some_and(|p| p.ft);
                if ft_reassoc {
                    let ev = self.ft_reassoc(keys, aa, sta, ies, 5);
                    return Some((aa, sta, ev));
                }
                None
            }
            mgmt::ASSOC_RESP | mgmt::REASSOC_RESP => {
                // Capability (2), Status (2), AID (2).
                let ies = body.get(6..)?;
                let (aa, sta) = (a2, a1);
                if !self.stations.contains_key(&(aa, sta)) {
                    return None;
                }
                let st = self.touch(aa, sta);
                Self::note_ft(st, ies);
                if d.subtype() == mgmt::REASSOC_RESP {
                    let confirmed_ft = st.via == Some("FT") && st.confirmed.is_some();
                    if confirmed_ft {
                        let ev = self.ft_reassoc_resp(keys, aa, sta, ies);
                        return Some((aa, sta, ev));
                    }
                }
                None
            }
            mgmt::AUTH => {
                // Algorithm (2), Transaction (2), Status (2), elements.
                let [alg0, alg1, t0, t1, _, _, ies @ ..] = body else {
                    return None;
                };
                if u16::from_le_bytes([*alg0, *alg1]) != 2 {
                    return None; // not FT
                }
                let txn = u16::from_le_bytes([*t0, *t1]);
                let (aa, sta) = if txn == 1 { (a1, a2) } else { (a2, a1) };
                let r = rsn::rsn_element(ies).and_then(|b| rsn::RsnInfo::parse(b).ok());
                let st = self.touch(aa, sta);
                if let Some(r) = r {
                    st.akm = r.akms.first().or(st.akm);
                    st.pairwise = r
                        .pairwise
                        .first()
                        .and_then(Cipher::from_suite)
                        .or(st.pairwise);
                }
                let mic_len = Self::ft_mic_len(st.akm);
                for (id, b) in rsn::elements(ies) {
                    if id == rsn::ID_FTE
                        && let Some(f) = rsn::parse_fte(b, mic_len)
                    {
                        if txn == 1 {
                            st.ft.snonce = Some(f.snonce);
                            st.ft.anonce = None;
                        } else {
                            st.ft.anonce = Some(f.anonce);
                            st.ft.snonce = Some(f.snonce);
                        }
                    }
                }
                Self::note_ft(st, ies);
                None
            }
            _ => None,
        }
    }

    /// The FT reassociation request (transaction 5): derive the PTK from the
    /// FT authentication nonces and check the FTE MIC with its KCK
    /// (IEEE 802.11-2020 13.8.4).
    fn ft_reassoc(
        &mut self,
        keys: &mut KeyStore,
        aa: MacAddr,
        sta: MacAddr,
        ies: &[u8],
        txn: u8,
    ) -> HsEvent {
        let (akm, cipher) = self.station_suites(&aa, &sta, None);
        let Some(a) = akm else {
            return HsEvent::Ignored("FT reassociation without an AKM");
        };
        let (cands, _) = self.candidates(&aa, Some(a));
        let st = self.touch(aa, sta);
        let ft = st.ft.clone();
        let mic_len = Self::ft_mic_len(Some(a));
        let (Some(rsne), Some(mde), Some(fte_raw)) = (
            rsn::raw_element(ies, rsn::ID_RSN),
            rsn::raw_element(ies, rsn::ID_MDE),
            rsn::raw_element(ies, rsn::ID_FTE),
        ) else {
            return HsEvent::Ignored("FT reassociation without RSNE, MDE and FTE");
        };
        let Some(fte) = rsn::parse_fte(&fte_raw[2..], mic_len) else {
            return HsEvent::Ignored("malformed FTE");
        };
        let (anonce, snonce) = (fte.anonce, fte.snonce);
        let ssid = self.ssids.get(&aa).cloned();
        let (Some(mdid), Some(r0kh), Some(ssid)) = (
            ft.mdid.or_else(|| rsn::parse_mde(&mde[2..])),
            fte.r0kh_id.map(<[u8]>::to_vec).or(ft.r0kh_id.clone()),
            ssid,
        ) else {
            return self
                .touch(aa, sta)
                .fail(KeyStatus::FtContextMissing, Some(snonce));
        };
        let r1kh = fte.r1kh_id.or(ft.r1kh_id).unwrap_or(aa.0);
        let r1name = rsn::RsnInfo::parse(&rsne[2..]).ok().and_then(|r| r.pmkid);
        let mut fte_zero = fte_raw.to_vec();
        if let Some(m) = fte_zero.get_mut(2 + fte.mic_offset..2 + fte.mic_offset + mic_len) {
            m.fill(0);
        }
        let rsnxe = if fte.mic_control & 1 != 0 {
            rsn::raw_element(ies, rsn::ID_RSNXE)
        } else {
            None
        };
        let mut tried = 0;
        for c in &cands {
            let Ok(scheme) = Self::scheme(Some(a), cipher, 0, c.key.len()) else {
                continue;
            };
            tried += 1;
            let ids = FtIds {
                ssid: &ssid,
                mdid,
                r0kh_id: &r0kh,
                r1kh_id: r1kh,
                sta,
            };
            let (r0, r0name) = kdf::pmk_r0(scheme.hash, &c.key, &ids);
            let (r1, name) = kdf::pmk_r1(scheme.hash, &r0, &r0name, &r1kh, &sta);
            if r1name.is_some_and(|n| n != name) {
                continue;
            }
            let ptk = kdf::ft_ptk(
                scheme.hash,
                &r1,
                scheme.kck_len,
                scheme.kek_len,
                &anonce,
                &snonce,
                &aa,
                &sta,
                scheme.cipher,
            );
            let mut parts: Vec<&[u8]> = vec![
                &sta.0,
                &aa.0,
                std::slice::from_ref(&txn),
                rsne,
                mde,
                &fte_zero,
            ];
            if let Some(x) = rsnxe {
                parts.push(x);
            }
            if mic::verify_parts(scheme.mic, &ptk.kck, &parts, fte.mic) {
                let st = self.touch(aa, sta);
                let fresh = st
                    .confirmed
                    .as_ref()
                    .is_none_or(|c| c.anonce != anonce || c.snonce != snonce);
                st.confirmed = Some(Confirmed {
                    ptk: ptk.clone(),
                    anonce,
                    snonce,
                    algo: scheme.mic,
                    m3_done: true,
                });
                st.status = KeyStatus::Confirmed;
                st.via = Some("FT");
                if fresh {
                    st.keys_installed += 1;
                }
                if c.passphrase {
                    self.confirmed_nets.entry(c.net).or_insert((aa, sta));
                }
                keys.install_pairwise(aa, sta, ptk.tk.clone());
                return HsEvent::PairwiseInstalled { via: "FT" };
            }
        }
        let status = if tried == 0 {
            if akm::source(a) == Some(KeySource::Psk) {
                KeyStatus::MicMismatch
            } else {
                KeyStatus::NeedsKey { akm: a }
            }
        } else if akm::source(a) == Some(KeySource::Psk) {
            KeyStatus::MicMismatch
        } else {
            KeyStatus::PmkMismatch { akm: a, tried }
        };
        self.touch(aa, sta).fail(status, Some(snonce))
    }

    /// The FT reassociation response (transaction 6): check its FTE MIC with
    /// the PTK the request confirmed and take the GTK and IGTK subelements
    /// (IEEE 802.11-2020 13.8.5, 9.4.2.47).
    fn ft_reassoc_resp(
        &mut self,
        keys: &mut KeyStore,
        aa: MacAddr,
        sta: MacAddr,
        ies: &[u8],
    ) -> HsEvent {
        let Some(st) = self.stations.get(&(aa, sta)) else {
            return HsEvent::Ignored("no FT state");
        };
        let Some(c) = st.confirmed.clone() else {
            return HsEvent::Ignored("no FT PTK");
        };
        let mic_len = Self::ft_mic_len(st.akm);
        let (Some(rsne), Some(mde), Some(fte_raw)) = (
            rsn::raw_element(ies, rsn::ID_RSN),
            rsn::raw_element(ies, rsn::ID_MDE),
            rsn::raw_element(ies, rsn::ID_FTE),
        ) else {
            return HsEvent::Ignored("FT reassociation response without RSNE, MDE and FTE");
        };
        let Some(fte) = rsn::parse_fte(&fte_raw[2..], mic_len) else {
            return HsEvent::Ignored("malformed FTE");
        };
        let mut fte_zero = fte_raw.to_vec();
        if let Some(m) = fte_zero.get_mut(2 + fte.mic_offset..2 + fte.mic_offset + mic_len) {
            m.fill(0);
        }
        let mut parts: Vec<&[u8]> = vec![&sta.0, &aa.0, &[6u8], rsne, mde, &fte_zero];
        let rsnxe = if fte.mic_control & 1 != 0 {
            rsn::raw_element(ies, rsn::ID_RSNXE)
        } else {
            None
        };
        if let Some(x) = rsnxe {
            parts.push(x);
        }
        if !mic::verify_parts(c.algo, &c.ptk.kck, &parts, fte.mic) {
            return HsEvent::Ignored("FT reassociation response MIC does not verify");
        }
        let mut last = None;
        // GTK subelement: Key Info (2, key ID in bits 0-1), Key Length (1),
        // RSC (8), Wrapped Key (9.4.2.47).
        if let Some([ki0, _, klen, _, _, _, _, _, _, _, _, wrapped @ ..]) = fte.gtk {
            let mut plain = zeroize::Zeroizing::new(Vec::new());
            if gtk::decrypt_key_data(2, &c.ptk.kek, &[0; 16], wrapped, &mut plain).is_ok() {
                let len = usize::from(*klen).min(plain.len());
                let key_id = ki0 & 3;
                let cipher = self.group_cipher(aa, c.ptk.tk.cipher, len);
                if let Some(tk) = TemporalKey::new(cipher, &plain[..len]) {
                    keys.install_group(aa, key_id, tk);
                    last = Some(key_id);
                }
            }
        }
        // IGTK subelement: Key ID (2), IPN (6), Key Length (1), Wrapped Key.
        if let Some([k0, k1, i0, i1, i2, i3, i4, i5, klen, wrapped @ ..]) = fte.igtk {
            let mut plain = zeroize::Zeroizing::new(Vec::new());
            if gtk::decrypt_key_data(2, &c.ptk.kek, &[0; 16], wrapped, &mut plain).is_ok() {
                let len = usize::from(*klen).min(plain.len());
                let ipn = u64::from_le_bytes([*i0, *i1, *i2, *i3, *i4, *i5, 0, 0]);
                self.install_igtk(keys, aa, u16::from_le_bytes([*k0, *k1]), &plain[..len], ipn);
            }
        }
        last.map_or(HsEvent::Seen(Message::M3), |key_id| {
            HsEvent::GroupInstalled { key_id }
        })
    }
}

/// The hash of the PMKID formula for an AKM (IEEE 802.11-2020 12.7.1.3):
/// SHA-1 for AKMs 1 and 2 (and legacy), SHA-384 for 12, SHA-256 for the
/// others; `None` where the PMKID is not computed from the PMK (SAE and OWE
/// name it from their exchange; FT's message 1 carries PMKR1Name).
fn pmkid_hash(akm: Option<u32>) -> Option<KdfHash> {
    match akm {
        None | Some(0x000F_AC01 | 0x000F_AC02 | 0x0050_F201 | 0x0050_F202) => Some(KdfHash::Sha1),
        Some(0x000F_AC0C) => Some(KdfHash::Sha384),
        Some(a) => match akm::params(a, akm::pmk_lens(a)[0]) {
            Some(p) if p.ft || matches!(p.source, KeySource::Sae | KeySource::Owe) => None,
            Some(_) => Some(KdfHash::Sha256),
            None => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A flood of fake stations evicts the least recently active ones, in
    /// order, counted, without scanning the table per frame.
    #[test]
    fn fake_station_flood_evicts_oldest_first() {
        use crate::synth::frames::{Security, m1};
        let mut t = Tracker::new(Vec::new());
        let mut keys = KeyStore::new();
        let ap = MacAddr([2, 0, 0, 0, 0, 1]);
        let m1 = m1(Security::default(), 1, [9; 32]);
        let sta = |i: usize| MacAddr([2, 1, 0, (i >> 16) as u8, (i >> 8) as u8, i as u8]);
        for i in 0..MAX_STATIONS + 100 {
            t.on_eapol(&mut keys, ap, sta(i), &m1);
            if i == MAX_STATIONS - 1 {
                // Station 0 is active again: not among the first evicted.
                t.on_eapol(&mut keys, ap, sta(0), &m1);
            }
        }
        assert_eq!(t.stations().count(), MAX_STATIONS);
        assert_eq!(t.evicted_stations, 100);
        assert_eq!(t.by_activity.len(), MAX_STATIONS);
        assert!(t.station(ap, sta(0)).is_some());
        assert!(t.station(ap, sta(1)).is_none());
        assert!(t.station(ap, sta(101)).is_some());
    }
}
