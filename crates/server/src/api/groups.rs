//! Host groups over JSON: adapters over `service::groups`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::auth::need::{HostsRead, HostsWrite};
use crate::http::error::ApiResult;
use crate::http::guard::Grant;
use crate::http::json::ApiJson;
use crate::http::respond;
use crate::service::groups::{self, GroupBody};

pub async fn list(State(state): State<AppState>, g: Grant<HostsRead>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"items": groups::list(&state, &g).await?})))
}

pub async fn create(
    State(state): State<AppState>,
    g: Grant<HostsWrite>,
    ApiJson(b): ApiJson<GroupBody>,
) -> ApiResult<Response> {
    Ok(respond(StatusCode::CREATED, groups::create(&state, &g, b).await?))
}

pub async fn update(
    State(state): State<AppState>,
    g: Grant<HostsWrite>,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<GroupBody>,
) -> ApiResult<Response> {
    Ok(respond(StatusCode::OK, groups::update(&state, &g, id, b).await?))
}

pub async fn delete(
    State(state): State<AppState>,
    g: Grant<HostsWrite>,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    Ok(crate::http::done(groups::delete(&state, &g, id).await?.audit))
}

pub async fn add_host(
    State(state): State<AppState>,
    g: Grant<HostsWrite>,
    Path((id, host_id)): Path<(i64, i64)>,
) -> ApiResult<Response> {
    Ok(respond(StatusCode::OK, groups::set_member(&state, &g, id, host_id, true).await?))
}

pub async fn remove_host(
    State(state): State<AppState>,
    g: Grant<HostsWrite>,
    Path((id, host_id)): Path<(i64, i64)>,
) -> ApiResult<Response> {
    Ok(respond(StatusCode::OK, groups::set_member(&state, &g, id, host_id, false).await?))
}
