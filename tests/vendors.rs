//! Shelly, Wemo and Meross end to end at the decoder interface: the
//! synthetic conversations (`plugsniff::synth::{shelly, wemo, meross}`) go
//! through `decoders::probe` (the REGISTRY, as the watcher walks it) and the
//! claimed decoder, segment by segment, and the findings are checked. Also:
//! the port-80 probes leave every KLAP flow to KLAP.

use std::net::SocketAddr;

use plugsniff::decoders::summary::{RelayState, Summary};
use plugsniff::decoders::{
    self as d, AppMessage, Ctx, Decoder, DecoderConfig, Direction, Finding, FlowMeta, MessageKind,
    MessageMeta, Probe, Registration, ServerIs, Shared, StreamDecoder, Transport, Verdict,
};
use plugsniff::synth::plugs::{PlugTraffic, TcpExchange};
use plugsniff::synth::{meross, shelly, wemo};
use plugsniff::wire::Ts;

fn probe_with<'a>(
    shared: &'a Shared,
    src: SocketAddr,
    dst: SocketAddr,
    payload: &'a [u8],
    syn: bool,
    mid: bool,
) -> Probe<'a> {
    Probe {
        src,
        dst,
        payload,
        syn,
        mid_stream: mid,
        shared,
    }
}

/// Runs one connection: SYN probe, first-payload probe, then every segment
/// (segments split further at `extra_cut` when given).
fn run_tcp(
    shared: &mut Shared,
    ex: &TcpExchange,
    extra_cut: Option<usize>,
) -> (&'static str, Vec<Finding>, Box<dyn StreamDecoder>) {
    let syn = d::probe(
        Transport::Tcp,
        &probe_with(shared, ex.client, ex.server, &[], true, false),
    );
    assert!(matches!(syn, Some((_, Verdict::NeedData))), "{ex:?}");
    let first = &ex.segments[0].1;
    let (reg, v) = d::probe(
        Transport::Tcp,
        &probe_with(shared, ex.client, ex.server, first, false, false),
    )
    .expect("claimed");
    assert_eq!(v, Verdict::Match(ServerIs::Dst), "{}", reg.name);
    let Decoder::Stream(new) = reg.decoder else {
        panic!()
    };
    let mut dec = new(&probe_with(
        shared, ex.client, ex.server, first, false, false,
    ));
    let mut out = Vec::new();
    for (dir, seg) in &ex.segments {
        let mut cx = Ctx {
            ts: Ts::default(),
            client: ex.client,
            server: ex.server,
            shared,
            flow: FlowMeta::default(),
        };
        match extra_cut {
            Some(c) if c < seg.len() => {
                dec.on_data(&mut cx, *dir, &seg[..c], &mut out);
                dec.on_data(&mut cx, *dir, &seg[c..], &mut out);
            }
            _ => dec.on_data(&mut cx, *dir, seg, &mut out),
        }
    }
    (reg.name, out, dec)
}

fn messages(f: &[Finding]) -> Vec<&AppMessage> {
    f.iter()
        .filter_map(|x| match x {
            Finding::Message(m) => Some(&**m),
            _ => None,
        })
        .collect()
}

fn sysinfo(m: &AppMessage) -> Option<&plugsniff::decoders::summary::SysInfo> {
    m.summary.iter().find_map(|s| match s {
        Summary::SysInfo(si) => Some(&**si),
        _ => None,
    })
}

fn emeter(m: &AppMessage) -> Option<plugsniff::decoders::summary::EmeterReading> {
    m.summary.iter().find_map(|s| match s {
        Summary::Emeter(e) => Some(*e),
        _ => None,
    })
}

