//! A deterministic "home network" scenario: one AP, a phone running the
//! vendors' apps, two TP-Link plugs, two Tuya plugs (3.3 and 3.5), a Shelly
//! Plus Plug S and a Wemo Insight, as a monitor-mode radio on the AP's
//! channel would record them.
//!
//! [`build`] returns the frames (radiotap + 802.11, no FCS unless asked) with
//! a manifest of what is in them, so tests can check a decryptor against
//! known counts; [`demo`] returns the frames only. The same [`Scenario`]
//! (seed included) always yields the same bytes.
//!
//! Timeline of [`demo`]:
//! 1. beacons every 102.4 ms throughout; a probe response to the phone;
//! 2. for the phone and both plugs: authentication, association and the
//!    4-way handshake (M1–M4, or only M2+M3 with [`HandshakeMode::M2M3Only`]);
//! 3. ARP: the phone asks for plug 1 (broadcast, relayed by the AP under the
//!    GTK), plug 1 answers;
//! 4. UDP 9999 discovery broadcast (XOR `get_sysinfo`) from the phone, the
//!    AP's group-key copy, unicast replies from both plugs;
//! 5. TDP (UDP 20002) query from the phone, plug 2 answers;
//! 6. TCP 9999 phone → plug 1: `get_sysinfo`, `set_relay_state`,
//!    `emeter.get_realtime` split over two segments, two messages in one
//!    segment, `cnCloud.bind` with the account credentials, FIN;
//!    one frame retransmitted (Retry bit, same PN) and one replayed (same PN,
//!    no Retry);
//! 7. plug 2: DNS query/answer for `n-devs.tplinkcloud.com`, TCP to
//!    52.57.x.x:50443 and a TLS 1.2 ClientHello with that SNI;
//! 8. one after the other, the other vendors' plugs ([`Scenario::vendors`]):
//!    authentication, association and the 4-way handshake, a broadcast
//!    DHCPREQUEST with host name, their announcement (Tuya UDP broadcast on
//!    6667 for 3.3 and 7000 for 3.5, Shelly mDNS `_shelly._tcp`, Wemo SSDP
//!    `NOTIFY`), then the phone's TCP connection(s) carrying the vendor
//!    generator's conversation: Tuya on 6668 (with the 3.5 session key
//!    negotiation), Shelly Gen2 `POST /rpc` then a WebSocket on `/rpc`, Wemo
//!    SOAP on 49153;
//! 9. a group-key rekey (G1/G2 inside CCMP to every station, new GTK with
//!    key ID 2), a broadcast ARP under the new GTK, and a DNS query from the
//!    phone whose answer the AP sends in one A-MSDU with its ARP reply.
//!
//! Sequence numbers are what a real radio sends (IEEE 802.11-2020
//! 10.3.2.14): unicast QoS data counts per ⟨transmitter, receiver, TID⟩,
//! management frames and group-addressed data per transmitter, so a
//! receiver's share has no gaps and the capture's health report shows no
//! missed frames (the retransmission and the replay repeat a number).
//!
//! Station-to-station frames cross the air twice (STA → AP with ToDS, then
//! AP → STA with FromDS), each hop encrypted under its own link's PTK, as in
//! a real infrastructure BSS.

use std::collections::HashMap;

use super::frames::{self, DataOpts, DsDir, Radio, Security, Side, TcpConn};
use super::plugs::TcpExchange;
use crate::decoders::Direction;
use crate::decoders::tplink::{discovery, xor};
use crate::decoders::tuya::codec::Version;
use crate::wire::MacAddr;
use crate::wire::Ts;
use crate::wire::llc::ethertype;
use crate::wpa::handshake::{NetworkSecret, Secret};
use crate::wpa::kdf::{self, PtkKdf};
use crate::wpa::keys::{Cipher, Passphrase, Ptk};

/// Which EAPOL-Key messages of each 4-way handshake are on the air.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HandshakeMode {
    /// M1, M2, M3, M4.
    #[default]
    Full,
    /// Only M2 and M3 (M1 and M4 missed by the radio): still enough to derive
    /// and confirm the PTK and to take the GTK from M3.
    M2M3Only,
}

/// One smart plug.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plug {
    pub mac: MacAddr,
    pub ip: [u8; 4],
    pub alias: String,
    pub model: String,
    pub sw_ver: String,
    pub hw_ver: String,
    /// Radio signal as the sniffer sees it.
    pub dbm: i8,
}

/// What a [`VendorPlug`] speaks; the conversations come from the vendor
/// generators ([`super::tuya`], [`super::shelly`], [`super::wemo`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Vendor {
    /// Tuya local protocol on TCP 6668 ([`super::tuya::PlugConversation`]),
    /// discovery on UDP 6667 (3.2–3.4) or 7000 (3.5).
    Tuya {
        version: Version,
        device_id: String,
        /// The 16-character local key (`captures/demo.toml`).
        local_key: String,
        product_key: String,
    },
    /// Shelly Plus Plug S (Gen2): JSON-RPC over `POST /rpc` and over a
    /// WebSocket on `/rpc` ([`super::shelly::gen2_http_between`],
    /// [`super::shelly::gen2_websocket_between`]), announced over mDNS.
    ShellyGen2,
    /// Belkin Wemo Insight: UPnP SOAP on TCP 49153
    /// ([`super::wemo::traffic_between`]), announced over SSDP.
    WemoInsight,
}

/// A plug of another vendor on the demo network, driven by the same phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorPlug {
    pub vendor: Vendor,
    pub mac: MacAddr,
    pub ip: [u8; 4],
    /// DHCP host name (option 12).
    pub hostname: String,
    /// DHCP vendor class (option 60), empty for none.
    pub vendor_class: String,
    pub dbm: i8,
}

/// The demo's Tuya 3.5 plug: device id and local key (`captures/demo.toml`;
/// synthetic, they protect nothing real). The 3.3 plug uses
/// [`super::tuya::DEMO_DEVICE_ID`] and [`super::tuya::DEMO_LOCAL_KEY`].
pub const DEMO_TUYA35_ID: &str = "bf5c2e7a91d04b38f6qzkx";
pub const DEMO_TUYA35_KEY: &str = "f2c8a61e9d4b07e3";

/// Everything that varies between generated captures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    pub ssid: String,
    pub passphrase: String,
    pub security: Security,
    pub channel: u8,
    /// The AP, which is also the router (its LAN MAC is the BSSID).
    pub ap: MacAddr,
    pub router_ip: [u8; 4],
    pub phone: MacAddr,
    pub phone_ip: [u8; 4],
    pub plugs: [Plug; 2],
    /// Plugs of other vendors (Tuya, Shelly, Wemo), which join after the
    /// TP-Link traffic; empty for a TP-Link-only network.
    pub vendors: Vec<VendorPlug>,
    /// The cloud endpoint plug 2 connects to (port 50443).
    pub cloud_ip: [u8; 4],
    pub cloud_name: String,
    /// Seeds nonces, GTKs, TCP ISNs, ports, TLS random.
    pub seed: u64,
    /// Timestamp of the first frame.
    pub start: Ts,
    pub handshake: HandshakeMode,
    /// Append an FCS to every frame (radiotap Flags 0x10).
    pub fcs: bool,
}

