// Host groups, hosts, their reachability and SSH host keys.

fn group_from(row: &DbRow) -> Result<Group> {
    Ok(Group {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        host_count: row.try_get("host_count")?,
        created_at: row.try_get("created_at")?,
    })
}

fn host_from(row: &DbRow) -> Result<Host> {
    Ok(Host {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        address: row.try_get("address")?,
        port: row.try_get("port")?,
        username: row.try_get("username")?,
        transport: text_col(row, "transport", Transport::parse)?,
        credential_id: row.try_get("credential_id")?,
        sudo: row.try_get::<i64, _>("sudo")? != 0,
        tags: string_list(&row.try_get::<String, _>("tags")?)?,
        groups: Vec::new(),
        maintenance: row.try_get::<i64, _>("maintenance")? != 0,
        host_key_policy: text_col(row, "host_key_policy", HostKeyPolicy::parse)?,
        platform: row.try_get("platform")?,
        reachability: text_col(row, "reachability", Reachability::parse)?,
        last_error: row.try_get("last_error")?,
        last_scan_at: row.try_get("last_scan_at")?,
        last_scan_status: opt_text_col(row, "last_scan_status", ScanStatus::parse)?,
        failing: row.try_get("failing")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn host_key_from(row: &DbRow) -> Result<HostKey> {
    Ok(HostKey {
        id: row.try_get("id")?,
        host_id: row.try_get("host_id")?,
        algorithm: row.try_get("algorithm")?,
        fingerprint: row.try_get("fingerprint")?,
        public_key: row.try_get("public_key")?,
        status: text_col(row, "status", HostKeyStatus::parse)?,
        first_seen_at: row.try_get("first_seen_at")?,
        decided_at: row.try_get("decided_at")?,
        decided_by: row.try_get("decided_by")?,
    })
}

async fn set_group_members(tx: &mut Tx, host_id: i64, groups: &[String], now: Millis) -> Result<()> {
    sqlx::query("DELETE FROM host_group_members WHERE host_id = $1").bind(host_id).execute(&mut **tx).await?;
    for name in groups {
        sqlx::query("INSERT INTO host_groups (name, description, created_at) VALUES ($1, '', $2) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(now)
            .execute(&mut **tx)
            .await?;
        sqlx::query(
            "INSERT INTO host_group_members (host_id, group_id) SELECT $1, id FROM host_groups WHERE name = $2 \
             ON CONFLICT DO NOTHING",
        )
        .bind(host_id)
        .bind(name)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

impl Backend {
    async fn attach_groups(&self, hosts: &mut [Host]) -> Result<()> {
        if hosts.is_empty() {
            return Ok(());
        }
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT m.host_id, g.name FROM host_group_members m JOIN host_groups g ON g.id = m.group_id WHERE m.host_id IN (",
        );
        let mut sep = qb.separated(", ");
        for h in hosts.iter() {
            sep.push_bind(h.id);
        }
        qb.push(") ORDER BY g.name");
        let mut by_host: HashMap<i64, Vec<String>> = HashMap::new();
        for row in qb.build().fetch_all(self.r()).await? {
            by_host.entry(row.try_get(0)?).or_default().push(row.try_get(1)?);
        }
        for h in hosts {
            h.groups = by_host.remove(&h.id).unwrap_or_default();
        }
        Ok(())
    }

    async fn one_host(
        &self,
        sql: &'static str,
        key: impl sqlx::Encode<'static, Db> + sqlx::Type<Db> + Send + 'static,
    ) -> Result<Option<Host>> {
        let Some(row) = sqlx::query(sql).bind(key).fetch_optional(self.r()).await? else { return Ok(None) };
        let mut hosts = [host_from(&row)?];
        self.attach_groups(&mut hosts).await?;
        let [h] = hosts;
        Ok(Some(h))
    }
}

#[async_trait]
impl HostStore for Backend {
    async fn create_group(&self, name: &str, description: &str, now: Millis) -> Result<Group> {
        let row = sqlx::query(
            "INSERT INTO host_groups (name, description, created_at) VALUES ($1, $2, $3) \
             RETURNING id, name, description, created_at, CAST(0 AS BIGINT) AS host_count",
        )
        .bind(name)
        .bind(description)
        .bind(now)
        .fetch_one(self.w())
        .await
        .map_err(|e| StoreError::conflict_or(e, &format!("group {name}")))?;
        group_from(&row)
    }

    async fn list_groups(&self) -> Result<Vec<Group>> {
        sqlx::query(
            "SELECT g.id, g.name, g.description, g.created_at, \
             (SELECT COUNT(*) FROM host_group_members m JOIN hosts h ON h.id = m.host_id \
              WHERE m.group_id = g.id AND h.deleted_at IS NULL) AS host_count \
             FROM host_groups g ORDER BY g.name",
        )
        .fetch_all(self.r())
        .await?
        .iter()
        .map(group_from)
        .collect()
    }

    async fn group(&self, id: i64) -> Result<Option<Group>> {
        sqlx::query(
            "SELECT g.id, g.name, g.description, g.created_at, \
             (SELECT COUNT(*) FROM host_group_members m JOIN hosts h ON h.id = m.host_id \
              WHERE m.group_id = g.id AND h.deleted_at IS NULL) AS host_count \
             FROM host_groups g WHERE g.id = $1",
        )
        .bind(id)
        .fetch_optional(self.r())
        .await?
        .as_ref()
        .map(group_from)
        .transpose()
    }

    async fn delete_group(&self, id: i64) -> Result<bool> {
        let mut tx = self.w().begin_with(dialect::BEGIN_WRITE).await?;
        sqlx::query("DELETE FROM host_group_members WHERE group_id = $1").bind(id).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM schedules WHERE target_kind = 'group' AND target_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let n = sqlx::query("DELETE FROM host_groups WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n == 1)
    }

    async fn update_group(&self, id: i64, name: &str, description: &str) -> Result<bool> {
        Ok(sqlx::query("UPDATE host_groups SET name = $1, description = $2 WHERE id = $3")
            .bind(name)
            .bind(description)
            .bind(id)
            .execute(self.w())
            .await
            .map_err(|e| StoreError::conflict_or(e, &format!("group {name}")))?
            .rows_affected()
            == 1)
    }

    async fn set_group_member(&self, group_id: i64, host_id: i64, member: bool) -> Result<bool> {
        let mut tx = self.w().begin_with(dialect::BEGIN_WRITE).await?;
        let exists: i64 = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM host_groups WHERE id = $1) \
             * (SELECT COUNT(*) FROM hosts WHERE id = $2 AND deleted_at IS NULL)",
        )
        .bind(group_id)
        .bind(host_id)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        if exists == 0 {
            return Ok(false);
        }
        let sql = if member {
            "INSERT INTO host_group_members (host_id, group_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"
        } else {
            "DELETE FROM host_group_members WHERE host_id = $1 AND group_id = $2"
        };
        sqlx::query(sql).bind(host_id).bind(group_id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn group_host_ids(&self, group_id: i64) -> Result<Vec<i64>> {
        Ok(sqlx::query(
            "SELECT h.id FROM host_group_members m JOIN hosts h ON h.id = m.host_id \
             WHERE m.group_id = $1 AND h.deleted_at IS NULL ORDER BY h.id",
        )
        .bind(group_id)
        .fetch_all(self.r())
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?)
    }

    async fn create_host(&self, h: &HostInput, now: Millis) -> Result<Host> {
        let mut tx = self.w().begin_with(dialect::BEGIN_WRITE).await?;
        let id: i64 = sqlx::query(
            "INSERT INTO hosts (name, address, port, username, transport, credential_id, sudo, tags, maintenance, \
             host_key_policy, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING id",
        )
        .bind(&h.name)
        .bind(&h.address)
        .bind(h.port)
        .bind(&h.username)
        .bind(h.transport.as_str())
        .bind(h.credential_id)
        .bind(h.sudo as i64)
        .bind(json_text(&serde_json::json!(h.tags)))
        .bind(h.maintenance as i64)
        .bind(h.host_key_policy.as_str())
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| StoreError::conflict_or(e, &format!("host {}", h.name)))?
        .try_get(0)?;
        set_group_members(&mut tx, id, &h.groups, now).await?;
        tx.commit().await?;
        self.host(id).await?.ok_or_else(|| StoreError::Corrupt("a created host vanished".into()))
    }

    async fn host(&self, id: i64) -> Result<Option<Host>> {
        const SQL: &str =
            concat!("SELECT ", host_columns!(), " FROM hosts h WHERE h.id = $1 AND h.deleted_at IS NULL");
        self.one_host(SQL, id).await
    }

    async fn host_by_name(&self, name: &str) -> Result<Option<Host>> {
        const SQL: &str =
            concat!("SELECT ", host_columns!(), " FROM hosts h WHERE h.name = $1 AND h.deleted_at IS NULL");
        self.one_host(SQL, name.to_owned()).await
    }

    async fn list_hosts(&self, q: &HostQuery, page: PageRequest) -> Result<Page<Host>> {
        fn filters(qb: &mut QueryBuilder<Db>, q: &HostQuery) {
            qb.push(" WHERE h.deleted_at IS NULL");
            if let Some(s) = q.search.as_ref().filter(|s| !s.is_empty()) {
                let like = format!("%{}%", like_literal(&s.to_lowercase()));
                qb.push(" AND (LOWER(h.name) LIKE ").push_bind(like.clone()).push(" ESCAPE '\\'");
                qb.push(" OR LOWER(h.address) LIKE ").push_bind(like).push(" ESCAPE '\\')");
            }
            if let Some(g) = &q.group {
                qb.push(
                    " AND h.id IN (SELECT m.host_id FROM host_group_members m JOIN host_groups g ON g.id = m.group_id WHERE g.name = ",
                )
                .push_bind(g.clone())
                .push(")");
            }
            if let Some(p) = &q.platform {
                qb.push(" AND h.platform LIKE ").push_bind(format!("{}%", like_literal(p))).push(" ESCAPE '\\'");
            }
            if let Some(t) = &q.tag {
                let tag = like_literal(&json_text(&Value::String(t.clone())));
                qb.push(" AND h.tags LIKE ").push_bind(format!("%{tag}%")).push(" ESCAPE '\\'");
            }
            if let Some(r) = &q.reachability {
                qb.push(" AND h.reachability = ").push_bind(r.clone());
            }
            let band = match q.band.as_deref() {
                Some("critical") => Some("f.critical > 0"),
                Some("high") => Some("f.critical = 0 AND f.high > 0"),
                Some("medium") => Some("f.critical = 0 AND f.high = 0 AND f.medium > 0"),
                Some("low") => Some("f.critical = 0 AND f.high = 0 AND f.medium = 0 AND f.low > 0"),
                Some("compliant") => Some("f.total = 0"),
                Some("unscanned") => Some("f.host_id IS NULL"),
                _ => None,
            };
            if let Some(cond) = band {
                qb.push(format!(" AND h.id IN (SELECT h2.id FROM hosts h2 LEFT JOIN host_failures f ON f.host_id = h2.id WHERE {cond})"));
            }
        }
        let mut cq = QueryBuilder::<Db>::new("SELECT COUNT(*) FROM hosts h");
        filters(&mut cq, q);
        let total = count(self.r(), cq).await?;
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT {HOST_COLUMNS} FROM hosts h LEFT JOIN host_failures f ON f.host_id = h.id"
        ));
        filters(&mut qb, q);
        let order = match q.sort.as_deref().unwrap_or("name") {
            "-name" => "h.name DESC",
            "last_scan_at" => "h.last_scan_at, h.name",
            "-last_scan_at" => "h.last_scan_at DESC, h.name",
            "failures" => "COALESCE(f.total, 0), h.name",
            "-failures" => "COALESCE(f.total, 0) DESC, h.name",
            _ => "h.name",
        };
        qb.push(format!(" ORDER BY {order} LIMIT "))
            .push_bind(page.per_page)
            .push(" OFFSET ")
            .push_bind(page.offset());
        let mut items =
            qb.build().fetch_all(self.r()).await?.iter().map(host_from).collect::<Result<Vec<_>>>()?;
        self.attach_groups(&mut items).await?;
        Ok(Page { items, total, page: page.page, per_page: page.per_page })
    }

    async fn update_host(&self, id: i64, h: &HostInput, now: Millis) -> Result<Option<Host>> {
        let mut tx = self.w().begin_with(dialect::BEGIN_WRITE).await?;
        let n = sqlx::query(
            "UPDATE hosts SET name = $1, address = $2, port = $3, username = $4, transport = $5, credential_id = $6, \
             sudo = $7, tags = $8, maintenance = $9, host_key_policy = $10, updated_at = $11 \
             WHERE id = $12 AND deleted_at IS NULL",
        )
        .bind(&h.name)
        .bind(&h.address)
        .bind(h.port)
        .bind(&h.username)
        .bind(h.transport.as_str())
        .bind(h.credential_id)
        .bind(h.sudo as i64)
        .bind(json_text(&serde_json::json!(h.tags)))
        .bind(h.maintenance as i64)
        .bind(h.host_key_policy.as_str())
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::conflict_or(e, &format!("host {}", h.name)))?
        .rows_affected();
        if n == 0 {
            return Ok(None);
        }
        set_group_members(&mut tx, id, &h.groups, now).await?;
        tx.commit().await?;
        self.host(id).await
    }

    async fn delete_host(&self, id: i64, now: Millis) -> Result<bool> {
        let mut tx = self.w().begin_with(dialect::BEGIN_WRITE).await?;
        let n = sqlx::query("UPDATE hosts SET deleted_at = $1 WHERE id = $2 AND deleted_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 1 {
            forget_failures(&mut tx, id).await?;
            sqlx::query("DELETE FROM host_posture WHERE host_id = $1").bind(id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM schedules WHERE target_kind = 'host' AND target_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(n == 1)
    }

    async fn host_keys(&self, host_id: i64) -> Result<Vec<HostKey>> {
        sqlx::query("SELECT * FROM host_keys WHERE host_id = $1 ORDER BY id")
            .bind(host_id)
            .fetch_all(self.r())
            .await?
            .iter()
            .map(host_key_from)
            .collect()
    }

    async fn pending_host_keys(&self) -> Result<Vec<HostKey>> {
        sqlx::query(
            "SELECT k.* FROM host_keys k JOIN hosts h ON h.id = k.host_id \
             WHERE k.status = 'pending' AND h.deleted_at IS NULL ORDER BY k.host_id, k.id",
        )
        .fetch_all(self.r())
        .await?
        .iter()
        .map(host_key_from)
        .collect()
    }

    async fn observe_host_key(
        &self,
        host_id: i64,
        key: &ObservedHostKey,
        status: HostKeyStatus,
        now: Millis,
    ) -> Result<HostKey> {
        let decided = (status == HostKeyStatus::Approved).then_some(now);
        sqlx::query(
            "INSERT INTO host_keys (host_id, algorithm, fingerprint, public_key, status, first_seen_at, decided_at, decided_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (host_id, fingerprint) DO NOTHING",
        )
        .bind(host_id)
        .bind(&key.algorithm)
        .bind(&key.fingerprint)
        .bind(&key.public_key)
        .bind(status.as_str())
        .bind(now)
        .bind(decided)
        .bind(decided.map(|_| "policy:accept_new"))
        .execute(self.w())
        .await?;
        let row = sqlx::query("SELECT * FROM host_keys WHERE host_id = $1 AND fingerprint = $2")
            .bind(host_id)
            .bind(&key.fingerprint)
            .fetch_one(self.w())
            .await?;
        host_key_from(&row)
    }

    async fn approve_host_key(&self, host_id: i64, key_id: i64, by: &str, now: Millis) -> Result<bool> {
        let mut tx = self.w().begin_with(dialect::BEGIN_WRITE).await?;
        let n = sqlx::query("UPDATE host_keys SET status = 'approved', decided_at = $1, decided_by = $2 WHERE id = $3 AND host_id = $4")
            .bind(now)
            .bind(by)
            .bind(key_id)
            .bind(host_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 1 {
            sqlx::query(
                "UPDATE host_keys SET status = 'rejected', decided_at = $1, decided_by = $2 \
                 WHERE host_id = $3 AND id <> $4 AND status = 'approved'",
            )
            .bind(now)
            .bind(by)
            .bind(host_id)
            .bind(key_id)
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE hosts SET reachability = 'unknown', last_error = NULL WHERE id = $1")
                .bind(host_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(n == 1)
    }

    async fn set_reachability(&self, host_id: i64, reachability: Reachability, error: Option<&str>) -> Result<()> {
        sqlx::query("UPDATE hosts SET reachability = $1, last_error = $2 WHERE id = $3")
            .bind(reachability.as_str())
            .bind(error)
            .bind(host_id)
            .execute(self.w())
            .await?;
        Ok(())
    }

}
