//! Shelly CoIoT: CoAP on UDP 5683 (status multicast to 224.0.1.187), Gen1
//! devices ("The CoIoT Protocol for Shelly devices", rev 1.0, and the Gen1
//! docs' CoIoT section; aioshelly `block_device/coap.py` and `device.py`).
//!
//! # Messages
//! - `GET /cit/d` (code 0.01) → 2.05 with the **description**: blocks
//!   `blk: [{I, D}]` and sensors `sen: [{I, T, D, U, R, L}]` (`L` = the
//!   block id(s) a sensor belongs to).
//! - `GET /cit/s` → 2.05 with a **status** `{"G": [[channel, sensor id,
//!   value], …]}`; the same status is published unasked with Shelly's code
//!   **0.30** (a Notify), multicast.
//! - Options: 3332 device id `"<type>#<id>#<CoIoT version>"`, 3412 validity,
//!   3420 serial ([`crate::decoders::coap::option`]).
//!
//! # Cross-flow state
//! A description (fetched over CoAP or over HTTP `GET /cit/d`, Gen1 ≥ 1.10)
//! is kept per device IP in [`CoiotDescriptions`] (a [`crate::decoders::Shared`]
//! field); later status triples of that device are mapped through it to
//! `block.sensor = value unit` ([`crate::decoders::MessageMeta::Coiot`]) and
//! into relay and energy summaries. Without it the raw triples are all there
//! is (the JSON as sent).
//!
//! # Units
//! From each sensor's `U`: power `W`; energy `Wmin` (→ kWh / 60 000) or `Wh`
//! (→ kWh / 1 000); voltage `V`; current `A`. Another unit is not converted
//! (the mapped reading keeps it).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;

use serde_json::{Value, json};

use super::gen1::{WH_PER_KWH, WMIN_PER_KWH};
use super::{MAX_CHANNELS, MAX_FIELD, PROTOCOL, VENDOR, energy};
use crate::decoders::coap::{CoapMessage, option};
use crate::decoders::summary::{EmeterReading, RelayState, Summary, SysInfo};
use crate::decoders::{AppMessage, Ctx, Direction, Finding, MessageKind, MessageMeta};

/// Devices whose description is remembered (oldest forgotten, counted).
pub const MAX_DESCRIPTIONS: usize = 1024;
/// Sensors kept per description (a Shelly 2.5 describes about 40).
pub const MAX_SENSORS: usize = 256;
/// Blocks kept per description.
pub const MAX_BLOCKS: usize = 64;
/// Status triples mapped per message.
pub const MAX_TRIPLES: usize = 256;
/// Shelly's status-publication code 0.30 (CoIoT rev 1.0).
pub const CODE_PUBLISH: u8 = 30;
/// 2.05 Content.
pub const CODE_CONTENT: u8 = 69;
/// 0.01 GET.
pub const CODE_GET: u8 = 1;
/// The CoIoT multicast group.
pub const MULTICAST: [u8; 4] = [224, 0, 1, 187];

/// One sensor of a description.
#[derive(Debug, Clone, PartialEq)]
pub struct Sensor {
    /// `D`: `output`, `power`, `energy`…
    pub name: String,
    /// `T`: `S` (state), `P` (power), `E` (energy), `V`, `I`…
    pub kind: String,
    /// `U`: `W`, `Wmin`, `V`, `A`… (absent for states).
    pub unit: Option<String>,
    /// `L`: the blocks it belongs to.
    pub blocks: Vec<i64>,
}

/// A device's `/cit/d` description.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Description {
    pub blocks: HashMap<i64, String>,
    pub sensors: HashMap<i64, Sensor>,
}

