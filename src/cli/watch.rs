//! `plugsniff watch (-r FILE | -i IFACE)`: decrypt and decode, printing what
//! the plugs say as it happens, then a summary. Also the engine room of
//! `plugsniff daemon` ([`run_config`]): the same pipeline with sinks chosen in
//! the config file, run until SIGINT/SIGTERM.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};

use super::{CliError, KeyArgs, secrets};
use crate::capture::FileSource;
use crate::capture::live::{LiveOptions, LiveSource};
use crate::output::event::{Event, EventBody, to_json_line};
use crate::output::files::{JsonlFile, RotatingPcap};
use crate::output::live::{Style, render};
use crate::output::pcap_out::LINKTYPE_ETHERNET;
use crate::output::watch_summary::WatchSummary;
use crate::pipeline::{self, Frame, Limits, Ordered, Progress, Source, StopHandle};
use crate::watch::{WatchOptions, Watcher};
use crate::wpa::handshake::NetworkSecret;
use crate::wpa::keystore::KeyEntry;

#[derive(Clone, Copy, Debug, ValueEnum, Default)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["read", "interface"])))]
pub struct WatchArgs {
    /// Capture file to read (pcap/pcapng, FIFO, `-` for stdin): 802.11
    /// (radiotap, Prism, PPI) or a wired tap (Ethernet, Linux SLL, null, raw IP).
    #[arg(short = 'r', long = "read", value_name = "FILE")]
    pub read: Option<String>,
    /// Live interface in monitor mode (`mon0`, `wlan0mon`, `en0` with --monitor).
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    pub interface: Option<String>,
    /// Ask libpcap to put the interface in monitor mode (rfmon; macOS en0).
    #[arg(long)]
    pub monitor: bool,
    /// BPF capture filter (libpcap syntax), live interfaces only.
    #[arg(short = 'f', long = "filter", value_name = "BPF")]
    pub filter: Option<String>,
    /// Stop after this many frames.
    #[arg(short = 'c', long = "count")]
    pub count: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<f64>,
    /// Decrypt worker threads (default: the number of cores).
    #[arg(long)]
    pub workers: Option<usize>,
    /// libpcap kernel buffer in MiB (live).
    #[arg(long, default_value_t = 32)]
    pub buffer_mb: i32,
    /// One JSON object per line (schema: docs/events.md) instead of readable lines.
    #[arg(long)]
    pub json: bool,
    /// Also append the JSON events to this file (reopened on SIGHUP).
    #[arg(long, value_name = "FILE")]
    pub jsonl: Option<PathBuf>,
    /// Write decrypted traffic as Ethernet to this pcap (rotated by --pcap-rotate-mb).
    #[arg(short = 'w', long = "write", value_name = "FILE.pcap")]
    pub write: Option<PathBuf>,
    #[arg(long, default_value_t = 100)]
    pub pcap_rotate_mb: u64,
    /// A one-line status on stderr every this many seconds (0: never).
    #[arg(long, default_value_t = 0)]
    pub status_interval: u64,
    /// Show passwords found in the clear (cnCloud.bind…) instead of masking them.
    #[arg(long)]
    pub show_secrets: bool,
    /// Print the decrypted JSON of every message.
    #[arg(long)]
    pub show_json: bool,
    /// Colour: auto (on a terminal), always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Do not print handshake events.
    #[arg(long)]
    pub quiet_wpa: bool,
    /// After the capture opens, drop privileges to this user (Linux).
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// Do not confine the process with Landlock after start-up.
    #[arg(long)]
    pub no_sandbox: bool,
    #[command(flatten)]
    pub keys: KeyArgs,
}

/// Where the frames come from.
#[derive(Debug, Clone)]
pub enum SourceSpec {
    File(String),
    Live(LiveOptions),
}

