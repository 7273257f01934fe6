//! Bounded reading of the two XML documents a Wemo exchanges: SOAP
//! envelopes (UPnP Device Architecture 1.0 §3.2, SOAP 1.1) and the
//! `setup.xml` device description (UDA §2.3), with quick-xml's pull
//! parser.
//!
//! # Guarantees
//! No DOM and no entity expansion: the five predefined entities and
//! character references are resolved, any other `&name;` is kept as
//! written (a DTD cannot make it grow). At most [`MAX_DEPTH`] nested
//! elements, [`MAX_ARGS`] arguments and [`MAX_TEXT`] bytes of text per
//! value are read; past a cap the document is refused ([`XmlError`]).

use quick_xml::Reader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;
use serde_json::{Map, Value};

/// Deepest element nesting read (an envelope is 4 deep, setup.xml 5).
pub const MAX_DEPTH: usize = 16;
/// Arguments kept per action (`GetInsightParams` has 1, `GetInformation` 1).
pub const MAX_ARGS: usize = 64;
/// Text kept per value (an escaped `GetInformation` document is ~1 KiB).
pub const MAX_TEXT: usize = 8 * 1024;
/// Events read per document: a bound on the work, whatever its shape.
pub const MAX_EVENTS: usize = 16 * 1024;

/// Why a document was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XmlError {
    /// Not well-formed (quick-xml's error, or text that is not UTF-8).
    Syntax,
    /// Nested deeper than [`MAX_DEPTH`], or more than [`MAX_EVENTS`] events.
    TooDeep,
    /// No `Envelope/Body/<action>` in a SOAP document.
    NotSoap,
}

/// A SOAP action or its response: `(namespace of the action element,
/// local name, arguments in order)`. A Fault is the action `Fault` with
/// its children (`faultcode`, `faultstring`, `detail` text).
#[derive(Debug, Clone, PartialEq)]
pub struct SoapBody {
    pub service: Option<String>,
    pub action: String,
    pub args: Vec<(String, String)>,
}

impl SoapBody {
    /// `{"<action>": {"<arg>": "<text>", …}}`: the JSON shown for a SOAP
    /// message (arguments are strings, as UPnP carries them).
    pub fn to_json(&self) -> Value {
        let mut args = Map::new();
        for (k, v) in &self.args {
            args.insert(k.clone(), Value::String(v.clone()));
        }
        let mut m = Map::new();
        m.insert(self.action.clone(), Value::Object(args));
        Value::Object(m)
    }

    pub fn arg(&self, name: &str) -> Option<&str> {
        self.args
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One pull-parsed element path with its text: `(depth, local name,
/// xmlns of the element if declared with a prefix or default, text)` for
/// every element, in document order; text of children is not merged.
struct Walk {
    /// (depth, name, namespace, text).
    elements: Vec<(usize, String, Option<String>, String)>,
}

fn walk(xml: &[u8], max_elements: usize) -> Result<Walk, XmlError> {
    let mut r = Reader::from_reader(xml);
    r.config_mut().trim_text(true);
    let mut stack: Vec<usize> = Vec::new();
    let mut elements = Vec::new();
    for _ in 0..MAX_EVENTS {
        let ev = r.read_event().map_err(|_| XmlError::Syntax)?;
        let empty = matches!(ev, Event::Empty(_));
        match ev {
            Event::Start(e) | Event::Empty(e) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError::TooDeep);
                }
                let name = String::from_utf8_lossy(e.local_name().as_ref())
                    .chars()
                    .take(128)
                    .collect();
                let ns = e.attributes().flatten().find_map(|a| {
                    let k = a.key.as_ref();
                    (k == b"xmlns" || k.starts_with(b"xmlns:")).then(|| {
                        String::from_utf8_lossy(&a.value)
                            .chars()
                            .take(256)
                            .collect()
                    })
                });
                if elements.len() < max_elements {
                    elements.push((stack.len(), name, ns, String::new()));
                    if !empty {
                        stack.push(elements.len() - 1);
                    }
                } else if !empty {
                    stack.push(usize::MAX);
                }
            }
            Event::End(_) => {
                stack.pop();
            }
            Event::Text(t) => {
                let s = t.decode().map_err(|_| XmlError::Syntax)?;
                append(&mut elements, &stack, &s);
            }
            Event::CData(c) => {
                let s = String::from_utf8_lossy(&c);
                append(&mut elements, &stack, &s);
            }
            Event::GeneralRef(g) => {
                let s = match g.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    _ => {
                        let name = g.decode().map_err(|_| XmlError::Syntax)?;
                        match resolve_predefined_entity(&name) {
                            Some(x) => x.to_owned(),
                            None => format!("&{name};"),
                        }
                    }
                };
                append(&mut elements, &stack, &s);
            }
            Event::Eof => return Ok(Walk { elements }),
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    Err(XmlError::TooDeep)
}

fn append(elements: &mut [(usize, String, Option<String>, String)], stack: &[usize], s: &str) {
    if let Some(&i) = stack.last()
        && let Some(e) = elements.get_mut(i)
    {
        let room = MAX_TEXT.saturating_sub(e.3.len());
        let mut n = room.min(s.len());
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        e.3.push_str(&s[..n]);
    }
}

