//! One function per entry point that takes outside bytes: the single source of
//! truth for the cargo-fuzz targets in `fuzz/fuzz_targets/` and for the stable
//! corpus replay in `tests/fuzz_corpus.rs`.
//!
//! Each function takes arbitrary bytes and must not panic: a panic here is a
//! bug in the code under test (or a violated invariant, checked with
//! `assert!`). Inputs that need structure (a key and a frame, a sequence of
//! segments) carve it out of the bytes with [`Records`], a length-prefixed
//! split that a fuzzer learns quickly and that the seed generator can write.
//!
//! Under `cfg(fuzzing)` the EAPOL-Key MIC and the FCS checks pass for any
//! well-formed frame (`wpa::mic`, `capture::link`), so the fuzzer reaches the
//! code behind them. CCMP cannot be bypassed like that; the whole-stack
//! target instead encrypts records of one kind itself, under the key the
//! watcher installed, so fuzzed plaintext reaches LLC, IP, TCP and the
//! decoders through the 802.11 path too.

use std::sync::OnceLock;

use crate::crypto::{ccmp, tkip};
use crate::decoders::Direction;
use crate::decoders::tls_meta::TlsSession;
use crate::decoders::tplink::discovery::parse_tdp;
use crate::decoders::tplink::message::TplinkMessage;
use crate::decoders::tplink::parser::{FramerEvent, XorFramer, decode_udp, encode_tcp};
use crate::decoders::tplink::session::TplinkSession;
use crate::decoders::tplink::xor;
use crate::flows::ip;
use crate::flows::names::{NameTable, parse_dns_answers};
use crate::flows::tcp::{StreamEvent, TcpFlags, TcpStream};
use crate::synth::frames::{self as sf, DataOpts, Radio};
use crate::watch::{WatchOptions, Watcher};
use crate::wire::Ts;
use crate::wire::dot11::{AmsduIter, Dot11};
use crate::wire::eapol::EapolKey;
use crate::wire::link::{self, LinkKind};
use crate::wire::radiotap::Radiotap;
use crate::wire::{MacAddr, llc, rsn};
use crate::wpa::gtk;
use crate::wpa::handshake::{NetworkSecret, Secret, Tracker};
use crate::wpa::keys::{Passphrase, Pmk};
use crate::wpa::keystore::KeyStore;

/// Most records one input is split into: keeps one execution short.
pub const MAX_RECORDS: usize = 256;

/// Splits fuzz input into records: `tag: u8, len: u16 LE, len bytes`. A
/// length past the end takes what is left. Never panics, never allocates.
#[derive(Debug, Clone)]
pub struct Records<'a> {
    rest: &'a [u8],
    count: usize,
}

impl<'a> Records<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Records {
            rest: data,
            count: 0,
        }
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = (u8, &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        if self.count >= MAX_RECORDS || self.rest.len() < 3 {
            return None;
        }
        self.count += 1;
        let tag = self.rest[0];
        let len = usize::from(u16::from_le_bytes([self.rest[1], self.rest[2]]));
        let body = &self.rest[3..];
        let (rec, rest) = body.split_at(len.min(body.len()));
        self.rest = rest;
        Some((tag, rec))
    }
}

/// Encodes records in the format [`Records`] reads (for seed corpora).
pub fn encode_records<'a>(recs: impl IntoIterator<Item = (u8, &'a [u8])>) -> Vec<u8> {
    let mut v = Vec::new();
    for (tag, b) in recs {
        let len = b.len().min(usize::from(u16::MAX));
        v.push(tag);
        v.extend_from_slice(&(len as u16).to_le_bytes());
        v.extend_from_slice(&b[..len]);
    }
    v
}

/// A fixed key the crypto targets use when the input is too short to name one.
const FUZZ_TK: [u8; 16] = *b"plugsniff-fuzzTK";

fn split_key(data: &[u8]) -> ([u8; 16], &[u8]) {
    match data.split_first_chunk::<16>() {
        Some((k, rest)) => (*k, rest),
        None => (FUZZ_TK, data),
    }
}

/// Radiotap (and Prism, PPI, bare 802.11) link headers: `locate_dot11` for
/// every link type, and every radiotap accessor.
pub fn radiotap(data: &[u8]) {
    if let Ok(rt) = Radiotap::new_checked(data) {
        assert!(rt.len() <= data.len());
        let _ = (rt.as_bytes(), rt.present(), rt.truncated_fields());
        for b in 0..64 {
            let _ = rt.has(b);
        }
        let _ = (rt.tsft(), rt.flags(), rt.fcs_present(), rt.bad_fcs());
        let _ = (rt.data_pad(), rt.rate_500kbps(), rt.channel());
        let _ = (rt.channel_freq(), rt.dbm_signal(), rt.dbm_noise());
        let _ = (rt.antenna(), rt.rx_flags(), rt.mcs(), rt.vht());
        let _ = (rt.he_present(), rt.he());
        for (_, d) in rt.tlvs().take(4096) {
            assert!(d.len() <= data.len());
        }
    }
    for kind in [
        LinkKind::Radiotap,
        LinkKind::Ieee80211,
        LinkKind::Prism,
        LinkKind::Ppi,
    ] {
        if let Ok(l) = link::locate_dot11(kind, data) {
            assert!(l.start <= l.end && l.end <= data.len(), "{l:?}");
            let _ = l.dot11(data);
        }
    }
}

/// The 802.11 MAC header view, A-MSDU subframes, information elements (SSID,
/// RSNE, WPA1) of management bodies and LLC/SNAP of data bodies. The first
/// byte selects radiotap's data-padding flag.
pub fn dot11(data: &[u8]) {
    let Some((&sel, frame)) = data.split_first() else {
        return;
    };
    let Ok(d) = Dot11::new_checked(frame, sel & 1 != 0) else {
        return;
    };
    assert!(d.header_len() <= frame.len() && d.mac_header_len() <= d.header_len());
    let _ = (
        d.bytes(),
        d.header(),
        d.frame_type(),
        d.subtype(),
        d.flags(),
    );
    let _ = (d.to_ds(), d.from_ds(), d.protected(), d.retry());
    let _ = (d.more_frags(), d.is_data(), d.is_mgmt(), d.is_qos());
    let _ = (d.is_null(), d.is_wds(), d.addr1(), d.addr2(), d.addr3());
    let _ = (d.addr4(), d.seq_ctl(), d.qos_ctl(), d.tid(), d.amsdu());
    let _ = (d.bssid(), d.da(), d.sa());
    let body = d.body();
    // Management bodies: fixed fields of beacons/probe responses (12 bytes),
    // association requests (4) and others, then elements. Try every offset.
    for skip in [0, 4, 6, 10, 12] {
        let ies = body.get(skip..).unwrap_or(&[]);
        for (_, b) in rsn::elements(ies).take(1024) {
            let _ = rsn::RsnInfo::parse(b);
        }
        let _ = rsn::ssid_from_elements(ies);
        if let Some(b) = rsn::rsn_element(ies) {
            let _ = rsn::RsnInfo::parse(b);
        }
        if let Some(b) = rsn::wpa_vendor_element(ies) {
            let _ = rsn::RsnInfo::parse_wpa_vendor(b);
        }
    }
    let _ = rsn::RsnInfo::parse(body);
    let _ = rsn::RsnInfo::parse_wpa_vendor(body);
    let _ = llc::parse_snap(body);
    let mut it = AmsduIter::new(body);
    for sf in it.by_ref().take(4096) {
        assert!(sf.msdu.len() <= body.len());
        let _ = llc::parse_snap(sf.msdu);
    }
    let _ = it.malformed;
}

