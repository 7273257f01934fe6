//! Sonoff / eWeLink LAN mode: the `_ewelink._tcp` mDNS TXT state records and
//! the `POST /zeroconf/<command>` HTTP API on TCP 8081.
//!
//! Layout:
//! - [`crypto`]: AES-128-CBC with key MD5(devicekey), the config's device
//!   keys ([`crypto::EwelinkDevice`]).
//! - [`message`]: what a `params`/`data` object says, in the shared
//!   vocabulary ([`crate::decoders::summary`]): relay (`switch`,
//!   `switches`), power/voltage/current (POW models), RSSI, firmware, Wi-Fi
//!   credentials.
//! - [`session`]: the per-connection HTTP decoder (request/response
//!   pairing), registered as [`REGISTRATION`].
//! - [`txt`]: the TXT record of an announcement (`id`, `type`, `seq`,
//!   `encrypt`, `iv`, `data1`…`data4`), called by `decoders::mdns`.
//!
//! Sources: SonoffLAN (AlexxIT) `custom_components/sonoff/core/ewelink/
//! local.py`; pysonofflanr3 1.1.4 `client.py` and `sonoffcrypto.py`; ITEAD
//! "SONOFF DIY MODE Protocol Doc" v1/v2 (the `zeroconf/*` commands, the
//! `data1`…`data4` split).
//!
//! Without a key for the device an encrypted payload is labelled
//! [`Label::KeyNeeded`]; with a key that fails the PKCS#7 padding or whose
//! plaintext is not JSON, [`Label::KeyMismatch`]: never garbage.

pub mod crypto;
pub mod message;
pub mod session;
pub mod txt;

use serde_json::Value;

use crate::decoders::DecoderConfig;
use crypto::{CryptError, EwelinkDevice};

/// The TCP port of the LAN API (SonoffLAN `local.py`: "default port, some
/// devices may have another"; the SRV record says which).
pub const PORT: u16 = 8081;
/// The vendor named in announcements.
pub const VENDOR: &str = "Sonoff/eWeLink";
/// Registration name and the `protocol` of its events.
pub const PROTOCOL: &str = "ewelink";
/// Configured keys tried on a payload whose device id is unknown (a
/// response without its request): the config may be long.
pub const MAX_KEYS_TRIED: usize = 64;

/// An honest reason why an eWeLink payload was not decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    /// Encrypted, and no `[[ewelink_device]]` key for the device.
    KeyNeeded,
    /// A configured key failed the padding check or gave non-JSON.
    KeyMismatch,
    /// Not JSON, or `encrypt` without `iv`/`data`.
    Malformed,
    /// HTTP on the port that is not `/zeroconf/*`.
    NotEwelink,
}

impl Label {
    pub fn as_str(self) -> &'static str {
        match self {
            Label::KeyNeeded => "eWeLink: device key needed",
            Label::KeyMismatch => "eWeLink: device key does not match",
            Label::Malformed => "eWeLink: malformed",
            Label::NotEwelink => "HTTP: not eWeLink",
        }
    }
}

/// The outcome of opening a `data` payload.
#[derive(Debug, Clone, PartialEq)]
pub enum Opened {
    /// Not encrypted (DIY mode), parsed.
    Plain(Value),
    /// Decrypted with the key of this `[[ewelink_device]]` (its label).
    Decrypted(Value, String),
    /// Not opened, and why (with a detail for the event's reason).
    Failed(Label, String),
}

/// SonoffLAN `decrypt_msg`: the RF Bridge's firmware writes `"="` where
/// `":"` belongs in its `rf…` keys; fix it before parsing.
fn parse_json(plain: &[u8]) -> Option<Value> {
    if plain.starts_with(br#"{"rf"#) {
        let fixed = String::from_utf8_lossy(plain).replace(r#""=""#, r#"":""#);
        return serde_json::from_str(&fixed).ok();
    }
    serde_json::from_slice(plain).ok()
}

/// The keys to try for `device_id`: its own, or — when the payload names
/// no device — every configured key (at most [`MAX_KEYS_TRIED`]).
fn keys_for<'a>(cfg: &'a DecoderConfig, device_id: Option<&str>) -> Vec<&'a EwelinkDevice> {
    match device_id {
        Some(id) => cfg
            .ewelink_devices
            .iter()
            .filter(|d| d.id.eq_ignore_ascii_case(id))
            .take(1)
            .collect(),
        None => cfg.ewelink_devices.iter().take(MAX_KEYS_TRIED).collect(),
    }
}

