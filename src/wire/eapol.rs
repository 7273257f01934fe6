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
//! | 81 | 16 | Key MIC (for the 16-byte MIC AKMs this crate supports) |
//! | 97 | 2 | Key Data Length (BE) |
//! | 99 | n | Key Data |
//!
//! [`EapolKey::new_checked`] checks that the frame holds the fixed part and the
//! key data it announces; the MIC covers the 802.1X body length, so
//! [`EapolKey::frame`] is cut to `4 + body length` (trailing padding excluded).

use super::{LenError, be16};

pub const MIC_OFFSET: usize = 81;
pub const MIC_LEN: usize = 16;
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
}

impl<'a> EapolKey<'a> {
    /// `buf` starts at the 802.1X header (after LLC/SNAP with EtherType 0x888E).
    /// Returns `Ok(None)` for 802.1X packets that are not EAPOL-Key (EAP, Start…).
    pub fn new_checked(buf: &'a [u8]) -> Result<Option<EapolKey<'a>>, LenError> {
        if buf.len() < 4 {
            return Err(LenError {
                layer: "802.1X",
                required: 4,
                len: buf.len(),
            });
        }
        if buf[1] != 3 {
            return Ok(None);
        }
        let body_len = be16(buf, 2) as usize;
        let end = 4 + body_len;
        if buf.len() < end || end < KEY_DATA_OFFSET {
            return Err(LenError {
                layer: "EAPOL-Key",
                required: end.max(KEY_DATA_OFFSET),
                len: buf.len(),
            });
        }
        let buf = &buf[..end];
        let kd_len = be16(buf, 97) as usize;
        if KEY_DATA_OFFSET + kd_len > end {
            return Err(LenError {
                layer: "EAPOL-Key key data",
                required: KEY_DATA_OFFSET + kd_len,
                len: end,
            });
        }
        Ok(Some(EapolKey { buf }))
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
        &self.buf[MIC_OFFSET..MIC_OFFSET + MIC_LEN]
    }
    pub fn key_data(&self) -> &'a [u8] {
        let n = be16(self.buf, 97) as usize;
        &self.buf[KEY_DATA_OFFSET..KEY_DATA_OFFSET + n]
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
