//! The TOML configuration file.
//!
//! ```toml
//! [[network]]
//! ssid = "linksys"          # optional when only one network
//! passphrase = "dictionary" # or: psk = "64 hex chars" / pmk = "64 hex chars"
//!
//! [[network]]               # SAE, OWE, 802.1X: the PMK of the session
//! pmk = "64 or 96 hex chars" # 96 (48 bytes) for Suite B 192 (AKM 12, 13)
//! pmkid = "32 hex chars"    # optional: the PMKID `wpa_cli pmksa` lists with it
//!
//! [[network]]               # 802.1X: the EAP MSK (PMK = its first 32 bytes)
//! msk = "128 to 256 hex chars"
//!
//! [[key]]                   # a raw temporal key, tried when no derived key fits
//! tk = "32 or 64 hex chars" # CCMP-128/GCMP-128, or GCMP-256/CCMP-256/TKIP
//! bssid = "aa:bb:cc:dd:ee:ff" # optional
//! sta = "11:22:33:44:55:66"   # optional
//!
//! wireshark_keys = "/path/to/80211_keys" # Wireshark's key file, imported as it is
//!
//! [[tplink_account]]          # tried on KLAP handshakes (TCP 80)
//! username = "me@example.com"
//! password = "…"
//! # or: auth_hash = "hex"     # 16 bytes (KLAP v1) or 32 bytes (v2)
//!
//! [[meross_device]]           # checks Meross signatures (POST /config, TCP 80)
//! key = "…"                   # the account's user key
//! name = "kitchen plug"       # optional: the label events show
//! # or, for one account:
//! [meross]
//! key = "…"
//!
//! [[ewelink_device]]          # Sonoff/eWeLink LAN mode (TCP 8081, mDNS TXT)
//! id = "1000a1b2c3"           # the device id (TXT `id`, HTTP `deviceid`)
//! devicekey = "6c1e8a42-…"    # the device's key from the eWeLink cloud
//!
//! [[tuya_device]]             # Tuya local protocol (TCP 6668)
//! id = "bf0123456789abcdefgh"   # the device id (gwId / devId)
//! local_key = "0123456789abcdef" # 16 characters, as tinytuya's wizard prints it
//! ip = "192.168.1.50"            # optional; else learned from discovery
//! version = "3.3"                # optional ("3.1" … "3.5"); else detected
//! ```
//!
//! Parse errors are reported by line and column with the parser's message only:
//! the offending source line is never echoed, since it may hold a secret.

use serde::Deserialize;
use zeroize::Zeroizing;

use crate::wire::MacAddr;
use crate::wpa::handshake::{MAX_MSK_LEN, Msk, NetworkSecret, Secret};
use crate::wpa::keys::{Passphrase, Pmk, PmkAny, VarKey};

/// Key entries accepted from one configuration (networks, raw keys and an
/// imported Wireshark file together): Wireshark's own limit
/// (`DOT11DECRYPT_MAX_KEYS_NR`).
pub const MAX_KEYS: usize = 64;
/// Largest Wireshark key file read.
pub const MAX_WIRESHARK_KEYS_FILE: u64 = 1 << 20;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub network: Vec<NetworkEntry>,
    /// `plugsniff daemon`: where to capture.
    #[serde(default)]
    pub capture: Option<CaptureSection>,
    /// `plugsniff daemon`: where events and decrypted traffic go.
    #[serde(default)]
    pub output: Option<OutputSection>,
    /// `plugsniff daemon`: process settings.
    #[serde(default)]
    pub daemon: Option<DaemonSection>,
    #[serde(default)]
    pub tplink_account: Vec<AccountEntry>,
    /// Meross user keys, one per device or account.
    #[serde(default)]
    pub meross_device: Vec<MerossEntry>,
    /// A single Meross user key (one account for every device).
    #[serde(default)]
    pub meross: Option<MerossEntry>,
    /// eWeLink (Sonoff LAN mode) devices and their keys.
    #[serde(default)]
    pub ewelink_device: Vec<EwelinkEntry>,
    #[serde(default)]
    pub tuya_device: Vec<TuyaDeviceEntry>,
    /// Raw temporal keys.
    #[serde(default)]
    pub key: Vec<KeyEntry>,
    /// Wireshark's `80211_keys` file, imported as it is.
    pub wireshark_keys: Option<String>,
}

/// A `[[key]]` entry: a raw temporal key, optionally for one BSSID/station.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyEntry {
    tk: Zeroizing<String>,
    bssid: Option<String>,
    sta: Option<String>,
}

/// An eWeLink device and its key.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EwelinkEntry {
    id: String,
    devicekey: Zeroizing<String>,
}

/// Longest eWeLink device id accepted (real ids are 10 hex digits).
pub const MAX_EWELINK_ID_LEN: usize = 32;
/// Longest devicekey accepted (real keys are 36-character UUIDs).
pub const MAX_EWELINK_KEY_LEN: usize = 128;

/// A Meross user key (`[[meross_device]]` or `[meross]`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MerossEntry {
    key: Option<Zeroizing<String>>,
    /// A label for events and logs (never the key).
    name: Option<String>,
}

/// `[capture]`: the interface a daemon reads.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct CaptureSection {
    /// Monitor-mode interface (`mon0`), or `en0` with `monitor = true`.
    pub interface: String,
    #[serde(default)]
    pub monitor: bool,
    /// BPF filter.
    pub filter: Option<String>,
    /// Decrypt workers, 1..=256 (default: one per core for a live source;
    /// for a file, one per core but one, at least 1).
    pub workers: Option<usize>,
    /// libpcap kernel buffer, MiB, 1..=2047 (default 32).
    pub buffer_mb: Option<i32>,
}

