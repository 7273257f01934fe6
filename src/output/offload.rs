//! A buffered writer whose `write(2)` calls happen on a thread of their own.
//!
//! Owns: [`Offload`], a drop-in for `BufWriter` on the decrypted-pcap
//! outputs. The ordered stage of the pipeline is the one stage that cannot
//! be spread over cores, and with a `BufWriter` it also paid for the kernel's
//! copy of every output byte into the page cache (a quarter of its time on a
//! 300 MB capture written to tmpfs, `docs/performance.md`). Here the caller
//! only copies into a [`CHUNK`]-byte buffer; full buffers go through a bounded
//! queue to a writer thread, which writes them in order and hands the spent
//! buffers back for reuse.
//!
//! Guarantees:
//! - order and content: bytes reach the inner writer exactly as written, in
//!   order, in chunks of up to [`CHUNK`] bytes (so a pcap record may straddle
//!   two `write` calls, as with `BufWriter`);
//! - bounded memory: at most [`QUEUE`] chunks queued plus one being written
//!   and one being filled; a caller that outruns the disk blocks (a file
//!   output never drops data);
//! - errors are never lost: the first error of the writer thread is returned
//!   by the next `write`, `flush` or [`Offload::finish`], and nothing more is
//!   written after it;
//! - steady state allocates nothing: chunks are recycled.
//!
//! Hand-written rather than a crate: it is a channel, a thread and a loop
//! (crossbeam, which the pipeline already uses), and the error and recycling
//! rules above are the part that matters.

use std::io::{self, Write};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, bounded};

/// Bytes gathered before a chunk is handed to the writer thread.
pub const CHUNK: usize = 1 << 20;
/// Chunks queued for the writer thread at most.
pub const QUEUE: usize = 4;

enum Msg {
    Data(Vec<u8>),
    /// Write out everything before it, flush the inner writer, answer.
    Flush(Sender<io::Result<()>>),
}

/// What the writer thread hands back when it ends: the inner writer and its
/// first error, if any.
type Joined<W> = (W, Option<io::Error>);

/// `BufWriter`'s job with the writes on their own thread (module doc).
pub struct Offload<W: Write + Send + 'static> {
    buf: Vec<u8>,
    tx: Option<Sender<Msg>>,
    free: Receiver<Vec<u8>>,
    /// Set (once) by the writer thread: the kind and text of its first error.
    failed: std::sync::Arc<std::sync::OnceLock<(io::ErrorKind, String)>>,
    thread: Option<JoinHandle<Joined<W>>>,
}

impl<W: Write + Send + 'static> Offload<W> {
    /// Starts the writer thread (named `name`) for `inner`.
    pub fn new(inner: W, name: &str) -> io::Result<Offload<W>> {
        let (tx, rx) = bounded::<Msg>(QUEUE);
        let (free_tx, free) = bounded::<Vec<u8>>(QUEUE + 1);
        let failed = std::sync::Arc::new(std::sync::OnceLock::new());
        let failed2 = failed.clone();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || writer_loop(inner, rx, free_tx, &failed2))?;
        Ok(Offload {
            buf: Vec::with_capacity(CHUNK),
            tx: Some(tx),
            free,
            failed,
            thread: Some(thread),
        })
    }

    fn error(&self) -> Option<io::Error> {
        self.failed
            .get()
            .map(|(kind, text)| io::Error::new(*kind, text.clone()))
    }

    fn gone() -> io::Error {
        io::Error::other("the output's writer thread ended")
    }

    /// Hands the current buffer to the writer thread.
    fn hand_off(&mut self) -> io::Result<()> {
        if let Some(e) = self.error() {
            return Err(e);
        }
        if self.buf.is_empty() {
            return Ok(());
        }
        let next = match self.free.try_recv() {
            Ok(b) => b,
            Err(_) => Vec::with_capacity(CHUNK),
        };
        let full = std::mem::replace(&mut self.buf, next);
        let tx = self.tx.as_ref().ok_or_else(Self::gone)?;
        tx.send(Msg::Data(full))
            .map_err(|_| self.error().unwrap_or_else(Self::gone))
    }

    /// Writes out what is buffered, ends the thread and returns the inner
    /// writer, or the first error anywhere on the way.
    pub fn finish(mut self) -> io::Result<W> {
        let handed = self.hand_off();
        drop(self.tx.take());
        let joined = self.thread.take().map(|t| t.join());
        handed?;
        match joined {
            Some(Ok((w, None))) => Ok(w),
            Some(Ok((_, Some(e)))) => Err(e),
            Some(Err(_)) | None => Err(Self::gone()),
        }
    }
}

