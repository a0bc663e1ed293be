// One finished scan written in one transaction (called by `complete_scan`).

impl Backend {
    /// Write the results, evidence, current state, change log and posture of one scan.
    async fn ingest(&self, tx: &mut Tx, o: &ScanOutcome) -> Result<IngestStats> {
        let mut new_evidence = 0;
        let hashes: Vec<Option<String>> =
            o.results.iter().map(|r| r.evidence.as_deref().map(evidence_hash)).collect();
        let mut seen = std::collections::HashSet::new();
        let bodies: Vec<(&str, &str)> = o
            .results
            .iter()
            .zip(&hashes)
            .filter_map(|(r, h)| Some((h.as_deref()?, r.evidence.as_deref()?)))
            .filter(|(h, _)| seen.insert(*h))
            .collect();
        // Concurrent ingests touch shared rows (evidence, fleet counters) in one global order,
        // so they queue behind each other instead of deadlocking.
        let mut bodies = bodies;
        bodies.sort_unstable();
        for chunk in bodies.chunks(CHUNK) {
            let mut qb = QueryBuilder::<Db>::new("INSERT INTO evidence (hash, body) ");
            qb.push_values(chunk, |mut b, (h, body)| {
                b.push_bind(h.to_string()).push_bind(body.to_string());
            });
            qb.push(" ON CONFLICT (hash) DO NOTHING");
            new_evidence += qb.build().execute(&mut **tx).await?.rows_affected() as usize;
        }
        let rows: Vec<(&ResultInput, &Option<String>)> = o.results.iter().zip(&hashes).collect();
        for chunk in rows.chunks(CHUNK) {
            let mut qb = QueryBuilder::<Db>::new(
                "INSERT INTO scan_results (scan_id, rule_id, verdict, severity, reason, evidence_hash, exception_id) ",
            );
            qb.push_values(chunk, |mut b, (r, h)| {
                b.push_bind(o.scan_id)
                    .push_bind(r.rule_id.clone())
                    .push_bind(r.verdict.as_str())
                    .push_bind(r.severity.as_str())
                    .push_bind(r.reason.clone())
                    .push_bind((*h).clone())
                    .push_bind(r.exception_id);
            });
            qb.build().execute(&mut **tx).await?;
        }

        // Everything below is derived in SQL from the rows just written to scan_results, so
        // the results cross to the database once. Shared counter rows are touched in rule
        // order, so concurrent ingests queue instead of deadlocking.
        let (host, scan, at) = (o.host_id, o.scan_id, o.finished_at);
        // A host's first results are its baseline, recorded once on the host; the change log
        // holds what changed after it.
        let baseline = sqlx::query(
            "UPDATE hosts SET first_scan_id = $2, first_scan_at = $3 WHERE id = $1 AND first_scan_id IS NULL \
             AND NOT EXISTS (SELECT 1 FROM host_rule_state WHERE host_id = $1)",
        )
        .bind(host)
        .bind(scan)
        .bind(at)
        .execute(&mut **tx)
        .await?
        .rows_affected()
            > 0;
        // The change log: rules new to the host or whose verdict, severity or evidence (the
        // values read: MaxAuthTries 4 -> 6, mode 0600 -> 0640) differs.
        let changes = if baseline {
            0
        } else {
            sqlx::query(
            "INSERT INTO host_changes (host_id, rule_id, scan_id, old_verdict, new_verdict, old_severity, new_severity, changed_at, \
             old_evidence_hash, new_evidence_hash) \
             SELECT $1, n.rule_id, n.scan_id, o.verdict, n.verdict, o.severity, n.severity, $3, o.evidence_hash, n.evidence_hash \
             FROM scan_results n LEFT JOIN host_rule_state o ON o.host_id = $1 AND o.rule_id = n.rule_id \
             WHERE n.scan_id = $2 AND (o.rule_id IS NULL OR o.verdict <> n.verdict OR o.severity <> n.severity \
                 OR COALESCE(o.evidence_hash, '') <> COALESCE(n.evidence_hash, '')) \
             ORDER BY n.rule_id",
        )
        .bind(host)
        .bind(scan)
        .bind(at)
        .execute(&mut **tx)
        .await?
        .rows_affected() as usize
        };
        // Failing hosts per rule: +1 where a rule starts failing here, -1 where it stops.
        sqlx::query(
            "INSERT INTO rule_failing (rule_id, shard, hosts) \
             SELECT n.rule_id, $3, CASE WHEN n.verdict = 'fail' THEN 1 ELSE -1 END \
             FROM scan_results n LEFT JOIN host_rule_state o ON o.host_id = $1 AND o.rule_id = n.rule_id \
             WHERE n.scan_id = $2 AND (CASE WHEN n.verdict = 'fail' THEN 1 ELSE 0 END) \
                 <> (CASE WHEN o.verdict = 'fail' THEN 1 ELSE 0 END) \
             ORDER BY n.rule_id \
             ON CONFLICT (rule_id, shard) DO UPDATE SET hosts = rule_failing.hosts + excluded.hosts",
        )
        .bind(host)
        .bind(scan)
        .bind(host % FAILING_SHARDS)
        .execute(&mut **tx)
        .await?;
        // Rules the host no longer reports (removed from the library) leave its state, and
        // its failing counters when they failed (rare, so counted here rather than in SQL).
        let stale_failing = sqlx::query(
            "DELETE FROM host_rule_state WHERE host_id = $1 AND NOT EXISTS \
             (SELECT 1 FROM scan_results n WHERE n.scan_id = $2 AND n.rule_id = host_rule_state.rule_id) \
             RETURNING rule_id, verdict",
        )
        .bind(host)
        .bind(scan)
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .filter(|r| r.try_get::<String, _>(1).is_ok_and(|v| v == "fail"))
        .map(|r| r.try_get::<String, _>(0))
        .collect::<Result<Vec<_>, _>>()?;
        for rule in stale_failing {
            sqlx::query("UPDATE rule_failing SET hosts = hosts - 1 WHERE rule_id = $1 AND shard = $2")
                .bind(rule)
                .bind(host % FAILING_SHARDS)
                .execute(&mut **tx)
                .await?;
        }
        sqlx::query(
            "INSERT INTO host_failures (host_id, critical, high, medium, low, total) \
             SELECT $1, \
               CAST(COALESCE(SUM(CASE WHEN severity = 'critical' THEN 1 ELSE 0 END), 0) AS BIGINT), \
               CAST(COALESCE(SUM(CASE WHEN severity = 'high' THEN 1 ELSE 0 END), 0) AS BIGINT), \
               CAST(COALESCE(SUM(CASE WHEN severity = 'medium' THEN 1 ELSE 0 END), 0) AS BIGINT), \
               CAST(COALESCE(SUM(CASE WHEN severity NOT IN ('critical', 'high', 'medium') THEN 1 ELSE 0 END), 0) AS BIGINT), \
               COUNT(*) FROM scan_results WHERE scan_id = $2 AND verdict = 'fail' \
             ON CONFLICT (host_id) DO UPDATE SET critical = excluded.critical, high = excluded.high, \
             medium = excluded.medium, low = excluded.low, total = excluded.total",
        )
        .bind(host)
        .bind(scan)
        .execute(&mut **tx)
        .await?;
        // Current state; an unchanged verdict keeps the time it was first seen.
        sqlx::query(
            "INSERT INTO host_rule_state (host_id, rule_id, verdict, severity, scan_id, evidence_hash, since_at, updated_at, exception_id) \
             SELECT $1, rule_id, verdict, severity, scan_id, evidence_hash, $3, $3, exception_id FROM scan_results WHERE scan_id = $2 \
             ON CONFLICT (host_id, rule_id) DO UPDATE SET \
             since_at = CASE WHEN host_rule_state.verdict = excluded.verdict THEN host_rule_state.since_at ELSE excluded.since_at END, \
             verdict = excluded.verdict, severity = excluded.severity, scan_id = excluded.scan_id, \
             evidence_hash = excluded.evidence_hash, updated_at = excluded.updated_at, exception_id = excluded.exception_id",
        )
        .bind(host)
        .bind(scan)
        .bind(at)
        .execute(&mut **tx)
        .await?;

        sqlx::query("DELETE FROM host_posture WHERE host_id = $1").bind(host).execute(&mut **tx).await?;
        if !o.posture.is_empty() {
            for table in ["host_posture", "posture_history"] {
                let mut qb = QueryBuilder::<Db>::new(format!(
                    "INSERT INTO {table} (host_id, framework, pass, fail, error, not_applicable, excepted, {}) ",
                    if table == "host_posture" { "updated_at" } else { "at, scan_id" }
                ));
                qb.push_values(&o.posture, |mut b, p| {
                    b.push_bind(host)
                        .push_bind(p.framework.clone())
                        .push_bind(p.pass)
                        .push_bind(p.fail)
                        .push_bind(p.error)
                        .push_bind(p.not_applicable)
                        .push_bind(p.excepted)
                        .push_bind(at);
                    if table == "posture_history" {
                        b.push_bind(scan);
                    }
                });
                qb.build().execute(&mut **tx).await?;
            }
        }
        Ok(IngestStats { results: o.results.len(), changes, new_evidence })
    }
}
