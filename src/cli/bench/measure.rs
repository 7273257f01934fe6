//! `plugsniff bench`: decryption throughput, with its references measured in
//! the same run.
//!
//! The workload is a deterministic, realistic CCMP stream built in memory with
//! [`crate::synth`]: the demo network's handshakes (so the keys are the ones a
//! capture would give), then QoS data frames between the AP and its seven
//! stations in both directions (seven pairwise keys), plaintext sizes
//! 60 % 1500 B, 25 % 64–300 B, 15 % 500–1000 B (LLC/SNAP + IPv4 + UDP).
//! Throughput counts MPDU bytes (MAC header to MIC).
//!
//! Measured, each for about the same wall time: the multi-buffer kernel
//! ([`crate::crypto::ccmp_mb`], every backend this CPU has) on one core; the kernel on
//! 1..N threads; the `ccm` crate frame by frame (the reference: every ratio is
//! against it); OpenSSL's AES-128-CCM frame by frame with `--features openssl`;
//! the whole pipeline (capture → workers → engine) on a pcap of the stream,
//! 1..N workers. The other ciphers (CCMP-256, GCMP-128, GCMP-256: RustCrypto's
//! `ccm` and `aes-gcm`, frame by frame as the engine and workers run them,
//! key schedule per frame) on the same plaintexts re-encrypted
//! ([`ciphers_group`]), against CCMP-128 run the same way. Timing lives here
//! only, never in tests.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::capture::FileSource;
use crate::crypto::ccmp::{self, CcmpError, CcmpHdr, CcmpKey};
use crate::crypto::ccmp_mb::{self, Backend, Job, MbKey};
use crate::engine::{Engine, NullSink};
use crate::output::pcap_out::{LINKTYPE_IEEE802_11_RADIOTAP, PcapWriter};
use crate::pipeline::{self, Frame, Limits, Ordered, Progress, Source, StopHandle};
use crate::synth::frames::{self, DataOpts, DsDir, Radio};
use crate::synth::scenario::{self, Rng, Scenario};
use crate::wire::MacAddr;
use crate::wire::Ts;
use crate::wire::llc::ethertype;
use crate::wpa::handshake::NetworkSecret;
use crate::wpa::keys::Cipher;
use crate::wpa::keystore::KeyEntry;

/// Frames handed to the kernel at once (the pipeline's batch size).
pub const BATCH: usize = pipeline::BATCH_FRAMES;

/// How the plaintext sizes of the stream are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SizeMix {
    /// 60 % 1500 B, 25 % 64–300 B, 15 % 500–1000 B.
    Realistic,
    /// Every frame this many plaintext bytes.
    Fixed(usize),
}

/// One station's pairwise key and addresses.
#[derive(Clone)]
pub struct Station {
    pub ap: MacAddr,
    pub sta: MacAddr,
    pub tk: [u8; 16],
}

/// A generated stream: the synthetic capture's opening (beacons, handshakes,
/// demo traffic, radiotap frames) and a generator of bulk CCMP data frames.
pub struct StreamGen {
    pub prelude: Vec<(Ts, Vec<u8>)>,
    pub stations: Vec<Station>,
    pub ssid: String,
    pub passphrase: String,
    pub secret: NetworkSecret,
    rng: Rng,
    mix: SizeMix,
    pn: Vec<[u64; 2]>,
    /// Sequence numbers per station and direction, as a radio numbers QoS
    /// data (per transmitter, receiver and TID; IEEE 802.11-2020 10.3.2.14):
    /// one shared counter would show every link gaps that read as missed frames.
    seq: Vec<[u16; 2]>,
    t: u64,
}

/// One MPDU of the bulk stream (no radiotap, hdr_len 26).
pub struct BulkFrame {
    pub station: usize,
    pub mpdu: Vec<u8>,
}

