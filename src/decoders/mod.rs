//! Application-layer decoders: byte streams and datagrams in, typed findings out.
//!
//! Each decoder is split like Suricata's `rust/src/<proto>/`: a parser that
//! frames bytes, and interpretation on top. Decoders never print and never do
//! I/O; turning findings into output lines is `output/`'s job.
//!
//! Every decoder holds bounded state per direction and accepts stream gaps
//! (from [`crate::flows::tcp`]) by resynchronising or stopping, never by
//! guessing across the hole.
//!
//! - [`tplink`]: the Kasa XOR protocol on TCP/UDP 9999 and TDP on UDP 20002.
//! - [`http`]: bounded HTTP/1.1 framing over reassembled TCP.
//! - [`klap`]: KLAP (HTTP 80) handshakes, decryption with the owner's or the
//!   default credentials, and labels for what cannot be decrypted.
//! - [`tls_meta`]: SNI, versions, ciphers and certificate names of TLS flows.
//! - [`probe`] picks a decoder from ports and, for TLS, the first bytes.

pub mod http;
pub mod klap;
pub mod tls_meta;
pub mod tplink;

use crate::flows::table::{PROTO_TCP, PROTO_UDP};

/// Direction within a connection, from the decoder's point of view. The
/// flow table decides who the client is ([`crate::flows::table::Flow`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Client → server (for the plugs: app → device).
    ToServer,
    /// Server → client.
    ToClient,
}

impl Direction {
    /// 0 for `ToServer`, 1 for `ToClient`.
    pub fn index(self) -> usize {
        match self {
            Direction::ToServer => 0,
            Direction::ToClient => 1,
        }
    }
}

/// Which decoder a flow gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppProtocol {
    /// TCP 9999: length-prefixed XOR JSON.
    TplinkXorTcp,
    /// UDP 9999: bare XOR JSON (discovery and commands).
    TplinkXorUdp,
    /// UDP 20002: TDP discovery.
    TplinkDiscovery,
    /// TLS on any TCP port.
    Tls,
}

/// TCP/UDP port of the XOR protocol (softScheck, python-kasa).
pub const TPLINK_XOR_PORT: u16 = 9999;

/// Picks a decoder from the IP protocol, the ports and, for TCP, the first
/// bytes the client sent (may be empty when not yet known).
pub fn probe(proto: u8, src_port: u16, dst_port: u16, first_bytes: &[u8]) -> Option<AppProtocol> {
    let either = |p: u16| src_port == p || dst_port == p;
    match proto {
        PROTO_TCP if either(TPLINK_XOR_PORT) => Some(AppProtocol::TplinkXorTcp),
        PROTO_TCP if looks_like_tls(first_bytes) => Some(AppProtocol::Tls),
        PROTO_UDP if either(TPLINK_XOR_PORT) => Some(AppProtocol::TplinkXorUdp),
        PROTO_UDP if either(tplink::discovery::TDP_PORT) => Some(AppProtocol::TplinkDiscovery),
        _ => None,
    }
}

/// A TLS handshake record header: content type 22, version 3.0–3.4
/// (RFC 8446 §5.1; SSL 3.0 to the TLS 1.3 record layer's 0x0301/0x0303).
pub fn looks_like_tls(b: &[u8]) -> bool {
    matches!(b, [22, 3, 0..=4, ..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_by_port_and_bytes() {
        assert_eq!(
            probe(PROTO_TCP, 40000, 9999, b""),
            Some(AppProtocol::TplinkXorTcp)
        );
        assert_eq!(
            probe(PROTO_TCP, 9999, 40000, b""),
            Some(AppProtocol::TplinkXorTcp)
        );
        assert_eq!(
            probe(PROTO_UDP, 9999, 5000, b""),
            Some(AppProtocol::TplinkXorUdp)
        );
        assert_eq!(
            probe(PROTO_UDP, 5000, 20002, b""),
            Some(AppProtocol::TplinkDiscovery)
        );
        assert_eq!(
            probe(PROTO_TCP, 40000, 50443, &[22, 3, 1, 2, 0]),
            Some(AppProtocol::Tls)
        );
        assert_eq!(probe(PROTO_TCP, 40000, 80, b"GET /"), None);
        assert_eq!(probe(PROTO_TCP, 40000, 443, &[22]), None);
        assert_eq!(probe(1, 0, 0, b""), None);
    }
}
