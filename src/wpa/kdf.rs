//! Key derivation: passphrase → PMK, PMK → PTK.
//!
//! - [`pmk_from_passphrase`]: PBKDF2-HMAC-SHA1, 4096 iterations, 256 bits
//!   (IEEE 802.11-2020 J.4.1; RFC 8018 §5.2).
//! - [`prf_sha1`]: the SHA-1 PRF of IEEE 802.11-2020 12.7.1.2, used for the PTK
//!   of AKMs 1 and 2 (802.1X, PSK).
//! - [`kdf_sha256`]: KDF-SHA256 of IEEE 802.11-2020 12.7.1.6.2, used for the PTK of
//!   AKMs 5 and 6 (802.1X-SHA256, PSK-SHA256).
//! - [`kdf_hash`]: the same KDF with SHA-384 and SHA-512 (AKMs 12, 13; OWE
//!   and SAE-EXT-KEY with longer PMKs).
//! - [`derive_ptk`]: "Pairwise key expansion" (IEEE 802.11-2020 12.7.1.3) with
//!   either function, split into KCK, KEK and TK; [`derive_ptk_akm`] with the
//!   lengths and hash of any AKM ([`crate::wpa::akm`]).
//! - FT key hierarchy (IEEE 802.11-2020 12.7.1.7): [`pmk_r0`], [`pmk_r1`],
//!   [`ft_ptk`].
//! - [`pmkid`]: PMKID = Truncate-128(HMAC-Hash(PMK, "PMK Name" ‖ AA ‖ SPA))
//!   (12.7.1.3).
//!
//! All functions are pure and total: every input, however hostile, yields a
//! result. Intermediate key material is zeroized before it is dropped.
//!
//! Test vectors: IEEE 802.11-2020 J.3.2 (PRF, the same as hostapd
//! `tests/test-sha1.c`), J.4.2 (PBKDF2), and handshakes from real captures
//! (`../shared/captures/wpa2-psk-linksys.cap`, `n-02.cap`) checked in `wpa::mic`.

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};
use zeroize::{Zeroize, Zeroizing};

use crate::wire::MacAddr;
use crate::wpa::keys::{Cipher, KeyPart, Passphrase, Pmk, PmkAny, Ptk, TemporalKey};

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
    kdf_generic::<Hmac<Sha256>>(key, label, context, out);
}

/// The hash of a KDF, a PMKID or an FT name (IEEE 802.11-2020 12.7.1.6.2,
/// Table 12-11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KdfHash {
    /// PRF-SHA1 (12.7.1.2) for the PTK; HMAC-SHA1 for the PMKID.
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl KdfHash {
    /// Digest length in bytes (Q/8 of 12.7.1.7.3).
    pub fn len(self) -> usize {
        match self {
            KdfHash::Sha1 => 20,
            KdfHash::Sha256 => 32,
            KdfHash::Sha384 => 48,
            KdfHash::Sha512 => 64,
        }
    }

    /// Always false: a digest is never empty (for clippy's `len` convention).
    pub fn is_empty(self) -> bool {
        false
    }
}

fn kdf_generic<M: Mac + KeyInit + Clone>(key: &[u8], label: &[u8], context: &[u8], out: &mut [u8]) {
    let n = out.len().min(KDF_SHA256_MAX_OUT);
    let out = &mut out[..n];
    let length_bits = (n * 8) as u16;
    let Ok(base) = <M as KeyInit>::new_from_slice(key) else {
        return;
    };
    let block = <M as hmac::digest::OutputSizeUser>::output_size();
    for (i, chunk) in out.chunks_mut(block).enumerate() {
        let mut m = base.clone();
        m.update(&((i + 1) as u16).to_le_bytes());
        m.update(label);
        m.update(context);
        m.update(&length_bits.to_le_bytes());
        let mut b = m.finalize().into_bytes();
        chunk.copy_from_slice(&b[..chunk.len()]);
        b.as_mut_slice().zeroize();
    }
}

/// KDF-Hash-Length (IEEE 802.11-2020 12.7.1.6.2) with `hash` (SHA-256, -384,
/// -512); SHA-1 means the PRF of 12.7.1.2. Fills `out`.
pub fn kdf_hash(hash: KdfHash, key: &[u8], label: &[u8], context: &[u8], out: &mut [u8]) {
    match hash {
        KdfHash::Sha1 => prf_sha1(key, label, context, out),
        KdfHash::Sha256 => kdf_generic::<Hmac<Sha256>>(key, label, context, out),
        KdfHash::Sha384 => kdf_generic::<Hmac<Sha384>>(key, label, context, out),
        KdfHash::Sha512 => kdf_generic::<Hmac<Sha512>>(key, label, context, out),
    }
}

