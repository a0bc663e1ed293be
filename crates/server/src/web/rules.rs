//! Rules: browse and search them; one rule's text, controls and how to fix it, with the
//! hosts that pass or fail it now.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use openwatch_core::guidance::spans;
use serde::Deserialize;

use super::guard::{RulesRead, Viewer};
use super::layout::{self, Page, plural, prose, render};
use super::verdicts;
use crate::app::AppState;
use crate::service::compliance::StateParams;

#[derive(Debug, Deserialize, Default)]
pub struct RulesQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    framework: String,
}

pub async fn list(
    State(state): State<AppState>,
    v: Viewer<RulesRead>,
    Query(q): Query<RulesQuery>,
) -> Response {
    let needle = q.q.to_lowercase();
    let rules: Vec<_> = state
        .library
        .rules
        .iter()
        .filter(|r| {
            needle.is_empty()
                || r.id().contains(&needle)
                || r.raw.title.as_str().to_lowercase().contains(&needle)
        })
        .filter(|r| q.framework.is_empty() || !r.raw.references.controls(&q.framework).is_empty())
        .collect();
    let frameworks: Vec<&str> = state.library.frameworks().collect();
    let body = html! {
        h1 { "Rules" }
        form.filters method="get" action="/rules" role="search" {
            label { "Search" input type="search" name="q" value=(q.q); }
            label { "Framework" select name="framework" { option value="" { "any" } @for f in &frameworks { option value=(f) selected[q.framework == *f] { (f) } } } }
            button type="submit" { "Apply" }
        }
        p.muted { (plural(rules.len() as i64, "rule", "rules")) }
        table {
            thead { tr { th { "Rule" } th { "Severity" } th { "Category" } th { "Controls" } } }
            tbody {
                @for r in &rules {
                    tr {
                        td {
                            details {
                                summary { (r.raw.title.as_str()) " " span.muted.mono { (r.id()) } }
                                p { a href={"/rules/" (super::form::urlencode(r.id()))} { "Hosts and how to fix" } }
                                p { (prose(&spans(r.raw.description.as_str()))) }
                                p.muted { "Why: " (prose(&spans(r.raw.rationale.as_str()))) }
                            }
                        }
                        td { (r.raw.severity.to_string()) }
                        td { (r.raw.category.to_string()) }
                        td.mono { @for f in &frameworks { @let c = r.raw.references.controls(f); @if !c.is_empty() { (f) ": " (c.join(", ")) br; } } }
                    }
                }
            }
        }
    };
    render(
        &Page {
            caller: &v.caller,
            csrf: &v.csrf,
            title: "Rules",
            section: "Rules",
            live: false,
            flash: None,
        },
        body,
    )
}

/// One rule: what it checks and why, the controls it implements, how to fix it, and which
/// hosts pass or fail it now (filterable, exportable).
pub async fn rule(
    State(state): State<AppState>,
    v: Viewer<RulesRead>,
    Path(id): Path<String>,
    Query(mut params): Query<StateParams>,
) -> Response {
    let Some(r) = state.library.rule(&id) else {
        return layout::error_page(&v.caller, &v.csrf, StatusCode::NOT_FOUND, "No such rule.");
    };
    params.rule = Some(id.clone());
    let action = format!("/rules/{}", super::form::urlencode(&id));
    let hosts = verdicts::section(&state, &v, &action, &params).await;
    let body = html! {
        h1 { (r.raw.title.as_str()) }
        p.muted.mono { (id) " · " (r.raw.severity.to_string()) " · " (r.raw.category.to_string()) }
        p { (prose(&spans(r.raw.description.as_str()))) }
        p { strong { "Why: " } (prose(&spans(r.raw.rationale.as_str()))) }
        section.card aria-labelledby="controls-h" {
            h2 #controls-h { "Controls" }
            ul {
                @for f in state.library.frameworks() {
                    @let controls = r.raw.references.controls(f);
                    @if !controls.is_empty() {
                        li { (f) ": " @for (i, c) in controls.iter().enumerate() {
                            @if i > 0 { ", " }
                            a.mono href={"/frameworks/" (f) "/controls/" (super::form::urlencode(c))} { (c) }
                        } }
                    }
                }
            }
        }
        section.card aria-labelledby="fix-h" {
            h2 #fix-h { "How to fix" }
            (super::fix::steps(r, None, &Default::default()))
            @if v.caller.can(crate::auth::rbac::Permission::RemediationsRequest) && super::fix::fixable(r) {
                (super::fix::button(&v.csrf, None, &id, &action))
            }
        }
        section aria-labelledby="hosts-h" {
            h2 #hosts-h { "Hosts" }
            (hosts)
        }
    };
    render(
        &Page {
            caller: &v.caller,
            csrf: &v.csrf,
            title: r.raw.title.as_str(),
            section: "Rules",
            live: true,
            flash: None,
        },
        body,
    )
}
