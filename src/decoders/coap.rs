//! A checked view of one CoAP message (RFC 7252 §3), as Shelly's CoIoT sends
//! on UDP 5683.
//!
//! # Guarantees
//! [`CoapMessage::parse`] validates everything its fields use; it never
//! panics, keeps at most [`MAX_OPTIONS`] options (borrowed, not copied) and
//! reports a truncation with the bytes needed and the offset, after
//! etherparse's `LenError`. Option numbers are summed in `u32`, so a chain
//! of large deltas cannot overflow.
//!
//! Hand-written: the CoAP crates (`coap-lite`, `coap`) build owned messages
//! for endpoints and reject what a sniffer must still show (Shelly's own
//! code 0.30, a payload marker followed by nothing); this view is a page
//! of code and borrows from the datagram.

/// Options kept per message; a message with more is refused. A CoIoT
/// datagram carries 2–5 (Uri-Path ×2, 3332, 3412, 3420).
pub const MAX_OPTIONS: usize = 32;

/// The fixed header (RFC 7252 §3).
pub const HEADER_LEN: usize = 4;

/// Option numbers (RFC 7252 §5.10, and Shelly's CoIoT, "The CoIoT Protocol
/// for Shelly devices" rev 1.0: `COIOT_OPTION_BASE 3332`, step 8).
pub mod option {
    pub const URI_PATH: u32 = 11;
    pub const CONTENT_FORMAT: u32 = 12;
    pub const URI_QUERY: u32 = 15;
    /// `COIOT_OPTION_GLOBAL_DEVID` = N(0): `"<type>#<id>#<coiot version>"`.
    pub const COIOT_DEVID: u32 = 3332;
    /// `COIOT_OPTION_STATUS_VALIDITY` = N(10): how long the status holds.
    pub const COIOT_VALIDITY: u32 = 3412;
    /// `COIOT_OPTION_STATUS_SERIAL` = N(11): changes when the status does.
    pub const COIOT_SERIAL: u32 = 3420;
}

/// Message types (RFC 7252 §4.3).
pub mod mtype {
    pub const CON: u8 = 0;
    pub const NON: u8 = 1;
    pub const ACK: u8 = 2;
    pub const RST: u8 = 3;
}

/// Why bytes are not a CoAP message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoapError {
    /// `needed` bytes at `offset` for `what`, `have` present.
    Truncated {
        what: &'static str,
        offset: usize,
        needed: usize,
        have: usize,
    },
    /// Version other than 1.
    Version(u8),
    /// Token length 9–15 (reserved, §3).
    TokenLength(u8),
    /// Option delta or length nibble 15 outside the payload marker (§3.1).
    ReservedNibble { offset: usize },
    /// More than [`MAX_OPTIONS`] options.
    TooManyOptions,
}

/// One option, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoapOption<'a> {
    pub number: u32,
    pub value: &'a [u8],
}

impl CoapOption<'_> {
    /// The value as a big-endian unsigned integer (§3.2 `uint`, ≤ 4 bytes).
    pub fn uint(&self) -> Option<u32> {
        if self.value.len() > 4 {
            return None;
        }
        Some(
            self.value
                .iter()
                .fold(0u32, |a, &b| (a << 8) | u32::from(b)),
        )
    }
}

/// A parsed CoAP message borrowing the datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoapMessage<'a> {
    pub mtype: u8,
    /// `class << 5 | detail` (0.01 GET = 1, 2.05 Content = 69, Shelly's
    /// status publication 0.30 = 30).
    pub code: u8,
    pub message_id: u16,
    pub token: &'a [u8],
    pub options: Vec<CoapOption<'a>>,
    /// After the 0xFF marker (empty when there is none).
    pub payload: &'a [u8],
}

