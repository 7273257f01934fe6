//! eWeLink LAN-mode encryption: AES-128-CBC with PKCS#7 padding, key =
//! MD5(devicekey as UTF-8), a fresh 16-byte IV per message sent base64 in
//! `iv`, the ciphertext base64 in `data` (HTTP bodies) or split over
//! `data1`…`data4` (mDNS TXT records, 249 characters each).
//!
//! Sources: pysonofflanr3 1.1.4 `sonoffcrypto.py` (`encrypt`, `decrypt`,
//! `format_encryption_msg`), SonoffLAN (AlexxIT)
//! `custom_components/sonoff/core/ewelink/local.py` (`encrypt`, `decrypt`,
//! `_handler3` joining `data1`…`data4`), and ITEAD's "SONOFF DIY MODE
//! Protocol Doc" quoted in pysonofflan's `sonoffcrypto.py`.
//!
//! # Guarantees
//! The device key is kept only as its MD5 digest ([`DeviceKey`]), zeroized
//! on drop; its `Debug` shows a fingerprint. Decryption checks the block
//! alignment and the PKCS#7 padding strictly (SonoffLAN's `unpad` does not;
//! a wrong key then gives garbage there, an error here), and refuses
//! ciphertexts over [`MAX_CIPHERTEXT`] bytes before allocating.

use aes::Aes128;
use aes::cipher::{BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use md5::{Digest, Md5};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::decoders::tplink::smart::{b64_decode, b64_encode};

const BLOCK: usize = 16;
/// Longest ciphertext decrypted (after base64). The largest eWeLink
/// messages (multi-channel `info`, RF bridge code lists) are a few KiB.
pub const MAX_CIPHERTEXT: usize = 16 * 1024;

/// The AES key of one device: MD5 of its `devicekey` (a UUID from the
/// eWeLink cloud, or the `apikey` of a DIY-mode device).
#[derive(Clone)]
pub struct DeviceKey(Zeroizing<[u8; 16]>);

impl DeviceKey {
    pub fn from_devicekey(devicekey: &str) -> DeviceKey {
        let d = Md5::digest(devicekey.as_bytes());
        let mut k = Zeroizing::new([0u8; 16]);
        k.copy_from_slice(&d);
        DeviceKey(k)
    }

    /// First 4 bytes of SHA-256 of the key, in hex: enough to tell keys
    /// apart in a log, useless to an attacker.
    pub fn fingerprint(&self) -> String {
        hex::encode(&Sha256::digest(&self.0[..])[..4])
    }
}

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeviceKey(fp {})", self.fingerprint())
    }
}

/// One `[[ewelink_device]]` of the config.
#[derive(Debug, Clone)]
pub struct EwelinkDevice {
    /// The eWeLink device id (`1000xxxxxx`), as in the TXT `id` and the
    /// HTTP `deviceid`.
    pub id: String,
    /// What events call it: `ewelink_device #N`.
    pub label: String,
    pub key: DeviceKey,
}

/// Why a `data` field was not decrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CryptError {
    /// `iv` or `data` is not base64, or `iv` is not 16 bytes.
    BadEncoding,
    /// Empty, or not a multiple of the block size.
    NotBlockAligned { len: usize },
    /// Longer than [`MAX_CIPHERTEXT`].
    TooLong { len: usize },
    /// The last block's PKCS#7 padding is wrong: the key does not match.
    BadPadding,
}

