//! Application-layer decoders: byte streams and datagrams in, typed
//! [`Finding`]s out.
//!
//! # How a protocol plugs in
//! Like Suricata's Rust parsers (`rust/src/applayertemplate/`), each protocol
//! fills in a [`Registration`] — its name, transport, default ports, a
//! [`Registration::probe`] that claims a flow (and says which end is the
//! server), and a constructor for its per-flow [`StreamDecoder`] or its
//! [`DatagramFn`] — and is listed once in [`REGISTRY`]. The watcher walks the
//! table for every new flow or datagram; it never chooses a protocol itself.
//! Adding a plug protocol is a folder under `decoders/` plus one line in
//! [`REGISTRY`] (and, if it keeps state across connections or needs keys
//! from the config, a field of [`Shared`] / [`DecoderConfig`]).
//!
//! # What a decoder may do
//! Decoders never print, never do I/O and never see the watcher: they get
//! in-order bytes, gaps ([`crate::flows::tcp`]) and datagrams, and push
//! [`Finding`]s; the watcher turns findings into events and inventory facts,
//! and `output/` turns events into words. Every decoder holds bounded state
//! per direction, reports what it holds ([`StreamDecoder::held_bytes`]) and
//! gives it up on demand ([`StreamDecoder::release`]) for the watcher's global
//! memory budget, and accepts stream gaps by resynchronising or stopping,
//! never by guessing across the hole.
//!
//! # The protocols
//! - [`tplink`]: the Kasa XOR protocol on TCP/UDP 9999 and TDP on UDP 20002.
//! - [`klap`]: KLAP (HTTP 80) handshakes, decryption with the owner's or the
//!   default credentials, and labels for what cannot be decrypted.
//! - [`tls_meta`]: SNI, versions, ciphers and certificate names of TLS flows
//!   (the plugs' cloud link, their local HTTPS API).
//! - [`shelly`]: Shelly Gen1 HTTP, CoIoT (UDP 5683) and Gen2+ JSON-RPC over
//!   HTTP and WebSocket.
//! - [`wemo`]: Belkin Wemo UPnP SOAP (TCP 49152–49155) and `setup.xml`.
//! - [`meross`]: Meross local HTTP `POST /config`, signatures checked with
//!   the configured key.
//! - [`http`]: bounded HTTP/1.1 framing over reassembled TCP, for the
//!   HTTP-based protocols; [`websocket`] (RFC 6455) and [`coap`] (RFC 7252)
//!   under them.
//! - [`mdns`]: mDNS/DNS-SD announcements (UDP 5353) → device announcements
//!   (eWeLink, Shelly, HomeKit, Matter, generic names).
//! - [`ewelink`]: Sonoff/eWeLink LAN mode (TCP 8081 and mDNS TXT), decrypted
//!   with `[[ewelink_device]]` keys or labelled.
//! - [`ssdp`]: SSDP on UDP 1900 (Wemo, Hue, Sonos, any UPnP device).
//! - [`dhcp`]: DHCP options (host name, vendor class, parameter list,
//!   FQDN) as announcements, from the one DHCP parser in `flows::names`.
//! - [`matter`]: Matter on UDP/TCP 5540, labelled: clear header fields and
//!   session-establishment steps, counts.
//! - [`homekit`]: HAP over TCP on ports learned from `_hap._tcp`, labelled.
//! - [`guess`]: vendor/model guesses from host names and DHCP vendor classes.
//! - [`services`]: ports devices announced, for the probes.
//! - [`tuya`]: the Tuya local protocol 3.1–3.5 (TCP 6668: framing, local
//!   and session keys, data points) and its discovery (UDP 6666/6667/7000).
//! - [`summary`]: the typed vocabulary of what a message says.

pub mod coap;
pub mod dhcp;
pub mod ewelink;
pub mod guess;
pub mod homekit;
pub mod http;
pub mod klap;
pub mod matter;
pub mod mdns;
pub mod meross;
pub mod services;
pub mod shelly;
pub mod ssdp;
pub mod summary;
pub mod tls_meta;
pub mod tplink;
pub mod tuya;
pub mod websocket;
pub mod wemo;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde_json::Value;

use crate::wire::Ts;
use summary::Summary;

/// Direction within a connection, from the decoder's point of view. The
/// flow table decides who the client is ([`crate::flows::table::Flow`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Client → server (for the plugs: app → device).
    ToServer,
    /// Server → client.
    ToClient,
}

