//! Remediation over JSON: request fixes (previewed at once), list and read requests with
//! their diffs, approve or reject, a host's transactions, roll one back. Adapters over
//! `service::remediation`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::auth::need::{RemediationsApprove, RemediationsRead, RemediationsRequest};
use crate::http::error::ApiResult;
use crate::http::guard::Grant;
use crate::http::json::ApiJson;
use crate::http::respond;
use crate::service::remediation::{self, Decision, ListFilter, NewRequest};

pub async fn create(
    State(state): State<AppState>,
    g: Grant<RemediationsRequest>,
    ApiJson(req): ApiJson<NewRequest>,
) -> ApiResult<Response> {
    Ok(respond(StatusCode::ACCEPTED, remediation::request(&state, &g, req).await?))
}

pub async fn list(
    State(state): State<AppState>,
    g: Grant<RemediationsRead>,
    Query(f): Query<ListFilter>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(remediation::list(&state, &g, &f).await?)))
}

pub async fn get(
    State(state): State<AppState>,
    g: Grant<RemediationsRead>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(remediation::get(&state, &g, id).await?)))
}

pub async fn approve(
    State(state): State<AppState>,
    g: Grant<RemediationsApprove>,
    Path(id): Path<i64>,
    ApiJson(d): ApiJson<Decision>,
) -> ApiResult<Response> {
    Ok(respond(StatusCode::OK, remediation::decide(&state, &g, id, true, d).await?))
}

pub async fn reject(
    State(state): State<AppState>,
    g: Grant<RemediationsApprove>,
    Path(id): Path<i64>,
    ApiJson(d): ApiJson<Decision>,
) -> ApiResult<Response> {
    Ok(respond(StatusCode::OK, remediation::decide(&state, &g, id, false, d).await?))
}

pub async fn host_transactions(
    State(state): State<AppState>,
    g: Grant<RemediationsRead>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"items": remediation::host_transactions(&state, &g, id).await?})))
}

pub async fn rollback(
    State(state): State<AppState>,
    g: Grant<RemediationsRequest>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    Ok(respond(StatusCode::ACCEPTED, remediation::rollback(&state, &g, &id).await?))
}
