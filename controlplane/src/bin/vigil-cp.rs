//! `vigil-cp`: the control plane service (REST API, store, learning, the dataplane link).
use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::sync::Arc;
use vigil_controlplane::api::{self, token_hash, AppState};
use vigil_controlplane::config::CpConfig;
use vigil_controlplane::ingest::Ingest;
use vigil_controlplane::link::peers::Peers;
use vigil_controlplane::link::{Handler, Listener, Peer};
use vigil_controlplane::model::{Role, Token};
use vigil_controlplane::store::{Store, StoreConfig};
use vigil_dataplane::link::msg::DpMsg;

#[derive(Parser)]
#[command(name = "vigil-cp", about = "Vigil's control plane: learning, policy, alerts, REST API")]
struct Cli {
    /// vigil.toml (its [controlplane] section); defaults apply without it.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Overrides [controlplane] data_dir.
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Overrides [controlplane] listen.
    #[arg(long, global = true)]
    listen: Option<std::net::SocketAddr>,
    /// Overrides [controlplane] socket (the dataplane link).
    #[arg(long, global = true)]
    socket: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the service (the default).
    Serve,
    /// Manage API tokens (stored hashed; the secret is shown once).
    Token {
        #[command(subcommand)]
        cmd: TokenCmd,
    },
}

#[derive(Subcommand)]
enum TokenCmd {
    /// Create a token and print its secret.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, value_enum)]
        role: RoleArg,
    },
    /// List token names and roles.
    List,
    /// Delete a token.
    Delete {
        #[arg(long)]
        name: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum RoleArg {
    Admin,
    Reader,
}

fn config(cli: &Cli) -> Result<CpConfig> {
    let mut cfg = match &cli.config {
        Some(p) => CpConfig::load(p)?,
        None => CpConfig::default(),
    };
    if let Some(d) = &cli.data_dir {
        cfg.data_dir = d.clone();
    }
    if let Some(l) = cli.listen {
        cfg.listen = l;
    }
    if let Some(s) = &cli.socket {
        cfg.socket = s.clone();
    }
    Ok(cfg)
}

fn open(cfg: &CpConfig) -> Result<Arc<Store>> {
    std::fs::create_dir_all(&cfg.data_dir).with_context(|| {
        format!("cannot create data_dir {}: set [controlplane] data_dir or --data-dir", cfg.data_dir.display())
    })?;
    let sc = StoreConfig {
        alert_max_age_ms: cfg.alert_max_age_days.saturating_mul(86_400_000),
        alert_max_count: cfg.alert_max_count,
    };
    let store = Store::open(&cfg.data_dir, &sc)?;
    store.ensure_builtin_groups()?;
    Ok(Arc::new(store))
}

fn secret() -> Result<String> {
    use std::io::Read;
    let mut b = [0u8; 24];
    std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b)).context("reading /dev/urandom")?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

fn token_cmd(cfg: &CpConfig, cmd: &TokenCmd) -> Result<()> {
    let store = open(cfg)?;
    match cmd {
        TokenCmd::Create { name, role } => {
            vigil_controlplane::model::validate_name("--name", name)?;
            if store.get_token(name)?.is_some() {
                bail!("a token named {name:?} exists: delete it first (vigil-cp token delete --name {name})");
            }
            let s = secret()?;
            let role = match role {
                RoleArg::Admin => Role::Admin,
                RoleArg::Reader => Role::Reader,
            };
            store.put_token(&Token { name: name.clone(), role, sha256: token_hash(&s) })?;
            println!("{s}");
        }
        TokenCmd::List => {
            for t in store.list_tokens()? {
                println!("{}\t{:?}", t.name, t.role);
            }
        }
        TokenCmd::Delete { name } => {
            if store.get_token(name)?.is_none() {
                bail!("no token named {name:?}");
            }
            store.delete_token(name)?;
        }
    }
    Ok(())
}

async fn shutdown() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// Dataplane messages waiting for the ingestion task.
const INGEST_QUEUE: usize = 1024;

/// The link's handler: hands messages to the ingestion task without blocking the link.
struct ToIngest {
    tx: tokio::sync::mpsc::Sender<DpMsg>,
    dropped: std::sync::atomic::AtomicU64,
    peers: Arc<Peers>,
}

