//! Writes classic pcap files (the libpcap format: 24-byte global header, then a
//! 16-byte record header per packet; <https://www.tcpdump.org/manpages/pcap-savefile.5.html>).
//!
//! Written here rather than through libpcap's `pcap_dump`, because that API
//! reports no write errors (a full disk would go unnoticed). Guarantees
//! (through [`super::dest`]):
//! - the file is created with mode 0600 (decrypted traffic is as private as the key);
//! - it is written as `NAME.partial` and renamed to `NAME` by [`PcapWriter::finish`],
//!   so a reader never sees a torn file under the final name; a writer dropped
//!   unfinished (an error, an early return) removes `NAME.partial`;
//! - a FIFO or standard output is written directly;
//! - every I/O error is returned.

use std::io::{self, BufWriter, Write};
use std::path::Path;

use super::dest::{self, OutFile, Role, Target};

use crate::engine::Msdu;
use crate::wire::Ts;
use crate::wire::llc;

pub const LINKTYPE_ETHERNET: u32 = 1;
pub const LINKTYPE_IEEE802_11: u32 = 105;
/// 802.11 with a radiotap header (what monitor-mode captures use).
pub const LINKTYPE_IEEE802_11_RADIOTAP: u32 = 127;
/// Largest record written (the longest A-MSDU plus headers).
pub const SNAPLEN: u32 = 65_535;

/// On-disk format: classic pcap, or pcapng (one section, one interface).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pcap,
    Pcapng,
}

impl Format {
    /// `.pcapng` → pcapng, anything else → pcap.
    pub fn from_path(p: &Path) -> Format {
        match p.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("pcapng") => Format::Pcapng,
            _ => Format::Pcap,
        }
    }
}

/// Record encoder over any writer (a file, or a `Vec` in tests).
pub struct Encoder<W: Write> {
    w: W,
    format: Format,
    pub records: u64,
}

impl<W: Write> Encoder<W> {
    /// Writes the file header: the pcap global header, or pcapng's Section
    /// Header Block + Interface Description Block (pcapng spec §4.1, §4.2).
    pub fn new(mut w: W, format: Format, linktype: u32) -> io::Result<Self> {
        match format {
            Format::Pcap => {
                w.write_all(&0xa1b2_c3d4u32.to_le_bytes())?;
                w.write_all(&2u16.to_le_bytes())?;
                w.write_all(&4u16.to_le_bytes())?;
                w.write_all(&0i32.to_le_bytes())?; // thiszone
                w.write_all(&0u32.to_le_bytes())?; // sigfigs
                w.write_all(&SNAPLEN.to_le_bytes())?;
                w.write_all(&linktype.to_le_bytes())?;
            }
            Format::Pcapng => {
                // SHB: type, length, byte-order magic, version 1.0, section length unknown.
                w.write_all(&0x0a0d_0d0au32.to_le_bytes())?;
                w.write_all(&28u32.to_le_bytes())?;
                w.write_all(&0x1a2b_3c4du32.to_le_bytes())?;
                w.write_all(&1u16.to_le_bytes())?;
                w.write_all(&0u16.to_le_bytes())?;
                w.write_all(&(-1i64).to_le_bytes())?;
                w.write_all(&28u32.to_le_bytes())?;
                // IDB: link type, snaplen; default timestamp resolution (µs).
                w.write_all(&1u32.to_le_bytes())?;
                w.write_all(&20u32.to_le_bytes())?;
                w.write_all(&(linktype as u16).to_le_bytes())?;
                w.write_all(&0u16.to_le_bytes())?;
                w.write_all(&SNAPLEN.to_le_bytes())?;
                w.write_all(&20u32.to_le_bytes())?;
            }
        }
        Ok(Encoder {
            w,
            format,
            records: 0,
        })
    }

    /// Writes one record from pieces (avoids assembling the packet first).
    pub fn write_parts(&mut self, ts: Ts, parts: &[&[u8]]) -> io::Result<()> {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        let len = u32::try_from(total).unwrap_or(u32::MAX);
        let caplen = len.min(SNAPLEN);
        // The record header is assembled first and written in one piece
        // (one buffer copy per record, not one per field).
        let mut head = [0u8; 28];
        let head = match self.format {
            Format::Pcap => {
                let fields = [ts.sec as u32, ts.usec(), caplen, len];
                for (d, f) in head.chunks_exact_mut(4).zip(fields) {
                    d.copy_from_slice(&f.to_le_bytes());
                }
                &head[..16]
            }
            Format::Pcapng => {
                // Enhanced Packet Block (§4.3), timestamp in microseconds.
                let padded = (caplen + 3) & !3;
                let block = 32 + padded;
                let t = (ts.sec.max(0) as u64) * 1_000_000 + u64::from(ts.usec());
                let fields = [6, block, 0, (t >> 32) as u32, t as u32, caplen, len];
                for (d, f) in head.chunks_exact_mut(4).zip(fields) {
                    d.copy_from_slice(&f.to_le_bytes());
                }
                &head[..]
            }
        };
        self.w.write_all(head)?;
        let mut left = caplen as usize;
        for p in parts {
            let n = p.len().min(left);
            self.w.write_all(&p[..n])?;
            left -= n;
        }
        if self.format == Format::Pcapng {
            let pad = ((caplen + 3) & !3) - caplen;
            self.w.write_all(&[0u8; 3][..pad as usize])?;
            let block = 32 + ((caplen + 3) & !3);
            self.w.write_all(&block.to_le_bytes())?;
        }
        self.records += 1;
        Ok(())
    }

    pub fn into_inner(self) -> W {
        self.w
    }
}

