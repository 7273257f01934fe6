//! The TOML configuration file.
//!
//! ```toml
//! [[network]]
//! ssid = "linksys"          # optional when only one network
//! passphrase = "dictionary" # or: psk = "64 hex chars" / pmk = "64 hex chars"
//!
//! [[tplink_account]]          # tried on KLAP handshakes (TCP 80)
//! username = "me@example.com"
//! password = "…"
//! # or: auth_hash = "hex"     # 16 bytes (KLAP v1) or 32 bytes (v2)
//! ```
//!
//! Parse errors are reported by line and column with the parser's message only:
//! the offending source line is never echoed, since it may hold a secret.

use serde::Deserialize;
use zeroize::Zeroizing;

use crate::wpa::handshake::{NetworkSecret, Secret};
use crate::wpa::keys::{Passphrase, Pmk};

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
    /// Decrypt workers (default: number of cores).
    pub workers: Option<usize>,
    /// libpcap kernel buffer, MiB (default 32).
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
    /// Rotate the pcap at this size, MiB (default 100).
    pub pcap_rotate_mb: Option<u64>,
    /// Seconds between status lines on stderr (default 60; 0 = never).
    pub status_interval: Option<u64>,
    /// Show passwords found in the clear (default: masked).
    #[serde(default)]
    pub show_secrets: bool,
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkEntry {
    pub ssid: Option<String>,
    passphrase: Option<Zeroizing<String>>,
    psk: Option<Zeroizing<String>>,
    pmk: Option<Zeroizing<String>>,
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
    #[error("{path}: network #{index}: {msg}")]
    Network {
        path: String,
        index: usize,
        msg: &'static str,
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
        toml::from_str::<ConfigFile>(text).map_err(|e| {
            let (line, col) = e.span().map_or((0, 0), |s| line_col(text, s.start));
            ConfigError::Syntax {
                path: path.into(),
                line,
                col,
                msg: e.message().to_string(),
            }
        })
    }

    /// The network secrets, validated.
    pub fn networks(&self, path: &str) -> Result<Vec<NetworkSecret>, ConfigError> {
        let mut out = Vec::new();
        for (i, n) in self.network.iter().enumerate() {
            let err = |msg| ConfigError::Network {
                path: path.into(),
                index: i + 1,
                msg,
            };
            let given = [n.passphrase.is_some(), n.psk.is_some(), n.pmk.is_some()]
                .iter()
                .filter(|b| **b)
                .count();
            if given != 1 {
                return Err(err("give exactly one of passphrase, psk, pmk"));
            }
            let secret = if let Some(p) = &n.passphrase {
                check_passphrase(p).map_err(err)?;
                Secret::Passphrase(Passphrase::new(p.to_string()))
            } else {
                let hexs = n.psk.as_ref().or(n.pmk.as_ref()).expect("one is set");
                Secret::Pmk(
                    parse_pmk_hex(hexs).ok_or_else(|| err("psk/pmk must be 64 hex digits"))?,
                )
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
        Ok(out)
    }
}

impl ConfigFile {
    /// The KLAP credentials, validated, labelled `account #N` (the label is
    /// all that events and logs ever show).
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
