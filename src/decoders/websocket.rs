//! A bounded, incremental WebSocket framer for one direction of a
//! reassembled TCP stream (RFC 6455 §5), after the HTTP upgrade
//! ([`crate::decoders::http::HttpParser::take_upgraded`]).
//!
//! # What this module owns
//! Frame headers (§5.2), unmasking (§5.3), reassembly of fragmented messages
//! (§5.4) and the control frames (§5.5: close, ping, pong). What the
//! messages mean belongs to the protocol on top (Shelly's JSON-RPC).
//!
//! # Guarantees
//! - Never panics; never buffers more than one frame header plus
//!   [`MAX_MESSAGE`] bytes of payload per direction, whatever the 63-bit
//!   length field says: a frame longer than that is skipped unread
//!   ([`WsError::TooLarge`]), and framing resumes after it.
//! - A stream gap, a reserved opcode or RSV2/RSV3 bit, or a malformed
//!   control frame loses the framing for good ([`WsError::Lost`]): frame
//!   boundaries cannot be found again in an arbitrary byte stream, so the
//!   direction stops being decoded rather than guessing.
//! - permessage-deflate messages (RSV1, RFC 7692) are reported
//!   ([`WsError::Compressed`]) and skipped; the framing survives.
//!
//! Hand-written: the WebSocket crates (tungstenite, …) are endpoint
//! implementations that own a socket and enforce the handshake; a passive
//! observer needs a push parser over captured bytes that tolerates what an
//! endpoint would reject, and never allocates past a cap.

/// Largest message (all fragments together) kept. Shelly's biggest frame,
/// `NotifyFullStatus` of a Pro 4PM, is a few KiB.
pub const MAX_MESSAGE: usize = 64 * 1024;
/// Longest frame header: 2 + 8 (64-bit length) + 4 (masking key).
pub const MAX_HEADER: usize = 14;
/// Most fragments one message may have (each costs a frame header).
pub const MAX_FRAGMENTS: usize = 1024;

/// Opcodes (RFC 6455 §5.2, §11.8).
pub mod opcode {
    pub const CONTINUATION: u8 = 0x0;
    pub const TEXT: u8 = 0x1;
    pub const BINARY: u8 = 0x2;
    pub const CLOSE: u8 = 0x8;
    pub const PING: u8 = 0x9;
    pub const PONG: u8 = 0xA;
}

/// A parsed frame header (RFC 6455 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    pub fin: bool,
    /// RSV1..RSV3 as the three low bits.
    pub rsv: u8,
    pub opcode: u8,
    pub mask: Option<[u8; 4]>,
    /// Payload length as declared (up to 2^63 − 1).
    pub len: u64,
    /// Bytes of the header itself (2 to [`MAX_HEADER`]).
    pub header_len: usize,
}

impl FrameHeader {
    /// Close, ping, pong and the reserved control opcodes (§5.5).
    pub fn is_control(&self) -> bool {
        self.opcode & 0x8 != 0
    }

    /// Parses a header from the start of `b`. `Err(n)`: at least `n` bytes
    /// are needed to know it.
    pub fn parse(b: &[u8]) -> Result<FrameHeader, usize> {
        let (&b0, &b1) = match b {
            [b0, b1, ..] => (b0, b1),
            _ => return Err(2),
        };
        let masked = b1 & 0x80 != 0;
        let (len, mut at) = match b1 & 0x7f {
            126 => {
                let x = b.get(2..4).ok_or(4usize)?;
                (u64::from(u16::from_be_bytes([x[0], x[1]])), 4)
            }
            127 => {
                let x: [u8; 8] = b
                    .get(2..10)
                    .and_then(|x| x.try_into().ok())
                    .ok_or(10usize)?;
                // §5.2: the most significant bit MUST be 0; taken modulo.
                (u64::from_be_bytes(x) & (u64::MAX >> 1), 10)
            }
            n => (u64::from(n), 2),
        };
        let mask = if masked {
            let k: [u8; 4] = b
                .get(at..at + 4)
                .and_then(|x| x.try_into().ok())
                .ok_or(at + 4)?;
            at += 4;
            Some(k)
        } else {
            None
        };
        Ok(FrameHeader {
            fin: b0 & 0x80 != 0,
            rsv: (b0 >> 4) & 0x7,
            opcode: b0 & 0x0f,
            mask,
            len,
            header_len: at,
        })
    }
}

