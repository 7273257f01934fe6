//! `watch` end to end: TCP cases on synthetic wired captures (in order,
//! reordered, retransmitted, split length prefix, several messages per segment,
//! a gap mid-message), hostile input, a snapshot of `watch --json` on the demo
//! capture, and Wireshark's own TP-Link dissector as an independent check.

mod common;

use plugsniff::decoders::tplink::xor;
use plugsniff::output::json::{direction, to_json_line};
use plugsniff::report::event::{CloudState, EventBody};
use plugsniff::synth::frames::{Side, TcpConn};
use plugsniff::watch::{WatchOptions, Watcher};
use plugsniff::wire::Ts;

const PHONE: [u8; 6] = [0xa6, 0x0c, 0x4f, 0x2d, 0x91, 0x7e];
const PLUG: [u8; 6] = [0x50, 0xc7, 0xbf, 0x01, 0x02, 0x03];

fn eth(src: [u8; 6], dst: [u8; 6], ip: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + ip.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    f.extend_from_slice(ip);
    f
}

/// A length-prefixed XOR message as the Kasa app sends it on TCP 9999.
fn framed(json: &str) -> Vec<u8> {
    let mut v = (json.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(&xor::encrypt(json.as_bytes()));
    v
}

struct Run {
    w: Watcher,
    t: i64,
}

impl Run {
    fn new() -> Self {
        Run {
            w: Watcher::new(Vec::new(), WatchOptions::default()),
            t: 1_700_000_000,
        }
    }
    fn feed(&mut self, from_client: bool, ip: &[u8]) {
        self.t += 1;
        self.feed_now(from_client, ip);
    }
    /// Without advancing the clock (no idle expiry in between).
    fn feed_now(&mut self, from_client: bool, ip: &[u8]) {
        let f = if from_client {
            eth(PHONE, PLUG, ip)
        } else {
            eth(PLUG, PHONE, ip)
        };
        self.w.process_plain(Ts::from_micros(self.t, 0), 1, &f);
    }
    fn messages(&mut self) -> Vec<(String, serde_json::Value)> {
        self.w.finish();
        self.w
            .drain_events()
            .filter_map(|e| match e.body {
                EventBody::Message(m) => Some((direction(m.kind).to_string(), m.json)),
                _ => None,
            })
            .collect()
    }
}

const REQ: &str = r#"{"system":{"get_sysinfo":{}}}"#;
const RESP: &str = r#"{"system":{"get_sysinfo":{"alias":"Kettle","model":"HS100(UK)","relay_state":1,"err_code":0}}}"#;
const OFF: &str = r#"{"system":{"set_relay_state":{"state":0}}}"#;

fn conn() -> TcpConn {
    TcpConn::new(
        ([192, 168, 1, 20], 50_000),
        ([192, 168, 1, 40], 9999),
        1000,
        90_000,
    )
}

fn handshake(r: &mut Run, c: &mut TcpConn) {
    r.feed(true, &c.syn());
    r.feed(false, &c.syn_ack());
    r.feed(true, &c.ack(Side::Client));
}

#[test]
fn in_order_request_and_response_are_paired() {
    let mut r = Run::new();
    let mut c = conn();
    handshake(&mut r, &mut c);
    r.feed(true, &c.data(Side::Client, &framed(REQ)));
    r.feed(false, &c.data(Side::Server, &framed(RESP)));
    let m = r.messages();
    assert_eq!(m.len(), 2);
    assert_eq!(m[0].0, "request");
    assert_eq!(m[1].1["system"]["get_sysinfo"]["alias"], "Kettle");
    let dev =
        r.w.an
            .inventory
            .devices()
            .find(|d| d.alias.is_some())
            .unwrap();
    assert_eq!(dev.model.as_deref(), Some("HS100(UK)"));
    assert_eq!(dev.relay_on, Some(true));
}

#[test]
fn reordered_retransmitted_and_split_segments() {
    let mut r = Run::new();
    let mut c = conn();
    handshake(&mut r, &mut c);
    let req = framed(REQ);
    // Length prefix split: 2 bytes, then the rest in two pieces sent out of order.
    let s1 = c.data(Side::Client, &req[..2]);
    let s2 = c.data(Side::Client, &req[2..10]);
    let s3 = c.data(Side::Client, &req[10..]);
    r.feed(true, &s1);
    r.feed(true, &s3);
    r.feed(true, &s2);
    r.feed(true, &s2); // retransmission
    // Two messages in one segment.
    let mut two = framed(RESP);
    two.extend_from_slice(&framed(OFF));
    let s4 = c.data(Side::Server, &two);
    r.feed(false, &s4);
    r.feed(false, &s4); // retransmission again
    let m = r.messages();
    assert_eq!(m.len(), 3, "{m:?}");
    assert_eq!(
        m[0].1,
        serde_json::from_str::<serde_json::Value>(REQ).unwrap()
    );
    assert_eq!(m[2].1["system"]["set_relay_state"]["state"], 0);
}

#[test]
fn gap_mid_message_is_not_glued_and_decoding_recovers() {
    let mut r = Run::new();
    let mut c = conn();
    handshake(&mut r, &mut c);
    let req = framed(RESP);
    let _lost = c.data(Side::Client, &req[..20]);
    let rest = c.data(Side::Client, &req[20..]);
    r.feed(true, &rest); // the first part never arrives: a gap
    r.feed(true, &c.data(Side::Client, &framed(OFF)));
    r.feed(true, &c.fin(Side::Client));
    let m = r.messages();
    // The damaged message is never emitted as if whole; the next one is decoded.
    assert!(
        m.iter()
            .all(|(_, j)| j.get("system").and_then(|s| s.get("get_sysinfo")).is_none()),
        "{m:?}"
    );
    assert!(
        m.iter()
            .any(|(_, j)| j["system"]["set_relay_state"]["state"] == 0),
        "{m:?}"
    );
}

#[test]
fn hostile_length_prefix_and_non_json_body() {
    let mut r = Run::new();
    let mut c = conn();
    handshake(&mut r, &mut c);
    let mut bad = 0xffff_ffffu32.to_be_bytes().to_vec();
    bad.extend_from_slice(&[0x41; 100]);
    r.feed(true, &c.data(Side::Client, &bad));
    r.feed(true, &c.data(Side::Client, &framed(OFF)));
    // A body that deciphers to something that is not JSON.
    let mut junk = 12u32.to_be_bytes().to_vec();
    junk.extend_from_slice(&xor::encrypt(b"hello world!"));
    r.feed(false, &c.data(Side::Server, &junk));
    r.w.finish();
    let events: Vec<_> = r.w.drain_events().collect();
    assert!(
        r.w.an
            .stats
            .get(plugsniff::report::counters::Count::TplinkDesyncs)
            >= 1
    );
    assert!(events.iter().any(|e| matches!(&e.body, EventBody::Message(m) if m.json["system"]["set_relay_state"]["state"] == 0)));
    assert!(
        events
            .iter()
            .any(|e| matches!(&e.body, EventBody::Undecodable(_)))
    );
    assert_eq!(
        r.w.an
            .stats
            .get(plugsniff::report::counters::Count::TplinkUndecodable),
        1
    );
}

#[test]
fn syn_flood_is_bounded_and_counted() {
    let mut r = Run::new();
    let n = plugsniff::watch::MAX_FLOWS + 1000;
    for i in 0..n {
        let mut c = TcpConn::new(
            ([10, (i >> 16) as u8, (i >> 8) as u8, i as u8], 40_000),
            ([192, 168, 1, 40], 9999),
            i as u32,
            0,
        );
        r.feed_now(true, &c.syn());
    }
    // The table stays at its cap: the oldest half-open flows made room.
    assert_eq!(r.w.flow_count(), plugsniff::watch::MAX_FLOWS);
    assert_eq!(r.w.flow_stats().evicted_no_payload, 1000);
    assert_eq!(
        r.w.an
            .stats
            .get(plugsniff::report::counters::Count::FlowsRefused),
        0
    );
    // A real connection opened after the flood is decoded (a table that
    // refused new flows when full would lose it).
    let mut c = TcpConn::new(([10, 255, 0, 1], 40_000), ([192, 168, 1, 40], 9999), 7, 5);
    r.feed_now(true, &c.syn());
    r.feed_now(false, &c.syn_ack());
    r.feed_now(true, &c.data(Side::Client, &framed(OFF)));
    assert_eq!(r.messages().len(), 1);
    // Flows that carried payload are never evicted: fill the table with
    // them and a newcomer is refused, counted.
    let mut r = Run::new();
    for i in 0..plugsniff::watch::MAX_FLOWS + 10 {
        let mut c = TcpConn::new(
            ([10, (i >> 16) as u8, (i >> 8) as u8, i as u8], 40_000),
            ([192, 168, 1, 40], 9999),
            i as u32,
            0,
        );
        let _ = c.syn();
        r.feed_now(true, &c.data(Side::Client, b"\0\0"));
    }
    assert_eq!(r.w.flow_count(), plugsniff::watch::MAX_FLOWS);
    assert_eq!(
        r.w.an
            .stats
            .get(plugsniff::report::counters::Count::FlowsRefused),
        10
    );
    assert_eq!(r.w.flow_stats().refused_full, 10);
    assert_eq!(r.w.flow_stats().evicted_no_payload, 0);
}

/// Hundreds of flows each holding ~200 KiB of out-of-order data behind a
/// hole (under the per-direction cap): all together they stop at the global
/// budget, the gauge matches a recount, and a real message still decodes.
#[test]
fn tcp_buffering_across_flows_is_budgeted() {
    use plugsniff::watch::MAX_TCP_BUFFERED_TOTAL;
    let mut r = Run::new();
    let seg = vec![0x41u8; 1460];
    let per_flow = 140; // 204 400 bytes, under MAX_BUFFERED_PER_DIRECTION
    let flows = MAX_TCP_BUFFERED_TOTAL / (per_flow * seg.len()) + 40;
    for i in 0..flows {
        let mut c = TcpConn::new(
            ([10, 1, (i >> 8) as u8, i as u8], 40_000),
            ([192, 168, 1, 40], 9999),
            i as u32,
            0,
        );
        r.feed_now(true, &c.syn());
        let _hole = c.data(Side::Client, b"x"); // never seen
        for _ in 0..per_flow {
            r.feed_now(true, &c.data(Side::Client, &seg));
        }
        assert!(r.w.an.stats.tcp_buffered <= MAX_TCP_BUFFERED_TOTAL);
    }
    assert_eq!(r.w.an.stats.tcp_buffered, r.w.tcp_buffered_recount());
    assert!(
        r.w.an.stats.tcp_buffered > MAX_TCP_BUFFERED_TOTAL - per_flow * seg.len(),
        "{}",
        r.w.an.stats.tcp_buffered
    );
    // Each flow that met a full budget gave up its hole once (then its
    // segments were in order and needed no buffer): about the 40 extra ones.
    let flushes =
        r.w.an
            .stats
            .get(plugsniff::report::counters::Count::TcpBudgetFlushes);
    assert!((39..=41).contains(&flushes), "{flushes}");
    // Real traffic still decodes.
    let mut c = TcpConn::new(([10, 2, 0, 1], 40_001), ([192, 168, 1, 40], 9999), 9, 5);
    r.feed_now(true, &c.syn());
    r.feed_now(false, &c.syn_ack());
    r.feed_now(true, &c.data(Side::Client, &framed(OFF)));
    // Idle expiry and the end of the capture release what the flows held.
    r.t += 3600;
    r.feed_now(true, &c.data(Side::Client, &framed(OFF)));
    assert_eq!(r.w.an.stats.tcp_buffered, r.w.tcp_buffered_recount());
    assert_eq!(r.w.an.stats.tcp_buffered, 0);
    assert_eq!(r.messages().len(), 2);
}

/// Over a thousand flows each in the middle of a ~59 KiB TP-Link message
/// (in order, so nothing for the TCP budget): the framers' buffers together
/// stop at the decoder budget, the gauge matches a recount, and a real
/// message on a new connection still decodes.
#[test]
fn decoder_buffers_across_flows_are_budgeted() {
    use plugsniff::watch::MAX_DECODER_HELD_TOTAL;
    let mut r = Run::new();
    let seg = vec![0x41u8; 1460];
    let per_flow = 40; // 58 400 body bytes of a declared 60 000
    let flows = MAX_DECODER_HELD_TOTAL / (64 << 10) + 60;
    for i in 0..flows {
        let mut c = TcpConn::new(
            ([10, 3, (i >> 8) as u8, i as u8], 40_000),
            ([192, 168, 1, 40], 9999),
            i as u32,
            0,
        );
        r.feed_now(true, &c.syn());
        r.feed_now(true, &c.data(Side::Client, &60_000u32.to_be_bytes()));
        for _ in 0..per_flow {
            r.feed_now(true, &c.data(Side::Client, &seg));
        }
        assert!(r.w.an.stats.decoder_held <= MAX_DECODER_HELD_TOTAL);
    }
    assert_eq!(r.w.an.stats.decoder_held, r.w.decoder_held_recount());
    assert!(
        r.w.an.stats.decoder_held > MAX_DECODER_HELD_TOTAL / 2,
        "{}",
        r.w.an.stats.decoder_held
    );
    let releases =
        r.w.an
            .stats
            .get(plugsniff::report::counters::Count::DecoderBudgetReleases);
    assert!(releases >= 50, "{releases}");
    assert_eq!(r.w.an.stats.tcp_buffered, 0);
    // Real traffic still decodes.
    let mut c = TcpConn::new(([10, 4, 0, 1], 40_001), ([192, 168, 1, 40], 9999), 9, 5);
    r.feed_now(true, &c.syn());
    r.feed_now(false, &c.syn_ack());
    r.feed_now(true, &c.data(Side::Client, &framed(OFF)));
    assert_eq!(r.messages().len(), 1);
    assert_eq!(r.w.decoder_held_recount(), 0);
}

#[test]
fn truncated_tls_records_do_not_panic() {
    let mut r = Run::new();
    let mut c = TcpConn::new(([192, 168, 1, 40], 51_000), ([52, 57, 118, 9], 50443), 7, 9);
    handshake(&mut r, &mut c);
    let hello = plugsniff::synth::frames::tls_client_hello([7; 32], "n-devs.tplinkcloud.com");
    for cut in [1, 5, 9, hello.len() / 2] {
        let mut c2 = TcpConn::new(
            ([192, 168, 1, 40], 51_000 + cut as u16),
            ([52, 57, 118, 9], 50443),
            7,
            9,
        );
        handshake(&mut r, &mut c2);
        r.feed(true, &c2.data(Side::Client, &hello[..cut]));
        r.feed(true, &c2.fin(Side::Client));
    }
    r.feed(true, &c.data(Side::Client, &hello));
    r.w.finish();
    let events: Vec<_> = r.w.drain_events().collect();
    let sni: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::CloudLink(c) if c.state == CloudState::Opened => c.sni.clone(),
            _ => None,
        })
        .collect();
    assert_eq!(sni, vec!["n-devs.tplinkcloud.com".to_string()]);
}

