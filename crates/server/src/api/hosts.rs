//! Hosts and their keys over JSON: adapters over `service::hosts` and `service::import`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use openwatch_store::HostQuery;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::auth::need::{HostsRead, HostsWrite, KeysApprove};
use crate::http::error::ApiResult;
use crate::http::guard::Grant;
use crate::http::json::ApiJson;
use crate::http::{audited, respond};
use crate::service::hosts::{self, HostBody};
use crate::service::import;

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    group: Option<String>,
    platform: Option<String>,
    tag: Option<String>,
    reachability: Option<String>,
    band: Option<String>,
    sort: Option<String>,
    page: Option<i64>,
    per_page: Option<i64>,
}

pub async fn list(
    State(state): State<AppState>,
    _: Grant<HostsRead>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Value>> {
    let query = HostQuery {
        search: q.q,
        group: q.group,
        platform: q.platform,
        tag: q.tag,
        reachability: q.reachability,
        band: q.band,
        sort: q.sort,
    };
    let page = state.store().list_hosts(&query, crate::service::page(q.page, q.per_page)?).await?;
    Ok(Json(json!(page)))
}

pub async fn create(
    State(state): State<AppState>,
    g: Grant<HostsWrite>,
    ApiJson(b): ApiJson<HostBody>,
) -> ApiResult<Response> {
    Ok(respond(StatusCode::CREATED, hosts::create(&state, &g, b).await?))
}

pub async fn get(
    State(state): State<AppState>,
    g: Grant<HostsRead>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let (host, keys) = hosts::get(&state, &g, id).await?;
    Ok(Json(json!({"host": host, "keys": keys})))
}

pub async fn update(
    State(state): State<AppState>,
    g: Grant<HostsWrite>,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<HostBody>,
) -> ApiResult<Response> {
    Ok(respond(StatusCode::OK, hosts::update(&state, &g, id, b).await?))
}

pub async fn delete(
    State(state): State<AppState>,
    g: Grant<HostsWrite>,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    let d = hosts::delete(&state, &g, id).await?;
    Ok(crate::http::done(d.audit))
}

pub async fn keys(
    State(state): State<AppState>,
    g: Grant<HostsRead>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let (_, keys) = hosts::get(&state, &g, id).await?;
    Ok(Json(json!({"items": keys})))
}

pub async fn approve_key(
    State(state): State<AppState>,
    g: Grant<KeysApprove>,
    Path((id, key_id)): Path<(i64, i64)>,
) -> ApiResult<Response> {
    let d = hosts::approve_key(&state, &g, id, key_id).await?;
    let body = json!({"approved": d.value.fingerprint, "scan_id": d.value.scan_id});
    Ok(audited(StatusCode::OK, body, d.audit))
}

pub async fn pending_keys(State(state): State<AppState>, g: Grant<HostsRead>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"items": hosts::pending_keys(&state, &g).await?})))
}

#[derive(Debug, Deserialize)]
pub struct ApproveKeysBody {
    key_ids: Vec<i64>,
}

pub async fn approve_keys(
    State(state): State<AppState>,
    g: Grant<KeysApprove>,
    ApiJson(b): ApiJson<ApproveKeysBody>,
) -> ApiResult<Response> {
    let d = hosts::approve_keys(&state, &g, &b.key_ids).await?;
    Ok(audited(StatusCode::OK, json!({"items": d.value}), d.audit))
}

pub async fn test_connection(
    State(state): State<AppState>,
    g: Grant<HostsWrite>,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    Ok(respond(StatusCode::OK, hosts::test_connection(&state, &g, id).await?))
}

#[derive(Debug, Deserialize)]
pub struct ImportQuery {
    #[serde(default)]
    dry_run: bool,
}

pub async fn import(
    State(state): State<AppState>,
    g: Grant<HostsWrite>,
    Query(q): Query<ImportQuery>,
    body: String,
) -> ApiResult<Response> {
    let d = import::import_csv(&state, &g, &body, q.dry_run).await?;
    let (written, rows) = d.value;
    let errors = rows.iter().filter(|r| !r.ok).count();
    let status = if errors > 0 { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let body = json!({"imported": written, "rows": rows.len(), "errors": errors, "results": rows});
    Ok(audited(status, &body, d.audit))
}
