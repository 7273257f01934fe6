//! Per-Packet Information header: DLT 192 (`LINKTYPE_PPI`).
//!
//! Spec: CACE Technologies, "Per-Packet Information Header Specification" 1.0.10
//! (2007), § 3 (packet header), § 4 (field header) and § 4.1.2 (802.11-Common).
//! All integers are little-endian.
//!
//! - Header (8 bytes): `pph_version` u8 (0), `pph_flags` u8 (bit 0: fields aligned
//!   to 32 bits), `pph_len` u16 (the whole PPI header, fields included), `pph_dlt`
//!   u32 (the link type that follows; 105 for 802.11).
//! - Fields: `pfh_type` u16, `pfh_datalen` u16, then the data. Type 2,
//!   802.11-Common, says whether the frame carries an FCS and whether it was bad.
//!
//! [`Ppi::new_checked`] checks the header only; the inner DLT is returned, not judged
//! (the caller decides which it supports). Field iteration stops at the first field
//! that runs past `pph_len`. No accessor panics; nothing allocates.

use thiserror::Error;

use super::{Layer, LenError, le16, le32};

/// The fixed PPI packet header.
pub const HEADER_LEN: usize = 8;
/// `pph_flags` bit 0: every field starts on a 32-bit boundary.
pub const FLAG_ALIGN: u8 = 0x01;
/// Field type: 802.11-Common (§ 4.1.2).
pub const FIELD_80211_COMMON: u16 = 2;
/// Field type: 802.11n MAC extensions.
pub const FIELD_80211N_MAC: u16 = 3;
/// Field type: 802.11n MAC+PHY extensions.
pub const FIELD_80211N_MAC_PHY: u16 = 4;
/// Size of the 802.11-Common field data.
pub const COMMON_LEN: usize = 20;

/// 802.11-Common flags: the frame includes an FCS.
pub const COMMON_FLAG_FCS: u16 = 0x0001;
/// 802.11-Common flags: the TSF timer is in milliseconds.
pub const COMMON_FLAG_TSF_MS: u16 = 0x0002;
/// 802.11-Common flags: the FCS is invalid.
pub const COMMON_FLAG_BAD_FCS: u16 = 0x0004;
/// 802.11-Common flags: PHY error.
pub const COMMON_FLAG_PHY_ERROR: u16 = 0x0008;

/// Why a PPI header was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum PpiError {
    #[error("ppi: {0}")]
    TooShort(LenError),
    #[error("ppi: version {0}, only 0 is defined")]
    BadVersion(u8),
    #[error("ppi: pph_len {0} is below the 8-byte header")]
    LengthTooSmall(u16),
    #[error("ppi: pph_len {len} runs beyond the {buf_len} bytes captured")]
    LengthBeyondBuffer { len: usize, buf_len: usize },
}

/// A checked PPI header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ppi<'a> {
    /// Exactly `pph_len` bytes.
    header: &'a [u8],
}

/// Length of the PPI header at the start of `buf`, and the DLT that follows it.
pub fn header_len(buf: &[u8]) -> Result<(usize, u32), PpiError> {
    Ppi::new_checked(buf).map(|p| (p.len(), p.dlt()))
}

impl<'a> Ppi<'a> {
    /// Checks version and `pph_len`.
    pub fn new_checked(buf: &'a [u8]) -> Result<Ppi<'a>, PpiError> {
        if buf.len() < HEADER_LEN {
            return Err(PpiError::TooShort(LenError {
                layer: Layer::Ppi,
                offset: 0,
                required: HEADER_LEN,
                len: buf.len(),
            }));
        }
        if buf[0] != 0 {
            return Err(PpiError::BadVersion(buf[0]));
        }
        let len16 = le16(buf, 2);
        let len = usize::from(len16);
        if len < HEADER_LEN {
            return Err(PpiError::LengthTooSmall(len16));
        }
        let Some(header) = buf.get(..len) else {
            return Err(PpiError::LengthBeyondBuffer {
                len,
                buf_len: buf.len(),
            });
        };
        Ok(Ppi { header })
    }

    /// `pph_len`: the inner frame starts here.
    #[allow(clippy::len_without_is_empty, reason = "a header is never empty")]
    pub fn len(&self) -> usize {
        self.header.len()
    }

    /// `pph_flags`.
    pub fn flags(&self) -> u8 {
        self.header.get(1).copied().unwrap_or(0)
    }

    /// `pph_dlt`: the link type of the frame after the header.
    pub fn dlt(&self) -> u32 {
        self.header
            .get(4..8)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u32::from_le_bytes)
    }

