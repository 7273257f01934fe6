//! Shelly Gen1 HTTP API: what a request path asks and what its JSON answer
//! says (shelly-api-docs.shelly.cloud, "Gen1 Device API": Common HTTP API
//! `/shelly`, `/settings`, `/status`; Shelly 1PM / Plug S `/relay/{index}`,
//! `/meter/{index}`; Shelly EM `/emeter/{index}`). Stateless.
//!
//! # Units (Gen1 docs, converted exactly)
//! - `/meter/{index}` and `status.meters[]`: `power` in W; `total` in
//!   **watt-minutes** ("Total energy consumed by the attached electrical
//!   appliance in Watt-minute") → kWh = total / 60 000.
//! - `/emeter/{index}` and `status.emeters[]` (Shelly EM, 3EM): `power` W,
//!   `voltage` V, `current` A, `total` in **watt-hours** → kWh = total / 1 000.
//!
//! # The JSON of a request
//! Gen1 requests carry no JSON: their query parameters (and a form-encoded
//! body, which the API accepts in place of the query) are shown as a JSON
//! object of strings, percent-decoded, in the order sent. Responses are the
//! device's JSON exactly as sent.

use serde_json::{Map, Value};

use super::{VENDOR, energy};
use crate::decoders::summary::{EmeterReading, RelayState, Summary, SysInfo};

/// Longest method name kept (`settings/relay/0`…).
pub const MAX_METHOD: usize = 64;
/// Query parameters kept per request.
pub const MAX_PARAMS: usize = 64;
/// Watt-minutes in a kWh (Gen1 `meters[].total`).
pub const WMIN_PER_KWH: f64 = 60_000.0;
/// Watt-hours in a kWh (Gen1 `emeters[].total`, Gen2 `aenergy.total`).
pub const WH_PER_KWH: f64 = 1_000.0;

/// First path segments of the Gen1 API (the docs' endpoint list): a request
/// whose path starts with one of these is Shelly Gen1.
pub const PATHS: &[&str] = &[
    "/shelly",
    "/status",
    "/settings",
    "/relay/",
    "/meter/",
    "/emeter/",
    "/light/",
    "/roller/",
    "/color/",
    "/white/",
    "/cit/d",
    "/cit/s",
    "/ota",
    "/reboot",
];

/// The request path is a Gen1 endpoint.
pub fn is_gen1_path(path: &str) -> bool {
    PATHS.iter().any(|p| {
        path.strip_prefix(p)
            .is_some_and(|rest| p.ends_with('/') || rest.is_empty() || rest.starts_with('/'))
    })
}

/// `relay/0` for `/relay/0` (bounded).
pub fn method_of(path: &str) -> String {
    path.trim_start_matches('/')
        .chars()
        .take(MAX_METHOD)
        .collect()
}

/// Query (or form body) parameters as a JSON object of strings.
pub fn params(query: &str) -> Value {
    let mut m = Map::new();
    for kv in query.split('&').filter(|s| !s.is_empty()).take(MAX_PARAMS) {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        m.insert(percent_decode(k), Value::String(percent_decode(v)));
    }
    Value::Object(m)
}

