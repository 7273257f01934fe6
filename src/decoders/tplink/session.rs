//! Per-connection state for TCP 9999: one [`XorFramer`] per direction, JSON
//! interpretation, and request/response pairing.
//!
//! # What this module owns
//! The state Suricata keeps in `<proto>.rs` next to its `parser.rs`: it takes
//! in-order bytes and gaps for each direction (from
//! [`crate::flows::tcp::TcpStream`]) and returns [`SessionEvent`]s. It never
//! formats or prints.
//!
//! # Guarantees
//! Bounded: the framers hold at most [`super::parser::MAX_MESSAGE`] bytes
//! each, and at most [`super::message::MAX_PENDING`] requests wait for a
//! reply. A response is paired with the oldest unanswered request that has
//! the same `(module, method)` set (python-kasa sends one request and reads
//! one reply at a time; the protocol has no request IDs).

use super::message::{MessageError, PendingRequests, TplinkMessage};
use super::parser::{FramerEvent, XorFramer};
use crate::decoders::Direction;

/// What a connection produced.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionEvent {
    /// A request (ToServer) or a response (ToClient); for a response,
    /// the request it answers when one was seen.
    Message {
        dir: Direction,
        message: Box<TplinkMessage>,
        request: Option<Box<TplinkMessage>>,
    },
    /// A deciphered message that is not IOT JSON (wrong key stream, other
    /// protocol on 9999, or damage). `plain_len` bytes.
    Undecodable {
        dir: Direction,
        error: MessageError,
        plain_len: usize,
    },
    /// Framing lost; see [`FramerEvent::Desync`].
    Desync { dir: Direction, declared_len: u32 },
    /// Framing found again after `skipped` bytes.
    Resynced { dir: Direction, skipped: u64 },
}

/// TCP 9999 connection state.
#[derive(Debug, Clone, Default)]
pub struct TplinkSession {
    framers: [XorFramer; 2],
    pending: PendingRequests,
    scratch: Vec<FramerEvent>,
}

impl TplinkSession {
    /// `mid_stream`: the capture did not see the connection start, so both
    /// framers hunt for the first message.
    pub fn new(mid_stream: bool) -> Self {
        let f = if mid_stream {
            XorFramer::hunting()
        } else {
            XorFramer::new()
        };
        TplinkSession {
            framers: [f.clone(), f],
            pending: PendingRequests::default(),
            scratch: Vec::new(),
        }
    }

    /// Feeds in-order bytes of one direction.
    pub fn on_data(&mut self, dir: Direction, data: &[u8], out: &mut Vec<SessionEvent>) {
        let mut events = std::mem::take(&mut self.scratch);
        self.framers[dir.index()].push(data, &mut events);
        for e in events.drain(..) {
            out.push(match e {
                FramerEvent::Desync { declared_len } => SessionEvent::Desync { dir, declared_len },
                FramerEvent::Resynced { skipped } => SessionEvent::Resynced { dir, skipped },
                FramerEvent::Message(plain) => match TplinkMessage::parse(&plain) {
                    Err(error) => SessionEvent::Undecodable {
                        dir,
                        error,
                        plain_len: plain.len(),
                    },
                    Ok(message) => {
                        let request = match dir {
                            Direction::ToServer => {
                                self.pending.push(message.clone());
                                None
                            }
                            Direction::ToClient => {
                                self.pending.match_response(&message).map(Box::new)
                            }
                        };
                        SessionEvent::Message {
                            dir,
                            message: Box::new(message),
                            request,
                        }
                    }
                },
            });
        }
        self.scratch = events;
    }

    /// One direction lost `len` bytes.
    pub fn on_gap(&mut self, dir: Direction, len: u64) {
        self.framers[dir.index()].on_gap(len);
    }

    /// Heap bytes the two framers hold (partial messages).
    pub fn held_bytes(&self) -> usize {
        self.framers.iter().map(XorFramer::held_bytes).sum()
    }

