//! A deterministic capture of one protected network for any AKM and cipher
//! this crate decrypts: the frames a monitor-mode radio records when one
//! station joins, talks, and (with FT) roams to a second AP.
//!
//! [`build`] takes a [`NetworkSpec`] and returns the frames with the keys
//! they were made with ([`NetworkKeys`]) and the payloads that were sent, so
//! tests can check decryptors against both: this crate, and tshark given the
//! same passphrase, PMK or TK (`tests/synth_networks.rs`). The key material
//! comes from this crate's `wpa::kdf` (checked against the standard's test
//! vectors) and the ciphers from RustCrypto (`crypto::ccmp`, `crypto::gcmp`,
//! `crypto::bip`); no decryption code is involved in building.
//!
//! Timeline:
//! 1. a beacon announcing the RSNE (AKM, ciphers, MFP, group management
//!    cipher) and, under FT, the Mobility Domain element;
//! 2. authentication (Open System, or SAE commit/confirm frames for the SAE
//!    AKMs: their contents are not used by a passive decryptor), association
//!    request and response (MDE and FTE under FT);
//! 3. the four-way handshake with the AKM's KDF, MIC and key descriptor
//!    version (0 "AKM-defined" for SAE, OWE, Suite B; 3 for FT and SHA-256;
//!    2 otherwise), the GTK (and IGTK under MFP) in message 3;
//! 4. UDP datagrams both ways under the PTK, one broadcast under the GTK, a
//!    protected unicast SA Query (a robust management frame) and a
//!    BIP-protected broadcast action frame under MFP;
//! 5. under FT, a fast transition over the air to the second AP
//!    (authentication with FT nonces, reassociation with FTE MICs, the GTK in
//!    the reassociation response) and more datagrams under the new PTK,
//!    without any four-way handshake.

use super::frames::{self, DataOpts, DsDir, KeyFrame, Radio};
use super::scenario::Rng;
use crate::crypto::bip::{self, BipAlgo};
use crate::crypto::{ccmp, gcmp, tkip};
use crate::wire::dot11::{fc, mgmt};
use crate::wire::eapol::info;
use crate::wire::llc::ethertype;
use crate::wire::{MacAddr, Ts};
use crate::wpa::akm::{self, KeySource};
use crate::wpa::kdf::{self, FtIds};
use crate::wpa::keys::{Cipher, Passphrase, Ptk};
use crate::wpa::mic::MicAlgo;

/// What network to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkSpec {
    pub ssid: String,
    /// The AKM suite selector, e.g. `0x000F_AC0C` (Suite B 192).
    pub akm: u32,
    pub pairwise: Cipher,
    pub group: Cipher,
    /// Management frame protection with this group management cipher.
    pub mfp: Option<BipAlgo>,
    /// For PSK AKMs: the passphrase the PMK (FT: XXKey) comes from.
    pub passphrase: String,
    /// Roam to `ap2` with fast BSS transition (FT AKMs only).
    pub roam: bool,
    /// A station that typed this passphrase instead (PSK AKMs): its message 2
    /// carries a MIC under its own PTK, the AP (whose message 1 names its PMK
    /// by PMKID) answers nothing, and the capture ends there.
    pub station_passphrase: Option<String>,
    pub ap: MacAddr,
    pub ap2: MacAddr,
    pub sta: MacAddr,
    /// Seeds nonces, keys, SAE/OWE PMKs and payload bytes.
    pub seed: u64,
    pub start: Ts,
}

impl NetworkSpec {
    /// A network of `akm` with `cipher` for pairwise and group traffic, MFP
    /// when the AKM requires it (SAE, OWE, Suite B), FT roaming for FT AKMs.
    pub fn new(akm: u32, cipher: Cipher) -> NetworkSpec {
        let mfp = match akm {
            0x000F_AC0C | 0x000F_AC0D => Some(if cipher.tk_len() == 32 {
                BipAlgo::Gmac256
            } else {
                BipAlgo::Cmac128
            }),
            0x000F_AC08 | 0x000F_AC09 | 0x000F_AC12 | 0x000F_AC06 | 0x000F_AC0B => {
                Some(BipAlgo::Cmac128)
            }
            _ => None,
        };
        NetworkSpec {
            ssid: "plugsniff-synth".into(),
            akm,
            pairwise: cipher,
            group: cipher,
            mfp,
            passphrase: "synthetic passphrase".into(),
            roam: akm::params(akm, akm::pmk_lens(akm)[0]).is_some_and(|p| p.ft),
            station_passphrase: None,
            ap: MacAddr([0x02, 0x5a, 0x00, 0x00, 0x00, 0x01]),
            ap2: MacAddr([0x02, 0x5a, 0x00, 0x00, 0x00, 0x02]),
            sta: MacAddr([0x02, 0x5a, 0x00, 0x00, 0x01, 0x01]),
            seed: 0x5eed_0000 ^ u64::from(akm & 0xff) << 8 ^ cipher.suite() as u64,
            start: Ts::from_micros(1_735_689_600, 0), // 2025-01-01 00:00:00 UTC
        }
    }
}