/// `application/x-www-form-urlencoded` decoding (`+` is a space, `%XX`).
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        match c {
            b'+' => out.push(b' '),
            b'%' => match b.get(i + 1..i + 3).and_then(|h| {
                std::str::from_utf8(h)
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
            }) {
                Some(x) => {
                    out.push(x);
                    i += 2;
                }
                None => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What a Gen1 request asks.
pub fn request_summary(method: &str, params: &Value) -> Vec<Summary> {
    let turn = params.get("turn").and_then(Value::as_str);
    let mut seg = method.split('/');
    match (seg.next(), turn) {
        (Some("relay" | "light" | "color" | "white"), Some("on")) => {
            vec![Summary::SetRelayState(RelayState::On)]
        }
        (Some("relay" | "light" | "color" | "white"), Some("off")) => {
            vec![Summary::SetRelayState(RelayState::Off)]
        }
        (Some(module @ ("relay" | "light" | "color" | "white")), Some(t)) => vec![Summary::Raw {
            module: module.to_owned(),
            method: t.chars().take(16).collect(),
        }],
        _ => Vec::new(),
    }
}

/// What a Gen1 answer to `method` says.
pub fn response_summary(method: &str, body: &Value) -> Vec<Summary> {
    let first = method.split('/').next().unwrap_or("");
    let mut out = Vec::new();
    match first {
        "shelly" => {
            // Gen1: {type, mac, auth, fw}; Gen2+: {id, mac, model, gen, ver, name}.
            let si = SysInfo {
                vendor: Some(VENDOR.into()),
                model: str_of(body, "type").or_else(|| str_of(body, "model")),
                alias: str_of(body, "name"),
                mac: str_of(body, "mac"),
                sw_ver: str_of(body, "fw").or_else(|| str_of(body, "ver")),
                device_id: str_of(body, "id"),
                ..SysInfo::default()
            };
            out.push(Summary::SysInfo(Box::new(si)));
        }
        "settings" if method == "settings" => {
            let dev = body.get("device");
            let si = SysInfo {
                vendor: Some(VENDOR.into()),
                model: dev.and_then(|d| str_of(d, "type")),
                alias: str_of(body, "name"),
                mac: dev.and_then(|d| str_of(d, "mac")),
                sw_ver: str_of(body, "fw"),
                device_id: dev.and_then(|d| str_of(d, "hostname")),
                ..relays(body.get("relays"))
            };
            out.push(Summary::SysInfo(Box::new(si)));
        }
        "status" => {
            let si = SysInfo {
                vendor: Some(VENDOR.into()),
                mac: str_of(body, "mac"),
                rssi: body
                    .get("wifi_sta")
                    .and_then(|w| w.get("rssi"))
                    .and_then(Value::as_i64),
                ..relays(body.get("relays"))
            };
            out.push(Summary::SysInfo(Box::new(si)));
            let meters = body
                .get("meters")
                .and_then(Value::as_array)
                .map(|a| a.iter().map(meter).collect::<Vec<_>>());
            let emeters = body
                .get("emeters")
                .and_then(Value::as_array)
                .map(|a| a.iter().map(emeter).collect::<Vec<_>>());
            if let Some(e) = emeters.or(meters).and_then(|v| energy::sum(&v)) {
                out.push(Summary::Emeter(e));
            }
        }
        "relay" | "light" => {
            if let Some(s) = body.get("ison").and_then(RelayState::from_json) {
                out.push(Summary::SysInfo(Box::new(SysInfo {
                    vendor: Some(VENDOR.into()),
                    relay_state: Some(s),
                    ..SysInfo::default()
                })));
            }
        }
        "meter" => out.push(Summary::Emeter(meter(body))),
        "emeter" => out.push(Summary::Emeter(emeter(body))),
        _ => {}
    }
    out
}

/// `relays[]`: one relay sets `relay_state`, several are children.
fn relays(v: Option<&Value>) -> SysInfo {
    let Some(a) = v.and_then(Value::as_array) else {
        return SysInfo::default();
    };
    let state = |r: &Value| r.get("ison").and_then(RelayState::from_json);
    match a.as_slice() {
        [one] => SysInfo {
            relay_state: state(one),
            ..SysInfo::default()
        },
        many => SysInfo {
            children: many
                .iter()
                .take(super::MAX_CHANNELS)
                .enumerate()
                .map(|(i, r)| (format!("relay:{i}"), str_of(r, "name"), state(r)))
                .collect(),
            ..SysInfo::default()
        },
    }
}

/// A `meters[]` entry or `/meter/N`: W and watt-minutes.
pub fn meter(m: &Value) -> EmeterReading {
    EmeterReading {
        power_w: m.get("power").and_then(Value::as_f64),
        voltage_v: m.get("voltage").and_then(Value::as_f64),
        current_a: m.get("current").and_then(Value::as_f64),
        total_kwh: m
            .get("total")
            .and_then(Value::as_f64)
            .map(|wmin| wmin / WMIN_PER_KWH),
        added_kwh: None,
    }
}

/// An `emeters[]` entry or `/emeter/N`: W, V, A and watt-hours.
pub fn emeter(m: &Value) -> EmeterReading {
    EmeterReading {
        total_kwh: m
            .get("total")
            .and_then(Value::as_f64)
            .map(|wh| wh / WH_PER_KWH),
        ..meter(m)
    }
}

pub(super) fn str_of(v: &Value, k: &str) -> Option<String> {
    v.get(k)
        .and_then(Value::as_str)
        .map(|s| s.chars().take(super::MAX_FIELD).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_and_params() {
        for p in [
            "/relay/0",
            "/status",
            "/settings",
            "/settings/relay/0",
            "/shelly",
            "/meter/1",
            "/cit/d",
        ] {
            assert!(is_gen1_path(p), "{p}");
        }
        for p in [
            "/",
            "/app/request",
            "/statusx",
            "/rpc",
            "/config",
            "/shellyplus",
        ] {
            assert!(!is_gen1_path(p), "{p}");
        }
        assert_eq!(method_of("/relay/0"), "relay/0");
        let q = params("turn=on&timer=10&name=Living%20room+lamp&bad=%zz&flag");
        assert_eq!(
            q,
            json!({"turn":"on","timer":"10","name":"Living room lamp","bad":"%zz","flag":""})
        );
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("%4"), "%4");
        assert_eq!(percent_decode("%e2%82%ac"), "€");
    }

    #[test]
    fn relay_requests() {
        assert_eq!(
            request_summary("relay/0", &params("turn=on")),
            [Summary::SetRelayState(RelayState::On)]
        );
        assert_eq!(
            request_summary("relay/1", &params("turn=off&timer=5")),
            [Summary::SetRelayState(RelayState::Off)]
        );
        assert!(matches!(
            &request_summary("relay/0", &params("turn=toggle"))[..],
            [Summary::Raw { method, .. }] if method == "toggle"
        ));
        assert!(request_summary("status", &params("")).is_empty());
    }

    /// `/meter/0` shaped like the Gen1 docs' Plug S answer (`total` in
    /// watt-minutes), with a round total so the conversion shows.
    #[test]
    fn meter_is_watt_minutes_emeter_is_watt_hours() {
        let m = json!({"power":41.56,"overpower":0.00,"is_valid":true,"timestamp":1563460321,"counters":[38.532,39.143,40.024],"total":6000});
        let [Summary::Emeter(e)] = &response_summary("meter/0", &m)[..] else {
            panic!()
        };
        assert_eq!(e.power_w, Some(41.56));
        assert_eq!(e.total_kwh, Some(0.1));
        let em = json!({"power":230.5,"reactive":10.0,"voltage":231.2,"current":1.0,"is_valid":true,"total":1500.0,"total_returned":0.0});
        let [Summary::Emeter(e)] = &response_summary("emeter/0", &em)[..] else {
            panic!()
        };
        assert_eq!(
            (e.voltage_v, e.current_a, e.total_kwh),
            (Some(231.2), Some(1.0), Some(1.5))
        );
    }

    #[test]
    fn status_shelly_settings() {
        let st = json!({"wifi_sta":{"connected":true,"ssid":"home","ip":"192.168.1.20","rssi":-61},
            "mac":"A4CF12F45A1C","relays":[{"ison":true,"has_timer":false,"overpower":false,"source":"http"}],
            "meters":[{"power":12.5,"is_valid":true,"total":120}]});
        let s = response_summary("status", &st);
        let Summary::SysInfo(si) = &s[0] else {
            panic!()
        };
        assert_eq!(si.relay_state, Some(RelayState::On));
        assert_eq!(si.rssi, Some(-61));
        assert_eq!(si.mac.as_deref(), Some("A4CF12F45A1C"));
        let Summary::Emeter(e) = &s[1] else { panic!() };
        assert_eq!((e.power_w, e.total_kwh), (Some(12.5), Some(0.002)));
        let sh = json!({"type":"SHPLG-S","mac":"A4CF12F45A1C","auth":false,"fw":"20230913-114008/v1.14.0-gcb84623","num_outputs":1,"num_meters":1});
        let [Summary::SysInfo(si)] = &response_summary("shelly", &sh)[..] else {
            panic!()
        };
        assert_eq!(si.model.as_deref(), Some("SHPLG-S"));
        assert_eq!(si.vendor.as_deref(), Some("Shelly"));
        let set = json!({"device":{"type":"SHSW-25","mac":"A4CF12F45A1C","hostname":"shellyswitch25-F45A1C"},
            "name":"Hall","fw":"v1.14.0","relays":[{"name":"a","ison":true},{"name":null,"ison":false}]});
        let [Summary::SysInfo(si)] = &response_summary("settings", &set)[..] else {
            panic!()
        };
        assert_eq!(si.alias.as_deref(), Some("Hall"));
        assert_eq!(si.device_id.as_deref(), Some("shellyswitch25-F45A1C"));
        assert_eq!(si.children.len(), 2);
        assert_eq!(
            si.children[1],
            ("relay:1".into(), None, Some(RelayState::Off))
        );
        // Hostile shapes give nothing, never a panic.
        for v in [
            json!(null),
            json!([]),
            json!({"relays":7,"meters":[1,"x"]}),
            json!("x"),
        ] {
            for m in [
                "status", "shelly", "settings", "relay/0", "meter/0", "emeter/0",
            ] {
                let _ = response_summary(m, &v);
            }
        }
    }
}
