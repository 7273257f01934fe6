//! Home Assistant MQTT discovery documents: what makes a plug and the sensor
//! itself appear in Home Assistant without configuration.
//!
//! Home Assistant reads retained JSON configs on
//! `<discovery prefix>/<component>/<node id>/<object id>/config`
//! (home-assistant.io/integrations/mqtt, "MQTT Discovery"). Per plug (node
//! `plugsniff_<mac, 12 hex digits>`), one device with:
//!
//! | object | component | device class | state class | unit | when |
//! |---|---|---|---|---|---|
//! | `relay` | `binary_sensor` | `power` | | | the relay state was seen |
//! | `power` | `sensor` | `power` | `measurement` | W | a power reading was seen |
//! | `voltage` | `sensor` | `voltage` | `measurement` | V | … |
//! | `current` | `sensor` | `current` | `measurement` | A | … |
//! | `energy` | `sensor` | `energy` | `total_increasing` | kWh | … |
//! | `last_command` | `sensor` | | | | always |
//! | `last_seen` | `sensor` | `timestamp` | | | always (diagnostic) |
//!
//! The relay is a `binary_sensor`, not a `switch`: plugsniff only watches.
//! Entities are created when their first value is known, so a plug without an
//! energy meter gets no empty power sensors.
//!
//! A plug's documents name no sensor: their state topic is the shared
//! `<prefix>/devices/<mac>/state`, so every sensor that hears the plug
//! publishes the same configs and Home Assistant shows one device, whichever
//! sensor heard it last. The sensor itself is a device too
//! (`plugsniff_sensor_<name>`: frames captured, decrypted, dropped, shed,
//! MQTT events dropped, devices, messages, stations with keys), available
//! while its status topic says `online`.

use serde_json::{Value, json};

use super::device_state::{DeviceStates, display_name};
use crate::report::inventory::{Device, Role};

/// What the configs need to know about the deployment.
#[derive(Debug, Clone)]
pub struct Ctx<'a> {
    /// The discovery prefix (`homeassistant`).
    pub ha_prefix: &'a str,
    /// The topic prefix (`plugsniff`).
    pub prefix: &'a str,
    pub sensor: &'a str,
}

/// One entity of a plug.
struct PlugEntity {
    object: &'static str,
    component: &'static str,
    name: &'static str,
    template: &'static str,
    device_class: Option<&'static str>,
    state_class: Option<&'static str>,
    unit: Option<&'static str>,
    diagnostic: bool,
    /// Whether the device has a value for it yet.
    present: fn(&Device, &DeviceStates) -> bool,
}

const PLUG_ENTITIES: &[PlugEntity] = &[
    PlugEntity {
        object: "relay",
        component: "binary_sensor",
        name: "Relay",
        template: "{{ 'ON' if value_json.relay == 'on' else ('OFF' if value_json.relay == 'off' else 'None') }}",
        device_class: Some("power"),
        state_class: None,
        unit: None,
        diagnostic: false,
        present: |d, _| d.relay_on.is_some(),
    },
    PlugEntity {
        object: "power",
        component: "sensor",
        name: "Power",
        template: "{{ value_json.power_w }}",
        device_class: Some("power"),
        state_class: Some("measurement"),
        unit: Some("W"),
        diagnostic: false,
        present: |d, _| d.power_w.is_some(),
    },
    PlugEntity {
        object: "voltage",
        component: "sensor",
        name: "Voltage",
        template: "{{ value_json.voltage_v }}",
        device_class: Some("voltage"),
        state_class: Some("measurement"),
        unit: Some("V"),
        diagnostic: false,
        present: |d, _| d.voltage_v.is_some(),
    },
    PlugEntity {
        object: "current",
        component: "sensor",
        name: "Current",
        template: "{{ value_json.current_a }}",
        device_class: Some("current"),
        state_class: Some("measurement"),
        unit: Some("A"),
        diagnostic: false,
        present: |d, s| s.current_a(&d.mac).is_some(),
    },
    PlugEntity {
        object: "energy",
        component: "sensor",
        name: "Energy",
        template: "{{ value_json.energy_kwh }}",
        device_class: Some("energy"),
        state_class: Some("total_increasing"),
        unit: Some("kWh"),
        diagnostic: false,
        present: |d, _| d.total_kwh.is_some(),
    },
    PlugEntity {
        object: "last_command",
        component: "sensor",
        name: "Last command",
        template: "{{ value_json.last_command_text }}",
        device_class: None,
        state_class: None,
        unit: None,
        diagnostic: false,
        present: |_, _| true,
    },
    PlugEntity {
        object: "last_seen",
        component: "sensor",
        name: "Last seen",
        template: "{{ value_json.last_seen }}",
        device_class: Some("timestamp"),
        state_class: None,
        unit: None,
        diagnostic: true,
        present: |_, _| true,
    },
];