fn hmac_trunc128<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    let mut out = [0u8; 16];
    if let Ok(mut m) = <M as KeyInit>::new_from_slice(key) {
        for p in parts {
            m.update(p);
        }
        out.copy_from_slice(&m.finalize().into_bytes()[..16]);
    }
    out
}

/// PMKID = Truncate-128(HMAC-Hash(PMK, "PMK Name" ‖ AA ‖ SPA)) (IEEE
/// 802.11-2020 12.7.1.3): HMAC-SHA1 for AKMs 1 and 2, HMAC-SHA-256 for the
/// SHA-256 AKMs, HMAC-SHA-384 for AKM 12. (SAE and OWE name their PMK from
/// their key exchange instead; the configuration gives those PMKIDs.)
pub fn pmkid(hash: KdfHash, pmk: &[u8], aa: &MacAddr, spa: &MacAddr) -> [u8; 16] {
    let parts: [&[u8]; 3] = [b"PMK Name", &aa.0, &spa.0];
    match hash {
        KdfHash::Sha1 => hmac_trunc128::<Hmac<Sha1>>(pmk, &parts),
        KdfHash::Sha256 => hmac_trunc128::<Hmac<Sha256>>(pmk, &parts),
        KdfHash::Sha384 => hmac_trunc128::<Hmac<Sha384>>(pmk, &parts),
        KdfHash::Sha512 => hmac_trunc128::<Hmac<Sha512>>(pmk, &parts),
    }
}

fn digest_trunc128(hash: KdfHash, parts: &[&[u8]]) -> [u8; 16] {
    fn d<D: Digest>(parts: &[&[u8]]) -> [u8; 16] {
        let mut h = D::new();
        for p in parts {
            h.update(p);
        }
        let mut out = [0u8; 16];
        out.copy_from_slice(&h.finalize()[..16]);
        out
    }
    match hash {
        KdfHash::Sha1 => d::<Sha1>(parts),
        KdfHash::Sha256 => d::<Sha256>(parts),
        KdfHash::Sha384 => d::<Sha384>(parts),
        KdfHash::Sha512 => d::<Sha512>(parts),
    }
}

/// The identities an FT key hierarchy is bound to (IEEE 802.11-2020
/// 12.7.1.7): the SSID, the mobility domain, the key holders.
#[derive(Debug, Clone, Copy)]
pub struct FtIds<'a> {
    pub ssid: &'a [u8],
    /// Mobility Domain Identifier (MDE, 9.4.2.46).
    pub mdid: [u8; 2],
    /// R0KH-ID (1–48 octets, FTE subelement 3).
    pub r0kh_id: &'a [u8],
    /// R1KH-ID (6 octets, FTE subelement 1): the target AP's.
    pub r1kh_id: [u8; 6],
    /// S0KH-ID = S1KH-ID = the station's MAC address.
    pub sta: MacAddr,
}

/// PMK-R0 and PMKR0Name from the XXKey (IEEE 802.11-2020 12.7.1.7.3):
/// R0-Key-Data = KDF-Hash-(Q+128)(XXKey, "FT-R0", SSIDlength ‖ SSID ‖ MDID ‖
/// R0KHlength ‖ R0KH-ID ‖ S0KH-ID); PMK-R0 its first Q bits, the salt the
/// next 128; PMKR0Name = Truncate-128(Hash("FT-R0N" ‖ salt)). `hash` is
/// SHA-256 (Q = 256) or SHA-384 (Q = 384, AKM 13).
pub fn pmk_r0(hash: KdfHash, xxkey: &[u8], ids: &FtIds<'_>) -> (PmkAny, [u8; 16]) {
    let q = hash.len().min(48);
    let mut ctx = Vec::with_capacity(1 + 32 + 2 + 1 + 48 + 6);
    ctx.push(ids.ssid.len().min(255) as u8);
    ctx.extend_from_slice(&ids.ssid[..ids.ssid.len().min(255)]);
    ctx.extend_from_slice(&ids.mdid);
    ctx.push(ids.r0kh_id.len().min(255) as u8);
    ctx.extend_from_slice(&ids.r0kh_id[..ids.r0kh_id.len().min(255)]);
    ctx.extend_from_slice(&ids.sta.0);
    let mut data = Zeroizing::new([0u8; 64]);
    kdf_hash(hash, xxkey, b"FT-R0", &ctx, &mut data[..q + 16]);
    let r0 = PmkAny::from_slice(&data[..q]).expect("at most 48 bytes");
    let name = digest_trunc128(hash, &[b"FT-R0N", &data[q..q + 16]]);
    (r0, name)
}