impl StreamGen {
    /// The demo scenario's capture, run through an engine to learn the keys
    /// its handshakes confirm; the bulk frames use those keys.
    pub fn new(mix: SizeMix, seed: u64) -> StreamGen {
        let sc = Scenario::default();
        let cap = scenario::build(&sc);
        let mut e = Engine::new(vec![sc.secret()]);
        for (ts, f) in &cap.frames {
            e.process(
                *ts,
                crate::wire::link::LinkKind::Radiotap,
                f,
                f.len() as u32,
                &mut NullSink,
            );
        }
        let stations: Vec<Station> = e
            .keys
            .history()
            .iter()
            .filter_map(|k: &Arc<KeyEntry>| {
                let sta = k.sta?;
                (k.tk.cipher == Cipher::Ccmp).then(|| Station {
                    ap: k.bssid,
                    sta,
                    tk: *k.tk.key16(),
                })
            })
            .collect();
        let last = cap.frames.last().map_or(Ts::default(), |f| f.0);
        StreamGen {
            prelude: cap.frames,
            pn: vec![[1 << 24; 2]; stations.len()],
            seq: vec![[0; 2]; stations.len()],
            stations,
            ssid: sc.ssid.clone(),
            passphrase: sc.passphrase.clone(),
            secret: sc.secret(),
            rng: Rng::new(seed),
            mix,
            t: last.sec as u64 * 1_000_000 + u64::from(last.usec()) + 100_000,
        }
    }

    fn size(&mut self) -> usize {
        match self.mix {
            SizeMix::Fixed(n) => n,
            SizeMix::Realistic => match self.rng.range(0, 100) {
                0..60 => 1500,
                60..85 => self.rng.range(64, 301) as usize,
                _ => self.rng.range(500, 1001) as usize,
            },
        }
    }

    /// The next bulk frame and its capture timestamp.
    pub fn next_frame(&mut self) -> (Ts, BulkFrame) {
        let n = self.stations.len().max(1);
        let s = self.rng.range(0, n as u64) as usize % n;
        let down = self.rng.range(0, 2) == 1;
        let size = self.size().max(36);
        let st = self.stations[s].clone();
        let (dir, a1, a2, a3) = if down {
            (
                DsDir::FromDs,
                st.sta,
                st.ap,
                MacAddr([0x02, 0, 0, 0, 0, 0x01]),
            )
        } else {
            (
                DsDir::ToDs,
                st.ap,
                st.sta,
                MacAddr([0x02, 0, 0, 0, 0, 0x01]),
            )
        };
        let seq = &mut self.seq[s][usize::from(down)];
        *seq = (*seq + 1) & 0x0fff;
        let seq = *seq;
        let h = frames::data_header(
            dir,
            a1,
            a2,
            a3,
            seq,
            DataOpts {
                protected: true,
                ..DataOpts::default()
            },
        );
        let mut payload = vec![0u8; size - 36];
        self.rng.fill(&mut payload);
        let ip = frames::ipv4_udp(
            [192, 168, 0, 10],
            [192, 168, 0, 20],
            64,
            5000,
            6000,
            &payload,
        );
        let llc = frames::llc_snap(ethertype::IPV4, &ip);
        let pn = &mut self.pn[s][usize::from(down)];
        *pn += 1;
        let mpdu = ccmp::encrypt(&st.tk, &h, *pn, 0, &llc);
        self.t += 150;
        let ts = Ts::from_micros((self.t / 1_000_000) as i64, (self.t % 1_000_000) as u32);
        (ts, BulkFrame { station: s, mpdu })
    }
}

/// A stream held in memory for the kernel measurements.
pub struct Stream {
    pub stations: Vec<Station>,
    pub frames: Vec<BulkFrame>,
    /// Sum of the MPDU lengths.
    pub bytes: u64,
}

/// About `bytes` bytes of bulk frames.
pub fn stream(mix: SizeMix, bytes: u64, seed: u64) -> Stream {
    let mut g = StreamGen::new(mix, seed);
    let mut frames = Vec::new();
    let mut total = 0u64;
    while total < bytes {
        let (_, f) = g.next_frame();
        total += f.mpdu.len() as u64;
        frames.push(f);
    }
    Stream {
        stations: g.stations,
        frames,
        bytes: total,
    }
}