/// One entity of the sensor device, read from its status document.
struct SensorEntity {
    object: &'static str,
    name: &'static str,
    template: &'static str,
    state_class: &'static str,
}

const SENSOR_ENTITIES: &[SensorEntity] = &[
    SensorEntity {
        object: "captured",
        name: "Frames captured",
        template: "{{ value_json.capture.captured }}",
        state_class: "total_increasing",
    },
    SensorEntity {
        object: "decrypted",
        name: "Frames decrypted",
        template: "{{ value_json.frames.decrypted }}",
        state_class: "total_increasing",
    },
    SensorEntity {
        object: "dropped",
        name: "Frames dropped",
        template: "{{ value_json.frames.dropped }}",
        state_class: "total_increasing",
    },
    SensorEntity {
        object: "shed_load",
        name: "Frames shed",
        template: "{{ value_json.capture.shed_load }}",
        state_class: "total_increasing",
    },
    SensorEntity {
        object: "mqtt_dropped",
        name: "MQTT events dropped",
        template: "{{ value_json.mqtt.events_dropped }}",
        state_class: "total_increasing",
    },
    SensorEntity {
        object: "devices",
        name: "Devices",
        template: "{{ value_json.devices }}",
        state_class: "measurement",
    },
    SensorEntity {
        object: "messages",
        name: "Messages",
        template: "{{ value_json.messages }}",
        state_class: "total_increasing",
    },
    SensorEntity {
        object: "stations_keyed",
        name: "Stations with keys",
        template: "{{ value_json.keys.confirmed }}",
        state_class: "measurement",
    },
];

/// `aa:bb:cc:dd:ee:ff` → `aabbccddeeff` (discovery ids allow `[a-zA-Z0-9_-]`).
pub fn mac12(d: &Device) -> String {
    hex::encode(d.mac.0)
}

/// The shared state topic of a device (every sensor publishes it).
pub fn shared_state_topic(prefix: &str, d: &Device) -> String {
    format!("{prefix}/devices/{}/state", d.mac)
}

/// The status topic of a sensor (health document, last will).
pub fn status_topic(prefix: &str, sensor: &str) -> String {
    format!("{prefix}/{sensor}/status")
}

fn origin() -> Value {
    json!({"name": "plugsniff", "sw_version": env!("CARGO_PKG_VERSION")})
}

/// The discovery configs a plug has now: `(topic, document)`. Controllers
/// (phones, hubs) get none.
pub fn plug_configs(cx: &Ctx<'_>, d: &Device, states: &DeviceStates) -> Vec<(String, Value)> {
    if d.role != Role::Plug {
        return Vec::new();
    }
    let node = format!("plugsniff_{}", mac12(d));
    let mut device = json!({
        "identifiers": [node],
        "connections": [["mac", d.mac.to_string()]],
        "name": display_name(d),
    });
    let extra = [
        ("manufacturer", d.vendor.clone()),
        ("model", d.model.clone()),
        ("sw_version", d.firmware.clone()),
        ("hw_version", d.hardware.clone()),
    ];
    for (k, v) in extra {
        if let (Some(v), Some(o)) = (v, device.as_object_mut()) {
            o.insert(k.into(), Value::String(v));
        }
    }
    let state_topic = shared_state_topic(cx.prefix, d);
    PLUG_ENTITIES
        .iter()
        .filter(|e| (e.present)(d, states))
        .map(|e| {
            let mut doc = json!({
                "name": e.name,
                "unique_id": format!("{node}_{}", e.object),
                "state_topic": state_topic,
                "value_template": e.template,
                "device": device,
                "origin": origin(),
            });
            if let Some(o) = doc.as_object_mut() {
                if let Some(c) = e.device_class {
                    o.insert("device_class".into(), c.into());
                }
                if let Some(c) = e.state_class {
                    o.insert("state_class".into(), c.into());
                }
                if let Some(u) = e.unit {
                    o.insert("unit_of_measurement".into(), u.into());
                }
                if e.diagnostic {
                    o.insert("entity_category".into(), "diagnostic".into());
                }
                if e.component == "binary_sensor" {
                    o.insert("payload_on".into(), "ON".into());
                    o.insert("payload_off".into(), "OFF".into());
                }
                if e.object == "last_command" {
                    o.insert("json_attributes_topic".into(), state_topic.clone().into());
                    o.insert(
                        "json_attributes_template".into(),
                        "{{ (value_json.last_command or {}) | tojson }}".into(),
                    );
                    o.insert("icon".into(), "mdi:remote".into());
                }
            }
            (
                format!(
                    "{}/{}/{node}/{}/config",
                    cx.ha_prefix, e.component, e.object
                ),
                doc,
            )
        })
        .collect()
}

