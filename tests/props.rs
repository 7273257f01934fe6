//! Property tests across layers: the views agree with the generator's
//! setters (`synth::frames`) on valid input, and every fuzz entry point
//! survives arbitrary bytes. Per-module properties (TCP permutation and
//! duplication in `flows::tcp`, CCMP round trip in `ccmp`, framer bounds in
//! `decoders::tplink::parser`) live beside their code.

use plugsniff::decoders::tplink::discovery::{CrcStatus, build, parse_tdp};
use plugsniff::decoders::tplink::parser::{FramerEvent, MAX_MESSAGE, XorFramer, encode_tcp};
use plugsniff::fuzz_targets::{Records, TARGETS, encode_records};
use plugsniff::synth::frames::{self as sf, DataOpts, KeyFrame, Radio};
use plugsniff::wire::MacAddr;
use plugsniff::wire::dot11::{AmsduIter, Dot11};
use plugsniff::wire::eapol::EapolKey;
use plugsniff::wire::link::{FcsStatus, LinkKind, locate_dot11};
use plugsniff::wire::llc;
use plugsniff::wpa::gtk::{self, Kde};
use proptest::prelude::*;

fn mac() -> impl Strategy<Value = MacAddr> {
    any::<[u8; 6]>().prop_map(MacAddr)
}

