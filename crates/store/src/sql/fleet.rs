// Fleet-wide figures: the summary, per-rule verdict counts and the daily trend.

#[async_trait]
impl FleetStore for Backend {
    async fn fleet_summary(&self, now: Millis) -> Result<FleetSummary> {
        let r = self.r();
        let totals = sqlx::query(
            "SELECT COUNT(*), CAST(COALESCE(SUM(CASE WHEN last_scan_status = 'succeeded' THEN 1 ELSE 0 END), 0) AS BIGINT) \
             FROM hosts WHERE deleted_at IS NULL",
        )
        .fetch_one(r)
        .await?;
        let frameworks = sqlx::query(
            "SELECT framework, COUNT(*) AS hosts, CAST(SUM(pass) AS BIGINT) AS pass, CAST(SUM(fail) AS BIGINT) AS fail, \
             CAST(SUM(error) AS BIGINT) AS error, CAST(SUM(not_applicable) AS BIGINT) AS not_applicable, \
             CAST(SUM(excepted) AS BIGINT) AS excepted FROM host_posture GROUP BY framework ORDER BY framework",
        )
        .fetch_all(r)
        .await?
        .iter()
        .map(|row| {
            Ok(FrameworkSummary {
                framework: row.try_get("framework")?,
                hosts: row.try_get("hosts")?,
                pass: row.try_get("pass")?,
                fail: row.try_get("fail")?,
                error: row.try_get("error")?,
                not_applicable: row.try_get("not_applicable")?,
                excepted: row.try_get("excepted")?,
            })
        })
        .collect::<Result<_>>()?;
        let sev = sqlx::query(
            "SELECT CAST(COALESCE(SUM(critical), 0) AS BIGINT), CAST(COALESCE(SUM(high), 0) AS BIGINT), \
             CAST(COALESCE(SUM(medium), 0) AS BIGINT), CAST(COALESCE(SUM(low), 0) AS BIGINT) FROM host_failures",
        )
        .fetch_one(r)
        .await?;
        let ranked = |rows: Vec<DbRow>| -> Result<Vec<Ranked>> {
            rows.iter()
                .map(|row| {
                    Ok(Ranked { id: row.try_get(0)?, name: row.try_get(1)?, failing: row.try_get(2)? })
                })
                .collect()
        };
        let top_rules = ranked(
            sqlx::query(
                "SELECT rule_id, rule_id, CAST(SUM(hosts) AS BIGINT) AS n FROM rule_failing GROUP BY rule_id \
                 HAVING SUM(hosts) > 0 ORDER BY n DESC, rule_id LIMIT 10",
            )
            .fetch_all(r)
            .await?,
        )?;
        let top_hosts = ranked(
            sqlx::query(
                "SELECT CAST(h.id AS TEXT), h.name, f.total FROM host_failures f JOIN hosts h ON h.id = f.host_id \
                 WHERE h.deleted_at IS NULL AND f.total > 0 ORDER BY f.total DESC, h.name LIMIT 10",
            )
            .fetch_all(r)
            .await?,
        )?;
        let attention = ranked(
            sqlx::query(
                "SELECT CAST(id AS TEXT), name, CAST(0 AS BIGINT) FROM hosts WHERE deleted_at IS NULL AND \
                 (reachability IN ('unreachable', 'host_key_pending', 'host_key_changed', 'auth_failed') \
                  OR last_scan_status = 'failed') ORDER BY name LIMIT 20",
            )
            .fetch_all(r)
            .await?,
        )?;
        let trend = sqlx::query(
            "SELECT day, framework, hosts, pass, fail, excepted FROM fleet_daily WHERE day > $1 ORDER BY day, framework",
        )
        .bind(day_of(now) - 31)
        .fetch_all(r)
        .await?
        .iter()
        .map(|row| {
            Ok(TrendPoint {
                day: row.try_get(0)?,
                framework: row.try_get(1)?,
                hosts: row.try_get(2)?,
                pass: row.try_get(3)?,
                fail: row.try_get(4)?,
                excepted: row.try_get(5)?,
            })
        })
        .collect::<Result<_>>()?;
        Ok(FleetSummary {
            hosts: totals.try_get(0)?,
            scanned_hosts: totals.try_get(1)?,
            frameworks,
            failing_by_severity: SeverityCounts {
                critical: sev.try_get(0)?,
                high: sev.try_get(1)?,
                medium: sev.try_get(2)?,
                low: sev.try_get(3)?,
            },
            top_failing_rules: top_rules,
            top_failing_hosts: top_hosts,
            needs_attention: attention,
            trend,
        })
    }