    /// The fields: (type, data).
    pub fn fields(&self) -> Fields<'a> {
        Fields {
            header: self.header,
            pos: HEADER_LEN,
            align: self.flags() & FLAG_ALIGN != 0,
        }
    }

    /// The first 802.11-Common field, if there is one of full size.
    pub fn common(&self) -> Option<Common80211> {
        self.fields()
            .find(|&(t, d)| t == FIELD_80211_COMMON && d.len() >= COMMON_LEN)
            .and_then(|(_, d)| Common80211::parse(d))
    }
}

/// Iterator over PPI fields; stops at the first that runs past `pph_len`.
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    header: &'a [u8],
    pos: usize,
    align: bool,
}

impl<'a> Iterator for Fields<'a> {
    type Item = (u16, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let fh = self.header.get(self.pos..self.pos.checked_add(4)?)?;
        let (ty, len) = (le16(fh, 0), usize::from(le16(fh, 2)));
        let start = self.pos + 4;
        let Some(data) = self.header.get(start..start + len) else {
            self.pos = self.header.len();
            return None;
        };
        self.pos = start + len;
        if self.align {
            self.pos = (self.pos + 3) & !3;
        }
        Some((ty, data))
    }
}

/// The 802.11-Common field (§ 4.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Common80211 {
    pub tsf_timer: u64,
    /// `COMMON_FLAG_*`.
    pub flags: u16,
    /// Units of 500 kb/s.
    pub rate_500kbps: u16,
    pub channel_freq: u16,
    pub channel_flags: u16,
    pub fhss_hopset: u8,
    pub fhss_pattern: u8,
    pub dbm_antsignal: i8,
    pub dbm_antnoise: i8,
}

impl Common80211 {
    /// Reads the field data; `None` if shorter than [`COMMON_LEN`].
    pub fn parse(d: &[u8]) -> Option<Common80211> {
        let d = d.get(..COMMON_LEN)?;
        Some(Common80211 {
            tsf_timer: u64::from(le32(d, 0)) | u64::from(le32(d, 4)) << 32,
            flags: le16(d, 8),
            rate_500kbps: le16(d, 10),
            channel_freq: le16(d, 12),
            channel_flags: le16(d, 14),
            fhss_hopset: d[16],
            fhss_pattern: d[17],
            dbm_antsignal: d[18] as i8,
            dbm_antnoise: d[19] as i8,
        })
    }

    /// The frame ends with an FCS.
    pub fn fcs_present(&self) -> bool {
        self.flags & COMMON_FLAG_FCS != 0
    }

