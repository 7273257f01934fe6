//! `plugsniff synth demo -o FILE.pcapng`: write a deterministic synthetic
//! capture (radiotap, LINKTYPE 127) of the demo network ([`crate::synth`]);
//! `plugsniff synth network --akm N --cipher C -o FILE`: one protected
//! network of any AKM and cipher ([`crate::synth::network`]), with its keys
//! printed in Wireshark's `80211_keys` form.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::CliError;
use crate::output::dest::{self, OutputSpec, Role};
use crate::output::pcap_out::{Format, LINKTYPE_IEEE802_11_RADIOTAP, PcapWriter};
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
    /// One protected network of any AKM and cipher: handshake, traffic, FT roam.
    Network(NetworkArgs),
}

#[derive(Args)]
pub struct NetworkArgs {
    /// Capture file to write (`.pcapng` → pcapng, otherwise pcap).
    #[arg(short, long, value_name = "FILE.pcap")]
    pub output: PathBuf,
    /// AKM suite number (00-0F-AC:N): 1, 2, 3, 4, 5, 6, 8, 9, 11, 12, 13, 18, 24.
    #[arg(long, default_value_t = 2)]
    pub akm: u8,
    /// Pairwise cipher: ccmp, ccmp256, gcmp, gcmp256, tkip.
    #[arg(long, default_value = "ccmp")]
    pub cipher: String,
    /// Group cipher (default: the pairwise cipher).
    #[arg(long)]
    pub group_cipher: Option<String>,
    /// No fast BSS transition to a second AP (FT AKMs roam by default).
    #[arg(long)]
    pub no_roam: bool,
    /// Seed for nonces, keys and payloads.
    #[arg(long)]
    pub seed: Option<u64>,
}

/// The output, checked by [`crate::output::dest`] (never a directory or a
/// device; exit 2) and created.
fn create(p: &std::path::Path) -> Result<std::io::Result<PcapWriter>, CliError> {
    let t = dest::check(&[], &[OutputSpec::new("-o", p, Role::Replace)])?;
    Ok(match t.first() {
        Some(t) => PcapWriter::create_target(
            t,
            LINKTYPE_IEEE802_11_RADIOTAP,
            t.path().map_or(Format::Pcap, Format::from_path),
        ),
        None => Err(std::io::Error::other("no output")),
    })
}

fn parse_cipher(s: &str) -> Result<crate::wpa::keys::Cipher, CliError> {
    use crate::wpa::keys::Cipher;
    Ok(
        match s.to_ascii_lowercase().replace(['-', '_'], "").as_str() {
            "ccmp" | "ccmp128" => Cipher::Ccmp,
            "ccmp256" => Cipher::Ccmp256,
            "gcmp" | "gcmp128" => Cipher::Gcmp,
            "gcmp256" => Cipher::Gcmp256,
            "tkip" => Cipher::Tkip,
            _ => {
                return Err(CliError::Usage(format!(
                    "unknown cipher {s:?}: ccmp, ccmp256, gcmp, gcmp256 or tkip"
                )));
            }
        },
    )
}

fn network(a: NetworkArgs) -> Result<(), CliError> {
    use crate::synth::network::{self, NetworkSpec};
    let akm = 0x000F_AC00 | u32::from(a.akm);
    if crate::wpa::akm::source(akm).is_none() {
        return Err(CliError::Usage(format!(
            "AKM {} is not one plugsniff derives keys for",
            a.akm
        )));
    }
    let mut spec = NetworkSpec::new(akm, parse_cipher(&a.cipher)?);
    if let Some(g) = &a.group_cipher {
        spec.group = parse_cipher(g)?;
    }
    if a.no_roam {
        spec.roam = false;
    }
    if let Some(s) = a.seed {
        spec.seed = s;
    }
    let cap = network::build(&spec);
    let io = |what: &str, err| CliError::Io {
        what: format!("{what} {}", a.output.display()),
        err,
    };
    let mut w = create(&a.output)?.map_err(|e| io("cannot create", e))?;
    for (ts, f) in &cap.frames {
        w.write(*ts, f).map_err(|e| io("writing", e))?;
    }
    w.finish().map_err(|e| io("finishing", e))?;
    // These are generated test keys, printed so other tools can check the file.
    let k = &cap.keys;
    outln!(
        "wrote {} frames to {} (ssid {:?}, AKM {} {}, {} / group {}): {} unicast and {} group datagrams",
        cap.frames.len(),
        a.output.display(),
        spec.ssid,
        a.akm,
        crate::wpa::akm::name(akm),
        spec.pairwise.name(),
        spec.group.name(),
        cap.unicast_payloads.len(),
        cap.group_payloads.len()
    );
    if crate::wpa::akm::source(akm) == Some(crate::wpa::akm::KeySource::Psk) {
        outln!("\"wpa-pwd\",\"{}:{}\"", spec.passphrase, spec.ssid);
    }
    outln!("\"wpa-psk\",\"{}\"", hex::encode(&k.pmk));
    if let Some(m) = &k.msk {
        outln!("\"msk\",\"{}\"", hex::encode(m));
    }
    for tk in &k.tks {
        outln!("\"tk\",\"{}\"", hex::encode(tk));
    }
    outln!("\"tk\",\"{}\"", hex::encode(&k.gtk));
    Ok(())
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
        SynthCommand::Network(n) => network(n),
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
    let mut w = create(&a.output)?.map_err(|e| io("cannot create", e))?;
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
