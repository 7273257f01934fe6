//! Tuya frames: the two wire formats, a checked view of one frame, the
//! streaming framer that cuts a TCP direction into frames, and the builders
//! (the setter side, for the synthetic captures and tests).
//!
//! # Wire formats (tinytuya `core/header.py`, `core/message_helper.py`)
//! All integers are big-endian.
//!
//! `0x000055AA` frames (3.1–3.4), header `>4I`:
//!
//! | off | len | field |
//! |---|---|---|
//! | 0 | 4 | prefix `00 00 55 AA` |
//! | 4 | 4 | seqno |
//! | 8 | 4 | cmd |
//! | 12 | 4 | length: everything after the header, suffix included |
//! | 16 | 4 | return code (device → client only; `unpack_message` strips it) |
//! | … | … | payload |
//! | end−8 | 4 | CRC-32 over everything before it (3.1–3.3), or |
//! | end−36 | 32 | HMAC-SHA256 over everything before it (3.4) |
//! | end−4 | 4 | suffix `00 00 AA 55` |
//!
//! `0x00006699` frames (3.5), header `>IHIII`:
//!
//! | off | len | field |
//! |---|---|---|
//! | 0 | 4 | prefix `00 00 66 99` |
//! | 4 | 2 | unknown (0 from tinytuya) |
//! | 6 | 4 | seqno |
//! | 10 | 4 | cmd |
//! | 14 | 4 | length: IV + ciphertext + tag (the suffix is not counted) |
//! | 18 | 12 | GCM IV |
//! | 30 | … | AES-GCM ciphertext (device → client: return code first) |
//! | end−20 | 16 | GCM tag; associated data = header bytes 4..18 |
//! | end−4 | 4 | suffix `00 00 99 66` |
//!
//! # Guarantees of [`Framer`]
//! - Any chunking: several frames per chunk, one frame over many chunks.
//! - A frame is accepted when its prefix, a declared length within
//!   [`MIN_LEN_55AA`]/[`MIN_LEN_6699`]..=[`MAX_PAYLOAD_LEN`] and the suffix at
//!   the declared end all check out (the CRC/HMAC/tag is the session's job).
//!   A declared length out of range or a wrong suffix is a desync: the
//!   framer moves one byte past the false prefix and hunts for the next one.
//!   Bytes that do not start with a prefix (garbage, the tail of a frame
//!   after a gap) are skipped the same way, as tinytuya's `_receive` does.
//! - Memory: at most `2 ×` [`MAX_FRAME_LEN`] bytes held per direction, and
//!   nothing at all between frames. Declared lengths never reserve memory:
//!   buffers grow with the bytes that arrive.
//! - Linear time: the scan position only moves forward, and the buffer is
//!   compacted only when its dead prefix is at least half of it.

use super::crypto::{self, GCM_IV_LEN, GCM_TAG_LEN, HMAC_LEN, TuyaKey};

/// `PREFIX_55AA_VALUE`.
pub const PREFIX_55AA: [u8; 4] = [0x00, 0x00, 0x55, 0xAA];
/// `SUFFIX_55AA_VALUE`.
pub const SUFFIX_55AA: [u8; 4] = [0x00, 0x00, 0xAA, 0x55];
/// `PREFIX_6699_VALUE`.
pub const PREFIX_6699: [u8; 4] = [0x00, 0x00, 0x66, 0x99];
/// `SUFFIX_6699_VALUE`.
pub const SUFFIX_6699: [u8; 4] = [0x00, 0x00, 0x99, 0x66];
/// `struct.calcsize(">4I")`.
pub const HEADER_55AA_LEN: usize = 16;
/// `struct.calcsize(">IHIII")`.
pub const HEADER_6699_LEN: usize = 18;
/// The return code device → client frames carry (`MESSAGE_RETCODE_FMT`).
pub const RETCODE_LEN: usize = 4;
/// Suffix length.
pub const SUFFIX_LEN: usize = 4;
/// CRC-32 + suffix (`MESSAGE_END_FMT_55AA`).
pub const CRC_TRAILER_LEN: usize = 4 + SUFFIX_LEN;
/// HMAC-SHA256 + suffix (`MESSAGE_END_FMT_HMAC`).
pub const HMAC_TRAILER_LEN: usize = HMAC_LEN + SUFFIX_LEN;
/// Smallest length field of a 55AA frame: an empty payload with a CRC.
pub const MIN_LEN_55AA: usize = CRC_TRAILER_LEN;
/// Smallest length field of a 6699 frame: IV + tag around nothing.
pub const MIN_LEN_6699: usize = GCM_IV_LEN + GCM_TAG_LEN;

