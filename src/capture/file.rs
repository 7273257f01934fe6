//! Reading pcap and pcapng capture files, in Rust, from any [`Read`]: regular
//! files, FIFOs and standard input.
//!
//! [`Reader`] owns the format: it detects it from the first bytes, keeps the
//! per-section and per-interface state pcapng needs, and hands out one
//! [`FileFrame`] at a time, borrowed from its buffer (zero-copy). Every frame
//! carries its own link type and interface: a pcapng file whose interfaces
//! have different link types is read, where libpcap refuses it.
//!
//! # Formats
//! - pcap (draft-ietf-opsawg-pcap §4–5, pcap-savefile(5)): magic `a1b2c3d4`
//!   (µs) and `a1b23c4d` (ns) in either byte order, and `a1b2cd34`, the
//!   "modified" format of Alexey Kuznetzov's patched libpcap (µs, a 24-byte
//!   record header), as libpcap's `sf-pcap.c` reads it. The link type is the
//!   low 26 bits of the header's field (`LT_LINKTYPE`; the FCS bits above are
//!   ignored: `wire::link` detects the FCS itself).
//! - pcapng (draft-ietf-opsawg-pcapng): the Section Header Block in either
//!   byte order, several sections per file (each resets the interfaces and
//!   the byte order, §4.1), Interface Description Blocks with `if_tsresol`
//!   (a power of 10, or of 2 when the high bit is set) and `if_tsoffset`
//!   (§4.2), Enhanced Packet Blocks (§4.3), Simple Packet Blocks (§4.4: no
//!   timestamp, interface 0, captured length = min(original length, snaplen
//!   of interface 0)), the obsolete Packet Block (Appendix A). Every other
//!   block (NRB, ISB, DSB, custom, unknown) is skipped by its length.
//!
//! The link type reported is the LINKTYPE_ value stored in the file (the
//! tcpdump.org link-layer header types registry). For every link type this
//! project reads it equals libpcap's DLT_ value, except LINKTYPE_RAW (101),
//! which libpcap maps to DLT_RAW (12, or 14 on OpenBSD); `flows::ip`
//! accepts all three.
//!
//! # Guarantees
//! Hostile files never panic and never make it allocate past the caps:
//! a record's captured length is at most [`MAX_CAPLEN`], a pcapng block at
//! most [`MAX_BLOCK_LEN`], a section at most [`MAX_INTERFACES`] interfaces;
//! past them reading stops with an error naming the byte offset. The buffer
//! grows only to hold one whole block. A torn last record is an error; the
//! frames returned before it were complete. Errors are a [`FileError`],
//! which [`crate::capture::FileSource`] turns into a `CaptureError` naming
//! the path and the frames read.
//!
//! # I/O
//! Input is read in [`READ_SIZE`] reads into one reused buffer (while
//! [`SharedBytes`] of it are held, into another from a small pool); a record that
//! straddles the end of the buffer is moved to the front (at most one record,
//! never the whole buffer). Decrypting a 315 MB pcap, `strace -c -e
//! trace=read` counts 331 `read` calls in all (libpcap's stdio made 76 831,
//! mostly of 4 KiB; 336 against 78 082 for the pcapng). A read asks for the
//! whole free buffer but the reader only waits for the bytes of the next
//! record, so a FIFO fed by a live `tcpdump -w -` delivers each frame as soon
//! as it is written.
//!
//! No mmap: it would need `unsafe`, works on regular files only, and a file
//! truncated while mapped kills the process with SIGBUS on the next access;
//! and it is not faster here: walking the records of the mapped file (no
//! checks at all, a ceiling for any mmap reader) ran at 0.76–0.90× this
//! reader's speed in three runs: the page faults cost more than the copy
//! they save.
//!
//! # Why hand-written (measured)
//! `tools/reader-bench` reads every frame of a 315 MB radiotap pcap
//! (`plugsniff bench --write-pcap`, 278 480 frames) and of its pcapng
//! conversion (`editcap -F pcapng`) with each reader, after checking that
//! all return the same frames (timestamps to the ns, lengths, link type,
//! bytes). Page cache warm, median of 7 rounds, the order rotating each
//! round; throughput relative to this reader (1 = 2.8 GB/s for the pcap,
//! 3.2 GB/s for the pcapng in that run; two earlier runs on a busier
//! machine, 1.0–1.5 GB/s, gave the same order, ratios within 0.2):
//!
//! | reader | pcap | pcapng |
//! |---|---|---|
//! | this reader, 1 MiB reads ([`READ_SIZE`]) | 1 | 1 |
//! | this reader, 256 KiB / 4 MiB reads | 1.00 / 0.96 | 0.98 / 0.91 |
//! | `pcap-parser` 0.17 (`create_reader`, 1 MiB) | 0.96 | 0.82 |
//! | `pcap-file` 2.0 | 0.82 | 0.68 |
//! | libpcap 1.10 (the `pcap` crate, the old `FileSource`) | 0.58 | 0.53 |
//! | mmap + record walk, no checks (ceiling) | 0.77 | 0.85 |
//! | `read` into a 1 MiB buffer, no parsing (floor of any reader) | 1.10 | 1.17 |
//!
//! The copy out of the page cache is most of the cost (the bare `read`
//! loop is only 1.1–1.2× faster than reading and parsing). `pcap-parser`
//! comes close on speed but is not correct enough to build on, and it
//! returns blocks, leaving interfaces, timestamp resolution and offset,
//! SPB lengths and section resets to the caller anyway. In 0.17 `build_ts_resolution`
//! returns `None` for every power-of-2 `if_tsresol` (it compares the byte
//! with its high bit still set against 63), `if_tsoffset` is read
//! little-endian whatever the section's byte order, seconds are truncated
//! to `u32`, there is no obsolete Packet Block, and a block larger than its
//! buffer shows only as a repeating `Incomplete` (rusticata/pcap-parser#29).
//! `pcap-file` 2.0 takes every EPB timestamp as nanoseconds whatever
//! `if_tsresol` says (1000× off for the default µs), refuses the
//! `a1b2cd34` magic, parses options into a `Vec` per block, and has its own
//! `unsafe` buffer code. libpcap refuses files whose interfaces have
//! different link types ("an interface has a type 1 different from the type
//! of the first interface"). The reader here is checked against tshark on
//! every real capture and on synthesized files of every variant
//! (`tests/file_reader.rs`), and fuzzed (`fuzz/fuzz_targets/pcap_reader.rs`).
//!
//! One file (about 950 lines without tests): pcap and pcapng share the
//! buffer, the refill and the error paths, and every bound is checked next to
//! the read it guards.

use std::io::{self, Read};
use std::sync::Arc;

use crate::wire::Ts;

/// Size of the buffer, so of one `read` call (unless a larger pcapng block
/// needs more). Measured (module doc): 256 KiB and 1 MiB are within noise
/// of each other, 4 MiB 4–20 % slower (the buffer leaves the CPU caches).
pub const READ_SIZE: usize = 1 << 20;

/// Largest captured length of one frame: libpcap's `MAXIMUM_SNAPLEN`
/// (262 144). Any real 802.11 frame (11 454-byte MPDUs) or Ethernet jumbo
/// frame fits; a larger length is corruption, refused before allocating.
pub const MAX_CAPLEN: u32 = 262_144;

/// Largest pcapng block: 16 MiB, libpcap's `INITIAL_MAX_BLOCKSIZE` and the
/// bound it keeps for non-packet blocks (name resolution, custom blocks).
pub const MAX_BLOCK_LEN: u32 = 16 << 20;

/// Most interfaces one pcapng section may describe (each costs 32 bytes of
/// state, so at most 2 MiB); more is refused as corruption.
pub const MAX_INTERFACES: usize = 65_536;

/// Bytes shown of a file that is not a capture.
const SHOWN_BYTES: usize = 16;

/// Earlier buffers kept for reuse once no [`SharedBytes`] holds them
/// (see [`Reader::next_frame_shared`]), and the largest kept: a buffer
/// grown for a huge block is freed, not kept.
pub const POOL_BUFFERS: usize = 32;
const POOL_MAX_LEN: usize = 2 * READ_SIZE;

/// A frame's bytes that stay valid after the reader has moved on: a
/// reference to the read buffer they are in ([`Reader::next_frame_shared`]),
/// so a frame is handed to other threads without being copied. The buffer
/// is reused once every `SharedBytes` into it is dropped.
#[derive(Clone)]
pub struct SharedBytes {
    buf: Arc<Vec<u8>>,
    start: usize,
    end: usize,
}

