//! Frame emitters: the setter side of [`crate::wire`].
//!
//! Every function here returns owned bytes and is a pure function of its
//! arguments (no clock, no randomness: the caller passes nonces, ISNs and
//! timestamps), so a scenario built from them is byte-for-byte reproducible.
//!
//! Layers, bottom up:
//! - radiotap ([`radiotap`], [`with_radiotap`]), optionally with an FCS;
//! - 802.11 management ([`beacon`], [`probe_resp`], [`auth`], [`assoc_req`],
//!   [`assoc_resp`]) and QoS data headers ([`data_header`]), A-MSDU ([`amsdu`]);
//! - EAPOL-Key ([`KeyFrame`], [`m1`] … [`m4`], [`g1`], [`g2`]) with real MICs
//!   (`wpa::mic::compute`) and AES-key-wrapped key data (RFC 3394);
//! - CCMP ([`protect`], which calls [`crate::crypto::ccmp::encrypt`]);
//! - LLC/SNAP ([`llc_snap`]), IPv4/IPv6 with UDP and TCP (etherparse
//!   `PacketBuilder`), a whole TCP connection ([`TcpConn`]), ARP, DNS, and a
//!   TLS 1.2 ClientHello with SNI.

use aes_kw::{KeyInit, KwAes128, KwAes256};
use etherparse::PacketBuilder;

use crate::crypto::ccmp;
use crate::wire::MacAddr;
use crate::wire::dot11::{fc, mgmt};
use crate::wire::eapol::{MIC_LEN, MIC_OFFSET, info};
use crate::wire::llc::ethertype;
use crate::wire::rsn::suite;
use crate::wpa::keys::Ptk;
use crate::wpa::mic::{self, MicAlgo};

// ---------------------------------------------------------------------------
// Radiotap
// ---------------------------------------------------------------------------

/// What the radiotap header says about one received frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Radio {
    /// Channel centre frequency in MHz (2437 = channel 6).
    pub freq: u16,
    /// Legacy rate in 500 kb/s units (2 = 1 Mb/s, 108 = 54 Mb/s).
    pub rate: u8,
    /// Antenna signal in dBm.
    pub dbm: i8,
    /// Append a (correct) FCS and set the radiotap "FCS at end" flag.
    pub fcs: bool,
}

impl Default for Radio {
    fn default() -> Self {
        Radio {
            freq: 2437,
            rate: 108,
            dbm: -48,
            fcs: false,
        }
    }
}

/// Radiotap `present` bits used: Flags (1), Rate (2), Channel (3), dBm antenna signal (5).
const RT_PRESENT: u32 = (1 << 1) | (1 << 2) | (1 << 3) | (1 << 5);
/// Header (8) + flags (1) + rate (1) + channel (2 + 2, 2-aligned at 10) + signal (1).
pub const RADIOTAP_LEN: usize = 15;

/// A minimal radiotap header (radiotap.org: Flags, Rate, Channel, dBm Antenna Signal).
pub fn radiotap(r: &Radio) -> Vec<u8> {
    let mut v = Vec::with_capacity(RADIOTAP_LEN);
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(&(RADIOTAP_LEN as u16).to_le_bytes());
    v.extend_from_slice(&RT_PRESENT.to_le_bytes());
    v.push(if r.fcs { 0x10 } else { 0 }); // Flags: 0x10 = FCS at end
    v.push(r.rate);
    v.extend_from_slice(&r.freq.to_le_bytes());
    // Channel flags: 2 GHz (0x0080) + OFDM (0x0040), or 5 GHz (0x0100) + OFDM.
    let chan_flags: u16 = if r.freq < 3000 { 0x00c0 } else { 0x0140 };
    v.extend_from_slice(&chan_flags.to_le_bytes());
    v.push(r.dbm as u8);
    v
}

/// Radiotap header + `dot11` (+ FCS, CRC-32 little-endian, when `r.fcs`).
pub fn with_radiotap(r: &Radio, dot11: &[u8]) -> Vec<u8> {
    let mut v = radiotap(r);
    v.extend_from_slice(dot11);
    if r.fcs {
        v.extend_from_slice(&crc32fast::hash(dot11).to_le_bytes());
    }
    v
}

// ---------------------------------------------------------------------------
// Management frames
// ---------------------------------------------------------------------------

/// The security a BSS advertises in its RSN element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Security {
    /// WPA2-Personal: AKM 00-0F-AC:2 (PSK), CCMP pairwise and group,
    /// EAPOL-Key descriptor version 2 (HMAC-SHA1-128 MIC).
    #[default]
    Wpa2Psk,
    /// AKM 00-0F-AC:6 (PSK-SHA256) with management frame protection required
    /// (MFPC + MFPR, BIP-CMAC-128): descriptor version 3 (AES-CMAC MIC).
    /// Only the advertisement and handshake change; management frames are
    /// not protected by this generator.
    PskSha256Mfp,
}

