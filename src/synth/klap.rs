//! Synthetic KLAP sessions (HTTP on TCP 80) as an Ethernet capture (DLT 1),
//! as a wired tap or a decrypted 802.11 capture would show them.
//!
//! [`demo`] holds, each on its own plug:
//! 1. **plug A, v2**, configured account ([`ACCOUNT`]): handshake1/2 on one
//!    connection, then a keep-alive connection with `get_device_info`
//!    (nickname base64), `set_device_info {device_on:false}` split over two
//!    segments, and a `multipleRequest` of `get_energy_usage` +
//!    `get_current_power`;
//! 2. **plug B, v1**, configured account, IOT JSON inside: `get_sysinfo`,
//!    `set_relay_state`;
//! 3. **plug C, v2**, an account plugsniff does not know: handshake, one
//!    request → "KLAP: credentials needed";
//! 4. **plug D, v2**, capture starts mid-session: no handshake, the request
//!    connection is picked up without its SYN and in the middle of a body →
//!    "KLAP: handshake not captured";
//! 5. **plug E, v1**, the public default Kasa credentials: handshake and
//!    `get_sysinfo`.
//!
//! Every random-looking value (seeds, ISNs) comes from a fixed [`Rng`] seed.

use super::frames::{Side, TcpConn};
use super::scenario::Rng;
use crate::decoders::klap::crypto::{AuthHash, SessionKeys};
use crate::decoders::tplink::smart::b64_encode;
use crate::wire::MacAddr;
use crate::wire::Ts;

/// The account given to plugsniff in the tests (`[[tplink_account]]`).
pub const ACCOUNT: (&str, &str) = ("alice@example.com", "correct horse");
/// The account plug C really uses (not given to plugsniff).
pub const UNKNOWN_ACCOUNT: (&str, &str) = ("bob@example.com", "hunter2hunter2");

pub const PHONE_MAC: MacAddr = MacAddr([0x02, 0x11, 0x22, 0x33, 0x44, 0x55]);
pub const PHONE_IP: [u8; 4] = [192, 168, 0, 23];

/// A plug of the KLAP demo.
#[derive(Debug, Clone, Copy)]
pub struct KlapPlug {
    pub mac: MacAddr,
    pub ip: [u8; 4],
}

/// The five plugs, A to E.
pub const PLUGS: [KlapPlug; 5] = [
    plug(0xa1, 61),
    plug(0xb2, 62),
    plug(0xc3, 63),
    plug(0xd4, 64),
    plug(0xe5, 65),
];

const fn plug(last: u8, ip: u8) -> KlapPlug {
    KlapPlug {
        mac: MacAddr([0x50, 0xc7, 0xbf, 0x00, 0x00, last]),
        ip: [192, 168, 0, ip],
    }
}

/// An Ethernet II frame around an IPv4 packet.
pub fn ethernet(dst: MacAddr, src: MacAddr, ip: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(14 + ip.len());
    v.extend_from_slice(&dst.0);
    v.extend_from_slice(&src.0);
    v.extend_from_slice(&0x0800u16.to_be_bytes());
    v.extend_from_slice(ip);
    v
}

/// `POST path` with a body (and a session cookie).
pub fn http_post(host: [u8; 4], path: &str, cookie: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut h = format!(
        "POST {path} HTTP/1.1\r\nHost: {}.{}.{}.{}\r\nAccept: */*\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n",
        host[0],
        host[1],
        host[2],
        host[3],
        body.len()
    );
    if let Some(c) = cookie {
        h.push_str(&format!("Cookie: TP_SESSIONID={c}\r\n"));
    }
    h.push_str("\r\n");
    let mut v = h.into_bytes();
    v.extend_from_slice(body);
    v
}

/// `HTTP/1.1 200 OK` with a body (and a `Set-Cookie`).
pub fn http_ok(set_cookie: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut h = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(c) = set_cookie {
        h.push_str(&format!("Set-Cookie: TP_SESSIONID={c};TIMEOUT=86400\r\n"));
    }
    h.push_str("\r\n");
    let mut v = h.into_bytes();
    v.extend_from_slice(body);
    v
}

