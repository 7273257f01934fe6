//! One TCP connection to a Shelly's port 80: HTTP messages both ways, the
//! Gen2 switch to WebSocket on `/rpc`, and request/response pairing.
//!
//! # Pairing
//! HTTP answers in order (RFC 9112 §9.3), so a response pairs with the
//! oldest request of the connection. On the WebSocket, a response pairs
//! with the call carrying the same JSON-RPC `id`: it is reported
//! `paired` when that call is the oldest outstanding one (the watcher pairs
//! by order); an answer out of order is still decoded with its method but
//! not `paired`, so no wrong latency is reported.
//!
//! # Guarantees
//! Bounded by the HTTP parsers' and WebSocket framers' caps
//! ([`crate::decoders::http::MAX_BODY`],
//! [`crate::decoders::websocket::MAX_MESSAGE`]) and [`MAX_PENDING`]
//! outstanding requests per connection (oldest forgotten, counted in
//! [`ShellyConn::unpaired`]). A WebSocket direction that loses its framing
//! (gap, protocol error) is not decoded further; HTTP resynchronises.

use std::collections::VecDeque;

use serde_json::{Value, json};

use super::{PROTOCOL, coiot, gen1, rpc};
use crate::decoders::http::{HttpEvent, HttpMessage, HttpParser};
use crate::decoders::summary::Summary;
use crate::decoders::websocket::{WsError, WsEvent, WsFramer};
use crate::decoders::{
    AppMessage, Ctx, Direction, Finding, HttpAuth, MessageKind, MessageMeta, StreamDecoder,
};

/// Outstanding requests remembered per connection (HTTP and WebSocket each).
pub const MAX_PENDING: usize = 32;

/// Labels of what is not decoded.
pub mod label {
    pub const DIGEST: &str = "Shelly: digest authentication";
    pub const BASIC: &str = "Shelly: basic authentication (password in the clear)";
    pub const OTHER_HTTP: &str = "Shelly: other HTTP";
    pub const NOT_JSON: &str = "Shelly: body not JSON";
    pub const NOT_RPC: &str = "Shelly: JSON that is not an RPC frame";
    pub const BINARY: &str = "Shelly: binary WebSocket message";
    pub const WS_LOST: &str = "WebSocket: framing lost";
    pub const WS_SKIPPED: &str = "WebSocket: message skipped";
}

#[derive(Debug, Clone)]
enum Req {
    Gen1 { method: String },
    RpcPost { method: Option<String> },
    RpcGet { method: String },
    Upgrade,
    Other,
}

/// Decoder state of one connection.
#[derive(Debug)]
pub struct ShellyConn {
    http: [HttpParser; 2],
    ws: [Option<WsFramer>; 2],
    pending: VecDeque<Req>,
    /// WebSocket calls awaiting an answer: (`id` key, method).
    ws_pending: VecDeque<(String, String)>,
    auth_noted: bool,
    /// Requests whose answer never came (queue full, gap, release).
    pub unpaired: u64,
}

impl ShellyConn {
    /// `mid_stream`: the connection start was not captured.
    pub fn new(mid_stream: bool) -> Self {
        let p = if mid_stream {
            HttpParser::hunting()
        } else {
            HttpParser::new()
        };
        ShellyConn {
            http: [p.clone(), p],
            ws: [None, None],
            pending: VecDeque::new(),
            ws_pending: VecDeque::new(),
            auth_noted: false,
            unpaired: 0,
        }
    }

    /// A connection picked up inside its WebSocket session (no upgrade
    /// seen): both directions are framed as WebSocket from the first byte.
    pub fn mid_websocket() -> Self {
        let mut c = ShellyConn::new(true);
        c.ws = [Some(WsFramer::new()), Some(WsFramer::new())];
        c
    }

