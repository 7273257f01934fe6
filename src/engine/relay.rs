//! The AP's relayed copies: a station's frame for another station of the same
//! BSS crosses the air twice, ToDS to the AP and FromDS from it, each time
//! under the receiving link's key (IEEE 802.11-2020 11.3: the AP's
//! distribution system service). Both copies decrypt to the same MSDU; the
//! watcher and the decrypted-pcap writers hand it on once.
//!
//! Bounded: at most [`RelayFilter::CAPACITY`] recent MSDUs, each forgotten
//! after [`RelayFilter::WINDOW`]; a lookup scans them (`O(CAPACITY)`, no
//! allocation after the first frames).

use std::collections::VecDeque;
use std::time::Duration;

use super::sink::Msdu;

/// MSDUs a station sent to the AP (ToDS) recently, to recognise the copy the
/// AP relays to another station of the same BSS (FromDS): the same packet
/// crossing the air twice, each time under a different key.
pub struct RelayFilter {
    recent: VecDeque<(u64, Duration)>,
    hasher: ahash::RandomState,
}

impl Default for RelayFilter {
    fn default() -> Self {
        RelayFilter {
            recent: VecDeque::new(),
            // Fixed keys: the same capture always gives the same verdicts.
            hasher: ahash::RandomState::with_seeds(
                0x706c_7567,
                0x736e_6966,
                0x6620_7265,
                0x6c61_7973,
            ),
        }
    }
}

impl RelayFilter {
    pub const WINDOW: Duration = Duration::from_secs(2);
    pub const CAPACITY: usize = 256;

    /// 64 bits of a keyed hash over both addresses and the whole MSDU.
    /// ahash, not SipHash: this runs once per MSDU on the decrypt path.
    fn key(&self, m: &Msdu<'_>) -> u64 {
        self.hasher.hash_one((m.sa, m.da, m.llc))
    }

    /// True when `m` is the AP's relay of an MSDU already seen going ToDS.
    pub fn is_relay(&mut self, m: &Msdu<'_>) -> bool {
        let now = m.ts.since_epoch();
        while self
            .recent
            .front()
            .is_some_and(|(_, t)| now.saturating_sub(*t) > Self::WINDOW)
        {
            self.recent.pop_front();
        }
        let k = self.key(m);
        if m.to_ds && !m.from_ds {
            if self.recent.len() >= Self::CAPACITY {
                self.recent.pop_front();
            }
            self.recent.push_back((k, now));
            return false;
        }
        if m.from_ds && !m.to_ds {
            if let Some(i) = self.recent.iter().position(|(h, _)| *h == k) {
                self.recent.remove(i);
                return true;
            }
        }
        false
    }
}
