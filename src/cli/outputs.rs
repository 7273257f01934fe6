//! `[output.mqtt]`, `[output.metrics]` and `[output] history`: the config
//! sections and the sinks they start, the same for `plugsniff daemon` and
//! `plugsniff watch -r/-i --config` (so a capture file can be replayed into
//! Home Assistant).
//!
//! ```toml
//! [output.mqtt]
//! url = "mqtt://broker.local:1883"   # or mqtts://broker.local:8883
//! sensor = "livingroom"              # default: the host name
//! topic_prefix = "plugsniff"
//! ha_discovery = true                # Home Assistant discovery under homeassistant/
//! username = "plugsniff"             # the password only here, never on the command line
//! password = "…"
//! # protocol = 5                     # 4 (MQTT 3.1.1, default) or 5
//! # qos_events = 0                   # 1 for at-least-once events (counted exactly)
//! # qos_state = 1
//! # queue = 10000                    # events held while the broker is away
//! # ca_file = "ca.pem"               # mqtts: trust this CA instead of the system's
//! # client_cert = "c.pem"            # mqtts: client certificate and key
//! # client_key = "c.key"
//!
//! [output.metrics]
//! listen = "127.0.0.1:9898"          # Prometheus: http://127.0.0.1:9898/metrics
//!
//! [output]
//! history = "/var/lib/plugsniff/history"  # one CSV per device (`output::history_files`)
//! ```
//!
//! Every value is checked before anything starts; an error names the key,
//! never a secret's value (exit 2). A broker that refuses the credentials
//! and an address that cannot be listened on stop the command at start
//! (exit 4).

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use zeroize::Zeroizing;

use super::CliError;
use crate::output::EventSink;
use crate::output::metrics::MetricsSink;
use crate::output::mqtt::{MqttConfig, MqttSink, Protocol, TlsFiles};

/// Largest `queue`.
pub const MAX_QUEUE: usize = 1_000_000;
/// Longest sensor name, topic prefix or client id.
pub const MAX_NAME: usize = 64;
/// Largest PEM file read for TLS.
const MAX_PEM: u64 = 1 << 20;

/// `[output.mqtt]` (module doc).
#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct MqttSection {
    pub url: String,
    pub sensor: Option<String>,
    pub topic_prefix: Option<String>,
    pub ha_discovery: Option<bool>,
    pub ha_prefix: Option<String>,
    pub username: Option<String>,
    password: Option<Zeroizing<String>>,
    pub protocol: Option<ProtocolField>,
    pub client_id: Option<String>,
    pub qos_events: Option<u8>,
    pub qos_state: Option<u8>,
    pub queue: Option<usize>,
    pub keep_alive_s: Option<u64>,
    pub connect_wait_s: Option<f64>,
    pub flush_timeout_s: Option<f64>,
    pub reconnect_min_s: Option<f64>,
    pub reconnect_max_s: Option<f64>,
    pub status_interval_s: Option<f64>,
    pub ca_file: Option<String>,
    pub client_cert: Option<String>,
    pub client_key: Option<String>,
}

impl std::fmt::Debug for MqttSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttSection")
            .field("url", &self.url)
            .field("sensor", &self.sensor)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// `protocol = 4`, `5`, `"3.1.1"` or `"5"`.
#[derive(Deserialize, Clone, Debug)]
#[serde(untagged)]
pub enum ProtocolField {
    Number(i64),
    Text(String),
}

/// `[output.metrics]`.
#[derive(Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct MetricsSection {
    /// `address:port` to serve `/metrics` on.
    pub listen: String,
}

