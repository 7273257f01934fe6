//! Link layer of the analyzer: MSDUs from the engine (or frames of a wired
//! link), the AP's relayed copies, ARP, and IP parsing before the transport
//! layers ([`super::udp`], [`super::tcp`]).

use super::{Analyzer, EXPIRE_EVERY, Macs};
use crate::engine::{Mpdu, Msdu, Sink};
use crate::flows::ip::{self, L4, is_local};
use crate::report::counters::Count;
use crate::report::event::{Event, EventBody, HandshakeEvent, HandshakeOutcome};
use crate::wire::llc;
use crate::wire::{MacAddr, Ts};
use crate::wpa::handshake::HsEvent;

/// The engine's sink while the watcher processes a frame: MSDUs go to the
/// caller's tap (the pcap writer) and then up the analyzer.
pub(super) struct MsduSink<'a> {
    pub an: &'a mut Analyzer,
    pub tap: &'a mut dyn Sink,
}

impl Sink for MsduSink<'_> {
    fn mpdu(&mut self, m: &Mpdu<'_>) {
        self.tap.mpdu(m);
    }

    fn msdu(&mut self, m: &Msdu<'_>) {
        self.tap.msdu(m);
        if m.retransmit {
            return; // a MAC retransmission repeats an MSDU already handed on
        }
        self.an.stats.inc(Count::Msdus);
        if m.relayed {
            self.an.stats.inc(Count::RelayedDuplicates);
            return;
        }
        if let Some(s) = llc::parse_snap(m.llc) {
            self.an
                .on_l2(m.ts, Some(m.sa), Some(m.da), s.ethertype, s.payload);
        }
    }

    fn handshake(&mut self, ts: Ts, bssid: MacAddr, sta: MacAddr, ev: &HsEvent) {
        self.tap.handshake(ts, bssid, sta, ev);
        let outcome = match ev {
            HsEvent::PairwiseInstalled { via } => HandshakeOutcome::PairwiseConfirmed { via },
            HsEvent::GroupInstalled { key_id } => {
                HandshakeOutcome::GroupInstalled { key_id: *key_id }
            }
            HsEvent::Failed(s) => HandshakeOutcome::Failed(s.clone()),
            _ => return,
        };
        self.an.events.push(Event {
            ts,
            anchor: None,
            body: EventBody::Handshake(HandshakeEvent {
                bssid,
                sta,
                outcome,
            }),
        });
    }
}

impl Analyzer {
    /// A frame of a plain (non-802.11) link type.
    pub(super) fn on_link_frame(&mut self, ts: Ts, dlt: i32, raw: &[u8]) {
        match ip::parse_link(dlt, raw) {
            Ok(f) => {
                self.stats.inc(Count::Msdus);
                self.on_l2(ts, f.src_mac, f.dst_mac, f.ethertype, f.payload);
            }
            Err(_) => self.stats.inc(Count::IpMalformed),
        }
    }

    /// One MSDU or wired frame, from its EtherType on.
    pub(super) fn on_l2(
        &mut self,
        ts: Ts,
        src_mac: Option<MacAddr>,
        dst_mac: Option<MacAddr>,
        ethertype: u16,
        payload: &[u8],
    ) {
        if ethertype == llc::ethertype::ARP {
            if let Some(a) = ip::parse_arp(payload) {
                self.names.on_arp(&a);
            }
            return;
        }
        let pkt = match ip::parse_ip_ethertype(ethertype, payload) {
            Ok(Some(p)) => p,
            Ok(None) => return self.stats.inc(Count::NotIp),
            Err(_) => return self.stats.inc(Count::IpMalformed),
        };
        self.stats.inc(Count::IpPackets);
        if pkt.fragment {
            return self.stats.inc(Count::IpFragments);
        }
        if let Some(m) = src_mac
            && is_local(pkt.src)
        {
            self.names.learn_ip_mac(pkt.src, m);
        }
        let now = ts.since_epoch();
        if now > self.last_expire + EXPIRE_EVERY {
            self.expire(now, ts);
            self.last_expire = now;
        }
        let macs = Macs {
            src: src_mac,
            dst: dst_mac,
        };
        match pkt.l4 {
            L4::Tcp {
                src_port,
                dst_port,
                seq,
                flags,
                payload,
                ..
            } => {
                self.stats.inc(Count::TcpSegments);
                let seg = super::Segment {
                    src: std::net::SocketAddr::new(pkt.src, src_port),
                    dst: std::net::SocketAddr::new(pkt.dst, dst_port),
                    seq,
                    flags,
                    payload,
                };
                self.on_tcp(ts, macs, seg);
            }
            L4::Udp {
                src_port,
                dst_port,
                payload,
            } => {
                self.stats.inc(Count::UdpDatagrams);
                let src = std::net::SocketAddr::new(pkt.src, src_port);
                let dst = std::net::SocketAddr::new(pkt.dst, dst_port);
                self.on_udp(ts, macs, src, dst, payload);
            }
            _ => {}
        }
    }

    /// The MAC to name a host by: a frame's own MAC is the truth on the LAN;
    /// a remote address's MAC is the router's, so only local addresses are
    /// named by MAC.
    pub(super) fn mac_of(&self, ip: std::net::IpAddr, seen: Option<MacAddr>) -> Option<MacAddr> {
        if !is_local(ip) {
            return None;
        }
        seen.filter(|m| !m.is_group())
            .or_else(|| self.names.mac_for_ip(ip))
    }
}
