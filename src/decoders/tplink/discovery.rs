//! TDP ("TP-Link Discovery Protocol" v2) on UDP 20002: the 16-byte header,
//! its CRC, and the JSON body of queries and device announcements.
//!
//! # What this module owns
//! One datagram in, one [`TdpMessage`] out: header fields, whether the CRC
//! and the size field check out, and what the JSON says about the device.
//! Parts that are RSA-encrypted to the querier's key are labelled as such
//! ([`EncryptInfo`], [`RsaKeyInfo`]); a passive observer cannot open them.
//!
//! # Format (python-kasa `kasa/discover.py`, `_AesDiscoveryQuery`)
//! Header `>BBHHBBII` (big-endian):
//!
//! | off | len | field    | query value                 |
//! |-----|-----|----------|-----------------------------|
//! | 0   | 1   | version  | 2                           |
//! | 1   | 1   | msg_type | 0                           |
//! | 2   | 2   | op_code  | 1                           |
//! | 4   | 2   | msg_size | length of the JSON body     |
//! | 6   | 1   | flags    | 17                          |
//! | 7   | 1   | padding  | 0                           |
//! | 8   | 4   | serial   | random                      |
//! | 12  | 4   | crc32    | see [`TDP_CRC_MAGIC`]       |
//!
//! Query body: `{"params":{"rsa_key":"<PEM>"}}`. Reply body:
//! `{"error_code":0,"result":{device_type, device_model, device_id, ip, mac,
//! owner, mgt_encrypt_schm:{is_support_https, encrypt_type, http_port, lv},
//! encrypt_info?:{sym_schm, key, data}, ...}}`.
//!
//! # Guarantees
//! Never panics; a bad CRC or size is reported, not dropped (a sniffer wants
//! to see odd packets); JSON is parsed only up to [`MAX_BODY`] bytes.

use serde_json::{Map, Value};

use super::parser::MAX_MESSAGE;

/// UDP port of TDP discovery (python-kasa `Discover.DISCOVERY_PORT_2`).
pub const TDP_PORT: u16 = 20002;

/// Header length in bytes.
pub const TDP_HEADER_LEN: usize = 16;

/// The CRC field holds this value while the CRC-32 (IEEE, as zlib's
/// `crc32`) over the whole datagram is computed; the result then replaces
/// it. Checked against python-kasa's fixed `DISCOVERY_QUERY_2`,
/// `020000010000000000000000463cb5d3`.
pub const TDP_CRC_MAGIC: u32 = 0x5A6B_7C8D;

/// Largest body parsed as JSON.
pub const MAX_BODY: usize = MAX_MESSAGE;

/// The 16-byte TDP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TdpHeader {
    pub version: u8,
    pub msg_type: u8,
    pub op_code: u16,
    /// Declared body length.
    pub msg_size: u16,
    pub flags: u8,
    pub padding: u8,
    pub serial: u32,
    pub crc32: u32,
}

/// The CRC check's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrcStatus {
    Valid,
    Mismatch { computed: u32 },
}

/// A public key the querier sent (`params.rsa_key`): replies encrypt to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RsaKeyInfo {
    pub pem_len: usize,
    pub looks_like_pem: bool,
}

/// `encrypt_info`: a symmetric key RSA-OAEP-encrypted to the querier's key,
/// and data under it. Opaque to an observer; only sizes are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptInfo {
    pub sym_schm: Option<String>,
    /// Length of the base64 `key` field (RSA-encrypted).
    pub rsa_encrypted_key_len: usize,
    /// Length of the base64 `data` field (encrypted with that key).
    pub encrypted_data_len: usize,
}

/// What a device says about itself in a reply.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeviceAnnouncement {
    pub error_code: Option<i64>,
    pub device_type: Option<String>,
    pub device_model: Option<String>,
    pub device_id: Option<String>,
    pub ip: Option<String>,
    pub mac: Option<String>,
    /// 32 hex digits; python-kasa treats it as a hash of the account owner.
    pub owner: Option<String>,
    pub factory_default: Option<bool>,
    pub is_support_iot_cloud: Option<bool>,
    pub obd_src: Option<String>,
    pub protocol_version: Option<i64>,
    /// `mgt_encrypt_schm.encrypt_type`: XOR, KLAP, AES, TPAP…
    pub encrypt_type: Option<String>,
    pub http_port: Option<i64>,
    pub is_support_https: Option<bool>,
    /// `mgt_encrypt_schm.lv` (KLAP version).
    pub login_version: Option<i64>,
    pub encrypt_info: Option<EncryptInfo>,
    /// A `tpap` object is present: newer PAKE-based firmware.
    pub has_tpap: bool,
}

