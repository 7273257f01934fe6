//! Attack and anomaly warnings on crafted frames: what the real captures do
//! not show (key reinstallation, nonce reuse, deauthentication floods,
//! plaintext after the key is in use, mixed plaintext fragments, the fragment
//! cache across a reassociation). Each case checks the frame is refused (or
//! not) and the warning names the frame, and that the benign neighbour (a
//! retransmission, a few deauths, plaintext before any key) raises nothing.

use plugsniff::crypto::ccmp;
use plugsniff::engine::{DropReason, Engine, NullSink};
use plugsniff::synth::frames::{self, DataOpts, DsDir, Security};
use plugsniff::wire::link::LinkKind;
use plugsniff::wire::llc::ethertype;
use plugsniff::wire::{MacAddr, Ts};
use plugsniff::wpa::handshake::{NetworkSecret, Secret};
use plugsniff::wpa::kdf::{self, PtkKdf};
use plugsniff::wpa::keys::{Cipher, Pmk, Ptk};

const AP: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 1]);
const STA: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 2]);
const HOST: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 9]);
const PMK: [u8; 32] = [0x42; 32];
const ANONCE: [u8; 32] = [0xa1; 32];
const SNONCE: [u8; 32] = [0x5e; 32];

struct Run {
    e: Engine,
    t: i64,
}

impl Run {
    fn new() -> Run {
        Run {
            e: Engine::new(vec![NetworkSecret {
                ssid: None,
                secret: Secret::Pmk(Pmk::new(PMK)),
            }]),
            t: 1_000,
        }
    }
    fn feed(&mut self, f: &[u8]) {
        self.t += 1;
        self.e.process(
            Ts::from_micros(self.t, 0),
            LinkKind::Ieee80211,
            f,
            f.len() as u32,
            &mut NullSink,
        );
    }
    fn kinds(&mut self) -> Vec<(&'static str, u64, String)> {
        self.e
            .take_warnings()
            .map(|w| (w.kind, w.frame, w.message))
            .collect()
    }
}

fn ptk() -> Ptk {
    kdf::derive_ptk(
        &Pmk::new(PMK),
        PtkKdf::Sha1Prf,
        &AP,
        &STA,
        &ANONCE,
        &SNONCE,
        Cipher::Ccmp,
    )
}

fn hdr(dir: DsDir, seq: u16, frag: u8, more: bool) -> Vec<u8> {
    let (a1, a2, a3) = match dir {
        DsDir::ToDs => (AP, STA, HOST),
        DsDir::FromDs => (STA, AP, HOST),
    };
    let mut h = frames::data_header(dir, a1, a2, a3, seq, DataOpts::default());
    h[22] = (h[22] & 0xf0) | frag;
    if more {
        h[1] |= 0x04;
    }
    h
}

fn ip(payload: &[u8]) -> Vec<u8> {
    frames::llc_snap(ethertype::IPV4, payload)
}

fn prot(h: &[u8], pn: u64, body: &[u8]) -> Vec<u8> {
    frames::protect(ptk().tk.key16(), h, pn, 0, body)
}

/// A four-way handshake in plaintext, then traffic under the PTK.
fn handshake(r: &mut Run) {
    let sec = Security::Wpa2Psk;
    let p = ptk();
    let eapol = |dir, seq, m: Vec<u8>| {
        [
            hdr(dir, seq, 0, false),
            frames::llc_snap(ethertype::EAPOL, &m),
        ]
        .concat()
    };
    r.feed(&eapol(DsDir::FromDs, 1, frames::m1(sec, 1, ANONCE)));
    r.feed(&eapol(DsDir::ToDs, 1, frames::m2(sec, &p, 1, SNONCE)));
    r.feed(&eapol(
        DsDir::FromDs,
        2,
        frames::m3(sec, &p, 2, ANONCE, (1, &[7; 16]), 0),
    ));
    r.feed(&eapol(DsDir::ToDs, 2, frames::m4(sec, &p, 2)));
    assert_eq!(r.e.keys.pairwise(AP, STA).len(), 1);
}

