//! Starting a server or worker process: configuration, first-start bootstrap (admin user,
//! this machine as host `localhost` and its first scan), the HTTP listener (optionally TLS),
//! workers, the scheduler, and a graceful shutdown that loses no job.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use openwatch_store::secrets::SecretKey;
use openwatch_store::{HostInput, KeyFiles, NewUser, Store};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use crate::app::{AppState, Inner, Library, now_ms};
use crate::auth::limiter::LoginLimiter;
use crate::auth::secret::{hash_password, random_token};
use crate::config::Config;
use crate::metrics::Metrics;

/// Which parts of the server a process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// API, web UI, workers and scheduler.
    Serve,
    /// Workers and scheduler only (scale-out).
    Worker,
}

/// How long workers may take to finish their job after a shutdown signal before the process
/// exits anyway (the job's lease then expires and another worker retries it).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Open the database (migrating it) with its credential and audit key files (created at
/// first start; an interrupted key rotation is finished), and return the key credential
/// secrets are sealed with on their way to and from the store.
pub async fn open(cfg: &Config) -> Result<(Arc<dyn Store>, SecretKey)> {
    private_dir(&cfg.data_dir)?;
    let keys = KeyFiles { credential: cfg.credential_key_path(), audit: cfg.audit_key_path() };
    let opened = openwatch_store::open(&cfg.database_url(), cfg.database_connections, &keys)
        .await
        .with_context(|| format!("opening the database {}", redact_url(&cfg.database_url())))?;
    if let Some(path) = cfg.database_url().strip_prefix("sqlite:") {
        private_files(std::path::Path::new(path))?;
    }
    Ok(opened)
}

/// The data directory holds the database and the keys: created readable by its owner only.
/// An existing one is left as it is (its owner chose), but a warning says when others can
/// read it.
fn private_dir(dir: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating {}", dir.display()))?;
    }
    let mode =
        std::fs::metadata(dir).with_context(|| format!("reading {}", dir.display()))?.permissions().mode();
    if mode & 0o077 != 0 {
        tracing::warn!(dir = %dir.display(), mode = format!("{:o}", mode & 0o777), "the data directory is readable by others; chmod 700 it");
    }
    Ok(())
}

/// The SQLite database and its journal files hold every result and sealed secret: owner
/// only, whatever the umask.
fn private_files(db: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    for suffix in ["", "-wal", "-shm"] {
        let path = std::path::PathBuf::from(format!("{}{suffix}", db.display()));
        if path.exists() {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .with_context(|| format!("restricting {}", path.display()))?;
        }
    }
    Ok(())
}

/// A database URL without its password, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..s + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// First start: an `admin` user and, when configured, this machine as host `localhost` with
/// its first scan queued. Returns the generated admin password when one was made.
pub async fn bootstrap(state: &AppState) -> Result<Option<String>> {
    let store = state.store();
    if store.count_users().await? > 0 {
        return Ok(None);
    }
    let (password, generated) = match std::env::var("OPENWATCH_ADMIN_PASSWORD") {
        Ok(p) if !p.is_empty() => (p, false),
        _ => (random_token("")[..20].to_owned(), true),
    };
    let pw = password.clone();
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&pw)).await??;
    store
        .create_user(&NewUser { username: "admin".into(), password_hash, role: "admin".into() }, now_ms())
        .await?;
    if state.config.register_localhost && store.host_by_name("localhost").await?.is_none() {
        let host = store
            .create_host(
                &HostInput {
                    name: "localhost".into(),
                    address: "local".into(),
                    port: 22,
                    username: "root".into(),
                    transport: openwatch_store::Transport::Local,
                    credential_id: None,
                    sudo: false,
                    tags: vec![],
                    groups: vec![],
                    maintenance: false,
                    host_key_policy: openwatch_store::HostKeyPolicy::Approve,
                },
                now_ms(),
            )
            .await?;
        let who = crate::service::scans::Initiator::system("first_start");
        crate::service::scans::scan_host(state, &who, host.id).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(generated.then_some(password))
}

fn instance_name(role: Role) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let tag = match role {
        Role::Serve => "serve",
        Role::Worker => "worker",
    };
    format!("{}-{tag}-{}-{}", host.trim(), std::process::id(), &random_token("")[..6])
}

