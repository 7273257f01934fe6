//! Shelly: the Gen1 HTTP API, CoIoT (CoAP on UDP 5683) and the Gen2+
//! JSON-RPC API over HTTP `POST /rpc` / `GET /rpc/<Method>` and over
//! WebSocket `/rpc`.
//!
//! Layout:
//! - [`gen1`]: Gen1 endpoints, their parameters and answers (stateless).
//! - [`rpc`]: Gen2+ JSON-RPC frames: call / notification / response, the
//!   Switch and Shelly components, digest `auth` (stateless).
//! - [`conn`]: one TCP connection on port 80: HTTP both ways, the switch to
//!   WebSocket, pairing (HTTP by order, WebSocket by JSON-RPC `id`).
//! - [`coiot`]: CoIoT datagrams and the `/cit/d` descriptions shared across
//!   flows.
//!
//! Sources: shelly-api-docs.shelly.cloud (Gen1 Device API; Gen2+ Device
//! API: RPC Protocol, Notifications, Authentication, Switch), "The CoIoT
//! Protocol for Shelly devices" rev 1.0, aioshelly (`block_device/coap.py`,
//! `rpc_device/wsrpc.py`). Generic layers: [`crate::decoders::http`],
//! [`crate::decoders::websocket`], [`crate::decoders::coap`].

pub mod coiot;
pub mod conn;
pub mod gen1;
pub mod rpc;

use super::{Decoder, Probe, Registration, ServerIs, StreamDecoder, Transport, Verdict};

/// The `protocol` of Shelly events.
pub const PROTOCOL: &str = "shelly";
/// The `vendor` of Shelly `SysInfo` summaries.
pub const VENDOR: &str = "Shelly";
/// The HTTP port of the Gen1 and Gen2 APIs.
pub const HTTP_PORT: u16 = 80;
/// CoIoT (CoAP).
pub const COIOT_PORT: u16 = 5683;
/// Relays / switches reported per message (a Pro 4PM has 4).
pub const MAX_CHANNELS: usize = 16;
/// Longest string kept from a device field (names, ids, versions).
pub const MAX_FIELD: usize = 128;

/// Shelly over HTTP and WebSocket on TCP 80, claimed by content.
pub static HTTP: Registration = Registration {
    name: PROTOCOL,
    transport: Transport::Tcp,
    ports: &[HTTP_PORT],
    probe: probe_http,
    decoder: Decoder::Stream(new_conn),
};

/// CoIoT on UDP 5683.
pub static COIOT: Registration = Registration {
    name: "shelly-coiot",
    transport: Transport::Udp,
    ports: &[COIOT_PORT],
    probe: probe_coiot,
    decoder: Decoder::Datagram(coiot::decode_datagram),
};

fn new_conn(p: &Probe<'_>) -> Box<dyn StreamDecoder> {
    if p.mid_stream && looks_like_server_frame(p.payload) {
        return Box::new(conn::ShellyConn::mid_websocket());
    }
    Box::new(conn::ShellyConn::new(p.mid_stream))
}

/// A capture that starts inside a WebSocket session: the first payload seen
/// (from the device) begins with an unmasked data or control frame header
/// (RFC 6455 §5.2) and is not HTTP.
fn looks_like_server_frame(b: &[u8]) -> bool {
    use super::websocket::{FrameHeader, opcode};
    match FrameHeader::parse(b) {
        Ok(h) => {
            h.rsv == 0
                && h.mask.is_none()
                && matches!(
                    h.opcode,
                    opcode::TEXT | opcode::CLOSE | opcode::PING | opcode::PONG
                )
                && !b.starts_with(b"HTTP/")
        }
        Err(_) => false,
    }
}

