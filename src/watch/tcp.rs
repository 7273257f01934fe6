//! TCP in the analyzer: the flow table, the registered stream decoders
//! (claimed by their probes), reassembly, the two global memory budgets,
//! response latency, and flow expiry.

use std::time::Duration;

use super::findings::Ends;
use super::{
    Analyzer, FlowState, MAX_DECODER_HELD_TOTAL, MAX_PENDING_REQUESTS, MAX_TCP_BUFFERED_TOTAL,
    Macs, Segment,
};
use crate::decoders::{
    self, Ctx, Decoder, Direction, Finding, FlowMeta, MessageKind, Probe, ServerIs, Transport,
    Verdict,
};
use crate::flows::ip::is_local;
use crate::flows::table::{Dir, Flow, InitiatorSource, PROTO_TCP};
use crate::flows::tcp::StreamEvent;
use crate::report::counters::Count;
use crate::wire::Ts;

/// What the flow table knows, as decoders see it.
fn flow_meta(f: &Flow<FlowState>, server_dir: Dir) -> FlowMeta {
    FlowMeta {
        first_seen: f.first_seen,
        last_seen: f.last_seen,
        bytes: [
            f.bytes[server_dir.index()],
            f.bytes[server_dir.reverse().index()],
        ],
        packets: f.packets[0] + f.packets[1],
        initiator_seen: f.initiator_source == InitiatorSource::Syn,
        client_opened: f.initiator_dir == server_dir,
    }
}

/// The ends of a flow: client and server, and their MACs where local.
fn ends_of(f: &Flow<FlowState>, server_dir: Dir) -> Ends {
    let client = f.key.src(server_dir);
    let server = f.key.dst(server_dir);
    Ends {
        client,
        server,
        device: f.state.server_mac.filter(|_| is_local(server.ip())),
        controller: f.state.client_mac.filter(|_| is_local(client.ip())),
        sent: None,
    }
}

impl Analyzer {
    pub(super) fn on_tcp(&mut self, ts: Ts, macs: Macs, s: Segment<'_>) {
        let now = ts.since_epoch();
        let Analyzer {
            flows,
            shared,
            stats,
            ..
        } = self;
        let (flow, dir) =
            match flows.packet(PROTO_TCP, s.src, s.dst, Some(s.flags), s.payload.len(), now) {
                Ok(x) => x,
                Err(_) => return stats.inc(Count::FlowsRefused),
            };
        let mut found = Vec::new();
        if flow.state.decoder.is_none() && !flow.state.unclaimed {
            let probe = Probe {
                src: s.src,
                dst: s.dst,
                payload: s.payload,
                syn: s.flags.syn(),
                mid_stream: flow.initiator_source == InitiatorSource::Assumed && !s.flags.syn(),
                shared,
            };
            match decoders::probe(Transport::Tcp, &probe) {
                Some((reg, Verdict::Match(server_is))) => {
                    if let Decoder::Stream(new) = reg.decoder {
                        let server_dir = match server_is {
                            ServerIs::Dst => dir,
                            ServerIs::Src => dir.reverse(),
                        };
                        if reg.name == decoders::tls_meta::CLOUD_LINK.name {
                            stats.inc(Count::TlsFlows);
                        }
                        let mut dec = new(&probe);
                        flow.state.server_dir = Some(server_dir);
                        note_macs(&mut flow.state, dir == server_dir, macs);
                        let mut cx = Ctx {
                            ts,
                            client: flow.key.src(server_dir),
                            server: flow.key.dst(server_dir),
                            shared,
                            flow: flow_meta(flow, server_dir),
                        };
                        dec.on_start(&mut cx, &mut found);
                        flow.state.decoder = Some((reg.name, dec));
                    }
                }
                Some((_, Verdict::NeedData)) => {}
                _ if !s.payload.is_empty() => flow.state.unclaimed = true,
                _ => {}
            }
        }
        if flow.state.decoder.is_none() {
            return; // not (yet) claimed: not reassembled, not decoded
        }
        // Direction from the decoder's point of view: to the server or back.
        let server_dir = flow.state.server_dir.unwrap_or(flow.initiator_dir);
        let ddir = if dir == server_dir {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        note_macs(&mut flow.state, ddir == Direction::ToServer, macs);
        let meta = flow_meta(flow, server_dir);
        let mut cx = Ctx {
            ts,
            client: flow.key.src(server_dir),
            server: flow.key.dst(server_dir),
            shared,
            flow: meta,
        };
        let Flow { tcp, state, .. } = &mut *flow;
        let Some((_, dec)) = state.decoder.as_mut() else {
            return;
        };
        let held_before = dec.held_bytes();
        let mut on_event = |ev: StreamEvent<'_>| match ev {
            StreamEvent::Data(d) => dec.on_data(&mut cx, ddir, d, &mut found),
            StreamEvent::Gap { len } => dec.on_gap(&mut cx, ddir, len, &mut found),
            _ => {}
        };
        let stream = &mut tcp[dir.index()];
        let before = stream.buffered_bytes();
        stream.push(s.seq, s.flags, s.payload, &mut on_event);
        let mut after = stream.buffered_bytes();
        let others = stats.tcp_buffered.saturating_sub(before);
        if after > 0 && others + after > MAX_TCP_BUFFERED_TOTAL {
            stream.give_up_holes(&mut on_event);
            stats.inc(Count::TcpBudgetFlushes);
            after = stream.buffered_bytes();
        }
        stats.tcp_buffered = others + after;
        let mut held = dec.held_bytes();
        let others = stats.decoder_held.saturating_sub(held_before);
        if held > 0 && others + held > MAX_DECODER_HELD_TOTAL {
            dec.release();
            stats.inc(Count::DecoderBudgetReleases);
            held = dec.held_bytes();
        }
        stats.decoder_held = others + held;
        let latency = pair_latency(&mut state.request_ts, ts, &found);
        let ends = ends_of(flow, server_dir);
        // What this segment completed is anchored at the sequence number
        // past its payload: the same for every observer of the segment.
        let first = self.events.len();
        self.apply(ts, ends, meta, found, &latency);
        let anchor = s.seq.wrapping_add(s.payload.len() as u32);
        for e in self.events.get_mut(first..).unwrap_or_default() {
            e.anchor = Some(anchor);
        }
    }

