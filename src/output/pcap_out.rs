//! Writes classic pcap files (the libpcap format: 24-byte global header, then a
//! 16-byte record header per packet; <https://www.tcpdump.org/manpages/pcap-savefile.5.html>).
//!
//! Written here rather than through libpcap's `pcap_dump`, because that API
//! reports no write errors (a full disk would go unnoticed). Guarantees:
//! - the file is created with mode 0600 (decrypted traffic is as private as the key);
//! - it is written as `NAME.partial` and renamed to `NAME` by [`PcapWriter::finish`],
//!   so a reader never sees a torn file under the final name;
//! - every I/O error is returned.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::engine::{Msdu, Ts};
use crate::wire::llc;

pub const LINKTYPE_ETHERNET: u32 = 1;
pub const LINKTYPE_IEEE802_11: u32 = 105;
/// 802.11 with a radiotap header (what monitor-mode captures use).
pub const LINKTYPE_IEEE802_11_RADIOTAP: u32 = 127;
/// Largest record written (the longest A-MSDU plus headers).
pub const SNAPLEN: u32 = 65_535;

pub struct PcapWriter {
    w: BufWriter<File>,
    partial: PathBuf,
    dest: PathBuf,
    pub records: u64,
}

impl PcapWriter {
    pub fn create(dest: &Path, linktype: u32) -> io::Result<PcapWriter> {
        let mut partial = dest.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let mut opts = OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let f = opts.open(&partial)?;
        let mut w = BufWriter::with_capacity(1 << 20, f);
        w.write_all(&0xa1b2_c3d4u32.to_le_bytes())?;
        w.write_all(&2u16.to_le_bytes())?;
        w.write_all(&4u16.to_le_bytes())?;
        w.write_all(&0i32.to_le_bytes())?; // thiszone
        w.write_all(&0u32.to_le_bytes())?; // sigfigs
        w.write_all(&SNAPLEN.to_le_bytes())?;
        w.write_all(&linktype.to_le_bytes())?;
        Ok(PcapWriter {
            w,
            partial,
            dest: dest.to_path_buf(),
            records: 0,
        })
    }

    /// Writes one record from pieces (avoids assembling the packet first).
    pub fn write_parts(&mut self, ts: Ts, parts: &[&[u8]]) -> io::Result<()> {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        let len = u32::try_from(total).unwrap_or(u32::MAX);
        let caplen = len.min(SNAPLEN);
        self.w.write_all(&(ts.sec as u32).to_le_bytes())?;
        self.w.write_all(&ts.usec.to_le_bytes())?;
        self.w.write_all(&caplen.to_le_bytes())?;
        self.w.write_all(&len.to_le_bytes())?;
        let mut left = caplen as usize;
        for p in parts {
            let n = p.len().min(left);
            self.w.write_all(&p[..n])?;
            left -= n;
        }
        self.records += 1;
        Ok(())
    }

    pub fn write(&mut self, ts: Ts, data: &[u8]) -> io::Result<()> {
        self.write_parts(ts, &[data])
    }

    /// Writes an MSDU as an Ethernet II frame (RFC 1042 / 802.1H SNAP → EtherType),
    /// or as an 802.3 frame with a length field when the body is not SNAP.
    pub fn write_msdu_as_ethernet(&mut self, m: &Msdu<'_>) -> io::Result<()> {
        match llc::parse_snap(m.llc) {
            Some(s) => self.write_parts(
                m.ts,
                &[&m.da.0, &m.sa.0, &s.ethertype.to_be_bytes(), s.payload],
            ),
            None => {
                let len = u16::try_from(m.llc.len()).unwrap_or(u16::MAX);
                self.write_parts(m.ts, &[&m.da.0, &m.sa.0, &len.to_be_bytes(), m.llc])
            }
        }
    }

    /// Flushes, syncs and renames the file to its final name.
    pub fn finish(mut self) -> io::Result<PathBuf> {
        self.w.flush()?;
        self.w.get_ref().sync_all()?;
        fs::rename(&self.partial, &self.dest)?;
        Ok(self.dest)
    }
}

/// The Ethernet frame [`PcapWriter::write_msdu_as_ethernet`] writes, as bytes.
pub fn msdu_to_ethernet(m: &Msdu<'_>) -> Vec<u8> {
    let mut v = Vec::with_capacity(14 + m.llc.len());
    v.extend_from_slice(&m.da.0);
    v.extend_from_slice(&m.sa.0);
    match llc::parse_snap(m.llc) {
        Some(s) => {
            v.extend_from_slice(&s.ethertype.to_be_bytes());
            v.extend_from_slice(s.payload);
        }
        None => {
            let len = u16::try_from(m.llc.len()).unwrap_or(u16::MAX);
            v.extend_from_slice(&len.to_be_bytes());
            v.extend_from_slice(m.llc);
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_readable_pcap() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.pcap");
        let mut w = PcapWriter::create(&p, LINKTYPE_ETHERNET).unwrap();
        w.write(Ts { sec: 1, usec: 2 }, &[0u8; 60]).unwrap();
        assert!(!p.exists(), "final name appears only after finish");
        w.finish().unwrap();
        let mut cap = pcap::Capture::from_file(&p).unwrap();
        assert_eq!(cap.get_datalink().0, 1);
        let pkt = cap.next_packet().unwrap();
        assert_eq!(pkt.header.len, 60);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
