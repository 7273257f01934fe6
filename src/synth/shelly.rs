//! Synthetic Shelly traffic ([`traffic`]): what a phone app or Home
//! Assistant exchanges with two Shelly plugs, byte for byte as the devices
//! send it (shapes from the Shelly API docs and aioshelly).
//!
//! 1. **Gen1 Plug S** at [`GEN1`]: one keep-alive HTTP connection with
//!    `GET /shelly`, `/relay/0?turn=on`, `/status` (12.5 W, 120 Wmin),
//!    `/meter/0` and `/relay/0?turn=off` (the `/status` answer split over
//!    two segments); a second connection fetching `/cit/d`; CoIoT: a
//!    `GET /cit/s` over CoAP with its 2.05 answer, and a 0.30 status
//!    multicast to 224.0.1.187.
//! 2. **Gen2 Plus Plug S** at [`GEN2`]: `POST /rpc` `Shelly.GetDeviceInfo`
//!    and `Switch.Set`, `GET /rpc/Switch.GetStatus?id=0`; then a WebSocket
//!    session on `/rpc` — `Switch.GetStatus` in two masked fragments with a
//!    ping between them, `Switch.Set` off, a `NotifyStatus` push, the
//!    answers, a close; then a connection with digest authentication: a
//!    401 challenge and the call retried with an `auth` object computed as
//!    aioshelly `AuthData.get_auth` does.
//!
//! Deterministic: masks, nonces and ports are fixed.

use std::net::{IpAddr, SocketAddr};

use serde_json::json;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::plugs::{PlugTraffic, TcpExchange, UdpDatagram, http_request, http_response, split};
use crate::decoders::Direction::{ToClient, ToServer};
use crate::decoders::coap::{self, option};
use crate::decoders::shelly::coiot::{CODE_CONTENT, CODE_GET, CODE_PUBLISH, MULTICAST};
use crate::decoders::tplink::smart::b64_encode;
use crate::decoders::websocket::{encode_frame, opcode};

/// The Gen1 Plug S.
pub const GEN1: [u8; 4] = [192, 168, 1, 30];
/// The Gen2 Plus Plug S.
pub const GEN2: [u8; 4] = [192, 168, 1, 31];
/// The controller (phone or Home Assistant).
pub const CONTROLLER: [u8; 4] = [192, 168, 1, 5];
/// The Gen2 plug's device id (its digest realm).
pub const GEN2_ID: &str = "shellyplusplugs-e86beae8c2a4";
/// The Gen2 plug's password (what the app knows; plugsniff never does).
pub const GEN2_PASSWORD: &str = "correct horse battery";
/// The CoIoT description of the Plug S (CoIoT v2 ids).
pub const CIT_D: &str = r#"{"blk":[{"I":1,"D":"relay_0"},{"I":2,"D":"device"}],"sen":[{"I":9103,"T":"EVC","D":"cfgChanged","R":"U16","L":2},{"I":1101,"T":"S","D":"output","R":"0/1","L":1},{"I":4101,"T":"P","D":"power","U":"W","R":["0/2500","-1"],"L":1},{"I":4103,"T":"E","D":"energy","U":"Wmin","R":["U32","-1"],"L":1},{"I":6102,"T":"A","D":"overpower","R":["0/1","-1"],"L":1}]}"#;
/// The CoIoT device id option (3332).
pub const COIOT_DEVID: &str = "SHPLG-S#A4CF12F45A1C#2";

fn sa(ip: [u8; 4], port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::from(ip), port)
}

/// Everything, in capture order.
pub fn traffic() -> PlugTraffic {
    PlugTraffic {
        tcp: vec![
            gen1_http(),
            gen1_cit_d(),
            gen2_http(),
            gen2_websocket(),
            gen2_digest(),
        ],
        udp: coiot(),
    }
}

fn get(target: &str, ip: [u8; 4]) -> Vec<u8> {
    let host = IpAddr::from(ip).to_string();
    http_request("GET", target, &host, &[("User-Agent", "okhttp/4.9.2")], b"")
}

fn ok_json(v: &serde_json::Value) -> Vec<u8> {
    http_response(
        200,
        "OK",
        &[
            ("Server", "Mongoose/6.18"),
            ("Content-Type", "application/json"),
        ],
        v.to_string().as_bytes(),
    )
}

