//! DNS message views (RFC 1035 §4.1), shared by unicast DNS name learning
//! (`flows::names`) and multicast DNS / DNS-SD (`decoders::mdns`, RFC 6762,
//! RFC 6763).
//!
//! # What this module owns
//! - [`DnsMessage`]: the 12-byte header (RFC 1035 §4.1.1).
//! - [`Reader`]: a cursor that reads questions (§4.1.2) and resource records
//!   (§4.1.3) in order, section after section.
//! - [`Name`]: a validated, possibly compressed (§4.1.4) domain name, read
//!   label by label without copying; [`Name`]'s `Display` makes it safe to
//!   print ([`LabelText`]).
//! - Record data helpers: A, AAAA, PTR/CNAME targets, SRV (RFC 2782), and
//!   TXT character-strings (RFC 1035 §3.3.14) with DNS-SD `key=value`
//!   attributes (RFC 6763 §6.3, §6.4).
//!
//! # Guarantees
//! - No state, no allocation, no panics on any input: every offset is checked
//!   with `get`; a record or name that runs past the end is
//!   [`DnsError::Short`].
//! - A name is at most [`MAX_NAME_WIRE_LEN`] bytes in its uncompressed form
//!   (RFC 1035 §2.3.4), hence at most [`MAX_LABELS`] labels, and follows at
//!   most [`MAX_POINTER_HOPS`] compression pointers. Each pointer must point
//!   before itself ("a prior occurrence", §4.1.4); a pointer loop therefore
//!   ends on the hop or length limit and is an error, never a hang.
//! - Cost: reading one name visits at most `MAX_POINTER_HOPS + MAX_LABELS`
//!   positions, and each record is read once, so walking a message is linear
//!   in its length whatever its header counts claim. Nothing is sized from a
//!   count: callers cap how many records they keep.
//!
//! # Why hand-written
//! `simple-dns` 0.13 was tried (for `flows::names`) and does not panic on
//! random input, but `Packet::parse` calls `Vec::with_capacity(count)` with
//! each section count from the header: a 12-byte packet claiming 65 535
//! answers makes it allocate about 9 MB before it fails. It also rejects the
//! whole packet when one record is bad, where a sniffer wants the records
//! before the fault. These views are about 300 lines with explicit limits.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Header length (RFC 1035 §4.1.1).
pub const HEADER_LEN: usize = 12;
/// Compression pointers followed while reading one name. Real encoders
/// point at most a handful of times per name.
pub const MAX_POINTER_HOPS: usize = 32;
/// Longest name in wire form, length octets and root included
/// (RFC 1035 §2.3.4).
pub const MAX_NAME_WIRE_LEN: usize = 255;
/// Most labels a name can have: each takes at least two of the
/// [`MAX_NAME_WIRE_LEN`] bytes, so the length check enforces this bound.
pub const MAX_LABELS: usize = (MAX_NAME_WIRE_LEN - 1) / 2;
/// Longest label (RFC 1035 §2.3.4): the two top bits of a length octet are
/// the label type.
pub const MAX_LABEL_LEN: usize = 63;
/// type(2) class(2) TTL(4) RDLENGTH(2) after a record's owner name.
pub const RR_FIXED_LEN: usize = 10;
/// qtype(2) qclass(2) after a question's name.
pub const QUESTION_FIXED_LEN: usize = 4;

/// Resource record types used here (RFC 1035 §3.2.2, RFC 3596, RFC 2782,
/// RFC 6891, RFC 4034).
pub mod rtype {
    pub const A: u16 = 1;
    pub const CNAME: u16 = 5;
    pub const PTR: u16 = 12;
    pub const HINFO: u16 = 13;
    pub const TXT: u16 = 16;
    pub const AAAA: u16 = 28;
    pub const SRV: u16 = 33;
    pub const OPT: u16 = 41;
    pub const NSEC: u16 = 47;
    pub const ANY: u16 = 255;
}

