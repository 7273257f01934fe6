//! One TCP connection to a Meross device's port 80: `POST /config` requests
//! and their answers, paired by order and `messageId`.
//!
//! Bounded by the HTTP parsers' caps and [`MAX_PENDING`] outstanding
//! requests (oldest forgotten, counted in [`MerossConn::unpaired`]).

use std::collections::VecDeque;

use serde_json::Value;

use super::{Header, PATH, PROTOCOL, summary};
use crate::decoders::http::{HttpEvent, HttpMessage, HttpParser};
use crate::decoders::{
    AppMessage, Ctx, Direction, Finding, MessageKind, MessageMeta, StreamDecoder,
};

/// Outstanding requests remembered per connection.
pub const MAX_PENDING: usize = 32;

/// Labels of what is not decoded.
pub mod label {
    pub const NOT_JSON: &str = "Meross: body not JSON";
    pub const NO_HEADER: &str = "Meross: JSON without a header";
    pub const OTHER_HTTP: &str = "Meross: other HTTP";
    pub const BAD_SIGN: &str = "Meross: signature does not match the configured keys";
}

/// Decoder state of one connection.
#[derive(Debug)]
pub struct MerossConn {
    http: [HttpParser; 2],
    /// `messageId`s of requests awaiting an answer (`None`: not Meross).
    pending: VecDeque<Option<String>>,
    /// Requests whose answer never came.
    pub unpaired: u64,
}

impl MerossConn {
    pub fn new(mid_stream: bool) -> Self {
        let p = if mid_stream {
            HttpParser::hunting()
        } else {
            HttpParser::new()
        };
        MerossConn {
            http: [p.clone(), p],
            pending: VecDeque::new(),
            unpaired: 0,
        }
    }

    fn message(
        &mut self,
        cx: &Ctx<'_>,
        dir: Direction,
        m: &HttpMessage,
        out: &mut Vec<Finding>,
    ) -> Option<String> {
        let Ok(v) = serde_json::from_slice::<Value>(&m.body) else {
            out.push(undecodable(
                dir,
                format!("{} body bytes", m.body.len()),
                label::NOT_JSON,
            ));
            return None;
        };
        let Some(h) = Header::parse(&v) else {
            out.push(undecodable(
                dir,
                "no header.namespace / header.method".into(),
                label::NO_HEADER,
            ));
            return None;
        };
        let sign_ok = h.verify(&cx.shared.config.meross_keys);
        if sign_ok == Some(false) {
            out.push(undecodable(
                dir,
                format!("{} {}", h.method, h.namespace),
                label::BAD_SIGN,
            ));
        }
        let payload = v.get("payload").unwrap_or(&Value::Null);
        let kind = match (h.method.as_str(), dir) {
            ("PUSH", _) => MessageKind::Notify,
            (_, Direction::ToServer) => MessageKind::Request,
            (_, Direction::ToClient) => MessageKind::Response,
        };
        let paired = match kind {
            MessageKind::Request => true,
            MessageKind::Response => {
                matches!(self.pending.front(), Some(Some(id)) if *id == h.message_id)
            }
            MessageKind::Notify => false,
        };
        let summary = summary(&h, payload);
        let id = h.message_id.clone();
        out.push(Finding::Message(Box::new(AppMessage {
            protocol: PROTOCOL,
            transport: "http",
            dir,
            kind,
            methods: vec![format!("{}.{}", h.namespace, h.method)],
            summary,
            json: v,
            meta: Some(MessageMeta::Meross {
                namespace: h.namespace,
                method: h.method,
                message_id: h.message_id,
                sign_ok,
            }),
            paired,
            via: "meross",
        })));
        Some(id)
    }
}

impl StreamDecoder for MerossConn {
    fn on_data(&mut self, cx: &mut Ctx<'_>, dir: Direction, data: &[u8], out: &mut Vec<Finding>) {
        let mut ev = Vec::new();
        self.http[dir.index()].push(data, &mut ev);
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
                    Direction::ToServer => {
                        let id = if m.method() == Some("POST") && m.path() == Some(PATH) {
                            self.message(cx, dir, &m, out)
                        } else {
                            out.push(undecodable(
                                dir,
                                format!(
                                    "{} {}",
                                    m.method()
                                        .unwrap_or("")
                                        .chars()
                                        .take(16)
                                        .collect::<String>(),
                                    m.path().unwrap_or("").chars().take(64).collect::<String>()
                                ),
                                label::OTHER_HTTP,
                            ));
                            None
                        };
                        if self.pending.len() >= MAX_PENDING {
                            self.pending.pop_front();
                            self.unpaired += 1;
                        }
                        self.pending.push_back(id);
                    }
                    Direction::ToClient => {
                        let asked = self.pending.front().cloned();
                        if !matches!(asked, Some(None)) {
                            self.message(cx, dir, &m, out);
                        }
                        self.pending.pop_front();
                    }
                },
            }
        }
    }

    fn on_gap(&mut self, _cx: &mut Ctx<'_>, dir: Direction, len: u64, _out: &mut Vec<Finding>) {
        self.http[dir.index()].on_gap(len);
        self.unpaired += self.pending.len() as u64;
        self.pending.clear();
    }

    fn held_bytes(&self) -> usize {
        self.http.iter().map(HttpParser::held_bytes).sum()
    }

    fn release(&mut self) {
        for p in &mut self.http {
            p.release();
        }
        self.unpaired += self.pending.len() as u64;
        self.pending.clear();
    }
}

fn undecodable(dir: Direction, reason: String, label: &'static str) -> Finding {
    Finding::Undecodable {
        protocol: PROTOCOL,
        dir,
        reason,
        label: Some(label),
        http: false,
    }
}
