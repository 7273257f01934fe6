//! `watch`: from frames to what the plugs say.
//!
//! [`Watcher`] owns everything after capture for one run: the decryption
//! [`Engine`] (802.11 inputs), then, for every MSDU or plain Ethernet/IP frame,
//! name learning (ARP, DHCP, DNS), the flow table with TCP reassembly, the
//! decoders (TP-Link XOR on TCP/UDP 9999, TDP on UDP 20002, TLS metadata on
//! the cloud ports), the device inventory, and the [`Event`]s it emits.
//!
//! Ordering: events come out in capture order of the packet that completed
//! them. Bounds: the flow table ([`MAX_FLOWS`], idle expiry [`IDLE_TIMEOUT`],
//! payload-less flows evicted first when full), two budgets across all flows
//! kept by per-segment gauges ([`MAX_TCP_BUFFERED_TOTAL`] for out-of-order
//! TCP bytes, [`MAX_DECODER_HELD_TOTAL`] for decoders' partial messages), the
//! decoders' own caps, the name table's and the inventory's.

pub mod inventory;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::capture::link::LinkKind;
use crate::decoders::Direction;
use crate::decoders::klap::session::{KlapAccount, KlapConn, KlapEvent, KlapSessions, Label};
use crate::decoders::tls_meta::TlsSession;
use crate::decoders::tplink::discovery::{self, CrcStatus, DiscoveryInfo};
use crate::decoders::tplink::message::{
    CredentialSource, Kind, RelayState, Summary, TplinkMessage,
};
use crate::decoders::tplink::parser::decode_udp;
use crate::decoders::tplink::session::{SessionEvent, TplinkSession};
use crate::engine::{Engine, Msdu, Sink, Ts};
use crate::flows::ip::{self, IpPacket, L4};
use crate::flows::names::NameTable;
use crate::flows::table::{Flow, FlowTable, InitiatorSource, PROTO_TCP};
use crate::flows::tcp::{StreamEvent, TcpFlags};
use crate::output::event::*;
use crate::wire::MacAddr;
use crate::wire::llc;
use crate::wpa::handshake::{HsEvent, NetworkSecret};
use inventory::{Inventory, Role};

pub const MAX_FLOWS: usize = 65_536;
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// Out-of-order TCP bytes buffered by all flows together. Each direction is
/// capped at [`crate::flows::tcp::MAX_BUFFERED_PER_DIRECTION`] (256 KiB), but
/// [`MAX_FLOWS`] flows × 2 directions of it would be 32 GiB: past this
/// budget, the stream whose segment crossed it gives up its holes (a gap to
/// its decoder, counted `tcp_budget_flushes`) instead of buffering.
pub const MAX_TCP_BUFFERED_TOTAL: usize = 64 << 20;
/// Heap bytes the decoders of all flows hold for partial messages (TP-Link
/// framers, TLS handshake reassembly, HTTP parsers: up to 64 KiB or so per
/// direction each, so [`MAX_FLOWS`] × 2 of them would be about 8 GiB). Past
/// this budget, the flow whose segment crossed it drops its partial messages
/// as after a gap, counted `decoder_budget_releases`.
pub const MAX_DECODER_HELD_TOTAL: usize = 64 << 20;
/// TCP ports of the TP-Link cloud link (python-kasa; seen from HS1xx firmware).
pub const CLOUD_PORTS: [u16; 2] = [50443, 443];
const XOR_PORT: u16 = 9999;
/// HTTP port of KLAP and the AES transport (python-kasa fixtures: every
/// KLAP/AES device announces `http_port` 80).
pub const KLAP_PORT: u16 = 80;
/// HTTPS ports of the plugs' local API (`SMART.KLAP.HTTPS` 4433,
/// `SslAesTransport` 443): TLS, metadata only.
pub const LOCAL_HTTPS_PORTS: [u16; 1] = [4433];
/// Devices whose TDP `http_port`/`encrypt_type` is remembered.
pub const MAX_TDP_DEVICES: usize = 1024;
/// Options of a watch run.
#[derive(Debug, Clone, Default)]
pub struct WatchOptions {
    /// Show passwords found in the clear instead of masking them.
    pub show_secrets: bool,
    /// TP-Link accounts to try on KLAP handshakes, before the public
    /// defaults and blank credentials (config `[[tplink_account]]`).
    pub klap_accounts: Vec<KlapAccount>,
}

/// Counters of the layers after decryption.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct WatchStats {
    pub msdus: u64,
    /// MSDUs the AP relayed between two stations (second copy, not decoded again).
    pub relayed_duplicates: u64,
    pub ip_packets: u64,
    pub not_ip: u64,
    pub ip_malformed: u64,
    pub ip_fragments: u64,
    pub tcp_segments: u64,
    pub udp_datagrams: u64,
    pub flows_refused: u64,
    pub flows_expired: u64,
    pub tplink_messages: u64,
    pub tplink_undecodable: u64,
    pub tplink_desyncs: u64,
    pub discovery: u64,
    pub tls_flows: u64,
    pub credential_leaks: u64,
    /// KLAP handshake1 exchanges captured, and how many matched a credential.
    pub klap_handshakes: u64,
    pub klap_handshakes_matched: u64,
    pub klap_messages: u64,
    /// KLAP/HTTP traffic not decrypted, with a label (credentials needed…).
    pub klap_undecrypted: u64,
    /// HTTP framing errors (oversized body, chunked, resync…) on port 80.
    pub http_errors: u64,
    /// Streams made to give up their holes because all flows together
    /// buffered more than [`MAX_TCP_BUFFERED_TOTAL`] out-of-order bytes.
    pub tcp_budget_flushes: u64,
    /// Out-of-order TCP bytes buffered now, all flows (a gauge).
    #[serde(skip)]
    pub tcp_buffered: usize,
    /// Flows whose decoders dropped their partial messages because all
    /// flows' decoders together held more than [`MAX_DECODER_HELD_TOTAL`].
    pub decoder_budget_releases: u64,
    /// Heap bytes the decoders of all flows hold now (a gauge).
    #[serde(skip)]
    pub decoder_held: usize,
}

#[derive(Default)]
enum App {
    #[default]
    Unknown,
    Tplink(Box<TplinkSession>),
    Tls(Box<TlsFlow>),
    Klap(Box<KlapConn>),
    Other,
}

