//! Criterion benches of the discovery decoders: `cargo bench --bench
//! discovery`. An mDNS announcement (HomeKit + Matter, 8 records, name
//! compression) read by `wire::dns` alone and decoded into announcements;
//! an eWeLink TXT state decrypted. The reference beside it is
//! python-zeroconf's `DNSIncoming(p).answers()` on the same bytes, timed
//! with `timeit` (about 14 µs per packet on the project's machines).

use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use plugsniff::decoders::ewelink::crypto::{DeviceKey, EwelinkDevice};
use plugsniff::decoders::{Ctx, DecoderConfig, Direction, FlowMeta, Shared, mdns};
use plugsniff::synth::{ewelink as sew, mdns as smd};
use plugsniff::wire::Ts;
use plugsniff::wire::dns::DnsMessage;

fn mdns_benches(c: &mut Criterion) {
    let p = smd::announcement(
        &[
            smd::examples::HOMEKIT_PLUG,
            smd::examples::MATTER_PLUG,
            smd::examples::MATTER_OPERATIONAL,
        ],
        false,
    );
    let mut g = c.benchmark_group("mdns");
    g.throughput(Throughput::Elements(1));
    g.bench_function("wire::dns records", |b| {
        b.iter(|| {
            let m = DnsMessage::new_checked(black_box(&p)).unwrap();
            let mut r = m.reader();
            let mut n = 0;
            while let Ok(rec) = r.record() {
                n += rec.rdata.len();
            }
            black_box(n)
        })
    });
    let mut sh = Shared::new(DecoderConfig::default());
    g.bench_function("decoded to announcements", |b| {
        let mut out = Vec::new();
        b.iter(|| {
            let mut cx = Ctx {
                ts: Ts::default(),
                client: "192.168.0.71:5353".parse().unwrap(),
                server: "224.0.0.251:5353".parse().unwrap(),
                shared: &mut sh,
                flow: FlowMeta::default(),
            };
            out.clear();
            mdns::on_datagram(&mut cx, Direction::ToServer, black_box(&p), &mut out);
            black_box(out.len())
        })
    });
    let state = serde_json::json!({"switch":"on","startup":"off","rssi":-60,"fwVersion":"3.7.0"});
    let ew = sew::announcement(
        [192, 168, 0, 80],
        &sew::txt(
            sew::DEVICE_ID,
            "plug",
            3,
            &state,
            Some((sew::DEVICE_KEY, [5; 16])),
        ),
    );
    let mut sh = Shared::new(DecoderConfig {
        ewelink_devices: vec![EwelinkDevice {
            id: sew::DEVICE_ID.into(),
            label: "ewelink_device #1".into(),
            key: DeviceKey::from_devicekey(sew::DEVICE_KEY),
        }],
        ..Default::default()
    });
    g.bench_function("ewelink TXT decrypted", |b| {
        let mut out = Vec::new();
        b.iter(|| {
            let mut cx = Ctx {
                ts: Ts::default(),
                client: "192.168.0.80:5353".parse().unwrap(),
                server: "224.0.0.251:5353".parse().unwrap(),
                shared: &mut sh,
                flow: FlowMeta::default(),
            };
            out.clear();
            mdns::on_datagram(&mut cx, Direction::ToServer, black_box(&ew), &mut out);
            black_box(out.len())
        })
    });
    g.finish();
}

criterion_group!(benches, mdns_benches);
criterion_main!(benches);
