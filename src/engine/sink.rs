//! What the engine hands on: MPDUs and MSDUs, and the [`Sink`] trait the
//! outputs and the watcher implement.

use crate::wire::{MacAddr, Ts};
use crate::wpa::handshake::HsEvent;

/// One MSDU handed to the sinks (after decryption, A-MSDU split, defragmentation).
#[derive(Debug, Clone, Copy)]
pub struct Msdu<'a> {
    pub ts: Ts,
    pub da: MacAddr,
    pub sa: MacAddr,
    pub bssid: Option<MacAddr>,
    /// LLC/SNAP header onward.
    pub llc: &'a [u8],
    pub decrypted: bool,
    /// A MAC retransmission: it repeats an MSDU already handed on
    /// (802.11-2020 10.3.2.14).
    pub retransmit: bool,
    /// The AP's relay of an MSDU a station of the BSS sent it moments ago
    /// ([`super::relay::RelayFilter`]): the same packet again, under the
    /// receiving station's key. Decided once, by the engine, for every MSDU
    /// that is not a retransmission, so every consumer agrees on it.
    pub relayed: bool,
    pub tid: u8,
    /// 802.11 direction bits of the frame that carried it: a ToDS MSDU for
    /// another station of the BSS comes again FromDS when the AP relays it.
    pub to_ds: bool,
    pub from_ds: bool,
}

/// One MPDU handed to the sinks: the 802.11 frame with the Protected bit
/// cleared and the security header and MIC removed.
#[derive(Debug, Clone, Copy)]
pub struct Mpdu<'a> {
    pub ts: Ts,
    pub frame: &'a [u8],
    pub decrypted: bool,
    pub retransmit: bool,
}

/// Where the engine sends what it produces.
pub trait Sink {
    fn mpdu(&mut self, _m: &Mpdu<'_>) {}
    fn msdu(&mut self, _m: &Msdu<'_>) {}
    fn handshake(&mut self, _ts: Ts, _bssid: MacAddr, _sta: MacAddr, _ev: &HsEvent) {}
}

/// A sink that ignores everything.
pub struct NullSink;
impl Sink for NullSink {}
