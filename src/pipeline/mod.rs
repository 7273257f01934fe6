//! The multi-core pipeline: capture → N decrypt workers → the ordered stage.
//!
//! ```text
//!  capture thread ──batch k──► worker k mod N ──batch k──► ordered stage (caller's thread)
//!  (libpcap, batches)           (pure decryption       (Engine + Watcher: handshakes,
//!                                with a copy of keys)   replay, flows, decoders, events)
//!                  ◄──────────── new keys (Arc<KeyEntry>) ───────────────┘
//! ```
//!
//! # Ordering
//! Batch `k` goes to worker `k mod N` and the ordered stage reads batch `k`
//! from worker `k mod N`'s output: frames reach the engine in capture order,
//! with no reorder buffer. Workers only *pre-decrypt* with the keys they have
//! been sent; the engine stays the authority (a frame a worker could not
//! decrypt, e.g. just after a rekey, is decrypted by the engine itself), so
//! results are identical to the single-threaded path.
//!
//! # Buffers
//! A file's frames are not copied: each [`Frame`] shares the reader's buffer
//! it was read into ([`FrameBytes::Shared`]), and the reader reads on into
//! another one until every frame of the first is done
//! ([`crate::capture::file::Reader::next_frame_shared`]). A live source's
//! frames are copied out of libpcap's buffer into recycled ones
//! ([`FrameBytes::Owned`]).
//! Batches are recycled: after the ordered stage has seen a batch it lets go
//! of the shared buffers and sends the batch back to the capture thread (a
//! bounded queue; a batch that does not fit is freed), which fills the same
//! `Frame`s, and the spent plaintext buffers ride along back to the workers.
//! In steady state nothing is allocated per frame.
//!
//! # Capacities and backpressure
//! Frames travel in batches of up to [`BATCH_FRAMES`]; each worker has an input
//! and an output queue of [`QUEUE_BATCHES`] batches. A file source blocks when
//! the queues are full (never drops); a live source never blocks the capture
//! thread: a batch that finds its queue full is dropped and counted as
//! `shed_load`. A live batch is also cut after [`BATCH_MAX_WAIT`] so frames
//! are not held back on a quiet network.
//!
//! # Filtering
//! A BPF filter for a file source ([`Limits::filter`], `-f`) is applied in the
//! capture thread, before a frame is copied: frames that do not match are
//! counted in [`Progress::filtered`] and go no further. (A live source's
//! filter runs in the kernel; what it rejects is never captured.)
//!
//! # Accounting
//! Each batch carries the capture thread's cumulative counts at the time it was
//! sent; after the ordered stage finishes batch `k`, `captured = processed +
//! filtered + shed` holds exactly for everything up to `k` ([`Progress`]).
//! libpcap's own drops (`ps_drop`, `ps_ifdrop`) are reported next to it.
//!
//! # Shutdown
//! [`StopHandle::stop`] (from a signal thread) makes the capture thread end
//! its read loop (breaking a blocked libpcap read); the batches already
//! queued drain through the workers and the ordered stage; [`run`] returns
//! when the last one is processed. `--duration` on a live source that has
//! gone quiet is enforced the same way, from the ordered stage's idle wait.
//! A file source cannot be broken out of a read (a FIFO whose writer is
//! silent): when no batch arrives for [`STOP_GRACE`] after a stop, [`run`]
//! returns without the capture thread, so the outputs are still finished.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError, bounded, unbounded};

use crate::capture::file::SharedBytes;
use crate::capture::filter::BpfFilter;
use crate::capture::live::{Breaker, LiveSource, Next, PcapStats};
use crate::capture::{CaptureError, FileSource};
use crate::engine::{PreDecrypted, WorkerKeys};
use crate::wire::Ts;
use crate::wire::link::LinkKind;
use crate::wpa::keystore::KeyEntry;

pub const BATCH_FRAMES: usize = 256;
pub const QUEUE_BATCHES: usize = 8;
/// How long a stopped run waits for a file source's capture thread to come
/// out of a read (a silent FIFO) before it ends without it.
pub const STOP_GRACE: Duration = Duration::from_secs(1);
pub const BATCH_MAX_WAIT: Duration = Duration::from_millis(20);
/// Buffers larger than this (a rare jumbo frame) are freed, not recycled, so
/// the pools stay small whatever the air sends.
pub const RECYCLE_MAX_BYTES: usize = 8 << 10;
/// The smallest frame buffer the capture thread allocates: an 802.11 data
/// frame of a 1500-byte MSDU with radiotap, CCMP and FCS fits.
pub const FRAME_CAPACITY: usize = 2048;
/// How often the capture thread reads libpcap's counters.
pub const PCAP_STATS_EVERY: Duration = Duration::from_secs(1);

