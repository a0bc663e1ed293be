//! Credentials: SSH keys and passwords, sealed with the credential key before they reach
//! the database. Secrets go in and are never returned.

use openwatch_store::{Credential, NewCredential, SealedSecrets, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Done, ServiceError, ServiceResult, note};
use crate::app::{AppState, now_ms};
use crate::auth::need::{CredentialsRead, CredentialsWrite};
use crate::http::guard::Grant;

/// A new credential; `secret` is the private key (kind `ssh_key`) or the password (kind
/// `password`).
#[derive(Deserialize, Default)]
pub struct NewCredentialInput {
    pub name: String,
    pub kind: String,
    pub username: Option<String>,
    pub secret: String,
    /// The key's passphrase, for encrypted keys.
    pub passphrase: Option<String>,
    pub sudo_password: Option<String>,
}

impl std::fmt::Debug for NewCredentialInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewCredentialInput")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// What is sealed: the secret and, for keys, the passphrase, as one JSON document.
#[derive(Serialize, Deserialize)]
pub struct SecretMaterial {
    pub secret: String,
    pub passphrase: Option<String>,
}

impl std::fmt::Debug for SecretMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretMaterial")
    }
}

pub async fn list(state: &AppState, _: &Grant<CredentialsRead>) -> ServiceResult<Vec<Credential>> {
    Ok(state.store().list_credentials().await?)
}

pub async fn create(
    state: &AppState,
    _: &Grant<CredentialsWrite>,
    input: NewCredentialInput,
) -> ServiceResult<Done<Credential>> {
    let name = input.name.trim().to_owned();
    if name.is_empty() {
        return Err(ServiceError::invalid("name", "must not be empty"));
    }
    let secret = input.secret.replace("\r\n", "\n");
    let passphrase = input.passphrase.filter(|p| !p.is_empty());
    match input.kind.as_str() {
        "ssh_key" => {
            russh::keys::decode_secret_key(&secret, passphrase.as_deref())
                .map_err(|e| ServiceError::invalid("secret", format!("not a usable private key: {e}")))?;
        }
        "password" if !secret.is_empty() => {}
        "password" => return Err(ServiceError::invalid("secret", "the password must not be empty")),
        other => return Err(ServiceError::invalid("kind", format!("`{other}` is not ssh_key or password"))),
    }
    let material =
        serde_json::to_vec(&SecretMaterial { secret, passphrase }).map_err(ServiceError::internal)?;
    let sealed = SealedSecrets {
        secret: state.key.seal(&material)?,
        sudo_secret: input
            .sudo_password
            .filter(|p| !p.is_empty())
            .map(|p| state.key.seal(p.as_bytes()))
            .transpose()?,
    };
    let username = input.username.map(|u| u.trim().to_owned()).filter(|u| !u.is_empty());
    let c = state
        .store()
        .create_credential(&NewCredential { name, kind: input.kind, username, sealed }, now_ms())
        .await?;
    let audit = note(format!("credential:{}", c.name), json!({"kind": c.kind}));
    Ok(Done::new(c, audit))
}

/// Delete a credential no host uses; one in use is refused (hosts would lose their way in),
/// naming how many hosts hold it.
pub async fn delete(
    state: &AppState,
    _: &Grant<CredentialsWrite>,
    id: i64,
) -> ServiceResult<Done<Credential>> {
    let c = state.store().credential(id).await?.ok_or(ServiceError::NotFound("credential"))?;
    match state.store().delete_credential(id).await {
        Ok(true) => {}
        Ok(false) => return Err(ServiceError::NotFound("credential")),
        Err(StoreError::Invalid(why)) => {
            return Err(ServiceError::Conflict(format!(
                "credential {} cannot be deleted: {why}; give those hosts another credential first",
                c.name
            )));
        }
        Err(e) => return Err(e.into()),
    }
    let audit = note(format!("credential:{}", c.name), json!({"kind": c.kind}));
    Ok(Done::new(c, audit))
}
