//! Packet-number replay detection (IEEE 802.11-2020 12.5.3.4.4, 12.5.2.4.4):
//! one window per key, transmitter and traffic class, kept by the engine.
//!
//! The window is 64 packets wide so that frames reordered in the capture (QoS
//! traffic classes interleaved by the driver, a monitor interface's queue)
//! are not mistaken for replays: a PN already seen, or older than the window,
//! is refused.
//!
//! Each PN in the window keeps a 32-bit fingerprint of its frame (the engine
//! takes the end of the MIC), so a repeated PN tells a retransmission or
//! replay (the same bytes) from nonce reuse (other bytes under the same key
//! and PN: a key reinstallation, KRACK).

#[derive(Clone, Copy)]
pub(crate) struct ReplayWindow {
    highest: u64,
    bitmap: u64,
    any: bool,
    /// Fingerprint of the body of PN `p`, at `p % 64`, for the PNs the bitmap holds.
    fps: [u32; 64],
}

impl Default for ReplayWindow {
    fn default() -> Self {
        ReplayWindow {
            highest: 0,
            bitmap: 0,
            any: false,
            fps: [0; 64],
        }
    }
}

pub(crate) enum PnCheck {
    New,
    Seen,
    TooOld,
}

impl ReplayWindow {
    const SIZE: u64 = 64;
    pub(crate) fn check(&self, pn: u64) -> PnCheck {
        if !self.any || pn > self.highest {
            return PnCheck::New;
        }
        let diff = self.highest - pn;
        if diff >= Self::SIZE {
            PnCheck::TooOld
        } else if self.bitmap & (1 << diff) != 0 {
            PnCheck::Seen
        } else {
            PnCheck::New
        }
    }
    /// The fingerprint stored for `pn`, if the window holds it.
    pub(crate) fn fingerprint(&self, pn: u64) -> Option<u32> {
        if !self.any || pn > self.highest {
            return None;
        }
        let diff = self.highest - pn;
        (diff < Self::SIZE && self.bitmap & (1 << diff) != 0).then(|| self.fps[(pn % 64) as usize])
    }

    /// Marks `pn` seen, with the fingerprint of its body.
    pub(crate) fn mark_fp(&mut self, pn: u64, fp: u32) {
        self.mark(pn);
        self.fps[(pn % 64) as usize] = fp;
    }

    pub(crate) fn mark(&mut self, pn: u64) {
        if !self.any {
            self.highest = pn;
            self.bitmap = 1;
            self.any = true;
        } else if pn > self.highest {
            let shift = pn - self.highest;
            self.bitmap = if shift >= Self::SIZE {
                0
            } else {
                self.bitmap << shift
            };
            self.bitmap |= 1;
            self.highest = pn;
        } else {
            let diff = self.highest - pn;
            if diff < Self::SIZE {
                self.bitmap |= 1 << diff;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_window() {
        let mut w = ReplayWindow::default();
        assert!(matches!(w.check(5), PnCheck::New));
        w.mark(5);
        assert!(matches!(w.check(5), PnCheck::Seen));
        assert!(matches!(w.check(4), PnCheck::New));
        w.mark(4);
        assert!(matches!(w.check(4), PnCheck::Seen));
        w.mark(100);
        assert!(matches!(w.check(5), PnCheck::TooOld));
        assert!(matches!(w.check(99), PnCheck::New));
        assert!(matches!(w.check(100), PnCheck::Seen));
        w.mark(100 + 64 + 3);
        assert!(matches!(w.check(100), PnCheck::TooOld));
    }

    #[test]
    fn fingerprints_follow_the_window() {
        let mut w = ReplayWindow::default();
        assert_eq!(w.fingerprint(1), None);
        w.mark_fp(1, 11);
        w.mark_fp(3, 33);
        assert_eq!(w.fingerprint(1), Some(11));
        assert_eq!(w.fingerprint(2), None);
        assert_eq!(w.fingerprint(3), Some(33));
        w.mark_fp(65, 99); // same slot as 1, which leaves the window
        assert_eq!(w.fingerprint(1), None);
        assert_eq!(w.fingerprint(65), Some(99));
        assert_eq!(w.fingerprint(u64::MAX), None);
    }
}
