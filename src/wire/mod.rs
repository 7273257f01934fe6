//! Zero-copy views over frame bytes: no state, no allocation, no I/O.
//!
//! Every view is built with a `new_checked` constructor that validates all the
//! lengths its accessors rely on; after it returns `Ok`, no accessor panics.
//! Hostile input (every byte here comes from the air) yields an error, never a
//! panic, and never an allocation.
//!
//! Why our own views and not the `radiotap` / `ieee80211` crates: measured on this
//! project's machines, `radiotap` 1.3 panics on a bad vendor-namespace length and
//! misreads every field after one it does not know, and allocates a `Vec` of
//! fields per header; `ieee80211` 0.5 misreads A-MSDU lengths and CCMP key IDs.
//! The data path therefore uses the views below only.

pub mod dot11;
pub mod eapol;
pub mod llc;
pub mod ppi;
pub mod prism;
pub mod radiotap;
pub mod rsn;

use std::fmt;

/// An IEEE 802 MAC address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);

    /// Reads six bytes at `off`; the caller has checked the length.
    pub fn from_slice(b: &[u8]) -> MacAddr {
        let mut a = [0u8; 6];
        a.copy_from_slice(&b[..6]);
        MacAddr(a)
    }

    /// Group (multicast or broadcast) address: the I/G bit (IEEE 802-2014 8.2).
    pub fn is_group(&self) -> bool {
        self.0[0] & 1 == 1
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            a[0], a[1], a[2], a[3], a[4], a[5]
        )
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Little-endian u16 at `off`; the caller has checked the length.
#[inline]
pub(crate) fn le16(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([b[off], b[off + 1]])
}

/// Big-endian u16 at `off`; the caller has checked the length.
#[inline]
pub(crate) fn be16(b: &[u8], off: usize) -> u16 {
    u16::from_be_bytes([b[off], b[off + 1]])
}

/// Little-endian u32 at `off`; the caller has checked the length.
#[inline]
pub(crate) fn le32(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

/// Why a view refused its bytes: the layer, and how many bytes it needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LenError {
    pub layer: &'static str,
    pub required: usize,
    pub len: usize,
}

impl fmt::Display for LenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: needs {} bytes, {} present",
            self.layer, self.required, self.len
        )
    }
}

impl std::error::Error for LenError {}
