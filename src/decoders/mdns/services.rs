//! DNS-SD service instances (RFC 6763 §4) of an mDNS response, grouped by
//! host, turned into [`Announce`]s: what each smart-home service type says
//! about its device.
//!
//! | Service | Source of the field meanings | Announce |
//! |---|---|---|
//! | `_ewelink._tcp` | SonoffLAN `local.py`, ITEAD DIY-mode doc | vendor Sonoff/eWeLink, `id`, `type`; state via [`crate::decoders::ewelink::txt`] |
//! | `_shelly._tcp` | Shelly Gen2+ API docs "mDNS": TXT `gen`, `app`, `ver` | vendor Shelly, model `app`, firmware `ver`, id = instance |
//! | `_http._tcp` named `shelly…` | Shelly Gen1 API docs: instance `<model>-<MAC>`, TXT `id`, `fw_id`, `arch` | vendor Shelly, model from the name |
//! | `_hap._tcp`, `_hap._udp` | HAP spec R2 §6.4 (Bonjour TXT): `md`, `id`, `ci`, `sf`, `c#`, `pv`; categories as HAP-NodeJS `Categories` | name = instance, model `md`, id `id`, HomeKit notes |
//! | `_matter._tcp` | Matter Core spec 1.3 §4.3.2: instance `<compressed fabric id>-<node id>` | Matter operational notes |
//! | `_matterc._udp`, `_matterd._udp` | Matter Core spec §4.3.1: `VP` (`vendor+product`), `DN`, `DT`, `CM`, `D` | name `DN`, vendor/model from `VP`/`DT` |
//! | `_googlecast._tcp` | TXT `fn` (friendly name), `md` (model), `id` | generic name and model |
//! | `_airplay._tcp`, `_raop._tcp` | TXT `model`, `deviceid` | generic name and model |
//! | anything else | — | the instance name, when nothing better names the host |
//!
//! TP-Link plugs do not announce themselves over mDNS (they use TDP), so no
//! `_tplink` service is recognised.
//!
//! Bounded: at most [`MAX_HOSTS`] hosts and [`MAX_INSTANCES`] instances per
//! message (every lookup is linear in those, so at most
//! `MAX_RECORDS × MAX_INSTANCES` comparisons).

use std::net::IpAddr;

use serde_json::{Map, Value, json};

use super::message::{Labels, MdnsMessage, RData, dotted};
use crate::decoders::services::ServiceKind;
use crate::decoders::{Announce, DecoderConfig, ewelink, guess};

/// Hosts reported from one message.
pub const MAX_HOSTS: usize = 8;
/// Service instances kept from one message.
pub const MAX_INSTANCES: usize = 32;
/// Addresses kept per host.
pub const MAX_ADDRESSES: usize = 4;

/// The inventory note for Matter devices.
pub const MATTER_NOTE: &str = "Matter: CASE-encrypted, metadata only";
/// The inventory note for HomeKit accessories.
pub const HOMEKIT_NOTE: &str = "HomeKit: HAP session encrypted, metadata only";

/// One service instance seen in the message.
#[derive(Debug, Clone, Default)]
struct Instance {
    /// The full name, lower case, for matching.
    key: String,
    /// The instance label (user-visible, UTF-8).
    label: String,
    /// `_hap._tcp`, lower case.
    service: String,
    port: Option<u16>,
    target: Option<Labels>,
    txt: Vec<(String, Option<String>)>,
    goodbye: bool,
}

impl Instance {
    fn txt(&self, k: &str) -> Option<&str> {
        self.txt
            .iter()
            .find(|(a, _)| a.eq_ignore_ascii_case(k))
            .and_then(|(_, v)| v.as_deref())
    }
}

/// `(instance label, "_svc._proto")` when `name` is an instance name.
fn split_instance(name: &[String]) -> Option<(&str, String)> {
    let [inst, svc, proto, _, ..] = name else {
        return None;
    };
    let proto_ok = proto.eq_ignore_ascii_case("_tcp") || proto.eq_ignore_ascii_case("_udp");
    if !svc.starts_with('_') || !proto_ok || inst.eq_ignore_ascii_case("_sub") {
        return None;
    }
    Some((inst.as_str(), format!("{svc}.{proto}").to_ascii_lowercase()))
}

