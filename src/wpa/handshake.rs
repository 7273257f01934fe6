//! Four-way and group-key handshake tracking per (BSSID, STA)
//! (IEEE 802.11-2020 12.7.6 4-way handshake, 12.7.7 group key handshake).
//!
//! The tracker is fed every EAPOL-Key frame in capture order, plaintext or found
//! inside decrypted data (rekeys). A PTK is derived as soon as one message with
//! the ANonce and one with the SNonce are both known — M1+M2, or M2+M3 without
//! M1 (the ANonce is repeated in M3) — and is installed only when the MIC of a
//! message carrying it verifies with the derived KCK. Every candidate PMK (all
//! configured networks whose SSID matches, and wildcard PMKs) is tried; none
//! verifying is reported as "MIC mismatch: wrong passphrase or SSID". M3+M4
//! alone cannot give a key (M4 carries no nonce) and is reported so.
//!
//! GTKs come from the key data of M3 (RSN: GTK KDE, AES key wrap with the KEK)
//! and of group-key message 1 (RSN: KDE; WPA1: the raw key, RC4 or AES wrapped).
//!
//! Bounds: [`MAX_STATIONS`] tracked stations (oldest activity evicted, counted),
//! stored EAPOL frames up to [`MAX_EAPOL_LEN`] bytes, [`MAX_SSIDS`] learned SSIDs.

use std::collections::{BTreeMap, HashMap};

use super::gtk::{self, Kde};
use super::kdf::{self, PtkKdf};
use super::keys::{Cipher, Passphrase, Pmk, Ptk, TemporalKey};
use super::keystore::KeyStore;
use super::mic::{self, MicAlgo};
use crate::wire::MacAddr;
use crate::wire::eapol::{self, EapolKey, Message, info};

pub const MAX_STATIONS: usize = 16_384;
pub const MAX_EAPOL_LEN: usize = 2_048;
pub const MAX_SSIDS: usize = 4_096;
/// Candidate PMKs tried per handshake (networks × SSIDs), bounded so a config with
/// many entries cannot turn one hostile frame into unbounded PBKDF2 work.
pub const MAX_CANDIDATES: usize = 64;

/// A configured network secret.
#[derive(Clone)]
pub enum Secret {
    Passphrase(Passphrase),
    Pmk(Pmk),
}

/// One `[[network]]` entry. `ssid: None` means "any network": a passphrase then
/// needs the SSID learned from the air; a PMK is tried on every handshake.
#[derive(Clone)]
pub struct NetworkSecret {
    pub ssid: Option<Vec<u8>>,
    pub secret: Secret,
}

impl std::fmt::Debug for NetworkSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.secret {
            Secret::Passphrase(_) => "passphrase",
            Secret::Pmk(_) => "pmk",
        };
        write!(
            f,
            "NetworkSecret {{ ssid: {:?}, {kind}: <redacted> }}",
            self.ssid.as_deref().map(String::from_utf8_lossy)
        )
    }
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
    /// Key descriptor version the crate cannot handle (e.g. 0 = SAE/OWE AKMs).
    Unsupported(u8),
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
        }
    }
}

#[derive(Clone)]
struct Stored {
    frame: Vec<u8>,
    nonce: [u8; 32],
    replay: u64,
}

/// Per (BSSID, STA) handshake state.
pub struct StationHs {
    m1: Option<Stored>,
    m2: Option<Stored>,
    m3: Option<Stored>,
    /// The PTK last confirmed, with the nonces it came from.
    ptk: Option<(Ptk, [u8; 32], [u8; 32])>,
    pub status: KeyStatus,
    /// Messages seen, indexed M1..M4, G1, G2.
    pub seen: [u32; 6],
    pub keys_installed: u32,
    /// Descriptor version of the last handshake (1 TKIP/MD5, 2 CCMP/SHA1, 3 AES-CMAC).
    pub version: u8,
    last_activity: u64,
}

impl StationHs {
    fn new() -> Self {
        StationHs {
            m1: None,
            m2: None,
            m3: None,
            ptk: None,
            status: KeyStatus::NoHandshake,
            seen: [0; 6],
            keys_installed: 0,
            version: 0,
            last_activity: 0,
        }
    }
}

/// What the tracker did with one EAPOL-Key frame.
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

/// Handshake tracker for every station, plus the SSIDs learned from the air.
pub struct Tracker {
    networks: Vec<NetworkSecret>,
    pmk_cache: HashMap<(usize, Vec<u8>), Pmk>,
    ssids: HashMap<MacAddr, Vec<u8>>,
    stations: HashMap<(MacAddr, MacAddr), StationHs>,
    /// `stations` by `last_activity` (unique: the clock ticks per frame), so
    /// the eviction under a flood of fake stations is `O(log n)`, not a scan.
    by_activity: BTreeMap<u64, (MacAddr, MacAddr)>,
    clock: u64,
    pub evicted_stations: u64,
}

