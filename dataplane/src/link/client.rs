//! The dataplane's end of the link: one plain thread (no async runtime in the dataplane).
//!
//! The thread connects to the control plane's Unix socket, retrying with a doubling backoff
//! (100 ms to 2 s) while it is away; on every connection it says [`Hello`] first, then loops:
//! it drains the workers' connection queues ([`ReportCollector`]), writes what is queued,
//! and reads [`CpMsg`] frames with a short read timeout. A [`PolicySnapshot`] is handed to
//! the optional callback (to build the workers' structures off the hot path), then swapped
//! whole into the [`ArcSwap`] the workers read, then acknowledged with `PolicyAck`.
//!
//! Invariants: workers never wait on the link (reports go through bounded lock-free
//! queues); the outbound queue holds at most `queue_capacity` messages, connected or not,
//! and every report it cannot take, or that a broken connection lost, is counted in
//! `link.reports_dropped`; the last snapshot stays in force while the control plane is
//! gone (fail-static) and is replaced only by the next snapshot the control plane sends
//! (the control plane is authoritative: a rebuilt one may count versions anew); after a
//! reconnect the dataplane
//! says Hello again and the control plane re-sends its current snapshot (re-sync).
use super::frame::{encode, FrameError, FrameReader};
use super::msg::{CpMsg, DpMsg, Hello, PolicySnapshot, PROTOCOL_VERSION};
use super::reports::ReportCollector;
use arc_swap::ArcSwap;
use crossbeam::queue::ArrayQueue;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Called with each new snapshot before it is published and acknowledged.
pub type PolicyCallback = Box<dyn FnMut(&Arc<PolicySnapshot>) + Send>;

/// Most bytes of queued messages written in one go before the thread reads again.
const WRITE_BATCH: usize = 1 << 20;
/// Read buffer.
const READ_BUF: usize = 64 << 10;

/// How the link behaves.
pub struct LinkConfig {
    /// Outbound messages kept while the control plane is slow or away.
    pub queue_capacity: usize,
    /// Read timeout: how long the thread waits for the control plane before it looks at its
    /// queues again.
    pub poll: Duration,
    /// A write that takes longer means the control plane is stuck: reconnect.
    pub write_timeout: Duration,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// Sent on every connection; `version` is set to [`PROTOCOL_VERSION`].
    pub hello: Hello,
    /// The workers' connection queues.
    pub collector: ReportCollector,
    pub on_policy: Option<PolicyCallback>,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            queue_capacity: 1024,
            poll: Duration::from_millis(20),
            write_timeout: Duration::from_secs(2),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(2),
            hello: Hello {
                version: PROTOCOL_VERSION,
                dp_version: env!("CARGO_PKG_VERSION").to_string(),
                capabilities: Vec::new(),
                workers: 0,
            },
            collector: ReportCollector::default(),
            on_policy: None,
        }
    }
}

/// The link's counters (`link.*`), readable from any thread.
#[derive(Debug, Default)]
pub struct LinkStats {
    pub connects: AtomicU64,
    pub disconnects: AtomicU64,
    pub frames_sent: AtomicU64,
    pub frames_received: AtomicU64,
    /// Reports (connections, alerts, stats, notices) the link could not deliver.
    pub reports_dropped: AtomicU64,
    /// Frames from the control plane that did not decode, or were of another version.
    pub protocol_errors: AtomicU64,
    /// Version of the snapshot in force (0: none received yet).
    pub policy_version: AtomicU64,
    pub connected: AtomicBool,
}

impl LinkStats {
    /// Every counter with its name.
    pub fn counters(&self) -> [(&'static str, u64); 8] {
        [
            ("link.connects", self.connects.load(Relaxed)),
            ("link.disconnects", self.disconnects.load(Relaxed)),
            ("link.frames_sent", self.frames_sent.load(Relaxed)),
            ("link.frames_received", self.frames_received.load(Relaxed)),
            ("link.reports_dropped", self.reports_dropped.load(Relaxed)),
            ("link.protocol_errors", self.protocol_errors.load(Relaxed)),
            ("link.policy_version", self.policy_version.load(Relaxed)),
            ("link.connected", self.connected.load(Relaxed) as u64),
        ]
    }
}

/// Reports a message stands for, for `link.reports_dropped`.
fn weight(m: &DpMsg) -> u64 {
    match m {
        DpMsg::Connections(v) => v.len() as u64,
        DpMsg::Alerts(v) => v.len() as u64,
        _ => 1,
    }
}

/// Where any thread hands messages to the link. Cloning shares the queue.
#[derive(Clone)]
pub struct LinkQueue {
    q: Arc<ArrayQueue<DpMsg>>,
    stats: Arc<LinkStats>,
}

impl LinkQueue {
    /// Queues `msg`; when the queue is full it is dropped, counted, and `false` returned.
    /// Never blocks.
    pub fn send(&self, msg: DpMsg) -> bool {
        match self.q.push(msg) {
            Ok(()) => true,
            Err(m) => {
                self.stats.reports_dropped.fetch_add(weight(&m), Relaxed);
                false
            }
        }
    }

