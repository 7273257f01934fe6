//! The synthetic demo capture end to end: it is reproducible, plugsniff's
//! engine decrypts every protected frame but the deliberate replay, and
//! tshark (an independent implementation) decrypts the same frames.

use std::process::Command;

use plugsniff::decoders::tplink::xor;
use plugsniff::engine::{DropReason, Engine, Msdu, Sink};
use plugsniff::synth::scenario::{self, Scenario};
use plugsniff::wire::Ts;
use plugsniff::wire::link::LinkKind;
use plugsniff::wire::llc;
use plugsniff::wpa::handshake::{KeyStatus, NetworkSecret};

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/captures/demo.pcapng");

/// Collects decrypted MSDU payloads (after LLC/SNAP).
#[derive(Default)]
struct Collect {
    payloads: Vec<Vec<u8>>,
}

impl Sink for Collect {
    fn msdu(&mut self, m: &Msdu<'_>) {
        if m.decrypted
            && let Some(s) = llc::parse_snap(m.llc)
        {
            self.payloads.push(s.payload.to_vec());
        }
    }
}

/// Decrypted MSDUs (every hop, as tshark counts frames) carrying TCP or
/// UDP `port` at either end.
fn msdus_on_port(sink: &Collect, port: u16) -> usize {
    sink.payloads
        .iter()
        .filter(|p| {
            let Ok(s) = etherparse::SlicedPacket::from_ip(p) else {
                return false;
            };
            match s.transport {
                Some(etherparse::TransportSlice::Tcp(t)) => {
                    t.source_port() == port || t.destination_port() == port
                }
                Some(etherparse::TransportSlice::Udp(u)) => {
                    u.source_port() == port || u.destination_port() == port
                }
                _ => false,
            }
        })
        .count()
}

fn run(frames: &[(Ts, Vec<u8>)], net: NetworkSecret) -> (Engine, Collect) {
    let mut e = Engine::new(vec![net]);
    let mut sink = Collect::default();
    for (ts, f) in frames {
        e.process(*ts, LinkKind::Radiotap, f, f.len() as u32, &mut sink);
    }
    (e, sink)
}

fn stations(sc: &Scenario) -> Vec<plugsniff::wire::MacAddr> {
    let v = sc.stations();
    assert_eq!(
        v.len(),
        7,
        "the phone, two TP-Link plugs, four other vendors' plugs"
    );
    v
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn committed_demo_capture_is_reproducible() {
    let frames = scenario::demo(&Scenario::default());
    let fresh = scenario::capture_bytes(plugsniff::output::pcap_out::Format::Pcapng, &frames);
    let committed = std::fs::read(COMMITTED).expect("captures/demo.pcapng");
    assert!(
        fresh == committed,
        "captures/demo.pcapng differs from a fresh build ({} vs {} bytes): \
         regenerate with `cargo run -- synth demo -o captures/demo.pcapng`",
        committed.len(),
        fresh.len()
    );
    assert!(committed.len() < 100_000);
}

#[test]
fn engine_decrypts_all_but_the_replay() {
    let sc = Scenario::default();
    let cap = scenario::build(&sc);
    let m = &cap.manifest;
    assert_eq!((m.retransmitted, m.replayed), (1, 1));
    let (e, sink) = run(&cap.frames, sc.secret());
    let c = &e.counters;
    assert!(c.balanced(), "{c:?}");
    assert_eq!(c.read as usize, m.frames);
    assert_eq!(c.decrypted as usize, m.protected - m.replayed, "{c:?}");
    assert_eq!(c.retransmitted, 1);
    assert_eq!(c.dropped(DropReason::Replay), 1);
    assert_eq!(c.dropped_total(), 1, "{c:?}");
    assert_eq!(c.decrypted_group as usize, m.group);
    // Pinned, so a change to the scenario is a visible change here too.
    assert_eq!((c.read, c.decrypted, c.decrypted_group), (424, 274, 12));
    assert_eq!(m.amsdu, 1);
    for sta in stations(&sc) {
        let st = e.tracker.station(sc.ap, sta).expect("station seen");
        assert_eq!(st.status, KeyStatus::Confirmed, "{sta}");
        assert_eq!(st.seen, [1, 1, 1, 1, 1, 1], "{sta}");
    }
    // Both GTKs (key ID 1 from M3, key ID 2 from the rekey).
    assert!(!e.keys.group(sc.ap, 1).is_empty());
    assert!(!e.keys.group(sc.ap, 2).is_empty());
    // The credentials are in the decrypted TCP 9999 stream (XOR-obfuscated).
    let bind = xor::encrypt(
        br#"{"cnCloud":{"bind":{"username":"alice@example.com","password":"hunter2-demo"}}}"#,
    );
    assert!(sink.payloads.iter().any(|p| contains(p, &bind)));
    assert!(
        sink.payloads
            .iter()
            .any(|p| contains(p, b"n-devs.tplinkcloud.com"))
    );
}

#[test]
fn m2_m3_only_still_decrypts_everything() {
    let sc = Scenario::default();
    let full = scenario::build(&sc).manifest;
    let frames = scenario::m2_m3_only(&sc);
    let (e, _) = run(&frames, sc.secret());
    let c = &e.counters;
    assert!(c.balanced());
    assert_eq!(
        c.decrypted as usize,
        full.protected - full.replayed,
        "{c:?}"
    );
    assert_eq!(c.decrypted_group as usize, full.group);
    assert_eq!(c.dropped(DropReason::Replay), 1);
    assert_eq!(c.dropped_total(), 1, "{c:?}");
    for sta in stations(&sc) {
        let st = e.tracker.station(sc.ap, sta).unwrap();
        assert_eq!(st.status, KeyStatus::Confirmed);
        assert_eq!(st.seen[..4], [0, 1, 1, 0]);
    }
}

#[test]
fn wrong_passphrase_is_a_mic_mismatch_and_decrypts_nothing() {
    let sc = Scenario::default();
    let frames = scenario::demo(&sc);
    let (e, _) = run(&frames, scenario::wrong_passphrase(&sc));
    assert_eq!(e.counters.decrypted, 0);
    assert!(e.counters.balanced());
    for sta in stations(&sc) {
        let st = e.tracker.station(sc.ap, sta).unwrap();
        assert_eq!(st.status, KeyStatus::MicMismatch, "{sta}");
    }
}

fn tshark_available() -> bool {
    let ok = Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("tshark not found, and CI=true requires the cross-check");
        }
        eprintln!("skipping: tshark not found (install wireshark's tshark to run this check)");
    }
    ok
}