/// EAPOL-Key frames, key data and KDEs, and the handshake tracker.
///
/// Records: tag bit 0 set → the frame goes AP → STA, else STA → AP; tag bit 1
/// → also decrypt its key data with a fixed KEK and walk the KDEs. Under
/// `cfg(fuzzing)` every MIC passes, so fuzzed frames install keys derived from
/// the fixed PMK and reach GTK unwrapping.
pub fn eapol(data: &[u8]) {
    const AP: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 1]);
    const STA: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 2]);
    let mut tracker = Tracker::new(vec![NetworkSecret {
        ssid: None,
        secret: Secret::Pmk(Pmk::new([0x5a; 32])),
    }]);
    let mut keys = KeyStore::new();
    let mut out = Vec::new();
    for (tag, frame) in Records::new(data) {
        // Every MIC length (16, 24 for Suite B 192, 32), and the detection.
        for hint in [None, Some(16), Some(24), Some(32)] {
            if let Ok(Some(k)) = EapolKey::detect(frame, hint) {
                assert!(k.frame().len() <= frame.len());
                let _ = (k.mic(), k.key_data(), k.message(), k.mic_len());
            }
        }
        if let Ok(Some(k)) = EapolKey::new_checked(frame) {
            assert!(k.frame().len() <= frame.len());
            let _ = (k.descriptor_type(), k.key_info(), k.version());
            let _ = (k.key_index(), k.key_len(), k.replay_counter());
            let _ = (k.nonce(), k.key_iv(), k.rsc(), k.mic(), k.message());
            let kd = k.key_data();
            for _ in gtk::kdes(kd).take(1024) {}
            if tag & 2 != 0 {
                let r = gtk::decrypt_key_data(k.version(), &FUZZ_TK, k.key_iv(), kd, &mut out);
                if r.is_ok() {
                    for _ in gtk::kdes(&out).take(1024) {}
                } else {
                    assert!(out.is_empty());
                }
            }
        }
        let (ta, ra) = if tag & 1 != 0 { (AP, STA) } else { (STA, AP) };
        let _ = tracker.on_eapol(&mut keys, ta, ra, frame);
    }
    for (_, s) in tracker.stations() {
        let _ = s.status.describe();
    }
    let _ = keys.history().len();
}

/// CCMP: header parse and decrypt under the key in the first 16 bytes (or a
/// fixed key); byte 17 is the MAC header length. Then encrypt-then-decrypt of
/// the input must round-trip.
pub fn ccmp_decrypt(data: &[u8]) {
    let (tk, rest) = split_key(data);
    let Some((&hl, frame)) = rest.split_first() else {
        return;
    };
    let hdr_len = usize::from(hl % 40);
    let mut out = Vec::new();
    let _ = ccmp::ccmp_header(frame, hdr_len);
    match ccmp::decrypt(&tk, frame, hdr_len, &mut out) {
        Ok(_) => assert!(out.len() <= frame.len()),
        Err(_) => assert!(out.is_empty()),
    }
    // Round trip: the frame's first `hdr_len` bytes as the header, when they
    // hold what its Frame Control announces (A4, QoS Control).
    if frame.len() >= hdr_len && hdr_len >= min_mac_header(frame) && frame.len() <= 4096 {
        let (header, pt) = frame.split_at(hdr_len);
        let pn = u64::from(hl) << 8 | pt.len() as u64;
        let f = ccmp::encrypt(&tk, header, pn, hl >> 6, pt);
        let hdr = ccmp::decrypt(&tk, &f, hdr_len, &mut out).expect("round trip");
        assert_eq!(hdr.pn, pn);
        assert_eq!(out, pt);
    }
}

/// The multi-buffer CCMP kernel (`ccmp_mb`, the crate's only `unsafe` code)
/// against the `ccm` crate, frame by frame, on every backend this CPU has.
/// After the 16-byte key, each record is one frame of the batch: tag bits
/// 0-5 give the header length (mod 40), bit 6 picks a second key (mixed keys
/// in a batch), bit 7 encrypts the record first (header = its first bytes), so
/// both verified and failing frames of every length share a batch.
pub fn ccmp_batch(data: &[u8]) {
    use crate::crypto::ccmp::CcmpKey;
    use crate::crypto::ccmp_mb::{Backend, Job, MbKey, decrypt_batch_with};
    let (tk, rest) = split_key(data);
    let mut tk2 = tk;
    tk2[15] ^= 0x5a;
    let keys = [MbKey::new(&tk), MbKey::new(&tk2)];
    let refs = [CcmpKey::new(&tk), CcmpKey::new(&tk2)];
    let mut frames: Vec<(usize, usize, Vec<u8>)> = Vec::new();
    for (i, (tag, bytes)) in Records::new(rest).enumerate() {
        let hdr_len = usize::from(tag & 0x3f) % 40;
        let k = usize::from(tag >> 6 & 1);
        let frame = if tag & 0x80 != 0 && bytes.len() >= hdr_len && bytes.len() <= 4096 {
            let (header, pt) = bytes.split_at(hdr_len);
            let t = if k == 0 { &tk } else { &tk2 };
            ccmp::encrypt(t, header, i as u64 + 1, 0, pt)
        } else {
            bytes.to_vec()
        };
        frames.push((k, hdr_len, frame));
    }
    let expected: Vec<_> = frames
        .iter()
        .map(|(k, h, f)| {
            let mut out = Vec::new();
            let r = refs[*k].decrypt(f, *h, &mut out);
            (r, out)
        })
        .collect();
    for backend in Backend::available() {
        let mut outs: Vec<Vec<u8>> = frames.iter().map(|_| vec![0xee; 3]).collect();
        let mut results = vec![Err(ccmp::CcmpError::TooShort); frames.len()];
        let mut jobs: Vec<Job<'_>> = frames
            .iter()
            .zip(outs.iter_mut())
            .enumerate()
            .map(|(i, ((k, h, f), out))| Job {
                key: &keys[*k],
                frame: f,
                hdr_len: *h,
                // Some jobs keep a prefix of the old bytes (all, some, more
                // than there are), the rest must be written over.
                keep: i % 5,
                out,
            })
            .collect();
        decrypt_batch_with(backend, &mut jobs, &mut results);
        drop(jobs);
        for (i, ((r, out), (er, eout))) in results.iter().zip(&outs).zip(&expected).enumerate() {
            assert_eq!(r, er, "{backend:?}: verdict differs from the ccm crate");
            let want = match er {
                Ok(_) => [&[0xee; 3][..(i % 5).min(3)], &eout[..]].concat(),
                Err(_) => Vec::new(),
            };
            assert_eq!(
                out, &want,
                "{backend:?}: plaintext differs from the ccm crate"
            );
        }
    }
}

