// Alert rules and alerts: raising with deduplication and a quiet period, acknowledging,
// resolving.

const ALERT_COLUMNS: &str = "id, rule_id, kind, dedup_key, severity, subject, body, details, host_id, status, \
    occurrences, first_at, last_at, notified_at, acked_by, acked_at, resolved_by, resolved_at";

fn alert_rule_from(row: &DbRow) -> Result<AlertRule> {
    Ok(AlertRule {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        kind: text_col(row, "kind", AlertKind::parse)?,
        params: json_value(row.try_get("params")?)?.unwrap_or(Value::Null),
        quiet_secs: row.try_get("quiet_secs")?,
        enabled: row.try_get::<i64, _>("enabled")? != 0,
        created_at: row.try_get("created_at")?,
    })
}

fn alert_from(row: &DbRow) -> Result<Alert> {
    Ok(Alert {
        id: row.try_get("id")?,
        rule_id: row.try_get("rule_id")?,
        kind: text_col(row, "kind", AlertKind::parse)?,
        dedup_key: row.try_get("dedup_key")?,
        severity: row.try_get("severity")?,
        subject: row.try_get("subject")?,
        body: row.try_get("body")?,
        details: json_value(row.try_get("details")?)?.unwrap_or(Value::Null),
        host_id: row.try_get("host_id")?,
        status: text_col(row, "status", AlertStatus::parse)?,
        occurrences: row.try_get("occurrences")?,
        first_at: row.try_get("first_at")?,
        last_at: row.try_get("last_at")?,
        notified_at: row.try_get("notified_at")?,
        acked_by: row.try_get("acked_by")?,
        acked_at: row.try_get("acked_at")?,
        resolved_by: row.try_get("resolved_by")?,
        resolved_at: row.try_get("resolved_at")?,
    })
}

