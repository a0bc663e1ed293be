//! Signing in, shared by the API (`POST /auth/login`) and the web form: rate limiting
//! (counted before the password is checked), a bounded number of password checks at once,
//! constant-shape password checks, the session, and the audit event of every attempt.

use std::time::Instant;

use openwatch_store::{Millis, NewAuditEvent, Session, SessionStage, SignInMethod, StoreError, User};
use serde_json::json;

use super::secret::{GateError, PasswordGate, decoy_hash, random_token, token_hash, verify_password};
use super::{SESSION_COOKIE, SESSION_COOKIE_TLS, SESSION_PREFIX};
use crate::app::{AppState, now_ms};

/// A successful sign-in: the user, the session cookie's value, the session's CSRF token and
/// whether the session still waits for a second factor.
#[derive(Debug)]
pub struct SignedIn {
    pub user: User,
    pub token: String,
    pub csrf: String,
    pub expires_at: i64,
    pub stage: SessionStage,
}

/// How a new session starts.
#[derive(Debug)]
pub struct SessionStart<'a> {
    pub method: SignInMethod,
    pub provider: Option<&'a str>,
    pub source: &'a str,
    /// The sign-in itself proved a second factor (a security key with user verification, or
    /// a provider trusted for it).
    pub second_factor: bool,
}

/// Where a user's new session stands: signed in, waiting for their second factor, or
/// waiting for one to be enrolled because their role requires it.
pub async fn stage_for(
    state: &AppState,
    user: &User,
    second_factor: bool,
) -> Result<SessionStage, StoreError> {
    if second_factor {
        return Ok(SessionStage::Full);
    }
    if super::second_factor::enrolled(state.store(), user.id).await?.any() {
        return Ok(SessionStage::SecondFactor);
    }
    if crate::service::factors::required(state, &user.role) {
        return Ok(SessionStage::Enrol);
    }
    Ok(SessionStage::Full)
}

/// Create the session of a user who has just proved who they are.
pub async fn start_session(
    state: &AppState,
    user: User,
    how: SessionStart<'_>,
) -> Result<SignedIn, StoreError> {
    let stage = stage_for(state, &user, how.second_factor).await?;
    let now: Millis = now_ms();
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
        stage,
        method: how.method,
        provider: how.provider.map(str::to_owned),
        second_factor_at: how.second_factor.then_some(now),
        source: how.source.to_owned(),
    };
    state.store().create_session(&session).await?;
    Ok(SignedIn { user, token, csrf, expires_at, stage })
}

/// May this user sign in with a password under the server's policy?
pub fn password_allowed(state: &AppState, username: &str) -> bool {
    state.config.local_sign_in == crate::config::LocalSignIn::All
        || state.config.break_glass_users.iter().any(|u| u == username)
}

#[derive(Debug)]
pub enum Refused {
    /// Too many attempts from this source (for this user); retry after this many seconds.
    RateLimited(u64),
    /// Every password check slot is taken; retry after this many seconds.
    Busy(u64),
    /// Wrong user name, wrong password or disabled account: deliberately indistinguishable.
    Invalid,
    /// Password sign-in is reserved to break-glass accounts.
    PasswordsDisabled,
    Internal(String),
}

/// How long to tell a client refused as [`Refused::Busy`] to wait.
const BUSY_RETRY_SECS: u64 = 1;

/// Try to sign `username` in from `source` (the client address); every attempt is audited.
pub async fn sign_in(
    state: &AppState,
    username: &str,
    password: &str,
    source: &str,
    correlation_id: &str,
    via: &str,
) -> Result<SignedIn, Refused> {
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
    if !password_allowed(state, username) {
        record(audit("denied", "password sign-in disabled")).await?;
        return Err(Refused::PasswordsDisabled);
    }
    let attempt = match state.limiter.begin(source, username, Instant::now()) {
        Ok(a) => a,
        Err(wait) => {
            record(audit("denied", "rate limited")).await?;
            return Err(Refused::RateLimited(wait));
        }
    };
    let user = match state.store().user_by_name(username).await {
        Ok(u) => u,
        Err(e) => {
            state.limiter.take_back(attempt);
            return Err(Refused::Internal(e.to_string()));
        }
    };
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let pw = password.to_owned();
    let checked = PasswordGate::global()
        .run(move || match &hash {
            Some(h) => verify_password(&pw, h),
            None => verify_password(&pw, decoy_hash()),
        })
        .await;
    let ok = match checked {
        Ok(ok) => ok,
        Err(e) => {
            state.limiter.take_back(attempt);
            return Err(match e {
                GateError::Busy(_) => {
                    record(audit("denied", "password checks busy")).await?;
                    Refused::Busy(BUSY_RETRY_SECS)
                }
                GateError::Failed(e) => Refused::Internal(e),
            });
        }
    };
    let user = match user {
        Some(u) if ok && !u.disabled => u,
        other => {
            // The attempt stays counted.
            let why = match other {
                Some(u) if u.disabled => "account disabled",
                Some(_) => "wrong password",
                None => "unknown user",
            };
            record(audit("failure", why)).await?;
            return Err(Refused::Invalid);
        }
    };
    state.limiter.succeeded(attempt);
    let how = SessionStart { method: SignInMethod::Password, provider: None, source, second_factor: false };
    let signed = start_session(state, user, how).await.map_err(|e| Refused::Internal(e.to_string()))?;
    let mut event = audit("success", "");
    event.details["stage"] = json!(signed.stage.as_str());
    record(event).await?;
    Ok(signed)
}

/// Whether browsers reach this server over https. Behind a TLS-terminating proxy the server
/// speaks HTTP but browsers use https: the public origin decides, so cookies never travel in
/// clear text.
pub fn browsers_use_https(state: &AppState) -> bool {
    state.config.tls() || state.config.public_origin.starts_with("https://")
}

/// The `Set-Cookie` value for a session (`value` empty and `max_age` 0 to clear it).
pub fn session_cookie(state: &AppState, value: &str, max_age_secs: i64) -> String {
    let (name, secure) =
        if browsers_use_https(state) { (SESSION_COOKIE_TLS, "; Secure") } else { (SESSION_COOKIE, "") };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}")
}
