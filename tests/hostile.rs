//! Hostile input through the whole engine: every real frame mutated, truncated
//! at every length and spliced, with the right keys loaded so the mutations reach
//! the handshake tracker and the decryptors. Nothing may panic, and the frame
//! accounting identity must hold throughout.

mod common;

use common::*;
use plugsniff::engine::{Engine, NullSink};
use plugsniff::wire::Ts;
use plugsniff::wire::link::LinkKind;

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
    hammer_frames(kind, &frames, nets, rounds);
}

fn hammer_frames(
    kind: LinkKind,
    frames: &[(Ts, u32, Vec<u8>)],
    nets: Vec<plugsniff::wpa::handshake::NetworkSecret>,
    rounds: usize,
) {
    let mut e = Engine::new(nets);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    // The real capture first, so keys are installed and mutations hit the decryptors.
    for (ts, len, f) in frames {
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

/// The Shelly, Wemo and Meross decoders (HTTP, WebSocket, CoAP, SOAP/XML,
/// Meross JSON) on their synthetic conversations mutated, truncated at every
/// length and spliced, through the fuzz entry points (which also check the
/// memory contract: bounded while running, nothing held after a release).
#[test]
fn vendor_decoders_survive_mutations() {
    use plugsniff::decoders::Direction;
    use plugsniff::fuzz_targets::{self as ft, encode_records};
    use plugsniff::synth::{meross, shelly, wemo};
    let mut seeds: Vec<(ft::Target, Vec<u8>)> = Vec::new();
    let recs = |ex: &plugsniff::synth::plugs::TcpExchange| {
        encode_records(
            ex.segments
                .iter()
                .map(|(d, b)| ((*d == Direction::ToClient) as u8, b.as_slice())),
        )
    };
    let sh = shelly::traffic();
    for ex in &sh.tcp {
        seeds.push((ft::shelly_http, recs(ex)));
        seeds.push((ft::websocket, recs(ex)));
    }
    seeds.push((
        ft::coiot,
        encode_records(sh.udp.iter().map(|d| (0u8, d.payload.as_slice()))),
    ));
    for ex in &wemo::traffic().tcp {
        seeds.push((ft::wemo_http, recs(ex)));
    }
    for ex in &meross::traffic().tcp {
        seeds.push((ft::meross_http, recs(ex)));
    }
    let mut rng = Rng(0x51e1_1e5e_ed00_0001);
    for (f, seed) in &seeds {
        f(seed);
        for n in (0..seed.len()).step_by(7) {
            f(&seed[..n]);
        }
        for _ in 0..300 {
            let mut m = seed.clone();
            match rng.below(4) {
                0 => {
                    for _ in 0..=rng.below(8) {
                        let i = rng.below(m.len());
                        m[i] ^= 1 << rng.below(8);
                    }
                }
                1 => {
                    let (_, g) = &seeds[rng.below(seeds.len())];
                    let cut = rng.below(m.len());
                    m.truncate(cut);
                    m.extend_from_slice(&g[rng.below(g.len())..]);
                }
                2 => {
                    // Tag bytes: gaps, releases, mid-stream starts.
                    let i = rng.below(m.len().min(64));
                    m[i] = rng.next() as u8;
                }
                _ => {
                    let i = rng.below(m.len());
                    m[i] = [0x00, 0xff, 0x7f, 0x80, b'{', b'"', b'<', b'&'][rng.below(8)];
                }
            }
            f(&m);
        }
    }
    for n in 0..400 {
        let g: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
        for f in [
            ft::shelly_http,
            ft::websocket,
            ft::coiot,
            ft::wemo_http,
            ft::meross_http,
        ] {
            f(&g);
        }
    }
}

/// Mutates a seed: bit flips, truncation, a splice with another seed, or a
/// length-ish byte overwritten (DNS counts and lengths, HTTP digits).
fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut m = seeds[rng.below(seeds.len())].clone();
    if m.is_empty() {
        return m;
    }
    match rng.below(4) {
        0 => {
            for _ in 0..=rng.below(4) {
                let i = rng.below(m.len());
                m[i] ^= 1 << rng.below(8);
            }
        }
        1 => m.truncate(rng.below(m.len() + 1)),
        2 => {
            let g = &seeds[rng.below(seeds.len())];
            let cut = rng.below(m.len());
            m.truncate(cut);
            m.extend_from_slice(&g[rng.below(g.len().max(1))..]);
        }
        _ => {
            let i = rng.below(m.len());
            m[i] = [0x00, 0xff, 0xc0, 0x3f, b'9', b'='][rng.below(6)];
        }
    }
    m
}

/// The discovery decoders (mDNS, SSDP, DHCP, eWeLink HTTP, Matter, HomeKit)
/// on mutated generator output: nothing panics, memory stays within the
/// harnesses' asserted bounds (`fuzz_targets`).
#[test]
fn mutated_discovery_traffic_never_panics() {
    use plugsniff::fuzz_targets::{self as ft, encode_records};
    use plugsniff::synth::{
        dhcp as sdhcp, ewelink as sew, matter as smat, mdns as smd, ssdp as sssdp,
    };
    use plugsniff::wire::MacAddr;
    let mut rng = Rng(0x5eed_d15c_0de5_0001);
    let state = serde_json::json!({"switch":"on","rssi":-60,"power":"12.5","pad":"x".repeat(300)});
    let mdns_seeds = vec![
        smd::announcement(
            &[
                smd::examples::HOMEKIT_PLUG,
                smd::examples::MATTER_PLUG,
                smd::examples::MATTER_OPERATIONAL,
            ],
            false,
        ),
        smd::announcement(
            &[
                smd::examples::SHELLY_GEN1,
                smd::examples::SHELLY_GEN2,
                smd::examples::CHROMECAST,
            ],
            true,
        ),
        sew::announcement(
            [192, 168, 0, 80],
            &sew::txt(
                sew::DEVICE_ID,
                "plug",
                1,
                &state,
                Some((sew::DEVICE_KEY, [1; 16])),
            ),
        ),
        smd::browse(&["_hap._tcp", "_matterc._udp", "_ewelink._tcp"]),
    ];
    let ssdp_seeds = vec![
        sssdp::wemo_notify([192, 168, 0, 81], 49153, "221517K0101769", false),
        sssdp::msearch("urn:Belkin:device:**", 2),
        sssdp::search_reply(
            "http://[fe80::1]:1400/xml/device_description.xml",
            "Linux UPnP/1.0 Sonos/70.3-35220 (ZPS1)",
            "uuid:RINCON_1::urn:schemas-upnp-org:device:ZonePlayer:1",
            "urn:schemas-upnp-org:device:ZonePlayer:1",
            &[],
        ),
    ];
    let dhcp_seeds = vec![sdhcp::request(
        3,
        1,
        MacAddr([0x24, 0x0a, 0xc4, 1, 2, 3]),
        "ESP_010203.home",
        "udhcp 1.30.1",
        sdhcp::UDHCPC_PARAMS,
        Some([192, 168, 0, 77]),
    )];
    let http_seeds: Vec<Vec<u8>> = sew::conversation([192, 168, 0, 80], sew::DEVICE_KEY)
        .into_iter()
        .flatten()
        .map(|(_, b)| b)
        .collect();
    let s1 = smat::sigma1(1);
    let msg = smat::message(0x4242, 9, Some(1), smat::Dest::Group(3), &[0x55; 40]);
    let matter_seeds = vec![s1.clone(), msg.clone(), smat::tcp_stream(&[s1, msg])];
    let mut hap = b"POST /pair-verify HTTP/1.1\r\nContent-Length: 3\r\n\r\n\x06\x01\x01".to_vec();
    hap.extend_from_slice(&[8, 0]);
    hap.extend_from_slice(&[0xee; 24]);
    let hap_seeds = vec![hap];

    type Target = fn(&[u8]);
    let sets: [(Target, &[Vec<u8>], u8); 6] = [
        (ft::mdns, &mdns_seeds, 0),
        (ft::ssdp, &ssdp_seeds, 0),
        (ft::dhcp, &dhcp_seeds, 0),
        (ft::ewelink_http, &http_seeds, 0),
        (ft::matter, &matter_seeds, 1),
        (ft::homekit, &hap_seeds, 0),
    ];
    for (target, seeds, prefix_odd) in sets {
        for round in 0..3_000 {
            // A few records per input, directions and gap bits random.
            let recs: Vec<(u8, Vec<u8>)> = (0..=rng.below(4))
                .map(|_| (rng.next() as u8 & 0x0f, mutate(&mut rng, seeds)))
                .collect();
            let mut input = Vec::new();
            if prefix_odd == 1 {
                input.push((round & 1) as u8);
            }
            input.extend(encode_records(recs.iter().map(|(t, b)| (*t, b.as_slice()))));
            target(&input);
        }
        // Every truncation of every seed, as one record.
        for s in seeds {
            for n in 0..s.len() {
                let mut input = Vec::new();
                if prefix_odd == 1 {
                    input.push(1);
                }
                input.extend(encode_records([(0u8, &s[..n])]));
                target(&input);
            }
        }
    }
}

/// The Tuya decoder under mutated conversations of every version (bit
/// flips, truncations, splices, random segmentation, gaps), with the right
/// key configured so mutations reach the ciphers and the JSON, and without
/// keys; discovery datagrams mutated and truncated at every length. Nothing
/// may panic, the held bytes stay bounded and drop to 0 on release.
#[test]
fn mutated_tuya_traffic_never_panics() {
    use plugsniff::decoders::tuya::codec::Version;
    use plugsniff::decoders::tuya::crypto::TuyaKey;
    use plugsniff::decoders::tuya::discovery;
    use plugsniff::decoders::tuya::keys::TuyaDeviceKey;
    use plugsniff::decoders::tuya::session::TuyaStream;
    use plugsniff::decoders::{Ctx, DecoderConfig, FlowMeta, Shared, StreamDecoder};
    use plugsniff::fuzz_targets::TUYA_FRAMER_HELD_CAP;
    use plugsniff::synth::tuya::{
        DEMO_DEVICE_ID, DEMO_LOCAL_KEY, PlugConversation, app_discovery_request,
        discovery_broadcast,
    };
    use std::net::SocketAddr;

    let plug = [192, 168, 1, 50];
    let mut rng = Rng(0x7475_7961_0000_0001);
    let mut decoded = 0usize;
    for v in Version::ALL {
        let frames = PlugConversation::demo(v).frames();
        for round in 0..300 {
            let devices = if round % 5 == 4 {
                Vec::new()
            } else {
                vec![TuyaDeviceKey {
                    id: DEMO_DEVICE_ID.into(),
                    local_key: TuyaKey::from_local_key_str(DEMO_LOCAL_KEY).unwrap(),
                    ip: (round % 2 == 0).then(|| plug.into()),
                    version: None,
                    label: "tuya_device #1".into(),
                }]
            };
            let mut sh = Shared::new(DecoderConfig {
                tuya_devices: devices,
                ..DecoderConfig::default()
            });
            let mut s = TuyaStream::new(round % 3 == 0);
            let mut out = Vec::new();
            for f in &frames {
                let mut b = f.bytes.clone();
                match rng.below(6) {
                    0 => {
                        for _ in 0..=rng.below(3) {
                            let i = rng.below(b.len());
                            b[i] ^= 1 << rng.below(8);
                        }
                    }
                    1 => b.truncate(rng.below(b.len() + 1)),
                    2 => {
                        let g = &frames[rng.below(frames.len())].bytes;
                        b.truncate(rng.below(b.len()));
                        b.extend_from_slice(&g[rng.below(g.len())..]);
                    }
                    3 => {
                        // A length field or a prefix byte.
                        let i = rng.below(20.min(b.len()));
                        b[i] = [0x00, 0xff, 0x7f, 0x55, 0x66][rng.below(5)];
                    }
                    _ => {}
                }
                let mut cx = Ctx {
                    ts: plugsniff::wire::Ts::default(),
                    client: SocketAddr::from(([192, 168, 1, 23], 50123)),
                    server: SocketAddr::from((plug, 6668)),
                    shared: &mut sh,
                    flow: FlowMeta::default(),
                };
                if rng.below(10) == 0 {
                    s.on_gap(&mut cx, f.dir, 7, &mut out);
                }
                let mut rest = &b[..];
                while !rest.is_empty() {
                    let n = (1 + rng.below(64)).min(rest.len());
                    s.on_data(&mut cx, f.dir, &rest[..n], &mut out);
                    rest = &rest[n..];
                    assert!(s.held_bytes() <= 2 * TUYA_FRAMER_HELD_CAP);
                }
            }
            decoded += out
                .iter()
                .filter(|f| matches!(f, plugsniff::decoders::Finding::Message(_)))
                .count();
            s.release();
            assert_eq!(s.held_bytes(), 0);
        }
    }
    // The mutations left most frames intact: the decoder really ran.
    assert!(decoded > 5 * 300, "{decoded}");
    let mut datagrams: Vec<Vec<u8>> = Version::ALL
        .iter()
        .map(|v| discovery_broadcast(*v, plug, DEMO_DEVICE_ID, "keyjup78v54myhan").1)
        .collect();
    datagrams.push(app_discovery_request([192, 168, 1, 23]));
    for d in &datagrams {
        for n in 0..=d.len() {
            let _ = discovery::decode(&d[..n]);
        }
        for _ in 0..2000 {
            let mut m = d.clone();
            let i = rng.below(m.len());
            m[i] ^= 1 << rng.below(8);
            let _ = discovery::decode(&m);
        }
    }
}

/// The FragAttacks captures: fragments, A-MSDUs, rekeys and replays whose
/// mutations (sequence numbers and Retry are outside the MIC) reach the
/// reassembly rules and the warning checks.
#[test]
fn mutated_fragattacks_captures_never_panic() {
    for file in [
        "ping_I_F_BE_AE-fromap.pcapng",
        "ping_I_E_E___inc_pn_2-fromap.pcapng",
        "amsdu-inject-fromap.pcapng",
    ] {
        hammer(
            file,
            vec![passphrase(Some("testnetwork"), "abcdefgh")],
            15_000,
        );
    }
}

/// Generated networks of every cipher and AKM family (GCMP, CCMP-256, Suite
/// B 192 with 24-byte MICs, SAE, OWE, FT with its reassociation, BIP), keys
/// loaded: mutations reach the new parsers (EAPOL MIC lengths, FTE, MDE,
/// MME) and ciphers. Needs no shared captures.
#[test]
fn mutated_synthetic_networks_never_panic() {
    use plugsniff::synth::network::{self, NetworkSpec};
    use plugsniff::wpa::handshake::{NetworkSecret, Secret};
    use plugsniff::wpa::keys::{Cipher, Passphrase, PmkAny};
    for (akm, cipher) in [
        (0x000F_AC02u32, Cipher::Gcmp256),
        (0x000F_AC0C, Cipher::Gcmp256),
        (0x000F_AC08, Cipher::Ccmp256),
        (0x000F_AC12, Cipher::Gcmp),
        (0x000F_AC04, Cipher::Ccmp),
        (0x000F_AC0D, Cipher::Gcmp256),
    ] {
        let cap = network::build(&NetworkSpec::new(akm, cipher));
        let frames: Vec<(Ts, u32, Vec<u8>)> = cap
            .frames
            .iter()
            .map(|(t, f)| (*t, f.len() as u32, f.clone()))
            .collect();
        let nets = vec![
            NetworkSecret {
                ssid: Some(cap.spec.ssid.as_bytes().to_vec()),
                secret: Secret::Passphrase(Passphrase::new(cap.spec.passphrase.clone())),
            },
            NetworkSecret {
                ssid: None,
                secret: Secret::NamedPmk {
                    pmk: PmkAny::from_slice(&cap.keys.pmk).unwrap(),
                    pmkid: None,
                },
            },
        ];
        hammer_frames(LinkKind::Radiotap, &frames, nets, 8_000);
    }
}