impl App {
    /// Heap bytes the decoder holds for partial messages.
    fn held_bytes(&self) -> usize {
        match self {
            App::Tplink(s) => s.held_bytes(),
            App::Tls(t) => t.session.held_bytes(),
            App::Klap(k) => k.held_bytes(),
            App::Unknown | App::Other => 0,
        }
    }

    /// Drops and frees the partial messages of both directions, as a gap
    /// would (a TLS flow stops being parsed; the framers hunt).
    fn release(&mut self) {
        match self {
            App::Tplink(s) => {
                s.on_gap(Direction::ToServer, 0);
                s.on_gap(Direction::ToClient, 0);
            }
            App::Tls(t) => {
                t.session.on_gap(Direction::ToServer, 0);
                t.session.on_gap(Direction::ToClient, 0);
            }
            App::Klap(k) => k.release(),
            App::Unknown | App::Other => {}
        }
    }
}

struct TlsFlow {
    session: TlsSession,
    announced: bool,
    last_up: Option<Duration>,
    intervals: (f64, u64),
}

/// Decoder state of one flow.
#[derive(Default)]
pub struct FlowState {
    app: App,
    /// Which side is the server, by well-known port (else the initiator).
    server_dir: Option<crate::flows::table::Dir>,
    client_mac: Option<MacAddr>,
    server_mac: Option<MacAddr>,
    /// Request times, oldest first, to compute response latency.
    request_ts: std::collections::VecDeque<Ts>,
}

/// The whole watch pipeline after capture.
pub struct Watcher {
    pub engine: Engine,
    pub names: NameTable,
    flows: FlowTable<FlowState>,
    pub inventory: Inventory,
    pub stats: WatchStats,
    opts: WatchOptions,
    events: Vec<Event>,
    last_expire: Duration,
    relay: RelayFilter,
    /// Capture time of the last health check.
    last_health: i64,
    /// Decrypted MSDUs as Ethernet frames, when a pcap output is configured.
    pub pcap_out: Option<crate::output::files::RotatingPcap>,
    /// The first error writing `pcap_out` (the run stops on it).
    pub out_error: Option<std::io::Error>,
    klap: KlapSessions,
    tdp: TdpPorts,
}

/// What TDP replies said about each device's local API: `http_port` and
/// `encrypt_type`, by device IP (bounded by [`MAX_TDP_DEVICES`]).
#[derive(Default)]
pub struct TdpPorts {
    map: std::collections::HashMap<IpAddr, (Option<u16>, Option<String>)>,
}

impl TdpPorts {
    fn learn(&mut self, ip: IpAddr, port: Option<u16>, enc: Option<String>) {
        if self.map.len() < MAX_TDP_DEVICES || self.map.contains_key(&ip) {
            self.map.insert(ip, (port, enc));
        }
    }
    fn http_port(&self, ip: IpAddr) -> Option<u16> {
        self.map.get(&ip).and_then(|e| e.0)
    }
    fn encrypt_type(&self, ip: IpAddr) -> Option<&str> {
        self.map.get(&ip).and_then(|e| e.1.as_deref())
    }
}

struct MsduSink<'a> {
    w: &'a mut WatchCore<'a>,
}

/// MSDUs a station sent to the AP (ToDS) recently, to recognise the copy the
/// AP relays to another station of the same BSS (FromDS): the same packet
/// crossing the air twice, each time under a different key.
#[derive(Default)]
pub struct RelayFilter {
    recent: std::collections::VecDeque<(u64, Duration)>,
}

impl RelayFilter {
    pub const WINDOW: Duration = Duration::from_secs(2);
    pub const CAPACITY: usize = 256;

    fn key(m: &Msdu<'_>) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        m.sa.hash(&mut h);
        m.da.hash(&mut h);
        m.llc.hash(&mut h);
        h.finish()
    }

    /// True when `m` is the AP's relay of an MSDU already seen going ToDS.
    fn is_relay(&mut self, m: &Msdu<'_>) -> bool {
        let now = dur(m.ts);
        while self
            .recent
            .front()
            .is_some_and(|(_, t)| now.saturating_sub(*t) > Self::WINDOW)
        {
            self.recent.pop_front();
        }
        let k = Self::key(m);
        if m.to_ds && !m.from_ds {
            if self.recent.len() >= Self::CAPACITY {
                self.recent.pop_front();
            }
            self.recent.push_back((k, now));
            return false;
        }
        if m.from_ds && !m.to_ds {
            if let Some(i) = self.recent.iter().position(|(h, _)| *h == k) {
                self.recent.remove(i);
                return true;
            }
        }
        false
    }
}

/// Borrowed parts of the watcher that the engine's sink needs.
struct WatchCore<'a> {
    names: &'a mut NameTable,
    flows: &'a mut FlowTable<FlowState>,
    inventory: &'a mut Inventory,
    stats: &'a mut WatchStats,
    opts: &'a WatchOptions,
    events: &'a mut Vec<Event>,
    last_expire: &'a mut Duration,
    relay: &'a mut RelayFilter,
    pcap_out: &'a mut Option<crate::output::files::RotatingPcap>,
    out_error: &'a mut Option<std::io::Error>,
    klap: &'a mut KlapSessions,
    tdp: &'a mut TdpPorts,
}

impl Sink for MsduSink<'_> {
    fn msdu(&mut self, m: &Msdu<'_>) {
        if m.retransmit {
            return; // a MAC retransmission repeats an MSDU already handed on
        }
        self.w.stats.msdus += 1;
        if m.decrypted && self.w.out_error.is_none() {
            if let Some(p) = self.w.pcap_out.as_mut() {
                let eth = crate::output::pcap_out::msdu_to_ethernet(m);
                if let Err(e) = p.write(m.ts, &[&eth]) {
                    *self.w.out_error = Some(e);
                }
            }
        }
        if self.w.relay.is_relay(m) {
            self.w.stats.relayed_duplicates += 1;
            return;
        }
        if let Some(s) = llc::parse_snap(m.llc) {
            self.w
                .on_l2(m.ts, Some(m.sa), Some(m.da), s.ethertype, s.payload);
        }
    }
    fn handshake(&mut self, ts: Ts, bssid: MacAddr, sta: MacAddr, ev: &HsEvent) {
        let (message, outcome) = match ev {
            HsEvent::PairwiseInstalled { via } => {
                (via.to_string(), "pairwise key confirmed".to_string())
            }
            HsEvent::GroupInstalled { key_id } => {
                ("group".to_string(), format!("group key {key_id} installed"))
            }
            HsEvent::Failed(s) => ("handshake".to_string(), s.describe()),
            _ => return,
        };
        self.w.events.push(Event {
            ts,
            body: EventBody::Handshake(HandshakeEvent {
                bssid: bssid.to_string(),
                sta: sta.to_string(),
                message,
                outcome,
            }),
        });
    }
}

