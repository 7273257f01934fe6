//! The bounds of every numeric argument and config value, in one place.
//!
//! A value out of its range is a usage error (exit 2, with the range in the
//! message), never a panic or an abort: clap checks the arguments
//! (`value_parser` ranges and the parsers below), [`super::config`] checks
//! the config file's equivalents. The README's options text repeats this
//! table.
//!
//! | Argument (config key) | Range | 0 means |
//! |---|---|---|
//! | `--workers` (`[capture] workers`) | 1 ..= 256 | refused (one thread at least) |
//! | `-c`, `--count` | 1 ..= 2^64-1 | refused (as tcpdump) |
//! | `--duration` | 0 ..= 31 536 000 s (a year), decimals allowed | no time limit |
//! | `--buffer-mb` (`[capture] buffer_mb`) | 1 ..= 2047 MiB (libpcap takes an `int` of bytes) | refused |
//! | `--pcap-rotate-mb` (`[output] pcap_rotate_mb`) | 0 ..= 1 048 576 MiB (1 TiB) | never rotate |
//! | `--status-interval` (`[output] status_interval`) | 0 ..= 86 400 s (a day) | no status line |
//! | `bench --threads` | 1 ..= 256 | refused |
//! | `bench --seconds` | 0.001 ..= 3600 | refused |
//! | `bench --size` | 0 ..= 1T (K, M, G, T: KiB…TiB) | only the handshakes are written |
//!
//! `--seed`, `synth --akm` (an AKM number plugsniff derives keys for) and the
//! rest are checked by their own parsers; `-v` saturates.

use std::ops::RangeInclusive;

/// Decrypt threads (`--workers`, `[capture] workers`, `bench --threads`):
/// more than this only adds queues (each worker holds 2 × 32 batches).
pub const WORKERS: RangeInclusive<u64> = 1..=256;
/// libpcap's kernel buffer, MiB: `pcap_set_buffer_size` takes an `int` of bytes.
pub const BUFFER_MB: RangeInclusive<i64> = 1..=2047;
/// Pcap rotation size, MiB (0: never rotate).
pub const ROTATE_MB: RangeInclusive<u64> = 0..=1 << 20;
/// Seconds between status lines (0: none).
pub const STATUS_INTERVAL: RangeInclusive<u64> = 0..=86_400;
/// `--duration`, seconds (0: no limit).
pub const DURATION_MAX_SECS: f64 = 31_536_000.0;
/// `bench --seconds`.
pub const BENCH_SECONDS: RangeInclusive<f64> = 0.001..=3600.0;
/// `bench --size`, bytes.
pub const BENCH_SIZE_MAX: u64 = 1 << 40;

/// The default of `--workers`, within [`WORKERS`].
///
/// - A file (`decrypt`, `watch -r`, `report`): one worker per core but one,
///   at least one. The capture thread and the ordered stage need a core
///   between them: on 2 cores, over three sets of alternating runs on the
///   300 MB benchmark capture, 1 worker was 2–12 % faster than 2 for
///   `decrypt` and up to 17 % for `watch -r`, with 4–11 % less CPU.
/// - A live source: one worker per core. A slow file only takes longer; a
///   live source whose queues fill sheds frames, and each worker brings its
///   own queues: in 10 s soaks at ≈ 290 k frames/s through a radiotap TUN
///   device on 2 cores, 1 worker shed 8–47 k frames per run, 2 workers 0–1 k.
///
/// (docs/performance.md, issue 18's third session.)
pub fn default_workers(live: bool) -> usize {
    if live {
        cores()
    } else {
        workers_for_cores(available_cores())
    }
}

/// The number of cores, within [`WORKERS`] (the default of `bench --threads`,
/// which measures every count up to it).
pub fn cores() -> usize {
    available_cores().clamp(*WORKERS.start() as usize, *WORKERS.end() as usize)
}

fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn workers_for_cores(cores: usize) -> usize {
    cores
        .saturating_sub(1)
        .clamp(*WORKERS.start() as usize, *WORKERS.end() as usize)
}

/// Checks a value against a range, for config files: `Err` names the range.
pub fn in_range<T: PartialOrd + std::fmt::Display>(
    v: T,
    r: &RangeInclusive<T>,
) -> Result<(), String> {
    if r.contains(&v) {
        Ok(())
    } else {
        Err(format!("{v} is out of range ({}..={})", r.start(), r.end()))
    }
}

/// `--duration SECONDS`: a finite number from 0 (no limit) to a year.
pub fn parse_duration(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("not a number of seconds: {s:?}"))?;
    if !v.is_finite() || !(0.0..=DURATION_MAX_SECS).contains(&v) {
        return Err(format!(
            "{s} is out of range (0..={DURATION_MAX_SECS} seconds; 0 means no limit)"
        ));
    }
    Ok(v)
}

/// `bench --seconds S`: a finite number within [`BENCH_SECONDS`].
pub fn parse_bench_seconds(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("not a number of seconds: {s:?}"))?;
    if !v.is_finite() || !BENCH_SECONDS.contains(&v) {
        return Err(format!(
            "{s} is out of range ({}..={} seconds)",
            BENCH_SECONDS.start(),
            BENCH_SECONDS.end()
        ));
    }
    Ok(v)
}

/// `123`, `64K`, `100M`, `1G`, `1T` (K, M, G, T are KiB, MiB, GiB, TiB), at
/// most [`BENCH_SIZE_MAX`].
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m: u64 = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                _ => return Err(format!("unknown size suffix in {s:?} (K, M, G or T)")),
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    let n = num
        .parse::<u64>()
        .map_err(|_| format!("not a size: {s:?} (e.g. 100M, 1G)"))?;
    match n.checked_mul(mult) {
        Some(v) if v <= BENCH_SIZE_MAX => Ok(v),
        _ => Err(format!("{s} is out of range (0..=1T)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("0"), Ok(0.0));
        assert_eq!(parse_duration("1.5"), Ok(1.5));
        for bad in ["-1", "inf", "NaN", "1e300", "x", "", "31536001"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bench_seconds() {
        assert_eq!(parse_bench_seconds("0.02"), Ok(0.02));
        for bad in ["0", "-1", "inf", "nan", "3601", "x"] {
            assert!(parse_bench_seconds(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("1T"), Ok(1 << 40));
        assert_eq!(parse_size("0"), Ok(0));
        for bad in [
            "2T",
            "99999999999G",
            "-1",
            "1X",
            "",
            "M",
            "18446744073709551616",
        ] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ranges() {
        assert!(in_range(0u64, &WORKERS).is_err());
        assert!(in_range(257u64, &WORKERS).is_err());
        assert!(in_range(256u64, &WORKERS).is_ok());
        assert!(in_range(2048i64, &BUFFER_MB).is_err());
        assert!((1..=256).contains(&default_workers(false)));
        assert_eq!(default_workers(true), cores());
        let w: Vec<usize> = [0, 1, 2, 4, 1000].map(workers_for_cores).into();
        assert_eq!(w, [1, 1, 1, 3, 256]);
    }
}
