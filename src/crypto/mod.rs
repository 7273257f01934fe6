//! Frame ciphers: decryption (and, for `synth/`, encryption) as pure functions
//! of a key and the frame bytes. No state: replay windows, key lookup and
//! reassembly are the engine's.
//!
//! - [`ccmp`]: CCMP-128 and CCMP-256 (IEEE 802.11-2020 12.5.3), one frame at a time.
//! - [`gcmp`]: GCMP-128 and GCMP-256 (12.5.5).
//! - [`bip`]: BIP-CMAC-128/256 and BIP-GMAC-128/256 (12.5.4), the MIC of
//!   group-addressed robust management frames.
//! - [`ccmp_mb`]: the multi-buffer CCMP-128 kernel the pipeline's workers use
//!   (the crate's only `unsafe` besides the libpcap loader).
//! - [`tkip`]: TKIP (12.5.2) with the Michael MIC.

pub mod bip;
pub mod ccmp;
pub mod ccmp_mb;
pub mod gcmp;
pub mod tkip;
