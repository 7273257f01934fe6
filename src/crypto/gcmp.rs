//! GCMP-128 and GCMP-256 decryption of one MPDU (IEEE 802.11-2020 12.5.5).
//!
//! A pure function of a temporal key (16 bytes for GCMP-128, 32 for GCMP-256)
//! and the bytes of one MPDU, like [`super::ccmp`]. The layout is CCMP's with
//! a 16-byte MIC (12.5.5.2, Figure 12-23):
//!
//! ```text
//! MAC header | PN0 PN1 rsvd KeyID-octet PN2 PN3 PN4 PN5 | data (encrypted) | MIC (16)
//! ```
//!
//! - AAD: the same as CCMP's (12.5.5.3.3 refers to 12.5.3.3.3), so
//!   [`super::ccmp::aad_and_nonce`] builds it.
//! - Nonce: `A2 ‖ PN` with PN5 first, 12 octets (12.5.5.3.4): CCMP's nonce
//!   without its flags octet. GCMP's nonce has no priority or management flag.
//! - GCM itself (NIST SP 800-38D, 96-bit nonce, 128-bit tag) comes from the
//!   RustCrypto `aes-gcm` crate over the pinned `aes`.
//!
//! Frames are hostile: nothing here panics on any input; the only allocation
//! is the caller's `out`, which grows to at most the frame size.

use aes::{Aes128, Aes256};
use aes_gcm::aead::array::Array;
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{AesGcm, aead::consts::U12};

use super::ccmp::{self, CcmpError, CcmpHdr};

/// Length of the GCMP MIC trailer (12.5.5.2).
pub const GCMP_MIC_LEN: usize = 16;
/// Largest ciphertext accepted: no MPDU is longer (IEEE 802.11-2020 9.2.4.7:
/// 11 454-byte A-MSDUs; DMG 7 920); GCM itself allows far more.
const GCMP_MAX_LEN: usize = 0xffff;

type Gcm128 = AesGcm<Aes128, U12>;
type Gcm256 = AesGcm<Aes256, U12>;

/// The 12-byte GCMP nonce: A2 ‖ PN5..PN0 (12.5.5.3.4).
pub fn nonce(frame: &[u8], hdr_len: usize, pn: u64) -> [u8; 12] {
    let (_, n13) = ccmp::aad_and_nonce(frame, hdr_len, pn);
    let mut n = [0u8; 12];
    n.copy_from_slice(&n13[1..]);
    n
}

/// Decrypts one GCMP MPDU under `tk` (16 bytes: GCMP-128, 32: GCMP-256; any
/// other length is a `MicFailure`) and verifies its MIC. On success `out`
/// holds the plaintext (cleared first); on any error it is empty.
pub fn decrypt(
    tk: &[u8],
    frame: &[u8],
    hdr_len: usize,
    out: &mut Vec<u8>,
) -> Result<CcmpHdr, CcmpError> {
    out.clear();
    let (hdr, ciphertext, tag) = ccmp::split_mpdu_n::<GCMP_MIC_LEN>(frame, hdr_len, GCMP_MAX_LEN)?;
    let (aad, n13) = ccmp::aad_and_nonce(frame, hdr_len, hdr.pn);
    let mut n = [0u8; 12];
    n.copy_from_slice(&n13[1..]);
    out.extend_from_slice(ciphertext);
    let nonce = Array::from(n);
    let tag = Array::from(tag);
    let res = match tk.len() {
        16 => Gcm128::new_from_slice(tk).map_err(|_| ()).and_then(|c| {
            c.decrypt_inout_detached(&nonce, aad.as_bytes(), out.as_mut_slice().into(), &tag)
                .map_err(|_| ())
        }),
        32 => Gcm256::new_from_slice(tk).map_err(|_| ()).and_then(|c| {
            c.decrypt_inout_detached(&nonce, aad.as_bytes(), out.as_mut_slice().into(), &tag)
                .map_err(|_| ())
        }),
        _ => Err(()),
    };
    match res {
        Ok(()) => Ok(hdr),
        Err(()) => {
            out.clear();
            Err(CcmpError::MicFailure)
        }
    }
}

