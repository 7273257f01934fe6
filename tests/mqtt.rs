//! The MQTT output, Home Assistant discovery, the metrics endpoint and
//! `plugsniff merge`, against real components: a Mosquitto broker started by
//! each test on a free loopback port with a generated config (password file
//! from `mosquitto_passwd`, TLS certificates from `openssl`), `mosquitto_sub`
//! as the subscriber, and the Prometheus project's parser
//! (`prometheus_client.parser`, `tests/support/prom_parse.py`) for `/metrics`.
//!
//! The broker-restart test runs the daemon live on a radiotap TUN device in a
//! network namespace (as `tests/live_tun.rs` does), with the broker and the
//! subscriber in the same namespace.
//!
//! Missing Mosquitto (or openssl, root, python's prometheus_client for the
//! tests that need them): skipped with a message, a failure under `CI=true`.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_plugsniff");

fn demo() -> String {
    format!("{}/captures/demo.pcapng", env!("CARGO_MANIFEST_DIR"))
}

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Skips (or fails under CI) when a tool is missing.
fn have(tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| which(t).is_none())
        .collect();
    if missing.is_empty() {
        return true;
    }
    if ci() {
        panic!(
            "CI=true but {missing:?} are missing (apt-get install mosquitto mosquitto-clients openssl)"
        );
    }
    eprintln!("SKIP: {missing:?} not installed");
    false
}

fn which(tool: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&paths)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `ip netns exec NS` before a command, when in a namespace.
fn cmd(netns: Option<&str>, program: &Path) -> Command {
    match netns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns]).arg(program);
            c
        }
        None => Command::new(program),
    }
}

fn wait_for(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !cond() {
        assert!(t0.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[derive(Default, Clone)]
struct BrokerOpts {
    user: Option<(String, String)>,
    /// (certificate, key) PEM paths for a TLS listener.
    tls: Option<(PathBuf, PathBuf)>,
    persistence: bool,
    netns: Option<String>,
}

/// A Mosquitto started by the test; stopped (SIGTERM) when dropped.
struct Broker {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    opts: BrokerOpts,
}

impl Broker {
    fn start(opts: BrokerOpts) -> Broker {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut b = Broker {
            child: None,
            port,
            dir,
            opts,
        };
        b.write_config();
        b.run();
        b
    }

    fn write_config(&self) {
        let d = self.dir.path();
        let mut conf = format!(
            "listener {} 127.0.0.1\nlog_dest file {}\nlog_type all\nmax_queued_messages 10000\n{}",
            self.port,
            d.join("broker.log").display(),
            // Started as root, Mosquitto becomes the `mosquitto` user, which
            // cannot write the test's private directory: stay.
            if nix::unistd::Uid::effective().is_root() {
                "user root\n"
            } else {
                ""
            }
        );
        if let Some((cert, key)) = &self.opts.tls {
            conf += &format!("certfile {}\nkeyfile {}\n", cert.display(), key.display());
        }
        match &self.opts.user {
            Some((u, p)) => {
                let pw = d.join("passwd");
                let st = Command::new(which("mosquitto_passwd").unwrap())
                    .args(["-b", "-c"])
                    .arg(&pw)
                    .args([u, p])
                    .status()
                    .unwrap();
                assert!(st.success(), "mosquitto_passwd");
                conf += &format!("allow_anonymous false\npassword_file {}\n", pw.display());
            }
            None => conf += "allow_anonymous true\n",
        }
        if self.opts.persistence {
            conf += &format!(
                "persistence true\npersistence_location {}/\nautosave_interval 1\n",
                d.display()
            );
        } else {
            conf += "persistence false\n";
        }
        std::fs::write(d.join("mosquitto.conf"), conf).unwrap();
    }

    fn log(&self) -> String {
        String::from_utf8_lossy(
            &std::fs::read(self.dir.path().join("broker.log")).unwrap_or_default(),
        )
        .into_owned()
    }

    fn run(&mut self) {
        let before = self.log().matches(" running").count();
        let child = cmd(self.opts.netns.as_deref(), &which("mosquitto").unwrap())
            .arg("-c")
            .arg(self.dir.path().join("mosquitto.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        wait_for("the broker to run", Duration::from_secs(10), || {
            self.log().matches(" running").count() > before
        });
    }

    /// SIGTERM (Mosquitto saves its persistence file), and wait.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // `ip netns exec` execs mosquitto: the pid is the broker's.
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let _ = c.wait();
        }
    }

    fn url(&self) -> String {
        let scheme = if self.opts.tls.is_some() {
            "mqtts"
        } else {
            "mqtt"
        };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One message as `mosquitto_sub` printed it.
#[derive(Debug, Clone)]
struct Msg {
    retain: bool,
    topic: String,
    payload: String,
}

impl Msg {
    fn json(&self) -> Value {
        serde_json::from_str(&self.payload)
            .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {}", self.topic, self.payload))
    }
}

/// `mosquitto_sub` printing `retain \t qos \t topic \t payload` per message.
struct Sub {
    child: Child,
    msgs: Arc<Mutex<Vec<Msg>>>,
    probed: Arc<std::sync::atomic::AtomicBool>,
}

/// The topic a subscriber is probed on until it is known to be subscribed.
const PROBE: &str = "psniff-test/probe";

impl Sub {
    /// Subscribes to `topics`; `conn` are connection options for both
    /// `mosquitto_sub` and the probing `mosquitto_pub` (`--cafile`, `-V`),
    /// `sub_only` for the subscriber alone (`-c -i ID -q 1`). Returns once a
    /// probe message went through: the subscription is in place.
    fn start(b: &Broker, topics: &[&str], conn: &[&str], sub_only: &[&str]) -> Sub {
        let auth: Vec<String> = match &b.opts.user {
            Some((u, p)) => vec!["-u".into(), u.clone(), "-P".into(), p.clone()],
            None => vec![],
        };
        let mut c = cmd(b.opts.netns.as_deref(), &which("mosquitto_sub").unwrap());
        c.args(["-h", "127.0.0.1", "-p", &b.port.to_string()])
            .args(["-F", "%r\\t%q\\t%t\\t%p"])
            .args(conn)
            .args(sub_only)
            .args(&auth)
            .args(["-t", PROBE]);
        for t in topics {
            c.args(["-t", t]);
        }
        let mut child = c
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let msgs = Arc::new(Mutex::new(Vec::new()));
        let probed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (m, pr) = (msgs.clone(), probed.clone());
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                let f: Vec<&str> = l.splitn(4, '\t').collect();
                if f.len() != 4 {
                    continue;
                }
                if f[2] == PROBE {
                    pr.store(true, std::sync::atomic::Ordering::SeqCst);
                    continue;
                }
                m.lock().unwrap().push(Msg {
                    retain: f[0] == "1",
                    topic: f[2].to_string(),
                    payload: f[3].to_string(),
                });
            }
        });
        let s = Sub {
            child,
            msgs,
            probed,
        };
        let t0 = Instant::now();
        while !s.probed.load(std::sync::atomic::Ordering::SeqCst) {
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "the subscriber never got its probe"
            );
            let _ = cmd(b.opts.netns.as_deref(), &which("mosquitto_pub").unwrap())
                .args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &b.port.to_string(),
                    "-t",
                    PROBE,
                    "-m",
                    "probe",
                ])
                .args(conn)
                .args(&auth)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            std::thread::sleep(Duration::from_millis(100));
        }
        s
    }

    fn msgs(&self) -> Vec<Msg> {
        self.msgs.lock().unwrap().clone()
    }

    fn count(&self, f: impl Fn(&Msg) -> bool) -> usize {
        self.msgs.lock().unwrap().iter().filter(|m| f(m)).count()
    }
}

