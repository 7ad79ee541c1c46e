//! Under a SYN flood from 10 million random source addresses, memory stays within the
//! configured flow-table size, and connections that were established before the flood are
//! still tracked and reported correctly after it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::net::IpAddr;
use std::sync::Arc;
use vigil_dataplane::eve::{EveItem, EventQueue};
use vigil_dataplane::flow::{EndReason, TcpState};
use vigil_dataplane::stats::WorkerStats;
use vigil_dataplane::testgen::{tcp_frame, Rng, Vlan};
use vigil_dataplane::wire::LinkType;
use vigil_dataplane::worker::{Backpressure, WorkerConfig, WorkerCore};

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

const CAPACITY: u32 = 200_000;
const FLOOD: u64 = 10_000_000;
const ESTABLISHED: u16 = 50;

#[test]
fn syn_flood_is_bounded_and_established_flows_survive() {
    let q = Arc::new(EventQueue::new(1 << 14));
    let stats = Arc::new(WorkerStats::default());
    let rss_before = rss_bytes();
    let mut w = WorkerCore::new(
        0,
        WorkerConfig { flow_capacity: CAPACITY, ..WorkerConfig::default() },
        q.clone(),
        Backpressure::Drop,
        stats.clone(),
    );
    // (Drop: a live worker never waits; the test drains the queue as the logger would.)
    let (c, s): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
    let mut t = 1_700_000_000_000_000_000u64;
    let feed = |w: &mut WorkerCore, f: &[u8], t: &mut u64| {
        *t += 1_000;
        w.process(LinkType::Ethernet, f, *t, f.len() as u32);
    };
    // Established connections, each with 3 packets + 2 of data.
    for i in 0..ESTABLISHED {
        let cp = 40000 + i;
        feed(&mut w, &tcp_frame(Vlan::None, c, s, cp, 443, 1, None, "S", &[], true), &mut t);
        feed(&mut w, &tcp_frame(Vlan::None, s, c, 443, cp, 9, Some(2), "S", &[], false), &mut t);
        feed(&mut w, &tcp_frame(Vlan::None, c, s, cp, 443, 2, Some(10), "", &[], true), &mut t);
        feed(&mut w, &tcp_frame(Vlan::None, c, s, cp, 443, 2, Some(10), "P", b"hello", true), &mut t);
        feed(&mut w, &tcp_frame(Vlan::None, s, c, 443, cp, 10, Some(7), "P", b"world!", false), &mut t);
    }
    // The flood: SYNs from random sources and ports, rewritten in place in one template.
    let mut syn = tcp_frame(Vlan::None, "1.1.1.1".parse().unwrap(), s, 1, 443, 7, None, "S", &[], true);
    let mut rng = Rng::new(42);
    let mut rss_full = 0;
    for n in 0..FLOOD {
        let r = rng.next_u64();
        syn[26..30].copy_from_slice(&(r as u32).to_be_bytes());
        syn[34..36].copy_from_slice(&((r >> 32) as u16 | 1).to_be_bytes());
        t += 100; // 10 Mpps of packet time: no flow times out during the flood
        w.process(LinkType::Ethernet, &syn, t, syn.len() as u32);
        if n % 32 == 31 {
            w.end_burst(0);
            while q.pop().is_some() {}
        }
        if n == 2 * CAPACITY as u64 {
            rss_full = rss_bytes();
        }
    }
    let rss_after = rss_bytes();
    w.publish_now(); // counters are published every few bursts; read them settled
    let snap = stats.snapshot(0, 0);
    assert_eq!(snap.flows_active, CAPACITY as u64, "the table is full, not larger");
    assert!(
        snap.flows_evicted >= FLOOD - CAPACITY as u64,
        "new flows evicted the idlest unestablished ones: {}",
        snap.flows_evicted
    );
    // Memory: reaching the bound costs at most the table's own size; the remaining millions
    // of packets add nothing.
    let per_flow = (std::mem::size_of::<vigil_dataplane::flow::Flow>() + 64 + 8 + 4 + 16) as u64;
    let budget = CAPACITY as u64 * per_flow + (64 << 20);
    assert!(
        rss_full - rss_before <= budget,
        "RSS grew {} MB to fill a {CAPACITY}-flow table (budget {} MB)",
        (rss_full - rss_before) >> 20,
        budget >> 20
    );
    assert!(
        rss_after <= rss_full + (8 << 20),
        "RSS kept growing during the flood: {} MB -> {} MB",
        rss_full >> 20,
        rss_after >> 20
    );

    // The established connections are still tracked: one more exchange each, then close.
    for i in 0..ESTABLISHED {
        let cp = 40000 + i;
        feed(&mut w, &tcp_frame(Vlan::None, c, s, cp, 443, 7, Some(16), "P", b"again", true), &mut t);
    }
    // The logger's side: drain while the worker flushes 200k flows.
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let logger = {
        let (q, done) = (q.clone(), done.clone());
        std::thread::spawn(move || {
            let mut est = Vec::new();
            loop {
                let finished = done.load(std::sync::atomic::Ordering::Acquire);
                while let Some(EveItem::Flow(f, r)) = q.pop() {
                    if f.server_port() == 443 && f.client_addr()[..4] == [10, 0, 0, 1] {
                        est.push((f, r));
                    }
                }
                if finished {
                    return est;
                }
                std::thread::yield_now();
            }
        })
    };
    w.finish();
    done.store(true, std::sync::atomic::Ordering::Release);
    let est = logger.join().unwrap();

    assert_eq!(est.len(), ESTABLISHED as usize, "every established flow reported once");
    for (f, r) in est {
        assert_eq!(r, EndReason::Shutdown);
        assert_eq!(f.tcp, TcpState::Established);
        assert_eq!(f.pkts, [4, 2], "packets before and after the flood in one flow");
    }
}
