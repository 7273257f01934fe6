//! Live capture from a network interface in monitor mode, through libpcap.
//!
//! Sizing (measured on a radiotap interface, 1500-byte frames): with immediate
//! mode and libpcap's default buffer, libpcap dropped ≈3 % even at 10k
//! frames/s; with a 32 MiB kernel buffer nothing was dropped up to ≈300k
//! frames/s. Hence [`DEFAULT_BUFFER`] and [`DEFAULT_SNAPLEN`]. Reads block for
//! at most [`READ_TIMEOUT_MS`]; [`LiveSource::breaker`] returns a handle that
//! makes a blocked read return at once (libpcap's `pcap_breakloop`, which on
//! Linux wakes the poll), so shutdown is prompt on an idle capture.
//! libpcap's own counters (`ps_drop`, `ps_ifdrop`) are read with
//! [`LiveSource::stats`] and reported, never hidden.

use crate::engine::Ts;

use super::link::LinkKind;
use super::{CaptureError, RawFrame};

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
    /// BPF filter (`-f`), compiled by libpcap.
    pub filter: Option<String>,
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
        }
    }
}

/// libpcap's drop counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
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

/// Stops a blocked [`LiveSource::next_frame`] from any thread.
pub struct Breaker(pcap::BreakLoop);

impl Breaker {
    pub fn stop(&self) {
        self.0.breakloop();
    }
}

pub struct LiveSource {
    cap: pcap::Capture<pcap::Active>,
    pub interface: String,
    pub kind: LinkKind,
    pub dlt: i32,
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

impl LiveSource {
    pub fn open(o: &LiveOptions) -> Result<LiveSource, CaptureError> {
        let err = |msg: String| CaptureError::Open {
            path: o.interface.clone(),
            msg,
        };
        let inactive =
            pcap::Capture::from_device(o.interface.as_str()).map_err(|e| err(e.to_string()))?;
        let inactive = inactive
            .snaplen(o.snaplen)
            .buffer_size(o.buffer_size)
            .immediate_mode(o.immediate)
            .timeout(READ_TIMEOUT_MS)
            .promisc(true)
            .rfmon(o.monitor);
        let mut cap = inactive.open().map_err(|e| {
            let m = e.to_string();
            if o.monitor && m.to_ascii_lowercase().contains("monitor mode") {
                err(format!("{m}: {}", hint_monitor(&o.interface)))
            } else if m.contains("No such device") || m.contains("doesn't exist") {
                err(format!(
                    "{m} (list interfaces with `ip link` or `ifconfig`)"
                ))
            } else if m.to_ascii_lowercase().contains("permission")
                || m.contains("Operation not permitted")
            {
                err(format!(
                    "{m} (capturing needs root or CAP_NET_RAW + CAP_NET_ADMIN)"
                ))
            } else {
                err(m)
            }
        })?;
        let mut dl = cap.get_datalink();
        if LinkKind::from_dlt(dl.0).is_none() {
            // Offer radiotap when the interface can do it.
            if let Ok(list) = cap.list_datalinks() {
                if list.iter().any(|l| l.0 == 127) && cap.set_datalink(pcap::Linktype(127)).is_ok()
                {
                    dl = cap.get_datalink();
                }
            }
        }
        let kind = LinkKind::from_dlt(dl.0).ok_or_else(|| CaptureError::UnsupportedLink {
            path: o.interface.clone(),
            dlt: dl.0,
            name: format!(
                "{}; not a monitor-mode interface: {}",
                dl.get_name().unwrap_or_else(|_| "unknown".into()),
                hint_monitor(&o.interface)
            ),
        })?;
        if let Some(f) = &o.filter {
            cap.filter(f, true)
                .map_err(|e| err(format!("filter {f:?}: {e}")))?;
        }
        Ok(LiveSource {
            cap,
            interface: o.interface.clone(),
            kind,
            dlt: dl.0,
            frames: 0,
            last_stats: PcapStats::default(),
        })
    }

    pub fn breaker(&mut self) -> Breaker {
        Breaker(self.cap.breakloop_handle())
    }

    // time_t is i64 on 64-bit targets only.
    #[allow(clippy::useless_conversion)]
    pub fn next_frame(&mut self) -> Result<Next<'_>, CaptureError> {
        match self.cap.next_packet() {
            Ok(p) => {
                self.frames += 1;
                Ok(Next::Frame(RawFrame {
                    ts: Ts {
                        sec: i64::from(p.header.ts.tv_sec),
                        usec: p.header.ts.tv_usec as u32,
                    },
                    orig_len: p.header.len,
                    data: p.data,
                }))
            }
            Err(pcap::Error::TimeoutExpired) => Ok(Next::Idle),
            Err(pcap::Error::NoMorePackets) => Ok(Next::End),
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