/// `[output]`: the sinks.
#[derive(Deserialize, Debug, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct OutputSection {
    /// Readable lines on standard output (journald picks them up).
    #[serde(default)]
    pub live: bool,
    /// JSON lines on standard output instead of readable ones.
    #[serde(default)]
    pub json: bool,
    /// JSON-lines event file (appended; reopened on SIGHUP).
    pub jsonl: Option<String>,
    /// Decrypted traffic as an Ethernet pcap, rotated by size.
    pub pcap: Option<String>,
    /// Rotate the pcap at this size, MiB, 0..=1048576 (default 100; 0 = never).
    pub pcap_rotate_mb: Option<u64>,
    /// Seconds between status lines on stderr, 0..=86400 (default 60; 0 = never).
    pub status_interval: Option<u64>,
    /// Show passwords found in the clear (default: masked).
    #[serde(default)]
    pub show_secrets: bool,
    /// A directory for one CSV per device (its power and relay history,
    /// `output::history_files`), written every minute and at the end.
    pub history: Option<String>,
    /// `[output.mqtt]`: events, device state, Home Assistant discovery
    /// (`cli::outputs`; `watch --config` honours it too).
    pub mqtt: Option<super::outputs::MqttSection>,
    /// `[output.metrics]`: Prometheus metrics (`cli::outputs`).
    pub metrics: Option<super::outputs::MetricsSection>,
}

/// `[daemon]`.
#[derive(Deserialize, Debug, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct DaemonSection {
    /// Drop privileges to this user once the capture is open (Linux).
    pub user: Option<String>,
    /// Confine filesystem access to the output directories (Landlock; default true).
    pub sandbox: Option<bool>,
}

/// A TP-Link cloud account (the credentials the plugs' KLAP uses).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountEntry {
    username: Option<Zeroizing<String>>,
    password: Option<Zeroizing<String>>,
    auth_hash: Option<Zeroizing<String>>,
}

/// A Tuya device's local key (the key tinytuya's wizard fetches from the
/// Tuya cloud).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TuyaDeviceEntry {
    id: Option<String>,
    local_key: Option<Zeroizing<String>>,
    ip: Option<String>,
    version: Option<TuyaVersionField>,
}