/// The demo network's SSID and passphrase (`captures/demo.toml`).
pub const DEMO_SSID: &str = "plugsniff-demo";
pub const DEMO_PASSPHRASE: &str = "correct horse battery";

fn mac(s: &str) -> MacAddr {
    let mut a = [0u8; 6];
    for (i, p) in s.split(':').enumerate().take(6) {
        a[i] = u8::from_str_radix(p, 16).unwrap_or(0);
    }
    MacAddr(a)
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            ssid: DEMO_SSID.into(),
            passphrase: DEMO_PASSPHRASE.into(),
            security: Security::Wpa2Psk,
            channel: 6,
            // TP-Link Archer router (OUI 50:c3:… is TP-Link's too).
            ap: mac("50:c7:bf:0a:11:01"),
            router_ip: [192, 168, 0, 1],
            // A phone with a locally administered (randomised) MAC, as
            // Android and iOS use per network.
            phone: mac("a6:0c:4f:2d:91:7e"),
            phone_ip: [192, 168, 0, 23],
            plugs: [
                Plug {
                    mac: mac("1c:3b:f3:6e:a8:12"),
                    ip: [192, 168, 0, 41],
                    alias: "Coffee maker".into(),
                    model: "HS110(EU)".into(),
                    sw_ver: "1.5.10 Build 191125 Rel.104327".into(),
                    hw_ver: "2.0".into(),
                    dbm: -61,
                },
                Plug {
                    mac: mac("b0:95:75:3c:d4:e9"),
                    ip: [192, 168, 0, 42],
                    alias: "Desk lamp".into(),
                    model: "KP115(EU)".into(),
                    sw_ver: "1.0.16 Build 210205 Rel.163735".into(),
                    hw_ver: "1.0".into(),
                    dbm: -67,
                },
            ],
            vendors: vec![
                VendorPlug {
                    vendor: Vendor::Tuya {
                        version: Version::V33,
                        device_id: super::tuya::DEMO_DEVICE_ID.into(),
                        local_key: super::tuya::DEMO_LOCAL_KEY.into(),
                        product_key: "keyd7uawqjxgxpsc".into(),
                    },
                    // An ESP8266 inside (Espressif OUI), as in many Tuya 3.3 plugs.
                    mac: mac("84:f3:eb:5a:17:3c"),
                    ip: [192, 168, 0, 51],
                    // The ESP8266 Arduino core's default host name.
                    hostname: "ESP_5A173C".into(),
                    vendor_class: String::new(),
                    dbm: -64,
                },
                VendorPlug {
                    vendor: Vendor::Tuya {
                        version: Version::V35,
                        device_id: DEMO_TUYA35_ID.into(),
                        local_key: DEMO_TUYA35_KEY.into(),
                        product_key: "keyp8xmp9a5h3kmg".into(),
                    },
                    // Tuya Smart's own OUI (a Beken BK7231N module).
                    mac: mac("10:5a:17:8e:42:b5"),
                    ip: [192, 168, 0, 52],
                    hostname: "SmartPlug-8E42B5".into(),
                    vendor_class: String::new(),
                    dbm: -69,
                },
                VendorPlug {
                    vendor: Vendor::ShellyGen2,
                    // The MAC in the Shelly generator's device id (Espressif OUI).
                    mac: mac("e8:6b:ea:e8:c2:a4"),
                    ip: [192, 168, 0, 53],
                    hostname: super::shelly::GEN2_ID.into(),
                    vendor_class: String::new(),
                    dbm: -58,
                },
                VendorPlug {
                    vendor: Vendor::WemoInsight,
                    // The MAC in the Wemo generator's setup.xml (Belkin OUI).
                    mac: mac("94:10:3e:48:c8:d4"),
                    ip: [192, 168, 0, 54],
                    hostname: "wemo".into(),
                    vendor_class: "udhcp 1.19.4".into(),
                    dbm: -71,
                },
            ],
            cloud_ip: [52, 57, 118, 9],
            cloud_name: "n-devs.tplinkcloud.com".into(),
            seed: 0x706c_7567_736e_6966,              // "plugsnif"
            start: Ts::from_micros(1_714_557_600, 0), // 2024-05-01 10:00:00 UTC
            handshake: HandshakeMode::Full,
            fcs: false,
        }
    }
}

impl Scenario {
    /// Every station: the phone, the TP-Link plugs, the other vendors' plugs.
    pub fn stations(&self) -> Vec<MacAddr> {
        let mut v = vec![self.phone];
        v.extend(self.plugs.iter().map(|p| p.mac));
        v.extend(self.vendors.iter().map(|p| p.mac));
        v
    }

    /// The network secret a decryptor needs for this scenario.
    pub fn secret(&self) -> NetworkSecret {
        self.secret_with(&self.passphrase)
    }

    /// The same network with another passphrase (e.g. a wrong one).
    pub fn secret_with(&self, passphrase: &str) -> NetworkSecret {
        NetworkSecret {
            ssid: Some(self.ssid.as_bytes().to_vec()),
            secret: Secret::Passphrase(Passphrase::new(passphrase.to_string())),
        }
    }
}

/// What [`build`] put on the air, for tests to check a decryptor against.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    /// Frames in the capture.
    pub frames: usize,
    /// CCMP-protected frames (including the retransmission and the replay).
    pub protected: usize,
    /// Of those, sent to a group address under a GTK.
    pub group: usize,
    /// Protected copies with the Retry bit and an already-seen PN.
    pub retransmitted: usize,
    /// Protected copies without the Retry bit and an already-seen PN.
    pub replayed: usize,
    /// EAPOL-Key frames, in plaintext and inside CCMP.
    pub eapol: usize,
    /// Data frames carrying TCP or UDP port 9999 (each hop counted).
    pub port_9999: usize,
    /// A-MSDU frames (each holding two MSDUs).
    pub amsdu: usize,
}

/// Frames plus their manifest.
#[derive(Debug, Clone, Default)]
pub struct Capture {
    pub frames: Vec<(Ts, Vec<u8>)>,
    pub manifest: Manifest,
}

/// The demo capture's frames (radiotap + 802.11).
pub fn demo(sc: &Scenario) -> Vec<(Ts, Vec<u8>)> {
    build(sc).frames
}

