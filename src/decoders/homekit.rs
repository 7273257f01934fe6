//! HomeKit Accessory Protocol over TCP: labelled, not decrypted.
//!
//! A HAP connection (HAP specification R2, §5 "Pairing", §6.5 "Secure
//! Session") starts in plain HTTP for `POST /pair-setup` or `POST
//! /pair-verify` (TLV8 bodies, `application/pairing+tlv8`); after
//! pair-verify both directions switch to ChaCha20-Poly1305 frames: a 2-byte
//! little-endian length (at most [`MAX_FRAME`]) in the clear as additional
//! data, the ciphertext, a 16-byte tag. The session keys come from an
//! ECDH exchange, so a passive observer cannot decrypt; this decoder names
//! the plaintext steps and counts encrypted frames.
//!
//! The probe claims only flows to a port an accessory announced in its
//! `_hap._tcp` SRV record ([`crate::decoders::services::ServicePorts`]):
//! HAP has no fixed port.
//!
//! Bounded: at most [`MAX_HEAD`] bytes of a plaintext head are held per
//! direction; frames are skipped, never buffered.
//!
//! Findings: a [`Finding::DeviceNote`] on the first data; one
//! [`Finding::Undecodable`] labelled [`LABEL`] per plaintext request; one
//! at the end of the connection with the frame counts.

use super::services::ServiceKind;
use super::{
    Ctx, Decoder, Direction, Finding, Probe, Registration, ServerIs, StreamDecoder, Transport,
    Verdict,
};

/// Registration name and the `protocol` of its findings.
pub const PROTOCOL: &str = "homekit";
/// The label and inventory note.
pub const LABEL: &str = "HomeKit: HAP session encrypted, metadata only";
/// Largest encrypted frame payload (HAP R2 §6.5.2: "up to 1024 bytes").
pub const MAX_FRAME: usize = 1024;
/// Authentication tag after each frame.
const TAG_LEN: usize = 16;
/// Longest plaintext HTTP head held (pairing requests are < 300 bytes).
pub const MAX_HEAD: usize = 2048;

const STARTS: [&[u8]; 4] = [b"POST /", b"GET /", b"PUT /", b"HTTP/1."];

/// Flows to or from a port announced by `_hap._tcp`.
pub fn probe(p: &Probe<'_>) -> Verdict {
    let hap = |a: std::net::SocketAddr| {
        p.shared.services.kind(a.ip(), a.port()) == Some(ServiceKind::HomeKit)
    };
    if hap(p.dst) {
        Verdict::Match(ServerIs::Dst)
    } else if hap(p.src) {
        Verdict::Match(ServerIs::Src)
    } else {
        Verdict::NoMatch
    }
}

fn new_decoder(_p: &Probe<'_>) -> Box<dyn StreamDecoder> {
    Box::new(HapConn::default())
}

/// HomeKit over TCP (ports learned from mDNS).
pub static REGISTRATION: Registration = Registration {
    name: PROTOCOL,
    transport: Transport::Tcp,
    ports: &[],
    probe,
    decoder: Decoder::Stream(new_decoder),
};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
enum Phase {
    /// At a message boundary, nothing buffered.
    #[default]
    Boundary,
    /// Reading a plaintext HTTP head.
    Head(Vec<u8>),
    /// Skipping a plaintext body.
    Body(u64),
    /// Reading an encrypted frame's 2-byte length (`have` bytes so far).
    FrameLen { buf: [u8; 2], have: usize },
    /// Skipping a frame's ciphertext and tag.
    Frame(usize),
    /// Framing lost: the rest of the direction is counted as bytes only.
    Lost,
}

/// One direction.
#[derive(Debug, Default)]
struct Side {
    phase: Phase,
    encrypted: bool,
    /// Encrypted frames completed.
    frames: u64,
    plain_messages: u64,
    bytes: u64,
}

/// One HAP connection.
#[derive(Debug, Default)]
pub struct HapConn {
    sides: [Side; 2],
    noted: bool,
}

fn content_length(head: &[u8]) -> u64 {
    let text = String::from_utf8_lossy(head);
    text.split("\r\n")
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0)
}

