//! plugsniff's Shelly, Wemo and Meross readings against the vendors' own
//! Python libraries: `tests/support/vendors_reference.py` feeds the bytes
//! `synth::{shelly, wemo, meross}` generate to aiohttp's WebSocket reader
//! and aioshelly (`WsRPC.handle_frame`, `CoapMessage`, `AuthData`), to pywemo
//! (`parse_insight_params`, `DeviceDescription.dict_from_xml`, `Action`) and
//! to meross-iot (`verify_message_signature`), and this test checks that
//! plugsniff's decoders read the same things. Skipped with a message when
//! python3 or a library is missing, except under `CI=true`
//! (`.ci/run` installs them with pip).

use std::io::Write;
use std::process::{Command, Stdio};

use plugsniff::decoders::summary::{RelayState, Summary};
use plugsniff::decoders::wemo::{InsightParams, xml};
use plugsniff::decoders::{
    Ctx, Decoder, DecoderConfig, Direction, Finding, FlowMeta, MessageKind, MessageMeta, Shared,
    StreamDecoder,
};
use plugsniff::synth::plugs::TcpExchange;
use plugsniff::synth::{meross, shelly, wemo};
use plugsniff::wire::Ts;
use serde_json::{Value, json};

fn reference(input: &Value) -> Option<Value> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/support/vendors_reference.py"
    );
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            assert!(!ci, "python3 is needed under CI=true: {e}");
            eprintln!("skipping: no python3 ({e})");
            return None;
        }
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.code() == Some(3) {
        let why = String::from_utf8_lossy(&out.stderr);
        assert!(!ci, "reference libraries are needed under CI=true: {why}");
        eprintln!("skipping: {why} (pip install aioshelly pywemo meross-iot)");
        return None;
    }
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

/// The bytes of one direction after its HTTP upgrade message.
fn after_upgrade(ex: &TcpExchange, dir: Direction) -> Vec<u8> {
    let all: Vec<u8> = ex
        .segments
        .iter()
        .filter(|(d, _)| *d == dir)
        .flat_map(|(_, b)| b.iter().copied())
        .collect();
    let end = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    all[end..].to_vec()
}

fn decode(
    ex: &TcpExchange,
    reg: &plugsniff::decoders::Registration,
    sh: &mut Shared,
) -> Vec<Finding> {
    let Decoder::Stream(new) = reg.decoder else {
        panic!()
    };
    let probe = plugsniff::decoders::Probe {
        src: ex.client,
        dst: ex.server,
        payload: &[],
        syn: true,
        mid_stream: false,
        shared: sh,
    };
    let mut dec: Box<dyn StreamDecoder> = new(&probe);
    let mut out = Vec::new();
    for (dir, seg) in &ex.segments {
        let mut cx = Ctx {
            ts: Ts::default(),
            client: ex.client,
            server: ex.server,
            shared: sh,
            flow: FlowMeta::default(),
        };
        dec.on_data(&mut cx, *dir, seg, &mut out);
    }
    out
}

fn msgs(f: &[Finding]) -> Vec<&plugsniff::decoders::AppMessage> {
    f.iter()
        .filter_map(|x| match x {
            Finding::Message(m) => Some(&**m),
            _ => None,
        })
        .collect()
}

