//! Synthetic Tuya traffic: a whole plug conversation for any protocol
//! version (as TCP payload bytes per direction) and the discovery
//! datagrams, built with [`crate::decoders::tuya::codec::Outgoing`] (our own
//! encoder; `tests/tuya.rs` has tinytuya read every frame).
//!
//! [`PlugConversation::frames`] emits, in order, what tinytuya's client and a
//! metering plug exchange (payloads as tinytuya's `payload_dict` builds
//! them for each version):
//! 1. 3.4/3.5 only: SESS_KEY_NEG_START (client nonce), SESS_KEY_NEG_RESP
//!    (device nonce ‖ HMAC(local key, client nonce)), SESS_KEY_NEG_FINISH
//!    (HMAC(local key, device nonce)), sealed with the local key;
//! 2. a status poll: DP_QUERY (3.1, 3.3), CONTROL_NEW with the dps to read
//!    (3.2, tinytuya's `device22`), DP_QUERY_NEW (3.4, 3.5), and the
//!    device's answer with the switch off and idle meter;
//! 3. CONTROL (CONTROL_NEW from 3.4) switching dp 1 on, the device's empty
//!    acknowledgement, and a STATUS push with dp 1 on;
//! 4. a STATUS push with power readings (dps 17–20);
//! 5. HEART_BEAT and its empty answer;
//! 6. CONTROL switching off, the acknowledgement and a STATUS push.
//!
//! Sequence numbers: the client counts from 1; the device echoes the
//! request's number up to 3.4 (tinytuya `_get_retcode` pairs on it) and uses
//! its own counter in 3.5 ("v3.5 devices respond with a global incrementing
//! seqno") and for pushes. GCM IVs are derived from direction and sequence
//! number: deterministic, never repeated within a conversation.
//!
//! No I/O, no clock, no randomness: the same inputs give the same bytes.

use crate::decoders::Direction;
use crate::decoders::tuya::codec::{Outgoing, Version};
use crate::decoders::tuya::command::Command;
use crate::decoders::tuya::crypto::{self, NONCE_LEN, SessionKind, TuyaKey};
use crate::decoders::tuya::frame;

/// The local key of the demo plugs (16 characters, as tinytuya's wizard
/// prints them).
pub const DEMO_LOCAL_KEY: &str = "0123456789abcdef";
/// The device id of the demo plugs.
pub const DEMO_DEVICE_ID: &str = "bf0123456789abcdefgh";
/// First timestamp written in payloads (`"t"`).
pub const T0: u64 = 1_764_000_000;

/// One synthetic frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthFrame {
    /// `ToServer`: app → plug.
    pub dir: Direction,
    pub cmd: Command,
    pub seq: u32,
    /// The application payload as sent (JSON, nonce, HMAC; empty for acks).
    pub payload: Vec<u8>,
    /// The whole frame on the wire.
    pub bytes: Vec<u8>,
}

/// A plug conversation to generate.
#[derive(Debug, Clone)]
pub struct PlugConversation {
    pub version: Version,
    pub local_key: TuyaKey,
    pub device_id: String,
    /// 3.4/3.5: the client's and the device's nonces.
    pub local_nonce: [u8; NONCE_LEN],
    pub remote_nonce: [u8; NONCE_LEN],
}

impl PlugConversation {
    /// The demo plug ([`DEMO_LOCAL_KEY`], [`DEMO_DEVICE_ID`]) speaking
    /// `version`.
    pub fn demo(version: Version) -> PlugConversation {
        PlugConversation {
            version,
            local_key: TuyaKey::from_local_key_str(DEMO_LOCAL_KEY).expect("16 characters"),
            device_id: DEMO_DEVICE_ID.into(),
            local_nonce: *b"0123456789abcdef",
            remote_nonce: *b"plugsniff-nonce!",
        }
    }

    /// The session key both ends derive (3.4/3.5).
    pub fn session_key(&self) -> Option<TuyaKey> {
        let kind = match self.version {
            Version::V34 => SessionKind::Ecb,
            Version::V35 => SessionKind::Gcm,
            _ => return None,
        };
        Some(crypto::session_key(
            kind,
            &self.local_key,
            &self.local_nonce,
            &self.remote_nonce,
        ))
    }

