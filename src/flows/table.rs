//! The flow table: which conversations exist, who started them, and when they
//! went quiet.
//!
//! # What this module owns
//! - [`FlowKey`]: a canonical 5-tuple. Both directions of a conversation map
//!   to the same key; [`Dir`] says which way a packet went (the same symmetric
//!   trick as pcap-analyzer's flow hash).
//! - [`FlowTable`]: at most [`MAX_FLOWS`] flows (or the cap given to
//!   [`FlowTable::new`]), each with two [`TcpStream`]s and decoder state `S`.
//!
//! # Guarantees
//! - Bounded: when the table is full, a new flow takes the place of the
//!   oldest flow that has carried no payload yet in either direction (a
//!   half-open connection, a port-scan probe: what a SYN flood is made of),
//!   counted in [`TableStats::evicted_no_payload`]. Only when every flow has
//!   carried payload is the new flow refused (counted in
//!   [`TableStats::refused_full`]): established conversations are never
//!   evicted to make room. Both are amortised `O(1)`: payload-less flows are
//!   queued in creation order, and an entry whose flow has since carried
//!   payload or gone is skipped when reached (the queue is compacted when it
//!   reaches twice the cap, so it stays bounded too). This is conntrack's
//!   "early drop" of unreplied connections.
//! - [`FlowTable::expire`] removes flows idle for longer than the idle timeout
//!   (counted) and is `O(flows)`: call it on a timer (about once a second of
//!   capture time), not per packet.
//! - Initiator: a SYN without ACK names the initiator for certain
//!   ([`InitiatorSource::Syn`]); a SYN+ACK names the other side. Otherwise the
//!   sender of the first packet seen is *assumed* to be the initiator
//!   ([`InitiatorSource::Assumed`]), and a later SYN overrides the guess.
//!   RFC 9293 §3.5 (three-way handshake).

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::tcp::{TcpFlags, TcpStream};

/// Default cap on concurrent flows. A home network with a few dozen devices
/// has a few hundred flows; 65 536 leaves room for scans without letting a
/// flood grow the table without bound (each flow is a few hundred bytes plus
/// its buffered TCP data).
pub const MAX_FLOWS: usize = 65_536;

/// Default idle timeout. Kasa apps poll every few seconds; TP-Link's cloud
/// connection sends keepalives well inside two minutes.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// IP protocol numbers (IANA "Assigned Internet Protocol Numbers").
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;

/// A conversation's 5-tuple with the endpoints in a canonical order
/// (`lo <= hi`), so both directions give the same key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    pub proto: u8,
    pub lo: SocketAddr,
    pub hi: SocketAddr,
}

/// Which way a packet travels relative to the canonical key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dir {
    /// From [`FlowKey::lo`] to [`FlowKey::hi`].
    LoToHi,
    /// From [`FlowKey::hi`] to [`FlowKey::lo`].
    HiToLo,
}

impl Dir {
    /// 0 for `LoToHi`, 1 for `HiToLo`: an index into per-direction arrays.
    pub fn index(self) -> usize {
        match self {
            Dir::LoToHi => 0,
            Dir::HiToLo => 1,
        }
    }
    pub fn reverse(self) -> Dir {
        match self {
            Dir::LoToHi => Dir::HiToLo,
            Dir::HiToLo => Dir::LoToHi,
        }
    }
}

impl FlowKey {
    /// The canonical key of a packet from `src` to `dst`, and its direction.
    pub fn new(proto: u8, src: SocketAddr, dst: SocketAddr) -> (FlowKey, Dir) {
        if src <= dst {
            (
                FlowKey {
                    proto,
                    lo: src,
                    hi: dst,
                },
                Dir::LoToHi,
            )
        } else {
            (
                FlowKey {
                    proto,
                    lo: dst,
                    hi: src,
                },
                Dir::HiToLo,
            )
        }
    }

    /// Convenience for `(ip, port)` pairs.
    pub fn from_parts(
        proto: u8,
        src: IpAddr,
        src_port: u16,
        dst: IpAddr,
        dst_port: u16,
    ) -> (FlowKey, Dir) {
        Self::new(
            proto,
            SocketAddr::new(src, src_port),
            SocketAddr::new(dst, dst_port),
        )
    }

