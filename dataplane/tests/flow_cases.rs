//! Generated captures for the flow layer, run through the worker's real per-packet path
//! (decode, defrag, flow table, TCP reassembly) with a payload sink that records exactly
//! what the inspection stages receive: flows, states, end reasons and reassembled bytes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use vigil_dataplane::eve::{EveItem, EventQueue};
use vigil_dataplane::flow::stream::StreamEvent;
use vigil_dataplane::flow::{EndReason, Flow, TcpState};
use vigil_dataplane::stats::WorkerStats;
use vigil_dataplane::testgen::{encapsulate, fragment, ipv4_fragment, tcp_frame, udp_frame, Encap, Vlan};
use vigil_dataplane::wire::{LinkType, TunnelKind};
use vigil_dataplane::worker::{Backpressure, PayloadSink, WorkerConfig, WorkerCore};

#[derive(Default)]
struct Seen {
    /// flow id -> [to-server bytes, to-client bytes]
    streams: BTreeMap<u64, [Vec<u8>; 2]>,
    gaps: Vec<(u64, usize, u64, u64)>,
    overlaps: Vec<(u64, usize)>,
    datagrams: BTreeMap<u64, Vec<(usize, Vec<u8>)>>,
}

struct Recorder(Arc<Mutex<Seen>>);
impl PayloadSink for Recorder {
    fn stream(&mut self, flow: &mut Flow, ev: &StreamEvent<'_>) {
        let mut s = self.0.lock().unwrap();
        match ev {
            StreamEvent::Data { dir, data, .. } => s.streams.entry(flow.id).or_default()[*dir].extend_from_slice(data),
            StreamEvent::Gap { dir, offset, len } => s.gaps.push((flow.id, *dir, *offset, *len)),
            StreamEvent::OverlapDifferentData { dir, .. } => s.overlaps.push((flow.id, *dir)),
            StreamEvent::DepthReached { .. } => {}
        }
    }
    fn datagram(&mut self, flow: &mut Flow, dir: usize, payload: &[u8]) {
        self.0.lock().unwrap().datagrams.entry(flow.id).or_default().push((dir, payload.to_vec()));
    }
}

struct Run {
    flows: Vec<(Flow, EndReason)>,
    seen: Seen,
    counters: BTreeMap<String, u64>,
}

