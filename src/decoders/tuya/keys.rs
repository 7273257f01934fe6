//! Which local key belongs to which device: the `[[tuya_device]]` entries of
//! the config, and what discovery and earlier connections taught (device id
//! and protocol version by IP, the key that worked for an IP).
//!
//! # How a connection finds its key
//! By the device's IP: a configured `ip`, else the device id that discovery
//! announced for that IP matched against the configured ids, else the key
//! that decrypted an earlier connection to that IP. Failing all three, the
//! session tries the configured keys in order (the IP's own first, at most
//! [`MAX_KEYS_TRIED`] per frame) against what the frame can verify: the
//! HMAC (3.4) or GCM tag (3.5) of the negotiation, or the padding and text
//! of an ECB payload (3.1–3.3).
//!
//! # Bounds
//! At most [`MAX_CONFIGURED_DEVICES`] keys (the config parser refuses more)
//! and [`MAX_LEARNED`] addresses remembered; past it, new addresses are not
//! learned (counted in [`TuyaStats::learned_refused`]) and their keys are
//! found by trial again.

use std::collections::HashMap;
use std::net::IpAddr;

use super::codec::Version;
use super::crypto::TuyaKey;

/// Most `[[tuya_device]]` entries accepted in a config.
pub const MAX_CONFIGURED_DEVICES: usize = 4096;
/// Most configured keys tried against one frame whose device is not known.
pub const MAX_KEYS_TRIED: usize = 64;
/// Most device addresses remembered from discovery and decryption.
pub const MAX_LEARNED: usize = 4096;

/// One `[[tuya_device]]`: its id, local key and what the user knows.
#[derive(Clone, PartialEq, Eq)]
pub struct TuyaDeviceKey {
    /// `gwId`/`devId`.
    pub id: String,
    pub local_key: TuyaKey,
    pub ip: Option<IpAddr>,
    pub version: Option<Version>,
    /// `tuya_device #N`: all that events and logs ever say about the key.
    pub label: String,
}

impl std::fmt::Debug for TuyaDeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TuyaDeviceKey")
            .field("label", &self.label)
            .field("id", &self.id)
            .field("local_key", &self.local_key)
            .field("ip", &self.ip)
            .field("version", &self.version)
            .finish()
    }
}

/// What discovery announced for an address.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Learned {
    pub device_id: Option<String>,
    pub version: Option<Version>,
}

/// Counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TuyaStats {
    /// Addresses not remembered because [`MAX_LEARNED`] was reached.
    pub learned_refused: u64,
    /// Keys tried by the sessions, in all.
    pub keys_tried: u64,
}

/// The keys and what the run learned, shared by every Tuya flow.
#[derive(Debug, Default)]
pub struct TuyaState {
    devices: Vec<TuyaDeviceKey>,
    learned: HashMap<IpAddr, Learned>,
    key_for_ip: HashMap<IpAddr, usize>,
    pub stats: TuyaStats,
}

impl TuyaState {
    pub fn new(mut devices: Vec<TuyaDeviceKey>) -> TuyaState {
        devices.truncate(MAX_CONFIGURED_DEVICES);
        TuyaState {
            devices,
            ..TuyaState::default()
        }
    }

    pub fn configured(&self) -> usize {
        self.devices.len()
    }

    pub fn device(&self, idx: usize) -> Option<&TuyaDeviceKey> {
        self.devices.get(idx)
    }

