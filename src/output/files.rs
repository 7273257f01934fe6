//! Output files of long runs: a JSON-lines event log and a decrypted pcap
//! rotated by size. Both reopen on demand (SIGHUP, for logrotate), are created
//! 0600, and report every I/O error (a full disk stops the run with a clear
//! message instead of losing events silently). Paths are checked and written
//! through [`super::dest`]: a FIFO or standard output is written directly and
//! never rotated or reopened, and rotation renames only over regular files.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::dest::{self, OutFile, Role, Target};
use super::json::to_json_line;
use super::pcap_out::{Format, PcapWriter};
use crate::report::event::Event;
use crate::wire::Ts;

/// Rotated pcaps kept beside the current one (`NAME.1` … `NAME.10`).
pub const ROTATE_KEEP: u32 = 10;

/// Appends one JSON event per line.
pub struct JsonlFile {
    target: Target,
    w: BufWriter<OutFile>,
}

impl JsonlFile {
    pub fn open(path: &Path) -> io::Result<JsonlFile> {
        Self::open_target(dest::resolve_io(path, Role::Append)?)
    }
    /// Appends to a checked target ([`dest::check`] with [`Role::Append`]).
    pub fn open_target(target: Target) -> io::Result<JsonlFile> {
        let w = BufWriter::new(OutFile::append(&target)?);
        Ok(JsonlFile { target, w })
    }
    pub fn write(&mut self, e: &Event) -> io::Result<()> {
        writeln!(self.w, "{}", to_json_line(e))
    }
    pub fn write_line(&mut self, line: &str) -> io::Result<()> {
        writeln!(self.w, "{line}")
    }
    pub fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
    /// Flushes and reopens the same path (after logrotate moved the file);
    /// a FIFO stays open.
    pub fn reopen(&mut self) -> io::Result<()> {
        self.w.flush()?;
        if let Target::File(_) = &self.target {
            self.w = BufWriter::new(OutFile::append(&self.target)?);
        }
        Ok(())
    }
}

/// A decrypted pcap rotated when it reaches `max_bytes`: `NAME` is renamed to
/// `NAME.1` (older ones shift up to `NAME.<keep>`), and a fresh `NAME` begins.
/// Every file is complete (finished and renamed) before the next one starts.
pub struct RotatingPcap {
    target: Target,
    linktype: u32,
    max_bytes: u64,
    keep: u32,
    cur: Option<PcapWriter>,
    bytes: u64,
    pub rotations: u64,
}

impl RotatingPcap {
    /// `max_bytes` of 0 never rotates.
    pub fn create(
        path: &Path,
        linktype: u32,
        max_bytes: u64,
        keep: u32,
    ) -> io::Result<RotatingPcap> {
        let keep = keep.max(1);
        let t = dest::resolve_io(path, Role::Rotated { keep })?;
        Self::create_target(t, linktype, max_bytes, keep)
    }

    /// Writes to a checked target ([`dest::check`] with [`Role::Rotated`]);
    /// a FIFO or standard output is never rotated.
    pub fn create_target(
        target: Target,
        linktype: u32,
        max_bytes: u64,
        keep: u32,
    ) -> io::Result<RotatingPcap> {
        let cur = Some(Self::start(&target, linktype)?);
        let max_bytes = match (&target, max_bytes) {
            (Target::File(_), m) if m > 0 => m.max(4096),
            _ => u64::MAX,
        };
        Ok(RotatingPcap {
            target,
            linktype,
            max_bytes,
            keep: keep.max(1),
            cur,
            bytes: 24,
            rotations: 0,
        })
    }

    fn start(t: &Target, linktype: u32) -> io::Result<PcapWriter> {
        let format = t.path().map_or(Format::Pcap, Format::from_path);
        PcapWriter::create_target(t, linktype, format)
    }

    pub fn write(&mut self, ts: Ts, parts: &[&[u8]]) -> io::Result<()> {
        let len: u64 = parts.iter().map(|p| p.len() as u64).sum::<u64>() + 16;
        if self.bytes.saturating_add(len) > self.max_bytes && self.bytes > 24 {
            self.rotate()?;
        }
        if let Some(w) = self.cur.as_mut() {
            w.write_parts(ts, parts)?;
            self.bytes = self.bytes.saturating_add(len);
        }
        Ok(())
    }

    fn numbered(&self, i: u32) -> Option<PathBuf> {
        match &self.target {
            Target::File(p) => Some(dest::numbered(p, i)),
            _ => None,
        }
    }

