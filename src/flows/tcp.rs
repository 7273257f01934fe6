//! Bounded TCP reassembly, one [`TcpStream`] per direction.
//!
//! Heads up: before changing this file, read RFC 9293 §3.4 (sequence numbers,
//! modulo-2^32 comparison) and §3.10.7.4 (segment trimming); RFC 793 §3.3 says
//! the same in older words. Suricata's `stream-tcp-reassemble.c` and smoltcp's
//! `src/storage/assembler.rs` are the models for the bookkeeping and the caps.
//!
//! # What this module owns
//! Turning segments of *one direction* of a connection, seen by a passive
//! observer in any order and any number of times, into in-order bytes, and
//! saying explicitly where bytes are missing. It does not track the TCP state
//! machine of the endpoints and never looks at ACKs or windows: an observer
//! cannot know what an endpoint accepted, only what crossed the air.
//!
//! # Guarantees
//! - Never panics on any `(seq, flags, payload)`; sequence arithmetic wraps
//!   explicitly (`wrapping_*`), so overflow checks never fire.
//! - Memory per direction is bounded: at most [`MAX_BUFFERED_PER_DIRECTION`]
//!   payload bytes in at most [`MAX_SEGMENTS_PER_DIRECTION`] buffered pieces.
//!   When either cap is exceeded the oldest hole is given up: a
//!   [`StreamEvent::Gap`] is emitted and counted in
//!   [`TcpStreamStats::cap_evictions`], then delivery continues.
//! - Every byte position of the stream is reported exactly once, either as
//!   [`StreamEvent::Data`] or inside a [`StreamEvent::Gap`], in order.
//! - Work per segment is `O(k log n)` for `k` buffered pieces the segment
//!   overlaps; each byte is copied at most once (out-of-order only; in-order
//!   segments are delivered straight from the caller's buffer).
//!
//! # Policies
//! - **Start**: a SYN fixes the ISN; data starts at ISN + 1. Without a SYN
//!   (capture started mid-stream) the first segment seen sets the base, and
//!   bytes before it are unknown ([`TcpStream::is_mid_stream`]).
//! - **Overlaps**: bytes already delivered are trimmed (counted as
//!   duplicates). Among buffered out-of-order bytes the first copy wins; an
//!   in-order segment is delivered as it is and later buffered copies of the
//!   same bytes are trimmed.
//! - **Window**: segments starting more than [`MAX_AHEAD`] bytes past the next
//!   expected byte are dropped (counted); they cannot belong to this stream.
//! - **FIN / flush**: on FIN, and on [`TcpStream::flush`], holes that remain
//!   are given up (a gap, then the data after it), because a monitor-mode
//!   observer usually misses a frame that the receiver did get, so the
//!   retransmission it waits for would never come.
//! - **RST**: buffered data is flushed, then [`StreamEvent::Rst`]. A RST is
//!   taken at face value: an observer cannot check it against a window.
//! - After FIN or RST the stream is closed; later segments are counted in
//!   [`TcpStreamStats::after_close`] and ignored.

use std::collections::BTreeMap;

/// Buffered out-of-order payload per direction, in bytes. 256 KiB covers a
/// full default Linux receive window of reordering; TP-Link messages are far
/// smaller (a `get_sysinfo` reply is about 1 KiB).
pub const MAX_BUFFERED_PER_DIRECTION: usize = 256 * 1024;

/// Buffered out-of-order pieces per direction. Bounds the `BTreeMap` overhead
/// when a peer (or an attacker) sends many one-byte segments around holes.
pub const MAX_SEGMENTS_PER_DIRECTION: usize = 4096;

/// How far past the next expected byte a segment may start, in bytes. 2^30 is
/// the largest window RFC 7323 §2.3 allows (window scale 14); anything further
/// is a different connection or garbage.
pub const MAX_AHEAD: u64 = 1 << 30;

/// TCP control bits as they appear in byte 13 of the header (RFC 9293 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;

    pub fn fin(self) -> bool {
        self.0 & Self::FIN != 0
    }
    pub fn syn(self) -> bool {
        self.0 & Self::SYN != 0
    }
    pub fn rst(self) -> bool {
        self.0 & Self::RST != 0
    }
    pub fn ack(self) -> bool {
        self.0 & Self::ACK != 0
    }
}