/// The demo with only M2 and M3 of every 4-way handshake.
pub fn m2_m3_only(sc: &Scenario) -> Vec<(Ts, Vec<u8>)> {
    let sc = Scenario {
        handshake: HandshakeMode::M2M3Only,
        ..sc.clone()
    };
    demo(&sc)
}

/// A network secret for `sc`'s SSID whose passphrase is not `sc`'s: a
/// decryptor given it must report a MIC mismatch and decrypt nothing.
pub fn wrong_passphrase(sc: &Scenario) -> NetworkSecret {
    sc.secret_with(&format!("{} (wrong)", sc.passphrase))
}

/// The frames as a capture file (radiotap, LINKTYPE 127), byte for byte what
/// `plugsniff synth demo -o FILE` writes (`.pcapng` → pcapng, else pcap).
pub fn capture_bytes(format: crate::output::pcap_out::Format, frames: &[(Ts, Vec<u8>)]) -> Vec<u8> {
    crate::output::pcap_out::encode(
        format,
        crate::output::pcap_out::LINKTYPE_IEEE802_11_RADIOTAP,
        frames,
    )
}

/// The frames as a classic pcap file.
pub fn pcap_bytes(frames: &[(Ts, Vec<u8>)]) -> Vec<u8> {
    capture_bytes(crate::output::pcap_out::Format::Pcap, frames)
}

/// splitmix64: small, seedable, and stable across Rust versions (which
/// `rand`'s generators do not promise).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn fill(&mut self, out: &mut [u8]) {
        for c in out.chunks_mut(8) {
            let b = self.next_u64().to_le_bytes();
            c.copy_from_slice(&b[..c.len()]);
        }
    }
    pub fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut a = [0u8; N];
        self.fill(&mut a);
        a
    }
    /// Uniform-enough in `lo..hi` for jitter and port numbers.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo).max(1)
    }
}

const BEACON_INTERVAL_US: u64 = 102_400;
/// TID for EAPOL (Linux sends EAPOL at priority 7) and for ordinary data.
const TID_EAPOL: u8 = 7;
const TID_DATA: u8 = 0;

/// The radio and the keys as the scenario unfolds.
struct Air<'a> {
    sc: &'a Scenario,
    rng: Rng,
    /// Microseconds since the Unix epoch.
    t: u64,
    t0: u64,
    next_beacon: u64,
    out: Vec<(Ts, Vec<u8>)>,
    m: Manifest,
    /// Next sequence number per transmitter: management frames and
    /// group-addressed data.
    seq: HashMap<MacAddr, u16>,
    /// Next sequence number per (transmitter, receiver, TID): unicast QoS data.
    qos_seq: HashMap<(MacAddr, MacAddr, u8), u16>,
    /// Next PN per (transmitter, receiver) pairwise key, or (AP, broadcast) for the GTK.
    pn: HashMap<(MacAddr, MacAddr), u64>,
    ptk: HashMap<MacAddr, Ptk>,
    gtk: (u8, [u8; 16]),
    replay_ctr: HashMap<MacAddr, u64>,
    /// Index in `out` of frames kept for the retransmission and replay.
    marks: Vec<usize>,
    /// Indices of frames that carry TCP/UDP port 9999.
    marks_9999: Vec<usize>,
}

impl<'a> Air<'a> {
    fn new(sc: &'a Scenario) -> Self {
        let mut rng = Rng::new(sc.seed);
        let gtk = (1, rng.bytes::<16>());
        let t = sc.start.sec as u64 * 1_000_000 + u64::from(sc.start.usec());
        Air {
            sc,
            rng,
            t,
            t0: t,
            next_beacon: t,
            out: Vec::new(),
            m: Manifest::default(),
            seq: HashMap::new(),
            qos_seq: HashMap::new(),
            pn: HashMap::new(),
            ptk: HashMap::new(),
            gtk,
            replay_ctr: HashMap::new(),
            marks: Vec::new(),
            marks_9999: Vec::new(),
        }
    }

    fn ts(&self) -> Ts {
        Ts::from_micros((self.t / 1_000_000) as i64, (self.t % 1_000_000) as u32)
    }

    fn dbm(&self, tx: MacAddr) -> i8 {
        if tx == self.sc.ap {
            -42
        } else if tx == self.sc.phone {
            -55
        } else {
            let sc = self.sc;
            sc.plugs
                .iter()
                .find(|p| p.mac == tx)
                .map(|p| p.dbm)
                .or_else(|| sc.vendors.iter().find(|p| p.mac == tx).map(|p| p.dbm))
                .unwrap_or(-70)
        }
    }

    /// Puts one 802.11 frame on the air at the current time, then advances
    /// the clock by its airtime plus SIFS/ACK.
    /// Counts `llc` in the manifest if it carries port 9999 (frame `i`).
    fn note(&mut self, i: usize, llc: &[u8]) {
        if ports_of_llc(llc).is_some_and(|(s, d)| s == 9999 || d == 9999) {
            self.m.port_9999 += 1;
            self.marks_9999.push(i);
        }
    }

    fn emit(&mut self, tx: MacAddr, rate: u8, dot11: Vec<u8>) -> usize {
        let r = Radio {
            freq: 2407 + 5 * u16::from(self.sc.channel),
            rate,
            dbm: self.dbm(tx),
            fcs: self.sc.fcs,
        };
        let i = self.out.len();
        self.out
            .push((self.ts(), frames::with_radiotap(&r, &dot11)));
        self.t += 60 + dot11.len() as u64 * 16 / u64::from(rate.max(1));
        i
    }

    /// Lets `us` microseconds pass, with the beacons due in that time.
    fn wait(&mut self, us: u64) {
        let target = self.t + us;
        while self.next_beacon <= target {
            self.t = self.t.max(self.next_beacon);
            let seq = self.next_seq(self.sc.ap);
            let tsf = self.t - self.t0 + 7_310_114;
            let b = frames::beacon(
                self.sc.ap,
                seq,
                tsf,
                self.sc.ssid.as_bytes(),
                self.sc.channel,
                self.sc.security,
            );
            self.emit(self.sc.ap, 2, b);
            self.next_beacon += BEACON_INTERVAL_US;
        }
        self.t = self.t.max(target);
    }

    /// A short, jittered gap (`lo..hi` µs).
    fn pause(&mut self, lo: u64, hi: u64) {
        let us = self.rng.range(lo, hi);
        self.wait(us);
    }

    fn next_seq(&mut self, tx: MacAddr) -> u16 {
        let s = self.seq.entry(tx).or_insert(0);
        let v = *s;
        *s = (*s + 1) & 0x0fff;
        v
    }

