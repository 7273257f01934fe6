//! Outputs: the decrypted pcap, the Wireshark key file, the run summary.
//!
//! Only this module formats what the engine produced for people or programs.

pub mod event;
pub mod files;
pub mod keys_out;
pub mod live;
pub mod pcap_out;
pub mod summary;
pub mod watch_summary;
