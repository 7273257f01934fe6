//! `plugsniff decrypt IN -o OUT.pcap`: decrypt a capture into a pcap that
//! Wireshark opens without keys, and print what happened to every frame.
//!
//! Outputs (`-o`, `--export-keys`) are checked by [`crate::output::dest`]
//! before anything is read: never an input, a directory or a device. `-o -`
//! writes the pcap to standard output and every human line to stderr.
//! SIGINT/SIGTERM stop the run: the outputs are removed (an interrupted
//! decryption is not the file asked for), and the process ends by the signal.
//! Exit 5 after the summary when keys were given, handshakes seen, and every
//! MIC failed.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

use clap::Args;

use super::{CliError, KeyArgs, secrets};
use crate::capture::filter::BpfFilter;
use crate::capture::{CaptureError, FileSource};
use crate::engine::{Engine, Mpdu, Msdu, Sink};
use crate::output::dest::{self, InputSpec, OutputSpec, Role};
use crate::output::pcap_out::{Format, LINKTYPE_ETHERNET, LINKTYPE_IEEE802_11, PcapWriter};
use crate::output::{keys_out, summary::WifiSummary};
use crate::pipeline::{self, Frame, Limits, Ordered, Progress, Source, StopHandle};

#[derive(Args)]
pub struct DecryptArgs {
    /// Capture to read: pcap or pcapng file, FIFO, or `-` for standard input.
    pub input: String,
    /// Decrypted pcap to write (Ethernet frames by default; `.pcapng` →
    /// pcapng); `-` for standard output (`| wireshark -k -i -`). Never an
    /// input, a directory or a device; a FIFO is written directly.
    #[arg(short, long, value_name = "OUT.pcap")]
    pub output: Option<PathBuf>,
    /// Read only the frames this BPF filter matches (pcap-filter(7) syntax,
    /// as tcpdump and tshark -f; needs libpcap), e.g. `wlan host 00:11:22:33:44:55`.
    #[arg(short = 'f', long = "filter", value_name = "BPF")]
    pub filter: Option<String>,
    /// Write 802.11 frames (DLT 105, Protected bit cleared) instead of Ethernet.
    #[arg(long)]
    pub keep_80211: bool,
    /// Also write data frames that were not encrypted (EAPOL, open networks).
    #[arg(long)]
    pub include_plaintext: bool,
    /// Write the derived keys in Wireshark's 80211_keys format (secret!
    /// Mode 0600, even when it replaces a file).
    #[arg(long, value_name = "FILE")]
    pub export_keys: Option<PathBuf>,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Decrypt worker threads, 1..=256 (default: one per core but one, at least 1).
    #[arg(long, value_parser = clap::builder::RangedU64ValueParser::<usize>::new()
        .range(super::bounds::WORKERS))]
    pub workers: Option<usize>,
    /// Write only the frames of this access point (repeatable), as
    /// airdecap-ng's `-b`. `--ssid` selects by network name the same way
    /// (airdecap-ng's `-e`): only BSSes announcing it are written. Frames of
    /// other networks are still read (their handshakes count in the summary)
    /// and counted as not selected.
    #[arg(short = 'b', long = "bssid", value_name = "MAC", value_parser = parse_bssid)]
    pub bssid: Vec<crate::wire::MacAddr>,
    #[command(flatten)]
    pub keys: KeyArgs,
}

fn parse_bssid(s: &str) -> Result<crate::wire::MacAddr, String> {
    crate::wire::MacAddr::parse_any(s)
        .filter(|m| !m.is_group())
        .ok_or_else(|| format!("{s:?} is not a unicast MAC address (aa:bb:cc:dd:ee:ff)"))
}

/// Which networks' frames are written (`--bssid`, `--ssid`); all when neither
/// is given.
#[derive(Default)]
pub struct Selection {
    bssids: Vec<crate::wire::MacAddr>,
    ssid: Option<Vec<u8>>,
    /// BSSIDs announcing `ssid`, as of `epoch` of the engine's tracker.
    by_ssid: Vec<crate::wire::MacAddr>,
    epoch: Option<u64>,
    /// Frames (MSDUs or MPDUs) of other networks, not written.
    pub not_selected: u64,
}

impl Selection {
    fn active(&self) -> bool {
        !self.bssids.is_empty() || self.ssid.is_some()
    }

    /// Re-reads the BSSIDs of the selected SSID when the tracker learned an
    /// SSID since the last call (`O(1)` otherwise).
    fn refresh(&mut self, tracker: &crate::wpa::handshake::Tracker) {
        let Some(ssid) = &self.ssid else { return };
        if self.epoch == Some(tracker.ssid_epoch()) {
            return;
        }
        self.epoch = Some(tracker.ssid_epoch());
        self.by_ssid = tracker.bssids_of(ssid).collect();
    }