/// `version = "3.3"` or `version = 3.3`.
#[derive(Deserialize)]
#[serde(untagged)]
enum TuyaVersionField {
    Text(String),
    Number(f64),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkEntry {
    pub ssid: Option<String>,
    passphrase: Option<Zeroizing<String>>,
    psk: Option<Zeroizing<String>>,
    pmk: Option<Zeroizing<String>>,
    msk: Option<Zeroizing<String>>,
    pmkid: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {msg}")]
    Read { path: String, msg: String },
    #[error("{path}: line {line}, column {col}: {msg}")]
    Syntax {
        path: String,
        line: usize,
        col: usize,
        msg: String,
    },
    #[error("{path}: tplink_account #{index}: {msg}")]
    Account {
        path: String,
        index: usize,
        msg: &'static str,
    },
    #[error("{path}: {section}: {msg}")]
    Meross {
        path: String,
        section: String,
        msg: &'static str,
    },
    #[error("{path}: ewelink_device #{index}: {msg}")]
    Ewelink {
        path: String,
        index: usize,
        msg: &'static str,
    },
    #[error("{path}: tuya_device #{index}: {msg}")]
    TuyaDevice {
        path: String,
        index: usize,
        msg: &'static str,
    },
    #[error("{path}: network #{index}: {msg}")]
    Network {
        path: String,
        index: usize,
        msg: &'static str,
    },
    #[error("{path}: key #{index}: {msg}")]
    Key {
        path: String,
        index: usize,
        msg: &'static str,
    },
    #[error("{path}: line {line}: {msg}")]
    WiresharkKeys {
        path: String,
        line: usize,
        msg: &'static str,
    },
    #[error("{path}: more than {MAX_KEYS} keys")]
    TooMany { path: String },
    /// A number out of its range (`cli::bounds`).
    #[error("{path}: {key}: {msg}")]
    Bound {
        path: String,
        key: &'static str,
        msg: String,
    },
}

impl ConfigFile {
    pub fn load(path: &str) -> Result<ConfigFile, ConfigError> {
        let text =
            Zeroizing::new(
                std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
                    path: path.into(),
                    msg: e.kind().to_string(),
                })?,
            );
        Self::parse(path, &text)
    }

    pub fn parse(path: &str, text: &str) -> Result<ConfigFile, ConfigError> {
        let c = toml::from_str::<ConfigFile>(text).map_err(|e| {
            let (line, col) = e.span().map_or((0, 0), |s| line_col(text, s.start));
            ConfigError::Syntax {
                path: path.into(),
                line,
                col,
                msg: e.message().to_string(),
            }
        })?;
        c.check_bounds(path)?;
        Ok(c)
    }

    /// Every number against its range in [`super::bounds`] (the same as the
    /// command-line options').
    fn check_bounds(&self, path: &str) -> Result<(), ConfigError> {
        use super::bounds::{self, in_range};
        let bound = |key: &'static str, r: Result<(), String>| {
            r.map_err(|msg| ConfigError::Bound {
                path: path.into(),
                key,
                msg,
            })
        };
        if let Some(c) = &self.capture {
            if let Some(w) = c.workers {
                bound("[capture] workers", in_range(w as u64, &bounds::WORKERS))?;
            }
            if let Some(b) = c.buffer_mb {
                bound(
                    "[capture] buffer_mb",
                    in_range(i64::from(b), &bounds::BUFFER_MB),
                )?;
            }
        }
        if let Some(o) = &self.output {
            if let Some(m) = o.pcap_rotate_mb {
                bound(
                    "[output] pcap_rotate_mb",
                    in_range(m, &bounds::ROTATE_MB).map_err(|e| format!("{e}; 0 never rotates")),
                )?;
            }
            if let Some(s) = o.status_interval {
                bound(
                    "[output] status_interval",
                    in_range(s, &bounds::STATUS_INTERVAL)
                        .map_err(|e| format!("{e}; 0 turns it off")),
                )?;
            }
        }
        Ok(())
    }

    /// The Wireshark key file the config names, relative to the config's
    /// directory.
    pub fn wireshark_keys_path(&self, path: &str) -> Option<std::path::PathBuf> {
        self.wireshark_keys.as_ref().map(|w| {
            std::path::Path::new(path)
                .parent()
                .unwrap_or(std::path::Path::new(""))
                .join(w)
        })
    }

    /// The network secrets and raw keys, validated, with the Wireshark key
    /// file the configuration names (relative to the configuration's directory).
    pub fn networks(&self, path: &str) -> Result<Vec<NetworkSecret>, ConfigError> {
        let mut out = Vec::new();
        for (i, n) in self.network.iter().enumerate() {
            let err = |msg| ConfigError::Network {
                path: path.into(),
                index: i + 1,
                msg,
            };
            let given = [
                n.passphrase.is_some(),
                n.psk.is_some(),
                n.pmk.is_some(),
                n.msk.is_some(),
            ]
            .iter()
            .filter(|b| **b)
            .count();
            if given != 1 {
                return Err(err("give exactly one of passphrase, psk, pmk, msk"));
            }
            let pmkid = match &n.pmkid {
                Some(h) => Some(
                    parse_hex_array::<16>(h).ok_or_else(|| err("pmkid must be 32 hex digits"))?,
                ),
                None => None,
            };
            if pmkid.is_some() && n.pmk.is_none() && n.psk.is_none() {
                return Err(err("pmkid goes with a pmk"));
            }
            let secret =
                if let Some(p) = &n.passphrase {
                    check_passphrase(p).map_err(err)?;
                    Secret::Passphrase(Passphrase::new(p.to_string()))
                } else if let Some(m) = &n.msk {
                    Secret::Msk(parse_msk_hex(m).ok_or_else(|| {
                        err("msk must be 128 to 256 hex digits (64 to 128 bytes)")
                    })?)
                } else {
                    let hexs = n.psk.as_ref().or(n.pmk.as_ref()).expect("one is set");
                    pmk_secret(hexs, pmkid).ok_or_else(|| {
                        err("psk/pmk must be 64 hex digits (96 or 128 for 48- and 64-byte PMKs)")
                    })?
                };
            if n.ssid
                .as_ref()
                .is_some_and(|s| s.is_empty() || s.len() > 32)
            {
                return Err(err("ssid must be 1 to 32 bytes"));
            }
            out.push(NetworkSecret {
                ssid: n.ssid.as_ref().map(|s| s.as_bytes().to_vec()),
                secret,
            });
        }
        for (i, k) in self.key.iter().enumerate() {
            let err = |msg| ConfigError::Key {
                path: path.into(),
                index: i + 1,
                msg,
            };
            let tk = parse_tk_hex(&k.tk).ok_or_else(|| err("tk must be 32 or 64 hex digits"))?;
            let mac = |s: &Option<String>| match s {
                Some(s) => MacAddr::parse_any(s)
                    .map(Some)
                    .ok_or_else(|| err("bssid/sta must be a MAC address like aa:bb:cc:dd:ee:ff")),
                None => Ok(None),
            };
            out.push(NetworkSecret {
                ssid: None,
                secret: Secret::Tk {
                    tk,
                    bssid: mac(&k.bssid)?,
                    sta: mac(&k.sta)?,
                },
            });
        }
        if let Some(p) = self.wireshark_keys_path(path) {
            out.extend(load_wireshark_keys(&p.to_string_lossy())?);
        }
        if out.len() > MAX_KEYS {
            return Err(ConfigError::TooMany { path: path.into() });
        }
        Ok(out)
    }
}

impl ConfigFile {
    /// The KLAP credentials, validated, labelled `account #N` (the label is
    /// all that events and logs ever show).
    /// Every decoder's keys from this file (`[[tplink_account]]`,
    /// `[[meross_device]]`/`[meross]`, …) and `--show-secrets`.
    pub fn decoder_config(
        &self,
        path: &str,
        show_secrets: bool,
    ) -> Result<crate::decoders::DecoderConfig, ConfigError> {
        Ok(crate::decoders::DecoderConfig {
            show_secrets,
            klap_accounts: self.klap_accounts(path)?,
            meross_keys: self.meross_keys(path)?,
            ewelink_devices: self.ewelink_devices(path)?,
            tuya_devices: self.tuya_devices(path)?,
        })
    }