impl<'a> CoapMessage<'a> {
    pub fn parse(b: &'a [u8]) -> Result<CoapMessage<'a>, CoapError> {
        let trunc = |what, offset, needed| CoapError::Truncated {
            what,
            offset,
            needed,
            have: b.len().saturating_sub(offset),
        };
        let Some(&[b0, code, m0, m1]) = b.get(..HEADER_LEN) else {
            return Err(trunc("header", 0, HEADER_LEN));
        };
        if b0 >> 6 != 1 {
            return Err(CoapError::Version(b0 >> 6));
        }
        let tkl = b0 & 0x0f;
        if tkl > 8 {
            return Err(CoapError::TokenLength(tkl));
        }
        let mut at = HEADER_LEN;
        let token = b
            .get(at..at + usize::from(tkl))
            .ok_or(trunc("token", at, usize::from(tkl)))?;
        at += usize::from(tkl);
        let mut options = Vec::new();
        let mut number = 0u32;
        let mut payload: &[u8] = &[];
        while let Some(&first) = b.get(at) {
            if first == 0xff {
                payload = &b[at + 1..];
                break;
            }
            let start = at;
            at += 1;
            let delta = ext(b, &mut at, first >> 4, start, "option delta")?;
            let len = ext(b, &mut at, first & 0x0f, start, "option length")? as usize;
            let value = b.get(at..at + len).ok_or(trunc("option value", at, len))?;
            at += len;
            number += delta;
            if options.len() == MAX_OPTIONS {
                return Err(CoapError::TooManyOptions);
            }
            options.push(CoapOption { number, value });
        }
        Ok(CoapMessage {
            mtype: (b0 >> 4) & 0x3,
            code,
            message_id: u16::from_be_bytes([m0, m1]),
            token,
            options,
            payload,
        })
    }

    /// The first option numbered `n`.
    pub fn option(&self, n: u32) -> Option<&CoapOption<'a>> {
        self.options.iter().find(|o| o.number == n)
    }

    /// `/seg/seg` from the Uri-Path options (lossy UTF-8).
    pub fn uri_path(&self) -> String {
        let mut s = String::new();
        for o in self.options.iter().filter(|o| o.number == option::URI_PATH) {
            s.push('/');
            s.push_str(&String::from_utf8_lossy(o.value));
        }
        s
    }

    /// `c.dd` as RFC 7252 §12.1 writes codes.
    pub fn code_str(&self) -> String {
        format!("{}.{:02}", self.code >> 5, self.code & 0x1f)
    }

    /// Request codes are class 0 (0.00 is the empty message).
    pub fn is_request(&self) -> bool {
        self.code >> 5 == 0 && self.code != 0
    }
}

/// An extended delta or length (§3.1): nibble 13 → one more byte + 13,
/// 14 → two more bytes + 269, 15 → reserved.
fn ext(
    b: &[u8],
    at: &mut usize,
    nib: u8,
    start: usize,
    what: &'static str,
) -> Result<u32, CoapError> {
    match nib {
        0..=12 => Ok(u32::from(nib)),
        13 => {
            let x = *b.get(*at).ok_or(CoapError::Truncated {
                what,
                offset: *at,
                needed: 1,
                have: 0,
            })?;
            *at += 1;
            Ok(u32::from(x) + 13)
        }
        14 => {
            let x = b.get(*at..*at + 2).ok_or(CoapError::Truncated {
                what,
                offset: *at,
                needed: 2,
                have: b.len().saturating_sub(*at),
            })?;
            *at += 2;
            Ok(u32::from(u16::from_be_bytes([x[0], x[1]])) + 269)
        }
        _ => Err(CoapError::ReservedNibble { offset: start }),
    }
}

/// Encodes a message (the setter side, for `synth` and tests). Options must
/// be sorted by number.
pub fn encode(
    mtype: u8,
    code: u8,
    message_id: u16,
    token: &[u8],
    options: &[(u32, &[u8])],
    payload: &[u8],
) -> Vec<u8> {
    let mut v = vec![0x40 | (mtype & 3) << 4 | (token.len().min(8) as u8), code];
    v.extend_from_slice(&message_id.to_be_bytes());
    v.extend_from_slice(&token[..token.len().min(8)]);
    let mut prev = 0u32;
    for &(n, val) in options {
        let delta = n.saturating_sub(prev);
        prev = n;
        let (dn, dx) = nibble(delta);
        let (ln, lx) = nibble(val.len() as u32);
        v.push(dn << 4 | ln);
        v.extend_from_slice(&dx);
        v.extend_from_slice(&lx);
        v.extend_from_slice(val);
    }
    if !payload.is_empty() {
        v.push(0xff);
        v.extend_from_slice(payload);
    }
    v
}