impl Drop for Sub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The demo's key plus an `[output.mqtt]` section.
fn config(dir: &Path, name: &str, mqtt: &str) -> PathBuf {
    let p = dir.join(name);
    let keys =
        std::fs::read_to_string(format!("{}/captures/demo.toml", env!("CARGO_MANIFEST_DIR")))
            .unwrap();
    std::fs::write(&p, format!("{keys}\n[output.mqtt]\n{mqtt}")).unwrap();
    p
}

/// `watch -r demo --json --config CFG`: (exit code, stdout lines, stderr).
fn watch(cfg: &Path, extra: &[&str]) -> (i32, Vec<String>, String) {
    let o = Command::new(BIN)
        .args(["watch", "-r", &demo(), "--json", "--config"])
        .arg(cfg)
        .args(extra)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8(o.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The event lines (the summary left out) as JSON.
fn events(lines: &[String]) -> Vec<Value> {
    lines
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["event"] != "summary")
        .collect()
}

fn summary(lines: &[String]) -> Value {
    lines
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["event"] == "summary")
        .expect("summary line")
}

fn without(mut v: Value, keys: &[&str]) -> Value {
    if let Some(o) = v.as_object_mut() {
        for k in keys {
            o.remove(*k);
        }
    }
    v
}

/// The numbers of the `plugsniff: mqtt: …` line.
fn mqtt_counts(stderr: &str) -> (u64, u64, u64, u64) {
    let l = stderr
        .lines()
        .rev()
        .find(|l| l.starts_with("plugsniff: mqtt: "))
        .unwrap_or_else(|| panic!("no mqtt line in {stderr}"));
    let n: Vec<u64> = l
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    // queued, published, unsent, dropped (the port follows).
    (n[0], n[1], n[2], n[3])
}

// ---- Home Assistant's documented schema ----------------------------------

/// Units Home Assistant accepts per sensor device class, and the state
/// classes it allows with them: `homeassistant/components/sensor/const.py`
/// (`DEVICE_CLASS_UNITS`, `DEVICE_CLASS_STATE_CLASSES`), as documented on
/// home-assistant.io/integrations/sensor#device-class. Only the classes a
/// plug can need are listed; any other class fails the check.
fn sensor_class(dc: &str) -> Option<(&'static [&'static str], &'static [&'static str])> {
    Some(match dc {
        "power" => (&["W", "kW", "MW", "GW", "TW"], &["measurement"]),
        "voltage" => (&["V", "mV", "µV", "kV", "MV"], &["measurement"]),
        "current" => (&["A", "mA"], &["measurement"]),
        "energy" => (
            &[
                "J", "kJ", "MJ", "GJ", "mWh", "Wh", "kWh", "MWh", "GWh", "TWh", "cal", "kcal",
                "Mcal", "Gcal",
            ],
            &["total", "total_increasing"],
        ),
        // No unit, no state class.
        "timestamp" => (&[], &[]),
        _ => return None,
    })
}

/// Binary sensor device classes (home-assistant.io/integrations/binary_sensor#device-class).
const BINARY_CLASSES: &[&str] = &[
    "battery",
    "battery_charging",
    "carbon_monoxide",
    "cold",
    "connectivity",
    "door",
    "garage_door",
    "gas",
    "heat",
    "light",
    "lock",
    "moisture",
    "motion",
    "moving",
    "occupancy",
    "opening",
    "plug",
    "power",
    "presence",
    "problem",
    "running",
    "safety",
    "smoke",
    "sound",
    "tamper",
    "update",
    "vibration",
    "window",
];

