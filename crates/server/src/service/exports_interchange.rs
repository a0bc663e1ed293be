//! Stored scans as the documents other tools and people read (XCCDF, SARIF, OSCAL, PDF,
//! HTML): rebuilt as the core's report from the stored results, evidence and exceptions,
//! and written by the same core writers as `openwatch scan --format` and `openwatch report`.
//! A scan's download and the report jobs (`worker::report`) both draw through here.

use std::collections::HashMap;

use openwatch_core::eval::Evidence;
use openwatch_core::exceptions::{Date, Excepted};
use openwatch_core::export;
use openwatch_core::export::summary::{self, Scope};
use openwatch_core::report::{HostInfo, PlatformInfo, RuleResult, ScanReport, Stats};
use openwatch_core::rule::Rule;
use openwatch_store::{ReportFormat, Scan, ScanStatus, StoredResult};

use super::Export;
use crate::app::AppState;
use crate::service::{ServiceError, ServiceResult};
use crate::timefmt::rfc3339;

/// A succeeded scan as the core's report: results with their evidence and exceptions, the
/// host's platform and capabilities as the scan found them.
pub(crate) async fn scan_report(
    state: &AppState,
    scan: &Scan,
    rows: Vec<StoredResult>,
) -> ServiceResult<ScanReport> {
    if scan.status != ScanStatus::Succeeded {
        return Err(ServiceError::Conflict(format!(
            "scan {} has no results to export (it is {})",
            scan.id,
            scan.status.as_str()
        )));
    }
    let host = state.store().host(scan.host_id).await?;
    let finished = rfc3339(scan.finished_at);
    let hashes: Vec<String> = rows.iter().filter_map(|r| r.evidence_hash.clone()).collect();
    let bodies = state.store().evidence_many(&hashes).await?;
    let mut exceptions: HashMap<i64, Option<Excepted>> = HashMap::new();
    let mut results = Vec::with_capacity(rows.len());
    for r in rows {
        let mut evidence: Vec<Evidence> = match r.evidence_hash.as_ref().and_then(|h| bodies.get(h)) {
            Some(body) => serde_json::from_str(body).map_err(ServiceError::internal)?,
            None => Vec::new(),
        };
        for e in &mut evidence {
            e.collected_at.clone_from(&finished);
        }
        let exception = match r.exception_id {
            Some(id) => match exceptions.get(&id) {
                Some(known) => known.clone(),
                None => {
                    let e = state.store().exception(id).await?.and_then(|e| {
                        Some(Excepted {
                            id: id.to_string(),
                            justification: e.justification,
                            expires: Date::parse(&e.expires_on)?,
                        })
                    });
                    exceptions.insert(id, e.clone());
                    e
                }
            },
            None => None,
        };
        let rule = state.library.rule(&r.rule_id);
        results.push(RuleResult {
            title: rule.map_or_else(|| r.rule_id.clone(), |x| x.raw.title.as_str().to_owned()),
            references: rule.map(|x| x.raw.references.clone()).unwrap_or_default(),
            rule_id: r.rule_id,
            severity: r.severity,
            verdict: r.verdict,
            reason: r.reason,
            implementation: None,
            evidence,
            exception,
        });
    }
    let address = host.as_ref().map_or_else(String::new, |h| format!("{}:{}", h.address, h.port));
    let mut info = HostInfo::new(scan.host_name.clone(), address, &Default::default());
    // What the scan found about the system, so frameworks of another platform are not
    // counted and the fix guidance fits the host.
    let system = scan.summary.as_ref().map(|s| &s["system"]);
    if let Some(p) = system.and_then(|s| serde_json::from_value::<PlatformInfo>(s["platform"].clone()).ok()) {
        info.platform = p;
    }
    if let Some(c) = system.and_then(|s| serde_json::from_value(s["capabilities"].clone()).ok()) {
        info.capabilities = c;
    }
    Ok(ScanReport::new(info, rfc3339(scan.started_at), finished, Stats::default(), results))
}

/// These reports drawn as `format`; `stem` names the file. CPU-bound for large fleets (PDF
/// above all): async callers run it on a blocking thread.
pub(crate) fn draw(
    reports: &[ScanReport],
    rules: &[Rule],
    format: ReportFormat,
    scope: Scope<'_>,
    stem: &str,
) -> ServiceResult<Export> {
    let version = env!("CARGO_PKG_VERSION");
    let json = |v: serde_json::Result<String>| v.map(String::into_bytes).map_err(ServiceError::internal);
    let (ext, body) = match format {
        ReportFormat::Xccdf => ("xml", export::xccdf::write(reports, version).into_bytes()),
        ReportFormat::Sarif => {
            ("sarif", json(serde_json::to_string(&export::sarif::write(reports, version)))?)
        }
        ReportFormat::OscalAr => {
            ("json", json(serde_json::to_string(&export::oscal::assessment_results(reports, version)))?)
        }
        ReportFormat::OscalPoam => {
            let poam =
                export::oscal::poam(reports, version).map_err(|e| ServiceError::Conflict(e.to_string()))?;
            ("json", json(serde_json::to_string(&poam))?)
        }
        ReportFormat::Html => {
            ("html", export::html::write(&summary::build(reports, rules, version, scope)).into_bytes())
        }
        ReportFormat::Pdf => (
            "pdf",
            openwatch_pdf::render(&summary::build(reports, rules, version, scope))
                .map_err(ServiceError::internal)?,
        ),
    };
    let kind = match format {
        ReportFormat::OscalAr => "assessment-results",
        ReportFormat::OscalPoam => "poam",
        ReportFormat::Pdf | ReportFormat::Html => "report",
        ReportFormat::Xccdf | ReportFormat::Sarif => "results",
    };
    Ok(Export { filename: format!("{stem}-{kind}.{ext}"), content_type: content_type(format), body })
}

/// The media type a format is served with.
pub(crate) fn content_type(format: ReportFormat) -> &'static str {
    match format {
        ReportFormat::Pdf => "application/pdf",
        ReportFormat::Html => "text/html; charset=utf-8",
        ReportFormat::Xccdf => "application/xml",
        ReportFormat::Sarif => "application/sarif+json",
        ReportFormat::OscalAr | ReportFormat::OscalPoam => "application/json",
    }
}

/// One stored scan as a document.
pub async fn scan_document(
    state: &AppState,
    scan: &Scan,
    rows: Vec<StoredResult>,
    format: ReportFormat,
) -> ServiceResult<Export> {
    let report = scan_report(state, scan, rows).await?;
    let (rules, stem) = (state.library.rules.clone(), format!("scan-{}", scan.id));
    tokio::task::spawn_blocking(move || {
        draw(std::slice::from_ref(&report), &rules, format, Scope::default(), &stem)
    })
    .await
    .map_err(ServiceError::internal)?
}