/// Largest length field accepted. tinytuya refuses anything above 1 440
/// bytes (`MAX_PAYLOAD_LENGTH`: "most devices only have ~256 KiB of RAM");
/// gateways with many sub-devices may send more, so we allow eleven times
/// that while still bounding what a hostile length can make us buffer.
pub const MAX_PAYLOAD_LEN: usize = 16 * 1024;
/// Largest whole frame: a 6699 header, [`MAX_PAYLOAD_LEN`], the suffix.
pub const MAX_FRAME_LEN: usize = HEADER_6699_LEN + MAX_PAYLOAD_LEN + SUFFIX_LEN;

/// Which of the two wire formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `0x000055AA` … `0x0000AA55` (3.1–3.4).
    Classic,
    /// `0x00006699` … `0x00009966` (3.5).
    Gcm,
}

impl Format {
    fn of(b: &[u8]) -> Option<Format> {
        match b.get(..4)? {
            p if p == PREFIX_55AA => Some(Format::Classic),
            p if p == PREFIX_6699 => Some(Format::Gcm),
            _ => None,
        }
    }

    pub fn header_len(self) -> usize {
        match self {
            Format::Classic => HEADER_55AA_LEN,
            Format::Gcm => HEADER_6699_LEN,
        }
    }

    fn suffix(self) -> [u8; 4] {
        match self {
            Format::Classic => SUFFIX_55AA,
            Format::Gcm => SUFFIX_6699,
        }
    }

    fn min_len(self) -> usize {
        match self {
            Format::Classic => MIN_LEN_55AA,
            Format::Gcm => MIN_LEN_6699,
        }
    }

    /// Total frame length for a length field (already range-checked).
    fn total(self, declared: usize) -> usize {
        match self {
            Format::Classic => HEADER_55AA_LEN + declared,
            Format::Gcm => HEADER_6699_LEN + declared + SUFFIX_LEN,
        }
    }
}

/// Why bytes are not a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// Fewer bytes than the header or the declared length need.
    Truncated { required: usize, len: usize },
    /// Does not start with a prefix.
    BadPrefix,
    /// The length field is below the format's minimum or above
    /// [`MAX_PAYLOAD_LEN`].
    LengthOutOfRange { declared: u32 },
    /// The bytes at the declared end are not the suffix.
    BadSuffix,
    /// More bytes than the declared length (datagrams only).
    TrailingBytes { extra: usize },
}

fn be32(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_be_bytes(w)
}

/// A checked view of one whole frame. After [`Frame::parse`] returned
/// `Ok`, no accessor panics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    bytes: &'a [u8],
    format: Format,
    declared: usize,
}

/// Result of looking at the start of a byte window (the framer's one step).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// A whole frame of this many bytes.
    Frame(usize),
    /// Need this many bytes in the window to decide.
    Need(usize),
    /// Not a prefix here: skip this many bytes to the next candidate.
    Skip(usize),
    /// A prefix whose header or suffix is wrong.
    Invalid(FrameError),
}

fn is_prefix_start(b: &[u8]) -> bool {
    b.len() < 4 && (PREFIX_55AA.starts_with(b) || PREFIX_6699.starts_with(b))
}

/// Offset of the next place in `w` after position 0 where a frame could
/// start: a whole prefix, or a partial one running to the end.
fn next_candidate(w: &[u8]) -> usize {
    let mut i = 1;
    while i < w.len() {
        if w[i] == 0 {
            let rest = &w[i..];
            if rest.len() >= 4 {
                if Format::of(rest).is_some() {
                    return i;
                }
            } else if is_prefix_start(rest) {
                return i;
            }
        }
        i += 1;
    }
    w.len()
}

