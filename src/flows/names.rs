//! Who is who on the network: IP ↔ MAC from ARP and from the frames
//! themselves, hostnames from DHCP (RFC 2131/2132), and names of remote
//! addresses from DNS answers (RFC 1035), so a flow to 52.57.x.x shows as
//! `n-devs.tplinkcloud.com`.
//!
//! The DNS reader is written here rather than taken from a DNS crate: it needs
//! only A/AAAA/CNAME answers, and a small parser with explicit limits
//! ([`MAX_POINTER_HOPS`], 255-byte names, [`MAX_ANSWERS`]) is easy to keep
//! panic-free and linear on hostile input (compression loops terminate).
//!
//! Bounds: each table holds at most [`MAX_ENTRIES`]; past it, new entries are
//! refused and counted (existing ones are still updated).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::ip::Arp;
use crate::wire::MacAddr;

pub const MAX_ENTRIES: usize = 16_384;
pub const MAX_POINTER_HOPS: usize = 32;
pub const MAX_ANSWERS: usize = 64;
const MAX_NAME: usize = 255;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct NameStats {
    pub arp: u64,
    pub dhcp: u64,
    pub dns_answers: u64,
    pub dns_malformed: u64,
    pub dhcp_malformed: u64,
    pub refused_full: u64,
}

#[derive(Default)]
pub struct NameTable {
    ip_mac: HashMap<IpAddr, MacAddr>,
    mac_ip: HashMap<MacAddr, IpAddr>,
    hostnames: HashMap<MacAddr, String>,
    dns: HashMap<IpAddr, String>,
    stats: NameStats,
}

fn put<K: std::hash::Hash + Eq, V>(m: &mut HashMap<K, V>, k: K, v: V, stats: &mut NameStats) {
    if m.len() >= MAX_ENTRIES && !m.contains_key(&k) {
        stats.refused_full += 1;
        return;
    }
    m.insert(k, v);
}

impl NameTable {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn stats(&self) -> NameStats {
        self.stats
    }

    /// Records that `ip` is at `mac` (callers pass LAN addresses only).
    pub fn learn_ip_mac(&mut self, ip: IpAddr, mac: MacAddr) {
        if mac.is_group() || ip.is_unspecified() || self.ip_mac.get(&ip) == Some(&mac) {
            return;
        }
        put(&mut self.ip_mac, ip, mac, &mut self.stats);
        // Prefer an IPv4 address for the MAC's display.
        let keep_v4 = matches!(self.mac_ip.get(&mac), Some(IpAddr::V4(_))) && ip.is_ipv6();
        if !keep_v4 {
            put(&mut self.mac_ip, mac, ip, &mut self.stats);
        }
    }

    pub fn on_arp(&mut self, a: &Arp) {
        self.stats.arp += 1;
        if !a.sender_ip.is_unspecified() {
            self.learn_ip_mac(IpAddr::V4(a.sender_ip), a.sender_mac);
        }
        if a.op == 2 && !a.target_ip.is_unspecified() && a.target_mac != MacAddr::default() {
            self.learn_ip_mac(IpAddr::V4(a.target_ip), a.target_mac);
        }
    }

    /// A DHCP message (BOOTP, RFC 2131 §2; options RFC 2132).
    pub fn on_dhcp(&mut self, _src_mac: Option<MacAddr>, p: &[u8]) {
        if p.len() < 240 || p[236..240] != [99, 130, 83, 99] || p[1] != 1 || p[2] != 6 {
            self.stats.dhcp_malformed += 1;
            return;
        }
        self.stats.dhcp += 1;
        let chaddr = MacAddr::from_slice(&p[28..34]);
        let yiaddr = Ipv4Addr::new(p[16], p[17], p[18], p[19]);
        let mut msg_type = 0;
        let mut hostname = None;
        let mut requested = None;
        let mut i = 240;
        while i < p.len() {
            let code = p[i];
            if code == 255 {
                break;
            }
            if code == 0 {
                i += 1;
                continue;
            }
            let Some(&len) = p.get(i + 1) else { break };
            let Some(val) = p.get(i + 2..i + 2 + len as usize) else {
                self.stats.dhcp_malformed += 1;
                break;
            };
            match code {
                53 if len == 1 => msg_type = val[0],
                12 => hostname = Some(String::from_utf8_lossy(val).into_owned()),
                50 if len == 4 => requested = Some(Ipv4Addr::new(val[0], val[1], val[2], val[3])),
                _ => {}
            }
            i += 2 + len as usize;
        }
        if let Some(h) = hostname.filter(|h| !h.is_empty() && h.len() <= 64) {
            put(&mut self.hostnames, chaddr, h, &mut self.stats);
        }
        // ACK (5) assigns yiaddr; REQUEST (3) names the address wanted.
        let ip = if msg_type == 5 && !yiaddr.is_unspecified() {
            Some(yiaddr)
        } else {
            requested.filter(|_| msg_type == 3)
        };
        if let Some(ip) = ip {
            self.learn_ip_mac(IpAddr::V4(ip), chaddr);
        }
    }

