//! What a deciphered IOT message says: the `{module: {method: params}}`
//! vocabulary of legacy Kasa devices.
//!
//! # What this module owns
//! Parsing plaintext JSON into a [`TplinkMessage`]: request or response, the
//! `(module, method)` pairs it carries, and typed [`Summary`] items for the
//! parts a user of a sniffer cares about (device identity, relay switching,
//! energy readings, schedules, clock, Wi-Fi and cloud settings, and above all
//! credentials sent in the clear). Everything else stays available in
//! [`TplinkMessage::raw_json`] and is listed as [`Summary::Raw`].
//!
//! # Guarantees
//! - Never panics; JSON nesting is bounded by `serde_json`'s recursion limit
//!   (128) and input size by [`super::parser::MAX_MESSAGE`].
//! - At most [`MAX_METHODS`] methods and [`MAX_LIST`] list items are examined
//!   per message.
//!
//! # Sources
//! - softScheck/tplink-smartplug `tplink-smarthome-commands.txt` (module and
//!   method names; `cnCloud.bind` carries the account password).
//! - python-kasa `kasa/iot/` modules and `tests/fixtures/iot/*.json` (field
//!   names; emeter v1 `power`/`voltage`/`current`/`total` in W/V/A/kWh and v2
//!   `power_mw`/`voltage_mv`/`current_ma`/`total_wh`, cf. `kasa/emeterstatus.py`).
//! - Requests and responses share the shape; a response carries `err_code`
//!   in each method object (or in the module object when the module is
//!   unsupported: `{"emeter":{"err_code":-1,"err_msg":"module not support"}}`).

use std::collections::VecDeque;

use serde_json::{Map, Value};

/// Methods examined per message. Real messages carry one to a handful;
/// a batched app poll carries about ten.
pub const MAX_METHODS: usize = 64;

/// List items examined (schedule rules, scanned access points).
pub const MAX_LIST: usize = 64;

/// Unanswered requests remembered per connection by [`PendingRequests`].
pub const MAX_PENDING: usize = 32;

/// Request (client → device) or response (device → client).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Request,
    Response,
}

pub use crate::decoders::summary::{CredentialSource, EmeterReading, RelayState, Summary, SysInfo};

/// A parsed IOT message.
#[derive(Debug, Clone, PartialEq)]
pub struct TplinkMessage {
    pub raw_json: Value,
    pub kind: Kind,
    /// `(module, method)` pairs in document order.
    pub methods: Vec<(String, String)>,
    pub summary: Vec<Summary>,
}

/// Why plaintext is not an IOT message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageError {
    /// Not valid JSON (or not UTF-8); position as serde_json reports it.
    InvalidJson { line: usize, column: usize },
    /// Valid JSON, but the top level is not an object.
    NotAnObject,
}

/// Keys inside a module object that are not methods.
fn is_meta_key(k: &str) -> bool {
    matches!(k, "err_code" | "err_msg")
}

fn str_field(m: &Map<String, Value>, k: &str) -> Option<String> {
    m.get(k).and_then(Value::as_str).map(str::to_owned)
}

fn num(m: &Map<String, Value>, k: &str) -> Option<f64> {
    m.get(k).and_then(Value::as_f64)
}

fn flag(m: &Map<String, Value>, k: &str) -> Option<bool> {
    let v = m.get(k)?;
    v.as_bool().or_else(|| v.as_i64().map(|i| i != 0))
}

impl TplinkMessage {
    /// Parses deciphered plaintext.
    pub fn parse(plain: &[u8]) -> Result<TplinkMessage, MessageError> {
        let raw_json: Value =
            serde_json::from_slice(plain).map_err(|e| MessageError::InvalidJson {
                line: e.line(),
                column: e.column(),
            })?;
        Self::from_value(raw_json)
    }

