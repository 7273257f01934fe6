//! TLS metadata, never content: what a passive observer can learn about a
//! TLS connection (for the plugs, the cloud link to `*.tplinkcloud.com`).
//!
//! # What this module owns
//! Per direction of one TCP connection: TLS record framing (RFC 8446 §5.1,
//! RFC 5246 §6.2.1), counting records and bytes, and reassembling plaintext
//! handshake messages across TCP segments *and* across records (RFC 8446
//! §5.1: "Handshake messages MAY be coalesced into a single TLSPlaintext
//! record or fragmented across several records"). From those it extracts the
//! ClientHello (SNI, ALPN, offered versions, cipher count), the ServerHello
//! (version, cipher) and, in TLS ≤ 1.2 where it is sent in clear, the
//! server certificate's subject and issuer CN. Message bodies are parsed
//! with `tls-parser`; the certificate is walked as bare DER (X.690), enough
//! to find attribute 2.5.4.3 (commonName), without an X.509 crate.
//!
//! # Guarantees
//! - Never panics; bounded memory: at most [`MAX_HANDSHAKE_BUFFER`] bytes of
//!   handshake per direction. A handshake message longer than that is
//!   skipped and counted ([`DirStats::oversized`]).
//! - A record header with an unknown content type, a major version other
//!   than 3, or a length above [`MAX_RECORD_LEN`] means the stream is not
//!   (or no longer) TLS: the direction stops parsing and only counts bytes
//!   ([`DirStats::desync`]). So does a stream gap: the record boundary is
//!   lost with it.
//! - Handshake parsing stops in a direction at ChangeCipherSpec (what
//!   follows is encrypted) and, for the server, after a TLS 1.3 ServerHello.

use tls_parser::{
    TlsExtension, TlsMessageHandshake, parse_tls_client_hello_extensions,
    parse_tls_handshake_client_hello, parse_tls_handshake_msg_certificate,
    parse_tls_handshake_server_hello, parse_tls_server_hello_extensions,
};

/// Handshake bytes buffered per direction. A ClientHello with post-quantum
/// key shares is about 2 KiB; a certificate chain a few KiB; 64 KiB covers
/// long chains.
pub const MAX_HANDSHAKE_BUFFER: usize = 64 * 1024;

/// Largest record length accepted: TLSCiphertext may carry 2^14 + 256 bytes
/// (RFC 8446 §5.2), TLS 1.2 allows 2^14 + 2048 (RFC 5246 §6.2.3).
pub const MAX_RECORD_LEN: usize = (1 << 14) + 2048;

/// Names kept per list (server names, ALPN protocols, versions).
pub const MAX_LIST: usize = 16;

const RECORD_HEADER_LEN: usize = 5;
const CT_CHANGE_CIPHER_SPEC: u8 = 20;
const CT_HANDSHAKE: u8 = 22;
const HS_CLIENT_HELLO: u8 = 1;
const HS_SERVER_HELLO: u8 = 2;
const HS_CERTIFICATE: u8 = 11;
/// TLS 1.3 `supported_versions` value (RFC 8446 §4.2.1).
pub const TLS13: u16 = 0x0304;

/// Direction, from the connection's point of view.
pub use super::Direction as TlsDir;

/// What a ClientHello offers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientHelloMeta {
    /// `legacy_version` (0x0303 for TLS 1.2 and 1.3).
    pub legacy_version: u16,
    /// `supported_versions` extension, if present (GREASE included as sent).
    pub supported_versions: Vec<u16>,
    /// `server_name` host name, lossily decoded.
    pub sni: Option<String>,
    pub alpn: Vec<String>,
    pub cipher_count: usize,
    pub extension_count: usize,
}

/// What a ServerHello selects.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerHelloMeta {
    pub legacy_version: u16,
    /// `supported_versions` in the ServerHello (TLS 1.3).
    pub selected_version: Option<u16>,
    pub cipher: u16,
    pub alpn: Option<String>,
}

