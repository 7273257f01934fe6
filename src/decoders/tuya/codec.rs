//! The payload layer of each protocol version: what sits inside a frame and
//! how it is encrypted, in both directions.
//!
//! # Per version (tinytuya `core/XenonDevice.py` `_encode_message`,
//! `_decode_payload`; `core/message_helper.py`)
//!
//! | version | frame | client → device | device → client (after the return code) |
//! |---|---|---|---|
//! | 3.1 | 55AA, CRC | CONTROL: `"3.1"` ‖ 16-char MD5 signature ‖ base64(ECB(local key, JSON)); other commands: the JSON in clear | JSON in clear, or the CONTROL form (status pushes) |
//! | 3.2, 3.3 | 55AA, CRC | (`"3.x"` ‖ 12 bytes) ‖ ECB(local key, JSON); no header on [`Command::without_version_header`] commands | the same |
//! | 3.4 | 55AA, HMAC-SHA256 (session key) | ECB(session key, (`"3.4"` ‖ 12 bytes) ‖ JSON) | the same |
//! | 3.5 | 6699, AES-GCM (session key) | GCM((`"3.5"` ‖ 12 bytes) ‖ JSON) | GCM(return code ‖ (header) ‖ JSON) |
//!
//! Parenthesised parts are optional.
//!
//! 3.2 is 3.3 with the `device22` quirks (tinytuya `set_version`: "3.2
//! behaves like 3.3 with device22"). In 3.4 and 3.5 the negotiation frames
//! (commands 3, 4, 5) are sealed the same way but under the local key.
//!
//! # Return codes
//! tinytuya strips a 4-byte return code from every frame the device sends
//! (`unpack_message(..., no_retcode=False)`) and packs none in what the
//! client sends. So does [`decode`], with one safeguard per version so that
//! a device frame without one is not cut: 3.1 and 3.5 bodies that start
//! with `{` or a version header have none; 3.2–3.4 bodies have one exactly
//! when their length is 3 or 4 modulo 16 (ciphertext is whole blocks, the
//! version header 15 bytes).
//!
//! # Wrong keys
//! 3.4 and 3.5 frames carry an HMAC or a GCM tag under the key: a wrong key
//! fails there. 3.1–3.3 frames have only a CRC, which any key passes, so a
//! decryption counts as right only when the PKCS#7 padding is valid and the
//! plaintext is UTF-8 text without control characters (a wrong key passes
//! that with negligible probability). Either failure is
//! [`DecodeError::WrongKey`], never garbage output.

use zeroize::Zeroizing;

use super::command::Command;
use super::crypto::{self, CryptError, GCM_IV_LEN, TuyaKey};
use super::frame::{self, Format, Frame, RETCODE_LEN, Seal};

/// Protocol versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    V31,
    V32,
    V33,
    V34,
    V35,
}

/// Length of the `"3.x"` + 12 bytes version header (`PROTOCOL_3x_HEADER`).
pub const VERSION_HEADER_LEN: usize = 15;

impl Version {
    pub const ALL: [Version; 5] = [
        Version::V31,
        Version::V32,
        Version::V33,
        Version::V34,
        Version::V35,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Version::V31 => "3.1",
            Version::V32 => "3.2",
            Version::V33 => "3.3",
            Version::V34 => "3.4",
            Version::V35 => "3.5",
        }
    }

    /// `"3.3"` (also `"v3.3"`, `"3.30"`'s numeric reading is not accepted).
    pub fn parse(s: &str) -> Option<Version> {
        let s = s.trim();
        let s = s.strip_prefix('v').unwrap_or(s);
        Version::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// The version a payload's first three bytes name (`"3.3"`…).
    pub fn from_prefix(b: &[u8]) -> Option<Version> {
        let p = b.get(..3)?;
        Version::ALL
            .into_iter()
            .find(|v| v.as_str().as_bytes() == p)
    }

    /// `"3.x"` followed by 12 zero bytes (tinytuya `version_header`).
    pub fn header(self) -> [u8; VERSION_HEADER_LEN] {
        let mut h = [0u8; VERSION_HEADER_LEN];
        h[..3].copy_from_slice(self.as_str().as_bytes());
        h
    }

    /// Versions that negotiate a session key (3.4, 3.5).
    pub fn has_session(self) -> bool {
        self >= Version::V34
    }
}