    /// Interprets an already-parsed JSON value.
    pub fn from_value(raw_json: Value) -> Result<TplinkMessage, MessageError> {
        let Some(top) = raw_json.as_object() else {
            return Err(MessageError::NotAnObject);
        };
        let mut kind = Kind::Request;
        let mut methods = Vec::new();
        let mut summary = Vec::new();
        'modules: for (module, body) in top {
            // Power strips address children with a sibling "context" key.
            if module == "context" {
                continue;
            }
            let Some(body) = body.as_object() else {
                continue;
            };
            if let Some(code) = body.get("err_code") {
                kind = Kind::Response;
                let err_code = code.as_i64().unwrap_or(-1);
                if err_code != 0 {
                    summary.push(Summary::Error {
                        module: module.clone(),
                        method: None,
                        err_code,
                        err_msg: str_field(body, "err_msg"),
                    });
                }
            }
            for (method, params) in body {
                if is_meta_key(method) {
                    continue;
                }
                if methods.len() >= MAX_METHODS {
                    break 'modules;
                }
                methods.push((module.clone(), method.clone()));
                let empty = Map::new();
                let p = params.as_object().unwrap_or(&empty);
                if let Some(code) = p.get("err_code") {
                    kind = Kind::Response;
                    let err_code = code.as_i64().unwrap_or(-1);
                    if err_code != 0 {
                        summary.push(Summary::Error {
                            module: module.clone(),
                            method: Some(method.clone()),
                            err_code,
                            err_msg: str_field(p, "err_msg"),
                        });
                        continue;
                    }
                }
                summarise(module, method, p, &mut summary);
            }
        }
        Ok(TplinkMessage {
            raw_json,
            kind,
            methods,
            summary,
        })
    }

    /// True when `response` answers this request: the same `(module,
    /// method)` set. The XOR protocol has no request IDs; python-kasa sends
    /// one request per connection and reads one reply, so method sets are
    /// the only link.
    pub fn pairs_with(&self, response: &TplinkMessage) -> bool {
        let mut a: Vec<_> = self.methods.iter().collect();
        let mut b: Vec<_> = response.methods.iter().collect();
        a.sort();
        a.dedup();
        b.sort();
        b.dedup();
        a == b
    }

    /// True when any summary is a [`Summary::CredentialLeak`].
    pub fn leaks_credentials(&self) -> bool {
        self.summary
            .iter()
            .any(|s| matches!(s, Summary::CredentialLeak { .. }))
    }
}

fn summarise(module: &str, method: &str, p: &Map<String, Value>, out: &mut Vec<Summary>) {
    match (module, method) {
        ("system", "get_sysinfo") => {
            if !p.is_empty() {
                out.push(Summary::SysInfo(Box::new(sysinfo(p))));
            }
        }
        ("system", "set_relay_state") => {
            if let Some(s) = p.get("state").and_then(RelayState::from_json) {
                out.push(Summary::SetRelayState(s));
            }
        }
        ("system" | "schedule" | "count_down" | "anti_theft" | "time" | "netif" | "cnCloud", _)
            if known_quiet(module, method) => {}
        ("emeter" | "smartlife.iot.common.emeter", "get_realtime") => {
            if !p.is_empty() {
                out.push(Summary::Emeter(emeter(p)));
            }
        }
        ("schedule" | "count_down" | "anti_theft", _) => out.push(Summary::Schedule {
            module: module.to_owned(),
            method: method.to_owned(),
            rules: p
                .get("rule_list")
                .and_then(Value::as_array)
                .map(|a| a.len()),
            enabled: flag(p, "enable"),
        }),
        ("time", "get_time" | "get_timezone" | "set_timezone") => {
            let fields = ["year", "month", "mday", "hour", "min", "sec"];
            let mut dt = [0i64; 6];
            let mut complete = true;
            for (slot, f) in dt.iter_mut().zip(fields) {
                match p.get(f).and_then(Value::as_i64) {
                    Some(v) => *slot = v,
                    None => complete = false,
                }
            }
            out.push(Summary::Time {
                method: method.to_owned(),
                datetime: complete.then_some(dt),
                timezone_index: p.get("index").and_then(Value::as_i64),
            });
        }
        ("netif", "set_stainfo") => {
            let ssid = str_field(p, "ssid").unwrap_or_default();
            match str_field(p, "password") {
                Some(password) => out.push(Summary::CredentialLeak {
                    source: CredentialSource::WifiStaInfo,
                    username: ssid,
                    password,
                }),
                None => out.push(Summary::Netif {
                    method: method.to_owned(),
                    ssids: vec![ssid],
                }),
            }
        }
        ("netif", "get_scaninfo") => {
            let ssids = p
                .get("ap_list")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .take(MAX_LIST)
                        .filter_map(|ap| ap.get("ssid").and_then(Value::as_str))
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            out.push(Summary::Netif {
                method: method.to_owned(),
                ssids,
            });
        }
        ("cnCloud", "bind") => {
            if let (Some(username), Some(password)) =
                (str_field(p, "username"), str_field(p, "password"))
            {
                out.push(Summary::CredentialLeak {
                    source: CredentialSource::CloudBind,
                    username,
                    password,
                });
            }
        }
        ("cnCloud", "get_info" | "set_server_url") => {
            if !p.is_empty() {
                out.push(Summary::CloudInfo {
                    server: str_field(p, "server"),
                    username: str_field(p, "username"),
                    binded: flag(p, "binded"),
                    connected: flag(p, "cld_connection"),
                });
            }
        }
        _ => out.push(Summary::Raw {
            module: module.to_owned(),
            method: method.to_owned(),
        }),
    }
}

