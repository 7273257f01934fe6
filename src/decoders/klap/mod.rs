//! KLAP: the HTTP transport of newer Kasa and Tapo devices (TCP 80), and
//! honest labels for what a passive observer cannot decrypt.
//!
//! Layout, after Suricata's per-protocol split:
//! - [`crypto`]: auth hashes (v1, v2), handshake hashes, session keys, the
//!   AES-128-CBC message cipher and its signature.
//! - [`parser`]: what an HTTP request is (handshake1/2, `request?seq=N`, the
//!   AES transport, other HTTP). Stateless.
//! - [`session`]: credentials to try, sessions established by captured
//!   handshakes (shared across TCP connections), request/response pairing,
//!   decryption and the inner JSON (IOT or SMART, via
//!   [`crate::decoders::tplink::smart::parse_any`]).
//!
//! HTTP framing is [`crate::decoders::http`]. The reference for every
//! formula is python-kasa `kasa/transports/klaptransport.py`; see
//! PROTOCOLS.md §5.2.

pub mod crypto;
pub mod parser;
pub mod session;

use crate::decoders::tplink::discovery::TPAP_LABEL;
use crate::decoders::{
    Ctx, Decoder, Direction, Finding, KlapSessionFinding, MessageMeta, Probe, Registration,
    ServerIs, StreamDecoder, Transport, Verdict,
};
use session::{KlapConn, KlapEvent, Label};

/// Protocol name of KLAP events.
pub const PROTOCOL: &str = "tplink-klap";
/// HTTP port of KLAP and the AES transport (python-kasa fixtures: every
/// KLAP/AES device announces `http_port` 80).
pub const KLAP_PORT: u16 = 80;

/// KLAP on TCP 80, or on the `http_port` a device announced over TDP.
pub static REGISTRATION: Registration = Registration {
    name: PROTOCOL,
    transport: Transport::Tcp,
    ports: &[KLAP_PORT],
    probe,
    decoder: Decoder::Stream(|p| {
        Box::new(KlapStream {
            conn: KlapConn::new(p.mid_stream),
        })
    }),
};

fn probe(p: &Probe<'_>) -> Verdict {
    let announced = |a: std::net::SocketAddr| p.shared.tdp.http_port(a.ip()) == Some(a.port());
    if p.dst.port() == KLAP_PORT || announced(p.dst) {
        Verdict::Match(ServerIs::Dst)
    } else if p.src.port() == KLAP_PORT || announced(p.src) {
        Verdict::Match(ServerIs::Src)
    } else {
        Verdict::NoMatch
    }
}

struct KlapStream {
    conn: KlapConn,
}

impl StreamDecoder for KlapStream {
    fn on_data(&mut self, cx: &mut Ctx<'_>, dir: Direction, data: &[u8], out: &mut Vec<Finding>) {
        let mut evs = Vec::new();
        let pair = (cx.client.ip(), cx.server.ip());
        self.conn
            .on_data(dir, data, &mut cx.shared.klap, pair, &mut evs);
        for ev in evs {
            findings(cx, ev, out);
        }
    }
    fn on_gap(&mut self, _cx: &mut Ctx<'_>, dir: Direction, len: u64, _out: &mut Vec<Finding>) {
        self.conn.on_gap(dir, len);
    }
    fn held_bytes(&self) -> usize {
        self.conn.held_bytes()
    }
    fn release(&mut self) {
        self.conn.release();
    }
}

/// Turns the KLAP decoder's output into findings, notes and labels.
fn findings(cx: &Ctx<'_>, ev: KlapEvent, out: &mut Vec<Finding>) {
    match ev {
        KlapEvent::Handshake { matched, tried } => {
            let note = match &matched {
                Some((v, a)) => format!("KLAP {}: decrypted with {a}", v.name()),
                None => format!(
                    "{} (server hash matched none of {tried} tried credentials)",
                    Label::CredentialsNeeded.as_str()
                ),
            };
            out.push(Finding::KlapSession(KlapSessionFinding {
                matched: matched.map(|(v, a)| (v.name(), a)),
                tried,
            }));
            out.push(Finding::DeviceNote {
                protocol: "klap",
                note: Some(note),
            });
        }
        KlapEvent::Message { dir, message, info } => {
            let mut m = crate::decoders::tplink::app_message(
                *message, PROTOCOL, "http", "klap", dir, false,
            );
            m.meta = Some(MessageMeta::Klap {
                version: info.version.name(),
                seq: info.seq,
                credentials: info.account,
                signature_ok: info.signature_ok,
            });
            out.push(Finding::Message(Box::new(m)));
        }
        KlapEvent::Label { dir, label, detail } => {
            // A device that announced TPAP over TDP speaks it here.
            let (label_str, detail) = match (label, cx.shared.tdp.encrypt_type(cx.server.ip())) {
                (Label::NotKlap, Some(e)) if e.eq_ignore_ascii_case("TPAP") => {
                    (TPAP_LABEL, format!("{detail} (device announced TPAP)"))
                }
                _ => (label.as_str(), detail),
            };
            // The handshake already noted "credentials needed", with the count.
            if matches!(
                label,
                Label::HandshakeNotCaptured | Label::AesPassthrough | Label::NotKlap
            ) {
                out.push(Finding::DeviceNote {
                    protocol: "klap",
                    note: Some(label_str.to_string()),
                });
            }
            out.push(Finding::Undecodable {
                protocol: PROTOCOL,
                dir,
                reason: format!("{label_str}: {detail}"),
                label: Some(label_str),
                http: false,
            });
        }
        KlapEvent::Http { dir: _, error } => {
            if matches!(error, crate::decoders::http::HttpError::Resynced { .. }) {
                out.push(Finding::Desync { protocol: "http" });
            } else {
                out.push(Finding::Undecodable {
                    protocol: "http",
                    dir: Direction::ToServer,
                    reason: format!("HTTP: {error:?}"),
                    label: Some("HTTP: framing error"),
                    http: true,
                });
            }
        }
    }
}