/// Gen1: identity, relay on, status with power, meter, relay off.
pub fn gen1_http() -> TcpExchange {
    let mut s = vec![
        (ToServer, get("/shelly", GEN1)),
        (
            ToClient,
            ok_json(
                &json!({"type":"SHPLG-S","mac":"A4CF12F45A1C","auth":false,"fw":"20230913-114008/v1.14.0-gcb84623","num_outputs":1,"num_meters":1}),
            ),
        ),
        (ToServer, get("/relay/0?turn=on", GEN1)),
        (
            ToClient,
            ok_json(
                &json!({"ison":true,"has_timer":false,"timer_started":0,"timer_duration":0,"timer_remaining":0,"overpower":false,"source":"http"}),
            ),
        ),
        (ToServer, get("/status", GEN1)),
    ];
    s.extend(split(
        ToClient,
        ok_json(&json!({"wifi_sta":{"connected":true,"ssid":"home","ip":"192.168.1.30","rssi":-61},
            "cloud":{"enabled":false,"connected":false},"mqtt":{"connected":false},"time":"18:17","unixtime":1663863464,
            "serial":7,"has_update":false,"mac":"A4CF12F45A1C",
            "relays":[{"ison":true,"has_timer":false,"timer_started":0,"timer_duration":0,"timer_remaining":0,"overpower":false,"source":"http"}],
            "meters":[{"power":12.5,"overpower":0.0,"is_valid":true,"timestamp":1663863464,"counters":[12.4,12.6,12.5],"total":120}],
            "temperature":31.2,"overtemperature":false,"uptime":86400})),
        90,
    ));
    s.extend([
        (ToServer, get("/meter/0", GEN1)),
        (ToClient, ok_json(&json!({"power":12.5,"overpower":0.0,"is_valid":true,"timestamp":1663863470,"counters":[12.4,12.6,12.5],"total":126}))),
        (ToServer, get("/relay/0?turn=off", GEN1)),
        (ToClient, ok_json(&json!({"ison":false,"has_timer":false,"timer_started":0,"timer_duration":0,"timer_remaining":0,"overpower":false,"source":"http"}))),
    ]);
    TcpExchange {
        client: sa(CONTROLLER, 51000),
        server: sa(GEN1, 80),
        segments: s,
    }
}

/// Gen1 ≥ 1.10: the CoIoT description over HTTP (aioshelly `_update_cit_d`).
pub fn gen1_cit_d() -> TcpExchange {
    TcpExchange {
        client: sa(CONTROLLER, 51001),
        server: sa(GEN1, 80),
        segments: vec![
            (ToServer, get("/cit/d", GEN1)),
            (
                ToClient,
                http_response(
                    200,
                    "OK",
                    &[("Content-Type", "application/json")],
                    CIT_D.as_bytes(),
                ),
            ),
        ],
    }
}

/// CoIoT: a `/cit/s` request (aioshelly's exact bytes but for the path),
/// its answer, and a status multicast.
pub fn coiot() -> Vec<UdpDatagram> {
    let opts = |serial: u8| -> Vec<(u32, Vec<u8>)> {
        vec![
            (option::COIOT_DEVID, COIOT_DEVID.as_bytes().to_vec()),
            (option::COIOT_VALIDITY, vec![0x0f, 0xa0]),
            (option::COIOT_SERIAL, vec![serial]),
        ]
    };
    let enc = |mt, code, mid, o: &[(u32, Vec<u8>)], p: &[u8]| {
        let o: Vec<(u32, &[u8])> = o.iter().map(|(n, v)| (*n, v.as_slice())).collect();
        coap::encode(mt, code, mid, &[], &o, p)
    };
    let g = br#"{"G":[[0,9103,0],[0,1101,1],[0,4101,12.5],[0,4103,126],[0,6102,0]]}"#;
    vec![
        UdpDatagram {
            src: sa(CONTROLLER, 5683),
            dst: sa(GEN1, 5683),
            payload: enc(
                coap::mtype::NON,
                CODE_GET,
                10,
                &[
                    (option::URI_PATH, b"cit".to_vec()),
                    (option::URI_PATH, b"d".to_vec()),
                ],
                b"\x00",
            ),
        },
        UdpDatagram {
            src: sa(GEN1, 5683),
            dst: sa(CONTROLLER, 5683),
            payload: enc(
                coap::mtype::NON,
                CODE_CONTENT,
                10,
                &opts(41),
                CIT_D.as_bytes(),
            ),
        },
        UdpDatagram {
            src: sa(GEN1, 5683),
            dst: sa(MULTICAST, 5683),
            payload: enc(coap::mtype::NON, CODE_PUBLISH, 11, &opts(42), g),
        },
    ]
}