impl Security {
    pub fn akm(self) -> u32 {
        match self {
            Security::Wpa2Psk => suite::AKM_PSK,
            Security::PskSha256Mfp => suite::AKM_PSK_SHA256,
        }
    }
    /// EAPOL-Key descriptor version (Key Information bits 0–2).
    pub fn key_version(self) -> u16 {
        match self {
            Security::Wpa2Psk => 2,
            Security::PskSha256Mfp => 3,
        }
    }
    pub fn mic_algo(self) -> MicAlgo {
        match self {
            Security::Wpa2Psk => MicAlgo::HmacSha1_128,
            Security::PskSha256Mfp => MicAlgo::AesCmac,
        }
    }
}

fn push_suite(v: &mut Vec<u8>, s: u32) {
    v.extend_from_slice(&s.to_be_bytes());
}

/// The RSN element (ID 48) for `sec`, header included (IEEE 802.11-2020 9.4.2.24).
pub fn rsn_ie(sec: Security) -> Vec<u8> {
    let mut b = vec![1, 0]; // version 1
    push_suite(&mut b, suite::CCMP); // group data cipher
    b.extend_from_slice(&1u16.to_le_bytes());
    push_suite(&mut b, suite::CCMP); // pairwise
    b.extend_from_slice(&1u16.to_le_bytes());
    push_suite(&mut b, sec.akm());
    match sec {
        // RSN capabilities: 16 PTKSA replay counters.
        Security::Wpa2Psk => b.extend_from_slice(&0x000cu16.to_le_bytes()),
        Security::PskSha256Mfp => {
            b.extend_from_slice(&(0x000cu16 | 0x0080 | 0x0040).to_le_bytes());
            b.extend_from_slice(&0u16.to_le_bytes()); // PMKID count
            push_suite(&mut b, suite::BIP_CMAC_128); // group management cipher
        }
    }
    ie(48, &b)
}

/// One information element: ID, length, body.
pub fn ie(id: u8, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(2 + body.len());
    v.push(id);
    v.push(body.len().min(255) as u8);
    v.extend_from_slice(&body[..body.len().min(255)]);
    v
}

/// Supported rates 1, 2, 5.5, 11 (basic), 6, 9, 12, 18 Mb/s.
const RATES: [u8; 8] = [0x82, 0x84, 0x8b, 0x96, 0x0c, 0x12, 0x18, 0x24];
/// Extended supported rates 24, 36, 48, 54 Mb/s.
const EXT_RATES: [u8; 4] = [0x30, 0x48, 0x60, 0x6c];
/// Capability: ESS, Privacy, Short Preamble, Short Slot Time.
const CAPABILITY: u16 = 0x0431;

/// A 24-byte management header (IEEE 802.11-2020 9.3.3.2).
pub fn mgmt_header(subtype: u8, da: MacAddr, sa: MacAddr, bssid: MacAddr, seq: u16) -> Vec<u8> {
    let mut v = Vec::with_capacity(24);
    v.push(subtype << 4);
    v.push(0);
    v.extend_from_slice(&[0x3a, 0x01]); // duration 314 µs
    v.extend_from_slice(&da.0);
    v.extend_from_slice(&sa.0);
    v.extend_from_slice(&bssid.0);
    v.extend_from_slice(&(seq << 4).to_le_bytes());
    v
}

#[allow(clippy::too_many_arguments)]
fn beacon_like(
    subtype: u8,
    da: MacAddr,
    bssid: MacAddr,
    seq: u16,
    tsf: u64,
    ssid: &[u8],
    channel: u8,
    sec: Security,
) -> Vec<u8> {
    let mut v = mgmt_header(subtype, da, bssid, bssid, seq);
    v.extend_from_slice(&tsf.to_le_bytes());
    v.extend_from_slice(&100u16.to_le_bytes()); // beacon interval, TU
    v.extend_from_slice(&CAPABILITY.to_le_bytes());
    v.extend(ie(0, ssid));
    v.extend(ie(1, &RATES));
    v.extend(ie(3, &[channel]));
    if subtype == mgmt::BEACON {
        v.extend(ie(5, &[0, 1, 0, 0])); // TIM: DTIM count 0, period 1
    }
    v.extend(ie(42, &[0])); // ERP
    v.extend(rsn_ie(sec));
    v.extend(ie(50, &EXT_RATES));
    v
}