fn writer_loop<W: Write>(
    mut w: W,
    rx: Receiver<Msg>,
    free: Sender<Vec<u8>>,
    failed: &std::sync::OnceLock<(io::ErrorKind, String)>,
) -> Joined<W> {
    let mut first: Option<io::Error> = None;
    for m in rx {
        match m {
            Msg::Data(mut b) => {
                if first.is_none()
                    && let Err(e) = w.write_all(&b)
                {
                    let _ = failed.set((e.kind(), e.to_string()));
                    first = Some(e);
                }
                b.clear();
                if b.capacity() <= 2 * CHUNK {
                    let _ = free.try_send(b);
                }
            }
            Msg::Flush(reply) => {
                let r = match &first {
                    Some(e) => Err(io::Error::new(e.kind(), e.to_string())),
                    None => w.flush().inspect_err(|e| {
                        let _ = failed.set((e.kind(), e.to_string()));
                    }),
                };
                if let Err(e) = &r
                    && first.is_none()
                {
                    first = Some(io::Error::new(e.kind(), e.to_string()));
                }
                let _ = reply.send(r);
            }
        }
    }
    if first.is_none()
        && let Err(e) = w.flush()
    {
        first = Some(e);
    }
    (w, first)
}

impl<W: Write + Send + 'static> Write for Offload<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if let Some(e) = self.error() {
            return Err(e);
        }
        let room = CHUNK.saturating_sub(self.buf.len());
        if room == 0 {
            self.hand_off()?;
            return self.write(data);
        }
        let n = data.len().min(room);
        self.buf.extend_from_slice(&data[..n]);
        Ok(n)
    }

    fn write_all(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let n = self.write(data)?;
            data = &data[n..];
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.hand_off()?;
        let (reply_tx, reply_rx) = bounded(1);
        let tx = self.tx.as_ref().ok_or_else(Self::gone)?;
        tx.send(Msg::Flush(reply_tx))
            .map_err(|_| self.error().unwrap_or_else(Self::gone))?;
        reply_rx.recv().unwrap_or_else(|_| Err(Self::gone()))
    }
}

impl<W: Write + Send + 'static> Drop for Offload<W> {
    /// Without [`Offload::finish`] (an error path): the thread writes what
    /// it was handed and ends; the inner writer is dropped there (an
    /// unfinished `.partial` output removes itself).
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A writer that records what it got, in `write` calls of at most `max`
    /// bytes, and fails after `fail_after` bytes.
    #[derive(Clone, Debug)]
    struct Sink {
        got: Arc<Mutex<Vec<u8>>>,
        max: usize,
        fail_after: usize,
        flushes: Arc<Mutex<usize>>,
    }

    impl Sink {
        fn new(max: usize, fail_after: usize) -> Sink {
            Sink {
                got: Arc::default(),
                max,
                fail_after,
                flushes: Arc::default(),
            }
        }
    }

    impl Write for Sink {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            let mut g = self.got.lock().unwrap();
            if g.len() >= self.fail_after {
                return Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"));
            }
            let n = b.len().min(self.max).min(self.fail_after - g.len());
            g.extend_from_slice(&b[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            *self.flushes.lock().unwrap() += 1;
            Ok(())
        }
    }

    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    #[test]
    fn bytes_arrive_in_order_across_chunks() {
        let s = Sink::new(4096, usize::MAX);
        let mut o = Offload::new(s.clone(), "t").unwrap();
        let data = pattern(3 * CHUNK + 12345);
        // Odd-sized writes, some larger than a chunk.
        let mut rest = &data[..];
        for size in [1, 17, CHUNK + 3, 999, 2 * CHUNK].iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let n = (*size).min(rest.len());
            o.write_all(&rest[..n]).unwrap();
            rest = &rest[n..];
        }
        o.finish().unwrap();
        assert_eq!(*s.got.lock().unwrap(), data);
    }

    #[test]
    fn flush_reaches_the_inner_writer() {
        let s = Sink::new(usize::MAX, usize::MAX);
        let mut o = Offload::new(s.clone(), "t").unwrap();
        o.write_all(b"abc").unwrap();
        o.flush().unwrap();
        assert_eq!(*s.got.lock().unwrap(), b"abc");
        assert_eq!(*s.flushes.lock().unwrap(), 1);
        o.finish().unwrap();
    }

    #[test]
    fn the_first_error_is_returned_and_nothing_follows_it() {
        let s = Sink::new(usize::MAX, CHUNK + 10);
        let mut o = Offload::new(s.clone(), "t").unwrap();
        let data = pattern(8 * CHUNK);
        let mut err = None;
        for c in data.chunks(1000) {
            if let Err(e) = o.write_all(c) {
                err = Some(e);
                break;
            }
        }
        let e = match err {
            Some(e) => e,
            None => o.finish().unwrap_err(),
        };
        assert_eq!(e.kind(), io::ErrorKind::StorageFull);
        assert_eq!(s.got.lock().unwrap().len(), CHUNK + 10);
    }

    #[test]
    fn an_error_at_the_end_is_returned_by_finish() {
        let s = Sink::new(usize::MAX, 10);
        let mut o = Offload::new(s, "t").unwrap();
        o.write_all(&pattern(100)).unwrap();
        assert_eq!(o.finish().unwrap_err().kind(), io::ErrorKind::StorageFull);
    }

    #[test]
    fn dropping_without_finish_ends_the_thread() {
        let s = Sink::new(usize::MAX, usize::MAX);
        let mut o = Offload::new(s.clone(), "t").unwrap();
        o.write_all(&pattern(CHUNK + 1)).unwrap();
        drop(o);
        // The full chunk was handed off and written; the rest was not.
        assert_eq!(s.got.lock().unwrap().len(), CHUNK);
    }
}
