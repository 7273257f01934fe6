//! The device inventory: every smart-home device seen, by MAC address, with
//! what its traffic revealed (model, alias, firmware, relay, power, protocols).
//! A device whose frames never carried its MAC and whose MAC nothing taught
//! (a controller on a raw-IP or routed capture) is kept by IP instead
//! ([`IpDevice`]), not dropped.
//!
//! Bounded by [`MAX_DEVICES`] (both kinds together); devices past the cap are
//! counted, not stored.

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
    /// The maker: the brand the device's own protocol names (a Shelly
    /// `Shelly.GetDeviceInfo`, a Tuya status, a Wemo `setup.xml`, a
    /// discovery announcement; see [`Device::set_vendor`]), else the owner of
    /// its MAC's OUI (often the maker of the Wi-Fi chip, e.g. Espressif).
    pub vendor: Option<String>,
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

/// A device known only by its IP address: what its messages showed.
#[derive(Debug, Clone)]
pub struct IpDevice {
    pub ip: IpAddr,
    pub role: Role,
    pub protocols: BTreeSet<&'static str>,
    pub messages: u64,
    pub first_seen: Ts,
    pub last_seen: Ts,
}

/// Bytes kept of a vendor name a device's traffic gives.
pub const MAX_VENDOR: usize = 64;

impl Device {
    /// Records the maker a device's protocol names (it outranks the OUI's
    /// owner); blank names are ignored, long ones cut to [`MAX_VENDOR`]
    /// bytes on a character boundary.
    pub fn set_vendor(&mut self, name: &str) {
        let name = name.trim();
        if name.is_empty() {
            return;
        }
        let mut end = name.len().min(MAX_VENDOR);
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        if self.vendor.as_deref() != Some(&name[..end]) {
            self.vendor = Some(name[..end].to_string());
        }
    }
}

#[derive(Default)]
pub struct Inventory {
    devices: BTreeMap<MacAddr, Device>,
    by_ip: BTreeMap<IpAddr, IpDevice>,
    pub refused: u64,
}

impl Inventory {
    /// Whether one more device fits under [`MAX_DEVICES`] (MAC-keyed and
    /// IP-only together); a refusal is counted in `refused`.
    fn room_for_one(&mut self) -> bool {
        let room = self.devices.len() + self.by_ip.len() < MAX_DEVICES;
        if !room {
            self.refused += 1;
        }
        room
    }

    /// The device for `mac`, created on first sight (None past the cap).
    pub fn touch(&mut self, mac: MacAddr, role: Role, ts: Ts) -> Option<&mut Device> {
        if mac.is_group() || mac == MacAddr::default() {
            return None;
        }
        if !self.devices.contains_key(&mac) && !self.room_for_one() {
            return None;
        }
        let d = self.devices.entry(mac).or_insert_with(|| Device {
            mac,
            role,
            ip: None,
            vendor: crate::flows::oui::vendor(mac).map(str::to_string),
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

    /// The device known only by `ip`, created on first sight (None past
    /// the cap, or for an unspecified address).
    pub fn touch_ip(&mut self, ip: IpAddr, role: Role, ts: Ts) -> Option<&mut IpDevice> {
        if ip.is_unspecified() {
            return None;
        }
        if !self.by_ip.contains_key(&ip) && !self.room_for_one() {
            return None;
        }
        let d = self.by_ip.entry(ip).or_insert_with(|| IpDevice {
            ip,
            role,
            protocols: BTreeSet::new(),
            messages: 0,
            first_seen: ts,
            last_seen: ts,
        });
        if role == Role::Plug {
            d.role = Role::Plug;
        }
        d.last_seen = ts;
        Some(d)
    }

    /// The devices known only by IP, less those whose address a device
    /// named by MAC has since been seen at (the same host, named later).
    pub fn ip_only(&self) -> impl Iterator<Item = &IpDevice> {
        let named: BTreeSet<IpAddr> = if self.by_ip.is_empty() {
            BTreeSet::new()
        } else {
            self.devices.values().filter_map(|m| m.ip).collect()
        };
        self.by_ip.values().filter(move |d| !named.contains(&d.ip))
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

    /// Devices named by MAC (those of [`Inventory::ip_only`] not counted).
    pub fn len(&self) -> usize {
        self.devices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_protocols_maker_outranks_the_oui_and_hostile_names_are_bounded() {
        let mut inv = Inventory::default();
        let ts = Ts::from_micros(1, 0);
        // 84:f3:eb is Espressif's: the Wi-Fi chip, not the brand.
        let d = inv
            .touch(MacAddr([0x84, 0xf3, 0xeb, 1, 2, 3]), Role::Plug, ts)
            .unwrap();
        assert_eq!(d.vendor.as_deref(), Some("Espressif"));
        d.set_vendor("  ");
        assert_eq!(d.vendor.as_deref(), Some("Espressif"));
        d.set_vendor("Tuya");
        assert_eq!(d.vendor.as_deref(), Some("Tuya"));
        d.set_vendor(&"é".repeat(100));
        assert_eq!(
            d.vendor.as_deref(),
            Some("é".repeat(MAX_VENDOR / 2).as_str())
        );
    }

    #[test]
    fn ip_only_devices_are_kept_until_a_mac_device_takes_the_address() {
        let mut inv = Inventory::default();
        let ip: IpAddr = "192.168.1.5".parse().unwrap();
        let ts = Ts::from_micros(1, 0);
        inv.touch_ip(ip, Role::Controller, ts).unwrap().messages += 1;
        assert!(
            inv.touch_ip(IpAddr::from([0, 0, 0, 0]), Role::Controller, ts)
                .is_none()
        );
        assert_eq!(
            inv.ip_only()
                .map(|d| (d.ip, d.messages))
                .collect::<Vec<_>>(),
            [(ip, 1)]
        );
        assert!(inv.is_empty());
        let mac = MacAddr([0x02, 0, 0, 0, 0, 5]);
        inv.touch(mac, Role::Controller, ts).unwrap().ip = Some(ip);
        assert_eq!(inv.ip_only().count(), 0);
    }
}