impl Direction {
    /// 0 for `ToServer`, 1 for `ToClient`.
    pub fn index(self) -> usize {
        match self {
            Direction::ToServer => 0,
            Direction::ToClient => 1,
        }
    }
}

/// The transport a protocol runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Tcp,
    Udp,
}

/// Which address of the probed packet is the server's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerIs {
    Src,
    Dst,
}

/// A probe's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// This protocol, with the server at this end.
    Match(ServerIs),
    /// Not this protocol.
    NoMatch,
    /// Cannot tell without payload (a SYN, a pure ACK): ask again with the
    /// next packet that carries some. A TCP flow nobody claims once it has
    /// carried payload is not decoded.
    NeedData,
}

/// What a probe sees: the first packet of a flow that carries enough to
/// decide (for TCP, the SYN first and then the first payload), or a datagram.
#[derive(Clone, Copy)]
pub struct Probe<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub payload: &'a [u8],
    /// TCP: this packet is a SYN (its sender is the client).
    pub syn: bool,
    /// TCP: the capture did not see the connection start (no SYN), so
    /// framers must hunt for the first message boundary.
    pub mid_stream: bool,
    /// What earlier traffic taught (ports devices announced…).
    pub shared: &'a Shared,
}

impl Probe<'_> {
    /// Matches by a well-known server port on either end (the destination's
    /// port wins when both are well known).
    pub fn by_port(&self, ports: &[u16]) -> Verdict {
        if ports.contains(&self.dst.port()) {
            Verdict::Match(ServerIs::Dst)
        } else if ports.contains(&self.src.port()) {
            Verdict::Match(ServerIs::Src)
        } else {
            Verdict::NoMatch
        }
    }
}

/// What the flow table knows about a TCP flow, for decoders that report on
/// the connection itself (the TLS cloud link).
#[derive(Debug, Clone, Copy, Default)]
pub struct FlowMeta {
    pub first_seen: Duration,
    pub last_seen: Duration,
    /// Payload bytes client → server and server → client.
    pub bytes: [u64; 2],
    /// Packets both ways.
    pub packets: u64,
    /// The client was seen opening the connection (a SYN), not guessed.
    pub initiator_seen: bool,
    /// The client of this flow opened it (false when the first packet seen
    /// came from the server, mid-stream).
    pub client_opened: bool,
}

/// What a decoder is given with each call.
pub struct Ctx<'a> {
    /// Capture time of the packet being decoded (for `on_close`, the time the
    /// flow was last seen).
    pub ts: Ts,
    pub client: SocketAddr,
    pub server: SocketAddr,
    /// Cross-flow state and configured keys.
    pub shared: &'a mut Shared,
    pub flow: FlowMeta,
}

