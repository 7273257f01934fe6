//! plugsniff: decrypt your own WPA/WPA2 network from monitor-mode captures and
//! watch what your smart plugs say.
//!
//! # The pipeline in ten lines
//! 1. [`capture`] reads frames from pcap/pcapng files and pipes (its own
//!    reader, [`capture::file`]) and live interfaces (through libpcap loaded at
//!    run time, [`capture::libpcap`]).
//! 2. [`wire`] gives zero-copy, panic-free views over the bytes: link headers
//!    (radiotap, Prism, PPI, FCS), 802.11, LLC/SNAP, EAPOL-Key, RSN elements.
//! 3. [`wpa`] tracks four-way and group-key handshakes per (BSSID, STA), derives
//!    PMK/PTK, checks MICs, unwraps GTKs and keeps every confirmed key.
//! 4. [`crypto`] decrypts a frame given a key (CCMP, TKIP; a multi-buffer CCMP
//!    kernel for batches, with the libpcap FFI the crate's only `unsafe`):
//!    pure functions of key + bytes.
//! 5. [`engine`] ties 2–4 together frame by frame: key lookup, replay windows,
//!    defragmentation, and one [`engine::DropReason`] for every frame not passed on.
//! 6. [`flows`] parses IP, tracks flows and reassembles TCP; [`decoders`] turns
//!    their bytes into findings, each plug protocol registered once.
//! 7. [`watch`] runs 5–6 and produces the typed events, inventory and counters
//!    of [`report`]; [`pipeline`] runs it all on every core in capture order.
//! 8. [`output`] alone turns reports into words, JSON and files; [`cli`] is the
//!    command line (`main.rs` only calls [`cli::run`]).
//!
//! [`synth`] goes the other way: it emits frames, handshakes and whole captures
//! for tests, benches and `captures/`; [`cli::bench`] times decryption on such a
//! stream (`plugsniff bench`). `docs/ARCHITECTURE.md` is the map.
#![deny(unsafe_code)]

pub mod capture;
pub mod cli;
pub mod crypto;
pub mod decoders;
pub mod engine;
pub mod flows;
/// Fuzz harnesses: development code, compiled only for `fuzz/` and the tests.
#[cfg(any(fuzzing, feature = "fuzz-harness"))]
#[doc(hidden)]
pub mod fuzz_targets;
pub mod output;
pub mod pipeline;
pub mod report;
pub mod synth;
pub mod watch;
pub mod wire;
pub mod wpa;

/// The hash map of the per-frame paths (keys, replay windows, stations,
/// flows). Its keys come from the air, so the hasher must be seeded per
/// process (HashDoS); `ahash` is, and is several times cheaper than the
/// standard SipHash on the short keys used here (MAC pairs, serials).
pub type FastMap<K, V> = std::collections::HashMap<K, V, ahash::RandomState>;