/// Known methods whose messages carry nothing worth a summary (acks, empty
/// queries); listed so they are not reported as [`Summary::Raw`].
fn known_quiet(module: &str, method: &str) -> bool {
    matches!(
        (module, method),
        (
            "system",
            "set_led_off" | "reboot" | "reset" | "set_dev_alias" | "get_downloadState"
        ) | ("cnCloud", "unbind" | "get_intl_fw_list")
    )
}

fn sysinfo(p: &Map<String, Value>) -> SysInfo {
    let location = match (num(p, "latitude"), num(p, "longitude")) {
        (Some(a), Some(b)) => Some((a, b)),
        _ => match (num(p, "latitude_i"), num(p, "longitude_i")) {
            (Some(a), Some(b)) => Some((a / 10_000.0, b / 10_000.0)),
            _ => None,
        },
    };
    let children = p
        .get("children")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .take(MAX_LIST)
                .filter_map(Value::as_object)
                .map(|c| {
                    (
                        str_field(c, "id").unwrap_or_default(),
                        str_field(c, "alias"),
                        c.get("state").and_then(RelayState::from_json),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    SysInfo {
        vendor: None,
        model: str_field(p, "model"),
        alias: str_field(p, "alias"),
        mac: str_field(p, "mac")
            .or_else(|| str_field(p, "mic_mac"))
            .or_else(|| str_field(p, "ethernet_mac")),
        sw_ver: str_field(p, "sw_ver"),
        hw_ver: str_field(p, "hw_ver"),
        device_id: str_field(p, "deviceId"),
        hw_id: str_field(p, "hwId"),
        oem_id: str_field(p, "oemId"),
        relay_state: p.get("relay_state").and_then(RelayState::from_json),
        rssi: p.get("rssi").and_then(Value::as_i64),
        location,
        children,
    }
}

/// Normalises both emeter firmware dialects (python-kasa `EmeterStatus`).
fn emeter(p: &Map<String, Value>) -> EmeterReading {
    // Milli-units are divided, not multiplied by 1e-3: the quotient of an
    // integer by a power of ten is the double nearest the decimal value, so it
    // prints as the device sent it (230123 mV → 230.123, not 230.12300000000002).
    let pick = |v1: &str, v2: &str, per: f64| num(p, v1).or_else(|| num(p, v2).map(|x| x / per));
    EmeterReading {
        power_w: pick("power", "power_mw", 1000.0),
        voltage_v: pick("voltage", "voltage_mv", 1000.0),
        current_a: pick("current", "current_ma", 1000.0),
        total_kwh: pick("total", "total_wh", 1000.0),
        added_kwh: None,
    }
}

/// Requests awaiting their response on one connection, oldest first.
/// Bounded by [`MAX_PENDING`]; the oldest is dropped (counted) when full.
#[derive(Debug, Clone, Default)]
pub struct PendingRequests {
    queue: VecDeque<TplinkMessage>,
    /// Requests dropped unanswered because the queue was full.
    pub dropped: u64,
}

impl PendingRequests {
    pub fn push(&mut self, request: TplinkMessage) {
        if self.queue.len() >= MAX_PENDING {
            self.queue.pop_front();
            self.dropped += 1;
        }
        self.queue.push_back(request);
    }

    /// Removes and returns the oldest request that `response` answers.
    pub fn match_response(&mut self, response: &TplinkMessage) -> Option<TplinkMessage> {
        let i = self.queue.iter().position(|r| r.pairs_with(response))?;
        self.queue.remove(i)
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> TplinkMessage {
        TplinkMessage::parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn sysinfo_request_and_response() {
        let q = parse(r#"{"system":{"get_sysinfo":{}}}"#);
        assert_eq!(q.kind, Kind::Request);
        assert_eq!(q.methods, [("system".into(), "get_sysinfo".into())]);
        assert!(q.summary.is_empty());

        // Field names as in python-kasa tests/fixtures/iot/HS110*.json; values invented.
        let r = parse(
            r#"{"system":{"get_sysinfo":{"err_code":0,"sw_ver":"1.2.5 Build 171213 Rel.101523",
            "hw_ver":"1.0","type":"IOT.SMARTPLUGSWITCH","model":"HS110(EU)","mac":"50:C7:BF:00:00:01",
            "deviceId":"800600000000000000000000000000000000000A","hwId":"44F2000000000000000000000000000B",
            "alias":"Kitchen","relay_state":1,"rssi":-65,"latitude":51.5,"longitude":-0.12}}}"#,
        );
        assert_eq!(r.kind, Kind::Response);
        assert!(q.pairs_with(&r));
        let Summary::SysInfo(si) = &r.summary[0] else {
            panic!("{:?}", r.summary)
        };
        assert_eq!(si.model.as_deref(), Some("HS110(EU)"));
        assert_eq!(si.alias.as_deref(), Some("Kitchen"));
        assert_eq!(si.mac.as_deref(), Some("50:C7:BF:00:00:01"));
        assert_eq!(si.sw_ver.as_deref(), Some("1.2.5 Build 171213 Rel.101523"));
        assert_eq!(si.hw_ver.as_deref(), Some("1.0"));
        assert_eq!(si.relay_state, Some(RelayState::On));
        assert_eq!(si.rssi, Some(-65));
        assert_eq!(si.location, Some((51.5, -0.12)));
        assert!(si.device_id.is_some());
    }

    #[test]
    fn relay_switching() {
        let q = parse(r#"{"system":{"set_relay_state":{"state":0}}}"#);
        assert_eq!(q.summary, [Summary::SetRelayState(RelayState::Off)]);
        let r = parse(r#"{"system":{"set_relay_state":{"err_code":0}}}"#);
        assert_eq!(r.kind, Kind::Response);
        assert!(r.summary.is_empty());
        assert!(q.pairs_with(&r));
    }

    #[test]
    fn emeter_both_firmware_dialects() {
        let v1 = parse(
            r#"{"emeter":{"get_realtime":{"current":0.5,"voltage":230.1,"power":115.0,"total":12.5,"err_code":0}}}"#,
        );
        let v2 = parse(
            r#"{"emeter":{"get_realtime":{"current_ma":500,"voltage_mv":230100,"power_mw":115000,"total_wh":12500,"err_code":0}}}"#,
        );
        for m in [v1, v2] {
            let Summary::Emeter(e) = m.summary[0] else {
                panic!()
            };
            assert!((e.power_w.unwrap() - 115.0).abs() < 1e-9);
            assert!((e.voltage_v.unwrap() - 230.1).abs() < 1e-9);
            assert!((e.current_a.unwrap() - 0.5).abs() < 1e-9);
            assert!((e.total_kwh.unwrap() - 12.5).abs() < 1e-9);
        }
    }

    #[test]
    fn cloud_bind_leaks_credentials() {
        // softScheck tplink-smarthome-commands.txt, "Connect with Cloud account".
        let q =
            parse(r#"{"cnCloud":{"bind":{"username":"alice@example.com","password":"secret"}}}"#);
        assert!(q.leaks_credentials());
        assert_eq!(
            q.summary,
            [Summary::CredentialLeak {
                source: CredentialSource::CloudBind,
                username: "alice@example.com".into(),
                password: "secret".into()
            }]
        );
    }

    #[test]
    fn wifi_setup_leaks_credentials() {
        let q = parse(
            r#"{"netif":{"set_stainfo":{"ssid":"home","password":"hunter22","key_type":3}}}"#,
        );
        assert!(matches!(
            &q.summary[0],
            Summary::CredentialLeak { source: CredentialSource::WifiStaInfo, username, password }
                if username == "home" && password == "hunter22"
        ));
        let scan = parse(
            r#"{"netif":{"get_scaninfo":{"ap_list":[{"ssid":"a","key_type":3},{"ssid":"b"}],"err_code":0}}}"#,
        );
        assert_eq!(
            scan.summary,
            [Summary::Netif {
                method: "get_scaninfo".into(),
                ssids: vec!["a".into(), "b".into()]
            }]
        );
    }

    #[test]
    fn cloud_info() {
        let r = parse(
            r#"{"cnCloud":{"get_info":{"username":"alice@example.com","server":"n-devs.tplinkcloud.com","binded":1,"cld_connection":1,"err_code":0}}}"#,
        );
        assert_eq!(
            r.summary,
            [Summary::CloudInfo {
                server: Some("n-devs.tplinkcloud.com".into()),
                username: Some("alice@example.com".into()),
                binded: Some(true),
                connected: Some(true)
            }]
        );
    }

    #[test]
    fn schedule_time_and_countdown() {
        let r = parse(
            r#"{"schedule":{"get_rules":{"rule_list":[{"id":"1"},{"id":"2"}],"enable":1,"version":2,"err_code":0}},
               "count_down":{"get_rules":{"rule_list":[],"err_code":0}},
               "time":{"get_time":{"year":2024,"month":3,"mday":9,"hour":7,"min":5,"sec":1,"err_code":0}}}"#,
        );
        assert_eq!(r.methods.len(), 3);
        assert!(r.summary.contains(&Summary::Schedule {
            module: "schedule".into(),
            method: "get_rules".into(),
            rules: Some(2),
            enabled: Some(true)
        }));
        assert!(r.summary.contains(&Summary::Time {
            method: "get_time".into(),
            datetime: Some([2024, 3, 9, 7, 5, 1]),
            timezone_index: None
        }));
    }

    #[test]
    fn errors_and_unknowns() {
        let r = parse(r#"{"emeter":{"err_code":-1,"err_msg":"module not support"}}"#);
        assert_eq!(r.kind, Kind::Response);
        assert!(r.methods.is_empty());
        assert!(matches!(
            &r.summary[0],
            Summary::Error {
                method: None,
                err_code: -1,
                ..
            }
        ));
        let r =
            parse(r#"{"system":{"get_sysinfo":{"err_code":-2,"err_msg":"member not support"}}}"#);
        assert!(matches!(
            &r.summary[0],
            Summary::Error { method: Some(m), err_code: -2, .. } if m == "get_sysinfo"
        ));
        let q = parse(r#"{"smartlife.iot.dimmer":{"set_brightness":{"brightness":50}}}"#);
        assert_eq!(
            q.summary,
            [Summary::Raw {
                module: "smartlife.iot.dimmer".into(),
                method: "set_brightness".into()
            }]
        );
        // Strip child context is not a module.
        let q =
            parse(r#"{"context":{"child_ids":["01"]},"system":{"set_relay_state":{"state":1}}}"#);
        assert_eq!(q.methods, [("system".into(), "set_relay_state".into())]);
    }

    #[test]
    fn not_json_or_not_object() {
        assert!(matches!(
            TplinkMessage::parse(b"{\"a\":"),
            Err(MessageError::InvalidJson { .. })
        ));
        assert_eq!(TplinkMessage::parse(b"[1]"), Err(MessageError::NotAnObject));
        assert!(TplinkMessage::parse(&[0xff, 0xfe]).is_err());
        let deep = "[".repeat(10_000);
        assert!(TplinkMessage::parse(deep.as_bytes()).is_err());
    }

    #[test]
    fn pending_requests_pair_in_order_and_are_bounded() {
        let mut p = PendingRequests::default();
        p.push(parse(r#"{"system":{"get_sysinfo":{}}}"#));
        p.push(parse(r#"{"emeter":{"get_realtime":{}}}"#));
        let r = parse(r#"{"emeter":{"get_realtime":{"power":1,"err_code":0}}}"#);
        let q = p.match_response(&r).unwrap();
        assert_eq!(q.methods[0].0, "emeter");
        assert_eq!(p.len(), 1);
        for _ in 0..MAX_PENDING + 5 {
            p.push(parse(r#"{"time":{"get_time":{}}}"#));
        }
        assert_eq!(p.len(), MAX_PENDING);
        assert_eq!(p.dropped, 6);
    }

    #[test]
    fn method_cap() {
        let mut s = String::from("{\"m\":{");
        for i in 0..200 {
            if i > 0 {
                s.push(',');
            }
            s.push_str(&format!("\"x{i}\":{{}}"));
        }
        s.push_str("}}");
        assert_eq!(parse(&s).methods.len(), MAX_METHODS);
    }
}
