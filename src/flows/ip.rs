//! From link frames to the transport layer, zero-copy: link header →
//! EtherType → IPv4/IPv6 → TCP/UDP/ICMP, plus ARP.
//!
//! # What this module owns
//! - [`parse_link`]: the link layers `watch` reads from a wired tap
//!   ([`supported_plain_dlt`]): Ethernet II with up to two 802.1Q/802.1ad tags
//!   (IEEE 802.1Q-2018 §9), Linux cooked v1/v2 (SLL, SLL2), BSD null and
//!   OpenBSD loopback (a 4-byte address family), and raw IP. Link numbers are
//!   libpcap's `LINKTYPE_*` values (see tcpdump.org "Link-layer header types").
//! - [`parse_ip_ethertype`]: IPv4 (RFC 791) and IPv6 (RFC 8200) with their
//!   extension headers, then TCP (RFC 9293 §3.1), UDP (RFC 768) or ICMP
//!   (RFC 792, RFC 4443). Built on `etherparse`'s strict [`SlicedPacket`].
//! - [`parse_arp`]: ARP for IPv4 over IEEE 802 links (RFC 826).
//!
//! # Guarantees
//! - No panics and no allocation for any input; every returned slice borrows
//!   the input. Every error names the layer ([`Layer`]) and, for short input,
//!   the bytes needed and present ([`IpError::Len`]).
//! - Strict lengths: a header that claims more bytes than are present is an
//!   error, never a silently shortened payload. Lax parsing
//!   (`etherparse::LaxSlicedPacket`) would hand TCP reassembly a truncated
//!   segment as if it were whole; a strict error is counted by the caller and
//!   the missing bytes become a reassembly gap instead. Link-layer padding
//!   after the IP datagram (short Ethernet frames) is dropped by the IP total
//!   length, as RFC 791 intends.
//! - Fragments (IPv4 MF/offset, RFC 791 §2.3; an IPv6 Fragment header with a
//!   non-zero offset or M set, RFC 8200 §4.5) are reported with
//!   [`IpPacket::fragment`] set and `l4` = [`L4::Other`] carrying the
//!   protocol number. They are *not* reassembled: TP-Link traffic does not
//!   fragment, and a reassembly buffer is memory anyone on the air can fill.
//!
//! The link headers are read here rather than with `etherparse`'s link
//! slices: 0.21 has no SLL2 or null/loopback support, and each of these
//! headers is one bounds check and a few fixed offsets.

use std::net::{IpAddr, Ipv4Addr};

use etherparse::err::packet::SliceError;
use etherparse::{EtherType, NetSlice, SlicedPacket, TransportSlice};

use crate::flows::tcp::TcpFlags;
use crate::wire::llc::ethertype;
use crate::wire::{Layer, LenError, MacAddr};

pub use crate::wire::link::dlt;

/// Fixed header lengths of the link layers.
const ETHERNET_HEADER_LEN: usize = 14;
const VLAN_TAG_LEN: usize = 4;
/// Ethernet tags unwrapped by [`parse_link`]: 802.1ad S-tag + 802.1Q C-tag.
const MAX_VLAN_TAGS: usize = 2;
const SLL_HEADER_LEN: usize = 16;
const SLL2_HEADER_LEN: usize = 20;
const LOOPBACK_HEADER_LEN: usize = 4;
/// `ARPHRD_ETHER` (Linux `if_arp.h`): the SLL address is a MAC.
const ARPHRD_ETHER: u16 = 1;
/// 802.1ad service tag (QinQ outer tag).
const ETHERTYPE_QINQ: u16 = 0x88a8;

/// Address families that mean IPv4 / IPv6 in a null or loopback header.
/// `AF_INET` is 2 everywhere; `AF_INET6` is 10 (Linux), 23 (Windows),
/// 24 (NetBSD, OpenBSD, BSD/OS), 28 (FreeBSD, DragonFly) or 30 (Darwin).
const AF_INET: u32 = 2;
const AF_INET6: [u32; 5] = [10, 23, 24, 28, 30];

/// True for the non-802.11 link types `watch` reads (a wired tap).
pub fn supported_plain_dlt(d: i32) -> bool {
    use dlt::*;
    matches!(
        d,
        NULL | ETHERNET | RAW_BSD | RAW_OPENBSD | RAW | LOOP | LINUX_SLL | IPV4 | IPV6 | LINUX_SLL2
    )
}

