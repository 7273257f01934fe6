//! What decoders found → events, counters and inventory facts.
//!
//! The only place where a [`Finding`] becomes an [`Event`]: addresses come
//! from the flow or datagram (`Ends`), device MACs from the frames and the
//! name table, secrets are masked here unless `--show-secrets`, and the
//! device inventory learns what every message says.

use std::net::SocketAddr;
use std::time::Duration;

use super::Analyzer;
use crate::decoders::summary::{RelayState, Summary};
use crate::decoders::{AppMessage, Direction, Finding, FlowMeta, MessageKind};
use crate::flows::ip::is_local;
use crate::report::counters::Count;
use crate::report::event::{
    CloudEvent, CloudState, DiscoveryEvent, Event, EventBody, KlapOutcome, KlapSessionEvent,
    LeakEvent, MASK, MessageEvent, UndecodableEvent, mask_secrets,
};
use crate::report::inventory::{Device, Role};
use crate::wire::{MacAddr, Ts};

/// The two ends of the conversation a finding belongs to.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ends {
    pub client: SocketAddr,
    pub server: SocketAddr,
    /// MAC of the server end (the device, for the plug protocols), when it
    /// is a local host.
    pub device: Option<MacAddr>,
    /// MAC of the client end (the controller), when local.
    pub controller: Option<MacAddr>,
    /// For a datagram, the way it actually went. A discovery decoder's
    /// `dir` says query or reply, and a device's multicast announcement is
    /// a reply sent toward the "server" end (both ports are 5353 or 1900).
    pub sent: Option<Direction>,
}

impl Ends {
    /// (src, dst) of something sent in direction `dir`.
    fn oriented(&self, dir: Direction) -> (SocketAddr, SocketAddr) {
        match dir {
            Direction::ToServer => (self.client, self.server),
            Direction::ToClient => (self.server, self.client),
        }
    }
}

