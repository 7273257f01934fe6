//! TKIP decryption of one MPDU and the Michael MIC (IEEE 802.11-2020 12.5.2).
//!
//! Pure functions of key + frame bytes, safe to run on any worker thread.
//!
//! - Key mixing (12.5.2.5): phase 1 mixes the temporal key (TK), the transmitter
//!   address (TA) and the high 32 bits of the TKIP sequence counter (IV32) into
//!   the 80-bit TTAK; phase 2 mixes TTAK, TK and the low 16 bits (IV16) into the
//!   128-bit per-packet WEP seed, which keys RC4.
//! - Encapsulation (12.5.2.2, Figure 12-11): MAC header, IV/Key ID (4 octets:
//!   TSC1, `WEPSeed[1]`, TSC0, Key ID octet), Extended IV (TSC2..TSC5), the
//!   RC4-encrypted MPDU data (which carries the Michael MIC at the end of the
//!   MSDU) and the encrypted 4-octet ICV.
//! - ICV (12.3.2.2, WEP): CRC-32 of the plaintext, transmitted least significant
//!   octet first.
//! - Michael (12.5.2.3): a 64-bit MIC over DA, SA, priority, three zero octets and
//!   the MSDU data. It covers the reassembled MSDU, so it is checked by the caller
//!   after defragmentation with [`verify_michael`]; [`decrypt_mpdu`] checks only
//!   the per-MPDU ICV.
//!
//! Frames are hostile: nothing here panics on any input, and the only allocation
//! is the caller's `out` buffer, which grows to at most the frame size.

use rc4::{KeyInit, Rc4, StreamCipher};

/// Length of IV + Extended IV after the MAC header (12.5.2.2).
pub const TKIP_HDR_LEN: usize = 8;
/// Length of the WEP ICV trailer (12.3.2.2).
pub const ICV_LEN: usize = 4;
/// Length of the Michael MIC at the end of a TKIP MSDU (12.5.2.3).
pub const MICHAEL_LEN: usize = 8;

/// The fields of the 8-byte TKIP IV/Extended IV header the receiver acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TkipHdr {
    /// 48-bit TKIP sequence counter, TSC0 least significant.
    pub tsc: u64,
    /// Key ID, bits 6–7 of the fourth octet.
    pub key_id: u8,
}

/// Why an MPDU did not decrypt. Hot-path error: no allocation, no payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TkipError {
    /// The frame is shorter than its MAC header + IV/Extended IV + ICV.
    #[error("frame too short for TKIP")]
    TooShort,
    /// The Ext IV bit (0x20 of the key ID octet) is clear: WEP, not TKIP.
    #[error("Ext IV bit clear: not a TKIP header")]
    NoExtIv,
    /// The decrypted ICV did not match: wrong key, or the frame was altered.
    #[error("TKIP ICV mismatch")]
    IcvFailure,
}

