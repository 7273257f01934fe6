//! A bounded, incremental HTTP/1.1 message parser over one direction of a
//! reassembled TCP stream (RFC 9112).
//!
//! # What this module owns
//! Framing only: start line, header fields, and a body delimited by
//! `Content-Length`. Keep-alive (several messages on one connection) and
//! messages split across segments fall out of the streaming design: bytes are
//! buffered until a whole message is present, then [`HttpEvent::Message`] is
//! emitted and parsing resumes after it.
//!
//! # Guarantees
//! - Never panics and never allocates past [`MAX_HEAD`] + [`MAX_BODY`] bytes
//!   per direction, whatever `Content-Length` says: a declared length above
//!   [`MAX_BODY`] (up to 2^64 − 1) is skipped, not buffered, and reported as
//!   [`HttpError::BodyTooLarge`].
//! - `Transfer-Encoding: chunked` is not decoded (KLAP never uses it):
//!   [`HttpError::Chunked`] is reported and the parser hunts for the next
//!   message start, as it does after a stream gap or when the capture starts
//!   mid-connection ([`HttpParser::hunting`]).
//! - A response without `Content-Length` (close-delimited, RFC 9112 §6.3
//!   rule 8) is taken as bodiless and reported as
//!   [`HttpError::NoContentLength`]; the plugs always send the header.
//! - After a protocol switch (a request carrying `Upgrade` with `Connection:
//!   upgrade`, or a `101 Switching Protocols` response, RFC 9110 §7.8) the
//!   bytes that follow are not HTTP: the parser stops
//!   ([`HttpParser::is_upgraded`]) and hands them over untouched
//!   ([`HttpParser::take_upgraded`]), so a WebSocket decoder can take the
//!   stream from there.

/// Largest start line + header block buffered (the plugs send < 300 bytes).
pub const MAX_HEAD: usize = 8 * 1024;
/// Largest body buffered. A KLAP request or response is a few KiB at most
/// (python-kasa caps a `multipleRequest` batch well below this).
pub const MAX_BODY: usize = 64 * 1024;
/// Header fields kept per message; later ones are counted and ignored.
pub const MAX_HEADERS: usize = 32;

/// Request or status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartLine {
    Request { method: String, target: String },
    Response { status: u16, reason: String },
}

/// One complete HTTP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpMessage {
    pub start: StartLine,
    /// Header fields in order, names as sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpMessage {
    /// The first header field named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The value of cookie `name` from `Cookie` or `Set-Cookie` headers.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| {
                n.eq_ignore_ascii_case("cookie") || n.eq_ignore_ascii_case("set-cookie")
            })
            .flat_map(|(_, v)| v.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| k.trim() == name)
            .map(|(_, v)| v.trim())
    }

    /// The request target's path (before `?`), for requests.
    pub fn path(&self) -> Option<&str> {
        match &self.start {
            StartLine::Request { target, .. } => Some(target.split('?').next().unwrap_or("")),
            StartLine::Response { .. } => None,
        }
    }

    /// Query parameter `name` of a request target.
    pub fn query(&self, name: &str) -> Option<&str> {
        let StartLine::Request { target, .. } = &self.start else {
            return None;
        };
        let (_, q) = target.split_once('?')?;
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }

    /// The request method (`GET`, `POST`…), for requests.
    pub fn method(&self) -> Option<&str> {
        match &self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The request target as sent (path and query), for requests.
    pub fn target(&self) -> Option<&str> {
        match &self.start {
            StartLine::Request { target, .. } => Some(target),
            StartLine::Response { .. } => None,
        }
    }

    /// This message switches the connection to another protocol (RFC 9110
    /// §7.8): a `101` response, or a request with `Upgrade` and `Connection:
    /// upgrade` (the client sends the new protocol right after it).
    pub fn is_upgrade(&self) -> bool {
        match &self.start {
            StartLine::Response { status, .. } => *status == 101,
            StartLine::Request { .. } => {
                self.header("upgrade").is_some()
                    && self.header("connection").is_some_and(|c| {
                        c.split(',')
                            .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
                    })
            }
        }
    }

    /// The credentials of an `Authorization` header (RFC 9110 §11.6.2), or
    /// the challenge of a `WWW-Authenticate` one (§11.6.1): scheme, user
    /// and realm only. A Digest `response` and a Basic password are never
    /// kept.
    pub fn auth(&self) -> Option<crate::decoders::HttpAuth> {
        let v = self
            .header("authorization")
            .or_else(|| self.header("www-authenticate"))?;
        let (scheme, rest) = v.split_once(' ').unwrap_or((v, ""));
        let bounded = |s: &str| s.chars().take(128).collect::<String>();
        if scheme.eq_ignore_ascii_case("basic") {
            let user = crate::decoders::tplink::smart::b64_decode(rest.trim())
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|s| s.split_once(':').map(|(u, _)| bounded(u)));
            return Some(crate::decoders::HttpAuth {
                scheme: "basic",
                user,
                realm: None,
            });
        }
        if !scheme.eq_ignore_ascii_case("digest") {
            return None;
        }
        let param = |name: &str| {
            rest.split(',')
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
                .map(|(_, v)| bounded(v.trim().trim_matches('"')))
        };
        Some(crate::decoders::HttpAuth {
            scheme: "digest",
            user: param("username"),
            realm: param("realm"),
        })
    }

    /// The reason phrase of a response (`OK`, `Unauthorized`).
    pub fn status_reason(&self) -> Option<&str> {
        match &self.start {
            StartLine::Response { reason, .. } => Some(reason),
            StartLine::Request { .. } => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match &self.start {
            StartLine::Response { status, .. } => Some(*status),
            StartLine::Request { .. } => None,
        }
    }
}

