// The keyed parts of the store, shared by both backends like `common.rs` (and `include!`d
// after it): loading the key files at open, adopting an audit key on a log that predates
// it, binding credential ciphertexts to their rows, the keyed audit append and verification,
// and credential key rotation.

use crate::audit::{self, ANCHOR_ACTION, AuditKey, Head};
use crate::keys::{self, StoreKeys};
use crate::secrets::{self, SecretKey, binding};

/// The columns of `credentials` that hold sealed secrets.
const SEALED_FIELDS: [&str; 2] = ["secret", "sudo_secret"];

/// Load (or create) the key files and bring the database in line with them.
///
/// The audit key file's creation is the one moment a log that predates audit keys is
/// adopted and unbound credential ciphertexts are bound to their rows: the key is written
/// to `<audit key>.new` first and moved into place only after both, so a crash in between
/// finishes them at the next start. Anyone able to write the database but not the key file
/// cannot trigger either again.
async fn open_keys(w: &Pool<Db>, files: &KeyFiles) -> Result<StoreKeys> {
    let fresh = !files.audit.exists();
    let pending = keys::pending_path(&files.audit);
    let mut audit = keys::load_or_create(if fresh { &pending } else { &files.audit })?;
    adopt_audit_key(w, &AuditKey::from_bytes(&audit), fresh, &files.audit).await?;
    let credential = load_credential_key(w, &files.credential).await?;
    if fresh {
        bind_unbound_credentials(w, &credential).await?;
        // A process that started at the same time may have installed its key first; this one
        // then wrote nothing keyed (adoption would have refused its key) and uses that one.
        audit = keys::install_first(&pending, &files.audit)?;
    }
    Ok(StoreKeys { credential, audit: AuditKey::from_bytes(&audit), files: files.clone() })
}

async fn locked_head(tx: &mut Tx) -> Result<Head> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT seq, hash, mac FROM audit_head WHERE id = 1{}",
        dialect::LOCK_SUFFIX
    )))
    .fetch_one(&mut **tx)
    .await?;
    Ok(Head { seq: row.try_get(0)?, hash: row.try_get(1)?, mac: row.try_get(2)? })
}

/// Refuse an audit key the log was not written with; on a log that predates audit keys,
/// append the anchor that starts its keyed part (only when the key is new, see `open_keys`).
async fn adopt_audit_key(w: &Pool<Db>, key: &AuditKey, fresh: bool, path: &std::path::Path) -> Result<()> {
    let mut tx = w.begin_with(dialect::BEGIN_WRITE).await?;
    let head = locked_head(&mut tx).await?;
    if !head.mac.is_empty() {
        if head.mac != key.head_mac(head.seq, &head.hash) {
            return Err(StoreError::Secret(format!(
                "the audit key {} is not the key this database's audit log was written with{}; \
                 every server and worker must use the same audit key file",
                path.display(),
                if fresh { " (the file was missing and has just been created)" } else { "" }
            )));
        }
        return Ok(());
    }
    if fresh && head.seq > 0 {
        let anchor = NewAuditEvent {
            at: wall_clock_ms(),
            actor: "system".into(),
            action: ANCHOR_ACTION.into(),
            target: "audit".into(),
            outcome: "success".into(),
            source: "store".into(),
            correlation_id: String::new(),
            details: serde_json::json!({"unkeyed_events": head.seq}),
        };
        append_keyed(&mut tx, key, &anchor).await?;
        tx.commit().await?;
    }
    Ok(())
}

fn wall_clock_ms() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Append `e` to the chain inside `tx`: keyed hash, and the head with its MAC.
async fn append_keyed(tx: &mut Tx, key: &AuditKey, e: &NewAuditEvent) -> Result<AuditEvent> {
    let head = locked_head(tx).await?;
    let seq = head.seq + 1;
    let hash = key.event_hash(seq, &head.hash, e);
    let row = sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO audit_events ({AUDIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING {AUDIT_COLUMNS}"
    )))
    .bind(seq)
    .bind(e.at)
    .bind(&e.actor)
    .bind(&e.action)
    .bind(&e.target)
    .bind(&e.outcome)
    .bind(&e.source)
    .bind(&e.correlation_id)
    .bind(json_text(&e.details))
    .bind(&head.hash)
    .bind(&hash)
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2, mac = $3 WHERE id = 1")
        .bind(seq)
        .bind(&hash)
        .bind(key.head_mac(seq, &hash))
        .execute(&mut **tx)
        .await?;
    audit_from(&row)
}