impl Description {
    /// Reads `{"blk": […], "sen": […]}`; `None` when it is not one.
    pub fn parse(v: &Value) -> Option<Description> {
        let blk = v.get("blk")?.as_array()?;
        let sen = v.get("sen")?.as_array()?;
        let text = |x: &Value, k| {
            x.get(k)
                .and_then(Value::as_str)
                .map(|s| s.chars().take(MAX_FIELD).collect::<String>())
        };
        let mut d = Description::default();
        for b in blk.iter().take(MAX_BLOCKS) {
            if let (Some(i), Some(name)) = (b.get("I").and_then(Value::as_i64), text(b, "D")) {
                d.blocks.insert(i, name);
            }
        }
        for s in sen.iter().take(MAX_SENSORS) {
            let Some(i) = s.get("I").and_then(Value::as_i64) else {
                continue;
            };
            let blocks = match s.get("L") {
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(Value::as_i64)
                    .take(MAX_BLOCKS)
                    .collect(),
                Some(l) => l.as_i64().into_iter().collect(),
                None => Vec::new(),
            };
            d.sensors.insert(
                i,
                Sensor {
                    name: text(s, "D").unwrap_or_default(),
                    kind: text(s, "T").unwrap_or_default(),
                    unit: text(s, "U"),
                    blocks,
                },
            );
        }
        Some(d)
    }

    /// Maps `G` triples: `[{block, sensor, type, unit, value}]`, and the
    /// relay and energy summaries they amount to.
    pub fn map(&self, g: &[Value]) -> (Value, Vec<Summary>) {
        let mut mapped = Vec::new();
        let mut relays: Vec<(String, Option<RelayState>)> = Vec::new();
        let mut readings: HashMap<String, EmeterReading> = HashMap::new();
        for t in g.iter().take(MAX_TRIPLES) {
            let Some([_ch, id, value]) = t
                .as_array()
                .map(Vec::as_slice)
                .and_then(|a| <&[Value; 3]>::try_from(a).ok())
            else {
                continue;
            };
            let Some(s) = id.as_i64().and_then(|i| self.sensors.get(&i)) else {
                continue;
            };
            let block = s
                .blocks
                .first()
                .and_then(|b| self.blocks.get(b))
                .cloned()
                .unwrap_or_default();
            mapped.push(json!({"block": block, "sensor": s.name, "type": s.kind, "unit": s.unit, "value": value}));
            let f = value.as_f64();
            let unit = s.unit.as_deref();
            match (s.kind.as_str(), s.name.as_str(), unit) {
                ("S", "output" | "relay0" | "relay", _)
                    if block.starts_with("relay") && relays.len() < MAX_CHANNELS =>
                {
                    relays.push((block.clone(), RelayState::from_json(value)));
                }
                ("P", "power", Some("W")) => readings.entry(block).or_default().power_w = f,
                ("E", "energy", Some("Wmin")) => {
                    readings.entry(block).or_default().total_kwh = f.map(|x| x / WMIN_PER_KWH)
                }
                ("E", "energy", Some("Wh")) => {
                    readings.entry(block).or_default().total_kwh = f.map(|x| x / WH_PER_KWH)
                }
                ("V", "voltage", Some("V")) => readings.entry(block).or_default().voltage_v = f,
                ("I", "current", Some("A")) => readings.entry(block).or_default().current_a = f,
                _ => {}
            }
        }
        let mut out = Vec::new();
        let si = match relays.as_slice() {
            [] => None,
            [(_, s)] => Some(SysInfo {
                relay_state: *s,
                ..SysInfo::default()
            }),
            many => Some(SysInfo {
                children: many.iter().map(|(b, s)| (b.clone(), None, *s)).collect(),
                ..SysInfo::default()
            }),
        };
        if let Some(si) = si {
            out.push(Summary::SysInfo(Box::new(SysInfo {
                vendor: Some(VENDOR.into()),
                ..si
            })));
        }
        let mut r: Vec<(String, EmeterReading)> = readings.into_iter().collect();
        r.sort_by(|a, b| a.0.cmp(&b.0));
        let r: Vec<EmeterReading> = r.into_iter().map(|(_, e)| e).collect();
        if let Some(e) = energy::sum(&r) {
            out.push(Summary::Emeter(e));
        }
        (Value::Array(mapped), out)
    }
}