/// Starts the sinks of the `[output.mqtt]` and `[output.metrics]` sections
/// of the config file at `path` (the MQTT one first: the metrics export its
/// counters).
pub fn start(
    mqtt: Option<&MqttSection>,
    metrics: Option<&MetricsSection>,
    path: &str,
) -> Result<Vec<Box<dyn EventSink>>, CliError> {
    let mut sinks: Vec<Box<dyn EventSink>> = Vec::new();
    let mut stats = None;
    // Both are checked before either starts.
    let mqtt_cfg = mqtt.map(|m| mqtt_config(m, path)).transpose()?;
    let listen = metrics
        .map(|m| {
            m.listen.parse::<std::net::SocketAddr>().map_err(|_| {
                CliError::Usage(format!(
                    "{path}: [output.metrics] listen must be address:port (127.0.0.1:9898)"
                ))
            })
        })
        .transpose()?;
    if let Some(cfg) = mqtt_cfg {
        let sink = MqttSink::start(cfg).map_err(|e| CliError::Io {
            what: "MQTT output".into(),
            err: std::io::Error::other(e.to_string()),
        })?;
        stats = Some(sink.stats());
        sinks.push(Box::new(sink));
    }
    if let Some(addr) = listen {
        let sink = MetricsSink::start(addr, stats).map_err(|err| CliError::Io {
            what: format!("[output.metrics] cannot listen on {addr}"),
            err,
        })?;
        eprintln!("plugsniff: metrics on http://{}/metrics", sink.local_addr());
        sinks.push(Box::new(sink));
    }
    Ok(sinks)
}

/// The sink of `[output] history = "dir"` (`output::history_files`): the
/// directory must exist; no CSV it writes may be one of `inputs`.
pub fn history(
    dir: Option<&str>,
    inputs: Vec<(&'static str, std::path::PathBuf)>,
) -> Result<Option<Box<dyn EventSink>>, CliError> {
    let Some(dir) = dir else { return Ok(None) };
    let sink = crate::output::history_files::HistorySink::start(Path::new(dir), inputs)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    Ok(Some(Box::new(sink)))
}

/// Checks `[output.mqtt]` and reads its TLS files.
pub fn mqtt_config(m: &MqttSection, path: &str) -> Result<MqttConfig, CliError> {
    let err = |msg: String| CliError::Usage(format!("{path}: [output.mqtt] {msg}"));
    let (tls, host, port) = parse_url(&m.url).map_err(|e| err(format!("url: {e}")))?;
    let sensor = match &m.sensor {
        Some(s) => {
            check_name(s).map_err(|e| err(format!("sensor: {e}")))?;
            s.clone()
        }
        None => host_sensor_name(),
    };
    let topic_prefix = m.topic_prefix.clone().unwrap_or_else(|| "plugsniff".into());
    check_topic_prefix(&topic_prefix).map_err(|e| err(format!("topic_prefix: {e}")))?;
    let ha_prefix = m
        .ha_prefix
        .clone()
        .unwrap_or_else(|| "homeassistant".into());
    check_topic_prefix(&ha_prefix).map_err(|e| err(format!("ha_prefix: {e}")))?;
    let protocol = match &m.protocol {
        None => Protocol::V311,
        Some(ProtocolField::Number(4)) => Protocol::V311,
        Some(ProtocolField::Number(5)) => Protocol::V5,
        Some(ProtocolField::Text(t)) if matches!(t.as_str(), "3.1.1" | "4") => Protocol::V311,
        Some(ProtocolField::Text(t)) if matches!(t.as_str(), "5" | "5.0") => Protocol::V5,
        Some(_) => return Err(err("protocol must be 4 (MQTT 3.1.1) or 5".into())),
    };
    if m.password.is_some() && m.username.is_none() {
        return Err(err("password needs a username".into()));
    }
    if let Some(u) = &m.username
        && (u.is_empty() || u.len() > 256 || u.chars().any(char::is_control))
    {
        return Err(err("username must be 1 to 256 printable characters".into()));
    }
    if m.password.as_ref().is_some_and(|p| p.len() > 1024) {
        return Err(err("password longer than 1024 bytes".into()));
    }
    let qos = |q: Option<u8>, default: u8, key: &str| match q.unwrap_or(default) {
        q @ 0..=2 => Ok(q),
        _ => Err(err(format!("{key} must be 0, 1 or 2"))),
    };
    let client_id = m
        .client_id
        .clone()
        .unwrap_or_else(|| format!("plugsniff-{sensor}"));
    if client_id.is_empty()
        || client_id.len() > MAX_NAME
        || !client_id.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(err(
            "client_id must be 1 to 64 printable ASCII characters".into()
        ));
    }
    let queue = m.queue.unwrap_or(10_000);
    if queue == 0 || queue > MAX_QUEUE {
        return Err(err(format!("queue must be 1 to {MAX_QUEUE}")));
    }
    let secs = |v: Option<f64>, default: f64, max: f64, key: &str| -> Result<Duration, CliError> {
        let v = v.unwrap_or(default);
        if v.is_finite() && v > 0.0 && v <= max {
            Ok(Duration::from_secs_f64(v))
        } else {
            Err(err(format!(
                "{key} must be more than 0 and at most {max} seconds"
            )))
        }
    };
    let keep_alive = m.keep_alive_s.unwrap_or(30);
    if !(5..=3600).contains(&keep_alive) {
        return Err(err("keep_alive_s must be 5 to 3600".into()));
    }
    let tls = if tls {
        let dir = Path::new(path).parent().unwrap_or(Path::new(""));
        let read = |f: &Option<String>, key: &str| -> Result<Option<Vec<u8>>, CliError> {
            f.as_ref()
                .map(|f| read_pem(&dir.join(f)).map_err(|e| err(format!("{key}: {e}"))))
                .transpose()
        };
        Some(TlsFiles {
            ca_pem: read(&m.ca_file, "ca_file")?,
            client_cert_pem: read(&m.client_cert, "client_cert")?,
            client_key_pem: read(&m.client_key, "client_key")?.map(Zeroizing::new),
        })
    } else {
        if m.ca_file.is_some() || m.client_cert.is_some() || m.client_key.is_some() {
            return Err(err(
                "ca_file, client_cert and client_key need an mqtts:// url".into(),
            ));
        }
        None
    };
    Ok(MqttConfig {
        host,
        port,
        tls,
        protocol,
        sensor,
        topic_prefix,
        ha_discovery: m.ha_discovery.unwrap_or(true),
        ha_prefix,
        username: m.username.clone(),
        password: m.password.clone(),
        client_id,
        qos_events: qos(m.qos_events, 0, "qos_events")?,
        qos_state: qos(m.qos_state, 1, "qos_state")?,
        queue,
        keep_alive: Duration::from_secs(keep_alive),
        connect_wait: secs(m.connect_wait_s, 5.0, 300.0, "connect_wait_s")?,
        flush_timeout: secs(m.flush_timeout_s, 5.0, 300.0, "flush_timeout_s")?,
        reconnect_min: secs(m.reconnect_min_s, 0.5, 60.0, "reconnect_min_s")?,
        reconnect_max: secs(m.reconnect_max_s, 30.0, 3600.0, "reconnect_max_s")?,
        status_every: secs(m.status_interval_s, 10.0, 3600.0, "status_interval_s")?,
    })
}

