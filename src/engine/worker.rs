//! Pre-decryption in the pipeline's workers: the keys a worker knows and the
//! batch decryption through the multi-buffer CCMP kernel.
//!
//! **Architecture Invariant: workers never decide.** A worker only proposes a
//! decryption ([`PreDecrypted`]: key serial, PN, plaintext, verified by the
//! MIC/ICV); the engine re-checks the key among its own candidates and does
//! replay, Michael, defragmentation and accounting. A worker that lags behind
//! a rekey costs time, never correctness.

use std::sync::Arc;

use crate::crypto::ccmp;
use crate::crypto::ccmp_mb::{self, Job, MbKey};
use crate::wire::MacAddr;
use crate::wire::dot11::{Dot11, SecurityHeader, fc};
use crate::wire::link::{FcsStatus, LinkKind, locate_dot11};
use crate::wpa::keys::Cipher;
use crate::wpa::keystore::KeyEntry;

/// A decryption done ahead of time by a pipeline worker: the key (by serial),
/// the packet number and the plaintext, all verified by the MIC (CCMP) or ICV
/// (TKIP). The engine still does everything stateful (replay, Michael, order).
/// CCMP-128 goes through the multi-buffer kernel; CCMP-256, GCMP and TKIP are
/// decrypted one frame at a time ([`super::cipher::decrypt`]).
///
/// What the worker reads anyway travels with it, so the ordered stage need
/// not touch those bytes again (they were written and read on other cores;
/// a cache miss per frame there cost more than the replay check itself):
/// the frame's last four bytes, and for CCMP-128 the output MPDU's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreDecrypted {
    pub serial: u64,
    pub pn: u64,
    /// The last four bytes of the protected MPDU (without FCS), little
    /// endian: the engine's replay fingerprint.
    pub fp: u32,
    /// `plain[..hdr_len]` is the MAC header with the Protected bit cleared
    /// (0: none), the plaintext follows: header and plaintext together are
    /// the decrypted MPDU the engine passes on.
    pub hdr_len: usize,
    pub plain: Vec<u8>,
}

/// The replay fingerprint of a protected MPDU: its last four bytes (the end
/// of the MIC or ICV), little endian; 0 for a shorter one.
pub fn fingerprint(mpdu: &[u8]) -> u32 {
    mpdu.last_chunk::<4>().map_or(0, |b| u32::from_le_bytes(*b))
}

/// The keys a pipeline worker knows, copied from the engine's keystore as it
/// installs them (newest first per slot, at most `MAX_KEYS_PER_SLOT`).
#[derive(Default)]
pub struct WorkerKeys {
    pairwise: crate::FastMap<(MacAddr, MacAddr), Vec<Arc<KeyEntry>>>,
    group: crate::FastMap<(MacAddr, u8), Vec<Arc<KeyEntry>>>,
    /// CCMP keys expanded once for the multi-buffer kernel, by serial; an
    /// entry lives as long as its key is in a slot.
    mb: crate::FastMap<u64, MbKey>,
    out: Vec<u8>,
    unpadded: Vec<u8>,
    /// Candidate serials of the frames of a batch, flat (`Pending::cands`
    /// indexes it): one allocation per worker, not one per frame.
    cand_buf: Vec<u64>,
}

/// A frame of a batch waiting for the kernel: where its bytes are, its
/// CCMP candidate keys in the engine's order, and the next one to try.
struct Pending {
    idx: usize,
    /// `None`: the bytes are the caller's frame; `Some(i)`: `copies[i]`
    /// (radiotap data padding removed).
    copy: Option<usize>,
    start: usize,
    end: usize,
    hdr_len: usize,
    /// This frame's candidates in `WorkerKeys::cand_buf`.
    cands: std::ops::Range<usize>,
    next: usize,
}

impl WorkerKeys {
    pub fn add(&mut self, k: Arc<KeyEntry>) {
        let slot = match k.sta {
            Some(sta) => self.pairwise.entry((k.bssid, sta)).or_default(),
            None => self.group.entry((k.bssid, k.key_id)).or_default(),
        };
        if slot.iter().any(|e| e.serial == k.serial) {
            return;
        }
        if k.tk.cipher == Cipher::Ccmp {
            self.mb.insert(k.serial, MbKey::new(k.tk.key16()));
        }
        slot.insert(0, k);
        let max = crate::wpa::keystore::MAX_KEYS_PER_SLOT;
        if slot.len() > max {
            for old in slot.split_off(max) {
                self.mb.remove(&old.serial);
            }
        }
    }

