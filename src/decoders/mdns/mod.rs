//! Multicast DNS and DNS-SD on UDP 5353 (RFC 6762, RFC 6763): who is on
//! the network and what they say they are.
//!
//! - [`message`]: one datagram into owned, bounded records (through the
//!   shared reader [`crate::wire::dns`], the same one `flows::names` uses).
//! - [`services`]: service instances grouped by host, turned into
//!   [`Announce`](crate::decoders::Announce)s for the inventory: eWeLink,
//!   Shelly, HomeKit, Matter, Google Cast, AirPlay, anything else by name.
//!
//! [`on_datagram`] emits, per datagram:
//! - a query: one [`Finding::Discovery`] (direction request) listing the
//!   questions;
//! - a response: one [`Finding::Discovery`] per host (direction response)
//!   with its announcement; for each `_ewelink._tcp` TXT record a
//!   [`Finding::Message`] (protocol `ewelink`, transport `mdns`, method
//!   `mdns/state`, kind notify) with the device state, or an
//!   [`Finding::Undecodable`] with the eWeLink label when it cannot be
//!   opened;
//! - a datagram that is not mDNS: one [`Finding::Undecodable`].
//!
//! It also records the ports that SRV records announce
//! ([`crate::decoders::services::ServicePorts`]) so that the HomeKit,
//! eWeLink and Matter probes claim flows to them.

pub mod message;
pub mod services;

use std::net::IpAddr;

use serde_json::json;

use super::{
    AppMessage, Ctx, Decoder, Direction, DiscoveryFinding, Finding, MessageKind, Probe,
    Registration, Transport, Verdict, ewelink,
};
use message::dotted;

/// The mDNS port (RFC 6762 §3).
pub const PORT: u16 = 5353;
/// Registration name and the `protocol` of its events.
pub const PROTOCOL: &str = "mdns";

/// Any datagram from or to port 5353.
pub fn probe(p: &Probe<'_>) -> Verdict {
    p.by_port(&[PORT])
}

/// mDNS / DNS-SD.
pub static REGISTRATION: Registration = Registration {
    name: PROTOCOL,
    transport: Transport::Udp,
    ports: &[PORT],
    probe,
    decoder: Decoder::Datagram(on_datagram),
};

/// Query type names for summaries (RFC 1035 §3.2.2, RFC 3596, RFC 2782).
fn qtype_name(t: u16) -> String {
    use crate::wire::dns::rtype;
    match t {
        rtype::A => "A".into(),
        rtype::PTR => "PTR".into(),
        rtype::TXT => "TXT".into(),
        rtype::AAAA => "AAAA".into(),
        rtype::SRV => "SRV".into(),
        rtype::ANY => "ANY".into(),
        t => format!("TYPE{t}"),
    }
}

/// The datagram decoder (a [`crate::decoders::DatagramFn`]).
pub fn on_datagram(cx: &mut Ctx<'_>, dir: Direction, payload: &[u8], out: &mut Vec<Finding>) {
    let sender: IpAddr = match dir {
        Direction::ToServer => cx.client.ip(),
        Direction::ToClient => cx.server.ip(),
    };
    let Some(msg) = message::parse(payload) else {
        out.push(Finding::Undecodable {
            protocol: PROTOCOL,
            dir,
            reason: format!("{} bytes: not an mDNS message", payload.len()),
            label: None,
            http: false,
        });
        return;
    };
    if let Some(e) = msg.error {
        out.push(Finding::Desync { protocol: "mdns" });
        tracing::trace!("mdns: {e}");
    }
    if !msg.response {
        if msg.questions.is_empty() {
            return;
        }
        let qs: Vec<String> = msg
            .questions
            .iter()
            .map(|(n, t)| format!("{} {}", dotted(n), qtype_name(*t)))
            .collect();
        out.push(Finding::Discovery(Box::new(DiscoveryFinding {
            protocol: PROTOCOL,
            dir: Direction::ToServer,
            announce: None,
            summary: vec![format!("query: {}", qs.join(", "))],
            crc_ok: false,
            json: Some(json!({ "questions": qs })),
        })));
        return;
    }
    let report = services::interpret(&msg, sender, &cx.shared.config);
    for (ip, port, kind) in &report.ports {
        cx.shared.services.learn(*ip, *port, *kind);
    }
    for host in report.hosts {
        for st in &host.ewelink {
            ewelink_state(st, out);
        }
        out.push(Finding::Discovery(Box::new(DiscoveryFinding {
            protocol: PROTOCOL,
            dir: Direction::ToClient,
            announce: Some(host.announce),
            summary: host.summary,
            crc_ok: false,
            json: Some(host.json),
        })));
    }
}

