//! Synthetic Wemo traffic ([`traffic`]): a controller and a Wemo Insight at
//! [`INSIGHT`] on TCP 49153, as pywemo talks to it — `GET /setup.xml`,
//! `SetBinaryState` 1 (the request split over two segments), `GetBinaryState`
//! (8: on, standby), `GetInsightParams` (2.3 W now) — on one keep-alive
//! connection. SOAP bodies follow pywemo `api/service.py`'s
//! `REQUEST_TEMPLATE` and the devices' answers.

use std::net::{IpAddr, SocketAddr};

use super::plugs::{PlugTraffic, TcpExchange, http_request, http_response, split};
use crate::decoders::Direction::{ToClient, ToServer};

/// The Insight.
pub const INSIGHT: [u8; 4] = [192, 168, 1, 40];
/// Its UPnP port.
pub const PORT: u16 = 49153;
/// The controller.
pub const CONTROLLER: [u8; 4] = [192, 168, 1, 5];
/// The InsightParams the device answers (pywemo's field order).
pub const INSIGHT_PARAMS: &str = "8|1611105078|0|0|0|1209600|13|2300|152630|4574940|8000";

/// The device description (UDA 1.0 §2.3, fields as Belkin fills them).
pub const SETUP_XML: &str = r#"<?xml version="1.0"?>
<root xmlns="urn:Belkin:device-1-0">
  <specVersion><major>1</major><minor>0</minor></specVersion>
  <device>
    <deviceType>urn:Belkin:device:insight:1</deviceType>
    <friendlyName>Washing machine</friendlyName>
    <manufacturer>Belkin International Inc.</manufacturer>
    <manufacturerURL>http://www.belkin.com</manufacturerURL>
    <modelDescription>Belkin Insight 1.0</modelDescription>
    <modelName>Insight</modelName>
    <modelNumber>1.0</modelNumber>
    <modelURL>http://www.belkin.com/plugin/</modelURL>
    <serialNumber>221517K0101769</serialNumber>
    <UDN>uuid:Insight-1_0-221517K0101769</UDN>
    <UPC>123456789</UPC>
    <macAddress>94103E48C8D4</macAddress>
    <firmwareVersion>WeMo_WW_2.00.11408.PVT-OWRT-Insight</firmwareVersion>
    <iconVersion>0|49153</iconVersion>
    <binaryState>8</binaryState>
    <serviceList>
      <service>
        <serviceType>urn:Belkin:service:basicevent:1</serviceType>
        <serviceId>urn:Belkin:serviceId:basicevent1</serviceId>
        <controlURL>/upnp/control/basicevent1</controlURL>
        <eventSubURL>/upnp/event/basicevent1</eventSubURL>
        <SCPDURL>/eventservice.xml</SCPDURL>
      </service>
      <service>
        <serviceType>urn:Belkin:service:insight:1</serviceType>
        <serviceId>urn:Belkin:serviceId:insight1</serviceId>
        <controlURL>/upnp/control/insight1</controlURL>
        <eventSubURL>/upnp/event/insight1</eventSubURL>
        <SCPDURL>/insightservice.xml</SCPDURL>
      </service>
    </serviceList>
  </device>
</root>
"#;

/// pywemo's request body for `action` of `service` with `args`.
pub fn soap_request(service: &str, action: &str, args: &[(&str, &str)]) -> String {
    let args: Vec<String> = args
        .iter()
        .map(|(k, v)| format!("<{k}>{v}</{k}>"))
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\">\n<s:Body>\n<u:{action} xmlns:u=\"{service}\">\n{}\n</u:{action}>\n</s:Body>\n</s:Envelope>",
        args.join("\n")
    )
}

/// A device's answer to `action`.
pub fn soap_response(service: &str, action: &str, args: &[(&str, &str)]) -> String {
    let args: String = args
        .iter()
        .map(|(k, v)| format!("\r\n<{k}>{v}</{k}>"))
        .collect();
    format!(
        "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body>\r\n<u:{action}Response xmlns:u=\"{service}\">{args}\r\n</u:{action}Response>\r\n</s:Body> </s:Envelope>"
    )
}

fn call(host: &str, service: &str, control: &str, action: &str, args: &[(&str, &str)]) -> Vec<u8> {
    let sa = format!("\"{service}#{action}\"");
    http_request(
        "POST",
        control,
        host,
        &[("Content-Type", "text/xml"), ("SOAPACTION", &sa)],
        soap_request(service, action, args).as_bytes(),
    )
}

fn answer(service: &str, action: &str, args: &[(&str, &str)]) -> Vec<u8> {
    http_response(
        200,
        "OK",
        &[
            ("CONTENT-TYPE", "text/xml; charset=\"utf-8\""),
            ("EXT", ""),
            ("SERVER", "Unspecified, UPnP/1.0, Unspecified"),
        ],
        soap_response(service, action, args).as_bytes(),
    )
}

/// One connection: description, switch on, state, energy.
pub fn traffic() -> PlugTraffic {
    PlugTraffic {
        tcp: vec![traffic_between(
            SocketAddr::new(IpAddr::from(CONTROLLER), 52000),
            INSIGHT,
        )],
        udp: Vec::new(),
    }
}

/// [`traffic`]'s connection between `client` and an Insight at `device`
/// (port [`PORT`]).
pub fn traffic_between(client: SocketAddr, device: [u8; 4]) -> TcpExchange {
    const BASIC: &str = "urn:Belkin:service:basicevent:1";
    const INS: &str = "urn:Belkin:service:insight:1";
    let host = format!("{}:{PORT}", IpAddr::from(device));
    let mut s = vec![
        (ToServer, http_request("GET", "/setup.xml", &host, &[], b"")),
        (
            ToClient,
            http_response(
                200,
                "OK",
                &[("CONTENT-TYPE", "text/xml")],
                SETUP_XML.as_bytes(),
            ),
        ),
    ];
    s.extend(split(
        ToServer,
        call(
            &host,
            BASIC,
            "/upnp/control/basicevent1",
            "SetBinaryState",
            &[("BinaryState", "1")],
        ),
        200,
    ));
    s.extend([
        (
            ToClient,
            answer(BASIC, "SetBinaryState", &[("BinaryState", "1")]),
        ),
        (
            ToServer,
            call(
                &host,
                BASIC,
                "/upnp/control/basicevent1",
                "GetBinaryState",
                &[],
            ),
        ),
        (
            ToClient,
            answer(BASIC, "GetBinaryState", &[("BinaryState", "8")]),
        ),
        (
            ToServer,
            call(
                &host,
                INS,
                "/upnp/control/insight1",
                "GetInsightParams",
                &[],
            ),
        ),
        (
            ToClient,
            answer(
                INS,
                "GetInsightParams",
                &[("InsightParams", INSIGHT_PARAMS)],
            ),
        ),
    ]);
    TcpExchange {
        client,
        server: SocketAddr::new(IpAddr::from(device), PORT),
        segments: s,
    }
}