fn demo_json(show_secrets: bool) -> Vec<String> {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_plugsniff"));
    let dir = env!("CARGO_MANIFEST_DIR");
    cmd.args([
        "watch",
        "-r",
        &format!("{dir}/captures/demo.pcapng"),
        "--config",
        &format!("{dir}/captures/demo.toml"),
        "--json",
    ]);
    if show_secrets {
        cmd.arg("--show-secrets");
    }
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// `watch --json` on the demo capture, compared with the committed snapshot.
/// After a deliberate change: `UPDATE_SNAPSHOTS=1 cargo test --test watch`.
#[test]
fn snapshot_watch_json_on_demo() {
    let lines = demo_json(false);
    let text = lines.join("\n") + "\n";
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/snapshots/watch-demo.jsonl"
    );
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(std::path::Path::new(path).parent().unwrap()).unwrap();
        std::fs::write(path, &text).unwrap();
    }
    let want =
        std::fs::read_to_string(path).expect("snapshot missing: run with UPDATE_SNAPSHOTS=1");
    assert_eq!(
        text, want,
        "watch --json output changed; review and rerun with UPDATE_SNAPSHOTS=1"
    );
    // Every line is versioned JSON; the password never appears.
    for l in &lines {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert_eq!(v["v"], 1);
    }
    assert!(!text.contains("hunter2"));
    let _ = to_json_line;
}

