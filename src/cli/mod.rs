//! Command line: argument parsing, secrets, and the commands.
//!
//! Exit codes: 0 success; 1 the capture failed mid-run; 2 usage or
//! configuration (clap also uses 2; an argument out of its [`bounds`]; an
//! output refused by [`crate::output::dest`]); 3 the capture source could not
//! be opened; 4 an output could not be written; 5 keys were given and
//! handshakes seen, but no key could be confirmed (every MIC failed). See
//! [`CliError::exit_code`].
//!
//! Reports go to stdout through `outln!` (a private macro), which ignores a closed stdout
//! (`plugsniff decrypt … | head`): the work is done and its files written;
//! a reader that left early is not an error, and must not be a panic.

/// `println!` that ignores write errors on stdout (a closed pipe).
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cli::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

pub mod bench;
pub mod bounds;
pub mod config;
pub mod daemon;
pub mod decrypt;
pub mod merge;
pub mod outputs;
pub mod report;
pub mod sandbox;
pub mod secrets;
pub mod synth;
pub mod watch;

use std::process::ExitCode;

/// Writes to stdout, ignoring errors (the `outln!` macro).
pub fn write_stdout(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_fmt(args);
}

/// Writes to stderr, ignoring errors (human output while stdout carries a
/// pcap: `-o -`, `-w -`).
pub fn write_stderr(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = std::io::stderr().lock().write_fmt(args);
}

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "plugsniff",
    version,
    about = "Decrypt your own WPA/WPA2 network from monitor-mode captures and watch what your smart plugs say"
)]
pub struct Cli {
    /// More log output (-v info, -vv debug, -vvv trace); logs go to stderr.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub cmd: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Decrypt a capture file into a pcap Wireshark opens without keys.
    Decrypt(decrypt::DecryptArgs),
    /// Generate synthetic captures (deterministic; for tests and demos).
    Synth(synth::SynthArgs),
    /// Decrypt and decode: what the phone app tells the plugs, what they answer.
    Watch(watch::WatchArgs),
    /// Run unattended on a live interface with the sinks of a config file.
    Daemon(daemon::DaemonArgs),
    /// Merge the JSON-lines event files of several sensors: capture-time
    /// order, each message once (by its id), with the sensors that heard it.
    Merge(merge::MergeArgs),
    /// One self-contained HTML page (or JSON) of a capture: network and
    /// stations, every device with its timeline and power plots, every message.
    Report(report::ReportArgs),
    /// Decryption throughput: the CCMP kernel, the `ccm` crate, OpenSSL (with
    /// `--features openssl`), the pipeline, and optionally airdecap-ng / tshark.
    Bench(bench::BenchArgs),
    /// Print a shell completion script (e.g. `plugsniff completions bash >
    /// /etc/bash_completion.d/plugsniff`).
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) on stdout (`plugsniff man > plugsniff.1`).
    Man,
}