/// The MAC header length CCMP needs for this Frame Control (IEEE 802.11-2020
/// 12.5.3.3.3): 24, + 6 with A4, + 2 with QoS Control.
fn min_mac_header(frame: &[u8]) -> usize {
    let fc0 = frame.first().copied().unwrap_or(0);
    let fc1 = frame.get(1).copied().unwrap_or(0);
    let data = (fc0 >> 2) & 3 == 2;
    24 + if data && fc1 & 3 == 3 { 6 } else { 0 } + if data && fc0 & 0x80 != 0 { 2 } else { 0 }
}

/// TKIP: header parse, RC4 decrypt + ICV, Michael; byte 17 is the MAC header
/// length. Then encrypt-then-decrypt must round-trip.
pub fn tkip_decrypt(data: &[u8]) {
    let (tk, rest) = split_key(data);
    let Some((&hl, frame)) = rest.split_first() else {
        return;
    };
    let hdr_len = usize::from(hl % 40);
    let ta: [u8; 6] = frame.get(10..16).map_or([0; 6], |a| a.try_into().unwrap());
    let mut out = Vec::new();
    let _ = tkip::tkip_header(frame, hdr_len);
    match tkip::decrypt_mpdu(&tk, ta, frame, hdr_len, &mut out) {
        Ok(_) => {
            let _ = tkip::verify_michael(&[7; 8], [1; 6], [2; 6], hl & 7, &out);
        }
        Err(_) => assert!(out.is_empty()),
    }
    if frame.len() >= hdr_len && hdr_len >= 24 && frame.len() <= 4096 {
        let (header, pt) = frame.split_at(hdr_len);
        let tsc = u64::from(hl) << 16 | pt.len() as u64;
        let f = tkip::encrypt_mpdu(&tk, ta, header, tsc, hl >> 6, pt);
        let hdr = tkip::decrypt_mpdu(&tk, ta, &f, hdr_len, &mut out).expect("round trip");
        assert_eq!(hdr.tsc, tsc);
        assert_eq!(out, pt);
    }
}

/// GCMP-128, GCMP-256 and CCMP-256: decrypt under the key in the first 32
/// bytes (GCMP-128 uses its first 16), byte 33 selects the cipher (bits 6-7)
/// and the MAC header length (mod 40). Then encrypt-then-decrypt of the input
/// must round-trip.
pub fn gcmp_decrypt(data: &[u8]) {
    let Some((key, rest)) = data.split_first_chunk::<32>() else {
        return;
    };
    let Some((&sel, frame)) = rest.split_first() else {
        return;
    };
    let hdr_len = usize::from(sel & 0x3f) % 40;
    let mut out = Vec::new();
    let which = sel >> 6;
    let dec = |f: &[u8], out: &mut Vec<u8>| match which {
        0 => crate::crypto::gcmp::decrypt(&key[..16], f, hdr_len, out),
        1 => crate::crypto::gcmp::decrypt(key, f, hdr_len, out),
        _ => ccmp::decrypt_256(key, f, hdr_len, out),
    };
    match dec(frame, &mut out) {
        Ok(_) => assert!(out.len() <= frame.len()),
        Err(_) => assert!(out.is_empty()),
    }
    if frame.len() >= hdr_len && hdr_len >= min_mac_header(frame) && frame.len() <= 4096 {
        let (header, pt) = frame.split_at(hdr_len);
        let pn = u64::from(sel) << 8 | pt.len() as u64;
        let f = match which {
            0 => crate::crypto::gcmp::encrypt(&key[..16], header, pn, sel, pt),
            1 => crate::crypto::gcmp::encrypt(key, header, pn, sel, pt),
            _ => ccmp::encrypt_256(key, header, pn, sel, pt),
        };
        let hdr = dec(&f, &mut out).expect("round trip");
        assert_eq!(hdr.pn, pn);
        assert_eq!(out, pt);
    }
}

/// BIP (CMAC-128/256, GMAC-128/256): verify the frame after a 32-byte IGTK
/// and a selector byte (bits 0-1: algorithm) under each algorithm, then
/// protect-then-verify must round-trip.
pub fn bip(data: &[u8]) {
    use crate::crypto::bip::{self, BipAlgo};
    let Some((key, rest)) = data.split_first_chunk::<32>() else {
        return;
    };
    let Some((&sel, frame)) = rest.split_first() else {
        return;
    };
    let algos = [
        BipAlgo::Cmac128,
        BipAlgo::Cmac256,
        BipAlgo::Gmac128,
        BipAlgo::Gmac256,
    ];
    for a in algos {
        let k = &key[..a.key_len()];
        if let Ok(m) = bip::verify(a, k, frame) {
            assert!(m.mic_offset + a.mic_len() == frame.len());
        }
        let _ = bip::mme(frame, a.mic_len());
    }
    let a = algos[usize::from(sel & 3)];
    if frame.len() >= 24 && frame.len() <= 4096 {
        let p = bip::protect(
            a,
            &key[..a.key_len()],
            frame,
            u16::from(sel),
            u64::from(sel),
        );
        let m = bip::verify(a, &key[..a.key_len()], &p).expect("round trip");
        assert_eq!(m.ipn, u64::from(sel));
    }
}

/// The fragment cache's receiver rules ([`crate::engine::defrag`]). Each
/// record is one fragment: tag bits 0-1 pick the transmitter, bit 2 the key
/// instance, bit 3 makes it plaintext, bits 4-7 are the fragment number;
/// bytes 0-1 the sequence number, byte 2 flags (bit 0 More Fragments, bit 1
/// then flush the link, bit 2 then flush the group, bit 3 TKIP), bytes 3-8
/// the PN, the rest the body. The cache never holds more than its cap, and a
/// reassembled MSDU is never longer than `MAX_MSDU_LEN`.
pub fn defrag(data: &[u8]) {
    use crate::engine::defrag::{Defragmenter, Fragment, MAX_FRAGMENT_CHAINS, MAX_MSDU_LEN};
    use crate::wpa::keys::{Cipher, TemporalKey};
    use crate::wpa::keystore::KeyEntry;
    use std::sync::Arc;
    let key = |serial: u64, c: Cipher| {
        Arc::new(KeyEntry {
            serial,
            tk: TemporalKey::new(c, &[serial as u8; 32]).expect("32 bytes"),
            bssid: MacAddr([1; 6]),
            sta: Some(MacAddr([2; 6])),
            key_id: 0,
        })
    };
    let keys = [
        key(1, Cipher::Ccmp),
        key(2, Cipher::Ccmp),
        key(3, Cipher::Tkip),
        key(4, Cipher::Tkip),
    ];
    let mut d = Defragmenter::default();
    let hdr = [0x88u8, 0x41, 0, 0];
    for (tag, rec) in Records::new(data) {
        let [s0, s1, flags, p @ ..] = rec else {
            continue;
        };
        let (pn, body) = if p.len() >= 6 {
            let mut b = [0u8; 8];
            b[..6].copy_from_slice(&p[..6]);
            (u64::from_le_bytes(b), &p[6..])
        } else {
            (0, &[][..])
        };
        let ta = MacAddr([2, 0, 0, 0, 0, tag & 3]);
        let ra = if flags & 4 != 0 {
            MacAddr::BROADCAST
        } else {
            MacAddr([1; 6])
        };
        let seq = u16::from_le_bytes([*s0, *s1]) & 0x0fff;
        let frag = tag >> 4;
        if tag & 8 != 0 {
            let _ = d.push_plaintext(ta, ra, seq, frag, 1);
        } else {
            let k = usize::from(tag >> 2 & 1) + if flags & 8 != 0 { 2 } else { 0 };
            let r = d.push(Fragment {
                ta,
                ra,
                seq,
                frag,
                more: flags & 1 != 0,
                header: &hdr,
                body,
                key: keys[k].clone(),
                pn,
                frame: 1,
            });
            match r {
                Ok(Some(m)) => assert!(m.body.len() <= MAX_MSDU_LEN),
                Ok(None) => {}
                Err(e) => {
                    let _ = e.reason();
                }
            }
        }
        if flags & 2 != 0 {
            d.flush_link(ta, ra);
        }
        if flags & 4 != 0 {
            d.flush_group(ta);
        }
        assert!(d.len() <= MAX_FRAGMENT_CHAINS);
    }
}

