// The job queue: enqueue, claims with leases, heartbeats and the reaper.

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

/// Queue a job inside the caller's transaction (and wake listening workers at its commit).
async fn insert_job(tx: &mut Tx, j: &NewJob, now: Millis) -> Result<i64> {
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
    .fetch_one(&mut **tx)
    .await?
    .try_get(0)?;
    if let Some(sql) = dialect::NOTIFY_JOB {
        sqlx::query(sql).execute(&mut **tx).await?;
    }
    Ok(id)
}

#[async_trait]
impl JobStore for Backend {
    async fn enqueue(&self, j: &NewJob, now: Millis) -> Result<i64> {
        let mut tx = self.w().begin_with(dialect::BEGIN_WRITE).await?;
        let id = insert_job(&mut tx, j, now).await?;
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
            if final_failure {
                lost_fix_job(&mut tx, id, msg, now).await?;
                lost_delivery_job(&mut tx, id, msg, now).await?;
            }
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

    async fn expire_leases(&self, owner: &str, now: Millis) -> Result<u64> {
        let running = sqlx::query("SELECT id, locked_by FROM jobs WHERE status = 'running'").fetch_all(self.r()).await?;
        let mut n = 0;
        for row in running {
            let (id, by): (i64, Option<String>) = (row.try_get(0)?, row.try_get(1)?);
            let Some(by) = by.filter(|b| b.starts_with(owner)) else { continue };
            n += sqlx::query("UPDATE jobs SET lease_until = $1 WHERE id = $2 AND status = 'running' AND locked_by = $3")
                .bind(now - 1)
                .bind(id)
                .bind(by)
                .execute(self.w())
                .await?
                .rows_affected();
        }
        Ok(n)
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
}