/// A beacon (IEEE 802.11-2020 9.3.3.3) with SSID, rates, DS, TIM, ERP and RSN elements.
pub fn beacon(
    bssid: MacAddr,
    seq: u16,
    tsf: u64,
    ssid: &[u8],
    channel: u8,
    sec: Security,
) -> Vec<u8> {
    beacon_like(
        mgmt::BEACON,
        MacAddr::BROADCAST,
        bssid,
        seq,
        tsf,
        ssid,
        channel,
        sec,
    )
}

/// A probe response to `sta` (same elements as a beacon, without the TIM).
#[allow(clippy::too_many_arguments)]
pub fn probe_resp(
    bssid: MacAddr,
    sta: MacAddr,
    seq: u16,
    tsf: u64,
    ssid: &[u8],
    channel: u8,
    sec: Security,
) -> Vec<u8> {
    beacon_like(mgmt::PROBE_RESP, sta, bssid, seq, tsf, ssid, channel, sec)
}

/// Open System authentication, transaction `txn` (1 from the STA, 2 from the AP).
pub fn auth(da: MacAddr, sa: MacAddr, bssid: MacAddr, seq: u16, txn: u16) -> Vec<u8> {
    let mut v = mgmt_header(mgmt::AUTH, da, sa, bssid, seq);
    v.extend_from_slice(&0u16.to_le_bytes()); // algorithm: Open System
    v.extend_from_slice(&txn.to_le_bytes());
    v.extend_from_slice(&0u16.to_le_bytes()); // status: success
    v
}

/// Association request from `sta` (capability, listen interval, SSID, rates, RSN).
pub fn assoc_req(bssid: MacAddr, sta: MacAddr, seq: u16, ssid: &[u8], sec: Security) -> Vec<u8> {
    let mut v = mgmt_header(mgmt::ASSOC_REQ, bssid, sta, bssid, seq);
    v.extend_from_slice(&CAPABILITY.to_le_bytes());
    v.extend_from_slice(&10u16.to_le_bytes()); // listen interval
    v.extend(ie(0, ssid));
    v.extend(ie(1, &RATES));
    v.extend(ie(50, &EXT_RATES));
    v.extend(rsn_ie(sec));
    v
}

/// Association response granting `aid`.
pub fn assoc_resp(bssid: MacAddr, sta: MacAddr, seq: u16, aid: u16) -> Vec<u8> {
    let mut v = mgmt_header(mgmt::ASSOC_RESP, sta, bssid, bssid, seq);
    v.extend_from_slice(&CAPABILITY.to_le_bytes());
    v.extend_from_slice(&0u16.to_le_bytes()); // status
    v.extend_from_slice(&(aid | 0xc000).to_le_bytes());
    v.extend(ie(1, &RATES));
    v.extend(ie(50, &EXT_RATES));
    v
}

// ---------------------------------------------------------------------------
// Data frames
// ---------------------------------------------------------------------------

/// Which way a data frame crosses the DS (IEEE 802.11-2020 Table 9-30).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DsDir {
    /// STA → AP: A1 = BSSID, A2 = SA (the STA), A3 = DA.
    ToDs,
    /// AP → STA: A1 = DA, A2 = BSSID, A3 = SA.
    FromDs,
}

/// Options of one QoS data header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DataOpts {
    pub tid: u8,
    pub protected: bool,
    pub retry: bool,
    /// A-MSDU Present (QoS Control bit 7): the body is a list of subframes.
    pub amsdu: bool,
}

/// A 26-byte QoS data header (IEEE 802.11-2020 9.3.2.1).
pub fn data_header(
    dir: DsDir,
    a1: MacAddr,
    a2: MacAddr,
    a3: MacAddr,
    seq: u16,
    o: DataOpts,
) -> Vec<u8> {
    let mut flags = match dir {
        DsDir::ToDs => fc::TO_DS,
        DsDir::FromDs => fc::FROM_DS,
    };
    if o.protected {
        flags |= fc::PROTECTED;
    }
    if o.retry {
        flags |= fc::RETRY;
    }
    let mut v = Vec::with_capacity(26);
    v.push(0x88); // type Data (2), subtype QoS Data (8)
    v.push(flags);
    v.extend_from_slice(&[0x30, 0x00]); // duration 48 µs
    v.extend_from_slice(&a1.0);
    v.extend_from_slice(&a2.0);
    v.extend_from_slice(&a3.0);
    v.extend_from_slice(&((seq & 0x0fff) << 4).to_le_bytes());
    v.push((o.tid & 0x0f) | if o.amsdu { 0x80 } else { 0 });
    v.push(0);
    v
}

