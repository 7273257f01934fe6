//! Times plugsniff's capture reader (`plugsniff::capture::file::Reader`)
//! against `pcap-parser` 0.17, `pcap-file` 2.0 and libpcap (the `pcap`
//! crate), and first checks that they return the same frames.
//!
//! ```text
//! cargo run --release -- [--runs N] FILE...
//! ```
//!
//! For each file: one correctness pass per reader (every frame's timestamp,
//! lengths, link type and an FNV-1a hash of its bytes, compared with ours),
//! then N rounds in which every reader reads the whole file once, the order
//! rotating each round (page cache warm: a first untimed pass loads it).
//! Prints the median time per reader and its throughput relative to ours.
//! The consumer touches each frame's length and first byte only, so the
//! figures are the readers' own cost.
//!
//! `read-only` is a `read` loop into a reused buffer with no parsing: the
//! copy out of the page cache that mmap would save at best.

use std::borrow::Cow;
use std::fs::File;
use std::io::Read;
use std::time::{Duration, Instant};

use pcap_parser::{PcapBlockOwned, PcapError};
use plugsniff::capture::file::Reader;

/// What a reader says about one frame: (sec, nsec, orig_len, caplen, dlt, hash).
type Digest = (i64, u32, u32, u32, i32, u64);

/// What the timed pass computes (so nothing is optimised away).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Sum {
    frames: u64,
    bytes: u64,
    mix: u64,
}

impl Sum {
    fn add(&mut self, data: &[u8], orig_len: u32) {
        self.frames += 1;
        self.bytes += data.len() as u64;
        self.mix = self
            .mix
            .wrapping_add(u64::from(orig_len))
            .wrapping_add(u64::from(data.first().copied().unwrap_or(0)));
    }
}

