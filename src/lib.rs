//! plugsniff: decrypt your own WPA/WPA2 network from monitor-mode captures and
//! watch what your smart plugs say.
//!
//! # The pipeline in ten lines
//! 1. [`capture`] reads frames from libpcap (files, pipes, live interfaces) and
//!    strips the link header (radiotap, Prism, PPI, plain 802.11), detecting an FCS.
//! 2. [`wire`] gives zero-copy, panic-free views over the bytes: 802.11 MAC header,
//!    LLC/SNAP, EAPOL-Key, CCMP/TKIP headers, RSN elements.
//! 3. [`wpa`] tracks four-way and group-key handshakes per (BSSID, STA), derives
//!    PMK/PTK, checks MICs, unwraps GTKs and keeps every confirmed key in a keystore.
//! 4. [`ccmp`] and [`tkip`] decrypt a frame given a key: pure functions of key + bytes;
//!    [`ccmp_mb`] decrypts a batch of CCMP frames at once (AES-NI / VAES, the
//!    crate's only `unsafe`), which the pipeline's workers use.
//! 5. [`engine`] ties 2–4 together frame by frame: key lookup, replay windows,
//!    per-station counters and one [`engine::DropReason`] for every frame not passed on.
//! 6. [`output`] writes what comes out (decrypted pcap, key export, summaries).
//! 7. [`cli`] is the command line; `main.rs` only calls [`cli::run`].
//!
//! [`synth`] goes the other way: it emits frames, handshakes and whole captures
//! for tests, benches and `captures/`; [`mod@bench`] times decryption on such a
//! stream (`plugsniff bench`).
#![deny(unsafe_code)]

pub mod bench;
pub mod capture;
pub mod ccmp;
pub mod ccmp_mb;
pub mod cli;
pub mod decoders;
pub mod engine;
pub mod flows;
#[doc(hidden)]
pub mod fuzz_targets;
pub mod health;
pub mod output;
pub mod pipeline;
pub mod synth;
pub mod tkip;
pub mod watch;
pub mod wire;
pub mod wpa;

/// The hash map of the per-frame paths (keys, replay windows, stations,
/// flows). Its keys come from the air, so the hasher must be seeded per
/// process (HashDoS); `ahash` is, and is several times cheaper than the
/// standard SipHash on the short keys used here (MAC pairs, serials).
pub type FastMap<K, V> = std::collections::HashMap<K, V, ahash::RandomState>;
