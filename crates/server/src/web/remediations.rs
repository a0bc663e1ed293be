//! Fixes in the browser: the list of remediation requests (with the approval queue as a
//! filter), one request's preview (diffs, actions, risk) with Approve and Reject, its runs and
//! transactions with Roll back, and the Fix buttons' target. Adapters over
//! `service::remediation`, like the API.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use maud::{Markup, html};
use openwatch_store::{
    FixTransaction, Remediation, RemediationHost, RemediationStatus, RollbackStatus, TxnOutcome,
};
use serde::Deserialize;
use serde_json::Value;

use super::guard::{RemediationsApprove, RemediationsRead, RemediationsRequest, Viewer};
use super::layout::{Page, badge, csrf_field, pager, plural, render, when};
use crate::app::AppState;
use crate::auth::rbac::Permission;
use crate::service::ServiceError;
use crate::service::remediation::{self, Decision, ListFilter, NewRequest};

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
    ("awaiting_approval", "Awaiting approval"),
    ("previewing", "Previewing"),
    ("applying", "Applying"),
    ("done", "Done"),
    ("rejected", "Rejected"),
    ("", "All"),
];

pub async fn list(
    State(state): State<AppState>,
    v: Viewer<RemediationsRead>,
    Query(q): Query<ListQuery>,
) -> Response {
    let filter =
        ListFilter { status: q.status.clone(), host_id: q.host_id, page: q.page, per_page: Some(50) };
    let page = match remediation::list(&state, &v.grant, &filter).await {
        Ok(p) => p,
        Err(e) => return super::page_error(&v.caller, &e),
    };
    let current = q.status.clone().unwrap_or_default();
    let mut query = vec![("status", current.clone())];
    if let Some(h) = q.host_id {
        query.push(("host_id", h.to_string()));
    }
    let body = html! {
        h1 { "Fixes" }
        p.muted {
            "A fix request is previewed on each host first (nothing changes); medium and high risk "
            "fixes then wait for someone else holding remediations:approve. Ask for fixes from a "
            "failing rule on a host's page or a rule's page."
        }
        nav.tabs aria-label="Status" {
            @for (value, label) in FILTERS {
                a href={"/remediations?status=" (value) (q.host_id.map(|h| format!("&host_id={h}")).unwrap_or_default())}
                    aria-current=[(current == *value).then_some("page")] { (label) }
            }
        }
        @if page.items.is_empty() { p.muted { "No fix requests here." } }
        @else {
            table #remediations {
                thead { tr { th { "#" } th { "Status" } th { "Risk" } th { "Rules" } th { "Hosts" } th { "Requested" } th { "Decided" } } }
                tbody { @for r in &page.items { tr {
                    td { a href={"/remediations/" (r.id)} { "#" (r.id) } }
                    td { (status_badge(r.status)) }
                    td { (risk(r)) }
                    td.mono { (rules_text(&r.rule_ids)) }
                    td { (r.hosts) }
                    td { (r.requested_by) " · " span.muted { (when(Some(r.requested_at))) } }
                    td { @if let Some(by) = &r.decided_by { (by) " · " span.muted { (when(r.decided_at)) } } }
                } } }
            }
            (pager("/remediations", &query, page.page, page.per_page, page.total))
        }
    };
    let flash = super::flash_message(&v.csrf, q.flash, q.error, q.sig.as_deref());
    render(
        &Page { caller: &v.caller, csrf: &v.csrf, title: "Fixes", section: "Fixes", live: true, flash },
        body,
    )
}

fn status_badge(s: RemediationStatus) -> Markup {
    badge(s.as_str())
}

fn risk(r: &Remediation) -> Markup {
    match r.risk {
        Some(k) => html! { span class={"badge risk-" (k.as_str())} { (k.as_str()) } },
        None => html! { span.muted { "—" } },
    }
}

fn rules_text(ids: &[String]) -> String {
    match ids {
        [one] => one.clone(),
        [first, rest @ ..] => format!("{first} and {}", plural(rest.len() as i64, "more", "more")),
        [] => String::new(),
    }
}