/// Wireshark's `80211_keys` file: the parser never panics, and its errors
/// name a line, never the text.
pub fn wireshark_keys(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match crate::cli::config::parse_wireshark_keys(text) {
        Ok(keys) => {
            assert!(keys.len() <= crate::cli::config::MAX_KEYS);
            let _ = format!("{keys:?}");
        }
        Err((line, _)) => assert!(line >= 1 && line <= text.lines().count().max(1)),
    }
}

/// Fast BSS transition and the management frames the tracker reads: the
/// MDE, FTE (both MIC lengths) and RSNE views on the record's bytes, then the
/// record as a management frame (tag bits 0-3: subtype) through
/// `Tracker::on_mgmt`, with a PMK configured; under `cfg(fuzzing)` FT MICs
/// verify, so fuzzed reassociation responses reach GTK and IGTK unwrapping.
pub fn ft(data: &[u8]) {
    let mut tracker = Tracker::new(vec![
        NetworkSecret {
            ssid: Some(b"fuzz".to_vec()),
            secret: Secret::Pmk(Pmk::new([0x5a; 32])),
        },
        NetworkSecret {
            ssid: None,
            secret: Secret::Passphrase(Passphrase::new("fuzz passphrase".into())),
        },
    ]);
    let mut keys = KeyStore::new();
    for (tag, rec) in Records::new(data) {
        let _ = rsn::parse_mde(rec);
        for m in [16, 24] {
            if let Some(f) = rsn::parse_fte(rec, m) {
                assert!(f.mic.len() == m);
            }
        }
        for id in [rsn::ID_RSN, rsn::ID_MDE, rsn::ID_FTE] {
            if let Some(e) = rsn::raw_element(rec, id) {
                assert!(e.len() >= 2 && e.len() <= rec.len());
            }
        }
        let mut f = sf::mgmt_header(
            tag & 0x0f,
            MacAddr([2, 0, 0, 0, 0, tag >> 4 & 1]),
            MacAddr([2, 0, 0, 0, 0, (tag >> 4 & 1) ^ 1]),
            MacAddr([2, 0, 0, 0, 0, 0]),
            1,
        );
        f.extend_from_slice(rec);
        if let Ok(d) = Dot11::new_checked(&f, false) {
            tracker.learn_ssid(MacAddr([2, 0, 0, 0, 0, 0]), b"fuzz");
            let _ = tracker.on_mgmt(&mut keys, &d);
        }
    }
    for ((b, s), st) in tracker.stations() {
        let _ = (st.status.describe(), tracker.describe_station(*b, *s));
    }
}

/// LLC/SNAP, the plain link types (Ethernet, SLL, null, raw IP), IP and ARP.
/// The first byte selects the link type.
pub fn llc_ip(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    if let Some(s) = llc::parse_snap(rest) {
        let _ = ip::parse_ip_ethertype(s.ethertype, s.payload);
        let _ = ip::parse_arp(s.payload);
    }
    const DLTS: [i32; 10] = [
        ip::dlt::NULL,
        ip::dlt::ETHERNET,
        ip::dlt::RAW_BSD,
        ip::dlt::RAW_OPENBSD,
        ip::dlt::RAW,
        ip::dlt::LOOP,
        ip::dlt::LINUX_SLL,
        ip::dlt::IPV4,
        ip::dlt::IPV6,
        ip::dlt::LINUX_SLL2,
    ];
    let d = DLTS[usize::from(sel) % DLTS.len()];
    if let Ok(f) = ip::parse_link(d, rest) {
        assert!(f.payload.len() <= rest.len());
        if let Ok(Some(p)) = ip::parse_ip_ethertype(f.ethertype, f.payload)
            && let ip::L4::Tcp { payload, .. } | ip::L4::Udp { payload, .. } = p.l4
        {
            assert!(payload.len() <= f.payload.len());
        }
        let _ = ip::parse_arp(f.payload);
    }
    for et in [0x0800, 0x86dd, 0x0806] {
        let _ = ip::parse_ip_ethertype(et, rest);
    }
}

/// TCP reassembly: records are segments, `tag` the TCP flags, the first four
/// bytes of each record its sequence number (big-endian), the rest payload.
/// Checks the stream bounds: buffered bytes under the cap, every reported
/// byte (data or gap) accounted for by the stream offset. The URG flag
/// (irrelevant to reassembly) in a tag also gives up the holes after that
/// segment, as the watcher's global budget does: nothing stays buffered.
pub fn tcp_reassembly(data: &[u8]) {
    let mut s = TcpStream::new();
    let mut reported = 0u64;
    let mut count = |e: StreamEvent<'_>| match e {
        StreamEvent::Data(d) => reported += d.len() as u64,
        StreamEvent::Gap { len } => reported += len,
        _ => {}
    };
    for (tag, rec) in Records::new(data) {
        let (seq, payload) = match rec.split_first_chunk::<4>() {
            Some((s, p)) => (u32::from_be_bytes(*s), p),
            None => (0, rec),
        };
        s.push(seq, TcpFlags(tag), payload, &mut count);
        assert!(s.buffered_bytes() <= crate::flows::tcp::MAX_BUFFERED_PER_DIRECTION);
        if tag & TcpFlags::URG != 0 {
            s.give_up_holes(&mut count);
            assert_eq!(s.buffered_bytes(), 0);
        }
    }
    s.flush(&mut count);
    assert_eq!(reported, s.stream_offset());
}

