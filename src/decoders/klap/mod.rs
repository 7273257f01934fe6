//! KLAP: the HTTP transport of newer Kasa and Tapo devices (TCP 80), and
//! honest labels for what a passive observer cannot decrypt.
//!
//! Layout, after Suricata's per-protocol split:
//! - [`crypto`]: auth hashes (v1, v2), handshake hashes, session keys, the
//!   AES-128-CBC message cipher and its signature.
//! - [`parser`]: what an HTTP request is (handshake1/2, `request?seq=N`, the
//!   AES transport, other HTTP). Stateless.
//! - [`session`]: credentials to try, sessions established by captured
//!   handshakes (shared across TCP connections), request/response pairing,
//!   decryption and the inner JSON (IOT or SMART, via
//!   [`crate::decoders::tplink::smart::parse_any`]).
//!
//! HTTP framing is [`crate::decoders::http`]. The reference for every
//! formula is python-kasa `kasa/transports/klaptransport.py`; see
//! PROTOCOLS.md §5.2.

pub mod crypto;
pub mod parser;
pub mod session;
