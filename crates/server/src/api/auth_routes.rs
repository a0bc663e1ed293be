//! Sign in, sign out, who am I.

use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use openwatch_store::{NewAuditEvent, Session};
use serde::Deserialize;
use serde_json::json;

use crate::app::{AppState, now_ms};
use crate::auth::secret::{decoy_hash, random_token, token_hash, verify_password};
use crate::auth::{Caller, SESSION_COOKIE, SESSION_COOKIE_TLS, SESSION_PREFIX, Via, role_permissions};
use crate::http::error::{ApiError, ApiResult, bad_request, unauthenticated};
use crate::http::router::{RequestId, source_address};

#[derive(Debug, Deserialize)]
pub struct Login {
    username: String,
    password: String,
}

fn cookie(state: &AppState, value: &str, max_age: i64) -> HeaderValue {
    let (name, secure) =
        if state.config.tls() { (SESSION_COOKIE_TLS, "; Secure") } else { (SESSION_COOKIE, "") };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .expect("cookie text is ASCII")
}

async fn audit_login(
    state: &AppState,
    username: &str,
    outcome: &str,
    source: &str,
    rid: &str,
    why: &str,
) -> ApiResult<()> {
    state
        .store()
        .append_audit(&NewAuditEvent {
            at: now_ms(),
            actor: username.to_owned(),
            action: "auth.login".into(),
            target: format!("user:{username}"),
            outcome: outcome.into(),
            source: source.to_owned(),
            correlation_id: rid.to_owned(),
            details: if why.is_empty() { json!({}) } else { json!({"reason": why}) },
        })
        .await?;
    Ok(())
}

pub async fn login(State(state): State<AppState>, req: Request) -> ApiResult<Response> {
    let source = source_address(&req);
    let rid = req.extensions().get::<RequestId>().map_or(String::new(), |r| r.0.clone());
    let body =
        axum::body::to_bytes(req.into_body(), 64 * 1024).await.map_err(|_| bad_request("body too large"))?;
    let Login { username, password } = serde_json::from_slice(&body)
        .map_err(|e| bad_request(format!("expected {{\"username\", \"password\"}}: {e}")))?;
    let keys = vec![format!("ip:{source}"), format!("user:{}", username.to_lowercase())];
    if let Some(wait) = state.limiter.blocked(&keys, Instant::now()) {
        audit_login(&state, &username, "denied", &source, &rid, "rate limited").await?;
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many failed sign-ins; try later",
        )
        .with_details(json!({"retry_after_secs": wait})));
    }
    let user = state.store().user_by_name(&username).await?;
    let hash = user.as_ref().map_or_else(|| decoy_hash().to_owned(), |u| u.password_hash.clone());
    let pw = password.clone();
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
            audit_login(&state, &username, "failure", &source, &rid, why).await?;
            // One message whatever was wrong, so the response reveals nothing.
            return Err(unauthenticated("invalid user name or password").with_code("invalid_credentials"));
        }
    };
    state.limiter.succeeded(&keys);
    let now = now_ms();
    let token = random_token(SESSION_PREFIX);
    let csrf = random_token("");
    let limits = state.session_limits();
    state
        .store()
        .create_session(&Session {
            id_hash: token_hash(&token),
            user_id: user.id,
            csrf_token: csrf.clone(),
            created_at: now,
            last_seen_at: now,
            expires_at: now + limits.absolute_ms,
        })
        .await?;
    audit_login(&state, &user.username, "success", &source, &rid, "").await?;
    let permissions = role_permissions(state.store(), &user.role).await?;
    let body = json!({"user": {"id": user.id, "username": user.username, "role": user.role},
        "permissions": permissions, "csrf_token": csrf, "expires_at": now + limits.absolute_ms});
    let mut resp = Json(body).into_response();
    resp.headers_mut().insert(header::SET_COOKIE, cookie(&state, &token, limits.absolute_ms / 1000));
    Ok(resp)
}

pub async fn logout(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    if let Via::Session { id_hash, .. } = &caller.via {
        state.store().delete_session(id_hash).await?;
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut().insert(header::SET_COOKIE, cookie(&state, "", 0));
    Ok(resp)
}

pub async fn me(caller: Caller, Extension(_): Extension<RequestId>) -> Json<serde_json::Value> {
    let csrf = match &caller.via {
        Via::Session { csrf_token, .. } => Some(csrf_token.clone()),
        Via::Token { .. } => None,
    };
    Json(json!({"user": {"id": caller.user_id, "username": caller.username, "role": caller.role},
        "permissions": caller.permissions, "csrf_token": csrf,
        "via": match caller.via { Via::Session { .. } => "session", Via::Token { .. } => "token" }}))
}