    /// True when a frame of `bssid` is to be written (counted otherwise).
    fn admits(&mut self, bssid: Option<crate::wire::MacAddr>) -> bool {
        if !self.active() {
            return true;
        }
        let ok = bssid.is_some_and(|b| self.bssids.contains(&b) || self.by_ssid.contains(&b));
        if !ok {
            self.not_selected += 1;
        }
        ok
    }
}

/// The ordered stage of `decrypt`: the engine writing into the pcap sink.
struct DecryptOrdered {
    engine: Engine,
    sink: PcapSink,
    forwarded: usize,
    stop: StopHandle,
}

impl Ordered for DecryptOrdered {
    fn frame(&mut self, f: &mut Frame) {
        self.sink.select.refresh(&self.engine.tracker);
        // Each frame carries its interface's link type (pcapng may mix them).
        match crate::wire::link::LinkKind::from_dlt(f.dlt) {
            Some(kind) => {
                self.engine
                    .process_pre(f.ts, kind, &f.data, f.orig_len, &mut f.pre, &mut self.sink)
            }
            None => self.engine.skip_not_dot11(),
        }
    }
    fn new_keys(&mut self) -> Vec<std::sync::Arc<crate::wpa::keystore::KeyEntry>> {
        let h = self.engine.keys.history();
        let new = h.get(self.forwarded..).unwrap_or(&[]).to_vec();
        self.forwarded = h.len();
        new
    }
    fn batch_done(&mut self, _p: &Progress) {
        if self.sink.error.is_some() {
            self.stop.stop();
        }
    }
}

/// Writes what the engine produces to the output pcap.
pub struct PcapSink {
    pub writer: Option<PcapWriter>,
    pub keep_80211: bool,
    pub include_plaintext: bool,
    pub error: Option<io::Error>,
    /// Ethernet output: each MSDU once (as `watch -w` writes it).
    pub dedup: crate::output::pcap_out::EthernetDedup,
    pub select: Selection,
}

impl PcapSink {
    fn record(&mut self, r: io::Result<()>) {
        if let Err(e) = r
            && self.error.is_none()
        {
            self.error = Some(e);
        }
    }
}

impl Sink for PcapSink {
    fn mpdu(&mut self, m: &Mpdu<'_>) {
        if !self.keep_80211 || (!m.decrypted && !self.include_plaintext) || self.error.is_some() {
            return;
        }
        if self.select.active() {
            let bssid = crate::wire::dot11::Dot11::new_checked(m.frame, false)
                .ok()
                .and_then(|d| d.bssid());
            if !self.select.admits(bssid) {
                return;
            }
        }
        if let Some(w) = self.writer.as_mut() {
            let r = w.write(m.ts, m.frame);
            self.record(r);
        }
    }
    fn msdu(&mut self, m: &Msdu<'_>) {
        if self.keep_80211 {
            return;
        }
        let wanted = (m.decrypted || self.include_plaintext) && self.error.is_none();
        if !self.dedup.keep(m, wanted) || !self.select.admits(m.bssid) {
            return;
        }
        if let Some(w) = self.writer.as_mut() {
            let r = w.write_msdu_as_ethernet(m);
            self.record(r);
        }
    }
}

/// Installs SIGINT/SIGTERM: stop the pipeline and remember the signal.
fn signals(stop: StopHandle) -> (Arc<AtomicI32>, Option<signal_hook::iterator::Handle>) {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let got = Arc::new(AtomicI32::new(0));
    let Ok(mut sigs) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
        return (got, None);
    };
    let handle = sigs.handle();
    let got2 = got.clone();
    let spawned = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for s in sigs.forever() {
                got2.store(s, Ordering::SeqCst);
                stop.stop();
            }
        });
    (got, spawned.ok().map(|_| handle))
}