fn fnv(b: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for &x in b {
        h = (h ^ u64::from(x)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Interface state the crate readers leave to their caller.
#[derive(Clone, Copy)]
struct Iface {
    dlt: i32,
    units: u64,
    offset: i64,
    snaplen: u32,
}

fn split(units_total: u64, i: &Iface) -> (i64, u32) {
    let sec = (units_total / i.units) as i64 + i.offset;
    let frac = units_total % i.units;
    let nsec = (u128::from(frac) * 1_000_000_000 / u128::from(i.units)) as u32;
    (sec, nsec)
}

fn ours(path: &str, read_size: usize, mut each: impl FnMut(Digest, &[u8])) -> Result<(), String> {
    let f = File::open(path).map_err(|e| e.to_string())?;
    let mut r = Reader::with_read_size(f, read_size).map_err(|e| e.to_string())?;
    while let Some(fr) = r.next_frame().map_err(|e| e.to_string())? {
        let d = (
            fr.ts.sec,
            fr.ts.nsec,
            fr.orig_len,
            fr.data.len() as u32,
            fr.dlt,
            0,
        );
        each(d, fr.data);
    }
    Ok(())
}

fn pcap_parser(path: &str, mut each: impl FnMut(Digest, &[u8])) -> Result<(), String> {
    let f = File::open(path).map_err(|e| e.to_string())?;
    let mut r = pcap_parser::create_reader(1 << 20, f).map_err(|e| format!("{e:?}"))?;
    let mut legacy = (false, 0i32); // (nanos, dlt)
    let mut ifaces: Vec<Iface> = Vec::new();
    loop {
        match r.next() {
            Ok((offset, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        legacy = (h.is_nanosecond_precision(), h.network.0)
                    }
                    PcapBlockOwned::Legacy(b) => {
                        let nsec = if legacy.0 {
                            b.ts_usec
                        } else {
                            b.ts_usec * 1000
                        };
                        let data = &b.data[..(b.caplen as usize).min(b.data.len())];
                        each(
                            (i64::from(b.ts_sec), nsec, b.origlen, b.caplen, legacy.1, 0),
                            data,
                        );
                    }
                    PcapBlockOwned::NG(pcap_parser::Block::SectionHeader(_)) => ifaces.clear(),
                    PcapBlockOwned::NG(pcap_parser::Block::InterfaceDescription(idb)) => {
                        ifaces.push(Iface {
                            dlt: idb.linktype.0,
                            // None for every power of 2: see the module doc of capture::file.
                            units: idb.ts_resolution().unwrap_or(1_000_000),
                            offset: idb.ts_offset(),
                            snaplen: idb.snaplen,
                        })
                    }
                    PcapBlockOwned::NG(pcap_parser::Block::EnhancedPacket(epb)) => {
                        let i = ifaces.get(epb.if_id as usize).ok_or("EPB before its IDB")?;
                        let (sec, nsec) =
                            split((u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low), i);
                        let data = &epb.data[..(epb.caplen as usize).min(epb.data.len())];
                        each((sec, nsec, epb.origlen, epb.caplen, i.dlt, 0), data);
                    }
                    PcapBlockOwned::NG(pcap_parser::Block::SimplePacket(spb)) => {
                        let i = ifaces.first().ok_or("SPB before any IDB")?;
                        let cap = match i.snaplen {
                            0 => spb.origlen,
                            s => spb.origlen.min(s),
                        };
                        let data = &spb.data[..(cap as usize).min(spb.data.len())];
                        each((0, 0, spb.origlen, data.len() as u32, i.dlt, 0), data);
                    }
                    PcapBlockOwned::NG(_) => {}
                }
                r.consume(offset);
            }
            Err(PcapError::Eof) => return Ok(()),
            Err(PcapError::Incomplete(_)) => r.refill().map_err(|e| format!("{e:?}"))?,
            Err(e) => return Err(format!("{e:?}")),
        }
    }
}

fn pcap_file_pcap(path: &str, mut each: impl FnMut(Digest, &[u8])) -> Result<(), String> {
    let f = File::open(path).map_err(|e| e.to_string())?;
    let mut r = pcap_file::pcap::PcapReader::new(f).map_err(|e| e.to_string())?;
    let dlt = u32::from(r.header().datalink) as i32;
    while let Some(p) = r.next_packet() {
        let p = p.map_err(|e| e.to_string())?;
        let d = (
            p.timestamp.as_secs() as i64,
            p.timestamp.subsec_nanos(),
            p.orig_len,
            p.data.len() as u32,
            dlt,
            0,
        );
        each(d, &p.data);
    }
    Ok(())
}

fn pcap_file_ng(path: &str, mut each: impl FnMut(Digest, &[u8])) -> Result<(), String> {
    use pcap_file::pcapng::Block;
    use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption as O;
    let f = File::open(path).map_err(|e| e.to_string())?;
    let mut r = pcap_file::pcapng::PcapNgReader::new(f).map_err(|e| e.to_string())?;
    let mut ifaces: Vec<Iface> = Vec::new();
    while let Some(b) = r.next_block() {
        match b.map_err(|e| e.to_string())? {
            Block::SectionHeader(_) => ifaces.clear(),
            Block::InterfaceDescription(idb) => {
                let mut i = Iface {
                    dlt: u32::from(idb.linktype) as i32,
                    units: 1_000_000,
                    offset: 0,
                    snaplen: idb.snaplen,
                };
                for o in &idb.options {
                    match o {
                        O::IfTsResol(v) if v & 0x80 == 0 => i.units = 10u64.pow(u32::from(*v)),
                        O::IfTsResol(v) => i.units = 1 << (v & 0x7f),
                        O::IfTsOffset(s) => i.offset = *s as i64,
                        _ => {}
                    }
                }
                ifaces.push(i);
            }
            Block::EnhancedPacket(epb) => {
                let i = ifaces
                    .get(epb.interface_id as usize)
                    .ok_or("EPB before its IDB")?;
                // pcap-file 2.0 stores the raw units as nanoseconds whatever
                // if_tsresol says; undo that.
                let raw = epb.timestamp.as_nanos() as u64;
                let (sec, nsec) = split(raw, i);
                let data: &Cow<[u8]> = &epb.data;
                each(
                    (sec, nsec, epb.original_len, data.len() as u32, i.dlt, 0),
                    data,
                );
            }
            Block::SimplePacket(spb) => {
                let i = ifaces.first().ok_or("SPB before any IDB")?;
                each(
                    (0, 0, spb.original_len, spb.data.len() as u32, i.dlt, 0),
                    &spb.data,
                );
            }
            Block::Packet(pb) => {
                let i = ifaces
                    .get(usize::from(pb.interface_id))
                    .ok_or("PB before its IDB")?;
                let (sec, nsec) = split(pb.timestamp, i);
                each(
                    (sec, nsec, pb.original_len, pb.data.len() as u32, i.dlt, 0),
                    &pb.data,
                );
            }
            _ => {}
        }
    }
    Ok(())
}

fn libpcap(path: &str, mut each: impl FnMut(Digest, &[u8])) -> Result<(), String> {
    let mut c = pcap::Capture::from_file_with_precision(path, pcap::Precision::Nano)
        .map_err(|e| e.to_string())?;
    let dlt = c.get_datalink().0;
    loop {
        match c.next_packet() {
            Ok(p) => {
                let d = (
                    p.header.ts.tv_sec,
                    p.header.ts.tv_usec as u32,
                    p.header.len,
                    p.header.caplen,
                    dlt,
                    0,
                );
                each(d, p.data);
            }
            Err(pcap::Error::NoMorePackets) => return Ok(()),
            Err(e) => return Err(e.to_string()),
        }
    }
}

fn read_only(path: &str, mut each: impl FnMut(Digest, &[u8])) -> Result<(), String> {
    let mut f = File::open(path).map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            return Ok(());
        }
        each((0, 0, 0, 0, 0, 0), &buf[..1]);
    }
}

