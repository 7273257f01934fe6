//! What a KLAP HTTP message is, from its method, path, query and body
//! (python-kasa `klaptransport.py`, `aestransport.py`). Stateless.

use super::crypto::SEED_LEN;
use crate::decoders::http::{HttpMessage, StartLine};

/// A client → device HTTP request, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMsg<'a> {
    /// `POST /app/handshake1`: the client's 16-byte local seed.
    Handshake1 { local_seed: [u8; SEED_LEN] },
    /// `POST /app/handshake2`: sha256 of the seeds and auth hash.
    Handshake2 { client_hash: &'a [u8] },
    /// `POST /app/request?seq=N`: signature ‖ ciphertext.
    Request { seq: i32, body: &'a [u8] },
    /// `POST /app` (or `/app?token=…`) with a JSON body: the AES
    /// "securePassthrough" transport (`handshake`, `login_device`,
    /// `securePassthrough`).
    AesTransport { method: Option<String> },
    /// Malformed KLAP: a wrong-size seed, a missing or bad `seq`.
    Malformed { what: &'static str },
    /// Some other HTTP request (`path` as sent, truncated).
    Other { method: String, path: String },
}

/// Longest path kept in [`ClientMsg::Other`].
const MAX_PATH_SHOWN: usize = 64;

pub fn classify(m: &HttpMessage) -> ClientMsg<'_> {
    let StartLine::Request { method, .. } = &m.start else {
        return ClientMsg::Malformed {
            what: "a response where a request was expected",
        };
    };
    let path = m.path().unwrap_or("");
    match (method.as_str(), path) {
        ("POST", "/app/handshake1") => match <[u8; SEED_LEN]>::try_from(&m.body[..]) {
            Ok(local_seed) => ClientMsg::Handshake1 { local_seed },
            Err(_) => ClientMsg::Malformed {
                what: "handshake1 body is not a 16-byte seed",
            },
        },
        ("POST", "/app/handshake2") => ClientMsg::Handshake2 {
            client_hash: &m.body,
        },
        ("POST", "/app/request") => match m.query("seq").and_then(|s| s.parse::<i32>().ok()) {
            Some(seq) => ClientMsg::Request { seq, body: &m.body },
            None => ClientMsg::Malformed {
                what: "request without a valid seq=",
            },
        },
        ("POST", "/app") => ClientMsg::AesTransport {
            method: serde_json::from_slice::<serde_json::Value>(&m.body)
                .ok()
                .and_then(|v| v.get("method")?.as_str().map(str::to_owned)),
        },
        (meth, p) => ClientMsg::Other {
            method: meth.chars().take(16).collect(),
            path: p.chars().take(MAX_PATH_SHOWN).collect(),
        },
    }
}

/// handshake1's response body: remote seed (16) ‖ server hash (32).
pub fn handshake1_response(body: &[u8]) -> Option<([u8; SEED_LEN], [u8; 32])> {
    if body.len() != SEED_LEN + 32 {
        return None;
    }
    let mut rs = [0u8; SEED_LEN];
    let mut sh = [0u8; 32];
    rs.copy_from_slice(&body[..SEED_LEN]);
    sh.copy_from_slice(&body[SEED_LEN..]);
    Some((rs, sh))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::http::{HttpEvent, HttpParser};

    fn req(s: &[u8]) -> HttpMessage {
        let mut out = Vec::new();
        HttpParser::new().push(s, &mut out);
        match out.pop() {
            Some(HttpEvent::Message(m)) => m,
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn classifies() {
        let m = req(b"POST /app/handshake1 HTTP/1.1\r\nContent-Length: 16\r\n\r\n0123456789abcdef");
        assert_eq!(
            classify(&m),
            ClientMsg::Handshake1 {
                local_seed: *b"0123456789abcdef"
            }
        );
        let m = req(b"POST /app/handshake1 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
        assert!(matches!(classify(&m), ClientMsg::Malformed { .. }));
        let m = req(b"POST /app/request?seq=-5 HTTP/1.1\r\nContent-Length: 1\r\n\r\nx");
        assert_eq!(
            classify(&m),
            ClientMsg::Request {
                seq: -5,
                body: b"x"
            }
        );
        let m = req(b"POST /app/request?seq=99999999999 HTTP/1.1\r\n\r\n");
        assert!(matches!(classify(&m), ClientMsg::Malformed { .. }));
        let m = req(b"POST /app HTTP/1.1\r\nContent-Length: 22\r\n\r\n{\"method\":\"handshake\"}");
        assert_eq!(
            classify(&m),
            ClientMsg::AesTransport {
                method: Some("handshake".into())
            }
        );
        let m = req(b"GET /index.html HTTP/1.1\r\n\r\n");
        assert!(matches!(classify(&m), ClientMsg::Other { .. }));
        assert!(handshake1_response(&[0; 47]).is_none());
        assert!(handshake1_response(&[0; 48]).is_some());
    }
}
