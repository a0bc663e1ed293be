//! Exceptions in the browser: the list (the approval queue is a filter) with Approve, Reject
//! and Revoke, and the "Accept the risk" form on a host's failing rule. Adapters over
//! `service::exceptions`, like the API.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use maud::{Markup, html};
use openwatch_core::exceptions::Date;
use openwatch_store::{ExceptionStatus, Group};
use serde::Deserialize;

use super::guard::{ExceptionsApprove, ExceptionsRead, ExceptionsRequest, Viewer};
use super::layout::{Page, badge, csrf_field, pager, render, when};
use crate::app::AppState;
use crate::auth::rbac::Permission;
use crate::service::exceptions::{self, Decision, ListFilter, NewRequest, Shown};

#[derive(Debug, Deserialize, Default)]
pub struct ListQuery {
    status: Option<String>,
    host_id: Option<i64>,
    page: Option<i64>,
    flash: Option<String>,
    sig: Option<String>,
    error: Option<String>,
}

/// The statuses offered as filters, the approval queue first.
const FILTERS: &[(&str, &str)] = &[
    ("requested", "Awaiting approval"),
    ("approved", "Approved"),
    ("rejected", "Rejected"),
    ("revoked", "Revoked"),
    ("", "All"),
];

pub async fn list(
    State(state): State<AppState>,
    v: Viewer<ExceptionsRead>,
    Query(q): Query<ListQuery>,
) -> Response {
    let filter = ListFilter {
        status: q.status.clone(),
        rule_id: None,
        host_id: q.host_id,
        page: q.page,
        per_page: Some(50),
    };
    let page = match exceptions::list(&state, &v.grant, &filter).await {
        Ok(p) => p,
        Err(e) => return super::page_error(&v.caller, &e),
    };
    let current = q.status.clone().unwrap_or_default();
    let mut query = vec![("status", current.clone())];
    if let Some(h) = q.host_id {
        query.push(("host_id", h.to_string()));
    }
    let may_decide = v.caller.can(Permission::ExceptionsApprove);
    let body = html! {
        h1 { "Exceptions" }
        p.muted {
            "An exception accepts a rule's failure on a host, a group or every host until a day. "
            "Someone other than the requester holding exceptions:approve decides it; once approved, "
            "the failure is reported as excepted from the host's next scan (queued at once) until "
            "its last day. Ask for one from a failing rule on a host's page."
        }
        nav.tabs aria-label="Status" {
            @for (value, label) in FILTERS {
                a href={"/exceptions?status=" (value) (q.host_id.map(|h| format!("&host_id={h}")).unwrap_or_default())}
                    aria-current=[(current == *value).then_some("page")] { (label) }
            }
        }
        @if page.items.is_empty() { p.muted { "No exceptions here." } }
        @else {
            table #exceptions {
                thead { tr { th { "#" } th { "Rule" } th { "Where" } th { "Justification" } th { "Until" } th { "Status" } th { "Requested" } th { "Decided" } th {} } }
                tbody { @for e in &page.items { (row(e, &v.csrf, may_decide)) } }
            }
            (pager("/exceptions", &query, page.page, page.per_page, page.total))
        }
    };
    let flash = super::flash_message(&v.csrf, q.flash, q.error, q.sig.as_deref());
    render(
        &Page {
            caller: &v.caller,
            csrf: &v.csrf,
            title: "Exceptions",
            section: "Exceptions",
            live: true,
            flash,
        },
        body,
    )
}

fn row(s: &Shown, csrf: &str, may_decide: bool) -> Markup {
    let e = &s.exception;
    html! {
        tr #{"exception-" (e.id)} {
            td { "#" (e.id) }
            td { a.mono href={"/rules/" (super::form::urlencode(&e.rule_id))} { (e.rule_id) } }
            td {
                @match (e.host_id, &e.host_name, e.group_id, &e.group_name) {
                    (Some(h), Some(n), _, _) => { "host " a href={"/hosts/" (h)} { (n) } },
                    (_, _, Some(_), Some(g)) => { "group " (g) },
                    _ => "every host",
                }
            }
            td { (e.justification) @if let Some(n) = e.decision_note.as_deref().filter(|n| !n.is_empty()) { br; span.muted { "Decision: " (n) } } }
            td { (e.expires_on) }
            td {
                @if s.expired { (badge("expired")) }
                @else if s.in_force { (badge("in_force")) }
                @else { (badge(e.status.as_str())) }
            }
            td { (e.requested_by) " · " span.muted { (when(Some(e.requested_at))) } }
            td {
                @if let Some(by) = &e.decided_by { (by) " · " span.muted { (when(e.decided_at)) } }
                @if let Some(by) = &e.revoked_by { br; "revoked by " (by) " · " span.muted { (when(e.revoked_at)) } }
            }
            td {
                @if may_decide && e.status == ExceptionStatus::Requested {
                    form method="post" action={"/exceptions/" (e.id) "/approve"} {
                        (csrf_field(csrf))
                        input type="text" name="note" placeholder="note (optional)" aria-label={"Note for approving exception " (e.id)};
                        button type="submit" aria-label={"Approve exception " (e.id)} { "Approve" }
                    }
                    form method="post" action={"/exceptions/" (e.id) "/reject"} {
                        (csrf_field(csrf))
                        input type="text" name="note" placeholder="why (required)" aria-label={"Why exception " (e.id) " is rejected"};
                        button.secondary type="submit" aria-label={"Reject exception " (e.id)} { "Reject" }
                    }
                }
                @if may_decide && e.status == ExceptionStatus::Approved {
                    form method="post" action={"/exceptions/" (e.id) "/revoke"}
                        data-confirm={"Revoke exception #" (e.id) "? The failures it accepts are reported again from the next scan (queued now)."} {
                        (csrf_field(csrf))
                        button.secondary type="submit" aria-label={"Revoke exception " (e.id)} { "Revoke" }
                    }
                }
            }
        }
    }
}

