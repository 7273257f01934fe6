//! Meross local HTTP API: `POST /config` on TCP 80 with a JSON body
//! `{"header": {...}, "payload": {...}}`, answered the same way (meross-iot
//! `manager.py` `_build_mqtt_message`, `utilities/mqtt.py`
//! `verify_message_signature`, `controller/mixins/toggle.py`,
//! `electricity.py`; meross_lan's local HTTP client uses the same frames).
//!
//! # The header
//! `messageId` (32 hex), `namespace` (`Appliance.Control.ToggleX`…),
//! `method` (`GET`, `SET` from the app; `GETACK`, `SETACK`, `ERROR` in
//! answer; `PUSH` unasked), `timestamp` (Unix seconds), `sign`, `from`,
//! `payloadVersion`. `sign = md5(messageId + key + timestamp)` in lower-case
//! hex, where `key` is the user key the cloud account gives every device
//! ([`MerossKey`], from the config). With keys configured every message's
//! `sign_ok` is `Some(true)` when one of them signs it, `Some(false)` when
//! none does; without keys it is `None` (unverified).
//!
//! # Units (meross-iot `ElectricityMixin.async_get_instant_metrics`)
//! `Appliance.Control.Electricity` `electricity.power` in **mW** (→ W
//! / 1 000), `voltage` in **dV** (→ V / 10), `current` in **mA** (→ A
//! / 1 000).
//!
//! # Pairing
//! Requests and answers travel on one HTTP connection, in order; an answer
//! is `paired` when its `messageId` is the oldest outstanding request's.

pub mod conn;

use md5::{Digest, Md5};
use serde_json::Value;
use zeroize::Zeroizing;

use super::summary::{EmeterReading, RelayState, Summary, SysInfo};
use super::{Decoder, Probe, Registration, ServerIs, StreamDecoder, Transport, Verdict};

/// The `protocol` of Meross events.
pub const PROTOCOL: &str = "meross";
/// The `vendor` of Meross `SysInfo` summaries.
pub const VENDOR: &str = "Meross";
/// The local HTTP port.
pub const HTTP_PORT: u16 = 80;
/// The request path of every local command.
pub const PATH: &str = "/config";
/// Longest header string kept (namespaces are < 64 characters).
pub const MAX_FIELD: usize = 128;
/// Channels reported per message (the MSS425 strip has 4 plus USB).
pub const MAX_CHANNELS: usize = 16;
/// Longest user key accepted from the config.
pub const MAX_KEY_LEN: usize = 256;

/// A Meross user key from the config. Never printed: `Debug` shows the
/// label only; the bytes are zeroed on drop.
#[derive(Clone)]
pub struct MerossKey {
    pub label: String,
    key: Zeroizing<String>,
}

impl std::fmt::Debug for MerossKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MerossKey({:?}, <secret>)", self.label)
    }
}

impl MerossKey {
    pub fn new(label: impl Into<String>, key: &str) -> MerossKey {
        MerossKey {
            label: label.into(),
            key: Zeroizing::new(key.to_owned()),
        }
    }

    /// `md5(messageId + key + timestamp)` as lower-case hex (meross-iot
    /// `verify_message_signature`; the timestamp as its decimal text).
    pub fn sign(&self, message_id: &str, timestamp: &str) -> String {
        let mut h = Md5::new();
        h.update(message_id.as_bytes());
        h.update(self.key.as_bytes());
        h.update(timestamp.as_bytes());
        hex::encode(h.finalize())
    }
}

/// A parsed header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Header {
    pub message_id: String,
    pub namespace: String,
    pub method: String,
    /// As its JSON text (`1700000000`), since the signature covers the text.
    pub timestamp: String,
    pub sign: Option<String>,
    pub from: Option<String>,
}

