//! Capture sources: the only code that touches libpcap.
//!
//! [`FileSource`] reads pcap and pcapng files, `-` (standard input) and FIFOs
//! through the `pcap` crate (libpcap detects the format). [`link`] locates the
//! 802.11 frame inside the link-layer header (radiotap, Prism, PPI, plain
//! 802.11) and detects an FCS. A capture whose link type is not one of those is
//! refused with an error naming it.

pub mod link;
pub mod live;

use std::path::Path;

use crate::engine::Ts;
use link::LinkKind;

/// Why a capture could not be opened or read.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("cannot open {path}: {msg}")]
    Open { path: String, msg: String },
    #[error(
        "{path}: link type {dlt} ({name}) is not 802.11; plugsniff reads radiotap (127), \
         802.11 (105), Prism (119) and PPI (192) captures"
    )]
    UnsupportedLink {
        path: String,
        dlt: i32,
        name: String,
    },
    #[error("{path}: read error after {frames} frames: {msg}")]
    Read {
        path: String,
        frames: u64,
        msg: String,
    },
}

/// A one-line progress indicator on standard error, for reading a file on a
/// terminal: redrawn at most every 1/8 s, erased by [`Progress::done`].
pub struct Progress {
    enabled: bool,
    last: std::time::Instant,
}

impl Progress {
    pub fn new(src: &FileSource) -> Progress {
        use std::io::IsTerminal;
        Progress {
            enabled: src.file_size.is_some_and(|s| s > 1 << 20) && std::io::stderr().is_terminal(),
            last: std::time::Instant::now(),
        }
    }
    pub fn tick(&mut self, src: &FileSource) {
        if !self.enabled || self.last.elapsed() < std::time::Duration::from_millis(125) {
            return;
        }
        self.last = std::time::Instant::now();
        if let Some(size) = src.file_size {
            let pct = (src.bytes_read.min(size) * 100) / size.max(1);
            let bar = "#".repeat((pct / 4) as usize);
            eprint!("\r[{bar:<25}] {pct:>3}%  {} frames", src.frames);
        }
    }
    pub fn done(&mut self) {
        if self.enabled {
            eprint!("\r{:60}\r", "");
        }
    }
}

/// One frame as read: timestamp, length on the wire, bytes (link header included).
pub struct RawFrame<'a> {
    pub ts: Ts,
    pub orig_len: u32,
    pub data: &'a [u8],
}

/// A pcap/pcapng file, standard input (`-`) or a FIFO.
pub struct FileSource {
    cap: pcap::Capture<pcap::Offline>,
    path: String,
    /// The 802.11 link kind; `LinkKind::Ieee80211` placeholder when `plain`.
    pub kind: LinkKind,
    pub dlt: i32,
    /// A non-802.11 link type (Ethernet, SLL, raw IP…) opened by [`FileSource::open_any`].
    pub plain: bool,
    frames: u64,
    /// Size of the input when it is a regular file (for progress display).
    pub file_size: Option<u64>,
    /// Approximate bytes consumed so far (record headers + captured bytes).
    pub bytes_read: u64,
}

impl FileSource {
    /// Opens an 802.11 capture (radiotap, 802.11, Prism, PPI).
    pub fn open(path: &str) -> Result<FileSource, CaptureError> {
        Self::open_with(path, |_| false)
    }

    /// Opens an 802.11 capture, or one of a plain link type `plain_ok` accepts
    /// (a wired tap: Ethernet, Linux cooked, null/loopback, raw IP).
    pub fn open_any(
        path: &str,
        plain_ok: impl Fn(i32) -> bool,
    ) -> Result<FileSource, CaptureError> {
        Self::open_with(path, plain_ok)
    }

    fn open_with(path: &str, plain_ok: impl Fn(i32) -> bool) -> Result<FileSource, CaptureError> {
        // libpcap reads a FIFO or /dev/stdin like a file; no raw fd needed.
        let real: &Path = if path == "-" {
            Path::new("/dev/stdin")
        } else {
            Path::new(path)
        };
        let cap = pcap::Capture::from_file(real).map_err(|e| CaptureError::Open {
            path: path.to_string(),
            msg: e.to_string(),
        })?;
        let dl = cap.get_datalink();
        let plain = LinkKind::from_dlt(dl.0).is_none() && plain_ok(dl.0);
        let kind = if plain {
            Some(LinkKind::Ieee80211)
        } else {
            LinkKind::from_dlt(dl.0)
        };
        let kind = kind.ok_or_else(|| CaptureError::UnsupportedLink {
            path: path.to_string(),
            dlt: dl.0,
            name: dl
                .get_name()
                .map(|n| match dl.get_description() {
                    Ok(d) => format!("{n}, {d}"),
                    Err(_) => n,
                })
                .unwrap_or_else(|_| "unknown".into()),
        })?;
        Ok(FileSource {
            cap,
            path: path.to_string(),
            kind,
            dlt: dl.0,
            plain,
            frames: 0,
            file_size: std::fs::metadata(real)
                .ok()
                .filter(|m| m.is_file())
                .map(|m| m.len()),
            bytes_read: 24,
        })
    }

    /// The next frame, `Ok(None)` at the end. A torn last record or a corrupt
    /// block is an error carrying how many frames were read before it.
    /// Frames read so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    // time_t is i64 on 64-bit targets only.
    #[allow(clippy::useless_conversion)]
    pub fn next_frame(&mut self) -> Result<Option<RawFrame<'_>>, CaptureError> {
        match self.cap.next_packet() {
            Ok(p) => {
                self.frames += 1;
                self.bytes_read += 16 + u64::from(p.header.caplen);
                Ok(Some(RawFrame {
                    ts: Ts {
                        sec: i64::from(p.header.ts.tv_sec),
                        usec: p.header.ts.tv_usec as u32,
                    },
                    orig_len: p.header.len,
                    data: p.data,
                }))
            }
            Err(pcap::Error::NoMorePackets) => Ok(None),
            Err(e) => Err(CaptureError::Read {
                path: self.path.clone(),
                frames: self.frames,
                msg: e.to_string(),
            }),
        }
    }
}
