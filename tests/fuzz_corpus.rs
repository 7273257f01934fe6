//! Replays every committed fuzz input through the same functions the fuzz
//! targets call (`plugsniff::fuzz_targets`): the seed corpora in
//! `fuzz/corpus/<target>/` and the crashes found so far in
//! `fuzz/regressions/<target>/`. Runs on stable in `cargo test`, so a
//! regression fails CI without nightly or cargo-fuzz.
//!
//! The seeds are generated from `captures/demo.pcapng` and a few frames of
//! `../shared/captures` by the ignored test `regenerate_seed_corpus`:
//! `cargo test --test fuzz_corpus -- --ignored regenerate_seed_corpus`.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use plugsniff::engine::{Engine, Mpdu, Msdu, Sink};
use plugsniff::fuzz_targets::{self as ft, TARGETS, encode_records, kind};
use plugsniff::output::pcap_out::msdu_to_ethernet;
use plugsniff::wire::dot11::Dot11;
use plugsniff::wire::link::{self, LinkKind};
use plugsniff::wire::llc;

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    v.retain(|p| p.is_file());
    v.sort();
    v
}

fn replay(sub: &str) -> usize {
    let root = fuzz_dir().join(sub);
    let mut n = 0;
    for d in std::fs::read_dir(&root).unwrap_or_else(|e| panic!("{}: {e}", root.display())) {
        let d = d.unwrap().path();
        if !d.is_dir() {
            continue;
        }
        let name = d.file_name().unwrap().to_str().unwrap().to_string();
        let f = ft::by_name(&name)
            .unwrap_or_else(|| panic!("{}: no fuzz target named {name}", d.display()));
        for p in files(&d) {
            let data = std::fs::read(&p).unwrap();
            // A panic names the file it came from.
            let r = std::panic::catch_unwind(|| f(&data));
            assert!(r.is_ok(), "{} panicked on {}", name, p.display());
            n += 1;
        }
    }
    n
}

#[test]
fn every_target_has_a_seed_corpus() {
    for (name, _) in TARGETS {
        let d = fuzz_dir().join("corpus").join(name);
        assert!(!files(&d).is_empty(), "{} has no seeds", d.display());
        let t = fuzz_dir().join("fuzz_targets").join(format!("{name}.rs"));
        assert!(t.exists(), "{} missing", t.display());
    }
}

#[test]
fn seed_corpus_replays_clean() {
    assert!(replay("corpus") >= TARGETS.len());
}

#[test]
fn regressions_replay_clean() {
    if fuzz_dir().join("regressions").is_dir() {
        replay("regressions");
    }
}

#[test]
fn seed_corpus_is_small() {
    let mut total = 0;
    for d in ["corpus", "regressions"] {
        let Ok(rd) = std::fs::read_dir(fuzz_dir().join(d)) else {
            continue;
        };
        for t in rd {
            for f in files(&t.unwrap().path()) {
                total += std::fs::metadata(f).unwrap().len();
            }
        }
    }
    assert!(total < 1 << 20, "committed fuzz inputs total {total} bytes");
}

/// The watcher seed (the whole demo capture) decodes what the demo holds:
/// the harness really reaches the decoders.
#[test]
fn whole_stack_seed_reaches_the_decoders() {
    let data = std::fs::read(fuzz_dir().join("corpus/watch_radiotap/seed-demo-all")).unwrap();
    ft::watch_radiotap(&data);
    let mut w = plugsniff::watch::Watcher::new(
        vec![common::passphrase(Some(ft::DEMO_SSID), ft::DEMO_PASSPHRASE)],
        Default::default(),
    );
    for (i, (_, rec)) in ft::Records::new(&data).enumerate() {
        let ts = plugsniff::wire::Ts::from_micros(i as i64, 0);
        w.process_80211(ts, LinkKind::Radiotap, rec, rec.len() as u32);
    }
    assert!(
        w.an.stats
            .get(plugsniff::report::counters::Count::TplinkMessages)
            >= 10,
        "{:?}",
        w.an.stats
    );
    let w = ft::watch_radiotap_run(&data);
    assert!(
        w.an.stats
            .get(plugsniff::report::counters::Count::TplinkMessages)
            >= 10,
        "{:?}",
        w.an.stats
    );
    // Fuzzed plaintext encrypted by the harness reaches the decoders.
    let data = std::fs::read(fuzz_dir().join("corpus/watch_radiotap/seed-handshake-then-protect"))
        .unwrap();
    let w = ft::watch_radiotap_run(&data);
    assert!(w.engine.counters.decrypted >= 30, "{:?}", w.engine.counters);
    assert!(
        w.an.stats
            .get(plugsniff::report::counters::Count::TplinkMessages)
            >= 5,
        "{:?}",
        w.an.stats
    );
}

