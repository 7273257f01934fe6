//! The AKM suites: what each one means for key derivation (IEEE 802.11-2020
//! Table 9-151 and Table 12-11; hostapd `src/common/wpa_common.c`
//! `wpa_kck_len`, `wpa_kek_len`, `wpa_mic_len`, `wpa_eapol_key_mic`,
//! `wpa_pmk_to_ptk` for the AKMs whose lengths follow the PMK).
//!
//! | AKM | name | key source | PTK KDF | EAPOL MIC | KCK/KEK/MIC bytes | FT |
//! |---|---|---|---|---|---|---|
//! | 1 | 802.1X | EAP (PMK = MSK[0..32]) | PRF-SHA1 | by descriptor version | 16/16/16 | |
//! | 2 | PSK | passphrase | PRF-SHA1 | by descriptor version | 16/16/16 | |
//! | 3 | FT-802.1X | EAP (XXKey = MSK[32..64]) | KDF-SHA256 | AES-CMAC | 16/16/16 | yes |
//! | 4 | FT-PSK | passphrase (XXKey = PSK) | KDF-SHA256 | AES-CMAC | 16/16/16 | yes |
//! | 5 | 802.1X-SHA256 | EAP | KDF-SHA256 | AES-CMAC | 16/16/16 | |
//! | 6 | PSK-SHA256 | passphrase | KDF-SHA256 | AES-CMAC | 16/16/16 | |
//! | 8 | SAE | SAE exchange | KDF-SHA256 | AES-CMAC | 16/16/16 | |
//! | 9 | FT-SAE | SAE exchange (XXKey = PMK) | KDF-SHA256 | AES-CMAC | 16/16/16 | yes |
//! | 11 | 802.1X Suite B | EAP | KDF-SHA256 | HMAC-SHA256-128 | 16/16/16 | |
//! | 12 | 802.1X Suite B 192 | EAP (PMK = MSK[0..48]) | KDF-SHA384 | HMAC-SHA384-192 | 24/32/24 | |
//! | 13 | FT-802.1X-SHA384 | EAP (XXKey = MSK[0..48]) | KDF-SHA384 | HMAC-SHA384-192 | 24/32/24 | yes |
//! | 18 | OWE | Diffie-Hellman | KDF-SHA256/384/512 by PMK length | HMAC of the same hash | PMK/2, 16 or 32, PMK/2 | |
//! | 24 | SAE-EXT-KEY | SAE exchange | as OWE | as OWE | as OWE | |
//!
//! WPA1 (OUI 00-50-F2) PSK and 802.1X behave as AKMs 2 and 1.

use super::kdf::KdfHash;
use super::mic::MicAlgo;

/// Where the PMK of an AKM comes from: what the user must supply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeySource {
    /// The passphrase (or the PSK) maps to the PMK.
    Psk,
    /// SAE (WPA3-Personal): the PMK comes from the SAE exchange; the
    /// passphrase alone cannot give it to a passive observer.
    Sae,
    /// OWE (Enhanced Open): the PMK comes from a Diffie-Hellman exchange.
    Owe,
    /// 802.1X (WPA-Enterprise): the PMK is derived from the EAP method's MSK.
    Eap,
}

impl KeySource {
    /// Name in words.
    pub fn name(self) -> &'static str {
        match self {
            KeySource::Psk => "PSK",
            KeySource::Sae => "SAE",
            KeySource::Owe => "OWE",
            KeySource::Eap => "802.1X",
        }
    }
}

/// What an AKM (with a PMK of a given length) asks of key derivation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AkmParams {
    /// The suite selector, e.g. `0x000F_AC08`.
    pub akm: u32,
    /// Hash of the PTK KDF (SHA-1 = PRF-SHA1), of the PMKID and of FT names.
    pub hash: KdfHash,
    /// EAPOL-Key MIC when the key descriptor version is 0 or 3.
    pub mic: MicAlgo,
    pub kck_len: usize,
    pub kek_len: usize,
    /// Fast BSS transition: the PTK comes from PMK-R1 (12.7.1.7).
    pub ft: bool,
    pub source: KeySource,
}

impl AkmParams {
    /// Length of the EAPOL-Key MIC field.
    pub fn mic_len(&self) -> usize {
        self.mic.mic_len()
    }
}

/// The PMK lengths an AKM accepts, as [`params`] takes them.
pub fn pmk_lens(akm: u32) -> &'static [usize] {
    match akm {
        0x000F_AC0C | 0x000F_AC0D => &[48],
        0x000F_AC12 | 0x000F_AC18 => &[32, 48, 64],
        _ => &[32],
    }
}

