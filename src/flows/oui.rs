//! Vendor names from MAC address prefixes (IEEE OUIs), for the device inventory.
//!
//! A small curated table, not the IEEE registry: TP-Link's blocks seen on Kasa
//! and Tapo devices and a few vendors common on home networks. It is partial by
//! design; an unknown prefix is simply `None`. Locally administered addresses
//! (bit 1 of the first octet, used by phones' MAC randomisation) are reported
//! as such.

use crate::wire::MacAddr;

/// (OUI, vendor), sorted by OUI.
const TABLE: &[([u8; 3], &str)] = &[
    ([0x00, 0x0d, 0x93], "Apple"),
    ([0x00, 0x31, 0x92], "TP-Link"),
    ([0x00, 0x5f, 0x67], "TP-Link"),
    ([0x1c, 0x3b, 0xf3], "TP-Link"),
    ([0x1c, 0x61, 0xb4], "TP-Link"),
    ([0x24, 0xa4, 0x3c], "Ubiquiti"),
    ([0x30, 0xde, 0x4b], "TP-Link"),
    ([0x3c, 0x84, 0x6a], "TP-Link"),
    ([0x50, 0xc7, 0xbf], "TP-Link"),
    ([0x54, 0xaf, 0x97], "TP-Link"),
    ([0x5c, 0xa6, 0xe6], "TP-Link"),
    ([0x60, 0x32, 0xb1], "TP-Link"),
    ([0x68, 0xff, 0x7b], "TP-Link"),
    ([0x84, 0xd8, 0x1b], "TP-Link"),
    ([0x98, 0xda, 0xc4], "TP-Link"),
    ([0x9c, 0x53, 0x22], "TP-Link"),
    ([0xac, 0x84, 0xc6], "TP-Link"),
    ([0xb0, 0x95, 0x75], "TP-Link"),
    ([0xb8, 0x27, 0xeb], "Raspberry Pi"),
    ([0xc0, 0x06, 0xc3], "TP-Link"),
    ([0xdc, 0xa6, 0x32], "Raspberry Pi"),
];

pub fn vendor(mac: MacAddr) -> Option<&'static str> {
    if mac.0[0] & 0x02 != 0 {
        return Some("(locally administered)");
    }
    let key = [mac.0[0], mac.0[1], mac.0[2]];
    TABLE
        .binary_search_by(|(o, _)| o.cmp(&key))
        .ok()
        .map(|i| TABLE[i].1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_and_found() {
        assert!(
            TABLE.windows(2).all(|w| w[0].0 < w[1].0),
            "table must stay sorted"
        );
        assert_eq!(
            vendor(MacAddr([0x50, 0xc7, 0xbf, 1, 2, 3])),
            Some("TP-Link")
        );
        assert_eq!(vendor(MacAddr([0x00, 0x00, 0x01, 1, 2, 3])), None);
        assert_eq!(
            vendor(MacAddr([0x02, 0, 0, 0, 0, 1])),
            Some("(locally administered)")
        );
    }
}