/// Why bytes were not a message. Small and `Copy`: these are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpError {
    /// The head exceeded [`MAX_HEAD`] without a blank line.
    HeadTooLong,
    /// The first line is neither `METHOD target HTTP/1.x` nor `HTTP/1.x NNN`.
    BadStartLine,
    /// A header line without a colon, or not UTF-8.
    BadHeader,
    /// `Content-Length` is not a decimal number, or two differ.
    BadContentLength,
    /// Declared body longer than [`MAX_BODY`]: skipped unread.
    BodyTooLarge { declared: u64 },
    /// `Transfer-Encoding` (chunked or other): not decoded; hunting resumes.
    Chunked,
    /// A response without `Content-Length`: taken as empty.
    NoContentLength,
    /// More than [`MAX_HEADERS`] fields; the rest were dropped.
    TooManyHeaders,
    /// Part of the stream was lost; `skipped` bytes were dropped while
    /// looking for the next message start.
    Resynced { skipped: u64 },
}

impl HttpError {
    /// A short stable name, for counters.
    pub fn name(self) -> &'static str {
        match self {
            HttpError::HeadTooLong => "head_too_long",
            HttpError::BadStartLine => "bad_start_line",
            HttpError::BadHeader => "bad_header",
            HttpError::BadContentLength => "bad_content_length",
            HttpError::BodyTooLarge { .. } => "body_too_large",
            HttpError::Chunked => "chunked",
            HttpError::NoContentLength => "no_content_length",
            HttpError::TooManyHeaders => "too_many_headers",
            HttpError::Resynced { .. } => "resynced",
        }
    }
}

/// What [`HttpParser::push`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpEvent {
    Message(HttpMessage),
    Error(HttpError),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Reading a head.
    Head,
    /// Head parsed; waiting for `remaining` body bytes.
    Body {
        start: StartLine,
        headers: Vec<(String, String)>,
        len: usize,
    },
    /// Discarding `remaining` bytes of an oversized body.
    Skip { remaining: u64 },
    /// Lost: dropping bytes until a line that starts a message.
    Hunt { skipped: u64 },
    /// The connection switched protocols: bytes are kept for
    /// [`HttpParser::take_upgraded`], not parsed.
    Upgraded,
}

/// One direction's parser.
#[derive(Debug, Clone)]
pub struct HttpParser {
    buf: Vec<u8>,
    state: State,
}

impl Default for HttpParser {
    fn default() -> Self {
        Self::new()
    }
}