fn run(frames: &[Vec<u8>]) -> Run {
    let q = Arc::new(EventQueue::new(1 << 16));
    let stats = Arc::new(WorkerStats::default());
    let mut w = WorkerCore::new(
        0,
        WorkerConfig { flow_capacity: 4096, ..WorkerConfig::default() },
        q.clone(),
        Backpressure::Wait,
        stats.clone(),
    );
    let seen = Arc::new(Mutex::new(Seen::default()));
    w.set_sink(Box::new(Recorder(seen.clone())));
    for (i, f) in frames.iter().enumerate() {
        w.process(LinkType::Ethernet, f, 1_700_000_000_000_000_000 + i as u64 * 1_000_000, f.len() as u32);
    }
    w.finish();
    let mut flows = Vec::new();
    while let Some(EveItem::Flow(f, r)) = q.pop() {
        flows.push((f, r));
    }
    let counters = stats.snapshot(0, 0).counters;
    drop(w);
    let seen = Arc::try_unwrap(seen).ok().unwrap().into_inner().unwrap();
    Run { flows, seen, counters }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

// ---------------------------------------------------------------- tunnels

#[test]
fn same_inner_addresses_in_different_tunnels_are_different_flows() {
    let inner = |to_server: bool| {
        if to_server {
            udp_frame(Vlan::None, ip("10.0.0.1"), ip("10.0.0.2"), 5000, 53, b"query", true)
        } else {
            udp_frame(Vlan::None, ip("10.0.0.2"), ip("10.0.0.1"), 53, 5000, b"answer", false)
        }
    };
    let tunnels = [
        Encap::Vxlan(100),
        Encap::Vxlan(200),
        Encap::Geneve(100),
        Encap::GreEth(Some(7)),
        Encap::GreIp(Some(8)),
        Encap::ErspanII(3),
        Encap::IpIp,
    ];
    let mut frames = Vec::new();
    for t in tunnels {
        frames.push(encapsulate(t, [172, 16, 0, 1], [172, 16, 0, 2], &inner(true)));
        frames.push(encapsulate(t, [172, 16, 0, 2], [172, 16, 0, 1], &inner(false)));
    }
    let r = run(&frames);
    assert_eq!(r.flows.len(), tunnels.len(), "one flow per tunnel: {:#?}", r.flows);
    let kinds: Vec<(TunnelKind, u32)> =
        r.flows.iter().map(|(f, _)| (f.tunnel.unwrap().kind, f.tunnel.unwrap().id)).collect();
    for want in [
        (TunnelKind::Vxlan, 100),
        (TunnelKind::Vxlan, 200),
        (TunnelKind::Geneve, 100),
        (TunnelKind::Gre, 7),
        (TunnelKind::Gre, 8),
        (TunnelKind::Erspan, 3),
        (TunnelKind::IpInIp, 0),
    ] {
        assert!(kinds.contains(&want), "{want:?} in {kinds:?}");
    }
    for (f, _) in &r.flows {
        assert_eq!(f.pkts, [1, 1], "query and answer in one flow");
        assert_eq!(f.client_port(), 5000);
        let d = &r.seen.datagrams[&f.id];
        assert_eq!(d, &vec![(0, b"query".to_vec()), (1, b"answer".to_vec())]);
    }
}

// ---------------------------------------------------------------- IP fragments

fn big_udp_v4(payload_len: usize) -> (Vec<u8>, Vec<u8>) {
    let payload: Vec<u8> = (0..payload_len).map(|i| (i * 7 % 251) as u8).collect();
    (udp_frame(Vlan::None, ip("192.0.2.1"), ip("192.0.2.2"), 4000, 9000, &payload, true), payload)
}

#[test]
fn ipv4_fragments_in_order_and_out_of_order_make_one_datagram() {
    let (frame, payload) = big_udp_v4(3000);
    let frags = fragment(&frame, 1200, 77);
    assert_eq!(frags.len(), 3);
    for order in [vec![0, 1, 2], vec![2, 1, 0], vec![1, 2, 0]] {
        let r = run(&order.iter().map(|i| frags[*i].clone()).collect::<Vec<_>>());
        assert_eq!(r.flows.len(), 1, "order {order:?}");
        let (f, _) = &r.flows[0];
        assert_eq!(f.pkts, [3, 0], "three fragments counted on the flow");
        assert_eq!(f.bytes[0], frags.iter().map(|x| x.len() as u64).sum::<u64>());
        let d = &r.seen.datagrams[&f.id];
        assert_eq!(d.len(), 1, "inspected once, as a whole datagram");
        assert_eq!(d[0].1, payload);
        assert_eq!(r.counters["defrag.reassembled"], 1);
    }
}

#[test]
fn ipv6_fragments_make_one_datagram() {
    let payload: Vec<u8> = (0..2500).map(|i| (i % 200) as u8).collect();
    let frame = udp_frame(Vlan::None, ip("2001:db8::1"), ip("2001:db8::2"), 4000, 9000, &payload, true);
    let frags = fragment(&frame, 1000, 0xabcd);
    let r = run(&[frags[2].clone(), frags[0].clone(), frags[1].clone()]);
    assert_eq!(r.flows.len(), 1);
    assert_eq!(r.flows[0].0.pkts, [3, 0]);
    assert_eq!(r.seen.datagrams[&r.flows[0].0.id][0].1, payload);
}

#[test]
fn overlapping_fragments_with_different_data_are_flagged_first_wins() {
    let (frame, payload) = big_udp_v4(64);
    // UDP header (8) + 64 bytes = 72 bytes of IP payload: [0,40) then an overlapping
    // [32,72) whose first 8 bytes differ (the Teardrop / evasion shape).
    let ip_payload = frame[34..].to_vec();
    let a = ipv4_fragment(&frame, 9, 0, true, &ip_payload[..40]);
    let mut tail = ip_payload[32..].to_vec();
    for b in &mut tail[..8] {
        *b ^= 0xff;
    }
    let b = ipv4_fragment(&frame, 9, 32, false, &tail);
    let r = run(&[a, b]);
    assert_eq!(r.counters["defrag.overlap_different_data"], 1);
    assert_eq!(r.flows.len(), 1);
    assert_eq!(r.seen.datagrams[&r.flows[0].0.id][0].1, payload, "first-wins keeps the original bytes");
}

#[test]
fn ping_of_death_is_oversize_and_never_a_flow() {
    let echo = {
        let mut f = Vec::new();
        etherparse::PacketBuilder::ethernet2([0; 6], [0; 6])
            .ipv4([198, 51, 100, 1], [198, 51, 100, 2], 64)
            .icmpv4_echo_request(1, 1)
            .write(&mut f, &[0u8; 64])
            .unwrap();
        f
    };
    let mut data = echo[34..].to_vec(); // ICMP echo header + the start of its payload
    data.resize(1480, 0);
    let first = ipv4_fragment(&echo, 5, 0, true, &data);
    let last = ipv4_fragment(&echo, 5, 65528, false, &[0u8; 16]); // ends at 65544 > 65535
    let r = run(&[first, last]);
    assert_eq!(r.counters["defrag.oversize"], 1);
    assert!(r.flows.is_empty(), "{:?}", r.flows);
}

#[test]
fn a_large_ping_that_is_not_oversized_is_reassembled() {
    let payload = vec![0x61u8; 20_000];
    let mut echo = Vec::new();
    etherparse::PacketBuilder::ethernet2([0; 6], [0; 6])
        .ipv4([198, 51, 100, 1], [198, 51, 100, 2], 64)
        .icmpv4_echo_request(1, 1)
        .write(&mut echo, &payload)
        .unwrap();
    let r = run(&fragment(&echo, 1480, 6));
    assert_eq!(r.counters.get("defrag.oversize"), None);
    assert_eq!(r.flows.len(), 1);
    assert_eq!(r.flows[0].0.pkts[0], 14);
}

// ---------------------------------------------------------------- TCP

const C: &str = "10.1.1.1";
const S: &str = "10.2.2.2";

fn seg(to_server: bool, seq: u32, ack: u32, flags: &str, data: &[u8]) -> Vec<u8> {
    if to_server {
        tcp_frame(Vlan::None, ip(C), ip(S), 33000, 80, seq, Some(ack), flags, data, true)
    } else {
        tcp_frame(Vlan::None, ip(S), ip(C), 80, 33000, seq, Some(ack), flags, data, false)
    }
}

/// SYN, SYN/ACK, ACK with client ISN `ci` and server ISN `si`.
fn handshake(ci: u32, si: u32) -> Vec<Vec<u8>> {
    vec![
        tcp_frame(Vlan::None, ip(C), ip(S), 33000, 80, ci, None, "S", &[], true),
        seg(false, si, ci.wrapping_add(1), "S", &[]),
        seg(true, ci.wrapping_add(1), si.wrapping_add(1), "", &[]),
    ]
}

fn only_flow(r: &Run) -> (Flow, EndReason, [Vec<u8>; 2]) {
    assert_eq!(r.flows.len(), 1, "{:#?}", r.flows);
    let (f, reason) = r.flows[0];
    (f, reason, r.seen.streams.get(&f.id).cloned().unwrap_or_default())
}

#[test]
fn retransmission_is_delivered_once() {
    let (ci, si) = (1000, 5000);
    let mut p = handshake(ci, si);
    p.push(seg(true, ci + 1, si + 1, "P", b"GET / HTTP/1.1\r\n"));
    p.push(seg(true, ci + 1, si + 1, "P", b"GET / HTTP/1.1\r\n")); // retransmitted
    p.push(seg(true, ci + 17, si + 1, "P", b"Host: x\r\n\r\n"));
    let (f, _, s) = only_flow(&run(&p));
    assert_eq!(s[0], b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(f.pkts[0], 5);
}

#[test]
fn out_of_order_segments_are_reordered() {
    let (ci, si) = (1, 1);
    let mut p = handshake(ci, si);
    p.push(seg(false, si + 1 + 6, ci + 1, "P", b"world"));
    p.push(seg(false, si + 1, ci + 1, "P", b"hello "));
    let (_, _, s) = only_flow(&run(&p));
    assert_eq!(s[1], b"hello world");
}

#[test]
fn overlap_with_different_data_keeps_the_first_bytes() {
    let (ci, si) = (7, 9);
    let mut p = handshake(ci, si);
    p.push(seg(true, ci + 1 + 4, si + 1, "P", b"EFGH")); // buffered out of order
    p.push(seg(true, ci + 1 + 4, si + 1, "P", b"XXXX")); // overlaps it with other bytes
    p.push(seg(true, ci + 1, si + 1, "P", b"ABCD"));
    let r = run(&p);
    let (f, _, s) = only_flow(&r);
    assert_eq!(s[0], b"ABCDEFGH");
    assert_eq!(r.seen.overlaps, vec![(f.id, 0)]);
}

#[test]
fn sequence_numbers_wrap_around() {
    let ci = 0xFFFF_FFF0u32;
    let mut p = handshake(ci, 100);
    let mut seq = ci.wrapping_add(1);
    let mut want = Vec::new();
    for chunk in [&b"0123456789"[..], b"abcdefghij", b"KLMNOPQRST"] {
        p.push(seg(true, seq, 101, "P", chunk));
        seq = seq.wrapping_add(chunk.len() as u32);
        want.extend_from_slice(chunk);
    }
    let (_, _, s) = only_flow(&run(&p));
    assert_eq!(s[0], want);
}

#[test]
fn rst_closes_the_flow() {
    let mut p = handshake(10, 20);
    p.push(seg(true, 11, 21, "P", b"data"));
    p.push(seg(false, 21, 15, "R", &[]));
    let (f, reason, s) = only_flow(&run(&p));
    assert_eq!(f.tcp, TcpState::Closed);
    assert_eq!(reason, EndReason::TcpClose);
    assert_eq!(s[0], b"data");
    assert_eq!(f.tcp_flags[1] & 0x04, 0x04);
}

#[test]
fn half_close_keeps_the_other_direction_flowing() {
    let (ci, si) = (100, 200);
    let mut p = handshake(ci, si);
    p.push(seg(true, ci + 1, si + 1, "P", b"request"));
    p.push(seg(true, ci + 8, si + 1, "F", &[])); // client is done sending
    p.push(seg(false, si + 1, ci + 9, "P", b"response part 1, "));
    p.push(seg(false, si + 18, ci + 9, "P", b"part 2"));
    p.push(seg(false, si + 24, ci + 9, "F", &[]));
    p.push(seg(true, ci + 9, si + 25, "", &[]));
    let (f, reason, s) = only_flow(&run(&p));
    assert_eq!(s[0], b"request");
    assert_eq!(s[1], b"response part 1, part 2");
    assert_eq!(f.tcp, TcpState::Closed);
    assert_eq!(reason, EndReason::TcpClose);
    assert_eq!(f.pkts, [5, 4]);
}

#[test]
fn a_lost_segment_is_a_gap_not_glued_bytes() {
    let (ci, si) = (1, 1);
    let mut p = handshake(ci, si);
    p.push(seg(true, ci + 1, si + 1, "P", b"AAAA"));
    // "BBBB" at ci+5 is never seen.
    p.push(seg(true, ci + 9, si + 1, "P", b"CCCC"));
    let r = run(&p);
    let (f, _, s) = only_flow(&r);
    assert_eq!(s[0], b"AAAACCCC");
    assert_eq!(r.seen.gaps, vec![(f.id, 0, 4, 4)], "the gap is recorded where it is");
}
