//! Prism and AVS capture headers: DLT 119 (`LINKTYPE_IEEE802_11_PRISM`).
//!
//! Spec: there is no formal one. The layouts are those of linux-wlan-ng
//! (`p80211netdev.h`, `wlan_ng_prism2_header`; `p80211conv.h`, `p80211_caphdr`),
//! as documented on tcpdump.org "LINKTYPE_IEEE802_11_PRISM" and decoded by Wireshark
//! `epan/dissectors/packet-ieee80211-prism.c` and `packet-ieee80211-wlancap.c`.
//!
//! - **Prism** (wlan-ng): `msgcode` u32, `msglen` u32, `devname[16]`, then ten items
//!   of (`did` u32, `status` u16, `len` u16, `data` u32): 144 bytes in practice.
//!   Integers are in the *capturing host's* byte order, so [`PrismHeader::new_checked`]
//!   takes `msglen` as little-endian if that is sane (8..=buffer length), else as
//!   big-endian, and reads the items in the same order. Item `status` 0 means the
//!   value was supplied.
//! - **AVS** (wlan-ng capture header v1/v2): big-endian; first word `0x8021100x`,
//!   header length as u32 at offset 4. DLT 119 captures may carry either, so AVS is
//!   recognised by its magic first, as Wireshark does.
//!
//! After `parse` returns `Ok`, no accessor panics; nothing allocates.

use thiserror::Error;

use super::{Layer, LenError, be16, le32};

/// Bytes needed to tell Prism from AVS and read the header length.
pub const MIN_HEADER_LEN: usize = 8;
/// The usual wlan-ng Prism header: 24 bytes + 10 items of 12 bytes.
pub const PRISM_HEADER_LEN: usize = 144;
/// AVS magic, high 28 bits (the low nibble is the version, 1 or 2).
pub const AVS_MAGIC: u32 = 0x8021_1000;
/// Size of the AVS v1 fields read by the accessors.
pub const AVS_V1_LEN: usize = 64;

/// Offset of the first Prism item: msgcode(4) + msglen(4) + devname(16).
const PRISM_ITEMS_OFFSET: usize = 24;
const PRISM_ITEM_LEN: usize = 12;
const PRISM_ITEM_COUNT: usize = 10;

/// Prism item numbers (`DIDmsg_lnxind_wlansniffrm_*`): type-1 DIDs are
/// `0x000N0044`, type-2 DIDs `0x(N-1)041`.
pub mod item {
    pub const HOSTTIME: u32 = 1;
    pub const MACTIME: u32 = 2;
    pub const CHANNEL: u32 = 3;
    pub const RSSI: u32 = 4;
    pub const SQ: u32 = 5;
    pub const SIGNAL: u32 = 6;
    pub const NOISE: u32 = 7;
    /// In units of 500 kb/s.
    pub const RATE: u32 = 8;
    pub const ISTX: u32 = 9;
    pub const FRMLEN: u32 = 10;
}

/// Which header DLT 119 carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrismKind {
    /// wlan-ng Prism header, host byte order.
    Prism { big_endian: bool },
    /// AVS capture header (version 1 or 2), big-endian.
    Avs { version: u8 },
}

/// Why a DLT 119 header was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum PrismError {
    #[error("prism: {0}")]
    TooShort(LenError),
    #[error(
        "prism: msglen {le:#x} (LE) / {be:#x} (BE) is not within 8..={buf_len} in either byte order"
    )]
    BadLength { le: u32, be: u32, buf_len: usize },
    #[error("avs: header length {len} is not within 8..={buf_len}")]
    AvsBadLength { len: u32, buf_len: usize },
}

/// A checked Prism or AVS header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrismHeader<'a> {
    /// Exactly the header's bytes.
    header: &'a [u8],
    kind: PrismKind,
}

/// Length of the DLT 119 header at the start of `buf`: the 802.11 frame starts there.
pub fn header_len(buf: &[u8]) -> Result<usize, PrismError> {
    PrismHeader::new_checked(buf).map(|h| h.len())
}

fn be32(b: &[u8], off: usize) -> u32 {
    u32::from(be16(b, off)) << 16 | u32::from(be16(b, off + 2))
}

