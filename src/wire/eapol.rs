//! EAPOL-Key frame view (IEEE 802.1X-2020 11.3, IEEE 802.11-2020 12.7.2).
//!
//! Offsets are from the start of the 802.1X header (protocol version):
//!
//! | off | len | field |
//! |----:|----:|-------|
//! | 0 | 1 | protocol version |
//! | 1 | 1 | packet type (3 = EAPOL-Key) |
//! | 2 | 2 | packet body length (BE) |
//! | 4 | 1 | descriptor type (2 = RSN, 254 = WPA) |
//! | 5 | 2 | Key Information (BE) |
//! | 7 | 2 | Key Length |
//! | 9 | 8 | Key Replay Counter |
//! | 17 | 32 | Key Nonce |
//! | 49 | 16 | EAPOL-Key IV |
//! | 65 | 8 | Key RSC |
//! | 73 | 8 | reserved |
//! | 81 | m | Key MIC: m = 16 for most AKMs, 24 for AKMs 12, 13 (Suite B 192) and the 48-byte-PMK OWE/SAE-EXT-KEY, 32 with a 64-byte PMK |
//! | 81 + m | 2 | Key Data Length (BE) |
//! | 83 + m | n | Key Data |
//!
//! [`EapolKey::new_checked`] checks that the frame holds the fixed part and the
//! key data it announces, for a 16-byte MIC; [`EapolKey::detect`] finds the
//! MIC length when the AKM is not known yet (the one at which the Key Data
//! Length field accounts exactly for the 802.1X body, as a 24-byte MIC moves
//! it by 8 bytes). The MIC covers the 802.1X body length, so
//! [`EapolKey::frame`] is cut to `4 + body length` (trailing padding excluded).

use super::{Layer, LenError, be16};

/// Offset of the Key MIC field from the start of the 802.1X header: 4 (802.1X
/// header) + 1 (descriptor type) + 2 (key information) + 2 (key length) + 8
/// (replay counter) + 32 (nonce) + 16 (IV) + 8 (RSC) + 8 (reserved)
/// (IEEE 802.11-2020 12.7.2).
pub const MIC_OFFSET: usize = 81;
/// The usual MIC length (and the one [`EapolKey::new_checked`] assumes).
pub const MIC_LEN: usize = 16;
/// The MIC lengths an EAPOL-Key frame may have (IEEE 802.11-2020 12.7.2 and
/// Table 12-11; 32 for the SHA-512 variants of OWE and SAE-EXT-KEY).
pub const MIC_LENS: [usize; 3] = [16, 24, 32];
const KEY_DATA_OFFSET: usize = 99;

/// Key Information bits (12.7.2 Figure 12-33).
pub mod info {
    pub const VERSION_MASK: u16 = 0x0007;
    pub const PAIRWISE: u16 = 0x0008;
    pub const INDEX_MASK: u16 = 0x0030;
    pub const INSTALL: u16 = 0x0040;
    pub const ACK: u16 = 0x0080;
    pub const MIC: u16 = 0x0100;
    pub const SECURE: u16 = 0x0200;
    pub const ERROR: u16 = 0x0400;
    pub const REQUEST: u16 = 0x0800;
    pub const ENCRYPTED: u16 = 0x1000;
}

/// Which handshake message a frame is (12.7.6, 12.7.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Message {
    M1,
    M2,
    M3,
    M4,
    /// Group-key handshake message 1 (AP → STA, GTK in key data).
    G1,
    /// Group-key handshake message 2 (STA → AP).
    G2,
}

impl Message {
    pub fn name(self) -> &'static str {
        match self {
            Message::M1 => "M1",
            Message::M2 => "M2",
            Message::M3 => "M3",
            Message::M4 => "M4",
            Message::G1 => "G1",
            Message::G2 => "G2",
        }
    }
}

/// A checked EAPOL-Key frame.
#[derive(Clone, Copy)]
pub struct EapolKey<'a> {
    buf: &'a [u8],
    mic_len: usize,
}

