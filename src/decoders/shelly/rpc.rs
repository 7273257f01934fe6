//! Shelly Gen2+ JSON-RPC frames (shelly-api-docs.shelly.cloud, "Gen2+ Device
//! API": RPC Protocol, Notifications, Authentication, and the Switch and
//! Shelly components). Stateless.
//!
//! # What a frame is
//! aioshelly `rpc_device/wsrpc.py` `WsRPC.handle_frame`: a frame with a
//! `method` and an `id` is a call expecting an answer, with a `method` and
//! no `id` a notification (`NotifyStatus`, `NotifyFullStatus`,
//! `NotifyEvent`), with an `id` and no `method` a response (`result` or
//! `error`).
//!
//! # Units (Gen2 Switch component docs)
//! `apower` W, `voltage` V, `current` A, `aenergy.total` **watt-hours**
//! (→ kWh / 1 000).
//!
//! # Secrets
//! The digest `auth` object of a request (`realm`, `username`, `nonce`,
//! `cnonce`, `response`, `algorithm`) is shown as such: its `response`
//! hash is replaced by [`REDACTED`] in the JSON (it is `SHA-256` over the
//! password's HA1: an offline-guessable secret), as is `params.ha1` of
//! `Shelly.SetAuth` (`SHA-256(user:realm:password)`, a password
//! equivalent). Nothing else of a frame is changed.

use serde_json::Value;

use super::gen1::{WH_PER_KWH, str_of};
use super::{MAX_CHANNELS, VENDOR, energy};
use crate::decoders::HttpAuth;
use crate::decoders::summary::{EmeterReading, RelayState, Summary, SysInfo};

/// What replaces a digest response or an HA1 in the JSON.
pub const REDACTED: &str = "<redacted>";
/// Longest method name kept.
pub const MAX_METHOD: usize = 64;

/// A frame's role (aioshelly `handle_frame`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// `method` and `id`.
    Call,
    /// `method`, no `id`.
    Notification,
    /// `id`, no `method`.
    Response,
}

/// A JSON-RPC frame's role, or `None` for a frame that is neither (aioshelly
/// logs "Invalid frame").
pub fn classify(v: &Value) -> Option<FrameKind> {
    let id = v.get("id").filter(|i| truthy(i));
    match (v.get("method").and_then(Value::as_str), id) {
        (Some(m), Some(_)) if !m.is_empty() => Some(FrameKind::Call),
        (Some(m), None) if !m.is_empty() => Some(FrameKind::Notification),
        (None, Some(_)) => Some(FrameKind::Response),
        _ => None,
    }
}

/// Python truthiness, as aioshelly's `if frame_id:` applies it.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// The frame's `method`, bounded.
pub fn method(v: &Value) -> Option<String> {
    v.get("method")
        .and_then(Value::as_str)
        .map(|m| m.chars().take(MAX_METHOD).collect())
}

/// The JSON-RPC `id` as a pairing key (numbers and strings as sent).
pub fn id_key(v: &Value) -> Option<String> {
    match v.get("id")? {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(format!("\"{}\"", s.chars().take(64).collect::<String>())),
        _ => None,
    }
}

/// The digest `auth` object of a request, without its secrets.
pub fn auth_of(v: &Value) -> Option<HttpAuth> {
    let a = v.get("auth")?.as_object()?;
    let s = |k: &str| {
        a.get(k)
            .and_then(Value::as_str)
            .map(|x| x.chars().take(super::MAX_FIELD).collect())
    };
    Some(HttpAuth {
        scheme: "digest",
        user: s("username"),
        realm: s("realm"),
    })
}

/// Replaces the digest response and a `Shelly.SetAuth` HA1 by [`REDACTED`].
pub fn redact(v: &mut Value) {
    if let Some(r) = v.get_mut("auth").and_then(|a| a.get_mut("response")) {
        *r = Value::String(REDACTED.into());
    }
    if let Some(h) = v.get_mut("params").and_then(|p| p.get_mut("ha1"))
        && !h.is_null()
    {
        *h = Value::String(REDACTED.into());
    }
}