/// The discovery configs of the sensor device.
pub fn sensor_configs(cx: &Ctx<'_>) -> Vec<(String, Value)> {
    let node = format!("plugsniff_sensor_{}", cx.sensor);
    let status = status_topic(cx.prefix, cx.sensor);
    let device = json!({
        "identifiers": [node],
        "name": format!("plugsniff {}", cx.sensor),
        "manufacturer": "plugsniff",
        "model": "WiFi smart-plug sniffer",
        "sw_version": env!("CARGO_PKG_VERSION"),
    });
    SENSOR_ENTITIES
        .iter()
        .map(|e| {
            let doc = json!({
                "name": e.name,
                "unique_id": format!("{node}_{}", e.object),
                "state_topic": status,
                "value_template": e.template,
                "state_class": e.state_class,
                "entity_category": "diagnostic",
                "availability": [{
                    "topic": status,
                    "value_template": "{{ value_json.state }}",
                    "payload_available": "online",
                    "payload_not_available": "offline",
                }],
                "device": device,
                "origin": origin(),
            });
            (
                format!("{}/sensor/{node}/{}/config", cx.ha_prefix, e.object),
                doc,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::inventory::Inventory;
    use crate::wire::{MacAddr, Ts};

    #[test]
    fn entities_appear_with_their_values() {
        let mut inv = Inventory::default();
        let mac = MacAddr([0x1c, 0x3b, 0xf3, 0x6e, 0xa8, 0x12]);
        let d = inv.touch(mac, Role::Plug, Ts::default()).unwrap();
        d.alias = Some("Coffee maker".into());
        let cx = Ctx {
            ha_prefix: "homeassistant",
            prefix: "plugsniff",
            sensor: "lab",
        };
        let states = DeviceStates::default();
        let objects = |inv: &Inventory| -> Vec<String> {
            plug_configs(&cx, inv.get(&mac).unwrap(), &states)
                .into_iter()
                .map(|(t, _)| t)
                .collect()
        };
        assert_eq!(
            objects(&inv),
            [
                "homeassistant/sensor/plugsniff_1c3bf36ea812/last_command/config",
                "homeassistant/sensor/plugsniff_1c3bf36ea812/last_seen/config"
            ]
        );
        let d = inv.touch(mac, Role::Plug, Ts::default()).unwrap();
        d.relay_on = Some(true);
        d.power_w = Some(1.0);
        assert_eq!(objects(&inv).len(), 4);
        let (_, doc) = plug_configs(&cx, inv.get(&mac).unwrap(), &states).remove(1);
        assert_eq!(doc["device_class"], "power");
        assert_eq!(doc["unit_of_measurement"], "W");
        assert_eq!(
            doc["state_topic"],
            "plugsniff/devices/1c:3b:f3:6e:a8:12/state"
        );
        assert_eq!(doc["device"]["name"], "Coffee maker");
        // A controller is no Home Assistant device.
        let phone = MacAddr([2, 0, 0, 0, 0, 1]);
        inv.touch(phone, Role::Controller, Ts::default());
        assert!(plug_configs(&cx, inv.get(&phone).unwrap(), &states).is_empty());
        assert_eq!(sensor_configs(&cx).len(), SENSOR_ENTITIES.len());
    }
}
