//! `plugsniff synth demo -o FILE.pcapng`: write a deterministic synthetic
//! capture (radiotap, LINKTYPE 127) of the demo network ([`crate::synth`]).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::CliError;
use crate::output::pcap_out::{LINKTYPE_IEEE802_11_RADIOTAP, PcapWriter};
use crate::synth::scenario::{self, HandshakeMode, Scenario};

#[derive(Args)]
pub struct SynthArgs {
    #[command(subcommand)]
    pub what: SynthCommand,
}

#[derive(Subcommand)]
pub enum SynthCommand {
    /// The demo network: AP, phone, two TP-Link plugs (see captures/README.md).
    Demo(DemoArgs),
}

#[derive(Args)]
pub struct DemoArgs {
    /// Capture file to write (`.pcapng` → pcapng, otherwise pcap).
    #[arg(short, long, value_name = "FILE.pcap")]
    pub output: PathBuf,
    /// Keep only M2 and M3 of every 4-way handshake.
    #[arg(long)]
    pub m2_m3_only: bool,
    /// Append an FCS to every frame (radiotap flag 0x10).
    #[arg(long)]
    pub fcs: bool,
    /// Seed for nonces, keys, ports and sequence numbers.
    #[arg(long)]
    pub seed: Option<u64>,
}

pub fn run(a: SynthArgs) -> Result<(), CliError> {
    match a.what {
        SynthCommand::Demo(d) => demo(d),
    }
}

fn demo(a: DemoArgs) -> Result<(), CliError> {
    let mut sc = Scenario::default();
    if a.m2_m3_only {
        sc.handshake = HandshakeMode::M2M3Only;
    }
    sc.fcs = a.fcs;
    if let Some(s) = a.seed {
        sc.seed = s;
    }
    let cap = scenario::build(&sc);
    let io = |what: &str, err| CliError::Io {
        what: format!("{what} {}", a.output.display()),
        err,
    };
    let mut w = PcapWriter::create(&a.output, LINKTYPE_IEEE802_11_RADIOTAP)
        .map_err(|e| io("cannot create", e))?;
    for (ts, f) in &cap.frames {
        w.write(*ts, f).map_err(|e| io("writing", e))?;
    }
    w.finish().map_err(|e| io("finishing", e))?;
    let m = &cap.manifest;
    outln!(
        "wrote {} frames to {} (ssid {:?}, passphrase {:?}): {} protected, {} group, {} retransmitted, {} replayed, {} EAPOL-Key, {} on port 9999",
        m.frames,
        a.output.display(),
        sc.ssid,
        sc.passphrase,
        m.protected,
        m.group,
        m.retransmitted,
        m.replayed,
        m.eapol,
        m.port_9999
    );
    Ok(())
}