/// Everything a watch/daemon run needs.
pub struct RunConfig {
    pub source: SourceSpec,
    pub networks: Vec<NetworkSecret>,
    pub show_secrets: bool,
    pub workers: usize,
    pub limits: Limits,
    /// Events on stdout: `Some(true)` JSON lines, `Some(false)` readable, `None` nothing.
    pub stdout_json: Option<bool>,
    pub style: Style,
    pub quiet_wpa: bool,
    pub jsonl: Option<PathBuf>,
    pub pcap: Option<(PathBuf, u64)>,
    pub status_interval: Option<Duration>,
    pub user: Option<String>,
    /// Confine filesystem access to the output directories after start-up.
    pub sandbox: bool,
    /// `[[tplink_account]]` credentials for KLAP sessions.
    pub klap_accounts: Vec<crate::decoders::klap::session::KlapAccount>,
    /// Print the final summary on stdout (watch) or as a status line (daemon).
    pub summary_on_stdout: bool,
}

pub fn run(a: WatchArgs) -> Result<(), CliError> {
    let stdout = std::io::stdout();
    let color = match a.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    let source = match (&a.read, &a.interface) {
        (Some(r), _) => SourceSpec::File(r.clone()),
        (None, Some(i)) => {
            let mut o = LiveOptions::new(i);
            o.monitor = a.monitor;
            o.filter = a.filter.clone();
            o.buffer_size = a.buffer_mb.saturating_mul(1 << 20);
            SourceSpec::Live(o)
        }
        (None, None) => return Err(CliError::Usage("give -r FILE or -i IFACE".into())),
    };
    let cfg = RunConfig {
        source,
        networks: secrets::gather(&a.keys)?,
        show_secrets: a.show_secrets,
        workers: a.workers.unwrap_or_else(default_workers),
        limits: Limits {
            count: a.count,
            duration: a.duration.filter(|d| *d > 0.0).map(Duration::from_secs_f64),
        },
        stdout_json: Some(a.json),
        style: Style {
            color,
            show_json: a.show_json,
        },
        quiet_wpa: a.quiet_wpa,
        jsonl: a.jsonl,
        pcap: a.write.map(|p| (p, a.pcap_rotate_mb.max(1) << 20)),
        status_interval: (a.status_interval > 0).then(|| Duration::from_secs(a.status_interval)),
        user: a.user,
        sandbox: !a.no_sandbox,
        klap_accounts: match &a.keys.config {
            Some(path) => crate::cli::config::ConfigFile::load(path)?.klap_accounts(path)?,
            None => Vec::new(),
        },
        summary_on_stdout: true,
    };
    run_config(cfg)
}

pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The ordered stage of a watch run: the watcher plus the sinks.
struct Runner {
    w: Watcher,
    plain_dlt: Option<i32>,
    kind: crate::capture::link::LinkKind,
    forwarded_keys: usize,
    stdout: std::io::BufWriter<std::io::Stdout>,
    stdout_json: Option<bool>,
    style: Style,
    quiet_wpa: bool,
    jsonl: Option<JsonlFile>,
    error: Option<CliError>,
    stop: StopHandle,
    reopen: Arc<AtomicBool>,
    status_every: Option<Duration>,
    last_status: Instant,
    live: bool,
    last_progress: Progress,
}

impl Runner {
    fn emit_events(&mut self) {
        let events: Vec<Event> = self.w.drain_events().collect();
        for e in events {
            self.emit(&e);
        }
    }

    fn emit(&mut self, e: &Event) {
        if self.error.is_some() {
            return;
        }
        let r = (|| -> std::io::Result<()> {
            if let Some(j) = self.jsonl.as_mut() {
                j.write(e)?;
            }
            if self.quiet_wpa && matches!(e.body, EventBody::Handshake(_)) {
                return Ok(());
            }
            match self.stdout_json {
                Some(true) => writeln!(self.stdout, "{}", to_json_line(e))?,
                Some(false) => writeln!(self.stdout, "{}", render(e, self.style))?,
                None => {}
            }
            if self.live {
                self.stdout.flush()?;
                if let Some(j) = self.jsonl.as_mut() {
                    j.flush()?;
                }
            }
            Ok(())
        })();
        if let Err(err) = r {
            self.fail(CliError::Io {
                what: "writing events".into(),
                err,
            });
        }
    }

    fn fail(&mut self, e: CliError) {
        if self.error.is_none() {
            self.error = Some(e);
        }
        self.stop.stop();
    }

