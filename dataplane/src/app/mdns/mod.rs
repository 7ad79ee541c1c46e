//! Multicast DNS (RFC 6762): DNS's wire format on port 5353. The port breaks the tie with
//! DNS (the formats are byte for byte the same); the bytes must still be a DNS message.
//! Events: `mdns`, with the same fields as Suricata's `dns` (v2) events.
use crate::app::dns;
use crate::app::{AppProto, Cx, Desc, Probe, ProbeInput, StreamKind};

pub const DESC: Desc = Desc {
    proto: AppProto::Mdns,
    tcp: None,
    udp: Some(probe),
    ports: &[PORT],
    stream: StreamKind::None,
    datagram: Some(datagram),
};

/// mDNS's port (either side: queries go 5353 -> 5353, legacy unicast queries come from any).
pub const PORT: u16 = 5353;

pub fn probe(i: &ProbeInput<'_>) -> Probe {
    if !i.port_is(PORT) {
        return Probe::NoMatch;
    }
    dns::probe_format(i.data)
}

pub fn datagram(dir: usize, data: &[u8], cx: &mut Cx<'_>) {
    dns::emit_message(dir, data, 0, "mdns", cx);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::dns::parser::tests::hex;
    use crate::app::{Collect, L4};

    /// A query for _airplay._tcp.local PTR with the unicast-response bit (QU).
    const QUERY: &str = "000000000001000000000000085f616972706c6179045f746370056c6f63616c00000c8001";
    /// An announcement: no question, one PTR answer with cache-flush class.
    const ANNOUNCE: &str = "000084000000000100000000095f7365727669636573075f646e732d7364045f756470056c6f63616c00000c0001000011940010085f616972706c6179045f746370c023";

    fn on_5353(data: &[u8]) -> ProbeInput<'_> {
        let mut i = ProbeInput::new(L4::Udp, 0, data);
        i.client_port = 5353;
        i.server_port = 5353;
        i
    }

    #[test]
    fn matches_on_5353_only() {
        let q = hex(QUERY);
        assert_eq!(probe(&on_5353(&q)), Probe::Match);
        assert_eq!(probe(&on_5353(&hex(ANNOUNCE))), Probe::Match);
        assert_eq!(probe(&ProbeInput::new(L4::Udp, 0, &q)), Probe::NoMatch);
        assert_eq!(crate::app::dns::probe_udp(&on_5353(&q)), Probe::NoMatch);
        for s in [&b"GET / HTTP/1.1\r\n\r\n"[..], b"SSH-2.0-x\r\n", b"", &[0x16, 3, 1, 0, 0x40, 1], &q[..15]] {
            assert_eq!(probe(&on_5353(s)), Probe::NoMatch);
        }
    }

    #[test]
    fn others_do_not_match() {
        for (n, s) in crate::app::dns::parser::tests::others().iter().enumerate() {
            if n != 3 {
                assert_eq!(probe(&on_5353(s)), Probe::NoMatch, "{n}");
            }
        }
    }

    #[test]
    fn events_are_mdns() {
        let (mut out, mut scratch) = (Collect::default(), Vec::new());
        let mut cx = Cx::new(&mut out, &mut scratch, 5353, 5353);
        datagram(0, &hex(QUERY), &mut cx);
        datagram(1, &hex(ANNOUNCE), &mut cx);
        assert_eq!(out.0.len(), 2);
        assert_eq!(out.0[0].1, "mdns");
        assert_eq!(out.0[0].2["rrname"], "_airplay._tcp.local");
        assert_eq!(out.0[0].2["rrtype"], "PTR");
        let a = &out.0[1].2;
        assert_eq!(a["type"], "answer");
        assert_eq!(a["aa"], true);
        assert_eq!(a["answers"][0]["rrname"], "_services._dns-sd._udp.local");
        assert_eq!(a["answers"][0]["rdata"], "_airplay._tcp.local");
    }
}