/// The body's meaning.
#[derive(Debug, Clone, PartialEq)]
pub enum DiscoveryInfo {
    Query {
        rsa_key: Option<RsaKeyInfo>,
    },
    Reply(Box<DeviceAnnouncement>),
    /// JSON, but neither shape.
    OtherJson,
    /// Empty body (e.g. `DISCOVERY_QUERY_2`).
    Empty,
    /// Not JSON, or longer than [`MAX_BODY`].
    NotJson,
}

/// One parsed TDP datagram.
#[derive(Debug, Clone, PartialEq)]
pub struct TdpMessage<'a> {
    pub header: TdpHeader,
    pub body: &'a [u8],
    pub crc: CrcStatus,
    /// `msg_size` equals the body length.
    pub size_matches: bool,
    pub json: Option<Value>,
    pub info: DiscoveryInfo,
}

/// Why a datagram is not TDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TdpError {
    /// Shorter than the header.
    Truncated { required: usize, len: usize },
}

/// CRC-32 of `datagram` with the CRC field replaced by [`TDP_CRC_MAGIC`].
/// `datagram` must hold at least [`TDP_HEADER_LEN`] bytes.
fn compute_crc(datagram: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&datagram[..12]);
    h.update(&TDP_CRC_MAGIC.to_be_bytes());
    h.update(&datagram[TDP_HEADER_LEN..]);
    h.finalize()
}

/// Parses one UDP 20002 payload.
pub fn parse_tdp(datagram: &[u8]) -> Result<TdpMessage<'_>, TdpError> {
    if datagram.len() < TDP_HEADER_LEN {
        return Err(TdpError::Truncated {
            required: TDP_HEADER_LEN,
            len: datagram.len(),
        });
    }
    let b = datagram;
    let header = TdpHeader {
        version: b[0],
        msg_type: b[1],
        op_code: u16::from_be_bytes([b[2], b[3]]),
        msg_size: u16::from_be_bytes([b[4], b[5]]),
        flags: b[6],
        padding: b[7],
        serial: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
        crc32: u32::from_be_bytes([b[12], b[13], b[14], b[15]]),
    };
    let body = &b[TDP_HEADER_LEN..];
    let computed = compute_crc(b);
    let crc = if computed == header.crc32 {
        CrcStatus::Valid
    } else {
        CrcStatus::Mismatch { computed }
    };
    let size_matches = usize::from(header.msg_size) == body.len();
    let json = if body.is_empty() || body.len() > MAX_BODY {
        None
    } else {
        serde_json::from_slice::<Value>(body).ok()
    };
    let info = match &json {
        _ if body.is_empty() => DiscoveryInfo::Empty,
        None => DiscoveryInfo::NotJson,
        Some(v) => interpret(v),
    };
    Ok(TdpMessage {
        header,
        body,
        crc,
        size_matches,
        json,
        info,
    })
}

fn s(m: &Map<String, Value>, k: &str) -> Option<String> {
    m.get(k).and_then(Value::as_str).map(str::to_owned)
}

fn flag(m: &Map<String, Value>, k: &str) -> Option<bool> {
    let v = m.get(k)?;
    v.as_bool().or_else(|| v.as_i64().map(|i| i != 0))
}

