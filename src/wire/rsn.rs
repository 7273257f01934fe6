//! Information elements: the element walker, the SSID, the RSN element
//! (IEEE 802.11-2020 9.4.2.24), the WPA1 vendor element (Wi-Fi Alliance WPA
//! 1.0, OUI 00-50-F2 type 1), and the fast BSS transition elements: the
//! Mobility Domain element (9.4.2.46) and the Fast BSS Transition element
//! (9.4.2.47) with its subelements.
//!
//! Elements are `ID (1) ‖ Length (1) ‖ body (Length)` (IEEE 802.11-2020 9.4.2.1).
//! [`elements`] stops at the first element whose length runs past the end of the
//! buffer, so a hostile length hides what follows it and nothing else.
//!
//! The RSNE body is, all little-endian, every field after Version optional from the
//! end (IEEE 802.11-2020 9.4.2.24.1):
//!
//! ```text
//! Version(2) GroupCipher(4) PairwiseCount(2) Pairwise(4·m) AkmCount(2) Akm(4·n)
//! Capabilities(2) PmkidCount(2) Pmkid(16·s) GroupMgmtCipher(4)
//! ```
//!
//! A suite selector is stored as `OUI << 8 | type`, read as the four bytes in
//! order (e.g. `00-0F-AC:4` → `0x000F_AC04`, CCMP-128); unknown suites are data,
//! not errors. Lists keep at most [`MAX_SUITES`] entries in a fixed array and
//! remember the count the element declares: no allocation, whatever the counts.
//! A field that is cut off in the middle is an error; a body that ends between
//! fields gets the defaults of 9.4.2.24.1.

use super::{Layer, LenError, le16};

/// Suite selectors (IEEE 802.11-2020 Table 9-149 and Table 9-151; WPA1 uses OUI
/// 00-50-F2 with the same type numbers).
pub mod suite {
    /// Cipher 00-0F-AC:1, WEP-40.
    pub const WEP40: u32 = 0x000F_AC01;
    /// Cipher 00-0F-AC:2, TKIP.
    pub const TKIP: u32 = 0x000F_AC02;
    /// Cipher 00-0F-AC:4, CCMP-128.
    pub const CCMP: u32 = 0x000F_AC04;
    /// Cipher 00-0F-AC:5, WEP-104.
    pub const WEP104: u32 = 0x000F_AC05;
    /// Cipher 00-0F-AC:6, BIP-CMAC-128 (group management).
    pub const BIP_CMAC_128: u32 = 0x000F_AC06;
    /// AKM 00-0F-AC:1, 802.1X with SHA-1 PRF.
    pub const AKM_8021X: u32 = 0x000F_AC01;
    /// AKM 00-0F-AC:2, PSK with SHA-1 PRF.
    pub const AKM_PSK: u32 = 0x000F_AC02;
    /// AKM 00-0F-AC:5, 802.1X with KDF-SHA256.
    pub const AKM_8021X_SHA256: u32 = 0x000F_AC05;
    /// AKM 00-0F-AC:6, PSK with KDF-SHA256.
    pub const AKM_PSK_SHA256: u32 = 0x000F_AC06;
    /// AKM 00-0F-AC:8, SAE.
    pub const AKM_SAE: u32 = 0x000F_AC08;
    /// Cipher 00-0F-AC:8, GCMP-128.
    pub const GCMP: u32 = 0x000F_AC08;
    /// Cipher 00-0F-AC:9, GCMP-256.
    pub const GCMP_256: u32 = 0x000F_AC09;
    /// Cipher 00-0F-AC:10, CCMP-256.
    pub const CCMP_256: u32 = 0x000F_AC0A;
    /// Group management cipher 00-0F-AC:11, BIP-GMAC-128.
    pub const BIP_GMAC_128: u32 = 0x000F_AC0B;
    /// Group management cipher 00-0F-AC:12, BIP-GMAC-256.
    pub const BIP_GMAC_256: u32 = 0x000F_AC0C;
    /// Group management cipher 00-0F-AC:13, BIP-CMAC-256.
    pub const BIP_CMAC_256: u32 = 0x000F_AC0D;
    /// AKM 00-0F-AC:3, FT over 802.1X.
    pub const AKM_FT_8021X: u32 = 0x000F_AC03;
    /// AKM 00-0F-AC:4, FT with PSK.
    pub const AKM_FT_PSK: u32 = 0x000F_AC04;
    /// AKM 00-0F-AC:9, FT with SAE.
    pub const AKM_FT_SAE: u32 = 0x000F_AC09;
    /// AKM 00-0F-AC:11, 802.1X Suite B (SHA-256).
    pub const AKM_SUITE_B: u32 = 0x000F_AC0B;
    /// AKM 00-0F-AC:12, 802.1X Suite B 192-bit (SHA-384).
    pub const AKM_SUITE_B_192: u32 = 0x000F_AC0C;
    /// AKM 00-0F-AC:13, FT over 802.1X with SHA-384.
    pub const AKM_FT_8021X_SHA384: u32 = 0x000F_AC0D;
    /// AKM 00-0F-AC:18, OWE.
    pub const AKM_OWE: u32 = 0x000F_AC12;
    /// WPA1 cipher 00-50-F2:2, TKIP.
    pub const WPA_TKIP: u32 = 0x0050_F202;
    /// WPA1 cipher 00-50-F2:4, CCMP.
    pub const WPA_CCMP: u32 = 0x0050_F204;
    /// WPA1 AKM 00-50-F2:1, 802.1X.
    pub const WPA_AKM_8021X: u32 = 0x0050_F201;
    /// WPA1 AKM 00-50-F2:2, PSK.
    pub const WPA_AKM_PSK: u32 = 0x0050_F202;
}

