//! Radiotap header view (DLT 127, `LINKTYPE_IEEE802_11_RADIOTAP`).
//!
//! Spec: <https://www.radiotap.org/> "Radiotap header" (version, `it_len`, chained
//! presence words, namespaces) and the "Defined fields" pages, whose alignment and
//! size table is [`FIELDS`] below. All integers are little-endian; every field is
//! aligned to its natural alignment *relative to the start of the radiotap header*.
//!
//! # What [`Radiotap::new_checked`] guarantees
//! - `it_len` is at least 8 and within the buffer, so [`Radiotap::len`] is always a
//!   valid start for the 802.11 frame.
//! - Every presence word is walked (bit 31 chains another word), bounded by `it_len`
//!   and by [`MAX_PRESENCE_WORDS`]. Bit 29 switches to the radiotap namespace (field
//!   numbering restarts at 0), bit 30 to a vendor namespace, whose data
//!   (OUI, sub-namespace, `skip_length`) lets us skip the vendor fields we do not know.
//!   A `skip_length` running past `it_len` is [`RadiotapError::VendorSkipBeyondHeader`].
//! - A set bit whose size we cannot know (bits 32 and up of the radiotap namespace)
//!   ends the field walk: what was parsed is kept, [`Radiotap::truncated_fields`] is
//!   set, and no later field is read at a guessed offset. (The `radiotap` crate goes
//!   on and misreads every later field; see `wire/mod.rs`.)
//! - Bit 28 (TLVs) ends the fixed fields; the rest of the header is a TLV list
//!   (type u16, length u16, data padded to 4) reachable through [`Radiotap::tlvs`].
//! - When a field repeats (a second radiotap namespace, as per-antenna reports do),
//!   the first occurrence is the one the accessors return.
//!
//! After `parse` returns `Ok`, no accessor panics, and nothing allocates: field
//! offsets live in a fixed array inside the view.

use thiserror::Error;

use super::{Layer, LenError, le16, le32};

/// The fixed part: version, pad, `it_len`, first presence word.
pub const MIN_HEADER_LEN: usize = 8;

/// Cap on chained presence words. `it_len` already bounds the walk (a word is 4
/// bytes of a header of at most 65535); this cap keeps a hostile header from costing
/// 16k iterations. Real drivers emit fewer than ten (one per antenna plus two).
pub const MAX_PRESENCE_WORDS: usize = 64;

/// Flags field (bit 1): the frame ends with a 4-byte FCS.
pub const FLAG_FCS_AT_END: u8 = 0x10;
/// Flags field: padding between the 802.11 header and the payload (to 32 bits).
pub const FLAG_DATA_PAD: u8 = 0x20;
/// Flags field: the frame failed its FCS check.
pub const FLAG_BAD_FCS: u8 = 0x40;

/// Presence bit numbers of the radiotap namespace (radiotap.org "Defined fields").
pub mod bit {
    pub const TSFT: usize = 0;
    pub const FLAGS: usize = 1;
    pub const RATE: usize = 2;
    pub const CHANNEL: usize = 3;
    pub const FHSS: usize = 4;
    pub const DBM_ANTSIGNAL: usize = 5;
    pub const DBM_ANTNOISE: usize = 6;
    pub const LOCK_QUALITY: usize = 7;
    pub const TX_ATTENUATION: usize = 8;
    pub const DB_TX_ATTENUATION: usize = 9;
    pub const DBM_TX_POWER: usize = 10;
    pub const ANTENNA: usize = 11;
    pub const DB_ANTSIGNAL: usize = 12;
    pub const DB_ANTNOISE: usize = 13;
    pub const RX_FLAGS: usize = 14;
    pub const TX_FLAGS: usize = 15;
    pub const RTS_RETRIES: usize = 16;
    pub const DATA_RETRIES: usize = 17;
    pub const XCHANNEL: usize = 18;
    pub const MCS: usize = 19;
    pub const AMPDU_STATUS: usize = 20;
    pub const VHT: usize = 21;
    pub const TIMESTAMP: usize = 22;
    pub const HE: usize = 23;
    pub const HE_MU: usize = 24;
    pub const HE_MU_OTHER_USER: usize = 25;
    pub const ZERO_LENGTH_PSDU: usize = 26;
    pub const L_SIG: usize = 27;
    /// The rest of the header is a TLV list (EHT, U-SIG, ...).
    pub const TLV: usize = 28;
    /// The next presence word is in the radiotap namespace (numbering restarts).
    pub const RADIOTAP_NAMESPACE: usize = 29;
    /// The next presence word is in a vendor namespace.
    pub const VENDOR_NAMESPACE: usize = 30;
    /// Another presence word follows.
    pub const EXT: usize = 31;
}