/// The keys a network was generated with (all of them secret in real life;
/// here they are test vectors).
#[derive(Debug, Clone)]
pub struct NetworkKeys {
    /// The PMK (non-FT AKMs) or the XXKey (FT AKMs) of the first association:
    /// what Wireshark's `wpa-psk` takes.
    pub pmk: Vec<u8>,
    /// The PMKID the station and AP name the PMK with, when the AKM's
    /// exchange (SAE, OWE) names it rather than the PMK formula.
    pub pmkid: Option<[u8; 16]>,
    /// The EAP MSK the PMK was cut from (802.1X AKMs).
    pub msk: Option<Vec<u8>>,
    /// Pairwise TK of the first association, then of the FT roam.
    pub tks: Vec<Vec<u8>>,
    pub gtk: Vec<u8>,
    pub igtk: Option<Vec<u8>>,
}

/// What [`build`] produced.
#[derive(Debug, Clone)]
pub struct NetworkCapture {
    pub spec: NetworkSpec,
    /// Radiotap + 802.11 frames.
    pub frames: Vec<(Ts, Vec<u8>)>,
    pub keys: NetworkKeys,
    /// The UDP payloads sent under the pairwise keys (unicast) and the group key.
    pub unicast_payloads: Vec<Vec<u8>>,
    pub group_payloads: Vec<Vec<u8>>,
    /// Protected unicast management frames (SA Query) and BIP-protected
    /// group-addressed ones.
    pub protected_mgmt: usize,
    pub bip_frames: usize,
}

/// The key descriptor version an AP uses with `akm` and `pairwise`
/// (hostapd `wpa_use_akm_defined`, `wpa_use_cmac`; IEEE 802.11-2020 12.7.2).
pub fn key_version(akm: u32, pairwise: Cipher) -> u16 {
    match akm {
        0x000F_AC08 | 0x000F_AC09 | 0x000F_AC0B | 0x000F_AC0C | 0x000F_AC0D | 0x000F_AC12
        | 0x000F_AC18 => 0,
        0x000F_AC03..=0x000F_AC06 => 3,
        _ if pairwise == Cipher::Tkip => 1,
        _ => 2,
    }
}

/// CCMP/GCMP/TKIP-protects `body` under `header` (Protected bit set here).
pub fn protect(
    cipher: Cipher,
    tk: &[u8],
    header: &[u8],
    pn: u64,
    key_id: u8,
    body: &[u8],
) -> Vec<u8> {
    let mut h = header.to_vec();
    if h.len() > 1 {
        h[1] |= fc::PROTECTED;
    }
    match cipher {
        Cipher::Ccmp => ccmp::encrypt(tk[..16].try_into().expect("16"), &h, pn, key_id, body),
        Cipher::Ccmp256 => {
            ccmp::encrypt_256(tk[..32].try_into().expect("32"), &h, pn, key_id, body)
        }
        Cipher::Gcmp => gcmp::encrypt(&tk[..16], &h, pn, key_id, body),
        Cipher::Gcmp256 => gcmp::encrypt(&tk[..32], &h, pn, key_id, body),
        Cipher::Tkip => {
            // The Michael MIC over DA, SA, priority and the MSDU is appended
            // first (12.5.2.4), with the key of the sending direction: TK
            // bytes 16..24 from the AP (FromDS), 24..32 to it.
            let ta: [u8; 6] = h[10..16].try_into().expect("A2");
            let from_ds = h[1] & fc::FROM_DS != 0;
            let (da, sa): ([u8; 6], [u8; 6]) = if from_ds {
                (
                    h[4..10].try_into().expect("A1"),
                    h[16..22].try_into().expect("A3"),
                )
            } else {
                (h[16..22].try_into().expect("A3"), ta)
            };
            let mk: [u8; 8] = if from_ds || h[4] & 1 == 1 {
                tk[16..24].try_into().expect("8")
            } else {
                tk[24..32].try_into().expect("8")
            };
            let tid = if h[0] & 0x80 != 0 {
                h.get(24).map_or(0, |q| q & 0x0f)
            } else {
                0
            };
            let mut msdu = body.to_vec();
            msdu.extend_from_slice(&tkip::michael(&mk, da, sa, tid, body));
            tkip::encrypt_mpdu(tk[..16].try_into().expect("16"), ta, &h, pn, key_id, &msdu)
        }
    }
}

