//! Reports of the fleet, a group or a host, for one framework or all, as a PDF, an HTML
//! page, OSCAL Assessment Results or POA&M, XCCDF or SARIF. A report is asked for here and
//! drawn by a worker (`worker::report`) from each host's latest successful scan, with
//! progress, so a thousand-host PDF does not hold a request open. The same for the API and
//! the pages.

use openwatch_core::eval::Status;
use openwatch_core::export::summary::{Detail, OtherSource, Scope, TrendPoint};
use openwatch_core::report::ScanReport;
use openwatch_store::{
    HostQuery, NewReport, Page, PageRequest, Report, ReportDetail, ReportFile, ReportFormat, ReportScope,
    ScanQuery, ScanStatus,
};
use serde::Deserialize;
use serde_json::json;

use super::exports::Export;
use super::exports::interchange::{content_type, draw, scan_report};
use super::{Done, ServiceError, ServiceResult, note};
use crate::app::{AppState, now_ms};
use crate::auth::need::ScansRead;
use crate::http::guard::Grant;

/// A report as callers ask for it.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRequest {
    /// `fleet` (default), `group` or `host`.
    #[serde(default)]
    pub scope: Option<String>,
    /// The group's or host's id, for those scopes.
    #[serde(default)]
    pub scope_id: Option<i64>,
    /// Only the rules citing this framework (`cis_debian12`, `nist_800_53`, ...).
    #[serde(default)]
    pub framework: Option<String>,
    /// `pdf` (default), `html`, `oscal-ar`, `oscal-poam`, `xccdf` or `sarif`.
    #[serde(default)]
    pub format: Option<String>,
    /// `full` (default) or `executive`, for pdf and html.
    #[serde(default)]
    pub detail: Option<String>,
}

/// A typed value from its name, the default when not given.
fn one_of<T: Copy>(
    field: &'static str,
    given: Option<&str>,
    default: T,
    all: &[T],
    name: fn(T) -> &'static str,
) -> ServiceResult<T> {
    match given.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(default),
        Some(s) => all.iter().copied().find(|v| name(*v) == s).ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|v| name(*v)).collect();
            ServiceError::invalid(field, format!("`{s}` is not one of {}", names.join(", ")))
        }),
    }
}

