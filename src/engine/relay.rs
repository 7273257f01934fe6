//! The AP's relayed copies: a station's frame for another station of the same
//! BSS crosses the air twice, ToDS to the AP and FromDS from it, each time
//! under the receiving link's key (IEEE 802.11-2020 11.3: the AP's
//! distribution system service). Both copies decrypt to the same MSDU; the
//! engine runs this filter once per MSDU and marks the copy
//! ([`super::Msdu::relayed`]), so the watcher and the decrypted-pcap writers
//! hand it on once.
//!
//! Bounded: at most [`RelayFilter::CAPACITY`] recent MSDUs, each forgotten
//! after [`RelayFilter::WINDOW`]. `O(1)` per MSDU: an MSDU ToDS is
//! remembered only when its destination is a wireless station (one the AP
//! has sent something to: its handshake at least), an MSDU FromDS is looked
//! up only when its source sent something ToDS within the window (most
//! traffic, to and from the wired side, is neither), and then in a hash index; the
//! key hashes the addresses, the length and the first 64 and last 16 bytes
//! of the MSDU (its IP and transport headers: identification, checksum,
//! sequence numbers), not the whole payload.

use std::collections::VecDeque;
use std::time::Duration;

use super::sink::Msdu;
use crate::FastMap;
use crate::wire::MacAddr;

/// MSDUs a station sent to the AP (ToDS) recently, to recognise the copy the
/// AP relays to another station of the same BSS (FromDS): the same packet
/// crossing the air twice, each time under a different key.
pub struct RelayFilter {
    /// Keys in arrival order, for expiry.
    recent: VecDeque<(u64, MacAddr, Duration)>,
    /// Entries of `recent` per key not yet matched by a relayed copy.
    live: FastMap<u64, u32>,
    /// Entries of `recent` per key already matched (always the oldest ones
    /// of their key: a match takes the oldest, expiry pops the oldest).
    consumed: FastMap<u64, u32>,
    /// Entries of `recent` per source address.
    senders: FastMap<MacAddr, u32>,
    /// Destinations of MSDUs FromDS: the wireless stations (at most
    /// [`RelayFilter::MAX_RECEIVERS`]; cleared and relearned when full).
    receivers: std::collections::HashSet<MacAddr, ahash::RandomState>,
    hasher: ahash::RandomState,
}

