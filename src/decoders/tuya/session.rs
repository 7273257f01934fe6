//! One TCP connection to a Tuya device (port 6668): both framers, version
//! detection, the key, the 3.4/3.5 session key negotiation, decryption,
//! interpretation and request/response pairing. Implements
//! [`StreamDecoder`].
//!
//! # Version
//! Each frame says what it can: a 6699 frame is 3.5; a 55AA frame whose
//! CRC does not verify but which holds an HMAC, or a negotiation command, is
//! 3.4; a CRC frame whose payload starts with `{` or `"3.1"` is 3.1, with
//! `"3.2"`/`"3.3"` that version. A CRC frame without a header (DP_QUERY,
//! HEART_BEAT) takes the version the connection showed before, else the one
//! configured or announced for the device, else 3.3.
//!
//! # Session keys (3.4, 3.5)
//! tinytuya `_negotiate_session_key`: the client sends SESS_KEY_NEG_START
//! with a 16-byte nonce, the device answers SESS_KEY_NEG_RESP with its own
//! nonce and HMAC-SHA256(local key, client nonce), the client confirms with
//! SESS_KEY_NEG_FINISH = HMAC-SHA256(local key, device nonce); all three
//! sealed with the local key. Once both nonces are seen the session key is
//! derived ([`crypto::session_key`]) and every later frame of the connection
//! is opened with it. A connection whose negotiation was not captured is
//! labelled [`LABEL_NEGOTIATION_NOT_CAPTURED`].
//!
//! # Labels
//! What cannot be decrypted is reported once per direction (not per frame)
//! as a [`Finding::Undecodable`] with a fixed label, plus one
//! [`Finding::DeviceNote`] for the device: [`LABEL_KEY_NEEDED`] (no
//! configured key belongs to the device or opens its frames),
//! [`LABEL_KEY_MISMATCH`] (the key configured for the device fails the
//! CRC/HMAC/GCM or padding-and-text checks), [`LABEL_NEGOTIATION_NOT_CAPTURED`].
//!
//! # Pairing
//! A request expects the reply [`Command::expected_reply`] names; a device
//! frame answering the oldest such request is a `Response` (`paired`), any
//! other device frame a `Notify` (status pushes). At most [`MAX_PENDING`]
//! requests wait; a gap forgets them.
//!
//! # Bounds
//! The framers' own ([`super::frame`]); [`MAX_PENDING`]; nonces and session
//! key are fixed-size and zeroized.

use std::collections::VecDeque;
use std::net::IpAddr;

use serde_json::Value;
use zeroize::Zeroizing;

use super::PROTOCOL;
use super::codec::{self, DecodeError, Plain, Sender, Version};
use super::command::Command;
use super::crypto::{self, HMAC_LEN, NONCE_LEN, SessionKind, TuyaKey};
use super::dps;
use super::frame::{Format, Frame, Framer, FramerEvent};
use crate::decoders::{
    AppMessage, Ctx, Direction, Finding, MessageKind, MessageMeta, StreamDecoder,
};

/// Requests remembered per connection while they wait for an answer.
pub const MAX_PENDING: usize = 32;

/// No configured key belongs to the device or opens its frames.
pub const LABEL_KEY_NEEDED: &str = "Tuya: local key needed";
/// The configured key fails the frame's integrity or decryption checks.
pub const LABEL_KEY_MISMATCH: &str = "Tuya: local key does not match";
/// 3.4/3.5 frames of a session whose key negotiation was not captured.
pub const LABEL_NEGOTIATION_NOT_CAPTURED: &str = "Tuya: session key negotiation not captured";

/// Why frames of a connection could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    KeyNeeded,
    KeyMismatch,
    NegotiationNotCaptured,
}

impl Label {
    pub fn text(self) -> &'static str {
        match self {
            Label::KeyNeeded => LABEL_KEY_NEEDED,
            Label::KeyMismatch => LABEL_KEY_MISMATCH,
            Label::NegotiationNotCaptured => LABEL_NEGOTIATION_NOT_CAPTURED,
        }
    }

    fn bit(self) -> u8 {
        match self {
            Label::KeyNeeded => 1,
            Label::KeyMismatch => 2,
            Label::NegotiationNotCaptured => 4,
        }
    }
}

/// Counters of one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SessionStats {
    pub frames: u64,
    pub messages: u64,
    /// Frames not decrypted (labelled or malformed).
    pub undecoded: u64,
    /// Requests forgotten unanswered (queue full, a later answer, a gap).
    pub unanswered: u64,
    pub keys_tried: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyState {
    /// Not needed yet.
    Unresolved,
    /// This configured key opens the connection's frames.
    Found(usize),
    /// No key works; frames that need one get this label.
    Failed(Label),
}

#[derive(Default)]
struct Negotiation {
    local: Option<Zeroizing<[u8; NONCE_LEN]>>,
    remote: Option<Zeroizing<[u8; NONCE_LEN]>>,
    session: Option<TuyaKey>,
}

