//! Downloads: a scan's results, and current compliance (a host's, a rule's, a control's or
//! the fleet's, with the page's filters), as CSV or JSON. Both surfaces serve the same bytes. CSV cells that a spreadsheet would run as a formula are
//! neutralised.

#[path = "exports_interchange.rs"]
pub(crate) mod interchange;

use openwatch_store::{PageRequest, ReportFormat};
use serde_json::json;

use super::compliance::{self, Scope, StateParams};
use super::scans::{ResultFilter, result_query};
use super::{ServiceError, ServiceResult};
use crate::app::AppState;
use crate::auth::need::{HostsRead, ScansRead};
use crate::http::guard::Grant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

impl Format {
    pub fn parse(s: &str) -> ServiceResult<Format> {
        match s {
            "csv" => Ok(Format::Csv),
            "json" => Ok(Format::Json),
            other => Err(ServiceError::invalid("format", format!("`{other}` is not csv or json"))),
        }
    }
}

/// What a scan's export is: its results as a table, or a document for other tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanExport {
    Table(Format),
    Document(ReportFormat),
}

impl ScanExport {
    pub fn parse(s: &str) -> ServiceResult<ScanExport> {
        Ok(match s {
            "csv" | "json" => ScanExport::Table(Format::parse(s)?),
            other => match ReportFormat::parse(other) {
                Some(f) => ScanExport::Document(f),
                None => {
                    return Err(ServiceError::invalid(
                        "format",
                        format!(
                            "`{other}` is not csv, json, xccdf, sarif, oscal-ar, oscal-poam, pdf or html"
                        ),
                    ));
                }
            },
        })
    }
}

/// A file to download.
#[derive(Debug)]
pub struct Export {
    pub filename: String,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

/// One CSV cell: quoted when needed; a leading `=`, `+`, `-`, `@`, tab or carriage return
/// gets a `'` so spreadsheets show the text instead of evaluating it.
pub fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{s}") } else { s.to_owned() };
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s }
}

