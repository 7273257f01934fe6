//! TP-Link Kasa "IOT" protocol: the autokey XOR transport on TCP/UDP 9999 and
//! TDP discovery on UDP 20002.
//!
//! Layout, after Suricata's per-protocol split:
//! - [`xor`]: the cipher.
//! - [`parser`]: TCP 9999 length-prefixed framing (streaming, gap-aware) and
//!   UDP 9999 datagrams.
//! - [`message`]: the JSON vocabulary: what a decrypted message asks or says.
//! - [`session`]: per-connection state: both framers, interpretation and
//!   request/response pairing.
//! - [`discovery`]: TDP (UDP 20002) header, CRC and JSON body.
//!
//! Sources: softScheck/tplink-smartplug, python-kasa (`kasa/transports/`,
//! `kasa/discover.py`), Wireshark `packet-tplink-smarthome.c`. TP-Link
//! publishes no specification.

pub mod discovery;
pub mod message;
pub mod parser;
pub mod session;
pub mod smart;
pub mod xor;

use crate::decoders::{
    Announce, AppMessage, Ctx, Decoder, Direction, DiscoveryFinding, Finding, MessageKind, Probe,
    Registration, ServerIs, StreamDecoder, Transport, Verdict,
};
use message::TplinkMessage;
use session::{SessionEvent, TplinkSession};

/// Protocol name of the XOR protocol's events.
pub const XOR_PROTOCOL: &str = "tplink-smarthome";
/// TCP/UDP port of the XOR protocol (softScheck, python-kasa).
pub const XOR_PORT: u16 = 9999;

/// The XOR protocol on TCP 9999: 4-byte length + autokey XOR JSON.
pub static XOR_TCP: Registration = Registration {
    name: XOR_PROTOCOL,
    transport: Transport::Tcp,
    ports: &[XOR_PORT],
    probe: |p| p.by_port(&[XOR_PORT]),
    decoder: Decoder::Stream(|p| {
        Box::new(XorStream {
            session: TplinkSession::new(p.mid_stream),
        })
    }),
};

/// The XOR protocol on UDP 9999: discovery broadcasts and their replies.
pub static XOR_UDP: Registration = Registration {
    name: XOR_PROTOCOL,
    transport: Transport::Udp,
    ports: &[XOR_PORT],
    probe: probe_src_first(XOR_PORT),
    decoder: Decoder::Datagram(xor_datagram),
};

/// TDP discovery on UDP 20002.
pub static TDP: Registration = Registration {
    name: discovery::TDP_PROTOCOL,
    transport: Transport::Udp,
    ports: &[discovery::TDP_PORT],
    probe: probe_src_first(discovery::TDP_PORT),
    decoder: Decoder::Datagram(tdp_datagram),
};

/// A datagram from the well-known port is the device's (a reply); one to
/// it, a query.
const fn probe_src_first(port: u16) -> fn(&Probe<'_>) -> Verdict {
    match port {
        XOR_PORT => |p| src_first(p, XOR_PORT),
        _ => |p| src_first(p, discovery::TDP_PORT),
    }
}

fn src_first(p: &Probe<'_>, port: u16) -> Verdict {
    if p.src.port() == port {
        Verdict::Match(ServerIs::Src)
    } else if p.dst.port() == port {
        Verdict::Match(ServerIs::Dst)
    } else {
        Verdict::NoMatch
    }
}

/// An IOT message as a finding.
pub(crate) fn app_message(
    m: TplinkMessage,
    protocol: &'static str,
    transport: &'static str,
    via: &'static str,
    dir: Direction,
    paired: bool,
) -> AppMessage {
    AppMessage {
        protocol,
        transport,
        dir,
        kind: match dir {
            Direction::ToServer => MessageKind::Request,
            Direction::ToClient => MessageKind::Response,
        },
        methods: m.methods.iter().map(|(m, f)| format!("{m}.{f}")).collect(),
        summary: m.summary,
        json: m.raw_json,
        meta: None,
        paired,
        via,
    }
}

struct XorStream {
    session: TplinkSession,
}

