//! IEEE 802.11 MAC header view (IEEE 802.11-2020 9.2.3 general frame format,
//! 9.2.4 frame fields, 9.3.2.1 data frames, 9.3.2.2 A-MSDU).
//!
//! [`Dot11::new_checked`] does all the offset arithmetic once: frame type, the
//! four ToDS/FromDS address layouts (incl. 4-address WDS), QoS Control and the
//! +HTC field. After it returns `Ok`, no accessor panics. Control frames are
//! accepted with their short headers; only data and management frames carry a
//! body the rest of the crate looks at.

use super::{Layer, LenError, MacAddr, le16};

/// Frame type (FC bits 2–3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameType {
    Management,
    Control,
    Data,
    Extension,
}

/// Frame Control flag bits (second octet).
pub mod fc {
    pub const TO_DS: u8 = 0x01;
    pub const FROM_DS: u8 = 0x02;
    pub const MORE_FRAGS: u8 = 0x04;
    pub const RETRY: u8 = 0x08;
    pub const PWR_MGT: u8 = 0x10;
    pub const MORE_DATA: u8 = 0x20;
    pub const PROTECTED: u8 = 0x40;
    pub const ORDER: u8 = 0x80;
}

/// Management subtypes this crate acts on (9.2.4.1.3 Table 9-1).
pub mod mgmt {
    pub const ASSOC_REQ: u8 = 0;
    pub const ASSOC_RESP: u8 = 1;
    pub const REASSOC_REQ: u8 = 2;
    pub const REASSOC_RESP: u8 = 3;
    pub const PROBE_REQ: u8 = 4;
    pub const PROBE_RESP: u8 = 5;
    pub const BEACON: u8 = 8;
    pub const DISASSOC: u8 = 10;
    pub const AUTH: u8 = 11;
    pub const DEAUTH: u8 = 12;
    pub const ACTION: u8 = 13;
    pub const ACTION_NO_ACK: u8 = 14;

    /// Fixed fields before the elements of a Beacon or Probe Response:
    /// Timestamp (8), Beacon Interval (2), Capability Information (2)
    /// (IEEE 802.11-2020 9.3.3.2, 9.3.3.10).
    pub const BEACON_FIXED_LEN: usize = 12;
    /// Fixed fields of an Association Request: Capability Information (2),
    /// Listen Interval (2) (9.3.3.5).
    pub const ASSOC_REQ_FIXED_LEN: usize = 4;
    /// Fixed fields of a Reassociation Request: Capability Information (2),
    /// Listen Interval (2), Current AP Address (6) (9.3.3.7).
    pub const REASSOC_REQ_FIXED_LEN: usize = 10;

    /// The elements of a management frame body of `subtype`, for the
    /// subtypes that announce a network (Beacon, Probe Response,
    /// (Re)Association Request); `None` for others or a body shorter than
    /// its fixed fields.
    pub fn elements_of(subtype: u8, body: &[u8]) -> Option<&[u8]> {
        let fixed = match subtype {
            BEACON | PROBE_RESP => BEACON_FIXED_LEN,
            ASSOC_REQ => ASSOC_REQ_FIXED_LEN,
            REASSOC_REQ => REASSOC_REQ_FIXED_LEN,
            _ => return None,
        };
        body.get(fixed..)
    }
}

/// The security header of a protected frame body: the key ID octet (octet
/// 3) shared by the TKIP, CCMP and GCMP headers (IEEE 802.11-2020 12.5.2.2,
/// 12.5.3.2, 12.5.5.2): bit 5 is Ext IV, bits 6–7 the key ID. The header is
/// 8 bytes long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecurityHeader {
    /// Ext IV set: a TKIP/CCMP/GCMP header (clear: WEP).
    pub ext_iv: bool,
    pub key_id: u8,
}

impl SecurityHeader {
    pub const LEN: usize = 8;
    /// Ext IV bit of the key ID octet.
    pub const EXT_IV: u8 = 0x20;

    /// `None` when `body` is shorter than the 8-byte header.
    pub fn parse(body: &[u8]) -> Option<SecurityHeader> {
        if body.len() < Self::LEN {
            return None;
        }
        let k = body[3];
        Some(SecurityHeader {
            ext_iv: k & Self::EXT_IV != 0,
            key_id: k >> 6,
        })
    }
}

