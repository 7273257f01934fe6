//! EAPOL-Key Key Data: decryption and the KDEs inside it.
//!
//! - [`decrypt_key_data`]: the Key Data of message 3 and of group-key message 1
//!   is encrypted with the KEK (IEEE 802.11-2020 12.7.2 b.1 and the Key Data
//!   paragraph): AES key unwrap (RFC 3394 §2.2.2) for key descriptor versions 2
//!   and 3 (and 0, "AKM defined", for the AKMs that use AES-128-CMAC), RC4 with key
//!   `Key IV ‖ KEK` and the first 256 keystream bytes discarded for version 1.
//! - [`kdes`]: walks the decrypted Key Data: elements (the RSNE in message 3) and
//!   KDEs (IEEE 802.11-2020 12.7.2, Table 12-10), up to the padding
//!   `0xdd 0x00…` that AES key wrap needs (12.7.2 "Key Data").
//!
//! Caps: Key Data longer than [`MAX_KEY_DATA_LEN`] is refused before any work
//! (Wireshark's dot11decrypt caps the whole EAPOL frame at 1024 bytes). The KDE
//! walk never allocates and stops at the first length that runs past the end.
//!
//! Decrypted Key Data holds the GTK: the caller owns `out` and should zeroize it
//! (or hold it in `zeroize::Zeroizing`) when done.

use std::fmt;

use aes_kw::{KeyInit, KwAes128, KwAes256};
use rc4::{Rc4, StreamCipher};
use zeroize::{Zeroize, Zeroizing};

use crate::wire::rsn::{ID_VENDOR, elements};

/// Largest Key Data accepted, in bytes. A message 3 with RSNE, GTK, IGTK and
/// BIGTK KDEs is under 200 bytes; the EAPOL-Key Key Data Length field allows 65535.
pub const MAX_KEY_DATA_LEN: usize = 1024;

/// Keystream bytes RC4 discards before Key Data (IEEE 802.11-2020 12.7.2, Key
/// Descriptor Version 1: "the first 256 octets of the RC4 key stream shall be
/// discarded").
const RC4_SKIP: usize = 256;

/// OUI of KDEs defined by IEEE 802.11 (Table 12-10).
pub const OUI_IEEE: [u8; 3] = [0x00, 0x0F, 0xAC];
/// KDE data type of the GTK KDE (Table 12-10).
pub const KDE_GTK: u8 = 1;
/// KDE data type of the IGTK KDE (Table 12-10).
pub const KDE_IGTK: u8 = 9;
/// KDE data type of the PMKID KDE (Table 12-10).
pub const KDE_PMKID: u8 = 4;

/// Why Key Data could not be decrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GtkError {
    /// AES key wrap needs a multiple of 8 bytes, at least 16 (one block plus the IV).
    BadLength { len: usize },
    /// Longer than [`MAX_KEY_DATA_LEN`].
    TooLong { len: usize },
    /// A key descriptor version with no Key Data encryption defined here.
    UnknownVersion(u8),
    /// RFC 3394 §2.2.3 integrity check failed: wrong KEK or corrupted data.
    IntegrityCheckFailed,
}

impl fmt::Display for GtkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GtkError::BadLength { len } => {
                write!(f, "key data: {len} bytes is not a key-wrap length")
            }
            GtkError::TooLong { len } => {
                write!(f, "key data: {len} bytes, more than {MAX_KEY_DATA_LEN}")
            }
            GtkError::UnknownVersion(v) => write!(f, "key data: unknown descriptor version {v}"),
            GtkError::IntegrityCheckFailed => f.write_str("key data: key unwrap integrity check"),
        }
    }
}

impl std::error::Error for GtkError {}

