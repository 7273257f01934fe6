//! CCMP-128 and CCMP-256 decryption of one MPDU (IEEE 802.11-2020 12.5.3).
//!
//! Everything here is a pure function of a temporal key (16 bytes for
//! CCMP-128, 32 for CCMP-256) and the bytes of one MPDU, so it can run on any worker thread. The caller passes the whole MPDU
//! without FCS plus the length of its MAC header (24, 26, 30 or 32 bytes, plus 4
//! when an HT Control field is present); this module never re-derives the header
//! length, but it does refuse a `hdr_len` too short for the fields the Frame
//! Control field says are present.
//!
//! Layout of a CCMP-protected MPDU (12.5.3.2, Figure 12-16):
//!
//! ```text
//! MAC header | PN0 PN1 rsvd KeyID-octet PN2 PN3 PN4 PN5 | data (encrypted) | MIC (8, encrypted)
//! ```
//!
//! - AAD construction: 12.5.3.3.3. Nonce construction: 12.5.3.3.4.
//! - CCM itself comes from the `ccm` crate: AES-128 with M = 8 (CCMP-128),
//!   AES-256 with M = 16 (CCMP-256, 12.5.3.1); both L = 2, 13-byte nonce.
//!   The AAD and nonce are the same for both.
//!
//! Frames are hostile: no function here panics on any input, and the only
//! allocation is the caller's `out` buffer, which grows to at most the frame size.

use aes::{Aes128, Aes256};
use ccm::Ccm;
use ccm::aead::array::Array;
use ccm::aead::{AeadInOut, KeyInit};
use ccm::consts::{U8, U13, U16};

/// Length of the CCMP header that follows the MAC header (12.5.3.2).
pub const CCMP_HDR_LEN: usize = 8;
/// Length of the CCMP-128 MIC trailer (12.5.3.2).
pub const CCMP_MIC_LEN: usize = 8;
/// Length of the CCMP-256 MIC trailer (12.5.3.2).
pub const CCMP256_MIC_LEN: usize = 16;
/// Largest AAD: FC 2 + A1..A3 18 + SC 2 + A4 6 + QC 2 = 30 (12.5.3.3.3).
const AAD_MAX: usize = 32 + 2;
/// Largest plaintext CCM with L = 2 can protect (RFC 3610 2.1): 2^16 − 1 bytes.
const CCM_MAX_LEN: usize = 0xffff;

/// AES-128-CCM with an 8-byte MIC and a 13-byte nonce, as CCMP-128 uses it.
type Aes128Ccm8 = Ccm<Aes128, U8, U13>;
/// AES-256-CCM with a 16-byte MIC and a 13-byte nonce, as CCMP-256 uses it.
type Aes256Ccm16 = Ccm<Aes256, U16, U13>;

/// The fields of the 8-byte CCMP header the receiver acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CcmpHdr {
    /// 48-bit packet number, PN0 least significant.
    pub pn: u64,
    /// Key ID, bits 6–7 of the fourth octet.
    pub key_id: u8,
}

/// Why an MPDU did not decrypt. Hot-path error: no allocation, no payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CcmpError {
    /// The frame is shorter than its MAC header + CCMP header + MIC, or `hdr_len`
    /// is shorter than the header its Frame Control field describes.
    #[error("frame too short for CCMP")]
    TooShort,
    /// The Ext IV bit (0x20 of the key ID octet) is clear: WEP, not CCMP.
    #[error("Ext IV bit clear: not a CCMP header")]
    NoExtIv,
    /// The MIC did not verify: wrong key, or the frame was altered.
    #[error("CCMP MIC mismatch")]
    MicFailure,
}

/// Additional authentication data built on the stack (12.5.3.3.3).
#[derive(Clone, Copy)]
pub struct Aad {
    buf: [u8; AAD_MAX],
    len: usize,
}

