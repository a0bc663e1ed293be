//! Sign in, sign out, who am I.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use openwatch_store::{SessionStage, User};
use serde::Deserialize;
use serde_json::{Value, json};

use super::factors::CodeBody;
use crate::app::AppState;
use crate::app::now_ms;
use crate::auth::need::SignedIn;
use crate::auth::pending::{NotYet, finish};
use crate::auth::sign_in::{Refused, session_cookie, sign_in};
use crate::auth::{Via, pending, role_permissions};
use crate::http::client_addr;
use crate::http::error::{ApiError, ApiResult, bad_request, forbidden, internal, unauthenticated};
use crate::http::guard::Grant;
use crate::http::guard::csrf_header_or_origin;
use crate::http::router::RequestId;

#[derive(Debug, Deserialize)]
pub struct Login {
    username: String,
    password: String,
}

fn cookie(state: &AppState, value: &str, max_age: i64) -> HeaderValue {
    HeaderValue::from_str(&session_cookie(state, value, max_age)).expect("cookie text is ASCII")
}

fn retry_after(e: ApiError, secs: u64) -> Response {
    let mut resp = e.into_response();
    resp.headers_mut().insert(header::RETRY_AFTER, secs.into());
    resp
}

pub async fn login(State(state): State<AppState>, req: Request) -> ApiResult<Response> {
    let source = client_addr::source(&req, &state.config.trusted_proxies);
    let rid = req.extensions().get::<RequestId>().map_or(String::new(), |r| r.0.clone());
    let body =
        axum::body::to_bytes(req.into_body(), 64 * 1024).await.map_err(|_| bad_request("body too large"))?;
    let Login { username, password } = serde_json::from_slice(&body)
        .map_err(|e| bad_request(format!("expected {{\"username\", \"password\"}}: {e}")))?;
    let s = match sign_in(&state, &username, &password, &source, &rid, "api").await {
        Ok(s) => s,
        Err(Refused::RateLimited(wait)) => {
            let e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many failed sign-ins; try later",
            );
            return Ok(retry_after(e.with_details(json!({"retry_after_secs": wait})), wait));
        }
        Err(Refused::Busy(wait)) => {
            let e = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "server_busy",
                "too many sign-ins at once; retry",
            );
            return Ok(retry_after(e.with_details(json!({"retry_after_secs": wait})), wait));
        }
        Err(Refused::PasswordsDisabled) => {
            return Err(forbidden(
                "password sign-in is disabled here: sign in through your identity provider",
            )
            .with_code("password_sign_in_disabled"));
        }
        // One message whatever was wrong, so the response reveals nothing.
        Err(Refused::Invalid) => {
            return Err(unauthenticated("invalid user name or password").with_code("invalid_credentials"));
        }
        Err(Refused::Internal(e)) => {
            tracing::error!(error = e, "sign-in");
            return Err(internal("signing in failed; see the server log"));
        }
    };
    let body = if s.stage == SessionStage::Full {
        signed_in_body(&state, &s.user, &s.csrf, s.expires_at).await?
    } else {
        let methods = methods(&state, &s.user, s.stage).await?;
        json!({"user": {"id": s.user.id, "username": s.user.username, "role": s.user.role},
            "second_factor_required": true, "stage": s.stage, "methods": methods,
            "csrf_token": s.csrf, "expires_at": s.expires_at})
    };
    let mut resp = Json(body).into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, cookie(&state, &s.token, state.session_limits().absolute_ms / 1000));
    Ok(resp)
}

pub async fn logout(State(state): State<AppState>, g: Grant<SignedIn>) -> ApiResult<Response> {
    if let Via::Session { id_hash, .. } = &g.caller().via {
        state.store().delete_session(id_hash).await?;
    }
    let mut resp = crate::http::done(crate::service::note(format!("user:{}", g.username()), json!({})));
    resp.headers_mut().insert(header::SET_COOKIE, cookie(&state, "", 0));
    Ok(resp)
}

pub async fn me(g: Grant<SignedIn>, Extension(_): Extension<RequestId>) -> Json<serde_json::Value> {
    let caller = g.caller();
    let csrf = match &caller.via {
        Via::Session { csrf_token, .. } => Some(csrf_token.clone()),
        Via::Token { .. } => None,
    };
    Json(json!({"user": {"id": caller.user_id, "username": caller.username, "role": caller.role},
        "permissions": caller.permissions, "csrf_token": csrf,
        "via": match &caller.via { Via::Session { .. } => "session", Via::Token { .. } => "token" }}))
}