    /// The sender of a packet going `dir`.
    pub fn src(&self, dir: Dir) -> SocketAddr {
        match dir {
            Dir::LoToHi => self.lo,
            Dir::HiToLo => self.hi,
        }
    }

    /// The receiver of a packet going `dir`.
    pub fn dst(&self, dir: Dir) -> SocketAddr {
        self.src(dir.reverse())
    }
}

/// How the initiator was determined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitiatorSource {
    /// Seen in the handshake: SYN without ACK, or SYN+ACK from the other side.
    Syn,
    /// Guessed: the sender of the first packet seen.
    Assumed,
}

/// One conversation.
#[derive(Debug)]
pub struct Flow<S> {
    pub key: FlowKey,
    /// The direction in which the initiator sends (client → server).
    pub initiator_dir: Dir,
    pub initiator_source: InitiatorSource,
    /// Capture time of the first and the latest packet.
    pub first_seen: Duration,
    pub last_seen: Duration,
    /// Packets and payload bytes per [`Dir::index`].
    pub packets: [u64; 2],
    pub bytes: [u64; 2],
    /// TCP reassembly per [`Dir::index`]; unused for other protocols.
    pub tcp: [TcpStream; 2],
    /// Decoder state, owned by whoever drives the table.
    pub state: S,
    /// Which creation this is (a key can be removed and created again):
    /// tells a current entry of the payload-less queue from a stale one.
    serial: u64,
}

impl<S> Flow<S> {
    /// This flow is creation `serial` and has carried no payload yet.
    fn is_current_no_payload(&self, serial: u64) -> bool {
        self.serial == serial && self.bytes == [0, 0]
    }
    /// Out-of-order bytes its two TCP streams hold.
    pub fn tcp_buffered_bytes(&self) -> usize {
        self.tcp[0].buffered_bytes() + self.tcp[1].buffered_bytes()
    }

    /// Endpoint that initiated the flow (the client).
    pub fn initiator(&self) -> SocketAddr {
        self.key.src(self.initiator_dir)
    }
    /// Endpoint that accepted the flow (the server).
    pub fn responder(&self) -> SocketAddr {
        self.key.dst(self.initiator_dir)
    }
    /// True when a packet going `dir` is sent by the initiator.
    pub fn is_from_initiator(&self, dir: Dir) -> bool {
        dir == self.initiator_dir
    }
}

/// Table-wide counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TableStats {
    pub created: u64,
    /// New flows refused because the table was full of flows that had all
    /// carried payload.
    pub refused_full: u64,
    /// Flows evicted, before carrying any payload, to make room for a new
    /// flow in a full table (oldest first).
    pub evicted_no_payload: u64,
    /// Flows removed by [`FlowTable::expire`].
    pub expired_idle: u64,
    /// Flows removed by [`FlowTable::remove`].
    pub removed: u64,
}

/// Why [`FlowTable::packet`] did not return a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableError {
    /// The table holds its maximum number of flows.
    Full,
}

/// Bounded map from [`FlowKey`] to [`Flow`].
#[derive(Debug)]
pub struct FlowTable<S> {
    flows: crate::FastMap<FlowKey, Flow<S>>,
    /// Flows created without payload, oldest first, by (key, serial);
    /// entries go stale when their flow carries payload or is removed.
    no_payload: VecDeque<(FlowKey, u64)>,
    max_flows: usize,
    idle_timeout: Duration,
    stats: TableStats,
}

impl<S: Default> Default for FlowTable<S> {
    fn default() -> Self {
        Self::new(MAX_FLOWS, DEFAULT_IDLE_TIMEOUT)
    }
}

impl<S: Default> FlowTable<S> {
    pub fn new(max_flows: usize, idle_timeout: Duration) -> Self {
        FlowTable {
            flows: crate::FastMap::default(),
            no_payload: VecDeque::new(),
            max_flows,
            idle_timeout,
            stats: TableStats::default(),
        }
    }

