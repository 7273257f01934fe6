//! The shape every vendor generator ([`super::shelly`], [`super::wemo`],
//! [`super::meross`]) returns: whole conversations as TCP payload bytes per
//! direction and UDP datagrams, addressed, in capture order, ready to be
//! wrapped into frames (`synth::frames`) for a demo capture or fed straight
//! into a decoder.

use std::net::SocketAddr;

use crate::decoders::Direction;

/// One TCP connection: the payload of each segment, in order, with its
/// direction (`ToServer` = client → device). A message may be split over
/// several segments (the decoders must reassemble it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpExchange {
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub segments: Vec<(Direction, Vec<u8>)>,
}

/// One UDP datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpDatagram {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub payload: Vec<u8>,
}

/// A vendor's traffic: TCP connections and datagrams.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlugTraffic {
    pub tcp: Vec<TcpExchange>,
    pub udp: Vec<UdpDatagram>,
}

/// An HTTP/1.1 request with `Content-Length` (omitted when `body` is empty
/// and the method is `GET`).
pub fn http_request(
    method: &str,
    target: &str,
    host: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let mut h = format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\n");
    for (k, v) in headers {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    if !(body.is_empty() && method == "GET") {
        h.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    h.push_str("\r\n");
    let mut v = h.into_bytes();
    v.extend_from_slice(body);
    v
}

/// An HTTP/1.1 response with `Content-Length`.
pub fn http_response(status: u16, reason: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut h = format!("HTTP/1.1 {status} {reason}\r\n");
    for (k, v) in headers {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    h.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut v = h.into_bytes();
    v.extend_from_slice(body);
    v
}

/// `bytes` as two segments cut at `at` (clamped).
pub fn split(dir: Direction, bytes: Vec<u8>, at: usize) -> [(Direction, Vec<u8>); 2] {
    let at = at.min(bytes.len());
    let (a, b) = bytes.split_at(at);
    [(dir, a.to_vec()), (dir, b.to_vec())]
}
