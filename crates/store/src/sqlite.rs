//! The SQLite backend: one file in WAL mode, one writer connection (SQLite serialises
//! writers anyway; one connection makes that explicit and avoids busy errors) and a pool of
//! read-only connections.

use std::path::Path;
use std::str::FromStr as _;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Pool, Sqlite};

use crate::StoreError;
use crate::keys::KeyFiles;
use crate::migrate::{Migration, SQLITE};

type Db = Sqlite;

const BACKEND: &str = "sqlite";
const MIGRATIONS: &[Migration] = SQLITE;

/// Statements whose SQLite form differs from PostgreSQL's.
mod dialect {
    /// Writers take the write lock up front so a read-then-write transaction never fails
    /// to upgrade.
    pub const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";
    /// No row locks in SQLite: the single writer already excludes others.
    pub const LOCK_SUFFIX: &str = "";
    pub const SKIP_LOCKED: &str = "";
    /// Workers on SQLite poll; there is no one to notify.
    pub const NOTIFY_JOB: Option<&str> = None;
    /// SQLite in WAL mode with `synchronous = NORMAL` already commits without waiting for disk.
    pub const RELAXED_COMMIT: Option<&str> = None;
}

#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: Pool<Db>,
    reader: Pool<Db>,
    keys: std::sync::Arc<crate::keys::StoreKeys>,
}

impl SqliteStore {
    /// Open (creating if needed) the database file, apply pending migrations and load (or
    /// create) the key files.
    pub async fn open(path: &Path, max_readers: u32, keys: &KeyFiles) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Config(format!("creating {}: {e}", dir.display())))?;
        }
        let opts = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // A 64 MiB page cache per connection: fleet-sized tables stay in memory.
            .pragma("cache_size", "-65536")
            .pragma("temp_store", "memory");
        let writer = SqlitePoolOptions::new().max_connections(1).connect_with(opts.clone()).await?;
        run_migrations(&writer).await?;
        let keys = std::sync::Arc::new(open_keys(&writer, keys).await?);
        let reader = SqlitePoolOptions::new()
            .max_connections(max_readers.max(1))
            .connect_with(opts.read_only(true))
            .await?;
        Ok(SqliteStore { writer, reader, keys })
    }

    /// One process owns a SQLite database; its workers are woken in-process.
    async fn listen_jobs(&self, _wake: &tokio::sync::Notify) -> Result<(), StoreError> {
        Ok(())
    }

    fn w(&self) -> &Pool<Db> {
        &self.writer
    }

    fn r(&self) -> &Pool<Db> {
        &self.reader
    }
}

type Backend = SqliteStore;

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
