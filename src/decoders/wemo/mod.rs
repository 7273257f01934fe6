//! Belkin Wemo: UPnP SOAP control on TCP 49152–49155 (`SetBinaryState`,
//! `GetBinaryState`, the Insight's `GetInsightParams`) and the `setup.xml`
//! device description fetched over the same HTTP server.
//!
//! Sources: pywemo (`ouimeaux_device/api/service.py` for the SOAP request
//! template and how responses are read, `ouimeaux_device/insight.py` for
//! `InsightParams`, `ouimeaux_device/api/xsd_types.py` for `setup.xml`),
//! UPnP Device Architecture 1.0 §2.3 (description) and §3.2 (control).
//!
//! # The JSON of a SOAP message
//! SOAP is XML: a message is shown as the JSON object
//! `{"<Action>": {"<argument>": "<text>", …}}` of its `Body` (a request
//! `{"SetBinaryState": {"BinaryState": "1"}}`, a response
//! `{"GetInsightParamsResponse": {"InsightParams": "8|…"}}`), which is what
//! pywemo returns for a call; a `setup.xml` answer is shown as
//! `{"device": {"friendlyName": …, …}}` of the device element's fields.
//!
//! # InsightParams (pywemo `Insight.parse_insight_params`)
//! `state|lastchange|onfor|ontoday|ontotal|timeperiod|wifipower|currentmw|
//! todaymw|totalmw|powerthreshold`: `state` 0 off, 1 on, 8 on with no load
//! (standby: the relay is on); `currentmw` in **mW** (→ W / 1 000);
//! `todaymw` and `totalmw` in **mW·min** (pywemo: kWh = mW·min ×
//! 1.6666667e-8, i.e. / 60 000 000).

pub mod conn;
pub mod xml;

use super::summary::{EmeterReading, RelayState, Summary, SysInfo};
use super::{Decoder, Probe, Registration, ServerIs, StreamDecoder, Transport, Verdict};

/// The `protocol` of Wemo events.
pub const PROTOCOL: &str = "wemo";
/// The `vendor` of Wemo `SysInfo` summaries (`manufacturer` in setup.xml
/// is "Belkin International Inc.").
pub const VENDOR: &str = "Belkin";
/// The ports a Wemo's UPnP HTTP server listens on (pywemo
/// `ouimeaux_device/__init__.py` `probe_wemo` tries these).
pub const PORTS: &[u16] = &[49152, 49153, 49154, 49155];
/// mW·min in a kWh.
pub const MWMIN_PER_KWH: f64 = 60_000_000.0;

/// One InsightParams reading.
#[derive(Debug, Clone, PartialEq)]
pub struct InsightParams {
    /// 0 off, 1 on, 8 on in standby.
    pub state: i64,
    pub lastchange: i64,
    pub onfor: i64,
    pub ontoday: i64,
    pub ontotal: i64,
    pub wifipower: f64,
    pub currentmw: f64,
    pub todaymw: f64,
    pub totalmw: f64,
    pub powerthreshold: f64,
}

impl InsightParams {
    /// pywemo's field order; `None` unless there are exactly 11 fields with
    /// numbers where pywemo parses numbers.
    pub fn parse(s: &str) -> Option<InsightParams> {
        let f: Vec<&str> = s.trim().split('|').collect();
        let [
            state,
            lastchange,
            onfor,
            ontoday,
            ontotal,
            _period,
            wifi,
            cur,
            today,
            total,
            thr,
        ] = f.as_slice()
        else {
            return None;
        };
        let i = |x: &str| x.trim().parse::<i64>().ok();
        let fl = |x: &str| x.trim().parse::<f64>().ok().filter(|v| v.is_finite());
        Some(InsightParams {
            state: i(state)?,
            lastchange: i(lastchange)?,
            onfor: i(onfor)?,
            ontoday: i(ontoday)?,
            ontotal: i(ontotal)?,
            wifipower: fl(wifi)?,
            currentmw: fl(cur)?,
            todaymw: fl(today)?,
            totalmw: fl(total)?,
            powerthreshold: fl(thr)?,
        })
    }

    pub fn relay(&self) -> Option<RelayState> {
        binary_state(self.state)
    }

