//! `plugsniff daemon --config FILE`: capture on the configured interface until
//! SIGINT/SIGTERM, then drain the pipeline, flush every output and print the
//! final statistics. SIGHUP reopens the output files (logrotate). A status
//! line goes to stderr periodically; logs use `tracing` (`-v`, `PLUGSNIFF_LOG`).
//! The interface is a monitor-mode one, or a wired one (a mirror port on the
//! plugs' LAN) whose IP traffic is decoded as `watch -i` does.
//!
//! Example config (`docs/plugsniff.toml`):
//!
//! ```toml
//! [[network]]
//! ssid = "home"
//! passphrase = "…"
//!
//! [capture]
//! interface = "mon0"
//!
//! [output]
//! jsonl = "/var/log/plugsniff/events.jsonl"
//! pcap = "/var/lib/plugsniff/decrypted.pcap"
//! pcap_rotate_mb = 100
//! status_interval = 60
//!
//! [output.mqtt]                      # optional: events, plug state, Home Assistant
//! url = "mqtt://homeassistant.local:1883"
//!
//! [output.metrics]                   # optional: Prometheus
//! listen = "127.0.0.1:9898"
//!
//! [daemon]
//! user = "plugsniff"
//! ```
//!
//! `[output.mqtt]` and `[output.metrics]` are started by `cli::outputs`, as
//! `watch --config` starts them.

use std::path::Path;
use std::time::Duration;

use clap::Args;

use super::bounds::default_workers;
use super::config::ConfigFile;
use super::watch::{RunConfig, SourceSpec, check_outputs, run_config};
use super::{CliError, KeyArgs, secrets};
use crate::capture::live::LiveOptions;
use crate::output::live::Style;
use crate::pipeline::Limits;

#[derive(Args)]
pub struct DaemonArgs {
    /// The config file: `[[network]]` keys, `[capture]`, `[output]`, `[daemon]`.
    #[arg(long, value_name = "FILE")]
    pub config: String,
    /// Override `[capture]` interface.
    #[arg(short = 'i', long = "interface")]
    pub interface: Option<String>,
}

pub fn run(a: DaemonArgs) -> Result<(), CliError> {
    let cfg = ConfigFile::load(&a.config)?;
    let key_args = KeyArgs {
        config: Some(a.config.clone()),
        no_prompt: true,
        ..KeyArgs::default()
    };
    let out = cfg.output.clone().unwrap_or_default();
    // Checked before the interface opens: never the config, the key file,
    // a directory or a device.
    let (jsonl, pcap) = check_outputs(
        None,
        &secrets::input_files(&key_args),
        out.jsonl
            .as_deref()
            .map(|p| ("[output] jsonl", Path::new(p))),
        out.pcap
            .as_deref()
            .map(|p| ("[output] pcap", Path::new(p), false)),
    )?;
    let capture = cfg.capture.clone();
    let interface = a
        .interface
        .clone()
        .or_else(|| capture.as_ref().map(|c| c.interface.clone()))
        .ok_or_else(|| {
            CliError::Usage(format!(
                "{}: no [capture] interface (or -i IFACE)",
                a.config
            ))
        })?;
    let mut live = LiveOptions::new(&interface);
    // A wired tap on the plugs' LAN is decoded as `watch -i` does.
    live.accept_plain = Some(crate::flows::ip::supported_plain_dlt);
    if let Some(c) = &capture {
        live.monitor = c.monitor;
        live.filter = c.filter.clone();
        if let Some(b) = c.buffer_mb {
            live.buffer_size = b.saturating_mul(1 << 20);
        }
    }
    if !out.live
        && !out.json
        && out.jsonl.is_none()
        && out.pcap.is_none()
        && out.mqtt.is_none()
        && out.metrics.is_none()
        && out.history.is_none()
    {
        return Err(CliError::Usage(format!(
            "{}: [output] has no sink: set live, json, jsonl, pcap or history, or [output.mqtt] or [output.metrics]",
            a.config
        )));
    }
    let networks = secrets::gather(&key_args)?;
    run_config(RunConfig {
        source: SourceSpec::Live(live),
        networks,
        workers: capture
            .as_ref()
            .and_then(|c| c.workers)
            .unwrap_or_else(|| default_workers(true)),
        limits: Limits::default(),
        stdout_json: if out.json {
            Some(true)
        } else if out.live {
            Some(false)
        } else {
            None
        },
        style: Style {
            color: false,
            show_json: false,
        },
        quiet_wpa: false,
        jsonl,
        // Bounded by the config check (0..=1 TiB; 0: never rotate).
        pcap: pcap.map(|t| (t, out.pcap_rotate_mb.unwrap_or(100) << 20)),
        status_interval: match out.status_interval.unwrap_or(60) {
            0 => None,
            s => Some(Duration::from_secs(s)),
        },
        user: cfg.daemon.as_ref().and_then(|d| d.user.clone()),
        sandbox: cfg
            .daemon
            .as_ref()
            .is_none_or(|d| d.sandbox.unwrap_or(true)),
        decoders: cfg.decoder_config(&a.config, out.show_secrets)?,
        sinks: {
            let mut s = super::outputs::start(out.mqtt.as_ref(), out.metrics.as_ref(), &a.config)?;
            s.extend(super::outputs::history(
                out.history.as_deref(),
                secrets::input_files(&key_args),
            )?);
            s
        },
        summary_on_stdout: out.live || out.json,
    })
}