/// One host's findings.
#[derive(Debug, Clone, PartialEq)]
pub struct HostReport {
    pub announce: Announce,
    pub summary: Vec<String>,
    pub json: Value,
    /// eWeLink TXT states of this host's `_ewelink._tcp` instances.
    pub ewelink: Vec<ewelink::txt::TxtState>,
}

/// What a response teaches.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    pub hosts: Vec<HostReport>,
    /// (address, port, kind) announced by SRV records.
    pub ports: Vec<(IpAddr, u16, ServiceKind)>,
}

/// HAP accessory categories (HAP-NodeJS `Categories`, HAP spec R2 Table
/// 12-3).
pub fn hap_category(ci: u32) -> Option<&'static str> {
    Some(match ci {
        1 => "Other",
        2 => "Bridge",
        3 => "Fan",
        4 => "Garage door opener",
        5 => "Lightbulb",
        6 => "Door lock",
        7 => "Outlet",
        8 => "Switch",
        9 => "Thermostat",
        10 => "Sensor",
        11 => "Security system",
        12 => "Door",
        13 => "Window",
        14 => "Window covering",
        15 => "Programmable switch",
        16 => "Range extender",
        17 => "IP camera",
        18 => "Video doorbell",
        19 => "Air purifier",
        20 => "Heater",
        21 => "Air conditioner",
        22 => "Humidifier",
        23 => "Dehumidifier",
        26 => "Speaker",
        28 => "Sprinkler",
        29 => "Faucet",
        30 => "Shower system",
        31 => "Television",
        32 => "Remote control",
        _ => return None,
    })
}

/// Matter device types (Matter Device Library specification: device type
/// ids), the ones a plug inventory meets.
pub fn matter_device_type(dt: u32) -> Option<&'static str> {
    Some(match dt {
        0x000a => "Door Lock",
        0x000e => "Aggregator (bridge)",
        0x000f => "Generic Switch",
        0x0015 => "Contact Sensor",
        0x0100 => "On/Off Light",
        0x0101 => "Dimmable Light",
        0x0103 => "On/Off Light Switch",
        0x0104 => "Dimmer Switch",
        0x010a => "On/Off Plug-in Unit",
        0x010b => "Dimmable Plug-in Unit",
        0x010c => "Color Temperature Light",
        0x010d => "Extended Color Light",
        0x0301 => "Thermostat",
        0x0302 => "Temperature Sensor",
        0x0307 => "Humidity Sensor",
        _ => return None,
    })
}

/// Matter vendor ids with a name in connectedhomeip
/// `src/lib/core/CHIPVendorIdentifiers.hpp`; others are shown as numbers.
pub fn matter_vendor(vid: u32) -> Option<&'static str> {
    Some(match vid {
        0x1349 => "Apple",
        0x6006 => "Google",
        0xfff1..=0xfff4 => "Matter test vendor",
        _ => return None,
    })
}

/// A decimal number from a TXT value.
fn dec(v: Option<&str>) -> Option<u32> {
    v?.trim().parse().ok()
}

fn push_unique(v: &mut Vec<String>, s: String) {
    if !v.contains(&s) {
        v.push(s);
    }
}

fn push_proto(v: &mut Vec<&'static str>, p: &'static str) {
    if !v.contains(&p) {
        v.push(p);
    }
}

