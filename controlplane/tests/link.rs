//! The link end to end: the dataplane's real link thread against the control plane's real
//! server, over Unix sockets in temp dirs, each control plane on its own runtime thread.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, watch};
use vigil_controlplane::link::{Handler, LinkError, Listener, Peer, ServerStats};
use vigil_dataplane::app::AppProto;
use vigil_dataplane::link::frame::encode_version;
use vigil_dataplane::link::msg::*;
use vigil_dataplane::link::{encode, ConnKey, ConnReporter, FrameReader, Link, LinkConfig, ReportCollector};

/// Everything the handler saw, in order.
#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<(u64, DpMsg)>>,
    disconnects: Mutex<Vec<String>>,
}

impl Handler for Recorder {
    fn on_hello(&self, peer: &Peer) {
        self.events.lock().unwrap().push((peer.id, DpMsg::Hello(peer.hello.clone())));
    }
    fn on_msg(&self, peer: &Peer, msg: DpMsg) {
        self.events.lock().unwrap().push((peer.id, msg));
    }
    fn on_disconnect(&self, _peer: &Peer, reason: &str) {
        self.disconnects.lock().unwrap().push(reason.to_string());
    }
}

impl Recorder {
    fn msgs(&self) -> Vec<DpMsg> {
        self.events.lock().unwrap().iter().map(|(_, m)| m.clone()).collect()
    }
    fn has(&self, f: impl Fn(&DpMsg) -> bool) -> bool {
        self.events.lock().unwrap().iter().any(|(_, m)| f(m))
    }
}

/// A control plane serving on its own runtime thread.
struct Cp {
    rec: Arc<Recorder>,
    policy: watch::Sender<Arc<PolicySnapshot>>,
    stats: Arc<ServerStats>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), LinkError>>>,
}

impl Cp {
    fn start(path: &Path, snapshot: PolicySnapshot) -> Cp {
        let rec = Arc::new(Recorder::default());
        let (policy, rx) = watch::channel(Arc::new(snapshot));
        let (stop, stopped) = oneshot::channel::<()>();
        let (ready_tx, ready) = std::sync::mpsc::channel();
        let (h, path) = (rec.clone(), path.to_path_buf());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let l = Listener::bind(&path)?;
                ready_tx.send(l.stats()).unwrap();
                l.serve(h, rx, async {
                    let _ = stopped.await;
                })
                .await
            })
        });
        let stats = ready.recv_timeout(Duration::from_secs(10)).expect("control plane did not bind");
        Cp { rec, policy, stats, stop: Some(stop), thread: Some(thread) }
    }

    fn publish(&self, s: PolicySnapshot) {
        self.policy.send_replace(Arc::new(s));
    }

    fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            t.join().unwrap().unwrap();
        }
    }
}