/// The Internet class.
pub const CLASS_IN: u16 = 1;
/// mDNS uses the top bit of the class: "cache flush" in a record
/// (RFC 6762 §10.2), "unicast response requested" in a question (§5.4).
pub const CLASS_TOP_BIT: u16 = 0x8000;

/// Why a name or record could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    #[error("DNS: record or name runs past the end")]
    Short,
    #[error("DNS: label type 0b01/0b10 (RFC 6891 §5)")]
    BadLabelType,
    #[error("DNS: compression pointer does not point backwards")]
    ForwardPointer,
    #[error("DNS: more than {MAX_POINTER_HOPS} compression pointers in one name")]
    TooManyPointers,
    #[error("DNS: name longer than {MAX_NAME_WIRE_LEN} bytes")]
    NameTooLong,
}

fn be16(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(off)?, *b.get(off + 1)?]))
}

/// A DNS message: the header, validated to be present.
#[derive(Debug, Clone, Copy)]
pub struct DnsMessage<'a> {
    buf: &'a [u8],
}

impl<'a> DnsMessage<'a> {
    /// A view of `buf` if it holds at least the header.
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, DnsError> {
        if buf.len() < HEADER_LEN {
            return Err(DnsError::Short);
        }
        Ok(DnsMessage { buf })
    }

    fn u16_at(&self, off: usize) -> u16 {
        // In range: new_checked guaranteed HEADER_LEN bytes.
        be16(self.buf, off).unwrap_or(0)
    }

    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }
    pub fn id(&self) -> u16 {
        self.u16_at(0)
    }
    /// The flags word (QR, Opcode, AA, TC, RD, RA, Z, RCODE).
    pub fn flags(&self) -> u16 {
        self.u16_at(2)
    }
    /// QR: a response.
    pub fn is_response(&self) -> bool {
        self.flags() & 0x8000 != 0
    }
    /// 0 = standard query (RFC 1035 §4.1.1).
    pub fn opcode(&self) -> u8 {
        ((self.flags() >> 11) & 0x0f) as u8
    }
    /// AA: authoritative answer (set on every mDNS response, RFC 6762 §18.4).
    pub fn authoritative(&self) -> bool {
        self.flags() & 0x0400 != 0
    }
    /// TC: truncated (in mDNS: more known answers follow, RFC 6762 §18.5).
    pub fn truncated(&self) -> bool {
        self.flags() & 0x0200 != 0
    }
    pub fn rcode(&self) -> u8 {
        (self.flags() & 0x000f) as u8
    }
    pub fn qdcount(&self) -> u16 {
        self.u16_at(4)
    }
    pub fn ancount(&self) -> u16 {
        self.u16_at(6)
    }
    pub fn nscount(&self) -> u16 {
        self.u16_at(8)
    }
    pub fn arcount(&self) -> u16 {
        self.u16_at(10)
    }

    /// A cursor at the first question.
    pub fn reader(&self) -> Reader<'a> {
        Reader {
            msg: self.buf,
            off: HEADER_LEN,
        }
    }
}

/// Walks a name's labels, following pointers, enforcing every limit.
#[derive(Debug, Clone)]
struct Walk<'a> {
    msg: &'a [u8],
    off: usize,
    hops: usize,
    wire_len: usize,
    /// Where the name ends in place (after its first pointer or root).
    end: Option<usize>,
    done: bool,
}

impl<'a> Walk<'a> {
    fn new(msg: &'a [u8], start: usize) -> Self {
        Walk {
            msg,
            off: start,
            hops: 0,
            wire_len: 1, // the root label's length octet
            end: None,
            done: false,
        }
    }

