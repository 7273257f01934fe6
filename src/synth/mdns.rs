//! mDNS / DNS-SD datagrams (RFC 6762, RFC 6763) with name compression
//! (RFC 1035 §4.1.4): service announcements and queries, the setter side of
//! [`crate::wire::dns`]. UDP payloads for port 5353; wrap them with
//! [`super::frames::ipv4_udp`] to 224.0.0.251.

use std::collections::HashMap;

use crate::wire::dns::{CLASS_IN, CLASS_TOP_BIT, rtype};

/// Writes a DNS message, compressing every name suffix it has written
/// before (names compare case-insensitively, RFC 4343).
#[derive(Debug, Default)]
pub struct Builder {
    buf: Vec<u8>,
    seen: HashMap<String, u16>,
    counts: [u16; 4],
}

/// Message sections, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Question = 0,
    Answer = 1,
    Authority = 2,
    Additional = 3,
}

/// Record time to live for host-level records (RFC 6762 §10: 120 s).
pub const TTL_HOST: u32 = 120;
/// Record time to live for other records (RFC 6762 §10: 75 minutes).
pub const TTL_OTHER: u32 = 4500;

impl Builder {
    /// A message with `flags` (0x8400 = authoritative response, 0 = query).
    pub fn new(flags: u16) -> Builder {
        let mut b = Builder::default();
        b.buf.extend_from_slice(&[0, 0]);
        b.buf.extend_from_slice(&flags.to_be_bytes());
        b.buf.extend_from_slice(&[0; 8]);
        b
    }

    /// Writes `name` (labels, root implied), pointing at an earlier copy of
    /// its longest known suffix.
    pub fn name(&mut self, labels: &[&str]) {
        for i in 0..labels.len() {
            let suffix = labels[i..].join(".").to_ascii_lowercase();
            if let Some(&off) = self.seen.get(&suffix) {
                self.buf.extend_from_slice(&(0xc000 | off).to_be_bytes());
                return;
            }
            if let Ok(off) = u16::try_from(self.buf.len())
                && off < 0x4000
            {
                self.seen.insert(suffix, off);
            }
            let l = &labels[i].as_bytes()[..labels[i].len().min(63)];
            self.buf.push(l.len() as u8);
            self.buf.extend_from_slice(l);
        }
        self.buf.push(0);
    }

    /// A question (`unicast` sets the QU bit, RFC 6762 §5.4).
    pub fn question(&mut self, name: &[&str], qtype: u16, unicast: bool) {
        self.name(name);
        self.buf.extend_from_slice(&qtype.to_be_bytes());
        let class = if unicast {
            CLASS_IN | CLASS_TOP_BIT
        } else {
            CLASS_IN
        };
        self.buf.extend_from_slice(&class.to_be_bytes());
        self.counts[0] += 1;
    }

    /// A record whose RDATA `write` appends (it may write names, compressed).
    pub fn record(
        &mut self,
        section: Section,
        name: &[&str],
        ty: u16,
        cache_flush: bool,
        ttl: u32,
        write: impl FnOnce(&mut Builder),
    ) {
        self.name(name);
        self.buf.extend_from_slice(&ty.to_be_bytes());
        let class = if cache_flush {
            CLASS_IN | CLASS_TOP_BIT
        } else {
            CLASS_IN
        };
        self.buf.extend_from_slice(&class.to_be_bytes());
        self.buf.extend_from_slice(&ttl.to_be_bytes());
        let len_at = self.buf.len();
        self.buf.extend_from_slice(&[0, 0]);
        write(self);
        let len = (self.buf.len() - len_at - 2) as u16;
        self.buf[len_at..len_at + 2].copy_from_slice(&len.to_be_bytes());
        self.counts[section as usize] += 1;
    }

    /// Raw RDATA bytes.
    pub fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    /// The message, with the section counts filled in.
    pub fn finish(mut self) -> Vec<u8> {
        for (i, c) in self.counts.iter().enumerate() {
            self.buf[4 + 2 * i..6 + 2 * i].copy_from_slice(&c.to_be_bytes());
        }
        self.buf
    }
}

