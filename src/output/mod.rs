//! Outputs: the decrypted pcap, the Wireshark key file, the run summary.
//! Every file written goes through [`dest`] (no output destroys an input or
//! anything that is not a regular file).
//!
//! Only this module formats what the engine produced for people or programs.

pub mod dest;
pub mod device_state;
pub mod files;
pub mod ha_discovery;
pub mod history_files;
pub mod json;
pub mod keys_out;
pub mod live;
pub mod merge;
pub mod metrics;
pub mod mqtt;
pub mod msgid;
pub mod pcap_out;
pub mod report;
pub mod summary;
pub mod tui;
pub mod watch_summary;
pub mod words;

use crate::engine::Engine;
use crate::report::counters::{CaptureCounts, WatchStats};
use crate::report::event::Event;
use crate::report::inventory::Inventory;

/// What a watch run knows at a moment: what sinks read to publish state
/// (device state, counters) beside the event stream.
pub struct RunView<'a> {
    pub inventory: &'a Inventory,
    pub stats: &'a WatchStats,
    pub engine: &'a Engine,
    pub capture: CaptureCounts,
}

/// A consumer of a watch run beside stdout and the JSON-lines file (an MQTT
/// publisher, a metrics endpoint, a dashboard). Called on the ordered stage's
/// thread: a sink must never block it (hand work to its own thread through a
/// bounded queue, and count what it drops).
pub trait EventSink {
    /// One event, in capture order.
    fn event(&mut self, e: &Event, view: &RunView<'_>) -> std::io::Result<()>;
    /// After every batch and while the capture is idle (at least every
    /// 200 ms on a live source): a chance to publish state.
    fn tick(&mut self, _view: &RunView<'_>) -> std::io::Result<()> {
        Ok(())
    }
    /// The run ended (after the last event, before the summary is printed).
    fn finish(&mut self, _view: &RunView<'_>) -> std::io::Result<()> {
        Ok(())
    }
    /// Directories the sink writes into after start-up (the sandbox keeps
    /// them writable).
    fn writable_dirs(&self) -> Vec<std::path::PathBuf> {
        Vec::new()
    }
}