impl std::ops::Deref for SharedBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.buf.get(self.start..self.end).unwrap_or(&[])
    }
}

impl std::fmt::Debug for SharedBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SharedBytes({} bytes)", self.end - self.start)
    }
}

const PCAP_MAGIC_MICROS: u32 = 0xa1b2_c3d4;
const PCAP_MAGIC_NANOS: u32 = 0xa1b2_3c4d;
/// Kuznetzov's patched libpcap (libpcap `sf-pcap.c` `KUZNETZOV_TCPDUMP_MAGIC`).
const PCAP_MAGIC_MODIFIED: u32 = 0xa1b2_cd34;
const PCAP_HEADER_LEN: usize = 24;
const PCAP_RECORD_LEN: usize = 16;
/// `struct pcap_sf_patched_pkthdr`: the record header plus ifindex (4),
/// protocol (2), packet type (1) and padding (1).
const PCAP_MODIFIED_RECORD_LEN: usize = 24;
/// `LT_LINKTYPE()`: the link type in the low 26 bits; above are the FCS
/// length flag and bits (pcap-linktype(7)).
const PCAP_LINKTYPE_MASK: u32 = 0x03ff_ffff;

/// Section Header Block type, a palindrome so it reads the same in both orders.
const BT_SHB: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
const BT_IDB: u32 = 1;
const BT_PB: u32 = 2;
const BT_SPB: u32 = 3;
const BT_EPB: u32 = 6;
/// Byte-order magic of the SHB (§4.1).
const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;
/// Block type + total length ... total length.
const BLOCK_OVERHEAD: usize = 12;
/// SHB: overhead, byte-order magic, version, section length.
const SHB_MIN_LEN: usize = 28;
/// IDB: overhead, link type, reserved, snaplen.
const IDB_MIN_LEN: usize = 20;
/// EPB and PB: overhead, interface, timestamp (2×4), captured and original length.
const EPB_MIN_LEN: usize = 32;
/// SPB: overhead, original length.
const SPB_MIN_LEN: usize = 16;
const OPT_ENDOFOPT: u16 = 0;
const OPT_IF_TSRESOL: u16 = 9;
const OPT_IF_TSOFFSET: u16 = 14;
/// Without `if_tsresol`, timestamps are in microseconds (§4.2).
const DEFAULT_UNITS_PER_SEC: u64 = 1_000_000;
const NANOS_PER_SEC: u64 = 1_000_000_000;

/// The container format, as detected from the first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Classic pcap: `nanos` for the `a1b23c4d` magic, `modified` for
    /// `a1b2cd34`, `big_endian` for the byte order the file was written in.
    Pcap {
        nanos: bool,
        modified: bool,
        big_endian: bool,
    },
    /// pcapng; the byte order is per section.
    PcapNg,
}

/// One frame as read: borrowed from the reader's buffer until the next call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileFrame<'a> {
    pub ts: Ts,
    /// Length on the wire (may exceed `data.len()` when the capture was cut).
    pub orig_len: u32,
    /// Link type of the frame's interface (LINKTYPE_ value, see the module doc).
    pub dlt: i32,
    /// Interface index within its pcapng section (0 for pcap).
    pub interface: u32,
    /// The captured bytes, link-layer header included.
    pub data: &'a [u8],
}

/// Why a capture could not be read; offsets are from the start of the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("empty file, not a capture")]
    Empty,
    #[error("{format}-compressed: {tool} it first")]
    Compressed {
        format: &'static str,
        tool: &'static str,
    },
    /// The first bytes, escaped and in hex.
    #[error("not a pcap or pcapng file: starts with {0}")]
    NotCapture(String),
    #[error("unsupported pcap version {major}.{minor} (only 2.x is defined)")]
    PcapVersion { major: u16, minor: u16 },
    #[error(
        "section header at byte offset {offset}: unsupported pcapng version {major}.{minor} (only 1.x is defined)"
    )]
    PcapNgVersion { offset: u64, major: u16, minor: u16 },
    #[error("section header at byte offset {offset}: bad byte-order magic {magic:#010x}")]
    ByteOrderMagic { offset: u64, magic: u32 },
    #[error("truncated {what} at byte offset {offset}: {have} of {need} bytes")]
    Truncated {
        what: &'static str,
        offset: u64,
        have: u64,
        need: u64,
    },
    #[error(
        "{what} at byte offset {offset}: captured length {caplen} > maximum {max}",
        max = MAX_CAPLEN
    )]
    CaplenTooLarge {
        what: &'static str,
        offset: u64,
        caplen: u32,
    },
    #[error(
        "pcapng block at byte offset {offset}: block size {len} > maximum {max}",
        max = MAX_BLOCK_LEN
    )]
    BlockTooLarge { offset: u64, len: u32 },
    #[error("pcapng block at byte offset {offset}: bad block size {len} ({why})")]
    BadBlockLength {
        offset: u64,
        len: u32,
        why: &'static str,
    },
    #[error(
        "pcapng block at byte offset {offset}: block size {len} at its start but {trailer} at its end"
    )]
    TrailerMismatch { offset: u64, len: u32, trailer: u32 },
    #[error("{what} at byte offset {offset}: {why}")]
    Malformed {
        what: &'static str,
        offset: u64,
        why: String,
    },
    #[error(
        "{what} at byte offset {offset}: interface {id} is not defined (the section describes {count})"
    )]
    UnknownInterface {
        what: &'static str,
        offset: u64,
        id: u32,
        count: usize,
    },
    #[error(
        "interface description block at byte offset {offset}: more than {max} interfaces in one section",
        max = MAX_INTERFACES
    )]
    TooManyInterfaces { offset: u64 },
    #[error("pcapng file without an interface description block (it holds no packets)")]
    NoInterface,
    /// The operating system's error, as text (keeps the type `Clone`).
    #[error("read failed: {0}")]
    Io(String),
}

/// What a pcapng interface description said (§4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Interface {
    dlt: i32,
    snaplen: u32,
    /// Timestamp units per second (`if_tsresol`), ≥ 1.
    units_per_sec: u64,
    /// Nanoseconds per unit when that is a whole number (every power of 10
    /// up to 10^9), else 0: then the slower exact u128 path.
    nanos_per_unit: u64,
    /// `if_tsoffset`, seconds.
    offset_sec: i64,
}

impl Interface {
    fn ts(&self, units: u64) -> Ts {
        let sec = units / self.units_per_sec;
        let frac = units % self.units_per_sec;
        let nsec = if self.nanos_per_unit != 0 {
            frac.saturating_mul(self.nanos_per_unit)
        } else {
            // frac < units_per_sec ≤ 2^64, so this is < 1e9 and exact (truncated).
            let n = u128::from(frac) * u128::from(NANOS_PER_SEC) / u128::from(self.units_per_sec);
            u64::try_from(n).unwrap_or(NANOS_PER_SEC - 1)
        };
        let sec = i64::try_from(sec)
            .unwrap_or(i64::MAX)
            .saturating_add(self.offset_sec);
        Ts::from_nanos(sec, u32::try_from(nsec).unwrap_or(u32::MAX))
    }
}

/// Per-format reading state.
#[derive(Debug, Clone)]
enum State {
    Pcap {
        big: bool,
        nanos: bool,
        record_len: usize,
        dlt: i32,
    },
    PcapNg {
        big: bool,
        interfaces: Vec<Interface>,
    },
}

/// A frame found in the buffer, by position (so the loop that finds it holds
/// no borrow of the buffer).
struct Found {
    ts: Ts,
    orig_len: u32,
    dlt: i32,
    interface: u32,
    /// Absolute position of the captured bytes in `buf`.
    start: usize,
    len: usize,
}

/// What one pcapng block was.
enum Block {
    Frame(Found),
    Interface,
    Other,
    End,
}

/// A streaming pcap/pcapng reader over any byte source.
pub struct Reader<R> {
    input: R,
    /// Shared with the [`SharedBytes`] handed out; refilled only when no
    /// one else holds it, else the reader moves on to a free pooled one.
    buf: Arc<Vec<u8>>,
    pool: Vec<Arc<Vec<u8>>>,
    /// Unconsumed bytes are `buf[pos..end]`.
    pos: usize,
    end: usize,
    eof: bool,
    /// Input offset of `buf[pos]`: bytes consumed so far.
    offset: u64,
    format: Format,
    state: State,
    /// Link type of the first interface (pcapng) or of the file (pcap).
    first_dlt: i32,
    frames: u64,
}

