//! The TP-Link "Smart Home" autokey XOR cipher used by legacy Kasa devices on
//! TCP and UDP port 9999.
//!
//! This module owns the cipher only; framing lives in [`super::parser`].
//! Guarantees: pure functions of their input, no panics, output length equals
//! input length.
//!
//! There is no published spec. The cipher is documented by reverse engineering:
//! softScheck/tplink-smartplug `tplink_smartplug.py` (`encrypt`/`decrypt`),
//! python-kasa `kasa/transports/xortransport.py` (`XorEncryption`), and
//! Wireshark `epan/dissectors/packet-tplink-smarthome.c`.
//!
//! Each message is enciphered on its own, starting from [`INITIAL_KEY`]:
//! `c = key ^ p; key = c` to encrypt, and `p = key ^ c; key = c` to decrypt
//! (the next key is always the previous *ciphertext* byte). Without a key
//! schedule of its own this is an obfuscation, not encryption: anyone who sees
//! the bytes reads the plaintext.

/// The autokey's first value, 171 (0xAB), hard-coded in every known client
/// and firmware (softScheck `tplink_smartplug.py`: `key = 171`).
pub const INITIAL_KEY: u8 = 0xAB;

/// Enciphers one message (softScheck `encrypt`, without the length prefix).
pub fn encrypt(plain: &[u8]) -> Vec<u8> {
    let mut key = INITIAL_KEY;
    plain
        .iter()
        .map(|&p| {
            key ^= p;
            key
        })
        .collect()
}

/// Deciphers one message into a new buffer (softScheck `decrypt`).
pub fn decrypt(cipher: &[u8]) -> Vec<u8> {
    let mut out = cipher.to_vec();
    decrypt_in_place(&mut out);
    out
}

/// Deciphers one message in place: `p = key ^ c; key = c`.
pub fn decrypt_in_place(buf: &mut [u8]) {
    let mut key = INITIAL_KEY;
    for b in buf.iter_mut() {
        let c = *b;
        *b = key ^ c;
        key = c;
    }
}

/// The ciphertext byte that a message starting with `{` begins with.
///
/// Every IOT JSON message is an object, so its first ciphertext byte is
/// `0xAB ^ b'{'` = `0xD0`. The framer uses this to find message starts again
/// after a gap.
pub const OPEN_BRACE_CIPHER: u8 = INITIAL_KEY ^ b'{';

#[cfg(test)]
mod tests {
    use super::*;

    /// softScheck's `info` command. The expected bytes were computed
    /// independently with softScheck's algorithm in Python
    /// (`k = 171; for b in q: k ^= b; out.append(k)`), all 29 bytes.
    const SYSINFO: &[u8] = br#"{"system":{"get_sysinfo":{}}}"#;
    const SYSINFO_CIPHER: [u8; 29] = [
        0xd0, 0xf2, 0x81, 0xf8, 0x8b, 0xff, 0x9a, 0xf7, 0xd5, 0xef, 0x94, 0xb6, 0xd1, 0xb4, 0xc0,
        0x9f, 0xec, 0x95, 0xe6, 0x8f, 0xe1, 0x87, 0xe8, 0xca, 0xf0, 0x8b, 0xf6, 0x8b, 0xf6,
    ];

    #[test]
    fn encrypt_matches_softscheck_vector() {
        assert_eq!(encrypt(SYSINFO), SYSINFO_CIPHER);
    }

    #[test]
    fn decrypt_matches_softscheck_vector() {
        assert_eq!(decrypt(&SYSINFO_CIPHER), SYSINFO);
        let mut b = SYSINFO_CIPHER;
        decrypt_in_place(&mut b);
        assert_eq!(&b[..], SYSINFO);
    }

    #[test]
    fn empty_and_first_byte() {
        assert!(encrypt(b"").is_empty());
        assert!(decrypt(b"").is_empty());
        assert_eq!(encrypt(b"{")[0], OPEN_BRACE_CIPHER);
        assert_eq!(OPEN_BRACE_CIPHER, 0xd0);
    }

    proptest::proptest! {
        #[test]
        fn roundtrip(data in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            proptest::prop_assert_eq!(decrypt(&encrypt(&data)), data);
        }
    }
}