/// Frames of `file` matching `filter`, decrypting with `pass`.
fn tshark_count(file: &std::path::Path, pass: &str, ssid: &str, filter: &str) -> usize {
    let key = format!(r#"uat:80211_keys:"wpa-pwd","{pass}:{ssid}""#);
    let out = Command::new("tshark")
        .arg("-r")
        .arg(file)
        .args(["-o", "wlan.enable_decryption:TRUE", "-o", &key])
        .args(["-Y", filter, "-T", "fields", "-e", "frame.number"])
        .output()
        .expect("running tshark");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count()
}

#[test]
fn tshark_decrypts_the_same_frames() {
    if !tshark_available() {
        return;
    }
    let sc = Scenario::default();
    let cap = scenario::build(&sc);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo.pcap");
    std::fs::write(&path, scenario::pcap_bytes(&cap.frames)).unwrap();
    let (e, _) = run(&cap.frames, sc.secret());

    // A protected frame tshark decrypted is dissected as LLC; one it could
    // not decrypt stays opaque `data` under the 802.11 header.
    let decrypted = "wlan.fc.protected == 1 && llc";
    let m = &cap.manifest;
    assert_eq!(
        tshark_count(&path, &sc.passphrase, &sc.ssid, "wlan.fc.protected == 1"),
        m.protected
    );
    // tshark has no replay check: it also decrypts the replayed copy.
    assert_eq!(
        tshark_count(&path, &sc.passphrase, &sc.ssid, decrypted),
        e.counters.decrypted as usize + m.replayed
    );
    let group = "wlan.fc.protected == 1 && llc && wlan.ra[0] & 1";
    assert_eq!(
        tshark_count(&path, &sc.passphrase, &sc.ssid, group),
        e.counters.decrypted_group as usize
    );
    assert_eq!(
        tshark_count(
            &path,
            &sc.passphrase,
            &sc.ssid,
            "tcp.port == 9999 || udp.port == 9999"
        ),
        m.port_9999
    );
    assert!(tshark_count(&path, &sc.passphrase, &sc.ssid, "tcp.port == 9999") > 0);
    assert_eq!(
        tshark_count(
            &path,
            &sc.passphrase,
            &sc.ssid,
            r#"tls.handshake.extensions_server_name == "n-devs.tplinkcloud.com""#
        ),
        1
    );
    assert_eq!(
        tshark_count(
            &path,
            &sc.passphrase,
            &sc.ssid,
            "wlan.qos.amsdupresent == 1"
        ),
        m.amsdu
    );
    // Every other vendor's plug decrypts in tshark too: as many frames on
    // its ports as our engine decrypted, and tshark's own dissectors find
    // each protocol inside.
    let (_, sink) = run(&cap.frames, sc.secret());
    for (port, what) in [
        (6668, "Tuya TCP"),
        (6667, "Tuya 3.3 discovery"),
        (7000, "Tuya 3.5 discovery"),
        (80, "Shelly HTTP and WebSocket"),
        (5353, "mDNS"),
        (49153, "Wemo SOAP"),
        (1900, "SSDP"),
        (67, "DHCP"),
    ] {
        let filter = format!("tcp.port == {port} || udp.port == {port}");
        let n = tshark_count(&path, &sc.passphrase, &sc.ssid, &filter);
        assert!(n > 0, "{what}: nothing on port {port}");
        assert_eq!(n, msdus_on_port(&sink, port), "{what} (port {port})");
    }
    for (filter, at_least) in [
        (
            r#"http.request.method == "POST" && http.request.uri == "/rpc""#,
            2,
        ),
        (r#"http.request.uri == "/rpc/Switch.GetStatus?id=0""#, 1),
        ("websocket.payload.text", 4),
        (r#"http.request.uri == "/upnp/control/basicevent1""#, 2),
        (r#"http.request.uri == "/upnp/control/insight1""#, 1),
        (r#"ssdp && http.request.method == "NOTIFY""#, 1),
        (r#"mdns && dns.ptr.domain_name contains "_shelly._tcp""#, 1),
        (r#"dhcp.option.hostname == "ESP_5A173C""#, 1),
    ] {
        let n = tshark_count(&path, &sc.passphrase, &sc.ssid, filter);
        assert!(n >= at_least, "{filter}: {n} frames, want {at_least}+");
    }
    // The filter really tells decrypted from not: a wrong passphrase gives 0.
    assert_eq!(
        tshark_count(&path, "not the passphrase", &sc.ssid, decrypted),
        0
    );
}
