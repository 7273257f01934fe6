//! `plugsniff report -r CAPTURE -o report.html [--format json]`: runs the
//! watch pipeline ([`super::watch::run_config`]) over a capture with a
//! [`ReportSink`] as its only consumer, then writes the report
//! (`output::report`) through `output::dest`: the output is checked against
//! the inputs before anything is read, written as `NAME.partial` and renamed
//! only when complete (`-o -` writes to standard output).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use clap::{Args, ValueEnum};

use super::bounds::default_workers;
use super::watch::{RunConfig, SourceSpec, run_config};
use super::{CliError, KeyArgs, secrets};
use crate::output::dest::{self, InputSpec, OutFile, OutputSpec, Role};
use crate::output::live::Style;
use crate::output::report::{Collector, Report, ReportSink, to_html};
use crate::pipeline::Limits;

#[derive(Clone, Copy, Debug, ValueEnum, Default, PartialEq, Eq)]
pub enum ReportFormat {
    /// One self-contained HTML page (inline CSS, script and SVG plots).
    #[default]
    Html,
    /// The same content as one JSON document.
    Json,
}

#[derive(Args)]
pub struct ReportArgs {
    /// Capture file to read (pcap/pcapng).
    #[arg(short = 'r', long = "read", value_name = "FILE")]
    pub read: String,
    /// Where to write the report (`-` for standard output). Never an input,
    /// a directory or a device; written whole or not at all.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
    /// html (default) or json.
    #[arg(long, value_enum, default_value_t = ReportFormat::Html)]
    pub format: ReportFormat,
    /// Decrypt worker threads, 1..=256 (default: one per core but one, at least 1).
    #[arg(long, value_parser = clap::builder::RangedU64ValueParser::<usize>::new()
        .range(super::bounds::WORKERS))]
    pub workers: Option<usize>,
    /// Show passwords found in the clear instead of masking them.
    #[arg(long)]
    pub show_secrets: bool,
    #[command(flatten)]
    pub keys: KeyArgs,
}

pub fn run(a: ReportArgs) -> Result<(), CliError> {
    let key_files = secrets::input_files(&a.keys);
    let mut inputs = vec![InputSpec {
        flag: "-r",
        path: Path::new(&a.read),
    }];
    inputs.extend(
        key_files
            .iter()
            .map(|(flag, p)| InputSpec { flag, path: p }),
    );
    let out = OutputSpec::new("-o", &a.output, Role::Replace).or_stdout();
    let target = dest::check(&inputs, &[out])?
        .into_iter()
        .next()
        .ok_or_else(|| CliError::Usage("-o: no output".into()))?;
    let collector = Arc::new(Mutex::new(Collector::default()));
    let cfg = RunConfig {
        source: SourceSpec::File {
            path: a.read.clone(),
            filter: None,
        },
        networks: secrets::gather(&a.keys)?,
        workers: a.workers.unwrap_or_else(|| default_workers(false)),
        limits: Limits::default(),
        stdout_json: None,
        style: Style {
            color: false,
            show_json: false,
        },
        quiet_wpa: true,
        jsonl: None,
        pcap: None,
        status_interval: None,
        user: None,
        // The report is written after the run, by this process: confining
        // it to no directory would forbid that.
        sandbox: false,
        decoders: match &a.keys.config {
            Some(path) => {
                crate::cli::config::ConfigFile::load(path)?.decoder_config(path, a.show_secrets)?
            }
            None => crate::decoders::DecoderConfig {
                show_secrets: a.show_secrets,
                ..Default::default()
            },
        },
        sinks: vec![Box::new(ReportSink(collector.clone()))],
        summary_on_stdout: false,
    };
    // Exit 5 (every MIC failed) still writes the report: it says why.
    let run_result = run_config(cfg);
    if run_result
        .as_ref()
        .is_err_and(|e| !matches!(e, CliError::KeysUnconfirmed(_)))
    {
        return run_result;
    }
    let c = std::mem::take(&mut *collector.lock().map_err(|_| CliError::Io {
        what: "the report collector".into(),
        err: std::io::Error::other("poisoned"),
    })?);
    let report = Report::new(&a.read, c);
    let body = match a.format {
        ReportFormat::Html => to_html(&report),
        ReportFormat::Json => report.to_json() + "\n",
    };
    let io = |err| CliError::Io {
        what: format!("writing {}", target.display()),
        err,
    };
    let mut f = OutFile::create(&target).map_err(io)?;
    f.write_all(body.as_bytes()).map_err(io)?;
    f.commit().map_err(io)?;
    run_result
}