impl ServerHelloMeta {
    /// The negotiated version: `selected_version` if present, else legacy.
    pub fn version(&self) -> u16 {
        self.selected_version.unwrap_or(self.legacy_version)
    }
}

/// The server's certificate, as far as it is visible.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CertificateMeta {
    pub chain_len: usize,
    pub leaf_der_len: usize,
    pub subject_cn: Option<String>,
    pub issuer_cn: Option<String>,
}

/// Counters for one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DirStats {
    pub bytes: u64,
    pub records: u64,
    pub handshake_records: u64,
    pub change_cipher_spec: bool,
    pub gaps: u64,
    /// Record framing was lost (bad header or gap); only bytes are counted.
    pub desync: bool,
    /// Handshake messages too large to buffer.
    pub oversized: u64,
    /// Handshake messages `tls-parser` rejected.
    pub malformed: u64,
}

/// Everything learnt about one connection.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsMeta {
    pub client_hello: Option<ClientHelloMeta>,
    pub server_hello: Option<ServerHelloMeta>,
    pub certificate: Option<CertificateMeta>,
    /// Indexed by `TlsDir::ToServer` = 0, `ToClient` = 1.
    pub dirs: [DirStats; 2],
}

#[derive(Debug, Clone, Default)]
struct DirState {
    hdr: [u8; RECORD_HEADER_LEN],
    hdr_len: usize,
    /// Bytes left in the current record body, and its content type.
    remaining: usize,
    content_type: u8,
    /// Plaintext handshake bytes not yet consumed.
    hs: Vec<u8>,
    /// Still interpreting handshake records.
    parse_handshake: bool,
    /// Skip this many handshake bytes (rest of an oversized message).
    hs_skip: usize,
}

/// Per-connection TLS metadata extractor.
#[derive(Debug, Clone)]
pub struct TlsSession {
    meta: TlsMeta,
    dirs: [DirState; 2],
}

impl Default for TlsSession {
    fn default() -> Self {
        Self::new()
    }
}

impl TlsSession {
    pub fn new() -> Self {
        let d = DirState {
            parse_handshake: true,
            ..DirState::default()
        };
        TlsSession {
            meta: TlsMeta::default(),
            dirs: [d.clone(), d],
        }
    }

    pub fn meta(&self) -> &TlsMeta {
        &self.meta
    }

    /// Heap bytes held for handshake reassembly, both directions.
    pub fn held_bytes(&self) -> usize {
        self.dirs.iter().map(|d| d.hs.capacity()).sum()
    }

    /// The stream lost bytes: record framing is gone for this direction.
    pub fn on_gap(&mut self, dir: TlsDir, _len: u64) {
        let i = dir.index();
        self.meta.dirs[i].gaps += 1;
        self.meta.dirs[i].desync = true;
        self.dirs[i].hs = Vec::new();
    }

    /// Feeds in-order bytes of one direction.
    pub fn on_data(&mut self, dir: TlsDir, mut data: &[u8]) {
        let i = dir.index();
        self.meta.dirs[i].bytes += data.len() as u64;
        while !data.is_empty() && !self.meta.dirs[i].desync {
            let st = &mut self.dirs[i];
            if st.remaining == 0 {
                let take = (RECORD_HEADER_LEN - st.hdr_len).min(data.len());
                st.hdr[st.hdr_len..st.hdr_len + take].copy_from_slice(&data[..take]);
                st.hdr_len += take;
                data = &data[take..];
                if st.hdr_len < RECORD_HEADER_LEN {
                    break;
                }
                st.hdr_len = 0;
                let [ct, major, _minor, l0, l1] = st.hdr;
                let len = usize::from(u16::from_be_bytes([l0, l1]));
                if !(20..=24).contains(&ct) || major != 3 || len > MAX_RECORD_LEN {
                    self.meta.dirs[i].desync = true;
                    break;
                }
                self.meta.dirs[i].records += 1;
                st.content_type = ct;
                st.remaining = len;
                if ct == CT_HANDSHAKE {
                    self.meta.dirs[i].handshake_records += 1;
                }
                if ct == CT_CHANGE_CIPHER_SPEC {
                    self.meta.dirs[i].change_cipher_spec = true;
                    st.parse_handshake = false;
                    st.hs = Vec::new();
                }
                continue;
            }
            let take = st.remaining.min(data.len());
            let body = &data[..take];
            data = &data[take..];
            st.remaining -= take;
            if st.content_type == CT_HANDSHAKE && st.parse_handshake {
                self.handshake_bytes(dir, body);
            }
        }
    }