/// Prefixes that can start a message (requests the plugs get, and responses).
const STARTS: [&[u8]; 4] = [b"POST /", b"GET /", b"HTTP/1.", b"PUT /"];

impl HttpParser {
    pub fn new() -> Self {
        HttpParser {
            buf: Vec::new(),
            state: State::Head,
        }
    }

    /// A parser for a stream whose start was not captured: it drops bytes
    /// until a message start.
    pub fn hunting() -> Self {
        HttpParser {
            buf: Vec::new(),
            state: State::Hunt { skipped: 0 },
        }
    }

    /// Bytes buffered (bounded by [`MAX_HEAD`] + [`MAX_BODY`]).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Heap bytes held (the buffer's allocation, which outlives the
    /// messages parsed from it).
    pub fn held_bytes(&self) -> usize {
        self.buf.capacity()
    }

    /// Drops whatever is buffered and frees it; the parser hunts for the
    /// next message (as after a gap). For a caller enforcing a memory
    /// budget across connections.
    pub fn release(&mut self) {
        let skipped = self.buf.len() as u64;
        self.buf = Vec::new();
        if !matches!(self.state, State::Skip { .. } | State::Upgraded) {
            self.state = State::Hunt { skipped };
        }
    }

    /// The connection switched protocols after the last message emitted
    /// ([`HttpMessage::is_upgrade`]); later bytes are not parsed.
    pub fn is_upgraded(&self) -> bool {
        self.state == State::Upgraded
    }

    /// The bytes received after the upgrading message (at most
    /// [`MAX_HEAD`] + [`MAX_BODY`]: the caller takes them after each push).
    pub fn take_upgraded(&mut self) -> Vec<u8> {
        if self.state == State::Upgraded {
            std::mem::take(&mut self.buf)
        } else {
            Vec::new()
        }
    }

    /// `len` bytes of the stream were lost: whatever was being read is
    /// abandoned and the parser hunts for the next message.
    pub fn on_gap(&mut self, len: u64) {
        if self.state == State::Upgraded {
            // Not HTTP any more: the new protocol's decoder sees the gap.
            self.buf.clear();
            return;
        }
        if let State::Skip { remaining } = &mut self.state
            && *remaining >= len
        {
            *remaining -= len;
            return;
        }
        let skipped = self.buf.len() as u64 + len;
        self.buf.clear();
        self.state = State::Hunt { skipped };
    }

