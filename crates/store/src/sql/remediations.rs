// Remediation requests, their hosts' previews and runs, fix transactions and rollbacks.

const REMEDIATION_COLUMNS: &str = "r.id, r.status, r.risk, r.rule_ids, r.requested_by, r.requested_at, r.note, \
    r.decided_by, r.decided_at, r.decision_note, r.finished_at, \
    (SELECT COUNT(*) FROM remediation_hosts x WHERE x.remediation_id = r.id) AS hosts, \
    (SELECT CAST(COALESCE(SUM(x.planned), 0) AS BIGINT) FROM remediation_hosts x WHERE x.remediation_id = r.id) AS planned";

const TXN_COLUMNS: &str = "t.id, t.remediation_id, t.host_id, h.name AS host_name, t.rule_id, t.outcome, t.risk, \
    t.diff, t.actions, t.pre_state, t.message, t.created_at, t.rollback_status, t.rollback_by, t.rollback_at, \
    t.rollback_message";

fn remediation_from(row: &DbRow) -> Result<Remediation> {
    Ok(Remediation {
        id: row.try_get("id")?,
        status: text_col(row, "status", RemediationStatus::parse)?,
        risk: opt_text_col(row, "risk", openwatch_core::fix::Risk::parse)?,
        rule_ids: string_list(&row.try_get::<String, _>("rule_ids")?)?,
        requested_by: row.try_get("requested_by")?,
        requested_at: row.try_get("requested_at")?,
        note: row.try_get("note")?,
        decided_by: row.try_get("decided_by")?,
        decided_at: row.try_get("decided_at")?,
        decision_note: row.try_get("decision_note")?,
        finished_at: row.try_get("finished_at")?,
        hosts: row.try_get("hosts")?,
        planned: row.try_get("planned")?,
    })
}

fn txn_from(row: &DbRow) -> Result<FixTransaction> {
    Ok(FixTransaction {
        id: row.try_get("id")?,
        remediation_id: row.try_get("remediation_id")?,
        host_id: row.try_get("host_id")?,
        host_name: row.try_get("host_name")?,
        rule_id: row.try_get("rule_id")?,
        outcome: text_col(row, "outcome", TxnOutcome::parse)?,
        risk: opt_text_col(row, "risk", openwatch_core::fix::Risk::parse)?,
        diff: row.try_get("diff")?,
        actions: json_value(row.try_get("actions")?)?.unwrap_or(Value::Null),
        pre_state: json_value(row.try_get("pre_state")?)?.unwrap_or(Value::Null),
        message: row.try_get("message")?,
        created_at: row.try_get("created_at")?,
        rollback_status: opt_text_col(row, "rollback_status", RollbackStatus::parse)?,
        rollback_by: row.try_get("rollback_by")?,
        rollback_at: row.try_get("rollback_at")?,
        rollback_message: row.try_get("rollback_message")?,
    })
}

fn fix_job(remediation_id: i64, host_id: i64, apply: bool, max_attempts: i64, now: Millis) -> NewJob {
    NewJob {
        kind: "fix".into(),
        payload: serde_json::json!({"remediation_id": remediation_id, "apply": apply}),
        host_id: Some(host_id),
        scan_id: None,
        max_attempts,
        run_after: now,
    }
}

async fn remediation_in(tx: &mut Tx, id: i64) -> Result<Option<Remediation>> {
    sqlx::query(AssertSqlSafe(format!("SELECT {REMEDIATION_COLUMNS} FROM remediations r WHERE r.id = $1")))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .as_ref()
        .map(remediation_from)
        .transpose()
}

/// Lock a request's row for the rest of the transaction (SQLite's writer lock already does).
async fn lock_remediation(tx: &mut Tx, id: i64) -> Result<Option<RemediationStatus>> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT status FROM remediations WHERE id = $1{}",
        dialect::LOCK_SUFFIX
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    row.as_ref().map(|r| text_col(r, 0, RemediationStatus::parse)).transpose()
}