    fn handshake_bytes(&mut self, dir: TlsDir, mut body: &[u8]) {
        let i = dir.index();
        let st = &mut self.dirs[i];
        if st.hs_skip > 0 {
            let n = st.hs_skip.min(body.len());
            st.hs_skip -= n;
            body = &body[n..];
        }
        st.hs.extend_from_slice(body);
        let mut at = 0;
        let mut parsed = Vec::new();
        loop {
            let buf = &st.hs[at..];
            if buf.len() < 4 {
                break;
            }
            let len = usize::from(buf[1]) << 16 | usize::from(buf[2]) << 8 | usize::from(buf[3]);
            if 4 + len > MAX_HANDSHAKE_BUFFER {
                self.meta.dirs[i].oversized += 1;
                // Skip this message's body, including what is buffered.
                let have = buf.len() - 4;
                st.hs_skip = len.saturating_sub(have);
                at = st.hs.len();
                break;
            }
            if buf.len() < 4 + len {
                break;
            }
            parsed.push((buf[0], at + 4, at + 4 + len));
            at += 4 + len;
        }
        let hs = std::mem::take(&mut st.hs);
        for (ty, a, b) in parsed {
            self.handshake_message(dir, ty, &hs[a..b]);
        }
        let st = &mut self.dirs[i];
        if st.parse_handshake {
            st.hs = hs;
            st.hs.drain(..at);
        }
    }

    fn handshake_message(&mut self, dir: TlsDir, ty: u8, body: &[u8]) {
        let i = dir.index();
        match (dir, ty) {
            (TlsDir::ToServer, HS_CLIENT_HELLO) if self.meta.client_hello.is_none() => {
                match client_hello(body) {
                    Some(ch) => self.meta.client_hello = Some(ch),
                    None => self.meta.dirs[i].malformed += 1,
                }
            }
            (TlsDir::ToClient, HS_SERVER_HELLO) if self.meta.server_hello.is_none() => {
                match server_hello(body) {
                    Some(sh) => {
                        if sh.version() == TLS13 {
                            // Everything after is encrypted (RFC 8446 §2).
                            self.dirs[i].parse_handshake = false;
                        }
                        self.meta.server_hello = Some(sh);
                    }
                    None => self.meta.dirs[i].malformed += 1,
                }
            }
            (TlsDir::ToClient, HS_CERTIFICATE) if self.meta.certificate.is_none() => {
                match parse_tls_handshake_msg_certificate(body) {
                    Ok((_, TlsMessageHandshake::Certificate(c))) => {
                        let leaf = c.cert_chain.first().map_or(&[][..], |r| r.data);
                        let (subject_cn, issuer_cn) = der::subject_issuer_cn(leaf);
                        self.meta.certificate = Some(CertificateMeta {
                            chain_len: c.cert_chain.len(),
                            leaf_der_len: leaf.len(),
                            subject_cn,
                            issuer_cn,
                        });
                    }
                    _ => self.meta.dirs[i].malformed += 1,
                }
            }
            _ => {}
        }
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn client_hello(body: &[u8]) -> Option<ClientHelloMeta> {
    let (_, ch) = parse_tls_handshake_client_hello(body).ok()?;
    let mut meta = ClientHelloMeta {
        legacy_version: ch.version.0,
        cipher_count: ch.ciphers.len(),
        ..ClientHelloMeta::default()
    };
    if let Some(ext) = ch.ext {
        let (_, exts) = parse_tls_client_hello_extensions(ext).ok()?;
        meta.extension_count = exts.len();
        for e in exts {
            match e {
                TlsExtension::SNI(names) => {
                    meta.sni = names.first().map(|(_, n)| lossy(n));
                }
                TlsExtension::ALPN(protos) => {
                    meta.alpn = protos.iter().take(MAX_LIST).map(|p| lossy(p)).collect();
                }
                TlsExtension::SupportedVersions(v) => {
                    meta.supported_versions = v.iter().take(MAX_LIST).map(|v| v.0).collect();
                }
                _ => {}
            }
        }
    }
    Some(meta)
}

fn server_hello(body: &[u8]) -> Option<ServerHelloMeta> {
    let (_, sh) = parse_tls_handshake_server_hello(body).ok()?;
    let mut meta = ServerHelloMeta {
        legacy_version: sh.version.0,
        cipher: sh.cipher.0,
        ..ServerHelloMeta::default()
    };
    if let Some(ext) = sh.ext
        && let Ok((_, exts)) = parse_tls_server_hello_extensions(ext)
    {
        for e in exts {
            match e {
                TlsExtension::SupportedVersions(v) => {
                    meta.selected_version = v.first().map(|v| v.0);
                }
                TlsExtension::ALPN(p) => meta.alpn = p.first().map(|p| lossy(p)),
                _ => {}
            }
        }
    }
    Some(meta)
}

/// The bare minimum of DER (ITU-T X.690 §8.1) to reach a certificate's
/// issuer and subject Names (RFC 5280 §4.1) and read their commonName.
mod der {
    /// One TLV: `(tag, content, rest)`. Single-byte tags and definite
    /// lengths of up to four bytes only, which is all DER certificates use.
    pub fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, b) = b.split_first()?;
        if tag & 0x1f == 0x1f {
            return None;
        }
        let (&l0, mut b) = b.split_first()?;
        let len = if l0 < 0x80 {
            usize::from(l0)
        } else {
            let n = usize::from(l0 & 0x7f);
            if n == 0 || n > 4 || b.len() < n {
                return None;
            }
            let mut len = 0usize;
            for &x in &b[..n] {
                len = len << 8 | usize::from(x);
            }
            b = &b[n..];
            len
        };
        if b.len() < len {
            return None;
        }
        Some((tag, &b[..len], &b[len..]))
    }