    /// Messages waiting.
    pub fn len(&self) -> usize {
        self.q.len()
    }

    pub fn is_empty(&self) -> bool {
        self.q.is_empty()
    }
}

/// The running link thread and its handles.
pub struct Link {
    queue: LinkQueue,
    policy: Arc<ArcSwap<PolicySnapshot>>,
    stats: Arc<LinkStats>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Why a connection ended.
#[derive(Debug, thiserror::Error)]
enum SessionEnd {
    #[error("the control plane closed the connection")]
    Closed,
    #[error("link socket: {0}")]
    Io(#[from] io::Error),
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error("stopping")]
    Stop,
}

impl Link {
    /// Starts the link thread towards the control plane's socket at `path`. It returns at
    /// once; the thread connects (and reconnects) on its own.
    pub fn start(path: impl AsRef<Path>, cfg: LinkConfig) -> io::Result<Link> {
        let stats = Arc::new(LinkStats::default());
        let queue = LinkQueue { q: Arc::new(ArrayQueue::new(cfg.queue_capacity.max(1))), stats: stats.clone() };
        let policy = Arc::new(ArcSwap::from_pointee(PolicySnapshot::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let mut t = Thread {
            path: path.as_ref().to_path_buf(),
            queue: queue.clone(),
            policy: policy.clone(),
            stats: stats.clone(),
            stop: stop.clone(),
            cfg,
        };
        t.cfg.hello.version = PROTOCOL_VERSION;
        let thread = std::thread::Builder::new().name("vigil-link".into()).spawn(move || t.run())?;
        Ok(Link { queue, policy, stats, stop, thread: Some(thread) })
    }

    /// Where to send reports.
    pub fn queue(&self) -> LinkQueue {
        self.queue.clone()
    }

    /// The snapshot in force; workers `load()` it (cheap, lock-free).
    pub fn policy(&self) -> Arc<ArcSwap<PolicySnapshot>> {
        self.policy.clone()
    }

    pub fn stats(&self) -> Arc<LinkStats> {
        self.stats.clone()
    }

    /// Stops the thread (within about one poll interval) and waits for it.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.halt();
    }
}

struct Thread {
    path: PathBuf,
    queue: LinkQueue,
    policy: Arc<ArcSwap<PolicySnapshot>>,
    stats: Arc<LinkStats>,
    stop: Arc<AtomicBool>,
    cfg: LinkConfig,
}

impl Thread {
    fn run(&mut self) {
        let mut backoff = self.cfg.backoff_min;
        let mut was_connected = false;
        while !self.stop.load(Relaxed) {
            self.collect();
            match UnixStream::connect(&self.path) {
                Ok(s) => {
                    backoff = self.cfg.backoff_min;
                    self.stats.connects.fetch_add(1, Relaxed);
                    self.stats.connected.store(true, Relaxed);
                    let end = self.session(s);
                    self.stats.connected.store(false, Relaxed);
                    self.stats.disconnects.fetch_add(1, Relaxed);
                    match end {
                        SessionEnd::Stop => return,
                        e => eprintln!(
                            "vigil-dp: link to the control plane at {}: {e}; reconnecting (policy {} stays in force)",
                            self.path.display(),
                            self.stats.policy_version.load(Relaxed)
                        ),
                    }
                    was_connected = true;
                }
                Err(e) => {
                    if was_connected {
                        was_connected = false;
                        eprintln!(
                            "vigil-dp: control plane at {} unreachable ({e}); retrying every {:?} at most",
                            self.path.display(),
                            self.cfg.backoff_max
                        );
                    }
                    self.pause(backoff);
                    backoff = (backoff * 2).min(self.cfg.backoff_max);
                }
            }
        }
    }

    /// Waits `d`, still draining the workers' queues and watching for stop.
    fn pause(&mut self, d: Duration) {
        let until = Instant::now() + d;
        let step = self.cfg.poll.max(Duration::from_millis(1));
        while !self.stop.load(Relaxed) {
            let now = Instant::now();
            if now >= until {
                return;
            }
            std::thread::sleep(step.min(until - now));
            self.collect();
        }
    }

    /// Moves the workers' connection reports into the outbound queue (counted drops when
    /// it is full).
    fn collect(&mut self) {
        let q = &self.queue;
        self.cfg.collector.drain(|m| {
            q.send(m);
        });
    }

    fn write(&self, s: &mut UnixStream, msg: &DpMsg) -> Result<(), SessionEnd> {
        s.write_all(&encode(msg)?)?;
        self.stats.frames_sent.fetch_add(1, Relaxed);
        Ok(())
    }

    fn session(&mut self, mut s: UnixStream) -> SessionEnd {
        match self.converse(&mut s) {
            Ok(never) => match never {},
            Err(e) => e,
        }
    }