/// What a fully signed-in session's client needs: who, what they may do, the CSRF token.
pub(super) async fn signed_in_body(
    state: &AppState,
    user: &User,
    csrf: &str,
    expires_at: i64,
) -> ApiResult<Value> {
    let permissions = role_permissions(state.store(), &user.role).await?;
    Ok(json!({"user": {"id": user.id, "username": user.username, "role": user.role},
        "permissions": permissions, "csrf_token": csrf, "expires_at": expires_at}))
}

/// How a waiting sign-in can be finished.
async fn methods(state: &AppState, user: &User, stage: SessionStage) -> ApiResult<Vec<&'static str>> {
    if stage == SessionStage::Enrol {
        return Ok(vec!["totp_enrolment"]);
    }
    let e = crate::auth::second_factor::enrolled(state.store(), user.id).await?;
    let mut m = Vec::new();
    if e.totp {
        m.push("totp");
    }
    if e.security_keys > 0 {
        m.push("security_key");
    }
    if e.recovery_codes > 0 {
        m.push("recovery_code");
    }
    Ok(m)
}

/// The waiting session of this request, its CSRF token checked.
async fn waiting(state: &AppState, headers: &HeaderMap) -> ApiResult<(openwatch_store::Session, User)> {
    let Some((session, user)) = pending(state.store(), headers, now_ms()).await? else {
        return Err(unauthenticated("no sign-in is waiting for a second factor; sign in again")
            .with_code("session_expired"));
    };
    if !csrf_header_or_origin(state, headers, &session.csrf_token) {
        return Err(forbidden("send the X-CSRF-Token header the sign-in returned").with_code("csrf_failed"));
    }
    Ok((session, user))
}

/// Finish a sign-in with a code from the authenticator app or a recovery code (or, in the
/// enrolment stage, the first code of the app being enrolled).
pub async fn second_factor(State(state): State<AppState>, req: Request) -> ApiResult<Response> {
    let source = client_addr::source(&req, &state.config.trusted_proxies);
    let rid = req.extensions().get::<RequestId>().map_or(String::new(), |r| r.0.clone());
    let headers = req.headers().clone();
    let body =
        axum::body::to_bytes(req.into_body(), 16 * 1024).await.map_err(|_| bad_request("body too large"))?;
    let CodeBody { code } =
        serde_json::from_slice(&body).map_err(|e| bad_request(format!("expected {{\"code\"}}: {e}")))?;
    let (session, user) = waiting(&state, &headers).await?;
    match finish(&state, &session, &user, &code, &source, &rid, "api").await {
        Ok(done) => {
            let mut body = signed_in_body(&state, &user, &session.csrf_token, session.expires_at).await?;
            if let Some(codes) = done.recovery_codes {
                body["recovery_codes"] = json!(codes);
            }
            Ok(Json(body).into_response())
        }
        Err(NotYet::RateLimited(wait)) => {
            let e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many wrong codes; try later",
            );
            Ok(retry_after(e.with_details(json!({"retry_after_secs": wait})), wait))
        }
        Err(NotYet::Invalid { ended: false }) => {
            Err(unauthenticated("wrong, expired or already used code").with_code("invalid_code"))
        }
        Err(NotYet::Invalid { ended: true }) => {
            let mut resp = unauthenticated("too many wrong codes: sign in again")
                .with_code("session_expired")
                .into_response();
            resp.headers_mut().insert(header::SET_COOKIE, cookie(&state, "", 0));
            Ok(resp)
        }
        Err(NotYet::Internal(e)) => {
            tracing::error!(error = e, "second factor");
            Err(internal("checking the code failed; see the server log"))
        }
    }
}

/// In the enrolment stage: the authenticator app secret to enrol (shown once).
pub async fn second_factor_enrol(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    let (session, user) = waiting(&state, &headers).await?;
    if session.stage != SessionStage::Enrol {
        return Err(ApiError::from(crate::service::ServiceError::Conflict(
            "this sign-in waits for a second factor you already have".into(),
        )));
    }
    Ok(Json(crate::service::factors::begin_totp(&state, &user).await?).into_response())
}

/// The identity providers a person can sign in with (for sign-in pages of other clients).
pub async fn providers(State(state): State<AppState>) -> Json<Value> {
    let items: Vec<Value> = state
        .config
        .oidc_providers
        .iter()
        .map(|p| json!({"name": p.name, "title": p.label(), "start": format!("/auth/oidc/{}", p.name)}))
        .collect();
    Json(json!({"items": items, "password_sign_in": state.config.local_sign_in}))
}