/// `mqtt://host[:port]` or `mqtts://host[:port]` → (TLS, host, port). A user
/// or password in the URL is refused (they belong in their keys, where the
/// password is kept out of logs).
pub fn parse_url(url: &str) -> Result<(bool, String, u16), String> {
    let (tls, rest) = if let Some(r) = url.strip_prefix("mqtt://") {
        (false, r)
    } else if let Some(r) = url.strip_prefix("mqtts://") {
        (true, r)
    } else {
        return Err("must start with mqtt:// or mqtts://".into());
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains('@') {
        return Err("put username and password in their keys, not in the url".into());
    }
    if rest.contains('/') || rest.contains('?') || rest.contains('#') {
        return Err("no path or query: mqtt://host:port".into());
    }
    let default_port = if tls { 8883 } else { 1883 };
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or("unclosed [ in the host")?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err("garbage after the IPv6 address".into()),
        };
        (h.to_owned(), port)
    } else {
        match rest.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (rest.to_owned(), None),
        }
    };
    if host.is_empty()
        || host.len() > 253
        || host.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err("no host".into());
    }
    let port = match port {
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or("port must be 1 to 65535")?,
        None => default_port,
    };
    Ok((tls, host, port))
}

/// A sensor name: 1 to 64 of `[A-Za-z0-9_-]`, not `devices` (the shared
/// state topics live there).
pub fn check_name(s: &str) -> Result<(), &'static str> {
    if s.is_empty()
        || s.len() > MAX_NAME
        || !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err("must be 1 to 64 letters, digits, '_' or '-'");
    }
    if s == "devices" {
        return Err("'devices' is reserved (the shared state topics)");
    }
    Ok(())
}

