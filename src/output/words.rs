//! Words: how typed findings read in the live view, the JSON `summary`
//! strings and the end-of-run tables.

use crate::decoders::summary::{CredentialSource, RelayState, Summary};
use crate::report::event::HandshakeOutcome;

/// A TLS version number as people write it (RFC 8446 §5.1, RFC 6101).
pub fn tls_version_name(v: u16) -> String {
    match v {
        0x0300 => "SSL 3.0".into(),
        0x0301 => "TLS 1.0".into(),
        0x0302 => "TLS 1.1".into(),
        0x0303 => "TLS 1.2".into(),
        0x0304 => "TLS 1.3".into(),
        v => format!("{v:#06x}"),
    }
}

/// A TLS version as a cloud-link event shows it: negotiated, or offered.
pub fn tls_version(v: (u16, bool)) -> String {
    match v {
        (v, true) => tls_version_name(v),
        (v, false) => format!("{} offered", tls_version_name(v)),
    }
}

/// What a handshake event says: (messages, outcome).
pub fn handshake(o: &HandshakeOutcome) -> (String, String) {
    match o {
        HandshakeOutcome::PairwiseConfirmed { via } => {
            (via.to_string(), "pairwise key confirmed".to_string())
        }
        HandshakeOutcome::GroupInstalled { key_id } => {
            ("group".to_string(), format!("group key {key_id} installed"))
        }
        HandshakeOutcome::Failed(s) => ("handshake".to_string(), s.describe()),
    }
}

/// `cloud_account` / `wifi_network`.
pub fn credential_kind(s: CredentialSource) -> &'static str {
    match s {
        CredentialSource::CloudBind => "cloud_account",
        CredentialSource::WifiStaInfo => "wifi_network",
    }
}

/// A summary in words.
pub fn describe(s: &Summary) -> String {
    match s {
        Summary::SysInfo(si) => {
            let mut parts = Vec::new();
            if let Some(m) = &si.model {
                parts.push(m.clone());
            }
            if let Some(a) = &si.alias {
                parts.push(format!("{a:?}"));
            }
            if let Some(m) = &si.mac {
                parts.push(format!("mac {m}"));
            }
            if let Some(f) = &si.sw_ver {
                parts.push(format!("fw {f}"));
            }
            if let Some(r) = si.relay_state {
                parts.push(format!(
                    "relay {}",
                    if r == RelayState::On { "ON" } else { "OFF" }
                ));
            }
            if !si.children.is_empty() {
                parts.push(format!("{} outlets", si.children.len()));
            }
            // A request that names only its device (Tuya's `devId`).
            if parts.is_empty()
                && let Some(id) = &si.device_id
            {
                parts.push(format!("device {id}"));
            }
            format!("sysinfo: {}", parts.join(", "))
        }
        Summary::SetRelayState(r) => {
            format!("switch {}", if *r == RelayState::On { "ON" } else { "OFF" })
        }
        Summary::Emeter(e) => {
            let mut parts = Vec::new();
            if let Some(p) = e.power_w {
                parts.push(format!("{p:.1} W"));
            }
            if let Some(v) = e.voltage_v {
                parts.push(format!("{v:.1} V"));
            }
            if let Some(a) = e.current_a {
                parts.push(format!("{a:.3} A"));
            }
            if let Some(k) = e.total_kwh {
                parts.push(format!("{k:.3} kWh total"));
            }
            if let Some(k) = e.added_kwh {
                parts.push(format!("+{k:.3} kWh"));
            }
            format!("power: {}", parts.join(", "))
        }
        Summary::Schedule {
            module,
            method,
            rules,
            enabled,
        } => {
            let mut s = format!("{module}.{method}");
            if let Some(r) = rules {
                s.push_str(&format!(": {r} rule(s)"));
            }
            if let Some(e) = enabled {
                s.push_str(if *e { ", enabled" } else { ", disabled" });
            }
            s
        }
        Summary::Time {
            method,
            datetime,
            timezone_index,
        } => {
            let mut s = format!("time.{method}");
            if let Some([y, mo, d, h, mi, se]) = datetime {
                s.push_str(&format!(": {y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{se:02}"));
            }
            if let Some(t) = timezone_index {
                s.push_str(&format!(" (tz index {t})"));
            }
            s
        }
        Summary::Netif { method, ssids } => {
            if ssids.is_empty() {
                format!("netif.{method}")
            } else {
                format!("netif.{method}: {}", ssids.join(", "))
            }
        }
        Summary::CloudInfo {
            server,
            username,
            binded,
            connected,
        } => {
            let mut parts = Vec::new();
            if let Some(s) = server {
                parts.push(format!("server {s}"));
            }
            if let Some(u) = username {
                parts.push(format!("account {u}"));
            }
            if let Some(b) = binded {
                parts.push(if *b {
                    "bound".into()
                } else {
                    "not bound".into()
                });
            }
            if let Some(c) = connected {
                parts.push(if *c {
                    "connected".into()
                } else {
                    "disconnected".into()
                });
            }
            format!("cloud: {}", parts.join(", "))
        }
        Summary::CredentialLeak {
            source,
            username,
            password,
        } => {
            let what = match source {
                CredentialSource::CloudBind => "cloud account",
                CredentialSource::WifiStaInfo => "WiFi network",
            };
            // Masked by the watcher unless --show-secrets.
            format!("CREDENTIAL LEAK: {what} {username:?} / password {password}")
        }
        Summary::Error {
            module,
            method,
            err_code,
            err_msg,
        } => {
            let m = method
                .as_deref()
                .map_or(module.clone(), |f| format!("{module}.{f}"));
            match err_msg {
                Some(e) => format!("{m}: error {err_code} ({e})"),
                None => format!("{m}: error {err_code}"),
            }
        }
        Summary::Raw { module, method } => format!("{module}.{method}"),
    }
}