impl<'a> PrismHeader<'a> {
    /// Detects AVS (by magic) or Prism (by a sane `msglen`) and checks the length.
    pub fn new_checked(buf: &'a [u8]) -> Result<PrismHeader<'a>, PrismError> {
        if buf.len() < MIN_HEADER_LEN {
            return Err(PrismError::TooShort(LenError {
                layer: Layer::Prism,
                offset: 0,
                required: MIN_HEADER_LEN,
                len: buf.len(),
            }));
        }
        let sane = |n: u32| -> Option<usize> {
            let n = usize::try_from(n).ok()?;
            (MIN_HEADER_LEN..=buf.len()).contains(&n).then_some(n)
        };
        let first = be32(buf, 0);
        if first & 0xffff_fff0 == AVS_MAGIC {
            let len = be32(buf, 4);
            let Some(n) = sane(len) else {
                return Err(PrismError::AvsBadLength {
                    len,
                    buf_len: buf.len(),
                });
            };
            return Ok(PrismHeader {
                header: buf.get(..n).unwrap_or(&[]),
                kind: PrismKind::Avs {
                    version: (first & 0xf) as u8,
                },
            });
        }
        let (le, be) = (le32(buf, 4), be32(buf, 4));
        let (n, big_endian) = match (sane(le), sane(be)) {
            (Some(n), _) => (n, false),
            (None, Some(n)) => (n, true),
            (None, None) => {
                return Err(PrismError::BadLength {
                    le,
                    be,
                    buf_len: buf.len(),
                });
            }
        };
        Ok(PrismHeader {
            header: buf.get(..n).unwrap_or(&[]),
            kind: PrismKind::Prism { big_endian },
        })
    }

    /// Header length: the 802.11 frame starts here.
    #[allow(clippy::len_without_is_empty, reason = "a header is never empty")]
    pub fn len(&self) -> usize {
        self.header.len()
    }

    pub fn kind(&self) -> PrismKind {
        self.kind
    }

    /// The header bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.header
    }

    /// u32 at `off` in the header's byte order, if the header holds it.
    fn u32_at(&self, off: usize) -> Option<u32> {
        let b: [u8; 4] = self.header.get(off..off.checked_add(4)?)?.try_into().ok()?;
        Some(match self.kind {
            PrismKind::Prism { big_endian: false } => u32::from_le_bytes(b),
            _ => u32::from_be_bytes(b),
        })
    }

    /// A Prism item's value by number (see [`item`]), if present with status 0.
    pub fn prism_item(&self, n: u32) -> Option<u32> {
        let PrismKind::Prism { big_endian } = self.kind else {
            return None;
        };
        (0..PRISM_ITEM_COUNT).find_map(|i| {
            let off = PRISM_ITEMS_OFFSET + i * PRISM_ITEM_LEN;
            let did = self.u32_at(off)?;
            let status_len = self.u32_at(off + 4)?;
            let status = if big_endian {
                status_len >> 16
            } else {
                status_len & 0xffff
            };
            let num = if did & 0xffff == 0x0044 {
                did >> 16
            } else if did & 0x0fff == 0x0041 {
                (did >> 12) + 1
            } else {
                return None;
            };
            if num != n || status != 0 {
                return None;
            }
            self.u32_at(off + 8)
        })
    }

    /// Channel number (not frequency).
    pub fn channel(&self) -> Option<u32> {
        match self.kind {
            PrismKind::Prism { .. } => self.prism_item(item::CHANNEL),
            PrismKind::Avs { .. } => self.u32_at(28),
        }
    }

    /// Data rate in units of 500 kb/s (AVS stores 100 kb/s units).
    pub fn rate_500kbps(&self) -> Option<u8> {
        let r = match self.kind {
            PrismKind::Prism { .. } => self.prism_item(item::RATE)?,
            PrismKind::Avs { .. } => self.u32_at(32)? / 5,
        };
        u8::try_from(r).ok()
    }

    /// The signal value as the driver wrote it (Prism `signal` item; AVS
    /// `ssi_signal`). Its unit depends on the driver.
    pub fn signal_raw(&self) -> Option<i32> {
        match self.kind {
            PrismKind::Prism { .. } => self.prism_item(item::SIGNAL).map(|v| v as i32),
            PrismKind::Avs { .. } => self.u32_at(48).map(|v| v as i32),
        }
    }

    /// Signal in dBm, when the header says so (AVS `ssi_type` 2) or, for Prism,
    /// when the value is a plausible dBm reading (-127..=-1); many Prism drivers
    /// put a raw RSSI there instead.
    pub fn dbm_signal(&self) -> Option<i8> {
        let v = self.signal_raw()?;
        if let PrismKind::Avs { .. } = self.kind
            && self.u32_at(44)? != 2
        {
            return None;
        }
        i8::try_from(v).ok().filter(|&s| s < 0)
    }