/// LLC/SNAP (RFC 1042) header + payload.
pub fn llc_snap(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + payload.len());
    v.extend_from_slice(&[0xaa, 0xaa, 0x03, 0, 0, 0]);
    v.extend_from_slice(&ethertype.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// A-MSDU body (IEEE 802.11-2020 9.3.2.2.2): per subframe DA, SA, length,
/// the LLC-framed MSDU, and padding to 4 bytes between subframes.
pub fn amsdu(subframes: &[(MacAddr, MacAddr, &[u8])]) -> Vec<u8> {
    let mut v = Vec::new();
    for (i, (da, sa, llc)) in subframes.iter().enumerate() {
        v.extend_from_slice(&da.0);
        v.extend_from_slice(&sa.0);
        v.extend_from_slice(&(llc.len() as u16).to_be_bytes());
        v.extend_from_slice(llc);
        if i + 1 < subframes.len() {
            while v.len() % 4 != 0 {
                v.push(0);
            }
        }
    }
    v
}

/// CCMP-protects `body` under `header` (Protected bit set here): the MPDU
/// with CCMP header and MIC ([`crate::crypto::ccmp::encrypt`]).
pub fn protect(tk: &[u8; 16], header: &[u8], pn: u64, key_id: u8, body: &[u8]) -> Vec<u8> {
    let mut h = header.to_vec();
    if h.len() > 1 {
        h[1] |= fc::PROTECTED;
    }
    ccmp::encrypt(tk, &h, pn, key_id, body)
}

// ---------------------------------------------------------------------------
// EAPOL-Key
// ---------------------------------------------------------------------------

/// The fields of one EAPOL-Key frame (IEEE 802.11-2020 12.7.2, Figure 12-32).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyFrame {
    /// 802.1X protocol version: 2 from hostapd, 1 from wpa_supplicant by default.
    pub eapol_version: u8,
    pub key_info: u16,
    pub key_len: u16,
    pub replay: u64,
    pub nonce: [u8; 32],
    pub iv: [u8; 16],
    /// Key RSC: the group key's next PN, little-endian as on the wire.
    pub rsc: u64,
    pub key_data: Vec<u8>,
}

impl KeyFrame {
    /// The 802.1X frame (header onward) with a 16-byte MIC field, zero.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_bytes_mic(MIC_LEN)
    }

    /// The 802.1X frame with a `mic_len`-byte MIC field, zero (24 for AKMs 12
    /// and 13, IEEE 802.11-2020 12.7.2).
    pub fn to_bytes_mic(&self, mic_len: usize) -> Vec<u8> {
        let body_len = 95 - MIC_LEN + mic_len + self.key_data.len();
        let mut v = Vec::with_capacity(4 + body_len);
        v.push(self.eapol_version);
        v.push(3); // EAPOL-Key
        v.extend_from_slice(&(body_len as u16).to_be_bytes());
        v.push(2); // descriptor type: RSN
        v.extend_from_slice(&self.key_info.to_be_bytes());
        v.extend_from_slice(&self.key_len.to_be_bytes());
        v.extend_from_slice(&self.replay.to_be_bytes());
        v.extend_from_slice(&self.nonce);
        v.extend_from_slice(&self.iv);
        v.extend_from_slice(&self.rsc.to_le_bytes());
        v.extend_from_slice(&[0; 8]); // reserved (Key ID)
        debug_assert_eq!(v.len(), MIC_OFFSET);
        v.resize(MIC_OFFSET + mic_len, 0);
        v.extend_from_slice(&(self.key_data.len() as u16).to_be_bytes());
        v.extend_from_slice(&self.key_data);
        v
    }

    /// The frame with its Key MIC computed under `kck` (`wpa::mic::compute`),
    /// the MIC field as long as the algorithm's.
    pub fn signed(&self, algo: MicAlgo, kck: &[u8]) -> Vec<u8> {
        let mut v = self.to_bytes_mic(algo.mic_len());
        let m = mic::compute(algo, kck, &v);
        v[MIC_OFFSET..MIC_OFFSET + m.len()].copy_from_slice(&m);
        v
    }
}

/// Pads key data for AES key wrap (IEEE 802.11-2020 12.7.2 j): if shorter
/// than 16 bytes or not a multiple of 8, append 0xdd then zeros.
pub fn pad_key_data(data: &mut Vec<u8>) {
    if data.len() < 16 || !data.len().is_multiple_of(8) {
        data.push(0xdd);
        while data.len() < 16 || !data.len().is_multiple_of(8) {
            data.push(0);
        }
    }
}

