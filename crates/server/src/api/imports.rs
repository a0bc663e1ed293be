//! Other scanners' results over HTTP: upload a file (the body, as it is), list the imports,
//! read a host's. Adapters over `service::foreign`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::auth::need::{HostsRead, HostsWrite};
use crate::http::error::ApiResult;
use crate::http::guard::Grant;
use crate::http::respond;
use crate::service::foreign::{self, ListFilter, Upload};

pub async fn create(
    State(state): State<AppState>,
    g: Grant<HostsWrite>,
    Query(up): Query<Upload>,
    body: Bytes,
) -> ApiResult<Response> {
    Ok(respond(StatusCode::CREATED, foreign::import(&state, &g, up, &body).await?))
}

pub async fn list(
    State(state): State<AppState>,
    g: Grant<HostsRead>,
    Query(f): Query<ListFilter>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(foreign::list(&state, &g, &f).await?)))
}

pub async fn host(
    State(state): State<AppState>,
    g: Grant<HostsRead>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"items": foreign::host_results(&state, &g, id).await?})))
}