/// Encodes frames into an in-memory capture file (tests, reproducibility checks).
pub fn encode(format: Format, linktype: u32, frames: &[(Ts, Vec<u8>)]) -> Vec<u8> {
    let mut e = Encoder::new(Vec::new(), format, linktype).expect("Vec never fails");
    for (ts, f) in frames {
        e.write_parts(*ts, &[f]).expect("Vec never fails");
    }
    e.into_inner()
}

/// A capture file on disk, created 0600 as `NAME.partial` and renamed on
/// finish; or a FIFO or standard output, written directly.
pub struct PcapWriter {
    enc: Encoder<BufWriter<OutFile>>,
    pub records: u64,
}

impl PcapWriter {
    /// Creates a pcap (or, for a `.pcapng` name, pcapng) file. The path is
    /// checked by [`dest::resolve`] (no directory, device, socket…).
    pub fn create(dest: &Path, linktype: u32) -> io::Result<PcapWriter> {
        Self::create_format(dest, linktype, Format::from_path(dest))
    }

    pub fn create_format(dest: &Path, linktype: u32, format: Format) -> io::Result<PcapWriter> {
        Self::create_target(&dest::resolve_io(dest, Role::Replace)?, linktype, format)
    }

    /// Writes to a checked target ([`dest::check`]).
    pub fn create_target(t: &Target, linktype: u32, format: Format) -> io::Result<PcapWriter> {
        let f = OutFile::create(t)?;
        let enc = Encoder::new(BufWriter::with_capacity(1 << 20, f), format, linktype)?;
        Ok(PcapWriter { enc, records: 0 })
    }

    pub fn write_parts(&mut self, ts: Ts, parts: &[&[u8]]) -> io::Result<()> {
        self.enc.write_parts(ts, parts)?;
        self.records += 1;
        Ok(())
    }

    pub fn write(&mut self, ts: Ts, data: &[u8]) -> io::Result<()> {
        self.write_parts(ts, &[data])
    }

    /// Writes an MSDU as an Ethernet II frame (RFC 1042 / 802.1H SNAP → EtherType),
    /// or as an 802.3 frame with a length field when the body is not SNAP.
    pub fn write_msdu_as_ethernet(&mut self, m: &Msdu<'_>) -> io::Result<()> {
        let mut eth = [0u8; 14];
        eth[..6].copy_from_slice(&m.da.0);
        eth[6..12].copy_from_slice(&m.sa.0);
        let (type_or_len, payload) = match llc::parse_snap(m.llc) {
            Some(s) => (s.ethertype, s.payload),
            None => (u16::try_from(m.llc.len()).unwrap_or(u16::MAX), m.llc),
        };
        eth[12..].copy_from_slice(&type_or_len.to_be_bytes());
        self.write_parts(m.ts, &[&eth, payload])
    }

    /// Flushes, syncs and renames the file to its final name (a FIFO or
    /// standard output: flushes). On error nothing is left under either name.
    pub fn finish(self) -> io::Result<()> {
        let w = self.enc.into_inner();
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.commit()
    }
}

/// Which MSDUs a decrypted Ethernet pcap holds: each MSDU the network
/// delivered, once. Not written: MAC retransmissions (802.11-2020 10.3.2.14:
/// the receiver discards them as duplicates) and the AP's relayed copy of a
/// frame between two stations of one BSS ([`crate::engine::relay::RelayFilter`]), which decrypts
/// to the same Ethernet frame. `decrypt -o` and `watch -w` both go through
/// it, so they write the same frames, and `watch -r` on their output reports
/// what it reports on the encrypted capture. (`--keep-80211` keeps every
/// MPDU: there the copies are distinct 802.11 frames.)
/// The engine marks both ([`Msdu::retransmit`], [`Msdu::relayed`]); this
/// counts what it leaves out.
#[derive(Default)]
pub struct EthernetDedup {
    /// MAC retransmissions not written.
    pub retransmits: u64,
    /// Relayed copies not written.
    pub relayed: u64,
}

impl EthernetDedup {
    /// True when `m` is `wanted` and to be written; only the wanted ones
    /// are counted.
    pub fn keep(&mut self, m: &Msdu<'_>, wanted: bool) -> bool {
        if !wanted {
            return false;
        }
        if m.retransmit {
            self.retransmits += 1;
            return false;
        }
        if m.relayed {
            self.relayed += 1;
            return false;
        }
        true
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
    fn pcapng_is_readable_by_libpcap() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.pcapng");
        let mut w = PcapWriter::create(&p, LINKTYPE_IEEE802_11_RADIOTAP).unwrap();
        w.write(Ts::from_micros(1_700_000_000, 7), &[1u8; 61])
            .unwrap();
        w.write(Ts::from_micros(1_700_000_001, 8), &[2u8; 4])
            .unwrap();
        w.finish().unwrap();
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!(&bytes[..4], &[0x0a, 0x0d, 0x0d, 0x0a]);
        // Read back by the capture reader (itself checked against tshark).
        let (dlt, pkts) = crate::capture::file::read_all(&p).unwrap();
        assert_eq!(dlt, 127);
        assert_eq!(pkts.len(), 2);
        assert_eq!((pkts[0].orig_len, pkts[0].ts.usec()), (61, 7));
        assert_eq!(pkts[0].data, [1u8; 61]);
        assert_eq!(pkts[1].data, [2u8; 4]);
    }

    #[test]
    fn writes_a_readable_pcap() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.pcap");
        let mut w = PcapWriter::create(&p, LINKTYPE_ETHERNET).unwrap();
        w.write(Ts::from_micros(1, 2), &[0u8; 60]).unwrap();
        assert!(!p.exists(), "final name appears only after finish");
        w.finish().unwrap();
        let (dlt, pkts) = crate::capture::file::read_all(&p).unwrap();
        assert_eq!(dlt, 1);
        assert_eq!(pkts[0].orig_len, 60);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
