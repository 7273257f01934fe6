//! KLAP state: the credentials to try, the sessions established by captured
//! handshakes (shared by every TCP connection between the same client and
//! device, since a KLAP session outlives its connection via the
//! `TP_SESSIONID` cookie), and per-connection HTTP pairing.
//!
//! # Signatures
//! A request whose 32-byte signature does not verify is not decrypted
//! ([`Label::DecryptFailed`]). A response is decrypted whatever its prefix
//! says, and [`KlapInfo::signature_ok`] reports whether it verified under the
//! request's formula: python-kasa's `decrypt()` skips the prefix without
//! checking it, so how devices compute it is not established.
//!
//! # Guarantees
//! Bounded: at most [`MAX_SESSIONS`] sessions (oldest evicted, counted), at
//! most [`MAX_PENDING`] unanswered requests per connection, the HTTP
//! parsers' own caps. Key material never reaches `Debug` output or events;
//! events name a credential only by its label ("account #1", "default
//! credentials (Kasa)", "blank credentials").

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use super::crypto::{AuthHash, KlapVersion, SessionKeys};
use super::parser::{ClientMsg, classify, handshake1_response};
use crate::decoders::Direction;
use crate::decoders::http::{HttpError, HttpEvent, HttpMessage, HttpParser};
use crate::decoders::tplink::message::{MessageError, TplinkMessage};
use crate::decoders::tplink::smart;

/// Sessions remembered (one per client/device pair).
pub const MAX_SESSIONS: usize = 1024;
/// Unanswered requests remembered per connection.
pub const MAX_PENDING: usize = 32;
/// The session cookie (python-kasa `KlapTransport.SESSION_COOKIE_NAME`).
pub const SESSION_COOKIE: &str = "TP_SESSIONID";

/// Publicly known credentials the devices accept, from python-kasa
/// `kasa/credentials.py` `DEFAULT_CREDENTIALS` (stored there base64-encoded)
/// as listed in PROTOCOLS.md §5.2: (label, username, password).
pub const DEFAULT_CREDENTIALS: [(&str, &str, &str); 5] = [
    (
        "default credentials (Kasa)",
        "kasa@tp-link.net",
        "kasaSetup",
    ),
    ("default credentials (Tapo)", "test@tp-link.net", "test"),
    ("default credentials (camera admin/admin)", "admin", "admin"),
    (
        "default credentials (camera admin/md5)",
        "admin",
        "21232f297a57a5a743894a0e4a801fc3",
    ),
    (
        "default credentials (camera admin/TPL)",
        "admin",
        "TPL075526460603",
    ),
];

/// One credential to try: both hash dialects of a username/password, or
/// one stored auth hash.
#[derive(Clone)]
pub struct KlapAccount {
    pub label: String,
    hashes: Vec<AuthHash>,
}

impl std::fmt::Debug for KlapAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KlapAccount({:?}, <secret>)", self.label)
    }
}

impl KlapAccount {
    pub fn from_password(label: impl Into<String>, username: &str, password: &str) -> Self {
        KlapAccount {
            label: label.into(),
            hashes: vec![
                AuthHash::v1(username, password),
                AuthHash::v2(username, password),
            ],
        }
    }

    pub fn from_hash(label: impl Into<String>, hash: AuthHash) -> Self {
        KlapAccount {
            label: label.into(),
            hashes: vec![hash],
        }
    }
}

/// The built-in list tried after the configured accounts: the defaults,
/// then blank credentials.
pub fn builtin_accounts() -> Vec<KlapAccount> {
    let mut v: Vec<_> = DEFAULT_CREDENTIALS
        .iter()
        .map(|(l, u, p)| KlapAccount::from_password(*l, u, p))
        .collect();
    v.push(KlapAccount::from_password("blank credentials", "", ""));
    v
}

/// What a captured handshake1 established.
#[derive(Debug, Clone)]
pub enum Established {
    Keys {
        keys: SessionKeys,
        version: KlapVersion,
        account: String,
    },
    /// The server hash matched none of `tried` credentials.
    NoMatch { tried: usize },
}