/// Decrypts base64 `data` with base64 `iv` under `key`.
pub fn decrypt(
    key: &DeviceKey,
    iv_b64: &str,
    data_b64: &str,
) -> Result<Zeroizing<Vec<u8>>, CryptError> {
    // Base64 is 4/3 of the bytes: refuse before decoding.
    if data_b64.len() / 4 * 3 > MAX_CIPHERTEXT + 3 {
        return Err(CryptError::TooLong {
            len: data_b64.len() / 4 * 3,
        });
    }
    let iv: [u8; BLOCK] = b64_decode(iv_b64.trim())
        .and_then(|v| v.try_into().ok())
        .ok_or(CryptError::BadEncoding)?;
    let ct = b64_decode(data_b64.trim()).ok_or(CryptError::BadEncoding)?;
    if ct.len() > MAX_CIPHERTEXT {
        return Err(CryptError::TooLong { len: ct.len() });
    }
    if ct.is_empty() || ct.len() % BLOCK != 0 {
        return Err(CryptError::NotBlockAligned { len: ct.len() });
    }
    let aes = Aes128::new(&(*key.0).into());
    let mut out = Zeroizing::new(Vec::with_capacity(ct.len()));
    let mut prev = iv;
    for c in ct.chunks_exact(BLOCK) {
        let mut b = aes::Block::default();
        b.copy_from_slice(c);
        aes.decrypt_block(&mut b);
        for (x, p) in b.iter_mut().zip(&prev) {
            *x ^= p;
        }
        out.extend_from_slice(&b);
        prev.copy_from_slice(c);
    }
    let pad = usize::from(out.last().copied().unwrap_or(0));
    let n = out.len();
    if pad == 0 || pad > BLOCK || out[n - pad..].iter().any(|&b| usize::from(b) != pad) {
        return Err(CryptError::BadPadding);
    }
    out.truncate(n - pad);
    Ok(out)
}

/// Encrypts `plain` under `key` with `iv`; returns base64 `(iv, data)` (for
/// the synthetic captures and tests).
pub fn encrypt(key: &DeviceKey, iv: [u8; BLOCK], plain: &[u8]) -> (String, String) {
    let aes = Aes128::new(&(*key.0).into());
    let pad = BLOCK - plain.len() % BLOCK;
    let mut p = plain.to_vec();
    p.extend(std::iter::repeat_n(pad as u8, pad));
    let mut ct = Vec::with_capacity(p.len());
    let mut prev = iv;
    for chunk in p.chunks_exact(BLOCK) {
        let mut b = aes::Block::default();
        for ((o, x), y) in b.iter_mut().zip(chunk).zip(&prev) {
            *o = x ^ y;
        }
        aes.encrypt_block(&mut b);
        ct.extend_from_slice(&b);
        prev.copy_from_slice(&b);
    }
    (b64_encode(&iv), b64_encode(&ct))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Computed with Python 3 + pycryptodome following pysonofflanr3
    /// `sonoffcrypto.encrypt`: devicekey "0b1d3bfe-2a8c-4c2a-9d39-4e1f2b3c4d5e",
    /// iv = bytes(range(16)), plaintext `{"switch":"on"}`.
    const KEY: &str = "0b1d3bfe-2a8c-4c2a-9d39-4e1f2b3c4d5e";

    #[test]
    fn round_trip_and_wrong_key() {
        let k = DeviceKey::from_devicekey(KEY);
        let iv: [u8; 16] = core::array::from_fn(|i| i as u8);
        let (iv_b64, data) = encrypt(&k, iv, br#"{"switch":"on"}"#);
        assert_eq!(iv_b64, "AAECAwQFBgcICQoLDA0ODw==");
        assert_eq!(data, "M3JtbA7/QvhHcIkVPo1G/A==");
        assert_eq!(
            &decrypt(&k, &iv_b64, &data).unwrap()[..],
            br#"{"switch":"on"}"#
        );
        // A wrong key fails the padding check (or, 1 time in ~256, passes it
        // with garbage, which the JSON check then catches upstream).
        let other = DeviceKey::from_devicekey("not-the-key");
        assert!(decrypt(&other, &iv_b64, &data).is_err());
        assert!(format!("{k:?}").starts_with("DeviceKey(fp "));
        assert!(!format!("{k:?}").contains(KEY));
    }

    #[test]
    fn malformed_inputs() {
        let k = DeviceKey::from_devicekey(KEY);
        let iv = "AAECAwQFBgcICQoLDA0ODw==";
        assert_eq!(
            decrypt(&k, "AAEC", "AAAA").err(),
            Some(CryptError::BadEncoding)
        );
        assert_eq!(decrypt(&k, iv, "!!").err(), Some(CryptError::BadEncoding));
        assert_eq!(
            decrypt(&k, iv, "").err(),
            Some(CryptError::NotBlockAligned { len: 0 })
        );
        assert_eq!(
            decrypt(&k, iv, "AAAA").err(),
            Some(CryptError::NotBlockAligned { len: 3 })
        );
        let huge = "A".repeat(4 * (MAX_CIPHERTEXT / 3 + 8));
        assert!(matches!(
            decrypt(&k, iv, &huge),
            Err(CryptError::TooLong { .. })
        ));
    }
}