/// Port 80 flows whose first payload is a Shelly request (a Gen1 path,
/// `/rpc`, a WebSocket upgrade on `/rpc`), or — picked up mid-stream — a
/// response or WebSocket frame whose JSON names a Shelly device (a
/// mid-stream WebSocket is then decoded from that frame on: the device's
/// frames are unmasked, and the segment it sent starts at a frame).
pub fn probe_http(p: &Probe<'_>) -> Verdict {
    let side = if p.dst.port() == HTTP_PORT {
        ServerIs::Dst
    } else if p.src.port() == HTTP_PORT {
        ServerIs::Src
    } else {
        return Verdict::NoMatch;
    };
    if p.payload.is_empty() {
        return Verdict::NeedData;
    }
    if let Some((method, target)) = request_line(p.payload) {
        let path = target.split('?').next().unwrap_or("");
        let rpc = path == "/rpc" || path.starts_with("/rpc/");
        let ok = match method {
            "GET" => rpc || gen1::is_gen1_path(path),
            "POST" => rpc || (gen1::is_gen1_path(path) && path != "/shelly"),
            _ => false,
        };
        // A request's sender is the client.
        return if ok && side == ServerIs::Dst {
            Verdict::Match(ServerIs::Dst)
        } else {
            Verdict::NoMatch
        };
    }
    // Mid-stream: a response or a server frame naming a Shelly device.
    if side == ServerIs::Src && p.mid_stream && names_shelly(p.payload) {
        return Verdict::Match(ServerIs::Src);
    }
    Verdict::NoMatch
}

/// `("GET", "/relay/0?turn=on")` from a request line at the start.
pub(crate) fn request_line(b: &[u8]) -> Option<(&str, &str)> {
    let end = b
        .iter()
        .take(2048)
        .position(|&c| c == b'\r' || c == b'\n')
        .unwrap_or(b.len().min(2048));
    let line = std::str::from_utf8(b.get(..end)?).ok()?;
    let mut it = line.split(' ');
    let (m, t) = (it.next()?, it.next()?);
    (m.bytes().all(|c| c.is_ascii_uppercase()) && !m.is_empty() && t.starts_with('/'))
        .then_some((m, t))
}

/// A Gen2 frame's `"src":"shelly…"` or a Gen1 answer's Shelly fields.
fn names_shelly(b: &[u8]) -> bool {
    let hay = &b[..b.len().min(4096)];
    [
        &b"\"src\":\"shelly"[..],
        b"\"src\": \"shelly",
        b"\"ison\":",
        b"\"was_on\":",
        b"\"wifi_sta\":",
    ]
    .iter()
    .any(|n| hay.windows(n.len()).any(|w| w == *n))
}

/// CoIoT datagrams: a status publication (0.30) or a 2.05 answer comes from
/// the device; a request (`GET /cit/…`) goes to it.
pub fn probe_coiot(p: &Probe<'_>) -> Verdict {
    if p.src.port() != COIOT_PORT && p.dst.port() != COIOT_PORT {
        return Verdict::NoMatch;
    }
    let Ok(m) = super::coap::CoapMessage::parse(p.payload) else {
        return Verdict::NoMatch;
    };
    let from_device = m.code == coiot::CODE_PUBLISH || !m.is_request();
    if from_device {
        Verdict::Match(ServerIs::Src)
    } else {
        Verdict::Match(ServerIs::Dst)
    }
}

/// Adding up per-channel readings into one per device.
pub mod energy {
    use crate::decoders::summary::EmeterReading;