impl<R: Read> Reader<R> {
    /// Reads the file header (pcap) or up to the first Interface Description
    /// Block (pcapng), so [`Reader::first_dlt`] is known.
    pub fn new(input: R) -> Result<Reader<R>, FileError> {
        Self::with_read_size(input, READ_SIZE)
    }

    /// [`Reader::new`] with a buffer of `read_size` bytes instead of
    /// [`READ_SIZE`] (it still grows to hold one whole block). For
    /// measurements, and for tests that put records across buffer ends.
    pub fn with_read_size(input: R, read_size: usize) -> Result<Reader<R>, FileError> {
        let mut r = Reader {
            input,
            buf: Arc::new(vec![0; read_size.min(MAX_BLOCK_LEN as usize)]),
            pool: Vec::new(),
            pos: 0,
            end: 0,
            eof: false,
            offset: 0,
            format: Format::PcapNg,
            state: State::PcapNg {
                big: false,
                interfaces: Vec::new(),
            },
            first_dlt: 0,
            frames: 0,
        };
        r.fill(SHOWN_BYTES)?;
        let head = r.available();
        if head.is_empty() {
            return Err(FileError::Empty);
        }
        if let Some((format, tool)) = compression(head) {
            return Err(FileError::Compressed { format, tool });
        }
        let mut m = [0u8; 4];
        if let Some(h) = head.get(..4) {
            m.copy_from_slice(h);
        }
        if m == BT_SHB {
            loop {
                match r.next_block()? {
                    Block::Interface => break,
                    Block::End => return Err(FileError::NoInterface),
                    // A packet before any interface was refused by next_block.
                    Block::Frame(_) | Block::Other => {}
                }
            }
            if let State::PcapNg { interfaces, .. } = &r.state {
                r.first_dlt = interfaces.first().map_or(0, |i| i.dlt);
            }
            return Ok(r);
        }
        let (big, nanos, modified) = match (u32::from_le_bytes(m), u32::from_be_bytes(m)) {
            (PCAP_MAGIC_MICROS, _) => (false, false, false),
            (_, PCAP_MAGIC_MICROS) => (true, false, false),
            (PCAP_MAGIC_NANOS, _) => (false, true, false),
            (_, PCAP_MAGIC_NANOS) => (true, true, false),
            (PCAP_MAGIC_MODIFIED, _) => (false, false, true),
            (_, PCAP_MAGIC_MODIFIED) => (true, false, true),
            _ => return Err(FileError::NotCapture(show(head))),
        };
        if !r.fill(PCAP_HEADER_LEN)? {
            return Err(r.truncated("pcap file header", PCAP_HEADER_LEN));
        }
        let h = r.available();
        let (major, minor) = (u16_at(h, 4, big), u16_at(h, 6, big));
        if major != 2 {
            return Err(FileError::PcapVersion { major, minor });
        }
        let dlt = (u32_at(h, 20, big) & PCAP_LINKTYPE_MASK) as i32;
        r.consume(PCAP_HEADER_LEN);
        r.format = Format::Pcap {
            nanos,
            modified,
            big_endian: big,
        };
        r.state = State::Pcap {
            big,
            nanos,
            record_len: if modified {
                PCAP_MODIFIED_RECORD_LEN
            } else {
                PCAP_RECORD_LEN
            },
            dlt,
        };
        r.first_dlt = dlt;
        Ok(r)
    }