/// AES key wrap (RFC 3394 §2.2.1) of padded key data under the KEK: AES-128
/// for a 16-byte KEK, AES-256 for a 32-byte one (AKMs 12, 13).
///
/// # Panics
/// If the KEK is neither 16 nor 32 bytes long.
pub fn wrap_key_data(kek: &[u8], plain: &[u8]) -> Vec<u8> {
    let mut padded = plain.to_vec();
    pad_key_data(&mut padded);
    let mut out = vec![0u8; padded.len() + 8];
    let n = match kek.len() {
        16 => KwAes128::new_from_slice(kek)
            .expect("16 bytes")
            .wrap_key(&padded, &mut out)
            .map(|w| w.len()),
        32 => KwAes256::new_from_slice(kek)
            .expect("32 bytes")
            .wrap_key(&padded, &mut out)
            .map(|w| w.len()),
        l => panic!("KEK of {l} bytes"),
    }
    .expect("padded key data is a multiple of 8 bytes, at least 16");
    out.truncate(n);
    out
}

/// GTK KDE (00-0F-AC:1): key ID, Tx bit, the key.
pub fn gtk_kde(key_id: u8, gtk: &[u8; 16]) -> Vec<u8> {
    let mut b = vec![0x00, 0x0f, 0xac, 1, (key_id & 3) | 0x04, 0];
    b.extend_from_slice(gtk);
    ie(0xdd, &b)
}

fn ki(sec: Security, bits: u16) -> u16 {
    sec.key_version() | bits
}

/// Message 1: ANonce, no MIC.
pub fn m1(sec: Security, replay: u64, anonce: [u8; 32]) -> Vec<u8> {
    KeyFrame {
        eapol_version: 2,
        key_info: ki(sec, info::PAIRWISE | info::ACK),
        key_len: 16,
        replay,
        nonce: anonce,
        ..KeyFrame::default()
    }
    .to_bytes()
}

/// Message 2: SNonce and the STA's RSN element, MIC under the new KCK.
pub fn m2(sec: Security, ptk: &Ptk, replay: u64, snonce: [u8; 32]) -> Vec<u8> {
    KeyFrame {
        eapol_version: 1,
        key_info: ki(sec, info::PAIRWISE | info::MIC),
        key_len: 0,
        replay,
        nonce: snonce,
        key_data: rsn_ie(sec),
        ..KeyFrame::default()
    }
    .signed(sec.mic_algo(), &ptk.kck)
}

/// Message 3: ANonce, Install, key data = RSN element + GTK KDE wrapped with the KEK.
pub fn m3(
    sec: Security,
    ptk: &Ptk,
    replay: u64,
    anonce: [u8; 32],
    gtk: (u8, &[u8; 16]),
    rsc: u64,
) -> Vec<u8> {
    let mut plain = rsn_ie(sec);
    plain.extend(gtk_kde(gtk.0, gtk.1));
    KeyFrame {
        eapol_version: 2,
        key_info: ki(
            sec,
            info::PAIRWISE | info::INSTALL | info::ACK | info::MIC | info::SECURE | info::ENCRYPTED,
        ),
        key_len: 16,
        replay,
        nonce: anonce,
        rsc,
        key_data: wrap_key_data(&ptk.kek, &plain),
        ..KeyFrame::default()
    }
    .signed(sec.mic_algo(), &ptk.kck)
}

/// Message 4: MIC only.
pub fn m4(sec: Security, ptk: &Ptk, replay: u64) -> Vec<u8> {
    KeyFrame {
        eapol_version: 1,
        key_info: ki(sec, info::PAIRWISE | info::MIC | info::SECURE),
        replay,
        ..KeyFrame::default()
    }
    .signed(sec.mic_algo(), &ptk.kck)
}

/// Group message 1: the new GTK KDE wrapped with the KEK.
pub fn g1(sec: Security, ptk: &Ptk, replay: u64, gtk: (u8, &[u8; 16]), rsc: u64) -> Vec<u8> {
    KeyFrame {
        eapol_version: 2,
        key_info: ki(sec, info::ACK | info::MIC | info::SECURE | info::ENCRYPTED),
        replay,
        rsc,
        key_data: wrap_key_data(&ptk.kek, &gtk_kde(gtk.0, gtk.1)),
        ..KeyFrame::default()
    }
    .signed(sec.mic_algo(), &ptk.kck)
}

/// Group message 2: MIC only.
pub fn g2(sec: Security, ptk: &Ptk, replay: u64) -> Vec<u8> {
    KeyFrame {
        eapol_version: 1,
        key_info: ki(sec, info::MIC | info::SECURE),
        replay,
        ..KeyFrame::default()
    }
    .signed(sec.mic_algo(), &ptk.kck)
}

// ---------------------------------------------------------------------------
// IP, UDP, TCP
// ---------------------------------------------------------------------------

/// An IPv4 + UDP datagram (checksums set).
pub fn ipv4_udp(
    src: [u8; 4],
    dst: [u8; 4],
    ttl: u8,
    sport: u16,
    dport: u16,
    payload: &[u8],
) -> Vec<u8> {
    let b = PacketBuilder::ipv4(src, dst, ttl).udp(sport, dport);
    let mut v = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut v, payload).expect("writing to a Vec");
    v
}

