//! Who is calling: a session cookie (browsers) or a bearer token (automation), resolved to a
//! [`Caller`] with the permissions of its role. Handlers see a `Caller` only inside the
//! `Grant` the route guard (`http/guard.rs`) hands them after checking the route's permission.

pub mod limiter;
pub mod need;
pub mod oidc;
pub mod pending;
pub mod rbac;
pub mod recovery;
pub mod second_factor;
pub mod secret;
pub mod sign_in;
pub mod sso;
pub mod totp;
pub mod webauthn;

use std::collections::BTreeSet;

use axum::http::HeaderMap;
use openwatch_store::{Millis, Session, SessionStage, Store, StoreError, User};

use crate::http::error::{ApiError, ApiResult, forbidden, unauthenticated};
use rbac::{Permission, builtin_permissions};

pub const SESSION_COOKIE: &str = "openwatch_session";
/// Under TLS the cookie gets the `__Host-` prefix: Secure, no Domain, Path=/.
pub const SESSION_COOKIE_TLS: &str = "__Host-openwatch_session";
pub const CSRF_HEADER: &str = "x-csrf-token";
pub const SESSION_PREFIX: &str = "ows_";
pub const TOKEN_PREFIX: &str = "owt_";

#[derive(Debug, Clone)]
pub enum Via {
    Session {
        id_hash: String,
        csrf_token: String,
    },
    /// A bearer token; `expires_at` bounds the tokens it may create.
    Token {
        id: i64,
        expires_at: Option<Millis>,
    },
}

/// An authenticated caller whose route permission has been checked.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: i64,
    pub username: String,
    pub role: String,
    pub permissions: BTreeSet<Permission>,
    pub via: Via,
}

impl Caller {
    pub fn can(&self, p: Permission) -> bool {
        self.permissions.contains(&p)
    }

    pub fn require(&self, p: Permission) -> ApiResult<()> {
        if self.can(p) { Ok(()) } else { Err(forbidden(format!("this needs the {} permission", p.as_str()))) }
    }
}

/// The permissions a custom role lists (names no longer known are ignored).
pub fn parse_permissions(names: &[String]) -> BTreeSet<Permission> {
    names.iter().filter_map(|p| Permission::parse(p)).collect()
}

/// The permissions of a role: built in, or custom from the database; `None` when no role has
/// that name.
pub async fn lookup_role(store: &dyn Store, role: &str) -> Result<Option<BTreeSet<Permission>>, StoreError> {
    if let Some(p) = builtin_permissions(role) {
        return Ok(Some(p));
    }
    let custom = store.custom_roles().await?;
    Ok(custom.into_iter().find(|r| r.name == role).map(|r| parse_permissions(&r.permissions)))
}

/// The permissions of a role; unknown roles have none.
pub async fn role_permissions(store: &dyn Store, role: &str) -> ApiResult<BTreeSet<Permission>> {
    Ok(lookup_role(store, role).await?.unwrap_or_default())
}

pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get_all(axum::http::header::COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|line| {
        line.split(';').find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == name).then(|| v.to_owned())
        })
    })
}

/// The session cookie's value, under either of its names.
fn session_cookie_value(headers: &HeaderMap) -> Option<String> {
    cookie_value(headers, SESSION_COOKIE_TLS).or_else(|| cookie_value(headers, SESSION_COOKIE))
}

/// Session timing: idle and absolute limits, in milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct SessionLimits {
    pub idle_ms: i64,
    pub absolute_ms: i64,
}

/// Resolve the caller of a request; `Ok(None)` when it carries no credentials at all.
pub async fn resolve(
    store: &dyn Store,
    headers: &HeaderMap,
    limits: SessionLimits,
    now: Millis,
) -> ApiResult<Option<Caller>> {
    resolve_as(store, headers, limits, now, true).await
}

/// Resolve again for a long-lived response (an event stream) without counting it as
/// activity, so an open tab does not keep an idle session alive.
pub async fn recheck(
    store: &dyn Store,
    headers: &HeaderMap,
    limits: SessionLimits,
    now: Millis,
) -> ApiResult<Option<Caller>> {
    resolve_as(store, headers, limits, now, false).await
}

