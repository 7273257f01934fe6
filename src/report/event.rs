//! Events: one thing worth telling the user, typed.
//!
//! Addresses are [`SocketAddr`]/[`MacAddr`], directions and outcomes are
//! enums, times are [`Ts`]/[`Duration`]: `output/` alone decides how they read
//! (`output::json` for `--json`, `docs/events.md`; `output::live` for the
//! readable view). Secrets found in the clear are already masked here unless
//! the user asked to see them (`--show-secrets`): the watcher drops them at
//! the first step, so no later consumer can leak them by mistake.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;

use crate::decoders::summary::{CredentialSource, Summary};
use crate::decoders::{MessageKind, MessageMeta};
use crate::wire::{MacAddr, Ts};
use crate::wpa::handshake::KeyStatus;

/// Shown instead of a secret unless `--show-secrets`.
pub const MASK: &str = "********";

/// One thing worth telling the user, at the capture time of the packet that
/// completed it.
#[derive(Debug, Clone)]
pub struct Event {
    pub ts: Ts,
    pub body: EventBody,
    /// Where the packet that completed the event sits in its connection, as
    /// every observer of that packet sees it: for TCP, the sequence number
    /// just past the segment's payload. `None` for datagrams, flow ends and
    /// 802.11 events. Message ids (`output::msgid`) are built from it, so two
    /// sensors that heard one message give it one id, and two identical
    /// messages on one connection get two.
    pub anchor: Option<u32>,
}

#[derive(Debug, Clone)]
pub enum EventBody {
    /// A decoded plug message (a command, an answer, a report).
    Message(MessageEvent),
    /// A discovery datagram (a query, or a device announcing itself).
    Discovery(DiscoveryEvent),
    /// A secret sent in the clear (cnCloud.bind, netif.set_stainfo).
    CredentialLeak(LeakEvent),
    /// A device's TLS connection to the vendor cloud: metadata only.
    CloudLink(CloudEvent),
    /// A WPA handshake outcome for a station.
    Handshake(HandshakeEvent),
    /// Bytes on a plug protocol that did not decode, or a label for what a
    /// passive observer cannot decrypt.
    Undecodable(UndecodableEvent),
    /// Advice about the capture itself (one direction only, frames missed,
    /// no handshake).
    Warning(WarningEvent),
    /// A captured KLAP handshake1 and whether a credential matched it.
    KlapSession(KlapSessionEvent),
}

#[derive(Debug, Clone)]
pub struct MessageEvent {
    pub protocol: &'static str,
    pub transport: &'static str,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub kind: MessageKind,
    /// MAC of the device end of the conversation, when known.
    pub device: Option<MacAddr>,
    /// The device's name, when learned.
    pub alias: Option<String>,
    pub methods: Vec<String>,
    pub summary: Vec<Summary>,
    /// For a response: time since its request.
    pub latency: Option<Duration>,
    /// The application JSON (secrets masked unless `--show-secrets`).
    pub json: Value,
    pub meta: Option<MessageMeta>,
}

#[derive(Debug, Clone)]
pub struct DiscoveryEvent {
    pub protocol: &'static str,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    /// A reply or announcement (from the device) rather than a query.
    pub reply: bool,
    pub device: Option<MacAddr>,
    pub summary: Vec<String>,
    pub crc_ok: bool,
    pub json: Option<Value>,
}

#[derive(Debug, Clone)]
pub struct LeakEvent {
    pub source: CredentialSource,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub device: Option<MacAddr>,
    pub username: String,
    /// [`MASK`] unless `--show-secrets`.
    pub password: String,
    pub masked: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloudState {
    /// The ClientHello was seen.
    Opened,
    /// The flow ended or expired (with totals).
    Closed,
}

#[derive(Debug, Clone)]
pub struct CloudEvent {
    pub state: CloudState,
    pub device: Option<MacAddr>,
    /// Client and server.
    pub src: SocketAddr,
    pub dst: SocketAddr,
    /// The device opened the connection (it dials out through the NAT).
    pub initiated_by_device: bool,
    /// The initiator was seen in a SYN, not guessed from the first packet.
    pub initiator_seen: bool,
    pub sni: Option<String>,
    pub dns_name: Option<String>,
    /// `(version, negotiated)`: from the ServerHello, or only offered.
    pub tls_version: Option<(u16, bool)>,
    pub server_cert_cn: Option<String>,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub packets: u64,
    pub duration: Duration,
    /// Mean seconds between records the device sent (keep-alive cadence).
    pub mean_interval_s: Option<f64>,
}

/// What a handshake did for a station.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandshakeOutcome {
    /// A pairwise key was confirmed, from these messages (`"M1+M2"`).
    PairwiseConfirmed {
        via: &'static str,
    },
    GroupInstalled {
        key_id: u8,
    },
    Failed(KeyStatus),
}

#[derive(Debug, Clone)]
pub struct HandshakeEvent {
    pub bssid: MacAddr,
    pub sta: MacAddr,
    pub outcome: HandshakeOutcome,
}

#[derive(Debug, Clone)]
pub struct UndecodableEvent {
    pub protocol: &'static str,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub reason: String,
    /// A fixed label for why (`"KLAP: credentials needed"`), when one applies.
    pub label: Option<&'static str>,
}

#[derive(Debug, Clone)]
pub struct WarningEvent {
    /// `one_direction`, `frames_missed`, `no_handshake`, `handshake_failed`
    /// (capture health);
    /// `fragment_mixed_key`, `amsdu_injection`, `key_reinstallation`, …
    /// (attacks and anomalies, `engine::security`).
    pub kind: &'static str,
    pub bssid: MacAddr,
    pub sta: MacAddr,
    pub message: String,
    /// The frame that raised it (1-based, as Wireshark counts), when one did.
    pub frame: Option<u64>,
    /// The CVE or paper, when there is one.
    pub reference: Option<&'static str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KlapOutcome {
    Decrypting,
    CredentialsNeeded,
}

#[derive(Debug, Clone)]
pub struct KlapSessionEvent {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub device: Option<MacAddr>,
    pub outcome: KlapOutcome,
    pub version: Option<&'static str>,
    pub credentials: Option<String>,
    /// How many credentials were tried against the server hash.
    pub tried: usize,
}

/// Replaces the values of password-like keys, recursively (what the watcher
/// does to message JSON unless `--show-secrets`).
pub fn mask_secrets(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, val) in m.iter_mut() {
                let kl = k.to_ascii_lowercase();
                if matches!(kl.as_str(), "password" | "passwd" | "pwd" | "key" | "psk")
                    && val.is_string()
                {
                    *val = Value::String(MASK.into());
                } else {
                    mask_secrets(val);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(mask_secrets),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking() {
        let mut v = serde_json::json!({"cnCloud":{"bind":{"username":"a","password":"hunter2"}}});
        mask_secrets(&mut v);
        assert!(!v.to_string().contains("hunter2"));
        assert!(v.to_string().contains("\"username\":\"a\""));
    }
}