/// Open a stored value of a credential row; unbound values (from before row binding) are
/// accepted only here, where keys are checked and bound at open.
fn open_stored(key: &SecretKey, sealed: &[u8], id: i64, field: &str) -> Result<Vec<u8>> {
    if secrets::is_unbound(sealed) { key.open(sealed) } else { key.open_bound(sealed, &binding(id, field)) }
}

/// Whether `key` opens the first stored credential (`None` when there is none).
async fn opens_credentials(w: &Pool<Db>, key: &SecretKey) -> Result<Option<bool>> {
    let Some(row) =
        sqlx::query("SELECT id, secret FROM credentials ORDER BY id LIMIT 1").fetch_optional(w).await?
    else {
        return Ok(None);
    };
    let sealed: Vec<u8> = row.try_get(1)?;
    Ok(Some(open_stored(key, &sealed, row.try_get(0)?, "secret").is_ok()))
}

/// Load the credential key (creating it at first start). A rotation interrupted after its
/// database commit left the new key in `<key>.new`; it is moved into place here.
async fn load_credential_key(w: &Pool<Db>, path: &std::path::Path) -> Result<SecretKey> {
    let pending = keys::pending_path(path);
    if pending.exists() {
        let new = SecretKey::from_bytes(&keys::read_key_file(&pending)?);
        if opens_credentials(w, &new).await? == Some(true) {
            keys::install(&pending, path)?;
            return Ok(new);
        }
        std::fs::remove_file(&pending).map_err(|e| {
            StoreError::Secret(format!("removing the abandoned rotation key {}: {e}", pending.display()))
        })?;
    }
    let key = SecretKey::from_bytes(&keys::load_or_create(path)?);
    if opens_credentials(w, &key).await? == Some(false) {
        return Err(StoreError::Secret(format!(
            "the credential key {} does not decrypt the stored credentials (wrong key file for this database?)",
            path.display()
        )));
    }
    Ok(key)
}

