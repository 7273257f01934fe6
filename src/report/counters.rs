//! The counters of the layers after decryption (MSDUs, IP, flows, decoders),
//! one [`Count`] each, as [`crate::engine::DropReason`] counts frames.
//!
//! The names are stable: they are the keys of the summary's `decode` object
//! (`docs/events.md`), in [`Count::ALL`] order.

/// What the watcher counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Count {
    /// MSDUs (or wired frames) handed to the layers above the link.
    Msdus,
    /// MSDUs the AP relayed between two stations (second copy, not decoded again).
    RelayedDuplicates,
    IpPackets,
    NotIp,
    IpMalformed,
    IpFragments,
    TcpSegments,
    UdpDatagrams,
    /// New flows refused by a full flow table.
    FlowsRefused,
    FlowsExpired,
    TplinkMessages,
    TplinkUndecodable,
    TplinkDesyncs,
    /// Discovery datagrams decoded.
    Discovery,
    /// TLS flows to the cloud ports.
    TlsFlows,
    CredentialLeaks,
    /// KLAP handshake1 exchanges captured, and how many matched a credential.
    KlapHandshakes,
    KlapHandshakesMatched,
    KlapMessages,
    /// KLAP/HTTP traffic not decrypted, with a label (credentials needed…).
    KlapUndecrypted,
    /// HTTP framing errors (oversized body, chunked, resync…).
    HttpErrors,
    /// Streams made to give up their holes because all flows together
    /// buffered more than the out-of-order budget
    /// (`watch::MAX_TCP_BUFFERED_TOTAL`).
    TcpBudgetFlushes,
    /// Flows whose decoders dropped their partial messages because all
    /// flows' decoders together held more than `watch::MAX_DECODER_HELD_TOTAL`.
    DecoderBudgetReleases,
}

impl Count {
    pub const ALL: [Count; 23] = [
        Count::Msdus,
        Count::RelayedDuplicates,
        Count::IpPackets,
        Count::NotIp,
        Count::IpMalformed,
        Count::IpFragments,
        Count::TcpSegments,
        Count::UdpDatagrams,
        Count::FlowsRefused,
        Count::FlowsExpired,
        Count::TplinkMessages,
        Count::TplinkUndecodable,
        Count::TplinkDesyncs,
        Count::Discovery,
        Count::TlsFlows,
        Count::CredentialLeaks,
        Count::KlapHandshakes,
        Count::KlapHandshakesMatched,
        Count::KlapMessages,
        Count::KlapUndecrypted,
        Count::HttpErrors,
        Count::TcpBudgetFlushes,
        Count::DecoderBudgetReleases,
    ];

    /// Stable snake_case name (JSON key).
    pub fn name(self) -> &'static str {
        match self {
            Count::Msdus => "msdus",
            Count::RelayedDuplicates => "relayed_duplicates",
            Count::IpPackets => "ip_packets",
            Count::NotIp => "not_ip",
            Count::IpMalformed => "ip_malformed",
            Count::IpFragments => "ip_fragments",
            Count::TcpSegments => "tcp_segments",
            Count::UdpDatagrams => "udp_datagrams",
            Count::FlowsRefused => "flows_refused",
            Count::FlowsExpired => "flows_expired",
            Count::TplinkMessages => "tplink_messages",
            Count::TplinkUndecodable => "tplink_undecodable",
            Count::TplinkDesyncs => "tplink_desyncs",
            Count::Discovery => "discovery",
            Count::TlsFlows => "tls_flows",
            Count::CredentialLeaks => "credential_leaks",
            Count::KlapHandshakes => "klap_handshakes",
            Count::KlapHandshakesMatched => "klap_handshakes_matched",
            Count::KlapMessages => "klap_messages",
            Count::KlapUndecrypted => "klap_undecrypted",
            Count::HttpErrors => "http_errors",
            Count::TcpBudgetFlushes => "tcp_budget_flushes",
            Count::DecoderBudgetReleases => "decoder_budget_releases",
        }
    }
}

/// The counters of a run, and the two memory gauges behind the global budgets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchStats {
    counts: [u64; Count::ALL.len()],
    /// Messages decoded, per protocol name (every vendor, not only TP-Link).
    pub messages: std::collections::BTreeMap<&'static str, u64>,
    /// Undecodable payloads and labels, per protocol name.
    pub undecodable: std::collections::BTreeMap<&'static str, u64>,
    /// Framing lost and found again, per protocol name (besides TP-Link's
    /// and HTTP's, which have their own counters).
    pub desyncs: std::collections::BTreeMap<&'static str, u64>,
    /// Out-of-order TCP bytes buffered now, all flows (a gauge).
    pub tcp_buffered: usize,
    /// Heap bytes the decoders of all flows hold now (a gauge).
    pub decoder_held: usize,
}

impl WatchStats {
    pub fn get(&self, c: Count) -> u64 {
        self.counts[c as usize]
    }
    pub fn add(&mut self, c: Count, n: u64) {
        let v = &mut self.counts[c as usize];
        *v = v.saturating_add(n);
    }
    pub fn inc(&mut self, c: Count) {
        self.add(c, 1);
    }
    /// Every counter with its name, in [`Count::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (Count, u64)> + '_ {
        Count::ALL.iter().map(|&c| (c, self.get(c)))
    }
}

/// The capture side's counts (the pipeline's, as last reported): frames
/// captured, dropped before decoding, and libpcap's own drops.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaptureCounts {
    pub captured: u64,
    /// Frames the `-f` filter rejected.
    pub filtered: u64,
    /// Frames dropped because the pipeline could not keep up (live only).
    pub shed_load: u64,
    /// libpcap's `ps_drop` and `ps_ifdrop`.
    pub pcap_dropped: u64,
    pub pcap_if_dropped: u64,
    /// Batches waiting in the pipeline's queues (a gauge).
    pub queued_batches: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_in_order_and_named_once() {
        for (i, c) in Count::ALL.iter().enumerate() {
            assert_eq!(*c as usize, i);
        }
        let names: std::collections::BTreeSet<_> = Count::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(names.len(), Count::ALL.len());
        let mut s = WatchStats::default();
        s.inc(Count::TlsFlows);
        s.add(Count::TlsFlows, u64::MAX);
        assert_eq!(s.get(Count::TlsFlows), u64::MAX);
    }
}