/// A checked view over an 802.11 MPDU (without FCS).
#[derive(Clone, Copy)]
pub struct Dot11<'a> {
    buf: &'a [u8],
    hdr_len: usize,
    mac_len: usize,
}

impl<'a> Dot11<'a> {
    /// Validates the header; `data_pad` is radiotap's "frame has padding between
    /// the 802.11 header and payload (to 32-bit boundary)" flag.
    pub fn new_checked(buf: &'a [u8], data_pad: bool) -> Result<Dot11<'a>, LenError> {
        let err = |required| LenError {
            layer: Layer::Dot11,
            offset: 0,
            required,
            len: buf.len(),
        };
        if buf.len() < 10 {
            return Err(err(10));
        }
        let fc0 = buf[0];
        let fc1 = buf[1];
        let ty = (fc0 >> 2) & 3;
        let subtype = fc0 >> 4;
        let mut len = match ty {
            // Control frames: 10 bytes (CTS/ACK) or 16 (RTS, BlockAck…).
            1 => match subtype {
                0x0c | 0x0d => 10,
                _ => 16,
            },
            // Extension frames (DMG beacon…): only FC/duration/A1 are assumed.
            3 => 10,
            _ => 24,
        };
        if ty == 2 {
            if fc1 & fc::TO_DS != 0 && fc1 & fc::FROM_DS != 0 {
                len += 6;
            }
            if subtype & 0x08 != 0 {
                len += 2;
            }
        }
        // +HTC (9.2.4.1.10): the Order bit in QoS data and management frames
        // signals a 4-byte HT Control field.
        if fc1 & fc::ORDER != 0 && ((ty == 2 && subtype & 0x08 != 0) || ty == 0) {
            len += 4;
        }
        if buf.len() < len {
            return Err(err(len));
        }
        let mut hdr_len = len;
        if data_pad && ty == 2 {
            hdr_len = (len + 3) & !3;
            if buf.len() < hdr_len {
                return Err(err(hdr_len));
            }
        }
        Ok(Dot11 {
            buf,
            hdr_len,
            mac_len: len,
        })
    }

    /// The whole frame.
    pub fn bytes(&self) -> &'a [u8] {
        self.buf
    }
    /// Header length, including radiotap data padding when present.
    pub fn header_len(&self) -> usize {
        self.hdr_len
    }
    /// MAC header length without radiotap data padding (what AAD and outputs use).
    pub fn mac_header_len(&self) -> usize {
        self.mac_len
    }
    /// The MAC header, without padding.
    pub fn header(&self) -> &'a [u8] {
        &self.buf[..self.mac_len]
    }
    /// Frame body (after the header, before any FCS the link layer stripped).
    pub fn body(&self) -> &'a [u8] {
        &self.buf[self.hdr_len..]
    }
    pub fn frame_type(&self) -> FrameType {
        match (self.buf[0] >> 2) & 3 {
            0 => FrameType::Management,
            1 => FrameType::Control,
            2 => FrameType::Data,
            _ => FrameType::Extension,
        }
    }
    pub fn subtype(&self) -> u8 {
        self.buf[0] >> 4
    }
    pub fn flags(&self) -> u8 {
        self.buf[1]
    }
    pub fn to_ds(&self) -> bool {
        self.buf[1] & fc::TO_DS != 0
    }
    pub fn from_ds(&self) -> bool {
        self.buf[1] & fc::FROM_DS != 0
    }
    pub fn protected(&self) -> bool {
        self.buf[1] & fc::PROTECTED != 0
    }
    pub fn retry(&self) -> bool {
        self.buf[1] & fc::RETRY != 0
    }
    pub fn more_frags(&self) -> bool {
        self.buf[1] & fc::MORE_FRAGS != 0
    }
    fn has_seq(&self) -> bool {
        matches!(self.frame_type(), FrameType::Data | FrameType::Management)
    }
    pub fn is_data(&self) -> bool {
        self.frame_type() == FrameType::Data
    }
    pub fn is_mgmt(&self) -> bool {
        self.frame_type() == FrameType::Management
    }
    /// QoS data subtype (bit 3 of the subtype).
    pub fn is_qos(&self) -> bool {
        self.is_data() && self.subtype() & 0x08 != 0
    }
    /// Null-function subtypes carry no frame body (subtype bit 2).
    pub fn is_null(&self) -> bool {
        self.is_data() && self.subtype() & 0x04 != 0
    }
    pub fn is_wds(&self) -> bool {
        self.is_data() && self.to_ds() && self.from_ds()
    }
    pub fn addr1(&self) -> MacAddr {
        MacAddr::from_slice(&self.buf[4..10])
    }
    /// Address 2 (transmitter); control frames of 10 bytes have none.
    pub fn addr2(&self) -> Option<MacAddr> {
        self.buf.get(10..16).map(MacAddr::from_slice)
    }
    pub fn addr3(&self) -> Option<MacAddr> {
        if self.has_seq() {
            Some(MacAddr::from_slice(&self.buf[16..22]))
        } else {
            None
        }
    }
    pub fn addr4(&self) -> Option<MacAddr> {
        if self.is_wds() {
            Some(MacAddr::from_slice(&self.buf[24..30]))
        } else {
            None
        }
    }
    /// Sequence Control (9.2.4.4): `(sequence number, fragment number)`.
    pub fn seq_ctl(&self) -> Option<(u16, u8)> {
        if self.has_seq() {
            let sc = le16(self.buf, 22);
            Some((sc >> 4, (sc & 0x0f) as u8))
        } else {
            None
        }
    }
    /// QoS Control field (9.2.4.5).
    pub fn qos_ctl(&self) -> Option<u16> {
        if self.is_qos() {
            let off = if self.is_wds() { 30 } else { 24 };
            Some(le16(self.buf, off))
        } else {
            None
        }
    }
    /// Traffic identifier: QoS TID, 0 for non-QoS frames.
    pub fn tid(&self) -> u8 {
        self.qos_ctl().map_or(0, |q| (q & 0x0f) as u8)
    }
    /// A-MSDU Present bit of the QoS Control field (9.2.4.5.9).
    pub fn amsdu(&self) -> bool {
        self.qos_ctl().is_some_and(|q| q & 0x80 != 0)
    }
    /// BSSID, per the ToDS/FromDS table (9.3.2.1 Table 9-41); `None` for WDS.
    pub fn bssid(&self) -> Option<MacAddr> {
        match self.frame_type() {
            FrameType::Management => self.addr3(),
            FrameType::Data => match (self.to_ds(), self.from_ds()) {
                (false, false) => self.addr3(),
                (true, false) => Some(self.addr1()),
                (false, true) => self.addr2(),
                (true, true) => None,
            },
            _ => None,
        }
    }
    /// Destination address of the MSDU.
    pub fn da(&self) -> Option<MacAddr> {
        if !self.has_seq() {
            return None;
        }
        Some(if self.to_ds() {
            self.addr3()?
        } else {
            self.addr1()
        })
    }
    /// Source address of the MSDU.
    pub fn sa(&self) -> Option<MacAddr> {
        if !self.has_seq() {
            return None;
        }
        match (self.to_ds(), self.from_ds()) {
            (false, false) | (true, false) => self.addr2(),
            (false, true) => self.addr3(),
            (true, true) => self.addr4(),
        }
    }
}