/// (alignment, size) of radiotap fields 0..=27, radiotap.org "Defined fields".
#[rustfmt::skip]
pub const FIELDS: [(u8, u8); 28] = [
    (8, 8),  //  0 TSFT
    (1, 1),  //  1 Flags
    (1, 1),  //  2 Rate
    (2, 4),  //  3 Channel: freq u16, flags u16
    (1, 2),  //  4 FHSS
    (1, 1),  //  5 dBm antenna signal
    (1, 1),  //  6 dBm antenna noise
    (2, 2),  //  7 Lock quality
    (2, 2),  //  8 TX attenuation
    (2, 2),  //  9 dB TX attenuation
    (1, 1),  // 10 dBm TX power
    (1, 1),  // 11 Antenna
    (1, 1),  // 12 dB antenna signal
    (1, 1),  // 13 dB antenna noise
    (2, 2),  // 14 RX flags
    (2, 2),  // 15 TX flags
    (1, 1),  // 16 RTS retries
    (1, 1),  // 17 data retries
    (4, 8),  // 18 XChannel
    (1, 3),  // 19 MCS: known, flags, index
    (4, 8),  // 20 A-MPDU status
    (2, 12), // 21 VHT
    (8, 12), // 22 timestamp
    (2, 12), // 23 HE
    (2, 12), // 24 HE-MU
    (2, 6),  // 25 HE-MU-other-user
    (1, 1),  // 26 0-length PSDU
    (2, 4),  // 27 L-SIG
];

/// The vendor namespace field: OUI(3), sub-namespace(1), `skip_length` u16.
const VENDOR_NS_ALIGN: usize = 2;
const VENDOR_NS_LEN: usize = 6;

/// Why a radiotap header was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum RadiotapError {
    #[error("radiotap: {0}")]
    TooShort(LenError),
    #[error("radiotap: version {0}, only 0 is defined")]
    BadVersion(u8),
    #[error("radiotap: it_len {0} is below the 8-byte minimum")]
    LengthTooSmall(u16),
    #[error("radiotap: it_len {it_len} runs beyond the {buf_len} bytes captured")]
    LengthBeyondBuffer { it_len: usize, buf_len: usize },
    #[error("radiotap: presence word {index} runs beyond it_len {it_len}")]
    PresenceBeyondHeader { index: usize, it_len: usize },
    #[error("radiotap: more than {MAX_PRESENCE_WORDS} presence words")]
    TooManyPresenceWords,
    #[error(
        "radiotap: vendor namespace at offset {offset} skips {skip} bytes, beyond it_len {it_len}"
    )]
    VendorSkipBeyondHeader {
        offset: usize,
        skip: usize,
        it_len: usize,
    },
    #[error("radiotap: field {bit} at offset {offset} ({size} bytes) runs beyond it_len {it_len}")]
    FieldBeyondHeader {
        bit: u8,
        offset: usize,
        size: usize,
        it_len: usize,
    },
}

/// A checked radiotap header: the header bytes and the offset of every known field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Radiotap<'a> {
    /// Exactly `it_len` bytes.
    header: &'a [u8],
    /// Offset of fields 0..=27 from the header start; 0 means absent (no field can
    /// start before byte 8).
    offsets: [u16; 28],
    /// Start of the TLV list (bit 28), 0 if none.
    tlv_offset: u16,
    truncated_fields: bool,
}

/// Rounds `pos` up to a multiple of `align` (a power of two). `pos` is at most
/// 65535 + 8, so this cannot overflow.
#[inline]
fn align_up(pos: usize, align: usize) -> usize {
    (pos + align - 1) & !(align - 1)
}

