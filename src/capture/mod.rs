//! Capture sources.
//!
//! [`FileSource`] reads pcap and pcapng files, `-` (standard input) and FIFOs
//! with [`file::Reader`], our own reader (no libpcap); [`live`] captures from
//! an interface through libpcap. [`crate::wire::link`] locates the 802.11
//! frame inside the link-layer header (radiotap, Prism, PPI, plain 802.11)
//! and detects an FCS. A capture whose first link type is not one of those
//! (nor a plain type the caller accepts) is refused with an error naming it;
//! in a pcapng file with several interfaces, every frame carries its own link
//! type ([`FileFrame::dlt`]) and the caller decides about the others.

pub mod file;
pub mod filter;
pub mod libpcap;
pub mod live;

use std::io::Read;

pub use file::{FileError, FileFrame, Format};

use crate::wire::Ts;
use crate::wire::link::LinkKind;

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
    /// Live capture needs libpcap and it could not be loaded.
    #[error(transparent)]
    NoLibpcap(#[from] libpcap::LoadError),
    /// A `-f` expression that cannot be used (a usage error).
    #[error(transparent)]
    Filter(#[from] filter::FilterError),
}

/// A one-line progress indicator on standard error, for reading a file on a
/// terminal: redrawn at most every 1/8 s, erased by [`ProgressBar::done`].
pub struct ProgressBar {
    enabled: bool,
    last: std::time::Instant,
}

impl ProgressBar {
    pub fn new(src: &FileSource) -> ProgressBar {
        use std::io::IsTerminal;
        ProgressBar {
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
            let pct = (src.bytes_read().min(size) * 100) / size.max(1);
            let bar = "#".repeat((pct / 4) as usize);
            eprint!("\r[{bar:<25}] {pct:>3}%  {} frames", src.frames());
        }
    }
    pub fn done(&mut self) {
        if self.enabled {
            eprint!("\r{:60}\r", "");
        }
    }
}

/// One frame as a live capture returns it: timestamp, length on the wire,
/// bytes (link header included). Files return a [`FileFrame`], which also
/// carries the frame's link type and interface.
pub struct RawFrame<'a> {
    pub ts: Ts,
    pub orig_len: u32,
    pub data: &'a [u8],
}

