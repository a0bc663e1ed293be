//! Frameworks: the catalogs, one framework's controls with how many of the hosts it applies
//! to fail each rule, and one control with those hosts named.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use openwatch_core::catalog::coverage;
use openwatch_core::eval::Status;

use super::guard::{RulesRead, Viewer};
use super::layout::{self, Page, plural, render};
use super::verdicts;
use crate::app::AppState;
use crate::service::compliance::StateParams;

pub async fn list(State(state): State<AppState>, v: Viewer<RulesRead>) -> Response {
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

/// A framework's controls. Its figures count only hosts the framework applies to (a RHEL
/// STIG says nothing about Debian hosts), so "failing on N" never exceeds the host count.
pub async fn framework(
    State(state): State<AppState>,
    v: Viewer<RulesRead>,
    Path(id): Path<String>,
) -> Response {
    let Some(c) = state.library.catalogs.iter().find(|c| c.framework == id) else {
        return layout::error_page(&v.caller, &v.csrf, StatusCode::NOT_FOUND, "No such framework.");
    };
    let store = state.store();
    let (failing, summary) = match (
        store.failing_hosts_by_rule(&c.framework).await,
        store.fleet_summary(crate::app::now_ms()).await,
    ) {
        (Ok(f), Ok(s)) => (f, s),
        (Err(e), _) | (_, Err(e)) => return super::page_error(&v.caller, &e.into()),
    };
    let hosts = summary.frameworks.iter().find(|f| f.framework == c.framework).map_or(0, |f| f.hosts);
    let cov = coverage(c, &state.library.rules);
    let body = html! {
        h1 { (c.title.as_str()) }
        p.muted { (cov.covered) " of " (cov.total) " controls covered by rules. " (c.source.as_str()) }
        p #fw-hosts {
            @if hosts == 0 { "No scanned host is one this framework applies to yet." }
            @else { "Across the " (plural(hosts, "host", "hosts")) " this framework applies to (with results): how many fail each rule now." }
        }
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
                                a href={"/rules/" (super::form::urlencode(r))} { (r) } " "
                                @if n > 0 { span class="verdict v-fail" { "failing on " (n) " of " (hosts) } } @else if hosts > 0 { span class="verdict v-pass" { "failing nowhere" } }
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

/// One control: the rules implementing it with their verdict counts, and the hosts (that
/// the framework applies to) with each verdict, reason and evidence.
pub async fn control(
    State(state): State<AppState>,
    v: Viewer<RulesRead>,
    Path((id, control)): Path<(String, String)>,
    Query(mut params): Query<StateParams>,
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
    let counts = match state.store().rule_verdicts(&ids, Some(&c.framework)).await {
        Ok(c) => c,
        Err(e) => return super::page_error(&v.caller, &e.into()),
    };
    let count = |rule: &str, verdict: Status| {
        counts.iter().find(|(r, v, _)| r == rule && *v == verdict).map_or(0, |(_, _, n)| *n)
    };
    params.framework = Some(c.framework.clone());
    params.control = Some(entry.id.clone());
    let action = format!("/frameworks/{}/controls/{}", c.framework, super::form::urlencode(&entry.id));
    let hosts = verdicts::section(&state, &v, &action, &params).await;
    let others =
        match crate::service::foreign::control_counts(&state, &v.grant, &c.framework, &entry.id).await {
            Ok(o) => o,
            Err(e) => return super::page_error(&v.caller, &e),
        };
    let mut scanners: Vec<&str> = others.iter().map(|(s, _, _)| s.as_str()).collect();
    scanners.dedup();
    let other = |scanner: &str, pick: &dyn Fn(Status) -> bool| -> i64 {
        others.iter().filter(|(s, v, _)| s.as_str() == scanner && pick(*v)).map(|(_, _, n)| n).sum()
    };
    let body = html! {
        h1 { (c.framework) " " (entry.id) }
        p { (entry.title.as_str()) }
        @if rules.is_empty() { p.muted { "No rule implements this control." } }
        table #control-rules {
            thead { tr { th { "Rule" } th.right { "Pass" } th.right { "Fail" } th.right { "Error" } th.right { "Not applicable" } } }
            tbody {
                @for r in &rules {
                    tr {
                        td { a href={"/rules/" (super::form::urlencode(r.id()))} { (r.raw.title.as_str()) } br; span.muted.mono { (r.id()) } }
                        td.right { (count(r.id(), Status::Pass)) }
                        td.right { (count(r.id(), Status::Fail)) }
                        td.right { (count(r.id(), Status::Error)) }
                        td.right { (count(r.id(), Status::NotApplicable) + count(r.id(), Status::Skipped)) }
                    }
                }
            }
        }
        @if !scanners.is_empty() {
            section #control-foreign aria-labelledby="foreign-h" {
                h2 #foreign-h { "Other scanners" }
                p.muted { "Imported results citing this control (each target's newest import of each scanner)." }
                table {
                    thead { tr { th { "Scanner" } th.right { "Pass" } th.right { "Fail" } th.right { "Other" } } }
                    tbody { @for s in &scanners { tr {
                        td { (s) }
                        td.right { (other(s, &|v| v == Status::Pass)) }
                        td.right { (other(s, &|v| v == Status::Fail)) }
                        td.right { (other(s, &|v| !matches!(v, Status::Pass | Status::Fail))) }
                    } } }
                }
            }
        }
        section aria-labelledby="hosts-h" {
            h2 #hosts-h { "Hosts" }
            (hosts)
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
