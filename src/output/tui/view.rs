//! The dashboard's drawing: a [`Snapshot`] and the [`UiState`] in, a ratatui
//! frame out. No I/O, no clock, no terminal: the same calls draw on the
//! terminal (`term`) and into a `TestBackend` buffer (the snapshot tests).
//!
//! Owns [`UiState`] (what the user chose: filter, sort, selection, pause,
//! detail view) and the panes: [`devices`], [`radio`], [`events`],
//! [`detail`], and the status bar. Guarantees: drawing never panics on any
//! snapshot or area size (a pane too small for its content is clipped), and
//! every string a capture supplied is drawn as text, never as a terminal
//! control sequence (ratatui writes cells; control characters are replaced
//! here before they reach a cell).
//!
//! The sparkline of a table cell is hand-written ([`spark_text`]): ratatui's
//! `Sparkline` widget draws into a rectangle of its own, not into a cell of
//! a table row.

use std::time::Duration;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, TableState};

use super::model::{DeviceRow, LineKind, Snapshot};
use crate::output::live::clock;
use crate::wire::MacAddr;

/// The devices table's sort column, cycled by `s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    /// Plugs first, then by name.
    #[default]
    Name,
    /// Highest power first.
    Power,
    Ip,
    /// Most recently seen first.
    LastSeen,
    /// Most messages first.
    Messages,
}

impl SortKey {
    pub fn next(self) -> SortKey {
        match self {
            SortKey::Name => SortKey::Power,
            SortKey::Power => SortKey::Ip,
            SortKey::Ip => SortKey::LastSeen,
            SortKey::LastSeen => SortKey::Messages,
            SortKey::Messages => SortKey::Name,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            SortKey::Name => "name",
            SortKey::Power => "power",
            SortKey::Ip => "ip",
            SortKey::LastSeen => "last seen",
            SortKey::Messages => "messages",
        }
    }
}

/// What the user chose: the UI thread's state beside the snapshot.
#[derive(Debug, Clone, Default)]
pub struct UiState {
    /// Where the frames come from (`demo.pcapng`, `wlan0mon`), for the status bar.
    pub source: String,
    /// The applied filter (case-insensitive substring of a row or a line).
    pub filter: String,
    /// The filter being typed after `/`, until Enter or Esc.
    pub editing: Option<String>,
    /// The view is frozen (the capture goes on).
    pub paused: bool,
    pub sort: SortKey,
    /// Index into [`visible_devices`].
    pub selected: usize,
    /// The device whose messages are shown.
    pub detail: Option<MacAddr>,
    /// Lines scrolled in the detail view.
    pub detail_scroll: u16,
}

/// Replaces control characters (a capture's strings may hold escapes).
pub fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '·' } else { c })
        .collect()
}

/// Whether a device row matches the filter.
fn matches(d: &DeviceRow, f: &str) -> bool {
    if f.is_empty() {
        return true;
    }
    let f = f.to_lowercase();
    [
        d.kind.as_str(),
        d.name.as_str(),
        d.ip.as_deref().unwrap_or(""),
        d.protocols.as_str(),
        &d.mac.to_string(),
    ]
    .iter()
    .any(|s| s.to_lowercase().contains(&f))
}

/// The rows the table shows, filtered and sorted.
pub fn visible_devices<'a>(snap: &'a Snapshot, ui: &UiState) -> Vec<&'a DeviceRow> {
    let mut v: Vec<&DeviceRow> = snap
        .devices
        .iter()
        .filter(|d| matches(d, &ui.filter))
        .collect();
    let name = |d: &DeviceRow| (!d.plug, d.name.to_lowercase(), d.mac);
    match ui.sort {
        SortKey::Name => v.sort_by_key(|d| name(d)),
        SortKey::Power => v.sort_by(|a, b| {
            b.power_w
                .unwrap_or(-1.0)
                .total_cmp(&a.power_w.unwrap_or(-1.0))
                .then_with(|| name(a).cmp(&name(b)))
        }),
        SortKey::Ip => v.sort_by_key(|d| {
            (
                d.ip.as_ref()
                    .and_then(|i| i.parse::<std::net::IpAddr>().ok()),
                d.mac,
            )
        }),
        SortKey::LastSeen => v.sort_by_key(|d| (std::cmp::Reverse(d.last_seen), d.mac)),
        SortKey::Messages => v.sort_by_key(|d| (std::cmp::Reverse(d.messages), d.mac)),
    }
    v
}