    /// The next frame, `Ok(None)` at a clean end of the input. After an
    /// error, the frames already returned were complete; reading on may
    /// return the same error again.
    pub fn next_frame(&mut self) -> Result<Option<FileFrame<'_>>, FileError> {
        let Some(f) = self.next_found()? else {
            return Ok(None);
        };
        Ok(Some(self.frame_of(&f)))
    }

    /// [`Reader::next_frame`] with the frame's bytes also as [`SharedBytes`],
    /// valid after the next call (the buffer they are in is not written
    /// again until they are dropped; meanwhile the reader reads into
    /// another one, copying at most the one record that straddles the end).
    pub fn next_frame_shared(&mut self) -> Result<Option<(FileFrame<'_>, SharedBytes)>, FileError> {
        let Some(f) = self.next_found()? else {
            return Ok(None);
        };
        let shared = SharedBytes {
            buf: self.buf.clone(),
            start: f.start,
            end: f.start + f.len,
        };
        Ok(Some((self.frame_of(&f), shared)))
    }

    fn frame_of(&self, f: &Found) -> FileFrame<'_> {
        FileFrame {
            ts: f.ts,
            orig_len: f.orig_len,
            dlt: f.dlt,
            interface: f.interface,
            // In the buffer: checked by next_found.
            data: self.buf.get(f.start..f.start + f.len).unwrap_or(&[]),
        }
    }

    /// The next frame, checked to lie within `buf`.
    fn next_found(&mut self) -> Result<Option<Found>, FileError> {
        let found = match &self.state {
            State::Pcap {
                big,
                nanos,
                record_len,
                dlt,
            } => {
                let (big, nanos, record_len, dlt) = (*big, *nanos, *record_len, *dlt);
                self.next_record(big, nanos, record_len, dlt)?
            }
            State::PcapNg { .. } => loop {
                match self.next_block()? {
                    Block::Frame(f) => break Some(f),
                    Block::End => break None,
                    Block::Interface | Block::Other => {}
                }
            },
        };
        let Some(f) = found else {
            return Ok(None);
        };
        if f.start
            .checked_add(f.len)
            .is_none_or(|e| e > self.buf.len())
        {
            return Err(FileError::Malformed {
                what: "frame",
                offset: self.offset,
                why: "internal: frame outside the buffer".into(),
            });
        }
        self.frames += 1;
        Ok(Some(f))
    }

    /// pcap (which flavour, which byte order) or pcapng.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Link type of the file (pcap) or of the first interface (pcapng).
    pub fn first_dlt(&self) -> i32 {
        self.first_dlt
    }

    /// Bytes of the input consumed so far (exact: headers, records and
    /// skipped blocks up to the end of the last frame returned).
    pub fn bytes_read(&self) -> u64 {
        self.offset
    }

    /// Frames returned so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// One classic pcap record.
    fn next_record(
        &mut self,
        big: bool,
        nanos: bool,
        record_len: usize,
        dlt: i32,
    ) -> Result<Option<Found>, FileError> {
        if !self.fill(record_len)? {
            if self.available().is_empty() {
                return Ok(None);
            }
            return Err(self.truncated("pcap record header", record_len));
        }
        let h = self.available();
        let sec = u32_at(h, 0, big);
        let frac = u32_at(h, 4, big);
        let caplen = u32_at(h, 8, big);
        let orig_len = u32_at(h, 12, big);
        if caplen > MAX_CAPLEN {
            return Err(FileError::CaplenTooLarge {
                what: "pcap record",
                offset: self.offset,
                caplen,
            });
        }
        let len = caplen as usize;
        let total = record_len + len;
        if !self.fill(total)? {
            return Err(self.truncated("pcap record", total));
        }
        // Fractions past a second (corrupt writers) carry into the seconds.
        let per_sec: u32 = if nanos { 1_000_000_000 } else { 1_000_000 };
        let nsec = (frac % per_sec) * if nanos { 1 } else { 1000 };
        let ts = Ts::from_nanos(i64::from(sec) + i64::from(frac / per_sec), nsec);
        let start = self.pos + record_len;
        self.consume(total);
        Ok(Some(Found {
            ts,
            orig_len,
            dlt,
            interface: 0,
            start,
            len,
        }))
    }

    /// One pcapng block: its header checked, the whole block in the buffer,
    /// then consumed. A packet block's data stays where it is in the buffer.
    fn next_block(&mut self) -> Result<Block, FileError> {
        if !self.fill(8)? {
            if self.available().is_empty() {
                return Ok(Block::End);
            }
            return Err(self.truncated("pcapng block header", 8));
        }
        let at = self.offset;
        let is_shb = self.available().get(..4) == Some(&BT_SHB[..]);
        if is_shb {
            // The byte order is the one in which the magic reads right.
            if !self.fill(12)? {
                return Err(self.truncated("pcapng section header", 12));
            }
            let magic = u32_at(self.available(), 8, false);
            let big = if magic == BYTE_ORDER_MAGIC {
                false
            } else if magic.swap_bytes() == BYTE_ORDER_MAGIC {
                true
            } else {
                return Err(FileError::ByteOrderMagic { offset: at, magic });
            };
            self.state = State::PcapNg {
                big,
                interfaces: Vec::new(),
            };
        }
        let big = match &self.state {
            State::PcapNg { big, .. } => *big,
            State::Pcap { .. } => false,
        };
        let head = self.available();
        let block_type = u32_at(head, 0, big);
        let len32 = u32_at(head, 4, big);
        if (len32 as usize) < BLOCK_OVERHEAD {
            return Err(FileError::BadBlockLength {
                offset: at,
                len: len32,
                why: "less than the 12 bytes of an empty block",
            });
        }
        if !len32.is_multiple_of(4) {
            return Err(FileError::BadBlockLength {
                offset: at,
                len: len32,
                why: "not a multiple of 4",
            });
        }
        if len32 > MAX_BLOCK_LEN {
            return Err(FileError::BlockTooLarge {
                offset: at,
                len: len32,
            });
        }
        let len = len32 as usize;
        if !self.fill(len)? {
            return Err(self.truncated("pcapng block", len));
        }
        let base = self.pos;
        let Some(b) = self.buf.get(base..base + len) else {
            return Err(self.truncated("pcapng block", len));
        };
        let trailer = u32_at(b, len - 4, big);
        if trailer != len32 {
            return Err(FileError::TrailerMismatch {
                offset: at,
                len: len32,
                trailer,
            });
        }
        let State::PcapNg { interfaces, .. } = &mut self.state else {
            return Ok(Block::Other);
        };
        let block = match block_type {
            _ if is_shb => {
                if len < SHB_MIN_LEN {
                    return Err(too_short("section header", at, len, SHB_MIN_LEN));
                }
                let (major, minor) = (u16_at(b, 12, big), u16_at(b, 14, big));
                if major != 1 {
                    return Err(FileError::PcapNgVersion {
                        offset: at,
                        major,
                        minor,
                    });
                }
                Block::Other
            }
            BT_IDB => {
                if len < IDB_MIN_LEN {
                    return Err(too_short(
                        "interface description block",
                        at,
                        len,
                        IDB_MIN_LEN,
                    ));
                }
                if interfaces.len() >= MAX_INTERFACES {
                    return Err(FileError::TooManyInterfaces { offset: at });
                }
                let opts = b.get(16..len - 4).unwrap_or(&[]);
                let (units_per_sec, offset_sec) = idb_options(opts, big, at)?;
                let nanos_per_unit = if NANOS_PER_SEC.is_multiple_of(units_per_sec) {
                    NANOS_PER_SEC / units_per_sec
                } else {
                    0
                };
                interfaces.push(Interface {
                    dlt: i32::from(u16_at(b, 8, big)),
                    snaplen: u32_at(b, 12, big),
                    units_per_sec,
                    nanos_per_unit,
                    offset_sec,
                });
                Block::Interface
            }
            BT_EPB | BT_PB => {
                let what = if block_type == BT_EPB {
                    "enhanced packet block"
                } else {
                    "packet block"
                };
                if len < EPB_MIN_LEN {
                    return Err(too_short(what, at, len, EPB_MIN_LEN));
                }
                let id = if block_type == BT_EPB {
                    u32_at(b, 8, big)
                } else {
                    u32::from(u16_at(b, 8, big))
                };
                let units = (u64::from(u32_at(b, 12, big)) << 32) | u64::from(u32_at(b, 16, big));
                let caplen = u32_at(b, 20, big);
                let orig_len = u32_at(b, 24, big);
                let Some(iface) = interfaces.get(id as usize) else {
                    return Err(FileError::UnknownInterface {
                        what,
                        offset: at,
                        id,
                        count: interfaces.len(),
                    });
                };
                if caplen > MAX_CAPLEN {
                    return Err(FileError::CaplenTooLarge {
                        what,
                        offset: at,
                        caplen,
                    });
                }
                if 28 + caplen as usize + 4 > len {
                    return Err(FileError::Malformed {
                        what,
                        offset: at,
                        why: format!("captured length {caplen} does not fit in a block of {len}"),
                    });
                }
                Block::Frame(Found {
                    ts: iface.ts(units),
                    orig_len,
                    dlt: iface.dlt,
                    interface: id,
                    start: base + 28,
                    len: caplen as usize,
                })
            }
            BT_SPB => {
                let what = "simple packet block";
                if len < SPB_MIN_LEN {
                    return Err(too_short(what, at, len, SPB_MIN_LEN));
                }
                let Some(iface) = interfaces.first() else {
                    return Err(FileError::UnknownInterface {
                        what,
                        offset: at,
                        id: 0,
                        count: 0,
                    });
                };
                let orig_len = u32_at(b, 8, big);
                let caplen = match iface.snaplen {
                    0 => orig_len,
                    s => orig_len.min(s),
                };
                if caplen > MAX_CAPLEN {
                    return Err(FileError::CaplenTooLarge {
                        what,
                        offset: at,
                        caplen,
                    });
                }
                if 12 + caplen as usize + 4 > len {
                    return Err(FileError::Malformed {
                        what,
                        offset: at,
                        why: format!("captured length {caplen} does not fit in a block of {len}"),
                    });
                }
                Block::Frame(Found {
                    // No timestamp in an SPB (§4.4).
                    ts: Ts::default(),
                    orig_len,
                    dlt: iface.dlt,
                    interface: 0,
                    start: base + 12,
                    len: caplen as usize,
                })
            }
            _ => Block::Other,
        };
        self.consume(len);
        Ok(block)
    }

    fn available(&self) -> &[u8] {
        self.buf.get(self.pos..self.end).unwrap_or(&[])
    }

    fn consume(&mut self, n: usize) {
        let n = n.min(self.end - self.pos);
        self.pos += n;
        self.offset += n as u64;
    }

    fn truncated(&self, what: &'static str, need: usize) -> FileError {
        FileError::Truncated {
            what,
            offset: self.offset,
            have: self.available().len() as u64,
            need: need as u64,
        }
    }

    /// When [`SharedBytes`] still hold the buffer, continues in a free one
    /// from the pool (or a new one) with the unconsumed tail copied over;
    /// the old one goes to the pool, where it is reused once they are gone.
    fn own_buffer(&mut self) {
        if Arc::get_mut(&mut self.buf).is_some() {
            return;
        }
        let len = self.buf.len();
        let mut next = match self.pool.iter_mut().position(|b| Arc::get_mut(b).is_some()) {
            Some(i) => self.pool.swap_remove(i),
            None => Arc::new(Vec::new()),
        };
        let tail = self.buf.get(self.pos..self.end).unwrap_or(&[]);
        let v = Arc::make_mut(&mut next);
        // Only a new buffer is zeroed (once); a pooled one is written over.
        if v.len() < len.max(tail.len()) {
            v.resize(len.max(tail.len()), 0);
        }
        v[..tail.len()].copy_from_slice(tail);
        self.end = tail.len();
        self.pos = 0;
        let old = std::mem::replace(&mut self.buf, next);
        if old.len() <= POOL_MAX_LEN {
            if self.pool.len() >= POOL_BUFFERS {
                // All held: the oldest is let go (freed with its last frame).
                self.pool.remove(0);
            }
            self.pool.push(old);
        }
    }

    /// Makes `n` bytes available at `pos` if the input has them: `Ok(false)`
    /// at the end of the input with fewer. Only called with `n` bounded by
    /// the caps, so the buffer never grows past [`MAX_BLOCK_LEN`].
    fn fill(&mut self, n: usize) -> Result<bool, FileError> {
        if self.end - self.pos >= n {
            return Ok(true);
        }
        if self.eof {
            return Ok(false);
        }
        self.own_buffer();
        // Unique now (`own_buffer`): make_mut does not clone.
        let buf = Arc::make_mut(&mut self.buf);
        // Move the unconsumed tail (less than one record) to the front, so
        // each read gets the whole free buffer.
        if self.pos > 0 {
            buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.pos = 0;
        }
        if buf.len() < n {
            buf.resize(n, 0);
        }
        while self.end < n {
            let Some(free) = buf.get_mut(self.end..) else {
                return Ok(false);
            };
            match self.input.read(free) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                // A `Read` that claims more than it was given is clamped.
                Ok(k) => self.end = (self.end + k).min(buf.len()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(FileError::Io(e.to_string())),
            }
        }
        Ok(true)
    }
}

