//! A caller's own second factors and sessions over JSON, and an administrator's reset of
//! someone's factors: adapters over `service::factors`.

use axum::Extension;
use axum::Json;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use crate::app::AppState;
use crate::auth::need::{SignedIn, UsersWrite};
use crate::auth::second_factor::{Context, Purpose};
use crate::http::client_addr::client_ip;
use crate::http::error::ApiResult;
use crate::http::guard::Grant;
use crate::http::json::ApiJson;
use crate::http::router::RequestId;
use crate::http::{done, respond};
use crate::service::factors;

/// A code typed by a person (never logged).
#[derive(Deserialize)]
pub struct CodeBody {
    pub(super) code: String,
}

impl std::fmt::Debug for CodeBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeBody")
    }
}

/// Where the request came from, for the audit trail of code checks.
fn source(state: &AppState, addr: std::net::SocketAddr, headers: &HeaderMap) -> String {
    client_ip(addr.ip(), headers, &state.config.trusted_proxies).to_string()
}

pub async fn overview(
    State(state): State<AppState>,
    g: Grant<SignedIn>,
) -> ApiResult<Json<factors::Overview>> {
    Ok(Json(factors::overview(&state, &g).await?))
}

pub async fn begin_totp(State(state): State<AppState>, g: Grant<SignedIn>) -> ApiResult<Response> {
    Ok(respond(StatusCode::OK, factors::begin_own_totp(&state, &g).await?))
}

pub async fn confirm_totp(
    State(state): State<AppState>,
    g: Grant<SignedIn>,
    Extension(rid): Extension<RequestId>,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    ApiJson(b): ApiJson<CodeBody>,
) -> ApiResult<Response> {
    let source = source(&state, addr, &headers);
    let ctx = Context { source: &source, correlation_id: &rid.0, via: "api", purpose: Purpose::Enrolment };
    let d = factors::confirm_own_totp(&state, &g, &b.code, &ctx).await?;
    Ok(crate::http::audited(StatusCode::OK, json!({"recovery_codes": d.value}), d.audit))
}

pub async fn remove_totp(State(state): State<AppState>, g: Grant<SignedIn>) -> ApiResult<Response> {
    Ok(done(factors::remove_totp(&state, &g).await?.audit))
}

pub async fn recovery_codes(State(state): State<AppState>, g: Grant<SignedIn>) -> ApiResult<Response> {
    let d = factors::new_recovery_codes(&state, &g).await?;
    Ok(crate::http::audited(StatusCode::OK, json!({"recovery_codes": d.value}), d.audit))
}

pub async fn verify(
    State(state): State<AppState>,
    g: Grant<SignedIn>,
    Extension(rid): Extension<RequestId>,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    ApiJson(b): ApiJson<CodeBody>,
) -> ApiResult<Response> {
    let source = source(&state, addr, &headers);
    let ctx = Context { source: &source, correlation_id: &rid.0, via: "api", purpose: Purpose::FreshCheck };
    let d = factors::verify(&state, &g, &b.code, &ctx).await?;
    Ok(crate::http::audited(StatusCode::OK, json!({"fresh_until": d.value}), d.audit))
}

pub async fn end_session(
    State(state): State<AppState>,
    g: Grant<SignedIn>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    Ok(done(factors::end_session(&state, &g, &id).await?.audit))
}

pub async fn reset(
    State(state): State<AppState>,
    g: Grant<UsersWrite>,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    Ok(respond(StatusCode::OK, factors::reset(&state, &g, id).await?))
}