    fn note_auth(&mut self, a: &HttpAuth, out: &mut Vec<Finding>) {
        if !self.auth_noted {
            self.auth_noted = true;
            out.push(Finding::DeviceNote {
                protocol: PROTOCOL,
                note: Some(
                    if a.scheme == "basic" {
                        label::BASIC
                    } else {
                        label::DIGEST
                    }
                    .to_owned(),
                ),
            });
        }
    }

    fn push_pending(&mut self, r: Req) {
        if self.pending.len() >= MAX_PENDING {
            self.pending.pop_front();
            self.unpaired += 1;
        }
        self.pending.push_back(r);
    }

    fn request(&mut self, m: &HttpMessage, out: &mut Vec<Finding>) {
        let dir = Direction::ToServer;
        let auth = m.auth();
        if let Some(a) = &auth {
            self.note_auth(a, out);
        }
        let target = m.target().unwrap_or("");
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let verb = m.method().unwrap_or("");
        if m.is_upgrade() && path == "/rpc" {
            self.push_pending(Req::Upgrade);
            return;
        }
        if path == "/rpc" && verb == "POST" {
            let Ok(mut v) = serde_json::from_slice::<Value>(&m.body) else {
                out.push(undecodable(
                    dir,
                    format!("POST /rpc with {} bytes", m.body.len()),
                    label::NOT_JSON,
                    true,
                ));
                self.push_pending(Req::Other);
                return;
            };
            let method = rpc::method(&v);
            let auth = auth.or_else(|| rpc::auth_of(&v));
            if let Some(a) = &auth {
                self.note_auth(a, out);
            }
            let summary = method
                .as_deref()
                .map(|me| rpc::call_summary(me, v.get("params")))
                .unwrap_or_default();
            let rpc_id = rpc::id_key(&v);
            rpc::redact(&mut v);
            out.push(message(
                dir,
                "http",
                MessageKind::Request,
                method.clone(),
                summary,
                v,
                meta(Some(2), auth, rpc_id),
                true,
            ));
            self.push_pending(Req::RpcPost { method });
            return;
        }
        if let Some(me) = path.strip_prefix("/rpc/") {
            let method: String = me.chars().take(rpc::MAX_METHOD).collect();
            let params = rpc::get_params(query);
            let summary = rpc::call_summary(&method, Some(&params));
            let mut v = json!({"method": method, "params": params});
            rpc::redact(&mut v);
            out.push(message(
                dir,
                "http",
                MessageKind::Request,
                Some(method.clone()),
                summary,
                v,
                meta(Some(2), auth, None),
                true,
            ));
            self.push_pending(Req::RpcGet { method });
            return;
        }
        if gen1::is_gen1_path(path) {
            let method = gen1::method_of(path);
            let mut params = gen1::params(query);
            if !m.body.is_empty()
                && let (Value::Object(p), Ok(b)) = (&mut params, std::str::from_utf8(&m.body))
                && let Value::Object(more) = gen1::params(b.trim())
            {
                p.extend(more);
            }
            let summary = gen1::request_summary(&method, &params);
            let generation = (method != "shelly" && !method.starts_with("cit/")).then_some(1);
            out.push(message(
                dir,
                "http",
                MessageKind::Request,
                Some(method.clone()),
                summary,
                params,
                meta(generation, auth, None),
                true,
            ));
            self.push_pending(Req::Gen1 { method });
            return;
        }
        out.push(undecodable(
            dir,
            format!(
                "{} {}",
                verb.chars().take(16).collect::<String>(),
                path.chars().take(64).collect::<String>()
            ),
            label::OTHER_HTTP,
            false,
        ));
        self.push_pending(Req::Other);
    }

