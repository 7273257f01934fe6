//! SSDP on UDP 1900 (UPnP Device Architecture 2.0 §1): `NOTIFY *`
//! announcements (`ssdp:alive`, `ssdp:byebye`, `ssdp:update`), `M-SEARCH *`
//! queries and their `HTTP/1.1 200 OK` replies, one HTTPU message per
//! datagram (framed by [`crate::decoders::http::parse_datagram`]).
//!
//! What is recognised (each source named where the rule is):
//! - Belkin Wemo: `USN`/`NT`/`ST` `urn:Belkin:device:…` and the UDN prefix
//!   (`uuid:Socket-1_0-<serial>` → switch/plug, `uuid:Insight-1_0-…` →
//!   Insight…, as pywemo `discovery.py` `device_from_uuid_and_location`
//!   maps them); its SOAP port from `LOCATION` is learned for the Wemo
//!   decoder ([`ServiceKind::Wemo`]).
//! - Philips Hue bridges: the `hue-bridgeid` header, or `IpBridge/` in
//!   `SERVER` (Hue API docs "Discovery").
//! - Sonos (`Sonos/<version> (<model>)` in `SERVER`) and Roku (`Roku/`).
//! - Any other UPnP device: the device type of a `urn:…:device:<type>:<v>`
//!   `NT`/`ST` as its model, `SERVER` in the summary.
//!
//! A device's address is the `LOCATION` URL's host when it is an IP
//! literal, else the datagram's sender.

use std::net::IpAddr;

use serde_json::{Map, Value};

use super::http::{HttpMessage, StartLine, parse_datagram};
use super::services::ServiceKind;
use super::{
    Announce, Ctx, Decoder, Direction, DiscoveryFinding, Finding, Probe, Registration, Transport,
    Verdict,
};

/// The SSDP port (UDA 2.0 §1.1.2).
pub const PORT: u16 = 1900;
/// Registration name and the `protocol` of its events.
pub const PROTOCOL: &str = "ssdp";
/// Longest header value kept in a summary or the JSON.
pub const MAX_VALUE_LEN: usize = 256;

/// Which SSDP message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `NOTIFY * HTTP/1.1`.
    Notify,
    /// `M-SEARCH * HTTP/1.1`.
    Search,
    /// `HTTP/1.1 200 OK` to a search.
    Response,
}

/// The fields of an SSDP message that identify a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ssdp {
    pub kind: Kind,
    pub location: Option<String>,
    pub server: Option<String>,
    pub usn: Option<String>,
    /// `NT` (NOTIFY) or `ST` (M-SEARCH and its responses).
    pub target: Option<String>,
    /// `NTS`: `ssdp:alive`, `ssdp:byebye`, `ssdp:update`.
    pub nts: Option<String>,
    /// Every header (name lower case → value), for the JSON.
    pub headers: Vec<(String, String)>,
}

/// Why a datagram on the port is not SSDP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SsdpError {
    Http(super::http::HttpError),
    /// HTTP, but not `NOTIFY *`, `M-SEARCH *` or a response.
    NotSsdp,
}

fn clean(s: &str) -> String {
    crate::wire::dns::LabelText(s.as_bytes())
        .to_string()
        .chars()
        .take(MAX_VALUE_LEN)
        .collect()
}

/// Parses one datagram.
pub fn parse(p: &[u8]) -> Result<Ssdp, SsdpError> {
    let m: HttpMessage = parse_datagram(p).map_err(SsdpError::Http)?;
    let kind = match &m.start {
        StartLine::Request { method, target } if target == "*" && method == "NOTIFY" => {
            Kind::Notify
        }
        StartLine::Request { method, target } if target == "*" && method == "M-SEARCH" => {
            Kind::Search
        }
        StartLine::Response { .. } => Kind::Response,
        StartLine::Request { .. } => return Err(SsdpError::NotSsdp),
    };
    let h = |n: &str| m.header(n).map(clean);
    Ok(Ssdp {
        kind,
        location: h("location"),
        server: h("server"),
        usn: h("usn"),
        target: if kind == Kind::Notify {
            h("nt")
        } else {
            h("st")
        },
        nts: h("nts"),
        headers: m
            .headers
            .iter()
            .map(|(k, v)| (clean(k).to_ascii_lowercase(), clean(v)))
            .collect(),
    })
}

/// `http://host[:port]/…` → (host, port); IPv6 hosts in brackets.
pub fn location_host_port(url: &str) -> Option<(String, u16)> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("HTTP://"))?;
    let auth = rest.split(['/', '?']).next()?;
    let (host, port) = if let Some(v6) = auth.strip_prefix('[') {
        let (h, after) = v6.split_once(']')?;
        (h, after.strip_prefix(':'))
    } else {
        match auth.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (auth, None),
        }
    };
    let port = match port {
        Some(p) => p.parse().ok()?,
        None => 80,
    };
    (!host.is_empty()).then(|| (host.to_owned(), port))
}