    pub fn klap_accounts(
        &self,
        path: &str,
    ) -> Result<Vec<crate::decoders::klap::session::KlapAccount>, ConfigError> {
        use crate::decoders::klap::crypto::AuthHash;
        use crate::decoders::klap::session::KlapAccount;
        let mut out = Vec::new();
        for (i, a) in self.tplink_account.iter().enumerate() {
            let err = |msg| ConfigError::Account {
                path: path.into(),
                index: i + 1,
                msg,
            };
            let label = format!("account #{}", i + 1);
            match (&a.username, &a.password, &a.auth_hash) {
                (Some(u), Some(p), None) => out.push(KlapAccount::from_password(label, u, p)),
                (None, None, Some(h)) => {
                    let b = Zeroizing::new(
                        hex::decode(h.trim())
                            .map_err(|_| err("auth_hash must be hex (32 or 64 digits)"))?,
                    );
                    let h = AuthHash::from_bytes(&b)
                        .ok_or_else(|| err("auth_hash must be 16 (v1) or 32 (v2) bytes"))?;
                    out.push(KlapAccount::from_hash(label, h));
                }
                _ => return Err(err("give username and password, or auth_hash alone")),
            }
        }
        Ok(out)
    }
}

impl ConfigFile {
    /// The Meross user keys, validated: `[meross]` first (labelled
    /// `meross key`), then each `[[meross_device]]` (its `name`, or
    /// `meross_device #N`). A key is 1 to
    /// [`crate::decoders::meross::MAX_KEY_LEN`] printable ASCII characters.
    pub fn meross_keys(
        &self,
        path: &str,
    ) -> Result<Vec<crate::decoders::meross::MerossKey>, ConfigError> {
        use crate::decoders::meross::{MAX_KEY_LEN, MerossKey};
        let mut out = Vec::new();
        let entries = self
            .meross
            .iter()
            .map(|e| (e, "meross".to_owned(), "meross key".to_owned()))
            .chain(self.meross_device.iter().enumerate().map(|(i, e)| {
                (
                    e,
                    format!("meross_device #{}", i + 1),
                    format!("meross_device #{}", i + 1),
                )
            }));
        for (e, section, default_label) in entries {
            let err = |msg| ConfigError::Meross {
                path: path.into(),
                section: section.clone(),
                msg,
            };
            let key = e.key.as_ref().ok_or_else(|| err("key is required"))?;
            if key.is_empty()
                || key.len() > MAX_KEY_LEN
                || !key.bytes().all(|b| (0x21..0x7f).contains(&b))
            {
                return Err(err("key must be 1 to 256 printable ASCII characters"));
            }
            let label = match &e.name {
                Some(n) if !n.is_empty() => n.chars().take(64).collect(),
                _ => default_label,
            };
            out.push(MerossKey::new(label, key));
        }
        Ok(out)
    }
}

impl ConfigFile {
    /// The eWeLink device keys, validated, labelled `ewelink_device #N`
    /// (the label is all that events and logs ever show).
    pub fn ewelink_devices(
        &self,
        path: &str,
    ) -> Result<Vec<crate::decoders::ewelink::crypto::EwelinkDevice>, ConfigError> {
        use crate::decoders::ewelink::crypto::{DeviceKey, EwelinkDevice};
        let mut out = Vec::new();
        for (i, d) in self.ewelink_device.iter().enumerate() {
            let err = |msg| ConfigError::Ewelink {
                path: path.into(),
                index: i + 1,
                msg,
            };
            let id = d.id.trim();
            if id.is_empty()
                || id.len() > MAX_EWELINK_ID_LEN
                || !id.bytes().all(|b| b.is_ascii_alphanumeric())
            {
                return Err(err("id must be 1 to 32 letters or digits"));
            }
            let key = d.devicekey.trim();
            if key.is_empty()
                || key.len() > MAX_EWELINK_KEY_LEN
                || key.chars().any(char::is_control)
            {
                return Err(err("devicekey must be 1 to 128 printable characters"));
            }
            out.push(EwelinkDevice {
                id: id.to_owned(),
                label: format!("ewelink_device #{}", i + 1),
                key: DeviceKey::from_devicekey(key),
            });
        }
        Ok(out)
    }
}

impl ConfigFile {
    /// The Tuya local keys, validated, labelled `tuya_device #N` (the label
    /// is all that events and logs ever show of a key).
    pub fn tuya_devices(
        &self,
        path: &str,
    ) -> Result<Vec<crate::decoders::tuya::keys::TuyaDeviceKey>, ConfigError> {
        use crate::decoders::tuya::codec::Version;
        use crate::decoders::tuya::crypto::TuyaKey;
        use crate::decoders::tuya::dps::clean_id;
        use crate::decoders::tuya::keys::{MAX_CONFIGURED_DEVICES, TuyaDeviceKey};
        if self.tuya_device.len() > MAX_CONFIGURED_DEVICES {
            return Err(ConfigError::TuyaDevice {
                path: path.into(),
                index: MAX_CONFIGURED_DEVICES + 1,
                msg: "too many [[tuya_device]] entries (at most 4096)",
            });
        }
        let mut out = Vec::new();
        for (i, d) in self.tuya_device.iter().enumerate() {
            let err = |msg| ConfigError::TuyaDevice {
                path: path.into(),
                index: i + 1,
                msg,
            };
            let id =
                d.id.as_deref()
                    .and_then(clean_id)
                    .ok_or_else(|| err("id must be 1 to 64 printable characters without spaces"))?;
            let local_key = d
                .local_key
                .as_deref()
                .and_then(|k| TuyaKey::from_local_key_str(k))
                .ok_or_else(|| {
                    err("local_key must be 16 characters (as tinytuya's wizard prints it)")
                })?;
            let ip = match &d.ip {
                None => None,
                Some(s) => Some(
                    s.trim()
                        .parse()
                        .map_err(|_| err("ip must be an IPv4 or IPv6 address"))?,
                ),
            };
            let version = match &d.version {
                None => None,
                Some(TuyaVersionField::Text(s)) => Some(Version::parse(s)),
                Some(TuyaVersionField::Number(n)) => Some(
                    Version::ALL
                        .into_iter()
                        .find(|v| v.as_str().parse::<f64>() == Ok(*n)),
                ),
            }
            .map(|v| v.ok_or_else(|| err("version must be 3.1, 3.2, 3.3, 3.4 or 3.5")))
            .transpose()?;
            out.push(TuyaDeviceKey {
                id,
                local_key,
                ip,
                version,
                label: format!("tuya_device #{}", i + 1),
            });
        }
        Ok(out)
    }
}

