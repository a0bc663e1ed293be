// Credentials: rows here, sealing and key rotation in `keys.rs`.

fn credential_from(row: &DbRow) -> Result<Credential> {
    Ok(Credential {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        kind: row.try_get("kind")?,
        username: row.try_get("username")?,
        has_sudo_password: row.try_get::<i64, _>("has_sudo")? != 0,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

#[async_trait]
impl CredentialStore for Backend {
    async fn create_credential(&self, c: &NewCredential, now: Millis) -> Result<Credential> {
        self.insert_credential(c, now).await
    }

    async fn list_credentials(&self) -> Result<Vec<Credential>> {
        sqlx::query(
            "SELECT id, name, kind, username, CAST(CASE WHEN sudo_secret IS NULL THEN 0 ELSE 1 END AS BIGINT) AS has_sudo, created_at, updated_at \
             FROM credentials ORDER BY name",
        )
        .fetch_all(self.r())
        .await?
        .iter()
        .map(credential_from)
        .collect()
    }

    async fn credential(&self, id: i64) -> Result<Option<Credential>> {
        sqlx::query(
            "SELECT id, name, kind, username, CAST(CASE WHEN sudo_secret IS NULL THEN 0 ELSE 1 END AS BIGINT) AS has_sudo, created_at, updated_at \
             FROM credentials WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.r())
        .await?
        .as_ref()
        .map(credential_from)
        .transpose()
    }

    async fn credential_secrets(&self, id: i64) -> Result<Option<SealedSecrets>> {
        self.transit_secrets(id).await
    }

    async fn delete_credential(&self, id: i64) -> Result<bool> {
        let in_use: i64 =
            sqlx::query("SELECT COUNT(*) FROM hosts WHERE credential_id = $1 AND deleted_at IS NULL")
                .bind(id)
                .fetch_one(self.r())
                .await?
                .try_get(0)?;
        if in_use > 0 {
            return Err(StoreError::Invalid(format!("the credential is used by {in_use} host(s)")));
        }
        sqlx::query("UPDATE hosts SET credential_id = NULL WHERE credential_id = $1")
            .bind(id)
            .execute(self.w())
            .await?;
        Ok(sqlx::query("DELETE FROM credentials WHERE id = $1")
            .bind(id)
            .execute(self.w())
            .await?
            .rows_affected()
            == 1)
    }

    async fn rotate_credential_key(&self, now: Millis) -> Result<usize> {
        self.rotate_key(now).await
    }
}
