//! Criterion benches of the hot paths: `cargo bench --bench hot_paths`.
//!
//! CCMP (multi-buffer kernel vs the `ccm` crate) per frame size, PMK (PBKDF2,
//! 4096 iterations), PTK derivation, radiotap + 802.11 parsing, TCP
//! reassembly, the TP-Link XOR decode, and the capture reader over the demo
//! capture in memory (its parsing cost alone; `tools/reader-bench` times it
//! on a file against other readers). `plugsniff bench` is the end-to-end
//! counterpart (see docs/performance.md).

use criterion::{BenchmarkId, Criterion, Throughput, black_box, criterion_group, criterion_main};
use plugsniff::cli::bench::measure::{SizeMix, stream};
use plugsniff::crypto::ccmp::CcmpKey;
use plugsniff::crypto::ccmp_mb::{Backend, MbKey};
use plugsniff::decoders::tplink::xor;
use plugsniff::flows::tcp::{TcpFlags, TcpStream};
use plugsniff::synth::frames::{self, DataOpts, DsDir, Radio};
use plugsniff::wire::MacAddr;
use plugsniff::wire::dot11::Dot11;
use plugsniff::wire::link::{LinkKind, locate_dot11};
use plugsniff::wpa::kdf::{self, PtkKdf};
use plugsniff::wpa::keys::{Cipher, Passphrase};

fn ccmp(c: &mut Criterion) {
    for size in [64usize, 100, 512, 1500] {
        let s = stream(SizeMix::Fixed(size.max(36)), 256 * 1024, 1);
        let mut g = c.benchmark_group(format!("ccmp/{size}B"));
        g.throughput(Throughput::Bytes(s.bytes));
        let ccm: Vec<CcmpKey> = s.stations.iter().map(|st| CcmpKey::new(&st.tk)).collect();
        g.bench_function("ccm crate", |b| {
            let mut out = Vec::with_capacity(2048);
            b.iter(|| {
                for f in &s.frames {
                    let _ = black_box(ccm[f.station].decrypt(&f.mpdu, 26, &mut out));
                }
            })
        });
        let keys: Vec<MbKey> = s.stations.iter().map(|st| MbKey::new(&st.tk)).collect();
        for backend in Backend::available() {
            g.bench_function(BenchmarkId::new("kernel", backend.name()), |b| {
                let mut outs: Vec<Vec<u8>> = (0..64).map(|_| Vec::with_capacity(2048)).collect();
                b.iter(|| {
                    black_box(plugsniff::cli::bench::measure::kernel_pass(
                        &s, &keys, backend, &mut outs,
                    ))
                })
            });
        }
        g.finish();
    }
}

fn kdf_benches(c: &mut Criterion) {
    let pass = Passphrase::new("dictionary".into());
    let mut g = c.benchmark_group("wpa");
    g.sample_size(10);
    g.bench_function("pmk (pbkdf2-sha1, 4096)", |b| {
        b.iter(|| kdf::pmk_from_passphrase(black_box(&pass), b"linksys"))
    });
    let pmk = kdf::pmk_from_passphrase(&pass, b"linksys");
    let (aa, spa) = (MacAddr([0, 1, 2, 3, 4, 5]), MacAddr([6, 7, 8, 9, 10, 11]));
    g.bench_function("ptk (prf-sha1)", |b| {
        b.iter(|| {
            kdf::derive_ptk(
                black_box(&pmk),
                PtkKdf::Sha1Prf,
                &aa,
                &spa,
                &[1; 32],
                &[2; 32],
                Cipher::Ccmp,
            )
        })
    });
    g.finish();
}

fn parsing(c: &mut Criterion) {
    let h = frames::data_header(
        DsDir::ToDs,
        MacAddr([2, 0, 0, 0, 0, 1]),
        MacAddr([2, 0, 0, 0, 0, 2]),
        MacAddr([2, 0, 0, 0, 0, 3]),
        7,
        DataOpts {
            protected: true,
            ..DataOpts::default()
        },
    );
    let mpdu = frames::protect(&[9; 16], &h, 1, 0, &[0u8; 200]);
    let raw = frames::with_radiotap(&Radio::default(), &mpdu);
    c.bench_function("parse/radiotap + 802.11", |b| {
        b.iter(|| {
            let loc = locate_dot11(LinkKind::Radiotap, black_box(&raw)).ok()?;
            let d = Dot11::new_checked(raw.get(loc.start..loc.end)?, loc.data_pad).ok()?;
            Some((d.addr2(), d.header_len(), d.body().len()))
        })
    });
}

