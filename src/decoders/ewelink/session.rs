//! One TCP connection to an eWeLink device's LAN API: `POST
//! /zeroconf/<command>` with a JSON body `{"sequence", "deviceid",
//! "selfApikey", "encrypt", "iv", "data"}` (SonoffLAN `local.py` `send`,
//! pysonofflanr3 `client.py` `get_update_payload`), answered by
//! `{"seq", "sequence", "error", "data"?}`.
//!
//! HTTP framing is [`crate::decoders::http`]. Responses pair with the
//! oldest unanswered request of the connection (HTTP/1.1 order); at most
//! [`MAX_PENDING`] are remembered.

use std::collections::VecDeque;

use serde_json::Value;

use super::message::{request_summary, state_summary};
use super::{Label, Opened, PORT, PROTOCOL, is_encrypted, open_encrypted, open_plain};
use crate::decoders::http::{HttpEvent, HttpMessage, HttpParser, StartLine};
use crate::decoders::services::ServiceKind;
use crate::decoders::{
    AppMessage, Ctx, Decoder, Direction, Finding, MessageKind, Probe, Registration, ServerIs,
    StreamDecoder, Transport, Verdict,
};

/// Unanswered requests remembered per connection.
pub const MAX_PENDING: usize = 32;
/// Longest command name kept (`zeroconf/signal_strength` is the longest
/// documented).
pub const MAX_COMMAND_LEN: usize = 32;

/// The request line every LAN command starts with.
const REQUEST_PREFIX: &[u8] = b"POST /zeroconf/";

/// Claims TCP flows to port 8081 (or a port an `_ewelink._tcp` SRV record
/// announced) whose first payload is a `/zeroconf/` request, or, mid-stream,
/// an HTTP response from the port.
pub fn probe(p: &Probe<'_>) -> Verdict {
    let learned = |a: std::net::SocketAddr| {
        p.shared.services.kind(a.ip(), a.port()) == Some(ServiceKind::Ewelink)
    };
    let server = if p.dst.port() == PORT || learned(p.dst) {
        ServerIs::Dst
    } else if p.src.port() == PORT || learned(p.src) {
        ServerIs::Src
    } else {
        return Verdict::NoMatch;
    };
    if p.payload.is_empty() {
        return Verdict::NeedData;
    }
    let to_server = server == ServerIs::Dst;
    let looks = if to_server {
        p.payload.starts_with(REQUEST_PREFIX)
            || REQUEST_PREFIX.starts_with(&p.payload[..p.payload.len().min(REQUEST_PREFIX.len())])
    } else {
        p.payload.starts_with(b"HTTP/1.")
    };
    if looks || (to_server && learned(p.dst)) {
        Verdict::Match(server)
    } else {
        Verdict::NoMatch
    }
}

fn new_decoder(p: &Probe<'_>) -> Box<dyn StreamDecoder> {
    Box::new(EwelinkConn::new(p.mid_stream))
}

/// eWeLink LAN mode over HTTP.
pub static REGISTRATION: Registration = Registration {
    name: PROTOCOL,
    transport: Transport::Tcp,
    ports: &[PORT],
    probe,
    decoder: Decoder::Stream(new_decoder),
};

#[derive(Debug)]
struct Pending {
    command: String,
    device_id: Option<String>,
}

/// One connection.
#[derive(Debug)]
pub struct EwelinkConn {
    parsers: [HttpParser; 2],
    pending: VecDeque<Pending>,
    /// Requests forgotten unanswered (queue full, gap).
    pub unpaired: u64,
}

impl EwelinkConn {
    pub fn new(mid_stream: bool) -> Self {
        let p = if mid_stream {
            HttpParser::hunting()
        } else {
            HttpParser::new()
        };
        EwelinkConn {
            parsers: [p.clone(), p],
            pending: VecDeque::new(),
            unpaired: 0,
        }
    }

    fn label(dir: Direction, label: Label, reason: String, out: &mut Vec<Finding>) {
        out.push(Finding::Undecodable {
            protocol: PROTOCOL,
            dir,
            reason,
            label: Some(label.as_str()),
            http: false,
        });
    }