impl Side {
    /// Feeds bytes; returns the first line of each completed plaintext head.
    fn push(&mut self, mut data: &[u8], lines: &mut Vec<String>) {
        self.bytes += data.len() as u64;
        while !data.is_empty() {
            match &mut self.phase {
                Phase::Lost => return,
                Phase::Boundary => {
                    let n = data.len().min(7);
                    let looks_http = !self.encrypted
                        && STARTS
                            .iter()
                            .any(|s| s.starts_with(&data[..n.min(s.len())]));
                    self.phase = if looks_http {
                        Phase::Head(Vec::new())
                    } else {
                        self.encrypted = true;
                        Phase::FrameLen {
                            buf: [0; 2],
                            have: 0,
                        }
                    };
                }
                Phase::Head(h) => {
                    let room = (MAX_HEAD + 4).saturating_sub(h.len());
                    let n = room.min(data.len());
                    let before = h.len();
                    h.extend_from_slice(&data[..n]);
                    match h.windows(4).position(|w| w == b"\r\n\r\n") {
                        Some(end) => {
                            let used = end + 4 - before;
                            data = &data[used..];
                            let first = h.split(|&b| b == b'\r').next().unwrap_or_default();
                            lines.push(
                                crate::wire::dns::LabelText(&first[..first.len().min(80)])
                                    .to_string(),
                            );
                            self.plain_messages += 1;
                            let cl = content_length(&h[..end]);
                            self.phase = if cl > 0 {
                                Phase::Body(cl)
                            } else {
                                Phase::Boundary
                            };
                        }
                        None if h.len() > MAX_HEAD => self.phase = Phase::Lost,
                        None => return,
                    }
                }
                Phase::Body(rem) => {
                    let n = (*rem).min(data.len() as u64);
                    *rem -= n;
                    data = &data[n as usize..];
                    if *rem == 0 {
                        self.phase = Phase::Boundary;
                    }
                }
                Phase::FrameLen { buf, have } => {
                    let n = (2 - *have).min(data.len());
                    buf[*have..*have + n].copy_from_slice(&data[..n]);
                    *have += n;
                    data = &data[n..];
                    if *have == 2 {
                        let len = usize::from(u16::from_le_bytes(*buf));
                        self.phase = if len == 0 || len > MAX_FRAME {
                            Phase::Lost
                        } else {
                            Phase::Frame(len + TAG_LEN)
                        };
                    }
                }
                Phase::Frame(rem) => {
                    let n = (*rem).min(data.len());
                    *rem -= n;
                    data = &data[n..];
                    if *rem == 0 {
                        self.frames += 1;
                        self.phase = Phase::FrameLen {
                            buf: [0; 2],
                            have: 0,
                        };
                    }
                }
            }
        }
    }
}

impl StreamDecoder for HapConn {
    fn on_data(&mut self, _cx: &mut Ctx<'_>, dir: Direction, data: &[u8], out: &mut Vec<Finding>) {
        if !self.noted {
            self.noted = true;
            out.push(Finding::DeviceNote {
                protocol: PROTOCOL,
                note: Some(LABEL.to_owned()),
            });
        }
        let mut lines = Vec::new();
        self.sides[dir.index()].push(data, &mut lines);
        for l in lines {
            let what = if l.contains("/pair-setup") {
                "pairing (pair-setup, SRP) in the clear, TLV8 not decoded"
            } else if l.contains("/pair-verify") {
                "session setup (pair-verify, X25519) in the clear, TLV8 not decoded"
            } else {
                "plaintext HTTP before the secure session"
            };
            out.push(Finding::Undecodable {
                protocol: PROTOCOL,
                dir,
                reason: format!("{l}: {what}"),
                label: Some(LABEL),
                http: false,
            });
        }
    }

    fn on_gap(&mut self, _cx: &mut Ctx<'_>, dir: Direction, len: u64, _out: &mut Vec<Finding>) {
        let side = &mut self.sides[dir.index()];
        side.bytes += len;
        side.phase = match side.phase {
            Phase::Body(rem) if rem > len => Phase::Body(rem - len),
            Phase::Body(rem) if rem == len => Phase::Boundary,
            Phase::Frame(rem) if rem as u64 > len => Phase::Frame(rem - len as usize),
            _ => Phase::Lost,
        };
    }

    fn on_close(&mut self, _cx: &mut Ctx<'_>, out: &mut Vec<Finding>) {
        let [to, from] = &self.sides;
        if to.bytes + from.bytes == 0 {
            return;
        }
        out.push(Finding::Undecodable {
            protocol: PROTOCOL,
            dir: Direction::ToServer,
            reason: format!(
                "connection closed: {} encrypted frames ({} bytes) to the accessory, {} ({} bytes) from it; {} plaintext pairing messages",
                to.frames, to.bytes, from.frames, from.bytes, to.plain_messages + from.plain_messages
            ),
            label: Some(LABEL),
            http: false,
        });
    }

