//! From a captured frame to its 802.11 frame: strip the link header, find the FCS.
//!
//! The link types are those libpcap names (tcpdump.org "Link-layer header types"):
//! 105 `LINKTYPE_IEEE802_11` (no header), 119 `LINKTYPE_IEEE802_11_PRISM` (Prism or
//! AVS, see [`crate::wire::prism`]), 127 `LINKTYPE_IEEE802_11_RADIOTAP` (see
//! [`crate::wire::radiotap`]) and 192 `LINKTYPE_PPI` (see [`crate::wire::ppi`]; only
//! an inner DLT of 105 is accepted).
//!
//! # The FCS rule
//! The FCS is the IEEE CRC-32 of the whole MAC frame, sent least significant byte
//! first (IEEE 802.11-2020 9.2.4.8), i.e. little-endian.
//! - If the link header says an FCS is there (radiotap Flags 0x10, PPI 802.11-Common
//!   flag 0x0001), the last 4 bytes are stripped and checked: [`FcsStatus::Present`]
//!   or [`FcsStatus::PresentBad`] (also `PresentBad` when the header flags the FCS as
//!   bad). If it says there is none (Flags field present without 0x10, 802.11-Common
//!   without 0x0001): [`FcsStatus::Absent`].
//! - If the link header says nothing (plain 802.11, Prism/AVS, radiotap without a
//!   Flags field, PPI without 802.11-Common), the last 4 bytes are taken as an FCS
//!   only if they *are* one: at least [`MIN_FRAME_WITH_FCS`] bytes and a matching
//!   CRC-32. A frame whose FCS is present but wrong is then indistinguishable from one
//!   without an FCS, and is reported `Absent`; a false match is a 2^-32 event.
//!   `wpa.cap` (Prism, aircrack-ng's test suite) needs this: every frame carries an
//!   FCS and nothing says so.
//!
//! Nothing here panics on hostile input or allocates.

use thiserror::Error;

use crate::wire::ppi::{Ppi, PpiError};
use crate::wire::prism::{PrismError, PrismHeader};
use crate::wire::radiotap::{Radiotap, RadiotapError};

/// `LINKTYPE_IEEE802_11`: the 802.11 frame, no header.
pub const DLT_IEEE802_11: i32 = 105;
/// `LINKTYPE_IEEE802_11_PRISM`: Prism or AVS header.
pub const DLT_PRISM: i32 = 119;
/// `LINKTYPE_IEEE802_11_RADIOTAP`.
pub const DLT_RADIOTAP: i32 = 127;
/// `LINKTYPE_PPI`.
pub const DLT_PPI: i32 = 192;

/// Length of the 802.11 FCS.
pub const FCS_LEN: usize = 4;
/// Shortest frame the FCS heuristic will consider: a 10-byte ACK or CTS plus FCS.
pub const MIN_FRAME_WITH_FCS: usize = 14;

/// The link layers we read 802.11 from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkKind {
    Radiotap,
    Ieee80211,
    Prism,
    Ppi,
}

impl LinkKind {
    /// The link kind for a libpcap DLT / LINKTYPE value, if we support it.
    pub fn from_dlt(dlt: i32) -> Option<LinkKind> {
        match dlt {
            DLT_RADIOTAP => Some(LinkKind::Radiotap),
            DLT_IEEE802_11 => Some(LinkKind::Ieee80211),
            DLT_PRISM => Some(LinkKind::Prism),
            DLT_PPI => Some(LinkKind::Ppi),
            _ => None,
        }
    }

    /// The DLT value.
    pub fn dlt(self) -> i32 {
        match self {
            LinkKind::Radiotap => DLT_RADIOTAP,
            LinkKind::Ieee80211 => DLT_IEEE802_11,
            LinkKind::Prism => DLT_PRISM,
            LinkKind::Ppi => DLT_PPI,
        }
    }

    /// libpcap's name for the link type.
    pub fn name(self) -> &'static str {
        match self {
            LinkKind::Radiotap => "IEEE802_11_RADIO",
            LinkKind::Ieee80211 => "IEEE802_11",
            LinkKind::Prism => "PRISM_HEADER",
            LinkKind::Ppi => "PPI",
        }
    }
}