    fn housekeeping(&mut self, p: &Progress) {
        if self.reopen.swap(false, Ordering::SeqCst) {
            tracing::info!("SIGHUP: reopening output files");
            let r = (|| -> std::io::Result<()> {
                if let Some(j) = self.jsonl.as_mut() {
                    j.reopen()?;
                }
                if let Some(p) = self.w.pcap_out.as_mut() {
                    p.reopen()?;
                }
                Ok(())
            })();
            if let Err(err) = r {
                self.fail(CliError::Io {
                    what: "reopening output files".into(),
                    err,
                });
            }
        }
        if let Some(err) = self.w.out_error.take() {
            self.fail(CliError::Io {
                what: "writing the decrypted pcap".into(),
                err,
            });
        }
        if let Some(every) = self.status_every {
            if self.last_status.elapsed() >= every {
                self.last_status = Instant::now();
                eprintln!("plugsniff: status {}", status_line(&self.w, p));
            }
        }
    }
}

/// One line of counters; `captured = processed + shed_load` holds in it.
pub fn status_line(w: &Watcher, p: &Progress) -> String {
    let c = &w.engine.counters;
    let processed = if c.read > 0 { c.read } else { w.stats.msdus };
    format!(
        "captured={} processed={} shed_load={} decrypted={} plaintext={} dropped={} pcap_drop={} pcap_ifdrop={} flows={} devices={} messages={}",
        p.captured,
        processed,
        p.shed_load,
        c.decrypted,
        c.plaintext,
        c.dropped_total(),
        p.pcap.dropped,
        p.pcap.if_dropped,
        w.flow_count(),
        w.inventory.len(),
        w.stats.tplink_messages
    )
}

impl Ordered for Runner {
    fn frame(&mut self, f: &mut Frame) {
        match self.plain_dlt {
            Some(dlt) => self.w.process_plain(f.ts, dlt, &f.data),
            None => self
                .w
                .process_80211_pre(f.ts, self.kind, &f.data, f.orig_len, &mut f.pre),
        }
        self.emit_events();
    }
    fn new_keys(&mut self) -> Vec<Arc<KeyEntry>> {
        let h = self.w.engine.keys.history();
        let new = h.get(self.forwarded_keys..).unwrap_or(&[]).to_vec();
        self.forwarded_keys = h.len();
        new
    }
    fn batch_done(&mut self, p: &Progress) {
        self.last_progress = *p;
        self.housekeeping(p);
    }
    fn idle(&mut self, p: &Progress) {
        self.housekeeping(p);
    }
}

/// Installs SIGINT/SIGTERM (stop, drain, flush) and SIGHUP (reopen outputs).
fn signals(stop: StopHandle, reopen: Arc<AtomicBool>) -> Option<signal_hook::iterator::Handle> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut sigs = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]).ok()?;
    let handle = sigs.handle();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for s in sigs.forever() {
                if s == SIGHUP {
                    reopen.store(true, Ordering::SeqCst);
                } else {
                    tracing::info!("signal {s}: stopping");
                    stop.stop();
                }
            }
        })
        .ok()?;
    Some(handle)
}

/// Drops to an unprivileged user once the capture is open (Linux/Unix).
fn drop_privileges(user: &str) -> Result<(), CliError> {
    use nix::unistd::{Gid, Uid, User, setgid, setgroups, setuid};
    let u = User::from_name(user)
        .map_err(|e| CliError::Usage(format!("--user {user}: {e}")))?
        .ok_or_else(|| CliError::Usage(format!("--user {user}: no such user")))?;
    if !Uid::effective().is_root() {
        return Err(CliError::Usage(
            "--user needs plugsniff to start as root".into(),
        ));
    }
    let gid = Gid::from_raw(u.gid.as_raw());
    #[cfg(not(target_os = "macos"))]
    setgroups(&[gid]).map_err(|e| CliError::Usage(format!("setgroups: {e}")))?;
    #[cfg(target_os = "macos")]
    let _ = setgroups;
    setgid(gid).map_err(|e| CliError::Usage(format!("setgid: {e}")))?;
    setuid(u.uid).map_err(|e| CliError::Usage(format!("setuid: {e}")))?;
    tracing::info!("dropped privileges to {user} (uid {})", u.uid);
    Ok(())
}

