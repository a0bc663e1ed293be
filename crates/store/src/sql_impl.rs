// The one body of SQL behind both backends. This file is `include!`d by `sqlite.rs` and
// `postgres.rs`, each of which defines `Db`, `BACKEND`, `MIGRATIONS`, a `dialect` module and
// `w()`/`r()` (the writer and reader pools) before including it. Statements here use `$N`
// placeholders, which both drivers accept, and only types both map alike (i64, f64, text,
// bytes): no booleans or timestamps cross the driver boundary.

use std::collections::HashMap;

use async_trait::async_trait;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use sqlx::{AssertSqlSafe, QueryBuilder, Row as _};

use crate::model::*;
use crate::{Result, Store};

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
         h.last_scan_status, h.created_at, h.updated_at"
    };
}

const HOST_COLUMNS: &str = host_columns!();

const SCAN_COLUMNS: &str = "s.id, s.host_id, h.name AS host_name, s.status, s.trigger, s.triggered_by, \
    s.queued_at, s.started_at, s.finished_at, s.error_kind, s.error_message, s.stats, s.summary";

const JOB_COLUMNS: &str =
    "id, kind, payload, host_id, scan_id, attempts, max_attempts, locked_by, lease_until";

const AUDIT_COLUMNS: &str =
    "seq, at, actor, action, target, outcome, source, correlation_id, details, prev_hash, hash";

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

fn user_from(row: &DbRow) -> Result<User> {
    Ok(User {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        role: row.try_get("role")?,
        disabled: row.try_get::<i64, _>("disabled")? != 0,
        created_at: row.try_get("created_at")?,
        password_hash: row.try_get("password_hash")?,
    })
}

fn token_from(row: &DbRow) -> Result<ApiToken> {
    Ok(ApiToken {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        name: row.try_get("name")?,
        role: row.try_get("role")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        last_used_at: row.try_get("last_used_at")?,
        revoked: row.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
    })
}

fn session_from(row: &DbRow) -> Result<Session> {
    Ok(Session {
        id_hash: row.try_get("id_hash")?,
        user_id: row.try_get("user_id")?,
        csrf_token: row.try_get("csrf_token")?,
        created_at: row.try_get("created_at")?,
        last_seen_at: row.try_get("last_seen_at")?,
        expires_at: row.try_get("expires_at")?,
    })
}