    const SEQUENCE: u8 = 0x30;
    const SET: u8 = 0x31;
    const OID: u8 = 0x06;
    /// id-at-commonName, 2.5.4.3.
    const CN_OID: [u8; 3] = [0x55, 0x04, 0x03];

    /// `(subject CN, issuer CN)` of a DER certificate.
    pub fn subject_issuer_cn(cert: &[u8]) -> (Option<String>, Option<String>) {
        names(cert).map_or((None, None), |(issuer, subject)| (cn(subject), cn(issuer)))
    }

    /// `(issuer, subject)` Name contents from tbsCertificate.
    fn names(cert: &[u8]) -> Option<(&[u8], &[u8])> {
        let (SEQUENCE, cert, _) = tlv(cert)? else {
            return None;
        };
        let (SEQUENCE, tbs, _) = tlv(cert)? else {
            return None;
        };
        let mut rest = tbs;
        // [0] EXPLICIT version, optional.
        if rest.first() == Some(&0xa0) {
            rest = tlv(rest)?.2;
        }
        rest = tlv(rest)?.2; // serialNumber
        rest = tlv(rest)?.2; // signature AlgorithmIdentifier
        let (SEQUENCE, issuer, r) = tlv(rest)? else {
            return None;
        };
        let r = tlv(r)?.2; // validity
        let (SEQUENCE, subject, _) = tlv(r)? else {
            return None;
        };
        Some((issuer, subject))
    }

    /// The first commonName in a Name (RDNSequence of SETs of
    /// AttributeTypeAndValue).
    fn cn(mut name: &[u8]) -> Option<String> {
        while let Some((tag, rdn, rest)) = tlv(name) {
            name = rest;
            if tag != SET {
                continue;
            }
            let mut atvs = rdn;
            while let Some((tag, atv, rest)) = tlv(atvs) {
                atvs = rest;
                if tag != SEQUENCE {
                    continue;
                }
                if let Some((OID, oid, v)) = tlv(atv)
                    && oid == CN_OID
                {
                    let (_, value, _) = tlv(v)?;
                    return Some(String::from_utf8_lossy(value).into_owned());
                }
            }
        }
        None
    }
}