fn dur(ts: Ts) -> Duration {
    Duration::from_secs(ts.sec.max(0) as u64)
        + Duration::from_micros(u64::from(ts.usec.min(999_999)))
}

impl Watcher {
    pub fn new(networks: Vec<NetworkSecret>, opts: WatchOptions) -> Self {
        Watcher {
            engine: Engine::new(networks),
            names: NameTable::new(),
            flows: FlowTable::new(MAX_FLOWS, IDLE_TIMEOUT),
            inventory: Inventory::default(),
            stats: WatchStats::default(),
            events: Vec::new(),
            last_expire: Duration::ZERO,
            relay: RelayFilter::default(),
            last_health: 0,
            pcap_out: None,
            out_error: None,
            klap: KlapSessions::new(opts.klap_accounts.clone()),
            tdp: TdpPorts::default(),
            opts,
        }
    }

    fn core(&mut self) -> WatchCore<'_> {
        self.parts().1
    }

    /// The engine and, borrowed beside it, everything after it.
    fn parts(&mut self) -> (&mut Engine, WatchCore<'_>) {
        (
            &mut self.engine,
            WatchCore {
                names: &mut self.names,
                flows: &mut self.flows,
                inventory: &mut self.inventory,
                stats: &mut self.stats,
                opts: &self.opts,
                events: &mut self.events,
                last_expire: &mut self.last_expire,
                relay: &mut self.relay,
                pcap_out: &mut self.pcap_out,
                out_error: &mut self.out_error,
                klap: &mut self.klap,
                tdp: &mut self.tdp,
            },
        )
    }

    /// An 802.11 frame (radiotap, Prism, PPI or plain 802.11).
    pub fn process_80211(&mut self, ts: Ts, kind: LinkKind, raw: &[u8], orig_len: u32) {
        self.process_80211_pre(ts, kind, raw, orig_len, &mut None);
    }

    /// [`Watcher::process_80211`] with a pipeline worker's decryption (taken,
    /// and handed back spent, as [`crate::engine::Engine::process_pre`] does).
    pub fn process_80211_pre(
        &mut self,
        ts: Ts,
        kind: LinkKind,
        raw: &[u8],
        orig_len: u32,
        pre: &mut Option<crate::engine::PreDecrypted>,
    ) {
        let (engine, mut core) = self.parts();
        let mut sink = MsduSink { w: &mut core };
        engine.process_pre(ts, kind, raw, orig_len, pre, &mut sink);
        if ts.sec >= self.last_health + 5 {
            self.last_health = ts.sec;
            self.health_events(ts, false);
        }
    }

    /// Turns new capture-health warnings into events.
    fn health_events(&mut self, ts: Ts, at_end: bool) {
        let keys = &self.engine.keys;
        let warnings = self
            .engine
            .health
            .warnings(ts, at_end, |b, s| !keys.pairwise(b, s).is_empty());
        for w in warnings {
            self.events.push(Event {
                ts,
                body: EventBody::Warning(WarningEvent {
                    kind: w.kind,
                    bssid: w.bssid.to_string(),
                    sta: w.sta.to_string(),
                    message: w.message,
                }),
            });
        }
    }

    /// A frame of a plain (non-802.11) link type: Ethernet, SLL, null, raw IP.
    pub fn process_plain(&mut self, ts: Ts, dlt: i32, raw: &[u8]) {
        match ip::parse_link(dlt, raw) {
            Ok(f) => {
                let mut core = self.core();
                core.stats.msdus += 1;
                core.on_l2(ts, f.src_mac, f.dst_mac, f.ethertype, f.payload);
            }
            Err(_) => self.stats.ip_malformed += 1,
        }
    }

    /// Events produced so far (drained).
    pub fn drain_events(&mut self) -> std::vec::Drain<'_, Event> {
        self.events.drain(..)
    }

    /// End of input: close every flow (final cloud-link summaries), and the
    /// last capture-health warnings.
    pub fn finish(&mut self) {
        let now = Ts {
            sec: self.last_health.max(self.last_expire.as_secs() as i64),
            usec: 0,
        };
        self.health_events(now, true);
        let far = Duration::MAX;
        let mut core = self.core();
        core.expire(far);
    }

    pub fn flow_count(&self) -> usize {
        self.flows.len()
    }

    /// Out-of-order TCP bytes buffered by every open flow, counted afresh
    /// (`O(flows)`): what [`WatchStats::tcp_buffered`] tracks per segment.
    pub fn tcp_buffered_recount(&self) -> usize {
        self.flows.iter().map(Flow::tcp_buffered_bytes).sum()
    }

    /// Heap bytes the decoders of every open flow hold, counted afresh
    /// (`O(flows)`): what [`WatchStats::decoder_held`] tracks per segment.
    pub fn decoder_held_recount(&self) -> usize {
        self.flows.iter().map(|f| f.state.app.held_bytes()).sum()
    }

    pub fn flow_stats(&self) -> crate::flows::table::TableStats {
        *self.flows.stats()
    }
}

fn sock(s: SocketAddr) -> String {
    s.to_string()
}

