//! Hosts: the list (search, filters, sorting, pages), adding one, and the host page
//! (compliance by framework, the rule table with evidence, scans, changes, host keys).

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use openwatch_store::{HostQuery, PageRequest, ScanQuery};
use serde::Deserialize;
use serde_json::Value;

use super::guard::{HostsRead, HostsScan, HostsWrite, KeysApprove, Viewer};
use super::layout::{self, Page, badge, csrf_field, pager, render, svg, verdict, when};
use super::svg::donut;
use crate::app::AppState;
use crate::auth::rbac::Permission;
use crate::service::exports::{self, Format};
use crate::service::hosts::{self, HostBody};
use crate::service::scans::{self, BatchScan, Initiator, ResultFilter, result_query};
use crate::service::{AuditNote, Done, ServiceError, import};

fn db_error(v: &Viewer<impl super::guard::Need>, e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "web page");
    layout::error_page(
        &v.caller,
        &v.csrf,
        StatusCode::INTERNAL_SERVER_ERROR,
        "The database could not be read.",
    )
}

#[derive(Debug, Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    group: String,
    #[serde(default)]
    platform: String,
    #[serde(default)]
    reachability: String,
    #[serde(default)]
    band: String,
    #[serde(default)]
    sort: String,
    page: Option<i64>,
    flash: Option<String>,
    error: Option<String>,
}

const REACHABILITY: &[&str] =
    &["reachable", "unreachable", "host_key_pending", "host_key_changed", "auth_failed", "unknown"];
const BANDS: &[(&str, &str)] = &[
    ("critical", "critical failures"),
    ("high", "worst: high"),
    ("medium", "worst: medium"),
    ("low", "worst: low"),
    ("compliant", "nothing failing"),
    ("unscanned", "not scanned"),
];
const SORTS: &[(&str, &str)] = &[
    ("name", "Name"),
    ("-failures", "Most failures"),
    ("-last_scan_at", "Recently scanned"),
    ("last_scan_at", "Least recently scanned"),
];

pub async fn list(
    State(state): State<AppState>,
    v: Viewer<HostsRead>,
    Query(q): Query<ListQuery>,
) -> Response {
    let store = state.store();
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    let query = HostQuery {
        search: opt(&q.q),
        group: opt(&q.group),
        platform: opt(&q.platform),
        tag: None,
        reachability: opt(&q.reachability),
        band: opt(&q.band),
        sort: opt(&q.sort),
    };
    let page = PageRequest::new(q.page.map(|p| p.min(crate::service::MAX_PAGE)), Some(50));
    let (hosts, groups) = match (store.list_hosts(&query, page).await, store.list_groups().await) {
        (Ok(h), Ok(g)) => (h, g),
        (Err(e), _) | (_, Err(e)) => return db_error(&v, e),
    };
    let can_scan = v.caller.can(Permission::HostsScan);
    let body = html! {
        h1 { "Hosts" }
        div.actions {
            @if v.caller.can(Permission::HostsWrite) {
                a.button href="/hosts/new" { "Add host" }
                a.button.secondary href="/hosts/import" { "Import CSV" }
            }
            @if can_scan && !groups.is_empty() {
                form method="post" action="/groups/scan" class="filters" {
                    (csrf_field(&v.csrf))
                    label { "Group" select name="group_id" { @for g in &groups { option value=(g.id) { (g.name) " (" (g.host_count) ")" } } } }
                    button.secondary type="submit" { "Scan group now" }
                }
            }
        }
        form.filters method="get" action="/hosts" role="search" {
            label { "Search" input type="search" name="q" value=(q.q) placeholder="name or address"; }
            label { "Group" select name="group" { option value="" { "any" } @for g in &groups { option value=(g.name) selected[q.group == g.name] { (g.name) } } } }
            label { "Platform" input name="platform" value=(q.platform) placeholder="e.g. debian"; }
            label { "Reachability" select name="reachability" { option value="" { "any" } @for r in REACHABILITY { option value=(r) selected[q.reachability == *r] { (r.replace('_', " ")) } } } }
            label { "Compliance" select name="band" { option value="" { "any" } @for (k, l) in BANDS { option value=(k) selected[q.band == *k] { (l) } } } }
            label { "Sort" select name="sort" { @for (k, l) in SORTS { option value=(k) selected[q.sort == *k] { (l) } } } }
            button type="submit" { "Apply" }
        }
        @if can_scan {
            form #bulk method="post" action="/hosts/scan" {
                (csrf_field(&v.csrf))
                button.secondary type="submit" { "Scan selected" }
            }
        }
        table {
            thead { tr { @if can_scan { th { "Select" } } th { "Host" } th { "Address" } th { "Platform" } th { "Groups" } th { "Reachability" } th { "Last scan" } } }
            tbody {
                @for h in &hosts.items {
                    tr {
                        @if can_scan { td { input type="checkbox" name="host_id" value=(h.id) form="bulk" aria-label={"Select " (h.name)}; } }
                        td { a href={"/hosts/" (h.id)} { (h.name) } }
                        td.mono { (h.address) }
                        td { (h.platform.as_deref().unwrap_or("—")) }
                        td { (h.groups.join(", ")) }
                        td { (badge(&h.reachability)) }
                        td { (when(h.last_scan_at)) " " @if let Some(s) = &h.last_scan_status { (badge(s)) } }
                    }
                }
            }
        }
        (pager("/hosts", &[("q", q.q.clone()), ("group", q.group.clone()), ("platform", q.platform.clone()),
            ("reachability", q.reachability.clone()),
                ("band", q.band.clone()), ("sort", q.sort.clone())], hosts.page, hosts.per_page, hosts.total))
    };
    let flash = q.error.map(|e| (true, e)).or(q.flash.map(|m| (false, m)));
    render(
        &Page { caller: &v.caller, csrf: &v.csrf, title: "Hosts", section: "Hosts", live: true, flash },
        body,
    )
}