pub fn run(a: DecryptArgs) -> Result<(), CliError> {
    // Every output checked before anything is read or prompted for.
    let to_stdout = a.output.as_deref() == Some(Path::new("-"));
    if to_stdout && a.json {
        return Err(CliError::Usage(
            "-o - writes the pcap to standard output: --json cannot go there too \
             (drop --json, or name a file for -o)"
                .into(),
        ));
    }
    let key_files = secrets::input_files(&a.keys);
    let mut inputs = vec![InputSpec {
        flag: "the capture",
        path: Path::new(&a.input),
    }];
    inputs.extend(
        key_files
            .iter()
            .map(|(flag, p)| InputSpec { flag, path: p }),
    );
    let mut outputs = Vec::new();
    if let Some(p) = &a.output {
        outputs.push(OutputSpec::new("-o", p, Role::Replace).or_stdout());
    }
    if let Some(p) = &a.export_keys {
        outputs.push(OutputSpec::new("--export-keys", p, Role::Replace));
    }
    let mut targets = dest::check(&inputs, &outputs)?.into_iter();
    let out_target = a.output.as_ref().and_then(|_| targets.next());
    let keys_target = a.export_keys.as_ref().and_then(|_| targets.next());
    // Human output goes to stderr while stdout carries the pcap.
    let say: fn(std::fmt::Arguments<'_>) = if to_stdout {
        super::write_stderr
    } else {
        super::write_stdout
    };

    let networks = secrets::gather(&a.keys)?;
    if networks.is_empty() {
        return Err(CliError::Usage(format!(
            "no key given: use --config FILE, {} (with --ssid), or run on a terminal to be prompted",
            secrets::ENV_PASSPHRASE
        )));
    }
    let src = FileSource::open(&a.input)?;
    // Compiled before anything is written: a bad expression is exit 2.
    let filter = match &a.filter {
        Some(expr) => Some(BpfFilter::new(expr, src.dlt).map_err(CaptureError::from)?),
        None => None,
    };
    let writer = match &out_target {
        Some(t) => Some(
            PcapWriter::create_target(
                t,
                if a.keep_80211 {
                    LINKTYPE_IEEE802_11
                } else {
                    LINKTYPE_ETHERNET
                },
                t.path().map_or(Format::Pcap, Format::from_path),
            )
            .map_err(|err| CliError::Io {
                what: format!("cannot create {}", t.display()),
                err,
            })?,
        ),
        None => None,
    };
    let sink = PcapSink {
        writer,
        keep_80211: a.keep_80211,
        include_plaintext: a.include_plaintext,
        error: None,
        dedup: Default::default(),
        select: Selection {
            bssids: a.bssid.clone(),
            ssid: a.keys.ssid.as_ref().map(|s| s.as_bytes().to_vec()),
            ..Selection::default()
        },
    };
    let engine = Engine::new(networks);
    // Decryption on every core: workers pre-decrypt, the engine keeps order
    // and state (see src/pipeline). A file source never drops.
    let stop = StopHandle::default();
    let (signalled, sig_handle) = signals(stop.clone());
    let mut ord = DecryptOrdered {
        engine,
        sink,
        forwarded: 0,
        stop: stop.clone(),
    };
    let workers = a
        .workers
        .unwrap_or_else(|| super::bounds::default_workers(false));
    let outcome = pipeline::run(
        Source::File(src),
        workers,
        Limits {
            filter,
            ..Limits::default()
        },
        stop,
        &mut ord,
    );
    if let Some(h) = sig_handle {
        h.close();
    }
    let DecryptOrdered {
        engine, mut sink, ..
    } = ord;
    let signal = signalled.load(Ordering::SeqCst);
    if signal != 0 {
        // The writer's drop removes OUT.partial; no key file is written.
        drop(sink);
        let what = out_target
            .as_ref()
            .map_or(String::new(), |t| format!(": {} not written", t.display()));
        eprintln!("plugsniff: interrupted{what}");
        let _ = signal_hook::low_level::emulate_default_handler(signal);
        return Err(CliError::Usage("interrupted".into()));
    }
    let read_error = outcome.error;
    let progress = outcome.progress;
    if let Some(err) = sink.error.take() {
        return Err(CliError::Io {
            what: "writing the decrypted pcap".into(),
            err,
        });
    }
    let written = sink.writer.as_ref().map_or(0, |w| w.records);
    if let Some(w) = sink.writer.take() {
        w.finish().map_err(|err| CliError::Io {
            what: "finishing the decrypted pcap".into(),
            err,
        })?;
    }
    if let Some(t) = &keys_target {
        keys_out::write_wireshark_keys_to(t, &engine.keys).map_err(|err| CliError::Io {
            what: format!("writing {}", t.display()),
            err,
        })?;
    }
    let s = WifiSummary::from_engine(&engine);
    if a.json {
        say(format_args!("{}\n", s.to_json()));
    } else {
        say(format_args!("{}", s.to_text()));
        if let Some(expr) = &a.filter {
            say(format_args!(
                "filter {expr:?}: {} of {} frames matched\n",
                progress.passed(),
                progress.captured
            ));
        }
        if let Some(t) = &out_target {
            let name = match t.path() {
                Some(_) => a
                    .output
                    .as_ref()
                    .map_or(t.display(), |p| p.display().to_string()),
                None => "standard output".into(),
            };
            if sink.select.not_selected > 0 {
                say(format_args!(
                    "{} frame(s) of networks not selected by --bssid/--ssid not written\n",
                    sink.select.not_selected
                ));
            }
            let d = &sink.dedup;
            if d.retransmits + d.relayed > 0 {
                say(format_args!(
                    "wrote {written} frames to {name} (each MSDU once: {} MAC retransmission(s) and {} copy(ies) relayed by the AP not written again)\n",
                    d.retransmits, d.relayed
                ));
            } else {
                say(format_args!("wrote {written} frames to {name}\n"));
            }
        }
    }
    if let Some(e) = read_error {
        return Err(e.into());
    }
    match crate::output::summary::keys_unconfirmed(&engine, true) {
        Some(msg) => Err(CliError::KeysUnconfirmed(msg)),
        None => Ok(()),
    }
}
