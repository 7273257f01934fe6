//! The Tuya decoder against an independent implementation: tinytuya
//! (`pip install tinytuya`), driven by `tests/support/tuya_ref.py`.
//!
//! Both ways, for every version 3.1–3.5, the 3.4/3.5 session key
//! negotiation included:
//! - tinytuya reads every frame of our synthetic plug conversation
//!   (`synth::tuya`) with its own `unpack_message`, negotiation steps and
//!   `_decode_payload`, and must find our payloads, commands and sequence
//!   numbers, and derive our session key;
//! - we read every frame tinytuya packs (its client side with
//!   `generate_payload`/`_encode_message`, the device side with
//!   `pack_message` and `AESCipher`) through the whole [`TuyaStream`] and
//!   must find its payloads, commands and sequence numbers;
//! - discovery datagrams, both ways (`decrypt_udp`, `pack_message` with the
//!   UDP key).
//!
//! Skipped with a message when python3 or tinytuya is missing, except under
//! `CI=true` (`.ci/run` installs tinytuya).

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::{Command as Process, Stdio};

use serde_json::{Value, json};

use plugsniff::decoders::tuya::codec::Version;
use plugsniff::decoders::tuya::crypto::{self, SessionKind, TuyaKey};
use plugsniff::decoders::tuya::discovery;
use plugsniff::decoders::tuya::keys::TuyaDeviceKey;
use plugsniff::decoders::tuya::session::TuyaStream;
use plugsniff::decoders::{
    AppMessage, Ctx, DecoderConfig, Direction, Finding, FlowMeta, MessageMeta, Shared,
    StreamDecoder,
};
use plugsniff::synth::tuya::{
    DEMO_DEVICE_ID, DEMO_LOCAL_KEY, PlugConversation, app_discovery_request, discovery_broadcast,
};
use plugsniff::wire::Ts;

const PLUG: [u8; 4] = [192, 168, 1, 50];
const APP: [u8; 4] = [192, 168, 1, 23];

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/tuya_ref.py")
}

/// Runs the reference with one request; `None` when it cannot run.
fn call_raw(req: &Value) -> Result<Value, String> {
    let mut child = Process::new("python3")
        .arg(script())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("python3: {e}"))?;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(req.to_string().as_bytes())
        .map_err(|e| e.to_string())?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "tuya_ref.py {}: {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("tuya_ref.py output: {e}"))
}

/// tinytuya is there, or the test is skipped (a failure under CI=true).
fn reference() -> bool {
    match call_raw(&json!({"op": "check"})) {
        Ok(v) => {
            eprintln!("tinytuya {}", v["tinytuya"]);
            true
        }
        Err(e) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("CI=true but the tinytuya reference cannot run: {e}");
            }
            eprintln!("SKIP: tinytuya reference unavailable ({e}); `pip install tinytuya`");
            false
        }
    }
}

fn call(req: Value) -> Value {
    call_raw(&req).unwrap_or_else(|e| panic!("{e}"))
}

fn dir_name(d: Direction) -> &'static str {
    match d {
        Direction::ToServer => "c2d",
        Direction::ToClient => "d2c",
    }
}

#[test]
fn tinytuya_reads_every_frame_we_generate() {
    if !reference() {
        return;
    }
    for v in Version::ALL {
        let conv = PlugConversation::demo(v);
        let frames = conv.frames();
        let ans = call(json!({
            "op": "read",
            "version": v.as_str(),
            "local_key": DEMO_LOCAL_KEY,
            "frames": frames.iter().map(|f| json!({"dir": dir_name(f.dir), "hex": hex::encode(&f.bytes)})).collect::<Vec<_>>(),
        }));
        let got = ans["frames"].as_array().expect("frames");
        assert_eq!(got.len(), frames.len(), "{v:?}");
        for (f, g) in frames.iter().zip(got) {
            let what = format!("{v:?} {:?} seq {}", f.cmd, f.seq);
            assert_eq!(g["cmd"], f.cmd.0, "{what}");
            assert_eq!(g["seq"], f.seq, "{what}");
            assert_eq!(g["crc_good"], true, "{what}: {g}");
            if f.dir == Direction::ToClient {
                assert_eq!(g["retcode"], 0, "{what}");
            }
            if f.cmd.is_negotiation() {
                // START: the client nonce; RESP: tinytuya keeps the device
                // nonce after checking the HMAC; FINISH: the HMAC it expects.
                let expected = match f.cmd.0 {
                    4 => &f.payload[..16],
                    _ => &f.payload[..],
                };
                assert_eq!(g["payload"], hex::encode(expected), "{what}");
            } else if f.payload.is_empty() {
                assert_eq!(g["json"], Value::Null, "{what}");
            } else {
                let expected: Value = serde_json::from_slice(&f.payload).unwrap();
                assert_eq!(g["json"], expected, "{what}");
            }
        }
        let sk = conv.session_key().map(|k| hex::encode(k.as_bytes()));
        assert_eq!(ans["session_key"], json!(sk), "{v:?}");
    }
}