/// Why a frame could not be taken apart. Small and `Copy`: it is produced on
/// the hot path and only counted or logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IpError {
    /// A layer is cut short ([`LenError`] says which, where, and by how much).
    #[error(transparent)]
    Len(LenError),
    /// A header field holds a value the layer does not allow (wrong IP
    /// version, header length below minimum, bad TCP data offset…).
    #[error("{0}: malformed header")]
    Malformed(Layer),
    /// A null/loopback header with an address family that is not IP.
    #[error("loopback: address family {0} is not IP")]
    AddressFamily(u32),
    /// [`parse_link`] was handed a link type it does not read.
    #[error("link type {0} not supported")]
    UnsupportedLink(i32),
}

fn short(layer: Layer, required: usize, len: usize) -> IpError {
    IpError::Len(LenError::new(layer, required, len))
}

/// The transport layer of an IP packet, borrowing its payload.
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
    /// ICMPv4 or ICMPv6.
    Icmp,
    /// Any other protocol, or a fragment: the IP protocol number (IPv6: the
    /// next header after the extension headers).
    Other(u8),
}

/// An IP packet down to its transport layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpPacket<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    pub l4: L4<'a>,
    /// A fragment of a larger datagram: `l4` is [`L4::Other`]. Not
    /// reassembled; callers count these.
    pub fragment: bool,
}

/// A frame of a plain link type, down to its EtherType.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkFrame<'a> {
    /// The sender's MAC, when the link carries one (Ethernet; SLL/SLL2 with
    /// an Ethernet address).
    pub src_mac: Option<MacAddr>,
    /// The receiver's MAC (Ethernet only; cooked captures do not keep it).
    pub dst_mac: Option<MacAddr>,
    /// The EtherType of `payload`. For SLL/SLL2, values below 0x0600 are
    /// Linux protocol numbers (802.2 LLC, Novell, netlink families), not
    /// EtherTypes; [`parse_ip_ethertype`] treats them as not IP.
    pub ethertype: u16,
    pub payload: &'a [u8],
}

fn be16(b: &[u8], off: usize) -> u16 {
    u16::from_be_bytes([b[off], b[off + 1]])
}

/// The EtherType for raw IP: the version nibble (RFC 791 §3.1, RFC 8200 §3).
fn raw_ip_ethertype(p: &[u8]) -> Result<u16, IpError> {
    match p.first().map(|b| b >> 4) {
        Some(4) => Ok(ethertype::IPV4),
        Some(6) => Ok(ethertype::IPV6),
        Some(_) => Err(IpError::Malformed(Layer::RawIp)),
        None => Err(short(Layer::RawIp, 1, 0)),
    }
}

/// The EtherType for a null/loopback address family.
fn family_ethertype(af: u32) -> Result<u16, IpError> {
    if af == AF_INET {
        Ok(ethertype::IPV4)
    } else if AF_INET6.contains(&af) {
        Ok(ethertype::IPV6)
    } else {
        Err(IpError::AddressFamily(af))
    }
}