/// IEEE 802.11-2020 J.4.1: 8 to 63 ASCII characters (32..=126).
pub fn check_passphrase(p: &str) -> Result<(), &'static str> {
    if !(8..=63).contains(&p.len()) {
        return Err("passphrase must be 8 to 63 characters");
    }
    if !p.bytes().all(|b| (32..=126).contains(&b)) {
        return Err("passphrase must be printable ASCII");
    }
    Ok(())
}

pub fn parse_pmk_hex(s: &str) -> Option<Pmk> {
    let s = s.trim();
    let mut b = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(s, &mut b[..]).ok()?;
    Some(Pmk::new(*b))
}

/// A PMK of 32, 48 or 64 bytes in hex, with an optional PMKID: `Pmk` for the
/// plain 32-byte form, `NamedPmk` otherwise.
pub fn pmk_secret(s: &str, pmkid: Option<[u8; 16]>) -> Option<Secret> {
    let s = s.trim();
    if s.len() == 64 && pmkid.is_none() {
        return parse_pmk_hex(s).map(Secret::Pmk);
    }
    if !matches!(s.len(), 64 | 96 | 128) {
        return None;
    }
    let b = Zeroizing::new(hex::decode(s).ok()?);
    Some(Secret::NamedPmk {
        pmk: PmkAny::from_slice(&b)?,
        pmkid,
    })
}

/// An EAP MSK: 64 to 128 bytes in hex.
pub fn parse_msk_hex(s: &str) -> Option<Msk> {
    let s = s.trim();
    if !(128..=2 * MAX_MSK_LEN).contains(&s.len()) {
        return None;
    }
    let b = Zeroizing::new(hex::decode(s).ok()?);
    Msk::from_slice(&b)
}

/// A raw TK: 16 or 32 bytes in hex.
pub fn parse_tk_hex(s: &str) -> Option<VarKey<32>> {
    let s = s.trim();
    if !matches!(s.len(), 32 | 64) {
        return None;
    }
    let b = Zeroizing::new(hex::decode(s).ok()?);
    VarKey::from_slice(&b)
}

fn parse_hex_array<const N: usize>(s: &str) -> Option<[u8; N]> {
    let mut b = [0u8; N];
    hex::decode_to_slice(s.trim(), &mut b).ok()?;
    Some(b)
}

/// Reads Wireshark's `80211_keys` file (see [`parse_wireshark_keys`]).
pub fn load_wireshark_keys(path: &str) -> Result<Vec<NetworkSecret>, ConfigError> {
    use std::io::Read;
    let read_err = |e: std::io::Error| ConfigError::Read {
        path: path.into(),
        msg: e.kind().to_string(),
    };
    let f = std::fs::File::open(path).map_err(read_err)?;
    let mut text = Zeroizing::new(String::new());
    f.take(MAX_WIRESHARK_KEYS_FILE + 1)
        .read_to_string(&mut text)
        .map_err(read_err)?;
    if text.len() as u64 > MAX_WIRESHARK_KEYS_FILE {
        return Err(ConfigError::WiresharkKeys {
            path: path.into(),
            line: 0,
            msg: "file larger than 1 MiB",
        });
    }
    parse_wireshark_keys(&text).map_err(|(line, msg)| ConfigError::WiresharkKeys {
        path: path.into(),
        line,
        msg,
    })
}

