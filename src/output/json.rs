//! The JSON-lines form of events (`watch --json`, `--jsonl`), documented in
//! `docs/events.md`: every line carries `"v": EVENT_VERSION` and an RFC 3339
//! `"ts"`. Adding a field is compatible; renaming or removing one bumps the
//! version.
//!
//! The structs here are the wire format only: [`to_json_line`] converts a
//! typed [`crate::report::event::Event`] into them field by field, so the
//! schema is visible in one place and the typed events stay free of serde.

use serde::Serialize;
use serde_json::Value;
use std::time::Duration;

use crate::decoders::MessageKind;
use crate::decoders::MessageMeta;
use crate::report::event as ev;
use crate::wire::Ts;

/// Version of the JSON-lines schema (`docs/events.md`).
pub const EVENT_VERSION: u32 = 1;

#[derive(Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
enum EventBody<'a> {
    /// A decoded TP-Link Smart Home (XOR protocol) message.
    Message(Box<MessageEvent<'a>>),
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

#[derive(Serialize)]
struct WarningEvent {
    /// `one_direction`, `frames_missed`, `no_handshake`, `handshake_failed`,
    /// or an attack kind.
    pub kind: &'static str,
    pub bssid: String,
    pub sta: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frame: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<&'static str>,
}

/// How a KLAP message was decrypted (absent for the XOR protocol).
#[derive(Serialize)]
struct KlapMeta {
    /// `"v1"` or `"v2"`.
    pub version: &'static str,
    pub seq: i32,
    /// Label of the matching credential (never the secret itself).
    pub credentials: String,
    /// The 32-byte signature prefix verified.
    pub signature_ok: bool,
}

#[derive(Serialize)]
struct KlapSessionEvent {
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

#[derive(Serialize)]
struct MessageEvent<'a> {
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
    /// Shelly over HTTP/WebSocket: API generation, authentication, RPC id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shelly: Option<ShellyMeta<'a>>,
    /// Shelly CoIoT: CoAP code and Shelly's options, mapped status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coiot: Option<CoiotMeta<'a>>,
    /// Wemo UPnP: SOAP service and action.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wemo: Option<WemoMeta<'a>>,
    /// Meross: header fields and the signature check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meross: Option<MerossMeta<'a>>,
    /// Tuya: version, command, sequence, integrity check, key label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tuya: Option<TuyaMeta<'a>>,
}

#[derive(Serialize)]
struct TuyaMeta<'a> {
    version: &'static str,
    cmd: u32,
    seq: u32,
    retcode: Option<u32>,
    check: &'static str,
    check_ok: bool,
    signature_ok: Option<bool>,
    key: &'a Option<String>,
}

#[derive(Serialize)]
struct AuthMeta<'a> {
    scheme: &'static str,
    user: &'a Option<String>,
    realm: &'a Option<String>,
}

#[derive(Serialize)]
struct ShellyMeta<'a> {
    generation: Option<u8>,
    auth: Option<AuthMeta<'a>>,
    rpc_id: &'a Option<String>,
}

#[derive(Serialize)]
struct CoiotMeta<'a> {
    code: &'a str,
    device_id: &'a Option<String>,
    validity: Option<u32>,
    serial: Option<u32>,
    mapped: &'a Option<Value>,
}

#[derive(Serialize)]
struct WemoMeta<'a> {
    service: &'a Option<String>,
    action: &'a str,
}

#[derive(Serialize)]
struct MerossMeta<'a> {
    namespace: &'a str,
    method: &'a str,
    message_id: &'a str,
    sign_ok: Option<bool>,
}

#[derive(Serialize)]
struct DiscoveryEvent {
    pub protocol: &'static str,
    pub src: String,
    pub dst: String,
    pub direction: &'static str,
    pub device: Option<String>,
    pub summary: Vec<String>,
    pub crc_ok: bool,
    pub json: Option<Value>,
}

#[derive(Serialize)]
struct LeakEvent {
    /// `cloud_account` or `wifi_network`.
    pub kind: &'static str,
    pub src: String,
    pub dst: String,
    pub device: Option<String>,
    pub username: String,
    pub password: String,
    pub masked: bool,
}

