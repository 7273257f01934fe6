//! The dashboard's terminal: setup and restore, and the UI thread's loop
//! (take the newest snapshot, draw, read keys).
//!
//! Owns the terminal while the dashboard runs. Guarantees:
//! - the terminal is restored (raw mode off, alternate screen left, cursor
//!   shown) when the loop ends for any reason: `q` or Ctrl-C, SIGINT or
//!   SIGTERM, the run closing it, an error, or a panic on any thread (a
//!   panic hook restores it before the previous hook prints the message).
//!   Restoring twice is harmless;
//! - what the process writes to standard error while the dashboard is up
//!   (warnings, logs) does not scribble over the screen: file descriptor 2
//!   is a pipe for that time, read by the `tui-stderr` thread into at most
//!   [`MAX_STDERR_LINES`] lines of at most [`MAX_STDERR_LINE`] bytes
//!   (the rest counted), and written to the real standard error once the
//!   terminal is restored;
//! - the UI thread never blocks the run: it only takes snapshots from the
//!   [`super::Mailbox`], and waits at most [`POLL`] for a key.
//!
//! The terminal is set up on the caller's thread, before the capture opens,
//! privileges are dropped and the sandbox is applied: crossterm may need to
//! open `/dev/tty` (when standard input is the capture, `-r -`), which
//! Landlock would refuse later.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use crossterm::{cursor, execute, terminal};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

use super::Mailbox;
use super::model::Snapshot;
use super::view::{self, UiState, visible_devices};

/// Longest wait for a key before the loop looks at the mailbox again.
pub const POLL: Duration = Duration::from_millis(100);
/// Lines of standard error kept while the dashboard is up.
pub const MAX_STDERR_LINES: usize = 200;
/// Bytes kept of one such line.
pub const MAX_STDERR_LINE: usize = 1_024;

/// The terminal is in raw mode on the alternate screen.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// The real standard error while fd 2 is the pipe (-1: not redirected).
static SAVED_STDERR: AtomicI32 = AtomicI32::new(-1);
/// The panic hook is installed (once per process).
static HOOKED: AtomicBool = AtomicBool::new(false);

/// Leaves raw mode and the alternate screen, and gives fd 2 back; safe to
/// call from a panic hook and more than once.
pub fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let _ = terminal::disable_raw_mode();
        let mut out = io::stdout();
        let _ = execute!(out, terminal::LeaveAlternateScreen, cursor::Show);
        let _ = out.flush();
    }
    let saved = SAVED_STDERR.swap(-1, Ordering::SeqCst);
    if saved >= 0 {
        // Closing the pipe's last write end ends the reader thread.
        let _ = nix::unistd::dup2(saved, 2);
        let _ = nix::unistd::close(saved);
    }
}

fn install_panic_hook() {
    if HOOKED.swap(true, Ordering::SeqCst) {
        return;
    }
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        prev(info);
    }));
}

/// Standard error as a pipe, read into a bounded list of lines.
struct StderrCapture {
    reader: JoinHandle<(VecDeque<String>, u64)>,
}

impl StderrCapture {
    fn start() -> io::Result<StderrCapture> {
        let (r, w): (OwnedFd, OwnedFd) = nix::unistd::pipe().map_err(io::Error::from)?;
        let saved: RawFd = nix::unistd::dup(2).map_err(io::Error::from)?;
        let reader = std::thread::Builder::new()
            .name("tui-stderr".into())
            .spawn(move || {
                let mut f = std::fs::File::from(r);
                let mut lines = VecDeque::new();
                let mut dropped = 0u64;
                let mut cur: Vec<u8> = Vec::new();
                let mut buf = [0u8; 4096];
                let mut push = |l: &[u8], lines: &mut VecDeque<String>| {
                    if lines.len() >= MAX_STDERR_LINES {
                        lines.pop_front();
                        dropped += 1;
                    }
                    lines.push_back(String::from_utf8_lossy(l).into_owned());
                };
                loop {
                    match f.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => {
                            for &b in &buf[..n] {
                                if b == b'\n' {
                                    push(&cur, &mut lines);
                                    cur.clear();
                                } else if cur.len() < MAX_STDERR_LINE {
                                    cur.push(b);
                                }
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => break,
                    }
                }
                if !cur.is_empty() {
                    push(&cur, &mut lines);
                }
                (lines, dropped)
            })?;
        if let Err(e) = nix::unistd::dup2(w.as_raw_fd(), 2) {
            let _ = nix::unistd::close(saved);
            return Err(e.into());
        }
        drop(w);
        SAVED_STDERR.store(saved, Ordering::SeqCst);
        Ok(StderrCapture { reader })
    }

    /// After [`restore`]: writes what was captured to the real standard error.
    fn replay(self) {
        if let Ok((lines, dropped)) = self.reader.join() {
            let mut e = io::stderr().lock();
            if dropped > 0 {
                let _ = writeln!(
                    e,
                    "plugsniff: {dropped} earlier line(s) of standard error not kept"
                );
            }
            for l in lines {
                let _ = writeln!(e, "{l}");
            }
        }
    }
}

/// What ended the UI loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// `q` or Ctrl-C.
    Quit,
    /// SIGINT or SIGTERM.
    Signal,
    /// The run asked it to close (it failed).
    Closed,
}