#[test]
fn krack_pn_reuse_after_retransmitted_m3() {
    let mut r = Run::new();
    handshake(&mut r);
    for pn in 1..=5 {
        r.feed(&prot(
            &hdr(DsDir::ToDs, 10 + pn as u16, 0, false),
            pn,
            &ip(&[pn as u8; 30]),
        ));
    }
    assert_eq!(r.e.counters.decrypted, 5);
    assert!(r.kinds().is_empty());
    // The AP re-sends M3 (the attacker forwards it), protected under the PTK.
    let p = ptk();
    let m3 = frames::m3(Security::Wpa2Psk, &p, 3, ANONCE, (1, &[7; 16]), 0);
    r.feed(&prot(
        &hdr(DsDir::FromDs, 3, 0, false),
        1,
        &frames::llc_snap(ethertype::EAPOL, &m3),
    ));
    let m3_frame = r.e.counters.read;
    // The station reinstalls the key and sends new data from PN 1 again.
    r.feed(&prot(&hdr(DsDir::ToDs, 20, 0, false), 1, &ip(&[0xee; 30])));
    assert_eq!(r.e.counters.dropped(DropReason::Replay), 1);
    let w = r.kinds();
    assert_eq!(w.len(), 1, "{w:#?}");
    assert_eq!((w[0].0, w[0].1), ("key_reinstallation", r.e.counters.read));
    assert!(w[0].2.contains(&format!("frame {m3_frame}")), "{}", w[0].2);
}

#[test]
fn nonce_reuse_versus_replay_and_retransmission() {
    let mut r = Run::new();
    handshake(&mut r);
    let a = prot(&hdr(DsDir::ToDs, 11, 0, false), 7, &ip(&[1; 30]));
    r.feed(&a);
    // A copy without Retry: a replay, nothing to warn about.
    r.feed(&a);
    // A copy with Retry: a MAC retransmission, delivered.
    let mut retry = a.clone();
    retry[1] |= 0x08;
    r.feed(&retry);
    assert_eq!(r.e.counters.retransmitted, 1);
    assert!(r.kinds().is_empty());
    // Other bytes under the same PN, Retry set or not: nonce reuse.
    let mut b = prot(&hdr(DsDir::ToDs, 12, 0, false), 7, &ip(&[2; 30]));
    b[1] |= 0x08;
    r.feed(&b);
    let w = r.kinds();
    assert_eq!(w.len(), 1, "{w:#?}");
    assert_eq!(w[0].0, "nonce_reuse");
    assert!(w[0].2.contains("PN 0x7"), "{}", w[0].2);
    assert_eq!(r.e.counters.dropped(DropReason::Replay), 2);
}

#[test]
fn deauth_flood() {
    let mut r = Run::new();
    let deauth = |seq| {
        let mut f = frames::mgmt_header(12, STA, AP, AP, seq);
        f.extend_from_slice(&7u16.to_le_bytes());
        f
    };
    for seq in 0..9 {
        r.feed(&deauth(seq));
    }
    assert!(r.kinds().is_empty(), "nine is no flood");
    let first = r.e.counters.read - 8;
    r.feed(&deauth(9));
    let w = r.kinds();
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].0, "deauth_flood");
    assert!(
        w[0].2.contains(&format!("from frame {first}")),
        "{}",
        w[0].2
    );
    // Later ones within the rate limit are counted, not listed again.
    for seq in 10..40 {
        r.feed(&deauth(seq));
    }
    assert!(r.kinds().is_empty());
}