    /// The next label, `Ok(None)` at the root.
    fn next_label(&mut self) -> Result<Option<&'a [u8]>, DnsError> {
        if self.done {
            return Ok(None);
        }
        loop {
            let len = *self.msg.get(self.off).ok_or(DnsError::Short)?;
            match len & 0xc0 {
                0xc0 => {
                    let lo = *self.msg.get(self.off + 1).ok_or(DnsError::Short)?;
                    let ptr = (usize::from(len & 0x3f) << 8) | usize::from(lo);
                    if ptr >= self.off {
                        return Err(DnsError::ForwardPointer);
                    }
                    self.hops += 1;
                    if self.hops > MAX_POINTER_HOPS {
                        return Err(DnsError::TooManyPointers);
                    }
                    self.end.get_or_insert(self.off + 2);
                    self.off = ptr;
                }
                0x00 if len == 0 => {
                    self.end.get_or_insert(self.off + 1);
                    self.done = true;
                    return Ok(None);
                }
                0x00 => {
                    let len = usize::from(len);
                    self.wire_len += 1 + len;
                    if self.wire_len > MAX_NAME_WIRE_LEN {
                        return Err(DnsError::NameTooLong);
                    }
                    let label = self
                        .msg
                        .get(self.off + 1..self.off + 1 + len)
                        .ok_or(DnsError::Short)?;
                    self.off += 1 + len;
                    return Ok(Some(label));
                }
                _ => return Err(DnsError::BadLabelType),
            }
        }
    }
}

/// A domain name inside a message, validated by [`read_name`]: its labels
/// can be walked again without error and without allocation.
#[derive(Clone, Copy)]
pub struct Name<'a> {
    msg: &'a [u8],
    start: usize,
}

/// Reads the name at `start`; returns it and the offset just after it in
/// place (after its first compression pointer, or its root label).
pub fn read_name(msg: &[u8], start: usize) -> Result<(Name<'_>, usize), DnsError> {
    let mut w = Walk::new(msg, start);
    while w.next_label()?.is_some() {}
    let end = w.end.ok_or(DnsError::Short)?;
    Ok((Name { msg, start }, end))
}

impl<'a> Name<'a> {
    /// The labels, first (leftmost) to last, without the root.
    pub fn labels(&self) -> Labels<'a> {
        Labels {
            walk: Walk::new(self.msg, self.start),
        }
    }

    /// The root name (no labels).
    pub fn is_root(&self) -> bool {
        self.labels().next().is_none()
    }

    /// Equal to the dotted name `dotted` (case-insensitive, RFC 4343; a
    /// trailing dot is ignored). Labels containing dots cannot match.
    pub fn eq_dotted(&self, dotted: &str) -> bool {
        let dotted = dotted.strip_suffix('.').unwrap_or(dotted);
        let mut want = dotted.split('.').filter(|s| !s.is_empty());
        let mut got = self.labels();
        loop {
            match (got.next(), want.next()) {
                (None, None) => return true,
                (Some(a), Some(b)) if a.eq_ignore_ascii_case(b.as_bytes()) => {}
                _ => return false,
            }
        }
    }
}

impl fmt::Debug for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({self})")
    }
}

/// Dotted form, root = `""`. Label bytes go through [`LabelText`]; a dot or
/// backslash inside a label is escaped as `\.` / `\\` (RFC 4343 §2.1).
impl fmt::Display for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, l) in self.labels().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            for part in l.split_inclusive(|&b| b == b'.' || b == b'\\') {
                match part.split_last() {
                    Some((&c @ (b'.' | b'\\'), head)) => {
                        write!(f, "{}\\{}", LabelText(head), c as char)?;
                    }
                    _ => write!(f, "{}", LabelText(part))?,
                }
            }
        }
        Ok(())
    }
}

/// The labels of a [`Name`].
#[derive(Debug, Clone)]
pub struct Labels<'a> {
    walk: Walk<'a>,
}

impl<'a> Iterator for Labels<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        // The name was validated; an error here cannot happen, but ends the
        // walk rather than panicking.
        self.walk.next_label().ok().flatten()
    }
}