fn device(ip: Option<[u8; 4]>) -> TuyaDeviceKey {
    TuyaDeviceKey {
        id: DEMO_DEVICE_ID.into(),
        local_key: TuyaKey::from_local_key_str(DEMO_LOCAL_KEY).unwrap(),
        ip: ip.map(IpAddr::from),
        version: None,
        label: "tuya_device #1".into(),
    }
}

fn feed(s: &mut TuyaStream, sh: &mut Shared, dir: Direction, b: &[u8], out: &mut Vec<Finding>) {
    let mut cx = Ctx {
        ts: Ts::default(),
        client: SocketAddr::from((APP, 50123)),
        server: SocketAddr::from((PLUG, 6668)),
        shared: sh,
        flow: FlowMeta::default(),
    };
    s.on_data(&mut cx, dir, b, out);
}

fn messages(out: &[Finding]) -> Vec<&AppMessage> {
    out.iter()
        .filter_map(|f| match f {
            Finding::Message(m) => Some(&**m),
            _ => None,
        })
        .collect()
}

#[test]
fn we_read_every_frame_tinytuya_packs() {
    if !reference() {
        return;
    }
    let local_nonce = *b"tinytuya-client!";
    let remote_nonce = *b"tinytuya-device!";
    for v in Version::ALL {
        let ans = call(json!({
            "op": "write",
            "version": v.as_str(),
            "local_key": DEMO_LOCAL_KEY,
            "device_id": DEMO_DEVICE_ID,
            "local_nonce": hex::encode(local_nonce),
            "remote_nonce": hex::encode(remote_nonce),
        }));
        let frames = ans["frames"].as_array().expect("frames");
        assert_eq!(frames.len(), if v.has_session() { 14 } else { 11 }, "{v:?}");
        // Keys by address for one run, by trial for another: both read all.
        for ip in [Some(PLUG), None] {
            let mut sh = Shared::new(DecoderConfig {
                tuya_devices: vec![device(ip)],
                ..DecoderConfig::default()
            });
            let mut s = TuyaStream::new(false);
            let mut out = Vec::new();
            for f in frames {
                let dir = if f["dir"] == "c2d" {
                    Direction::ToServer
                } else {
                    Direction::ToClient
                };
                feed(
                    &mut s,
                    &mut sh,
                    dir,
                    &hex::decode(f["hex"].as_str().unwrap()).unwrap(),
                    &mut out,
                );
            }
            let ms = messages(&out);
            assert_eq!(ms.len(), frames.len(), "{v:?}: {out:?}");
            for (m, f) in ms.iter().zip(frames) {
                let what = format!("{v:?} {f}");
                let Some(MessageMeta::Tuya {
                    cmd,
                    seq,
                    version,
                    check_ok,
                    signature_ok,
                    ..
                }) = &m.meta
                else {
                    panic!("{what}: {:?}", m.meta)
                };
                assert_eq!(
                    (*cmd, *seq, *version),
                    (
                        f["cmd"].as_u64().unwrap() as u32,
                        f["seq"].as_u64().unwrap() as u32,
                        v.as_str()
                    ),
                    "{what}"
                );
                assert!(check_ok, "{what}");
                // 3.1 CONTROL and encrypted pushes: tinytuya's MD5 signature.
                assert_ne!(*signature_ok, Some(false), "{what}");
                if v == Version::V31 && *cmd == 7 && m.dir == Direction::ToServer {
                    assert_eq!(*signature_ok, Some(true), "{what}");
                }
                let payload = hex::decode(f["payload"].as_str().unwrap()).unwrap();
                let expected = match f["kind"].as_str().unwrap() {
                    "json" => serde_json::from_slice(&payload).unwrap(),
                    _ => Value::Null,
                };
                assert_eq!(m.json, expected, "{what}");
            }
            assert_eq!(s.has_session_key(), v.has_session(), "{v:?}");
        }
        // The session key tinytuya derived is ours for the same nonces.
        let kind = match v {
            Version::V34 => Some(SessionKind::Ecb),
            Version::V35 => Some(SessionKind::Gcm),
            _ => None,
        };
        let ours = kind.map(|k| {
            hex::encode(
                crypto::session_key(k, &device(None).local_key, &local_nonce, &remote_nonce)
                    .as_bytes(),
            )
        });
        assert_eq!(ans["session_key"], json!(ours), "{v:?}");
    }
}

