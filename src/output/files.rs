//! Output files of long runs: a JSON-lines event log and a decrypted pcap
//! rotated by size. Both reopen on demand (SIGHUP, for logrotate), are created
//! 0600, and report every I/O error (a full disk stops the run with a clear
//! message instead of losing events silently).

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::json::to_json_line;
use super::pcap_out::PcapWriter;
use crate::report::event::Event;
use crate::wire::Ts;

fn open_private(p: &Path, append: bool) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.create(true);
    if append {
        o.append(true);
    } else {
        o.write(true).truncate(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(p)
}

/// Appends one JSON event per line.
pub struct JsonlFile {
    path: PathBuf,
    w: BufWriter<File>,
}

impl JsonlFile {
    pub fn open(path: &Path) -> io::Result<JsonlFile> {
        Ok(JsonlFile {
            path: path.to_path_buf(),
            w: BufWriter::new(open_private(path, true)?),
        })
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
    /// Flushes and reopens the same path (after logrotate moved the file).
    pub fn reopen(&mut self) -> io::Result<()> {
        self.w.flush()?;
        self.w = BufWriter::new(open_private(&self.path, true)?);
        Ok(())
    }
}

/// A decrypted pcap rotated when it reaches `max_bytes`: `NAME` is renamed to
/// `NAME.1` (older ones shift up to `NAME.<keep>`), and a fresh `NAME` begins.
/// Every file is complete (finished and renamed) before the next one starts.
pub struct RotatingPcap {
    path: PathBuf,
    linktype: u32,
    max_bytes: u64,
    keep: u32,
    cur: Option<PcapWriter>,
    bytes: u64,
    pub rotations: u64,
}

impl RotatingPcap {
    pub fn create(
        path: &Path,
        linktype: u32,
        max_bytes: u64,
        keep: u32,
    ) -> io::Result<RotatingPcap> {
        Ok(RotatingPcap {
            path: path.to_path_buf(),
            linktype,
            max_bytes: max_bytes.max(4096),
            keep: keep.max(1),
            cur: Some(PcapWriter::create(path, linktype)?),
            bytes: 24,
            rotations: 0,
        })
    }

    pub fn write(&mut self, ts: Ts, parts: &[&[u8]]) -> io::Result<()> {
        let len: u64 = parts.iter().map(|p| p.len() as u64).sum::<u64>() + 16;
        if self.bytes + len > self.max_bytes && self.bytes > 24 {
            self.rotate()?;
        }
        if let Some(w) = self.cur.as_mut() {
            w.write_parts(ts, parts)?;
            self.bytes += len;
        }
        Ok(())
    }

    fn numbered(&self, i: u32) -> PathBuf {
        let mut s = self.path.as_os_str().to_owned();
        s.push(format!(".{i}"));
        PathBuf::from(s)
    }

    /// Finishes the current file, shifts the old ones, starts a new one.
    pub fn rotate(&mut self) -> io::Result<()> {
        if let Some(w) = self.cur.take() {
            w.finish()?;
        }
        for i in (1..self.keep).rev() {
            let from = self.numbered(i);
            if from.exists() {
                std::fs::rename(&from, self.numbered(i + 1))?;
            }
        }
        if self.path.exists() {
            std::fs::rename(&self.path, self.numbered(1))?;
        }
        self.cur = Some(PcapWriter::create(&self.path, self.linktype)?);
        self.bytes = 24;
        self.rotations += 1;
        Ok(())
    }

    /// Finishes the current file and starts a new one under the same name
    /// (SIGHUP: whoever moved the old file keeps a complete pcap).
    pub fn reopen(&mut self) -> io::Result<()> {
        if let Some(w) = self.cur.take() {
            w.finish()?;
        }
        self.cur = Some(PcapWriter::create(&self.path, self.linktype)?);
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
}