    fn response(&mut self, cx: &mut Ctx<'_>, m: &HttpMessage, out: &mut Vec<Finding>) {
        let dir = Direction::ToClient;
        let req = self.pending.pop_front();
        let status = m.status().unwrap_or(0);
        let v: Value = serde_json::from_slice(&m.body).unwrap_or(Value::Null);
        let (method, generation): (Option<String>, Option<u8>) = match &req {
            Some(Req::Gen1 { method }) => (Some(method.clone()), (method != "shelly").then_some(1)),
            Some(Req::RpcPost { method }) => (method.clone(), Some(2)),
            Some(Req::RpcGet { method }) => (Some(method.clone()), Some(2)),
            Some(Req::Upgrade | Req::Other) => return,
            None => (None, None),
        };
        if status == 401
            && let Some(a) = m.auth()
        {
            self.note_auth(&a, out);
        }
        let mut summary = Vec::new();
        let mut rpc_id = None;
        match (&req, status) {
            (_, 200) | (None, _) => match &req {
                Some(Req::Gen1 { method }) => {
                    summary = gen1::response_summary(method, &v);
                    if method == "cit/d"
                        && let Some(d) = coiot::Description::parse(&v)
                    {
                        cx.shared.coiot.learn(cx.server.ip(), d);
                    }
                }
                Some(Req::RpcGet { method }) => summary = rpc::result_summary(Some(method), &v),
                _ => {
                    // A POST /rpc answer is a whole frame; so is a mid-stream one.
                    rpc_id = rpc::id_key(&v);
                    if let Some(r) = v.get("result") {
                        summary = rpc::result_summary(method.as_deref(), r);
                    } else if let Some(e) = v.get("error") {
                        summary = vec![rpc::error_summary(method.as_deref(), e)];
                        if e.get("code").and_then(Value::as_i64) == Some(401) {
                            self.note_auth(
                                &HttpAuth {
                                    scheme: "digest",
                                    user: None,
                                    realm: None,
                                },
                                out,
                            );
                        }
                    }
                }
            },
            (_, _) => {
                summary = vec![match v.get("error").unwrap_or(&v) {
                    e if e.get("code").is_some() => rpc::error_summary(method.as_deref(), e),
                    _ => Summary::Error {
                        module: "http".into(),
                        method: method.clone(),
                        err_code: i64::from(status),
                        err_msg: m.status_reason().map(str::to_owned),
                    },
                }];
            }
        }
        let generation = generation.or_else(|| {
            // `/shelly` says which generation answered.
            v.get("gen")
                .and_then(Value::as_u64)
                .map(|g| g.min(9) as u8)
                .or(Some(1).filter(|_| v.get("type").is_some()))
        });
        out.push(message(
            dir,
            "http",
            MessageKind::Response,
            method.or_else(|| Some("unknown".to_owned())),
            summary,
            v,
            meta(generation, None, rpc_id),
            req.is_some(),
        ));
    }

    fn ws_events(&mut self, dir: Direction, ev: Vec<WsEvent>, out: &mut Vec<Finding>) {
        for e in ev {
            match e {
                WsEvent::Message {
                    text: false, data, ..
                } => out.push(undecodable(
                    dir,
                    format!("{} bytes", data.len()),
                    label::BINARY,
                    false,
                )),
                WsEvent::Message {
                    text: true, data, ..
                } => self.ws_text(dir, &data, out),
                WsEvent::Error(WsError::Lost { reason }) => {
                    out.push(undecodable(dir, reason.to_owned(), label::WS_LOST, false));
                    out.push(Finding::Desync { protocol: "shelly" });
                    self.forget_ws_calls();
                }
                WsEvent::Error(e) => {
                    out.push(undecodable(dir, format!("{e:?}"), label::WS_SKIPPED, false))
                }
                WsEvent::Close { .. } | WsEvent::Ping | WsEvent::Pong => {}
            }
        }
    }

    fn forget_ws_calls(&mut self) {
        self.unpaired += self.ws_pending.len() as u64;
        self.ws_pending.clear();
    }

