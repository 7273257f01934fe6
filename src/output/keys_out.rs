//! Exports derived temporal keys in Wireshark's `80211_keys` UAT format
//! (one `"tk","HEX"` line per key; lines starting with `#` are comments), so
//! Wireshark can decrypt the original capture without the passphrase, and
//! plugsniff can read it back (`--wireshark-keys`). Wireshark takes 16-byte
//! keys as CCMP-128/GCMP-128 and 32-byte ones as GCMP-256/CCMP-256; it has no
//! `tk` form for TKIP, whose keys are written all the same.
//!
//! This is the only place key bytes are formatted, and only because the user
//! asked for `--export-keys`. The file is written through [`super::dest`]:
//! as `NAME.partial` created 0600 and renamed over `NAME`, so it is 0600 even
//! when it replaces a world-readable file, and a failed write leaves nothing.

use std::io::{self, Write};
use std::path::Path;

use super::dest::{self, OutFile, Role, Target};
use crate::wpa::keystore::KeyStore;

pub fn write_wireshark_keys(path: &Path, keys: &KeyStore) -> io::Result<usize> {
    write_wireshark_keys_to(&dest::resolve_io(path, Role::Replace)?, keys)
}

/// Writes the key file to a checked target ([`dest::check`]).
pub fn write_wireshark_keys_to(t: &Target, keys: &KeyStore) -> io::Result<usize> {
    let mut f = io::BufWriter::new(OutFile::create(t)?);
    writeln!(
        f,
        "# Wireshark 80211_keys: temporal keys derived by plugsniff (keep this file private)"
    )?;
    let mut n = 0;
    for k in keys.history() {
        let who = match k.sta {
            Some(sta) => format!("pairwise {} <-> {}", k.bssid, sta),
            None => format!("group {} key id {}", k.bssid, k.key_id),
        };
        writeln!(f, "# {} {who}", k.tk.cipher.name())?;
        writeln!(f, "\"tk\",\"{}\"", k.tk.to_hex_secret())?;
        n += 1;
    }
    f.into_inner().map_err(|e| e.into_error())?.commit()?;
    Ok(n)
}