#[derive(Debug)]
struct Entry {
    cookie: Option<String>,
    state: Established,
    age: u64,
}

/// Sessions by (client IP, device IP) and the credentials to try.
#[derive(Debug)]
pub struct KlapSessions {
    accounts: Vec<KlapAccount>,
    sessions: HashMap<(IpAddr, IpAddr), Entry>,
    clock: u64,
    pub evicted: u64,
}

impl KlapSessions {
    /// `configured` are tried first, then [`builtin_accounts`].
    pub fn new(configured: Vec<KlapAccount>) -> Self {
        let mut accounts = configured;
        accounts.extend(builtin_accounts());
        KlapSessions {
            accounts,
            sessions: HashMap::new(),
            clock: 0,
            evicted: 0,
        }
    }

    /// Number of credentials tried per handshake.
    pub fn tried(&self) -> usize {
        self.accounts.len()
    }

    /// Finds the credential whose server hash matches, in order.
    pub fn confirm(&self, ls: &[u8], rs: &[u8], server_hash: &[u8; 32]) -> Established {
        for a in &self.accounts {
            for h in &a.hashes {
                if &h.server_hash(ls, rs) == server_hash {
                    return Established::Keys {
                        keys: SessionKeys::derive(ls, rs, h),
                        version: h.version,
                        account: a.label.clone(),
                    };
                }
            }
        }
        Established::NoMatch {
            tried: self.accounts.len(),
        }
    }

    fn insert(&mut self, pair: (IpAddr, IpAddr), cookie: Option<String>, state: Established) {
        if !self.sessions.contains_key(&pair)
            && self.sessions.len() >= MAX_SESSIONS
            && let Some(old) = self
                .sessions
                .iter()
                .min_by_key(|(_, e)| e.age)
                .map(|(k, _)| *k)
        {
            self.sessions.remove(&old);
            self.evicted += 1;
        }
        self.clock += 1;
        self.sessions.insert(
            pair,
            Entry {
                cookie,
                state,
                age: self.clock,
            },
        );
    }

    /// The session a request with `cookie` belongs to; `None` when its
    /// handshake was not captured (no session, or another cookie).
    fn lookup(&self, pair: (IpAddr, IpAddr), cookie: Option<&str>) -> Option<&Established> {
        let e = self.sessions.get(&pair)?;
        match (&e.cookie, cookie) {
            (Some(a), Some(b)) if a != b => None,
            _ => Some(&e.state),
        }
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }
}

/// An honest reason why traffic was not decrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    /// The handshake1 server hash matched none of the tried credentials.
    CredentialsNeeded,
    /// Encrypted requests whose handshake1 was not captured.
    HandshakeNotCaptured,
    /// The AES "securePassthrough" transport: RSA key exchange.
    AesPassthrough,
    /// A body that failed its signature, block size or padding check.
    DecryptFailed,
    /// Decrypted, but not JSON.
    NotJson,
    /// Malformed KLAP (bad seed size, missing seq) or an error status.
    Malformed,
    /// HTTP that is not KLAP.
    NotKlap,
}

impl Label {
    pub fn as_str(self) -> &'static str {
        match self {
            Label::CredentialsNeeded => "KLAP: credentials needed",
            Label::HandshakeNotCaptured => "KLAP: handshake not captured",
            Label::AesPassthrough => {
                "AES securePassthrough: RSA key exchange, cannot decrypt passively"
            }
            Label::DecryptFailed => "KLAP: decryption failed",
            Label::NotJson => "KLAP: decrypted, not JSON",
            Label::Malformed => "KLAP: malformed",
            Label::NotKlap => "HTTP: not KLAP",
        }
    }
}

/// How a decrypted message was obtained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KlapInfo {
    pub version: KlapVersion,
    pub seq: i32,
    /// Label of the credential that matched.
    pub account: String,
    /// The 32-byte prefix matched sha256(sig ‖ seq ‖ ct).
    pub signature_ok: bool,
}