/// Decrypts EAPOL-Key Key Data into `out` (cleared first, left empty on error).
///
/// `version` is the Key Descriptor Version (Key Information bits 0–2): 1 → RC4
/// keyed with `key_iv ‖ kek`, skipping 256 keystream bytes; 0, 2, 3 → AES key
/// unwrap with `kek` (RFC 3394; AES-128 for a 16-byte KEK, AES-256 for the
/// 32-byte KEK of AKMs 12 and 13), which yields 8 bytes fewer than `data`.
/// `key_iv` is only used by version 1. A KEK of another length fails the
/// integrity check.
pub fn decrypt_key_data(
    version: u8,
    kek: &[u8],
    key_iv: &[u8; 16],
    data: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), GtkError> {
    out.zeroize();
    if data.len() > MAX_KEY_DATA_LEN {
        return Err(GtkError::TooLong { len: data.len() });
    }
    match version {
        1 => {
            let Some(kek) = kek.get(..16) else {
                return Err(GtkError::IntegrityCheckFailed);
            };
            let mut key = Zeroizing::new([0u8; 32]);
            key[..16].copy_from_slice(key_iv);
            key[16..].copy_from_slice(kek);
            let k: &[u8; 32] = &key;
            let mut rc4 = Rc4::new(k.into());
            let mut skip = [0u8; RC4_SKIP];
            rc4.apply_keystream(&mut skip);
            out.extend_from_slice(data);
            rc4.apply_keystream(out);
            skip.zeroize();
            Ok(())
        }
        0 | 2 | 3 => {
            if data.len() < 16 || !data.len().is_multiple_of(8) {
                return Err(GtkError::BadLength { len: data.len() });
            }
            out.resize(data.len() - 8, 0);
            let r = match kek.len() {
                16 => KwAes128::new_from_slice(kek)
                    .map_err(|_| ())
                    .and_then(|kw| kw.unwrap_key(data, out).map(|_| ()).map_err(|_| ())),
                32 => KwAes256::new_from_slice(kek)
                    .map_err(|_| ())
                    .and_then(|kw| kw.unwrap_key(data, out).map(|_| ()).map_err(|_| ())),
                _ => Err(()),
            };
            match r {
                Ok(()) => Ok(()),
                Err(()) => {
                    out.zeroize();
                    Err(GtkError::IntegrityCheckFailed)
                }
            }
        }
        v => Err(GtkError::UnknownVersion(v)),
    }
}

/// One entry of decrypted Key Data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kde<'a> {
    /// GTK KDE (00-0F-AC:1, IEEE 802.11-2020 12.7.2). `key` is whatever follows the two
    /// header bytes; its length is the caller's to check against the group cipher.
    Gtk { key_id: u8, tx: bool, key: &'a [u8] },
    /// IGTK KDE (00-0F-AC:9, IEEE 802.11-2020 12.7.2): key ID, IPN (the BIP packet number,
    /// little-endian), key.
    Igtk {
        key_id: u16,
        ipn: [u8; 6],
        key: &'a [u8],
    },
    /// PMKID KDE (00-0F-AC:4): the PMKID the authenticator names the PMK
    /// with in message 1.
    Pmkid([u8; 16]),
    /// Any other KDE, or a GTK/IGTK KDE too short for its fixed fields.
    Other {
        oui: [u8; 3],
        data_type: u8,
        body: &'a [u8],
    },
    /// An element that is not a KDE (e.g. the RSNE, ID 48), or a vendor element
    /// shorter than a KDE header.
    Element { id: u8, body: &'a [u8] },
}

/// The KDEs and elements of decrypted Key Data, in order (IEEE 802.11-2020
/// 12.7.2). Stops at padding (`0xdd` with length 0, or a lone final `0xdd`) and
/// at the first length that runs past the end; never panics.
pub fn kdes(data: &[u8]) -> impl Iterator<Item = Kde<'_>> {
    // A lone 0xdd at the end is padding; the walker stops there on its own, as
    // the element has no length byte.
    elements(data)
        .take_while(|&(id, body)| !(id == ID_VENDOR && body.is_empty()))
        .map(|(id, body)| classify(id, body))
}