#[test]
fn plaintext_data_and_eapol_after_the_key_is_in_use() {
    let mut r = Run::new();
    // Plaintext before any key: an open exchange, nothing to say.
    r.feed(&[hdr(DsDir::ToDs, 1, 0, false), ip(&[0; 20])].concat());
    handshake(&mut r);
    assert!(
        r.kinds().is_empty(),
        "the plaintext handshake itself is fine"
    );
    r.feed(&prot(&hdr(DsDir::ToDs, 5, 0, false), 1, &ip(&[1; 30])));
    r.feed(&[hdr(DsDir::FromDs, 6, 0, false), ip(&[0; 20])].concat());
    let m3 = frames::m3(Security::Wpa2Psk, &ptk(), 3, ANONCE, (1, &[7; 16]), 0);
    r.feed(
        &[
            hdr(DsDir::FromDs, 7, 0, false),
            frames::llc_snap(ethertype::EAPOL, &m3),
        ]
        .concat(),
    );
    let w = r.kinds();
    let kinds: Vec<_> = w.iter().map(|w| w.0).collect();
    assert_eq!(kinds, ["plaintext_data", "plaintext_eapol"], "{w:#?}");
    assert!(w[1].2.starts_with("M3 "), "{}", w[1].2);
    // A reassociation starts the link over: plaintext is fine again.
    let mut assoc = frames::mgmt_header(0, AP, STA, AP, 40);
    assoc.extend_from_slice(&[0x31, 0x04, 10, 0]);
    r.feed(&assoc);
    r.feed(&[hdr(DsDir::ToDs, 8, 0, false), ip(&[0; 20])].concat());
    assert!(r.kinds().is_empty());
}

#[test]
fn plaintext_fragment_inside_a_protected_msdu() {
    let mut r = Run::new();
    handshake(&mut r);
    r.feed(&prot(&hdr(DsDir::ToDs, 30, 0, true), 1, &ip(&[1; 30])));
    // The attacker's plaintext fragment 1.
    r.feed(&[hdr(DsDir::ToDs, 30, 1, false), vec![0x45; 20]].concat());
    assert_eq!(r.e.counters.dropped(DropReason::FragmentMixedPlaintext), 1);
    let w = r.kinds();
    assert_eq!(w.len(), 1, "{w:#?}");
    assert_eq!(w[0].0, "fragment_mixed_plaintext");
    // The genuine protected fragment 1 still completes the MSDU.
    r.feed(&prot(&hdr(DsDir::ToDs, 30, 1, false), 2, &[9; 10]));
    assert_eq!(r.e.counters.decrypted, 2);
    assert!(r.e.counters.balanced());
}

#[test]
fn lone_fragments_and_the_cache_across_a_reassociation() {
    let mut r = Run::new();
    handshake(&mut r);
    r.feed(&prot(&hdr(DsDir::ToDs, 40, 1, false), 5, &[1; 10]));
    assert_eq!(r.e.counters.dropped(DropReason::Fragment), 1);
    let w = r.kinds();
    assert_eq!(w[0].0, "fragment_out_of_order");
    assert!(w[0].2.contains("no first fragment"));
    // Fragment 0, a reassociation, then fragment 1 under the same key: the
    // cache was flushed (FragAttacks cache attack), the fragment is refused.
    r.feed(&prot(&hdr(DsDir::ToDs, 41, 0, true), 6, &ip(&[1; 30])));
    let mut reassoc = frames::mgmt_header(2, AP, STA, AP, 50);
    reassoc.extend_from_slice(&[0x31, 0x04, 10, 0]);
    reassoc.extend_from_slice(&AP.0);
    r.feed(&reassoc);
    r.feed(&prot(&hdr(DsDir::ToDs, 41, 1, false), 7, &[2; 10]));
    assert_eq!(r.e.counters.dropped(DropReason::Fragment), 2);
    let w = r.kinds();
    assert_eq!(w.len(), 1, "{w:#?}");
    assert_eq!(w[0].0, "fragment_cache");
    assert!(w[0].2.contains("(re)association or rekey"), "{}", w[0].2);
}

/// The CCMP helper itself round-trips (guards the test's own frames).
#[test]
fn helper_frames_decrypt() {
    let f = prot(&hdr(DsDir::ToDs, 1, 0, false), 3, &ip(&[5; 8]));
    let mut out = Vec::new();
    assert_eq!(
        ccmp::decrypt(ptk().tk.key16(), &f, 26, &mut out)
            .unwrap()
            .pn,
        3
    );
}
