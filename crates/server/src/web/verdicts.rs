//! "Which hosts fail this?": the hosts table of the rule and control pages, with its
//! filters, each host's verdict, reason and evidence, and downloads that keep the filters.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::Response;
use maud::{Markup, html};
use openwatch_store::HostRuleRow;
use serde_json::Value;

use super::guard::{HostsRead, RulesRead, ScansRead, Viewer};
use super::layout::{plural, verdict, when};
use crate::app::AppState;
use crate::service::compliance::{self, Scope, StateParams};
use crate::service::exports::{self, Format};

/// The verdicts a filter offers, in the order people look for them.
const VERDICTS: &[&str] = &["fail", "excepted", "error", "pass", "not_applicable", "skipped"];

/// One evidence list (as the scanner stores it) as definition lists.
pub fn evidence(ev: &Value) -> Markup {
    html! {
        @for e in ev.as_array().into_iter().flatten() {
            dl.facts.evidence {
                dt { "Read" } dd.mono { (e["method"].as_str().unwrap_or("")) ": " (e["source"].as_str().unwrap_or("")) }
                dt { "Expected" } dd.mono { (e["expected"].as_str().unwrap_or("")) }
                dt { "Actual" } dd.mono { (e["actual"].as_str().unwrap_or("")) }
            }
            @if let Some(obs) = e["observed"].as_str().filter(|o| !o.is_empty()) { pre { (obs) } }
        }
    }
}

/// The hosts section of a page at `action` (whose own selection, a rule or a control, is
/// already in `params`): filters, counts, the table and its downloads. Callers without hosts:read see
/// why the section is empty; evidence needs scans:read as on the host page.
pub async fn section(state: &AppState, v: &Viewer<RulesRead>, action: &str, params: &StateParams) -> Markup {
    let Ok(hosts) = v.grant.also::<HostsRead>() else {
        return html! { p.muted { "Listing hosts needs the hosts:read permission." } };
    };
    let (rows, more) =
        match compliance::rows(state, &hosts, &Scope::Fleet, params, compliance::PAGE_LIMIT).await {
            Ok(r) => r,
            Err(e) => return html! { div.flash.error role="alert" { (e) } },
        };
    let evidence_bodies: HashMap<String, String> = match v.grant.also::<ScansRead>() {
        Ok(_) => {
            let hashes: Vec<String> = rows.iter().filter_map(|r| r.evidence_hash.clone()).collect();
            state.store().evidence_many(&hashes).await.unwrap_or_else(|e| {
                tracing::error!(error = %e, "evidence for the hosts table");
                HashMap::new()
            })
        }
        Err(_) => HashMap::new(),
    };
    let groups = state.store().list_groups().await.unwrap_or_default();
    let count = |v: &str| rows.iter().filter(|r| r.verdict.as_str() == v).count();
    let download = |ext: &str| format!("/compliance.{ext}?{}", params.query_string());
    let selected = |x: &Option<String>, want: &str| x.as_deref() == Some(want);
    // A rule's own page needs no rule column.
    let one_rule = params.rule();
    html! {
        form.filters method="get" action=(action) role="search" {
            label { "Verdict" select name="verdict" { option value="" { "any" } @for x in VERDICTS { option value=(x) selected[selected(&params.verdict, x)] { (x.replace('_', " ")) } } } }
            label { "Group" select name="group" { option value="" { "any" } @for g in &groups { option value=(g.name) selected[selected(&params.group, &g.name)] { (g.name) } } } }
            label { "Host" input type="search" name="host" value=(params.host.as_deref().unwrap_or("")) placeholder="name contains"; }
            button type="submit" { "Apply" }
            a href=(download("csv")) download { "Export CSV" }
            a href=(download("json")) download { "Export JSON" }
        }
        p.muted #host-counts {
            (plural(rows.len() as i64, "host result", "host results")) @if more { " (the first " (compliance::PAGE_LIMIT) "; the export has all)" } ": "
            (count("fail")) " fail, " (count("excepted")) " excepted, " (count("pass")) " pass, " (count("error")) " error, "
            (count("not_applicable") + count("skipped")) " not applicable"
        }
        @if rows.is_empty() { p.muted { "No host has a result for this yet, or none matches the filters." } }
        @else {
            table #hosts-verdicts {
                thead { tr { th { "Host" } @if one_rule.is_none() { th { "Rule" } } th { "Verdict" } th { "Since" } th { "Reason and evidence" } } }
                tbody { @for r in &rows { (row(state, r, &evidence_bodies, one_rule.is_none())) } }
            }
        }
    }
}

fn row(state: &AppState, r: &HostRuleRow, bodies: &HashMap<String, String>, rule_column: bool) -> Markup {
    let ev: Option<Value> =
        r.evidence_hash.as_ref().and_then(|h| bodies.get(h)).and_then(|b| serde_json::from_str(b).ok());
    let title = state.library.rule(&r.rule_id).map_or(r.rule_id.as_str(), |x| x.raw.title.as_str());
    html! {
        tr {
            td.name { a href={"/hosts/" (r.host_id) "?verdict=" (r.verdict.as_str())} { (r.host_name) } }
            @if rule_column { td { a href={"/rules/" (super::form::urlencode(&r.rule_id))} { (title) } } }
            td { (verdict(r.verdict)) }
            td.muted { (when(Some(r.since_at))) }
            td {
                @match &ev {
                    Some(ev) => details { summary { (r.reason) } (evidence(ev)) },
                    None => (r.reason),
                }
            }
        }
    }
}

/// The fleet's current compliance with a page's filters, as a download (`/compliance.csv`,
/// `/compliance.json`): the same bytes as `GET /api/v1/compliance/export`.
pub async fn export(
    state: &AppState,
    v: &Viewer<HostsRead>,
    params: &StateParams,
    format: Format,
) -> Response {
    match exports::current_state(state, &v.grant, &Scope::Fleet, params, format).await {
        Ok(e) => crate::http::download(e),
        Err(e) => super::page_error(&v.caller, &e),
    }
}

pub async fn export_csv(
    State(state): State<AppState>,
    v: Viewer<HostsRead>,
    Query(params): Query<StateParams>,
) -> Response {
    export(&state, &v, &params, Format::Csv).await
}

pub async fn export_json(
    State(state): State<AppState>,
    v: Viewer<HostsRead>,
    Query(params): Query<StateParams>,
) -> Response {
    export(&state, &v, &params, Format::Json).await
}