fn radio() -> impl Strategy<Value = Radio> {
    (2400u16..6000, any::<u8>(), any::<i8>(), any::<bool>()).prop_map(|(freq, rate, dbm, fcs)| {
        Radio {
            freq,
            rate,
            dbm,
            fcs,
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// `data_header` + `with_radiotap` → `locate_dot11` → `Dot11`: every
    /// field the generator set reads back, the body is the payload, the FCS
    /// (when added) is found and stripped.
    #[test]
    fn data_frame_round_trips_through_radiotap_and_dot11(
        r in radio(),
        to_ds in any::<bool>(),
        (a1, a2, a3) in (mac(), mac(), mac()),
        seq in 0u16..4096,
        tid in 0u8..16,
        protected in any::<bool>(),
        retry in any::<bool>(),
        amsdu in any::<bool>(),
        payload in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let dir = if to_ds { sf::DsDir::ToDs } else { sf::DsDir::FromDs };
        let o = DataOpts { tid, protected, retry, amsdu };
        let mut d11 = sf::data_header(dir, a1, a2, a3, seq, o);
        d11.extend_from_slice(&payload);
        let raw = sf::with_radiotap(&r, &d11);

        let l = locate_dot11(LinkKind::Radiotap, &raw).unwrap();
        prop_assert_eq!(l.start, sf::RADIOTAP_LEN);
        prop_assert_eq!(l.fcs, if r.fcs { FcsStatus::Present } else { FcsStatus::Absent });
        prop_assert_eq!(l.dot11(&raw), &d11[..]);
        prop_assert_eq!(l.radio.channel_freq, Some(r.freq));
        prop_assert_eq!(l.radio.rate_500kbps, Some(r.rate));
        prop_assert_eq!(l.radio.dbm_signal, Some(r.dbm));
        prop_assert!(!l.data_pad);

        let d = Dot11::new_checked(l.dot11(&raw), l.data_pad).unwrap();
        prop_assert!(d.is_data() && d.is_qos() && !d.is_mgmt());
        prop_assert_eq!(d.header_len(), 26);
        prop_assert_eq!(d.body(), &payload[..]);
        prop_assert_eq!((d.to_ds(), d.from_ds()), (to_ds, !to_ds));
        prop_assert_eq!((d.protected(), d.retry(), d.amsdu()), (protected, retry, amsdu));
        prop_assert_eq!(d.tid(), tid);
        prop_assert_eq!(d.seq_ctl(), Some((seq, 0)));
        prop_assert_eq!(d.addr1(), a1);
        prop_assert_eq!(d.addr2(), Some(a2));
        prop_assert_eq!(d.addr3(), Some(a3));
        // Table 9-30: who is BSSID, SA and DA by direction.
        let (bssid, sa, da) = if to_ds { (a1, a2, a3) } else { (a2, a3, a1) };
        prop_assert_eq!(d.bssid(), Some(bssid));
        prop_assert_eq!(d.sa(), Some(sa));
        prop_assert_eq!(d.da(), Some(da));
    }

    /// The same frame as bare 802.11 (DLT 105), with and without an FCS.
    #[test]
    fn bare_dot11_fcs_detection(
        (a1, a2, a3) in (mac(), mac(), mac()),
        payload in proptest::collection::vec(any::<u8>(), 0..100),
        fcs in any::<bool>(),
    ) {
        let mut d11 = sf::data_header(sf::DsDir::ToDs, a1, a2, a3, 1, DataOpts::default());
        d11.extend_from_slice(&payload);
        let mut raw = d11.clone();
        if fcs {
            raw.extend_from_slice(&crc32fast::hash(&d11).to_le_bytes());
        }
        let l = locate_dot11(LinkKind::Ieee80211, &raw).unwrap();
        if fcs {
            prop_assert_eq!(l.fcs, FcsStatus::Present);
            prop_assert_eq!(l.dot11(&raw), &d11[..]);
        } else if l.fcs == FcsStatus::Absent {
            prop_assert_eq!(l.dot11(&raw), &d11[..]);
        }
    }

    /// Management header → view.
    #[test]
    fn mgmt_header_round_trips(
        subtype in 0u8..16,
        (da, sa, bssid) in (mac(), mac(), mac()),
        seq in 0u16..4096,
        body in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut f = sf::mgmt_header(subtype, da, sa, bssid, seq);
        f.extend_from_slice(&body);
        let d = Dot11::new_checked(&f, false).unwrap();
        prop_assert!(d.is_mgmt());
        prop_assert_eq!(d.subtype(), subtype);
        prop_assert_eq!(d.body(), &body[..]);
        prop_assert_eq!((d.addr1(), d.addr2(), d.addr3()), (da, Some(sa), Some(bssid)));
        prop_assert_eq!(d.bssid(), Some(bssid));
        prop_assert_eq!(d.seq_ctl(), Some((seq, 0)));
    }

    /// `amsdu` → `AmsduIter`: the subframes come back in order.
    #[test]
    fn amsdu_round_trips(
        subs in proptest::collection::vec(
            (mac(), mac(), proptest::collection::vec(any::<u8>(), 0..80)), 1..6),
    ) {
        let refs: Vec<(MacAddr, MacAddr, &[u8])> =
            subs.iter().map(|(a, b, m)| (*a, *b, m.as_slice())).collect();
        let body = sf::amsdu(&refs);
        let mut it = AmsduIter::new(&body);
        let got: Vec<_> = it.by_ref().map(|s| (s.da, s.sa, s.msdu.to_vec())).collect();
        prop_assert!(!it.malformed);
        prop_assert_eq!(got, subs);
    }

    /// `llc_snap` → `parse_snap`.
    #[test]
    fn llc_snap_round_trips(et in any::<u16>(), p in proptest::collection::vec(any::<u8>(), 0..64)) {
        let b = sf::llc_snap(et, &p);
        let s = llc::parse_snap(&b).unwrap();
        prop_assert_eq!((s.ethertype, s.payload), (et, &p[..]));
    }

    /// `KeyFrame::to_bytes` → `EapolKey`: every field reads back.
    #[test]
    fn eapol_key_round_trips(
        key_info in any::<u16>(),
        key_len in any::<u16>(),
        replay in any::<u64>(),
        nonce in any::<[u8; 32]>(),
        iv in any::<[u8; 16]>(),
        rsc in any::<u64>(),
        key_data in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let kf = KeyFrame {
            eapol_version: 2, key_info, key_len, replay, nonce, iv, rsc,
            key_data: key_data.clone(),
        };
        let b = kf.to_bytes();
        let k = EapolKey::new_checked(&b).unwrap().unwrap();
        prop_assert_eq!(k.frame(), &b[..]);
        prop_assert_eq!(k.key_info(), key_info);
        prop_assert_eq!(k.version(), (key_info & 7) as u8);
        prop_assert_eq!(k.key_len(), key_len);
        prop_assert_eq!(k.replay_counter(), replay);
        prop_assert_eq!(k.nonce(), &nonce);
        prop_assert_eq!(k.key_iv(), &iv);
        prop_assert_eq!(k.rsc(), rsc);
        prop_assert_eq!(k.key_data(), &key_data[..]);
        // Every truncation is an error, never a panic.
        for n in 0..b.len() {
            prop_assert!(!matches!(EapolKey::new_checked(&b[..n]), Ok(Some(_))));
        }
    }

    /// GTK KDE wrapped with the KEK (`wrap_key_data`) unwraps and parses back
    /// (RFC 3394 + IEEE 802.11-2020 12.7.2); a wrong KEK fails cleanly.
    #[test]
    fn gtk_kde_wrap_unwrap(
        kek in any::<[u8; 16]>(),
        key_id in 0u8..4,
        gtk_key in any::<[u8; 16]>(),
        rsne in proptest::collection::vec(any::<u8>(), 0..30),
        version in 2u8..4,
    ) {
        let mut plain = sf::ie(48, &rsne);
        plain.extend(sf::gtk_kde(key_id, &gtk_key));
        let wrapped = sf::wrap_key_data(&kek, &plain);
        let mut out = Vec::new();
        gtk::decrypt_key_data(version, &kek, &[0; 16], &wrapped, &mut out).unwrap();
        let kdes: Vec<_> = gtk::kdes(&out).collect();
        let found = kdes.iter().any(|k| matches!(k,
            Kde::Gtk { key_id: id, key, .. } if *id == key_id && *key == gtk_key));
        prop_assert!(found, "{:?}", kdes);
        let mut bad = kek;
        bad[0] ^= 1;
        prop_assert!(gtk::decrypt_key_data(version, &bad, &[0; 16], &wrapped, &mut out).is_err());
        prop_assert!(out.is_empty());
    }

    /// TDP `build` → `parse_tdp`: header fields, body, valid CRC.
    #[test]
    fn tdp_round_trips(
        msg_type in any::<u8>(),
        op in any::<u16>(),
        flags in any::<u8>(),
        serial in any::<u32>(),
        body in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let d = build(msg_type, op, flags, serial, &body);
        let m = parse_tdp(&d).unwrap();
        prop_assert_eq!(m.body, &body[..]);
        prop_assert_eq!(m.header.msg_type, msg_type);
        prop_assert_eq!(m.header.op_code, op);
        prop_assert_eq!(m.header.serial, serial);
        prop_assert!(m.size_matches);
        prop_assert_eq!(m.crc, CrcStatus::Valid);
    }

    /// TCP 9999 framing: any split of a stream of framed messages yields the
    /// messages, in order.
    #[test]
    fn xor_framer_any_split(
        msgs in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..200), 1..6),
        cuts in proptest::collection::vec(1usize..50, 1..40),
    ) {
        let stream: Vec<u8> = msgs.iter().flat_map(|m| encode_tcp(m)).collect();
        let mut f = XorFramer::new();
        let mut out = Vec::new();
        let mut at = 0;
        for c in cuts.iter().cycle() {
            if at >= stream.len() { break; }
            let end = (at + c).min(stream.len());
            f.push(&stream[at..end], &mut out);
            at = end;
        }
        let got: Vec<Vec<u8>> = out.into_iter().filter_map(|e| match e {
            FramerEvent::Message(m) => Some(m),
            _ => None,
        }).collect();
        prop_assert_eq!(got, msgs);
        prop_assert!(MAX_MESSAGE >= 200);
    }

    /// `encode_records` → `Records` (the fuzz input format).
    #[test]
    fn fuzz_records_round_trip(
        recs in proptest::collection::vec((any::<u8>(), proptest::collection::vec(any::<u8>(), 0..50)), 0..20),
    ) {
        let enc = encode_records(recs.iter().map(|(t, b)| (*t, b.as_slice())));
        let dec: Vec<(u8, Vec<u8>)> = Records::new(&enc).map(|(t, b)| (t, b.to_vec())).collect();
        prop_assert_eq!(dec, recs);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Every fuzz entry point survives arbitrary bytes (the fuzzers run the
    /// same functions far longer; this keeps the property in `cargo test`).
    #[test]
    fn every_fuzz_target_survives_random_bytes(
        data in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        for (_, f) in TARGETS {
            f(&data);
        }
    }

    /// The same through the record splitter, so record-based targets get
    /// several well-delimited records.
    #[test]
    fn every_fuzz_target_survives_random_records(
        recs in proptest::collection::vec((any::<u8>(), proptest::collection::vec(any::<u8>(), 0..120)), 0..12),
    ) {
        let data = encode_records(recs.iter().map(|(t, b)| (*t, b.as_slice())));
        for (_, f) in TARGETS {
            f(&data);
        }
    }
}
