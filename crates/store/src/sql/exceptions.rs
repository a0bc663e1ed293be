// Accepted risks: requests, decisions, revocations, and the ones in force for a host.

const EXCEPTION_COLUMNS: &str = "e.id, e.rule_id, e.host_id, h.name AS host_name, e.group_id, g.name AS group_name, \
    e.justification, e.expires_on, e.status, e.requested_by, e.requested_at, e.decided_by, e.decided_at, \
    e.decision_note, e.revoked_by, e.revoked_at";

const EXCEPTION_FROM: &str =
    "exceptions e LEFT JOIN hosts h ON h.id = e.host_id LEFT JOIN host_groups g ON g.id = e.group_id";

/// The exceptions that apply to host `$1`: its own, its groups' and fleet-wide ones.
const APPLIES_TO_HOST: &str = "(e.host_id = $1 OR e.group_id IN (SELECT m.group_id FROM host_group_members m \
    WHERE m.host_id = $1) OR (e.host_id IS NULL AND e.group_id IS NULL))";

fn exception_from(row: &DbRow) -> Result<StoredException> {
    let host_id: Option<i64> = row.try_get("host_id")?;
    let group_id: Option<i64> = row.try_get("group_id")?;
    Ok(StoredException {
        id: row.try_get("id")?,
        rule_id: row.try_get("rule_id")?,
        scope: match (host_id, group_id) {
            (Some(_), _) => "host",
            (None, Some(_)) => "group",
            (None, None) => "fleet",
        },
        host_id,
        host_name: row.try_get("host_name")?,
        group_id,
        group_name: row.try_get("group_name")?,
        justification: row.try_get("justification")?,
        expires_on: row.try_get("expires_on")?,
        status: text_col(row, "status", ExceptionStatus::parse)?,
        requested_by: row.try_get("requested_by")?,
        requested_at: row.try_get("requested_at")?,
        decided_by: row.try_get("decided_by")?,
        decided_at: row.try_get("decided_at")?,
        decision_note: row.try_get("decision_note")?,
        revoked_by: row.try_get("revoked_by")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

async fn exception_by_id(b: &Backend, id: i64) -> Result<Option<StoredException>> {
    sqlx::query(AssertSqlSafe(format!("SELECT {EXCEPTION_COLUMNS} FROM {EXCEPTION_FROM} WHERE e.id = $1")))
        .bind(id)
        .fetch_optional(b.r())
        .await?
        .as_ref()
        .map(exception_from)
        .transpose()
}

#[async_trait]
impl ExceptionStore for Backend {
    async fn create_exception(&self, e: &NewException, now: Millis) -> Result<StoredException> {
        let (host, group) = match e.scope {
            ExceptionScope::Host(h) => (Some(h), None),
            ExceptionScope::Group(g) => (None, Some(g)),
            ExceptionScope::Fleet => (None, None),
        };
        let id: i64 = sqlx::query(
            "INSERT INTO exceptions (rule_id, host_id, group_id, justification, expires_on, status, requested_by, requested_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(&e.rule_id)
        .bind(host)
        .bind(group)
        .bind(&e.justification)
        .bind(&e.expires_on)
        .bind(ExceptionStatus::Requested.as_str())
        .bind(&e.requested_by)
        .bind(now)
        .fetch_one(self.w())
        .await?
        .try_get(0)?;
        exception_by_id(self, id).await?.ok_or_else(|| StoreError::Corrupt(format!("exception {id} vanished")))
    }

    async fn exception(&self, id: i64) -> Result<Option<StoredException>> {
        exception_by_id(self, id).await
    }

    async fn list_exceptions(&self, q: &ExceptionQuery, page: PageRequest) -> Result<Page<StoredException>> {
        fn filters(qb: &mut QueryBuilder<Db>, q: &ExceptionQuery) {
            qb.push(" WHERE 1 = 1");
            if let Some(s) = q.status {
                qb.push(" AND e.status = ").push_bind(s.as_str());
            }
            if let Some(r) = &q.rule_id {
                qb.push(" AND e.rule_id = ").push_bind(r.clone());
            }
            if let Some(h) = q.host_id {
                qb.push(" AND (e.host_id = ")
                    .push_bind(h)
                    .push(" OR e.group_id IN (SELECT m.group_id FROM host_group_members m WHERE m.host_id = ")
                    .push_bind(h)
                    .push(") OR (e.host_id IS NULL AND e.group_id IS NULL))");
            }
        }
        let mut cq = QueryBuilder::<Db>::new("SELECT COUNT(*) FROM exceptions e");
        filters(&mut cq, q);
        let total = count(self.r(), cq).await?;
        let mut qb = QueryBuilder::<Db>::new(format!("SELECT {EXCEPTION_COLUMNS} FROM {EXCEPTION_FROM}"));
        filters(&mut qb, q);
        qb.push(" ORDER BY e.id DESC LIMIT ").push_bind(page.per_page).push(" OFFSET ").push_bind(page.offset());
        let items = qb.build().fetch_all(self.r()).await?.iter().map(exception_from).collect::<Result<_>>()?;
        Ok(Page { items, total, page: page.page, per_page: page.per_page })
    }

    async fn decide_exception(
        &self,
        id: i64,
        approve: bool,
        by: &str,
        note: &str,
        now: Millis,
    ) -> Result<Option<StoredException>> {
        let next = if approve { ExceptionStatus::Approved } else { ExceptionStatus::Rejected };
        let moved = sqlx::query(
            "UPDATE exceptions SET status = $1, decided_by = $2, decided_at = $3, decision_note = $4 \
             WHERE id = $5 AND status = $6",
        )
        .bind(next.as_str())
        .bind(by)
        .bind(now)
        .bind(note)
        .bind(id)
        .bind(ExceptionStatus::Requested.as_str())
        .execute(self.w())
        .await?
        .rows_affected()
            > 0;
        if !moved {
            return Ok(None);
        }
        exception_by_id(self, id).await
    }

    async fn revoke_exception(&self, id: i64, by: &str, now: Millis) -> Result<Option<StoredException>> {
        let moved = sqlx::query(
            "UPDATE exceptions SET status = $1, revoked_by = $2, revoked_at = $3 WHERE id = $4 AND status = $5",
        )
        .bind(ExceptionStatus::Revoked.as_str())
        .bind(by)
        .bind(now)
        .bind(id)
        .bind(ExceptionStatus::Approved.as_str())
        .execute(self.w())
        .await?
        .rows_affected()
            > 0;
        if !moved {
            return Ok(None);
        }
        exception_by_id(self, id).await
    }

    async fn host_exceptions(&self, host_id: i64, today: &str) -> Result<Vec<StoredException>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {EXCEPTION_COLUMNS} FROM {EXCEPTION_FROM} WHERE {APPLIES_TO_HOST} \
             AND e.status = $2 AND e.expires_on >= $3 ORDER BY e.id"
        )))
        .bind(host_id)
        .bind(ExceptionStatus::Approved.as_str())
        .bind(today)
        .fetch_all(self.r())
        .await?
        .iter()
        .map(exception_from)
        .collect()
    }

    async fn expiring_exceptions(&self, from: &str, to: &str) -> Result<Vec<StoredException>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {EXCEPTION_COLUMNS} FROM {EXCEPTION_FROM} WHERE e.status = $1 \
             AND e.expires_on >= $2 AND e.expires_on <= $3 ORDER BY e.expires_on, e.id"
        )))
        .bind(ExceptionStatus::Approved.as_str())
        .bind(from)
        .bind(to)
        .fetch_all(self.r())
        .await?
        .iter()
        .map(exception_from)
        .collect()
    }
}
