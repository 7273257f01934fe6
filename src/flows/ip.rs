//! From link payloads to transport: Ethernet II / 802.1Q, Linux cooked (SLL,
//! SLL2), BSD null/loopback and raw IP down to TCP/UDP, zero-copy, through
//! `etherparse` (strict slicing: a header that lies about its length is an
//! error, never an out-of-bounds read).
//!
//! IPv4 fragments are recognised and reported (`fragment: true`) but not
//! reassembled: TP-Link traffic never fragments, and reassembly would be an
//! unbounded buffer for anyone on the air to fill.

use std::net::{IpAddr, Ipv4Addr};

use etherparse::{EtherType, NetSlice, SlicedPacket, TransportSlice};

use crate::flows::tcp::TcpFlags;
use crate::wire::MacAddr;

/// Link types `parse_link` understands (libpcap LINKTYPE_ values).
pub mod dlt {
    pub const NULL: i32 = 0;
    pub const ETHERNET: i32 = 1;
    pub const RAW_OLD: i32 = 12;
    pub const RAW_OLD2: i32 = 14;
    pub const RAW: i32 = 101;
    pub const LOOP: i32 = 108;
    pub const LINUX_SLL: i32 = 113;
    pub const IPV4: i32 = 228;
    pub const IPV6: i32 = 229;
    pub const LINUX_SLL2: i32 = 276;
}

/// True for the non-802.11 link types `watch` reads (a wired tap).
pub fn supported_plain_dlt(d: i32) -> bool {
    use dlt::*;
    matches!(
        d,
        NULL | ETHERNET | RAW_OLD | RAW_OLD2 | RAW | LOOP | LINUX_SLL | IPV4 | IPV6 | LINUX_SLL2
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IpError {
    #[error("{layer}: needs {required} bytes, {len} present")]
    Short {
        layer: &'static str,
        required: usize,
        len: usize,
    },
    #[error("{0}: malformed header")]
    Malformed(&'static str),
    #[error("link type {0} not supported")]
    Link(i32),
}

/// The transport layer of an IP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L4<'a> {
    Tcp {
        src_port: u16,
        dst_port: u16,
        seq: u32,
        ack: u32,
        flags: TcpFlags,
        window: u16,
        payload: &'a [u8],
    },
    Udp {
        src_port: u16,
        dst_port: u16,
        payload: &'a [u8],
    },
    Icmp,
    Other(u8),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpPacket<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ttl: u8,
    pub l4: L4<'a>,
    /// A fragment of a larger datagram (l4 is `Other`).
    pub fragment: bool,
}

/// A frame of a plain link type, down to its EtherType.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkFrame<'a> {
    pub src_mac: Option<MacAddr>,
    pub dst_mac: Option<MacAddr>,
    pub ethertype: u16,
    pub payload: &'a [u8],
}

fn short(layer: &'static str, required: usize, len: usize) -> IpError {
    IpError::Short {
        layer,
        required,
        len,
    }
}

/// Splits a frame of link type `d` into MACs (when the link has them),
/// EtherType and payload.
pub fn parse_link(d: i32, frame: &[u8]) -> Result<LinkFrame<'_>, IpError> {
    let ip_version = |p: &[u8]| match p.first().map(|b| b >> 4) {
        Some(4) => Ok(0x0800),
        Some(6) => Ok(0x86dd),
        _ => Err(IpError::Malformed("raw IP")),
    };
    match d {
        dlt::ETHERNET => {
            if frame.len() < 14 {
                return Err(short("Ethernet", 14, frame.len()));
            }
            let mut et = u16::from_be_bytes([frame[12], frame[13]]);
            let mut off = 14;
            // 802.1Q / 802.1ad tags, at most two.
            for _ in 0..2 {
                if et == 0x8100 || et == 0x88a8 {
                    if frame.len() < off + 4 {
                        return Err(short("802.1Q", off + 4, frame.len()));
                    }
                    et = u16::from_be_bytes([frame[off + 2], frame[off + 3]]);
                    off += 4;
                }
            }
            Ok(LinkFrame {
                dst_mac: Some(MacAddr::from_slice(&frame[0..6])),
                src_mac: Some(MacAddr::from_slice(&frame[6..12])),
                ethertype: et,
                payload: &frame[off..],
            })
        }
        dlt::LINUX_SLL => {
            // packet type(2) ARPHRD(2) addr len(2) addr(8) protocol(2)
            if frame.len() < 16 {
                return Err(short("Linux SLL", 16, frame.len()));
            }
            let alen = u16::from_be_bytes([frame[4], frame[5]]) as usize;
            let src = (alen == 6).then(|| MacAddr::from_slice(&frame[6..12]));
            Ok(LinkFrame {
                src_mac: src,
                dst_mac: None,
                ethertype: u16::from_be_bytes([frame[14], frame[15]]),
                payload: &frame[16..],
            })
        }
        dlt::LINUX_SLL2 => {
            // protocol(2) reserved(2) ifindex(4) ARPHRD(2) pkttype(1) addr len(1) addr(8)
            if frame.len() < 20 {
                return Err(short("Linux SLL2", 20, frame.len()));
            }
            let alen = frame[11] as usize;
            let src = (alen == 6).then(|| MacAddr::from_slice(&frame[12..18]));
            Ok(LinkFrame {
                src_mac: src,
                dst_mac: None,
                ethertype: u16::from_be_bytes([frame[0], frame[1]]),
                payload: &frame[20..],
            })
        }
        dlt::NULL | dlt::LOOP => {
            if frame.len() < 4 {
                return Err(short("loopback", 4, frame.len()));
            }
            let p = &frame[4..];
            Ok(LinkFrame {
                src_mac: None,
                dst_mac: None,
                ethertype: ip_version(p)?,
                payload: p,
            })
        }
        dlt::RAW | dlt::RAW_OLD | dlt::RAW_OLD2 | dlt::IPV4 | dlt::IPV6 => Ok(LinkFrame {
            src_mac: None,
            dst_mac: None,
            ethertype: ip_version(frame)?,
            payload: frame,
        }),
        other => Err(IpError::Link(other)),
    }
}