/// Whether the captured frame ended with an FCS, and whether it was good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FcsStatus {
    /// No FCS (or, when nothing said so, none that checks out).
    Absent,
    /// An FCS was there and matched; it is not part of `start..end`.
    Present,
    /// An FCS was there and did not match, or the link header flagged it bad.
    PresentBad,
}

/// What the link header said about the radio. Every field is optional: link types
/// and drivers differ in what they report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RadioInfo {
    /// Signal in dBm.
    pub dbm_signal: Option<i8>,
    /// Channel centre frequency in MHz.
    pub channel_freq: Option<u16>,
    /// Legacy rate in units of 500 kb/s.
    pub rate_500kbps: Option<u8>,
    /// HT MCS index, or the VHT MCS of user 0.
    pub mcs_index: Option<u8>,
    /// MAC timestamp in microseconds (radiotap TSFT, PPI TSF, Prism/AVS mactime).
    pub tsft: Option<u64>,
}

/// Where the 802.11 frame is in a captured frame: `frame[start..end]`, FCS excluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    pub radio: RadioInfo,
    pub start: usize,
    /// `start <= end <= frame.len()`.
    pub end: usize,
    pub fcs: FcsStatus,
    /// Radiotap Flags 0x20: padding between the 802.11 header and the body.
    pub data_pad: bool,
}

impl Link {
    /// The 802.11 frame (without FCS) inside `frame`, the buffer `self` was made from.
    pub fn dot11<'a>(&self, frame: &'a [u8]) -> &'a [u8] {
        frame.get(self.start..self.end).unwrap_or(&[])
    }
}

