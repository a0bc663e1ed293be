//! Reports over JSON: ask for one (a worker draws it), follow its progress, download it.
//! Adapters over `service::reports`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::auth::need::ScansRead;
use crate::http::error::ApiResult;
use crate::http::guard::Grant;
use crate::http::json::ApiJson;
use crate::http::respond;
use crate::service::reports::{self, ListFilter, NewRequest};

pub async fn create(
    State(state): State<AppState>,
    g: Grant<ScansRead>,
    ApiJson(req): ApiJson<NewRequest>,
) -> ApiResult<Response> {
    Ok(respond(StatusCode::ACCEPTED, reports::request(&state, &g, req).await?))
}

pub async fn list(
    State(state): State<AppState>,
    g: Grant<ScansRead>,
    Query(f): Query<ListFilter>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(reports::list(&state, &g, &f).await?)))
}

pub async fn get(
    State(state): State<AppState>,
    g: Grant<ScansRead>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(reports::get(&state, &g, id).await?)))
}

pub async fn file(
    State(state): State<AppState>,
    g: Grant<ScansRead>,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    Ok(crate::http::download(reports::file(&state, &g, id).await?))
}