fn step(w: &[u8]) -> Step {
    if w.len() < 4 {
        return if is_prefix_start(w) {
            Step::Need(4)
        } else {
            Step::Skip(next_candidate(w))
        };
    }
    let Some(format) = Format::of(w) else {
        return Step::Skip(next_candidate(w));
    };
    let hl = format.header_len();
    if w.len() < hl {
        return Step::Need(hl);
    }
    let declared = be32(w, hl - 4);
    let d = declared as usize;
    if d < format.min_len() || d > MAX_PAYLOAD_LEN {
        return Step::Invalid(FrameError::LengthOutOfRange { declared });
    }
    let total = format.total(d);
    if w.len() < total {
        return Step::Need(total);
    }
    if w[total - SUFFIX_LEN..total] != format.suffix() {
        return Step::Invalid(FrameError::BadSuffix);
    }
    Step::Frame(total)
}

impl<'a> Frame<'a> {
    /// Checks `bytes` as exactly one frame: prefix, header, declared length
    /// within range, suffix, and nothing after it.
    pub fn parse(bytes: &'a [u8]) -> Result<Frame<'a>, FrameError> {
        let Some(format) = Format::of(bytes) else {
            return Err(if bytes.len() < 4 {
                FrameError::Truncated {
                    required: 4,
                    len: bytes.len(),
                }
            } else {
                FrameError::BadPrefix
            });
        };
        match step(bytes) {
            Step::Frame(total) if total == bytes.len() => Ok(Frame {
                bytes,
                format,
                declared: total
                    - format.header_len()
                    - if format == Format::Gcm { SUFFIX_LEN } else { 0 },
            }),
            Step::Frame(total) => Err(FrameError::TrailingBytes {
                extra: bytes.len() - total,
            }),
            Step::Need(required) => Err(FrameError::Truncated {
                required,
                len: bytes.len(),
            }),
            Step::Invalid(e) => Err(e),
            Step::Skip(_) => Err(FrameError::BadPrefix),
        }
    }

    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// The length field.
    pub fn declared_len(&self) -> usize {
        self.declared
    }

    pub fn seq(&self) -> u32 {
        match self.format {
            Format::Classic => be32(self.bytes, 4),
            Format::Gcm => be32(self.bytes, 6),
        }
    }

    pub fn cmd(&self) -> u32 {
        match self.format {
            Format::Classic => be32(self.bytes, 8),
            Format::Gcm => be32(self.bytes, 10),
        }
    }

    /// 6699 only: the two bytes after the prefix.
    pub fn unknown(&self) -> Option<u16> {
        (self.format == Format::Gcm).then(|| u16::from_be_bytes([self.bytes[4], self.bytes[5]]))
    }

    fn end(&self) -> usize {
        self.bytes.len() - SUFFIX_LEN
    }

    /// 55AA: the CRC-32 stored in the frame verifies.
    pub fn crc_ok(&self) -> bool {
        let e = self.end();
        self.format == Format::Classic
            && crc32fast::hash(&self.bytes[..e - 4]) == be32(self.bytes, e - 4)
    }

    /// 55AA with a CRC: what lies between header and CRC (return code and
    /// payload).
    pub fn crc_body(&self) -> &'a [u8] {
        match self.format {
            Format::Classic => &self.bytes[HEADER_55AA_LEN..self.end() - 4],
            Format::Gcm => &[],
        }
    }