/// Element ID of the SSID (IEEE 802.11-2020 Table 9-92).
pub const ID_SSID: u8 = 0;
/// Element ID of the RSNE (IEEE 802.11-2020 Table 9-92).
pub const ID_RSN: u8 = 48;
/// Element ID of the Vendor Specific element (IEEE 802.11-2020 9.4.2.25).
pub const ID_VENDOR: u8 = 221;
/// Element ID of the Mobility Domain element (IEEE 802.11-2020 Table 9-92).
pub const ID_MDE: u8 = 54;
/// Element ID of the Fast BSS Transition element (IEEE 802.11-2020 Table 9-92).
pub const ID_FTE: u8 = 55;
/// Element ID of the RSN Extension element (IEEE 802.11-2020 Table 9-92).
pub const ID_RSNXE: u8 = 244;
/// Start of the WPA1 vendor element body: OUI 00-50-F2 (Microsoft), type 1.
pub const WPA_VENDOR_PREFIX: [u8; 4] = [0x00, 0x50, 0xF2, 0x01];

/// How many suites of one list [`SmallList`] keeps.
pub const MAX_SUITES: usize = 4;

/// RSN capability: Management Frame Protection Required (9.4.2.24.4).
pub const CAP_MFPR: u16 = 0x0040;
/// RSN capability: Management Frame Protection Capable (9.4.2.24.4).
pub const CAP_MFPC: u16 = 0x0080;

/// Iterator over the elements of a buffer: `(id, body)`. Stops at the end of the
/// buffer or at the first element whose length does not fit.
#[derive(Debug, Clone)]
pub struct Elements<'a> {
    rest: &'a [u8],
}

impl<'a> Elements<'a> {
    /// What has not been consumed: empty after a clean end, the bad element and
    /// everything after it if the walk stopped on a malformed length.
    pub fn remainder(&self) -> &'a [u8] {
        self.rest
    }
}

impl<'a> Iterator for Elements<'a> {
    type Item = (u8, &'a [u8]);

    fn next(&mut self) -> Option<(u8, &'a [u8])> {
        let [id, len, tail @ ..] = self.rest else {
            return None;
        };
        let body = tail.get(..usize::from(*len))?;
        let id = *id;
        self.rest = &tail[body.len()..];
        Some((id, body))
    }
}

/// The elements of `body` (IEEE 802.11-2020 9.4.2.1), e.g. a Beacon body after
/// its fixed fields, or EAPOL-Key data.
pub fn elements(body: &[u8]) -> Elements<'_> {
    Elements { rest: body }
}

