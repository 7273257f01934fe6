//! The keystore: every confirmed temporal key, looked up by the decryptors.
//!
//! Pairwise keys are kept per (BSSID, STA), group keys per (BSSID, key ID), each
//! list newest first. A rekey installs a new key in front; older keys stay (up
//! to [`MAX_KEYS_PER_SLOT`]) so frames sent late under the previous key still
//! decrypt. Lookups return `Arc<KeyEntry>`: a key can be handed to a worker
//! thread while the keystore goes on changing.
//!
//! Bounds: [`MAX_PAIRWISE_SLOTS`] stations and [`MAX_GROUP_SLOTS`] group slots;
//! past them the oldest slot is evicted and counted (a flood of fake
//! handshakes cannot grow memory, since every key here was confirmed by a MIC
//! computed from the user's own secret anyway).

use std::sync::Arc;

use super::keys::{TemporalKey, VarKey};
use crate::crypto::bip::BipAlgo;
use crate::wire::MacAddr;

/// Keys remembered per station or group key ID (current + older ones).
pub const MAX_KEYS_PER_SLOT: usize = 4;
/// Stations with pairwise keys.
pub const MAX_PAIRWISE_SLOTS: usize = 16_384;
/// (BSSID, key ID) slots with group keys.
pub const MAX_GROUP_SLOTS: usize = 4_096;

/// One installed temporal key.
#[derive(Debug)]
pub struct KeyEntry {
    /// Unique per installed key: replay windows and statistics are keyed by it.
    pub serial: u64,
    pub tk: TemporalKey,
    pub bssid: MacAddr,
    /// The station for a pairwise key, `None` for a group key.
    pub sta: Option<MacAddr>,
    /// Key ID: 0 for pairwise keys (no extended key ID), 0–3 for group keys.
    pub key_id: u8,
}

impl KeyEntry {
    pub fn is_group(&self) -> bool {
        self.sta.is_none()
    }
}

/// An integrity group key (IGTK, IEEE 802.11-2020 12.7.1.5) for BIP, with the
/// highest IPN accepted under it (the replay counter, 12.5.4.4).
#[derive(Debug, Clone)]
pub struct IgtkEntry {
    pub algo: BipAlgo,
    pub key: VarKey<32>,
    /// The highest IPN accepted (or announced by the KDE, minus one).
    pub ipn: u64,
}

/// All confirmed keys.
#[derive(Default)]
pub struct KeyStore {
    pairwise: crate::FastMap<(MacAddr, MacAddr), Slot>,
    group: crate::FastMap<(MacAddr, u8), Slot>,
    /// IGTKs per (BSSID, key ID 4 or 5), at most [`MAX_GROUP_SLOTS`].
    igtk: crate::FastMap<(MacAddr, u16), IgtkEntry>,
    next_serial: u64,
    /// Every key ever installed, in order, for `--export-keys` (bounded like the slots).
    history: Vec<Arc<KeyEntry>>,
    pub evicted_slots: u64,
    /// Keys installed again while already in their slot (a retransmitted M3
    /// or group message), since the last [`KeyStore::take_reinstalled`];
    /// at most [`MAX_RECENT_REINSTALLS`].
    reinstalled: Vec<Arc<KeyEntry>>,
}

/// Reinstalled keys remembered until taken (the engine takes them after
/// every EAPOL frame; a tracker used alone never grows past this).
pub const MAX_RECENT_REINSTALLS: usize = 8;

#[derive(Default)]
struct Slot {
    keys: Vec<Arc<KeyEntry>>,
    last_install: u64,
}

const MAX_HISTORY: usize = 65_536;