/// What the connection knows, apart from the framers.
struct Conn {
    version: Option<Version>,
    key: KeyState,
    nego: Negotiation,
    pending: VecDeque<Command>,
    /// Labels already reported, per direction.
    labelled: [u8; 2],
    /// Device notes already given: labels, `DECRYPTED_NOTE`, `SPEAKS_NOTE`.
    noted: u8,
    stats: SessionStats,
}

const DECRYPTED_NOTE: u8 = 8;
const SPEAKS_NOTE: u8 = 16;

/// A Tuya TCP connection.
pub struct TuyaStream {
    framers: [Framer; 2],
    conn: Conn,
}

impl TuyaStream {
    /// `mid_stream`: the capture did not see the connection open, so the
    /// framers expect to start inside a frame.
    pub fn new(mid_stream: bool) -> TuyaStream {
        let f = if mid_stream {
            Framer::hunting()
        } else {
            Framer::new()
        };
        TuyaStream {
            framers: [f.clone(), f],
            conn: Conn {
                version: None,
                key: KeyState::Unresolved,
                nego: Negotiation::default(),
                pending: VecDeque::new(),
                labelled: [0; 2],
                noted: 0,
                stats: SessionStats::default(),
            },
        }
    }

    pub fn stats(&self) -> SessionStats {
        self.conn.stats
    }

    /// The version the connection showed, once known.
    pub fn version(&self) -> Option<Version> {
        self.conn.version
    }

    /// A session key was derived from a captured negotiation.
    pub fn has_session_key(&self) -> bool {
        self.conn.nego.session.is_some()
    }

    pub fn framer(&self, dir: Direction) -> &Framer {
        &self.framers[dir.index()]
    }
}

impl StreamDecoder for TuyaStream {
    fn on_data(&mut self, cx: &mut Ctx<'_>, dir: Direction, data: &[u8], out: &mut Vec<Finding>) {
        let TuyaStream { framers, conn } = self;
        framers[dir.index()].push(data, &mut |ev| match ev {
            FramerEvent::Frame(b) => conn.on_frame(cx, dir, b, out),
            FramerEvent::Desync(_) => out.push(Finding::Desync { protocol: "tuya" }),
            FramerEvent::Resynced { .. } => {}
        });
    }

    fn on_gap(&mut self, _cx: &mut Ctx<'_>, dir: Direction, _len: u64, _out: &mut Vec<Finding>) {
        self.framers[dir.index()].on_gap();
        self.conn.stats.unanswered += self.conn.pending.len() as u64;
        self.conn.pending.clear();
    }

    fn held_bytes(&self) -> usize {
        self.framers.iter().map(Framer::held_bytes).sum()
    }

    fn release(&mut self) {
        for f in &mut self.framers {
            f.release();
        }
    }
}

/// Why a frame was not decoded.
enum Failure {
    Label(Label, String),
    Malformed(String),
}

fn sender_of(dir: Direction) -> Sender {
    match dir {
        Direction::ToServer => Sender::Client,
        Direction::ToClient => Sender::Device,
    }
}

/// The payload of a CRC frame without its return code (for peeking).
fn peek_body<'a>(f: &Frame<'a>, sender: Sender) -> &'a [u8] {
    let b = f.crc_body();
    match sender {
        Sender::Device if b.len() >= 4 && b[0] != b'{' && Version::from_prefix(b).is_none() => {
            &b[4..]
        }
        _ => b,
    }
}

impl Conn {
    fn detect_version(
        &mut self,
        configured: impl FnOnce() -> Option<Version>,
        f: &Frame<'_>,
        sender: Sender,
    ) -> Version {
        let cmd = Command(f.cmd());
        // `strong`: the frame itself names its version (format, HMAC,
        // header); only that may change what the connection showed before.
        let (v, strong) = match f.format() {
            Format::Gcm => (Version::V35, true),
            Format::Classic if cmd.is_negotiation() => (Version::V34, true),
            Format::Classic if !f.crc_ok() && f.hmac_body().is_some() => match self.version {
                // A damaged CRC on a connection that showed CRC frames.
                Some(v) if v <= Version::V33 => (v, false),
                _ => (Version::V34, true),
            },
            Format::Classic => {
                let body = peek_body(f, sender);
                match Version::from_prefix(body) {
                    Some(v) if v <= Version::V33 => (v, true),
                    _ if body.first() == Some(&b'{') => (Version::V31, false),
                    _ => match self.version.or_else(configured) {
                        Some(v) if v <= Version::V33 => (v, false),
                        _ => (Version::V33, false),
                    },
                }
            }
        };
        if strong || self.version.is_none() {
            self.version = Some(v);
        }
        v
    }

    fn label(&mut self, dir: Direction, label: Label, reason: String, out: &mut Vec<Finding>) {
        let bit = label.bit();
        if self.labelled[dir.index()] & bit == 0 {
            self.labelled[dir.index()] |= bit;
            out.push(Finding::Undecodable {
                protocol: PROTOCOL,
                dir,
                reason,
                label: Some(label.text()),
                http: false,
            });
        }
        if self.noted & bit == 0 {
            self.noted |= bit;
            out.push(Finding::DeviceNote {
                protocol: PROTOCOL,
                note: Some(label.text().to_owned()),
            });
        }
    }