    /// 55AA with an HMAC: what lies between header and HMAC, when the frame
    /// is long enough to hold one.
    pub fn hmac_body(&self) -> Option<&'a [u8]> {
        (self.format == Format::Classic && self.declared >= HMAC_TRAILER_LEN)
            .then(|| &self.bytes[HEADER_55AA_LEN..self.end() - HMAC_LEN])
    }

    /// 55AA: the HMAC-SHA256 under `key` verifies.
    pub fn hmac_ok(&self, key: &TuyaKey) -> bool {
        if self.hmac_body().is_none() {
            return false;
        }
        let e = self.end();
        let mac = crypto::hmac_sha256(key, &[&self.bytes[..e - HMAC_LEN]]);
        crypto::ct_eq(&mac, &self.bytes[e - HMAC_LEN..e])
    }

    /// 6699: IV, ciphertext, tag and associated data.
    pub fn gcm_parts(&self) -> Option<GcmParts<'a>> {
        if self.format != Format::Gcm {
            return None;
        }
        let b = self.bytes;
        let e = self.end();
        let mut iv = [0u8; GCM_IV_LEN];
        iv.copy_from_slice(&b[HEADER_6699_LEN..HEADER_6699_LEN + GCM_IV_LEN]);
        let mut tag = [0u8; GCM_TAG_LEN];
        tag.copy_from_slice(&b[e - GCM_TAG_LEN..e]);
        Some(GcmParts {
            aad: &b[4..HEADER_6699_LEN],
            iv,
            ciphertext: &b[HEADER_6699_LEN + GCM_IV_LEN..e - GCM_TAG_LEN],
            tag,
        })
    }
}

/// The pieces of a 6699 frame that GCM needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GcmParts<'a> {
    pub aad: &'a [u8],
    pub iv: [u8; GCM_IV_LEN],
    pub ciphertext: &'a [u8],
    pub tag: [u8; GCM_TAG_LEN],
}

impl GcmParts<'_> {
    pub fn open(&self, key: &TuyaKey) -> Result<zeroize::Zeroizing<Vec<u8>>, crypto::CryptError> {
        crypto::gcm_decrypt(key, &self.iv, self.aad, self.ciphertext, &self.tag)
    }
}

/// How a 55AA frame is sealed.
#[derive(Debug, Clone, Copy)]
pub enum Seal<'k> {
    /// CRC-32 (3.1–3.3, discovery).
    Crc,
    /// HMAC-SHA256 under this key (3.4).
    Hmac(&'k TuyaKey),
}

/// Builds a 55AA frame around `body` (return code, if any, included):
/// tinytuya `pack_message` with `prefix=0x55AA`.
pub fn pack_55aa(seq: u32, cmd: u32, body: &[u8], seal: Seal<'_>) -> Vec<u8> {
    let trailer = match seal {
        Seal::Crc => CRC_TRAILER_LEN,
        Seal::Hmac(_) => HMAC_TRAILER_LEN,
    };
    let mut out = Vec::with_capacity(HEADER_55AA_LEN + body.len() + trailer);
    out.extend_from_slice(&PREFIX_55AA);
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&cmd.to_be_bytes());
    out.extend_from_slice(&((body.len() + trailer) as u32).to_be_bytes());
    out.extend_from_slice(body);
    match seal {
        Seal::Crc => {
            let crc = crc32fast::hash(&out);
            out.extend_from_slice(&crc.to_be_bytes());
        }
        Seal::Hmac(k) => {
            let mac = crypto::hmac_sha256(k, &[&out]);
            out.extend_from_slice(&mac);
        }
    }
    out.extend_from_slice(&SUFFIX_55AA);
    out
}

/// Builds a 6699 frame: `plain` (return code, if any, included) sealed with
/// AES-GCM under `key` and `iv` (tinytuya `pack_message` with
/// `prefix=0x6699`).
pub fn pack_6699(
    seq: u32,
    cmd: u32,
    plain: &[u8],
    key: &TuyaKey,
    iv: &[u8; GCM_IV_LEN],
) -> Vec<u8> {
    let declared = GCM_IV_LEN + plain.len() + GCM_TAG_LEN;
    let mut out = Vec::with_capacity(HEADER_6699_LEN + declared + SUFFIX_LEN);
    out.extend_from_slice(&PREFIX_6699);
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&cmd.to_be_bytes());
    out.extend_from_slice(&(declared as u32).to_be_bytes());
    let sealed = crypto::gcm_encrypt(key, iv, &out[4..HEADER_6699_LEN], plain);
    out.extend_from_slice(iv);
    out.extend_from_slice(&sealed);
    out.extend_from_slice(&SUFFIX_6699);
    out
}

