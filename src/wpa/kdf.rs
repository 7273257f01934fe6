//! Key derivation: passphrase → PMK, PMK → PTK.
//!
//! - [`pmk_from_passphrase`]: PBKDF2-HMAC-SHA1, 4096 iterations, 256 bits
//!   (IEEE 802.11-2020 J.4.1; RFC 8018 §5.2).
//! - [`prf_sha1`]: the SHA-1 PRF of IEEE 802.11-2020 12.7.1.2, used for the PTK
//!   of AKMs 1 and 2 (802.1X, PSK).
//! - [`kdf_sha256`]: KDF-SHA256 of IEEE 802.11-2020 12.7.1.6.2, used for the PTK of
//!   AKMs 5 and 6 (802.1X-SHA256, PSK-SHA256).
//! - [`derive_ptk`]: "Pairwise key expansion" (IEEE 802.11-2020 12.7.1.3) with
//!   either function, split into KCK, KEK and TK.
//!
//! All functions are pure and total: every input, however hostile, yields a
//! result. Intermediate key material is zeroized before it is dropped.
//!
//! Test vectors: IEEE 802.11-2020 J.3.2 (PRF, the same as hostapd
//! `tests/test-sha1.c`), J.4.2 (PBKDF2), and handshakes from real captures
//! (`../shared/captures/wpa2-psk-linksys.cap`, `n-02.cap`) checked in `wpa::mic`.

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

use crate::wire::MacAddr;
use crate::wpa::keys::{Cipher, Passphrase, Pmk, Ptk, TemporalKey};

/// PBKDF2 iteration count for the PSK mapping (IEEE 802.11-2020 J.4.1).
pub const PSK_ITERATIONS: u32 = 4096;

/// Largest output [`kdf_sha256`] produces: its Length field is a 16-bit count of
/// bits (IEEE 802.11-2020 12.7.1.6.2), so at most 8191 whole bytes.
pub const KDF_SHA256_MAX_OUT: usize = (u16::MAX / 8) as usize;

/// Label of the PTK derivation (IEEE 802.11-2020 12.7.1.3).
const PAIRWISE_LABEL: &[u8] = b"Pairwise key expansion";

/// Maps a passphrase and SSID to the PMK: PBKDF2-HMAC-SHA1(passphrase, SSID,
/// 4096, 256 bits) (IEEE 802.11-2020 J.4.1).
///
/// The passphrase is not checked against the 8..63 printable-ASCII rule: a
/// wrong passphrase gives a PMK that fails the MIC check, which is where the
/// caller finds out.
pub fn pmk_from_passphrase(pass: &Passphrase, ssid: &[u8]) -> Pmk {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha1>(pass.expose().as_bytes(), ssid, PSK_ITERATIONS, &mut out);
    let pmk = Pmk::new(out);
    out.zeroize();
    pmk
}

fn hmac_sha1(key: &[u8]) -> Hmac<Sha1> {
    // HMAC accepts keys of any length (RFC 2104 §2); the error case cannot occur.
    <Hmac<Sha1> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length")
}

fn hmac_sha256(key: &[u8]) -> Hmac<Sha256> {
    <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length")
}

/// PRF-X with HMAC-SHA1 (IEEE 802.11-2020 12.7.1.2): fills `out` with
/// HMAC-SHA1(K, A ‖ 0 ‖ B ‖ i) for i = 0, 1, …, truncated to `out.len()`.
///
/// The counter is one octet, so at most 256 × 20 bytes are distinct; the
/// standard never asks for more than 64. Longer outputs wrap the counter
/// rather than panic.
pub fn prf_sha1(key: &[u8], label: &[u8], data: &[u8], out: &mut [u8]) {
    let base = {
        let mut m = hmac_sha1(key);
        m.update(label);
        m.update(&[0]);
        m.update(data);
        m
    };
    for (i, chunk) in out.chunks_mut(20).enumerate() {
        let mut m = base.clone();
        m.update(&[i as u8]);
        let mut block = m.finalize().into_bytes();
        chunk.copy_from_slice(&block[..chunk.len()]);
        block.as_mut_slice().zeroize();
    }
}