/// Ask for a report; a worker draws it.
pub async fn request(state: &AppState, g: &Grant<ScansRead>, req: NewRequest) -> ServiceResult<Done<Report>> {
    let scope =
        one_of("scope", req.scope.as_deref(), ReportScope::Fleet, ReportScope::ALL, ReportScope::as_str)?;
    let format =
        one_of("format", req.format.as_deref(), ReportFormat::Pdf, ReportFormat::ALL, ReportFormat::as_str)?;
    let detail =
        one_of("detail", req.detail.as_deref(), ReportDetail::Full, ReportDetail::ALL, ReportDetail::as_str)?;
    let framework = req.framework.map(|f| f.trim().to_owned()).filter(|f| !f.is_empty());
    if let Some(f) = &framework {
        let known: Vec<&str> = state.library.frameworks().collect();
        if !known.contains(&f.as_str()) {
            return Err(ServiceError::invalid(
                "framework",
                format!("`{f}` is not one of {}", known.join(", ")),
            ));
        }
    }
    let scope_name = match (scope, req.scope_id) {
        (ReportScope::Fleet, None) => "fleet".to_owned(),
        (ReportScope::Fleet, Some(_)) => {
            return Err(ServiceError::invalid("scope_id", "a fleet report names no host or group"));
        }
        (_, None) => return Err(ServiceError::invalid("scope_id", format!("name the {scope}"))),
        (ReportScope::Group, Some(id)) => {
            state
                .store()
                .group(id)
                .await?
                .ok_or_else(|| ServiceError::invalid("scope_id", format!("no group {id}")))?
                .name
        }
        (ReportScope::Host, Some(id)) => {
            state
                .store()
                .host(id)
                .await?
                .ok_or_else(|| ServiceError::invalid("scope_id", format!("no host {id}")))?
                .name
        }
    };
    let new = NewReport {
        scope,
        scope_id: req.scope_id,
        scope_name,
        framework,
        format,
        detail,
        requested_by: g.username().to_owned(),
    };
    let report = state.store().queue_report(&new, now_ms()).await?;
    state.jobs_queued.notify_waiters();
    let audit = note(
        format!("report:{}", report.id),
        json!({"scope": report.scope, "scope_id": report.scope_id, "framework": report.framework,
            "format": report.format, "detail": report.detail}),
    );
    Ok(Done::new(report, audit))
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct ListFilter {
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

pub async fn list(state: &AppState, _g: &Grant<ScansRead>, f: &ListFilter) -> ServiceResult<Page<Report>> {
    Ok(state.store().list_reports(super::page(f.page, f.per_page)?).await?)
}

pub async fn get(state: &AppState, _g: &Grant<ScansRead>, id: i64) -> ServiceResult<Report> {
    state.store().report(id).await?.ok_or(ServiceError::NotFound("report"))
}

/// A drawn report's file; a report still being drawn (or failed) is a conflict that says so.
pub async fn file(state: &AppState, g: &Grant<ScansRead>, id: i64) -> ServiceResult<Export> {
    let report = get(state, g, id).await?;
    let f = state.store().report_file(id).await?.ok_or_else(|| {
        ServiceError::Conflict(match &report.error {
            Some(e) => format!("report {id} failed: {e}"),
            None => {
                format!("report {id} is {} ({} of {} hosts read)", report.status, report.done, report.total)
            }
        })
    })?;
    Ok(Export { filename: f.filename, content_type: content_type(report.format), body: f.body })
}

/// The hosts a report covers, by id.
pub(crate) async fn hosts_in_scope(state: &AppState, report: &Report) -> ServiceResult<Vec<(i64, String)>> {
    if report.scope == ReportScope::Host {
        let id = report.scope_id.unwrap_or_default();
        return Ok(state.store().host(id).await?.map(|h| vec![(h.id, h.name)]).unwrap_or_default());
    }
    let q = HostQuery {
        group: (report.scope == ReportScope::Group).then(|| report.scope_name.clone()),
        ..HostQuery::default()
    };
    Ok(super::hosts::all_hosts(state, &q).await?.into_iter().map(|h| (h.id, h.name)).collect())
}

/// A host's latest successful scan as the core's report; `None` for a host never scanned.
pub(crate) async fn latest_report(state: &AppState, host_id: i64) -> ServiceResult<Option<ScanReport>> {
    let q = ScanQuery { host_id: Some(host_id), status: Some(ScanStatus::Succeeded.as_str().to_owned()) };
    let Some(scan) =
        state.store().list_scans(&q, PageRequest::new(Some(1), Some(1))).await?.items.into_iter().next()
    else {
        return Ok(None);
    };
    let mut rows = Vec::new();
    for n in 1.. {
        let page = PageRequest::new(Some(n), Some(PageRequest::MAX_PER_PAGE));
        let got = state.store().scan_results(scan.id, &Default::default(), page).await?.items;
        let last = got.len() < PageRequest::MAX_PER_PAGE as usize;
        rows.extend(got);
        if last {
            break;
        }
    }
    scan_report(state, &scan, rows).await.map(Some)
}

/// The fleet's daily history for the report's framework (all frameworks summed without
/// one); groups and hosts have none kept.
pub(crate) async fn trend(state: &AppState, report: &Report) -> ServiceResult<Vec<TrendPoint>> {
    if report.scope != ReportScope::Fleet {
        return Ok(Vec::new());
    }
    let summary = state.store().fleet_summary(now_ms()).await?;
    let mut days: std::collections::BTreeMap<i64, (i64, i64, i64)> = std::collections::BTreeMap::new();
    for p in summary.trend.iter().filter(|p| report.framework.as_ref().is_none_or(|f| *f == p.framework)) {
        let d = days.entry(p.day).or_default();
        d.0 += p.pass;
        d.1 += p.fail;
        d.2 += p.excepted;
    }
    let u32_of = |n: i64| u32::try_from(n).unwrap_or(u32::MAX);
    Ok(days
        .into_iter()
        .map(|(day, (pass, fail, excepted))| {
            let date = openwatch_core::exceptions::Date::from_unix_days(day.div_euclid(86_400_000));
            TrendPoint::new(date.to_string(), u32_of(pass), u32_of(fail), u32_of(excepted), 0)
        })
        .collect())
}

/// What other scanners said about these hosts (the newest import of each), counted.
pub(crate) async fn other_sources(
    state: &AppState,
    hosts: &[(i64, String)],
) -> ServiceResult<Vec<OtherSource>> {
    let mut out = Vec::new();
    for (id, name) in hosts {
        let mut by: std::collections::BTreeMap<&'static str, OtherSource> = std::collections::BTreeMap::new();
        for r in state.store().host_foreign_results(*id).await? {
            let o = by.entry(r.source.as_str()).or_insert_with(|| OtherSource {
                host: name.clone(),
                scanner: r.source.as_str().to_owned(),
                pass: 0,
                fail: 0,
                other: 0,
                imported: crate::timefmt::when(Some(r.imported_at)),
            });
            match r.result.verdict {
                Status::Pass => o.pass += 1,
                Status::Fail => o.fail += 1,
                _ => o.other += 1,
            }
        }
        out.extend(by.into_values());
    }
    Ok(out)
}

/// Draw the report from these hosts' reports (on a blocking thread: layout is CPU-bound).
pub(crate) async fn render(
    state: &AppState,
    report: &Report,
    reports: Vec<ScanReport>,
    trend: Vec<TrendPoint>,
    other_sources: Vec<OtherSource>,
) -> ServiceResult<ReportFile> {
    let rules = state.library.rules.clone();
    let r = report.clone();
    let export = tokio::task::spawn_blocking(move || {
        let subject = match r.scope {
            ReportScope::Fleet => "the fleet".to_owned(),
            ReportScope::Group => format!("group {}", r.scope_name),
            ReportScope::Host => format!("host {}", r.scope_name),
        };
        let scope = Scope {
            framework: r.framework.as_deref(),
            subject: Some(&subject),
            detail: match r.detail {
                ReportDetail::Executive => Detail::Executive,
                ReportDetail::Full => Detail::Full,
            },
            trend,
            other_sources,
        };
        let mut reports = reports;
        if let Some(f) = r.framework.as_deref() {
            // A framework none of the hosts' rules cites gives an empty report, which says so.
            openwatch_core::export::summary::keep_framework(&mut reports, f);
        }
        draw(&reports, &rules, r.format, scope, &format!("report-{}", r.id))
    })
    .await
    .map_err(ServiceError::internal)??;
    Ok(ReportFile {
        filename: export.filename,
        content_type: export.content_type.to_owned(),
        body: export.body,
    })
}
