//! The typed vocabulary every plug decoder speaks: what a message says about
//! a device (identity, relay, energy) and what a user of a sniffer cares
//! about (schedules, clock, Wi-Fi and cloud settings, secrets in the clear).
//!
//! Decoders fill these in; the watcher applies them to the device inventory
//! (`watch::inventory`), and `output/` alone turns them into words. A vendor
//! field with no place here stays in the message's JSON.

use serde_json::Value;

/// A relay (or light) state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayState {
    On,
    Off,
}

impl RelayState {
    /// `0`/`1` or `false`/`true` (the IOT and SMART encodings).
    pub fn from_json(v: &Value) -> Option<RelayState> {
        match v.as_i64().or_else(|| v.as_bool().map(i64::from))? {
            0 => Some(RelayState::Off),
            1 => Some(RelayState::On),
            _ => None,
        }
    }
}

/// `system.get_sysinfo` reply fields (python-kasa `IotDevice.sys_info`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SysInfo {
    /// The maker, when the protocol does not imply it (`"Shelly"`, `"Tuya"`).
    pub vendor: Option<String>,
    pub model: Option<String>,
    pub alias: Option<String>,
    /// `mac`, or `mic_mac` on bulbs, or `ethernet_mac`.
    pub mac: Option<String>,
    pub sw_ver: Option<String>,
    pub hw_ver: Option<String>,
    /// `deviceId`.
    pub device_id: Option<String>,
    /// `hwId`.
    pub hw_id: Option<String>,
    /// `oemId`.
    pub oem_id: Option<String>,
    pub relay_state: Option<RelayState>,
    pub rssi: Option<i64>,
    /// `latitude`/`longitude` (or `_i` variants ×10⁴): the device's location.
    pub location: Option<(f64, f64)>,
    /// Children of a power strip: `(id, alias, state)`.
    pub children: Vec<(String, Option<String>, Option<RelayState>)>,
}

/// An energy-meter reading normalised to SI-ish units.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct EmeterReading {
    pub power_w: Option<f64>,
    pub voltage_v: Option<f64>,
    pub current_a: Option<f64>,
    pub total_kwh: Option<f64>,
    /// Energy used since the device's previous report (Tuya `add_ele`, dp 17:
    /// "reports incremental power consumption", Tuya developer docs, smart
    /// metering socket function definition). Not a running total.
    pub added_kwh: Option<f64>,
}

/// Where a credential travelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialSource {
    /// `cnCloud.bind`: the TP-Link cloud account (username is the e-mail).
    CloudBind,
    /// `netif.set_stainfo`: the Wi-Fi network (username is the SSID).
    WifiStaInfo,
}

/// One thing a message says, typed.
#[derive(Debug, Clone, PartialEq)]
pub enum Summary {
    SysInfo(Box<SysInfo>),
    /// `system.set_relay_state` request.
    SetRelayState(RelayState),
    /// `emeter.get_realtime` reply.
    Emeter(EmeterReading),
    /// `schedule` / `count_down` / `anti_theft`: rule lists and edits.
    Schedule {
        module: String,
        method: String,
        rules: Option<usize>,
        enabled: Option<bool>,
    },
    /// `time.get_time` / `get_timezone` / `set_timezone`.
    Time {
        method: String,
        /// `[year, month, mday, hour, min, sec]` as reported.
        datetime: Option<[i64; 6]>,
        timezone_index: Option<i64>,
    },
    /// `netif.get_scaninfo` reply or `netif.set_stainfo` without a password.
    Netif {
        method: String,
        ssids: Vec<String>,
    },
    /// `cnCloud.get_info` reply or `cnCloud.set_server_url`.
    CloudInfo {
        server: Option<String>,
        username: Option<String>,
        binded: Option<bool>,
        connected: Option<bool>,
    },
    /// A secret sent in the clear.
    CredentialLeak {
        source: CredentialSource,
        username: String,
        password: String,
    },
    /// A non-zero `err_code`. `method` is `None` for module-level errors.
    Error {
        module: String,
        method: Option<String>,
        err_code: i64,
        err_msg: Option<String>,
    },
    /// A method this module has no summary for.
    Raw {
        module: String,
        method: String,
    },
}