    /// The sequence number of a QoS Data frame to an individual address:
    /// one counter per ⟨receiver, TID⟩ (IEEE 802.11-2020 10.3.2.14), as
    /// Linux mac80211 keeps per station and TID. Numbering every frame of
    /// a transmitter from one counter would leave gaps in each receiver's
    /// share, which the health tracker reads as missed frames.
    fn next_qos_seq(&mut self, tx: MacAddr, rx: MacAddr, tid: u8) -> u16 {
        let s = self.qos_seq.entry((tx, rx, tid)).or_insert(0);
        let v = *s;
        *s = (*s + 1) & 0x0fff;
        v
    }

    fn next_pn(&mut self, tx: MacAddr, rx: MacAddr) -> u64 {
        let p = self.pn.entry((tx, rx)).or_insert(1);
        let v = *p;
        *p += 1;
        v
    }

    /// Whether `m` is one of the BSS's stations.
    fn is_sta(&self, m: MacAddr) -> bool {
        m == self.sc.phone
            || self.sc.plugs.iter().any(|p| p.mac == m)
            || self.sc.vendors.iter().any(|p| p.mac == m)
    }

    /// One data frame over one hop: `sta` ↔ AP, `peer` being the DA (ToDS)
    /// or SA (FromDS). Encrypted under the station's PTK once it has one.
    fn hop(&mut self, dir: DsDir, sta: MacAddr, peer: MacAddr, llc: &[u8], tid: u8) -> usize {
        let ap = self.sc.ap;
        let (tx, rx, a1, a2, a3) = match dir {
            DsDir::ToDs => (sta, ap, ap, sta, peer),
            DsDir::FromDs => (ap, sta, sta, ap, peer),
        };
        let seq = self.next_qos_seq(tx, rx, tid);
        let tk = self.ptk.get(&sta).map(|p| *p.tk.key16());
        let opts = DataOpts {
            tid,
            ..DataOpts::default()
        };
        let h = frames::data_header(dir, a1, a2, a3, seq, opts);
        let f = match tk {
            Some(tk) => {
                let pn = self.next_pn(tx, rx);
                self.m.protected += 1;
                frames::protect(&tk, &h, pn, 0, llc)
            }
            None => [h, llc.to_vec()].concat(),
        };
        let i = self.emit(tx, 108, f);
        self.note(i, llc);
        i
    }

    /// One A-MSDU from the AP to `sta` (A-MSDU Present set, A3 = BSSID),
    /// under the station's PTK: `msdus` are (DA, SA, LLC-framed MSDU).
    fn amsdu_down(&mut self, sta: MacAddr, msdus: &[(MacAddr, MacAddr, &[u8])]) -> usize {
        let ap = self.sc.ap;
        let seq = self.next_qos_seq(ap, sta, TID_DATA);
        let opts = DataOpts {
            tid: TID_DATA,
            amsdu: true,
            ..DataOpts::default()
        };
        let h = frames::data_header(DsDir::FromDs, sta, ap, ap, seq, opts);
        let body = frames::amsdu(msdus);
        let tk = self.ptk.get(&sta).map(|p| *p.tk.key16());
        let f = match tk {
            Some(tk) => {
                let pn = self.next_pn(ap, sta);
                self.m.protected += 1;
                frames::protect(&tk, &h, pn, 0, &body)
            }
            None => [h, body].concat(),
        };
        self.m.amsdu += 1;
        self.emit(ap, 108, f)
    }

    /// The AP's copy of a group-addressed MSDU from `sa` to `da` (broadcast
    /// or multicast), under the GTK.
    fn group_down(&mut self, da: MacAddr, sa: MacAddr, llc: &[u8]) -> usize {
        let ap = self.sc.ap;
        let seq = self.next_seq(ap);
        let h = frames::data_header(DsDir::FromDs, da, ap, sa, seq, DataOpts::default());
        let pn = self.next_pn(ap, MacAddr::BROADCAST);
        let (key_id, gtk) = self.gtk;
        self.m.protected += 1;
        self.m.group += 1;
        let f = frames::protect(&gtk, &h, pn, key_id, llc);
        // Group frames go out at a basic rate.
        let i = self.emit(ap, 12, f);
        self.note(i, llc);
        i
    }

    /// Sends an Ethernet-style MSDU from `src` to `dst` across the BSS: one
    /// hop to or from the AP/router, two between stations, and for a group
    /// DA the station's ToDS frame plus the AP's GTK copy. Returns the index
    /// of the last frame emitted.
    fn send(&mut self, src: MacAddr, dst: MacAddr, etype: u16, payload: &[u8]) -> usize {
        let llc = frames::llc_snap(etype, payload);
        if dst.is_group() {
            if self.is_sta(src) {
                self.hop(DsDir::ToDs, src, dst, &llc, TID_DATA);
                self.pause(150, 400);
            }
            self.group_down(dst, src, &llc)
        } else if self.is_sta(src) && self.is_sta(dst) {
            self.hop(DsDir::ToDs, src, dst, &llc, TID_DATA);
            self.pause(120, 350);
            self.hop(DsDir::FromDs, dst, src, &llc, TID_DATA)
        } else if self.is_sta(src) {
            self.hop(DsDir::ToDs, src, dst, &llc, TID_DATA)
        } else {
            self.hop(DsDir::FromDs, dst, src, &llc, TID_DATA)
        }
    }

    /// Re-emits frame `i` now, with the Retry bit (a retransmission) or
    /// without (a replay). The Retry bit is masked out of the CCMP AAD, so
    /// the copy's MIC still verifies.
    fn repeat(&mut self, i: usize, retry: bool) {
        let (_, raw) = &self.out[i];
        let rt = frames::RADIOTAP_LEN;
        let end = raw.len() - if self.sc.fcs { 4 } else { 0 };
        let mut d = raw[rt..end].to_vec();
        if retry {
            d[1] |= crate::wire::dot11::fc::RETRY;
            self.m.retransmitted += 1;
        } else {
            self.m.replayed += 1;
        }
        self.m.protected += 1;
        let tx = MacAddr::from_slice(&d[10..16]);
        // The plaintext is not at hand here; the port is looked up where the
        // original was sent.
        if self.marks_9999.contains(&i) {
            self.m.port_9999 += 1;
        }
        self.emit(tx, 108, d);
    }