use crate::decoders::{
    CloudLinkFinding, Ctx, Decoder, Direction, Finding, Registration, ServerIs, StreamDecoder,
    Transport, Verdict,
};

/// TCP ports of the TP-Link cloud link (python-kasa; seen from HS1xx firmware).
pub const CLOUD_PORTS: [u16; 2] = [50443, 443];
/// HTTPS ports of the plugs' local API (`SMART.KLAP.HTTPS` 4433,
/// `SslAesTransport` 443): TLS, metadata only.
pub const LOCAL_HTTPS_PORTS: [u16; 1] = [4433];
/// Inventory note for a device serving its local API over TLS.
pub const LOCAL_HTTPS_NOTE: &str = "HTTPS: local API over TLS, cannot decrypt passively";

/// A plug's local HTTPS API between two local addresses: labelled, not decoded.
pub static LOCAL_HTTPS: Registration = Registration {
    name: "https",
    transport: Transport::Tcp,
    ports: &LOCAL_HTTPS_PORTS,
    probe: |p| {
        use crate::flows::ip::is_local;
        if !(is_local(p.src.ip()) && is_local(p.dst.ip())) {
            return Verdict::NoMatch;
        }
        // The device is the end on the HTTPS port.
        if LOCAL_HTTPS_PORTS.contains(&p.dst.port()) {
            Verdict::Match(ServerIs::Dst)
        } else if LOCAL_HTTPS_PORTS.contains(&p.src.port()) {
            Verdict::Match(ServerIs::Src)
        } else {
            Verdict::NoMatch
        }
    },
    decoder: Decoder::Stream(|_| Box::new(LocalHttps)),
};

/// The cloud link: TLS to 50443 (or 443), metadata only.
pub static CLOUD_LINK: Registration = Registration {
    name: "tls",
    transport: Transport::Tcp,
    ports: &CLOUD_PORTS,
    probe: |p| p.by_port(&CLOUD_PORTS),
    decoder: Decoder::Stream(|_| {
        Box::new(CloudLink {
            session: TlsSession::new(),
            announced: false,
            last_up: None,
            intervals: (0.0, 0),
        })
    }),
};

struct LocalHttps;