/// Wireshark's own `tplink-smarthome` dissector, on the same capture decrypted
/// with the passphrase, shows the same JSON documents as plugsniff's TP-Link messages.
#[test]
fn same_json_as_wiresharks_tplink_dissector() {
    let ok = std::process::Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok();
    if !ok {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "CI=true but tshark is missing"
        );
        eprintln!("SKIP: tshark not installed");
        return;
    }
    let dir = env!("CARGO_MANIFEST_DIR");
    let o = std::process::Command::new("tshark")
        .args(["-r", &format!("{dir}/captures/demo.pcapng")])
        .args(["-o", "wlan.enable_decryption:TRUE"])
        .args([
            "-o",
            "uat:80211_keys:\"wpa-pwd\",\"correct horse battery:plugsniff-demo\"",
        ])
        .args([
            "-Y",
            "tplink-smarthome",
            "-T",
            "fields",
            "-e",
            "tplink_smarthome.msg",
        ])
        .args(["-E", "aggregator=\u{1f}"])
        .output()
        .unwrap();
    let theirs: std::collections::BTreeSet<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .flat_map(|l| l.split('\u{1f}'))
        .filter(|l| !l.is_empty())
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .expect("tshark JSON")
                .to_string()
        })
        .collect();
    assert!(theirs.len() >= 8, "tshark decoded too little: {theirs:?}");
    let ours: std::collections::BTreeSet<String> = demo_json(true)
        .iter()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            (v["event"] == "message" && v["protocol"] == "tplink-smarthome")
                .then(|| v["json"].to_string())
        })
        .collect();
    assert_eq!(ours, theirs);
}