/// TXT RDATA from `key=value` pairs (an empty value gives a boolean
/// attribute `key`); strings over 255 bytes are cut.
pub fn txt_rdata(txt: &[(&str, &str)]) -> Vec<u8> {
    let mut v = Vec::new();
    for (k, val) in txt {
        let s = if val.is_empty() {
            (*k).to_owned()
        } else {
            format!("{k}={val}")
        };
        let s = &s.as_bytes()[..s.len().min(255)];
        v.push(s.len() as u8);
        v.extend_from_slice(s);
    }
    if v.is_empty() {
        v.push(0); // RFC 6763 §6.1: an empty TXT record holds one empty string
    }
    v
}

/// One DNS-SD service instance of a device.
#[derive(Debug, Clone)]
pub struct Service<'a> {
    /// The instance label (`Living Room Lamp`).
    pub instance: &'a str,
    /// `_hap._tcp`.
    pub service: &'a str,
    /// Host label, without `.local` (`lamp-1`).
    pub host: &'a str,
    pub port: u16,
    pub txt: &'a [(&'a str, &'a str)],
    pub ipv4: [u8; 4],
}

/// An announcement (RFC 6762 §8.3) of `services`: a PTR per service in the
/// answer section, then SRV, TXT and one A per host in the additional
/// section (RFC 6763 §12), every name compressed. `ttl = 0` is a goodbye.
pub fn announcement(services: &[Service<'_>], goodbye: bool) -> Vec<u8> {
    let ttl = |t| if goodbye { 0 } else { t };
    let mut b = Builder::new(0x8400);
    let split = |s: &str| -> Vec<String> { s.split('.').map(str::to_owned).collect() };
    for s in services {
        let svc = split(s.service);
        let mut svc_name: Vec<&str> = svc.iter().map(String::as_str).collect();
        svc_name.push("local");
        let mut inst_name = vec![s.instance];
        inst_name.extend_from_slice(&svc_name);
        b.record(
            Section::Answer,
            &svc_name,
            rtype::PTR,
            false,
            ttl(TTL_OTHER),
            |b| b.name(&inst_name),
        );
    }
    let mut hosts_done: Vec<&str> = Vec::new();
    for s in services {
        let svc = split(s.service);
        let mut inst_name = vec![s.instance];
        inst_name.extend(svc.iter().map(String::as_str));
        inst_name.push("local");
        let host = [s.host, "local"];
        b.record(
            Section::Additional,
            &inst_name,
            rtype::SRV,
            true,
            ttl(TTL_HOST),
            |b| {
                b.bytes(&[0, 0, 0, 0]);
                b.bytes(&s.port.to_be_bytes());
                b.name(&host);
            },
        );
        let txt = txt_rdata(s.txt);
        b.record(
            Section::Additional,
            &inst_name,
            rtype::TXT,
            true,
            ttl(TTL_OTHER),
            |b| b.bytes(&txt),
        );
        if !hosts_done.contains(&s.host) {
            hosts_done.push(s.host);
            b.record(
                Section::Additional,
                &host,
                rtype::A,
                true,
                ttl(TTL_HOST),
                |b| b.bytes(&s.ipv4),
            );
        }
    }
    b.finish()
}

/// A query for the PTR records of `services` (`_hap._tcp.local`…).
pub fn browse(services: &[&str]) -> Vec<u8> {
    let mut b = Builder::new(0);
    for s in services {
        let mut labels: Vec<&str> = s.split('.').collect();
        labels.push("local");
        b.question(&labels, rtype::PTR, false);
    }
    b.finish()
}

/// Example devices for tests and the demo: an Eve Energy–style HomeKit
/// outlet, a Matter commissionable plug, a Shelly Plus Plug S, a Shelly
/// Gen1 plug, a Chromecast.
pub mod examples {
    use super::Service;

    pub const HAP_TXT: &[(&str, &str)] = &[
        ("c#", "3"),
        ("ff", "0"),
        ("id", "1A:2B:3C:4D:5E:6F"),
        ("md", "Eve Energy 20EBO8301"),
        ("pv", "1.1"),
        ("s#", "1"),
        ("sf", "0"),
        ("ci", "7"),
        ("sh", "k4TIeg=="),
    ];
    pub const HOMEKIT_PLUG: Service<'static> = Service {
        instance: "Eve Energy 5A3C",
        service: "_hap._tcp",
        host: "Eve-Energy-5A3C",
        port: 51827,
        txt: HAP_TXT,
        ipv4: [192, 168, 0, 71],
    };
    pub const MATTERC_TXT: &[(&str, &str)] = &[
        ("D", "3840"),
        ("VP", "65521+32769"),
        ("CM", "1"),
        ("DT", "266"),
        ("DN", "Kitchen Plug"),
        ("SII", "5000"),
        ("SAI", "300"),
        ("PH", "33"),
    ];
    pub const MATTER_PLUG: Service<'static> = Service {
        instance: "D6A2E5B04F1C9A37",
        service: "_matterc._udp",
        host: "A8032AB1C2D3",
        port: 5540,
        txt: MATTERC_TXT,
        ipv4: [192, 168, 0, 72],
    };
    pub const MATTER_OPERATIONAL: Service<'static> = Service {
        instance: "2906C908D115D362-8FC7772401CD0696",
        service: "_matter._tcp",
        host: "A8032AB1C2D3",
        port: 5540,
        txt: &[("SII", "5000"), ("SAI", "300"), ("T", "0")],
        ipv4: [192, 168, 0, 72],
    };
    pub const SHELLY_GEN2: Service<'static> = Service {
        instance: "shellyplusplugs-a8032ab12345",
        service: "_shelly._tcp",
        host: "shellyplusplugs-a8032ab12345",
        port: 80,
        txt: &[("gen", "2"), ("app", "PlusPlugS"), ("ver", "1.0.8")],
        ipv4: [192, 168, 0, 73],
    };
    pub const SHELLY_GEN1: Service<'static> = Service {
        instance: "shellyplug-s-7C87CE",
        service: "_http._tcp",
        host: "shellyplug-s-7C87CE",
        port: 80,
        txt: &[
            ("id", "shellyplug-s-7C87CE"),
            ("fw_id", "20230913-114244/v1.14.0-gcb84623"),
            ("arch", "esp8266"),
        ],
        ipv4: [192, 168, 0, 74],
    };
    pub const CHROMECAST: Service<'static> = Service {
        instance: "Chromecast-5b1e9c2a7f3d",
        service: "_googlecast._tcp",
        host: "5b1e9c2a-7f3d-0000-0000-000000000000",
        port: 8009,
        txt: &[
            ("id", "5b1e9c2a7f3d"),
            ("md", "Chromecast"),
            ("fn", "Living Room TV"),
        ],
        ipv4: [192, 168, 0, 75],
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::dns::DnsMessage;

    #[test]
    fn compresses_and_reads_back() {
        let p = announcement(&[examples::HOMEKIT_PLUG, examples::MATTER_PLUG], false);
        let m = DnsMessage::new_checked(&p).unwrap();
        assert_eq!((m.ancount(), m.arcount()), (2, 6));
        // "local" is written once in full.
        assert_eq!(p.windows(6).filter(|w| w == b"\x05local").count(), 1);
        let mut r = m.reader();
        let names: Vec<String> = (0..8)
            .map(|_| r.record().unwrap().name.to_string())
            .collect();
        assert_eq!(names[0], "_hap._tcp.local");
        assert_eq!(names[2], "Eve Energy 5A3C._hap._tcp.local");
        assert_eq!(names[4], "Eve-Energy-5A3C.local");
        assert_eq!(r.offset(), p.len());
    }
}