fn nibble(x: u32) -> (u8, Vec<u8>) {
    match x {
        0..=12 => (x as u8, vec![]),
        13..=268 => (13, vec![(x - 13) as u8]),
        _ => (
            14,
            ((x.min(65535 + 269) - 269) as u16).to_be_bytes().to_vec(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// aioshelly `COAP.request(ip, "s")` sends these bytes verbatim
    /// (aioshelly `block_device/coap.py`).
    const AIOSHELLY_CIT_S: &[u8] = b"\x50\x01\x00\x0a\xb3cit\x01s\xff\x00";

    #[test]
    fn aioshelly_request() {
        let m = CoapMessage::parse(AIOSHELLY_CIT_S).unwrap();
        assert_eq!((m.mtype, m.code, m.message_id), (mtype::NON, 1, 10));
        assert_eq!(m.uri_path(), "/cit/s");
        assert_eq!(m.payload, b"\x00");
        assert!(m.is_request());
        assert_eq!(m.code_str(), "0.01");
    }

    #[test]
    fn coiot_options_round_trip() {
        let devid = b"SHSW-1#A4CF12F45A1C#2";
        let opts: [(u32, &[u8]); 3] = [
            (option::COIOT_DEVID, devid),
            (option::COIOT_VALIDITY, &[0x0f, 0xa0]),
            (option::COIOT_SERIAL, &[0x2a]),
        ];
        let b = encode(mtype::NON, 30, 0x1234, b"tk", &opts, b"{\"G\":[]}");
        let m = CoapMessage::parse(&b).unwrap();
        assert_eq!(m.option(option::COIOT_DEVID).unwrap().value, devid);
        assert_eq!(m.option(option::COIOT_VALIDITY).unwrap().uint(), Some(4000));
        assert_eq!(m.option(option::COIOT_SERIAL).unwrap().uint(), Some(42));
        assert_eq!(m.token, b"tk");
        assert_eq!(m.payload, b"{\"G\":[]}");
        assert_eq!(m.code_str(), "0.30");
        // 3332 needs the two-byte extended delta (14): 3332 − 269.
        assert_eq!(b[6] >> 4, 14);
        assert_eq!(u16::from_be_bytes([b[7], b[8]]), 3332 - 269);
        // Every truncation is an error or a shorter valid message, never a panic.
        for n in 0..b.len() {
            match CoapMessage::parse(&b[..n]) {
                Ok(m) => assert!(m.payload.len() < 8 || m.options.len() < 3),
                Err(CoapError::Truncated { needed, .. }) => assert!(needed > 0),
                Err(e) => panic!("{n}: {e:?}"),
            }
        }
        assert!(matches!(
            CoapMessage::parse(&b[..2]),
            Err(CoapError::Truncated {
                what: "header",
                needed: 4,
                have: 2,
                ..
            })
        ));
    }

    #[test]
    fn malformed() {
        assert_eq!(
            CoapMessage::parse(&[0x80, 1, 0, 0]),
            Err(CoapError::Version(2))
        );
        assert_eq!(
            CoapMessage::parse(&[0x49, 1, 0, 0]),
            Err(CoapError::TokenLength(9))
        );
        assert_eq!(
            CoapMessage::parse(&[0x40, 1, 0, 0, 0xf1, 0]),
            Err(CoapError::ReservedNibble { offset: 4 })
        );
        assert_eq!(
            CoapMessage::parse(&[0x40, 1, 0, 0, 0x1f]),
            Err(CoapError::ReservedNibble { offset: 4 })
        );
        // Too many options.
        let mut b = vec![0x40, 1, 0, 0];
        b.extend(std::iter::repeat_n(0x00, MAX_OPTIONS + 1));
        assert_eq!(CoapMessage::parse(&b), Err(CoapError::TooManyOptions));
        // Largest deltas summed do not overflow.
        let mut b = vec![0x40, 1, 0, 0];
        for _ in 0..MAX_OPTIONS {
            b.extend([0xe0, 0xff, 0xff]);
        }
        let m = CoapMessage::parse(&b).unwrap();
        assert_eq!(m.options.last().unwrap().number, 32 * (65535 + 269));
        // Random bytes never panic.
        let mut x = 0x9e37_79b9u32;
        for n in 0..2000 {
            let g: Vec<u8> = (0..n % 64)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            let _ = CoapMessage::parse(&g);
        }
    }
}
