//! The SMART vocabulary of Tapo and newer Kasa devices (inside KLAP v2, and
//! AES transport): `{"method":…, "params":…}` requests and
//! `{"error_code":0, "result":{…}}` responses, mapped onto the same
//! [`TplinkMessage`] / [`Summary`] types as the legacy IOT vocabulary so the
//! watch pipeline and the inventory treat both alike.
//!
//! Methods are listed as `("smart", method)`. A response does not name its
//! method (except inside `multipleRequest`), so it is interpreted with the
//! methods of the request it answers ([`from_value`]'s `context`).
//!
//! Sources (python-kasa `kasa/smart/`, `tests/fixtures/smart/*.json`, field
//! names only): `multipleRequest {requests:[…]}` → `result.responses[]` each
//! with `method`, `result`, `error_code`; `control_child {device_id,
//! requestData}` → `result.responseData`; `get_device_info` carries
//! `nickname` and `ssid` base64-encoded, `device_on`, `model`, `mac`,
//! `fw_ver`, `hw_ver`, `device_id`, `rssi`; `get_current_power.current_power`
//! is in W; `get_energy_usage.current_power` is in mW (python-kasa
//! `smart/modules/energy.py` divides it by 1000); `get_emeter_data` uses
//! `power_mw`/`voltage_mv`/`current_ma`.
//!
//! Bounds: at most [`MAX_METHODS`] methods per message and a nesting depth of
//! [`MAX_DEPTH`] `control_child`/`multipleRequest` levels.

use serde_json::{Map, Value};

use super::message::{
    EmeterReading, Kind, MAX_METHODS, MessageError, RelayState, Summary, SysInfo, TplinkMessage,
};

/// `control_child` inside `multipleRequest` inside `control_child`… levels examined.
pub const MAX_DEPTH: usize = 4;

/// Module name used for SMART methods in [`TplinkMessage::methods`].
pub const MODULE: &str = "smart";

/// True when `v` looks like a SMART message rather than IOT JSON.
pub fn is_smart(v: &Value) -> bool {
    v.as_object().is_some_and(|o| {
        o.get("method").is_some_and(Value::is_string)
            || o.contains_key("error_code")
            || o.contains_key("result")
    })
}

/// Parses plaintext of either vocabulary: SMART when [`is_smart`], else IOT.
pub fn parse_any(plain: &[u8], context: &[String]) -> Result<TplinkMessage, MessageError> {
    let v: Value = serde_json::from_slice(plain).map_err(|e| MessageError::InvalidJson {
        line: e.line(),
        column: e.column(),
    })?;
    if is_smart(&v) {
        from_value(v, context)
    } else {
        TplinkMessage::from_value(v)
    }
}

/// Interprets a SMART message. `context`: for a response, the method names
/// of its request in order (flattened, as in the request's `methods`).
pub fn from_value(raw_json: Value, context: &[String]) -> Result<TplinkMessage, MessageError> {
    let Some(top) = raw_json.as_object() else {
        return Err(MessageError::NotAnObject);
    };
    let mut w = Walk::default();
    let kind = if top.get("method").is_some_and(Value::is_string) {
        w.request(top, 0);
        Kind::Request
    } else {
        let method = context.first().map(String::as_str);
        w.response(method, top, context.get(1..).unwrap_or(&[]), 0);
        Kind::Response
    };
    Ok(TplinkMessage {
        raw_json,
        kind,
        methods: w.methods,
        summary: w.summary,
    })
}

#[derive(Default)]
struct Walk {
    methods: Vec<(String, String)>,
    summary: Vec<Summary>,
}

impl Walk {
    fn push_method(&mut self, m: &str) -> bool {
        if self.methods.len() >= MAX_METHODS {
            return false;
        }
        self.methods.push((MODULE.to_owned(), m.to_owned()));
        true
    }

