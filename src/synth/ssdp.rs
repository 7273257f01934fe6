//! SSDP datagrams (UPnP Device Architecture 2.0 §1.2, §1.3): a Belkin Wemo
//! `NOTIFY`, an `M-SEARCH`, and a search reply. UDP payloads for port 1900
//! (239.255.255.250 for multicast).

/// A Wemo plug's `ssdp:alive` (or `ssdp:byebye`) for its controllee device
/// type, as pywemo's SSDP listener sees them: `LOCATION` on the SOAP port,
/// `USN` `uuid:Socket-1_0-<serial>::urn:Belkin:device:controllee:1`.
pub fn wemo_notify(ip: [u8; 4], port: u16, serial: &str, byebye: bool) -> Vec<u8> {
    let nts = if byebye { "ssdp:byebye" } else { "ssdp:alive" };
    format!(
        "NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nCACHE-CONTROL: max-age=86400\r\nLOCATION: http://{}.{}.{}.{}:{port}/setup.xml\r\nOPT: \"http://schemas.upnp.org/upnp/1/0/\"; ns=01\r\n01-NLS: 7b1f0e1a-1dd2-11b2-a4b4-f1b4c7d3e5a1\r\nNT: urn:Belkin:device:controllee:1\r\nNTS: {nts}\r\nSERVER: Unspecified, UPnP/1.0, Unspecified\r\nX-User-Agent: redsonic\r\nUSN: uuid:Socket-1_0-{serial}::urn:Belkin:device:controllee:1\r\n\r\n",
        ip[0], ip[1], ip[2], ip[3]
    )
    .into_bytes()
}

/// An `M-SEARCH` for `st` with `MX` seconds.
pub fn msearch(st: &str, mx: u8) -> Vec<u8> {
    format!(
        "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: {mx}\r\nST: {st}\r\n\r\n"
    )
    .into_bytes()
}

/// A unicast reply to a search, with extra headers.
pub fn search_reply(
    location: &str,
    server: &str,
    usn: &str,
    st: &str,
    extra: &[(&str, &str)],
) -> Vec<u8> {
    let mut s = format!(
        "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=100\r\nEXT:\r\nLOCATION: {location}\r\nSERVER: {server}\r\nST: {st}\r\nUSN: {usn}\r\n"
    );
    for (k, v) in extra {
        s.push_str(&format!("{k}: {v}\r\n"));
    }
    s.push_str("\r\n");
    s.into_bytes()
}