impl Drop for Cp {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

fn wait(what: &str, f: impl Fn() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < Duration::from_secs(15), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn snap(version: u64) -> PolicySnapshot {
    PolicySnapshot {
        version,
        groups: vec![GroupSpec {
            name: "web".into(),
            cidrs: vec![("10.1.0.0".parse().unwrap(), 16)],
            mode: MODE_MONITOR,
        }],
        rules: vec![RuleSpec {
            id: version,
            from: "web".into(),
            to: "db".into(),
            apps: vec!["redis".into()],
            ports: vec![(6379, 6379)],
            allow: true,
        }],
        quarantine: vec!["10.9.9.9".parse().unwrap()],
        signature_set: 1,
    }
}

fn sock(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("cp.sock")
}

fn tuple() -> FlowTuple {
    FlowTuple {
        proto: 6,
        src: "10.1.0.5".parse().unwrap(),
        src_port: 40000,
        dst: "10.2.0.7".parse().unwrap(),
        dst_port: 6379,
    }
}

#[test]
fn hello_reports_and_policy_with_acks() {
    let dir = tempfile::tempdir().unwrap();
    let path = sock(&dir);
    let cp = Cp::start(&path, snap(5));
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);

    let mut reporter = ConnReporter::new(4096, 256, 1000);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    let link = Link::start(
        &path,
        LinkConfig {
            hello: Hello { workers: 2, capabilities: vec!["capture".into()], dp_version: "test".into(), version: 0 },
            collector: ReportCollector::new(vec![reporter.queue()]),
            on_policy: Some(Box::new(move |p: &Arc<PolicySnapshot>| seen2.lock().unwrap().push(p.version))),
            ..LinkConfig::default()
        },
    )
    .unwrap();

    // Hello first, with the protocol version filled in; then the current snapshot, acked.
    wait("policy 5 acked", || cp.rec.has(|m| *m == DpMsg::PolicyAck { version: 5 }));
    let first = cp.rec.msgs()[0].clone();
    assert_eq!(
        first,
        DpMsg::Hello(Hello {
            version: PROTOCOL_VERSION,
            dp_version: "test".into(),
            capabilities: vec!["capture".into()],
            workers: 2
        })
    );
    assert_eq!(**link.policy().load(), snap(5));
    assert_eq!(link.stats().policy_version.load(Relaxed), 5);
    assert_eq!(*seen.lock().unwrap(), vec![5]);

    // A worker's connection, deduplicated: 100 connections, one report now.
    let key = ConnKey {
        client: "10.1.0.5".parse().unwrap(),
        server: "10.2.0.7".parse().unwrap(),
        server_port: 6379,
        proto: 6,
        app: AppProto::Redis,
    };
    for t in 0..100 {
        reporter.observe(key, 64, 10_000 + t);
    }
    wait("connection report", || cp.rec.has(|m| matches!(m, DpMsg::Connections(_))));
    let conns: Vec<ConnReport> = cp
        .rec
        .msgs()
        .into_iter()
        .filter_map(|m| match m {
            DpMsg::Connections(v) => Some(v),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(conns.len(), 1, "{conns:?}");
    assert_eq!(
        (conns[0].app.as_str(), conns[0].server_port, conns[0].count, conns[0].first_ms),
        ("redis", 6379, 1, 10_000)
    );

    // Every other report, through the queue.
    let q = link.queue();
    let others = vec![
        DpMsg::Stats(StatsReport {
            ts_ms: 1,
            rx_packets: 2,
            rx_bytes: 3,
            flows_active: 4,
            drops: vec![("x".into(), 5)],
        }),
        DpMsg::Alerts(vec![AlertReport {
            ts_ms: 9,
            kind: AlertKind::Violation,
            severity: 2,
            flow: tuple(),
            app: "redis".into(),
            flow_id: 77,
            signature: None,
            rule_id: Some(3),
            action: "alert".into(),
            message: "no rule allows web -> db".into(),
            capture_id: Some(4),
        }]),
        DpMsg::CaptureReady(CaptureReady { id: 4, file: "4.pcap".into(), bytes: 1234, flow: tuple() }),
    ];
    for m in &others {
        assert!(q.send(m.clone()));
    }
    wait("stats, alert and capture", || others.iter().all(|o| cp.rec.has(|m| m == o)));

    // A policy change reaches the running dataplane and is acked.
    cp.publish(snap(6));
    wait("policy 6 acked", || cp.rec.has(|m| *m == DpMsg::PolicyAck { version: 6 }));
    assert_eq!(link.policy().load().version, 6);
    assert_eq!(*seen.lock().unwrap(), vec![5, 6]);

    let s = link.stats();
    assert_eq!((s.connects.load(Relaxed), s.disconnects.load(Relaxed), s.reports_dropped.load(Relaxed)), (1, 0, 0));
    // Hello, connections, 3 others, 2 acks.
    assert_eq!(s.frames_sent.load(Relaxed), 7);
    // Welcome and two policies.
    assert_eq!(s.frames_received.load(Relaxed), 3);
    assert_eq!(cp.stats.frames_received.load(Relaxed), 7);
    link.stop();
    wait("server saw the disconnect", || cp.rec.disconnects.lock().unwrap().len() == 1);
    cp.stop();
    assert!(!path.exists(), "socket file removed on shutdown");
}

#[test]
fn fail_static_then_resync_on_the_same_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = sock(&dir);
    let cp = Cp::start(&path, snap(7));
    let link = Link::start(
        &path,
        LinkConfig { queue_capacity: 4, hello: Hello { workers: 1, ..Hello::default() }, ..LinkConfig::default() },
    )
    .unwrap();
    wait("policy 7", || link.policy().load().version == 7);
    let stats = link.stats();
    cp.stop();
    wait("disconnect", || stats.disconnects.load(Relaxed) == 1);

    // Gone: the policy stays; the queue keeps 4 reports and counts the rest as dropped.
    assert_eq!(**link.policy().load(), snap(7));
    let q = link.queue();
    for i in 0..10 {
        q.send(DpMsg::Stats(StatsReport { ts_ms: i, ..StatsReport::default() }));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(stats.reports_dropped.load(Relaxed), 6);
    assert_eq!(stats.connects.load(Relaxed), 1);
    assert_eq!(link.policy().load().version, 7);

    // Back on the same path (its stale socket file replaced): hello again, the kept reports,
    // and the control plane's current snapshot.
    let cp = Cp::start(&path, snap(8));
    wait("policy 8 acked", || cp.rec.has(|m| *m == DpMsg::PolicyAck { version: 8 }));
    assert_eq!(stats.connects.load(Relaxed), 2);
    assert_eq!(**link.policy().load(), snap(8));
    wait("kept reports", || cp.rec.msgs().iter().filter(|m| matches!(m, DpMsg::Stats(_))).count() == 4);
    let msgs = cp.rec.msgs();
    assert!(matches!(msgs[0], DpMsg::Hello(Hello { workers: 1, .. })), "{msgs:?}");
    let kept: Vec<u64> = msgs
        .iter()
        .filter_map(|m| match m {
            DpMsg::Stats(s) => Some(s.ts_ms),
            _ => None,
        })
        .collect();
    assert_eq!(kept, vec![0, 1, 2, 3]);
    assert_eq!(stats.reports_dropped.load(Relaxed), 6);
    link.stop();
    cp.stop();
}

#[test]
fn no_policy_yet_means_none_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let path = sock(&dir);
    let cp = Cp::start(&path, PolicySnapshot::default());
    let link = Link::start(&path, LinkConfig::default()).unwrap();
    wait("hello", || cp.rec.has(|m| matches!(m, DpMsg::Hello(_))));
    wait("welcome", || link.stats().frames_received.load(Relaxed) == 1);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(link.stats().frames_received.load(Relaxed), 1);
    assert!(!cp.rec.has(|m| matches!(m, DpMsg::PolicyAck { .. })));
    cp.publish(snap(1));
    wait("policy 1", || link.policy().load().version == 1);
    link.stop();
    cp.stop();
}

/// A raw peer: connects, writes `bytes`, and reads until the server closes or 5 s pass.
fn raw(path: &Path, bytes: &[u8]) -> Vec<CpMsg> {
    let mut s = std::os::unix::net::UnixStream::connect(path).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(bytes).unwrap();
    let mut r = FrameReader::new();
    let mut buf = [0u8; 4096];
    let mut got = Vec::new();
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => r.push(&buf[..n]),
            Err(e) => panic!("the server did not close the connection: {e}"),
        }
        while let Some(m) = r.next_frame::<CpMsg>().unwrap() {
            got.push(m);
        }
    }
    got
}