impl<'a> Radiotap<'a> {
    /// Checks the header at the start of `buf` and records where each field sits.
    pub fn new_checked(buf: &'a [u8]) -> Result<Radiotap<'a>, RadiotapError> {
        if buf.len() < MIN_HEADER_LEN {
            return Err(RadiotapError::TooShort(LenError {
                layer: Layer::Radiotap,
                offset: 0,
                required: MIN_HEADER_LEN,
                len: buf.len(),
            }));
        }
        let version = buf[0];
        if version != 0 {
            return Err(RadiotapError::BadVersion(version));
        }
        let it_len16 = le16(buf, 2);
        let it_len = usize::from(it_len16);
        if it_len < MIN_HEADER_LEN {
            return Err(RadiotapError::LengthTooSmall(it_len16));
        }
        let Some(header) = buf.get(..it_len) else {
            return Err(RadiotapError::LengthBeyondBuffer {
                it_len,
                buf_len: buf.len(),
            });
        };

        // Pass 1: count the presence words, so we know where the data starts.
        let mut n_words = 1usize;
        loop {
            let word = le32(header, 4 + 4 * (n_words - 1));
            if word & (1 << bit::EXT) == 0 {
                break;
            }
            if n_words == MAX_PRESENCE_WORDS {
                return Err(RadiotapError::TooManyPresenceWords);
            }
            n_words += 1;
            if 4 + 4 * n_words > it_len {
                return Err(RadiotapError::PresenceBeyondHeader {
                    index: n_words - 1,
                    it_len,
                });
            }
        }

        let mut rt = Radiotap {
            header,
            offsets: [0; 28],
            tlv_offset: 0,
            truncated_fields: false,
        };

        // Pass 2: walk the fields in presence-bit order.
        let mut pos = 4 + 4 * n_words;
        // Index of the current word within its namespace (0 = bits 0..31).
        let mut ns_word = 0usize;
        let mut in_vendor = false;
        for w in 0..n_words {
            let word = le32(header, 4 + 4 * w);
            if !in_vendor {
                // The set bits among 0..28, in ascending order (a typical
                // header sets a handful of the 28: no loop over the others).
                let mut bits = word & ((1u32 << FIELDS.len()) - 1);
                while bits != 0 {
                    let b = bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    let Some(&(align, size)) = FIELDS.get(b) else {
                        break;
                    };
                    if ns_word != 0 {
                        // Bit 32 + b: not defined, so its size is unknown.
                        rt.truncated_fields = true;
                        return Ok(rt);
                    }
                    let (align, size) = (usize::from(align), usize::from(size));
                    let offset = align_up(pos, align);
                    let end = offset + size;
                    if end > it_len {
                        return Err(RadiotapError::FieldBeyondHeader {
                            bit: b as u8,
                            offset,
                            size,
                            it_len,
                        });
                    }
                    if let Some(slot) = rt.offsets.get_mut(b)
                        && *slot == 0
                    {
                        // offset < it_len <= u16::MAX
                        *slot = offset as u16;
                    }
                    pos = end;
                }
                if word & (1 << bit::TLV) != 0 {
                    if ns_word != 0 {
                        rt.truncated_fields = true;
                    } else {
                        let offset = align_up(pos, 4);
                        if offset < it_len {
                            rt.tlv_offset = offset as u16;
                        }
                    }
                    return Ok(rt);
                }
            }
            // In a vendor namespace, bits 0..28 are the vendor's fields: their data
            // was skipped as a whole when the namespace was entered.
            let to_radiotap = word & (1 << bit::RADIOTAP_NAMESPACE) != 0;
            let to_vendor = word & (1 << bit::VENDOR_NAMESPACE) != 0;
            match (to_radiotap, to_vendor) {
                (true, true) => {
                    // Invalid per spec: we cannot know which namespace follows.
                    rt.truncated_fields = true;
                    return Ok(rt);
                }
                (true, false) => {
                    in_vendor = false;
                    ns_word = 0;
                }
                (false, true) => {
                    let offset = align_up(pos, VENDOR_NS_ALIGN);
                    let data = offset + VENDOR_NS_LEN;
                    if data > it_len {
                        return Err(RadiotapError::FieldBeyondHeader {
                            bit: bit::VENDOR_NAMESPACE as u8,
                            offset,
                            size: VENDOR_NS_LEN,
                            it_len,
                        });
                    }
                    let skip = usize::from(le16(header, offset + 4));
                    if data + skip > it_len {
                        return Err(RadiotapError::VendorSkipBeyondHeader {
                            offset,
                            skip,
                            it_len,
                        });
                    }
                    pos = data + skip;
                    in_vendor = true;
                    ns_word = 0;
                }
                (false, false) => ns_word += 1,
            }
        }
        Ok(rt)
    }

    /// `it_len`: the 802.11 frame starts here.
    #[allow(clippy::len_without_is_empty, reason = "a header is never empty")]
    pub fn len(&self) -> usize {
        self.header.len()
    }

    /// The header bytes (`it_len` of them).
    pub fn as_bytes(&self) -> &'a [u8] {
        self.header
    }