#[test]
fn discovery_both_ways() {
    if !reference() {
        return;
    }
    // Ours, read by decrypt_udp.
    let mut ours: Vec<Vec<u8>> = Version::ALL
        .iter()
        .map(|v| discovery_broadcast(*v, PLUG, DEMO_DEVICE_ID, "keyjup78v54myhan").1)
        .collect();
    ours.push(app_discovery_request(APP));
    let ans = call(
        json!({"op": "udp_read", "datagrams": ours.iter().map(hex::encode).collect::<Vec<_>>()}),
    );
    for (d, j) in ours.iter().zip(ans["json"].as_array().unwrap()) {
        let theirs: Value = serde_json::from_str(j.as_str().unwrap()).unwrap();
        assert_eq!(discovery::decode(d).unwrap().json, theirs);
    }
    // Theirs, read by us.
    let j = r#"{"ip":"192.168.1.50","gwId":"bf0123456789abcdefgh","active":2,"ability":0,"mode":0,"encrypt":true,"productKey":"keyjup78v54myhan","version":"3.5"}"#;
    let ans = call(json!({"op": "udp_write", "json": j, "ip": "192.168.1.23"}));
    let d = ans["datagrams"].as_array().unwrap();
    assert_eq!(d.len(), 4);
    let expected: Value = serde_json::from_str(j).unwrap();
    for x in &d[..3] {
        let m = discovery::decode(&hex::decode(x["hex"].as_str().unwrap()).unwrap()).unwrap();
        assert_eq!(m.json, expected, "port {}", x["port"]);
        assert!(m.check_ok);
    }
    let m = discovery::decode(&hex::decode(d[3]["hex"].as_str().unwrap()).unwrap()).unwrap();
    assert_eq!(m.json, json!({"from": "app", "ip": "192.168.1.23"}));
    assert_eq!(m.cmd.map(|c| c.0), Some(0x25));
}

/// Writes `fuzz/corpus/tuya/`: whole conversations of 3.1, 3.3, 3.4 and 3.5
/// as records (tag bit 0 = direction), one started mid-stream with garbage
/// and a gap, one without the key, and the discovery datagrams.
/// `cargo test --test tuya -- --ignored regenerate_tuya_seed_corpus`
#[test]
#[ignore = "writes fuzz/corpus/tuya; run by hand after changing the harness"]
fn regenerate_tuya_seed_corpus() {
    use plugsniff::fuzz_targets::encode_records;
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/tuya");
    std::fs::create_dir_all(&dir).unwrap();
    let conv = |v: Version, first: u8| {
        let frames = PlugConversation::demo(v).frames();
        encode_records(frames.iter().enumerate().map(|(i, f)| {
            let tag = f.dir.index() as u8 | if i == 0 { first } else { 0 };
            (tag, &f.bytes[..])
        }))
    };
    for v in [Version::V31, Version::V33, Version::V34, Version::V35] {
        std::fs::write(
            dir.join(format!("seed-conversation-{}", v.as_str())),
            conv(v, 0),
        )
        .unwrap();
    }
    std::fs::write(dir.join("seed-no-key-3.3"), conv(Version::V33, 8)).unwrap();
    let frames = PlugConversation::demo(Version::V35).frames();
    let mut tail = frames[5].bytes[7..].to_vec();
    tail.extend_from_slice(b"garbage");
    let recs = [
        (4u8 | frames[5].dir.index() as u8, &tail[..]),
        (2 | frames[6].dir.index() as u8, &frames[6].bytes[..]),
        (frames[7].dir.index() as u8, &frames[7].bytes[..]),
    ];
    std::fs::write(dir.join("seed-mid-stream-3.5"), encode_records(recs)).unwrap();
    for v in [Version::V31, Version::V33, Version::V35] {
        let (_, d) = discovery_broadcast(v, PLUG, DEMO_DEVICE_ID, "keyjup78v54myhan");
        std::fs::write(dir.join(format!("seed-discovery-{}", v.as_str())), d).unwrap();
    }
    std::fs::write(dir.join("seed-app-request"), app_discovery_request(APP)).unwrap();
}

