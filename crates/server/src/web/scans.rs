//! Scans: the list and one scan's results, with CSV and JSON exports of its results.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use openwatch_store::{PageRequest, ResultQuery, ScanQuery};
use serde::Deserialize;

use super::guard::{ScansRead, Viewer};
use super::layout::{self, Page, badge, pager, plural, render, verdict, when};
use crate::app::AppState;
use crate::service::ServiceError;
use crate::service::exports::{self, Format, ScanExport};
use crate::service::scans::ResultFilter as Filter;
use openwatch_store::ReportFormat;

#[derive(Debug, Deserialize, Default)]
pub struct ListQuery {
    host_id: Option<i64>,
    #[serde(default)]
    status: String,
    page: Option<i64>,
}

pub async fn list(
    State(state): State<AppState>,
    v: Viewer<ScansRead>,
    Query(q): Query<ListQuery>,
) -> Response {
    let query = ScanQuery { host_id: q.host_id, status: (!q.status.is_empty()).then(|| q.status.clone()) };
    let scans = match state
        .store()
        .list_scans(&query, PageRequest::new(q.page.map(|p| p.min(crate::service::MAX_PAGE)), Some(50)))
        .await
    {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "scans page");
            return layout::error_page(
                &v.caller,
                &v.csrf,
                StatusCode::INTERNAL_SERVER_ERROR,
                "The database could not be read.",
            );
        }
    };
    let body = html! {
        h1 { "Scans" }
        form.filters method="get" action="/scans" {
            @if let Some(h) = q.host_id { input type="hidden" name="host_id" value=(h); }
            label { "Status" select name="status" { option value="" { "any" } @for s in ["queued", "running", "succeeded", "failed"] { option value=(s) selected[q.status == s] { (s) } } } }
            button type="submit" { "Filter" }
        }
        table {
            thead { tr { th { "Scan" } th { "Host" } th { "Status" } th { "Queued" } th { "Duration" } th { "Triggered by" } th { "Pass / fail" } } }
            tbody {
                @for s in &scans.items {
                    tr {
                        td { a href={"/scans/" (s.id)} { "#" (s.id) } }
                        td { a href={"/hosts/" (s.host_id)} { (s.host_name) } }
                        td { (badge(s.status.as_str())) @if let Some(k) = &s.error_kind { " " span.muted { (k) } } }
                        td.muted { (when(Some(s.queued_at))) }
                        td { @if let Some(d) = s.stats.as_ref().and_then(|x| x["duration_ms"].as_i64()) { (d) " ms" } }
                        td { (s.trigger) " " span.muted { (s.triggered_by.as_deref().unwrap_or("")) } }
                        td { @if let Some(sum) = &s.summary { (sum["verdicts"]["pass"].as_i64().unwrap_or(0)) " / " (sum["verdicts"]["fail"].as_i64().unwrap_or(0)) } }
                    }
                }
            }
        }
        (pager("/scans", &[("status", q.status.clone()), ("host_id", q.host_id.map(|h| h.to_string()).unwrap_or_default())], scans.page, scans.per_page, scans.total))
    };
    render(
        &Page { caller: &v.caller, csrf: &v.csrf, title: "Scans", section: "Scans", live: true, flash: None },
        body,
    )
}

#[derive(Debug, Deserialize, Default)]
pub struct ResultFilter {
    #[serde(default)]
    verdict: String,
}