/// Writes the generated capture (prelude with the handshakes, then bulk
/// frames until the file holds about `bytes` bytes) as a radiotap pcap.
/// Returns the number of frames written.
pub fn write_pcap(path: &Path, bytes: u64, seed: u64) -> std::io::Result<u64> {
    let mut g = StreamGen::new(SizeMix::Realistic, seed);
    let mut w = PcapWriter::create(path, LINKTYPE_IEEE802_11_RADIOTAP)?;
    let mut written = 24u64;
    let mut n = 0u64;
    for (ts, f) in &g.prelude {
        w.write(*ts, f)?;
        written += 16 + f.len() as u64;
        n += 1;
    }
    let radio = Radio::default();
    while written < bytes {
        let (ts, f) = g.next_frame();
        let rt = frames::with_radiotap(&radio, &f.mpdu);
        w.write(ts, &rt)?;
        written += 16 + rt.len() as u64;
        n += 1;
    }
    w.finish()?;
    Ok(n)
}

/// One measured line.
#[derive(Debug, Clone, Serialize)]
pub struct Measure {
    pub name: String,
    pub frames: u64,
    pub bytes: u64,
    pub seconds: f64,
    pub frames_per_s: f64,
    pub gbit_per_s: f64,
    /// Throughput over the reference of its group (the `ccm` crate).
    pub ratio: f64,
}

impl Measure {
    fn new(name: impl Into<String>, frames: u64, bytes: u64, d: Duration) -> Measure {
        let s = d.as_secs_f64().max(1e-9);
        Measure {
            name: name.into(),
            frames,
            bytes,
            seconds: s,
            frames_per_s: frames as f64 / s,
            gbit_per_s: bytes as f64 * 8.0 / s / 1e9,
            ratio: 1.0,
        }
    }
}

/// A group of measurements on one workload, ratios against its first line.
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    pub workload: String,
    pub measures: Vec<Measure>,
}

impl Group {
    fn finish(mut self) -> Group {
        let base = self.measures.first().map_or(1.0, |m| m.gbit_per_s);
        for m in &mut self.measures {
            m.ratio = if base > 0.0 { m.gbit_per_s / base } else { 0.0 };
        }
        self
    }

    pub fn to_text(&self) -> String {
        let mut s = format!("{}\n", self.workload);
        for m in &self.measures {
            s += &format!(
                "  {:<34} {:>11.0} frames/s {:>7.2} Gbit/s  {:>6.2}×\n",
                m.name, m.frames_per_s, m.gbit_per_s, m.ratio
            );
        }
        s
    }
}

/// Runs `f` (which processes the whole stream once and returns frames and
/// bytes) until `min` has passed; at least once.
fn timed(min: Duration, mut f: impl FnMut() -> (u64, u64)) -> (u64, u64, Duration) {
    let start = Instant::now();
    let (mut n, mut b) = (0, 0);
    loop {
        let (fn_, fb) = f();
        n += fn_;
        b += fb;
        if start.elapsed() >= min {
            return (n, b, start.elapsed());
        }
    }
}

/// One pass of the kernel over the stream, in batches of [`BATCH`] frames
/// (`outs` holds at least [`BATCH`] buffers); returns how many verified.
pub fn kernel_pass(s: &Stream, keys: &[MbKey], backend: Backend, outs: &mut [Vec<u8>]) -> u64 {
    let mut res: Vec<Result<CcmpHdr, CcmpError>> = vec![Err(CcmpError::TooShort); BATCH];
    let mut ok = 0;
    for chunk in s.frames.chunks(BATCH) {
        let mut jobs: Vec<Job<'_>> = chunk
            .iter()
            .zip(outs.iter_mut())
            .map(|(f, out)| Job {
                key: &keys[f.station],
                frame: &f.mpdu,
                hdr_len: 26,
                keep: 0,
                out,
            })
            .collect();
        ccmp_mb::decrypt_batch_with(backend, &mut jobs, &mut res);
        ok += res[..chunk.len()].iter().filter(|r| r.is_ok()).count() as u64;
    }
    ok
}

