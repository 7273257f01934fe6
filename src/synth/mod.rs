//! Emitters for frames, handshakes and CCMP: the setter side of [`crate::wire`].
//!
//! Feeds the tests, the benches and `captures/`: [`frames`] builds single
//! frames and packets (radiotap, 802.11 management and QoS data, EAPOL-Key
//! with real MICs and wrapped key data, CCMP, LLC/SNAP, IPv4/IPv6, TCP/UDP,
//! ARP, DNS, TLS ClientHello); [`scenario`] strings them into a whole,
//! deterministic capture of a home network with TP-Link plugs
//! (`plugsniff synth demo -o FILE.pcap`).
//!
//! Guarantees: no I/O, no clock, no OS randomness. A [`scenario::Scenario`]
//! (its seed included) always gives the same bytes, so a committed capture can
//! be checked against a fresh build.

pub mod frames;
pub mod klap;
pub mod scenario;
