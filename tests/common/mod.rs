//! Shared helpers for the end-to-end tests.
#![allow(dead_code)]

use std::path::PathBuf;

use plugsniff::capture::FileSource;
use plugsniff::engine::{Engine, Mpdu, Msdu, Sink};
use plugsniff::output::pcap_out::msdu_to_ethernet;
use plugsniff::wpa::handshake::{NetworkSecret, Secret};
use plugsniff::wpa::keys::{Passphrase, Pmk};

/// `../shared/captures`, or `None` (with a message) when absent. Under `CI=true`
/// absence is a failure: CI must exercise the real captures.
pub fn shared_captures() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/captures");
    if p.join("README.md").exists() {
        return Some(p);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "CI=true but {} is missing: the real-capture tests cannot run",
            p.display()
        );
    }
    eprintln!(
        "SKIP: {} not found; real-capture tests skipped",
        p.display()
    );
    None
}

pub fn passphrase(ssid: Option<&str>, p: &str) -> NetworkSecret {
    NetworkSecret {
        ssid: ssid.map(|s| s.as_bytes().to_vec()),
        secret: Secret::Passphrase(Passphrase::new(p.to_string())),
    }
}

pub fn pmk(hex: &str) -> NetworkSecret {
    let mut b = [0u8; 32];
    hex::decode_to_slice(hex, &mut b).unwrap();
    NetworkSecret {
        ssid: None,
        secret: Secret::Pmk(Pmk::new(b)),
    }
}

/// Collects what the engine delivers.
#[derive(Default)]
pub struct Collect {
    /// Decrypted MSDUs as Ethernet frames.
    pub ethernet: Vec<Vec<u8>>,
    /// Decrypted MSDUs' EtherTypes (None when not SNAP).
    pub ethertypes: Vec<Option<u16>>,
    pub decrypted_mpdus: usize,
}

impl Sink for Collect {
    fn mpdu(&mut self, m: &Mpdu<'_>) {
        if m.decrypted {
            self.decrypted_mpdus += 1;
        }
    }
    fn msdu(&mut self, m: &Msdu<'_>) {
        if m.decrypted {
            self.ethernet.push(msdu_to_ethernet(m));
            self.ethertypes
                .push(plugsniff::wire::llc::parse_snap(m.llc).map(|s| s.ethertype));
        }
    }
}

/// Reads every frame of a capture into memory: (timestamp, orig_len, bytes).
pub fn read_all(
    path: &std::path::Path,
) -> (
    plugsniff::wire::link::LinkKind,
    Vec<(plugsniff::wire::Ts, u32, Vec<u8>)>,
) {
    let mut src = FileSource::open(path.to_str().unwrap()).unwrap();
    let kind = src.kind;
    let mut v = Vec::new();
    while let Some(f) = src.next_frame().unwrap() {
        v.push((f.ts, f.orig_len, f.data.to_vec()));
    }
    (kind, v)
}

/// Runs the engine over a capture file.
pub fn run_file(path: &std::path::Path, nets: Vec<NetworkSecret>) -> (Engine, Collect) {
    let (kind, frames) = read_all(path);
    let mut e = Engine::new(nets);
    let mut c = Collect::default();
    for (ts, len, f) in &frames {
        e.process(*ts, kind, f, *len, &mut c);
    }
    assert!(
        e.counters.balanced(),
        "accounting identity broken: {:?}",
        e.counters
    );
    (e, c)
}
