//! Command line: argument parsing, secrets, and the commands.
//!
//! Exit codes: 0 success; 1 the capture failed mid-run; 2 usage or
//! configuration (clap also uses 2); 3 the capture source could not be
//! opened; 4 an output could not be written. See [`CliError::exit_code`].
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
pub mod config;
pub mod daemon;
pub mod decrypt;
pub mod merge;
pub mod outputs;
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
    /// Decryption throughput: the CCMP kernel, the `ccm` crate, OpenSSL (with
    /// `--features openssl`), the pipeline, and optionally airdecap-ng / tshark.
    Bench(bench::BenchArgs),
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
        .try_init();
    let res = match cli.cmd {
        Command::Decrypt(a) => decrypt::run(a),
        Command::Synth(a) => synth::run(a),
        Command::Watch(a) => watch::run(a),
        Command::Daemon(a) => daemon::run(a),
        Command::Merge(a) => merge::run(a),
        Command::Bench(a) => bench::run(a),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("plugsniff: {e:#}");
            ExitCode::from(e.exit_code())
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
}

impl CliError {
    /// Exit codes (documented in the README): 1 the capture failed mid-run
    /// (torn file, interface gone), 2 usage or configuration (a `-f` filter
    /// that does not compile, or `-f` without libpcap), 3 the capture source
    /// could not be opened (missing file or interface, not 802.11, monitor
    /// mode refused, live capture without libpcap), 4 an output could not be
    /// written (disk full…).
    pub fn exit_code(&self) -> u8 {
        use crate::capture::CaptureError;
        match self {
            CliError::Usage(_) | CliError::Config(_) => 2,
            CliError::Capture(CaptureError::Filter(_)) => 2,
            CliError::Capture(CaptureError::Read { .. }) => 1,
            CliError::Capture(_) => 3,
            CliError::Io { .. } => 4,
        }
    }
}
