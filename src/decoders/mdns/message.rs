//! One mDNS datagram (RFC 6762 §18) read into owned, bounded records: the
//! questions of a query, and the PTR/SRV/TXT/A/AAAA records of every
//! section of a response (announcements put SRV, TXT and addresses in the
//! additional section, RFC 6763 §12).
//!
//! Reading uses the shared DNS reader ([`crate::wire::dns`]); this module
//! only copies out what service discovery needs, with printable text
//! ([`crate::wire::dns::LabelText`]) and the caps below. A record that fails
//! to read stops the walk; the records before it are kept and the error is
//! reported ([`MdnsMessage::error`]).

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::wire::dns::{self, DnsError, DnsMessage, LabelText, Name, rtype, txt_attribute};

/// Questions kept from one query (browsers ask for a few service types at
/// once; Apple devices send dozens of known-answer records, not questions).
pub const MAX_QUESTIONS: usize = 32;
/// Records read from one message, all sections together. A device
/// announcing several services sends about 4 records per service.
pub const MAX_RECORDS: usize = 64;
/// TXT attributes kept per record. A HomeKit or Matter TXT record has about
/// ten; eWeLink's has at most eleven (`data1`…`data4` included).
pub const MAX_TXT_ATTRS: usize = 32;

/// A name as labels (printable text, see [`LabelText`]); DNS-SD instance
/// labels may contain dots, so the labels are kept apart.
pub type Labels = Vec<String>;

/// What a record says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RData {
    Ptr(Labels),
    Srv {
        port: u16,
        target: Labels,
    },
    /// `key=value` attributes; `None` for a boolean attribute (RFC 6763 §6.4).
    Txt(Vec<(String, Option<String>)>),
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    /// Another type (NSEC, HINFO…), or a known type whose data did not
    /// parse.
    Other(u16),
}

/// One resource record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MdnsRecord {
    pub name: Labels,
    /// 0 = goodbye: the record is withdrawn (RFC 6762 §10.1).
    pub ttl: u32,
    pub data: RData,
}

/// An mDNS datagram's content.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MdnsMessage {
    /// QR: a response (announcement or answer), else a query.
    pub response: bool,
    /// Questions: name and QTYPE (at most [`MAX_QUESTIONS`]).
    pub questions: Vec<(Labels, u16)>,
    /// Records of all sections (at most [`MAX_RECORDS`]).
    pub records: Vec<MdnsRecord>,
    /// Records present past [`MAX_RECORDS`] (by the header counts).
    pub records_not_read: usize,
    /// Why reading stopped early, if it did.
    pub error: Option<DnsError>,
}

fn labels(n: &Name<'_>) -> Labels {
    n.labels().map(|l| LabelText(l).to_string()).collect()
}

/// The dotted form of `labels` (for summaries).
pub fn dotted(labels: &[String]) -> String {
    labels.join(".")
}

fn rdata(r: &dns::Record<'_>) -> RData {
    match r.rtype {
        rtype::PTR => r
            .target()
            .map_or(RData::Other(rtype::PTR), |n| RData::Ptr(labels(&n))),
        rtype::SRV => r.srv().map_or(RData::Other(rtype::SRV), |s| RData::Srv {
            port: s.port,
            target: labels(&s.target),
        }),
        rtype::TXT => RData::Txt(
            r.txt()
                .filter_map(txt_attribute)
                .take(MAX_TXT_ATTRS)
                .map(|(k, v)| {
                    (
                        LabelText(k).to_string(),
                        v.map(|v| LabelText(v).to_string()),
                    )
                })
                .collect(),
        ),
        _ => {
            if let Some(a) = r.a() {
                RData::A(a)
            } else if let Some(a) = r.aaaa() {
                RData::Aaaa(a)
            } else {
                RData::Other(r.rtype)
            }
        }
    }
}

/// Reads an mDNS datagram. `None` if it is shorter than the DNS header or
/// not a standard query/response (opcode ≠ 0: RFC 6762 §18.3 says such
/// messages are silently ignored).
pub fn parse(p: &[u8]) -> Option<MdnsMessage> {
    let m = DnsMessage::new_checked(p).ok()?;
    if m.opcode() != 0 {
        return None;
    }
    let mut out = MdnsMessage {
        response: m.is_response(),
        ..Default::default()
    };
    let mut r = m.reader();
    for _ in 0..m.qdcount() {
        match r.question() {
            Ok(q) if out.questions.len() < MAX_QUESTIONS => {
                out.questions.push((labels(&q.name), q.qtype));
            }
            Ok(_) => {}
            Err(e) => {
                out.error = Some(e);
                return Some(out);
            }
        }
    }
    let total = usize::from(m.ancount()) + usize::from(m.nscount()) + usize::from(m.arcount());
    for _ in 0..total.min(MAX_RECORDS) {
        match r.record() {
            Ok(rec) if rec.is_class_in() => out.records.push(MdnsRecord {
                name: labels(&rec.name),
                ttl: rec.ttl,
                data: rdata(&rec),
            }),
            Ok(_) => {}
            Err(e) => {
                out.error = Some(e);
                return Some(out);
            }
        }
    }
    out.records_not_read = total.saturating_sub(MAX_RECORDS);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_counts_allocate_nothing_from_the_header() {
        // 65535 of everything in a 12-byte datagram.
        let p = [
            0, 0, 0x84, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ];
        let m = parse(&p).unwrap();
        assert!(m.questions.is_empty() && m.records.is_empty());
        assert_eq!(m.error, Some(DnsError::Short));
        // A response with more records than the cap.
        let mut p = vec![0, 0, 0x84, 0, 0, 0, 0, 200, 0, 0, 0, 0];
        for i in 0..200u8 {
            p.extend_from_slice(&[1, b'h', 0, 0, 1, 0, 1, 0, 0, 0, 120, 0, 4, 10, 0, 0, i]);
        }
        let m = parse(&p).unwrap();
        assert_eq!(m.records.len(), MAX_RECORDS);
        assert_eq!(m.records_not_read, 200 - MAX_RECORDS);
        assert_eq!(m.error, None);
        // Too many questions: the first MAX_QUESTIONS are kept, all are
        // walked, the record after them is read.
        let mut p = vec![0, 0, 0, 0, 0, 100, 0, 1, 0, 0, 0, 0];
        for _ in 0..100 {
            p.extend_from_slice(&[1, b'q', 0, 0, 12, 0, 1]);
        }
        p.extend_from_slice(&[1, b'h', 0, 0, 1, 0, 1, 0, 0, 0, 120, 0, 4, 10, 0, 0, 1]);
        let m = parse(&p).unwrap();
        assert_eq!((m.questions.len(), m.records.len()), (MAX_QUESTIONS, 1));
        // Non-zero opcode: ignored.
        assert!(parse(&[0, 0, 0x28, 0, 0, 0, 0, 0, 0, 0, 0, 0]).is_none());
        assert!(parse(&[0; 11]).is_none());
    }

    proptest::proptest! {
        #[test]
        fn random_bytes_never_panic(b in proptest::collection::vec(proptest::num::u8::ANY, 0..700)) {
            if let Some(m) = parse(&b) {
                assert!(m.records.len() <= MAX_RECORDS && m.questions.len() <= MAX_QUESTIONS);
            }
        }
    }
}
