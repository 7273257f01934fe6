//! The TXT record of an `_ewelink._tcp` announcement: `txtvers`, `id` (the
//! device id), `type` (`plug`, `strip`, `diy_plug`, `enhanced_plug`…),
//! `apivers`, `seq` (bumped on every state change), `encrypt`, `iv` and
//! the state in `data1`…`data4` (249 characters each, joined in order:
//! SonoffLAN `local.py` `_handler3`, pysonofflanr3 `client.py`
//! `update_service`).

use serde_json::{Map, Value};

use super::{Opened, open_encrypted, open_plain};
use crate::decoders::DecoderConfig;

/// What an eWeLink TXT record says.
#[derive(Debug, Clone, PartialEq)]
pub struct TxtState {
    pub device_id: Option<String>,
    /// `type`.
    pub device_type: Option<String>,
    pub seq: Option<String>,
    /// The state, opened (or why not); `None` when the record has no data.
    pub state: Option<Opened>,
    /// The record as JSON, with the opened state in `data` (the `dataN`
    /// fields joined), for the message event.
    pub json: Value,
}

/// Reads the attributes of an `_ewelink._tcp` TXT record.
pub fn interpret(attrs: &[(String, Option<String>)], cfg: &DecoderConfig) -> TxtState {
    let get = |k: &str| {
        attrs
            .iter()
            .find(|(a, _)| a.eq_ignore_ascii_case(k))
            .and_then(|(_, v)| v.as_deref())
    };
    let joined: String = (1..=4)
        .filter_map(|i| get(&format!("data{i}")))
        .collect::<Vec<_>>()
        .concat();
    let encrypted = get("encrypt") == Some("true");
    let device_id = get("id").map(str::to_owned);
    let state = if joined.is_empty() {
        None
    } else if encrypted {
        Some(open_encrypted(
            cfg,
            device_id.as_deref(),
            get("iv"),
            Some(&joined),
        ))
    } else {
        Some(open_plain(Some(&Value::String(joined.clone()))))
    };
    let mut json = Map::new();
    for (k, v) in attrs {
        if k.len() == 5 && k.starts_with("data") {
            continue;
        }
        json.insert(
            k.clone(),
            v.clone().map_or(Value::Bool(true), Value::String),
        );
    }
    let data = match &state {
        Some(Opened::Plain(v) | Opened::Decrypted(v, _)) => v.clone(),
        _ if joined.is_empty() => Value::Null,
        _ => Value::String(joined),
    };
    json.insert("data".into(), data);
    TxtState {
        device_id,
        device_type: get("type").map(str::to_owned),
        seq: get("seq").map(str::to_owned),
        state,
        json: Value::Object(json),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::ewelink::Label;
    use crate::decoders::ewelink::crypto::{self, DeviceKey, EwelinkDevice};

    fn a(k: &str, v: &str) -> (String, Option<String>) {
        (k.into(), Some(v.into()))
    }

    #[test]
    fn encrypted_state_split_over_data_fields() {
        let key = DeviceKey::from_devicekey("devkey");
        let plain = format!(
            r#"{{"switch":"on","startup":"off","pad":"{}"}}"#,
            "x".repeat(500)
        );
        let (iv, data) = crypto::encrypt(&key, [3; 16], plain.as_bytes());
        let (d1, rest) = data.split_at(249);
        let (d2, d3) = rest.split_at(249);
        let attrs = vec![
            a("txtvers", "1"),
            a("id", "1000abcdef"),
            a("type", "plug"),
            a("apivers", "1"),
            a("seq", "5"),
            a("encrypt", "true"),
            a("iv", &iv),
            a("data1", d1),
            a("data2", d2),
            a("data3", d3),
        ];
        let no_keys = DecoderConfig::default();
        let t = interpret(&attrs, &no_keys);
        assert!(matches!(t.state, Some(Opened::Failed(Label::KeyNeeded, _))));
        assert_eq!(t.json["data"], Value::String(data.clone()));
        let cfg = DecoderConfig {
            ewelink_devices: vec![EwelinkDevice {
                id: "1000abcdef".into(),
                label: "ewelink_device #1".into(),
                key,
            }],
            ..Default::default()
        };
        let t = interpret(&attrs, &cfg);
        assert_eq!(t.device_type.as_deref(), Some("plug"));
        assert_eq!(t.seq.as_deref(), Some("5"));
        assert!(matches!(t.state, Some(Opened::Decrypted(..))));
        assert_eq!(t.json["data"]["switch"], "on");
        assert_eq!(t.json["id"], "1000abcdef");
        assert!(t.json.get("data1").is_none());
    }

    #[test]
    fn diy_plain_state() {
        let attrs = vec![
            a("id", "1000000001"),
            a("type", "diy_plug"),
            a("data1", r#"{"switch":"off"}"#),
        ];
        let t = interpret(&attrs, &DecoderConfig::default());
        assert_eq!(
            t.state,
            Some(Opened::Plain(serde_json::json!({"switch":"off"})))
        );
        let t = interpret(&[a("id", "x")], &DecoderConfig::default());
        assert_eq!(t.state, None);
    }
}