impl StreamDecoder for LocalHttps {
    fn on_start(&mut self, _cx: &mut Ctx<'_>, out: &mut Vec<Finding>) {
        out.push(Finding::DeviceNote {
            protocol: "https",
            note: Some(LOCAL_HTTPS_NOTE.to_string()),
        });
    }
    fn on_data(&mut self, _: &mut Ctx<'_>, _: Direction, _: &[u8], _: &mut Vec<Finding>) {}
    fn on_gap(&mut self, _: &mut Ctx<'_>, _: Direction, _: u64, _: &mut Vec<Finding>) {}
    fn held_bytes(&self) -> usize {
        0
    }
    fn release(&mut self) {}
}

struct CloudLink {
    session: TlsSession,
    /// The `opened` finding was given (at the ClientHello).
    announced: bool,
    /// When the client last sent data, and (sum of intervals, count).
    last_up: Option<std::time::Duration>,
    intervals: (f64, u64),
}

impl CloudLink {
    fn finding(&self, closed: bool) -> Finding {
        let meta = self.session.meta();
        Finding::CloudLink(Box::new(CloudLinkFinding {
            closed,
            sni: meta.client_hello.as_ref().and_then(|c| c.sni.clone()),
            tls_version: meta
                .server_hello
                .as_ref()
                .map(|s| (s.version(), true))
                .or_else(|| {
                    meta.client_hello
                        .as_ref()
                        .map(|c| (c.legacy_version, false))
                }),
            server_cert_cn: meta.certificate.as_ref().and_then(|c| c.subject_cn.clone()),
            mean_interval_s: (self.intervals.1 > 0)
                .then(|| self.intervals.0 / self.intervals.1 as f64),
        }))
    }
}

impl StreamDecoder for CloudLink {
    fn on_data(&mut self, cx: &mut Ctx<'_>, dir: Direction, data: &[u8], out: &mut Vec<Finding>) {
        self.session.on_data(dir, data);
        if dir == Direction::ToServer {
            let now = cx.ts.since_epoch();
            if let Some(prev) = self.last_up {
                self.intervals.0 += now.saturating_sub(prev).as_secs_f64();
                self.intervals.1 += 1;
            }
            self.last_up = Some(now);
        }
        if !self.announced && self.session.meta().client_hello.is_some() {
            self.announced = true;
            out.push(self.finding(false));
        }
    }
    fn on_gap(&mut self, _cx: &mut Ctx<'_>, dir: Direction, len: u64, _out: &mut Vec<Finding>) {
        self.session.on_gap(dir, len);
    }
    fn on_close(&mut self, _cx: &mut Ctx<'_>, out: &mut Vec<Finding>) {
        self.announced = true;
        out.push(self.finding(true));
    }
    fn held_bytes(&self) -> usize {
        self.session.held_bytes()
    }
    fn release(&mut self) {
        self.session.on_gap(Direction::ToServer, 0);
        self.session.on_gap(Direction::ToClient, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u24(n: usize) -> [u8; 3] {
        [(n >> 16) as u8, (n >> 8) as u8, n as u8]
    }

    fn ext(ty: u16, body: &[u8]) -> Vec<u8> {
        let mut v = ty.to_be_bytes().to_vec();
        v.extend_from_slice(&(body.len() as u16).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    fn handshake(ty: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![ty];
        v.extend_from_slice(&u24(body.len()));
        v.extend_from_slice(body);
        v
    }

    fn record(ct: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![ct, 3, 1];
        v.extend_from_slice(&(body.len() as u16).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    /// A ClientHello as a TP-Link plug might send to its cloud: SNI, ALPN,
    /// supported_versions, two suites. Built by hand per RFC 8446 §4.1.2.
    fn client_hello_msg() -> Vec<u8> {
        let mut b = vec![0x03, 0x03];
        b.extend_from_slice(&[0x11; 32]); // random
        b.push(0); // session id
        b.extend_from_slice(&[0, 4, 0x13, 0x01, 0xc0, 0x2f]);
        b.extend_from_slice(&[1, 0]); // null compression
        let host = b"n-devs.tplinkcloud.com";
        let mut sni = ((host.len() + 3) as u16).to_be_bytes().to_vec();
        sni.push(0);
        sni.extend_from_slice(&(host.len() as u16).to_be_bytes());
        sni.extend_from_slice(host);
        let alpn = [
            0, 12, 2, b'h', b'2', 8, b'h', b't', b't', b'p', b'/', b'1', b'.', b'1',
        ];
        let mut exts = ext(0, &sni);
        exts.extend(ext(16, &alpn));
        exts.extend(ext(43, &[4, 0x03, 0x04, 0x03, 0x03]));
        b.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        b.extend(exts);
        handshake(HS_CLIENT_HELLO, &b)
    }

    fn check_client_hello(m: &TlsMeta) {
        let ch = m.client_hello.as_ref().expect("client hello");
        assert_eq!(ch.sni.as_deref(), Some("n-devs.tplinkcloud.com"));
        assert_eq!(ch.alpn, ["h2", "http/1.1"]);
        assert_eq!(ch.supported_versions, [0x0304, 0x0303]);
        assert_eq!(ch.cipher_count, 2);
        assert_eq!(ch.legacy_version, 0x0303);
        assert_eq!(ch.extension_count, 3);
    }

    #[test]
    fn client_hello_in_one_record() {
        let mut s = TlsSession::new();
        s.on_data(TlsDir::ToServer, &record(CT_HANDSHAKE, &client_hello_msg()));
        check_client_hello(s.meta());
        assert_eq!(s.meta().dirs[0].records, 1);
    }

    #[test]
    fn client_hello_split_at_every_byte_boundary() {
        let stream = record(CT_HANDSHAKE, &client_hello_msg());
        for cut in 0..=stream.len() {
            let mut s = TlsSession::new();
            s.on_data(TlsDir::ToServer, &stream[..cut]);
            s.on_data(TlsDir::ToServer, &stream[cut..]);
            check_client_hello(s.meta());
            assert_eq!(s.meta().dirs[0].bytes, stream.len() as u64);
        }
    }

    #[test]
    fn client_hello_fragmented_across_records_at_every_boundary() {
        let msg = client_hello_msg();
        for cut in 1..msg.len() {
            let mut stream = record(CT_HANDSHAKE, &msg[..cut]);
            stream.extend(record(CT_HANDSHAKE, &msg[cut..]));
            let mut s = TlsSession::new();
            for b in stream.chunks(7) {
                s.on_data(TlsDir::ToServer, b);
            }
            check_client_hello(s.meta());
            assert_eq!(s.meta().dirs[0].records, 2);
        }
    }

    fn der(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        if content.len() < 0x80 {
            v.push(content.len() as u8);
        } else {
            v.push(0x82);
            v.extend_from_slice(&(content.len() as u16).to_be_bytes());
        }
        v.extend_from_slice(content);
        v
    }

    fn name(cn: &str) -> Vec<u8> {
        let mut atv = der(0x06, &[0x55, 0x04, 0x0a]);
        atv.extend(der(0x0c, b"TP-Link"));
        let mut o = der(0x31, &der(0x30, &atv));
        let mut atv = der(0x06, &[0x55, 0x04, 0x03]);
        atv.extend(der(0x0c, cn.as_bytes()));
        o.extend(der(0x31, &der(0x30, &atv)));
        der(0x30, &o)
    }

    /// A skeletal certificate: enough structure for the Name walk.
    fn cert() -> Vec<u8> {
        let mut tbs = der(0xa0, &der(0x02, &[2]));
        tbs.extend(der(0x02, &[1]));
        tbs.extend(der(0x30, &der(0x06, &[0x2a, 0x86, 0x48])));
        tbs.extend(name("Example Root CA"));
        tbs.extend(der(0x30, &[]));
        tbs.extend(name("*.tplinkcloud.com"));
        let mut c = der(0x30, &tbs);
        c.extend(der(0x30, &[]));
        c.extend(der(0x03, &[0]));
        der(0x30, &c)
    }

    #[test]
    fn server_hello_and_certificate_tls12() {
        let mut sh = vec![0x03, 0x03];
        sh.extend_from_slice(&[0x22; 32]);
        sh.push(0);
        sh.extend_from_slice(&[0xc0, 0x2f, 0]);
        sh.extend_from_slice(&[0, 0]); // empty extensions
        let c = cert();
        let mut chain = u24(c.len() + 3).to_vec();
        chain.extend_from_slice(&u24(c.len()));
        chain.extend_from_slice(&c);
        let mut flight = handshake(HS_SERVER_HELLO, &sh);
        flight.extend(handshake(HS_CERTIFICATE, &chain));
        let stream = record(CT_HANDSHAKE, &flight);
        for cut in 0..=stream.len() {
            let mut s = TlsSession::new();
            s.on_data(TlsDir::ToClient, &stream[..cut]);
            s.on_data(TlsDir::ToClient, &stream[cut..]);
            let m = s.meta();
            let sh = m.server_hello.as_ref().expect("server hello");
            assert_eq!(sh.cipher, 0xc02f);
            assert_eq!(sh.version(), 0x0303);
            let cm = m.certificate.as_ref().expect("certificate");
            assert_eq!(cm.chain_len, 1);
            assert_eq!(cm.subject_cn.as_deref(), Some("*.tplinkcloud.com"));
            assert_eq!(cm.issuer_cn.as_deref(), Some("Example Root CA"));
        }
    }

    #[test]
    fn server_hello_tls13_stops_parsing() {
        let mut sh = vec![0x03, 0x03];
        sh.extend_from_slice(&[0x22; 32]);
        sh.push(0);
        sh.extend_from_slice(&[0x13, 0x01, 0]);
        let exts = ext(43, &[0x03, 0x04]);
        sh.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        sh.extend(exts);
        let mut s = TlsSession::new();
        s.on_data(TlsDir::ToClient, &record(CT_HANDSHAKE, &handshake(2, &sh)));
        s.on_data(TlsDir::ToClient, &record(23, &[0xaa; 100]));
        let sh = s.meta().server_hello.as_ref().unwrap();
        assert_eq!(sh.version(), TLS13);
        assert_eq!(sh.cipher, 0x1301);
        assert_eq!(s.meta().dirs[1].records, 2);
        assert!(s.meta().certificate.is_none());
    }

    #[test]
    fn change_cipher_spec_stops_handshake_parsing() {
        let mut s = TlsSession::new();
        s.on_data(TlsDir::ToServer, &record(CT_CHANGE_CIPHER_SPEC, &[1]));
        s.on_data(TlsDir::ToServer, &record(CT_HANDSHAKE, &client_hello_msg()));
        assert!(s.meta().client_hello.is_none());
        assert!(s.meta().dirs[0].change_cipher_spec);
        assert_eq!(s.meta().dirs[0].records, 2);
    }

    #[test]
    fn not_tls_and_gaps_desync() {
        let mut s = TlsSession::new();
        s.on_data(TlsDir::ToServer, b"GET / HTTP/1.1\r\n\r\n");
        assert!(s.meta().dirs[0].desync);
        assert_eq!(s.meta().dirs[0].records, 0);
        let mut s = TlsSession::new();
        s.on_data(TlsDir::ToServer, &[22, 3, 3, 0xff, 0xff]);
        assert!(s.meta().dirs[0].desync);
        let mut s = TlsSession::new();
        s.on_gap(TlsDir::ToClient, 10);
        s.on_data(TlsDir::ToClient, &record(CT_HANDSHAKE, &client_hello_msg()));
        assert!(s.meta().dirs[1].desync);
        assert_eq!(s.meta().dirs[1].gaps, 1);
    }

    #[test]
    fn oversized_handshake_message_is_skipped() {
        let mut s = TlsSession::new();
        // Declares 1 MiB; send it in records, then a ClientHello.
        let mut first = vec![HS_CLIENT_HELLO];
        first.extend_from_slice(&u24(1 << 20));
        s.on_data(TlsDir::ToServer, &record(CT_HANDSHAKE, &first));
        let filler = vec![0u8; 16 * 1024];
        for _ in 0..64 {
            s.on_data(TlsDir::ToServer, &record(CT_HANDSHAKE, &filler));
        }
        assert_eq!(s.meta().dirs[0].oversized, 1);
        s.on_data(TlsDir::ToServer, &record(CT_HANDSHAKE, &client_hello_msg()));
        check_client_hello(s.meta());
        assert!(s.dirs[0].hs.len() <= MAX_HANDSHAKE_BUFFER);
    }

    #[test]
    fn der_truncations_never_panic() {
        let c = cert();
        for len in 0..c.len() {
            let _ = der::subject_issuer_cn(&c[..len]);
        }
        assert_eq!(
            der::subject_issuer_cn(&c).0.as_deref(),
            Some("*.tplinkcloud.com")
        );
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_streams_never_panic_and_stay_bounded(
            chunks in proptest::collection::vec(
                proptest::collection::vec(proptest::num::u8::ANY, 0..400), 0..20),
            prefix_valid in proptest::bool::ANY,
        ) {
            let mut s = TlsSession::new();
            if prefix_valid {
                s.on_data(TlsDir::ToServer, &[22, 3, 1, 0x3f, 0xff, 1, 0, 0x3f, 0xfb]);
            }
            for c in &chunks {
                s.on_data(TlsDir::ToServer, c);
                s.on_data(TlsDir::ToClient, c);
                proptest::prop_assert!(s.dirs[0].hs.len() <= MAX_HANDSHAKE_BUFFER);
            }
        }
    }
}