/// Applies one instance to its host's announcement; returns a summary line.
fn apply(inst: &Instance, a: &mut Announce) -> (String, Option<ServiceKind>) {
    let set = |slot: &mut Option<String>, v: Option<&str>| {
        if slot.is_none() {
            *slot = v.filter(|s| !s.is_empty()).map(str::to_owned);
        }
    };
    let port = inst.port.map_or(String::new(), |p| format!(" port {p}"));
    let mut line = format!("{} \"{}\"{port}", inst.service, inst.label);
    let kind = match inst.service.as_str() {
        "_ewelink._tcp" => {
            a.vendor.get_or_insert_with(|| ewelink::VENDOR.to_owned());
            set(&mut a.device_id, inst.txt("id"));
            set(&mut a.model, inst.txt("type"));
            push_proto(&mut a.protocols, ewelink::PROTOCOL);
            if let Some(id) = inst.txt("id") {
                line.push_str(&format!(" id={id}"));
            }
            if let Some(t) = inst.txt("type") {
                line.push_str(&format!(" type={t}"));
            }
            if inst.txt("encrypt") == Some("true") {
                line.push_str(" encrypted");
            }
            Some(ServiceKind::Ewelink)
        }
        "_shelly._tcp" => {
            a.vendor.get_or_insert_with(|| "Shelly".to_owned());
            set(&mut a.model, inst.txt("app"));
            set(&mut a.firmware, inst.txt("ver"));
            set(&mut a.device_id, Some(&inst.label));
            push_proto(&mut a.protocols, "shelly");
            if let Some(g) = inst.txt("gen") {
                line.push_str(&format!(" gen {g}"));
            }
            Some(ServiceKind::Shelly)
        }
        "_http._tcp" if inst.label.to_ascii_lowercase().starts_with("shelly") => {
            let g = guess::from_hostname(&inst.label);
            a.vendor.get_or_insert_with(|| "Shelly".to_owned());
            set(&mut a.model, g.as_ref().and_then(|g| g.model.as_deref()));
            set(&mut a.device_id, inst.txt("id").or(Some(&inst.label)));
            set(&mut a.firmware, inst.txt("fw_id"));
            push_proto(&mut a.protocols, "shelly");
            Some(ServiceKind::Shelly)
        }
        "_hap._tcp" | "_hap._udp" => {
            set(&mut a.name, Some(&inst.label));
            set(&mut a.model, inst.txt("md"));
            set(&mut a.device_id, inst.txt("id"));
            push_proto(&mut a.protocols, "homekit");
            push_unique(&mut a.notes, HOMEKIT_NOTE.to_owned());
            if let Some(md) = inst.txt("md") {
                line.push_str(&format!(" model={md}"));
            }
            if let Some(c) = dec(inst.txt("ci")) {
                let name = hap_category(c).unwrap_or("unknown");
                line.push_str(&format!(" category={c} ({name})"));
                push_unique(&mut a.notes, format!("HomeKit: category {name}"));
            }
            match dec(inst.txt("sf")).map(|f| f & 1) {
                Some(1) => {
                    line.push_str(" not paired");
                    push_unique(&mut a.notes, "HomeKit: not paired".into());
                }
                Some(_) => line.push_str(" paired"),
                None => {}
            }
            (inst.service == "_hap._tcp").then_some(ServiceKind::HomeKit)
        }
        "_matter._tcp" => {
            push_proto(&mut a.protocols, "matter");
            push_unique(&mut a.notes, MATTER_NOTE.to_owned());
            if let Some((fabric, node)) = inst.label.split_once('-') {
                line.push_str(&format!(" operational: fabric {fabric} node {node}"));
                push_unique(
                    &mut a.notes,
                    format!("Matter: node {node} on fabric {fabric}"),
                );
            }
            Some(ServiceKind::Matter)
        }
        "_matterc._udp" | "_matterd._udp" => {
            push_proto(&mut a.protocols, "matter");
            push_unique(&mut a.notes, MATTER_NOTE.to_owned());
            set(&mut a.name, inst.txt("DN"));
            let (vid, pid) = match inst
                .txt("VP")
                .map(|vp| vp.split_once('+').unwrap_or((vp, "")))
            {
                Some((v, p)) => (dec(Some(v)), dec(Some(p))),
                None => (None, None),
            };
            if let Some(v) = vid {
                let vendor = matter_vendor(v).map_or_else(
                    || format!("Matter vendor 0x{v:04X}"),
                    |n| format!("{n} (Matter vendor 0x{v:04X})"),
                );
                a.vendor.get_or_insert(vendor);
                line.push_str(&format!(" vendor=0x{v:04X}"));
            }
            if let Some(p) = pid {
                line.push_str(&format!(" product=0x{p:04X}"));
            }
            let dt = dec(inst.txt("DT"));
            let model = match (dt.and_then(matter_device_type), pid) {
                (Some(t), Some(p)) => Some(format!("{t} (product 0x{p:04X})")),
                (Some(t), None) => Some(t.to_owned()),
                (None, Some(p)) => Some(format!("product 0x{p:04X}")),
                (None, None) => None,
            };
            set(&mut a.model, model.as_deref());
            let role = if inst.service == "_matterc._udp" {
                "commissionable"
            } else {
                "commissioner"
            };
            let cm = inst.txt("CM").unwrap_or("?");
            line.push_str(&format!(" {role} CM={cm}"));
            push_unique(&mut a.notes, format!("Matter: {role} (CM={cm})"));
            Some(ServiceKind::Matter)
        }
        "_googlecast._tcp" => {
            set(&mut a.name, inst.txt("fn"));
            set(&mut a.model, inst.txt("md"));
            push_proto(&mut a.protocols, "googlecast");
            None
        }
        "_airplay._tcp" | "_raop._tcp" => {
            // RAOP instances are "<MAC>@<name>".
            let name = inst.label.split_once('@').map_or(&*inst.label, |(_, n)| n);
            set(&mut a.name, Some(name));
            set(&mut a.model, inst.txt("model").or(inst.txt("am")));
            push_proto(&mut a.protocols, "airplay");
            None
        }
        _ => None,
    };
    if inst.goodbye {
        line.push_str(" (goodbye)");
    }
    (line, kind)
}

