//! Ports that devices announced for their local APIs — mDNS SRV records
//! (`decoders::mdns`) and SSDP `LOCATION` URLs (`decoders::ssdp`) — so that a
//! TCP or UDP flow to such a port is claimed by the right decoder even when
//! it is not the protocol's default port (HomeKit's HAP port is chosen by
//! each accessory; an eWeLink device may move off 8081).
//!
//! Bounded by [`MAX_SERVICE_PORTS`]: past it, the oldest learned entry is
//! forgotten, counted in [`ServicePorts::evicted`]. Not authenticated:
//! anyone on the network can announce anything, so a learned port only
//! chooses which decoder looks at a flow, never what it concludes.

use std::collections::VecDeque;
use std::net::IpAddr;

use crate::FastMap;

/// (address, port) pairs remembered. A home has tens of devices with a few
/// services each.
pub const MAX_SERVICE_PORTS: usize = 4096;

/// What a device said runs on a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceKind {
    /// `_hap._tcp`: HomeKit Accessory Protocol.
    HomeKit,
    /// `_ewelink._tcp`: eWeLink LAN mode (HTTP).
    Ewelink,
    /// `_matter._tcp` / `_matterc._udp`: Matter (UDP and TCP).
    Matter,
    /// `_shelly._tcp`, or `_http._tcp` of a Shelly: its HTTP API.
    Shelly,
    /// SSDP `LOCATION` of a Belkin Wemo: its UPnP/SOAP port.
    Wemo,
    /// SSDP `LOCATION` of another UPnP device.
    Upnp,
}

/// The learned (address, port) → service table.
#[derive(Debug, Default)]
pub struct ServicePorts {
    map: FastMap<(IpAddr, u16), (ServiceKind, u64)>,
    order: VecDeque<((IpAddr, u16), u64)>,
    clock: u64,
    /// Entries forgotten because the table was full.
    pub evicted: u64,
}

impl ServicePorts {
    /// Remembers that `kind` runs on `ip:port` (the latest word wins).
    pub fn learn(&mut self, ip: IpAddr, port: u16, kind: ServiceKind) {
        let key = (ip, port);
        if self.map.get(&key).is_some_and(|(k, _)| *k == kind) {
            return;
        }
        if !self.map.contains_key(&key) && self.map.len() >= MAX_SERVICE_PORTS {
            while let Some((k, stamp)) = self.order.pop_front() {
                if self.map.get(&k).is_some_and(|(_, s)| *s == stamp) {
                    self.map.remove(&k);
                    self.evicted += 1;
                    break;
                }
            }
        }
        self.clock += 1;
        self.map.insert(key, (kind, self.clock));
        self.order.push_back((key, self.clock));
        // Stale queue entries (re-learned keys) are dropped once the queue
        // is twice the cap, so it stays O(cap).
        if self.order.len() > 2 * MAX_SERVICE_PORTS {
            let map = &self.map;
            self.order
                .retain(|(k, s)| map.get(k).is_some_and(|(_, live)| live == s));
        }
    }

    /// What was announced on `ip:port`.
    pub fn kind(&self, ip: IpAddr, port: u16) -> Option<ServiceKind> {
        self.map.get(&(ip, port)).map(|(k, _)| *k)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_evicts_the_oldest() {
        let mut t = ServicePorts::default();
        let ip = |i: u32| IpAddr::from((0x0a00_0000 + i).to_be_bytes());
        for i in 0..(MAX_SERVICE_PORTS as u32 + 10) {
            t.learn(ip(i), 8081, ServiceKind::Ewelink);
            // Re-learning churns the queue but not the map.
            t.learn(ip(i), 8081, ServiceKind::HomeKit);
        }
        assert_eq!(t.len(), MAX_SERVICE_PORTS);
        assert_eq!(t.evicted, 10);
        assert_eq!(t.kind(ip(0), 8081), None);
        assert_eq!(
            t.kind(ip(MAX_SERVICE_PORTS as u32 + 9), 8081),
            Some(ServiceKind::HomeKit)
        );
        assert!(t.order.len() <= 2 * MAX_SERVICE_PORTS + 1);
    }
}
