//! Data points ("dps"): what a decrypted Tuya JSON says about a plug, in the
//! shared vocabulary ([`crate::decoders::summary`]).
//!
//! The JSON carries data points as `"dps": {"1": true, "19": 1234}` at the
//! top (3.1–3.3) or under `"data"` (3.4/3.5 `CONTROL_NEW` and pushes,
//! tinytuya `_decode_payload`: "v3.4 stuffs it into {"data":{"dps":…}}").
//! Their meaning depends on the product; the plug layouts below are the
//! documented ones.
//!
//! # Standard socket layout (Tuya category `cz`)
//! Tuya developer docs, "Smart Metering Socket — Function Definition"
//! (developer.tuya.com `?id=K9tp15ceh63gr`), and tinytuya README
//! "Version 3.3 - Plug, Switch, Power Strip Type":
//!
//! | dp | identifier | type, scale | becomes |
//! |---|---|---|---|
//! | 1 | `switch_1` | bool | [`Summary::SetRelayState`] in a request, [`SysInfo::relay_state`] in a report |
//! | 9 | `countdown_1` | s, scale 0 | [`Summary::Schedule`] `countdown`/`countdown_1` (enabled when non-zero) |
//! | 17 | `add_ele` | kWh, scale 3 (×0.001), increment since the last report | [`EmeterReading::added_kwh`] |
//! | 18 | `cur_current` | mA, scale 0 | [`EmeterReading::current_a`] (÷1000) |
//! | 19 | `cur_power` | W, scale 1 (×0.1) | [`EmeterReading::power_w`] |
//! | 20 | `cur_voltage` | V, scale 1 (×0.1) | [`EmeterReading::voltage_v`] |
//!
//! Same source, shown raw: 2–7 further switches of power strips, 10–15 their
//! countdowns, 21 `test_bit`, 22–25 calibration coefficients, 26 `fault`, 38
//! power-on state, 39–44.
//!
//! # Legacy plug layout
//! tinytuya README "Version 3.1 - Plug or Switch Type" and make-all/tuya-local
//! `devices/smartplugv1.yaml` (scales): 4 current (mA), 5 power (W ×0.1),
//! 6 voltage (V ×0.1). Used only when dp 5 or 6 is an integer, none of
//! 17–20 is present and none of 2–7 is a boolean (on power strips, dimmers and
//! fans those numbers are other things: tinytuya's 3.3 tables).
//!
//! Every other data point appears in `methods` as `dps.<id>` and, like all
//! of them, in the message's JSON.

use serde_json::{Map, Value};

use super::codec::Sender;
use super::command::Command;
use crate::decoders::summary::{EmeterReading, RelayState, Summary, SysInfo};

/// Most data points examined per message (later ones stay in the JSON).
pub const MAX_DPS: usize = 64;
/// Longest device id kept from a payload (tinytuya ids are 20 or 22
/// characters).
pub const MAX_DEVICE_ID: usize = 64;

/// What one message says.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Interpretation {
    /// The command's name, then `dps.<id>` for data points without a meaning
    /// here.
    pub methods: Vec<String>,
    pub summary: Vec<Summary>,
    /// `devId`/`gwId` of the payload.
    pub device_id: Option<String>,
}

/// The `dps` object of a payload, where it is.
pub fn dps_of(json: &Value) -> Option<&Map<String, Value>> {
    json.get("dps")
        .and_then(Value::as_object)
        .or_else(|| json.get("data")?.get("dps")?.as_object())
}

/// A device id as devices write it: printable ASCII, bounded.
pub fn clean_id(s: &str) -> Option<String> {
    (!s.is_empty() && s.len() <= MAX_DEVICE_ID && s.bytes().all(|b| b.is_ascii_graphic()))
        .then(|| s.to_owned())
}

/// The device id a payload names (`devId`, else `gwId`; at the top or under
/// `data`).
pub fn device_id_of(json: &Value) -> Option<String> {
    let at = |v: &Value| {
        ["devId", "gwId"]
            .iter()
            .find_map(|k| v.get(k)?.as_str().and_then(clean_id))
    };
    at(json).or_else(|| at(json.get("data")?))
}

fn num(v: &Value) -> Option<f64> {
    v.as_f64().filter(|x| x.is_finite())
}