/// Opens an encrypted payload (base64 `iv`, base64 `data`) of `device_id`.
pub fn open_encrypted(
    cfg: &DecoderConfig,
    device_id: Option<&str>,
    iv: Option<&str>,
    data: Option<&str>,
) -> Opened {
    let (Some(iv), Some(data)) = (iv, data) else {
        return Opened::Failed(Label::Malformed, "encrypted without iv or data".into());
    };
    let keys = keys_for(cfg, device_id);
    if keys.is_empty() {
        let who = device_id.map_or("this device".to_owned(), |id| {
            format!("device {}", crate::wire::dns::LabelText(id.as_bytes()))
        });
        return Opened::Failed(
            Label::KeyNeeded,
            format!(
                "{} bytes encrypted; no [[ewelink_device]] key for {who}",
                data.len()
            ),
        );
    }
    let mut last = None;
    for d in &keys {
        match crypto::decrypt(&d.key, iv, data) {
            Ok(plain) => match parse_json(&plain) {
                Some(v) => return Opened::Decrypted(v, d.label.clone()),
                None => last = Some("decrypted, not JSON".to_owned()),
            },
            Err(e @ (CryptError::BadEncoding | CryptError::TooLong { .. })) => {
                return Opened::Failed(Label::Malformed, format!("{e:?}"));
            }
            Err(e) => last = Some(format!("{e:?}")),
        }
    }
    Opened::Failed(
        Label::KeyMismatch,
        format!("{} key(s) tried: {}", keys.len(), last.unwrap_or_default()),
    )
}

/// Opens a DIY-mode (unencrypted) `data`: an object, or a JSON string.
pub fn open_plain(data: Option<&Value>) -> Opened {
    match data {
        Some(Value::String(s)) => match parse_json(s.as_bytes()) {
            Some(v) => Opened::Plain(v),
            None => Opened::Failed(Label::Malformed, "data is not JSON".into()),
        },
        Some(v) => Opened::Plain(v.clone()),
        None => Opened::Plain(Value::Null),
    }
}

/// `encrypt` as sent: `true`, or the string `"true"` (TXT records).
pub fn is_encrypted(v: Option<&Value>) -> bool {
    matches!(v, Some(Value::Bool(true))) || v.and_then(Value::as_str) == Some("true")
}

pub use session::REGISTRATION;

#[cfg(test)]
mod tests {
    use super::*;
    use crypto::DeviceKey;

    fn cfg() -> DecoderConfig {
        DecoderConfig {
            ewelink_devices: vec![EwelinkDevice {
                id: "1000abcdef".into(),
                label: "ewelink_device #1".into(),
                key: DeviceKey::from_devicekey("k1"),
            }],
            ..Default::default()
        }
    }

    #[test]
    fn open_labels() {
        let c = cfg();
        let k = DeviceKey::from_devicekey("k1");
        let (iv, data) = crypto::encrypt(&k, [7; 16], br#"{"switch":"off"}"#);
        assert_eq!(
            open_encrypted(&c, Some("1000ABCDEF"), Some(&iv), Some(&data)),
            Opened::Decrypted(
                serde_json::json!({"switch":"off"}),
                "ewelink_device #1".into()
            )
        );
        assert!(matches!(
            open_encrypted(&c, None, Some(&iv), Some(&data)),
            Opened::Decrypted(..)
        ));
        assert!(matches!(
            open_encrypted(&c, Some("1000000000"), Some(&iv), Some(&data)),
            Opened::Failed(Label::KeyNeeded, _)
        ));
        let wrong = DeviceKey::from_devicekey("k2");
        // A key whose padding happens to pass still fails the JSON check.
        for i in 0..50u8 {
            let (iv, data) = crypto::encrypt(&wrong, [i; 16], br#"{"switch":"off"}"#);
            assert!(matches!(
                open_encrypted(&c, Some("1000abcdef"), Some(&iv), Some(&data)),
                Opened::Failed(Label::KeyMismatch, _)
            ));
        }
        assert!(matches!(
            open_encrypted(&c, Some("1000abcdef"), None, Some(&data)),
            Opened::Failed(Label::Malformed, _)
        ));
        // The RF Bridge quirk.
        let (iv, data) = crypto::encrypt(&k, [1; 16], br#"{"rfTrig0"="2020-01-01"}"#);
        assert!(matches!(
            open_encrypted(&c, Some("1000abcdef"), Some(&iv), Some(&data)),
            Opened::Decrypted(..)
        ));
        assert_eq!(
            open_plain(Some(&Value::String(r#"{"switch":"on"}"#.into()))),
            Opened::Plain(serde_json::json!({"switch":"on"}))
        );
        assert!(is_encrypted(Some(&Value::String("true".into()))));
        assert!(!is_encrypted(Some(&Value::Bool(false))));
    }
}
