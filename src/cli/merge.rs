//! `plugsniff merge FILE...`: the JSON-lines event files of several sensors
//! (`--jsonl`, the daemon's `jsonl`, or what an MQTT subscriber saved) as one
//! stream in capture-time order, each message once, with the sensors that
//! heard it (`output::merge`).
//!
//! A file is `PATH` (its sensor is the line's `sensor`, else the file name
//! without its extension) or `NAME=PATH`. The files are read side by side,
//! always from the one whose next event is oldest, so memory holds one line
//! per file plus the lines of the de-duplication window. Inputs are only
//! read; `-o OUT` goes through `output::dest` like every output: never an
//! input, a directory or a device, written as `OUT.partial` (0600) and
//! renamed when complete.
//!
//! Exit codes: 2 usage, 3 an input cannot be opened, 1 one fails while
//! being read, 4 the output cannot be written.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::CliError;
use crate::capture::CaptureError;
use crate::output::dest::{self, InputSpec, OutFile, OutputSpec, Role};
use crate::output::merge::{Line, MAX_LINE, Merger, parse_line};

#[derive(Args)]
pub struct MergeArgs {
    /// JSON-lines event files: `PATH` or `SENSOR=PATH`.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<String>,
    /// Write here instead of standard output (whole or not at all).
    #[arg(short, long, value_name = "OUT.jsonl")]
    pub output: Option<PathBuf>,
    /// Copies of one message (same id) are at most this many seconds apart.
    #[arg(long, default_value_t = 60.0, value_name = "SECONDS")]
    pub window: f64,
}

/// One input: its sensor name, its reader, and its next event line.
struct Input {
    sensor: String,
    path: PathBuf,
    r: BufReader<File>,
    next: Option<(i128, String)>,
    line_no: u64,
}

impl Input {
    /// Reads ahead to the next event line (others go to the merger as they
    /// are: it counts summaries and bad lines).
    fn advance(&mut self, m: &mut Merger, buf: &mut Vec<u8>) -> Result<(), CliError> {
        self.next = None;
        loop {
            buf.clear();
            let n = read_line_bounded(&mut self.r, buf, MAX_LINE).map_err(|e| {
                CliError::Capture(CaptureError::Read {
                    path: self.path.display().to_string(),
                    frames: self.line_no,
                    msg: format!("line {}: {e}", self.line_no + 1),
                })
            })?;
            let Some(too_long) = n else { return Ok(()) };
            self.line_no += 1;
            if too_long {
                m.stats.lines += 1;
                m.stats.bad += 1;
                continue;
            }
            let text = String::from_utf8_lossy(buf).into_owned();
            if text.trim().is_empty() {
                continue;
            }
            match parse_line(&text) {
                Line::Event(e) => {
                    self.next = Some((e.ts, text));
                    return Ok(());
                }
                // Counted by the merger.
                _ => m
                    .push(&text, &self.sensor, &mut |_: &str| -> Result<(), ()> {
                        Ok(())
                    })
                    .unwrap_or(()),
            }
        }
    }
}

/// Reads one line into `buf` (without its newline), at most `max` bytes of
/// it; the rest of a longer line is skipped. `None` at the end of input,
/// `Some(true)` for a line that was too long.
fn read_line_bounded(
    r: &mut impl BufRead,
    buf: &mut Vec<u8>,
    max: usize,
) -> io::Result<Option<bool>> {
    let mut too_long = false;
    let mut any = false;
    loop {
        let chunk = r.fill_buf()?;
        if chunk.is_empty() {
            return Ok(any.then_some(too_long));
        }
        any = true;
        let (take, done) = match chunk.iter().position(|b| *b == b'\n') {
            Some(i) => (i, true),
            None => (chunk.len(), false),
        };
        if !too_long {
            if buf.len() + take > max {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(&chunk[..take]);
            }
        }
        r.consume(take + usize::from(done));
        if done {
            return Ok(Some(too_long));
        }
    }
}