/// Interprets a decoded payload. `sender` tells a request (client) from a
/// report (device).
pub fn interpret(cmd: Command, sender: Sender, json: &Value) -> Interpretation {
    let mut out = Interpretation {
        methods: vec![cmd.label()],
        device_id: device_id_of(json),
        ..Interpretation::default()
    };
    let Some(dps) = dps_of(json) else {
        if sender == Sender::Client && out.device_id.is_some() {
            out.summary.push(sysinfo(out.device_id.clone(), None));
        }
        return out;
    };
    let get = |id: u32| dps.get(id.to_string().as_str());
    let legacy = ![17, 18, 19, 20].iter().any(|&i| get(i).is_some())
        && [5, 6].iter().any(|&i| get(i).is_some_and(Value::is_i64))
        && !(2..=7).any(|i| get(i).is_some_and(Value::is_boolean));
    let mut known: Vec<u32> = vec![1, 9, 17, 18, 19, 20];
    if legacy {
        known.extend([4, 5, 6]);
    }
    for id in dps.keys().take(MAX_DPS) {
        if !id.parse::<u32>().is_ok_and(|n| known.contains(&n)) {
            out.methods.push(format!("dps.{id}"));
        }
    }
    let relay = get(1).and_then(RelayState::from_json);
    match sender {
        Sender::Client => {
            if let Some(r) = relay {
                out.summary.push(Summary::SetRelayState(r));
            } else if out.device_id.is_some() {
                out.summary.push(sysinfo(out.device_id.clone(), None));
            }
        }
        Sender::Device => {
            if relay.is_some() || out.device_id.is_some() {
                out.summary.push(sysinfo(out.device_id.clone(), relay));
            }
        }
    }
    if let Some(secs) = get(9).and_then(num) {
        out.summary.push(Summary::Schedule {
            module: "countdown".into(),
            method: "countdown_1".into(),
            rules: None,
            enabled: Some(secs != 0.0),
        });
    }
    if sender == Sender::Device {
        // Divided by the scale's power of ten (not multiplied by 0.1): the
        // result prints with the precision the device sent (2301 → 230.1).
        let scaled = |id: u32, per: f64| get(id).and_then(num).map(|x| x / per);
        let e = if legacy {
            EmeterReading {
                current_a: scaled(4, 1000.0),
                power_w: scaled(5, 10.0),
                voltage_v: scaled(6, 10.0),
                ..EmeterReading::default()
            }
        } else {
            EmeterReading {
                added_kwh: scaled(17, 1000.0),
                current_a: scaled(18, 1000.0),
                power_w: scaled(19, 10.0),
                voltage_v: scaled(20, 10.0),
                ..EmeterReading::default()
            }
        };
        if e != EmeterReading::default() {
            out.summary.push(Summary::Emeter(e));
        }
    }
    out
}

