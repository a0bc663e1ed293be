//! The PostgreSQL backend, for fleets that run several `serve` and `worker` processes: jobs
//! are claimed with `FOR UPDATE SKIP LOCKED` and workers are woken by LISTEN/NOTIFY.

use std::time::Duration;

use sqlx::postgres::{PgListener, PgPoolOptions};
use sqlx::{Pool, Postgres};

use crate::StoreError;
use crate::keys::KeyFiles;
use crate::migrate::{Migration, POSTGRES};

type Db = Postgres;

const BACKEND: &str = "postgres";
const MIGRATIONS: &[Migration] = POSTGRES;

/// The channel `NOTIFY` wakes workers on when a job is queued.
pub const JOBS_CHANNEL: &str = "openwatch_jobs";

/// Statements whose PostgreSQL form differs from SQLite's.
mod dialect {
    pub const BEGIN_WRITE: &str = "BEGIN";
    pub const LOCK_SUFFIX: &str = " FOR UPDATE";
    pub const SKIP_LOCKED: &str = " FOR UPDATE SKIP LOCKED";
    pub const NOTIFY_JOB: Option<&str> = Some("SELECT pg_notify('openwatch_jobs', '')");
    /// A scan's ingest commits without waiting for the WAL flush. A crash can lose only the
    /// newest ingests, each whole with its job's completion, so their jobs are simply run
    /// again; nothing is corrupted or half-written.
    pub const RELAXED_COMMIT: Option<&str> = Some("SET LOCAL synchronous_commit = off");
}

#[derive(Debug, Clone)]
pub struct PgStore {
    pool: Pool<Db>,
    keys: std::sync::Arc<crate::keys::StoreKeys>,
}

impl PgStore {
    /// Connect, apply pending migrations and load (or create) the key files.
    pub async fn connect(url: &str, max_connections: u32, keys: &KeyFiles) -> Result<PgStore, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(2))
            .acquire_timeout(Duration::from_secs(30))
            .connect(url)
            .await?;
        run_migrations(&pool).await?;
        let keys = std::sync::Arc::new(open_keys(&pool, keys).await?);
        Ok(PgStore { pool, keys })
    }

    /// Wake `wake` on every job notification until the connection fails.
    async fn listen_jobs(&self, wake: &tokio::sync::Notify) -> Result<(), StoreError> {
        let mut l = PgListener::connect_with(&self.pool).await?;
        l.listen(JOBS_CHANNEL).await?;
        loop {
            l.recv().await?;
            wake.notify_waiters();
        }
    }

    fn w(&self) -> &Pool<Db> {
        &self.pool
    }

    fn r(&self) -> &Pool<Db> {
        &self.pool
    }
}

type Backend = PgStore;

include!("sql/common.rs");
include!("sql/users.rs");
include!("sql/credentials.rs");
include!("sql/hosts.rs");
include!("sql/scans.rs");
include!("sql/ingest.rs");
include!("sql/state.rs");
include!("sql/fleet.rs");
include!("sql/jobs.rs");
include!("sql/schedules.rs");
include!("sql/audit.rs");
include!("sql/events.rs");
include!("sql/keys.rs");
include!("sql/tailorings.rs");
include!("sql/remediations.rs");
include!("sql/channels.rs");
include!("sql/exceptions.rs");
include!("sql/reports.rs");
include!("sql/foreign.rs");
include!("sql/alerts.rs");
include!("sql/factors.rs");