/// Where a host form posts and what it says.
struct FormTarget<'a> {
    action: &'a str,
    heading: &'a str,
    submit: &'a str,
}

const NEW_HOST: FormTarget<'static> =
    FormTarget { action: "/hosts", heading: "Add a host", submit: "Add host" };

fn host_form(
    v: &Viewer<HostsWrite>,
    creds: &[openwatch_store::Credential],
    error: Option<String>,
    f: &HostForm,
    t: &FormTarget<'_>,
) -> Response {
    let body = html! {
        h1 { (t.heading) }
        form method="post" action=(t.action) class="stack" {
            (csrf_field(&v.csrf))
            div.grid {
                label { "Name" input name="name" value=(f.name) required; }
                label { "Address (host name or IP)" input name="address" value=(f.address); }
                label { "SSH port" input name="port" type="number" min="1" max="65535" value=(f.port.as_deref().unwrap_or("22")); }
                label { "User (when the credential names none)" input name="username" value=(f.username); }
                label { "Credential" select name="credential_id" {
                    option value="" { "none" }
                    @for c in creds { option value=(c.id) selected[f.credential_id.as_deref() == Some(c.id.to_string().as_str())] { (c.name) " (" (c.kind) ")" } }
                } }
                label { "Groups (comma separated)" input name="groups" value=(f.groups); }
                label { "Host key policy" select name="host_key_policy" {
                    option value="approve" { "approve the first key by hand" }
                    option value="accept_new" selected[f.host_key_policy == "accept_new"] { "trust the first key seen" }
                } }
                label { "Transport" select name="transport" {
                    option value="ssh" { "SSH" }
                    option value="local" selected[f.transport == "local"] { "this machine (local)" }
                } }
            }
            label { span { input type="checkbox" name="sudo" value="1" checked[f.sudo.is_some()]; " become root with sudo" } }
            label { span { input type="checkbox" name="maintenance" value="1" checked[f.maintenance.is_some()]; " in maintenance (not scanned)" } }
            div.actions { button type="submit" { (t.submit) } a.button.secondary href="/hosts" { "Cancel" } }
        }
    };
    render(
        &Page {
            caller: &v.caller,
            csrf: &v.csrf,
            title: t.heading,
            section: "Hosts",
            live: false,
            flash: error.map(|e| (true, e)),
        },
        body,
    )
}

#[derive(Debug, Deserialize, Default)]
pub struct HostForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    address: String,
    port: Option<String>,
    #[serde(default)]
    username: String,
    credential_id: Option<String>,
    #[serde(default)]
    groups: String,
    #[serde(default)]
    host_key_policy: String,
    #[serde(default)]
    transport: String,
    sudo: Option<String>,
    maintenance: Option<String>,
}