/// An RSNE (ID 48) with one pairwise cipher and one AKM, the capabilities,
/// the PMKIDs and, under MFP, the group management cipher
/// (IEEE 802.11-2020 9.4.2.24).
pub fn rsn_ie(
    group: Cipher,
    pairwise: Cipher,
    akm: u32,
    mfp: Option<BipAlgo>,
    pmkids: &[[u8; 16]],
) -> Vec<u8> {
    let mut b = vec![1, 0];
    b.extend_from_slice(&group.suite().to_be_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&pairwise.suite().to_be_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&akm.to_be_bytes());
    let caps: u16 = 0x000c | if mfp.is_some() { 0x00c0 } else { 0 };
    b.extend_from_slice(&caps.to_le_bytes());
    if !pmkids.is_empty() || mfp.is_some() {
        b.extend_from_slice(&(pmkids.len() as u16).to_le_bytes());
        for p in pmkids {
            b.extend_from_slice(p);
        }
    }
    if let Some(m) = mfp {
        b.extend_from_slice(&m.suite().to_be_bytes());
    }
    frames::ie(48, &b)
}

/// Mobility Domain element: MDID, FT over the air (IEEE 802.11-2020 9.4.2.46).
pub fn mde(mdid: [u8; 2]) -> Vec<u8> {
    frames::ie(54, &[mdid[0], mdid[1], 0x00])
}

/// A Fast BSS Transition element (IEEE 802.11-2020 9.4.2.47) with the MIC
/// field zero; `subs` are (subelement ID, body).
pub fn fte(
    mic_len: usize,
    element_count: u8,
    anonce: &[u8; 32],
    snonce: &[u8; 32],
    subs: &[(u8, &[u8])],
) -> Vec<u8> {
    let mut b = vec![0, element_count];
    b.resize(2 + mic_len, 0);
    b.extend_from_slice(anonce);
    b.extend_from_slice(snonce);
    for (id, s) in subs {
        b.extend(frames::ie(*id, s));
    }
    frames::ie(55, &b)
}

struct Air {
    t: u64,
    out: Vec<(Ts, Vec<u8>)>,
    seq: std::collections::HashMap<MacAddr, u16>,
    pn: std::collections::HashMap<(MacAddr, MacAddr), u64>,
}

impl Air {
    fn emit(&mut self, dot11: Vec<u8>) {
        let r = Radio {
            freq: 5180,
            rate: 108,
            dbm: -50,
            fcs: false,
        };
        let ts = Ts::from_micros((self.t / 1_000_000) as i64, (self.t % 1_000_000) as u32);
        self.out.push((ts, frames::with_radiotap(&r, &dot11)));
        self.t += 1_000;
    }
    fn seq(&mut self, tx: MacAddr) -> u16 {
        let s = self.seq.entry(tx).or_insert(0);
        let v = *s;
        *s = (*s + 1) & 0x0fff;
        v
    }
    fn pn(&mut self, tx: MacAddr, rx: MacAddr) -> u64 {
        let p = self.pn.entry((tx, rx)).or_insert(1);
        let v = *p;
        *p += 1;
        v
    }
}

fn eapol_frame(dir: DsDir, ap: MacAddr, sta: MacAddr, seq: u16, eapol: &[u8]) -> Vec<u8> {
    let (a1, a2, a3) = match dir {
        DsDir::ToDs => (ap, sta, ap),
        DsDir::FromDs => (sta, ap, ap),
    };
    let h = frames::data_header(
        dir,
        a1,
        a2,
        a3,
        seq,
        DataOpts {
            tid: 7,
            ..DataOpts::default()
        },
    );
    [h, frames::llc_snap(ethertype::EAPOL, eapol)].concat()
}