/// Where keys come from: a config file, the environment, or a prompt.
#[derive(Args, Clone, Default)]
pub struct KeyArgs {
    /// TOML file with `[[network]]` entries (ssid + passphrase / psk / pmk).
    #[arg(long, value_name = "FILE")]
    pub config: Option<String>,
    /// SSID for the passphrase given by PLUGSNIFF_PASSPHRASE or the prompt.
    #[arg(long)]
    pub ssid: Option<String>,
    /// Passphrase in plain text on the command line (visible in `ps` and shell
    /// history: prefer --config or PLUGSNIFF_PASSPHRASE).
    #[arg(long, value_name = "PASSPHRASE", hide_default_value = true)]
    pub passphrase: Option<String>,
    /// Never prompt for a passphrase, even on a terminal.
    #[arg(long)]
    pub no_prompt: bool,
    /// Wireshark's `80211_keys` file (wpa-pwd, wpa-psk, tk, msk), imported as it is.
    #[arg(long, value_name = "FILE")]
    pub wireshark_keys: Option<String>,
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let level = match cli.verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("PLUGSNIFF_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(log_colors(&cli))
        .try_init();
    let res = match cli.cmd {
        Command::Decrypt(a) => decrypt::run(a),
        Command::Synth(a) => synth::run(a),
        Command::Watch(a) => watch::run(a),
        Command::Daemon(a) => daemon::run(a),
        Command::Merge(a) => merge::run(a),
        Command::Report(a) => report::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut cmd, "plugsniff", &mut out);
            write_stdout(format_args!("{}", String::from_utf8_lossy(&out)));
            Ok(())
        }
        Command::Man => man_page(),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("plugsniff: {e:#}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// The man page: `plugsniff(1)` with every subcommand's options in it, and
/// the exit codes.
fn man_page() -> Result<(), CliError> {
    let cmd = <Cli as clap::CommandFactory>::command();
    let man = clap_mangen::Man::new(cmd.clone());
    let mut out = Vec::new();
    let io = |err| CliError::Io {
        what: "rendering the man page".into(),
        err,
    };
    man.render_title(&mut out).map_err(io)?;
    man.render_name_section(&mut out).map_err(io)?;
    man.render_synopsis_section(&mut out).map_err(io)?;
    man.render_description_section(&mut out).map_err(io)?;
    man.render_options_section(&mut out).map_err(io)?;
    // Each subcommand's own options, as `git`'s pages list them.
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = sub.get_name();
        out.extend_from_slice(format!(".SH \"PLUGSNIFF {}\"\n", name.to_uppercase()).as_bytes());
        let sub = sub.clone().bin_name(format!("plugsniff {name}"));
        let m = clap_mangen::Man::new(sub);
        let mut body = Vec::new();
        m.render_synopsis_section(&mut body).map_err(io)?;
        m.render_description_section(&mut body).map_err(io)?;
        m.render_options_section(&mut body).map_err(io)?;
        // Demote the sub-page's section headings below this section.
        let body = String::from_utf8_lossy(&body).replace(".SH ", ".SS ");
        out.extend_from_slice(body.as_bytes());
    }
    out.extend_from_slice(
        b".SH \"EXIT STATUS\"\n\
          0 success; 1 the capture failed mid-run (torn file, interface gone); \
          2 usage or configuration error (also a refused output path); \
          3 the capture source could not be opened; \
          4 an output could not be written.\n",
    );
    // roff input is ASCII: other characters (×, →, —) as `\[uXXXX]` escapes.
    let page = String::from_utf8_lossy(&out);
    let mut ascii = String::with_capacity(page.len());
    for c in page.chars() {
        if c.is_ascii() {
            ascii.push(c);
        } else {
            use std::fmt::Write as _;
            let _ = write!(ascii, "\\[u{:04X}]", u32::from(c));
        }
    }
    write_stdout(format_args!("{ascii}"));
    Ok(())
}

/// Whether log lines on stderr may carry ANSI colours: only to a terminal,
/// never with `NO_COLOR` set (<https://no-color.org>) or `watch --color never`;
/// `--color always` forces them.
fn log_colors(cli: &Cli) -> bool {
    use std::io::IsTerminal;
    let choice = match &cli.cmd {
        Command::Watch(a) => a.color,
        _ => watch::ColorChoice::Auto,
    };
    match choice {
        watch::ColorChoice::Always => true,
        watch::ColorChoice::Never => false,
        watch::ColorChoice::Auto => {
            std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
        }
    }
}

/// A command failure with its exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Capture(#[from] crate::capture::CaptureError),
    #[error("{what}: {err}")]
    Io { what: String, err: std::io::Error },
    /// An output that would destroy an input or a non-file (exit 2).
    #[error(transparent)]
    Refused(#[from] crate::output::dest::Refused),
    /// Keys given, handshakes seen, none confirmed (exit 5): the words say
    /// what is wrong (the passphrase or SSID, the PMK).
    #[error("{0}")]
    KeysUnconfirmed(String),
}

/// The exit code of [`CliError::KeysUnconfirmed`].
pub const EXIT_KEYS_UNCONFIRMED: u8 = 5;

impl CliError {
    /// Exit codes (documented in the README): 1 the capture failed mid-run
    /// (torn file, interface gone), 2 usage or configuration (a `-f` filter
    /// that does not compile, or `-f` without libpcap), 3 the capture source
    /// could not be opened (missing file or interface, not 802.11, monitor
    /// mode refused, live capture without libpcap), 4 an output could not be
    /// written (disk full…), 5 keys were given and handshakes seen but every
    /// MIC failed (`decrypt`, `watch -r`; after the summary).
    pub fn exit_code(&self) -> u8 {
        use crate::capture::CaptureError;
        match self {
            CliError::Usage(_) | CliError::Config(_) | CliError::Refused(_) => 2,
            CliError::KeysUnconfirmed(_) => EXIT_KEYS_UNCONFIRMED,
            CliError::Capture(CaptureError::Filter(_)) => 2,
            CliError::Capture(CaptureError::Read { .. }) => 1,
            CliError::Capture(_) => 3,
            CliError::Io { .. } => 4,
        }
    }
}