/// An IPv6 + UDP datagram (checksums set).
pub fn ipv6_udp(
    src: [u8; 16],
    dst: [u8; 16],
    hop: u8,
    sport: u16,
    dport: u16,
    payload: &[u8],
) -> Vec<u8> {
    let b = PacketBuilder::ipv6(src, dst, hop).udp(sport, dport);
    let mut v = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut v, payload).expect("writing to a Vec");
    v
}

/// TCP control flags for [`ipv4_tcp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SegFlags {
    pub syn: bool,
    pub ack: bool,
    pub psh: bool,
    pub fin: bool,
}

/// An IPv4 + TCP segment (checksums set).
#[allow(clippy::too_many_arguments)]
pub fn ipv4_tcp(
    src: ([u8; 4], u16),
    dst: ([u8; 4], u16),
    ttl: u8,
    seq: u32,
    ack: u32,
    window: u16,
    flags: SegFlags,
    payload: &[u8],
) -> Vec<u8> {
    let mut b = PacketBuilder::ipv4(src.0, dst.0, ttl).tcp(src.1, dst.1, seq, window);
    if flags.syn {
        b = b.syn();
    }
    if flags.ack {
        b = b.ack(ack);
    }
    if flags.psh {
        b = b.psh();
    }
    if flags.fin {
        b = b.fin();
    }
    let mut v = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut v, payload).expect("writing to a Vec");
    v
}

/// Which end of a [`TcpConn`] sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

/// One TCP connection with its sequence numbers: every call returns the next
/// IPv4 segment, with seq/ack consistent across the whole connection.
#[derive(Debug, Clone)]
pub struct TcpConn {
    pub client: ([u8; 4], u16),
    pub server: ([u8; 4], u16),
    /// Next sequence number each side sends.
    c_next: u32,
    s_next: u32,
    pub client_ttl: u8,
    pub server_ttl: u8,
    pub client_window: u16,
    pub server_window: u16,
}

impl TcpConn {
    pub fn new(
        client: ([u8; 4], u16),
        server: ([u8; 4], u16),
        client_isn: u32,
        server_isn: u32,
    ) -> Self {
        TcpConn {
            client,
            server,
            c_next: client_isn,
            s_next: server_isn,
            client_ttl: 64,
            server_ttl: 64,
            client_window: 64_240,
            server_window: 5_840,
        }
    }

    fn seg(&mut self, from: Side, flags: SegFlags, payload: &[u8]) -> Vec<u8> {
        let (src, dst, ttl, win, seq, ack) = match from {
            Side::Client => (
                self.client,
                self.server,
                self.client_ttl,
                self.client_window,
                self.c_next,
                self.s_next,
            ),
            Side::Server => (
                self.server,
                self.client,
                self.server_ttl,
                self.server_window,
                self.s_next,
                self.c_next,
            ),
        };
        let used = payload.len() as u32 + u32::from(flags.syn) + u32::from(flags.fin);
        match from {
            Side::Client => self.c_next = self.c_next.wrapping_add(used),
            Side::Server => self.s_next = self.s_next.wrapping_add(used),
        }
        ipv4_tcp(src, dst, ttl, seq, ack, win, flags, payload)
    }

    /// Client SYN.
    pub fn syn(&mut self) -> Vec<u8> {
        let f = SegFlags {
            syn: true,
            ..SegFlags::default()
        };
        self.seg(Side::Client, f, &[])
    }
    /// Server SYN-ACK.
    pub fn syn_ack(&mut self) -> Vec<u8> {
        let f = SegFlags {
            syn: true,
            ack: true,
            ..SegFlags::default()
        };
        self.seg(Side::Server, f, &[])
    }
    /// A bare ACK.
    pub fn ack(&mut self, from: Side) -> Vec<u8> {
        let f = SegFlags {
            ack: true,
            ..SegFlags::default()
        };
        self.seg(from, f, &[])
    }
    /// A PSH-ACK data segment.
    pub fn data(&mut self, from: Side, payload: &[u8]) -> Vec<u8> {
        let f = SegFlags {
            ack: true,
            psh: true,
            ..SegFlags::default()
        };
        self.seg(from, f, payload)
    }
    /// FIN-ACK.
    pub fn fin(&mut self, from: Side) -> Vec<u8> {
        let f = SegFlags {
            ack: true,
            fin: true,
            ..SegFlags::default()
        };
        self.seg(from, f, &[])
    }
}

// ---------------------------------------------------------------------------
// ARP, DNS, TLS
// ---------------------------------------------------------------------------

