//! Framing for the XOR transport: TCP 9999 (length-prefixed) and UDP 9999
//! (bare datagrams).
//!
//! # What this module owns
//! Cutting a reassembled TCP direction into messages and deciphering them.
//! What a message *means* is [`super::message`]'s job.
//!
//! # Wire format
//! TCP: a 4-byte big-endian length, then that many bytes of [`super::xor`]
//! ciphertext (python-kasa `XorTransport`: `struct.pack(">I", len)` and a
//! read of exactly `4 + length` bytes; Wireshark `packet-tplink-smarthome.c`
//! uses `tcp_dissect_pdus` on the same prefix). Each message restarts the
//! cipher at key 171. UDP: the ciphertext alone, no prefix (python-kasa
//! `_DiscoverProtocol` sends `encrypt(req)[4:]`); Wireshark requires at least
//! [`MIN_UDP_MESSAGE`] bytes.
//!
//! # Guarantees
//! - [`XorFramer`] accepts any chunking: several messages per chunk, one
//!   message over many chunks. Memory per direction is at most
//!   [`MAX_MESSAGE`] + 4 bytes.
//! - A declared length of 0 or above [`MAX_MESSAGE`] is a desync: a
//!   [`FramerEvent::Desync`] is emitted and the framer hunts for the next
//!   plausible message start (see below) instead of trusting the bytes.
//! - A stream gap ([`XorFramer::on_gap`]) drops any partial message (counted)
//!   and starts a hunt: the bytes after a hole are rarely a message start.
//!
//! # Hunting
//! Every IOT message is a JSON object, so its first plaintext byte is `{` and
//! its first ciphertext byte is [`OPEN_BRACE_CIPHER`] (0xD0). While hunting,
//! the framer looks for four bytes that read as a valid length followed by
//! 0xD0, one byte at a time (`O(n)`, no buffering beyond four bytes). A
//! capture that starts mid-connection should begin with
//! [`XorFramer::hunting`].

use super::xor::{self, OPEN_BRACE_CIPHER};

/// Bytes in the TCP length prefix.
pub const LEN_PREFIX: usize = 4;

/// Largest message accepted, in bytes. The biggest replies seen in
/// python-kasa's fixtures (`get_sysinfo` of a power strip with six children,
/// schedule rule lists) are a few KiB; 64 KiB leaves a wide margin while
/// bounding what a hostile length can make us buffer.
pub const MAX_MESSAGE: usize = 64 * 1024;

/// Smallest UDP message Wireshark's dissector accepts.
pub const MIN_UDP_MESSAGE: usize = 2;

/// Most bytes reserved for a message body before any of it arrives.
pub const BODY_RESERVE_UP_FRONT: usize = 2048;

/// What the framer reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FramerEvent {
    /// One deciphered message (plaintext, normally JSON).
    Message(Vec<u8>),
    /// The length prefix was 0 or above [`MAX_MESSAGE`]; the framer is
    /// hunting for the next message start.
    Desync { declared_len: u32 },
    /// A hunt found a plausible message start after skipping `skipped` bytes.
    Resynced { skipped: u64 },
}

/// Framer counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FramerStats {
    pub messages: u64,
    pub desyncs: u64,
    pub gaps: u64,
    /// Bytes of partial messages thrown away at a gap.
    pub partial_bytes_dropped: u64,
    /// Bytes skipped while hunting.
    pub hunted_bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a length prefix; `hdr[..hdr_len]` holds what has arrived.
    Header,
    /// Reading `len` bytes of ciphertext into `body`.
    Body { len: usize },
    /// Looking for `valid length || 0xD0`.
    Hunting { skipped: u64 },
}

/// Streaming TCP 9999 framer for one direction.
#[derive(Debug, Clone)]
pub struct XorFramer {
    state: State,
    hdr: [u8; LEN_PREFIX],
    hdr_len: usize,
    body: Vec<u8>,
    stats: FramerStats,
}

impl Default for XorFramer {
    fn default() -> Self {
        Self::new()
    }
}

fn valid_len(len: u32) -> bool {
    len >= 1 && len as usize <= MAX_MESSAGE
}