impl Header {
    /// `body.header`, when it has at least a namespace and a method.
    pub fn parse(body: &Value) -> Option<Header> {
        let h = body.get("header")?;
        let s = |k: &str| {
            h.get(k)
                .and_then(Value::as_str)
                .map(|x| x.chars().take(MAX_FIELD).collect::<String>())
        };
        let timestamp = match h.get("timestamp") {
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(t)) => t.chars().take(32).collect(),
            _ => String::new(),
        };
        Some(Header {
            message_id: s("messageId").unwrap_or_default(),
            namespace: s("namespace")?,
            method: s("method")?,
            timestamp,
            sign: s("sign"),
            from: s("from"),
        })
    }

    /// `Some(any key signs it)` with keys, `None` without.
    pub fn verify(&self, keys: &[MerossKey]) -> Option<bool> {
        if keys.is_empty() {
            return None;
        }
        let Some(sign) = &self.sign else {
            return Some(false);
        };
        Some(keys.iter().any(|k| {
            k.sign(&self.message_id, &self.timestamp)
                .eq_ignore_ascii_case(sign)
        }))
    }
}

/// What a message says, by namespace and method.
pub fn summary(h: &Header, payload: &Value) -> Vec<Summary> {
    let request = matches!(h.method.as_str(), "SET" | "GET");
    match (h.namespace.as_str(), h.method.as_str()) {
        (_, "ERROR") => vec![Summary::Error {
            module: h.namespace.clone(),
            method: Some(h.method.clone()),
            err_code: payload
                .get("error")
                .and_then(|e| e.get("code"))
                .and_then(Value::as_i64)
                .unwrap_or(0),
            err_msg: payload
                .get("error")
                .and_then(|e| e.get("detail"))
                .and_then(Value::as_str)
                .map(|s| s.chars().take(200).collect()),
        }],
        ("Appliance.Control.ToggleX" | "Appliance.Control.Toggle", "GET") => Vec::new(),
        ("Appliance.Control.ToggleX" | "Appliance.Control.Toggle", _) => {
            let states = toggles(payload);
            if request {
                // SET: one channel switched (a strip's SET names its channel).
                states
                    .first()
                    .and_then(|(_, s)| *s)
                    .map(|s| vec![Summary::SetRelayState(s)])
                    .unwrap_or_default()
            } else {
                relay_info(&states).into_iter().collect()
            }
        }
        ("Appliance.Control.Electricity", "GETACK" | "PUSH") => payload
            .get("electricity")
            .map(|e| vec![Summary::Emeter(electricity(e))])
            .unwrap_or_default(),
        ("Appliance.System.All", "GETACK") => {
            let Some(all) = payload.get("all") else {
                return Vec::new();
            };
            let sys = all.get("system");
            let hw = sys.and_then(|s| s.get("hardware"));
            let fw = sys.and_then(|s| s.get("firmware"));
            let t = |v: Option<&Value>, k: &str| {
                v.and_then(|v| v.get(k))
                    .and_then(Value::as_str)
                    .map(|s| s.chars().take(MAX_FIELD).collect::<String>())
            };
            let digest = all.get("digest").map(toggles).unwrap_or_default();
            let relay = relay_info(&digest);
            let base = match relay {
                Some(Summary::SysInfo(si)) => *si,
                _ => SysInfo::default(),
            };
            vec![Summary::SysInfo(Box::new(SysInfo {
                vendor: Some(VENDOR.into()),
                model: t(hw, "type"),
                mac: t(hw, "macAddress"),
                hw_ver: t(hw, "version"),
                sw_ver: t(fw, "version"),
                device_id: t(hw, "uuid"),
                ..base
            }))]
        }
        _ => Vec::new(),
    }
}

/// `togglex` (an object, or a list on strips) or `toggle`: (channel, state).
fn toggles(v: &Value) -> Vec<(i64, Option<RelayState>)> {
    let one = |t: &Value| {
        (
            t.get("channel").and_then(Value::as_i64).unwrap_or(0),
            t.get("onoff").and_then(RelayState::from_json),
        )
    };
    match v.get("togglex").or_else(|| v.get("toggle")) {
        Some(Value::Array(a)) => a.iter().take(MAX_CHANNELS).map(one).collect(),
        Some(t @ Value::Object(_)) => vec![one(t)],
        _ => Vec::new(),
    }
}