fn all_tcp(t: &PlugTraffic, cut: Option<usize>) -> (Shared, Vec<(&'static str, Vec<Finding>)>) {
    let mut sh = Shared::new(DecoderConfig::default());
    let mut v = Vec::new();
    for ex in &t.tcp {
        let (name, out, dec) = run_tcp(&mut sh, ex, cut);
        assert!(
            dec.held_bytes() < 64 * 1024,
            "{name} holds {}",
            dec.held_bytes()
        );
        v.push((name, out));
    }
    (sh, v)
}

#[test]
fn shelly_gen1_http() {
    for cut in [None, Some(1), Some(7), Some(100)] {
        let (_, v) = all_tcp(&shelly::traffic(), cut);
        let (name, out) = &v[0];
        assert_eq!(*name, "shelly");
        let m = messages(out);
        let methods: Vec<(&str, MessageKind)> =
            m.iter().map(|m| (m.methods[0].as_str(), m.kind)).collect();
        assert_eq!(
            methods,
            [
                ("shelly", MessageKind::Request),
                ("shelly", MessageKind::Response),
                ("relay/0", MessageKind::Request),
                ("relay/0", MessageKind::Response),
                ("status", MessageKind::Request),
                ("status", MessageKind::Response),
                ("meter/0", MessageKind::Request),
                ("meter/0", MessageKind::Response),
                ("relay/0", MessageKind::Request),
                ("relay/0", MessageKind::Response),
            ],
            "cut {cut:?}"
        );
        assert!(
            m.iter()
                .all(|m| m.paired && m.protocol == "shelly" && m.transport == "http")
        );
        assert_eq!(m[2].summary, [Summary::SetRelayState(RelayState::On)]);
        assert_eq!(m[2].json, serde_json::json!({"turn":"on"}));
        assert_eq!(sysinfo(m[1]).unwrap().model.as_deref(), Some("SHPLG-S"));
        assert_eq!(sysinfo(m[3]).unwrap().relay_state, Some(RelayState::On));
        let e = emeter(m[5]).unwrap();
        assert_eq!((e.power_w, e.total_kwh), (Some(12.5), Some(0.002)));
        assert_eq!(emeter(m[7]).unwrap().total_kwh, Some(0.0021));
        assert_eq!(m[8].summary, [Summary::SetRelayState(RelayState::Off)]);
        assert_eq!(sysinfo(m[9]).unwrap().relay_state, Some(RelayState::Off));
        assert!(matches!(
            m[5].meta,
            Some(MessageMeta::Shelly {
                generation: Some(1),
                auth: None,
                ..
            })
        ));
    }
}

#[test]
fn shelly_coiot_mapped_after_cit_d() {
    let t = shelly::traffic();
    let mut sh = Shared::new(DecoderConfig::default());
    let mut out = Vec::new();
    for dg in &t.udp {
        let (reg, v) = d::probe(
            Transport::Udp,
            &probe_with(&sh, dg.src, dg.dst, &dg.payload, false, false),
        )
        .expect("claimed");
        assert_eq!(reg.name, "shelly-coiot");
        let Decoder::Datagram(f) = reg.decoder else {
            panic!()
        };
        let (client, server, dir) = match v {
            Verdict::Match(ServerIs::Src) => (dg.dst, dg.src, Direction::ToClient),
            Verdict::Match(ServerIs::Dst) => (dg.src, dg.dst, Direction::ToServer),
            v => panic!("{v:?}"),
        };
        assert_eq!(server.ip(), std::net::IpAddr::from(shelly::GEN1));
        let mut cx = Ctx {
            ts: Ts::default(),
            client,
            server,
            shared: &mut sh,
            flow: FlowMeta::default(),
        };
        f(&mut cx, dir, &dg.payload, &mut out);
    }
    let m = messages(&out);
    let k: Vec<(&str, MessageKind)> = m.iter().map(|m| (m.methods[0].as_str(), m.kind)).collect();
    assert_eq!(
        k,
        [
            ("cit/d", MessageKind::Request),
            ("cit/d", MessageKind::Response),
            ("coiot/status", MessageKind::Notify)
        ]
    );
    let si = sysinfo(m[2]).unwrap();
    assert_eq!(si.relay_state, Some(RelayState::On));
    assert_eq!(si.model.as_deref(), Some("SHPLG-S"));
    let e = emeter(m[2]).unwrap();
    assert_eq!((e.power_w, e.total_kwh), (Some(12.5), Some(0.0021)));
    assert!(
        matches!(&m[2].meta, Some(MessageMeta::Coiot { code, serial: Some(42), mapped: Some(_), .. }) if code == "0.30")
    );
}

#[test]
fn shelly_gen2_http_websocket_and_digest() {
    for cut in [None, Some(3), Some(40)] {
        let (sh, v) = all_tcp(&shelly::traffic(), cut);
        // The HTTP /cit/d fetch taught the CoIoT description.
        assert_eq!(sh.coiot.len(), 1);
        let m = messages(&v[2].1);
        let k: Vec<(&str, MessageKind, bool)> = m
            .iter()
            .map(|m| (m.methods[0].as_str(), m.kind, m.paired))
            .collect();
        assert_eq!(
            k,
            [
                ("Shelly.GetDeviceInfo", MessageKind::Request, true),
                ("Shelly.GetDeviceInfo", MessageKind::Response, true),
                ("Switch.Set", MessageKind::Request, true),
                ("Switch.Set", MessageKind::Response, true),
                ("Switch.GetStatus", MessageKind::Request, true),
                ("Switch.GetStatus", MessageKind::Response, true),
            ]
        );
        assert_eq!(
            sysinfo(m[1]).unwrap().model.as_deref(),
            Some("SNPL-00112EU")
        );
        assert_eq!(m[2].summary, [Summary::SetRelayState(RelayState::On)]);
        assert_eq!(
            m[4].json,
            serde_json::json!({"method":"Switch.GetStatus","params":{"id":0}})
        );
        let e = emeter(m[5]).unwrap();
        assert_eq!(
            (e.power_w, e.voltage_v, e.current_a),
            (Some(41.7), Some(230.4), Some(0.215))
        );
        assert!((e.total_kwh.unwrap() - 1.523407).abs() < 1e-12);

        // WebSocket: fragmented masked call with a ping inside, answers by id, a push.
        let out = &v[3].1;
        let m = messages(out);
        let k: Vec<(&str, MessageKind, bool, &str)> = m
            .iter()
            .map(|m| (m.methods[0].as_str(), m.kind, m.paired, m.transport))
            .collect();
        assert_eq!(
            k,
            [
                ("Switch.GetStatus", MessageKind::Request, true, "websocket"),
                ("Switch.GetStatus", MessageKind::Response, true, "websocket"),
                ("Switch.Set", MessageKind::Request, true, "websocket"),
                ("Switch.Set", MessageKind::Response, true, "websocket"),
                ("NotifyStatus", MessageKind::Notify, false, "websocket"),
            ],
            "cut {cut:?}: {out:?}"
        );
        assert!(
            matches!(&m[1].meta, Some(MessageMeta::Shelly { rpc_id: Some(id), .. }) if id == "11")
        );
        assert_eq!(emeter(m[1]).unwrap().power_w, Some(41.7));
        assert_eq!(m[2].summary, [Summary::SetRelayState(RelayState::Off)]);
        assert_eq!(sysinfo(m[4]).unwrap().relay_state, Some(RelayState::Off));
        assert!(
            !out.iter()
                .any(|f| matches!(f, Finding::Undecodable { .. } | Finding::Desync { .. })),
            "{out:?}"
        );

        // Digest: noted, shown by user and realm, the hash never.
        let out = &v[4].1;
        assert!(out.contains(&Finding::DeviceNote {
            protocol: "shelly",
            note: Some("Shelly: digest authentication".into())
        }));
        let m = messages(out);
        assert!(matches!(
            &m[1].summary[..],
            [Summary::Error { err_code: 401, .. }]
        ));
        let Some(MessageMeta::Shelly { auth: Some(a), .. }) = &m[2].meta else {
            panic!("{:?}", m[2])
        };
        assert_eq!(
            (a.scheme, a.user.as_deref(), a.realm.as_deref()),
            ("digest", Some("admin"), Some(shelly::GEN2_ID))
        );
        let shown = format!("{out:?}");
        let secret = shelly::digest_auth(
            shelly::GEN2_ID,
            shelly::GEN2_PASSWORD,
            1_700_000_100,
            1,
            "MTIzNDU2Nzg5MGFiY2RlZg==",
        )["response"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(!shown.contains(&secret) && !shown.contains(shelly::GEN2_PASSWORD));
        assert_eq!(m[2].json["auth"]["response"], "<redacted>");
    }
}

/// The capture starts inside the WebSocket session: the device's first
/// frame is claimed and both directions are framed from there.
#[test]
fn shelly_websocket_picked_up_mid_session() {
    let ws = &shelly::traffic().tcp[3];
    let sh = Shared::new(DecoderConfig::default());
    let start = ws
        .segments
        .iter()
        .position(|(d, b)| *d == Direction::ToClient && b.first() == Some(&0x8a))
        .unwrap();
    let (dir, first) = &ws.segments[start];
    assert_eq!(*dir, Direction::ToClient);
    let (reg, v) = d::probe(
        Transport::Tcp,
        &probe_with(&sh, ws.server, ws.client, first, false, true),
    )
    .unwrap();
    assert_eq!((reg.name, v), ("shelly", Verdict::Match(ServerIs::Src)));
    let Decoder::Stream(new) = reg.decoder else {
        panic!()
    };
    let mut dec = new(&probe_with(&sh, ws.server, ws.client, first, false, true));
    let mut sh = sh;
    let mut out = Vec::new();
    for (dir, seg) in &ws.segments[start..] {
        let mut cx = Ctx {
            ts: Ts::default(),
            client: ws.client,
            server: ws.server,
            shared: &mut sh,
            flow: FlowMeta::default(),
        };
        dec.on_data(&mut cx, *dir, seg, &mut out);
    }
    let m = messages(&out);
    let k: Vec<(&str, MessageKind, bool)> = m
        .iter()
        .map(|m| (m.methods[0].as_str(), m.kind, m.paired))
        .collect();
    assert_eq!(
        k,
        [
            ("unknown", MessageKind::Response, false),
            ("Switch.Set", MessageKind::Request, true),
            ("Switch.Set", MessageKind::Response, true),
            ("NotifyStatus", MessageKind::Notify, false),
        ],
        "{out:?}"
    );
    // An answer to a call not captured: its method is unknown, its result not read.
    assert!(m[0].summary.is_empty());
}

#[test]
fn wemo_insight() {
    for cut in [None, Some(5), Some(150)] {
        let (_, v) = all_tcp(&wemo::traffic(), cut);
        let (name, out) = &v[0];
        assert_eq!(*name, "wemo");
        let m = messages(out);
        let k: Vec<(&str, MessageKind)> =
            m.iter().map(|m| (m.methods[0].as_str(), m.kind)).collect();
        assert_eq!(
            k,
            [
                ("setup.xml", MessageKind::Request),
                ("setup.xml", MessageKind::Response),
                ("SetBinaryState", MessageKind::Request),
                ("SetBinaryStateResponse", MessageKind::Response),
                ("GetBinaryState", MessageKind::Request),
                ("GetBinaryStateResponse", MessageKind::Response),
                ("GetInsightParams", MessageKind::Request),
                ("GetInsightParamsResponse", MessageKind::Response),
            ],
            "{out:?}"
        );
        let si = sysinfo(m[1]).unwrap();
        assert_eq!(
            (
                si.alias.as_deref(),
                si.model.as_deref(),
                si.mac.as_deref(),
                si.device_id.as_deref()
            ),
            (
                Some("Washing machine"),
                Some("Insight"),
                Some("94103E48C8D4"),
                Some("221517K0101769")
            )
        );
        assert_eq!(
            si.sw_ver.as_deref(),
            Some("WeMo_WW_2.00.11408.PVT-OWRT-Insight")
        );
        assert_eq!(m[2].summary, [Summary::SetRelayState(RelayState::On)]);
        assert_eq!(
            m[2].json,
            serde_json::json!({"SetBinaryState":{"BinaryState":"1"}})
        );
        assert!(
            matches!(&m[2].meta, Some(MessageMeta::Wemo { service: Some(s), action }) if s == "urn:Belkin:service:basicevent:1" && action == "SetBinaryState")
        );
        assert_eq!(sysinfo(m[5]).unwrap().relay_state, Some(RelayState::On));
        let e = emeter(m[7]).unwrap();
        assert_eq!(e.power_w, Some(2.3));
        assert!((e.total_kwh.unwrap() - 4_574_940.0 / 60_000_000.0).abs() < 1e-12);
        assert!(m.iter().all(|m| m.paired));
    }
}

#[test]
fn meross_signed_and_unverified() {
    let t = meross::traffic();
    for keys in [
        vec![],
        vec![d::meross::MerossKey::new("key #1", meross::USER_KEY)],
        vec![d::meross::MerossKey::new("key #1", "wrong")],
    ] {
        let mut sh = Shared::new(DecoderConfig {
            meross_keys: keys.clone(),
            ..DecoderConfig::default()
        });
        let mut all = Vec::new();
        for ex in &t.tcp {
            let (name, out, _) = run_tcp(&mut sh, ex, None);
            assert_eq!(name, "meross");
            all.extend(out);
        }
        let m = messages(&all);
        let k: Vec<(&str, MessageKind, bool)> = m
            .iter()
            .map(|m| (m.methods[0].as_str(), m.kind, m.paired))
            .collect();
        assert_eq!(
            k,
            [
                ("Appliance.System.All.GET", MessageKind::Request, true),
                ("Appliance.System.All.GETACK", MessageKind::Response, true),
                ("Appliance.Control.ToggleX.SET", MessageKind::Request, true),
                (
                    "Appliance.Control.ToggleX.SETACK",
                    MessageKind::Response,
                    true
                ),
                (
                    "Appliance.Control.Electricity.GET",
                    MessageKind::Request,
                    true
                ),
                (
                    "Appliance.Control.Electricity.GETACK",
                    MessageKind::Response,
                    true
                ),
            ]
        );
        let want = keys.first().map(|k| {
            k.sign("x", "1") == d::meross::MerossKey::new("", meross::USER_KEY).sign("x", "1")
        });
        for x in &m {
            let Some(MessageMeta::Meross { sign_ok, .. }) = &x.meta else {
                panic!()
            };
            assert_eq!(*sign_ok, want, "{keys:?}");
        }
        let bad = all.iter().filter(|f| matches!(f, Finding::Undecodable { label: Some(l), .. } if l.contains("signature"))).count();
        assert_eq!(bad, if want == Some(false) { 6 } else { 0 });
        let si = sysinfo(m[1]).unwrap();
        assert_eq!(
            (si.model.as_deref(), si.relay_state),
            (Some("mss310"), Some(RelayState::Off))
        );
        assert_eq!(m[2].summary, [Summary::SetRelayState(RelayState::On)]);
        let e = emeter(m[5]).unwrap();
        assert_eq!(
            (e.power_w, e.voltage_v, e.current_a),
            (Some(250.5), Some(230.5), Some(1.234))
        );
        assert!(!format!("{all:?}").contains(meross::USER_KEY));
    }
}

/// KLAP claims port 80 by port alone and will be listed after Shelly and
/// Meross: it must still get every flow it gets today. A stand-in with
/// KLAP's probe (by port) behind the real table: every KLAP message kind
/// (python-kasa `klaptransport.py`, `aestransport.py`) as the first
/// payload, client side and mid-stream server side, ends up with it.
#[test]
fn klap_keeps_every_port_80_flow_it_had() {
    fn by_port(p: &Probe<'_>) -> Verdict {
        p.by_port(&[80])
    }
    fn never(_: &Probe<'_>) -> Box<dyn StreamDecoder> {
        unreachable!()
    }
    static KLAP: Registration = Registration {
        name: "tplink-klap",
        transport: Transport::Tcp,
        ports: &[80],
        probe: by_port,
        decoder: Decoder::Stream(never),
    };
    let mut table: Vec<&'static Registration> = d::REGISTRY.to_vec();
    let has_klap = table.iter().any(|r| r.name == "tplink-klap");
    if !has_klap {
        table.push(&KLAP);
    }
    let sh = Shared::new(DecoderConfig::default());
    let c: SocketAddr = "192.168.0.23:50123".parse().unwrap();
    let dev: SocketAddr = "192.168.0.61:80".parse().unwrap();
    let seed = [7u8; 16];
    let mut reqs: Vec<Vec<u8>> = vec![
        [b"POST /app/handshake1 HTTP/1.1\r\nHost: 192.168.0.61\r\nContent-Length: 16\r\n\r\n".to_vec(), seed.to_vec()].concat(),
        [b"POST /app/handshake2 HTTP/1.1\r\nHost: 192.168.0.61\r\nCookie: TP_SESSIONID=ABC\r\nContent-Length: 32\r\n\r\n".to_vec(), vec![1; 32]].concat(),
        [b"POST /app/request?seq=123456 HTTP/1.1\r\nHost: 192.168.0.61\r\nCookie: TP_SESSIONID=ABC\r\nContent-Length: 48\r\n\r\n".to_vec(), vec![2; 48]].concat(),
        b"POST /app HTTP/1.1\r\nContent-Length: 22\r\n\r\n{\"method\":\"handshake\"}".to_vec(),
        b"POST /app?token=XYZ HTTP/1.1\r\nContent-Length: 30\r\n\r\n{\"method\":\"securePassthrough\"}".to_vec(),
        b"GET / HTTP/1.1\r\n\r\n".to_vec(),
    ];
    // Requests split right after the request line.
    reqs.push(b"POST /app/request?seq=5 HTTP/1.1\r\n".to_vec());
    let rsps: Vec<Vec<u8>> = vec![
        [b"HTTP/1.1 200 OK\r\nSet-Cookie: TP_SESSIONID=ABC;TIMEOUT=86400\r\nContent-Length: 48\r\n\r\n".to_vec(), vec![9; 48]].concat(),
        [b"HTTP/1.1 200 OK\r\nContent-Length: 64\r\n\r\n".to_vec(), vec![0xa5; 64]].concat(),
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec(),
        b"HTTP/1.1 200 OK\r\nContent-Length: 38\r\n\r\n{\"error_code\":0,\"result\":{\"key\":\"x\"}}".to_vec(),
        vec![0x33; 100],
    ];
    for r in &reqs {
        let syn = d::probe_in(
            &table,
            Transport::Tcp,
            &probe_with(&sh, c, dev, &[], true, false),
        );
        assert!(matches!(
            syn,
            Some((_, Verdict::NeedData | Verdict::Match(_)))
        ));
        for mid in [false, true] {
            let (reg, v) = d::probe_in(
                &table,
                Transport::Tcp,
                &probe_with(&sh, c, dev, r, false, mid),
            )
            .unwrap();
            assert_eq!(
                (reg.name, v),
                ("tplink-klap", Verdict::Match(ServerIs::Dst)),
                "{:?}",
                String::from_utf8_lossy(r)
            );
        }
    }
    for r in &rsps {
        let (reg, v) = d::probe_in(
            &table,
            Transport::Tcp,
            &probe_with(&sh, dev, c, r, false, true),
        )
        .unwrap();
        assert_eq!(
            (reg.name, v),
            ("tplink-klap", Verdict::Match(ServerIs::Src)),
            "{:?}",
            String::from_utf8_lossy(r)
        );
    }
    // And the vendors' own flows are not KLAP's.
    for t in [shelly::traffic(), meross::traffic()] {
        for ex in t.tcp {
            let (reg, _) = d::probe_in(
                &table,
                Transport::Tcp,
                &probe_with(&sh, ex.client, ex.server, &ex.segments[0].1, false, false),
            )
            .unwrap();
            assert_ne!(reg.name, "tplink-klap");
        }
    }
}

#[test]
fn gaps_release_and_truncations_never_panic() {
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for t in [shelly::traffic(), wemo::traffic(), meross::traffic()] {
        for ex in &t.tcp {
            let mut sh = Shared::new(DecoderConfig::default());
            let (reg, _) = d::probe(
                Transport::Tcp,
                &probe_with(&sh, ex.client, ex.server, &ex.segments[0].1, false, false),
            )
            .unwrap();
            let Decoder::Stream(new) = reg.decoder else {
                panic!()
            };
            for round in 0..40 {
                let mut dec = new(&probe_with(
                    &sh,
                    ex.client,
                    ex.server,
                    &[],
                    false,
                    round % 2 == 1,
                ));
                let mut out = Vec::new();
                for (dir, seg) in &ex.segments {
                    let mut cx = Ctx {
                        ts: Ts::default(),
                        client: ex.client,
                        server: ex.server,
                        shared: &mut sh,
                        flow: FlowMeta::default(),
                    };
                    let mut seg = seg.clone();
                    match next() % 6 {
                        0 => {
                            let n = (next() as usize) % (seg.len() + 1);
                            seg.truncate(n);
                        }
                        1 => dec.on_gap(&mut cx, *dir, next() % 100, &mut out),
                        2 => dec.release(),
                        3 if !seg.is_empty() => {
                            let i = (next() as usize) % seg.len();
                            seg[i] ^= 1 << (next() % 8);
                        }
                        _ => {}
                    }
                    dec.on_data(&mut cx, *dir, &seg, &mut out);
                }
                dec.release();
                assert_eq!(dec.held_bytes(), 0, "{}", reg.name);
            }
        }
    }
}

/// Writes the seed corpora of the vendor fuzz targets from the synthetic
/// traffic: `cargo test --test vendors -- --ignored regenerate_vendor_seed_corpus`.
#[test]
#[ignore]
fn regenerate_vendor_seed_corpus() {
    use plugsniff::fuzz_targets::encode_records;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let write = |t: &str, name: &str, bytes: Vec<u8>| {
        std::fs::create_dir_all(dir.join(t)).unwrap();
        std::fs::write(dir.join(t).join(name), bytes).unwrap();
    };
    let recs = |ex: &TcpExchange, extra: u8| -> Vec<u8> {
        encode_records(
            ex.segments
                .iter()
                .map(|(d, b)| ((*d == Direction::ToClient) as u8 | extra, b.as_slice())),
        )
    };
    let sh = shelly::traffic();
    write("shelly_http", "gen1", recs(&sh.tcp[0], 0));
    write("shelly_http", "gen2-http", recs(&sh.tcp[2], 0));
    write("shelly_http", "gen2-websocket", recs(&sh.tcp[3], 0));
    write("shelly_http", "gen2-digest", recs(&sh.tcp[4], 0));
    let mut mid = recs(&sh.tcp[0], 0);
    mid[0] |= 4 | 2 | 0x30;
    write("shelly_http", "midstream-gap", mid);
    let ws = &sh.tcp[3];
    let dir_bytes = |d: Direction| -> Vec<u8> {
        let all: Vec<u8> = ws
            .segments
            .iter()
            .filter(|(x, _)| *x == d)
            .flat_map(|(_, b)| b.clone())
            .collect();
        let end = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        all[end..].to_vec()
    };
    write(
        "websocket",
        "client-masked-fragments",
        encode_records([(0, &dir_bytes(Direction::ToServer)[..])]),
    );
    write(
        "websocket",
        "server",
        encode_records([(0, &dir_bytes(Direction::ToClient)[..])]),
    );
    write(
        "coiot",
        "cit-d-then-status",
        encode_records(
            sh.udp
                .iter()
                .enumerate()
                .map(|(i, d)| (if i == 0 { 4 } else { 0 }, d.payload.as_slice())),
        ),
    );
    write("wemo_http", "insight", recs(&wemo::traffic().tcp[0], 0));
    let me = meross::traffic();
    write("meross_http", "system-all", recs(&me.tcp[0], 0));
    write("meross_http", "togglex", recs(&me.tcp[1], 0));
}
