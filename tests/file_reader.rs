//! The capture reader (`capture::file`) against tshark, an independent
//! implementation (Wireshark's wiretap): every frame of every real capture
//! in `../shared/captures`, of `captures/demo.pcapng`, and of synthesized
//! files in every variant (both byte orders, µs/ns, modified pcap, several
//! pcapng sections and interfaces of different link types, `if_tsresol`
//! powers of 10 and 2, simple and obsolete packet blocks, blocks to skip)
//! must have the same timestamp to the nanosecond, lengths, interface and
//! bytes. Then the reader on a FIFO fed frame by frame, and the binary on
//! standard input.
//!
//! Without tshark the comparisons are skipped with a message, except under
//! `CI=true`, where they fail.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use plugsniff::capture::file::{FileError, Reader};
use plugsniff::capture::{CaptureError, FileSource};
use plugsniff::synth::capfile::{
    BT_CUSTOM, BT_DSB, BT_ISB, BT_NRB, OPT_IF_TSOFFSET, OPT_IF_TSRESOL, PcapBuilder, PcapFlavor,
    PcapNgBuilder,
};

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/captures/demo.pcapng");
const DEMO_CFG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/captures/demo.toml");

/// One frame as both sides describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    sec: i64,
    nsec: u32,
    len: u32,
    cap_len: u32,
    /// pcapng interface (tshark: empty for pcap, read as 0).
    interface: u32,
    /// Wireshark's encapsulation for our link type (only those used here).
    encap: String,
    bytes: Vec<u8>,
}

/// wiretap's `WTAP_ENCAP_*` for the LINKTYPE values in these files.
fn encap(dlt: i32) -> String {
    match dlt {
        1 => "1",
        105 => "20",
        119 => "21",
        127 => "23",
        other => panic!("no encapsulation mapping for link type {other}"),
    }
    .to_string()
}

fn tshark_present() -> bool {
    let ok = Command::new("tshark")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "CI=true but tshark is missing: the reader cannot be checked"
        );
        eprintln!("SKIP: tshark not found; reader comparison skipped");
    }
    ok
}

/// tshark's view: `-T json -x -J frame` gives the frame fields and the raw
/// bytes. A record without a timestamp (a Simple Packet Block) reads as
/// time 0, as ours. tshark also shows each pcapng custom block as a record
/// of its own, without encapsulation; those are not frames and are left
/// out (we skip them, as the pcapng spec allows).
fn tshark(path: &Path) -> Vec<Seen> {
    let o = Command::new("tshark")
        .args(["-r"])
        .arg(path)
        .args(["-T", "json", "-x", "-J", "frame"])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "tshark on {}: {}",
        path.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let field = |f: &serde_json::Value, k: &str| f[k].as_str().unwrap_or("").to_string();
    v.as_array()
        .unwrap()
        .iter()
        .filter(|p| !field(&p["_source"]["layers"]["frame"], "frame.encap_type").is_empty())
        .map(|p| {
            let layers = &p["_source"]["layers"];
            let f = &layers["frame"];
            let epoch = field(f, "frame.time_epoch");
            let (s, frac) = epoch.split_once('.').unwrap_or(("0", "000000000"));
            assert_eq!(frac.len(), 9, "{epoch}");
            let hex = layers["frame_raw"][0].as_str().unwrap_or("");
            Seen {
                sec: s.parse().unwrap(),
                nsec: frac.parse().unwrap(),
                len: field(f, "frame.len").parse().unwrap(),
                cap_len: field(f, "frame.cap_len").parse().unwrap(),
                interface: field(f, "frame.interface_id").parse().unwrap_or(0),
                encap: field(f, "frame.encap_type"),
                bytes: hex::decode(hex).unwrap(),
            }
        })
        .collect()
}