/// Parses Wireshark's `80211_keys` UAT file as Wireshark writes it: one
/// `"type","key"` record per line, `#` comments, `\xHH` escapes inside
/// quotes (Wireshark `epan/uat.c`). Types (`parse_key_string` in
/// `epan/crypt/dot11decrypt.c`):
/// - `wpa-pwd`: `passphrase[:ssid]`, percent-decoded (`%3a` for `:`,
///   `%25` for `%`); without an SSID it applies to any network;
/// - `wpa-psk`: a 32- or 48-byte PMK in hex (SAE, OWE, 802.1X PMKs too);
/// - `tk`: a 16- or 32-byte temporal key in hex;
/// - `msk`: an EAP MSK in hex, 64 to 128 bytes;
/// - `wep`: skipped (WEP is not decrypted).
///
/// Errors give the line number and a fixed message, never the line.
pub fn parse_wireshark_keys(text: &str) -> Result<Vec<NetworkSecret>, (usize, &'static str)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if out.len() >= MAX_KEYS {
            return Err((n, "more than 64 keys"));
        }
        let fields = uat_fields(line).ok_or((n, "not a \"type\",\"key\" record"))?;
        let [kind, key, ..] = fields.as_slice() else {
            return Err((n, "not a \"type\",\"key\" record"));
        };
        let secret = match kind.as_str() {
            "wep" => continue,
            "wpa-pwd" => {
                let (pass, ssid) = match key.split_once(':') {
                    Some((p, s)) => (p, Some(s)),
                    None => (key.as_str(), None),
                };
                let pass = Zeroizing::new(
                    percent_decode(pass).ok_or((n, "bad percent escape in the passphrase"))?,
                );
                let pass =
                    String::from_utf8(pass.to_vec()).map_err(|_| (n, "passphrase is not UTF-8"))?;
                let pass = Zeroizing::new(pass);
                check_passphrase(&pass).map_err(|m| (n, m))?;
                let ssid = match ssid {
                    Some(s) => {
                        let s = percent_decode(s).ok_or((n, "bad percent escape in the SSID"))?;
                        if s.is_empty() || s.len() > 32 {
                            return Err((n, "SSID must be 1 to 32 bytes"));
                        }
                        Some(s)
                    }
                    None => None,
                };
                out.push(NetworkSecret {
                    ssid,
                    secret: Secret::Passphrase(Passphrase::new(pass.to_string())),
                });
                continue;
            }
            "wpa-psk" => pmk_secret(key, None).ok_or((n, "wpa-psk must be 64 or 96 hex digits"))?,
            "tk" => Secret::Tk {
                tk: parse_tk_hex(key).ok_or((n, "tk must be 32 or 64 hex digits"))?,
                bssid: None,
                sta: None,
            },
            "msk" => {
                Secret::Msk(parse_msk_hex(key).ok_or((n, "msk must be 128 to 256 hex digits"))?)
            }
            _ => return Err((n, "unknown key type (wep, wpa-pwd, wpa-psk, tk, msk)")),
        };
        out.push(NetworkSecret { ssid: None, secret });
    }
    Ok(out)
}

/// The quoted, comma-separated fields of a UAT record, `\xHH` unescaped.
fn uat_fields(line: &str) -> Option<Zeroizing<Vec<String>>> {
    let mut fields = Zeroizing::new(Vec::new());
    let mut rest = line;
    loop {
        rest = rest.trim_start();
        let body = rest.strip_prefix('"')?;
        let end = body.find('"')?;
        let raw = &body[..end];
        let mut v = Vec::with_capacity(raw.len());
        let b = raw.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') {
                let h = raw.get(i + 2..i + 4)?;
                v.push(u8::from_str_radix(h, 16).ok()?);
                i += 4;
            } else {
                v.push(b[i]);
                i += 1;
            }
        }
        fields.push(String::from_utf8(v).ok()?);
        rest = body[end + 1..].trim_start();
        if rest.is_empty() {
            return Some(fields);
        }
        rest = rest.strip_prefix(',')?;
    }
}

/// Percent-decoding as Wireshark's `uri_str_to_bytes`: `%HH` is a byte.
fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}