/// Lock a request and complete a host's job of it; `None` when the request is gone or the
/// worker lost the job's lease (nothing is written then).
async fn finish_host_job(
    tx: &mut Tx,
    job: &Job,
    worker: &str,
    remediation_id: i64,
    now: Millis,
) -> Result<Option<RemediationStatus>> {
    let Some(status) = lock_remediation(tx, remediation_id).await? else { return Ok(None) };
    Ok(finish_scan_job(tx, job.id, worker, "done", None, now).await?.then_some(status))
}

/// Move a request on once none of its hosts is still being previewed (or run): to waiting
/// for a decision with its highest risk, or to done. Called with the request's row locked.
async fn advance_remediation(tx: &mut Tx, id: i64, status: RemediationStatus, now: Millis) -> Result<()> {
    let busy = match status {
        RemediationStatus::Previewing => FixPhase::Previewing,
        RemediationStatus::Applying => FixPhase::Applying,
        _ => return Ok(()),
    };
    let rows = sqlx::query("SELECT phase, risk, planned FROM remediation_hosts WHERE remediation_id = $1")
        .bind(id)
        .fetch_all(&mut **tx)
        .await?;
    let mut risk = None;
    let mut planned = 0i64;
    for row in &rows {
        if text_col(row, 0, FixPhase::parse)? == busy {
            return Ok(());
        }
        risk = risk.max(opt_text_col(row, 1, openwatch_core::fix::Risk::parse)?);
        planned += row.try_get::<i64, _>(2)?;
    }
    let next = if status == RemediationStatus::Previewing && planned > 0 {
        RemediationStatus::AwaitingApproval
    } else {
        RemediationStatus::Done
    };
    sqlx::query("UPDATE remediations SET status = $1, risk = COALESCE(risk, $2), finished_at = $3 WHERE id = $4")
        .bind(next.as_str())
        .bind(risk.map(|r| r.as_str()))
        .bind((next == RemediationStatus::Done).then_some(now))
        .bind(id)
        .execute(&mut **tx)
        .await?;
    emit(tx, "remediation.updated", &serde_json::json!({"remediation_id": id, "status": next}), now).await?;
    Ok(())
}