impl WatchCore<'_> {
    fn on_l2(
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
            Ok(None) => {
                self.stats.not_ip += 1;
                return;
            }
            Err(_) => {
                self.stats.ip_malformed += 1;
                return;
            }
        };
        self.stats.ip_packets += 1;
        if pkt.fragment {
            self.stats.ip_fragments += 1;
            return;
        }
        if let Some(m) = src_mac {
            if is_local(pkt.src) {
                self.names.learn_ip_mac(pkt.src, m);
            }
        }
        let now = dur(ts);
        if now > *self.last_expire + Duration::from_secs(10) {
            self.expire(now);
            *self.last_expire = now;
        }
        match pkt.l4 {
            L4::Tcp {
                src_port,
                dst_port,
                seq,
                flags,
                payload,
                ..
            } => {
                self.stats.tcp_segments += 1;
                self.on_tcp(
                    ts, src_mac, dst_mac, &pkt, src_port, dst_port, seq, flags, payload,
                );
            }
            L4::Udp {
                src_port,
                dst_port,
                payload,
            } => {
                self.stats.udp_datagrams += 1;
                self.on_udp(ts, src_mac, dst_mac, &pkt, src_port, dst_port, payload);
            }
            _ => {}
        }
    }

    fn mac_of(&self, ip: IpAddr, seen: Option<MacAddr>) -> Option<MacAddr> {
        // A frame's own MAC is the truth on the LAN; a remote address's MAC
        // is the router's, so only local addresses are named by MAC.
        if !is_local(ip) {
            return None;
        }
        seen.filter(|m| !m.is_group())
            .or_else(|| self.names.mac_for_ip(ip))
    }

    #[allow(clippy::too_many_arguments)]
    fn on_udp(
        &mut self,
        ts: Ts,
        src_mac: Option<MacAddr>,
        dst_mac: Option<MacAddr>,
        pkt: &IpPacket<'_>,
        sport: u16,
        dport: u16,
        payload: &[u8],
    ) {
        let src = SocketAddr::new(pkt.src, sport);
        let dst = SocketAddr::new(pkt.dst, dport);
        if (sport == 67 || sport == 68) && (dport == 67 || dport == 68) {
            self.names.on_dhcp(src_mac, payload);
            return;
        }
        if sport == 53 {
            self.names.on_dns(payload);
            return;
        }
        if sport == XOR_PORT || dport == XOR_PORT {
            let response = sport == XOR_PORT;
            let device_mac = if response {
                self.mac_of(pkt.src, src_mac)
            } else {
                self.mac_of(pkt.dst, dst_mac)
            };
            let ctl_mac = if response {
                self.mac_of(pkt.dst, dst_mac)
            } else {
                self.mac_of(pkt.src, src_mac)
            };
            match decode_udp(payload)
                .map_err(|e| format!("{e:?}"))
                .and_then(|plain| TplinkMessage::parse(&plain).map_err(|e| format!("{e:?}")))
            {
                Ok(msg) => {
                    let ip = if response { pkt.src } else { pkt.dst };
                    self.message(
                        ts, "udp", src, dst, response, device_mac, ctl_mac, ip, &msg, None, None,
                    );
                }
                Err(reason) => {
                    self.stats.tplink_undecodable += 1;
                    self.events.push(Event {
                        ts,
                        body: EventBody::Undecodable(UndecodableEvent {
                            protocol: "tplink-smarthome",
                            src: sock(src),
                            dst: sock(dst),
                            reason,
                            label: None,
                        }),
                    });
                }
            }
            return;
        }
        if sport == discovery::TDP_PORT || dport == discovery::TDP_PORT {
            let Ok(m) = discovery::parse_tdp(payload) else {
                return;
            };
            self.stats.discovery += 1;
            let reply = sport == discovery::TDP_PORT;
            let device = if reply {
                self.mac_of(pkt.src, src_mac)
            } else {
                None
            };
            let mut summary = Vec::new();
            match &m.info {
                DiscoveryInfo::Query { rsa_key } => {
                    summary.push("discovery query".to_string());
                    if rsa_key.is_some() {
                        summary.push(
                            "carries the app's RSA public key (replies are RSA-encrypted to it)"
                                .into(),
                        );
                    }
                }
                DiscoveryInfo::Reply(a) => {
                    let mut s = String::from("device announces");
                    for (k, v) in [
                        ("model", &a.device_model),
                        ("type", &a.device_type),
                        ("mac", &a.mac),
                        ("ip", &a.ip),
                        ("encryption", &a.encrypt_type),
                    ] {
                        if let Some(v) = v {
                            s.push_str(&format!(" {k}={v}"));
                        }
                    }
                    if let Some(p) = a.http_port {
                        s.push_str(&format!(" http_port={p}"));
                    }
                    summary.push(s);
                    if a.encrypt_info.is_some() {
                        summary.push(
                            "encrypt_info: RSA-encrypted, not decryptable by an observer".into(),
                        );
                    }
                    self.tdp.learn(
                        pkt.src,
                        a.http_port.and_then(|p| u16::try_from(p).ok()),
                        a.encrypt_type.clone(),
                    );
                    if let Some(mac) = device {
                        if let Some(d) = self.inventory.touch(mac, Role::Plug, ts) {
                            d.protocols.insert("tdp");
                            d.ip = Some(pkt.src);
                            if a.device_model.is_some() {
                                d.model.clone_from(&a.device_model);
                            }
                            if let Some(e) = &a.encrypt_type {
                                d.notes.insert(format!("local protocol: {e}"));
                                if let Some(n) = encrypt_type_note(e) {
                                    d.notes.insert(n.to_string());
                                }
                            }
                        }
                    }
                }
                DiscoveryInfo::OtherJson => summary.push("TDP JSON of unknown shape".into()),
                DiscoveryInfo::Empty => summary.push("empty discovery query".into()),
                DiscoveryInfo::NotJson => summary.push("body is not JSON (encrypted?)".into()),
            }
            let mut json = m.json.clone();
            if let (Some(j), false) = (json.as_mut(), self.opts.show_secrets) {
                mask_secrets(j);
            }
            self.events.push(Event {
                ts,
                body: EventBody::Discovery(DiscoveryEvent {
                    protocol: "tplink-tdp",
                    src: sock(src),
                    dst: sock(dst),
                    direction: if reply { "response" } else { "request" },
                    device: device.map(|m| m.to_string()),
                    summary,
                    crc_ok: matches!(m.crc, CrcStatus::Valid),
                    json,
                }),
            });
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_tcp(
        &mut self,
        ts: Ts,
        src_mac: Option<MacAddr>,
        dst_mac: Option<MacAddr>,
        pkt: &IpPacket<'_>,
        sport: u16,
        dport: u16,
        seq: u32,
        flags: TcpFlags,
        payload: &[u8],
    ) {
        let src = SocketAddr::new(pkt.src, sport);
        let dst = SocketAddr::new(pkt.dst, dport);
        let (flow, dir) =
            match self
                .flows
                .packet(PROTO_TCP, src, dst, Some(flags), payload.len(), dur(ts))
            {
                Ok(x) => x,
                Err(_) => {
                    self.stats.flows_refused += 1;
                    return;
                }
            };
        let st = &mut flow.state;
        if matches!(st.app, App::Unknown) {
            let server_port = |p: u16| dport == p || sport == p;
            if server_port(XOR_PORT) {
                st.app = App::Tplink(Box::new(TplinkSession::new(
                    flow.initiator_source == InitiatorSource::Assumed && !flags.syn(),
                )));
                st.server_dir = Some(if dport == XOR_PORT {
                    dir
                } else {
                    dir.reverse()
                });
            } else if server_port(KLAP_PORT)
                || self.tdp.http_port(pkt.dst) == Some(dport)
                || self.tdp.http_port(pkt.src) == Some(sport)
            {
                let to_dst = dport == KLAP_PORT || self.tdp.http_port(pkt.dst) == Some(dport);
                st.app = App::Klap(Box::new(KlapConn::new(
                    flow.initiator_source == InitiatorSource::Assumed && !flags.syn(),
                )));
                st.server_dir = Some(if to_dst { dir } else { dir.reverse() });
            } else if LOCAL_HTTPS_PORTS.iter().any(|p| server_port(*p))
                && is_local(pkt.src)
                && is_local(pkt.dst)
            {
                let device_is_dst = LOCAL_HTTPS_PORTS.contains(&dport);
                let mac = if device_is_dst { dst_mac } else { src_mac };
                if let Some(d) = mac.and_then(|m| self.inventory.touch(m, Role::Plug, ts)) {
                    d.protocols.insert("https");
                    d.notes
                        .insert("HTTPS: local API over TLS, cannot decrypt passively".to_string());
                }
                st.app = App::Other;
            } else if CLOUD_PORTS.iter().any(|p| server_port(*p)) {
                st.app = App::Tls(Box::new(TlsFlow {
                    session: TlsSession::new(),
                    announced: false,
                    last_up: None,
                    intervals: (0.0, 0),
                }));
                st.server_dir = Some(if CLOUD_PORTS.contains(&dport) {
                    dir
                } else {
                    dir.reverse()
                });
                self.stats.tls_flows += 1;
            } else if !payload.is_empty() {
                st.app = App::Other;
            }
        }
        if matches!(st.app, App::Other | App::Unknown) {
            return;
        }
        // Direction from the decoder's point of view: to the server or back.
        let to_server_dir = st.server_dir.unwrap_or(flow.initiator_dir);
        let ddir = if dir == to_server_dir {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        match ddir {
            Direction::ToServer => {
                st.client_mac = st.client_mac.or(src_mac);
                st.server_mac = st.server_mac.or(dst_mac);
            }
            Direction::ToClient => {
                st.client_mac = st.client_mac.or(dst_mac);
                st.server_mac = st.server_mac.or(src_mac);
            }
        }
        let pair = (
            flow.key.src(to_server_dir).ip(),
            flow.key.dst(to_server_dir).ip(),
        );
        let Flow { tcp, state, .. } = flow;
        let mut sess_events = Vec::new();
        let mut klap_events = Vec::new();
        let klap = &mut *self.klap;
        let now = dur(ts);
        let held_before = state.app.held_bytes();
        let mut on_event = |ev: StreamEvent<'_>| match (&mut state.app, ev) {
            (App::Klap(k), StreamEvent::Data(d)) => {
                k.on_data(ddir, d, klap, pair, &mut klap_events)
            }
            (App::Klap(k), StreamEvent::Gap { len }) => k.on_gap(ddir, len),
            (App::Tplink(s), StreamEvent::Data(d)) => s.on_data(ddir, d, &mut sess_events),
            (App::Tplink(s), StreamEvent::Gap { len }) => s.on_gap(ddir, len),
            (App::Tls(t), StreamEvent::Data(d)) => {
                t.session.on_data(ddir, d);
                if ddir == Direction::ToServer {
                    if let Some(prev) = t.last_up {
                        t.intervals.0 += now.saturating_sub(prev).as_secs_f64();
                        t.intervals.1 += 1;
                    }
                    t.last_up = Some(now);
                }
            }
            (App::Tls(t), StreamEvent::Gap { len }) => t.session.on_gap(ddir, len),
            _ => {}
        };
        let stream = &mut tcp[dir.index()];
        let before = stream.buffered_bytes();
        stream.push(seq, flags, payload, &mut on_event);
        let mut after = stream.buffered_bytes();
        let others = self.stats.tcp_buffered.saturating_sub(before);
        if after > 0 && others + after > MAX_TCP_BUFFERED_TOTAL {
            stream.give_up_holes(&mut on_event);
            self.stats.tcp_budget_flushes += 1;
            after = stream.buffered_bytes();
        }
        self.stats.tcp_buffered = others + after;
        let mut held = state.app.held_bytes();
        let others = self.stats.decoder_held.saturating_sub(held_before);
        if held > 0 && others + held > MAX_DECODER_HELD_TOTAL {
            state.app.release();
            self.stats.decoder_budget_releases += 1;
            held = state.app.held_bytes();
        }
        self.stats.decoder_held = others + held;
        let key = flow.key;
        let client = key.src(to_server_dir);
        let server = key.dst(to_server_dir);
        let (client_mac, server_mac) = (state.client_mac, state.server_mac);
        // Pair responses with request times while the flow is borrowed.
        let mut msgs = Vec::new();
        for ev in sess_events {
            match ev {
                SessionEvent::Message {
                    dir: d, message, ..
                } => {
                    let response = d == Direction::ToClient;
                    let latency = if response {
                        state
                            .request_ts
                            .pop_front()
                            .map(|t0| dur(ts).saturating_sub(dur(t0)).as_secs_f64() * 1e3)
                    } else {
                        if state.request_ts.len() < 64 {
                            state.request_ts.push_back(ts);
                        }
                        None
                    };
                    msgs.push(Ok((response, message, latency)));
                }
                SessionEvent::Undecodable {
                    dir: d,
                    error,
                    plain_len,
                } => {
                    msgs.push(Err((
                        d,
                        format!("{plain_len} bytes deciphered, not IOT JSON: {error:?}"),
                    )));
                }
                SessionEvent::Desync { .. } | SessionEvent::Resynced { .. } => {
                    self.stats.tplink_desyncs += 1
                }
            }
        }
        let announce = matches!(&state.app, App::Tls(t) if !t.announced && t.session.meta().client_hello.is_some());
        if announce {
            cloud_event(flow, "opened", self.names, self.inventory, self.events);
        }
        if !klap_events.is_empty() {
            let dev = if is_local(server.ip()) {
                server_mac
            } else {
                None
            };
            let ctl = if is_local(client.ip()) {
                client_mac
            } else {
                None
            };
            self.klap_events(ts, client, server, dev, ctl, klap_events);
        }
        for m in msgs {
            match m {
                Ok((response, message, latency)) => {
                    let (s, d) = if response {
                        (server, client)
                    } else {
                        (client, server)
                    };
                    let dev = if is_local(server.ip()) {
                        server_mac
                    } else {
                        None
                    };
                    let ctl = if is_local(client.ip()) {
                        client_mac
                    } else {
                        None
                    };
                    self.message(
                        ts,
                        "tcp",
                        s,
                        d,
                        response,
                        dev,
                        ctl,
                        server.ip(),
                        &message,
                        latency,
                        None,
                    );
                }
                Err((d, reason)) => {
                    self.stats.tplink_undecodable += 1;
                    let (s, dd) = if d == Direction::ToClient {
                        (server, client)
                    } else {
                        (client, server)
                    };
                    self.events.push(Event {
                        ts,
                        body: EventBody::Undecodable(UndecodableEvent {
                            protocol: "tplink-smarthome",
                            src: sock(s),
                            dst: sock(dd),
                            reason,
                            label: None,
                        }),
                    });
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn message(
        &mut self,
        ts: Ts,
        transport: &'static str,
        src: SocketAddr,
        dst: SocketAddr,
        response: bool,
        device: Option<MacAddr>,
        controller: Option<MacAddr>,
        device_ip: IpAddr,
        msg: &TplinkMessage,
        latency_ms: Option<f64>,
        klap: Option<KlapMeta>,
    ) {
        self.stats.tplink_messages += 1;
        let proto = match transport {
            "tcp" => "xor-tcp",
            "http" => "klap",
            _ => "xor-udp",
        };
        if let Some(c) = controller {
            let ctl_ip = if response { dst.ip() } else { src.ip() };
            if let Some(d) = self.inventory.touch(c, Role::Controller, ts) {
                d.messages += 1;
                d.protocols.insert(proto);
                if is_local(ctl_ip) && !ctl_ip.is_unspecified() {
                    d.ip = Some(ctl_ip);
                }
            }
        }
        // A response identifies its sender as a plug; a request to a unicast
        // address identifies its receiver as one.
        if let Some(mac) = device {
            if let Some(d) = self.inventory.touch(mac, Role::Plug, ts) {
                d.messages += 1;
                d.protocols.insert(proto);
                d.ip = Some(device_ip);
                apply_to_device(d, msg, response);
            }
        }
        let show = self.opts.show_secrets;
        let mut summary = Vec::new();
        for s in &msg.summary {
            summary.push(describe(s, show));
            if let Summary::CredentialLeak {
                source,
                username,
                password,
            } = s
            {
                self.stats.credential_leaks += 1;
                self.events.push(Event {
                    ts,
                    body: EventBody::CredentialLeak(LeakEvent {
                        kind: match source {
                            CredentialSource::CloudBind => "cloud_account",
                            CredentialSource::WifiStaInfo => "wifi_network",
                        },
                        src: sock(src),
                        dst: sock(dst),
                        device: device.map(|m| m.to_string()),
                        username: username.clone(),
                        password: if show { password.clone() } else { MASK.into() },
                        masked: !show,
                    }),
                });
            }
        }
        let mut json = msg.raw_json.clone();
        if !show {
            mask_secrets(&mut json);
        }
        let alias = device
            .and_then(|m| self.inventory.alias(&m))
            .map(str::to_owned);
        let ev = Event {
            ts,
            body: EventBody::Message(MessageEvent {
                protocol: if klap.is_some() {
                    "tplink-klap"
                } else {
                    "tplink-smarthome"
                },
                transport,
                src: sock(src),
                dst: sock(dst),
                direction: if response { "response" } else { "request" },
                device: device.map(|m| m.to_string()),
                alias,
                methods: msg
                    .methods
                    .iter()
                    .map(|(m, f)| format!("{m}.{f}"))
                    .collect(),
                summary,
                latency_ms,
                json,
                klap,
            }),
        };
        // The leak event (if any) was pushed first; the message goes before it.
        let n_leaks = msg
            .summary
            .iter()
            .filter(|s| matches!(s, Summary::CredentialLeak { .. }))
            .count();
        let at = self.events.len() - n_leaks;
        self.events.insert(at, ev);
    }

    /// Turns KLAP decoder output into events, inventory facts and notes.
    fn klap_events(
        &mut self,
        ts: Ts,
        client: SocketAddr,
        server: SocketAddr,
        dev: Option<MacAddr>,
        ctl: Option<MacAddr>,
        events: Vec<KlapEvent>,
    ) {
        let note = |inv: &mut Inventory, n: String| {
            if let Some(d) = dev.and_then(|m| inv.touch(m, Role::Plug, ts)) {
                d.protocols.insert("klap");
                d.ip = Some(server.ip());
                d.notes.insert(n);
            }
        };
        for ev in events {
            match ev {
                KlapEvent::Handshake { matched, tried } => {
                    self.stats.klap_handshakes += 1;
                    if let Some(d) = dev.and_then(|m| self.inventory.touch(m, Role::Plug, ts)) {
                        d.protocols.insert("klap");
                        d.ip = Some(server.ip());
                    }
                    let (outcome, version, credentials) = match &matched {
                        Some((v, a)) => {
                            self.stats.klap_handshakes_matched += 1;
                            note(
                                self.inventory,
                                format!("KLAP {}: decrypted with {a}", v.name()),
                            );
                            ("decrypting", Some(v.name()), Some(a.clone()))
                        }
                        None => {
                            note(
                                self.inventory,
                                format!(
                                    "{} (server hash matched none of {tried} tried credentials)",
                                    Label::CredentialsNeeded.as_str()
                                ),
                            );
                            ("credentials needed", None, None)
                        }
                    };
                    self.events.push(Event {
                        ts,
                        body: EventBody::KlapSession(KlapSessionEvent {
                            src: sock(client),
                            dst: sock(server),
                            device: dev.map(|m| m.to_string()),
                            outcome,
                            version,
                            credentials,
                            tried,
                        }),
                    });
                }
                KlapEvent::Message { dir, message, info } => {
                    self.stats.klap_messages += 1;
                    let response = dir == Direction::ToClient;
                    let (s, d) = if response {
                        (server, client)
                    } else {
                        (client, server)
                    };
                    let meta = KlapMeta {
                        version: info.version.name(),
                        seq: info.seq,
                        credentials: info.account.clone(),
                        signature_ok: info.signature_ok,
                    };
                    self.message(
                        ts,
                        "http",
                        s,
                        d,
                        response,
                        dev,
                        ctl,
                        server.ip(),
                        &message,
                        None,
                        Some(meta),
                    );
                }
                KlapEvent::Label { dir, label, detail } => {
                    self.stats.klap_undecrypted += 1;
                    // A device that announced TPAP over TDP speaks it here.
                    let (label_str, detail) = match (label, self.tdp.encrypt_type(server.ip())) {
                        (Label::NotKlap, Some(e)) if e.eq_ignore_ascii_case("TPAP") => {
                            (TPAP_LABEL, format!("{detail} (device announced TPAP)"))
                        }
                        _ => (label.as_str(), detail),
                    };
                    let n = match label {
                        // The handshake already noted it, with the count tried.
                        Label::CredentialsNeeded => None,
                        Label::HandshakeNotCaptured => Some(label_str.to_string()),
                        Label::AesPassthrough | Label::NotKlap => Some(label_str.to_string()),
                        _ => None,
                    };
                    if let Some(n) = n {
                        note(self.inventory, n);
                    }
                    let (s, d) = if dir == Direction::ToClient {
                        (server, client)
                    } else {
                        (client, server)
                    };
                    self.events.push(Event {
                        ts,
                        body: EventBody::Undecodable(UndecodableEvent {
                            protocol: "tplink-klap",
                            src: sock(s),
                            dst: sock(d),
                            reason: format!("{label_str}: {detail}"),
                            label: Some(label_str),
                        }),
                    });
                }
                KlapEvent::Http { error, .. } => {
                    self.stats.http_errors += 1;
                    if !matches!(error, crate::decoders::http::HttpError::Resynced { .. }) {
                        self.events.push(Event {
                            ts,
                            body: EventBody::Undecodable(UndecodableEvent {
                                protocol: "http",
                                src: sock(client),
                                dst: sock(server),
                                reason: format!("HTTP: {error:?}"),
                                label: Some("HTTP: framing error"),
                            }),
                        });
                    }
                }
            }
        }
    }

    /// Expires idle flows (all of them with `Duration::MAX`), emitting the
    /// final summary of cloud links.
    fn expire(&mut self, now: Duration) {
        let gone = if now == Duration::MAX {
            let keys: Vec<_> = self.flows.iter().map(|f| f.key).collect();
            keys.into_iter()
                .filter_map(|k| self.flows.remove(&k))
                .collect()
        } else {
            self.flows.expire(now)
        };
        for mut f in gone {
            self.stats.flows_expired += 1;
            let held = f.tcp_buffered_bytes();
            self.stats.tcp_buffered = self.stats.tcp_buffered.saturating_sub(held);
            let held = f.state.app.held_bytes();
            self.stats.decoder_held = self.stats.decoder_held.saturating_sub(held);
            if let App::Tls(_) = f.state.app {
                cloud_event(&mut f, "closed", self.names, self.inventory, self.events);
            }
        }
    }
}

/// A cloud-link event for a TLS flow (`opened` at the ClientHello, `closed` at expiry).
fn cloud_event(
    f: &mut Flow<FlowState>,
    state: &'static str,
    names: &NameTable,
    inventory: &mut Inventory,
    events: &mut Vec<Event>,
) {
    let App::Tls(t) = &mut f.state.app else {
        return;
    };
    let server_dir = f.state.server_dir.unwrap_or(f.initiator_dir);
    let client = f.key.src(server_dir);
    let server = f.key.dst(server_dir);
    let meta = t.session.meta();
    // The plug is the local end; usually the client (it dials out).
    let (device, device_is_client) = if is_local(client.ip()) {
        (f.state.client_mac, true)
    } else {
        (f.state.server_mac, false)
    };
    let initiated_by_device = (f.initiator_dir == server_dir) == device_is_client;
    let ts_secs = f.last_seen;
    let ev = CloudEvent {
        state,
        label: "TLS: metadata only",
        device: device.map(|m| m.to_string()),
        src: sock(client),
        dst: sock(server),
        initiated_by: if initiated_by_device {
            "device"
        } else {
            "remote"
        },
        initiator_seen: f.initiator_source == InitiatorSource::Syn,
        sni: meta.client_hello.as_ref().and_then(|c| c.sni.clone()),
        dns_name: names.dns_name(server.ip()).map(str::to_owned),
        tls_version: meta
            .server_hello
            .as_ref()
            .map(|s| tls_version_name(s.version()))
            .or_else(|| {
                meta.client_hello
                    .as_ref()
                    .map(|c| format!("{} offered", tls_version_name(c.legacy_version)))
            }),
        server_cert_cn: meta.certificate.as_ref().and_then(|c| c.subject_cn.clone()),
        bytes_up: f.bytes[server_dir.index()],
        bytes_down: f.bytes[server_dir.reverse().index()],
        packets: f.packets[0] + f.packets[1],
        duration_s: f.last_seen.saturating_sub(f.first_seen).as_secs_f64(),
        mean_interval_s: (t.intervals.1 > 0).then(|| t.intervals.0 / t.intervals.1 as f64),
    };
    if let Some(mac) = device {
        let ts = Ts {
            sec: ts_secs.as_secs() as i64,
            usec: ts_secs.subsec_micros(),
        };
        if let Some(d) = inventory.touch(mac, Role::Plug, ts) {
            d.protocols.insert("tls");
            if let Some(sni) = &ev.sni {
                d.notes
                    .insert(format!("cloud link to {sni} (TLS: metadata only)"));
            }
        }
    }
    t.announced = true;
    events.push(Event {
        ts: Ts {
            sec: ts_secs.as_secs().min(i64::MAX as u64) as i64,
            usec: ts_secs.subsec_micros(),
        },
        body: EventBody::CloudLink(ev),
    });
}

/// Label for TPAP (PAKE + ECDH + AEAD): not decryptable even with the password.
pub const TPAP_LABEL: &str = "TPAP: PAKE key exchange, cannot decrypt passively";

/// An inventory note for a TDP `encrypt_type` a passive observer cannot open.
fn encrypt_type_note(e: &str) -> Option<&'static str> {
    match e.to_ascii_uppercase().as_str() {
        "AES" => Some(Label::AesPassthrough.as_str()),
        "TPAP" => Some(TPAP_LABEL),
        _ => None,
    }
}

fn tls_version_name(v: u16) -> String {
    match v {
        0x0300 => "SSL 3.0".into(),
        0x0301 => "TLS 1.0".into(),
        0x0302 => "TLS 1.1".into(),
        0x0303 => "TLS 1.2".into(),
        0x0304 => "TLS 1.3".into(),
        v => format!("{v:#06x}"),
    }
}

/// Private, link-local, loopback and multicast addresses are "local": their
/// MAC addresses on the frame are the hosts' own.
pub fn is_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            a.is_private()
                || a.is_link_local()
                || a.is_loopback()
                || a.is_broadcast()
                || a.is_multicast()
        }
        IpAddr::V6(a) => {
            a.is_loopback()
                || a.is_multicast()
                || (a.segments()[0] & 0xffc0) == 0xfe80
                || (a.segments()[0] & 0xfe00) == 0xfc00
        }
    }
}

fn apply_to_device(d: &mut inventory::Device, msg: &TplinkMessage, response: bool) {
    for s in &msg.summary {
        match s {
            Summary::SysInfo(si) if response => {
                if si.model.is_some() {
                    d.model.clone_from(&si.model);
                }
                if si.alias.is_some() {
                    d.alias.clone_from(&si.alias);
                }
                if si.sw_ver.is_some() {
                    d.firmware.clone_from(&si.sw_ver);
                }
                if si.hw_ver.is_some() {
                    d.hardware.clone_from(&si.hw_ver);
                }
                if let Some(r) = si.relay_state {
                    d.relay_on = Some(r == RelayState::On);
                }
            }
            Summary::SetRelayState(r) if !response => d.relay_on = Some(*r == RelayState::On),
            Summary::Emeter(e) if response => {
                if e.power_w.is_some() {
                    d.power_w = e.power_w;
                }
                if e.voltage_v.is_some() {
                    d.voltage_v = e.voltage_v;
                }
                if e.total_kwh.is_some() {
                    d.total_kwh = e.total_kwh;
                }
            }
            _ => {}
        }
    }
    let _ = Kind::Request;
}

/// A summary in words.
pub fn describe(s: &Summary, show_secrets: bool) -> String {
    match s {
        Summary::SysInfo(si) => {
            let mut parts = Vec::new();
            if let Some(m) = &si.model {
                parts.push(m.clone());
            }
            if let Some(a) = &si.alias {
                parts.push(format!("{a:?}"));
            }
            if let Some(m) = &si.mac {
                parts.push(format!("mac {m}"));
            }
            if let Some(f) = &si.sw_ver {
                parts.push(format!("fw {f}"));
            }
            if let Some(r) = si.relay_state {
                parts.push(format!(
                    "relay {}",
                    if r == RelayState::On { "ON" } else { "OFF" }
                ));
            }
            if !si.children.is_empty() {
                parts.push(format!("{} outlets", si.children.len()));
            }
            format!("sysinfo: {}", parts.join(", "))
        }
        Summary::SetRelayState(r) => {
            format!("switch {}", if *r == RelayState::On { "ON" } else { "OFF" })
        }
        Summary::Emeter(e) => {
            let mut parts = Vec::new();
            if let Some(p) = e.power_w {
                parts.push(format!("{p:.1} W"));
            }
            if let Some(v) = e.voltage_v {
                parts.push(format!("{v:.1} V"));
            }
            if let Some(a) = e.current_a {
                parts.push(format!("{a:.3} A"));
            }
            if let Some(k) = e.total_kwh {
                parts.push(format!("{k:.3} kWh total"));
            }
            format!("power: {}", parts.join(", "))
        }
        Summary::Schedule {
            module,
            method,
            rules,
            enabled,
        } => {
            let mut s = format!("{module}.{method}");
            if let Some(r) = rules {
                s.push_str(&format!(": {r} rule(s)"));
            }
            if let Some(e) = enabled {
                s.push_str(if *e { ", enabled" } else { ", disabled" });
            }
            s
        }
        Summary::Time {
            method,
            datetime,
            timezone_index,
        } => {
            let mut s = format!("time.{method}");
            if let Some([y, mo, d, h, mi, se]) = datetime {
                s.push_str(&format!(": {y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{se:02}"));
            }
            if let Some(t) = timezone_index {
                s.push_str(&format!(" (tz index {t})"));
            }
            s
        }
        Summary::Netif { method, ssids } => {
            if ssids.is_empty() {
                format!("netif.{method}")
            } else {
                format!("netif.{method}: {}", ssids.join(", "))
            }
        }
        Summary::CloudInfo {
            server,
            username,
            binded,
            connected,
        } => {
            let mut parts = Vec::new();
            if let Some(s) = server {
                parts.push(format!("server {s}"));
            }
            if let Some(u) = username {
                parts.push(format!("account {u}"));
            }
            if let Some(b) = binded {
                parts.push(if *b {
                    "bound".into()
                } else {
                    "not bound".into()
                });
            }
            if let Some(c) = connected {
                parts.push(if *c {
                    "connected".into()
                } else {
                    "disconnected".into()
                });
            }
            format!("cloud: {}", parts.join(", "))
        }
        Summary::CredentialLeak {
            source,
            username,
            password,
        } => {
            let what = match source {
                CredentialSource::CloudBind => "cloud account",
                CredentialSource::WifiStaInfo => "WiFi network",
            };
            let pw = if show_secrets {
                password.as_str()
            } else {
                MASK
            };
            format!("CREDENTIAL LEAK: {what} {username:?} / password {pw}")
        }
        Summary::Error {
            module,
            method,
            err_code,
            err_msg,
        } => {
            let m = method
                .as_deref()
                .map_or(module.clone(), |f| format!("{module}.{f}"));
            match err_msg {
                Some(e) => format!("{m}: error {err_code} ({e})"),
                None => format!("{m}: error {err_code}"),
            }
        }
        Summary::Raw { module, method } => format!("{module}.{method}"),
    }
}