    /// The FCS is flagged invalid.
    pub fn bad_fcs(&self) -> bool {
        self.flags & COMMON_FLAG_BAD_FCS != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A PPI header with the given fields (type, data), optionally 32-bit aligned.
    fn ppi(flags: u8, dlt: u32, fields: &[(u16, &[u8])]) -> Vec<u8> {
        let mut v = vec![0, flags, 0, 0];
        v.extend_from_slice(&dlt.to_le_bytes());
        for (t, d) in fields {
            v.extend_from_slice(&t.to_le_bytes());
            v.extend_from_slice(&(d.len() as u16).to_le_bytes());
            v.extend_from_slice(d);
            if flags & FLAG_ALIGN != 0 {
                while v.len() % 4 != 0 {
                    v.push(0);
                }
            }
        }
        let len = v.len() as u16;
        v[2..4].copy_from_slice(&len.to_le_bytes());
        v
    }

    fn common(flags: u16) -> [u8; COMMON_LEN] {
        let mut d = [0u8; COMMON_LEN];
        d[..8].copy_from_slice(&0x1122_3344_5566_7788u64.to_le_bytes());
        d[8..10].copy_from_slice(&flags.to_le_bytes());
        d[10..12].copy_from_slice(&108u16.to_le_bytes());
        d[12..14].copy_from_slice(&5180u16.to_le_bytes());
        d[14..16].copy_from_slice(&0x0140u16.to_le_bytes());
        d[18] = (-55i8) as u8;
        d[19] = (-92i8) as u8;
        d
    }

    fn touch(p: &Ppi<'_>) {
        let _ = (p.len(), p.flags(), p.dlt(), p.common());
        assert!(p.fields().count() <= p.len());
    }

    #[test]
    fn bare_header() {
        let mut f = ppi(0, 105, &[]);
        f.extend_from_slice(&[0x08, 0x02]);
        let p = Ppi::new_checked(&f).unwrap();
        assert_eq!((p.len(), p.dlt(), p.flags()), (8, 105, 0));
        assert_eq!(header_len(&f), Ok((8, 105)));
        assert_eq!(p.fields().count(), 0);
        assert_eq!(p.common(), None);
    }

    #[test]
    fn common_field() {
        let c = common(COMMON_FLAG_FCS | COMMON_FLAG_BAD_FCS);
        let f = ppi(
            0,
            105,
            &[(FIELD_80211N_MAC, &[1, 2, 3]), (FIELD_80211_COMMON, &c)],
        );
        let p = Ppi::new_checked(&f).unwrap();
        assert_eq!(p.len(), 8 + 7 + 24);
        let fields: Vec<_> = p.fields().map(|(t, d)| (t, d.len())).collect();
        assert_eq!(fields, vec![(3, 3), (2, 20)]);
        let c = p.common().unwrap();
        assert_eq!(c.tsf_timer, 0x1122_3344_5566_7788);
        assert_eq!(c.rate_500kbps, 108);
        assert_eq!(c.channel_freq, 5180);
        assert_eq!(c.channel_flags, 0x0140);
        assert_eq!((c.dbm_antsignal, c.dbm_antnoise), (-55, -92));
        assert!(c.fcs_present() && c.bad_fcs());
        let c = Common80211::parse(&common(0)).unwrap();
        assert!(!c.fcs_present() && !c.bad_fcs());
    }

    #[test]
    fn aligned_fields() {
        let c = common(COMMON_FLAG_FCS);
        let f = ppi(FLAG_ALIGN, 105, &[(7, &[9]), (FIELD_80211_COMMON, &c)]);
        // 8 + (4 + 1 + 3 pad) + 24
        assert_eq!(f.len(), 40);
        let p = Ppi::new_checked(&f).unwrap();
        assert_eq!(p.fields().count(), 2);
        assert!(p.common().unwrap().fcs_present());
    }

    #[test]
    fn inner_dlt_is_returned_not_judged() {
        let f = ppi(0, 127, &[]);
        assert_eq!(header_len(&f), Ok((8, 127)));
    }

    #[test]
    fn field_past_pph_len_ends_iteration() {
        let c = common(COMMON_FLAG_FCS);
        let mut f = ppi(0, 105, &[(FIELD_80211_COMMON, &c)]);
        f[10..12].copy_from_slice(&21u16.to_le_bytes());
        let p = Ppi::new_checked(&f).unwrap();
        assert_eq!(p.fields().count(), 0);
        assert_eq!(p.common(), None);
        // A short 802.11-Common is ignored.
        let f = ppi(0, 105, &[(FIELD_80211_COMMON, &c[..19])]);
        assert_eq!(Ppi::new_checked(&f).unwrap().common(), None);
    }

    #[test]
    fn errors() {
        assert_eq!(
            Ppi::new_checked(&[0, 0, 8, 0]),
            Err(PpiError::TooShort(LenError {
                layer: Layer::Ppi,
                offset: 0,
                required: 8,
                len: 4
            }))
        );
        assert_eq!(
            Ppi::new_checked(&[1, 0, 8, 0, 105, 0, 0, 0]),
            Err(PpiError::BadVersion(1))
        );
        assert_eq!(
            Ppi::new_checked(&[0, 0, 7, 0, 105, 0, 0, 0]),
            Err(PpiError::LengthTooSmall(7))
        );
        assert_eq!(
            Ppi::new_checked(&[0, 0, 9, 0, 105, 0, 0, 0]),
            Err(PpiError::LengthBeyondBuffer { len: 9, buf_len: 8 })
        );
    }

    #[test]
    fn every_truncation_never_panics() {
        let c = common(COMMON_FLAG_FCS);
        for f in [
            ppi(0, 105, &[(FIELD_80211_COMMON, &c)]),
            ppi(FLAG_ALIGN, 105, &[(5, &[1]), (FIELD_80211_COMMON, &c)]),
        ] {
            for len in 0..=f.len() {
                let r = Ppi::new_checked(&f[..len]);
                assert_eq!(r.is_ok(), len == f.len());
                let mut m = f.clone();
                m[2..4].copy_from_slice(&(len as u16).to_le_bytes());
                if let Ok(p) = Ppi::new_checked(&m) {
                    touch(&p);
                }
            }
        }
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(p) = Ppi::new_checked(&data) {
                prop_assert!(p.len() <= data.len());
                touch(&p);
            }
        }
    }
}
