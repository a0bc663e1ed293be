//! Alerts in the browser: the list (open first) with Acknowledge and Resolve, and the alert
//! rules with a form to add one. Adapters over `service::alerts`, like the API.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use maud::{Markup, html};
use openwatch_store::{Alert, AlertKind, AlertStatus};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::guard::{AlertsManage, AlertsRead, Viewer};
use super::layout::{Page, badge, csrf_field, pager, render, when};
use crate::app::AppState;
use crate::auth::rbac::Permission;
use crate::service::alerts::{self, ListFilter, RuleInput};

#[derive(Debug, Deserialize, Default)]
pub struct ListQuery {
    status: Option<String>,
    page: Option<i64>,
    flash: Option<String>,
    sig: Option<String>,
    error: Option<String>,
}

const FILTERS: &[(&str, &str)] =
    &[("open", "Open"), ("acknowledged", "Acknowledged"), ("resolved", "Resolved"), ("", "All")];

/// What each kind watches for, in words.
fn describe(kind: AlertKind) -> &'static str {
    match kind {
        AlertKind::NewFailure => "a rule starts failing on a host at or above a severity",
        AlertKind::ComplianceBelow => {
            "a framework's score (with exceptions) over the fleet or a group falls below a threshold"
        }
        AlertKind::HostUnreachable => "a host cannot be scanned so many times in a row (and when it is back)",
        AlertKind::HostKeyChanged => "a host presents an SSH key other than the approved one",
        AlertKind::ExceptionExpiring => {
            "an approved exception ends within so many days (its end is alerted with or without a rule)"
        }
        AlertKind::RemediationAwaitingApproval => "a fix request waits for someone's approval",
    }
}

pub async fn list(
    State(state): State<AppState>,
    v: Viewer<AlertsRead>,
    Query(q): Query<ListQuery>,
) -> Response {
    let status = q.status.clone().unwrap_or_else(|| "open".into());
    let filter = ListFilter {
        status: Some(status.clone()),
        kind: None,
        host_id: None,
        page: q.page,
        per_page: Some(50),
    };
    let (page, rules) =
        match (alerts::list(&state, &v.grant, &filter).await, alerts::rules(&state, &v.grant).await) {
            (Ok(p), Ok(r)) => (p, r),
            (Err(e), _) | (_, Err(e)) => return super::page_error(&v.caller, &e),
        };
    let may_manage = v.caller.can(Permission::AlertsManage);
    let groups = state.store().list_groups().await.unwrap_or_default();
    let frameworks: Vec<&str> = state.library.frameworks().collect();
    let body = html! {
        h1 { "Alerts" }
        p.muted { "Raised by the alert rules below and sent to the notification channels. A repeat of an open alert is counted, not sent again; a resolved one that comes back within its rule's quiet period is reopened without a new message." }
        nav.tabs aria-label="Status" {
            @for (value, label) in FILTERS {
                a href={"/alerts?status=" (value)} aria-current=[(status == *value).then_some("page")] { (label) }
            }
        }
        @if page.items.is_empty() { p.muted { "No alerts here." } }
        @else {
            table #alerts {
                thead { tr { th { "When" } th { "Severity" } th { "Alert" } th { "Status" } th { "Seen" } th {} } }
                tbody { @for a in &page.items { (row(a, &v.csrf, may_manage)) } }
            }
            (pager("/alerts", &[("status", status.clone())], page.page, page.per_page, page.total))
        }
        section.card aria-labelledby="rules-h" {
            h2 #rules-h { "Alert rules" }
            @if rules.is_empty() { p.muted { "No alert rules yet: nothing is sent." } }
            @else {
                table #alert-rules {
                    thead { tr { th { "Name" } th { "Watches for" } th { "Parameters" } th { "Quiet period" } th {} } }
                    tbody { @for r in &rules { tr {
                        td { (r.name) @if !r.enabled { " " (badge("disabled")) } }
                        td { (describe(r.kind)) }
                        td.mono { (r.params.to_string()) }
                        td { (r.quiet_secs) " s" }
                        td { @if may_manage {
                            form method="post" action={"/alerts/rules/" (r.id) "/delete"} data-confirm={"Delete the alert rule " (r.name) "?"} {
                                (csrf_field(&v.csrf))
                                button.secondary type="submit" aria-label={"Delete alert rule " (r.name)} { "Delete" }
                            }
                        } }
                    } } }
                }
            }
            @if may_manage {
                form #new-alert-rule method="post" action="/alerts/rules" {
                    (csrf_field(&v.csrf))
                    label { "Name" input name="name" required; }
                    label { "Watch for" select name="kind" { @for k in AlertKind::ALL { option value=(k.as_str()) { (describe(*k)) } } } }
                    label { "Minimum severity (new failures)" select name="min_severity" { @for s in ["medium", "high", "critical", "low"] { option value=(s) { (s) } } } }
                    label { "Framework (compliance)" select name="framework" { option value="" { "—" } @for f in &frameworks { option value=(f) { (f) } } } }
                    label { "Group (compliance; none: the fleet)" select name="group" { option value="" { "the fleet" } @for g in &groups { option value=(g.name) { (g.name) } } } }
                    label { "Threshold % (compliance)" input type="number" name="threshold" min="0" max="100" step="0.1"; }
                    label { "Scans in a row (unreachable)" input type="number" name="attempts" min="1" max="100" placeholder="3"; }
                    label { "Days ahead (exceptions)" input type="number" name="days" min="1" max="365" placeholder="14"; }
                    label { "Quiet period (seconds)" input type="number" name="quiet_secs" min="0" value="3600"; }
                    button type="submit" { "Add the rule" }
                }
            }
        }
    };
    let flash = super::flash_message(&v.csrf, q.flash, q.error, q.sig.as_deref());
    render(
        &Page { caller: &v.caller, csrf: &v.csrf, title: "Alerts", section: "Alerts", live: true, flash },
        body,
    )
}

