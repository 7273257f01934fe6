//! Who is who on the network: IP ↔ MAC, MAC → hostname, and remote address
//! → DNS name, learned passively so that a flow to 52.57.x.x reads as
//! `n-devs.tplinkcloud.com` and a plug's MAC as `HS110`.
//!
//! # What this module owns
//! - [`NameTable`], fed by the caller with:
//!   - ARP (RFC 826) via [`NameTable::on_arp`]: sender, and target of replies;
//!   - the source IP/MAC of every LAN packet via [`NameTable::learn_ip_mac`];
//!   - DHCP (RFC 2131 §2 fixed BOOTP header, RFC 2132 options; UDP 67/68) via
//!     [`NameTable::on_dhcp`]: option 12 host name, 50 requested address,
//!     53 message type, 61 client identifier, and `yiaddr` of a DHCPACK;
//!   - DNS responses (RFC 1035 §4; UDP 53) via [`NameTable::on_dns`]: A
//!     (RFC 1035 §3.4.1), AAAA (RFC 3596) and CNAME answers, with name
//!     compression (RFC 1035 §4.1.4); each address maps to the name the client
//!     asked for, following the CNAME chain back.
//! - [`parse_dns_answers`] and [`parse_dhcp`], usable on their own.
//!
//! Three small parsers (ARP, DHCP, DNS) and the table they feed live in one
//! file (about 700 lines without tests) because each parser exists only to
//! fill the table and shares its bounds.
//!
//! # Guarantees
//! - Bounded: every map has a named cap ([`MAX_HOSTS`], [`MAX_DNS_NAMES`]).
//!   When one is full, learning a new key evicts the least recently learned
//!   entry, counted in [`NameStats`]. Evicting rather than refusing means an
//!   ARP or DHCP flood cannot freeze the table with junk for the rest of a
//!   long run: real devices are learned again from their next packet. Each
//!   insert is amortised `O(1)`.
//! - Linear and panic-free on hostile bytes. DNS: at most [`MAX_QUESTIONS`]
//!   questions and [`MAX_ANSWERS`] answers are read whatever the header
//!   counts say, and nothing is allocated from a count; a name is at most
//!   [`MAX_NAME_WIRE_LEN`] wire bytes (RFC 1035 §2.3.4) and follows at most
//!   [`MAX_POINTER_HOPS`] compression pointers, each of which must point
//!   backwards ("a prior occurrence", §4.1.4), so pointer loops end and are
//!   counted as malformed. DHCP: the option walk moves forward by at least
//!   one byte per step and checks every length.
//! - Printable: hostnames and DNS labels come off the air. In DHCP host
//!   names every byte outside printable ASCII becomes `?`; DNS names keep
//!   valid UTF-8 but lose control characters and bidirectional overrides
//!   ([`crate::wire::dns::LabelText`]). Either way they are safe to print to
//!   a terminal.
//! - Not authenticated: anyone on the network can claim any name or address
//!   (ARP spoofing, forged DNS). The table reports what was said, for display.
//!
//! # One DNS reader
//! DNS messages are read with [`crate::wire::dns`], the reader `decoders::mdns`
//! uses too (it says why it is hand-written); this module adds the answer
//! walk, the CNAME chain and the caps above.
//!
//! Not handled: DHCP option overload (RFC 2132 §9.3, options in `sname`/`file`)
//! and long-option concatenation (RFC 3396; the last instance wins); DNS over
//! TCP; record TTLs (entries live until evicted).

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::ip::{Arp, arp_op};
use crate::wire::MacAddr;

/// Cap on hosts (IP → MAC, MAC → IP and MAC → hostname, each). A home
/// network has tens of devices, each with a few IPv6 addresses.
pub const MAX_HOSTS: usize = 4096;
/// Cap on remote addresses with a DNS name: a busy household resolves a few
/// thousand names a day.
pub const MAX_DNS_NAMES: usize = 16_384;
/// Compression pointers followed while reading one DNS name, and the longest
/// name: the shared reader's limits ([`crate::wire::dns`]).
pub use crate::wire::dns::{MAX_NAME_WIRE_LEN, MAX_POINTER_HOPS};
/// Questions read from a response (a real one has one; mDNS has none).
pub const MAX_QUESTIONS: usize = 4;
/// Answer records read from one response; the rest are skipped.
pub const MAX_ANSWERS: usize = 64;
/// CNAME links followed back from an address record to the asked name.
pub const MAX_CNAME_DEPTH: usize = 8;
/// Longest hostname kept (RFC 1035 §2.3.4 label limit); longer is truncated.
pub const MAX_HOSTNAME_LEN: usize = 63;

/// DHCP message types (RFC 2132 §9.6).
pub mod dhcp_type {
    pub const DISCOVER: u8 = 1;
    pub const OFFER: u8 = 2;
    pub const REQUEST: u8 = 3;
    pub const DECLINE: u8 = 4;
    pub const ACK: u8 = 5;
    pub const NAK: u8 = 6;
    pub const RELEASE: u8 = 7;
    pub const INFORM: u8 = 8;
}

/// What the table has seen, learned and dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NameStats {
    pub arp: u64,
    pub dhcp: u64,
    pub dhcp_malformed: u64,
    pub dns_responses: u64,
    /// A/AAAA answers learned.
    pub dns_answers: u64,
    /// Responses cut short by a bad name, pointer loop or short record; the
    /// answers before the fault are still learned.
    pub dns_malformed: u64,
    /// Messages on the DNS port that are not standard query responses.
    pub dns_ignored: u64,
    /// Entries evicted because a table was full.
    pub evicted_ip_mac: u64,
    pub evicted_mac_ip: u64,
    pub evicted_hostnames: u64,
    pub evicted_dns: u64,
}