    async fn rule_verdicts(&self, rule_ids: &[String], framework: Option<&str>) -> Result<Vec<(String, Status, i64)>> {
        if rule_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT s.rule_id, s.verdict, COUNT(*) FROM host_rule_state s JOIN hosts h ON h.id = s.host_id \
             WHERE h.deleted_at IS NULL AND s.rule_id IN (",
        );
        let mut sep = qb.separated(", ");
        for id in rule_ids {
            sep.push_bind(id.clone());
        }
        qb.push(")");
        if let Some(f) = framework {
            qb.push(" AND EXISTS (SELECT 1 FROM host_posture p WHERE p.host_id = s.host_id AND p.framework = ")
                .push_bind(f.to_owned())
                .push(")");
        }
        qb.push(" GROUP BY s.rule_id, s.verdict ORDER BY s.rule_id, s.verdict");
        qb.build()
            .fetch_all(self.r())
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, text_col(r, 1, Status::parse)?, r.try_get(2)?)))
            .collect()
    }

    async fn failing_hosts_by_rule(&self, framework: &str) -> Result<HashMap<String, i64>> {
        sqlx::query(
            "SELECT s.rule_id, COUNT(*) FROM host_posture p JOIN hosts h ON h.id = p.host_id \
             JOIN host_rule_state s ON s.host_id = p.host_id \
             WHERE p.framework = $1 AND h.deleted_at IS NULL AND s.verdict = 'fail' GROUP BY s.rule_id",
        )
        .bind(framework)
        .fetch_all(self.r())
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
    }

    async fn roll_up_trend(&self, now: Millis) -> Result<()> {
        sqlx::query(
            "INSERT INTO fleet_daily (day, framework, hosts, pass, fail, excepted) \
             SELECT $1, framework, COUNT(*), SUM(pass), SUM(fail), SUM(excepted) FROM host_posture WHERE 1 = 1 GROUP BY framework \
             ON CONFLICT (day, framework) DO UPDATE SET hosts = excluded.hosts, pass = excluded.pass, fail = excluded.fail, \
             excepted = excluded.excepted",
        )
        .bind(day_of(now))
        .execute(self.w())
        .await?;
        Ok(())
    }

    async fn seed_history(&self, h: &SeedHistory) -> Result<()> {
        let mut tx = self.w().begin_with(dialect::BEGIN_WRITE).await?;
        for chunk in h.posture.chunks(CHUNK) {
            let mut qb = QueryBuilder::<Db>::new(
                "INSERT INTO posture_history (host_id, framework, scan_id, at, pass, fail, error, not_applicable, excepted) ",
            );
            qb.push_values(chunk, |mut b, (host, at, p)| {
                b.push_bind(*host)
                    .push_bind(p.framework.clone())
                    .push_bind(-*at)
                    .push_bind(*at)
                    .push_bind(p.pass)
                    .push_bind(p.fail)
                    .push_bind(p.error)
                    .push_bind(p.not_applicable)
                    .push_bind(p.excepted);
            });
            qb.build().execute(&mut *tx).await?;
        }
        for chunk in h.changes.chunks(CHUNK) {
            let mut qb = QueryBuilder::<Db>::new(
                "INSERT INTO host_changes (host_id, rule_id, scan_id, old_verdict, new_verdict, old_severity, new_severity, changed_at) ",
            );
            qb.push_values(chunk, |mut b, c| {
                b.push_bind(c.host_id)
                    .push_bind(c.rule_id.clone())
                    .push_bind(0i64)
                    .push_bind(c.old_verdict.as_str())
                    .push_bind(c.new_verdict.as_str())
                    .push_bind(c.severity.as_str())
                    .push_bind(c.severity.as_str())
                    .push_bind(c.changed_at);
            });
            qb.build().execute(&mut *tx).await?;
        }
        for t in &h.trend {
            sqlx::query(
                "INSERT INTO fleet_daily (day, framework, hosts, pass, fail, excepted) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (day, framework) DO NOTHING",
            )
            .bind(t.day)
            .bind(&t.framework)
            .bind(t.hosts)
            .bind(t.pass)
            .bind(t.fail)
            .bind(t.excepted)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

}