/// The parameters of `akm` for a PMK of `pmk_len` bytes; `None` for AKMs this
/// crate does not derive keys for (TDLS, FILS, DPP, vendor suites…) or a PMK
/// length the AKM does not use.
pub fn params(akm: u32, pmk_len: usize) -> Option<AkmParams> {
    use KdfHash::*;
    use KeySource::*;
    let p = |hash, mic, kck_len, kek_len, ft, source| AkmParams {
        akm,
        hash,
        mic,
        kck_len,
        kek_len,
        ft,
        source,
    };
    let cmac = MicAlgo::AesCmac;
    let r = match akm {
        0x000F_AC01 | 0x0050_F201 => p(Sha1, MicAlgo::HmacSha1_128, 16, 16, false, Eap),
        0x000F_AC02 | 0x0050_F202 => p(Sha1, MicAlgo::HmacSha1_128, 16, 16, false, Psk),
        0x000F_AC03 => p(Sha256, cmac, 16, 16, true, Eap),
        0x000F_AC04 => p(Sha256, cmac, 16, 16, true, Psk),
        0x000F_AC05 => p(Sha256, cmac, 16, 16, false, Eap),
        0x000F_AC06 => p(Sha256, cmac, 16, 16, false, Psk),
        0x000F_AC08 => p(Sha256, cmac, 16, 16, false, Sae),
        0x000F_AC09 => p(Sha256, cmac, 16, 16, true, Sae),
        0x000F_AC0B => p(Sha256, MicAlgo::HmacSha256_128, 16, 16, false, Eap),
        0x000F_AC0C => p(Sha384, MicAlgo::HmacSha384_192, 24, 32, false, Eap),
        0x000F_AC0D => p(Sha384, MicAlgo::HmacSha384_192, 24, 32, true, Eap),
        0x000F_AC12 | 0x000F_AC18 => {
            let source = if akm == 0x000F_AC12 { Owe } else { Sae };
            match pmk_len {
                32 => p(Sha256, MicAlgo::HmacSha256_128, 16, 16, false, source),
                48 => p(Sha384, MicAlgo::HmacSha384_192, 24, 32, false, source),
                64 => p(Sha512, MicAlgo::HmacSha512_256, 32, 32, false, source),
                _ => return None,
            }
        }
        _ => return None,
    };
    pmk_lens(akm).contains(&pmk_len).then_some(r)
}

/// The key source of an AKM, whatever the PMK length.
pub fn source(akm: u32) -> Option<KeySource> {
    pmk_lens(akm)
        .first()
        .and_then(|&l| params(akm, l))
        .map(|p| p.source)
}

/// The AKM's name (Table 9-151), for diagnoses.
pub fn name(akm: u32) -> &'static str {
    match akm {
        0x000F_AC01 => "802.1X",
        0x000F_AC02 => "PSK",
        0x000F_AC03 => "FT-802.1X",
        0x000F_AC04 => "FT-PSK",
        0x000F_AC05 => "802.1X-SHA256",
        0x000F_AC06 => "PSK-SHA256",
        0x000F_AC07 => "TDLS",
        0x000F_AC08 => "SAE",
        0x000F_AC09 => "FT-SAE",
        0x000F_AC0B => "802.1X Suite B",
        0x000F_AC0C => "802.1X Suite B 192",
        0x000F_AC0D => "FT-802.1X-SHA384",
        0x000F_AC0E..=0x000F_AC11 => "FILS",
        0x000F_AC12 => "OWE",
        0x000F_AC13 => "FT-PSK-SHA384",
        0x000F_AC14 => "PSK-SHA384",
        0x000F_AC18 => "SAE-EXT-KEY",
        0x000F_AC19 => "FT-SAE-EXT-KEY",
        0x0050_F201 => "WPA 802.1X",
        0x0050_F202 => "WPA PSK",
        _ => "unknown AKM",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let sae = params(0x000F_AC08, 32).unwrap();
        assert_eq!(
            (sae.source, sae.mic, sae.ft),
            (KeySource::Sae, MicAlgo::AesCmac, false)
        );
        let b192 = params(0x000F_AC0C, 48).unwrap();
        assert_eq!((b192.kck_len, b192.kek_len, b192.mic_len()), (24, 32, 24));
        assert_eq!(b192.hash, KdfHash::Sha384);
        assert!(
            params(0x000F_AC0C, 32).is_none(),
            "Suite B 192 needs a 48-byte PMK"
        );
        assert!(params(0x000F_AC02, 48).is_none());
        let owe = params(0x000F_AC12, 48).unwrap();
        assert_eq!((owe.kck_len, owe.kek_len, owe.mic_len()), (24, 32, 24));
        assert_eq!(
            params(0x000F_AC12, 32).unwrap().mic,
            MicAlgo::HmacSha256_128
        );
        assert!(params(0x000F_AC04, 32).unwrap().ft);
        assert!(params(0x000F_AC0E, 32).is_none());
        assert_eq!(source(0x000F_AC12), Some(KeySource::Owe));
        assert_eq!(source(0x000F_AC01), Some(KeySource::Eap));
        assert_eq!(name(0x000F_AC08), "SAE");
        // The MIC algorithm agrees with the descriptor-version-0 table of `mic`.
        for akm in [3u32, 4, 5, 6, 8, 9, 11, 12, 13] {
            let a = 0x000F_AC00 | akm;
            let p = params(a, pmk_lens(a)[0]).unwrap();
            assert_eq!(MicAlgo::for_akm(a, 0), Some(p.mic), "AKM {akm}");
        }
    }
}
