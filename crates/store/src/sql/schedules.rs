// Schedules and their once-per-time firing claims.

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

#[async_trait]
impl ScheduleStore for Backend {
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
}
