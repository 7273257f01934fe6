//! Hostile input through the whole engine: every real frame mutated, truncated
//! at every length and spliced, with the right keys loaded so the mutations reach
//! the handshake tracker and the decryptors. Nothing may panic, and the frame
//! accounting identity must hold throughout.

mod common;

use common::*;
use plugsniff::capture::link::LinkKind;
use plugsniff::engine::{Engine, NullSink, Ts};

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn hammer(file: &str, nets: Vec<plugsniff::wpa::handshake::NetworkSecret>, rounds: usize) {
    let Some(dir) = shared_captures() else { return };
    let (kind, frames) = read_all(&dir.join(file));
    let mut e = Engine::new(nets);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    // The real capture first, so keys are installed and mutations hit the decryptors.
    for (ts, len, f) in &frames {
        e.process(*ts, kind, f, *len, &mut NullSink);
    }
    for _ in 0..rounds {
        let (ts, _, f) = &frames[rng.below(frames.len())];
        let mut m = f.clone();
        match rng.below(4) {
            0 => {
                for _ in 0..=rng.below(4) {
                    let i = rng.below(m.len());
                    m[i] ^= 1 << rng.below(8);
                }
            }
            1 => m.truncate(rng.below(m.len() + 1)),
            2 => {
                let (_, _, g) = &frames[rng.below(frames.len())];
                let cut = rng.below(m.len());
                m.truncate(cut);
                m.extend_from_slice(&g[rng.below(g.len())..]);
            }
            _ => {
                let i = rng.below(m.len());
                m[i] = [0x00, 0xff, 0x7f, 0x80][rng.below(4)];
                if m.len() > 3 {
                    // Radiotap/802.11 length fields live near the start.
                    let j = rng.below(8.min(m.len()));
                    m[j] = rng.next() as u8;
                }
            }
        }
        let len = m.len() as u32;
        e.process(*ts, kind, &m, len, &mut NullSink);
    }
    assert!(e.counters.balanced(), "{:?}", e.counters);
    // Every truncation of every frame, and plain garbage.
    for (_, _, f) in frames.iter().take(60) {
        for n in 0..f.len() {
            e.process(Ts::default(), kind, &f[..n], n as u32, &mut NullSink);
        }
    }
    for kind in [
        LinkKind::Radiotap,
        LinkKind::Ieee80211,
        LinkKind::Prism,
        LinkKind::Ppi,
    ] {
        for n in 0..300 {
            let g: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            e.process(Ts::default(), kind, &g, n as u32, &mut NullSink);
        }
    }
    assert!(e.counters.balanced(), "{:?}", e.counters);
}

#[test]
fn mutated_ccmp_capture_never_panics() {
    hammer(
        "wpa2-psk-linksys.cap",
        vec![passphrase(Some("linksys"), "dictionary")],
        40_000,
    );
}

#[test]
fn mutated_tkip_capture_never_panics() {
    hammer(
        "wpa-psk-linksys.cap",
        vec![passphrase(Some("linksys"), "dictionary")],
        40_000,
    );
}

#[test]
fn mutated_radiotap_and_prism_captures_never_panic() {
    hammer(
        "wpa-eap-tls.pcap",
        vec![pmk(
            "a5001e18e0b3f792278825bc3abff72d7021d7c157b600470ef730e2490835d4",
        )],
        20_000,
    );
    hammer(
        "wpa.cap",
        vec![passphrase(Some("test"), "biscotte")],
        10_000,
    );
    hammer(
        "n-02.cap",
        vec![passphrase(Some("Neheb"), "bo$$password")],
        20_000,
    );
}
