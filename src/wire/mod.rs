//! Zero-copy views over frame bytes: no state, no allocation, no I/O.
//!
//! One vocabulary for every layer (after etherparse and smoltcp):
//! - a zero-copy **view** over a header is built with `new_checked`, which
//!   validates every length its accessors rely on; after it returns `Ok`, no
//!   accessor panics (`Dot11`, `EapolKey`, `Radiotap`, `Ppi`, `PrismHeader`);
//! - an owned **representation** of the fields the crate acts on is built
//!   with `parse` (`RsnInfo::parse`, `SecurityHeader::parse`);
//! - a classifier that answers "is this an X?" returns an `Option`
//!   (`llc::parse_snap`, `rsn::ssid_from_elements`);
//! - a length problem is a [`LenError`]: the [`Layer`], the offset where it
//!   started, the bytes it needed and the bytes present. Layer-specific errors
//!   wrap it (`RadiotapError::TooShort`, `RsnError::Len`, `flows::ip::IpError::Len`).
//!
//! Hostile input (every byte here comes from the air) yields an error, never a
//! panic, and never an allocation.
//!
//! Why our own views and not the `radiotap` / `ieee80211` crates: measured on this
//! project's machines, `radiotap` 1.3 panics on a bad vendor-namespace length and
//! misreads every field after one it does not know, and allocates a `Vec` of
//! fields per header; `ieee80211` 0.5 misreads A-MSDU lengths and CCMP key IDs.
//! The data path therefore uses the views below only.

pub mod dns;
pub mod dot11;
pub mod eapol;
pub mod link;
pub mod llc;
pub mod ppi;
pub mod prism;
pub mod radiotap;
pub mod rsn;
pub mod time;

pub use time::Ts;

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

    /// Parses the forms devices and users write: six hex pairs separated by
    /// `:` or `-` (`50:C7:BF:ED:0A:54`, `50-c7-bf-ed-0a-54`), or twelve hex
    /// digits (`50C7BFED0A54`). Anything else is `None`.
    pub fn parse_any(s: &str) -> Option<MacAddr> {
        let s = s.trim();
        let mut a = [0u8; 6];
        if s.len() == 12 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            for (i, b) in a.iter_mut().enumerate() {
                *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
            }
            return Some(MacAddr(a));
        }
        let mut n = 0;
        for (i, p) in s.split([':', '-']).enumerate() {
            if i >= 6 || p.len() != 2 || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            a[i] = u8::from_str_radix(p, 16).ok()?;
            n += 1;
        }
        (n == 6).then_some(MacAddr(a))
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

/// The protocol layer a parse error is about: one vocabulary for the whole
/// crate, from the capture's link header to the transport layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layer {
    Radiotap,
    Prism,
    Ppi,
    /// The 802.11 MAC header.
    Dot11,
    /// The TKIP/CCMP/GCMP security header.
    Security,
    /// The 802.1X header of an EAPOL frame.
    Ieee8021x,
    EapolKey,
    /// The Key Data field of an EAPOL-Key frame.
    EapolKeyData,
    /// An RSN (or WPA1 vendor) element.
    Rsn,
    /// LLC/SNAP.
    Llc,
    Ethernet,
    Vlan,
    LinuxSll,
    LinuxSll2,
    Loopback,
    RawIp,
    Ipv4,
    Ipv6,
    /// IPv4 authentication header or an IPv6 extension header.
    IpExtension,
    Tcp,
    Udp,
    Icmp,
    /// Anything else `etherparse` reports (MACsec, IGMP…).
    Other,
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layer::Radiotap => "radiotap",
            Layer::Prism => "prism",
            Layer::Ppi => "ppi",
            Layer::Dot11 => "802.11 header",
            Layer::Security => "security header",
            Layer::Ieee8021x => "802.1X",
            Layer::EapolKey => "EAPOL-Key",
            Layer::EapolKeyData => "EAPOL-Key key data",
            Layer::Rsn => "RSN element",
            Layer::Llc => "LLC/SNAP",
            Layer::Ethernet => "Ethernet",
            Layer::Vlan => "802.1Q",
            Layer::LinuxSll => "Linux SLL",
            Layer::LinuxSll2 => "Linux SLL2",
            Layer::Loopback => "loopback",
            Layer::RawIp => "raw IP",
            Layer::Ipv4 => "IPv4",
            Layer::Ipv6 => "IPv6",
            Layer::IpExtension => "IP extension header",
            Layer::Tcp => "TCP",
            Layer::Udp => "UDP",
            Layer::Icmp => "ICMP",
            Layer::Other => "other",
        })
    }
}

/// Why a view refused its bytes (after etherparse's `LenError`): the layer,
/// where it started in the bytes handed to the parser, how many bytes it
/// needed and how many were present from that offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LenError {
    pub layer: Layer,
    pub required: usize,
    pub len: usize,
    /// Offset of the layer's first byte in the bytes handed in.
    pub offset: usize,
}

impl LenError {
    /// A layer starting at offset 0.
    pub const fn new(layer: Layer, required: usize, len: usize) -> LenError {
        LenError {
            layer,
            required,
            len,
            offset: 0,
        }
    }
}

impl fmt::Display for LenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at offset {}: needs {} bytes, {} present",
            self.layer, self.offset, self.required, self.len
        )
    }
}

impl std::error::Error for LenError {}

#[cfg(test)]
mod tests {
    use super::MacAddr;

    #[test]
    fn mac_forms_devices_write() {
        let m = MacAddr([0x50, 0xc7, 0xbf, 0xed, 0x0a, 0x54]);
        for s in [
            "50:C7:BF:ED:0A:54",
            "50-c7-bf-ed-0a-54",
            "50C7BFED0A54",
            " 50:c7:bf:ed:0a:54\n",
        ] {
            assert_eq!(MacAddr::parse_any(s), Some(m), "{s:?}");
        }
        for s in [
            "",
            "50:C7:BF:ED:0A",
            "50:C7:BF:ED:0A:54:00",
            "5:0C7:BF:ED:0A:54",
            "+0:C7:BF:ED:0A:54",
            "50C7BFED0A5",
            "é0C7BFED0A54",
        ] {
            assert_eq!(MacAddr::parse_any(s), None, "{s:?}");
        }
    }
}