impl HostForm {
    fn from_host(h: &openwatch_store::Host) -> HostForm {
        HostForm {
            name: h.name.clone(),
            address: h.address.clone(),
            port: Some(h.port.to_string()),
            username: h.username.clone(),
            credential_id: h.credential_id.map(|c| c.to_string()),
            groups: h.groups.join(", "),
            host_key_policy: h.host_key_policy.clone(),
            transport: h.transport.clone(),
            sudo: h.sudo.then(|| "1".into()),
            maintenance: h.maintenance.then(|| "1".into()),
        }
    }

    /// The form as the API's host body (validated by the same code).
    fn body(&self) -> Result<HostBody, String> {
        let port = match self.port.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
            Some(p) => Some(p.parse().map_err(|_| format!("port: `{p}` is not a number"))?),
            None => None,
        };
        Ok(HostBody {
            name: self.name.clone(),
            address: Some(self.address.clone()),
            port,
            username: Some(self.username.clone()),
            transport: Some(if self.transport.is_empty() { "ssh".into() } else { self.transport.clone() }),
            credential_id: self.credential_id.as_deref().and_then(|c| c.parse().ok()),
            sudo: self.sudo.is_some(),
            tags: vec![],
            groups: self.groups.split(',').map(str::to_owned).collect(),
            maintenance: self.maintenance.is_some(),
            host_key_policy: (!self.host_key_policy.is_empty()).then(|| self.host_key_policy.clone()),
        })
    }
}

pub async fn new_form(State(state): State<AppState>, v: Viewer<HostsWrite>) -> Response {
    match state.store().list_credentials().await {
        Ok(c) => host_form(&v, &c, None, &HostForm::default(), &NEW_HOST),
        Err(e) => db_error(&v, e),
    }
}

pub async fn create(
    State(state): State<AppState>,
    v: Viewer<HostsWrite>,
    Form(f): Form<HostForm>,
) -> Response {
    let result = match f.body() {
        Ok(b) => hosts::create(&state, &v.grant, b).await,
        Err(e) => Err(ServiceError::BadRequest(e)),
    };
    match result {
        Ok(d) => {
            let mut resp = Redirect::to(&format!("/hosts/{}?flash=Host+added", d.value.id)).into_response();
            resp.extensions_mut().insert(d.audit);
            resp
        }
        Err(e) => form_failed(&state, &v, e, &f, &NEW_HOST).await,
    }
}

/// Show the form again with what went wrong, marked as a failure for the audit event.
async fn form_failed(
    state: &AppState,
    v: &Viewer<HostsWrite>,
    e: ServiceError,
    f: &HostForm,
    t: &FormTarget<'_>,
) -> Response {
    let creds = state.store().list_credentials().await.unwrap_or_default();
    let mut resp = host_form(v, &creds, Some(e.to_string()), f, t);
    *resp.status_mut() = crate::http::error::classify(&e).status;
    resp.extensions_mut().insert(super::failure(&e));
    resp
}

pub async fn edit_form(
    State(state): State<AppState>,
    v: Viewer<HostsWrite>,
    Path(id): Path<i64>,
) -> Response {
    let (Ok(Some(host)), Ok(creds)) = (state.store().host(id).await, state.store().list_credentials().await)
    else {
        return layout::error_page(&v.caller, &v.csrf, StatusCode::NOT_FOUND, "No such host.");
    };
    let action = format!("/hosts/{id}/edit");
    let t = FormTarget { action: &action, heading: "Edit host", submit: "Save" };
    host_form(&v, &creds, None, &HostForm::from_host(&host), &t)
}