async fn alert_in(tx: &mut Tx, id: i64) -> Result<Option<Alert>> {
    sqlx::query(AssertSqlSafe(format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = $1")))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .as_ref()
        .map(alert_from)
        .transpose()
}

#[async_trait]
impl AlertStore for Backend {
    async fn create_alert_rule(&self, r: &NewAlertRule, now: Millis) -> Result<AlertRule> {
        let id: i64 = sqlx::query(
            "INSERT INTO alert_rules (name, kind, params, quiet_secs, enabled, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(&r.name)
        .bind(r.kind.as_str())
        .bind(r.params.to_string())
        .bind(r.quiet_secs)
        .bind(i64::from(r.enabled))
        .bind(now)
        .fetch_one(self.w())
        .await
        .map_err(|e| StoreError::conflict_or(e, "an alert rule with this name"))?
        .try_get(0)?;
        self.alert_rule(id).await?.ok_or_else(|| StoreError::Corrupt(format!("alert rule {id} vanished")))
    }

    async fn alert_rules(&self) -> Result<Vec<AlertRule>> {
        sqlx::query("SELECT * FROM alert_rules ORDER BY name")
            .fetch_all(self.r())
            .await?
            .iter()
            .map(alert_rule_from)
            .collect()
    }

    async fn alert_rule(&self, id: i64) -> Result<Option<AlertRule>> {
        sqlx::query("SELECT * FROM alert_rules WHERE id = $1")
            .bind(id)
            .fetch_optional(self.r())
            .await?
            .as_ref()
            .map(alert_rule_from)
            .transpose()
    }

    async fn update_alert_rule(&self, id: i64, r: &NewAlertRule) -> Result<Option<AlertRule>> {
        let n = sqlx::query(
            "UPDATE alert_rules SET name = $1, kind = $2, params = $3, quiet_secs = $4, enabled = $5 WHERE id = $6",
        )
        .bind(&r.name)
        .bind(r.kind.as_str())
        .bind(r.params.to_string())
        .bind(r.quiet_secs)
        .bind(i64::from(r.enabled))
        .bind(id)
        .execute(self.w())
        .await
        .map_err(|e| StoreError::conflict_or(e, "an alert rule with this name"))?
        .rows_affected();
        if n == 0 {
            return Ok(None);
        }
        self.alert_rule(id).await
    }

    async fn delete_alert_rule(&self, id: i64) -> Result<bool> {
        Ok(sqlx::query("DELETE FROM alert_rules WHERE id = $1").bind(id).execute(self.w()).await?.rows_affected()
            > 0)
    }

    async fn raise_alert(&self, a: &NewAlert, quiet_ms: i64, now: Millis) -> Result<Raised> {
        let mut tx = self.w().begin_with(dialect::BEGIN_WRITE).await?;
        let latest: Option<(i64, String, Option<i64>)> = sqlx::query(AssertSqlSafe(format!(
            "SELECT id, status, resolved_at FROM alerts WHERE dedup_key = $1 ORDER BY id DESC LIMIT 1{}",
            dialect::LOCK_SUFFIX
        )))
        .bind(&a.dedup_key)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| Ok::<_, sqlx::Error>((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .transpose()?;
        let (id, fresh) = match latest {
            // Still open (or seen): a repeat.
            Some((id, status, _)) if status != AlertStatus::Resolved.as_str() => {
                sqlx::query("UPDATE alerts SET occurrences = occurrences + 1, last_at = $1 WHERE id = $2")
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                (id, false)
            }
            // Back within its quiet period: open again, without telling anyone again.
            Some((id, _, Some(resolved))) if now - resolved < quiet_ms => {
                sqlx::query(
                    "UPDATE alerts SET status = $1, occurrences = occurrences + 1, last_at = $2, \
                     resolved_by = NULL, resolved_at = NULL WHERE id = $3",
                )
                .bind(AlertStatus::Open.as_str())
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                (id, false)
            }
            _ => {
                let id: i64 = sqlx::query(
                    "INSERT INTO alerts (rule_id, kind, dedup_key, severity, subject, body, details, host_id, status, \
                     occurrences, first_at, last_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $10) RETURNING id",
                )
                .bind(a.rule_id)
                .bind(a.kind.as_str())
                .bind(&a.dedup_key)
                .bind(&a.severity)
                .bind(&a.subject)
                .bind(&a.body)
                .bind(a.details.to_string())
                .bind(a.host_id)
                .bind(AlertStatus::Open.as_str())
                .bind(now)
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
                (id, true)
            }
        };
        let alert =
            alert_in(&mut tx, id).await?.ok_or_else(|| StoreError::Corrupt(format!("alert {id} vanished")))?;
        tx.commit().await?;
        Ok(Raised { alert, fresh })
    }

    async fn mark_alert_notified(&self, id: i64, now: Millis) -> Result<()> {
        sqlx::query("UPDATE alerts SET notified_at = $1 WHERE id = $2 AND notified_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(self.w())
            .await?;
        Ok(())
    }

    async fn resolve_alert_key(&self, dedup_key: &str, by: &str, now: Millis) -> Result<Option<Alert>> {
        let id: Option<i64> = sqlx::query(
            "SELECT id FROM alerts WHERE dedup_key = $1 AND status <> $2 ORDER BY id DESC LIMIT 1",
        )
        .bind(dedup_key)
        .bind(AlertStatus::Resolved.as_str())
        .fetch_optional(self.r())
        .await?
        .map(|r| r.try_get(0))
        .transpose()?;
        match id {
            Some(id) => self.resolve_alert(id, by, now).await,
            None => Ok(None),
        }
    }

    async fn alert(&self, id: i64) -> Result<Option<Alert>> {
        sqlx::query(AssertSqlSafe(format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = $1")))
            .bind(id)
            .fetch_optional(self.r())
            .await?
            .as_ref()
            .map(alert_from)
            .transpose()
    }

    async fn list_alerts(&self, q: &AlertQuery, page: PageRequest) -> Result<Page<Alert>> {
        fn filters(qb: &mut QueryBuilder<Db>, q: &AlertQuery) {
            qb.push(" WHERE 1 = 1");
            if let Some(s) = q.status {
                qb.push(" AND status = ").push_bind(s.as_str());
            }
            if let Some(k) = q.kind {
                qb.push(" AND kind = ").push_bind(k.as_str());
            }
            if let Some(h) = q.host_id {
                qb.push(" AND host_id = ").push_bind(h);
            }
            if let Some(k) = &q.dedup_key {
                qb.push(" AND dedup_key = ").push_bind(k.clone());
            }
        }
        let mut cq = QueryBuilder::<Db>::new("SELECT COUNT(*) FROM alerts");
        filters(&mut cq, q);
        let total = count(self.r(), cq).await?;
        let mut qb = QueryBuilder::<Db>::new(format!("SELECT {ALERT_COLUMNS} FROM alerts"));
        filters(&mut qb, q);
        qb.push(" ORDER BY id DESC LIMIT ").push_bind(page.per_page).push(" OFFSET ").push_bind(page.offset());
        let items = qb.build().fetch_all(self.r()).await?.iter().map(alert_from).collect::<Result<_>>()?;
        Ok(Page { items, total, page: page.page, per_page: page.per_page })
    }

    async fn ack_alert(&self, id: i64, by: &str, now: Millis) -> Result<Option<Alert>> {
        let n = sqlx::query("UPDATE alerts SET status = $1, acked_by = $2, acked_at = $3 WHERE id = $4 AND status = $5")
            .bind(AlertStatus::Acknowledged.as_str())
            .bind(by)
            .bind(now)
            .bind(id)
            .bind(AlertStatus::Open.as_str())
            .execute(self.w())
            .await?
            .rows_affected();
        if n == 0 {
            return Ok(None);
        }
        self.alert(id).await
    }

    async fn resolve_alert(&self, id: i64, by: &str, now: Millis) -> Result<Option<Alert>> {
        let n = sqlx::query(
            "UPDATE alerts SET status = $1, resolved_by = $2, resolved_at = $3 WHERE id = $4 AND status <> $1",
        )
        .bind(AlertStatus::Resolved.as_str())
        .bind(by)
        .bind(now)
        .bind(id)
        .execute(self.w())
        .await?
        .rows_affected();
        if n == 0 {
            return Ok(None);
        }
        self.alert(id).await
    }

    async fn posture_totals(&self, framework: &str, group_id: Option<i64>) -> Result<(i64, i64, i64)> {
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT CAST(COALESCE(SUM(p.pass), 0) AS BIGINT), CAST(COALESCE(SUM(p.fail), 0) AS BIGINT), \
             CAST(COALESCE(SUM(p.excepted), 0) AS BIGINT) FROM host_posture p \
             JOIN hosts h ON h.id = p.host_id AND h.deleted_at IS NULL WHERE p.framework = ",
        );
        qb.push_bind(framework.to_owned());
        if let Some(g) = group_id {
            qb.push(" AND p.host_id IN (SELECT host_id FROM host_group_members WHERE group_id = ").push_bind(g).push(")");
        }
        let row = qb.build().fetch_one(self.r()).await?;
        Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?))
    }

    async fn unnotified_alerts(&self, limit: i64) -> Result<Vec<Alert>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE notified_at IS NULL AND status <> $1 ORDER BY id LIMIT $2"
        )))
        .bind(AlertStatus::Resolved.as_str())
        .bind(limit)
        .fetch_all(self.r())
        .await?
        .iter()
        .map(alert_from)
        .collect()
    }
}