    /// The first presence word.
    pub fn present(&self) -> u32 {
        // parse checked it_len >= 8
        self.header
            .get(4..8)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u32::from_le_bytes)
    }

    /// True when a bit of unknown size ended the field walk early: fields after it
    /// (if any) were not read. The frame start ([`Radiotap::len`]) is still exact.
    pub fn truncated_fields(&self) -> bool {
        self.truncated_fields
    }

    /// Whether field `b` (radiotap namespace, 0..=27) was found.
    pub fn has(&self, b: usize) -> bool {
        self.offsets.get(b).is_some_and(|&o| o != 0)
    }

    fn field<const N: usize>(&self, b: usize) -> Option<&'a [u8; N]> {
        let off = usize::from(*self.offsets.get(b)?);
        if off == 0 {
            return None;
        }
        self.header.get(off..off.checked_add(N)?)?.try_into().ok()
    }

    /// TSFT: MAC timestamp in microseconds.
    pub fn tsft(&self) -> Option<u64> {
        self.field::<8>(bit::TSFT).map(|b| u64::from_le_bytes(*b))
    }

    /// The Flags field; see `FLAG_*`.
    pub fn flags(&self) -> Option<u8> {
        self.field::<1>(bit::FLAGS).map(|b| b[0])
    }

    /// `Some(true)` if Flags says the frame ends with an FCS, `None` if there is no
    /// Flags field (the header says nothing about the FCS).
    pub fn fcs_present(&self) -> Option<bool> {
        self.flags().map(|f| f & FLAG_FCS_AT_END != 0)
    }

    /// Flags says the frame failed its FCS check.
    pub fn bad_fcs(&self) -> bool {
        self.flags().is_some_and(|f| f & FLAG_BAD_FCS != 0)
    }

    /// Flags says there is padding between the 802.11 header and the body.
    pub fn data_pad(&self) -> bool {
        self.flags().is_some_and(|f| f & FLAG_DATA_PAD != 0)
    }

    /// Legacy rate in units of 500 kb/s.
    pub fn rate_500kbps(&self) -> Option<u8> {
        self.field::<1>(bit::RATE).map(|b| b[0])
    }

    /// Channel: (frequency MHz, channel flags).
    pub fn channel(&self) -> Option<(u16, u16)> {
        self.field::<4>(bit::CHANNEL)
            .map(|b| (le16(b, 0), le16(b, 2)))
    }

    /// Channel frequency in MHz.
    pub fn channel_freq(&self) -> Option<u16> {
        self.channel().map(|(f, _)| f)
    }

    /// Antenna signal in dBm.
    pub fn dbm_signal(&self) -> Option<i8> {
        self.field::<1>(bit::DBM_ANTSIGNAL)
            .map(|b| i8::from_le_bytes(*b))
    }

    /// Antenna noise in dBm.
    pub fn dbm_noise(&self) -> Option<i8> {
        self.field::<1>(bit::DBM_ANTNOISE)
            .map(|b| i8::from_le_bytes(*b))
    }

    /// Antenna index.
    pub fn antenna(&self) -> Option<u8> {
        self.field::<1>(bit::ANTENNA).map(|b| b[0])
    }

    /// RX flags.
    pub fn rx_flags(&self) -> Option<u16> {
        self.field::<2>(bit::RX_FLAGS).map(|b| le16(b, 0))
    }

    /// MCS field (802.11n): (known, flags, MCS index).
    pub fn mcs(&self) -> Option<(u8, u8, u8)> {
        self.field::<3>(bit::MCS).map(|b| (b[0], b[1], b[2]))
    }

    /// VHT field (802.11ac), raw: known u16, flags, bandwidth, `mcs_nss[4]`, coding,
    /// group id, partial AID u16.
    pub fn vht(&self) -> Option<&'a [u8; 12]> {
        self.field::<12>(bit::VHT)
    }

    /// The HE field (802.11ax) is present.
    pub fn he_present(&self) -> bool {
        self.has(bit::HE)
    }

    /// The HE field, raw: six u16 data words.
    pub fn he(&self) -> Option<&'a [u8; 12]> {
        self.field::<12>(bit::HE)
    }

    /// The TLV list (bit 28): EHT, U-SIG and later fields. Iteration stops at the
    /// first TLV that runs past `it_len`.
    pub fn tlvs(&self) -> Tlvs<'a> {
        let rest = if self.tlv_offset == 0 {
            &[][..]
        } else {
            self.header
                .get(usize::from(self.tlv_offset)..)
                .unwrap_or(&[])
        };
        Tlvs { rest }
    }
}