/// Checks one discovery message against the MQTT discovery rules
/// (home-assistant.io/integrations/mqtt#mqtt-discovery): the topic shape,
/// the platform's required keys, the device and availability blocks, and
/// the device class / state class / unit combinations.
fn check_discovery(topic: &str, doc: &Value) -> Result<(), String> {
    let parts: Vec<&str> = topic.split('/').collect();
    let ok_id = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    let shaped = parts.len() == 5
        && parts[0] == "homeassistant"
        && parts[4] == "config"
        && ok_id(parts[2])
        && ok_id(parts[3]);
    if !shaped {
        return Err(format!(
            "topic {topic} is not <prefix>/<component>/<node_id>/<object_id>/config"
        ));
    }
    let component = parts[1];
    let o = doc.as_object().ok_or("not an object")?;
    let s = |k: &str| o.get(k).and_then(Value::as_str);
    if s("state_topic").is_none_or(|t| t.is_empty() || t.contains('+') || t.contains('#')) {
        return Err(
            "state_topic is required (sensor, binary_sensor) and may hold no wildcard".into(),
        );
    }
    if s("unique_id").is_none_or(str::is_empty) {
        return Err("unique_id is required for an entity of a device".into());
    }
    let dev = o
        .get("device")
        .and_then(Value::as_object)
        .ok_or("no device")?;
    let ids = dev
        .get("identifiers")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    let conns = dev
        .get("connections")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().all(|c| c.as_array().is_some_and(|p| p.len() == 2)));
    if !ids && !conns {
        return Err("device needs identifiers or connections".into());
    }
    if let Some(av) = o.get("availability") {
        let list = av.as_array().ok_or("availability must be a list")?;
        if list.iter().any(|a| a["topic"].as_str().is_none()) {
            return Err("every availability entry needs a topic".into());
        }
    }
    if let Some(c) = s("entity_category") {
        // Sensors cannot be configuration entities.
        if c != "diagnostic" {
            return Err(format!(
                "entity_category {c} is not allowed for a {component}"
            ));
        }
    }
    if s("value_template").is_some_and(|t| !t.contains("{{")) {
        return Err("value_template is not a template".into());
    }
    let dc = s("device_class");
    let sc = s("state_class");
    let unit = s("unit_of_measurement");
    match component {
        "binary_sensor" => {
            if dc.is_some_and(|d| !BINARY_CLASSES.contains(&d)) {
                return Err(format!("binary_sensor device_class {dc:?} unknown"));
            }
            if sc.is_some() || unit.is_some() {
                return Err("a binary_sensor has no state_class or unit".into());
            }
            if s("payload_on").is_none() || s("payload_off").is_none() {
                return Err("payload_on/payload_off must match the template's ON/OFF".into());
            }
        }
        "sensor" => {
            if let Some(sc) = sc
                && !["measurement", "total", "total_increasing"].contains(&sc)
            {
                return Err(format!("state_class {sc} unknown"));
            }
            if let Some(d) = dc {
                let (units, classes) = sensor_class(d)
                    .ok_or_else(|| format!("sensor device_class {d} not expected"))?;
                match unit {
                    Some(u) if !units.contains(&u) => {
                        return Err(format!("unit {u} is not valid for device_class {d}"));
                    }
                    None if !units.is_empty() => {
                        return Err(format!("device_class {d} needs a unit"));
                    }
                    _ => {}
                }
                match sc {
                    Some(c) if !classes.contains(&c) => {
                        return Err(format!("state_class {c} is not valid for device_class {d}"));
                    }
                    None if d != "timestamp" => {
                        return Err(format!(
                            "device_class {d} without a state_class gets no statistics"
                        ));
                    }
                    _ => {}
                }
            }
        }
        other => return Err(format!("component {other} not expected")),
    }
    Ok(())
}

/// The checker itself refuses what Home Assistant refuses.
#[test]
fn the_discovery_checker_refuses_wrong_combinations() {
    let good = serde_json::json!({
        "name": "Power", "unique_id": "u", "state_topic": "a/b",
        "value_template": "{{ value_json.power_w }}", "device_class": "power",
        "state_class": "measurement", "unit_of_measurement": "W",
        "device": {"identifiers": ["x"]}
    });
    check_discovery("homeassistant/sensor/n/power/config", &good).unwrap();
    let bad = |k: &str, v: Value| {
        let mut d = good.clone();
        d[k] = v;
        check_discovery("homeassistant/sensor/n/power/config", &d).is_err()
    };
    assert!(bad("unit_of_measurement", "kWh".into()));
    assert!(bad("state_class", "total_increasing".into()));
    assert!(bad("state_topic", "a/#".into()));
    assert!(bad("device", serde_json::json!({"name": "x"})));
    assert!(bad("device_class", "energy".into()));
    assert!(check_discovery("homeassistant/sensor/n.x/power/config", &good).is_err());
}

// ---- Tests ----------------------------------------------------------------