// ---------------------------------------------------------------------------
// Seed generation
// ---------------------------------------------------------------------------

#[derive(Default)]
struct Grab {
    /// Decrypted MSDUs: (sa, da, LLC bytes, as Ethernet).
    msdus: Vec<(Vec<u8>, Vec<u8>)>,
    /// Protected MPDUs as captured are found by index elsewhere.
    decrypted_mpdus: usize,
}

impl Sink for Grab {
    fn mpdu(&mut self, m: &Mpdu<'_>) {
        if m.decrypted {
            self.decrypted_mpdus += 1;
        }
    }
    fn msdu(&mut self, m: &Msdu<'_>) {
        self.msdus.push((m.llc.to_vec(), msdu_to_ethernet(m)));
    }
}

fn dot11_of(kind: LinkKind, raw: &[u8]) -> Option<(Vec<u8>, bool)> {
    let l = link::locate_dot11(kind, raw).ok()?;
    Some((l.dot11(raw).to_vec(), l.data_pad))
}

fn eapol_of(dot11: &[u8]) -> Option<Vec<u8>> {
    let d = Dot11::new_checked(dot11, false).ok()?;
    if !d.is_data() || d.protected() {
        return None;
    }
    let s = llc::parse_snap(d.body())?;
    (s.ethertype == llc::ethertype::EAPOL).then(|| s.payload.to_vec())
}

/// Ethernet frame → (IP proto, sport, dport, seq, flags, payload) for TCP/UDP.
fn l4(eth: &[u8]) -> Option<(u8, u16, u16, u32, u8, Vec<u8>)> {
    let f = plugsniff::flows::ip::parse_link(1, eth).ok()?;
    let p = plugsniff::flows::ip::parse_ip_ethertype(f.ethertype, f.payload).ok()??;
    match p.l4 {
        plugsniff::flows::ip::L4::Tcp {
            src_port,
            dst_port,
            seq,
            flags,
            payload,
            ..
        } => Some((6, src_port, dst_port, seq, flags.0, payload.to_vec())),
        plugsniff::flows::ip::L4::Udp {
            src_port,
            dst_port,
            payload,
        } => Some((17, src_port, dst_port, 0, 0, payload.to_vec())),
        _ => None,
    }
}

fn dhcp_ack(hostname: &str) -> Vec<u8> {
    let mut p = vec![0u8; 240];
    p[0] = 2; // BOOTREPLY
    p[1] = 1;
    p[2] = 6;
    p[16..20].copy_from_slice(&[192, 168, 0, 41]);
    p[28..34].copy_from_slice(&[0x1c, 0x3b, 0xf3, 0x6e, 0xa8, 0x12]);
    p[236..240].copy_from_slice(&[99, 130, 83, 99]);
    p.extend_from_slice(&[53, 1, 5, 12, hostname.len() as u8]);
    p.extend_from_slice(hostname.as_bytes());
    p.push(255);
    p
}

