//! The device inventory: every smart-home device seen, by MAC address, with
//! what its traffic revealed (model, alias, firmware, relay, power, protocols).
//!
//! Bounded by [`MAX_DEVICES`]; devices past the cap are counted, not stored.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use crate::wire::MacAddr;
use crate::wire::Ts;

pub const MAX_DEVICES: usize = 4_096;

/// What a device is, as far as its traffic shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Answers TP-Link requests, announces itself, or dials the vendor cloud.
    Plug,
    /// Sends TP-Link requests (a phone app, a hub, Home Assistant…).
    Controller,
}

#[derive(Debug, Clone)]
pub struct Device {
    pub mac: MacAddr,
    pub role: Role,
    pub ip: Option<IpAddr>,
    pub vendor: Option<&'static str>,
    pub hostname: Option<String>,
    pub model: Option<String>,
    pub alias: Option<String>,
    pub firmware: Option<String>,
    pub hardware: Option<String>,
    /// `true` = on.
    pub relay_on: Option<bool>,
    pub power_w: Option<f64>,
    pub voltage_v: Option<f64>,
    pub total_kwh: Option<f64>,
    /// Protocols seen: `xor-tcp`, `xor-udp`, `tdp`, `tls`, `klap`…
    pub protocols: BTreeSet<&'static str>,
    /// Decryption or decoding limits found for this device (e.g. "KLAP: credentials needed").
    pub notes: BTreeSet<String>,
    pub messages: u64,
    pub first_seen: Ts,
    pub last_seen: Ts,
}

#[derive(Default)]
pub struct Inventory {
    devices: BTreeMap<MacAddr, Device>,
    pub refused: u64,
}

impl Inventory {
    /// The device for `mac`, created on first sight (None past the cap).
    pub fn touch(&mut self, mac: MacAddr, role: Role, ts: Ts) -> Option<&mut Device> {
        if mac.is_group() || mac == MacAddr::default() {
            return None;
        }
        if !self.devices.contains_key(&mac) && self.devices.len() >= MAX_DEVICES {
            self.refused += 1;
            return None;
        }
        let d = self.devices.entry(mac).or_insert_with(|| Device {
            mac,
            role,
            ip: None,
            vendor: crate::flows::oui::vendor(mac),
            hostname: None,
            model: None,
            alias: None,
            firmware: None,
            hardware: None,
            relay_on: None,
            power_w: None,
            voltage_v: None,
            total_kwh: None,
            protocols: BTreeSet::new(),
            notes: BTreeSet::new(),
            messages: 0,
            first_seen: ts,
            last_seen: ts,
        });
        // A device that ever acts as a plug is a plug.
        if role == Role::Plug {
            d.role = Role::Plug;
        }
        d.last_seen = ts;
        Some(d)
    }

    pub fn get(&self, mac: &MacAddr) -> Option<&Device> {
        self.devices.get(mac)
    }

    pub fn alias(&self, mac: &MacAddr) -> Option<&str> {
        self.devices.get(mac).and_then(|d| d.alias.as_deref())
    }

    pub fn devices(&self) -> impl Iterator<Item = &Device> {
        self.devices.values()
    }

    pub fn len(&self) -> usize {
        self.devices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
    }
}