fn relay_info(states: &[(i64, Option<RelayState>)]) -> Option<Summary> {
    let si = match states {
        [] => return None,
        [(_, s)] => SysInfo {
            relay_state: *s,
            ..SysInfo::default()
        },
        many => SysInfo {
            children: many
                .iter()
                .map(|(c, s)| (format!("channel:{c}"), None, *s))
                .collect(),
            ..SysInfo::default()
        },
    };
    Some(Summary::SysInfo(Box::new(SysInfo {
        vendor: Some(VENDOR.into()),
        ..si
    })))
}

/// `electricity`: mW, dV, mA → W, V, A.
pub fn electricity(e: &Value) -> EmeterReading {
    let f = |k: &str| e.get(k).and_then(Value::as_f64);
    EmeterReading {
        power_w: f("power").map(|mw| mw / 1000.0),
        voltage_v: f("voltage").map(|dv| dv / 10.0),
        current_a: f("current").map(|ma| ma / 1000.0),
        total_kwh: None,
        added_kwh: None,
    }
}

/// Meross on TCP 80, claimed by content.
pub static HTTP: Registration = Registration {
    name: PROTOCOL,
    transport: Transport::Tcp,
    ports: &[HTTP_PORT],
    probe: probe_http,
    decoder: Decoder::Stream(new_conn),
};

fn new_conn(p: &Probe<'_>) -> Box<dyn StreamDecoder> {
    Box::new(conn::MerossConn::new(p.mid_stream))
}