/// What a connection produced.
#[derive(Debug, Clone, PartialEq)]
pub enum KlapEvent {
    /// A handshake1 exchange was captured and checked.
    Handshake {
        /// `Some((version, account label))` when a credential matched.
        matched: Option<(KlapVersion, String)>,
        tried: usize,
    },
    Message {
        dir: Direction,
        message: Box<TplinkMessage>,
        info: KlapInfo,
    },
    Label {
        dir: Direction,
        label: Label,
        detail: String,
    },
    Http {
        dir: Direction,
        error: HttpError,
    },
}

#[derive(Debug)]
enum Pending {
    Handshake1 { local_seed: [u8; 16] },
    Request(Option<PendingRequest>),
    Other,
}

#[derive(Debug)]
struct PendingRequest {
    seq: i32,
    keys: SessionKeys,
    version: KlapVersion,
    account: String,
    context: Vec<String>,
}

/// One TCP connection on the KLAP port.
#[derive(Debug)]
pub struct KlapConn {
    parsers: [HttpParser; 2],
    pending: VecDeque<Pending>,
    /// Requests whose response never came (queue full or gap).
    pub unpaired: u64,
}

impl KlapConn {
    /// `mid_stream`: the connection start was not captured.
    pub fn new(mid_stream: bool) -> Self {
        let p = if mid_stream {
            HttpParser::hunting()
        } else {
            HttpParser::new()
        };
        KlapConn {
            parsers: [p.clone(), p],
            pending: VecDeque::new(),
            unpaired: 0,
        }
    }

    /// Heap bytes the two HTTP parsers hold.
    pub fn held_bytes(&self) -> usize {
        self.parsers.iter().map(HttpParser::held_bytes).sum()
    }

    /// Drops and frees both directions' partial messages (a memory budget
    /// across connections): like a gap in each, requests are unpaired.
    pub fn release(&mut self) {
        for p in &mut self.parsers {
            p.release();
        }
        self.unpaired += self.pending.len() as u64;
        self.pending.clear();
    }

    pub fn on_gap(&mut self, dir: Direction, len: u64) {
        self.parsers[dir.index()].on_gap(len);
        // Requests may have been lost: pairing by order is no longer safe.
        self.unpaired += self.pending.len() as u64;
        self.pending.clear();
    }

    /// Feeds in-order bytes of one direction. `pair` = (client IP, device IP).
    pub fn on_data(
        &mut self,
        dir: Direction,
        data: &[u8],
        sessions: &mut KlapSessions,
        pair: (IpAddr, IpAddr),
        out: &mut Vec<KlapEvent>,
    ) {
        let mut http = Vec::new();
        self.parsers[dir.index()].push(data, &mut http);
        for ev in http {
            match ev {
                HttpEvent::Error(error) => out.push(KlapEvent::Http { dir, error }),
                HttpEvent::Message(m) => match dir {
                    Direction::ToServer => self.on_request(&m, sessions, pair, out),
                    Direction::ToClient => self.on_response(&m, sessions, pair, out),
                },
            }
        }
    }

    fn push_pending(&mut self, p: Pending) {
        if self.pending.len() >= MAX_PENDING {
            self.pending.pop_front();
            self.unpaired += 1;
        }
        self.pending.push_back(p);
    }

