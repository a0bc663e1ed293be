//! The rule library and framework catalogs, with coverage.

use axum::Json;
use axum::extract::{Path, Query, State};
use openwatch_core::catalog::coverage;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::auth::need::RulesRead;
use crate::http::error::{ApiResult, not_found};
use crate::http::guard::Grant;

#[derive(Debug, Deserialize)]
pub struct RulesQuery {
    q: Option<String>,
    category: Option<String>,
    severity: Option<String>,
    framework: Option<String>,
}

fn rule_json(r: &openwatch_core::rule::Rule) -> Value {
    json!({"id": r.id(), "title": r.raw.title.as_str(), "severity": r.raw.severity, "category": r.raw.category,
        "tags": r.raw.tags, "references": r.raw.references})
}

pub async fn rules(
    State(state): State<AppState>,
    _: Grant<RulesRead>,
    Query(q): Query<RulesQuery>,
) -> ApiResult<Json<Value>> {
    let needle = q.q.as_deref().map(str::to_lowercase);
    let items: Vec<Value> = state
        .library
        .rules
        .iter()
        .filter(|r| {
            needle.as_ref().is_none_or(|n| {
                r.id().contains(n.as_str()) || r.raw.title.as_str().to_lowercase().contains(n)
            })
        })
        .filter(|r| q.category.as_ref().is_none_or(|c| r.raw.category.to_string() == *c))
        .filter(|r| q.severity.as_ref().is_none_or(|s| r.raw.severity.to_string() == *s))
        .filter(|r| q.framework.as_ref().is_none_or(|f| !r.raw.references.controls(f).is_empty()))
        .map(rule_json)
        .collect();
    Ok(Json(json!({"items": items, "total": items.len()})))
}

pub async fn rule(
    State(state): State<AppState>,
    _: Grant<RulesRead>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let r = state.library.rule(&id).ok_or_else(|| not_found("rule"))?;
    let mut v = rule_json(r);
    v["description"] = json!(r.raw.description.as_str());
    v["rationale"] = json!(r.raw.rationale.as_str());
    v["platforms"] = json!(r.raw.platforms);
    Ok(Json(v))
}

pub async fn frameworks(State(state): State<AppState>, _: Grant<RulesRead>) -> ApiResult<Json<Value>> {
    let items: Vec<Value> = state
        .library
        .catalogs
        .iter()
        .map(|c| {
            let cov = coverage(c, &state.library.rules);
            json!({"id": c.framework, "title": c.title.as_str(), "controls": cov.total, "covered": cov.covered})
        })
        .collect();
    Ok(Json(json!({"items": items})))
}

pub async fn framework(
    State(state): State<AppState>,
    _: Grant<RulesRead>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let c =
        state.library.catalogs.iter().find(|c| c.framework == id).ok_or_else(|| not_found("framework"))?;
    let mut v = json!(coverage(c, &state.library.rules));
    v["source"] = json!(c.source.as_str());
    Ok(Json(v))
}
