//! `plugsniff bench`: decryption throughput with its references measured in
//! the same run (see [`measure`] and docs/performance.md).

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::{CliError, KeyArgs, secrets};
use crate::output::dest::{self, InputSpec, OutputSpec, Role};
pub mod measure;

use crate::crypto::ccmp_mb::Backend;
use measure::{self as bench, Report, SizeMix};

#[derive(Args)]
pub struct BenchArgs {
    /// A few hundred milliseconds in all (CI smoke test): small stream, short runs.
    #[arg(long)]
    pub quick: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Seconds per measurement, 0.001..=3600 (default 1, or 0.02 with --quick).
    #[arg(long, value_name = "S", value_parser = super::bounds::parse_bench_seconds)]
    pub seconds: Option<f64>,
    /// Threads / workers to go up to, 1..=256 (default: the number of cores).
    #[arg(long, value_name = "N", value_parser = clap::builder::RangedU64ValueParser::<usize>::new()
        .range(super::bounds::WORKERS))]
    pub threads: Option<usize>,
    /// Also time `decrypt` end-to-end on this capture (keys from --config etc.).
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<PathBuf>,
    /// Also time airdecap-ng and tshark (when installed) and `plugsniff decrypt`
    /// on a generated pcap of --size bytes.
    #[arg(long)]
    pub peers: bool,
    /// Alternating rounds of --peers (every tool once per round; medians
    /// and spreads reported), 1..=50.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=50))]
    pub rounds: u64,
    /// Only write the generated stream, with its handshakes, as a radiotap pcap.
    #[arg(long, value_name = "FILE")]
    pub write_pcap: Option<PathBuf>,
    /// Size of the generated pcap (--write-pcap, --peers): e.g. 100M, 1G;
    /// 0..=1T (0: only the handshakes).
    #[arg(long, value_name = "SIZE", default_value = "200M", value_parser = super::bounds::parse_size)]
    pub size: u64,
    /// Seed of the generated stream.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[command(flatten)]
    pub keys: KeyArgs,
}

pub fn run(a: BenchArgs) -> Result<(), CliError> {
    let io = |what: String| move |err| CliError::Io { what, err };
    if let Some(p) = &a.write_pcap {
        // Never the capture of --pcap, a key file, a directory or a device.
        let key_files = secrets::input_files(&a.keys);
        let mut inputs: Vec<InputSpec<'_>> = key_files
            .iter()
            .map(|(flag, p)| InputSpec { flag, path: p })
            .collect();
        inputs.extend(a.pcap.as_deref().map(|path| InputSpec {
            flag: "--pcap",
            path,
        }));
        dest::check(
            &inputs,
            &[OutputSpec::new("--write-pcap", p, Role::Replace)],
        )?;
        let n =
            bench::write_pcap(p, a.size, a.seed).map_err(io(format!("writing {}", p.display())))?;
        let g = bench::StreamGen::new(SizeMix::Realistic, a.seed);
        outln!(
            "wrote {n} frames to {} (ssid {:?}, passphrase {:?})",
            p.display(),
            g.ssid,
            g.passphrase
        );
        return Ok(());
    }
    let threads = a.threads.unwrap_or_else(super::bounds::cores).max(1);
    let min = Duration::from_secs_f64(a.seconds.unwrap_or(if a.quick { 0.02 } else { 1.0 }));
    let mem: u64 = if a.quick { 1 << 20 } else { 32 << 20 };
    let mut report = Report {
        cpu_backend: Backend::detect().name().into(),
        optimized: !cfg!(debug_assertions),
        threads,
        groups: Vec::new(),
        pipeline_counts: None,
        peers: Vec::new(),
    };
    let realistic = bench::stream(SizeMix::Realistic, mem, a.seed);
    report.groups.push(bench::crypto_group(
        &realistic,
        "realistic mix (60% 1500 B, 25% 64-300 B, 15% 500-1000 B)",
        min,
    ));
    for size in [1500, 100] {
        let s = bench::stream(SizeMix::Fixed(size), mem / 2, a.seed);
        report
            .groups
            .push(bench::crypto_group(&s, &format!("{size}-byte frames"), min));
    }
    report
        .groups
        .push(bench::threads_group(&realistic, threads, min));
    let small = bench::stream(SizeMix::Realistic, mem / 4, a.seed);
    report.groups.push(bench::ciphers_group(&small, min));
    drop(small);
    drop(realistic);

    // The whole pipeline on a generated capture (or the --peers one).
    let tmp = std::env::temp_dir().join(format!("plugsniff-bench-{}.pcap", std::process::id()));
    let gen_size = if a.peers {
        a.size
    } else if a.quick {
        1 << 20
    } else {
        64 << 20
    };
    bench::write_pcap(&tmp, gen_size, a.seed).map_err(io(format!("writing {}", tmp.display())))?;
    let g = bench::StreamGen::new(SizeMix::Realistic, a.seed);
    let res = bench::pipeline_group(&tmp, || vec![g.secret.clone()], threads);
    let res = res.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        CliError::from(e)
    });
    let (group, counts) = res?;
    report.groups.push(group);
    report.pipeline_counts = Some(counts);
    if a.peers {
        report.peers = bench::peers(&tmp, &g.ssid, &g.passphrase, threads, a.rounds as usize);
    }
    let _ = std::fs::remove_file(&tmp);

    if let Some(p) = &a.pcap {
        let nets = secrets::gather(&a.keys)?;
        if nets.is_empty() {
            return Err(CliError::Usage(
                "--pcap needs keys: --config FILE or --ssid with PLUGSNIFF_PASSPHRASE".into(),
            ));
        }
        let (group, counts) = bench::pipeline_group(p, || nets.clone(), threads)?;
        report.groups.push(group);
        report.pipeline_counts = Some(counts);
    }

    if a.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        outln!(
            "plugsniff bench: backend {}, up to {} thread(s); ratios against the first line of each group",
            report.cpu_backend,
            threads
        );
        if !report.optimized {
            outln!(
                "  note: a debug build (no optimisations, overflow checks): the figures say nothing \
                 about speed; build with --release"
            );
        }
        for g in &report.groups {
            super::write_stdout(format_args!("{}", g.to_text()));
        }
        if let Some(c) = &report.pipeline_counts {
            outln!(
                "  (last run: {} frames read, {} decrypted, {} dropped)",
                c.read,
                c.decrypted,
                c.dropped
            );
        }
        if !report.peers.is_empty() {
            outln!(
                "peers on the same generated pcap ({} bytes), {} alternating round(s): median (min–max); \
                 × airdecap-ng is the median of same-round ratios",
                gen_size,
                a.rounds
            );
            for p in &report.peers {
                outln!(
                    "  {:<34} {:>7.2} s ({:.2}–{:.2}) {:>8.1} MB/s  {}  (decrypted: {})",
                    p.tool,
                    p.seconds,
                    p.min(),
                    p.max(),
                    p.mbyte_per_s,
                    p.vs_airdecap
                        .map_or(String::new(), |r| format!("{r:>6.2}× airdecap-ng")),
                    p.decrypted.map_or("?".into(), |d| d.to_string())
                );
            }
        }
    }
    Ok(())
}