/// What a stream hands its consumer, in stream order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEvent<'a> {
    /// The next in-order bytes.
    Data(&'a [u8]),
    /// `len` bytes of the stream that will never be delivered.
    Gap { len: u64 },
    /// The sender's FIN: every byte before it has been reported.
    Fin,
    /// A RST was seen; the stream is closed.
    Rst,
}

/// [`StreamEvent`] with owned data, for callers that collect events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnedStreamEvent {
    Data(Vec<u8>),
    Gap { len: u64 },
    Fin,
    Rst,
}

impl From<StreamEvent<'_>> for OwnedStreamEvent {
    fn from(e: StreamEvent<'_>) -> Self {
        match e {
            StreamEvent::Data(d) => OwnedStreamEvent::Data(d.to_vec()),
            StreamEvent::Gap { len } => OwnedStreamEvent::Gap { len },
            StreamEvent::Fin => OwnedStreamEvent::Fin,
            StreamEvent::Rst => OwnedStreamEvent::Rst,
        }
    }
}

/// Per-direction counters. Every byte not delivered as data lands in one of
/// `duplicate_bytes`, `gap_bytes` or a dropped segment counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpStreamStats {
    /// Segments offered to [`TcpStream::push`].
    pub segments: u64,
    /// Bytes delivered as [`StreamEvent::Data`].
    pub delivered_bytes: u64,
    /// Payload bytes dropped because they were already delivered or buffered
    /// (retransmissions and overlaps).
    pub duplicate_bytes: u64,
    /// Segments that arrived ahead of a hole and were buffered.
    pub out_of_order_segments: u64,
    /// [`StreamEvent::Gap`]s emitted, for any reason.
    pub gaps: u64,
    /// Bytes covered by those gaps.
    pub gap_bytes: u64,
    /// Gaps forced by [`MAX_BUFFERED_PER_DIRECTION`] or
    /// [`MAX_SEGMENTS_PER_DIRECTION`].
    pub cap_evictions: u64,
    /// Segments dropped for starting more than [`MAX_AHEAD`] bytes ahead.
    pub out_of_window: u64,
    /// Segments seen after FIN or RST closed the stream.
    pub after_close: u64,
    /// SYNs whose sequence number disagrees with the ISN already known.
    pub conflicting_syn: u64,
}

/// Reassembly state for one direction of one TCP connection.
#[derive(Debug, Clone, Default)]
pub struct TcpStream {
    /// Sequence number of the next byte to report (RFC 9293 §3.4, mod 2^32).
    next_seq: u32,
    /// Stream offset of `next_seq`: bytes reported so far, data plus gaps.
    /// 64 bits, so it never wraps even when the sequence space does.
    offset: u64,
    /// The SYN's sequence number, when a SYN was seen.
    isn: Option<u32>,
    /// Set by the first segment (SYN or not); before that nothing is known.
    started: bool,
    /// The first segment was not a SYN, so earlier bytes are unknown.
    mid_stream: bool,
    /// Out-of-order bytes by stream offset. Pieces never overlap each other
    /// and all start after `offset`.
    pending: BTreeMap<u64, Vec<u8>>,
    /// Sum of the lengths in `pending`.
    buffered: usize,
    /// Stream offset of the FIN, once seen.
    fin_at: Option<u64>,
    /// FIN delivered or RST seen.
    closed: bool,
    stats: TcpStreamStats,
}

impl TcpStream {
    pub fn new() -> Self {
        Self::default()
    }