/// The TKIP S-box (12.5.2.5.1, Table 12-1 / Figure 12-13), as 16-bit entries:
/// entry `i` is `(2·s) << 8 | (3·s)` in GF(2^8), with `s` the AES S-box of `i`.
/// The second table of the standard is this one with its bytes swapped.
#[rustfmt::skip]
const SBOX: [u16; 256] = [
    0xC6A5, 0xF884, 0xEE99, 0xF68D, 0xFF0D, 0xD6BD, 0xDEB1, 0x9154,
    0x6050, 0x0203, 0xCEA9, 0x567D, 0xE719, 0xB562, 0x4DE6, 0xEC9A,
    0x8F45, 0x1F9D, 0x8940, 0xFA87, 0xEF15, 0xB2EB, 0x8EC9, 0xFB0B,
    0x41EC, 0xB367, 0x5FFD, 0x45EA, 0x23BF, 0x53F7, 0xE496, 0x9B5B,
    0x75C2, 0xE11C, 0x3DAE, 0x4C6A, 0x6C5A, 0x7E41, 0xF502, 0x834F,
    0x685C, 0x51F4, 0xD134, 0xF908, 0xE293, 0xAB73, 0x6253, 0x2A3F,
    0x080C, 0x9552, 0x4665, 0x9D5E, 0x3028, 0x37A1, 0x0A0F, 0x2FB5,
    0x0E09, 0x2436, 0x1B9B, 0xDF3D, 0xCD26, 0x4E69, 0x7FCD, 0xEA9F,
    0x121B, 0x1D9E, 0x5874, 0x342E, 0x362D, 0xDCB2, 0xB4EE, 0x5BFB,
    0xA4F6, 0x764D, 0xB761, 0x7DCE, 0x527B, 0xDD3E, 0x5E71, 0x1397,
    0xA6F5, 0xB968, 0x0000, 0xC12C, 0x4060, 0xE31F, 0x79C8, 0xB6ED,
    0xD4BE, 0x8D46, 0x67D9, 0x724B, 0x94DE, 0x98D4, 0xB0E8, 0x854A,
    0xBB6B, 0xC52A, 0x4FE5, 0xED16, 0x86C5, 0x9AD7, 0x6655, 0x1194,
    0x8ACF, 0xE910, 0x0406, 0xFE81, 0xA0F0, 0x7844, 0x25BA, 0x4BE3,
    0xA2F3, 0x5DFE, 0x80C0, 0x058A, 0x3FAD, 0x21BC, 0x7048, 0xF104,
    0x63DF, 0x77C1, 0xAF75, 0x4263, 0x2030, 0xE51A, 0xFD0E, 0xBF6D,
    0x814C, 0x1814, 0x2635, 0xC32F, 0xBEE1, 0x35A2, 0x88CC, 0x2E39,
    0x9357, 0x55F2, 0xFC82, 0x7A47, 0xC8AC, 0xBAE7, 0x322B, 0xE695,
    0xC0A0, 0x1998, 0x9ED1, 0xA37F, 0x4466, 0x547E, 0x3BAB, 0x0B83,
    0x8CCA, 0xC729, 0x6BD3, 0x283C, 0xA779, 0xBCE2, 0x161D, 0xAD76,
    0xDB3B, 0x6456, 0x744E, 0x141E, 0x92DB, 0x0C0A, 0x486C, 0xB8E4,
    0x9F5D, 0xBD6E, 0x43EF, 0xC4A6, 0x39A8, 0x31A4, 0xD337, 0xF28B,
    0xD532, 0x8B43, 0x6E59, 0xDAB7, 0x018C, 0xB164, 0x9CD2, 0x49E0,
    0xD8B4, 0xACFA, 0xF307, 0xCF25, 0xCAAF, 0xF48E, 0x47E9, 0x1018,
    0x6FD5, 0xF088, 0x4A6F, 0x5C72, 0x3824, 0x57F1, 0x73C7, 0x9751,
    0xCB23, 0xA17C, 0xE89C, 0x3E21, 0x96DD, 0x61DC, 0x0D86, 0x0F85,
    0xE090, 0x7C42, 0x71C4, 0xCCAA, 0x90D8, 0x0605, 0xF701, 0x1C12,
    0xC2A3, 0x6A5F, 0xAEF9, 0x69D0, 0x1791, 0x9958, 0x3A27, 0x27B9,
    0xD938, 0xEB13, 0x2BB3, 0x2233, 0xD2BB, 0xA970, 0x0789, 0x33A7,
    0x2DB6, 0x3C22, 0x1592, 0xC920, 0x8749, 0xAAFF, 0x5078, 0xA57A,
    0x038F, 0x59F8, 0x0980, 0x1A17, 0x65DA, 0xD731, 0x84C6, 0xD0B8,
    0x82C3, 0x29B0, 0x5A77, 0x1E11, 0x7BCB, 0xA8FC, 0x6DD6, 0x2C3A,
];

/// The S-box function `S[]` of 12.5.2.5.1 on a 16-bit value.
#[inline]
fn s(v: u16) -> u16 {
    SBOX[usize::from(v as u8)] ^ SBOX[usize::from(v >> 8)].swap_bytes()
}

/// Little-endian 16-bit word of the TK at `i` (`Mk16(TK[i+1], TK[i])`).
#[inline]
fn tk16(tk: &[u8; 16], i: usize) -> u16 {
    u16::from_le_bytes([tk[i], tk[i + 1]])
}

/// Phase 1 key mixing (12.5.2.5.2): TK, TA and IV32 into the 80-bit TTAK.
/// Depends only on the high 32 bits of the TSC, so callers may cache it.
pub fn phase1(tk: &[u8; 16], ta: [u8; 6], iv32: u32) -> [u16; 5] {
    let mut p = [
        iv32 as u16,
        (iv32 >> 16) as u16,
        u16::from_le_bytes([ta[0], ta[1]]),
        u16::from_le_bytes([ta[2], ta[3]]),
        u16::from_le_bytes([ta[4], ta[5]]),
    ];
    for i in 0..8u16 {
        let j = 2 * usize::from(i & 1);
        p[0] = p[0].wrapping_add(s(p[4] ^ tk16(tk, j)));
        p[1] = p[1].wrapping_add(s(p[0] ^ tk16(tk, 4 + j)));
        p[2] = p[2].wrapping_add(s(p[1] ^ tk16(tk, 8 + j)));
        p[3] = p[3].wrapping_add(s(p[2] ^ tk16(tk, 12 + j)));
        p[4] = p[4].wrapping_add(s(p[3] ^ tk16(tk, j))).wrapping_add(i);
    }
    p
}