/// A frame's bytes: a file's shared with the reader's buffer, a live
/// source's copied out of libpcap's.
#[derive(Debug, Clone)]
pub enum FrameBytes {
    /// A recycled buffer the bytes were copied into.
    Owned(Vec<u8>),
    /// Where the file reader read them (not copied).
    Shared(SharedBytes),
}

impl std::ops::Deref for FrameBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            FrameBytes::Owned(v) => v,
            FrameBytes::Shared(s) => s,
        }
    }
}

impl FrameBytes {
    /// Lets go of a shared read buffer (so the reader can reuse it); an
    /// owned buffer is kept for the next frame.
    fn release(&mut self) {
        if let FrameBytes::Shared(_) = self {
            *self = FrameBytes::Owned(Vec::new());
        }
    }
}

/// One captured frame.
#[derive(Debug, Clone)]
pub struct Frame {
    pub ts: Ts,
    pub orig_len: u32,
    /// The frame's link type. A file's frames carry their own (a pcapng file
    /// may mix interfaces of different types); a live source's are all
    /// [`Source::dlt`]. Frames whose type differs from the source's are not
    /// pre-decrypted: the ordered stage decides what to do with them.
    pub dlt: i32,
    pub data: FrameBytes,
    /// A worker's decryption of it; after the ordered stage, the spent one
    /// (its buffer goes back to a worker for reuse).
    pub pre: Option<PreDecrypted>,
}

/// Cumulative capture-side counts when a batch was sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Frames the capture thread read from its source.
    pub captured: u64,
    /// Frames the BPF filter of a file source rejected ([`Limits::filter`]).
    pub filtered: u64,
    /// Frames dropped because a queue was full (live sources only).
    pub shed_load: u64,
    /// libpcap's counters, as last read.
    pub pcap: PcapStats,
    /// Batches waiting in the worker queues, in and out, when the ordered
    /// stage last looked (a gauge; set by [`run`], not by the capture thread).
    pub queued_batches: u64,
    /// Capture time of the latest frame read, filtered or not: the end of
    /// the input, which end-of-input events are stamped with.
    pub last_ts: Option<crate::wire::Ts>,
}

impl Progress {
    /// Frames that passed the filter (what `-c` counts, as in tcpdump).
    pub fn passed(&self) -> u64 {
        self.captured.saturating_sub(self.filtered)
    }
}

struct Batch {
    frames: Vec<Frame>,
    progress: Progress,
}

/// Where frames come from.
pub enum Source {
    File(FileSource),
    Live(LiveSource),
}

impl Source {
    pub fn is_live(&self) -> bool {
        matches!(self, Source::Live(_))
    }
    /// `Some(kind)` for 802.11 link types, `None` for plain ones (then see `dlt`).
    pub fn kind(&self) -> Option<LinkKind> {
        match self {
            Source::File(f) if f.plain => None,
            Source::File(f) => Some(f.kind),
            Source::Live(l) if l.plain => None,
            Source::Live(l) => Some(l.kind),
        }
    }
    pub fn dlt(&self) -> i32 {
        match self {
            Source::File(f) => f.dlt,
            Source::Live(l) => l.dlt,
        }
    }
}

/// Stops a running pipeline from another thread (signal handling).
#[derive(Clone)]
pub struct StopHandle {
    flag: Arc<AtomicBool>,
    breaker: Arc<std::sync::Mutex<Option<Breaker>>>,
}

