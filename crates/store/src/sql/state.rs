// A host's current rule state, its change log and its posture.

fn posture_from(row: &DbRow) -> Result<Posture> {
    Ok(Posture {
        framework: row.try_get("framework")?,
        pass: row.try_get("pass")?,
        fail: row.try_get("fail")?,
        error: row.try_get("error")?,
        not_applicable: row.try_get("not_applicable")?,
        excepted: row.try_get("excepted")?,
    })
}

fn change_from(r: &DbRow) -> Result<Change> {
    Ok(Change {
        id: r.try_get("id")?,
        host_id: r.try_get("host_id")?,
        host_name: r.try_get("host_name")?,
        rule_id: r.try_get("rule_id")?,
        scan_id: r.try_get("scan_id")?,
        old_verdict: opt_text_col(r, "old_verdict", Status::parse)?,
        new_verdict: text_col(r, "new_verdict", Status::parse)?,
        old_severity: opt_text_col(r, "old_severity", Severity::parse)?,
        new_severity: text_col(r, "new_severity", Severity::parse)?,
        changed_at: r.try_get("changed_at")?,
        old_evidence_hash: r.try_get("old_evidence_hash")?,
        new_evidence_hash: r.try_get("new_evidence_hash")?,
    })
}

impl Backend {
    async fn changes_page(&self, host_id: Option<i64>, limit: i64, offset: i64) -> Result<Vec<Change>> {
        const COLUMNS: &str = "SELECT c.id, c.host_id, h.name AS host_name, c.rule_id, c.scan_id, c.old_verdict, \
            c.new_verdict, c.old_severity, c.new_severity, c.changed_at, c.old_evidence_hash, c.new_evidence_hash \
            FROM host_changes c JOIN hosts h ON h.id = c.host_id";
        let rows = match host_id {
            Some(id) => {
                sqlx::query(AssertSqlSafe(format!(
                    "{COLUMNS} WHERE c.host_id = $1 ORDER BY c.id DESC LIMIT $2 OFFSET $3"
                )))
                .bind(id)
                .bind(limit)
                .bind(offset)
                .fetch_all(self.r())
                .await?
            }
            None => {
                sqlx::query(AssertSqlSafe(format!("{COLUMNS} ORDER BY c.id DESC LIMIT $1 OFFSET $2")))
                    .bind(limit)
                    .bind(offset)
                    .fetch_all(self.r())
                    .await?
            }
        };
        rows.iter().map(change_from).collect()
    }
}