/// Checks the event-stream contract of `docs/events.md` on one `--json`
/// output: every line (the summary too) has `ts`, `ts` never decreases, and
/// no number carries binary floating-point noise (a reading the device sent
/// as `230123` mV prints as `230.123`).
fn assert_stream_contract(name: &str, lines: &[String]) {
    let mut prev: Option<String> = None;
    for (i, l) in lines.iter().enumerate() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        let ts = v["ts"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: line {i} has no ts: {l}"))
            .to_owned();
        if let Some(p) = &prev {
            assert!(
                *p <= ts,
                "{name}: line {i} goes back in time ({p} then {ts}): {l}"
            );
        }
        prev = Some(ts);
        fn walk(name: &str, v: &serde_json::Value) {
            match v {
                serde_json::Value::Number(n) if n.is_f64() => {
                    let s = n.to_string();
                    let digits = s.trim_start_matches('-').replace('.', "");
                    let significant = digits.trim_start_matches('0').len();
                    assert!(significant <= 12, "{name}: {s} carries float noise");
                }
                serde_json::Value::Array(a) => a.iter().for_each(|x| walk(name, x)),
                serde_json::Value::Object(o) => o.values().for_each(|x| walk(name, x)),
                _ => {}
            }
        }
        walk(name, &v);
    }
    let last: serde_json::Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    assert_eq!(
        last["event"], "summary",
        "{name}: the summary is the last line"
    );
}

