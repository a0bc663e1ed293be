//! Sign in, sign out, who am I.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::json;

use crate::app::AppState;
use crate::auth::need::SignedIn;
use crate::auth::sign_in::{Refused, session_cookie, sign_in};
use crate::auth::{Via, role_permissions};
use crate::http::client_addr;
use crate::http::error::{ApiError, ApiResult, bad_request, internal, unauthenticated};
use crate::http::guard::Grant;
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
        // One message whatever was wrong, so the response reveals nothing.
        Err(Refused::Invalid) => {
            return Err(unauthenticated("invalid user name or password").with_code("invalid_credentials"));
        }
        Err(Refused::Internal(e)) => {
            tracing::error!(error = e, "sign-in");
            return Err(internal("signing in failed; see the server log"));
        }
    };
    let permissions = role_permissions(state.store(), &s.user.role).await?;
    let body = json!({"user": {"id": s.user.id, "username": s.user.username, "role": s.user.role},
        "permissions": permissions, "csrf_token": s.csrf, "expires_at": s.expires_at});
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
