//! What an eWeLink `data` object says, in the shared vocabulary.
//!
//! Field names from the ITEAD DIY-mode protocol document (v1, v2) and
//! SonoffLAN `core/devices.py`: `switch` ("on"/"off"), `switches`
//! (`[{"switch","outlet"}]` on multi-channel devices), `startup`, `pulse`,
//! `pulseWidth`, `sledOnline`, `rssi` / `signalStrength`, `fwVersion`,
//! `deviceid`, `ssid` + `password` (`zeroconf/wifi`), and on POW models
//! `power`, `voltage`, `current` (strings of decimals, e.g. `"12.30"`;
//! numbers are taken as reported).

use serde_json::Value;

use super::VENDOR;
use crate::decoders::summary::{CredentialSource, EmeterReading, RelayState, Summary, SysInfo};

/// Outlets of a multi-channel device kept in a summary.
pub const MAX_OUTLETS: usize = 16;

/// `"on"` / `"off"` (eWeLink's encoding).
pub fn relay(v: Option<&Value>) -> Option<RelayState> {
    match v?.as_str()? {
        "on" => Some(RelayState::On),
        "off" => Some(RelayState::Off),
        _ => None,
    }
}

/// A number or a string of one.
fn num(v: Option<&Value>) -> Option<f64> {
    let v = v?;
    let x = v
        .as_f64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse::<f64>().ok()))?;
    x.is_finite().then_some(x)
}

fn text(v: Option<&Value>) -> Option<String> {
    v?.as_str()
        .map(|s| crate::wire::dns::LabelText(s.as_bytes()).to_string())
}

/// What a `zeroconf/<command>` request's `data` asks for.
pub fn request_summary(command: &str, data: &Value) -> Vec<Summary> {
    let mut out = Vec::new();
    if let Some(r) = relay(data.get("switch")) {
        out.push(Summary::SetRelayState(r));
    }
    if let (Some(ssid), Some(pw)) = (
        data.get("ssid").and_then(Value::as_str),
        data.get("password").and_then(Value::as_str),
    ) {
        out.push(Summary::CredentialLeak {
            source: CredentialSource::WifiStaInfo,
            username: ssid.to_owned(),
            password: pw.to_owned(),
        });
    }
    if out.is_empty() {
        out.push(Summary::Raw {
            module: "zeroconf".into(),
            method: command.chars().take(32).collect(),
        });
    }
    out
}

/// What a device state says (a TXT record's data, an `info` or
/// `signal_strength` reply): sysinfo with relay/RSSI/firmware, and a
/// meter reading on POW models. `device_id`/`model` come from the TXT
/// record or the request when the data does not carry them.
pub fn state_summary(data: &Value, device_id: Option<&str>, model: Option<&str>) -> Vec<Summary> {
    let Some(o) = data.as_object() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let children: Vec<_> = o
        .get("switches")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .take(MAX_OUTLETS)
                .map(|s| {
                    let outlet = s.get("outlet").and_then(Value::as_i64).unwrap_or(-1);
                    (format!("outlet {outlet}"), None, relay(s.get("switch")))
                })
                .collect()
        })
        .unwrap_or_default();
    let info = SysInfo {
        vendor: Some(VENDOR.to_owned()),
        model: model.map(str::to_owned),
        device_id: text(o.get("deviceid")).or(device_id.map(str::to_owned)),
        relay_state: relay(o.get("switch")),
        rssi: o
            .get("rssi")
            .or(o.get("signalStrength"))
            .and_then(Value::as_i64),
        sw_ver: text(o.get("fwVersion")),
        children,
        ..Default::default()
    };
    if info.relay_state.is_some()
        || info.rssi.is_some()
        || info.sw_ver.is_some()
        || !info.children.is_empty()
    {
        out.push(Summary::SysInfo(Box::new(info)));
    }
    let e = EmeterReading {
        power_w: num(o.get("power")),
        voltage_v: num(o.get("voltage")),
        current_a: num(o.get("current")),
        total_kwh: None,
        added_kwh: None,
    };
    if e != EmeterReading::default() {
        out.push(Summary::Emeter(e));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requests() {
        assert_eq!(
            request_summary("switch", &json!({"switch":"on"})),
            vec![Summary::SetRelayState(RelayState::On)]
        );
        let s = request_summary("wifi", &json!({"ssid":"home","password":"pw"}));
        assert!(matches!(&s[0], Summary::CredentialLeak { username, .. } if username == "home"));
        assert_eq!(
            request_summary("startup", &json!({"startup":"stay"})),
            vec![Summary::Raw {
                module: "zeroconf".into(),
                method: "startup".into()
            }]
        );
    }

    #[test]
    fn states() {
        let s = state_summary(
            &json!({"switch":"off","rssi":-61,"fwVersion":"3.5.0","power":"12.30","voltage":"230.10","current":"0.05"}),
            Some("1000abcdef"),
            Some("plug"),
        );
        let Summary::SysInfo(i) = &s[0] else {
            panic!("{s:?}")
        };
        assert_eq!(i.relay_state, Some(RelayState::Off));
        assert_eq!(
            (i.rssi, i.device_id.as_deref()),
            (Some(-61), Some("1000abcdef"))
        );
        assert_eq!(
            s[1],
            Summary::Emeter(EmeterReading {
                power_w: Some(12.3),
                voltage_v: Some(230.1),
                current_a: Some(0.05),
                total_kwh: None,
                added_kwh: None,
            })
        );
        let s = state_summary(
            &json!({"switches":[{"switch":"on","outlet":0},{"switch":"off","outlet":1}]}),
            None,
            None,
        );
        let Summary::SysInfo(i) = &s[0] else { panic!() };
        assert_eq!(i.children.len(), 2);
        assert_eq!(i.children[1].2, Some(RelayState::Off));
        assert!(state_summary(&json!([1, 2]), None, None).is_empty());
        assert!(state_summary(&json!({"power":"NaN"}), None, None).is_empty());
    }
}
