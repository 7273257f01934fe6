//! Message ids: one id per message, the same on every sensor that heard it.
//!
//! Several sensors (a 2.4 GHz and a 5 GHz radio, two rooms) often hear the
//! same packet. Their events differ in what each sensor measured (capture
//! time, response latency, flow totals, what it had learned so far: a plug's
//! alias, a device's MAC) but not in what was *said*. The id is a hash of
//! what was said and where:
//!
//! - the event kind and its ends (`src`, `dst`, or BSSID and station);
//! - the direction, the protocol and the payload (`methods` and the decoded
//!   JSON, re-masked here so `--show-secrets` on one sensor does not change
//!   the id; for other kinds the fields that come from the packet:
//!   discovery summaries, undecodable reasons, handshake outcomes);
//! - for events completed by a TCP segment, [`Event::anchor`]: the sequence
//!   number past that segment's payload, which every observer of the segment
//!   reads alike. Two identical requests on one connection (a poll every
//!   five seconds) so get two ids.
//!
//! Events with no anchor (UDP datagrams, 802.11 handshakes and warnings, the
//! end of a TLS link) that repeat *identically* get the same id: consumers
//! de-duplicate within a window (`plugsniff merge --window`, a minute by
//! default; `docs/deployment.md`), so a repeat a minute later is a new
//! message, and repeats within the window are indistinguishable anyway.
//!
//! Where observers can disagree (a sensor that missed a segment sees a
//! retransmission complete the message; a sensor whose flow expired on idle
//! reports the TLS link closed without the FIN), the ids differ and the
//! message shows up twice: ids never merge two different messages.
//!
//! The id is the first 64 bits of SHA-256 over a versioned, NUL-separated
//! encoding of those fields, as 16 lower-case hex digits. The encoding is
//! part of the schema (`docs/events.md`): changing it changes every id.

use std::io::Write;

use sha2::{Digest, Sha256};

use crate::report::event::{self as ev, Event, EventBody};

/// Version tag of the hashed encoding.
const ENCODING: &[u8] = b"plugsniff-msgid-1";

/// The event's message id: 16 lower-case hex digits.
pub fn message_id(e: &Event) -> String {
    let mut h = Hasher(Sha256::new());
    h.field(ENCODING);
    match &e.body {
        EventBody::Message(m) => {
            h.text("message");
            h.text(m.protocol);
            h.text(m.transport);
            h.addr(m.src);
            h.addr(m.dst);
            h.text(match m.kind {
                crate::decoders::MessageKind::Request => "request",
                crate::decoders::MessageKind::Response => "response",
                crate::decoders::MessageKind::Notify => "notify",
            });
            h.anchor(e.anchor);
            for method in &m.methods {
                h.text(method);
            }
            h.field(b"json");
            let mut json = m.json.clone();
            ev::mask_secrets(&mut json);
            // Writing to a hasher cannot fail; a serializer error would only
            // leave the JSON out of the hash.
            let _ = serde_json::to_writer(&mut h, &json);
            h.field(b"");
        }
        EventBody::Discovery(d) => {
            h.text("discovery");
            h.text(d.protocol);
            h.addr(d.src);
            h.addr(d.dst);
            h.text(if d.reply { "response" } else { "request" });
            for s in &d.summary {
                h.text(s);
            }
            h.field(b"json");
            if let Some(j) = &d.json {
                let _ = serde_json::to_writer(&mut h, j);
            }
            h.field(b"");
        }
        EventBody::CredentialLeak(l) => {
            h.text("credential_leak");
            h.text(super::words::credential_kind(l.source));
            h.addr(l.src);
            h.addr(l.dst);
            h.anchor(e.anchor);
            h.text(&l.username);
        }
        EventBody::CloudLink(c) => {
            // Totals and the anchor depend on what each sensor saw of the
            // connection; its ends (with the client's port) name it.
            h.text("cloud_link");
            h.text(match c.state {
                ev::CloudState::Opened => "opened",
                ev::CloudState::Closed => "closed",
            });
            h.addr(c.src);
            h.addr(c.dst);
            h.text(c.sni.as_deref().unwrap_or(""));
        }
        EventBody::Handshake(hs) => {
            let (message, outcome) = super::words::handshake(&hs.outcome);
            h.text("handshake");
            h.text(&hs.bssid.to_string());
            h.text(&hs.sta.to_string());
            h.text(&message);
            h.text(&outcome);
        }
        EventBody::Undecodable(u) => {
            h.text("undecodable");
            h.text(u.protocol);
            h.addr(u.src);
            h.addr(u.dst);
            h.anchor(e.anchor);
            h.text(&u.reason);
            h.text(u.label.unwrap_or(""));
        }
        EventBody::Warning(w) => {
            // The message names frame numbers, which are each sensor's own.
            h.text("warning");
            h.text(w.kind);
            h.text(&w.bssid.to_string());
            h.text(&w.sta.to_string());
            h.text(w.reference.unwrap_or(""));
        }
        EventBody::KlapSession(k) => {
            h.text("klap_session");
            h.addr(k.src);
            h.addr(k.dst);
            h.anchor(e.anchor);
            h.text(match k.outcome {
                ev::KlapOutcome::Decrypting => "decrypting",
                ev::KlapOutcome::CredentialsNeeded => "credentials needed",
            });
            h.text(k.version.unwrap_or(""));
        }
    }
    let d = h.0.finalize();
    hex::encode(&d[..8])
}