impl KeyStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Installs a pairwise key for (BSSID, STA); a key equal to one already in the
    /// slot is moved to the front instead of duplicated. Returns the entry.
    pub fn install_pairwise(
        &mut self,
        bssid: MacAddr,
        sta: MacAddr,
        tk: TemporalKey,
    ) -> Arc<KeyEntry> {
        self.next_serial += 1;
        let serial = self.next_serial;
        if self.pairwise.len() >= MAX_PAIRWISE_SLOTS && !self.pairwise.contains_key(&(bssid, sta)) {
            evict_oldest(&mut self.pairwise);
            self.evicted_slots += 1;
        }
        let slot = self.pairwise.entry((bssid, sta)).or_default();
        let (e, again) = install(slot, serial, bssid, Some(sta), 0, tk);
        self.remember(&e, again);
        e
    }

    /// Installs a group key for (BSSID, key ID).
    pub fn install_group(&mut self, bssid: MacAddr, key_id: u8, tk: TemporalKey) -> Arc<KeyEntry> {
        self.next_serial += 1;
        let serial = self.next_serial;
        if self.group.len() >= MAX_GROUP_SLOTS && !self.group.contains_key(&(bssid, key_id)) {
            evict_oldest(&mut self.group);
            self.evicted_slots += 1;
        }
        let slot = self.group.entry((bssid, key_id)).or_default();
        let (e, again) = install(slot, serial, bssid, None, key_id, tk);
        self.remember(&e, again);
        e
    }

    fn remember(&mut self, e: &Arc<KeyEntry>, again: bool) {
        if again {
            if self.reinstalled.len() < MAX_RECENT_REINSTALLS {
                self.reinstalled.push(e.clone());
            }
            return;
        }
        if self.history.len() < MAX_HISTORY {
            self.history.push(e.clone());
        }
    }

    /// Pairwise keys for (BSSID, STA), newest first.
    pub fn pairwise(&self, bssid: MacAddr, sta: MacAddr) -> &[Arc<KeyEntry>] {
        self.pairwise
            .get(&(bssid, sta))
            .map_or(&[], |s| s.keys.as_slice())
    }

    /// Group keys for (BSSID, key ID), newest first.
    pub fn group(&self, bssid: MacAddr, key_id: u8) -> &[Arc<KeyEntry>] {
        self.group
            .get(&(bssid, key_id))
            .map_or(&[], |s| s.keys.as_slice())
    }

    /// True when any group key is known for the BSSID.
    pub fn has_group(&self, bssid: MacAddr) -> bool {
        (0..4).any(|id| !self.group(bssid, id).is_empty())
    }

    /// The keys installed again since the last call (see `reinstalled`).
    pub fn take_reinstalled(&mut self) -> Vec<Arc<KeyEntry>> {
        std::mem::take(&mut self.reinstalled)
    }

    /// Installs an IGTK (from an IGTK KDE or an FTE IGTK subelement): a new key
    /// starts its replay counter at the announced IPN; the same key again
    /// keeps the higher of the two.
    pub fn install_igtk(
        &mut self,
        bssid: MacAddr,
        key_id: u16,
        algo: BipAlgo,
        key: &[u8],
        ipn: u64,
    ) {
        let Some(key) = VarKey::from_slice(key) else {
            return;
        };
        if self.igtk.len() >= MAX_GROUP_SLOTS && !self.igtk.contains_key(&(bssid, key_id)) {
            // IGTKs are few (two key IDs per BSS): drop them all rather than scan.
            self.igtk.clear();
            self.evicted_slots += 1;
        }
        let start = ipn.saturating_sub(1);
        match self.igtk.get_mut(&(bssid, key_id)) {
            Some(e) if e.key == key && e.algo == algo => e.ipn = e.ipn.max(start),
            _ => {
                self.igtk.insert(
                    (bssid, key_id),
                    IgtkEntry {
                        algo,
                        key,
                        ipn: start,
                    },
                );
            }
        }
    }

    /// The IGTK for (BSSID, key ID).
    pub fn igtk(&self, bssid: MacAddr, key_id: u16) -> Option<&IgtkEntry> {
        self.igtk.get(&(bssid, key_id))
    }

    /// The IGTK for (BSSID, key ID), to advance its replay counter.
    pub fn igtk_mut(&mut self, bssid: MacAddr, key_id: u16) -> Option<&mut IgtkEntry> {
        self.igtk.get_mut(&(bssid, key_id))
    }

    /// The algorithm of any IGTK known for the BSSID.
    pub fn igtk_algo(&self, bssid: MacAddr) -> Option<BipAlgo> {
        [4u16, 5]
            .iter()
            .find_map(|id| self.igtk.get(&(bssid, *id)).map(|e| e.algo))
    }

    /// Every key installed so far, oldest first.
    pub fn history(&self) -> &[Arc<KeyEntry>] {
        &self.history
    }
}

fn install(
    slot: &mut Slot,
    serial: u64,
    bssid: MacAddr,
    sta: Option<MacAddr>,
    key_id: u8,
    tk: TemporalKey,
) -> (Arc<KeyEntry>, bool) {
    slot.last_install = serial;
    if let Some(pos) = slot.keys.iter().position(|k| k.tk == tk) {
        let e = slot.keys.remove(pos);
        slot.keys.insert(0, e.clone());
        return (e, true);
    }
    let e = Arc::new(KeyEntry {
        serial,
        tk,
        bssid,
        sta,
        key_id,
    });
    slot.keys.insert(0, e.clone());
    slot.keys.truncate(MAX_KEYS_PER_SLOT);
    (e, false)
}

fn evict_oldest<K: Copy + Eq + std::hash::Hash>(map: &mut crate::FastMap<K, Slot>) {
    if let Some(k) = map
        .iter()
        .min_by_key(|(_, s)| s.last_install)
        .map(|(k, _)| *k)
    {
        map.remove(&k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wpa::keys::Cipher;

    fn tk(b: u8) -> TemporalKey {
        TemporalKey::new(Cipher::Ccmp, &[b; 16]).unwrap()
    }

    #[test]
    fn newest_first_and_dedup() {
        let mut ks = KeyStore::new();
        let (ap, sta) = (MacAddr([1; 6]), MacAddr([2; 6]));
        ks.install_pairwise(ap, sta, tk(1));
        ks.install_pairwise(ap, sta, tk(2));
        ks.install_pairwise(ap, sta, tk(1));
        let keys = ks.pairwise(ap, sta);
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0].tk, tk(1));
        for i in 3..10 {
            ks.install_pairwise(ap, sta, tk(i));
        }
        assert_eq!(ks.pairwise(ap, sta).len(), MAX_KEYS_PER_SLOT);
        assert!(ks.pairwise(sta, ap).is_empty());
        ks.install_group(ap, 1, tk(7));
        assert!(ks.has_group(ap));
        assert!(ks.group(ap, 2).is_empty());
    }
}