/// Descriptions by device IP, shared across flows.
#[derive(Debug, Default)]
pub struct CoiotDescriptions {
    map: HashMap<IpAddr, Arc<Description>>,
    order: VecDeque<IpAddr>,
    /// Descriptions forgotten at [`MAX_DESCRIPTIONS`].
    pub evicted: u64,
}

impl CoiotDescriptions {
    pub fn learn(&mut self, ip: IpAddr, d: Description) {
        if self.map.insert(ip, Arc::new(d)).is_none() {
            self.order.push_back(ip);
            if self.order.len() > MAX_DESCRIPTIONS
                && let Some(old) = self.order.pop_front()
            {
                self.map.remove(&old);
                self.evicted += 1;
            }
        }
    }

    pub fn get(&self, ip: IpAddr) -> Option<Arc<Description>> {
        self.map.get(&ip).cloned()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// `"SHPLG-S#A4CF12F45A1C#2"` → (`SHPLG-S`, `A4CF12F45A1C`).
pub fn split_device_id(s: &str) -> (Option<String>, Option<String>) {
    let mut it = s
        .split('#')
        .map(|x| x.chars().take(MAX_FIELD).collect::<String>());
    (
        it.next().filter(|x| !x.is_empty()),
        it.next().filter(|x| !x.is_empty()),
    )
}

/// The [`crate::decoders::DatagramFn`] of UDP 5683: `cx.server` is the
/// device (the probe makes it so).
pub fn decode_datagram(cx: &mut Ctx<'_>, dir: Direction, payload: &[u8], out: &mut Vec<Finding>) {
    let m = match CoapMessage::parse(payload) {
        Ok(m) => m,
        Err(e) => {
            out.push(undecodable(
                dir,
                format!("not CoAP: {e:?}"),
                "Shelly CoIoT: not CoAP",
            ));
            return;
        }
    };
    let devid = m.option(option::COIOT_DEVID).map(|o| {
        String::from_utf8_lossy(o.value)
            .chars()
            .take(MAX_FIELD)
            .collect::<String>()
    });
    let meta = |mapped| MessageMeta::Coiot {
        code: m.code_str(),
        device_id: devid.clone(),
        validity: m.option(option::COIOT_VALIDITY).and_then(|o| o.uint()),
        serial: m.option(option::COIOT_SERIAL).and_then(|o| o.uint()),
        mapped,
    };
    if m.is_request() && m.code != CODE_PUBLISH {
        let path = m.uri_path().chars().take(64).collect::<String>();
        out.push(Finding::Message(Box::new(AppMessage {
            protocol: PROTOCOL,
            transport: "coap",
            dir,
            kind: MessageKind::Request,
            methods: vec![path.trim_start_matches('/').to_owned()],
            summary: Vec::new(),
            json: Value::Null,
            meta: Some(meta(None)),
            paired: true,
            via: "coiot",
        })));
        return;
    }
    let json: Value = match serde_json::from_slice(m.payload) {
        Ok(v) => v,
        Err(_) => {
            out.push(undecodable(
                dir,
                format!(
                    "CoAP {} with {} payload bytes that are not JSON",
                    m.code_str(),
                    m.payload.len()
                ),
                "Shelly CoIoT: payload not JSON",
            ));
            return;
        }
    };
    let device = cx.server.ip();
    let (model, id) = devid
        .as_deref()
        .map(split_device_id)
        .unwrap_or((None, None));
    let mut summary = Vec::new();
    let mut mapped = None;
    let method;
    if let Some(d) = Description::parse(&json) {
        method = "cit/d";
        cx.shared.coiot.learn(device, d);
    } else if let Some(g) = json.get("G").and_then(Value::as_array) {
        method = if m.code == CODE_PUBLISH {
            "coiot/status"
        } else {
            "cit/s"
        };
        if let Some(d) = cx.shared.coiot.get(device) {
            let (mp, s) = d.map(g);
            mapped = Some(mp);
            summary = s;
        }
    } else {
        method = "coiot";
    }
    if model.is_some() || id.is_some() {
        match summary.iter_mut().find_map(|s| match s {
            Summary::SysInfo(si) => Some(si),
            _ => None,
        }) {
            Some(si) => {
                si.model = model;
                si.device_id = id;
            }
            None => summary.insert(
                0,
                Summary::SysInfo(Box::new(SysInfo {
                    vendor: Some(VENDOR.into()),
                    model,
                    device_id: id,
                    ..SysInfo::default()
                })),
            ),
        }
    }
    let publish = m.code == CODE_PUBLISH;
    out.push(Finding::Message(Box::new(AppMessage {
        protocol: PROTOCOL,
        transport: "coap",
        dir,
        kind: if publish {
            MessageKind::Notify
        } else {
            MessageKind::Response
        },
        methods: vec![method.to_owned()],
        summary,
        json,
        meta: Some(meta(mapped)),
        paired: !publish,
        via: "coiot",
    })));
}

fn undecodable(dir: Direction, reason: String, label: &'static str) -> Finding {
    Finding::Undecodable {
        protocol: PROTOCOL,
        dir,
        reason,
        label: Some(label),
        http: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::coap::{encode, mtype};
    use crate::decoders::{DecoderConfig, FlowMeta, Shared};
    use crate::wire::Ts;

    /// A Plug S description in CoIoT v2 form (Gen1 docs, CoIoT section;
    /// sensor ids 1101 output, 4101 power, 4103 energy).
    pub const PLUG_S_CIT_D: &str = r#"{"blk":[{"I":1,"D":"relay_0"},{"I":2,"D":"device"}],"sen":[{"I":9103,"T":"EVC","D":"cfgChanged","R":"U16","L":2},{"I":1101,"T":"S","D":"output","R":"0/1","L":1},{"I":4101,"T":"P","D":"power","U":"W","R":["0/2500","-1"],"L":1},{"I":4103,"T":"E","D":"energy","U":"Wmin","R":["U32","-1"],"L":1},{"I":6102,"T":"A","D":"overpower","R":["0/1","-1"],"L":1},{"I":3104,"T":"T","D":"deviceTemp","U":"C","R":["-40/300","999"],"L":2}]}"#;

    fn run(shared: &mut Shared, dg: &[u8]) -> Vec<Finding> {
        let mut cx = Ctx {
            ts: Ts::default(),
            client: "224.0.1.187:5683".parse().unwrap(),
            server: "192.168.1.30:5683".parse().unwrap(),
            shared,
            flow: FlowMeta::default(),
        };
        let mut out = Vec::new();
        decode_datagram(&mut cx, Direction::ToClient, dg, &mut out);
        out
    }

    fn publish(g: &str) -> Vec<u8> {
        encode(
            mtype::NON,
            CODE_PUBLISH,
            7,
            &[],
            &[
                (option::COIOT_DEVID, b"SHPLG-S#A4CF12F45A1C#2"),
                (option::COIOT_VALIDITY, &[0x0f, 0xa0]),
                (option::COIOT_SERIAL, &[9]),
            ],
            g.as_bytes(),
        )
    }

    #[test]
    fn status_raw_then_mapped_through_the_description() {
        let mut sh = Shared::new(DecoderConfig::default());
        let g = r#"{"G":[[0,9103,0],[0,1101,1],[0,4101,41.5],[0,4103,6000],[0,3104,35.2]]}"#;
        let out = run(&mut sh, &publish(g));
        let Finding::Message(m) = &out[0] else {
            panic!("{out:?}")
        };
        assert_eq!(
            (m.kind, m.methods[0].as_str(), m.transport),
            (MessageKind::Notify, "coiot/status", "coap")
        );
        assert_eq!(m.json, serde_json::from_str::<Value>(g).unwrap());
        // Without a description: identity only, no readings.
        assert!(
            matches!(&m.summary[..], [Summary::SysInfo(si)] if si.model.as_deref() == Some("SHPLG-S") && si.relay_state.is_none())
        );
        let Some(MessageMeta::Coiot {
            validity,
            serial,
            mapped,
            ..
        }) = &m.meta
        else {
            panic!()
        };
        assert_eq!(
            (*validity, *serial, mapped.is_none()),
            (Some(4000), Some(9), true)
        );
        // The description arrives (a 2.05 answer to GET /cit/d).
        let d = encode(
            mtype::ACK,
            CODE_CONTENT,
            10,
            &[],
            &[(option::COIOT_DEVID, b"SHPLG-S#A4CF12F45A1C#2")],
            PLUG_S_CIT_D.as_bytes(),
        );
        let out = run(&mut sh, &d);
        let Finding::Message(m) = &out[0] else {
            panic!()
        };
        assert_eq!(
            (m.kind, m.methods[0].as_str()),
            (MessageKind::Response, "cit/d")
        );
        assert_eq!(sh.coiot.len(), 1);
        let out = run(&mut sh, &publish(g));
        let Finding::Message(m) = &out[0] else {
            panic!()
        };
        let Summary::SysInfo(si) = &m.summary[0] else {
            panic!()
        };
        assert_eq!(si.relay_state, Some(RelayState::On));
        assert_eq!(si.device_id.as_deref(), Some("A4CF12F45A1C"));
        let Summary::Emeter(e) = &m.summary[1] else {
            panic!()
        };
        assert_eq!((e.power_w, e.total_kwh), (Some(41.5), Some(0.1)));
        let Some(MessageMeta::Coiot {
            mapped: Some(mp), ..
        }) = &m.meta
        else {
            panic!()
        };
        assert_eq!(
            mp[1],
            json!({"block":"relay_0","sensor":"output","type":"S","unit":null,"value":1})
        );
        assert_eq!(mp[4]["unit"], "C");
    }

    #[test]
    fn requests_garbage_and_eviction() {
        let mut sh = Shared::new(DecoderConfig::default());
        let out = run(&mut sh, b"\x50\x01\x00\x0a\xb3cit\x01d\xff\x00");
        let Finding::Message(m) = &out[0] else {
            panic!()
        };
        assert_eq!(
            (m.kind, m.methods[0].as_str()),
            (MessageKind::Request, "cit/d")
        );
        for bad in [
            &b""[..],
            b"\x40",
            b"\xff\xff\xff\xff",
            b"\x50\x1e\x00\x01\xff{not json",
        ] {
            let out = run(&mut sh, bad);
            assert!(
                matches!(out[..], [Finding::Undecodable { label: Some(_), .. }]),
                "{bad:?}"
            );
        }
        let d = Description::parse(&serde_json::from_str(PLUG_S_CIT_D).unwrap()).unwrap();
        let mut ds = CoiotDescriptions::default();
        for i in 0..(MAX_DESCRIPTIONS as u32 + 5) {
            ds.learn(IpAddr::from(i.to_be_bytes()), d.clone());
        }
        assert_eq!((ds.len(), ds.evicted), (MAX_DESCRIPTIONS, 5));
        // Hostile G entries are skipped.
        let (mp, s) = d.map(
            &serde_json::from_str::<Vec<Value>>(
                r#"[1,[0],[0,"x",1],[0,4101],[0,4101,"str"],[0,99999,1]]"#,
            )
            .unwrap(),
        );
        assert_eq!(mp.as_array().map(Vec::len), Some(1));
        assert!(s.is_empty() || matches!(&s[..], [Summary::Emeter(e)] if e.power_w.is_none()));
    }
}