/// Why no 802.11 frame could be located.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum LinkError {
    #[error(transparent)]
    Radiotap(#[from] RadiotapError),
    #[error(transparent)]
    Prism(#[from] PrismError),
    #[error(transparent)]
    Ppi(#[from] PpiError),
    #[error("ppi: inner link type {0}, only 105 (802.11) is supported")]
    PpiInnerDlt(u32),
    #[error("link header says an FCS follows, but only {len} bytes follow the header")]
    FcsBeyondFrame { len: usize },
}

/// True if the last 4 bytes of `f` are the CRC-32 of the rest.
fn fcs_matches(f: &[u8]) -> bool {
    let Some(n) = f.len().checked_sub(FCS_LEN) else {
        return false;
    };
    match (
        f.get(..n),
        f.get(n..).and_then(|b| <[u8; 4]>::try_from(b).ok()),
    ) {
        (Some(body), Some(fcs)) => crc32fast::hash(body) == u32::from_le_bytes(fcs),
        _ => false,
    }
}

/// The link header said an FCS is there: strip and check it.
fn explicit_fcs(
    frame: &[u8],
    start: usize,
    flagged_bad: bool,
) -> Result<(usize, FcsStatus), LinkError> {
    let body = frame.get(start..).unwrap_or(&[]);
    if body.len() < FCS_LEN {
        return Err(LinkError::FcsBeyondFrame { len: body.len() });
    }
    // Let fuzzers past the integrity check (see STYLE.md "Hostile input").
    let good = cfg!(fuzzing) || fcs_matches(body);
    let status = if good && !flagged_bad {
        FcsStatus::Present
    } else {
        FcsStatus::PresentBad
    };
    Ok((frame.len() - FCS_LEN, status))
}

/// The link header said nothing: an FCS is there only if it checks out.
fn detect_fcs(frame: &[u8], start: usize) -> (usize, FcsStatus) {
    let body = frame.get(start..).unwrap_or(&[]);
    if body.len() >= MIN_FRAME_WITH_FCS && fcs_matches(body) {
        (frame.len() - FCS_LEN, FcsStatus::Present)
    } else {
        (frame.len(), FcsStatus::Absent)
    }
}

/// Centre frequency of a 2.4 or 5 GHz channel number (IEEE 802.11-2020 Annex E).
pub fn channel_to_freq(ch: u32) -> Option<u16> {
    let ch = u16::try_from(ch).ok()?;
    match ch {
        1..=13 => Some(2407 + 5 * ch),
        14 => Some(2484),
        32..=177 => Some(5000 + 5 * ch),
        _ => None,
    }
}

/// Finds the 802.11 frame in `frame`, captured with link type `kind`.
pub fn locate_dot11(kind: LinkKind, frame: &[u8]) -> Result<Link, LinkError> {
    match kind {
        LinkKind::Ieee80211 => {
            let (end, fcs) = detect_fcs(frame, 0);
            Ok(Link {
                radio: RadioInfo::default(),
                start: 0,
                end,
                fcs,
                data_pad: false,
            })
        }
        LinkKind::Radiotap => {
            let rt = Radiotap::new_checked(frame)?;
            let start = rt.len();
            let (end, fcs) = match rt.fcs_present() {
                Some(true) => explicit_fcs(frame, start, rt.bad_fcs())?,
                Some(false) => (frame.len(), FcsStatus::Absent),
                None => detect_fcs(frame, start),
            };
            let mcs_index = rt.mcs().map(|(_, _, i)| i).or_else(|| {
                // VHT user 0: mcs_nss[0], MCS in the high nibble, NSS (non-zero
                // when the user exists) in the low.
                rt.vht()
                    .map(|v| v[4])
                    .filter(|b| b & 0x0f != 0)
                    .map(|b| b >> 4)
            });
            Ok(Link {
                radio: RadioInfo {
                    dbm_signal: rt.dbm_signal(),
                    channel_freq: rt.channel_freq(),
                    rate_500kbps: rt.rate_500kbps(),
                    mcs_index,
                    tsft: rt.tsft(),
                },
                start,
                end,
                fcs,
                data_pad: rt.data_pad(),
            })
        }
        LinkKind::Prism => {
            let h = PrismHeader::new_checked(frame)?;
            let start = h.len();
            let (end, fcs) = detect_fcs(frame, start);
            Ok(Link {
                radio: RadioInfo {
                    dbm_signal: h.dbm_signal(),
                    channel_freq: h.channel().and_then(channel_to_freq),
                    rate_500kbps: h.rate_500kbps(),
                    mcs_index: None,
                    tsft: h.mactime(),
                },
                start,
                end,
                fcs,
                data_pad: false,
            })
        }
        LinkKind::Ppi => {
            let p = Ppi::new_checked(frame)?;
            if p.dlt() != DLT_IEEE802_11 as u32 {
                return Err(LinkError::PpiInnerDlt(p.dlt()));
            }
            let start = p.len();
            let common = p.common();
            let (end, fcs) = match common {
                Some(c) if c.fcs_present() => explicit_fcs(frame, start, c.bad_fcs())?,
                Some(_) => (frame.len(), FcsStatus::Absent),
                None => detect_fcs(frame, start),
            };
            let radio = common.map_or_else(RadioInfo::default, |c| RadioInfo {
                dbm_signal: Some(c.dbm_antsignal),
                channel_freq: Some(c.channel_freq).filter(|&f| f != 0),
                rate_500kbps: u8::try_from(c.rate_500kbps).ok().filter(|&r| r != 0),
                mcs_index: None,
                tsft: Some(c.tsf_timer),
            });
            Ok(Link {
                radio,
                start,
                end,
                fcs,
                data_pad: false,
            })
        }
    }
}

/// The plain (non-802.11) link types `flows::ip::parse_link` understands
/// (libpcap `LINKTYPE_*` / `DLT_*`).
pub mod dlt {
    /// BSD loopback: a 4-byte address family in the capturing host's order.
    pub const NULL: i32 = 0;
    /// Ethernet II (and 802.1Q-tagged Ethernet).
    pub const ETHERNET: i32 = 1;
    /// `DLT_RAW` on most BSDs: raw IPv4 or IPv6.
    pub const RAW_BSD: i32 = 12;
    /// `DLT_RAW` on OpenBSD: raw IPv4 or IPv6.
    pub const RAW_OPENBSD: i32 = 14;
    /// `LINKTYPE_RAW`: raw IPv4 or IPv6, version in the first nibble.
    pub const RAW: i32 = 101;
    /// OpenBSD loopback: a 4-byte address family, big-endian.
    pub const LOOP: i32 = 108;
    /// Linux cooked capture v1.
    pub const LINUX_SLL: i32 = 113;
    /// Raw IPv4 only.
    pub const IPV4: i32 = 228;
    /// Raw IPv6 only.
    pub const IPV6: i32 = 229;
    /// Linux cooked capture v2.
    pub const LINUX_SLL2: i32 = 276;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ppi;
    use crate::wire::radiotap::{FLAG_BAD_FCS, FLAG_DATA_PAD, FLAG_FCS_AT_END};
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

    /// Every frame of a capture, with its DLT.
    fn frames(path: &Path) -> (i32, Vec<Vec<u8>>) {
        let (dlt, frames) = crate::capture::file::read_all(path).unwrap();
        (dlt, frames.into_iter().map(|f| f.data).collect())
    }

    /// A QoS-less data frame: FC, duration, three addresses, seq ctl, 8-byte body.
    fn dot11() -> Vec<u8> {
        let mut f = vec![0x08, 0x02, 0x2c, 0x00];
        f.extend_from_slice(&[0x00, 0x11, 0x22, 0x33, 0x44, 0x55]);
        f.extend_from_slice(&[0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb]);
        f.extend_from_slice(&[0x00, 0x11, 0x22, 0x33, 0x44, 0x55]);
        f.extend_from_slice(&[0x10, 0x00]);
        f.extend_from_slice(&[0xaa, 0xaa, 0x03, 0, 0, 0, 0x88, 0x8e]);
        f
    }

    fn with_fcs(f: &[u8]) -> Vec<u8> {
        let mut v = f.to_vec();
        v.extend_from_slice(&crc32fast::hash(f).to_le_bytes());
        v
    }

    fn with_bad_fcs(f: &[u8]) -> Vec<u8> {
        let mut v = with_fcs(f);
        *v.last_mut().unwrap() ^= 0xff;
        v
    }

    fn cat(a: &[u8], b: &[u8]) -> Vec<u8> {
        [a, b].concat()
    }

    /// Radiotap: Flags (if given), Rate, Channel, dBm signal.
    fn radiotap(flags: Option<u8>) -> Vec<u8> {
        match flags {
            Some(fl) => vec![0, 0, 15, 0, 0x2e, 0, 0, 0, fl, 4, 0x85, 0x09, 0xa0, 0, 0xc4],
            None => vec![
                0, 0, 15, 0, 0x2c, 0, 0, 0, 4, 0xee, 0x85, 0x09, 0xa0, 0, 0xc4,
            ],
        }
    }

    fn check(kind: LinkKind, frame: &[u8], start: usize, fcs: FcsStatus) -> Link {
        let l = locate_dot11(kind, frame).unwrap();
        assert_eq!(l.start, start, "{kind:?} start");
        assert_eq!(l.fcs, fcs, "{kind:?} fcs");
        let expect_end = match fcs {
            FcsStatus::Absent => frame.len(),
            _ => frame.len() - 4,
        };
        assert_eq!(l.end, expect_end, "{kind:?} end");
        l
    }

    #[test]
    fn dlt_mapping() {
        for (dlt, kind) in [
            (127, LinkKind::Radiotap),
            (105, LinkKind::Ieee80211),
            (119, LinkKind::Prism),
            (192, LinkKind::Ppi),
        ] {
            assert_eq!(LinkKind::from_dlt(dlt), Some(kind));
            assert_eq!(kind.dlt(), dlt);
            assert!(!kind.name().is_empty());
        }
        assert_eq!(LinkKind::from_dlt(1), None);
        assert_eq!(LinkKind::from_dlt(163), None);
    }

    #[test]
    fn plain_dot11() {
        let f = dot11();
        let l = check(LinkKind::Ieee80211, &f, 0, FcsStatus::Absent);
        assert_eq!(l.dot11(&f), &f[..]);
        assert_eq!(l.radio, RadioInfo::default());
        let g = with_fcs(&f);
        let l = check(LinkKind::Ieee80211, &g, 0, FcsStatus::Present);
        assert_eq!(l.dot11(&g), &f[..]);
        // Nothing said there is an FCS, and the bytes are not one: Absent.
        check(LinkKind::Ieee80211, &with_bad_fcs(&f), 0, FcsStatus::Absent);
    }

    #[test]
    fn short_frames_are_not_taken_for_fcs() {
        // A 10-byte ACK with FCS is 14 bytes: detected. Shorter: never.
        let ack = [0xd4, 0, 0, 0, 1, 2, 3, 4, 5, 6];
        check(LinkKind::Ieee80211, &with_fcs(&ack), 0, FcsStatus::Present);
        check(
            LinkKind::Ieee80211,
            &with_fcs(&ack[..9]),
            0,
            FcsStatus::Absent,
        );
        for len in 0..4 {
            check(
                LinkKind::Ieee80211,
                &with_fcs(&[])[..len],
                0,
                FcsStatus::Absent,
            );
        }
    }

    #[test]
    fn radiotap_flags_say_fcs() {
        let f = dot11();
        let l = check(
            LinkKind::Radiotap,
            &cat(&radiotap(Some(FLAG_FCS_AT_END)), &with_fcs(&f)),
            15,
            FcsStatus::Present,
        );
        assert_eq!(l.radio.dbm_signal, Some(-60));
        assert_eq!(l.radio.channel_freq, Some(2437));
        assert_eq!(l.radio.rate_500kbps, Some(4));
        assert!(!l.data_pad);
        check(
            LinkKind::Radiotap,
            &cat(&radiotap(Some(FLAG_FCS_AT_END)), &with_bad_fcs(&f)),
            15,
            FcsStatus::PresentBad,
        );
        // Flagged bad, even though the CRC matches.
        check(
            LinkKind::Radiotap,
            &cat(
                &radiotap(Some(FLAG_FCS_AT_END | FLAG_BAD_FCS)),
                &with_fcs(&f),
            ),
            15,
            FcsStatus::PresentBad,
        );
    }

    #[test]
    fn radiotap_flags_say_no_fcs() {
        let f = dot11();
        let l = check(
            LinkKind::Radiotap,
            &cat(&radiotap(Some(FLAG_DATA_PAD)), &f),
            15,
            FcsStatus::Absent,
        );
        assert!(l.data_pad);
        // The header wins over a CRC that happens to match.
        check(
            LinkKind::Radiotap,
            &cat(&radiotap(Some(0)), &with_fcs(&f)),
            15,
            FcsStatus::Absent,
        );
    }

    #[test]
    fn radiotap_without_flags_detects() {
        let f = dot11();
        let g = cat(&radiotap(None), &with_fcs(&f));
        let l = check(LinkKind::Radiotap, &g, 15, FcsStatus::Present);
        assert_eq!(l.dot11(&g), &f[..]);
        check(
            LinkKind::Radiotap,
            &cat(&radiotap(None), &f),
            15,
            FcsStatus::Absent,
        );
    }

    #[test]
    fn radiotap_fcs_flag_without_room() {
        for n in 0..4 {
            let g = cat(&radiotap(Some(FLAG_FCS_AT_END)), &[0u8; 4][..n]);
            assert_eq!(
                locate_dot11(LinkKind::Radiotap, &g),
                Err(LinkError::FcsBeyondFrame { len: n })
            );
        }
        // Exactly an FCS and nothing else: an empty frame with a (bad) FCS.
        // (CRC-32 of nothing is 0, so zeros would be a good one.)
        let g = cat(&radiotap(Some(FLAG_FCS_AT_END)), &[1, 2, 3, 4]);
        let l = check(LinkKind::Radiotap, &g, 15, FcsStatus::PresentBad);
        assert!(l.dot11(&g).is_empty());
    }

    #[test]
    fn radiotap_errors_propagate() {
        assert!(matches!(
            locate_dot11(LinkKind::Radiotap, &[1, 0, 8, 0, 0, 0, 0, 0]),
            Err(LinkError::Radiotap(RadiotapError::BadVersion(1)))
        ));
    }

    #[test]
    fn radiotap_mcs_summary() {
        // MCS: known, flags, index 7 @8..11.
        let h = [0, 0, 11, 0, 0, 0, 0x08, 0, 0x07, 0, 7];
        let l = locate_dot11(LinkKind::Radiotap, &cat(&h, &dot11())).unwrap();
        assert_eq!(l.radio.mcs_index, Some(7));
    }

    /// wlan-ng Prism header, little-endian, channel 6, rate 2, signal -70.
    fn prism() -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&0x44u32.to_le_bytes());
        v.extend_from_slice(&144u32.to_le_bytes());
        v.extend_from_slice(&[0; 16]);
        for n in 1..=10u32 {
            let val = match n {
                3 => 6,
                6 => -70i32 as u32,
                8 => 2,
                _ => 0,
            };
            v.extend_from_slice(&(n << 16 | 0x44).to_le_bytes());
            v.extend_from_slice(&(4u32 << 16).to_le_bytes());
            v.extend_from_slice(&val.to_le_bytes());
        }
        v
    }

    #[test]
    fn prism_link() {
        let f = dot11();
        let l = check(
            LinkKind::Prism,
            &cat(&prism(), &with_fcs(&f)),
            144,
            FcsStatus::Present,
        );
        assert_eq!(l.radio.channel_freq, Some(2437));
        assert_eq!(l.radio.dbm_signal, Some(-70));
        assert_eq!(l.radio.rate_500kbps, Some(2));
        check(LinkKind::Prism, &cat(&prism(), &f), 144, FcsStatus::Absent);
        check(
            LinkKind::Prism,
            &cat(&prism(), &with_bad_fcs(&f)),
            144,
            FcsStatus::Absent,
        );
        assert!(matches!(
            locate_dot11(LinkKind::Prism, &prism()[..100]),
            Err(LinkError::Prism(_))
        ));
    }

    fn ppi_hdr(dlt: u32, common_flags: Option<u16>) -> Vec<u8> {
        let mut v = vec![0, 0, 0, 0];
        v.extend_from_slice(&dlt.to_le_bytes());
        if let Some(fl) = common_flags {
            v.extend_from_slice(&ppi::FIELD_80211_COMMON.to_le_bytes());
            v.extend_from_slice(&20u16.to_le_bytes());
            let mut d = [0u8; 20];
            d[..8].copy_from_slice(&42u64.to_le_bytes());
            d[8..10].copy_from_slice(&fl.to_le_bytes());
            d[10..12].copy_from_slice(&12u16.to_le_bytes());
            d[12..14].copy_from_slice(&2412u16.to_le_bytes());
            d[18] = -48i8 as u8;
            v.extend_from_slice(&d);
        }
        let len = v.len() as u16;
        v[2..4].copy_from_slice(&len.to_le_bytes());
        v
    }

    #[test]
    fn ppi_link() {
        let f = dot11();
        let h = ppi_hdr(105, Some(ppi::COMMON_FLAG_FCS));
        let l = check(
            LinkKind::Ppi,
            &cat(&h, &with_fcs(&f)),
            32,
            FcsStatus::Present,
        );
        assert_eq!(l.radio.channel_freq, Some(2412));
        assert_eq!(l.radio.dbm_signal, Some(-48));
        assert_eq!(l.radio.rate_500kbps, Some(12));
        assert_eq!(l.radio.tsft, Some(42));
        check(
            LinkKind::Ppi,
            &cat(&h, &with_bad_fcs(&f)),
            32,
            FcsStatus::PresentBad,
        );
        let bad = ppi_hdr(105, Some(ppi::COMMON_FLAG_FCS | ppi::COMMON_FLAG_BAD_FCS));
        check(
            LinkKind::Ppi,
            &cat(&bad, &with_fcs(&f)),
            32,
            FcsStatus::PresentBad,
        );
        // 802.11-Common without the FCS flag: Absent, whatever the bytes.
        let none = ppi_hdr(105, Some(0));
        check(
            LinkKind::Ppi,
            &cat(&none, &with_fcs(&f)),
            32,
            FcsStatus::Absent,
        );
        // No 802.11-Common: detected.
        let bare = ppi_hdr(105, None);
        check(
            LinkKind::Ppi,
            &cat(&bare, &with_fcs(&f)),
            8,
            FcsStatus::Present,
        );
        check(LinkKind::Ppi, &cat(&bare, &f), 8, FcsStatus::Absent);
    }

    #[test]
    fn ppi_other_inner_dlt() {
        let h = ppi_hdr(127, None);
        assert_eq!(
            locate_dot11(LinkKind::Ppi, &cat(&h, &dot11())),
            Err(LinkError::PpiInnerDlt(127))
        );
    }

    #[test]
    fn channel_numbers() {
        assert_eq!(channel_to_freq(1), Some(2412));
        assert_eq!(channel_to_freq(7), Some(2442));
        assert_eq!(channel_to_freq(14), Some(2484));
        assert_eq!(channel_to_freq(36), Some(5180));
        assert_eq!(channel_to_freq(165), Some(5825));
        assert_eq!(channel_to_freq(0), None);
        assert_eq!(channel_to_freq(u32::MAX), None);
    }

    #[test]
    fn wpa_cap_every_frame_has_a_good_fcs() {
        let Some(path) = capture("wpa.cap") else {
            return;
        };
        let (dlt, frames) = frames(&path);
        let kind = LinkKind::from_dlt(dlt).unwrap();
        assert_eq!(kind, LinkKind::Prism);
        assert_eq!(frames.len(), 13);
        for f in &frames {
            let l = locate_dot11(kind, f).unwrap();
            assert_eq!(l.fcs, FcsStatus::Present);
            assert_eq!((l.start, l.end), (144, f.len() - 4));
            assert_eq!(l.radio.channel_freq, Some(2442));
        }
    }

    #[test]
    fn radiotap_captures_have_no_fcs() {
        for name in ["testm1m2m3.pcap", "wpa-eap-tls.pcap"] {
            let Some(path) = capture(name) else {
                return;
            };
            let (dlt, frames) = frames(&path);
            assert_eq!(LinkKind::from_dlt(dlt), Some(LinkKind::Radiotap));
            assert!(!frames.is_empty());
            for f in &frames {
                let l = locate_dot11(LinkKind::Radiotap, f).unwrap();
                assert_eq!(l.fcs, FcsStatus::Absent, "{name}");
                assert_eq!((l.start, l.end), (18, f.len()));
                assert!(l.radio.dbm_signal.is_some());
            }
        }
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            for kind in [LinkKind::Radiotap, LinkKind::Ieee80211, LinkKind::Prism, LinkKind::Ppi] {
                if let Ok(l) = locate_dot11(kind, &data) {
                    prop_assert!(l.start <= l.end && l.end <= data.len());
                    let _ = l.dot11(&data);
                }
            }
        }

        #[test]
        fn valid_headers_random_bodies(body in proptest::collection::vec(any::<u8>(), 0..64)) {
            for (kind, h) in [
                (LinkKind::Radiotap, radiotap(Some(FLAG_FCS_AT_END))),
                (LinkKind::Radiotap, radiotap(None)),
                (LinkKind::Prism, prism()),
                (LinkKind::Ppi, ppi_hdr(105, Some(ppi::COMMON_FLAG_FCS))),
                (LinkKind::Ppi, ppi_hdr(105, None)),
            ] {
                let g = cat(&h, &body);
                if let Ok(l) = locate_dot11(kind, &g) {
                    prop_assert_eq!(l.start, h.len());
                    prop_assert!(l.start <= l.end && l.end <= g.len());
                }
            }
        }
    }
}