/// Builds the capture.
///
/// # Panics
/// If the AKM is not one [`crate::wpa::akm::params`] knows.
pub fn build(spec: &NetworkSpec) -> NetworkCapture {
    let mut rng = Rng::new(spec.seed);
    let (ap, sta) = (spec.ap, spec.sta);
    let source = akm::source(spec.akm).expect("a supported AKM");
    let pmk_len = akm::pmk_lens(spec.akm)[0];
    let params = akm::params(spec.akm, pmk_len).expect("a supported AKM");
    let version = key_version(spec.akm, spec.pairwise);
    let mic_algo = match version {
        1 => MicAlgo::HmacMd5,
        2 => MicAlgo::HmacSha1_128,
        3 => MicAlgo::AesCmac,
        _ => params.mic,
    };
    let mfp = spec.mfp;
    // The PMK (non-FT) or XXKey (FT).
    let mut msk = None;
    let key: Vec<u8> = match source {
        KeySource::Psk => kdf::pmk_from_passphrase(
            &Passphrase::new(spec.passphrase.clone()),
            spec.ssid.as_bytes(),
        )
        .as_bytes()
        .to_vec(),
        KeySource::Sae | KeySource::Owe => rng.bytes::<64>()[..pmk_len].to_vec(),
        KeySource::Eap => {
            let m = rng.bytes::<64>().to_vec();
            let k = match spec.akm {
                0x000F_AC03 => m[32..64].to_vec(),
                0x000F_AC0C | 0x000F_AC0D => m[..48].to_vec(),
                _ => m[..32].to_vec(),
            };
            msk = Some(m);
            k
        }
    };
    let exchange_pmkid =
        matches!(source, KeySource::Sae | KeySource::Owe).then(|| rng.bytes::<16>());
    let gtk_len = spec.group.tk_len();
    let gtk: Vec<u8> = rng.bytes::<32>()[..gtk_len].to_vec();
    let igtk: Option<Vec<u8>> = mfp.map(|m| rng.bytes::<32>()[..m.key_len()].to_vec());
    let mdid = [0x4d, 0x44];
    let r0kh_id = b"r0kh.plugsniff.test".to_vec();
    let ft_mic_len = if spec.akm == 0x000F_AC0D { 24 } else { 16 };

    let mut air = Air {
        t: spec.start.sec as u64 * 1_000_000 + u64::from(spec.start.usec()),
        out: Vec::new(),
        seq: Default::default(),
        pn: Default::default(),
    };

    // 1. Beacon.
    let mut b = frames::mgmt_header(mgmt::BEACON, MacAddr::BROADCAST, ap, ap, air.seq(ap));
    b.extend_from_slice(&1_000u64.to_le_bytes());
    b.extend_from_slice(&100u16.to_le_bytes());
    b.extend_from_slice(&0x0011u16.to_le_bytes());
    b.extend(frames::ie(0, spec.ssid.as_bytes()));
    b.extend(frames::ie(
        1,
        &[0x8c, 0x12, 0x98, 0x24, 0xb0, 0x48, 0x60, 0x6c],
    ));
    b.extend(frames::ie(3, &[36]));
    b.extend(rsn_ie(spec.group, spec.pairwise, spec.akm, mfp, &[]));
    if params.ft {
        b.extend(mde(mdid));
    }
    air.emit(b);

    // 2. Authentication and association.
    if source == KeySource::Sae {
        for (from, to, txn) in [(sta, ap, 1u16), (ap, sta, 1), (sta, ap, 2), (ap, sta, 2)] {
            let mut a = frames::mgmt_header(mgmt::AUTH, to, from, ap, air.seq(from));
            a.extend_from_slice(&3u16.to_le_bytes()); // SAE
            a.extend_from_slice(&txn.to_le_bytes());
            a.extend_from_slice(&0u16.to_le_bytes());
            if txn == 1 {
                a.extend_from_slice(&19u16.to_le_bytes()); // group 19
                a.extend_from_slice(&rng.bytes::<32>()); // scalar
                a.extend_from_slice(&rng.bytes::<64>()); // element
            } else {
                a.extend_from_slice(&1u16.to_le_bytes()); // send-confirm
                a.extend_from_slice(&rng.bytes::<32>()); // confirm
            }
            air.emit(a);
        }
    } else {
        for (from, to, txn) in [(sta, ap, 1u16), (ap, sta, 2)] {
            let s = air.seq(from);
            air.emit(frames::auth(to, from, ap, s, txn));
        }
    }
    let sta_pmkids: Vec<[u8; 16]> = Vec::new();
    let mut req = frames::mgmt_header(mgmt::ASSOC_REQ, ap, sta, ap, air.seq(sta));
    req.extend_from_slice(&0x0011u16.to_le_bytes());
    req.extend_from_slice(&10u16.to_le_bytes());
    req.extend(frames::ie(0, spec.ssid.as_bytes()));
    req.extend(frames::ie(
        1,
        &[0x8c, 0x12, 0x98, 0x24, 0xb0, 0x48, 0x60, 0x6c],
    ));
    req.extend(rsn_ie(
        spec.group,
        spec.pairwise,
        spec.akm,
        mfp,
        &sta_pmkids,
    ));
    if params.ft {
        req.extend(mde(mdid));
    }
    if source == KeySource::Owe {
        // OWE Diffie-Hellman Parameter element (Extension 32): group 19 and a
        // public key; a passive decryptor is given the PMK instead.
        let mut dh = vec![32, 19, 0];
        dh.extend_from_slice(&rng.bytes::<32>());
        req.extend(frames::ie(255, &dh));
    }
    air.emit(req);
    let mut resp = frames::mgmt_header(mgmt::ASSOC_RESP, sta, ap, ap, air.seq(ap));
    resp.extend_from_slice(&0x0011u16.to_le_bytes());
    resp.extend_from_slice(&0u16.to_le_bytes());
    resp.extend_from_slice(&0xc001u16.to_le_bytes());
    resp.extend(frames::ie(
        1,
        &[0x8c, 0x12, 0x98, 0x24, 0xb0, 0x48, 0x60, 0x6c],
    ));
    let zero = [0u8; 32];
    let ft_subs_ap1: Vec<(u8, Vec<u8>)> = vec![(1, ap.0.to_vec()), (3, r0kh_id.clone())];
    if params.ft {
        resp.extend(mde(mdid));
        let subs: Vec<(u8, &[u8])> = ft_subs_ap1
            .iter()
            .map(|(i, b)| (*i, b.as_slice()))
            .collect();
        resp.extend(fte(ft_mic_len, 0, &zero, &zero, &subs));
    }
    if source == KeySource::Owe {
        let mut dh = vec![32, 19, 0];
        dh.extend_from_slice(&rng.bytes::<32>());
        resp.extend(frames::ie(255, &dh));
    }
    air.emit(resp);

    // 3. The four-way handshake.
    let anonce = rng.bytes::<32>();
    let snonce = rng.bytes::<32>();
    let ids = FtIds {
        ssid: spec.ssid.as_bytes(),
        mdid,
        r0kh_id: &r0kh_id,
        r1kh_id: ap.0,
        sta,
    };
    let (ptk, r0_name, r1_name): (Ptk, [u8; 16], [u8; 16]) = if params.ft {
        let (r0, r0n) = kdf::pmk_r0(params.hash, &key, &ids);
        let (r1, r1n) = kdf::pmk_r1(params.hash, &r0, &r0n, &ap.0, &sta);
        let p = kdf::ft_ptk(
            params.hash,
            &r1,
            params.kck_len,
            params.kek_len,
            &anonce,
            &snonce,
            &ap,
            &sta,
            spec.pairwise,
        );
        (p, r0n, r1n)
    } else {
        let p = kdf::derive_ptk_akm(
            &key,
            params.hash,
            params.kck_len,
            params.kek_len,
            &ap,
            &sta,
            &anonce,
            &snonce,
            spec.pairwise,
        );
        (p, [0; 16], [0; 16])
    };
    let mic_len = mic_algo.mic_len();
    // M1: ANonce and, outside FT, the PMKID KDE.
    let pmkid = if params.ft {
        Some(r1_name)
    } else {
        exchange_pmkid.or_else(|| {
            let h = if matches!(spec.akm, 0x000F_AC01 | 0x000F_AC02) {
                kdf::KdfHash::Sha1
            } else {
                params.hash
            };
            Some(kdf::pmkid(h, &key, &ap, &sta))
        })
    };
    let mut m1_kd = Vec::new();
    if let Some(p) = pmkid {
        let mut k = vec![0x00, 0x0f, 0xac, 4];
        k.extend_from_slice(&p);
        m1_kd.extend(frames::ie(0xdd, &k));
    }
    let m1 = KeyFrame {
        eapol_version: 2,
        key_info: version | info::PAIRWISE | info::ACK,
        key_len: spec.pairwise.tk_len() as u16,
        replay: 1,
        nonce: anonce,
        key_data: m1_kd,
        ..KeyFrame::default()
    }
    .to_bytes_mic(mic_len);
    let s = air.seq(ap);
    air.emit(eapol_frame(DsDir::FromDs, ap, sta, s, &m1));
    // M2: SNonce; the station's RSNE (with PMKR1Name under FT), MDE, FTE.
    let mut m2_kd = rsn_ie(
        spec.group,
        spec.pairwise,
        spec.akm,
        mfp,
        if params.ft {
            std::slice::from_ref(&r1_name)
        } else {
            &[]
        },
    );
    if params.ft {
        m2_kd.extend(mde(mdid));
        let subs: Vec<(u8, &[u8])> = ft_subs_ap1
            .iter()
            .map(|(i, b)| (*i, b.as_slice()))
            .collect();
        m2_kd.extend(fte(ft_mic_len, 0, &zero, &zero, &subs));
    }
    let m2 = KeyFrame {
        eapol_version: 1,
        key_info: version | info::PAIRWISE | info::MIC,
        replay: 1,
        nonce: snonce,
        key_data: m2_kd,
        ..KeyFrame::default()
    }
    .signed(
        mic_algo,
        &station_ptk(spec, &ptk, &anonce, &snonce, params, pmk_len),
    );
    let s = air.seq(sta);
    air.emit(eapol_frame(DsDir::ToDs, ap, sta, s, &m2));
    if spec.station_passphrase.is_some() {
        return NetworkCapture {
            spec: spec.clone(),
            frames: air.out,
            keys: NetworkKeys {
                pmk: key,
                pmkid: exchange_pmkid,
                msk,
                tks: Vec::new(),
                gtk,
                igtk,
            },
            unicast_payloads: Vec::new(),
            group_payloads: Vec::new(),
            protected_mgmt: 0,
            bip_frames: 0,
        };
    }
    // M3: the AP's RSNE (and FT elements), GTK and IGTK KDEs, wrapped.
    let mut plain = rsn_ie(
        spec.group,
        spec.pairwise,
        spec.akm,
        mfp,
        if params.ft {
            std::slice::from_ref(&r1_name)
        } else {
            &[]
        },
    );
    if params.ft {
        plain.extend(mde(mdid));
        let subs: Vec<(u8, &[u8])> = ft_subs_ap1
            .iter()
            .map(|(i, b)| (*i, b.as_slice()))
            .collect();
        plain.extend(fte(ft_mic_len, 0, &zero, &zero, &subs));
    }
    let mut g = vec![0x00, 0x0f, 0xac, 1, 0x01 | 0x04, 0];
    g.extend_from_slice(&gtk);
    plain.extend(frames::ie(0xdd, &g));
    if let Some(ik) = &igtk {
        let mut k = vec![0x00, 0x0f, 0xac, 9, 4, 0, 1, 0, 0, 0, 0, 0];
        k.extend_from_slice(ik);
        plain.extend(frames::ie(0xdd, &k));
    }
    // Key data: AES key wrap with the KEK, or RC4 keyed with Key IV ‖ KEK
    // (first 256 keystream octets dropped) for descriptor version 1 (12.7.2).
    let m3_iv = if version == 1 {
        rng.bytes::<16>()
    } else {
        [0; 16]
    };
    let m3_kd = if version == 1 {
        use rc4::{KeyInit, Rc4, StreamCipher};
        let mut k = [0u8; 32];
        k[..16].copy_from_slice(&m3_iv);
        k[16..].copy_from_slice(&ptk.kek[..16]);
        let mut rc4 = Rc4::new((&k).into());
        let mut skip = [0u8; 256];
        rc4.apply_keystream(&mut skip);
        let mut kd = plain.clone();
        rc4.apply_keystream(&mut kd);
        kd
    } else {
        frames::wrap_key_data(&ptk.kek, &plain)
    };
    let m3 = KeyFrame {
        eapol_version: 2,
        iv: m3_iv,
        key_info: version
            | info::PAIRWISE
            | info::INSTALL
            | info::ACK
            | info::MIC
            | info::SECURE
            | info::ENCRYPTED,
        key_len: spec.pairwise.tk_len() as u16,
        replay: 2,
        nonce: anonce,
        key_data: m3_kd,
        ..KeyFrame::default()
    }
    .signed(mic_algo, &ptk.kck);
    let s = air.seq(ap);
    air.emit(eapol_frame(DsDir::FromDs, ap, sta, s, &m3));
    let m4 = KeyFrame {
        eapol_version: 1,
        key_info: version | info::PAIRWISE | info::MIC | info::SECURE,
        replay: 2,
        ..KeyFrame::default()
    }
    .signed(mic_algo, &ptk.kck);
    let s = air.seq(sta);
    air.emit(eapol_frame(DsDir::ToDs, ap, sta, s, &m4));

    // 4. Traffic.
    let mut cap = NetworkCapture {
        spec: spec.clone(),
        frames: Vec::new(),
        keys: NetworkKeys {
            pmk: key.clone(),
            pmkid: exchange_pmkid,
            msk,
            tks: vec![ptk.tk.as_slice().to_vec()],
            gtk: gtk.clone(),
            igtk: igtk.clone(),
        },
        unicast_payloads: Vec::new(),
        group_payloads: Vec::new(),
        protected_mgmt: 0,
        bip_frames: 0,
    };
    let tag = format!(
        "plugsniff-synth {} {}",
        akm::name(spec.akm),
        spec.pairwise.name()
    );
    let traffic = |air: &mut Air, cap: &mut NetworkCapture, bss: MacAddr, tk: &[u8], n0: usize| {
        for i in 0..4 {
            let n = n0 + i;
            let payload = format!("{tag} #{n}").into_bytes();
            let (dir, tx, rx, src, dst) = if i % 2 == 0 {
                (DsDir::ToDs, sta, bss, [10, 0, 0, 2], [10, 0, 0, 1])
            } else {
                (DsDir::FromDs, bss, sta, [10, 0, 0, 1], [10, 0, 0, 2])
            };
            let udp = frames::ipv4_udp(src, dst, 64, 40_000 + n as u16, 5_000, &payload);
            let (a1, a2, a3) = match dir {
                DsDir::ToDs => (bss, sta, bss),
                DsDir::FromDs => (sta, bss, bss),
            };
            let seq = air.seq(tx);
            let h = frames::data_header(dir, a1, a2, a3, seq, DataOpts::default());
            let pn = air.pn(tx, rx);
            air.emit(protect(
                spec.pairwise,
                tk,
                &h,
                pn,
                0,
                &frames::llc_snap(ethertype::IPV4, &udp),
            ));
            cap.unicast_payloads.push(payload);
        }
    };
    traffic(&mut air, &mut cap, ap, ptk.tk.as_slice(), 0);
    // A broadcast under the GTK (key ID 1).
    {
        let payload = format!("{tag} broadcast").into_bytes();
        let udp = frames::ipv4_udp([10, 0, 0, 1], [10, 0, 0, 255], 64, 5_001, 5_001, &payload);
        let seq = air.seq(ap);
        let h = frames::data_header(
            DsDir::FromDs,
            MacAddr::BROADCAST,
            ap,
            ap,
            seq,
            DataOpts::default(),
        );
        let pn = air.pn(ap, MacAddr::BROADCAST);
        air.emit(protect(
            spec.group,
            &gtk,
            &h,
            pn,
            1,
            &frames::llc_snap(ethertype::IPV4, &udp),
        ));
        cap.group_payloads.push(payload);
    }
    if let (Some(algo), Some(ik)) = (mfp, &igtk) {
        // A protected unicast SA Query request (robust management frame).
        let mut h = frames::mgmt_header(mgmt::ACTION, sta, ap, ap, air.seq(ap));
        h[1] |= fc::PROTECTED;
        let pn = air.pn(ap, sta);
        let sa_query = [8u8, 0, 0x12, 0x34];
        air.emit(protect(
            spec.pairwise,
            ptk.tk.as_slice(),
            &h,
            pn,
            0,
            &sa_query,
        ));
        cap.protected_mgmt += 1;
        // A BIP-protected broadcast action frame (Spectrum management).
        let mut f = frames::mgmt_header(mgmt::ACTION, MacAddr::BROADCAST, ap, ap, air.seq(ap));
        f.extend_from_slice(&[0, 4, 0, 0, 0]); // Spectrum management, Channel Switch
        air.emit(bip::protect(algo, ik, &f, 4, 2));
        cap.bip_frames += 1;
    }

    // 5. FT roam to AP2.
    if spec.roam && params.ft {
        let ap2 = spec.ap2;
        let snonce2 = rng.bytes::<32>();
        let anonce2 = rng.bytes::<32>();
        let (r0, r0n) = kdf::pmk_r0(params.hash, &key, &ids);
        let (r1, r1n2) = kdf::pmk_r1(params.hash, &r0, &r0n, &ap2.0, &sta);
        let ptk2 = kdf::ft_ptk(
            params.hash,
            &r1,
            params.kck_len,
            params.kek_len,
            &anonce2,
            &snonce2,
            &ap2,
            &sta,
            spec.pairwise,
        );
        let mut b2 = frames::mgmt_header(mgmt::BEACON, MacAddr::BROADCAST, ap2, ap2, air.seq(ap2));
        b2.extend_from_slice(&2_000u64.to_le_bytes());
        b2.extend_from_slice(&100u16.to_le_bytes());
        b2.extend_from_slice(&0x0011u16.to_le_bytes());
        b2.extend(frames::ie(0, spec.ssid.as_bytes()));
        b2.extend(frames::ie(3, &[40]));
        b2.extend(rsn_ie(spec.group, spec.pairwise, spec.akm, mfp, &[]));
        b2.extend(mde(mdid));
        air.emit(b2);
        let r0_subs: Vec<(u8, &[u8])> = vec![(3, &r0kh_id)];
        // FT authentication request and response (algorithm 2).
        let mut a = frames::mgmt_header(mgmt::AUTH, ap2, sta, ap2, air.seq(sta));
        a.extend_from_slice(&[2, 0, 1, 0, 0, 0]);
        a.extend(rsn_ie(spec.group, spec.pairwise, spec.akm, mfp, &[r0_name]));
        a.extend(mde(mdid));
        a.extend(fte(ft_mic_len, 0, &zero, &snonce2, &r0_subs));
        air.emit(a);
        let both: Vec<(u8, Vec<u8>)> = vec![(1, ap2.0.to_vec()), (3, r0kh_id.clone())];
        let both_ref: Vec<(u8, &[u8])> = both.iter().map(|(i, b)| (*i, b.as_slice())).collect();
        let mut a = frames::mgmt_header(mgmt::AUTH, sta, ap2, ap2, air.seq(ap2));
        a.extend_from_slice(&[2, 0, 2, 0, 0, 0]);
        a.extend(rsn_ie(spec.group, spec.pairwise, spec.akm, mfp, &[r0_name]));
        a.extend(mde(mdid));
        a.extend(fte(ft_mic_len, 0, &anonce2, &snonce2, &both_ref));
        air.emit(a);
        // Reassociation request with the FTE MIC (transaction 5).
        let ft_mic = |txn: u8, rsne: &[u8], md: &[u8], fte_el: &mut Vec<u8>| {
            let parts: [&[u8]; 6] = [&sta.0, &ap2.0, &[txn], rsne, md, fte_el];
            let m = crate::wpa::mic::compute_parts(params.mic, &ptk2.kck, &parts);
            fte_el[4..4 + m.len()].copy_from_slice(&m);
        };
        let rsne2 = rsn_ie(spec.group, spec.pairwise, spec.akm, mfp, &[r1n2]);
        let md = mde(mdid);
        let mut f5 = fte(ft_mic_len, 3, &anonce2, &snonce2, &both_ref);
        ft_mic(5, &rsne2, &md, &mut f5);
        let mut rr = frames::mgmt_header(mgmt::REASSOC_REQ, ap2, sta, ap2, air.seq(sta));
        rr.extend_from_slice(&0x0011u16.to_le_bytes());
        rr.extend_from_slice(&10u16.to_le_bytes());
        rr.extend_from_slice(&ap.0);
        rr.extend(frames::ie(0, spec.ssid.as_bytes()));
        rr.extend(rsne2.clone());
        rr.extend(md.clone());
        rr.extend(f5);
        air.emit(rr);
        // Reassociation response: FTE MIC (transaction 6), the GTK (and
        // IGTK) subelements wrapped with the new KEK.
        let mut gsub = vec![0x01, 0x00, gtk.len() as u8];
        gsub.extend_from_slice(&[0; 8]);
        gsub.extend(frames::wrap_key_data(&ptk2.kek, &gtk));
        let mut subs6: Vec<(u8, Vec<u8>)> =
            vec![(1, ap2.0.to_vec()), (2, gsub), (3, r0kh_id.clone())];
        if let Some(ik) = &igtk {
            let mut isub = vec![4, 0, 1, 0, 0, 0, 0, 0, ik.len() as u8];
            isub.extend(frames::wrap_key_data(&ptk2.kek, ik));
            subs6.push((4, isub));
        }
        let subs6_ref: Vec<(u8, &[u8])> = subs6.iter().map(|(i, b)| (*i, b.as_slice())).collect();
        let mut f6 = fte(ft_mic_len, 3, &anonce2, &snonce2, &subs6_ref);
        ft_mic(6, &rsne2, &md, &mut f6);
        let mut rp = frames::mgmt_header(mgmt::REASSOC_RESP, sta, ap2, ap2, air.seq(ap2));
        rp.extend_from_slice(&0x0011u16.to_le_bytes());
        rp.extend_from_slice(&0u16.to_le_bytes());
        rp.extend_from_slice(&0xc002u16.to_le_bytes());
        rp.extend(rsne2);
        rp.extend(md);
        rp.extend(f6);
        air.emit(rp);
        cap.keys.tks.push(ptk2.tk.as_slice().to_vec());
        traffic(&mut air, &mut cap, ap2, ptk2.tk.as_slice(), 4);
        // The same GTK under AP2's BSSID.
        let payload = format!("{tag} broadcast 2").into_bytes();
        let udp = frames::ipv4_udp([10, 0, 0, 1], [10, 0, 0, 255], 64, 5_001, 5_001, &payload);
        let seq = air.seq(ap2);
        let h = frames::data_header(
            DsDir::FromDs,
            MacAddr::BROADCAST,
            ap2,
            ap2,
            seq,
            DataOpts::default(),
        );
        let pn = air.pn(ap2, MacAddr::BROADCAST);
        air.emit(protect(
            spec.group,
            &gtk,
            &h,
            pn,
            1,
            &frames::llc_snap(ethertype::IPV4, &udp),
        ));
        cap.group_payloads.push(payload);
    }
    cap.frames = air.out;
    cap
}