/// Our view, through the same reader `FileSource` uses.
fn ours(path: &Path) -> Vec<Seen> {
    let mut r = Reader::new(std::fs::File::open(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut v = Vec::new();
    while let Some(f) = r
        .next_frame()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    {
        v.push(Seen {
            sec: f.ts.sec,
            nsec: f.ts.nsec,
            len: f.orig_len,
            cap_len: f.data.len() as u32,
            interface: f.interface,
            encap: encap(f.dlt),
            bytes: f.data.to_vec(),
        });
    }
    v
}

fn assert_same(path: &Path) -> usize {
    let (want, got) = (tshark(path), ours(path));
    assert_eq!(got.len(), want.len(), "{}: frame count", path.display());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "{}: frame {}", path.display(), i + 1);
    }
    got.len()
}

#[test]
fn every_real_capture_matches_tshark() {
    let Some(dir) = common::shared_captures() else {
        return;
    };
    if !tshark_present() {
        return;
    }
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e != "md"))
        .collect();
    files.push(DEMO.into());
    files.sort();
    let mut total = 0;
    for f in &files {
        total += assert_same(f);
    }
    // 13 shared captures and the demo: a file that went missing shows here.
    assert!(
        files.len() >= 14 && total > 3000,
        "{} files, {total} frames",
        files.len()
    );
}

/// Every format variant, written by `synth::capfile`, read by tshark and by us.
fn variants() -> Vec<(&'static str, Vec<u8>)> {
    let mut v = Vec::new();
    for (name, flavor, big) in [
        ("pcap-us-le", PcapFlavor::Micros, false),
        ("pcap-us-be", PcapFlavor::Micros, true),
        ("pcap-ns-le", PcapFlavor::Nanos, false),
        ("pcap-ns-be", PcapFlavor::Nanos, true),
        ("pcap-modified-le", PcapFlavor::Modified, false),
    ] {
        let mut b = PcapBuilder::new(flavor, big, 105, 65535);
        b.record(1_700_000_000, 123_456, 60, &[0x08, 0x01, 0, 0, 1, 2, 3]);
        b.record(1_700_000_001, 999_999, 30, &[0x80; 30]);
        b.record(1_700_000_002, 0, 4, &[]);
        v.push((name, b.into_bytes()));
    }
    // Two sections of opposite byte orders; interfaces of three link types;
    // nanosecond, 2^-20 and default resolutions; an offset; every packet
    // block kind; blocks to skip between them.
    let radiotap = [0u8, 0, 8, 0, 0, 0, 0, 0, 0x80, 0, 0, 0];
    let eth = [0xffu8; 14];
    let mut b = PcapNgBuilder::new(false);
    b.block(BT_NRB, &[0; 4]);
    b.idb(127, 0, &[(OPT_IF_TSRESOL, &[9])]);
    let off = b.tsoffset(1_000);
    b.idb(
        1,
        0,
        &[(OPT_IF_TSRESOL, &[0x80 | 20]), (OPT_IF_TSOFFSET, &off)],
    );
    b.idb(105, 0, &[]);
    b.epb(0, 1_700_000_000_123_456_789, 40, &radiotap);
    b.block(BT_ISB, &[0; 12]);
    b.epb(1, (1_700_000_000 << 20) + 3, 14, &eth);
    b.epb(2, 1_700_000_000_654_321, 4, &[0x08, 0x02, 0, 0]);
    b.block(BT_CUSTOM, b"\x00\x00\x7e\x2a custom!");
    b.block(BT_DSB, &[0x53, 0x4b, 0x4c, 0x4b, 0, 0, 0, 0]);
    b.block(0x0000_0101, &[1, 2, 3, 4]); // a type nobody defined
    b.section(true);
    b.idb(105, 3, &[(OPT_IF_TSRESOL, &[3])]);
    b.idb(127, 0, &[]);
    b.pb(1, 1_700_000_000_000_001, 12, &radiotap);
    b.epb(0, 1_700_000_000_999, 3, &[0x80, 0, 0]);
    v.push(("pcapng-mixed", b.into_bytes()));
    v
}