/// The SSID: the body of the first SSID element (9.4.2.2), which may be empty
/// (hidden network). At most 32 bytes by the standard; longer ones are returned
/// as they are.
pub fn ssid_from_elements(body: &[u8]) -> Option<&[u8]> {
    elements(body)
        .find(|&(id, _)| id == ID_SSID)
        .map(|(_, b)| b)
}

/// The body of the first RSN element.
pub fn rsn_element(body: &[u8]) -> Option<&[u8]> {
    elements(body).find(|&(id, _)| id == ID_RSN).map(|(_, b)| b)
}

/// The body of the first WPA1 vendor element (from its OUI 00-50-F2 01 onward).
pub fn wpa_vendor_element(body: &[u8]) -> Option<&[u8]> {
    elements(body)
        .find(|&(id, b)| id == ID_VENDOR && b.starts_with(&WPA_VENDOR_PREFIX))
        .map(|(_, b)| b)
}

/// Up to [`MAX_SUITES`] values in a fixed array, plus the count the element
/// declared (which may be larger).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SmallList<T: Copy + Default> {
    items: [T; MAX_SUITES],
    stored: u8,
    count: u16,
}

impl<T: Copy + Default + PartialEq> SmallList<T> {
    /// A list holding the single value `v` (the defaults of 9.4.2.24.1).
    pub fn one(v: T) -> Self {
        let mut l = SmallList::default();
        l.items[0] = v;
        l.stored = 1;
        l.count = 1;
        l
    }

    /// The stored values (the first `min(count, MAX_SUITES)`).
    pub fn as_slice(&self) -> &[T] {
        &self.items[..usize::from(self.stored)]
    }

    /// The count the element declared.
    pub fn count(&self) -> u16 {
        self.count
    }

    /// True if the element listed more values than were kept.
    pub fn is_truncated(&self) -> bool {
        usize::from(self.count) > usize::from(self.stored)
    }

    /// Whether `v` is among the stored values.
    pub fn contains(&self, v: T) -> bool {
        self.as_slice().contains(&v)
    }

    /// The first value, if any.
    pub fn first(&self) -> Option<T> {
        self.as_slice().first().copied()
    }
}

/// The fields of an RSNE or WPA1 element that key management needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RsnInfo {
    /// Version: 1 for both RSNE and WPA1.
    pub version: u16,
    /// Group data cipher suite.
    pub group_cipher: u32,
    /// Pairwise cipher suites.
    pub pairwise: SmallList<u32>,
    /// AKM suites.
    pub akms: SmallList<u32>,
    /// RSN capabilities ([`CAP_MFPR`], [`CAP_MFPC`], …); 0 when absent.
    pub capabilities: u16,
    /// Number of PMKIDs listed.
    pub pmkid_count: u16,
    /// The first PMKID listed, if any (PMKR0Name / PMKR1Name under FT).
    pub pmkid: Option<[u8; 16]>,
    /// Group management cipher suite (802.11w), if the element has one.
    pub group_mgmt_cipher: Option<u32>,
}

/// Why an RSNE or WPA element was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RsnError {
    /// A field is cut off, or a count runs past the end of the body.
    Len(LenError),
    /// The version is not 1 (9.4.2.24.1: "Version 1 is defined in this standard").
    Version(u16),
    /// A vendor element that is not WPA1 (OUI 00-50-F2 type 1).
    NotWpa,
}

impl std::fmt::Display for RsnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RsnError::Len(e) => e.fmt(f),
            RsnError::Version(v) => write!(f, "RSN version {v} (only 1 is defined)"),
            RsnError::NotWpa => f.write_str("vendor element is not WPA (00-50-F2:1)"),
        }
    }
}

impl std::error::Error for RsnError {}

/// A cursor over an element body that tells "ended between fields" (`None`)
/// from "ended inside a field" (`Err`).
struct Cursor<'a> {
    b: &'a [u8],
    off: usize,
}

impl<'a> Cursor<'a> {
    fn at_end(&self) -> bool {
        self.off >= self.b.len()
    }