/// A pcap/pcapng file, standard input (`-`) or a FIFO.
pub struct FileSource {
    reader: file::Reader<Box<dyn Read + Send>>,
    path: String,
    /// The 802.11 link kind of the first interface; `LinkKind::Ieee80211`
    /// placeholder when `plain`.
    pub kind: LinkKind,
    /// Link type of the file (pcap) or of its first interface (pcapng).
    /// Each [`FileFrame`] carries its own.
    pub dlt: i32,
    /// A non-802.11 link type (Ethernet, SLL, raw IP…) opened by [`FileSource::open_any`].
    pub plain: bool,
    /// Size of the input when it is a regular file (for progress display).
    pub file_size: Option<u64>,
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
        let open_err = |msg: String| CaptureError::Open {
            path: path.to_string(),
            msg,
        };
        let (input, file_size): (Box<dyn Read + Send>, Option<u64>) = if path == "-" {
            // Standard input is read directly (its 8 KiB buffer is bypassed
            // by reads as large as ours); its size, when it is a file, for
            // the progress bar.
            let size = std::fs::metadata("/dev/stdin")
                .ok()
                .filter(|m| m.is_file())
                .map(|m| m.len());
            (Box::new(std::io::stdin()), size)
        } else {
            let meta = std::fs::metadata(path).map_err(|e| open_err(e.to_string()))?;
            if meta.is_dir() {
                return Err(open_err("is a directory".into()));
            }
            // A FIFO blocks here until a writer opens it, as with libpcap.
            let f = std::fs::File::open(path).map_err(|e| open_err(e.to_string()))?;
            (Box::new(f), meta.is_file().then_some(meta.len()))
        };
        let reader = file::Reader::new(input).map_err(|e| open_err(e.to_string()))?;
        let dlt = reader.first_dlt();
        let plain = LinkKind::from_dlt(dlt).is_none() && plain_ok(dlt);
        let kind = if plain {
            Some(LinkKind::Ieee80211)
        } else {
            LinkKind::from_dlt(dlt)
        };
        let kind = kind.ok_or_else(|| CaptureError::UnsupportedLink {
            path: path.to_string(),
            dlt,
            name: match link_type_name(dlt) {
                Some((n, d)) => format!("{n}, {d}"),
                None => "unknown".into(),
            },
        })?;
        Ok(FileSource {
            path: path.to_string(),
            kind,
            dlt,
            plain,
            file_size,
            reader,
        })
    }

    /// Frames read so far.
    pub fn frames(&self) -> u64 {
        self.reader.frames()
    }

    /// Bytes of the input consumed so far (headers, records and skipped
    /// blocks up to the end of the last frame returned): exact.
    pub fn bytes_read(&self) -> u64 {
        self.reader.bytes_read()
    }

    /// pcap (which flavour) or pcapng.
    pub fn format(&self) -> Format {
        self.reader.format()
    }

    /// The next frame, `Ok(None)` at the end. A torn last record or a corrupt
    /// block is an error carrying how many frames were read before it; the
    /// frames returned before it were complete.
    pub fn next_frame(&mut self) -> Result<Option<FileFrame<'_>>, CaptureError> {
        let frames = self.reader.frames();
        let path = &self.path;
        self.reader
            .next_frame()
            .map_err(|e| read_error(path, frames, e))
    }

    /// [`FileSource::next_frame`] with the bytes also shared, valid after the
    /// next call ([`file::Reader::next_frame_shared`]): the pipeline hands
    /// them to its workers without copying them.
    pub fn next_frame_shared(
        &mut self,
    ) -> Result<Option<(FileFrame<'_>, file::SharedBytes)>, CaptureError> {
        let frames = self.reader.frames();
        let path = &self.path;
        self.reader
            .next_frame_shared()
            .map_err(|e| read_error(path, frames, e))
    }
}

/// A reader's error, naming the file and the frames read before it.
fn read_error(path: &str, frames: u64, e: FileError) -> CaptureError {
    CaptureError::Read {
        path: path.to_string(),
        frames,
        msg: e.to_string(),
    }
}

/// libpcap's name and description of a link type, for the common ones
/// (libpcap `pcap.c` `dlt_choices`; values from the LINKTYPE_ registry).
pub fn link_type_name(dlt: i32) -> Option<(&'static str, &'static str)> {
    Some(match dlt {
        0 => ("NULL", "BSD loopback"),
        1 => ("EN10MB", "Ethernet"),
        6 => ("IEEE802", "Token ring"),
        9 => ("PPP", "PPP"),
        12 | 14 | 101 => ("RAW", "Raw IP"),
        105 => ("IEEE802_11", "802.11"),
        108 => ("LOOP", "OpenBSD loopback"),
        113 => ("LINUX_SLL", "Linux cooked v1"),
        119 => ("PRISM_HEADER", "802.11 plus Prism header"),
        127 => ("IEEE802_11_RADIO", "802.11 plus radiotap header"),
        163 => (
            "IEEE802_11_RADIO_AVS",
            "802.11 plus AVS radio information header",
        ),
        187 => ("BLUETOOTH_HCI_H4", "Bluetooth HCI UART transport layer"),
        192 => ("PPI", "Per-Packet Information"),
        195 => ("IEEE802_15_4", "IEEE 802.15.4 with FCS"),
        201 => (
            "BLUETOOTH_HCI_H4_WITH_PHDR",
            "Bluetooth HCI UART transport layer plus pseudo-header",
        ),
        220 => ("USB_LINUX_MMAPPED", "USB with padded Linux header"),
        228 => ("IPV4", "Raw IPv4"),
        229 => ("IPV6", "Raw IPv6"),
        249 => ("USBPCAP", "USB with USBPcap header"),
        276 => ("LINUX_SLL2", "Linux cooked v2"),
        _ => return None,
    })
}
