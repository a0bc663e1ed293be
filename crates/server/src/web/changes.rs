//! "What changed": the fleet's change log with filters (time, group, framework, severity),
//! each change with the values before and after. An adapter over `service::drift`, like the
//! API.

use axum::extract::{Query, State};
use axum::response::Response;
use maud::{Markup, html};

use super::guard::{HostsRead, Viewer};
use super::layout::{Page, pager, render, verdict, when};
use crate::app::AppState;
use crate::service::drift::{self, ChangeFilter, Drift};

pub async fn list(
    State(state): State<AppState>,
    v: Viewer<HostsRead>,
    Query(f): Query<ChangeFilter>,
) -> Response {
    let filter = ChangeFilter { per_page: Some(50), ..f.clone() };
    let (page, error) = match drift::changes(&state, &v.grant, &filter).await {
        Ok(p) => (Some(p), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let groups = state.store().list_groups().await.unwrap_or_default();
    let frameworks: Vec<&str> = state.library.frameworks().collect();
    let given = |x: &Option<String>| x.clone().unwrap_or_default();
    let query: Vec<(&str, String)> = [
        ("group", given(&f.group)),
        ("framework", given(&f.framework)),
        ("severity", given(&f.severity)),
        ("since", given(&f.since)),
        ("until", given(&f.until)),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .collect();
    let body = html! {
        h1 { "What changed" }
        p.muted { "Every rule whose verdict or severity changed on a host, newest first, with what the scans read before and after." }
        form.filters method="get" action="/changes" role="search" {
            label { "Group" select name="group" { option value="" { "any" } @for g in &groups { option value=(g.name) selected[f.group.as_deref() == Some(g.name.as_str())] { (g.name) } } } }
            label { "Framework" select name="framework" { option value="" { "any" } @for x in &frameworks { option value=(x) selected[f.framework.as_deref() == Some(*x)] { (x) } } } }
            label { "Severity" select name="severity" { option value="" { "any" } @for x in ["critical", "high", "medium", "low"] { option value=(x) selected[f.severity.as_deref() == Some(x)] { (x) } } } }
            label { "From" input type="date" name="since" value=(given(&f.since)); }
            label { "To" input type="date" name="until" value=(given(&f.until)); }
            button type="submit" { "Apply" }
        }
        @if let Some(e) = error { div.flash.error role="alert" { (e) } }
        @if let Some(page) = page {
            @if page.items.is_empty() { p.muted { "Nothing changed that matches." } }
            @else {
                table #changes {
                    thead { tr { th { "When" } th { "Host" } th { "Rule" } th { "Was" } th { "Now" } th { "Values" } } }
                    tbody { @for d in &page.items { (row(d)) } }
                }
                (pager("/changes", &query, page.page, page.per_page, page.total))
            }
        }
    };
    render(
        &Page {
            caller: &v.caller,
            csrf: &v.csrf,
            title: "What changed",
            section: "Changes",
            live: true,
            flash: None,
        },
        body,
    )
}

fn row(d: &Drift) -> Markup {
    let c = &d.change;
    html! {
        tr {
            td.muted { (when(Some(c.changed_at))) }
            td { a href={"/hosts/" (c.host_id)} { (c.host_name) } }
            td { a href={"/rules/" (super::form::urlencode(&c.rule_id))} { (d.title.as_deref().unwrap_or(&c.rule_id)) } }
            td { @if let Some(o) = c.old_verdict { (verdict(o)) } @else { span.muted { "new" } } }
            td { (verdict(c.new_verdict)) }
            td { (values(d)) }
        }
    }
}

/// The values that moved: `source: before → after`.
pub fn values(d: &Drift) -> Markup {
    html! {
        @if !d.values.is_empty() {
            ul.values { @for v in &d.values { li {
                span.muted { (v.source) ": " }
                span.mono.before { (v.before.as_deref().unwrap_or("(none)")) }
                " → "
                span.mono.after { (v.after.as_deref().unwrap_or("(none)")) }
            } } }
        }
    }
}