    /// Feeds in-order bytes; complete messages and errors go to `out`.
    pub fn push(&mut self, mut data: &[u8], out: &mut Vec<HttpEvent>) {
        loop {
            match &mut self.state {
                State::Upgraded => {
                    let room = (MAX_HEAD + MAX_BODY).saturating_sub(self.buf.len());
                    self.buf.extend_from_slice(&data[..room.min(data.len())]);
                    return;
                }
                State::Skip { remaining } => {
                    let n = (*remaining).min(data.len() as u64) as usize;
                    *remaining -= n as u64;
                    data = &data[n..];
                    if *remaining > 0 {
                        return;
                    }
                    self.state = State::Head;
                }
                State::Hunt { skipped } => {
                    self.buf.extend_from_slice(data);
                    data = &[];
                    match find_start(&self.buf) {
                        Some(i) => {
                            *skipped += i as u64;
                            let s = *skipped;
                            self.buf.drain(..i);
                            if s > 0 {
                                out.push(HttpEvent::Error(HttpError::Resynced { skipped: s }));
                            }
                            self.state = State::Head;
                        }
                        None => {
                            // Keep a possible partial start for the next
                            // segment; drop the rest.
                            let keep = 8.min(self.buf.len());
                            let drop = self.buf.len() - keep;
                            *skipped += drop as u64;
                            self.buf.drain(..drop);
                            return;
                        }
                    }
                }
                State::Head => {
                    if !data.is_empty() {
                        let room = (MAX_HEAD + 4).saturating_sub(self.buf.len());
                        let n = room.min(data.len());
                        self.buf.extend_from_slice(&data[..n]);
                        data = &data[n..];
                    }
                    let Some(end) = find(&self.buf, b"\r\n\r\n") else {
                        if self.buf.len() > MAX_HEAD {
                            out.push(HttpEvent::Error(HttpError::HeadTooLong));
                            self.buf.clear();
                            self.restart_hunt(data);
                            data = &[];
                            continue;
                        }
                        return;
                    };
                    let head = self.buf[..end].to_vec();
                    self.buf.drain(..end + 4);
                    match parse_head(&head, out) {
                        Err(e) => {
                            out.push(HttpEvent::Error(e));
                            self.restart_hunt(data);
                            data = &[];
                        }
                        Ok(Head::Skip(remaining)) => {
                            // Bytes already buffered belong to the skipped body.
                            let have = self.buf.len() as u64;
                            if have >= remaining {
                                self.buf.drain(..remaining as usize);
                            } else {
                                self.buf.clear();
                                self.state = State::Skip {
                                    remaining: remaining - have,
                                };
                            }
                        }
                        Ok(Head::Chunked) => {
                            self.restart_hunt(data);
                            data = &[];
                        }
                        Ok(Head::Body {
                            start,
                            headers,
                            len,
                        }) => {
                            self.state = State::Body {
                                start,
                                headers,
                                len,
                            };
                        }
                    }
                }
                State::Body { len, .. } => {
                    let want = *len;
                    if self.buf.len() < want {
                        let n = (want - self.buf.len()).min(data.len());
                        self.buf.extend_from_slice(&data[..n]);
                        data = &data[n..];
                    }
                    if self.buf.len() < want {
                        return;
                    }
                    let State::Body { start, headers, .. } =
                        std::mem::replace(&mut self.state, State::Head)
                    else {
                        return;
                    };
                    let rest = self.buf.split_off(want);
                    let body = std::mem::replace(&mut self.buf, rest);
                    let m = HttpMessage {
                        start,
                        headers,
                        body,
                    };
                    if m.is_upgrade() {
                        self.state = State::Upgraded;
                    }
                    out.push(HttpEvent::Message(m));
                }
            }
        }
    }

    /// Abandons the current message: hunt from the bytes after the bad head.
    fn restart_hunt(&mut self, rest: &[u8]) {
        self.buf.extend_from_slice(rest);
        self.state = State::Hunt { skipped: 0 };
    }
}

enum Head {
    Body {
        start: StartLine,
        headers: Vec<(String, String)>,
        len: usize,
    },
    Skip(u64),
    Chunked,
}

fn parse_head(head: &[u8], out: &mut Vec<HttpEvent>) -> Result<Head, HttpError> {
    let text = std::str::from_utf8(head).map_err(|_| HttpError::BadHeader)?;
    let mut lines = text.split("\r\n");
    let first = lines.next().unwrap_or("");
    let start = parse_start(first).ok_or(HttpError::BadStartLine)?;
    let mut headers = Vec::new();
    let mut content_length: Option<u64> = None;
    let mut chunked = false;
    let mut dropped = false;
    for line in lines {
        let (name, value) = line.split_once(':').ok_or(HttpError::BadHeader)?;
        let (name, value) = (name.trim(), value.trim());
        if name.is_empty() || name.contains(' ') {
            return Err(HttpError::BadHeader);
        }
        if name.eq_ignore_ascii_case("content-length") {
            let n: u64 = value.parse().map_err(|_| HttpError::BadContentLength)?;
            if content_length.is_some_and(|c| c != n) {
                return Err(HttpError::BadContentLength);
            }
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = true;
        }
        if headers.len() < MAX_HEADERS {
            headers.push((name.to_owned(), value.to_owned()));
        } else {
            dropped = true;
        }
    }
    if dropped {
        out.push(HttpEvent::Error(HttpError::TooManyHeaders));
    }
    if chunked {
        out.push(HttpEvent::Error(HttpError::Chunked));
        return Ok(Head::Chunked);
    }
    let len = match (content_length, &start) {
        (Some(n), _) => n,
        // RFC 9112 §6.3: 1xx, 204 and 304 have no body.
        (None, StartLine::Response { status, .. })
            if *status < 200 || *status == 204 || *status == 304 =>
        {
            0
        }
        (None, StartLine::Response { .. }) => {
            out.push(HttpEvent::Error(HttpError::NoContentLength));
            0
        }
        (None, StartLine::Request { .. }) => 0,
    };
    if len > MAX_BODY as u64 {
        out.push(HttpEvent::Error(HttpError::BodyTooLarge { declared: len }));
        return Ok(Head::Skip(len));
    }
    Ok(Head::Body {
        start,
        headers,
        len: len as usize,
    })
}