    /// The whole conversation, in order.
    pub fn frames(&self) -> Vec<SynthFrame> {
        let mut w = Writer {
            conv: self,
            session: None,
            client_seq: 0,
            device_seq: 0,
            out: Vec::new(),
        };
        let v = self.version;
        let id = self.device_id.as_str();
        if v.has_session() {
            let ln = self.local_nonce;
            let c = w.client(Command::SESS_KEY_NEG_START, &ln);
            let mut resp = self.remote_nonce.to_vec();
            resp.extend(crypto::hmac_sha256(&self.local_key, &[&ln]));
            w.reply(c, Command::SESS_KEY_NEG_RESP, &resp, false);
            let fin = crypto::hmac_sha256(&self.local_key, &[&self.remote_nonce]);
            w.client(Command::SESS_KEY_NEG_FINISH, &fin);
            w.session = self.session_key();
        }
        // 2. Status poll.
        let (cmd, query) = match v {
            Version::V31 | Version::V33 => (
                Command::DP_QUERY,
                format!(r#"{{"gwId":"{id}","devId":"{id}","uid":"{id}","t":"{T0}"}}"#),
            ),
            Version::V32 => (
                Command::CONTROL_NEW,
                format!(
                    r#"{{"devId":"{id}","uid":"{id}","t":"{T0}","dps":{{"1":null,"9":null,"19":null}}}}"#
                ),
            ),
            Version::V34 | Version::V35 => (Command::DP_QUERY_NEW, "{}".into()),
        };
        let c = w.client(cmd, query.as_bytes());
        let state = r#"{"1":false,"9":0,"17":0,"18":0,"19":0,"20":2301}"#;
        w.reply(c, cmd, status(v, id, state, 1).as_bytes(), false);
        // 3. Switch on: ack, then a push.
        w.control(true, 2);
        // 4. Power readings.
        w.push(
            status(
                v,
                id,
                r#"{"1":true,"17":3,"18":412,"19":945,"20":2301}"#,
                30,
            )
            .as_bytes(),
        );
        // 5. Heartbeat.
        let hb = format!(r#"{{"gwId":"{id}","devId":"{id}"}}"#);
        let c = w.client(Command::HEART_BEAT, hb.as_bytes());
        w.reply(c, Command::HEART_BEAT, b"", false);
        // 6. Switch off.
        w.control(false, 60);
        w.out
    }

    /// Every frame of one direction, concatenated (a TCP stream).
    pub fn stream(&self, dir: Direction) -> Vec<u8> {
        self.frames()
            .into_iter()
            .filter(|f| f.dir == dir)
            .flat_map(|f| f.bytes)
            .collect()
    }
}

/// A status report's JSON as the device sends it for this version.
fn status(v: Version, id: &str, dps: &str, dt: u64) -> String {
    let t = T0 + dt;
    match v {
        Version::V34 | Version::V35 => {
            format!(r#"{{"protocol":4,"t":{t},"data":{{"dps":{dps}}}}}"#)
        }
        _ => format!(r#"{{"devId":"{id}","dps":{dps},"t":{t}}}"#),
    }
}

struct Writer<'a> {
    conv: &'a PlugConversation,
    session: Option<TuyaKey>,
    client_seq: u32,
    device_seq: u32,
    out: Vec<SynthFrame>,
}

impl Writer<'_> {
    fn key(&self, cmd: Command) -> &TuyaKey {
        match &self.session {
            Some(k) if !cmd.is_negotiation() => k,
            _ => &self.conv.local_key,
        }
    }

    fn iv(dir: Direction, seq: u32) -> [u8; 12] {
        let mut iv = *b"synth-\0\0\0\0\0\0";
        iv[6] = dir.index() as u8;
        iv[7..11].copy_from_slice(&seq.to_be_bytes());
        iv
    }

    fn emit(&mut self, o: Outgoing<'_>, dir: Direction) {
        let bytes = o.with_iv(Self::iv(dir, o.seq)).seal(self.key(o.cmd));
        self.out.push(SynthFrame {
            dir,
            cmd: o.cmd,
            seq: o.seq,
            payload: o.payload.to_vec(),
            bytes,
        });
    }

    /// A client request; returns its sequence number.
    fn client(&mut self, cmd: Command, payload: &[u8]) -> u32 {
        self.client_seq += 1;
        let seq = self.client_seq;
        self.emit(
            Outgoing::client(self.conv.version, seq, cmd, payload),
            Direction::ToServer,
        );
        seq
    }

    fn device_seq(&mut self) -> u32 {
        self.device_seq += 1;
        self.device_seq
    }

    /// The device's answer to request `seq`.
    fn reply(&mut self, seq: u32, cmd: Command, payload: &[u8], header: bool) {
        let seq = if self.conv.version == Version::V35 {
            self.device_seq()
        } else {
            seq
        };
        self.emit(
            Outgoing::device(self.conv.version, seq, cmd, payload).with_header(header),
            Direction::ToClient,
        );
    }

    /// A STATUS push (with the version header, as devices send them).
    fn push(&mut self, payload: &[u8]) {
        let seq = self.device_seq();
        self.emit(
            Outgoing::device(self.conv.version, seq, Command::STATUS, payload).with_header(true),
            Direction::ToClient,
        );
    }

    fn control(&mut self, on: bool, dt: u64) {
        let v = self.conv.version;
        let id = self.conv.device_id.clone();
        let t = T0 + dt;
        let (cmd, body) = match v {
            Version::V34 | Version::V35 => (
                Command::CONTROL_NEW,
                format!(r#"{{"protocol":5,"t":{t},"data":{{"dps":{{"1":{on}}}}}}}"#),
            ),
            _ => (
                Command::CONTROL,
                format!(r#"{{"devId":"{id}","uid":"{id}","t":"{t}","dps":{{"1":{on}}}}}"#),
            ),
        };
        let seq = self.client(cmd, body.as_bytes());
        self.reply(seq, cmd, b"", false);
        self.push(status(v, &id, &format!(r#"{{"1":{on}}}"#), dt + 1).as_bytes());
    }
}

/// A device's discovery broadcast for `version`: `(UDP port, payload)`.
/// 3.1 on 6666 in clear, 3.2–3.4 on 6667 under the UDP key, 3.5 on 7000
/// with GCM (tinytuya `decrypt_udp` reads all three).
pub fn discovery_broadcast(
    version: Version,
    ip: [u8; 4],
    device_id: &str,
    product_key: &str,
) -> (u16, Vec<u8>) {
    let json = format!(
        r#"{{"ip":"{}.{}.{}.{}","gwId":"{device_id}","active":2,"ability":0,"mode":0,"encrypt":{},"productKey":"{product_key}","version":"{}"}}"#,
        ip[0],
        ip[1],
        ip[2],
        ip[3],
        version != Version::V31,
        version.as_str()
    );
    let udp = crypto::udp_key();
    let mut body = 0u32.to_be_bytes().to_vec();
    match version {
        Version::V31 => {
            body.extend_from_slice(json.as_bytes());
            (
                6666,
                frame::pack_55aa(0, Command::UDP_NEW.0, &body, frame::Seal::Crc),
            )
        }
        Version::V35 => {
            body.extend_from_slice(json.as_bytes());
            (
                7000,
                frame::pack_6699(0, Command::UDP_NEW.0, &body, &udp, b"synth-udp-iv"),
            )
        }
        _ => {
            body.extend(crypto::ecb_encrypt(&udp, json.as_bytes()));
            (
                6667,
                frame::pack_55aa(0, Command::UDP_NEW.0, &body, frame::Seal::Crc),
            )
        }
    }
}

/// The app's REQ_DEVINFO broadcast to UDP 7000 (tinytuya `scanner.py`
/// `send_discovery_request`): `{"from":"app","ip":…}`, GCM under the UDP key.
pub fn app_discovery_request(ip: [u8; 4]) -> Vec<u8> {
    let json = format!(
        r#"{{"from":"app","ip":"{}.{}.{}.{}"}}"#,
        ip[0], ip[1], ip[2], ip[3]
    );
    frame::pack_6699(
        0,
        Command::REQ_DEVINFO.0,
        json.as_bytes(),
        &crypto::udp_key(),
        b"synth-app-iv",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::tuya::frame::Frame;

    #[test]
    fn conversations_are_deterministic_and_well_framed() {
        for v in Version::ALL {
            let c = PlugConversation::demo(v);
            let a = c.frames();
            assert_eq!(a, c.frames());
            assert_eq!(a.len(), if v.has_session() { 14 } else { 11 }, "{v:?}");
            for f in &a {
                let p = Frame::parse(&f.bytes).unwrap();
                assert_eq!((p.seq(), p.cmd()), (f.seq, f.cmd.0));
            }
        }
    }

    #[test]
    fn discovery_datagrams_decode() {
        use crate::decoders::tuya::discovery::decode;
        for v in Version::ALL {
            let (port, d) = discovery_broadcast(v, [192, 168, 1, 50], DEMO_DEVICE_ID, "keyabc");
            assert_eq!(port, [6666, 6667, 6667, 6667, 7000][v as usize]);
            assert_eq!(decode(&d).unwrap().json["version"], v.as_str());
        }
        assert_eq!(
            decode(&app_discovery_request([192, 168, 1, 2]))
                .unwrap()
                .json["from"],
            "app"
        );
    }
}
