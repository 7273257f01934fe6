//! Application-layer decoders: byte streams and datagrams in, typed findings out.
//!
//! Each decoder is split like Suricata's `rust/src/<proto>/`: a parser that
//! frames bytes, and interpretation on top. Decoders never print and never do
//! I/O; turning findings into output lines is `output/`'s job.
//!
//! Every decoder holds bounded state per direction and accepts stream gaps
//! (from [`crate::flows::tcp`]) by resynchronising or stopping, never by
//! guessing across the hole.

pub mod tls_meta;
pub mod tplink;
