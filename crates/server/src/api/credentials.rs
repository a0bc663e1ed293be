//! Credentials: SSH keys and passwords, sealed with the credential key before they reach the
//! database. The API accepts secrets and never returns them.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use openwatch_store::{NewCredential, SealedSecrets};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::{AppState, now_ms};
use crate::http::error::{ApiResult, not_found, validation};
use crate::http::json::ApiJson;
use crate::http::{audited, done, note};

pub async fn list(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"items": state.store().list_credentials().await?})))
}

/// A new credential; `secret` is the private key (kind `ssh_key`) or the password (kind
/// `password`).
#[derive(Deserialize)]
pub struct NewCredentialBody {
    name: String,
    kind: String,
    username: Option<String>,
    secret: String,
    /// The key's passphrase, for encrypted keys.
    passphrase: Option<String>,
    sudo_password: Option<String>,
}

impl std::fmt::Debug for NewCredentialBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewCredentialBody")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// What is sealed: the secret and, for keys, the passphrase, as one JSON document.
#[derive(serde::Serialize, Deserialize)]
pub struct SecretMaterial {
    pub secret: String,
    pub passphrase: Option<String>,
}

pub async fn create(
    State(state): State<AppState>,
    ApiJson(b): ApiJson<NewCredentialBody>,
) -> ApiResult<Response> {
    if b.name.trim().is_empty() {
        return Err(validation("name", "must not be empty"));
    }
    match b.kind.as_str() {
        "ssh_key" => {
            russh::keys::decode_secret_key(&b.secret, b.passphrase.as_deref())
                .map_err(|e| validation("secret", format!("not a usable private key: {e}")))?;
        }
        "password" if !b.secret.is_empty() => {}
        "password" => return Err(validation("secret", "the password must not be empty")),
        other => return Err(validation("kind", format!("`{other}` is not ssh_key or password"))),
    }
    let material = serde_json::to_vec(&SecretMaterial { secret: b.secret, passphrase: b.passphrase })
        .map_err(|e| validation("secret", e.to_string()))?;
    let sealed = SealedSecrets {
        secret: state.key.seal(&material)?,
        sudo_secret: b.sudo_password.as_deref().map(|p| state.key.seal(p.as_bytes())).transpose()?,
    };
    let c = state
        .store()
        .create_credential(
            &NewCredential { name: b.name.trim().to_owned(), kind: b.kind, username: b.username, sealed },
            now_ms(),
        )
        .await?;
    Ok(audited(StatusCode::CREATED, &c, note(format!("credential:{}", c.name), json!({"kind": c.kind}))))
}

pub async fn delete(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult<Response> {
    let c = state.store().credential(id).await?.ok_or_else(|| not_found("credential"))?;
    state.store().delete_credential(id).await?;
    Ok(done(note(format!("credential:{}", c.name), json!({}))))
}