/// A fix or rollback job the reaper gave up on: its host or rollback is failed, so no
/// request waits forever for a worker that died.
async fn lost_fix_job(tx: &mut Tx, job_id: i64, msg: &str, now: Millis) -> Result<()> {
    let host = sqlx::query(
        "UPDATE remediation_hosts SET phase = 'failed', error = $1, updated_at = $2 \
         WHERE job_id = $3 AND phase IN ('previewing', 'applying') RETURNING remediation_id",
    )
    .bind(msg)
    .bind(now)
    .bind(job_id)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(row) = host {
        let id: i64 = row.try_get(0)?;
        if let Some(status) = lock_remediation(tx, id).await? {
            advance_remediation(tx, id, status, now).await?;
        }
    }
    sqlx::query(
        "UPDATE fix_transactions SET rollback_status = 'failed', rollback_message = $1, rollback_at = $2 \
         WHERE rollback_job_id = $3 AND rollback_status = 'queued'",
    )
    .bind(msg)
    .bind(now)
    .bind(job_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[async_trait]
impl RemediationStore for Backend {
    async fn create_remediation(&self, r: &NewRemediation, now: Millis) -> Result<Remediation> {
        let mut tx = self.w().begin_with(dialect::BEGIN_WRITE).await?;
        let id: i64 = sqlx::query(
            "INSERT INTO remediations (status, rule_ids, requested_by, requested_at, note) \
             VALUES ('previewing', $1, $2, $3, $4) RETURNING id",
        )
        .bind(json_text(&serde_json::json!(r.rule_ids)))
        .bind(&r.requested_by)
        .bind(now)
        .bind(&r.note)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        for &host_id in &r.host_ids {
            let job = insert_job(&mut tx, &fix_job(id, host_id, false, r.max_attempts, now), now).await?;
            sqlx::query(
                "INSERT INTO remediation_hosts (remediation_id, host_id, phase, job_id, updated_at) \
                 VALUES ($1, $2, 'previewing', $3, $4)",
            )
            .bind(id)
            .bind(host_id)
            .bind(job)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        emit(&mut tx, "remediation.updated", &serde_json::json!({"remediation_id": id, "status": "previewing"}), now)
            .await?;
        let created = remediation_in(&mut tx, id).await?;
        tx.commit().await?;
        created.ok_or_else(|| StoreError::Corrupt("a new remediation vanished".into()))
    }

    async fn remediation(&self, id: i64) -> Result<Option<Remediation>> {
        sqlx::query(AssertSqlSafe(format!("SELECT {REMEDIATION_COLUMNS} FROM remediations r WHERE r.id = $1")))
            .bind(id)
            .fetch_optional(self.r())
            .await?
            .as_ref()
            .map(remediation_from)
            .transpose()
    }

    async fn remediation_hosts(&self, id: i64) -> Result<Vec<RemediationHost>> {
        let rows = sqlx::query(
            "SELECT x.remediation_id, x.host_id, h.name, x.phase, x.risk, x.planned, x.error, x.preview, x.result, \
             x.updated_at FROM remediation_hosts x JOIN hosts h ON h.id = x.host_id \
             WHERE x.remediation_id = $1 ORDER BY h.name",
        )
        .bind(id)
        .fetch_all(self.r())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(RemediationHost {
                    remediation_id: row.try_get(0)?,
                    host_id: row.try_get(1)?,
                    host_name: row.try_get(2)?,
                    phase: text_col(row, 3, FixPhase::parse)?,
                    risk: opt_text_col(row, 4, openwatch_core::fix::Risk::parse)?,
                    planned: row.try_get(5)?,
                    error: row.try_get(6)?,
                    preview: json_value(row.try_get(7)?)?,
                    result: json_value(row.try_get(8)?)?,
                    updated_at: row.try_get(9)?,
                })
            })
            .collect()
    }

    async fn list_remediations(&self, q: &RemediationQuery, page: PageRequest) -> Result<Page<Remediation>> {
        fn filters(qb: &mut QueryBuilder<Db>, q: &RemediationQuery) {
            qb.push(" WHERE 1 = 1");
            if let Some(s) = q.status {
                qb.push(" AND r.status = ").push_bind(s.as_str());
            }
            if let Some(h) = q.host_id {
                qb.push(" AND EXISTS (SELECT 1 FROM remediation_hosts x WHERE x.remediation_id = r.id AND x.host_id = ")
                    .push_bind(h)
                    .push(")");
            }
        }
        let mut cq = QueryBuilder::<Db>::new("SELECT COUNT(*) FROM remediations r");
        filters(&mut cq, q);
        let total = count(self.r(), cq).await?;
        let mut qb = QueryBuilder::<Db>::new(format!("SELECT {REMEDIATION_COLUMNS} FROM remediations r"));
        filters(&mut qb, q);
        qb.push(" ORDER BY r.id DESC LIMIT ").push_bind(page.per_page).push(" OFFSET ").push_bind(page.offset());
        let items = qb.build().fetch_all(self.r()).await?.iter().map(remediation_from).collect::<Result<_>>()?;
        Ok(Page { items, total, page: page.page, per_page: page.per_page })
    }

    async fn record_preview(
        &self,
        job: &Job,
        worker: &str,
        remediation_id: i64,
        p: &HostPreview,
        now: Millis,
    ) -> Result<Option<Remediation>> {
        let mut tx = self.w().begin_with(dialect::BEGIN_WRITE).await?;
        let Some(status) = finish_host_job(&mut tx, job, worker, remediation_id, now).await? else {
            return Ok(None);
        };
        let phase = if p.error.is_some() { FixPhase::Failed } else { FixPhase::Previewed };
        sqlx::query(
            "UPDATE remediation_hosts SET phase = $1, risk = $2, planned = $3, preview = $4, error = $5, \
             updated_at = $6 WHERE remediation_id = $7 AND host_id = $8 AND phase = 'previewing'",
        )
        .bind(phase.as_str())
        .bind(p.risk.map(|r| r.as_str()))
        .bind(p.planned)
        .bind(p.report.as_ref().map(json_text))
        .bind(&p.error)
        .bind(now)
        .bind(remediation_id)
        .bind(p.host_id)
        .execute(&mut *tx)
        .await?;
        advance_remediation(&mut tx, remediation_id, status, now).await?;
        let r = remediation_in(&mut tx, remediation_id).await?;
        tx.commit().await?;
        Ok(r)
    }

    async fn decide_remediation(
        &self,
        id: i64,
        approve: bool,
        by: &str,
        note: &str,
        max_attempts: i64,
        now: Millis,
    ) -> Result<Option<Remediation>> {
        let mut tx = self.w().begin_with(dialect::BEGIN_WRITE).await?;
        if lock_remediation(&mut tx, id).await? != Some(RemediationStatus::AwaitingApproval) {
            return Ok(None);
        }
        let next = if approve { RemediationStatus::Applying } else { RemediationStatus::Rejected };
        sqlx::query(
            "UPDATE remediations SET status = $1, decided_by = $2, decided_at = $3, decision_note = $4, \
             finished_at = $5 WHERE id = $6",
        )
        .bind(next.as_str())
        .bind(by)
        .bind(now)
        .bind(note)
        .bind((!approve).then_some(now))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if approve {
            let hosts: Vec<i64> = sqlx::query(
                "SELECT host_id FROM remediation_hosts WHERE remediation_id = $1 AND phase = 'previewed' \
                 AND planned > 0 ORDER BY host_id",
            )
            .bind(id)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
            for host_id in hosts {
                let job = insert_job(&mut tx, &fix_job(id, host_id, true, max_attempts, now), now).await?;
                sqlx::query(
                    "UPDATE remediation_hosts SET phase = 'applying', job_id = $1, updated_at = $2 \
                     WHERE remediation_id = $3 AND host_id = $4",
                )
                .bind(job)
                .bind(now)
                .bind(id)
                .bind(host_id)
                .execute(&mut *tx)
                .await?;
            }
            advance_remediation(&mut tx, id, next, now).await?;
        }
        emit(&mut tx, "remediation.updated", &serde_json::json!({"remediation_id": id, "status": next}), now)
            .await?;
        let r = remediation_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(r)
    }

    async fn record_fix(
        &self,
        job: &Job,
        worker: &str,
        remediation_id: i64,
        run: &HostFixRun,
        now: Millis,
    ) -> Result<Option<Remediation>> {
        let mut tx = self.w().begin_with(dialect::BEGIN_WRITE).await?;
        let Some(status) = finish_host_job(&mut tx, job, worker, remediation_id, now).await? else {
            return Ok(None);
        };
        let phase = if run.error.is_some() { FixPhase::Failed } else { FixPhase::Applied };
        sqlx::query(
            "UPDATE remediation_hosts SET phase = $1, result = $2, error = $3, updated_at = $4 \
             WHERE remediation_id = $5 AND host_id = $6 AND phase = 'applying'",
        )
        .bind(phase.as_str())
        .bind(run.report.as_ref().map(json_text))
        .bind(&run.error)
        .bind(now)
        .bind(remediation_id)
        .bind(run.host_id)
        .execute(&mut *tx)
        .await?;
        for t in &run.transactions {
            sqlx::query(
                "INSERT INTO fix_transactions (id, remediation_id, host_id, rule_id, outcome, risk, diff, actions, \
                 pre_state, message, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(&t.id)
            .bind(remediation_id)
            .bind(run.host_id)
            .bind(&t.rule_id)
            .bind(t.outcome.as_str())
            .bind(t.risk.map(|r| r.as_str()))
            .bind(&t.diff)
            .bind(json_text(&t.actions))
            .bind(json_text(&t.pre_state))
            .bind(&t.message)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        advance_remediation(&mut tx, remediation_id, status, now).await?;
        let r = remediation_in(&mut tx, remediation_id).await?;
        tx.commit().await?;
        Ok(r)
    }

    async fn fix_transactions(&self, q: &FixTransactionQuery) -> Result<Vec<FixTransaction>> {
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT {TXN_COLUMNS} FROM fix_transactions t JOIN hosts h ON h.id = t.host_id WHERE 1 = 1"
        ));
        if let Some(h) = q.host_id {
            qb.push(" AND t.host_id = ").push_bind(h);
        }
        if let Some(r) = q.remediation_id {
            qb.push(" AND t.remediation_id = ").push_bind(r);
        }
        qb.push(" ORDER BY t.created_at DESC, h.name, t.rule_id LIMIT 1000");
        qb.build().fetch_all(self.r()).await?.iter().map(txn_from).collect()
    }

    async fn fix_transaction(&self, id: &str) -> Result<Option<FixTransaction>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {TXN_COLUMNS} FROM fix_transactions t JOIN hosts h ON h.id = t.host_id WHERE t.id = $1"
        )))
        .bind(id)
        .fetch_optional(self.w())
        .await?
        .as_ref()
        .map(txn_from)
        .transpose()
    }

    async fn queue_rollback(&self, id: &str, by: &str, max_attempts: i64, now: Millis) -> Result<bool> {
        let mut tx = self.w().begin_with(dialect::BEGIN_WRITE).await?;
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT host_id FROM fix_transactions WHERE id = $1 AND outcome = 'fixed' \
             AND (rollback_status IS NULL OR rollback_status = 'failed'){}",
            dialect::LOCK_SUFFIX
        )))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Ok(false) };
        let host_id: i64 = row.try_get(0)?;
        let job = NewJob {
            kind: "fix_rollback".into(),
            payload: serde_json::json!({"transaction_id": id}),
            host_id: Some(host_id),
            scan_id: None,
            max_attempts,
            run_after: now,
        };
        let job_id = insert_job(&mut tx, &job, now).await?;
        sqlx::query(
            "UPDATE fix_transactions SET rollback_status = 'queued', rollback_by = $1, rollback_at = $2, \
             rollback_message = NULL, rollback_job_id = $3 WHERE id = $4",
        )
        .bind(by)
        .bind(now)
        .bind(job_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        emit(&mut tx, "remediation.rollback", &serde_json::json!({"transaction_id": id, "status": "queued"}), now)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn record_rollback(
        &self,
        job: &Job,
        worker: &str,
        id: &str,
        ok: bool,
        message: &str,
        now: Millis,
    ) -> Result<bool> {
        let mut tx = self.w().begin_with(dialect::BEGIN_WRITE).await?;
        if !finish_scan_job(&mut tx, job.id, worker, "done", None, now).await? {
            return Ok(false);
        }
        let status = if ok { RollbackStatus::Done } else { RollbackStatus::Failed };
        sqlx::query(
            "UPDATE fix_transactions SET rollback_status = $1, rollback_message = $2, rollback_at = $3 \
             WHERE id = $4 AND rollback_job_id = $5",
        )
        .bind(status.as_str())
        .bind(message)
        .bind(now)
        .bind(id)
        .bind(job.id)
        .execute(&mut *tx)
        .await?;
        emit(&mut tx, "remediation.rollback", &serde_json::json!({"transaction_id": id, "status": status}), now)
            .await?;
        tx.commit().await?;
        Ok(true)
    }
}
