//! The audit log: list, export, verify.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use openwatch_store::AuditQuery;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::auth::need::AuditRead;
use crate::http::error::ApiResult;
use crate::http::guard::Grant;

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    actor: Option<String>,
    action: Option<String>,
    since: Option<i64>,
    until: Option<i64>,
    page: Option<i64>,
    per_page: Option<i64>,
}

pub async fn list(
    State(state): State<AppState>,
    _: Grant<AuditRead>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Value>> {
    let query = AuditQuery { actor: q.actor, action: q.action, since: q.since, until: q.until };
    Ok(Json(json!(state.store().list_audit(&query, crate::service::page(q.page, q.per_page)?).await?)))
}

pub async fn export(State(state): State<AppState>, _: Grant<AuditRead>) -> ApiResult<Response> {
    let mut out = String::new();
    for e in state.store().all_audit().await? {
        out.push_str(&serde_json::to_string(&e).unwrap_or_default());
        out.push('\n');
    }
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-ndjson"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"audit.jsonl\""),
        ],
        out,
    )
        .into_response())
}

pub async fn verify(State(state): State<AppState>, _: Grant<AuditRead>) -> ApiResult<Json<Value>> {
    let v = state.store().verify_audit().await?;
    Ok(Json(json!({
        "events": v.events,
        "unkeyed_events": v.unkeyed_events,
        "intact": v.broken.is_none(),
        "break": v.broken,
    })))
}