    fn on_request(
        &mut self,
        m: &HttpMessage,
        sessions: &mut KlapSessions,
        pair: (IpAddr, IpAddr),
        out: &mut Vec<KlapEvent>,
    ) {
        let dir = Direction::ToServer;
        let label = |label, detail: String| KlapEvent::Label { dir, label, detail };
        match classify(m) {
            ClientMsg::Handshake1 { local_seed } => {
                self.push_pending(Pending::Handshake1 { local_seed });
            }
            ClientMsg::Handshake2 { .. } => self.push_pending(Pending::Other),
            ClientMsg::Request { seq, body } => {
                let cookie = m.cookie(SESSION_COOKIE);
                let pending = match sessions.lookup(pair, cookie) {
                    None => {
                        out.push(label(
                            Label::HandshakeNotCaptured,
                            format!("request seq={seq} of a session whose /app/handshake1 was not captured"),
                        ));
                        None
                    }
                    Some(Established::NoMatch { tried }) => {
                        out.push(label(
                            Label::CredentialsNeeded,
                            format!(
                                "request seq={seq}: the handshake1 server hash matched none of {tried} tried credentials"
                            ),
                        ));
                        None
                    }
                    Some(Established::Keys {
                        keys,
                        version,
                        account,
                    }) => {
                        let signature_ok = keys.verify(seq, body);
                        let info = KlapInfo {
                            version: *version,
                            seq,
                            account: account.clone(),
                            signature_ok,
                        };
                        let mut context = Vec::new();
                        if !signature_ok {
                            out.push(label(
                                Label::DecryptFailed,
                                format!(
                                    "request seq={seq}: signature mismatch ({} bytes)",
                                    body.len()
                                ),
                            ));
                        } else if let Some(msg) =
                            decrypt_and_parse(keys, seq, body, &[], dir, &info, out)
                        {
                            context = msg.methods.iter().map(|(_, f)| f.clone()).collect();
                            out.push(KlapEvent::Message {
                                dir,
                                message: Box::new(msg),
                                info,
                            });
                        }
                        Some(PendingRequest {
                            seq,
                            keys: keys.clone(),
                            version: *version,
                            account: account.clone(),
                            context,
                        })
                    }
                };
                self.push_pending(Pending::Request(pending));
            }
            ClientMsg::AesTransport { method } => {
                out.push(label(
                    Label::AesPassthrough,
                    format!(
                        "POST /app {}",
                        method.as_deref().unwrap_or("(body not JSON)")
                    ),
                ));
                self.push_pending(Pending::Other);
            }
            ClientMsg::Malformed { what } => {
                out.push(label(Label::Malformed, what.to_owned()));
                self.push_pending(Pending::Other);
            }
            ClientMsg::Other { method, path } => {
                out.push(label(Label::NotKlap, format!("{method} {path}")));
                self.push_pending(Pending::Other);
            }
        }
    }

    fn on_response(
        &mut self,
        m: &HttpMessage,
        sessions: &mut KlapSessions,
        pair: (IpAddr, IpAddr),
        out: &mut Vec<KlapEvent>,
    ) {
        let dir = Direction::ToClient;
        let status = m.status().unwrap_or(0);
        let Some(p) = self.pending.pop_front() else {
            return; // a response to a request not captured: nothing to go on
        };
        if status != 200 {
            if matches!(p, Pending::Request(_) | Pending::Handshake1 { .. }) {
                out.push(KlapEvent::Label {
                    dir,
                    label: Label::Malformed,
                    detail: format!("device answered HTTP {status}"),
                });
            }
            return;
        }
        match p {
            Pending::Handshake1 { local_seed } => {
                let Some((rs, sh)) = handshake1_response(&m.body) else {
                    out.push(KlapEvent::Label {
                        dir,
                        label: Label::Malformed,
                        detail: format!(
                            "handshake1 response of {} bytes (expected 48)",
                            m.body.len()
                        ),
                    });
                    return;
                };
                let est = sessions.confirm(&local_seed, &rs, &sh);
                out.push(KlapEvent::Handshake {
                    matched: match &est {
                        Established::Keys {
                            version, account, ..
                        } => Some((*version, account.clone())),
                        Established::NoMatch { .. } => None,
                    },
                    tried: sessions.tried(),
                });
                let cookie = m.cookie(SESSION_COOKIE).map(str::to_owned);
                sessions.insert(pair, cookie, est);
            }
            Pending::Request(Some(r)) => {
                let signature_ok = r.keys.verify(r.seq, &m.body);
                let info = KlapInfo {
                    version: r.version,
                    seq: r.seq,
                    account: r.account.clone(),
                    signature_ok,
                };
                if let Some(msg) =
                    decrypt_and_parse(&r.keys, r.seq, &m.body, &r.context, dir, &info, out)
                {
                    out.push(KlapEvent::Message {
                        dir,
                        message: Box::new(msg),
                        info,
                    });
                }
            }
            Pending::Request(None) | Pending::Other => {}
        }
    }
}

