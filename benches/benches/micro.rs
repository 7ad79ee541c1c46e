//! Criterion micro-benchmarks of the per-packet stages, without DPDK: decode, and the
//! worker's whole per-packet path (decode + flow lookup/update) at several flow counts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::sync::Arc;
use vigil_dataplane::eve::EventQueue;
use vigil_dataplane::stats::WorkerStats;
use vigil_dataplane::testgen;
use vigil_dataplane::wire::{decode, Decoded, LinkType};
use vigil_dataplane::worker::{Backpressure, WorkerConfig, WorkerCore};

fn bench_decode(c: &mut Criterion) {
    let t = testgen::mixed(1, 50, 50);
    let frames: Vec<Vec<u8>> = t.frames.into_iter().map(|f| f.data).collect();
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.bench_function("mixed", |b| {
        let mut d = Decoded::default();
        b.iter(|| {
            for f in &frames {
                let _ = decode(LinkType::Ethernet, std::hint::black_box(f), &mut d);
            }
        })
    });
    g.finish();
}

fn bench_worker(c: &mut Criterion) {
    let mut g = c.benchmark_group("worker_process");
    for flows in [1_000u32, 100_000] {
        let t = testgen::udp64(flows, flows as usize);
        let frames: Vec<Vec<u8>> = t.frames.into_iter().map(|f| f.data).collect();
        g.throughput(Throughput::Elements(frames.len() as u64));
        g.bench_function(format!("udp64_{flows}_flows"), |b| {
            b.iter_batched_ref(
                || {
                    let q = Arc::new(EventQueue::new(1 << 16));
                    let mut w = WorkerCore::new(
                        0,
                        WorkerConfig::default(),
                        q.clone(),
                        Backpressure::Drop,
                        Arc::new(WorkerStats::default()),
                    );
                    for f in &frames {
                        w.process(LinkType::Ethernet, f, 1, f.len() as u32);
                    }
                    (w, q)
                },
                |(w, _q)| {
                    for f in &frames {
                        w.process(LinkType::Ethernet, f, 2, f.len() as u32);
                    }
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench_decode, bench_worker);
criterion_main!(benches);