impl Aad {
    /// The AAD bytes: 22, 24, 28 or 30 of them.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    fn push(&mut self, b: &[u8]) {
        let end = self.len + b.len();
        if let Some(dst) = self.buf.get_mut(self.len..end) {
            dst.copy_from_slice(b);
            self.len = end;
        }
    }
}

impl std::fmt::Debug for Aad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Aad({})", hex::encode(self.as_bytes()))
    }
}

/// What Frame Control says about the header: the parts the AAD and nonce need.
#[derive(Clone, Copy)]
struct FcInfo {
    fc0: u8,
    fc1: u8,
    /// Frame type 2 (data).
    data: bool,
    /// Frame type 0 (management): sets the nonce's Management flag (12.5.3.3.4).
    mgmt: bool,
    /// QoS subtype of a data frame: QoS Control present.
    qos: bool,
    /// ToDS and FromDS both set on a data frame: A4 present.
    a4: bool,
}

impl FcInfo {
    fn new(frame: &[u8]) -> FcInfo {
        let fc0 = frame.first().copied().unwrap_or(0);
        let fc1 = frame.get(1).copied().unwrap_or(0);
        let ftype = (fc0 >> 2) & 0x3;
        let data = ftype == 2;
        FcInfo {
            fc0,
            fc1,
            data,
            mgmt: ftype == 0,
            qos: data && fc0 & 0x80 != 0,
            a4: data && fc1 & 0x03 == 0x03,
        }
    }

    /// Shortest MAC header with the fields this Frame Control announces.
    fn min_hdr_len(self) -> usize {
        24 + if self.a4 { 6 } else { 0 } + if self.qos { 2 } else { 0 }
    }

    /// Offset of QoS Control, when present.
    fn qc_off(self) -> usize {
        if self.a4 { 30 } else { 24 }
    }
}

/// Parses the 8-byte CCMP header after the MAC header (12.5.3.2).
///
/// Checks that the frame holds the header and that `hdr_len` covers the fields
/// Frame Control announces; does not check room for the MIC (see [`decrypt`]).
pub fn ccmp_header(frame: &[u8], hdr_len: usize) -> Result<CcmpHdr, CcmpError> {
    if hdr_len < FcInfo::new(frame).min_hdr_len() {
        return Err(CcmpError::TooShort);
    }
    let h = hdr_len
        .checked_add(CCMP_HDR_LEN)
        .and_then(|end| frame.get(hdr_len..end))
        .ok_or(CcmpError::TooShort)?;
    if h[3] & 0x20 == 0 {
        return Err(CcmpError::NoExtIv);
    }
    let pn = u64::from(h[0])
        | u64::from(h[1]) << 8
        | u64::from(h[4]) << 16
        | u64::from(h[5]) << 24
        | u64::from(h[6]) << 32
        | u64::from(h[7]) << 40;
    Ok(CcmpHdr {
        pn,
        key_id: h[3] >> 6,
    })
}