impl StopHandle {
    pub fn stop(&self) {
        self.flag.store(true, Ordering::SeqCst);
        if let Ok(b) = self.breaker.lock()
            && let Some(b) = b.as_ref()
        {
            b.stop();
        }
    }
    pub fn is_stopped(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
}

impl Default for StopHandle {
    fn default() -> Self {
        StopHandle {
            flag: Arc::new(AtomicBool::new(false)),
            breaker: Arc::new(std::sync::Mutex::new(None)),
        }
    }
}

/// Limits of a run: how many frames, for how long, and which.
#[derive(Debug, Default)]
pub struct Limits {
    /// Stop after this many frames (`-c`; frames that passed the filter).
    pub count: Option<u64>,
    /// Stop after this long (`--duration`), measured from the start.
    pub duration: Option<Duration>,
    /// Pass on only the frames this matches (`-f` on a file; a live source
    /// filters in the kernel instead).
    pub filter: Option<BpfFilter>,
}

/// The ordered stage: the caller's state machine, fed in capture order.
pub trait Ordered {
    /// One frame, in capture order. Leave `f.pre` spent or `None`, never a
    /// decryption of another frame (the buffer is reused).
    fn frame(&mut self, f: &mut Frame);
    /// Keys installed since the last call, to forward to the workers.
    fn new_keys(&mut self) -> Vec<Arc<KeyEntry>>;
    /// After every batch, with the capture-side counts up to that batch.
    fn batch_done(&mut self, p: &Progress);
    /// While waiting for the next batch (live sources are often idle).
    fn idle(&mut self, _p: &Progress) {}
}

/// How the run ended.
#[derive(Debug)]
pub struct Outcome {
    pub progress: Progress,
    /// A read error that ended the capture (torn file, interface gone).
    pub error: Option<CaptureError>,
}

/// Runs the pipeline to the end of the source (or a stop) with `workers`
/// decrypt threads; the ordered stage runs on the calling thread.
pub fn run(
    mut source: Source,
    workers: usize,
    limits: Limits,
    stop: StopHandle,
    ordered: &mut dyn Ordered,
) -> Outcome {
    let workers = workers.max(1);
    let kind = source.kind();
    let dlt = source.dlt();
    if let Source::Live(l) = &mut source
        && let Ok(mut b) = stop.breaker.lock()
    {
        *b = Some(l.breaker());
    }
    let live = source.is_live();
    let (duration, started) = (limits.duration, Instant::now());
    let mut to_workers = Vec::new();
    let mut from_workers = Vec::new();
    let mut key_senders: Vec<Sender<Arc<KeyEntry>>> = Vec::new();
    // The workers' input queues, for their depth only.
    let mut depth_rx: Vec<Receiver<Batch>> = Vec::new();
    let mut handles = Vec::new();
    // Seen batches back to the capture thread for their buffers.
    let (recycle_tx, recycle_rx) = bounded::<Vec<Frame>>(QUEUE_BATCHES);
    for i in 0..workers {
        let (in_tx, in_rx) = bounded::<Batch>(QUEUE_BATCHES);
        let (out_tx, out_rx) = bounded::<Batch>(QUEUE_BATCHES);
        let (key_tx, key_rx) = unbounded::<Arc<KeyEntry>>();
        depth_rx.push(in_rx.clone());
        to_workers.push(in_tx);
        from_workers.push(out_rx);
        key_senders.push(key_tx);
        handles.push(
            thread::Builder::new()
                .name(format!("decrypt-{i}"))
                .spawn(move || worker(kind, dlt, in_rx, out_tx, key_rx))
                .expect("spawn worker"),
        );
    }
    let stop2 = stop.clone();
    let capture = thread::Builder::new()
        .name("capture".into())
        .spawn(move || capture_loop(source, to_workers, recycle_rx, live, limits, stop2))
        .expect("spawn capture thread");

    let mut last = Progress::default();
    let mut k = 0usize;
    let mut stopped_at: Option<Instant> = None;
    let mut abandoned = false;
    loop {
        let rx = &from_workers[k % workers];
        let batch = if live {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(b) => b,
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                    // On Linux an idle libpcap read returns only on a packet
                    // or a break, not when its timeout expires
                    // (pcap_breakloop(3PCAP)): the capture thread cannot see
                    // --duration pass on a silent interface, so it is enforced
                    // from here too.
                    if duration.is_some_and(|d| started.elapsed() >= d) {
                        stop.stop();
                    }
                    last.queued_batches = queued(&depth_rx, &from_workers);
                    ordered.idle(&last);
                    continue;
                }
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
            }
        } else {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(b) => b,
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                    // Stopped (a signal, an output error) while the capture
                    // thread sits in a read that may never return (a FIFO
                    // whose writer is silent): after STOP_GRACE the run
                    // ends without it, and its frames are not waited for.
                    if stop.is_stopped() {
                        let since = *stopped_at.get_or_insert_with(Instant::now);
                        if since.elapsed() >= STOP_GRACE {
                            abandoned = true;
                            break;
                        }
                    }
                    continue;
                }
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
            }
        };
        k += 1;
        let mut frames = batch.frames;
        for f in &mut frames {
            ordered.frame(f);
            f.data.release();
        }
        if frames.capacity() > 0 {
            let _ = recycle_tx.try_send(frames);
        }
        for key in ordered.new_keys() {
            for s in &key_senders {
                let _ = s.send(key.clone());
            }
        }
        last = batch.progress;
        last.queued_batches = queued(&depth_rx, &from_workers);
        ordered.batch_done(&last);
    }
    drop(key_senders);
    if abandoned {
        // The capture thread (and the workers waiting on it) end with the
        // process; what they still hold was read after the stop.
        tracing::info!("stopped while the capture was blocked in a read: not waiting for it");
        return Outcome {
            progress: last,
            error: None,
        };
    }
    let (progress, error) = capture.join().unwrap_or((last, None));
    for h in handles {
        let _ = h.join();
    }
    Outcome { progress, error }
}