/// Frames under construction, 20 ms apart.
struct Cap {
    frames: Vec<(Ts, Vec<u8>)>,
    t_us: u64,
}

impl Cap {
    fn push(&mut self, dst: MacAddr, src: MacAddr, ip: Vec<u8>) {
        self.t_us += 20_000;
        let ts = Ts::from_micros(
            1_764_000_000 + (self.t_us / 1_000_000) as i64,
            (self.t_us % 1_000_000) as u32,
        );
        self.frames.push((ts, ethernet(dst, src, &ip)));
    }
    /// One segment from `side` of `c` between the phone and `p`.
    fn seg(&mut self, p: KlapPlug, side: Side, ip: Vec<u8>) {
        match side {
            Side::Client => self.push(p.mac, PHONE_MAC, ip),
            Side::Server => self.push(PHONE_MAC, p.mac, ip),
        }
    }
    fn open(&mut self, p: KlapPlug, c: &mut TcpConn) {
        let s = c.syn();
        self.seg(p, Side::Client, s);
        let s = c.syn_ack();
        self.seg(p, Side::Server, s);
        let s = c.ack(Side::Client);
        self.seg(p, Side::Client, s);
    }
    fn send(&mut self, p: KlapPlug, c: &mut TcpConn, side: Side, data: &[u8]) {
        let s = c.data(side, data);
        self.seg(p, side, s);
    }
    fn close(&mut self, p: KlapPlug, c: &mut TcpConn) {
        let s = c.fin(Side::Client);
        self.seg(p, Side::Client, s);
        let s = c.fin(Side::Server);
        self.seg(p, Side::Server, s);
        let s = c.ack(Side::Client);
        self.seg(p, Side::Client, s);
    }
}

/// One KLAP client/device pair with its session state.
struct Klap {
    plug: KlapPlug,
    auth: AuthHash,
    ls: [u8; 16],
    rs: [u8; 16],
    keys: SessionKeys,
    seq: i32,
    cookie: String,
}

impl Klap {
    fn new(plug: KlapPlug, auth: AuthHash, rng: &mut Rng) -> Klap {
        let ls: [u8; 16] = rng.bytes();
        let rs: [u8; 16] = rng.bytes();
        let keys = SessionKeys::derive(&ls, &rs, &auth);
        Klap {
            plug,
            seq: keys.seq0,
            auth,
            ls,
            rs,
            keys,
            cookie: format!("{:032X}", rng.next_u64()),
        }
    }

    fn handshake(&self, cap: &mut Cap, rng: &mut Rng) {
        let mut c = conn(self.plug, rng);
        cap.open(self.plug, &mut c);
        let q = http_post(self.plug.ip, "/app/handshake1", None, &self.ls);
        cap.send(self.plug, &mut c, Side::Client, &q);
        let mut body = self.rs.to_vec();
        body.extend(self.auth.server_hash(&self.ls, &self.rs));
        cap.send(
            self.plug,
            &mut c,
            Side::Server,
            &http_ok(Some(&self.cookie), &body),
        );
        let h2 = self.auth.client_hash(&self.ls, &self.rs);
        let q = http_post(self.plug.ip, "/app/handshake2", Some(&self.cookie), &h2);
        cap.send(self.plug, &mut c, Side::Client, &q);
        cap.send(self.plug, &mut c, Side::Server, &http_ok(None, b""));
        cap.close(self.plug, &mut c);
    }

    /// The next request/response pair as HTTP bytes.
    fn exchange(&mut self, req: &str, rsp: &str) -> (Vec<u8>, Vec<u8>) {
        self.seq = self.seq.wrapping_add(1);
        let q = http_post(
            self.plug.ip,
            &format!("/app/request?seq={}", self.seq),
            Some(&self.cookie),
            &self.keys.encrypt(self.seq, req.as_bytes()),
        );
        let r = http_ok(None, &self.keys.encrypt(self.seq, rsp.as_bytes()));
        (q, r)
    }
}

