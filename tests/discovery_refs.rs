//! Discovery decoders checked against independent implementations:
//! - mDNS: packets from `synth::mdns` / `synth::ewelink` parsed by
//!   python-zeroconf's `DNSIncoming` must give the records plugsniff's
//!   reader gives; packets built by zeroconf's `DNSOutgoing` must decode to
//!   the same announcements (`tests/support/zeroconf_ref.py`);
//! - tshark's mdns, ssdp and dhcp dissectors on a pcap written with
//!   plugsniff's pcap writer;
//! - eWeLink crypto against pysonofflanr3 `sonoffcrypto.py`
//!   (`tests/support/sonoff_ref.py`), both directions.
//!
//! Each reference is skipped with a message when missing, except under
//! `CI=true` (`.ci/run` installs them).

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use plugsniff::decoders::ewelink::crypto::{self, DeviceKey, EwelinkDevice};
use plugsniff::decoders::{
    Announce, Ctx, DecoderConfig, Direction, Finding, FlowMeta, Shared, mdns,
};
use plugsniff::output::pcap_out::{Format, encode};
use plugsniff::synth::{dhcp as sdhcp, ewelink as sew, frames, klap, mdns as smd, ssdp as sssdp};
use plugsniff::wire::dns::{DnsMessage, LabelText, rtype};
use plugsniff::wire::{MacAddr, Ts};
use serde_json::{Value, json};

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn skip(what: &str) {
    assert!(!ci(), "CI=true but {what} is missing");
    eprintln!("SKIP: {what} missing");
}