/// A `HashMap` with a cap that evicts the least recently learned key.
///
/// `order` holds `(key, stamp)` for every insert or change; an entry is live
/// when its stamp matches the map's. Stale entries are dropped when the queue
/// grows past twice the cap, so it stays `O(cap)` and inserts stay amortised
/// `O(1)`.
#[derive(Debug)]
struct BoundedMap<K, V> {
    map: HashMap<K, (V, u64)>,
    order: VecDeque<(K, u64)>,
    next_stamp: u64,
    cap: usize,
}

impl<K: Hash + Eq + Copy, V: PartialEq> BoundedMap<K, V> {
    fn new(cap: usize) -> Self {
        BoundedMap {
            map: HashMap::new(),
            order: VecDeque::new(),
            next_stamp: 0,
            cap: cap.max(1),
        }
    }

    fn get(&self, k: &K) -> Option<&V> {
        self.map.get(k).map(|(v, _)| v)
    }

    fn remove(&mut self, k: &K) {
        // Its queue entry goes stale and is skipped later.
        self.map.remove(k);
    }

    /// Inserts or changes `k`; returns true if another key was evicted.
    /// Setting the value a key already has changes nothing (the hot path:
    /// `learn_ip_mac` runs on every packet).
    fn insert(&mut self, k: K, v: V) -> bool {
        let stamp = self.next_stamp;
        if let Some((old, s)) = self.map.get_mut(&k) {
            if *old == v {
                return false;
            }
            *old = v;
            *s = stamp;
            self.next_stamp += 1;
            self.order.push_back((k, stamp));
            self.compact();
            return false;
        }
        let evicted = self.map.len() >= self.cap && self.evict_oldest();
        self.next_stamp += 1;
        self.map.insert(k, (v, stamp));
        self.order.push_back((k, stamp));
        self.compact();
        evicted
    }

    fn evict_oldest(&mut self) -> bool {
        while let Some((k, s)) = self.order.pop_front() {
            if self.map.get(&k).is_some_and(|(_, live)| *live == s) {
                self.map.remove(&k);
                return true;
            }
        }
        false
    }

    fn compact(&mut self) {
        if self.order.len() > 2 * self.cap {
            let map = &self.map;
            self.order
                .retain(|(k, s)| map.get(k).is_some_and(|(_, live)| live == s));
        }
    }

    fn len(&self) -> usize {
        self.map.len()
    }
}

/// The latest IPv4 and IPv6 address seen for a MAC.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct HostIps {
    v4: Option<Ipv4Addr>,
    v6: Option<Ipv6Addr>,
}

/// Names and addresses learned from the traffic. See the module doc.
#[derive(Debug)]
pub struct NameTable {
    ip_mac: BoundedMap<IpAddr, MacAddr>,
    mac_ip: BoundedMap<MacAddr, HostIps>,
    hostnames: BoundedMap<MacAddr, Box<str>>,
    dns: BoundedMap<IpAddr, Box<str>>,
    stats: NameStats,
}

impl Default for NameTable {
    fn default() -> Self {
        Self::new()
    }
}

/// Printable ASCII stays; every other byte becomes `?`.
fn printable(b: &[u8], out: &mut String) {
    out.extend(b.iter().map(|&c| {
        if (0x20..0x7f).contains(&c) {
            c as char
        } else {
            '?'
        }
    }));
}

/// True for an address that names one host (not multicast, broadcast,
/// unspecified or loopback).
fn is_unicast_host(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            !(a.is_unspecified() || a.is_multicast() || a.is_broadcast() || a.is_loopback())
        }
        IpAddr::V6(a) => !(a.is_unspecified() || a.is_multicast() || a.is_loopback()),
    }
}

impl NameTable {
    pub fn new() -> Self {
        Self::with_caps(MAX_HOSTS, MAX_DNS_NAMES)
    }

    /// A table with other caps (tests, or a constrained build).
    pub fn with_caps(hosts: usize, dns_names: usize) -> Self {
        NameTable {
            ip_mac: BoundedMap::new(hosts),
            mac_ip: BoundedMap::new(hosts),
            hostnames: BoundedMap::new(hosts),
            dns: BoundedMap::new(dns_names),
            stats: NameStats::default(),
        }
    }

    pub fn stats(&self) -> NameStats {
        self.stats
    }

    /// Records that `ip` is at `mac`. Callers pass the source IP and MAC of
    /// LAN packets only (a packet routed in from outside carries the router's
    /// MAC). Group MACs, the zero MAC and non-unicast IPs are ignored.
    pub fn learn_ip_mac(&mut self, ip: IpAddr, mac: MacAddr) {
        if mac.is_group() || mac == MacAddr::default() || !is_unicast_host(ip) {
            return;
        }
        match self.ip_mac.get(&ip).copied() {
            Some(old) if old == mac => {}
            old => {
                // The address moved: the old host no longer has it.
                if let Some(old) = old {
                    self.forget_ip_of(old, ip);
                }
                if self.ip_mac.insert(ip, mac) {
                    self.stats.evicted_ip_mac += 1;
                }
            }
        }
        let mut ips = self.mac_ip.get(&mac).copied().unwrap_or_default();
        match ip {
            IpAddr::V4(a) => ips.v4 = Some(a),
            IpAddr::V6(a) => ips.v6 = Some(a),
        }
        if self.mac_ip.insert(mac, ips) {
            self.stats.evicted_mac_ip += 1;
        }
    }

    fn forget_ip_of(&mut self, mac: MacAddr, ip: IpAddr) {
        let Some(mut ips) = self.mac_ip.get(&mac).copied() else {
            return;
        };
        match ip {
            IpAddr::V4(a) if ips.v4 == Some(a) => ips.v4 = None,
            IpAddr::V6(a) if ips.v6 == Some(a) => ips.v6 = None,
            _ => return,
        }
        if ips == HostIps::default() {
            self.mac_ip.remove(&mac);
        } else {
            self.mac_ip.insert(mac, ips);
        }
    }

