//! Control-plane benchmarks:
//! - `policy_push/10000_rules`: from the model to the workers: compile the policy of 10,000
//!   rules over 200 groups, build the snapshot, encode the frame, decode it on the
//!   dataplane side and swap it in (what a rule change costs end to end, minus the socket).
//! - `alert_ingest/batch_{1000,10000}`: alerts appended to RocksDB in one synced batch
//!   (Throughput::Elements = alerts).
#![allow(clippy::unwrap_used, clippy::expect_used)]
use arc_swap::ArcSwap;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use vigil_controlplane::link::convert;
use vigil_controlplane::model::{Action, Alert, AlertKind, Cidr, FlowRef, Group, Mode, Origin, PortRange, Rule};
use vigil_controlplane::policy::Policy;
use vigil_controlplane::store::{Store, StoreConfig};
use vigil_dataplane::link::frame::{encode, FrameReader};
use vigil_dataplane::link::msg::{CpMsg, PolicySnapshot};

fn model(groups: usize, rules: usize) -> (Vec<Group>, Vec<Rule>) {
    let g: Vec<Group> = (0..groups)
        .map(|i| Group {
            name: format!("g{i}"),
            members: vec![Cidr {
                addr: IpAddr::V4(Ipv4Addr::new(10, (i / 256) as u8, (i % 256) as u8, 0)),
                prefix: 24,
            }],
            mode: Mode::Monitor,
            builtin: false,
        })
        .collect();
    let r: Vec<Rule> = (0..rules)
        .map(|i| Rule {
            id: i as u64 + 1,
            from: format!("g{}", i % groups),
            to: format!("g{}", (i / groups) % groups),
            apps: vec!["http".into()],
            ports: vec![PortRange { lo: 8000 + (i % 100) as u16, hi: 8000 + (i % 100) as u16 }],
            action: Action::Allow,
            origin: if i % 10 == 0 { Origin::User } else { Origin::Learned },
            created_ms: 0,
            updated_ms: 0,
            hits: 0,
        })
        .collect();
    (g, r)
}

fn policy_push(c: &mut Criterion) {
    let (groups, rules) = model(200, 10_000);
    let live = Arc::new(ArcSwap::from_pointee(PolicySnapshot::default()));
    let mut version = 0;
    c.bench_function("policy_push/10000_rules", |b| {
        b.iter(|| {
            version += 1;
            let p = Policy::new(&groups, &rules, &[], &[]);
            let snap = convert::snapshot(version, &groups, p.rules(), &[], 0);
            let frame = encode(&CpMsg::Policy(snap)).unwrap();
            let mut r = FrameReader::new();
            r.push(&frame);
            if let Ok(Some(CpMsg::Policy(s))) = r.next_frame::<CpMsg>() {
                live.store(Arc::new(s));
            }
        })
    });
}

fn alert_ingest(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("db"), &StoreConfig::default()).unwrap();
    let ip = |d| IpAddr::V4(Ipv4Addr::new(10, 0, 0, d));
    let batch: Vec<Alert> = (0..10_000u64)
        .map(|i| Alert {
            id: 0,
            ts_ms: i / 10,
            kind: AlertKind::Violation,
            severity: 2,
            flow: FlowRef {
                proto: 6,
                src: ip(1),
                src_port: 40000,
                dst: ip(2),
                dst_port: 6379,
                app: "redis".into(),
                flow_id: i,
            },
            from_group: "web".into(),
            to_group: "db".into(),
            rule_id: None,
            signature: None,
            capture_id: None,
            action: "alert".into(),
            message: "web -> db redis port 6379 is not allowed".into(),
        })
        .collect();
    let mut g = c.benchmark_group("alert_ingest");
    // Alerts arrive in time order, as from live traffic: each batch is later than the last.
    let mut t = 1_700_000_000_000u64;
    for n in [1000usize, 10_000] {
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(format!("batch_{n}"), |b| {
            b.iter_batched(
                || {
                    let mut v = batch[..n].to_vec();
                    for a in &mut v {
                        a.ts_ms += t;
                    }
                    t += 1_000_000;
                    v
                },
                |v| store.append_alerts(&v).unwrap(),
                criterion::BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, policy_push, alert_ingest);
criterion_main!(benches);
