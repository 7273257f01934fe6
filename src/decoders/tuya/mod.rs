//! The Tuya local protocol (TCP 6668) and Tuya discovery (UDP 6666, 6667,
//! 7000), versions 3.1 to 3.5, decoded from the air.
//!
//! # Sources
//! Tuya publishes no specification of its LAN protocol. Every fact here comes
//! from tinytuya 1.20 (github.com/jasonacox/tinytuya), read in its installed
//! sources, and is cited where it is used:
//! - `core/header.py`: prefixes, suffixes, header formats, the commands
//!   without a version header;
//! - `core/message_helper.py`: `pack_message`, `unpack_message`,
//!   `parse_header` (framing, CRC32, HMAC-SHA256, GCM, return codes);
//! - `core/crypto_helper.py`: `AESCipher` (ECB with PKCS#7, GCM);
//! - `core/XenonDevice.py`: `_encode_message`, `_decode_payload`,
//!   `_receive` (resynchronisation on the prefix), the
//!   `_negotiate_session_key_*` steps, `payload_dict` (what each version
//!   sends);
//! - `core/command_types.py`: the command numbers;
//! - `core/udp_helper.py`, `scanner.py`: discovery on UDP 6666/6667/7000.
//!
//! The data point meanings ([`dps`]) come from Tuya's developer
//! documentation of the metering socket, tinytuya's README tables and
//! make-all/tuya-local's device files.
//!
//! # Layout
//! - [`frame`]: the 55AA and 6699 formats, a checked view, the streaming
//!   framer (resynchronisation, bounded buffers), the frame builders;
//! - [`crypto`]: ECB, the 3.1 signature, HMAC, GCM, session keys, keys that
//!   zeroize and never print;
//! - [`codec`]: the payload layer of each version, both directions;
//! - [`command`]: command numbers and names;
//! - [`dps`]: data points → the shared summary vocabulary;
//! - [`keys`]: configured local keys and what discovery taught;
//! - [`session`]: one TCP connection ([`crate::decoders::StreamDecoder`]);
//! - [`discovery`]: the UDP datagrams ([`crate::decoders::DatagramFn`]).
//!
//! # Why hand-written
//! The Rust crates for Tuya (`rust-tuyapi` and the like) are clients: they
//! open a socket, send, and expect a well-formed answer. A passive decoder
//! needs what they do not offer: frames cut from reassembled streams with
//! gaps and garbage, both directions, the session key followed from someone
//! else's negotiation, keys tried against integrity checks, bounded memory
//! and no panic on hostile bytes. The cryptography is RustCrypto (`aes`,
//! `aes-gcm`, `hmac`, `sha2`, `md-5`) and `crc32fast`.
//!
//! # Guarantees
//! Never panics on any input; bounded memory per connection (the framers'
//! `2 ×` [`frame::MAX_FRAME_LEN`], [`session::MAX_PENDING`]) and across
//! connections ([`keys::MAX_LEARNED`], [`keys::MAX_CONFIGURED_DEVICES`]);
//! key trials bounded by [`keys::MAX_KEYS_TRIED`] per frame and done once
//! per connection; a wrong key yields a label, never garbage.

pub mod codec;
pub mod command;
pub mod crypto;
pub mod discovery;
pub mod dps;
pub mod frame;
pub mod keys;
pub mod session;

use crate::decoders::{Decoder, Probe, Registration, ServerIs, StreamDecoder, Transport, Verdict};

/// `protocol` of the TCP messages.
pub const PROTOCOL: &str = "tuya";
/// The device's local TCP port (tinytuya `TCPPORT`).
pub const TCP_PORT: u16 = 6668;
/// 3.1 discovery, JSON in clear (`UDPPORT`).
pub const UDP_PORT_PLAIN: u16 = 6666;
/// 3.2–3.4 discovery, ECB (`UDPPORTS`).
pub const UDP_PORT_ENCRYPTED: u16 = 6667;
/// 3.5 discovery and the app's REQ_DEVINFO, GCM (`UDPPORTAPP`).
pub const UDP_PORT_APP: u16 = 7000;

fn starts_with_prefix(p: &[u8]) -> bool {
    p.starts_with(&frame::PREFIX_55AA) || p.starts_with(&frame::PREFIX_6699)
}

/// TCP: port 6668 on either end, or a first payload that starts with a
/// frame prefix (its sender taken as the client: the app speaks first).
/// A segment without payload on another port asks for the next one, so list
/// this registration after the port-only ones.
pub fn probe_tcp(p: &Probe<'_>) -> Verdict {
    match p.by_port(&[TCP_PORT]) {
        Verdict::NoMatch if p.payload.is_empty() => Verdict::NeedData,
        Verdict::NoMatch if starts_with_prefix(p.payload) => Verdict::Match(ServerIs::Dst),
        v => v,
    }
}

/// UDP: 6666 and 6667 by port; 7000 (shared with other software) only
/// with a frame prefix.
pub fn probe_udp(p: &Probe<'_>) -> Verdict {
    match p.by_port(&[UDP_PORT_PLAIN, UDP_PORT_ENCRYPTED]) {
        Verdict::NoMatch if starts_with_prefix(p.payload) => p.by_port(&[UDP_PORT_APP]),
        v => v,
    }
}

fn new_stream(p: &Probe<'_>) -> Box<dyn StreamDecoder> {
    Box::new(session::TuyaStream::new(p.mid_stream))
}

/// The Tuya local protocol on TCP 6668.
pub static TUYA_TCP: Registration = Registration {
    name: PROTOCOL,
    transport: Transport::Tcp,
    ports: &[TCP_PORT],
    probe: probe_tcp,
    decoder: Decoder::Stream(new_stream),
};

/// Tuya discovery on UDP 6666, 6667 and 7000.
pub static TUYA_DISCOVERY: Registration = Registration {
    name: discovery::DISCOVERY_PROTOCOL,
    transport: Transport::Udp,
    ports: &[UDP_PORT_PLAIN, UDP_PORT_ENCRYPTED, UDP_PORT_APP],
    probe: probe_udp,
    decoder: Decoder::Datagram(discovery::on_datagram),
};
