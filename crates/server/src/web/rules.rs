//! Rules and frameworks: browse rules, a framework's controls and the rules implementing them.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use openwatch_core::catalog::coverage;
use openwatch_core::eval::Status;
use serde::Deserialize;

use super::guard::{RulesRead, Viewer};
use super::layout::{self, Page, render};
use crate::app::AppState;

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
        p.muted { (rules.len()) " rules" }
        table {
            thead { tr { th { "Rule" } th { "Severity" } th { "Category" } th { "Controls" } } }
            tbody {
                @for r in &rules {
                    tr {
                        td {
                            details {
                                summary { (r.raw.title.as_str()) " " span.muted.mono { (r.id()) } }
                                p { (r.raw.description.as_str()) }
                                p.muted { "Why: " (r.raw.rationale.as_str()) }
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

pub async fn frameworks(State(state): State<AppState>, v: Viewer<RulesRead>) -> Response {
    let body = html! {
        h1 { "Frameworks" }
        table {
            thead { tr { th { "Framework" } th { "Title" } th.right { "Controls covered" } } }
            tbody {
                @for c in &state.library.catalogs {
                    @let cov = coverage(c, &state.library.rules);
                    tr {
                        td { a href={"/frameworks/" (c.framework)} { (c.framework) } }
                        td { (c.title.as_str()) }
                        td.right { (cov.covered) " of " (cov.total) }
                    }
                }
            }
        }
    };
    render(
        &Page {
            caller: &v.caller,
            csrf: &v.csrf,
            title: "Frameworks",
            section: "Frameworks",
            live: false,
            flash: None,
        },
        body,
    )
}

pub async fn framework(
    State(state): State<AppState>,
    v: Viewer<RulesRead>,
    Path(id): Path<String>,
) -> Response {
    let Some(c) = state.library.catalogs.iter().find(|c| c.framework == id) else {
        return layout::error_page(&v.caller, &v.csrf, StatusCode::NOT_FOUND, "No such framework.");
    };
    let cov = coverage(c, &state.library.rules);
    let failing = state.store().failing_hosts_by_rule().await.unwrap_or_default();
    let scanned = state.store().fleet_summary(crate::app::now_ms()).await.map_or(0, |f| f.scanned_hosts);
    let body = html! {
        h1 { (c.title.as_str()) }
        p.muted { (cov.covered) " of " (cov.total) " controls covered by rules. " (c.source.as_str()) }
        p { "Across the fleet: how many of the " (scanned) " scanned hosts fail each rule now." }
        table {
            thead { tr { th { "Control" } th { "Title" } th { "Rules and failing hosts" } } }
            tbody {
                @for row in &cov.controls {
                    tr {
                        td.mono { a href={"/frameworks/" (c.framework) "/controls/" (super::form::urlencode(row.id))} { (row.id) } }
                        td { (row.title) }
                        td {
                            @if row.rules.is_empty() { span.muted { "not covered" } }
                            @for r in &row.rules {
                                @let n = failing.get(*r).copied().unwrap_or(0);
                                a href={"/rules?q=" (r)} { (r) } " "
                                @if n > 0 { span class="verdict v-fail" { "failing on " (n) } } @else if scanned > 0 { span class="verdict v-pass" { "failing nowhere" } }
                                br;
                            }
                        }
                    }
                }
            }
        }
    };
    render(
        &Page {
            caller: &v.caller,
            csrf: &v.csrf,
            title: &c.framework,
            section: "Frameworks",
            live: false,
            flash: None,
        },
        body,
    )
}

/// One control: the rules implementing it and their current verdicts across the fleet.
pub async fn control(
    State(state): State<AppState>,
    v: Viewer<RulesRead>,
    Path((id, control)): Path<(String, String)>,
) -> Response {
    let Some(c) = state.library.catalogs.iter().find(|c| c.framework == id) else {
        return layout::error_page(&v.caller, &v.csrf, StatusCode::NOT_FOUND, "No such framework.");
    };
    let Some(entry) = c.get(&control) else {
        return layout::error_page(&v.caller, &v.csrf, StatusCode::NOT_FOUND, "No such control.");
    };
    let rules: Vec<_> = state
        .library
        .rules
        .iter()
        .filter(|r| r.raw.references.controls(&c.framework).iter().any(|x| x.eq_ignore_ascii_case(&entry.id)))
        .collect();
    let ids: Vec<String> = rules.iter().map(|r| r.id().to_owned()).collect();
    let counts = state.store().rule_verdicts(&ids).await.unwrap_or_default();
    let count = |rule: &str, verdict: Status| {
        counts.iter().find(|(r, v, _)| r == rule && *v == verdict).map_or(0, |(_, _, n)| *n)
    };
    let body = html! {
        h1 { (c.framework) " " (entry.id) }
        p { (entry.title.as_str()) }
        @if rules.is_empty() { p.muted { "No rule implements this control." } }
        table {
            thead { tr { th { "Rule" } th.right { "Pass" } th.right { "Fail" } th.right { "Error" } th.right { "Not applicable" } } }
            tbody {
                @for r in &rules {
                    tr {
                        td { (r.raw.title.as_str()) br; span.muted.mono { (r.id()) } }
                        td.right { (count(r.id(), Status::Pass)) }
                        td.right { (count(r.id(), Status::Fail)) }
                        td.right { (count(r.id(), Status::Error)) }
                        td.right { (count(r.id(), Status::NotApplicable) + count(r.id(), Status::Skipped)) }
                    }
                }
            }
        }
        p { a href={"/frameworks/" (c.framework)} { "All controls of " (c.framework) } }
    };
    render(
        &Page {
            caller: &v.caller,
            csrf: &v.csrf,
            title: &entry.id,
            section: "Frameworks",
            live: true,
            flash: None,
        },
        body,
    )
}