fn classify(id: u8, body: &[u8]) -> Kde<'_> {
    let [o0, o1, o2, data_type, payload @ ..] = body else {
        return Kde::Element { id, body };
    };
    if id != ID_VENDOR {
        return Kde::Element { id, body };
    }
    let oui = [*o0, *o1, *o2];
    let other = Kde::Other {
        oui,
        data_type: *data_type,
        body: payload,
    };
    if oui != OUI_IEEE {
        return other;
    }
    match (*data_type, payload) {
        (KDE_GTK, [flags, _reserved, key @ ..]) => Kde::Gtk {
            key_id: flags & 0x03,
            tx: flags & 0x04 != 0,
            key,
        },
        (KDE_PMKID, p) if p.len() == 16 => {
            let mut id = [0u8; 16];
            id.copy_from_slice(p);
            Kde::Pmkid(id)
        }
        (KDE_IGTK, [k0, k1, i0, i1, i2, i3, i4, i5, key @ ..]) => Kde::Igtk {
            key_id: u16::from_le_bytes([*k0, *k1]),
            ipn: [*i0, *i1, *i2, *i3, *i4, *i5],
            key,
        },
        _ => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wpa::mic::tests::{LINKSYS_WPA2, N02_SHA256, h};

    /// RFC 3394 §4.1: 128 bits of key data with a 128-bit KEK.
    #[test]
    fn rfc3394_4_1() {
        let kek: [u8; 16] = h("000102030405060708090a0b0c0d0e0f").try_into().unwrap();
        let wrapped = h("1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5");
        let mut out = vec![0xee; 3];
        decrypt_key_data(2, &kek, &[0; 16], &wrapped, &mut out).unwrap();
        assert_eq!(out, h("00112233445566778899aabbccddeeff"));
        decrypt_key_data(3, &kek, &[0; 16], &wrapped, &mut out).unwrap();
        assert_eq!(out, h("00112233445566778899aabbccddeeff"));
        // Wrong KEK or a flipped bit: integrity failure, `out` left empty.
        let mut bad = wrapped.clone();
        bad[20] ^= 1;
        assert_eq!(
            decrypt_key_data(2, &kek, &[0; 16], &bad, &mut out),
            Err(GtkError::IntegrityCheckFailed)
        );
        assert!(out.is_empty());
        assert_eq!(
            decrypt_key_data(2, &[0; 16], &[0; 16], &wrapped, &mut out),
            Err(GtkError::IntegrityCheckFailed)
        );
    }

    #[test]
    fn aes_lengths_refused() {
        let mut out = Vec::new();
        for len in [0, 1, 7, 8, 9, 15, 17, 23] {
            assert_eq!(
                decrypt_key_data(2, &[0; 16], &[0; 16], &vec![0; len], &mut out),
                Err(GtkError::BadLength { len })
            );
        }
        let big = vec![0; MAX_KEY_DATA_LEN + 8];
        assert_eq!(
            decrypt_key_data(2, &[0; 16], &[0; 16], &big, &mut out),
            Err(GtkError::TooLong { len: big.len() })
        );
        assert_eq!(
            decrypt_key_data(4, &[0; 16], &[0; 16], &[0; 16], &mut out),
            Err(GtkError::UnknownVersion(4))
        );
    }

    /// RC4 path against an independent implementation (Python, checked on RFC
    /// 6229's key 0102030405 first): key IV 00..0f, KEK 10..1f.
    #[test]
    fn rc4_skip_256() {
        let iv: [u8; 16] = core::array::from_fn(|i| i as u8);
        let kek: [u8; 16] = core::array::from_fn(|i| 16 + i as u8);
        let plain = h("dd16000fac010100d8793b69ed6d1aa9cf76244123f5728ddd00");
        let cipher = h("429c7dd101110dbc0369924f41b905dbdba5b6c95787ad7891bd");
        let mut out = Vec::new();
        decrypt_key_data(1, &kek, &iv, &cipher, &mut out).unwrap();
        assert_eq!(out, plain);
        // Round trip: RC4 is its own inverse.
        let mut back = Vec::new();
        decrypt_key_data(1, &kek, &iv, &out, &mut back).unwrap();
        assert_eq!(back, cipher);
        decrypt_key_data(1, &kek, &iv, &[], &mut out).unwrap();
        assert!(out.is_empty());
    }

    /// Message 3 of `wpa2-psk-linksys.cap` (version 2) and `n-02.cap` (version 3,
    /// with an IGTK): unwrapped plaintext recomputed with Python's `cryptography`.
    #[test]
    fn real_message_3_key_data() {
        let m3 = h(LINKSYS_WPA2.m3);
        let ptk = LINKSYS_WPA2.ptk();
        let len = usize::from(u16::from_be_bytes([m3[97], m3[98]]));
        let iv: [u8; 16] = m3[49..65].try_into().unwrap();
        let mut out = Vec::new();
        decrypt_key_data(m3[6] & 7, &ptk.kek, &iv, &m3[99..99 + len], &mut out).unwrap();
        assert_eq!(
            hex::encode(&out),
            "30140100000fac040100000fac040100000fac020000\
             dd16000fac010100d8793b69ed6d1aa9cf76244123f5728ddd00"
        );
        let v: Vec<_> = kdes(&out).collect();
        assert_eq!(v.len(), 2);
        assert!(matches!(v[0], Kde::Element { id: 48, body } if body.len() == 20));
        assert_eq!(
            v[1],
            Kde::Gtk {
                key_id: 1,
                tx: false,
                key: &h("d8793b69ed6d1aa9cf76244123f5728d")
            }
        );

        let m3 = h(N02_SHA256.m3);
        let ptk = N02_SHA256.ptk();
        let len = usize::from(u16::from_be_bytes([m3[97], m3[98]]));
        decrypt_key_data(m3[6] & 7, &ptk.kek, &[0; 16], &m3[99..99 + len], &mut out).unwrap();
        let v: Vec<_> = kdes(&out).collect();
        let (gtk, igtk) = (
            h("d5d89f70b8ad1d7321acbff2e640f0f4"),
            h("72488c8f915554673f7122df17bed4ca"),
        );
        assert_eq!(v.len(), 3);
        assert_eq!(
            v[1],
            Kde::Gtk {
                key_id: 1,
                tx: false,
                key: &gtk
            }
        );
        assert_eq!(
            v[2],
            Kde::Igtk {
                key_id: 4,
                ipn: [0; 6],
                key: &igtk
            }
        );
    }

    #[test]
    fn hand_built_kdes_and_padding() {
        let mut d = h("dd16000fac01 06 00".replace(' ', "").as_str());
        d.extend_from_slice(&[0xab; 16]);
        d.extend_from_slice(&h("dd05506f9a0c01")); // vendor KDE, another OUI
        d.extend_from_slice(&h("dd03000fac")); // shorter than a KDE header
        d.extend_from_slice(&[0xdd, 0x00, 0x00, 0x00]); // padding
        d.extend_from_slice(&h("dd16000fac01")); // after padding: ignored
        let v: Vec<_> = kdes(&d).collect();
        assert_eq!(
            v,
            vec![
                Kde::Gtk {
                    key_id: 2,
                    tx: true,
                    key: &[0xab; 16]
                },
                Kde::Other {
                    oui: [0x50, 0x6f, 0x9a],
                    data_type: 0x0c,
                    body: &[1]
                },
                Kde::Element {
                    id: 0xdd,
                    body: &[0x00, 0x0f, 0xac]
                },
            ]
        );
        // A lone 0xdd at the end is padding too.
        assert_eq!(kdes(&[0xdd]).count(), 0);
        assert_eq!(kdes(&[]).count(), 0);
    }

    #[test]
    fn malformed_kdes_never_panic() {
        // GTK / IGTK KDEs too short for their fixed fields come out as Other.
        let d = h("dd05000fac0101dd0c000fac090100000000000000");
        let v: Vec<_> = kdes(&d).collect();
        assert_eq!(
            v,
            vec![
                Kde::Other {
                    oui: OUI_IEEE,
                    data_type: KDE_GTK,
                    body: &[1]
                },
                Kde::Igtk {
                    key_id: 1,
                    ipn: [0; 6],
                    key: &[]
                },
            ]
        );
        let d = h("dd0b000fac090100000000000000");
        let v: Vec<_> = kdes(&d).collect();
        assert!(matches!(
            v[..],
            [Kde::Other {
                data_type: KDE_IGTK,
                ..
            }]
        ));
        // A length past the end stops the walk.
        assert_eq!(kdes(&h("dd20000fac01")).count(), 0);
        // Every prefix and every byte value at every position: no panic.
        let mut base = h("30020100dd16000fac010100");
        base.extend_from_slice(&[0x5a; 16]);
        base.extend_from_slice(&h("dd0e000fac09040001020304050607"));
        for len in 0..=base.len() {
            let _ = kdes(&base[..len]).count();
        }
        for pos in 0..base.len() {
            for b in [0u8, 1, 2, 0x7f, 0xdd, 0xff] {
                let mut m = base.clone();
                m[pos] = b;
                let _ = kdes(&m).count();
            }
        }
    }
}