pub async fn detail(
    State(state): State<AppState>,
    v: Viewer<ScansRead>,
    Path(id): Path<i64>,
    Query(q): Query<ResultFilter>,
) -> Response {
    let store = state.store();
    let scan = match store.scan(id).await {
        Ok(Some(s)) => s,
        Ok(None) => return layout::error_page(&v.caller, &v.csrf, StatusCode::NOT_FOUND, "No such scan."),
        Err(e) => return super::page_error(&v.caller, &ServiceError::from(e)),
    };
    let rq = ResultQuery { verdict: openwatch_core::eval::Status::parse(&q.verdict), ..Default::default() };
    let results = match store.scan_results(id, &rq, PageRequest::new(None, Some(500))).await {
        Ok(p) => p.items,
        Err(e) => return super::page_error(&v.caller, &ServiceError::from(e)),
    };
    let body = html! {
        h1 { "Scan #" (scan.id) " of " a href={"/hosts/" (scan.host_id)} { (scan.host_name) } " " (badge(scan.status.as_str())) }
        dl.facts.card {
            dt { "Triggered" } dd { (scan.trigger) " by " (scan.triggered_by.as_deref().unwrap_or("the system")) }
            dt { "Queued" } dd { (when(Some(scan.queued_at))) }
            dt { "Started" } dd { (when(scan.started_at)) }
            dt { "Finished" } dd { (when(scan.finished_at)) }
            @if let Some(stats) = &scan.stats {
                dt { "Duration" } dd { (stats["duration_ms"].as_i64().unwrap_or(0)) " ms, " (plural(stats["round_trips"].as_i64().unwrap_or(0), "round trip", "round trips")) }
            }
            @if let Some(m) = &scan.error_message { dt { "Error" } dd.mono { (scan.error_kind.as_deref().unwrap_or("")) ": " (m) } }
        }
        form.filters method="get" action={"/scans/" (id)} {
            label { "Verdict" select name="verdict" { option value="" { "any" } @for x in ["fail", "excepted", "pass", "error", "not_applicable", "skipped"] { option value=(x) selected[q.verdict == x] { (x.replace('_', " ")) } } } }
            button type="submit" { "Filter" }
            a href={"/scans/" (id) "/results.csv?verdict=" (q.verdict)} { "Export CSV" }
            a href={"/scans/" (id) "/results.json?verdict=" (q.verdict)} { "Export JSON" }
            @if scan.status == openwatch_store::ScanStatus::Succeeded {
                a href={"/scans/" (id) "/results.xml?verdict=" (q.verdict)} title="XCCDF 1.2 results, as OpenSCAP writes them" { "XCCDF" }
                a href={"/scans/" (id) "/results.sarif?verdict=" (q.verdict)} title="SARIF 2.1.0, for code-scanning views" { "SARIF" }
                a href={"/scans/" (id) "/assessment-results.json?verdict=" (q.verdict)} title="OSCAL 1.1.2 Assessment Results" { "OSCAL" }
                a href={"/scans/" (id) "/report.pdf?verdict=" (q.verdict)} title="The report for people: summary and findings with evidence and fixes" { "PDF" }
                a href={"/scans/" (id) "/report.html?verdict=" (q.verdict)} title="The same report as one HTML page" { "HTML" }
            }
        }
        table {
            thead { tr { th { "Rule" } th { "Severity" } th { "Verdict" } th { "Reason" } } }
            tbody {
                @for r in &results {
                    tr {
                        td { (state.library.rule(&r.rule_id).map_or(r.rule_id.as_str(), |x| x.raw.title.as_str())) br; span.muted.mono { (r.rule_id) } }
                        td { (r.severity) }
                        td {
                            (verdict(r.verdict))
                            @if let Some(e) = r.exception_id {
                                br; a href={"/exceptions?host_id=" (scan.host_id) "&status=approved#exception-" (e)} { "exception #" (e) }
                            }
                        }
                        td { (r.reason) }
                    }
                }
            }
        }
    };
    render(
        &Page {
            caller: &v.caller,
            csrf: &v.csrf,
            title: "Scan",
            section: "Scans",
            live: scan.status.is_pending(),
            flash: None,
        },
        body,
    )
}

async fn export(
    state: &AppState,
    v: &Viewer<ScansRead>,
    id: i64,
    filter: &Filter,
    export: ScanExport,
) -> Response {
    match exports::scan_results(state, &v.grant, id, filter, export).await {
        Ok(e) => crate::http::download(e),
        Err(e) => super::page_error(&v.caller, &e),
    }
}

pub async fn export_csv(
    State(state): State<AppState>,
    v: Viewer<ScansRead>,
    Path(id): Path<i64>,
    Query(filter): Query<Filter>,
) -> Response {
    export(&state, &v, id, &filter, ScanExport::Table(Format::Csv)).await
}

pub async fn export_json(
    State(state): State<AppState>,
    v: Viewer<ScansRead>,
    Path(id): Path<i64>,
    Query(filter): Query<Filter>,
) -> Response {
    export(&state, &v, id, &filter, ScanExport::Table(Format::Json)).await
}

pub async fn export_xccdf(
    State(state): State<AppState>,
    v: Viewer<ScansRead>,
    Path(id): Path<i64>,
    Query(filter): Query<Filter>,
) -> Response {
    export(&state, &v, id, &filter, ScanExport::Document(ReportFormat::Xccdf)).await
}

pub async fn export_sarif(
    State(state): State<AppState>,
    v: Viewer<ScansRead>,
    Path(id): Path<i64>,
    Query(filter): Query<Filter>,
) -> Response {
    export(&state, &v, id, &filter, ScanExport::Document(ReportFormat::Sarif)).await
}

pub async fn export_oscal(
    State(state): State<AppState>,
    v: Viewer<ScansRead>,
    Path(id): Path<i64>,
    Query(filter): Query<Filter>,
) -> Response {
    export(&state, &v, id, &filter, ScanExport::Document(ReportFormat::OscalAr)).await
}

pub async fn export_pdf(
    State(state): State<AppState>,
    v: Viewer<ScansRead>,
    Path(id): Path<i64>,
    Query(filter): Query<Filter>,
) -> Response {
    export(&state, &v, id, &filter, ScanExport::Document(ReportFormat::Pdf)).await
}

pub async fn export_html(
    State(state): State<AppState>,
    v: Viewer<ScansRead>,
    Path(id): Path<i64>,
    Query(filter): Query<Filter>,
) -> Response {
    export(&state, &v, id, &filter, ScanExport::Document(ReportFormat::Html)).await
}