impl<'a> EapolKey<'a> {
    /// `buf` starts at the 802.1X header (after LLC/SNAP with EtherType 0x888E).
    /// Returns `Ok(None)` for 802.1X packets that are not EAPOL-Key (EAP, Start…).
    /// Assumes a 16-byte MIC.
    pub fn new_checked(buf: &'a [u8]) -> Result<Option<EapolKey<'a>>, LenError> {
        Self::new_checked_mic(buf, MIC_LEN)
    }

    /// [`EapolKey::new_checked`] for a Key MIC of `mic_len` bytes.
    pub fn new_checked_mic(
        buf: &'a [u8],
        mic_len: usize,
    ) -> Result<Option<EapolKey<'a>>, LenError> {
        if buf.len() < 4 {
            return Err(LenError {
                layer: Layer::Ieee8021x,
                offset: 0,
                required: 4,
                len: buf.len(),
            });
        }
        if buf[1] != 3 {
            return Ok(None);
        }
        let mic_len = mic_len.min(64);
        let kd_off = KEY_DATA_OFFSET - MIC_LEN + mic_len;
        let body_len = be16(buf, 2) as usize;
        let end = 4 + body_len;
        if buf.len() < end || end < kd_off {
            return Err(LenError {
                layer: Layer::EapolKey,
                offset: 0,
                required: end.max(kd_off),
                len: buf.len(),
            });
        }
        let buf = &buf[..end];
        let kd_len = be16(buf, kd_off - 2) as usize;
        if kd_off + kd_len > end {
            return Err(LenError {
                layer: Layer::EapolKeyData,
                offset: 0,
                required: kd_off + kd_len,
                len: end,
            });
        }
        Ok(Some(EapolKey { buf, mic_len }))
    }