impl XorFramer {
    /// A framer at a message boundary (the stream was seen from its SYN).
    pub fn new() -> Self {
        XorFramer {
            state: State::Header,
            hdr: [0; LEN_PREFIX],
            hdr_len: 0,
            body: Vec::new(),
            stats: FramerStats::default(),
        }
    }

    /// A framer that hunts for the first message start (mid-stream capture).
    pub fn hunting() -> Self {
        XorFramer {
            state: State::Hunting { skipped: 0 },
            ..Self::new()
        }
    }

    pub fn stats(&self) -> &FramerStats {
        &self.stats
    }

    /// True between messages (nothing partial held, not hunting).
    pub fn at_boundary(&self) -> bool {
        self.state == State::Header && self.hdr_len == 0
    }

    /// Feeds in-order bytes; complete messages and errors go to `out`.
    pub fn push(&mut self, mut data: &[u8], out: &mut Vec<FramerEvent>) {
        while !data.is_empty() {
            match self.state {
                State::Header => {
                    let take = (LEN_PREFIX - self.hdr_len).min(data.len());
                    self.hdr[self.hdr_len..self.hdr_len + take].copy_from_slice(&data[..take]);
                    self.hdr_len += take;
                    data = &data[take..];
                    if self.hdr_len == LEN_PREFIX {
                        let len = u32::from_be_bytes(self.hdr);
                        if valid_len(len) {
                            self.start_body(len as usize);
                        } else {
                            self.stats.desyncs += 1;
                            out.push(FramerEvent::Desync { declared_len: len });
                            // Keep the last three bytes: a real header may
                            // start inside the bad one.
                            self.hdr.copy_within(1.., 0);
                            self.hdr_len = LEN_PREFIX - 1;
                            self.stats.hunted_bytes += 1;
                            self.state = State::Hunting { skipped: 1 };
                        }
                    }
                }
                State::Body { len } => {
                    let take = (len - self.body.len()).min(data.len());
                    self.body.extend_from_slice(&data[..take]);
                    data = &data[take..];
                    self.finish_if_complete(out);
                }
                State::Hunting { skipped } => {
                    let b = data[0];
                    data = &data[1..];
                    if self.hdr_len == LEN_PREFIX {
                        let len = u32::from_be_bytes(self.hdr);
                        if valid_len(len) && b == OPEN_BRACE_CIPHER {
                            out.push(FramerEvent::Resynced { skipped });
                            self.start_body(len as usize);
                            self.body.push(b);
                            self.finish_if_complete(out);
                            continue;
                        }
                        self.hdr.copy_within(1.., 0);
                        self.hdr[LEN_PREFIX - 1] = b;
                        self.stats.hunted_bytes += 1;
                        self.state = State::Hunting {
                            skipped: skipped + 1,
                        };
                    } else {
                        self.hdr[self.hdr_len] = b;
                        self.hdr_len += 1;
                    }
                }
            }
        }
    }

    /// Like [`push`](Self::push), returning the events.
    pub fn push_collect(&mut self, data: &[u8]) -> Vec<FramerEvent> {
        let mut out = Vec::new();
        self.push(data, &mut out);
        out
    }

    /// Heap bytes this framer holds (its partial message's allocation).
    pub fn held_bytes(&self) -> usize {
        self.body.capacity()
    }

    /// The stream lost `len` bytes: drop any partial message and hunt.
    pub fn on_gap(&mut self, _len: u64) {
        self.stats.gaps += 1;
        self.stats.partial_bytes_dropped += (self.body.len() + self.hdr_len) as u64;
        self.body = Vec::new();
        self.hdr_len = 0;
        self.state = State::Hunting { skipped: 0 };
    }

    fn start_body(&mut self, len: usize) {
        self.body.clear();
        // Reserve at most a segment's worth up front: the declared length is
        // the sender's word, and 4 bytes claiming 64 KiB on every flow of a
        // full table would otherwise reserve gigabytes. The buffer grows with
        // the bytes that really arrive (at most `len`, at most MAX_MESSAGE).
        self.body.reserve(len.min(BODY_RESERVE_UP_FRONT));
        self.state = State::Body { len };
    }