    pub fn reading(&self) -> EmeterReading {
        EmeterReading {
            power_w: Some(self.currentmw / 1000.0),
            voltage_v: None,
            current_a: None,
            total_kwh: Some(self.totalmw / MWMIN_PER_KWH),
            added_kwh: None,
        }
    }
}

/// `BinaryState` 0 off; 1 on; 8 on in standby (Insight). The value may
/// carry more `|` fields (Insight events): the first one counts.
fn binary_state(v: i64) -> Option<RelayState> {
    match v {
        0 => Some(RelayState::Off),
        1 | 8 => Some(RelayState::On),
        _ => None,
    }
}

/// `"1"`, `"8|1611105078|…"` → a relay state.
pub fn parse_binary_state(s: &str) -> Option<RelayState> {
    binary_state(s.split('|').next()?.trim().parse().ok()?)
}

/// What a SOAP body says.
pub fn soap_summary(b: &xml::SoapBody) -> Vec<Summary> {
    let sysinfo = |s: Option<RelayState>| {
        s.map(|s| {
            Summary::SysInfo(Box::new(SysInfo {
                vendor: Some(VENDOR.into()),
                relay_state: Some(s),
                ..SysInfo::default()
            }))
        })
    };
    match b.action.as_str() {
        "SetBinaryState" => b
            .arg("BinaryState")
            .and_then(parse_binary_state)
            .map(|s| vec![Summary::SetRelayState(s)])
            .unwrap_or_default(),
        "GetBinaryStateResponse" | "SetBinaryStateResponse" => {
            sysinfo(b.arg("BinaryState").and_then(parse_binary_state))
                .into_iter()
                .collect()
        }
        "GetInsightParamsResponse" => match b.arg("InsightParams").and_then(InsightParams::parse) {
            Some(p) => sysinfo(p.relay())
                .into_iter()
                .chain([Summary::Emeter(p.reading())])
                .collect(),
            None => Vec::new(),
        },
        "GetFriendlyNameResponse" => b
            .arg("FriendlyName")
            .map(|n| {
                vec![Summary::SysInfo(Box::new(SysInfo {
                    vendor: Some(VENDOR.into()),
                    alias: Some(n.chars().take(128).collect()),
                    ..SysInfo::default()
                }))]
            })
            .unwrap_or_default(),
        "Fault" => vec![Summary::Error {
            module: "soap".into(),
            method: None,
            err_code: b
                .arg("detail")
                .and_then(|d| d.split_whitespace().next()?.parse().ok())
                .unwrap_or(0),
            err_msg: b.arg("faultstring").map(|s| s.chars().take(200).collect()),
        }],
        _ => Vec::new(),
    }
}

/// What `setup.xml` says (pywemo `DeviceDescription.dict_from_xml`).
pub fn setup_summary(fields: &[(String, String)]) -> SysInfo {
    let f = |k: &str| {
        fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.chars().take(128).collect::<String>())
    };
    SysInfo {
        vendor: Some(VENDOR.into()),
        model: f("modelName"),
        alias: f("friendlyName"),
        mac: f("macAddress"),
        sw_ver: f("firmwareVersion"),
        hw_id: f("modelDescription"),
        device_id: f("serialNumber").or_else(|| f("UDN")),
        ..SysInfo::default()
    }
}

/// Wemo's HTTP server on 49152–49155.
pub static UPNP: Registration = Registration {
    name: PROTOCOL,
    transport: Transport::Tcp,
    ports: PORTS,
    probe,
    decoder: Decoder::Stream(new_conn),
};

fn new_conn(p: &Probe<'_>) -> Box<dyn StreamDecoder> {
    Box::new(conn::WemoConn::new(p.mid_stream))
}

