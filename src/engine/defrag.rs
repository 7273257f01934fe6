//! Fragment reassembly as a receiver must do it (IEEE 802.11-2020 10.6
//! defragmentation, 12.5.3.3.2 and 12.5.5.3.2 packet numbers of fragments),
//! with the defences of the FragAttacks paper (Vanhoef, "Fragment and Forge:
//! Breaking Wi-Fi Through Frame Aggregation and Fragmentation", USENIX
//! Security 2021, §4–§6).
//!
//! Fragments arrive here decrypted and replay-checked, each with the key
//! *instance* that decrypted it ([`KeyEntry::serial`], not the key ID) and its
//! packet number. An MSDU is reassembled only when:
//! - every fragment was decrypted under the same key instance
//!   ([`Refusal::MixedKey`], CVE-2020-24587);
//! - for CCMP and GCMP, each fragment's PN is the previous one's plus one
//!   ([`Refusal::PnGap`], CVE-2020-26146; TKIP has no such rule, its Michael
//!   MIC covers the whole MSDU);
//! - plaintext and protected fragments are never joined
//!   ([`Refusal::MixedPlaintext`], CVE-2020-26147): plaintext fragments are
//!   not reassembled at all (the engine passes them per MPDU), but their
//!   first fragment is remembered so a protected continuation is refused;
//! - fragment numbers follow 0, 1, 2, … ([`Refusal::Lone`],
//!   [`Refusal::OutOfOrder`]).
//!
//! The cache of a link is flushed on (re)association, authentication,
//! deauthentication and disassociation, and when a new key is installed for it
//! ([`Defragmenter::flush_link`], [`Defragmenter::flush_group`]; the fragment
//! cache attack, CVE-2020-24586). A flushed chain leaves a small tombstone so
//! that a later fragment of it is still named for what it is (a mixed-key
//! continuation, or a lone fragment after a flush).
//!
//! # Bounds
//! At most [`MAX_FRAGMENT_CHAINS`] chains at once (the least recently extended
//! one is dropped for a new one), [`MAX_MSDU_LEN`] bytes per chain (a chain
//! that would grow past it is dropped, [`Refusal::TooLong`]) and
//! [`MAX_TOMBSTONES`] remembered flushed chains (oldest forgotten).

use std::sync::Arc;

use super::stats::DropReason;
use crate::wire::MacAddr;
use crate::wire::dot11::fc;
use crate::wpa::keys::Cipher;
use crate::wpa::keystore::KeyEntry;

/// Fragment chains being reassembled at once.
pub const MAX_FRAGMENT_CHAINS: usize = 64;
/// Largest reassembled MSDU (IEEE 802.11-2020 9.2.4.7: 2304 bytes; A-MSDUs up to 11454).
pub const MAX_MSDU_LEN: usize = 11_454 + 64;
/// Flushed chains remembered, so that a later fragment of one is named.
pub const MAX_TOMBSTONES: usize = 64;

struct FragChain {
    ta: MacAddr,
    ra: MacAddr,
    seq: u16,
    next_frag: u8,
    /// Plain 802.11 header of the first fragment (Protected cleared).
    header: Vec<u8>,
    body: Vec<u8>,
    /// `None`: a plaintext MSDU (kept only to refuse protected continuations).
    key: Option<Arc<KeyEntry>>,
    last_pn: u64,
    first_frame: u64,
    age: u64,
}

/// A chain that was flushed before it completed.
#[derive(Clone, Copy)]
struct Tombstone {
    ta: MacAddr,
    seq: u16,
    serial: Option<u64>,
    first_frame: u64,
}

/// One fragment, decrypted, as the engine hands it over.
pub struct Fragment<'a> {
    pub ta: MacAddr,
    pub ra: MacAddr,
    pub seq: u16,
    pub frag: u8,
    pub more: bool,
    /// The plain 802.11 header (Protected cleared).
    pub header: &'a [u8],
    pub body: &'a [u8],
    /// The key that decrypted it.
    pub key: Arc<KeyEntry>,
    /// Its packet number (TKIP: TSC).
    pub pn: u64,
    /// Its frame number in the capture.
    pub frame: u64,
}