/// The Fix buttons' form: one host (or every failing host) and one rule.
#[derive(Debug, Deserialize, Default)]
pub struct FixForm {
    #[serde(default)]
    host_id: Option<i64>,
    #[serde(default)]
    rule_id: String,
    #[serde(default)]
    failing_hosts: Option<String>,
    #[serde(default)]
    note: String,
    /// Where to go back to when the request is refused.
    #[serde(default)]
    back: String,
}

pub async fn create(
    State(state): State<AppState>,
    v: Viewer<RemediationsRequest>,
    Form(f): Form<FixForm>,
) -> Response {
    let req = NewRequest {
        host_ids: f.host_id.into_iter().collect(),
        rule_ids: vec![f.rule_id.clone()],
        failing_hosts: f.failing_hosts.is_some(),
        note: f.note.clone(),
    };
    match remediation::request(&state, &v.grant, req).await {
        Ok(d) => {
            let to = format!("/remediations/{}", d.value.id);
            let msg = format!(
                "Fix request #{} created: previewing on {}; nothing changes until it is approved",
                d.value.id,
                plural(d.value.hosts, "host", "hosts")
            );
            super::after_post(&v.csrf, &to, &msg, Ok(d.audit))
        }
        Err(e) => {
            // Back where the button was, only to a page of ours.
            let back = if f.back.starts_with('/') && !f.back.starts_with("//") {
                f.back.as_str()
            } else {
                "/remediations"
            };
            super::after_post(&v.csrf, back, &e.to_string(), Err(&e))
        }
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct DetailQuery {
    flash: Option<String>,
    sig: Option<String>,
    error: Option<String>,
}

pub async fn detail(
    State(state): State<AppState>,
    v: Viewer<RemediationsRead>,
    Path(id): Path<i64>,
    Query(q): Query<DetailQuery>,
) -> Response {
    let d = match remediation::get(&state, &v.grant, id).await {
        Ok(d) => d,
        Err(e) => return super::page_error(&v.caller, &e),
    };
    let r = &d.remediation;
    let may_decide = v.caller.can(Permission::RemediationsApprove) && r.requested_by != v.caller.username;
    let may_roll_back = v.caller.can(Permission::RemediationsRequest);
    let body = html! {
        h1 { "Fix request #" (r.id) " " (status_badge(r.status)) }
        p {
            "Rules: " span.mono { (r.rule_ids.join(", ")) } br;
            "Requested by " strong { (r.requested_by) } " " (when(Some(r.requested_at)))
            @if !r.note.is_empty() { " — " em { (r.note) } }
            br;
            "Risk: " (risk(r)) " · " (plural(r.planned, "change planned", "changes planned")) " on " (plural(r.hosts, "host", "hosts"))
            @if let Some(by) = &r.decided_by {
                br;
                (if r.status == RemediationStatus::Rejected { "Rejected" } else { "Approved" }) " by " strong { (by) } " " (when(r.decided_at))
                @if let Some(n) = r.decision_note.as_ref().filter(|n| !n.is_empty()) { " — " em { (n) } }
            }
        }
        (explain(r))
        @if r.status == RemediationStatus::AwaitingApproval {
            @if may_decide {
                section.card #decide aria-labelledby="decide-h" {
                    h2 #decide-h { "Decide" }
                    p { "Read every change below first. Approving runs them on the hosts: each fix is applied, the rule scanned again, and the change kept only if the rule then passes." }
                    form method="post" action={"/remediations/" (r.id) "/approve"} {
                        (csrf_field(&v.csrf))
                        label { "Note (optional)" input name="note" #approve-note; }
                        button type="submit" #approve { "Approve and run" }
                    }
                    form method="post" action={"/remediations/" (r.id) "/reject"} {
                        (csrf_field(&v.csrf))
                        label { "Why reject (required)" input name="note" #reject-note; }
                        button.secondary type="submit" #reject { "Reject" }
                    }
                }
            } @else if r.requested_by == v.caller.username {
                p.muted #decide { "You asked for these fixes, so someone else holding remediations:approve must decide." }
            } @else {
                p.muted #decide { "Waiting for someone holding remediations:approve." }
            }
        }
        @for h in &d.host_results { (host_section(h)) }
        section.card aria-labelledby="txn-h" {
            h2 #txn-h { "Transactions" }
            @if d.transactions.is_empty() { p.muted { "None yet: transactions are opened when an approved fix runs." } }
            @else { (transactions(&d.transactions, &v.csrf, may_roll_back)) }
        }
    };
    let flash = super::flash_message(&v.csrf, q.flash, q.error, q.sig.as_deref());
    let title = format!("Fix request #{}", r.id);
    render(
        &Page { caller: &v.caller, csrf: &v.csrf, title: &title, section: "Fixes", live: true, flash },
        body,
    )
}

/// What the request's status means for the reader.
fn explain(r: &Remediation) -> Markup {
    let text = match r.status {
        RemediationStatus::Previewing => {
            "Each host is working out what would change (a dry run: nothing is changed yet)."
        }
        RemediationStatus::AwaitingApproval => "The preview is complete. Nothing has changed on any host.",
        RemediationStatus::Applying => "Approved: the fixes are being applied and verified host by host.",
        RemediationStatus::Done if r.decided_at.is_none() => {
            "Nothing to fix: no previewed change would alter a host."
        }
        RemediationStatus::Done => "Finished. Each kept change can be rolled back below.",
        RemediationStatus::Rejected => "Rejected: nothing was changed.",
    };
    html! { p.explain { (text) } }
}

fn host_section(h: &RemediationHost) -> Markup {
    let shown = h.result.as_ref().or(h.preview.as_ref());
    html! {
        section.card.fix-host aria-label={"Host " (h.host_name)} {
            h2 { a href={"/hosts/" (h.host_id)} { (h.host_name) } " " (badge(h.phase.as_str())) }
            @if let Some(e) = &h.error { div.flash.error role="alert" { (e) } }
            @if let Some(report) = shown {
                @for rec in report["recovered"].as_array().into_iter().flatten() {
                    p.flash { "Found transaction " span.mono { (rec["transaction_id"].as_str().unwrap_or("")) } " left open by an earlier run: " (rec["result"].as_str().unwrap_or("")) }
                }
                @let rules = report["rules"].as_array().cloned().unwrap_or_default();
                @if rules.is_empty() { p.muted { "None of the rules fails here: nothing to fix." } }
                @for rule in &rules { (rule_fix(rule)) }
            }
        }
    }
}

/// One rule's planned (or applied) change: outcome, risk, diff, actions, manual steps.
fn rule_fix(r: &Value) -> Markup {
    let s = |k: &str| r[k].as_str().unwrap_or("").to_owned();
    let status = s("status");
    html! {
        div.rule-fix data-rule=(s("rule_id")) {
            h3 {
                a.mono href={"/rules/" (s("rule_id"))} { (s("rule_id")) } " "
                (badge(&status))
                @if !s("risk").is_empty() { " " span class={"badge risk-" (s("risk"))} { "risk " (s("risk")) } }
                @if r["deadman"] == true { " " span.badge.b-deadman title="Applied with an on-host timer that restores the pre-state unless a fresh SSH login confirms access" { "deadman" } }
            }
            @if !s("reason").is_empty() { p { (s("reason")) } }
            @if !s("message").is_empty() { p { (s("message")) } }
            @if !s("transaction_id").is_empty() { p.muted { "Transaction " span.mono { (s("transaction_id")) } } }
            @if !s("diff").is_empty() { pre.diff { (s("diff")) } }
            @let actions = r["actions"].as_array().cloned().unwrap_or_default();
            @if !actions.is_empty() { ul.actions { @for a in &actions { li { (a.as_str().unwrap_or("")) } } } }
            @let manual = r["manual"].as_array().cloned().unwrap_or_default();
            @if !manual.is_empty() {
                p { strong { "By hand (never run by OpenWatch):" } }
                ul { @for m in &manual { li { (m.as_str().unwrap_or("")) } } }
            }
            @if r["reboot_required"] == true { p.muted { "Takes full effect after a reboot." } }
        }
    }
}

fn transactions(list: &[FixTransaction], csrf: &str, may_roll_back: bool) -> Markup {
    html! {
        table #transactions {
            thead { tr { th { "Transaction" } th { "Host" } th { "Rule" } th { "Outcome" } th { "Rollback" } th {} } }
            tbody { @for t in list { tr {
                td.mono { (t.id) }
                td { a href={"/hosts/" (t.host_id)} { (t.host_name) } }
                td.mono { (t.rule_id) }
                td { (badge(t.outcome.as_str())) @if let Some(m) = &t.message { br; span.muted { (m) } } }
                td {
                    @if let Some(s) = t.rollback_status {
                        (badge(s.as_str())) " " span.muted { (t.rollback_by.clone().unwrap_or_default()) " " (when(t.rollback_at)) }
                        @if let Some(m) = &t.rollback_message { br; span.rollback-message { (m) } }
                    }
                }
                td {
                    @if may_roll_back && t.outcome == TxnOutcome::Fixed
                        && t.rollback_status.is_none_or(|s| s == RollbackStatus::Failed) {
                        form method="post" action={"/transactions/" (t.id) "/rollback"}
                            data-confirm={"Roll back " (t.rule_id) " on " (t.host_name) "? The files and state it changed are restored as they were before the fix."} {
                            (csrf_field(csrf))
                            button.secondary type="submit" aria-label={"Roll back " (t.id)} { "Roll back" }
                        }
                    }
                }
            } } }
        }
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct DecisionForm {
    #[serde(default)]
    note: String,
}

async fn decide(
    state: &AppState,
    v: &Viewer<RemediationsApprove>,
    id: i64,
    approve: bool,
    f: DecisionForm,
) -> Response {
    let to = format!("/remediations/{id}");
    match remediation::decide(state, &v.grant, id, approve, Decision { note: f.note }).await {
        Ok(d) => {
            let msg = if approve {
                format!("Fix request #{id} approved: the fixes run now")
            } else {
                format!("Fix request #{id} rejected")
            };
            super::after_post(&v.csrf, &to, &msg, Ok(d.audit))
        }
        Err(e) => super::after_post(&v.csrf, &to, &e.to_string(), Err(&e)),
    }
}

pub async fn approve(
    State(state): State<AppState>,
    v: Viewer<RemediationsApprove>,
    Path(id): Path<i64>,
    Form(f): Form<DecisionForm>,
) -> Response {
    decide(&state, &v, id, true, f).await
}

pub async fn reject(
    State(state): State<AppState>,
    v: Viewer<RemediationsApprove>,
    Path(id): Path<i64>,
    Form(f): Form<DecisionForm>,
) -> Response {
    decide(&state, &v, id, false, f).await
}

pub async fn rollback(
    State(state): State<AppState>,
    v: Viewer<RemediationsRequest>,
    Path(id): Path<String>,
) -> Response {
    match remediation::rollback(&state, &v.grant, &id).await {
        Ok(d) => {
            let to = format!("/remediations/{}", d.value.remediation_id);
            let msg = format!("Rollback of {} on {} queued", d.value.rule_id, d.value.host_name);
            super::after_post(&v.csrf, &to, &msg, Ok(d.audit))
        }
        Err(e) => {
            let to = match &e {
                ServiceError::NotFound(_) => "/remediations".to_owned(),
                _ => match state.store().fix_transaction(&id).await {
                    Ok(Some(t)) => format!("/remediations/{}", t.remediation_id),
                    _ => "/remediations".to_owned(),
                },
            };
            super::after_post(&v.csrf, &to, &e.to_string(), Err(&e))
        }
    }
}