/// Splits a frame of link type `d` into MACs (when the link has them),
/// EtherType and payload. Nothing above the link layer is looked at, except
/// the IP version nibble of raw-IP link types.
pub fn parse_link(d: i32, frame: &[u8]) -> Result<LinkFrame<'_>, IpError> {
    let no_macs = |ethertype, payload| LinkFrame {
        src_mac: None,
        dst_mac: None,
        ethertype,
        payload,
    };
    match d {
        dlt::ETHERNET => {
            // dst(6) src(6) EtherType(2), then tags of TPID(2) TCI(2).
            if frame.len() < ETHERNET_HEADER_LEN {
                return Err(short(Layer::Ethernet, ETHERNET_HEADER_LEN, frame.len()));
            }
            let mut et = be16(frame, 12);
            let mut off = ETHERNET_HEADER_LEN;
            for _ in 0..MAX_VLAN_TAGS {
                if et != ethertype::VLAN && et != ETHERTYPE_QINQ {
                    break;
                }
                if frame.len() < off + VLAN_TAG_LEN {
                    return Err(IpError::Len(LenError {
                        layer: Layer::Vlan,
                        required: VLAN_TAG_LEN,
                        len: frame.len() - off,
                        offset: off,
                    }));
                }
                et = be16(frame, off + 2);
                off += VLAN_TAG_LEN;
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
            if frame.len() < SLL_HEADER_LEN {
                return Err(short(Layer::LinuxSll, SLL_HEADER_LEN, frame.len()));
            }
            let is_mac = be16(frame, 2) == ARPHRD_ETHER && be16(frame, 4) == 6;
            Ok(LinkFrame {
                src_mac: is_mac.then(|| MacAddr::from_slice(&frame[6..12])),
                dst_mac: None,
                ethertype: be16(frame, 14),
                payload: &frame[SLL_HEADER_LEN..],
            })
        }
        dlt::LINUX_SLL2 => {
            // protocol(2) reserved(2) ifindex(4) ARPHRD(2) packet type(1)
            // addr len(1) addr(8)
            if frame.len() < SLL2_HEADER_LEN {
                return Err(short(Layer::LinuxSll2, SLL2_HEADER_LEN, frame.len()));
            }
            let is_mac = be16(frame, 8) == ARPHRD_ETHER && frame[11] == 6;
            Ok(LinkFrame {
                src_mac: is_mac.then(|| MacAddr::from_slice(&frame[12..18])),
                dst_mac: None,
                ethertype: be16(frame, 0),
                payload: &frame[SLL2_HEADER_LEN..],
            })
        }
        dlt::NULL | dlt::LOOP => {
            if frame.len() < LOOPBACK_HEADER_LEN {
                return Err(short(Layer::Loopback, LOOPBACK_HEADER_LEN, frame.len()));
            }
            let b = [frame[0], frame[1], frame[2], frame[3]];
            let af = if d == dlt::LOOP {
                u32::from_be_bytes(b)
            } else {
                // Host order of the machine that captured, which need not be
                // ours. Every family fits in 16 bits, so the reading that
                // does is the right one (as libpcap and Wireshark decide).
                let le = u32::from_le_bytes(b);
                if le > 0xffff { le.swap_bytes() } else { le }
            };
            Ok(no_macs(
                family_ethertype(af)?,
                &frame[LOOPBACK_HEADER_LEN..],
            ))
        }
        dlt::RAW | dlt::RAW_BSD | dlt::RAW_OPENBSD => Ok(no_macs(raw_ip_ethertype(frame)?, frame)),
        // The link type fixes the version; a mismatching version nibble is
        // reported by the IP parser.
        dlt::IPV4 => Ok(no_macs(ethertype::IPV4, frame)),
        dlt::IPV6 => Ok(no_macs(ethertype::IPV6, frame)),
        other => Err(IpError::UnsupportedLink(other)),
    }
}

fn map_layer(l: etherparse::err::Layer, ip: Layer) -> Layer {
    use etherparse::err::Layer as E;
    match l {
        E::LinuxSllHeader => Layer::LinuxSll,
        E::Ethernet2Header | E::EtherPayload => Layer::Ethernet,
        E::VlanHeader => Layer::Vlan,
        E::IpHeader => ip,
        E::Ipv4Header | E::Ipv4Packet => Layer::Ipv4,
        E::Ipv6Header | E::Ipv6Packet => Layer::Ipv6,
        E::IpAuthHeader
        | E::Ipv6ExtHeader
        | E::Ipv6HopByHopHeader
        | E::Ipv6DestOptionsHeader
        | E::Ipv6RouteHeader
        | E::Ipv6FragHeader => Layer::IpExtension,
        E::UdpHeader | E::UdpPayload => Layer::Udp,
        E::TcpHeader => Layer::Tcp,
        E::Icmpv4 | E::Icmpv4Timestamp | E::Icmpv4TimestampReply | E::Icmpv6 => Layer::Icmp,
        _ => Layer::Other,
    }
}

fn map_slice_error(e: &SliceError, ip: Layer) -> IpError {
    match e {
        SliceError::Len(l) => IpError::Len(LenError {
            layer: map_layer(l.layer, ip),
            required: l.required_len,
            len: l.len,
            offset: l.layer_start_offset,
        }),
        SliceError::LinuxSll(_) => IpError::Malformed(Layer::LinuxSll),
        SliceError::Macsec(_) => IpError::Malformed(Layer::Other),
        SliceError::Ip(_) => IpError::Malformed(ip),
        SliceError::Ipv4(_) => IpError::Malformed(Layer::Ipv4),
        SliceError::Ipv6(_) => IpError::Malformed(Layer::Ipv6),
        SliceError::Ipv4Exts(_) | SliceError::Ipv6Exts(_) => IpError::Malformed(Layer::IpExtension),
        SliceError::Tcp(_) => IpError::Malformed(Layer::Tcp),
    }
}