fn sysinfo(device_id: Option<String>, relay: Option<RelayState>) -> Summary {
    Summary::SysInfo(Box::new(SysInfo {
        vendor: Some("Tuya".into()),
        device_id,
        relay_state: relay,
        ..SysInfo::default()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn emeter(i: &Interpretation) -> Option<EmeterReading> {
        i.summary.iter().find_map(|s| match s {
            Summary::Emeter(e) => Some(*e),
            _ => None,
        })
    }

    fn relay(i: &Interpretation) -> Option<RelayState> {
        i.summary.iter().find_map(|s| match s {
            Summary::SysInfo(s) => s.relay_state,
            _ => None,
        })
    }

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-9)
    }

    #[test]
    fn control_request_sets_the_relay() {
        let i = interpret(
            Command::CONTROL,
            Sender::Client,
            &json!({"devId":"bf0123456789abcdefgh","uid":"x","t":"1","dps":{"1":false}}),
        );
        assert_eq!(i.methods, ["CONTROL"]);
        assert_eq!(i.summary, [Summary::SetRelayState(RelayState::Off)]);
        assert_eq!(i.device_id.as_deref(), Some("bf0123456789abcdefgh"));
        // 3.4/3.5 CONTROL_NEW puts the dps under "data".
        let i = interpret(
            Command::CONTROL_NEW,
            Sender::Client,
            &json!({"protocol":5,"t":1,"data":{"dps":{"1":true}}}),
        );
        assert_eq!(i.summary, [Summary::SetRelayState(RelayState::On)]);
        assert_eq!(i.methods, ["CONTROL_NEW"]);
    }

    #[test]
    fn status_report_standard_layout() {
        let i = interpret(
            Command::STATUS,
            Sender::Device,
            &json!({"devId":"bf01","dps":{"1":true,"9":0,"17":12,"18":412,"19":945,"20":2301,"26":0,"101":"x"}}),
        );
        assert_eq!(i.methods, ["STATUS", "dps.101", "dps.26"]);
        assert_eq!(relay(&i), Some(RelayState::On));
        let e = emeter(&i).unwrap();
        assert!(close(e.power_w, 94.5));
        assert!(close(e.voltage_v, 230.1));
        assert!(close(e.current_a, 0.412));
        assert!(close(e.added_kwh, 0.012));
        assert_eq!(e.total_kwh, None);
        assert!(i.summary.contains(&Summary::Schedule {
            module: "countdown".into(),
            method: "countdown_1".into(),
            rules: None,
            enabled: Some(false),
        }));
    }

    #[test]
    fn each_energy_dp_alone() {
        let i = interpret(Command::STATUS, Sender::Device, &json!({"dps":{"19":100}}));
        assert!(close(emeter(&i).unwrap().power_w, 10.0));
        let i = interpret(Command::STATUS, Sender::Device, &json!({"dps":{"18":100}}));
        assert!(close(emeter(&i).unwrap().current_a, 0.1));
        let i = interpret(Command::STATUS, Sender::Device, &json!({"dps":{"17":100}}));
        assert!(close(emeter(&i).unwrap().added_kwh, 0.1));
        let i = interpret(Command::STATUS, Sender::Device, &json!({"dps":{"20":2300}}));
        let e = emeter(&i).unwrap();
        assert!(close(e.voltage_v, 230.0));
        assert_eq!((e.power_w, e.current_a, e.added_kwh), (None, None, None));
        assert_eq!(i.methods, ["STATUS"]);
    }

    #[test]
    fn legacy_layout_only_when_it_fits() {
        let i = interpret(
            Command::DP_QUERY,
            Sender::Device,
            &json!({"devId":"x","dps":{"1":true,"2":0,"4":120,"5":264,"6":2298}}),
        );
        let e = emeter(&i).unwrap();
        assert!(close(e.current_a, 0.12) && close(e.power_w, 26.4) && close(e.voltage_v, 229.8));
        assert_eq!(i.methods, ["DP_QUERY", "dps.2"]);
        // A power strip: 4-6 are switches, no emeter.
        let i = interpret(
            Command::STATUS,
            Sender::Device,
            &json!({"dps":{"1":true,"2":false,"4":true,"5":1,"6":2}}),
        );
        assert_eq!(emeter(&i), None);
        assert_eq!(i.methods, ["STATUS", "dps.2", "dps.4", "dps.5", "dps.6"]);
        // A light: 5 is a colour string.
        let i = interpret(
            Command::STATUS,
            Sender::Device,
            &json!({"dps":{"4":500,"5":"ff0000"}}),
        );
        assert_eq!(emeter(&i), None);
    }

    #[test]
    fn queries_and_odd_values() {
        // device22 DP_QUERY via CONTROL_NEW lists dps with null values.
        let i = interpret(
            Command::CONTROL_NEW,
            Sender::Client,
            &json!({"devId":"bf01","uid":"bf01","t":"1","dps":{"1":null,"101":null}}),
        );
        assert_eq!(i.methods, ["CONTROL_NEW", "dps.101"]);
        assert!(matches!(&i.summary[..], [Summary::SysInfo(s)] if s.relay_state.is_none()));
        let i = interpret(
            Command::DP_QUERY,
            Sender::Client,
            &json!({"gwId":"bf01","devId":"bf01"}),
        );
        assert!(
            matches!(&i.summary[..], [Summary::SysInfo(s)] if s.device_id.as_deref() == Some("bf01"))
        );
        let i = interpret(
            Command::STATUS,
            Sender::Device,
            &json!({"dps":{"19":"x","1":"on"}}),
        );
        assert!(i.summary.is_empty());
        let i = interpret(Command::HEART_BEAT, Sender::Device, &Value::Null);
        assert_eq!(i.methods, ["HEART_BEAT"]);
        assert!(i.summary.is_empty());
        assert_eq!(clean_id("bad id"), None);
        assert_eq!(clean_id(&"x".repeat(65)), None);
    }

    #[test]
    fn dps_are_bounded() {
        let mut m = Map::new();
        for i in 0..1000 {
            m.insert(format!("{}", 200 + i), Value::from(i));
        }
        let i = interpret(Command::STATUS, Sender::Device, &json!({ "dps": m }));
        assert_eq!(i.methods.len(), 1 + MAX_DPS);
    }
}