#[test]
fn every_format_variant_matches_tshark() {
    if !tshark_present() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    for (name, bytes) in variants() {
        let p = tmp.path().join(name);
        std::fs::write(&p, &bytes).unwrap();
        assert!(assert_same(&p) >= 3, "{name}");
    }
}

/// A Simple Packet Block has no timestamp (tshark shows none; ours is 0)
/// and takes min(original length, snaplen of interface 0).
#[test]
fn simple_packet_blocks_match_tshark() {
    if !tshark_present() {
        return;
    }
    let mut b = PcapNgBuilder::new(true);
    b.idb(105, 6, &[]);
    b.idb(127, 0, &[]);
    b.spb(10, &[0x80, 0, 1, 2, 3, 4]);
    b.spb(2, &[0x80, 0]);
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("spb.pcapng");
    std::fs::write(&p, b.bytes()).unwrap();
    let got = ours(&p);
    assert_eq!(
        (got[0].sec, got[0].nsec, got[0].len, got[0].cap_len),
        (0, 0, 10, 6)
    );
    assert_eq!(assert_same(&p), 2);
}

/// The multi-link-type file is opened by its first interface's link type
/// (radiotap); frames of the others come with their own link type.
#[test]
fn file_source_opens_mixed_link_types_by_the_first() {
    let (_, bytes) = variants().pop().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("mixed.pcapng");
    std::fs::write(&p, &bytes).unwrap();
    let mut src = FileSource::open(p.to_str().unwrap()).unwrap();
    assert_eq!((src.dlt, src.plain), (127, false));
    let mut dlts = Vec::new();
    while let Some(f) = src.next_frame().unwrap() {
        dlts.push((f.dlt, f.interface));
    }
    assert_eq!(dlts, [(127, 0), (1, 1), (105, 2), (127, 1), (105, 0)]);
    assert_eq!(src.bytes_read(), bytes.len() as u64);
}

/// A FIFO whose writer sends the header and one frame, then waits until the
/// reader has returned that frame before sending the rest: the reader must
/// not wait to fill its buffer.
#[test]
fn fifo_delivers_frames_as_they_are_written() {
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("cap.fifo");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let demo = std::fs::read(DEMO).unwrap();
    // SHB (28) + IDB (20) + the first EPB.
    let first_epb_len = u32::from_le_bytes(demo[52..56].try_into().unwrap()) as usize;
    let split = 48 + first_epb_len;
    let (got_first, wait_first) = mpsc::channel::<()>();
    let f2 = fifo.clone();
    let writer = std::thread::spawn(move || {
        let mut w = std::fs::OpenOptions::new().write(true).open(f2).unwrap();
        w.write_all(&demo[..split]).unwrap();
        w.flush().unwrap();
        // If the reader waited for more bytes, this times out.
        let delivered = wait_first.recv_timeout(Duration::from_secs(20)).is_ok();
        for chunk in demo[split..].chunks(1000) {
            w.write_all(chunk).unwrap();
        }
        delivered
    });
    let mut src = FileSource::open(fifo.to_str().unwrap()).unwrap();
    assert_eq!(src.file_size, None);
    let mut n = 0;
    while let Some(_f) = src.next_frame().unwrap() {
        if n == 0 {
            got_first.send(()).unwrap();
        }
        n += 1;
    }
    assert!(
        writer.join().unwrap(),
        "first frame not delivered before the rest was written"
    );
    assert_eq!(n, 424);
}