    /// Parses with the MIC length `hint` if given and the frame fits it
    /// exactly, else with the first of [`MIC_LENS`] at which the Key Data
    /// Length accounts exactly for the body, else as [`new_checked_mic`] with
    /// the hint (or 16) would.
    ///
    /// [`new_checked_mic`]: EapolKey::new_checked_mic
    pub fn detect(buf: &'a [u8], hint: Option<usize>) -> Result<Option<EapolKey<'a>>, LenError> {
        let exact = |m: usize| match Self::new_checked_mic(buf, m) {
            Ok(Some(k)) if k.key_data_end() == k.buf.len() => Some(k),
            _ => None,
        };
        if let Some(k) = hint.and_then(exact) {
            return Ok(Some(k));
        }
        if let Some(k) = MIC_LENS.iter().find_map(|&m| exact(m)) {
            return Ok(Some(k));
        }
        Self::new_checked_mic(buf, hint.unwrap_or(MIC_LEN))
    }

    fn key_data_off(&self) -> usize {
        KEY_DATA_OFFSET - MIC_LEN + self.mic_len
    }

    fn key_data_end(&self) -> usize {
        self.key_data_off() + be16(self.buf, self.key_data_off() - 2) as usize
    }

    /// Length of the Key MIC field.
    pub fn mic_len(&self) -> usize {
        self.mic_len
    }

    /// The frame as covered by the MIC (802.1X header + body).
    pub fn frame(&self) -> &'a [u8] {
        self.buf
    }
    pub fn descriptor_type(&self) -> u8 {
        self.buf[4]
    }
    pub fn key_info(&self) -> u16 {
        be16(self.buf, 5)
    }
    /// Key Descriptor Version: 1 HMAC-MD5/RC4, 2 HMAC-SHA1/AES, 3 AES-CMAC, 0 AKM-defined.
    pub fn version(&self) -> u8 {
        (self.key_info() & info::VERSION_MASK) as u8
    }
    pub fn has(&self, bit: u16) -> bool {
        self.key_info() & bit != 0
    }
    /// Key index bits (WPA1 group key handshake carries the GTK index here).
    pub fn key_index(&self) -> u8 {
        ((self.key_info() & info::INDEX_MASK) >> 4) as u8
    }
    pub fn key_len(&self) -> u16 {
        be16(self.buf, 7)
    }
    pub fn replay_counter(&self) -> u64 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.buf[9..17]);
        u64::from_be_bytes(b)
    }
    pub fn nonce(&self) -> &'a [u8; 32] {
        self.buf[17..49].try_into().expect("checked length")
    }
    pub fn key_iv(&self) -> &'a [u8; 16] {
        self.buf[49..65].try_into().expect("checked length")
    }
    /// Key RSC: the group key's receive sequence counter, little-endian PN.
    pub fn rsc(&self) -> u64 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.buf[65..73]);
        u64::from_le_bytes(b)
    }
    pub fn mic(&self) -> &'a [u8] {
        &self.buf[MIC_OFFSET..MIC_OFFSET + self.mic_len]
    }
    pub fn key_data(&self) -> &'a [u8] {
        &self.buf[self.key_data_off()..self.key_data_end()]
    }

    /// Classifies the message by its Key Information bits, the way
    /// Wireshark's dot11decrypt and hostapd tell them apart.
    pub fn message(&self) -> Message {
        let ack = self.has(info::ACK);
        let mic = self.has(info::MIC);
        if !self.has(info::PAIRWISE) {
            return if ack { Message::G1 } else { Message::G2 };
        }
        if ack {
            return if mic && self.has(info::INSTALL) {
                Message::M3
            } else {
                Message::M1
            };
        }
        // From the supplicant: M2 carries the SNonce and the RSN IE; M4 has an
        // all-zero nonce and no key data (some stacks set Secure on M2 of a rekey).
        let nonce_set = self.nonce().iter().any(|&b| b != 0);
        if !self.key_data().is_empty() || (nonce_set && !self.has(info::SECURE)) {
            Message::M2
        } else {
            Message::M4
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds an EAPOL-Key frame for tests (802.1X header onward).
    pub(crate) fn build(key_info: u16, replay: u64, nonce: [u8; 32], key_data: &[u8]) -> Vec<u8> {
        let body_len = 95 + key_data.len();
        let mut v = vec![2, 3];
        v.extend_from_slice(&(body_len as u16).to_be_bytes());
        v.push(2);
        v.extend_from_slice(&key_info.to_be_bytes());
        v.extend_from_slice(&16u16.to_be_bytes());
        v.extend_from_slice(&replay.to_be_bytes());
        v.extend_from_slice(&nonce);
        v.extend_from_slice(&[0; 16 + 8 + 8 + 16]);
        v.extend_from_slice(&(key_data.len() as u16).to_be_bytes());
        v.extend_from_slice(key_data);
        v
    }

    #[test]
    fn classify() {
        use info::*;
        let m1 = build(2 | PAIRWISE | ACK, 1, [1; 32], &[]);
        let m2 = build(2 | PAIRWISE | MIC, 1, [2; 32], &[0x30, 0]);
        let m3 = build(
            2 | PAIRWISE | ACK | MIC | INSTALL | SECURE | ENCRYPTED,
            2,
            [1; 32],
            &[0; 24],
        );
        let m4 = build(2 | PAIRWISE | MIC | SECURE, 2, [0; 32], &[]);
        let g1 = build(2 | ACK | MIC | SECURE | ENCRYPTED, 3, [0; 32], &[0; 24]);
        for (f, m) in [
            (m1, Message::M1),
            (m2, Message::M2),
            (m3, Message::M3),
            (m4, Message::M4),
            (g1, Message::G1),
        ] {
            let k = EapolKey::new_checked(&f).unwrap().unwrap();
            assert_eq!(k.message(), m);
        }
    }

    /// A 24-byte MIC (AKM 12) moves Key Data Length by 8 bytes; `detect`
    /// finds it from the lengths alone, and every truncation is an error.
    #[test]
    fn mic_length_24_detected() {
        let mut v = build(info::PAIRWISE | info::ACK, 1, [1; 32], &[]);
        // Insert 8 more MIC bytes before Key Data Length; fix the body length.
        v.splice(97..97, [0u8; 8]);
        let body = (v.len() - 4) as u16;
        v[2..4].copy_from_slice(&body.to_be_bytes());
        let k = EapolKey::detect(&v, None).unwrap().unwrap();
        assert_eq!(k.mic_len(), 24);
        assert_eq!(k.message(), Message::M1);
        assert!(k.key_data().is_empty());
        assert_eq!(
            EapolKey::detect(&v, Some(24)).unwrap().unwrap().mic_len(),
            24
        );
        // A hint that does not fit exactly loses to the lengths.
        assert_eq!(
            EapolKey::detect(&v, Some(16)).unwrap().unwrap().mic_len(),
            24
        );
        // A 16-byte frame stays 16.
        let f = build(0x10a, 1, [2; 32], &[1, 2, 3]);
        assert_eq!(EapolKey::detect(&f, None).unwrap().unwrap().mic_len(), 16);
        assert_eq!(
            EapolKey::detect(&f, Some(24)).unwrap().unwrap().mic_len(),
            16
        );
        for n in 0..v.len() {
            assert!(EapolKey::detect(&v[..n], Some(24)).is_err());
            for m in [0, 16, 24, 32, 64, 1000] {
                if let Ok(Some(k)) = EapolKey::new_checked_mic(&v[..n], m) {
                    let _ = (k.mic(), k.key_data(), k.message());
                }
            }
        }
    }

    #[test]
    fn truncations_and_lengths() {
        let mut f = build(0x10a, 1, [2; 32], &[1, 2, 3]);
        for n in 0..f.len() {
            assert!(EapolKey::new_checked(&f[..n]).is_err());
        }
        let k = EapolKey::new_checked(&f).unwrap().unwrap();
        assert_eq!(k.key_data(), &[1, 2, 3]);
        // Key data length beyond the body.
        f[98] = 200;
        assert!(EapolKey::new_checked(&f).is_err());
        // Trailing padding after the body is excluded from the MIC'd frame.
        let mut f = build(0x10a, 1, [2; 32], &[]);
        let n = f.len();
        f.extend_from_slice(&[0; 10]);
        assert_eq!(EapolKey::new_checked(&f).unwrap().unwrap().frame().len(), n);
    }
}