/// An eWeLink TXT state as a message (or its label).
fn ewelink_state(st: &ewelink::txt::TxtState, out: &mut Vec<Finding>) {
    let summary = match &st.state {
        None => return,
        Some(ewelink::Opened::Failed(label, why)) => {
            out.push(Finding::Undecodable {
                protocol: ewelink::PROTOCOL,
                dir: Direction::ToClient,
                reason: format!("mDNS TXT state: {why}"),
                label: Some(label.as_str()),
                http: false,
            });
            return;
        }
        Some(ewelink::Opened::Plain(v) | ewelink::Opened::Decrypted(v, _)) => {
            ewelink::message::state_summary(v, st.device_id.as_deref(), st.device_type.as_deref())
        }
    };
    out.push(Finding::Message(Box::new(AppMessage {
        protocol: ewelink::PROTOCOL,
        transport: "mdns",
        dir: Direction::ToClient,
        kind: MessageKind::Notify,
        methods: vec!["mdns/state".into()],
        summary,
        json: st.json.clone(),
        meta: None,
        paired: false,
        via: "mdns",
    })));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::ewelink::crypto::{DeviceKey, EwelinkDevice};
    use crate::decoders::services::ServiceKind;
    use crate::decoders::summary::{RelayState, Summary};
    use crate::decoders::{DecoderConfig, Shared, test_ctx};
    use crate::synth::{ewelink as sew, mdns as smd};

    fn run(shared: &mut Shared, sender: &str, payload: &[u8]) -> Vec<Finding> {
        let mut cx = test_ctx(shared, &format!("{sender}:5353"), "224.0.0.251:5353");
        let mut out = Vec::new();
        on_datagram(&mut cx, Direction::ToServer, payload, &mut out);
        out
    }

    fn discoveries(f: &[Finding]) -> Vec<&DiscoveryFinding> {
        f.iter()
            .filter_map(|f| match f {
                Finding::Discovery(d) => Some(&**d),
                _ => None,
            })
            .collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn homekit_outlet() {
        let mut sh = Shared::new(DecoderConfig::default());
        let p = smd::announcement(&[smd::examples::HOMEKIT_PLUG], false);
        let f = run(&mut sh, "192.168.0.71", &p);
        let d = discoveries(&f);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].dir, Direction::ToClient);
        let a = d[0].announce.as_ref().unwrap();
        assert_eq!(a.ip, ip("192.168.0.71"));
        assert_eq!(a.name.as_deref(), Some("Eve Energy 5A3C"));
        assert_eq!(a.model.as_deref(), Some("Eve Energy 20EBO8301"));
        assert_eq!(a.device_id.as_deref(), Some("1A:2B:3C:4D:5E:6F"));
        assert_eq!(a.protocols, vec!["homekit"]);
        assert!(a.notes.contains(&services::HOMEKIT_NOTE.to_owned()));
        assert!(a.notes.contains(&"HomeKit: category Outlet".to_owned()));
        assert_eq!(
            d[0].summary,
            vec![
                "_hap._tcp \"Eve Energy 5A3C\" port 51827 model=Eve Energy 20EBO8301 category=7 (Outlet) paired"
            ]
        );
        assert_eq!(
            sh.services.kind(ip("192.168.0.71"), 51827),
            Some(ServiceKind::HomeKit)
        );
        // A goodbye teaches no port.
        let mut sh = Shared::new(DecoderConfig::default());
        let p = smd::announcement(&[smd::examples::HOMEKIT_PLUG], true);
        let f = run(&mut sh, "192.168.0.71", &p);
        assert!(discoveries(&f)[0].summary[0].ends_with("(goodbye)"));
        assert!(sh.services.is_empty());
    }

    #[test]
    fn matter_plug_commissionable_and_operational() {
        let mut sh = Shared::new(DecoderConfig::default());
        let p = smd::announcement(
            &[
                smd::examples::MATTER_PLUG,
                smd::examples::MATTER_OPERATIONAL,
            ],
            false,
        );
        let f = run(&mut sh, "192.168.0.72", &p);
        let d = discoveries(&f);
        assert_eq!(d.len(), 1, "one host, two services");
        let a = d[0].announce.as_ref().unwrap();
        assert_eq!(a.name.as_deref(), Some("Kitchen Plug"));
        assert_eq!(
            a.vendor.as_deref(),
            Some("Matter test vendor (Matter vendor 0xFFF1)")
        );
        assert_eq!(
            a.model.as_deref(),
            Some("On/Off Plug-in Unit (product 0x8001)")
        );
        assert_eq!(a.protocols, vec!["matter"]);
        assert!(a.notes.contains(&crate::decoders::matter::LABEL.to_owned()));
        assert!(
            a.notes
                .contains(&"Matter: node 8FC7772401CD0696 on fabric 2906C908D115D362".to_owned())
        );
        assert!(
            a.notes
                .contains(&"Matter: commissionable (CM=1)".to_owned())
        );
        assert_eq!(
            sh.services.kind(ip("192.168.0.72"), 5540),
            Some(ServiceKind::Matter)
        );
    }

    #[test]
    fn shelly_and_generic_names() {
        let mut sh = Shared::new(DecoderConfig::default());
        let p = smd::announcement(
            &[
                smd::examples::SHELLY_GEN2,
                smd::examples::SHELLY_GEN1,
                smd::examples::CHROMECAST,
            ],
            false,
        );
        let f = run(&mut sh, "192.168.0.1", &p);
        let d = discoveries(&f);
        assert_eq!(d.len(), 3);
        let a: Vec<&crate::decoders::Announce> =
            d.iter().map(|d| d.announce.as_ref().unwrap()).collect();
        assert_eq!(a[0].ip, ip("192.168.0.73"));
        assert_eq!(
            (
                a[0].vendor.as_deref(),
                a[0].model.as_deref(),
                a[0].firmware.as_deref()
            ),
            (Some("Shelly"), Some("PlusPlugS"), Some("1.0.8"))
        );
        assert_eq!(
            a[0].device_id.as_deref(),
            Some("shellyplusplugs-a8032ab12345")
        );
        assert_eq!(a[0].name, None, "an id is not a name");
        assert_eq!(
            (a[1].vendor.as_deref(), a[1].model.as_deref()),
            (Some("Shelly"), Some("shellyplug-s"))
        );
        assert_eq!(
            a[1].firmware.as_deref(),
            Some("20230913-114244/v1.14.0-gcb84623")
        );
        assert_eq!(
            (a[2].name.as_deref(), a[2].model.as_deref()),
            (Some("Living Room TV"), Some("Chromecast"))
        );
        assert_eq!(
            sh.services.kind(ip("192.168.0.74"), 80),
            Some(ServiceKind::Shelly)
        );
    }

    #[test]
    fn ewelink_state_with_and_without_key() {
        let state = serde_json::json!({"switch":"on","startup":"off","rssi":-60});
        let attrs = sew::txt(
            sew::DEVICE_ID,
            "plug",
            12,
            &state,
            Some((sew::DEVICE_KEY, [9; 16])),
        );
        let p = sew::announcement([192, 168, 0, 80], &attrs);
        // No key: identified and labelled.
        let mut sh = Shared::new(DecoderConfig::default());
        let f = run(&mut sh, "192.168.0.80", &p);
        let a = discoveries(&f)[0].announce.clone().unwrap();
        assert_eq!(a.vendor.as_deref(), Some(ewelink::VENDOR));
        assert_eq!(a.device_id.as_deref(), Some(sew::DEVICE_ID));
        assert_eq!(a.model.as_deref(), Some("plug"));
        assert!(a.notes.contains(&"eWeLink: device key needed".to_owned()));
        assert!(f.iter().any(|f| matches!(f, Finding::Undecodable { label: Some(l), .. } if *l == "eWeLink: device key needed")));
        assert_eq!(
            sh.services.kind(ip("192.168.0.80"), 8081),
            Some(ServiceKind::Ewelink)
        );
        // The key: the state is a message.
        let cfg = DecoderConfig {
            ewelink_devices: vec![EwelinkDevice {
                id: sew::DEVICE_ID.into(),
                label: "ewelink_device #1".into(),
                key: DeviceKey::from_devicekey(sew::DEVICE_KEY),
            }],
            ..Default::default()
        };
        let mut sh = Shared::new(cfg);
        let f = run(&mut sh, "192.168.0.80", &p);
        let m = f
            .iter()
            .find_map(|f| match f {
                Finding::Message(m) => Some(m),
                _ => None,
            })
            .expect("a message");
        assert_eq!(
            (m.protocol, m.transport, m.kind),
            ("ewelink", "mdns", MessageKind::Notify)
        );
        assert_eq!(m.json["data"], state);
        assert_eq!(m.json["seq"], "12");
        let Summary::SysInfo(i) = &m.summary[0] else {
            panic!("{:?}", m.summary)
        };
        assert_eq!((i.relay_state, i.rssi), (Some(RelayState::On), Some(-60)));
        // A wrong key.
        let cfg = DecoderConfig {
            ewelink_devices: vec![EwelinkDevice {
                id: sew::DEVICE_ID.into(),
                label: "ewelink_device #1".into(),
                key: DeviceKey::from_devicekey("wrong"),
            }],
            ..Default::default()
        };
        let mut sh = Shared::new(cfg);
        let f = run(&mut sh, "192.168.0.80", &p);
        assert!(f.iter().any(|f| matches!(f, Finding::Undecodable { label: Some(l), .. } if *l == "eWeLink: device key does not match")));
    }

    #[test]
    fn queries_and_garbage() {
        let mut sh = Shared::new(DecoderConfig::default());
        let f = run(
            &mut sh,
            "192.168.0.23",
            &smd::browse(&["_hap._tcp", "_matterc._udp"]),
        );
        let d = discoveries(&f);
        assert_eq!(d[0].dir, Direction::ToServer);
        assert_eq!(
            d[0].summary,
            vec!["query: _hap._tcp.local PTR, _matterc._udp.local PTR"]
        );
        let f = run(&mut sh, "192.168.0.23", b"hello");
        assert!(matches!(f[0], Finding::Undecodable { .. }));
        // Every truncation of a rich announcement.
        let p = smd::announcement(
            &[smd::examples::MATTER_PLUG, smd::examples::HOMEKIT_PLUG],
            false,
        );
        for n in 0..p.len() {
            let _ = run(&mut sh, "192.168.0.23", &p[..n]);
        }
        assert_eq!(
            probe(&crate::decoders::Probe {
                src: "10.0.0.1:5353".parse().unwrap(),
                dst: "224.0.0.251:5353".parse().unwrap(),
                payload: &[],
                syn: false,
                mid_stream: false,
                shared: &sh,
            }),
            Verdict::Match(crate::decoders::ServerIs::Dst)
        );
    }

    proptest::proptest! {
        #[test]
        fn random_datagrams_never_panic(b in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            let mut sh = Shared::new(DecoderConfig::default());
            let _ = run(&mut sh, "10.0.0.9", &b);
        }

        /// A valid response header followed by random records.
        #[test]
        fn random_records_never_panic(
            counts in proptest::array::uniform4(0u8..12),
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..500),
        ) {
            let mut p = vec![0, 0, 0x84, 0, 0, counts[0], 0, counts[1], 0, counts[2], 0, counts[3]];
            p.extend_from_slice(&body);
            let mut sh = Shared::new(DecoderConfig::default());
            let _ = run(&mut sh, "10.0.0.9", &p);
        }
    }
}