async fn resolve_as(
    store: &dyn Store,
    headers: &HeaderMap,
    limits: SessionLimits,
    now: Millis,
    touch: bool,
) -> ApiResult<Option<Caller>> {
    if let Some(auth) = headers.get(axum::http::header::AUTHORIZATION) {
        let token = auth
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| unauthenticated("the Authorization header must be `Bearer <token>`"))?;
        let t = store
            .use_token(&secret::token_hash(token.trim()), now)
            .await?
            .ok_or_else(|| unauthenticated("the API token is unknown, expired or revoked"))?;
        let user = store.user(t.user_id).await?.filter(|u| !u.disabled);
        let Some(user) = user else { return Err(unauthenticated("the token's user is disabled or deleted")) };
        // A token never exceeds its owner's current rights.
        let owner = role_permissions(store, &user.role).await?;
        let permissions = role_permissions(store, &t.role).await?.intersection(&owner).copied().collect();
        return Ok(Some(Caller {
            user_id: user.id,
            username: user.username,
            role: t.role,
            permissions,
            via: Via::Token { id: t.id, expires_at: t.expires_at },
        }));
    }
    let Some(cookie) = session_cookie_value(headers) else { return Ok(None) };
    let id_hash = secret::token_hash(&cookie);
    let Some(session) = store.session(&id_hash).await? else {
        return Err(unauthenticated("the session has ended; log in again").with_code("session_expired"));
    };
    if now - session.last_seen_at > limits.idle_ms || now >= session.expires_at {
        store.delete_session(&id_hash).await?;
        return Err(unauthenticated("the session has expired; log in again").with_code("session_expired"));
    }
    let Some(user) = store.user(session.user_id).await?.filter(|u| !u.disabled) else {
        store.delete_session(&id_hash).await?;
        return Err(unauthenticated("the account is disabled"));
    };
    if session.stage != SessionStage::Full {
        return Err(unauthenticated("signing in is not finished: a second factor is needed")
            .with_code("second_factor_required"));
    }
    if touch && now - session.last_seen_at > 30_000 {
        store.touch_session(&id_hash, now).await?;
    }
    let permissions = role_permissions(store, &user.role).await?;
    Ok(Some(Caller {
        user_id: user.id,
        username: user.username,
        role: user.role,
        permissions,
        via: Via::Session { id_hash, csrf_token: session.csrf_token },
    }))
}

/// How long a sign-in may wait for its second factor.
pub const PENDING_MS: i64 = 5 * 60_000;

/// The session of a sign-in waiting for a second factor (or for one to be enrolled), and
/// its user; `None` when the request has no such session (none, ended, or already signed in).
pub async fn pending(
    store: &dyn Store,
    headers: &HeaderMap,
    now: Millis,
) -> ApiResult<Option<(Session, User)>> {
    let Some(cookie) = session_cookie_value(headers) else { return Ok(None) };
    let id_hash = secret::token_hash(&cookie);
    let Some(session) = store.session(&id_hash).await? else { return Ok(None) };
    if session.stage == SessionStage::Full {
        return Ok(None);
    }
    if now - session.created_at > PENDING_MS {
        store.delete_session(&id_hash).await?;
        return Ok(None);
    }
    let Some(user) = store.user(session.user_id).await?.filter(|u| !u.disabled) else {
        store.delete_session(&id_hash).await?;
        return Ok(None);
    };
    Ok(Some((session, user)))
}

impl ApiError {
    pub fn with_code(mut self, code: &'static str) -> ApiError {
        self.code = code;
        self
    }
}

/// The audit event of a sign-in step, which has no caller yet: the person it is about (if
/// known) is the actor and the target.
pub fn attempt_event(
    action: &str,
    who: &str,
    source: &str,
    rid: &str,
    outcome: &str,
    details: serde_json::Value,
) -> openwatch_store::NewAuditEvent {
    openwatch_store::NewAuditEvent {
        at: crate::app::now_ms(),
        actor: if who.is_empty() { "anonymous".into() } else { who.to_owned() },
        action: action.into(),
        target: if who.is_empty() { String::new() } else { format!("user:{who}") },
        outcome: outcome.into(),
        source: source.to_owned(),
        correlation_id: rid.to_owned(),
        details,
    }
}

/// Audit a sign-in attempt that has no caller yet (single sign-on, security keys); a
/// failure to record it is logged, as the attempt's own outcome stands.
pub async fn record_attempt(
    state: &crate::app::AppState,
    action: &str,
    who: &str,
    source: &str,
    rid: &str,
    outcome: &str,
    details: serde_json::Value,
) {
    let e = attempt_event(action, who, source, rid, outcome, details);
    if let Err(err) = state.store().append_audit(&e).await {
        tracing::error!(error = %err, action, "recording a sign-in attempt");
    }
}
