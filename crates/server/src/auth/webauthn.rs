//! Security keys and passkeys (WebAuthn, by the `webauthn-rs` crate), as a second factor or
//! to sign in without a password. Every ceremony requires user verification (a PIN or a
//! fingerprint on the key), so a key alone is two factors. A ceremony's state is kept in
//! the store under the hash of an id only the browser holds, taken once.
//!
//! The relying party is the domain browsers reach the server by: `webauthn_rp_id`, else the
//! host of `public_origin`, else of the request. Browsers refuse WebAuthn on IP addresses.

use base64::Engine as _;
use openwatch_store::{AuthChallenge, ChallengeKind, NewSecurityKey, SecurityKey, User};
use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{
    CreationChallengeResponse, Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, RequestChallengeResponse, Url, Uuid, Webauthn, WebauthnBuilder,
};

use super::secret::{random_token, token_hash};
use crate::app::{AppState, now_ms};
use crate::service::{ServiceError, ServiceResult};

/// A ceremony must finish within this long.
const CEREMONY_MS: i64 = 5 * 60_000;

/// The relying party for a request that reached us at `origin` (`scheme://host[:port]`).
pub fn relying_party(state: &AppState, origin: &str) -> ServiceResult<Webauthn> {
    let origin_url =
        Url::parse(origin).map_err(|e| ServiceError::BadRequest(format!("origin {origin}: {e}")))?;
    let rp_id = if !state.config.webauthn_rp_id.is_empty() {
        state.config.webauthn_rp_id.clone()
    } else {
        origin_url.domain().map(str::to_owned).ok_or_else(|| {
            ServiceError::BadRequest(
                "security keys need the server reached by a domain name (for example localhost), not an IP address"
                    .into(),
            )
        })?
    };
    WebauthnBuilder::new(&rp_id, &origin_url)
        .and_then(|b| b.rp_name("OpenWatch").build())
        .map_err(|e| ServiceError::BadRequest(format!("security keys at {origin}: {e}")))
}

/// The WebAuthn user handle of an account: stable, and not its name.
fn user_handle(user_id: i64) -> Uuid {
    Uuid::from_u64_pair(0x6f70_656e_7761_7463, user_id as u64)
}

fn credential_id(p: &Passkey) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(AsRef::<[u8]>::as_ref(p.cred_id()))
}

fn passkeys(keys: &[SecurityKey]) -> ServiceResult<Vec<(i64, Passkey)>> {
    keys.iter()
        .map(|k| {
            serde_json::from_str::<Passkey>(&k.passkey)
                .map(|p| (k.id, p))
                .map_err(|e| ServiceError::internal(format!("security key {}: {e}", k.id)))
        })
        .collect()
}

/// A ceremony handed to the browser: its id (sent back with the answer) and the options.
#[derive(Debug, Serialize)]
pub struct Ceremony<T> {
    pub challenge_id: String,
    pub options: T,
}

async fn keep<S: Serialize>(
    state: &AppState,
    kind: ChallengeKind,
    user_id: i64,
    s: &S,
) -> ServiceResult<String> {
    let id = random_token("");
    let now = now_ms();
    let c = AuthChallenge {
        id_hash: token_hash(&id),
        kind,
        user_id: Some(user_id),
        state: serde_json::to_string(s).map_err(ServiceError::internal)?,
        expires_at: now + CEREMONY_MS,
    };
    state.store().put_challenge(&c, now).await?;
    Ok(id)
}

/// Take a ceremony back: its user and state.
async fn take<S: for<'de> Deserialize<'de>>(
    state: &AppState,
    kind: ChallengeKind,
    id: &str,
) -> ServiceResult<(i64, S)> {
    let c = state.store().take_challenge(&token_hash(id), kind, now_ms()).await?.ok_or_else(|| {
        ServiceError::BadRequest("this security key request is unknown or expired; try again".into())
    })?;
    let s = serde_json::from_str(&c.state).map_err(ServiceError::internal)?;
    Ok((c.user_id.unwrap_or_default(), s))
}