/// Builds the AAD (12.5.3.3.3) and the 13-byte CCM nonce (12.5.3.3.4).
///
/// AAD: masked Frame Control, A1, A2, A3, Sequence Control with the sequence
/// number masked (fragment number kept), A4 if present, QoS Control masked to the
/// TID if present. HT Control is never included.
/// Nonce: flags (TID of a QoS data frame; 0x10 for a management frame, 802.11w),
/// A2, PN5..PN0.
///
/// Total: bytes missing from a short `frame` read as zero. Callers that need a
/// meaningful result check lengths first, as [`decrypt`] does.
pub fn aad_and_nonce(frame: &[u8], hdr_len: usize, pn: u64) -> (Aad, [u8; 13]) {
    let fc = FcInfo::new(frame);
    let byte = |i: usize| frame.get(i).copied().unwrap_or(0);
    let mut aad = Aad {
        buf: [0; AAD_MAX],
        len: 0,
    };

    // Frame Control: subtype bits 4–6 masked in data frames; Retry, PwrMgt and
    // MoreData masked; Protected set; Order masked in QoS data frames.
    let fc0 = if fc.data { fc.fc0 & 0x8f } else { fc.fc0 };
    let mut fc1 = (fc.fc1 & !0x38) | 0x40;
    if fc.qos {
        fc1 &= 0x7f;
    }
    aad.push(&[fc0, fc1]);
    // A1, A2, A3.
    let mut addrs = [0u8; 18];
    for (i, a) in addrs.iter_mut().enumerate() {
        *a = byte(4 + i);
    }
    aad.push(&addrs);
    // Sequence Control: fragment number only.
    aad.push(&[byte(22) & 0x0f, 0]);
    if fc.a4 {
        let mut a4 = [0u8; 6];
        for (i, a) in a4.iter_mut().enumerate() {
            *a = byte(24 + i);
        }
        aad.push(&a4);
    }
    let mut tid = 0;
    if fc.qos && hdr_len >= fc.min_hdr_len() {
        // QoS Control: TID only; EOSP, Ack Policy, A-MSDU Present (non-SPP) and
        // the whole second octet masked.
        tid = byte(fc.qc_off()) & 0x0f;
        aad.push(&[tid, 0]);
    } else if fc.qos {
        aad.push(&[0, 0]);
    }

    let mut nonce = [0u8; 13];
    nonce[0] = tid | if fc.mgmt { 0x10 } else { 0 };
    for i in 0..6 {
        nonce[1 + i] = byte(10 + i);
    }
    let pn_be = pn.to_be_bytes();
    nonce[7..13].copy_from_slice(&pn_be[2..8]);
    (aad, nonce)
}

/// A CCMP-128 key with its AES key schedule expanded once, for callers that
/// decrypt many frames under the same key.
#[derive(Clone)]
pub struct CcmpKey(Aes128Ccm8);

/// A protected MPDU's parts (IEEE 802.11-2020 12.5.3.2): its CCMP header, the
/// ciphertext between that header and the MIC, and the 8-byte MIC. The checks
/// every decryptor makes in this order, so all of them fail alike: a frame too
/// short for header + MIC is `TooShort`; a payload longer than CCM with L = 2
/// can carry cannot verify (`MicFailure`).
pub fn split_mpdu(
    frame: &[u8],
    hdr_len: usize,
) -> Result<(CcmpHdr, &[u8], [u8; CCMP_MIC_LEN]), CcmpError> {
    split_mpdu_n::<CCMP_MIC_LEN>(frame, hdr_len, CCM_MAX_LEN)
}

/// [`split_mpdu`] for a MIC of `M` bytes and a ciphertext of at most
/// `max_len` bytes (longer cannot verify: `MicFailure`). Shared with GCMP,
/// whose header has the same layout (12.5.5.2).
pub(crate) fn split_mpdu_n<const M: usize>(
    frame: &[u8],
    hdr_len: usize,
    max_len: usize,
) -> Result<(CcmpHdr, &[u8], [u8; M]), CcmpError> {
    let hdr = ccmp_header(frame, hdr_len)?;
    let body_start = hdr_len + CCMP_HDR_LEN;
    let mic_start = frame
        .len()
        .checked_sub(M)
        .filter(|&m| m >= body_start)
        .ok_or(CcmpError::TooShort)?;
    let ciphertext = &frame[body_start..mic_start];
    if ciphertext.len() > max_len {
        return Err(CcmpError::MicFailure);
    }
    let mut tag = [0u8; M];
    tag.copy_from_slice(&frame[mic_start..]);
    Ok((hdr, ciphertext, tag))
}

/// The 8-byte header of a CCMP or GCMP MPDU for `pn` and `key_id`
/// (12.5.3.2, 12.5.5.2): PN0 PN1 reserved KeyID-octet (Ext IV set) PN2..PN5.
pub fn security_header(pn: u64, key_id: u8) -> [u8; CCMP_HDR_LEN] {
    let p = pn.to_le_bytes();
    [
        p[0],
        p[1],
        0,
        0x20 | (key_id & 0x3) << 6,
        p[2],
        p[3],
        p[4],
        p[5],
    ]
}