/// Runs `tests/support/<script>` with `input` on stdin; `None` (skip) when
/// python3 or one of `modules` is missing.
fn python(script: &str, modules: &str, input: &Value) -> Option<Value> {
    let ok = Command::new("python3")
        .args(["-c", &format!("import {modules}")])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        skip(&format!("python3 with {modules} (pip install {modules})"));
        return None;
    }
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support")
        .join(script);
    let mut child = Command::new("python3")
        .arg(path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{script} failed");
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

/// Every record of a message as zeroconf_ref.py prints it.
fn our_records(p: &[u8]) -> Value {
    let m = DnsMessage::new_checked(p).unwrap();
    let mut r = m.reader();
    for _ in 0..m.qdcount() {
        r.question().unwrap();
    }
    let n = usize::from(m.ancount()) + usize::from(m.nscount()) + usize::from(m.arcount());
    let mut out = Vec::new();
    for _ in 0..n {
        let rec = r.record().unwrap();
        let v = match rec.rtype {
            rtype::PTR => json!(rec.target().unwrap().to_string()),
            rtype::SRV => {
                let s = rec.srv().unwrap();
                json!(format!("{} {}", s.port, s.target))
            }
            rtype::TXT => json!(
                rec.txt()
                    .map(|s| LabelText(s).to_string())
                    .collect::<Vec<_>>()
            ),
            rtype::A => json!(rec.a().unwrap().to_string()),
            _ => Value::Null,
        };
        out.push(json!([rec.name.to_string(), rec.rtype, rec.ttl, v]));
    }
    Value::Array(out)
}

fn ewelink_packet() -> Vec<u8> {
    let state = json!({"switch":"on","startup":"off","pulse":"off","sledOnline":"on","fwVersion":"3.7.0","rssi":-58,"pad":"x".repeat(400)});
    sew::announcement(
        [192, 168, 0, 80],
        &sew::txt(
            sew::DEVICE_ID,
            "plug",
            3,
            &state,
            Some((sew::DEVICE_KEY, [5; 16])),
        ),
    )
}

fn our_packets() -> Vec<Vec<u8>> {
    vec![
        smd::announcement(
            &[
                smd::examples::HOMEKIT_PLUG,
                smd::examples::MATTER_PLUG,
                smd::examples::MATTER_OPERATIONAL,
            ],
            false,
        ),
        smd::announcement(
            &[
                smd::examples::SHELLY_GEN2,
                smd::examples::SHELLY_GEN1,
                smd::examples::CHROMECAST,
            ],
            false,
        ),
        smd::announcement(&[smd::examples::HOMEKIT_PLUG], true),
        ewelink_packet(),
    ]
}

#[test]
fn mdns_generated_packets_read_the_same_in_zeroconf() {
    let packets = our_packets();
    let hex: Vec<String> = packets.iter().map(hex::encode).collect();
    let Some(theirs) = python("zeroconf_ref.py", "zeroconf", &json!({ "parse": hex })) else {
        return;
    };
    let theirs = theirs.as_array().unwrap();
    assert_eq!(theirs.len(), packets.len());
    for (p, t) in packets.iter().zip(theirs) {
        assert_eq!(&our_records(p), t, "packet {}", hex::encode(p));
    }
}

fn decode(p: &[u8], cfg: DecoderConfig) -> Vec<Finding> {
    let mut sh = Shared::new(cfg);
    let mut cx = Ctx {
        ts: Ts::default(),
        client: "192.168.0.50:5353".parse::<SocketAddr>().unwrap(),
        server: "224.0.0.251:5353".parse::<SocketAddr>().unwrap(),
        shared: &mut sh,
        flow: FlowMeta::default(),
    };
    let mut out = Vec::new();
    mdns::on_datagram(&mut cx, Direction::ToServer, p, &mut out);
    out
}

fn announces(f: &[Finding]) -> Vec<Announce> {
    f.iter()
        .filter_map(|f| match f {
            Finding::Discovery(d) => d.announce.clone(),
            _ => None,
        })
        .collect()
}

#[test]
fn zeroconf_built_announcements_decode() {
    let req = json!({"build": [
        {"service": "_hap._tcp", "instance": "Eve Energy 5A3C", "server": "Eve-Energy-5A3C",
         "port": 51827, "address": "192.168.0.71",
         "txt": {"md": "Eve Energy 20EBO8301", "id": "1A:2B:3C:4D:5E:6F", "ci": "7", "sf": "1", "c#": "3"}},
        {"service": "_matterc._udp", "instance": "D6A2E5B04F1C9A37", "server": "A8032AB1C2D3",
         "port": 5540, "address": "192.168.0.72",
         "txt": {"VP": "4937+32769", "DN": "Kitchen Plug", "DT": "266", "CM": "1"}},
        {"service": "_ewelink._tcp", "instance": "eWeLink_10009f8e7d", "server": "eWeLink_10009f8e7d",
         "port": 8081, "address": "192.168.0.82",
         "txt": {"id": "10009f8e7d", "type": "diy_plug", "txtvers": "1", "apivers": "1", "seq": "2",
                 "data1": "{\"switch\":\"off\",\"startup\":\"stay\"}"}}
    ]});
    let Some(pk) = python("zeroconf_ref.py", "zeroconf", &req) else {
        return;
    };
    let pk: Vec<Vec<u8>> = pk
        .as_array()
        .unwrap()
        .iter()
        .map(|h| hex::decode(h.as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(pk.len(), 3);
    let a = announces(&decode(&pk[0], DecoderConfig::default()));
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].ip, "192.168.0.71".parse::<IpAddr>().unwrap());
    assert_eq!(a[0].name.as_deref(), Some("Eve Energy 5A3C"));
    assert_eq!(a[0].model.as_deref(), Some("Eve Energy 20EBO8301"));
    assert!(a[0].notes.contains(&"HomeKit: not paired".to_owned()));
    let a = announces(&decode(&pk[1], DecoderConfig::default()));
    assert_eq!(a[0].vendor.as_deref(), Some("Apple (Matter vendor 0x1349)"));
    assert_eq!(a[0].name.as_deref(), Some("Kitchen Plug"));
    let f = decode(&pk[2], DecoderConfig::default());
    let m = f
        .iter()
        .find_map(|f| match f {
            Finding::Message(m) => Some(m),
            _ => None,
        })
        .expect("DIY state message");
    assert_eq!(m.json["data"], json!({"switch":"off","startup":"stay"}));
    assert_eq!(announces(&f)[0].device_id.as_deref(), Some("10009f8e7d"));
}

#[test]
fn ewelink_crypto_matches_pysonofflanr3() {
    let key = DeviceKey::from_devicekey(sew::DEVICE_KEY);
    let plains = [
        r#"{"switch":"on"}"#.to_owned(),
        r#"{"switches":[{"switch":"on","outlet":0},{"switch":"off","outlet":1}]}"#.to_owned(),
        format!(r#"{{"pad":"{}"}}"#, "é".repeat(300)),
        String::new(),
    ];
    let mut dec = Vec::new();
    let mut enc = Vec::new();
    for (i, p) in plains.iter().enumerate() {
        let iv: [u8; 16] = core::array::from_fn(|j| (i * 16 + j) as u8);
        let (iv_b64, data) = crypto::encrypt(&key, iv, p.as_bytes());
        dec.push(json!([iv_b64, data, sew::DEVICE_KEY]));
        // Wrong key: pysonofflanr3's unpad must fail too (or give garbage).
        dec.push(json!([iv_b64, data, "wrong-key"]));
        enc.push(json!([p, hex::encode(iv), sew::DEVICE_KEY]));
    }
    // The synthetic conversation's encrypted request bodies.
    for ex in sew::conversation([192, 168, 0, 80], sew::DEVICE_KEY) {
        let (_, req) = &ex[0];
        let body = &req[req.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4..];
        let v: Value = serde_json::from_slice(body).unwrap();
        dec.push(json!([v["iv"], v["data"], sew::DEVICE_KEY]));
    }
    let Some(r) = python(
        "sonoff_ref.py",
        "pysonofflanr3",
        &json!({"decrypt": dec, "encrypt": enc}),
    ) else {
        return;
    };
    let theirs = r["decrypt"].as_array().unwrap();
    for (i, p) in plains.iter().enumerate() {
        assert_eq!(theirs[2 * i], json!(p), "pysonofflanr3 decrypts ours");
        // Ours: the same key opens what pysonofflanr3 encrypted.
        let iv: [u8; 16] = core::array::from_fn(|j| (i * 16 + j) as u8);
        let iv_b64 = crypto::encrypt(&key, iv, b"").0;
        let data = r["encrypt"][i].as_str().unwrap();
        assert_eq!(
            &crypto::decrypt(&key, &iv_b64, data).unwrap()[..],
            p.as_bytes()
        );
        // A wrong key: where Python's unpad happened to succeed the bytes
        // are not the plaintext; ours refuses or (JSON check) labels it.
        assert_ne!(theirs[2 * i + 1], json!(p));
        let wrong = DeviceKey::from_devicekey("wrong-key");
        assert!(crypto::decrypt(&wrong, &iv_b64, data).map_or(true, |d| &d[..] != p.as_bytes()));
    }
    let conv: Vec<&Value> = theirs[2 * plains.len()..].iter().collect();
    assert_eq!(conv.len(), 3);
    assert_eq!(conv[0], &json!(r#"{"switch":"off"}"#));
    assert_eq!(conv[1], &json!("{}"));
    assert_eq!(conv[2], &json!(r#"{"switch":"on"}"#));
    // And the devices key type keeps its secret.
    let d = EwelinkDevice {
        id: sew::DEVICE_ID.into(),
        label: "ewelink_device #1".into(),
        key,
    };
    assert!(!format!("{d:?}").contains(sew::DEVICE_KEY));
}

fn tshark_available() -> bool {
    let ok = Command::new("tshark")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !ok {
        skip("tshark");
    }
    ok
}

fn tshark_fields(pcap: &std::path::Path, filter: &str, fields: &[&str]) -> Vec<String> {
    let mut cmd = Command::new("tshark");
    cmd.args([
        "-r",
        pcap.to_str().unwrap(),
        "-Y",
        filter,
        "-T",
        "fields",
        "-E",
        "separator=|",
        "-E",
        "aggregator=,",
    ]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.stderr(Stdio::null()).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn tshark_dissects_discovery_packets_as_we_do() {
    if !tshark_available() {
        return;
    }
    let plug = MacAddr([0x24, 0x0a, 0xc4, 0x12, 0x34, 0x56]);
    let mcast = MacAddr([0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb]);
    let udp = |src: [u8; 4], dst: [u8; 4], sp: u16, dp: u16, p: &[u8], dmac: MacAddr| {
        klap::ethernet(dmac, plug, &frames::ipv4_udp(src, dst, 255, sp, dp, p))
    };
    let mdns_p = smd::announcement(&[smd::examples::HOMEKIT_PLUG], false);
    let ssdp_p = sssdp::wemo_notify([192, 168, 0, 81], 49153, "221517K0101769", false);
    let dhcp_p = sdhcp::request(
        3,
        0x1234,
        plug,
        "ESP_123456",
        "udhcp 1.30.1",
        sdhcp::UDHCPC_PARAMS,
        Some([192, 168, 0, 77]),
    );
    let fr = vec![
        (
            Ts::from_micros(1, 0),
            udp(
                [192, 168, 0, 71],
                [224, 0, 0, 251],
                5353,
                5353,
                &mdns_p,
                mcast,
            ),
        ),
        (
            Ts::from_micros(2, 0),
            udp(
                [192, 168, 0, 81],
                [239, 255, 255, 250],
                1900,
                1900,
                &ssdp_p,
                MacAddr([1, 0, 0x5e, 0x7f, 0xff, 0xfa]),
            ),
        ),
        (
            Ts::from_micros(3, 0),
            udp([0; 4], [255; 4], 68, 67, &dhcp_p, MacAddr::BROADCAST),
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("discovery.pcap");
    std::fs::write(&path, encode(Format::Pcap, 1, &fr)).unwrap();

    // mDNS: the SRV, PTR, TXT and A records.
    let m = tshark_fields(
        &path,
        "mdns",
        &[
            "dns.srv.port",
            "dns.srv.target",
            "dns.ptr.domain_name",
            "dns.a",
        ],
    );
    assert_eq!(
        m,
        vec!["51827|Eve-Energy-5A3C.local|Eve Energy 5A3C._hap._tcp.local|192.168.0.71"]
    );
    let f = decode(&mdns_p, DecoderConfig::default());
    let a = &announces(&f)[0];
    assert_eq!(a.ip.to_string(), "192.168.0.71");
    let txt = tshark_fields(&path, "mdns", &["dns.txt"]);
    assert!(txt[0].contains("md=Eve Energy 20EBO8301"), "{txt:?}");
    assert_eq!(a.model.as_deref(), Some("Eve Energy 20EBO8301"));

    // SSDP: the method and the LOCATION/SERVER headers.
    let s = tshark_fields(
        &path,
        "ssdp",
        &["http.request.method", "http.location", "http.server"],
    );
    assert_eq!(
        s,
        vec!["NOTIFY|http://192.168.0.81:49153/setup.xml|Unspecified, UPnP/1.0, Unspecified"]
    );
    let ours = plugsniff::decoders::ssdp::parse(&ssdp_p).unwrap();
    assert_eq!(
        ours.location.as_deref(),
        Some("http://192.168.0.81:49153/setup.xml")
    );
    assert_eq!(
        ours.server.as_deref(),
        Some("Unspecified, UPnP/1.0, Unspecified")
    );

    // DHCP: host name, vendor class, parameter list, FQDN.
    let d = tshark_fields(
        &path,
        "dhcp",
        &[
            "dhcp.option.hostname",
            "dhcp.option.vendor_class_id",
            "dhcp.option.request_list_item",
            "dhcp.fqdn.name",
        ],
    );
    let ours = plugsniff::flows::names::parse_dhcp(&dhcp_p).unwrap();
    let params: Vec<String> = ours.param_list.iter().map(u8::to_string).collect();
    assert_eq!(
        d,
        vec![format!(
            "{}|{}|{}|{}",
            ours.hostname.unwrap(),
            ours.vendor_class.unwrap(),
            params.join(","),
            ours.fqdn.unwrap()
        )]
    );
}