fn rpc_post(body: &serde_json::Value, ip: [u8; 4]) -> Vec<u8> {
    let host = IpAddr::from(ip).to_string();
    http_request(
        "POST",
        "/rpc",
        &host,
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    )
}

/// Gen2 over HTTP: identity, switch on, status by GET.
pub fn gen2_http() -> TcpExchange {
    gen2_http_between(sa(CONTROLLER, 51002), GEN2)
}

/// [`gen2_http`] between `client` and a plug at `device` (port 80).
pub fn gen2_http_between(client: SocketAddr, device: [u8; 4]) -> TcpExchange {
    let src = "plugsniff-demo";
    let mut s = vec![
        (
            ToServer,
            rpc_post(
                &json!({"id":1,"src":src,"method":"Shelly.GetDeviceInfo"}),
                device,
            ),
        ),
        (
            ToClient,
            ok_json(
                &json!({"id":1,"src":GEN2_ID,"dst":src,"result":{"name":"Fan heater","id":GEN2_ID,"mac":"E86BEAE8C2A4",
            "slot":0,"model":"SNPL-00112EU","gen":2,"fw_id":"20231107-164738/1.0.8-g","ver":"1.0.8","app":"PlusPlugS","auth_en":false,"auth_domain":null}}),
            ),
        ),
    ];
    s.extend(split(
        ToServer,
        rpc_post(
            &json!({"id":2,"src":src,"method":"Switch.Set","params":{"id":0,"on":true}}),
            device,
        ),
        50,
    ));
    s.extend([
        (ToClient, ok_json(&json!({"id":2,"src":GEN2_ID,"dst":src,"result":{"was_on":false}}))),
        (ToServer, get("/rpc/Switch.GetStatus?id=0", device)),
        (ToClient, ok_json(&json!({"id":0,"source":"HTTP_in","output":true,"apower":41.7,"voltage":230.4,"freq":50.0,"current":0.215,
            "aenergy":{"total":1523.407,"by_minute":[694.125,701.219,688.903],"minute_ts":1700000040},"temperature":{"tC":38.2,"tF":100.8}}))),
    ]);
    TcpExchange {
        client,
        server: sa(device, 80),
        segments: s,
    }
}

/// RFC 6455 §4.2.2: base64(SHA-1(key ‖ GUID)).
pub fn websocket_accept(key: &str) -> String {
    let mut h = Sha1::new();
    h.update(key.as_bytes());
    h.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    b64_encode(&h.finalize())
}

/// Gen2 over WebSocket `/rpc`.
pub fn gen2_websocket() -> TcpExchange {
    gen2_websocket_between(sa(CONTROLLER, 51003), GEN2)
}

