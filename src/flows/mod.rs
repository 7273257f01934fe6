//! Flows: the transport layer above decrypted IP packets.
//!
//! - [`ip`]: link frames (Ethernet, SLL, null, raw IP) and EtherType payloads
//!   down to TCP/UDP, zero-copy, plus ARP.
//! - [`names`]: the bounded [`names::NameTable`]: IP ↔ MAC (ARP, traffic,
//!   DHCP), DHCP host names, DNS names of remote addresses.
//! - [`oui`]: vendor names from MAC prefixes.
//! - [`table`]: [`table::FlowKey`] (a canonical 5-tuple), the bounded
//!   [`table::FlowTable`] with idle expiry, and who initiated each flow.
//! - [`tcp`]: bounded per-direction TCP reassembly that hands decoders
//!   in-order bytes and explicit gaps.
//!
//! Every structure here has a named cap and counts what it drops or evicts.

pub mod ip;
pub mod names;
pub mod oui;
pub mod table;
pub mod tcp;
