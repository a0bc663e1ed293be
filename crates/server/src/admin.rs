//! `openwatch admin` and `openwatch audit verify`: operations run from the command line
//! against the database directly.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use openwatch_store::secrets::{self, SecretKey};
use openwatch_store::{AuditBreak, NewUser, SealedSecrets, Store, audit};

use crate::app::now_ms;
use crate::auth::rbac::builtin_permissions;
use crate::auth::secret::{check_password_strength, hash_password};

fn pending_key_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".new");
    PathBuf::from(p)
}

/// Whether `key` opens the stored credentials (true when there are none).
async fn opens(store: &dyn Store, key: &SecretKey) -> Result<bool> {
    let Some(c) = store.list_credentials().await?.into_iter().next() else { return Ok(true) };
    let sealed = store.credential_secrets(c.id).await?.context("credential vanished")?;
    Ok(key.open(&sealed.secret).is_ok())
}

/// Load the credential key (creating it at first start). A rotation interrupted after its
/// database commit left the new key in `<key>.new`; it is moved into place here.
pub async fn load_key(store: &dyn Store, path: &Path) -> Result<SecretKey> {
    let pending = pending_key_path(path);
    if pending.exists() {
        let new = SecretKey::load_or_create(&pending)?;
        if opens(store, &new).await? && !store.list_credentials().await?.is_empty() {
            std::fs::rename(&pending, path).context("completing an interrupted key rotation")?;
            tracing::warn!("completed an interrupted credential key rotation");
            return Ok(new);
        }
        std::fs::remove_file(&pending).context("removing an abandoned rotation key")?;
    }
    let key = SecretKey::load_or_create(path)?;
    if !opens(store, &key).await? {
        bail!(
            "the credential key {} does not decrypt the stored credentials (wrong key file for this database?)",
            path.display()
        );
    }
    Ok(key)
}

/// Re-encrypt every credential under a new key: the new key is written beside the old one
/// first, the database is resealed in one transaction, then the new key replaces the old.
pub async fn rotate_key(store: &dyn Store, path: &Path) -> Result<usize> {
    let old = load_key(store, path).await?;
    let (bytes, new) = SecretKey::generate()?;
    let pending = pending_key_path(path);
    secrets::write_key_file(&pending, &bytes).context("writing the new key")?;
    let reseal = |s: &SealedSecrets| -> openwatch_store::Result<SealedSecrets> {
        Ok(SealedSecrets {
            secret: new.seal(&old.open(&s.secret)?)?,
            sudo_secret: s
                .sudo_secret
                .as_ref()
                .map(|x| old.open(x).and_then(|p| new.seal(&p)))
                .transpose()?,
        })
    };
    let n = store.reseal_credentials(&reseal, now_ms()).await?;
    std::fs::rename(&pending, path).context("installing the new key")?;
    Ok(n)
}

pub async fn create_user(store: &dyn Store, username: &str, role: &str, password: &str) -> Result<()> {
    let custom = store.custom_roles().await?.iter().any(|r| r.name == role);
    if builtin_permissions(role).is_none() && !custom {
        bail!("unknown role `{role}`");
    }
    check_password_strength(password).map_err(anyhow::Error::msg)?;
    let pw = password.to_owned();
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&pw)).await??;
    store
        .create_user(&NewUser { username: username.into(), password_hash, role: role.into() }, now_ms())
        .await?;
    Ok(())
}

pub async fn reset_password(store: &dyn Store, username: &str, password: &str) -> Result<()> {
    let user = store.user_by_name(username).await?.with_context(|| format!("no user `{username}`"))?;
    check_password_strength(password).map_err(anyhow::Error::msg)?;
    let pw = password.to_owned();
    let hash = tokio::task::spawn_blocking(move || hash_password(&pw)).await??;
    store.set_password(user.id, &hash, now_ms()).await?;
    store.delete_user_sessions(user.id).await?;
    Ok(())
}

/// Verify the audit chain: (events checked, first break).
pub async fn verify_audit(store: &dyn Store) -> Result<(usize, Option<AuditBreak>)> {
    let events = store.all_audit().await?;
    let (seq, hash) = store.audit_head().await?;
    Ok((events.len(), audit::verify(&events, Some((seq, &hash)))))
}