pub async fn update(
    State(state): State<AppState>,
    v: Viewer<HostsWrite>,
    Path(id): Path<i64>,
    Form(f): Form<HostForm>,
) -> Response {
    let action = format!("/hosts/{id}/edit");
    let t = FormTarget { action: &action, heading: "Edit host", submit: "Save" };
    let result = match f.body() {
        Ok(b) => hosts::update(&state, &v.grant, id, b).await,
        Err(e) => Err(ServiceError::BadRequest(e)),
    };
    match result {
        Ok(d) => super::after_post(&format!("/hosts/{id}"), "Host saved", Ok(d.audit)),
        Err(e) => form_failed(&state, &v, e, &f, &t).await,
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct DetailQuery {
    verdict: Option<String>,
    severity: Option<String>,
    framework: Option<String>,
    control: Option<String>,
    flash: Option<String>,
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
    let loaded = async {
        let state_rows = store.host_state(id, &filter).await?;
        let posture = store.host_posture(id).await?;
        let scans = store
            .list_scans(&ScanQuery { host_id: Some(id), status: None }, PageRequest::new(None, Some(10)))
            .await?;
        let changes = store.host_changes(Some(id), PageRequest::new(None, Some(15))).await?;
        let keys = store.host_keys(id).await?;
        let hashes: Vec<String> = state_rows.iter().filter_map(|r| r.evidence_hash.clone()).collect();
        let evidence = store.evidence_many(&hashes).await?;
        Ok::<_, openwatch_store::StoreError>((state_rows, posture, scans, changes, keys, evidence))
    };
    let (rows, posture, scans, changes, keys, evidence) = match loaded.await {
        Ok(x) => x,
        Err(e) => return db_error(&v, e),
    };
    let frameworks: Vec<&str> = state.library.frameworks().collect();
    let body = html! {
        h1 { (host.name) " " (badge(&host.reachability)) }
        dl.facts.card {
            dt { "Address" } dd.mono { (host.address) ":" (host.port) " (" (host.transport) ")" }
            dt { "Platform" } dd { (host.platform.as_deref().unwrap_or("not detected yet")) }
            @if let Some(sys) = scans.items.iter().find(|s| s.status == "succeeded").and_then(|s| s.summary.as_ref()).map(|x| &x["system"]) {
                @if let Some(name) = sys["platform"]["pretty_name"].as_str() { dt { "Operating system" } dd { (name) } }
                @if let Some(caps) = sys["capabilities"].as_array() {
                    dt { "Detected" } dd.mono { (caps.iter().filter_map(|c| c.as_str()).collect::<Vec<_>>().join(", ")) }
                }
            }
            dt { "Groups" } dd { (host.groups.join(", ")) }
            dt { "Last scan" } dd { (when(host.last_scan_at)) " " @if let Some(s) = &host.last_scan_status { (badge(s)) } }
            @if let Some(err) = &host.last_error { dt { "Last error" } dd.mono { (err) } }
        }
        div.actions {
            @if v.caller.can(Permission::HostsScan) {
                form method="post" action={"/hosts/" (id) "/scan"} { (csrf_field(&v.csrf)) button type="submit" { "Scan now" } }
            }
            @if v.caller.can(Permission::HostsWrite) && host.transport == "ssh" {
                form method="post" action={"/hosts/" (id) "/test"} { (csrf_field(&v.csrf)) button.secondary type="submit" { "Test connection" } }
            }
            @if v.caller.can(Permission::HostsWrite) { a.button.secondary href={"/hosts/" (id) "/edit"} { "Edit" } }
            a.button.secondary href={"/scans?host_id=" (id)} { "All scans" }
            a.button.secondary href={"/hosts/" (id) "/compliance.csv"} { "Export CSV" }
            a.button.secondary href={"/hosts/" (id) "/compliance.json"} { "Export JSON" }
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
                                td { (badge(if k.status == "pending" { "host_key_pending" } else if k.status == "approved" { "reachable" } else { "failed" })) " " (k.status) }
                                td { (when(Some(k.first_seen_at))) }
                                td {
                                    @if k.status == "pending" && v.caller.can(Permission::HostKeysApprove) {
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
                        (svg(donut(p.pass, p.fail, &p.framework)))
                        div { a href={"/hosts/" (id) "?framework=" (p.framework)} { (p.framework) } }
                        div.muted { (p.pass) " pass · " (p.fail) " fail" }
                    }
                }
            }
        }
        section.card aria-labelledby="rules-h" {
            h2 #rules-h { "Rules (" (rows.len()) ")" }
            form.filters method="get" action={"/hosts/" (id)} {
                label { "Verdict" select name="verdict" { option value="" { "any" } @for x in ["fail", "pass", "error", "not_applicable", "skipped"] { option value=(x) selected[q.verdict.as_deref() == Some(x)] { (x.replace('_', " ")) } } } }
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
                                    @if let Some(x) = rule { p { (x.raw.rationale.as_str()) } }
                                    @let ev: Value = r.evidence_hash.as_ref().and_then(|h| evidence.get(h)).and_then(|b| serde_json::from_str(b).ok()).unwrap_or(Value::Null);
                                    @for e in ev.as_array().into_iter().flatten() {
                                        dl.facts.evidence {
                                            dt { "Read" } dd.mono { (e["method"].as_str().unwrap_or("")) ": " (e["source"].as_str().unwrap_or("")) }
                                            dt { "Expected" } dd.mono { (e["expected"].as_str().unwrap_or("")) }
                                            dt { "Actual" } dd.mono { (e["actual"].as_str().unwrap_or("")) }
                                        }
                                        @if let Some(obs) = e["observed"].as_str().filter(|o| !o.is_empty()) { pre { (obs) } }
                                    }
                                    @if ev.is_null() { p.muted { "No evidence recorded." } }
                                }
                            }
                            td { (rule.map_or(String::new(), |x| x.raw.severity.to_string())) }
                            td { (verdict(&r.verdict)) }
                            td.muted { (when(Some(r.since_at))) }
                        }
                    }
                }
            }
            @if let Some(s) = scans.items.iter().find(|s| s.status == "succeeded") {
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
                        td { (badge(&s.status)) @if let Some(k) = &s.error_kind { " " span.muted { (k) } } }
                        td { (s.trigger) " " span.muted { (s.triggered_by.as_deref().unwrap_or("")) } }
                    } } }
                }
            }
            section.card aria-labelledby="chg-h" {
                h2 #chg-h { "Changes" }
                table {
                    thead { tr { th { "When" } th { "Rule" } th { "Was" } th { "Now" } } }
                    tbody { @for c in &changes.items { tr {
                        td.muted { (when(Some(c.changed_at))) }
                        td.mono { (c.rule_id) }
                        td { @if let Some(o) = &c.old_verdict { (verdict(o)) } @else { span.muted { "new" } } }
                        td { (verdict(&c.new_verdict)) }
                    } } }
                }
            }
        }
    };
    let flash = q.error.map(|e| (true, e)).or(q.flash.map(|m| (false, m)));
    render(
        &Page { caller: &v.caller, csrf: &v.csrf, title: &host.name, section: "Hosts", live: true, flash },
        body,
    )
}

