//! `watch`: from frames to what the plugs say.
//!
//! [`Watcher`] owns everything after capture for one run: the decryption
//! [`Engine`] (802.11 inputs) and, after it, the [`Analyzer`]: for every MSDU
//! or plain Ethernet/IP frame, name learning (ARP, DHCP, DNS), the flow table
//! with TCP reassembly, the decoders of [`crate::decoders::REGISTRY`], the
//! device inventory, and the typed [`Event`]s it emits.
//!
//! The analyzer is one `impl` split by layer, as smoltcp splits its
//! interface: [`l2`] (MSDUs, relayed copies, ARP, IP), [`udp`] (DHCP, DNS,
//! datagram decoders), [`tcp`] (flows, reassembly, stream decoders, the memory
//! budgets) and [`findings`] (what decoders found → events and inventory).
//! The engine and the analyzer are two fields, so the engine can hand MSDUs
//! to the analyzer while both are borrowed mutably — no struct of borrows.
//!
//! Ordering: events come out in capture order of the packet that completed
//! them. Bounds: the flow table ([`MAX_FLOWS`], idle expiry [`IDLE_TIMEOUT`],
//! payload-less flows evicted first when full), two budgets across all flows
//! kept by per-segment gauges ([`MAX_TCP_BUFFERED_TOTAL`] for out-of-order
//! TCP bytes, [`MAX_DECODER_HELD_TOTAL`] for decoders' partial messages), the
//! decoders' own caps, the name table's and the inventory's.
//!
//! Outputs are not the watcher's: a caller that wants the decrypted MSDUs
//! (the pcap writer) passes its own [`Sink`] as a tap.

pub mod findings;
pub mod l2;
pub mod tcp;
pub mod udp;

use std::net::SocketAddr;
use std::time::Duration;

use crate::decoders::{DecoderConfig, Shared, StreamDecoder};
use crate::engine::{Engine, NullSink, PreDecrypted, Sink};
use crate::flows::names::NameTable;
use crate::flows::table::{Dir, Flow, FlowTable};
use crate::flows::tcp::TcpFlags;
use crate::report::counters::{Count, WatchStats};
use crate::report::event::{Event, EventBody, WarningEvent};
use crate::report::inventory::Inventory;
use crate::wire::link::LinkKind;
use crate::wire::{MacAddr, Ts};
use crate::wpa::handshake::NetworkSecret;

/// Flows tracked at once (the flow table's cap, [`crate::flows::table::MAX_FLOWS`]).
pub use crate::flows::table::MAX_FLOWS;
/// Capture time after which a silent flow is expired.
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
/// Unanswered requests remembered per flow for response latency.
pub const MAX_PENDING_REQUESTS: usize = 64;
/// How often (capture time) idle flows are expired and health is checked.
const EXPIRE_EVERY: Duration = Duration::from_secs(10);
const HEALTH_EVERY_SECS: i64 = 5;

/// The link-layer addresses of the frame that carried a packet.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Macs {
    pub src: Option<MacAddr>,
    pub dst: Option<MacAddr>,
}

/// One TCP segment as parsed.
pub(crate) struct Segment<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    pub flags: TcpFlags,
    pub payload: &'a [u8],
}

/// Options of a watch run: the decoders' settings and keys (config file
/// sections, `--show-secrets`).
pub type WatchOptions = DecoderConfig;

/// Decoder state of one TCP flow.
#[derive(Default)]
pub struct FlowState {
    /// The protocol that claimed the flow and its decoder; `None` while no
    /// registration has claimed it.
    decoder: Option<(&'static str, Box<dyn StreamDecoder>)>,
    /// Asked every registration and none claimed it: not decoded.
    unclaimed: bool,
    /// Which side is the server (by the claiming probe; else the initiator).
    server_dir: Option<Dir>,
    client_mac: Option<MacAddr>,
    server_mac: Option<MacAddr>,
    /// Request times, oldest first, to compute response latency.
    request_ts: std::collections::VecDeque<Ts>,
}

impl FlowState {
    /// Heap bytes the decoder holds for partial messages.
    fn held_bytes(&self) -> usize {
        self.decoder.as_ref().map_or(0, |(_, d)| d.held_bytes())
    }
}

/// Everything after decryption: names, flows, decoders, inventory, events.
pub struct Analyzer {
    pub names: NameTable,
    flows: FlowTable<FlowState>,
    pub inventory: Inventory,
    pub stats: WatchStats,
    /// The decoders' cross-flow state and configured keys.
    shared: Shared,
    events: Vec<Event>,
    last_expire: Duration,
}

/// The whole watch pipeline after capture.
pub struct Watcher {
    pub engine: Engine,
    pub an: Analyzer,
    /// Capture time of the last health check.
    last_health: i64,
    /// Capture time of the latest frame (end-of-input events carry it).
    last_ts: Option<Ts>,
}

impl Watcher {
    pub fn new(networks: Vec<NetworkSecret>, opts: WatchOptions) -> Self {
        Watcher {
            engine: Engine::new(networks),
            an: Analyzer {
                names: NameTable::new(),
                flows: FlowTable::new(MAX_FLOWS, IDLE_TIMEOUT),
                inventory: Inventory::default(),
                stats: WatchStats::default(),
                shared: Shared::new(opts),
                events: Vec::new(),
                last_expire: Duration::ZERO,
            },
            last_health: 0,
            last_ts: None,
        }
    }

