//! Scans over JSON: queue them, list them, read their results and evidence, export them.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use openwatch_store::{PageRequest, ResultQuery, ScanQuery};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::auth::need::{HostsScan, ScansRead};
use crate::http::error::{ApiResult, not_found};
use crate::http::guard::Grant;
use crate::http::json::ApiJson;
use crate::http::{audited, respond};
use crate::service::exports::{self, ScanExport};
use crate::service::scans::{self, Initiator, ResultFilter};

pub async fn queue_host(
    State(state): State<AppState>,
    g: Grant<HostsScan>,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    let d = scans::scan_host(&state, &Initiator::person(&g), id).await?;
    let status = if d.value.new { StatusCode::ACCEPTED } else { StatusCode::OK };
    let body = json!({"scan_id": d.value.scan.id, "scan": d.value.scan, "already_pending": !d.value.new});
    Ok(audited(status, body, d.audit))
}

pub async fn queue_group(
    State(state): State<AppState>,
    g: Grant<HostsScan>,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    Ok(respond(StatusCode::ACCEPTED, scans::scan_group(&state, &Initiator::person(&g), id).await?))
}

/// Scan several hosts: `{"host_ids": [1, 2]}`.
#[derive(Debug, Deserialize)]
pub struct HostsBody {
    host_ids: Vec<i64>,
}

pub async fn queue_hosts(
    State(state): State<AppState>,
    g: Grant<HostsScan>,
    ApiJson(b): ApiJson<HostsBody>,
) -> ApiResult<Response> {
    Ok(respond(StatusCode::ACCEPTED, scans::scan_hosts(&state, &Initiator::person(&g), &b.host_ids).await?))
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    host_id: Option<i64>,
    status: Option<String>,
    page: Option<i64>,
    per_page: Option<i64>,
}

pub async fn list(
    State(state): State<AppState>,
    _: Grant<ScansRead>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Value>> {
    let page = state
        .store()
        .list_scans(
            &ScanQuery { host_id: q.host_id, status: q.status },
            crate::service::page(q.page, q.per_page)?,
        )
        .await?;
    Ok(Json(json!(page)))
}

pub async fn get(
    State(state): State<AppState>,
    _: Grant<ScansRead>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(state.store().scan(id).await?.ok_or_else(|| not_found("scan"))?)))
}

pub async fn results(
    State(state): State<AppState>,
    _: Grant<ScansRead>,
    Path(id): Path<i64>,
    Query(q): Query<ResultFilter>,
) -> ApiResult<Json<Value>> {
    state.store().scan(id).await?.ok_or_else(|| not_found("scan"))?;
    let rq = scans::result_query(&state.library, &q)?;
    let page = state.store().scan_results(id, &rq, crate::service::page(q.page, q.per_page)?).await?;
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|r| {
            let title = state.library.rule(&r.rule_id).map(|x| x.raw.title.as_str().to_owned());
            json!({"rule_id": r.rule_id, "title": title, "verdict": r.verdict, "severity": r.severity,
                "reason": r.reason, "evidence_hash": r.evidence_hash, "exception_id": r.exception_id})
        })
        .collect();
    Ok(Json(json!({"items": items, "total": page.total, "page": page.page, "per_page": page.per_page})))
}

pub async fn result(
    State(state): State<AppState>,
    _: Grant<ScansRead>,
    Path((id, rule_id)): Path<(i64, String)>,
) -> ApiResult<Json<Value>> {
    let rq = ResultQuery { rule_ids: Some(vec![rule_id.clone()]), ..Default::default() };
    let page = state.store().scan_results(id, &rq, PageRequest::new(None, Some(1))).await?;
    let r = page.items.into_iter().next().ok_or_else(|| not_found("result"))?;
    let evidence: Value = match &r.evidence_hash {
        Some(h) => state
            .store()
            .evidence(h)
            .await?
            .and_then(|body| serde_json::from_str(&body).ok())
            .unwrap_or(Value::Null),
        None => Value::Null,
    };
    let rule = state.library.rule(&rule_id).map(|x| {
        json!({"title": x.raw.title.as_str(), "description": x.raw.description.as_str(),
            "rationale": x.raw.rationale.as_str(), "references": x.raw.references})
    });
    Ok(Json(json!({"scan_id": id, "rule_id": r.rule_id, "verdict": r.verdict, "severity": r.severity,
        "reason": r.reason, "evidence": evidence, "rule": rule})))
}

/// `?format=csv|json` of the export routes.
#[derive(Debug, Deserialize)]
pub struct ExportQuery {
    pub format: String,
}

pub async fn export(
    State(state): State<AppState>,
    g: Grant<ScansRead>,
    Path(id): Path<i64>,
    Query(q): Query<ExportQuery>,
    Query(filter): Query<crate::service::scans::ResultFilter>,
) -> ApiResult<Response> {
    let export = ScanExport::parse(&q.format)?;
    Ok(crate::http::download(exports::scan_results(&state, &g, id, &filter, export).await?))
}
