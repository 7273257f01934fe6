//! `[output] history = "dir"`: each device's time series (relay, power,
//! voltage, current, energy; `report::history`) as one CSV file per device,
//! `<mac with dashes>.csv` (`50-c7-bf-01-02-03.csv`), in that directory.
//!
//! Owns [`HistorySink`] and its `history` writer thread. Guarantees:
//! - the files are written at the end of the run and every
//!   [`WRITE_EVERY`] during it, only for the devices whose history changed;
//! - each file is replaced whole (`NAME.partial`, mode 0600, renamed), and
//!   every name is checked by `output::dest` before it is written: never an
//!   input (the capture, the config, a key file), never anything but a
//!   regular file;
//! - the ordered stage never writes: it hands copies of the changed
//!   histories to the writer thread through a queue of one
//!   (`try_send`; a write still running defers the next to the following
//!   tick, nothing is lost). `finish` waits for the last write;
//! - bounded by [`History`]'s caps (devices, samples per device).
//!
//! CSV columns: `DeviceHistory::write_csv`.

use std::collections::BTreeSet;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, TrySendError, bounded};

use super::dest::{self, InputSpec, OutFile, OutputSpec, Role};
use super::{EventSink, RunView};
use crate::report::event::{Event, EventBody};
use crate::report::history::{DeviceHistory, History};
use crate::wire::MacAddr;

/// Time between two writes on a long run.
pub const WRITE_EVERY: Duration = Duration::from_secs(60);

/// The file name of a device's CSV.
pub fn file_name(mac: &MacAddr) -> String {
    format!("{}.csv", mac.to_string().replace(':', "-"))
}

type Batch = Vec<(MacAddr, DeviceHistory)>;

/// The sink (module doc).
pub struct HistorySink {
    history: History,
    dir: PathBuf,
    dirty: BTreeSet<MacAddr>,
    last: Instant,
    tx: Option<Sender<Batch>>,
    writer: Option<JoinHandle<()>>,
    /// The writer's first error, reported on the ordered stage.
    error: Arc<Mutex<Option<io::Error>>>,
}

impl HistorySink {
    /// Checks `dir` (it must exist and be a directory) and starts the
    /// writer. `inputs` are the run's input files, (flag, path), which no
    /// CSV may be.
    pub fn start(dir: &Path, inputs: Vec<(&'static str, PathBuf)>) -> io::Result<HistorySink> {
        let m = std::fs::metadata(dir).map_err(|e| {
            io::Error::new(e.kind(), format!("[output] history {}: {e}", dir.display()))
        })?;
        if !m.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("[output] history {}: not a directory", dir.display()),
            ));
        }
        let (tx, rx) = bounded::<Batch>(1);
        let error = Arc::new(Mutex::new(None));
        let (err2, dir2) = (error.clone(), dir.to_path_buf());
        let writer = std::thread::Builder::new()
            .name("history".into())
            .spawn(move || {
                for batch in rx {
                    for (mac, h) in &batch {
                        if let Err(e) = write_one(&dir2, &inputs, mac, h) {
                            let mut slot = err2.lock().unwrap_or_else(|p| p.into_inner());
                            slot.get_or_insert(e);
                        }
                    }
                }
            })?;
        Ok(HistorySink {
            history: History::default(),
            dir: dir.to_path_buf(),
            dirty: BTreeSet::new(),
            last: Instant::now(),
            tx: Some(tx),
            writer: Some(writer),
            error,
        })
    }

    fn take_error(&self) -> io::Result<()> {
        match self.error.lock().unwrap_or_else(|p| p.into_inner()).take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn batch(&self) -> Batch {
        self.dirty
            .iter()
            .filter_map(|m| self.history.get(m).map(|h| (*m, h.clone())))
            .collect()
    }
}

/// Writes one device's CSV through `dest` (checked against the inputs).
fn write_one(
    dir: &Path,
    inputs: &[(&'static str, PathBuf)],
    mac: &MacAddr,
    h: &DeviceHistory,
) -> io::Result<()> {
    let path = dir.join(file_name(mac));
    let ins: Vec<InputSpec<'_>> = inputs
        .iter()
        .map(|(flag, p)| InputSpec { flag, path: p })
        .collect();
    let target = dest::check(
        &ins,
        &[OutputSpec::new("[output] history", &path, Role::Replace)],
    )
    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?
    .into_iter()
    .next()
    .ok_or_else(|| io::Error::other("no target"))?;
    let f = OutFile::create(&target)?;
    let mut w = BufWriter::new(f);
    h.write_csv(&mut w)?;
    w.flush()?;
    let f = w.into_inner().map_err(|e| e.into_error())?;
    f.commit()
}

fn device_of(e: &Event) -> Option<MacAddr> {
    match &e.body {
        EventBody::Message(m) => m.device,
        EventBody::CloudLink(c) => c.device,
        _ => None,
    }
}

impl EventSink for HistorySink {
    fn event(&mut self, e: &Event, _view: &RunView<'_>) -> io::Result<()> {
        self.history.record(e);
        if let Some(mac) = device_of(e)
            && self.history.get(&mac).is_some()
        {
            self.dirty.insert(mac);
        }
        Ok(())
    }

    fn tick(&mut self, _view: &RunView<'_>) -> io::Result<()> {
        self.take_error()?;
        if self.dirty.is_empty() || self.last.elapsed() < WRITE_EVERY {
            return Ok(());
        }
        let Some(tx) = &self.tx else { return Ok(()) };
        match tx.try_send(self.batch()) {
            Ok(()) => {
                self.dirty.clear();
                self.last = Instant::now();
            }
            // The last write is still running: the next tick tries again.
            Err(TrySendError::Full(_)) => {}
            Err(TrySendError::Disconnected(_)) => {
                return Err(io::Error::other("the history writer stopped"));
            }
        }
        Ok(())
    }

    fn finish(&mut self, _view: &RunView<'_>) -> io::Result<()> {
        if let Some(tx) = self.tx.take() {
            if !self.dirty.is_empty() {
                // Blocks only while a previous write finishes.
                let _ = tx.send(self.batch());
                self.dirty.clear();
            }
            drop(tx);
        }
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
        self.take_error()
    }

    fn writable_dirs(&self) -> Vec<PathBuf> {
        vec![self.dir.clone()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            file_name(&MacAddr([0x50, 0xc7, 0xbf, 1, 2, 0xa3])),
            "50-c7-bf-01-02-a3.csv"
        );
    }

    #[test]
    fn refuses_what_is_not_a_directory() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("file");
        std::fs::write(&f, "x").unwrap();
        assert!(HistorySink::start(&f, vec![]).is_err());
        assert!(HistorySink::start(&d.path().join("absent"), vec![]).is_err());
        assert!(HistorySink::start(d.path(), vec![]).is_ok());
    }
}