    fn held_bytes(&self) -> usize {
        self.sides
            .iter()
            .map(|s| match &s.phase {
                Phase::Head(h) => h.capacity(),
                _ => 0,
            })
            .sum()
    }

    fn release(&mut self) {
        for s in &mut self.sides {
            if let Phase::Head(_) = s.phase {
                s.phase = Phase::Lost;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(len: usize) -> Vec<u8> {
        let mut v = (len as u16).to_le_bytes().to_vec();
        v.extend(std::iter::repeat_n(0xee, len + TAG_LEN));
        v
    }

    #[test]
    fn plaintext_then_frames_in_any_segmentation() {
        let mut stream = b"POST /pair-verify HTTP/1.1\r\nHost: Eve._hap._tcp.local\r\nContent-Length: 5\r\nContent-Type: application/pairing+tlv8\r\n\r\n\x06\x01\x01\x03\x00".to_vec();
        for n in [10, 1024, 1, 300] {
            stream.extend_from_slice(&frame(n));
        }
        for chunk in [1, 2, 3, 7, 64, stream.len()] {
            let mut s = Side::default();
            let mut lines = Vec::new();
            for c in stream.chunks(chunk) {
                s.push(c, &mut lines);
            }
            assert_eq!(
                lines,
                vec!["POST /pair-verify HTTP/1.1".to_owned()],
                "{chunk}"
            );
            assert_eq!((s.frames, s.plain_messages), (4, 1), "{chunk}");
            assert!(s.encrypted);
            assert_eq!(
                s.phase,
                Phase::FrameLen {
                    buf: [0; 2],
                    have: 0
                }
            );
        }
        // An oversized frame length loses the framing.
        let mut s = Side::default();
        s.push(&frame(10), &mut Vec::new());
        s.push(&[0x01, 0x08], &mut Vec::new());
        assert_eq!(s.phase, Phase::Lost);
        // A head that never ends is dropped at MAX_HEAD.
        let mut s = Side::default();
        s.push(b"GET /", &mut Vec::new());
        s.push(&[b'a'; MAX_HEAD + 10], &mut Vec::new());
        assert_eq!(s.phase, Phase::Lost);
    }
}

#[cfg(test)]
mod conn_tests {
    use super::*;
    use crate::decoders::{DecoderConfig, Shared, test_ctx};

    #[test]
    fn probe_uses_learned_ports_and_conn_reports_counts() {
        let mut sh = Shared::new(DecoderConfig::default());
        let p = |sh: &Shared, dst: &str| {
            probe(&Probe {
                src: "192.168.0.23:50000".parse().unwrap(),
                dst: dst.parse().unwrap(),
                payload: b"",
                syn: true,
                mid_stream: false,
                shared: sh,
            })
        };
        assert_eq!(p(&sh, "192.168.0.71:51827"), Verdict::NoMatch);
        // What an `_hap._tcp` SRV record teaches (decoders::mdns).
        sh.services
            .learn("192.168.0.71".parse().unwrap(), 51827, ServiceKind::HomeKit);
        assert_eq!(p(&sh, "192.168.0.71:51827"), Verdict::Match(ServerIs::Dst));
        let mut cx = test_ctx(&mut sh, "192.168.0.23:50000", "192.168.0.71:51827");
        let mut c = HapConn::default();
        let mut out = Vec::new();
        c.on_data(
            &mut cx,
            Direction::ToServer,
            b"POST /pair-verify HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
            &mut out,
        );
        c.on_data(&mut cx, Direction::ToServer, &[4, 0, 1, 2, 3, 4], &mut out);
        c.on_data(&mut cx, Direction::ToServer, &[0; 16], &mut out);
        c.on_close(&mut cx, &mut out);
        assert!(matches!(
            &out[0],
            Finding::DeviceNote {
                protocol: "homekit",
                ..
            }
        ));
        let reasons: Vec<&str> = out
            .iter()
            .filter_map(|f| match f {
                Finding::Undecodable {
                    reason,
                    label: Some(l),
                    ..
                } if *l == LABEL => Some(reason.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(reasons.len(), 2);
        assert!(reasons[0].starts_with("POST /pair-verify HTTP/1.1: session setup"));
        assert!(
            reasons[1].starts_with("connection closed: 1 encrypted frames"),
            "{}",
            reasons[1]
        );
    }
}