/// Wemo models by UDN prefix (pywemo `discovery.py`).
const WEMO_UDN: &[(&str, &str)] = &[
    ("uuid:Socket-", "Wemo Switch (smart plug)"),
    ("uuid:Lightswitch-", "Wemo Light Switch"),
    ("uuid:Dimmer-", "Wemo Dimmer"),
    (
        "uuid:Insight-",
        "Wemo Insight (smart plug with energy meter)",
    ),
    ("uuid:Sensor-", "Wemo Motion"),
    ("uuid:Maker-", "Wemo Maker"),
    ("uuid:Bridge-", "Wemo Link (bridge)"),
    ("uuid:CoffeeMaker-", "Wemo Coffee Maker"),
    ("uuid:Crockpot-", "Wemo Crock-Pot"),
    ("uuid:Humidifier-", "Wemo Humidifier"),
    ("uuid:OutdoorPlug-", "Wemo Outdoor Plug"),
];

/// The UDN part of a USN (`uuid:…` before `::`).
fn udn(usn: &str) -> &str {
    usn.split("::").next().unwrap_or(usn)
}

/// What an announcement or reply says about its device.
pub fn announce(s: &Ssdp, sender: IpAddr) -> (Announce, Option<(u16, ServiceKind)>) {
    let loc = s.location.as_deref().and_then(location_host_port);
    let ip = loc
        .as_ref()
        .and_then(|(h, _)| h.parse::<IpAddr>().ok())
        .unwrap_or(sender);
    let mut a = Announce::new(ip);
    let usn = s.usn.as_deref().unwrap_or("");
    let target = s.target.as_deref().unwrap_or("");
    let server = s.server.as_deref().unwrap_or("");
    let header = |n: &str| {
        s.headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
    };
    let mut kind = ServiceKind::Upnp;
    let belkin = usn.contains("urn:Belkin:") || target.starts_with("urn:Belkin:");
    let wemo_model = WEMO_UDN
        .iter()
        .find(|(p, _)| udn(usn).starts_with(p))
        .map(|(_, m)| *m);
    if belkin || wemo_model.is_some() {
        a.vendor = Some("Belkin".into());
        a.model = wemo_model.map(str::to_owned).or(Some("Wemo".into()));
        // "uuid:Socket-1_0-221517K0101769": the serial follows the version.
        a.device_id = udn(usn)
            .rsplit_once('-')
            .map(|(_, serial)| serial.to_owned())
            .filter(|s| !s.is_empty());
        a.protocols.push("wemo");
        kind = ServiceKind::Wemo;
    } else if let Some(id) = header("hue-bridgeid") {
        a.vendor = Some("Signify (Philips Hue)".into());
        a.model = Some("Hue bridge".into());
        a.device_id = Some(id.to_owned());
    } else if server.contains("IpBridge/") {
        a.vendor = Some("Signify (Philips Hue)".into());
        a.model = Some("Hue bridge".into());
    } else if let Some(i) = server.find("Sonos/") {
        a.vendor = Some("Sonos".into());
        a.model = server[i..]
            .split_once('(')
            .and_then(|(_, m)| m.split_once(')'))
            .map(|(m, _)| m.to_owned());
    } else if server.contains("Roku/") {
        a.vendor = Some("Roku".into());
    }
    if a.model.is_none() {
        // urn:schemas-upnp-org:device:MediaRenderer:1 → "UPnP MediaRenderer".
        let parts: Vec<&str> = target.split(':').collect();
        if let [_, _, "device", ty, _] = parts.as_slice() {
            a.model = Some(format!("UPnP {ty}"));
        }
    }
    a.protocols.push("upnp");
    (a, loc.map(|(_, port)| (port, kind)))
}

/// Any datagram from or to port 1900.
pub fn probe(p: &Probe<'_>) -> Verdict {
    p.by_port(&[PORT])
}

/// SSDP.
pub static REGISTRATION: Registration = Registration {
    name: PROTOCOL,
    transport: Transport::Udp,
    ports: &[PORT],
    probe,
    decoder: Decoder::Datagram(on_datagram),
};

