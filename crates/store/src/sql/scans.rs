// Scans, their results and evidence, and the jobs that run them.

fn scan_from(row: &DbRow) -> Result<Scan> {
    Ok(Scan {
        id: row.try_get("id")?,
        host_id: row.try_get("host_id")?,
        host_name: row.try_get("host_name")?,
        status: text_col(row, "status", ScanStatus::parse)?,
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

/// The alert rules' look at a finished scan, queued with its outcome in one transaction so
/// no outcome goes unlooked-at (`worker::alerts`).
fn alerts_job(scan_id: i64, now: Millis) -> NewJob {
    NewJob {
        kind: "alerts".into(),
        payload: serde_json::json!({"scan_id": scan_id}),
        host_id: None,
        scan_id: None,
        max_attempts: 5,
        run_after: now,
    }
}

#[async_trait]
impl ScanStore for Backend {
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
        let job = NewJob {
            kind: "scan".into(),
            payload: serde_json::json!({ "scan_id": scan_id }),
            host_id: Some(req.host_id),
            scan_id: Some(scan_id),
            max_attempts: req.max_attempts,
            run_after: now,
        };
        insert_job(&mut tx, &job, now).await?;
        emit(&mut tx, "scan.queued", &serde_json::json!({"scan_id": scan_id, "host_id": req.host_id}), now)
            .await?;
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
                qb.push(" AND s.status = ").push_bind(s.as_str());
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
        insert_job(&mut tx, &alerts_job(o.scan_id, o.finished_at), o.finished_at).await?;
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
            .bind(f.reachability.as_str())
            .bind(&f.message)
            .bind(f.finished_at)
            .bind(f.host_id)
            .execute(&mut *tx)
            .await?;
        if retry_at.is_none() {
            let data = serde_json::json!({"scan_id": f.scan_id, "host_id": f.host_id, "status": "failed",
                "error": {"kind": f.kind, "message": f.message}});
            emit(&mut tx, "scan.completed", &data, f.finished_at).await?;
            insert_job(&mut tx, &alerts_job(f.scan_id, f.finished_at), f.finished_at).await?;
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
                qb.push(" AND verdict = ").push_bind(v.as_str());
            }
            if let Some(s) = &q.severity {
                qb.push(" AND severity = ").push_bind(s.as_str());
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
            "SELECT rule_id, verdict, severity, reason, evidence_hash, exception_id FROM scan_results",
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
                    verdict: text_col(r, 1, Status::parse)?,
                    severity: text_col(r, 2, Severity::parse)?,
                    reason: r.try_get(3)?,
                    evidence_hash: r.try_get(4)?,
                    exception_id: r.try_get(5)?,
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
}
