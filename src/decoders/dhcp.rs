//! DHCP on UDP 67/68 as device announcements for the inventory: who a
//! client says it is (host name, option 12; FQDN, option 81), what software
//! it runs (vendor class, option 60; parameter request list, option 55, a
//! fingerprint of its DHCP stack), and the address it gets (DHCPACK).
//!
//! There is one DHCP parser, [`crate::flows::names::parse_dhcp`]: the name
//! table learns IP ↔ MAC and host names from it, and this decoder turns the
//! same parse into [`Announce`]s with vendor guesses from the MAC's OUI
//! ([`crate::flows::oui`]), the host name and the vendor class
//! ([`crate::decoders::guess`]).

use std::net::{IpAddr, Ipv4Addr};

use serde_json::json;

use super::{
    Announce, Ctx, Decoder, Direction, DiscoveryFinding, Finding, Probe, Registration, ServerIs,
    Transport, Verdict, guess,
};
use crate::flows::names::{Dhcp, dhcp_type, parse_dhcp};
use crate::flows::oui;

/// Registration name and the `protocol` of its events.
pub const PROTOCOL: &str = "dhcp";
/// Server and client ports (RFC 2131 §4.1).
pub const SERVER_PORT: u16 = 67;
pub const CLIENT_PORT: u16 = 68;

/// Datagrams between ports 67/68 (both ends; relays use 67 both sides).
pub fn probe(p: &Probe<'_>) -> Verdict {
    let dhcp = |port: u16| port == SERVER_PORT || port == CLIENT_PORT;
    if !dhcp(p.src.port()) || !dhcp(p.dst.port()) {
        return Verdict::NoMatch;
    }
    if p.dst.port() == SERVER_PORT {
        Verdict::Match(ServerIs::Dst)
    } else {
        Verdict::Match(ServerIs::Src)
    }
}

/// DHCP announcements.
pub static REGISTRATION: Registration = Registration {
    name: PROTOCOL,
    transport: Transport::Udp,
    ports: &[SERVER_PORT, CLIENT_PORT],
    probe,
    decoder: Decoder::Datagram(on_datagram),
};

fn type_name(t: Option<u8>) -> &'static str {
    match t {
        Some(dhcp_type::DISCOVER) => "DHCPDISCOVER",
        Some(dhcp_type::OFFER) => "DHCPOFFER",
        Some(dhcp_type::REQUEST) => "DHCPREQUEST",
        Some(dhcp_type::DECLINE) => "DHCPDECLINE",
        Some(dhcp_type::ACK) => "DHCPACK",
        Some(dhcp_type::NAK) => "DHCPNAK",
        Some(dhcp_type::RELEASE) => "DHCPRELEASE",
        Some(dhcp_type::INFORM) => "DHCPINFORM",
        _ => "BOOTP",
    }
}

/// What a DHCP message says about its client; `None` when it names no
/// client MAC or says nothing about the client (an OFFER, a NAK).
pub fn announce(d: &Dhcp) -> Option<Announce> {
    let mac = d.mac.or(d.client_id_mac)?;
    let v4 = |a: Ipv4Addr| (!a.is_unspecified()).then_some(a);
    let from_client = d.op == 1;
    let ip = match d.msg_type {
        Some(dhcp_type::ACK) => v4(d.yiaddr),
        _ if from_client => v4(d.ciaddr).or(d.requested),
        _ => return None,
    };
    let mut a = Announce::new(IpAddr::V4(ip.unwrap_or(Ipv4Addr::UNSPECIFIED)));
    a.mac = Some(mac);
    let host_guess = d
        .hostname
        .as_deref()
        .or(d.fqdn.as_deref())
        .and_then(guess::from_hostname);
    let oui_vendor = oui::vendor(mac).filter(|v| *v != oui::RANDOMIZED);
    a.vendor = match (&host_guess, oui_vendor) {
        (Some(g), _) => Some(g.vendor.to_owned()),
        (None, Some("Espressif")) => Some(guess::ESPRESSIF.to_owned()),
        (None, Some(v)) => Some(v.to_owned()),
        (None, None) => None,
    };
    if let Some(g) = host_guess {
        a.model = g.model;
        a.device_id = g.device_id;
    }
    if let Some(vc) = d.vendor_class.as_deref().filter(|v| !v.is_empty()) {
        let what = guess::from_vendor_class(vc)
            .map(|w| format!(" ({w})"))
            .unwrap_or_default();
        a.notes.push(format!("DHCP vendor class: {vc}{what}"));
    }
    if !d.param_list.is_empty() {
        a.notes.push(format!("DHCP parameter list: {}", params(d)));
    }
    a.protocols.push(PROTOCOL);
    Some(a)
}