impl Tracker {
    pub fn new(networks: Vec<NetworkSecret>) -> Self {
        Tracker {
            networks,
            pmk_cache: HashMap::new(),
            ssids: HashMap::new(),
            stations: HashMap::new(),
            by_activity: BTreeMap::new(),
            clock: 0,
            evicted_stations: 0,
        }
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

    /// Candidate PMKs for a BSSID, computing (and caching) passphrase PMKs.
    fn candidates(&mut self, bssid: &MacAddr) -> (Vec<Pmk>, bool) {
        let learned = self.ssids.get(bssid).cloned();
        let mut out = Vec::new();
        let mut ssid_missing = false;
        let single = self.networks.len() == 1;
        for (i, n) in self.networks.iter().enumerate() {
            if out.len() >= MAX_CANDIDATES {
                break;
            }
            // A network entry applies when its SSID matches the learned one, when
            // nothing was learned, or when it has no SSID.
            let ssid = match (&n.ssid, &learned) {
                (Some(s), Some(l)) if s != l && !single => continue,
                (Some(s), _) => Some(s.clone()),
                (None, l) => l.clone(),
            };
            match &n.secret {
                Secret::Pmk(p) => out.push(p.clone()),
                Secret::Passphrase(pass) => {
                    let Some(ssid) = ssid else {
                        ssid_missing = true;
                        continue;
                    };
                    let pmk = self
                        .pmk_cache
                        .entry((i, ssid.clone()))
                        .or_insert_with(|| kdf::pmk_from_passphrase(pass, &ssid))
                        .clone();
                    out.push(pmk);
                }
            }
        }
        (out, ssid_missing)
    }

    /// Feeds one EAPOL frame (802.1X header onward) sent by `ta` to `ra`.
    pub fn on_eapol(
        &mut self,
        keys: &mut KeyStore,
        ta: MacAddr,
        ra: MacAddr,
        frame: &[u8],
    ) -> HsEvent {
        let k = match EapolKey::new_checked(frame) {
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
        // Authenticator address and supplicant address from the direction.
        let from_ap = k.has(info::ACK);
        let (aa, spa) = if from_ap { (ta, ra) } else { (ra, ta) };
        self.clock += 1;
        let clock = self.clock;
        if !self.stations.contains_key(&(aa, spa)) && self.stations.len() >= MAX_STATIONS {
            if let Some((_, old)) = self.by_activity.pop_first() {
                self.stations.remove(&old);
                self.evicted_stations += 1;
            }
        }
        let st = self
            .stations
            .entry((aa, spa))
            .or_insert_with(StationHs::new);
        self.by_activity.remove(&st.last_activity);
        self.by_activity.insert(clock, (aa, spa));
        st.last_activity = clock;
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
        if !matches!(version, 1..=3) {
            st.status = KeyStatus::Unsupported(version);
            return HsEvent::Failed(st.status.clone());
        }
        let stored = Stored {
            frame: k.frame().to_vec(),
            nonce: *k.nonce(),
            replay: k.replay_counter(),
        };
        match msg {
            Message::M1 => {
                st.m1 = Some(stored);
                HsEvent::Seen(msg)
            }
            Message::M2 => {
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
                let mut ev = HsEvent::Seen(msg);
                for an in anonces {
                    ev = self.derive(keys, aa, spa, an, stored.nonce, &stored.frame, "M1+M2");
                    if matches!(ev, HsEvent::PairwiseInstalled { .. }) {
                        break;
                    }
                }
                ev
            }
            Message::M3 => {
                st.m3 = Some(stored.clone());
                let Some(m2) = st.m2.clone() else {
                    if st.ptk.is_none() {
                        st.status = KeyStatus::NoSnonce;
                        return HsEvent::Failed(KeyStatus::NoSnonce);
                    }
                    return HsEvent::Seen(msg);
                };
                // Same nonces as the confirmed PTK: just check M3 and take its GTK.
                if let Some((ptk, an, sn)) = &st.ptk {
                    if *an == stored.nonce && *sn == m2.nonce {
                        let ptk = ptk.clone();
                        return self.take_m3_gtk(keys, aa, spa, &ptk, &stored.frame, true);
                    }
                }
                self.derive(
                    keys,
                    aa,
                    spa,
                    stored.nonce,
                    m2.nonce,
                    &stored.frame,
                    "M2+M3",
                )
            }
            Message::M4 => {
                if st.ptk.is_none() && st.m2.is_none() {
                    st.status = KeyStatus::NoSnonce;
                    return HsEvent::Failed(KeyStatus::NoSnonce);
                }
                HsEvent::Seen(msg)
            }
            Message::G1 => self.on_group_m1(keys, aa, spa, &stored.frame),
            Message::G2 => HsEvent::Seen(msg),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn derive(
        &mut self,
        keys: &mut KeyStore,
        aa: MacAddr,
        spa: MacAddr,
        anonce: [u8; 32],
        snonce: [u8; 32],
        mic_frame: &[u8],
        via: &'static str,
    ) -> HsEvent {
        let Ok(Some(k)) = EapolKey::new_checked(mic_frame) else {
            return HsEvent::Ignored("malformed EAPOL-Key frame");
        };
        let version = k.version();
        let (algo, kdf, cipher) = match version {
            1 => (MicAlgo::HmacMd5, PtkKdf::Sha1Prf, Cipher::Tkip),
            2 => (MicAlgo::HmacSha1_128, PtkKdf::Sha1Prf, Cipher::Ccmp),
            3 => (MicAlgo::AesCmac, PtkKdf::Sha256Kdf, Cipher::Ccmp),
            v => return HsEvent::Failed(KeyStatus::Unsupported(v)),
        };
        let (cands, ssid_missing) = self.candidates(&aa);
        let mut found = None;
        for pmk in &cands {
            let ptk = kdf::derive_ptk(pmk, kdf, &aa, &spa, &anonce, &snonce, cipher);
            if mic::verify(algo, &ptk.kck, mic_frame, eapol::MIC_OFFSET) {
                found = Some(ptk);
                break;
            }
        }
        let st = self
            .stations
            .get_mut(&(aa, spa))
            .expect("inserted by on_eapol");
        let Some(ptk) = found else {
            st.status = if cands.is_empty() && ssid_missing {
                KeyStatus::SsidUnknown
            } else {
                KeyStatus::MicMismatch
            };
            return HsEvent::Failed(st.status.clone());
        };
        let fresh = st
            .ptk
            .as_ref()
            .is_none_or(|(_, a, s)| *a != anonce || *s != snonce);
        st.ptk = Some((ptk.clone(), anonce, snonce));
        st.status = KeyStatus::Confirmed;
        if fresh {
            st.keys_installed += 1;
        }
        keys.install_pairwise(aa, spa, ptk.tk.clone());
        if k.message() == Message::M3 {
            self.take_m3_gtk(keys, aa, spa, &ptk, mic_frame, false);
        }
        HsEvent::PairwiseInstalled { via }
    }

    /// Verifies M3 (when not already verified) and installs the GTK from its key data.
    fn take_m3_gtk(
        &mut self,
        keys: &mut KeyStore,
        aa: MacAddr,
        _spa: MacAddr,
        ptk: &Ptk,
        frame: &[u8],
        check_mic: bool,
    ) -> HsEvent {
        let Ok(Some(k)) = EapolKey::new_checked(frame) else {
            return HsEvent::Ignored("malformed EAPOL-Key frame");
        };
        let Some(algo) = mic_algo(k.version()) else {
            return HsEvent::Ignored("unsupported descriptor version");
        };
        if check_mic && !mic::verify(algo, &ptk.kck, frame, eapol::MIC_OFFSET) {
            return HsEvent::Ignored("M3 MIC does not verify with the confirmed PTK");
        }
        // WPA1 M3 carries the WPA IE in clear; its GTK comes by group handshake.
        if k.descriptor_type() != 2 || !k.has(info::ENCRYPTED) {
            return HsEvent::Seen(Message::M3);
        }
        let mut plain = Vec::new();
        if gtk::decrypt_key_data(k.version(), &ptk.kek, k.key_iv(), k.key_data(), &mut plain)
            .is_err()
        {
            return HsEvent::Ignored("M3 key data does not unwrap");
        }
        install_gtk_kdes(keys, aa, &plain).map_or(HsEvent::Seen(Message::M3), |key_id| {
            HsEvent::GroupInstalled { key_id }
        })
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
        let Some((ptk, _, _)) = st.ptk.clone() else {
            return HsEvent::Ignored("group key message before any pairwise key");
        };
        let Ok(Some(k)) = EapolKey::new_checked(frame) else {
            return HsEvent::Ignored("malformed EAPOL-Key frame");
        };
        let Some(algo) = mic_algo(k.version()) else {
            return HsEvent::Ignored("unsupported descriptor version");
        };
        if !mic::verify(algo, &ptk.kck, frame, eapol::MIC_OFFSET) {
            return HsEvent::Ignored("group message MIC does not verify with the station's PTK");
        }
        let mut plain = Vec::new();
        if gtk::decrypt_key_data(k.version(), &ptk.kek, k.key_iv(), k.key_data(), &mut plain)
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
        install_gtk_kdes(keys, aa, &plain).map_or(HsEvent::Seen(Message::G1), |key_id| {
            HsEvent::GroupInstalled { key_id }
        })
    }
}

fn mic_algo(version: u8) -> Option<MicAlgo> {
    match version {
        1 => Some(MicAlgo::HmacMd5),
        2 => Some(MicAlgo::HmacSha1_128),
        3 => Some(MicAlgo::AesCmac),
        _ => None,
    }
}

/// Installs every GTK KDE in decrypted key data; returns the last key ID installed.
fn install_gtk_kdes(keys: &mut KeyStore, bssid: MacAddr, plain: &[u8]) -> Option<u8> {
    let mut last = None;
    for kde in gtk::kdes(plain) {
        if let Kde::Gtk { key_id, key, .. } = kde {
            let cipher = if key.len() >= 32 {
                Cipher::Tkip
            } else {
                Cipher::Ccmp
            };
            if let Some(tk) = TemporalKey::new(cipher, key) {
                keys.install_group(bssid, key_id, tk);
                last = Some(key_id);
            }
        }
    }
    last
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
