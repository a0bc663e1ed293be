//! The host page: compliance by framework, the rule table with evidence (for callers who
//! may read scan results, as in the API), scans, changes and host keys.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::Markup;
use maud::html;
use openwatch_core::capability::CapabilitySet;
use openwatch_core::eval::Status;
use openwatch_core::guidance::spans;
use openwatch_core::rule::Rule;
use openwatch_core::vars::Overrides;
use openwatch_store::HostKeyStatus;
use openwatch_store::{PageRequest, ScanQuery};
use serde::Deserialize;
use serde_json::Value;

use crate::app::AppState;
use crate::auth::rbac::Permission;
use crate::service::scans::{ResultFilter, result_query};
use crate::web::guard::{HostsRead, Viewer};
use crate::web::layout::{self, Page, badge, csrf_field, prose, render, svg, verdict, when};
use crate::web::svg::{donut, excepted_note};

use super::db_error;

#[derive(Debug, Deserialize, Default)]
pub struct DetailQuery {
    verdict: Option<String>,
    severity: Option<String>,
    framework: Option<String>,
    control: Option<String>,
    flash: Option<String>,
    sig: Option<String>,
    error: Option<String>,
}

fn empty_none(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

pub async fn detail(
    State(state): State<AppState>,
    v: Viewer<HostsRead>,
    Path(id): Path<i64>,
    Query(q): Query<DetailQuery>,
) -> Response {
    let store = state.store();
    let host = match store.host(id).await {
        Ok(Some(h)) => h,
        Ok(None) => return layout::error_page(&v.caller, &v.csrf, StatusCode::NOT_FOUND, "No such host."),
        Err(e) => return db_error(&v, e),
    };
    // The fix steps say the values this host is scanned with.
    let overrides =
        match crate::service::tailoring::resolve(&state, id).await.map(|e| e.overrides(&state.library.rules))
        {
            Ok(Ok(o)) => o,
            Ok(Err(e)) => {
                tracing::warn!(host = id, error = %e, "the host's tailoring no longer fits the library");
                Overrides::default()
            }
            Err(e) => return crate::web::page_error(&v.caller, &e),
        };
    // The exports keep the page's filters.
    let export_filters = crate::service::compliance::StateParams {
        verdict: q.verdict.clone(),
        severity: q.severity.clone(),
        framework: q.framework.clone(),
        ..Default::default()
    }
    .query_string();
    let credential = match host.credential_id {
        Some(c) => match store.credential(c).await {
            Ok(c) => c,
            Err(e) => return db_error(&v, e),
        },
        None => None,
    };
    let (login, login_from) = crate::service::hosts::login_user(&host.username, credential.as_ref());
    let rq = ResultFilter {
        verdict: empty_none(q.verdict.clone()),
        severity: empty_none(q.severity.clone()),
        framework: empty_none(q.framework.clone()),
        control: empty_none(q.control.clone()),
        page: None,
        per_page: None,
    };
    let (filter, filter_error) = match result_query(&state.library, &rq) {
        Ok(f) => (f, None),
        Err(e) => (Default::default(), Some(e.to_string())),
    };
    let may_read_results = v.caller.can(Permission::ScansRead);
    let may_fix = v.caller.can(Permission::RemediationsRequest);
    let may_except = v.caller.can(Permission::ExceptionsRequest);
    let loaded = async {
        let state_rows = store.host_state(id, &filter).await?;
        let posture = store.host_posture(id).await?;
        let scans = store
            .list_scans(&ScanQuery { host_id: Some(id), status: None }, PageRequest::new(None, Some(10)))
            .await?;
        let baseline = store.first_scans(Some(id), 1).await?.pop();
        let keys = store.host_keys(id).await?;
        let groups: Vec<openwatch_store::Group> =
            store.list_groups().await?.into_iter().filter(|g| host.groups.contains(&g.name)).collect();
        let foreign = store.host_foreign_results(id).await?;
        // Evidence is part of scan results: shown to those who may read them, as in the API.
        let evidence = if may_read_results {
            let hashes: Vec<String> = state_rows.iter().filter_map(|r| r.evidence_hash.clone()).collect();
            store.evidence_many(&hashes).await?
        } else {
            Default::default()
        };
        Ok::<_, openwatch_store::StoreError>((
            state_rows,
            posture,
            scans,
            baseline,
            (keys, groups, foreign),
            evidence,
        ))
    };
    let (rows, posture, scans, baseline, (keys, groups, foreign), evidence) = match loaded.await {
        Ok(x) => x,
        Err(e) => return db_error(&v, e),
    };
    let recent =
        crate::service::drift::ChangeFilter { host_id: Some(id), per_page: Some(15), ..Default::default() };
    let changes = match crate::service::drift::changes(&state, &v.grant, &recent).await {
        Ok(c) => c,
        Err(e) => return crate::web::page_error(&v.caller, &e),
    };
    let frameworks: Vec<&str> = state.library.frameworks().collect();
    let latest = scans.items.iter().find(|s| s.status == openwatch_store::ScanStatus::Succeeded);
    // What the latest scan found on the host chooses each rule's implementation, and so its fix.
    let capabilities: Option<CapabilitySet> = latest
        .and_then(|s| s.summary.as_ref())
        .and_then(|x| x["system"]["capabilities"].as_array())
        .map(|caps| caps.iter().filter_map(|c| c.as_str().map(str::to_owned)).collect());
    let body = html! {
        h1 { (host.name) " " (badge(host.reachability.as_str())) }
        dl.facts.card {
            dt { "Address" } dd.mono { (host.address) ":" (host.port) " (" (host.transport) ")" }
            @if host.transport == openwatch_store::Transport::Ssh { dt { "Logs in as" } dd #login-user { (login) " " span.muted { "(" (login_from) ")" } } }
            dt { "Platform" } dd { (host.platform.as_deref().unwrap_or("not detected yet")) }
            @if let Some(sys) = latest.and_then(|s| s.summary.as_ref()).map(|x| &x["system"]) {
                @if let Some(name) = sys["platform"]["pretty_name"].as_str() { dt { "Operating system" } dd { (name) } }
                @if let Some(caps) = sys["capabilities"].as_array() {
                    dt { "Detected" } dd.mono { (caps.iter().filter_map(|c| c.as_str()).collect::<Vec<_>>().join(", ")) }
                }
            }
            dt { "Groups" } dd { (host.groups.join(", ")) }
            @if !host.tags.is_empty() { dt { "Tags" } dd { @for t in &host.tags { span.tag { (t) } " " } } }
            dt { "Last scan" } dd { (when(host.last_scan_at)) " " @if let Some(s) = host.last_scan_status { (badge(s.as_str())) } }
            @if let Some(err) = &host.last_error { dt { "Last error" } dd.mono { (err) } }
        }
        div.actions {
            @if v.caller.can(Permission::HostsScan) {
                form method="post" action={"/hosts/" (id) "/scan"} { (csrf_field(&v.csrf)) button type="submit" { "Scan now" } }
            }
            @if v.caller.can(Permission::HostsWrite) && host.transport == openwatch_store::Transport::Ssh {
                form method="post" action={"/hosts/" (id) "/test"} { (csrf_field(&v.csrf)) button.secondary type="submit" { "Test connection" } }
            }
            @if v.caller.can(Permission::HostsWrite) { a.button.secondary href={"/hosts/" (id) "/edit"} { "Edit" } }
            a.button.secondary href={"/scans?host_id=" (id)} { "All scans" }
            @if v.caller.can(Permission::RemediationsRead) { a.button.secondary href={"/remediations?host_id=" (id)} { "Fixes" } }
            a.button.secondary href={"/hosts/" (id) "/tailoring"} { "Tailoring" }
            a.button.secondary href={"/hosts/" (id) "/compliance.csv?" (export_filters)} { "Export CSV" }
            a.button.secondary href={"/hosts/" (id) "/compliance.json?" (export_filters)} { "Export JSON" }
            @if v.caller.can(Permission::ScansRead) { a.button.secondary href={"/reports?host_id=" (id)} { "Report" } }
        }
        @if !keys.is_empty() {
            section.card aria-labelledby="keys-h" {
                h2 #keys-h { "SSH host keys" }
                table {
                    thead { tr { th { "Fingerprint" } th { "Type" } th { "Status" } th { "First seen" } th {} } }
                    tbody {
                        @for k in &keys {
                            tr {
                                td.mono { (k.fingerprint) }
                                td { (k.algorithm) }
                                td { (key_badge(k.status)) }
                                td { (when(Some(k.first_seen_at))) }
                                td {
                                    @if k.status == openwatch_store::HostKeyStatus::Pending && v.caller.can(Permission::HostKeysApprove) {
                                        form method="post" action={"/hosts/" (id) "/keys/" (k.id) "/approve"} {
                                            (csrf_field(&v.csrf))
                                            button type="submit" aria-label={"Approve key " (k.fingerprint)} { "Approve" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        section.card aria-labelledby="fw-h" {
            h2 #fw-h { "Compliance by framework" }
            @if posture.is_empty() { p.muted { "Not scanned yet." } }
            div.frameworks {
                @for p in &posture {
                    div.framework {
                        (svg(donut(p.pass + p.excepted, p.fail, &p.framework)))
                        div { a href={"/hosts/" (id) "?framework=" (p.framework)} { (p.framework) } }
                        div.muted { (p.pass) " pass · " (p.fail) " fail" (excepted_note(p.pass, p.fail, p.excepted)) }
                    }
                }
            }
        }
        section.card aria-labelledby="rules-h" {
            h2 #rules-h { "Rules (" (rows.len()) ")" }
            form.filters method="get" action={"/hosts/" (id)} {
                label { "Verdict" select name="verdict" { option value="" { "any" } @for x in ["fail", "excepted", "pass", "error", "not_applicable", "skipped"] { option value=(x) selected[q.verdict.as_deref() == Some(x)] { (x.replace('_', " ")) } } } }
                label { "Severity" select name="severity" { option value="" { "any" } @for x in ["critical", "high", "medium", "low"] { option value=(x) selected[q.severity.as_deref() == Some(x)] { (x) } } } }
                label { "Framework" select name="framework" { option value="" { "any" } @for f in &frameworks { option value=(f) selected[q.framework.as_deref() == Some(*f)] { (f) } } } }
                label { "Control" input name="control" value=(q.control.clone().unwrap_or_default()) placeholder="e.g. 5.1 or AC-6"; }
                button type="submit" { "Filter" }
            }
            @if let Some(e) = filter_error { div.flash.error role="alert" { (e) } }
            table #rules {
                thead { tr { th { "Rule" } th { "Severity" } th { "Verdict" } th { "Since" } } }
                tbody {
                    @for r in &rows {
                        @let rule = state.library.rule(&r.rule_id);
                        tr {
                            td {
                                details {
                                    summary { (rule.map_or(r.rule_id.as_str(), |x| x.raw.title.as_str())) " " span.muted.mono { (r.rule_id) } }
                                    @if let Some(x) = rule {
                                        p { (prose(&spans(x.raw.description.as_str()))) }
                                        p { strong { "Why: " } (prose(&spans(x.raw.rationale.as_str()))) }
                                    }
                                    @let ev: Value = r.evidence_hash.as_ref().and_then(|h| evidence.get(h)).and_then(|b| serde_json::from_str(b).ok()).unwrap_or(Value::Null);
                                    (crate::web::verdicts::evidence(&ev))
                                    @if !may_read_results { p.muted { "Evidence needs the scans:read permission." } }
                                    @else if ev.is_null() { p.muted { "No evidence recorded." } }
                                    @if let (Some(x), true) = (rule, matches!(r.verdict, Status::Fail | Status::Error)) {
                                        (fix(x, capabilities.as_ref(), &overrides))
                                        @if may_fix && crate::web::fix::fixable(x) {
                                            (crate::web::fix::button(&v.csrf, Some(id), x.id(), &format!("/hosts/{id}")))
                                        }
                                        @if may_except && r.verdict == Status::Fail {
                                            (crate::web::exceptions::request_form(&v.csrf, id, x.id(), &groups, state.config.exception_max_days))
                                        }
                                    }
                                    @if let Some(e) = r.exception_id {
                                        p.excepted { "Accepted by " a href={"/exceptions?host_id=" (id) "&status=approved#exception-" (e)} { "exception #" (e) } "." }
                                    }
                                }
                            }
                            td { (rule.map_or(String::new(), |x| x.raw.severity.to_string())) }
                            td { (verdict(r.verdict)) }
                            td.muted { (when(Some(r.since_at))) }
                        }
                    }
                }
            }
            @if let Some(s) = latest {
                p { "Export the latest results: " a href={"/scans/" (s.id) "/results.csv"} { "CSV" } " · " a href={"/scans/" (s.id) "/results.json"} { "JSON" } }
            }
        }
        div.grid {
            section.card aria-labelledby="scans-h" {
                h2 #scans-h { "Scan history" }
                table {
                    thead { tr { th { "Scan" } th { "Queued" } th { "Status" } th { "Trigger" } } }
                    tbody { @for s in &scans.items { tr {
                        td { a href={"/scans/" (s.id)} { "#" (s.id) } }
                        td.muted { (when(Some(s.queued_at))) }
                        td { (badge(s.status.as_str())) @if let Some(k) = &s.error_kind { " " span.muted { (k) } } }
                        td { (s.trigger) " " span.muted { (s.triggered_by.as_deref().unwrap_or("")) } }
                    } } }
                }
            }
            @if !foreign.is_empty() { (super::foreign::section(&foreign)) }
            section.card aria-labelledby="chg-h" {
                h2 #chg-h { "Changes" }
                table {
                    thead { tr { th { "When" } th { "Rule" } th { "Was" } th { "Now" } th { "Values" } } }
                    tbody { @for d in &changes.items { @let c = &d.change; tr {
                        td.muted { (when(Some(c.changed_at))) }
                        td.mono { (c.rule_id) }
                        td { @if let Some(o) = c.old_verdict { (verdict(o)) } @else { span.muted { "new" } } }
                        td { (verdict(c.new_verdict)) }
                        td { (crate::web::changes::values(d)) }
                    } }
                    // The baseline closes the log once every later change is on this page.
                    @if let Some(b) = baseline.as_ref().filter(|_| changes.items.len() as i64 == changes.total) {
                        tr.baseline {
                            td.muted { (when(Some(b.at))) }
                            td { "First scan: baseline recorded" }
                            td {}
                            td { a href={"/scans/" (b.scan_id)} { "results" } }
                        }
                    } }
                }
            }
        }
    };
    let flash = crate::web::flash_message(&v.csrf, q.flash.clone(), q.error.clone(), q.sig.as_deref());
    render(
        &Page { caller: &v.caller, csrf: &v.csrf, title: &host.name, section: "Hosts", live: true, flash },
        body,
    )
}

/// A host key's own state (the host's reachability is the badge beside its name).
fn key_badge(status: HostKeyStatus) -> Markup {
    let class = match status {
        HostKeyStatus::Pending => "b-key-pending",
        HostKeyStatus::Approved => "b-key-approved",
        HostKeyStatus::Rejected => "b-key-rejected",
    };
    html! { span class={"badge " (class)} { (status.as_str()) } }
}

/// What to change on this host to make the rule pass, as numbered steps with the values its
/// tailoring sets.
fn fix(rule: &Rule, capabilities: Option<&CapabilitySet>, overrides: &Overrides) -> Markup {
    html! {
        div.fix {
            h3 { "How to fix" }
            (crate::web::fix::steps(rule, capabilities, overrides))
        }
    }
}