/// [`gen2_websocket`] between `client` and a plug at `device` (port 80).
pub fn gen2_websocket_between(client: SocketAddr, device: [u8; 4]) -> TcpExchange {
    let key = "dGhlIHNhbXBsZSBub25jZQ==";
    let host = IpAddr::from(device).to_string();
    let upgrade = http_request(
        "GET",
        "/rpc",
        &host,
        &[
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", key),
            ("Sec-WebSocket-Version", "13"),
        ],
        b"",
    );
    let accept = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
        websocket_accept(key)
    )
    .into_bytes();
    let src = "plugsniff-ha";
    let call1 =
        json!({"id":11,"src":src,"method":"Switch.GetStatus","params":{"id":0}}).to_string();
    let (a, b) = call1.as_bytes().split_at(20);
    let mut c1 = encode_frame(false, opcode::TEXT, a, Some([0x12, 0x34, 0x56, 0x78]));
    c1.extend(encode_frame(true, opcode::PING, b"", Some([1, 2, 3, 4])));
    c1.extend(encode_frame(
        true,
        opcode::CONTINUATION,
        b,
        Some([0x9a, 0xbc, 0xde, 0xf0]),
    ));
    let r1 = json!({"id":11,"src":GEN2_ID,"dst":src,"result":{"id":0,"source":"WS_in","output":true,"apower":41.7,"voltage":230.4,
        "current":0.215,"aenergy":{"total":1523.407,"by_minute":[694.125,701.219,688.903],"minute_ts":1700000040},"temperature":{"tC":38.2,"tF":100.8}}});
    let mut s1 = encode_frame(true, opcode::PONG, b"", None);
    s1.extend(encode_frame(
        true,
        opcode::TEXT,
        r1.to_string().as_bytes(),
        None,
    ));
    let c2 = encode_frame(
        true,
        opcode::TEXT,
        json!({"id":12,"src":src,"method":"Switch.Set","params":{"id":0,"on":false}})
            .to_string()
            .as_bytes(),
        Some([0xde, 0xad, 0xbe, 0xef]),
    );
    let r2 = encode_frame(
        true,
        opcode::TEXT,
        json!({"id":12,"src":GEN2_ID,"dst":src,"result":{"was_on":true}})
            .to_string()
            .as_bytes(),
        None,
    );
    let push = encode_frame(
        true,
        opcode::TEXT,
        json!({"src":GEN2_ID,"dst":src,"method":"NotifyStatus","params":{"ts":1700000050.12,
            "switch:0":{"id":0,"output":false,"source":"WS_in","apower":0.0,"current":0.0}}})
        .to_string()
        .as_bytes(),
        None,
    );
    let close_c = encode_frame(
        true,
        opcode::CLOSE,
        &1000u16.to_be_bytes(),
        Some([7, 7, 7, 7]),
    );
    let close_s = encode_frame(true, opcode::CLOSE, &1000u16.to_be_bytes(), None);
    // The answer and the push arrive together, cut mid-frame.
    let mut r2push = r2;
    r2push.extend(push);
    let mut segs = vec![(ToServer, upgrade), (ToClient, accept)];
    segs.extend(split(ToServer, c1, 13));
    segs.extend([(ToClient, s1), (ToServer, c2)]);
    segs.extend(split(ToClient, r2push, 31));
    segs.extend([(ToServer, close_c), (ToClient, close_s)]);
    TcpExchange {
        client,
        server: sa(device, 80),
        segments: segs,
    }
}

fn hex_sha256(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// The `auth` object aioshelly `AuthData.get_auth` builds (Gen2 docs,
/// Authentication): `response = SHA-256(HA1:nonce:nc:cnonce:auth:HA2)` with
/// `HA1 = SHA-256(admin:realm:password)`, `HA2 = SHA-256("dummy_method:dummy_uri")`.
pub fn digest_auth(
    realm: &str,
    password: &str,
    nonce: u64,
    nc: u64,
    cnonce: &str,
) -> serde_json::Value {
    let ha1 = hex_sha256(&format!("admin:{realm}:{password}"));
    let ha2 = hex_sha256("dummy_method:dummy_uri");
    let response = hex_sha256(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"));
    json!({"realm":realm,"username":"admin","nonce":nonce,"nc":nc,"cnonce":cnonce,"response":response,"algorithm":"SHA-256"})
}

/// Gen2 with authentication on: challenge, then the authenticated call.
pub fn gen2_digest() -> TcpExchange {
    let src = "plugsniff-demo";
    let nonce = 1_700_000_100u64;
    let challenge =
        json!({"auth_type":"digest","nonce":nonce,"nc":1,"realm":GEN2_ID,"algorithm":"SHA-256"})
            .to_string();
    TcpExchange {
        client: sa(CONTROLLER, 51004),
        server: sa(GEN2, 80),
        segments: vec![
            (
                ToServer,
                rpc_post(
                    &json!({"id":3,"src":src,"method":"Switch.Set","params":{"id":0,"on":true}}),
                    GEN2,
                ),
            ),
            (
                ToClient,
                ok_json(
                    &json!({"id":3,"src":GEN2_ID,"dst":src,"error":{"code":401,"message":challenge}}),
                ),
            ),
            (
                ToServer,
                rpc_post(
                    &json!({"id":4,"src":src,"method":"Switch.Set","params":{"id":0,"on":true},
                        "auth":digest_auth(GEN2_ID, GEN2_PASSWORD, nonce, 1, "MTIzNDU2Nzg5MGFiY2RlZg==")}),
                    GEN2,
                ),
            ),
            (
                ToClient,
                ok_json(&json!({"id":4,"src":GEN2_ID,"dst":src,"result":{"was_on":false}})),
            ),
        ],
    }
}
