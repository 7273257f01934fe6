//! Merging the JSON-lines event streams of several sensors into one: lines
//! in capture-time order, each message once (`plugsniff merge`).
//!
//! Two lines are one message when they carry the same message `id`
//! ([`super::msgid`]) and capture times within the window of each other
//! (a minute by default: two sensors' clocks and queues differ by far less,
//! and an identical datagram repeated later is a new message). The first
//! line in time order is kept, with `"sensor"` (its own, or the sensor the
//! caller names for its file) and `"heard_by"`: every sensor that heard it,
//! sorted. The rest of the line is the sensor's text, unchanged.
//!
//! Lines without an `id` (files from before ids existed) get one from their
//! content without the fields each sensor measures itself (`ts`, latency,
//! flow totals, learned names): such ids cannot tell two identical requests
//! on one connection apart, so within the window they count as one.
//!
//! Memory: lines wait in a buffer until the newest capture time read is more
//! than the window past theirs (that also puts slightly disordered inputs
//! in order); at most [`MAX_HELD`] lines wait, the oldest are written early
//! past that (counted in [`MergeStats::forced`]). Summary lines (`"event":
//! "summary"`, one per run and sensor) are not events and are left out.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Most lines waiting for their window to pass.
pub const MAX_HELD: usize = 1 << 20;
/// Longest line read (a longer one is skipped and counted as bad).
pub const MAX_LINE: usize = 4 << 20;

/// What a merge did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MergeStats {
    pub lines: u64,
    pub written: u64,
    /// Lines that were another sensor's copy of a written line.
    pub duplicates: u64,
    pub summaries: u64,
    /// Not a JSON object, no `ts`, or too long.
    pub bad: u64,
    /// Lines without an `id` (one was computed).
    pub without_id: u64,
    /// Lines written before their window passed, to stay under [`MAX_HELD`].
    pub forced: u64,
}

/// One event line, read.
#[derive(Debug)]
pub struct EventLine {
    /// Capture time, nanoseconds since the epoch.
    pub ts: i128,
    pub id: String,
    pub sensor: Option<String>,
    pub heard_by: Vec<String>,
    /// The line had no `id`: [`EventLine::id`] was computed from its content.
    pub computed_id: bool,
    text: String,
}