/// `POST /config` to port 80, or — mid-stream — an answer whose JSON has a
/// Meross header.
pub fn probe_http(p: &Probe<'_>) -> Verdict {
    if p.dst.port() != HTTP_PORT && p.src.port() != HTTP_PORT {
        return Verdict::NoMatch;
    }
    if p.payload.is_empty() {
        return Verdict::NeedData;
    }
    if let Some((m, t)) = super::shelly::request_line(p.payload) {
        let path = t.split('?').next().unwrap_or("");
        return if m == "POST" && path == PATH && p.dst.port() == HTTP_PORT {
            Verdict::Match(ServerIs::Dst)
        } else {
            Verdict::NoMatch
        };
    }
    let hay = &p.payload[..p.payload.len().min(4096)];
    let has = |n: &[u8]| hay.windows(n.len()).any(|w| w == n);
    if p.src.port() == HTTP_PORT
        && p.mid_stream
        && hay.starts_with(b"HTTP/1.")
        && has(b"\"namespace\"")
        && has(b"\"messageId\"")
    {
        return Verdict::Match(ServerIs::Src);
    }
    Verdict::NoMatch
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The signature as meross-iot computes it; cross-checked against the
    /// Python function itself in `tests/vendors_reference.rs`.
    #[test]
    fn sign_formula() {
        let k = MerossKey::new("device #1", "0123456789abcdef0123456789abcdef");
        let s = k.sign("a8f7c5d3e1b2a4c6d8e0f1a3b5c7d9e1", "1700000000");
        let mut h = Md5::new();
        h.update(b"a8f7c5d3e1b2a4c6d8e0f1a3b5c7d9e10123456789abcdef0123456789abcdef1700000000");
        assert_eq!(s, hex::encode(h.finalize()));
        // md5("") is the RFC 1321 A.5 vector: an empty id, key and timestamp.
        assert_eq!(
            MerossKey::new("x", "").sign("", ""),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
        assert!(!format!("{k:?}").contains("0123456789"));
        let h = Header::parse(&json!({"header":{"messageId":"a8f7c5d3e1b2a4c6d8e0f1a3b5c7d9e1","namespace":"Appliance.Control.ToggleX",
            "method":"SET","timestamp":1700000000,"sign":s,"from":"http://10.0.0.5/config","payloadVersion":1}})).unwrap();
        assert_eq!(h.verify(&[]), None);
        assert_eq!(h.verify(std::slice::from_ref(&k)), Some(true));
        assert_eq!(h.verify(&[MerossKey::new("other", "nope")]), Some(false));
        assert_eq!(h.verify(&[MerossKey::new("other", "nope"), k]), Some(true));
    }

    #[test]
    fn namespaces() {
        let h = |ns: &str, m: &str| Header {
            namespace: ns.into(),
            method: m.into(),
            ..Header::default()
        };
        assert_eq!(
            summary(
                &h("Appliance.Control.ToggleX", "SET"),
                &json!({"togglex":{"onoff":1,"channel":0}})
            ),
            [Summary::SetRelayState(RelayState::On)]
        );
        assert_eq!(
            summary(
                &h("Appliance.Control.Toggle", "SET"),
                &json!({"toggle":{"onoff":0}})
            ),
            [Summary::SetRelayState(RelayState::Off)]
        );
        let s = summary(
            &h("Appliance.Control.ToggleX", "PUSH"),
            &json!({"togglex":[{"channel":0,"onoff":1},{"channel":1,"onoff":0}]}),
        );
        let [Summary::SysInfo(si)] = &s[..] else {
            panic!("{s:?}")
        };
        assert_eq!(si.children.len(), 2);
        let s = summary(
            &h("Appliance.Control.Electricity", "GETACK"),
            &json!({"electricity":{"channel":0,"current":1234,"voltage":2305,"power":250500,"config":{"voltageRatio":188,"electricityRatio":100}}}),
        );
        let [Summary::Emeter(e)] = &s[..] else {
            panic!()
        };
        assert_eq!(
            (e.power_w, e.voltage_v, e.current_a),
            (Some(250.5), Some(230.5), Some(1.234))
        );
        let all = json!({"all":{"system":{"hardware":{"type":"mss310","subType":"us","version":"2.0.0","chipType":"mt7682",
            "uuid":"1912126416226729082148e1e9131d13","macAddress":"48:e1:e9:13:1d:13"},
            "firmware":{"version":"2.1.4","compileTime":"2020/01/13","innerIp":"192.168.1.40","server":"mqtt-eu.meross.com","port":2001}},
            "digest":{"togglex":[{"channel":0,"onoff":1,"lmTime":1600000000}]}}});
        let [Summary::SysInfo(si)] = &summary(&h("Appliance.System.All", "GETACK"), &all)[..]
        else {
            panic!()
        };
        assert_eq!(si.model.as_deref(), Some("mss310"));
        assert_eq!(si.mac.as_deref(), Some("48:e1:e9:13:1d:13"));
        assert_eq!(si.sw_ver.as_deref(), Some("2.1.4"));
        assert_eq!(si.relay_state, Some(RelayState::On));
        let s = summary(
            &h("Appliance.Control.ToggleX", "ERROR"),
            &json!({"error":{"code":5000,"detail":"sign error"}}),
        );
        assert!(matches!(&s[..], [Summary::Error { err_code: 5000, .. }]));
        for v in [
            json!(null),
            json!({"togglex":5}),
            json!({"all":[]}),
            json!({"electricity":"x"}),
        ] {
            for (ns, m) in [
                ("Appliance.Control.ToggleX", "SET"),
                ("Appliance.System.All", "GETACK"),
                ("Appliance.Control.Electricity", "GETACK"),
            ] {
                let _ = summary(&h(ns, m), &v);
            }
        }
        assert!(Header::parse(&json!({"header":{"method":"GET"}})).is_none());
        assert_eq!(
            Header::parse(&json!({"header":{"namespace":"a","method":"GET","timestamp":"17"}}))
                .unwrap()
                .timestamp,
            "17"
        );
    }
}