fn credential_from(row: &DbRow) -> Result<Credential> {
    Ok(Credential {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        kind: row.try_get("kind")?,
        username: row.try_get("username")?,
        has_sudo_password: row.try_get::<i64, _>("has_sudo")? != 0,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn group_from(row: &DbRow) -> Result<Group> {
    Ok(Group {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        host_count: row.try_get("host_count")?,
        created_at: row.try_get("created_at")?,
    })
}

fn host_from(row: &DbRow) -> Result<Host> {
    Ok(Host {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        address: row.try_get("address")?,
        port: row.try_get("port")?,
        username: row.try_get("username")?,
        transport: row.try_get("transport")?,
        credential_id: row.try_get("credential_id")?,
        sudo: row.try_get::<i64, _>("sudo")? != 0,
        tags: string_list(&row.try_get::<String, _>("tags")?)?,
        groups: Vec::new(),
        maintenance: row.try_get::<i64, _>("maintenance")? != 0,
        host_key_policy: row.try_get("host_key_policy")?,
        platform: row.try_get("platform")?,
        reachability: row.try_get("reachability")?,
        last_error: row.try_get("last_error")?,
        last_scan_at: row.try_get("last_scan_at")?,
        last_scan_status: row.try_get("last_scan_status")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn host_key_from(row: &DbRow) -> Result<HostKey> {
    Ok(HostKey {
        id: row.try_get("id")?,
        host_id: row.try_get("host_id")?,
        algorithm: row.try_get("algorithm")?,
        fingerprint: row.try_get("fingerprint")?,
        public_key: row.try_get("public_key")?,
        status: row.try_get("status")?,
        first_seen_at: row.try_get("first_seen_at")?,
        decided_at: row.try_get("decided_at")?,
        decided_by: row.try_get("decided_by")?,
    })
}

fn scan_from(row: &DbRow) -> Result<Scan> {
    Ok(Scan {
        id: row.try_get("id")?,
        host_id: row.try_get("host_id")?,
        host_name: row.try_get("host_name")?,
        status: row.try_get("status")?,
        trigger: row.try_get("trigger")?,
        triggered_by: row.try_get("triggered_by")?,
        queued_at: row.try_get("queued_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        error_kind: row.try_get("error_kind")?,
        error_message: row.try_get("error_message")?,
        stats: json_value(row.try_get("stats")?)?,
        summary: json_value(row.try_get("summary")?)?,
    })
}

fn job_from(row: &DbRow) -> Result<Job> {
    Ok(Job {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        payload: json_value(Some(row.try_get("payload")?))?.unwrap_or(Value::Null),
        host_id: row.try_get("host_id")?,
        scan_id: row.try_get("scan_id")?,
        attempts: row.try_get("attempts")?,
        max_attempts: row.try_get("max_attempts")?,
        locked_by: row.try_get("locked_by")?,
        lease_until: row.try_get("lease_until")?,
    })
}

fn audit_from(row: &DbRow) -> Result<AuditEvent> {
    Ok(AuditEvent {
        seq: row.try_get("seq")?,
        at: row.try_get("at")?,
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        target: row.try_get("target")?,
        outcome: row.try_get("outcome")?,
        source: row.try_get("source")?,
        correlation_id: row.try_get("correlation_id")?,
        details: json_value(Some(row.try_get("details")?))?.unwrap_or(Value::Null),
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

fn posture_from(row: &DbRow) -> Result<Posture> {
    Ok(Posture {
        framework: row.try_get("framework")?,
        pass: row.try_get("pass")?,
        fail: row.try_get("fail")?,
        error: row.try_get("error")?,
        not_applicable: row.try_get("not_applicable")?,
    })
}

fn schedule_from(row: &DbRow) -> Result<Schedule> {
    Ok(Schedule {
        id: row.try_get("id")?,
        target_kind: row.try_get("target_kind")?,
        target_id: row.try_get("target_id")?,
        interval_secs: row.try_get("interval_secs")?,
        cron: row.try_get("cron")?,
        enabled: row.try_get::<i64, _>("enabled")? != 0,
        next_fire_at: row.try_get("next_fire_at")?,
    })
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

async fn set_group_members(tx: &mut Tx, host_id: i64, groups: &[String], now: Millis) -> Result<()> {
    sqlx::query("DELETE FROM host_group_members WHERE host_id = $1").bind(host_id).execute(&mut **tx).await?;
    for name in groups {
        sqlx::query("INSERT INTO host_groups (name, description, created_at) VALUES ($1, '', $2) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(now)
            .execute(&mut **tx)
            .await?;
        sqlx::query(
            "INSERT INTO host_group_members (host_id, group_id) SELECT $1, id FROM host_groups WHERE name = $2 \
             ON CONFLICT DO NOTHING",
        )
        .bind(host_id)
        .bind(name)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Remove a host's failing rules from the fleet counters (host deleted or state replaced).
async fn forget_failures(tx: &mut Tx, host_id: i64) -> Result<()> {
    sqlx::query(
        "UPDATE rule_failing SET hosts = hosts - 1 WHERE shard = $2 AND rule_id IN \
         (SELECT rule_id FROM host_rule_state WHERE host_id = $1 AND verdict = 'fail')",
    )
    .bind(host_id)
    .bind(host_id % FAILING_SHARDS)
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM host_failures WHERE host_id = $1").bind(host_id).execute(&mut **tx).await?;
    Ok(())
}

/// Finish a job the worker still owns; `locked_by` stays as the record of who ran it.
async fn finish_scan_job(
    tx: &mut Tx,
    job_id: i64,
    worker: &str,
    status: &str,
    error: Option<&str>,
    now: Millis,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE jobs SET status = $1, finished_at = $2, lease_until = NULL, last_error = $3 \
         WHERE id = $4 AND locked_by = $5 AND status = 'running'",
    )
    .bind(status)
    .bind(now)
    .bind(error)
    .bind(job_id)
    .bind(worker)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
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

impl Backend {
    async fn attach_groups(&self, hosts: &mut [Host]) -> Result<()> {
        if hosts.is_empty() {
            return Ok(());
        }
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT m.host_id, g.name FROM host_group_members m JOIN host_groups g ON g.id = m.group_id WHERE m.host_id IN (",
        );
        let mut sep = qb.separated(", ");
        for h in hosts.iter() {
            sep.push_bind(h.id);
        }
        qb.push(") ORDER BY g.name");
        let mut by_host: HashMap<i64, Vec<String>> = HashMap::new();
        for row in qb.build().fetch_all(self.r()).await? {
            by_host.entry(row.try_get(0)?).or_default().push(row.try_get(1)?);
        }
        for h in hosts {
            h.groups = by_host.remove(&h.id).unwrap_or_default();
        }
        Ok(())
    }

    async fn one_host(
        &self,
        sql: &'static str,
        key: impl sqlx::Encode<'static, Db> + sqlx::Type<Db> + Send + 'static,
    ) -> Result<Option<Host>> {
        let Some(row) = sqlx::query(sql).bind(key).fetch_optional(self.r()).await? else { return Ok(None) };
        let mut hosts = [host_from(&row)?];
        self.attach_groups(&mut hosts).await?;
        let [h] = hosts;
        Ok(Some(h))
    }

    async fn changes_page(&self, host_id: Option<i64>, limit: i64, offset: i64) -> Result<Vec<Change>> {
        const COLUMNS: &str = "SELECT c.id, c.host_id, h.name AS host_name, c.rule_id, c.scan_id, c.old_verdict, \
            c.new_verdict, c.old_severity, c.new_severity, c.changed_at FROM host_changes c JOIN hosts h ON h.id = c.host_id";
        let rows = match host_id {
            Some(id) => {
                sqlx::query(AssertSqlSafe(format!(
                    "{COLUMNS} WHERE c.host_id = $1 ORDER BY c.id DESC LIMIT $2 OFFSET $3"
                )))
                .bind(id)
                .bind(limit)
                .bind(offset)
                .fetch_all(self.r())
                .await?
            }
            None => {
                sqlx::query(AssertSqlSafe(format!("{COLUMNS} ORDER BY c.id DESC LIMIT $1 OFFSET $2")))
                    .bind(limit)
                    .bind(offset)
                    .fetch_all(self.r())
                    .await?
            }
        };
        rows.iter()
            .map(|r| {
                Ok(Change {
                    id: r.try_get("id")?,
                    host_id: r.try_get("host_id")?,
                    host_name: r.try_get("host_name")?,
                    rule_id: r.try_get("rule_id")?,
                    scan_id: r.try_get("scan_id")?,
                    old_verdict: r.try_get("old_verdict")?,
                    new_verdict: r.try_get("new_verdict")?,
                    old_severity: r.try_get("old_severity")?,
                    new_severity: r.try_get("new_severity")?,
                    changed_at: r.try_get("changed_at")?,
                })
            })
            .collect()
    }

    /// Write the results, evidence, current state, change log and posture of one scan.
    async fn ingest(&self, tx: &mut Tx, o: &ScanOutcome) -> Result<IngestStats> {
        let mut new_evidence = 0;
        let hashes: Vec<Option<String>> =
            o.results.iter().map(|r| r.evidence.as_deref().map(evidence_hash)).collect();
        let mut seen = std::collections::HashSet::new();
        let bodies: Vec<(&str, &str)> = o
            .results
            .iter()
            .zip(&hashes)
            .filter_map(|(r, h)| Some((h.as_deref()?, r.evidence.as_deref()?)))
            .filter(|(h, _)| seen.insert(*h))
            .collect();
        // Concurrent ingests touch shared rows (evidence, fleet counters) in one global order,
        // so they queue behind each other instead of deadlocking.
        let mut bodies = bodies;
        bodies.sort_unstable();
        for chunk in bodies.chunks(CHUNK) {
            let mut qb = QueryBuilder::<Db>::new("INSERT INTO evidence (hash, body) ");
            qb.push_values(chunk, |mut b, (h, body)| {
                b.push_bind(h.to_string()).push_bind(body.to_string());
            });
            qb.push(" ON CONFLICT (hash) DO NOTHING");
            new_evidence += qb.build().execute(&mut **tx).await?.rows_affected() as usize;
        }
        let rows: Vec<(&ResultInput, &Option<String>)> = o.results.iter().zip(&hashes).collect();
        for chunk in rows.chunks(CHUNK) {
            let mut qb = QueryBuilder::<Db>::new(
                "INSERT INTO scan_results (scan_id, rule_id, verdict, severity, reason, evidence_hash) ",
            );
            qb.push_values(chunk, |mut b, (r, h)| {
                b.push_bind(o.scan_id)
                    .push_bind(r.rule_id.clone())
                    .push_bind(r.verdict.clone())
                    .push_bind(r.severity.clone())
                    .push_bind(r.reason.clone())
                    .push_bind((*h).clone());
            });
            qb.build().execute(&mut **tx).await?;
        }

        // Everything below is derived in SQL from the rows just written to scan_results, so
        // the results cross to the database once. Shared counter rows are touched in rule
        // order, so concurrent ingests queue instead of deadlocking.
        let (host, scan, at) = (o.host_id, o.scan_id, o.finished_at);
        // The change log: rules new to the host or whose verdict or severity differs.
        let changes = sqlx::query(
            "INSERT INTO host_changes (host_id, rule_id, scan_id, old_verdict, new_verdict, old_severity, new_severity, changed_at) \
             SELECT $1, n.rule_id, n.scan_id, o.verdict, n.verdict, o.severity, n.severity, $3 \
             FROM scan_results n LEFT JOIN host_rule_state o ON o.host_id = $1 AND o.rule_id = n.rule_id \
             WHERE n.scan_id = $2 AND (o.rule_id IS NULL OR o.verdict <> n.verdict OR o.severity <> n.severity) \
             ORDER BY n.rule_id",
        )
        .bind(host)
        .bind(scan)
        .bind(at)
        .execute(&mut **tx)
        .await?
        .rows_affected() as usize;
        // Failing hosts per rule: +1 where a rule starts failing here, -1 where it stops.
        sqlx::query(
            "INSERT INTO rule_failing (rule_id, shard, hosts) \
             SELECT n.rule_id, $3, CASE WHEN n.verdict = 'fail' THEN 1 ELSE -1 END \
             FROM scan_results n LEFT JOIN host_rule_state o ON o.host_id = $1 AND o.rule_id = n.rule_id \
             WHERE n.scan_id = $2 AND (CASE WHEN n.verdict = 'fail' THEN 1 ELSE 0 END) \
                 <> (CASE WHEN o.verdict = 'fail' THEN 1 ELSE 0 END) \
             ORDER BY n.rule_id \
             ON CONFLICT (rule_id, shard) DO UPDATE SET hosts = rule_failing.hosts + excluded.hosts",
        )
        .bind(host)
        .bind(scan)
        .bind(host % FAILING_SHARDS)
        .execute(&mut **tx)
        .await?;
        // Rules the host no longer reports (removed from the library) leave its state, and
        // its failing counters when they failed (rare, so counted here rather than in SQL).
        let stale_failing = sqlx::query(
            "DELETE FROM host_rule_state WHERE host_id = $1 AND NOT EXISTS \
             (SELECT 1 FROM scan_results n WHERE n.scan_id = $2 AND n.rule_id = host_rule_state.rule_id) \
             RETURNING rule_id, verdict",
        )
        .bind(host)
        .bind(scan)
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .filter(|r| r.try_get::<String, _>(1).is_ok_and(|v| v == "fail"))
        .map(|r| r.try_get::<String, _>(0))
        .collect::<Result<Vec<_>, _>>()?;
        for rule in stale_failing {
            sqlx::query("UPDATE rule_failing SET hosts = hosts - 1 WHERE rule_id = $1 AND shard = $2")
                .bind(rule)
                .bind(host % FAILING_SHARDS)
                .execute(&mut **tx)
                .await?;
        }
        sqlx::query(
            "INSERT INTO host_failures (host_id, critical, high, medium, low, total) \
             SELECT $1, \
               CAST(COALESCE(SUM(CASE WHEN severity = 'critical' THEN 1 ELSE 0 END), 0) AS BIGINT), \
               CAST(COALESCE(SUM(CASE WHEN severity = 'high' THEN 1 ELSE 0 END), 0) AS BIGINT), \
               CAST(COALESCE(SUM(CASE WHEN severity = 'medium' THEN 1 ELSE 0 END), 0) AS BIGINT), \
               CAST(COALESCE(SUM(CASE WHEN severity NOT IN ('critical', 'high', 'medium') THEN 1 ELSE 0 END), 0) AS BIGINT), \
               COUNT(*) FROM scan_results WHERE scan_id = $2 AND verdict = 'fail' \
             ON CONFLICT (host_id) DO UPDATE SET critical = excluded.critical, high = excluded.high, \
             medium = excluded.medium, low = excluded.low, total = excluded.total",
        )
        .bind(host)
        .bind(scan)
        .execute(&mut **tx)
        .await?;
        // Current state; an unchanged verdict keeps the time it was first seen.
        sqlx::query(
            "INSERT INTO host_rule_state (host_id, rule_id, verdict, severity, scan_id, evidence_hash, since_at, updated_at) \
             SELECT $1, rule_id, verdict, severity, scan_id, evidence_hash, $3, $3 FROM scan_results WHERE scan_id = $2 \
             ON CONFLICT (host_id, rule_id) DO UPDATE SET \
             since_at = CASE WHEN host_rule_state.verdict = excluded.verdict THEN host_rule_state.since_at ELSE excluded.since_at END, \
             verdict = excluded.verdict, severity = excluded.severity, scan_id = excluded.scan_id, \
             evidence_hash = excluded.evidence_hash, updated_at = excluded.updated_at",
        )
        .bind(host)
        .bind(scan)
        .bind(at)
        .execute(&mut **tx)
        .await?;

        sqlx::query("DELETE FROM host_posture WHERE host_id = $1").bind(host).execute(&mut **tx).await?;
        if !o.posture.is_empty() {
            for table in ["host_posture", "posture_history"] {
                let mut qb = QueryBuilder::<Db>::new(format!(
                    "INSERT INTO {table} (host_id, framework, pass, fail, error, not_applicable, {}) ",
                    if table == "host_posture" { "updated_at" } else { "at, scan_id" }
                ));
                qb.push_values(&o.posture, |mut b, p| {
                    b.push_bind(host)
                        .push_bind(p.framework.clone())
                        .push_bind(p.pass)
                        .push_bind(p.fail)
                        .push_bind(p.error)
                        .push_bind(p.not_applicable)
                        .push_bind(at);
                    if table == "posture_history" {
                        b.push_bind(scan);
                    }
                });
                qb.build().execute(&mut **tx).await?;
            }
        }
        Ok(IngestStats { results: o.results.len(), changes, new_evidence })
    }
}

#[async_trait]
impl Store for Backend {
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

    // --- users, roles, sessions, tokens

    async fn create_user(&self, u: &NewUser, now: Millis) -> Result<User> {
        let row = sqlx::query(
            "INSERT INTO users (username, password_hash, role, disabled, created_at, updated_at) \
             VALUES ($1, $2, $3, 0, $4, $4) RETURNING *",
        )
        .bind(&u.username)
        .bind(&u.password_hash)
        .bind(&u.role)
        .bind(now)
        .fetch_one(self.w())
        .await
        .map_err(|e| StoreError::conflict_or(e, &format!("user {}", u.username)))?;
        user_from(&row)
    }

    async fn user_by_name(&self, username: &str) -> Result<Option<User>> {
        sqlx::query("SELECT * FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(self.r())
            .await?
            .as_ref()
            .map(user_from)
            .transpose()
    }

    async fn user(&self, id: i64) -> Result<Option<User>> {
        sqlx::query("SELECT * FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(self.r())
            .await?
            .as_ref()
            .map(user_from)
            .transpose()
    }

    async fn list_users(&self) -> Result<Vec<User>> {
        sqlx::query("SELECT * FROM users ORDER BY username")
            .fetch_all(self.r())
            .await?
            .iter()
            .map(user_from)
            .collect()
    }

    async fn count_users(&self) -> Result<i64> {
        Ok(sqlx::query("SELECT COUNT(*) FROM users").fetch_one(self.r()).await?.try_get(0)?)
    }

    async fn set_password(&self, id: i64, password_hash: &str, now: Millis) -> Result<()> {
        sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
            .bind(password_hash)
            .bind(now)
            .bind(id)
            .execute(self.w())
            .await?;
        Ok(())
    }

    async fn update_user(&self, id: i64, role: &str, disabled: bool, now: Millis) -> Result<()> {
        sqlx::query("UPDATE users SET role = $1, disabled = $2, updated_at = $3 WHERE id = $4")
            .bind(role)
            .bind(disabled as i64)
            .bind(now)
            .bind(id)
            .execute(self.w())
            .await?;
        Ok(())
    }

    async fn delete_user(&self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM users WHERE id = $1").bind(id).execute(self.w()).await?;
        Ok(())
    }

    async fn custom_roles(&self) -> Result<Vec<CustomRole>> {
        sqlx::query("SELECT name, description, permissions FROM roles ORDER BY name")
            .fetch_all(self.r())
            .await?
            .iter()
            .map(|r| {
                Ok(CustomRole {
                    name: r.try_get(0)?,
                    description: r.try_get(1)?,
                    permissions: string_list(&r.try_get::<String, _>(2)?)?,
                })
            })
            .collect()
    }

    async fn put_role(&self, role: &CustomRole, now: Millis) -> Result<()> {
        sqlx::query(
            "INSERT INTO roles (name, description, permissions, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO UPDATE SET description = excluded.description, permissions = excluded.permissions",
        )
        .bind(&role.name)
        .bind(&role.description)
        .bind(json_text(&serde_json::json!(role.permissions)))
        .bind(now)
        .execute(self.w())
        .await?;
        Ok(())
    }

    async fn delete_role(&self, name: &str) -> Result<bool> {
        Ok(sqlx::query("DELETE FROM roles WHERE name = $1")
            .bind(name)
            .execute(self.w())
            .await?
            .rows_affected()
            == 1)
    }

    async fn create_session(&self, s: &Session) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, last_seen_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&s.id_hash)
        .bind(s.user_id)
        .bind(&s.csrf_token)
        .bind(s.created_at)
        .bind(s.last_seen_at)
        .bind(s.expires_at)
        .execute(self.w())
        .await?;
        Ok(())
    }

    async fn session(&self, id_hash: &str) -> Result<Option<Session>> {
        sqlx::query("SELECT * FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .fetch_optional(self.r())
            .await?
            .as_ref()
            .map(session_from)
            .transpose()
    }

    async fn touch_session(&self, id_hash: &str, now: Millis) -> Result<()> {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2")
            .bind(now)
            .bind(id_hash)
            .execute(self.w())
            .await?;
        Ok(())
    }

    async fn delete_session(&self, id_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(id_hash).execute(self.w()).await?;
        Ok(())
    }

    async fn delete_user_sessions(&self, user_id: i64) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user_id).execute(self.w()).await?;
        Ok(())
    }

    async fn create_token(&self, t: &NewToken, now: Millis) -> Result<ApiToken> {
        let row = sqlx::query(
            "INSERT INTO api_tokens (user_id, name, role, token_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
        )
        .bind(t.user_id)
        .bind(&t.name)
        .bind(&t.role)
        .bind(&t.token_hash)
        .bind(now)
        .bind(t.expires_at)
        .fetch_one(self.w())
        .await?;
        token_from(&row)
    }

    async fn use_token(&self, token_hash: &str, now: Millis) -> Result<Option<ApiToken>> {
        let row = sqlx::query(
            "SELECT * FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL \
             AND (expires_at IS NULL OR expires_at > $2)",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(self.r())
        .await?;
        let Some(token) = row.as_ref().map(token_from).transpose()? else { return Ok(None) };
        // Record use at most once a minute: reads should not each cost a write.
        if token.last_used_at.is_none_or(|t| now - t >= 60_000) {
            sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
                .bind(now)
                .bind(token.id)
                .execute(self.w())
                .await?;
        }
        Ok(Some(token))
    }

    async fn list_tokens(&self, user_id: Option<i64>) -> Result<Vec<ApiToken>> {
        sqlx::query("SELECT * FROM api_tokens WHERE ($1 IS NULL OR user_id = $1) ORDER BY id")
            .bind(user_id)
            .fetch_all(self.r())
            .await?
            .iter()
            .map(token_from)
            .collect()
    }

    async fn revoke_token(&self, id: i64, now: Millis) -> Result<bool> {
        Ok(sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(self.w())
            .await?
            .rows_affected()
            == 1)
    }

    // --- credentials

    async fn create_credential(&self, c: &NewCredential, now: Millis) -> Result<Credential> {
        self.insert_credential(c, now).await
    }

    async fn list_credentials(&self) -> Result<Vec<Credential>> {
        sqlx::query(
            "SELECT id, name, kind, username, CAST(CASE WHEN sudo_secret IS NULL THEN 0 ELSE 1 END AS BIGINT) AS has_sudo, created_at, updated_at \
             FROM credentials ORDER BY name",
        )
        .fetch_all(self.r())
        .await?
        .iter()
        .map(credential_from)
        .collect()
    }

    async fn credential(&self, id: i64) -> Result<Option<Credential>> {
        sqlx::query(
            "SELECT id, name, kind, username, CAST(CASE WHEN sudo_secret IS NULL THEN 0 ELSE 1 END AS BIGINT) AS has_sudo, created_at, updated_at \
             FROM credentials WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.r())
        .await?
        .as_ref()
        .map(credential_from)
        .transpose()
    }

    async fn credential_secrets(&self, id: i64) -> Result<Option<SealedSecrets>> {
        self.transit_secrets(id).await
    }

    async fn delete_credential(&self, id: i64) -> Result<bool> {
        let in_use: i64 =
            sqlx::query("SELECT COUNT(*) FROM hosts WHERE credential_id = $1 AND deleted_at IS NULL")
                .bind(id)
                .fetch_one(self.r())
                .await?
                .try_get(0)?;
        if in_use > 0 {
            return Err(StoreError::Invalid(format!("the credential is used by {in_use} host(s)")));
        }
        sqlx::query("UPDATE hosts SET credential_id = NULL WHERE credential_id = $1")
            .bind(id)
            .execute(self.w())
            .await?;
        Ok(sqlx::query("DELETE FROM credentials WHERE id = $1")
            .bind(id)
            .execute(self.w())
            .await?
            .rows_affected()
            == 1)
    }

    async fn rotate_credential_key(&self, now: Millis) -> Result<usize> {
        self.rotate_key(now).await
    }

    // --- groups and hosts

    async fn create_group(&self, name: &str, description: &str, now: Millis) -> Result<Group> {
        let row = sqlx::query(
            "INSERT INTO host_groups (name, description, created_at) VALUES ($1, $2, $3) \
             RETURNING id, name, description, created_at, CAST(0 AS BIGINT) AS host_count",
        )
        .bind(name)
        .bind(description)
        .bind(now)
        .fetch_one(self.w())
        .await
        .map_err(|e| StoreError::conflict_or(e, &format!("group {name}")))?;
        group_from(&row)
    }

    async fn list_groups(&self) -> Result<Vec<Group>> {
        sqlx::query(
            "SELECT g.id, g.name, g.description, g.created_at, \
             (SELECT COUNT(*) FROM host_group_members m JOIN hosts h ON h.id = m.host_id \
              WHERE m.group_id = g.id AND h.deleted_at IS NULL) AS host_count \
             FROM host_groups g ORDER BY g.name",
        )
        .fetch_all(self.r())
        .await?
        .iter()
        .map(group_from)
        .collect()
    }

    async fn group(&self, id: i64) -> Result<Option<Group>> {
        sqlx::query(
            "SELECT g.id, g.name, g.description, g.created_at, \
             (SELECT COUNT(*) FROM host_group_members m JOIN hosts h ON h.id = m.host_id \
              WHERE m.group_id = g.id AND h.deleted_at IS NULL) AS host_count \
             FROM host_groups g WHERE g.id = $1",
        )
        .bind(id)
        .fetch_optional(self.r())
        .await?
        .as_ref()
        .map(group_from)
        .transpose()
    }

    async fn delete_group(&self, id: i64) -> Result<bool> {
        let mut tx = self.w().begin_with(dialect::BEGIN_WRITE).await?;
        sqlx::query("DELETE FROM host_group_members WHERE group_id = $1").bind(id).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM schedules WHERE target_kind = 'group' AND target_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let n = sqlx::query("DELETE FROM host_groups WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n == 1)
    }

    async fn group_host_ids(&self, group_id: i64) -> Result<Vec<i64>> {
        Ok(sqlx::query(
            "SELECT h.id FROM host_group_members m JOIN hosts h ON h.id = m.host_id \
             WHERE m.group_id = $1 AND h.deleted_at IS NULL ORDER BY h.id",
        )
        .bind(group_id)
        .fetch_all(self.r())
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?)
    }

    async fn create_host(&self, h: &HostInput, now: Millis) -> Result<Host> {
        let mut tx = self.w().begin_with(dialect::BEGIN_WRITE).await?;
        let id: i64 = sqlx::query(
            "INSERT INTO hosts (name, address, port, username, transport, credential_id, sudo, tags, maintenance, \
             host_key_policy, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING id",
        )
        .bind(&h.name)
        .bind(&h.address)
        .bind(h.port)
        .bind(&h.username)
        .bind(&h.transport)
        .bind(h.credential_id)
        .bind(h.sudo as i64)
        .bind(json_text(&serde_json::json!(h.tags)))
        .bind(h.maintenance as i64)
        .bind(&h.host_key_policy)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| StoreError::conflict_or(e, &format!("host {}", h.name)))?
        .try_get(0)?;
        set_group_members(&mut tx, id, &h.groups, now).await?;
        tx.commit().await?;
        self.host(id).await?.ok_or_else(|| StoreError::Corrupt("a created host vanished".into()))
    }

    async fn host(&self, id: i64) -> Result<Option<Host>> {
        const SQL: &str =
            concat!("SELECT ", host_columns!(), " FROM hosts h WHERE h.id = $1 AND h.deleted_at IS NULL");
        self.one_host(SQL, id).await
    }

    async fn host_by_name(&self, name: &str) -> Result<Option<Host>> {
        const SQL: &str =
            concat!("SELECT ", host_columns!(), " FROM hosts h WHERE h.name = $1 AND h.deleted_at IS NULL");
        self.one_host(SQL, name.to_owned()).await
    }

    async fn list_hosts(&self, q: &HostQuery, page: PageRequest) -> Result<Page<Host>> {
        fn filters(qb: &mut QueryBuilder<Db>, q: &HostQuery) {
            qb.push(" WHERE h.deleted_at IS NULL");
            if let Some(s) = q.search.as_ref().filter(|s| !s.is_empty()) {
                let like = format!("%{}%", s.to_lowercase());
                qb.push(" AND (LOWER(h.name) LIKE ").push_bind(like.clone());
                qb.push(" OR LOWER(h.address) LIKE ").push_bind(like).push(")");
            }
            if let Some(g) = &q.group {
                qb.push(
                    " AND h.id IN (SELECT m.host_id FROM host_group_members m JOIN host_groups g ON g.id = m.group_id WHERE g.name = ",
                )
                .push_bind(g.clone())
                .push(")");
            }
            if let Some(p) = &q.platform {
                qb.push(" AND h.platform LIKE ").push_bind(format!("{p}%"));
            }
            if let Some(t) = &q.tag {
                qb.push(" AND h.tags LIKE ").push_bind(format!("%{}%", json_text(&Value::String(t.clone()))));
            }
            if let Some(r) = &q.reachability {
                qb.push(" AND h.reachability = ").push_bind(r.clone());
            }
            let band = match q.band.as_deref() {
                Some("critical") => Some("f.critical > 0"),
                Some("high") => Some("f.critical = 0 AND f.high > 0"),
                Some("medium") => Some("f.critical = 0 AND f.high = 0 AND f.medium > 0"),
                Some("low") => Some("f.critical = 0 AND f.high = 0 AND f.medium = 0 AND f.low > 0"),
                Some("compliant") => Some("f.total = 0"),
                Some("unscanned") => Some("f.host_id IS NULL"),
                _ => None,
            };
            if let Some(cond) = band {
                qb.push(format!(" AND h.id IN (SELECT h2.id FROM hosts h2 LEFT JOIN host_failures f ON f.host_id = h2.id WHERE {cond})"));
            }
        }
        let mut cq = QueryBuilder::<Db>::new("SELECT COUNT(*) FROM hosts h");
        filters(&mut cq, q);
        let total = count(self.r(), cq).await?;
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT {HOST_COLUMNS} FROM hosts h LEFT JOIN host_failures f ON f.host_id = h.id"
        ));
        filters(&mut qb, q);
        let order = match q.sort.as_deref().unwrap_or("name") {
            "-name" => "h.name DESC",
            "last_scan_at" => "h.last_scan_at, h.name",
            "-last_scan_at" => "h.last_scan_at DESC, h.name",
            "failures" => "COALESCE(f.total, 0), h.name",
            "-failures" => "COALESCE(f.total, 0) DESC, h.name",
            _ => "h.name",
        };
        qb.push(format!(" ORDER BY {order} LIMIT "))
            .push_bind(page.per_page)
            .push(" OFFSET ")
            .push_bind(page.offset());
        let mut items =
            qb.build().fetch_all(self.r()).await?.iter().map(host_from).collect::<Result<Vec<_>>>()?;
        self.attach_groups(&mut items).await?;
        Ok(Page { items, total, page: page.page, per_page: page.per_page })
    }

    async fn update_host(&self, id: i64, h: &HostInput, now: Millis) -> Result<Option<Host>> {
        let mut tx = self.w().begin_with(dialect::BEGIN_WRITE).await?;
        let n = sqlx::query(
            "UPDATE hosts SET name = $1, address = $2, port = $3, username = $4, transport = $5, credential_id = $6, \
             sudo = $7, tags = $8, maintenance = $9, host_key_policy = $10, updated_at = $11 \
             WHERE id = $12 AND deleted_at IS NULL",
        )
        .bind(&h.name)
        .bind(&h.address)
        .bind(h.port)
        .bind(&h.username)
        .bind(&h.transport)
        .bind(h.credential_id)
        .bind(h.sudo as i64)
        .bind(json_text(&serde_json::json!(h.tags)))
        .bind(h.maintenance as i64)
        .bind(&h.host_key_policy)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::conflict_or(e, &format!("host {}", h.name)))?
        .rows_affected();
        if n == 0 {
            return Ok(None);
        }
        set_group_members(&mut tx, id, &h.groups, now).await?;
        tx.commit().await?;
        self.host(id).await
    }

    async fn delete_host(&self, id: i64, now: Millis) -> Result<bool> {
        let mut tx = self.w().begin_with(dialect::BEGIN_WRITE).await?;
        let n = sqlx::query("UPDATE hosts SET deleted_at = $1 WHERE id = $2 AND deleted_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 1 {
            forget_failures(&mut tx, id).await?;
            sqlx::query("DELETE FROM host_posture WHERE host_id = $1").bind(id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM schedules WHERE target_kind = 'host' AND target_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(n == 1)
    }

    async fn host_keys(&self, host_id: i64) -> Result<Vec<HostKey>> {
        sqlx::query("SELECT * FROM host_keys WHERE host_id = $1 ORDER BY id")
            .bind(host_id)
            .fetch_all(self.r())
            .await?
            .iter()
            .map(host_key_from)
            .collect()
    }

    async fn observe_host_key(
        &self,
        host_id: i64,
        key: &ObservedHostKey,
        status: &str,
        now: Millis,
    ) -> Result<HostKey> {
        let decided = (status == "approved").then_some(now);
        sqlx::query(
            "INSERT INTO host_keys (host_id, algorithm, fingerprint, public_key, status, first_seen_at, decided_at, decided_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (host_id, fingerprint) DO NOTHING",
        )
        .bind(host_id)
        .bind(&key.algorithm)
        .bind(&key.fingerprint)
        .bind(&key.public_key)
        .bind(status)
        .bind(now)
        .bind(decided)
        .bind(decided.map(|_| "policy:accept_new"))
        .execute(self.w())
        .await?;
        let row = sqlx::query("SELECT * FROM host_keys WHERE host_id = $1 AND fingerprint = $2")
            .bind(host_id)
            .bind(&key.fingerprint)
            .fetch_one(self.w())
            .await?;
        host_key_from(&row)
    }

    async fn approve_host_key(&self, host_id: i64, key_id: i64, by: &str, now: Millis) -> Result<bool> {
        let mut tx = self.w().begin_with(dialect::BEGIN_WRITE).await?;
        let n = sqlx::query("UPDATE host_keys SET status = 'approved', decided_at = $1, decided_by = $2 WHERE id = $3 AND host_id = $4")
            .bind(now)
            .bind(by)
            .bind(key_id)
            .bind(host_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 1 {
            sqlx::query(
                "UPDATE host_keys SET status = 'rejected', decided_at = $1, decided_by = $2 \
                 WHERE host_id = $3 AND id <> $4 AND status = 'approved'",
            )
            .bind(now)
            .bind(by)
            .bind(host_id)
            .bind(key_id)
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE hosts SET reachability = 'unknown', last_error = NULL WHERE id = $1")
                .bind(host_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(n == 1)
    }

    async fn set_reachability(&self, host_id: i64, reachability: &str, error: Option<&str>) -> Result<()> {
        sqlx::query("UPDATE hosts SET reachability = $1, last_error = $2 WHERE id = $3")
            .bind(reachability)
            .bind(error)
            .bind(host_id)
            .execute(self.w())
            .await?;
        Ok(())
    }

    // --- scans and results

    async fn queue_scan(&self, req: &ScanRequest, now: Millis) -> Result<Scan> {
        let mut tx = self.w().begin_with(dialect::BEGIN_WRITE).await?;
        let scan_id: i64 = sqlx::query(
            "INSERT INTO scans (host_id, status, trigger, triggered_by, queued_at) VALUES ($1, 'queued', $2, $3, $4) RETURNING id",
        )
        .bind(req.host_id)
        .bind(&req.trigger)
        .bind(&req.triggered_by)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        sqlx::query(
            "INSERT INTO jobs (kind, payload, host_id, scan_id, status, attempts, max_attempts, run_after, created_at) \
             VALUES ('scan', $1, $2, $3, 'queued', 0, $4, $5, $5)",
        )
        .bind(json_text(&serde_json::json!({ "scan_id": scan_id })))
        .bind(req.host_id)
        .bind(scan_id)
        .bind(req.max_attempts)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        emit(&mut tx, "scan.queued", &serde_json::json!({"scan_id": scan_id, "host_id": req.host_id}), now)
            .await?;
        if let Some(sql) = dialect::NOTIFY_JOB {
            sqlx::query(sql).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        self.scan(scan_id).await?.ok_or_else(|| StoreError::Corrupt("a queued scan vanished".into()))
    }

    async fn scan(&self, id: i64) -> Result<Option<Scan>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {SCAN_COLUMNS} FROM scans s JOIN hosts h ON h.id = s.host_id WHERE s.id = $1"
        )))
        .bind(id)
        .fetch_optional(self.w())
        .await?
        .as_ref()
        .map(scan_from)
        .transpose()
    }

    async fn list_scans(&self, q: &ScanQuery, page: PageRequest) -> Result<Page<Scan>> {
        fn filters(qb: &mut QueryBuilder<Db>, q: &ScanQuery) {
            qb.push(" WHERE 1 = 1");
            if let Some(h) = q.host_id {
                qb.push(" AND s.host_id = ").push_bind(h);
            }
            if let Some(s) = &q.status {
                qb.push(" AND s.status = ").push_bind(s.clone());
            }
        }
        let mut cq = QueryBuilder::<Db>::new("SELECT COUNT(*) FROM scans s");
        filters(&mut cq, q);
        let total = count(self.r(), cq).await?;
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT {SCAN_COLUMNS} FROM scans s JOIN hosts h ON h.id = s.host_id"
        ));
        filters(&mut qb, q);
        qb.push(" ORDER BY s.id DESC LIMIT ")
            .push_bind(page.per_page)
            .push(" OFFSET ")
            .push_bind(page.offset());
        let items = qb.build().fetch_all(self.r()).await?.iter().map(scan_from).collect::<Result<_>>()?;
        Ok(Page { items, total, page: page.page, per_page: page.per_page })
    }

    async fn mark_scan_running(&self, scan_id: i64, now: Millis) -> Result<()> {
        let mut tx = self.w().begin_with(dialect::BEGIN_WRITE).await?;
        let host: Option<i64> = sqlx::query(
            "UPDATE scans SET status = 'running', started_at = $1 WHERE id = $2 RETURNING host_id",
        )
        .bind(now)
        .bind(scan_id)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| r.try_get(0))
        .transpose()?;
        emit(&mut tx, "scan.started", &serde_json::json!({"scan_id": scan_id, "host_id": host}), now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn complete_scan(&self, job: &Job, worker: &str, o: &ScanOutcome) -> Result<Option<IngestStats>> {
        let mut tx = self.w().begin_with(dialect::BEGIN_WRITE).await?;
        if let Some(sql) = dialect::RELAXED_COMMIT {
            sqlx::query(sql).execute(&mut *tx).await?;
        }
        if !finish_scan_job(&mut tx, job.id, worker, "done", None, o.finished_at).await? {
            tx.rollback().await?;
            return Ok(None);
        }
        let stats = self.ingest(&mut tx, o).await?;
        sqlx::query(
            "UPDATE scans SET status = 'succeeded', finished_at = $1, stats = $2, summary = $3, error_kind = NULL, \
             error_message = NULL WHERE id = $4",
        )
        .bind(o.finished_at)
        .bind(json_text(&o.stats))
        .bind(json_text(&o.summary))
        .bind(o.scan_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE hosts SET last_scan_at = $1, last_scan_status = 'succeeded', reachability = 'reachable', \
             last_error = NULL, platform = COALESCE($2, platform) WHERE id = $3",
        )
        .bind(o.finished_at)
        .bind(&o.platform)
        .bind(o.host_id)
        .execute(&mut *tx)
        .await?;
        let data = serde_json::json!({"scan_id": o.scan_id, "host_id": o.host_id, "status": "succeeded",
            "changes": stats.changes, "summary": o.summary});
        emit(&mut tx, "scan.completed", &data, o.finished_at).await?;
        if stats.changes > 0 {
            emit(
                &mut tx,
                "host.changed",
                &serde_json::json!({"host_id": o.host_id, "scan_id": o.scan_id,
                "changes": stats.changes}),
                o.finished_at,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(Some(stats))
    }

    async fn fail_scan(
        &self,
        job: &Job,
        worker: &str,
        f: &ScanFailure,
        retry_at: Option<Millis>,
    ) -> Result<bool> {
        let mut tx = self.w().begin_with(dialect::BEGIN_WRITE).await?;
        let owned = match retry_at {
            Some(at) => {
                sqlx::query(
                    "UPDATE jobs SET status = 'queued', run_after = $1, locked_by = NULL, lease_until = NULL, last_error = $2 \
                     WHERE id = $3 AND locked_by = $4 AND status = 'running'",
                )
                .bind(at)
                .bind(&f.message)
                .bind(job.id)
                .bind(worker)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1
            }
            None => finish_scan_job(&mut tx, job.id, worker, "failed", Some(&f.message), f.finished_at).await?,
        };
        if !owned {
            tx.rollback().await?;
            return Ok(false);
        }
        let status = if retry_at.is_some() { "queued" } else { "failed" };
        sqlx::query("UPDATE scans SET status = $1, finished_at = $2, error_kind = $3, error_message = $4 WHERE id = $5")
            .bind(status)
            .bind(retry_at.is_none().then_some(f.finished_at))
            .bind(&f.kind)
            .bind(&f.message)
            .bind(f.scan_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE hosts SET reachability = $1, last_error = $2, last_scan_at = $3, last_scan_status = 'failed' WHERE id = $4")
            .bind(&f.reachability)
            .bind(&f.message)
            .bind(f.finished_at)
            .bind(f.host_id)
            .execute(&mut *tx)
            .await?;
        if retry_at.is_none() {
            let data = serde_json::json!({"scan_id": f.scan_id, "host_id": f.host_id, "status": "failed",
                "error": {"kind": f.kind, "message": f.message}});
            emit(&mut tx, "scan.completed", &data, f.finished_at).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn scan_results(
        &self,
        scan_id: i64,
        q: &ResultQuery,
        page: PageRequest,
    ) -> Result<Page<StoredResult>> {
        fn filters(qb: &mut QueryBuilder<Db>, scan_id: i64, q: &ResultQuery) {
            qb.push(" WHERE scan_id = ").push_bind(scan_id);
            if let Some(v) = &q.verdict {
                qb.push(" AND verdict = ").push_bind(v.clone());
            }
            if let Some(s) = &q.severity {
                qb.push(" AND severity = ").push_bind(s.clone());
            }
            if let Some(ids) = &q.rule_ids {
                qb.push(" AND rule_id IN (");
                if ids.is_empty() {
                    qb.push("NULL");
                }
                let mut sep = qb.separated(", ");
                for id in ids {
                    sep.push_bind(id.clone());
                }
                qb.push(")");
            }
        }
        let mut cq = QueryBuilder::<Db>::new("SELECT COUNT(*) FROM scan_results");
        filters(&mut cq, scan_id, q);
        let total = count(self.r(), cq).await?;
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT rule_id, verdict, severity, reason, evidence_hash FROM scan_results",
        );
        filters(&mut qb, scan_id, q);
        qb.push(" ORDER BY rule_id LIMIT ")
            .push_bind(page.per_page)
            .push(" OFFSET ")
            .push_bind(page.offset());
        let items = qb
            .build()
            .fetch_all(self.r())
            .await?
            .iter()
            .map(|r| {
                Ok(StoredResult {
                    rule_id: r.try_get(0)?,
                    verdict: r.try_get(1)?,
                    severity: r.try_get(2)?,
                    reason: r.try_get(3)?,
                    evidence_hash: r.try_get(4)?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Page { items, total, page: page.page, per_page: page.per_page })
    }

    async fn evidence(&self, hash: &str) -> Result<Option<String>> {
        Ok(sqlx::query("SELECT body FROM evidence WHERE hash = $1")
            .bind(hash)
            .fetch_optional(self.r())
            .await?
            .map(|r| r.try_get(0))
            .transpose()?)
    }

    async fn evidence_many(&self, hashes: &[String]) -> Result<HashMap<String, String>> {
        let mut out = HashMap::new();
        for chunk in hashes.chunks(CHUNK) {
            let mut qb = QueryBuilder::<Db>::new("SELECT hash, body FROM evidence WHERE hash IN (");
            let mut sep = qb.separated(", ");
            for h in chunk {
                sep.push_bind(h.clone());
            }
            qb.push(")");
            for row in qb.build().fetch_all(self.r()).await? {
                out.insert(row.try_get(0)?, row.try_get(1)?);
            }
        }
        Ok(out)
    }

    async fn host_state(&self, host_id: i64, q: &ResultQuery) -> Result<Vec<RuleState>> {
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT rule_id, verdict, severity, scan_id, evidence_hash, since_at FROM host_rule_state WHERE host_id = ",
        );
        qb.push_bind(host_id);
        if let Some(v) = &q.verdict {
            qb.push(" AND verdict = ").push_bind(v.clone());
        }
        if let Some(s) = &q.severity {
            qb.push(" AND severity = ").push_bind(s.clone());
        }
        qb.push(" ORDER BY rule_id");
        let wanted: Option<std::collections::HashSet<&String>> =
            q.rule_ids.as_ref().map(|ids| ids.iter().collect());
        qb.build()
            .fetch_all(self.r())
            .await?
            .iter()
            .map(|r| {
                Ok(RuleState {
                    rule_id: r.try_get(0)?,
                    verdict: r.try_get(1)?,
                    severity: r.try_get(2)?,
                    scan_id: r.try_get(3)?,
                    evidence_hash: r.try_get(4)?,
                    since_at: r.try_get(5)?,
                })
            })
            .filter(|s: &Result<RuleState>| match (s, &wanted) {
                (Ok(s), Some(w)) => w.contains(&s.rule_id),
                _ => true,
            })
            .collect()
    }

    async fn host_changes(&self, host_id: Option<i64>, page: PageRequest) -> Result<Page<Change>> {
        // Separate statements per case: `$1 IS NULL OR host_id = $1` defeats SQLite's index.
        let total: i64 = match host_id {
            Some(h) => {
                sqlx::query("SELECT COUNT(*) FROM host_changes WHERE host_id = $1")
                    .bind(h)
                    .fetch_one(self.r())
                    .await?
            }
            None => sqlx::query("SELECT COUNT(*) FROM host_changes").fetch_one(self.r()).await?,
        }
        .try_get(0)?;
        let items = self.changes_page(host_id, page.per_page, page.offset()).await?;
        Ok(Page { items, total, page: page.page, per_page: page.per_page })
    }

    async fn recent_changes(&self, limit: i64) -> Result<Vec<Change>> {
        self.changes_page(None, limit, 0).await
    }

    async fn host_posture(&self, host_id: i64) -> Result<Vec<Posture>> {
        sqlx::query("SELECT framework, pass, fail, error, not_applicable FROM host_posture WHERE host_id = $1 ORDER BY framework")
            .bind(host_id)
            .fetch_all(self.r())
            .await?
            .iter()
            .map(posture_from)
            .collect()
    }

    async fn posture_history(&self, host_id: i64, since: Millis) -> Result<Vec<PosturePoint>> {
        sqlx::query(
            "SELECT framework, pass, fail, error, not_applicable, at, scan_id FROM posture_history \
             WHERE host_id = $1 AND at >= $2 ORDER BY at, framework",
        )
        .bind(host_id)
        .bind(since)
        .fetch_all(self.r())
        .await?
        .iter()
        .map(|r| {
            Ok(PosturePoint {
                at: r.try_get("at")?,
                scan_id: r.try_get("scan_id")?,
                posture: posture_from(r)?,
            })
        })
        .collect()
    }

    async fn fleet_summary(&self, now: Millis) -> Result<FleetSummary> {
        let r = self.r();
        let totals = sqlx::query(
            "SELECT COUNT(*), CAST(COALESCE(SUM(CASE WHEN last_scan_status = 'succeeded' THEN 1 ELSE 0 END), 0) AS BIGINT) \
             FROM hosts WHERE deleted_at IS NULL",
        )
        .fetch_one(r)
        .await?;
        let frameworks = sqlx::query(
            "SELECT framework, COUNT(*) AS hosts, CAST(SUM(pass) AS BIGINT) AS pass, CAST(SUM(fail) AS BIGINT) AS fail, \
             CAST(SUM(error) AS BIGINT) AS error, CAST(SUM(not_applicable) AS BIGINT) AS not_applicable FROM host_posture GROUP BY framework ORDER BY framework",
        )
        .fetch_all(r)
        .await?
        .iter()
        .map(|row| {
            Ok(FrameworkSummary {
                framework: row.try_get("framework")?,
                hosts: row.try_get("hosts")?,
                pass: row.try_get("pass")?,
                fail: row.try_get("fail")?,
                error: row.try_get("error")?,
                not_applicable: row.try_get("not_applicable")?,
            })
        })
        .collect::<Result<_>>()?;
        let sev = sqlx::query(
            "SELECT CAST(COALESCE(SUM(critical), 0) AS BIGINT), CAST(COALESCE(SUM(high), 0) AS BIGINT), \
             CAST(COALESCE(SUM(medium), 0) AS BIGINT), CAST(COALESCE(SUM(low), 0) AS BIGINT) FROM host_failures",
        )
        .fetch_one(r)
        .await?;
        let ranked = |rows: Vec<DbRow>| -> Result<Vec<Ranked>> {
            rows.iter()
                .map(|row| {
                    Ok(Ranked { id: row.try_get(0)?, name: row.try_get(1)?, failing: row.try_get(2)? })
                })
                .collect()
        };
        let top_rules = ranked(
            sqlx::query(
                "SELECT rule_id, rule_id, CAST(SUM(hosts) AS BIGINT) AS n FROM rule_failing GROUP BY rule_id \
                 HAVING SUM(hosts) > 0 ORDER BY n DESC, rule_id LIMIT 10",
            )
            .fetch_all(r)
            .await?,
        )?;
        let top_hosts = ranked(
            sqlx::query(
                "SELECT CAST(h.id AS TEXT), h.name, f.total FROM host_failures f JOIN hosts h ON h.id = f.host_id \
                 WHERE h.deleted_at IS NULL AND f.total > 0 ORDER BY f.total DESC, h.name LIMIT 10",
            )
            .fetch_all(r)
            .await?,
        )?;
        let attention = ranked(
            sqlx::query(
                "SELECT CAST(id AS TEXT), name, CAST(0 AS BIGINT) FROM hosts WHERE deleted_at IS NULL AND \
                 (reachability IN ('unreachable', 'host_key_pending', 'host_key_changed', 'auth_failed') \
                  OR last_scan_status = 'failed') ORDER BY name LIMIT 20",
            )
            .fetch_all(r)
            .await?,
        )?;
        let trend = sqlx::query(
            "SELECT day, framework, hosts, pass, fail FROM fleet_daily WHERE day > $1 ORDER BY day, framework",
        )
        .bind(day_of(now) - 31)
        .fetch_all(r)
        .await?
        .iter()
        .map(|row| {
            Ok(TrendPoint {
                day: row.try_get(0)?,
                framework: row.try_get(1)?,
                hosts: row.try_get(2)?,
                pass: row.try_get(3)?,
                fail: row.try_get(4)?,
            })
        })
        .collect::<Result<_>>()?;
        Ok(FleetSummary {
            hosts: totals.try_get(0)?,
            scanned_hosts: totals.try_get(1)?,
            frameworks,
            failing_by_severity: SeverityCounts {
                critical: sev.try_get(0)?,
                high: sev.try_get(1)?,
                medium: sev.try_get(2)?,
                low: sev.try_get(3)?,
            },
            top_failing_rules: top_rules,
            top_failing_hosts: top_hosts,
            needs_attention: attention,
            trend,
        })
    }

    async fn rule_verdicts(&self, rule_ids: &[String]) -> Result<Vec<(String, String, i64)>> {
        if rule_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT s.rule_id, s.verdict, COUNT(*) FROM host_rule_state s JOIN hosts h ON h.id = s.host_id \
             WHERE h.deleted_at IS NULL AND s.rule_id IN (",
        );
        let mut sep = qb.separated(", ");
        for id in rule_ids {
            sep.push_bind(id.clone());
        }
        qb.push(") GROUP BY s.rule_id, s.verdict ORDER BY s.rule_id, s.verdict");
        qb.build()
            .fetch_all(self.r())
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect()
    }

    async fn failing_hosts_by_rule(&self) -> Result<HashMap<String, i64>> {
        sqlx::query("SELECT rule_id, CAST(SUM(hosts) AS BIGINT) FROM rule_failing GROUP BY rule_id HAVING SUM(hosts) > 0")
            .fetch_all(self.r())
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    async fn roll_up_trend(&self, now: Millis) -> Result<()> {
        sqlx::query(
            "INSERT INTO fleet_daily (day, framework, hosts, pass, fail) \
             SELECT $1, framework, COUNT(*), SUM(pass), SUM(fail) FROM host_posture WHERE 1 = 1 GROUP BY framework \
             ON CONFLICT (day, framework) DO UPDATE SET hosts = excluded.hosts, pass = excluded.pass, fail = excluded.fail",
        )
        .bind(day_of(now))
        .execute(self.w())
        .await?;
        Ok(())
    }

    async fn seed_history(&self, h: &SeedHistory) -> Result<()> {
        let mut tx = self.w().begin_with(dialect::BEGIN_WRITE).await?;
        for chunk in h.posture.chunks(CHUNK) {
            let mut qb = QueryBuilder::<Db>::new(
                "INSERT INTO posture_history (host_id, framework, scan_id, at, pass, fail, error, not_applicable) ",
            );
            qb.push_values(chunk, |mut b, (host, at, p)| {
                b.push_bind(*host)
                    .push_bind(p.framework.clone())
                    .push_bind(-*at)
                    .push_bind(*at)
                    .push_bind(p.pass)
                    .push_bind(p.fail)
                    .push_bind(p.error)
                    .push_bind(p.not_applicable);
            });
            qb.build().execute(&mut *tx).await?;
        }
        for chunk in h.changes.chunks(CHUNK) {
            let mut qb = QueryBuilder::<Db>::new(
                "INSERT INTO host_changes (host_id, rule_id, scan_id, old_verdict, new_verdict, old_severity, new_severity, changed_at) ",
            );
            qb.push_values(chunk, |mut b, c| {
                b.push_bind(c.host_id)
                    .push_bind(c.rule_id.clone())
                    .push_bind(0i64)
                    .push_bind(c.old_verdict.clone())
                    .push_bind(c.new_verdict.clone())
                    .push_bind(c.severity.clone())
                    .push_bind(c.severity.clone())
                    .push_bind(c.changed_at);
            });
            qb.build().execute(&mut *tx).await?;
        }
        for t in &h.trend {
            sqlx::query(
                "INSERT INTO fleet_daily (day, framework, hosts, pass, fail) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (day, framework) DO NOTHING",
            )
            .bind(t.day)
            .bind(&t.framework)
            .bind(t.hosts)
            .bind(t.pass)
            .bind(t.fail)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    // --- jobs

    async fn enqueue(&self, j: &NewJob, now: Millis) -> Result<i64> {
        let mut tx = self.w().begin_with(dialect::BEGIN_WRITE).await?;
        let id = sqlx::query(
            "INSERT INTO jobs (kind, payload, host_id, scan_id, status, attempts, max_attempts, run_after, created_at) \
             VALUES ($1, $2, $3, $4, 'queued', 0, $5, $6, $7) RETURNING id",
        )
        .bind(&j.kind)
        .bind(json_text(&j.payload))
        .bind(j.host_id)
        .bind(j.scan_id)
        .bind(j.max_attempts)
        .bind(j.run_after)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        if let Some(sql) = dialect::NOTIFY_JOB {
            sqlx::query(sql).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    async fn claim(&self, worker: &str, kinds: &[&str], lease_ms: i64, now: Millis) -> Result<Option<Job>> {
        // Two workers may pick different queued jobs of one host at once; the partial unique
        // index on running jobs per host lets only one of them through. The loser retries.
        for _ in 0..5 {
            let mut qb = QueryBuilder::<Db>::new("UPDATE jobs SET status = 'running', locked_by = ");
            qb.push_bind(worker.to_owned()).push(", lease_until = ").push_bind(now + lease_ms);
            qb.push(", attempts = attempts + 1 WHERE id = (SELECT j.id FROM jobs j WHERE j.status = 'queued' AND j.run_after <= ");
            qb.push_bind(now).push(" AND j.kind IN (");
            let mut sep = qb.separated(", ");
            for k in kinds {
                sep.push_bind(k.to_string());
            }
            qb.push(
                ") AND (j.host_id IS NULL OR NOT EXISTS (SELECT 1 FROM jobs r WHERE r.host_id = j.host_id AND r.status = 'running')) \
                 ORDER BY j.run_after, j.id LIMIT 1",
            );
            qb.push(dialect::SKIP_LOCKED).push(format!(") RETURNING {JOB_COLUMNS}"));
            match qb.build().fetch_optional(self.w()).await {
                Ok(row) => return row.as_ref().map(job_from).transpose(),
                Err(sqlx::Error::Database(d)) if d.is_unique_violation() => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(None)
    }

    async fn heartbeat(&self, job_id: i64, worker: &str, lease_ms: i64, now: Millis) -> Result<bool> {
        Ok(sqlx::query(
            "UPDATE jobs SET lease_until = $1 WHERE id = $2 AND locked_by = $3 AND status = 'running'",
        )
        .bind(now + lease_ms)
        .bind(job_id)
        .bind(worker)
        .execute(self.w())
        .await?
        .rows_affected()
            == 1)
    }

    async fn complete_job(&self, job_id: i64, worker: &str, now: Millis) -> Result<bool> {
        let mut tx = self.w().begin_with(dialect::BEGIN_WRITE).await?;
        let ok = finish_scan_job(&mut tx, job_id, worker, "done", None, now).await?;
        tx.commit().await?;
        Ok(ok)
    }

    async fn fail_job(
        &self,
        job: &Job,
        worker: &str,
        error: &str,
        retry_at: Option<Millis>,
        now: Millis,
    ) -> Result<bool> {
        let mut tx = self.w().begin_with(dialect::BEGIN_WRITE).await?;
        let ok = match retry_at {
            Some(at) => {
                sqlx::query(
                    "UPDATE jobs SET status = 'queued', run_after = $1, locked_by = NULL, lease_until = NULL, last_error = $2 \
                     WHERE id = $3 AND locked_by = $4 AND status = 'running'",
                )
                .bind(at)
                .bind(error)
                .bind(job.id)
                .bind(worker)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1
            }
            None => finish_scan_job(&mut tx, job.id, worker, "failed", Some(error), now).await?,
        };
        tx.commit().await?;
        Ok(ok)
    }

    async fn reap(&self, now: Millis) -> Result<u64> {
        let mut tx = self.w().begin_with(dialect::BEGIN_WRITE).await?;
        let expired = sqlx::query(AssertSqlSafe(format!(
            "SELECT id, attempts, max_attempts, scan_id FROM jobs WHERE status = 'running' AND lease_until < $1{}",
            dialect::LOCK_SUFFIX
        )))
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        let msg = "the worker running this job stopped renewing its lease (killed or lost)";
        for row in &expired {
            let (id, attempts, max): (i64, i64, i64) = (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
            let scan_id: Option<i64> = row.try_get(3)?;
            let final_failure = attempts >= max;
            sqlx::query(
                "UPDATE jobs SET status = $1, locked_by = NULL, lease_until = NULL, last_error = $2, \
                 finished_at = $3 WHERE id = $4",
            )
            .bind(if final_failure { "failed" } else { "queued" })
            .bind(msg)
            .bind(final_failure.then_some(now))
            .bind(id)
            .execute(&mut *tx)
            .await?;
            if let Some(scan_id) = scan_id {
                sqlx::query("UPDATE scans SET status = $1, error_kind = 'lost', error_message = $2, finished_at = $3 WHERE id = $4")
                    .bind(if final_failure { "failed" } else { "queued" })
                    .bind(msg)
                    .bind(final_failure.then_some(now))
                    .bind(scan_id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        if !expired.is_empty()
            && let Some(sql) = dialect::NOTIFY_JOB
        {
            sqlx::query(sql).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(expired.len() as u64)
    }

    async fn queue_depth(&self) -> Result<QueueDepth> {
        let mut d = QueueDepth::default();
        for row in
            sqlx::query("SELECT status, COUNT(*) FROM jobs GROUP BY status").fetch_all(self.r()).await?
        {
            let n: i64 = row.try_get(1)?;
            match row.try_get::<String, _>(0)?.as_str() {
                "queued" => d.queued = n,
                "running" => d.running = n,
                "failed" => d.failed = n,
                _ => d.done += n,
            }
        }
        Ok(d)
    }

    async fn listen_for_jobs(&self, wake: &tokio::sync::Notify) -> Result<()> {
        self.listen_jobs(wake).await
    }

    // --- schedules

    async fn create_schedule(&self, s: &NewSchedule, now: Millis) -> Result<Schedule> {
        let row = sqlx::query(
            "INSERT INTO schedules (target_kind, target_id, interval_secs, cron, enabled, next_fire_at, created_at) \
             VALUES ($1, $2, $3, $4, 1, $5, $6) RETURNING *",
        )
        .bind(&s.target_kind)
        .bind(s.target_id)
        .bind(s.interval_secs)
        .bind(&s.cron)
        .bind(s.next_fire_at)
        .bind(now)
        .fetch_one(self.w())
        .await?;
        schedule_from(&row)
    }

    async fn list_schedules(&self) -> Result<Vec<Schedule>> {
        sqlx::query("SELECT * FROM schedules ORDER BY id")
            .fetch_all(self.r())
            .await?
            .iter()
            .map(schedule_from)
            .collect()
    }

    async fn delete_schedule(&self, id: i64) -> Result<bool> {
        Ok(sqlx::query("DELETE FROM schedules WHERE id = $1")
            .bind(id)
            .execute(self.w())
            .await?
            .rows_affected()
            == 1)
    }

    async fn due_schedules(&self, now: Millis) -> Result<Vec<Schedule>> {
        sqlx::query("SELECT * FROM schedules WHERE enabled = 1 AND next_fire_at <= $1 ORDER BY id")
            .bind(now)
            .fetch_all(self.w())
            .await?
            .iter()
            .map(schedule_from)
            .collect()
    }

    async fn set_next_fire(&self, id: i64, next_fire_at: Millis) -> Result<()> {
        sqlx::query("UPDATE schedules SET next_fire_at = $1 WHERE id = $2 AND next_fire_at < $1")
            .bind(next_fire_at)
            .bind(id)
            .execute(self.w())
            .await?;
        Ok(())
    }

    async fn claim_fire(&self, key: &str, fire_at: Millis) -> Result<bool> {
        Ok(sqlx::query(
            "INSERT INTO schedule_fires (fire_key, fire_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(key)
        .bind(fire_at)
        .execute(self.w())
        .await?
        .rows_affected()
            == 1)
    }

    async fn adaptive_candidates(&self) -> Result<Vec<AdaptiveCandidate>> {
        sqlx::query(
            "SELECT h.id, h.last_scan_at, COALESCE(f.critical, 0), COALESCE(f.high, 0), COALESCE(f.medium, 0), \
             COALESCE(f.low, 0) FROM hosts h LEFT JOIN host_failures f ON f.host_id = h.id \
             WHERE h.deleted_at IS NULL AND h.maintenance = 0 \
             AND NOT EXISTS (SELECT 1 FROM schedules s WHERE s.target_kind = 'host' AND s.target_id = h.id) \
             AND NOT EXISTS (SELECT 1 FROM schedules s JOIN host_group_members m ON m.group_id = s.target_id \
                             WHERE s.target_kind = 'group' AND m.host_id = h.id) ORDER BY h.id",
        )
        .fetch_all(self.r())
        .await?
        .iter()
        .map(|r| {
            Ok(AdaptiveCandidate {
                host_id: r.try_get(0)?,
                last_scan_at: r.try_get(1)?,
                failing: SeverityCounts {
                    critical: r.try_get(2)?,
                    high: r.try_get(3)?,
                    medium: r.try_get(4)?,
                    low: r.try_get(5)?,
                },
            })
        })
        .collect()
    }

    async fn scan_pending(&self, host_id: i64) -> Result<bool> {
        let n: i64 =
            sqlx::query("SELECT COUNT(*) FROM scans WHERE host_id = $1 AND status IN ('queued', 'running')")
                .bind(host_id)
                .fetch_one(self.w())
                .await?
                .try_get(0)?;
        Ok(n > 0)
    }

    // --- audit log and event stream

    async fn append_audit(&self, e: &NewAuditEvent) -> Result<AuditEvent> {
        self.append_audit_keyed(e).await
    }

    async fn verify_audit(&self) -> Result<AuditVerification> {
        self.verify_audit_chain().await
    }

    async fn list_audit(&self, q: &AuditQuery, page: PageRequest) -> Result<Page<AuditEvent>> {
        fn filters(qb: &mut QueryBuilder<Db>, q: &AuditQuery) {
            qb.push(" WHERE 1 = 1");
            if let Some(a) = &q.actor {
                qb.push(" AND actor = ").push_bind(a.clone());
            }
            if let Some(a) = &q.action {
                qb.push(" AND action LIKE ").push_bind(format!("{a}%"));
            }
            if let Some(s) = q.since {
                qb.push(" AND at >= ").push_bind(s);
            }
            if let Some(u) = q.until {
                qb.push(" AND at < ").push_bind(u);
            }
        }
        let mut cq = QueryBuilder::<Db>::new("SELECT COUNT(*) FROM audit_events");
        filters(&mut cq, q);
        let total = count(self.r(), cq).await?;
        let mut qb = QueryBuilder::<Db>::new(format!("SELECT {AUDIT_COLUMNS} FROM audit_events"));
        filters(&mut qb, q);
        qb.push(" ORDER BY seq DESC LIMIT ")
            .push_bind(page.per_page)
            .push(" OFFSET ")
            .push_bind(page.offset());
        let items = qb.build().fetch_all(self.r()).await?.iter().map(audit_from).collect::<Result<_>>()?;
        Ok(Page { items, total, page: page.page, per_page: page.per_page })
    }

    async fn all_audit(&self) -> Result<Vec<AuditEvent>> {
        sqlx::query(AssertSqlSafe(format!("SELECT {AUDIT_COLUMNS} FROM audit_events ORDER BY seq")))
            .fetch_all(self.w())
            .await?
            .iter()
            .map(audit_from)
            .collect()
    }

    async fn append_event(&self, kind: &str, data: &Value, now: Millis) -> Result<i64> {
        Ok(sqlx::query("INSERT INTO stream_events (at, kind, data) VALUES ($1, $2, $3) RETURNING id")
            .bind(now)
            .bind(kind)
            .bind(json_text(data))
            .fetch_one(self.w())
            .await?
            .try_get(0)?)
    }

    async fn events_after(&self, id: i64, limit: i64) -> Result<Vec<StreamEvent>> {
        sqlx::query("SELECT id, at, kind, data FROM stream_events WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(id)
            .bind(limit)
            .fetch_all(self.w())
            .await?
            .iter()
            .map(|r| {
                Ok(StreamEvent {
                    id: r.try_get(0)?,
                    at: r.try_get(1)?,
                    kind: r.try_get(2)?,
                    data: json_value(Some(r.try_get(3)?))?.unwrap_or(Value::Null),
                })
            })
            .collect()
    }

    async fn last_event_id(&self) -> Result<i64> {
        Ok(sqlx::query("SELECT COALESCE(MAX(id), 0) FROM stream_events")
            .fetch_one(self.w())
            .await?
            .try_get(0)?)
    }
}