/// The demo into a broker: every event on its topic, the retained state of
/// each plug, Home Assistant's discovery documents (checked against its
/// schema, and exactly the entities the demo's plugs have values for), and
/// the sensor's status.
#[test]
fn demo_events_retained_state_and_home_assistant_discovery() {
    if !have(&["mosquitto", "mosquitto_sub", "mosquitto_pub"]) {
        return;
    }
    let b = Broker::start(BrokerOpts::default());
    let live = Sub::start(&b, &["#"], &[], &[]);
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(
        tmp.path(),
        "p.toml",
        &format!("url = \"{}\"\nsensor = \"lab\"\n", b.url()),
    );
    let (code, out, err) = watch(&cfg, &[]);
    assert_eq!(code, 0, "{err}");
    let want = events(&out);
    assert_eq!(want.len(), 93, "the demo's events");
    assert_eq!(mqtt_counts(&err), (93, 93, 0, 0), "{err}");
    wait_for("93 events", Duration::from_secs(10), || {
        live.count(|m| m.topic.contains("/events/")) == 93
    });
    // Every event, in order, on plugsniff/lab/events/<event>: the JSON line
    // plus "sensor".
    let got: Vec<Msg> = live
        .msgs()
        .into_iter()
        .filter(|m| m.topic.contains("/events/"))
        .collect();
    for (m, w) in got.iter().zip(&want) {
        assert_eq!(
            m.topic,
            format!("plugsniff/lab/events/{}", w["event"].as_str().unwrap())
        );
        assert!(!m.retain);
        let v = m.json();
        assert_eq!(v["sensor"], "lab");
        assert_eq!(without(v, &["sensor"]), *w);
    }
    // The retained documents, as a client that connects later sees them.
    drop(live);
    let later = Sub::start(&b, &["#"], &[], &[]);
    wait_for("retained documents", Duration::from_secs(10), || {
        later.count(|m| m.topic == "plugsniff/lab/status") == 1
    });
    std::thread::sleep(Duration::from_millis(300));
    let retained = later.msgs();
    assert!(
        retained.iter().all(|m| m.retain),
        "only retained messages arrive late"
    );
    let topic = |t: &str| -> Value {
        retained
            .iter()
            .find(|m| m.topic == t)
            .unwrap_or_else(|| panic!("no retained {t}"))
            .json()
    };
    let sum = summary(&out);
    for d in sum["devices"].as_array().unwrap() {
        let mac = d["mac"].as_str().unwrap();
        let mine = format!("plugsniff/lab/device/{mac}/state");
        let shared = format!("plugsniff/devices/{mac}/state");
        if d["role"] != "plug" {
            assert!(
                retained.iter().all(|m| m.topic != mine),
                "no state for the phone"
            );
            continue;
        }
        let s = topic(&mine);
        assert_eq!(s, topic(&shared), "one document, two topics");
        assert_eq!(s["sensor"], "lab");
        // The name: alias, else model, else DHCP host name, else MAC.
        let name = ["alias", "model", "hostname", "mac"]
            .iter()
            .map(|k| &d[*k])
            .find(|v| !v.is_null())
            .unwrap();
        assert_eq!(&s["name"], name);
        assert_eq!(s["alias"], d["alias"]);
        assert_eq!(s["model"], d["model"]);
        assert_eq!(
            s["relay"],
            match d["relay_on"].as_bool() {
                Some(true) => Value::from("on"),
                Some(false) => Value::from("off"),
                None => Value::Null,
            }
        );
        for (k, dk) in [
            ("power_w", "power_w"),
            ("voltage_v", "voltage_v"),
            ("energy_kwh", "total_kwh"),
        ] {
            match d[dk].as_f64() {
                Some(x) => assert!((s[k].as_f64().unwrap() - x).abs() < 1e-6, "{k}"),
                None => assert!(s[k].is_null(), "{k}"),
            }
        }
        assert_eq!(s["last_seen"], d["last_seen"]);
    }
    let coffee = topic("plugsniff/devices/1c:3b:f3:6e:a8:12/state");
    assert_eq!(coffee["current_a"], 0.412);
    assert_eq!(coffee["relay"], "off");
    assert_eq!(
        coffee["last_command"]["methods"],
        serde_json::json!(["cnCloud.bind"])
    );
    assert_eq!(coffee["last_command"]["from"], "192.168.0.23:52098");
    assert_eq!(coffee["last_command"]["from_mac"], "a6:0c:4f:2d:91:7e");
    assert!(!coffee.to_string().contains("hunter2"));
    // Home Assistant discovery: valid, and exactly these entities.
    let mut entities = Vec::new();
    for m in retained
        .iter()
        .filter(|m| m.topic.starts_with("homeassistant/"))
    {
        let doc = m.json();
        check_discovery(&m.topic, &doc).unwrap_or_else(|e| panic!("{}: {e}\n{doc}", m.topic));
        entities.push(format!(
            "{} {} / {}",
            m.topic.split('/').nth(1).unwrap(),
            doc["device"]["name"].as_str().unwrap(),
            doc["name"].as_str().unwrap()
        ));
        // The state topic it reads carries the field its template reads.
        let st = topic(doc["state_topic"].as_str().unwrap());
        let path: String = doc["value_template"]
            .as_str()
            .unwrap()
            .split("value_json.")
            .nth(1)
            .unwrap()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '.')
            .collect();
        let mut v = Some(&st);
        for part in path.split('.') {
            v = v.and_then(|x| x.get(part));
        }
        assert!(v.is_some(), "{}: {path} not in {st}", m.topic);
    }
    entities.sort();
    // Every plug of every vendor, named as display_name does (the Tuya
    // plugs by their DHCP host name), each reading it reported.
    let want_entities = [
        "binary_sensor Coffee maker / Relay",
        "binary_sensor Desk lamp / Relay",
        "binary_sensor ESP_5A173C / Relay",
        "binary_sensor Fan heater / Relay",
        "binary_sensor SmartPlug-8E42B5 / Relay",
        "binary_sensor Washing machine / Relay",
        "sensor Coffee maker / Current",
        "sensor Coffee maker / Energy",
        "sensor Coffee maker / Last command",
        "sensor Coffee maker / Last seen",
        "sensor Coffee maker / Power",
        "sensor Coffee maker / Voltage",
        "sensor Desk lamp / Last command",
        "sensor Desk lamp / Last seen",
        "sensor ESP_5A173C / Current",
        "sensor ESP_5A173C / Last command",
        "sensor ESP_5A173C / Last seen",
        "sensor ESP_5A173C / Power",
        "sensor ESP_5A173C / Voltage",
        "sensor Fan heater / Current",
        "sensor Fan heater / Energy",
        "sensor Fan heater / Last command",
        "sensor Fan heater / Last seen",
        "sensor Fan heater / Power",
        "sensor Fan heater / Voltage",
        "sensor SmartPlug-8E42B5 / Current",
        "sensor SmartPlug-8E42B5 / Last command",
        "sensor SmartPlug-8E42B5 / Last seen",
        "sensor SmartPlug-8E42B5 / Power",
        "sensor SmartPlug-8E42B5 / Voltage",
        "sensor Washing machine / Energy",
        "sensor Washing machine / Last command",
        "sensor Washing machine / Last seen",
        "sensor Washing machine / Power",
        "sensor plugsniff lab / Devices",
        "sensor plugsniff lab / Frames captured",
        "sensor plugsniff lab / Frames decrypted",
        "sensor plugsniff lab / Frames dropped",
        "sensor plugsniff lab / Frames shed",
        "sensor plugsniff lab / MQTT events dropped",
        "sensor plugsniff lab / Messages",
        "sensor plugsniff lab / Stations with keys",
    ];
    assert_eq!(entities, want_entities);
    // The status: offline after the clean stop, counters as the summary's.
    let st = topic("plugsniff/lab/status");
    assert_eq!(st["state"], "offline");
    assert_eq!(st["frames"]["read"], sum["wifi"]["frames"]["read"]);
    assert_eq!(
        st["frames"]["decrypted"],
        sum["wifi"]["frames"]["decrypted"]
    );
    assert_eq!(
        st["frames"]["dropped_by_reason"],
        sum["wifi"]["frames"]["dropped"]
    );
    assert_eq!(st["capture"]["captured"], 424);
    assert_eq!(st["keys"]["confirmed"], 7);
    assert_eq!(st["mqtt"]["events_queued"], 93);
    assert!(
        b.log().contains("Received DISCONNECT from plugsniff-lab"),
        "a clean stop"
    );
}

