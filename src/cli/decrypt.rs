//! `plugsniff decrypt IN -o OUT.pcap`: decrypt a capture into a pcap that
//! Wireshark opens without keys, and print what happened to every frame.

use std::io;
use std::path::PathBuf;

use clap::Args;

use super::{CliError, KeyArgs, secrets};
use crate::capture::filter::BpfFilter;
use crate::capture::{CaptureError, FileSource};
use crate::engine::{Engine, Mpdu, Msdu, Sink};
use crate::output::pcap_out::{LINKTYPE_ETHERNET, LINKTYPE_IEEE802_11, PcapWriter};
use crate::output::{keys_out, summary::WifiSummary};
use crate::pipeline::{self, Frame, Limits, Ordered, Progress, Source, StopHandle};

#[derive(Args)]
pub struct DecryptArgs {
    /// Capture to read: pcap or pcapng file, FIFO, or `-` for standard input.
    pub input: String,
    /// Decrypted pcap to write (Ethernet frames by default).
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
    /// Write the derived keys in Wireshark's 80211_keys format (secret!).
    #[arg(long, value_name = "FILE")]
    pub export_keys: Option<PathBuf>,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Decrypt worker threads (default: the number of cores).
    #[arg(long)]
    pub workers: Option<usize>,
    #[command(flatten)]
    pub keys: KeyArgs,
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
}

impl PcapSink {
    fn record(&mut self, r: io::Result<()>) {
        if let Err(e) = r {
            if self.error.is_none() {
                self.error = Some(e);
            }
        }
    }
}

impl Sink for PcapSink {
    fn mpdu(&mut self, m: &Mpdu<'_>) {
        if !self.keep_80211 || (!m.decrypted && !self.include_plaintext) || self.error.is_some() {
            return;
        }
        if let Some(w) = self.writer.as_mut() {
            let r = w.write(m.ts, m.frame);
            self.record(r);
        }
    }
    fn msdu(&mut self, m: &Msdu<'_>) {
        if self.keep_80211 || (!m.decrypted && !self.include_plaintext) || self.error.is_some() {
            return;
        }
        if !self.dedup.keep(m) {
            return;
        }
        if let Some(w) = self.writer.as_mut() {
            let r = w.write_msdu_as_ethernet(m);
            self.record(r);
        }
    }
}

pub fn run(a: DecryptArgs) -> Result<(), CliError> {
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
    let writer = match &a.output {
        Some(p) => Some(
            PcapWriter::create(
                p,
                if a.keep_80211 {
                    LINKTYPE_IEEE802_11
                } else {
                    LINKTYPE_ETHERNET
                },
            )
            .map_err(|err| CliError::Io {
                what: format!("cannot create {}", p.display()),
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
    };
    let engine = Engine::new(networks);
    // Decryption on every core: workers pre-decrypt, the engine keeps order
    // and state (see src/pipeline). A file source never drops.
    let stop = StopHandle::default();
    let mut ord = DecryptOrdered {
        engine,
        sink,
        forwarded: 0,
        stop: stop.clone(),
    };
    let workers = a.workers.unwrap_or_else(super::watch::default_workers);
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
    let DecryptOrdered {
        engine, mut sink, ..
    } = ord;
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
    if let Some(p) = &a.export_keys {
        keys_out::write_wireshark_keys(p, &engine.keys).map_err(|err| CliError::Io {
            what: format!("writing {}", p.display()),
            err,
        })?;
    }
    let s = WifiSummary::from_engine(&engine);
    if a.json {
        outln!("{}", s.to_json());
    } else {
        crate::cli::write_stdout(format_args!("{}", s.to_text()));
        if let Some(expr) = &a.filter {
            outln!(
                "filter {expr:?}: {} of {} frames matched",
                progress.passed(),
                progress.captured
            );
        }
        if let Some(p) = &a.output {
            let d = &sink.dedup;
            if d.retransmits + d.relayed > 0 {
                outln!(
                    "wrote {written} frames to {} (each MSDU once: {} MAC retransmission(s) and {} copy(ies) relayed by the AP not written again)",
                    p.display(),
                    d.retransmits,
                    d.relayed
                );
            } else {
                outln!("wrote {written} frames to {}", p.display());
            }
        }
    }
    match read_error {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}