    /// One TCP connection between the phone (client, `ex.client`'s port) and
    /// `plug` (`ex.server`'s port): the three-way handshake, every segment
    /// of `ex` in order (a payload longer than one MSS cut into full-sized
    /// segments), the phone's ACK of the last answer, and the close.
    fn tcp_session(&mut self, plug: (MacAddr, [u8; 4]), ex: &TcpExchange) {
        const MSS: usize = 1_460;
        let sc = self.sc;
        let phone = sc.phone;
        let (ci, si) = (self.rng.next_u64() as u32, self.rng.next_u64() as u32);
        let mut c = TcpConn::new(
            (sc.phone_ip, ex.client.port()),
            (plug.1, ex.server.port()),
            ci,
            si,
        );
        let seg = c.syn();
        self.send(phone, plug.0, ethertype::IPV4, &seg);
        self.pause(2_000, 6_000);
        let seg = c.syn_ack();
        self.send(plug.0, phone, ethertype::IPV4, &seg);
        self.pause(1_000, 3_000);
        let seg = c.ack(Side::Client);
        self.send(phone, plug.0, ethertype::IPV4, &seg);
        let mut last = Direction::ToServer;
        for (dir, payload) in &ex.segments {
            // A new turn: the device (or the app) takes its time to answer.
            if *dir != last {
                self.pause(8_000, 30_000);
            } else {
                self.pause(500, 2_000);
            }
            for chunk in payload.chunks(MSS) {
                match dir {
                    Direction::ToServer => {
                        let seg = c.data(Side::Client, chunk);
                        self.send(phone, plug.0, ethertype::IPV4, &seg);
                    }
                    Direction::ToClient => {
                        let seg = c.data(Side::Server, chunk);
                        self.send(plug.0, phone, ethertype::IPV4, &seg);
                    }
                }
            }
            last = *dir;
        }
        self.pause(1_000, 4_000);
        if last == Direction::ToClient {
            let seg = c.ack(Side::Client);
            self.send(phone, plug.0, ethertype::IPV4, &seg);
            self.pause(20_000, 60_000);
        }
        let seg = c.fin(Side::Client);
        self.send(phone, plug.0, ethertype::IPV4, &seg);
        self.pause(2_000, 6_000);
        let seg = c.fin(Side::Server);
        self.send(plug.0, phone, ethertype::IPV4, &seg);
        self.pause(1_000, 3_000);
        let seg = c.ack(Side::Client);
        self.send(phone, plug.0, ethertype::IPV4, &seg);
    }

    /// A UDP datagram from `src` (MAC, IP, port) to a broadcast or
    /// multicast group (`dst_mac` the group's MAC).
    fn udp_to_group(
        &mut self,
        src: (MacAddr, [u8; 4], u16),
        dst_mac: MacAddr,
        dst: ([u8; 4], u16),
        payload: &[u8],
    ) {
        let pkt = frames::ipv4_udp(src.1, dst.0, 64, src.2, dst.1, payload);
        self.send(src.0, dst_mac, ethertype::IPV4, &pkt);
    }

    /// A vendor plug's first minute on the network: it joins (4-way
    /// handshake), asks DHCP for its address (host name and vendor class
    /// for the inventory), announces itself the way its vendor does (Tuya
    /// UDP broadcast, Shelly mDNS, Wemo SSDP), and the phone drives it.
    fn vendor_plug(&mut self, v: &VendorPlug, pmk: &crate::wpa::keys::Pmk) {
        use super::{dhcp, mdns, shelly, ssdp, tuya, wemo};
        let sc = self.sc;
        self.connect(v.mac, pmk, false);
        self.pause(30_000, 80_000);
        // DHCPREQUEST for the address it had (RFC 2131 §3.2, INIT-REBOOT).
        let xid = self.rng.next_u64() as u32;
        let params: &[u8] = if v.vendor_class.starts_with("udhcp") {
            dhcp::UDHCPC_PARAMS
        } else {
            // lwIP (ESP8266/ESP32 SDKs): subnet, router, broadcast, DNS.
            &[1, 3, 28, 6]
        };
        let req = dhcp::request(
            3,
            xid,
            v.mac,
            &v.hostname,
            &v.vendor_class,
            params,
            Some(v.ip),
        );
        self.udp_to_group(
            (v.mac, [0; 4], 68),
            MacAddr::BROADCAST,
            ([255; 4], 67),
            &req,
        );
        self.pause(100_000, 250_000);
        let phone_port = |rng: &mut Rng| rng.range(40_000, 60_000) as u16;
        let sa = |ip: [u8; 4], port: u16| std::net::SocketAddr::from((ip, port));
        match &v.vendor {
            Vendor::Tuya {
                version,
                device_id,
                local_key,
                product_key,
            } => {
                let (port, d) = tuya::discovery_broadcast(*version, v.ip, device_id, product_key);
                let sport = self.rng.range(49_152, 65_000) as u16;
                self.udp_to_group(
                    (v.mac, v.ip, sport),
                    MacAddr::BROADCAST,
                    ([255; 4], port),
                    &d,
                );
                self.pause(200_000, 400_000);
                let Some(key) =
                    crate::decoders::tuya::crypto::TuyaKey::from_local_key_str(local_key)
                else {
                    return;
                };
                let mut conv = tuya::PlugConversation::demo(*version);
                conv.local_key = key;
                conv.device_id.clone_from(device_id);
                let ex = TcpExchange {
                    client: sa(sc.phone_ip, phone_port(&mut self.rng)),
                    server: sa(v.ip, 6668),
                    segments: conv
                        .frames()
                        .into_iter()
                        .map(|f| (f.dir, f.bytes))
                        .collect(),
                };
                self.tcp_session((v.mac, v.ip), &ex);
            }
            Vendor::ShellyGen2 => {
                let svc = mdns::Service {
                    instance: shelly::GEN2_ID,
                    service: "_shelly._tcp",
                    host: shelly::GEN2_ID,
                    port: 80,
                    txt: &[("gen", "2"), ("app", "PlusPlugS"), ("ver", "1.0.8")],
                    ipv4: v.ip,
                };
                let a = mdns::announcement(&[svc], false);
                let group = MacAddr([0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb]);
                self.udp_to_group((v.mac, v.ip, 5353), group, ([224, 0, 0, 251], 5353), &a);
                self.pause(200_000, 400_000);
                let ex =
                    shelly::gen2_http_between(sa(sc.phone_ip, phone_port(&mut self.rng)), v.ip);
                self.tcp_session((v.mac, v.ip), &ex);
                self.pause(150_000, 300_000);
                let ex = shelly::gen2_websocket_between(
                    sa(sc.phone_ip, phone_port(&mut self.rng)),
                    v.ip,
                );
                self.tcp_session((v.mac, v.ip), &ex);
            }
            Vendor::WemoInsight => {
                let n = ssdp::wemo_notify(v.ip, wemo::PORT, "221517K0101769", false);
                let group = MacAddr([0x01, 0x00, 0x5e, 0x7f, 0xff, 0xfa]);
                self.udp_to_group((v.mac, v.ip, 1900), group, ([239, 255, 255, 250], 1900), &n);
                self.pause(200_000, 400_000);
                let ex = wemo::traffic_between(sa(sc.phone_ip, phone_port(&mut self.rng)), v.ip);
                self.tcp_session((v.mac, v.ip), &ex);
            }
        }
    }