/// Bytes from the air, made safe to print: valid UTF-8 is kept (DNS-SD
/// instance names are UTF-8, RFC 6763 §4.1.1) except control characters and
/// bidirectional overrides (which could rewrite a terminal line), which
/// become `?`, as does each invalid byte.
#[derive(Clone, Copy)]
pub struct LabelText<'a>(pub &'a [u8]);

impl fmt::Display for LabelText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write;
        // Fast path: printable ASCII, the common case, in one write.
        if self.0.iter().all(|b| (0x20..0x7f).contains(b))
            && let Ok(s) = std::str::from_utf8(self.0)
        {
            return f.write_str(s);
        }
        for chunk in self.0.utf8_chunks() {
            for c in chunk.valid().chars() {
                let bidi = matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
                f.write_char(if c.is_control() || bidi { '?' } else { c })?;
            }
            for _ in chunk.invalid() {
                f.write_char('?')?;
            }
        }
        Ok(())
    }
}

/// One question (RFC 1035 §4.1.2).
#[derive(Debug, Clone, Copy)]
pub struct Question<'a> {
    pub name: Name<'a>,
    pub qtype: u16,
    /// As sent: see [`CLASS_TOP_BIT`].
    pub qclass: u16,
}

impl Question<'_> {
    /// mDNS "QU": a unicast response is requested (RFC 6762 §5.4).
    pub fn unicast_response(&self) -> bool {
        self.qclass & CLASS_TOP_BIT != 0
    }
}

/// One resource record (RFC 1035 §4.1.3).
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    msg: &'a [u8],
    pub name: Name<'a>,
    pub rtype: u16,
    /// As sent: see [`CLASS_TOP_BIT`].
    pub class: u16,
    pub ttl: u32,
    pub rdata: &'a [u8],
    /// Offset of `rdata` in the message (names in it may point before it).
    pub rdata_offset: usize,
}

/// SRV record data (RFC 2782).
#[derive(Debug, Clone, Copy)]
pub struct Srv<'a> {
    pub priority: u16,
    pub weight: u16,
    pub port: u16,
    pub target: Name<'a>,
}

impl<'a> Record<'a> {
    /// Class IN, ignoring the mDNS top bit.
    pub fn is_class_in(&self) -> bool {
        self.class & !CLASS_TOP_BIT == CLASS_IN
    }

    /// mDNS cache-flush bit (RFC 6762 §10.2).
    pub fn cache_flush(&self) -> bool {
        self.class & CLASS_TOP_BIT != 0
    }

    /// An A record's address (RDLENGTH must be 4).
    pub fn a(&self) -> Option<Ipv4Addr> {
        match (self.rtype, self.rdata) {
            (rtype::A, &[a, b, c, d]) => Some(Ipv4Addr::new(a, b, c, d)),
            _ => None,
        }
    }

    /// An AAAA record's address (RDLENGTH must be 16, RFC 3596 §2.2).
    pub fn aaaa(&self) -> Option<Ipv6Addr> {
        if self.rtype != rtype::AAAA {
            return None;
        }
        let b: [u8; 16] = self.rdata.try_into().ok()?;
        Some(Ipv6Addr::from(b))
    }

    /// A name starting at `off` within the RDATA: its in-place part must end
    /// inside the RDATA.
    fn rdata_name(&self, off: usize) -> Result<Name<'a>, DnsError> {
        let (n, end) = read_name(self.msg, self.rdata_offset + off)?;
        if end > self.rdata_offset + self.rdata.len() {
            return Err(DnsError::Short);
        }
        Ok(n)
    }

    /// The target of a PTR or CNAME record (the whole RDATA is a name).
    pub fn target(&self) -> Result<Name<'a>, DnsError> {
        self.rdata_name(0)
    }

    /// SRV data: priority, weight, port, target (which mDNS may compress,
    /// RFC 6762 §18.14).
    pub fn srv(&self) -> Result<Srv<'a>, DnsError> {
        let (p, w, port) = match (
            be16(self.rdata, 0),
            be16(self.rdata, 2),
            be16(self.rdata, 4),
        ) {
            (Some(p), Some(w), Some(port)) => (p, w, port),
            _ => return Err(DnsError::Short),
        };
        Ok(Srv {
            priority: p,
            weight: w,
            port,
            target: self.rdata_name(6)?,
        })
    }

    /// TXT character-strings (RFC 1035 §3.3.14).
    pub fn txt(&self) -> TxtStrings<'a> {
        TxtStrings {
            rest: self.rdata,
            truncated: false,
        }
    }
}