fn back(id: i64, message: &str, result: Result<AuditNote, &ServiceError>) -> Response {
    super::after_post(&format!("/hosts/{id}"), message, result)
}

/// What a form post that scans reports back.
fn queued_message(b: &BatchScan) -> String {
    let mut m = format!("{} scans queued", b.scan_ids.len());
    if !b.skipped_maintenance.is_empty() {
        m.push_str(&format!(", {} hosts in maintenance skipped", b.skipped_maintenance.len()));
    }
    m
}

pub async fn scan_now(State(state): State<AppState>, v: Viewer<HostsScan>, Path(id): Path<i64>) -> Response {
    match scans::scan_host(&state, &Initiator::person(&v.grant), id).await {
        Ok(d) => back(id, &format!("Scan #{} queued", d.value.scan.id), Ok(d.audit)),
        Err(e) => back(id, &e.to_string(), Err(&e)),
    }
}

pub async fn test(State(state): State<AppState>, v: Viewer<HostsWrite>, Path(id): Path<i64>) -> Response {
    match hosts::test_connection(&state, &v.grant, id).await {
        Ok(d) => {
            let msg = format!("Connection test: {} ({})", d.value.status, d.value.message);
            back(id, &msg, Ok(d.audit))
        }
        Err(e) => back(id, &e.to_string(), Err(&e)),
    }
}

pub async fn approve_key(
    State(state): State<AppState>,
    v: Viewer<KeysApprove>,
    Path((id, key_id)): Path<(i64, i64)>,
) -> Response {
    match hosts::approve_key(&state, &v.grant, id, key_id).await {
        Ok(d) => back(id, "Host key approved", Ok(d.audit)),
        Err(e) => back(id, &e.to_string(), Err(&e)),
    }
}

#[derive(Debug, Deserialize)]
pub struct GroupScanForm {
    group_id: i64,
}

pub async fn scan_group(
    State(state): State<AppState>,
    v: Viewer<HostsScan>,
    Form(f): Form<GroupScanForm>,
) -> Response {
    match scans::scan_group(&state, &Initiator::person(&v.grant), f.group_id).await {
        Ok(d) => super::after_post("/hosts", &queued_message(&d.value), Ok(d.audit)),
        Err(e) => super::after_post("/hosts", &e.to_string(), Err(&e)),
    }
}

