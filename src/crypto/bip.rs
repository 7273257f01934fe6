//! BIP: the integrity protection of group-addressed robust management frames
//! (IEEE 802.11-2020 12.5.4): BIP-CMAC-128, BIP-CMAC-256, BIP-GMAC-128 and
//! BIP-GMAC-256.
//!
//! Such a frame (a broadcast Deauthentication, Disassociation or robust
//! Action frame under 802.11w) is not encrypted; it carries a Management MIC
//! element (MME, 9.4.2.53) as the last element of its body:
//!
//! ```text
//! ID 76 | Length 16 or 24 | Key ID (2, LE) | IPN (6, LE) | MIC (8 or 16)
//! ```
//!
//! The MIC covers `AAD ‖ body` with the MME's MIC field zeroed, where AAD is
//! Frame Control with Retry, Power Management and More Data masked to 0,
//! then A1, A2, A3 (12.5.4.5). CMAC: AES-CMAC (RFC 4493) truncated to the MIC
//! length; GMAC: AES-GCM with an empty plaintext, nonce `A2 ‖ IPN` (IPN most
//! significant octet first). The IPN is the replay counter (12.5.4.4), checked
//! by the caller.
//!
//! Pure functions of the IGTK and the frame bytes; nothing here panics on any
//! input or allocates in proportion to it (the MAC is fed in pieces).

use aes::{Aes128, Aes256};
use aes_gcm::AesGcm;
use aes_gcm::aead::array::Array;
use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{AeadInOut, KeyInit};
use cmac::{Cmac, Mac};

/// Element ID of the Management MIC element (IEEE 802.11-2020 Table 9-92).
pub const ID_MME: u8 = 76;
/// MAC header length of a management frame without HT Control.
const MGMT_HDR_LEN: usize = 24;

/// The group management cipher (IEEE 802.11-2020 Table 9-149).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BipAlgo {
    /// 00-0F-AC:6, AES-128-CMAC, 8-byte MIC.
    Cmac128,
    /// 00-0F-AC:13, AES-256-CMAC, 16-byte MIC.
    Cmac256,
    /// 00-0F-AC:11, AES-128-GMAC, 16-byte MIC.
    Gmac128,
    /// 00-0F-AC:12, AES-256-GMAC, 16-byte MIC.
    Gmac256,
}

impl BipAlgo {
    /// The algorithm of a group management cipher suite selector.
    pub fn from_suite(s: u32) -> Option<BipAlgo> {
        match s {
            0x000F_AC06 => Some(BipAlgo::Cmac128),
            0x000F_AC0B => Some(BipAlgo::Gmac128),
            0x000F_AC0C => Some(BipAlgo::Gmac256),
            0x000F_AC0D => Some(BipAlgo::Cmac256),
            _ => None,
        }
    }

    /// The suite selector.
    pub fn suite(self) -> u32 {
        match self {
            BipAlgo::Cmac128 => 0x000F_AC06,
            BipAlgo::Gmac128 => 0x000F_AC0B,
            BipAlgo::Gmac256 => 0x000F_AC0C,
            BipAlgo::Cmac256 => 0x000F_AC0D,
        }
    }

    /// Length of the MIC in the MME.
    pub fn mic_len(self) -> usize {
        match self {
            BipAlgo::Cmac128 => 8,
            _ => 16,
        }
    }

    /// Length of the IGTK.
    pub fn key_len(self) -> usize {
        match self {
            BipAlgo::Cmac128 | BipAlgo::Gmac128 => 16,
            BipAlgo::Cmac256 | BipAlgo::Gmac256 => 32,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            BipAlgo::Cmac128 => "BIP-CMAC-128",
            BipAlgo::Cmac256 => "BIP-CMAC-256",
            BipAlgo::Gmac128 => "BIP-GMAC-128",
            BipAlgo::Gmac256 => "BIP-GMAC-256",
        }
    }
}

/// The fields of an MME.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mme<'a> {
    pub key_id: u16,
    /// The IGTK packet number (48 bits).
    pub ipn: u64,
    pub mic: &'a [u8],
    /// Offset of the MIC field from the start of the frame.
    pub mic_offset: usize,
}

/// Why a frame did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BipError {
    /// No MME of the algorithm's length at the end of the body.
    #[error("no management MIC element")]
    NoMme,
    /// The IGTK is not as long as the algorithm needs.
    #[error("IGTK of the wrong length")]
    KeyLength,
    /// The MIC did not verify.
    #[error("BIP MIC mismatch")]
    MicFailure,
}