    fn finish_if_complete(&mut self, out: &mut Vec<FramerEvent>) {
        if let State::Body { len } = self.state
            && self.body.len() == len
        {
            let mut msg = std::mem::take(&mut self.body);
            xor::decrypt_in_place(&mut msg);
            self.stats.messages += 1;
            out.push(FramerEvent::Message(msg));
            self.state = State::Header;
            self.hdr_len = 0;
        }
    }
}

/// Why a UDP 9999 datagram was not deciphered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UdpError {
    /// Fewer than [`MIN_UDP_MESSAGE`] bytes.
    TooShort { len: usize },
    /// More than [`MAX_MESSAGE`] bytes.
    TooLong { len: usize },
}

/// Deciphers one UDP 9999 datagram (no length prefix).
pub fn decode_udp(payload: &[u8]) -> Result<Vec<u8>, UdpError> {
    if payload.len() < MIN_UDP_MESSAGE {
        return Err(UdpError::TooShort { len: payload.len() });
    }
    if payload.len() > MAX_MESSAGE {
        return Err(UdpError::TooLong { len: payload.len() });
    }
    Ok(xor::decrypt(payload))
}

/// Builds a TCP 9999 frame (prefix + ciphertext): the setter side, for tests
/// and synthetic captures.
pub fn encode_tcp(plain: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(LEN_PREFIX + plain.len());
    out.extend_from_slice(&(plain.len() as u32).to_be_bytes());
    out.extend_from_slice(&xor::encrypt(plain));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (flood test, giant length prefixes): a 4-byte prefix
    /// declaring [`MAX_MESSAGE`] must not reserve [`MAX_MESSAGE`] bytes; with
    /// a full flow table that was 8 GiB of reservations from 4-byte payloads.
    #[test]
    fn regression_giant_prefix_reserves_only_what_arrives() {
        let mut f = XorFramer::new();
        let ev = f.push_collect(&(MAX_MESSAGE as u32).to_be_bytes());
        assert!(ev.is_empty());
        assert!(
            f.body.capacity() <= BODY_RESERVE_UP_FRONT,
            "{}",
            f.body.capacity()
        );
        f.push_collect(&[0xd0; 10_000]);
        assert!(f.body.capacity() < 2 * 10_000 + BODY_RESERVE_UP_FRONT);
    }

    const Q: &[u8] = br#"{"system":{"get_sysinfo":{}}}"#;
    const R: &[u8] = br#"{"system":{"set_relay_state":{"err_code":0}}}"#;

    fn msgs(ev: &[FramerEvent]) -> Vec<Vec<u8>> {
        ev.iter()
            .filter_map(|e| match e {
                FramerEvent::Message(m) => Some(m.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn one_frame_decodes() {
        let mut f = XorFramer::new();
        let frame = encode_tcp(Q);
        assert_eq!(&frame[..4], &[0, 0, 0, 29]);
        assert_eq!(f.push_collect(&frame), [FramerEvent::Message(Q.to_vec())]);
        assert!(f.at_boundary());
    }

    #[test]
    fn several_frames_in_one_chunk() {
        let mut f = XorFramer::new();
        let mut buf = encode_tcp(Q);
        buf.extend(encode_tcp(R));
        buf.extend(encode_tcp(Q));
        assert_eq!(msgs(&f.push_collect(&buf)), [Q, R, Q]);
    }

    #[test]
    fn split_at_every_byte_boundary() {
        let mut buf = encode_tcp(Q);
        buf.extend(encode_tcp(R));
        for cut in 0..=buf.len() {
            let mut f = XorFramer::new();
            let mut ev = f.push_collect(&buf[..cut]);
            ev.extend(f.push_collect(&buf[cut..]));
            assert_eq!(msgs(&ev), [Q, R], "cut at {cut}");
        }
    }

    #[test]
    fn one_byte_at_a_time() {
        let buf = encode_tcp(R);
        let mut f = XorFramer::new();
        let mut ev = Vec::new();
        for (i, b) in buf.iter().enumerate() {
            f.push(std::slice::from_ref(b), &mut ev);
            if i + 1 < buf.len() {
                assert!(ev.is_empty(), "incomplete after {} bytes", i + 1);
            }
        }
        assert_eq!(msgs(&ev), [R]);
    }

    #[test]
    fn oversized_length_is_desync_then_resync() {
        let mut f = XorFramer::new();
        let mut buf = vec![0x7f, 0xff, 0xff, 0xff, 1, 2, 3];
        buf.extend(encode_tcp(Q));
        let ev = f.push_collect(&buf);
        assert_eq!(
            ev[0],
            FramerEvent::Desync {
                declared_len: 0x7fff_ffff
            }
        );
        assert!(matches!(ev[1], FramerEvent::Resynced { skipped: 7 }));
        assert_eq!(msgs(&ev), [Q]);
        assert_eq!(f.stats().desyncs, 1);
    }

    #[test]
    fn zero_length_is_desync() {
        let mut f = XorFramer::new();
        let ev = f.push_collect(&[0, 0, 0, 0]);
        assert_eq!(ev, [FramerEvent::Desync { declared_len: 0 }]);
    }

    #[test]
    fn max_message_is_accepted_and_one_more_is_not() {
        let big = vec![b'{'; MAX_MESSAGE];
        let mut f = XorFramer::new();
        assert_eq!(msgs(&f.push_collect(&encode_tcp(&big))).len(), 1);
        let mut f = XorFramer::new();
        let too_big = ((MAX_MESSAGE + 1) as u32).to_be_bytes();
        assert!(matches!(
            f.push_collect(&too_big)[..],
            [FramerEvent::Desync { .. }]
        ));
    }

    #[test]
    fn gap_drops_partial_and_hunts() {
        let mut f = XorFramer::new();
        let a = encode_tcp(Q);
        assert!(f.push_collect(&a[..10]).is_empty());
        f.on_gap(100);
        assert_eq!(f.stats().partial_bytes_dropped, 10);
        // Tail of some other message, then a whole one.
        let mut buf = b"garbage tail".to_vec();
        buf.extend(encode_tcp(R));
        let ev = f.push_collect(&buf);
        assert_eq!(msgs(&ev), [R]);
        assert!(matches!(ev[0], FramerEvent::Resynced { .. }));
    }

    #[test]
    fn hunting_start_split_everywhere() {
        let mut buf = vec![0xd0, 0, 0, 0xd0, 0x11];
        buf.extend(encode_tcp(Q));
        for cut in 0..=buf.len() {
            let mut f = XorFramer::hunting();
            let mut ev = f.push_collect(&buf[..cut]);
            ev.extend(f.push_collect(&buf[cut..]));
            assert_eq!(msgs(&ev), [Q], "cut {cut}");
        }
    }

    #[test]
    fn udp_datagrams() {
        assert_eq!(decode_udp(&xor::encrypt(Q)).unwrap(), Q);
        assert_eq!(decode_udp(&[0xd0]), Err(UdpError::TooShort { len: 1 }));
        assert_eq!(
            decode_udp(&vec![0; MAX_MESSAGE + 1]),
            Err(UdpError::TooLong {
                len: MAX_MESSAGE + 1
            })
        );
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_and_stay_bounded(
            chunks in proptest::collection::vec(
                proptest::collection::vec(proptest::num::u8::ANY, 0..300), 0..30),
            gap_at in 0usize..30,
        ) {
            let mut f = XorFramer::hunting();
            for (i, c) in chunks.iter().enumerate() {
                if i == gap_at { f.on_gap(1); }
                let _ = f.push_collect(c);
                proptest::prop_assert!(f.body.len() <= MAX_MESSAGE);
            }
        }

        #[test]
        fn any_chunking_yields_the_messages(
            sizes in proptest::collection::vec(1usize..50, 1..40),
        ) {
            let mut buf = Vec::new();
            for _ in 0..5 { buf.extend(encode_tcp(Q)); buf.extend(encode_tcp(R)); }
            let mut f = XorFramer::new();
            let mut ev = Vec::new();
            let mut rest = &buf[..];
            for s in sizes.iter().cycle() {
                if rest.is_empty() { break; }
                let n = (*s).min(rest.len());
                f.push(&rest[..n], &mut ev);
                rest = &rest[n..];
            }
            proptest::prop_assert_eq!(msgs(&ev).len(), 10);
        }
    }
}