    fn on_request(&mut self, cx: &Ctx<'_>, m: HttpMessage, out: &mut Vec<Finding>) {
        let dir = Direction::ToServer;
        let command = match m.path().and_then(|p| p.strip_prefix("/zeroconf/")) {
            Some(c) if !c.is_empty() => crate::wire::dns::LabelText(c.as_bytes())
                .to_string()
                .chars()
                .take(MAX_COMMAND_LEN)
                .collect::<String>(),
            _ => {
                let (meth, path) = match &m.start {
                    StartLine::Request { method, target } => (method.as_str(), target.as_str()),
                    StartLine::Response { .. } => ("?", "?"),
                };
                Self::label(
                    dir,
                    Label::NotEwelink,
                    format!(
                        "{} {}",
                        meth.chars().take(16).collect::<String>(),
                        crate::wire::dns::LabelText(path.as_bytes())
                            .to_string()
                            .chars()
                            .take(64)
                            .collect::<String>()
                    ),
                    out,
                );
                return;
            }
        };
        let body: Option<Value> = serde_json::from_slice(&m.body).ok();
        let device_id = body
            .as_ref()
            .and_then(|b| b.get("deviceid"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        if self.pending.len() >= MAX_PENDING {
            self.pending.pop_front();
            self.unpaired += 1;
        }
        self.pending.push_back(Pending {
            command: command.clone(),
            device_id: device_id.clone(),
        });
        let Some(mut body) = body.filter(Value::is_object) else {
            Self::label(
                dir,
                Label::Malformed,
                format!("zeroconf/{command} request: body is not a JSON object"),
                out,
            );
            return;
        };
        let opened = open_data(cx, &body, device_id.as_deref());
        match opened {
            Opened::Plain(data) | Opened::Decrypted(data, _) => {
                let summary = request_summary(&command, &data);
                body["data"] = data;
                out.push(message(
                    dir,
                    MessageKind::Request,
                    &command,
                    summary,
                    body,
                    false,
                ));
            }
            Opened::Failed(label, why) => {
                Self::label(
                    dir,
                    label,
                    format!("zeroconf/{command} request: {why}"),
                    out,
                );
            }
        }
    }

    fn on_response(&mut self, cx: &Ctx<'_>, m: HttpMessage, out: &mut Vec<Finding>) {
        let dir = Direction::ToClient;
        let req = self.pending.pop_front();
        let paired = req.is_some();
        let command = req
            .as_ref()
            .map_or_else(|| "?".to_owned(), |r| r.command.clone());
        let status = m.status().unwrap_or(0);
        let Some(mut body) = serde_json::from_slice::<Value>(&m.body)
            .ok()
            .filter(Value::is_object)
        else {
            Self::label(
                dir,
                Label::Malformed,
                format!("zeroconf/{command} response: HTTP {status}, body is not a JSON object"),
                out,
            );
            return;
        };
        let device_id = req.as_ref().and_then(|r| r.device_id.clone()).or_else(|| {
            body.get("deviceid")
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
        let mut summary = Vec::new();
        if let Some(err) = body
            .get("error")
            .and_then(Value::as_i64)
            .filter(|&e| e != 0)
        {
            summary.push(crate::decoders::summary::Summary::Error {
                module: "zeroconf".into(),
                method: Some(command.clone()),
                err_code: err,
                err_msg: None,
            });
        }
        if body.get("data").is_some() || body.get("iv").is_some() {
            match open_data(cx, &body, device_id.as_deref()) {
                Opened::Plain(data) | Opened::Decrypted(data, _) => {
                    summary.extend(state_summary(&data, device_id.as_deref(), None));
                    body["data"] = data;
                }
                Opened::Failed(label, why) => {
                    Self::label(
                        dir,
                        label,
                        format!("zeroconf/{command} response: {why}"),
                        out,
                    );
                    return;
                }
            }
        }
        out.push(message(
            dir,
            MessageKind::Response,
            &command,
            summary,
            body,
            paired,
        ));
    }
}

/// Opens the `data` of a request or response body.
fn open_data(cx: &Ctx<'_>, body: &Value, device_id: Option<&str>) -> Opened {
    if is_encrypted(body.get("encrypt")) {
        open_encrypted(
            &cx.shared.config,
            device_id,
            body.get("iv").and_then(Value::as_str),
            body.get("data").and_then(Value::as_str),
        )
    } else {
        open_plain(body.get("data"))
    }
}

fn message(
    dir: Direction,
    kind: MessageKind,
    command: &str,
    summary: Vec<crate::decoders::summary::Summary>,
    json: Value,
    paired: bool,
) -> Finding {
    Finding::Message(Box::new(AppMessage {
        protocol: PROTOCOL,
        transport: "http",
        dir,
        kind,
        methods: vec![format!("zeroconf/{command}")],
        summary,
        json,
        meta: None,
        paired,
        via: "ewelink",
    }))
}

impl StreamDecoder for EwelinkConn {
    fn on_data(&mut self, cx: &mut Ctx<'_>, dir: Direction, data: &[u8], out: &mut Vec<Finding>) {
        let mut events = Vec::new();
        self.parsers[dir.index()].push(data, &mut events);
        for e in events {
            match e {
                HttpEvent::Message(m) => match (dir, &m.start) {
                    (Direction::ToServer, StartLine::Request { .. }) => self.on_request(cx, m, out),
                    (Direction::ToClient, StartLine::Response { .. }) => {
                        self.on_response(cx, m, out)
                    }
                    _ => Self::label(
                        dir,
                        Label::Malformed,
                        "HTTP message in the wrong direction".into(),
                        out,
                    ),
                },
                HttpEvent::Error(e) => out.push(Finding::Undecodable {
                    protocol: "http",
                    dir,
                    reason: e.name().into(),
                    label: Some("HTTP: framing error"),
                    http: true,
                }),
            }
        }
    }

    fn on_gap(&mut self, _cx: &mut Ctx<'_>, dir: Direction, len: u64, _out: &mut Vec<Finding>) {
        self.parsers[dir.index()].on_gap(len);
        if dir == Direction::ToClient && !self.pending.is_empty() {
            // The response to the oldest request may have been lost.
            self.pending.pop_front();
            self.unpaired += 1;
        }
    }

    fn held_bytes(&self) -> usize {
        self.parsers.iter().map(HttpParser::held_bytes).sum()
    }

    fn release(&mut self) {
        for p in &mut self.parsers {
            p.release();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::ewelink::crypto::{DeviceKey, EwelinkDevice};
    use crate::decoders::summary::{RelayState, Summary};
    use crate::decoders::{DecoderConfig, Shared, test_ctx};
    use crate::synth::ewelink as sew;

    const DEV: [u8; 4] = [192, 168, 0, 80];

    fn shared(key: Option<&str>) -> Shared {
        Shared::new(DecoderConfig {
            ewelink_devices: key
                .map(|k| EwelinkDevice {
                    id: sew::DEVICE_ID.into(),
                    label: "ewelink_device #1".into(),
                    key: DeviceKey::from_devicekey(k),
                })
                .into_iter()
                .collect(),
            ..Default::default()
        })
    }

    /// Runs the conversation, each exchange on its own connection, fed in
    /// `chunk`-byte segments.
    fn run(sh: &mut Shared, chunk: usize) -> Vec<Finding> {
        let mut out = Vec::new();
        for ex in sew::conversation(DEV, sew::DEVICE_KEY) {
            let mut conn = EwelinkConn::new(false);
            let mut cx = test_ctx(sh, "192.168.0.23:50100", "192.168.0.80:8081");
            for (to_server, bytes) in ex {
                let dir = if to_server {
                    Direction::ToServer
                } else {
                    Direction::ToClient
                };
                for c in bytes.chunks(chunk) {
                    conn.on_data(&mut cx, dir, c, &mut out);
                }
            }
            assert!(conn.pending.is_empty());
            assert!(conn.held_bytes() <= 2 * (crate::decoders::http::MAX_HEAD + 4096));
        }
        out
    }

    fn messages(f: &[Finding]) -> Vec<&AppMessage> {
        f.iter()
            .filter_map(|f| match f {
                Finding::Message(m) => Some(&**m),
                _ => None,
            })
            .collect()
    }

    fn labels(f: &[Finding]) -> Vec<&'static str> {
        f.iter()
            .filter_map(|f| match f {
                Finding::Undecodable { label: Some(l), .. } => Some(*l),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn decrypts_the_conversation_with_the_key() {
        for chunk in [1, 7, 100, 10_000] {
            let mut sh = shared(Some(sew::DEVICE_KEY));
            let f = run(&mut sh, chunk);
            let m = messages(&f);
            assert_eq!(m.len(), 6, "{chunk}: {f:?}");
            assert_eq!(m[0].methods, vec!["zeroconf/switch"]);
            assert_eq!(m[0].kind, MessageKind::Request);
            assert_eq!(m[0].summary, vec![Summary::SetRelayState(RelayState::Off)]);
            assert_eq!(m[0].json["data"], serde_json::json!({"switch":"off"}));
            assert_eq!(m[0].json["deviceid"], sew::DEVICE_ID);
            assert!(m[1].paired && m[1].kind == MessageKind::Response);
            // info: the encrypted state in the response.
            assert_eq!(m[3].methods, vec!["zeroconf/info"]);
            let Summary::SysInfo(i) = &m[3].summary[0] else {
                panic!("{:?}", m[3].summary)
            };
            assert_eq!(i.relay_state, Some(RelayState::Off));
            assert_eq!(i.sw_ver.as_deref(), Some("3.7.0"));
            assert!(matches!(m[3].summary[1], Summary::Emeter(e) if e.voltage_v == Some(229.8)));
            // error 400 to the last switch.
            assert!(matches!(
                &m[5].summary[0],
                Summary::Error { err_code: 400, method: Some(c), .. } if c == "switch"
            ));
            assert!(labels(&f).is_empty());
        }
    }

    #[test]
    fn labels_without_or_with_a_wrong_key() {
        let mut sh = shared(None);
        let f = run(&mut sh, 50);
        // Requests (3) and the encrypted info reply: key needed; the plain
        // replies still decode.
        assert_eq!(labels(&f), vec![Label::KeyNeeded.as_str(); 4]);
        assert_eq!(messages(&f).len(), 2);
        let mut sh = shared(Some("some-other-key"));
        let f = run(&mut sh, 50);
        assert_eq!(labels(&f), vec![Label::KeyMismatch.as_str(); 4]);
        // The reason names the command, never key material.
        for x in &f {
            if let Finding::Undecodable { reason, .. } = x {
                assert!(reason.starts_with("zeroconf/"), "{reason}");
                assert!(!reason.contains(sew::DEVICE_KEY));
            }
        }
    }

    #[test]
    fn probe_claims_zeroconf_only() {
        let sh = shared(None);
        let p = |src: &str, dst: &str, payload: &'static [u8]| Probe {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            payload,
            syn: false,
            mid_stream: false,
            shared: &sh,
        };
        assert_eq!(
            probe(&p("1.1.1.1:5000", "2.2.2.2:8081", b"")),
            Verdict::NeedData
        );
        assert_eq!(
            probe(&p(
                "1.1.1.1:5000",
                "2.2.2.2:8081",
                b"POST /zeroconf/switch HTTP/1.1\r\n"
            )),
            Verdict::Match(ServerIs::Dst)
        );
        assert_eq!(
            probe(&p("1.1.1.1:5000", "2.2.2.2:8081", b"POST /zero")),
            Verdict::Match(ServerIs::Dst)
        );
        assert_eq!(
            probe(&p(
                "1.1.1.1:5000",
                "2.2.2.2:8081",
                b"GET /index.html HTTP/1.1\r\n"
            )),
            Verdict::NoMatch
        );
        assert_eq!(
            probe(&p("2.2.2.2:8081", "1.1.1.1:5000", b"HTTP/1.1 200 OK\r\n")),
            Verdict::Match(ServerIs::Src)
        );
        assert_eq!(
            probe(&p("1.1.1.1:5000", "2.2.2.2:80", b"POST /zeroconf/")),
            Verdict::NoMatch
        );
    }

    #[test]
    fn other_http_and_garbage_are_labelled() {
        let mut sh = shared(None);
        let mut cx = test_ctx(&mut sh, "192.168.0.23:50100", "192.168.0.80:8081");
        let mut conn = EwelinkConn::new(false);
        let mut out = Vec::new();
        conn.on_data(
            &mut cx,
            Direction::ToServer,
            b"GET /x HTTP/1.1\r\n\r\n",
            &mut out,
        );
        conn.on_data(
            &mut cx,
            Direction::ToServer,
            b"POST /zeroconf/switch HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
            &mut out,
        );
        conn.on_data(
            &mut cx,
            Direction::ToClient,
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
            &mut out,
        );
        assert_eq!(
            labels(&out),
            vec![Label::NotEwelink.as_str(), Label::Malformed.as_str()]
        );
        assert_eq!(messages(&out).len(), 1);
        // Random bytes in both directions, with gaps.
        for i in 0..200u32 {
            let b: Vec<u8> = (0..(i % 97)).map(|j| (i * 31 + j * 7) as u8).collect();
            let dir = if i % 2 == 0 {
                Direction::ToServer
            } else {
                Direction::ToClient
            };
            conn.on_data(&mut cx, dir, &b, &mut out);
            if i % 13 == 0 {
                conn.on_gap(&mut cx, dir, 5, &mut out);
            }
        }
        conn.release();
        assert!(conn.held_bytes() == 0 || conn.held_bytes() < 64 * 1024);
    }
}