/// Parses an IP packet carried with `ethertype`; `Ok(None)` for EtherTypes
/// that are not IP (ARP, EAPOL…). One 802.1Q tag is unwrapped (an 802.11
/// MSDU can carry a tagged frame).
pub fn parse_ip_ethertype(ethertype: u16, payload: &[u8]) -> Result<Option<IpPacket<'_>>, IpError> {
    let (ethertype, payload) = if ethertype == ethertype::VLAN {
        if payload.len() < VLAN_TAG_LEN {
            return Err(short(Layer::Vlan, VLAN_TAG_LEN, payload.len()));
        }
        (be16(payload, 2), &payload[VLAN_TAG_LEN..])
    } else {
        (ethertype, payload)
    };
    let ip_layer = match ethertype {
        ethertype::IPV4 => Layer::Ipv4,
        ethertype::IPV6 => Layer::Ipv6,
        _ => return Ok(None),
    };
    let sp = SlicedPacket::from_ether_type(EtherType(ethertype), payload)
        .map_err(|e| map_slice_error(&e, ip_layer))?;
    let (src, dst, ttl, ip_payload) = match &sp.net {
        Some(NetSlice::Ipv4(v4)) => (
            IpAddr::V4(v4.header().source_addr()),
            IpAddr::V4(v4.header().destination_addr()),
            v4.header().ttl(),
            v4.payload(),
        ),
        Some(NetSlice::Ipv6(v6)) => (
            IpAddr::V6(v6.header().source_addr()),
            IpAddr::V6(v6.header().destination_addr()),
            v6.header().hop_limit(),
            v6.payload(),
        ),
        // from_ether_type with an IP EtherType yields IP or an error; be
        // defensive anyway.
        _ => return Err(IpError::Malformed(ip_layer)),
    };
    let proto = ip_payload.ip_number.0;
    let fragment = ip_payload.fragmented;
    let l4 = if fragment {
        L4::Other(proto)
    } else {
        match &sp.transport {
            Some(TransportSlice::Tcp(t)) => L4::Tcp {
                src_port: t.source_port(),
                dst_port: t.destination_port(),
                seq: t.sequence_number(),
                ack: t.acknowledgment_number(),
                // Byte 13 holds CWR ECE URG ACK PSH RST SYN FIN (RFC 9293 §3.1).
                flags: TcpFlags(t.header_slice().get(13).copied().unwrap_or(0)),
                window: t.window_size(),
                payload: t.payload(),
            },
            Some(TransportSlice::Udp(u)) => L4::Udp {
                src_port: u.source_port(),
                dst_port: u.destination_port(),
                payload: u.payload(),
            },
            Some(TransportSlice::Icmpv4(_) | TransportSlice::Icmpv6(_)) => L4::Icmp,
            Some(TransportSlice::Igmp(_)) | None => L4::Other(proto),
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

/// ARP operation codes (RFC 826; IANA "ARP Parameters").
pub mod arp_op {
    pub const REQUEST: u16 = 1;
    pub const REPLY: u16 = 2;
}

/// An ARP packet for IPv4 over an IEEE 802 link (RFC 826).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arp {
    /// [`arp_op::REQUEST`], [`arp_op::REPLY`] or any other value (kept).
    pub op: u16,
    pub sender_mac: MacAddr,
    pub sender_ip: Ipv4Addr,
    pub target_mac: MacAddr,
    pub target_ip: Ipv4Addr,
}

/// ARP with 6-byte hardware and 4-byte protocol addresses.
const ARP_LEN: usize = 28;
/// ARP hardware types: Ethernet (1) and IEEE 802 (6), both 48-bit MACs.
const ARP_HTYPES: [u16; 2] = [1, 6];

/// Parses an ARP packet for IPv4 over Ethernet/IEEE 802; anything else
/// (other hardware or protocol types, other address sizes, short) is `None`.
pub fn parse_arp(p: &[u8]) -> Option<Arp> {
    if p.len() < ARP_LEN
        || !ARP_HTYPES.contains(&be16(p, 0))
        || be16(p, 2) != ethertype::IPV4
        || p[4] != 6
        || p[5] != 4
    {
        return None;
    }
    let ip = |o: usize| Ipv4Addr::new(p[o], p[o + 1], p[o + 2], p[o + 3]);
    Some(Arp {
        op: be16(p, 6),
        sender_mac: MacAddr::from_slice(&p[8..14]),
        sender_ip: ip(14),
        target_mac: MacAddr::from_slice(&p[18..24]),
        target_ip: ip(24),
    })
}

/// Private, link-local, loopback and multicast addresses are "local": their
/// MAC addresses on the frame are the hosts' own.
pub fn is_local(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(a) => {
            a.is_private()
                || a.is_link_local()
                || a.is_loopback()
                || a.is_broadcast()
                || a.is_multicast()
        }
        std::net::IpAddr::V6(a) => {
            a.is_loopback()
                || a.is_multicast()
                || (a.segments()[0] & 0xffc0) == 0xfe80
                || (a.segments()[0] & 0xfe00) == 0xfc00
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;
    use std::net::Ipv6Addr;

    const SRC4: [u8; 4] = [192, 168, 0, 2];
    const DST4: [u8; 4] = [192, 168, 0, 51];

    fn build(b: etherparse::PacketBuilderStep<etherparse::TcpHeader>, data: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        b.write(&mut v, data).unwrap();
        v
    }

    /// Ethernet + IPv4 + TCP SYN carrying "hello".
    fn eth_tcp_v4() -> Vec<u8> {
        build(
            PacketBuilder::ethernet2([1; 6], [2; 6])
                .ipv4(SRC4, DST4, 64)
                .tcp(50000, 9999, 1234, 8192)
                .syn(),
            b"hello",
        )
    }

    /// Bare IPv4 + TCP (ACK|PSH).
    fn ip_tcp_v4() -> Vec<u8> {
        build(
            PacketBuilder::ipv4(SRC4, DST4, 63)
                .tcp(50000, 9999, 77, 512)
                .ack(99)
                .psh(),
            b"{\"system\":{}}",
        )
    }

    /// Bare IPv6 + UDP.
    fn ip_udp_v6() -> Vec<u8> {
        let mut v = Vec::new();
        PacketBuilder::ipv6([0xfe; 16], [0xfd; 16], 7)
            .udp(5353, 9999)
            .write(&mut v, b"x")
            .unwrap();
        v
    }

    fn assert_tcp_v4(p: &IpPacket<'_>) {
        assert_eq!(p.src, IpAddr::V4(SRC4.into()));
        assert_eq!(p.dst, IpAddr::V4(DST4.into()));
        assert!(!p.fragment);
        match p.l4 {
            L4::Tcp {
                src_port,
                dst_port,
                seq,
                ack,
                flags,
                window,
                payload,
            } => {
                assert_eq!((src_port, dst_port, seq, ack), (50000, 9999, 77, 99));
                assert_eq!(window, 512);
                assert!(flags.ack() && !flags.syn());
                assert_eq!(payload, b"{\"system\":{}}");
            }
            other => panic!("{other:?}"),
        }
    }

    fn with_prefix(prefix: &[u8], body: &[u8]) -> Vec<u8> {
        let mut v = prefix.to_vec();
        v.extend_from_slice(body);
        v
    }

    /// Every truncation of `f` parses or errors, never panics.
    fn truncations(d: i32, f: &[u8]) {
        for n in 0..f.len() {
            if let Ok(l) = parse_link(d, &f[..n]) {
                let _ = parse_ip_ethertype(l.ethertype, l.payload);
            }
        }
    }

    #[test]
    fn ethernet_tcp() {
        let f = eth_tcp_v4();
        let l = parse_link(dlt::ETHERNET, &f).unwrap();
        assert_eq!(l.src_mac, Some(MacAddr([1; 6])));
        assert_eq!(l.dst_mac, Some(MacAddr([2; 6])));
        let p = parse_ip_ethertype(l.ethertype, l.payload).unwrap().unwrap();
        assert_eq!(p.ttl, 64);
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
        truncations(dlt::ETHERNET, &f);
    }

    #[test]
    fn ethernet_padding_is_dropped() {
        // A 60-byte minimum Ethernet frame around a short IPv4/UDP datagram.
        let mut f = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4(SRC4, DST4, 64)
            .udp(9999, 9999)
            .write(&mut f, b"ab")
            .unwrap();
        f.resize(60, 0);
        let l = parse_link(dlt::ETHERNET, &f).unwrap();
        let p = parse_ip_ethertype(l.ethertype, l.payload).unwrap().unwrap();
        assert!(matches!(p.l4, L4::Udp { payload: b"ab", .. }));
    }

    #[test]
    fn ethernet_vlan_and_qinq() {
        let ip = ip_tcp_v4();
        let one = with_prefix(
            &[2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 0x81, 0, 0, 5, 8, 0],
            &ip,
        );
        let two = with_prefix(
            &[
                2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 0x88, 0xa8, 0, 7, 0x81, 0, 0, 5, 8, 0,
            ],
            &ip,
        );
        for f in [&one, &two] {
            let l = parse_link(dlt::ETHERNET, f).unwrap();
            assert_eq!(l.ethertype, ethertype::IPV4);
            assert_tcp_v4(&parse_ip_ethertype(l.ethertype, l.payload).unwrap().unwrap());
            truncations(dlt::ETHERNET, f);
        }
        // A cut tag names the VLAN layer and where it starts.
        assert_eq!(
            parse_link(dlt::ETHERNET, &one[..16]),
            Err(IpError::Len(LenError {
                layer: Layer::Vlan,
                required: 4,
                len: 2,
                offset: 14
            }))
        );
        // An 802.11 MSDU carrying a tagged frame: one tag unwrapped.
        let tagged = with_prefix(&[0, 5, 8, 0], &ip);
        assert_tcp_v4(
            &parse_ip_ethertype(ethertype::VLAN, &tagged)
                .unwrap()
                .unwrap(),
        );
        assert!(parse_ip_ethertype(ethertype::VLAN, &tagged[..3]).is_err());
    }

    #[test]
    fn linux_sll() {
        let ip = ip_tcp_v4();
        let f = with_prefix(&[0, 0, 0, 1, 0, 6, 1, 1, 1, 1, 1, 1, 0, 0, 8, 0], &ip);
        let l = parse_link(dlt::LINUX_SLL, &f).unwrap();
        assert_eq!(l.src_mac, Some(MacAddr([1; 6])));
        assert_eq!(l.dst_mac, None);
        assert_tcp_v4(&parse_ip_ethertype(l.ethertype, l.payload).unwrap().unwrap());
        truncations(dlt::LINUX_SLL, &f);
        // Loopback device (ARPHRD_LOOPBACK): no MAC.
        let f = with_prefix(&[0, 0, 3, 4, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0], &ip);
        assert_eq!(parse_link(dlt::LINUX_SLL, &f).unwrap().src_mac, None);
    }

    #[test]
    fn linux_sll2() {
        let ip = ip_udp_v6();
        let f = with_prefix(
            &[
                0x86, 0xdd, 0, 0, 0, 0, 0, 3, 0, 1, 0, 6, 1, 1, 1, 1, 1, 1, 0, 0,
            ],
            &ip,
        );
        let l = parse_link(dlt::LINUX_SLL2, &f).unwrap();
        assert_eq!(l.src_mac, Some(MacAddr([1; 6])));
        let p = parse_ip_ethertype(l.ethertype, l.payload).unwrap().unwrap();
        assert_eq!(p.src, IpAddr::V6(Ipv6Addr::from([0xfe; 16])));
        assert_eq!(p.ttl, 7);
        assert!(matches!(
            p.l4,
            L4::Udp {
                src_port: 5353,
                dst_port: 9999,
                payload: b"x"
            }
        ));
        truncations(dlt::LINUX_SLL2, &f);
    }

    #[test]
    fn null_and_loop_address_families() {
        let v4 = ip_tcp_v4();
        let v6 = ip_udp_v6();
        // DLT_NULL in either byte order; DLT_LOOP big-endian.
        for af in [2u32.to_le_bytes(), 2u32.to_be_bytes()] {
            let f = with_prefix(&af, &v4);
            let l = parse_link(dlt::NULL, &f).unwrap();
            assert_eq!((l.ethertype, l.src_mac), (ethertype::IPV4, None));
            assert_tcp_v4(&parse_ip_ethertype(l.ethertype, l.payload).unwrap().unwrap());
            truncations(dlt::NULL, &f);
        }
        for af in [24u32, 28, 30] {
            let f = with_prefix(&af.to_le_bytes(), &v6);
            assert_eq!(
                parse_link(dlt::NULL, &f).unwrap().ethertype,
                ethertype::IPV6
            );
            let f = with_prefix(&af.to_be_bytes(), &v6);
            assert_eq!(
                parse_link(dlt::LOOP, &f).unwrap().ethertype,
                ethertype::IPV6
            );
        }
        let f = with_prefix(&2u32.to_be_bytes(), &v4);
        assert_tcp_v4(&{
            let l = parse_link(dlt::LOOP, &f).unwrap();
            parse_ip_ethertype(l.ethertype, l.payload).unwrap().unwrap()
        });
        truncations(dlt::LOOP, &f);
        // AF_APPLETALK (16 on BSDs) is not IP.
        let f = with_prefix(&16u32.to_be_bytes(), &v4);
        assert_eq!(parse_link(dlt::LOOP, &f), Err(IpError::AddressFamily(16)));
    }

    #[test]
    fn raw_ip_link_types() {
        let v4 = ip_tcp_v4();
        let v6 = ip_udp_v6();
        for d in [dlt::RAW, dlt::RAW_BSD, dlt::RAW_OPENBSD] {
            let l = parse_link(d, &v4).unwrap();
            assert_tcp_v4(&parse_ip_ethertype(l.ethertype, l.payload).unwrap().unwrap());
            assert_eq!(parse_link(d, &v6).unwrap().ethertype, ethertype::IPV6);
            assert_eq!(
                parse_link(d, &[]),
                Err(IpError::Len(LenError {
                    layer: Layer::RawIp,
                    required: 1,
                    len: 0,
                    offset: 0
                }))
            );
            assert_eq!(
                parse_link(d, &[0x50]),
                Err(IpError::Malformed(Layer::RawIp))
            );
            truncations(d, &v4);
        }
        let l = parse_link(dlt::IPV4, &v4).unwrap();
        assert_tcp_v4(&parse_ip_ethertype(l.ethertype, l.payload).unwrap().unwrap());
        let l = parse_link(dlt::IPV6, &v6).unwrap();
        assert!(
            parse_ip_ethertype(l.ethertype, l.payload)
                .unwrap()
                .is_some()
        );
        // The link type fixes the version: IPv6 bytes under LINKTYPE_IPV4 fail.
        let l = parse_link(dlt::IPV4, &v6).unwrap();
        assert!(parse_ip_ethertype(l.ethertype, l.payload).is_err());
        truncations(dlt::IPV4, &v4);
        truncations(dlt::IPV6, &v6);
    }

    #[test]
    fn unsupported_link_types() {
        assert!(!supported_plain_dlt(105)); // 802.11: not a plain link
        assert!(!supported_plain_dlt(127)); // radiotap
        for d in [0, 1, 12, 14, 101, 108, 113, 228, 229, 276] {
            assert!(supported_plain_dlt(d), "{d}");
        }
        assert_eq!(
            parse_link(127, &eth_tcp_v4()),
            Err(IpError::UnsupportedLink(127))
        );
    }

    #[test]
    fn errors_name_the_layer() {
        let v4 = ip_tcp_v4();
        // Cut inside the TCP header (IPv4 header is 20 bytes): the IPv4 total
        // length then claims more than is present.
        match parse_ip_ethertype(ethertype::IPV4, &v4[..30]) {
            Err(IpError::Len(LenError { layer, .. })) => assert_eq!(layer, Layer::Ipv4),
            other => panic!("{other:?}"),
        }
        // TCP data offset below 5 words.
        let mut bad = v4.clone();
        bad[20 + 12] = 0x20;
        assert_eq!(
            parse_ip_ethertype(ethertype::IPV4, &bad),
            Err(IpError::Malformed(Layer::Tcp))
        );
        // IPv6 bytes under the IPv4 EtherType.
        assert_eq!(
            parse_ip_ethertype(ethertype::IPV4, &ip_udp_v6()),
            Err(IpError::Malformed(Layer::Ipv4))
        );
        let e = parse_ip_ethertype(ethertype::IPV6, &[0x60]).unwrap_err();
        assert!(e.to_string().starts_with("IPv6"), "{e}");
    }

    #[test]
    fn non_ip_ethertypes_are_none() {
        for et in [ethertype::ARP, ethertype::EAPOL, 0x0004, 0] {
            assert_eq!(parse_ip_ethertype(et, &ip_tcp_v4()), Ok(None));
        }
    }

    #[test]
    fn fragments_are_flagged_not_parsed() {
        let mut f = ip_tcp_v4();
        // More-fragments bit set, offset 0.
        f[6] = 0x20;
        let p = parse_ip_ethertype(ethertype::IPV4, &f).unwrap().unwrap();
        assert!(p.fragment);
        assert_eq!(p.l4, L4::Other(6));
        // Offset 8 bytes, last fragment: the "TCP header" is not one.
        f[6] = 0;
        f[7] = 1;
        let p = parse_ip_ethertype(ethertype::IPV4, &f).unwrap().unwrap();
        assert!(p.fragment);
        assert_eq!(p.l4, L4::Other(6));
        // Don't-fragment alone is not a fragment.
        let mut f = ip_tcp_v4();
        f[6] = 0x40;
        assert!(
            !parse_ip_ethertype(ethertype::IPV4, &f)
                .unwrap()
                .unwrap()
                .fragment
        );
    }

    #[test]
    fn icmp_and_other_protocols() {
        let mut v = Vec::new();
        PacketBuilder::ipv4(SRC4, DST4, 64)
            .icmpv4_echo_request(1, 2)
            .write(&mut v, b"ping")
            .unwrap();
        assert_eq!(
            parse_ip_ethertype(ethertype::IPV4, &v).unwrap().unwrap().l4,
            L4::Icmp
        );
        // IPv4 carrying protocol 47 (GRE), which we do not parse.
        let mut v = Vec::new();
        PacketBuilder::ipv4(SRC4, DST4, 64)
            .write(&mut v, etherparse::IpNumber(47), b"gre?")
            .unwrap();
        assert_eq!(
            parse_ip_ethertype(ethertype::IPV4, &v).unwrap().unwrap().l4,
            L4::Other(47)
        );
    }

    fn arp_reply() -> Vec<u8> {
        let mut a = vec![0, 1, 8, 0, 6, 4, 0, 2];
        a.extend_from_slice(&[1; 6]);
        a.extend_from_slice(&[192, 168, 0, 5]);
        a.extend_from_slice(&[2; 6]);
        a.extend_from_slice(&[192, 168, 0, 1]);
        a
    }

    #[test]
    fn arp() {
        let a = arp_reply();
        let arp = parse_arp(&a).unwrap();
        assert_eq!(arp.op, arp_op::REPLY);
        assert_eq!(arp.sender_mac, MacAddr([1; 6]));
        assert_eq!(arp.sender_ip, Ipv4Addr::new(192, 168, 0, 5));
        assert_eq!(arp.target_mac, MacAddr([2; 6]));
        assert_eq!(arp.target_ip, Ipv4Addr::new(192, 168, 0, 1));
        for n in 0..a.len() {
            assert!(parse_arp(&a[..n]).is_none());
        }
        // IEEE 802 hardware type is accepted; other sizes are not.
        let mut b = a.clone();
        b[1] = 6;
        assert!(parse_arp(&b).is_some());
        let mut b = a.clone();
        b[4] = 8;
        assert!(parse_arp(&b).is_none());
        let mut b = a;
        b[2] = 0x86;
        assert!(parse_arp(&b).is_none());
        assert_eq!(parse_ip_ethertype(ethertype::ARP, &arp_reply()), Ok(None));
    }

    proptest::proptest! {
        #[test]
        fn random_bytes_never_panic(
            d in proptest::prop_oneof![
                proptest::sample::select(vec![0i32, 1, 12, 14, 101, 108, 113, 228, 229, 276]),
                proptest::num::i32::ANY,
            ],
            b in proptest::collection::vec(proptest::num::u8::ANY, 0..200),
        ) {
            if let Ok(l) = parse_link(d, &b) {
                let _ = parse_ip_ethertype(l.ethertype, l.payload);
            }
            for et in [ethertype::IPV4, ethertype::IPV6, ethertype::VLAN] {
                let _ = parse_ip_ethertype(et, &b);
            }
            let _ = parse_arp(&b);
        }

        /// A valid header followed by random bytes reaches the deeper layers.
        #[test]
        fn random_after_valid_ip_header_never_panics(
            v6 in proptest::bool::ANY,
            tail in proptest::collection::vec(proptest::num::u8::ANY, 0..120),
        ) {
            let mut b = if v6 { ip_udp_v6() } else { ip_tcp_v4() };
            let hdr = if v6 { 40 } else { 20 };
            b.truncate(hdr);
            b.extend_from_slice(&tail);
            let et = if v6 { ethertype::IPV6 } else { ethertype::IPV4 };
            let _ = parse_ip_ethertype(et, &b);
        }
    }
}