/// Re-seal every credential value still in the unbound format bound to its row and field.
async fn bind_unbound_credentials(w: &Pool<Db>, key: &SecretKey) -> Result<()> {
    let mut tx = w.begin_with(dialect::BEGIN_WRITE).await?;
    let rows = sqlx::query("SELECT id, secret, sudo_secret FROM credentials").fetch_all(&mut *tx).await?;
    for row in &rows {
        let id: i64 = row.try_get(0)?;
        for (i, field) in SEALED_FIELDS.iter().enumerate() {
            let Some(sealed) = row.try_get::<Option<Vec<u8>>, _>(i + 1)? else { continue };
            if !secrets::is_unbound(&sealed) {
                continue;
            }
            let bound = key.seal_bound(&key.open(&sealed)?, &binding(id, field))?;
            sqlx::query(AssertSqlSafe(format!("UPDATE credentials SET {field} = $1 WHERE id = $2")))
                .bind(bound)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

impl Backend {
    /// The key callers seal credential secrets with for transit to and from this store.
    pub fn credential_key(&self) -> &SecretKey {
        &self.keys.credential
    }

    /// Bind a new credential's secrets (sealed for transit) to its row, in one transaction.
    async fn insert_credential(&self, c: &NewCredential, now: Millis) -> Result<Credential> {
        let key = &self.keys.credential;
        let secret = key.open(&c.sealed.secret)?;
        let sudo = c.sealed.sudo_secret.as_deref().map(|s| key.open(s)).transpose()?;
        let mut tx = self.w().begin_with(dialect::BEGIN_WRITE).await?;
        // Placeholders until the row has the id the ciphertexts are bound to.
        let row = sqlx::query(
            "INSERT INTO credentials (name, kind, username, secret, sudo_secret, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) \
             RETURNING id, name, kind, username, CAST(CASE WHEN sudo_secret IS NULL THEN 0 ELSE 1 END AS BIGINT) AS has_sudo, created_at, updated_at",
        )
        .bind(&c.name)
        .bind(&c.kind)
        .bind(&c.username)
        .bind(Vec::<u8>::new())
        .bind(sudo.as_ref().map(|_| Vec::<u8>::new()))
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| StoreError::conflict_or(e, &format!("credential {}", c.name)))?;
        let cred = credential_from(&row)?;
        sqlx::query("UPDATE credentials SET secret = $1, sudo_secret = $2 WHERE id = $3")
            .bind(key.seal_bound(&secret, &binding(cred.id, "secret"))?)
            .bind(sudo.map(|p| key.seal_bound(&p, &binding(cred.id, "sudo_secret"))).transpose()?)
            .bind(cred.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(cred)
    }

    /// A credential's secrets, checked against their row and re-sealed for transit.
    async fn transit_secrets(&self, id: i64) -> Result<Option<SealedSecrets>> {
        let Some(row) = sqlx::query("SELECT secret, sudo_secret FROM credentials WHERE id = $1")
            .bind(id)
            .fetch_optional(self.r())
            .await?
        else {
            return Ok(None);
        };
        let key = &self.keys.credential;
        let transit = |sealed: Vec<u8>, field: &str| key.seal(&key.open_bound(&sealed, &binding(id, field))?);
        Ok(Some(SealedSecrets {
            secret: transit(row.try_get(0)?, "secret")?,
            sudo_secret: row
                .try_get::<Option<Vec<u8>>, _>(1)?
                .map(|s| transit(s, "sudo_secret"))
                .transpose()?,
        }))
    }

    /// Re-seal every credential under a new key: the new key is written to `<key>.new`
    /// first, the database is resealed in one transaction, then the new key replaces the old.
    async fn rotate_key(&self, now: Millis) -> Result<usize> {
        let path = &self.keys.files.credential;
        let old = &self.keys.credential;
        let (bytes, new) = SecretKey::generate()?;
        let pending = keys::pending_path(path);
        keys::write_key_file(&pending, &bytes)
            .map_err(|e| StoreError::Secret(format!("writing {}: {e}", pending.display())))?;
        let mut tx = self.w().begin_with(dialect::BEGIN_WRITE).await?;
        let rows = sqlx::query("SELECT id, secret, sudo_secret FROM credentials").fetch_all(&mut *tx).await?;
        for row in &rows {
            let id: i64 = row.try_get(0)?;
            let reseal = |sealed: Vec<u8>, field: &str| {
                let ad = binding(id, field);
                new.seal_bound(&old.open_bound(&sealed, &ad)?, &ad)
            };
            sqlx::query(
                "UPDATE credentials SET secret = $1, sudo_secret = $2, updated_at = $3 WHERE id = $4",
            )
            .bind(reseal(row.try_get(1)?, "secret")?)
            .bind(row.try_get::<Option<Vec<u8>>, _>(2)?.map(|s| reseal(s, "sudo_secret")).transpose()?)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        reseal_channels(&mut tx, old, &new, now).await?;
        reseal_totp(&mut tx, old, &new).await?;
        tx.commit().await?;
        keys::install(&pending, path)?;
        Ok(rows.len())
    }

    async fn append_audit_keyed(&self, e: &NewAuditEvent) -> Result<AuditEvent> {
        let mut tx = self.w().begin_with(dialect::BEGIN_WRITE).await?;
        let event = append_keyed(&mut tx, &self.keys.audit, e).await?;
        tx.commit().await?;
        Ok(event)
    }

    /// Every event and the head, read without blocking writers: events appended between the
    /// two reads (the head is then ahead) are fetched too, so only a real mismatch remains.
    async fn verify_audit_chain(&self) -> Result<AuditVerification> {
        let mut events = self.all_audit().await?;
        let head = loop {
            let row =
                sqlx::query("SELECT seq, hash, mac FROM audit_head WHERE id = 1").fetch_one(self.w()).await?;
            let head = Head { seq: row.try_get(0)?, hash: row.try_get(1)?, mac: row.try_get(2)? };
            let last = events.last().map_or(0, |e| e.seq);
            if head.seq <= last {
                break head;
            }
            let more = sqlx::query(AssertSqlSafe(format!(
                "SELECT {AUDIT_COLUMNS} FROM audit_events WHERE seq > $1 ORDER BY seq"
            )))
            .bind(last)
            .fetch_all(self.w())
            .await?;
            if more.is_empty() {
                break head;
            }
            for row in &more {
                events.push(audit_from(row)?);
            }
        };
        Ok(AuditVerification {
            events: events.len() as i64,
            unkeyed_events: audit::unkeyed_events(&events),
            broken: audit::verify(&self.keys.audit, &events, &head),
        })
    }
}