    fn on_frame(&mut self, cx: &mut Ctx<'_>, dir: Direction, bytes: &[u8], out: &mut Vec<Finding>) {
        let Ok(f) = Frame::parse(bytes) else {
            // The framer only hands out frames that parse.
            out.push(Finding::Desync { protocol: "tuya" });
            return;
        };
        self.stats.frames += 1;
        if self.noted & SPEAKS_NOTE == 0 {
            self.noted |= SPEAKS_NOTE;
            out.push(Finding::DeviceNote {
                protocol: PROTOCOL,
                note: None,
            });
        }
        let ip = cx.server.ip();
        let sender = sender_of(dir);
        let cmd = Command(f.cmd());
        let tuya = &cx.shared.tuya;
        let v = self.detect_version(|| tuya.version_for(ip), &f, sender);
        // Only failures are described: no formatting on the hot path.
        let what = || {
            format!(
                "Tuya {} {} seq={} {}",
                v.as_str(),
                cmd.label(),
                f.seq(),
                match sender {
                    Sender::Client => "to the device",
                    Sender::Device => "from the device",
                }
            )
        };
        let decoded = if v.has_session() && !cmd.is_negotiation() {
            self.open_with_session(cx, ip, &f, v, sender)
        } else {
            self.open_with_local_key(cx, ip, &f, v, sender)
        };
        match decoded {
            Ok((plain, key_label)) => {
                if cmd.is_negotiation() {
                    self.negotiate(cx, ip, v, cmd, &plain, key_label, dir, &f, out);
                } else {
                    self.message(cx, ip, v, cmd, &f, plain, key_label, dir, out);
                }
            }
            Err(Failure::Label(label, why)) => {
                self.stats.undecoded += 1;
                self.label(
                    dir,
                    label,
                    format!("{}: {}: {why}", label.text(), what()),
                    out,
                );
            }
            Err(Failure::Malformed(why)) => {
                self.stats.undecoded += 1;
                out.push(Finding::Undecodable {
                    protocol: PROTOCOL,
                    dir,
                    reason: format!("{}: {why}", what()),
                    label: None,
                    http: false,
                });
            }
        }
    }

    /// Decodes with the local key: the one found earlier, or by trial.
    fn open_with_local_key(
        &mut self,
        cx: &mut Ctx<'_>,
        ip: IpAddr,
        f: &Frame<'_>,
        v: Version,
        sender: Sender,
    ) -> Result<(Plain, Option<String>), Failure> {
        let tuya = &mut cx.shared.tuya;
        let malformed = |why: &str| Failure::Malformed(why.to_owned());
        match self.key {
            KeyState::Found(idx) => {
                let Some(d) = tuya.device(idx) else {
                    return Err(malformed("key vanished"));
                };
                return match codec::decode(f, v, sender, Some(&d.local_key)) {
                    Ok(p) => {
                        let label = p.encrypted.then(|| d.label.clone());
                        Ok((p, label))
                    }
                    Err(DecodeError::Malformed(why)) => Err(malformed(why)),
                    Err(e) => Err(Failure::Label(
                        Label::KeyMismatch,
                        format!("{} no longer opens it ({e:?})", d.label),
                    )),
                };
            }
            KeyState::Failed(label) => {
                return match codec::decode(f, v, sender, None) {
                    Ok(p) => Ok((p, None)),
                    Err(DecodeError::Malformed(why)) => Err(malformed(why)),
                    Err(_) => Err(Failure::Label(
                        label,
                        "no configured key opens this connection".into(),
                    )),
                };
            }
            KeyState::Unresolved => {}
        }
        match codec::decode(f, v, sender, None) {
            Ok(p) => return Ok((p, None)),
            Err(DecodeError::NeedKey) => {}
            Err(DecodeError::Malformed(why)) => return Err(malformed(why)),
            Err(DecodeError::WrongKey(_)) => {}
        }
        let assigned = tuya.assigned(ip);
        let candidates = tuya.candidates(ip);
        let mut tried = 0usize;
        for idx in candidates {
            let Some(d) = tuya.device(idx) else { continue };
            tried += 1;
            match codec::decode(f, v, sender, Some(&d.local_key)) {
                Ok(p) => {
                    let label = d.label.clone();
                    self.key = KeyState::Found(idx);
                    self.stats.keys_tried += tried as u64;
                    tuya.stats.keys_tried += tried as u64;
                    tuya.remember_key(ip, idx);
                    return Ok((p, Some(label)));
                }
                Err(DecodeError::Malformed(why)) => return Err(malformed(why)),
                Err(_) => {}
            }
        }
        self.stats.keys_tried += tried as u64;
        tuya.stats.keys_tried += tried as u64;
        let (label, why) = match assigned.and_then(|i| tuya.device(i)) {
            Some(d) => (
                Label::KeyMismatch,
                format!(
                    "{} (configured for this device) fails the {} check; {tried} key(s) tried",
                    d.label,
                    check_name(f, v)
                ),
            ),
            None => (
                Label::KeyNeeded,
                format!(
                    "no configured key is known for {ip}; {tried} of {} tried, none opens it",
                    tuya.configured()
                ),
            ),
        };
        self.key = KeyState::Failed(label);
        Err(Failure::Label(label, why))
    }

