// The audit log (its keyed chain lives in `keys.rs`).

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

#[async_trait]
impl AuditStore for Backend {
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
}