    fn ws_text(&mut self, dir: Direction, data: &[u8], out: &mut Vec<Finding>) {
        let Ok(mut v) = serde_json::from_slice::<Value>(data) else {
            out.push(undecodable(
                dir,
                format!("{} bytes", data.len()),
                label::NOT_JSON,
                false,
            ));
            return;
        };
        let Some(kind) = rpc::classify(&v) else {
            out.push(undecodable(
                dir,
                format!("{} bytes", data.len()),
                label::NOT_RPC,
                false,
            ));
            return;
        };
        let id = rpc::id_key(&v);
        let auth = rpc::auth_of(&v);
        if let Some(a) = &auth {
            self.note_auth(a, out);
        }
        let (kind, method, summary, paired) = match (kind, dir) {
            (rpc::FrameKind::Call, Direction::ToServer) => {
                let method = rpc::method(&v).unwrap_or_default();
                if let Some(id) = &id {
                    if self.ws_pending.len() >= MAX_PENDING {
                        self.ws_pending.pop_front();
                        self.unpaired += 1;
                    }
                    self.ws_pending.push_back((id.clone(), method.clone()));
                }
                let s = rpc::call_summary(&method, v.get("params"));
                (MessageKind::Request, Some(method), s, true)
            }
            (rpc::FrameKind::Call | rpc::FrameKind::Notification, _) => {
                let method = rpc::method(&v).unwrap_or_default();
                let s = match method.as_str() {
                    "NotifyStatus" | "NotifyFullStatus" => {
                        v.get("params").map(rpc::status_summary).unwrap_or_default()
                    }
                    _ => Vec::new(),
                };
                (MessageKind::Notify, Some(method), s, false)
            }
            (rpc::FrameKind::Response, _) => {
                let pos = id
                    .as_ref()
                    .and_then(|id| self.ws_pending.iter().position(|(i, _)| i == id));
                let method = pos.and_then(|p| self.ws_pending.remove(p)).map(|(_, m)| m);
                let s = if let Some(r) = v.get("result") {
                    rpc::result_summary(method.as_deref(), r)
                } else if let Some(e) = v.get("error") {
                    if e.get("code").and_then(Value::as_i64) == Some(401) {
                        self.note_auth(
                            &HttpAuth {
                                scheme: "digest",
                                user: None,
                                realm: None,
                            },
                            out,
                        );
                    }
                    vec![rpc::error_summary(method.as_deref(), e)]
                } else {
                    Vec::new()
                };
                (
                    MessageKind::Response,
                    method.or_else(|| Some("unknown".to_owned())),
                    s,
                    pos == Some(0),
                )
            }
        };
        rpc::redact(&mut v);
        out.push(message(
            dir,
            "websocket",
            kind,
            method,
            summary,
            v,
            meta(Some(2), auth, id),
            paired,
        ));
    }
}

impl StreamDecoder for ShellyConn {
    fn on_data(&mut self, cx: &mut Ctx<'_>, dir: Direction, data: &[u8], out: &mut Vec<Finding>) {
        let i = dir.index();
        if let Some(ws) = &mut self.ws[i] {
            let mut ev = Vec::new();
            ws.push(data, &mut ev);
            self.ws_events(dir, ev, out);
            return;
        }
        let mut ev = Vec::new();
        self.http[i].push(data, &mut ev);
        for e in ev {
            match e {
                HttpEvent::Error(err) => out.push(Finding::Undecodable {
                    protocol: PROTOCOL,
                    dir,
                    reason: err.name().to_owned(),
                    label: None,
                    http: true,
                }),
                HttpEvent::Message(m) => match dir {
                    Direction::ToServer => self.request(&m, out),
                    Direction::ToClient => self.response(cx, &m, out),
                },
            }
        }
        if self.http[i].is_upgraded() {
            let rest = self.http[i].take_upgraded();
            let mut ws = WsFramer::new();
            let mut ev = Vec::new();
            ws.push(&rest, &mut ev);
            self.ws[i] = Some(ws);
            self.ws_events(dir, ev, out);
        }
    }

