//! Floods through the whole watch pipeline (radiotap → engine → flows →
//! decoders), with the demo capture's real traffic interleaved:
//!
//! - 100 000 fake stations: EAPOL M1s to random station MACs;
//! - endless M1s for one real station (the phone), fresh ANonce each time;
//! - 100 000 flows: TCP SYNs to new ports;
//! - a SYN flood on the plug's port 9999 from spoofed addresses;
//! - giant TP-Link length prefixes (64 KiB declared, a few bytes sent).
//!
//! Bounded and fast: the frames are made on the fly. Asserts peak RSS
//! (`VmHWM`) under 256 MB, that every cap's evictions and refusals are
//! counted, and that the real traffic is still decrypted and decoded.
//! The caps are in docs/ARCHITECTURE.md ("Limits").

mod common;

use plugsniff::synth::frames::{self as sf, DataOpts, Radio, Security};
use plugsniff::watch::{WatchOptions, Watcher};
use plugsniff::wire::MacAddr;
use plugsniff::wire::Ts;
use plugsniff::wire::link::LinkKind;

const FAKE_STATIONS: u32 = 100_000;
const ONE_STATION_M1S: u32 = 30_000;
const NEW_PORT_FLOWS: u32 = 100_000;
const SYN_FLOOD: u32 = 50_000;
const GIANT_PREFIXES: u32 = 2_000;
const PEAK_RSS_LIMIT_KB: u64 = 256 * 1024;

// The demo's cast (captures/README.md).
const BSSID: MacAddr = MacAddr([0x50, 0xc7, 0xbf, 0x0a, 0x11, 0x01]);
const PHONE: MacAddr = MacAddr([0xa6, 0x0c, 0x4f, 0x2d, 0x91, 0x7e]);
const PLUG1: MacAddr = MacAddr([0x1c, 0x3b, 0xf3, 0x6e, 0xa8, 0x12]);
const PLUG1_IP: [u8; 4] = [192, 168, 0, 41];

/// xorshift64*: deterministic.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn mac(&mut self) -> MacAddr {
        let mut m = self.next().to_le_bytes();
        m[0] = (m[0] & 0xfc) | 0x02; // unicast, locally administered
        MacAddr(m[..6].try_into().unwrap())
    }
    fn nonce(&mut self) -> [u8; 32] {
        let mut n = [0u8; 32];
        for c in n.chunks_mut(8) {
            c.copy_from_slice(&self.next().to_le_bytes());
        }
        n
    }
}

#[derive(Clone, Copy)]
enum Attack {
    FakeStationM1,
    OneStationM1,
    NewPortSyn,
    SynFlood,
    /// SYN, then the 4-byte prefix and a few body bytes.
    GiantPrefix,
}

