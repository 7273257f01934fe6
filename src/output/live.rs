//! The readable live view: one line per event, coloured on a terminal, and the
//! summary table printed at the end of a run.

use std::fmt::Write as _;

use super::words;
use crate::decoders::{MessageKind, MessageMeta};
use crate::report::event::{CloudState, Event, EventBody};
use crate::wire::Ts;

/// ANSI styles, or nothing when colour is off.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
    /// Print every message's JSON, not only where the summary says nothing.
    pub show_json: bool,
}

/// Longest JSON shown inline when the summary says nothing.
pub const INLINE_JSON_MAX: usize = 200;

impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    pub fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }
    pub fn req(&self, s: &str) -> String {
        self.paint("36", s)
    }
    pub fn resp(&self, s: &str) -> String {
        self.paint("32", s)
    }
    pub fn alert(&self, s: &str) -> String {
        self.paint("1;31", s)
    }
    pub fn cloud(&self, s: &str) -> String {
        self.paint("35", s)
    }
    pub fn note(&self, s: &str) -> String {
        self.paint("33", s)
    }
    pub fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
}

/// `HH:MM:SS.mmm` (UTC) of a capture timestamp.
pub fn clock(ts: Ts) -> String {
    let s = ts.sec.rem_euclid(86_400);
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        s / 3600,
        (s / 60) % 60,
        s % 60,
        ts.usec() / 1000
    )
}

fn endpoint(addr: std::net::SocketAddr, alias: Option<&str>) -> String {
    match alias {
        Some(a) => format!("{a} [{addr}]"),
        None => addr.to_string(),
    }
}

/// Renders one event as one line (or two, for long JSON).
pub fn render(e: &Event, st: Style) -> String {
    let t = st.dim(&clock(e.ts));
    match &e.body {
        EventBody::Message(m) => {
            let response = m.kind != MessageKind::Request;
            let alias = m.alias.as_deref();
            let (src, dst) = if response {
                (endpoint(m.src, alias), m.dst.to_string())
            } else {
                (m.src.to_string(), endpoint(m.dst, alias))
            };
            let methods = m.methods.join(" + ");
            let methods = if response {
                st.resp(&methods)
            } else {
                st.req(&methods)
            };
            let mut line = format!("{t}  {src} → {dst}  {} {methods}", m.transport);
            if let Some(MessageMeta::Klap { version, seq, .. }) = &m.meta {
                let _ = write!(line, " {}", st.dim(&format!("[klap {version} seq {seq}]")));
            }
            let said: Vec<String> = m
                .summary
                .iter()
                .map(words::describe)
                .filter(|s| !m.methods.contains(s))
                .collect();
            if !said.is_empty() {
                let _ = write!(line, "  {}", said.join("; "));
            }
            if let Some(l) = m.latency {
                let _ = write!(
                    line,
                    "  {}",
                    st.dim(&format!("({:.0} ms)", l.as_secs_f64() * 1e3))
                );
            }
            let says_nothing = said.is_empty();
            if st.show_json || says_nothing {
                let mut j = m.json.to_string();
                if !st.show_json && j.len() > INLINE_JSON_MAX {
                    let mut cut = INLINE_JSON_MAX;
                    while !j.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    j.truncate(cut);
                    j.push('…');
                }
                let _ = write!(line, "  {}", st.dim(&j));
            }
            line
        }
        EventBody::Discovery(d) => {
            format!(
                "{t}  {} → {}  {} {}  {}{}",
                d.src,
                d.dst,
                d.protocol.strip_prefix("tplink-").unwrap_or(d.protocol),
                if d.reply {
                    st.resp("discovery reply")
                } else {
                    st.req("discovery query")
                },
                d.summary.join("; "),
                // mDNS, SSDP and DHCP carry no integrity check: their
                // `crc_ok` is always false and says nothing (docs/events.md).
                if d.crc_ok
                    || matches!(
                        d.protocol,
                        crate::decoders::mdns::PROTOCOL
                            | crate::decoders::ssdp::PROTOCOL
                            | crate::decoders::dhcp::PROTOCOL
                    )
                {
                    String::new()
                } else {
                    st.note(" (bad CRC)")
                }
            )
        }
        EventBody::CredentialLeak(l) => format!(
            "{t}  {}  {} → {}  {} {:?} password {}{}",
            st.alert("CREDENTIAL LEAK"),
            l.src,
            l.dst,
            match l.source {
                crate::decoders::summary::CredentialSource::CloudBind => "TP-Link cloud account",
                crate::decoders::summary::CredentialSource::WifiStaInfo => "WiFi network",
            },
            l.username,
            l.password,
            if l.masked {
                st.dim("  (--show-secrets to reveal)")
            } else {
                String::new()
            }
        ),
        EventBody::CloudLink(c) => {
            let name = c.sni.as_deref().or(c.dns_name.as_deref()).unwrap_or("?");
            let mut line = format!(
                "{t}  {}  {} → {} ({name})  [{}] dialled by {}",
                st.cloud(&format!(
                    "cloud link {}",
                    match c.state {
                        CloudState::Opened => "opened",
                        CloudState::Closed => "closed",
                    }
                )),
                c.src,
                c.dst,
                super::json::CLOUD_LABEL,
                if c.initiated_by_device {
                    "the plug"
                } else {
                    "the remote end"
                }
            );
            if let Some(v) = c.tls_version {
                let _ = write!(line, ", {}", words::tls_version(v));
            }
            if let Some(cn) = &c.server_cert_cn {
                let _ = write!(line, ", cert CN {cn}");
            }
            if c.state == CloudState::Closed {
                let _ = write!(
                    line,
                    ", {} B up / {} B down over {:.0} s",
                    c.bytes_up,
                    c.bytes_down,
                    c.duration.as_secs_f64()
                );
                if let Some(i) = c.mean_interval_s {
                    let _ = write!(line, ", a record every {i:.1} s");
                }
            }
            line
        }
        EventBody::Handshake(h) => {
            let (message, outcome) = words::handshake(&h.outcome);
            format!(
                "{t}  {}  {} ↔ {}  {message}: {outcome}",
                st.note("wpa"),
                h.bssid,
                h.sta,
            )
        }
        EventBody::Warning(w) => format!("{t}  {}  {}", st.alert("warning"), w.message),
        EventBody::Undecodable(u) => format!(
            "{t}  {}  {} → {}  {}: {}",
            st.note(u.label.unwrap_or("undecodable")),
            u.src,
            u.dst,
            u.protocol,
            u.reason
        ),
        EventBody::KlapSession(k) => format!(
            "{t}  {}  {} → {}  {}{}",
            st.note("klap handshake"),
            k.src,
            k.dst,
            match (&k.credentials, k.version) {
                (Some(c), Some(v)) => format!("decrypting ({v}, {c})"),
                _ => format!(
                    "KLAP: credentials needed (server hash matched none of {} tried credentials)",
                    k.tried
                ),
            },
            String::new()
        ),
    }
}