fn capture_read(c: &mut Criterion) {
    use plugsniff::capture::file::Reader;
    use plugsniff::output::pcap_out::{Format, encode};
    let ng: &[u8] = include_bytes!("../captures/demo.pcapng");
    let mut frames = Vec::new();
    let mut r = Reader::new(ng).unwrap();
    while let Some(f) = r.next_frame().unwrap() {
        frames.push((f.ts, f.data.to_vec()));
    }
    let pcap = encode(Format::Pcap, 127, &frames);
    let mut g = c.benchmark_group("capture/read demo (148 frames, in memory)");
    for (name, bytes) in [("pcapng", ng), ("pcap", &pcap[..])] {
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut r = Reader::new(black_box(bytes)).unwrap();
                let mut n = 0usize;
                while let Ok(Some(f)) = r.next_frame() {
                    n += f.data.len();
                }
                n
            })
        });
    }
    g.finish();
}

fn tcp(c: &mut Criterion) {
    // 256 segments of 1000 bytes, every other pair swapped (out of order).
    let seg = vec![0x5au8; 1000];
    let mut order: Vec<u32> = (0..256).collect();
    for p in order.chunks_mut(2) {
        p.swap(0, 1);
    }
    let mut g = c.benchmark_group("tcp");
    g.throughput(Throughput::Bytes(256 * 1000));
    g.bench_function("reassembly, 256 × 1000 B, pairs swapped", |b| {
        b.iter(|| {
            let mut s = TcpStream::new();
            let mut n = 0usize;
            s.push(999, TcpFlags(TcpFlags::SYN), &[], |_| {});
            for &i in &order {
                s.push(1000 + i * 1000, TcpFlags(TcpFlags::ACK), &seg, |_| n += 1);
            }
            black_box(n)
        })
    });
    g.finish();
}

fn xor_decode(c: &mut Criterion) {
    let msg = xor::encrypt(br#"{"system":{"get_sysinfo":{"sw_ver":"1.5.6 Build 191125 Rel.083657","hw_ver":"2.0","model":"HS110(EU)","relay_state":1,"rssi":-61}}}"#.repeat(8).as_slice());
    let mut g = c.benchmark_group("tplink");
    g.throughput(Throughput::Bytes(msg.len() as u64));
    g.bench_function("xor decode", |b| {
        let mut buf = msg.clone();
        b.iter(|| {
            buf.copy_from_slice(&msg);
            xor::decrypt_in_place(black_box(&mut buf));
        })
    });
    g.finish();
}

/// A Shelly Gen2 RPC message decoded: over HTTP (`POST /rpc` answer, the
/// connection kept alive) and over WebSocket (a `NotifyStatus` frame), beside
/// the floor of the same work, `serde_json` parsing the JSON alone.
fn shelly_rpc(c: &mut Criterion) {
    use plugsniff::decoders::{
        Ctx, DecoderConfig, Direction, FlowMeta, Shared, StreamDecoder, shelly::conn::ShellyConn,
    };
    use plugsniff::synth::shelly;
    let t = shelly::traffic();
    let http = &t.tcp[2]; // POST /rpc exchanges
    let ws = &t.tcp[3];
    let mut shared = Shared::new(DecoderConfig::default());
    let (client, server) = (http.client, http.server);
    let req = http.segments[0].1.clone();
    let rsp = http.segments[1].1.clone();
    let body_at = rsp.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let rsp_body = rsp[body_at..].to_vec();
    let notify = serde_json::json!({"src":shelly::GEN2_ID,"dst":"ha","method":"NotifyStatus","params":{"ts":1700000050.12,
        "switch:0":{"id":0,"output":true,"apower":41.7,"voltage":230.4,"current":0.215,"aenergy":{"total":1523.407}}}})
    .to_string();
    let frame = plugsniff::decoders::websocket::encode_frame(true, 1, notify.as_bytes(), None);
    let mut g = c.benchmark_group("shelly");
    g.throughput(Throughput::Elements(1));
    let mut out = Vec::new();
    let mut conn = ShellyConn::new(false);
    g.bench_function("rpc over http (request + answer)", |b| {
        b.iter(|| {
            let mut cx = Ctx {
                ts: Default::default(),
                client,
                server,
                shared: &mut shared,
                flow: FlowMeta::default(),
            };
            conn.on_data(&mut cx, Direction::ToServer, black_box(&req), &mut out);
            conn.on_data(&mut cx, Direction::ToClient, black_box(&rsp), &mut out);
            out.clear();
        })
    });
    let mut conn = ShellyConn::new(false);
    {
        let mut cx = Ctx {
            ts: Default::default(),
            client,
            server,
            shared: &mut shared,
            flow: FlowMeta::default(),
        };
        for (d, b) in ws.segments.iter().take(2) {
            conn.on_data(&mut cx, *d, b, &mut out);
        }
        out.clear();
    }
    g.bench_function("NotifyStatus over websocket", |b| {
        b.iter(|| {
            let mut cx = Ctx {
                ts: Default::default(),
                client,
                server,
                shared: &mut shared,
                flow: FlowMeta::default(),
            };
            conn.on_data(&mut cx, Direction::ToClient, black_box(&frame), &mut out);
            out.clear();
        })
    });
    g.bench_function("reference: serde_json parse of the answer body", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(&rsp_body)).unwrap())
    });
    g.bench_function("reference: serde_json parse of the NotifyStatus", |b| {
        b.iter(|| {
            serde_json::from_slice::<serde_json::Value>(black_box(notify.as_bytes())).unwrap()
        })
    });
    g.finish();
}