    /// Records a packet from `src` to `dst` at capture time `now` and
    /// returns its flow and direction. `tcp_flags` is `None` for non-TCP.
    /// Counts the packet and `payload_len`; feeding TCP payload to
    /// `flow.tcp[dir.index()]` is the caller's job.
    pub fn packet(
        &mut self,
        proto: u8,
        src: SocketAddr,
        dst: SocketAddr,
        tcp_flags: Option<TcpFlags>,
        payload_len: usize,
        now: Duration,
    ) -> Result<(&mut Flow<S>, Dir), TableError> {
        let (key, dir) = FlowKey::new(proto, src, dst);
        if self.flows.len() >= self.max_flows
            && !self.flows.contains_key(&key)
            && !self.evict_one_without_payload()
        {
            self.stats.refused_full += 1;
            return Err(TableError::Full);
        }
        if self.no_payload.len() >= 2 * self.max_flows.max(1) {
            // Stale entries (flows that carried payload or are gone) out;
            // what stays is at most one entry per flow in the table.
            let flows = &self.flows;
            self.no_payload
                .retain(|(k, s)| flows.get(k).is_some_and(|f| f.is_current_no_payload(*s)));
        }
        let flow = match self.flows.entry(key) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                let serial = self.stats.created;
                self.stats.created += 1;
                if payload_len == 0 {
                    self.no_payload.push_back((key, serial));
                }
                v.insert(Flow {
                    key,
                    initiator_dir: dir,
                    initiator_source: InitiatorSource::Assumed,
                    first_seen: now,
                    last_seen: now,
                    packets: [0; 2],
                    bytes: [0; 2],
                    tcp: [TcpStream::new(), TcpStream::new()],
                    state: S::default(),
                    serial,
                })
            }
        };
        if now > flow.last_seen {
            flow.last_seen = now;
        }
        flow.packets[dir.index()] += 1;
        flow.bytes[dir.index()] += payload_len as u64;
        if let Some(f) = tcp_flags
            && f.syn()
            && flow.initiator_source == InitiatorSource::Assumed
        {
            flow.initiator_dir = if f.ack() { dir.reverse() } else { dir };
            flow.initiator_source = InitiatorSource::Syn;
        }
        Ok((flow, dir))
    }

    /// Evicts the oldest flow that has carried no payload; false when there
    /// is none. Amortised `O(1)`: every queue entry is popped at most once.
    fn evict_one_without_payload(&mut self) -> bool {
        while let Some((k, s)) = self.no_payload.pop_front() {
            if self
                .flows
                .get(&k)
                .is_some_and(|f| f.is_current_no_payload(s))
            {
                self.flows.remove(&k);
                self.stats.evicted_no_payload += 1;
                return true;
            }
        }
        false
    }

    pub fn get(&self, key: &FlowKey) -> Option<&Flow<S>> {
        self.flows.get(key)
    }

    pub fn get_mut(&mut self, key: &FlowKey) -> Option<&mut Flow<S>> {
        self.flows.get_mut(key)
    }

    /// Removes a flow (for example after both FINs), returning it so the
    /// caller can flush its streams.
    pub fn remove(&mut self, key: &FlowKey) -> Option<Flow<S>> {
        let f = self.flows.remove(key);
        if f.is_some() {
            self.stats.removed += 1;
        }
        f
    }

    /// Removes and returns every flow idle for longer than the idle timeout
    /// at capture time `now`, so the caller can flush their streams and
    /// decoders. `O(flows)`.
    pub fn expire(&mut self, now: Duration) -> Vec<Flow<S>> {
        let timeout = self.idle_timeout;
        let stale: Vec<FlowKey> = self
            .flows
            .iter()
            .filter(|(_, f)| now.saturating_sub(f.last_seen) > timeout)
            .map(|(k, _)| *k)
            .collect();
        let mut out = Vec::with_capacity(stale.len());
        for k in stale {
            if let Some(f) = self.flows.remove(&k) {
                out.push(f);
            }
        }
        self.stats.expired_idle += out.len() as u64;
        out
    }

    pub fn len(&self) -> usize {
        self.flows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    pub fn stats(&self) -> &TableStats {
        &self.stats
    }

    pub fn iter(&self) -> impl Iterator<Item = &Flow<S>> {
        self.flows.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    const SYN: Option<TcpFlags> = Some(TcpFlags(TcpFlags::SYN));
    const SYNACK: Option<TcpFlags> = Some(TcpFlags(TcpFlags::SYN | TcpFlags::ACK));
    const ACK: Option<TcpFlags> = Some(TcpFlags(TcpFlags::ACK));
    const T0: Duration = Duration::from_secs(0);

    #[test]
    fn both_directions_share_a_key() {
        let a = sa("192.168.1.20:50000");
        let b = sa("192.168.1.5:9999");
        let (k1, d1) = FlowKey::new(PROTO_TCP, a, b);
        let (k2, d2) = FlowKey::new(PROTO_TCP, b, a);
        assert_eq!(k1, k2);
        assert_ne!(d1, d2);
        assert_eq!(k1.src(d1), a);
        assert_eq!(k1.dst(d1), b);
        assert_eq!(k2.src(d2), b);
        // Same addresses, different protocol: different flow.
        assert_ne!(FlowKey::new(PROTO_UDP, a, b).0, k1);
    }

    #[test]
    fn syn_names_the_initiator() {
        let client = sa("10.0.0.2:40000");
        let server = sa("10.0.0.1:9999");
        let mut t: FlowTable<()> = FlowTable::default();
        // First packet seen is the server's SYN+ACK: the client initiated.
        let (f, _) = t.packet(PROTO_TCP, server, client, SYNACK, 0, T0).unwrap();
        assert_eq!(f.initiator(), client);
        assert_eq!(f.responder(), server);
        assert_eq!(f.initiator_source, InitiatorSource::Syn);
    }

    #[test]
    fn first_sender_is_assumed_then_syn_corrects() {
        let client = sa("10.0.0.2:40000");
        let server = sa("10.0.0.1:9999");
        let mut t: FlowTable<()> = FlowTable::default();
        let (f, d) = t.packet(PROTO_TCP, server, client, ACK, 10, T0).unwrap();
        assert_eq!(f.initiator(), server);
        assert_eq!(f.initiator_source, InitiatorSource::Assumed);
        assert!(f.is_from_initiator(d));
        let (f, d) = t.packet(PROTO_TCP, client, server, SYN, 0, T0).unwrap();
        assert_eq!(f.initiator(), client);
        assert!(f.is_from_initiator(d));
        assert_eq!(f.packets, [1, 1]);
        // A second SYN from the other side does not flip it back.
        let (f, _) = t.packet(PROTO_TCP, server, client, SYN, 0, T0).unwrap();
        assert_eq!(f.initiator(), client);
    }

    #[test]
    fn cap_refuses_new_flows_but_serves_existing() {
        let mut t: FlowTable<u32> = FlowTable::new(2, DEFAULT_IDLE_TIMEOUT);
        let s = sa("10.0.0.1:9999");
        for p in 1..=2 {
            let c = SocketAddr::new(s.ip(), 40000 + p);
            t.packet(PROTO_UDP, c, s, None, 1, T0).unwrap().0.state += 1;
        }
        let c3 = sa("10.0.0.1:40003");
        assert_eq!(
            t.packet(PROTO_UDP, c3, s, None, 1, T0).unwrap_err(),
            TableError::Full
        );
        assert_eq!(t.stats().refused_full, 1);
        let c1 = sa("10.0.0.1:40001");
        assert_eq!(t.packet(PROTO_UDP, s, c1, None, 1, T0).unwrap().0.state, 1);
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn full_table_evicts_the_oldest_flow_without_payload() {
        let mut t: FlowTable<u32> = FlowTable::new(3, DEFAULT_IDLE_TIMEOUT);
        let s = sa("10.0.0.1:9999");
        let c = |p: u16| SocketAddr::new("10.0.0.2".parse().unwrap(), p);
        // 1: half-open; 2: half-open, then carries payload; 3: half-open.
        for p in 1..=3 {
            t.packet(PROTO_TCP, c(p), s, SYN, 0, T0).unwrap();
        }
        t.packet(PROTO_TCP, c(2), s, ACK, 5, T0).unwrap();
        // 4 takes 1's place, 5 takes 3's; 2 (payload) stays.
        for p in 4..=5 {
            t.packet(PROTO_TCP, c(p), s, SYN, 0, T0).unwrap();
        }
        let key = |p: u16| FlowKey::new(PROTO_TCP, c(p), s).0;
        assert!(t.get(&key(1)).is_none() && t.get(&key(3)).is_none());
        assert!(t.get(&key(2)).is_some());
        assert_eq!(t.stats().evicted_no_payload, 2);
        // 4 and 5 carry payload: now every flow has, and a newcomer is refused.
        for p in 4..=5 {
            t.packet(PROTO_TCP, c(p), s, ACK, 1, T0).unwrap();
        }
        assert_eq!(
            t.packet(PROTO_TCP, c(6), s, SYN, 0, T0).unwrap_err(),
            TableError::Full
        );
        assert_eq!(t.stats().refused_full, 1);
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn a_recreated_key_is_not_evicted_through_its_stale_entry() {
        let mut t: FlowTable<()> = FlowTable::new(2, DEFAULT_IDLE_TIMEOUT);
        let s = sa("10.0.0.1:9999");
        let a = sa("10.0.0.2:1000");
        let b = sa("10.0.0.3:1000");
        let ka = FlowKey::new(PROTO_TCP, a, s).0;
        // a: created payload-less, removed, created again with payload.
        t.packet(PROTO_TCP, a, s, SYN, 0, T0).unwrap();
        t.remove(&ka);
        t.packet(PROTO_TCP, a, s, ACK, 3, T0).unwrap();
        t.packet(PROTO_TCP, b, s, SYN, 0, T0).unwrap();
        // Full: the stale entry of a's first life must not evict a.
        t.packet(PROTO_TCP, sa("10.0.0.4:1000"), s, SYN, 0, T0)
            .unwrap();
        assert!(t.get(&ka).is_some());
        assert!(t.get(&FlowKey::new(PROTO_TCP, b, s).0).is_none());
    }

    #[test]
    fn payload_less_queue_stays_bounded() {
        // Open and close payload-less flows forever in a table that never
        // fills (so nothing is popped by eviction): the queue is compacted
        // and never holds more than twice the cap.
        let mut t: FlowTable<()> = FlowTable::new(8, DEFAULT_IDLE_TIMEOUT);
        let s = sa("10.0.0.1:9999");
        for i in 0..10_000u32 {
            let c = SocketAddr::new("10.0.0.2".parse().unwrap(), (i % 5) as u16 + 1);
            t.packet(PROTO_TCP, c, s, SYN, 0, T0).unwrap();
            if i % 2 == 0 {
                t.remove(&FlowKey::new(PROTO_TCP, c, s).0);
            }
            assert!(t.no_payload.len() <= 2 * 8 + 1, "{}", t.no_payload.len());
            assert!(t.len() <= 8);
        }
    }

    #[test]
    fn idle_flows_expire() {
        let mut t: FlowTable<()> = FlowTable::new(10, Duration::from_secs(60));
        let s = sa("10.0.0.1:9999");
        let a = sa("10.0.0.2:1000");
        let b = sa("10.0.0.3:1000");
        t.packet(PROTO_TCP, a, s, SYN, 0, Duration::from_secs(0))
            .unwrap();
        t.packet(PROTO_TCP, b, s, SYN, 0, Duration::from_secs(50))
            .unwrap();
        assert!(t.expire(Duration::from_secs(60)).is_empty());
        let gone = t.expire(Duration::from_secs(61));
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].initiator(), a);
        assert_eq!(t.len(), 1);
        assert_eq!(t.stats().expired_idle, 1);
        // Time going backwards (unsorted capture) never panics.
        assert!(t.expire(Duration::from_secs(1)).is_empty());
        let k = FlowKey::new(PROTO_TCP, b, s).0;
        assert!(t.remove(&k).is_some());
        assert!(t.is_empty());
    }

    #[test]
    fn tcp_streams_hang_off_the_flow() {
        let client = sa("10.0.0.2:40000");
        let server = sa("10.0.0.1:9999");
        let mut t: FlowTable<()> = FlowTable::default();
        let (f, d) = t.packet(PROTO_TCP, client, server, SYN, 0, T0).unwrap();
        f.tcp[d.index()].push_collect(5, TcpFlags(TcpFlags::SYN), b"");
        let (f, d) = t.packet(PROTO_TCP, client, server, ACK, 2, T0).unwrap();
        let ev = f.tcp[d.index()].push_collect(6, TcpFlags(TcpFlags::ACK), b"hi");
        assert_eq!(ev.len(), 1);
        assert_eq!(f.bytes[d.index()], 2);
    }
}
