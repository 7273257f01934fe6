//! One TCP connection to a Wemo's UPnP HTTP server: SOAP calls and their
//! answers, and `setup.xml`, paired by order (RFC 9112 §9.3).
//!
//! Bounded by the HTTP parsers' caps, the XML caps of [`super::xml`] and
//! [`MAX_PENDING`] outstanding requests (oldest forgotten, counted in
//! [`WemoConn::unpaired`]).

use std::collections::VecDeque;

use serde_json::{Map, Value};

use super::{PROTOCOL, setup_summary, soap_summary, xml};
use crate::decoders::http::{HttpEvent, HttpMessage, HttpParser};
use crate::decoders::summary::Summary;
use crate::decoders::{
    AppMessage, Ctx, Direction, Finding, MessageKind, MessageMeta, StreamDecoder,
};

/// Outstanding requests remembered per connection.
pub const MAX_PENDING: usize = 32;

/// Labels of what is not decoded.
pub mod label {
    pub const NOT_SOAP: &str = "Wemo: SOAP body not readable";
    pub const OTHER_HTTP: &str = "Wemo: other HTTP";
}

#[derive(Debug, Clone)]
enum Req {
    Soap {
        service: Option<String>,
        action: String,
    },
    Setup,
    Other,
}

/// Decoder state of one connection.
#[derive(Debug)]
pub struct WemoConn {
    http: [HttpParser; 2],
    pending: VecDeque<Req>,
    /// Requests whose answer never came.
    pub unpaired: u64,
}

impl WemoConn {
    pub fn new(mid_stream: bool) -> Self {
        let p = if mid_stream {
            HttpParser::hunting()
        } else {
            HttpParser::new()
        };
        WemoConn {
            http: [p.clone(), p],
            pending: VecDeque::new(),
            unpaired: 0,
        }
    }

    fn request(&mut self, m: &HttpMessage, out: &mut Vec<Finding>) -> Req {
        let dir = Direction::ToServer;
        let path = m.path().unwrap_or("");
        match m.method() {
            Some("POST") if path.starts_with("/upnp/control/") => match xml::soap(&m.body) {
                Ok(b) => {
                    // SOAPACTION: "urn:Belkin:service:basicevent:1#SetBinaryState".
                    let service = b.service.clone().or_else(|| {
                        m.header("soapaction")
                            .and_then(|s| s.trim_matches('"').split_once('#'))
                            .map(|(s, _)| s.chars().take(256).collect())
                    });
                    out.push(message(
                        dir,
                        MessageKind::Request,
                        &b.action,
                        soap_summary(&b),
                        b.to_json(),
                        service.clone(),
                        true,
                    ));
                    Req::Soap {
                        service,
                        action: b.action,
                    }
                }
                Err(e) => {
                    out.push(undecodable(
                        dir,
                        format!("{e:?} in {} bytes", m.body.len()),
                        label::NOT_SOAP,
                    ));
                    Req::Other
                }
            },
            Some("GET") if path == "/setup.xml" => {
                out.push(message(
                    dir,
                    MessageKind::Request,
                    "setup.xml",
                    Vec::new(),
                    Value::Null,
                    None,
                    true,
                ));
                Req::Setup
            }
            meth => {
                out.push(undecodable(
                    dir,
                    format!(
                        "{} {}",
                        meth.unwrap_or("").chars().take(16).collect::<String>(),
                        path.chars().take(64).collect::<String>()
                    ),
                    label::OTHER_HTTP,
                ));
                Req::Other
            }
        }
    }

    fn response(&mut self, m: &HttpMessage, out: &mut Vec<Finding>) {
        let dir = Direction::ToClient;
        let req = self.pending.pop_front();
        let paired = req.is_some();
        match req {
            Some(Req::Other) => {}
            Some(Req::Setup) => match xml::setup_xml(&m.body) {
                Ok(fields) => {
                    let si = setup_summary(&fields);
                    let mut dev = Map::new();
                    for (k, v) in fields {
                        dev.insert(k, Value::String(v));
                    }
                    let mut j = Map::new();
                    j.insert("device".into(), Value::Object(dev));
                    out.push(message(
                        dir,
                        MessageKind::Response,
                        "setup.xml",
                        vec![Summary::SysInfo(Box::new(si))],
                        Value::Object(j),
                        None,
                        paired,
                    ));
                }
                Err(e) => out.push(undecodable(
                    dir,
                    format!("setup.xml: {e:?}"),
                    label::NOT_SOAP,
                )),
            },
            Some(Req::Soap { .. }) | None => {
                let (service, asked) = match &req {
                    Some(Req::Soap { service, action }) => (service.clone(), Some(action.clone())),
                    _ => (None, None),
                };
                match xml::soap(&m.body) {
                    Ok(b) => {
                        let service = b.service.clone().or(service);
                        let mut summary = soap_summary(&b);
                        for s in &mut summary {
                            // A Fault names no action: it answers the request's.
                            if let Summary::Error { method, .. } = s {
                                method.clone_from(&asked);
                            }
                        }
                        out.push(message(
                            dir,
                            MessageKind::Response,
                            &b.action,
                            summary,
                            b.to_json(),
                            service,
                            paired,
                        ));
                    }
                    Err(e) => out.push(undecodable(
                        dir,
                        format!(
                            "HTTP {} with {} body bytes: {e:?}",
                            m.status().unwrap_or(0),
                            m.body.len()
                        ),
                        label::NOT_SOAP,
                    )),
                }
            }
        }
    }
}

impl StreamDecoder for WemoConn {
    fn on_data(&mut self, _cx: &mut Ctx<'_>, dir: Direction, data: &[u8], out: &mut Vec<Finding>) {
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
                        let r = self.request(&m, out);
                        if self.pending.len() >= MAX_PENDING {
                            self.pending.pop_front();
                            self.unpaired += 1;
                        }
                        self.pending.push_back(r);
                    }
                    Direction::ToClient => self.response(&m, out),
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

fn message(
    dir: Direction,
    kind: MessageKind,
    action: &str,
    summary: Vec<Summary>,
    json: Value,
    service: Option<String>,
    paired: bool,
) -> Finding {
    Finding::Message(Box::new(AppMessage {
        protocol: PROTOCOL,
        transport: "http",
        dir,
        kind,
        methods: vec![action.to_owned()],
        summary,
        json,
        meta: Some(MessageMeta::Wemo {
            service,
            action: action.to_owned(),
        }),
        paired,
        via: "wemo",
    }))
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