/// Flags the UI loop reads.
#[derive(Default)]
pub struct Control {
    /// Set by SIGINT/SIGTERM.
    pub signal: Arc<AtomicBool>,
    /// Set by the run ([`super::TuiHandle::close`]).
    pub close: AtomicBool,
}

/// The running UI thread.
pub struct Running {
    pub thread: JoinHandle<io::Result<(Exit, Option<Snapshot>)>>,
    stderr: Option<StderrCapture>,
}

impl Running {
    /// Waits for the UI loop to end, restores the terminal and replays
    /// standard error.
    pub fn join(self) -> io::Result<(Exit, Option<Snapshot>)> {
        let r = self
            .thread
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the dashboard thread panicked")));
        restore();
        if let Some(s) = self.stderr {
            s.replay();
        }
        r
    }
}

/// Sets the terminal up on this thread and starts the UI loop.
pub fn start(
    mailbox: Arc<Mailbox>,
    control: Arc<Control>,
    source: String,
    on_quit: Box<dyn Fn() + Send>,
) -> io::Result<Running> {
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, control.signal.clone())?;
    }
    install_panic_hook();
    terminal::enable_raw_mode()?;
    ACTIVE.store(true, Ordering::SeqCst);
    let setup = (|| -> io::Result<Terminal<CrosstermBackend<io::Stdout>>> {
        execute!(io::stdout(), terminal::EnterAlternateScreen, cursor::Hide)?;
        // Opens the event source now, before the sandbox (module doc).
        let _ = event::poll(Duration::ZERO)?;
        Terminal::new(CrosstermBackend::new(io::stdout()))
    })();
    let mut term = match setup {
        Ok(t) => t,
        Err(e) => {
            restore();
            return Err(e);
        }
    };
    let stderr = match StderrCapture::start() {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::info!("standard error not captured during the dashboard: {e}");
            None
        }
    };
    let thread = std::thread::Builder::new()
        .name("tui".into())
        .spawn(move || {
            // Stops the run however this thread ends (a panic included).
            struct QuitOnDrop(Option<Box<dyn Fn() + Send>>);
            impl Drop for QuitOnDrop {
                fn drop(&mut self) {
                    if let Some(f) = self.0.take() {
                        f();
                    }
                }
            }
            let mut quit = QuitOnDrop(Some(on_quit));
            let r = ui_loop(&mut term, &mailbox, &control, source);
            restore();
            if matches!(r, Ok((Exit::Closed, _))) {
                // The run is already over: nothing to stop.
                quit.0 = None;
            }
            r
        })?;
    Ok(Running { thread, stderr })
}

fn ui_loop(
    term: &mut Terminal<CrosstermBackend<io::Stdout>>,
    mailbox: &Mailbox,
    control: &Control,
    source: String,
) -> io::Result<(Exit, Option<Snapshot>)> {
    let mut ui = UiState {
        source,
        ..UiState::default()
    };
    let mut snap: Option<Snapshot> = None;
    let empty = Snapshot::default();
    let mut dirty = true;
    loop {
        if control.signal.load(Ordering::SeqCst) {
            return Ok((Exit::Signal, snap));
        }
        if control.close.load(Ordering::SeqCst) {
            return Ok((Exit::Closed, snap));
        }
        if !ui.paused
            && let Some(s) = mailbox.take()
        {
            snap = Some(s);
            dirty = true;
        }
        if dirty {
            let s = snap.as_ref().unwrap_or(&empty);
            term.draw(|f| view::draw(f, s, &ui))?;
            dirty = false;
        }
        if !event::poll(POLL)? {
            continue;
        }
        match event::read()? {
            Event::Key(k) if k.kind != KeyEventKind::Release => {
                dirty = true;
                let s = snap.as_ref().unwrap_or(&empty);
                if on_key(&mut ui, k, s) {
                    return Ok((Exit::Quit, snap));
                }
            }
            Event::Resize(..) => {
                term.autoresize()?;
                dirty = true;
            }
            _ => {}
        }
    }
}

