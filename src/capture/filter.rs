//! BPF capture filters (`-f`) applied to frames read from files.
//!
//! A live capture installs its filter in the kernel ([`super::live`]); frames
//! read from a file are matched here, in the pipeline's capture thread, with
//! libpcap's `pcap_offline_filter`, which is what `tcpdump -r FILE EXPR` does.
//! A filter is never silently ignored: it compiles, or the command stops with
//! a usage error naming the expression ([`FilterError`]).
//!
//! A BPF program is compiled for one link type (the offsets of `tcp` differ
//! between Ethernet and radiotap), and a pcapng file may hold frames of
//! several, so a [`BpfFilter`] compiles once per link type, lazily, and keeps
//! at most [`MAX_FILTER_LINK_TYPES`] programs. The first link type is compiled
//! when the filter is made, so a bad expression fails before the run. A link
//! type met later for which the expression does not compile (`tcp` on a link
//! libpcap cannot parse) matches none of its frames, with one warning.
//!
//! Link types are `LINKTYPE_*` values (as files store them, tcpdump.org
//! "Link-layer header types"); libpcap compiles for its `DLT_*` values. The
//! two differ, among the link types plugsniff decodes, only for raw IP
//! (`LINKTYPE_RAW` 101 is `DLT_RAW`, 12, or 14 on OpenBSD), which
//! [`compile_dlt`] maps as libpcap's `linktype_to_dlt` (pcap-common.c) does;
//! the old raw values 12 and 14 that some files carry are raw IP as well, as
//! [`crate::wire::link::dlt`] reads them.
//!
//! Why libpcap and not Rust: the expression language is pcap-filter(7), whose
//! only complete implementation is libpcap's compiler; users write `-f` as
//! they do for tcpdump and tshark and expect the same meaning.

use super::libpcap::{Libpcap, LoadError, Program};

/// Programs kept, one per link type. A pcapng file names a link type per
/// interface, so a hostile one could name thousands; past this the oldest
/// program is dropped (counted in [`BpfFilter::evicted`]) and recompiled if
/// its link type comes back. Real captures have one or two.
pub const MAX_FILTER_LINK_TYPES: usize = 16;

/// The snap length filters for files are compiled with: libpcap's
/// `MAXIMUM_SNAPLEN` (pcap-int.h), what `pcap_open_offline` assumes for a
/// file that gives none. It only sets the value an accepting program returns.
pub const FILE_SNAPLEN: i32 = 262_144;

/// `DLT_RAW` on this platform (pcap/dlt.h).
const DLT_RAW_HERE: i32 = if cfg!(target_os = "openbsd") { 14 } else { 12 };

/// The `DLT_*` value libpcap compiles for, for a link type as stored in a
/// file or reported by a live handle.
pub fn compile_dlt(linktype: i32) -> i32 {
    use crate::wire::link::dlt;
    match linktype {
        dlt::RAW | dlt::RAW_BSD | dlt::RAW_OPENBSD => DLT_RAW_HERE,
        other => other,
    }
}

/// A filter that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error(
        "-f needs libpcap to compile BPF filters, and it could not be loaded (tried {}); {}",
        .0.tried_list(),
        super::libpcap::INSTALL_HINT
    )]
    NoLibpcap(LoadError),
    #[error("filter {expr:?} does not compile for link type {dlt} ({link}): {msg}")]
    Compile {
        expr: String,
        dlt: i32,
        link: String,
        msg: String,
    },
}

/// A compiled `-f` expression, matched against frames of any link type.
pub struct BpfFilter {
    expr: String,
    snaplen: i32,
    lib: &'static Libpcap,
    /// Per link type: its program, or `None` if the expression does not
    /// compile for it (its frames never match). Oldest first.
    programs: Vec<(i32, Option<Program>)>,
    /// Programs dropped to stay within [`MAX_FILTER_LINK_TYPES`].
    pub evicted: u64,
}

impl std::fmt::Debug for BpfFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let dlts: Vec<i32> = self.programs.iter().map(|(d, _)| *d).collect();
        f.debug_struct("BpfFilter")
            .field("expr", &self.expr)
            .field("link_types", &dlts)
            .field("evicted", &self.evicted)
            .finish()
    }
}

impl BpfFilter {
    /// Compiles `expr` for frames of link type `dlt` (the first link type
    /// of the input) with [`FILE_SNAPLEN`].
    pub fn new(expr: &str, dlt: i32) -> Result<BpfFilter, FilterError> {
        Self::with_snaplen(expr, dlt, FILE_SNAPLEN)
    }

    /// As [`BpfFilter::new`], for frames captured with `snaplen`.
    pub fn with_snaplen(expr: &str, dlt: i32, snaplen: i32) -> Result<BpfFilter, FilterError> {
        let lib = Libpcap::get().map_err(FilterError::NoLibpcap)?;
        let mut f = BpfFilter {
            expr: expr.to_string(),
            snaplen,
            lib,
            programs: Vec::with_capacity(1),
            evicted: 0,
        };
        let p = f.compile(dlt)?;
        f.programs.push((dlt, Some(p)));
        Ok(f)
    }

    /// The expression, as given.
    pub fn expr(&self) -> &str {
        &self.expr
    }

    fn compile(&self, dlt: i32) -> Result<Program, FilterError> {
        self.lib
            .compile(&self.expr, compile_dlt(dlt), self.snaplen)
            .map_err(|msg| FilterError::Compile {
                expr: self.expr.clone(),
                dlt,
                link: self
                    .lib
                    .datalink_name(compile_dlt(dlt))
                    .unwrap_or_else(|| format!("DLT {dlt}")),
                msg,
            })
    }