fn row(a: &Alert, csrf: &str, may_manage: bool) -> Markup {
    html! {
        tr #{"alert-" (a.id)} {
            td.muted { (when(Some(a.first_at))) }
            td { span class={"badge sev-" (a.severity)} { (a.severity) } }
            td { details { summary { (a.subject) } pre { (a.body) } } }
            td {
                (badge(a.status.as_str()))
                @if let Some(by) = &a.acked_by { br; span.muted { "by " (by) " " (when(a.acked_at)) } }
                @if let Some(by) = &a.resolved_by { br; span.muted { "by " (by) " " (when(a.resolved_at)) } }
            }
            td { (a.occurrences) "×" br; span.muted { "last " (when(Some(a.last_at))) } }
            td { @if may_manage {
                @if a.status == AlertStatus::Open {
                    form method="post" action={"/alerts/" (a.id) "/acknowledge"} {
                        (csrf_field(csrf))
                        button.secondary type="submit" aria-label={"Acknowledge alert " (a.id)} { "Acknowledge" }
                    }
                }
                @if a.status != AlertStatus::Resolved {
                    form method="post" action={"/alerts/" (a.id) "/resolve"} {
                        (csrf_field(csrf))
                        button.secondary type="submit" aria-label={"Resolve alert " (a.id)} { "Resolve" }
                    }
                }
            } }
        }
    }
}

pub async fn acknowledge(
    State(state): State<AppState>,
    v: Viewer<AlertsManage>,
    Path(id): Path<i64>,
) -> Response {
    match alerts::acknowledge(&state, &v.grant, id).await {
        Ok(d) => super::after_post(&v.csrf, "/alerts", &format!("Alert #{id} acknowledged"), Ok(d.audit)),
        Err(e) => super::after_post(&v.csrf, "/alerts", &e.to_string(), Err(&e)),
    }
}

pub async fn resolve(
    State(state): State<AppState>,
    v: Viewer<AlertsManage>,
    Path(id): Path<i64>,
) -> Response {
    match alerts::resolve(&state, &v.grant, id).await {
        Ok(d) => super::after_post(&v.csrf, "/alerts", &format!("Alert #{id} resolved"), Ok(d.audit)),
        Err(e) => super::after_post(&v.csrf, "/alerts", &e.to_string(), Err(&e)),
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct RuleForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    min_severity: String,
    #[serde(default)]
    framework: String,
    #[serde(default)]
    group: String,
    #[serde(default)]
    threshold: String,
    #[serde(default)]
    attempts: String,
    #[serde(default)]
    days: String,
    #[serde(default)]
    quiet_secs: String,
}

pub async fn create_rule(
    State(state): State<AppState>,
    v: Viewer<AlertsManage>,
    Form(f): Form<RuleForm>,
) -> Response {
    // The fields the kind does not use are left out; the service checks the rest.
    let mut params = Map::new();
    for (k, val) in [
        ("min_severity", &f.min_severity),
        ("framework", &f.framework),
        ("group", &f.group),
        ("threshold", &f.threshold),
        ("attempts", &f.attempts),
        ("days", &f.days),
    ] {
        if !val.trim().is_empty() {
            params.insert(k.to_owned(), Value::String(val.trim().to_owned()));
        }
    }
    let quiet_secs = match f.quiet_secs.trim() {
        "" => None,
        q => match q.parse() {
            Ok(n) => Some(n),
            Err(_) => {
                return super::after_post(
                    &v.csrf,
                    "/alerts",
                    "quiet period: a whole number of seconds",
                    Err(&crate::service::ServiceError::invalid("quiet_secs", "a whole number of seconds")),
                );
            }
        },
    };
    let r = RuleInput {
        name: f.name,
        kind: f.kind,
        params: Value::Object(params),
        quiet_secs,
        enabled: Some(true),
    };
    match alerts::create_rule(&state, &v.grant, r).await {
        Ok(d) => {
            super::after_post(&v.csrf, "/alerts", &format!("Alert rule {} added", d.value.name), Ok(d.audit))
        }
        Err(e) => super::after_post(&v.csrf, "/alerts", &e.to_string(), Err(&e)),
    }
}

pub async fn delete_rule(
    State(state): State<AppState>,
    v: Viewer<AlertsManage>,
    Path(id): Path<i64>,
) -> Response {
    match alerts::delete_rule(&state, &v.grant, id).await {
        Ok(d) => super::after_post(&v.csrf, "/alerts", "Alert rule deleted", Ok(d.audit)),
        Err(e) => super::after_post(&v.csrf, "/alerts", &e.to_string(), Err(&e)),
    }
}