#[async_trait]
impl StateStore for Backend {
    async fn host_state(&self, host_id: i64, q: &ResultQuery) -> Result<Vec<RuleState>> {
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT rule_id, verdict, severity, scan_id, evidence_hash, since_at, exception_id FROM host_rule_state WHERE host_id = ",
        );
        qb.push_bind(host_id);
        if let Some(v) = &q.verdict {
            qb.push(" AND verdict = ").push_bind(v.as_str());
        }
        if let Some(s) = &q.severity {
            qb.push(" AND severity = ").push_bind(s.as_str());
        }
        qb.push(" ORDER BY rule_id");
        let wanted: Option<std::collections::HashSet<&String>> =
            q.rule_ids.as_ref().map(|ids| ids.iter().collect());
        qb.build()
            .fetch_all(self.r())
            .await?
            .iter()
            .map(|r| {
                Ok(RuleState {
                    rule_id: r.try_get(0)?,
                    verdict: text_col(r, 1, Status::parse)?,
                    severity: text_col(r, 2, Severity::parse)?,
                    scan_id: r.try_get(3)?,
                    evidence_hash: r.try_get(4)?,
                    since_at: r.try_get(5)?,
                    exception_id: r.try_get(6)?,
                })
            })
            .filter(|s: &Result<RuleState>| match (s, &wanted) {
                (Ok(s), Some(w)) => w.contains(&s.rule_id),
                _ => true,
            })
            .collect()
    }

    async fn find_changes(&self, q: &ChangeQuery, page: PageRequest) -> Result<Page<Change>> {
        fn filters(qb: &mut QueryBuilder<Db>, q: &ChangeQuery) -> bool {
            qb.push(" WHERE 1 = 1");
            if let Some(h) = q.host_id {
                qb.push(" AND c.host_id = ").push_bind(h);
            }
            if let Some(s) = q.scan_id {
                qb.push(" AND c.scan_id = ").push_bind(s);
            }
            if let Some(g) = q.group_id {
                qb.push(" AND c.host_id IN (SELECT host_id FROM host_group_members WHERE group_id = ")
                    .push_bind(g)
                    .push(")");
            }
            if let Some(ids) = &q.rule_ids {
                if ids.is_empty() {
                    return false;
                }
                qb.push(" AND c.rule_id IN (");
                let mut sep = qb.separated(", ");
                for id in ids {
                    sep.push_bind(id.clone());
                }
                qb.push(")");
            }
            if let Some(s) = q.severity {
                qb.push(" AND c.new_severity = ").push_bind(s.as_str());
            }
            if let Some(t) = q.since {
                qb.push(" AND c.changed_at >= ").push_bind(t);
            }
            if let Some(t) = q.until {
                qb.push(" AND c.changed_at < ").push_bind(t);
            }
            true
        }
        let mut cq = QueryBuilder::<Db>::new("SELECT COUNT(*) FROM host_changes c");
        if !filters(&mut cq, q) {
            return Ok(Page { items: Vec::new(), total: 0, page: page.page, per_page: page.per_page });
        }
        let total = count(self.r(), cq).await?;
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT c.id, c.host_id, h.name AS host_name, c.rule_id, c.scan_id, c.old_verdict, c.new_verdict, \
             c.old_severity, c.new_severity, c.changed_at, c.old_evidence_hash, c.new_evidence_hash \
             FROM host_changes c JOIN hosts h ON h.id = c.host_id",
        );
        filters(&mut qb, q);
        qb.push(" ORDER BY c.id DESC LIMIT ").push_bind(page.per_page).push(" OFFSET ").push_bind(page.offset());
        let items = qb.build().fetch_all(self.r()).await?.iter().map(change_from).collect::<Result<_>>()?;
        Ok(Page { items, total, page: page.page, per_page: page.per_page })
    }

    async fn host_changes(&self, host_id: Option<i64>, page: PageRequest) -> Result<Page<Change>> {
        // Separate statements per case: `$1 IS NULL OR host_id = $1` defeats SQLite's index.
        let total: i64 = match host_id {
            Some(h) => {
                sqlx::query("SELECT COUNT(*) FROM host_changes WHERE host_id = $1")
                    .bind(h)
                    .fetch_one(self.r())
                    .await?
            }
            None => sqlx::query("SELECT COUNT(*) FROM host_changes").fetch_one(self.r()).await?,
        }
        .try_get(0)?;
        let items = self.changes_page(host_id, page.per_page, page.offset()).await?;
        Ok(Page { items, total, page: page.page, per_page: page.per_page })
    }

    async fn recent_changes(&self, limit: i64) -> Result<Vec<Change>> {
        self.changes_page(None, limit, 0).await
    }

    async fn first_scans(&self, host_id: Option<i64>, limit: i64) -> Result<Vec<FirstScan>> {
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT id, name, first_scan_id, first_scan_at FROM hosts WHERE deleted_at IS NULL AND first_scan_at IS NOT NULL",
        );
        if let Some(h) = host_id {
            qb.push(" AND id = ").push_bind(h);
        }
        qb.push(" ORDER BY first_scan_at DESC LIMIT ").push_bind(limit);
        qb.build()
            .fetch_all(self.r())
            .await?
            .iter()
            .map(|r| {
                Ok(FirstScan {
                    host_id: r.try_get(0)?,
                    host_name: r.try_get(1)?,
                    scan_id: r.try_get(2)?,
                    at: r.try_get(3)?,
                })
            })
            .collect()
    }

    async fn fleet_state(&self, q: &FleetStateQuery) -> Result<Vec<HostRuleRow>> {
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT s.host_id, h.name, s.rule_id, s.verdict, s.severity, s.since_at, s.scan_id, \
             COALESCE(r.reason, ''), s.evidence_hash, s.exception_id FROM host_rule_state s \
             JOIN hosts h ON h.id = s.host_id AND h.deleted_at IS NULL \
             LEFT JOIN scan_results r ON r.scan_id = s.scan_id AND r.rule_id = s.rule_id WHERE 1 = 1",
        );
        if let Some(ids) = &q.rule_ids {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            qb.push(" AND s.rule_id IN (");
            let mut sep = qb.separated(", ");
            for id in ids {
                sep.push_bind(id.clone());
            }
            qb.push(")");
        }
        if let Some(h) = q.host_id {
            qb.push(" AND s.host_id = ").push_bind(h);
        }
        if let Some(g) = q.group_id {
            qb.push(" AND s.host_id IN (SELECT host_id FROM host_group_members WHERE group_id = ")
                .push_bind(g)
                .push(")");
        }
        if let Some(f) = &q.framework {
            qb.push(" AND EXISTS (SELECT 1 FROM host_posture p WHERE p.host_id = s.host_id AND p.framework = ")
                .push_bind(f.clone())
                .push(")");
        }
        if let Some(v) = q.verdict {
            qb.push(" AND s.verdict = ").push_bind(v.as_str());
        }
        if let Some(sev) = q.severity {
            qb.push(" AND s.severity = ").push_bind(sev.as_str());
        }
        if let Some(text) = q.host_search.as_ref().filter(|t| !t.is_empty()) {
            qb.push(" AND LOWER(h.name) LIKE ")
                .push_bind(format!("%{}%", like_literal(&text.to_lowercase())))
                .push(" ESCAPE '\\'");
        }
        qb.push(" ORDER BY h.name, s.host_id, s.rule_id LIMIT ").push_bind(q.limit);
        qb.build()
            .fetch_all(self.r())
            .await?
            .iter()
            .map(|r| {
                Ok(HostRuleRow {
                    host_id: r.try_get(0)?,
                    host_name: r.try_get(1)?,
                    rule_id: r.try_get(2)?,
                    verdict: text_col(r, 3, Status::parse)?,
                    severity: text_col(r, 4, Severity::parse)?,
                    since_at: r.try_get(5)?,
                    scan_id: r.try_get(6)?,
                    reason: r.try_get(7)?,
                    evidence_hash: r.try_get(8)?,
                    exception_id: r.try_get(9)?,
                })
            })
            .collect()
    }

    async fn host_posture(&self, host_id: i64) -> Result<Vec<Posture>> {
        sqlx::query("SELECT framework, pass, fail, error, not_applicable, excepted FROM host_posture WHERE host_id = $1 ORDER BY framework")
            .bind(host_id)
            .fetch_all(self.r())
            .await?
            .iter()
            .map(posture_from)
            .collect()
    }

    async fn posture_history(&self, host_id: i64, since: Millis) -> Result<Vec<PosturePoint>> {
        sqlx::query(
            "SELECT framework, pass, fail, error, not_applicable, excepted, at, scan_id FROM posture_history \
             WHERE host_id = $1 AND at >= $2 ORDER BY at, framework",
        )
        .bind(host_id)
        .bind(since)
        .fetch_all(self.r())
        .await?
        .iter()
        .map(|r| {
            Ok(PosturePoint {
                at: r.try_get("at")?,
                scan_id: r.try_get("scan_id")?,
                posture: posture_from(r)?,
            })
        })
        .collect()
    }
}
