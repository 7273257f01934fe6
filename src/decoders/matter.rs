//! Matter on UDP and TCP 5540: labelled, not decrypted.
//!
//! Matter messages are AES-CCM-encrypted under session keys from PASE
//! (commissioning, from the setup code) or CASE (operational, from the
//! fabric's certificates); a passive observer has neither. What is in the
//! clear is parsed and counted (Matter Core specification 1.3 §4.4.1,
//! "Message Header"; field layout as matter.js `MessageCodec`):
//!
//! | off | field | notes |
//! |---|---|---|
//! | 0 | message flags | version (bits 7–4, must be 0), S = source node id present (bit 2), DSIZ (bits 1–0: none, 64-bit node, 16-bit group) |
//! | 1 | session id (LE16) | 0 with session type unicast = unsecured session (establishment) |
//! | 3 | security flags | P privacy (bit 7), C control (bit 6), MX extensions (bit 5), session type (bits 1–0) |
//! | 4 | message counter (LE32) | obfuscated when P is set |
//! | 8 | source node id (LE64) | if S |
//! | … | destination node (LE64) / group (LE16) | per DSIZ |
//! | … | message extensions (LE16 length + data) | if MX |
//!
//! In an unsecured session the protocol header that follows is in the clear
//! too (§4.4.3: exchange flags, opcode, exchange id, optional vendor, protocol id,
//! optional ack counter); its Secure Channel opcodes (§4.11.1, connectedhomeip
//! `SecureChannelConstants.h`) name the establishment steps: PBKDFParamRequest
//! … Pake3 (PASE), Sigma1 … Sigma3 (CASE).
//!
//! Over TCP each message is preceded by its length (LE32, §4.4.7); only
//! the first [`HEADER_PEEK`] bytes of each message are kept, the rest is
//! skipped, so a connection holds at most a few dozen bytes.
//!
//! Findings: on the first message between two hosts a
//! [`Finding::DeviceNote`] and an [`Finding::Undecodable`] labelled
//! [`LABEL`]; then one [`Finding::Undecodable`] per session-establishment
//! message (they are few); encrypted messages are only counted, per host
//! pair, in [`MatterPeers`] (`Shared::matter`).

use std::collections::VecDeque;
use std::net::IpAddr;

use super::services::ServiceKind;
use super::{
    Ctx, Decoder, Direction, Finding, Probe, Registration, ServerIs, StreamDecoder, Transport,
    Verdict,
};
use crate::FastMap;

/// The Matter port (Core spec §2.5.6.3).
pub const PORT: u16 = 5540;
/// Registration name and `protocol` of the UDP registration's findings.
pub const PROTOCOL: &str = "matter";
/// The label and inventory note.
pub const LABEL: &str = "Matter: CASE-encrypted, metadata only";
/// Host pairs counted in [`MatterPeers`].
pub const MAX_PEERS: usize = 1024;
/// Session ids remembered per host pair.
pub const MAX_SESSIONS_PER_PEER: usize = 8;
/// Bytes of each TCP message kept for header parsing (the longest header
/// without extensions is 24 bytes; the unsecured protocol header adds 14).
pub const HEADER_PEEK: usize = 48;
/// Longest TCP message accepted; a larger length prefix means the stream
/// is not Matter framing (or was joined mid-message) and the direction
/// stops being parsed.
pub const MAX_TCP_MESSAGE: u32 = 1 << 20;

/// Where a message is going.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    None,
    Node(u64),
    Group(u16),
}

/// The clear-text message header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub session_id: u16,
    /// 0 unicast, 1 group.
    pub session_type: u8,
    /// P: counter and node ids are obfuscated (privacy).
    pub privacy: bool,
    /// C: a control message (message counter sync).
    pub control: bool,
    pub counter: u32,
    pub source_node: Option<u64>,
    pub destination: Destination,
    /// Bytes of header, extensions included.
    pub len: usize,
}

impl Header {
    /// Session 0 unicast: no keys yet (PASE/CASE establishment, §4.13.2.1).
    pub fn unsecured(&self) -> bool {
        self.session_id == 0 && self.session_type == 0
    }
}