    /// Finishes the current file, shifts the old ones, starts a new one.
    /// Renames only over absent names or regular files.
    pub fn rotate(&mut self) -> io::Result<()> {
        let Target::File(path) = self.target.clone() else {
            return Ok(());
        };
        if let Some(w) = self.cur.take() {
            w.finish()?;
        }
        for i in (1..self.keep).rev() {
            let (Some(from), Some(to)) = (self.numbered(i), self.numbered(i + 1)) else {
                break;
            };
            // Only regular files are moved, and only over regular files.
            dest::ensure_replaceable(&from)?;
            if std::fs::symlink_metadata(&from).is_ok() {
                dest::ensure_replaceable(&to)?;
                std::fs::rename(&from, to)?;
            }
        }
        if std::fs::symlink_metadata(&path).is_ok() {
            let to = dest::numbered(&path, 1);
            dest::ensure_replaceable(&to)?;
            std::fs::rename(&path, to)?;
        }
        self.cur = Some(Self::start(&self.target, self.linktype)?);
        self.bytes = 24;
        self.rotations += 1;
        Ok(())
    }

    /// Finishes the current file and starts a new one under the same name
    /// (SIGHUP: whoever moved the old file keeps a complete pcap). A FIFO or
    /// standard output is only flushed: a second pcap header would corrupt
    /// the stream.
    pub fn reopen(&mut self) -> io::Result<()> {
        if !matches!(self.target, Target::File(_)) {
            return Ok(());
        }
        if let Some(w) = self.cur.take() {
            w.finish()?;
        }
        self.cur = Some(Self::start(&self.target, self.linktype)?);
        self.bytes = 24;
        Ok(())
    }

    pub fn finish(mut self) -> io::Result<()> {
        if let Some(w) = self.cur.take() {
            w.finish()?;
        }
        Ok(())
    }
}

/// The engine tap of `watch -w`: decrypted MSDUs, as Ethernet frames, into a
/// rotating pcap. The first write error is kept (the run stops on it) and
/// nothing more is written after it.
#[derive(Default)]
pub struct PcapTap {
    pub out: Option<RotatingPcap>,
    pub error: Option<io::Error>,
    /// Each MSDU once, as `decrypt -o` writes it.
    pub dedup: super::pcap_out::EthernetDedup,
}

impl crate::engine::Sink for PcapTap {
    fn msdu(&mut self, m: &crate::engine::Msdu<'_>) {
        if !m.decrypted || self.error.is_some() || !self.dedup.keep(m) {
            return;
        }
        if let Some(p) = self.out.as_mut() {
            let eth = super::pcap_out::msdu_to_ethernet(m);
            if let Err(e) = p.write(m.ts, &[&eth]) {
                self.error = Some(e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_by_size_and_every_file_is_complete() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.pcap");
        let mut r = RotatingPcap::create(&p, 1, 5000, 3).unwrap();
        for i in 0..40u32 {
            r.write(Ts::from_micros(i64::from(i), 0), &[&[0u8; 500]])
                .unwrap();
        }
        r.finish().unwrap();
        let mut total = 0;
        for f in [
            p.clone(),
            dir.path().join("d.pcap.1"),
            dir.path().join("d.pcap.2"),
            dir.path().join("d.pcap.3"),
        ] {
            total += crate::capture::file::read_all(&f).unwrap().1.len();
            assert!(std::fs::metadata(&f).unwrap().len() <= 5000);
        }
        assert!(!dir.path().join("d.pcap.4").exists());
        assert!(
            total > 0 && total < 40,
            "older files beyond keep=3 are dropped"
        );
    }

    /// Rotation never renames over a device node or a directory that
    /// appeared under a rotated name after the start.
    #[test]
    fn rotation_refuses_to_replace_what_is_not_a_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.pcap");
        let mut r = RotatingPcap::create(&p, 1, 5000, 3).unwrap();
        std::fs::create_dir(dir.path().join("d.pcap.1")).unwrap();
        let mut err = None;
        for i in 0..40u32 {
            if let Err(e) = r.write(Ts::from_micros(i64::from(i), 0), &[&[0u8; 500]]) {
                err = Some(e);
                break;
            }
        }
        let err = err.expect("the rotation must fail");
        assert!(err.to_string().contains("not a regular file"), "{err}");
        assert!(dir.path().join("d.pcap.1").is_dir());
        assert!(!dir.path().join("d.pcap.partial").exists());
    }

    #[test]
    fn zero_never_rotates() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.pcap");
        let mut r = RotatingPcap::create(&p, 1, 0, 3).unwrap();
        for i in 0..40u32 {
            r.write(Ts::from_micros(i64::from(i), 0), &[&[0u8; 500]])
                .unwrap();
        }
        r.finish().unwrap();
        assert_eq!(crate::capture::file::read_all(&p).unwrap().1.len(), 40);
        assert!(!dir.path().join("d.pcap.1").exists());
    }
}