/// The "Accept the risk" form on a host's failing rule: this host, one of its groups, or
/// every host; a justification; the last day (a default of 90 days, at most the server's
/// maximum).
pub fn request_form(csrf: &str, host_id: i64, rule_id: &str, groups: &[Group], max_days: u32) -> Markup {
    let today = exceptions::today();
    let default = Date::from_unix_days(today.unix_days() + i64::from(max_days.min(90)));
    let latest = Date::from_unix_days(today.unix_days() + i64::from(max_days));
    html! {
        details.exception-request {
            summary { "Accept the risk…" }
            form method="post" action="/exceptions" {
                (csrf_field(csrf))
                input type="hidden" name="rule_id" value=(rule_id);
                input type="hidden" name="back" value={"/hosts/" (host_id)};
                label { "Where"
                    select name="scope" {
                        option value={"host:" (host_id)} { "this host" }
                        @for g in groups { option value={"group:" (g.id)} { "every host in group " (g.name) } }
                        option value="fleet" { "every host" }
                    }
                }
                label { "Why this failure is accepted" textarea name="justification" required rows="2" {} }
                label { "Last day" input type="date" name="expires" value=(default.to_string()) min=(today.to_string()) max=(latest.to_string()) required; }
                button type="submit" aria-label={"Ask for an exception for " (rule_id)} { "Ask for an exception" }
                span.muted { " Someone else approves it; until then the failure stays." }
            }
        }
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct RequestForm {
    #[serde(default)]
    rule_id: String,
    /// `host:ID`, `group:ID` or `fleet`.
    #[serde(default)]
    scope: String,
    #[serde(default)]
    justification: String,
    #[serde(default)]
    expires: String,
    #[serde(default)]
    back: String,
}

pub async fn create(
    State(state): State<AppState>,
    v: Viewer<ExceptionsRequest>,
    Form(f): Form<RequestForm>,
) -> Response {
    let (host_id, group_id) = match f.scope.split_once(':') {
        Some(("host", id)) => (id.parse().ok(), None),
        Some(("group", id)) => (None, id.parse().ok()),
        _ => (None, None),
    };
    let req = NewRequest {
        rule_id: f.rule_id.clone(),
        host_id,
        group_id,
        justification: f.justification,
        expires: f.expires,
    };
    let back =
        if f.back.starts_with('/') && !f.back.starts_with("//") { f.back.as_str() } else { "/exceptions" };
    match exceptions::request(&state, &v.grant, req).await {
        Ok(d) => {
            let msg = format!(
                "Exception #{} for {} requested: it applies once someone else approves it",
                d.value.id, d.value.rule_id
            );
            super::after_post(&v.csrf, "/exceptions?status=requested", &msg, Ok(d.audit))
        }
        Err(e) => super::after_post(&v.csrf, back, &e.to_string(), Err(&e)),
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct DecisionForm {
    #[serde(default)]
    note: String,
}

/// What a decision form does.
#[derive(Debug, Clone, Copy)]
enum Act {
    Approve,
    Reject,
    Revoke,
}

async fn decide(
    state: &AppState,
    v: &Viewer<ExceptionsApprove>,
    id: i64,
    act: Act,
    f: DecisionForm,
) -> Response {
    let d = Decision { note: f.note };
    let done = match act {
        Act::Approve => exceptions::decide(state, &v.grant, id, true, d).await,
        Act::Reject => exceptions::decide(state, &v.grant, id, false, d).await,
        Act::Revoke => exceptions::revoke(state, &v.grant, id, d).await,
    };
    match done {
        Ok(d) => {
            let scans = d.value.scans_queued;
            let msg = match act {
                Act::Approve => format!("Exception #{id} approved; {scans} host scan(s) queued to show it"),
                Act::Reject => format!("Exception #{id} rejected"),
                Act::Revoke => format!(
                    "Exception #{id} revoked; {scans} host scan(s) queued to report the failures again"
                ),
            };
            super::after_post(&v.csrf, "/exceptions", &msg, Ok(d.audit))
        }
        Err(e) => super::after_post(&v.csrf, "/exceptions", &e.to_string(), Err(&e)),
    }
}

pub async fn approve(
    State(state): State<AppState>,
    v: Viewer<ExceptionsApprove>,
    Path(id): Path<i64>,
    Form(f): Form<DecisionForm>,
) -> Response {
    decide(&state, &v, id, Act::Approve, f).await
}

pub async fn reject(
    State(state): State<AppState>,
    v: Viewer<ExceptionsApprove>,
    Path(id): Path<i64>,
    Form(f): Form<DecisionForm>,
) -> Response {
    decide(&state, &v, id, Act::Reject, f).await
}

pub async fn revoke(
    State(state): State<AppState>,
    v: Viewer<ExceptionsApprove>,
    Path(id): Path<i64>,
    Form(f): Form<DecisionForm>,
) -> Response {
    decide(&state, &v, id, Act::Revoke, f).await
}