/// `if_tsresol` and `if_tsoffset` from an IDB's options (§3.5, §4.2):
/// (timestamp units per second, offset in seconds).
fn idb_options(opts: &[u8], big: bool, at: u64) -> Result<(u64, i64), FileError> {
    let what = "interface description block";
    let bad = |why: String| FileError::Malformed {
        what,
        offset: at,
        why,
    };
    let mut units = DEFAULT_UNITS_PER_SEC;
    let mut offset_sec = 0i64;
    let mut i = 0usize;
    while let Some(h) = opts.get(i..i + 4) {
        let code = u16_at(h, 0, big);
        let olen = usize::from(u16_at(h, 2, big));
        if code == OPT_ENDOFOPT {
            break;
        }
        let Some(value) = opts.get(i + 4..i + 4 + olen) else {
            return Err(bad(format!(
                "option {code} of length {olen} runs past the end of the block"
            )));
        };
        match code {
            OPT_IF_TSRESOL => {
                let &[v] = value else {
                    return Err(bad(format!("if_tsresol of length {olen}, not 1")));
                };
                units = if v & 0x80 != 0 {
                    1u64.checked_shl(u32::from(v & 0x7f))
                        .filter(|_| v & 0x7f < 64)
                        .ok_or_else(|| bad(format!("if_tsresol 2^-{} is too fine", v & 0x7f)))?
                } else {
                    10u64
                        .checked_pow(u32::from(v))
                        .ok_or_else(|| bad(format!("if_tsresol 10^-{v} is too fine")))?
                };
            }
            OPT_IF_TSOFFSET => {
                let Ok(b) = <[u8; 8]>::try_from(value) else {
                    return Err(bad(format!("if_tsoffset of length {olen}, not 8")));
                };
                offset_sec = if big {
                    i64::from_be_bytes(b)
                } else {
                    i64::from_le_bytes(b)
                };
            }
            _ => {}
        }
        i += 4 + olen.next_multiple_of(4);
    }
    Ok((units, offset_sec))
}

fn too_short(what: &'static str, offset: u64, len: usize, min: usize) -> FileError {
    FileError::Malformed {
        what,
        offset,
        why: format!("block size {len} is less than its minimum {min}"),
    }
}

/// A compressed file, by its magic number: (format, the tool that undoes it).
fn compression(head: &[u8]) -> Option<(&'static str, &'static str)> {
    const MAGICS: [(&[u8], &str, &str); 4] = [
        (&[0x1f, 0x8b], "gzip", "gunzip"),
        (&[0x28, 0xb5, 0x2f, 0xfd], "zstd", "unzstd"),
        (&[0xfd, b'7', b'z', b'X', b'Z', 0x00], "xz", "unxz"),
        (b"BZh", "bzip2", "bunzip2"),
    ];
    MAGICS
        .iter()
        .find(|(m, _, _)| head.starts_with(m))
        .map(|&(_, f, t)| (f, t))
}

/// The first bytes of a file, safe for a terminal: `"GET / HT" (47 45 54 …)`.
fn show(head: &[u8]) -> String {
    let head = head.get(..SHOWN_BYTES).unwrap_or(head);
    let hex: Vec<String> = head.iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{}\" ({})", head.escape_ascii(), hex.join(" "))
}

fn u16_at(b: &[u8], at: usize, big: bool) -> u16 {
    let mut w = [0u8; 2];
    if let Some(s) = b.get(at..at + 2) {
        w.copy_from_slice(s);
    }
    if big {
        u16::from_be_bytes(w)
    } else {
        u16::from_le_bytes(w)
    }
}

fn u32_at(b: &[u8], at: usize, big: bool) -> u32 {
    let mut w = [0u8; 4];
    if let Some(s) = b.get(at..at + 4) {
        w.copy_from_slice(s);
    }
    if big {
        u32::from_be_bytes(w)
    } else {
        u32::from_le_bytes(w)
    }
}

/// One frame owned ([`read_all`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedFrame {
    pub ts: Ts,
    pub orig_len: u32,
    pub dlt: i32,
    pub data: Vec<u8>,
}