/// KDF-Hash-Length with HMAC-SHA256 (IEEE 802.11-2020 12.7.1.6.2): fills `out`
/// with HMAC-SHA256(K, i ‖ Label ‖ Context ‖ Length) for i = 1, 2, …, where `i`
/// and `Length` (= `out.len()` × 8, in bits) are little-endian 16-bit values.
///
/// Outputs longer than [`KDF_SHA256_MAX_OUT`] cannot be expressed in the Length
/// field; bytes past that are left zero.
pub fn kdf_sha256(key: &[u8], label: &[u8], context: &[u8], out: &mut [u8]) {
    let n = out.len().min(KDF_SHA256_MAX_OUT);
    let out = &mut out[..n];
    let length_bits = (n * 8) as u16;
    let base = hmac_sha256(key);
    for (i, chunk) in out.chunks_mut(32).enumerate() {
        let mut m = base.clone();
        // n ≤ 8191 bytes → at most 256 blocks, so i + 1 fits in u16.
        m.update(&((i + 1) as u16).to_le_bytes());
        m.update(label);
        m.update(context);
        m.update(&length_bits.to_le_bytes());
        let mut block = m.finalize().into_bytes();
        chunk.copy_from_slice(&block[..chunk.len()]);
        block.as_mut_slice().zeroize();
    }
}

/// Which function expands the PMK into the PTK; chosen by the AKM suite
/// (IEEE 802.11-2020 Table 9-151).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PtkKdf {
    /// PRF-X with HMAC-SHA1 (12.7.1.2): AKMs 00-0F-AC:1 and :2, and WPA1.
    Sha1Prf,
    /// KDF-SHA256 (12.7.1.6.2): AKMs 00-0F-AC:5 and :6.
    Sha256Kdf,
}

impl PtkKdf {
    /// The PTK function for an AKM suite selector (OUI << 8 | type, e.g.
    /// `0x000FAC06`), or `None` for AKMs this crate does not derive keys for
    /// (SAE, FT, Suite B, …). WPA1's `0x0050F202` (PSK) maps to the SHA-1 PRF.
    pub fn for_akm(akm: u32) -> Option<PtkKdf> {
        match akm {
            0x000F_AC01 | 0x000F_AC02 | 0x0050_F201 | 0x0050_F202 => Some(PtkKdf::Sha1Prf),
            0x000F_AC05 | 0x000F_AC06 => Some(PtkKdf::Sha256Kdf),
            _ => None,
        }
    }
}