    /// The capture time of the latest frame seen, if any.
    pub fn last_ts(&self) -> Option<Ts> {
        self.last_ts
    }

    /// The input ended at `ts` (its last frame, one a filter may have kept
    /// from the watcher): end-of-input events are stamped with it.
    pub fn input_ended_at(&mut self, ts: Option<Ts>) {
        if let Some(t) = ts {
            self.note_ts(t);
        }
    }

    fn note_ts(&mut self, ts: Ts) {
        if self.last_ts.is_none_or(|l| ts > l) {
            self.last_ts = Some(ts);
        }
    }

    /// An 802.11 frame (radiotap, Prism, PPI or plain 802.11).
    pub fn process_80211(&mut self, ts: Ts, kind: LinkKind, raw: &[u8], orig_len: u32) {
        self.process_80211_pre(ts, kind, raw, orig_len, &mut None, &mut NullSink);
    }

    /// [`Watcher::process_80211`] with a pipeline worker's decryption (taken,
    /// and handed back spent, as [`Engine::process_pre`] does) and a tap
    /// that sees every MSDU and MPDU the engine hands on (the pcap writer).
    pub fn process_80211_pre(
        &mut self,
        ts: Ts,
        kind: LinkKind,
        raw: &[u8],
        orig_len: u32,
        pre: &mut Option<PreDecrypted>,
        tap: &mut dyn Sink,
    ) {
        self.note_ts(ts);
        let mut sink = l2::MsduSink {
            an: &mut self.an,
            tap,
        };
        self.engine
            .process_pre(ts, kind, raw, orig_len, pre, &mut sink);
        self.security_events(ts);
        if ts.sec >= self.last_health + HEALTH_EVERY_SECS {
            self.last_health = ts.sec;
            self.health_events(ts, false);
        }
    }

    /// A frame of a plain (non-802.11) link type: Ethernet, SLL, null, raw IP.
    pub fn process_plain(&mut self, ts: Ts, dlt: i32, raw: &[u8]) {
        self.note_ts(ts);
        self.an.on_link_frame(ts, dlt, raw);
    }

    /// Turns the engine's attack and anomaly warnings into events.
    fn security_events(&mut self, ts: Ts) {
        for w in self.engine.take_warnings() {
            self.an.events.push(Event {
                ts,
                anchor: None,
                body: EventBody::Warning(WarningEvent {
                    kind: w.kind,
                    bssid: w.bssid,
                    sta: w.sta,
                    message: w.message,
                    frame: Some(w.frame),
                    reference: w.reference,
                }),
            });
        }
    }

    /// Turns new capture-health warnings into events.
    fn health_events(&mut self, ts: Ts, at_end: bool) {
        let warnings = self.engine.health_warnings(ts, at_end);
        for w in warnings {
            self.an.events.push(Event {
                ts,
                anchor: None,
                body: EventBody::Warning(WarningEvent {
                    kind: w.kind,
                    bssid: w.bssid,
                    sta: w.sta,
                    message: w.message,
                    frame: None,
                    reference: None,
                }),
            });
        }
    }

    /// Events produced so far (drained).
    pub fn drain_events(&mut self) -> std::vec::Drain<'_, Event> {
        self.an.events.drain(..)
    }

    /// End of input: close every flow (final cloud-link summaries), and the
    /// last capture-health warnings, all stamped with the time of the last
    /// frame (the epoch when there was none).
    pub fn finish(&mut self) {
        let now = self.last_ts.unwrap_or_default();
        self.health_events(now, true);
        self.an.expire(Duration::MAX, now);
    }

    pub fn flow_count(&self) -> usize {
        self.an.flows.len()
    }

    /// Out-of-order TCP bytes buffered by every open flow, counted afresh
    /// (`O(flows)`): what [`WatchStats::tcp_buffered`] tracks per segment.
    pub fn tcp_buffered_recount(&self) -> usize {
        self.an.flows.iter().map(Flow::tcp_buffered_bytes).sum()
    }

    /// Heap bytes the decoders of every open flow hold, counted afresh
    /// (`O(flows)`): what [`WatchStats::decoder_held`] tracks per segment.
    pub fn decoder_held_recount(&self) -> usize {
        self.an.flows.iter().map(|f| f.state.held_bytes()).sum()
    }

    pub fn flow_stats(&self) -> crate::flows::table::TableStats {
        *self.an.flows.stats()
    }

    /// MSDUs (or wired frames) handed to the analyzer so far.
    pub fn msdus(&self) -> u64 {
        self.an.stats.get(Count::Msdus)
    }
}
