// The event stream server-sent events are read from.

#[async_trait]
impl EventStore for Backend {

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