/// Parses an IP packet carried with `ethertype`; `Ok(None)` for non-IP
/// EtherTypes (ARP, EAPOL…). One VLAN tag is unwrapped.
pub fn parse_ip_ethertype(ethertype: u16, payload: &[u8]) -> Result<Option<IpPacket<'_>>, IpError> {
    let (ethertype, payload) = if ethertype == 0x8100 {
        if payload.len() < 4 {
            return Err(short("802.1Q", 4, payload.len()));
        }
        (u16::from_be_bytes([payload[2], payload[3]]), &payload[4..])
    } else {
        (ethertype, payload)
    };
    if ethertype != 0x0800 && ethertype != 0x86dd {
        return Ok(None);
    }
    let sp = SlicedPacket::from_ether_type(EtherType(ethertype), payload)
        .map_err(|_| IpError::Malformed(if ethertype == 0x0800 { "IPv4" } else { "IPv6" }))?;
    let (src, dst, ttl, fragment) = match &sp.net {
        Some(NetSlice::Ipv4(v4)) => (
            IpAddr::V4(v4.header().source_addr()),
            IpAddr::V4(v4.header().destination_addr()),
            v4.header().ttl(),
            v4.payload().fragmented,
        ),
        Some(NetSlice::Ipv6(v6)) => (
            IpAddr::V6(v6.header().source_addr()),
            IpAddr::V6(v6.header().destination_addr()),
            v6.header().hop_limit(),
            v6.payload().fragmented,
        ),
        _ => return Err(IpError::Malformed("IP")),
    };
    let l4 = if fragment {
        L4::Other(0)
    } else {
        match &sp.transport {
            Some(TransportSlice::Tcp(t)) => {
                let b = t.header_slice();
                L4::Tcp {
                    src_port: t.source_port(),
                    dst_port: t.destination_port(),
                    seq: t.sequence_number(),
                    ack: t.acknowledgment_number(),
                    flags: TcpFlags(b.get(13).copied().unwrap_or(0)),
                    window: t.window_size(),
                    payload: t.payload(),
                }
            }
            Some(TransportSlice::Udp(u)) => L4::Udp {
                src_port: u.source_port(),
                dst_port: u.destination_port(),
                payload: u.payload(),
            },
            Some(TransportSlice::Icmpv4(_) | TransportSlice::Icmpv6(_)) => L4::Icmp,
            _ => L4::Other(
                sp.net
                    .as_ref()
                    .and_then(|n| n.ip_payload_ref())
                    .map_or(0, |p| p.ip_number.0),
            ),
        }
    };
    Ok(Some(IpPacket {
        src,
        dst,
        ttl,
        l4,
        fragment,
    }))
}

/// An ARP packet for IPv4 over Ethernet (RFC 826).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arp {
    pub op: u16,
    pub sender_mac: MacAddr,
    pub sender_ip: Ipv4Addr,
    pub target_mac: MacAddr,
    pub target_ip: Ipv4Addr,
}

