//! Signing in, shared by the API (`POST /auth/login`) and the web form: rate limiting,
//! constant-shape password checks, the session, and the audit event of every attempt.

use std::time::Instant;

use openwatch_store::{NewAuditEvent, Session, User};
use serde_json::json;

use super::secret::{decoy_hash, random_token, token_hash, verify_password};
use super::{SESSION_COOKIE, SESSION_COOKIE_TLS, SESSION_PREFIX};
use crate::app::{AppState, now_ms};

/// A successful sign-in: the user, the session cookie's value and the session's CSRF token.
#[derive(Debug)]
pub struct SignedIn {
    pub user: User,
    pub token: String,
    pub csrf: String,
    pub expires_at: i64,
}

#[derive(Debug)]
pub enum Refused {
    /// Too many failures; retry after this many seconds.
    RateLimited(u64),
    /// Wrong user name, wrong password or disabled account: deliberately indistinguishable.
    Invalid,
    Internal(String),
}

/// Try to sign `username` in from `source`; every attempt is audited.
pub async fn sign_in(
    state: &AppState,
    username: &str,
    password: &str,
    source: &str,
    correlation_id: &str,
    via: &str,
) -> Result<SignedIn, Refused> {
    let keys = vec![format!("ip:{source}"), format!("user:{}", username.to_lowercase())];
    let audit = |outcome: &str, why: &str| NewAuditEvent {
        at: now_ms(),
        actor: username.to_owned(),
        action: "auth.login".into(),
        target: format!("user:{username}"),
        outcome: outcome.into(),
        source: source.to_owned(),
        correlation_id: correlation_id.to_owned(),
        details: if why.is_empty() { json!({"via": via}) } else { json!({"via": via, "reason": why}) },
    };
    let record = |e: NewAuditEvent| async move {
        state.store().append_audit(&e).await.map_err(|e| Refused::Internal(e.to_string()))
    };
    if let Some(wait) = state.limiter.blocked(&keys, Instant::now()) {
        record(audit("denied", "rate limited")).await?;
        return Err(Refused::RateLimited(wait));
    }
    let user = state.store().user_by_name(username).await.map_err(|e| Refused::Internal(e.to_string()))?;
    let hash = user.as_ref().map_or_else(|| decoy_hash().to_owned(), |u| u.password_hash.clone());
    let pw = password.to_owned();
    let ok = tokio::task::spawn_blocking(move || verify_password(&pw, &hash)).await.unwrap_or(false);
    let user = match user {
        Some(u) if ok && !u.disabled => u,
        other => {
            state.limiter.failed(&keys, Instant::now());
            let why = match other {
                Some(u) if u.disabled => "account disabled",
                Some(_) => "wrong password",
                None => "unknown user",
            };
            record(audit("failure", why)).await?;
            return Err(Refused::Invalid);
        }
    };
    state.limiter.succeeded(&keys);
    let now = now_ms();
    let token = random_token(SESSION_PREFIX);
    let csrf = random_token("");
    let expires_at = now + state.session_limits().absolute_ms;
    let session = Session {
        id_hash: token_hash(&token),
        user_id: user.id,
        csrf_token: csrf.clone(),
        created_at: now,
        last_seen_at: now,
        expires_at,
    };
    state.store().create_session(&session).await.map_err(|e| Refused::Internal(e.to_string()))?;
    record(audit("success", "")).await?;
    Ok(SignedIn { user, token, csrf, expires_at })
}

/// The `Set-Cookie` value for a session (`value` empty and `max_age` 0 to clear it).
pub fn session_cookie(state: &AppState, value: &str, max_age_secs: i64) -> String {
    let (name, secure) =
        if state.config.tls() { (SESSION_COOKIE_TLS, "; Secure") } else { (SESSION_COOKIE, "") };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}")
}