/// Batches waiting in the worker queues, in and out.
fn queued(inputs: &[Receiver<Batch>], outputs: &[Receiver<Batch>]) -> u64 {
    inputs.iter().chain(outputs).map(|r| r.len() as u64).sum()
}

fn worker(
    kind: Option<LinkKind>,
    dlt: i32,
    rx: Receiver<Batch>,
    tx: Sender<Batch>,
    keys_rx: Receiver<Arc<KeyEntry>>,
) {
    let mut keys = WorkerKeys::default();
    let mut pre: Vec<Option<PreDecrypted>> = Vec::with_capacity(BATCH_FRAMES);
    let mut spare: Vec<Vec<u8>> = Vec::with_capacity(2 * BATCH_FRAMES);
    for mut b in rx {
        for k in keys_rx.try_iter() {
            keys.add(k);
        }
        // Spent decryptions of a recycled batch: their buffers are reused.
        for f in &mut b.frames {
            if let Some(p) = f.pre.take()
                && spare.len() < 2 * BATCH_FRAMES
                && p.plain.capacity() <= RECYCLE_MAX_BYTES
            {
                spare.push(p.plain);
            }
        }
        if let Some(kind) = kind {
            // The whole batch through the multi-buffer CCMP kernel at once;
            // a frame of another link type goes in empty (not pre-decrypted).
            let raws: Vec<&[u8]> = b
                .frames
                .iter()
                .map(|f| if f.dlt == dlt { &f.data[..] } else { &[][..] })
                .collect();
            pre.clear();
            pre.resize(raws.len(), None);
            keys.predecrypt_batch(kind, &raws, &mut pre, &mut spare);
            drop(raws);
            for (f, p) in b.frames.iter_mut().zip(pre.drain(..)) {
                f.pre = p;
            }
        }
        if tx.send(b).is_err() {
            return;
        }
    }
}