/// Cells of a sparkline in the devices table.
const SPARK_WIDTH: usize = 14;

/// Eight levels of a bar, as ratatui's `Sparkline` draws them.
const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// `values` as one line of bars, the newest `width` of them, scaled to the
/// largest (all equal values draw as the middle bar).
pub fn spark_text(values: &[u64], width: usize) -> String {
    let v = &values[values.len().saturating_sub(width)..];
    let (lo, hi) = (
        v.iter().copied().min().unwrap_or(0),
        v.iter().copied().max().unwrap_or(0),
    );
    v.iter()
        .map(|&x| {
            if hi == lo {
                if hi == 0 { BARS[0] } else { BARS[3] }
            } else {
                let i = u128::from(x - lo) * 7 / u128::from(hi - lo);
                BARS[usize::try_from(i).unwrap_or(7).min(7)]
            }
        })
        .collect()
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1e3)
}

/// The devices table.
pub fn devices(f: &mut Frame<'_>, area: Rect, snap: &Snapshot, ui: &UiState) {
    let rows_v = visible_devices(snap, ui);
    let title = format!(
        " devices {}/{} · sort: {}{} ",
        rows_v.len(),
        snap.devices.len(),
        ui.sort.name(),
        if ui.filter.is_empty() {
            String::new()
        } else {
            format!(" · filter: {}", clean(&ui.filter))
        }
    );
    let header = Row::new([
        "device",
        "name",
        "IP",
        "relay",
        "power",
        "last minutes",
        "last command",
        "protocols",
        "cloud",
        "key",
    ])
    .style(Style::new().add_modifier(Modifier::BOLD));
    let rows = rows_v.iter().map(|d| {
        let relay = match d.relay {
            Some(true) => Cell::from("ON").style(Style::new().fg(Color::Green)),
            Some(false) => Cell::from("off").style(Style::new().fg(Color::DarkGray)),
            None => Cell::from("-"),
        };
        // The text cut, so who sent it and how fast it was answered show.
        let cmd = d.command.as_ref().map_or(String::new(), |c| {
            format!(
                "{} ← {}{}",
                super::model::cut(&c.text, 20),
                c.from,
                c.latency.map_or(String::new(), |l| format!(" · {}", ms(l)))
            )
        });
        let cloud = match d.cloud {
            Some(true) => Cell::from("up").style(Style::new().fg(Color::Magenta)),
            Some(false) => Cell::from("down"),
            None => Cell::from("-"),
        };
        let key = match d.key {
            Some("ok") => Cell::from("ok").style(Style::new().fg(Color::Green)),
            Some(k) => Cell::from(k).style(Style::new().fg(Color::Yellow)),
            None => Cell::from("-"),
        };
        let style = if d.plug {
            Style::new()
        } else {
            Style::new().fg(Color::Gray)
        };
        Row::new([
            Cell::from(clean(if d.kind.is_empty() { "?" } else { &d.kind })),
            Cell::from(clean(&d.name)),
            Cell::from(d.ip.clone().unwrap_or_else(|| "-".into())),
            relay,
            Cell::from(d.power_w.map_or("-".into(), |p| format!("{p:.1} W"))),
            Cell::from(spark_text(&d.spark, SPARK_WIDTH)).style(Style::new().fg(Color::Cyan)),
            Cell::from(clean(&cmd)),
            Cell::from(d.protocols.clone()),
            cloud,
            key,
        ])
        .style(style)
    });
    let widths = [
        Constraint::Length(18),
        Constraint::Length(17),
        Constraint::Length(14),
        Constraint::Length(5),
        Constraint::Length(9),
        Constraint::Length(SPARK_WIDTH as u16),
        Constraint::Min(30),
        Constraint::Length(16),
        Constraint::Length(5),
        Constraint::Length(6),
    ];
    let table = Table::new(rows, widths)
        .header(header)
        .block(Block::bordered().title(title))
        .row_highlight_style(
            Style::new()
                .bg(Color::Indexed(237))
                .add_modifier(Modifier::BOLD),
        );
    let mut state = TableState::default();
    if !rows_v.is_empty() {
        state.select(Some(ui.selected.min(rows_v.len() - 1)));
    }
    f.render_stateful_widget(table, area, &mut state);
}