/// Who sent a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    /// The app (tinytuya): no return code.
    Client,
    /// The device: a return code before the payload.
    Device,
}

// ---------------------------------------------------------------------------
// Encoding (the setter side: synthetic captures and tests)
// ---------------------------------------------------------------------------

/// What to put in one frame.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    pub version: Version,
    pub sender: Sender,
    pub seq: u32,
    pub cmd: Command,
    /// The application payload (JSON, or a nonce/HMAC in the negotiation).
    pub payload: &'a [u8],
    /// Device frames: the return code.
    pub retcode: u32,
    /// Add the `"3.x"` header. For client frames tinytuya decides this by
    /// command ([`Outgoing::client`] follows it); devices add it to status
    /// pushes. For 3.1 device frames it selects the encrypted form.
    pub version_header: bool,
    /// 3.5: the GCM IV.
    pub iv: [u8; GCM_IV_LEN],
}

impl<'a> Outgoing<'a> {
    /// A client frame as tinytuya's `_encode_message` builds it.
    pub fn client(version: Version, seq: u32, cmd: Command, payload: &'a [u8]) -> Outgoing<'a> {
        Outgoing {
            version,
            sender: Sender::Client,
            seq,
            cmd,
            payload,
            retcode: 0,
            version_header: !cmd.without_version_header(),
            iv: [0; GCM_IV_LEN],
        }
    }

    /// A device frame with return code 0 and no version header.
    pub fn device(version: Version, seq: u32, cmd: Command, payload: &'a [u8]) -> Outgoing<'a> {
        Outgoing {
            sender: Sender::Device,
            version_header: false,
            ..Outgoing::client(version, seq, cmd, payload)
        }
    }

    pub fn with_header(self, on: bool) -> Self {
        Outgoing {
            version_header: on,
            ..self
        }
    }

    pub fn with_iv(self, iv: [u8; GCM_IV_LEN]) -> Self {
        Outgoing { iv, ..self }
    }

    /// Seals the frame under `key` (the local key for 3.1–3.3 and the
    /// negotiation, the session key for 3.4/3.5 data).
    pub fn seal(&self, key: &TuyaKey) -> Vec<u8> {
        let v = self.version;
        let mut body = Vec::new();
        if self.sender == Sender::Device && v != Version::V35 {
            body.extend_from_slice(&self.retcode.to_be_bytes());
        }
        match v {
            Version::V31 => {
                let encrypt = match self.sender {
                    Sender::Client => self.cmd == Command::CONTROL,
                    Sender::Device => self.version_header,
                };
                if encrypt {
                    body.extend(crypto::encrypt31(key, self.payload));
                } else {
                    body.extend_from_slice(self.payload);
                }
                frame::pack_55aa(self.seq, self.cmd.0, &body, Seal::Crc)
            }
            Version::V32 | Version::V33 => {
                if self.version_header {
                    body.extend_from_slice(&v.header());
                }
                // An empty payload (a device's acknowledgement) is sent as
                // nothing at all: tinytuya reads an encrypted empty string
                // as a JSON error.
                if !self.payload.is_empty() {
                    body.extend(crypto::ecb_encrypt(key, self.payload));
                }
                frame::pack_55aa(self.seq, self.cmd.0, &body, Seal::Crc)
            }
            Version::V34 => {
                let mut plain = Zeroizing::new(Vec::new());
                if self.version_header {
                    plain.extend_from_slice(&v.header());
                }
                plain.extend_from_slice(self.payload);
                if !plain.is_empty() {
                    body.extend(crypto::ecb_encrypt(key, &plain));
                }
                frame::pack_55aa(self.seq, self.cmd.0, &body, Seal::Hmac(key))
            }
            Version::V35 => {
                let mut plain = Zeroizing::new(Vec::new());
                if self.sender == Sender::Device {
                    plain.extend_from_slice(&self.retcode.to_be_bytes());
                }
                if self.version_header {
                    plain.extend_from_slice(&v.header());
                }
                plain.extend_from_slice(self.payload);
                frame::pack_6699(self.seq, self.cmd.0, &plain, key, &self.iv)
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------

/// The integrity check a frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    Crc32,
    HmacSha256,
    AesGcm,
}

impl Check {
    pub fn name(self) -> &'static str {
        match self {
            Check::Crc32 => "crc32",
            Check::HmacSha256 => "hmac-sha256",
            Check::AesGcm => "aes-gcm",
        }
    }
}

/// A decoded payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plain {
    /// Device frames: the return code.
    pub retcode: Option<u32>,
    /// The application bytes (version header removed, decrypted).
    pub payload: Zeroizing<Vec<u8>>,
    pub check: Check,
    /// The CRC verified (CRC frames); HMAC and GCM frames only decode when
    /// theirs does.
    pub check_ok: bool,
    /// 3.1 encrypted bodies: the MD5 signature verified.
    pub signature_ok: Option<bool>,
    /// A key was used (the payload was encrypted).
    pub encrypted: bool,
    /// The version header named this version.
    pub header_version: Option<Version>,
}

/// Why a payload did not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// Encrypted, and no key was given.
    NeedKey,
    /// The HMAC or GCM tag failed, or the decryption is not text (3.1–3.3):
    /// the key is not this frame's.
    WrongKey(CryptError),
    /// The frame cannot be this version's (say why).
    Malformed(&'static str),
}

/// Text without control characters: what a right 3.1–3.3 decryption
/// yields (JSON, or messages like `json obj data unvalid`).
pub fn looks_like_text(b: &[u8]) -> bool {
    std::str::from_utf8(b).is_ok_and(|s| {
        s.chars()
            .all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'))
    })
}

fn split_retcode(b: &[u8]) -> (Option<u32>, &[u8]) {
    match b.split_first_chunk::<RETCODE_LEN>() {
        Some((r, rest)) => (Some(u32::from_be_bytes(*r)), rest),
        None => (None, b),
    }
}

/// Strips a version header: `"3.x"` + 12 bytes.
fn strip_header(b: &[u8]) -> (Option<Version>, &[u8]) {
    match Version::from_prefix(b) {
        Some(v) if b.len() >= VERSION_HEADER_LEN => (Some(v), &b[VERSION_HEADER_LEN..]),
        _ => (None, b),
    }
}

/// Decodes one frame of `version` sent by `sender` under `key` (the local
/// key for 3.1–3.3 and the 3.4/3.5 negotiation, the session key for 3.4/3.5
/// data). A 55AA frame of 3.4 is read with its HMAC trailer, other 55AA
/// frames with their CRC.
pub fn decode(
    f: &Frame<'_>,
    version: Version,
    sender: Sender,
    key: Option<&TuyaKey>,
) -> Result<Plain, DecodeError> {
    match (f.format(), version) {
        (Format::Gcm, Version::V35) => decode35(f, sender, key),
        (Format::Gcm, _) => Err(DecodeError::Malformed("a 6699 frame in a 3.1-3.4 stream")),
        (Format::Classic, Version::V35) => {
            Err(DecodeError::Malformed("a 55AA frame in a 3.5 stream"))
        }
        (Format::Classic, Version::V34) => decode34(f, sender, key),
        (Format::Classic, Version::V31) => decode31(f, sender, key),
        (Format::Classic, _) => decode33(f, sender, key),
    }
}

fn plain(retcode: Option<u32>, payload: Zeroizing<Vec<u8>>, check: Check, check_ok: bool) -> Plain {
    Plain {
        retcode,
        payload,
        check,
        check_ok,
        signature_ok: None,
        encrypted: true,
        header_version: None,
    }
}

fn decode31(f: &Frame<'_>, sender: Sender, key: Option<&TuyaKey>) -> Result<Plain, DecodeError> {
    let body = f.crc_body();
    let (retcode, body) = match sender {
        Sender::Device
            if body.len() >= RETCODE_LEN && body[0] != b'{' && !body.starts_with(b"3.1") =>
        {
            split_retcode(body)
        }
        _ => (None, body),
    };
    let check_ok = f.crc_ok();
    if let Some(rest) = body.strip_prefix(b"3.1") {
        let key = key.ok_or(DecodeError::NeedKey)?;
        let (text, sig) = crypto::decrypt31(key, rest).map_err(|e| match e {
            CryptError::BadBase64 => DecodeError::Malformed("3.1 body is not base64"),
            CryptError::NotBlockAligned { .. } => {
                DecodeError::Malformed("3.1 ciphertext is not whole blocks")
            }
            e => DecodeError::WrongKey(e),
        })?;
        if !sig && !looks_like_text(&text) {
            return Err(DecodeError::WrongKey(CryptError::BadPadding));
        }
        let mut p = plain(retcode, text, Check::Crc32, check_ok);
        p.signature_ok = Some(sig);
        p.header_version = Some(Version::V31);
        return Ok(p);
    }
    if body.is_empty() || body.first() == Some(&b'{') {
        let mut p = plain(
            retcode,
            Zeroizing::new(body.to_vec()),
            Check::Crc32,
            check_ok,
        );
        p.encrypted = false;
        return Ok(p);
    }
    Err(DecodeError::Malformed(
        "3.1 payload neither JSON nor \"3.1\"-encrypted",
    ))
}

fn decode33(f: &Frame<'_>, sender: Sender, key: Option<&TuyaKey>) -> Result<Plain, DecodeError> {
    let body = f.crc_body();
    let (retcode, body) = match sender {
        Sender::Device if matches!(body.len() % 16, 3 | 4) => split_retcode(body),
        _ => (None, body),
    };
    let (header_version, mut ct) = strip_header(body);
    if header_version.is_none() && ct.len() % 16 == VERSION_HEADER_LEN {
        // tinytuya: device22 payloads may carry a header that is not
        // this version's; strip it by length.
        ct = &ct[VERSION_HEADER_LEN..];
    }
    let check_ok = f.crc_ok();
    if ct.is_empty() {
        let mut p = plain(retcode, Zeroizing::new(Vec::new()), Check::Crc32, check_ok);
        p.encrypted = false;
        p.header_version = header_version;
        return Ok(p);
    }
    if ct.len() % 16 != 0 {
        return Err(DecodeError::Malformed("ciphertext is not whole AES blocks"));
    }
    let key = key.ok_or(DecodeError::NeedKey)?;
    let text = crypto::ecb_decrypt(key, ct).map_err(DecodeError::WrongKey)?;
    if !looks_like_text(&text) {
        return Err(DecodeError::WrongKey(CryptError::BadPadding));
    }
    let mut p = plain(retcode, text, Check::Crc32, check_ok);
    p.header_version = header_version;
    Ok(p)
}

fn decode34(f: &Frame<'_>, sender: Sender, key: Option<&TuyaKey>) -> Result<Plain, DecodeError> {
    let body = f
        .hmac_body()
        .ok_or(DecodeError::Malformed("shorter than an HMAC trailer"))?;
    let key = key.ok_or(DecodeError::NeedKey)?;
    if !f.hmac_ok(key) {
        return Err(DecodeError::WrongKey(CryptError::BadTag));
    }
    let (retcode, ct) = match sender {
        Sender::Device if body.len() % 16 == RETCODE_LEN => split_retcode(body),
        _ => (None, body),
    };
    if ct.is_empty() {
        let mut p = plain(retcode, Zeroizing::new(Vec::new()), Check::HmacSha256, true);
        p.encrypted = false;
        return Ok(p);
    }
    let text = crypto::ecb_decrypt(key, ct).map_err(|e| match e {
        CryptError::NotBlockAligned { .. } => {
            DecodeError::Malformed("ciphertext is not whole AES blocks")
        }
        e => DecodeError::WrongKey(e),
    })?;
    let (header_version, rest) = strip_header(&text);
    let payload = if header_version.is_some() {
        Zeroizing::new(rest.to_vec())
    } else {
        text
    };
    let mut p = plain(retcode, payload, Check::HmacSha256, true);
    p.header_version = header_version;
    Ok(p)
}

fn decode35(f: &Frame<'_>, sender: Sender, key: Option<&TuyaKey>) -> Result<Plain, DecodeError> {
    let parts = f
        .gcm_parts()
        .ok_or(DecodeError::Malformed("not a 6699 frame"))?;
    let key = key.ok_or(DecodeError::NeedKey)?;
    let mut text = parts.open(key).map_err(DecodeError::WrongKey)?;
    let (retcode, rest) = match sender {
        Sender::Device
            if text.len() >= RETCODE_LEN
                && text.first() != Some(&b'{')
                && Version::from_prefix(&text).is_none() =>
        {
            split_retcode(&text)
        }
        _ => (None, &text[..]),
    };
    let (header_version, rest) = strip_header(rest);
    // Cut the return code and header off in place (no second copy).
    let skip = text.len() - rest.len();
    text.drain(..skip);
    let mut p = plain(retcode, text, Check::AesGcm, true);
    p.header_version = header_version;
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> TuyaKey {
        TuyaKey::from_local_key_str("0123456789abcdef").unwrap()
    }

    const J: &[u8] = br#"{"devId":"bf0123456789abcdefgh","dps":{"1":true}}"#;

    fn round_trip(o: Outgoing<'_>) -> Plain {
        let bytes = o.seal(&key());
        let f = Frame::parse(&bytes).unwrap();
        decode(&f, o.version, o.sender, Some(&key())).unwrap()
    }

    #[test]
    fn every_version_both_directions_round_trips() {
        for v in Version::ALL {
            for cmd in [Command::CONTROL, Command::DP_QUERY, Command::STATUS] {
                let c = round_trip(Outgoing::client(v, 3, cmd, J).with_iv(*b"abcdefghijkl"));
                assert_eq!(c.payload.as_slice(), J, "{v:?} {cmd:?} client");
                assert_eq!(c.retcode, None);
                for header in [false, true] {
                    let mut o = Outgoing::device(v, 9, cmd, J).with_header(header);
                    o.retcode = 1;
                    let d = round_trip(o);
                    assert_eq!(d.payload.as_slice(), J, "{v:?} {cmd:?} device {header}");
                    assert_eq!(d.retcode, Some(1), "{v:?} {header}");
                    assert!(d.check_ok);
                }
            }
            // Empty acks.
            let d = round_trip(Outgoing::device(v, 1, Command::CONTROL, b""));
            assert!(d.payload.is_empty(), "{v:?}");
        }
    }

    #[test]
    fn plain_31_needs_no_key() {
        let b = Outgoing::client(Version::V31, 1, Command::DP_QUERY, J).seal(&key());
        let p = decode(
            &Frame::parse(&b).unwrap(),
            Version::V31,
            Sender::Client,
            None,
        )
        .unwrap();
        assert!(!p.encrypted);
        assert_eq!(p.payload.as_slice(), J);
        let b = Outgoing::client(Version::V31, 1, Command::CONTROL, J).seal(&key());
        assert_eq!(
            decode(
                &Frame::parse(&b).unwrap(),
                Version::V31,
                Sender::Client,
                None
            ),
            Err(DecodeError::NeedKey)
        );
    }

    #[test]
    fn wrong_keys_are_errors_never_garbage() {
        let wrong = TuyaKey::from_local_key_str("fedcba9876543210").unwrap();
        for v in Version::ALL {
            let b = Outgoing::client(v, 1, Command::CONTROL, J)
                .with_iv(*b"abcdefghijkl")
                .seal(&key());
            let f = Frame::parse(&b).unwrap();
            assert!(
                matches!(
                    decode(&f, v, Sender::Client, Some(&wrong)),
                    Err(DecodeError::WrongKey(_))
                ),
                "{v:?}"
            );
        }
    }

    #[test]
    fn damaged_crc_is_reported_not_fatal() {
        let mut b = Outgoing::client(Version::V33, 1, Command::CONTROL, J).seal(&key());
        let n = b.len();
        b[n - 5] ^= 1;
        let p = decode(
            &Frame::parse(&b).unwrap(),
            Version::V33,
            Sender::Client,
            Some(&key()),
        )
        .unwrap();
        assert!(!p.check_ok);
        assert_eq!(p.payload.as_slice(), J);
    }

    #[test]
    fn format_and_version_must_agree() {
        let b = Outgoing::client(Version::V35, 1, Command::CONTROL, J).seal(&key());
        assert!(matches!(
            decode(
                &Frame::parse(&b).unwrap(),
                Version::V33,
                Sender::Client,
                Some(&key())
            ),
            Err(DecodeError::Malformed(_))
        ));
    }

    #[test]
    fn versions_parse() {
        assert_eq!(Version::parse("3.3"), Some(Version::V33));
        assert_eq!(Version::parse(" v3.5 "), Some(Version::V35));
        assert_eq!(Version::parse("3.6"), None);
        assert_eq!(Version::from_prefix(b"3.4\0\0"), Some(Version::V34));
        assert_eq!(&Version::V33.header()[..4], b"3.3\0");
        assert!(Version::V34.has_session() && !Version::V33.has_session());
    }
}