/// Every line for one workload: ccm (reference), OpenSSL, kernel backends.
pub fn crypto_group(s: &Stream, workload: &str, min: Duration) -> Group {
    let n = s.frames.len() as u64;
    let mut g = Group {
        workload: format!(
            "{workload}: {} frames, {:.1} MB, {} keys",
            n,
            s.bytes as f64 / 1e6,
            s.stations.len()
        ),
        measures: Vec::new(),
    };
    let ccm: Vec<CcmpKey> = s.stations.iter().map(|st| CcmpKey::new(&st.tk)).collect();
    let mut out = Vec::with_capacity(2048);
    let (f, b, d) = timed(min, || {
        let mut ok = 0;
        for fr in &s.frames {
            ok += u64::from(ccm[fr.station].decrypt(&fr.mpdu, 26, &mut out).is_ok());
        }
        assert_eq!(ok, n, "ccm crate: every frame verifies");
        (n, s.bytes)
    });
    g.measures
        .push(Measure::new("ccm crate, per frame, 1 core", f, b, d));
    #[cfg(feature = "openssl")]
    {
        // One context per key, its key schedule expanded once (as the `ccm`
        // row does): per frame only the nonce, tag and lengths are set.
        let ctxs: Option<Vec<openssl_ccm::KeyedCtx>> = s
            .stations
            .iter()
            .map(|st| openssl_ccm::KeyedCtx::new(&st.tk).ok())
            .collect();
        if let Some(mut ctxs) = ctxs {
            let (f, b, d) = timed(min, || {
                let mut ok = 0;
                for fr in &s.frames {
                    ok += u64::from(ctxs[fr.station].decrypt(&fr.mpdu, &mut out));
                }
                assert_eq!(ok, n, "OpenSSL: every frame verifies");
                (n, s.bytes)
            });
            // OpenSSL is the reference of the group when it is built in.
            g.measures
                .insert(0, Measure::new("OpenSSL AES-128-CCM, per frame", f, b, d));
        }
    }
    let keys: Vec<MbKey> = s.stations.iter().map(|st| MbKey::new(&st.tk)).collect();
    let mut outs: Vec<Vec<u8>> = (0..BATCH).map(|_| Vec::with_capacity(2048)).collect();
    for backend in Backend::available() {
        if backend == Backend::Portable {
            continue;
        }
        let (f, b, d) = timed(min, || {
            let ok = kernel_pass(s, &keys, backend, &mut outs);
            assert_eq!(ok, n, "kernel: every frame verifies");
            (n, s.bytes)
        });
        g.measures.push(Measure::new(
            format!("kernel {}, 1 core", backend.name()),
            f,
            b,
            d,
        ));
    }
    g.finish()
}

/// The ciphers other than CCMP-128 (which has the kernel) frame by frame, as
/// `engine::cipher::decrypt` runs them for the engine and the workers (key
/// schedule per frame), on the stream's plaintexts re-encrypted under each;
/// the reference is CCMP-128 run the same way.
pub fn ciphers_group(s: &Stream, min: Duration) -> Group {
    use crate::crypto::gcmp;
    use crate::wpa::keys::TemporalKey;
    let n = s.frames.len() as u64;
    let mut g = Group {
        workload: format!(
            "per-frame ciphers, key schedule per frame (engine/worker path): {} frames, {:.1} MB of CCMP-128 MPDUs",
            n,
            s.bytes as f64 / 1e6
        ),
        measures: Vec::new(),
    };
    // The plaintexts, then the same MPDUs under each cipher.
    let mut plain = Vec::new();
    let pts: Vec<Vec<u8>> = s
        .frames
        .iter()
        .map(|f| {
            let _ = ccmp::decrypt(&s.stations[f.station].tk, &f.mpdu, 26, &mut plain);
            plain.clone()
        })
        .collect();
    let key32 = |tk: &[u8; 16]| {
        let mut k = [0u8; 32];
        k[..16].copy_from_slice(tk);
        k[16..].copy_from_slice(tk);
        k
    };
    for c in [Cipher::Ccmp, Cipher::Ccmp256, Cipher::Gcmp, Cipher::Gcmp256] {
        let keys: Vec<TemporalKey> = s
            .stations
            .iter()
            .map(|st| TemporalKey::new(c, &key32(&st.tk)).expect("32 bytes"))
            .collect();
        let mpdus: Vec<Vec<u8>> = s
            .frames
            .iter()
            .zip(&pts)
            .enumerate()
            .map(|(i, (f, pt))| {
                let k = keys[f.station].as_slice();
                let h = &f.mpdu[..26];
                match c {
                    Cipher::Ccmp => f.mpdu.clone(),
                    Cipher::Ccmp256 => {
                        ccmp::encrypt_256(k.try_into().expect("32"), h, i as u64 + 1, 0, pt)
                    }
                    _ => gcmp::encrypt(k, h, i as u64 + 1, 0, pt),
                }
            })
            .collect();
        let bytes: u64 = mpdus.iter().map(|m| m.len() as u64).sum();
        let (f, b, d) = timed(min, || {
            let mut ok = 0;
            for (fr, m) in s.frames.iter().zip(&mpdus) {
                let k = &keys[fr.station];
                ok += u64::from(
                    crate::engine::cipher::decrypt(k, MacAddr::default(), m, 26, &mut plain)
                        .is_ok(),
                );
            }
            assert_eq!(ok, n, "{}: every frame verifies", c.name());
            (n, bytes)
        });
        let crate_name = if matches!(c, Cipher::Ccmp | Cipher::Ccmp256) {
            "ccm"
        } else {
            "aes-gcm"
        };
        g.measures.push(Measure::new(
            format!("{} ({crate_name} crate), 1 core", c.name()),
            f,
            b,
            d,
        ));
    }
    g.finish()
}