    fn take(&mut self, n: usize, _what: &'static str) -> Result<&'a [u8], RsnError> {
        let end = self.off.checked_add(n);
        match end.and_then(|e| self.b.get(self.off..e)) {
            Some(s) => {
                self.off += n;
                Ok(s)
            }
            None => Err(RsnError::Len(LenError {
                layer: Layer::Rsn,
                required: n,
                len: self.b.len().saturating_sub(self.off),
                offset: self.off,
            })),
        }
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, RsnError> {
        self.take(2, what).map(|s| le16(s, 0))
    }

    fn suite(&mut self, what: &'static str) -> Result<u32, RsnError> {
        self.take(4, what)
            .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }

    /// A count and its list of suites; the whole list must be present.
    fn suites(&mut self, what: &'static str) -> Result<SmallList<u32>, RsnError> {
        let count = self.u16(what)?;
        let list = self.take(usize::from(count) * 4, what)?;
        let mut l = SmallList {
            count,
            ..SmallList::default()
        };
        for (slot, s) in l.items.iter_mut().zip(list.chunks_exact(4)) {
            *slot = u32::from_be_bytes([s[0], s[1], s[2], s[3]]);
            l.stored += 1;
        }
        Ok(l)
    }
}

/// Parses the fields common to RSNE and WPA1 after the version; `d_cipher` and
/// `d_akm` are the defaults when a field is absent.
fn parse_suites(mut c: Cursor<'_>, d_cipher: u32, d_akm: u32) -> Result<RsnInfo, RsnError> {
    let version = c.u16("RSN version")?;
    if version != 1 {
        return Err(RsnError::Version(version));
    }
    let mut info = RsnInfo {
        version,
        group_cipher: d_cipher,
        pairwise: SmallList::one(d_cipher),
        akms: SmallList::one(d_akm),
        capabilities: 0,
        pmkid_count: 0,
        pmkid: None,
        group_mgmt_cipher: None,
    };
    if c.at_end() {
        return Ok(info);
    }
    info.group_cipher = c.suite("RSN group cipher")?;
    if c.at_end() {
        return Ok(info);
    }
    info.pairwise = c.suites("RSN pairwise suites")?;
    if c.at_end() {
        return Ok(info);
    }
    info.akms = c.suites("RSN AKM suites")?;
    if c.at_end() {
        return Ok(info);
    }
    info.capabilities = c.u16("RSN capabilities")?;
    if c.at_end() {
        return Ok(info);
    }
    info.pmkid_count = c.u16("RSN PMKID count")?;
    let list = c.take(usize::from(info.pmkid_count) * 16, "RSN PMKID list")?;
    info.pmkid = list.get(..16).and_then(|p| p.try_into().ok());
    if c.at_end() {
        return Ok(info);
    }
    info.group_mgmt_cipher = Some(c.suite("RSN group management cipher")?);
    // Anything after is for future versions of the element: ignored (9.4.2.24.1).
    Ok(info)
}

impl RsnInfo {
    /// Parses an RSNE body (IEEE 802.11-2020 9.4.2.24). Absent trailing fields take
    /// the defaults of 9.4.2.24.1: CCMP-128 group and pairwise, 802.1X AKM.
    pub fn parse(body: &[u8]) -> Result<RsnInfo, RsnError> {
        parse_suites(Cursor { b: body, off: 0 }, suite::CCMP, suite::AKM_8021X)
    }

    /// Parses a WPA1 vendor element body, starting at its OUI (`00 50 F2 01`).
    /// Same layout as the RSNE from Version to Capabilities, with OUI 00-50-F2
    /// suites; absent fields default to TKIP and 802.1X (WPA 1.0 §2.1).
    pub fn parse_wpa_vendor(body: &[u8]) -> Result<RsnInfo, RsnError> {
        let Some(rest) = body.strip_prefix(&WPA_VENDOR_PREFIX) else {
            return Err(RsnError::NotWpa);
        };
        parse_suites(
            Cursor { b: rest, off: 0 },
            suite::WPA_TKIP,
            suite::WPA_AKM_8021X,
        )
    }
}

/// The Mobility Domain element's body (IEEE 802.11-2020 9.4.2.46): MDID
/// (2) and FT Capability and Policy (1).
pub fn parse_mde(body: &[u8]) -> Option<[u8; 2]> {
    match body {
        [a, b, _] => Some([*a, *b]),
        _ => None,
    }
}

/// FTE subelement IDs (IEEE 802.11-2020 Table 9-183).
pub mod fte_sub {
    /// PMK-R1 key holder identifier (R1KH-ID), 6 octets.
    pub const R1KH_ID: u8 = 1;
    /// GTK: Key Info (2), Key Length (1), RSC (8), Wrapped Key.
    pub const GTK: u8 = 2;
    /// PMK-R0 key holder identifier (R0KH-ID), 1–48 octets.
    pub const R0KH_ID: u8 = 3;
    /// IGTK: Key ID (2), IPN (6), Key Length (1), Wrapped Key.
    pub const IGTK: u8 = 4;
}

/// The fields of a Fast BSS Transition element (IEEE 802.11-2020 9.4.2.47):
/// MIC Control (2), MIC (16 or 24 octets by AKM), ANonce (32), SNonce (32),
/// then subelements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fte<'a> {
    /// MIC Control: bit 0 RSNXE Used, bits 8–15 Element Count.
    pub mic_control: u16,
    pub mic: &'a [u8],
    /// Offset of the MIC in the element body.
    pub mic_offset: usize,
    pub anonce: [u8; 32],
    pub snonce: [u8; 32],
    pub r1kh_id: Option<[u8; 6]>,
    pub r0kh_id: Option<&'a [u8]>,
    /// GTK subelement body.
    pub gtk: Option<&'a [u8]>,
    /// IGTK subelement body.
    pub igtk: Option<&'a [u8]>,
}

/// Parses an FTE body whose MIC is `mic_len` octets (16 for AKMs 3, 4, 9;
/// 24 for AKM 13). `None` when the fixed fields do not fit; subelements past
/// a bad length are ignored, and an R0KH-ID longer than 48 octets is not kept.
pub fn parse_fte(body: &[u8], mic_len: usize) -> Option<Fte<'_>> {
    let fixed = 2usize.checked_add(mic_len)?.checked_add(64)?;
    if body.len() < fixed {
        return None;
    }
    let mic_control = le16(body, 0);
    let mic = &body[2..2 + mic_len];
    let mut anonce = [0u8; 32];
    anonce.copy_from_slice(&body[2 + mic_len..2 + mic_len + 32]);
    let mut snonce = [0u8; 32];
    snonce.copy_from_slice(&body[2 + mic_len + 32..fixed]);
    let mut f = Fte {
        mic_control,
        mic,
        mic_offset: 2,
        anonce,
        snonce,
        r1kh_id: None,
        r0kh_id: None,
        gtk: None,
        igtk: None,
    };
    for (id, sub) in elements(&body[fixed..]) {
        match id {
            fte_sub::R1KH_ID => f.r1kh_id = sub.try_into().ok(),
            fte_sub::R0KH_ID if (1..=48).contains(&sub.len()) => f.r0kh_id = Some(sub),
            fte_sub::GTK => f.gtk = Some(sub),
            fte_sub::IGTK => f.igtk = Some(sub),
            _ => {}
        }
    }
    Some(f)
}