    /// Expires idle flows (all of them with `Duration::MAX`); their decoders
    /// report the end of the connection (the cloud link's totals). The
    /// events are stamped `at`, the capture time of the frame that triggered
    /// the expiry (or of the last frame, at the end of the input), so events
    /// leave in capture order; the flow's own span is in their `duration`.
    pub(super) fn expire(&mut self, now: Duration, at: Ts) {
        let gone = if now == Duration::MAX {
            let keys: Vec<_> = self.flows.iter().map(|f| f.key).collect();
            keys.into_iter()
                .filter_map(|k| self.flows.remove(&k))
                .collect()
        } else {
            self.flows.expire(now)
        };
        for mut f in gone {
            self.stats.inc(Count::FlowsExpired);
            let held = f.tcp_buffered_bytes();
            self.stats.tcp_buffered = self.stats.tcp_buffered.saturating_sub(held);
            let held = f.state.held_bytes();
            self.stats.decoder_held = self.stats.decoder_held.saturating_sub(held);
            let server_dir = f.state.server_dir.unwrap_or(f.initiator_dir);
            let meta = flow_meta(&f, server_dir);
            let ends = ends_of(&f, server_dir);
            let Some((_, dec)) = f.state.decoder.as_mut() else {
                continue;
            };
            let ts = at;
            let mut found = Vec::new();
            let mut cx = Ctx {
                ts,
                client: ends.client,
                server: ends.server,
                shared: &mut self.shared,
                flow: meta,
            };
            dec.on_close(&mut cx, &mut found);
            self.apply(ts, ends, meta, found, &[]);
        }
    }
}

/// The first MACs seen at each end of a flow are kept (a later frame's may
/// be a relay's).
fn note_macs(st: &mut FlowState, to_server: bool, macs: Macs) {
    let (client, server) = if to_server {
        (macs.src, macs.dst)
    } else {
        (macs.dst, macs.src)
    };
    st.client_mac = st.client_mac.or(client);
    st.server_mac = st.server_mac.or(server);
}

/// Response latency for every paired message of `found`: a request's time
/// is queued (at most [`MAX_PENDING_REQUESTS`]); a response takes the
/// oldest.
fn pair_latency(
    pending: &mut std::collections::VecDeque<Ts>,
    ts: Ts,
    found: &[Finding],
) -> Vec<Option<Duration>> {
    found
        .iter()
        .map(|f| match f {
            Finding::Message(m) if m.paired => match m.kind {
                MessageKind::Request => {
                    if pending.len() < MAX_PENDING_REQUESTS {
                        pending.push_back(ts);
                    }
                    None
                }
                MessageKind::Response => pending
                    .pop_front()
                    .map(|t0| ts.since_epoch().saturating_sub(t0.since_epoch())),
                MessageKind::Notify => None,
            },
            _ => None,
        })
        .collect()
}