/// TP-Link XOR protocol: the TCP framer (length prefix + XOR), the UDP form,
/// the JSON message parser, and a two-direction session. Records: tag bit 0
/// is the direction; tag bit 1 marks a gap before the record.
pub fn tplink(data: &[u8]) {
    let plain = xor::decrypt(data);
    assert_eq!(xor::encrypt(&plain), data);
    let _ = TplinkMessage::parse(data);
    if let Ok(m) = TplinkMessage::parse(&plain) {
        let _ = (m.leaks_credentials(), m.pairs_with(&m));
    }
    if let Ok(p) = decode_udp(data) {
        let _ = TplinkMessage::parse(&p);
    }
    // The framer over the raw bytes, then over a framed copy of them.
    let mut f = XorFramer::new();
    let mut out = Vec::new();
    f.push(data, &mut out);
    if data.len() <= crate::decoders::tplink::parser::MAX_MESSAGE {
        let mut f = XorFramer::new();
        let mut out = Vec::new();
        f.push(&encode_tcp(data), &mut out);
        let msgs: Vec<_> = out
            .iter()
            .filter(|e| matches!(e, FramerEvent::Message(_)))
            .collect();
        assert_eq!(msgs.len(), usize::from(!data.is_empty()), "{out:?}");
    }
    let mut h = XorFramer::hunting();
    h.push(data, &mut out);
    let mut sess = TplinkSession::new(data.first().is_some_and(|b| b & 1 != 0));
    let mut ev = Vec::new();
    for (tag, rec) in Records::new(data) {
        let dir = if tag & 1 == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        if tag & 2 != 0 {
            sess.on_gap(dir, u64::from(tag));
        }
        sess.on_data(dir, rec, &mut ev);
        ev.clear();
    }
    let _ = sess.unanswered();
}

/// TDP (UDP 20002) datagrams.
pub fn tdp(data: &[u8]) {
    if let Ok(m) = parse_tdp(data) {
        let _ = format!("{:?}", m.info);
    }
}

/// TLS metadata: records of a two-direction stream (tag bit 0 = direction,
/// tag bit 1 = a gap before it).
pub fn tls_meta(data: &[u8]) {
    let mut s = TlsSession::new();
    s.on_data(Direction::ToServer, data);
    let mut s2 = TlsSession::new();
    for (tag, rec) in Records::new(data) {
        let dir = if tag & 1 == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        if tag & 2 != 0 {
            s2.on_gap(dir, 1);
        }
        s2.on_data(dir, rec);
    }
    let _ = (format!("{:?}", s.meta()), format!("{:?}", s2.meta()));
}

/// Names: DHCP and DNS payloads (first byte: 0 → DHCP, else DNS).
pub fn names(data: &[u8]) {
    let Some((&sel, p)) = data.split_first() else {
        return;
    };
    let mut t = NameTable::new();
    if sel & 1 == 0 {
        t.on_dhcp(None, p);
    } else {
        t.on_dns(p);
        let _ = parse_dns_answers(p);
    }
    let _ = t.stats();
}

/// HTTP + KLAP over a two-direction stream (tag bit 0 = direction, bit 1 = a
/// gap before the record, bit 2 = the connection started mid-stream), with a
/// configured account so handshakes can match.
pub fn klap_http(data: &[u8]) {
    use crate::decoders::klap::session::{KlapAccount, KlapConn, KlapSessions};
    let mid = data.first().is_some_and(|b| b & 4 != 0);
    let mut sessions = KlapSessions::new(vec![KlapAccount::from_password(
        "account #1",
        "alice@example.com",
        "hunter2",
    )]);
    let mut conn = KlapConn::new(mid);
    let pair = (
        std::net::IpAddr::from([192, 168, 0, 23]),
        std::net::IpAddr::from([192, 168, 0, 42]),
    );
    let mut out = Vec::new();
    for (tag, rec) in Records::new(data) {
        let dir = if tag & 1 == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        if tag & 2 != 0 {
            conn.on_gap(dir, 1);
        }
        conn.on_data(dir, rec, &mut sessions, pair, &mut out);
        if out.len() > 1024 {
            out.clear();
        }
    }
    let mut p = crate::decoders::http::HttpParser::new();
    let mut ev = Vec::new();
    p.push(data, &mut ev);
}

/// Drives one [`crate::decoders::StreamDecoder`] over records (tag bit 0 =
/// direction, bit 1 = a gap before the record, bit 2 of the first byte =
/// mid-stream, bit 3 = release before the record), checking the memory
/// contract: nothing held after a release.
fn stream_decoder(
    data: &[u8],
    reg: &crate::decoders::Registration,
    shared: &mut crate::decoders::Shared,
) {
    use crate::decoders::{Ctx, Decoder, FlowMeta, Probe};
    let Decoder::Stream(new) = reg.decoder else {
        return;
    };
    let client: std::net::SocketAddr = ([192, 168, 1, 5], 50000).into();
    let server: std::net::SocketAddr =
        ([192, 168, 1, 30], reg.ports.first().copied().unwrap_or(80)).into();
    let mid = data.first().is_some_and(|b| b & 4 != 0);
    let mut dec = new(&Probe {
        src: client,
        dst: server,
        payload: &[],
        syn: !mid,
        mid_stream: mid,
        shared,
    });
    let mut out = Vec::new();
    for (tag, rec) in Records::new(data) {
        let dir = if tag & 1 == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        let mut cx = Ctx {
            ts: Ts::default(),
            client,
            server,
            shared,
            flow: FlowMeta::default(),
        };
        if tag & 8 != 0 {
            dec.release();
            assert_eq!(
                dec.held_bytes(),
                0,
                "{} holds bytes after release",
                reg.name
            );
        }
        if tag & 2 != 0 {
            dec.on_gap(&mut cx, dir, u64::from(tag >> 4), &mut out);
        }
        dec.on_data(&mut cx, dir, rec, &mut out);
        assert!(
            dec.held_bytes() <= 4 * 1024 * 1024,
            "{} holds {}",
            reg.name,
            dec.held_bytes()
        );
        if out.len() > 1024 {
            out.clear();
        }
    }
}

/// Shelly on port 80: Gen1 HTTP, Gen2 RPC over HTTP and, after an upgrade,
/// over WebSocket.
pub fn shelly_http(data: &[u8]) {
    let mut shared = crate::decoders::Shared::new(crate::decoders::DecoderConfig::default());
    stream_decoder(data, &crate::decoders::shelly::HTTP, &mut shared);
}

/// The RFC 6455 framer alone (records alternate nothing: one direction),
/// tag bit 1 = a gap before the record.
pub fn websocket(data: &[u8]) {
    use crate::decoders::websocket::{MAX_HEADER, MAX_MESSAGE, WsFramer};
    let mut f = WsFramer::new();
    let mut out = Vec::new();
    for (tag, rec) in Records::new(data) {
        if tag & 2 != 0 {
            f.on_gap(u64::from(tag >> 4));
        }
        f.push(rec, &mut out);
        assert!(f.held_bytes() <= 2 * (MAX_MESSAGE + MAX_HEADER) + 64);
        out.clear();
    }
}

