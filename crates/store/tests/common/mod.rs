//! Both backends for the store's tests: SQLite in a temporary directory and a throwaway
//! PostgreSQL server (set OPENWATCH_SKIP_PG_TESTS=1 to run SQLite only), each with its own
//! key files, and direct SQL access to play someone who can write the database.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::sync::Arc;

use openwatch_store::secrets::SecretKey;
use openwatch_store::*;
use sqlx::{AssertSqlSafe, Row as _};

pub struct Backend {
    pub store: Arc<dyn Store>,
    /// The store's credential key, for sealing secrets in transit.
    pub key: SecretKey,
    pub url: String,
    pub keys: KeyFiles,
    pub dir: tempfile::TempDir,
}

impl Backend {
    /// Open `url` with key files in `dir`; `url` may name a file in `dir` (SQLite).
    async fn open(url: String, connections: u32, dir: tempfile::TempDir) -> Backend {
        let keys = KeyFiles::in_dir(dir.path());
        let (store, key) = open(&url, connections, &keys).await.unwrap();
        Backend { store, key, url, keys, dir }
    }

    /// Open the same database and key files again, as a restarted process would.
    pub async fn reopen(&mut self) -> Result<()> {
        let (store, key) = open(&self.url, 2, &self.keys).await?;
        (self.store, self.key) = (store, key);
        Ok(())
    }

    pub async fn raw(&self) -> Raw {
        if self.url.starts_with("sqlite:") {
            Raw::Sqlite(sqlx::SqlitePool::connect(&self.url).await.unwrap())
        } else {
            Raw::Pg(sqlx::PgPool::connect(&self.url).await.unwrap())
        }
    }
}

pub async fn backends() -> Vec<Backend> {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("ow.db").display());
    let mut out = vec![Backend::open(url, 4, dir).await];
    if std::env::var_os("OPENWATCH_SKIP_PG_TESTS").is_none() {
        let pg = openwatch_testsupport::TestPostgres::shared().expect("PostgreSQL for tests");
        let url = pg.fresh_database().unwrap();
        out.push(Backend::open(url, 8, tempfile::tempdir().unwrap()).await);
    }
    out
}

/// Direct access to a backend's database, behind the store's back.
pub enum Raw {
    Sqlite(sqlx::SqlitePool),
    Pg(sqlx::PgPool),
}

impl Raw {
    /// Run statements whose values are literals.
    pub async fn exec(&self, sql: &str) {
        match self {
            Raw::Sqlite(p) => sqlx::raw_sql(AssertSqlSafe(sql.to_owned())).execute(p).await.map(|_| ()),
            Raw::Pg(p) => sqlx::raw_sql(AssertSqlSafe(sql.to_owned())).execute(p).await.map(|_| ()),
        }
        .unwrap()
    }

    /// The first column of every row, as text.
    pub async fn strings(&self, sql: &str) -> Vec<String> {
        let q = AssertSqlSafe(sql.to_owned());
        match self {
            Raw::Sqlite(p) => sqlx::query(q).fetch_all(p).await.unwrap().iter().map(|r| r.get(0)).collect(),
            Raw::Pg(p) => sqlx::query(q).fetch_all(p).await.unwrap().iter().map(|r| r.get(0)).collect(),
        }
    }

    /// A byte string as an SQL literal of this backend.
    pub fn bytes(&self, b: &[u8]) -> String {
        let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
        match self {
            Raw::Sqlite(_) => format!("X'{hex}'"),
            Raw::Pg(_) => format!("'\\x{hex}'::bytea"),
        }
    }

    /// A BLOB/BYTEA column of one row.
    pub async fn blob(&self, sql: &str) -> Vec<u8> {
        let q = AssertSqlSafe(sql.to_owned());
        match self {
            Raw::Sqlite(p) => sqlx::query(q).fetch_one(p).await.unwrap().get(0),
            Raw::Pg(p) => sqlx::query(q).fetch_one(p).await.unwrap().get(0),
        }
    }
}