/// Decrypts one CCMP-256 MPDU (32-byte TK, 16-byte MIC) and verifies its
/// MIC; otherwise as [`decrypt`].
pub fn decrypt_256(
    tk: &[u8; 32],
    frame: &[u8],
    hdr_len: usize,
    out: &mut Vec<u8>,
) -> Result<CcmpHdr, CcmpError> {
    out.clear();
    let (hdr, ciphertext, tag) = split_mpdu_n::<CCMP256_MIC_LEN>(frame, hdr_len, CCM_MAX_LEN)?;
    let (aad, nonce) = aad_and_nonce(frame, hdr_len, hdr.pn);
    out.extend_from_slice(ciphertext);
    let res = Aes256Ccm16::new(&Array::from(*tk)).decrypt_inout_detached(
        &Array::from(nonce),
        aad.as_bytes(),
        out.as_mut_slice().into(),
        &Array::from(tag),
    );
    match res {
        Ok(()) => Ok(hdr),
        Err(_) => {
            out.clear();
            Err(CcmpError::MicFailure)
        }
    }
}

/// Builds a CCMP-256-protected MPDU (see [`encrypt`]).
///
/// # Panics
/// If `plaintext` is longer than 65 535 bytes.
pub fn encrypt_256(tk: &[u8; 32], header: &[u8], pn: u64, key_id: u8, plaintext: &[u8]) -> Vec<u8> {
    let mut frame =
        Vec::with_capacity(header.len() + CCMP_HDR_LEN + plaintext.len() + CCMP256_MIC_LEN);
    frame.extend_from_slice(header);
    frame.extend_from_slice(&security_header(pn, key_id));
    let (aad, nonce) = aad_and_nonce(header, header.len(), pn);
    let body_start = frame.len();
    frame.extend_from_slice(plaintext);
    let tag = Aes256Ccm16::new(&Array::from(*tk))
        .encrypt_inout_detached(
            &Array::from(nonce),
            aad.as_bytes(),
            (&mut frame[body_start..]).into(),
        )
        .expect("CCMP plaintext longer than 65535 bytes");
    frame.extend_from_slice(&tag);
    frame
}

impl CcmpKey {
    /// Expands the AES-128 key schedule for `tk`.
    pub fn new(tk: &[u8; 16]) -> CcmpKey {
        CcmpKey(Aes128Ccm8::new(&Array::from(*tk)))
    }

    /// See [`decrypt`].
    pub fn decrypt(
        &self,
        frame: &[u8],
        hdr_len: usize,
        out: &mut Vec<u8>,
    ) -> Result<CcmpHdr, CcmpError> {
        out.clear();
        self.decrypt_append(frame, hdr_len, out)
    }

    /// [`CcmpKey::decrypt`] appending the plaintext to what `out` already
    /// holds; on an error `out` is as it was.
    pub fn decrypt_append(
        &self,
        frame: &[u8],
        hdr_len: usize,
        out: &mut Vec<u8>,
    ) -> Result<CcmpHdr, CcmpError> {
        let start = out.len();
        let (hdr, ciphertext, tag) = split_mpdu(frame, hdr_len)?;
        let (aad, nonce) = aad_and_nonce(frame, hdr_len, hdr.pn);

        out.extend_from_slice(ciphertext);
        let res = self.0.decrypt_inout_detached(
            &Array::from(nonce),
            aad.as_bytes(),
            (&mut out[start..]).into(),
            &Array::from(tag),
        );
        match res {
            Ok(()) => Ok(hdr),
            Err(_) => {
                out.truncate(start);
                Err(CcmpError::MicFailure)
            }
        }
    }
}

impl std::fmt::Debug for CcmpKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CcmpKey(<redacted>)")
    }
}