/// XORs `data` with the masking key, in place (RFC 6455 §5.3).
pub fn unmask(data: &mut [u8], key: [u8; 4]) {
    for (i, b) in data.iter_mut().enumerate() {
        *b ^= key[i % 4];
    }
}

/// Encodes one frame: the setter side, for `synth` and tests.
pub fn encode_frame(fin: bool, opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut v = Vec::with_capacity(payload.len() + MAX_HEADER);
    v.push(if fin { 0x80 } else { 0 } | (opcode & 0x0f));
    let m = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n @ 0..=125 => v.push(m | n as u8),
        n @ 126..=0xffff => {
            v.push(m | 126);
            v.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            v.push(m | 127);
            v.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    let start = v.len();
    if let Some(k) = mask {
        v.extend_from_slice(&k);
    }
    let body = v.len();
    v.extend_from_slice(payload);
    if let Some(k) = mask {
        unmask(&mut v[body..], k);
    }
    debug_assert!(start <= body);
    v
}

/// Why frames were lost or skipped. Small and `Copy`: counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WsError {
    /// A frame (or a fragmented message) longer than [`MAX_MESSAGE`]:
    /// skipped unread.
    TooLarge { declared: u64 },
    /// RSV1 (permessage-deflate): the message is skipped.
    Compressed,
    /// A continuation without a first fragment, or a new message before
    /// the last one ended: the fragment(s) are dropped, framing goes on.
    Fragmentation,
    /// The framing is gone (a gap, a reserved opcode or bit, a malformed
    /// control frame): the rest of this direction is not decoded.
    Lost { reason: &'static str },
}

/// What [`WsFramer::push`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsEvent {
    /// A complete text or binary message, unmasked and reassembled.
    Message {
        text: bool,
        data: Vec<u8>,
        /// The frames carried a masking key (client → server must, §5.1).
        masked: bool,
        /// Frames the message came in (1 when not fragmented).
        fragments: usize,
    },
    /// A close frame with its status code when it has one (§5.5.1).
    Close {
        code: Option<u16>,
    },
    Ping,
    Pong,
    Error(WsError),
}

#[derive(Debug, Clone)]
struct Partial {
    text: bool,
    data: Vec<u8>,
    masked: bool,
    fragments: usize,
    /// The message went over a cap: its remaining fragments are dropped.
    discard: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Frames,
    /// Skipping `remaining` payload bytes of an oversized or compressed frame.
    Skip {
        remaining: u64,
    },
    /// Framing lost; `skipped` bytes ignored since.
    Lost {
        skipped: u64,
    },
    /// A close frame was seen: nothing more is expected in this direction.
    Closed,
}

/// One direction's framer.
#[derive(Debug, Clone)]
pub struct WsFramer {
    buf: Vec<u8>,
    state: State,
    partial: Option<Partial>,
}

impl Default for WsFramer {
    fn default() -> Self {
        Self::new()
    }
}

impl WsFramer {
    pub fn new() -> Self {
        WsFramer {
            buf: Vec::new(),
            state: State::Frames,
            partial: None,
        }
    }

    /// Heap bytes held (frame buffer and partial message).
    pub fn held_bytes(&self) -> usize {
        self.buf.capacity() + self.partial.as_ref().map_or(0, |p| p.data.capacity())
    }

    /// The framing was lost (gap, protocol error, release).
    pub fn is_lost(&self) -> bool {
        matches!(self.state, State::Lost { .. })
    }

    /// Drops what is held, as a gap would (framing cannot be found again).
    pub fn release(&mut self) {
        self.on_gap(0);
    }

    /// `len` bytes of this direction were never captured.
    pub fn on_gap(&mut self, len: u64) {
        if let State::Skip { remaining } = &mut self.state
            && *remaining >= len
            && len > 0
        {
            *remaining -= len;
            return;
        }
        let skipped = self.buf.len() as u64 + len;
        self.buf = Vec::new();
        self.partial = None;
        if !matches!(self.state, State::Lost { .. } | State::Closed) {
            self.state = State::Lost { skipped };
        }
    }

