//! WPA/WPA2 key management: PMK/PTK derivation, EAPOL MIC checks, GTK unwrap,
//! handshake tracking per (BSSID, STA), and the keystore the decryptors read.

pub mod gtk;
pub mod handshake;
pub mod kdf;
pub mod keys;
pub mod keystore;
pub mod mic;
