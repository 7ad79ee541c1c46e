//! The control plane's end of the channel to the dataplanes: a Unix socket server on tokio.
//!
//! The messages and their framing are the dataplane's ([`vigil_dataplane::link`]), so both
//! processes share one definition. [`Listener::bind`] replaces a stale socket file (refusing
//! when a live control plane still answers on it) and makes the socket owner-only (0600);
//! [`Listener::serve`] runs one task per dataplane. A connection must open with `Hello`
//! within [`HELLO_TIMEOUT`]; it is answered with `Welcome` and the current policy snapshot,
//! and every later change of the policy `watch` channel is forwarded to it. Everything the
//! dataplane sends goes to the [`Handler`].
//!
//! Invariants: at most [`MAX_DATAPLANES`] connections at once (more are refused and
//! counted); a frame that breaks the stream (oversized, too short), a wrong version, a first
//! message that is not `Hello` or a write stuck for [`WRITE_TIMEOUT`] closes that one
//! connection only; the snapshot of version 0 (no policy yet) is never sent, so a
//! dataplane's last policy stays in force until the control plane has one (fail-static);
//! on shutdown every connection is closed and the socket file removed.
#![forbid(unsafe_code)]
pub mod convert;
pub mod peers;

pub use vigil_dataplane::link::msg;
use vigil_dataplane::link::msg::{CpMsg, DpMsg, Hello, PolicySnapshot, PROTOCOL_VERSION};
use vigil_dataplane::link::{encode, FrameError, FrameReader};

use std::future::Future;
use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Most dataplanes connected at once.
pub const MAX_DATAPLANES: usize = 64;
/// A dataplane must say `Hello` within this time of connecting.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(5);
/// A write to a dataplane that takes longer closes its connection.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// Read buffer per connection.
const READ_BUF: usize = 64 << 10;

/// What can go wrong with the link socket.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error(
        "link socket {path}: another vigil-cp is listening on it; stop that one or set another `link.socket` path"
    )]
    InUse { path: PathBuf },
    #[error("link socket {path} exists and is not a socket; remove it or set another `link.socket` path")]
    NotASocket { path: PathBuf },
    #[error("link socket {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

/// A connected dataplane.
#[derive(Clone, Debug)]
pub struct Peer {
    /// Connection number since this control plane started (1, 2, ...).
    pub id: u64,
    pub hello: Hello,
}

/// What the control plane does with what dataplanes say. Called on the runtime's threads:
/// methods must return quickly (hand slow work, like store writes, to a channel).
pub trait Handler: Send + Sync + 'static {
    /// A dataplane connected and said hello.
    fn on_hello(&self, _peer: &Peer) {}
    /// Any later message (stats, connections, alerts, captures, policy acks).
    fn on_msg(&self, peer: &Peer, msg: DpMsg);
    /// The connection ended (after `on_hello`).
    fn on_disconnect(&self, _peer: &Peer, _reason: &str) {}
}

/// The server's counters (`cp.link.*`).
#[derive(Debug, Default)]
pub struct ServerStats {
    pub connections: AtomicU64,
    pub active: AtomicU64,
    /// Connections refused for exceeding [`MAX_DATAPLANES`].
    pub refused: AtomicU64,
    pub frames_received: AtomicU64,
    pub frames_sent: AtomicU64,
    /// Frames that did not decode, of another version, or out of order.
    pub protocol_errors: AtomicU64,
}