    /// Feeds in-order bytes; messages, control frames and errors go to `out`.
    pub fn push(&mut self, mut data: &[u8], out: &mut Vec<WsEvent>) {
        loop {
            match &mut self.state {
                State::Lost { skipped } => {
                    *skipped = skipped.saturating_add(data.len() as u64);
                    return;
                }
                State::Closed => return,
                State::Skip { remaining } => {
                    let n = (*remaining).min(data.len() as u64) as usize;
                    *remaining -= n as u64;
                    data = &data[n..];
                    if *remaining > 0 {
                        return;
                    }
                    self.state = State::Frames;
                }
                State::Frames => {
                    let h = match FrameHeader::parse(&self.buf) {
                        Ok(h) => h,
                        Err(need) => {
                            if data.is_empty() {
                                return;
                            }
                            let n = need.saturating_sub(self.buf.len()).min(data.len());
                            self.buf.extend_from_slice(&data[..n]);
                            data = &data[n..];
                            continue;
                        }
                    };
                    if let Some(reason) = self.check(&h) {
                        out.push(WsEvent::Error(WsError::Lost { reason }));
                        self.buf = Vec::new();
                        self.partial = None;
                        self.state = State::Lost { skipped: 0 };
                        continue;
                    }
                    if h.len > MAX_MESSAGE as u64 || h.rsv & 0b100 != 0 {
                        out.push(WsEvent::Error(if h.rsv & 0b100 != 0 {
                            WsError::Compressed
                        } else {
                            WsError::TooLarge { declared: h.len }
                        }));
                        self.discard_message(&h);
                        let have = (self.buf.len() - h.header_len) as u64;
                        self.buf.clear();
                        self.state = State::Skip {
                            remaining: h.len - have.min(h.len),
                        };
                        continue;
                    }
                    // h.len <= MAX_MESSAGE: fits in usize.
                    let total = h.header_len + h.len as usize;
                    if self.buf.len() < total {
                        if data.is_empty() {
                            return;
                        }
                        let n = (total - self.buf.len()).min(data.len());
                        self.buf.extend_from_slice(&data[..n]);
                        data = &data[n..];
                        continue;
                    }
                    let mut payload = self.buf[h.header_len..total].to_vec();
                    self.buf.drain(..total);
                    if let Some(k) = h.mask {
                        unmask(&mut payload, k);
                    }
                    self.frame(&h, payload, out);
                }
            }
        }
    }

