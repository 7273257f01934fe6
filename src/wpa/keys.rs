//! Key material types. Secrets are zeroized on drop and never printed: their
//! `Debug` shows only a short, non-reversible fingerprint so logs can tell two
//! keys apart without revealing either.
//!
//! Architecture invariant: nothing in the crate formats the bytes of a key except
//! [`KeyBytes::to_hex_secret`], which exists for the explicit `--export-keys`
//! feature and is named so that every call site reads as what it is.

use std::fmt;

use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Fixed-size secret bytes, zeroized on drop, redacted in `Debug`.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct KeyBytes<const N: usize>(pub(crate) [u8; N]);

impl<const N: usize> KeyBytes<N> {
    pub fn new(bytes: [u8; N]) -> Self {
        KeyBytes(bytes)
    }

    pub fn from_slice(b: &[u8]) -> Option<Self> {
        let arr: [u8; N] = b.try_into().ok()?;
        Some(KeyBytes(arr))
    }

    pub fn as_bytes(&self) -> &[u8; N] {
        &self.0
    }

    /// First 4 bytes of SHA-256 over the key: enough to tell keys apart in logs,
    /// useless for recovering them.
    pub fn fingerprint(&self) -> String {
        let d = Sha256::digest(self.0);
        hex::encode(&d[..4])
    }

    /// The key in hex. Only for `--export-keys`, which the user asks for explicitly.
    pub fn to_hex_secret(&self) -> String {
        hex::encode(self.0)
    }
}

impl<const N: usize> fmt::Debug for KeyBytes<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}-byte key #{}>", N, self.fingerprint())
    }
}

/// Pairwise Master Key (IEEE 802.11-2020 12.7.1.3): 256 bits.
pub type Pmk = KeyBytes<32>;

/// A passphrase (8..63 printable ASCII characters, IEEE 802.11-2020 J.4.1).
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Passphrase(String);

impl Passphrase {
    pub fn new(s: String) -> Self {
        Passphrase(s)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<passphrase>")
    }
}

/// The cipher a temporal key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cipher {
    /// CCMP-128 (IEEE 802.11-2020 12.5.3): 16-byte TK.
    Ccmp,
    /// TKIP (IEEE 802.11-2020 12.5.2): 16-byte TK + two 8-byte Michael keys.
    Tkip,
}

impl Cipher {
    /// Length of the temporal key in the PTK/GTK, Michael keys included
    /// (IEEE 802.11-2020 Table 12-8).
    pub fn tk_len(self) -> usize {
        match self {
            Cipher::Ccmp => 16,
            Cipher::Tkip => 32,
        }
    }
}

/// A temporal key for CCMP or TKIP. For TKIP, bytes 16..24 are the Michael key
/// for frames the authenticator sends, 24..32 for frames it receives
/// (IEEE 802.11-2020 12.8.1); for CCMP only the first 16 bytes are used.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct TemporalKey {
    #[zeroize(skip)]
    pub cipher: Cipher,
    pub(crate) bytes: [u8; 32],
}

impl TemporalKey {
    pub fn new(cipher: Cipher, tk: &[u8]) -> Option<Self> {
        if tk.len() < cipher.tk_len() {
            return None;
        }
        let mut bytes = [0u8; 32];
        bytes[..cipher.tk_len()].copy_from_slice(&tk[..cipher.tk_len()]);
        Some(TemporalKey { cipher, bytes })
    }

    /// The 16-byte encryption key (CCMP key or TKIP TK).
    pub fn key16(&self) -> &[u8; 16] {
        self.bytes[..16].try_into().expect("16 of 32")
    }

    /// TKIP Michael key for frames sent by the authenticator (AP → STA).
    pub fn mic_from_ap(&self) -> &[u8; 8] {
        self.bytes[16..24].try_into().expect("8 of 32")
    }

    /// TKIP Michael key for frames sent to the authenticator (STA → AP).
    pub fn mic_to_ap(&self) -> &[u8; 8] {
        self.bytes[24..32].try_into().expect("8 of 32")
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.cipher.tk_len()]
    }

    pub fn fingerprint(&self) -> String {
        let d = Sha256::digest(self.as_slice());
        hex::encode(&d[..4])
    }

    /// The key in hex. Only for `--export-keys`.
    pub fn to_hex_secret(&self) -> String {
        hex::encode(self.as_slice())
    }
}

impl fmt::Debug for TemporalKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{:?} TK #{}>", self.cipher, self.fingerprint())
    }
}

/// Pairwise Transient Key split into its parts (IEEE 802.11-2020 12.7.1.3).
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Ptk {
    /// EAPOL-Key Confirmation Key: MIC of EAPOL-Key frames.
    pub kck: [u8; 16],
    /// EAPOL-Key Encryption Key: wraps the GTK in key data.
    pub kek: [u8; 16],
    pub tk: TemporalKey,
}

impl fmt::Debug for Ptk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ptk({:?})", self.tk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_key_bytes() {
        let k = Pmk::new([0xab; 32]);
        let s = format!("{k:?}");
        assert!(!s.contains("abab"), "{s}");
        let tk = TemporalKey::new(Cipher::Ccmp, &[0xcd; 16]).unwrap();
        let s = format!("{tk:?}");
        assert!(!s.contains("cdcd"), "{s}");
        let p = Passphrase::new("dictionary".into());
        assert!(!format!("{p:?}").contains("dictionary"));
    }
}
