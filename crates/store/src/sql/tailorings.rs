// Group and host tailorings.

#[async_trait]
impl TailoringStore for Backend {
    async fn tailoring(&self, scope: TailoringScope) -> Result<Option<StoredTailoring>> {
        let row = sqlx::query("SELECT body, updated_at, updated_by FROM tailorings WHERE scope = $1 AND scope_id = $2")
            .bind(scope.kind())
            .bind(scope.id())
            .fetch_optional(self.r())
            .await?;
        row.map(|r| {
            Ok(StoredTailoring {
                body: json_body(r.try_get(0)?)?,
                updated_at: r.try_get(1)?,
                updated_by: r.try_get(2)?,
            })
        })
        .transpose()
    }

    async fn delete_tailoring(&self, scope: TailoringScope) -> Result<()> {
        sqlx::query("DELETE FROM tailorings WHERE scope = $1 AND scope_id = $2")
            .bind(scope.kind())
            .bind(scope.id())
            .execute(self.w())
            .await?;
        Ok(())
    }

    async fn put_tailoring(&self, scope: TailoringScope, body: &Value, by: &str, now: Millis) -> Result<()> {
        sqlx::query(
            "INSERT INTO tailorings (scope, scope_id, body, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (scope, scope_id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at, \
             updated_by = excluded.updated_by",
        )
        .bind(scope.kind())
        .bind(scope.id())
        .bind(body.to_string())
        .bind(now)
        .bind(by)
        .execute(self.w())
        .await?;
        Ok(())
    }

    async fn host_tailorings(&self, host_id: i64) -> Result<HostTailorings> {
        let rows = sqlx::query(
            "SELECT g.name, t.body FROM host_group_members m JOIN host_groups g ON g.id = m.group_id \
             JOIN tailorings t ON t.scope = 'group' AND t.scope_id = g.id WHERE m.host_id = $1 ORDER BY g.name",
        )
        .bind(host_id)
        .fetch_all(self.r())
        .await?;
        let groups = rows
            .iter()
            .map(|r| Ok((r.try_get(0)?, json_body(r.try_get(1)?)?)))
            .collect::<Result<Vec<_>>>()?;
        let host = sqlx::query("SELECT body FROM tailorings WHERE scope = 'host' AND scope_id = $1")
            .bind(host_id)
            .fetch_optional(self.r())
            .await?
            .map(|r| json_body(r.try_get(0)?))
            .transpose()?;
        Ok(HostTailorings { groups, host })
    }
}

fn json_body(text: String) -> Result<Value> {
    Ok(json_value(Some(text))?.unwrap_or(Value::Null))
}
