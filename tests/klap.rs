//! KLAP end to end: the synthetic KLAP capture (src/synth/klap.rs) through
//! `plugsniff::watch::Watcher`, asserting the decoded JSON, the labels and
//! the inventory; plus hostile HTTP on port 80.

use plugsniff::decoders::klap::session::KlapAccount;
use plugsniff::output::json::to_json_line;
use plugsniff::report::event::Event;
use plugsniff::synth::frames::{Side, TcpConn};
use plugsniff::synth::klap::{self, ACCOUNT, PHONE_IP, PHONE_MAC, PLUGS};
use plugsniff::watch::{WatchOptions, Watcher};
use plugsniff::wire::Ts;
use serde_json::Value;

const DLT_ETHERNET: i32 = 1;

fn run(frames: &[(Ts, Vec<u8>)], accounts: Vec<KlapAccount>) -> (Watcher, Vec<Event>) {
    let mut w = Watcher::new(
        Vec::new(),
        WatchOptions {
            show_secrets: false,
            klap_accounts: accounts,
            ..Default::default()
        },
    );
    let mut events = Vec::new();
    for (ts, f) in frames {
        w.process_plain(*ts, DLT_ETHERNET, f);
        events.extend(w.drain_events());
    }
    w.finish();
    events.extend(w.drain_events());
    (w, events)
}

fn account() -> Vec<KlapAccount> {
    vec![KlapAccount::from_password(
        "account #1",
        ACCOUNT.0,
        ACCOUNT.1,
    )]
}

fn lines(events: &[Event]) -> Vec<Value> {
    events
        .iter()
        .map(|e| serde_json::from_str(&to_json_line(e)).unwrap())
        .collect()
}

fn ip(p: usize) -> String {
    let a = PLUGS[p].ip;
    format!("{}.{}.{}.{}:80", a[0], a[1], a[2], a[3])
}

/// Events about plug `p` (it is the src or the dst).
fn about(all: &[Value], p: usize) -> Vec<Value> {
    let me = ip(p);
    all.iter()
        .filter(|v| v["src"] == me.as_str() || v["dst"] == me.as_str())
        .cloned()
        .collect()
}

fn messages(v: &[Value]) -> Vec<&Value> {
    v.iter().filter(|e| e["event"] == "message").collect()
}

