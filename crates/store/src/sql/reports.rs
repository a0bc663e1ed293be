// Reports drawn by workers: queued with their job, progress while drawn, the file when done.
// A report whose job failed for good (out of attempts, or reaped) reads as failed, with the
// job's last error, even if its worker died before saying so.

const REPORT_COLUMNS: &str = "r.id, r.scope, r.scope_id, r.scope_name, r.framework, r.format, r.detail, \
    CASE WHEN r.status IN ('queued', 'running') AND j.status = 'failed' THEN 'failed' ELSE r.status END AS status, \
    r.done, r.total, r.requested_by, r.requested_at, COALESCE(r.finished_at, CASE WHEN j.status = 'failed' THEN j.finished_at END) AS finished_at, \
    COALESCE(r.error, CASE WHEN j.status = 'failed' THEN j.last_error END) AS error, r.filename, r.content_type, r.size";

const REPORT_FROM: &str = "reports r LEFT JOIN jobs j ON j.id = r.job_id";

fn report_from(row: &DbRow) -> Result<Report> {
    Ok(Report {
        id: row.try_get("id")?,
        scope: text_col(row, "scope", ReportScope::parse)?,
        scope_id: row.try_get("scope_id")?,
        scope_name: row.try_get("scope_name")?,
        framework: row.try_get("framework")?,
        format: text_col(row, "format", ReportFormat::parse)?,
        detail: text_col(row, "detail", ReportDetail::parse)?,
        status: text_col(row, "status", ReportStatus::parse)?,
        done: row.try_get("done")?,
        total: row.try_get("total")?,
        requested_by: row.try_get("requested_by")?,
        requested_at: row.try_get("requested_at")?,
        finished_at: row.try_get("finished_at")?,
        error: row.try_get("error")?,
        filename: row.try_get("filename")?,
        content_type: row.try_get("content_type")?,
        size: row.try_get("size")?,
    })
}

#[async_trait]
impl ReportStore for Backend {
    async fn queue_report(&self, r: &NewReport, now: Millis) -> Result<Report> {
        let mut tx = self.w().begin_with(dialect::BEGIN_WRITE).await?;
        let id: i64 = sqlx::query(
            "INSERT INTO reports (scope, scope_id, scope_name, framework, format, detail, status, requested_by, requested_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $8) RETURNING id",
        )
        .bind(r.scope.as_str())
        .bind(r.scope_id)
        .bind(&r.scope_name)
        .bind(&r.framework)
        .bind(r.format.as_str())
        .bind(r.detail.as_str())
        .bind(&r.requested_by)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        let job = NewJob {
            kind: "report".into(),
            payload: serde_json::json!({ "report_id": id }),
            host_id: None,
            scan_id: None,
            max_attempts: 3,
            run_after: now,
        };
        let job_id = insert_job(&mut tx, &job, now).await?;
        sqlx::query("UPDATE reports SET job_id = $1 WHERE id = $2").bind(job_id).bind(id).execute(&mut *tx).await?;
        tx.commit().await?;
        self.report(id).await?.ok_or_else(|| StoreError::Corrupt(format!("report {id} vanished")))
    }

    async fn report(&self, id: i64) -> Result<Option<Report>> {
        sqlx::query(AssertSqlSafe(format!("SELECT {REPORT_COLUMNS} FROM {REPORT_FROM} WHERE r.id = $1")))
            .bind(id)
            .fetch_optional(self.r())
            .await?
            .as_ref()
            .map(report_from)
            .transpose()
    }

    async fn list_reports(&self, page: PageRequest) -> Result<Page<Report>> {
        let total = count(self.r(), QueryBuilder::<Db>::new("SELECT COUNT(*) FROM reports")).await?;
        let mut qb = QueryBuilder::<Db>::new(format!("SELECT {REPORT_COLUMNS} FROM {REPORT_FROM}"));
        qb.push(" ORDER BY r.id DESC LIMIT ").push_bind(page.per_page).push(" OFFSET ").push_bind(page.offset());
        let items = qb.build().fetch_all(self.r()).await?.iter().map(report_from).collect::<Result<_>>()?;
        Ok(Page { items, total, page: page.page, per_page: page.per_page })
    }

    async fn report_progress(&self, id: i64, done: i64, total: i64) -> Result<()> {
        sqlx::query(
            "UPDATE reports SET status = 'running', done = $1, total = $2, error = NULL, finished_at = NULL \
             WHERE id = $3 AND status IN ('queued', 'running')",
        )
        .bind(done)
        .bind(total)
        .bind(id)
        .execute(self.w())
        .await?;
        Ok(())
    }

    async fn complete_report(&self, job: &Job, worker: &str, id: i64, file: &ReportFile, now: Millis) -> Result<bool> {
        let mut tx = self.w().begin_with(dialect::BEGIN_WRITE).await?;
        if !finish_scan_job(&mut tx, job.id, worker, "done", None, now).await? {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE reports SET status = 'succeeded', done = total, finished_at = $1, filename = $2, content_type = $3, \
             size = $4, body = $5 WHERE id = $6",
        )
        .bind(now)
        .bind(&file.filename)
        .bind(&file.content_type)
        .bind(file.body.len() as i64)
        .bind(&file.body)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        emit(&mut tx, "report.succeeded", &serde_json::json!({ "report_id": id }), now).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn fail_report(&self, id: i64, error: &str, now: Millis) -> Result<()> {
        sqlx::query("UPDATE reports SET status = 'failed', error = $1, finished_at = $2 WHERE id = $3 AND status <> 'succeeded'")
            .bind(error)
            .bind(now)
            .bind(id)
            .execute(self.w())
            .await?;
        Ok(())
    }

    async fn report_file(&self, id: i64) -> Result<Option<ReportFile>> {
        let row = sqlx::query(
            "SELECT filename, content_type, body FROM reports WHERE id = $1 AND status = 'succeeded' AND body IS NOT NULL",
        )
        .bind(id)
        .fetch_optional(self.r())
        .await?;
        row.map(|row| {
            Ok(ReportFile {
                filename: row.try_get("filename")?,
                content_type: row.try_get("content_type")?,
                body: row.try_get("body")?,
            })
        })
        .transpose()
    }
}