/// A whole MSDU: the first fragment's header with More Fragments cleared and
/// the bodies joined.
pub struct Reassembled {
    pub header: Vec<u8>,
    pub body: Vec<u8>,
    pub key: Arc<KeyEntry>,
    pub first_frame: u64,
}

/// Why a fragment was refused. Every refusal drops the fragment; all but
/// [`Refusal::Lone`] also drop the chain it was offered to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A fragment number above 0 with no chain for its sequence number.
    /// `flushed_at` is the first frame of a chain flushed by a
    /// (re)association or rekey, when there was one.
    Lone { flushed_at: Option<u64> },
    /// The fragment number is not the one expected next.
    OutOfOrder { expected: u8, first_frame: u64 },
    /// Decrypted under another key instance than the chain's first fragment.
    MixedKey { first_frame: u64 },
    /// PN not the previous fragment's plus one.
    PnGap { prev_pn: u64, first_frame: u64 },
    /// Plaintext joined to protected fragments, or the reverse.
    MixedPlaintext { first_frame: u64 },
    /// The chain would grow past [`MAX_MSDU_LEN`].
    TooLong { first_frame: u64 },
}

impl Refusal {
    /// The drop reason the frame is counted under.
    pub fn reason(self) -> DropReason {
        match self {
            Refusal::Lone { .. } | Refusal::OutOfOrder { .. } | Refusal::TooLong { .. } => {
                DropReason::Fragment
            }
            Refusal::MixedKey { .. } => DropReason::FragmentMixedKey,
            Refusal::PnGap { .. } => DropReason::FragmentPnGap,
            Refusal::MixedPlaintext { .. } => DropReason::FragmentMixedPlaintext,
        }
    }
}

/// The fragment cache.
#[derive(Default)]
pub struct Defragmenter {
    chains: Vec<FragChain>,
    tombstones: Vec<Tombstone>,
    next_tombstone: usize,
    clock: u64,
    /// Chains dropped to make room for a new one (cap reached).
    pub evicted: u64,
    /// Chains dropped by a flush before they completed.
    pub flushed: u64,
}

/// Whether the cipher numbers fragments' PNs consecutively (CCMP, GCMP:
/// 12.5.3.3.2, 12.5.5.3.2). TKIP's Michael MIC covers the whole MSDU instead.
fn pn_consecutive(c: Cipher) -> bool {
    c != Cipher::Tkip
}

impl Defragmenter {
    fn position(&self, ta: MacAddr, seq: u16) -> Option<usize> {
        self.chains.iter().position(|c| c.ta == ta && c.seq == seq)
    }

    fn start(&mut self, c: FragChain) {
        if self.chains.len() >= MAX_FRAGMENT_CHAINS
            && let Some(old) = self
                .chains
                .iter()
                .enumerate()
                .min_by_key(|(_, c)| c.age)
                .map(|(i, _)| i)
        {
            self.chains.swap_remove(old);
            self.evicted += 1;
        }
        self.chains.push(c);
    }