/// One A-MSDU subframe (9.3.2.2.2): DA, SA and the MSDU (LLC/SNAP onward).
#[derive(Debug, Clone, Copy)]
pub struct AmsduSubframe<'a> {
    pub da: MacAddr,
    pub sa: MacAddr,
    pub msdu: &'a [u8],
}

/// Iterates the subframes of a decrypted A-MSDU body. The length field is
/// big-endian; every subframe but the last is padded to a multiple of 4.
/// A malformed subframe ends the iteration and sets [`AmsduIter::malformed`].
pub struct AmsduIter<'a> {
    rest: &'a [u8],
    pub malformed: bool,
}

impl<'a> AmsduIter<'a> {
    pub fn new(body: &'a [u8]) -> Self {
        AmsduIter {
            rest: body,
            malformed: false,
        }
    }
}

impl<'a> Iterator for AmsduIter<'a> {
    type Item = AmsduSubframe<'a>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        if self.rest.len() < 14 {
            self.malformed = true;
            self.rest = &[];
            return None;
        }
        let len = super::be16(self.rest, 12) as usize;
        let end = 14 + len;
        if end > self.rest.len() {
            self.malformed = true;
            self.rest = &[];
            return None;
        }
        let sf = AmsduSubframe {
            da: MacAddr::from_slice(&self.rest[0..6]),
            sa: MacAddr::from_slice(&self.rest[6..12]),
            msdu: &self.rest[14..end],
        };
        let padded = (end + 3) & !3;
        self.rest = self.rest.get(padded..).unwrap_or(&[]);
        Some(sf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr(fc0: u8, fc1: u8, extra: usize) -> Vec<u8> {
        let mut v = vec![fc0, fc1, 0, 0];
        for i in 0..3u8 {
            v.extend_from_slice(&[i + 1; 6]);
        }
        v.extend_from_slice(&[0x35, 0x12]); // seq 0x123, frag 5
        v.extend(std::iter::repeat_n(0x44, extra));
        v
    }

    #[test]
    fn data_layouts() {
        // ToDS: A1 = BSSID, A2 = SA, A3 = DA.
        let f = hdr(0x08, 0x01, 4);
        let d = Dot11::new_checked(&f, false).unwrap();
        assert_eq!(d.header_len(), 24);
        assert_eq!(d.bssid(), Some(MacAddr([1; 6])));
        assert_eq!(d.sa(), Some(MacAddr([2; 6])));
        assert_eq!(d.da(), Some(MacAddr([3; 6])));
        assert_eq!(d.seq_ctl(), Some((0x123, 5)));
        // FromDS: A2 = BSSID, A3 = SA, A1 = DA.
        let f = hdr(0x08, 0x02, 0);
        let d = Dot11::new_checked(&f, false).unwrap();
        assert_eq!(d.sa(), Some(MacAddr([3; 6])));
        assert_eq!(d.da(), Some(MacAddr([1; 6])));
        // WDS QoS: 30 + 2.
        let mut f = hdr(0x88, 0x03, 6);
        f.extend_from_slice(&[0x05, 0x00]);
        let d = Dot11::new_checked(&f, false).unwrap();
        assert_eq!(d.header_len(), 32);
        assert_eq!(d.tid(), 5);
        assert_eq!(d.addr4(), Some(MacAddr([0x44; 6])));
        assert_eq!(d.bssid(), None);
        // QoS +HTC with radiotap padding: 26 + 4 = 30 → 32.
        let mut f = hdr(0x88, 0x81, 2 + 4 + 8);
        f[24] = 0x86;
        let d = Dot11::new_checked(&f, true).unwrap();
        assert_eq!(d.header_len(), 32);
        assert_eq!(d.tid(), 6);
        assert!(d.amsdu());
    }

    #[test]
    fn truncation_never_panics() {
        let mut f = hdr(0x88, 0xc3, 12);
        f.extend_from_slice(&[0; 8]);
        for n in 0..f.len() {
            if let Ok(d) = Dot11::new_checked(&f[..n], true) {
                let _ = (d.bssid(), d.sa(), d.da(), d.tid(), d.seq_ctl(), d.body());
            }
        }
        for fc0 in 0..=255u8 {
            for fc1 in [0u8, 0x03, 0x80, 0xc3] {
                for n in 0..40 {
                    let mut f = vec![0u8; n];
                    if n > 1 {
                        f[0] = fc0;
                        f[1] = fc1;
                    }
                    if let Ok(d) = Dot11::new_checked(&f, fc0 & 1 == 1) {
                        let _ = (d.bssid(), d.sa(), d.da(), d.addr2(), d.addr4(), d.body());
                    }
                }
            }
        }
    }

    #[test]
    fn amsdu_split() {
        let mut b = Vec::new();
        b.extend_from_slice(&[1; 6]);
        b.extend_from_slice(&[2; 6]);
        b.extend_from_slice(&3u16.to_be_bytes());
        b.extend_from_slice(&[9, 9, 9, 0, 0, 0]); // 14 + 3 = 17, padded to 20
        b.extend_from_slice(&[3; 6]);
        b.extend_from_slice(&[4; 6]);
        b.extend_from_slice(&2u16.to_be_bytes());
        b.extend_from_slice(&[7, 7]);
        let mut it = AmsduIter::new(&b);
        let v: Vec<_> = it.by_ref().collect();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].msdu, &[9, 9, 9]);
        assert_eq!(v[1].sa, MacAddr([4; 6]));
        assert!(!it.malformed);
        let mut it = AmsduIter::new(&b[..b.len() - 1]);
        assert_eq!(it.by_ref().count(), 1);
        assert!(it.malformed);
    }
}
