// The shared part of the SQL behind both backends. `sqlite.rs` and `postgres.rs` each define
// `Db`, `BACKEND`, `MIGRATIONS`, a `dialect` module and `w()`/`r()` (the writer and reader
// pools), then `include!` this file and one file per feature, all into one module (so only
// this file imports). Statements use `$N` placeholders, which both drivers accept, and only
// types both map alike (i64, f64, text, bytes): no booleans or timestamps cross the driver
// boundary.

use std::collections::HashMap;

use async_trait::async_trait;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use sqlx::{AssertSqlSafe, QueryBuilder, Row as _};

use openwatch_core::eval::Status;
use openwatch_core::rule::Severity;

use crate::model::*;
use crate::Result;
use crate::prelude::*;

type DbRow = <Db as sqlx::Database>::Row;
type Tx = sqlx::Transaction<'static, Db>;

/// Shards of the per-rule failing-host counters (see the `rule_failing` table).
const FAILING_SHARDS: i64 = 16;

/// Rows per multi-row INSERT: 6 parameters a row stays far below both backends' limits.
const CHUNK: usize = 500;

macro_rules! host_columns {
    () => {
        "h.id, h.name, h.address, h.port, h.username, h.transport, h.credential_id, h.sudo, h.tags, \
         h.maintenance, h.host_key_policy, h.platform, h.reachability, h.last_error, h.last_scan_at, \
         h.last_scan_status, h.created_at, h.updated_at, \
         (SELECT hf.total FROM host_failures hf WHERE hf.host_id = h.id) AS failing"
    };
}

const HOST_COLUMNS: &str = host_columns!();

const SCAN_COLUMNS: &str = "s.id, s.host_id, h.name AS host_name, s.status, s.trigger, s.triggered_by, \
    s.queued_at, s.started_at, s.finished_at, s.error_kind, s.error_message, s.stats, s.summary";

const JOB_COLUMNS: &str =
    "id, kind, payload, host_id, scan_id, attempts, max_attempts, locked_by, lease_until";

const AUDIT_COLUMNS: &str =
    "seq, at, actor, action, target, outcome, source, correlation_id, details, prev_hash, hash";

/// Text matched literally inside a `LIKE ... ESCAPE '\'` pattern: a user's `%` or `_` is a
/// letter, not a wildcard.
fn like_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn json_text(v: &Value) -> String {
    v.to_string()
}

fn json_value(text: Option<String>) -> Result<Option<Value>> {
    text.map(|t| serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(format!("JSON column: {e}"))))
        .transpose()
}

fn string_list(text: &str) -> Result<Vec<String>> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("list column: {e}")))
}

/// A text column holding one of a fixed set of values; unknown text is corrupt data.
fn text_col<T, I>(row: &DbRow, col: I, parse: fn(&str) -> Option<T>) -> Result<T>
where
    I: sqlx::ColumnIndex<DbRow> + std::fmt::Debug + Copy,
{
    opt_text_col(row, col, parse)?.ok_or_else(|| StoreError::Corrupt(format!("column {col:?} is empty")))
}

fn opt_text_col<T, I>(row: &DbRow, col: I, parse: fn(&str) -> Option<T>) -> Result<Option<T>>
where
    I: sqlx::ColumnIndex<DbRow> + std::fmt::Debug + Copy,
{
    let Some(text) = row.try_get::<Option<String>, _>(col)? else { return Ok(None) };
    parse(&text).map(Some).ok_or_else(|| StoreError::Corrupt(format!("unknown value {text:?} in column {col:?}")))
}

fn evidence_hash(body: &str) -> String {
    hex::encode(Sha256::digest(body.as_bytes()))
}

fn day_of(now: Millis) -> i64 {
    now.div_euclid(86_400_000)
}

/// `SELECT COUNT(*)` of a builder's query text (re-run with the same binds by the caller).
async fn count(tx: &Pool<Db>, mut qb: QueryBuilder<Db>) -> Result<i64> {
    Ok(qb.build().fetch_one(tx).await?.try_get::<i64, _>(0)?)
}

async fn emit(tx: &mut Tx, kind: &str, data: &Value, now: Millis) -> Result<()> {
    sqlx::query("INSERT INTO stream_events (at, kind, data) VALUES ($1, $2, $3)")
        .bind(now)
        .bind(kind)
        .bind(json_text(data))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Apply the pending migrations, each in its own transaction.
async fn run_migrations(w: &Pool<Db>) -> Result<()> {
    sqlx::query(crate::migrate::CREATE_TABLE).execute(w).await?;
    let applied: HashMap<i64, String> = sqlx::query("SELECT version, checksum FROM schema_migrations")
        .fetch_all(w)
        .await?
        .iter()
        .map(|r| Ok((r.try_get::<i64, _>(0)?, r.try_get::<String, _>(1)?)))
        .collect::<Result<_>>()?;
    for m in MIGRATIONS {
        match applied.get(&m.version) {
            Some(sum) if *sum == m.checksum() => continue,
            Some(_) => {
                return Err(StoreError::Corrupt(format!(
                    "migration {} ({}) was changed after it was applied",
                    m.version, m.name
                )));
            }
            None => {}
        }
        let fail = |source| StoreError::Migration { version: m.version, name: m.name.into(), source };
        let mut tx = w.begin_with(dialect::BEGIN_WRITE).await.map_err(fail)?;
        sqlx::raw_sql(m.sql).execute(&mut *tx).await.map_err(fail)?;
        sqlx::query(
            "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(m.version)
        .bind(m.name)
        .bind(m.checksum())
        .bind(0i64)
        .execute(&mut *tx)
        .await
        .map_err(fail)?;
        tx.commit().await.map_err(fail)?;
    }
    Ok(())
}

#[async_trait]
impl SystemStore for Backend {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn migrations(&self) -> Result<Vec<i64>> {
        Ok(sqlx::query("SELECT version FROM schema_migrations ORDER BY version")
            .fetch_all(self.r())
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?)
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(self.r()).await?;
        Ok(())
    }

    async fn backup_to(&self, dest: &std::path::Path) -> Result<()> {
        if BACKEND != "sqlite" {
            return Err(StoreError::Invalid(
                "a PostgreSQL database is backed up with PostgreSQL's own tools (pg_dump; docs/server.md, Backup)".into(),
            ));
        }
        if dest.exists() {
            return Err(StoreError::Invalid(format!("{} already exists", dest.display())));
        }
        let path = dest.to_str().ok_or_else(|| StoreError::Invalid(format!("{} is not UTF-8", dest.display())))?;
        sqlx::query("VACUUM INTO $1").bind(path).execute(self.w()).await?;
        Ok(())
    }
}