#[test]
fn vendors_against_their_python_libraries() {
    let sh_t = shelly::traffic();
    let ws_ex = &sh_t.tcp[3];
    let wemo_t = wemo::traffic();
    let setup_rsp = &wemo_t.tcp[0].segments[1].1;
    let setup_body = &setup_rsp[setup_rsp.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4..];
    let basic = "urn:Belkin:service:basicevent:1";
    let ins = "urn:Belkin:service:insight:1";
    let me_t = meross::traffic();
    let mut headers = Vec::new();
    for ex in &me_t.tcp {
        for (_, seg) in &ex.segments {
            if let Some(i) = seg.windows(4).position(|w| w == b"\r\n\r\n")
                && let Ok(v) = serde_json::from_slice::<Value>(&seg[i + 4..])
            {
                headers.push(json!([v["header"], meross::USER_KEY]));
                headers.push(json!([v["header"], "not the key"]));
            }
        }
    }
    // The ToggleX request is split over two segments: add it whole.
    let toggle = meross::frame(
        "b9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4",
        "Appliance.Control.ToggleX",
        "SET",
        1_700_000_205,
        "x",
        meross::USER_KEY,
        json!({}),
    );
    headers.push(json!([toggle["header"], meross::USER_KEY]));
    let input = json!({
        "ws": {
            "client": hex::encode(after_upgrade(ws_ex, Direction::ToServer)),
            "server": hex::encode(after_upgrade(ws_ex, Direction::ToClient)),
        },
        "coap": sh_t.udp.iter().map(|d| hex::encode(&d.payload)).collect::<Vec<_>>(),
        "digest": {"realm": shelly::GEN2_ID, "password": shelly::GEN2_PASSWORD, "nonce": 1_700_000_100u64, "cnonce": "MTIzNDU2Nzg5MGFiY2RlZg=="},
        "insight": [wemo::INSIGHT_PARAMS],
        "setup_xml": String::from_utf8_lossy(setup_body),
        "soap": [
            {"service": basic, "control": "/upnp/control/basicevent1", "action": "SetBinaryState", "args": {"BinaryState": "1"},
             "response": wemo::soap_response(basic, "SetBinaryState", &[("BinaryState", "1")])},
            {"service": ins, "control": "/upnp/control/insight1", "action": "GetInsightParams", "args": {},
             "response": wemo::soap_response(ins, "GetInsightParams", &[("InsightParams", wemo::INSIGHT_PARAMS)])},
        ],
        "meross": headers,
    });
    let Some(r) = reference(&input) else { return };

    // 1. WebSocket: aiohttp reads the same messages, aioshelly gives them the
    // same roles, and plugsniff pairs the answers to the same calls.
    let types = |d: &str| -> Vec<String> {
        r["ws"][d]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["type"].as_str().unwrap().to_owned())
            .collect()
    };
    // The ping between the two fragments is delivered before the message they make.
    assert_eq!(types("client"), ["PING", "TEXT", "TEXT", "CLOSE"], "{r}");
    assert_eq!(
        types("server"),
        ["PONG", "TEXT", "TEXT", "TEXT", "CLOSE"],
        "{r}"
    );
    let mut sh = Shared::new(DecoderConfig::default());
    let out = decode(ws_ex, &plugsniff::decoders::shelly::HTTP, &mut sh);
    let mine: Vec<Value> = msgs(&out)
        .iter()
        .map(|m| {
            let dir = if m.dir == Direction::ToServer {
                "client"
            } else {
                "server"
            };
            let kind = match m.kind {
                MessageKind::Request => "call",
                MessageKind::Notify => "notification",
                MessageKind::Response => "response",
            };
            let mut v = json!({"dir": dir, "kind": kind, "method": m.methods[0]});
            if kind == "response" {
                v["id"] = serde_json::from_str(match &m.meta {
                    Some(MessageMeta::Shelly {
                        rpc_id: Some(id), ..
                    }) => id,
                    _ => "null",
                })
                .unwrap();
            }
            v
        })
        .collect();
    let mut theirs: Vec<Value> = r["rpc"].as_array().unwrap().clone();
    let mut mine_sorted = mine.clone();
    let key = |v: &Value| {
        (
            v["dir"].to_string(),
            v["method"].to_string(),
            v["kind"].to_string(),
        )
    };
    theirs.sort_by_key(key);
    mine_sorted.sort_by_key(key);
    assert_eq!(
        mine_sorted, theirs,
        "plugsniff {mine:?}\naioshelly {}",
        r["rpc"]
    );
    // The same JSON text: each message plugsniff decoded is one aiohttp read.
    let texts: Vec<Value> = ["client", "server"]
        .iter()
        .flat_map(|d| {
            r["ws"][*d]
                .as_array()
                .unwrap()
                .iter()
                .filter(|m| m["type"] == "TEXT")
                .map(|m| serde_json::from_str::<Value>(m["data"].as_str().unwrap()).unwrap())
        })
        .collect();
    for m in msgs(&out) {
        assert!(texts.contains(&m.json), "{}", m.json);
    }

    // 2. CoIoT: aioshelly refuses the request (it only reads codes 30 and 69)
    // and reads the answer and the publication as plugsniff does.
    let c = r["coap"].as_array().unwrap();
    assert!(c[0]["error"].as_str().unwrap().contains("Wrong type"));
    let mut sh = Shared::new(DecoderConfig::default());
    for (i, dg) in sh_t.udp.iter().enumerate().skip(1) {
        let mut cx = Ctx {
            ts: Ts::default(),
            client: dg.dst,
            server: dg.src,
            shared: &mut sh,
            flow: FlowMeta::default(),
        };
        let mut out = Vec::new();
        plugsniff::decoders::shelly::coiot::decode_datagram(
            &mut cx,
            Direction::ToClient,
            &dg.payload,
            &mut out,
        );
        let m = msgs(&out)[0];
        assert_eq!(m.json, c[i]["payload"]);
        let Some(MessageMeta::Coiot {
            code,
            device_id,
            validity,
            serial,
            ..
        }) = &m.meta
        else {
            panic!()
        };
        let their_code = c[i]["code"].as_u64().unwrap();
        assert_eq!(*code, format!("{}.{:02}", their_code >> 5, their_code & 31));
        assert_eq!(
            device_id
                .as_deref()
                .map(|d| d.split('#').nth(1).unwrap()[6..].to_owned()),
            c[i]["device_id"].as_str().map(str::to_owned)
        );
        assert_eq!(
            validity.map(|v| format!("{v:04x}")),
            c[i]["options"]["3412"].as_str().map(str::to_owned)
        );
        assert_eq!(
            serial.map(|v| format!("{v:02x}")),
            c[i]["options"]["3420"].as_str().map(str::to_owned)
        );
    }

    // 3. Digest: the auth object the generator builds is aioshelly's.
    let mine = shelly::digest_auth(
        shelly::GEN2_ID,
        shelly::GEN2_PASSWORD,
        1_700_000_100,
        1,
        "MTIzNDU2Nzg5MGFiY2RlZg==",
    );
    assert_eq!(mine["response"], r["digest"]["response"]);
    assert_eq!(mine["realm"], r["digest"]["realm"]);

    // 4. pywemo: InsightParams, setup.xml, SOAP answers and its own requests.
    let p = &r["insight"][0];
    let ip = InsightParams::parse(wemo::INSIGHT_PARAMS).unwrap();
    assert_eq!(ip.currentmw, p["currentpower"].as_f64().unwrap());
    assert_eq!(ip.totalmw, p["totalmw"].as_f64().unwrap());
    assert_eq!(ip.todaymw, p["todaymw"].as_f64().unwrap());
    assert_eq!(ip.state.to_string(), p["state"].as_str().unwrap());
    assert_eq!(ip.ontotal, p["ontotal"].as_i64().unwrap());
    // pywemo: total_kwh = totalmw × 1.6666667e-8.
    let pywemo_kwh = p["totalmw"].as_f64().unwrap() * 1.6666667e-8;
    assert!((ip.reading().total_kwh.unwrap() - pywemo_kwh).abs() < 1e-6);
    assert_eq!(
        ip.reading().power_w.unwrap(),
        p["currentpower"].as_f64().unwrap() / 1000.0
    );
    let mut sh = Shared::new(DecoderConfig::default());
    let out = decode(&wemo_t.tcp[0], &plugsniff::decoders::wemo::UPNP, &mut sh);
    let m = msgs(&out);
    let Some(Summary::SysInfo(si)) = m[1].summary.first() else {
        panic!()
    };
    let s = &r["setup"];
    assert_eq!(si.alias.as_deref(), s["name"].as_str());
    assert_eq!(si.mac.as_deref(), s["mac"].as_str());
    assert_eq!(si.model.as_deref(), s["model_name"].as_str());
    assert_eq!(si.device_id.as_deref(), s["serial_number"].as_str());
    assert_eq!(si.sw_ver.as_deref(), s["firmware_version"].as_str());
    assert_eq!(m[3].json["SetBinaryStateResponse"], r["soap"][0]["result"]);
    assert_eq!(
        m[7].json["GetInsightParamsResponse"],
        r["soap"][1]["result"]
    );
    for (i, (action, args)) in [
        ("SetBinaryState", json!({"BinaryState":"1"})),
        ("GetInsightParams", json!({})),
    ]
    .iter()
    .enumerate()
    {
        let body = r["soap"][i]["request_body"].as_str().unwrap();
        let b = xml::soap(body.as_bytes()).unwrap();
        assert_eq!(b.action, *action);
        assert_eq!(b.to_json()[action], *args);
        // The generator sends exactly what pywemo sends.
        let sent = wemo_t.tcp[0]
            .segments
            .iter()
            .filter(|(d, _)| *d == Direction::ToServer)
            .flat_map(|(_, b)| b.clone())
            .collect::<Vec<u8>>();
        assert!(
            sent.windows(body.len()).any(|w| w == body.as_bytes()),
            "{body}"
        );
    }
    assert_eq!(m[2].summary, [Summary::SetRelayState(RelayState::On)]);

    // 5. meross-iot: every signature verifies with the key, none without.
    let v: Vec<bool> = r["meross"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_bool().unwrap())
        .collect();
    let want: Vec<bool> = (0..v.len())
        .map(|i| i % 2 == 0 || i == v.len() - 1)
        .collect();
    assert_eq!(v, want);
    let mut sh = Shared::new(DecoderConfig {
        meross_keys: vec![plugsniff::decoders::meross::MerossKey::new(
            "key #1",
            meross::USER_KEY,
        )],
        ..DecoderConfig::default()
    });
    for ex in &me_t.tcp {
        for m in msgs(&decode(ex, &plugsniff::decoders::meross::HTTP, &mut sh)) {
            assert!(matches!(
                m.meta,
                Some(MessageMeta::Meross {
                    sign_ok: Some(true),
                    ..
                })
            ));
        }
    }
}