/// Why bytes are not a Matter message header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderError {
    Short {
        need: usize,
        have: usize,
    },
    /// Message format version other than 0.
    Version(u8),
    /// DSIZ = 3 (reserved).
    BadDestination,
    /// Session type 2 or 3 (reserved).
    BadSessionType(u8),
}

fn le(b: &[u8], off: usize, n: usize) -> Result<u64, HeaderError> {
    let s = b.get(off..off + n).ok_or(HeaderError::Short {
        need: off + n,
        have: b.len(),
    })?;
    Ok(s.iter().rev().fold(0u64, |a, &x| (a << 8) | u64::from(x)))
}

/// Parses the message header at the start of `b`.
pub fn parse_header(b: &[u8]) -> Result<Header, HeaderError> {
    let flags = le(b, 0, 1)? as u8;
    if flags >> 4 != 0 {
        return Err(HeaderError::Version(flags >> 4));
    }
    let session_id = le(b, 1, 2)? as u16;
    let sec = le(b, 3, 1)? as u8;
    let session_type = sec & 0x03;
    if session_type > 1 {
        return Err(HeaderError::BadSessionType(session_type));
    }
    let counter = le(b, 4, 4)? as u32;
    let mut off = 8;
    let source_node = if flags & 0x04 != 0 {
        off += 8;
        Some(le(b, off - 8, 8)?)
    } else {
        None
    };
    let destination = match flags & 0x03 {
        0 => Destination::None,
        1 => {
            off += 8;
            Destination::Node(le(b, off - 8, 8)?)
        }
        2 => {
            off += 2;
            Destination::Group(le(b, off - 2, 2)? as u16)
        }
        _ => return Err(HeaderError::BadDestination),
    };
    if sec & 0x20 != 0 {
        let n = le(b, off, 2)? as usize;
        off += 2 + n;
        if off > b.len() {
            return Err(HeaderError::Short {
                need: off,
                have: b.len(),
            });
        }
    }
    Ok(Header {
        session_id,
        session_type,
        privacy: sec & 0x80 != 0,
        control: sec & 0x40 != 0,
        counter,
        source_node,
        destination,
        len: off,
    })
}

/// Secure Channel opcode names (protocol id 0).
pub fn secure_channel_opcode(op: u8) -> Option<&'static str> {
    Some(match op {
        0x00 => "MsgCounterSyncReq",
        0x01 => "MsgCounterSyncRsp",
        0x10 => "MRP standalone ack",
        0x20 => "PASE PBKDFParamRequest",
        0x21 => "PASE PBKDFParamResponse",
        0x22 => "PASE Pake1",
        0x23 => "PASE Pake2",
        0x24 => "PASE Pake3",
        0x30 => "CASE Sigma1",
        0x31 => "CASE Sigma2",
        0x32 => "CASE Sigma3",
        0x33 => "CASE Sigma2_Resume",
        0x40 => "StatusReport",
        0x50 => "ICD CheckIn",
        _ => return None,
    })
}

/// The clear protocol header of an unsecured message: (opcode, exchange
/// id, protocol id).
pub fn protocol_header(payload: &[u8]) -> Option<(u8, u16, u16)> {
    let xflags = *payload.first()?;
    let opcode = *payload.get(1)?;
    let exchange = u16::from_le_bytes([*payload.get(2)?, *payload.get(3)?]);
    let off = if xflags & 0x10 != 0 { 6 } else { 4 };
    let proto = u16::from_le_bytes([*payload.get(off)?, *payload.get(off + 1)?]);
    Some((opcode, exchange, proto))
}

/// What one host pair exchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerStats {
    /// Messages to the server end (port 5540) and from it.
    pub messages: [u64; 2],
    pub bytes: [u64; 2],
    /// Session ids seen (at most [`MAX_SESSIONS_PER_PEER`]).
    pub sessions: Vec<u16>,
    /// Session-establishment messages seen in the clear.
    pub establishment: u64,
    /// Headers that did not parse.
    pub malformed: u64,
}

/// Matter traffic per (client, server) address pair, bounded by
/// [`MAX_PEERS`] (oldest pair forgotten, counted in `evicted`).
#[derive(Debug, Default)]
pub struct MatterPeers {
    map: FastMap<(IpAddr, IpAddr), PeerStats>,
    order: VecDeque<(IpAddr, IpAddr)>,
    pub evicted: u64,
}

