//! Events: the only type the watch sinks see (live view, JSON lines).
//!
//! The JSON form is documented in `docs/events.md`; every line carries
//! `"v": EVENT_VERSION` and an RFC 3339 `"ts"`. Adding a field is compatible;
//! renaming or removing one bumps the version.

use serde::Serialize;
use serde_json::Value;

use crate::engine::Ts;

/// Version of the JSON-lines schema (`docs/events.md`).
pub const EVENT_VERSION: u32 = 1;

/// Shown instead of a secret unless `--show-secrets`.
pub const MASK: &str = "********";

/// One thing worth telling the user.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    #[serde(skip)]
    pub ts: Ts,
    #[serde(flatten)]
    pub body: EventBody,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventBody {
    /// A decoded TP-Link Smart Home (XOR protocol) message.
    Message(MessageEvent),
    /// A TDP discovery datagram (UDP 20002).
    Discovery(DiscoveryEvent),
    /// A secret sent in the clear (cnCloud.bind, netif.set_stainfo).
    CredentialLeak(LeakEvent),
    /// A device's TLS connection to the vendor cloud: metadata only.
    CloudLink(CloudEvent),
    /// A WPA handshake outcome for a station.
    Handshake(HandshakeEvent),
    /// Bytes on a TP-Link port that did not decode, or a label for what a
    /// passive observer cannot decrypt.
    Undecodable(UndecodableEvent),
    /// Advice about the capture itself (one direction only, frames missed, no handshake).
    Warning(WarningEvent),
    /// A captured KLAP handshake1 and whether a credential matched it.
    KlapSession(KlapSessionEvent),
}

#[derive(Debug, Clone, Serialize)]
pub struct WarningEvent {
    /// `one_direction`, `frames_missed` or `no_handshake`.
    pub kind: &'static str,
    pub bssid: String,
    pub sta: String,
    pub message: String,
}

/// How a KLAP message was decrypted (absent for the XOR protocol).
#[derive(Debug, Clone, Serialize)]
pub struct KlapMeta {
    /// `"v1"` or `"v2"`.
    pub version: &'static str,
    pub seq: i32,
    /// Label of the matching credential (never the secret itself).
    pub credentials: String,
    /// The 32-byte signature prefix verified.
    pub signature_ok: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct KlapSessionEvent {
    pub src: String,
    pub dst: String,
    pub device: Option<String>,
    /// `"decrypting"` or `"credentials needed"`.
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials: Option<String>,
    /// How many credentials were tried against the server hash.
    pub tried: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct MessageEvent {
    pub protocol: &'static str,
    pub transport: &'static str,
    pub src: String,
    pub dst: String,
    pub direction: &'static str,
    /// MAC of the plug end of the conversation, when known.
    pub device: Option<String>,
    /// The plug's alias, when learned (from get_sysinfo).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// `module.method` for every method in the message.
    pub methods: Vec<String>,
    /// What the message says, in words.
    pub summary: Vec<String>,
    /// For a response: milliseconds since its request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    /// The decrypted JSON (secrets masked unless `--show-secrets`).
    pub json: Value,
    /// KLAP only: version, sequence number, credential label, signature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub klap: Option<KlapMeta>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DiscoveryEvent {
    pub protocol: &'static str,
    pub src: String,
    pub dst: String,
    pub direction: &'static str,
    pub device: Option<String>,
    pub summary: Vec<String>,
    pub crc_ok: bool,
    pub json: Option<Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LeakEvent {
    /// `cloud_account` or `wifi_network`.
    pub kind: &'static str,
    pub src: String,
    pub dst: String,
    pub device: Option<String>,
    pub username: String,
    pub password: String,
    pub masked: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct CloudEvent {
    /// `opened` when the ClientHello is seen, `closed` when the flow ends.
    pub state: &'static str,
    pub label: &'static str,
    pub device: Option<String>,
    pub src: String,
    pub dst: String,
    /// Who opened the connection: `device` (dials out through the NAT) or `remote`.
    pub initiated_by: &'static str,
    /// Whether the initiator was seen in a SYN or guessed from the first packet.
    pub initiator_seen: bool,
    pub sni: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_name: Option<String>,
    pub tls_version: Option<String>,
    pub server_cert_cn: Option<String>,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub packets: u64,
    pub duration_s: f64,
    /// Mean seconds between records the device sent (keep-alive cadence).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_interval_s: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HandshakeEvent {
    pub bssid: String,
    pub sta: String,
    pub message: String,
    pub outcome: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct UndecodableEvent {
    pub protocol: &'static str,
    pub src: String,
    pub dst: String,
    pub reason: String,
    /// A fixed label for why (e.g. `"KLAP: credentials needed"`), when one applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<&'static str>,
}

/// RFC 3339 with microseconds, UTC.
pub fn rfc3339(ts: Ts) -> String {
    let t = std::time::UNIX_EPOCH
        + std::time::Duration::from_secs(ts.sec.max(0) as u64)
        + std::time::Duration::from_micros(u64::from(ts.usec.min(999_999)));
    humantime::format_rfc3339_micros(t).to_string()
}

/// Replaces the values of password-like keys, recursively.
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

/// One JSON line for an event.
pub fn to_json_line(e: &Event) -> String {
    #[derive(Serialize)]
    struct Line<'a> {
        v: u32,
        ts: String,
        #[serde(flatten)]
        body: &'a EventBody,
    }
    serde_json::to_string(&Line {
        v: EVENT_VERSION,
        ts: rfc3339(e.ts),
        body: &e.body,
    })
    .unwrap_or_else(|_| "{}".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_and_masking() {
        assert_eq!(
            rfc3339(Ts { sec: 0, usec: 5 }),
            "1970-01-01T00:00:00.000005Z"
        );
        let mut v = serde_json::json!({"cnCloud":{"bind":{"username":"a","password":"hunter2"}}});
        mask_secrets(&mut v);
        assert!(!v.to_string().contains("hunter2"));
        assert!(v.to_string().contains("\"username\":\"a\""));
    }
}