/// Per-flow decoder of a TCP protocol: in-order bytes and gaps per direction.
pub trait StreamDecoder: Send {
    /// The flow was just claimed (its first packet, possibly a SYN).
    fn on_start(&mut self, _cx: &mut Ctx<'_>, _out: &mut Vec<Finding>) {}
    /// In-order bytes of one direction.
    fn on_data(&mut self, cx: &mut Ctx<'_>, dir: Direction, data: &[u8], out: &mut Vec<Finding>);
    /// `len` bytes of one direction were never captured.
    fn on_gap(&mut self, cx: &mut Ctx<'_>, dir: Direction, len: u64, out: &mut Vec<Finding>);
    /// The flow ended (FIN/RST, expiry, end of input).
    fn on_close(&mut self, _cx: &mut Ctx<'_>, _out: &mut Vec<Finding>) {}
    /// Heap bytes held for partial messages (the watcher's global budget).
    fn held_bytes(&self) -> usize;
    /// Drops the partial messages of both directions, as a gap would.
    fn release(&mut self);
}

/// A datagram decoder: one datagram in, findings out. `dir` is `ToServer`
/// when the datagram went to the end [`Registration::probe`] called the
/// server.
pub type DatagramFn = fn(cx: &mut Ctx<'_>, dir: Direction, payload: &[u8], out: &mut Vec<Finding>);

/// How a protocol decodes what its probe claimed.
#[derive(Clone, Copy)]
pub enum Decoder {
    Stream(fn(&Probe<'_>) -> Box<dyn StreamDecoder>),
    Datagram(DatagramFn),
}

/// One protocol, as listed in [`REGISTRY`].
#[derive(Clone, Copy)]
pub struct Registration {
    /// The `protocol` of its events (`"tplink-smarthome"`).
    pub name: &'static str,
    pub transport: Transport,
    /// Well-known server ports (documentation and the probes' default).
    pub ports: &'static [u16],
    pub probe: fn(&Probe<'_>) -> Verdict,
    pub decoder: Decoder,
}

/// Every protocol, tried in this order; the first match wins. Content-based
/// probes come before port-only ones that share their port: Shelly and
/// Meross claim port-80 flows by their first payload and must stay ahead of
/// KLAP, which claims any port-80 flow by port; eWeLink checks content
/// before the port-learned HomeKit and Matter. Tuya TCP says
/// [`Verdict::NeedData`] for any empty segment (its prefix probe works on
/// every port), so it stays after the port-only registrations.
pub static REGISTRY: &[&Registration] = &[
    // TCP, content-checked.
    &shelly::HTTP,
    &meross::HTTP,
    &wemo::UPNP,
    &ewelink::REGISTRATION,
    // TCP, by port.
    &tplink::XOR_TCP,
    &klap::REGISTRATION,
    &tls_meta::LOCAL_HTTPS,
    &tls_meta::CLOUD_LINK,
    &homekit::REGISTRATION,
    &matter::REGISTRATION_TCP,
    &tuya::TUYA_TCP,
    // UDP: plug protocols, then discovery.
    &tplink::XOR_UDP,
    &tplink::TDP,
    &shelly::COIOT,
    &mdns::REGISTRATION,
    &ssdp::REGISTRATION,
    &dhcp::REGISTRATION,
    &matter::REGISTRATION_UDP,
    &tuya::TUYA_DISCOVERY,
];

/// The first registration of `transport` that claims the packet.
pub fn probe(transport: Transport, p: &Probe<'_>) -> Option<(&'static Registration, Verdict)> {
    probe_in(REGISTRY, transport, p)
}

/// [`probe`] over another table (tests, and a watcher that filters it).
pub fn probe_in(
    table: &[&'static Registration],
    transport: Transport,
    p: &Probe<'_>,
) -> Option<(&'static Registration, Verdict)> {
    let mut need = None;
    for r in table.iter().copied().filter(|r| r.transport == transport) {
        match (r.probe)(p) {
            Verdict::NoMatch => {}
            Verdict::NeedData => {
                need.get_or_insert((r, Verdict::NeedData));
            }
            v @ Verdict::Match(_) => return Some(need.map_or((r, v), |n| n)),
        }
    }
    need
}

/// Keys and settings from the config file that decoders use.
#[derive(Debug, Clone, Default)]
pub struct DecoderConfig {
    /// Show passwords found in the clear instead of masking them.
    pub show_secrets: bool,
    /// `[[tplink_account]]`: tried on KLAP handshakes before the public
    /// defaults and blank credentials.
    pub klap_accounts: Vec<klap::session::KlapAccount>,
    /// `[[tuya_device]]`: device ids and local keys (with the optional
    /// address and version).
    pub tuya_devices: Vec<tuya::keys::TuyaDeviceKey>,
    /// `[[meross_device]] key` / `[meross] key`: the user keys Meross
    /// signatures are checked with.
    pub meross_keys: Vec<meross::MerossKey>,
    /// `[[ewelink_device]]`: device keys for eWeLink LAN mode (their
    /// `Debug` shows fingerprints only).
    pub ewelink_devices: Vec<ewelink::crypto::EwelinkDevice>,
}

/// State shared by all flows of a run: what one connection teaches another.
pub struct Shared {
    pub config: DecoderConfig,
    /// KLAP sessions by (client, device) and cookie, across connections.
    pub klap: klap::session::KlapSessions,
    /// What TDP replies announced about each device's local API.
    pub tdp: tplink::discovery::TdpPorts,
    /// Tuya local keys, and the device ids, versions and keys learned per
    /// address.
    pub tuya: tuya::keys::TuyaState,
    /// Shelly CoIoT `/cit/d` descriptions by device IP, to map later
    /// status triples.
    pub coiot: shelly::coiot::CoiotDescriptions,
    /// Ports announced by mDNS SRV records and SSDP (HomeKit, eWeLink,
    /// Matter, Shelly, Wemo), for the probes.
    pub services: services::ServicePorts,
    /// Matter messages counted per host pair (labelled, not decrypted).
    pub matter: matter::MatterPeers,
}

impl Shared {
    pub fn new(config: DecoderConfig) -> Shared {
        Shared {
            klap: klap::session::KlapSessions::new(config.klap_accounts.clone()),
            tdp: tplink::discovery::TdpPorts::default(),
            tuya: tuya::keys::TuyaState::new(config.tuya_devices.clone()),
            coiot: shelly::coiot::CoiotDescriptions::default(),
            services: services::ServicePorts::default(),
            matter: matter::MatterPeers::default(),
            config,
        }
    }
}

/// Request, response or an unsolicited report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// Client → device.
    Request,
    /// Device → client, answering a request.
    Response,
    /// A report nobody asked for (a status push, a broadcast).
    Notify,
}

/// HTTP authentication seen on a message (RFC 9110 §11): who and where,
/// never the secret (a Digest `response`, a Basic password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpAuth {
    /// `"digest"` or `"basic"` (Basic carries the password in the clear: it
    /// is decoded only to read the user name).
    pub scheme: &'static str,
    pub user: Option<String>,
    pub realm: Option<String>,
}

/// Protocol-specific facts about how a message was obtained.
#[derive(Debug, Clone, PartialEq)]
pub enum MessageMeta {
    /// KLAP: dialect, sequence number, credential label, signature check.
    Klap {
        version: &'static str,
        seq: i32,
        credentials: String,
        signature_ok: bool,
    },
    /// Shelly over HTTP or WebSocket.
    Shelly {
        /// 1 for the Gen1 API, 2 for Gen2+ JSON-RPC, `None` when the
        /// request does not say (`/shelly`).
        generation: Option<u8>,
        /// HTTP or JSON-RPC digest authentication on the request.
        auth: Option<HttpAuth>,
        /// JSON-RPC `id` as sent (numbers bare, strings quoted).
        rpc_id: Option<String>,
    },
    /// Shelly CoIoT (CoAP).
    Coiot {
        /// CoAP code as `c.dd` (`0.30` status publication, `2.05` answer).
        code: String,
        /// Option 3332: `"<type>#<id>#<CoIoT version>"`.
        device_id: Option<String>,
        /// Option 3412.
        validity: Option<u32>,
        /// Option 3420.
        serial: Option<u32>,
        /// The `G` triples mapped through the device's `/cit/d`
        /// description (`[{block, sensor, type, unit, value}]`), when one
        /// was seen.
        mapped: Option<Value>,
    },
    /// Wemo UPnP: the SOAP service and action.
    Wemo {
        /// `urn:Belkin:service:basicevent:1`…
        service: Option<String>,
        action: String,
    },
    /// Meross local HTTP: the header's signature check.
    Meross {
        namespace: String,
        /// `GET`, `SET`, `PUSH`, `GETACK`, `SETACK`, `ERROR`…
        method: String,
        message_id: String,
        /// `md5(messageId + key + timestamp) == sign` under a configured
        /// key; `None` when no key is configured (unverified).
        sign_ok: Option<bool>,
    },
    /// Tuya: version, frame command and sequence number, the device's return
    /// code, the frame's integrity check and the key's label.
    Tuya {
        /// `"3.1"` … `"3.5"`.
        version: &'static str,
        cmd: u32,
        seq: u32,
        /// Device frames: the return code.
        retcode: Option<u32>,
        /// `"crc32"`, `"hmac-sha256"` or `"aes-gcm"`.
        check: &'static str,
        /// The check verified (HMAC and GCM frames only decode when it
        /// does; a negotiation step also needs its nonce proof).
        check_ok: bool,
        /// 3.1 encrypted payloads: the MD5 signature verified.
        signature_ok: Option<bool>,
        /// `tuya_device #N` (or `session key (tuya_device #N)`); `None` for
        /// payloads in clear.
        key: Option<String>,
    },
}

/// A decoded application message.
#[derive(Debug, Clone, PartialEq)]
pub struct AppMessage {
    /// Registration name (`"tplink-smarthome"`, `"tplink-klap"`…).
    pub protocol: &'static str,
    /// `"tcp"`, `"udp"`, `"http"`…: how the message travelled.
    pub transport: &'static str,
    pub dir: Direction,
    pub kind: MessageKind,
    /// `module.method` (or the protocol's equivalent) for every method.
    pub methods: Vec<String>,
    pub summary: Vec<Summary>,
    /// The application JSON exactly as sent (after decryption), unmasked:
    /// the watcher masks secrets unless asked not to.
    pub json: Value,
    pub meta: Option<MessageMeta>,
    /// Pair with the oldest unanswered request of the flow for latency.
    pub paired: bool,
    /// How the device was reached, for the inventory's protocol list
    /// (`"xor-tcp"`, `"klap"`…).
    pub via: &'static str,
}

/// A discovery datagram: a query, or a device announcing itself.
#[derive(Debug, Clone, PartialEq)]
pub struct DiscoveryFinding {
    pub protocol: &'static str,
    pub dir: Direction,
    /// The announcing device's facts (replies and announcements).
    pub announce: Option<Announce>,
    /// What it says, in words.
    pub summary: Vec<String>,
    /// The payload's integrity check verified (CRC, MAC), when it has one.
    pub crc_ok: bool,
    /// The payload as JSON, when it is JSON (or was decrypted to JSON).
    pub json: Option<Value>,
}

/// A device describing itself (a discovery reply, an mDNS/SSDP
/// announcement, a DHCP request): what the inventory learns from it.
#[derive(Debug, Clone, PartialEq)]
pub struct Announce {
    /// The device's address (the datagram's sender unless the payload says
    /// otherwise). Unspecified (`0.0.0.0`) when the payload names a device
    /// by MAC but gives no address yet (a DHCPDISCOVER): merge by `mac`.
    pub ip: IpAddr,
    /// The MAC the payload states, when it does (else the watcher uses the
    /// frame's).
    pub mac: Option<crate::wire::MacAddr>,
    pub vendor: Option<String>,
    pub model: Option<String>,
    /// The user-given name, when announced.
    pub name: Option<String>,
    /// The vendor's device id (Tuya `gwId`, eWeLink id…).
    pub device_id: Option<String>,
    /// Firmware version.
    pub firmware: Option<String>,
    /// TP-Link TDP `encrypt_type` (`XOR`, `KLAP`, `AES`, `TPAP`).
    pub encrypt_type: Option<String>,
    /// Protocols the device is known to speak from this announcement.
    pub protocols: Vec<&'static str>,
    /// Inventory notes (`"Matter: CASE-encrypted, metadata only"`).
    pub notes: Vec<String>,
}

impl Announce {
    pub fn new(ip: IpAddr) -> Announce {
        Announce {
            ip,
            mac: None,
            vendor: None,
            model: None,
            name: None,
            device_id: None,
            firmware: None,
            encrypt_type: None,
            protocols: Vec::new(),
            notes: Vec::new(),
        }
    }
}

/// A captured KLAP handshake1.
#[derive(Debug, Clone, PartialEq)]
pub struct KlapSessionFinding {
    /// `Some((version, credential label))` when a credential matched.
    pub matched: Option<(&'static str, String)>,
    pub tried: usize,
}

/// A TLS connection's metadata, for a cloud-link event.
#[derive(Debug, Clone, PartialEq)]
pub struct CloudLinkFinding {
    pub closed: bool,
    pub sni: Option<String>,
    /// `(version, negotiated)`: negotiated from the ServerHello, or only
    /// offered in the ClientHello.
    pub tls_version: Option<(u16, bool)>,
    pub server_cert_cn: Option<String>,
    /// Mean seconds between records the client sent.
    pub mean_interval_s: Option<f64>,
}

/// Something a decoder found.
#[derive(Debug, Clone, PartialEq)]
pub enum Finding {
    Message(Box<AppMessage>),
    /// Bytes that did not decode, or a label for what a passive observer
    /// cannot decrypt.
    Undecodable {
        protocol: &'static str,
        dir: Direction,
        reason: String,
        /// A fixed label (`"KLAP: credentials needed"`) when one applies.
        label: Option<&'static str>,
        /// Counted as an HTTP framing error rather than a decoding failure.
        http: bool,
    },
    Discovery(Box<DiscoveryFinding>),
    KlapSession(KlapSessionFinding),
    CloudLink(Box<CloudLinkFinding>),
    /// A fact about the server device for the inventory (a protocol it
    /// speaks, a note such as "KLAP v2: decrypted with account #1").
    DeviceNote {
        protocol: &'static str,
        note: Option<String>,
    },
    /// Framing was lost or found again (counted under `protocol`, no event).
    Desync {
        protocol: &'static str,
    },
}

/// A decoder context for unit tests.
#[cfg(test)]
pub(crate) fn test_ctx<'a>(shared: &'a mut Shared, client: &str, server: &str) -> Ctx<'a> {
    Ctx {
        ts: Ts::default(),
        client: client.parse().expect("client address"),
        server: server.parse().expect("server address"),
        shared,
        flow: FlowMeta::default(),
    }
}