/// The kernel on 1..=`max` threads, each over the whole stream.
pub fn threads_group(s: &Stream, max: usize, min: Duration) -> Group {
    let n = s.frames.len() as u64;
    let backend = Backend::detect();
    let keys: Vec<MbKey> = s.stations.iter().map(|st| MbKey::new(&st.tk)).collect();
    let mut g = Group {
        workload: format!(
            "kernel {} on 1..{max} threads (same stream)",
            backend.name()
        ),
        measures: Vec::new(),
    };
    for t in 1..=max {
        let start = Instant::now();
        let totals: Vec<(u64, u64)> = std::thread::scope(|sc| {
            let hs: Vec<_> = (0..t)
                .map(|_| {
                    sc.spawn(|| {
                        let mut outs: Vec<Vec<u8>> =
                            (0..BATCH).map(|_| Vec::with_capacity(2048)).collect();
                        let (f, b, _) = timed(min, || {
                            kernel_pass(s, &keys, backend, &mut outs);
                            (n, s.bytes)
                        });
                        (f, b)
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap_or((0, 0))).collect()
        });
        let (f, b) = totals.iter().fold((0, 0), |(a, c), (x, y)| (a + x, c + y));
        g.measures.push(Measure::new(
            format!("{t} thread(s)"),
            f,
            b,
            start.elapsed(),
        ));
    }
    g.finish()
}

/// The ordered stage of an end-to-end run: the engine, nothing written.
struct EngineOrdered {
    engine: Engine,
    kind: crate::wire::link::LinkKind,
    forwarded: usize,
}

impl Ordered for EngineOrdered {
    fn frame(&mut self, f: &mut Frame) {
        self.engine.process_pre(
            f.ts,
            self.kind,
            &f.data,
            f.orig_len,
            &mut f.pre,
            &mut NullSink,
        );
    }
    fn new_keys(&mut self) -> Vec<Arc<KeyEntry>> {
        let h = self.engine.keys.history();
        let new = h.get(self.forwarded..).unwrap_or(&[]).to_vec();
        self.forwarded = h.len();
        new
    }
    fn batch_done(&mut self, _p: &Progress) {}
}

/// Counters of one end-to-end run.
#[derive(Debug, Clone, Serialize)]
pub struct RunCounts {
    pub read: u64,
    pub decrypted: u64,
    pub dropped: u64,
}

/// `decrypt`'s path (capture → workers → engine), output discarded, on a file.
pub fn pipeline_run(
    path: &Path,
    nets: Vec<NetworkSecret>,
    workers: usize,
) -> Result<(RunCounts, Duration), crate::capture::CaptureError> {
    let src = FileSource::open(&path.to_string_lossy())?;
    let start = Instant::now();
    let mut ord = EngineOrdered {
        engine: Engine::new(nets),
        kind: src.kind,
        forwarded: 0,
    };
    let out = pipeline::run(
        Source::File(src),
        workers,
        Limits::default(),
        StopHandle::default(),
        &mut ord,
    );
    let d = start.elapsed();
    if let Some(e) = out.error {
        return Err(e);
    }
    let c = &ord.engine.counters;
    Ok((
        RunCounts {
            read: c.read,
            decrypted: c.decrypted,
            dropped: c.dropped_total(),
        },
        d,
    ))
}

/// The pipeline on 1..=`max` workers over a file.
pub fn pipeline_group(
    path: &Path,
    nets: impl Fn() -> Vec<NetworkSecret>,
    max: usize,
) -> Result<(Group, RunCounts), crate::capture::CaptureError> {
    let bytes = std::fs::metadata(path).map_or(0, |m| m.len());
    let mut g = Group {
        workload: format!(
            "pipeline (capture → workers → engine) on {} ({:.1} MB)",
            path.display(),
            bytes as f64 / 1e6
        ),
        measures: Vec::new(),
    };
    let mut last = None;
    for w in 1..=max {
        let (c, d) = pipeline_run(path, nets(), w)?;
        g.measures.push(Measure::new(
            format!("{w} worker(s), file bytes"),
            c.read,
            bytes,
            d,
        ));
        last = Some(c);
    }
    Ok((
        g.finish(),
        last.unwrap_or(RunCounts {
            read: 0,
            decrypted: 0,
            dropped: 0,
        }),
    ))
}

/// A peer tool timed on a file, over several alternating rounds.
#[derive(Debug, Clone, Serialize)]
pub struct PeerRun {
    pub tool: String,
    pub command: String,
    /// The median of `runs`.
    pub seconds: f64,
    /// Every round's time, in round order.
    pub runs: Vec<f64>,
    /// Of the median.
    pub mbyte_per_s: f64,
    /// The median over rounds of airdecap-ng's time divided by this tool's
    /// time in the same round (how many times faster than airdecap-ng);
    /// `None` without airdecap-ng.
    pub vs_airdecap: Option<f64>,
    /// What the tool says it decrypted (its own count), when it says.
    pub decrypted: Option<u64>,
}

impl PeerRun {
    pub fn min(&self) -> f64 {
        self.runs.iter().copied().fold(f64::INFINITY, f64::min)
    }
    pub fn max(&self) -> f64 {
        self.runs.iter().copied().fold(0.0, f64::max)
    }
}

/// The median of `v` (the mean of the two middle values for an even count);
/// 0 when empty.
pub fn median(v: &[f64]) -> f64 {
    let mut v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(tool))
            .find(|p| p.is_file())
    })
}