/// Build the shared state for a process.
pub async fn state(
    cfg: Config,
    library: Arc<Library>,
    role: Role,
) -> Result<(AppState, watch::Sender<bool>)> {
    let (store, key) = open(&cfg).await?;
    let instance = instance_name(role);
    let liveness = crate::instances::register(&cfg.data_dir, &instance)
        .with_context(|| format!("taking this process's lock in {}", cfg.data_dir.display()))?;
    let (tx, rx) = watch::channel(false);
    let state = AppState::new(Inner {
        store,
        limiter: LoginLimiter::new(cfg.login_max_failures),
        factor_limiter: LoginLimiter::new(crate::auth::second_factor::MAX_FAILURES),
        oidc: crate::auth::oidc::Providers::new().map_err(anyhow::Error::msg)?,
        config: cfg,
        library,
        key,
        metrics: Metrics::default(),
        jobs_queued: Notify::new(),
        events_stored: Notify::new(),
        shutdown: rx,
        instance,
        liveness,
        streams: Default::default(),
    });
    Ok((state, tx))
}

async fn signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}

/// Run a process until SIGINT/SIGTERM; `ready` is told the bound address (tests use it).
pub async fn run(cfg: Config, library: Arc<Library>, role: Role) -> Result<()> {
    let (state, stop) = state(cfg, library, role).await?;
    if role == Role::Serve
        && let Some(pw) = bootstrap(&state).await?
    {
        // Printed once, never logged.
        println!(
            "Created user `admin` with password: {pw}\n(set OPENWATCH_ADMIN_PASSWORD to choose it; change it after signing in)"
        );
    }
    let mut tasks = JoinSet::new();
    crate::worker::spawn(&state, state.config.worker_concurrency, &mut tasks);
    crate::worker::spawn_listener(&state, &mut tasks);
    crate::worker::scheduler::spawn(&state, &mut tasks);
    let http = match role {
        Role::Serve => Some(tokio::spawn(serve_http(state.clone()))),
        Role::Worker => None,
    };
    tracing::info!(
        instance = state.instance,
        backend = state.store().backend(),
        workers = state.config.worker_concurrency,
        "started"
    );
    signal().await;
    tracing::info!("shutting down: no new jobs; finishing the jobs in hand");
    let _ = stop.send(true);
    state.jobs_queued.notify_waiters();
    state.events_stored.notify_waiters();
    if let Some(h) = http {
        h.await.context("HTTP server task")??;
    }
    let drained =
        tokio::time::timeout(SHUTDOWN_GRACE, async { while tasks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(
            "workers did not finish in time; their jobs' leases expire and another worker retries them"
        );
    }
    tracing::info!("stopped");
    Ok(())
}

async fn serve_http(state: AppState) -> Result<()> {
    let app = crate::api::app(state.clone()).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let addr = state.config.listen;
    let mut shutdown = state.shutdown.clone();
    match (&state.config.tls_cert, &state.config.tls_key) {
        (Some(cert), Some(key)) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let tls =
                axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key).await.with_context(|| {
                    format!("loading TLS certificate {} and key {}", cert.display(), key.display())
                })?;
            let handle = axum_server::Handle::new();
            let h = handle.clone();
            tokio::spawn(async move {
                let _ = shutdown.changed().await;
                h.graceful_shutdown(Some(Duration::from_secs(10)));
            });
            let listener =
                std::net::TcpListener::bind(addr).with_context(|| format!("listening on {addr}"))?;
            listener.set_nonblocking(true)?;
            println!("OpenWatch listening on https://{}", listener.local_addr()?);
            axum_server::from_tcp_rustls(listener, tls)?
                .handle(handle)
                .serve(app)
                .await
                .context("HTTPS server")?;
        }
        _ => {
            let listener =
                tokio::net::TcpListener::bind(addr).await.with_context(|| format!("listening on {addr}"))?;
            println!("OpenWatch listening on http://{}", listener.local_addr()?);
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = shutdown.changed().await;
                })
                .await
                .context("HTTP server")?;
        }
    }
    Ok(())
}