/// What the framer reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FramerEvent<'a> {
    /// One whole frame (checked as [`Frame::parse`] would).
    Frame(&'a [u8]),
    /// Framing was lost: garbage where a frame should start, a length out of
    /// range, a wrong suffix. Reported once per episode; the framer hunts.
    Desync(FrameError),
    /// A frame was found again after `skipped` bytes.
    Resynced { skipped: u64 },
}

/// Framer counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FramerStats {
    pub frames: u64,
    pub desyncs: u64,
    pub gaps: u64,
    /// Bytes skipped while hunting.
    pub hunted_bytes: u64,
    /// Bytes of partial frames thrown away at a gap or a release.
    pub partial_bytes_dropped: u64,
}

/// Streaming framer for one TCP direction.
#[derive(Debug, Clone, Default)]
pub struct Framer {
    /// Bytes of the current candidate frame from `start` on; `buf[..start]`
    /// is dead and compacted away lazily.
    buf: Vec<u8>,
    start: usize,
    /// `Some(n)`: hunting, `n` bytes skipped so far in this episode.
    hunting: Option<u64>,
    stats: FramerStats,
}

impl Framer {
    /// A framer at a frame boundary (the connection was seen from its SYN).
    pub fn new() -> Framer {
        Framer::default()
    }

    /// A framer that expects to start mid-frame (a capture that began
    /// mid-connection): leading garbage is skipped without a desync.
    pub fn hunting() -> Framer {
        Framer {
            hunting: Some(0),
            ..Framer::default()
        }
    }

    pub fn stats(&self) -> &FramerStats {
        &self.stats
    }

    /// Heap bytes held for a partial frame.
    pub fn held_bytes(&self) -> usize {
        self.buf.capacity()
    }

    /// Bytes of the partial frame held (for tests and assertions).
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The stream lost bytes (or the memory budget reclaims ours): drop any
    /// partial frame and hunt.
    pub fn on_gap(&mut self) {
        self.stats.gaps += 1;
        self.release();
    }

    /// Drops any partial frame and hunts, as after a gap.
    pub fn release(&mut self) {
        self.stats.partial_bytes_dropped += self.buffered() as u64;
        self.buf = Vec::new();
        self.start = 0;
        self.hunting = Some(self.hunting.unwrap_or(0));
    }

    fn skip<F: FnMut(FramerEvent<'_>)>(&mut self, n: usize, why: FrameError, f: &mut F) {
        self.stats.hunted_bytes += n as u64;
        match &mut self.hunting {
            Some(k) => *k += n as u64,
            None => {
                self.stats.desyncs += 1;
                self.hunting = Some(n as u64);
                f(FramerEvent::Desync(why));
            }
        }
    }

    fn found<F: FnMut(FramerEvent<'_>)>(&mut self, f: &mut F) {
        self.stats.frames += 1;
        if let Some(k) = self.hunting.take()
            && k > 0
        {
            f(FramerEvent::Resynced { skipped: k });
        }
    }

    /// Feeds in-order bytes; frames and framing events go to `f`.
    pub fn push<F: FnMut(FramerEvent<'_>)>(&mut self, mut data: &[u8], f: &mut F) {
        loop {
            if self.start < self.buf.len() {
                match step(&self.buf[self.start..]) {
                    Step::Frame(n) => {
                        self.found(f);
                        f(FramerEvent::Frame(&self.buf[self.start..self.start + n]));
                        self.start += n;
                    }
                    Step::Skip(n) => {
                        self.skip(n, FrameError::BadPrefix, f);
                        self.start += n;
                    }
                    Step::Invalid(e) => {
                        self.skip(1, e, f);
                        self.start += 1;
                    }
                    Step::Need(n) => {
                        if data.is_empty() {
                            return;
                        }
                        if self.start >= self.buf.len() / 2 {
                            self.buf.drain(..self.start);
                            self.start = 0;
                        }
                        let take = (n - (self.buf.len() - self.start)).min(data.len());
                        self.buf.extend_from_slice(&data[..take]);
                        data = &data[take..];
                    }
                }
                if self.start >= self.buf.len() {
                    self.buf = Vec::new();
                    self.start = 0;
                }
            } else {
                if data.is_empty() {
                    return;
                }
                match step(data) {
                    Step::Frame(n) => {
                        self.found(f);
                        f(FramerEvent::Frame(&data[..n]));
                        data = &data[n..];
                    }
                    Step::Skip(n) => {
                        self.skip(n, FrameError::BadPrefix, f);
                        data = &data[n..];
                    }
                    Step::Invalid(e) => {
                        self.skip(1, e, f);
                        data = &data[1..];
                    }
                    Step::Need(_) => {
                        // Fewer bytes than one frame (at most MAX_FRAME_LEN).
                        self.buf = data.to_vec();
                        self.start = 0;
                        return;
                    }
                }
            }
        }
    }

