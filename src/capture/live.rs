//! Live capture from a network interface, through libpcap loaded at run time
//! ([`super::libpcap`]).
//!
//! An interface in monitor mode gives 802.11 frames (radiotap preferred when
//! the interface offers it); with [`LiveOptions::accept_plain`] a wired one
//! (Ethernet, Linux cooked, loopback/null, raw IP: whatever
//! `accept_plain` accepts) is opened as it is, for a tap on the plugs' LAN.
//!
//! Sizing (measured on a radiotap interface, 1500-byte frames): with immediate
//! mode and libpcap's default buffer, libpcap dropped ≈3 % even at 10k
//! frames/s; with a 32 MiB kernel buffer nothing was dropped up to ≈300k
//! frames/s. Hence [`DEFAULT_BUFFER`] and [`DEFAULT_SNAPLEN`]. The packet
//! buffer timeout is [`READ_TIMEOUT_MS`], but a read on an idle interface
//! returns [`Next::Idle`] only where libpcap honours it without traffic
//! (macOS and the BSDs; on Linux it keeps waiting, pcap_breakloop(3PCAP)).
//! [`LiveSource::breaker`] returns a handle that makes a blocked read return
//! at once (libpcap's `pcap_breakloop`, which on Linux wakes the poll), so
//! shutdown is prompt on an idle capture everywhere.
//! libpcap's own counters (`ps_drop`, `ps_ifdrop`) are read with
//! [`LiveSource::stats`] and reported, never hidden. A `-f` filter is compiled
//! for the interface and installed in the kernel.

use crate::wire::Ts;

use super::libpcap::{self, BreakHandle, Capture, Libpcap, OpenError, Read, Settings};
use super::{CaptureError, RawFrame};
use crate::wire::link::{DLT_RADIOTAP, LinkKind};

pub const DEFAULT_SNAPLEN: i32 = 16_384;
pub const DEFAULT_BUFFER: i32 = 32 << 20;
pub const READ_TIMEOUT_MS: i32 = 100;

/// How to open an interface.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    pub interface: String,
    /// Ask libpcap for monitor mode (rfmon). Off for an interface that is
    /// already a monitor interface (Linux `mon0`), on for macOS `en0`.
    pub monitor: bool,
    pub snaplen: i32,
    pub buffer_size: i32,
    pub immediate: bool,
    /// BPF filter (`-f`), compiled by libpcap and set on the interface.
    pub filter: Option<String>,
    /// Link types other than 802.11 that may be opened as they are (a wired
    /// interface); `None` refuses them (`decrypt`, the default).
    /// `watch` passes [`crate::flows::ip::supported_plain_dlt`].
    pub accept_plain: Option<fn(i32) -> bool>,
}

impl LiveOptions {
    pub fn new(interface: &str) -> Self {
        LiveOptions {
            interface: interface.to_string(),
            monitor: false,
            snaplen: DEFAULT_SNAPLEN,
            buffer_size: DEFAULT_BUFFER,
            immediate: true,
            filter: None,
            accept_plain: None,
        }
    }
}

/// libpcap's drop counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PcapStats {
    pub received: u64,
    /// Dropped because the buffer was full (`ps_drop`).
    pub dropped: u64,
    /// Dropped by the interface or driver (`ps_ifdrop`).
    pub if_dropped: u64,
}

/// What a read returned.
pub enum Next<'a> {
    Frame(RawFrame<'a>),
    /// The read timed out with nothing captured (check for shutdown, report stats).
    Idle,
    /// Stopped by [`Breaker::stop`], or the interface went away.
    End,
}

/// Stops a blocked [`LiveSource::next_frame`] from any thread; harmless
/// after the source is dropped.
#[derive(Clone)]
pub struct Breaker(BreakHandle);

impl Breaker {
    pub fn stop(&self) {
        self.0.stop();
    }
}

pub struct LiveSource {
    cap: Capture,
    pub interface: String,
    /// The 802.11 link kind; `LinkKind::Ieee80211` placeholder when `plain`.
    pub kind: LinkKind,
    pub dlt: i32,
    /// A non-802.11 link type accepted by [`LiveOptions::accept_plain`].
    pub plain: bool,
    /// libpcap's name of the link type ("IEEE802_11_RADIO", "EN10MB").
    pub link_name: String,
    frames: u64,
    last_stats: PcapStats,
}

fn hint_monitor(iface: &str) -> String {
    if cfg!(target_os = "macos") {
        format!(
            "{iface} refused monitor mode. On macOS use the Wi-Fi interface (en0) with --monitor; \
             the Mac disassociates from its network while capturing. See docs/hardware.md."
        )
    } else {
        format!(
            "{iface} refused monitor mode. On Linux create a monitor interface instead \
             (`iw dev wlan0 interface add mon0 type monitor && ip link set mon0 up`) and capture \
             on it without --monitor. See docs/hardware.md."
        )
    }
}