#[test]
fn bad_peers_are_closed_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let path = sock(&dir);
    let cp = Cp::start(&path, snap(1));
    let hello = DpMsg::Hello(Hello { version: PROTOCOL_VERSION, ..Hello::default() });

    // Oversized length prefix.
    assert!(raw(&path, &(16u32 << 20 | 1).to_be_bytes()).is_empty());
    // Another frame version.
    assert!(raw(&path, &encode_version(&hello, PROTOCOL_VERSION + 1).unwrap()).is_empty());
    // The right frame version, but a Hello claiming another one.
    let other = DpMsg::Hello(Hello { version: PROTOCOL_VERSION + 1, ..Hello::default() });
    assert!(raw(&path, &encode(&other).unwrap()).is_empty());
    // Not Hello first.
    assert!(raw(&path, &encode(&DpMsg::PolicyAck { version: 1 }).unwrap()).is_empty());
    wait("errors counted", || cp.stats.protocol_errors.load(Relaxed) == 4);
    assert_eq!(cp.rec.msgs(), vec![]);

    // A well-behaved peer after all that: welcome and the policy; then garbage in the middle
    // of a session skips that frame only, and an oversized one ends it.
    let mut bytes = encode(&hello).unwrap();
    bytes.extend_from_slice(&[0, 0, 0, 3]);
    bytes.extend_from_slice(&PROTOCOL_VERSION.to_be_bytes());
    bytes.push(0x7f);
    bytes.extend(encode(&DpMsg::PolicyAck { version: 1 }).unwrap());
    bytes.extend_from_slice(&u32::MAX.to_be_bytes());
    let got = raw(&path, &bytes);
    assert_eq!(got, vec![CpMsg::Welcome { version: PROTOCOL_VERSION }, CpMsg::Policy(snap(1))]);
    wait("ack", || cp.rec.has(|m| *m == DpMsg::PolicyAck { version: 1 }));
    assert_eq!(cp.rec.msgs().len(), 2);
    wait("closed", || cp.stats.active.load(Relaxed) == 0);
    assert_eq!(cp.stats.protocol_errors.load(Relaxed), 6);
    assert_eq!(cp.stats.connections.load(Relaxed), 5);
    cp.stop();
}

#[test]
fn binding_replaces_stale_sockets_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = sock(&dir);
    // A stale socket file left by a dead control plane.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let l = Listener::bind(&path).unwrap();
        // A live one is not stolen.
        let e = Listener::bind(&path).err().unwrap();
        assert!(matches!(e, LinkError::InUse { .. }), "{e}");
        assert!(e.to_string().contains("another vigil-cp"), "{e}");
        drop(l);
        // A regular file is not removed.
        let file = dir.path().join("file");
        std::fs::write(&file, b"keep").unwrap();
        let e = Listener::bind(&file).err().unwrap();
        assert!(matches!(e, LinkError::NotASocket { .. }), "{e}");
        assert_eq!(std::fs::read(&file).unwrap(), b"keep");
        // A missing directory names the path.
        let e = Listener::bind(dir.path().join("no/such/dir.sock")).err().unwrap();
        assert!(e.to_string().contains("no/such/dir.sock"), "{e}");
    });
}