    fn remember<'m, V>(
        map: &'m mut HashMap<IpAddr, V>,
        stats: &mut TuyaStats,
        ip: IpAddr,
    ) -> Option<&'m mut V>
    where
        V: Default,
    {
        if !map.contains_key(&ip) && map.len() >= MAX_LEARNED {
            stats.learned_refused += 1;
            return None;
        }
        Some(map.entry(ip).or_default())
    }

    /// Discovery (or a decrypted payload) says `ip` is `device_id`,
    /// speaking `version`.
    pub fn learn(&mut self, ip: IpAddr, device_id: Option<&str>, version: Option<Version>) {
        if let Some(l) = Self::remember(&mut self.learned, &mut self.stats, ip) {
            if let Some(id) = device_id
                && l.device_id.as_deref() != Some(id)
            {
                l.device_id = Some(id.to_owned());
            }
            if version.is_some() {
                l.version = version;
            }
        }
    }

    /// What discovery taught about `ip`.
    pub fn learned(&self, ip: IpAddr) -> Option<&Learned> {
        self.learned.get(&ip)
    }

    /// The key at `idx` decrypted traffic of `ip`.
    pub fn remember_key(&mut self, ip: IpAddr, idx: usize) {
        if idx < self.devices.len()
            && let Some(k) = Self::remember(&mut self.key_for_ip, &mut self.stats, ip)
        {
            *k = idx;
        }
    }

    /// The configured device at `ip`: by configured address, by the id
    /// discovery announced there, or by the key that worked there before.
    pub fn assigned(&self, ip: IpAddr) -> Option<usize> {
        if let Some(i) = self.devices.iter().position(|d| d.ip == Some(ip)) {
            return Some(i);
        }
        if let Some(id) = self.learned.get(&ip).and_then(|l| l.device_id.as_deref())
            && let Some(i) = self.devices.iter().position(|d| d.id == id)
        {
            return Some(i);
        }
        self.key_for_ip.get(&ip).copied()
    }

    /// The version to expect from `ip`: configured, else announced.
    pub fn version_for(&self, ip: IpAddr) -> Option<Version> {
        self.assigned(ip)
            .and_then(|i| self.devices.get(i)?.version)
            .or_else(|| self.learned.get(&ip)?.version)
    }

    /// Keys to try for `ip`, best first: the assigned one, then the others,
    /// at most [`MAX_KEYS_TRIED`].
    pub fn candidates(&self, ip: IpAddr) -> Vec<usize> {
        let first = self.assigned(ip);
        first
            .into_iter()
            .chain((0..self.devices.len()).filter(|&i| Some(i) != first))
            .take(MAX_KEYS_TRIED)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(n: usize, ip: Option<[u8; 4]>) -> TuyaDeviceKey {
        TuyaDeviceKey {
            id: format!("bf{n:018}"),
            local_key: TuyaKey::new([n as u8; 16]),
            ip: ip.map(IpAddr::from),
            version: None,
            label: format!("tuya_device #{}", n + 1),
        }
    }

    #[test]
    fn assignment_by_ip_then_discovery_then_memory() {
        let mut s = TuyaState::new(vec![
            dev(0, Some([10, 0, 0, 1])),
            dev(1, None),
            dev(2, None),
        ]);
        let a = IpAddr::from([10, 0, 0, 1]);
        let b = IpAddr::from([10, 0, 0, 2]);
        let c = IpAddr::from([10, 0, 0, 3]);
        assert_eq!(s.assigned(a), Some(0));
        assert_eq!(s.assigned(b), None);
        s.learn(b, Some(&dev(1, None).id), Some(Version::V35));
        assert_eq!(s.assigned(b), Some(1));
        assert_eq!(s.version_for(b), Some(Version::V35));
        assert_eq!(s.candidates(b), [1, 0, 2]);
        assert_eq!(s.candidates(c), [0, 1, 2]);
        s.remember_key(c, 2);
        assert_eq!(s.assigned(c), Some(2));
        s.remember_key(c, 99);
        assert_eq!(s.assigned(c), Some(2));
    }

    #[test]
    fn bounded() {
        let devices: Vec<_> = (0..MAX_KEYS_TRIED + 10).map(|i| dev(i, None)).collect();
        let mut s = TuyaState::new(devices);
        assert_eq!(
            s.candidates(IpAddr::from([1, 1, 1, 1])).len(),
            MAX_KEYS_TRIED
        );
        for i in 0..MAX_LEARNED as u32 + 5 {
            s.learn(IpAddr::from(i.to_be_bytes()), Some("x"), None);
        }
        assert_eq!(s.learned.len(), MAX_LEARNED);
        assert_eq!(s.stats.learned_refused, 5);
        // Known addresses still update.
        s.learn(IpAddr::from(0u32.to_be_bytes()), Some("y"), None);
        assert_eq!(
            s.learned(IpAddr::from(0u32.to_be_bytes()))
                .unwrap()
                .device_id
                .as_deref(),
            Some("y")
        );
    }

    #[test]
    fn debug_never_shows_the_key() {
        let d = TuyaDeviceKey {
            local_key: TuyaKey::from_local_key_str("0123456789abcdef").unwrap(),
            ..dev(0, None)
        };
        let s = format!("{d:?} {:?}", TuyaState::new(vec![d.clone()]));
        assert!(
            !s.contains("0123456789abcdef") && !s.contains("48, 49, 50"),
            "{s}"
        );
    }
}