pub fn run_config(cfg: RunConfig) -> Result<(), CliError> {
    let source = match &cfg.source {
        SourceSpec::File(p) => Source::File(FileSource::open_any(
            p,
            crate::flows::ip::supported_plain_dlt,
        )?),
        SourceSpec::Live(o) => {
            let l = LiveSource::open(o)?;
            eprintln!(
                "plugsniff: capturing on {} ({}, snaplen {}, buffer {} MiB)",
                l.interface,
                l.kind.name(),
                o.snaplen,
                o.buffer_size >> 20
            );
            Source::Live(l)
        }
    };
    let plain_dlt = source.kind().is_none().then(|| source.dlt());
    if plain_dlt.is_none() && cfg.networks.is_empty() {
        eprintln!(
            "plugsniff: warning: no key given (--config, {}): only unencrypted traffic will be decoded",
            secrets::ENV_PASSPHRASE
        );
    }
    let live = source.is_live();
    // Outputs open before privileges are dropped.
    let jsonl = match &cfg.jsonl {
        Some(p) => Some(JsonlFile::open(p).map_err(|err| CliError::Io {
            what: format!("cannot open {}", p.display()),
            err,
        })?),
        None => None,
    };
    let mut w = Watcher::new(
        cfg.networks,
        WatchOptions {
            show_secrets: cfg.show_secrets,
            klap_accounts: cfg.klap_accounts,
        },
    );
    if let Some((p, max)) = &cfg.pcap {
        w.pcap_out = Some(
            RotatingPcap::create(p, LINKTYPE_ETHERNET, *max, 10).map_err(|err| CliError::Io {
                what: format!("cannot create {}", p.display()),
                err,
            })?,
        );
    }
    if let Some(u) = &cfg.user {
        drop_privileges(u)?;
    }
    if cfg.sandbox {
        let mut dirs: Vec<PathBuf> = Vec::new();
        dirs.extend(cfg.jsonl.as_deref().map(super::sandbox::parent_dir));
        dirs.extend(
            cfg.pcap
                .as_ref()
                .map(|(p, _)| super::sandbox::parent_dir(p)),
        );
        let c = super::sandbox::confine(&dirs);
        tracing::info!("filesystem confinement (Landlock): {c:?}");
    }
    let stop = StopHandle::default();
    let reopen = Arc::new(AtomicBool::new(false));
    let sig = signals(stop.clone(), reopen.clone());
    let mut r = Runner {
        w,
        plain_dlt,
        kind: source
            .kind()
            .unwrap_or(crate::capture::link::LinkKind::Ieee80211),
        forwarded_keys: 0,
        stdout: std::io::BufWriter::new(std::io::stdout()),
        stdout_json: cfg.stdout_json,
        style: cfg.style,
        quiet_wpa: cfg.quiet_wpa,
        jsonl,
        error: None,
        stop: stop.clone(),
        reopen,
        status_every: cfg.status_interval,
        last_status: Instant::now(),
        live,
        last_progress: Progress::default(),
    };
    let outcome = pipeline::run(source, cfg.workers, cfg.limits, stop, &mut r);
    if let Some(h) = sig {
        h.close();
    }
    r.w.finish();
    r.emit_events();
    let final_progress = outcome.progress;
    // Final outputs: summary, flushed files.
    let pcap_out = r.w.pcap_out.take();
    let summary = WatchSummary::new(&r.w);
    let (summary_json, summary_text) = (summary.to_json_line(), summary.to_text(r.style));
    drop(summary);
    let finish = || -> std::io::Result<()> {
        if let Some(j) = r.jsonl.as_mut() {
            j.write_line(&summary_json)?;
            j.flush()?;
        }
        if cfg.summary_on_stdout {
            match r.stdout_json {
                Some(true) => writeln!(r.stdout, "{summary_json}")?,
                Some(false) => write!(r.stdout, "{summary_text}")?,
                None => {}
            }
        }
        r.stdout.flush()?;
        if let Some(p) = pcap_out {
            p.finish()?;
        }
        Ok(())
    };
    if let Err(err) = finish() {
        r.fail(CliError::Io {
            what: "finishing outputs".into(),
            err,
        });
    }
    if live || cfg.status_interval.is_some() {
        eprintln!("plugsniff: final {}", status_line(&r.w, &final_progress));
    }
    if let Some(e) = r.error {
        return Err(e);
    }
    match outcome.error {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}