    fn on_gap(&mut self, _cx: &mut Ctx<'_>, dir: Direction, len: u64, out: &mut Vec<Finding>) {
        let i = dir.index();
        if let Some(ws) = &mut self.ws[i] {
            let was_lost = ws.is_lost();
            ws.on_gap(len);
            if !was_lost && ws.is_lost() {
                out.push(undecodable(
                    dir,
                    format!("gap of {len} bytes"),
                    label::WS_LOST,
                    false,
                ));
                out.push(Finding::Desync { protocol: "shelly" });
            }
            self.forget_ws_calls();
            return;
        }
        self.http[i].on_gap(len);
        self.unpaired += self.pending.len() as u64;
        self.pending.clear();
    }

    fn held_bytes(&self) -> usize {
        self.http.iter().map(HttpParser::held_bytes).sum::<usize>()
            + self
                .ws
                .iter()
                .flatten()
                .map(WsFramer::held_bytes)
                .sum::<usize>()
    }

    fn release(&mut self) {
        for p in &mut self.http {
            p.release();
        }
        for w in self.ws.iter_mut().flatten() {
            w.release();
        }
        self.unpaired += self.pending.len() as u64;
        self.pending.clear();
        self.forget_ws_calls();
    }
}

fn meta(
    generation: Option<u8>,
    auth: Option<HttpAuth>,
    rpc_id: Option<String>,
) -> Option<MessageMeta> {
    Some(MessageMeta::Shelly {
        generation,
        auth,
        rpc_id,
    })
}

#[allow(clippy::too_many_arguments)] // one constructor for every message kind
fn message(
    dir: Direction,
    transport: &'static str,
    kind: MessageKind,
    method: Option<String>,
    summary: Vec<Summary>,
    json: Value,
    meta: Option<MessageMeta>,
    paired: bool,
) -> Finding {
    Finding::Message(Box::new(AppMessage {
        protocol: PROTOCOL,
        transport,
        dir,
        kind,
        methods: method.into_iter().collect(),
        summary,
        json,
        meta,
        paired,
        via: "shelly",
    }))
}