/// CoIoT datagrams (one per record), sharing `/cit/d` descriptions across
/// them; also the bare CoAP view.
pub fn coiot(data: &[u8]) {
    use crate::decoders::{Ctx, FlowMeta, Shared};
    let mut shared = Shared::new(crate::decoders::DecoderConfig::default());
    let mut out = Vec::new();
    let _ = crate::decoders::coap::CoapMessage::parse(data);
    for (tag, rec) in Records::new(data) {
        let mut cx = Ctx {
            ts: Ts::default(),
            client: ([224, 0, 1, 187], 5683).into(),
            server: ([192, 168, 1, 30 + (tag & 3)], 5683).into(),
            shared: &mut shared,
            flow: FlowMeta::default(),
        };
        let dir = if tag & 4 == 0 {
            Direction::ToClient
        } else {
            Direction::ToServer
        };
        crate::decoders::shelly::coiot::decode_datagram(&mut cx, dir, rec, &mut out);
        out.clear();
    }
}

/// Wemo UPnP over HTTP, and the two XML readers on the raw bytes.
pub fn wemo_http(data: &[u8]) {
    let mut shared = crate::decoders::Shared::new(crate::decoders::DecoderConfig::default());
    stream_decoder(data, &crate::decoders::wemo::UPNP, &mut shared);
    let _ = crate::decoders::wemo::xml::soap(data);
    let _ = crate::decoders::wemo::xml::setup_xml(data);
}

/// Meross `POST /config` with a configured key.
pub fn meross_http(data: &[u8]) {
    let mut shared = crate::decoders::Shared::new(crate::decoders::DecoderConfig {
        meross_keys: vec![crate::decoders::meross::MerossKey::new(
            "fuzz",
            crate::synth::meross::USER_KEY,
        )],
        ..crate::decoders::DecoderConfig::default()
    });
    stream_decoder(data, &crate::decoders::meross::HTTP, &mut shared);
}

/// A decoder state with the synthetic eWeLink device's key configured, so
/// the discovery targets reach decryption.
fn discovery_shared() -> crate::decoders::Shared {
    use crate::decoders::ewelink::crypto::{DeviceKey, EwelinkDevice};
    use crate::synth::ewelink as sew;
    crate::decoders::Shared::new(crate::decoders::DecoderConfig {
        ewelink_devices: vec![EwelinkDevice {
            id: sew::DEVICE_ID.into(),
            label: "ewelink_device #1".into(),
            key: DeviceKey::from_devicekey(sew::DEVICE_KEY),
        }],
        ..Default::default()
    })
}

fn discovery_ctx<'a>(
    shared: &'a mut crate::decoders::Shared,
    client: &str,
    server: &str,
) -> crate::decoders::Ctx<'a> {
    crate::decoders::Ctx {
        ts: Ts::default(),
        client: client.parse().expect("literal"),
        server: server.parse().expect("literal"),
        shared,
        flow: Default::default(),
    }
}

/// One UDP datagram decoder over records (tag bit 0 = direction); the
/// shared state carries over, so learned ports and Matter peers grow.
fn datagrams(data: &[u8], f: crate::decoders::DatagramFn, server: &str) {
    let mut sh = discovery_shared();
    let mut cx = discovery_ctx(&mut sh, "192.168.0.23:5353", server);
    let mut out = Vec::new();
    for (tag, rec) in Records::new(data) {
        let dir = if tag & 1 == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        f(&mut cx, dir, rec, &mut out);
        out.clear();
    }
    assert!(cx.shared.services.len() <= crate::decoders::services::MAX_SERVICE_PORTS);
}

/// mDNS / DNS-SD datagrams (`decoders::mdns`, `wire::dns`), eWeLink TXT
/// decryption with a configured key.
pub fn mdns(data: &[u8]) {
    datagrams(data, crate::decoders::mdns::on_datagram, "224.0.0.251:5353");
}

/// SSDP datagrams (`decoders::ssdp`, `decoders::http::parse_datagram`).
pub fn ssdp(data: &[u8]) {
    datagrams(
        data,
        crate::decoders::ssdp::on_datagram,
        "239.255.255.250:1900",
    );
}

/// DHCP as announcements (`decoders::dhcp`, `flows::names::parse_dhcp`).
pub fn dhcp(data: &[u8]) {
    datagrams(
        data,
        crate::decoders::dhcp::on_datagram,
        "255.255.255.255:67",
    );
}

/// A stream decoder over records: tag bit 0 = direction, bit 1 = a gap
/// before the record, bit 2 = release (the memory budget), then close.
fn stream(data: &[u8], mut d: Box<dyn crate::decoders::StreamDecoder>, server: &str) {
    let mut sh = discovery_shared();
    let mut cx = discovery_ctx(&mut sh, "192.168.0.23:50000", server);
    let mut out = Vec::new();
    for (tag, rec) in Records::new(data) {
        let dir = if tag & 1 == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        if tag & 2 != 0 {
            d.on_gap(&mut cx, dir, u64::from(tag >> 3) + 1, &mut out);
        }
        d.on_data(&mut cx, dir, rec, &mut out);
        if tag & 4 != 0 {
            d.release();
        }
        assert!(
            d.held_bytes()
                <= 2 * (crate::decoders::http::MAX_HEAD + crate::decoders::http::MAX_BODY) + 4096
        );
        out.clear();
    }
    d.on_close(&mut cx, &mut out);
}

/// eWeLink LAN mode over HTTP (`decoders::ewelink::session`), both
/// directions, gaps, mid-stream starts (first byte bit 3), a configured key.
pub fn ewelink_http(data: &[u8]) {
    let mid = data.first().is_some_and(|b| b & 8 != 0);
    let d = Box::new(crate::decoders::ewelink::session::EwelinkConn::new(mid));
    stream(data, d, "192.168.0.80:8081");
}

/// Matter: datagrams (first byte even) or a TCP stream (odd).
pub fn matter(data: &[u8]) {
    match data.split_first() {
        Some((sel, rest)) if sel & 1 == 1 => stream(
            rest,
            Box::new(crate::decoders::matter::MatterStream::default()),
            "[fe80::2]:5540",
        ),
        Some((_, rest)) => datagrams(rest, crate::decoders::matter::on_datagram, "[fe80::2]:5540"),
        None => {}
    }
}

/// HomeKit HAP connections (`decoders::homekit`).
pub fn homekit(data: &[u8]) {
    stream(
        data,
        Box::new(crate::decoders::homekit::HapConn::default()),
        "192.168.0.71:51827",
    );
}

/// Held bytes one [`crate::decoders::tuya::frame::Framer`] may report:
/// its buffer holds at most `2 × MAX_FRAME_LEN` bytes, and amortised growth
/// may leave up to twice that allocated.
pub const TUYA_FRAMER_HELD_CAP: usize = 4 * crate::decoders::tuya::frame::MAX_FRAME_LEN;