#[derive(Serialize)]
struct CloudEvent {
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

#[derive(Serialize)]
struct HandshakeEvent {
    pub bssid: String,
    pub sta: String,
    pub message: String,
    pub outcome: String,
}

#[derive(Serialize)]
struct UndecodableEvent {
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
        + std::time::Duration::from_micros(u64::from(ts.usec()));
    humantime::format_rfc3339_micros(t).to_string()
}

fn s(a: impl ToString) -> String {
    a.to_string()
}

fn body(e: &ev::EventBody) -> EventBody<'_> {
    use super::words;
    match e {
        ev::EventBody::Message(m) => EventBody::Message(Box::new(MessageEvent {
            protocol: m.protocol,
            transport: m.transport,
            src: s(m.src),
            dst: s(m.dst),
            direction: direction(m.kind),
            device: m.device.map(s),
            alias: m.alias.clone(),
            methods: m.methods.clone(),
            summary: m.summary.iter().map(words::describe).collect(),
            latency_ms: m.latency.map(millis),
            json: m.json.clone(),
            klap: match &m.meta {
                Some(MessageMeta::Klap {
                    version,
                    seq,
                    credentials,
                    signature_ok,
                }) => Some(KlapMeta {
                    version,
                    seq: *seq,
                    credentials: credentials.clone(),
                    signature_ok: *signature_ok,
                }),
                _ => None,
            },
            shelly: match &m.meta {
                Some(MessageMeta::Shelly {
                    generation,
                    auth,
                    rpc_id,
                }) => Some(ShellyMeta {
                    generation: *generation,
                    auth: auth.as_ref().map(|a| AuthMeta {
                        scheme: a.scheme,
                        user: &a.user,
                        realm: &a.realm,
                    }),
                    rpc_id,
                }),
                _ => None,
            },
            coiot: match &m.meta {
                Some(MessageMeta::Coiot {
                    code,
                    device_id,
                    validity,
                    serial,
                    mapped,
                }) => Some(CoiotMeta {
                    code,
                    device_id,
                    validity: *validity,
                    serial: *serial,
                    mapped,
                }),
                _ => None,
            },
            wemo: match &m.meta {
                Some(MessageMeta::Wemo { service, action }) => Some(WemoMeta { service, action }),
                _ => None,
            },
            tuya: match &m.meta {
                Some(MessageMeta::Tuya {
                    version,
                    cmd,
                    seq,
                    retcode,
                    check,
                    check_ok,
                    signature_ok,
                    key,
                }) => Some(TuyaMeta {
                    version,
                    cmd: *cmd,
                    seq: *seq,
                    retcode: *retcode,
                    check,
                    check_ok: *check_ok,
                    signature_ok: *signature_ok,
                    key,
                }),
                _ => None,
            },
            meross: match &m.meta {
                Some(MessageMeta::Meross {
                    namespace,
                    method,
                    message_id,
                    sign_ok,
                }) => Some(MerossMeta {
                    namespace,
                    method,
                    message_id,
                    sign_ok: *sign_ok,
                }),
                _ => None,
            },
        })),
        ev::EventBody::Discovery(d) => EventBody::Discovery(DiscoveryEvent {
            protocol: d.protocol,
            src: s(d.src),
            dst: s(d.dst),
            direction: if d.reply { "response" } else { "request" },
            device: d.device.map(s),
            summary: d.summary.clone(),
            crc_ok: d.crc_ok,
            json: d.json.clone(),
        }),
        ev::EventBody::CredentialLeak(l) => EventBody::CredentialLeak(LeakEvent {
            kind: words::credential_kind(l.source),
            src: s(l.src),
            dst: s(l.dst),
            device: l.device.map(s),
            username: l.username.clone(),
            password: l.password.clone(),
            masked: l.masked,
        }),
        ev::EventBody::CloudLink(c) => EventBody::CloudLink(CloudEvent {
            state: match c.state {
                ev::CloudState::Opened => "opened",
                ev::CloudState::Closed => "closed",
            },
            label: CLOUD_LABEL,
            device: c.device.map(s),
            src: s(c.src),
            dst: s(c.dst),
            initiated_by: if c.initiated_by_device {
                "device"
            } else {
                "remote"
            },
            initiator_seen: c.initiator_seen,
            sni: c.sni.clone(),
            dns_name: c.dns_name.clone(),
            tls_version: c.tls_version.map(words::tls_version),
            server_cert_cn: c.server_cert_cn.clone(),
            bytes_up: c.bytes_up,
            bytes_down: c.bytes_down,
            packets: c.packets,
            duration_s: seconds(c.duration),
            mean_interval_s: c.mean_interval_s.map(round_micros),
        }),
        ev::EventBody::Handshake(h) => {
            let (message, outcome) = words::handshake(&h.outcome);
            EventBody::Handshake(HandshakeEvent {
                bssid: s(h.bssid),
                sta: s(h.sta),
                message,
                outcome,
            })
        }
        ev::EventBody::Undecodable(u) => EventBody::Undecodable(UndecodableEvent {
            protocol: u.protocol,
            src: s(u.src),
            dst: s(u.dst),
            reason: u.reason.clone(),
            label: u.label,
        }),
        ev::EventBody::Warning(w) => EventBody::Warning(WarningEvent {
            kind: w.kind,
            bssid: s(w.bssid),
            sta: s(w.sta),
            message: w.message.clone(),
            frame: w.frame,
            reference: w.reference,
        }),
        ev::EventBody::KlapSession(k) => EventBody::KlapSession(KlapSessionEvent {
            src: s(k.src),
            dst: s(k.dst),
            device: k.device.map(s),
            outcome: match k.outcome {
                ev::KlapOutcome::Decrypting => "decrypting",
                ev::KlapOutcome::CredentialsNeeded => "credentials needed",
            },
            version: k.version,
            credentials: k.credentials.clone(),
            tried: k.tried,
        }),
    }
}

