// Second factors, single sign-on identities, ceremonies in flight and sessions' sign-in
// state. Authenticator secrets are sealed like credentials, bound to `totp:<user>:secret`.

/// The associated data a user's stored authenticator secret is bound to.
fn totp_binding(user_id: i64) -> String {
    format!("totp:{user_id}:secret")
}

fn security_key_from(row: &DbRow) -> Result<SecurityKey> {
    Ok(SecurityKey {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        name: row.try_get("name")?,
        credential_id: row.try_get("credential_id")?,
        passkey: row.try_get("passkey")?,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
    })
}

/// Re-seal every authenticator secret from `old` to `new` inside a key rotation's transaction.
async fn reseal_totp(tx: &mut Tx, old: &SecretKey, new: &SecretKey) -> Result<()> {
    let rows = sqlx::query("SELECT user_id, secret FROM totp_factors").fetch_all(&mut **tx).await?;
    for row in &rows {
        let user_id: i64 = row.try_get(0)?;
        let ad = totp_binding(user_id);
        let sealed = new.seal_bound(&old.open_bound(&row.try_get::<Vec<u8>, _>(1)?, &ad)?, &ad)?;
        sqlx::query("UPDATE totp_factors SET secret = $1 WHERE user_id = $2")
            .bind(sealed)
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

#[async_trait]
impl FactorStore for Backend {
    async fn begin_totp(&self, user_id: i64, sealed_secret: &[u8], now: Millis) -> Result<()> {
        let key = &self.keys.credential;
        let stored = key.seal_bound(&key.open(sealed_secret)?, &totp_binding(user_id))?;
        let done = sqlx::query(
            "INSERT INTO totp_factors (user_id, secret, confirmed_at, last_step, created_at) \
             VALUES ($1, $2, NULL, 0, $3) \
             ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, last_step = 0, \
             created_at = excluded.created_at WHERE totp_factors.confirmed_at IS NULL",
        )
        .bind(user_id)
        .bind(stored)
        .bind(now)
        .execute(self.w())
        .await?
        .rows_affected();
        if done == 0 {
            return Err(StoreError::Conflict("an authenticator app is already enrolled; remove it first".into()));
        }
        Ok(())
    }

    async fn totp(&self, user_id: i64) -> Result<Option<TotpFactor>> {
        let Some(row) = sqlx::query("SELECT * FROM totp_factors WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(self.r())
            .await?
        else {
            return Ok(None);
        };
        let key = &self.keys.credential;
        let secret = key.open_bound(&row.try_get::<Vec<u8>, _>("secret")?, &totp_binding(user_id))?;
        Ok(Some(TotpFactor {
            user_id,
            sealed_secret: key.seal(&secret)?,
            confirmed_at: row.try_get("confirmed_at")?,
            last_step: row.try_get("last_step")?,
            created_at: row.try_get("created_at")?,
        }))
    }

    async fn use_totp_step(&self, user_id: i64, step: i64, now: Millis) -> Result<bool> {
        Ok(sqlx::query(
            "UPDATE totp_factors SET last_step = $1, confirmed_at = COALESCE(confirmed_at, $2) \
             WHERE user_id = $3 AND last_step < $1",
        )
        .bind(step)
        .bind(now)
        .bind(user_id)
        .execute(self.w())
        .await?
        .rows_affected()
            == 1)
    }

    async fn delete_totp(&self, user_id: i64) -> Result<bool> {
        Ok(sqlx::query("DELETE FROM totp_factors WHERE user_id = $1")
            .bind(user_id)
            .execute(self.w())
            .await?
            .rows_affected()
            == 1)
    }

    async fn replace_recovery_codes(&self, user_id: i64, hashes: &[String], now: Millis) -> Result<()> {
        let mut tx = self.w().begin_with(dialect::BEGIN_WRITE).await?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
        for h in hashes {
            sqlx::query("INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)")
                .bind(user_id)
                .bind(h)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn use_recovery_code(&self, user_id: i64, hash: &str, now: Millis) -> Result<bool> {
        Ok(sqlx::query(
            "UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
        )
        .bind(now)
        .bind(user_id)
        .bind(hash)
        .execute(self.w())
        .await?
        .rows_affected()
            == 1)
    }

    async fn recovery_codes_left(&self, user_id: i64) -> Result<i64> {
        Ok(sqlx::query("SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL")
            .bind(user_id)
            .fetch_one(self.r())
            .await?
            .try_get(0)?)
    }

    async fn delete_recovery_codes(&self, user_id: i64) -> Result<()> {
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user_id).execute(self.w()).await?;
        Ok(())
    }

    async fn add_security_key(&self, k: &NewSecurityKey, now: Millis) -> Result<SecurityKey> {
        let row = sqlx::query(
            "INSERT INTO security_keys (user_id, name, credential_id, passkey, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING *",
        )
        .bind(k.user_id)
        .bind(&k.name)
        .bind(&k.credential_id)
        .bind(&k.passkey)
        .bind(now)
        .fetch_one(self.w())
        .await
        .map_err(|e| StoreError::conflict_or(e, "this security key"))?;
        security_key_from(&row)
    }

    async fn security_keys(&self, user_id: i64) -> Result<Vec<SecurityKey>> {
        sqlx::query("SELECT * FROM security_keys WHERE user_id = $1 ORDER BY id")
            .bind(user_id)
            .fetch_all(self.r())
            .await?
            .iter()
            .map(security_key_from)
            .collect()
    }

    async fn used_security_key(&self, id: i64, passkey: &str, now: Millis) -> Result<()> {
        sqlx::query("UPDATE security_keys SET passkey = $1, last_used_at = $2 WHERE id = $3")
            .bind(passkey)
            .bind(now)
            .bind(id)
            .execute(self.w())
            .await?;
        Ok(())
    }

    async fn delete_security_key(&self, user_id: i64, id: i64) -> Result<Option<SecurityKey>> {
        sqlx::query("DELETE FROM security_keys WHERE user_id = $1 AND id = $2 RETURNING *")
            .bind(user_id)
            .bind(id)
            .fetch_optional(self.w())
            .await?
            .as_ref()
            .map(security_key_from)
            .transpose()
    }

    async fn put_challenge(&self, c: &AuthChallenge, now: Millis) -> Result<()> {
        let mut tx = self.w().begin_with(dialect::BEGIN_WRITE).await?;
        sqlx::query("DELETE FROM auth_challenges WHERE expires_at <= $1").bind(now).execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO auth_challenges (id_hash, kind, user_id, state, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&c.id_hash)
        .bind(c.kind.as_str())
        .bind(c.user_id)
        .bind(&c.state)
        .bind(c.expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn take_challenge(
        &self,
        id_hash: &str,
        kind: ChallengeKind,
        now: Millis,
    ) -> Result<Option<AuthChallenge>> {
        let Some(row) = sqlx::query(
            "DELETE FROM auth_challenges WHERE id_hash = $1 AND kind = $2 \
             RETURNING id_hash, kind, user_id, state, expires_at",
        )
        .bind(id_hash)
        .bind(kind.as_str())
        .fetch_optional(self.w())
        .await?
        else {
            return Ok(None);
        };
        let c = AuthChallenge {
            id_hash: row.try_get("id_hash")?,
            kind: text_col(&row, "kind", ChallengeKind::parse)?,
            user_id: row.try_get("user_id")?,
            state: row.try_get("state")?,
            expires_at: row.try_get("expires_at")?,
        };
        Ok((c.expires_at > now).then_some(c))
    }

    async fn sso_user(&self, provider: &str, subject: &str) -> Result<Option<i64>> {
        Ok(sqlx::query("SELECT user_id FROM sso_identities WHERE provider = $1 AND subject = $2")
            .bind(provider)
            .bind(subject)
            .fetch_optional(self.r())
            .await?
            .map(|r| r.try_get(0))
            .transpose()?)
    }

    async fn link_sso(&self, provider: &str, subject: &str, user_id: i64, now: Millis) -> Result<()> {
        sqlx::query(
            "INSERT INTO sso_identities (provider, subject, user_id, created_at, last_sign_in_at) \
             VALUES ($1, $2, $3, $4, $4) \
             ON CONFLICT (provider, subject) DO UPDATE SET last_sign_in_at = excluded.last_sign_in_at",
        )
        .bind(provider)
        .bind(subject)
        .bind(user_id)
        .bind(now)
        .execute(self.w())
        .await?;
        Ok(())
    }

    async fn sso_identities(&self, user_id: i64) -> Result<Vec<SsoIdentity>> {
        sqlx::query("SELECT * FROM sso_identities WHERE user_id = $1 ORDER BY provider, subject")
            .bind(user_id)
            .fetch_all(self.r())
            .await?
            .iter()
            .map(|row| {
                Ok(SsoIdentity {
                    provider: row.try_get("provider")?,
                    subject: row.try_get("subject")?,
                    user_id: row.try_get("user_id")?,
                    created_at: row.try_get("created_at")?,
                    last_sign_in_at: row.try_get("last_sign_in_at")?,
                })
            })
            .collect()
    }

    async fn user_sessions(&self, user_id: i64) -> Result<Vec<Session>> {
        sqlx::query("SELECT * FROM sessions WHERE user_id = $1 ORDER BY created_at DESC")
            .bind(user_id)
            .fetch_all(self.r())
            .await?
            .iter()
            .map(session_from)
            .collect()
    }

    async fn second_factor_checked(&self, id_hash: &str, now: Millis) -> Result<bool> {
        Ok(sqlx::query(
            "UPDATE sessions SET stage = 'full', second_factor_at = $1, attempts = 0, last_seen_at = $1 \
             WHERE id_hash = $2",
        )
        .bind(now)
        .bind(id_hash)
        .execute(self.w())
        .await?
        .rows_affected()
            == 1)
    }

    async fn count_second_factor_failure(&self, id_hash: &str) -> Result<i64> {
        Ok(sqlx::query("UPDATE sessions SET attempts = attempts + 1 WHERE id_hash = $1 RETURNING attempts")
            .bind(id_hash)
            .fetch_optional(self.w())
            .await?
            .map(|r| r.try_get::<i64, _>(0))
            .transpose()?
            .unwrap_or(i64::MAX))
    }
}
