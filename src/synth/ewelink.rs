//! Synthetic eWeLink LAN-mode traffic, encrypted as SonoffLAN `local.py`
//! and pysonofflanr3 `sonoffcrypto.py` do: the `_ewelink._tcp` mDNS
//! announcement with its state in `data1`…`data4`, and a `POST
//! /zeroconf/*` conversation on TCP 8081. Payload bytes only; the lead's
//! demo wraps them in frames.

use serde_json::{Value, json};

use super::mdns::{Builder, Section, TTL_HOST, TTL_OTHER, txt_rdata};
use crate::decoders::ewelink::crypto::{DeviceKey, encrypt};
use crate::wire::dns::rtype;

/// The demo device's id and key (give them to plugsniff as
/// `[[ewelink_device]] id = DEVICE_ID, devicekey = DEVICE_KEY`).
pub const DEVICE_ID: &str = "1000a1b2c3";
pub const DEVICE_KEY: &str = "6c1e8a42-93b5-4f27-a0d1-5e7c2b9f4d30";
/// A DIY-mode (unencrypted) device.
pub const DIY_DEVICE_ID: &str = "10009f8e7d";

/// TXT `dataN` fields hold at most this many characters (ITEAD DIY-mode
/// doc: "longer than 249 bytes … divided by length 249").
pub const DATA_CHUNK: usize = 249;

/// The TXT attributes of an announcement of `state`, encrypted under
/// `devicekey` with `iv` when given (DIY mode otherwise).
pub fn txt(
    id: &str,
    dtype: &str,
    seq: u32,
    state: &Value,
    key: Option<(&str, [u8; 16])>,
) -> Vec<(String, String)> {
    let mut v = vec![
        ("txtvers".to_owned(), "1".to_owned()),
        ("id".to_owned(), id.to_owned()),
        ("type".to_owned(), dtype.to_owned()),
        ("apivers".to_owned(), "1".to_owned()),
        ("seq".to_owned(), seq.to_string()),
    ];
    let data = match key {
        Some((k, iv)) => {
            let (iv_b64, data) = encrypt(
                &DeviceKey::from_devicekey(k),
                iv,
                state.to_string().as_bytes(),
            );
            v.push(("encrypt".to_owned(), "true".to_owned()));
            v.push(("iv".to_owned(), iv_b64));
            data
        }
        None => state.to_string(),
    };
    let bytes = data.as_bytes();
    for (i, chunk) in bytes.chunks(DATA_CHUNK).take(4).enumerate() {
        v.push((
            format!("data{}", i + 1),
            String::from_utf8_lossy(chunk).into_owned(),
        ));
    }
    v
}

/// An mDNS announcement of an eWeLink device at `ip` (instance and host
/// `eWeLink_<id>`, port 8081, as the devices announce themselves).
pub fn announcement(ip: [u8; 4], attrs: &[(String, String)]) -> Vec<u8> {
    let id = attrs
        .iter()
        .find(|(k, _)| k == "id")
        .map_or("", |(_, v)| v.as_str());
    let inst = format!("eWeLink_{id}");
    let pairs: Vec<(&str, &str)> = attrs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut b = Builder::new(0x8400);
    let svc = ["_ewelink", "_tcp", "local"];
    let name = [inst.as_str(), "_ewelink", "_tcp", "local"];
    let host = [inst.as_str(), "local"];
    b.record(Section::Answer, &svc, rtype::PTR, false, TTL_OTHER, |b| {
        b.name(&name)
    });
    b.record(
        Section::Additional,
        &name,
        rtype::SRV,
        true,
        TTL_HOST,
        |b| {
            b.bytes(&[0, 0, 0, 0]);
            b.bytes(&crate::decoders::ewelink::PORT.to_be_bytes());
            b.name(&host);
        },
    );
    let t = txt_rdata(&pairs);
    b.record(
        Section::Additional,
        &name,
        rtype::TXT,
        true,
        TTL_OTHER,
        |b| b.bytes(&t),
    );
    b.record(Section::Additional, &host, rtype::A, true, TTL_HOST, |b| {
        b.bytes(&ip)
    });
    b.finish()
}