/// The action (or response, or Fault) inside `Envelope/Body`.
pub fn soap(xml: &[u8]) -> Result<SoapBody, XmlError> {
    let w = walk(xml, 4 + MAX_ARGS * 4)?;
    let env = w
        .elements
        .first()
        .filter(|e| e.0 == 0 && e.1 == "Envelope")
        .ok_or(XmlError::NotSoap)?;
    let _ = env;
    let body = w
        .elements
        .iter()
        .position(|e| e.0 == 1 && e.1 == "Body")
        .ok_or(XmlError::NotSoap)?;
    let action_i = body + 1;
    let action = w
        .elements
        .get(action_i)
        .filter(|e| e.0 == 2)
        .ok_or(XmlError::NotSoap)?;
    let mut args = Vec::new();
    for e in w.elements[action_i + 1..].iter().take_while(|e| e.0 > 2) {
        if args.len() == MAX_ARGS {
            break;
        }
        if e.0 == 3 {
            args.push((e.1.clone(), e.3.clone()));
        } else if let Some(last) = args.last_mut() {
            // Nested markup inside an argument (a Fault's `detail`): its text.
            if !e.3.is_empty() && last.1.len() + e.3.len() < MAX_TEXT {
                if !last.1.is_empty() {
                    last.1.push(' ');
                }
                last.1.push_str(&e.3);
            }
        }
    }
    Ok(SoapBody {
        service: action.2.clone(),
        action: action.1.clone(),
        args,
    })
}

/// The `setup.xml` fields of the first `device` element, by UPnP name
/// (`friendlyName`, `modelName`, `serialNumber`, `macAddress`,
/// `firmwareVersion`, `manufacturer`, `UDN`…): its direct children with
/// text, in document order.
pub fn setup_xml(xml: &[u8]) -> Result<Vec<(String, String)>, XmlError> {
    let w = walk(xml, 512)?;
    let dev = w
        .elements
        .iter()
        .position(|e| e.1 == "device")
        .ok_or(XmlError::NotSoap)?;
    let depth = w.elements[dev].0;
    Ok(w.elements[dev + 1..]
        .iter()
        .take_while(|e| e.0 > depth)
        .filter(|e| e.0 == depth + 1 && !e.3.is_empty())
        .take(MAX_ARGS)
        .map(|e| (e.1.clone(), e.3.clone()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// pywemo `api/service.py` `REQUEST_TEMPLATE` with SetBinaryState.
    const SET: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">
<s:Body>
<u:SetBinaryState xmlns:u="urn:Belkin:service:basicevent:1">
<BinaryState>1</BinaryState>
</u:SetBinaryState>
</s:Body>
</s:Envelope>"#;

    #[test]
    fn soap_action_and_args() {
        let b = soap(SET.as_bytes()).unwrap();
        assert_eq!(b.action, "SetBinaryState");
        assert_eq!(
            b.service.as_deref(),
            Some("urn:Belkin:service:basicevent:1")
        );
        assert_eq!(b.arg("BinaryState"), Some("1"));
        assert_eq!(
            b.to_json(),
            serde_json::json!({"SetBinaryState":{"BinaryState":"1"}})
        );
        // Entities and character references, unknown entities kept.
        let x = b"<s:Envelope xmlns:s=\"e\"><s:Body><u:GetInformationResponse xmlns:u=\"i\"><Information>&lt;a&gt;&#x41;&amp;&unknown;</Information><Empty/></u:GetInformationResponse></s:Body></s:Envelope>";
        let b = soap(x).unwrap();
        assert_eq!(b.arg("Information"), Some("<a>A&&unknown;"));
        assert_eq!(b.arg("Empty"), Some(""));
        // A Fault.
        let f = b"<s:Envelope xmlns:s=\"e\"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError xmlns=\"urn:schemas-upnp-org:control-1-0\"><errorCode>-1</errorCode><errorDescription>Invalid Action</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>";
        let b = soap(f).unwrap();
        assert_eq!(b.action, "Fault");
        assert_eq!(b.arg("faultstring"), Some("UPnPError"));
        assert_eq!(b.arg("detail"), Some("-1 Invalid Action"));
    }

    #[test]
    fn hostile_documents() {
        assert_eq!(soap(b"<a><b>").map(|_| ()), Err(XmlError::NotSoap));
        assert!(soap(b"not xml <<<").is_err());
        assert!(soap(b"").is_err());
        let deep = "<a>".repeat(MAX_DEPTH + 2);
        assert_eq!(soap(deep.as_bytes()), Err(XmlError::TooDeep));
        // Billion laughs: entities are never expanded.
        let bomb = r#"<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><s:Envelope xmlns:s="e"><s:Body><u:X xmlns:u="x"><v>&b;&b;&b;</v></u:X></s:Body></s:Envelope>"#;
        let b = soap(bomb.as_bytes()).unwrap();
        assert_eq!(b.arg("v"), Some("&b;&b;&b;"));
        // Long text is capped.
        let long = format!(
            "<s:Envelope><s:Body><u:X><v>{}</v></u:X></s:Body></s:Envelope>",
            "x".repeat(3 * MAX_TEXT)
        );
        assert_eq!(
            soap(long.as_bytes()).unwrap().arg("v").map(str::len),
            Some(MAX_TEXT)
        );
        // Every truncation of a real body: an error or a shorter reading, never a panic.
        for n in 0..SET.len() {
            let _ = soap(&SET.as_bytes()[..n]);
            let _ = setup_xml(&SET.as_bytes()[..n]);
        }
    }
}