/// The MME that ends `frame` (a 24-byte management header and its body), for
/// a MIC of `mic_len` bytes (8 or 16).
pub fn mme(frame: &[u8], mic_len: usize) -> Option<Mme<'_>> {
    let el_len = 2 + 2 + 6 + mic_len;
    let start = frame.len().checked_sub(el_len)?;
    if start < MGMT_HDR_LEN {
        return None;
    }
    let el = &frame[start..];
    if el[0] != ID_MME || usize::from(el[1]) != el_len - 2 {
        return None;
    }
    let key_id = u16::from_le_bytes([el[2], el[3]]);
    let mut ipn = [0u8; 8];
    ipn[..6].copy_from_slice(&el[4..10]);
    Some(Mme {
        key_id,
        ipn: u64::from_le_bytes(ipn),
        mic: &el[10..],
        mic_offset: start + 10,
    })
}

/// The BIP AAD: masked Frame Control, A1, A2, A3 (12.5.4.5); Duration is
/// not part of it. `frame` is at least a management header long.
fn aad(frame: &[u8]) -> [u8; 20] {
    let mut a = [0u8; 20];
    a[..2].copy_from_slice(&frame[..2]);
    a[2..].copy_from_slice(&frame[4..22]);
    a[1] &= !(0x08 | 0x10 | 0x20);
    a
}

/// The MIC of `frame` (header + body, MME included) with the `mic_len` bytes
/// at `mic_offset` read as zero. `frame` is at least a management header long
/// and `mic_offset + mic_len == frame.len()`: callers check.
fn compute(algo: BipAlgo, igtk: &[u8], frame: &[u8], mic_offset: usize) -> Option<[u8; 16]> {
    let aad = aad(frame);
    let body = &frame[MGMT_HDR_LEN..mic_offset];
    let zeros = [0u8; 16];
    let zeros = &zeros[..algo.mic_len()];
    let mut out = [0u8; 16];
    match algo {
        BipAlgo::Cmac128 | BipAlgo::Cmac256 => {
            let tag = if algo == BipAlgo::Cmac128 {
                let mut m = <Cmac<Aes128> as KeyInit>::new_from_slice(igtk).ok()?;
                m.update(&aad);
                m.update(body);
                m.update(zeros);
                m.finalize().into_bytes()
            } else {
                let mut m = <Cmac<Aes256> as KeyInit>::new_from_slice(igtk).ok()?;
                m.update(&aad);
                m.update(body);
                m.update(zeros);
                m.finalize().into_bytes()
            };
            out.copy_from_slice(&tag);
        }
        BipAlgo::Gmac128 | BipAlgo::Gmac256 => {
            // GMAC: GCM with the whole input as AAD and nothing to encrypt.
            // The AAD must be contiguous for the crate; it is at most one
            // management frame long (bounded by the capture's frame size).
            let mut input = Vec::with_capacity(aad.len() + frame.len());
            input.extend_from_slice(&aad);
            input.extend_from_slice(body);
            input.extend_from_slice(zeros);
            let mut nonce = [0u8; 12];
            nonce[..6].copy_from_slice(&frame[10..16]);
            let ipn = &frame[mic_offset - 6..mic_offset];
            for (i, b) in ipn.iter().rev().enumerate() {
                nonce[6 + i] = *b;
            }
            let n = Array::from(nonce);
            let empty: &mut [u8] = &mut [];
            let tag = if algo == BipAlgo::Gmac128 {
                AesGcm::<Aes128, U12>::new_from_slice(igtk)
                    .ok()?
                    .encrypt_inout_detached(&n, &input, empty.into())
                    .ok()?
            } else {
                AesGcm::<Aes256, U12>::new_from_slice(igtk)
                    .ok()?
                    .encrypt_inout_detached(&n, &input, empty.into())
                    .ok()?
            };
            out.copy_from_slice(&tag);
        }
    }
    Some(out)
}

/// Verifies the MME of a group-addressed management frame (24-byte header,
/// no HT Control, then the body) under `igtk`. Returns the MME on success;
/// the caller checks the key ID and the IPN against its replay counter.
/// Under `cfg(fuzzing)` a well-formed MME always verifies.
pub fn verify<'a>(algo: BipAlgo, igtk: &[u8], frame: &'a [u8]) -> Result<Mme<'a>, BipError> {
    let m = mme(frame, algo.mic_len()).ok_or(BipError::NoMme)?;
    if igtk.len() != algo.key_len() {
        return Err(BipError::KeyLength);
    }
    if cfg!(fuzzing) {
        return Ok(m);
    }
    let tag = compute(algo, igtk, frame, m.mic_offset).ok_or(BipError::KeyLength)?;
    let want = &tag[..algo.mic_len()];
    // Constant-time comparison.
    let diff = want
        .iter()
        .zip(m.mic)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    if diff == 0 {
        Ok(m)
    } else {
        Err(BipError::MicFailure)
    }
}