/// The demo (802.11, decrypted) and a real HS110 on the wire: events in
/// capture order, all stamped, numbers as the devices sent them.
#[test]
fn events_are_stamped_in_capture_order_without_float_noise() {
    let lines = demo_json(false);
    assert_stream_contract("demo", &lines);
    // The demo's meter reading, as the plug sent it (230123 mV).
    assert!(lines.iter().any(|l| l.contains("\"voltage_v\":230.123,")));
    let real = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/captures/kasa-hs110-wired.pcapng"
    );
    if !std::path::Path::new(real).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{real} missing under CI=true"
        );
        eprintln!("skipping the HS110 capture: {real} not found");
        return;
    }
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_plugsniff"))
        .args(["watch", "-r", real, "--json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines: Vec<String> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert!(lines.len() > 2);
    assert_stream_contract("kasa-hs110-wired", &lines);
}

/// `decrypt -o` and `watch -w` write the same decrypted pcap (each MSDU
/// once: no MAC retransmission, no copy the AP relayed), and `watch -r` on it
/// reports the messages it reports on the encrypted capture.
#[test]
fn decrypted_output_replays_to_the_same_messages() {
    let dir = env!("CARGO_MANIFEST_DIR");
    let demo = format!("{dir}/captures/demo.pcapng");
    let cfg = format!("{dir}/captures/demo.toml");
    let tmp = tempfile::tempdir().unwrap();
    let (d, w) = (tmp.path().join("d.pcap"), tmp.path().join("w.pcap"));
    let run = |args: &[&str]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_plugsniff"))
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let said = run(&[
        "decrypt",
        &demo,
        "--config",
        &cfg,
        "-o",
        d.to_str().unwrap(),
    ]);
    assert!(
        said.contains("relayed by the AP not written again"),
        "{said}"
    );
    run(&[
        "watch",
        "-r",
        &demo,
        "--config",
        &cfg,
        "-w",
        w.to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read(&d).unwrap(),
        std::fs::read(&w).unwrap(),
        "decrypt -o and watch -w write the same bytes"
    );
    let messages = |out: &str| -> Vec<String> {
        out.lines()
            .filter_map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                (v["event"] == "message").then(|| {
                    format!(
                        "{} {} {} {} {} {}",
                        v["ts"], v["protocol"], v["src"], v["dst"], v["direction"], v["summary"]
                    )
                })
            })
            .collect()
    };
    let want = messages(&demo_json(false).join("\n"));
    // The config again: the Tuya frames stay encrypted under their local keys.
    let got = messages(&run(&[
        "watch",
        "-r",
        d.to_str().unwrap(),
        "--config",
        &cfg,
        "--json",
    ]));
    assert!(!want.is_empty());
    assert_eq!(got, want);
}