/// Derives the PTK for one handshake (IEEE 802.11-2020 12.7.1.3):
/// PRF(PMK, "Pairwise key expansion", Min(AA,SPA) ‖ Max(AA,SPA) ‖
/// Min(ANonce,SNonce) ‖ Max(ANonce,SNonce)), 384 bits for CCMP (KCK 16, KEK 16,
/// TK 16) and 512 for TKIP (TK 32, Michael keys included).
///
/// `aa` is the authenticator's (AP's) address and `spa` the supplicant's; as the
/// data is ordered by min/max, swapping both pairs gives the same PTK.
pub fn derive_ptk(
    pmk: &Pmk,
    kdf: PtkKdf,
    aa: &MacAddr,
    spa: &MacAddr,
    anonce: &[u8; 32],
    snonce: &[u8; 32],
    cipher: Cipher,
) -> Ptk {
    let mut data = [0u8; 6 + 6 + 32 + 32];
    let (a_lo, a_hi) = if aa <= spa { (aa, spa) } else { (spa, aa) };
    let (n_lo, n_hi) = if anonce <= snonce {
        (anonce, snonce)
    } else {
        (snonce, anonce)
    };
    data[..6].copy_from_slice(&a_lo.0);
    data[6..12].copy_from_slice(&a_hi.0);
    data[12..44].copy_from_slice(n_lo);
    data[44..].copy_from_slice(n_hi);

    let len = 32 + cipher.tk_len();
    let mut buf = Zeroizing::new([0u8; 64]);
    let out = &mut buf[..len];
    match kdf {
        PtkKdf::Sha1Prf => prf_sha1(pmk.as_bytes(), PAIRWISE_LABEL, &data, out),
        PtkKdf::Sha256Kdf => kdf_sha256(pmk.as_bytes(), PAIRWISE_LABEL, &data, out),
    }
    let mut kck = [0u8; 16];
    let mut kek = [0u8; 16];
    kck.copy_from_slice(&buf[..16]);
    kek.copy_from_slice(&buf[16..32]);
    let mut tk = [0u8; 32];
    tk[..cipher.tk_len()].copy_from_slice(&buf[32..len]);
    let ptk = Ptk {
        kck,
        kek,
        tk: TemporalKey { cipher, bytes: tk },
    };
    kck.zeroize();
    kek.zeroize();
    tk.zeroize();
    ptk
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    fn pmk(pass: &str, ssid: &[u8]) -> String {
        pmk_from_passphrase(&Passphrase::new(pass.into()), ssid).to_hex_secret()
    }

    /// IEEE 802.11-2020 J.4.2, all three vectors (also checked against Python's
    /// `hashlib.pbkdf2_hmac`).
    #[test]
    fn pbkdf2_vectors_j_4_2() {
        assert_eq!(
            pmk("password", b"IEEE"),
            "f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e"
        );
        assert_eq!(
            pmk("ThisIsAPassword", b"ThisIsASSID"),
            "0dc0d6eb90555ed6419756b9a15ec3e3209b63df707dd508d14581f8982721af"
        );
        assert_eq!(
            pmk(&"a".repeat(32), &[b'Z'; 32]),
            "becb93866bb8c3832cb777c2f559807c8c59afcb6eae734885001300a981cc62"
        );
    }

    /// IEEE 802.11-2020 J.3.2 test cases 1 and 2 (PRF-512); the same vectors as
    /// hostapd `tests/test-sha1.c`, and recomputed with Python's `hmac`.
    #[test]
    fn prf_vectors_j_3_2() {
        let mut out = [0u8; 64];
        prf_sha1(&[0x0b; 20], b"prefix", b"Hi There", &mut out);
        assert_eq!(
            out.to_vec(),
            h(
                "bcd4c650b30b9684951829e0d75f9d54b862175ed9f00606e17d8da35402ffee\
               75df78c3d31e0f889f012120c0862beb67753e7439ae242edb8373698356cf5a"
            )
        );
        prf_sha1(
            b"Jefe",
            b"prefix",
            b"what do ya want for nothing?",
            &mut out,
        );
        assert_eq!(
            out.to_vec(),
            h(
                "51f4de5b33f249adf81aeb713a3c20f4fe631446fabdfa58244759ae58ef9009\
               a99abf4eac2ca5fa87e692c440eb40023e7babb206d61de7b92f41529092b8fc"
            )
        );
    }

    #[test]
    fn prf_shorter_output_is_prefix() {
        let mut long = [0u8; 64];
        let mut short = [0u8; 48];
        prf_sha1(&[0x0b; 20], b"prefix", b"Hi There", &mut long);
        prf_sha1(&[0x0b; 20], b"prefix", b"Hi There", &mut short);
        assert_eq!(long[..48], short);
        prf_sha1(b"k", b"", b"", &mut []);
    }

    /// KDF-SHA256: the length is part of the input, so a 48-byte output is not
    /// a prefix of a 64-byte one (unlike the SHA-1 PRF).
    #[test]
    fn kdf_sha256_length_bound_in() {
        let mut a = [0u8; 48];
        let mut b = [0u8; 64];
        kdf_sha256(b"key", b"label", b"ctx", &mut a);
        kdf_sha256(b"key", b"label", b"ctx", &mut b);
        assert_ne!(a[..32], b[..32]);
        kdf_sha256(b"key", b"label", b"ctx", &mut []);
        // Oversized outputs do not panic; the tail stays zero.
        let mut big = vec![0u8; KDF_SHA256_MAX_OUT + 5];
        kdf_sha256(b"key", b"label", b"ctx", &mut big);
        assert!(big[KDF_SHA256_MAX_OUT..].iter().all(|&x| x == 0));
    }

    #[test]
    fn ptk_symmetric_in_roles() {
        let pmk = Pmk::new([7; 32]);
        let a = MacAddr([0, 1, 2, 3, 4, 5]);
        let s = MacAddr([0, 1, 2, 3, 4, 6]);
        let an = [1u8; 32];
        let sn = [2u8; 32];
        for kdf in [PtkKdf::Sha1Prf, PtkKdf::Sha256Kdf] {
            for c in [Cipher::Ccmp, Cipher::Tkip] {
                let p1 = derive_ptk(&pmk, kdf, &a, &s, &an, &sn, c);
                let p2 = derive_ptk(&pmk, kdf, &s, &a, &sn, &an, c);
                assert_eq!(p1, p2);
            }
        }
        // The CCMP PTK is the first 48 bytes of the TKIP one (same PRF input).
        let c = derive_ptk(&pmk, PtkKdf::Sha1Prf, &a, &s, &an, &sn, Cipher::Ccmp);
        let t = derive_ptk(&pmk, PtkKdf::Sha1Prf, &a, &s, &an, &sn, Cipher::Tkip);
        assert_eq!(c.kck, t.kck);
        assert_eq!(c.tk.key16(), t.tk.key16());
    }

    #[test]
    fn akm_mapping() {
        assert_eq!(PtkKdf::for_akm(0x000F_AC02), Some(PtkKdf::Sha1Prf));
        assert_eq!(PtkKdf::for_akm(0x000F_AC06), Some(PtkKdf::Sha256Kdf));
        assert_eq!(PtkKdf::for_akm(0x0050_F202), Some(PtkKdf::Sha1Prf));
        assert_eq!(PtkKdf::for_akm(0x000F_AC08), None);
    }
}
