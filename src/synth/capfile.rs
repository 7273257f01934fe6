//! Capture-file builders for every variant the reader accepts: the setter
//! side of [`crate::capture::file`].
//!
//! [`PcapBuilder`] writes classic pcap (µs `a1b2c3d4`, ns `a1b23c4d`, the
//! "modified" `a1b2cd34`) in either byte order; [`PcapNgBuilder`] writes pcapng
//! (IETF draft-ietf-opsawg-pcapng §4) block by block: several sections of
//! either byte order, interface description blocks with options, enhanced,
//! simple and obsolete packet blocks, and any other block type raw. Unlike
//! [`crate::output::pcap_out`] (what the daemon writes: one format, one
//! interface), these exist to cover the format space: the reader's unit
//! tests, the tshark comparison in `tests/file_reader.rs` and the fuzz seed
//! corpus are built with them.
//!
//! Nothing is validated: a test asks for a bad length or a torn block and
//! gets exactly those bytes. No I/O; the same calls give the same bytes.

/// Section Header Block type (pcapng §4.1); the same in both byte orders.
pub const BT_SHB: u32 = 0x0a0d_0d0a;
/// Interface Description Block (§4.2).
pub const BT_IDB: u32 = 1;
/// The obsolete Packet Block (Appendix A).
pub const BT_PB: u32 = 2;
/// Simple Packet Block (§4.4).
pub const BT_SPB: u32 = 3;
/// Name Resolution Block (§4.5).
pub const BT_NRB: u32 = 4;
/// Interface Statistics Block (§4.6).
pub const BT_ISB: u32 = 5;
/// Enhanced Packet Block (§4.3).
pub const BT_EPB: u32 = 6;
/// Decryption Secrets Block (§4.7).
pub const BT_DSB: u32 = 10;
/// Custom Block that may be copied (§4.8).
pub const BT_CUSTOM: u32 = 0x0000_0bad;
/// `if_tsresol` (§4.2): one byte, a negative power of 10, or of 2 with the high bit set.
pub const OPT_IF_TSRESOL: u16 = 9;
/// `if_tsoffset` (§4.2): a signed 64-bit number of seconds added to every timestamp.
pub const OPT_IF_TSOFFSET: u16 = 14;
/// `opt_comment` (§3.5).
pub const OPT_COMMENT: u16 = 1;

/// Which classic pcap magic number to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PcapFlavor {
    /// `0xa1b2c3d4`: microsecond timestamps.
    Micros,
    /// `0xa1b23c4d`: nanosecond timestamps.
    Nanos,
    /// `0xa1b2cd34`: Alexey Kuznetzov's patched libpcap, µs timestamps and a
    /// 24-byte record header (ifindex, protocol, packet type, padding).
    Modified,
}

/// A classic pcap file in memory (pcap-savefile(5); draft-ietf-opsawg-pcap §4, §5).
#[derive(Debug, Clone)]
pub struct PcapBuilder {
    buf: Vec<u8>,
    big: bool,
    flavor: PcapFlavor,
}

impl PcapBuilder {
    /// The 24-byte file header: magic, version 2.4, snaplen, link type.
    pub fn new(flavor: PcapFlavor, big_endian: bool, linktype: u32, snaplen: u32) -> Self {
        let mut b = PcapBuilder {
            buf: Vec::new(),
            big: big_endian,
            flavor,
        };
        let magic = match flavor {
            PcapFlavor::Micros => 0xa1b2_c3d4,
            PcapFlavor::Nanos => 0xa1b2_3c4d,
            PcapFlavor::Modified => 0xa1b2_cd34,
        };
        b.u32(magic)
            .u16(2)
            .u16(4)
            .u32(0)
            .u32(0)
            .u32(snaplen)
            .u32(linktype);
        b
    }

    /// One record: `frac` is µs or ns as the flavor says; `data` is the
    /// captured bytes (its length is the captured length).
    pub fn record(&mut self, sec: u32, frac: u32, orig_len: u32, data: &[u8]) -> &mut Self {
        let caplen = u32::try_from(data.len()).unwrap_or(u32::MAX);
        self.u32(sec).u32(frac).u32(caplen).u32(orig_len);
        if self.flavor == PcapFlavor::Modified {
            // ifindex, protocol, pkt_type, pad.
            self.u32(2).u16(0x0800).u8(0).u8(0);
        }
        self.buf.extend_from_slice(data);
        self
    }

    /// A record header claiming `caplen` bytes, without them (corrupt or torn files).
    pub fn record_header(&mut self, sec: u32, frac: u32, caplen: u32, orig_len: u32) -> &mut Self {
        self.u32(sec).u32(frac).u32(caplen).u32(orig_len)
    }

    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }
    fn u16(&mut self, v: u16) -> &mut Self {
        let b = if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.buf.extend_from_slice(&b);
        self
    }
    fn u32(&mut self, v: u32) -> &mut Self {
        let b = if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.buf.extend_from_slice(&b);
        self
    }
}

/// A pcapng file in memory, written block by block in the current section's
/// byte order.
#[derive(Debug, Clone)]
pub struct PcapNgBuilder {
    buf: Vec<u8>,
    big: bool,
}

impl PcapNgBuilder {
    /// A file starting with a Section Header Block (version 1.0) in the given byte order.
    pub fn new(big_endian: bool) -> Self {
        let mut b = PcapNgBuilder {
            buf: Vec::new(),
            big: big_endian,
        };
        b.section(big_endian);
        b
    }