/// The first element with ID `id` in `ies`, header included (ID, Length,
/// body), as FT MIC computations take them (IEEE 802.11-2020 13.8.4).
pub fn raw_element(ies: &[u8], id: u8) -> Option<&[u8]> {
    let mut rest = ies;
    while let [eid, len, tail @ ..] = rest {
        let n = usize::from(*len);
        let body = tail.get(..n)?;
        let whole = &rest[..2 + body.len()];
        if *eid == id {
            return Some(whole);
        }
        rest = &tail[n..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RSNE body from `../shared/captures/wpa2-psk-linksys.cap` message 2:
    /// CCMP group and pairwise, PSK, capabilities 0x0028.
    const LINKSYS_RSN: &str = "0100000fac040100000fac040100000fac022800";
    /// RSNE body from `../shared/captures/n-02.cap` message 2: PSK-SHA256, MFPC.
    const N02_RSN: &str = "0100000fac040100000fac040100000fac068c00";
    /// WPA1 element body from `../shared/captures/wpa-psk-linksys.cap` message 2.
    const LINKSYS_WPA: &str = "0050f20101000050f20201000050f20201000050f202";

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    #[test]
    fn real_rsn_elements() {
        let i = RsnInfo::parse(&h(LINKSYS_RSN)).unwrap();
        assert_eq!(i.version, 1);
        assert_eq!(i.group_cipher, suite::CCMP);
        assert_eq!(i.pairwise.as_slice(), &[suite::CCMP]);
        assert_eq!(i.akms.as_slice(), &[suite::AKM_PSK]);
        assert_eq!(i.capabilities, 0x0028);
        assert_eq!(i.pmkid_count, 0);
        assert_eq!(i.group_mgmt_cipher, None);

        let i = RsnInfo::parse(&h(N02_RSN)).unwrap();
        assert_eq!(i.akms.first(), Some(suite::AKM_PSK_SHA256));
        assert_eq!(i.capabilities & CAP_MFPC, CAP_MFPC);
        assert_eq!(i.capabilities & CAP_MFPR, 0);
    }

    #[test]
    fn real_wpa_element() {
        let i = RsnInfo::parse_wpa_vendor(&h(LINKSYS_WPA)).unwrap();
        assert_eq!(i.group_cipher, suite::WPA_TKIP);
        assert_eq!(i.pairwise.as_slice(), &[suite::WPA_TKIP]);
        assert_eq!(i.akms.as_slice(), &[suite::WPA_AKM_PSK]);
        assert_eq!(
            RsnInfo::parse_wpa_vendor(&h(LINKSYS_RSN)),
            Err(RsnError::NotWpa)
        );
        // Through the element walker, as it sits in EAPOL key data.
        let mut ie = vec![ID_VENDOR, 0x16];
        ie.extend_from_slice(&h(LINKSYS_WPA));
        assert_eq!(wpa_vendor_element(&ie), Some(&h(LINKSYS_WPA)[..]));
        assert_eq!(rsn_element(&ie), None);
    }

    #[test]
    fn full_rsn_with_pmkid_and_group_mgmt() {
        let mut b = h("0100000fac04 0200000fac04000fac02 0100000fac06 c000 0100"
            .replace(' ', "")
            .as_str());
        b.extend_from_slice(&[0x11; 16]);
        b.extend_from_slice(&h("000fac06"));
        let i = RsnInfo::parse(&b).unwrap();
        assert_eq!(i.pairwise.as_slice(), &[suite::CCMP, suite::TKIP]);
        assert_eq!(i.capabilities, CAP_MFPR | CAP_MFPC);
        assert_eq!(i.pmkid_count, 1);
        assert_eq!(i.pmkid, Some([0x11; 16]));
        assert_eq!(i.group_mgmt_cipher, Some(suite::BIP_CMAC_128));
        // Trailing bytes for a future version are ignored.
        b.push(0x99);
        assert!(RsnInfo::parse(&b).is_ok());
    }

    #[test]
    fn defaults_when_fields_absent() {
        let i = RsnInfo::parse(&[1, 0]).unwrap();
        assert_eq!(i.group_cipher, suite::CCMP);
        assert_eq!(i.pairwise.as_slice(), &[suite::CCMP]);
        assert_eq!(i.akms.as_slice(), &[suite::AKM_8021X]);
        let i = RsnInfo::parse(&h("0100000fac02")).unwrap();
        assert_eq!(i.group_cipher, suite::TKIP);
        assert_eq!(i.pairwise.as_slice(), &[suite::CCMP]);
    }

    /// Every prefix of a full element parses or fails cleanly; prefixes that end
    /// between fields parse.
    #[test]
    fn every_truncation() {
        let b = h(LINKSYS_RSN);
        let boundaries = [2, 6, 12, 18, 20];
        for len in 0..=b.len() {
            let r = RsnInfo::parse(&b[..len]);
            assert_eq!(r.is_ok(), boundaries.contains(&len), "len {len}: {r:?}");
        }
        let w = h(LINKSYS_WPA);
        for len in 0..w.len() {
            let _ = RsnInfo::parse_wpa_vendor(&w[..len]);
        }
    }

    #[test]
    fn hostile_counts() {
        // Pairwise count 65535 with two suites present.
        let b = h("0100000fac04ffff000fac04000fac04");
        match RsnInfo::parse(&b) {
            Err(RsnError::Len(e)) => {
                // The pairwise list starts at offset 8 and needs 65535 suites.
                assert_eq!(e.layer, crate::wire::Layer::Rsn);
                assert_eq!((e.offset, e.required), (8, 65535 * 4));
                assert_eq!(e.len, b.len() - 8);
            }
            r => panic!("{r:?}"),
        }
        // AKM count 65535, PMKID count 65535.
        assert!(RsnInfo::parse(&h("0100000fac040100000fac04ffff")).is_err());
        assert!(RsnInfo::parse(&h("0100000fac040100000fac040100000fac020000ffff")).is_err());
        // More suites than kept: the count is remembered, the first four stored.
        let mut b = h("0100000fac040600");
        for t in 1..=6u8 {
            b.extend_from_slice(&[0x00, 0x0f, 0xac, t]);
        }
        let i = RsnInfo::parse(&b).unwrap();
        assert_eq!(i.pairwise.count(), 6);
        assert!(i.pairwise.is_truncated());
        assert_eq!(i.pairwise.as_slice().len(), MAX_SUITES);
        assert_eq!(i.pairwise.as_slice()[3], 0x000F_AC04);
        assert_eq!(RsnInfo::parse(&[2, 0]), Err(RsnError::Version(2)));
    }

    #[test]
    fn ft_elements() {
        assert_eq!(parse_mde(&[0x34, 0x12, 0x01]), Some([0x34, 0x12]));
        assert_eq!(parse_mde(&[0x34, 0x12]), None);
        // MIC control, MIC (16), ANonce, SNonce, R1KH-ID, R0KH-ID, GTK.
        let mut b = vec![0x00, 0x03];
        b.extend_from_slice(&[0xaa; 16]);
        b.extend_from_slice(&[0xa1; 32]);
        b.extend_from_slice(&[0x5e; 32]);
        b.extend_from_slice(&[1, 6, 2, 0, 0, 0, 0, 1]);
        b.extend_from_slice(&[3, 7]);
        b.extend_from_slice(b"ap1.lan");
        b.extend_from_slice(&[2, 3, 1, 2, 3]);
        let f = parse_fte(&b, 16).unwrap();
        assert_eq!(f.mic_control >> 8, 3);
        assert_eq!(f.mic, &[0xaa; 16]);
        assert_eq!((f.anonce, f.snonce), ([0xa1; 32], [0x5e; 32]));
        assert_eq!(f.r1kh_id, Some([2, 0, 0, 0, 0, 1]));
        assert_eq!(f.r0kh_id, Some(&b"ap1.lan"[..]));
        assert_eq!(f.gtk, Some(&[1u8, 2, 3][..]));
        assert_eq!(f.igtk, None);
        // A 24-octet MIC reads the nonces 8 octets later.
        assert_ne!(parse_fte(&b, 24).unwrap().anonce, [0xa1; 32]);
        for n in 0..b.len() {
            let _ = parse_fte(&b[..n], 16);
            let _ = parse_fte(&b[..n], 24);
        }
        assert!(parse_fte(&b, usize::MAX).is_none());
        let ies = [0, 1, b'x', 55, 2, 9, 9, 54, 3, 1, 2, 3];
        assert_eq!(raw_element(&ies, 55), Some(&[55u8, 2, 9, 9][..]));
        assert_eq!(raw_element(&ies, 54), Some(&[54u8, 3, 1, 2, 3][..]));
        assert_eq!(raw_element(&ies, 48), None);
        assert_eq!(raw_element(&ies[..9], 54), None);
    }

    #[test]
    fn element_walk() {
        let b = [0, 3, b'a', b'b', b'c', 48, 2, 1, 0, 7, 0, 221, 200, 1];
        let v: Vec<_> = elements(&b).collect();
        assert_eq!(v, vec![(0, &b"abc"[..]), (48, &[1u8, 0][..]), (7, &[][..])]);
        let mut it = elements(&b);
        it.by_ref().for_each(drop);
        assert_eq!(it.remainder(), &[221, 200, 1]);
        assert_eq!(ssid_from_elements(&b), Some(&b"abc"[..]));
        assert_eq!(ssid_from_elements(&[0, 0]), Some(&[][..]));
        assert_eq!(ssid_from_elements(&[0, 5, 1]), None);
        assert_eq!(ssid_from_elements(&[]), None);
        assert_eq!(rsn_element(&b), Some(&[1u8, 0][..]));
        for len in 0..b.len() {
            assert!(elements(&b[..len]).count() <= 3);
        }
    }
}
