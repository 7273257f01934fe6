//! The multi-buffer CCMP kernel on real captures (`../shared/captures`) and the
//! synthetic demo: (1) the engine's batch path gives the same counters, station
//! statistics and output as the per-frame path; (2) every protected frame gives
//! the same verdict and plaintext under every known CCMP key through the kernel
//! as through the `ccm` crate.

mod common;

use common::{Collect, passphrase, pmk, read_all, shared_captures};
use plugsniff::crypto::ccmp;
use plugsniff::crypto::ccmp_mb::{self, Backend, Job, MbKey};
use plugsniff::engine::Engine;
use plugsniff::wire::Ts;
use plugsniff::wire::dot11::Dot11;
use plugsniff::wire::link::{LinkKind, locate_dot11};
use plugsniff::wpa::handshake::NetworkSecret;
use plugsniff::wpa::keys::Cipher;

type Frames = Vec<(Ts, u32, Vec<u8>)>;
/// Builds the keys of a capture (each engine run takes its own).
type Nets = Box<dyn Fn() -> Vec<NetworkSecret>>;

fn per_frame(kind: LinkKind, frames: &Frames, nets: Vec<NetworkSecret>) -> (Engine, Collect) {
    let mut e = Engine::new(nets);
    let mut c = Collect::default();
    for (ts, len, f) in frames {
        e.process(*ts, kind, f, *len, &mut c);
    }
    (e, c)
}

fn batched(
    kind: LinkKind,
    frames: &Frames,
    nets: Vec<NetworkSecret>,
    batch: usize,
) -> (Engine, Collect) {
    let mut e = Engine::new(nets);
    let mut c = Collect::default();
    for chunk in frames.chunks(batch) {
        let b: Vec<(Ts, &[u8], u32)> = chunk.iter().map(|(t, l, f)| (*t, &f[..], *l)).collect();
        e.process_batch(kind, &b, &mut c);
    }
    (e, c)
}

/// Both engine paths agree; then the kernel agrees with `ccm` frame by frame.
fn check(name: &str, kind: LinkKind, frames: &Frames, nets: impl Fn() -> Vec<NetworkSecret>) {
    let (e1, c1) = per_frame(kind, frames, nets());
    assert!(e1.counters.balanced(), "{name}");
    for batch in [1, 7, 64] {
        let (e2, c2) = batched(kind, frames, nets(), batch);
        assert_eq!(e1.counters, e2.counters, "{name}, batch {batch}");
        assert_eq!(e1.stations, e2.stations, "{name}, batch {batch}");
        assert_eq!(c1.ethernet, c2.ethernet, "{name}, batch {batch}");
        assert_eq!(
            c1.decrypted_mpdus, c2.decrypted_mpdus,
            "{name}, batch {batch}"
        );
    }

    // Every protected frame under every CCMP key the run confirmed.
    let tks: Vec<[u8; 16]> = e1
        .keys
        .history()
        .iter()
        .filter(|k| k.tk.cipher == Cipher::Ccmp)
        .map(|k| *k.tk.key16())
        .collect();
    let keys: Vec<MbKey> = tks.iter().map(MbKey::new).collect();
    let mut items: Vec<(Vec<u8>, usize, usize)> = Vec::new(); // (unpadded frame, hdr_len, key)
    for (_, _, raw) in frames {
        let Ok(loc) = locate_dot11(kind, raw) else {
            continue;
        };
        let Some(f) = raw.get(loc.start..loc.end) else {
            continue;
        };
        let Ok(d) = Dot11::new_checked(f, loc.data_pad) else {
            continue;
        };
        if !d.protected() {
            continue;
        }
        let mut u = d.header().to_vec();
        u.extend_from_slice(d.body());
        for k in 0..keys.len() {
            items.push((u.clone(), d.header().len(), k));
        }
    }
    let mut ok = 0;
    for b in Backend::available() {
        let mut outs: Vec<Vec<u8>> = vec![Vec::new(); items.len()];
        let mut jobs: Vec<Job<'_>> = items
            .iter()
            .zip(outs.iter_mut())
            .map(|((f, h, k), out)| Job {
                key: &keys[*k],
                frame: f,
                hdr_len: *h,
                keep: 0,
                out,
            })
            .collect();
        let mut res = vec![Err(ccmp::CcmpError::TooShort); jobs.len()];
        ccmp_mb::decrypt_batch_with(b, &mut jobs, &mut res);
        drop(jobs);
        ok = 0;
        let mut want = Vec::new();
        for (i, (f, h, k)) in items.iter().enumerate() {
            let r = ccmp::decrypt(&tks[*k], f, *h, &mut want);
            assert_eq!(res[i], r, "{name}: {b:?} item {i}");
            assert_eq!(outs[i], want, "{name}: {b:?} item {i}");
            ok += usize::from(r.is_ok());
        }
    }
    eprintln!("{name}: {} frame×key pairs, {ok} verified", items.len());
}

#[test]
fn synthetic_demo() {
    let sc = plugsniff::synth::scenario::Scenario::default();
    let cap = plugsniff::synth::scenario::build(&sc);
    let frames: Frames = cap
        .frames
        .iter()
        .map(|(t, f)| (*t, f.len() as u32, f.clone()))
        .collect();
    check("synth demo", LinkKind::Radiotap, &frames, || {
        vec![sc.secret()]
    });
}

#[test]
fn real_captures() {
    let Some(dir) = shared_captures() else { return };
    let eap = [
        "a5001e18e0b3f792278825bc3abff72d7021d7c157b600470ef730e2490835d4",
        "79258f6ceeecedd3482b92deaabdb675f09bcb4003ef5074f5ddb10a94ebe00a",
        "23a9ee58c7810546ae3e7509fda9f97435778d689e53a54891c56d02f18ca162",
    ];
    let cases: Vec<(&str, Nets)> = vec![
        (
            "wpa2-psk-linksys.cap",
            Box::new(|| vec![passphrase(Some("linksys"), "dictionary")]),
        ),
        (
            "wpa-psk-linksys.cap",
            Box::new(|| vec![passphrase(Some("linksys"), "dictionary")]),
        ),
        (
            "wpa.cap",
            Box::new(|| vec![passphrase(Some("test"), "biscotte")]),
        ),
        (
            "n-02.cap",
            Box::new(|| vec![passphrase(Some("Neheb"), "bo$$password")]),
        ),
        (
            "wnm-sleep-wpa2-psk.pcapng",
            Box::new(|| vec![passphrase(Some("test-wnm-rsn"), "12345678")]),
        ),
        (
            "wpa-eap-tls.pcap",
            Box::new(move || eap.iter().map(|p| pmk(p)).collect()),
        ),
        (
            "wpa2.eapol.cap",
            Box::new(|| vec![passphrase(Some("Harkonen"), "12345678")]),
        ),
        (
            "testm1m2m3.pcap",
            Box::new(|| vec![passphrase(Some("WLAN-2"), "12345678")]),
        ),
    ];
    for (file, nets) in cases {
        let path = dir.join(file);
        if !path.exists() {
            eprintln!("SKIP: {} not found", path.display());
            continue;
        }
        let (kind, frames) = read_all(&path);
        check(file, kind, &frames, nets);
    }
}