/// The KCK the station signs message 2 with: the PTK's, or under
/// [`NetworkSpec::station_passphrase`] one from the station's own passphrase.
fn station_ptk(
    spec: &NetworkSpec,
    ptk: &Ptk,
    anonce: &[u8; 32],
    snonce: &[u8; 32],
    params: akm::AkmParams,
    _pmk_len: usize,
) -> crate::wpa::keys::KeyPart {
    let Some(p) = &spec.station_passphrase else {
        return ptk.kck.clone();
    };
    let pmk = kdf::pmk_from_passphrase(&Passphrase::new(p.clone()), spec.ssid.as_bytes());
    let theirs = kdf::derive_ptk_akm(
        pmk.as_bytes(),
        params.hash,
        params.kck_len,
        params.kek_len,
        &spec.ap,
        &spec.sta,
        anonce,
        snonce,
        spec.pairwise,
    );
    theirs.kck.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(key_version(0x000F_AC02, Cipher::Ccmp), 2);
        assert_eq!(key_version(0x000F_AC02, Cipher::Tkip), 1);
        assert_eq!(key_version(0x000F_AC06, Cipher::Ccmp), 3);
        assert_eq!(key_version(0x000F_AC04, Cipher::Ccmp), 3);
        assert_eq!(key_version(0x000F_AC08, Cipher::Ccmp), 0);
        assert_eq!(key_version(0x000F_AC0C, Cipher::Gcmp256), 0);
    }

    #[test]
    fn deterministic() {
        let s = NetworkSpec::new(0x000F_AC0C, Cipher::Gcmp256);
        assert_eq!(build(&s).frames, build(&s).frames);
        let c = build(&s);
        assert_eq!(c.keys.pmk.len(), 48);
        assert_eq!(c.keys.tks[0].len(), 32);
        assert_eq!(c.unicast_payloads.len(), 4);
    }
}