/// The bound for an mmap reader: the file mapped, records walked (pcap
/// record headers or pcapng block lengths, little-endian, one section, EPBs
/// only) with no checks beyond bounds. Not a reader: a ceiling.
fn mmap_walk(path: &str, mut each: impl FnMut(Digest, &[u8])) -> Result<(), String> {
    let f = File::open(path).map_err(|e| e.to_string())?;
    // SAFETY: measurement only; nothing truncates the file while it is mapped.
    #[allow(unsafe_code)]
    let m = unsafe { memmap2::Mmap::map(&f) }.map_err(|e| e.to_string())?;
    let u32_at = |o: usize| u32::from_le_bytes(m[o..o + 4].try_into().unwrap()) as usize;
    let ng = m.get(..4) == Some(&[0x0a, 0x0d, 0x0d, 0x0a][..]);
    let le = if ng {
        m.get(8..12) == Some(&[0x4d, 0x3c, 0x2b, 0x1a][..])
    } else {
        m.get(..4) == Some(&[0xd4, 0xc3, 0xb2, 0xa1][..])
    };
    if !le {
        return Err("the mmap walk reads little-endian µs pcap and pcapng only".into());
    }
    let mut o = if ng { 0 } else { 24 };
    while o + 16 <= m.len() {
        if ng {
            let (t, len) = (u32_at(o), u32_at(o + 4));
            if t == 6 {
                let cap = u32_at(o + 20);
                each(
                    (0, 0, u32_at(o + 24) as u32, 0, 0, 0),
                    &m[o + 28..o + 28 + cap],
                );
            }
            o += len;
        } else {
            let cap = u32_at(o + 8);
            each(
                (0, 0, u32_at(o + 12) as u32, 0, 0, 0),
                &m[o + 16..o + 16 + cap],
            );
            o += 16 + cap;
        }
    }
    Ok(())
}

type Run = fn(&str, &mut dyn FnMut(Digest, &[u8])) -> Result<(), String>;