/// Tuya: the frame view and the payload layer of every version in both
/// directions over the raw bytes, discovery datagrams, a seal-and-read round
/// trip of the bytes as a payload, and a two-direction
/// [`crate::decoders::tuya::session::TuyaStream`] with the demo plug's key
/// configured. Records: tag bit 0 is the direction, bit 1 a gap before the
/// record, bit 2 (first record) a connection seen mid-stream, bit 3 (first
/// record) no key configured. The held bytes stay within
/// [`TUYA_FRAMER_HELD_CAP`] per direction and drop to 0 on release.
pub fn tuya(data: &[u8]) {
    use crate::decoders::tuya::codec::{self, Outgoing, Sender, Version, looks_like_text};
    use crate::decoders::tuya::command::Command;
    use crate::decoders::tuya::frame::Frame;
    use crate::decoders::tuya::keys::TuyaDeviceKey;
    use crate::decoders::tuya::session::TuyaStream;
    use crate::decoders::tuya::{crypto::TuyaKey, discovery};
    use crate::decoders::{Ctx, DecoderConfig, FlowMeta, Shared, StreamDecoder};
    use crate::synth::tuya::{DEMO_DEVICE_ID, DEMO_LOCAL_KEY};

    let key = TuyaKey::from_local_key_str(DEMO_LOCAL_KEY).expect("16 characters");
    let _ = discovery::decode(data);
    if let Ok(f) = Frame::parse(data) {
        let _ = (f.crc_ok(), f.hmac_ok(&key), f.gcm_parts(), f.unknown());
        for v in Version::ALL {
            for s in [Sender::Client, Sender::Device] {
                let _ = codec::decode(&f, v, s, Some(&key));
                let _ = codec::decode(&f, v, s, None);
            }
        }
    }
    if data.len() <= 2048 {
        for v in Version::ALL {
            let sealed = Outgoing::client(v, 1, Command::CONTROL, data).seal(&key);
            let f = Frame::parse(&sealed).expect("our own frame parses");
            let back = codec::decode(&f, v, Sender::Client, Some(&key));
            if v >= Version::V34 || v == Version::V31 || looks_like_text(data) {
                let p = back.expect("our own frame decodes");
                assert_eq!(p.payload.as_slice(), data, "{v:?}");
            }
        }
    }
    let first = data.first().copied().unwrap_or(0);
    let devices = if first & 8 == 0 {
        vec![TuyaDeviceKey {
            id: DEMO_DEVICE_ID.into(),
            local_key: key,
            ip: Some(std::net::IpAddr::from([192, 168, 1, 50])),
            version: None,
            label: "tuya_device #1".into(),
        }]
    } else {
        Vec::new()
    };
    let mut shared = Shared::new(DecoderConfig {
        tuya_devices: devices,
        ..DecoderConfig::default()
    });
    let mut s = TuyaStream::new(first & 4 != 0);
    let mut out = Vec::new();
    for (tag, rec) in Records::new(data) {
        let dir = if tag & 1 == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        let mut cx = Ctx {
            ts: Ts::default(),
            client: std::net::SocketAddr::from(([192, 168, 1, 23], 50123)),
            server: std::net::SocketAddr::from(([192, 168, 1, 50], 6668)),
            shared: &mut shared,
            flow: FlowMeta::default(),
        };
        if tag & 2 != 0 {
            s.on_gap(&mut cx, dir, 1, &mut out);
        }
        s.on_data(&mut cx, dir, rec, &mut out);
        assert!(
            s.held_bytes() <= 2 * TUYA_FRAMER_HELD_CAP,
            "{}",
            s.held_bytes()
        );
        if out.len() > 1024 {
            out.clear();
        }
        let mut cx = Ctx {
            ts: Ts::default(),
            client: std::net::SocketAddr::from(([192, 168, 1, 50], 6667)),
            server: std::net::SocketAddr::from(([255, 255, 255, 255], 6667)),
            shared: &mut shared,
            flow: FlowMeta::default(),
        };
        discovery::on_datagram(&mut cx, dir, rec, &mut out);
    }
    s.release();
    assert_eq!(s.held_bytes(), 0);
}

/// The TOML configuration file.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match crate::cli::config::ConfigFile::parse("fuzz.toml", text) {
        Ok(c) => {
            if let Ok(nets) = c.networks("fuzz.toml") {
                // Debug of the secrets never shows them.
                let _ = format!("{nets:?}");
            }
            if let Ok(keys) = c.meross_keys("fuzz.toml") {
                let _ = format!("{keys:?}");
            }
            if let Ok(devs) = c.ewelink_devices("fuzz.toml") {
                let _ = format!("{devs:?}");
            }
            if let Ok(devices) = c.tuya_devices("fuzz.toml") {
                let _ = format!("{devices:?}");
            }
        }
        Err(e) => {
            // Errors name line and column, never echo the text.
            let _ = e.to_string();
        }
    }
}

/// The demo network's key as a PMK (no PBKDF2 per execution).
fn demo_network() -> NetworkSecret {
    static PMK: OnceLock<[u8; 32]> = OnceLock::new();
    let pmk = PMK.get_or_init(|| {
        let p = crate::wpa::kdf::pmk_from_passphrase(
            &Passphrase::new(DEMO_PASSPHRASE.into()),
            DEMO_SSID.as_bytes(),
        );
        *p.as_bytes()
    });
    NetworkSecret {
        ssid: Some(DEMO_SSID.as_bytes().to_vec()),
        secret: Secret::Pmk(Pmk::new(*pmk)),
    }
}

/// The network of `captures/demo.pcapng` (see `captures/demo.toml`).
pub use crate::synth::scenario::DEMO_SSID;
pub const DEMO_PASSPHRASE: &str = "correct horse battery";

/// Record kinds of [`watch_radiotap`] (tag & 3).
pub mod kind {
    /// A whole radiotap frame.
    pub const RADIOTAP: u8 = 0;
    /// A bare 802.11 frame, given a synthetic radiotap header.
    pub const DOT11: u8 = 1;
    /// An LLC/SNAP MSDU, CCMP-protected by the harness under the newest
    /// installed pairwise key (as a ToDS QoS data frame of that station),
    /// or sent unprotected when no key is installed yet.
    pub const PROTECT: u8 = 2;
    /// The same MSDU, FromDS from the AP to the station.
    pub const PROTECT_FROM_AP: u8 = 3;
}

/// The whole stack, 802.11 side: records become frames for
/// [`Watcher::process_80211`] with the demo network's key loaded. The tag's
/// upper six bits advance the capture clock (in 100 ms steps).
pub fn watch_radiotap(data: &[u8]) {
    watch_radiotap_run(data);
}