    /// An ARP packet: the sender's binding (not of probes, whose sender IP is
    /// 0.0.0.0, RFC 5227 §2.1.1), and the target's in a reply.
    pub fn on_arp(&mut self, a: &Arp) {
        self.stats.arp += 1;
        self.learn_ip_mac(IpAddr::V4(a.sender_ip), a.sender_mac);
        if a.op == arp_op::REPLY {
            self.learn_ip_mac(IpAddr::V4(a.target_ip), a.target_mac);
        }
    }

    /// A DHCP message (UDP payload on port 67 or 68). `src_mac` is the frame's
    /// sender, used only when the message names no MAC of its own.
    pub fn on_dhcp(&mut self, src_mac: Option<MacAddr>, udp_payload: &[u8]) {
        let Some(d) = parse_dhcp(udp_payload) else {
            self.stats.dhcp_malformed += 1;
            return;
        };
        self.stats.dhcp += 1;
        if d.options_truncated {
            self.stats.dhcp_malformed += 1;
        }
        // A request straight from the client (not relayed) was sent by it.
        let from_client = d.op == BOOTREQUEST && d.giaddr.is_unspecified();
        let Some(mac) = d
            .mac
            .or(d.client_id_mac)
            .or(src_mac.filter(|_| from_client))
        else {
            return;
        };
        if let Some(h) = d.hostname.filter(|h| !h.is_empty())
            && self.hostnames.insert(mac, h.into_boxed_str())
        {
            self.stats.evicted_hostnames += 1;
        }
        let v4 = |a: Ipv4Addr| (!a.is_unspecified()).then_some(a);
        let ip = match d.msg_type {
            // The server's assignment (RFC 2131 §3.1 step 5).
            Some(dhcp_type::ACK) => v4(d.yiaddr),
            // A client that already has an address: ciaddr (RFC 2131 §4.4.5).
            Some(dhcp_type::REQUEST | dhcp_type::INFORM) if d.op == BOOTREQUEST => {
                v4(d.ciaddr).or_else(|| {
                    // Only a hint until the ACK: used when nothing better is known.
                    let known = self.mac_ip.get(&mac).is_some_and(|h| h.v4.is_some());
                    d.requested.filter(|_| !known)
                })
            }
            _ => None,
        };
        if let Some(ip) = ip {
            self.learn_ip_mac(IpAddr::V4(ip), mac);
        }
    }

    /// A DNS message (UDP payload from port 53). Responses teach address →
    /// name; anything else is counted and ignored.
    pub fn on_dns(&mut self, udp_payload: &[u8]) {
        let Some(ans) = parse_dns_answers(udp_payload) else {
            self.stats.dns_ignored += 1;
            return;
        };
        self.stats.dns_responses += 1;
        if ans.error.is_some() {
            self.stats.dns_malformed += 1;
        }
        for (ip, name) in ans.addresses {
            self.stats.dns_answers += 1;
            if self.dns.insert(ip, name.into_boxed_str()) {
                self.stats.evicted_dns += 1;
            }
        }
    }

    pub fn mac_for_ip(&self, ip: IpAddr) -> Option<MacAddr> {
        self.ip_mac.get(&ip).copied()
    }

    /// The host's latest IPv4 address, else its latest IPv6 address.
    pub fn ip_for_mac(&self, mac: MacAddr) -> Option<IpAddr> {
        let h = self.mac_ip.get(&mac)?;
        h.v4.map(IpAddr::V4).or(h.v6.map(IpAddr::V6))
    }

    /// The DHCP host name the device announced (made printable).
    pub fn hostname(&self, mac: MacAddr) -> Option<&str> {
        self.hostnames.get(&mac).map(|s| &**s)
    }

    /// The name a DNS client asked for when it got this address.
    pub fn dns_name(&self, ip: IpAddr) -> Option<&str> {
        self.dns.get(&ip).map(|s| &**s)
    }

    /// Entries held: (IP → MAC, MAC → IP, hostnames, DNS names).
    pub fn len(&self) -> (usize, usize, usize, usize) {
        (
            self.ip_mac.len(),
            self.mac_ip.len(),
            self.hostnames.len(),
            self.dns.len(),
        )
    }
}

// ---------------------------------------------------------------- DHCP

const BOOTREQUEST: u8 = 1;
const BOOTREPLY: u8 = 2;
/// BOOTP fixed header (RFC 2131 §2, figure 1), before the magic cookie.
const BOOTP_FIXED_LEN: usize = 236;
/// RFC 2131 §3: 99.130.83.99.
const DHCP_MAGIC: [u8; 4] = [99, 130, 83, 99];
const OPT_PAD: u8 = 0;
const OPT_HOSTNAME: u8 = 12;
const OPT_REQUESTED_IP: u8 = 50;
const OPT_MSG_TYPE: u8 = 53;
const OPT_PARAM_LIST: u8 = 55;
const OPT_VENDOR_CLASS: u8 = 60;
const OPT_CLIENT_ID: u8 = 61;
const OPT_CLIENT_FQDN: u8 = 81;
const OPT_END: u8 = 255;
/// `htype` for Ethernet (RFC 1700 "ARP hardware types"), also used by 802.11.
const HTYPE_ETHERNET: u8 = 1;