/// Phase 2 key mixing (12.5.2.5.3): TTAK, TK and IV16 into the 128-bit WEP seed
/// (the RC4 key). Its first three octets are the transmitted WEP IV.
pub fn phase2(tk: &[u8; 16], ttak: &[u16; 5], iv16: u16) -> [u8; 16] {
    let mut ppk = [
        ttak[0],
        ttak[1],
        ttak[2],
        ttak[3],
        ttak[4],
        ttak[4].wrapping_add(iv16),
    ];
    ppk[0] = ppk[0].wrapping_add(s(ppk[5] ^ tk16(tk, 0)));
    ppk[1] = ppk[1].wrapping_add(s(ppk[0] ^ tk16(tk, 2)));
    ppk[2] = ppk[2].wrapping_add(s(ppk[1] ^ tk16(tk, 4)));
    ppk[3] = ppk[3].wrapping_add(s(ppk[2] ^ tk16(tk, 6)));
    ppk[4] = ppk[4].wrapping_add(s(ppk[3] ^ tk16(tk, 8)));
    ppk[5] = ppk[5].wrapping_add(s(ppk[4] ^ tk16(tk, 10)));
    ppk[0] = ppk[0].wrapping_add((ppk[5] ^ tk16(tk, 12)).rotate_right(1));
    ppk[1] = ppk[1].wrapping_add((ppk[0] ^ tk16(tk, 14)).rotate_right(1));
    ppk[2] = ppk[2].wrapping_add(ppk[1].rotate_right(1));
    ppk[3] = ppk[3].wrapping_add(ppk[2].rotate_right(1));
    ppk[4] = ppk[4].wrapping_add(ppk[3].rotate_right(1));
    ppk[5] = ppk[5].wrapping_add(ppk[4].rotate_right(1));

    let [hi, lo] = iv16.to_be_bytes();
    let mut seed = [0u8; 16];
    seed[0] = hi;
    seed[1] = (hi | 0x20) & 0x7f;
    seed[2] = lo;
    seed[3] = ((ppk[5] ^ tk16(tk, 0)) >> 1) as u8;
    for (dst, w) in seed[4..].chunks_exact_mut(2).zip(ppk) {
        dst.copy_from_slice(&w.to_le_bytes());
    }
    seed
}

/// The per-packet RC4 key for `tsc` (both mixing phases).
pub fn rc4_key(tk: &[u8; 16], ta: [u8; 6], tsc: u64) -> [u8; 16] {
    phase2(tk, &phase1(tk, ta, (tsc >> 16) as u32), tsc as u16)
}

fn rc4_apply(key: &[u8; 16], buf: &mut [u8]) {
    // RC4 accepts keys of 1..=256 bytes; 16 always fits.
    let mut rc4 = Rc4::new_from_slice(key).expect("16-byte RC4 key");
    rc4.apply_keystream(buf);
}

/// Parses the 8-byte IV/Extended IV after the MAC header (12.5.2.2):
/// TSC1, `WEPSeed[1]`, TSC0, Key ID octet (Ext IV 0x20, key ID in bits 6–7),
/// TSC2, TSC3, TSC4, TSC5.
pub fn tkip_header(frame: &[u8], hdr_len: usize) -> Result<TkipHdr, TkipError> {
    if hdr_len < 24 {
        return Err(TkipError::TooShort);
    }
    let h = hdr_len
        .checked_add(TKIP_HDR_LEN)
        .and_then(|end| frame.get(hdr_len..end))
        .ok_or(TkipError::TooShort)?;
    if h[3] & 0x20 == 0 {
        return Err(TkipError::NoExtIv);
    }
    let tsc = u64::from(h[2])
        | u64::from(h[0]) << 8
        | u64::from(h[4]) << 16
        | u64::from(h[5]) << 24
        | u64::from(h[6]) << 32
        | u64::from(h[7]) << 40;
    Ok(TkipHdr {
        tsc,
        key_id: h[3] >> 6,
    })
}

