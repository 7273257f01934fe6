//! Outputs: the decrypted pcap, the Wireshark key file, the run summary.
//!
//! Only this module formats what the engine produced for people or programs.

pub mod keys_out;
pub mod pcap_out;
pub mod summary;
