//! Tuya discovery datagrams: devices announce themselves by broadcast on
//! UDP 6666 (3.1, JSON in clear), 6667 (3.2–3.4, AES-ECB under the
//! well-known [`crypto::udp_key`]) and 7000 (3.5, AES-GCM under the same
//! key); the app asks 3.5 devices to announce with a REQ_DEVINFO broadcast to
//! 7000 (tinytuya `scanner.py` `send_discovery_request`, `devices`;
//! `core/udp_helper.py` `decrypt_udp`).
//!
//! # Forms (`decrypt_udp`)
//! - a 55AA frame (return code, then the payload): a payload that starts
//!   with `{` and ends with `}` is JSON in clear, anything else ECB under the
//!   UDP key;
//! - a 6699 frame: GCM under the UDP key, a return code before the JSON when
//!   the plaintext does not start with `{` but its fifth byte does, trailing
//!   NULs dropped ("app sometimes has extra NUL bytes at the end");
//! - anything else: the whole datagram ECB under the UDP key.
//!
//! An announcement (`gwId`, `ip`, `version`, `productKey`, …) becomes a
//! [`Finding::Discovery`] with an [`Announce`]: device id, vendor `Tuya`,
//! the protocol version and the `productKey` in the notes (a catalogue id
//! such as `keyjup78v54myhan`, not a model name a user would recognise, so
//! it does not become the model, which names the device where it has no
//! alias). The address and
//! version are remembered ([`super::keys::TuyaState::learn`]) so that TCP
//! connections to the device find its key and expect its version.
//!
//! No key is needed: the UDP key is public. Datagrams longer than
//! [`MAX_DATAGRAM`] are not decoded.

use std::net::IpAddr;

use serde_json::Value;

use super::codec::{Version, looks_like_text};
use super::command::Command;
use super::crypto::{self, TuyaKey};
use super::dps::clean_id;
use super::frame::{Format, Frame, RETCODE_LEN};
use crate::decoders::{Announce, Ctx, Direction, DiscoveryFinding, Finding};

/// Registration name and `protocol` of discovery findings.
pub const DISCOVERY_PROTOCOL: &str = "tuya-discovery";
/// Largest datagram decoded (tinytuya `scanner.py` reads with
/// `recvfrom(4048)`).
pub const MAX_DATAGRAM: usize = 4048;

/// How the datagram was wrapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wrapping {
    /// 55AA frame, JSON in clear (UDP 6666, 3.1).
    Plain,
    /// 55AA frame, ECB under the UDP key (UDP 6667).
    Ecb,
    /// 6699 frame, GCM under the UDP key (UDP 7000, 3.5).
    Gcm,
    /// No frame: the datagram is ECB ciphertext.
    RawEcb,
}

/// A decoded discovery datagram.
#[derive(Debug, Clone, PartialEq)]
pub struct DiscoveryMessage {
    pub wrapping: Wrapping,
    /// The frame's command (19 `UDP_NEW`, 35 `BOARDCAST_LPV34`, 37
    /// `REQ_DEVINFO`…), when framed.
    pub cmd: Option<Command>,
    /// CRC (55AA) or GCM tag (6699) verified; for raw ECB the padding.
    pub check_ok: bool,
    pub json: Value,
}

/// Why a datagram did not decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiscoveryError {
    TooLong {
        len: usize,
    },
    /// Decryption under the UDP key failed (not Tuya, or damaged).
    NotDecrypted(crypto::CryptError),
    /// Decrypted, but not JSON.
    NotJson,
    Frame(super::frame::FrameError),
}

fn json_of(b: &[u8]) -> Result<Value, DiscoveryError> {
    serde_json::from_slice(b).map_err(|_| DiscoveryError::NotJson)
}