/// PMK-R1 and PMKR1Name (IEEE 802.11-2020 12.7.1.7.4): PMK-R1 =
/// KDF-Hash-Q(PMK-R0, "FT-R1", R1KH-ID ‖ S1KH-ID); PMKR1Name =
/// Truncate-128(Hash("FT-R1N" ‖ PMKR0Name ‖ R1KH-ID ‖ S1KH-ID)).
pub fn pmk_r1(
    hash: KdfHash,
    r0: &[u8],
    r0_name: &[u8; 16],
    r1kh_id: &[u8; 6],
    sta: &MacAddr,
) -> (PmkAny, [u8; 16]) {
    let q = hash.len().min(48);
    let mut ctx = [0u8; 12];
    ctx[..6].copy_from_slice(r1kh_id);
    ctx[6..].copy_from_slice(&sta.0);
    let mut out = Zeroizing::new([0u8; 48]);
    kdf_hash(hash, r0, b"FT-R1", &ctx, &mut out[..q]);
    let r1 = PmkAny::from_slice(&out[..q]).expect("at most 48 bytes");
    let name = digest_trunc128(hash, &[b"FT-R1N", r0_name, r1kh_id, &sta.0]);
    (r1, name)
}

/// The PTK of FT (IEEE 802.11-2020 12.7.1.7.5): KDF-Hash-Length(PMK-R1,
/// "FT-PTK", SNonce ‖ ANonce ‖ BSSID ‖ STA-ADDR), split into KCK, KEK, TK of
/// the given lengths.
#[allow(clippy::too_many_arguments)]
pub fn ft_ptk(
    hash: KdfHash,
    r1: &[u8],
    kck_len: usize,
    kek_len: usize,
    anonce: &[u8; 32],
    snonce: &[u8; 32],
    bssid: &MacAddr,
    sta: &MacAddr,
    cipher: Cipher,
) -> Ptk {
    let mut ctx = [0u8; 32 + 32 + 6 + 6];
    ctx[..32].copy_from_slice(snonce);
    ctx[32..64].copy_from_slice(anonce);
    ctx[64..70].copy_from_slice(&bssid.0);
    ctx[70..].copy_from_slice(&sta.0);
    split_ptk(hash, r1, b"FT-PTK", &ctx, kck_len, kek_len, cipher)
}

/// Derives KCK ‖ KEK ‖ TK with `hash` and splits them.
fn split_ptk(
    hash: KdfHash,
    key: &[u8],
    label: &[u8],
    ctx: &[u8],
    kck_len: usize,
    kek_len: usize,
    cipher: Cipher,
) -> Ptk {
    let kck_len = kck_len.min(32);
    let kek_len = kek_len.min(32);
    let len = kck_len + kek_len + cipher.tk_len();
    let mut buf = Zeroizing::new([0u8; 96]);
    kdf_hash(hash, key, label, ctx, &mut buf[..len]);
    Ptk {
        kck: KeyPart::from_slice(&buf[..kck_len]).expect("at most 32"),
        kek: KeyPart::from_slice(&buf[kck_len..kck_len + kek_len]).expect("at most 32"),
        tk: TemporalKey::new(cipher, &buf[kck_len + kek_len..len]).expect("TK length"),
    }
}

/// "Pairwise key expansion" for any AKM (IEEE 802.11-2020 12.7.1.3): the
/// context of [`derive_ptk`], the hash and KCK/KEK lengths the AKM gives.
#[allow(clippy::too_many_arguments)]
pub fn derive_ptk_akm(
    pmk: &[u8],
    hash: KdfHash,
    kck_len: usize,
    kek_len: usize,
    aa: &MacAddr,
    spa: &MacAddr,
    anonce: &[u8; 32],
    snonce: &[u8; 32],
    cipher: Cipher,
) -> Ptk {
    let data = pairwise_context(aa, spa, anonce, snonce);
    split_ptk(hash, pmk, PAIRWISE_LABEL, &data, kck_len, kek_len, cipher)
}