/// A wrong password stops the command before it captures, exit 4, with the
/// broker's reason and without the password; the right one works.
#[test]
fn wrong_password_is_refused_at_start() {
    if !have(&[
        "mosquitto",
        "mosquitto_sub",
        "mosquitto_pub",
        "mosquitto_passwd",
    ]) {
        return;
    }
    let b = Broker::start(BrokerOpts {
        user: Some(("sensor".into(), "right-pass-1".into())),
        ..Default::default()
    });
    let tmp = tempfile::tempdir().unwrap();
    let bad = config(
        tmp.path(),
        "bad.toml",
        &format!(
            "url = \"{}\"\nsensor = \"lab\"\nusername = \"sensor\"\npassword = \"hunter2-wrong\"\n",
            b.url()
        ),
    );
    let t0 = Instant::now();
    let (code, out, err) = watch(&bad, &[]);
    assert_eq!(
        code, 4,
        "README: 4 = an output could not be opened or written\n{err}"
    );
    assert!(out.is_empty(), "nothing captured: {out:?}");
    // Mosquitto answers a wrong password with "not authorized" (MQTT 3.1.1
    // return code 5), other brokers with "bad user name or password" (4).
    assert!(
        err.contains("the broker refused the connection")
            && (err.contains("wrong username or password")
                || err.contains("bad user name or password")),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
    assert!(t0.elapsed() < Duration::from_secs(10));
    let good = config(
        tmp.path(),
        "good.toml",
        &format!(
            "url = \"{}\"\nsensor = \"lab\"\nusername = \"sensor\"\npassword = \"right-pass-1\"\n",
            b.url()
        ),
    );
    let sub = Sub::start(&b, &["plugsniff/#"], &[], &[]);
    // At the most verbose log level (rumqttc's own logs included), the
    // password never shows.
    let (code, _, err) = watch(&good, &["-vvv"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("MQTT: connected"), "the logs are on: {err}");
    assert!(!err.contains("right-pass-1"), "{err}");
    wait_for("events", Duration::from_secs(10), || {
        sub.count(|m| m.topic.contains("/events/")) == 93
    });
    // A password on the command line does not exist: the option is refused.
    let o = Command::new(BIN)
        .args(["watch", "-r", &demo(), "--mqtt-password", "x"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

/// No broker: the queue holds `queue` events, the rest are dropped, and
/// at the end nothing is lost without being counted.
#[test]
fn broker_away_events_are_queued_then_dropped_and_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port(); // nothing listens there
    let cfg = config(
        tmp.path(),
        "p.toml",
        &format!(
            "url = \"mqtt://127.0.0.1:{port}\"\nsensor = \"lab\"\nqueue = 5\nconnect_wait_s = 1\nflush_timeout_s = 1\n"
        ),
    );
    let t0 = Instant::now();
    let (code, out, err) = watch(&cfg, &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        events(&out).len(),
        93,
        "capture is not held back by the broker"
    );
    assert!(err.contains("not reachable"), "{err}");
    assert!(err.contains("MQTT queue full"), "{err}");
    // queued 5, published 0, unsent 5, dropped 88.
    assert_eq!(mqtt_counts(&err), (5, 0, 5, 88), "{err}");
    assert!(t0.elapsed() < Duration::from_secs(15));
}

/// Two sensors hearing the same traffic into one broker: both appear, and
/// de-duplicating by message id gives exactly the demo's events. (Two
/// `watch -r` runs with different sensor names: the live TUN path is
/// exercised by the broker-restart test below.)
#[test]
fn two_sensors_one_broker_dedup_by_id() {
    if !have(&["mosquitto", "mosquitto_sub", "mosquitto_pub"]) {
        return;
    }
    let b = Broker::start(BrokerOpts::default());
    let sub = Sub::start(&b, &["plugsniff/+/events/#"], &[], &[]);
    let tmp = tempfile::tempdir().unwrap();
    let mut single = Vec::new();
    for s in ["livingroom", "bedroom"] {
        let cfg = config(
            tmp.path(),
            &format!("{s}.toml"),
            &format!("url = \"{}\"\nsensor = \"{s}\"\n", b.url()),
        );
        let (code, out, err) = watch(&cfg, &[]);
        assert_eq!(code, 0, "{err}");
        single = events(&out);
    }
    wait_for("186 events", Duration::from_secs(10), || {
        sub.count(|_| true) == 186
    });
    let msgs = sub.msgs();
    let sensors: std::collections::BTreeSet<String> = msgs
        .iter()
        .map(|m| m.json()["sensor"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        sensors.into_iter().collect::<Vec<_>>(),
        ["bedroom", "livingroom"]
    );
    let mut by_id: std::collections::BTreeMap<String, Value> = Default::default();
    for m in &msgs {
        let v = without(m.json(), &["sensor"]);
        let id = v["id"].as_str().unwrap().to_string();
        if let Some(prev) = by_id.insert(id.clone(), v.clone()) {
            assert_eq!(prev, v, "one id, one message: {id}");
        }
    }
    let mut want: Vec<Value> = single;
    want.sort_by_key(|v| v["id"].as_str().unwrap().to_string());
    let got: Vec<Value> = by_id.into_values().collect();
    assert_eq!(got, want, "de-duplicated by id: exactly the demo's events");
}

/// `plugsniff merge` over the JSON-lines files of two sensors: the demo's
/// events once each, heard by both; the inputs untouched; the output
/// written whole or not at all.
#[test]
fn merge_two_sensor_files() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = format!("{}/captures/demo.toml", env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for s in ["kitchen", "garage"] {
        let f = tmp.path().join(format!("{s}.jsonl"));
        let o = Command::new(BIN)
            .args([
                "watch",
                "-r",
                &demo(),
                "--json",
                "--config",
                &cfg,
                "--jsonl",
            ])
            .arg(&f)
            .output()
            .unwrap();
        assert!(o.status.success());
        files.push(f);
    }
    let single = events(
        &std::fs::read_to_string(&files[0])
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect::<Vec<_>>(),
    );
    let before: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    let out = tmp.path().join("all.jsonl");
    let o = Command::new(BIN)
        .arg("merge")
        .args(&files)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("93 events written, 93 copies merged, 2 summaries"),
        "{err}"
    );
    let merged: Vec<Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(merged.len(), 93);
    // In capture-time order (a run emits a flow's close when it expires,
    // after later packets; the merge sorts within its window).
    let mut want = single.clone();
    want.sort_by_key(|v| v["ts"].as_str().unwrap().to_string());
    for (m, w) in merged.iter().zip(&want) {
        assert_eq!(m["heard_by"], serde_json::json!(["garage", "kitchen"]));
        assert!(m["sensor"] == "kitchen" || m["sensor"] == "garage");
        assert_eq!(&without(m.clone(), &["sensor", "heard_by"]), w);
    }
    for (f, b) in files.iter().zip(&before) {
        assert_eq!(&std::fs::read(f).unwrap(), b, "inputs are never written");
    }
    assert!(!tmp.path().join("all.jsonl.partial").exists());
    // Run again: the output is replaced whole (output::dest), never an input.
    let first = std::fs::read(&out).unwrap();
    let merge_into = |o: &Path| {
        Command::new(BIN)
            .arg("merge")
            .args(&files)
            .arg("-o")
            .arg(o)
            .output()
            .unwrap()
    };
    assert!(merge_into(&out).status.success());
    assert_eq!(std::fs::read(&out).unwrap(), first);
    let o = merge_into(&files[0]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("which is read"));
    assert_eq!(std::fs::read(&files[0]).unwrap(), before[0]);
    // A missing input: exit 3, nothing written.
    let o = Command::new(BIN)
        .args(["merge", "/nonexistent/x.jsonl", "-o"])
        .arg(tmp.path().join("none.jsonl"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    assert!(!tmp.path().join("none.jsonl").exists());
    assert!(!tmp.path().join("none.jsonl.partial").exists());
}

/// MQTT 5 over TLS (rustls, the CA from `ca_file`), to a broker whose
/// certificate `openssl` made for the test.
#[test]
fn mqtt5_over_tls() {
    if !have(&["mosquitto", "mosquitto_sub", "mosquitto_pub", "openssl"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let ssl = |args: &[&str]| {
        let o = Command::new("openssl")
            .args(args)
            .current_dir(d)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    ssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=plugsniff test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    ssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    std::fs::write(d.join("ext.cnf"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    ssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
        "-out",
        "server.pem",
    ]);
    let b = Broker::start(BrokerOpts {
        tls: Some((d.join("server.pem"), d.join("server.key"))),
        ..Default::default()
    });
    let sub = {
        let ca = d.join("ca.pem");
        Sub::start(
            &b,
            &["plugsniff/#"],
            &["--cafile", ca.to_str().unwrap(), "-V", "mqttv5"],
            &[],
        )
    };
    let cfg = config(
        d,
        "tls.toml",
        &format!(
            "url = \"{}\"\nsensor = \"tls\"\nprotocol = 5\nca_file = \"ca.pem\"\nqos_events = 1\n",
            b.url()
        ),
    );
    let (code, _, err) = watch(&cfg, &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(mqtt_counts(&err), (93, 93, 0, 0), "{err}");
    wait_for("events over TLS", Duration::from_secs(10), || {
        sub.count(|m| m.topic.starts_with("plugsniff/tls/events/")) == 93
    });
    assert!(
        b.log().contains("(p5, c1"),
        "MQTT 5 (protocol level 5) on the broker's side"
    );
    // Without the CA the broker's certificate is not trusted: exit 4.
    let cfg = config(
        d,
        "untrusted.toml",
        &format!("url = \"{}\"\nsensor = \"tls\"\n", b.url()),
    );
    let (code, _, err) = watch(&cfg, &[]);
    if !err.contains("no system CA certificates") {
        assert_eq!(code, 4, "{err}");
        assert!(err.contains("TLS"), "{err}");
    }
}

// ---- Live: the daemon on a TUN device, the broker stopped mid-capture ----

struct Netns(String);

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn can_run_live() -> bool {
    let root = nix::unistd::Uid::effective().is_root();
    let tun = Path::new("/dev/net/tun").exists();
    let ip = Command::new("ip").arg("-V").output().is_ok();
    let py = Command::new("python3").arg("-V").output().is_ok();
    if root && tun && ip && py {
        return true;
    }
    let why = format!("root={root} /dev/net/tun={tun} ip={ip} python3={py}");
    if ci() {
        panic!("CI=true but the live MQTT test cannot run: {why}");
    }
    eprintln!("SKIP: live MQTT test needs root, ip, python3, /dev/net/tun ({why})");
    false
}

/// `/metrics` fetched in the namespace and parsed by prometheus_client;
/// `None` when that package is missing (skipped, or a failure under CI).
fn scrape(ns: &str, port: u16) -> Option<Value> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/prom_parse.py");
    let o = Command::new("ip")
        .args(["netns", "exec", ns, "python3", script])
        .arg(format!("http://127.0.0.1:{port}/metrics"))
        .output()
        .unwrap();
    if o.status.code() == Some(3) {
        assert!(
            !ci(),
            "CI=true but prometheus_client is missing (pip install prometheus-client)"
        );
        eprintln!(
            "SKIP (metrics part): {}",
            String::from_utf8_lossy(&o.stderr)
        );
        return None;
    }
    assert!(
        o.status.success(),
        "prom_parse.py: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    Some(serde_json::from_slice(&o.stdout).unwrap())
}

fn sample(m: &Value, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    m["samples"].as_array().unwrap().iter().find_map(|s| {
        let ok = s[0] == name
            && labels.iter().all(|(k, v)| s[1][*k] == *v)
            && s[1].as_object().unwrap().len() == labels.len();
        ok.then(|| s[2].as_f64().unwrap())
    })
}

/// The daemon capturing live; the broker stopped after the first 60 frames
/// and started again after the rest: capture goes on while it is away
/// (events keep coming on stdout), the events the queue (12) cannot hold are
/// dropped and counted exactly, the others arrive after the reconnect
/// (QoS 1, a persistent subscriber, de-duplicated by id), the retained state
/// is published again, and `/metrics`, scraped before the daemon stops,
/// parses and matches its final summary.
#[test]
fn broker_restart_mid_capture_live_daemon_and_metrics() {
    if !have(&["mosquitto", "mosquitto_sub", "mosquitto_pub"]) || !can_run_live() {
        return;
    }
    let ns = Netns(format!("psmqtt-{}", std::process::id()));
    let _ = Command::new("ip")
        .args(["netns", "del", &ns.0])
        .stderr(Stdio::null())
        .status();
    assert!(
        Command::new("ip")
            .args(["netns", "add", &ns.0])
            .status()
            .unwrap()
            .success()
    );
    assert!(
        Command::new("ip")
            .args(["netns", "exec", &ns.0, "ip", "link", "set", "lo", "up"])
            .status()
            .unwrap()
            .success()
    );
    let mut b = Broker::start(BrokerOpts {
        persistence: true,
        netns: Some(ns.0.clone()),
        ..Default::default()
    });
    // A persistent session (clean session off, QoS 1): what is published
    // while it reconnects is kept for it.
    let sub = Sub::start(
        &b,
        &["plugsniff/#"],
        &[],
        &["-c", "-i", "psniff-test-sub", "-q", "1"],
    );
    let tmp = tempfile::tempdir().unwrap();
    let metrics_port = free_port();
    let cfg = tmp.path().join("daemon.toml");
    let keys =
        std::fs::read_to_string(format!("{}/captures/demo.toml", env!("CARGO_MANIFEST_DIR")))
            .unwrap();
    std::fs::write(
        &cfg,
        format!(
            "{keys}\n[capture]\ninterface = \"ptun0\"\nworkers = 2\n\n[output]\njson = true\nstatus_interval = 1\n\n\
             [output.mqtt]\nurl = \"{}\"\nsensor = \"live\"\nqos_events = 1\nqueue = 12\n\
             reconnect_min_s = 0.2\nreconnect_max_s = 0.5\nstatus_interval_s = 1\n\n\
             [output.metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n\n[daemon]\nsandbox = true\n",
            b.url()
        ),
    )
    .unwrap();
    // The replay device, paused after 60 frames.
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/tun_replay.py");
    let mut py = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.0,
            "python3",
            script,
            "--pause-at",
            "60",
            "ptun0",
        ])
        .arg(demo())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut py_out = BufReader::new(py.stdout.take().unwrap());
    let mut line = String::new();
    py_out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready");
    let mut d = Command::new("ip")
        .args(["netns", "exec", &ns.0, BIN, "daemon", "--config"])
        .arg(&cfg)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = d.stdout.take().unwrap();
    let out_lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let ol = out_lines.clone();
    let out_t = std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines().map_while(Result::ok) {
            ol.lock().unwrap().push(l);
        }
    });
    let stderr = d.stderr.take().unwrap();
    let err_text = Arc::new(Mutex::new(String::new()));
    let et = err_text.clone();
    let err_t = std::thread::spawn(move || {
        for l in BufReader::new(stderr).lines().map_while(Result::ok) {
            let mut e = et.lock().unwrap();
            e.push_str(&l);
            e.push('\n');
        }
    });
    wait_for("capturing", Duration::from_secs(20), || {
        err_text.lock().unwrap().contains("capturing on")
    });
    let n_events = |lines: &[String]| {
        lines
            .iter()
            .filter(|l| !l.contains("\"event\":\"summary\""))
            .count()
    };
    let go = |py: &mut Child| writeln!(py.stdin.as_mut().unwrap(), "go").unwrap();
    go(&mut py);
    line.clear();
    py_out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "paused 60");
    // Everything of the first 60 frames reached the subscriber.
    // (On Linux the capture thread holds the frames after the last full
    // batch until more arrive: the pause shows fewer than 60.)
    let t0 = Instant::now();
    let mut stable = (0, Instant::now());
    loop {
        let n = n_events(&out_lines.lock().unwrap());
        let got = sub.count(|m| m.topic.contains("/events/"));
        if n != stable.0 {
            stable = (n, Instant::now());
        }
        if n >= 6 && got == n && stable.1.elapsed() > Duration::from_millis(500) {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "first events: {n} on stdout, {got} at the subscriber\n{}\nbroker:\n{}",
            err_text.lock().unwrap(),
            b.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let before_stop = n_events(&out_lines.lock().unwrap());
    b.stop();
    wait_for(
        "the daemon to see the broker gone",
        Duration::from_secs(10),
        || err_text.lock().unwrap().contains("MQTT connection lost"),
    );
    // The rest of the capture while the broker is away.
    go(&mut py);
    line.clear();
    py_out.read_line(&mut line).unwrap();
    assert!(line.starts_with("done 424"), "replay: {line}");
    wait_for(
        "the capture to go on without the broker",
        Duration::from_secs(20),
        || n_events(&out_lines.lock().unwrap()) >= 28,
    );
    let during = n_events(&out_lines.lock().unwrap());
    assert!(
        during > before_stop + 12,
        "capture continued: {before_stop} → {during}"
    );
    assert!(err_text.lock().unwrap().contains("MQTT queue full"));
    let msgs_at_restart = sub.msgs().len();
    b.run();
    wait_for("the reconnect", Duration::from_secs(20), || {
        err_text.lock().unwrap().contains("MQTT: reconnected")
    });
    // The state is published again, live, after the restart.
    wait_for("the state again", Duration::from_secs(20), || {
        let m = sub.msgs();
        let after = &m[msgs_at_restart.min(m.len())..];
        ["1c:3b:f3:6e:a8:12", "b0:95:75:3c:d4:e9"]
            .iter()
            .all(|mac| {
                after
                    .iter()
                    .any(|x| x.topic == format!("plugsniff/live/device/{mac}/state"))
            })
            && after
                .iter()
                .any(|x| x.topic == "plugsniff/live/status" && x.json()["state"] == "online")
    });
    // Metrics while running (after a render of the quiet capture).
    std::thread::sleep(Duration::from_millis(2500));
    let metrics = scrape(&ns.0, metrics_port);
    let events_at_scrape = n_events(&out_lines.lock().unwrap()) as f64;
    // Stop the daemon: it drains, flushes, disconnects.
    assert!(
        Command::new("kill")
            .args(["-TERM", &d.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let status = d.wait().unwrap();
    out_t.join().unwrap();
    err_t.join().unwrap();
    drop(py.stdin.take());
    let _ = py.wait();
    let err = err_text.lock().unwrap().clone();
    assert!(status.success(), "daemon: {status:?}\n{err}");
    let lines = out_lines.lock().unwrap().clone();
    let all = events(&lines);
    let sum = summary(&lines);
    assert_eq!(all.len(), 93, "the live run saw the demo's events\n{err}");
    let (queued, published, unsent, dropped) = mqtt_counts(&err);
    assert_eq!(queued + dropped, 93, "every event queued or dropped\n{err}");
    assert_eq!((published, unsent), (queued, 0));
    assert!(
        dropped > 0,
        "the queue of 12 overflowed while the broker was away"
    );
    eprintln!(
        "live: {before_stop} events before the broker stopped, {during} by the restart; \
         mqtt queued {queued}, published {published}, dropped {dropped}"
    );
    wait_for("the published events", Duration::from_secs(20), || {
        let ids: std::collections::BTreeSet<String> = sub
            .msgs()
            .iter()
            .filter(|m| m.topic.contains("/events/"))
            .map(|m| m.json()["id"].as_str().unwrap().to_string())
            .collect();
        ids.len() as u64 == published
    });
    // What arrived is exactly the events of the run minus the dropped ones.
    let by_id: std::collections::BTreeMap<String, Value> = all
        .iter()
        .map(|v| (v["id"].as_str().unwrap().to_string(), v.clone()))
        .collect();
    let mut got = std::collections::BTreeSet::new();
    for m in sub.msgs().iter().filter(|m| m.topic.contains("/events/")) {
        let v = without(m.json(), &["sensor"]);
        let id = v["id"].as_str().unwrap().to_string();
        assert_eq!(by_id.get(&id), Some(&v), "received what was captured");
        got.insert(id);
    }
    assert_eq!(got.len() as u64, published);
    assert_eq!(by_id.len() as u64 - got.len() as u64, dropped);
    // The counters of /metrics match the final summary.
    let Some(m) = metrics else { return };
    assert!(
        m["content_type"]
            .as_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let frames = &sum["wifi"]["frames"];
    for (metric, v) in [
        ("plugsniff_frames_read_total", &frames["read"]),
        ("plugsniff_frames_decrypted_total", &frames["decrypted"]),
        ("plugsniff_frames_plaintext_total", &frames["plaintext"]),
        (
            "plugsniff_frames_retransmitted_total",
            &frames["retransmitted"],
        ),
    ] {
        assert_eq!(sample(&m, metric, &[]), v.as_f64(), "{metric}");
    }
    for r in ["replay", "mic_failure", "no_key"] {
        let want = frames["dropped"][r].as_f64().unwrap_or(0.0);
        assert_eq!(
            sample(&m, "plugsniff_frames_dropped_total", &[("reason", r)]),
            Some(want),
            "{r}"
        );
    }
    assert_eq!(
        sample(&m, "plugsniff_frames_captured_total", &[]),
        Some(424.0)
    );
    assert_eq!(sample(&m, "plugsniff_frames_shed_total", &[]), Some(0.0));
    // The decoding counters: equal, except what the end of the run itself
    // does (closing the flows still open: flows_expired).
    for (k, v) in sum["decode"].as_object().unwrap() {
        let got = sample(&m, &format!("plugsniff_decode_{k}_total"), &[]).unwrap();
        if k == "flows_expired" {
            assert!(got <= v.as_f64().unwrap(), "{k}");
        } else {
            assert_eq!(Some(got), v.as_f64(), "decode.{k}");
        }
    }
    for d in sum["devices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["role"] == "plug")
    {
        // The name label: alias, else model, else DHCP host name.
        let name = ["alias", "model", "hostname"]
            .iter()
            .find_map(|k| d[*k].as_str())
            .unwrap();
        let labels = [("mac", d["mac"].as_str().unwrap()), ("name", name)];
        assert_eq!(
            sample(&m, "plugsniff_device_relay_on", &labels),
            d["relay_on"].as_bool().map(|b| if b { 1.0 } else { 0.0 })
        );
        assert_eq!(
            sample(&m, "plugsniff_device_power_watts", &labels),
            d["power_w"].as_f64()
        );
        assert_eq!(
            sample(&m, "plugsniff_device_messages_total", &labels),
            d["messages"].as_f64()
        );
    }
    for sta in [
        "1c:3b:f3:6e:a8:12",
        "a6:0c:4f:2d:91:7e",
        "b0:95:75:3c:d4:e9",
        "84:f3:eb:5a:17:3c",
        "10:5a:17:8e:42:b5",
        "e8:6b:ea:e8:c2:a4",
        "94:10:3e:48:c8:d4",
    ] {
        assert_eq!(
            sample(
                &m,
                "plugsniff_station_key_confirmed",
                &[
                    ("bssid", "50:c7:bf:0a:11:01"),
                    ("ssid", "plugsniff-demo"),
                    ("sta", sta)
                ]
            ),
            Some(1.0)
        );
    }
    // Every event so far queued or dropped; none dropped after the outage
    // (the end of the run adds the flows it closes, after the scrape).
    let (mq, md) = (
        sample(&m, "plugsniff_mqtt_events_queued_total", &[]).unwrap(),
        sample(&m, "plugsniff_mqtt_events_dropped_total", &[]).unwrap(),
    );
    assert_eq!(mq + md, events_at_scrape);
    assert_eq!(md, dropped as f64);
    assert_eq!(sample(&m, "plugsniff_mqtt_connected", &[]), Some(1.0));
    assert_eq!(m["types"]["plugsniff_frames_read"], "counter");
    assert_eq!(m["types"]["plugsniff_device_power_watts"], "gauge");
    // Every metric the Grafana dashboard queries is one the daemon exports.
    let dash: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/grafana/plugsniff.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let mut exprs = Vec::new();
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                for (k, x) in o {
                    match (k.as_str(), x.as_str()) {
                        ("expr", Some(e)) => out.push(e.to_string()),
                        _ => walk(x, out),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    walk(&dash, &mut exprs);
    assert!(exprs.len() > 20, "{exprs:?}");
    for e in &exprs {
        for (i, _) in e.match_indices("plugsniff_") {
            let name: String = e[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let family = name.strip_suffix("_total").unwrap_or(&name);
            assert!(
                m["types"].get(family).is_some(),
                "the dashboard queries {name}, which /metrics does not export"
            );
        }
    }
}
