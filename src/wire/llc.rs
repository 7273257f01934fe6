//! LLC/SNAP encapsulation of MSDUs (IEEE 802-2014 10.3, RFC 1042, IEEE 802.1H).
//!
//! An 802.11 data frame body starts with `AA AA 03` + OUI + EtherType. OUI
//! `00-00-00` is RFC 1042; `00-00-F8` is the 802.1H bridge tunnel (used for
//! AppleTalk/IPX). Both map to an Ethernet II frame with that EtherType.

/// EtherTypes this crate acts on.
pub mod ethertype {
    pub const IPV4: u16 = 0x0800;
    pub const ARP: u16 = 0x0806;
    pub const IPV6: u16 = 0x86dd;
    pub const EAPOL: u16 = 0x888e;
    pub const VLAN: u16 = 0x8100;
    /// TDLS and other 802.11 payloads in data frames (IEEE 802.11-2020 Annex M).
    pub const IEEE80211_DATA: u16 = 0x890d;
    pub const PREAUTH: u16 = 0x88c7;
    pub const WAI: u16 = 0x88b4;
}

/// A parsed LLC/SNAP header: the EtherType and the payload after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snap<'a> {
    pub ethertype: u16,
    pub payload: &'a [u8],
}

/// Parses an RFC 1042 or 802.1H SNAP header; `None` if the body is anything else.
pub fn parse_snap(body: &[u8]) -> Option<Snap<'_>> {
    if body.len() < 8 || body[0..3] != [0xaa, 0xaa, 0x03] {
        return None;
    }
    if body[3..6] != [0, 0, 0] && body[3..6] != [0, 0, 0xf8] {
        return None;
    }
    Some(Snap {
        ethertype: u16::from_be_bytes([body[6], body[7]]),
        payload: &body[8..],
    })
}

/// True when the EtherType is one a sane decrypted frame carries; used to judge
/// whether a decryption made sense and by the "every decrypted frame is sane" tests.
pub fn is_known_ethertype(t: u16) -> bool {
    use ethertype::*;
    matches!(
        t,
        IPV4 | ARP
            | IPV6
            | EAPOL
            | VLAN
            | IEEE80211_DATA
            | PREAUTH
            | WAI
            | 0x809b
            | 0x80f3
            | 0x8137
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snap() {
        let b = [0xaa, 0xaa, 3, 0, 0, 0, 0x88, 0x8e, 1, 2];
        let s = parse_snap(&b).unwrap();
        assert_eq!(s.ethertype, ethertype::EAPOL);
        assert_eq!(s.payload, &[1, 2]);
        assert!(parse_snap(&b[..7]).is_none());
        let b = [0xaa, 0xaa, 3, 0, 0, 0xf8, 0x80, 0xf3];
        assert_eq!(parse_snap(&b).unwrap().ethertype, 0x80f3);
        assert!(parse_snap(&[0xaa, 0xaa, 3, 1, 2, 3, 8, 0]).is_none());
    }
}