    /// Like [`push`](Self::push), collecting owned frames (tests, tools).
    pub fn push_collect(&mut self, data: &[u8]) -> Vec<Collected> {
        let mut out = Vec::new();
        self.push(data, &mut |e| {
            out.push(match e {
                FramerEvent::Frame(b) => Collected::Frame(b.to_vec()),
                FramerEvent::Desync(e) => Collected::Desync(e),
                FramerEvent::Resynced { skipped } => Collected::Resynced(skipped),
            })
        });
        out
    }
}

/// An owned [`FramerEvent`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Collected {
    Frame(Vec<u8>),
    Desync(FrameError),
    Resynced(u64),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> TuyaKey {
        TuyaKey::from_local_key_str("0123456789abcdef").unwrap()
    }

    fn a() -> Vec<u8> {
        pack_55aa(1, 10, br#"{"gwId":"bf01","devId":"bf01"}"#, Seal::Crc)
    }

    fn b() -> Vec<u8> {
        pack_6699(7, 13, br#"{"protocol":5}"#, &key(), b"0123456789ab")
    }

    fn c() -> Vec<u8> {
        pack_55aa(2, 9, &[], Seal::Hmac(&key()))
    }

    fn frames(ev: &[Collected]) -> Vec<Vec<u8>> {
        ev.iter()
            .filter_map(|e| match e {
                Collected::Frame(f) => Some(f.clone()),
                _ => None,
            })
            .collect()
    }

    /// tinytuya `pack_message(TuyaMessage(1, 10, 0, b'{}', 0, True, 0x55AA,
    /// False))`.
    #[test]
    fn known_55aa_frame() {
        let f = pack_55aa(1, 10, b"{}", Seal::Crc);
        assert_eq!(
            hex::encode(&f),
            "000055aa000000010000000a0000000a7b7dfe40c1e80000aa55"
        );
        let v = Frame::parse(&f).unwrap();
        assert_eq!((v.seq(), v.cmd(), v.declared_len()), (1, 10, 10));
        assert!(v.crc_ok());
        assert_eq!(v.crc_body(), b"{}");
        assert_eq!(v.format(), Format::Classic);
        assert_eq!(v.unknown(), None);
    }

    #[test]
    fn views_of_each_format() {
        let bb = b();
        let v = Frame::parse(&bb).unwrap();
        assert_eq!(
            (v.format(), v.seq(), v.cmd(), v.unknown()),
            (Format::Gcm, 7, 13, Some(0))
        );
        let g = v.gcm_parts().unwrap();
        assert_eq!(&g.iv, b"0123456789ab");
        assert_eq!(g.open(&key()).unwrap().as_slice(), br#"{"protocol":5}"#);
        assert!(!v.crc_ok());
        let cc = c();
        let h = Frame::parse(&cc).unwrap();
        assert!(h.hmac_ok(&key()) && !h.crc_ok());
        assert_eq!(h.hmac_body(), Some(&[][..]));
        assert!(!h.hmac_ok(&TuyaKey::new([0; 16])));
        let small = pack_55aa(1, 10, b"{}", Seal::Crc);
        assert!(Frame::parse(&small).unwrap().hmac_body().is_none());
    }

    #[test]
    fn every_truncation_is_incomplete_never_a_panic() {
        for f in [a(), b(), c()] {
            for n in 0..f.len() {
                match Frame::parse(&f[..n]) {
                    Err(FrameError::Truncated { required, len }) => {
                        assert_eq!(len, n);
                        assert!(required > n);
                    }
                    other => panic!("{n}: {other:?}"),
                }
                let mut fr = Framer::new();
                let ev = fr.push_collect(&f[..n]);
                assert!(ev.is_empty(), "{n}: {ev:?}");
                assert_eq!(fr.buffered(), n);
            }
        }
    }

    #[test]
    fn several_frames_per_chunk_and_split_everywhere() {
        let mut buf = a();
        buf.extend(b());
        buf.extend(c());
        let mut f = Framer::new();
        assert_eq!(frames(&f.push_collect(&buf)), [a(), b(), c()]);
        assert_eq!(f.held_bytes(), 0);
        for cut1 in 0..=buf.len() {
            for cut2 in [cut1, (cut1 + 7).min(buf.len()), buf.len()] {
                let mut f = Framer::new();
                let mut ev = f.push_collect(&buf[..cut1]);
                ev.extend(f.push_collect(&buf[cut1..cut2]));
                ev.extend(f.push_collect(&buf[cut2..]));
                assert_eq!(frames(&ev), [a(), b(), c()], "cuts {cut1} {cut2}");
                assert!(!ev.iter().any(|e| matches!(e, Collected::Desync(_))));
            }
        }
    }

    #[test]
    fn one_byte_at_a_time() {
        let mut buf = b();
        buf.extend(a());
        let mut f = Framer::new();
        let mut ev = Vec::new();
        for x in &buf {
            ev.extend(f.push_collect(std::slice::from_ref(x)));
        }
        assert_eq!(frames(&ev), [b(), a()]);
    }

    #[test]
    fn garbage_before_and_between_frames_resyncs() {
        let mut buf = b"\x00\x00\x55garbage\x00\x00".to_vec();
        buf.extend(a());
        buf.extend(b"\x00\x00\x66\x99 false prefix");
        buf.extend(b());
        let mut f = Framer::new();
        let ev = f.push_collect(&buf);
        assert_eq!(frames(&ev), [a(), b()]);
        assert!(matches!(ev[0], Collected::Desync(FrameError::BadPrefix)));
        assert_eq!(ev[1], Collected::Resynced(12));
        assert!(matches!(
            ev[3],
            Collected::Desync(FrameError::LengthOutOfRange { .. })
        ));
        assert_eq!(f.stats().desyncs, 2);
        assert_eq!(f.stats().frames, 2);
        // The same, split at every byte.
        for cut in 0..=buf.len() {
            let mut f = Framer::new();
            let mut ev = f.push_collect(&buf[..cut]);
            ev.extend(f.push_collect(&buf[cut..]));
            assert_eq!(frames(&ev), [a(), b()], "cut {cut}");
        }
    }

    #[test]
    fn declared_length_above_the_cap_is_a_desync() {
        let mut big = PREFIX_55AA.to_vec();
        big.extend(1u32.to_be_bytes());
        big.extend(7u32.to_be_bytes());
        big.extend(((MAX_PAYLOAD_LEN + 1) as u32).to_be_bytes());
        big.extend(a());
        let mut f = Framer::new();
        let ev = f.push_collect(&big);
        assert_eq!(
            ev[0],
            Collected::Desync(FrameError::LengthOutOfRange {
                declared: MAX_PAYLOAD_LEN as u32 + 1
            })
        );
        assert_eq!(frames(&ev), [a()]);
        // At the cap: accepted and buffered only as far as bytes arrive.
        let body = vec![b'x'; MAX_PAYLOAD_LEN - CRC_TRAILER_LEN];
        let max = pack_55aa(1, 8, &body, Seal::Crc);
        assert_eq!(max.len(), HEADER_55AA_LEN + MAX_PAYLOAD_LEN);
        let mut f = Framer::new();
        assert!(f.push_collect(&max[..100]).is_empty());
        assert!(f.held_bytes() < 1024);
        assert_eq!(frames(&f.push_collect(&max[100..])), [max]);
    }

    #[test]
    fn wrong_suffix_is_a_desync_and_the_frame_inside_is_found() {
        // A false header claiming a length that ends inside a real frame.
        let real = a();
        let mut buf = PREFIX_55AA.to_vec();
        buf.extend(0u32.to_be_bytes());
        buf.extend(0u32.to_be_bytes());
        buf.extend(((real.len() + 2) as u32).to_be_bytes());
        buf.extend(&real);
        buf.extend(b"zz");
        let mut f = Framer::new();
        let ev = f.push_collect(&buf);
        assert_eq!(ev[0], Collected::Desync(FrameError::BadSuffix));
        assert_eq!(frames(&ev), [real]);
    }

    #[test]
    fn gap_drops_the_partial_frame_and_hunts() {
        let mut f = Framer::new();
        assert!(f.push_collect(&a()[..20]).is_empty());
        f.on_gap();
        assert_eq!(f.stats().partial_bytes_dropped, 20);
        assert_eq!(f.held_bytes(), 0);
        let mut buf = b"tail of a frame".to_vec();
        buf.extend(b());
        let ev = f.push_collect(&buf);
        // Hunting after a gap: no new desync, one resync.
        assert_eq!(ev, [Collected::Resynced(15), Collected::Frame(b())]);
        assert_eq!(f.stats().desyncs, 0);
    }

    #[test]
    fn datagram_parse_errors() {
        let f = a();
        let mut long = f.clone();
        long.push(0);
        assert_eq!(
            Frame::parse(&long),
            Err(FrameError::TrailingBytes { extra: 1 })
        );
        assert_eq!(
            Frame::parse(b"\x01\x02\x03\x04\x05"),
            Err(FrameError::BadPrefix)
        );
        let mut bad = f.clone();
        let n = bad.len();
        bad[n - 1] ^= 1;
        assert_eq!(Frame::parse(&bad), Err(FrameError::BadSuffix));
    }

    /// Many false prefixes each claiming a large length: the work stays
    /// linear and the memory bounded.
    #[test]
    fn nested_false_prefixes_stay_bounded() {
        let mut buf = Vec::new();
        for _ in 0..4000 {
            buf.extend(PREFIX_55AA);
            buf.extend([0u8; 8]);
            buf.extend((MAX_PAYLOAD_LEN as u32).to_be_bytes());
        }
        let mut f = Framer::new();
        let mut ev = Vec::new();
        for chunk in buf.chunks(1000) {
            ev.extend(f.push_collect(chunk));
            assert!(f.buf.len() <= 2 * MAX_FRAME_LEN);
        }
        ev.extend(f.push_collect(&vec![0xee; MAX_FRAME_LEN]));
        ev.extend(f.push_collect(&a()));
        assert_eq!(frames(&ev), [a()]);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_and_stay_bounded(
            chunks in proptest::collection::vec(
                proptest::collection::vec(proptest::num::u8::ANY, 0..300), 0..30),
            gap_at in 0usize..30,
        ) {
            let mut f = Framer::hunting();
            for (i, c) in chunks.iter().enumerate() {
                if i == gap_at { f.on_gap(); }
                let _ = f.push_collect(c);
                proptest::prop_assert!(f.buf.len() <= 2 * MAX_FRAME_LEN);
            }
        }

        #[test]
        fn any_chunking_yields_the_frames(sizes in proptest::collection::vec(1usize..60, 1..40)) {
            let mut buf = Vec::new();
            for _ in 0..3 { buf.extend(a()); buf.extend(b()); buf.extend(c()); }
            let mut f = Framer::new();
            let mut ev = Vec::new();
            let mut rest = &buf[..];
            for s in sizes.iter().cycle() {
                if rest.is_empty() { break; }
                let n = (*s).min(rest.len());
                ev.extend(f.push_collect(&rest[..n]));
                rest = &rest[n..];
            }
            proptest::prop_assert_eq!(frames(&ev).len(), 9);
        }
    }
}
