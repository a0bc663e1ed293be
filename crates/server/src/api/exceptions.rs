//! Exceptions over JSON: request one, list and read them, approve, reject or revoke.
//! Adapters over `service::exceptions`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::auth::need::{ExceptionsApprove, ExceptionsRead, ExceptionsRequest};
use crate::http::error::ApiResult;
use crate::http::guard::Grant;
use crate::http::json::ApiJson;
use crate::http::respond;
use crate::service::exceptions::{self, Decision, ListFilter, NewRequest};

pub async fn create(
    State(state): State<AppState>,
    g: Grant<ExceptionsRequest>,
    ApiJson(req): ApiJson<NewRequest>,
) -> ApiResult<Response> {
    Ok(respond(StatusCode::CREATED, exceptions::request(&state, &g, req).await?))
}

pub async fn list(
    State(state): State<AppState>,
    g: Grant<ExceptionsRead>,
    Query(f): Query<ListFilter>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(exceptions::list(&state, &g, &f).await?)))
}

pub async fn get(
    State(state): State<AppState>,
    g: Grant<ExceptionsRead>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(exceptions::get(&state, &g, id).await?)))
}

pub async fn approve(
    State(state): State<AppState>,
    g: Grant<ExceptionsApprove>,
    Path(id): Path<i64>,
    ApiJson(d): ApiJson<Decision>,
) -> ApiResult<Response> {
    Ok(respond(StatusCode::OK, exceptions::decide(&state, &g, id, true, d).await?))
}

pub async fn reject(
    State(state): State<AppState>,
    g: Grant<ExceptionsApprove>,
    Path(id): Path<i64>,
    ApiJson(d): ApiJson<Decision>,
) -> ApiResult<Response> {
    Ok(respond(StatusCode::OK, exceptions::decide(&state, &g, id, false, d).await?))
}

pub async fn revoke(
    State(state): State<AppState>,
    g: Grant<ExceptionsApprove>,
    Path(id): Path<i64>,
    ApiJson(d): ApiJson<Decision>,
) -> ApiResult<Response> {
    Ok(respond(StatusCode::OK, exceptions::revoke(&state, &g, id, d).await?))
}