/// Decrypts one TKIP MPDU and checks its ICV.
///
/// `tk` is the 16-byte temporal encryption key (the first half of the 32-byte
/// TKIP TK), `ta` the transmitter address (A2). On success `out` holds the
/// decrypted MPDU data without the ICV (cleared first, capacity reused); for an
/// unfragmented MSDU its last 8 octets are the Michael MIC, which the caller
/// checks with [`verify_michael`]. On any error `out` is empty.
pub fn decrypt_mpdu(
    tk: &[u8; 16],
    ta: [u8; 6],
    frame: &[u8],
    hdr_len: usize,
    out: &mut Vec<u8>,
) -> Result<TkipHdr, TkipError> {
    out.clear();
    let hdr = tkip_header(frame, hdr_len)?;
    let body = &frame[hdr_len + TKIP_HDR_LEN..];
    if body.len() < ICV_LEN {
        return Err(TkipError::TooShort);
    }
    out.extend_from_slice(body);
    rc4_apply(&rc4_key(tk, ta, hdr.tsc), out);
    let data_len = out.len() - ICV_LEN;
    let icv = u32::from_le_bytes([
        out[data_len],
        out[data_len + 1],
        out[data_len + 2],
        out[data_len + 3],
    ]);
    if crc32fast::hash(&out[..data_len]) != icv {
        out.clear();
        return Err(TkipError::IcvFailure);
    }
    out.truncate(data_len);
    Ok(hdr)
}

/// Builds a TKIP-protected MPDU: `header` (the MAC header, Protected bit set by
/// the caller), the IV/Extended IV for `tsc` / `key_id`, and the RC4-encrypted
/// `plaintext_with_mic` + ICV. For tests and the synthetic frame generator.
pub fn encrypt_mpdu(
    tk: &[u8; 16],
    ta: [u8; 6],
    header: &[u8],
    tsc: u64,
    key_id: u8,
    plaintext_with_mic: &[u8],
) -> Vec<u8> {
    let key = rc4_key(tk, ta, tsc);
    let t = tsc.to_le_bytes();
    let mut frame =
        Vec::with_capacity(header.len() + TKIP_HDR_LEN + plaintext_with_mic.len() + ICV_LEN);
    frame.extend_from_slice(header);
    frame.extend_from_slice(&[
        key[0],
        key[1],
        key[2],
        0x20 | (key_id & 0x3) << 6,
        t[2],
        t[3],
        t[4],
        t[5],
    ]);
    let body_start = frame.len();
    frame.extend_from_slice(plaintext_with_mic);
    frame.extend_from_slice(&crc32fast::hash(plaintext_with_mic).to_le_bytes());
    rc4_apply(&key, &mut frame[body_start..]);
    frame
}

/// Michael state (12.5.2.3.3), fed a byte stream without allocating.
struct Michael {
    l: u32,
    r: u32,
    pending: [u8; 4],
    n: usize,
}

impl Michael {
    fn new(key: &[u8; 8]) -> Michael {
        Michael {
            l: u32::from_le_bytes([key[0], key[1], key[2], key[3]]),
            r: u32::from_le_bytes([key[4], key[5], key[6], key[7]]),
            pending: [0; 4],
            n: 0,
        }
    }

    /// One word through the block function `b` (Figure 12-12).
    #[inline]
    fn word(&mut self, m: u32) {
        let (mut l, mut r) = (self.l ^ m, self.r);
        r ^= l.rotate_left(17);
        l = l.wrapping_add(r);
        r ^= ((l & 0xff00_ff00) >> 8) | ((l & 0x00ff_00ff) << 8);
        l = l.wrapping_add(r);
        r ^= l.rotate_left(3);
        l = l.wrapping_add(r);
        r ^= l.rotate_right(2);
        l = l.wrapping_add(r);
        self.l = l;
        self.r = r;
    }