#[test]
fn v2_session_with_configured_account() {
    let (w, ev) = run(&klap::demo(), account());
    let all = lines(&ev);
    let a = about(&all, 0);
    let hs: Vec<_> = a.iter().filter(|e| e["event"] == "klap_session").collect();
    assert_eq!(hs.len(), 1, "{a:#?}");
    assert_eq!(hs[0]["outcome"], "decrypting");
    assert_eq!(hs[0]["version"], "v2");
    assert_eq!(hs[0]["credentials"], "account #1");
    let m = messages(&a);
    assert_eq!(m.len(), 6, "{a:#?}");
    for (i, e) in m.iter().enumerate() {
        assert_eq!(e["protocol"], "tplink-klap");
        assert_eq!(e["transport"], "http");
        assert_eq!(e["klap"]["version"], "v2");
        assert_eq!(e["klap"]["signature_ok"], true);
        assert_eq!(
            e["direction"],
            if i % 2 == 0 { "request" } else { "response" }
        );
    }
    // Request and response share a seq; seqs increase by one.
    let seqs: Vec<i64> = m
        .iter()
        .map(|e| e["klap"]["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs[0], seqs[1]);
    assert_eq!(seqs[2], seqs[0] + 1);
    assert_eq!(seqs[4], seqs[0] + 2);
    assert_eq!(m[0]["json"]["method"], "get_device_info");
    assert_eq!(m[1]["json"]["result"]["model"], "P110");
    assert!(
        m[1]["summary"][0]
            .as_str()
            .unwrap()
            .contains("\"Kitchen kettle\""),
        "{}",
        m[1]["summary"]
    );
    assert_eq!(m[2]["summary"][0], "switch OFF");
    assert_eq!(
        m[5]["methods"],
        serde_json::json!([
            "smart.multipleRequest",
            "smart.get_energy_usage",
            "smart.get_current_power"
        ])
    );
    assert!(
        m[5]["summary"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "power: 12.5 W"),
        "{}",
        m[5]["summary"]
    );
    // Inventory: model, alias (base64-decoded), relay switched off, power.
    let d = w.an.inventory.get(&PLUGS[0].mac).expect("plug A");
    assert_eq!(d.model.as_deref(), Some("P110"));
    assert_eq!(d.alias.as_deref(), Some("Kitchen kettle"));
    assert_eq!(d.relay_on, Some(false));
    assert_eq!(d.power_w, Some(12.5));
    assert!(d.protocols.contains("klap"));
    assert!(
        d.notes
            .iter()
            .any(|n| n == "KLAP v2: decrypted with account #1")
    );
    let phone = w.an.inventory.get(&PHONE_MAC).expect("phone");
    assert!(phone.protocols.contains("klap"));
}

#[test]
fn v1_session_with_iot_json_and_default_credentials() {
    let (w, ev) = run(&klap::demo(), account());
    let all = lines(&ev);
    let b = about(&all, 1);
    let m = messages(&b);
    assert_eq!(m.len(), 4, "{b:#?}");
    assert!(m.iter().all(|e| e["klap"]["version"] == "v1"));
    assert_eq!(m[0]["methods"][0], "system.get_sysinfo");
    assert_eq!(m[1]["json"]["system"]["get_sysinfo"]["alias"], "Desk lamp");
    assert_eq!(m[2]["summary"][0], "switch OFF");
    let d = w.an.inventory.get(&PLUGS[1].mac).unwrap();
    assert_eq!(d.model.as_deref(), Some("HS100(UK)"));
    assert_eq!(d.relay_on, Some(false));

    // Plug E answers to the public default credentials, even with no
    // account configured.
    let (w, ev) = run(&klap::demo(), Vec::new());
    let all = lines(&ev);
    let e = about(&all, 4);
    let hs = e.iter().find(|v| v["event"] == "klap_session").unwrap();
    assert_eq!(hs["credentials"], "default credentials (Kasa)");
    assert_eq!(hs["version"], "v1");
    let m = messages(&e);
    assert_eq!(m.len(), 2);
    assert_eq!(m[1]["json"]["system"]["get_sysinfo"]["alias"], "Fridge");
    assert_eq!(
        w.an.inventory.get(&PLUGS[4].mac).unwrap().alias.as_deref(),
        Some("Fridge")
    );
    // Without the account, A and B need credentials.
    let a = about(&all, 0);
    assert!(messages(&a).is_empty());
    assert!(a.iter().any(|v| v["label"] == "KLAP: credentials needed"));
}

#[test]
fn wrong_credentials_are_labelled() {
    let (w, ev) = run(&klap::demo(), account());
    let all = lines(&ev);
    let c = about(&all, 2);
    assert!(messages(&c).is_empty(), "{c:#?}");
    let hs = c.iter().find(|v| v["event"] == "klap_session").unwrap();
    assert_eq!(hs["outcome"], "credentials needed");
    assert_eq!(hs["tried"], 7); // 1 configured + 5 defaults + blank
    let lab = c
        .iter()
        .find(|v| v["event"] == "undecodable")
        .expect("a label");
    assert_eq!(lab["label"], "KLAP: credentials needed");
    assert_eq!(lab["protocol"], "tplink-klap");
    assert!(
        lab["reason"]
            .as_str()
            .unwrap()
            .contains("matched none of 7 tried credentials")
    );
    let d = w.an.inventory.get(&PLUGS[2].mac).unwrap();
    assert!(
        d.notes
            .iter()
            .any(|n| n.starts_with("KLAP: credentials needed")),
        "{:?}",
        d.notes
    );
    // The unknown account's password is in no output line.
    for e in &ev {
        let l = to_json_line(e);
        assert!(!l.contains(klap::UNKNOWN_ACCOUNT.1));
        assert!(!l.contains(ACCOUNT.1));
    }
}

#[test]
fn mid_session_capture_start_is_labelled() {
    let (w, ev) = run(&klap::demo(), account());
    let all = lines(&ev);
    let d = about(&all, 3);
    assert!(messages(&d).is_empty(), "{d:#?}");
    assert!(d.iter().all(|v| v["event"] != "klap_session"));
    let labels: Vec<_> = d
        .iter()
        .filter(|v| v["event"] == "undecodable")
        .map(|v| v["label"].clone())
        .collect();
    assert_eq!(labels, ["KLAP: handshake not captured"], "{d:#?}");
    let dev = w.an.inventory.get(&PLUGS[3].mac).unwrap();
    assert!(dev.notes.contains("KLAP: handshake not captured"));
}

#[test]
fn demo_pcap_reads_back_through_the_file_source() {
    let frames = klap::demo();
    let bytes = klap::pcap_bytes(&frames);
    assert_eq!(bytes, klap::pcap_bytes(&klap::demo()), "deterministic");
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("klap.pcap");
    std::fs::write(&p, &bytes).unwrap();
    let mut src = plugsniff::capture::FileSource::open_any(p.to_str().unwrap(), |_| true).unwrap();
    let mut n = 0;
    while let Ok(Some(_)) = src.next_frame() {
        n += 1;
    }
    assert_eq!(n, frames.len());
}

/// Hostile HTTP on port 80 from a phone to a plug: counted, labelled, no panic.
fn hostile(payloads: &[&[u8]]) -> (Watcher, Vec<Value>) {
    let p = PLUGS[0];
    let mut c = TcpConn::new((PHONE_IP, 50000), (p.ip, 80), 1000, 2000);
    let mut frames = Vec::new();
    let mut t = 0;
    let mut push = |ip: Vec<u8>, from_client: bool| {
        t += 1;
        let (d, s) = if from_client {
            (p.mac, PHONE_MAC)
        } else {
            (PHONE_MAC, p.mac)
        };
        frames.push((Ts::from_micros(100, t), klap::ethernet(d, s, &ip)));
    };
    push(c.syn(), true);
    push(c.syn_ack(), false);
    push(c.ack(Side::Client), true);
    for pl in payloads {
        push(c.data(Side::Client, pl), true);
    }
    let (w, ev) = run(&frames, account());
    (w, lines(&ev))
}

#[test]
fn hostile_content_length_chunked_short_body() {
    let huge = format!(
        "POST /app/request?seq=1 HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
        1u64 << 63
    );
    let (w, ev) = hostile(&[huge.as_bytes(), &[0u8; 1400], &[0u8; 1400]]);
    assert!(
        w.an.stats
            .get(plugsniff::report::counters::Count::HttpErrors)
            >= 1
    );
    assert!(
        ev.iter().any(|v| v["reason"]
            .as_str()
            .is_some_and(|r| r.contains("BodyTooLarge"))),
        "{ev:#?}"
    );

    let chunked = b"POST /app/request?seq=1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n";
    let (w, ev) = hostile(&[chunked]);
    assert!(
        w.an.stats
            .get(plugsniff::report::counters::Count::HttpErrors)
            >= 1
    );
    assert!(
        ev.iter()
            .any(|v| v["reason"].as_str().is_some_and(|r| r.contains("Chunked")))
    );

    // A request shorter than its signature, after a captured handshake with
    // the configured account: labelled as a decryption failure.
    let (u, pw) = ACCOUNT;
    let auth = plugsniff::decoders::klap::crypto::AuthHash::v2(u, pw);
    let (ls, rs) = ([7u8; 16], [8u8; 16]);
    let p = PLUGS[0];
    let mut c = TcpConn::new((PHONE_IP, 50001), (p.ip, 80), 1, 2);
    let mut body = rs.to_vec();
    body.extend(auth.server_hash(&ls, &rs));
    let segs: Vec<(bool, Vec<u8>)> = vec![
        (true, c.syn()),
        (false, c.syn_ack()),
        (true, c.ack(Side::Client)),
        (
            true,
            c.data(
                Side::Client,
                &klap::http_post(p.ip, "/app/handshake1", None, &ls),
            ),
        ),
        (
            false,
            c.data(Side::Server, &klap::http_ok(Some("S"), &body)),
        ),
        (
            true,
            c.data(
                Side::Client,
                &klap::http_post(p.ip, "/app/request?seq=5", Some("S"), &[1u8; 20]),
            ),
        ),
        (
            true,
            c.data(
                Side::Client,
                &klap::http_post(p.ip, "/app/request?seq=6", Some("S"), &[0u8; 64]),
            ),
        ),
    ];
    let frames: Vec<_> = segs
        .into_iter()
        .enumerate()
        .map(|(i, (cl, ip))| {
            let (d, s) = if cl {
                (p.mac, PHONE_MAC)
            } else {
                (PHONE_MAC, p.mac)
            };
            (Ts::from_micros(5, i as u32), klap::ethernet(d, s, &ip))
        })
        .collect();
    let (w, ev) = run(&frames, account());
    let ev = lines(&ev);
    let labs: Vec<_> = ev
        .iter()
        .filter(|v| v["event"] == "undecodable")
        .map(|v| {
            (
                v["label"].clone(),
                v["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(labs.len(), 2, "{labs:#?}");
    assert!(labs.iter().all(|(l, _)| l == "KLAP: decryption failed"));
    assert!(labs[1].1.contains("signature mismatch"), "{labs:?}");
    assert_eq!(
        w.an.stats
            .get(plugsniff::report::counters::Count::KlapUndecrypted),
        2
    );
    assert_eq!(
        w.an.stats
            .get(plugsniff::report::counters::Count::KlapMessages),
        0
    );
}

#[test]
fn aes_passthrough_is_labelled() {
    let body = br#"{"method":"handshake","params":{"key":"-----BEGIN PUBLIC KEY-----\nMIGf\n-----END PUBLIC KEY-----\n"}}"#;
    let req = klap::http_post(PLUGS[0].ip, "/app", None, body);
    let (w, ev) = hostile(&[&req]);
    let lab = ev.iter().find(|v| v["event"] == "undecodable").unwrap();
    assert!(
        lab["label"]
            .as_str()
            .unwrap()
            .starts_with("AES securePassthrough")
    );
    let d = w.an.inventory.get(&PLUGS[0].mac).unwrap();
    assert!(
        d.notes
            .iter()
            .any(|n| n.starts_with("AES securePassthrough"))
    );
    // The RSA key (a "key" field) is masked nowhere needed: it is not echoed.
    assert!(!lab.to_string().contains("MIGf"));
}
