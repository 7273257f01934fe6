//! `plugsniff watch (-r FILE | -i IFACE)`: decrypt and decode, printing what
//! the plugs say as it happens, then a summary. Also the engine room of
//! `plugsniff daemon` ([`run_config`]): the same pipeline with sinks chosen in
//! the config file, run until SIGINT/SIGTERM.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};

use super::{CliError, KeyArgs, secrets};
use crate::capture::filter::BpfFilter;
use crate::capture::live::{LiveOptions, LiveSource};
use crate::capture::{CaptureError, FileSource};
use crate::output::dest::{self, InputSpec, OutputSpec, Role, Target};
use crate::output::files::{JsonlFile, PcapTap, ROTATE_KEEP, RotatingPcap};
use crate::output::json::to_json_line;
use crate::output::live::{Style, render};
use crate::output::pcap_out::LINKTYPE_ETHERNET;
use crate::output::watch_summary::WatchSummary;
use crate::pipeline::{self, Frame, Limits, Ordered, Progress, Source, StopHandle};
use crate::report::counters::Count;
use crate::report::event::{Event, EventBody};
use crate::watch::Watcher;
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
    /// Live interface: in monitor mode (`mon0`, `wlan0mon`, `en0` with
    /// --monitor), or a wired one (Ethernet, loopback, raw IP) on the plugs' LAN.
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    pub interface: Option<String>,
    /// Ask libpcap to put the interface in monitor mode (rfmon; macOS en0).
    #[arg(long)]
    pub monitor: bool,
    /// BPF capture filter (pcap-filter(7) syntax, as tcpdump): set on a live
    /// interface, applied to every frame of a file. Needs libpcap.
    #[arg(short = 'f', long = "filter", value_name = "BPF")]
    pub filter: Option<String>,
    /// Stop after this many frames (that passed -f); 1 or more.
    #[arg(short = 'c', long = "count", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
    /// Stop after this many seconds (0..=31536000, decimals allowed; 0: no limit).
    #[arg(long, value_name = "SECONDS", value_parser = super::bounds::parse_duration)]
    pub duration: Option<f64>,
    /// Decrypt worker threads, 1..=256 (default: one per core with -i; with -r one per core but one, at least 1).
    #[arg(long, value_parser = clap::builder::RangedU64ValueParser::<usize>::new()
        .range(super::bounds::WORKERS))]
    pub workers: Option<usize>,
    /// libpcap kernel buffer in MiB (live), 1..=2047.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(i32)
        .range(super::bounds::BUFFER_MB))]
    pub buffer_mb: i32,
    /// One JSON object per line (schema: docs/events.md) instead of readable lines.
    #[arg(long)]
    pub json: bool,
    /// Also append the JSON events to this file (mode 0600; reopened on SIGHUP).
    #[arg(long, value_name = "FILE")]
    pub jsonl: Option<PathBuf>,
    /// Write decrypted traffic as Ethernet to this pcap (rotated by
    /// --pcap-rotate-mb); `-` for standard output (then every readable line
    /// goes to stderr). Never an input, a directory or a device.
    #[arg(short = 'w', long = "write", value_name = "FILE.pcap")]
    pub write: Option<PathBuf>,
    /// Rotate the -w pcap at this size, MiB (0..=1048576; 0: never).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64)
        .range(super::bounds::ROTATE_MB))]
    pub pcap_rotate_mb: u64,
    /// A one-line status on stderr every this many seconds (0..=86400; 0: never).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64)
        .range(super::bounds::STATUS_INTERVAL))]
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
    /// A live dashboard instead of lines: devices with power sparklines,
    /// the radio and capture counters, events, each device's messages
    /// (q quit, / filter, p pause, s sort, Enter messages). Needs a terminal.
    #[arg(long, conflicts_with = "json")]
    pub tui: bool,
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
    /// A capture file and its `-f` filter (applied frame by frame).
    File {
        path: String,
        filter: Option<String>,
    },
    /// An interface; its filter is [`LiveOptions::filter`].
    Live(LiveOptions),
}