fn csv(header: &str, rows: impl Iterator<Item = Vec<String>>) -> Vec<u8> {
    let mut out = format!("{header}\n");
    for r in rows {
        out.push_str(&r.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
        out.push('\n');
    }
    out.into_bytes()
}

fn title(state: &AppState, rule_id: &str) -> String {
    state.library.rule(rule_id).map_or(String::new(), |x| x.raw.title.as_str().to_owned())
}

/// A scan's results with the scan page's filters, naming the host, each result's reason
/// and the control ids its rule cites.
pub async fn scan_results(
    state: &AppState,
    _: &Grant<ScansRead>,
    id: i64,
    filter: &ResultFilter,
    export: ScanExport,
) -> ServiceResult<Export> {
    let scan = state.store().scan(id).await?.ok_or(ServiceError::NotFound("scan"))?;
    let rq = result_query(&state.library, filter)?;
    let rows = state
        .store()
        .scan_results(id, &rq, PageRequest::new(None, Some(PageRequest::MAX_PER_PAGE)))
        .await?
        .items;
    let framework = filter.framework.as_deref().filter(|f| !f.is_empty());
    let format = match export {
        ScanExport::Table(f) => f,
        ScanExport::Document(d) => return interchange::scan_document(state, &scan, rows, d).await,
    };
    Ok(match format {
        Format::Csv => Export {
            filename: format!("scan-{id}.csv"),
            content_type: "text/csv; charset=utf-8",
            body: csv(
                "host,scan_id,rule_id,title,severity,verdict,reason,controls,exception_id",
                rows.into_iter().map(|r| {
                    let t = title(state, &r.rule_id);
                    let c = controls(state, &r.rule_id, framework).join("; ");
                    vec![
                        scan.host_name.clone(),
                        id.to_string(),
                        r.rule_id,
                        t,
                        r.severity.as_str().into(),
                        r.verdict.as_str().into(),
                        r.reason,
                        c,
                        r.exception_id.map(|i| i.to_string()).unwrap_or_default(),
                    ]
                }),
            ),
        },
        Format::Json => {
            let results: Vec<serde_json::Value> = rows
                .into_iter()
                .map(|r| {
                    let c = controls(state, &r.rule_id, framework);
                    let mut v = json!(r);
                    v["title"] = json!(title(state, &r.rule_id));
                    v["controls"] = json!(c);
                    v
                })
                .collect();
            Export {
                filename: format!("scan-{id}.json"),
                content_type: "application/json",
                body: json!({"scan_id": id, "host": scan.host_name, "host_id": scan.host_id, "results": results})
                    .to_string()
                    .into_bytes(),
            }
        }
    })
}

/// The control ids a rule cites: in one framework, or in every framework as `fw:id`.
fn controls(state: &AppState, rule_id: &str, framework: Option<&str>) -> Vec<String> {
    let Some(rule) = state.library.rule(rule_id) else {
        return Vec::new();
    };
    let refs = &rule.raw.references;
    match framework {
        Some(f) => refs.controls(f),
        None => state
            .library
            .frameworks()
            .flat_map(|f| refs.controls(f).into_iter().map(move |c| format!("{f}:{c}")))
            .collect(),
    }
}

/// Current verdicts across hosts with the caller's filters (a host's, a rule's, a
/// control's or the whole fleet's), with host name, reason and control ids per row.
pub async fn current_state(
    state: &AppState,
    grant: &Grant<HostsRead>,
    scope: &Scope,
    params: &StateParams,
    format: Format,
) -> ServiceResult<Export> {
    let (rows, more) = compliance::rows(state, grant, scope, params, compliance::EXPORT_LIMIT).await?;
    if more {
        return Err(ServiceError::invalid(
            "filters",
            format!(
                "the export would hold more than {} rows; narrow it by group, framework, verdict or severity",
                compliance::EXPORT_LIMIT
            ),
        ));
    }
    let framework = params.framework();
    let stem = match (scope, params.rule(), framework, params.control()) {
        (Scope::Host(id), ..) => format!("host-{id}-compliance"),
        (Scope::Fleet, Some(rule), ..) => format!("rule-{rule}-hosts"),
        (Scope::Fleet, None, Some(f), Some(c)) => format!("{f}-{c}-hosts"),
        (Scope::Fleet, ..) => "fleet-compliance".to_owned(),
    };
    // Control ids hold dots and parentheses; a file name keeps letters, digits and `.-_`.
    let stem: String =
        stem.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
    Ok(match format {
        Format::Csv => Export {
            filename: format!("{stem}.csv"),
            content_type: "text/csv; charset=utf-8",
            body: csv(
                "host,host_id,rule_id,title,severity,verdict,since,reason,controls,exception_id",
                rows.into_iter().map(|r| {
                    let t = title(state, &r.rule_id);
                    let c = controls(state, &r.rule_id, framework).join("; ");
                    vec![
                        r.host_name,
                        r.host_id.to_string(),
                        r.rule_id,
                        t,
                        r.severity.as_str().into(),
                        r.verdict.as_str().into(),
                        crate::timefmt::when(Some(r.since_at)),
                        r.reason,
                        c,
                        r.exception_id.map(|i| i.to_string()).unwrap_or_default(),
                    ]
                }),
            ),
        },
        Format::Json => {
            let items: Vec<serde_json::Value> = rows
                .into_iter()
                .map(|r| {
                    json!({"host": r.host_name, "host_id": r.host_id, "rule_id": r.rule_id,
                        "title": title(state, &r.rule_id), "severity": r.severity, "verdict": r.verdict,
                        "since": r.since_at, "scan_id": r.scan_id, "reason": r.reason,
                        "controls": controls(state, &r.rule_id, framework), "evidence_hash": r.evidence_hash,
                        "exception_id": r.exception_id})
                })
                .collect();
            Export {
                filename: format!("{stem}.json"),
                content_type: "application/json",
                body: json!({"filters": params, "generated_at": crate::app::now_ms(), "total": items.len(), "rows": items})
                    .to_string()
                    .into_bytes(),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_and_formulas_neutralised() {
        assert_eq!(csv_field("a"), "a");
        assert_eq!(csv_field("a,\"b\""), "\"a,\"\"b\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        for s in ["+1", "-2", "@SUM(A1)", "\tx"] {
            assert!(csv_field(s).trim_start_matches('"').starts_with('\''), "{s}");
        }
        assert_eq!(csv_field("a=b"), "a=b");
    }
}