/// Iterator over radiotap TLVs: (type, data). Data is padded to 4 bytes in the header.
#[derive(Debug, Clone)]
pub struct Tlvs<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Tlvs<'a> {
    type Item = (u16, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let hdr = self.rest.get(..4)?;
        let (ty, len) = (le16(hdr, 0), usize::from(le16(hdr, 2)));
        let Some(data) = self.rest.get(4..4 + len) else {
            self.rest = &[];
            return None;
        };
        self.rest = self.rest.get(align_up(4 + len, 4)..).unwrap_or(&[]);
        Some((ty, data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const EXT: u32 = 1 << 31;
    const RT_NS: u32 = 1 << 29;
    const VND_NS: u32 = 1 << 30;

    fn b(n: usize) -> u32 {
        1 << n
    }

    /// Builds a header: version 0, it_len, the presence words, then `data` as is
    /// (the caller places the alignment padding).
    fn hdr(words: &[u32], data: &[u8]) -> Vec<u8> {
        let len = 4 + 4 * words.len() + data.len();
        let mut v = vec![0, 0];
        v.extend_from_slice(&(len as u16).to_le_bytes());
        for w in words {
            v.extend_from_slice(&w.to_le_bytes());
        }
        v.extend_from_slice(data);
        v
    }

    /// Calls every accessor, for the no-panic tests.
    fn touch(rt: &Radiotap<'_>) {
        let _ = (rt.len(), rt.present(), rt.truncated_fields(), rt.tsft());
        let _ = (rt.flags(), rt.fcs_present(), rt.bad_fcs(), rt.data_pad());
        let _ = (rt.rate_500kbps(), rt.channel(), rt.channel_freq());
        let _ = (rt.dbm_signal(), rt.dbm_noise(), rt.antenna(), rt.rx_flags());
        let _ = (rt.mcs(), rt.vht(), rt.he_present(), rt.he());
        assert!(rt.tlvs().count() <= rt.len());
        for b in 0..40 {
            let _ = rt.has(b);
        }
    }

    /// TSFT, Flags, Rate, Channel, dBm signal: the common Linux layout.
    fn basic() -> Vec<u8> {
        let w =
            b(bit::TSFT) | b(bit::FLAGS) | b(bit::RATE) | b(bit::CHANNEL) | b(bit::DBM_ANTSIGNAL);
        let mut d = Vec::new();
        d.extend_from_slice(&0x0102_0304_0506_0708u64.to_le_bytes()); // @8
        d.push(FLAG_FCS_AT_END); // @16
        d.push(12); // @17 rate
        d.extend_from_slice(&2437u16.to_le_bytes()); // @18
        d.extend_from_slice(&0x00a0u16.to_le_bytes());
        d.push(0xd6); // @22: -42 dBm
        hdr(&[w], &d)
    }

    #[test]
    fn deconstruct_basic() {
        let h = basic();
        let rt = Radiotap::new_checked(&h).unwrap();
        assert_eq!(rt.len(), 23);
        assert_eq!(rt.tsft(), Some(0x0102_0304_0506_0708));
        assert_eq!(rt.flags(), Some(FLAG_FCS_AT_END));
        assert_eq!(rt.fcs_present(), Some(true));
        assert!(!rt.bad_fcs());
        assert_eq!(rt.rate_500kbps(), Some(12));
        assert_eq!(rt.channel(), Some((2437, 0x00a0)));
        assert_eq!(rt.channel_freq(), Some(2437));
        assert_eq!(rt.dbm_signal(), Some(-42));
        assert_eq!(rt.dbm_noise(), None);
        assert_eq!(rt.mcs(), None);
        assert!(!rt.truncated_fields());
        assert!(!rt.he_present());
        touch(&rt);
    }

    #[test]
    fn frame_follows_header_in_longer_buffer() {
        let mut h = basic();
        h.extend_from_slice(&[0x80, 0, 0, 0]);
        let rt = Radiotap::new_checked(&h).unwrap();
        assert_eq!(rt.len(), 23);
        assert_eq!(rt.as_bytes().len(), 23);
    }

    #[test]
    fn linux_layout_from_capture() {
        // testm1m2m3.pcap frame 1: Flags, Rate, Channel, dBm signal, Antenna, RX flags.
        let h = hex::decode("000012002e48000000029e09a000e9010000").unwrap();
        let rt = Radiotap::new_checked(&h).unwrap();
        assert_eq!(rt.len(), 18);
        assert_eq!(rt.fcs_present(), Some(false));
        assert_eq!(rt.rate_500kbps(), Some(2));
        assert_eq!(rt.channel(), Some((2462, 0x00a0)));
        assert_eq!(rt.dbm_signal(), Some(-23));
        assert_eq!(rt.antenna(), Some(1));
        assert_eq!(rt.rx_flags(), Some(0));
        assert_eq!(rt.tsft(), None);
    }

    #[test]
    fn channel_after_flags_is_aligned() {
        // Flags @8, pad @9, Channel @10.
        let h = hdr(
            &[b(bit::FLAGS) | b(bit::CHANNEL)],
            &[0x40, 0xee, 0x6c, 0x09, 0, 0],
        );
        let rt = Radiotap::new_checked(&h).unwrap();
        assert_eq!(rt.channel_freq(), Some(2412));
        assert!(rt.bad_fcs());
        assert_eq!(rt.fcs_present(), Some(false));
    }

    #[test]
    fn tsft_after_flags_is_aligned_to_8() {
        // Two words: Flags in the first radiotap namespace, then a second radiotap
        // namespace with TSFT and Flags. Data starts at 12: Flags @12, pad to 16,
        // TSFT @16, Flags @24.
        let mut d = vec![FLAG_FCS_AT_END, 0xee, 0xee, 0xee];
        d.extend_from_slice(&7u64.to_le_bytes());
        d.push(FLAG_BAD_FCS);
        let h = hdr(
            &[b(bit::FLAGS) | RT_NS | EXT, b(bit::TSFT) | b(bit::FLAGS)],
            &d,
        );
        let rt = Radiotap::new_checked(&h).unwrap();
        assert_eq!(rt.len(), 25);
        assert_eq!(rt.tsft(), Some(7));
        // First occurrence wins.
        assert_eq!(rt.flags(), Some(FLAG_FCS_AT_END));
        assert!(!rt.truncated_fields());
    }

    #[test]
    fn tsft_with_extended_bitmap_starts_at_16() {
        // Two words: data starts at 12, TSFT aligned to 16.
        let mut d = vec![0xee; 4];
        d.extend_from_slice(&99u64.to_le_bytes());
        let h = hdr(&[b(bit::TSFT) | EXT, 0], &d);
        let rt = Radiotap::new_checked(&h).unwrap();
        assert_eq!(rt.tsft(), Some(99));
    }

    #[test]
    fn three_words_per_antenna_namespaces() {
        // iwlwifi style: radiotap ns, then two more radiotap namespaces each with a
        // per-antenna signal and antenna index. Data @16.
        let h = hdr(
            &[
                b(bit::FLAGS) | b(bit::RATE) | b(bit::DBM_ANTSIGNAL) | RT_NS | EXT,
                b(bit::DBM_ANTSIGNAL) | b(bit::ANTENNA) | RT_NS | EXT,
                b(bit::DBM_ANTSIGNAL) | b(bit::ANTENNA),
            ],
            &[0x00, 2, 0xc0, 0xbf, 0, 0xc1, 1],
        );
        let rt = Radiotap::new_checked(&h).unwrap();
        assert_eq!(rt.len(), 23);
        assert_eq!(rt.flags(), Some(0));
        assert_eq!(rt.rate_500kbps(), Some(2));
        assert_eq!(rt.dbm_signal(), Some(-64));
        assert_eq!(rt.antenna(), Some(0));
        assert!(!rt.truncated_fields());
    }

    #[test]
    fn three_words_without_fields_in_the_extensions() {
        let h = hdr(&[b(bit::FLAGS) | EXT, EXT, 0], &[0x10]);
        let rt = Radiotap::new_checked(&h).unwrap();
        assert_eq!(rt.len(), 17);
        assert_eq!(rt.fcs_present(), Some(true));
        assert!(!rt.truncated_fields());
    }

    /// Flags, vendor namespace (5 bytes of vendor data), then radiotap namespace
    /// again with a dBm signal. Data starts at 16.
    fn vendor_then_radiotap(skip: u16) -> Vec<u8> {
        let mut d = vec![0x10, 0xee]; // Flags @16, pad @17
        d.extend_from_slice(&[0x00, 0x11, 0x22, 0x07]); // OUI, sub_ns @18
        d.extend_from_slice(&skip.to_le_bytes()); // skip_length @22
        d.extend_from_slice(&[0xaa; 5]); // vendor data @24..29
        d.push(0xb0); // dBm signal @29: -80
        hdr(
            &[
                b(bit::FLAGS) | VND_NS | EXT,
                b(0) | b(3) | RT_NS | EXT,
                b(bit::DBM_ANTSIGNAL),
            ],
            &d,
        )
    }

    #[test]
    fn vendor_namespace_then_radiotap_namespace() {
        let h = vendor_then_radiotap(5);
        let rt = Radiotap::new_checked(&h).unwrap();
        assert_eq!(rt.len(), 30);
        assert_eq!(rt.flags(), Some(0x10));
        assert_eq!(rt.dbm_signal(), Some(-80));
        assert!(!rt.truncated_fields());
    }

    #[test]
    fn bad_vendor_skip_length_is_an_error() {
        // Skipping 6 ends exactly at it_len: the signal after it is what overruns.
        assert!(matches!(
            Radiotap::new_checked(&vendor_then_radiotap(6)),
            Err(RadiotapError::FieldBeyondHeader { bit: 5, .. })
        ));
        for skip in [7u16, 100, 0xffff] {
            let h = vendor_then_radiotap(skip);
            assert_eq!(
                Radiotap::new_checked(&h),
                Err(RadiotapError::VendorSkipBeyondHeader {
                    offset: 18,
                    skip: usize::from(skip),
                    it_len: 30
                })
            );
        }
    }

    #[test]
    fn vendor_namespace_header_beyond_it_len() {
        let h = hdr(&[VND_NS | EXT, 0], &[0, 0x11, 0x22]);
        assert!(matches!(
            Radiotap::new_checked(&h),
            Err(RadiotapError::FieldBeyondHeader { bit: 30, .. })
        ));
    }

    #[test]
    fn unknown_bit_stops_the_walk() {
        // Bit 32 (unknown) in the extended word, then a radiotap namespace with a
        // signal: it must not be read at a guessed offset.
        let h = hdr(
            &[
                b(bit::FLAGS) | EXT,
                b(0) | RT_NS | EXT,
                b(bit::DBM_ANTSIGNAL),
            ],
            &[0x10, 0x77, 0x88, 0x99],
        );
        let rt = Radiotap::new_checked(&h).unwrap();
        assert!(rt.truncated_fields());
        assert_eq!(rt.flags(), Some(0x10));
        assert_eq!(rt.dbm_signal(), None);
        assert_eq!(rt.len(), h.len());
    }

    #[test]
    fn both_namespace_bits_stop_the_walk() {
        let h = hdr(
            &[b(bit::FLAGS) | RT_NS | VND_NS | EXT, b(bit::RATE)],
            &[0x10, 4],
        );
        let rt = Radiotap::new_checked(&h).unwrap();
        assert!(rt.truncated_fields());
        assert_eq!(rt.flags(), Some(0x10));
        assert_eq!(rt.rate_500kbps(), None);
    }

    #[test]
    fn mcs_vht_he() {
        // MCS @8..11, pad @11, VHT @12..24, HE @24..36.
        let mut d = vec![0x07, 0x01, 7, 0xee];
        d.extend_from_slice(&[1; 12]);
        d.extend_from_slice(&[2; 12]);
        let h = hdr(&[b(bit::MCS) | b(bit::VHT) | b(bit::HE)], &d);
        let rt = Radiotap::new_checked(&h).unwrap();
        assert_eq!(rt.mcs(), Some((0x07, 0x01, 7)));
        assert_eq!(rt.vht(), Some(&[1; 12]));
        assert!(rt.he_present());
        assert_eq!(rt.he(), Some(&[2; 12]));
        assert_eq!(rt.len(), 36);
    }

    #[test]
    fn tlvs_end_the_fixed_fields() {
        // Flags @8, TLVs aligned @12: U-SIG (33) with 5 bytes padded to 8, EHT (32)
        // with 4 bytes.
        let mut d = vec![0x10, 0, 0, 0];
        d.extend_from_slice(&33u16.to_le_bytes());
        d.extend_from_slice(&5u16.to_le_bytes());
        d.extend_from_slice(&[9, 9, 9, 9, 9, 0, 0, 0]);
        d.extend_from_slice(&32u16.to_le_bytes());
        d.extend_from_slice(&4u16.to_le_bytes());
        d.extend_from_slice(&[8; 4]);
        let h = hdr(&[b(bit::FLAGS) | b(bit::TLV)], &d);
        let rt = Radiotap::new_checked(&h).unwrap();
        assert_eq!(rt.flags(), Some(0x10));
        let tlvs: Vec<_> = rt.tlvs().collect();
        assert_eq!(tlvs, vec![(33, &[9u8; 5][..]), (32, &[8u8; 4][..])]);
        // A TLV running past it_len ends the iteration.
        let mut bad = h.clone();
        bad[14] = 0xff;
        assert_eq!(Radiotap::new_checked(&bad).unwrap().tlvs().count(), 0);
    }

    #[test]
    fn field_beyond_header() {
        let h = hdr(&[b(bit::TSFT)], &[0; 4]);
        assert_eq!(
            Radiotap::new_checked(&h),
            Err(RadiotapError::FieldBeyondHeader {
                bit: 0,
                offset: 8,
                size: 8,
                it_len: 12
            })
        );
    }

    #[test]
    fn header_errors() {
        assert_eq!(
            Radiotap::new_checked(&[0, 0, 8, 0]),
            Err(RadiotapError::TooShort(LenError {
                layer: Layer::Radiotap,
                offset: 0,
                required: 8,
                len: 4
            }))
        );
        assert_eq!(
            Radiotap::new_checked(&[1, 0, 8, 0, 0, 0, 0, 0]),
            Err(RadiotapError::BadVersion(1))
        );
        assert_eq!(
            Radiotap::new_checked(&[0, 0, 7, 0, 0, 0, 0, 0]),
            Err(RadiotapError::LengthTooSmall(7))
        );
        assert_eq!(
            Radiotap::new_checked(&[0, 0, 9, 0, 0, 0, 0, 0]),
            Err(RadiotapError::LengthBeyondBuffer {
                it_len: 9,
                buf_len: 8
            })
        );
        assert_eq!(
            Radiotap::new_checked(&[0, 0, 8, 0, 0, 0, 0, 0x80]),
            Err(RadiotapError::PresenceBeyondHeader {
                index: 1,
                it_len: 8
            })
        );
        let ok = Radiotap::new_checked(&[0, 0, 8, 0, 0, 0, 0, 0]).unwrap();
        assert_eq!(ok.len(), 8);
        assert_eq!(ok.flags(), None);
        assert_eq!(ok.fcs_present(), None);
    }

    #[test]
    fn presence_word_cap() {
        let words = vec![EXT; MAX_PRESENCE_WORDS + 1];
        let h = hdr(&words, &[]);
        assert_eq!(
            Radiotap::new_checked(&h),
            Err(RadiotapError::TooManyPresenceWords)
        );
        let mut words = vec![EXT; MAX_PRESENCE_WORDS];
        *words.last_mut().unwrap() = 0;
        assert!(Radiotap::new_checked(&hdr(&words, &[])).is_ok());
    }

    #[test]
    fn every_truncation_never_panics() {
        for h in [basic(), vendor_then_radiotap(5), vendor_then_radiotap(9)] {
            for len in 0..=h.len() {
                let cut = &h[..len];
                if let Ok(rt) = Radiotap::new_checked(cut) {
                    touch(&rt);
                }
                // And every it_len over the full buffer.
                let mut m = h.clone();
                m[2..4].copy_from_slice(&(len as u16).to_le_bytes());
                if let Ok(rt) = Radiotap::new_checked(&m) {
                    touch(&rt);
                }
            }
            // A cut before it_len is always refused.
            for len in 0..h.len() {
                assert!(Radiotap::new_checked(&h[..len]).is_err());
            }
        }
    }

    #[test]
    fn field_table_sizes_match_accessors() {
        assert_eq!(FIELDS[bit::TSFT], (8, 8));
        assert_eq!(FIELDS[bit::CHANNEL], (2, 4));
        assert_eq!(FIELDS[bit::MCS], (1, 3));
        assert_eq!(FIELDS[bit::VHT], (2, 12));
        assert_eq!(FIELDS[bit::HE], (2, 12));
        for (align, size) in FIELDS {
            assert!(align.is_power_of_two() && size > 0);
        }
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(rt) = Radiotap::new_checked(&data) {
                prop_assert!(rt.len() <= data.len());
                touch(&rt);
            }
        }

        #[test]
        fn random_bodies_after_valid_prefix_never_panic(
            words in proptest::collection::vec(any::<u32>(), 1..6),
            body in proptest::collection::vec(any::<u8>(), 0..120),
        ) {
            let h = hdr(&words, &body);
            if let Ok(rt) = Radiotap::new_checked(&h) {
                prop_assert_eq!(rt.len(), h.len());
                touch(&rt);
            }
        }
    }
}