#[test]
#[ignore = "writes fuzz/corpus; run by hand after changing the harnesses"]
fn regenerate_seed_corpus() {
    let mut seeds: BTreeMap<(&str, String), Vec<u8>> = BTreeMap::new();
    let demo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("captures/demo.pcapng");
    let (dk, frames) = common::read_all(&demo);
    assert_eq!(dk, LinkKind::Radiotap);

    // Decrypt the demo once, keeping MSDUs and the keys.
    let mut e = Engine::new(vec![common::passphrase(
        Some(ft::DEMO_SSID),
        ft::DEMO_PASSPHRASE,
    )]);
    let mut g = Grab::default();
    for (ts, len, f) in &frames {
        e.process(*ts, dk, f, *len, &mut g);
    }
    let tks: Vec<[u8; 16]> = e.keys.history().iter().map(|k| *k.tk.key16()).collect();

    // Link headers: the first, a data frame and an EAPOL frame of the demo;
    // two frames of every shared capture (radiotap, Prism, PPI, bare).
    let mut eapols = Vec::new();
    let mut protected = Vec::new();
    let mut mgmt = Vec::new();
    for (i, (_, _, f)) in frames.iter().enumerate() {
        let (d, _) = dot11_of(dk, f).unwrap();
        if let Some(x) = eapol_of(&d) {
            eapols.push((i, x));
        } else if d.len() > 1 && d[1] & 0x40 != 0 {
            protected.push((i, d));
        } else if d[0] & 0x0c == 0 {
            mgmt.push((i, d));
        }
    }
    seeds.insert(("radiotap", "demo-beacon".into()), frames[0].2.clone());
    seeds.insert(
        ("radiotap", "demo-eapol".into()),
        frames[eapols[0].0].2.clone(),
    );
    if let Some(dir) = common::shared_captures() {
        for name in ["wpa.cap", "wpa-eap-tls.pcap", "n-02.cap", "testm1m2m3.pcap"] {
            let (k, fr) = common::read_all(&dir.join(name));
            for (j, (_, _, f)) in fr.iter().take(2).enumerate() {
                seeds.insert(("radiotap", format!("{name}-{j}")), f.clone());
                if let Some((d, pad)) = dot11_of(k, f) {
                    let mut v = vec![u8::from(pad)];
                    v.extend_from_slice(&d);
                    seeds.insert(("dot11", format!("{name}-{j}")), v);
                }
            }
            // An EAPOL-Key frame of each, for the tracker.
            let ks: Vec<Vec<u8>> = fr
                .iter()
                .filter_map(|(_, _, f)| eapol_of(&dot11_of(k, f)?.0))
                .take(4)
                .collect();
            if !ks.is_empty() {
                let recs: Vec<(u8, &[u8])> = ks
                    .iter()
                    .enumerate()
                    .map(|(i, x)| ((i % 2 == 0) as u8 | 2, x.as_slice()))
                    .collect();
                seeds.insert(("eapol", name.into()), encode_records(recs));
            }
        }
    }

    // 802.11 views: a beacon, an association request, a protected QoS frame.
    for (label, d) in [
        ("beacon", &mgmt[0].1),
        ("mgmt-late", &mgmt[mgmt.len() - 1].1),
        ("protected", &protected[0].1),
    ] {
        let mut v = vec![0u8];
        v.extend_from_slice(d);
        seeds.insert(("dot11", format!("demo-{label}")), v);
    }
    // An A-MSDU body behind a plain QoS header.
    {
        use plugsniff::synth::frames as sf;
        use plugsniff::wire::MacAddr;
        let a = MacAddr([2; 6]);
        let b = MacAddr([4; 6]);
        let llc1 = sf::llc_snap(0x0806, &[0; 28]);
        let llc2 = sf::llc_snap(0x0800, &[0x45; 30]);
        let mut f = sf::data_header(
            sf::DsDir::FromDs,
            a,
            b,
            b,
            1,
            sf::DataOpts {
                amsdu: true,
                ..Default::default()
            },
        );
        f.extend(sf::amsdu(&[(a, b, &llc1), (a, b, &llc2)]));
        let mut v = vec![0u8];
        v.extend_from_slice(&f);
        seeds.insert(("dot11", "amsdu".into()), v);
    }

    // EAPOL: the first station's four-way handshake and a group handshake.
    let hs: Vec<(u8, &[u8])> = eapols
        .iter()
        .take(4)
        .enumerate()
        .map(|(i, (_, x))| ((i % 2 == 0) as u8 | 2, x.as_slice()))
        .collect();
    seeds.insert(("eapol", "demo-4way".into()), encode_records(hs));

    // CCMP: key ‖ header length ‖ protected frame, for frames of the demo.
    let mut out = Vec::new();
    let mut n = 0;
    for (_, d) in &protected {
        let hl = Dot11::new_checked(d, false).unwrap().header_len();
        if let Some(tk) = tks
            .iter()
            .find(|tk| plugsniff::crypto::ccmp::decrypt(tk, d, hl, &mut out).is_ok())
        {
            let mut v = tk.to_vec();
            v.push(hl as u8);
            v.extend_from_slice(d);
            seeds.insert(("ccmp_decrypt", format!("demo-{n}")), v);
            n += 1;
            if n == 3 {
                break;
            }
        }
    }
    // CCMP batches: demo frames as they are, plus frames the harness encrypts
    // (tag bit 7) under both keys, of lengths around block boundaries.
    {
        let mut recs: Vec<(u8, Vec<u8>)> = Vec::new();
        for (_, d) in protected.iter().take(6) {
            let hl = Dot11::new_checked(d, false).unwrap().header_len() as u8;
            recs.push((hl, d.clone()));
        }
        for (i, len) in [0usize, 1, 15, 16, 17, 100, 300, 1500]
            .into_iter()
            .enumerate()
        {
            let (tag, fc0) = if i % 2 == 0 {
                (0x80 | 24, 0x08)
            } else {
                (0xc0 | 26, 0x88)
            };
            let mut f = vec![fc0, 0x41, 0, 0];
            f.extend((0..20).map(|b| b as u8));
            if fc0 == 0x88 {
                f.extend([0, 0]);
            }
            f.extend((0..len).map(|b| (b * 7) as u8));
            recs.push((tag, f));
        }
        let mut v = tks.first().copied().unwrap_or([0; 16]).to_vec();
        v.extend(encode_records(recs.iter().map(|(t, f)| (*t, f.as_slice()))));
        seeds.insert(("ccmp_batch", "demo-mixed".into()), v);
    }
    // TKIP: a synthetic protected frame under the harness key.
    {
        use plugsniff::synth::frames as sf;
        use plugsniff::wire::MacAddr;
        let tk = *b"0123456789abcdef";
        let h = sf::data_header(
            sf::DsDir::ToDs,
            MacAddr([1; 6]),
            MacAddr([2; 6]),
            MacAddr([3; 6]),
            7,
            sf::DataOpts {
                protected: true,
                ..Default::default()
            },
        );
        let pt = sf::llc_snap(0x0800, b"E\0\0\x1c tkip seed payload, 8 byte mic");
        let f = plugsniff::crypto::tkip::encrypt_mpdu(&tk, [2; 6], &h, 0x0102_0304, 1, &pt);
        let mut v = tk.to_vec();
        v.push(26);
        v.extend_from_slice(&f);
        seeds.insert(("tkip_decrypt", "synthetic".into()), v);
    }

    // GCMP-128/256 and CCMP-256: one frame each under a fixed 32-byte key.
    {
        use plugsniff::synth::frames as sf;
        use plugsniff::wire::MacAddr;
        let key: Vec<u8> = (0u8..32).collect();
        let mut h = sf::data_header(
            sf::DsDir::ToDs,
            MacAddr([1; 6]),
            MacAddr([2; 6]),
            MacAddr([3; 6]),
            9,
            sf::DataOpts {
                protected: true,
                tid: 5,
                ..Default::default()
            },
        );
        h[1] |= 0x40;
        let pt = sf::llc_snap(0x0800, b"E\0\0\x1c gcmp seed payload");
        for (name, sel, f) in [
            (
                "gcmp128",
                26u8,
                plugsniff::crypto::gcmp::encrypt(&key[..16], &h, 7, 0, &pt),
            ),
            (
                "gcmp256",
                0x40 | 26,
                plugsniff::crypto::gcmp::encrypt(&key, &h, 7, 0, &pt),
            ),
            (
                "ccmp256",
                0x80 | 26,
                plugsniff::crypto::ccmp::encrypt_256(
                    key.as_slice().try_into().unwrap(),
                    &h,
                    7,
                    0,
                    &pt,
                ),
            ),
        ] {
            let mut v = key.clone();
            v.push(sel);
            v.extend_from_slice(&f);
            seeds.insert(("gcmp_decrypt", name.into()), v);
        }
        // BIP: a broadcast deauthentication with an MME, per algorithm.
        use plugsniff::crypto::bip::{self, BipAlgo};
        let mut deauth =
            sf::mgmt_header(12, MacAddr::BROADCAST, MacAddr([2; 6]), MacAddr([2; 6]), 9);
        deauth.extend_from_slice(&2u16.to_le_bytes());
        for (i, a) in [
            BipAlgo::Cmac128,
            BipAlgo::Cmac256,
            BipAlgo::Gmac128,
            BipAlgo::Gmac256,
        ]
        .into_iter()
        .enumerate()
        {
            let mut v = key.clone();
            v.push(i as u8);
            v.extend(bip::protect(a, &key[..a.key_len()], &deauth, 4, 4));
            seeds.insert(("bip", a.name().to_lowercase()), v);
        }
        // The fragment cache: in-order fragments, a mixed-key continuation, a
        // PN gap, a plaintext fragment, a flush between fragments.
        let frag = |seq: u16, flags: u8, pn: u64, body: &[u8]| {
            let mut r = seq.to_le_bytes().to_vec();
            r.push(flags);
            r.extend_from_slice(&pn.to_le_bytes()[..6]);
            r.extend_from_slice(body);
            r
        };
        let recs: Vec<(u8, Vec<u8>)> = vec![
            (0x00, frag(1, 1, 10, b"first")),
            (0x10, frag(1, 1, 11, b"second")),
            (0x20, frag(1, 0, 12, b"last")),
            (0x00, frag(2, 1, 20, b"old key")),
            (0x14, frag(2, 0, 21, b"new key")),
            (0x00, frag(3, 1, 0x101, b"gap")),
            (0x10, frag(3, 0, 0x103, b"gap")),
            (0x00, frag(4, 1, 30, b"protected")),
            (0x18, frag(4, 0, 0, b"plaintext")),
            (0x00, frag(5, 3, 40, b"flushed")),
            (0x10, frag(5, 0, 41, b"after flush")),
            (0x00, frag(6, 9, 50, b"tkip")),
            (0x10, frag(6, 8, 52, b"tkip gap is fine")),
        ];
        seeds.insert(
            ("defrag", "fragattacks".into()),
            encode_records(recs.iter().map(|(t, r)| (*t, r.as_slice()))),
        );
    }

    // Wireshark key files and FT management frames.
    seeds.insert(
        ("wireshark_keys", "every-type".into()),
        format!(
            "# keys\n\"wep\",\"0102030405\"\n\"wpa-pwd\",\"bo%24%24password:Neheb\"\n\"wpa-pwd\",\"abcdefgh\"\n\
             \"wpa-psk\",\"{}\"\n\"wpa-psk\",\"{}\"\n\"tk\",\"{}\"\n\"msk\",\"{}\"\n",
            "11".repeat(32),
            "22".repeat(48),
            "33".repeat(16),
            "44".repeat(64)
        )
        .into_bytes(),
    );
    {
        use plugsniff::synth::network::{self, NetworkSpec};
        use plugsniff::wpa::keys::Cipher;
        let cap = network::build(&NetworkSpec::new(0x000F_AC04, Cipher::Ccmp));
        let mut recs: Vec<(u8, Vec<u8>)> = Vec::new();
        for (_, f) in &cap.frames {
            let d = &f[plugsniff::synth::frames::RADIOTAP_LEN..];
            let subtype = d[0] >> 4;
            if d[0] & 0x0c == 0 && matches!(subtype, 0 | 1 | 2 | 3 | 8 | 11) {
                // Tag: subtype, and bit 4 for frames the AP sends.
                let from_ap = d[10..16] == cap.spec.ap.0 || d[10..16] == cap.spec.ap2.0;
                recs.push((subtype | if from_ap { 0 } else { 0x10 }, d[24..].to_vec()));
            }
        }
        seeds.insert(
            ("ft", "ft-psk-roam".into()),
            encode_records(recs.iter().map(|(t, r)| (*t, r.as_slice()))),
        );
    }

    // From the decrypted MSDUs: LLC/IP, TCP segments, payloads per protocol.
    let mut tcp9999 = Vec::new();
    let mut stream_up = Vec::new();
    let mut eth_recs: Vec<Vec<u8>> = Vec::new();
    let mut tls = None;
    for (i, (llc_b, eth)) in g.msdus.iter().enumerate() {
        if i < 3 {
            let mut v = vec![1u8];
            v.extend_from_slice(eth);
            seeds.insert(("llc_ip", format!("demo-eth-{i}")), v);
            let mut v = vec![0u8];
            v.extend_from_slice(llc_b);
            seeds.insert(("llc_ip", format!("demo-llc-{i}")), v);
        }
        eth_recs.push(eth.clone());
        let Some((proto, sp, dp, seq, flags, payload)) = l4(eth) else {
            continue;
        };
        match (proto, sp, dp) {
            (6, _, 9999) => {
                let mut rec = seq.to_be_bytes().to_vec();
                rec.extend_from_slice(&payload);
                tcp9999.push((flags, rec));
                stream_up.extend_from_slice(&payload);
            }
            (6, _, 50443) if !payload.is_empty() => tls = Some(payload),
            (17, 20002, _) | (17, _, 20002) => {
                let k = seeds.keys().filter(|(t, _)| *t == "tdp").count();
                if k < 3 {
                    seeds.insert(("tdp", format!("demo-{k}")), payload);
                }
            }
            (17, 9999, _) | (17, _, 9999) => {
                seeds.insert(("tplink", format!("udp-{sp}-{dp}")), payload);
            }
            (17, 53, _) => {
                let mut v = vec![1u8];
                v.extend_from_slice(&payload);
                seeds.insert(("names", format!("dns-{i}")), v);
            }
            _ => {}
        }
    }
    let recs: Vec<(u8, &[u8])> = tcp9999.iter().map(|(f, r)| (*f, r.as_slice())).collect();
    seeds.insert(
        ("tcp_reassembly", "demo-9999-up".into()),
        encode_records(recs),
    );
    let mut shuffled = tcp9999.clone();
    shuffled.reverse();
    let recs: Vec<(u8, &[u8])> = shuffled.iter().map(|(f, r)| (*f, r.as_slice())).collect();
    seeds.insert(
        ("tcp_reassembly", "demo-9999-reversed".into()),
        encode_records(recs),
    );
    seeds.insert(("tplink", "tcp-stream-up".into()), stream_up.clone());
    seeds.insert(
        ("tplink", "session-records".into()),
        encode_records([(0u8, &stream_up[..stream_up.len().min(200)])]),
    );
    let hello = tls.unwrap_or_else(|| plugsniff::synth::frames::tls_client_hello([7; 32], "x"));
    seeds.insert(("tls_meta", "demo-client-hello".into()), hello.clone());
    seeds.insert(
        ("tls_meta", "records".into()),
        encode_records([(0u8, &hello[..40]), (0, &hello[40..])]),
    );
    seeds.insert(("names", "dhcp-ack".into()), {
        let mut v = vec![0u8];
        v.extend(dhcp_ack("HS110"));
        v
    });

    // Config.
    seeds.insert(
        ("config", "demo".into()),
        std::fs::read(demo.with_file_name("demo.toml")).unwrap(),
    );
    seeds.insert(
        ("config", "psk".into()),
        b"[[network]]\nssid = \"x\"\npsk = \"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"\n"
            .to_vec(),
    );

    // Whole stack: every demo frame; the handshakes then fuzzable plaintext
    // under the harness's own encryption; the decrypted traffic as Ethernet.
    let all: Vec<(u8, &[u8])> = frames
        .iter()
        .map(|(_, _, f)| (kind::RADIOTAP, f.as_slice()))
        .collect();
    seeds.insert(("watch_radiotap", "demo-all".into()), encode_records(all));
    let mut recs: Vec<(u8, &[u8])> = frames[..eapols[3].0 + 1]
        .iter()
        .map(|(_, _, f)| (kind::RADIOTAP, f.as_slice()))
        .collect();
    for (llc_b, _) in g.msdus.iter().skip(5).take(40) {
        recs.push((kind::PROTECT | 4, llc_b.as_slice()));
    }
    seeds.insert(
        ("watch_radiotap", "handshake-then-protect".into()),
        encode_records(recs),
    );
    let recs: Vec<(u8, &[u8])> = eth_recs.iter().map(|e| (4u8, e.as_slice())).collect();
    seeds.insert(
        ("watch_ethernet", "demo-decrypted".into()),
        encode_records(recs),
    );

    // The capture reader: one tiny file per format variant, and the demo's
    // first blocks; the first byte picks the read pattern.
    {
        use plugsniff::synth::capfile::*;
        let mut files: Vec<(&str, Vec<u8>)> = Vec::new();
        for (name, flavor, big) in [
            ("pcap-us-le", PcapFlavor::Micros, false),
            ("pcap-ns-be", PcapFlavor::Nanos, true),
            ("pcap-modified-be", PcapFlavor::Modified, true),
        ] {
            let mut b = PcapBuilder::new(flavor, big, 127, 65535);
            b.record(1, 2, 9, b"radio").record(3, 4, 0, b"");
            files.push((name, b.into_bytes()));
        }
        let mut b = PcapNgBuilder::new(false);
        b.block(BT_NRB, &[0; 4]);
        b.idb(127, 0, &[(OPT_IF_TSRESOL, &[9])]);
        let off = b.tsoffset(-5);
        b.idb(
            1,
            4,
            &[(OPT_IF_TSRESOL, &[0x80 | 20]), (OPT_IF_TSOFFSET, &off)],
        );
        b.epb(1, 1 << 21, 14, b"ethernet frame");
        b.block(BT_ISB, &[0; 8]);
        b.spb(6, b"simple");
        b.section(true);
        b.idb(105, 0, &[]);
        b.pb(0, 7, 2, b"pb");
        b.block(BT_CUSTOM, b"\x00\x00\x7e\x2acustom");
        files.push(("pcapng-mixed", b.into_bytes()));
        let demo_bytes = std::fs::read(&demo).unwrap();
        files.push(("demo-head", demo_bytes[..400].to_vec()));
        for (i, (name, f)) in files.iter().enumerate() {
            let sel = [0u8, 7, 255][i % 3];
            seeds.insert(("pcap_reader", (*name).into()), [&[sel][..], f].concat());
        }
    }

    let root = fuzz_dir().join("corpus");
    for ((t, name), bytes) in &seeds {
        let d = root.join(t);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(format!("seed-{name}")), bytes).unwrap();
    }
    eprintln!("wrote {} seeds", seeds.len());
}