    fn converse(&mut self, s: &mut UnixStream) -> Result<std::convert::Infallible, SessionEnd> {
        s.set_read_timeout(Some(self.cfg.poll.max(Duration::from_millis(1))))?;
        s.set_write_timeout(Some(self.cfg.write_timeout))?;
        self.write(s, &DpMsg::Hello(self.cfg.hello.clone()))?;
        let mut reader = FrameReader::new();
        let mut buf = vec![0u8; READ_BUF];
        let mut out = Vec::new();
        loop {
            if self.stop.load(Relaxed) {
                return Err(SessionEnd::Stop);
            }
            self.collect();
            // Queued messages, coalesced into one write.
            out.clear();
            let (mut frames, mut carried) = (0u64, 0u64);
            while out.len() < WRITE_BATCH {
                let Some(m) = self.queue.q.pop() else { break };
                match encode(&m) {
                    Ok(f) => {
                        out.extend_from_slice(&f);
                        frames += 1;
                        carried += weight(&m);
                    }
                    Err(_) => {
                        self.stats.reports_dropped.fetch_add(weight(&m), Relaxed);
                    }
                }
            }
            if !out.is_empty() {
                if let Err(e) = s.write_all(&out) {
                    self.stats.reports_dropped.fetch_add(carried, Relaxed);
                    return Err(e.into());
                }
                self.stats.frames_sent.fetch_add(frames, Relaxed);
            }
            match s.read(&mut buf) {
                Ok(0) => return Err(SessionEnd::Closed),
                Ok(n) => reader.push(buf.get(..n).unwrap_or_default()),
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => continue,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
            loop {
                match reader.next_frame::<CpMsg>() {
                    Ok(Some(m)) => {
                        self.stats.frames_received.fetch_add(1, Relaxed);
                        self.handle(s, m)?;
                    }
                    Ok(None) => break,
                    Err(e) if e.recoverable() => {
                        self.stats.protocol_errors.fetch_add(1, Relaxed);
                        eprintln!("vigil-dp: link: {e}; frame skipped");
                    }
                    Err(e) => {
                        self.stats.protocol_errors.fetch_add(1, Relaxed);
                        return Err(e.into());
                    }
                }
            }
        }
    }

    fn handle(&mut self, s: &mut UnixStream, m: CpMsg) -> Result<(), SessionEnd> {
        match m {
            // The frame's version was checked already; nothing else to agree on yet.
            CpMsg::Welcome { .. } => Ok(()),
            CpMsg::Policy(p) => {
                let version = p.version;
                let p = Arc::new(p);
                if let Some(cb) = &mut self.cfg.on_policy {
                    cb(&p);
                }
                self.policy.store(p);
                self.stats.policy_version.store(version, Relaxed);
                self.write(s, &DpMsg::PolicyAck { version })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::msg::StatsReport;
    use std::os::unix::net::UnixListener;

    fn sock(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("vigil-link-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("cp.sock")
    }

    fn wait(what: &str, f: impl Fn() -> bool) {
        let t = Instant::now();
        while !f() {
            assert!(t.elapsed() < Duration::from_secs(10), "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn without_a_control_plane_reports_queue_up_to_the_bound_then_count_as_dropped() {
        let path = sock("away");
        let link = Link::start(&path, LinkConfig { queue_capacity: 3, ..LinkConfig::default() }).unwrap();
        let q = link.queue();
        for i in 0..5 {
            let sent = q.send(DpMsg::Stats(StatsReport { ts_ms: i, ..StatsReport::default() }));
            assert_eq!(sent, i < 3);
        }
        assert!(!q.send(DpMsg::Connections(vec![
            crate::link::reports::ConnRecord {
                key: crate::link::reports::ConnKey {
                    client: "10.0.0.1".parse().unwrap(),
                    server: "10.0.0.2".parse().unwrap(),
                    server_port: 80,
                    proto: 6,
                    app: crate::app::AppProto::Http,
                },
                first_ms: 0,
                last_ms: 0,
                count: 1,
                bytes: 0,
            }
            .report();
            4
        ])));
        let stats = link.stats();
        assert_eq!(stats.reports_dropped.load(Relaxed), 2 + 4);
        assert_eq!(stats.connects.load(Relaxed), 0);
        assert_eq!(link.policy().load().version, 0);
        link.stop();
    }

    #[test]
    fn the_thread_retries_with_backoff_then_says_hello_first() {
        let path = sock("late");
        let link = Link::start(
            &path,
            LinkConfig {
                hello: Hello { workers: 3, capabilities: vec!["capture".into()], ..Hello::default() },
                ..LinkConfig::default()
            },
        )
        .unwrap();
        // Not there for a while: the thread keeps trying without connecting.
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(link.stats().connects.load(Relaxed), 0);
        let l = UnixListener::bind(&path).unwrap();
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut r = FrameReader::new();
        let mut buf = [0u8; 256];
        let hello = loop {
            if let Some(m) = r.next_frame::<DpMsg>().unwrap() {
                break m;
            }
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0);
            r.push(&buf[..n]);
        };
        let DpMsg::Hello(h) = hello else { panic!("first message {hello:?}") };
        assert_eq!((h.version, h.workers, h.capabilities), (PROTOCOL_VERSION, 3, vec!["capture".to_string()]));
        wait("connected", || link.stats().connected.load(Relaxed));
        drop(s);
        wait("disconnect counted", || link.stats().disconnects.load(Relaxed) == 1);
        link.stop();
    }
}
