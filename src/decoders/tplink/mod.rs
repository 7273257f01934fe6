//! TP-Link Kasa "IOT" protocol: the autokey XOR transport on TCP/UDP 9999 and
//! TDP discovery on UDP 20002.
//!
//! Layout, after Suricata's per-protocol split:
//! - [`xor`]: the cipher.
//! - [`parser`]: TCP 9999 length-prefixed framing (streaming, gap-aware) and
//!   UDP 9999 datagrams.
//! - [`message`]: the JSON vocabulary: what a decrypted message asks or says.
//! - [`session`]: per-connection state: both framers, interpretation and
//!   request/response pairing.
//! - [`discovery`]: TDP (UDP 20002) header, CRC and JSON body.
//!
//! Sources: softScheck/tplink-smartplug, python-kasa (`kasa/transports/`,
//! `kasa/discover.py`), Wireshark `packet-tplink-smarthome.c`. TP-Link
//! publishes no specification.

pub mod discovery;
pub mod message;
pub mod parser;
pub mod session;
pub mod smart;
pub mod xor;