    fn request(&mut self, o: &Map<String, Value>, depth: usize) {
        let Some(method) = o.get("method").and_then(Value::as_str) else {
            return;
        };
        if !self.push_method(method) {
            return;
        }
        let empty = Map::new();
        let p = o.get("params").and_then(Value::as_object).unwrap_or(&empty);
        match method {
            "multipleRequest" if depth < MAX_DEPTH => {
                for r in p
                    .get("requests")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_object)
                {
                    self.request(r, depth + 1);
                }
            }
            "control_child" if depth < MAX_DEPTH => {
                if let Some(r) = p.get("requestData").and_then(Value::as_object) {
                    self.request(r, depth + 1);
                }
            }
            "set_device_info" => {
                if let Some(on) = p.get("device_on").and_then(Value::as_bool) {
                    self.summary.push(Summary::SetRelayState(if on {
                        RelayState::On
                    } else {
                        RelayState::Off
                    }));
                } else {
                    self.summary.push(raw(method));
                }
            }
            m if m.starts_with("get_") || m == "component_nego" => {}
            m => self.summary.push(raw(m)),
        }
    }

    /// A `{error_code, result}` object answering `method` (None: unknown);
    /// `rest` are the request's later methods, for `control_child`.
    fn response(
        &mut self,
        method: Option<&str>,
        o: &Map<String, Value>,
        rest: &[String],
        depth: usize,
    ) {
        let name = method.unwrap_or("?");
        if !self.push_method(name) {
            return;
        }
        let code = o.get("error_code").and_then(Value::as_i64).unwrap_or(0);
        if code != 0 {
            self.summary.push(Summary::Error {
                module: MODULE.into(),
                method: Some(name.to_owned()),
                err_code: code,
                err_msg: o.get("msg").and_then(Value::as_str).map(str::to_owned),
            });
            return;
        }
        let empty = Map::new();
        let r = o.get("result").and_then(Value::as_object).unwrap_or(&empty);
        // A batch answer names its methods, whatever the context says.
        if let Some(list) = r.get("responses").and_then(Value::as_array) {
            if depth < MAX_DEPTH {
                for item in list.iter().filter_map(Value::as_object) {
                    let m = item.get("method").and_then(Value::as_str);
                    self.response(m, item, &[], depth + 1);
                }
            }
            return;
        }
        match name {
            "control_child" => {
                if let (Some(d), true) = (
                    r.get("responseData").and_then(Value::as_object),
                    depth < MAX_DEPTH,
                ) {
                    let child = rest.first().map(String::as_str);
                    self.response(child, d, rest.get(1..).unwrap_or(&[]), depth + 1);
                }
            }
            "get_device_info" if !r.is_empty() => self
                .summary
                .push(Summary::SysInfo(Box::new(device_info(r)))),
            "get_current_power" => {
                if let Some(w) = r.get("current_power").and_then(Value::as_f64) {
                    self.summary.push(Summary::Emeter(EmeterReading {
                        power_w: Some(w),
                        ..EmeterReading::default()
                    }));
                }
            }
            "get_energy_usage" => {
                let mw = r.get("current_power").and_then(Value::as_f64);
                if mw.is_some() {
                    self.summary.push(Summary::Emeter(EmeterReading {
                        power_w: mw.map(|x| x / 1000.0),
                        ..EmeterReading::default()
                    }));
                }
            }
            "get_emeter_data" => {
                let f = |k: &str| r.get(k).and_then(Value::as_f64).map(|x| x / 1000.0);
                self.summary.push(Summary::Emeter(EmeterReading {
                    power_w: f("power_mw"),
                    voltage_v: f("voltage_mv"),
                    current_a: f("current_ma"),
                    total_kwh: None,
                    added_kwh: None,
                }));
            }
            m if m.starts_with("set_") || m == "component_nego" || r.is_empty() => {}
            m => self.summary.push(raw(m)),
        }
    }
}

fn raw(method: &str) -> Summary {
    Summary::Raw {
        module: MODULE.into(),
        method: method.to_owned(),
    }
}

fn s(m: &Map<String, Value>, k: &str) -> Option<String> {
    m.get(k).and_then(Value::as_str).map(str::to_owned)
}

fn device_info(r: &Map<String, Value>) -> SysInfo {
    SysInfo {
        vendor: None,
        model: s(r, "model"),
        // Base64 in the protocol; shown as sent when it does not decode.
        alias: s(r, "nickname").map(|n| b64_text(&n).unwrap_or(n)),
        mac: s(r, "mac"),
        sw_ver: s(r, "fw_ver"),
        hw_ver: s(r, "hw_ver"),
        device_id: s(r, "device_id"),
        hw_id: s(r, "hw_id"),
        oem_id: s(r, "oem_id"),
        relay_state: r
            .get("device_on")
            .and_then(Value::as_bool)
            .map(|b| if b { RelayState::On } else { RelayState::Off }),
        rssi: r.get("rssi").and_then(Value::as_i64),
        location: None,
        children: Vec::new(),
    }
}

/// Standard base64 (RFC 4648 §4, padding optional) → UTF-8 text.
pub fn b64_text(s: &str) -> Option<String> {
    String::from_utf8(b64_decode(s)?).ok()
}

