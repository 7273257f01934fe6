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

/// Secret bytes whose length is known only at run time (at most `N`):
/// zeroized on drop, redacted in `Debug`, readable as a slice.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct VarKey<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> VarKey<N> {
    /// `None` when `b` is longer than `N`.
    pub fn from_slice(b: &[u8]) -> Option<Self> {
        if b.len() > N {
            return None;
        }
        let mut bytes = [0u8; N];
        bytes[..b.len()].copy_from_slice(b);
        Some(VarKey {
            bytes,
            len: b.len(),
        })
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// First 4 bytes of SHA-256 over the key.
    pub fn fingerprint(&self) -> String {
        let d = Sha256::digest(self.as_slice());
        hex::encode(&d[..4])
    }

    /// The key in hex. Only for `--export-keys`.
    pub fn to_hex_secret(&self) -> String {
        hex::encode(self.as_slice())
    }
}

impl<const N: usize> std::ops::Deref for VarKey<N> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl<const N: usize> std::ops::DerefMut for VarKey<N> {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.bytes[..self.len]
    }
}

impl<const N: usize> AsRef<[u8]> for VarKey<N> {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl<const N: usize> fmt::Debug for VarKey<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}-byte key #{}>", self.len, self.fingerprint())
    }
}

/// A PMK of any length an AKM uses: 32 bytes (PSK, SAE, OWE-19, 802.1X), 48
/// (Suite B 192, PSK-SHA384, OWE-20) or 64 (OWE-21, SAE-EXT-KEY group 21).
pub type PmkAny = VarKey<64>;

/// A KCK or KEK: 16, 24 or 32 bytes (IEEE 802.11-2020 Table 12-11).
pub type KeyPart = VarKey<32>;

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

/// The cipher a temporal key is for (IEEE 802.11-2020 Table 9-149).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cipher {
    /// CCMP-128 (IEEE 802.11-2020 12.5.3): 16-byte TK, 8-byte MIC.
    Ccmp,
    /// TKIP (IEEE 802.11-2020 12.5.2): 16-byte TK + two 8-byte Michael keys.
    Tkip,
    /// GCMP-128 (IEEE 802.11-2020 12.5.5): 16-byte TK, 16-byte MIC.
    Gcmp,
    /// GCMP-256 (12.5.5): 32-byte TK, 16-byte MIC.
    Gcmp256,
    /// CCMP-256 (12.5.3): 32-byte TK, 16-byte MIC.
    Ccmp256,
}

impl Cipher {
    /// Length of the temporal key in the PTK/GTK, Michael keys included
    /// (IEEE 802.11-2020 Table 12-8).
    pub fn tk_len(self) -> usize {
        match self {
            Cipher::Ccmp | Cipher::Gcmp => 16,
            Cipher::Tkip | Cipher::Gcmp256 | Cipher::Ccmp256 => 32,
        }
    }

    /// The cipher of a suite selector (`OUI << 8 | type`, Table 9-149; WPA1's
    /// 00-50-F2 selectors for TKIP and CCMP too); `None` for WEP, BIP and
    /// unknown suites.
    pub fn from_suite(s: u32) -> Option<Cipher> {
        match s {
            0x000F_AC02 | 0x0050_F202 => Some(Cipher::Tkip),
            0x000F_AC04 | 0x0050_F204 => Some(Cipher::Ccmp),
            0x000F_AC08 => Some(Cipher::Gcmp),
            0x000F_AC09 => Some(Cipher::Gcmp256),
            0x000F_AC0A => Some(Cipher::Ccmp256),
            _ => None,
        }
    }

    /// The RSN suite selector (00-0F-AC).
    pub fn suite(self) -> u32 {
        match self {
            Cipher::Tkip => 0x000F_AC02,
            Cipher::Ccmp => 0x000F_AC04,
            Cipher::Gcmp => 0x000F_AC08,
            Cipher::Gcmp256 => 0x000F_AC09,
            Cipher::Ccmp256 => 0x000F_AC0A,
        }
    }

    /// Name as in the standard.
    pub fn name(self) -> &'static str {
        match self {
            Cipher::Ccmp => "CCMP-128",
            Cipher::Tkip => "TKIP",
            Cipher::Gcmp => "GCMP-128",
            Cipher::Gcmp256 => "GCMP-256",
            Cipher::Ccmp256 => "CCMP-256",
        }
    }

    /// The ciphers a raw temporal key of `len` bytes may be for, most likely
    /// first (as Wireshark tries them for a `tk` key: 16 bytes → CCMP-128,
    /// GCMP-128; 32 bytes → GCMP-256, CCMP-256, TKIP).
    pub fn for_tk_len(len: usize) -> &'static [Cipher] {
        match len {
            16 => &[Cipher::Ccmp, Cipher::Gcmp],
            32 => &[Cipher::Gcmp256, Cipher::Ccmp256, Cipher::Tkip],
            _ => &[],
        }
    }
}

/// A temporal key. For TKIP, bytes 16..24 are the Michael key for frames the
/// authenticator sends, 24..32 for frames it receives (IEEE 802.11-2020
/// 12.8.1); CCMP-128 and GCMP-128 use the first 16 bytes, CCMP-256 and
/// GCMP-256 all 32.
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

    /// The 16-byte encryption key (CCMP-128/GCMP-128 key or TKIP TK).
    pub fn key16(&self) -> &[u8; 16] {
        self.bytes[..16].try_into().expect("16 of 32")
    }

    /// The 32-byte key of CCMP-256 and GCMP-256.
    pub fn key32(&self) -> &[u8; 32] {
        &self.bytes
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
    /// EAPOL-Key Confirmation Key: MIC of EAPOL-Key frames (16, 24 or 32 bytes).
    pub kck: KeyPart,
    /// EAPOL-Key Encryption Key: wraps the GTK in key data (16 or 32 bytes).
    pub kek: KeyPart,
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
        let v = PmkAny::from_slice(&[0xef; 48]).unwrap();
        let s = format!("{v:?} {:?}", v.clone());
        assert!(!s.contains("efef") && !s.contains("239"), "{s}");
        let tk = TemporalKey::new(Cipher::Gcmp256, &[0x9a; 32]).unwrap();
        assert!(!format!("{tk:?}").contains("9a9a"));
        use crate::wpa::handshake::{Msk, NetworkSecret, Secret};
        for secret in [
            Secret::NamedPmk {
                pmk: v.clone(),
                pmkid: Some([0x11; 16]),
            },
            Secret::Msk(Msk::from_slice(&[0xef; 64]).unwrap()),
            Secret::Tk {
                tk: VarKey::from_slice(&[0xef; 16]).unwrap(),
                bssid: None,
                sta: None,
            },
        ] {
            let n = NetworkSecret { ssid: None, secret };
            let s = format!("{n:?} {n:#?}");
            assert!(
                !s.contains("efef") && !s.contains("239") && !s.contains("1111"),
                "{s}"
            );
        }
    }
}