/// Parses one whole message carried in a datagram (HTTPU: SSDP on UDP
/// 1900, UPnP Device Architecture 2.0 §1.1.2): start line, header fields,
/// and as body whatever follows the blank line (cut to `Content-Length`
/// when given). A datagram without the blank line is taken as all head.
/// Same limits as the stream parser: [`MAX_HEAD`], [`MAX_HEADERS`].
pub fn parse_datagram(b: &[u8]) -> Result<HttpMessage, HttpError> {
    let (head, rest) = match find(b, b"\r\n\r\n") {
        Some(end) => (&b[..end], &b[end + 4..]),
        None => {
            let mut h = b;
            while let Some(s) = h.strip_suffix(b"\r\n") {
                h = s;
            }
            (h, &b[b.len()..])
        }
    };
    if head.len() > MAX_HEAD {
        return Err(HttpError::HeadTooLong);
    }
    let mut ignored = Vec::new();
    match parse_head(head, &mut ignored)? {
        Head::Body {
            start,
            headers,
            len,
        } => Ok(HttpMessage {
            start,
            headers,
            body: rest[..len.min(rest.len())].to_vec(),
        }),
        Head::Skip(declared) => Err(HttpError::BodyTooLarge { declared }),
        Head::Chunked => Err(HttpError::Chunked),
    }
}

