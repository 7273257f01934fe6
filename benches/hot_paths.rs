//! Criterion benches of the hot paths: `cargo bench --bench hot_paths`.
//!
//! CCMP (multi-buffer kernel vs the `ccm` crate) per frame size, PMK (PBKDF2,
//! 4096 iterations), PTK derivation, radiotap + 802.11 parsing, TCP
//! reassembly and the TP-Link XOR decode. `plugsniff bench` is the end-to-end
//! counterpart (see docs/performance.md).

use criterion::{BenchmarkId, Criterion, Throughput, black_box, criterion_group, criterion_main};
use plugsniff::bench::{SizeMix, stream};
use plugsniff::capture::link::{LinkKind, locate_dot11};
use plugsniff::ccmp::CcmpKey;
use plugsniff::ccmp_mb::{Backend, MbKey};
use plugsniff::decoders::tplink::xor;
use plugsniff::flows::tcp::{TcpFlags, TcpStream};
use plugsniff::synth::frames::{self, DataOpts, Dir, Radio};
use plugsniff::wire::MacAddr;
use plugsniff::wire::dot11::Dot11;
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
                b.iter(|| black_box(plugsniff::bench::kernel_pass(&s, &keys, backend, &mut outs)))
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
        Dir::ToDs,
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

criterion_group!(benches, ccmp, kdf_benches, parsing, tcp, xor_decode);
criterion_main!(benches);