    /// A new Section Header Block (§4.1); the blocks after it use its byte order.
    pub fn section(&mut self, big_endian: bool) -> &mut Self {
        self.section_version(big_endian, 1, 0)
    }

    /// A Section Header Block with the given version (only 1.x is valid).
    pub fn section_version(&mut self, big_endian: bool, major: u16, minor: u16) -> &mut Self {
        self.big = big_endian;
        let mut body = Vec::new();
        body.extend_from_slice(&self.w32(0x1a2b_3c4d));
        body.extend_from_slice(&self.w16(major));
        body.extend_from_slice(&self.w16(minor));
        body.extend_from_slice(&self.w64(u64::MAX)); // section length: unspecified (-1)
        self.block(BT_SHB, &body)
    }

    /// An Interface Description Block (§4.2) with `(code, value)` options
    /// (padding and `opt_endofopt` are added).
    pub fn idb(&mut self, linktype: u16, snaplen: u32, options: &[(u16, &[u8])]) -> &mut Self {
        let mut body = Vec::new();
        body.extend_from_slice(&self.w16(linktype));
        body.extend_from_slice(&self.w16(0));
        body.extend_from_slice(&self.w32(snaplen));
        body.extend_from_slice(&self.options(options));
        self.block(BT_IDB, &body)
    }

    /// The value of an `if_tsoffset` option in this section's byte order.
    pub fn tsoffset(&self, seconds: i64) -> [u8; 8] {
        self.w64(seconds as u64)
    }

    /// An Enhanced Packet Block (§4.3): `ts` in the interface's units.
    pub fn epb(&mut self, interface: u32, ts: u64, orig_len: u32, data: &[u8]) -> &mut Self {
        self.epb_with(interface, ts, orig_len, data, &[])
    }

    /// An Enhanced Packet Block with options (e.g. `epb_flags`, a comment).
    pub fn epb_with(
        &mut self,
        interface: u32,
        ts: u64,
        orig_len: u32,
        data: &[u8],
        options: &[(u16, &[u8])],
    ) -> &mut Self {
        let mut body = Vec::new();
        body.extend_from_slice(&self.w32(interface));
        body.extend_from_slice(&self.w32((ts >> 32) as u32));
        body.extend_from_slice(&self.w32(ts as u32));
        body.extend_from_slice(&self.w32(u32::try_from(data.len()).unwrap_or(u32::MAX)));
        body.extend_from_slice(&self.w32(orig_len));
        body.extend_from_slice(data);
        pad4(&mut body);
        body.extend_from_slice(&self.options(options));
        self.block(BT_EPB, &body)
    }

    /// A Simple Packet Block (§4.4): original length, then the bytes written
    /// (the reader takes min(orig_len, snaplen of interface 0) of them).
    pub fn spb(&mut self, orig_len: u32, data: &[u8]) -> &mut Self {
        let mut body = Vec::new();
        body.extend_from_slice(&self.w32(orig_len));
        body.extend_from_slice(data);
        pad4(&mut body);
        self.block(BT_SPB, &body)
    }

    /// The obsolete Packet Block (Appendix A): 16-bit interface ID and drop count.
    pub fn pb(&mut self, interface: u16, ts: u64, orig_len: u32, data: &[u8]) -> &mut Self {
        let mut body = Vec::new();
        body.extend_from_slice(&self.w16(interface));
        body.extend_from_slice(&self.w16(0)); // drops count
        body.extend_from_slice(&self.w32((ts >> 32) as u32));
        body.extend_from_slice(&self.w32(ts as u32));
        body.extend_from_slice(&self.w32(u32::try_from(data.len()).unwrap_or(u32::MAX)));
        body.extend_from_slice(&self.w32(orig_len));
        body.extend_from_slice(data);
        pad4(&mut body);
        self.block(BT_PB, &body)
    }

    /// Any block: type, total length, `body` padded to 4 bytes, total length again.
    pub fn block(&mut self, block_type: u32, body: &[u8]) -> &mut Self {
        let padded = body.len().next_multiple_of(4);
        let total = u32::try_from(12 + padded).unwrap_or(u32::MAX);
        let t = self.w32(block_type);
        let l = self.w32(total);
        self.buf.extend_from_slice(&t);
        self.buf.extend_from_slice(&l);
        self.buf.extend_from_slice(body);
        self.buf.resize(self.buf.len() + (padded - body.len()), 0);
        self.buf.extend_from_slice(&l);
        self
    }

    /// Raw bytes as they are (a torn or corrupt block).
    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(bytes);
        self
    }

    /// A 32-bit value in the current section's byte order.
    pub fn w32(&self, v: u32) -> [u8; 4] {
        if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    fn w16(&self, v: u16) -> [u8; 2] {
        if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    fn w64(&self, v: u64) -> [u8; 8] {
        if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    /// Options (§3.5): code, length, value padded to 4, then `opt_endofopt`.
    fn options(&self, options: &[(u16, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        if options.is_empty() {
            return out;
        }
        for (code, value) in options {
            out.extend_from_slice(&self.w16(*code));
            out.extend_from_slice(&self.w16(u16::try_from(value.len()).unwrap_or(u16::MAX)));
            out.extend_from_slice(value);
            pad4(&mut out);
        }
        out.extend_from_slice(&[0; 4]);
        out
    }
}

fn pad4(v: &mut Vec<u8>) {
    v.resize(v.len().next_multiple_of(4), 0);
}
