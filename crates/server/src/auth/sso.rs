//! Signing in with an identity a provider vouched for ([`oidc::finish`]): the provider's
//! groups decide the role at every sign-in; the account is found by its link to the
//! provider's subject, created on first sign-in or required to exist (configurable), and a
//! local account of the same name is never taken over unless the provider is configured to
//! require pre-existing accounts (an administrator created it for that person). Every
//! attempt is audited as `auth.sso`.

use openwatch_store::{NewUser, SignInMethod};
use serde_json::{Value, json};

use super::oidc::{Identity, SsoError, provider};
use super::sign_in::{SessionStart, SignedIn, start_session};
use crate::app::{AppState, now_ms};

/// A password hash no password matches: accounts made by single sign-on have no password.
const NO_PASSWORD: &str = "!sso";

/// Record one attempt.
pub async fn audit(
    state: &AppState,
    who: &str,
    provider: &str,
    source: &str,
    rid: &str,
    outcome: &str,
    details: Value,
) {
    let mut details = details;
    details["provider"] = json!(provider);
    super::record_attempt(state, "auth.sso", who, source, rid, outcome, details).await;
}

/// Sign in (or create) the account for `id`; its role from the provider's groups.
pub async fn sign_in(state: &AppState, id: &Identity, source: &str) -> Result<SignedIn, SsoError> {
    let p = provider(state, &id.provider)?;
    let internal = |e: openwatch_store::StoreError| SsoError::Internal(e.to_string());
    let Some(role) = p.role_for(&id.groups) else {
        return Err(SsoError::Account(format!(
            "{} is in no group that maps to an OpenWatch role; ask an administrator",
            id.username
        )));
    };
    if super::lookup_role(state.store(), &role).await.map_err(internal)?.is_none() {
        return Err(SsoError::Internal(format!(
            "provider {}: role mapping names unknown role `{role}`",
            p.name
        )));
    }
    let store = state.store();
    let linked = store.sso_user(&p.name, &id.subject).await.map_err(internal)?;
    let user = match linked {
        Some(uid) => store.user(uid).await.map_err(internal)?,
        None => match store.user_by_name(&id.username).await.map_err(internal)? {
            Some(existing) if !p.create_users => Some(existing),
            Some(_) => {
                return Err(SsoError::Account(format!(
                    "an account named {} already exists and is not linked to {}; an administrator must resolve it",
                    id.username, p.name
                )));
            }
            None if p.create_users => {
                let new = NewUser {
                    username: id.username.clone(),
                    password_hash: NO_PASSWORD.into(),
                    role: role.clone(),
                };
                Some(store.create_user(&new, now_ms()).await.map_err(internal)?)
            }
            None => {
                return Err(SsoError::Account(format!(
                    "no account named {} exists here; ask an administrator",
                    id.username
                )));
            }
        },
    };
    let Some(mut user) = user else { return Err(SsoError::Account("the linked account was deleted".into())) };
    if user.disabled {
        return Err(SsoError::Account(format!("the account {} is disabled", user.username)));
    }
    if user.role != role {
        store.update_user(user.id, &role, false, now_ms()).await.map_err(internal)?;
        user.role = role;
    }
    store.link_sso(&p.name, &id.subject, user.id, now_ms()).await.map_err(internal)?;
    let how = SessionStart {
        method: SignInMethod::Sso,
        provider: Some(&p.name),
        source,
        second_factor: p.provider_second_factor,
    };
    start_session(state, user, how).await.map_err(internal)
}