/// An ARP packet for IPv4 over Ethernet (RFC 826); `op` 1 request, 2 reply.
pub fn arp(op: u16, sha: MacAddr, spa: [u8; 4], tha: MacAddr, tpa: [u8; 4]) -> Vec<u8> {
    let mut v = Vec::with_capacity(28);
    v.extend_from_slice(&1u16.to_be_bytes());
    v.extend_from_slice(&ethertype::IPV4.to_be_bytes());
    v.extend_from_slice(&[6, 4]);
    v.extend_from_slice(&op.to_be_bytes());
    v.extend_from_slice(&sha.0);
    v.extend_from_slice(&spa);
    v.extend_from_slice(&tha.0);
    v.extend_from_slice(&tpa);
    v
}

fn dns_name(v: &mut Vec<u8>, name: &str) {
    for label in name.split('.').filter(|l| !l.is_empty()) {
        v.push(label.len().min(63) as u8);
        v.extend_from_slice(&label.as_bytes()[..label.len().min(63)]);
    }
    v.push(0);
}

/// A DNS query for the A record of `name` (RFC 1035 §4.1), recursion desired.
pub fn dns_query(id: u16, name: &str) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&id.to_be_bytes());
    v.extend_from_slice(&0x0100u16.to_be_bytes());
    v.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    dns_name(&mut v, name);
    v.extend_from_slice(&[0, 1, 0, 1]); // A, IN
    v
}

/// The answer to [`dns_query`]: one A record with `ttl`.
pub fn dns_answer(id: u16, name: &str, addr: [u8; 4], ttl: u32) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&id.to_be_bytes());
    v.extend_from_slice(&0x8180u16.to_be_bytes()); // response, RD, RA, no error
    v.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 0]);
    dns_name(&mut v, name);
    v.extend_from_slice(&[0, 1, 0, 1]);
    v.extend_from_slice(&[0xc0, 0x0c]); // pointer to the question name
    v.extend_from_slice(&[0, 1, 0, 1]);
    v.extend_from_slice(&ttl.to_be_bytes());
    v.extend_from_slice(&4u16.to_be_bytes());
    v.extend_from_slice(&addr);
    v
}

fn ext(v: &mut Vec<u8>, ty: u16, body: &[u8]) {
    v.extend_from_slice(&ty.to_be_bytes());
    v.extend_from_slice(&(body.len() as u16).to_be_bytes());
    v.extend_from_slice(body);
}