/// The discovery targets' seeds (mdns, ssdp, dhcp, ewelink_http, matter,
/// homekit), from the synthetic generators only:
/// `cargo test --test fuzz_corpus -- --ignored regenerate_discovery_seeds`.
#[test]
#[ignore = "writes fuzz/corpus; run by hand after changing the harnesses"]
fn regenerate_discovery_seeds() {
    use plugsniff::synth::{
        dhcp as sdhcp, ewelink as sew, matter as smat, mdns as smd, ssdp as sssdp,
    };
    use plugsniff::wire::MacAddr;
    let mut seeds: Vec<(&str, &str, Vec<u8>)> = Vec::new();
    let ann = smd::announcement(
        &[
            smd::examples::HOMEKIT_PLUG,
            smd::examples::MATTER_PLUG,
            smd::examples::SHELLY_GEN1,
        ],
        false,
    );
    let state = serde_json::json!({"switch":"on","rssi":-60,"power":"12.5"});
    let ew = sew::announcement(
        [192, 168, 0, 80],
        &sew::txt(
            sew::DEVICE_ID,
            "plug",
            1,
            &state,
            Some((sew::DEVICE_KEY, [1; 16])),
        ),
    );
    let q = smd::browse(&["_hap._tcp", "_ewelink._tcp"]);
    seeds.push((
        "mdns",
        "announcements",
        encode_records([(0, &ann[..]), (0, &ew[..]), (0, &q[..])]),
    ));
    let n = sssdp::wemo_notify([192, 168, 0, 81], 49153, "221517K0101769", false);
    let m = sssdp::msearch("ssdp:all", 2);
    let r = sssdp::search_reply(
        "http://192.168.0.90:80/description.xml",
        "Linux UPnP/1.0 IpBridge/1.26.0",
        "uuid:x::upnp:rootdevice",
        "upnp:rootdevice",
        &[("hue-bridgeid", "001788FFFE255ACC")],
    );
    seeds.push((
        "ssdp",
        "notify-search-reply",
        encode_records([(0, &n[..]), (0, &m[..]), (1, &r[..])]),
    ));
    let d = sdhcp::request(
        3,
        1,
        MacAddr([0x24, 0x0a, 0xc4, 1, 2, 3]),
        "ESP_010203",
        "udhcp 1.30.1",
        sdhcp::UDHCPC_PARAMS,
        Some([192, 168, 0, 77]),
    );
    seeds.push((
        "dhcp",
        "request",
        encode_records([(0, &d[..]), (1, &dhcp_ack("shellyplug-s-7C87CE")[..])]),
    ));
    let conv = sew::conversation([192, 168, 0, 80], sew::DEVICE_KEY);
    let recs: Vec<(u8, &[u8])> = conv[1]
        .iter()
        .map(|(to_server, b)| (if *to_server { 0 } else { 1 }, b.as_slice()))
        .collect();
    seeds.push(("ewelink_http", "info", encode_records(recs)));
    let s1 = smat::sigma1(1);
    let msg = smat::message(0x4242, 9, None, smat::Dest::Node(2), &[0x55; 40]);
    let mut udp = vec![0u8];
    udp.extend(encode_records([(0, &s1[..]), (1, &msg[..])]));
    seeds.push(("matter", "udp", udp));
    let mut tcp = vec![1u8];
    tcp.extend(encode_records([(
        0,
        &smat::tcp_stream(&[s1.clone(), msg.clone()])[..],
    )]));
    seeds.push(("matter", "tcp", tcp));
    let mut hap = b"POST /pair-verify HTTP/1.1\r\nContent-Length: 3\r\n\r\n\x06\x01\x01".to_vec();
    hap.extend_from_slice(&[8, 0]);
    hap.extend_from_slice(&[0xee; 24]);
    seeds.push((
        "homekit",
        "pair-verify-then-frame",
        encode_records([(0, &hap[..]), (1, &[4, 0, 1, 2, 3, 4][..])]),
    ));
    let root = fuzz_dir().join("corpus");
    for (t, name, bytes) in &seeds {
        let d = root.join(t);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(format!("seed-{name}")), bytes).unwrap();
    }
    eprintln!("wrote {} seeds", seeds.len());
}