    /// Takes a protected fragment: `Ok(None)` while the MSDU is incomplete,
    /// `Ok(Some)` with the last fragment, `Err` when a rule refuses it.
    pub fn push(&mut self, f: Fragment<'_>) -> Result<Option<Reassembled>, Refusal> {
        self.clock += 1;
        let pos = self.position(f.ta, f.seq);
        if f.frag == 0 {
            // A new first fragment replaces any chain of the same sequence
            // number (a retransmission's first copy was handled before).
            if let Some(p) = pos {
                self.chains.swap_remove(p);
            }
            if !f.more {
                // Fragment number 0 without More Fragments is no fragment;
                // the engine never passes one here.
                return Ok(None);
            }
            if f.body.len() > MAX_MSDU_LEN {
                return Err(Refusal::TooLong {
                    first_frame: f.frame,
                });
            }
            let c = FragChain {
                ta: f.ta,
                ra: f.ra,
                seq: f.seq,
                next_frag: 1,
                header: f.header.to_vec(),
                body: f.body.to_vec(),
                key: Some(f.key),
                last_pn: f.pn,
                first_frame: f.frame,
                age: self.clock,
            };
            self.start(c);
            return Ok(None);
        }
        let Some(p) = pos else {
            return Err(self.lone(f.ta, f.seq, Some(f.key.serial)));
        };
        let c = &mut self.chains[p];
        let first_frame = c.first_frame;
        let refusal = match &c.key {
            None => Some(Refusal::MixedPlaintext { first_frame }),
            Some(k) if k.serial != f.key.serial => Some(Refusal::MixedKey { first_frame }),
            Some(_) if c.next_frag != f.frag => Some(Refusal::OutOfOrder {
                expected: c.next_frag,
                first_frame,
            }),
            Some(k) if pn_consecutive(k.tk.cipher) && c.last_pn.checked_add(1) != Some(f.pn) => {
                Some(Refusal::PnGap {
                    prev_pn: c.last_pn,
                    first_frame,
                })
            }
            Some(_) if c.body.len() + f.body.len() > MAX_MSDU_LEN => {
                Some(Refusal::TooLong { first_frame })
            }
            Some(_) => None,
        };
        if let Some(r) = refusal {
            self.chains.swap_remove(p);
            return Err(r);
        }
        c.body.extend_from_slice(f.body);
        c.next_frag = c.next_frag.saturating_add(1);
        c.last_pn = f.pn;
        c.age = self.clock;
        if f.more {
            return Ok(None);
        }
        let mut c = self.chains.swap_remove(p);
        // The first fragment's header has fragment number 0 already.
        if let Some(b) = c.header.get_mut(1) {
            *b &= !fc::MORE_FRAGS;
        }
        let Some(key) = c.key.take() else {
            // Unreachable: a plaintext chain was refused above.
            return Err(Refusal::MixedPlaintext { first_frame });
        };
        Ok(Some(Reassembled {
            header: c.header,
            body: c.body,
            key,
            first_frame,
        }))
    }

    /// Takes a plaintext fragment (the engine passes plaintext fragments on
    /// per MPDU, never reassembled): `Err` when it belongs to a protected
    /// chain; a first fragment is remembered so that a protected continuation
    /// is refused.
    pub fn push_plaintext(
        &mut self,
        ta: MacAddr,
        ra: MacAddr,
        seq: u16,
        frag: u8,
        frame: u64,
    ) -> Result<(), Refusal> {
        self.clock += 1;
        let pos = self.position(ta, seq);
        if let Some(p) = pos {
            let c = &self.chains[p];
            if c.key.is_some() {
                let first_frame = c.first_frame;
                // The protected chain stays: the plaintext fragment is the
                // intruder.
                return Err(Refusal::MixedPlaintext { first_frame });
            }
            if frag == 0 {
                self.chains.swap_remove(p);
            } else {
                self.chains[p].age = self.clock;
                return Ok(());
            }
        }
        if frag == 0 {
            let c = FragChain {
                ta,
                ra,
                seq,
                next_frag: 1,
                header: Vec::new(),
                body: Vec::new(),
                key: None,
                last_pn: 0,
                first_frame: frame,
                age: self.clock,
            };
            self.start(c);
        }
        Ok(())
    }

    fn lone(&self, ta: MacAddr, seq: u16, serial: Option<u64>) -> Refusal {
        match self.tombstones.iter().find(|t| t.ta == ta && t.seq == seq) {
            Some(t) if t.serial.is_some() && t.serial != serial => Refusal::MixedKey {
                first_frame: t.first_frame,
            },
            Some(t) => Refusal::Lone {
                flushed_at: Some(t.first_frame),
            },
            None => Refusal::Lone { flushed_at: None },
        }
    }

    fn bury(&mut self, c: &FragChain) {
        let t = Tombstone {
            ta: c.ta,
            seq: c.seq,
            serial: c.key.as_ref().map(|k| k.serial),
            first_frame: c.first_frame,
        };
        if self.tombstones.len() < MAX_TOMBSTONES {
            self.tombstones.push(t);
        } else if let Some(slot) = self.tombstones.get_mut(self.next_tombstone) {
            *slot = t;
        }
        self.next_tombstone = (self.next_tombstone + 1) % MAX_TOMBSTONES;
    }

    fn flush_where(&mut self, pred: impl Fn(&FragChain) -> bool) {
        let mut i = 0;
        while i < self.chains.len() {
            if pred(&self.chains[i]) {
                let c = self.chains.swap_remove(i);
                self.bury(&c);
                self.flushed += 1;
            } else {
                i += 1;
            }
        }
    }