fn readers(ng: bool) -> Vec<(&'static str, Run)> {
    let mut v: Vec<(&'static str, Run)> = vec![
        ("plugsniff 1 MiB", |p, e| ours(p, 1 << 20, e)),
        ("plugsniff 256 KiB", |p, e| ours(p, 256 << 10, e)),
        ("plugsniff 4 MiB", |p, e| ours(p, 4 << 20, e)),
        ("pcap-parser 0.17", |p, e| pcap_parser(p, e)),
    ];
    if ng {
        v.push(("pcap-file 2.0", |p, e| pcap_file_ng(p, e)));
    } else {
        v.push(("pcap-file 2.0", |p, e| pcap_file_pcap(p, e)));
    }
    v.push(("libpcap (pcap crate)", |p, e| libpcap(p, e)));
    v.push(("mmap walk (ceiling)", |p, e| mmap_walk(p, e)));
    v.push(("read-only 1 MiB", |p, e| read_only(p, e)));
    v
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut runs = 7;
    if args.first().is_some_and(|a| a == "--runs") {
        runs = args.get(1).and_then(|n| n.parse().ok()).expect("--runs N");
        args.drain(..2);
    }
    for path in &args {
        let mut magic = [0u8; 4];
        File::open(path)
            .and_then(|mut f| f.read_exact(&mut magic))
            .expect("open");
        let ng = magic == [0x0a, 0x0d, 0x0d, 0x0a];
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        println!(
            "{path}: {:.1} MB, {}",
            size as f64 / 1e6,
            if ng { "pcapng" } else { "pcap" }
        );
        let rs = readers(ng);
        // Correctness: every reader's frames against ours.
        let mut reference: Vec<Digest> = Vec::new();
        ours(path, 1 << 20, |d, data| {
            reference.push((d.0, d.1, d.2, d.3, d.4, fnv(data)))
        })
        .expect("ours");
        for (name, run) in &rs[1..rs.len() - 2] {
            let mut got: Vec<Digest> = Vec::new();
            let r = run(path, &mut |d, data| {
                got.push((d.0, d.1, d.2, d.3, d.4, fnv(data)))
            });
            let first_diff = reference.iter().zip(&got).position(|(a, b)| a != b);
            match (r, first_diff) {
                (Err(e), _) => println!("  {name}: ERROR {e} after {} frames", got.len()),
                (Ok(()), Some(i)) => println!(
                    "  {name}: DIFFERS at frame {i}: ours {:?} theirs {:?}",
                    reference[i], got[i]
                ),
                (Ok(()), None) if got.len() != reference.len() => {
                    println!("  {name}: {} frames, ours {}", got.len(), reference.len())
                }
                (Ok(()), None) => println!("  {name}: same {} frames", got.len()),
            }
        }
        // Timing, rotating the order each round.
        let mut times: Vec<Vec<Duration>> = vec![Vec::new(); rs.len()];
        let mut sums: Vec<Sum> = vec![Sum::default(); rs.len()];
        for round in 0..runs {
            for k in 0..rs.len() {
                let i = (k + round) % rs.len();
                let mut s = Sum::default();
                let t = Instant::now();
                let r = (rs[i].1)(path, &mut |d, data| s.add(data, d.2));
                times[i].push(t.elapsed());
                if r.is_err() {
                    times[i].clear();
                }
                sums[i] = s;
            }
        }
        let med = |v: &mut Vec<Duration>| {
            v.sort();
            v.get(v.len() / 2).copied()
        };
        let base = med(&mut times[0].clone()).unwrap_or_default().as_secs_f64();
        for (i, (name, _)) in rs.iter().enumerate() {
            match med(&mut times[i]) {
                Some(t) => println!(
                    "  {name:<22} median {:>7.1} ms  {:>6.0} MB/s  ratio to ours {:.2}  ({} frames)",
                    t.as_secs_f64() * 1e3,
                    size as f64 / 1e6 / t.as_secs_f64(),
                    base / t.as_secs_f64(),
                    sums[i].frames
                ),
                None => println!("  {name:<22} failed"),
            }
        }
    }
}