fn capture_loop(
    mut source: Source,
    to_workers: Vec<Sender<Batch>>,
    recycled: Receiver<Vec<Frame>>,
    live: bool,
    mut limits: Limits,
    stop: StopHandle,
) -> (Progress, Option<CaptureError>) {
    let n = to_workers.len();
    let mut k = 0usize;
    let mut p = Progress::default();
    let mut batch: Vec<Frame> = Vec::with_capacity(BATCH_FRAMES);
    // Frames of batches the ordered stage is done with, their buffers reused.
    let mut spare: Vec<Frame> = Vec::new();
    // Emptied batch vectors of recycled batches, reused for the next ones.
    let mut empties: Vec<Vec<Frame>> = Vec::new();
    let fill = |spare: &mut Vec<Frame>,
                empties: &mut Vec<Vec<Frame>>,
                ts: Ts,
                orig_len: u32,
                dlt: i32,
                data: Bytes<'_>|
     -> Frame {
        if spare.is_empty()
            && let Ok(mut old) = recycled.try_recv()
        {
            old.reverse();
            std::mem::swap(spare, &mut old);
            // `old` is the emptied vector spare was: keep it for a batch.
            if old.capacity() >= BATCH_FRAMES && empties.len() < QUEUE_BATCHES {
                empties.push(old);
            }
        }
        let mut f = match spare.pop() {
            Some(f) => f,
            None => Frame {
                ts,
                orig_len,
                dlt,
                data: FrameBytes::Owned(Vec::new()),
                pre: None,
            },
        };
        f.ts = ts;
        f.orig_len = orig_len;
        f.dlt = dlt;
        match data {
            Bytes::Shared(s) => f.data = FrameBytes::Shared(s),
            Bytes::Copy(data) => {
                let mut buf = match std::mem::replace(&mut f.data, FrameBytes::Owned(Vec::new())) {
                    FrameBytes::Owned(v) if v.capacity() <= RECYCLE_MAX_BYTES => v,
                    // At least FRAME_CAPACITY, so a recycled buffer seldom
                    // has to grow for the next, larger frame (a realloc per
                    // frame kept glibc's thread arenas growing and
                    // shrinking: thousands of `mprotect` calls per run).
                    _ => Vec::with_capacity(data.len().max(FRAME_CAPACITY)),
                };
                buf.clear();
                buf.extend_from_slice(data);
                f.data = FrameBytes::Owned(buf);
            }
        }
        f
    };
    let mut batch_started = Instant::now();
    let started = Instant::now();
    let mut last_stats = Instant::now();
    let mut error = None;
    let mut bar = match &source {
        Source::File(f) => Some(crate::capture::ProgressBar::new(f)),
        Source::Live(_) => None,
    };
    let send = |batch: &mut Vec<Frame>,
                empties: &mut Vec<Vec<Frame>>,
                p: &mut Progress,
                k: &mut usize|
     -> bool {
        if batch.is_empty() {
            return true;
        }
        let next = empties
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(BATCH_FRAMES));
        let frames = std::mem::replace(batch, next);
        let len = frames.len() as u64;
        let tx = &to_workers[*k % n];
        if live {
            // The shed count travels with the next batch that gets through.
            let b = Batch {
                frames,
                progress: *p,
            };
            match tx.try_send(b) {
                Ok(()) => *k += 1,
                Err(TrySendError::Full(_)) => p.shed_load += len,
                Err(TrySendError::Disconnected(_)) => return false,
            }
            true
        } else {
            let ok = tx
                .send(Batch {
                    frames,
                    progress: *p,
                })
                .is_ok();
            *k += 1;
            ok
        }
    };
    loop {
        if stop.is_stopped()
            || limits.count.is_some_and(|c| p.passed() >= c)
            || limits.duration.is_some_and(|d| started.elapsed() >= d)
        {
            break;
        }
        let next = match &mut source {
            Source::File(f) => match (bar.as_mut().map(|b| b.tick(f)), f.next_frame_shared()).1 {
                Ok(Some((fr, shared))) => {
                    p.captured += 1;
                    if p.last_ts.is_none_or(|l| fr.ts > l) {
                        p.last_ts = Some(fr.ts);
                    }
                    if passes(&mut limits.filter, fr.dlt, fr.orig_len, fr.data) {
                        Some(fill(
                            &mut spare,
                            &mut empties,
                            fr.ts,
                            fr.orig_len,
                            fr.dlt,
                            Bytes::Shared(shared),
                        ))
                    } else {
                        p.filtered += 1;
                        None
                    }
                }
                Ok(None) => {
                    if let Some(b) = bar.as_mut() {
                        b.done();
                    }
                    break;
                }
                Err(e) => {
                    error = Some(e);
                    break;
                }
            },
            Source::Live(l) => {
                if last_stats.elapsed() >= PCAP_STATS_EVERY {
                    p.pcap = l.stats();
                    last_stats = Instant::now();
                }
                let dlt = l.dlt;
                match l.next_frame() {
                    Ok(Next::Frame(fr)) => {
                        p.captured += 1;
                        if p.last_ts.is_none_or(|l| fr.ts > l) {
                            p.last_ts = Some(fr.ts);
                        }
                        if passes(&mut limits.filter, dlt, fr.orig_len, fr.data) {
                            Some(fill(
                                &mut spare,
                                &mut empties,
                                fr.ts,
                                fr.orig_len,
                                dlt,
                                Bytes::Copy(fr.data),
                            ))
                        } else {
                            p.filtered += 1;
                            None
                        }
                    }
                    Ok(Next::Idle) => None,
                    Ok(Next::End) => break,
                    Err(e) => {
                        error = Some(e);
                        break;
                    }
                }
            }
        };
        if let Some(f) = next {
            batch.push(f);
        }
        let due =
            batch.len() >= BATCH_FRAMES || (live && batch_started.elapsed() >= BATCH_MAX_WAIT);
        if due {
            // The progress a batch carries includes its own frames.
            if !send(&mut batch, &mut empties, &mut p, &mut k) {
                break;
            }
            batch_started = Instant::now();
        }
    }
    if let Source::Live(l) = &mut source {
        p.pcap = l.stats();
    }
    send(&mut batch, &mut empties, &mut p, &mut k);
    // An empty final batch carries the final counts (shed load, libpcap drops).
    let _ = to_workers[k % n].send(Batch {
        frames: Vec::new(),
        progress: p,
    });
    (p, error)
}

/// A frame's bytes as the capture thread gets them.
enum Bytes<'a> {
    /// Borrowed from libpcap until its next read: copied.
    Copy(&'a [u8]),
    /// Shared with the file reader: taken as they are.
    Shared(SharedBytes),
}

/// Whether a frame of link type `dlt` passes the run's filter (all do
/// without one).
fn passes(filter: &mut Option<BpfFilter>, dlt: i32, orig_len: u32, data: &[u8]) -> bool {
    filter
        .as_mut()
        .is_none_or(|f| f.matches(dlt, orig_len, data))
}