/// The JSON body of a `zeroconf/*` request (SonoffLAN `send`:
/// `sequence`, `deviceid`, `selfApikey` "123", then `encrypt`/`iv`/`data`).
pub fn request_body(
    id: &str,
    sequence: &str,
    data: &Value,
    key: Option<(&str, [u8; 16])>,
) -> Value {
    let mut b = json!({"sequence": sequence, "deviceid": id, "selfApikey": "123"});
    match key {
        Some((k, iv)) => {
            let (iv_b64, ct) = encrypt(
                &DeviceKey::from_devicekey(k),
                iv,
                data.to_string().as_bytes(),
            );
            b["encrypt"] = Value::Bool(true);
            b["iv"] = Value::String(iv_b64);
            b["data"] = Value::String(ct);
        }
        None => {
            b["encrypt"] = Value::Bool(false);
            b["data"] = data.clone();
        }
    }
    b
}

/// An HTTP request to `http://host:8081/zeroconf/<command>`.
pub fn http_request(host: [u8; 4], command: &str, body: &Value) -> Vec<u8> {
    let body = body.to_string();
    format!(
        "POST /zeroconf/{command} HTTP/1.1\r\nHost: {}.{}.{}.{}:8081\r\nContent-Type: application/json;charset=UTF-8\r\nAccept: application/json\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        host[0],
        host[1],
        host[2],
        host[3],
        body.len()
    )
    .into_bytes()
}

/// An HTTP 200 response with a JSON body.
pub fn http_response(body: &Value) -> Vec<u8> {
    let body = body.to_string();
    format!(
        "HTTP/1.1 200 OK\r\nServer: openresty\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// One exchange of a conversation: (client → device?, bytes).
pub type Exchange = Vec<(bool, Vec<u8>)>;

/// A LAN conversation with an encrypted plug (one TCP connection per
/// command, as SonoffLAN sends `Connection: close`): `switch` off, `info`
/// answered with an encrypted state, `signal_strength` in clear, and a
/// `switch` with an error. `devicekey` encrypts; pass a different key to
/// plugsniff to test the mismatch label.
pub fn conversation(host: [u8; 4], devicekey: &str) -> Vec<Exchange> {
    let iv = |n: u8| core::array::from_fn(|i| n.wrapping_mul(31).wrapping_add(i as u8));
    let k = Some((devicekey, iv(1)));
    vec![
        vec![
            (
                true,
                http_request(
                    host,
                    "switch",
                    &request_body(DEVICE_ID, "1700000000001", &json!({"switch":"off"}), k),
                ),
            ),
            (
                false,
                http_response(&json!({"seq": 7, "sequence": "1700000000001", "error": 0})),
            ),
        ],
        vec![
            (
                true,
                http_request(
                    host,
                    "info",
                    &request_body(
                        DEVICE_ID,
                        "1700000000002",
                        &json!({}),
                        Some((devicekey, iv(2))),
                    ),
                ),
            ),
            (false, {
                let state = json!({"switch":"off","startup":"stay","pulse":"off","pulseWidth":500,"sledOnline":"on","fwVersion":"3.7.0","rssi":-58,"power":"0.00","voltage":"229.80","current":"0.00"});
                let (iv_b64, ct) = encrypt(
                    &DeviceKey::from_devicekey(devicekey),
                    iv(3),
                    state.to_string().as_bytes(),
                );
                http_response(
                    &json!({"seq": 8, "sequence": "1700000000002", "error": 0, "encrypt": true, "iv": iv_b64, "data": ct}),
                )
            }),
        ],
        vec![
            (
                true,
                http_request(
                    host,
                    "switch",
                    &request_body(
                        DEVICE_ID,
                        "1700000000003",
                        &json!({"switch":"on"}),
                        Some((devicekey, iv(4))),
                    ),
                ),
            ),
            (
                false,
                http_response(&json!({"seq": 8, "sequence": "1700000000003", "error": 400})),
            ),
        ],
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_long_data() {
        let state = json!({"pad": "x".repeat(400)});
        let t = txt(DEVICE_ID, "plug", 1, &state, Some((DEVICE_KEY, [0; 16])));
        let n = t.iter().filter(|(k, _)| k.starts_with("data")).count();
        assert_eq!(n, 3);
        assert!(t.iter().all(|(_, v)| v.len() <= DATA_CHUNK));
    }
}
