//! Capture timestamps.
//!
//! [`Ts`] is the time a frame was captured, as the capture file or the
//! interface gave it: seconds since the Unix epoch and nanoseconds within the
//! second. pcap files carry microseconds (or nanoseconds with the
//! `0xa1b23c4d` magic); pcapng carries whatever `if_tsresol` says
//! (IETF draft-ietf-opsawg-pcapng §4.2), so nanoseconds hold every
//! resolution in common use without loss.

use std::time::Duration;

/// Capture timestamp: seconds since the epoch and nanoseconds (`< 1e9`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ts {
    pub sec: i64,
    pub nsec: u32,
}

impl Ts {
    /// From seconds and microseconds (`usec` is clamped to the second).
    pub const fn from_micros(sec: i64, usec: u32) -> Ts {
        let usec = if usec > 999_999 { 999_999 } else { usec };
        Ts {
            sec,
            nsec: usec * 1000,
        }
    }

    /// From seconds and nanoseconds (`nsec` is clamped to the second).
    pub const fn from_nanos(sec: i64, nsec: u32) -> Ts {
        let nsec = if nsec > 999_999_999 {
            999_999_999
        } else {
            nsec
        };
        Ts { sec, nsec }
    }

    /// Microseconds within the second (truncated).
    pub const fn usec(self) -> u32 {
        self.nsec / 1000
    }

    /// Time since the epoch; times before it are zero.
    pub fn since_epoch(self) -> Duration {
        Duration::new(self.sec.max(0) as u64, self.nsec.min(999_999_999))
    }

    /// The inverse of [`Ts::since_epoch`] (saturating past `i64::MAX` seconds).
    pub fn from_duration(d: Duration) -> Ts {
        Ts {
            sec: d.as_secs().min(i64::MAX as u64) as i64,
            nsec: d.subsec_nanos(),
        }
    }

    /// Microseconds since the epoch (negative times clamp to zero).
    pub fn as_micros(self) -> u64 {
        (self.sec.max(0) as u64)
            .saturating_mul(1_000_000)
            .saturating_add(u64::from(self.usec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        let t = Ts::from_micros(5, 7);
        assert_eq!((t.sec, t.nsec, t.usec()), (5, 7000, 7));
        assert_eq!(Ts::from_nanos(1, 2_000_000_000).nsec, 999_999_999);
        assert_eq!(Ts::from_micros(1, 5_000_000).usec(), 999_999);
        assert_eq!(Ts::from_duration(t.since_epoch()), t);
        assert_eq!(
            Ts { sec: -3, nsec: 5 }.since_epoch(),
            Duration::from_nanos(5)
        );
        assert_eq!(Ts::from_micros(2, 3).as_micros(), 2_000_003);
        assert!(Ts::from_nanos(1, 1) > Ts::from_micros(1, 0));
    }
}
