//! Hosts: the list (search, filters, sorting, pages), adding one, and the host page
//! (compliance by framework, the rule table with evidence, scans, changes, host keys).

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use openwatch_store::{HostQuery, PageRequest, ScanQuery};
use serde::Deserialize;
use serde_json::{Value, json};

use super::guard::{HostsRead, HostsScan, HostsWrite, KeysApprove, Viewer};
use super::layout::{self, Page, badge, csrf_field, pager, render, svg, verdict, when};
use super::svg::donut;
use crate::api::hosts::{HostBody, validate};
use crate::api::scans::{ResultsQuery, result_query};
use crate::app::{AppState, now_ms};
use crate::auth::rbac::Permission;

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
    sort: String,
    page: Option<i64>,
    flash: Option<String>,
}

const REACHABILITY: &[&str] =
    &["reachable", "unreachable", "host_key_pending", "host_key_changed", "auth_failed", "unknown"];
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
        sort: opt(&q.sort),
    };
    let page = PageRequest::new(q.page, Some(50));
    let (hosts, groups) = match (store.list_hosts(&query, page).await, store.list_groups().await) {
        (Ok(h), Ok(g)) => (h, g),
        (Err(e), _) | (_, Err(e)) => return db_error(&v, e),
    };
    let can_scan = v.caller.can(Permission::HostsScan);
    let body = html! {
        h1 { "Hosts" }
        div.actions {
            @if v.caller.can(Permission::HostsWrite) { a.button href="/hosts/new" { "Add host" } }
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
            label { "Sort" select name="sort" { @for (k, l) in SORTS { option value=(k) selected[q.sort == *k] { (l) } } } }
            button type="submit" { "Apply" }
        }
        table {
            thead { tr { th { "Host" } th { "Address" } th { "Platform" } th { "Groups" } th { "Reachability" } th { "Last scan" } } }
            tbody {
                @for h in &hosts.items {
                    tr {
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
            ("reachability", q.reachability.clone()), ("sort", q.sort.clone())], hosts.page, hosts.per_page, hosts.total))
    };
    let flash = q.flash.map(|m| (false, m));
    render(
        &Page { caller: &v.caller, csrf: &v.csrf, title: "Hosts", section: "Hosts", live: true, flash },
        body,
    )
}

fn host_form(
    v: &Viewer<HostsWrite>,
    creds: &[openwatch_store::Credential],
    error: Option<String>,
    f: &HostForm,
) -> Response {
    let body = html! {
        h1 { "Add a host" }
        form method="post" action="/hosts" class="stack" {
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
            div.actions { button type="submit" { "Add host" } a.button.secondary href="/hosts" { "Cancel" } }
        }
    };
    render(
        &Page {
            caller: &v.caller,
            csrf: &v.csrf,
            title: "Add host",
            section: "Hosts",
            live: false,
            flash: error.map(|e| (true, e)),
        },
        body,
    )
}

#[derive(Debug, Deserialize, Default)]
pub struct HostForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
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
}

pub async fn new_form(State(state): State<AppState>, v: Viewer<HostsWrite>) -> Response {
    match state.store().list_credentials().await {
        Ok(c) => host_form(&v, &c, None, &HostForm::default()),
        Err(e) => db_error(&v, e),
    }
}