    fn eapol(&mut self, dir: DsDir, sta: MacAddr, frame: Vec<u8>) {
        let ap = self.sc.ap;
        let llc = frames::llc_snap(ethertype::EAPOL, &frame);
        self.m.eapol += 1;
        self.hop(dir, sta, ap, &llc, TID_EAPOL);
    }

    fn connect(&mut self, sta: MacAddr, pmk: &crate::wpa::keys::Pmk, probe: bool) {
        let sc = self.sc;
        let ap = sc.ap;
        let ssid = sc.ssid.as_bytes();
        if probe {
            let s = self.next_seq(ap);
            let tsf = self.t - self.t0 + 7_310_114;
            let f = frames::probe_resp(ap, sta, s, tsf, ssid, sc.channel, sc.security);
            self.emit(ap, 2, f);
            self.pause(2_000, 6_000);
        }
        let s = self.next_seq(sta);
        self.emit(sta, 2, frames::auth(ap, sta, ap, s, 1));
        self.pause(300, 900);
        let s = self.next_seq(ap);
        self.emit(ap, 2, frames::auth(sta, ap, ap, s, 2));
        self.pause(1_000, 3_000);
        let s = self.next_seq(sta);
        self.emit(sta, 2, frames::assoc_req(ap, sta, s, ssid, sc.security));
        self.pause(500, 1_500);
        let s = self.next_seq(ap);
        let aid = 1 + self.ptk.len() as u16;
        self.emit(ap, 2, frames::assoc_resp(ap, sta, s, aid));
        self.pause(3_000, 8_000);

        let anonce = self.rng.bytes::<32>();
        let snonce = self.rng.bytes::<32>();
        let kdf = PtkKdf::for_akm(sc.security.akm()).unwrap_or(PtkKdf::Sha1Prf);
        let ptk = kdf::derive_ptk(pmk, kdf, &ap, &sta, &anonce, &snonce, Cipher::Ccmp);
        let r = self.replay_ctr.entry(sta).or_insert(0);
        *r += 1;
        let r1 = *r;
        *r += 1;
        let r3 = *r;
        let sec = sc.security;
        let full = sc.handshake == HandshakeMode::Full;
        let gtk = self.gtk;
        let rsc = *self.pn.get(&(ap, MacAddr::BROADCAST)).unwrap_or(&1) - 1;
        if full {
            self.eapol(DsDir::FromDs, sta, frames::m1(sec, r1, anonce));
        }
        self.pause(2_000, 9_000);
        self.eapol(DsDir::ToDs, sta, frames::m2(sec, &ptk, r1, snonce));
        self.pause(1_000, 4_000);
        self.eapol(
            DsDir::FromDs,
            sta,
            frames::m3(sec, &ptk, r3, anonce, (gtk.0, &gtk.1), rsc),
        );
        self.pause(1_000, 5_000);
        if full {
            self.eapol(DsDir::ToDs, sta, frames::m4(sec, &ptk, r3));
        }
        self.ptk.insert(sta, ptk);
        self.pause(20_000, 60_000);
    }

    /// Group-key rekey: a new GTK with the other key ID, G1/G2 to every
    /// station inside CCMP.
    fn rekey(&mut self) {
        let sc = self.sc;
        let ap = sc.ap;
        let new_id = if self.gtk.0 == 1 { 2 } else { 1 };
        let new = (new_id, self.rng.bytes::<16>());
        for sta in sc.stations() {
            let Some(ptk) = self.ptk.get(&sta).cloned() else {
                continue;
            };
            let r = self.replay_ctr.entry(sta).or_insert(0);
            *r += 1;
            let r = *r;
            let rsc = *self.pn.get(&(ap, MacAddr::BROADCAST)).unwrap_or(&1) - 1;
            let g1 = frames::g1(sc.security, &ptk, r, (new.0, &new.1), rsc);
            self.eapol(DsDir::FromDs, sta, g1);
            self.pause(1_500, 6_000);
            let g2 = frames::g2(sc.security, &ptk, r);
            self.eapol(DsDir::ToDs, sta, g2);
            self.pause(5_000, 20_000);
        }
        self.gtk = new;
    }
}

/// (source port, destination port) of an IPv4 TCP/UDP packet.
fn ports(ip: &[u8]) -> Option<(u16, u16)> {
    let s = etherparse::SlicedPacket::from_ip(ip).ok()?;
    match s.transport? {
        etherparse::TransportSlice::Tcp(t) => Some((t.source_port(), t.destination_port())),
        etherparse::TransportSlice::Udp(u) => Some((u.source_port(), u.destination_port())),
        _ => None,
    }
}

fn ports_of_llc(llc: &[u8]) -> Option<(u16, u16)> {
    ports(llc.get(8..)?)
}

fn colon_mac(m: MacAddr) -> String {
    m.to_string().to_uppercase()
}

/// A length-prefixed XOR message, as sent on TCP 9999.
fn xor_tcp(json: &str) -> Vec<u8> {
    let mut v = (json.len() as u32).to_be_bytes().to_vec();
    v.extend(xor::encrypt(json.as_bytes()));
    v
}

fn sysinfo(p: &Plug, relay: u8, rssi: i8) -> String {
    let hexid = |seed: u8| -> String {
        p.mac
            .0
            .iter()
            .cycle()
            .take(20)
            .enumerate()
            .map(|(i, b)| format!("{:02X}", b.wrapping_mul(31).wrapping_add(seed + i as u8)))
            .collect()
    };
    let emeter = if p.model.starts_with("HS110") || p.model.starts_with("KP115") {
        "TIM:ENE"
    } else {
        "TIM"
    };
    format!(
        concat!(
            r#"{{"system":{{"get_sysinfo":{{"sw_ver":"{sw}","hw_ver":"{hw}","type":"IOT.SMARTPLUGSWITCH","#,
            r#""model":"{model}","mac":"{mac}","dev_name":"Smart Wi-Fi Plug With Energy Monitoring","#,
            r#""alias":"{alias}","relay_state":{relay},"on_time":{on},"active_mode":"none","feature":"{feat}","#,
            r#""updating":0,"icon_hash":"","rssi":{rssi},"led_off":0,"longitude_i":134053,"latitude_i":525200,"#,
            r#""hwId":"{hw_id}","fwId":"00000000000000000000000000000000","deviceId":"{dev_id}","#,
            r#""oemId":"{oem}","next_action":{{"type":-1}},"err_code":0}}}}}}"#
        ),
        sw = p.sw_ver,
        hw = p.hw_ver,
        model = p.model,
        mac = colon_mac(p.mac),
        alias = p.alias,
        relay = relay,
        on = if relay == 1 { 5_312 } else { 0 },
        feat = emeter,
        rssi = rssi,
        hw_id = &hexid(3)[..32],
        dev_id = hexid(7),
        oem = &hexid(11)[..32],
    )
}

