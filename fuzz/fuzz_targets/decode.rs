//! Any byte sequence through the decoder, the dispatch hash and the flow path must not
//! panic, and the flow table must stay within its bound.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;
use vigil_dataplane::eve::EventQueue;
use vigil_dataplane::flow::defrag::DefragConfig;
use vigil_dataplane::flow::stream::StreamConfig;
use vigil_dataplane::stats::WorkerStats;
use vigil_dataplane::wire::{dispatch_hash, LinkType};
use vigil_dataplane::worker::{Backpressure, WorkerConfig, WorkerCore};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let link = match sel % 7 {
        0 => LinkType::Raw,
        1 => LinkType::Null,
        2 => LinkType::LinuxSll,
        3 => LinkType::LinuxSll2,
        4 => LinkType::Ipv6,
        _ => LinkType::Ethernet,
    };
    let _ = dispatch_hash(link, rest);
    let q = Arc::new(EventQueue::new(64));
    let cfg = WorkerConfig {
        flow_capacity: 1024,
        defrag: DefragConfig { max_datagrams: 4, ..DefragConfig::default() },
        stream: StreamConfig { pool_bytes: 1 << 16, ..StreamConfig::default() },
        ..WorkerConfig::default()
    };
    let mut w = WorkerCore::new(0, cfg, q.clone(), Backpressure::Drop, Arc::new(WorkerStats::default()));
    // Feed the frame and a few variants of it as separate packets of one stream.
    for (i, chunk) in [rest, rest.get(..rest.len() / 2).unwrap_or_default()].iter().enumerate() {
        w.process(link, chunk, i as u64 * 1_000_000_000, chunk.len() as u32);
    }
    w.end_burst(u64::MAX / 2);
    w.finish();
    assert!(w.flows.len() <= w.flows.capacity());
    while q.pop().is_some() {}
});