/// The parts of a DHCP message the name table uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dhcp {
    /// 1 = BOOTREQUEST (client → server), 2 = BOOTREPLY.
    pub op: u8,
    pub ciaddr: Ipv4Addr,
    pub yiaddr: Ipv4Addr,
    pub giaddr: Ipv4Addr,
    /// `chaddr`, when `htype`/`hlen` say it is a MAC.
    pub mac: Option<MacAddr>,
    /// Option 53.
    pub msg_type: Option<u8>,
    /// Option 12, printable and at most [`MAX_HOSTNAME_LEN`] bytes.
    pub hostname: Option<String>,
    /// Option 50.
    pub requested: Option<Ipv4Addr>,
    /// Option 61 of hardware type 1 (RFC 2132 §9.14): a MAC.
    pub client_id_mac: Option<MacAddr>,
    /// Option 60, vendor class identifier (RFC 2132 §9.13): `udhcp 1.30.1`,
    /// `MSFT 5.0`, `dhcpcd-9.4.1:Linux-…`, `android-dhcp-13`. Printable,
    /// at most [`MAX_VENDOR_CLASS_LEN`] bytes.
    pub vendor_class: Option<String>,
    /// Option 55, parameter request list (RFC 2132 §9.8): the option codes
    /// in the client's order, a fingerprint of its DHCP stack (at most 255
    /// by the length octet).
    pub param_list: Vec<u8>,
    /// Option 81, client FQDN (RFC 4702 §2): the domain name, from the wire
    /// encoding when the E flag is set, else the deprecated ASCII form.
    /// Printable, at most [`MAX_NAME_WIRE_LEN`] bytes.
    pub fqdn: Option<String>,
    /// An option ran past the end of the message (walk stopped there).
    pub options_truncated: bool,
}

/// Longest vendor class kept (option 60); longer is truncated.
pub const MAX_VENDOR_CLASS_LEN: usize = 64;

/// RFC 4702 §2.1: flags(1) rcode1(1) rcode2(1), then the name. Bit E (0x04)
/// says the name is in DNS wire format (labels, uncompressed, possibly
/// without the root label for a partial name).
fn parse_fqdn(val: &[u8]) -> Option<String> {
    let (&flags, rest) = val.split_first()?;
    let name = rest.get(2..)?;
    let mut out = String::new();
    if flags & 0x04 == 0 {
        printable(&name[..name.len().min(MAX_NAME_WIRE_LEN)], &mut out);
    } else {
        let mut i = 0;
        while let Some(&len) = name.get(i) {
            let len = usize::from(len);
            if len == 0 || len > 63 {
                break;
            }
            let Some(label) = name.get(i + 1..i + 1 + len) else {
                break;
            };
            if !out.is_empty() {
                out.push('.');
            }
            printable(label, &mut out);
            i += 1 + len;
        }
    }
    (!out.is_empty()).then_some(out)
}

fn ipv4_at(p: &[u8], off: usize) -> Ipv4Addr {
    Ipv4Addr::new(p[off], p[off + 1], p[off + 2], p[off + 3])
}

/// Parses a DHCP message; `None` if it is not one (short, no magic cookie,
/// bad `op`).
pub fn parse_dhcp(p: &[u8]) -> Option<Dhcp> {
    let options_start = BOOTP_FIXED_LEN + DHCP_MAGIC.len();
    if p.len() < options_start || p[BOOTP_FIXED_LEN..options_start] != DHCP_MAGIC {
        return None;
    }
    let op = p[0];
    if op != BOOTREQUEST && op != BOOTREPLY {
        return None;
    }
    let mut d = Dhcp {
        op,
        ciaddr: ipv4_at(p, 12),
        yiaddr: ipv4_at(p, 16),
        giaddr: ipv4_at(p, 24),
        mac: (p[1] == HTYPE_ETHERNET && p[2] == 6).then(|| MacAddr::from_slice(&p[28..34])),
        msg_type: None,
        hostname: None,
        requested: None,
        client_id_mac: None,
        vendor_class: None,
        param_list: Vec::new(),
        fqdn: None,
        options_truncated: false,
    };
    // RFC 2132 §2: code(1) len(1) value(len); Pad and End are one byte.
    let mut i = options_start;
    while let Some(&code) = p.get(i) {
        match code {
            OPT_END => break,
            OPT_PAD => {
                i += 1;
                continue;
            }
            _ => {}
        }
        let Some(&len) = p.get(i + 1) else {
            d.options_truncated = true;
            break;
        };
        let start = i + 2;
        let Some(val) = p.get(start..start + usize::from(len)) else {
            d.options_truncated = true;
            break;
        };
        match (code, val) {
            (OPT_MSG_TYPE, &[t]) => d.msg_type = Some(t),
            (OPT_REQUESTED_IP, &[a, b, c, e]) => d.requested = Some(Ipv4Addr::new(a, b, c, e)),
            (OPT_HOSTNAME, _) => {
                // Some clients NUL-terminate the name.
                let name = val.split(|&c| c == 0).next().unwrap_or_default();
                let name = &name[..name.len().min(MAX_HOSTNAME_LEN)];
                let mut s = String::with_capacity(name.len());
                printable(name, &mut s);
                d.hostname = Some(s);
            }
            (OPT_CLIENT_ID, &[HTYPE_ETHERNET, ref mac @ ..]) if mac.len() == 6 => {
                d.client_id_mac = Some(MacAddr::from_slice(mac));
            }
            (OPT_VENDOR_CLASS, _) => {
                let v = val.split(|&c| c == 0).next().unwrap_or_default();
                let mut s = String::with_capacity(v.len().min(MAX_VENDOR_CLASS_LEN));
                printable(&v[..v.len().min(MAX_VENDOR_CLASS_LEN)], &mut s);
                d.vendor_class = Some(s);
            }
            (OPT_PARAM_LIST, _) => d.param_list = val.to_vec(),
            (OPT_CLIENT_FQDN, _) => d.fqdn = parse_fqdn(val),
            _ => {}
        }
        i = start + usize::from(len);
    }
    Some(d)
}

// ---------------------------------------------------------------- DNS

use crate::wire::dns::{self as wdns, DnsMessage, rtype};

/// Why a DNS response was cut short.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    #[error("DNS: record or name runs past the end")]
    Short,
    #[error("DNS: more than {MAX_QUESTIONS} questions")]
    TooManyQuestions,
    #[error("DNS: label type 0b01/0b10 (RFC 6891 §5)")]
    BadLabelType,
    #[error("DNS: compression pointer does not point backwards")]
    ForwardPointer,
    #[error("DNS: more than {MAX_POINTER_HOPS} compression pointers in one name")]
    TooManyPointers,
    #[error("DNS: name longer than {MAX_NAME_WIRE_LEN} bytes")]
    NameTooLong,
}

