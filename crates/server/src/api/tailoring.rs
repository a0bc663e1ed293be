//! Tailoring over JSON: a group's or host's own tailoring (read, replace) and a host's
//! effective one. Adapters over `service::tailoring`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use openwatch_core::tailoring::Tailoring;
use openwatch_store::TailoringScope;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::auth::need::{HostsRead, HostsWrite};
use crate::http::error::ApiResult;
use crate::http::guard::Grant;
use crate::http::json::ApiJson;
use crate::http::respond;
use crate::service::tailoring;

async fn get(state: &AppState, g: &Grant<HostsRead>, scope: TailoringScope) -> ApiResult<Json<Value>> {
    let (t, stored) = tailoring::get(state, g, scope).await?;
    Ok(Json(json!({"tailoring": t, "updated_at": stored.as_ref().map(|s| s.updated_at),
        "updated_by": stored.map(|s| s.updated_by)})))
}

pub async fn get_group(
    State(state): State<AppState>,
    g: Grant<HostsRead>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    get(&state, &g, TailoringScope::Group(id)).await
}

pub async fn get_host(
    State(state): State<AppState>,
    g: Grant<HostsRead>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    get(&state, &g, TailoringScope::Host(id)).await
}

pub async fn put_group(
    State(state): State<AppState>,
    g: Grant<HostsWrite>,
    Path(id): Path<i64>,
    ApiJson(t): ApiJson<Tailoring>,
) -> ApiResult<Response> {
    Ok(respond(StatusCode::OK, tailoring::put(&state, &g, TailoringScope::Group(id), t).await?))
}

pub async fn put_host(
    State(state): State<AppState>,
    g: Grant<HostsWrite>,
    Path(id): Path<i64>,
    ApiJson(t): ApiJson<Tailoring>,
) -> ApiResult<Response> {
    Ok(respond(StatusCode::OK, tailoring::put(&state, &g, TailoringScope::Host(id), t).await?))
}

pub async fn effective(
    State(state): State<AppState>,
    g: Grant<HostsRead>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(tailoring::effective(&state, &g, id).await?)))
}