/// Parses an Ethernet/IPv4 ARP packet; anything else is `None`.
pub fn parse_arp(p: &[u8]) -> Option<Arp> {
    if p.len() < 28 || p[0..2] != [0, 1] || p[2..4] != [8, 0] || p[4] != 6 || p[5] != 4 {
        return None;
    }
    let ip = |o: usize| Ipv4Addr::new(p[o], p[o + 1], p[o + 2], p[o + 3]);
    Some(Arp {
        op: u16::from_be_bytes([p[6], p[7]]),
        sender_mac: MacAddr::from_slice(&p[8..14]),
        sender_ip: ip(14),
        target_mac: MacAddr::from_slice(&p[18..24]),
        target_ip: ip(24),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn tcp_v4() -> Vec<u8> {
        let b = PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([192, 168, 0, 2], [192, 168, 0, 51], 64)
            .tcp(50000, 9999, 1234, 8192)
            .syn();
        let mut v = Vec::new();
        b.write(&mut v, b"hello").unwrap();
        v
    }

    #[test]
    fn ethernet_tcp() {
        let f = tcp_v4();
        let l = parse_link(dlt::ETHERNET, &f).unwrap();
        assert_eq!(l.src_mac, Some(MacAddr([1; 6])));
        let p = parse_ip_ethertype(l.ethertype, l.payload).unwrap().unwrap();
        assert_eq!(p.dst, IpAddr::V4(Ipv4Addr::new(192, 168, 0, 51)));
        match p.l4 {
            L4::Tcp {
                dst_port,
                seq,
                flags,
                payload,
                ..
            } => {
                assert_eq!((dst_port, seq, payload), (9999, 1234, &b"hello"[..]));
                assert!(flags.syn());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_link_type() {
        let f = tcp_v4();
        let ip = &f[14..];
        let mut sll = vec![0, 0, 0, 1, 0, 6, 1, 1, 1, 1, 1, 1, 0, 0, 8, 0];
        sll.extend_from_slice(ip);
        let mut sll2 = vec![8, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 1, 1, 1, 1, 1, 1, 0, 0];
        sll2.extend_from_slice(ip);
        let mut null = 2u32.to_ne_bytes().to_vec();
        null.extend_from_slice(ip);
        for (d, f) in [
            (dlt::LINUX_SLL, &sll[..]),
            (dlt::LINUX_SLL2, &sll2[..]),
            (dlt::NULL, &null[..]),
            (dlt::RAW, ip),
            (dlt::IPV4, ip),
        ] {
            let l = parse_link(d, f).unwrap();
            assert_eq!(l.ethertype, 0x0800, "dlt {d}");
            assert!(
                parse_ip_ethertype(l.ethertype, l.payload)
                    .unwrap()
                    .is_some(),
                "dlt {d}"
            );
            for n in 0..f.len() {
                if let Ok(l) = parse_link(d, &f[..n]) {
                    let _ = parse_ip_ethertype(l.ethertype, l.payload);
                }
            }
        }
        assert!(parse_link(9999, &f).is_err());
    }

    #[test]
    fn arp_and_udp_v6() {
        let mut a = vec![0, 1, 8, 0, 6, 4, 0, 2];
        a.extend_from_slice(&[1; 6]);
        a.extend_from_slice(&[192, 168, 0, 5]);
        a.extend_from_slice(&[2; 6]);
        a.extend_from_slice(&[192, 168, 0, 1]);
        let arp = parse_arp(&a).unwrap();
        assert_eq!(arp.sender_ip, Ipv4Addr::new(192, 168, 0, 5));
        assert!(parse_arp(&a[..27]).is_none());
        let b = PacketBuilder::ipv6([0xfe; 16], [0xff; 16], 1).udp(5353, 9999);
        let mut v = Vec::new();
        b.write(&mut v, b"x").unwrap();
        let p = parse_ip_ethertype(0x86dd, &v).unwrap().unwrap();
        assert!(matches!(p.l4, L4::Udp { dst_port: 9999, .. }));
        assert_eq!(parse_ip_ethertype(0x0806, &a).unwrap(), None);
    }

    proptest::proptest! {
        #[test]
        fn random_bytes_never_panic(d in 0i32..300, b in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            if let Ok(l) = parse_link(d, &b) {
                let _ = parse_ip_ethertype(l.ethertype, l.payload);
            }
            let _ = parse_ip_ethertype(0x0800, &b);
            let _ = parse_ip_ethertype(0x86dd, &b);
            let _ = parse_arp(&b);
        }
    }
}