/// `plugsniff decrypt -` fed in small, delayed pieces writes the same
/// decrypted pcap as from the file.
#[test]
fn stdin_gives_the_same_output_as_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |input: &str, out: &Path, stdin: Option<Vec<u8>>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_plugsniff"));
        c.args(["decrypt", input, "--config", DEMO_CFG, "-o"])
            .arg(out)
            .env_remove("PLUGSNIFF_PASSPHRASE")
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        if let Some(bytes) = stdin {
            let mut w = child.stdin.take().unwrap();
            for chunk in bytes.chunks(777) {
                w.write_all(chunk).unwrap();
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        o.stdout
    };
    let (a, b) = (tmp.path().join("a.pcap"), tmp.path().join("b.pcap"));
    let from_file = String::from_utf8(run(DEMO, &a, None)).unwrap();
    let from_stdin = String::from_utf8(run("-", &b, Some(std::fs::read(DEMO).unwrap()))).unwrap();
    assert!(from_file.contains("frames: 424 read"), "{from_file}");
    assert_eq!(
        from_file.replace(a.to_str().unwrap(), "OUT"),
        from_stdin.replace(b.to_str().unwrap(), "OUT")
    );
    let out = std::fs::read(&a).unwrap();
    assert!(out.len() > 1000);
    assert_eq!(out, std::fs::read(&b).unwrap());
}

/// The open errors of `FileSource`, each a clear message (exit code 3 in the CLI).
#[test]
fn open_errors_are_clear() {
    let tmp = tempfile::tempdir().unwrap();
    let open = |name: &str, bytes: Option<&[u8]>| -> String {
        let p = tmp.path().join(name);
        if let Some(b) = bytes {
            std::fs::write(&p, b).unwrap();
        }
        match FileSource::open(p.to_str().unwrap()) {
            Err(e @ CaptureError::Open { .. }) => e.to_string(),
            Err(e) => panic!("{name}: not an open error: {e}"),
            Ok(_) => panic!("{name}: opened"),
        }
    };
    let d = tmp.path().join("dir");
    std::fs::create_dir(&d).unwrap();
    assert!(open("dir", None).ends_with("dir: is a directory"));
    assert!(open("missing", None).contains("No such file"));
    assert!(open("empty", Some(b"")).ends_with("empty: empty file, not a capture"));
    assert!(open("text", Some(b"# a config file\n")).ends_with(
        "text: not a pcap or pcapng file: starts with \"# a config file\\n\" \
             (23 20 61 20 63 6f 6e 66 69 67 20 66 69 6c 65 0a)"
    ));
    let mut gz = vec![0x1f, 0x8b, 8, 0];
    gz.extend_from_slice(&[0; 20]);
    assert!(open("cap.pcap.gz", Some(&gz)).ends_with("gzip-compressed: gunzip it first"));
    // Not 802.11: the link type named, as libpcap names it.
    let eth = PcapBuilder::new(PcapFlavor::Micros, false, 1, 65535).into_bytes();
    let p = tmp.path().join("eth.pcap");
    std::fs::write(&p, eth).unwrap();
    let e = FileSource::open(p.to_str().unwrap()).err().unwrap();
    assert!(
        matches!(e, CaptureError::UnsupportedLink { dlt: 1, .. })
            && e.to_string().contains("link type 1 (EN10MB, Ethernet)"),
        "{e}"
    );
    // ... which `open_any` accepts when the caller reads that link type.
    let src = FileSource::open_any(p.to_str().unwrap(), |d| d == 1).unwrap();
    assert!(src.plain && src.dlt == 1);
}

/// A torn last record through `FileSource`: the error names the path, the
/// frames read before it, and the offset.
#[test]
fn torn_file_is_a_read_error_after_the_complete_frames() {
    let demo = std::fs::read(DEMO).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("torn.pcapng");
    std::fs::write(&p, &demo[..demo.len() - 10]).unwrap();
    let mut src = FileSource::open(p.to_str().unwrap()).unwrap();
    let mut n = 0;
    let err = loop {
        match src.next_frame() {
            Ok(Some(_)) => n += 1,
            Ok(None) => panic!("no error"),
            Err(e) => break e,
        }
    };
    assert_eq!(n, 423);
    let CaptureError::Read { frames, msg, .. } = &err else {
        panic!("{err}");
    };
    assert_eq!(*frames, 423);
    assert!(
        msg.starts_with("truncated pcapng block at byte offset "),
        "{msg}"
    );
    let e = Reader::new(&demo[..40]).err();
    assert!(matches!(e, Some(FileError::Truncated { .. })), "{e:?}");
}