pub async fn scan_selected(State(state): State<AppState>, v: Viewer<HostsScan>, body: String) -> Response {
    let pairs = super::form::pairs(&body);
    let ids: Vec<i64> =
        pairs.iter().filter(|(k, _)| k == "host_id").filter_map(|(_, v)| v.parse().ok()).collect();
    match scans::scan_hosts(&state, &Initiator::person(&v.grant), &ids).await {
        Ok(d) => super::after_post("/hosts", &queued_message(&d.value), Ok(d.audit)),
        Err(e) => super::after_post("/hosts", &e.to_string(), Err(&e)),
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct ImportForm {
    #[serde(default)]
    csv: String,
    confirm: Option<String>,
}

fn import_page(
    v: &Viewer<HostsWrite>,
    csv: &str,
    rows: Option<&[import::RowResult]>,
    problem: Option<String>,
) -> Response {
    let errors = rows.map_or(0, |r| r.iter().filter(|x| !x.ok).count());
    let body = html! {
        h1 { "Import hosts from CSV" }
        p.muted { "A header row naming columns among: name (required), address, port, username, transport, \
            credential (a credential's name), sudo, groups and tags (separated by ;), host_key_policy. \
            Nothing is written until every row is valid and you confirm." }
        form method="post" action="/hosts/import" class="stack" {
            (csrf_field(&v.csrf))
            label { "CSV" textarea #csv name="csv" spellcheck="false" required { (csv) } }
            div.actions { button type="submit" { "Preview" } }
        }
        @if let Some(rows) = rows {
            section.card aria-labelledby="preview-h" {
                h2 #preview-h { "Preview: " (rows.len()) " rows, " (errors) " with errors" }
                table #preview {
                    thead { tr { th { "Line" } th { "Host" } th { "Result" } } }
                    tbody { @for r in rows { tr {
                        td { (r.line) } td { (r.name) }
                        td { @if let Some(e) = &r.error { span class="verdict v-fail" { "error" } " " (e) } @else { span class="verdict v-pass" { "ok" } } }
                    } } }
                }
                @if errors == 0 && !rows.is_empty() {
                    form method="post" action="/hosts/import" {
                        (csrf_field(&v.csrf))
                        input type="hidden" name="csv" value=(csv);
                        input type="hidden" name="confirm" value="1";
                        button type="submit" { "Import " (rows.len()) " hosts" }
                    }
                }
            }
        }
    };
    let flash = problem.map(|m| (true, m));
    render(
        &Page {
            caller: &v.caller,
            csrf: &v.csrf,
            title: "Import hosts",
            section: "Hosts",
            live: false,
            flash,
        },
        body,
    )
}

pub async fn import_form(v: Viewer<HostsWrite>) -> Response {
    import_page(&v, "name,address,groups,credential\n", None, None)
}

pub async fn import(
    State(state): State<AppState>,
    v: Viewer<HostsWrite>,
    Form(f): Form<ImportForm>,
) -> Response {
    let csv = f.csv.replace("\r\n", "\n");
    match import::import_csv(&state, &v.grant, &csv, f.confirm.is_none()).await {
        Ok(Done { value: (true, rows), audit }) => {
            super::after_post("/hosts", &format!("{} hosts imported", rows.len()), Ok(audit))
        }
        Ok(Done { value: (false, rows), audit }) => {
            let mut resp = import_page(&v, &csv, Some(&rows), None);
            resp.extensions_mut().insert(audit);
            resp
        }
        Err(e) => {
            let mut resp = import_page(&v, &csv, None, Some(e.to_string()));
            resp.extensions_mut().insert(super::failure(&e));
            resp
        }
    }
}

/// A host's current compliance table as CSV or JSON (`compliance.csv`, `compliance.json`).
pub async fn export(
    State(state): State<AppState>,
    v: Viewer<HostsRead>,
    Path((id, file)): Path<(i64, String)>,
) -> Response {
    let format = match file.as_str() {
        "compliance.csv" => Format::Csv,
        "compliance.json" => Format::Json,
        _ => return layout::error_page(&v.caller, &v.csrf, StatusCode::NOT_FOUND, "No such page."),
    };
    match exports::host_compliance(&state, &v.grant, id, format).await {
        Ok(e) => crate::api::download(e),
        Err(e) => super::page_error(&v.caller, &v.csrf, &e),
    }
}