/// The service instances, host addresses and announcements of a response.
/// `sender` is the datagram's source, the device's address when the
/// message names none.
pub fn interpret(msg: &MdnsMessage, sender: IpAddr, cfg: &DecoderConfig) -> Report {
    let mut instances: Vec<Instance> = Vec::new();
    let mut addrs: Vec<(String, Labels, Vec<IpAddr>)> = Vec::new();
    let inst_of = |name: &[String], instances: &mut Vec<Instance>| -> Option<usize> {
        let (label, service) = split_instance(name)?;
        let key = dotted(name).to_ascii_lowercase();
        if let Some(i) = instances.iter().position(|x| x.key == key) {
            return Some(i);
        }
        if instances.len() >= MAX_INSTANCES {
            return None;
        }
        instances.push(Instance {
            key,
            label: label.to_owned(),
            service,
            ..Default::default()
        });
        Some(instances.len() - 1)
    };
    for r in &msg.records {
        match &r.data {
            RData::Ptr(target) => {
                // "_svc._proto.local PTR Inst._svc._proto.local"; the
                // DNS-SD meta-query and reverse lookups are not instances.
                if let Some(i) = inst_of(target, &mut instances) {
                    instances[i].goodbye |= r.ttl == 0;
                }
            }
            RData::Srv { port, target } => {
                if let Some(i) = inst_of(&r.name, &mut instances) {
                    instances[i].port = Some(*port);
                    instances[i].target = Some(target.clone());
                    instances[i].goodbye |= r.ttl == 0;
                }
            }
            RData::Txt(attrs) => {
                if let Some(i) = inst_of(&r.name, &mut instances) {
                    instances[i].txt.clone_from(attrs);
                }
            }
            RData::A(_) | RData::Aaaa(_) => {
                let ip = match r.data {
                    RData::A(a) => IpAddr::V4(a),
                    RData::Aaaa(a) => IpAddr::V6(a),
                    _ => continue,
                };
                let key = dotted(&r.name).to_ascii_lowercase();
                match addrs.iter().position(|(k, _, _)| *k == key) {
                    Some(j) => {
                        let v = &mut addrs[j].2;
                        if v.len() < MAX_ADDRESSES && !v.contains(&ip) {
                            v.push(ip);
                        }
                    }
                    None if addrs.len() < MAX_INSTANCES => {
                        addrs.push((key, r.name.clone(), vec![ip]));
                    }
                    None => {}
                }
            }
            RData::Other(_) => {}
        }
    }
    // Group instances by target host ("" = no SRV seen: the sender).
    let mut hosts: Vec<(String, Option<Labels>, Vec<usize>)> = Vec::new();
    for (i, inst) in instances.iter().enumerate() {
        let key = inst
            .target
            .as_deref()
            .map_or(String::new(), |t| dotted(t).to_ascii_lowercase());
        match hosts.iter().position(|(k, _, _)| *k == key) {
            Some(j) => hosts[j].2.push(i),
            None if hosts.len() < MAX_HOSTS => hosts.push((key, inst.target.clone(), vec![i])),
            None => {}
        }
    }
    // Hosts named only by an address record.
    for (key, name, _) in &addrs {
        if hosts.len() < MAX_HOSTS && !hosts.iter().any(|(k, _, _)| k == key) {
            hosts.push((key.clone(), Some(name.clone()), Vec::new()));
        }
    }
    let mut report = Report::default();
    for (key, host_name, members) in hosts {
        let ips: &[IpAddr] = addrs
            .iter()
            .find(|(k, _, _)| *k == key)
            .map_or(&[], |(_, _, v)| v);
        let ip = ips
            .iter()
            .find(|i| i.is_ipv4())
            .or(ips.first())
            .copied()
            .unwrap_or(sender);
        let mut a = Announce::new(ip);
        let mut summary = Vec::new();
        let mut services = Vec::new();
        let mut ew = Vec::new();
        for &i in &members {
            let inst = &instances[i];
            let (line, kind) = apply(inst, &mut a);
            summary.push(line);
            if let (Some(k), Some(port)) = (kind, inst.port)
                && !inst.goodbye
            {
                for &ip in ips.iter().chain(ips.is_empty().then_some(&sender)) {
                    report.ports.push((ip, port, k));
                }
            }
            if inst.service == "_ewelink._tcp" {
                let st = ewelink::txt::interpret(&inst.txt, cfg);
                if let Some(ewelink::Opened::Failed(l, _)) = &st.state {
                    push_unique(&mut a.notes, l.as_str().to_owned());
                }
                ew.push(st);
            }
            let txt: Map<String, Value> = inst
                .txt
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.clone().map_or(Value::Bool(true), Value::String),
                    )
                })
                .collect();
            services.push(json!({
                "instance": inst.label,
                "service": inst.service,
                "port": inst.port,
                "txt": txt,
                "goodbye": inst.goodbye,
            }));
        }
        let host_text = host_name.as_deref().map(dotted);
        if let Some(h) = &host_text {
            if let Some(g) = guess::from_hostname(h) {
                a.vendor.get_or_insert_with(|| g.vendor.to_owned());
                if a.model.is_none() {
                    a.model = g.model;
                }
                if a.device_id.is_none() {
                    a.device_id = g.device_id;
                }
            }
            if members.is_empty() {
                let list: Vec<String> = ips.iter().map(IpAddr::to_string).collect();
                summary.push(format!("host {h} = {}", list.join(", ")));
            }
        }
        // A generic instance name names the device when nothing else does.
        if a.name.is_none() {
            a.name = members
                .iter()
                .map(|&i| &instances[i])
                .find(|i| !i.label.starts_with('_') && !is_id_like(&i.label))
                .map(|i| i.label.clone());
        }
        report.hosts.push(HostReport {
            announce: a,
            summary,
            json: json!({
                "host": host_text,
                "addresses": ips.iter().map(IpAddr::to_string).collect::<Vec<_>>(),
                "services": services,
            }),
            ewelink: ew,
        });
    }
    report
}

/// Instance labels that are ids, not names: Matter's hex ids, eWeLink's
/// `eWeLink_<id>`, Shelly's `<model>-<MAC>`.
fn is_id_like(label: &str) -> bool {
    let hexish = label.len() >= 16 && label.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    hexish || guess::from_hostname(label).is_some()
}