/// Appends an MME for `key_id` / `ipn` to `frame` (24-byte header + body)
/// and fills in its MIC. For the synthetic generator and tests.
///
/// # Panics
/// If `frame` is shorter than a management header or `igtk` has the wrong
/// length for `algo`.
pub fn protect(algo: BipAlgo, igtk: &[u8], frame: &[u8], key_id: u16, ipn: u64) -> Vec<u8> {
    let mut f = frame.to_vec();
    f.push(ID_MME);
    f.push((8 + algo.mic_len()) as u8);
    f.extend_from_slice(&key_id.to_le_bytes());
    f.extend_from_slice(&ipn.to_le_bytes()[..6]);
    let off = f.len();
    f.resize(off + algo.mic_len(), 0);
    let tag = compute(algo, igtk, &f, off).expect("IGTK of the algorithm's length");
    f[off..].copy_from_slice(&tag[..algo.mic_len()]);
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    /// The broadcast Deauthentication of IEEE 802.11-2012 M.9.1 (hostapd
    /// `wlantest/test_vectors.c`): reason 2, IPN 4, key ID 4.
    const DEAUTH: &str =
        "c0 00 00 00 ff ff ff ff ff ff 02 00 00 00 00 00 02 00 00 00 00 00 09 00 02 00";
    const IGTK128: &str = "4ea9543e09cf2b1eca66ffc58bdecbcf";
    const IGTK256: &str = "4ea9543e09cf2b1eca66ffc58bdecbcf000102030405060708090a0b0c0d0e0f";

    /// MICs computed independently with Python's `cryptography` (CMAC over
    /// AAD ‖ body ‖ MME-with-zero-MIC, as hostapd's `wlantest/bip.c` builds
    /// it; AESGCM with an empty plaintext for GMAC, nonce A2 ‖ IPN
    /// big-endian), from the frame written out by hand.
    #[test]
    fn known_answers() {
        let f = h(DEAUTH);
        for (algo, key, mic) in [
            (BipAlgo::Cmac128, IGTK128, "48dfbfa7b8278872"),
            (
                BipAlgo::Cmac256,
                IGTK256,
                "4b6fe836c8a3ad6a8abd7f61a63a11d2",
            ),
            (
                BipAlgo::Gmac128,
                IGTK128,
                "3ed862fb0f3338dd3386c897e2ed053d",
            ),
            (
                BipAlgo::Gmac256,
                IGTK256,
                "23be59dcc7022ee383627ebb1017ddfc",
            ),
        ] {
            let p = protect(algo, &h(key), &f, 4, 4);
            assert_eq!(&p[..f.len()], &f[..]);
            assert_eq!(hex::encode(&p[f.len() + 10..]), mic, "{algo:?}");
            let m = verify(algo, &h(key), &p).unwrap();
            assert_eq!((m.key_id, m.ipn), (4, 4));
            // Masked FC bits, Duration and Sequence Control are not
            // covered; anything else is.
            let mut r = p.clone();
            r[1] |= 0x08 | 0x10 | 0x20;
            r[2] ^= 0xff;
            r[22] ^= 0xf0;
            assert!(verify(algo, &h(key), &r).is_ok());
            for i in [0, 4, 10, 16, 21, 24, f.len() + 3, p.len() - 1] {
                let mut t = p.clone();
                t[i] ^= 1;
                assert!(verify(algo, &h(key), &t).is_err(), "{algo:?} flip {i}");
            }
        }
    }

    #[test]
    fn hostile_lengths() {
        let f = h(DEAUTH);
        let p = protect(BipAlgo::Cmac128, &h(IGTK128), &f, 4, 4);
        for n in 0..p.len() {
            assert!(verify(BipAlgo::Cmac128, &h(IGTK128), &p[..n]).is_err());
            let _ = mme(&p[..n], 8);
            let _ = mme(&p[..n], 16);
        }
        assert_eq!(
            verify(BipAlgo::Cmac256, &h(IGTK128), &p),
            Err(BipError::NoMme)
        );
        assert_eq!(
            verify(BipAlgo::Cmac128, &h(IGTK256), &p),
            Err(BipError::KeyLength)
        );
    }
}