fn interpret(v: &Value) -> DiscoveryInfo {
    let Some(top) = v.as_object() else {
        return DiscoveryInfo::OtherJson;
    };
    if let Some(result) = top.get("result").and_then(Value::as_object) {
        let schm = result
            .get("mgt_encrypt_schm")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let encrypt_info = result
            .get("encrypt_info")
            .and_then(Value::as_object)
            .map(|e| EncryptInfo {
                sym_schm: s(e, "sym_schm"),
                rsa_encrypted_key_len: e.get("key").and_then(Value::as_str).map_or(0, str::len),
                encrypted_data_len: e.get("data").and_then(Value::as_str).map_or(0, str::len),
            });
        return DiscoveryInfo::Reply(Box::new(DeviceAnnouncement {
            error_code: top.get("error_code").and_then(Value::as_i64),
            device_type: s(result, "device_type"),
            device_model: s(result, "device_model"),
            device_id: s(result, "device_id"),
            ip: s(result, "ip"),
            mac: s(result, "mac"),
            owner: s(result, "owner"),
            factory_default: flag(result, "factory_default"),
            is_support_iot_cloud: flag(result, "is_support_iot_cloud"),
            obd_src: s(result, "obd_src"),
            protocol_version: result.get("protocol_version").and_then(Value::as_i64),
            encrypt_type: s(&schm, "encrypt_type"),
            http_port: schm.get("http_port").and_then(Value::as_i64),
            is_support_https: flag(&schm, "is_support_https"),
            login_version: schm.get("lv").and_then(Value::as_i64),
            encrypt_info,
            has_tpap: result.get("tpap").is_some(),
        }));
    }
    if let Some(params) = top.get("params").and_then(Value::as_object) {
        let rsa_key = params
            .get("rsa_key")
            .and_then(Value::as_str)
            .map(|pem| RsaKeyInfo {
                pem_len: pem.len(),
                looks_like_pem: pem.starts_with("-----BEGIN"),
            });
        return DiscoveryInfo::Query { rsa_key };
    }
    DiscoveryInfo::OtherJson
}

/// Builds a TDP datagram the way python-kasa does (setter side, for tests
/// and synthetic captures).
pub fn build(msg_type: u8, op_code: u16, flags: u8, serial: u32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(TDP_HEADER_LEN + body.len());
    out.push(2);
    out.push(msg_type);
    out.extend_from_slice(&op_code.to_be_bytes());
    out.extend_from_slice(&(body.len().min(usize::from(u16::MAX)) as u16).to_be_bytes());
    out.push(flags);
    out.push(0);
    out.extend_from_slice(&serial.to_be_bytes());
    out.extend_from_slice(&TDP_CRC_MAGIC.to_be_bytes());
    out.extend_from_slice(body);
    let crc = compute_crc(&out);
    out[12..16].copy_from_slice(&crc.to_be_bytes());
    out
}

/// Devices whose TDP `http_port`/`encrypt_type` is remembered.
pub const MAX_TDP_DEVICES: usize = 1024;

/// What TDP replies said about each device's local API: `http_port` and
/// `encrypt_type`, by device IP (bounded by [`MAX_TDP_DEVICES`]).
#[derive(Default)]
pub struct TdpPorts {
    map: crate::FastMap<std::net::IpAddr, (Option<u16>, Option<String>)>,
}

impl TdpPorts {
    pub fn learn(&mut self, ip: std::net::IpAddr, port: Option<u16>, enc: Option<String>) {
        if self.map.len() < MAX_TDP_DEVICES || self.map.contains_key(&ip) {
            self.map.insert(ip, (port, enc));
        }
    }
    pub fn http_port(&self, ip: std::net::IpAddr) -> Option<u16> {
        self.map.get(&ip).and_then(|e| e.0)
    }
    pub fn encrypt_type(&self, ip: std::net::IpAddr) -> Option<&str> {
        self.map.get(&ip).and_then(|e| e.1.as_deref())
    }
}

/// Protocol name of TDP events.
pub const TDP_PROTOCOL: &str = "tplink-tdp";

/// Label for TPAP (PAKE + ECDH + AEAD): not decryptable even with the password.
pub const TPAP_LABEL: &str = "TPAP: PAKE key exchange, cannot decrypt passively";