/// Reads a tool's own count of decrypted frames from its standard output.
type CountFn = Box<dyn Fn(&str) -> Option<u64>>;

/// One tool of [`peers`]: how to run it and read its count.
struct PeerTool {
    name: String,
    make: Box<dyn Fn() -> std::process::Command>,
    count: CountFn,
    /// Removes what a run wrote.
    cleanup: Box<dyn Fn()>,
}

/// Times, on `pcap`, in `rounds` alternating rounds (every tool once per
/// round, in the same order, so a slow spell of a shared machine falls on
/// all of them): a plain copy of the file to the temporary directory (the
/// floor of any tool that reads it and writes as much), this binary's
/// `decrypt` with 1 and `workers` workers, and `airdecap-ng` and `tshark`
/// when installed.
pub fn peers(pcap: &Path, ssid: &str, pass: &str, workers: usize, rounds: usize) -> Vec<PeerRun> {
    use std::process::{Command, Stdio};
    let bytes = std::fs::metadata(pcap).map_or(0, |m| m.len()) as f64;
    let tmp = std::env::temp_dir();
    let mut tools: Vec<PeerTool> = Vec::new();
    {
        let out = tmp.join(format!("plugsniff-bench-{}-copy.pcap", std::process::id()));
        let (src, dst) = (pcap.to_path_buf(), out.clone());
        tools.push(PeerTool {
            name: "cp (read + write: the floor)".into(),
            make: Box::new(move || {
                let mut c = Command::new("cp");
                c.arg(&src).arg(&dst);
                c
            }),
            count: Box::new(|_| None),
            cleanup: Box::new(move || {
                let _ = std::fs::remove_file(&out);
            }),
        });
    }
    if let Ok(me) = std::env::current_exe() {
        let mut ws = vec![1];
        if workers > 1 {
            ws.push(workers);
        }
        for w in ws {
            let out = tmp.join(format!("plugsniff-bench-{}-dec.pcap", std::process::id()));
            let (me, pcap, ssid, pass, out2) = (
                me.clone(),
                pcap.to_path_buf(),
                ssid.to_string(),
                pass.to_string(),
                out.clone(),
            );
            tools.push(PeerTool {
                name: format!("plugsniff decrypt --workers {w}"),
                make: Box::new(move || {
                    let mut c = Command::new(&me);
                    c.args(["decrypt", "--json", "--no-prompt", "--ssid", &ssid])
                        .arg("--workers")
                        .arg(w.to_string())
                        .arg("-o")
                        .arg(&out2)
                        .arg(&pcap)
                        .env("PLUGSNIFF_PASSPHRASE", &pass);
                    c
                }),
                count: Box::new(|t| {
                    let v: serde_json::Value = serde_json::from_str(t).ok()?;
                    v.pointer("/frames/decrypted")
                        .or_else(|| v.get("decrypted"))
                        .and_then(|d| d.as_u64())
                }),
                cleanup: Box::new(move || {
                    let _ = std::fs::remove_file(&out);
                }),
            });
        }
    }
    if which("airdecap-ng").is_some() {
        let (pcap2, ssid, pass) = (pcap.to_path_buf(), ssid.to_string(), pass.to_string());
        // airdecap-ng writes NAME-dec.pcap beside its input.
        let written = format!("{}-dec.pcap", pcap.with_extension("").display());
        tools.push(PeerTool {
            name: "airdecap-ng".into(),
            make: Box::new(move || {
                let mut c = Command::new("airdecap-ng");
                c.args(["-e", &ssid, "-p", &pass]).arg(&pcap2);
                c
            }),
            count: Box::new(|t| {
                t.lines()
                    .find(|l| l.contains("decrypted WPA"))
                    .and_then(|l| l.split_whitespace().last()?.parse().ok())
            }),
            cleanup: Box::new(move || {
                let _ = std::fs::remove_file(&written);
            }),
        });
    }
    if which("tshark").is_some() {
        let (pcap2, key) = (
            pcap.to_path_buf(),
            format!("uat:80211_keys:\"wpa-pwd\",\"{pass}:{ssid}\""),
        );
        tools.push(PeerTool {
            name: "tshark (decrypt + dissect)".into(),
            make: Box::new(move || {
                let mut c = Command::new("tshark");
                c.args(["-n", "-r"]).arg(&pcap2).args([
                    "-o",
                    "wlan.enable_decryption:TRUE",
                    "-o",
                    &key,
                    "-Y",
                    "udp",
                    "-T",
                    "fields",
                    "-e",
                    "frame.number",
                ]);
                c
            }),
            count: Box::new(|t| Some(t.lines().count() as u64)),
            cleanup: Box::new(|| {}),
        });
    }
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); tools.len()];
    let mut counts: Vec<Option<u64>> = vec![None; tools.len()];
    let mut shown: Vec<String> = vec![String::new(); tools.len()];
    for _ in 0..rounds.max(1) {
        for (i, t) in tools.iter().enumerate() {
            let mut cmd = (t.make)();
            shown[i] = format!("{cmd:?}");
            let start = Instant::now();
            let out = cmd.stderr(Stdio::null()).output();
            let s = start.elapsed().as_secs_f64().max(1e-9);
            (t.cleanup)();
            match out {
                Ok(out) if out.status.success() => {
                    times[i].push(s);
                    counts[i] = (t.count)(&String::from_utf8_lossy(&out.stdout));
                }
                // A failed run is not a time: the tool is reported without it.
                _ => times[i].push(f64::NAN),
            }
        }
    }
    let air = tools.iter().position(|t| t.name == "airdecap-ng");
    tools
        .iter()
        .enumerate()
        .filter(|(i, _)| times[*i].iter().any(|t| t.is_finite()))
        .map(|(i, t)| {
            let runs: Vec<f64> = times[i].iter().copied().filter(|t| t.is_finite()).collect();
            let seconds = median(&runs);
            let vs_airdecap = air.map(|a| {
                let ratios: Vec<f64> = times[a]
                    .iter()
                    .zip(&times[i])
                    .map(|(a, me)| a / me)
                    .collect();
                median(&ratios)
            });
            PeerRun {
                tool: t.name.clone(),
                command: shown[i].clone(),
                seconds,
                runs,
                mbyte_per_s: bytes / seconds.max(1e-9) / 1e6,
                vs_airdecap,
                decrypted: counts[i],
            }
        })
        .collect()
}

