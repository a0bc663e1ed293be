//! Compliance views: a host's current state, change log and posture; the fleet summary.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::{AppState, now_ms};
use crate::auth::need::{FleetRead, HostsRead};
use crate::http::error::{ApiResult, not_found};
use crate::http::guard::Grant;
use crate::service::compliance::{self, Scope, StateParams};
use crate::service::drift::{self, ChangeFilter};
use crate::service::exports::{self, Format};
use crate::service::scans::{ResultFilter, result_query};

pub async fn host_compliance(
    State(state): State<AppState>,
    _: Grant<HostsRead>,
    Path(id): Path<i64>,
    Query(q): Query<ResultFilter>,
) -> ApiResult<Json<Value>> {
    let host = state.store().host(id).await?.ok_or_else(|| not_found("host"))?;
    let rq = result_query(&state.library, &q)?;
    let rules: Vec<Value> = state
        .store()
        .host_state(id, &rq)
        .await?
        .into_iter()
        .map(|s| {
            let title = state.library.rule(&s.rule_id).map(|r| r.raw.title.as_str().to_owned());
            json!({"rule_id": s.rule_id, "title": title, "verdict": s.verdict, "severity": s.severity,
                "scan_id": s.scan_id, "evidence_hash": s.evidence_hash, "since": s.since_at,
                "exception_id": s.exception_id})
        })
        .collect();
    let frameworks = state.store().host_posture(id).await?;
    Ok(Json(json!({"host": host, "frameworks": frameworks, "rules": rules})))
}

pub async fn host_changes(
    State(state): State<AppState>,
    g: Grant<HostsRead>,
    Path(id): Path<i64>,
    Query(mut f): Query<ChangeFilter>,
) -> ApiResult<Json<Value>> {
    f.host_id = Some(id);
    Ok(Json(json!(drift::changes(&state, &g, &f).await?)))
}

pub async fn changes(
    State(state): State<AppState>,
    g: Grant<HostsRead>,
    Query(f): Query<ChangeFilter>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(drift::changes(&state, &g, &f).await?)))
}

#[derive(Debug, Deserialize)]
pub struct PostureQuery {
    days: Option<i64>,
}

pub async fn host_posture(
    State(state): State<AppState>,
    _: Grant<HostsRead>,
    Path(id): Path<i64>,
    Query(q): Query<PostureQuery>,
) -> ApiResult<Json<Value>> {
    state.store().host(id).await?.ok_or_else(|| not_found("host"))?;
    let since = now_ms() - q.days.unwrap_or(30).clamp(1, 3650) * 86_400_000;
    Ok(Json(json!({"items": state.store().posture_history(id, since).await?})))
}

pub async fn summary(State(state): State<AppState>, _: Grant<FleetRead>) -> ApiResult<Json<Value>> {
    let mut s = state.store().fleet_summary(now_ms()).await?;
    for r in &mut s.top_failing_rules {
        if let Some(rule) = state.library.rule(&r.id) {
            r.name = rule.raw.title.as_str().to_owned();
        }
    }
    Ok(Json(json!(s)))
}

/// The host's current compliance as a CSV or JSON download (the same file as the web's).
pub async fn host_export(
    State(state): State<AppState>,
    g: Grant<HostsRead>,
    Path(id): Path<i64>,
    Query(q): Query<super::scans::ExportQuery>,
    Query(filters): Query<StateParams>,
) -> ApiResult<axum::response::Response> {
    let format = Format::parse(&q.format)?;
    Ok(crate::http::download(exports::current_state(&state, &g, &Scope::Host(id), &filters, format).await?))
}

/// `?limit=` of the compliance listing.
#[derive(Debug, Deserialize)]
pub struct LimitQuery {
    limit: Option<i64>,
}

/// Current verdicts across the fleet with filters (rule, framework and control, verdict,
/// severity, group, host name): which hosts fail this rule or control, and why.
pub async fn compliance(
    State(state): State<AppState>,
    g: Grant<HostsRead>,
    Query(filters): Query<StateParams>,
    Query(l): Query<LimitQuery>,
) -> ApiResult<Json<Value>> {
    let limit = l.limit.unwrap_or(compliance::PAGE_LIMIT).clamp(1, 10 * compliance::PAGE_LIMIT);
    let (rows, more) = compliance::rows(&state, &g, &Scope::Fleet, &filters, limit).await?;
    Ok(Json(json!({"items": rows, "more": more})))
}

/// The fleet's current compliance with the same filters, as a CSV or JSON download.
pub async fn fleet_export(
    State(state): State<AppState>,
    g: Grant<HostsRead>,
    Query(q): Query<super::scans::ExportQuery>,
    Query(filters): Query<StateParams>,
) -> ApiResult<axum::response::Response> {
    let format = Format::parse(&q.format)?;
    Ok(crate::http::download(exports::current_state(&state, &g, &Scope::Fleet, &filters, format).await?))
}