    /// [`WorkerKeys::predecrypt`] for a whole batch: CCMP frames go through the
    /// multi-buffer kernel ([`crate::crypto::ccmp_mb`]) together, candidate key by
    /// candidate key in the order the engine would try them, so `pre[i]` is
    /// what `predecrypt(link, frames[i])` gives. Frames with a TKIP candidate
    /// are done one at a time.
    ///
    /// Plaintext buffers are taken from `spare` (and the ones left over go
    /// back to it), so a worker that recycles the spent [`PreDecrypted`]s of
    /// earlier batches allocates nothing per frame.
    ///
    /// # Panics
    /// If `pre` is shorter than `frames`.
    pub fn predecrypt_batch(
        &mut self,
        link: LinkKind,
        frames: &[&[u8]],
        pre: &mut [Option<PreDecrypted>],
        spare: &mut Vec<Vec<u8>>,
    ) {
        let mut pending: Vec<Pending> = Vec::with_capacity(frames.len());
        let mut cand_buf = std::mem::take(&mut self.cand_buf);
        cand_buf.clear();
        let mut copies: Vec<Vec<u8>> = Vec::new();
        for (i, raw) in frames.iter().enumerate() {
            pre[i] = None;
            let Ok(loc) = locate_dot11(link, raw) else {
                continue;
            };
            if loc.fcs == FcsStatus::PresentBad {
                continue;
            }
            let Some(frame) = raw.get(loc.start..loc.end) else {
                continue;
            };
            let Ok(d) = Dot11::new_checked(frame, loc.data_pad) else {
                continue;
            };
            if !d.protected() || !(d.is_data() || d.is_mgmt()) {
                continue;
            }
            let (copy, start, end) = if d.header_len() != d.mac_header_len() {
                let mut c = Vec::with_capacity(frame.len());
                c.extend_from_slice(d.header());
                c.extend_from_slice(d.body());
                copies.push(c);
                (Some(copies.len() - 1), 0, copies[copies.len() - 1].len())
            } else {
                (None, loc.start, loc.end)
            };
            let bytes = match copy {
                Some(c) => &copies[c][..],
                None => frame,
            };
            let Ok(d) = Dot11::new_checked(bytes, false) else {
                continue;
            };
            let first = cand_buf.len();
            match self.candidates(&d, &mut cand_buf) {
                None => continue,
                Some(false) => {
                    cand_buf.truncate(first);
                    pre[i] = self.try_frame(&d);
                    continue;
                }
                Some(true) => {}
            }
            if cand_buf.len() > first {
                pending.push(Pending {
                    idx: i,
                    copy,
                    start,
                    end,
                    hdr_len: d.header_len(),
                    cands: first..cand_buf.len(),
                    next: 0,
                });
            }
        }
        let mut outs: Vec<Vec<u8>> = Vec::new();
        let mut results = Vec::new();
        while !pending.is_empty() {
            while outs.len() < pending.len() {
                outs.push(spare.pop().unwrap_or_else(new_plain));
            }
            results.clear();
            results.resize(pending.len(), Err(ccmp::CcmpError::TooShort));
            let mut jobs: Vec<Job<'_>> = Vec::with_capacity(pending.len());
            for (p, out) in pending.iter().zip(outs.iter_mut()) {
                let bytes = match p.copy {
                    Some(c) => &copies[c][..],
                    None => &frames[p.idx][p.start..p.end],
                };
                let Some(key) = cand_buf
                    .get(p.cands.start + p.next)
                    .and_then(|serial| self.mb.get(serial))
                else {
                    continue;
                };
                // The decrypted MPDU's header first: the kernel appends the
                // plaintext behind it (Dot11 checked hdr_len <= len).
                // (Written over the buffer's old bytes, not after a clear:
                // the kernel writes the rest, so nothing is zeroed first.)
                if out.len() < p.hdr_len {
                    out.resize(p.hdr_len, 0);
                }
                out[..p.hdr_len].copy_from_slice(&bytes[..p.hdr_len]);
                if let Some(b) = out.get_mut(1) {
                    *b &= !fc::PROTECTED;
                }
                jobs.push(Job {
                    key,
                    frame: bytes,
                    hdr_len: p.hdr_len,
                    keep: p.hdr_len,
                    out,
                });
            }
            if jobs.len() != pending.len() {
                // A candidate without an expanded key cannot happen (both are
                // updated together in `add`); be safe and go frame by frame.
                drop(jobs);
                for p in pending.drain(..) {
                    pre[p.idx] = self.predecrypt(link, frames[p.idx]);
                }
                break;
            }
            ccmp_mb::decrypt_batch(&mut jobs, &mut results);
            drop(jobs);
            let mut still = Vec::new();
            for ((mut p, r), out) in pending.drain(..).zip(results.iter()).zip(outs.iter_mut()) {
                match r {
                    Ok(h) => {
                        let bytes = match p.copy {
                            Some(c) => &copies[c][..],
                            None => &frames[p.idx][p.start..p.end],
                        };
                        pre[p.idx] = Some(PreDecrypted {
                            serial: cand_buf[p.cands.start + p.next],
                            pn: h.pn,
                            fp: fingerprint(bytes),
                            hdr_len: p.hdr_len,
                            plain: std::mem::replace(out, spare.pop().unwrap_or_else(new_plain)),
                        });
                    }
                    Err(_) => {
                        p.next += 1;
                        if p.next < p.cands.len() {
                            still.push(p);
                        }
                    }
                }
            }
            pending = still;
        }
        spare.extend(outs.into_iter().filter(|o| o.capacity() > 0));
        self.cand_buf = cand_buf;
    }