/// The label of every cloud-link event: plugsniff does not decrypt TLS.
pub const CLOUD_LABEL: &str = "TLS: metadata only";

/// `"request"`, `"response"` or `"notify"`.
pub fn direction(k: MessageKind) -> &'static str {
    match k {
        MessageKind::Request => "request",
        MessageKind::Response => "response",
        MessageKind::Notify => "notify",
    }
}

/// One JSON line for an event.
pub fn to_json_line(e: &ev::Event) -> String {
    to_json_line_from(e, None)
}

/// One JSON line for an event, with the name of the sensor that heard it
/// (`"sensor"`, for outputs several sensors share: MQTT).
pub fn to_json_line_from(e: &ev::Event, sensor: Option<&str>) -> String {
    #[derive(Serialize)]
    struct Line<'a> {
        v: u32,
        ts: String,
        #[serde(flatten)]
        body: EventBody<'a>,
        /// The message id (`output::msgid`): equal on every sensor that
        /// heard the message.
        id: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        sensor: Option<&'a str>,
    }
    serde_json::to_string(&Line {
        v: EVENT_VERSION,
        ts: rfc3339(e.ts),
        body: body(&e.body),
        id: super::msgid::message_id(e),
        sensor,
    })
    .unwrap_or_else(|_| "{}".into())
}

/// A duration in milliseconds with the capture's microsecond precision: one
/// division of an integer by a power of ten, so the number prints as the
/// decimal it is (`12.345`, never `12.345000000000001`).
fn millis(d: Duration) -> f64 {
    (d.as_micros().min(1 << 53) as f64) / 1e3
}

/// A duration in seconds with microsecond precision (see [`millis`]).
fn seconds(d: Duration) -> f64 {
    (d.as_micros().min(1 << 53) as f64) / 1e6
}

/// A computed number of seconds (a mean) rounded to microseconds.
fn round_micros(s: f64) -> f64 {
    (s * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time() {
        assert_eq!(
            rfc3339(Ts::from_micros(0, 5)),
            "1970-01-01T00:00:00.000005Z"
        );
    }
}