/// Every frame of a capture file, owned: for tests and tools that check
/// what was written (memory grows with the file; the data path streams).
pub fn read_all(path: &std::path::Path) -> Result<(i32, Vec<OwnedFrame>), FileError> {
    let f = std::fs::File::open(path).map_err(|e| FileError::Io(e.to_string()))?;
    let mut r = Reader::new(f)?;
    let dlt = r.first_dlt();
    let mut out = Vec::new();
    while let Some(fr) = r.next_frame()? {
        out.push(OwnedFrame {
            ts: fr.ts,
            orig_len: fr.orig_len,
            dlt: fr.dlt,
            data: fr.data.to_vec(),
        });
    }
    Ok((dlt, out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::capfile::{
        BT_CUSTOM, BT_DSB, BT_ISB, BT_NRB, OPT_COMMENT, PcapBuilder, PcapFlavor, PcapNgBuilder,
    };

    /// (ts, orig_len, dlt, interface, bytes) of every frame, and the error
    /// that ended the reading, if any.
    type Frames = Vec<(Ts, u32, i32, u32, Vec<u8>)>;

    fn read_with<R: Read>(
        r: R,
        read_size: usize,
    ) -> Result<(Frames, Option<FileError>), FileError> {
        let mut r = Reader::with_read_size(r, read_size)?;
        let mut v = Vec::new();
        loop {
            match r.next_frame() {
                Ok(Some(f)) => v.push((f.ts, f.orig_len, f.dlt, f.interface, f.data.to_vec())),
                Ok(None) => return Ok((v, None)),
                Err(e) => {
                    assert_eq!(r.frames(), v.len() as u64);
                    return Ok((v, Some(e)));
                }
            }
        }
    }

    /// Reads a whole capture that must be valid.
    fn read_ok(b: &[u8]) -> Frames {
        let (v, err) = read_with(b, READ_SIZE).unwrap();
        assert_eq!(err, None);
        v
    }

    fn read_err(b: &[u8]) -> FileError {
        match read_with(b, READ_SIZE) {
            Err(e) => e,
            Ok((_, Some(e))) => e,
            Ok((v, None)) => panic!("no error, {} frames", v.len()),
        }
    }

    /// Hands out at most `n` bytes per `read`, as a pipe may.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.1.min(buf.len()).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn ts(sec: i64, nsec: u32) -> Ts {
        Ts { sec, nsec }
    }

    #[test]
    fn pcap_every_magic_and_byte_order() {
        for flavor in [PcapFlavor::Micros, PcapFlavor::Nanos, PcapFlavor::Modified] {
            for big in [false, true] {
                // FCS-length bits above the link type are masked off.
                let mut b = PcapBuilder::new(flavor, big, 0x1400_0000 | 127, 65535);
                b.record(1_700_000_000, 123_456, 60, b"abc");
                b.record(u32::MAX, 999_999, 4, b"");
                b.record(5, 0, 1000, &[7; 300]);
                let r = Reader::new(b.bytes()).unwrap();
                assert_eq!(
                    r.format(),
                    Format::Pcap {
                        nanos: flavor == PcapFlavor::Nanos,
                        modified: flavor == PcapFlavor::Modified,
                        big_endian: big
                    }
                );
                assert_eq!(r.first_dlt(), 127);
                let v = read_ok(b.bytes());
                let scale = if flavor == PcapFlavor::Nanos { 1 } else { 1000 };
                assert_eq!(
                    v,
                    vec![
                        (
                            ts(1_700_000_000, 123_456 * scale),
                            60,
                            127,
                            0,
                            b"abc".to_vec()
                        ),
                        (ts(i64::from(u32::MAX), 999_999 * scale), 4, 127, 0, vec![]),
                        (ts(5, 0), 1000, 127, 0, vec![7; 300]),
                    ],
                    "{flavor:?} big={big}"
                );
            }
        }
    }

    #[test]
    fn pcap_fraction_past_a_second_carries() {
        let mut b = PcapBuilder::new(PcapFlavor::Micros, false, 105, 65535);
        b.record(10, 2_500_000, 1, b"x");
        assert_eq!(read_ok(b.bytes())[0].0, ts(12, 500_000_000));
        let mut b = PcapBuilder::new(PcapFlavor::Nanos, true, 105, 65535);
        b.record(10, u32::MAX, 1, b"x");
        assert_eq!(read_ok(b.bytes())[0].0, ts(14, 294_967_295));
    }

    #[test]
    fn pcap_version_must_be_2() {
        let mut b = PcapBuilder::new(PcapFlavor::Micros, false, 105, 65535).into_bytes();
        b[4] = 3;
        assert_eq!(
            Reader::new(&b[..]).err(),
            Some(FileError::PcapVersion { major: 3, minor: 4 })
        );
    }

    #[test]
    fn pcapng_both_byte_orders_default_resolution() {
        for big in [false, true] {
            let mut b = PcapNgBuilder::new(big);
            b.idb(127, 0, &[]);
            b.epb(0, 1_700_000_000_123_456, 80, b"hello");
            b.epb_with(0, 1, 3, b"abcd", &[(OPT_COMMENT, b"a comment")]);
            let r = Reader::new(b.bytes()).unwrap();
            assert_eq!((r.format(), r.first_dlt()), (Format::PcapNg, 127));
            assert_eq!(
                read_ok(b.bytes()),
                vec![
                    (
                        ts(1_700_000_000, 123_456_000),
                        80,
                        127,
                        0,
                        b"hello".to_vec()
                    ),
                    (ts(0, 1000), 3, 127, 0, b"abcd".to_vec()),
                ]
            );
        }
    }

    #[test]
    fn pcapng_tsresol_powers_of_10_and_2_and_tsoffset() {
        for big in [false, true] {
            let mut b = PcapNgBuilder::new(big);
            let off = b.tsoffset(-100);
            b.idb(1, 0, &[(OPT_IF_TSRESOL, &[9])]);
            b.idb(
                1,
                0,
                &[(OPT_IF_TSRESOL, &[0x80 | 20]), (OPT_IF_TSOFFSET, &off)],
            );
            b.idb(1, 0, &[(OPT_IF_TSRESOL, &[0])]);
            b.idb(1, 0, &[(OPT_IF_TSRESOL, &[12])]);
            b.idb(1, 0, &[(OPT_IF_TSRESOL, &[0x80 | 63])]);
            b.epb(0, 1_700_000_000_987_654_321, 1, b"a");
            b.epb(1, (1000 << 20) + 3, 1, b"b");
            b.epb(2, 42, 1, b"c");
            b.epb(3, 5_000_000_000_001, 1, b"d");
            b.epb(4, 3 << 62, 1, b"e");
            let v: Vec<(Ts, u32)> = read_ok(b.bytes()).into_iter().map(|f| (f.0, f.3)).collect();
            assert_eq!(
                v,
                vec![
                    (ts(1_700_000_000, 987_654_321), 0),
                    // 3 / 2^20 s = 2861.02… ns, truncated; the offset applies.
                    (ts(900, 2861), 1),
                    (ts(42, 0), 2),
                    // 1 ps is below a nanosecond.
                    (ts(5, 0), 3),
                    // 1.5 s in units of 2^-63 s.
                    (ts(1, 500_000_000), 4),
                ],
                "big={big}"
            );
        }
    }

    #[test]
    fn pcapng_simple_packet_block() {
        let mut b = PcapNgBuilder::new(false);
        b.idb(105, 0, &[]);
        b.idb(1, 4, &[]);
        // snaplen 0: the whole original length; padding is not data.
        b.spb(5, b"12345");
        let v = read_ok(b.bytes());
        assert_eq!(v, vec![(Ts::default(), 5, 105, 0, b"12345".to_vec())]);
        // snaplen 4 on interface 0: min(orig_len, snaplen).
        let mut b = PcapNgBuilder::new(true);
        b.idb(127, 4, &[]);
        b.spb(10, b"abcd");
        b.spb(2, b"xy");
        let v = read_ok(b.bytes());
        assert_eq!(
            v,
            vec![
                (Ts::default(), 10, 127, 0, b"abcd".to_vec()),
                (Ts::default(), 2, 127, 0, b"xy".to_vec()),
            ]
        );
        // More bytes claimed than the block holds.
        let mut b = PcapNgBuilder::new(false);
        b.idb(127, 0, &[]);
        b.spb(100, b"abcd");
        assert!(
            matches!(
                read_err(b.bytes()),
                FileError::Malformed {
                    what: "simple packet block",
                    offset: 48,
                    ..
                }
            ),
            "{}",
            read_err(b.bytes())
        );
    }

    #[test]
    fn pcapng_obsolete_packet_block() {
        for big in [false, true] {
            let mut b = PcapNgBuilder::new(big);
            b.idb(105, 0, &[]);
            b.idb(127, 0, &[(OPT_IF_TSRESOL, &[3])]);
            b.pb(1, 2_500, 9, b"pkt");
            b.pb(0, 7, 3, b"old");
            assert_eq!(
                read_ok(b.bytes()),
                vec![
                    (ts(2, 500_000_000), 9, 127, 1, b"pkt".to_vec()),
                    (ts(0, 7000), 3, 105, 0, b"old".to_vec()),
                ]
            );
        }
    }

    #[test]
    fn pcapng_sections_reset_interfaces_and_byte_order() {
        let mut b = PcapNgBuilder::new(false);
        b.idb(127, 0, &[]);
        b.idb(1, 0, &[(OPT_IF_TSRESOL, &[9])]);
        b.epb(1, 5, 1, b"a");
        b.section(true);
        b.idb(105, 0, &[]);
        b.epb(0, 6, 1, b"b");
        b.section(false);
        b.idb(119, 0, &[(OPT_IF_TSRESOL, &[0])]);
        b.epb(0, 7, 1, b"c");
        let v = read_ok(b.bytes());
        assert_eq!(
            v,
            vec![
                (ts(0, 5), 1, 1, 1, b"a".to_vec()),
                (ts(0, 6000), 1, 105, 0, b"b".to_vec()),
                (ts(7, 0), 1, 119, 0, b"c".to_vec()),
            ]
        );
        // The second section forgot interface 1.
        b.section(true);
        b.idb(105, 0, &[]);
        let at = b.bytes().len() as u64;
        b.epb(1, 0, 1, b"d");
        assert_eq!(
            read_err(b.bytes()),
            FileError::UnknownInterface {
                what: "enhanced packet block",
                offset: at,
                id: 1,
                count: 1
            }
        );
    }

    #[test]
    fn pcapng_interfaces_of_different_link_types() {
        let mut b = PcapNgBuilder::new(false);
        b.idb(127, 0, &[]);
        b.idb(1, 0, &[]);
        b.idb(147, 0, &[]); // a link type nothing here reads
        for i in [0u32, 1, 2, 1, 0] {
            b.epb(i, u64::from(i), 10 + i, &[i as u8; 3]);
        }
        let r = Reader::new(b.bytes()).unwrap();
        assert_eq!(r.first_dlt(), 127);
        let v: Vec<(i32, u32, u32)> = read_ok(b.bytes())
            .into_iter()
            .map(|f| (f.2, f.3, f.1))
            .collect();
        assert_eq!(
            v,
            vec![
                (127, 0, 10),
                (1, 1, 11),
                (147, 2, 12),
                (1, 1, 11),
                (127, 0, 10)
            ]
        );
    }

    #[test]
    fn pcapng_other_blocks_are_skipped() {
        let mut b = PcapNgBuilder::new(true);
        b.block(BT_NRB, &[0; 12]);
        b.block(BT_CUSTOM, b"\x00\x00\x7e\x2a custom data");
        b.idb(127, 0, &[]);
        b.block(BT_ISB, &[1; 24]);
        b.epb(0, 1, 1, b"a");
        b.block(BT_DSB, &[2; 17]);
        b.block(0x1234_5678, &[]);
        b.block(0x8000_0001, &[3; 40]);
        b.epb(0, 2, 1, b"b");
        b.block(BT_ISB, &[4; 8]);
        let len = b.bytes().len() as u64;
        let mut r = Reader::new(b.bytes()).unwrap();
        let mut n = 0;
        while r.next_frame().unwrap().is_some() {
            n += 1;
        }
        assert_eq!(n, 2);
        // Every byte accounted for, the trailing block included.
        assert_eq!(r.bytes_read(), len);
    }

    #[test]
    fn pcapng_without_interface_is_refused_at_open() {
        let mut b = PcapNgBuilder::new(false);
        b.block(BT_NRB, &[0; 4]);
        assert_eq!(Reader::new(b.bytes()).err(), Some(FileError::NoInterface));
        let at = b.bytes().len() as u64;
        b.epb(0, 0, 1, b"a");
        assert_eq!(
            Reader::new(b.bytes()).err(),
            Some(FileError::UnknownInterface {
                what: "enhanced packet block",
                offset: at,
                id: 0,
                count: 0
            })
        );
        let mut b = PcapNgBuilder::new(false);
        b.spb(1, b"a");
        assert!(matches!(
            Reader::new(b.bytes()).err(),
            Some(FileError::UnknownInterface {
                what: "simple packet block",
                ..
            })
        ));
    }

    /// A small file of every block kind, and the frames it holds.
    fn mixed_pcapng() -> (Vec<u8>, usize) {
        let mut b = PcapNgBuilder::new(false);
        b.idb(127, 0, &[(OPT_IF_TSRESOL, &[9])]);
        b.epb(0, 1, 5, b"abcde");
        b.block(BT_ISB, &[0; 8]);
        b.spb(2, b"xy");
        b.section(true);
        b.idb(1, 0, &[]);
        b.pb(0, 3, 3, b"pqr");
        b.epb(0, 4, 0, b"");
        (b.into_bytes(), 4)
    }

    #[test]
    fn every_truncation_length() {
        let mut pcap = PcapBuilder::new(PcapFlavor::Nanos, true, 105, 65535);
        pcap.record(1, 2, 3, b"abc")
            .record(4, 5, 6, b"")
            .record(7, 8, 9, b"defgh");
        let cases = [(mixed_pcapng().0, 4), (pcap.into_bytes(), 3)];
        for (full, n) in cases {
            let all = read_ok(&full);
            assert_eq!(all.len(), n);
            for len in 0..full.len() {
                let cut = &full[..len];
                match read_with(cut, READ_SIZE) {
                    // Too short for the header (or the first IDB): refused at open.
                    Err(e) => assert!(
                        matches!(
                            e,
                            FileError::Empty
                                | FileError::NotCapture(_)
                                | FileError::Truncated { .. }
                                | FileError::NoInterface
                        ),
                        "{len}: {e}"
                    ),
                    Ok((v, err)) => {
                        // A prefix of the frames, then a clean end exactly at a
                        // record boundary, or a truncation error.
                        assert!(v.len() < n || err.is_none(), "{len}");
                        assert_eq!(v[..], all[..v.len()], "{len}");
                        if let Some(e) = err {
                            assert!(matches!(e, FileError::Truncated { .. }), "{len}: {e}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn truncated_last_record_reports_the_complete_frames() {
        let (full, n) = mixed_pcapng();
        let cut = &full[..full.len() - 6];
        let (v, err) = read_with(cut, READ_SIZE).unwrap();
        assert_eq!(v.len(), n - 1);
        let e = err.unwrap();
        assert!(
            matches!(
                e,
                FileError::Truncated {
                    what: "pcapng block",
                    need: 32,
                    have: 26,
                    ..
                }
            ),
            "{e}"
        );
        assert!(
            e.to_string()
                .starts_with("truncated pcapng block at byte offset "),
            "{e}"
        );
    }

    /// Shared frames stay intact while the reader reads on (into other
    /// buffers), whatever the read pattern; buffers come back to the pool
    /// once let go, so a reader whose frames are dropped keeps a bounded
    /// number of them.
    #[test]
    fn shared_frames_outlive_later_reads() {
        let mut b = PcapBuilder::new(PcapFlavor::Micros, false, 127, 65_535);
        let frames: Vec<Vec<u8>> = (0..200u32)
            .map(|i| (0..(i * 7 % 97 + 1)).map(|j| (i + j) as u8).collect())
            .collect();
        for (i, f) in frames.iter().enumerate() {
            b.record(i as u32, 0, f.len() as u32, f);
        }
        let full = b.into_bytes();
        for (chunk, read_size) in [(1, 13), (7, 64), (64, 300), (1 << 20, READ_SIZE)] {
            let mut r = Reader::with_read_size(Trickle(&full, chunk), read_size).unwrap();
            let mut held = Vec::new();
            while let Some((f, shared)) = r.next_frame_shared().unwrap() {
                assert_eq!(f.data, &shared[..]);
                held.push(shared);
            }
            let got: Vec<Vec<u8>> = held.iter().map(|s| s.to_vec()).collect();
            assert_eq!(got, frames, "chunk {chunk} size {read_size}");
        }
        // Dropped at once: the reader cycles through a few buffers only.
        let mut r = Reader::with_read_size(Trickle(&full, 64), 64).unwrap();
        let mut n = 0;
        while let Some((_, shared)) = r.next_frame_shared().unwrap() {
            drop(shared);
            n += 1;
        }
        assert_eq!(n, frames.len());
        assert!(r.pool.len() <= 1, "{} pooled buffers", r.pool.len());
    }

    #[test]
    fn any_read_pattern_gives_the_same_frames() {
        let (full, _) = mixed_pcapng();
        let all = read_ok(&full);
        for chunk in [1, 2, 3, 5, 7, 64] {
            for read_size in [0, 1, 13, 64, READ_SIZE] {
                let (v, err) = read_with(Trickle(&full, chunk), read_size).unwrap();
                assert_eq!(
                    (v, err),
                    (all.clone(), None),
                    "chunk {chunk} size {read_size}"
                );
            }
        }
    }

    #[test]
    fn not_captures_are_named() {
        assert_eq!(Reader::new(&b""[..]).err(), Some(FileError::Empty));
        let e = Reader::new(&b"hello, world\n\x1b[31mred"[..])
            .err()
            .unwrap();
        assert_eq!(
            e.to_string(),
            "not a pcap or pcapng file: starts with \"hello, world\\n\\x1b[3\" \
             (68 65 6c 6c 6f 2c 20 77 6f 72 6c 64 0a 1b 5b 33)"
        );
        assert_eq!(
            Reader::new(&b"ab"[..]).err(),
            Some(FileError::NotCapture("\"ab\" (61 62)".into()))
        );
        let e = Reader::new(&[0x1f, 0x8b, 8, 0, 0, 0][..]).err().unwrap();
        assert_eq!(e.to_string(), "gzip-compressed: gunzip it first");
        let e = Reader::new(&[0x28, 0xb5, 0x2f, 0xfd, 0][..]).err().unwrap();
        assert_eq!(e.to_string(), "zstd-compressed: unzstd it first");
        let e = Reader::new(&b"BZh91AY&SY"[..]).err().unwrap();
        assert_eq!(e.to_string(), "bzip2-compressed: bunzip2 it first");
        let e = Reader::new(&[0xfd, b'7', b'z', b'X', b'Z', 0, 0][..])
            .err()
            .unwrap();
        assert_eq!(e.to_string(), "xz-compressed: unxz it first");
        // A pcap header cut short.
        let b = PcapBuilder::new(PcapFlavor::Micros, false, 105, 65535).into_bytes();
        assert_eq!(
            Reader::new(&b[..20]).err(),
            Some(FileError::Truncated {
                what: "pcap file header",
                offset: 0,
                have: 20,
                need: 24
            })
        );
    }

    #[test]
    fn corrupt_block_lengths_name_the_offset() {
        let mut base = PcapNgBuilder::new(false);
        base.idb(127, 0, &[]);
        let at = base.bytes().len();
        base.epb(0, 1, 4, b"abcd");
        let good = base.into_bytes();
        let with_len = |len: u32| {
            let mut b = good.clone();
            b[at + 4..at + 8].copy_from_slice(&len.to_le_bytes());
            b.extend_from_slice(&[0; 8]);
            b
        };
        let at = at as u64;
        let e = read_err(&with_len(0x7fff_fff0));
        assert_eq!(
            e,
            FileError::BlockTooLarge {
                offset: at,
                len: 0x7fff_fff0
            }
        );
        assert_eq!(
            e.to_string(),
            format!("pcapng block at byte offset {at}: block size 2147483632 > maximum 16777216")
        );
        assert!(matches!(
            read_err(&with_len(8)),
            FileError::BadBlockLength { len: 8, .. }
        ));
        assert!(matches!(
            read_err(&with_len(38)),
            FileError::BadBlockLength {
                len: 38,
                why: "not a multiple of 4",
                ..
            }
        ));
        assert_eq!(
            read_err(&with_len(40)),
            FileError::TrailerMismatch {
                offset: at,
                len: 40,
                trailer: 0
            }
        );
        // A length larger than the rest of the file: truncated, not allocated.
        assert!(matches!(
            read_err(&with_len(1 << 20)),
            FileError::Truncated {
                what: "pcapng block",
                need: 1048576,
                ..
            }
        ));
        // An EPB whose captured length does not fit its block.
        let mut b = good.clone();
        let c = at as usize + 20;
        b[c..c + 4].copy_from_slice(&9u32.to_le_bytes());
        assert!(matches!(
            read_err(&b),
            FileError::Malformed {
                what: "enhanced packet block",
                ..
            }
        ));
        b[c..c + 4].copy_from_slice(&(MAX_CAPLEN + 1).to_le_bytes());
        assert!(matches!(
            read_err(&b),
            FileError::CaplenTooLarge {
                caplen: 262_145,
                ..
            }
        ));
        // A bad byte-order magic, a version 2 section.
        let mut b = good.clone();
        b[8] = 0;
        assert!(matches!(
            Reader::new(&b[..]).err(),
            Some(FileError::ByteOrderMagic { offset: 0, .. })
        ));
        let mut b = PcapNgBuilder::new(true);
        b.idb(127, 0, &[]);
        b.section_version(false, 2, 0);
        assert_eq!(
            read_err(b.bytes()),
            FileError::PcapNgVersion {
                offset: 48,
                major: 2,
                minor: 0
            }
        );
    }

    #[test]
    fn oversized_pcap_record_is_refused_without_allocating() {
        let mut b = PcapBuilder::new(PcapFlavor::Micros, false, 127, 65535);
        b.record(1, 1, 3, b"abc");
        b.record_header(2, 2, u32::MAX, u32::MAX);
        b.record(3, 3, 3, b"def");
        let mut r = Reader::new(b.bytes()).unwrap();
        assert!(r.next_frame().unwrap().is_some());
        assert_eq!(
            r.next_frame().err(),
            Some(FileError::CaplenTooLarge {
                what: "pcap record",
                offset: 43,
                caplen: u32::MAX
            })
        );
        assert_eq!(r.buf.len(), READ_SIZE);
        // The largest allowed record is read.
        let mut b = PcapBuilder::new(PcapFlavor::Micros, false, 127, 0);
        let big = vec![9u8; MAX_CAPLEN as usize];
        b.record(1, 1, MAX_CAPLEN, &big);
        let (v, err) = read_with(b.bytes(), 1000).unwrap();
        assert_eq!((v.len(), err), (1, None));
        assert_eq!(v[0].4, big);
    }

    #[test]
    fn bad_idb_options() {
        let bad = |opts: &[(u16, &[u8])]| {
            let mut b = PcapNgBuilder::new(false);
            b.idb(127, 0, opts);
            Reader::new(b.bytes())
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(bad(&[(OPT_IF_TSRESOL, &[20])]).ends_with("if_tsresol 10^-20 is too fine"));
        assert!(bad(&[(OPT_IF_TSRESOL, &[0x80 | 64])]).ends_with("if_tsresol 2^-64 is too fine"));
        assert!(bad(&[(OPT_IF_TSRESOL, &[6, 6])]).ends_with("if_tsresol of length 2, not 1"));
        assert!(bad(&[(OPT_IF_TSOFFSET, &[0; 4])]).ends_with("if_tsoffset of length 4, not 8"));
        assert_eq!(bad(&[(OPT_IF_TSRESOL, &[19])]), "");
        // An option running past the block.
        let mut b = PcapNgBuilder::new(false);
        let mut body = vec![127, 0, 0, 0, 0, 0, 0, 0];
        body.extend_from_slice(&[9, 0, 200, 0]);
        b.block(crate::synth::capfile::BT_IDB, &body);
        let e = Reader::new(b.bytes()).err().unwrap().to_string();
        assert_eq!(
            e,
            "interface description block at byte offset 28: option 9 of length 200 runs past the end of the block"
        );
    }

    #[test]
    fn interfaces_per_section_are_capped() {
        let mut b = PcapNgBuilder::new(false);
        for _ in 0..MAX_INTERFACES {
            b.idb(1, 0, &[]);
        }
        let at = b.bytes().len() as u64;
        b.idb(1, 0, &[]);
        assert_eq!(
            read_err(b.bytes()),
            FileError::TooManyInterfaces { offset: at }
        );
        // A new section starts again from zero.
        let mut b = PcapNgBuilder::new(false);
        for _ in 0..MAX_INTERFACES {
            b.idb(1, 0, &[]);
        }
        b.section(false).idb(1, 0, &[]).epb(0, 0, 1, b"a");
        assert_eq!(read_ok(b.bytes()).len(), 1);
    }

    #[test]
    fn io_errors_are_reported_and_interrupts_retried() {
        /// Interrupted, then the SHB, IDB and first EPB (100 bytes),
        /// interrupted again, then a failure.
        struct Flaky<'a>(&'a [u8], u32);
        impl Read for Flaky<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.1 += 1;
                match self.1 {
                    1 | 3 => Err(io::ErrorKind::Interrupted.into()),
                    2 => {
                        buf[..100].copy_from_slice(&self.0[..100]);
                        Ok(100)
                    }
                    _ => Err(io::Error::other("disk on fire")),
                }
            }
        }
        let (full, _) = mixed_pcapng();
        let (v, err) = read_with(Flaky(&full, 0), READ_SIZE).unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(err, Some(FileError::Io("disk on fire".into())));
        assert_eq!(err.unwrap().to_string(), "read failed: disk on fire");
    }

    #[test]
    fn bytes_read_is_exact() {
        let mut b = PcapBuilder::new(PcapFlavor::Micros, false, 127, 65535);
        b.record(1, 1, 3, b"abc").record(2, 2, 1, b"d");
        let mut r = Reader::new(b.bytes()).unwrap();
        assert_eq!(r.bytes_read(), 24);
        r.next_frame().unwrap();
        assert_eq!(r.bytes_read(), 24 + 19);
        r.next_frame().unwrap();
        assert!(r.next_frame().unwrap().is_none());
        assert_eq!(r.bytes_read(), b.bytes().len() as u64);
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Any frames, written in any variant and read back through any
            /// read pattern, come back as written.
            #[test]
            fn roundtrip(
                frames in proptest::collection::vec(
                    (any::<u32>(), 0u32..1_000_000, proptest::collection::vec(any::<u8>(), 0..40)),
                    0..12,
                ),
                variant in 0usize..5,
                big in any::<bool>(),
                chunk in 1usize..50,
            ) {
                let bytes = match variant {
                    0..=2 => {
                        let flavor = [PcapFlavor::Micros, PcapFlavor::Nanos, PcapFlavor::Modified][variant];
                        let mut b = PcapBuilder::new(flavor, big, 127, 65535);
                        for (sec, frac, d) in &frames {
                            b.record(*sec, *frac, d.len() as u32 + 1, d);
                        }
                        b.into_bytes()
                    }
                    _ => {
                        let mut b = PcapNgBuilder::new(big);
                        b.idb(127, 0, &[(OPT_IF_TSRESOL, &[if variant == 3 { 6 } else { 9 }])]);
                        for (sec, frac, d) in &frames {
                            let unit = if variant == 3 { 1_000_000 } else { 1_000_000_000 };
                            b.epb(0, u64::from(*sec) * unit + u64::from(*frac), d.len() as u32 + 1, d);
                        }
                        b.into_bytes()
                    }
                };
                let micros = matches!(variant, 0 | 2 | 3);
                let want: Frames = frames
                    .iter()
                    .map(|(sec, frac, d)| {
                        let nsec = if micros { frac * 1000 } else { *frac };
                        (ts(i64::from(*sec), nsec), d.len() as u32 + 1, 127, 0, d.clone())
                    })
                    .collect();
                let (got, err) = read_with(Trickle(&bytes, chunk), 7).unwrap();
                prop_assert_eq!(err, None);
                prop_assert_eq!(got, want);
            }
        }
    }
}