    /// Decodes a 3.4/3.5 data frame with the session key.
    fn open_with_session(
        &mut self,
        cx: &mut Ctx<'_>,
        ip: IpAddr,
        f: &Frame<'_>,
        v: Version,
        sender: Sender,
    ) -> Result<(Plain, Option<String>), Failure> {
        let key_label = match self.key {
            KeyState::Found(i) => cx.shared.tuya.device(i).map(|d| d.label.clone()),
            _ => None,
        };
        let Some(sk) = &self.nego.session else {
            if let KeyState::Failed(l) = self.key {
                return Err(Failure::Label(
                    l,
                    "the local key is not known, so neither is the session key".into(),
                ));
            }
            let known = self.key != KeyState::Unresolved || cx.shared.tuya.assigned(ip).is_some();
            return Err(if known {
                Failure::Label(
                    Label::NegotiationNotCaptured,
                    "no SESS_KEY_NEG_START/RESP seen on this connection".into(),
                )
            } else {
                Failure::Label(
                    Label::KeyNeeded,
                    format!(
                        "no configured key is known for {ip} and the negotiation that would identify one was not captured"
                    ),
                )
            });
        };
        match codec::decode(f, v, sender, Some(sk)) {
            Ok(p) => Ok((p, key_label.map(|l| format!("session key ({l})")))),
            Err(DecodeError::Malformed(why)) => Err(Failure::Malformed(why.to_owned())),
            Err(e) => Err(Failure::Label(
                Label::NegotiationNotCaptured,
                format!(
                    "the session key derived from the captured negotiation does not open it ({e:?}): a later negotiation was missed"
                ),
            )),
        }
    }

    #[allow(clippy::too_many_arguments)] // one call site; a struct would only rename them
    fn negotiate(
        &mut self,
        cx: &mut Ctx<'_>,
        ip: IpAddr,
        v: Version,
        cmd: Command,
        plain: &Plain,
        key_label: Option<String>,
        dir: Direction,
        f: &Frame<'_>,
        out: &mut Vec<Finding>,
    ) {
        let local_key = match self.key {
            KeyState::Found(i) => cx.shared.tuya.device(i).map(|d| d.local_key.clone()),
            _ => None,
        };
        let p = plain.payload.as_slice();
        let mut proof_ok = true;
        match cmd {
            Command::SESS_KEY_NEG_START => {
                self.nego = Negotiation::default();
                if let Some(n) = p.first_chunk::<NONCE_LEN>() {
                    self.nego.local = Some(Zeroizing::new(*n));
                }
            }
            Command::SESS_KEY_NEG_RESP => {
                if let (Some(n), Some(mac)) = (
                    p.first_chunk::<NONCE_LEN>(),
                    p.get(NONCE_LEN..NONCE_LEN + HMAC_LEN),
                ) {
                    self.nego.remote = Some(Zeroizing::new(*n));
                    if let (Some(lk), Some(ln)) = (&local_key, &self.nego.local) {
                        proof_ok = crypto::ct_eq(&crypto::hmac_sha256(lk, &[ln.as_slice()]), mac);
                    }
                } else {
                    proof_ok = false;
                }
            }
            _ => {
                if let (Some(lk), Some(rn)) = (&local_key, &self.nego.remote) {
                    proof_ok = crypto::ct_eq(&crypto::hmac_sha256(lk, &[rn.as_slice()]), p);
                }
            }
        }
        if self.nego.session.is_none()
            && let (Some(lk), Some(ln), Some(rn)) =
                (&local_key, &self.nego.local, &self.nego.remote)
        {
            let kind = if v == Version::V35 {
                SessionKind::Gcm
            } else {
                SessionKind::Ecb
            };
            self.nego.session = Some(crypto::session_key(kind, lk, ln, rn));
        }
        let mut m = self.build(cx, ip, v, cmd, f, plain, key_label, dir, Value::Null, out);
        if let Some(MessageMeta::Tuya { check_ok, .. }) = &mut m.meta {
            *check_ok &= proof_ok;
        }
        self.stats.messages += 1;
        out.push(Finding::Message(Box::new(m)));
    }