    /// AVS `mactime` (µs) or Prism `mactime` item.
    pub fn mactime(&self) -> Option<u64> {
        match self.kind {
            PrismKind::Prism { .. } => self.prism_item(item::MACTIME).map(u64::from),
            PrismKind::Avs { .. } => {
                Some(u64::from(self.u32_at(8)?) << 32 | u64::from(self.u32_at(12)?))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::path::{Path, PathBuf};

    /// A capture from ../shared/captures, or None (skip) unless CI=true.
    fn capture(name: &str) -> Option<PathBuf> {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/captures")
            .join(name);
        if p.exists() {
            return Some(p);
        }
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{} is missing and CI=true",
            p.display()
        );
        eprintln!("skipping: {} not found", p.display());
        None
    }

    /// A wlan-ng Prism header with type-1 DIDs for the given (item, value) pairs.
    fn prism(big_endian: bool, items: &[(u32, u32)]) -> Vec<u8> {
        let w = |v: &mut Vec<u8>, x: u32| {
            if big_endian {
                v.extend_from_slice(&x.to_be_bytes())
            } else {
                v.extend_from_slice(&x.to_le_bytes())
            }
        };
        let mut v = Vec::new();
        w(&mut v, 0x44);
        w(&mut v, PRISM_HEADER_LEN as u32);
        v.extend_from_slice(b"wlan0\0\0\0\0\0\0\0\0\0\0\0");
        for i in 0..PRISM_ITEM_COUNT as u32 {
            let n = i + 1;
            match items.iter().find(|(k, _)| *k == n) {
                Some(&(_, val)) => {
                    w(&mut v, n << 16 | 0x44);
                    // status 0, len 4
                    w(&mut v, if big_endian { 4 } else { 4 << 16 });
                    w(&mut v, val);
                }
                None => {
                    w(&mut v, n << 16 | 0x44);
                    // status 1: no value
                    w(&mut v, if big_endian { 1 << 16 | 4 } else { 4 << 16 | 1 });
                    w(&mut v, 0xdead);
                }
            }
        }
        assert_eq!(v.len(), PRISM_HEADER_LEN);
        v
    }

    fn avs(ssi_type: u32, signal: i32) -> Vec<u8> {
        let mut v = Vec::new();
        for x in [
            0x8021_1001u32,
            64,
            0,
            1000,
            0,
            0,
            4,
            11,
            110,
            0,
            0,
            ssi_type,
        ] {
            v.extend_from_slice(&x.to_be_bytes());
        }
        v.extend_from_slice(&signal.to_be_bytes());
        for x in [-95i32, 0, 0] {
            v.extend_from_slice(&x.to_be_bytes());
        }
        assert_eq!(v.len(), AVS_V1_LEN);
        v
    }

    fn touch(h: &PrismHeader<'_>) {
        let _ = (
            h.len(),
            h.kind(),
            h.as_bytes(),
            h.channel(),
            h.rate_500kbps(),
        );
        let _ = (h.signal_raw(), h.dbm_signal(), h.mactime());
        for n in 0..12 {
            let _ = h.prism_item(n);
        }
    }

    #[test]
    fn prism_little_endian() {
        let mut f = prism(
            false,
            &[
                (item::CHANNEL, 6),
                (item::RATE, 22),
                (item::SIGNAL, -50i32 as u32),
            ],
        );
        f.extend_from_slice(&[0x80, 0, 0, 0]);
        let h = PrismHeader::new_checked(&f).unwrap();
        assert_eq!(h.len(), 144);
        assert_eq!(header_len(&f), Ok(144));
        assert_eq!(h.kind(), PrismKind::Prism { big_endian: false });
        assert_eq!(h.channel(), Some(6));
        assert_eq!(h.rate_500kbps(), Some(22));
        assert_eq!(h.dbm_signal(), Some(-50));
        // Items with status 1 (no value) are absent.
        assert_eq!(h.prism_item(item::NOISE), None);
        assert_eq!(h.mactime(), None);
    }

    #[test]
    fn prism_big_endian() {
        let f = prism(true, &[(item::CHANNEL, 11), (item::SIGNAL, 57)]);
        let h = PrismHeader::new_checked(&f).unwrap();
        assert_eq!(h.kind(), PrismKind::Prism { big_endian: true });
        assert_eq!(h.len(), 144);
        assert_eq!(h.channel(), Some(11));
        assert_eq!(h.signal_raw(), Some(57));
        // 57 is a raw RSSI, not dBm.
        assert_eq!(h.dbm_signal(), None);
        assert_eq!(h.prism_item(item::RATE), None);
    }

    #[test]
    fn prism_type2_dids() {
        let mut f = prism(false, &[]);
        // Item slot 3 -> type-2 channel DID 0x2041, status 0, value 9.
        let off = PRISM_ITEMS_OFFSET + 2 * PRISM_ITEM_LEN;
        f[off..off + 12].copy_from_slice(&[0x41, 0x20, 0, 0, 0, 0, 4, 0, 9, 0, 0, 0]);
        assert_eq!(PrismHeader::new_checked(&f).unwrap().channel(), Some(9));
    }

    #[test]
    fn avs_header() {
        let mut f = avs(2, -61);
        f.extend_from_slice(&[0x08, 0x41]);
        let h = PrismHeader::new_checked(&f).unwrap();
        assert_eq!(h.kind(), PrismKind::Avs { version: 1 });
        assert_eq!(h.len(), 64);
        assert_eq!(h.channel(), Some(11));
        assert_eq!(h.rate_500kbps(), Some(22));
        assert_eq!(h.dbm_signal(), Some(-61));
        assert_eq!(h.mactime(), Some(1000));
        // ssi_type 3 (raw RSSI): not dBm.
        let f = avs(3, -61);
        assert_eq!(PrismHeader::new_checked(&f).unwrap().dbm_signal(), None);
    }

    #[test]
    fn short_avs_header_has_no_fields() {
        let mut f = avs(2, -61);
        f[4..8].copy_from_slice(&8u32.to_be_bytes());
        let h = PrismHeader::new_checked(&f).unwrap();
        assert_eq!(h.len(), 8);
        assert_eq!(
            (h.channel(), h.dbm_signal(), h.mactime()),
            (None, None, None)
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            header_len(&[0x44, 0, 0, 0]),
            Err(PrismError::TooShort(LenError {
                layer: Layer::Prism,
                offset: 0,
                required: 8,
                len: 4
            }))
        );
        let f = prism(false, &[]);
        assert!(matches!(
            header_len(&f[..100]),
            Err(PrismError::BadLength { le: 144, .. })
        ));
        let f = avs(2, -1);
        assert_eq!(
            header_len(&f[..63]),
            Err(PrismError::AvsBadLength {
                len: 64,
                buf_len: 63
            })
        );
        let mut f = avs(2, -1);
        f[4..8].copy_from_slice(&4u32.to_be_bytes());
        assert!(matches!(
            header_len(&f),
            Err(PrismError::AvsBadLength { len: 4, .. })
        ));
    }

    #[test]
    fn every_truncation_never_panics() {
        for f in [prism(false, &[(3, 1)]), prism(true, &[(6, 2)]), avs(2, -40)] {
            for len in 0..=f.len() {
                match PrismHeader::new_checked(&f[..len]) {
                    Ok(h) => {
                        assert!(len == f.len() || h.len() < f.len());
                        touch(&h);
                    }
                    Err(_) => assert!(len < f.len()),
                }
            }
        }
    }

    #[test]
    fn wpa_cap_prism_headers() {
        let Some(path) = capture("wpa.cap") else {
            return;
        };
        let (dlt, frames) = crate::capture::file::read_all(&path).unwrap();
        assert_eq!(dlt, 119);
        let mut n = 0;
        for pkt in &frames {
            let h = PrismHeader::new_checked(&pkt.data).unwrap();
            assert_eq!(h.kind(), PrismKind::Prism { big_endian: false });
            assert_eq!(h.len(), PRISM_HEADER_LEN);
            assert_eq!(h.channel(), Some(7));
            // frmlen counts the 802.11 frame including its FCS.
            assert_eq!(
                h.prism_item(item::FRMLEN),
                Some((pkt.data.len() - PRISM_HEADER_LEN) as u32)
            );
            touch(&h);
            n += 1;
        }
        assert_eq!(n, 13);
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(h) = PrismHeader::new_checked(&data) {
                prop_assert!(h.len() >= MIN_HEADER_LEN && h.len() <= data.len());
                touch(&h);
            }
        }
    }
}