    /// A DNS response: A/AAAA answers name their address, following CNAMEs
    /// back to the name that was asked.
    pub fn on_dns(&mut self, p: &[u8]) {
        match parse_dns_answers(p) {
            Some(ans) => {
                for (ip, name) in ans {
                    self.stats.dns_answers += 1;
                    put(&mut self.dns, ip, name, &mut self.stats);
                }
            }
            None => self.stats.dns_malformed += 1,
        }
    }

    pub fn mac_for_ip(&self, ip: IpAddr) -> Option<MacAddr> {
        self.ip_mac.get(&ip).copied()
    }
    pub fn ip_for_mac(&self, mac: MacAddr) -> Option<IpAddr> {
        self.mac_ip.get(&mac).copied()
    }
    pub fn hostname(&self, mac: MacAddr) -> Option<&str> {
        self.hostnames.get(&mac).map(String::as_str)
    }
    pub fn dns_name(&self, ip: IpAddr) -> Option<&str> {
        self.dns.get(&ip).map(String::as_str)
    }
}

/// Reads a (possibly compressed) name at `off`; returns it and the offset
/// after it in the original position. Bounded by hops and length.
fn read_name(p: &[u8], mut off: usize) -> Option<(String, usize)> {
    let mut name = String::new();
    let mut end = None;
    let mut hops = 0;
    loop {
        let len = *p.get(off)? as usize;
        match len & 0xc0 {
            0xc0 => {
                let ptr = ((len & 0x3f) << 8) | *p.get(off + 1)? as usize;
                end.get_or_insert(off + 2);
                hops += 1;
                if hops > MAX_POINTER_HOPS {
                    return None;
                }
                off = ptr;
            }
            0x00 => {
                if len == 0 {
                    return Some((name, end.unwrap_or(off + 1)));
                }
                let label = p.get(off + 1..off + 1 + len)?;
                if !name.is_empty() {
                    name.push('.');
                }
                name.push_str(&String::from_utf8_lossy(label));
                if name.len() > MAX_NAME {
                    return None;
                }
                off += 1 + len;
            }
            _ => return None,
        }
    }
}