/// The character-strings of TXT RDATA: a length octet then that many bytes,
/// repeated. Stops at a string that runs past the end ([`Self::truncated`]).
#[derive(Debug, Clone)]
pub struct TxtStrings<'a> {
    rest: &'a [u8],
    truncated: bool,
}

impl TxtStrings<'_> {
    /// A string's length ran past the RDATA.
    pub fn truncated(&self) -> bool {
        self.truncated
    }
}

impl<'a> Iterator for TxtStrings<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let (&len, body) = self.rest.split_first()?;
        let Some(s) = body.get(..usize::from(len)) else {
            self.truncated = true;
            self.rest = &[];
            return None;
        };
        self.rest = &body[s.len()..];
        Some(s)
    }
}

/// A DNS-SD TXT attribute (RFC 6763 §6.3–6.4): `key=value`, or `key` alone
/// (a boolean attribute; `None`). `None` for an empty string or one that
/// starts with `=` (no key), which must be ignored.
pub fn txt_attribute(s: &[u8]) -> Option<(&[u8], Option<&[u8]>)> {
    match s.iter().position(|&b| b == b'=') {
        Some(0) => None,
        Some(i) => Some((&s[..i], Some(&s[i + 1..]))),
        None if s.is_empty() => None,
        None => Some((s, None)),
    }
}

/// A cursor over a message's questions and records, in wire order.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    msg: &'a [u8],
    off: usize,
}

impl<'a> Reader<'a> {
    /// The offset the next item starts at.
    pub fn offset(&self) -> usize {
        self.off
    }