fn decrypt_and_parse(
    keys: &SessionKeys,
    seq: i32,
    body: &[u8],
    context: &[String],
    dir: Direction,
    info: &KlapInfo,
    out: &mut Vec<KlapEvent>,
) -> Option<TplinkMessage> {
    let what = if dir == Direction::ToServer {
        "request"
    } else {
        "response"
    };
    let plain = match keys.decrypt(seq, body) {
        Ok(p) => p,
        Err(e) => {
            out.push(KlapEvent::Label {
                dir,
                label: Label::DecryptFailed,
                detail: format!("{what} seq={seq}: {}", e.describe()),
            });
            return None;
        }
    };
    match smart::parse_any(&plain, context) {
        Ok(m) => Some(m),
        Err(e) => {
            let detail = match e {
                MessageError::InvalidJson { line, column } => format!(
                    "{what} seq={seq}: {} bytes decrypted ({} signature), invalid JSON at {line}:{column}",
                    plain.len(),
                    if info.signature_ok { "good" } else { "bad" }
                ),
                MessageError::NotAnObject => {
                    format!("{what} seq={seq}: JSON is not an object")
                }
            };
            out.push(KlapEvent::Label {
                dir,
                label: Label::NotJson,
                detail,
            });
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::tplink::message::{RelayState, Summary};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn http_req(path: &str, cookie: Option<&str>, body: &[u8]) -> Vec<u8> {
        let mut v = format!(
            "POST {path} HTTP/1.1\r\nHost: 192.168.0.9\r\nContent-Length: {}\r\n",
            body.len()
        );
        if let Some(c) = cookie {
            v.push_str(&format!("Cookie: TP_SESSIONID={c}\r\n"));
        }
        v.push_str("\r\n");
        let mut v = v.into_bytes();
        v.extend_from_slice(body);
        v
    }

    fn http_rsp(cookie: Option<&str>, body: &[u8]) -> Vec<u8> {
        let mut v = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n", body.len());
        if let Some(c) = cookie {
            v.push_str(&format!("Set-Cookie: TP_SESSIONID={c};TIMEOUT=86400\r\n"));
        }
        v.push_str("\r\n");
        let mut v = v.into_bytes();
        v.extend_from_slice(body);
        v
    }

    /// A whole v2 session: handshake on one connection, requests on another.
    #[test]
    fn v2_session_across_connections() {
        let pair = (ip("192.168.0.2"), ip("192.168.0.9"));
        let mut sessions =
            KlapSessions::new(vec![KlapAccount::from_password("account #1", "u@x", "pw")]);
        let ah = AuthHash::v2("u@x", "pw");
        let (ls, rs) = ([1u8; 16], [2u8; 16]);
        let mut c = KlapConn::new(false);
        let mut out = Vec::new();
        c.on_data(
            Direction::ToServer,
            &http_req("/app/handshake1", None, &ls),
            &mut sessions,
            pair,
            &mut out,
        );
        let mut body = rs.to_vec();
        body.extend(ah.server_hash(&ls, &rs));
        c.on_data(
            Direction::ToClient,
            &http_rsp(Some("S1"), &body),
            &mut sessions,
            pair,
            &mut out,
        );
        assert_eq!(
            out,
            [KlapEvent::Handshake {
                matched: Some((KlapVersion::V2, "account #1".into())),
                tried: 7
            }]
        );
        out.clear();
        let k = SessionKeys::derive(&ls, &rs, &ah);
        let seq = k.seq0.wrapping_add(1);
        let mut c2 = KlapConn::new(false);
        let q = k.encrypt(
            seq,
            br#"{"method":"set_device_info","params":{"device_on":true}}"#,
        );
        c2.on_data(
            Direction::ToServer,
            &http_req(&format!("/app/request?seq={seq}"), Some("S1"), &q),
            &mut sessions,
            pair,
            &mut out,
        );
        let r = k.encrypt(seq, br#"{"error_code":0}"#);
        c2.on_data(
            Direction::ToClient,
            &http_rsp(None, &r),
            &mut sessions,
            pair,
            &mut out,
        );
        let KlapEvent::Message { message, info, .. } = &out[0] else {
            panic!("{out:?}")
        };
        assert_eq!(message.summary, [Summary::SetRelayState(RelayState::On)]);
        assert!(info.signature_ok);
        let KlapEvent::Message { message, dir, .. } = &out[1] else {
            panic!("{out:?}")
        };
        assert_eq!(*dir, Direction::ToClient);
        assert_eq!(message.methods[0].1, "set_device_info");
        // A request with another cookie: its handshake was not seen.
        out.clear();
        c2.on_data(
            Direction::ToServer,
            &http_req(&format!("/app/request?seq={seq}"), Some("OTHER"), &q),
            &mut sessions,
            pair,
            &mut out,
        );
        assert!(matches!(
            out[0],
            KlapEvent::Label {
                label: Label::HandshakeNotCaptured,
                ..
            }
        ));
    }

    #[test]
    fn wrong_credentials_and_hostile_bodies() {
        let pair = (ip("10.0.0.2"), ip("10.0.0.9"));
        let mut sessions = KlapSessions::new(vec![]);
        let ah = AuthHash::v1("someone", "secret");
        let (ls, rs) = ([3u8; 16], [4u8; 16]);
        let mut c = KlapConn::new(false);
        let mut out = Vec::new();
        c.on_data(
            Direction::ToServer,
            &http_req("/app/handshake1", None, &ls),
            &mut sessions,
            pair,
            &mut out,
        );
        let mut body = rs.to_vec();
        body.extend(ah.server_hash(&ls, &rs));
        c.on_data(
            Direction::ToClient,
            &http_rsp(None, &body),
            &mut sessions,
            pair,
            &mut out,
        );
        assert_eq!(
            out,
            [KlapEvent::Handshake {
                matched: None,
                tried: 6
            }]
        );
        out.clear();
        c.on_data(
            Direction::ToServer,
            &http_req("/app/request?seq=1", None, &[0; 48]),
            &mut sessions,
            pair,
            &mut out,
        );
        let KlapEvent::Label {
            label: Label::CredentialsNeeded,
            detail,
            ..
        } = &out[0]
        else {
            panic!("{out:?}")
        };
        assert!(detail.contains("none of 6 tried"), "{detail}");

        // Now with the right (default) credentials: short body, bad padding.
        let ah = AuthHash::v1("kasa@tp-link.net", "kasaSetup");
        let mut c = KlapConn::new(false);
        let mut body = rs.to_vec();
        body.extend(ah.server_hash(&ls, &rs));
        out.clear();
        c.on_data(
            Direction::ToServer,
            &http_req("/app/handshake1", None, &ls),
            &mut sessions,
            pair,
            &mut out,
        );
        c.on_data(
            Direction::ToClient,
            &http_rsp(None, &body),
            &mut sessions,
            pair,
            &mut out,
        );
        assert!(
            matches!(&out[0], KlapEvent::Handshake { matched: Some((KlapVersion::V1, a)), .. } if a.contains("Kasa"))
        );
        let k = SessionKeys::derive(&ls, &rs, &ah);
        out.clear();
        // Body shorter than its signature, with a "valid" signature impossible.
        c.on_data(
            Direction::ToServer,
            &http_req("/app/request?seq=7", None, &[1; 20]),
            &mut sessions,
            pair,
            &mut out,
        );
        assert!(matches!(
            out[0],
            KlapEvent::Label {
                label: Label::DecryptFailed,
                ..
            }
        ));
        // Correct signature over a ciphertext whose padding is wrong.
        let mut ct = k.encrypt(7, b"{}")[32..].to_vec();
        ct.extend_from_slice(&[9u8; 16]); // garbage last block → padding fails
        let mut body = k.signature(7, &ct).to_vec();
        body.extend_from_slice(&ct);
        out.clear();
        c.on_data(
            Direction::ToServer,
            &http_req("/app/request?seq=7", None, &body),
            &mut sessions,
            pair,
            &mut out,
        );
        let KlapEvent::Label {
            label: Label::DecryptFailed,
            detail,
            ..
        } = &out[0]
        else {
            panic!("{out:?}")
        };
        assert!(detail.contains("padding"), "{detail}");
    }
}