/// A real HS110 capture stripped to raw IP (no MAC in any frame) names the
/// plug as the Ethernet capture does: its MAC is learned from DHCP and its
/// own sysinfo, and every message, the cloud links and the last relay state
/// are its own (they used to be attributed to no device).
#[test]
fn raw_ip_capture_attributes_messages_to_the_device() {
    let real = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/captures/kasa-hs110-wired.pcapng"
    );
    if !std::path::Path::new(real).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{real} missing under CI=true"
        );
        eprintln!("skipping: {real} not found");
        return;
    }
    let (dlt, frames) = plugsniff::capture::file::read_all(std::path::Path::new(real)).unwrap();
    assert_eq!(dlt, 1);
    let raw: Vec<_> = frames
        .iter()
        .filter(|f| f.data.get(12..14) == Some(&[0x08, 0x00]))
        .map(|f| (f.ts, f.data[14..].to_vec()))
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    let rawip = tmp.path().join("rawip.pcap");
    std::fs::write(
        &rawip,
        plugsniff::output::pcap_out::encode(plugsniff::output::pcap_out::Format::Pcap, 101, &raw),
    )
    .unwrap();
    let devices = |path: &std::path::Path| -> Vec<serde_json::Value> {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_plugsniff"))
            .arg("watch")
            .arg("-r")
            .arg(path)
            .arg("--json")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let out = String::from_utf8(o.stdout).unwrap();
        let summary: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
        summary["devices"].as_array().unwrap().clone()
    };
    let (eth_devices, ip_devices) = (devices(std::path::Path::new(real)), devices(&rawip));
    let plug = |d: &[serde_json::Value]| -> serde_json::Value {
        d.iter()
            .find(|d| d["role"] == "plug")
            .cloned()
            .expect("a plug in the inventory")
    };
    let (eth, ip) = (plug(&eth_devices), plug(&ip_devices));
    // The controllers (the Kasa app hosts) are listed on the raw-IP capture
    // too, by IP when nothing taught their MAC, with the same messages.
    let controllers =
        |d: &[serde_json::Value]| -> Vec<(String, serde_json::Value, serde_json::Value)> {
            d.iter()
                .filter(|d| d["role"] == "controller")
                .map(|d| {
                    (
                        d["ip"].as_str().unwrap().to_owned(),
                        d["messages"].clone(),
                        d["protocols"].clone(),
                    )
                })
                .collect()
        };
    let mut want = controllers(&eth_devices);
    let mut got = controllers(&ip_devices);
    want.sort_by(|a, b| a.0.cmp(&b.0));
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got, want);
    assert_eq!(
        want.iter()
            .map(|c| (c.0.as_str(), c.1.clone()))
            .collect::<Vec<_>>(),
        [("192.168.1.150", 6.into()), ("192.168.1.222", 35.into())]
    );
    for c in ip_devices.iter().filter(|d| d["role"] == "controller") {
        let on_eth = eth_devices.iter().find(|e| e["ip"] == c["ip"]).unwrap();
        assert!(c["mac"].is_null() || c["mac"] == on_eth["mac"], "{c}");
    }
    for k in ["mac", "ip", "model", "relay_on", "messages", "protocols"] {
        assert_eq!(
            ip[k], eth[k],
            "{k}: raw IP {} vs Ethernet {}",
            ip[k], eth[k]
        );
    }
    assert_eq!(ip["relay_on"], false, "the last sysinfo said OFF");
    assert_eq!(ip["messages"], 41);
    // Nothing in the raw-IP capture teaches the app hosts' MACs.
    assert!(
        ip_devices
            .iter()
            .any(|d| d["role"] == "controller" && d["mac"].is_null()),
        "{ip_devices:?}"
    );
    // The text summary lists a controller without a MAC by its address.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_plugsniff"))
        .arg("watch")
        .arg("-r")
        .arg(&rawip)
        .output()
        .unwrap();
    let text = String::from_utf8(o.stdout).unwrap();
    for c in ip_devices
        .iter()
        .filter(|d| d["role"] == "controller" && d["mac"].is_null())
    {
        let line = format!(
            "(no MAC seen)     controller \"-\"                -            {}",
            c["ip"].as_str().unwrap()
        );
        assert!(text.contains(&line), "{line:?} not in\n{text}");
    }
    assert!(text.contains("messages: tplink-smarthome "), "{text}");
}