pub fn run(a: MergeArgs) -> Result<(), CliError> {
    if !(a.window.is_finite() && a.window >= 0.0 && a.window <= 86_400.0) {
        return Err(CliError::Usage(
            "--window must be 0 to 86400 seconds".into(),
        ));
    }
    let mut inputs = Vec::new();
    for f in &a.files {
        let (sensor, path) = match f.split_once('=') {
            Some((s, p)) if !s.is_empty() && !s.contains('/') => (s.to_owned(), PathBuf::from(p)),
            _ => {
                let p = PathBuf::from(f);
                let stem = p
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| f.clone());
                (stem, p)
            }
        };
        let file = File::open(&path).map_err(|e| {
            CliError::Capture(CaptureError::Open {
                path: path.display().to_string(),
                msg: e.kind().to_string(),
            })
        })?;
        inputs.push(Input {
            sensor,
            path,
            r: BufReader::with_capacity(1 << 16, file),
            next: None,
            line_no: 0,
        });
    }
    // Checked before anything is read (`output::dest`): never an input, a
    // directory or a device; written as OUT.partial and renamed when whole.
    let inputs_spec: Vec<InputSpec<'_>> = inputs
        .iter()
        .map(|i| InputSpec {
            flag: "merge FILE",
            path: &i.path,
        })
        .collect();
    let target = match &a.output {
        Some(o) => dest::check(&inputs_spec, &[OutputSpec::new("-o", o, Role::Replace)])?
            .into_iter()
            .next(),
        None => None,
    };
    drop(inputs_spec);
    let shown = target
        .as_ref()
        .map_or_else(|| "standard output".to_string(), |t| t.display());
    let write_err = |err: io::Error| CliError::Io {
        what: format!("writing {shown}"),
        err,
    };
    let mut file = match &target {
        Some(t) => Some(io::BufWriter::new(OutFile::create(t).map_err(&write_err)?)),
        None => None,
    };
    let mut stdout = io::BufWriter::new(io::stdout().lock());
    let result = (|| -> Result<crate::output::merge::MergeStats, CliError> {
        let mut m = Merger::new(Duration::from_secs_f64(a.window));
        let mut buf = Vec::new();
        for i in &mut inputs {
            i.advance(&mut m, &mut buf)?;
        }
        let mut emit = |l: &str| -> io::Result<()> {
            match file.as_mut() {
                Some(f) => writeln!(f, "{l}"),
                None => writeln!(stdout, "{l}"),
            }
        };
        loop {
            let pick = inputs
                .iter()
                .enumerate()
                .filter_map(|(k, i)| i.next.as_ref().map(|(ts, _)| (*ts, k)))
                .min();
            let Some((_, k)) = pick else { break };
            let i = &mut inputs[k];
            let Some((_, text)) = i.next.take() else {
                break;
            };
            m.push(&text, &i.sensor, &mut emit).map_err(&write_err)?;
            i.advance(&mut m, &mut buf)?;
        }
        m.finish(&mut emit).map_err(&write_err)?;
        Ok(m.stats)
    })();
    // On an error the uncommitted OutFile removes its .partial when dropped.
    let stats = result?;
    match file {
        Some(f) => f
            .into_inner()
            .map_err(|e| write_err(e.into_error()))?
            .commit()
            .map_err(&write_err)?,
        None => {
            if let Err(err) = stdout.flush()
                && err.kind() != io::ErrorKind::BrokenPipe
            {
                return Err(write_err(err));
            }
        }
    }
    eprintln!(
        "plugsniff merge: {} lines from {} files: {} events written, {} copies merged, {} summaries and {} bad lines left out{}{}",
        stats.lines,
        inputs.len(),
        stats.written,
        stats.duplicates,
        stats.summaries,
        stats.bad,
        if stats.without_id > 0 {
            format!(
                ", {} lines without id (ids computed from content)",
                stats.without_id
            )
        } else {
            String::new()
        },
        if stats.forced > 0 {
            format!(", {} written early (buffer full)", stats.forced)
        } else {
            String::new()
        },
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_lines() {
        let mut r = io::Cursor::new(b"ab\ncdefgh\n\nij".to_vec());
        let mut buf = Vec::new();
        let mut got = Vec::new();
        while let Some(long) = read_line_bounded(&mut r, &mut buf, 4).unwrap() {
            got.push((String::from_utf8(buf.clone()).unwrap(), long));
            buf.clear();
        }
        assert_eq!(
            got,
            [
                ("ab".to_string(), false),
                (String::new(), true),
                (String::new(), false),
                ("ij".to_string(), false)
            ]
        );
    }
}