impl ServerStats {
    pub fn counters(&self) -> [(&'static str, u64); 6] {
        [
            ("cp.link.connections", self.connections.load(Relaxed)),
            ("cp.link.active", self.active.load(Relaxed)),
            ("cp.link.refused", self.refused.load(Relaxed)),
            ("cp.link.frames_received", self.frames_received.load(Relaxed)),
            ("cp.link.frames_sent", self.frames_sent.load(Relaxed)),
            ("cp.link.protocol_errors", self.protocol_errors.load(Relaxed)),
        ]
    }
}

/// A bound link socket.
pub struct Listener {
    inner: UnixListener,
    path: PathBuf,
    stats: Arc<ServerStats>,
}

impl Listener {
    /// Binds the socket at `path` (inside a tokio runtime), replacing a stale socket file.
    pub fn bind(path: impl AsRef<Path>) -> Result<Listener, LinkError> {
        let path = path.as_ref().to_path_buf();
        let io_err = |source| LinkError::Io { path: path.clone(), source };
        match std::fs::symlink_metadata(&path) {
            Ok(md) if md.file_type().is_socket() => {
                if std::os::unix::net::UnixStream::connect(&path).is_ok() {
                    return Err(LinkError::InUse { path });
                }
                std::fs::remove_file(&path).map_err(io_err)?;
            }
            Ok(_) => return Err(LinkError::NotASocket { path }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(e)),
        }
        let inner = UnixListener::bind(&path).map_err(io_err)?;
        // Anyone who can write to the socket can change what the dataplane enforces.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(io_err)?;
        Ok(Listener { inner, path, stats: Arc::new(ServerStats::default()) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn stats(&self) -> Arc<ServerStats> {
        self.stats.clone()
    }

    /// Serves dataplanes until `shutdown` completes, then closes every connection and
    /// removes the socket file.
    pub async fn serve<H: Handler>(
        self,
        handler: Arc<H>,
        policy: watch::Receiver<Arc<PolicySnapshot>>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), LinkError> {
        let mut conns = JoinSet::new();
        let mut next_id = 0u64;
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
                r = self.inner.accept() => match r {
                    Ok((s, _)) => {
                        if conns.len() >= MAX_DATAPLANES {
                            self.stats.refused.fetch_add(1, Relaxed);
                            eprintln!("vigil-cp: link: refusing a dataplane connection: {MAX_DATAPLANES} are connected already");
                            continue;
                        }
                        next_id += 1;
                        self.stats.connections.fetch_add(1, Relaxed);
                        let conn = Conn { id: next_id, stats: self.stats.clone(), reader: FrameReader::new() };
                        conns.spawn(conn.run(s, handler.clone(), policy.clone()));
                    }
                    Err(e) => {
                        // Out of descriptors and the like: do not spin.
                        eprintln!("vigil-cp: link: accept on {}: {e}", self.path.display());
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
            }
        }
        // Stop listening first, so a dataplane reconnecting now is refused rather than
        // queued in the backlog and then reset.
        let Listener { inner, path, .. } = self;
        drop(inner);
        let removed = std::fs::remove_file(&path);
        conns.shutdown().await;
        match removed {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(LinkError::Io { path, source: e }),
            _ => Ok(()),
        }
    }
}

/// Binds `path` and serves until `shutdown`: [`Listener::bind`] then [`Listener::serve`].
pub async fn serve<H: Handler>(
    path: impl AsRef<Path>,
    handler: Arc<H>,
    policy: watch::Receiver<Arc<PolicySnapshot>>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), LinkError> {
    Listener::bind(path)?.serve(handler, policy, shutdown).await
}

/// Why a connection ended.
#[derive(Debug, thiserror::Error)]
enum ConnEnd {
    #[error("the dataplane closed the connection")]
    Closed,
    #[error("no Hello within {HELLO_TIMEOUT:?}")]
    NoHello,
    #[error("first message was not Hello")]
    NotHello,
    #[error("Hello of protocol version {got}, this control plane speaks {PROTOCOL_VERSION}: run vigil-dp and vigil-cp of the same release")]
    Version { got: u16 },
    #[error("write stuck for {WRITE_TIMEOUT:?}: the dataplane does not read")]
    WriteTimeout,
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error("{0}")]
    Io(#[from] io::Error),
}

struct Conn {
    id: u64,
    stats: Arc<ServerStats>,
    reader: FrameReader,
}

impl Conn {
    async fn run<H: Handler>(mut self, mut s: UnixStream, h: Arc<H>, policy: watch::Receiver<Arc<PolicySnapshot>>) {
        self.stats.active.fetch_add(1, Relaxed);
        let mut buf = vec![0u8; READ_BUF];
        let hello = match tokio::time::timeout(HELLO_TIMEOUT, self.first_msg(&mut s, &mut buf)).await {
            Err(_) => Err(ConnEnd::NoHello),
            Ok(Ok(DpMsg::Hello(hello))) if hello.version == PROTOCOL_VERSION => Ok(hello),
            Ok(Ok(DpMsg::Hello(hello))) => Err(ConnEnd::Version { got: hello.version }),
            Ok(Ok(_)) => Err(ConnEnd::NotHello),
            Ok(Err(e)) => Err(e),
        };
        match hello {
            Err(e) => {
                if !matches!(e, ConnEnd::Closed) {
                    if matches!(e, ConnEnd::NoHello | ConnEnd::NotHello | ConnEnd::Version { .. }) {
                        // Bad frames were counted where they were decoded.
                        self.stats.protocol_errors.fetch_add(1, Relaxed);
                    }
                    eprintln!("vigil-cp: link: dataplane connection {}: {e}; closed", self.id);
                }
            }
            Ok(hello) => {
                let peer = Peer { id: self.id, hello };
                h.on_hello(&peer);
                let end = self.converse(&mut s, &mut buf, &*h, &peer, policy).await;
                let reason = end.to_string();
                if !matches!(end, ConnEnd::Closed) {
                    eprintln!("vigil-cp: link: dataplane {} ({}): {reason}; closed", peer.id, peer.hello.dp_version);
                }
                h.on_disconnect(&peer, &reason);
            }
        }
        self.stats.active.fetch_sub(1, Relaxed);
    }

    /// Reads the first message: any bad frame before it ends the connection (a peer of
    /// another version will never say Hello in ours).
    async fn first_msg(&mut self, s: &mut UnixStream, buf: &mut [u8]) -> Result<DpMsg, ConnEnd> {
        loop {
            if let Some(m) = self.decode(true)? {
                return Ok(m);
            }
            let n = s.read(buf).await?;
            if n == 0 {
                return Err(ConnEnd::Closed);
            }
            self.reader.push(buf.get(..n).unwrap_or_default());
        }
    }

    /// The next buffered message. Bad frames are counted; in a session (`strict` false) the
    /// recoverable ones are skipped.
    fn decode(&mut self, strict: bool) -> Result<Option<DpMsg>, ConnEnd> {
        loop {
            match self.reader.next_frame::<DpMsg>() {
                Ok(m) => {
                    if m.is_some() {
                        self.stats.frames_received.fetch_add(1, Relaxed);
                    }
                    return Ok(m);
                }
                Err(e) => {
                    self.stats.protocol_errors.fetch_add(1, Relaxed);
                    if strict || !e.recoverable() {
                        return Err(e.into());
                    }
                    eprintln!("vigil-cp: link: dataplane connection {}: {e}", self.id);
                }
            }
        }
    }

    async fn send(&self, s: &mut UnixStream, msg: &CpMsg) -> Result<(), ConnEnd> {
        let frame = encode(msg)?;
        match tokio::time::timeout(WRITE_TIMEOUT, s.write_all(&frame)).await {
            Err(_) => Err(ConnEnd::WriteTimeout),
            Ok(r) => {
                r?;
                self.stats.frames_sent.fetch_add(1, Relaxed);
                Ok(())
            }
        }
    }

    async fn send_policy(&self, s: &mut UnixStream, p: &Arc<PolicySnapshot>) -> Result<(), ConnEnd> {
        if p.version == 0 {
            return Ok(());
        }
        self.send(s, &CpMsg::Policy(PolicySnapshot::clone(p))).await
    }

    async fn converse<H: Handler>(
        &mut self,
        s: &mut UnixStream,
        buf: &mut [u8],
        h: &H,
        peer: &Peer,
        mut policy: watch::Receiver<Arc<PolicySnapshot>>,
    ) -> ConnEnd {
        let r: Result<std::convert::Infallible, ConnEnd> = async {
            self.send(s, &CpMsg::Welcome { version: PROTOCOL_VERSION }).await?;
            let current = policy.borrow_and_update().clone();
            self.send_policy(s, &current).await?;
            // Messages that arrived with the Hello.
            while let Some(m) = self.decode(false)? {
                h.on_msg(peer, m);
            }
            let mut policy_open = true;
            loop {
                tokio::select! {
                    r = s.read(buf) => {
                        let n = r?;
                        if n == 0 {
                            return Err(ConnEnd::Closed);
                        }
                        self.reader.push(buf.get(..n).unwrap_or_default());
                        while let Some(m) = self.decode(false)? {
                            h.on_msg(peer, m);
                        }
                    }
                    changed = policy.changed(), if policy_open => {
                        if changed.is_err() {
                            // The publisher is gone: the last snapshot stays.
                            policy_open = false;
                            continue;
                        }
                        let p = policy.borrow_and_update().clone();
                        self.send_policy(s, &p).await?;
                    }
                }
            }
        }
        .await;
        match r {
            Ok(never) => match never {},
            Err(e) => e,
        }
    }
}