    /// Whether a frame of link type `dlt` passes: `data` as captured,
    /// `orig_len` its length on the wire.
    pub fn matches(&mut self, dlt: i32, orig_len: u32, data: &[u8]) -> bool {
        if let Some((_, p)) = self.programs.iter().find(|(d, _)| *d == dlt) {
            return p.as_ref().is_some_and(|p| p.matches(orig_len, data));
        }
        let p = match self.compile(dlt) {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::warn!("{e}; frames of link type {dlt} are filtered out");
                None
            }
        };
        if self.programs.len() >= MAX_FILTER_LINK_TYPES {
            self.programs.remove(0);
            self.evicted += 1;
        }
        let hit = p.as_ref().is_some_and(|p| p.matches(orig_len, data));
        self.programs.push((dlt, p));
        hit
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::libpcap::tests::libpcap_or_skip;

    /// Ethernet + IPv4 + TCP or UDP, built with etherparse.
    fn ethernet(tcp: bool) -> Vec<u8> {
        let b = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]).ipv4(
            [192, 168, 1, 2],
            [192, 168, 1, 3],
            64,
        );
        let mut out = Vec::new();
        if tcp {
            b.tcp(40000, 9999, 1, 1024).write(&mut out, b"hi").unwrap();
        } else {
            b.udp(40000, 9999).write(&mut out, b"hi").unwrap();
        }
        out
    }

    /// An 8-byte radiotap header (no fields) + an 802.11 frame header of the
    /// given frame-control type (0 management, 2 data).
    fn radiotap(fc_type: u8) -> Vec<u8> {
        let mut f = vec![0, 0, 8, 0, 0, 0, 0, 0];
        f.extend_from_slice(&[fc_type << 2, 0, 0, 0]);
        f.extend_from_slice(&[0xff; 6]);
        f.extend_from_slice(&[2, 0, 0, 0, 0, 1]);
        f.extend_from_slice(&[2, 0, 0, 0, 0, 2]);
        f.extend_from_slice(&[0, 0]);
        f
    }

    #[test]
    fn matches_by_link_type() {
        if libpcap_or_skip().is_none() {
            return;
        }
        let mut f = BpfFilter::new("tcp port 9999", 1).unwrap();
        assert!(f.matches(1, 60, &ethernet(true)));
        assert!(!f.matches(1, 60, &ethernet(false)));
        // A truncated frame: the program's loads past caplen fail, no match.
        assert!(!f.matches(1, 60, &ethernet(true)[..20]));
        assert!(!f.matches(1, 60, &[]));
        let mut w = BpfFilter::new("wlan type data", 127).unwrap();
        assert!(w.matches(127, 32, &radiotap(2)));
        assert!(!w.matches(127, 32, &radiotap(0)));
        // Another link type, compiled on first sight: the same bytes read as
        // 802.11 without radiotap are not a data frame.
        assert!(!w.matches(105, 24, &radiotap(2)));
        assert!(w.matches(105, 24, &radiotap(2)[8..]));
        assert_eq!(w.programs.len(), 2);
    }

    #[test]
    fn bad_expression_is_an_error_naming_it() {
        if libpcap_or_skip().is_none() {
            return;
        }
        let e = BpfFilter::new("garbage((", 127).unwrap_err();
        let m = e.to_string();
        assert!(m.contains("\"garbage((\""), "{m}");
        assert!(m.contains("IEEE802_11_RADIO"), "{m}");
        assert!(m.contains("syntax error"), "{m}");
        // Valid on Ethernet, not on radiotap: the first link type decides.
        assert!(BpfFilter::new("mpls", 1).is_ok());
        let e = BpfFilter::new("mpls", 127).unwrap_err();
        assert!(matches!(e, FilterError::Compile { dlt: 127, .. }), "{e}");
    }

    #[test]
    fn a_later_link_type_it_cannot_compile_for_matches_nothing() {
        if libpcap_or_skip().is_none() {
            return;
        }
        let mut f = BpfFilter::new("ether host 02:00:00:00:00:01", 1).unwrap();
        assert!(f.matches(1, 60, &ethernet(true)));
        // Raw IP (LINKTYPE_RAW 101) has no Ethernet addresses: no program,
        // no match.
        assert!(!f.matches(101, 60, &ethernet(true)[14..]));
        assert!(!f.matches(101, 60, &ethernet(true)[14..]));
        assert!(f.programs.iter().any(|(d, p)| *d == 101 && p.is_none()));
    }

    #[test]
    fn raw_ip_linktypes_compile_as_dlt_raw() {
        if libpcap_or_skip().is_none() {
            return;
        }
        let udp = &ethernet(false)[14..];
        let tcp = &ethernet(true)[14..];
        // libpcap knows no DLT 101: without the mapping this fails to compile.
        for linktype in [101, 12, 14] {
            let mut f = BpfFilter::new("udp port 9999", linktype).unwrap();
            assert!(f.matches(linktype, 40, udp), "{linktype}");
            assert!(!f.matches(linktype, 40, tcp), "{linktype}");
        }
    }

    #[test]
    fn cache_is_bounded_and_evictions_counted() {
        if libpcap_or_skip().is_none() {
            return;
        }
        let mut f = BpfFilter::new("len > 0", 1).unwrap();
        // 40 distinct link types libpcap knows (the Ethernet-like range is
        // irrelevant: `len` compiles for all of them).
        let dlts: Vec<i32> = (100..140).collect();
        for &d in &dlts {
            f.matches(d, 10, &[0u8; 10]);
        }
        assert_eq!(f.programs.len(), MAX_FILTER_LINK_TYPES);
        assert_eq!(f.evicted, (dlts.len() + 1 - MAX_FILTER_LINK_TYPES) as u64);
        // Link type 1 was evicted and is compiled again when it comes back.
        assert!(f.matches(1, 60, &ethernet(true)));
    }
}