    #[allow(clippy::too_many_arguments)] // one call site; a struct would only rename them
    fn message(
        &mut self,
        cx: &mut Ctx<'_>,
        ip: IpAddr,
        v: Version,
        cmd: Command,
        f: &Frame<'_>,
        plain: Plain,
        key_label: Option<String>,
        dir: Direction,
        out: &mut Vec<Finding>,
    ) {
        let p = plain.payload.as_slice();
        let json = if p.is_empty() {
            Value::Null
        } else if let Ok(j) = serde_json::from_slice::<Value>(p) {
            j
        } else if let Ok(s) = std::str::from_utf8(p) {
            Value::String(s.to_owned())
        } else {
            self.stats.undecoded += 1;
            out.push(Finding::Undecodable {
                protocol: PROTOCOL,
                dir,
                reason: format!(
                    "Tuya {} {} seq={}: {} bytes decrypted, not text",
                    v.as_str(),
                    cmd.label(),
                    f.seq(),
                    p.len()
                ),
                label: None,
                http: false,
            });
            return;
        };
        let m = self.build(cx, ip, v, cmd, f, &plain, key_label, dir, json, out);
        self.stats.messages += 1;
        out.push(Finding::Message(Box::new(m)));
    }

    #[allow(clippy::too_many_arguments)] // shared by the two callers above
    fn build(
        &mut self,
        cx: &mut Ctx<'_>,
        ip: IpAddr,
        v: Version,
        cmd: Command,
        f: &Frame<'_>,
        plain: &Plain,
        key_label: Option<String>,
        dir: Direction,
        json: Value,
        out: &mut Vec<Finding>,
    ) -> AppMessage {
        let sender = sender_of(dir);
        let it = dps::interpret(cmd, sender, &json);
        if let Some(id) = &it.device_id {
            cx.shared.tuya.learn(ip, Some(id), Some(v));
        }
        if let Some(l) = &key_label
            && self.noted & DECRYPTED_NOTE == 0
        {
            self.noted |= DECRYPTED_NOTE;
            out.push(Finding::DeviceNote {
                protocol: PROTOCOL,
                note: Some(format!("Tuya {}: decrypted with {l}", v.as_str())),
            });
        }
        let (kind, paired) = match sender {
            Sender::Client => match cmd.expected_reply() {
                Some(reply) => {
                    if self.pending.len() >= MAX_PENDING {
                        self.pending.pop_front();
                        self.stats.unanswered += 1;
                    }
                    self.pending.push_back(reply);
                    (MessageKind::Request, true)
                }
                None => (MessageKind::Request, false),
            },
            Sender::Device => match self.pending.iter().position(|c| *c == cmd) {
                Some(pos) => {
                    // Older requests were not answered.
                    self.stats.unanswered += pos as u64;
                    self.pending.drain(..=pos);
                    (MessageKind::Response, true)
                }
                None => (MessageKind::Notify, false),
            },
        };
        AppMessage {
            protocol: PROTOCOL,
            transport: "tcp",
            dir,
            kind,
            methods: it.methods,
            summary: it.summary,
            json,
            meta: Some(MessageMeta::Tuya {
                version: v.as_str(),
                cmd: cmd.0,
                seq: f.seq(),
                retcode: plain.retcode,
                check: plain.check.name(),
                check_ok: plain.check_ok,
                signature_ok: plain.signature_ok,
                key: key_label,
            }),
            paired,
            via: "tuya",
        }
    }
}