/// An inventory note for a TDP `encrypt_type` a passive observer cannot open.
pub fn encrypt_type_note(e: &str) -> Option<&'static str> {
    match e.to_ascii_uppercase().as_str() {
        "AES" => Some(crate::decoders::klap::session::Label::AesPassthrough.as_str()),
        "TPAP" => Some(TPAP_LABEL),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// python-kasa `Discover.DISCOVERY_QUERY_2`.
    const QUERY_2: [u8; 16] = [
        0x02, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46, 0x3c, 0xb5,
        0xd3,
    ];

    #[test]
    fn python_kasa_fixed_query_has_valid_crc() {
        let m = parse_tdp(&QUERY_2).unwrap();
        assert_eq!(m.crc, CrcStatus::Valid);
        assert_eq!(m.header.version, 2);
        assert_eq!(m.header.op_code, 1);
        assert_eq!(m.header.crc32, 0x463c_b5d3);
        assert!(m.size_matches);
        assert_eq!(m.info, DiscoveryInfo::Empty);
    }

    #[test]
    fn build_and_parse_query() {
        let body = br#"{"params":{"rsa_key":"-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n"}}"#;
        let d = build(0, 1, 17, 0xdead_beef, body);
        let m = parse_tdp(&d).unwrap();
        assert_eq!(m.crc, CrcStatus::Valid);
        assert_eq!(m.header.flags, 17);
        assert_eq!(m.header.serial, 0xdead_beef);
        assert!(m.size_matches);
        let DiscoveryInfo::Query { rsa_key: Some(k) } = m.info else {
            panic!("{:?}", m.info)
        };
        assert!(k.looks_like_pem);
    }

    #[test]
    fn reply_fields_and_opaque_parts() {
        let body = br#"{"error_code":0,"result":{"device_type":"SMART.KASAPLUG","device_model":"KP125M(US)",
            "device_id":"abc","ip":"192.168.1.50","mac":"AA-BB-CC-DD-EE-FF","owner":"00112233445566778899aabbccddeeff",
            "factory_default":false,"is_support_iot_cloud":true,"obd_src":"tplink","protocol_version":1,
            "mgt_encrypt_schm":{"is_support_https":false,"encrypt_type":"KLAP","http_port":80,"lv":2},
            "encrypt_info":{"sym_schm":"AES","key":"QUJDRA==","data":"ZGF0YQ=="}}}"#;
        let d = build(0, 1, 17, 1, body);
        let m = parse_tdp(&d).unwrap();
        let DiscoveryInfo::Reply(r) = m.info else {
            panic!()
        };
        assert_eq!(r.device_model.as_deref(), Some("KP125M(US)"));
        assert_eq!(r.ip.as_deref(), Some("192.168.1.50"));
        assert_eq!(r.encrypt_type.as_deref(), Some("KLAP"));
        assert_eq!(r.http_port, Some(80));
        assert_eq!(r.login_version, Some(2));
        assert_eq!(r.factory_default, Some(false));
        assert_eq!(
            r.encrypt_info,
            Some(EncryptInfo {
                sym_schm: Some("AES".into()),
                rsa_encrypted_key_len: 8,
                encrypted_data_len: 8
            })
        );
        assert!(!r.has_tpap);
    }

    #[test]
    fn bad_crc_and_size_are_flagged_not_dropped() {
        let mut d = build(0, 1, 17, 1, br#"{"params":{}}"#);
        d[4] = 0xff; // msg_size
        let m = parse_tdp(&d).unwrap();
        assert!(matches!(m.crc, CrcStatus::Mismatch { .. }));
        assert!(!m.size_matches);
        assert_eq!(m.info, DiscoveryInfo::Query { rsa_key: None });
    }

    #[test]
    fn every_truncation() {
        let d = build(0, 1, 17, 1, br#"{"params":{}}"#);
        for len in 0..TDP_HEADER_LEN {
            assert_eq!(
                parse_tdp(&d[..len]),
                Err(TdpError::Truncated {
                    required: TDP_HEADER_LEN,
                    len
                })
            );
        }
        for len in TDP_HEADER_LEN..d.len() {
            let m = parse_tdp(&d[..len]).unwrap();
            assert!(!m.size_matches);
        }
    }

    #[test]
    fn not_json() {
        let d = build(0, 1, 17, 1, b"\x00\x01garbage");
        assert_eq!(parse_tdp(&d).unwrap().info, DiscoveryInfo::NotJson);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_datagrams_never_panic(
            d in proptest::collection::vec(proptest::num::u8::ANY, 0..200)
        ) {
            let _ = parse_tdp(&d);
        }
    }
}
