//! DHCP messages with inventory options (RFC 2131 §2, RFC 2132): the BOOTP
//! fixed header, the magic cookie, and options 53, 61, 12, 60, 55, 81, 50.

use crate::wire::MacAddr;

/// A DHCPREQUEST (or DHCPDISCOVER) from `mac`, broadcast before it has an
/// address, with host name (12), vendor class (60), parameter request
/// list (55), client FQDN in wire form (81) and the requested address
/// (50).
pub fn request(
    msg_type: u8,
    xid: u32,
    mac: MacAddr,
    hostname: &str,
    vendor_class: &str,
    params: &[u8],
    requested: Option<[u8; 4]>,
) -> Vec<u8> {
    let mut p = vec![0u8; 236];
    p[0] = 1; // BOOTREQUEST
    p[1] = 1; // Ethernet
    p[2] = 6;
    p[4..8].copy_from_slice(&xid.to_be_bytes());
    p[10] = 0x80; // broadcast flag
    p[28..34].copy_from_slice(&mac.0);
    p.extend_from_slice(&[99, 130, 83, 99]);
    p.extend_from_slice(&[53, 1, msg_type]);
    p.extend_from_slice(&[61, 7, 1]);
    p.extend_from_slice(&mac.0);
    if let Some(a) = requested {
        p.extend_from_slice(&[50, 4]);
        p.extend_from_slice(&a);
    }
    let opt = |p: &mut Vec<u8>, code: u8, v: &[u8]| {
        let v = &v[..v.len().min(255)];
        p.push(code);
        p.push(v.len() as u8);
        p.extend_from_slice(v);
    };
    if !hostname.is_empty() {
        opt(&mut p, 12, hostname.as_bytes());
        // RFC 4702: flags S (server updates A) and E (wire encoding).
        let mut f = vec![0x05, 0, 0];
        for l in hostname.split('.') {
            f.push(l.len().min(63) as u8);
            f.extend_from_slice(&l.as_bytes()[..l.len().min(63)]);
        }
        opt(&mut p, 81, &f);
    }
    if !vendor_class.is_empty() {
        opt(&mut p, 60, vendor_class.as_bytes());
    }
    if !params.is_empty() {
        opt(&mut p, 55, params);
    }
    p.push(255);
    p
}

/// The parameter request list of BusyBox udhcpc 1.30 (its default
/// `DHCP_OPTIONS_BUFSIZE` set: subnet, router, DNS, host name, domain,
/// broadcast, NTP…), a typical embedded-Linux fingerprint.
pub const UDHCPC_PARAMS: &[u8] = &[1, 3, 6, 12, 15, 28, 42];
