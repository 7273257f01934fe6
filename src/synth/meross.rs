//! Synthetic Meross traffic ([`traffic`]): the Meross app and an MSS310
//! smart plug at [`PLUG`] on its local HTTP API (`POST /config`), frames as
//! meross-iot `_build_mqtt_message` builds them and signed with [`USER_KEY`]
//! (`md5(messageId + key + timestamp)`): `Appliance.System.All` GET, a
//! `ToggleX` SET (onoff 1) / SETACK, an `Electricity` GET / GETACK
//! (250.5 W, 230.5 V, 1.234 A), each on its own connection as the app
//! opens them.

use std::net::{IpAddr, SocketAddr};

use md5::{Digest, Md5};
use serde_json::{Value, json};

use super::plugs::{PlugTraffic, TcpExchange, http_request, http_response, split};
use crate::decoders::Direction::{ToClient, ToServer};

/// The plug.
pub const PLUG: [u8; 4] = [192, 168, 1, 50];
/// The phone.
pub const CONTROLLER: [u8; 4] = [192, 168, 1, 5];
/// The account's user key (the demo config's `[meross] key`).
pub const USER_KEY: &str = "3e4b2f0c9a8d7e6f5a4b3c2d1e0f9a8b";
/// The plug's uuid.
pub const UUID: &str = "1912126416226729082148e1e9131d13";

/// `md5(messageId + key + timestamp)`, lower-case hex.
pub fn sign(message_id: &str, key: &str, timestamp: u64) -> String {
    let mut h = Md5::new();
    h.update(format!("{message_id}{key}{timestamp}").as_bytes());
    hex::encode(h.finalize())
}

/// A signed frame.
pub fn frame(
    message_id: &str,
    namespace: &str,
    method: &str,
    timestamp: u64,
    from: &str,
    key: &str,
    payload: Value,
) -> Value {
    json!({"header":{"from":from,"messageId":message_id,"method":method,"namespace":namespace,"payloadVersion":1,
        "sign":sign(message_id, key, timestamp),"timestamp":timestamp,"triggerSrc":"Android","uuid":UUID},"payload":payload})
}

fn exchange(port: u16, req: &Value, rsp: &Value, cut: Option<usize>) -> TcpExchange {
    let host = IpAddr::from(PLUG).to_string();
    let q = http_request(
        "POST",
        "/config",
        &host,
        &[("Content-Type", "application/json")],
        req.to_string().as_bytes(),
    );
    let r = http_response(
        200,
        "OK",
        &[("Content-Type", "application/json")],
        rsp.to_string().as_bytes(),
    );
    let mut segments = match cut {
        Some(at) => split(ToServer, q, at).to_vec(),
        None => vec![(ToServer, q)],
    };
    segments.push((ToClient, r));
    TcpExchange {
        client: SocketAddr::new(IpAddr::from(CONTROLLER), port),
        server: SocketAddr::new(IpAddr::from(PLUG), 80),
        segments,
    }
}

/// System.All, ToggleX SET, Electricity GET, with their answers.
pub fn traffic() -> PlugTraffic {
    let app = "http://192.168.1.5/config";
    let dev = format!("/appliance/{UUID}/publish");
    let t = 1_700_000_200u64;
    let ids = [
        "a8f7c5d3e1b2a4c6d8e0f1a3b5c7d9e1",
        "b9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4",
        "c0f1e2d3c4b5a6f7e8d9c0b1a2f3e4d5",
    ];
    let all = json!({"all":{"system":{"hardware":{"type":"mss310","subType":"us","version":"2.0.0","chipType":"mt7682","uuid":UUID,
        "macAddress":"48:e1:e9:13:1d:13"},"firmware":{"version":"2.1.4","compileTime":"2020/01/13 17:21:43","innerIp":"192.168.1.50",
        "server":"mqtt-eu.meross.com","port":2001,"userId":123456},"time":{"timestamp":t,"timezone":"Europe/Berlin"},"online":{"status":1}},
        "digest":{"togglex":[{"channel":0,"onoff":0,"lmTime":1699990000}],"triggerx":[],"timerx":[]}}});
    PlugTraffic {
        tcp: vec![
            exchange(
                53000,
                &frame(
                    ids[0],
                    "Appliance.System.All",
                    "GET",
                    t,
                    app,
                    USER_KEY,
                    json!({}),
                ),
                &frame(
                    ids[0],
                    "Appliance.System.All",
                    "GETACK",
                    t,
                    &dev,
                    USER_KEY,
                    all,
                ),
                None,
            ),
            exchange(
                53001,
                &frame(
                    ids[1],
                    "Appliance.Control.ToggleX",
                    "SET",
                    t + 5,
                    app,
                    USER_KEY,
                    json!({"togglex":{"onoff":1,"channel":0}}),
                ),
                &frame(
                    ids[1],
                    "Appliance.Control.ToggleX",
                    "SETACK",
                    t + 5,
                    &dev,
                    USER_KEY,
                    json!({}),
                ),
                Some(120),
            ),
            exchange(
                53002,
                &frame(
                    ids[2],
                    "Appliance.Control.Electricity",
                    "GET",
                    t + 9,
                    app,
                    USER_KEY,
                    json!({}),
                ),
                &frame(
                    ids[2],
                    "Appliance.Control.Electricity",
                    "GETACK",
                    t + 9,
                    &dev,
                    USER_KEY,
                    json!({"electricity":{"channel":0,"current":1234,"voltage":2305,"power":250500,"config":{"voltageRatio":188,"electricityRatio":100}}}),
                ),
                None,
            ),
        ],
        udp: Vec::new(),
    }
}