fn params(d: &Dhcp) -> String {
    d.param_list
        .iter()
        .map(u8::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// The datagram decoder.
pub fn on_datagram(_cx: &mut Ctx<'_>, dir: Direction, payload: &[u8], out: &mut Vec<Finding>) {
    let Some(d) = parse_dhcp(payload) else {
        out.push(Finding::Undecodable {
            protocol: PROTOCOL,
            dir,
            reason: format!("{} bytes: not a DHCP message", payload.len()),
            label: None,
            http: false,
        });
        return;
    };
    let mac = d.mac.or(d.client_id_mac);
    let mut line = type_name(d.msg_type).to_owned();
    if let Some(m) = mac {
        line.push_str(&format!(" client {m}"));
    }
    for (k, v) in [
        ("host", d.hostname.as_deref()),
        ("fqdn", d.fqdn.as_deref()),
        ("vendor-class", d.vendor_class.as_deref()),
    ] {
        if let Some(v) = v {
            line.push_str(&format!(" {k}=\"{v}\""));
        }
    }
    if !d.param_list.is_empty() {
        line.push_str(&format!(" params={}", params(&d)));
    }
    let ip = |a: Ipv4Addr| (!a.is_unspecified()).then(|| a.to_string());
    let json = json!({
        "op": d.op,
        "msg_type": type_name(d.msg_type),
        "mac": mac.map(|m| m.to_string()),
        "hostname": d.hostname,
        "fqdn": d.fqdn,
        "vendor_class": d.vendor_class,
        "param_list": d.param_list,
        "requested": d.requested.map(|a| a.to_string()),
        "ciaddr": ip(d.ciaddr),
        "yiaddr": ip(d.yiaddr),
    });
    out.push(Finding::Discovery(Box::new(DiscoveryFinding {
        protocol: PROTOCOL,
        dir: if d.op == 1 {
            Direction::ToServer
        } else {
            Direction::ToClient
        },
        announce: announce(&d),
        summary: vec![line],
        crc_ok: false,
        json: Some(json),
    })));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::dhcp as synth;
    use crate::wire::MacAddr;

    #[test]
    fn espressif_plug_request() {
        let mac = MacAddr([0x24, 0x0a, 0xc4, 0x12, 0x34, 0x56]);
        let p = synth::request(
            dhcp_type::REQUEST,
            7,
            mac,
            "ESP_123456",
            "udhcp 1.30.1",
            synth::UDHCPC_PARAMS,
            Some([192, 168, 0, 77]),
        );
        let d = parse_dhcp(&p).unwrap();
        let a = announce(&d).unwrap();
        assert_eq!(a.mac, Some(mac));
        assert_eq!(a.ip, "192.168.0.77".parse::<IpAddr>().unwrap());
        assert_eq!(a.vendor.as_deref(), Some(guess::ESPRESSIF));
        assert!(a.notes.contains(
            &"DHCP vendor class: udhcp 1.30.1 (BusyBox udhcpc (embedded Linux))".to_owned()
        ));
        assert!(
            a.notes
                .contains(&"DHCP parameter list: 1,3,6,12,15,28,42".to_owned())
        );
        // A Shelly: model from the host name; the OUI alone would say Espressif.
        let p = synth::request(
            dhcp_type::DISCOVER,
            8,
            mac,
            "shellyplug-s-7C87CE",
            "",
            &[],
            None,
        );
        let a = announce(&parse_dhcp(&p).unwrap()).unwrap();
        assert_eq!(a.vendor.as_deref(), Some("Shelly"));
        assert_eq!(a.model.as_deref(), Some("shellyplug-s"));
        assert!(a.ip.is_unspecified());
        // An unknown host name on an Espressif OUI.
        let p = synth::request(dhcp_type::DISCOVER, 9, mac, "wlan0", "", &[], None);
        let a = announce(&parse_dhcp(&p).unwrap()).unwrap();
        assert_eq!(a.vendor.as_deref(), Some(guess::ESPRESSIF));
    }
}