/// The datagram decoder.
pub fn on_datagram(cx: &mut Ctx<'_>, dir: Direction, payload: &[u8], out: &mut Vec<Finding>) {
    let sender = match dir {
        Direction::ToServer => cx.client.ip(),
        Direction::ToClient => cx.server.ip(),
    };
    let s = match parse(payload) {
        Ok(s) => s,
        Err(e) => {
            out.push(Finding::Undecodable {
                protocol: PROTOCOL,
                dir,
                reason: format!("{} bytes: not SSDP ({e:?})", payload.len()),
                label: None,
                http: false,
            });
            return;
        }
    };
    let json: Map<String, Value> = s
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let field = |n: &str, v: &Option<String>| v.as_ref().map(|v| format!(" {n}={v}"));
    let mut line = match s.kind {
        Kind::Notify => format!("NOTIFY {}", s.nts.as_deref().unwrap_or("?")),
        Kind::Search => "M-SEARCH".to_owned(),
        Kind::Response => "search reply".to_owned(),
    };
    for (n, v) in [
        ("target", &s.target),
        ("usn", &s.usn),
        ("location", &s.location),
        ("server", &s.server),
    ] {
        line.extend(field(n, v));
    }
    if s.kind == Kind::Search {
        out.push(Finding::Discovery(Box::new(DiscoveryFinding {
            protocol: PROTOCOL,
            dir: Direction::ToServer,
            announce: None,
            summary: vec![line],
            crc_ok: false,
            json: Some(Value::Object(json)),
        })));
        return;
    }
    let (a, learned) = announce(&s, sender);
    let byebye = s.nts.as_deref() == Some("ssdp:byebye");
    if let Some((port, kind)) = learned.filter(|_| !byebye) {
        cx.shared.services.learn(a.ip, port, kind);
    }
    out.push(Finding::Discovery(Box::new(DiscoveryFinding {
        protocol: PROTOCOL,
        dir: Direction::ToClient,
        announce: Some(a),
        summary: vec![line],
        crc_ok: false,
        json: Some(Value::Object(json)),
    })));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::ssdp as synth;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn wemo_notify() {
        let p = synth::wemo_notify([192, 168, 0, 81], 49153, "221517K0101769", false);
        let s = parse(&p).unwrap();
        assert_eq!(s.kind, Kind::Notify);
        assert_eq!(s.nts.as_deref(), Some("ssdp:alive"));
        let (a, learned) = announce(&s, ip("192.168.0.1"));
        assert_eq!(a.ip, ip("192.168.0.81"));
        assert_eq!(a.vendor.as_deref(), Some("Belkin"));
        assert_eq!(a.model.as_deref(), Some("Wemo Switch (smart plug)"));
        assert_eq!(a.device_id.as_deref(), Some("221517K0101769"));
        assert_eq!(learned, Some((49153, ServiceKind::Wemo)));
        // Every truncation is an error or a message, never a panic.
        for n in 0..p.len() {
            let _ = parse(&p[..n]);
        }
    }

    #[test]
    fn search_and_replies() {
        let s = parse(&synth::msearch("urn:Belkin:device:**", 2)).unwrap();
        assert_eq!(
            (s.kind, s.target.as_deref()),
            (Kind::Search, Some("urn:Belkin:device:**"))
        );
        let r = synth::search_reply(
            "http://192.168.0.90:80/description.xml",
            "Linux/3.14.0 UPnP/1.0 IpBridge/1.26.0",
            "uuid:2f402f80-da50-11e1-9b23-001788255acc::upnp:rootdevice",
            "upnp:rootdevice",
            &[("hue-bridgeid", "001788FFFE255ACC")],
        );
        let s = parse(&r).unwrap();
        let (a, _) = announce(&s, ip("192.168.0.90"));
        assert_eq!(a.device_id.as_deref(), Some("001788FFFE255ACC"));
        assert_eq!(a.model.as_deref(), Some("Hue bridge"));
        let r = synth::search_reply(
            "http://[fe80::1]:1400/xml/device_description.xml",
            "Linux UPnP/1.0 Sonos/70.3-35220 (ZPS1)",
            "uuid:RINCON_000E58000001400::urn:schemas-upnp-org:device:ZonePlayer:1",
            "urn:schemas-upnp-org:device:ZonePlayer:1",
            &[],
        );
        let (a, l) = announce(&parse(&r).unwrap(), ip("192.168.0.5"));
        assert_eq!(
            (a.vendor.as_deref(), a.model.as_deref()),
            (Some("Sonos"), Some("ZPS1"))
        );
        assert_eq!(a.ip, ip("fe80::1"));
        assert_eq!(l, Some((1400, ServiceKind::Upnp)));
        let r = synth::search_reply(
            "http://router.local/igd.xml",
            "OpenWRT/23 UPnP/1.1 MiniUPnPd/2.3",
            "uuid:x::urn:schemas-upnp-org:device:InternetGatewayDevice:1",
            "urn:schemas-upnp-org:device:InternetGatewayDevice:1",
            &[],
        );
        let (a, _) = announce(&parse(&r).unwrap(), ip("192.168.0.1"));
        assert_eq!(a.ip, ip("192.168.0.1"));
        assert_eq!(a.model.as_deref(), Some("UPnP InternetGatewayDevice"));
    }

    #[test]
    fn not_ssdp() {
        assert_eq!(parse(b"GET / HTTP/1.1\r\n\r\n"), Err(SsdpError::NotSsdp));
        assert!(parse(b"\x00\x01garbage").is_err());
        assert!(parse(b"").is_err());
        assert_eq!(
            location_host_port("http://1.2.3.4/x"),
            Some(("1.2.3.4".into(), 80))
        );
        assert_eq!(location_host_port("http://1.2.3.4:99999/x"), None);
        assert_eq!(location_host_port("ftp://x"), None);
        assert_eq!(location_host_port("http://[::1"), None);
    }

    proptest::proptest! {
        #[test]
        fn random_never_panics(b in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            if let Ok(s) = parse(&b) {
                let _ = announce(&s, ip("10.0.0.1"));
            }
        }
    }
}