/// Builds a GCMP-protected MPDU: `header` (Protected bit set by the caller),
/// the GCMP header for `pn` / `key_id`, the encrypted `plaintext` and the MIC.
/// For tests and the synthetic generator.
///
/// # Panics
/// If `tk` is neither 16 nor 32 bytes long.
pub fn encrypt(tk: &[u8], header: &[u8], pn: u64, key_id: u8, plaintext: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(header.len() + 8 + plaintext.len() + GCMP_MIC_LEN);
    frame.extend_from_slice(header);
    frame.extend_from_slice(&ccmp::security_header(pn, key_id));
    let (aad, _) = ccmp::aad_and_nonce(header, header.len(), pn);
    let n = Array::from(nonce(header, header.len(), pn));
    let body_start = frame.len();
    frame.extend_from_slice(plaintext);
    let body = (&mut frame[body_start..]).into();
    let tag = match tk.len() {
        16 => Gcm128::new_from_slice(tk)
            .expect("16-byte key")
            .encrypt_inout_detached(&n, aad.as_bytes(), body),
        32 => Gcm256::new_from_slice(tk)
            .expect("32-byte key")
            .encrypt_inout_detached(&n, aad.as_bytes(), body),
        l => panic!("GCMP key of {l} bytes"),
    }
    .expect("GCM encrypts any MPDU");
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

    /// The GCMP test frame of hostapd's `wlantest/test_vectors.c` (IEEE
    /// P802.11ad/D9.0 M.11.1 #2): QoS data, TID 3, PN 0x00895F5F2B08.
    const HDR: &str =
        "88 48 0b 00 0f d2 e1 28 a5 7c 50 30 f1 84 44 08 50 30 f1 84 44 08 80 33 03 00";
    const TK128: &str = "c97c1f67ce371185514a8a19f2bdd52f";
    const TK256: &str = "c97c1f67ce371185514a8a19f2bdd52f000102030405060708090a0b0c0d0e0f";

    fn plain() -> Vec<u8> {
        (0u8..0x28).collect()
    }

    /// Known answers computed independently with Python's `cryptography`
    /// (AESGCM) from the AAD and nonce written out by hand from 12.5.5.3:
    /// AAD = 88 40 ‖ A1 A2 A3 ‖ 00 00 ‖ 03 00 (FC masked: subtype bits,
    /// Retry, PwrMgt, MoreData; Protected set; SC fragment number only; QC
    /// TID only), nonce = A2 ‖ PN big-endian.
    #[test]
    fn known_answers_gcmp_128_and_256() {
        let hdr = h(HDR);
        let pn = 0x0089_5F5F_2B08;
        let (aad, _) = ccmp::aad_and_nonce(&hdr, 26, pn);
        assert_eq!(
            aad.as_bytes(),
            h("88 40 0f d2 e1 28 a5 7c 50 30 f1 84 44 08 50 30 f1 84 44 08 00 00 03 00")
        );
        assert_eq!(
            nonce(&hdr, 26, pn).to_vec(),
            h("50 30 f1 84 44 08 00 89 5f 5f 2b 08")
        );
        for (tk, ct_tag) in [
            (
                TK128,
                "60e9700cc4d40ac6d288b201c38f5bf08b807442640a1596e5dbdad41d1f3623f45d7a12db7afb23\
                 def619c2a374b6df66ffa53b6c69d79e",
            ),
            (
                TK256,
                "658343c8b14447d9211defd46ad89c710c6fc33333236e3997b9176a5a8be779b21266555e70ad79\
                 114316859095473d5b1bd596b3dea3bf",
            ),
        ] {
            let f = encrypt(&h(tk), &hdr, pn, 0, &plain());
            assert_eq!(&f[..26], &hdr[..]);
            assert_eq!(&f[26..34], &h("08 2b 00 20 5f 5f 89 00")[..]);
            assert_eq!(hex::encode(&f[34..]), ct_tag.replace(' ', ""));
            let mut out = Vec::new();
            let got = decrypt(&h(tk), &f, 26, &mut out).unwrap();
            assert_eq!(got.pn, pn);
            assert_eq!(out, plain());
        }
    }

    #[test]
    fn wrong_key_length_or_bit_is_mic_failure() {
        let hdr = h(HDR);
        let f = encrypt(&h(TK128), &hdr, 5, 1, &plain());
        let mut out = vec![1, 2];
        assert_eq!(
            decrypt(&h(TK256), &f, 26, &mut out),
            Err(CcmpError::MicFailure)
        );
        assert!(out.is_empty());
        assert_eq!(
            decrypt(&[0; 24], &f, 26, &mut out),
            Err(CcmpError::MicFailure)
        );
        for i in [0, 4, 10, 16, 22, 24, 26, 34, f.len() - 1] {
            let mut t = f.clone();
            t[i] ^= 1;
            assert!(decrypt(&h(TK128), &t, 26, &mut out).is_err(), "flip at {i}");
            assert!(out.is_empty());
        }
        // Masked fields do not matter: Retry, sequence number.
        let mut t = f.clone();
        t[1] |= 0x08;
        t[23] ^= 0xf0;
        assert!(decrypt(&h(TK128), &t, 26, &mut out).is_ok());
    }

    #[test]
    fn every_truncation() {
        let hdr = h(HDR);
        let f = encrypt(&h(TK256), &hdr, 9, 0, &plain());
        let mut out = Vec::new();
        for len in 0..f.len() {
            let r = decrypt(&h(TK256), &f[..len], 26, &mut out);
            if len < 26 + 8 + 16 {
                assert_eq!(r, Err(CcmpError::TooShort), "len {len}");
            } else {
                assert_eq!(r, Err(CcmpError::MicFailure), "len {len}");
            }
        }
        let e = encrypt(&h(TK128), &hdr, 9, 0, &[]);
        assert!(decrypt(&h(TK128), &e, 26, &mut out).is_ok());
        assert!(out.is_empty());
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(
            frame in proptest::collection::vec(any::<u8>(), 0..200),
            hdr_len in 0usize..64,
            long in any::<bool>(),
        ) {
            let tk = if long { h(TK256) } else { h(TK128) };
            let mut out = Vec::new();
            if decrypt(&tk, &frame, hdr_len, &mut out).is_err() {
                prop_assert!(out.is_empty());
            }
        }
    }
}
