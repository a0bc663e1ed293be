//! `openwatch admin`: user operations run from the command line against the database
//! directly (key rotation and audit verification are the store's own).

use anyhow::{Context as _, Result, bail};
use openwatch_store::{NewUser, Store};

use crate::app::now_ms;
use crate::auth::rbac::builtin_permissions;
use crate::auth::secret::{check_password_strength, hash_password};

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
