//! Reports in the browser: ask for one (fleet, a group or a host; a framework; a format),
//! follow its progress (the page refreshes while a worker draws it) and download it.
//! Adapters over `service::reports`, like the API.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use maud::html;
use openwatch_store::{ReportDetail, ReportFormat, ReportStatus};
use serde::Deserialize;

use super::guard::{ScansRead, Viewer};
use super::layout::{Page, badge, csrf_field, pager, render, when};
use crate::app::AppState;
use crate::service::reports::{self, ListFilter, NewRequest};

#[derive(Debug, Deserialize, Default)]
pub struct ListQuery {
    /// Preselect this host as the report's scope (the host page links here).
    host_id: Option<i64>,
    page: Option<i64>,
    flash: Option<String>,
    sig: Option<String>,
    error: Option<String>,
}

/// How each format is offered.
fn format_label(f: ReportFormat) -> &'static str {
    match f {
        ReportFormat::Pdf => "PDF report",
        ReportFormat::Html => "HTML report",
        ReportFormat::OscalAr => "OSCAL Assessment Results",
        ReportFormat::OscalPoam => "OSCAL POA&M",
        ReportFormat::Xccdf => "XCCDF 1.2 results",
        ReportFormat::Sarif => "SARIF 2.1.0",
    }
}

pub async fn list(
    State(state): State<AppState>,
    v: Viewer<ScansRead>,
    Query(q): Query<ListQuery>,
) -> Response {
    let filter = ListFilter { page: q.page, per_page: Some(50) };
    let page = match reports::list(&state, &v.grant, &filter).await {
        Ok(p) => p,
        Err(e) => return super::page_error(&v.caller, &e),
    };
    let groups = match state.store().list_groups().await {
        Ok(g) => g,
        Err(e) => return super::page_error(&v.caller, &e.into()),
    };
    let host = match q.host_id {
        Some(id) => match state.store().host(id).await {
            Ok(h) => h,
            Err(e) => return super::page_error(&v.caller, &e.into()),
        },
        None => None,
    };
    let drawing = page.items.iter().any(|r| matches!(r.status, ReportStatus::Queued | ReportStatus::Running));
    let body = html! {
        h1 { "Reports" }
        p.muted {
            "A report reads the latest successful scan of every host it covers. PDF and HTML reports "
            "give an executive summary (scores per framework with and without accepted risks, the "
            "trend, hosts worst first, top risks, accepted risks) and, in full, every failing rule per "
            "host with its evidence and how to fix it. A worker draws it; this page follows its progress."
        }
        form.report-request method="post" action="/reports" {
            (csrf_field(&v.csrf))
            label { "Covering"
                select name="scope" {
                    @if let Some(h) = &host { option value={"host:" (h.id)} selected { "host " (h.name) } }
                    option value="fleet" { "the fleet" }
                    @for g in &groups { option value={"group:" (g.id)} { "group " (g.name) " (" (g.host_count) " hosts)" } }
                }
            }
            label { "Framework"
                select name="framework" {
                    option value="" { "all" }
                    @for f in state.library.frameworks() { option value=(f) { (f) } }
                }
            }
            label { "Format"
                select name="format" { @for f in ReportFormat::ALL { option value=(f.as_str()) { (format_label(*f)) } } }
            }
            label { "Detail"
                select name="detail" {
                    option value=(ReportDetail::Full.as_str()) { "summary and findings" }
                    option value=(ReportDetail::Executive.as_str()) { "executive summary only" }
                }
            }
            button type="submit" { "Draw the report" }
        }
        @if page.items.is_empty() { p.muted { "No reports yet." } }
        @else {
            table #reports {
                thead { tr { th { "#" } th { "Covering" } th { "Framework" } th { "Format" } th { "Status" } th { "Progress" } th { "Requested" } th {} } }
                tbody {
                    @for r in &page.items {
                        tr #{"report-" (r.id)} {
                            td { "#" (r.id) }
                            td { (r.scope) " " (r.scope_name) }
                            td { (r.framework.as_deref().unwrap_or("all")) }
                            td { (format_label(r.format)) @if matches!(r.format, ReportFormat::Pdf | ReportFormat::Html) { " · " (r.detail) } }
                            td { (badge(r.status.as_str())) @if let Some(e) = &r.error { br; span.muted { (e) } } }
                            td { (r.done) " of " (r.total) " hosts" }
                            td { (r.requested_by) " · " span.muted { (when(Some(r.requested_at))) } }
                            td {
                                @if r.status == ReportStatus::Succeeded {
                                    a href={"/reports/" (r.id) "/file"} download { "Download" }
                                    @if let Some(size) = r.size { span.muted { " " (size / 1024 + 1) " KiB" } }
                                }
                            }
                        }
                    }
                }
            }
            (pager("/reports", &[], page.page, page.per_page, page.total))
        }
    };
    let flash = super::flash_message(&v.csrf, q.flash, q.error, q.sig.as_deref());
    render(
        &Page {
            caller: &v.caller,
            csrf: &v.csrf,
            title: "Reports",
            section: "Reports",
            live: drawing,
            flash,
        },
        body,
    )
}

#[derive(Debug, Deserialize, Default)]
pub struct RequestForm {
    /// `fleet`, `group:ID` or `host:ID`.
    #[serde(default)]
    scope: String,
    #[serde(default)]
    framework: String,
    #[serde(default)]
    format: String,
    #[serde(default)]
    detail: String,
}

pub async fn create(
    State(state): State<AppState>,
    v: Viewer<ScansRead>,
    Form(f): Form<RequestForm>,
) -> Response {
    let (scope, scope_id) = match f.scope.split_once(':') {
        Some((kind, id)) => (kind.to_owned(), id.parse().ok()),
        None => (f.scope.clone(), None),
    };
    let req = NewRequest {
        scope: Some(scope),
        scope_id,
        framework: Some(f.framework),
        format: Some(f.format),
        detail: Some(f.detail),
    };
    match reports::request(&state, &v.grant, req).await {
        Ok(d) => {
            let msg = format!("Report #{} queued: a worker is drawing it", d.value.id);
            super::after_post(&v.csrf, "/reports", &msg, Ok(d.audit))
        }
        Err(e) => super::after_post(&v.csrf, "/reports", &e.to_string(), Err(&e)),
    }
}

pub async fn file(State(state): State<AppState>, v: Viewer<ScansRead>, Path(id): Path<i64>) -> Response {
    match reports::file(&state, &v.grant, id).await {
        Ok(e) => crate::http::download(e),
        Err(e) => super::page_error(&v.caller, &e),
    }
}