/// A flow to 49152–49155 whose first payload is UPnP HTTP (`POST
/// /upnp/control/…`, `GET /setup.xml`, a `…service.xml`), or — picked up
/// mid-stream — an HTTP answer from one of those ports. Claimed by content,
/// not by port alone: 49152–49155 also start the ephemeral port range.
pub fn probe(p: &Probe<'_>) -> Verdict {
    let dst = PORTS.contains(&p.dst.port());
    let src = PORTS.contains(&p.src.port());
    if !dst && !src {
        return Verdict::NoMatch;
    }
    if p.payload.is_empty() {
        return if dst {
            Verdict::NeedData
        } else {
            Verdict::NoMatch
        };
    }
    if let Some((m, t)) = super::shelly::request_line(p.payload) {
        let path = t.split('?').next().unwrap_or("");
        let upnp = (m == "POST" && path.starts_with("/upnp/control/"))
            || (m == "GET" && (path == "/setup.xml" || path.ends_with("service.xml")))
            || (matches!(m, "SUBSCRIBE" | "UNSUBSCRIBE") && path.starts_with("/upnp/event/"));
        return if upnp && dst {
            Verdict::Match(ServerIs::Dst)
        } else {
            Verdict::NoMatch
        };
    }
    if src && p.mid_stream && p.payload.starts_with(b"HTTP/1.") {
        let hay = &p.payload[..p.payload.len().min(4096)];
        let has = |n: &[u8]| hay.windows(n.len()).any(|w| w == n);
        if has(b"urn:Belkin") || has(b"Belkin International") || has(b"BinaryState") {
            return Verdict::Match(ServerIs::Src);
        }
    }
    Verdict::NoMatch
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insight_params_units() {
        // pywemo's test fixture shape: standby, 2.3 W now.
        let p =
            InsightParams::parse("8|1611105078|0|0|0|1209600|13|2300|152630|4574940|8000").unwrap();
        assert_eq!(p.relay(), Some(RelayState::On));
        let e = p.reading();
        assert_eq!(e.power_w, Some(2.3));
        assert!((e.total_kwh.unwrap() - 0.076249).abs() < 1e-9);
        assert!(InsightParams::parse("1|2|3").is_none());
        assert!(InsightParams::parse("x|1|0|0|0|0|0|0|0|0|0").is_none());
        assert!(InsightParams::parse("1|1|0|0|0|0|0|NaN|0|0|0").is_none());
        assert_eq!(parse_binary_state("0"), Some(RelayState::Off));
        assert_eq!(
            parse_binary_state("1|1611105078|0|0|0"),
            Some(RelayState::On)
        );
        assert_eq!(parse_binary_state("Error"), None);
    }

    #[test]
    fn probe_by_content() {
        let sh = crate::decoders::Shared::new(crate::decoders::DecoderConfig::default());
        let p = |s: &str, d: &str, b: &[u8], mid| {
            probe(&Probe {
                src: s.parse().unwrap(),
                dst: d.parse().unwrap(),
                payload: b,
                syn: b.is_empty(),
                mid_stream: mid,
                shared: &sh,
            })
        };
        let (c, d) = ("192.168.1.5:40000", "192.168.1.40:49153");
        assert_eq!(p(c, d, b"", false), Verdict::NeedData);
        assert_eq!(
            p(c, d, b"POST /upnp/control/basicevent1 HTTP/1.1\r\n", false),
            Verdict::Match(ServerIs::Dst)
        );
        assert_eq!(
            p(c, d, b"GET /setup.xml HTTP/1.1\r\n", false),
            Verdict::Match(ServerIs::Dst)
        );
        assert_eq!(
            p(c, d, b"GET /index.html HTTP/1.1\r\n", false),
            Verdict::NoMatch
        );
        assert_eq!(p(c, d, b"\x16\x03\x01", false), Verdict::NoMatch);
        // A client whose ephemeral port happens to be 49152.
        assert_eq!(
            p("192.168.1.5:49152", "1.2.3.4:443", b"", false),
            Verdict::NoMatch
        );
        assert_eq!(
            p("192.168.1.5:49152", "1.2.3.4:443", b"\x16\x03\x01", false),
            Verdict::NoMatch
        );
        let r = b"HTTP/1.1 200 OK\r\n\r\n<s:Envelope><s:Body><u:GetBinaryStateResponse xmlns:u=\"urn:Belkin:service:basicevent:1\">";
        assert_eq!(p(d, c, r, true), Verdict::Match(ServerIs::Src));
        assert_eq!(
            p(d, c, b"HTTP/1.1 200 OK\r\n\r\nhello", true),
            Verdict::NoMatch
        );
    }
}