/// A topic prefix: levels of printable characters without wildcards.
fn check_topic_prefix(p: &str) -> Result<(), &'static str> {
    if p.is_empty()
        || p.len() > MAX_NAME
        || p.starts_with('/')
        || p.ends_with('/')
        || p.contains("//")
        || p.chars()
            .any(|c| c == '+' || c == '#' || c.is_control() || c.is_whitespace())
    {
        return Err("must be topic levels without wildcards, spaces or empty levels");
    }
    Ok(())
}

/// The host name as a sensor name (other characters become `-`).
fn host_sensor_name() -> String {
    let h = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_default();
    let mut s: String = h
        .split('.')
        .next()
        .unwrap_or("")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(MAX_NAME)
        .collect();
    if s.is_empty() || s == "devices" {
        s = "sensor".into();
    }
    s
}

fn read_pem(p: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let f =
        std::fs::File::open(p).map_err(|e| format!("cannot read {}: {}", p.display(), e.kind()))?;
    let mut b = Vec::new();
    f.take(MAX_PEM + 1)
        .read_to_end(&mut b)
        .map_err(|e| format!("cannot read {}: {}", p.display(), e.kind()))?;
    if b.len() as u64 > MAX_PEM {
        return Err(format!("{} is larger than 1 MiB", p.display()));
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("mqtt://broker.local:1884").unwrap(),
            (false, "broker.local".into(), 1884)
        );
        assert_eq!(parse_url("mqtts://b/").unwrap(), (true, "b".into(), 8883));
        assert_eq!(
            parse_url("mqtt://[::1]:7").unwrap(),
            (false, "::1".into(), 7)
        );
        assert_eq!(
            parse_url("mqtt://[::1]").unwrap(),
            (false, "::1".into(), 1883)
        );
        for bad in [
            "http://b",
            "mqtt://",
            "mqtt://b:0",
            "mqtt://b:99999",
            "mqtt://b/x",
            "mqtt://[::1",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
        let e = parse_url("mqtt://user:hunter2@b").unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn sections_are_checked_and_never_echo_the_password() {
        let parse = |t: &str| -> MqttSection { toml::from_str(t).unwrap() };
        let ok = parse(
            "url = \"mqtt://127.0.0.1:1883\"\nsensor = \"lab\"\nusername = \"u\"\npassword = \"hunter2\"\nprotocol = 5\n",
        );
        let c = mqtt_config(&ok, "t.toml").unwrap();
        assert_eq!(c.protocol, Protocol::V5);
        assert_eq!(c.client_id, "plugsniff-lab");
        assert_eq!((c.qos_events, c.qos_state, c.queue), (0, 1, 10_000));
        assert!(!format!("{c:?}").contains("hunter2"));
        assert!(!format!("{ok:?}").contains("hunter2"));
        for bad in [
            "url = \"mqtt://b\"\npassword = \"hunter2\"\n",
            "url = \"mqtt://b\"\nsensor = \"a b\"\n",
            "url = \"mqtt://b\"\nsensor = \"devices\"\n",
            "url = \"mqtt://b\"\nqos_events = 3\n",
            "url = \"mqtt://b\"\nqueue = 0\n",
            "url = \"mqtt://b\"\ntopic_prefix = \"a/#\"\n",
            "url = \"mqtt://b\"\nprotocol = 3\n",
            "url = \"mqtt://b\"\nca_file = \"x\"\n",
            "url = \"mqtts://b\"\nca_file = \"/nonexistent/ca.pem\"\n",
            "url = \"mqtt://b\"\nflush_timeout_s = -1\n",
        ] {
            let e = mqtt_config(&parse(bad), "t.toml")
                .err()
                .unwrap()
                .to_string();
            assert!(e.contains("[output.mqtt]") && !e.contains("hunter2"), "{e}");
        }
        assert!(toml::from_str::<MqttSection>("url = \"mqtt://b\"\nbogus = 1\n").is_err());
        assert!(check_name(&host_sensor_name()).is_ok());
    }
}