fn check_name(f: &Frame<'_>, v: Version) -> &'static str {
    match (f.format(), v) {
        (Format::Gcm, _) => "AES-GCM tag",
        (_, Version::V34) => "HMAC-SHA256",
        _ => "padding and text",
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;
    use crate::decoders::summary::{RelayState, Summary};
    use crate::decoders::tuya::keys::TuyaDeviceKey;
    use crate::decoders::{DecoderConfig, FlowMeta, Shared};
    use crate::synth::tuya::{DEMO_DEVICE_ID, DEMO_LOCAL_KEY, PlugConversation, SynthFrame};
    use crate::wire::Ts;

    const PLUG: [u8; 4] = [192, 168, 1, 50];
    const APP: [u8; 4] = [192, 168, 1, 23];

    fn device(key: &str, ip: Option<[u8; 4]>) -> TuyaDeviceKey {
        TuyaDeviceKey {
            id: DEMO_DEVICE_ID.into(),
            local_key: TuyaKey::from_local_key_str(key).unwrap(),
            ip: ip.map(IpAddr::from),
            version: None,
            label: "tuya_device #1".into(),
        }
    }

    fn shared(devices: Vec<TuyaDeviceKey>) -> Shared {
        Shared::new(DecoderConfig {
            tuya_devices: devices,
            ..DecoderConfig::default()
        })
    }

    /// Feeds frames, each as one segment of its direction.
    fn run(s: &mut TuyaStream, sh: &mut Shared, frames: &[SynthFrame]) -> Vec<Finding> {
        let mut out = Vec::new();
        for f in frames {
            feed(s, sh, f.dir, &f.bytes, &mut out);
        }
        out
    }

    fn feed(s: &mut TuyaStream, sh: &mut Shared, dir: Direction, b: &[u8], out: &mut Vec<Finding>) {
        let mut cx = Ctx {
            ts: Ts::default(),
            client: SocketAddr::from((APP, 50123)),
            server: SocketAddr::from((PLUG, 6668)),
            shared: sh,
            flow: FlowMeta::default(),
        };
        s.on_data(&mut cx, dir, b, out);
    }

    fn messages(out: &[Finding]) -> Vec<&AppMessage> {
        out.iter()
            .filter_map(|f| match f {
                Finding::Message(m) => Some(&**m),
                _ => None,
            })
            .collect()
    }

    fn labels(out: &[Finding]) -> Vec<(Direction, &'static str)> {
        out.iter()
            .filter_map(|f| match f {
                Finding::Undecodable {
                    dir,
                    label: Some(l),
                    ..
                } => Some((*dir, *l)),
                _ => None,
            })
            .collect()
    }

    fn meta(m: &AppMessage) -> (u32, u32, &'static str) {
        match &m.meta {
            Some(MessageMeta::Tuya {
                cmd, seq, version, ..
            }) => (*cmd, *seq, *version),
            other => panic!("{other:?}"),
        }
    }

    fn expected_json(f: &SynthFrame) -> Value {
        if f.payload.is_empty() || f.cmd.is_negotiation() {
            Value::Null
        } else {
            serde_json::from_slice(&f.payload).unwrap()
        }
    }

    #[test]
    fn every_version_decodes_the_whole_conversation() {
        for v in Version::ALL {
            let conv = PlugConversation::demo(v);
            let frames = conv.frames();
            let mut sh = shared(vec![device(DEMO_LOCAL_KEY, Some(PLUG))]);
            let mut s = TuyaStream::new(false);
            let out = run(&mut s, &mut sh, &frames);
            let ms = messages(&out);
            assert_eq!(ms.len(), frames.len(), "{v:?}: {out:?}");
            assert!(labels(&out).is_empty(), "{v:?}");
            for (m, f) in ms.iter().zip(&frames) {
                assert_eq!(m.json, expected_json(f), "{v:?} {:?}", f.cmd);
                assert_eq!(meta(m), (f.cmd.0, f.seq, v.as_str()), "{v:?}");
                assert_eq!(m.dir, f.dir);
                assert_eq!(m.protocol, "tuya");
                assert_eq!(m.transport, "tcp");
                if let Some(MessageMeta::Tuya { check_ok, key, .. }) = &m.meta {
                    assert!(check_ok, "{v:?} {:?}", f.cmd);
                    // Everything but 3.1's clear JSON and the empty
                    // acknowledgements of 3.1-3.3 needs the key.
                    let clear = v <= Version::V33 && f.payload.is_empty();
                    if v != Version::V31 && !clear {
                        assert!(
                            key.as_deref().is_some_and(|k| k.contains("tuya_device #1")),
                            "{v:?}"
                        );
                    }
                }
            }
            assert_eq!(s.version(), Some(v));
            assert_eq!(s.has_session_key(), v.has_session());
            // Kinds: every request answered, pushes are notifications.
            let kinds: Vec<_> = ms.iter().map(|m| (m.kind, m.paired)).collect();
            let requests = kinds.iter().filter(|k| k.0 == MessageKind::Request).count();
            let responses = kinds
                .iter()
                .filter(|k| **k == (MessageKind::Response, true))
                .count();
            let notifies = kinds
                .iter()
                .filter(|k| **k == (MessageKind::Notify, false))
                .count();
            assert_eq!(notifies, 3, "{v:?} {kinds:?}");
            assert_eq!(
                responses + usize::from(v.has_session()),
                requests,
                "{v:?} {kinds:?}"
            );
            // What it says.
            let sums: Vec<&Summary> = ms.iter().flat_map(|m| &m.summary).collect();
            assert!(
                sums.contains(&&Summary::SetRelayState(RelayState::On)),
                "{v:?}"
            );
            assert!(
                sums.contains(&&Summary::SetRelayState(RelayState::Off)),
                "{v:?}"
            );
            assert!(
                sums.iter().any(|s| matches!(s, Summary::Emeter(e)
                if e.power_w.is_some_and(|p| (p - 94.5).abs() < 1e-9))),
                "{v:?}"
            );
            assert!(
                sums.iter().any(|s| matches!(s, Summary::SysInfo(i)
                if i.relay_state == Some(RelayState::On))),
                "{v:?}"
            );
            // One device note for the protocol, one for the key.
            let notes = out
                .iter()
                .filter(|f| matches!(f, Finding::DeviceNote { .. }))
                .count();
            assert_eq!(notes, 2, "{v:?} {out:?}");
        }
    }

    #[test]
    fn key_found_by_trial_and_remembered() {
        for v in Version::ALL {
            let mut other = device("fedcba9876543210", None);
            other.id = "someotherdevice".into();
            let mut sh = shared(vec![other, device(DEMO_LOCAL_KEY, None)]);
            sh.tuya.device(1).unwrap();
            let mut s = TuyaStream::new(false);
            let frames = PlugConversation::demo(v).frames();
            let out = run(&mut s, &mut sh, &frames);
            assert_eq!(messages(&out).len(), frames.len(), "{v:?}");
            assert_eq!(sh.tuya.assigned(IpAddr::from(PLUG)), Some(1), "{v:?}");
            assert!(
                sh.tuya.stats.keys_tried <= 2 + u64::from(v == Version::V31),
                "{v:?}"
            );
        }
    }

    #[test]
    fn wrong_key_is_labelled_once_per_direction() {
        for v in Version::ALL {
            let mut sh = shared(vec![device("fedcba9876543210", Some(PLUG))]);
            let mut s = TuyaStream::new(false);
            let frames = PlugConversation::demo(v).frames();
            let out = run(&mut s, &mut sh, &frames);
            let l = labels(&out);
            assert!(!l.is_empty(), "{v:?}");
            assert!(
                l.iter().all(|(_, t)| *t == LABEL_KEY_MISMATCH),
                "{v:?} {l:?}"
            );
            assert!(l.len() <= 2, "{v:?} {l:?}");
            let notes: Vec<_> = out
                .iter()
                .filter(|f| matches!(f, Finding::DeviceNote { note: Some(n), .. } if n == LABEL_KEY_MISMATCH))
                .collect();
            assert_eq!(notes.len(), 1, "{v:?}");
            // Nothing decrypted is output: only what travels in clear
            // (3.1's JSON, the empty acknowledgements up to 3.3).
            for m in messages(&out) {
                assert!(v <= Version::V33, "{v:?}");
                assert!(v == Version::V31 || m.json == Value::Null, "{v:?}");
                assert!(matches!(&m.meta, Some(MessageMeta::Tuya { key: None, .. })));
            }
        }
    }

    #[test]
    fn without_keys_the_device_is_still_identified_and_labelled() {
        for v in Version::ALL {
            let mut sh = shared(Vec::new());
            let mut s = TuyaStream::new(false);
            let frames = PlugConversation::demo(v).frames();
            let out = run(&mut s, &mut sh, &frames);
            let l = labels(&out);
            assert!(l.iter().all(|(_, t)| *t == LABEL_KEY_NEEDED), "{v:?} {l:?}");
            assert!(!l.is_empty() && l.len() <= 2, "{v:?} {l:?}");
            if v == Version::V31 {
                // DP_QUERY, its answer, HEART_BEAT… are in clear.
                let ms = messages(&out);
                assert!(ms.len() >= 5, "{ms:?}");
                assert_eq!(
                    sh.tuya
                        .learned(IpAddr::from(PLUG))
                        .and_then(|l| l.device_id.clone())
                        .as_deref(),
                    Some(DEMO_DEVICE_ID)
                );
            } else {
                // At most the empty acknowledgements (CRC only, no key).
                assert!(
                    messages(&out)
                        .iter()
                        .all(|m| m.json == Value::Null && v <= Version::V33),
                    "{v:?}"
                );
            }
        }
    }

    #[test]
    fn session_without_its_negotiation_is_labelled() {
        for v in [Version::V34, Version::V35] {
            let frames = PlugConversation::demo(v).frames();
            let mut sh = shared(vec![device(DEMO_LOCAL_KEY, Some(PLUG))]);
            let mut s = TuyaStream::new(true);
            let out = run(&mut s, &mut sh, &frames[3..]);
            let l = labels(&out);
            assert_eq!(
                l,
                [
                    (Direction::ToServer, LABEL_NEGOTIATION_NOT_CAPTURED),
                    (Direction::ToClient, LABEL_NEGOTIATION_NOT_CAPTURED)
                ],
                "{v:?}"
            );
            assert!(messages(&out).is_empty());
        }
    }

    #[test]
    fn garbage_gaps_and_splits_resync() {
        for v in Version::ALL {
            let frames = PlugConversation::demo(v).frames();
            let mut sh = shared(vec![device(DEMO_LOCAL_KEY, Some(PLUG))]);
            let mut s = TuyaStream::new(false);
            let mut out = Vec::new();
            for (i, f) in frames.iter().enumerate() {
                match i % 3 {
                    0 => {
                        feed(&mut s, &mut sh, f.dir, b"\x00\x00\x55garbage", &mut out);
                        feed(&mut s, &mut sh, f.dir, &f.bytes, &mut out);
                    }
                    1 => {
                        let (a, b) = f.bytes.split_at(f.bytes.len() / 2);
                        feed(&mut s, &mut sh, f.dir, a, &mut out);
                        feed(&mut s, &mut sh, f.dir, b, &mut out);
                    }
                    _ => feed(&mut s, &mut sh, f.dir, &f.bytes, &mut out),
                }
            }
            assert_eq!(messages(&out).len(), frames.len(), "{v:?}");
            assert!(out.iter().any(|f| matches!(f, Finding::Desync { .. })));
            // A gap in the middle of a frame: that frame is lost, the next
            // one decodes.
            let last = frames.last().unwrap();
            let mut cx_out = Vec::new();
            let (a, _) = last.bytes.split_at(10);
            feed(&mut s, &mut sh, last.dir, a, &mut cx_out);
            assert!(s.held_bytes() > 0);
            let mut cx = Ctx {
                ts: Ts::default(),
                client: SocketAddr::from((APP, 50123)),
                server: SocketAddr::from((PLUG, 6668)),
                shared: &mut sh,
                flow: FlowMeta::default(),
            };
            s.on_gap(&mut cx, last.dir, 100, &mut cx_out);
            assert_eq!(s.held_bytes(), 0);
            feed(&mut s, &mut sh, last.dir, b"tail", &mut cx_out);
            feed(&mut s, &mut sh, last.dir, &last.bytes, &mut cx_out);
            assert_eq!(messages(&cx_out).len(), 1, "{v:?} {cx_out:?}");
        }
    }

    #[test]
    fn every_truncation_of_a_stream_is_incomplete_not_a_panic() {
        for v in Version::ALL {
            let conv = PlugConversation::demo(v);
            let c2s = conv.stream(Direction::ToServer);
            for n in (0..c2s.len()).step_by(7) {
                let mut sh = shared(vec![device(DEMO_LOCAL_KEY, Some(PLUG))]);
                let mut s = TuyaStream::new(false);
                let mut out = Vec::new();
                feed(&mut s, &mut sh, Direction::ToServer, &c2s[..n], &mut out);
                assert!(
                    !out.iter().any(|f| matches!(f, Finding::Desync { .. })),
                    "{v:?} {n}"
                );
                s.release();
                assert_eq!(s.held_bytes(), 0);
            }
        }
    }

    #[test]
    fn discovery_then_tcp_finds_the_key_by_device_id() {
        use crate::synth::tuya::discovery_broadcast;
        let mut sh = shared(vec![device(DEMO_LOCAL_KEY, None)]);
        let (_, d) = discovery_broadcast(Version::V33, PLUG, DEMO_DEVICE_ID, "keyabc");
        let mut out = Vec::new();
        let mut cx = Ctx {
            ts: Ts::default(),
            client: SocketAddr::from((PLUG, 6667)),
            server: SocketAddr::from(([255, 255, 255, 255], 6667)),
            shared: &mut sh,
            flow: FlowMeta::default(),
        };
        super::super::discovery::on_datagram(&mut cx, Direction::ToServer, &d, &mut out);
        assert!(
            matches!(&out[0], Finding::Discovery(d) if d.announce.as_ref().unwrap().device_id.as_deref() == Some(DEMO_DEVICE_ID))
        );
        assert_eq!(sh.tuya.assigned(IpAddr::from(PLUG)), Some(0));
        assert_eq!(sh.tuya.version_for(IpAddr::from(PLUG)), Some(Version::V33));
        let mut s = TuyaStream::new(false);
        let frames = PlugConversation::demo(Version::V33).frames();
        let out = run(&mut s, &mut sh, &frames);
        assert_eq!(messages(&out).len(), frames.len());
        assert_eq!(sh.tuya.stats.keys_tried, 1);
    }

    /// A frame in clear on a 3.3 connection is read as JSON but does not
    /// turn the connection into 3.1: later frames without a header are
    /// still 3.3.
    #[test]
    fn a_clear_frame_does_not_change_the_connection_version() {
        use crate::decoders::tuya::codec::Outgoing;
        let frames = PlugConversation::demo(Version::V33).frames();
        let mut sh = shared(vec![device(DEMO_LOCAL_KEY, Some(PLUG))]);
        let mut s = TuyaStream::new(false);
        let mut out = run(&mut s, &mut sh, &frames[..3]);
        let clear = Outgoing::device(Version::V31, 77, Command::STATUS, br#"{"dps":{"1":true}}"#)
            .seal(&TuyaKey::new([0; 16]));
        feed(&mut s, &mut sh, Direction::ToClient, &clear, &mut out);
        out.extend(run(&mut s, &mut sh, &frames[3..]));
        let ms = messages(&out);
        assert_eq!(ms.len(), frames.len() + 1);
        assert_eq!(meta(ms[3]).2, "3.1");
        assert!(ms[4..].iter().all(|m| meta(m).2 == "3.3"));
        assert_eq!(s.version(), Some(Version::V33));
    }

    #[test]
    fn pending_requests_are_bounded() {
        let conv = PlugConversation::demo(Version::V33);
        let hb = conv
            .frames()
            .into_iter()
            .find(|f| f.cmd == Command::HEART_BEAT && f.dir == Direction::ToServer)
            .unwrap();
        let mut sh = shared(vec![device(DEMO_LOCAL_KEY, Some(PLUG))]);
        let mut s = TuyaStream::new(false);
        let mut out = Vec::new();
        for _ in 0..100 {
            feed(&mut s, &mut sh, Direction::ToServer, &hb.bytes, &mut out);
        }
        assert_eq!(s.conn.pending.len(), MAX_PENDING);
        assert_eq!(s.stats().unanswered, 100 - MAX_PENDING as u64);
    }
}
