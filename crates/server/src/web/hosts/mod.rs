//! Hosts: the list (search, filters, sorting, pages), adding and editing one, CSV import,
//! the host page, and the actions on hosts (scan, connection test, key approval, export).

mod actions;
mod detail;
mod foreign;
mod form;
mod import_csv;

pub use actions::{approve_key, export, scan_group, scan_now, scan_selected, test};
pub use detail::detail;
pub use form::{confirm_delete, create, delete, edit_form, new_form, update};
pub use import_csv::{import, import_form};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use openwatch_store::{HostQuery, PageRequest};
use serde::Deserialize;

use crate::app::AppState;
use crate::auth::rbac::Permission;
use crate::web::form::urlencode;
use crate::web::guard::{HostsRead, Viewer};
use crate::web::layout::{self, Page, badge, csrf_field, pager, plural, render, when};

pub(super) fn db_error(v: &Viewer<impl super::guard::Need>, e: impl std::fmt::Display) -> Response {
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
    tag: String,
    #[serde(default)]
    reachability: String,
    #[serde(default)]
    band: String,
    #[serde(default)]
    sort: String,
    page: Option<i64>,
    flash: Option<String>,
    sig: Option<String>,
    error: Option<String>,
}

const REACHABILITY: &[&str] =
    &["reachable", "unreachable", "host_key_pending", "host_key_changed", "auth_failed", "error", "unknown"];
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
        tag: opt(&q.tag),
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
                a.button.secondary href="/hosts/keys" { "Pending host keys" }
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
            label { "Tag" input name="tag" value=(q.tag) placeholder="e.g. prod"; }
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
            thead { tr { @if can_scan { th { "Select" } } th { "Host" } th { "Address" } th { "Platform" } th { "Groups and tags" } th { "Reachability" } th.right { "Failures" } th { "Last scan" } } }
            tbody {
                @for h in &hosts.items {
                    tr {
                        @if can_scan { td { input type="checkbox" name="host_id" value=(h.id) form="bulk" aria-label={"Select " (h.name)}; } }
                        td { a.clip href={"/hosts/" (h.id)} title=(h.name) { (h.name) } }
                        td.mono { (h.address) }
                        td { (h.platform.as_deref().unwrap_or("—")) }
                        td.labels {
                            @for g in &h.groups { a.group href={"/hosts?group=" (urlencode(g))} title={"group " (g)} { (g) } " " }
                            @for t in &h.tags { a.tag href={"/hosts?tag=" (urlencode(t))} title={"tag " (t)} { (t) } " " }
                        }
                        td { (badge(h.reachability.as_str())) }
                        td.right { @match h.failing {
                            Some(n) => { a href={"/hosts/" (h.id) "?verdict=fail#rules"} aria-label={(plural(n, "failing rule", "failing rules")) " on " (h.name)} { (n) } }
                            None => { span.muted title="not scanned yet" { "—" } }
                        } }
                        td { (when(h.last_scan_at)) " " @if let Some(s) = h.last_scan_status { (badge(s.as_str())) } }
                    }
                }
            }
        }
        (pager("/hosts", &[("q", q.q.clone()), ("group", q.group.clone()), ("platform", q.platform.clone()), ("tag", q.tag.clone()),
            ("reachability", q.reachability.clone()),
                ("band", q.band.clone()), ("sort", q.sort.clone())], hosts.page, hosts.per_page, hosts.total))
    };
    let flash = crate::web::flash_message(&v.csrf, q.flash.clone(), q.error.clone(), q.sig.as_deref());
    render(
        &Page { caller: &v.caller, csrf: &v.csrf, title: "Hosts", section: "Hosts", live: true, flash },
        body,
    )
}