#[cfg(feature = "openssl")]
mod openssl_ccm {
    //! OpenSSL's AES-128-CCM (EVP) as the reference. CCM takes one message
    //! per init, but the key schedule survives an init with only a new nonce
    //! (`EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, iv)`), so each key gets one
    //! context and a frame costs OpenSSL what it costs us: nonce, tag, AAD,
    //! payload.
    use openssl::cipher::Cipher;
    use openssl::cipher_ctx::CipherCtx;
    use openssl::error::ErrorStack;

    pub struct KeyedCtx(CipherCtx);

    impl KeyedCtx {
        pub fn new(tk: &[u8; 16]) -> Result<Self, ErrorStack> {
            let mut ctx = CipherCtx::new()?;
            ctx.decrypt_init(Some(Cipher::aes_128_ccm()), None, None)?;
            ctx.set_iv_length(13)?;
            ctx.set_tag_length(8)?;
            ctx.decrypt_init(None, Some(tk), None)?;
            Ok(Self(ctx))
        }

        /// Decrypts and verifies one CCMP MPDU with a 26-byte header.
        pub fn decrypt(&mut self, mpdu: &[u8], out: &mut Vec<u8>) -> bool {
            let Ok(h) = crate::crypto::ccmp::ccmp_header(mpdu, 26) else {
                return false;
            };
            let (aad, nonce) = crate::crypto::ccmp::aad_and_nonce(mpdu, 26, h.pn);
            let Some(mic) = mpdu.len().checked_sub(8).filter(|&m| m >= 34) else {
                return false;
            };
            let ct = &mpdu[34..mic];
            out.clear();
            out.resize(ct.len() + 16, 0);
            let ctx = &mut self.0;
            let mut run = || -> Result<(), ErrorStack> {
                ctx.set_tag(&mpdu[mic..])?;
                ctx.decrypt_init(None, None, Some(&nonce))?;
                ctx.set_data_len(ct.len())?;
                ctx.cipher_update(aad.as_bytes(), None)?;
                ctx.cipher_update(ct, Some(out.as_mut_slice()))?;
                Ok(())
            };
            let ok = run().is_ok();
            out.truncate(ct.len());
            ok
        }
    }
}