    fn update(&mut self, mut data: &[u8]) {
        while self.n != 0 {
            let Some((&b, rest)) = data.split_first() else {
                return;
            };
            self.push(b);
            data = rest;
        }
        let mut words = data.chunks_exact(4);
        for w in &mut words {
            self.word(u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
        }
        for &b in words.remainder() {
            self.push(b);
        }
    }

    fn push(&mut self, b: u8) {
        self.pending[self.n] = b;
        self.n += 1;
        if self.n == 4 {
            self.n = 0;
            self.word(u32::from_le_bytes(self.pending));
        }
    }

    /// Pads with 0x5a and 4..=7 zero octets to a multiple of 4, returns L || R.
    fn finish(mut self) -> [u8; 8] {
        self.push(0x5a);
        while self.n != 0 {
            self.push(0);
        }
        self.word(0);
        let mut mic = [0u8; 8];
        mic[..4].copy_from_slice(&self.l.to_le_bytes());
        mic[4..].copy_from_slice(&self.r.to_le_bytes());
        mic
    }
}

/// The Michael MIC (12.5.2.3) of an MSDU: over DA, SA, priority, three zero
/// octets (the MIC header, Figure 12-10) and `data`.
///
/// `key` is TK octets 16..24 for frames the authenticator sends
/// ([`crate::wpa::keys::TemporalKey::mic_from_ap`]) and 24..32 for frames it
/// receives (`mic_to_ap`); `priority` is the TID of a QoS data frame, else 0.
pub fn michael(key: &[u8; 8], da: [u8; 6], sa: [u8; 6], priority: u8, data: &[u8]) -> [u8; 8] {
    let mut m = Michael::new(key);
    m.update(&da);
    m.update(&sa);
    m.update(&[priority, 0, 0, 0]);
    m.update(data);
    m.finish()
}

/// Checks the Michael MIC at the end of a reassembled MSDU (see [`michael`]).
/// False if the MSDU is shorter than the MIC.
pub fn verify_michael(
    key: &[u8; 8],
    da: [u8; 6],
    sa: [u8; 6],
    priority: u8,
    msdu_with_mic: &[u8],
) -> bool {
    let Some(split) = msdu_with_mic.len().checked_sub(MICHAEL_LEN) else {
        return false;
    };
    let (data, mic) = msdu_with_mic.split_at(split);
    michael(key, da, sa, priority, data) == mic
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    fn arr<const N: usize>(s: &str) -> [u8; N] {
        h(s).try_into().unwrap()
    }

    /// Michael over a bare message, no MIC header.
    fn michael_raw(key: &[u8; 8], msg: &[u8]) -> [u8; 8] {
        let mut m = Michael::new(key);
        m.update(msg);
        m.finish()
    }

    /// IEEE 802.11-2020 J.6.2 (Michael test vectors), chained as the annex does.
    #[test]
    fn michael_annex_vectors() {
        let cases = [
            ("0000000000000000", "", "82925c1ca1d130b8"),
            ("82925c1ca1d130b8", "M", "434721ca40639b3f"),
            ("434721ca40639b3f", "Mi", "e8f9becae97e5d29"),
            ("e8f9becae97e5d29", "Mic", "90038fc6cf13c1db"),
            ("90038fc6cf13c1db", "Mich", "d55e100510128986"),
            ("d55e100510128986", "Michael", "0a942b124ecaa546"),
        ];
        for (key, msg, mic) in cases {
            assert_eq!(
                michael_raw(&arr(key), msg.as_bytes()).to_vec(),
                h(mic),
                "{msg:?}"
            );
        }
    }

    #[test]
    fn michael_streaming_matches_one_shot() {
        let key = arr("d55e100510128986");
        let data: Vec<u8> = (0..=255u8).collect();
        let da = [1, 2, 3, 4, 5, 6];
        let sa = [7, 8, 9, 10, 11, 12];
        let mut hdr = Vec::new();
        hdr.extend_from_slice(&da);
        hdr.extend_from_slice(&sa);
        hdr.extend_from_slice(&[3, 0, 0, 0]);
        for len in 0..data.len() {
            let mut whole = hdr.clone();
            whole.extend_from_slice(&data[..len]);
            let mic = michael(&key, da, sa, 3, &data[..len]);
            assert_eq!(mic, michael_raw(&key, &whole));
            // Uneven chunking.
            let mut m = Michael::new(&key);
            for c in whole.chunks(3) {
                m.update(c);
            }
            assert_eq!(m.finish(), mic);
            let mut with_mic = data[..len].to_vec();
            with_mic.extend_from_slice(&mic);
            assert!(verify_michael(&key, da, sa, 3, &with_mic));
            assert!(!verify_michael(&key, da, sa, 2, &with_mic));
            assert!(!verify_michael(&key, sa, da, 3, &with_mic));
        }
        for len in 0..MICHAEL_LEN {
            assert!(!verify_michael(&key, da, sa, 0, &data[..len]));
        }
    }

    /// The S-box literal equals its definition from the AES S-box.
    #[test]
    fn sbox_matches_definition() {
        fn xtime(a: u8) -> u8 {
            (a << 1) ^ if a & 0x80 != 0 { 0x1b } else { 0 }
        }
        fn mul(mut a: u8, mut b: u8) -> u8 {
            let mut r = 0;
            while b != 0 {
                if b & 1 != 0 {
                    r ^= a;
                }
                a = xtime(a);
                b >>= 1;
            }
            r
        }
        for x in 0..=255u8 {
            let inv = (1..=255u8).find(|&y| mul(x, y) == 1).unwrap_or(0);
            let aes = 0x63
                ^ inv
                ^ inv.rotate_left(1)
                ^ inv.rotate_left(2)
                ^ inv.rotate_left(3)
                ^ inv.rotate_left(4);
            let want = u16::from(xtime(aes)) << 8 | u16::from(xtime(aes) ^ aes);
            assert_eq!(SBOX[usize::from(x)], want, "entry {x:#04x}");
        }
    }

    /// TKIP mixing test vectors (IEEE 802.11i TGi key-mixing vectors #1..#8, as
    /// reproduced in the standard's TKIP test-vector annex).
    #[test]
    fn mixing_annex_vectors() {
        /// TK, TA, IV32, IV16, TTAK (phase 1), RC4 key (phase 2).
        type Case = (&'static str, &'static str, u32, u16, [u16; 5], &'static str);
        #[rustfmt::skip]
        let cases: [Case; 8] = [
            ("00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F", "10 22 33 44 55 66", 0x0000_0000, 0x0000,
             [0x3DD2, 0x016E, 0x76F4, 0x8697, 0xB2E8], "00 20 00 33 EA 8D 2F 60 CA 6D 13 74 23 4A 66 0B"),
            ("00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F", "10 22 33 44 55 66", 0x0000_0000, 0x0001,
             [0x3DD2, 0x016E, 0x76F4, 0x8697, 0xB2E8], "00 20 01 90 FF DC 31 43 89 A9 D9 D0 74 FD 20 AA"),
            ("63 89 3B 25 08 40 B8 AE 0B D0 FA 7E 61 D2 78 3E", "64 F2 EA ED DC 25", 0x20DC_FD43, 0xFFFF,
             [0x7C67, 0x49D7, 0x9724, 0xB5E9, 0xB4F1], "FF 7F FF 93 81 0F C6 E5 8F 5D D3 26 25 15 44 CE"),
            ("63 89 3B 25 08 40 B8 AE 0B D0 FA 7E 61 D2 78 3E", "64 F2 EA ED DC 25", 0x20DC_FD44, 0x0000,
             [0x5A5D, 0x73A8, 0xA859, 0x2EC1, 0xDC8B], "00 20 00 49 8C A4 71 FC FB FA A1 6E 36 10 F0 05"),
            ("98 3A 16 EF 4F AC B3 51 AA 9E CC 27 1D 73 09 E2", "50 9C 4B 17 27 D9", 0xF0A4_10FC, 0x058C,
             [0xF2DF, 0xEBB1, 0x88D3, 0x5923, 0xA07C], "05 25 8C F4 D8 51 52 F4 D9 AF 1A 64 F1 D0 70 21"),
            ("98 3A 16 EF 4F AC B3 51 AA 9E CC 27 1D 73 09 E2", "50 9C 4B 17 27 D9", 0xF0A4_10FC, 0x058D,
             [0xF2DF, 0xEBB1, 0x88D3, 0x5923, 0xA07C], "05 25 8D 09 F8 15 43 B7 6A 59 6F C2 C6 73 8B 30"),
            ("C8 AD C1 6A 8B 4D DA 3B 4D D5 B6 54 38 35 9B 05", "94 5E 24 4E 4D 6E", 0x8B15_73B7, 0x30F8,
             [0xEFF1, 0x3F38, 0xA364, 0x60A9, 0x76F3], "30 30 F8 65 0D A0 73 EA 61 4E A8 F4 74 EE 03 19"),
            ("C8 AD C1 6A 8B 4D DA 3B 4D D5 B6 54 38 35 9B 05", "94 5E 24 4E 4D 6E", 0x8B15_73B7, 0x30F9,
             [0xEFF1, 0x3F38, 0xA364, 0x60A9, 0x76F3], "30 30 F9 31 55 CE 29 34 37 CC 76 71 27 16 AB 8F"),
        ];
        for (tk, ta, iv32, iv16, ttak, key) in cases {
            let tk: [u8; 16] = arr(tk);
            let ta: [u8; 6] = arr(ta);
            let p1 = phase1(&tk, ta, iv32);
            assert_eq!(p1, ttak, "phase 1, iv32 {iv32:#x}");
            assert_eq!(
                phase2(&tk, &p1, iv16).to_vec(),
                h(key),
                "phase 2, iv16 {iv16:#x}"
            );
            let tsc = u64::from(iv32) << 16 | u64::from(iv16);
            assert_eq!(rc4_key(&tk, ta, tsc).to_vec(), h(key));
        }
    }

    const TK: [u8; 16] = [
        0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
        0x0f,
    ];
    const TA: [u8; 6] = [0x10, 0x22, 0x33, 0x44, 0x55, 0x66];

    /// A non-QoS data frame, FromDS, Protected; A2 = `TA`.
    fn header() -> Vec<u8> {
        h("08 42 00 00 01 02 03 04 05 06 10 22 33 44 55 66 21 22 23 24 25 26 50 00")
    }

    fn sample_frame(tsc: u64, key_id: u8) -> (Vec<u8>, Vec<u8>) {
        let mic_key = arr("d55e100510128986");
        let mut msdu: Vec<u8> = h("aa aa 03 00 00 00 08 00");
        msdu.extend(0..60u8);
        let mic = michael(
            &mic_key,
            [1, 2, 3, 4, 5, 6],
            [0x21, 0x22, 0x23, 0x24, 0x25, 0x26],
            0,
            &msdu,
        );
        msdu.extend_from_slice(&mic);
        (encrypt_mpdu(&TK, TA, &header(), tsc, key_id, &msdu), msdu)
    }

    #[test]
    fn header_layout() {
        // TGi vector #6 "transmitted as 8D 25 05 <key id> FC 10 A4 F0".
        let tk = arr("98 3A 16 EF 4F AC B3 51 AA 9E CC 27 1D 73 09 E2");
        let ta = arr("50 9C 4B 17 27 D9");
        let f = encrypt_mpdu(&tk, ta, &header(), 0xF0A4_10FC_058D, 2, b"x");
        assert_eq!(&f[24..32], &h("05 25 8D A0 FC 10 A4 F0")[..]);
        let hdr = tkip_header(&f, 24).unwrap();
        assert_eq!(
            hdr,
            TkipHdr {
                tsc: 0xF0A4_10FC_058D,
                key_id: 2
            }
        );
    }

    #[test]
    fn round_trip() {
        let mic_key = arr("d55e100510128986");
        for (tsc, key_id) in [
            (0, 0),
            (1, 1),
            (0xffff, 2),
            (0x1_0000, 3),
            ((1 << 48) - 1, 0),
        ] {
            let (f, msdu) = sample_frame(tsc, key_id);
            let mut out = vec![0xaa; 5];
            let hdr = decrypt_mpdu(&TK, TA, &f, 24, &mut out).unwrap();
            assert_eq!(hdr, TkipHdr { tsc, key_id });
            assert_eq!(out, msdu);
            assert!(verify_michael(
                &mic_key,
                [1, 2, 3, 4, 5, 6],
                [0x21, 0x22, 0x23, 0x24, 0x25, 0x26],
                0,
                &out
            ));
        }
    }

    #[test]
    fn bad_icv() {
        let (f, _) = sample_frame(7, 0);
        let mut out = Vec::new();
        // Any flipped body byte (data, MIC or ICV) breaks the ICV.
        for i in 32..f.len() {
            let mut t = f.clone();
            t[i] ^= 0x80;
            assert_eq!(
                decrypt_mpdu(&TK, TA, &t, 24, &mut out),
                Err(TkipError::IcvFailure),
                "byte {i}"
            );
            assert!(out.is_empty());
        }
        // Wrong TSC, TA or key: a different RC4 key stream.
        let mut t = f.clone();
        t[26] ^= 1;
        assert_eq!(
            decrypt_mpdu(&TK, TA, &t, 24, &mut out),
            Err(TkipError::IcvFailure)
        );
        let mut ta = TA;
        ta[5] ^= 1;
        assert_eq!(
            decrypt_mpdu(&TK, ta, &f, 24, &mut out),
            Err(TkipError::IcvFailure)
        );
        let mut tk = TK;
        tk[0] ^= 1;
        assert_eq!(
            decrypt_mpdu(&tk, TA, &f, 24, &mut out),
            Err(TkipError::IcvFailure)
        );
    }

    #[test]
    fn header_errors() {
        let (f, _) = sample_frame(7, 0);
        let mut no_ext = f.clone();
        no_ext[27] &= !0x20;
        assert_eq!(tkip_header(&no_ext, 24), Err(TkipError::NoExtIv));
        let mut out = Vec::new();
        assert_eq!(
            decrypt_mpdu(&TK, TA, &no_ext, 24, &mut out),
            Err(TkipError::NoExtIv)
        );
        assert_eq!(tkip_header(&f, 23), Err(TkipError::TooShort));
        assert_eq!(tkip_header(&f, usize::MAX), Err(TkipError::TooShort));
    }

    #[test]
    fn every_truncation() {
        let (f, _) = sample_frame(0x1234_5678, 1);
        let mut out = Vec::new();
        for len in 0..f.len() {
            let r = decrypt_mpdu(&TK, TA, &f[..len], 24, &mut out);
            if len < 24 + 8 + 4 {
                assert_eq!(r, Err(TkipError::TooShort), "len {len}");
            } else {
                assert!(r.is_err(), "len {len}");
            }
            assert!(out.is_empty());
            for hdr_len in [0, 24, 26, 30, 32, 36, len, len + 1] {
                let _ = decrypt_mpdu(&TK, TA, &f[..len], hdr_len, &mut out);
            }
        }
        // Empty MPDU data: only IV and ICV.
        let e = encrypt_mpdu(&TK, TA, &header(), 3, 0, &[]);
        assert_eq!(e.len(), 36);
        assert!(decrypt_mpdu(&TK, TA, &e, 24, &mut out).is_ok());
        assert!(out.is_empty());
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(
            frame in proptest::collection::vec(any::<u8>(), 0..200),
            hdr_len in 0usize..64,
            key in any::<[u8; 8]>(),
            prio in any::<u8>(),
        ) {
            let mut out = Vec::new();
            let _ = tkip_header(&frame, hdr_len);
            if decrypt_mpdu(&TK, TA, &frame, hdr_len, &mut out).is_err() {
                prop_assert!(out.is_empty());
            }
            prop_assert!(out.len() <= frame.len());
            let _ = verify_michael(&key, TA, TA, prio, &frame);
        }

        #[test]
        fn random_round_trip(
            pt in proptest::collection::vec(any::<u8>(), 0..300),
            tsc in 0u64..(1 << 48),
            key_id in 0u8..4,
            tk in any::<[u8; 16]>(),
            ta in any::<[u8; 6]>(),
        ) {
            let f = encrypt_mpdu(&tk, ta, &header(), tsc, key_id, &pt);
            let mut out = Vec::new();
            prop_assert_eq!(decrypt_mpdu(&tk, ta, &f, 24, &mut out), Ok(TkipHdr { tsc, key_id }));
            prop_assert_eq!(out, pt);
        }
    }

    /// Real data: every unicast protected frame of `wpa-psk-linksys.cap` (WPA1
    /// TKIP, SSID `linksys`, passphrase `dictionary`; see captures/README.md)
    /// passes the ICV and Michael. The TK was derived from the capture's four-way
    /// handshake outside this module (PBKDF2 → PRF-512 → PTK octets 32..64); both
    /// directions are present, so both Michael key halves are exercised. Skipped
    /// when the shared captures directory is absent.
    #[test]
    fn real_capture_wpa_psk_linksys() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/captures/wpa-psk-linksys.cap"
        );
        let Ok(cap) = std::fs::read(path) else {
            eprintln!("skipped: {path} not found");
            return;
        };
        let tk = h("a2154ae0996fa95b211da18e85fd96495fb49785673387b9da9797aac7828f52");
        let tk16: [u8; 16] = tk[..16].try_into().unwrap();
        let from_ap: [u8; 8] = tk[16..24].try_into().unwrap();
        let to_ap: [u8; 8] = tk[24..32].try_into().unwrap();
        let addr = |f: &[u8], o: usize| -> [u8; 6] { f[o..o + 6].try_into().unwrap() };

        // pcap, link type 105 (bare 802.11, no FCS): 24-byte file header, then
        // 16-byte record headers.
        assert_eq!(&cap[20..24], &105u32.to_le_bytes());
        let (mut off, mut seen, mut out) = (24, [0usize; 2], Vec::new());
        while off + 16 <= cap.len() {
            let incl = u32::from_le_bytes(cap[off + 8..off + 12].try_into().unwrap()) as usize;
            let f = &cap[off + 16..off + 16 + incl];
            off += 16 + incl;
            // Protected non-QoS data frames (24-byte header) to a unicast DA.
            if f.len() < 24 || f[0] != 0x08 || f[1] & 0x40 == 0 {
                continue;
            }
            let (key, da, sa, dir) = match f[1] & 0x03 {
                0x02 => (&from_ap, addr(f, 4), addr(f, 16), 0),
                0x01 => (&to_ap, addr(f, 16), addr(f, 10), 1),
                _ => continue,
            };
            if da[0] & 1 == 1 {
                continue; // group-addressed: GTK, not derived here
            }
            let hdr = decrypt_mpdu(&tk16, addr(f, 10), f, 24, &mut out).unwrap();
            assert!(verify_michael(key, da, sa, 0, &out), "TSC {}", hdr.tsc);
            assert_eq!(&out[..6], &[0xaa, 0xaa, 0x03, 0, 0, 0]);
            seen[dir] += 1;
        }
        // 51 unicast protected frames (captures/README.md): 23 from the AP, 28 to it.
        assert_eq!(seen, [23, 28]);
    }
}