pub async fn create(
    State(state): State<AppState>,
    v: Viewer<HostsWrite>,
    Form(f): Form<HostForm>,
) -> Response {
    if let Some(r) = v.csrf_rejection(&f.csrf) {
        return r;
    }
    let creds = state.store().list_credentials().await.unwrap_or_default();
    let port = match f.port.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        Some(p) => match p.parse() {
            Ok(n) => Some(n),
            Err(_) => return host_form(&v, &creds, Some(format!("port: `{p}` is not a number")), &f),
        },
        None => None,
    };
    let body = HostBody {
        name: f.name.clone(),
        address: Some(f.address.clone()),
        port,
        username: Some(f.username.clone()),
        transport: Some(if f.transport.is_empty() { "ssh".into() } else { f.transport.clone() }),
        credential_id: f.credential_id.as_deref().and_then(|c| c.parse().ok()),
        sudo: f.sudo.is_some(),
        tags: vec![],
        groups: f.groups.split(',').map(str::to_owned).collect(),
        maintenance: false,
        host_key_policy: (!f.host_key_policy.is_empty()).then(|| f.host_key_policy.clone()),
    };
    let input = match validate(state.store(), body).await {
        Ok(i) => i,
        Err(e) => return host_form(&v, &creds, Some(e.message), &f),
    };
    match state.store().create_host(&input, now_ms()).await {
        Ok(h) => {
            v.audit(
                &state,
                "host.create",
                &format!("host:{}", h.id),
                "success",
                json!({"name": h.name, "via": "web"}),
            )
            .await;
            Redirect::to(&format!("/hosts/{}?flash=Host+added", h.id)).into_response()
        }
        Err(e) => {
            v.audit(&state, "host.create", "hosts", "failure", json!({"error": e.to_string(), "via": "web"}))
                .await;
            host_form(&v, &creds, Some(e.to_string()), &f)
        }
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct DetailQuery {
    verdict: Option<String>,
    severity: Option<String>,
    framework: Option<String>,
    control: Option<String>,
    flash: Option<String>,
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
    let rq = ResultsQuery {
        verdict: empty_none(q.verdict.clone()),
        severity: empty_none(q.severity.clone()),
        framework: empty_none(q.framework.clone()),
        control: empty_none(q.control.clone()),
        page: None,
        per_page: None,
    };
    let (filter, filter_error) = match result_query(&state.library, &rq) {
        Ok(f) => (f, None),
        Err(e) => (Default::default(), Some(e.message)),
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
            a.button.secondary href={"/scans?host_id=" (id)} { "All scans" }
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
    let flash = q.flash.map(|m| (false, m));
    render(
        &Page { caller: &v.caller, csrf: &v.csrf, title: &host.name, section: "Hosts", live: true, flash },
        body,
    )
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(rename = "_csrf")]
    csrf: String,
}

fn back(id: i64, msg: &str) -> Response {
    Redirect::to(&format!("/hosts/{id}?flash={}", super::guard::urlencode(msg))).into_response()
}

pub async fn scan_now(
    State(state): State<AppState>,
    v: Viewer<HostsScan>,
    Path(id): Path<i64>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Some(r) = v.csrf_rejection(&f.csrf) {
        return r;
    }
    match crate::api::scans_queue(&state, id, "manual", Some(v.caller.username.clone())).await {
        Ok((scan, new)) => {
            v.audit(
                &state,
                "scan.queue",
                &format!("host:{id}"),
                "success",
                json!({"scan_id": scan.id, "new": new, "via": "web"}),
            )
            .await;
            back(id, &format!("Scan #{} queued", scan.id))
        }
        Err(e) => back(id, &e.message),
    }
}

pub async fn test(
    State(state): State<AppState>,
    v: Viewer<HostsWrite>,
    Path(id): Path<i64>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Some(r) = v.csrf_rejection(&f.csrf) {
        return r;
    }
    let Ok(Some(host)) = state.store().host(id).await else { return back(id, "No such host") };
    match crate::worker::scan::test_connection(&state, &host).await {
        Ok(t) => {
            v.audit(
                &state,
                "host.test_connection",
                &format!("host:{id}"),
                "success",
                json!({"outcome": t.status, "via": "web"}),
            )
            .await;
            back(id, &format!("Connection test: {} ({})", t.status, t.message))
        }
        Err(e) => back(id, &e.message),
    }
}

pub async fn approve_key(
    State(state): State<AppState>,
    v: Viewer<KeysApprove>,
    Path((id, key_id)): Path<(i64, i64)>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Some(r) = v.csrf_rejection(&f.csrf) {
        return r;
    }
    match state.store().approve_host_key(id, key_id, &v.caller.username, now_ms()).await {
        Ok(true) => {
            v.audit(
                &state,
                "host.key_approve",
                &format!("host:{id}"),
                "success",
                json!({"key_id": key_id, "via": "web"}),
            )
            .await;
            back(id, "Host key approved")
        }
        Ok(false) => back(id, "No such key"),
        Err(e) => back(id, &e.to_string()),
    }
}

#[derive(Debug, Deserialize)]
pub struct GroupScanForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    group_id: i64,
}

pub async fn scan_group(
    State(state): State<AppState>,
    v: Viewer<HostsScan>,
    Form(f): Form<GroupScanForm>,
) -> Response {
    if let Some(r) = v.csrf_rejection(&f.csrf) {
        return r;
    }
    let ids = state.store().group_host_ids(f.group_id).await.unwrap_or_default();
    let mut queued = 0;
    for id in ids {
        if state.store().host(id).await.ok().flatten().is_some_and(|h| !h.maintenance)
            && crate::api::scans_queue(&state, id, "manual", Some(v.caller.username.clone())).await.is_ok()
        {
            queued += 1;
        }
    }
    v.audit(
        &state,
        "scan.queue_group",
        &format!("group:{}", f.group_id),
        "success",
        json!({"scans": queued, "via": "web"}),
    )
    .await;
    Redirect::to(&format!("/hosts?flash={}", super::guard::urlencode(&format!("{queued} scans queued"))))
        .into_response()
}
