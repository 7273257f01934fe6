//! Gathers network secrets from, in order: the config file (with the
//! Wireshark key file it names), `--wireshark-keys`, `--passphrase` (with a
//! warning), `PLUGSNIFF_PASSPHRASE` / `PLUGSNIFF_PMK`, and an interactive
//! prompt on a terminal. Secrets never reach logs or errors.

use std::io::IsTerminal;

use zeroize::Zeroizing;

use super::config::{self, ConfigFile};
use super::{CliError, KeyArgs};
use crate::wpa::handshake::{NetworkSecret, Secret};
use crate::wpa::keys::Passphrase;

pub const ENV_PASSPHRASE: &str = "PLUGSNIFF_PASSPHRASE";
pub const ENV_PMK: &str = "PLUGSNIFF_PMK";

/// The files the keys come from (the config file, the Wireshark key files),
/// for [`crate::output::dest::check`]: no output may be one of them. A config
/// that does not parse names no key file here; [`gather`] reports it.
pub fn input_files(a: &KeyArgs) -> Vec<(&'static str, std::path::PathBuf)> {
    let mut v = Vec::new();
    if let Some(c) = &a.config {
        v.push(("--config", std::path::PathBuf::from(c)));
        if let Some(w) = ConfigFile::load(c)
            .ok()
            .and_then(|f| f.wireshark_keys_path(c))
        {
            v.push(("wireshark_keys (in the config)", w));
        }
    }
    if let Some(w) = &a.wireshark_keys {
        v.push(("--wireshark-keys", std::path::PathBuf::from(w)));
    }
    v
}

pub fn gather(a: &KeyArgs) -> Result<Vec<NetworkSecret>, CliError> {
    let mut out = Vec::new();
    if let Some(path) = &a.config {
        let c = ConfigFile::load(path)?;
        out.extend(c.networks(path)?);
    }
    if let Some(path) = &a.wireshark_keys {
        out.extend(config::load_wireshark_keys(path)?);
    }
    let ssid = a.ssid.as_ref().map(|s| s.as_bytes().to_vec());
    if let Some(p) = &a.passphrase {
        // Once, always (whatever the log level): the secret is already out.
        eprintln!(
            "plugsniff: warning: --passphrase is visible to other users in the process \
             list and shell history; prefer --config FILE or {ENV_PASSPHRASE}"
        );
        out.push(passphrase_secret(ssid.clone(), Zeroizing::new(p.clone()))?);
    }
    if let Ok(p) = std::env::var(ENV_PASSPHRASE) {
        out.push(passphrase_secret(ssid.clone(), Zeroizing::new(p))?);
    }
    if let Ok(h) = std::env::var(ENV_PMK) {
        let h = Zeroizing::new(h);
        let secret = config::pmk_secret(&h, None).ok_or_else(|| {
            CliError::Usage(format!(
                "{ENV_PMK} must be 64 hex digits (96 or 128 for 48- and 64-byte PMKs)"
            ))
        })?;
        out.push(NetworkSecret {
            ssid: ssid.clone(),
            secret,
        });
    }
    if out.is_empty() && !a.no_prompt && std::io::stdin().is_terminal() {
        let prompt = match &a.ssid {
            Some(s) => format!("Passphrase for {s:?}: "),
            None => "Passphrase (SSID learned from beacons): ".to_string(),
        };
        let p = Zeroizing::new(
            rpassword::prompt_password(prompt)
                .map_err(|e| CliError::Usage(format!("cannot read passphrase: {e}")))?,
        );
        out.push(passphrase_secret(ssid, p)?);
    }
    Ok(out)
}

fn passphrase_secret(
    ssid: Option<Vec<u8>>,
    p: Zeroizing<String>,
) -> Result<NetworkSecret, CliError> {
    config::check_passphrase(&p).map_err(|m| CliError::Usage(m.to_string()))?;
    Ok(NetworkSecret {
        ssid,
        secret: Secret::Passphrase(Passphrase::new(p.to_string())),
    })
}