/// Decrypts one CCMP-protected MPDU and verifies its MIC.
///
/// On success `out` holds the plaintext between the CCMP header and the MIC
/// (cleared first, capacity reused) and the parsed CCMP header is returned; the
/// caller does replay checking against `pn`. On any error `out` is empty.
pub fn decrypt(
    tk: &[u8; 16],
    frame: &[u8],
    hdr_len: usize,
    out: &mut Vec<u8>,
) -> Result<CcmpHdr, CcmpError> {
    CcmpKey::new(tk).decrypt(frame, hdr_len, out)
}

/// Builds a CCMP-protected MPDU: `header` (the MAC header, Protected bit set by
/// the caller), the CCMP header for `pn` / `key_id`, the encrypted `plaintext`
/// and the MIC. For tests and the synthetic frame generator.
///
/// # Panics
/// If `plaintext` is longer than 65 535 bytes, the most CCM with L = 2 can
/// protect; no 802.11 MPDU is that long.
pub fn encrypt(tk: &[u8; 16], header: &[u8], pn: u64, key_id: u8, plaintext: &[u8]) -> Vec<u8> {
    let mut frame =
        Vec::with_capacity(header.len() + CCMP_HDR_LEN + plaintext.len() + CCMP_MIC_LEN);
    frame.extend_from_slice(header);
    frame.extend_from_slice(&security_header(pn, key_id));
    let (aad, nonce) = aad_and_nonce(header, header.len(), pn);
    let body_start = frame.len();
    frame.extend_from_slice(plaintext);
    let tag = Aes128Ccm8::new(&Array::from(*tk))
        .encrypt_inout_detached(
            &Array::from(nonce),
            aad.as_bytes(),
            (&mut frame[body_start..]).into(),
        )
        .expect("CCMP plaintext longer than 65535 bytes");
    frame.extend_from_slice(&tag);
    frame
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    const TK: [u8; 16] = [
        0xc9, 0x7c, 0x1f, 0x67, 0xce, 0x37, 0x11, 0x85, 0x51, 0x4a, 0x8a, 0x19, 0xf2, 0xbd, 0xd5,
        0x2f,
    ];

    /// IEEE 802.11-2020 J.6.4, CCMP test MPDU #1.
    fn annex_frame() -> Vec<u8> {
        h(
            "08 48 c3 2c 0f d2 e1 28 a5 7c 50 30 f1 84 44 08 ab ae a5 b8 fc ba 80 33 \
           0c e7 00 20 76 97 03 b5 \
           f3 d0 a2 fe 9a 3d bf 23 42 a6 43 e4 32 46 e8 0c 3c 04 d0 19 \
           78 45 ce 0b 16 f9 76 23",
        )
    }
    const ANNEX_PT: &str = "f8 ba 1a 55 d0 2f 85 ae 96 7b b6 2f b6 cd a8 eb 7e 78 a0 50";

    #[test]
    fn annex_j64_header_aad_nonce() {
        let f = annex_frame();
        let hdr = ccmp_header(&f, 24).unwrap();
        assert_eq!(
            hdr,
            CcmpHdr {
                pn: 0xB503_9776_E70C,
                key_id: 0
            }
        );
        let (aad, nonce) = aad_and_nonce(&f, 24, hdr.pn);
        // "Muted 802.11 Header" and "CCM Nonce" of the annex.
        assert_eq!(
            aad.as_bytes(),
            h("08 40 0f d2 e1 28 a5 7c 50 30 f1 84 44 08 ab ae a5 b8 fc ba 00 00")
        );
        assert_eq!(nonce.to_vec(), h("00 50 30 f1 84 44 08 b5 03 97 76 e7 0c"));
    }

    #[test]
    fn annex_j64_decrypt() {
        let mut out = Vec::new();
        let hdr = decrypt(&TK, &annex_frame(), 24, &mut out).unwrap();
        assert_eq!(hdr.pn, 0xB503_9776_E70C);
        assert_eq!(out, h(ANNEX_PT));
    }

    /// CCMP-256 on the Annex J.6.4 frame with hostapd's CCMP-256 test key
    /// (`wlantest/test_vectors.c`); the expected ciphertext and 16-byte MIC
    /// were computed independently with Python's `cryptography` (AESCCM,
    /// tag length 16) from the annex's AAD and nonce, which the same script
    /// checked against the annex's CCMP-128 result first.
    #[test]
    fn ccmp_256_known_answer() {
        let tk: [u8; 32] = h("c97c1f67ce371185514a8a19f2bdd52f000102030405060708090a0b0c0d0e0f")
            .try_into()
            .unwrap();
        let f = annex_frame();
        let enc = encrypt_256(&tk, &f[..24], 0xB503_9776_E70C, 0, &h(ANNEX_PT));
        assert_eq!(&enc[..32], &f[..32]);
        assert_eq!(
            hex::encode(&enc[32..]),
            "6d155d8832668256d6a92b78e11d8e54495dd17480aa56c9492e882b97642f80d50fe97b"
        );
        let mut out = Vec::new();
        assert_eq!(
            decrypt_256(&tk, &enc, 24, &mut out).unwrap().pn,
            0xB503_9776_E70C
        );
        assert_eq!(out, h(ANNEX_PT));
        // The CCMP-128 frame is not a CCMP-256 one, and the reverse.
        assert_eq!(
            decrypt_256(&tk, &f, 24, &mut out),
            Err(CcmpError::MicFailure)
        );
        assert!(decrypt(&TK, &enc, 24, &mut out).is_err());
        for len in 0..enc.len() {
            let r = decrypt_256(&tk, &enc[..len], 24, &mut out);
            assert_eq!(
                r,
                Err(if len < 24 + 8 + 16 {
                    CcmpError::TooShort
                } else {
                    CcmpError::MicFailure
                }),
                "len {len}"
            );
            assert!(out.is_empty());
        }
    }

    #[test]
    fn annex_j64_encrypt() {
        let f = annex_frame();
        let enc = encrypt(&TK, &f[..24], 0xB503_9776_E70C, 0, &h(ANNEX_PT));
        assert_eq!(enc, f);
    }

    fn round_trip(header: &[u8], pn: u64, key_id: u8) {
        let pt: Vec<u8> = (0..100u8).collect();
        let f = encrypt(&TK, header, pn, key_id, &pt);
        let mut out = vec![0xaa; 3];
        let hdr = decrypt(&TK, &f, header.len(), &mut out).unwrap();
        assert_eq!(hdr, CcmpHdr { pn, key_id });
        assert_eq!(out, pt);

        // Every single-bit flip outside the masked fields fails the MIC or the
        // header parse; spot-check one byte of each region.
        for i in [1, 4, 10, 16, header.len(), header.len() + 8, f.len() - 1] {
            let mut t = f.clone();
            t[i] ^= 0x01;
            let r = decrypt(&TK, &t, header.len(), &mut out);
            assert!(r.is_err(), "flip at {i} accepted");
            assert!(out.is_empty());
        }
    }

    #[test]
    fn round_trip_qos_data() {
        // QoS data, FromDS, Order set (HT Control present), TID 5, A-MSDU present.
        let mut hdr = h(
            "88 c2 00 00 01 02 03 04 05 06 11 12 13 14 15 16 21 22 23 24 25 26 40 12 \
                         85 00 00 00 00 00",
        );
        assert_eq!(hdr.len(), 30);
        let (aad, nonce) = aad_and_nonce(&hdr, 30, 7);
        assert_eq!(aad.as_bytes().len(), 24);
        assert_eq!(&aad.as_bytes()[..2], &[0x88 & 0x8f, 0x42]);
        assert_eq!(&aad.as_bytes()[22..], &[0x05, 0x00]);
        assert_eq!(nonce[0], 5);
        round_trip(&hdr, 7, 0);
        // Masked bits do not change the AAD: Retry, PwrMgt, MoreData, seq number,
        // ack policy / EOSP / A-MSDU present, HT Control.
        hdr[1] |= 0x38;
        hdr[22] ^= 0xf0;
        hdr[23] ^= 0xff;
        hdr[24] |= 0xf0;
        hdr[25] = 0xff;
        hdr[26] = 0x55;
        assert_eq!(aad_and_nonce(&hdr, 30, 7).0.as_bytes(), aad.as_bytes());
    }

    #[test]
    fn round_trip_four_address() {
        // QoS data, ToDS + FromDS, TID 3.
        let hdr = h(
            "88 43 00 00 01 02 03 04 05 06 11 12 13 14 15 16 21 22 23 24 25 26 51 00 \
                     31 32 33 34 35 36 03 00",
        );
        let (aad, nonce) = aad_and_nonce(&hdr, 32, 1);
        assert_eq!(aad.as_bytes().len(), 30);
        assert_eq!(&aad.as_bytes()[22..28], &hdr[24..30]);
        assert_eq!(&aad.as_bytes()[28..], &[3, 0]);
        assert_eq!(nonce[0], 3);
        round_trip(&hdr, 1, 1);
        // Non-QoS four-address.
        let hdr = h(
            "08 43 00 00 01 02 03 04 05 06 11 12 13 14 15 16 21 22 23 24 25 26 51 00 \
                     31 32 33 34 35 36",
        );
        assert_eq!(aad_and_nonce(&hdr, 30, 1).0.as_bytes().len(), 28);
        round_trip(&hdr, 0xffff_ffff_ffff, 3);
    }

    #[test]
    fn round_trip_management() {
        // Robust action frame (802.11w): subtype bits kept, Management nonce flag.
        let hdr = h("d0 40 3a 01 01 02 03 04 05 06 11 12 13 14 15 16 21 22 23 24 25 26 10 00");
        let (aad, nonce) = aad_and_nonce(&hdr, 24, 2);
        assert_eq!(&aad.as_bytes()[..2], &[0xd0, 0x40]);
        assert_eq!(nonce[0], 0x10);
        round_trip(&hdr, 2, 0);
    }

    #[test]
    fn header_errors() {
        let f = annex_frame();
        let mut no_ext = f.clone();
        no_ext[27] &= !0x20;
        assert_eq!(ccmp_header(&no_ext, 24), Err(CcmpError::NoExtIv));
        let mut out = Vec::new();
        assert_eq!(decrypt(&TK, &no_ext, 24, &mut out), Err(CcmpError::NoExtIv));
        // hdr_len shorter than the QoS header Frame Control announces.
        let mut qos = f.clone();
        qos[0] = 0x88;
        assert_eq!(ccmp_header(&qos, 24), Err(CcmpError::TooShort));
        assert_eq!(ccmp_header(&f, usize::MAX), Err(CcmpError::TooShort));
        // Key ID in bits 6-7.
        let mut k = f.clone();
        k[27] = 0xe0;
        assert_eq!(ccmp_header(&k, 24).unwrap().key_id, 3);
    }

    #[test]
    fn wrong_key_is_mic_failure() {
        let mut tk = TK;
        tk[15] ^= 1;
        let mut out = Vec::new();
        assert_eq!(
            decrypt(&tk, &annex_frame(), 24, &mut out),
            Err(CcmpError::MicFailure)
        );
        assert!(out.is_empty());
    }

    #[test]
    fn every_truncation() {
        let f = annex_frame();
        let mut out = Vec::new();
        for len in 0..f.len() {
            let r = decrypt(&TK, &f[..len], 24, &mut out);
            if len < 24 + 16 {
                assert_eq!(r, Err(CcmpError::TooShort), "len {len}");
            } else {
                assert_eq!(r, Err(CcmpError::MicFailure), "len {len}");
            }
            assert!(out.is_empty());
            for hdr_len in [0, 23, 24, 26, 30, 32, 36, len, len + 1] {
                let _ = decrypt(&TK, &f[..len], hdr_len, &mut out);
                let _ = aad_and_nonce(&f[..len], hdr_len, 0);
            }
        }
        // Empty payload: header + CCMP header + MIC only.
        let e = encrypt(&TK, &f[..24], 9, 0, &[]);
        assert_eq!(e.len(), 40);
        assert!(decrypt(&TK, &e, 24, &mut out).is_ok());
        assert!(out.is_empty());
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(
            frame in proptest::collection::vec(any::<u8>(), 0..200),
            hdr_len in 0usize..64,
        ) {
            let mut out = Vec::new();
            let _ = ccmp_header(&frame, hdr_len);
            let _ = aad_and_nonce(&frame, hdr_len, u64::MAX);
            if decrypt(&TK, &frame, hdr_len, &mut out).is_err() {
                prop_assert!(out.is_empty());
            }
            prop_assert!(out.len() <= frame.len());
        }

        #[test]
        fn random_round_trip(
            mut header in proptest::collection::vec(any::<u8>(), 32..=32),
            pt in proptest::collection::vec(any::<u8>(), 0..300),
            pn in 0u64..(1 << 48),
            key_id in 0u8..4,
        ) {
            header[0] = 0x88;
            header[1] = 0x43;
            let f = encrypt(&TK, &header, pn, key_id, &pt);
            let mut out = Vec::new();
            prop_assert_eq!(decrypt(&TK, &f, 32, &mut out), Ok(CcmpHdr { pn, key_id }));
            prop_assert_eq!(out, pt);
        }
    }

    /// Real data: every unicast protected frame of `wpa2-psk-linksys.cap` (SSID
    /// `linksys`, passphrase `dictionary`; see captures/README.md) sent after a
    /// handshake decrypts under exactly one of the TKs of its three four-way
    /// handshakes. The TKs were
    /// derived outside this module (PBKDF2 → PRF-512 → PTK octets 32..48). Some
    /// frames are retransmissions (Retry set), which the AAD masks. Skipped when
    /// the shared captures directory is absent.
    #[test]
    fn real_capture_wpa2_psk_linksys() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/captures/wpa2-psk-linksys.cap"
        );
        let Ok(cap) = std::fs::read(path) else {
            eprintln!("skipped: {path} not found");
            return;
        };
        let tks: Vec<[u8; 16]> = [
            "03c8a3e8f5b3c825d3dccce7e5e3f263",
            "0ab0404984be2ef15086aa997804f47e",
            "1d035e8beb4f83611dc93e2657cecf69",
        ]
        .iter()
        .map(|t| h(t).try_into().unwrap())
        .collect();
        // pcap, link type 105 (bare 802.11, no FCS).
        assert_eq!(&cap[20..24], &105u32.to_le_bytes());
        let (mut off, mut ok, mut retries, mut none, mut out) = (24, 0, 0, 0, Vec::new());
        while off + 16 <= cap.len() {
            let incl = u32::from_le_bytes(cap[off + 8..off + 12].try_into().unwrap()) as usize;
            let f = &cap[off + 16..off + 16 + incl];
            off += 16 + incl;
            // Protected non-QoS data frames (24-byte header) to a unicast DA.
            if f.len() < 24 || f[0] != 0x08 || f[1] & 0x40 == 0 {
                continue;
            }
            let da = match f[1] & 0x03 {
                0x02 => f[4],
                0x01 => f[16],
                _ => continue,
            };
            if da & 1 == 1 {
                continue; // group-addressed: GTK, not derived here
            }
            let hits = tks
                .iter()
                .filter(|tk| decrypt(tk, f, 24, &mut out).is_ok())
                .count();
            match hits {
                0 => none += 1,
                1 => {
                    ok += 1;
                    retries += usize::from(f[1] & 0x08 != 0);
                }
                _ => panic!("frame at offset {off} decrypts under {hits} keys"),
            }
        }
        // 28 unicast protected frames decrypt (captures/README.md), 5 of them
        // retries; the 2 sent before the first handshake cannot.
        assert_eq!((ok, retries, none), (28, 5, 2));
    }
}
