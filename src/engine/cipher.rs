//! One MPDU through the cipher of a key: the dispatch shared by the engine
//! and the pipeline's workers ([`super::worker`]). Pure: key + bytes in,
//! packet number and plaintext out.

use crate::crypto::{ccmp, gcmp, tkip};
use crate::wire::MacAddr;
use crate::wpa::keys::{Cipher, TemporalKey};

/// Why an MPDU did not decrypt under one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CipherError {
    /// CCMP/GCMP MIC mismatch: wrong key, or an altered frame.
    Mic,
    /// TKIP ICV mismatch.
    Icv,
    /// Too short for the cipher's header and trailer, or no Ext IV.
    Malformed,
}

/// Decrypts `frame` (MAC header of `hdr_len` bytes, no radiotap padding) with
/// `tk`, sent by `ta`, into `out`; returns the packet number (TKIP: TSC). For
/// TKIP the Michael MIC is still in `out` (checked per MSDU by the engine).
pub fn decrypt(
    tk: &TemporalKey,
    ta: MacAddr,
    frame: &[u8],
    hdr_len: usize,
    out: &mut Vec<u8>,
) -> Result<u64, CipherError> {
    let ccmp_err = |e| match e {
        ccmp::CcmpError::MicFailure => CipherError::Mic,
        ccmp::CcmpError::TooShort | ccmp::CcmpError::NoExtIv => CipherError::Malformed,
    };
    match tk.cipher {
        Cipher::Ccmp => ccmp::decrypt(tk.key16(), frame, hdr_len, out)
            .map(|h| h.pn)
            .map_err(ccmp_err),
        Cipher::Ccmp256 => ccmp::decrypt_256(tk.key32(), frame, hdr_len, out)
            .map(|h| h.pn)
            .map_err(ccmp_err),
        Cipher::Gcmp | Cipher::Gcmp256 => gcmp::decrypt(tk.as_slice(), frame, hdr_len, out)
            .map(|h| h.pn)
            .map_err(ccmp_err),
        Cipher::Tkip => tkip::decrypt_mpdu(tk.key16(), ta.0, frame, hdr_len, out)
            .map(|h| h.tsc)
            .map_err(|e| match e {
                tkip::TkipError::IcvFailure => CipherError::Icv,
                _ => CipherError::Malformed,
            }),
    }
}

/// Length of the cipher's trailer after the ciphertext (MIC; TKIP: ICV), which
/// the plaintext excludes.
pub fn trailer_len(c: Cipher) -> usize {
    match c {
        Cipher::Ccmp => ccmp::CCMP_MIC_LEN,
        Cipher::Ccmp256 => ccmp::CCMP256_MIC_LEN,
        Cipher::Gcmp | Cipher::Gcmp256 => gcmp::GCMP_MIC_LEN,
        Cipher::Tkip => 4,
    }
}