impl MatterPeers {
    /// The stats of a pair, created on first sight (`true` then).
    fn entry(&mut self, key: (IpAddr, IpAddr)) -> (&mut PeerStats, bool) {
        let new = !self.map.contains_key(&key);
        if new {
            if self.map.len() >= MAX_PEERS
                && let Some(old) = self.order.pop_front()
            {
                self.map.remove(&old);
                self.evicted += 1;
            }
            self.order.push_back(key);
        }
        (self.map.entry(key).or_default(), new)
    }

    pub fn get(&self, client: IpAddr, server: IpAddr) -> Option<&PeerStats> {
        self.map.get(&(client, server))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&(IpAddr, IpAddr), &PeerStats)> {
        self.map.iter()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Counts one message and pushes its findings.
fn on_message(
    cx: &mut Ctx<'_>,
    dir: Direction,
    transport: &'static str,
    msg: &[u8],
    total_len: u64,
    out: &mut Vec<Finding>,
) {
    let key = (cx.client.ip(), cx.server.ip());
    let parsed = parse_header(msg);
    let (st, first) = cx.shared.matter.entry(key);
    st.messages[dir.index()] += 1;
    st.bytes[dir.index()] += total_len;
    let h = match parsed {
        Ok(h) => h,
        Err(e) => {
            st.malformed += 1;
            out.push(Finding::Undecodable {
                protocol: PROTOCOL,
                dir,
                reason: format!("{transport}: not a Matter message header: {e:?}"),
                label: None,
                http: false,
            });
            return;
        }
    };
    if !st.sessions.contains(&h.session_id) && st.sessions.len() < MAX_SESSIONS_PER_PEER {
        st.sessions.push(h.session_id);
    }
    if first {
        out.push(Finding::DeviceNote {
            protocol: PROTOCOL,
            note: Some(LABEL.to_owned()),
        });
        out.push(Finding::Undecodable {
            protocol: PROTOCOL,
            dir,
            reason: format!(
                "{transport}: session 0x{:04x}{}, counter {}{}",
                h.session_id,
                if h.unsecured() { " (unsecured)" } else { "" },
                h.counter,
                if h.privacy { " (obfuscated)" } else { "" }
            ),
            label: Some(LABEL),
            http: false,
        });
    }
    if h.unsecured() {
        let step = msg
            .get(h.len..)
            .and_then(protocol_header)
            .filter(|(_, _, proto)| *proto == 0)
            .and_then(|(op, ex, _)| secure_channel_opcode(op).map(|n| (n, ex)));
        if let Some((name, ex)) = step.filter(|(n, _)| *n != "MRP standalone ack") {
            st.establishment += 1;
            out.push(Finding::Undecodable {
                protocol: PROTOCOL,
                dir,
                reason: format!(
                    "{transport}: {name} (session establishment in the clear, exchange 0x{ex:04x})"
                ),
                label: Some(LABEL),
                http: false,
            });
        }
    }
}

fn learned(p: &Probe<'_>, a: std::net::SocketAddr) -> bool {
    p.shared.services.kind(a.ip(), a.port()) == Some(ServiceKind::Matter)
}

/// Port 5540 or an announced Matter port, either end.
pub fn probe(p: &Probe<'_>) -> Verdict {
    match p.by_port(&[PORT]) {
        Verdict::NoMatch if learned(p, p.dst) => Verdict::Match(ServerIs::Dst),
        Verdict::NoMatch if learned(p, p.src) => Verdict::Match(ServerIs::Src),
        v => v,
    }
}

/// The UDP decoder.
pub fn on_datagram(cx: &mut Ctx<'_>, dir: Direction, payload: &[u8], out: &mut Vec<Finding>) {
    on_message(cx, dir, "udp", payload, payload.len() as u64, out);
}

/// Matter over UDP.
pub static REGISTRATION_UDP: Registration = Registration {
    name: PROTOCOL,
    transport: Transport::Udp,
    ports: &[PORT],
    probe,
    decoder: Decoder::Datagram(on_datagram),
};

fn new_stream(_p: &Probe<'_>) -> Box<dyn StreamDecoder> {
    Box::new(MatterStream::default())
}

/// Matter over TCP.
pub static REGISTRATION_TCP: Registration = Registration {
    name: PROTOCOL,
    transport: Transport::Tcp,
    ports: &[PORT],
    probe,
    decoder: Decoder::Stream(new_stream),
};

/// One direction of a TCP connection.
#[derive(Debug, Default)]
struct Framer {
    len_buf: [u8; 4],
    len_have: usize,
    /// Bytes of the current message still to come.
    remaining: u64,
    /// The current message's length.
    total: u64,
    peek: Vec<u8>,
    /// Framing lost (gap, absurd length): nothing more is parsed.
    lost: bool,
}

/// Matter over TCP: length-prefixed messages, headers counted.
#[derive(Debug, Default)]
pub struct MatterStream {
    dirs: [Framer; 2],
}

impl StreamDecoder for MatterStream {
    fn on_data(
        &mut self,
        cx: &mut Ctx<'_>,
        dir: Direction,
        mut data: &[u8],
        out: &mut Vec<Finding>,
    ) {
        let f = &mut self.dirs[dir.index()];
        while !data.is_empty() && !f.lost {
            if f.remaining == 0 {
                let n = (4 - f.len_have).min(data.len());
                f.len_buf[f.len_have..f.len_have + n].copy_from_slice(&data[..n]);
                f.len_have += n;
                data = &data[n..];
                if f.len_have < 4 {
                    return;
                }
                f.len_have = 0;
                let len = u32::from_le_bytes(f.len_buf);
                if len == 0 || len > MAX_TCP_MESSAGE {
                    f.lost = true;
                    out.push(Finding::Desync { protocol: "matter" });
                    return;
                }
                f.remaining = u64::from(len);
                f.total = u64::from(len);
                f.peek.clear();
            }
            let take = usize::try_from(f.remaining)
                .unwrap_or(usize::MAX)
                .min(data.len());
            let room = HEADER_PEEK.saturating_sub(f.peek.len()).min(take);
            f.peek.extend_from_slice(&data[..room]);
            data = &data[take..];
            f.remaining -= take as u64;
            if f.remaining == 0 {
                on_message(cx, dir, "tcp", &f.peek, f.total, out);
            }
        }
    }

    fn on_gap(&mut self, _cx: &mut Ctx<'_>, dir: Direction, len: u64, _out: &mut Vec<Finding>) {
        let f = &mut self.dirs[dir.index()];
        if f.remaining >= len && f.len_have == 0 && f.remaining > 0 {
            // The hole is inside a message body: skip it.
            f.remaining -= len;
            if f.remaining == 0 {
                f.peek.clear();
            }
        } else {
            f.lost = true;
        }
    }

    fn held_bytes(&self) -> usize {
        self.dirs.iter().map(|f| f.peek.capacity()).sum()
    }

    fn release(&mut self) {
        for f in &mut self.dirs {
            f.peek = Vec::new();
            f.lost = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::matter as synth;

    #[test]
    fn header_fields_and_truncations() {
        let m = synth::message(
            0x1234,
            77,
            Some(0x1122_3344_5566_7788),
            synth::Dest::Node(9),
            &[0xaa; 20],
        );
        let h = parse_header(&m).unwrap();
        assert_eq!((h.session_id, h.counter), (0x1234, 77));
        assert_eq!(h.source_node, Some(0x1122_3344_5566_7788));
        assert_eq!(h.destination, Destination::Node(9));
        assert_eq!(h.len, 24);
        assert!(!h.unsecured());
        for n in 0..24 {
            assert!(
                matches!(parse_header(&m[..n]), Err(HeaderError::Short { .. })),
                "{n}"
            );
        }
        let g = synth::message(5, 1, None, synth::Dest::Group(0x0101), &[]);
        assert_eq!(
            parse_header(&g).unwrap().destination,
            Destination::Group(0x0101)
        );
        assert_eq!(
            parse_header(&[0x10, 0, 0, 0, 0, 0, 0, 0]),
            Err(HeaderError::Version(1))
        );
        assert_eq!(
            parse_header(&[0x03, 0, 0, 0, 0, 0, 0, 0]),
            Err(HeaderError::BadDestination)
        );
        assert_eq!(
            parse_header(&[0, 0, 0, 2, 0, 0, 0, 0]),
            Err(HeaderError::BadSessionType(2))
        );
        // Message extensions whose length runs past the end.
        assert!(matches!(
            parse_header(&[0, 0, 0, 0x20, 0, 0, 0, 0, 0xff, 0xff]),
            Err(HeaderError::Short { .. })
        ));
    }

    #[test]
    fn establishment_opcodes() {
        let m = synth::sigma1(3);
        let h = parse_header(&m).unwrap();
        assert!(h.unsecured());
        assert_eq!(protocol_header(&m[h.len..]), Some((0x30, 3, 0)));
        assert_eq!(secure_channel_opcode(0x30), Some("CASE Sigma1"));
    }
}

#[cfg(test)]
mod flow_tests {
    use super::*;
    use crate::decoders::{DecoderConfig, Shared, test_ctx};
    use crate::synth::matter as synth;

    fn labels(out: &[Finding]) -> Vec<&str> {
        out.iter()
            .filter_map(|f| match f {
                Finding::Undecodable { reason, .. } => Some(reason.as_str()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn udp_counts_and_labels() {
        let mut sh = Shared::new(DecoderConfig::default());
        let mut out = Vec::new();
        {
            let mut cx = test_ctx(&mut sh, "[fe80::1]:5540", "[fe80::2]:5540");
            on_datagram(&mut cx, Direction::ToServer, &synth::sigma1(7), &mut out);
            for c in 0..10 {
                let m = synth::message(0x4242, c, None, synth::Dest::None, &[0x77; 40]);
                on_datagram(&mut cx, Direction::ToClient, &m, &mut out);
            }
            on_datagram(&mut cx, Direction::ToServer, &[0xff; 3], &mut out);
        }
        assert!(
            matches!(&out[0], Finding::DeviceNote { protocol: "matter", note: Some(n) } if n == LABEL)
        );
        let l = labels(&out);
        assert_eq!(l.len(), 3, "{l:?}");
        assert!(l[0].contains("session 0x0000 (unsecured)"));
        assert!(l[1].contains("CASE Sigma1"));
        assert!(l[2].contains("not a Matter message header"));
        let st = sh
            .matter
            .get("fe80::1".parse().unwrap(), "fe80::2".parse().unwrap())
            .unwrap();
        assert_eq!(st.messages, [2, 10]);
        assert_eq!(st.sessions, vec![0, 0x4242]);
        assert_eq!((st.establishment, st.malformed), (1, 1));
    }

    #[test]
    fn tcp_framing_in_any_segmentation_and_caps() {
        let msgs: Vec<Vec<u8>> = (0..5)
            .map(|c| synth::message(9, c, Some(1), synth::Dest::Node(2), &vec![0x11; 300]))
            .collect();
        let stream = synth::tcp_stream(&msgs);
        for chunk in [1, 3, 64, stream.len()] {
            let mut sh = Shared::new(DecoderConfig::default());
            {
                let mut cx = test_ctx(&mut sh, "10.0.0.1:40000", "10.0.0.2:5540");
                let mut s = MatterStream::default();
                let mut out = Vec::new();
                for c in stream.chunks(chunk) {
                    s.on_data(&mut cx, Direction::ToServer, c, &mut out);
                    assert!(s.held_bytes() <= 2 * HEADER_PEEK.next_power_of_two());
                }
            }
            let st = sh
                .matter
                .get("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap())
                .unwrap();
            assert_eq!(st.messages[0], 5, "{chunk}");
            assert_eq!(st.bytes[0], 5 * 324);
        }
        // An absurd length prefix stops the direction.
        let mut sh = Shared::new(DecoderConfig::default());
        let mut cx = test_ctx(&mut sh, "10.0.0.1:40000", "10.0.0.2:5540");
        let mut s = MatterStream::default();
        let mut out = Vec::new();
        s.on_data(
            &mut cx,
            Direction::ToServer,
            &[0xff, 0xff, 0xff, 0x7f, 1, 2, 3],
            &mut out,
        );
        assert_eq!(out, vec![Finding::Desync { protocol: "matter" }]);
        s.on_data(&mut cx, Direction::ToServer, &stream, &mut out);
        assert_eq!(out.len(), 1);
    }
}