impl StreamDecoder for XorStream {
    fn on_data(&mut self, _cx: &mut Ctx<'_>, dir: Direction, data: &[u8], out: &mut Vec<Finding>) {
        let mut evs = Vec::new();
        self.session.on_data(dir, data, &mut evs);
        for ev in evs {
            out.push(match ev {
                SessionEvent::Message { dir, message, .. } => Finding::Message(Box::new(
                    app_message(*message, XOR_PROTOCOL, "tcp", "xor-tcp", dir, true),
                )),
                SessionEvent::Undecodable {
                    dir,
                    error,
                    plain_len,
                } => Finding::Undecodable {
                    protocol: XOR_PROTOCOL,
                    dir,
                    reason: format!("{plain_len} bytes deciphered, not IOT JSON: {error:?}"),
                    label: None,
                    http: false,
                },
                SessionEvent::Desync { .. } | SessionEvent::Resynced { .. } => Finding::Desync {
                    protocol: XOR_PROTOCOL,
                },
            });
        }
    }
    fn on_gap(&mut self, _cx: &mut Ctx<'_>, dir: Direction, len: u64, _out: &mut Vec<Finding>) {
        self.session.on_gap(dir, len);
    }
    fn held_bytes(&self) -> usize {
        self.session.held_bytes()
    }
    fn release(&mut self) {
        self.session.on_gap(Direction::ToServer, 0);
        self.session.on_gap(Direction::ToClient, 0);
    }
}

fn xor_datagram(_cx: &mut Ctx<'_>, dir: Direction, payload: &[u8], out: &mut Vec<Finding>) {
    let decoded = parser::decode_udp(payload)
        .map_err(|e| format!("{e:?}"))
        .and_then(|plain| TplinkMessage::parse(&plain).map_err(|e| format!("{e:?}")));
    out.push(match decoded {
        Ok(m) => Finding::Message(Box::new(app_message(
            m,
            XOR_PROTOCOL,
            "udp",
            "xor-udp",
            dir,
            false,
        ))),
        Err(reason) => Finding::Undecodable {
            protocol: XOR_PROTOCOL,
            dir,
            reason,
            label: None,
            http: false,
        },
    });
}

fn tdp_datagram(cx: &mut Ctx<'_>, dir: Direction, payload: &[u8], out: &mut Vec<Finding>) {
    use discovery::DiscoveryInfo;
    let Ok(m) = discovery::parse_tdp(payload) else {
        return;
    };
    let mut summary = Vec::new();
    let mut announce = None;
    match &m.info {
        DiscoveryInfo::Query { rsa_key } => {
            summary.push("discovery query".to_string());
            if rsa_key.is_some() {
                summary.push(
                    "carries the app's RSA public key (replies are RSA-encrypted to it)".into(),
                );
            }
        }
        DiscoveryInfo::Reply(a) => {
            let mut s = String::from("device announces");
            for (k, v) in [
                ("model", &a.device_model),
                ("type", &a.device_type),
                ("mac", &a.mac),
                ("ip", &a.ip),
                ("encryption", &a.encrypt_type),
            ] {
                if let Some(v) = v {
                    s.push_str(&format!(" {k}={v}"));
                }
            }
            if let Some(p) = a.http_port {
                s.push_str(&format!(" http_port={p}"));
            }
            summary.push(s);
            if a.encrypt_info.is_some() {
                summary.push("encrypt_info: RSA-encrypted, not decryptable by an observer".into());
            }
            // The sender of a reply is the device.
            let ip = match dir {
                Direction::ToClient => cx.server.ip(),
                Direction::ToServer => cx.client.ip(),
            };
            cx.shared.tdp.learn(
                ip,
                a.http_port.and_then(|p| u16::try_from(p).ok()),
                a.encrypt_type.clone(),
            );
            let mut an = Announce::new(ip);
            an.model.clone_from(&a.device_model);
            an.encrypt_type.clone_from(&a.encrypt_type);
            an.protocols.push("tdp");
            if let Some(e) = &a.encrypt_type {
                an.notes.push(format!("local protocol: {e}"));
                if let Some(n) = discovery::encrypt_type_note(e) {
                    an.notes.push(n.to_string());
                }
            }
            announce = Some(an);
        }
        DiscoveryInfo::OtherJson => summary.push("TDP JSON of unknown shape".into()),
        DiscoveryInfo::Empty => summary.push("empty discovery query".into()),
        DiscoveryInfo::NotJson => summary.push("body is not JSON (encrypted?)".into()),
    }
    out.push(Finding::Discovery(Box::new(DiscoveryFinding {
        protocol: discovery::TDP_PROTOCOL,
        dir,
        announce,
        summary,
        crc_ok: matches!(m.crc, discovery::CrcStatus::Valid),
        json: m.json,
    })));
}