impl Analyzer {
    /// Turns findings into events. `latency[i]` is the response latency of
    /// finding `i` when it is a paired response; `flow` the TCP flow's
    /// counters (default for datagrams).
    pub(super) fn apply(
        &mut self,
        ts: Ts,
        mut ends: Ends,
        flow: FlowMeta,
        found: Vec<Finding>,
        latency: &[Option<Duration>],
    ) {
        // Frames without MACs (raw-IP, loopback, routed captures): the ends
        // are named by what the name table learned (ARP, DHCP, a device's own
        // sysinfo), so a device is one device whether or not its frames
        // carried its MAC.
        if ends.device.is_none() {
            ends.device = self.mac_of(ends.server.ip(), None);
        }
        if ends.controller.is_none() {
            ends.controller = self.mac_of(ends.client.ip(), None);
        }
        for (i, f) in found.into_iter().enumerate() {
            match f {
                Finding::Message(m) => {
                    let lat = latency.get(i).copied().flatten();
                    self.message(ts, ends, *m, lat);
                }
                Finding::Undecodable {
                    protocol,
                    dir,
                    reason,
                    label,
                    http,
                } => {
                    match (protocol, http) {
                        (_, true) => self.stats.inc(Count::HttpErrors),
                        (crate::decoders::klap::PROTOCOL, _) => {
                            self.stats.inc(Count::KlapUndecrypted)
                        }
                        (crate::decoders::tplink::XOR_PROTOCOL, _) => {
                            self.stats.inc(Count::TplinkUndecodable)
                        }
                        _ => {}
                    }
                    *self.stats.undecodable.entry(protocol).or_default() += 1;
                    let (src, dst) = ends.oriented(dir);
                    self.events.push(Event {
                        ts,
                        anchor: None,
                        body: EventBody::Undecodable(UndecodableEvent {
                            protocol,
                            src,
                            dst,
                            reason,
                            label,
                        }),
                    });
                }
                Finding::Desync { protocol } => match protocol {
                    "http" => self.stats.inc(Count::HttpErrors),
                    crate::decoders::tplink::XOR_PROTOCOL => self.stats.inc(Count::TplinkDesyncs),
                    _ => *self.stats.desyncs.entry(protocol).or_default() += 1,
                },
                Finding::DeviceNote { protocol, note } => {
                    if let Some(d) = ends
                        .device
                        .and_then(|m| self.touch_device(m, Role::Plug, ts))
                    {
                        d.protocols.insert(protocol);
                        d.ip = Some(ends.server.ip());
                        if let Some(n) = note {
                            d.notes.insert(n);
                        }
                    }
                }
                Finding::KlapSession(k) => {
                    self.stats.inc(Count::KlapHandshakes);
                    if k.matched.is_some() {
                        self.stats.inc(Count::KlapHandshakesMatched);
                    }
                    let (version, credentials) = match k.matched {
                        Some((v, a)) => (Some(v), Some(a)),
                        None => (None, None),
                    };
                    self.events.push(Event {
                        ts,
                        anchor: None,
                        body: EventBody::KlapSession(KlapSessionEvent {
                            src: ends.client,
                            dst: ends.server,
                            device: ends.device,
                            outcome: if version.is_some() {
                                KlapOutcome::Decrypting
                            } else {
                                KlapOutcome::CredentialsNeeded
                            },
                            version,
                            credentials,
                            tried: k.tried,
                        }),
                    });
                }
                Finding::Discovery(d) => {
                    self.stats.inc(Count::Discovery);
                    let sent = ends.sent.unwrap_or(d.dir);
                    let (src, dst) = ends.oriented(sent);
                    let reply = d.dir == Direction::ToClient;
                    let sender = match sent {
                        Direction::ToServer => ends.controller,
                        Direction::ToClient => ends.device,
                    };
                    let device = if reply {
                        d.announce.as_ref().and_then(|a| a.mac).or(sender)
                    } else {
                        None
                    };
                    if let (Some(mac), Some(a)) = (device, &d.announce)
                        && let Some(dev) = self.touch_device(mac, Role::Plug, ts)
                    {
                        dev.protocols.extend(a.protocols.iter().copied());
                        dev.ip = Some(a.ip);
                        if let Some(v) = &a.vendor {
                            dev.set_vendor(v);
                        }
                        if a.model.is_some() {
                            dev.model.clone_from(&a.model);
                        }
                        if a.name.is_some() {
                            dev.alias.clone_from(&a.name);
                        }
                        if a.firmware.is_some() {
                            dev.firmware.clone_from(&a.firmware);
                        }
                        dev.notes.extend(a.notes.iter().cloned());
                    }
                    let mut json = d.json;
                    if let (Some(j), false) = (json.as_mut(), self.shared.config.show_secrets) {
                        mask_secrets(j);
                    }
                    self.events.push(Event {
                        ts,
                        anchor: None,
                        body: EventBody::Discovery(DiscoveryEvent {
                            protocol: d.protocol,
                            src,
                            dst,
                            reply,
                            device,
                            summary: d.summary,
                            crc_ok: d.crc_ok,
                            json,
                        }),
                    });
                }
                Finding::CloudLink(c) => {
                    // The plug is the local end; usually the client (it dials out).
                    let (device, device_is_client) = if is_local(ends.client.ip()) {
                        (ends.controller, true)
                    } else {
                        (ends.device, false)
                    };
                    let at = Ts::from_duration(flow.last_seen);
                    if let Some(mac) = device
                        && let Some(d) = self.touch_device(mac, Role::Plug, at)
                    {
                        d.protocols.insert("tls");
                        if let Some(sni) = &c.sni {
                            d.notes
                                .insert(format!("cloud link to {sni} (TLS: metadata only)"));
                        }
                    }
                    // Stamped when decided (the frame that ended or expired
                    // the flow), not at the flow's last packet, so events
                    // stay in capture order.
                    self.events.push(Event {
                        ts,
                        anchor: None,
                        body: EventBody::CloudLink(CloudEvent {
                            state: if c.closed {
                                CloudState::Closed
                            } else {
                                CloudState::Opened
                            },
                            device,
                            src: ends.client,
                            dst: ends.server,
                            initiated_by_device: flow.client_opened == device_is_client,
                            initiator_seen: flow.initiator_seen,
                            sni: c.sni,
                            dns_name: self.names.dns_name(ends.server.ip()).map(str::to_owned),
                            tls_version: c.tls_version,
                            server_cert_cn: c.server_cert_cn,
                            bytes_up: flow.bytes[0],
                            bytes_down: flow.bytes[1],
                            packets: flow.packets,
                            duration: flow.last_seen.saturating_sub(flow.first_seen),
                            mean_interval_s: c.mean_interval_s,
                        }),
                    });
                }
            }
        }
    }