fn line_col(text: &str, off: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..off.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_form() {
        let c = ConfigFile::parse(
            "t",
            "[[network]]\nssid = \"linksys\"\npassphrase = \"dictionary\"\n[[network]]\npmk = \"a5001e18e0b3f792278825bc3abff72d7021d7c157b600470ef730e2490835d4\"\n",
        )
        .unwrap();
        let n = c.networks("t").unwrap();
        assert_eq!(n.len(), 2);
        assert_eq!(n[0].ssid.as_deref(), Some(&b"linksys"[..]));
        assert!(matches!(n[1].secret, Secret::Pmk(_)));
    }

    #[test]
    fn tplink_accounts() {
        let c = ConfigFile::parse(
            "t",
            "[[tplink_account]]\nusername = \"a@b.c\"\npassword = \"pw-secret\"\n[[tplink_account]]\nauth_hash = \"00112233445566778899aabbccddeeff\"\n",
        )
        .unwrap();
        let a = c.klap_accounts("t").unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(a[1].label, "account #2");
        assert!(!format!("{a:?}").contains("pw-secret"));
        for bad in [
            "[[tplink_account]]\nusername = \"a\"\n",
            "[[tplink_account]]\nauth_hash = \"zz-secret\"\n",
            "[[tplink_account]]\nauth_hash = \"0011\"\n",
        ] {
            let e = ConfigFile::parse("t", bad)
                .unwrap()
                .klap_accounts("t")
                .err()
                .unwrap()
                .to_string();
            assert!(
                !e.contains("secret") && e.contains("tplink_account #1"),
                "{e}"
            );
        }
    }

    #[test]
    fn meross_keys() {
        let c = ConfigFile::parse(
            "t",
            "[meross]\nkey = \"k-secret-1\"\n[[meross_device]]\nkey = \"k-secret-2\"\nname = \"kitchen\"\n[[meross_device]]\nkey = \"k3\"\n",
        )
        .unwrap();
        let k = c.meross_keys("t").unwrap();
        let labels: Vec<&str> = k.iter().map(|k| k.label.as_str()).collect();
        assert_eq!(labels, ["meross key", "kitchen", "meross_device #2"]);
        assert!(!format!("{k:?}").contains("k-secret"));
        // The key signs as meross-iot does.
        assert_eq!(
            k[2].sign("id", "1"),
            crate::decoders::meross::MerossKey::new("x", "k3").sign("id", "1")
        );
        for bad in [
            "[[meross_device]]\nname = \"a\"\n",
            "[[meross_device]]\nkey = \"\"\n",
            "[[meross_device]]\nkey = \"has a space-secret\"\n",
        ] {
            let e = ConfigFile::parse("t", bad)
                .unwrap()
                .meross_keys("t")
                .err()
                .unwrap()
                .to_string();
            assert!(
                !e.contains("secret") && e.contains("meross_device #1"),
                "{e}"
            );
        }
        assert!(ConfigFile::parse("t", "[meross]\nkey = \"a\"\nbogus = 1\n").is_err());
        assert!(
            ConfigFile::parse("t", "")
                .unwrap()
                .meross_keys("t")
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn ewelink_devices() {
        let c = ConfigFile::parse(
            "t",
            "[[ewelink_device]]\nid = \"1000a1b2c3\"\ndevicekey = \"6c1e8a42-93b5-4f27-a0d1-5e7c2b9f4d30\"\n",
        )
        .unwrap();
        let d = c.ewelink_devices("t").unwrap();
        assert_eq!(
            (d[0].id.as_str(), d[0].label.as_str()),
            ("1000a1b2c3", "ewelink_device #1")
        );
        assert!(!format!("{d:?}").contains("6c1e8a42"));
        for bad in [
            "[[ewelink_device]]\nid = \"\"\ndevicekey = \"k-secret\"\n",
            "[[ewelink_device]]\nid = \"10 00\"\ndevicekey = \"k-secret\"\n",
            "[[ewelink_device]]\nid = \"1000\"\ndevicekey = \"\"\n",
        ] {
            let e = ConfigFile::parse("t", bad)
                .unwrap()
                .ewelink_devices("t")
                .err()
                .unwrap()
                .to_string();
            assert!(
                !e.contains("secret") && e.contains("ewelink_device #1"),
                "{e}"
            );
        }
        let e = ConfigFile::parse("t", "[[ewelink_device]]\nid = \"1\"\n")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("devicekey"), "{e}");
        let e = ConfigFile::parse(
            "t",
            "[[ewelink_device]]\nid = \"1\"\ndevicekey = \"k-secret\"\nextra = 1\n",
        )
        .err()
        .unwrap()
        .to_string();
        assert!(!e.contains("k-secret"), "{e}");
    }

    #[test]
    fn tuya_devices() {
        let c = ConfigFile::parse(
            "t",
            "[[tuya_device]]\nid = \"bf0123456789abcdefgh\"\nlocal_key = \"0123456789abcdef\"\nip = \"192.168.1.50\"\nversion = \"3.3\"\n[[tuya_device]]\nid = \"bf01\"\nlocal_key = \"fedcba9876543210\"\nversion = 3.5\n",
        )
        .unwrap();
        let d = c.tuya_devices("t").unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].id, "bf0123456789abcdefgh");
        assert_eq!(d[0].ip, Some("192.168.1.50".parse().unwrap()));
        assert_eq!(
            d[0].version,
            Some(crate::decoders::tuya::codec::Version::V33)
        );
        assert_eq!(d[0].local_key.as_bytes(), b"0123456789abcdef");
        assert_eq!(
            d[1].version,
            Some(crate::decoders::tuya::codec::Version::V35)
        );
        assert_eq!(d[1].label, "tuya_device #2");
        assert!(!format!("{d:?}").contains("fedcba9876543210"));
        for bad in [
            "[[tuya_device]]\nid = \"x\"\nlocal_key = \"short-secret\"\n",
            "[[tuya_device]]\nid = \"x\"\nlocal_key = \"a-17-char-secret!\"\n",
            "[[tuya_device]]\nlocal_key = \"0123456789secret\"\n",
            "[[tuya_device]]\nid = \"has space\"\nlocal_key = \"0123456789secret\"\n",
            "[[tuya_device]]\nid = \"x\"\nlocal_key = \"0123456789secret\"\nip = \"nope\"\n",
            "[[tuya_device]]\nid = \"x\"\nlocal_key = \"0123456789secret\"\nversion = \"3.6\"\n",
            "[[tuya_device]]\nid = \"x\"\nlocal_key = \"0123456789secret\"\nversion = 3.25\n",
        ] {
            let e = ConfigFile::parse("t", bad)
                .unwrap()
                .tuya_devices("t")
                .err()
                .unwrap_or_else(|| panic!("accepted: {bad}"))
                .to_string();
            assert!(!e.contains("secret") && e.contains("tuya_device #1"), "{e}");
        }
        let e = ConfigFile::parse(
            "t",
            "[[tuya_device]]\nid = \"x\"\nlocal_key = \"0123456789secret\"\nkey = 1\n",
        )
        .err()
        .unwrap()
        .to_string();
        assert!(!e.contains("0123456789secret"), "{e}");
    }

    #[test]
    fn new_key_forms() {
        let c = ConfigFile::parse(
            "t",
            &format!(
                "[[network]]\npmk = \"{}\"\npmkid = \"{}\"\n[[network]]\nmsk = \"{}\"\n\
                 [[key]]\ntk = \"{}\"\nbssid = \"02:00:00:00:00:01\"\n[[key]]\ntk = \"{}\"\n",
                "ab".repeat(48),
                "cd".repeat(16),
                "ef".repeat(64),
                "01".repeat(16),
                "02".repeat(32)
            ),
        )
        .unwrap();
        let n = c.networks("t").unwrap();
        assert_eq!(n.len(), 4);
        assert!(
            matches!(&n[0].secret, Secret::NamedPmk { pmk, pmkid: Some(_) } if pmk.len() == 48)
        );
        assert!(matches!(&n[1].secret, Secret::Msk(m) if m.len() == 64));
        assert!(
            matches!(&n[2].secret, Secret::Tk { tk, bssid: Some(_), sta: None } if tk.len() == 16)
        );
        assert!(matches!(&n[3].secret, Secret::Tk { tk, .. } if tk.len() == 32));
        for bad in [
            format!("[[network]]\npmk = \"{}\"\n", "ab".repeat(40)),
            format!("[[network]]\nmsk = \"{}\"\n", "ab".repeat(32)),
            format!(
                "[[network]]\npassphrase = \"12345678\"\npmkid = \"{}\"\n",
                "cd".repeat(16)
            ),
            format!("[[key]]\ntk = \"{}\"\n", "ab".repeat(24)),
            format!("[[key]]\ntk = \"{}\"\nsta = \"02:00\"\n", "ab".repeat(16)),
        ] {
            let e = ConfigFile::parse("t", &bad)
                .unwrap()
                .networks("t")
                .err()
                .unwrap()
                .to_string();
            assert!(!e.contains("abab") && !e.contains("cdcd"), "{e}");
        }
    }

    /// The formats of Wireshark's `80211_keys` file (PROTOCOLS.md §2.1),
    /// as Wireshark writes them.
    #[test]
    fn wireshark_keys_file() {
        let text = format!(
            "# comment\n\n\"wep\",\"0102030405\"\n\"wpa-pwd\",\"bo%24%24password:Neheb\"\n\
             \"wpa-pwd\",\"pass%3aword\"\n\"wpa-psk\",\"{}\"\n\"wpa-psk\",\"{}\"\n\
             \"tk\",\"{}\"\n\"msk\",\"{}\"\n\"wpa-pwd\",\"abcdefgh\\x3ab%3ac%25x\"\n",
            "11".repeat(32),
            "22".repeat(48),
            "33".repeat(16),
            "44".repeat(64)
        );
        let k = parse_wireshark_keys(&text).unwrap();
        assert_eq!(k.len(), 7, "wep skipped");
        match &k[0].secret {
            Secret::Passphrase(p) => assert_eq!(p.expose(), "bo$$password"),
            _ => panic!(),
        }
        assert_eq!(k[0].ssid.as_deref(), Some(&b"Neheb"[..]));
        match &k[1].secret {
            Secret::Passphrase(p) => assert_eq!(p.expose(), "pass:word"),
            _ => panic!(),
        }
        assert_eq!(k[1].ssid, None, "no SSID: any network");
        assert!(matches!(&k[2].secret, Secret::Pmk(_)));
        assert!(matches!(&k[3].secret, Secret::NamedPmk { pmk, .. } if pmk.len() == 48));
        assert!(matches!(&k[4].secret, Secret::Tk { tk, .. } if tk.len() == 16));
        assert!(matches!(&k[5].secret, Secret::Msk(m) if m.len() == 64));
        // `\x3a` (UAT escape) is a ':' that separates; `%3a` is one that does not.
        match &k[6].secret {
            Secret::Passphrase(p) => assert_eq!(p.expose(), "abcdefgh"),
            _ => panic!(),
        }
        assert_eq!(k[6].ssid.as_deref(), Some(&b"b:c%x"[..]));
        for (bad, line) in [
            ("\"wpa-pwd\",\"short\"\n", 1),
            ("# x\n\"wpa-psk\",\"1234\"\n", 2),
            ("\"nope\",\"x\"\n", 1),
            ("wpa-pwd,secretsecret\n", 1),
            ("\"wpa-pwd\",\"secretsecret%zz\"\n", 1),
            ("\"wpa-pwd\",\"secretsecret:%\"\n", 1),
        ] {
            let (l, m) = parse_wireshark_keys(bad).err().unwrap();
            assert_eq!(l, line, "{bad}");
            assert!(!m.contains("secret"), "{m}");
        }
        assert!(
            parse_wireshark_keys(&"\"tk\",\"00112233445566778899aabbccddeeff\"\n".repeat(65))
                .is_err()
        );
    }

    #[test]
    fn errors_never_echo_secrets() {
        let bad = "[[network]]\npassphrase = \"hunter2hunter2\"\npsk = \"zz\"\nbogus = 1\n";
        let e = ConfigFile::parse("t", bad).err().unwrap().to_string();
        assert!(!e.contains("hunter2"), "{e}");
        let c = ConfigFile::parse(
            "t",
            "[[network]]\npassphrase = \"hunter2hunter2\"\npsk = \"00\"\n",
        )
        .unwrap();
        let e = c.networks("t").err().unwrap().to_string();
        assert!(!e.contains("hunter2"), "{e}");
        let c = ConfigFile::parse("t", "[[network]]\npmk = \"secretsecret\"\n").unwrap();
        let e = c.networks("t").err().unwrap().to_string();
        assert!(!e.contains("secretsecret"), "{e}");
        let e = ConfigFile::parse("t", "[[network]]\npassphrase = \"unterminated-secret\n")
            .err()
            .unwrap()
            .to_string();
        assert!(!e.contains("unterminated-secret"), "{e}");
    }
}