/// Standard base64 decoding; `None` on any invalid character.
pub fn b64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Standard base64 encoding with padding (for the synthetic captures).
pub fn b64_encode(b: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(m: &TplinkMessage) -> Vec<String> {
        m.methods.iter().map(|(_, f)| f.clone()).collect()
    }

    #[test]
    fn base64_round_trip() {
        assert_eq!(b64_text("S2l0Y2hlbg==").as_deref(), Some("Kitchen"));
        for n in 0..10 {
            let v: Vec<u8> = (0..n).collect();
            assert_eq!(b64_decode(&b64_encode(&v)).unwrap(), v);
        }
        assert_eq!(b64_decode("a*b"), None);
    }

    #[test]
    fn device_info_request_and_response() {
        let q = parse_any(
            br#"{"method":"get_device_info","params":null,"request_time_milis":1}"#,
            &[],
        )
        .unwrap();
        assert_eq!(q.kind, Kind::Request);
        assert_eq!(q.methods, [("smart".into(), "get_device_info".into())]);
        assert!(q.summary.is_empty());
        let r = parse_any(
            br#"{"error_code":0,"result":{"device_id":"80221","fw_ver":"1.1.0 Build 230721","hw_ver":"1.0",
            "model":"P110","mac":"30-DE-4B-00-00-01","nickname":"S2l0Y2hlbg==","device_on":true,"rssi":-50}}"#,
            &ctx(&q),
        )
        .unwrap();
        assert_eq!(r.kind, Kind::Response);
        let Summary::SysInfo(si) = &r.summary[0] else {
            panic!("{:?}", r.summary)
        };
        assert_eq!(si.alias.as_deref(), Some("Kitchen"));
        assert_eq!(si.model.as_deref(), Some("P110"));
        assert_eq!(si.relay_state, Some(RelayState::On));
        assert_eq!(si.sw_ver.as_deref(), Some("1.1.0 Build 230721"));
        assert!(q.pairs_with(&r));
    }

    #[test]
    fn set_device_info_switches() {
        let q = parse_any(
            br#"{"method":"set_device_info","params":{"device_on":false}}"#,
            &[],
        )
        .unwrap();
        assert_eq!(q.summary, [Summary::SetRelayState(RelayState::Off)]);
        let r = parse_any(br#"{"error_code":0}"#, &ctx(&q)).unwrap();
        assert!(r.summary.is_empty());
        let r = parse_any(br#"{"error_code":-1008,"msg":"bad"}"#, &ctx(&q)).unwrap();
        assert!(matches!(
            &r.summary[0],
            Summary::Error {
                err_code: -1008,
                ..
            }
        ));
    }

    #[test]
    fn multiple_request_and_energy() {
        let q = parse_any(
            br#"{"method":"multipleRequest","params":{"requests":[{"method":"get_energy_usage","params":null},{"method":"get_current_power","params":null}]}}"#,
            &[],
        )
        .unwrap();
        assert_eq!(q.methods.len(), 3);
        let r = parse_any(
            br#"{"error_code":0,"result":{"responses":[{"method":"get_energy_usage","result":{"today_energy":12,"current_power":94500},"error_code":0},{"method":"get_current_power","result":{"current_power":94.5},"error_code":0}]}}"#,
            &ctx(&q),
        )
        .unwrap();
        let powers: Vec<f64> = r
            .summary
            .iter()
            .filter_map(|s| match s {
                Summary::Emeter(e) => e.power_w,
                _ => None,
            })
            .collect();
        assert_eq!(powers, [94.5, 94.5]);
    }

    #[test]
    fn control_child() {
        let q = parse_any(
            br#"{"method":"control_child","params":{"device_id":"C1","requestData":{"method":"set_device_info","params":{"device_on":true}}}}"#,
            &[],
        )
        .unwrap();
        assert_eq!(ctx(&q), ["control_child", "set_device_info"]);
        assert_eq!(q.summary, [Summary::SetRelayState(RelayState::On)]);
        let r = parse_any(
            br#"{"error_code":0,"result":{"responseData":{"error_code":0,"result":{}}}}"#,
            &ctx(&q),
        )
        .unwrap();
        assert_eq!(ctx(&r), ["control_child", "set_device_info"]);
        // Deep nesting is bounded.
        let mut s = String::from(r#"{"method":"get_x"}"#);
        for _ in 0..50 {
            s = format!(r#"{{"method":"control_child","params":{{"requestData":{s}}}}}"#);
        }
        let q = parse_any(s.as_bytes(), &[]).unwrap();
        assert_eq!(q.methods.len(), MAX_DEPTH + 1);
    }

    #[test]
    fn iot_inside_klap_v1() {
        let m = parse_any(br#"{"system":{"get_sysinfo":{}}}"#, &[]).unwrap();
        assert_eq!(m.methods, [("system".into(), "get_sysinfo".into())]);
    }
}