/// SHA-256 over NUL-terminated fields.
struct Hasher(Sha256);

impl Hasher {
    fn field(&mut self, b: &[u8]) {
        self.0.update(b);
        self.0.update([0u8]);
    }
    fn text(&mut self, s: &str) {
        self.field(s.as_bytes());
    }
    fn addr(&mut self, a: std::net::SocketAddr) {
        self.text(&a.to_string());
    }
    fn anchor(&mut self, a: Option<u32>) {
        match a {
            Some(n) => self.field(&n.to_be_bytes()),
            None => self.field(b"-"),
        }
    }
}

impl Write for Hasher {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::MessageKind;
    use crate::report::event::MessageEvent;
    use crate::wire::Ts;

    fn msg(ts: i64, anchor: Option<u32>, json: serde_json::Value) -> Event {
        Event {
            ts: Ts { sec: ts, nsec: 0 },
            anchor,
            body: EventBody::Message(MessageEvent {
                protocol: "tplink-smarthome",
                transport: "tcp",
                src: "192.168.0.23:52098".parse().unwrap(),
                dst: "192.168.0.41:9999".parse().unwrap(),
                kind: MessageKind::Request,
                device: None,
                alias: None,
                methods: vec!["system.get_sysinfo".into()],
                summary: vec![],
                latency: None,
                json,
                meta: None,
            }),
        }
    }

    #[test]
    fn what_each_sensor_measures_is_not_hashed() {
        let j = serde_json::json!({"system":{"get_sysinfo":{}}});
        let a = msg(100, Some(7), j.clone());
        let mut b = msg(101, Some(7), j.clone());
        if let EventBody::Message(m) = &mut b.body {
            m.alias = Some("Coffee maker".into());
            m.device = Some(crate::wire::MacAddr([0x1c, 0x3b, 0xf3, 0x6e, 0xa8, 0x12]));
            m.latency = Some(std::time::Duration::from_millis(30));
        }
        assert_eq!(message_id(&a), message_id(&b));
        assert_eq!(message_id(&a).len(), 16);
        assert!(message_id(&a).bytes().all(|c| c.is_ascii_hexdigit()));
        // What was said, where, and at which stream position, is.
        assert_ne!(message_id(&a), message_id(&msg(100, Some(8), j.clone())));
        assert_ne!(message_id(&a), message_id(&msg(100, None, j)));
        assert_ne!(
            message_id(&a),
            message_id(&msg(100, Some(7), serde_json::json!({"system":{}})))
        );
    }

    #[test]
    fn shown_and_masked_secrets_give_one_id() {
        let shown = msg(
            1,
            Some(1),
            serde_json::json!({"cnCloud":{"bind":{"username":"a","password":"hunter2"}}}),
        );
        let masked = msg(
            1,
            Some(1),
            serde_json::json!({"cnCloud":{"bind":{"username":"a","password":ev::MASK}}}),
        );
        assert_eq!(message_id(&shown), message_id(&masked));
    }

    /// The encoding is part of the schema: a known event has a known id.
    #[test]
    fn encoding_is_stable() {
        let e = msg(0, Some(0x0102_0304), serde_json::json!({"a":1}));
        assert_eq!(message_id(&e), message_id(&e.clone()));
        let mut h = Sha256::new();
        for f in [
            &b"plugsniff-msgid-1"[..],
            b"message",
            b"tplink-smarthome",
            b"tcp",
            b"192.168.0.23:52098",
            b"192.168.0.41:9999",
            b"request",
            &[1, 2, 3, 4],
            b"system.get_sysinfo",
            b"json",
            b"{\"a\":1}",
        ] {
            h.update(f);
            if f != b"{\"a\":1}" {
                h.update([0u8]);
            }
        }
        h.update([0u8]);
        assert_eq!(message_id(&e), hex::encode(&h.finalize()[..8]));
    }
}