    /// Reads a question and moves past it.
    pub fn question(&mut self) -> Result<Question<'a>, DnsError> {
        let (name, o) = read_name(self.msg, self.off)?;
        let (qtype, qclass) = match (be16(self.msg, o), be16(self.msg, o + 2)) {
            (Some(t), Some(c)) => (t, c),
            _ => return Err(DnsError::Short),
        };
        self.off = o + QUESTION_FIXED_LEN;
        Ok(Question {
            name,
            qtype,
            qclass,
        })
    }

    /// Reads a resource record and moves past it.
    pub fn record(&mut self) -> Result<Record<'a>, DnsError> {
        let (name, o) = read_name(self.msg, self.off)?;
        let fixed = self.msg.get(o..o + RR_FIXED_LEN).ok_or(DnsError::Short)?;
        let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
        let class = u16::from_be_bytes([fixed[2], fixed[3]]);
        let ttl = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
        let rdlen = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
        let rdata_offset = o + RR_FIXED_LEN;
        let rdata = self
            .msg
            .get(rdata_offset..rdata_offset + rdlen)
            .ok_or(DnsError::Short)?;
        self.off = rdata_offset + rdlen;
        Ok(Record {
            msg: self.msg,
            name,
            rtype,
            class,
            ttl,
            rdata,
            rdata_offset,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name_bytes(name: &str) -> Vec<u8> {
        let mut v = Vec::new();
        for l in name.split('.').filter(|l| !l.is_empty()) {
            v.push(l.len() as u8);
            v.extend_from_slice(l.as_bytes());
        }
        v.push(0);
        v
    }

    fn rr(p: &mut Vec<u8>, owner: &[u8], ty: u16, class: u16, rdata: &[u8]) {
        p.extend_from_slice(owner);
        p.extend_from_slice(&ty.to_be_bytes());
        p.extend_from_slice(&class.to_be_bytes());
        p.extend_from_slice(&120u32.to_be_bytes());
        p.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        p.extend_from_slice(rdata);
    }

    /// A response with a PTR, an SRV (compressed target) and a TXT.
    fn sample() -> Vec<u8> {
        let mut p = vec![0, 0, 0x84, 0, 0, 0, 0, 3, 0, 0, 0, 0];
        let svc = p.len();
        rr(
            &mut p,
            &name_bytes("_hap._tcp.local"),
            rtype::PTR,
            CLASS_IN,
            &{
                let mut d = vec![4];
                d.extend_from_slice(b"Lamp");
                d.extend_from_slice(&[0xc0, svc as u8]);
                d
            },
        );
        let inst = p.len() - 7;
        let mut srv = vec![0, 0, 0, 0, 0x1f, 0x90, 4];
        srv.extend_from_slice(b"lamp");
        srv.extend_from_slice(&[0xc0, (svc + 10) as u8]); // "local"
        rr(
            &mut p,
            &[0xc0, inst as u8],
            rtype::SRV,
            CLASS_IN | CLASS_TOP_BIT,
            &srv,
        );
        rr(
            &mut p,
            &[0xc0, inst as u8],
            rtype::TXT,
            CLASS_IN,
            b"\x05md=X1\x04sf=1\x03=no\x00\x04flag",
        );
        p
    }

    #[test]
    fn reads_records_with_compression() {
        let p = sample();
        let m = DnsMessage::new_checked(&p).unwrap();
        assert!(m.is_response() && m.authoritative());
        assert_eq!((m.qdcount(), m.ancount()), (0, 3));
        let mut r = m.reader();
        let ptr = r.record().unwrap();
        assert_eq!(ptr.name.to_string(), "_hap._tcp.local");
        assert!(ptr.name.eq_dotted("_HAP._tcp.local."));
        assert!(!ptr.name.eq_dotted("_hap._tcp"));
        assert_eq!(ptr.target().unwrap().to_string(), "Lamp._hap._tcp.local");
        let srv = r.record().unwrap();
        assert!(srv.cache_flush() && srv.is_class_in());
        let s = srv.srv().unwrap();
        assert_eq!((s.port, s.target.to_string()), (8080, "lamp.local".into()));
        assert_eq!(srv.name.to_string(), "Lamp._hap._tcp.local");
        let txt = r.record().unwrap();
        let attrs: Vec<_> = txt.txt().filter_map(txt_attribute).collect();
        assert_eq!(
            attrs,
            vec![
                (&b"md"[..], Some(&b"X1"[..])),
                (b"sf", Some(b"1")),
                (b"flag", None)
            ]
        );
        assert!(!txt.txt().truncated());
        assert_eq!(r.offset(), p.len());
        assert!(matches!(r.record(), Err(DnsError::Short)));
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let p = sample();
        for n in 0..p.len() {
            let Ok(m) = DnsMessage::new_checked(&p[..n]) else {
                assert!(n < HEADER_LEN);
                continue;
            };
            let mut r = m.reader();
            let mut ok = 0;
            while let Ok(rec) = r.record() {
                ok += 1;
                let _ = (
                    rec.srv(),
                    rec.target(),
                    rec.txt().count(),
                    rec.name.to_string(),
                );
            }
            assert!(ok < 3, "{n}");
        }
    }

    #[test]
    fn pointer_loops_and_limits() {
        let mut p = vec![0u8; HEADER_LEN];
        // A pointer to itself.
        p.extend_from_slice(&[0xc0, 12]);
        assert_eq!(read_name(&p, 12).err(), Some(DnsError::ForwardPointer));
        // A label then a pointer back to it: loops until the hop limit.
        p.truncate(12);
        p.extend_from_slice(&[1, b'a', 0xc0, 12]);
        assert_eq!(read_name(&p, 12).err(), Some(DnsError::TooManyPointers));
        // The same with a 63-byte label stops on the length first.
        p.truncate(12);
        p.push(63);
        p.extend_from_slice(&[b'a'; 63]);
        p.extend_from_slice(&[0xc0, 12]);
        assert_eq!(read_name(&p, 12).err(), Some(DnsError::NameTooLong));
        // A 255-byte name is fine, 256 is not.
        let mk = |last: usize| -> Vec<u8> {
            (0..4)
                .flat_map(|_| std::iter::once(61).chain([b'x'; 61]))
                .chain(std::iter::once(last as u8))
                .chain(std::iter::repeat_n(b'y', last))
                .chain([0])
                .collect()
        };
        let ok = mk(5);
        assert_eq!(ok.len(), MAX_NAME_WIRE_LEN);
        let (n, end) = read_name(&ok, 0).unwrap();
        assert_eq!((n.labels().count(), end), (5, ok.len()));
        assert_eq!(read_name(&mk(6), 0).err(), Some(DnsError::NameTooLong));
        // Reserved label types.
        assert_eq!(read_name(&[0x40, 0], 0).err(), Some(DnsError::BadLabelType));
        assert_eq!(read_name(&[0x80, 0], 0).err(), Some(DnsError::BadLabelType));
        // Most labels: 127 one-byte labels.
        let many: Vec<u8> = (0..MAX_LABELS).flat_map(|_| [1, b'a']).chain([0]).collect();
        assert_eq!(read_name(&many, 0).unwrap().0.labels().count(), MAX_LABELS);
    }

    #[test]
    fn rdata_names_must_end_inside_the_rdata() {
        // A PTR whose RDATA is one byte of a longer name.
        let mut p = vec![0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0];
        rr(&mut p, &[0], rtype::PTR, CLASS_IN, &[3]);
        p.extend_from_slice(b"abc\0");
        let m = DnsMessage::new_checked(&p).unwrap();
        let rec = m.reader().record().unwrap();
        assert_eq!(rec.target().err(), Some(DnsError::Short));
        assert!(rec.srv().is_err());
    }

    #[test]
    fn text_is_safe_to_print() {
        assert_eq!(LabelText(b"K\xc3\xbcche").to_string(), "Küche");
        assert_eq!(LabelText(b"\x1b[2J").to_string(), "?[2J");
        assert_eq!(LabelText(b"a\xffb").to_string(), "a?b");
        assert_eq!(LabelText("x\u{202e}y".as_bytes()).to_string(), "x?y");
        let mut p = vec![3, b'a', b'.', b'b', 1, b'\\', 0];
        let (n, _) = read_name(&p, 0).unwrap();
        assert_eq!(n.to_string(), "a\\.b.\\\\");
        p.truncate(0);
        p.push(0);
        assert!(read_name(&p, 0).unwrap().0.is_root());
    }

    #[test]
    fn txt_strings_stop_at_truncation() {
        let rec_data = [3, b'a', b'=', b'1', 9, b'x'];
        let mut t = TxtStrings {
            rest: &rec_data,
            truncated: false,
        };
        assert_eq!(t.next(), Some(&b"a=1"[..]));
        assert_eq!(t.next(), None);
        assert!(t.truncated());
        assert_eq!(txt_attribute(b""), None);
        assert_eq!(txt_attribute(b"=x"), None);
        assert_eq!(txt_attribute(b"k="), Some((&b"k"[..], Some(&b""[..]))));
    }

    proptest::proptest! {
        #[test]
        fn random_messages_never_panic(b in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            if let Ok(m) = DnsMessage::new_checked(&b) {
                let mut r = m.reader();
                for _ in 0..8 { let _ = r.question().map(|q| q.name.to_string()); }
                for _ in 0..64 {
                    match r.record() {
                        Ok(rec) => {
                            let _ = (rec.a(), rec.aaaa(), rec.target().map(|n| n.to_string()), rec.srv().map(|s| s.port));
                            let _ = rec.txt().filter_map(txt_attribute).count();
                        }
                        Err(_) => break,
                    }
                }
            }
        }
    }
}