impl Default for RelayFilter {
    fn default() -> Self {
        RelayFilter {
            recent: VecDeque::new(),
            live: FastMap::default(),
            consumed: FastMap::default(),
            senders: FastMap::default(),
            receivers: Default::default(),
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

/// Decrements `m[k]`, removing the entry at zero; false when absent.
fn dec<K: std::hash::Hash + Eq>(m: &mut FastMap<K, u32>, k: &K) -> bool {
    match m.get_mut(k) {
        Some(n) if *n > 1 => {
            *n -= 1;
            true
        }
        Some(_) => {
            m.remove(k);
            true
        }
        None => false,
    }
}

impl RelayFilter {
    pub const WINDOW: Duration = Duration::from_secs(2);
    pub const CAPACITY: usize = 256;
    /// Bytes of the MSDU's start the key covers (LLC/SNAP, IP and transport headers).
    const HEAD: usize = 64;
    /// Bytes of the MSDU's end the key covers.
    const TAIL: usize = 16;
    pub const MAX_RECEIVERS: usize = 4096;

    /// 64 bits of a keyed hash (ahash) over both addresses, the length and
    /// the head and tail of the MSDU: constant work per MSDU.
    fn key(&self, m: &Msdu<'_>) -> u64 {
        let l = m.llc;
        let head = &l[..l.len().min(Self::HEAD)];
        let tail = &l[l.len().saturating_sub(Self::TAIL).max(head.len())..];
        self.hasher.hash_one((m.sa, m.da, l.len(), head, tail))
    }

    fn pop_front(&mut self) {
        if let Some((k, sa, _)) = self.recent.pop_front() {
            if !dec(&mut self.consumed, &k) {
                dec(&mut self.live, &k);
            }
            dec(&mut self.senders, &sa);
        }
    }

    /// True when `m` is the AP's relay of an MSDU already seen going ToDS.
    pub fn is_relay(&mut self, m: &Msdu<'_>) -> bool {
        let now = m.ts.since_epoch();
        while self
            .recent
            .front()
            .is_some_and(|(_, _, t)| now.saturating_sub(*t) > Self::WINDOW)
        {
            self.pop_front();
        }
        if m.to_ds && !m.from_ds {
            // A group-addressed MSDU is always relayed to the BSS; a unicast
            // one only when its destination is a station.
            if !m.da.is_group() && !self.receivers.contains(&m.da) {
                return false; // for the wired side: the AP relays nothing
            }
            if self.recent.len() >= Self::CAPACITY {
                self.pop_front();
            }
            let k = self.key(m);
            self.recent.push_back((k, m.sa, now));
            *self.live.entry(k).or_default() += 1;
            *self.senders.entry(m.sa).or_default() += 1;
            return false;
        }
        if m.from_ds && !m.to_ds && !m.da.is_group() && !self.receivers.contains(&m.da) {
            if self.receivers.len() >= Self::MAX_RECEIVERS {
                self.receivers.clear();
            }
            self.receivers.insert(m.da);
        }
        if m.from_ds && !m.to_ds && self.senders.contains_key(&m.sa) {
            let k = self.key(m);
            if dec(&mut self.live, &k) {
                *self.consumed.entry(k).or_default() += 1;
                return true;
            }
        }
        false
    }

    /// MSDUs remembered (at most [`Self::CAPACITY`]).
    pub fn len(&self) -> usize {
        self.recent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.recent.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Ts;

    fn msdu(t: i64, to_ds: bool, sa: u8, da: u8, body: &[u8]) -> Msdu<'_> {
        Msdu {
            ts: Ts::from_micros(t, 0),
            da: MacAddr([2, 0, 0, 0, 0, da]),
            sa: MacAddr([2, 0, 0, 0, 0, sa]),
            bssid: None,
            llc: body,
            decrypted: true,
            retransmit: false,
            relayed: false,
            tid: 0,
            to_ds,
            from_ds: !to_ds,
        }
    }

    /// A station's broadcast (ARP) comes back FromDS from the AP: a relay,
    /// whatever the filter saw before.
    #[test]
    fn broadcasts_are_relayed() {
        let mut f = RelayFilter::default();
        let mut b = msdu(0, true, 1, 0, b"arp who-has");
        b.da = MacAddr::BROADCAST;
        assert!(!f.is_relay(&b));
        b.to_ds = false;
        b.from_ds = true;
        assert!(f.is_relay(&b));
    }

    #[test]
    fn to_the_wired_side_nothing_is_remembered() {
        let mut f = RelayFilter::default();
        let p = [3u8; 60];
        // Station 1 to the gateway 7, which never receives from the AP.
        assert!(!f.is_relay(&msdu(0, true, 1, 7, &p)));
        assert!(f.is_empty());
    }

    /// A filter that has seen the AP send to stations 2 and 4.
    fn primed() -> RelayFilter {
        let mut f = RelayFilter::default();
        for da in [2, 4] {
            assert!(!f.is_relay(&msdu(0, false, 9, da, b"eapol")));
        }
        f
    }

    #[test]
    fn the_relayed_copy_is_recognised_once() {
        let mut f = primed();
        let p = [7u8; 300];
        assert!(!f.is_relay(&msdu(0, true, 1, 2, &p)));
        assert!(f.is_relay(&msdu(0, false, 1, 2, &p)));
        // A second copy FromDS is not a relay of the one ToDS frame.
        assert!(!f.is_relay(&msdu(0, false, 1, 2, &p)));
        // The same packet sent twice is relayed twice.
        assert!(!f.is_relay(&msdu(1, true, 1, 2, &p)));
        assert!(!f.is_relay(&msdu(1, true, 1, 2, &p)));
        assert!(f.is_relay(&msdu(1, false, 1, 2, &p)));
        assert!(f.is_relay(&msdu(1, false, 1, 2, &p)));
        assert!(!f.is_relay(&msdu(1, false, 1, 2, &p)));
    }

    #[test]
    fn other_packets_and_late_copies_are_not_relays() {
        let mut f = primed();
        let (a, mut b) = ([1u8; 100], [1u8; 100]);
        b[99] = 2; // differs in the tail only
        assert!(!f.is_relay(&msdu(0, true, 1, 2, &a)));
        assert!(!f.is_relay(&msdu(0, false, 1, 2, &b)));
        assert!(!f.is_relay(&msdu(0, false, 3, 2, &a)), "another source");
        assert!(
            !f.is_relay(&msdu(0, false, 1, 4, &a)),
            "another destination"
        );
        // Past the window, the ToDS copy is forgotten.
        assert!(!f.is_relay(&msdu(3, false, 1, 2, &a)));
        assert!(f.is_empty());
    }

    /// Expiry of a matched entry does not forget a later live one of the
    /// same key; the memory stays bounded under a flood.
    #[test]
    fn bounded_and_exact_under_repeats() {
        let mut f = primed();
        let p = [9u8; 40];
        assert!(!f.is_relay(&msdu(0, true, 1, 2, &p)));
        assert!(f.is_relay(&msdu(0, false, 1, 2, &p)));
        assert!(!f.is_relay(&msdu(2, true, 1, 2, &p)));
        // t = 2.5 s: the first entry (matched) expires, the second lives.
        let mut late = msdu(2, false, 1, 2, &p);
        late.ts = Ts::from_micros(2, 500_000);
        assert!(f.is_relay(&late));
        for i in 0..10_000u32 {
            let b = i.to_le_bytes();
            f.is_relay(&msdu(10, true, (i % 200) as u8, 2, &b));
        }
        assert_eq!(f.len(), RelayFilter::CAPACITY);
        assert!(f.live.len() <= RelayFilter::CAPACITY);
        assert!(f.senders.len() <= RelayFilter::CAPACITY);
    }
}
