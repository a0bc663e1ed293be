//! Scans: queue them, list them, read their results and evidence.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use openwatch_core::rule::control_matches;
use openwatch_store::{PageRequest, ResultQuery, Scan, ScanQuery, ScanRequest};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::{AppState, Library, now_ms};
use crate::auth::Caller;
use crate::http::error::{ApiResult, conflict, not_found, validation};
use crate::http::{audited, note};

/// Queue a scan of one host unless one is already queued or running; returns the scan.
pub async fn queue(
    state: &AppState,
    host_id: i64,
    trigger: &str,
    by: Option<String>,
) -> ApiResult<(Scan, bool)> {
    if state.store().scan_pending(host_id).await? {
        let pending = state
            .store()
            .list_scans(&ScanQuery { host_id: Some(host_id), status: None }, PageRequest::new(None, Some(5)))
            .await?
            .items
            .into_iter()
            .find(|s| s.status == "queued" || s.status == "running");
        if let Some(s) = pending {
            return Ok((s, false));
        }
    }
    let req = ScanRequest {
        host_id,
        trigger: trigger.to_owned(),
        triggered_by: by,
        max_attempts: state.config.job_max_attempts,
    };
    let scan = state.store().queue_scan(&req, now_ms()).await?;
    state.jobs_queued.notify_waiters();
    state.events_stored.notify_waiters();
    Ok((scan, true))
}

pub async fn queue_host(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    let host = state.store().host(id).await?.ok_or_else(|| not_found("host"))?;
    if host.maintenance {
        return Err(conflict(format!(
            "{} is in maintenance; take it out of maintenance to scan it",
            host.name
        )));
    }
    let (scan, new) = queue(&state, id, "manual", Some(caller.username.clone())).await?;
    let status = if new { StatusCode::ACCEPTED } else { StatusCode::OK };
    let body = json!({"scan_id": scan.id, "scan": scan, "already_pending": !new});
    Ok(audited(status, body, note(format!("host:{id}"), json!({"scan_id": scan.id, "new": new}))))
}

pub async fn queue_group(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    let group = state.store().group(id).await?.ok_or_else(|| not_found("group"))?;
    let mut ids = Vec::new();
    for host_id in state.store().group_host_ids(id).await? {
        let host = state.store().host(host_id).await?;
        if host.is_some_and(|h| !h.maintenance) {
            ids.push(queue(&state, host_id, "manual", Some(caller.username.clone())).await?.0.id);
        }
    }
    let body = json!({"scan_ids": ids, "group": group.name});
    Ok(audited(StatusCode::ACCEPTED, &body, note(format!("group:{id}"), json!({"scans": ids.len()}))))
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    host_id: Option<i64>,
    status: Option<String>,
    page: Option<i64>,
    per_page: Option<i64>,
}

pub async fn list(State(state): State<AppState>, Query(q): Query<ListQuery>) -> ApiResult<Json<Value>> {
    let page = state
        .store()
        .list_scans(&ScanQuery { host_id: q.host_id, status: q.status }, PageRequest::new(q.page, q.per_page))
        .await?;
    Ok(Json(json!(page)))
}

pub async fn get(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult<Json<Value>> {
    Ok(Json(json!(state.store().scan(id).await?.ok_or_else(|| not_found("scan"))?)))
}

#[derive(Debug, Deserialize)]
pub struct ResultsQuery {
    pub verdict: Option<String>,
    pub severity: Option<String>,
    pub framework: Option<String>,
    pub control: Option<String>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

/// Turn framework/control filters into the rule ids they select.
pub fn result_query(lib: &Library, q: &ResultsQuery) -> ApiResult<ResultQuery> {
    const VERDICTS: &[&str] = &["pass", "fail", "error", "not_applicable", "skipped"];
    const SEVERITIES: &[&str] = &["critical", "high", "medium", "low", "info"];
    if let Some(v) = q.verdict.as_deref().filter(|v| !VERDICTS.contains(v)) {
        return Err(validation("verdict", format!("`{v}` is not one of {}", VERDICTS.join(", "))));
    }
    if let Some(s) = q.severity.as_deref().filter(|s| !SEVERITIES.contains(s)) {
        return Err(validation("severity", format!("`{s}` is not one of {}", SEVERITIES.join(", "))));
    }
    let rule_ids = match (&q.framework, &q.control) {
        (None, None) => None,
        (None, Some(_)) => return Err(validation("control", "needs a framework")),
        (Some(f), control) => {
            if !openwatch_core::rule::is_known_framework(f) {
                return Err(validation("framework", format!("unknown framework `{f}`")));
            }
            Some(
                lib.rules
                    .iter()
                    .filter(|r| {
                        let controls = r.raw.references.controls(f);
                        !controls.is_empty()
                            && control.as_ref().is_none_or(|c| controls.iter().any(|x| control_matches(x, c)))
                    })
                    .map(|r| r.id().to_owned())
                    .collect(),
            )
        }
    };
    Ok(ResultQuery { verdict: q.verdict.clone(), severity: q.severity.clone(), rule_ids })
}

pub async fn results(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<ResultsQuery>,
) -> ApiResult<Json<Value>> {
    state.store().scan(id).await?.ok_or_else(|| not_found("scan"))?;
    let rq = result_query(&state.library, &q)?;
    let page = state.store().scan_results(id, &rq, PageRequest::new(q.page, q.per_page)).await?;
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|r| {
            let title = state.library.rule(&r.rule_id).map(|x| x.raw.title.as_str().to_owned());
            json!({"rule_id": r.rule_id, "title": title, "verdict": r.verdict, "severity": r.severity,
                "reason": r.reason, "evidence_hash": r.evidence_hash})
        })
        .collect();
    Ok(Json(json!({"items": items, "total": page.total, "page": page.page, "per_page": page.per_page})))
}

pub async fn result(
    State(state): State<AppState>,
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