    /// Header checks that lose the framing (§5.2, §5.5).
    fn check(&self, h: &FrameHeader) -> Option<&'static str> {
        if h.rsv & 0b011 != 0 {
            return Some("RSV2/RSV3 set without a negotiated extension");
        }
        match h.opcode {
            0x3..=0x7 | 0xB..=0xF => Some("reserved opcode"),
            _ if h.is_control() && (!h.fin || h.len > 125) => {
                Some("control frame fragmented or longer than 125 bytes")
            }
            _ => None,
        }
    }

    /// A data frame that will be skipped: its message is dropped whole.
    fn discard_message(&mut self, h: &FrameHeader) {
        if h.is_control() {
            return;
        }
        if h.fin {
            self.partial = None;
        } else {
            self.partial = Some(Partial {
                text: false,
                data: Vec::new(),
                masked: h.mask.is_some(),
                fragments: 1,
                discard: true,
            });
        }
    }

    fn frame(&mut self, h: &FrameHeader, payload: Vec<u8>, out: &mut Vec<WsEvent>) {
        match h.opcode {
            opcode::CLOSE => {
                let code = payload.get(..2).map(|c| u16::from_be_bytes([c[0], c[1]]));
                out.push(WsEvent::Close { code });
                self.buf = Vec::new();
                self.partial = None;
                self.state = State::Closed;
            }
            opcode::PING => out.push(WsEvent::Ping),
            opcode::PONG => out.push(WsEvent::Pong),
            opcode::CONTINUATION => {
                let Some(p) = self.partial.as_mut() else {
                    out.push(WsEvent::Error(WsError::Fragmentation));
                    return;
                };
                p.fragments += 1;
                if !p.discard
                    && (p.data.len() + payload.len() > MAX_MESSAGE || p.fragments > MAX_FRAGMENTS)
                {
                    out.push(WsEvent::Error(WsError::TooLarge {
                        declared: (p.data.len() + payload.len()) as u64,
                    }));
                    p.discard = true;
                    p.data = Vec::new();
                }
                if !p.discard {
                    p.data.extend_from_slice(&payload);
                }
                if h.fin
                    && let Some(p) = self.partial.take()
                    && !p.discard
                {
                    out.push(WsEvent::Message {
                        text: p.text,
                        data: p.data,
                        masked: p.masked,
                        fragments: p.fragments,
                    });
                }
            }
            _ => {
                // TEXT or BINARY (reserved opcodes were refused in `check`).
                if self.partial.take().is_some() {
                    out.push(WsEvent::Error(WsError::Fragmentation));
                }
                let text = h.opcode == opcode::TEXT;
                if h.fin {
                    out.push(WsEvent::Message {
                        text,
                        data: payload,
                        masked: h.mask.is_some(),
                        fragments: 1,
                    });
                } else {
                    self.partial = Some(Partial {
                        text,
                        data: payload,
                        masked: h.mask.is_some(),
                        fragments: 1,
                        discard: false,
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(chunks: &[&[u8]]) -> (WsFramer, Vec<WsEvent>) {
        let mut f = WsFramer::new();
        let mut out = Vec::new();
        for c in chunks {
            f.push(c, &mut out);
        }
        (f, out)
    }

    fn text(s: &str, masked: bool, fragments: usize) -> WsEvent {
        WsEvent::Message {
            text: true,
            data: s.as_bytes().to_vec(),
            masked,
            fragments,
        }
    }

    /// RFC 6455 §5.7 examples, byte for byte.
    #[test]
    fn rfc6455_section_5_7_examples() {
        // A single-frame unmasked text message "Hello".
        let (_, ev) = run(&[&[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]]);
        assert_eq!(ev, [text("Hello", false, 1)]);
        // A single-frame masked text message "Hello".
        let m = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let (_, ev) = run(&[&m]);
        assert_eq!(ev, [text("Hello", true, 1)]);
        // A fragmented unmasked text message "Hel" + "lo".
        let (_, ev) = run(&[&[0x01, 0x03, 0x48, 0x65, 0x6c], &[0x80, 0x02, 0x6c, 0x6f]]);
        assert_eq!(ev, [text("Hello", false, 2)]);
        // Unmasked ping with "Hello" and its masked pong.
        let (_, ev) = run(&[&[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]]);
        assert_eq!(ev, [WsEvent::Ping]);
        let pong = [
            0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        assert_eq!(run(&[&pong]).1, [WsEvent::Pong]);
        // 256 bytes binary in a single unmasked frame (16-bit length).
        let mut b = vec![0x82, 0x7e, 0x01, 0x00];
        b.extend(vec![7u8; 256]);
        let (_, ev) = run(&[&b]);
        assert!(matches!(&ev[0], WsEvent::Message { text: false, data, .. } if data.len() == 256));
        // The masked frame equals what encode_frame writes.
        assert_eq!(
            encode_frame(true, opcode::TEXT, b"Hello", Some([0x37, 0xfa, 0x21, 0x3d])),
            m
        );
    }

    #[test]
    fn every_split_and_every_truncation() {
        let mut s = encode_frame(false, opcode::TEXT, b"{\"id\":1,", Some([1, 2, 3, 4]));
        s.extend(encode_frame(true, opcode::PING, b"", Some([5, 6, 7, 8])));
        s.extend(encode_frame(
            true,
            opcode::CONTINUATION,
            b"\"method\":\"x\"}",
            Some([9, 9, 9, 9]),
        ));
        s.extend(encode_frame(
            true,
            opcode::TEXT,
            &[b'a'; 300],
            Some([0xaa; 4]),
        ));
        s.extend(encode_frame(
            true,
            opcode::CLOSE,
            &1000u16.to_be_bytes(),
            Some([1; 4]),
        ));
        let whole = run(&[&s]).1;
        assert_eq!(whole.len(), 4);
        assert_eq!(whole[0], WsEvent::Ping);
        assert_eq!(whole[1], text("{\"id\":1,\"method\":\"x\"}", true, 2));
        assert_eq!(whole[3], WsEvent::Close { code: Some(1000) });
        for cut in 0..=s.len() {
            assert_eq!(run(&[&s[..cut], &s[cut..]]).1, whole, "cut {cut}");
            // A truncated stream yields a prefix of the events and holds
            // no more than the frame being read.
            let (f, ev) = run(&[&s[..cut]]);
            assert!(whole.starts_with(&ev), "cut {cut}");
            assert!(f.held_bytes() <= 2 * (MAX_HEADER + 300) + 64);
        }
        // Byte by byte.
        let mut f = WsFramer::new();
        let mut out = Vec::new();
        for b in &s {
            f.push(std::slice::from_ref(b), &mut out);
        }
        assert_eq!(out, whole);
    }

    #[test]
    fn oversized_frames_are_skipped_not_buffered() {
        let mut h = vec![0x81, 0x7f];
        h.extend_from_slice(&(u64::MAX).to_be_bytes());
        let (f, ev) = run(&[&h, &vec![0u8; 100_000]]);
        assert_eq!(
            ev,
            [WsEvent::Error(WsError::TooLarge {
                declared: u64::MAX >> 1
            })]
        );
        assert!(f.held_bytes() <= MAX_HEADER + 16);
        // A finite oversized frame is skipped and framing resumes after it.
        let mut s = encode_frame(true, opcode::BINARY, &vec![1; MAX_MESSAGE + 1], None);
        s.extend(encode_frame(true, opcode::TEXT, b"ok", None));
        for cut in [1, 3, 9, 5000, s.len() - 2] {
            let (_, ev) = run(&[&s[..cut], &s[cut..]]);
            assert_eq!(ev.last(), Some(&text("ok", false, 1)), "{cut}");
        }
        // Fragments adding up past the cap.
        let half = vec![b'x'; MAX_MESSAGE / 2 + 1];
        let mut s = encode_frame(false, opcode::TEXT, &half, None);
        s.extend(encode_frame(false, opcode::CONTINUATION, &half, None));
        s.extend(encode_frame(true, opcode::CONTINUATION, &half, None));
        s.extend(encode_frame(true, opcode::TEXT, b"ok", None));
        let (f, ev) = run(&[&s]);
        assert!(matches!(ev[0], WsEvent::Error(WsError::TooLarge { .. })));
        assert_eq!(ev[1], text("ok", false, 1));
        assert!(f.held_bytes() <= MAX_MESSAGE + MAX_HEADER);
    }

    #[test]
    fn protocol_errors_gaps_and_garbage() {
        // Reserved opcode: framing lost.
        let (f, ev) = run(&[&[0x83, 0x00, 0x81, 0x00]]);
        assert!(matches!(ev[..], [WsEvent::Error(WsError::Lost { .. })]));
        assert!(f.is_lost());
        // A fragmented ping.
        let (_, ev) = run(&[&[0x09, 0x00]]);
        assert!(matches!(ev[..], [WsEvent::Error(WsError::Lost { .. })]));
        // Continuation without a start: dropped, framing continues.
        let mut s = encode_frame(true, opcode::CONTINUATION, b"x", None);
        s.extend(encode_frame(true, opcode::TEXT, b"y", None));
        assert_eq!(
            run(&[&s]).1,
            [WsEvent::Error(WsError::Fragmentation), text("y", false, 1)]
        );
        // Compressed message: skipped.
        let mut s = vec![0xc1, 0x02, 0xaa, 0xbb];
        s.extend(encode_frame(true, opcode::TEXT, b"y", None));
        assert_eq!(
            run(&[&s]).1,
            [WsEvent::Error(WsError::Compressed), text("y", false, 1)]
        );
        // A gap mid-frame loses the direction.
        let s = encode_frame(true, opcode::TEXT, b"hello", None);
        let mut f = WsFramer::new();
        let mut out = Vec::new();
        f.push(&s[..3], &mut out);
        f.on_gap(2);
        f.push(&s, &mut out);
        assert!(out.is_empty() && f.is_lost());
        assert_eq!(f.held_bytes(), 0);
        // Garbage never panics.
        let mut x = 0x1234_5678u32;
        let g: Vec<u8> = (0..5000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        for n in 0..200 {
            run(&[&g[n..n + 300]]);
        }
    }
}