/// Start registering a key for `user`.
pub async fn begin_registration(
    state: &AppState,
    rp: &Webauthn,
    user: &User,
) -> ServiceResult<Ceremony<CreationChallengeResponse>> {
    let existing = passkeys(&state.store().security_keys(user.id).await?)?;
    let exclude = existing.iter().map(|(_, p)| p.cred_id().clone()).collect();
    let (options, reg) = rp
        .start_passkey_registration(user_handle(user.id), &user.username, &user.username, Some(exclude))
        .map_err(|e| ServiceError::BadRequest(format!("security key registration: {e}")))?;
    let challenge_id = keep(state, ChallengeKind::SecurityKeyRegistration, user.id, &reg).await?;
    Ok(Ceremony { challenge_id, options })
}

/// Finish registering: the key as stored.
pub async fn finish_registration(
    state: &AppState,
    rp: &Webauthn,
    user: &User,
    challenge_id: &str,
    name: &str,
    answer: &RegisterPublicKeyCredential,
) -> ServiceResult<SecurityKey> {
    let name = name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(ServiceError::invalid("name", "1-100 characters"));
    }
    let (owner, reg): (i64, PasskeyRegistration) =
        take(state, ChallengeKind::SecurityKeyRegistration, challenge_id).await?;
    if owner != user.id {
        return Err(ServiceError::BadRequest("this security key request belongs to another account".into()));
    }
    let passkey = rp
        .finish_passkey_registration(answer, &reg)
        .map_err(|e| ServiceError::BadRequest(format!("the security key's answer was refused: {e}")))?;
    let key = NewSecurityKey {
        user_id: user.id,
        name: name.to_owned(),
        credential_id: credential_id(&passkey),
        passkey: serde_json::to_string(&passkey).map_err(ServiceError::internal)?,
    };
    Ok(state.store().add_security_key(&key, now_ms()).await?)
}

/// Start an authentication by `user`'s keys.
pub async fn begin_authentication(
    state: &AppState,
    rp: &Webauthn,
    user: &User,
) -> ServiceResult<Ceremony<RequestChallengeResponse>> {
    let keys = passkeys(&state.store().security_keys(user.id).await?)?;
    if keys.is_empty() {
        return Err(ServiceError::BadRequest("no security key is registered for this account".into()));
    }
    let creds: Vec<Passkey> = keys.into_iter().map(|(_, p)| p).collect();
    let (options, auth) = rp
        .start_passkey_authentication(&creds)
        .map_err(|e| ServiceError::BadRequest(format!("security key sign-in: {e}")))?;
    let challenge_id = keep(state, ChallengeKind::SecurityKeyAuthentication, user.id, &auth).await?;
    Ok(Ceremony { challenge_id, options })
}

/// Finish an authentication: the account it proved (with user verification).
pub async fn finish_authentication(
    state: &AppState,
    rp: &Webauthn,
    challenge_id: &str,
    answer: &PublicKeyCredential,
) -> ServiceResult<i64> {
    let (user_id, auth): (i64, PasskeyAuthentication) =
        take(state, ChallengeKind::SecurityKeyAuthentication, challenge_id).await?;
    let result = rp
        .finish_passkey_authentication(answer, &auth)
        .map_err(|e| ServiceError::BadRequest(format!("the security key's answer was refused: {e}")))?;
    if !result.user_verified() {
        return Err(ServiceError::BadRequest(
            "the security key did not verify its user (PIN or biometrics)".into(),
        ));
    }
    for (id, mut p) in passkeys(&state.store().security_keys(user_id).await?)? {
        if p.cred_id() == result.cred_id() {
            p.update_credential(&result);
            let text = serde_json::to_string(&p).map_err(ServiceError::internal)?;
            state.store().used_security_key(id, &text, now_ms()).await?;
            return Ok(user_id);
        }
    }
    Err(ServiceError::BadRequest("that security key is not registered for this account".into()))
}