fn undecodable(dir: Direction, reason: String, label: &'static str, http: bool) -> Finding {
    Finding::Undecodable {
        protocol: PROTOCOL,
        dir,
        reason,
        label: Some(label),
        http,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::websocket::{encode_frame, opcode};
    use crate::decoders::{DecoderConfig, FlowMeta, Shared};
    use crate::wire::Ts;

    fn feed(c: &mut ShellyConn, sh: &mut Shared, dir: Direction, b: &[u8]) -> Vec<Finding> {
        let mut cx = Ctx {
            ts: Ts::default(),
            client: "192.168.1.5:50000".parse().unwrap(),
            server: "192.168.1.31:80".parse().unwrap(),
            shared: sh,
            flow: FlowMeta::default(),
        };
        let mut out = Vec::new();
        c.on_data(&mut cx, dir, b, &mut out);
        out
    }

    fn upgraded(sh: &mut Shared) -> ShellyConn {
        let mut c = ShellyConn::new(false);
        feed(
            &mut c,
            sh,
            Direction::ToServer,
            b"GET /rpc HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        );
        feed(&mut c, sh, Direction::ToClient, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
        c
    }

    fn only(f: &[Finding]) -> &AppMessage {
        match f {
            [Finding::Message(m)] => m,
            _ => panic!("{f:?}"),
        }
    }

    #[test]
    fn websocket_answers_out_of_order_keep_their_methods_not_a_latency() {
        let mut sh = Shared::new(DecoderConfig::default());
        let mut c = upgraded(&mut sh);
        let call = |id: u32, m: &str| {
            encode_frame(
                true,
                opcode::TEXT,
                format!(r#"{{"id":{id},"method":"{m}"}}"#).as_bytes(),
                Some([1, 2, 3, 4]),
            )
        };
        let ans = |id: u32| {
            encode_frame(
                true,
                opcode::TEXT,
                format!(r#"{{"id":{id},"result":{{}}}}"#).as_bytes(),
                None,
            )
        };
        assert!(
            only(&feed(
                &mut c,
                &mut sh,
                Direction::ToServer,
                &call(1, "Sys.GetStatus")
            ))
            .paired
        );
        assert!(
            only(&feed(
                &mut c,
                &mut sh,
                Direction::ToServer,
                &call(2, "Switch.Toggle")
            ))
            .paired
        );
        let m = only(&feed(&mut c, &mut sh, Direction::ToClient, &ans(2))).clone();
        assert_eq!((m.methods[0].as_str(), m.paired), ("Switch.Toggle", false));
        let m = only(&feed(&mut c, &mut sh, Direction::ToClient, &ans(1))).clone();
        assert_eq!((m.methods[0].as_str(), m.paired), ("Sys.GetStatus", true));
        // An answer to nothing.
        let m = only(&feed(&mut c, &mut sh, Direction::ToClient, &ans(9))).clone();
        assert_eq!((m.methods[0].as_str(), m.paired), ("unknown", false));
        // Calls over the cap are forgotten, counted.
        for i in 0..(MAX_PENDING as u32 + 3) {
            feed(
                &mut c,
                &mut sh,
                Direction::ToServer,
                &call(100 + i, "Shelly.GetStatus"),
            );
        }
        assert_eq!(c.unpaired, 3);
        // A gap loses the WebSocket direction, once.
        let mut out = Vec::new();
        let mut cx = Ctx {
            ts: Ts::default(),
            client: "192.168.1.5:50000".parse().unwrap(),
            server: "192.168.1.31:80".parse().unwrap(),
            shared: &mut sh,
            flow: FlowMeta::default(),
        };
        c.on_gap(&mut cx, Direction::ToClient, 10, &mut out);
        c.on_gap(&mut cx, Direction::ToClient, 10, &mut out);
        assert_eq!(out.iter().filter(|f| matches!(f, Finding::Undecodable { label: Some(l), .. } if *l == label::WS_LOST)).count(), 1);
        assert!(feed(&mut c, &mut sh, Direction::ToClient, &ans(100)).is_empty());
        assert_eq!(c.unpaired, 3 + MAX_PENDING as u64);
    }

    #[test]
    fn frames_that_are_not_rpc() {
        let mut sh = Shared::new(DecoderConfig::default());
        let mut c = upgraded(&mut sh);
        for (frame, want) in [
            (
                encode_frame(true, opcode::TEXT, b"not json", Some([9; 4])),
                label::NOT_JSON,
            ),
            (
                encode_frame(true, opcode::TEXT, b"[1,2]", Some([9; 4])),
                label::NOT_RPC,
            ),
            (
                encode_frame(true, opcode::BINARY, b"\x00\x01", Some([9; 4])),
                label::BINARY,
            ),
        ] {
            let out = feed(&mut c, &mut sh, Direction::ToServer, &frame);
            assert!(
                matches!(&out[..], [Finding::Undecodable { label: Some(l), .. }] if *l == want),
                "{out:?}"
            );
        }
        // A reserved opcode loses the framing.
        let out = feed(
            &mut c,
            &mut sh,
            Direction::ToServer,
            &[0x83, 0x80, 0, 0, 0, 0],
        );
        assert!(out.contains(&Finding::Desync { protocol: "shelly" }));
        // Other HTTP on a Shelly connection is labelled.
        let mut c = ShellyConn::new(false);
        let out = feed(
            &mut c,
            &mut sh,
            Direction::ToServer,
            b"GET /favicon.ico HTTP/1.1\r\n\r\n",
        );
        assert!(
            matches!(&out[..], [Finding::Undecodable { label: Some(l), .. }] if *l == label::OTHER_HTTP)
        );
    }
}