fn conn(p: KlapPlug, rng: &mut Rng) -> TcpConn {
    let port = rng.range(49_152, 65_000) as u16;
    TcpConn::new(
        (PHONE_IP, port),
        (p.ip, 80),
        rng.next_u64() as u32,
        rng.next_u64() as u32,
    )
}

/// The Tapo-style `get_device_info` reply for plug A.
pub fn device_info_reply() -> String {
    format!(
        r#"{{"error_code":0,"result":{{"device_id":"8022A1","fw_ver":"1.3.1 Build 240621 Rel.162048","hw_ver":"1.0","type":"SMART.TAPOPLUG","model":"P110","mac":"50-C7-BF-00-00-A1","nickname":"{}","device_on":true,"rssi":-48,"ssid":"{}"}}}}"#,
        b64_encode("Kitchen kettle".as_bytes()),
        b64_encode(b"linksys")
    )
}

/// The capture described in the module doc, Ethernet frames.
pub fn demo() -> Vec<(Ts, Vec<u8>)> {
    let mut rng = Rng::new(0x6b6c_6170);
    let mut cap = Cap {
        frames: Vec::new(),
        t_us: 0,
    };
    let (u, pw) = ACCOUNT;

    // 1. Plug A, v2.
    let mut a = Klap::new(PLUGS[0], AuthHash::v2(u, pw), &mut rng);
    a.handshake(&mut cap, &mut rng);
    let mut c = conn(a.plug, &mut rng);
    cap.open(a.plug, &mut c);
    let (q, r) = a.exchange(
        r#"{"method":"get_device_info","params":null,"request_time_milis":1764000000000,"terminal_uuid":"AAAA"}"#,
        &device_info_reply(),
    );
    cap.send(a.plug, &mut c, Side::Client, &q);
    cap.send(a.plug, &mut c, Side::Server, &r);
    let (q, r) = a.exchange(
        r#"{"method":"set_device_info","params":{"device_on":false}}"#,
        r#"{"error_code":0}"#,
    );
    let cut = q.len() / 2;
    cap.send(a.plug, &mut c, Side::Client, &q[..cut]);
    cap.send(a.plug, &mut c, Side::Client, &q[cut..]);
    cap.send(a.plug, &mut c, Side::Server, &r);
    let (q, r) = a.exchange(
        r#"{"method":"multipleRequest","params":{"requests":[{"method":"get_energy_usage","params":null},{"method":"get_current_power","params":null}]}}"#,
        r#"{"error_code":0,"result":{"responses":[{"method":"get_energy_usage","result":{"today_runtime":300,"today_energy":120,"current_power":12500},"error_code":0},{"method":"get_current_power","result":{"current_power":12.5},"error_code":0}]}}"#,
    );
    cap.send(a.plug, &mut c, Side::Client, &q);
    cap.send(a.plug, &mut c, Side::Server, &r);
    cap.close(a.plug, &mut c);

    // 2. Plug B, v1, IOT inside.
    let mut b = Klap::new(PLUGS[1], AuthHash::v1(u, pw), &mut rng);
    b.handshake(&mut cap, &mut rng);
    let mut c = conn(b.plug, &mut rng);
    cap.open(b.plug, &mut c);
    let (q, r) = b.exchange(
        r#"{"system":{"get_sysinfo":{}}}"#,
        r#"{"system":{"get_sysinfo":{"err_code":0,"sw_ver":"1.1.0 Build 201016 Rel.175121","hw_ver":"4.1","model":"HS100(UK)","mac":"50:C7:BF:00:00:B2","alias":"Desk lamp","relay_state":1,"rssi":-60}}}"#,
    );
    // Both pairs on one keep-alive connection, the second request in the
    // same segment as nothing else but split from its response.
    cap.send(b.plug, &mut c, Side::Client, &q);
    cap.send(b.plug, &mut c, Side::Server, &r);
    let (q, r) = b.exchange(
        r#"{"system":{"set_relay_state":{"state":0}}}"#,
        r#"{"system":{"set_relay_state":{"err_code":0}}}"#,
    );
    cap.send(b.plug, &mut c, Side::Client, &q);
    cap.send(b.plug, &mut c, Side::Server, &r);
    cap.close(b.plug, &mut c);

    // 3. Plug C: an account plugsniff does not know.
    let (bu, bp) = UNKNOWN_ACCOUNT;
    let mut k = Klap::new(PLUGS[2], AuthHash::v2(bu, bp), &mut rng);
    k.handshake(&mut cap, &mut rng);
    let mut c = conn(k.plug, &mut rng);
    cap.open(k.plug, &mut c);
    let (q, r) = k.exchange(r#"{"method":"get_device_info"}"#, r#"{"error_code":0}"#);
    cap.send(k.plug, &mut c, Side::Client, &q);
    cap.send(k.plug, &mut c, Side::Server, &r);
    cap.close(k.plug, &mut c);

    // 4. Plug D: mid-session; the connection is already open and the first
    // bytes captured are the tail of a request body.
    let mut d = Klap::new(PLUGS[3], AuthHash::v2(u, pw), &mut rng);
    let mut c = conn(d.plug, &mut rng);
    let (q0, r0) = d.exchange(r#"{"method":"get_device_info"}"#, &device_info_reply());
    let _ = (c.syn(), c.syn_ack(), c.ack(Side::Client)); // before the capture
    let _ = c.data(Side::Client, &q0[..q0.len() - 20]); // not captured
    cap.send(d.plug, &mut c, Side::Client, &q0[q0.len() - 20..]);
    cap.send(d.plug, &mut c, Side::Server, &r0);
    let (q, r) = d.exchange(
        r#"{"method":"set_device_info","params":{"device_on":true}}"#,
        r#"{"error_code":0}"#,
    );
    cap.send(d.plug, &mut c, Side::Client, &q);
    cap.send(d.plug, &mut c, Side::Server, &r);

    // 5. Plug E: the default Kasa credentials, v1.
    let (du, dp) = (
        "kasa@tp-link.net",
        "kasaSetup", // python-kasa DEFAULT_CREDENTIALS["KASA"]
    );
    let mut e = Klap::new(PLUGS[4], AuthHash::v1(du, dp), &mut rng);
    e.handshake(&mut cap, &mut rng);
    let mut c = conn(e.plug, &mut rng);
    cap.open(e.plug, &mut c);
    let (q, r) = e.exchange(
        r#"{"system":{"get_sysinfo":{}}}"#,
        r#"{"system":{"get_sysinfo":{"err_code":0,"model":"KP115(EU)","alias":"Fridge","relay_state":1,"mac":"50:C7:BF:00:00:E5"}}}"#,
    );
    cap.send(e.plug, &mut c, Side::Client, &q);
    cap.send(e.plug, &mut c, Side::Server, &r);
    cap.close(e.plug, &mut c);

    cap.frames
}

/// The frames as a classic pcap file, Ethernet (LINKTYPE 1).
pub fn pcap_bytes(frames: &[(Ts, Vec<u8>)]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    v.extend_from_slice(&2u16.to_le_bytes());
    v.extend_from_slice(&4u16.to_le_bytes());
    v.extend_from_slice(&0i32.to_le_bytes());
    v.extend_from_slice(&0u32.to_le_bytes());
    v.extend_from_slice(&65_535u32.to_le_bytes());
    v.extend_from_slice(&1u32.to_le_bytes());
    for (ts, f) in frames {
        v.extend_from_slice(&(ts.sec as u32).to_le_bytes());
        v.extend_from_slice(&ts.usec().to_le_bytes());
        v.extend_from_slice(&(f.len() as u32).to_le_bytes());
        v.extend_from_slice(&(f.len() as u32).to_le_bytes());
        v.extend_from_slice(f);
    }
    v
}