fn pairwise_context(aa: &MacAddr, spa: &MacAddr, anonce: &[u8; 32], snonce: &[u8; 32]) -> [u8; 76] {
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
    data
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
    let hash = match kdf {
        PtkKdf::Sha1Prf => KdfHash::Sha1,
        PtkKdf::Sha256Kdf => KdfHash::Sha256,
    };
    derive_ptk_akm(
        pmk.as_bytes(),
        hash,
        16,
        16,
        aa,
        spa,
        anonce,
        snonce,
        cipher,
    )
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

    /// The AP's PMKID in message 1 of `../shared/captures/wpa2-psk-linksys.cap`
    /// (a PMKID KDE, `dd 14 00 0f ac 04 …`): HMAC-SHA1-128 of "PMK Name" ‖ AA
    /// ‖ SPA under the passphrase's PMK, computed by the AP itself.
    #[test]
    fn pmkid_of_a_real_m1() {
        use crate::wpa::mic::tests::LINKSYS_WPA2 as hs;
        let m1 = h(hs.m1);
        let kd = &m1[99..];
        assert_eq!(&kd[..6], &h("dd14000fac04")[..]);
        let pmk = pmk_from_passphrase(&Passphrase::new(hs.passphrase.into()), hs.ssid);
        let id = pmkid(
            KdfHash::Sha1,
            pmk.as_bytes(),
            &MacAddr(hs.aa),
            &MacAddr(hs.spa),
        );
        assert_eq!(&id[..], &kd[6..22]);
        assert_ne!(
            pmkid(
                KdfHash::Sha256,
                pmk.as_bytes(),
                &MacAddr(hs.aa),
                &MacAddr(hs.spa)
            ),
            id
        );
    }

    /// KDF-SHA384 and the FT hierarchy: lengths, determinism, and that every
    /// input is bound (independent values are checked end to end by tshark
    /// in `tests/synth_networks.rs`, where FT-PSK, FT-802.1X and FT-SAE roams
    /// decrypt with Wireshark's implementation).
    #[test]
    fn ft_hierarchy_binds_its_inputs() {
        let ids = FtIds {
            ssid: b"net",
            mdid: [1, 2],
            r0kh_id: b"r0kh",
            r1kh_id: [2, 0, 0, 0, 0, 1],
            sta: MacAddr([2, 0, 0, 0, 0, 9]),
        };
        let (r0, n0) = pmk_r0(KdfHash::Sha256, &[7; 32], &ids);
        assert_eq!(r0.len(), 32);
        let (r0b, _) = pmk_r0(KdfHash::Sha384, &[7; 48], &ids);
        assert_eq!(r0b.len(), 48);
        for other in [
            FtIds {
                ssid: b"nex",
                ..ids
            },
            FtIds {
                mdid: [1, 3],
                ..ids
            },
            FtIds {
                r0kh_id: b"r0kx",
                ..ids
            },
            FtIds {
                sta: MacAddr([2, 0, 0, 0, 0, 8]),
                ..ids
            },
        ] {
            assert_ne!(pmk_r0(KdfHash::Sha256, &[7; 32], &other).1, n0);
        }
        let (r1, n1) = pmk_r1(KdfHash::Sha256, &r0, &n0, &ids.r1kh_id, &ids.sta);
        let (_, n1b) = pmk_r1(KdfHash::Sha256, &r0, &n0, &[2, 0, 0, 0, 0, 2], &ids.sta);
        assert_ne!(n1, n1b);
        let a = MacAddr([2, 0, 0, 0, 0, 1]);
        let p = ft_ptk(
            KdfHash::Sha256,
            &r1,
            16,
            16,
            &[1; 32],
            &[2; 32],
            &a,
            &ids.sta,
            Cipher::Gcmp256,
        );
        assert_eq!(
            (p.kck.len(), p.kek.len(), p.tk.as_slice().len()),
            (16, 16, 32)
        );
        // FT-PTK is not symmetric in the nonces (SNonce first, 12.7.1.7.5).
        let q = ft_ptk(
            KdfHash::Sha256,
            &r1,
            16,
            16,
            &[2; 32],
            &[1; 32],
            &a,
            &ids.sta,
            Cipher::Gcmp256,
        );
        assert_ne!(p, q);
        let mut o48 = [0u8; 48];
        let mut o64 = [0u8; 64];
        kdf_hash(KdfHash::Sha384, b"k", b"l", b"c", &mut o48);
        kdf_hash(KdfHash::Sha512, b"k", b"l", b"c", &mut o64);
        // Recomputed with Python's `hmac` from the definition of 12.7.1.6.2.
        assert_eq!(
            hex::encode(o48),
            "8036bb2fc876e39c56d832b2d17f4f93d3ed4dc8ea52c47f9a416ed7ea5200a0f5033344f0b2858cc5d237959309e699"
        );
        assert_eq!(
            hex::encode(o64),
            "268031bef901d3754e6b3c763c4e666a8b6faea42681a1268adab910bb35dd5b\
             7cc861df146926d21e2d1d160a06476890a80332d01b1eb4aad52fc73715103c"
        );
    }

    #[test]
    fn akm_mapping() {
        assert_eq!(PtkKdf::for_akm(0x000F_AC02), Some(PtkKdf::Sha1Prf));
        assert_eq!(PtkKdf::for_akm(0x000F_AC06), Some(PtkKdf::Sha256Kdf));
        assert_eq!(PtkKdf::for_akm(0x0050_F202), Some(PtkKdf::Sha1Prf));
        assert_eq!(PtkKdf::for_akm(0x000F_AC08), None);
    }
}