fn parse_start(line: &str) -> Option<StartLine> {
    if let Some(rest) = line.strip_prefix("HTTP/1.") {
        let mut it = rest.splitn(3, ' ');
        let _minor = it.next()?;
        let code = it.next()?;
        if code.len() != 3 {
            return None;
        }
        let status: u16 = code.parse().ok()?;
        return Some(StartLine::Response {
            status,
            reason: it.next().unwrap_or("").to_owned(),
        });
    }
    let mut it = line.split(' ');
    let (method, target, version) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some()
        || method.is_empty()
        || !method.bytes().all(|b| b.is_ascii_uppercase() || b == b'-')
        || !version.starts_with("HTTP/1.")
    {
        return None;
    }
    Some(StartLine::Request {
        method: method.to_owned(),
        target: target.to_owned(),
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The offset of the first message start. Anywhere, not only at a line
/// start: on a keep-alive connection a request follows the previous body
/// with no separator.
fn find_start(b: &[u8]) -> Option<usize> {
    (0..b.len()).find(|&i| STARTS.iter().any(|s| b[i..].starts_with(s)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(p: &mut HttpParser, chunks: &[&[u8]]) -> Vec<HttpEvent> {
        let mut out = Vec::new();
        for c in chunks {
            p.push(c, &mut out);
        }
        out
    }

    fn msgs(ev: &[HttpEvent]) -> Vec<&HttpMessage> {
        ev.iter()
            .filter_map(|e| match e {
                HttpEvent::Message(m) => Some(m),
                _ => None,
            })
            .collect()
    }

    const REQ: &[u8] = b"POST /app/request?seq=5 HTTP/1.1\r\nHost: 10.0.0.2\r\nContent-Length: 4\r\nCookie: TP_SESSIONID=ABC;TIMEOUT=86400\r\n\r\nbody";

    #[test]
    fn one_request_fields() {
        let ev = all(&mut HttpParser::new(), &[REQ]);
        let m = msgs(&ev);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].path(), Some("/app/request"));
        assert_eq!(m[0].query("seq"), Some("5"));
        assert_eq!(m[0].cookie("TP_SESSIONID"), Some("ABC"));
        assert_eq!(m[0].body, b"body");
        assert_eq!(m[0].header("host"), Some("10.0.0.2"));
    }

    #[test]
    fn split_at_every_byte_and_keep_alive() {
        let mut two = REQ.to_vec();
        two.extend_from_slice(REQ);
        for cut in 0..two.len() {
            let ev = all(&mut HttpParser::new(), &[&two[..cut], &two[cut..]]);
            assert_eq!(msgs(&ev).len(), 2, "cut {cut}: {ev:?}");
        }
        // Byte by byte.
        let mut p = HttpParser::new();
        let mut out = Vec::new();
        for b in &two {
            p.push(std::slice::from_ref(b), &mut out);
        }
        assert_eq!(msgs(&out).len(), 2);
        assert_eq!(p.buffered(), 0);
    }

    #[test]
    fn responses() {
        let r = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nSet-Cookie: TP_SESSIONID=XYZ;TIMEOUT=1440\r\n\r\nabcHTTP/1.1 204 No Content\r\n\r\n";
        let ev = all(&mut HttpParser::new(), &[r]);
        let m = msgs(&ev);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].status(), Some(200));
        assert_eq!(m[0].cookie("TP_SESSIONID"), Some("XYZ"));
        assert_eq!(m[1].status(), Some(204));
    }

    #[test]
    fn huge_content_length_is_skipped_not_allocated() {
        let big = format!(
            "POST /app/request?seq=1 HTTP/1.1\r\nContent-Length: {}\r\n\r\nxxxx",
            1u64 << 63
        );
        let mut p = HttpParser::new();
        let ev = all(&mut p, &[big.as_bytes(), &[0u8; 100_000]]);
        assert!(ev.contains(&HttpEvent::Error(HttpError::BodyTooLarge {
            declared: 1 << 63
        })));
        assert!(msgs(&ev).is_empty());
        assert!(p.buffered() < MAX_HEAD);
        // u64::MAX + 1 does not parse.
        let ev = all(
            &mut HttpParser::new(),
            &[b"POST / HTTP/1.1\r\nContent-Length: 18446744073709551616\r\n\r\n"],
        );
        assert_eq!(ev, [HttpEvent::Error(HttpError::BadContentLength)]);
    }

    #[test]
    fn oversized_but_finite_body_is_skipped_and_parsing_resumes() {
        let mut s = format!(
            "POST /x HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY + 10
        )
        .into_bytes();
        s.extend(vec![b'a'; MAX_BODY + 10]);
        s.extend_from_slice(REQ);
        for cut in [10, 70, 5000, s.len() - 3] {
            let ev = all(&mut HttpParser::new(), &[&s[..cut], &s[cut..]]);
            assert_eq!(msgs(&ev).len(), 1, "{cut}");
        }
    }

    #[test]
    fn chunked_is_reported_and_next_message_found() {
        let mut s =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n".to_vec();
        s.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        let ev = all(&mut HttpParser::new(), &[&s]);
        assert!(ev.contains(&HttpEvent::Error(HttpError::Chunked)));
        assert_eq!(msgs(&ev).len(), 1);
    }

    #[test]
    fn garbage_gap_and_mid_stream() {
        let ev = all(&mut HttpParser::new(), &[b"\x16\x03\x01 not http\r\n\r\n"]);
        assert_eq!(ev, [HttpEvent::Error(HttpError::BadStartLine)]);
        let mut p = HttpParser::hunting();
        let mut s = b"tail of an earlier body".to_vec();
        s.push(b'\n');
        s.extend_from_slice(REQ);
        let ev = all(&mut p, &[&s[..30], &s[30..]]);
        assert_eq!(msgs(&ev).len(), 1);
        let mut p = HttpParser::new();
        let ev = all(&mut p, &[&REQ[..40]]);
        assert!(ev.is_empty());
        p.on_gap(10);
        let ev = all(&mut p, &[&REQ[50..], REQ]);
        assert_eq!(msgs(&ev).len(), 1);
        assert!(matches!(
            ev[0],
            HttpEvent::Error(HttpError::Resynced { .. })
        ));
        // An endless head is capped.
        let mut p = HttpParser::new();
        let ev = all(&mut p, &[b"POST / HTTP/1.1\r\nX: ", &[b'a'; 3 * MAX_HEAD]]);
        assert!(ev.contains(&HttpEvent::Error(HttpError::HeadTooLong)));
        assert!(p.buffered() <= MAX_HEAD + 8);
    }

    #[test]
    fn authorization_without_its_secrets() {
        let ev = all(
            &mut HttpParser::new(),
            &[b"GET /rpc/Switch.Set?id=0&on=true HTTP/1.1\r\nAuthorization: Digest username=\"admin\", realm=\"shellyplus1pm-a8032abe54dc\", nonce=\"60dc59c8\", uri=\"/rpc/Switch.Set\", response=\"6f5c1e1b9f\", qop=auth, nc=00000001, cnonce=\"4a3f\", algorithm=SHA-256\r\n\r\nGET /status HTTP/1.1\r\nAuthorization: Basic YWRtaW46aHVudGVyMg==\r\n\r\nHTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest qop=\"auth\", realm=\"shellyplus1pm-a8032abe54dc\", nonce=\"60dc59c8\", algorithm=SHA-256\r\nContent-Length: 0\r\n\r\n"],
        );
        let m = msgs(&ev);
        let a = m[0].auth().unwrap();
        assert_eq!(
            (a.scheme, a.user.as_deref(), a.realm.as_deref()),
            ("digest", Some("admin"), Some("shellyplus1pm-a8032abe54dc"))
        );
        assert!(!format!("{a:?}").contains("6f5c1e1b9f"));
        let a = m[1].auth().unwrap();
        assert_eq!((a.scheme, a.user.as_deref()), ("basic", Some("admin")));
        assert!(!format!("{a:?}").contains("hunter2"));
        let a = m[2].auth().unwrap();
        assert_eq!(
            (a.scheme, a.user, a.realm.as_deref()),
            ("digest", None, Some("shellyplus1pm-a8032abe54dc"))
        );
    }

    #[test]
    fn upgrade_hands_over_the_rest_of_the_stream() {
        let req = b"GET /rpc HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\r\n\x81\x85abcd";
        for cut in 0..req.len() {
            let mut p = HttpParser::new();
            let ev = all(&mut p, &[&req[..cut], &req[cut..], b"\r\n\r\nmore"]);
            assert_eq!(msgs(&ev).len(), 1, "{cut}");
            assert_eq!(msgs(&ev)[0].method(), Some("GET"));
            assert_eq!(msgs(&ev)[0].target(), Some("/rpc"));
            assert!(p.is_upgraded());
            assert_eq!(p.take_upgraded(), b"\x81\x85abcd\r\n\r\nmore");
            assert!(p.take_upgraded().is_empty());
        }
        let rsp = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x02{}";
        let mut p = HttpParser::new();
        let ev = all(&mut p, &[rsp]);
        assert_eq!(msgs(&ev)[0].status(), Some(101));
        assert_eq!(p.take_upgraded(), b"\x81\x02{}");
        // Without `Connection: upgrade` a request does not switch.
        let mut p = HttpParser::new();
        all(&mut p, &[b"GET / HTTP/1.1\r\nUpgrade: h2c\r\n\r\n"]);
        assert!(!p.is_upgraded());
        // Buffered upgraded bytes are bounded.
        let mut p = HttpParser::new();
        all(&mut p, &[rsp, &vec![0u8; 2 * (MAX_HEAD + MAX_BODY)]]);
        assert!(p.buffered() <= MAX_HEAD + MAX_BODY);
    }

    #[test]
    fn release_frees_the_buffer_and_parsing_resumes() {
        let mut p = HttpParser::new();
        assert!(all(&mut p, &[&REQ[..REQ.len() - 3]]).is_empty());
        assert!(p.held_bytes() >= REQ.len() - 3);
        p.release();
        assert_eq!((p.buffered(), p.held_bytes()), (0, 0));
        // The rest of the torn message is skipped; the next one parses.
        let ev = all(&mut p, &[&REQ[REQ.len() - 3..], REQ]);
        assert_eq!(msgs(&ev).len(), 1);
    }
}
