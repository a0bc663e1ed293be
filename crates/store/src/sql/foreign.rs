// Results of other scanners: an import per file, kept whole in one transaction.

const IMPORT_COLUMNS: &str = "id, source, filename, imported_by, imported_at, hosts, matched_hosts, results";

/// Rows per INSERT: 11 binds each stays under SQLite's and PostgreSQL's parameter limits.
const FOREIGN_CHUNK: usize = 500;

fn import_from(row: &DbRow) -> Result<StoredImport> {
    Ok(StoredImport {
        id: row.try_get("id")?,
        source: text_col(row, "source", ForeignSource::parse)?,
        filename: row.try_get("filename")?,
        imported_by: row.try_get("imported_by")?,
        imported_at: row.try_get("imported_at")?,
        hosts: row.try_get("hosts")?,
        matched_hosts: row.try_get("matched_hosts")?,
        results: row.try_get("results")?,
    })
}

fn json_list(row: &DbRow, col: &str) -> Result<Vec<String>> {
    let text: String = row.try_get(col)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("column {col}: {e}")))
}

#[async_trait]
impl ForeignResultStore for Backend {
    async fn store_import(&self, i: &NewImport, now: Millis) -> Result<StoredImport> {
        let results: usize = i.hosts.iter().map(|h| h.results.len()).sum();
        let matched = i.hosts.iter().filter(|h| h.host_id.is_some()).count();
        let mut tx = self.w().begin_with(dialect::BEGIN_WRITE).await?;
        let id: i64 = sqlx::query(
            "INSERT INTO imports (source, filename, imported_by, imported_at, hosts, matched_hosts, results) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(i.source.as_str())
        .bind(&i.filename)
        .bind(&i.imported_by)
        .bind(now)
        .bind(i.hosts.len() as i64)
        .bind(matched as i64)
        .bind(results as i64)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        let rows: Vec<(&NewImportedHost, &ForeignResult)> =
            i.hosts.iter().flat_map(|h| h.results.iter().map(move |r| (h, r))).collect();
        for chunk in rows.chunks(FOREIGN_CHUNK) {
            let mut qb = QueryBuilder::<Db>::new(
                "INSERT INTO import_results (import_id, host_id, target, rule_ref, result, verdict, severity, message, \
                 refs, openwatch_rule, related) ",
            );
            qb.push_values(chunk, |mut b, (h, r)| {
                b.push_bind(id)
                    .push_bind(h.host_id)
                    .push_bind(h.target.clone())
                    .push_bind(r.rule.clone())
                    .push_bind(r.result.clone())
                    .push_bind(r.verdict.as_str())
                    .push_bind(r.severity.clone())
                    .push_bind(r.message.clone())
                    .push_bind(serde_json::json!(r.references).to_string())
                    .push_bind(r.openwatch_rule.clone())
                    .push_bind(serde_json::json!(r.related_rules).to_string());
            });
            qb.build().execute(&mut *tx).await?;
        }
        emit(&mut tx, "import.stored", &serde_json::json!({ "import_id": id }), now).await?;
        tx.commit().await?;
        sqlx::query(AssertSqlSafe(format!("SELECT {IMPORT_COLUMNS} FROM imports WHERE id = $1")))
            .bind(id)
            .fetch_one(self.w())
            .await
            .map_err(StoreError::from)
            .and_then(|r| import_from(&r))
    }

    async fn list_imports(&self, page: PageRequest) -> Result<Page<StoredImport>> {
        let total = count(self.r(), QueryBuilder::<Db>::new("SELECT COUNT(*) FROM imports")).await?;
        let mut qb = QueryBuilder::<Db>::new(format!("SELECT {IMPORT_COLUMNS} FROM imports ORDER BY id DESC LIMIT "));
        qb.push_bind(page.per_page).push(" OFFSET ").push_bind(page.offset());
        let items = qb.build().fetch_all(self.r()).await?.iter().map(import_from).collect::<Result<_>>()?;
        Ok(Page { items, total, page: page.page, per_page: page.per_page })
    }

    async fn host_foreign_results(&self, host_id: i64) -> Result<Vec<HostForeignResult>> {
        let rows = sqlx::query(
            "SELECT r.import_id, i.source, i.imported_at, r.target, r.rule_ref, r.result, r.verdict, r.severity, \
             r.message, r.refs, r.openwatch_rule, r.related FROM import_results r JOIN imports i ON i.id = r.import_id \
             WHERE r.host_id = $1 AND r.import_id = (SELECT MAX(r2.import_id) FROM import_results r2 \
               JOIN imports i2 ON i2.id = r2.import_id WHERE r2.host_id = $1 AND i2.source = i.source) \
             ORDER BY i.source, r.id",
        )
        .bind(host_id)
        .fetch_all(self.r())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(HostForeignResult {
                    import_id: row.try_get("import_id")?,
                    source: text_col(row, "source", ForeignSource::parse)?,
                    imported_at: row.try_get("imported_at")?,
                    target: row.try_get("target")?,
                    result: ForeignResult {
                        rule: row.try_get("rule_ref")?,
                        result: row.try_get("result")?,
                        verdict: text_col(row, "verdict", Status::parse)?,
                        severity: row.try_get("severity")?,
                        message: row.try_get("message")?,
                        references: json_list(row, "refs")?,
                        openwatch_rule: row.try_get("openwatch_rule")?,
                        related_rules: json_list(row, "related")?,
                    },
                })
            })
            .collect()
    }

    async fn control_foreign_counts(&self, reference: &str) -> Result<Vec<(ForeignSource, Status, i64)>> {
        // refs holds a JSON list of strings: the quoted key matches one whole entry.
        let pattern = format!("%{}%", serde_json::json!(reference));
        let rows = sqlx::query(
            "SELECT i.source, r.verdict, COUNT(*) AS n FROM import_results r JOIN imports i ON i.id = r.import_id \
             WHERE r.refs LIKE $1 AND r.import_id = (SELECT MAX(r2.import_id) FROM import_results r2 \
               JOIN imports i2 ON i2.id = r2.import_id WHERE r2.target = r.target AND i2.source = i.source) \
             GROUP BY i.source, r.verdict ORDER BY i.source, r.verdict",
        )
        .bind(pattern)
        .fetch_all(self.r())
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    text_col(row, "source", ForeignSource::parse)?,
                    text_col(row, "verdict", Status::parse)?,
                    row.try_get("n")?,
                ))
            })
            .collect()
    }
}