/// Every vendor's plug in the demo, in `watch --json`: its commands and
/// answers (paired by method, attributed to its MAC), its power readings,
/// and the summary's inventory entry (host name from DHCP, protocols,
/// message count, last relay state and power).
#[test]
fn demo_decodes_every_vendors_plug() {
    let lines = demo_json(false);
    let events: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let messages = |protocol: &str, mac: &str| -> Vec<(String, String, String)> {
        events
            .iter()
            .filter(|v| v["event"] == "message" && v["protocol"] == protocol && v["device"] == mac)
            .map(|v| {
                (
                    v["direction"].as_str().unwrap().to_owned(),
                    v["methods"][0].as_str().unwrap().to_owned(),
                    v["summary"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|s| s.as_str().unwrap())
                        .collect::<Vec<_>>()
                        .join("; "),
                )
            })
            .collect()
    };
    let has = |got: &[(String, String, String)], dir: &str, method: &str, summary: &str| {
        assert!(
            got.iter()
                .any(|(d, m, s)| d == dir && m == method && s.contains(summary)),
            "no {dir} {method} with {summary:?} in {got:#?}"
        );
    };
    // Tuya 3.3 and 3.5: poll, switch on/off, pushes with power (dp 19 = 94.5 W).
    for (mac, query, control) in [
        ("84:f3:eb:5a:17:3c", "DP_QUERY", "CONTROL"),
        ("10:5a:17:8e:42:b5", "DP_QUERY_NEW", "CONTROL_NEW"),
    ] {
        let got = messages("tuya", mac);
        has(&got, "request", query, "");
        has(&got, "response", query, "relay OFF");
        has(&got, "request", control, "switch ON");
        has(&got, "response", control, "");
        has(&got, "request", control, "switch OFF");
        has(&got, "notify", "STATUS", "power: 94.5 W, 230.1 V, 0.412 A");
        has(&got, "request", "HEART_BEAT", "");
        has(&got, "response", "HEART_BEAT", "");
    }
    let tuya35 = messages("tuya", "10:5a:17:8e:42:b5");
    has(&tuya35, "request", "SESS_KEY_NEG_START", "");
    has(&tuya35, "response", "SESS_KEY_NEG_RESP", "");
    has(&tuya35, "request", "SESS_KEY_NEG_FINISH", "");
    assert_eq!(tuya35.len(), 14);
    assert_eq!(messages("tuya", "84:f3:eb:5a:17:3c").len(), 11);
    // Both Tuya versions, each opened with its own configured key.
    let tuya: Vec<(String, String)> = events
        .iter()
        .filter(|v| v["event"] == "message" && v["protocol"] == "tuya")
        .map(|v| {
            (
                v["tuya"]["version"].as_str().unwrap().to_owned(),
                v["tuya"]["key"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert!(tuya.contains(&("3.3".into(), "tuya_device #1".into())));
    assert!(tuya.contains(&("3.5".into(), "session key (tuya_device #2)".into())));
    // Shelly Gen2: JSON-RPC over HTTP and over the WebSocket, NotifyStatus.
    let shelly = messages("shelly", "e8:6b:ea:e8:c2:a4");
    has(&shelly, "response", "Shelly.GetDeviceInfo", "SNPL-00112EU");
    has(&shelly, "request", "Switch.Set", "switch ON");
    has(&shelly, "response", "Switch.Set", "");
    has(&shelly, "request", "Switch.GetStatus", "");
    has(
        &shelly,
        "response",
        "Switch.GetStatus",
        "power: 41.7 W, 230.4 V, 0.215 A, 1.523 kWh total",
    );
    has(&shelly, "request", "Switch.Set", "switch OFF");
    has(&shelly, "notify", "NotifyStatus", "relay OFF; power: 0.0 W");
    let transports: std::collections::BTreeSet<&str> = events
        .iter()
        .filter(|v| v["event"] == "message" && v["protocol"] == "shelly")
        .map(|v| v["transport"].as_str().unwrap())
        .collect();
    assert_eq!(transports, ["http", "websocket"].into());
    // Wemo Insight: SOAP switch, state and Insight power (2300 mW).
    let wemo = messages("wemo", "94:10:3e:48:c8:d4");
    has(&wemo, "response", "setup.xml", "\"Washing machine\"");
    has(&wemo, "request", "SetBinaryState", "switch ON");
    has(&wemo, "response", "SetBinaryStateResponse", "relay ON");
    has(&wemo, "request", "GetBinaryState", "");
    has(
        &wemo,
        "response",
        "GetInsightParamsResponse",
        "power: 2.3 W",
    );
    // Discovery: each plug announced itself the way its vendor does.
    let discovery: Vec<(&str, &str)> = events
        .iter()
        .filter(|v| v["event"] == "discovery")
        .map(|v| (v["protocol"].as_str().unwrap(), v["src"].as_str().unwrap()))
        .collect();
    for want in [
        ("tuya-discovery", "192.168.0.51"),
        ("tuya-discovery", "192.168.0.52"),
        ("mdns", "192.168.0.53:5353"),
        ("ssdp", "192.168.0.54:1900"),
        ("dhcp", "0.0.0.0:68"),
    ] {
        assert!(
            discovery
                .iter()
                .any(|(p, src)| *p == want.0 && src.starts_with(want.1)),
            "{want:?} not in {discovery:?}"
        );
    }
    // The inventory names each plug and knows its last state.
    let summary = events.last().unwrap();
    let device = |mac: &str| -> &serde_json::Value {
        summary["devices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["mac"] == mac)
            .unwrap_or_else(|| panic!("{mac} not in the inventory"))
    };
    for (mac, hostname, protocol, messages, relay, power) in [
        ("84:f3:eb:5a:17:3c", "ESP_5A173C", "tuya", 11, false, 94.5),
        (
            "10:5a:17:8e:42:b5",
            "SmartPlug-8E42B5",
            "tuya",
            14,
            false,
            94.5,
        ),
        (
            "e8:6b:ea:e8:c2:a4",
            "shellyplusplugs-e86beae8c2a4",
            "shelly",
            11,
            false,
            0.0,
        ),
        ("94:10:3e:48:c8:d4", "wemo", "wemo", 8, true, 2.3),
    ] {
        let d = device(mac);
        assert_eq!(d["role"], "plug", "{mac}");
        assert_eq!(d["hostname"], hostname, "{mac}");
        assert!(
            d["protocols"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p == protocol),
            "{mac}: {d}"
        );
        assert_eq!(d["messages"], messages, "{mac}");
        assert_eq!(d["relay_on"], relay, "{mac}");
        assert_eq!(d["power_w"], power, "{mac}");
    }
    assert_eq!(device("e8:6b:ea:e8:c2:a4")["alias"], "Fan heater");
    assert_eq!(device("94:10:3e:48:c8:d4")["alias"], "Washing machine");
    let phone = device("a6:0c:4f:2d:91:7e");
    assert_eq!(phone["role"], "controller");
    assert_eq!(
        phone["protocols"],
        serde_json::json!(["shelly", "tuya", "wemo", "xor-tcp", "xor-udp"])
    );
    // No station lost a frame: the synthetic radio numbers like a real one.
    for n in summary["wifi"]["networks"].as_array().unwrap() {
        for st in n["stations"].as_array().unwrap() {
            assert_eq!(st["radio"]["missed_estimate"], 0, "{}", st["mac"]);
        }
    }
}

/// `watch`'s text summary: messages per protocol, and every plug by name.
#[test]
fn demo_text_summary_counts_messages_per_protocol() {
    let dir = env!("CARGO_MANIFEST_DIR");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_plugsniff"))
        .args(["watch", "-r", &format!("{dir}/captures/demo.pcapng")])
        .args(["--config", &format!("{dir}/captures/demo.toml")])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(
        out.contains("messages: shelly 11, tplink-smarthome 15, tuya 25, wemo 8\n"),
        "{out}"
    );
    for name in [
        "\"Coffee maker\"",
        "\"Desk lamp\"",
        "\"ESP_5A173C\"",
        "\"SmartPlug-8E42B5\"",
        "\"Fan heater\"",
        "\"Washing machine\"",
    ] {
        assert!(out.contains(name), "{name} not in the summary:\n{out}");
    }
    assert!(!out.contains("(bad CRC)"), "{out}");
    assert_eq!(out.matches("~0 missed").count(), 7, "{out}");
}