/// [`watch_radiotap`], returning the watcher (for tests of the harness).
pub fn watch_radiotap_run(data: &[u8]) -> Watcher {
    let mut w = Watcher::new(vec![demo_network()], WatchOptions::default());
    let mut t = Ts::from_micros(1_700_000_000, 0);
    let mut pn = 1_000_000u64;
    for (tag, rec) in Records::new(data) {
        advance(&mut t, tag >> 2);
        match tag & 3 {
            kind::RADIOTAP => w.process_80211(t, LinkKind::Radiotap, rec, rec.len() as u32),
            kind::DOT11 => {
                let f = sf::with_radiotap(&Radio::default(), rec);
                w.process_80211(t, LinkKind::Radiotap, &f, f.len() as u32);
            }
            k => {
                let key = w
                    .engine
                    .keys
                    .history()
                    .iter()
                    .find(|e| e.sta.is_some())
                    .cloned();
                let (bssid, sta) = key.as_ref().map_or(
                    (
                        MacAddr([0x50, 0xc7, 0xbf, 0x0a, 0x11, 0x01]),
                        MacAddr([2; 6]),
                    ),
                    |e| (e.bssid, e.sta.unwrap_or(MacAddr([2; 6]))),
                );
                let (dir, a1, a2, a3) = if k == kind::PROTECT {
                    (sf::DsDir::ToDs, bssid, sta, MacAddr::BROADCAST)
                } else {
                    (sf::DsDir::FromDs, sta, bssid, bssid)
                };
                let opts = DataOpts {
                    protected: key.is_some(),
                    ..DataOpts::default()
                };
                let hdr = sf::data_header(dir, a1, a2, a3, (pn & 0xfff) as u16, opts);
                let mpdu = match &key {
                    Some(e) => {
                        pn += 1;
                        sf::protect(e.tk.key16(), &hdr, pn, 0, rec)
                    }
                    None => [hdr.as_slice(), rec].concat(),
                };
                let f = sf::with_radiotap(&Radio::default(), &mpdu);
                w.process_80211(t, LinkKind::Radiotap, &f, f.len() as u32);
            }
        }
        w.drain_events().for_each(drop);
        check_memory_gauges(&w);
    }
    w.finish();
    w.drain_events().for_each(drop);
    check_memory_gauges(&w);
    assert!(w.engine.counters.balanced(), "{:?}", w.engine.counters);
    w
}

/// The watcher's per-segment memory gauges (what its global budgets are
/// enforced on) equal a recount over every open flow, and stay in budget.
fn check_memory_gauges(w: &Watcher) {
    assert_eq!(w.an.stats.tcp_buffered, w.tcp_buffered_recount());
    assert_eq!(w.an.stats.decoder_held, w.decoder_held_recount());
    assert!(w.an.stats.tcp_buffered <= crate::watch::MAX_TCP_BUFFERED_TOTAL);
    assert!(w.an.stats.decoder_held <= crate::watch::MAX_DECODER_HELD_TOTAL);
}

/// The whole stack, wired side: records are Ethernet frames for
/// [`Watcher::process_plain`]; the tag's upper six bits advance the clock.
pub fn watch_ethernet(data: &[u8]) {
    let mut w = Watcher::new(Vec::new(), WatchOptions::default());
    let mut t = Ts::from_micros(1_700_000_000, 0);
    for (tag, rec) in Records::new(data) {
        advance(&mut t, tag >> 2);
        let dlt = if tag & 3 == 3 {
            ip::dlt::RAW
        } else {
            ip::dlt::ETHERNET
        };
        w.process_plain(t, dlt, rec);
        w.drain_events().for_each(drop);
        check_memory_gauges(&w);
    }
    w.finish();
    w.drain_events().for_each(drop);
    check_memory_gauges(&w);
}

fn advance(t: &mut Ts, steps: u8) {
    let us = u64::from(t.usec()) + u64::from(steps) * 100_000;
    t.sec += (us / 1_000_000) as i64;
    t.nsec = (us % 1_000_000) as u32 * 1000;
}

/// The pcap/pcapng reader (`capture::file::Reader`). The first byte picks
/// how the rest is handed over: at most `1 + first` bytes per `read` into a
/// buffer of `first` bytes (so records straddle buffer ends and pipes hand
/// out odd pieces). Every frame and the final result must be the same as
/// when the whole input is read at once; a clean end consumes every byte;
/// no frame is longer than `MAX_CAPLEN`.
pub fn pcap_reader(data: &[u8]) {
    use crate::capture::file::{FileError, MAX_CAPLEN, Reader};
    use std::io::Read;

    struct Chunks<'a>(&'a [u8], usize);
    impl Read for Chunks<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.1.min(buf.len()).min(self.0.len());
            let (head, rest) = self.0.split_at(n);
            buf[..n].copy_from_slice(head);
            self.0 = rest;
            Ok(n)
        }
    }
    type Seen = (Ts, u32, i32, u32, Vec<u8>);
    fn read_all(
        r: Result<Reader<impl Read>, FileError>,
        len: usize,
    ) -> Result<Vec<Seen>, FileError> {
        let mut r = r?;
        let mut v = Vec::new();
        loop {
            match r.next_frame() {
                Ok(Some(f)) => {
                    assert!(f.data.len() <= MAX_CAPLEN as usize);
                    v.push((f.ts, f.orig_len, f.dlt, f.interface, f.data.to_vec()));
                    assert_eq!(r.frames(), v.len() as u64);
                    assert!(r.bytes_read() <= len as u64);
                }
                Ok(None) => {
                    assert_eq!(r.bytes_read(), len as u64);
                    return Ok(v);
                }
                Err(e) => {
                    assert_eq!(r.frames(), v.len() as u64);
                    return Err(e);
                }
            }
        }
    }
    let Some((&sel, file)) = data.split_first() else {
        return;
    };
    let chunked = read_all(
        Reader::with_read_size(Chunks(file, 1 + usize::from(sel)), usize::from(sel)),
        file.len(),
    );
    // One read of the whole input (a 1 MiB buffer per input would slow the
    // fuzzer tenfold under ASan for nothing).
    let whole = read_all(Reader::with_read_size(file, file.len()), file.len());
    assert_eq!(chunked, whole);
}

/// A fuzz entry point.
pub type Target = fn(&[u8]);

/// Every target by name (the names of `fuzz/fuzz_targets/*.rs` and of the
/// corpus directories).
pub const TARGETS: &[(&str, Target)] = &[
    ("radiotap", radiotap),
    ("dot11", dot11),
    ("eapol", eapol),
    ("ccmp_decrypt", ccmp_decrypt),
    ("ccmp_batch", ccmp_batch),
    ("tkip_decrypt", tkip_decrypt),
    ("gcmp_decrypt", gcmp_decrypt),
    ("bip", bip),
    ("defrag", defrag),
    ("wireshark_keys", wireshark_keys),
    ("ft", ft),
    ("llc_ip", llc_ip),
    ("tcp_reassembly", tcp_reassembly),
    ("tplink", tplink),
    ("tdp", tdp),
    ("tls_meta", tls_meta),
    ("names", names),
    ("config", config),
    ("klap_http", klap_http),
    ("shelly_http", shelly_http),
    ("websocket", websocket),
    ("coiot", coiot),
    ("wemo_http", wemo_http),
    ("meross_http", meross_http),
    ("mdns", mdns),
    ("ssdp", ssdp),
    ("dhcp", dhcp),
    ("ewelink_http", ewelink_http),
    ("matter", matter),
    ("homekit", homekit),
    ("tuya", tuya),
    ("watch_radiotap", watch_radiotap),
    ("watch_ethernet", watch_ethernet),
    ("pcap_reader", pcap_reader),
];

/// The target called `name`.
pub fn by_name(name: &str) -> Option<Target> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}