impl Handler for ToIngest {
    fn on_hello(&self, peer: &Peer) {
        eprintln!("vigil-cp: dataplane {} connected ({} workers)", peer.hello.dp_version, peer.hello.workers);
        self.peers.hello(peer.id, &peer.hello);
    }
    fn on_msg(&self, peer: &Peer, msg: DpMsg) {
        if let DpMsg::Stats(s) = &msg {
            self.peers.stats(peer.id, s);
            return;
        }
        if self.tx.try_send(msg).is_err() {
            self.dropped.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
    fn on_disconnect(&self, peer: &Peer, _reason: &str) {
        self.peers.disconnected(peer.id);
    }
}

async fn ingest_loop(ingest: Arc<Ingest>, mut rx: tokio::sync::mpsc::Receiver<DpMsg>) {
    while let Some(msg) = rx.recv().await {
        let i = ingest.clone();
        let r = tokio::task::spawn_blocking(move || match msg {
            DpMsg::Connections(c) => i.connections(&c),
            DpMsg::Alerts(a) => i.alerts(&a),
            _ => Ok(()),
        })
        .await;
        match r {
            Ok(Err(e)) => eprintln!("vigil-cp: ingesting dataplane reports: {e}"),
            Err(e) => eprintln!("vigil-cp: ingesting dataplane reports: {e}"),
            Ok(Ok(())) => {}
        }
    }
}

async fn serve(cfg: CpConfig) -> Result<()> {
    let store = open(&cfg)?;
    if store.list_tokens()?.is_empty() {
        eprintln!("vigil-cp: no API tokens yet: create one with `vigil-cp token create --name admin --role admin`");
    }
    let (alerts, _) = tokio::sync::broadcast::channel(1024);
    let ingest = Ingest::new(store.clone(), cfg.nodes.clone(), alerts.clone())?;
    let rebuild = ingest.clone();
    let on_change = Arc::new(move || {
        if let Err(e) = rebuild.rebuild() {
            eprintln!("vigil-cp: rebuilding the policy: {e}");
        }
    });
    let peers = Arc::new(Peers::default());
    let state = AppState { store: store.clone(), alerts, on_change, dataplanes: peers.clone() };
    // The dataplane link.
    if let Some(dir) = cfg.socket.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the socket's directory {}", dir.display()))?;
    }
    let listener = Listener::bind(&cfg.socket).context("[controlplane] socket")?;
    let (tx, rx) = tokio::sync::mpsc::channel(INGEST_QUEUE);
    tokio::spawn(ingest_loop(ingest.clone(), rx));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let handler = Arc::new(ToIngest { tx, dropped: Default::default(), peers });
    let snapshots = ingest.snapshots();
    let link = tokio::spawn(async move {
        let mut stop = stop_rx;
        let r = listener.serve(handler, snapshots, async move {
            let _ = stop.wait_for(|v| *v).await;
        });
        if let Err(e) = r.await {
            eprintln!("vigil-cp: link: {e}");
        }
    });
    eprintln!("vigil-cp: dataplane link on {}", cfg.socket.display());
    // Retention: by age and count, once a minute.
    let r = store.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            let r = r.clone();
            let _ = tokio::task::spawn_blocking(move || r.enforce_retention(vigil_controlplane::now_ms())).await;
        }
    });
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("cannot listen on {}: set [controlplane] listen or --listen", cfg.listen))?;
    eprintln!("vigil-cp: REST API on http://{}", cfg.listen);
    axum::serve(listener, api::app(state))
        .with_graceful_shutdown(async move {
            shutdown().await;
            let _ = stop_tx.send(true);
        })
        .await
        .context("serving the REST API")?;
    let _ = link.await;
    Ok(())
}

fn main() {
    let cli = Cli::parse();
    let run = || -> Result<()> {
        let cfg = config(&cli)?;
        match &cli.cmd {
            Some(Cmd::Token { cmd }) => token_cmd(&cfg, cmd),
            Some(Cmd::Serve) | None => {
                let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
                rt.block_on(serve(cfg))
            }
        }
    };
    if let Err(e) = run() {
        eprintln!("vigil-cp: {e:#}");
        std::process::exit(1);
    }
}
