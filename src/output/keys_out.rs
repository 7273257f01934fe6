//! Exports derived temporal keys in Wireshark's `80211_keys` UAT format
//! (one `"tk","HEX"` line per key; lines starting with `#` are comments), so
//! Wireshark can decrypt the original capture without the passphrase, and
//! plugsniff can read it back (`--wireshark-keys`). Wireshark takes 16-byte
//! keys as CCMP-128/GCMP-128 and 32-byte ones as GCMP-256/CCMP-256; it has no
//! `tk` form for TKIP, whose keys are written all the same.
//!
//! This is the only place key bytes are formatted, and only because the user
//! asked for `--export-keys`. The file is created with mode 0600.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::Path;

use crate::wpa::keystore::KeyStore;

pub fn write_wireshark_keys(path: &Path, keys: &KeyStore) -> io::Result<usize> {
    let mut opts = OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = io::BufWriter::new(opts.open(path)?);
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
    f.flush()?;
    Ok(n)
}
