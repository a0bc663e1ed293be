// Users, custom roles, sessions and API tokens.

fn user_from(row: &DbRow) -> Result<User> {
    Ok(User {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        role: row.try_get("role")?,
        disabled: row.try_get::<i64, _>("disabled")? != 0,
        created_at: row.try_get("created_at")?,
        password_hash: row.try_get("password_hash")?,
    })
}

fn token_from(row: &DbRow) -> Result<ApiToken> {
    Ok(ApiToken {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        name: row.try_get("name")?,
        role: row.try_get("role")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        last_used_at: row.try_get("last_used_at")?,
        revoked: row.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
    })
}

fn session_from(row: &DbRow) -> Result<Session> {
    Ok(Session {
        id_hash: row.try_get("id_hash")?,
        user_id: row.try_get("user_id")?,
        csrf_token: row.try_get("csrf_token")?,
        created_at: row.try_get("created_at")?,
        last_seen_at: row.try_get("last_seen_at")?,
        expires_at: row.try_get("expires_at")?,
        stage: text_col(row, "stage", SessionStage::parse)?,
        method: text_col(row, "method", SignInMethod::parse)?,
        provider: row.try_get("provider")?,
        second_factor_at: row.try_get("second_factor_at")?,
        source: row.try_get("source")?,
    })
}

#[async_trait]
impl UserStore for Backend {
    async fn create_user(&self, u: &NewUser, now: Millis) -> Result<User> {
        let row = sqlx::query(
            "INSERT INTO users (username, password_hash, role, disabled, created_at, updated_at) \
             VALUES ($1, $2, $3, 0, $4, $4) RETURNING *",
        )
        .bind(&u.username)
        .bind(&u.password_hash)
        .bind(&u.role)
        .bind(now)
        .fetch_one(self.w())
        .await
        .map_err(|e| StoreError::conflict_or(e, &format!("user {}", u.username)))?;
        user_from(&row)
    }

    async fn user_by_name(&self, username: &str) -> Result<Option<User>> {
        sqlx::query("SELECT * FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(self.r())
            .await?
            .as_ref()
            .map(user_from)
            .transpose()
    }

    async fn user(&self, id: i64) -> Result<Option<User>> {
        sqlx::query("SELECT * FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(self.r())
            .await?
            .as_ref()
            .map(user_from)
            .transpose()
    }

    async fn list_users(&self) -> Result<Vec<User>> {
        sqlx::query("SELECT * FROM users ORDER BY username")
            .fetch_all(self.r())
            .await?
            .iter()
            .map(user_from)
            .collect()
    }

    async fn count_users(&self) -> Result<i64> {
        Ok(sqlx::query("SELECT COUNT(*) FROM users").fetch_one(self.r()).await?.try_get(0)?)
    }

    async fn set_password(&self, id: i64, password_hash: &str, now: Millis) -> Result<()> {
        sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
            .bind(password_hash)
            .bind(now)
            .bind(id)
            .execute(self.w())
            .await?;
        Ok(())
    }

    async fn update_user(&self, id: i64, role: &str, disabled: bool, now: Millis) -> Result<()> {
        sqlx::query("UPDATE users SET role = $1, disabled = $2, updated_at = $3 WHERE id = $4")
            .bind(role)
            .bind(disabled as i64)
            .bind(now)
            .bind(id)
            .execute(self.w())
            .await?;
        Ok(())
    }

    async fn delete_user(&self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM users WHERE id = $1").bind(id).execute(self.w()).await?;
        Ok(())
    }

    async fn custom_roles(&self) -> Result<Vec<CustomRole>> {
        sqlx::query("SELECT name, description, permissions FROM roles ORDER BY name")
            .fetch_all(self.r())
            .await?
            .iter()
            .map(|r| {
                Ok(CustomRole {
                    name: r.try_get(0)?,
                    description: r.try_get(1)?,
                    permissions: string_list(&r.try_get::<String, _>(2)?)?,
                })
            })
            .collect()
    }

    async fn put_role(&self, role: &CustomRole, now: Millis) -> Result<()> {
        sqlx::query(
            "INSERT INTO roles (name, description, permissions, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO UPDATE SET description = excluded.description, permissions = excluded.permissions",
        )
        .bind(&role.name)
        .bind(&role.description)
        .bind(json_text(&serde_json::json!(role.permissions)))
        .bind(now)
        .execute(self.w())
        .await?;
        Ok(())
    }

    async fn delete_role(&self, name: &str) -> Result<bool> {
        Ok(sqlx::query("DELETE FROM roles WHERE name = $1")
            .bind(name)
            .execute(self.w())
            .await?
            .rows_affected()
            == 1)
    }

    async fn create_session(&self, s: &Session) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, last_seen_at, expires_at, \
             stage, method, provider, second_factor_at, source) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&s.id_hash)
        .bind(s.user_id)
        .bind(&s.csrf_token)
        .bind(s.created_at)
        .bind(s.last_seen_at)
        .bind(s.expires_at)
        .bind(s.stage.as_str())
        .bind(s.method.as_str())
        .bind(&s.provider)
        .bind(s.second_factor_at)
        .bind(&s.source)
        .execute(self.w())
        .await?;
        Ok(())
    }

    async fn session(&self, id_hash: &str) -> Result<Option<Session>> {
        sqlx::query("SELECT * FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .fetch_optional(self.r())
            .await?
            .as_ref()
            .map(session_from)
            .transpose()
    }

    async fn touch_session(&self, id_hash: &str, now: Millis) -> Result<()> {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2")
            .bind(now)
            .bind(id_hash)
            .execute(self.w())
            .await?;
        Ok(())
    }

    async fn delete_session(&self, id_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(id_hash).execute(self.w()).await?;
        Ok(())
    }

    async fn delete_user_sessions(&self, user_id: i64) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user_id).execute(self.w()).await?;
        Ok(())
    }

    async fn create_token(&self, t: &NewToken, now: Millis) -> Result<ApiToken> {
        let row = sqlx::query(
            "INSERT INTO api_tokens (user_id, name, role, token_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
        )
        .bind(t.user_id)
        .bind(&t.name)
        .bind(&t.role)
        .bind(&t.token_hash)
        .bind(now)
        .bind(t.expires_at)
        .fetch_one(self.w())
        .await?;
        token_from(&row)
    }

    async fn use_token(&self, token_hash: &str, now: Millis) -> Result<Option<ApiToken>> {
        let row = sqlx::query(
            "SELECT * FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL \
             AND (expires_at IS NULL OR expires_at > $2)",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(self.r())
        .await?;
        let Some(token) = row.as_ref().map(token_from).transpose()? else { return Ok(None) };
        // Record use at most once a minute: reads should not each cost a write.
        if token.last_used_at.is_none_or(|t| now - t >= 60_000) {
            sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
                .bind(now)
                .bind(token.id)
                .execute(self.w())
                .await?;
        }
        Ok(Some(token))
    }

    async fn list_tokens(&self, user_id: Option<i64>) -> Result<Vec<ApiToken>> {
        sqlx::query("SELECT * FROM api_tokens WHERE ($1 IS NULL OR user_id = $1) ORDER BY id")
            .bind(user_id)
            .fetch_all(self.r())
            .await?
            .iter()
            .map(token_from)
            .collect()
    }

    async fn revoke_token(&self, id: i64, now: Millis) -> Result<bool> {
        Ok(sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(self.w())
            .await?
            .rows_affected()
            == 1)
    }
}
