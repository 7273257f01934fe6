//! Matter messages (Matter Core spec 1.3 §4.4): the clear message header
//! before an opaque (encrypted) payload, and an unsecured CASE Sigma1 with
//! its clear protocol header, for the labelling tests.

/// The destination field.
#[derive(Debug, Clone, Copy)]
pub enum Dest {
    None,
    Node(u64),
    Group(u16),
}

/// A message: header then `payload` (stands for ciphertext + MIC).
pub fn message(
    session: u16,
    counter: u32,
    source: Option<u64>,
    dest: Dest,
    payload: &[u8],
) -> Vec<u8> {
    let dsiz = match dest {
        Dest::None => 0,
        Dest::Node(_) => 1,
        Dest::Group(_) => 2,
    };
    let flags = if source.is_some() { 0x04 } else { 0 } | dsiz;
    let mut v = vec![flags];
    v.extend_from_slice(&session.to_le_bytes());
    v.push(if matches!(dest, Dest::Group(_)) { 1 } else { 0 });
    v.extend_from_slice(&counter.to_le_bytes());
    if let Some(s) = source {
        v.extend_from_slice(&s.to_le_bytes());
    }
    match dest {
        Dest::None => {}
        Dest::Node(n) => v.extend_from_slice(&n.to_le_bytes()),
        Dest::Group(g) => v.extend_from_slice(&g.to_le_bytes()),
    }
    v.extend_from_slice(payload);
    v
}

/// An unsecured (session 0) CASE Sigma1 from an initiator: exchange flags
/// I + R, opcode 0x30, protocol 0 (Secure Channel), then a stand-in TLV.
pub fn sigma1(exchange: u16) -> Vec<u8> {
    let mut p = vec![0x05, 0x30];
    p.extend_from_slice(&exchange.to_le_bytes());
    p.extend_from_slice(&0u16.to_le_bytes());
    p.extend_from_slice(&[0x15, 0x30, 0x01, 0x20]);
    p.extend_from_slice(&[0x5a; 32]);
    p.push(0x18);
    message(0, 0x0102_0304, Some(0x0000_0000_0000_abcd), Dest::None, &p)
}

/// A TCP stream carrying `msgs`, each prefixed by its LE32 length (§4.4.7).
pub fn tcp_stream(msgs: &[Vec<u8>]) -> Vec<u8> {
    let mut v = Vec::new();
    for m in msgs {
        v.extend_from_slice(&(m.len() as u32).to_le_bytes());
        v.extend_from_slice(m);
    }
    v
}