/// Decodes one UDP 6666/6667/7000 payload.
pub fn decode(datagram: &[u8]) -> Result<DiscoveryMessage, DiscoveryError> {
    if datagram.len() > MAX_DATAGRAM {
        return Err(DiscoveryError::TooLong {
            len: datagram.len(),
        });
    }
    let key = crypto::udp_key();
    let raw = |key: &TuyaKey| {
        let p = crypto::ecb_decrypt(key, datagram).map_err(DiscoveryError::NotDecrypted)?;
        Ok(DiscoveryMessage {
            wrapping: Wrapping::RawEcb,
            cmd: None,
            check_ok: true,
            json: json_of(&p)?,
        })
    };
    let f = match Frame::parse(datagram) {
        Ok(f) => f,
        Err(super::frame::FrameError::BadPrefix) => return raw(&key),
        Err(e) => return Err(DiscoveryError::Frame(e)),
    };
    let cmd = Some(Command(f.cmd()));
    match f.format() {
        Format::Classic => {
            let body = f.crc_body();
            let payload = if body.len() >= RETCODE_LEN && body.first() != Some(&b'{') {
                &body[RETCODE_LEN..]
            } else {
                body
            };
            if payload.first() == Some(&b'{') && payload.last() == Some(&b'}') {
                return Ok(DiscoveryMessage {
                    wrapping: Wrapping::Plain,
                    cmd,
                    check_ok: f.crc_ok(),
                    json: json_of(payload)?,
                });
            }
            let p = crypto::ecb_decrypt(&key, payload).map_err(DiscoveryError::NotDecrypted)?;
            Ok(DiscoveryMessage {
                wrapping: Wrapping::Ecb,
                cmd,
                check_ok: f.crc_ok(),
                json: json_of(&p)?,
            })
        }
        Format::Gcm => {
            let parts = f.gcm_parts().ok_or(DiscoveryError::NotJson)?;
            let p = parts.open(&key).map_err(DiscoveryError::NotDecrypted)?;
            let mut b: &[u8] = &p;
            if b.first() != Some(&b'{') && b.get(RETCODE_LEN) == Some(&b'{') {
                b = &b[RETCODE_LEN..];
            }
            while let Some((0, rest)) = b.split_last().map(|(l, r)| (*l, r)) {
                b = rest;
            }
            Ok(DiscoveryMessage {
                wrapping: Wrapping::Gcm,
                cmd,
                check_ok: true,
                json: json_of(b)?,
            })
        }
    }
}

fn text(v: &Value, k: &str) -> Option<String> {
    v.get(k)?
        .as_str()
        .filter(|s| s.len() <= 64 && looks_like_text(s.as_bytes()))
        .map(str::to_owned)
}

/// The announcing device's facts, when the JSON is an announcement.
pub fn announce(json: &Value, sender: IpAddr) -> Option<(Announce, Option<Version>)> {
    let id = json.get("gwId")?.as_str().and_then(clean_id)?;
    let ip = text(json, "ip")
        .and_then(|s| s.parse::<IpAddr>().ok())
        .unwrap_or(sender);
    let version = text(json, "version");
    let mut a = Announce::new(ip);
    a.vendor = Some("Tuya".into());
    a.device_id = Some(id);
    a.protocols = vec![super::PROTOCOL];
    if let Some(v) = &version {
        a.notes.push(format!("Tuya local protocol {v}"));
    }
    if let Some(p) = text(json, "productKey") {
        a.notes.push(format!("Tuya productKey {p}"));
    }
    Some((a, version.as_deref().and_then(Version::parse)))
}