fn flood_schedule(rng: &mut Rng) -> Vec<(Attack, u32)> {
    let mut v = Vec::new();
    v.extend((0..FAKE_STATIONS).map(|i| (Attack::FakeStationM1, i)));
    v.extend((0..ONE_STATION_M1S).map(|i| (Attack::OneStationM1, i)));
    v.extend((0..NEW_PORT_FLOWS).map(|i| (Attack::NewPortSyn, i)));
    v.extend((0..SYN_FLOOD).map(|i| (Attack::SynFlood, i)));
    v.extend((0..GIANT_PREFIXES).map(|i| (Attack::GiantPrefix, i)));
    // Fisher–Yates.
    for i in (1..v.len()).rev() {
        let j = (rng.next() % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
    v
}

/// An unprotected data frame from `sta` to the AP (ToDS) or back, in radiotap.
fn data_frame(to_ds: bool, sta: MacAddr, da: MacAddr, llc: &[u8]) -> Vec<u8> {
    let mut f = if to_ds {
        sf::data_header(sf::DsDir::ToDs, BSSID, sta, da, 0, DataOpts::default())
    } else {
        sf::data_header(sf::DsDir::FromDs, sta, BSSID, BSSID, 0, DataOpts::default())
    };
    f.extend_from_slice(llc);
    sf::with_radiotap(&Radio::default(), &f)
}

fn syn(src: ([u8; 4], u16), dst: ([u8; 4], u16), seq: u32, payload: &[u8]) -> Vec<u8> {
    let flags = sf::SegFlags {
        syn: payload.is_empty(),
        ack: !payload.is_empty(),
        ..Default::default()
    };
    sf::llc_snap(
        0x0800,
        &sf::ipv4_tcp(src, dst, 64, seq, 1, 65535, flags, payload),
    )
}

fn frames_for(item: (Attack, u32), rng: &mut Rng, out: &mut Vec<Vec<u8>>) {
    let (kind, i) = item;
    match kind {
        Attack::FakeStationM1 => {
            let m1 = sf::m1(Security::default(), u64::from(i), rng.nonce());
            out.push(data_frame(
                false,
                rng.mac(),
                BSSID,
                &sf::llc_snap(0x888e, &m1),
            ));
        }
        Attack::OneStationM1 => {
            let m1 = sf::m1(Security::default(), 1_000 + u64::from(i), rng.nonce());
            out.push(data_frame(false, PHONE, BSSID, &sf::llc_snap(0x888e, &m1)));
        }
        Attack::NewPortSyn => {
            let src = ([192, 168, 0, 200], 40_000);
            let dst = ([10, 1, (i >> 16) as u8, 1], (i & 0xffff) as u16);
            out.push(data_frame(
                true,
                MacAddr([2; 6]),
                PLUG1,
                &syn(src, dst, i, b""),
            ));
        }
        Attack::SynFlood => {
            let r = rng.next();
            let src = (
                [100, (r >> 8) as u8, (r >> 16) as u8, r as u8],
                (r >> 24) as u16,
            );
            out.push(data_frame(
                true,
                rng.mac(),
                PLUG1,
                &syn(src, (PLUG1_IP, 9999), r as u32, b""),
            ));
        }
        Attack::GiantPrefix => {
            let src = ([192, 168, 0, 201], 20_000 + (i as u16));
            let dst = (PLUG1_IP, 9999);
            out.push(data_frame(
                true,
                MacAddr([4; 6]),
                PLUG1,
                &syn(src, dst, i, b""),
            ));
            // 64 KiB declared (the most the framer accepts), 12 bytes sent.
            let mut p = (64u32 * 1024).to_be_bytes().to_vec();
            p.extend_from_slice(&plugsniff::decoders::tplink::xor::encrypt(b"{\"system\":{"));
            out.push(data_frame(
                true,
                MacAddr([4; 6]),
                PLUG1,
                &syn(src, dst, i.wrapping_add(1), &p),
            ));
        }
    }
}

fn peak_rss_kb() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let l = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    l.split_whitespace().nth(1)?.parse().ok()
}

fn demo() -> (LinkKind, Vec<(Ts, u32, Vec<u8>)>) {
    common::read_all(
        &std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("captures/demo.pcapng"),
    )
}

fn watcher() -> Watcher {
    Watcher::new(
        vec![common::passphrase(
            Some("plugsniff-demo"),
            "correct horse battery",
        )],
        WatchOptions::default(),
    )
}

#[test]
fn floods_stay_bounded_counted_and_real_traffic_decodes() {
    let started = std::time::Instant::now();
    let (kind, demo) = demo();

    // Baseline: the demo alone.
    let mut base = watcher();
    for (ts, len, f) in &demo {
        base.process_80211(*ts, kind, f, *len);
    }
    base.finish();
    let base_events: Vec<_> = base.drain_events().collect();

    // The flood, with the demo's frames spread evenly through it.
    let mut rng = Rng(0x5eed_f100d);
    let schedule = flood_schedule(&mut rng);
    let per_demo_frame = schedule.len() / demo.len() + 1;
    let mut w = watcher();
    let mut events = Vec::new();
    let mut buf = Vec::new();
    let mut flood_frames = 0u64;
    for (n, (ts, len, f)) in demo.iter().enumerate() {
        for item in schedule
            .iter()
            .skip(n * per_demo_frame)
            .take(per_demo_frame)
        {
            frames_for(*item, &mut rng, &mut buf);
            for ff in buf.drain(..) {
                w.process_80211(*ts, kind, &ff, ff.len() as u32);
                flood_frames += 1;
            }
            events.extend(w.drain_events());
        }
        w.process_80211(*ts, kind, f, *len);
        events.extend(w.drain_events());
    }
    // The per-segment gauge of buffered TCP bytes agrees with a recount.
    assert_eq!(w.an.stats.tcp_buffered, w.tcp_buffered_recount());
    assert!(w.an.stats.tcp_buffered <= plugsniff::watch::MAX_TCP_BUFFERED_TOTAL);
    assert_eq!(w.an.stats.decoder_held, w.decoder_held_recount());
    assert!(w.an.stats.decoder_held <= plugsniff::watch::MAX_DECODER_HELD_TOTAL);
    w.finish();
    events.extend(w.drain_events());
    let peak = peak_rss_kb();
    let elapsed = started.elapsed();
    let fs = w.flow_stats();
    eprintln!(
        "flood: {flood_frames} frames + {} demo frames in {elapsed:.2?}; peak RSS {} kB; \
         stations evicted {}; flows created {}, evicted before payload {}, refused {}; \
         watch {:?}",
        demo.len(),
        peak.unwrap_or(0),
        w.engine.tracker.evicted_stations,
        fs.created,
        fs.evicted_no_payload,
        fs.refused_full,
        w.an.stats,
    );

    // Memory: under the documented bound.
    if let Some(kb) = peak {
        assert!(kb < PEAK_RSS_LIMIT_KB, "peak RSS {kb} kB");
    }
    // Every cap that was hit is counted.
    assert!(w.engine.counters.balanced(), "{:?}", w.engine.counters);
    let stations = w.engine.tracker.stations().count();
    assert!(stations <= plugsniff::wpa::handshake::MAX_STATIONS);
    assert!(
        w.engine.tracker.evicted_stations
            >= u64::from(FAKE_STATIONS) - plugsniff::wpa::handshake::MAX_STATIONS as u64,
        "{}",
        w.engine.tracker.evicted_stations
    );
    assert!(w.flow_count() <= plugsniff::watch::MAX_FLOWS);
    // 150 000 half-open flows through a 65 536-flow table: the oldest
    // payload-less ones made room; the few thousand flows that carried
    // payload (giant prefixes, the demo) never filled it, so none refused.
    assert!(
        fs.evicted_no_payload
            >= u64::from(NEW_PORT_FLOWS + SYN_FLOOD) - plugsniff::watch::MAX_FLOWS as u64,
        "{fs:?}"
    );
    assert_eq!(fs.refused_full, 0, "{fs:?}");
    assert_eq!(
        w.an.stats
            .get(plugsniff::report::counters::Count::FlowsRefused),
        fs.refused_full
    );
    assert!(w.engine.stations.len() <= plugsniff::engine::MAX_STATION_STATS);

    // Real traffic: all three stations' keys confirmed and every frame the
    // baseline decrypted is decrypted again.
    assert_eq!(
        w.engine.counters.decrypted, base.engine.counters.decrypted,
        "{:?}",
        w.engine.counters
    );
    // Every TP-Link message the demo alone yields (TCP 9999, UDP 9999) is
    // still decoded, and the cloud password is still found (masked).
    let msgs = |ev: &[plugsniff::report::event::Event]| {
        ev.iter()
            .filter_map(|e| match &e.body {
                plugsniff::report::event::EventBody::Message(m) => {
                    Some(serde_json::to_string(&m.json).unwrap())
                }
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let (base_msgs, flood_msgs) = (msgs(&base_events), msgs(&events));
    assert!(base_msgs.len() >= 10, "{}", base_msgs.len());
    for m in &base_msgs {
        assert!(flood_msgs.contains(m), "not decoded under flood: {m}");
    }
    assert_eq!(
        w.an.stats
            .get(plugsniff::report::counters::Count::CredentialLeaks),
        base.an
            .stats
            .get(plugsniff::report::counters::Count::CredentialLeaks)
    );
    // Nothing new: the giant prefixes never completed a message. Under the
    // flood the AP's relayed copies of station-to-station traffic can come
    // out twice: the relay filter (`RelayFilter::CAPACITY`, 256 recent
    // MSDUs) is flushed by the flood's own frames. Duplicates, not losses.
    for m in &flood_msgs {
        assert!(base_msgs.contains(m), "message not in the demo: {m}");
    }
    eprintln!(
        "relay duplicates recognised: demo alone {}, under flood {}",
        base.an
            .stats
            .get(plugsniff::report::counters::Count::RelayedDuplicates),
        w.an.stats
            .get(plugsniff::report::counters::Count::RelayedDuplicates)
    );
    assert!(
        elapsed.as_secs() < 60,
        "flood took {elapsed:?}: the test must stay fast"
    );
}