/// `(address, queried name)` pairs of a DNS response; `None` if malformed.
pub fn parse_dns_answers(p: &[u8]) -> Option<Vec<(IpAddr, String)>> {
    if p.len() < 12 || p[2] & 0x80 == 0 {
        return None; // not a response
    }
    let qd = u16::from_be_bytes([p[4], p[5]]) as usize;
    let an = u16::from_be_bytes([p[6], p[7]]) as usize;
    let mut off = 12;
    let mut qname = None;
    for _ in 0..qd.min(4) {
        let (n, o) = read_name(p, off)?;
        qname.get_or_insert(n);
        off = o + 4;
    }
    if qd > 4 {
        return None;
    }
    // CNAME target → alias (so the A record maps back to the asked name).
    let mut cname: HashMap<String, String> = HashMap::new();
    let mut out = Vec::new();
    for _ in 0..an.min(MAX_ANSWERS) {
        let (owner, o) = read_name(p, off)?;
        let hdr = p.get(o..o + 10)?;
        let ty = u16::from_be_bytes([hdr[0], hdr[1]]);
        let rdlen = u16::from_be_bytes([hdr[8], hdr[9]]) as usize;
        let rdata = p.get(o + 10..o + 10 + rdlen)?;
        match ty {
            1 if rdlen == 4 => {
                let ip = IpAddr::V4(Ipv4Addr::new(rdata[0], rdata[1], rdata[2], rdata[3]));
                out.push((ip, owner));
            }
            28 if rdlen == 16 => {
                let mut a = [0u8; 16];
                a.copy_from_slice(rdata);
                out.push((IpAddr::V6(Ipv6Addr::from(a)), owner));
            }
            5 => {
                if let Some((target, _)) = read_name(p, o + 10) {
                    cname.insert(target, owner);
                }
            }
            _ => {}
        }
        off = o + 10 + rdlen;
    }
    // Follow CNAME chains back (bounded) to the name the client asked for.
    for (_, name) in out.iter_mut() {
        for _ in 0..8 {
            match cname.get(name.as_str()) {
                Some(a) if a != name => *name = a.clone(),
                _ => break,
            }
        }
    }
    let _ = qname;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dns_response() -> Vec<u8> {
        let mut p = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0];
        // question: n-devs.tplinkcloud.com A IN
        for l in ["n-devs", "tplinkcloud", "com"] {
            p.push(l.len() as u8);
            p.extend_from_slice(l.as_bytes());
        }
        p.extend_from_slice(&[0, 0, 1, 0, 1]);
        // answer 1: CNAME (owner = pointer to question name at 12) → aws.example
        p.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60]);
        let target = [
            3, b'a', b'w', b's', 7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 0,
        ];
        p.extend_from_slice(&(target.len() as u16).to_be_bytes());
        let target_off = p.len();
        p.extend_from_slice(&target);
        // answer 2: A for aws.example (pointer to the CNAME target)
        p.extend_from_slice(&[
            0xc0,
            target_off as u8,
            0,
            1,
            0,
            1,
            0,
            0,
            0,
            60,
            0,
            4,
            52,
            57,
            118,
            9,
        ]);
        p
    }

    #[test]
    fn dns_cname_chain_names_the_asked_name() {
        let mut t = NameTable::new();
        t.on_dns(&dns_response());
        assert_eq!(
            t.dns_name("52.57.118.9".parse().unwrap()),
            Some("n-devs.tplinkcloud.com")
        );
    }

    #[test]
    fn dns_compression_loop_terminates() {
        let mut p = vec![0, 0, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
        p.extend_from_slice(&[0xc0, 12]); // points to itself
        assert!(parse_dns_answers(&p).is_none());
        let mut p = dns_response();
        p[7] = 0xff; // ancount 255, body too short
        assert!(parse_dns_answers(&p).is_none());
        let r = dns_response();
        for n in 0..r.len() {
            let _ = parse_dns_answers(&r[..n]);
        }
    }

    #[test]
    fn dhcp_ack_gives_hostname_and_ip() {
        let mut p = vec![0u8; 240];
        p[0] = 2;
        p[1] = 1;
        p[2] = 6;
        p[16..20].copy_from_slice(&[192, 168, 0, 51]);
        p[28..34].copy_from_slice(&[0x50, 0xc7, 0xbf, 1, 2, 3]);
        p[236..240].copy_from_slice(&[99, 130, 83, 99]);
        p.extend_from_slice(&[53, 1, 5, 12, 5]);
        p.extend_from_slice(b"HS110");
        p.push(255);
        let mut t = NameTable::new();
        t.on_dhcp(None, &p);
        let mac = MacAddr([0x50, 0xc7, 0xbf, 1, 2, 3]);
        assert_eq!(t.hostname(mac), Some("HS110"));
        assert_eq!(t.ip_for_mac(mac), Some("192.168.0.51".parse().unwrap()));
        // Truncated option length: counted, no panic.
        let n = p.len();
        p[n - 7] = 200;
        t.on_dhcp(None, &p);
        for k in 0..p.len() {
            t.on_dhcp(None, &p[..k]);
        }
    }

    #[test]
    fn tables_are_capped() {
        let mut t = NameTable::new();
        for i in 0..(MAX_ENTRIES as u32 + 10) {
            let ip = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
            let b = i.to_be_bytes();
            t.learn_ip_mac(ip, MacAddr([2, 0, b[0], b[1], b[2], b[3]]));
        }
        assert!(t.stats().refused_full >= 10);
    }

    proptest::proptest! {
        #[test]
        fn dns_random_never_panics(b in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let _ = parse_dns_answers(&b);
            NameTable::new().on_dhcp(None, &b);
        }
    }
}