/// What `plugsniff bench --json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub cpu_backend: String,
    /// Built with optimisations (`--release`); a debug build's figures are
    /// meaningless as speed.
    pub optimized: bool,
    pub threads: usize,
    pub groups: Vec<Group>,
    pub pipeline_counts: Option<RunCounts>,
    pub peers: Vec<PeerRun>,
}

#[cfg(test)]
mod median_tests {
    use super::median;

    #[test]
    fn median_of_odd_even_empty_and_nan() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
        assert_eq!(median(&[f64::NAN, 5.0]), 5.0);
    }
}

#[cfg(test)]
mod stream_tests {
    use super::*;

    /// The generated capture reads as a clean radio link: every bulk frame
    /// decrypts, and the sequence numbers show no gap on any link (one
    /// counter shared by all links used to read as ≈ 2 missed frames per frame).
    #[test]
    fn bulk_frames_decrypt_and_number_each_link_without_gaps() {
        let mut g = StreamGen::new(SizeMix::Realistic, 7);
        let mut e = Engine::new(vec![g.secret.clone()]);
        let radio = Radio::default();
        let link = crate::wire::link::LinkKind::Radiotap;
        for (ts, f) in g.prelude.clone() {
            e.process(ts, link, &f, f.len() as u32, &mut NullSink);
        }
        let before = e.counters.decrypted;
        let n = 3000;
        for _ in 0..n {
            let (ts, f) = g.next_frame();
            let rt = frames::with_radiotap(&radio, &f.mpdu);
            e.process(ts, link, &rt, rt.len() as u32, &mut NullSink);
        }
        assert_eq!(e.counters.decrypted - before, n);
        let mut links = 0;
        for (_, h) in e.health.stations() {
            links += 1;
            assert_eq!(h.missed_estimate, 0, "{h:?}");
        }
        assert!(links >= 2, "{links} links");
    }
}