impl From<wdns::DnsError> for DnsError {
    fn from(e: wdns::DnsError) -> Self {
        match e {
            wdns::DnsError::Short => DnsError::Short,
            wdns::DnsError::BadLabelType => DnsError::BadLabelType,
            wdns::DnsError::ForwardPointer => DnsError::ForwardPointer,
            wdns::DnsError::TooManyPointers => DnsError::TooManyPointers,
            wdns::DnsError::NameTooLong => DnsError::NameTooLong,
        }
    }
}

/// What a DNS response says about addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsAnswers {
    /// Each A/AAAA answer's address and the name it answers for, with CNAME
    /// links followed back towards the name the client asked.
    pub addresses: Vec<(IpAddr, String)>,
    /// Why reading stopped early; `addresses` holds the answers before it.
    pub error: Option<DnsError>,
}

/// Parses a DNS response's answer section with the shared reader
/// ([`crate::wire::dns`]). `None` if the message is not a standard query
/// response (QR = 0, or an opcode other than QUERY) or is shorter than the
/// header. Reads at most [`MAX_QUESTIONS`] questions and [`MAX_ANSWERS`]
/// answers.
pub fn parse_dns_answers(p: &[u8]) -> Option<DnsAnswers> {
    let m = DnsMessage::new_checked(p).ok()?;
    if !m.is_response() || m.opcode() != 0 {
        return None;
    }
    let mut out = DnsAnswers::default();
    if usize::from(m.qdcount()) > MAX_QUESTIONS {
        out.error = Some(DnsError::TooManyQuestions);
        return Some(out);
    }
    let mut r = m.reader();
    for _ in 0..m.qdcount() {
        if let Err(e) = r.question() {
            out.error = Some(e.into());
            return Some(out);
        }
    }
    // (alias, target) for each CNAME; resolved after the section is read.
    let mut cnames: Vec<(String, String)> = Vec::new();
    for _ in 0..usize::from(m.ancount()).min(MAX_ANSWERS) {
        let rr = match r.record() {
            Ok(rr) => rr,
            Err(e) => {
                out.error = Some(e.into());
                break;
            }
        };
        if !rr.is_class_in() || rr.name.is_root() {
            continue;
        }
        if let Some(a) = rr.a() {
            out.addresses.push((IpAddr::V4(a), rr.name.to_string()));
        } else if let Some(a) = rr.aaaa() {
            out.addresses.push((IpAddr::V6(a), rr.name.to_string()));
        } else if rr.rtype == rtype::CNAME {
            match rr.target() {
                Ok(target) => cnames.push((rr.name.to_string(), target.to_string())),
                Err(e) => {
                    out.error = Some(e.into());
                    break;
                }
            }
        }
    }
    // Follow CNAMEs back: the address's owner is some alias's target. Names
    // compare case-insensitively (RFC 4343). At most MAX_ANSWERS² ×
    // MAX_CNAME_DEPTH comparisons per packet.
    for (_, name) in out.addresses.iter_mut() {
        for _ in 0..MAX_CNAME_DEPTH {
            match cnames
                .iter()
                .find(|(alias, target)| target.eq_ignore_ascii_case(name) && alias != name)
            {
                Some((alias, _)) => name.clone_from(alias),
                None => break,
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::dns::CLASS_IN;
    const TYPE_A: u16 = rtype::A;
    const TYPE_CNAME: u16 = rtype::CNAME;
    const TYPE_AAAA: u16 = rtype::AAAA;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn name_bytes(name: &str) -> Vec<u8> {
        let mut v = Vec::new();
        for l in name.split('.') {
            v.push(l.len() as u8);
            v.extend_from_slice(l.as_bytes());
        }
        v.push(0);
        v
    }

    /// Appends a resource record.
    fn rr(p: &mut Vec<u8>, owner: &[u8], ty: u16, rdata: &[u8]) {
        p.extend_from_slice(owner);
        p.extend_from_slice(&ty.to_be_bytes());
        p.extend_from_slice(&CLASS_IN.to_be_bytes());
        p.extend_from_slice(&60u32.to_be_bytes());
        p.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        p.extend_from_slice(rdata);
    }

    /// n-devs.tplinkcloud.com → CNAME a.aws.example → CNAME b.elb.example
    /// → A 52.57.118.9 and AAAA 2001:db8::9, with compression throughout.
    fn cname_chain_response() -> Vec<u8> {
        let mut p = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 4, 0, 0, 0, 0];
        p.extend_from_slice(&name_bytes("n-devs.tplinkcloud.com"));
        p.extend_from_slice(&[0, 1, 0, 1]);
        // CNAME 1: owner = pointer to the question (offset 12).
        let t1_off = p.len() + 12;
        rr(
            &mut p,
            &[0xc0, 12],
            TYPE_CNAME,
            &name_bytes("a.aws.example"),
        );
        // CNAME 2: owner = pointer to CNAME 1's target; target "b.elb" + pointer
        // to "example" inside CNAME 1's target.
        let example_off = t1_off + 6; // after 1 'a' 3 'aws'
        let t2_off = p.len() + 12;
        rr(
            &mut p,
            &[0xc0, t1_off as u8],
            TYPE_CNAME,
            &[1, b'b', 3, b'e', b'l', b'b', 0xc0, example_off as u8],
        );
        rr(&mut p, &[0xc0, t2_off as u8], TYPE_A, &[52, 57, 118, 9]);
        rr(
            &mut p,
            &[0xc0, t2_off as u8],
            TYPE_AAAA,
            &"2001:db8::9".parse::<Ipv6Addr>().unwrap().octets(),
        );
        p
    }

    #[test]
    fn dns_cname_chain_maps_addresses_to_the_asked_name() {
        let p = cname_chain_response();
        let a = parse_dns_answers(&p).unwrap();
        assert_eq!(a.error, None);
        assert_eq!(a.addresses.len(), 2);
        let mut t = NameTable::new();
        t.on_dns(&p);
        assert_eq!(
            t.dns_name(ip("52.57.118.9")),
            Some("n-devs.tplinkcloud.com")
        );
        assert_eq!(
            t.dns_name(ip("2001:db8::9")),
            Some("n-devs.tplinkcloud.com")
        );
        let s = t.stats();
        assert_eq!((s.dns_responses, s.dns_answers, s.dns_malformed), (1, 2, 0));
        // Every truncation terminates without panic.
        for n in 0..p.len() {
            t.on_dns(&p[..n]);
        }
    }

    #[test]
    fn dns_plain_a_and_queries() {
        let mut p = vec![0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
        p.extend_from_slice(&name_bytes("use1-api.tplinkra.com"));
        p.extend_from_slice(&[0, 1, 0, 1]);
        rr(&mut p, &[0xc0, 12], TYPE_A, &[3, 4, 5, 6]);
        let mut t = NameTable::new();
        t.on_dns(&p);
        assert_eq!(t.dns_name(ip("3.4.5.6")), Some("use1-api.tplinkra.com"));
        // The same bytes as a query (QR = 0) are ignored.
        p[2] = 0x01;
        let mut t = NameTable::new();
        t.on_dns(&p);
        assert_eq!(t.dns_name(ip("3.4.5.6")), None);
        assert_eq!(t.stats().dns_ignored, 1);
    }

    #[test]
    fn dns_compression_loops_terminate_as_malformed() {
        // Question name is a pointer to itself.
        let mut p = vec![0, 0, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 0xc0, 12];
        assert_eq!(
            parse_dns_answers(&p).unwrap().error,
            Some(DnsError::ForwardPointer)
        );
        // Label "a" then a pointer back to it: backwards, but a loop; stops
        // on the hop limit.
        p.truncate(12);
        p.extend_from_slice(&[1, b'a', 0xc0, 12]);
        assert_eq!(
            parse_dns_answers(&p).unwrap().error,
            Some(DnsError::TooManyPointers)
        );
        // The same loop with a 63-byte label stops on the name length first.
        p.truncate(12);
        p.push(63);
        p.extend_from_slice(&[b'a'; 63]);
        p.extend_from_slice(&[0xc0, 12]);
        assert_eq!(
            parse_dns_answers(&p).unwrap().error,
            Some(DnsError::NameTooLong)
        );
        // A chain of 40 pointers, each pointing one back, kept in the RDATA of
        // an unknown record; the next answer's owner starts at its end.
        let mut p = vec![0, 0, 0x81, 0x80, 0, 0, 0, 2, 0, 0, 0, 0];
        rr(&mut p, &name_bytes("a"), 99, &[0; 80]);
        let chain = p.len() - 80;
        for k in 0..40 {
            let prev = if k == 0 { 12 } else { chain + 2 * (k - 1) };
            p[chain + 2 * k..chain + 2 * k + 2].copy_from_slice(&[0xc0, prev as u8]);
        }
        rr(&mut p, &[0xc0, (chain + 78) as u8], TYPE_A, &[1, 2, 3, 4]);
        assert_eq!(
            parse_dns_answers(&p).unwrap().error,
            Some(DnsError::TooManyPointers)
        );
        let mut t = NameTable::new();
        t.on_dns(&p);
        assert_eq!(t.stats().dns_malformed, 1);
        // Reserved label types.
        let p = [0, 0, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0x40, 0];
        assert_eq!(
            parse_dns_answers(&p).unwrap().error,
            Some(DnsError::BadLabelType)
        );
    }

    #[test]
    fn dns_hostile_counts() {
        // ancount 65535 with a short body: the answers present are kept, the
        // rest is a malformed count, and nothing is sized from the count.
        let mut p = vec![0, 1, 0x81, 0x80, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        p.extend_from_slice(&name_bytes("a.example"));
        p.extend_from_slice(&[0, 1, 0, 1]);
        rr(&mut p, &[0xc0, 12], TYPE_A, &[10, 0, 0, 1]);
        let a = parse_dns_answers(&p).unwrap();
        assert_eq!(a.addresses, vec![(ip("10.0.0.1"), "a.example".to_string())]);
        assert_eq!(a.error, Some(DnsError::Short));
        // qdcount 65535.
        let p = [0, 1, 0x81, 0x80, 0xff, 0xff, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            parse_dns_answers(&p).unwrap().error,
            Some(DnsError::TooManyQuestions)
        );
        // More answers than MAX_ANSWERS: only the first MAX_ANSWERS are read.
        let mut p = vec![0, 1, 0x81, 0x80, 0, 1, 0, 200, 0, 0, 0, 0];
        p.extend_from_slice(&name_bytes("many.example"));
        p.extend_from_slice(&[0, 1, 0, 1]);
        for i in 0..200u8 {
            rr(&mut p, &[0xc0, 12], TYPE_A, &[10, 1, 0, i]);
        }
        let a = parse_dns_answers(&p).unwrap();
        assert_eq!(a.addresses.len(), MAX_ANSWERS);
        assert_eq!(a.error, None);
    }

    #[test]
    fn dns_names_are_printable() {
        let mut p = vec![0, 1, 0x81, 0x80, 0, 0, 0, 1, 0, 0, 0, 0];
        p.extend_from_slice(&[4, 0x1b, b'[', b'2', b'J', 0]);
        p.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 9, 9, 9, 9]);
        let mut t = NameTable::new();
        t.on_dns(&p);
        assert_eq!(t.dns_name(ip("9.9.9.9")), Some("?[2J"));
    }

    /// A DHCP message from the server (op 2) or client (op 1).
    fn dhcp(op: u8, msg_type: u8, yiaddr: [u8; 4], mac: [u8; 6], opts: &[u8]) -> Vec<u8> {
        let mut p = vec![0u8; BOOTP_FIXED_LEN];
        p[0] = op;
        p[1] = HTYPE_ETHERNET;
        p[2] = 6;
        p[16..20].copy_from_slice(&yiaddr);
        p[28..34].copy_from_slice(&mac);
        p.extend_from_slice(&DHCP_MAGIC);
        p.extend_from_slice(&[OPT_MSG_TYPE, 1, msg_type]);
        p.extend_from_slice(opts);
        p.push(OPT_END);
        p
    }

    const PLUG: [u8; 6] = [0x50, 0xc7, 0xbf, 1, 2, 3];

    #[test]
    fn dhcp_ack_gives_hostname_and_ip() {
        let mut opts = vec![OPT_HOSTNAME, 6];
        opts.extend_from_slice(b"HS110\0");
        opts.extend_from_slice(&[OPT_PAD, OPT_PAD]);
        let p = dhcp(BOOTREPLY, dhcp_type::ACK, [192, 168, 0, 51], PLUG, &opts);
        let mut t = NameTable::new();
        t.on_dhcp(None, &p);
        let mac = MacAddr(PLUG);
        assert_eq!(t.hostname(mac), Some("HS110"));
        assert_eq!(t.ip_for_mac(mac), Some(ip("192.168.0.51")));
        assert_eq!(t.mac_for_ip(ip("192.168.0.51")), Some(mac));
        assert_eq!((t.stats().dhcp, t.stats().dhcp_malformed), (1, 0));
        // Every truncation: no panic; too short for the cookie is malformed.
        for k in 0..p.len() {
            t.on_dhcp(None, &p[..k]);
        }
        assert!(t.stats().dhcp_malformed >= 240);
    }

    #[test]
    fn dhcp_request_client_id_and_truncated_option() {
        // A request whose chaddr is not a MAC (htype 0) names the client by
        // option 61; option 50 is a hint when nothing is known.
        let mut opts = vec![OPT_CLIENT_ID, 7, HTYPE_ETHERNET];
        opts.extend_from_slice(&PLUG);
        opts.extend_from_slice(&[OPT_REQUESTED_IP, 4, 192, 168, 0, 77]);
        opts.extend_from_slice(&[OPT_HOSTNAME, 3, b'k', 0x07, b'p']);
        let mut p = dhcp(BOOTREQUEST, dhcp_type::REQUEST, [0; 4], [0; 6], &opts);
        p[1] = 0;
        let d = parse_dhcp(&p).unwrap();
        assert_eq!((d.mac, d.client_id_mac), (None, Some(MacAddr(PLUG))));
        let mut t = NameTable::new();
        t.on_dhcp(Some(MacAddr([0xaa; 6])), &p);
        assert_eq!(t.hostname(MacAddr(PLUG)), Some("k?p"));
        assert_eq!(t.ip_for_mac(MacAddr(PLUG)), Some(ip("192.168.0.77")));
        // An option length that runs past the end: counted, earlier options kept.
        let n = p.len();
        p[n - 5] = 200; // hostname length
        let d = parse_dhcp(&p).unwrap();
        assert!(d.options_truncated);
        assert_eq!(d.requested, Some(Ipv4Addr::new(192, 168, 0, 77)));
        t.on_dhcp(None, &p);
        assert_eq!(t.stats().dhcp_malformed, 1);
        // No cookie: not DHCP.
        p[236] = 0;
        assert!(parse_dhcp(&p).is_none());
    }

    #[test]
    fn dhcp_inventory_options() {
        let mut opts = vec![OPT_PARAM_LIST, 4, 1, 3, 6, 15];
        opts.extend_from_slice(&[OPT_VENDOR_CLASS, 12]);
        opts.extend_from_slice(b"udhcp 1.30.1");
        // FQDN, wire form (E flag), partial name without the root label.
        opts.extend_from_slice(&[OPT_CLIENT_FQDN, 3 + 10, 0x05, 0, 0, 4]);
        opts.extend_from_slice(b"plug\x04home");
        let p = dhcp(BOOTREQUEST, dhcp_type::REQUEST, [0; 4], PLUG, &opts);
        let d = parse_dhcp(&p).unwrap();
        assert_eq!(d.param_list, vec![1, 3, 6, 15]);
        assert_eq!(d.vendor_class.as_deref(), Some("udhcp 1.30.1"));
        assert_eq!(d.fqdn.as_deref(), Some("plug.home"));
        assert!(!d.options_truncated);
        // The ASCII form, and a vendor class with a control byte.
        let mut opts = vec![OPT_CLIENT_FQDN, 3 + 7, 0x01, 0, 0];
        opts.extend_from_slice(b"lamp.lo");
        opts.extend_from_slice(&[OPT_VENDOR_CLASS, 3, b'a', 0x07, b'b']);
        let d = parse_dhcp(&dhcp(BOOTREQUEST, dhcp_type::DISCOVER, [0; 4], PLUG, &opts)).unwrap();
        assert_eq!(d.fqdn.as_deref(), Some("lamp.lo"));
        assert_eq!(d.vendor_class.as_deref(), Some("a?b"));
        // Truncated FQDN options give nothing.
        assert_eq!(parse_fqdn(&[0x04, 0]), None);
        assert_eq!(parse_fqdn(&[0x04, 0, 0, 63, b'x']), None);
    }

    #[test]
    fn dhcp_falls_back_to_frame_source_for_direct_requests() {
        let mut p = dhcp(
            BOOTREQUEST,
            dhcp_type::DISCOVER,
            [0; 4],
            [0; 6],
            &[OPT_HOSTNAME, 2, b'h', b'i'],
        );
        p[1] = 0;
        let mut t = NameTable::new();
        t.on_dhcp(Some(MacAddr(PLUG)), &p);
        assert_eq!(t.hostname(MacAddr(PLUG)), Some("hi"));
        // Relayed (giaddr set): the frame came from the relay, not the client.
        p[24] = 10;
        let mut t = NameTable::new();
        t.on_dhcp(Some(MacAddr(PLUG)), &p);
        assert_eq!(t.hostname(MacAddr(PLUG)), None);
    }

    #[test]
    fn arp_and_learned_bindings() {
        let mut t = NameTable::new();
        let a = Arp {
            op: arp_op::REPLY,
            sender_mac: MacAddr([0x10; 6]),
            sender_ip: Ipv4Addr::new(192, 168, 0, 1),
            target_mac: MacAddr([0x20; 6]),
            target_ip: Ipv4Addr::new(192, 168, 0, 2),
        };
        t.on_arp(&a);
        assert_eq!(t.mac_for_ip(ip("192.168.0.1")), Some(MacAddr([0x10; 6])));
        assert_eq!(t.mac_for_ip(ip("192.168.0.2")), Some(MacAddr([0x20; 6])));
        // A probe (sender 0.0.0.0) and group MACs teach nothing.
        t.learn_ip_mac(ip("0.0.0.0"), MacAddr([0x30; 6]));
        t.learn_ip_mac(ip("192.168.0.9"), MacAddr::BROADCAST);
        t.learn_ip_mac(ip("224.0.0.251"), MacAddr([0x40; 6]));
        assert_eq!(t.len().0, 2);
        // IPv4 is preferred for display even when IPv6 is newer.
        let m = MacAddr([0x10; 6]);
        t.learn_ip_mac(ip("fe80::1"), m);
        assert_eq!(t.ip_for_mac(m), Some(ip("192.168.0.1")));
        assert_eq!(t.mac_for_ip(ip("fe80::1")), Some(m));
        // An address that moves leaves its old host.
        t.learn_ip_mac(ip("192.168.0.1"), MacAddr([0x50; 6]));
        assert_eq!(t.ip_for_mac(m), Some(ip("fe80::1")));
        assert_eq!(t.ip_for_mac(MacAddr([0x50; 6])), Some(ip("192.168.0.1")));
        // The latest IPv4 wins.
        t.learn_ip_mac(ip("192.168.0.99"), m);
        assert_eq!(t.ip_for_mac(m), Some(ip("192.168.0.99")));
    }

    #[test]
    fn tables_are_capped_and_evict_the_oldest() {
        let cap = 64;
        let mut t = NameTable::with_caps(cap, cap);
        let mac = |i: u32| {
            let b = i.to_be_bytes();
            MacAddr([2, 0, b[0], b[1], b[2], b[3]])
        };
        let n = 10 * cap as u32;
        for i in 0..n {
            t.learn_ip_mac(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)), mac(i));
        }
        let (ip_mac, mac_ip, _, _) = t.len();
        assert_eq!((ip_mac, mac_ip), (cap, cap));
        let s = t.stats();
        assert_eq!(s.evicted_ip_mac, u64::from(n) - cap as u64);
        assert_eq!(s.evicted_mac_ip, u64::from(n) - cap as u64);
        // The newest survive, the oldest are gone.
        assert_eq!(
            t.mac_for_ip(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n - 1))),
            Some(mac(n - 1))
        );
        assert_eq!(t.mac_for_ip(IpAddr::V4(Ipv4Addr::from(0x0a00_0000))), None);
        // Repeating a known binding is free and evicts nothing.
        for _ in 0..1000 {
            t.learn_ip_mac(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n - 1)), mac(n - 1));
        }
        assert_eq!(t.stats(), s);
        // DNS names are capped the same way.
        for i in 0..n {
            let mut p = vec![0, 1, 0x81, 0x80, 0, 0, 0, 1, 0, 0, 0, 0];
            rr(
                &mut p,
                &name_bytes("x.example"),
                TYPE_A,
                &(0x0b00_0000 + i).to_be_bytes(),
            );
            t.on_dns(&p);
        }
        assert_eq!(t.len().3, cap);
        assert_eq!(t.stats().evicted_dns, u64::from(n) - cap as u64);
    }

    #[test]
    fn bounded_map_queue_stays_bounded_under_churn() {
        let mut m = BoundedMap::new(8);
        for i in 0..10_000u32 {
            m.insert(i % 4, i);
            assert!(m.order.len() <= 2 * 8 + 1);
        }
        assert_eq!(m.len(), 4);
        assert_eq!(m.get(&3), Some(&9_999));
    }

    proptest::proptest! {
        #[test]
        fn random_bytes_never_panic(b in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let _ = parse_dns_answers(&b);
            let _ = parse_dhcp(&b);
            let mut t = NameTable::with_caps(4, 4);
            t.on_dns(&b);
            t.on_dhcp(Some(MacAddr([2; 6])), &b);
        }

        /// A valid DNS header followed by random bytes reaches the name reader.
        #[test]
        fn random_dns_body_never_panics(
            counts in proptest::array::uniform4(0u8..8),
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
        ) {
            let mut p = vec![0, 1, 0x81, 0x80, 0, counts[0], 0, counts[1], 0, counts[2], 0, counts[3]];
            p.extend_from_slice(&body);
            let _ = parse_dns_answers(&p);
        }

        /// A valid DHCP header followed by random options.
        #[test]
        fn random_dhcp_options_never_panic(opts in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let mut p = dhcp(BOOTREPLY, dhcp_type::ACK, [10, 0, 0, 2], PLUG, &[]);
            p.truncate(BOOTP_FIXED_LEN + 4);
            p.extend_from_slice(&opts);
            let mut t = NameTable::with_caps(4, 4);
            t.on_dhcp(None, &p);
        }
    }
}
