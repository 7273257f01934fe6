//! `plugsniff watch -r FILE`: decrypt (for 802.11 captures) and decode, printing
//! what the plugs say as it happens, then a summary table.

use std::io::{IsTerminal, Write};

use clap::{Args, ValueEnum};

use super::{CliError, KeyArgs, secrets};
use crate::capture::FileSource;
use crate::output::event::{Event, to_json_line};
use crate::output::live::{Style, render};
use crate::watch::{WatchOptions, Watcher};

#[derive(Clone, Copy, Debug, ValueEnum, Default)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

#[derive(Args)]
pub struct WatchArgs {
    /// Capture file to read (pcap/pcapng, FIFO, `-` for stdin): 802.11
    /// (radiotap, Prism, PPI) or a wired tap (Ethernet, Linux SLL, null, raw IP).
    #[arg(short = 'r', long = "read", value_name = "FILE")]
    pub read: String,
    /// One JSON object per line (schema: docs/events.md) instead of readable lines.
    #[arg(long)]
    pub json: bool,
    /// Show passwords found in the clear (cnCloud.bind…) instead of masking them.
    #[arg(long)]
    pub show_secrets: bool,
    /// Colour: auto (on a terminal), always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Print the decrypted JSON of every message (by default only where the
    /// summary does not already say what it holds).
    #[arg(long)]
    pub show_json: bool,
    /// Do not print handshake events.
    #[arg(long)]
    pub quiet_wpa: bool,
    #[command(flatten)]
    pub keys: KeyArgs,
}

pub fn run(a: WatchArgs) -> Result<(), CliError> {
    let mut src = FileSource::open_any(&a.read, crate::flows::ip::supported_plain_dlt)?;
    let networks = if src.plain {
        Vec::new()
    } else {
        let n = secrets::gather(&a.keys)?;
        if n.is_empty() {
            eprintln!(
                "plugsniff: warning: no key given (--config, {}): only unencrypted traffic will be decoded",
                secrets::ENV_PASSPHRASE
            );
        }
        n
    };
    let klap_accounts = match &a.keys.config {
        Some(path) => crate::cli::config::ConfigFile::load(path)?.klap_accounts(path)?,
        None => Vec::new(),
    };
    let mut w = Watcher::new(
        networks,
        WatchOptions {
            show_secrets: a.show_secrets,
            klap_accounts,
        },
    );
    let stdout = std::io::stdout();
    let color = match a.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    let style = Style {
        color,
        show_json: a.show_json,
    };
    let mut out = std::io::BufWriter::new(stdout.lock());
    let (kind, dlt, plain) = (src.kind, src.dlt, src.plain);
    let mut read_error = None;
    let emit = |out: &mut dyn Write, e: &Event| -> std::io::Result<()> {
        if a.quiet_wpa && matches!(e.body, crate::output::event::EventBody::Handshake(_)) {
            return Ok(());
        }
        if a.json {
            writeln!(out, "{}", to_json_line(e))
        } else {
            writeln!(out, "{}", render(e, style))
        }
    };
    let io_err = |err| CliError::Io {
        what: "writing to standard output".into(),
        err,
    };
    loop {
        match src.next_frame() {
            Ok(Some(f)) => {
                if plain {
                    w.process_plain(f.ts, dlt, f.data);
                } else {
                    w.process_80211(f.ts, kind, f.data, f.orig_len);
                }
            }
            Ok(None) => break,
            Err(e) => {
                read_error = Some(e);
                break;
            }
        }
        for e in w.drain_events() {
            emit(&mut out, &e).map_err(io_err)?;
        }
    }
    w.finish();
    for e in w.drain_events() {
        emit(&mut out, &e).map_err(io_err)?;
    }
    let summary = crate::output::watch_summary::WatchSummary::new(&w);
    if a.json {
        writeln!(out, "{}", summary.to_json_line()).map_err(io_err)?;
    } else {
        write!(out, "{}", summary.to_text(style)).map_err(io_err)?;
    }
    out.flush().map_err(io_err)?;
    match read_error {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}