/// The radio panel: stations, capture counters, warnings.
pub fn radio(f: &mut Frame<'_>, area: Rect, snap: &Snapshot) {
    let block = Block::bordered().title(" radio and capture ");
    let inner = block.inner(area);
    f.render_widget(block, area);
    let c = &snap.counters;
    let warn_lines = snap.warnings.len().min(3) as u16;
    let [stations_area, counters_area, warn_area] = Layout::vertical([
        Constraint::Min(2),
        Constraint::Length(2),
        Constraint::Length(warn_lines.max(1)),
    ])
    .areas(inner);
    let header = Row::new([
        "station",
        "name",
        "to AP",
        "from AP",
        "missed",
        "max to AP",
        "max from AP",
        "handshake",
        "key",
    ])
    .style(Style::new().add_modifier(Modifier::BOLD));
    let mut rows: Vec<Row<'_>> = snap
        .stations
        .iter()
        .map(|s| {
            let key = if s.key == "ok" {
                Cell::from("ok").style(Style::new().fg(Color::Green))
            } else {
                Cell::from(s.key).style(Style::new().fg(Color::Yellow))
            };
            Row::new([
                Cell::from(s.sta.to_string()),
                Cell::from(clean(s.name.as_deref().unwrap_or("-"))),
                Cell::from(s.frames_to_ap.to_string()),
                Cell::from(s.frames_from_ap.to_string()),
                Cell::from(s.missed.to_string()),
                Cell::from(s.rates[0].clone()),
                Cell::from(s.rates[1].clone()),
                Cell::from(s.handshake.clone()),
                key,
            ])
        })
        .collect();
    if snap.stations_hidden > 0 {
        rows.push(Row::new([format!("… {} more", snap.stations_hidden)]));
    }
    let widths = [
        Constraint::Length(17),
        Constraint::Length(16),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Length(7),
        Constraint::Length(22),
        Constraint::Length(22),
        Constraint::Length(18),
        Constraint::Length(9),
    ];
    f.render_widget(Table::new(rows, widths).header(header), stations_area);
    let cap = &c.capture;
    let processed = if c.read > 0 {
        c.read
    } else {
        cap.captured.saturating_sub(cap.filtered + cap.shed_load)
    };
    let mut line1 = format!(
        "captured {}  processed {}  decrypted {}  plaintext {}  dropped {}",
        cap.captured,
        processed,
        c.decrypted,
        c.plaintext,
        c.dropped.iter().map(|(_, n)| n).sum::<u64>()
    );
    if !c.dropped.is_empty() {
        let by: Vec<String> = c.dropped.iter().map(|(k, n)| format!("{k} {n}")).collect();
        line1.push_str(&format!(" ({})", by.join(", ")));
    }
    let line2 = format!(
        "filtered {}  shed_load {}  ps_drop {}  ps_ifdrop {}  queued {}  ·  devices {}  messages {}{}",
        cap.filtered,
        cap.shed_load,
        cap.pcap_dropped,
        cap.pcap_if_dropped,
        cap.queued_batches,
        c.devices,
        c.messages,
        if c.warning_totals.is_empty() {
            String::new()
        } else {
            format!(
                "  ·  attack warnings: {}",
                c.warning_totals
                    .iter()
                    .map(|(k, n)| format!("{k} {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    );
    f.render_widget(
        Paragraph::new(vec![Line::from(line1), Line::from(line2)]),
        counters_area,
    );
    let warns: Vec<Line<'_>> = if snap.warnings.is_empty() {
        vec![Line::from(Span::styled(
            "no capture-health or attack warnings",
            Style::new().fg(Color::DarkGray),
        ))]
    } else {
        snap.warnings
            .iter()
            .rev()
            .take(usize::from(warn_lines))
            .rev()
            .map(|w| {
                Line::from(Span::styled(
                    format!("warning {}", clean(w)),
                    Style::new().fg(Color::Red),
                ))
            })
            .collect()
    };
    f.render_widget(Paragraph::new(warns), warn_area);
}

fn line_style(k: LineKind) -> Style {
    match k {
        LineKind::Request => Style::new().fg(Color::Cyan),
        LineKind::Response => Style::new().fg(Color::Green),
        LineKind::Alert => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        LineKind::Cloud => Style::new().fg(Color::Magenta),
        LineKind::Note => Style::new().fg(Color::Yellow),
        LineKind::Other => Style::new(),
    }
}

/// The event log: the newest lines that fit, filtered.
pub fn events(f: &mut Frame<'_>, area: Rect, snap: &Snapshot, ui: &UiState) {
    let fl = ui.filter.to_lowercase();
    let shown: Vec<_> = snap
        .events
        .iter()
        .filter(|l| fl.is_empty() || l.text.to_lowercase().contains(&fl))
        .collect();
    let h = usize::from(area.height.saturating_sub(2));
    let lines: Vec<Line<'_>> = shown[shown.len().saturating_sub(h)..]
        .iter()
        .map(|l| {
            let t = clean(&l.text);
            // The time in dim, the rest in the event's colour.
            match t.split_once("  ") {
                Some((ts, rest)) => Line::from(vec![
                    Span::styled(ts.to_string(), Style::new().fg(Color::DarkGray)),
                    Span::raw("  "),
                    Span::styled(rest.to_string(), line_style(l.kind)),
                ]),
                None => Line::from(Span::styled(t, line_style(l.kind))),
            }
        })
        .collect();
    let title = format!(
        " events {}{} ",
        shown.len(),
        if snap.events_dropped > 0 {
            format!(" (+{} older not kept)", snap.events_dropped)
        } else {
            String::new()
        }
    );
    f.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(title)),
        area,
    );
}

/// A device's messages, newest first, JSON pretty-printed.
pub fn detail(f: &mut Frame<'_>, area: Rect, snap: &Snapshot, ui: &UiState) {
    let Some(mac) = ui.detail else { return };
    let row = snap.devices.iter().find(|d| d.mac == mac);
    let msgs = snap.messages.get(&mac).map(Vec::as_slice).unwrap_or(&[]);
    let mut lines: Vec<Line<'_>> = Vec::new();
    if let Some(d) = row {
        let mut facts = vec![
            format!("{} {}", clean(&d.kind), mac),
            d.ip.clone().unwrap_or_else(|| "-".into()),
        ];
        if let Some(r) = d.relay {
            facts.push(format!("relay {}", if r { "ON" } else { "off" }));
        }
        if let Some(p) = d.power_w {
            facts.push(format!("{p:.1} W"));
        }
        facts.push(format!("{} messages", d.messages));
        lines.push(Line::from(Span::styled(
            facts.join(" · "),
            Style::new().add_modifier(Modifier::BOLD),
        )));
        lines.push(Line::from(""));
    }
    if msgs.is_empty() {
        lines.push(Line::from("no decoded message from or to this device"));
    }
    for m in msgs.iter().rev() {
        lines.push(Line::from(Span::styled(
            clean(&m.header),
            Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
        )));
        for l in m.json.lines() {
            lines.push(Line::from(clean(l)));
        }
        lines.push(Line::from(""));
    }
    let name = row.map_or(mac.to_string(), |d| clean(&d.name));
    let title = format!(
        " {name}: {} message(s), newest first · ↑↓ PgUp PgDn scroll · Esc back ",
        msgs.len()
    );
    f.render_widget(
        Paragraph::new(lines)
            .block(Block::bordered().title(title))
            .scroll((ui.detail_scroll, 0)),
        area,
    );
}

/// The status bar.
pub fn status(f: &mut Frame<'_>, area: Rect, snap: &Snapshot, ui: &UiState) {
    let mut spans = vec![Span::styled(
        format!(" plugsniff · {} ", clean(&ui.source)),
        Style::new().add_modifier(Modifier::BOLD),
    )];
    if snap.finished {
        spans.push(Span::styled(
            " capture finished ",
            Style::new().fg(Color::Black).bg(Color::Green),
        ));
    } else {
        spans.push(Span::raw(" capturing "));
    }
    if ui.paused {
        spans.push(Span::styled(
            " PAUSED ",
            Style::new().fg(Color::Black).bg(Color::Yellow),
        ));
    }
    if let Some(t) = snap.now {
        spans.push(Span::raw(format!(" {} UTC ", clock(t))));
    }
    match &ui.editing {
        Some(e) => spans.push(Span::styled(
            format!(" filter: {}▏ (Enter apply, Esc clear) ", clean(e)),
            Style::new().fg(Color::Black).bg(Color::Cyan),
        )),
        None => spans.push(Span::styled(
            " q quit · / filter · p pause · s sort · ↑↓ select · Enter messages ",
            Style::new().fg(Color::DarkGray),
        )),
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The whole screen.
pub fn draw(f: &mut Frame<'_>, snap: &Snapshot, ui: &UiState) {
    let [main, bar] = Layout::vertical([Constraint::Min(3), Constraint::Length(1)]).areas(f.area());
    if ui.detail.is_some() {
        detail(f, main, snap, ui);
    } else {
        let n = u16::try_from(snap.devices.len()).unwrap_or(u16::MAX);
        let st = u16::try_from(snap.stations.len() + usize::from(snap.stations_hidden > 0))
            .unwrap_or(u16::MAX);
        let warn = snap.warnings.len().clamp(1, 3) as u16;
        let [dev, rad, ev] = Layout::vertical([
            Constraint::Max(n.saturating_add(3).max(5)),
            // Header, two counter lines, the warnings, the borders.
            Constraint::Max(st.saturating_add(5 + warn).max(8)),
            Constraint::Min(5),
        ])
        .areas(main);
        devices(f, dev, snap, ui);
        radio(f, rad, snap);
        events(f, ev, snap, ui);
    }
    status(f, bar, snap, ui);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_text() {
        assert_eq!(spark_text(&[], 10), "");
        assert_eq!(spark_text(&[0, 0], 10), "▁▁");
        assert_eq!(spark_text(&[5, 5], 10), "▄▄");
        assert_eq!(spark_text(&[0, 7, 14], 10), "▁▄█");
        assert_eq!(spark_text(&[1, 2, 3, 4], 2), "▁█");
        assert_eq!(spark_text(&[0, u64::MAX], 4), "▁█");
    }

    #[test]
    fn control_characters_never_reach_a_cell() {
        assert_eq!(clean("a\x1b[2Jb\n"), "a·[2Jb·");
    }

    #[test]
    fn sort_cycles_through_every_key() {
        let mut k = SortKey::default();
        let mut seen = vec![k];
        for _ in 0..4 {
            k = k.next();
            seen.push(k);
        }
        assert_eq!(k.next(), SortKey::Name);
        seen.dedup();
        assert_eq!(seen.len(), 5);
    }
}
