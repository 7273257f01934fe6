//! `watch --tui`: a live dashboard in the terminal (devices, radio, events,
//! a device's messages), drawn with ratatui on crossterm.
//!
//! Two threads, one hand-off:
//! - [`TuiSink`] is an [`EventSink`] on the ordered stage. It folds every
//!   event into a bounded [`model::Model`] and, at `tick` (at most every
//!   [`PUBLISH_EVERY`], and only once the UI took the previous one), puts a
//!   [`model::Snapshot`] into the [`Mailbox`]: a mutex held for a pointer's
//!   swap, so the ordered stage never waits for the screen;
//! - the `tui` thread (`term`) takes the newest snapshot, draws it
//!   (`view`, pure) and reads keys. Pausing only stops it taking snapshots:
//!   the capture and the model go on.
//!
//! At `finish` the last snapshot is marked "capture finished" and the
//! dashboard stays until `q` (a file read to its end can be looked at); the
//! caller waits on [`TuiHandle::wait`]. `q` stops a capture still running.
//! The terminal is restored in every case (see `term`).

pub mod model;
pub mod term;
pub mod view;

use std::io;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{EventSink, RunView};
use crate::report::event::Event;
use model::{Model, Snapshot};

pub use term::Exit;

/// Least time between two snapshots.
pub const PUBLISH_EVERY: Duration = Duration::from_millis(150);

/// The hand-off between the sink and the UI thread: at most one snapshot,
/// the newest.
#[derive(Default)]
pub struct Mailbox {
    slot: Mutex<Option<Snapshot>>,
}

impl Mailbox {
    /// Takes the snapshot waiting, if any.
    pub fn take(&self) -> Option<Snapshot> {
        term::lock(&self.slot).take()
    }

    /// Whether a snapshot is waiting (`None`: the lock is busy right now).
    fn is_full(&self) -> Option<bool> {
        self.slot.try_lock().ok().map(|s| s.is_some())
    }

    /// Replaces the waiting snapshot; the old one is dropped after the
    /// lock is released.
    fn put(&self, s: Snapshot) {
        let old = term::lock(&self.slot).replace(s);
        drop(old);
    }
}

/// The dashboard's sink on the ordered stage (module doc).
pub struct TuiSink {
    model: Model,
    mailbox: Arc<Mailbox>,
    last: Option<Instant>,
}

impl TuiSink {
    /// A sink that publishes into `mailbox` (the UI thread's, or a test's).
    pub fn new(mailbox: Arc<Mailbox>) -> TuiSink {
        TuiSink {
            model: Model::default(),
            mailbox,
            last: None,
        }
    }
}

impl EventSink for TuiSink {
    fn event(&mut self, e: &Event, view: &RunView<'_>) -> io::Result<()> {
        self.model.on_event(e, view);
        Ok(())
    }

    fn tick(&mut self, view: &RunView<'_>) -> io::Result<()> {
        if self.last.is_some_and(|t| t.elapsed() < PUBLISH_EVERY) {
            return Ok(());
        }
        // The UI has not taken the last one (paused, or busy): skip.
        if self.mailbox.is_full() != Some(false) {
            return Ok(());
        }
        self.last = Some(Instant::now());
        self.mailbox.put(self.model.snapshot(view, false));
        Ok(())
    }

    fn finish(&mut self, view: &RunView<'_>) -> io::Result<()> {
        self.mailbox.put(self.model.snapshot(view, true));
        Ok(())
    }
}

/// The running dashboard, for the command that started it.
pub struct TuiHandle {
    running: term::Running,
    control: Arc<term::Control>,
}

impl TuiHandle {
    /// Asks the dashboard to close now (the run failed before it could show
    /// anything worth looking at).
    pub fn close(&self) {
        self.control.close.store(true, Ordering::SeqCst);
    }

    /// Waits until the user quits (or a signal, or [`TuiHandle::close`]),
    /// with the terminal restored; returns what ended it and the last
    /// snapshot shown.
    pub fn wait(self) -> io::Result<(Exit, Option<Snapshot>)> {
        self.running.join()
    }
}

/// Takes the terminal (raw mode, alternate screen) and starts the UI
/// thread; `on_quit` stops the run when the user quits. Call before the
/// capture opens (see `term`). Standard output must be a terminal.
pub fn start(source: String, on_quit: Box<dyn Fn() + Send>) -> io::Result<(TuiSink, TuiHandle)> {
    if !term::stdout_is_terminal() {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "--tui needs standard output to be a terminal",
        ));
    }
    let mailbox = Arc::new(Mailbox::default());
    let control = Arc::new(term::Control::default());
    let running = term::start(mailbox.clone(), control.clone(), source, on_quit)?;
    Ok((TuiSink::new(mailbox), TuiHandle { running, control }))
}