/// The Tuya frames of the committed demo capture, as tinytuya reads them:
/// the capture is decrypted (plugsniff's engine, the demo passphrase), the
/// TCP 6668 payloads each Tuya plug's station sends or receives are taken in
/// order, and tinytuya must open every one with the plug's local key (3.5:
/// after checking the negotiation and deriving the same session key) and
/// find the commands, sequence numbers and JSON the generator put there.
#[test]
fn tinytuya_reads_the_demo_captures_tuya_frames() {
    use plugsniff::engine::{Engine, Msdu, Sink};
    use plugsniff::synth::scenario::{Scenario, Vendor};

    #[derive(Default)]
    struct Tcp6668(Vec<([u8; 4], Direction, Vec<u8>)>);
    impl Sink for Tcp6668 {
        fn msdu(&mut self, m: &Msdu<'_>) {
            // Each MSDU once: as its station sent it (ToDS), not the AP's relay.
            let sent_by_its_station = m.to_ds && !m.from_ds;
            if !m.decrypted || !sent_by_its_station || m.retransmit {
                return;
            }
            let Some(s) = plugsniff::wire::llc::parse_snap(m.llc) else {
                return;
            };
            let Ok(p) = etherparse::SlicedPacket::from_ip(s.payload) else {
                return;
            };
            let (Some(etherparse::NetSlice::Ipv4(ip)), Some(etherparse::TransportSlice::Tcp(t))) =
                (&p.net, &p.transport)
            else {
                return;
            };
            if t.payload().is_empty() {
                return;
            }
            let (plug, dir) = if t.destination_port() == 6668 {
                (ip.header().destination(), Direction::ToServer)
            } else if t.source_port() == 6668 {
                (ip.header().source(), Direction::ToClient)
            } else {
                return;
            };
            self.0.push((plug, dir, t.payload().to_vec()));
        }
    }

    if !reference() {
        return;
    }
    let (_, frames) = plugsniff::capture::file::read_all(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/captures/demo.pcapng"
    )))
    .unwrap();
    let sc = Scenario::default();
    let mut e = Engine::new(vec![sc.secret()]);
    let mut sink = Tcp6668::default();
    for f in &frames {
        e.process(
            f.ts,
            plugsniff::wire::link::LinkKind::Radiotap,
            &f.data,
            f.data.len() as u32,
            &mut sink,
        );
    }
    let mut checked = Vec::new();
    for v in &sc.vendors {
        let Vendor::Tuya {
            version,
            device_id,
            local_key,
            ..
        } = &v.vendor
        else {
            continue;
        };
        let ours: Vec<_> = sink.0.iter().filter(|(ip, ..)| *ip == v.ip).collect();
        let mut conv = PlugConversation::demo(*version);
        conv.local_key = TuyaKey::from_local_key_str(local_key).unwrap();
        conv.device_id.clone_from(device_id);
        let want = conv.frames();
        assert_eq!(ours.len(), want.len(), "{version:?}: one frame per segment");
        let ans = call(json!({
            "op": "read",
            "version": version.as_str(),
            "local_key": local_key,
            "frames": ours.iter().map(|(_, d, b)| json!({"dir": dir_name(*d), "hex": hex::encode(b)})).collect::<Vec<_>>(),
        }));
        let got = ans["frames"].as_array().expect("frames");
        assert_eq!(got.len(), want.len(), "{version:?}");
        for (f, g) in want.iter().zip(got) {
            let what = format!("demo {version:?} {:?} seq {}", f.cmd, f.seq);
            assert_eq!(
                (&g["cmd"], &g["seq"]),
                (&json!(f.cmd.0), &json!(f.seq)),
                "{what}"
            );
            assert_eq!(g["crc_good"], true, "{what}: {g}");
            if !f.cmd.is_negotiation() && !f.payload.is_empty() {
                let expected: Value = serde_json::from_slice(&f.payload).unwrap();
                assert_eq!(g["json"], expected, "{what}");
            }
        }
        let sk = conv.session_key().map(|k| hex::encode(k.as_bytes()));
        assert_eq!(ans["session_key"], json!(sk), "{version:?}");
        checked.push(*version);
    }
    assert_eq!(checked, [Version::V33, Version::V35]);
}