    /// Requests sent but not answered (so far).
    pub fn unanswered(&self) -> usize {
        self.pending.len()
    }

    pub fn framer(&self, dir: Direction) -> &XorFramer {
        &self.framers[dir.index()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::tplink::message::{CredentialSource, RelayState, Summary};
    use crate::decoders::tplink::parser::encode_tcp;
    use crate::flows::tcp::{StreamEvent, TcpFlags, TcpStream};

    /// The whole path: segments out of order → reassembly → framing →
    /// JSON → pairing.
    #[test]
    fn reassembled_exchange_pairs_request_and_response() {
        let req = encode_tcp(br#"{"system":{"set_relay_state":{"state":1}}}"#);
        let rsp = encode_tcp(br#"{"system":{"set_relay_state":{"err_code":0}}}"#);
        let mut s = TplinkSession::new(false);
        let mut out = Vec::new();
        let mut c2s = TcpStream::new();
        c2s.push(100, TcpFlags(TcpFlags::SYN), b"", |_| {});
        let feed = |st: &mut TcpStream,
                    seq: u32,
                    p: &[u8],
                    dir,
                    s: &mut TplinkSession,
                    out: &mut Vec<_>| {
            st.push(seq, TcpFlags(TcpFlags::ACK), p, |e| match e {
                StreamEvent::Data(d) => s.on_data(dir, d, out),
                StreamEvent::Gap { len } => s.on_gap(dir, len),
                _ => {}
            });
        };
        feed(
            &mut c2s,
            111,
            &req[10..],
            Direction::ToServer,
            &mut s,
            &mut out,
        );
        assert!(out.is_empty());
        feed(
            &mut c2s,
            101,
            &req[..10],
            Direction::ToServer,
            &mut s,
            &mut out,
        );
        assert_eq!(s.unanswered(), 1);
        let mut s2c = TcpStream::new();
        s2c.push(5000, TcpFlags(TcpFlags::SYN | TcpFlags::ACK), b"", |_| {});
        feed(&mut s2c, 5001, &rsp, Direction::ToClient, &mut s, &mut out);
        assert_eq!(out.len(), 2);
        let SessionEvent::Message {
            message,
            request: None,
            ..
        } = &out[0]
        else {
            panic!("{out:?}")
        };
        assert_eq!(message.summary, [Summary::SetRelayState(RelayState::On)]);
        let SessionEvent::Message {
            request: Some(q),
            dir,
            ..
        } = &out[1]
        else {
            panic!("{out:?}")
        };
        assert_eq!(*dir, Direction::ToClient);
        assert_eq!(q.methods[0].1, "set_relay_state");
        assert_eq!(s.unanswered(), 0);
    }

    #[test]
    fn mid_stream_capture_finds_the_credential_leak() {
        let mut bytes = b"\x00\x01tail of an earlier message".to_vec();
        bytes.extend(encode_tcp(
            br#"{"cnCloud":{"bind":{"username":"a@b.c","password":"pw"}}}"#,
        ));
        let mut s = TplinkSession::new(true);
        let mut out = Vec::new();
        s.on_data(Direction::ToServer, &bytes, &mut out);
        assert!(matches!(out[0], SessionEvent::Resynced { .. }));
        let SessionEvent::Message { message, .. } = &out[1] else {
            panic!()
        };
        assert!(matches!(
            &message.summary[0],
            Summary::CredentialLeak {
                source: CredentialSource::CloudBind,
                ..
            }
        ));
    }

    #[test]
    fn non_json_is_reported() {
        let mut s = TplinkSession::new(false);
        let mut out = Vec::new();
        s.on_data(Direction::ToClient, &encode_tcp(b"not json"), &mut out);
        assert!(matches!(
            out[0],
            SessionEvent::Undecodable { plain_len: 8, .. }
        ));
    }
}