    /// A decoded message: inventory facts, the message event, and a
    /// credential-leak event for every secret it carried.
    fn message(&mut self, ts: Ts, mut ends: Ends, mut m: AppMessage, latency: Option<Duration>) {
        match m.protocol {
            crate::decoders::tplink::XOR_PROTOCOL => self.stats.inc(Count::TplinkMessages),
            crate::decoders::klap::PROTOCOL => {
                // KLAP messages are TP-Link messages too.
                self.stats.inc(Count::KlapMessages);
                self.stats.inc(Count::TplinkMessages);
            }
            _ => {}
        }
        *self.stats.messages.entry(m.protocol).or_default() += 1;
        let (src, dst) = ends.oriented(m.dir);
        let from_device = m.dir == Direction::ToClient;
        // A device that names its own MAC (sysinfo) over a link without MACs:
        // its address is learned, and this and later messages are its own.
        if ends.device.is_none()
            && from_device
            && is_local(ends.server.ip())
            && let Some(mac) = m.summary.iter().find_map(|s| match s {
                Summary::SysInfo(si) => si.mac.as_deref().and_then(crate::wire::MacAddr::parse_any),
                _ => None,
            })
        {
            self.names.learn_ip_mac(ends.server.ip(), mac);
            ends.device = Some(mac);
        }
        let ctl_ip = ends.client.ip();
        if let Some(c) = ends.controller {
            if let Some(d) = self.touch_device(c, Role::Controller, ts) {
                d.messages += 1;
                d.protocols.insert(m.via);
                if is_local(ctl_ip) && !ctl_ip.is_unspecified() {
                    d.ip = Some(ctl_ip);
                }
            }
        } else if is_local(ctl_ip)
            && let Some(d) = self.inventory.touch_ip(ctl_ip, Role::Controller, ts)
        {
            // No MAC on the link and none learned (a raw-IP or routed
            // capture): the controller is listed by its address.
            d.messages += 1;
            d.protocols.insert(m.via);
        }
        // A response identifies its sender as a plug; a request to a unicast
        // address identifies its receiver as one.
        if let Some(mac) = ends.device
            && let Some(d) = self.touch_device(mac, Role::Plug, ts)
        {
            d.messages += 1;
            d.protocols.insert(m.via);
            d.ip = Some(ends.server.ip());
            apply_to_device(d, &m.summary, from_device);
        }
        let show = self.shared.config.show_secrets;
        let mut leaks = Vec::new();
        for s in &mut m.summary {
            if let Summary::CredentialLeak {
                source,
                username,
                password,
            } = s
            {
                if !show {
                    *password = MASK.to_string();
                }
                leaks.push(LeakEvent {
                    source: *source,
                    src,
                    dst,
                    device: ends.device,
                    username: username.clone(),
                    password: password.clone(),
                    masked: !show,
                });
            }
        }
        if !show {
            mask_secrets(&mut m.json);
        }
        let alias = ends
            .device
            .and_then(|d| self.inventory.alias(&d))
            .map(str::to_owned);
        self.events.push(Event {
            ts,
            anchor: None,
            body: EventBody::Message(MessageEvent {
                protocol: m.protocol,
                transport: m.transport,
                src,
                dst,
                kind: m.kind,
                device: ends.device,
                alias,
                methods: m.methods,
                summary: m.summary,
                latency,
                json: m.json,
                meta: m.meta,
            }),
        });
        for l in leaks {
            self.stats.inc(Count::CredentialLeaks);
            self.events.push(Event {
                ts,
                anchor: None,
                body: EventBody::CredentialLeak(l),
            });
        }
    }
}

impl Analyzer {
    /// The inventory's device for `mac` ([`crate::report::inventory::Inventory::touch`]),
    /// with the host name DHCP taught the name table.
    fn touch_device(&mut self, mac: MacAddr, role: Role, ts: Ts) -> Option<&mut Device> {
        let host = self.names.hostname(mac);
        let d = self.inventory.touch(mac, role, ts)?;
        if let Some(h) = host
            && d.hostname.as_deref() != Some(h)
        {
            d.hostname = Some(h.to_owned());
        }
        Some(d)
    }
}

/// What a message says about its device: identity and state from what the
/// device sends, relay commands from what it is sent.
fn apply_to_device(d: &mut Device, summary: &[Summary], from_device: bool) {
    for s in summary {
        match s {
            Summary::SysInfo(si) if from_device => {
                if let Some(v) = &si.vendor {
                    d.set_vendor(v);
                }
                if si.model.is_some() {
                    d.model.clone_from(&si.model);
                }
                if si.alias.is_some() {
                    d.alias.clone_from(&si.alias);
                }
                if si.sw_ver.is_some() {
                    d.firmware.clone_from(&si.sw_ver);
                }
                if si.hw_ver.is_some() {
                    d.hardware.clone_from(&si.hw_ver);
                }
                if let Some(r) = si.relay_state {
                    d.relay_on = Some(r == RelayState::On);
                }
            }
            Summary::SetRelayState(r) if !from_device => d.relay_on = Some(*r == RelayState::On),
            Summary::Emeter(e) if from_device => {
                if e.power_w.is_some() {
                    d.power_w = e.power_w;
                }
                if e.voltage_v.is_some() {
                    d.voltage_v = e.voltage_v;
                }
                if e.total_kwh.is_some() {
                    d.total_kwh = e.total_kwh;
                }
            }
            _ => {}
        }
    }
}

/// `MessageKind` of a request or response by direction (for decoders that
/// do not say otherwise).
pub fn kind_of(dir: Direction) -> MessageKind {
    match dir {
        Direction::ToServer => MessageKind::Request,
        Direction::ToClient => MessageKind::Response,
    }
}
