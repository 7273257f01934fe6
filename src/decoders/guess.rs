//! Vendor and model guesses from the names devices give themselves: DHCP
//! host names (option 12) and vendor classes (option 60), mDNS host and
//! instance names. Used by `decoders::dhcp` and `decoders::mdns` to name a
//! plug that no protocol decoder recognises.
//!
//! Every pattern below says where it comes from. A guess is only a guess:
//! anyone can send any name, and firmware authors change defaults.

/// The vendor string for Espressif-based devices: the chips inside most
/// cheap Wi-Fi plugs, whatever brand is printed on them.
pub const ESPRESSIF: &str = "Espressif (ESP8266/ESP32 — many Tuya/Shelly/Sonoff plugs)";

/// What a name suggests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guess {
    pub vendor: &'static str,
    /// A model or device type, when the name carries one.
    pub model: Option<String>,
    /// The vendor's device id, when the name carries one.
    pub device_id: Option<String>,
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `prefix-HEX` with at least 6 hex digits after the last dash: the
/// `model-MACSUFFIX` pattern of Shelly names. Returns the prefix.
fn strip_mac_suffix(s: &str) -> Option<&str> {
    let (head, tail) = s.rsplit_once('-')?;
    (tail.len() >= 6 && is_hex(tail) && !head.is_empty()).then_some(head)
}

/// A guess from a host name (a DHCP option 12, or an mDNS host or instance
/// label; a `.local` or other domain suffix is ignored).
pub fn from_hostname(name: &str) -> Option<Guess> {
    let host = name.split('.').next().unwrap_or(name);
    let lower = host.to_ascii_lowercase();
    // ESP8266 Arduino core: default host name "ESP_" + the last three MAC
    // bytes in hex (ESP8266WiFiSTA.cpp); ESP8266 NONOS SDK "ESP-XXXXXX";
    // ESP-IDF lwIP: CONFIG_LWIP_LOCAL_HOSTNAME, default "espressif".
    if lower == "espressif"
        || lower.starts_with("espressif-")
        || ((lower.starts_with("esp_") || lower.starts_with("esp-")) && is_hex(&host[4..]))
    {
        return Some(Guess {
            vendor: ESPRESSIF,
            model: None,
            device_id: None,
        });
    }
    // Shelly: "shellyplug-s-7C87CE" (Gen1, model id + MAC suffix, Shelly
    // Gen1 API docs "mDNS"), "shellyplusplugs-a8032ab12345" (Gen2+).
    if lower.starts_with("shelly") {
        return Some(Guess {
            vendor: "Shelly",
            model: strip_mac_suffix(&lower).map(str::to_owned),
            device_id: Some(lower.clone()),
        });
    }
    // Tasmota: "tasmota-XXXXXX-NNNN" (Tasmota `my_user_config.h`
    // `WIFI_HOSTNAME "%s-%04d"` with PROJECT "tasmota").
    if lower.starts_with("tasmota-") {
        return Some(Guess {
            vendor: "Tasmota (open firmware, ESP8266/ESP32)",
            model: None,
            device_id: None,
        });
    }
    // eWeLink LAN mode: mDNS host "eWeLink_1000xxxxxx" (SonoffLAN
    // `local.py` reads the id from the instance name `eWeLink_<id>`).
    if let Some(id) = lower.strip_prefix("ewelink_") {
        return Some(Guess {
            vendor: crate::decoders::ewelink::VENDOR,
            model: None,
            device_id: (!id.is_empty()).then(|| host[8..].to_owned()),
        });
    }
    None
}

/// What a DHCP vendor class (option 60) says about the client's software.
pub fn from_vendor_class(vc: &str) -> Option<&'static str> {
    // BusyBox udhcpc sends "udhcp <version>" (networking/udhcp/dhcpc.c).
    if vc.starts_with("udhcp ") {
        return Some("BusyBox udhcpc (embedded Linux)");
    }
    // Windows sends "MSFT 5.0" (RFC 2132 §9.13 example practice).
    if vc.starts_with("MSFT ") {
        return Some("Windows");
    }
    // Android's DHCP client: "android-dhcp-<release>".
    if vc.starts_with("android-dhcp-") {
        return Some("Android");
    }
    // dhcpcd: "dhcpcd-<version>:<os>-<release>:<machine>:<platform>".
    if vc.starts_with("dhcpcd-") {
        return Some("dhcpcd (Linux, Android)");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames() {
        for h in ["ESP_1A2B3C", "esp-0a0b0c", "espressif", "espressif.local"] {
            assert_eq!(from_hostname(h).unwrap().vendor, ESPRESSIF, "{h}");
        }
        assert_eq!(from_hostname("ESP_notHex"), None);
        let g = from_hostname("shellyplug-s-7C87CE.local").unwrap();
        assert_eq!(
            (g.vendor, g.model.as_deref(), g.device_id.as_deref()),
            ("Shelly", Some("shellyplug-s"), Some("shellyplug-s-7c87ce"))
        );
        assert_eq!(from_hostname("shelly").unwrap().model, None);
        let g = from_hostname("eWeLink_1000abcdef").unwrap();
        assert_eq!(g.device_id.as_deref(), Some("1000abcdef"));
        assert!(from_hostname("tasmota-1A2B3C-1234").is_some());
        assert_eq!(from_hostname("my-laptop"), None);
        assert_eq!(from_hostname(""), None);
    }

    #[test]
    fn vendor_classes() {
        assert_eq!(
            from_vendor_class("udhcp 1.30.1"),
            Some("BusyBox udhcpc (embedded Linux)")
        );
        assert_eq!(from_vendor_class("MSFT 5.0"), Some("Windows"));
        assert!(from_vendor_class("dhcpcd-9.4.1:Linux-6.1.0:armv7l:BCM2835").is_some());
        assert_eq!(from_vendor_class("android-dhcp-13"), Some("Android"));
        assert_eq!(from_vendor_class("whatever"), None);
    }
}