    /// Offers one segment; in-order results are passed to `emit`.
    ///
    /// `seq` is the segment's sequence number, `payload` its data (TCP
    /// options already stripped).
    pub fn push<F>(&mut self, seq: u32, flags: TcpFlags, payload: &[u8], mut emit: F)
    where
        F: FnMut(StreamEvent<'_>),
    {
        self.stats.segments += 1;
        if self.closed {
            self.stats.after_close += 1;
            return;
        }
        if flags.rst() {
            self.closed = true;
            self.flush_pending(&mut emit);
            emit(StreamEvent::Rst);
            return;
        }
        let mut seq = seq;
        if flags.syn() {
            match self.isn {
                Some(isn) if isn == seq => {}
                Some(_) => {
                    self.stats.conflicting_syn += 1;
                    return;
                }
                None if !self.started => {
                    self.isn = Some(seq);
                    self.started = true;
                    self.next_seq = seq.wrapping_add(1);
                }
                None => {
                    // A SYN after mid-stream data: the base is already set and
                    // this SYN is either very late or from another connection.
                    self.stats.conflicting_syn += 1;
                    return;
                }
            }
            // SYN occupies one sequence number; data (TFO) follows it.
            seq = seq.wrapping_add(1);
        } else if !self.started {
            self.started = true;
            self.mid_stream = true;
            self.next_seq = seq;
        }

        // Distance from the next expected byte, interpreted as a signed 32-bit
        // difference (RFC 9293 §3.4: comparisons are modulo 2^32).
        let rel = i64::from(seq.wrapping_sub(self.next_seq) as i32);
        if rel > 0 && rel as u64 > MAX_AHEAD {
            self.stats.out_of_window += 1;
            return;
        }
        let start = self.offset as i128 + i128::from(rel);
        let end = start + payload.len() as i128;
        if flags.fin() && self.fin_at.is_none() && end >= self.offset as i128 {
            self.fin_at = Some(end as u64);
        }

        let offset = self.offset as i128;
        if end <= offset {
            self.stats.duplicate_bytes += payload.len() as u64;
        } else {
            let skip = if start < offset {
                (offset - start) as usize
            } else {
                0
            };
            self.stats.duplicate_bytes += skip as u64;
            let data = &payload[skip..];
            let start = start.max(offset) as u64;
            if start == self.offset {
                self.deliver(data, &mut emit);
                self.drain(&mut emit);
            } else {
                self.stats.out_of_order_segments += 1;
                self.insert_pending(start, data);
                self.enforce_caps(&mut emit);
            }
        }

        if let Some(fin) = self.fin_at {
            self.finish_at(fin, &mut emit);
        }
    }

    /// Like [`push`](Self::push), collecting the events.
    pub fn push_collect(
        &mut self,
        seq: u32,
        flags: TcpFlags,
        payload: &[u8],
    ) -> Vec<OwnedStreamEvent> {
        let mut out = Vec::new();
        self.push(seq, flags, payload, |e| out.push(e.into()));
        out
    }

    /// Gives up every hole: reports the buffered bytes after gaps, and the FIN
    /// if one was seen. The stream stays usable; later segments continue from
    /// the new position. Call on idle expiry and at end of capture.
    pub fn flush<F>(&mut self, mut emit: F)
    where
        F: FnMut(StreamEvent<'_>),
    {
        if self.closed {
            return;
        }
        self.flush_pending(&mut emit);
        if let Some(fin) = self.fin_at {
            self.finish_at(fin, &mut emit);
        }
    }

    /// Gives up every hole now, as the per-direction caps do (counted in
    /// [`TcpStreamStats::cap_evictions`]): a gap, then the buffered bytes
    /// after it, so nothing stays buffered. For a caller enforcing a memory
    /// budget across many streams. The stream stays open. (A stream that has
    /// seen its FIN holds nothing: the FIN gives up the holes before it at
    /// once and closes the stream.)
    pub fn give_up_holes<F>(&mut self, mut emit: F)
    where
        F: FnMut(StreamEvent<'_>),
    {
        if self.closed || self.pending.is_empty() {
            return;
        }
        self.stats.cap_evictions += 1;
        self.flush_pending(&mut emit);
    }

    /// Like [`flush`](Self::flush), collecting the events.
    pub fn flush_collect(&mut self) -> Vec<OwnedStreamEvent> {
        let mut out = Vec::new();
        self.flush(|e| out.push(e.into()));
        out
    }

    pub fn stats(&self) -> &TcpStreamStats {
        &self.stats
    }
    /// The ISN, if the SYN was seen.
    pub fn isn(&self) -> Option<u32> {
        self.isn
    }
    /// True when the first segment seen was not a SYN.
    pub fn is_mid_stream(&self) -> bool {
        self.mid_stream
    }
    /// True once FIN was delivered or RST seen.
    pub fn is_closed(&self) -> bool {
        self.closed
    }
    /// Bytes held out of order.
    pub fn buffered_bytes(&self) -> usize {
        self.buffered
    }
    /// Bytes reported so far (data and gaps).
    pub fn stream_offset(&self) -> u64 {
        self.offset
    }

    fn deliver<F: FnMut(StreamEvent<'_>)>(&mut self, data: &[u8], emit: &mut F) {
        if data.is_empty() {
            return;
        }
        self.offset += data.len() as u64;
        self.next_seq = self.next_seq.wrapping_add(data.len() as u32);
        self.stats.delivered_bytes += data.len() as u64;
        emit(StreamEvent::Data(data));
    }

    fn gap_to<F: FnMut(StreamEvent<'_>)>(&mut self, to: u64, emit: &mut F) {
        if to <= self.offset {
            return;
        }
        let len = to - self.offset;
        self.offset = to;
        // Truncation is the modulo-2^32 addition we want.
        self.next_seq = self.next_seq.wrapping_add(len as u32);
        self.stats.gaps += 1;
        self.stats.gap_bytes += len;
        emit(StreamEvent::Gap { len });
    }

    /// Delivers buffered pieces that have become contiguous.
    fn drain<F: FnMut(StreamEvent<'_>)>(&mut self, emit: &mut F) {
        while let Some(entry) = self.pending.first_entry() {
            let key = *entry.key();
            if key > self.offset {
                break;
            }
            let piece = entry.remove();
            self.buffered -= piece.len();
            let end = key + piece.len() as u64;
            if end <= self.offset {
                self.stats.duplicate_bytes += piece.len() as u64;
                continue;
            }
            let skip = (self.offset - key) as usize;
            self.stats.duplicate_bytes += skip as u64;
            self.deliver(&piece[skip..], emit);
        }
    }

    /// Stores `data` at `start` (> offset), keeping only bytes no buffered
    /// piece already holds (first copy wins).
    fn insert_pending(&mut self, start: u64, data: &[u8]) {
        let end = start + data.len() as u64;
        let mut cur = start;
        if let Some((&k, v)) = self.pending.range(..=cur).next_back() {
            let e = k + v.len() as u64;
            if e > cur {
                cur = e.min(end);
            }
        }
        let mut inserted = 0usize;
        while cur < end {
            let next = self
                .pending
                .range(cur..)
                .next()
                .map(|(&k, v)| (k, k + v.len() as u64))
                .filter(|&(k, _)| k < end);
            let hole_end = next.map_or(end, |(k, _)| k);
            if hole_end > cur {
                let piece = data[(cur - start) as usize..(hole_end - start) as usize].to_vec();
                inserted += piece.len();
                self.buffered += piece.len();
                self.pending.insert(cur, piece);
            }
            match next {
                Some((_, e)) => cur = e,
                None => break,
            }
        }
        self.stats.duplicate_bytes += (data.len() - inserted) as u64;
    }

    fn enforce_caps<F: FnMut(StreamEvent<'_>)>(&mut self, emit: &mut F) {
        while self.buffered > MAX_BUFFERED_PER_DIRECTION
            || self.pending.len() > MAX_SEGMENTS_PER_DIRECTION
        {
            let Some((&first, _)) = self.pending.first_key_value() else {
                break;
            };
            self.stats.cap_evictions += 1;
            self.gap_to(first, emit);
            self.drain(emit);
        }
    }

    /// Gives up every hole before the last buffered byte.
    fn flush_pending<F: FnMut(StreamEvent<'_>)>(&mut self, emit: &mut F) {
        while let Some((&first, _)) = self.pending.first_key_value() {
            self.gap_to(first, emit);
            self.drain(emit);
        }
    }

    /// The FIN is at stream offset `fin`: give up remaining holes before it
    /// and report it.
    fn finish_at<F: FnMut(StreamEvent<'_>)>(&mut self, fin: u64, emit: &mut F) {
        // Only buffered bytes before the FIN count; anything after it is
        // nonsense from the sender and is dropped with the stream.
        while let Some((&first, _)) = self.pending.first_key_value() {
            if first >= fin {
                break;
            }
            self.gap_to(first, emit);
            self.drain(emit);
        }
        self.gap_to(fin, emit);
        if self.offset >= fin {
            self.closed = true;
            let dropped: usize = self.pending.values().map(Vec::len).sum();
            self.stats.duplicate_bytes += dropped as u64;
            self.pending.clear();
            self.buffered = 0;
            emit(StreamEvent::Fin);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::OwnedStreamEvent as E;
    use super::*;

    const SYN: TcpFlags = TcpFlags(TcpFlags::SYN);
    const NONE: TcpFlags = TcpFlags(TcpFlags::ACK);
    const FIN: TcpFlags = TcpFlags(TcpFlags::FIN | TcpFlags::ACK);
    const RST: TcpFlags = TcpFlags(TcpFlags::RST);

    fn data(events: &[E]) -> Vec<u8> {
        let mut v = Vec::new();
        for e in events {
            if let E::Data(d) = e {
                v.extend_from_slice(d);
            }
        }
        v
    }

    fn gaps(events: &[E]) -> u64 {
        events
            .iter()
            .map(|e| if let E::Gap { len } = e { *len } else { 0 })
            .sum()
    }

    #[test]
    fn in_order_after_syn() {
        let mut s = TcpStream::new();
        assert!(s.push_collect(1000, SYN, b"").is_empty());
        assert_eq!(
            s.push_collect(1001, NONE, b"abc"),
            [E::Data(b"abc".to_vec())]
        );
        assert_eq!(s.push_collect(1004, NONE, b"de"), [E::Data(b"de".to_vec())]);
        assert_eq!(s.push_collect(1006, FIN, b""), [E::Fin]);
        assert!(s.is_closed());
        assert_eq!(s.isn(), Some(1000));
        assert!(!s.is_mid_stream());
        assert_eq!(s.push_collect(1006, NONE, b"x"), []);
        assert_eq!(s.stats().after_close, 1);
    }

    #[test]
    fn syn_with_data() {
        let mut s = TcpStream::new();
        assert_eq!(s.push_collect(7, SYN, b"tfo"), [E::Data(b"tfo".to_vec())]);
        assert_eq!(s.push_collect(11, NONE, b"!"), [E::Data(b"!".to_vec())]);
    }

    #[test]
    fn out_of_order_is_held_then_released() {
        let mut s = TcpStream::new();
        s.push_collect(0, SYN, b"");
        assert!(s.push_collect(4, NONE, b"def").is_empty());
        assert_eq!(s.buffered_bytes(), 3);
        let ev = s.push_collect(1, NONE, b"abc");
        assert_eq!(ev, [E::Data(b"abc".to_vec()), E::Data(b"def".to_vec())]);
        assert_eq!(s.buffered_bytes(), 0);
        assert_eq!(s.stats().out_of_order_segments, 1);
    }

    #[test]
    fn duplicates_and_overlaps_are_trimmed() {
        let mut s = TcpStream::new();
        s.push_collect(0, SYN, b"");
        assert_eq!(data(&s.push_collect(1, NONE, b"abcd")), b"abcd");
        // Full retransmission.
        assert!(s.push_collect(1, NONE, b"abcd").is_empty());
        // Overlap on the left.
        assert_eq!(data(&s.push_collect(3, NONE, b"cdef")), b"ef");
        // Buffered overlap: "ijk" then "hXXXl" around it; the first copy wins.
        assert!(s.push_collect(9, NONE, b"ijk").is_empty());
        assert!(s.push_collect(8, NONE, b"hXXXl").is_empty());
        assert_eq!(data(&s.push_collect(7, NONE, b"g")), b"ghijkl");
        assert_eq!(s.stream_offset(), 12);
        assert_eq!(s.stats().delivered_bytes, 12);
        // abcd again (4), "cd" of "cdef" (2), "XXX" (3).
        assert_eq!(s.stats().duplicate_bytes, 9);
    }

    #[test]
    fn first_buffered_copy_wins() {
        let mut s = TcpStream::new();
        s.push_collect(0, SYN, b"");
        s.push_collect(3, NONE, b"CD");
        s.push_collect(2, NONE, b"xyzw"); // 'y','z' overlap "CD"
        let ev = s.push_collect(1, NONE, b"a");
        assert_eq!(data(&ev), b"axCDw");
    }

    #[test]
    fn sequence_wraparound() {
        let mut s = TcpStream::new();
        let isn = u32::MAX - 2;
        s.push_collect(isn, SYN, b"");
        // First data byte at u32::MAX - 1; the segment crosses 2^32.
        assert_eq!(
            data(&s.push_collect(isn.wrapping_add(1), NONE, b"abcd")),
            b"abcd"
        );
        assert_eq!(data(&s.push_collect(2, NONE, b"ef")), b"ef");
        // Out of order across the wrap.
        let mut t = TcpStream::new();
        t.push_collect(isn, SYN, b"");
        assert!(t.push_collect(0, NONE, b"cd").is_empty());
        assert_eq!(data(&t.push_collect(u32::MAX - 1, NONE, b"ab")), b"abcd");
    }

    #[test]
    fn mid_stream_start() {
        let mut s = TcpStream::new();
        assert_eq!(data(&s.push_collect(5000, NONE, b"xy")), b"xy");
        assert!(s.is_mid_stream());
        assert_eq!(s.isn(), None);
        // Bytes before the base are unknown: treated as already delivered.
        assert!(s.push_collect(4990, NONE, b"0123456789").is_empty());
        assert_eq!(data(&s.push_collect(5002, NONE, b"z")), b"z");
        // A SYN now is late or foreign.
        assert!(s.push_collect(1, SYN, b"").is_empty());
        assert_eq!(s.stats().conflicting_syn, 1);
    }

    #[test]
    fn hole_given_up_on_fin() {
        let mut s = TcpStream::new();
        s.push_collect(0, SYN, b"");
        s.push_collect(1, NONE, b"ab");
        s.push_collect(6, NONE, b"fg");
        let ev = s.push_collect(8, FIN, b"h");
        assert_eq!(
            ev,
            [
                E::Gap { len: 3 },
                E::Data(b"fg".to_vec()),
                E::Data(b"h".to_vec()),
                E::Fin
            ]
        );
        assert_eq!(s.stats().gap_bytes, 3);
    }

    #[test]
    fn fin_out_of_order_with_missing_tail() {
        let mut s = TcpStream::new();
        s.push_collect(0, SYN, b"");
        // FIN carrying data at 5..7; bytes 1..5 never arrive.
        let ev = s.push_collect(5, FIN, b"xy");
        assert_eq!(ev, [E::Gap { len: 4 }, E::Data(b"xy".to_vec()), E::Fin]);
    }

    #[test]
    fn hole_given_up_on_flush_then_continue() {
        let mut s = TcpStream::new();
        s.push_collect(0, SYN, b"");
        s.push_collect(11, NONE, b"later");
        assert_eq!(
            s.flush_collect(),
            [E::Gap { len: 10 }, E::Data(b"later".to_vec())]
        );
        assert_eq!(data(&s.push_collect(16, NONE, b"!")), b"!");
        assert!(!s.is_closed());
    }

    #[test]
    fn rst_flushes_and_closes() {
        let mut s = TcpStream::new();
        s.push_collect(0, SYN, b"");
        s.push_collect(3, NONE, b"c");
        let ev = s.push_collect(9, RST, b"");
        assert_eq!(ev, [E::Gap { len: 2 }, E::Data(b"c".to_vec()), E::Rst]);
        assert!(s.is_closed());
    }

    #[test]
    fn byte_cap_forces_gap() {
        let mut s = TcpStream::new();
        s.push_collect(0, SYN, b"");
        let chunk = vec![7u8; 1024];
        let mut events = Vec::new();
        // Leave byte 1 missing; buffer from 2 onwards until past the cap.
        let n = MAX_BUFFERED_PER_DIRECTION / chunk.len() + 1;
        for i in 0..n {
            let seq = 2 + (i * chunk.len()) as u32;
            events.extend(s.push_collect(seq, NONE, &chunk));
        }
        assert_eq!(events[0], E::Gap { len: 1 });
        assert_eq!(s.stats().cap_evictions, 1);
        assert_eq!(data(&events).len(), n * chunk.len());
        assert!(s.buffered_bytes() <= MAX_BUFFERED_PER_DIRECTION);
    }

    #[test]
    fn give_up_holes_keeps_the_stream_open() {
        let mut s = TcpStream::new();
        s.push_collect(0, SYN, b"");
        assert!(s.push_collect(4, NONE, b"def").is_empty());
        let mut ev = Vec::new();
        s.give_up_holes(|e| ev.push(E::from(e)));
        assert_eq!(ev, [E::Gap { len: 3 }, E::Data(b"def".to_vec())]);
        assert_eq!(s.buffered_bytes(), 0);
        assert_eq!(s.stats().cap_evictions, 1);
        assert!(!s.is_closed());
        // Delivery continues after the given-up hole; late bytes are duplicates.
        assert_eq!(s.push_collect(7, NONE, b"g"), [E::Data(b"g".to_vec())]);
        assert!(s.push_collect(1, NONE, b"abc").is_empty());
        // Nothing buffered: nothing to give up, nothing counted.
        s.give_up_holes(|_| panic!("no event"));
        assert_eq!(s.stats().cap_evictions, 1);
    }

    #[test]
    fn segment_cap_forces_gap() {
        let mut s = TcpStream::new();
        s.push_collect(0, SYN, b"");
        let mut events = Vec::new();
        // One-byte pieces with one-byte holes between them.
        for i in 0..=MAX_SEGMENTS_PER_DIRECTION as u32 {
            events.extend(s.push_collect(3 + 2 * i, NONE, b"x"));
        }
        assert!(s.stats().cap_evictions >= 1);
        assert!(gaps(&events) >= 2);
        assert!(s.buffered_bytes() <= MAX_SEGMENTS_PER_DIRECTION);
    }

    #[test]
    fn far_ahead_is_out_of_window() {
        let mut s = TcpStream::new();
        s.push_collect(0, SYN, b"");
        assert!(
            s.push_collect((MAX_AHEAD + 10) as u32, NONE, b"zz")
                .is_empty()
        );
        assert_eq!(s.stats().out_of_window, 1);
        assert_eq!(s.buffered_bytes(), 0);
    }

    #[test]
    fn every_truncation_of_a_stream() {
        // Deliver a 9-byte message cut at every point, both orders.
        let msg = b"abcdefghi";
        for cut in 0..=msg.len() {
            for reverse in [false, true] {
                let mut s = TcpStream::new();
                s.push_collect(100, SYN, b"");
                let (a, b) = msg.split_at(cut);
                let mut ev = Vec::new();
                let segs = [(101u32, a), (101 + cut as u32, b)];
                let order: Vec<_> = if reverse {
                    segs.iter().rev().collect()
                } else {
                    segs.iter().collect()
                };
                for (seq, p) in order {
                    ev.extend(s.push_collect(*seq, NONE, p));
                }
                assert_eq!(data(&ev), msg, "cut {cut} reverse {reverse}");
            }
        }
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        /// A stream, a segmentation that covers it, extra overlapping
        /// retransmissions, all shuffled.
        fn segments() -> impl Strategy<Value = (u32, Vec<u8>, Vec<(usize, usize)>)> {
            (
                any::<u32>(),
                proptest::collection::vec(any::<u8>(), 1..3000),
                proptest::collection::vec(1usize..400, 1..40),
                proptest::collection::vec((any::<prop::sample::Index>(), 0usize..300), 0..20),
            )
                .prop_flat_map(|(isn, data, cuts, extra)| {
                    let mut segs = Vec::new();
                    let mut at = 0;
                    for c in cuts.iter().cycle() {
                        if at >= data.len() {
                            break;
                        }
                        let end = (at + c).min(data.len());
                        segs.push((at, end));
                        at = end;
                    }
                    for (ix, len) in extra {
                        let s = ix.index(data.len());
                        segs.push((s, (s + len).min(data.len())));
                    }
                    (Just(isn), Just(data), Just(segs).prop_shuffle())
                })
        }

        proptest! {
            #[test]
            fn any_permutation_and_duplication_yields_the_stream(
                (isn, data, segs) in segments()
            ) {
                let mut s = TcpStream::new();
                let mut ev = s.push_collect(isn, SYN, b"");
                for (a, b) in &segs {
                    let seq = isn.wrapping_add(1).wrapping_add(*a as u32);
                    ev.extend(s.push_collect(seq, NONE, &data[*a..*b]));
                }
                ev.extend(s.flush_collect());
                prop_assert_eq!(gaps(&ev), 0);
                prop_assert_eq!(super::data(&ev), data);
                prop_assert_eq!(s.buffered_bytes(), 0);
            }

            #[test]
            fn hostile_segments_never_panic_and_stay_bounded(
                segs in proptest::collection::vec(
                    (any::<u32>(), any::<u8>(), proptest::collection::vec(any::<u8>(), 0..64)),
                    0..200,
                )
            ) {
                let mut s = TcpStream::new();
                let mut reported = 0u64;
                for (seq, flags, payload) in &segs {
                    s.push(*seq, TcpFlags(*flags), payload, |e| match e {
                        StreamEvent::Data(d) => reported += d.len() as u64,
                        StreamEvent::Gap { len } => reported += len,
                        _ => {}
                    });
                    prop_assert!(s.buffered_bytes() <= MAX_BUFFERED_PER_DIRECTION);
                }
                prop_assert_eq!(reported, s.stream_offset());
            }
        }
    }
}
