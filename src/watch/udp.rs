//! UDP in the analyzer: DHCP and DNS feed the name table; every datagram
//! but DNS answers is then offered to the registered datagram decoders.

use std::net::SocketAddr;

use super::findings::Ends;
use super::{Analyzer, Macs};
use crate::decoders::{
    self, Ctx, Decoder, Direction, FlowMeta, Probe, ServerIs, Transport, Verdict,
};
use crate::wire::Ts;

/// DHCP server and client ports (RFC 2131 §4.1).
const DHCP_PORTS: [u16; 2] = [67, 68];
/// DNS (RFC 1035 §4.2.1): answers come from port 53.
const DNS_PORT: u16 = 53;

impl Analyzer {
    pub(super) fn on_udp(
        &mut self,
        ts: Ts,
        macs: Macs,
        src: SocketAddr,
        dst: SocketAddr,
        payload: &[u8],
    ) {
        if DHCP_PORTS.contains(&src.port()) && DHCP_PORTS.contains(&dst.port()) {
            // The name table learns IP/MAC/hostname; the DHCP decoder below
            // announces the device (vendor class, parameter list).
            self.names.on_dhcp(macs.src, payload);
        }
        if src.port() == DNS_PORT {
            self.names.on_dns(payload);
            return;
        }
        let probe = Probe {
            src,
            dst,
            payload,
            syn: false,
            mid_stream: false,
            shared: &self.shared,
        };
        let Some((reg, Verdict::Match(server_is))) = decoders::probe(Transport::Udp, &probe) else {
            return;
        };
        let Decoder::Datagram(decode) = reg.decoder else {
            return;
        };
        let (client, server, dir, client_mac, server_mac) = match server_is {
            ServerIs::Dst => (src, dst, Direction::ToServer, macs.src, macs.dst),
            ServerIs::Src => (dst, src, Direction::ToClient, macs.dst, macs.src),
        };
        let ends = Ends {
            client,
            server,
            device: self.mac_of(server.ip(), server_mac),
            controller: self.mac_of(client.ip(), client_mac),
            sent: Some(dir),
        };
        let mut found = Vec::new();
        let mut cx = Ctx {
            ts,
            client,
            server,
            shared: &mut self.shared,
            flow: FlowMeta::default(),
        };
        decode(&mut cx, dir, payload, &mut found);
        self.apply(ts, ends, FlowMeta::default(), found, &[]);
    }
}