/// The message for a failed open, with a hint where one helps.
fn open_message(o: &LiveOptions, e: &OpenError) -> String {
    let m = e.to_string();
    let lower = m.to_ascii_lowercase();
    let code = e.status;
    if o.monitor && (code == libpcap::status::RFMON_NOTSUP || lower.contains("monitor mode")) {
        format!("{m}: {}", hint_monitor(&o.interface))
    } else if code == libpcap::status::NO_SUCH_DEVICE
        || m.contains("No such device")
        || m.contains("doesn't exist")
    {
        format!("{m} (list interfaces with `ip link` or `ifconfig`)")
    } else if code == libpcap::status::PERM_DENIED
        || code == libpcap::status::PROMISC_PERM_DENIED
        || lower.contains("permission")
        || m.contains("Operation not permitted")
    {
        format!("{m} (capturing needs root or CAP_NET_RAW + CAP_NET_ADMIN)")
    } else if code == libpcap::status::IFACE_NOT_UP {
        format!("{m} (bring it up: `ip link set {} up`)", o.interface)
    } else {
        m
    }
}

impl LiveSource {
    pub fn open(o: &LiveOptions) -> Result<LiveSource, CaptureError> {
        let err = |msg: String| CaptureError::Open {
            path: o.interface.clone(),
            msg,
        };
        let lib = Libpcap::get()?;
        let settings = Settings {
            snaplen: o.snaplen,
            buffer_size: o.buffer_size,
            immediate: o.immediate,
            timeout_ms: READ_TIMEOUT_MS,
            promisc: true,
            rfmon: o.monitor,
        };
        let (mut cap, warnings) = lib
            .open_live(&o.interface, &settings)
            .map_err(|e| err(open_message(o, &e)))?;
        for w in warnings {
            tracing::warn!("{}: {w}", o.interface);
        }
        let mut dlt = cap.datalink();
        if LinkKind::from_dlt(dlt).is_none() {
            // Offer radiotap when the interface can do it, even when a plain
            // link type would be accepted: it is the 802.11 view.
            if let Ok(list) = cap.list_datalinks()
                && list.contains(&DLT_RADIOTAP)
                && cap.set_datalink(DLT_RADIOTAP).is_ok()
            {
                dlt = cap.datalink();
            }
        }
        let link_name = lib
            .datalink_name(dlt)
            .unwrap_or_else(|| format!("DLT {dlt}"));
        let plain = LinkKind::from_dlt(dlt).is_none() && o.accept_plain.is_some_and(|ok| ok(dlt));
        let kind = if plain {
            Some(LinkKind::Ieee80211)
        } else {
            LinkKind::from_dlt(dlt)
        };
        let kind = kind.ok_or_else(|| CaptureError::UnsupportedLink {
            path: o.interface.clone(),
            dlt,
            name: format!(
                "{link_name}; not a monitor-mode interface{}: {}",
                if o.accept_plain.is_some() {
                    " nor a wired link plugsniff decodes (Ethernet, Linux cooked, \
                     loopback/null, raw IP)"
                } else {
                    ""
                },
                hint_monitor(&o.interface)
            ),
        })?;
        if let Some(f) = &o.filter {
            cap.set_filter(f).map_err(|msg| {
                CaptureError::Filter(super::filter::FilterError::Compile {
                    expr: f.clone(),
                    dlt,
                    link: link_name.clone(),
                    msg,
                })
            })?;
        }
        Ok(LiveSource {
            cap,
            interface: o.interface.clone(),
            kind,
            dlt,
            plain,
            link_name,
            frames: 0,
            last_stats: PcapStats::default(),
        })
    }

    pub fn breaker(&mut self) -> Breaker {
        Breaker(self.cap.break_handle())
    }

    pub fn next_frame(&mut self) -> Result<Next<'_>, CaptureError> {
        match self.cap.next_packet() {
            Ok(Read::Packet {
                ts_sec,
                ts_usec,
                orig_len,
                data,
            }) => {
                self.frames += 1;
                Ok(Next::Frame(RawFrame {
                    ts: Ts::from_micros(ts_sec, u32::try_from(ts_usec).unwrap_or(0)),
                    orig_len,
                    data,
                }))
            }
            Ok(Read::Timeout) => Ok(Next::Idle),
            Ok(Read::Break) => Ok(Next::End),
            Err(e) => Err(CaptureError::Read {
                path: self.interface.clone(),
                frames: self.frames,
                msg: format!("{e} (did the interface go away?)"),
            }),
        }
    }

    /// libpcap's counters (cumulative). On error the last known values.
    pub fn stats(&mut self) -> PcapStats {
        if let Ok(s) = self.cap.stats() {
            self.last_stats = PcapStats {
                received: u64::from(s.received),
                dropped: u64::from(s.dropped),
                if_dropped: u64::from(s.if_dropped),
            };
        }
        self.last_stats
    }

    pub fn frames(&self) -> u64 {
        self.frames
    }
}
