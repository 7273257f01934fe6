//! Emitters for frames, handshakes and CCMP: the setter side of [`crate::wire`].
//!
//! Feeds the tests, the benches and `captures/`: [`frames`] builds single
//! frames and packets (radiotap, 802.11 management and QoS data, EAPOL-Key
//! with real MICs and wrapped key data, CCMP, LLC/SNAP, IPv4/IPv6, TCP/UDP,
//! ARP, DNS, TLS ClientHello); [`scenario`] strings them into a whole,
//! deterministic capture of a home network with TP-Link plugs
//! (`plugsniff synth demo -o FILE.pcap`); [`shelly`], [`wemo`] and
//! [`meross`] give those vendors' conversations as payload bytes
//! ([`plugs::PlugTraffic`]) for a capture to carry; [`mdns`], [`ssdp`],
//! [`dhcp`], [`ewelink`] and [`matter`] emit discovery and smart-home payloads
//! (UDP datagrams, TCP stream bytes); [`tuya`] emits Tuya plug conversations
//! (3.1–3.5) and discovery datagrams; [`capfile`] writes pcap and pcapng files
//! in every variant the capture reader accepts; [`network`] one protected
//! network of any AKM and cipher (`plugsniff synth network --akm 12 --cipher gcmp256`).
//!
//! Guarantees: no I/O, no clock, no OS randomness. A [`scenario::Scenario`]
//! (its seed included) always gives the same bytes, so a committed capture can
//! be checked against a fresh build.

pub mod capfile;
pub mod dhcp;
pub mod ewelink;
pub mod frames;
pub mod klap;
pub mod matter;
pub mod mdns;
pub mod meross;
pub mod network;
pub mod plugs;
pub mod scenario;
pub mod shelly;
pub mod ssdp;
pub mod tuya;
pub mod wemo;