/// Everything a watch/daemon run needs.
pub struct RunConfig {
    pub source: SourceSpec,
    pub networks: Vec<NetworkSecret>,
    pub workers: usize,
    pub limits: Limits,
    /// Events on stdout: `Some(true)` JSON lines, `Some(false)` readable, `None` nothing.
    pub stdout_json: Option<bool>,
    pub style: Style,
    pub quiet_wpa: bool,
    /// The JSON-lines file and the rotating pcap (rotation size in bytes,
    /// 0: never), checked by [`check_outputs`].
    pub jsonl: Option<Target>,
    pub pcap: Option<(Target, u64)>,
    pub status_interval: Option<Duration>,
    pub user: Option<String>,
    /// Confine filesystem access to the output directories after start-up.
    pub sandbox: bool,
    /// The decoders' keys (config file) and `--show-secrets`.
    pub decoders: crate::decoders::DecoderConfig,
    /// Consumers beside stdout and the JSONL file (from the config's
    /// `[output.*]` sections).
    pub sinks: Vec<Box<dyn crate::output::EventSink>>,
    /// Print the final summary on stdout (watch) or as a status line (daemon).
    pub summary_on_stdout: bool,
}

/// Checks the outputs of a watch or daemon run against its inputs (the
/// capture file, the key files) before anything is read: see
/// [`crate::output::dest`]. `pcap` is (flag, path, whether `-` is stdout).
pub fn check_outputs(
    read: Option<&str>,
    key_files: &[(&'static str, PathBuf)],
    jsonl: Option<(&'static str, &Path)>,
    pcap: Option<(&'static str, &Path, bool)>,
) -> Result<(Option<Target>, Option<Target>), CliError> {
    let mut inputs: Vec<InputSpec<'_>> = read
        .map(|r| InputSpec {
            flag: "-r",
            path: Path::new(r),
        })
        .into_iter()
        .collect();
    inputs.extend(
        key_files
            .iter()
            .map(|(flag, p)| InputSpec { flag, path: p }),
    );
    let mut outputs = Vec::new();
    if let Some((flag, p)) = jsonl {
        outputs.push(OutputSpec::new(flag, p, Role::Append));
    }
    if let Some((flag, p, stdout_ok)) = pcap {
        let o = OutputSpec::new(flag, p, Role::Rotated { keep: ROTATE_KEEP });
        outputs.push(if stdout_ok { o.or_stdout() } else { o });
    }
    let mut t = dest::check(&inputs, &outputs)?.into_iter();
    Ok((jsonl.and_then(|_| t.next()), pcap.and_then(|_| t.next())))
}

pub fn run(a: WatchArgs) -> Result<(), CliError> {
    if a.tui && a.write.as_deref() == Some(Path::new("-")) {
        return Err(CliError::Usage(
            "--tui draws on standard output: -w - cannot write the pcap there too \
             (name a file for -w)"
                .into(),
        ));
    }
    if a.tui && !std::io::stdout().is_terminal() {
        return Err(CliError::Usage(
            "--tui needs standard output to be a terminal (without --tui, events are \
             printed as lines; --json for machines)"
                .into(),
        ));
    }
    if a.json && a.write.as_deref() == Some(Path::new("-")) {
        return Err(CliError::Usage(
            "-w - writes the pcap to standard output: --json cannot go there too \
             (drop --json, use --jsonl FILE, or name a file for -w)"
                .into(),
        ));
    }
    let (jsonl, pcap) = check_outputs(
        a.read.as_deref(),
        &secrets::input_files(&a.keys),
        a.jsonl.as_deref().map(|p| ("--jsonl", p)),
        a.write.as_deref().map(|p| ("-w", p, true)),
    )?;
    let stdout = std::io::stdout();
    let color = match a.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    let source = match (&a.read, &a.interface) {
        (Some(r), _) => SourceSpec::File {
            path: r.clone(),
            filter: a.filter.clone(),
        },
        (None, Some(i)) => {
            let mut o = LiveOptions::new(i);
            o.monitor = a.monitor;
            o.accept_plain = Some(crate::flows::ip::supported_plain_dlt);
            o.filter = a.filter.clone();
            o.buffer_size = a.buffer_mb.saturating_mul(1 << 20);
            SourceSpec::Live(o)
        }
        (None, None) => return Err(CliError::Usage("give -r FILE or -i IFACE".into())),
    };
    let label = match (&a.read, &a.interface) {
        (Some(r), _) => Path::new(r)
            .file_name()
            .map_or(r.clone(), |n| n.to_string_lossy().into_owned()),
        (None, i) => i.clone().unwrap_or_default(),
    };
    let live = matches!(source, SourceSpec::Live(_));
    let mut cfg = RunConfig {
        source,
        networks: secrets::gather(&a.keys)?,
        workers: a
            .workers
            .unwrap_or_else(|| super::bounds::default_workers(live)),
        limits: Limits {
            count: a.count,
            duration: a.duration.filter(|d| *d > 0.0).map(Duration::from_secs_f64),
            filter: None,
        },
        stdout_json: (!a.tui).then_some(a.json),
        style: Style {
            color,
            show_json: a.show_json,
        },
        quiet_wpa: a.quiet_wpa,
        jsonl,
        pcap: pcap.map(|t| (t, a.pcap_rotate_mb << 20)),
        status_interval: (a.status_interval > 0).then(|| Duration::from_secs(a.status_interval)),
        user: a.user,
        sandbox: !a.no_sandbox,
        decoders: match &a.keys.config {
            Some(path) => {
                crate::cli::config::ConfigFile::load(path)?.decoder_config(path, a.show_secrets)?
            }
            None => crate::decoders::DecoderConfig {
                show_secrets: a.show_secrets,
                ..Default::default()
            },
        },
        sinks: config_sinks(a.keys.config.as_deref(), {
            let mut inputs = secrets::input_files(&a.keys);
            inputs.extend(a.read.as_ref().map(|r| ("-r", PathBuf::from(r))));
            inputs
        })?,
        summary_on_stdout: !a.tui,
    };
    if !a.tui {
        return run_config(cfg);
    }
    // The dashboard takes the terminal after everything that may prompt
    // or fail on the command line, before the capture opens.
    let stop = StopHandle::default();
    let quit = stop.clone();
    let (sink, ui) =
        crate::output::tui::start(label, Box::new(move || quit.stop())).map_err(|err| {
            CliError::Io {
                what: "starting the dashboard".into(),
                err,
            }
        })?;
    cfg.sinks.push(Box::new(sink));
    let result = run_config_with_stop(cfg, stop);
    // A run that failed shows nothing worth staying for; one that ended
    // (or only found no key to confirm) stays until `q`.
    if result
        .as_ref()
        .is_err_and(|e| !matches!(e, CliError::KeysUnconfirmed(_)))
    {
        ui.close();
    }
    let (exit, last) = ui.wait().map_err(|err| CliError::Io {
        what: "the dashboard".into(),
        err,
    })?;
    if let Some(s) = last {
        eprintln!(
            "plugsniff: dashboard closed ({}): {} device(s), {} message(s) decoded{}",
            match exit {
                crate::output::tui::Exit::Quit => "q",
                crate::output::tui::Exit::Signal => "signal",
                crate::output::tui::Exit::Closed => "the run ended",
            },
            s.counters.devices,
            s.counters.messages,
            if s.finished {
                ""
            } else {
                " (capture still running when closed)"
            }
        );
    }
    result
}

/// The sinks of `--config`'s `[output.mqtt]`, `[output.metrics]` and
/// `[output] history`, as the daemon starts them (`cli::outputs`). `inputs`:
/// the files the run reads, which no output may be.
fn config_sinks(
    path: Option<&str>,
    inputs: Vec<(&'static str, PathBuf)>,
) -> Result<Vec<Box<dyn crate::output::EventSink>>, CliError> {
    let Some(path) = path else {
        return Ok(Vec::new());
    };
    let out = crate::cli::config::ConfigFile::load(path)?
        .output
        .unwrap_or_default();
    let mut sinks = super::outputs::start(out.mqtt.as_ref(), out.metrics.as_ref(), path)?;
    sinks.extend(super::outputs::history(out.history.as_deref(), inputs)?);
    Ok(sinks)
}

/// The ordered stage of a watch run: the watcher plus the sinks.
struct Runner {
    w: Watcher,
    /// Consumers beside stdout and the JSONL file (MQTT, metrics, dashboard).
    sinks: Vec<Box<dyn crate::output::EventSink>>,
    /// `-w`: decrypted traffic to a rotating pcap.
    tap: PcapTap,
    forwarded_keys: usize,
    /// Standard output, or stderr while stdout carries the pcap (`-w -`).
    stdout: std::io::BufWriter<Box<dyn Write>>,
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

    /// What the sinks read beside the events.
    fn view(&self) -> crate::output::RunView<'_> {
        let p = &self.last_progress;
        crate::output::RunView {
            inventory: &self.w.an.inventory,
            stats: &self.w.an.stats,
            engine: &self.w.engine,
            capture: crate::report::counters::CaptureCounts {
                captured: p.captured,
                filtered: p.filtered,
                shed_load: p.shed_load,
                pcap_dropped: p.pcap.dropped,
                pcap_if_dropped: p.pcap.if_dropped,
                queued_batches: p.queued_batches,
            },
        }
    }

    /// Runs `f` on every sink; the first error stops the run.
    fn each_sink(
        &mut self,
        f: impl Fn(
            &mut dyn crate::output::EventSink,
            &crate::output::RunView<'_>,
        ) -> std::io::Result<()>,
    ) {
        let mut sinks = std::mem::take(&mut self.sinks);
        let mut err = None;
        {
            let view = self.view();
            for s in &mut sinks {
                if let Err(e) = f(s.as_mut(), &view) {
                    err = Some(e);
                    break;
                }
            }
        }
        self.sinks = sinks;
        if let Some(err) = err {
            self.fail(CliError::Io {
                what: "an output sink".into(),
                err,
            });
        }
    }

    fn emit(&mut self, e: &Event) {
        if self.error.is_some() {
            return;
        }
        if !self.sinks.is_empty() {
            self.each_sink(|s, v| s.event(e, v));
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
        if !self.sinks.is_empty() {
            self.each_sink(|s, v| s.tick(v));
        }
        if self.reopen.swap(false, Ordering::SeqCst) {
            tracing::info!("SIGHUP: reopening output files");
            let r = (|| -> std::io::Result<()> {
                if let Some(j) = self.jsonl.as_mut() {
                    j.reopen()?;
                }
                if let Some(p) = self.tap.out.as_mut() {
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
        if let Some(err) = self.tap.error.take() {
            self.fail(CliError::Io {
                what: "writing the decrypted pcap".into(),
                err,
            });
        }
        if let Some(every) = self.status_every
            && self.last_status.elapsed() >= every
        {
            self.last_status = Instant::now();
            eprintln!("plugsniff: status {}", status_line(&self.w, p));
        }
    }
}

/// One line of counters; `captured = processed + filtered + shed_load`
/// holds in it (`filtered`: frames of a file that did not match `-f`).
pub fn status_line(w: &Watcher, p: &Progress) -> String {
    let c = &w.engine.counters;
    let processed = if c.read > 0 { c.read } else { w.msdus() };
    format!(
        "captured={} processed={} filtered={} shed_load={} decrypted={} plaintext={} dropped={} pcap_drop={} pcap_ifdrop={} flows={} devices={} messages={}",
        p.captured,
        processed,
        p.filtered,
        p.shed_load,
        c.decrypted,
        c.plaintext,
        c.dropped_total(),
        p.pcap.dropped,
        p.pcap.if_dropped,
        w.flow_count(),
        w.an.inventory.len(),
        w.an.stats.get(Count::TplinkMessages)
    )
}

impl Ordered for Runner {
    fn frame(&mut self, f: &mut Frame) {
        // Each frame carries its interface's link type (pcapng may mix them).
        match crate::wire::link::LinkKind::from_dlt(f.dlt) {
            Some(kind) => {
                self.w
                    .process_80211_pre(f.ts, kind, &f.data, f.orig_len, &mut f.pre, &mut self.tap)
            }
            None if crate::flows::ip::supported_plain_dlt(f.dlt) => {
                self.w.process_plain(f.ts, f.dlt, &f.data)
            }
            None => self.w.engine.skip_not_dot11(),
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
    run_config_with_stop(cfg, StopHandle::default())
}

/// [`run_config`], stopped also by `stop` (the dashboard's `q`).
pub fn run_config_with_stop(cfg: RunConfig, stop: StopHandle) -> Result<(), CliError> {
    let mut file_filter = None;
    let source = match &cfg.source {
        SourceSpec::File { path, filter } => {
            let f = FileSource::open_any(path, crate::flows::ip::supported_plain_dlt)?;
            if let Some(expr) = filter {
                // Compiled now: a bad expression stops before the run (exit 2).
                file_filter = Some(BpfFilter::new(expr, f.dlt).map_err(CaptureError::from)?);
            }
            Source::File(f)
        }
        SourceSpec::Live(o) => {
            let l = LiveSource::open(o)?;
            eprintln!(
                "plugsniff: capturing on {} ({}, snaplen {}, buffer {} MiB)",
                l.interface,
                l.link_name,
                o.snaplen,
                o.buffer_size >> 20
            );
            if l.plain {
                eprintln!(
                    "plugsniff: {} is a wired link ({}): its IP traffic is decoded as it is, \
                     without 802.11 or decryption (for Wi-Fi use a monitor-mode interface, \
                     see docs/hardware.md)",
                    l.interface, l.link_name
                );
            }
            Source::Live(l)
        }
    };
    if source.kind().is_some() && cfg.networks.is_empty() {
        eprintln!(
            "plugsniff: warning: no key given (--config, {}): only unencrypted traffic will be decoded",
            secrets::ENV_PASSPHRASE
        );
    }
    let live = source.is_live();
    let file_source = !live;
    let keys_given = !cfg.networks.is_empty();
    // Outputs open before privileges are dropped.
    let jsonl = match &cfg.jsonl {
        Some(t) => Some(
            JsonlFile::open_target(t.clone()).map_err(|err| CliError::Io {
                what: format!("cannot open {}", t.display()),
                err,
            })?,
        ),
        None => None,
    };
    let w = Watcher::new(cfg.networks, cfg.decoders);
    let mut tap = PcapTap::default();
    if let Some((t, max)) = &cfg.pcap {
        tap.out = Some(
            RotatingPcap::create_target(t.clone(), LINKTYPE_ETHERNET, *max, ROTATE_KEEP).map_err(
                |err| CliError::Io {
                    what: format!("cannot create {}", t.display()),
                    err,
                },
            )?,
        );
    }
    let pcap_on_stdout = matches!(cfg.pcap, Some((Target::Stdout, _)));
    if let Some(u) = &cfg.user {
        drop_privileges(u)?;
    }
    if cfg.sandbox {
        let mut dirs: Vec<PathBuf> = Vec::new();
        dirs.extend(
            cfg.jsonl
                .as_ref()
                .and_then(Target::path)
                .map(super::sandbox::parent_dir),
        );
        dirs.extend(
            cfg.pcap
                .as_ref()
                .and_then(|(t, _)| t.path())
                .map(super::sandbox::parent_dir),
        );
        for s in &cfg.sinks {
            dirs.extend(s.writable_dirs());
        }
        let c = super::sandbox::confine(&dirs);
        tracing::info!("filesystem confinement (Landlock): {c:?}");
    }
    let reopen = Arc::new(AtomicBool::new(false));
    let sig = signals(stop.clone(), reopen.clone());
    let mut r = Runner {
        w,
        sinks: cfg.sinks,
        tap,
        forwarded_keys: 0,
        stdout: std::io::BufWriter::new(if pcap_on_stdout {
            Box::new(std::io::stderr())
        } else {
            Box::new(std::io::stdout())
        }),
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
    let mut limits = cfg.limits;
    limits.filter = file_filter;
    let outcome = pipeline::run(source, cfg.workers, limits, stop, &mut r);
    if let Some(h) = sig {
        h.close();
    }
    r.w.input_ended_at(outcome.progress.last_ts);
    r.w.finish();
    r.emit_events();
    let final_progress = outcome.progress;
    // Final outputs: summary, flushed files.
    if !r.sinks.is_empty() {
        r.last_progress = final_progress;
        r.each_sink(|s, v| s.finish(v));
    }
    let pcap_out = r.tap.out.take();
    let fs = r.w.flow_stats();
    let flows = crate::output::watch_summary::FlowCounts {
        created: fs.created,
        open_at_end: r.w.flow_count(),
        evicted_no_payload: fs.evicted_no_payload,
        refused_table_full: fs.refused_full,
    };
    let summary = WatchSummary::new(
        &r.w.an.inventory,
        flows,
        &r.w.an.stats,
        &r.w.engine,
        r.w.last_ts(),
    );
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
    if let Some(e) = outcome.error {
        return Err(e.into());
    }
    // `watch -r`: keys given, handshakes seen, every MIC failed (exit 5).
    match crate::output::summary::keys_unconfirmed(&r.w.engine, keys_given) {
        Some(msg) if file_source => Err(CliError::KeysUnconfirmed(msg)),
        _ => Ok(()),
    }
}