/// A Tuya stream with the demo plug's key configured, fed the conversation
/// up to (not including) `upto`: the negotiation is done for 3.4/3.5.
fn tuya_stream(
    v: plugsniff::decoders::tuya::codec::Version,
    upto: usize,
) -> (
    plugsniff::decoders::tuya::session::TuyaStream,
    plugsniff::decoders::Shared,
    Vec<plugsniff::synth::tuya::SynthFrame>,
) {
    use plugsniff::decoders::tuya::{crypto::TuyaKey, keys::TuyaDeviceKey, session::TuyaStream};
    use plugsniff::decoders::{DecoderConfig, Shared};
    use plugsniff::synth::tuya::{DEMO_DEVICE_ID, DEMO_LOCAL_KEY, PlugConversation};
    let frames = PlugConversation::demo(v).frames();
    let mut sh = Shared::new(DecoderConfig {
        tuya_devices: vec![TuyaDeviceKey {
            id: DEMO_DEVICE_ID.into(),
            local_key: TuyaKey::from_local_key_str(DEMO_LOCAL_KEY).unwrap(),
            ip: Some([192, 168, 1, 50].into()),
            version: None,
            label: "tuya_device #1".into(),
        }],
        ..DecoderConfig::default()
    });
    let mut s = TuyaStream::new(false);
    let mut out = Vec::new();
    for f in &frames[..upto] {
        tuya_feed(&mut s, &mut sh, f.dir, &f.bytes, &mut out);
    }
    (s, sh, frames)
}

fn tuya_feed(
    s: &mut plugsniff::decoders::tuya::session::TuyaStream,
    sh: &mut plugsniff::decoders::Shared,
    dir: plugsniff::decoders::Direction,
    b: &[u8],
    out: &mut Vec<plugsniff::decoders::Finding>,
) {
    use plugsniff::decoders::{Ctx, FlowMeta, StreamDecoder};
    let mut cx = Ctx {
        ts: plugsniff::wire::Ts::default(),
        client: ([192, 168, 1, 23], 50123).into(),
        server: ([192, 168, 1, 50], 6668).into(),
        shared: sh,
        flow: FlowMeta::default(),
    };
    s.on_data(&mut cx, dir, b, out);
}

fn tuya(c: &mut Criterion) {
    use plugsniff::decoders::tuya::codec::Version;
    use plugsniff::decoders::tuya::command::Command;
    use plugsniff::decoders::tuya::crypto::{self, TuyaKey};
    use plugsniff::decoders::tuya::frame::Frame;
    use plugsniff::synth::tuya::{DEMO_LOCAL_KEY, PlugConversation};
    let mut g = c.benchmark_group("tuya");
    g.throughput(Throughput::Elements(1));
    for v in [Version::V35, Version::V33] {
        // The STATUS push with the power readings (after the negotiation).
        let (s0, sh0, frames) = tuya_stream(v, 0);
        drop((s0, sh0));
        let at = frames
            .iter()
            .position(|f| f.cmd == Command::STATUS && f.payload.windows(4).any(|w| w == b"\"19\""))
            .unwrap();
        let (mut s, mut sh, frames) = tuya_stream(v, at);
        let push = frames[at].clone();
        g.bench_function(
            format!("{} status push: frame, decrypt, JSON, dps", v.as_str()),
            |b| {
                let mut out = Vec::with_capacity(8);
                b.iter(|| {
                    out.clear();
                    tuya_feed(&mut s, &mut sh, push.dir, black_box(&push.bytes), &mut out);
                    black_box(out.len())
                })
            },
        );
        // Reference: the bare cipher over the same bytes.
        let f = Frame::parse(&push.bytes).unwrap();
        if v == Version::V35 {
            let sk = PlugConversation::demo(v).session_key().unwrap();
            let parts = f.gcm_parts().unwrap();
            g.bench_function("3.5 reference: aes-gcm open only", |b| {
                b.iter(|| black_box(parts.open(black_box(&sk)).unwrap().len()))
            });
        } else {
            let k = TuyaKey::from_local_key_str(DEMO_LOCAL_KEY).unwrap();
            let ct = &f.crc_body()[4 + 15..];
            g.bench_function("3.3 reference: aes-ecb decrypt only", |b| {
                b.iter(|| black_box(crypto::ecb_decrypt(&k, black_box(ct)).unwrap().len()))
            });
        }
    }
    g.finish();
}

criterion_group!(
    benches,
    ccmp,
    kdf_benches,
    parsing,
    tcp,
    xor_decode,
    shelly_rpc,
    capture_read,
    tuya
);
criterion_main!(benches);