/// What a call asks.
pub fn call_summary(method: &str, params: Option<&Value>) -> Vec<Summary> {
    match method {
        "Switch.Set" => params
            .and_then(|p| p.get("on"))
            .and_then(RelayState::from_json)
            .map(|s| vec![Summary::SetRelayState(s)])
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// What a result of `method` says (`method` from the pending call, when
/// known).
pub fn result_summary(method: Option<&str>, result: &Value) -> Vec<Summary> {
    match method {
        Some("Switch.GetStatus") => switch_status(std::slice::from_ref(&result)),
        Some("Shelly.GetStatus") => status_summary(result),
        Some("Shelly.GetDeviceInfo") => vec![Summary::SysInfo(Box::new(device_info(result)))],
        _ => Vec::new(),
    }
}

/// A `NotifyStatus` / `NotifyFullStatus` params object or a
/// `Shelly.GetStatus` result: components by key (`switch:0`, `sys`, `wifi`).
pub fn status_summary(st: &Value) -> Vec<Summary> {
    let Some(obj) = st.as_object() else {
        return Vec::new();
    };
    let switches: Vec<&Value> = obj
        .iter()
        .filter(|(k, _)| k.starts_with("switch:"))
        .map(|(_, v)| v)
        .take(MAX_CHANNELS)
        .collect();
    let mut out = switch_status(&switches);
    let mac = obj.get("sys").and_then(|s| str_of(s, "mac"));
    let rssi = obj
        .get("wifi")
        .and_then(|w| w.get("rssi"))
        .and_then(Value::as_i64);
    if mac.is_some() || rssi.is_some() {
        let si = SysInfo {
            vendor: Some(VENDOR.into()),
            mac,
            rssi,
            ..SysInfo::default()
        };
        match out.iter_mut().find_map(|s| match s {
            Summary::SysInfo(x) => Some(x),
            _ => None,
        }) {
            Some(x) => {
                x.mac = si.mac;
                x.rssi = si.rssi;
            }
            None => out.insert(0, Summary::SysInfo(Box::new(si))),
        }
    }
    out
}

/// Switch component statuses: one relay sets `relay_state`, several are
/// children; readings are summed ([`energy::sum`]).
fn switch_status(sw: &[&Value]) -> Vec<Summary> {
    let mut out = Vec::new();
    let state = |s: &Value| s.get("output").and_then(RelayState::from_json);
    let si = match sw {
        [] => None,
        [one] => state(one).map(|s| SysInfo {
            relay_state: Some(s),
            ..SysInfo::default()
        }),
        many => Some(SysInfo {
            children: many
                .iter()
                .map(|s| {
                    let id = s.get("id").and_then(Value::as_u64).unwrap_or(0);
                    (format!("switch:{id}"), None, state(s))
                })
                .collect(),
            ..SysInfo::default()
        }),
    };
    if let Some(si) = si {
        out.push(Summary::SysInfo(Box::new(SysInfo {
            vendor: Some(VENDOR.into()),
            ..si
        })));
    }
    let readings: Vec<EmeterReading> = sw.iter().map(|s| reading(s)).collect();
    if let Some(e) = energy::sum(&readings) {
        out.push(Summary::Emeter(e));
    }
    out
}

/// One Switch status: `apower` W, `voltage` V, `current` A,
/// `aenergy.total` Wh.
pub fn reading(s: &Value) -> EmeterReading {
    EmeterReading {
        power_w: s.get("apower").and_then(Value::as_f64),
        voltage_v: s.get("voltage").and_then(Value::as_f64),
        current_a: s.get("current").and_then(Value::as_f64),
        total_kwh: s
            .get("aenergy")
            .and_then(|a| a.get("total"))
            .and_then(Value::as_f64)
            .map(|wh| wh / WH_PER_KWH),
        added_kwh: None,
    }
}

/// `Shelly.GetDeviceInfo` (and the Gen2 `/shelly` endpoint).
pub fn device_info(r: &Value) -> SysInfo {
    SysInfo {
        vendor: Some(VENDOR.into()),
        model: str_of(r, "model"),
        alias: str_of(r, "name"),
        mac: str_of(r, "mac"),
        sw_ver: str_of(r, "ver").or_else(|| str_of(r, "fw_id")),
        device_id: str_of(r, "id"),
        hw_id: str_of(r, "app"),
        ..SysInfo::default()
    }
}

/// An `error` member: `Summary::Error`.
pub fn error_summary(method: Option<&str>, err: &Value) -> Summary {
    Summary::Error {
        module: "rpc".into(),
        method: method.map(str::to_owned),
        err_code: err.get("code").and_then(Value::as_i64).unwrap_or(0),
        err_msg: err
            .get("message")
            .and_then(Value::as_str)
            .map(|m| m.chars().take(200).collect()),
    }
}

/// Parameters of `GET /rpc/<Method>?k=v…`: each value is read as JSON when
/// it parses (`id=0`, `on=true`, `"x"`), else kept as a string — as the
/// device reads them (Gen2 docs, "RPC over HTTP GET").
pub fn get_params(query: &str) -> Value {
    let mut m = serde_json::Map::new();
    for kv in query
        .split('&')
        .filter(|s| !s.is_empty())
        .take(super::gen1::MAX_PARAMS)
    {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        let v = super::gen1::percent_decode(v);
        let jv = serde_json::from_str::<Value>(&v).unwrap_or(Value::String(v));
        m.insert(super::gen1::percent_decode(k), jv);
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn classify_like_aioshelly() {
        assert_eq!(
            classify(&json!({"id":1,"method":"Switch.Set"})),
            Some(FrameKind::Call)
        );
        assert_eq!(
            classify(&json!({"method":"NotifyStatus","params":{}})),
            Some(FrameKind::Notification)
        );
        assert_eq!(
            classify(&json!({"id":1,"result":{}})),
            Some(FrameKind::Response)
        );
        // aioshelly tests `if frame_id:`, so id 0 / null count as absent.
        assert_eq!(
            classify(&json!({"id":0,"method":"NotifyEvent"})),
            Some(FrameKind::Notification)
        );
        assert_eq!(classify(&json!({"result":{}})), None);
        assert_eq!(classify(&json!([1, 2])), None);
        assert_eq!(id_key(&json!({"id":7})).as_deref(), Some("7"));
        assert_eq!(id_key(&json!({"id":"7"})).as_deref(), Some("\"7\""));
    }

    /// Shaped after the `Switch.GetStatus` example of the Gen2 Switch
    /// component docs (field set and units as documented; values written
    /// here, not copied from a fetched page: no network on the build
    /// machines).
    #[test]
    fn switch_get_status_units() {
        let r = json!({"id":0,"source":"timer","output":true,"timer_started_at":1626935739.79,
            "timer_duration":60,"apower":8.9,"voltage":237.5,"current":0.035,
            "aenergy":{"total":6.532,"by_minute":[45.199,47.141,88.397],"minute_ts":1626935779},
            "temperature":{"tC":23.5,"tF":74.4}});
        let s = result_summary(Some("Switch.GetStatus"), &r);
        let Summary::SysInfo(si) = &s[0] else {
            panic!("{s:?}")
        };
        assert_eq!(si.relay_state, Some(RelayState::On));
        let Summary::Emeter(e) = &s[1] else { panic!() };
        assert_eq!(e.power_w, Some(8.9));
        assert_eq!(e.voltage_v, Some(237.5));
        assert_eq!(e.current_a, Some(0.035));
        assert_eq!(e.total_kwh, Some(0.006532));
    }

    #[test]
    fn notify_status_and_device_info() {
        // Shaped after the Gen2 "Notifications" docs: a NotifyStatus carrying
        // only what changed.
        let p = json!({"ts":1631186545.04,"switch:0":{"id":0,"output":true,"source":"button"}});
        let s = status_summary(&p);
        assert_eq!(s.len(), 1);
        let Summary::SysInfo(si) = &s[0] else {
            panic!()
        };
        assert_eq!(si.relay_state, Some(RelayState::On));
        // Power only: an Emeter, no relay state.
        let s = status_summary(&json!({"switch:0":{"id":0,"apower":12.0}}));
        assert!(matches!(&s[..], [Summary::Emeter(e)] if e.power_w == Some(12.0)));
        // A full status of a two-channel device.
        let full = json!({"sys":{"mac":"A8032ABE54DC"},"wifi":{"rssi":-58},
            "switch:0":{"id":0,"output":true,"apower":10.0,"voltage":230.0,"current":0.05,"aenergy":{"total":1000.0}},
            "switch:1":{"id":1,"output":false,"apower":5.0,"voltage":230.0,"current":0.03,"aenergy":{"total":500.0}}});
        let s = status_summary(&full);
        let Summary::SysInfo(si) = &s[0] else {
            panic!()
        };
        assert_eq!(si.children.len(), 2);
        assert_eq!(si.mac.as_deref(), Some("A8032ABE54DC"));
        assert_eq!(si.rssi, Some(-58));
        let Summary::Emeter(e) = &s[1] else { panic!() };
        assert_eq!(
            (e.power_w, e.total_kwh, e.voltage_v),
            (Some(15.0), Some(1.5), Some(230.0))
        );
        let di = json!({"name":"Desk","id":"shellyplusplugs-e86beae8c2a4","mac":"E86BEAE8C2A4","model":"SNPL-00112EU",
            "gen":2,"fw_id":"20231107-164738/1.0.8-g","ver":"1.0.8","app":"PlusPlugS","auth_en":true,"auth_domain":"shellyplusplugs-e86beae8c2a4"});
        let [Summary::SysInfo(si)] = &result_summary(Some("Shelly.GetDeviceInfo"), &di)[..] else {
            panic!()
        };
        assert_eq!(si.model.as_deref(), Some("SNPL-00112EU"));
        assert_eq!(si.sw_ver.as_deref(), Some("1.0.8"));
        assert_eq!(si.alias.as_deref(), Some("Desk"));
    }

    #[test]
    fn auth_is_shown_not_its_secrets() {
        let mut v = json!({"id":2,"method":"Shelly.SetAuth","params":{"user":"admin","realm":"r","ha1":"abcd"},
            "auth":{"realm":"shellypro4pm-f008d1d8b8b8","username":"admin","nonce":1625038762,"cnonce":313273957,
            "response":"a0a0ab48bba3f75e6a5328c86ec4a5bc9fdf7ce1dab78b67e9f2c5e8d4e69f73","algorithm":"SHA-256"}});
        let a = auth_of(&v).unwrap();
        assert_eq!(
            (a.scheme, a.user.as_deref(), a.realm.as_deref()),
            ("digest", Some("admin"), Some("shellypro4pm-f008d1d8b8b8"))
        );
        redact(&mut v);
        let s = v.to_string();
        assert!(!s.contains("a0a0ab48") && !s.contains("abcd"), "{s}");
        assert!(s.contains("\"nonce\":1625038762"));
    }

    #[test]
    fn get_params_and_calls() {
        let p = get_params("id=0&on=true&name=%22x%22&raw=abc");
        assert_eq!(p, json!({"id":0,"on":true,"name":"x","raw":"abc"}));
        assert_eq!(
            call_summary("Switch.Set", Some(&p)),
            [Summary::SetRelayState(RelayState::On)]
        );
        assert!(call_summary("Switch.Toggle", Some(&p)).is_empty());
        let e = error_summary(
            Some("Switch.Set"),
            &json!({"code":401,"message":"unauthorized"}),
        );
        assert!(matches!(e, Summary::Error { err_code: 401, .. }));
    }
}