/// The [`crate::decoders::DatagramFn`] for UDP 6666, 6667 and 7000.
pub fn on_datagram(cx: &mut Ctx<'_>, dir: Direction, payload: &[u8], out: &mut Vec<Finding>) {
    let sender = match dir {
        Direction::ToServer => cx.client.ip(),
        Direction::ToClient => cx.server.ip(),
    };
    let m = match decode(payload) {
        Ok(m) => m,
        Err(e) => {
            out.push(Finding::Undecodable {
                protocol: DISCOVERY_PROTOCOL,
                dir,
                reason: format!(
                    "Tuya discovery datagram of {} bytes from {sender}: {e:?}",
                    payload.len()
                ),
                label: None,
                http: false,
            });
            return;
        }
    };
    let cmd = m
        .cmd
        .map_or_else(String::new, |c| format!(" ({})", c.label()));
    let (announce, summary) = if let Some((a, v)) = announce(&m.json, sender) {
        cx.shared.tuya.learn(a.ip, a.device_id.as_deref(), v);
        let s = format!(
            "device {} at {} announces Tuya {}{}{cmd}",
            a.device_id.as_deref().unwrap_or("?"),
            a.ip,
            text(&m.json, "version").unwrap_or_else(|| "?".into()),
            text(&m.json, "productKey").map_or_else(String::new, |p| format!(", product {p}")),
        );
        (Some(a), s)
    } else if m.json.get("from").and_then(Value::as_str) == Some("app") {
        (None, format!("app discovery request from {sender}{cmd}"))
    } else {
        (None, format!("Tuya discovery JSON without gwId{cmd}"))
    };
    // A device's broadcast is an announcement, whichever end the port
    // numbers make the "server" (a plug sends from an ephemeral port to
    // 6667): `ToClient` marks it so (as mDNS and SSDP do), and the watcher
    // takes the sender as the device.
    let dir = if announce.is_some() {
        Direction::ToClient
    } else {
        dir
    };
    out.push(Finding::Discovery(Box::new(DiscoveryFinding {
        protocol: DISCOVERY_PROTOCOL,
        dir,
        announce,
        summary: vec![summary],
        crc_ok: m.check_ok,
        json: Some(m.json),
    })));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::tuya::frame::{Seal, pack_55aa, pack_6699};

    const ANN: &[u8] = br#"{"ip":"192.168.1.50","gwId":"bf0123456789abcdefgh","active":2,"ability":0,"mode":0,"encrypt":true,"productKey":"keyjup78v54myhan","version":"3.3"}"#;

    fn with_retcode(p: &[u8]) -> Vec<u8> {
        let mut b = vec![0, 0, 0, 0];
        b.extend_from_slice(p);
        b
    }

    #[test]
    fn the_three_forms_and_raw() {
        let plain = pack_55aa(0, 0x13, &with_retcode(ANN), Seal::Crc);
        let m = decode(&plain).unwrap();
        assert_eq!((m.wrapping, m.check_ok), (Wrapping::Plain, true));
        assert_eq!(m.json["gwId"], "bf0123456789abcdefgh");
        let ecb = pack_55aa(
            0,
            0x13,
            &with_retcode(&crypto::ecb_encrypt(&crypto::udp_key(), ANN)),
            Seal::Crc,
        );
        assert_eq!(decode(&ecb).unwrap().wrapping, Wrapping::Ecb);
        let mut nul = with_retcode(ANN);
        nul.extend([0, 0]);
        let gcm = pack_6699(0, 0x25, &nul, &crypto::udp_key(), b"0123456789ab");
        let m = decode(&gcm).unwrap();
        assert_eq!(m.wrapping, Wrapping::Gcm);
        assert_eq!(m.cmd, Some(Command::REQ_DEVINFO));
        let raw = crypto::ecb_encrypt(&crypto::udp_key(), ANN);
        assert_eq!(decode(&raw).unwrap().wrapping, Wrapping::RawEcb);
    }

    #[test]
    fn announcement_facts() {
        let j: Value = serde_json::from_slice(ANN).unwrap();
        let (a, v) = announce(&j, IpAddr::from([10, 0, 0, 9])).unwrap();
        assert_eq!(a.ip, IpAddr::from([192, 168, 1, 50]));
        assert_eq!(a.device_id.as_deref(), Some("bf0123456789abcdefgh"));
        assert_eq!(a.model, None);
        assert_eq!(a.vendor.as_deref(), Some("Tuya"));
        assert_eq!(
            a.notes,
            [
                "Tuya local protocol 3.3",
                "Tuya productKey keyjup78v54myhan"
            ]
        );
        assert_eq!(v, Some(Version::V33));
        let j = serde_json::json!({"from":"app","ip":"192.168.1.2"});
        assert!(announce(&j, IpAddr::from([10, 0, 0, 9])).is_none());
    }

    #[test]
    fn hostile_datagrams() {
        assert!(matches!(decode(b""), Err(DiscoveryError::Frame(_))));
        assert!(matches!(
            decode(b"0123456789"),
            Err(DiscoveryError::NotDecrypted(_))
        ));
        assert!(decode(&[0u8; 16]).is_err());
        assert_eq!(
            decode(&vec![0; MAX_DATAGRAM + 1]),
            Err(DiscoveryError::TooLong {
                len: MAX_DATAGRAM + 1
            })
        );
        let gcm = pack_6699(0, 0x25, ANN, &crypto::udp_key(), b"0123456789ab");
        for n in 0..gcm.len() {
            let _ = decode(&gcm[..n]);
        }
        let mut bad = gcm.clone();
        bad[30] ^= 1;
        assert!(matches!(decode(&bad), Err(DiscoveryError::NotDecrypted(_))));
    }
}