    /// Power, current and energy are summed over channels; voltage is the
    /// first channel's (one supply). `None` when no channel says anything.
    pub fn sum(r: &[EmeterReading]) -> Option<EmeterReading> {
        let add = |f: fn(&EmeterReading) -> Option<f64>| {
            r.iter()
                .filter_map(f)
                .fold(None, |a: Option<f64>, x| Some(a.unwrap_or(0.0) + x))
        };
        let e = EmeterReading {
            power_w: add(|e| e.power_w),
            voltage_v: r.iter().find_map(|e| e.voltage_v),
            current_a: add(|e| e.current_a),
            total_kwh: add(|e| e.total_kwh),
            added_kwh: None,
        };
        (e != EmeterReading::default()).then_some(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::{DecoderConfig, Shared};

    fn probe(src: &str, dst: &str, payload: &[u8], mid: bool, shared: &Shared) -> Verdict {
        probe_http(&Probe {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            payload,
            syn: payload.is_empty(),
            mid_stream: mid,
            shared,
        })
    }

    #[test]
    fn http_probe_by_content() {
        let sh = Shared::new(DecoderConfig::default());
        let (c, d) = ("192.168.1.5:50000", "192.168.1.30:80");
        assert_eq!(probe(c, d, b"", false, &sh), Verdict::NeedData);
        assert_eq!(probe(c, "1.2.3.4:8080", b"", false, &sh), Verdict::NoMatch);
        for ok in [
            &b"GET /relay/0?turn=on HTTP/1.1\r\n"[..],
            b"GET /status HTTP/1.1\r\n",
            b"GET /settings/relay/0 HTTP/1.1\r\n",
            b"GET /shelly HTTP/1.1\r\n",
            b"GET /meter/0 HTTP/1.1\r\n",
            b"POST /rpc HTTP/1.1\r\nContent-Length: 5",
            b"GET /rpc/Switch.GetStatus?id=0 HTTP/1.1\r\n",
            b"GET /rpc HTTP/1.1\r\nUpgrade: websocket\r\n",
        ] {
            assert_eq!(
                probe(c, d, ok, false, &sh),
                Verdict::Match(ServerIs::Dst),
                "{ok:?}"
            );
        }
        for no in [
            &b"POST /app/handshake1 HTTP/1.1\r\n"[..],
            b"POST /app/request?seq=5 HTTP/1.1\r\n",
            b"POST /app HTTP/1.1\r\n",
            b"POST /config HTTP/1.1\r\n",
            b"GET / HTTP/1.1\r\n",
            b"GET /statusx HTTP/1.1\r\n",
            b"\x16\x03\x01\x02\x00",
            b"HTTP/1.1 200 OK\r\n\r\n\x01\x02",
        ] {
            assert_eq!(probe(c, d, no, false, &sh), Verdict::NoMatch, "{no:?}");
            assert_eq!(probe(d, c, no, true, &sh), Verdict::NoMatch, "{no:?}");
        }
        // Mid-stream answers from the device.
        let r = b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n{\"id\":1,\"src\":\"shellyplusplugs-e86b\"";
        assert_eq!(probe(d, c, r, true, &sh), Verdict::Match(ServerIs::Src));
        assert_eq!(probe(d, c, r, false, &sh), Verdict::NoMatch);
    }

    #[test]
    fn coiot_probe() {
        let sh = Shared::new(DecoderConfig::default());
        let p = |src: &str, dst: &str, b: &[u8]| {
            probe_coiot(&Probe {
                src: src.parse().unwrap(),
                dst: dst.parse().unwrap(),
                payload: b,
                syn: false,
                mid_stream: false,
                shared: &sh,
            })
        };
        let publish = [0x50, 30, 0, 1, 0xff, b'{', b'}'];
        assert_eq!(
            p("192.168.1.30:5683", "224.0.1.187:5683", &publish),
            Verdict::Match(ServerIs::Src)
        );
        let get = b"\x50\x01\x00\x0a\xb3cit\x01d\xff\x00";
        assert_eq!(
            p("192.168.1.5:40000", "192.168.1.30:5683", get),
            Verdict::Match(ServerIs::Dst)
        );
        assert_eq!(
            p("192.168.1.5:40000", "192.168.1.30:5683", b"\x00"),
            Verdict::NoMatch
        );
        assert_eq!(
            p("192.168.1.5:40000", "192.168.1.30:53", &publish),
            Verdict::NoMatch
        );
    }
}
