//! WPA2/WPA3 key management: the AKM table, PMK/PTK derivation (FT included),
//! EAPOL MIC checks, GTK/IGTK unwrap, handshake tracking per (BSSID, STA), and
//! the keystore the decryptors read.

pub mod akm;
pub mod gtk;
pub mod handshake;
pub mod kdf;
pub mod keys;
pub mod keystore;
pub mod mic;
