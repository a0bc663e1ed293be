//! A stored scan as the documents other tools read (XCCDF, SARIF, OSCAL Assessment Results),
//! rebuilt as the core's report from the stored results, evidence and exceptions, and written
//! by the same core writers as `openwatch scan --format` and `openwatch report`.

use std::collections::HashMap;

use openwatch_core::eval::Evidence;
use openwatch_core::exceptions::{Date, Excepted};
use openwatch_core::export;
use openwatch_core::report::{HostInfo, RuleResult, ScanReport, Stats};
use openwatch_store::{Scan, ScanStatus, StoredResult};

use super::{Document, Export};
use crate::app::AppState;
use crate::service::{ServiceError, ServiceResult};
use crate::timefmt::rfc3339;

pub async fn scan_document(
    state: &AppState,
    scan: &Scan,
    rows: Vec<StoredResult>,
    kind: Document,
) -> ServiceResult<Export> {
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
    let info = HostInfo::new(scan.host_name.clone(), address, &Default::default());
    let report = ScanReport::new(info, rfc3339(scan.started_at), finished, Stats::default(), results);
    let version = env!("CARGO_PKG_VERSION");
    let reports = std::slice::from_ref(&report);
    let (ext, content_type, body) = match kind {
        Document::Xccdf => ("xml", "application/xml", export::xccdf::write(reports, version)),
        Document::Sarif => (
            "sarif",
            "application/sarif+json",
            serde_json::to_string(&export::sarif::write(reports, version)).map_err(ServiceError::internal)?,
        ),
        Document::OscalAr => (
            "json",
            "application/json",
            serde_json::to_string(&export::oscal::assessment_results(reports, version))
                .map_err(ServiceError::internal)?,
        ),
    };
    let stem = if kind == Document::OscalAr { "assessment-results" } else { "results" };
    Ok(Export { filename: format!("scan-{}-{stem}.{ext}", scan.id), content_type, body })
}