    /// Forgets the chains sent between `a` and `b`, either way: on
    /// (re)association, authentication, deauthentication, disassociation and
    /// a new pairwise key.
    pub fn flush_link(&mut self, a: MacAddr, b: MacAddr) {
        self.flush_where(|c| (c.ta == a && c.ra == b) || (c.ta == b && c.ra == a));
    }

    /// Forgets the group-addressed chains `bssid` sent: on a new group key.
    pub fn flush_group(&mut self, bssid: MacAddr) {
        self.flush_where(|c| c.ta == bssid && c.ra.is_group());
    }

    /// Chains being reassembled now.
    pub fn len(&self) -> usize {
        self.chains.len()
    }

    pub fn is_empty(&self) -> bool {
        self.chains.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wpa::keys::TemporalKey;

    fn key(serial: u64, cipher: Cipher) -> Arc<KeyEntry> {
        Arc::new(KeyEntry {
            serial,
            tk: TemporalKey::new(cipher, &[serial as u8; 32]).unwrap(),
            bssid: MacAddr([1; 6]),
            sta: Some(MacAddr([2; 6])),
            key_id: 0,
        })
    }

    const TA: MacAddr = MacAddr([2; 6]);
    const RA: MacAddr = MacAddr([1; 6]);

    fn frag<'a>(
        seq: u16,
        frag: u8,
        more: bool,
        body: &'a [u8],
        key: &Arc<KeyEntry>,
        pn: u64,
    ) -> Fragment<'a> {
        Fragment {
            ta: TA,
            ra: RA,
            seq,
            frag,
            more,
            header: &[0x88, 0x41, 0, 0],
            body,
            key: key.clone(),
            pn,
            frame: u64::from(frag) + 100 * u64::from(seq),
        }
    }

    #[test]
    fn consecutive_fragments_reassemble() {
        let k = key(1, Cipher::Ccmp);
        let mut d = Defragmenter::default();
        assert!(d.push(frag(7, 0, true, b"ab", &k, 10)).unwrap().is_none());
        assert!(d.push(frag(7, 1, true, b"cd", &k, 11)).unwrap().is_none());
        let r = d.push(frag(7, 2, false, b"ef", &k, 12)).unwrap().unwrap();
        assert_eq!(r.body, b"abcdef");
        assert_eq!(r.header[1] & fc::MORE_FRAGS, 0);
        assert_eq!(r.first_frame, 700);
        assert!(d.is_empty());
    }

    #[test]
    fn mixed_keys_are_refused_by_instance() {
        // Same key ID, same cipher, another installed instance (a rekey).
        let (k1, k2) = (key(1, Cipher::Ccmp), key(2, Cipher::Ccmp));
        let mut d = Defragmenter::default();
        d.push(frag(7, 0, true, b"ab", &k1, 0x102)).unwrap();
        let e = d.push(frag(7, 1, false, b"cd", &k2, 0x103)).err().unwrap();
        assert_eq!(e, Refusal::MixedKey { first_frame: 700 });
        assert_eq!(e.reason(), DropReason::FragmentMixedKey);
        assert!(d.is_empty(), "the chain is dropped with it");
    }

    #[test]
    fn pn_gaps_are_refused_for_ccmp_and_gcmp_not_tkip() {
        for c in [Cipher::Ccmp, Cipher::Gcmp256, Cipher::Ccmp256, Cipher::Gcmp] {
            let k = key(1, c);
            let mut d = Defragmenter::default();
            d.push(frag(7, 0, true, b"ab", &k, 0x101)).unwrap();
            let e = d.push(frag(7, 1, false, b"cd", &k, 0x103)).err().unwrap();
            assert_eq!(
                e,
                Refusal::PnGap {
                    prev_pn: 0x101,
                    first_frame: 700
                },
                "{c:?}"
            );
            assert_eq!(e.reason(), DropReason::FragmentPnGap);
        }
        let k = key(1, Cipher::Tkip);
        let mut d = Defragmenter::default();
        d.push(frag(7, 0, true, b"ab", &k, 0x101)).unwrap();
        assert!(
            d.push(frag(7, 1, false, b"cd", &k, 0x103))
                .unwrap()
                .is_some()
        );
        // PN at the top of its range cannot wrap into a match.
        let k = key(1, Cipher::Ccmp);
        d.push(frag(8, 0, true, b"ab", &k, u64::MAX)).unwrap();
        assert!(d.push(frag(8, 1, false, b"cd", &k, 0)).is_err());
    }

    #[test]
    fn lone_and_out_of_order_fragments() {
        let k = key(1, Cipher::Ccmp);
        let mut d = Defragmenter::default();
        assert_eq!(
            d.push(frag(7, 1, false, b"cd", &k, 2)).err(),
            Some(Refusal::Lone { flushed_at: None })
        );
        d.push(frag(7, 0, true, b"ab", &k, 1)).unwrap();
        assert_eq!(
            d.push(frag(7, 2, false, b"cd", &k, 2)).err(),
            Some(Refusal::OutOfOrder {
                expected: 1,
                first_frame: 700
            })
        );
        assert!(d.is_empty());
    }

    #[test]
    fn plaintext_and_protected_never_mix() {
        let k = key(1, Cipher::Ccmp);
        let mut d = Defragmenter::default();
        // Protected first fragment, plaintext continuation.
        d.push(frag(7, 0, true, b"ab", &k, 1)).unwrap();
        assert_eq!(
            d.push_plaintext(TA, RA, 7, 1, 701),
            Err(Refusal::MixedPlaintext { first_frame: 700 })
        );
        // The protected chain survives the intruder and completes.
        assert!(d.push(frag(7, 1, false, b"cd", &k, 2)).unwrap().is_some());
        // Plaintext first fragment, protected continuation.
        d.push_plaintext(TA, RA, 9, 0, 900).unwrap();
        d.push_plaintext(TA, RA, 9, 1, 901).unwrap();
        assert_eq!(
            d.push(frag(9, 2, false, b"cd", &k, 3)).err(),
            Some(Refusal::MixedPlaintext { first_frame: 900 })
        );
    }

    #[test]
    fn flush_on_rekey_still_names_a_mixed_key_continuation() {
        let (k1, k2) = (key(1, Cipher::Ccmp), key(2, Cipher::Ccmp));
        let mut d = Defragmenter::default();
        d.push(frag(7, 0, true, b"ab", &k1, 5)).unwrap();
        d.push(frag(8, 0, true, b"ab", &k1, 6)).unwrap();
        d.flush_link(RA, TA);
        assert!(d.is_empty());
        assert_eq!(d.flushed, 2);
        assert_eq!(
            d.push(frag(7, 1, false, b"cd", &k2, 6)).err(),
            Some(Refusal::MixedKey { first_frame: 700 })
        );
        // The same key after a flush (reassociation): a lone fragment.
        assert_eq!(
            d.push(frag(8, 1, false, b"cd", &k1, 7)).err(),
            Some(Refusal::Lone {
                flushed_at: Some(800)
            })
        );
        // Other links and group chains are not touched by a link flush.
        let mut g = frag(3, 0, true, b"x", &k1, 1);
        g.ra = MacAddr::BROADCAST;
        g.ta = RA;
        d.push(g).unwrap();
        d.flush_link(TA, MacAddr([9; 6]));
        assert_eq!(d.len(), 1);
        d.flush_group(RA);
        assert!(d.is_empty());
    }

    #[test]
    fn bounded() {
        let k = key(1, Cipher::Ccmp);
        let mut d = Defragmenter::default();
        for seq in 0..(MAX_FRAGMENT_CHAINS as u16 + 10) {
            d.push(frag(seq, 0, true, b"ab", &k, 1)).unwrap();
        }
        assert_eq!(d.len(), MAX_FRAGMENT_CHAINS);
        assert_eq!(d.evicted, 10);
        let big = vec![0u8; MAX_MSDU_LEN];
        d.push(frag(500, 0, true, b"ab", &k, 1)).unwrap();
        assert!(matches!(
            d.push(frag(500, 1, false, &big, &k, 2)).err(),
            Some(Refusal::TooLong { .. })
        ));
        for _ in 0..3 * MAX_TOMBSTONES {
            d.push(frag(600, 0, true, b"ab", &k, 1)).unwrap();
            d.flush_link(TA, RA);
        }
        assert!(d.tombstones.len() <= MAX_TOMBSTONES);
    }
}