    /// The candidate keys for a protected frame, in the engine's order
    /// (group keys by key ID; pairwise keys for both address orders).
    /// Their serials are appended to `out`; the result says whether they are
    /// all CCMP (`Some(true)`, the kernel's case) and is `None` when the frame
    /// has no CCMP/TKIP header.
    fn candidates(&self, d: &Dot11<'_>, out: &mut Vec<u64>) -> Option<bool> {
        let sec = SecurityHeader::parse(d.body()).filter(|s| s.ext_iv)?;
        let ra = d.addr1();
        let ta = d.addr2()?;
        let slots: [Option<&Vec<Arc<KeyEntry>>>; 2] = if ra.is_group() {
            [self.group.get(&(ta, sec.key_id)), None]
        } else {
            [self.pairwise.get(&(ta, ra)), self.pairwise.get(&(ra, ta))]
        };
        let mut all_ccmp = true;
        for k in slots.into_iter().flatten().flatten() {
            all_ccmp &= k.tk.cipher == Cipher::Ccmp;
            out.push(k.serial);
        }
        Some(all_ccmp)
    }

    /// Decrypts a protected frame with the keys known here. `None` when the
    /// frame is not protected, no key fits, or it is malformed: the engine then
    /// does the work itself, so a worker that lags behind a rekey costs time,
    /// never correctness.
    pub fn predecrypt(&mut self, link: LinkKind, raw: &[u8]) -> Option<PreDecrypted> {
        let loc = locate_dot11(link, raw).ok()?;
        if loc.fcs == FcsStatus::PresentBad {
            return None;
        }
        let frame = raw.get(loc.start..loc.end)?;
        let d = Dot11::new_checked(frame, loc.data_pad).ok()?;
        if !d.protected() || !(d.is_data() || d.is_mgmt()) {
            return None;
        }
        let mut unpadded = std::mem::take(&mut self.unpadded);
        let r = if d.header_len() != d.mac_header_len() {
            unpadded.clear();
            unpadded.extend_from_slice(d.header());
            unpadded.extend_from_slice(d.body());
            match Dot11::new_checked(&unpadded, false) {
                Ok(u) => self.try_frame(&u),
                Err(_) => None,
            }
        } else {
            self.try_frame(&d)
        };
        self.unpadded = unpadded;
        r
    }

    fn try_frame(&mut self, d: &Dot11<'_>) -> Option<PreDecrypted> {
        let sec = SecurityHeader::parse(d.body()).filter(|s| s.ext_iv)?;
        let ra = d.addr1();
        let ta = d.addr2()?;
        let empty = Vec::new();
        let (first, second) = if ra.is_group() {
            (self.group.get(&(ta, sec.key_id)).unwrap_or(&empty), &empty)
        } else {
            (
                self.pairwise.get(&(ta, ra)).unwrap_or(&empty),
                self.pairwise.get(&(ra, ta)).unwrap_or(&empty),
            )
        };
        for key in first.iter().chain(second.iter()) {
            let pn =
                super::cipher::decrypt(&key.tk, ta, d.bytes(), d.header_len(), &mut self.out).ok();
            if let Some(pn) = pn {
                return Some(PreDecrypted {
                    serial: key.serial,
                    pn,
                    fp: fingerprint(d.bytes()),
                    hdr_len: 0,
                    plain: std::mem::take(&mut self.out),
                });
            }
        }
        None
    }
}

/// The smallest plaintext buffer a worker allocates: the payload of a
/// 1500-byte MSDU fits, so a recycled buffer seldom grows (a realloc per
/// frame kept glibc's thread arenas growing and shrinking).
pub const PLAIN_CAPACITY: usize = 2048;

fn new_plain() -> Vec<u8> {
    Vec::with_capacity(PLAIN_CAPACITY)
}