/// What a line is.
#[derive(Debug)]
pub enum Line {
    Event(EventLine),
    Summary,
    Bad(&'static str),
}

/// Reads one line of a JSON-lines event file.
pub fn parse_line(text: &str) -> Line {
    let text = text.trim_end();
    if text.len() > MAX_LINE {
        return Line::Bad("line too long");
    }
    let Ok(Value::Object(o)) = serde_json::from_str::<Value>(text) else {
        return Line::Bad("not a JSON object");
    };
    if o.get("event").and_then(Value::as_str) == Some("summary") {
        return Line::Summary;
    }
    let Some(ts) = o
        .get("ts")
        .and_then(Value::as_str)
        .and_then(|t| humantime::parse_rfc3339(t).ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
    else {
        return Line::Bad("no RFC 3339 ts");
    };
    let (id, computed_id) = match o.get("id").and_then(Value::as_str) {
        Some(id) if !id.is_empty() && id.len() <= 64 => (id.to_owned(), false),
        _ => (content_id(&o), true),
    };
    let strings = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    Line::Event(EventLine {
        ts: ts.as_nanos() as i128,
        sensor: o.get("sensor").and_then(Value::as_str).map(str::to_owned),
        heard_by: strings(o.get("heard_by")),
        id,
        computed_id,
        text: text.to_owned(),
    })
}

/// Fields a sensor measures itself, left out of a computed id.
const OWN_FIELDS: &[&str] = &[
    "ts",
    "id",
    "sensor",
    "heard_by",
    "latency_ms",
    "alias",
    "device",
    "duration_s",
    "bytes_up",
    "bytes_down",
    "packets",
    "mean_interval_s",
    "frame",
    "message",
];

/// An id from a line's content (for lines without one): `x` and 15 hex
/// digits, so it never equals a real one.
fn content_id(o: &serde_json::Map<String, Value>) -> String {
    let mut o = o.clone();
    for k in OWN_FIELDS {
        o.remove(*k);
    }
    // serde_json's map is ordered by key: the text is canonical.
    let text = Value::Object(o).to_string();
    let d = Sha256::digest(text.as_bytes());
    format!("x{}", &hex::encode(&d[..8])[..15])
}

struct Held {
    line: EventLine,
    sensor: String,
    heard_by: BTreeSet<String>,
}

/// The merge (module doc). Feed lines in roughly increasing capture time.
pub struct Merger {
    window_ns: i128,
    held: BTreeMap<(i128, u64), Held>,
    /// Held lines by id.
    seen: HashMap<String, (i128, u64)>,
    seq: u64,
    front: i128,
    pub stats: MergeStats,
}

impl Merger {
    pub fn new(window: std::time::Duration) -> Self {
        Merger {
            window_ns: window.as_nanos() as i128,
            held: BTreeMap::new(),
            seen: HashMap::new(),
            seq: 0,
            front: i128::MIN,
            stats: MergeStats::default(),
        }
    }

    /// One line of the file of sensor `file_sensor`; lines whose window has
    /// passed go to `out`.
    pub fn push<E>(
        &mut self,
        text: &str,
        file_sensor: &str,
        out: &mut impl FnMut(&str) -> Result<(), E>,
    ) -> Result<(), E> {
        self.stats.lines += 1;
        let l = match parse_line(text) {
            Line::Event(l) => l,
            Line::Summary => {
                self.stats.summaries += 1;
                return Ok(());
            }
            Line::Bad(_) => {
                self.stats.bad += 1;
                return Ok(());
            }
        };
        if l.computed_id {
            self.stats.without_id += 1;
        }
        let sensor = l.sensor.clone().unwrap_or_else(|| file_sensor.to_owned());
        self.front = self.front.max(l.ts);
        if let Some(key) = self.seen.get(&l.id).copied()
            && (l.ts - key.0).abs() <= self.window_ns
            && let Some(h) = self.held.get_mut(&key)
        {
            self.stats.duplicates += 1;
            h.heard_by.insert(sensor);
            h.heard_by.extend(l.heard_by.iter().cloned());
            // The earlier copy is the one kept.
            if l.ts < key.0
                && let Some(mut h) = self.held.remove(&key)
            {
                let key = (l.ts, key.1);
                h.sensor = l.sensor.clone().unwrap_or_else(|| file_sensor.to_owned());
                h.line = l;
                self.seen.insert(h.line.id.clone(), key);
                self.held.insert(key, h);
            }
            return self.flush(out, false);
        }
        let key = (l.ts, self.seq);
        self.seq += 1;
        let mut heard_by: BTreeSet<String> = l.heard_by.iter().cloned().collect();
        heard_by.insert(sensor.clone());
        self.seen.insert(l.id.clone(), key);
        self.held.insert(
            key,
            Held {
                line: l,
                sensor,
                heard_by,
            },
        );
        self.flush(out, false)
    }

    /// Writes every line still waiting.
    pub fn finish<E>(&mut self, out: &mut impl FnMut(&str) -> Result<(), E>) -> Result<(), E> {
        self.flush(out, true)
    }

    fn flush<E>(
        &mut self,
        out: &mut impl FnMut(&str) -> Result<(), E>,
        all: bool,
    ) -> Result<(), E> {
        loop {
            let Some((&key, _)) = self.held.first_key_value() else {
                return Ok(());
            };
            let due = all || key.0 < self.front.saturating_sub(self.window_ns);
            let forced = !due && self.held.len() > MAX_HELD;
            if !due && !forced {
                return Ok(());
            }
            if forced {
                self.stats.forced += 1;
            }
            let Some(h) = self.held.remove(&key) else {
                return Ok(());
            };
            if self.seen.get(&h.line.id) == Some(&key) {
                self.seen.remove(&h.line.id);
            }
            self.stats.written += 1;
            out(&render(h))?;
        }
    }
}

/// The kept line with `sensor` (when it had none) and `heard_by`.
fn render(h: Held) -> String {
    let heard: Vec<&String> = h.heard_by.iter().collect();
    if h.line.heard_by.is_empty()
        && let Some(body) = h.line.text.strip_suffix('}')
    {
        let mut s = body.to_owned();
        if h.line.sensor.is_none() {
            s.push_str(",\"sensor\":");
            s.push_str(&Value::String(h.sensor).to_string());
        }
        s.push_str(",\"heard_by\":");
        s.push_str(&serde_json::to_string(&heard).unwrap_or_else(|_| "[]".into()));
        s.push('}');
        return s;
    }
    // A line that already had `heard_by` (a merged file merged again).
    match serde_json::from_str::<Value>(&h.line.text) {
        Ok(Value::Object(mut o)) => {
            o.entry("sensor").or_insert(Value::String(h.sensor));
            o.insert("heard_by".into(), serde_json::json!(heard));
            Value::Object(o).to_string()
        }
        _ => h.line.text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::Strategy;

    fn line(ts: &str, id: &str, extra: &str) -> String {
        format!("{{\"v\":1,\"ts\":\"{ts}\",\"event\":\"message\"{extra},\"id\":\"{id}\"}}")
    }

    fn merge(window: u64, files: &[(&str, Vec<String>)]) -> (Vec<String>, MergeStats) {
        let mut m = Merger::new(std::time::Duration::from_secs(window));
        let mut out = Vec::new();
        // Interleaved in time, as the command's k-way merge does.
        let mut all: Vec<(String, &str)> = files
            .iter()
            .flat_map(|(s, ls)| ls.iter().map(move |l| (l.clone(), *s)))
            .collect();
        all.sort_by_key(|(l, _)| match parse_line(l) {
            Line::Event(e) => e.ts,
            _ => 0,
        });
        for (l, s) in &all {
            m.push(l, s, &mut |x: &str| -> Result<(), ()> {
                out.push(x.to_owned());
                Ok(())
            })
            .unwrap();
        }
        m.finish(&mut |x: &str| -> Result<(), ()> {
            out.push(x.to_owned());
            Ok(())
        })
        .unwrap();
        (out, m.stats)
    }

    #[test]
    fn one_line_per_message_with_every_sensor() {
        let a = vec![
            line("2024-05-01T10:00:00.000001Z", "aa", ""),
            line("2024-05-01T10:00:01Z", "bb", ""),
            "{\"v\":1,\"event\":\"summary\"}".to_string(),
        ];
        let b = vec![
            line("2024-05-01T10:00:00.000300Z", "aa", ",\"latency_ms\":3"),
            line("2024-05-01T10:00:02Z", "cc", ""),
            "garbage".to_string(),
        ];
        let (out, st) = merge(60, &[("a", a), ("b", b)]);
        assert_eq!(out.len(), 3, "{out:?}");
        assert!(
            out[0].contains("\"id\":\"aa\"")
                && out[0].ends_with(",\"sensor\":\"a\",\"heard_by\":[\"a\",\"b\"]}")
        );
        assert!(out[1].contains("\"bb\"") && out[1].ends_with("\"heard_by\":[\"a\"]}"));
        assert!(out[2].contains("\"cc\"") && out[2].contains("\"sensor\":\"b\""));
        assert_eq!(
            (st.duplicates, st.summaries, st.bad, st.written),
            (1, 1, 1, 3)
        );
    }

    #[test]
    fn the_same_id_outside_the_window_is_a_new_message() {
        let a = vec![
            line("2024-05-01T10:00:00Z", "aa", ""),
            line("2024-05-01T10:05:00Z", "aa", ""),
        ];
        let (out, st) = merge(60, &[("a", a)]);
        assert_eq!(out.len(), 2);
        assert_eq!(st.duplicates, 0);
    }

    #[test]
    fn disorder_within_the_window_comes_out_sorted_and_merged_again_is_stable() {
        let a = vec![
            line("2024-05-01T10:00:02Z", "bb", ""),
            line("2024-05-01T10:00:01Z", "aa", ""),
        ];
        let mut m = Merger::new(std::time::Duration::from_secs(60));
        let mut out = Vec::new();
        for l in &a {
            m.push(l, "a", &mut |x: &str| -> Result<(), ()> {
                out.push(x.to_owned());
                Ok(())
            })
            .unwrap();
        }
        m.finish(&mut |x: &str| -> Result<(), ()> {
            out.push(x.to_owned());
            Ok(())
        })
        .unwrap();
        assert!(out[0].contains("\"aa\"") && out[1].contains("\"bb\""));
        // A merged file merged with a copy of itself keeps its lines.
        let (again, st) = merge(60, &[("x", out.clone()), ("y", out.clone())]);
        assert_eq!(again.len(), 2);
        assert_eq!(st.duplicates, 2);
        assert!(again[0].contains("\"heard_by\":[\"a\"]"), "{again:?}");
    }

    #[test]
    fn lines_without_ids_get_one_from_their_content() {
        let l1 = "{\"v\":1,\"ts\":\"2024-05-01T10:00:00Z\",\"event\":\"message\",\"json\":{\"a\":1},\"latency_ms\":2}";
        let l2 = "{\"v\":1,\"ts\":\"2024-05-01T10:00:00.1Z\",\"event\":\"message\",\"json\":{\"a\":1},\"latency_ms\":5}";
        let l3 =
            "{\"v\":1,\"ts\":\"2024-05-01T10:00:00.2Z\",\"event\":\"message\",\"json\":{\"a\":2}}";
        let (out, st) = merge(
            60,
            &[("a", vec![l1.into(), l3.into()]), ("b", vec![l2.into()])],
        );
        assert_eq!(out.len(), 2);
        assert_eq!(st.without_id, 3);
        assert_eq!(st.duplicates, 1);
    }

    proptest::proptest! {
        /// Any bytes, in any order, with or without a window: counted, never
        /// a panic; what is written is what was read, minus copies.
        #[test]
        fn random_lines_never_panic(
            lines in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::string::string_regex(".{0,80}").unwrap(),
                    (0u8..5, 0u64..4).prop_map(|(id, s)| line(
                        &format!("2024-05-01T10:00:0{s}Z"), &format!("i{id}"), "")),
                ],
                0..40,
            ),
            window in 0u64..3,
        ) {
            let mut m = Merger::new(std::time::Duration::from_secs(window));
            let mut n = 0u64;
            for l in &lines {
                m.push(l, "s", &mut |_: &str| -> Result<(), ()> { n += 1; Ok(()) }).unwrap();
            }
            m.finish(&mut |_: &str| -> Result<(), ()> { n += 1; Ok(()) }).unwrap();
            let st = &m.stats;
            proptest::prop_assert_eq!(st.lines, lines.len() as u64);
            proptest::prop_assert_eq!(n, st.written);
            proptest::prop_assert_eq!(st.written + st.duplicates + st.summaries + st.bad, st.lines);
        }
    }

    #[test]
    fn hostile_lines_are_counted_not_fatal() {
        for bad in [
            "",
            "[]",
            "{",
            "{\"ts\":5}",
            "{\"ts\":\"yesterday\"}",
            "\u{0}",
        ] {
            assert!(matches!(parse_line(bad), Line::Bad(_)), "{bad:?}");
        }
        let long = format!("{{\"ts\":\"{}\"}}", "x".repeat(MAX_LINE));
        assert!(matches!(parse_line(&long), Line::Bad("line too long")));
    }
}