/// A TLS 1.2 ClientHello record (RFC 5246 §7.4.1.2) with server_name
/// (RFC 6066 §3), supported_groups, ec_point_formats, signature_algorithms and
/// renegotiation_info, offering ECDHE-RSA/ECDSA AES-GCM and RSA AES suites.
pub fn tls_client_hello(random: [u8; 32], sni: &str) -> Vec<u8> {
    let mut hello = Vec::new();
    hello.extend_from_slice(&[0x03, 0x03]);
    hello.extend_from_slice(&random);
    hello.push(0); // session id
    let suites: [u16; 9] = [
        0xc02f, 0xc030, 0xc02b, 0xc02c, 0x009e, 0x009c, 0x003c, 0x002f, 0x0035,
    ];
    hello.extend_from_slice(&((suites.len() * 2) as u16).to_be_bytes());
    for s in suites {
        hello.extend_from_slice(&s.to_be_bytes());
    }
    hello.extend_from_slice(&[1, 0]); // compression: null
    let mut exts = Vec::new();
    let name = sni.as_bytes();
    let mut sn = Vec::new();
    sn.extend_from_slice(&((name.len() + 3) as u16).to_be_bytes());
    sn.push(0); // host_name
    sn.extend_from_slice(&(name.len() as u16).to_be_bytes());
    sn.extend_from_slice(name);
    ext(&mut exts, 0x0000, &sn);
    ext(&mut exts, 0x000a, &[0, 4, 0x00, 0x17, 0x00, 0x18]);
    ext(&mut exts, 0x000b, &[1, 0]);
    ext(
        &mut exts,
        0x000d,
        &[0, 8, 0x04, 0x01, 0x05, 0x01, 0x04, 0x03, 0x02, 0x01],
    );
    ext(&mut exts, 0xff01, &[0]);
    hello.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    hello.extend_from_slice(&exts);

    let mut hs = vec![1]; // client_hello
    hs.extend_from_slice(&(hello.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&hello);
    let mut rec = vec![0x16, 0x03, 0x01];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::dot11::Dot11;
    use crate::wire::eapol::{EapolKey, Message};
    use crate::wire::link::{FcsStatus, LinkKind, locate_dot11};
    use crate::wpa::gtk;
    use crate::wpa::keys::{Cipher, TemporalKey};

    fn mac(b: u8) -> MacAddr {
        MacAddr([0x02, 0, 0, 0, 0, b])
    }

    fn ptk() -> Ptk {
        use crate::wpa::keys::KeyPart;
        Ptk {
            kck: KeyPart::from_slice(&[1; 16]).unwrap(),
            kek: KeyPart::from_slice(&[2; 16]).unwrap(),
            tk: TemporalKey::new(Cipher::Ccmp, &[3; 16]).unwrap(),
        }
    }

    #[test]
    fn synth_radiotap_round_trips_with_and_without_fcs() {
        let d = beacon(mac(1), 7, 1234, b"net", 6, Security::Wpa2Psk);
        for fcs in [false, true] {
            let r = Radio {
                fcs,
                ..Radio::default()
            };
            let raw = with_radiotap(&r, &d);
            let l = locate_dot11(LinkKind::Radiotap, &raw).unwrap();
            assert_eq!(l.start, RADIOTAP_LEN);
            assert_eq!(&raw[l.start..l.end], &d[..]);
            assert_eq!(
                l.fcs,
                if fcs {
                    FcsStatus::Present
                } else {
                    FcsStatus::Absent
                }
            );
            assert_eq!(l.radio.channel_freq, Some(2437));
            assert_eq!(l.radio.dbm_signal, Some(-48));
        }
    }

    #[test]
    fn synth_data_header_parses() {
        let h = data_header(
            DsDir::ToDs,
            mac(1),
            mac(2),
            mac(3),
            0x123,
            DataOpts {
                tid: 5,
                amsdu: true,
                ..DataOpts::default()
            },
        );
        let d = Dot11::new_checked(&h, false).unwrap();
        assert!(d.to_ds() && d.is_qos() && d.amsdu());
        assert_eq!(d.tid(), 5);
        assert_eq!(d.seq_ctl(), Some((0x123, 0)));
        assert_eq!(d.bssid(), Some(mac(1)));
        assert_eq!(d.sa(), Some(mac(2)));
        assert_eq!(d.da(), Some(mac(3)));
    }

    #[test]
    fn synth_eapol_messages_classify_and_verify() {
        let p = ptk();
        let sec = Security::Wpa2Psk;
        let gtk_key = [9u8; 16];
        let frames = [
            (m1(sec, 1, [4; 32]), Message::M1),
            (m2(sec, &p, 1, [5; 32]), Message::M2),
            (m3(sec, &p, 2, [4; 32], (1, &gtk_key), 0), Message::M3),
            (m4(sec, &p, 2), Message::M4),
            (g1(sec, &p, 3, (2, &gtk_key), 0), Message::G1),
            (g2(sec, &p, 3), Message::G2),
        ];
        for (f, want) in &frames {
            let k = EapolKey::new_checked(f).unwrap().unwrap();
            assert_eq!(k.message(), *want);
            if *want != Message::M1 {
                assert!(mic::verify(MicAlgo::HmacSha1_128, &p.kck, f, MIC_OFFSET));
            }
        }
        let k = EapolKey::new_checked(&frames[2].0).unwrap().unwrap();
        let mut plain = Vec::new();
        gtk::decrypt_key_data(2, &p.kek, k.key_iv(), k.key_data(), &mut plain).unwrap();
        let found = gtk::kdes(&plain)
            .any(|kde| matches!(kde, gtk::Kde::Gtk { key_id: 1, key, .. } if key == gtk_key));
        assert!(found);
    }

    #[test]
    fn synth_tcp_conn_numbers() {
        let mut c = TcpConn::new(([10, 0, 0, 1], 50000), ([10, 0, 0, 2], 9999), 1000, 5000);
        let syn = c.syn();
        let sa = c.syn_ack();
        let _ = c.ack(Side::Client);
        let d = c.data(Side::Client, b"hello");
        let r = c.data(Side::Server, b"hi");
        let ts = |p: &[u8]| match etherparse::SlicedPacket::from_ip(p).unwrap().transport {
            Some(etherparse::TransportSlice::Tcp(t)) => {
                (t.sequence_number(), t.acknowledgment_number())
            }
            _ => panic!(),
        };
        assert_eq!(ts(&syn).0, 1000);
        assert_eq!(ts(&sa), (5000, 1001));
        assert_eq!(ts(&d), (1001, 5001));
        assert_eq!(ts(&r), (5001, 1006));
    }

    #[test]
    fn synth_client_hello_parses() {
        let rec = tls_client_hello([7; 32], "n-devs.tplinkcloud.com");
        let (rest, _) = tls_parser::parse_tls_plaintext(&rec).unwrap();
        assert!(rest.is_empty());
    }
}