/// Builds the demo capture and its manifest.
pub fn build(sc: &Scenario) -> Capture {
    let mut air = Air::new(sc);
    let pmk = kdf::pmk_from_passphrase(&Passphrase::new(sc.passphrase.clone()), sc.ssid.as_bytes());
    let ap = sc.ap;
    let phone = sc.phone;
    let [p1, p2] = [sc.plugs[0].clone(), sc.plugs[1].clone()];

    // 1–2. Beacons, then the three stations join.
    air.wait(250_000);
    air.connect(p1.mac, &pmk, false);
    air.wait(180_000);
    air.connect(p2.mac, &pmk, false);
    air.wait(400_000);
    air.connect(phone, &pmk, true);
    air.wait(300_000);

    // 3. ARP for plug 1 (broadcast, relayed under the GTK) and the reply.
    let req = frames::arp(1, phone, sc.phone_ip, MacAddr([0; 6]), p1.ip);
    air.send(phone, MacAddr::BROADCAST, ethertype::ARP, &req);
    air.pause(2_000, 5_000);
    let rep = frames::arp(2, p1.mac, p1.ip, phone, sc.phone_ip);
    air.send(p1.mac, phone, ethertype::ARP, &rep);
    air.pause(10_000, 30_000);

    // 4. UDP 9999 discovery: broadcast from the phone, unicast replies.
    let disc_port = air.rng.range(40_000, 60_000) as u16;
    let q = xor::encrypt(br#"{"system":{"get_sysinfo":{}}}"#);
    let pkt = frames::ipv4_udp(sc.phone_ip, [255; 4], 64, disc_port, 9999, &q);
    air.send(phone, MacAddr::BROADCAST, ethertype::IPV4, &pkt);
    for (i, p) in [&p1, &p2].into_iter().enumerate() {
        air.pause(8_000 + 9_000 * i as u64, 15_000 + 9_000 * i as u64);
        let body = xor::encrypt(sysinfo(p, 1, p.dbm).as_bytes());
        let pkt = frames::ipv4_udp(p.ip, sc.phone_ip, 64, 9999, disc_port, &body);
        air.send(p.mac, phone, ethertype::IPV4, &pkt);
    }
    air.pause(50_000, 90_000);

    // 5. TDP on UDP 20002: python-kasa's fixed query, plug 2 answers.
    let tdp_port = air.rng.range(40_000, 60_000) as u16;
    let q = discovery::build(0, 1, 0, 0, &[]);
    let pkt = frames::ipv4_udp(sc.phone_ip, [255; 4], 64, tdp_port, discovery::TDP_PORT, &q);
    air.send(phone, MacAddr::BROADCAST, ethertype::IPV4, &pkt);
    air.pause(10_000, 25_000);
    let owner = "4E6A2D0F9B1C5E3A7D8F0B2C4E6A8D0F";
    let body = format!(
        concat!(
            r#"{{"error_code":0,"result":{{"device_id":"{id}","owner":"{owner}","#,
            r#""device_type":"IOT.SMARTPLUGSWITCH","device_model":"{model}","ip":"{ip}","mac":"{mac}","#,
            r#""is_support_iot_cloud":true,"obd_src":"tplink","factory_default":false,"#,
            r#""mgt_encrypt_schm":{{"is_support_https":false,"encrypt_type":"XOR","http_port":80,"lv":1}}}}}}"#
        ),
        id = "80068F4A1C3B2D5E6F708192A3B4C5D6E7F80910",
        owner = owner,
        model = p2.model,
        ip = std::net::Ipv4Addr::from(p2.ip),
        mac = p2.mac.to_string().to_uppercase().replace(':', "-"),
    );
    let serial = air.rng.next_u64() as u32;
    let r = discovery::build(0, 1, 17, serial, body.as_bytes());
    let pkt = frames::ipv4_udp(p2.ip, sc.phone_ip, 64, discovery::TDP_PORT, tdp_port, &r);
    air.send(p2.mac, phone, ethertype::IPV4, &pkt);
    air.pause(200_000, 300_000);

    // 6. TCP 9999 session phone → plug 1.
    let cport = air.rng.range(40_000, 60_000) as u16;
    let (ci, si) = (air.rng.next_u64() as u32, air.rng.next_u64() as u32);
    let mut c = TcpConn::new((sc.phone_ip, cport), (p1.ip, 9999), ci, si);
    let seg = c.syn();
    air.send(phone, p1.mac, ethertype::IPV4, &seg);
    air.pause(2_000, 6_000);
    let seg = c.syn_ack();
    air.send(p1.mac, phone, ethertype::IPV4, &seg);
    air.pause(1_000, 3_000);
    let seg = c.ack(Side::Client);
    air.send(phone, p1.mac, ethertype::IPV4, &seg);
    air.pause(500, 2_000);

    // Request → response (piggybacked ACK) → client ACK.
    let exchange = |air: &mut Air<'_>, c: &mut TcpConn, req: &str, resp: &str| -> (usize, usize) {
        let seg = c.data(Side::Client, &xor_tcp(req));
        let a = air.send(phone, p1.mac, ethertype::IPV4, &seg);
        air.pause(15_000, 45_000);
        let seg = c.data(Side::Server, &xor_tcp(resp));
        let b = air.send(p1.mac, phone, ethertype::IPV4, &seg);
        air.pause(1_000, 4_000);
        let seg = c.ack(Side::Client);
        air.send(phone, p1.mac, ethertype::IPV4, &seg);
        air.pause(150_000, 400_000);
        (a, b)
    };
    let (_, resp) = exchange(
        &mut air,
        &mut c,
        r#"{"system":{"get_sysinfo":{}}}"#,
        &sysinfo(&p1, 1, p1.dbm),
    );
    air.marks.push(resp);
    // The long sysinfo answer's last hop is retransmitted (Retry bit, same PN).
    // It is repeated below, after the ACK, so the copy stands out in the capture.
    let (set_req, _) = exchange(
        &mut air,
        &mut c,
        r#"{"system":{"set_relay_state":{"state":0}}}"#,
        r#"{"system":{"set_relay_state":{"err_code":0}}}"#,
    );
    air.marks.push(set_req);

    // emeter.get_realtime split over two segments.
    let emeter = xor_tcp(r#"{"emeter":{"get_realtime":{}}}"#);
    let seg = c.data(Side::Client, &emeter[..14]);
    air.send(phone, p1.mac, ethertype::IPV4, &seg);
    air.pause(2_000, 8_000);
    let seg = c.data(Side::Client, &emeter[14..]);
    air.send(phone, p1.mac, ethertype::IPV4, &seg);
    air.pause(20_000, 50_000);
    let seg = c.data(
        Side::Server,
        &xor_tcp(
            r#"{"emeter":{"get_realtime":{"voltage_mv":230123,"current_ma":412,"power_mw":94512,"total_wh":12345,"err_code":0}}}"#,
        ),
    );
    air.send(p1.mac, phone, ethertype::IPV4, &seg);
    air.pause(1_000, 4_000);
    let seg = c.ack(Side::Client);
    air.send(phone, p1.mac, ethertype::IPV4, &seg);
    air.pause(100_000, 300_000);

    // Two messages in one segment; two answers in one segment.
    let mut two = xor_tcp(r#"{"system":{"set_led_off":{"off":1}}}"#);
    two.extend(xor_tcp(r#"{"time":{"get_time":{}}}"#));
    let seg = c.data(Side::Client, &two);
    air.send(phone, p1.mac, ethertype::IPV4, &seg);
    air.pause(20_000, 50_000);
    let mut two = xor_tcp(r#"{"system":{"set_led_off":{"err_code":0}}}"#);
    two.extend(xor_tcp(
        r#"{"time":{"get_time":{"year":2024,"month":5,"mday":1,"hour":12,"min":0,"sec":9,"err_code":0}}}"#,
    ));
    let seg = c.data(Side::Server, &two);
    air.send(p1.mac, phone, ethertype::IPV4, &seg);
    air.pause(1_000, 4_000);
    let seg = c.ack(Side::Client);
    air.send(phone, p1.mac, ethertype::IPV4, &seg);
    air.pause(20_000, 60_000);

    // The retransmission and the replay, both still inside the 64-PN window.
    let (retx, replay) = (air.marks[0], air.marks[1]);
    air.repeat(retx, true);
    air.pause(30_000, 80_000);
    air.repeat(replay, false);
    air.pause(200_000, 400_000);

    // cnCloud.bind: the account credentials in (XOR-obfuscated) clear.
    exchange(
        &mut air,
        &mut c,
        r#"{"cnCloud":{"bind":{"username":"alice@example.com","password":"hunter2-demo"}}}"#,
        r#"{"cnCloud":{"bind":{"err_code":0}}}"#,
    );
    let seg = c.fin(Side::Client);
    air.send(phone, p1.mac, ethertype::IPV4, &seg);
    air.pause(2_000, 6_000);
    let seg = c.fin(Side::Server);
    air.send(p1.mac, phone, ethertype::IPV4, &seg);
    air.pause(1_000, 3_000);
    let seg = c.ack(Side::Client);
    air.send(phone, p1.mac, ethertype::IPV4, &seg);
    air.pause(300_000, 600_000);

    // 7. Plug 2 → cloud: DNS, TCP 50443, TLS ClientHello with SNI.
    let dns_id = air.rng.next_u64() as u16;
    let dport = air.rng.range(1_024, 65_000) as u16;
    let q = frames::dns_query(dns_id, &sc.cloud_name);
    let pkt = frames::ipv4_udp(p2.ip, sc.router_ip, 64, dport, 53, &q);
    air.send(p2.mac, ap, ethertype::IPV4, &pkt);
    air.pause(15_000, 40_000);
    let a = frames::dns_answer(dns_id, &sc.cloud_name, sc.cloud_ip, 60);
    let pkt = frames::ipv4_udp(sc.router_ip, p2.ip, 64, 53, dport, &a);
    air.send(ap, p2.mac, ethertype::IPV4, &pkt);
    air.pause(3_000, 8_000);
    let cport = air.rng.range(49_152, 65_000) as u16;
    let (ci, si) = (air.rng.next_u64() as u32, air.rng.next_u64() as u32);
    let mut t = TcpConn::new((p2.ip, cport), (sc.cloud_ip, 50443), ci, si);
    t.client_window = 5_840;
    t.server_window = 26_883;
    t.server_ttl = 47;
    let seg = t.syn();
    air.send(p2.mac, ap, ethertype::IPV4, &seg);
    air.pause(28_000, 35_000);
    let seg = t.syn_ack();
    air.send(ap, p2.mac, ethertype::IPV4, &seg);
    air.pause(1_000, 3_000);
    let seg = t.ack(Side::Client);
    air.send(p2.mac, ap, ethertype::IPV4, &seg);
    air.pause(2_000, 6_000);
    let random = air.rng.bytes::<32>();
    let seg = t.data(
        Side::Client,
        &frames::tls_client_hello(random, &sc.cloud_name),
    );
    air.send(p2.mac, ap, ethertype::IPV4, &seg);
    air.pause(28_000, 35_000);
    let seg = t.ack(Side::Server);
    air.send(ap, p2.mac, ethertype::IPV4, &seg);
    air.pause(400_000, 700_000);

    // 8. The other vendors' plugs: join, DHCP, discovery, the phone drives them.
    for v in &sc.vendors {
        air.vendor_plug(v, &pmk);
        air.pause(200_000, 400_000);
    }

    // 9. Group rekey, then a broadcast under the new GTK (key ID 2).
    air.rekey();
    air.pause(50_000, 150_000);
    let req = frames::arp(1, phone, sc.phone_ip, MacAddr([0; 6]), sc.router_ip);
    air.send(phone, MacAddr::BROADCAST, ethertype::ARP, &req);
    air.pause(1_000, 3_000);
    air.pause(1_000, 3_000);
    // The phone also asks for the Kasa app's cloud endpoint; the AP
    // aggregates its ARP reply and the DNS answer into one A-MSDU.
    let dns_id = air.rng.next_u64() as u16;
    let dport = air.rng.range(1_024, 65_000) as u16;
    let q = frames::dns_query(dns_id, "wap.tplinkcloud.com");
    let pkt = frames::ipv4_udp(sc.phone_ip, sc.router_ip, 64, dport, 53, &q);
    air.send(phone, ap, ethertype::IPV4, &pkt);
    air.pause(8_000, 20_000);
    let rep = frames::llc_snap(
        ethertype::ARP,
        &frames::arp(2, ap, sc.router_ip, phone, sc.phone_ip),
    );
    let a = frames::dns_answer(dns_id, "wap.tplinkcloud.com", [3, 120, 58, 77], 60);
    let ans = frames::llc_snap(
        ethertype::IPV4,
        &frames::ipv4_udp(sc.router_ip, sc.phone_ip, 64, 53, dport, &a),
    );
    air.amsdu_down(phone, &[(phone, ap, &rep), (phone, ap, &ans)]);
    air.wait(250_000);

    air.m.frames = air.out.len();
    Capture {
        frames: air.out,
        manifest: air.m,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synth_demo_is_deterministic_and_ordered() {
        let sc = Scenario::default();
        let a = build(&sc);
        let b = build(&sc);
        assert_eq!(a.frames, b.frames);
        assert!(a.frames.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(a.manifest.retransmitted, 1);
        assert_eq!(a.manifest.replayed, 1);
        let other = build(&Scenario {
            seed: 1,
            ..sc.clone()
        });
        assert_ne!(a.frames, other.frames);
    }
}