/// Applies one key to the UI state; `true` to quit.
pub fn on_key(ui: &mut UiState, k: KeyEvent, snap: &Snapshot) -> bool {
    if k.modifiers.contains(KeyModifiers::CONTROL) && k.code == KeyCode::Char('c') {
        return true;
    }
    if let Some(text) = ui.editing.as_mut() {
        match k.code {
            KeyCode::Enter => {
                ui.filter = ui.editing.take().unwrap_or_default();
                ui.selected = 0;
            }
            KeyCode::Esc => {
                ui.editing = None;
                ui.filter.clear();
                ui.selected = 0;
            }
            KeyCode::Backspace => {
                text.pop();
            }
            KeyCode::Char(c) if text.len() < 64 && !c.is_control() => text.push(c),
            _ => {}
        }
        return false;
    }
    if ui.detail.is_some() {
        match k.code {
            KeyCode::Esc | KeyCode::Backspace | KeyCode::Left => {
                ui.detail = None;
                ui.detail_scroll = 0;
            }
            KeyCode::Char('q') => return true,
            KeyCode::Down | KeyCode::Char('j') => {
                ui.detail_scroll = ui.detail_scroll.saturating_add(1)
            }
            KeyCode::Up | KeyCode::Char('k') => {
                ui.detail_scroll = ui.detail_scroll.saturating_sub(1)
            }
            KeyCode::PageDown | KeyCode::Char(' ') => {
                ui.detail_scroll = ui.detail_scroll.saturating_add(20)
            }
            KeyCode::PageUp => ui.detail_scroll = ui.detail_scroll.saturating_sub(20),
            KeyCode::Home => ui.detail_scroll = 0,
            KeyCode::Char('p') => ui.paused = !ui.paused,
            _ => {}
        }
        return false;
    }
    let n = visible_devices(snap, ui).len();
    match k.code {
        KeyCode::Char('q') => return true,
        KeyCode::Char('/') => ui.editing = Some(ui.filter.clone()),
        KeyCode::Esc => {
            ui.filter.clear();
            ui.selected = 0;
        }
        KeyCode::Char('p') => ui.paused = !ui.paused,
        KeyCode::Char('s') => ui.sort = ui.sort.next(),
        KeyCode::Down | KeyCode::Char('j') => {
            ui.selected = (ui.selected + 1).min(n.saturating_sub(1))
        }
        KeyCode::Up | KeyCode::Char('k') => ui.selected = ui.selected.saturating_sub(1),
        KeyCode::Enter => {
            ui.detail = visible_devices(snap, ui)
                .get(ui.selected.min(n.saturating_sub(1)))
                .map(|d| d.mac);
            ui.detail_scroll = 0;
        }
        _ => {}
    }
    false
}

/// Standard output is a terminal the dashboard can take.
pub fn stdout_is_terminal() -> bool {
    use std::io::IsTerminal;
    io::stdout().is_terminal()
}

/// The mailbox's lock, poisoned or not (a snapshot is plain data).
pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::tui::model::DeviceRow;
    use crate::wire::{MacAddr, Ts};

    fn key(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    fn snap() -> Snapshot {
        let row = |m: u8, name: &str| DeviceRow {
            mac: MacAddr([2, 0, 0, 0, 0, m]),
            plug: true,
            kind: "TP-Link HS110(EU)".into(),
            name: name.into(),
            ip: Some(format!("192.168.0.{m}")),
            relay: Some(true),
            power_w: Some(f64::from(m)),
            spark: vec![],
            command: None,
            protocols: "tplink-smarthome".into(),
            cloud: None,
            key: Some("ok"),
            messages: 1,
            last_seen: Ts::from_micros(0, 0),
        };
        Snapshot {
            devices: vec![row(1, "Coffee maker"), row(2, "Desk lamp")],
            ..Snapshot::default()
        }
    }

    #[test]
    fn filter_select_detail_and_quit() {
        let s = snap();
        let mut ui = UiState::default();
        assert!(!on_key(&mut ui, key(KeyCode::Char('/')), &s));
        for c in "lamp".chars() {
            on_key(&mut ui, key(KeyCode::Char(c)), &s);
        }
        assert!(
            ui.filter.is_empty(),
            "not applied before Enter: {:?}",
            ui.filter
        );
        on_key(&mut ui, key(KeyCode::Enter), &s);
        assert_eq!(ui.filter, "lamp");
        assert_eq!(visible_devices(&s, &ui).len(), 1);
        on_key(&mut ui, key(KeyCode::Enter), &s);
        assert_eq!(ui.detail, Some(MacAddr([2, 0, 0, 0, 0, 2])));
        assert!(
            !on_key(&mut ui, key(KeyCode::Char('/')), &s),
            "no filter in detail"
        );
        on_key(&mut ui, key(KeyCode::Esc), &s);
        assert_eq!(ui.detail, None);
        on_key(&mut ui, key(KeyCode::Esc), &s);
        assert!(ui.filter.is_empty());
        on_key(&mut ui, key(KeyCode::Down), &s);
        on_key(&mut ui, key(KeyCode::Down), &s);
        assert_eq!(ui.selected, 1, "selection stays on the last row");
        on_key(&mut ui, key(KeyCode::Char('p')), &s);
        assert!(ui.paused);
        assert!(on_key(&mut ui, key(KeyCode::Char('q')), &s));
        assert!(on_key(
            &mut ui,
            KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL),
            &s
        ));
    }

    #[test]
    fn sort_by_power_puts_the_biggest_first() {
        let s = snap();
        let mut ui = UiState::default();
        on_key(&mut ui, key(KeyCode::Char('s')), &s);
        assert_eq!(ui.sort, view::SortKey::Power);
        assert_eq!(visible_devices(&s, &ui)[0].name, "Desk lamp");
    }
}
