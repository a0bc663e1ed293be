// Notification channels, their deliveries (each queued with its `deliver` job) and the
// attempts made. Channel secrets are sealed like credentials', bound to `channel:<id>:secret`.

use crate::channels::{
    Channel, Delivery, DeliveryAttempt, DeliveryQuery, NewAttempt, NewChannel, NewMessage,
};
const CHANNEL_COLUMNS: &str = "id, name, kind, settings, \
    CAST(CASE WHEN secret IS NULL THEN 0 ELSE 1 END AS BIGINT) AS has_secret, enabled, created_at, updated_at";

const DELIVERY_COLUMNS: &str = "d.id, d.channel_id, c.name AS channel_name, c.kind AS channel_kind, d.dedup_key, \
    d.subject, d.body_text, d.body_html, d.payload, d.status, d.attempts, d.last_error, d.created_at, \
    d.updated_at, d.delivered_at";

/// The associated data a channel's stored secret is bound to.
fn channel_binding(id: i64) -> String {
    format!("channel:{id}:secret")
}

fn channel_from(row: &DbRow) -> Result<Channel> {
    Ok(Channel {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        kind: text_col(row, "kind", ChannelKind::parse)?,
        settings: json_value(Some(row.try_get("settings")?))?.unwrap_or(Value::Null),
        has_secret: row.try_get::<i64, _>("has_secret")? != 0,
        enabled: row.try_get::<i64, _>("enabled")? != 0,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn delivery_from(row: &DbRow) -> Result<Delivery> {
    Ok(Delivery {
        id: row.try_get("id")?,
        channel_id: row.try_get("channel_id")?,
        channel_name: row.try_get("channel_name")?,
        channel_kind: text_col(row, "channel_kind", ChannelKind::parse)?,
        dedup_key: row.try_get("dedup_key")?,
        subject: row.try_get("subject")?,
        text: row.try_get("body_text")?,
        html: row.try_get("body_html")?,
        payload: json_value(Some(row.try_get("payload")?))?.unwrap_or(Value::Null),
        status: text_col(row, "status", DeliveryStatus::parse)?,
        attempts: row.try_get("attempts")?,
        last_error: row.try_get("last_error")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        delivered_at: row.try_get("delivered_at")?,
        attempt_log: Vec::new(),
    })
}

async fn channel_in(tx: &mut Tx, id: i64) -> Result<Option<Channel>> {
    sqlx::query(AssertSqlSafe(format!("SELECT {CHANNEL_COLUMNS} FROM channels WHERE id = $1")))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .as_ref()
        .map(channel_from)
        .transpose()
}

async fn delivery_in(tx: &mut Tx, id: i64) -> Result<Option<Delivery>> {
    sqlx::query(AssertSqlSafe(format!(
        "SELECT {DELIVERY_COLUMNS} FROM deliveries d JOIN channels c ON c.id = d.channel_id WHERE d.id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .as_ref()
    .map(delivery_from)
    .transpose()
}

/// Re-seal every channel secret from `old` to `new` inside a key rotation's transaction.
async fn reseal_channels(tx: &mut Tx, old: &SecretKey, new: &SecretKey, now: Millis) -> Result<()> {
    let rows =
        sqlx::query("SELECT id, secret FROM channels WHERE secret IS NOT NULL").fetch_all(&mut **tx).await?;
    for row in &rows {
        let id: i64 = row.try_get(0)?;
        let ad = channel_binding(id);
        let sealed = new.seal_bound(&old.open_bound(&row.try_get::<Vec<u8>, _>(1)?, &ad)?, &ad)?;
        sqlx::query("UPDATE channels SET secret = $1, updated_at = $2 WHERE id = $3")
            .bind(sealed)
            .bind(now)
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// A deliver job the reaper gave up on (its worker died on the last attempt): the delivery
/// is dead, with the loss as its last attempt, so none stays queued with no job behind it.
async fn lost_delivery_job(tx: &mut Tx, job_id: i64, msg: &str, now: Millis) -> Result<()> {
    let Some(row) = sqlx::query(
        "UPDATE deliveries SET status = 'dead', attempts = attempts + 1, last_error = $1, updated_at = $2 \
         WHERE job_id = $3 AND status = 'queued' RETURNING id, attempts",
    )
    .bind(msg)
    .bind(now)
    .bind(job_id)
    .fetch_optional(&mut **tx)
    .await?
    else {
        return Ok(());
    };
    sqlx::query(
        "INSERT INTO delivery_attempts (delivery_id, attempt, at, outcome, detail) VALUES ($1, $2, $3, 'failed', $4)",
    )
    .bind(row.try_get::<i64, _>(0)?)
    .bind(row.try_get::<i64, _>(1)?)
    .bind(now)
    .bind(msg)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Backend {
    /// Store a channel's secret (sealed for transit) bound to its row.
    async fn put_channel_secret(&self, tx: &mut Tx, id: i64, transit: &[u8]) -> Result<()> {
        let key = &self.keys.credential;
        sqlx::query("UPDATE channels SET secret = $1 WHERE id = $2")
            .bind(key.seal_bound(&key.open(transit)?, &channel_binding(id))?)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Attach each delivery's attempts, oldest first.
    async fn with_attempts(&self, mut items: Vec<Delivery>) -> Result<Vec<Delivery>> {
        if items.is_empty() {
            return Ok(items);
        }
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT delivery_id, attempt, at, outcome, detail FROM delivery_attempts WHERE delivery_id IN (",
        );
        let mut sep = qb.separated(", ");
        for d in &items {
            sep.push_bind(d.id);
        }
        qb.push(") ORDER BY id");
        let mut by_delivery: HashMap<i64, Vec<DeliveryAttempt>> = HashMap::new();
        for row in qb.build().fetch_all(self.r()).await? {
            by_delivery.entry(row.try_get(0)?).or_default().push(DeliveryAttempt {
                attempt: row.try_get(1)?,
                at: row.try_get(2)?,
                outcome: text_col(&row, 3, AttemptOutcome::parse)?,
                detail: row.try_get(4)?,
            });
        }
        for d in &mut items {
            d.attempt_log = by_delivery.remove(&d.id).unwrap_or_default();
        }
        Ok(items)
    }
}

#[async_trait]
impl ChannelStore for Backend {
    async fn create_channel(&self, c: &NewChannel, now: Millis) -> Result<Channel> {
        let mut tx = self.w().begin_with(dialect::BEGIN_WRITE).await?;
        let id: i64 = sqlx::query(
            "INSERT INTO channels (name, kind, settings, enabled, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
        )
        .bind(&c.name)
        .bind(c.kind.as_str())
        .bind(json_text(&c.settings))
        .bind(c.enabled as i64)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| StoreError::conflict_or(e, &format!("channel {}", c.name)))?
        .try_get(0)?;
        if let Some(s) = &c.sealed_secret {
            self.put_channel_secret(&mut tx, id, s).await?;
        }
        let channel = channel_in(&mut tx, id).await?;
        tx.commit().await?;
        channel.ok_or_else(|| StoreError::Corrupt("a new channel vanished".into()))
    }

    async fn list_channels(&self) -> Result<Vec<Channel>> {
        sqlx::query(AssertSqlSafe(format!("SELECT {CHANNEL_COLUMNS} FROM channels ORDER BY name")))
            .fetch_all(self.r())
            .await?
            .iter()
            .map(channel_from)
            .collect()
    }

    async fn channel(&self, id: i64) -> Result<Option<Channel>> {
        sqlx::query(AssertSqlSafe(format!("SELECT {CHANNEL_COLUMNS} FROM channels WHERE id = $1")))
            .bind(id)
            .fetch_optional(self.r())
            .await?
            .as_ref()
            .map(channel_from)
            .transpose()
    }

    async fn update_channel(&self, id: i64, c: &NewChannel, now: Millis) -> Result<Option<Channel>> {
        let mut tx = self.w().begin_with(dialect::BEGIN_WRITE).await?;
        let n = sqlx::query(
            "UPDATE channels SET name = $1, kind = $2, settings = $3, enabled = $4, updated_at = $5 WHERE id = $6",
        )
        .bind(&c.name)
        .bind(c.kind.as_str())
        .bind(json_text(&c.settings))
        .bind(c.enabled as i64)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::conflict_or(e, &format!("channel {}", c.name)))?
        .rows_affected();
        if n == 0 {
            return Ok(None);
        }
        if let Some(s) = &c.sealed_secret {
            self.put_channel_secret(&mut tx, id, s).await?;
        }
        let channel = channel_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(channel)
    }

    async fn delete_channel(&self, id: i64) -> Result<bool> {
        Ok(sqlx::query("DELETE FROM channels WHERE id = $1")
            .bind(id)
            .execute(self.w())
            .await?
            .rows_affected()
            == 1)
    }

    async fn channel_secret(&self, id: i64) -> Result<Option<Vec<u8>>> {
        let Some(row) = sqlx::query("SELECT secret FROM channels WHERE id = $1")
            .bind(id)
            .fetch_optional(self.r())
            .await?
        else {
            return Ok(None);
        };
        let key = &self.keys.credential;
        row.try_get::<Option<Vec<u8>>, _>(0)?
            .map(|s| key.seal(&key.open_bound(&s, &channel_binding(id))?))
            .transpose()
    }

    async fn queue_deliveries(
        &self,
        m: &NewMessage,
        channel_ids: Option<&[i64]>,
        max_attempts: i64,
        now: Millis,
    ) -> Result<Vec<Delivery>> {
        let mut tx = self.w().begin_with(dialect::BEGIN_WRITE).await?;
        let mut qb = QueryBuilder::<Db>::new("SELECT id FROM channels WHERE ");
        match channel_ids {
            None => {
                qb.push("enabled = 1");
            }
            Some([]) => return Ok(Vec::new()),
            Some(ids) => {
                qb.push("id IN (");
                let mut sep = qb.separated(", ");
                for id in ids {
                    sep.push_bind(*id);
                }
                qb.push(")");
            }
        }
        qb.push(" ORDER BY id");
        let channels: Vec<i64> =
            qb.build().fetch_all(&mut *tx).await?.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>()?;
        let mut queued = Vec::new();
        for channel_id in channels {
            let row = sqlx::query(
                "INSERT INTO deliveries (channel_id, dedup_key, subject, body_text, body_html, payload, status, \
                 attempts, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'queued', 0, $7, $7) \
                 ON CONFLICT (channel_id, dedup_key) DO NOTHING RETURNING id",
            )
            .bind(channel_id)
            .bind(&m.dedup_key)
            .bind(&m.subject)
            .bind(&m.text)
            .bind(&m.html)
            .bind(json_text(&m.payload))
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(row) = row else { continue };
            let id: i64 = row.try_get(0)?;
            let job = NewJob {
                kind: "deliver".into(),
                payload: serde_json::json!({"delivery_id": id}),
                host_id: None,
                scan_id: None,
                max_attempts,
                run_after: now,
            };
            let job_id = insert_job(&mut tx, &job, now).await?;
            sqlx::query("UPDATE deliveries SET job_id = $1 WHERE id = $2")
                .bind(job_id)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            if let Some(d) = delivery_in(&mut tx, id).await? {
                queued.push(d);
            }
        }
        tx.commit().await?;
        Ok(queued)
    }

    async fn delivery(&self, id: i64) -> Result<Option<Delivery>> {
        let Some(d) = sqlx::query(AssertSqlSafe(format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries d JOIN channels c ON c.id = d.channel_id WHERE d.id = $1"
        )))
        .bind(id)
        .fetch_optional(self.r())
        .await?
        .as_ref()
        .map(delivery_from)
        .transpose()?
        else {
            return Ok(None);
        };
        Ok(self.with_attempts(vec![d]).await?.pop())
    }

    async fn list_deliveries(&self, q: &DeliveryQuery, page: PageRequest) -> Result<Page<Delivery>> {
        fn filters(qb: &mut QueryBuilder<Db>, q: &DeliveryQuery) {
            qb.push(" WHERE 1 = 1");
            if let Some(c) = q.channel_id {
                qb.push(" AND d.channel_id = ").push_bind(c);
            }
            if let Some(s) = q.status {
                qb.push(" AND d.status = ").push_bind(s.as_str());
            }
        }
        let mut cq = QueryBuilder::<Db>::new("SELECT COUNT(*) FROM deliveries d");
        filters(&mut cq, q);
        let total = count(self.r(), cq).await?;
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries d JOIN channels c ON c.id = d.channel_id"
        ));
        filters(&mut qb, q);
        qb.push(" ORDER BY d.id DESC LIMIT ")
            .push_bind(page.per_page)
            .push(" OFFSET ")
            .push_bind(page.offset());
        let items = qb.build().fetch_all(self.r()).await?.iter().map(delivery_from).collect::<Result<_>>()?;
        let items = self.with_attempts(items).await?;
        Ok(Page { items, total, page: page.page, per_page: page.per_page })
    }

    async fn record_attempt(
        &self,
        job: &Job,
        worker: &str,
        delivery_id: i64,
        attempt: &NewAttempt,
        retry_at: Option<Millis>,
    ) -> Result<bool> {
        let now = attempt.at;
        let mut tx = self.w().begin_with(dialect::BEGIN_WRITE).await?;
        let settled = match (attempt.outcome, retry_at) {
            (AttemptOutcome::Failed, Some(at)) => sqlx::query(
                "UPDATE jobs SET status = 'queued', run_after = $1, locked_by = NULL, lease_until = NULL, \
                     last_error = $2 WHERE id = $3 AND locked_by = $4 AND status = 'running'",
            )
            .bind(at)
            .bind(&attempt.detail)
            .bind(job.id)
            .bind(worker)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1,
            (AttemptOutcome::Failed, None) => {
                finish_scan_job(&mut tx, job.id, worker, "failed", Some(&attempt.detail), now).await?
            }
            (AttemptOutcome::Delivered, _) => {
                finish_scan_job(&mut tx, job.id, worker, "done", None, now).await?
            }
        };
        if !settled {
            return Ok(false);
        }
        let status = match (attempt.outcome, retry_at) {
            (AttemptOutcome::Delivered, _) => DeliveryStatus::Delivered,
            (AttemptOutcome::Failed, Some(_)) => DeliveryStatus::Queued,
            (AttemptOutcome::Failed, None) => DeliveryStatus::Dead,
        };
        let failed = attempt.outcome == AttemptOutcome::Failed;
        let n: i64 = sqlx::query(
            "UPDATE deliveries SET status = $1, attempts = attempts + 1, last_error = $2, updated_at = $3, \
             delivered_at = $4 WHERE id = $5 RETURNING attempts",
        )
        .bind(status.as_str())
        .bind(failed.then_some(&attempt.detail))
        .bind(now)
        .bind((status == DeliveryStatus::Delivered).then_some(now))
        .bind(delivery_id)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        sqlx::query(
            "INSERT INTO delivery_attempts (delivery_id, attempt, at, outcome, detail) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(delivery_id)
        .bind(n)
        .bind(now)
        .bind(attempt.outcome.as_str())
        .bind(&attempt.detail)
        .execute(&mut *tx)
        .await?;
        emit(
            &mut tx,
            "delivery.updated",
            &serde_json::json!({"delivery_id": delivery_id, "status": status}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}
