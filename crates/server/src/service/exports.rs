//! Downloads: a scan's results and a host's current compliance, as CSV or JSON. Both
//! surfaces serve the same bytes. CSV cells that a spreadsheet would run as a formula are
//! neutralised.

use openwatch_store::{PageRequest, ResultQuery};
use serde_json::json;

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

/// A file to download.
#[derive(Debug)]
pub struct Export {
    pub filename: String,
    pub content_type: &'static str,
    pub body: String,
}

/// One CSV cell: quoted when needed; a leading `=`, `+`, `-`, `@`, tab or carriage return
/// gets a `'` so spreadsheets show the text instead of evaluating it.
pub fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{s}") } else { s.to_owned() };
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s }
}

fn csv(header: &str, rows: impl Iterator<Item = Vec<String>>) -> String {
    let mut out = format!("{header}\n");
    for r in rows {
        out.push_str(&r.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
        out.push('\n');
    }
    out
}

fn title(state: &AppState, rule_id: &str) -> String {
    state.library.rule(rule_id).map_or(String::new(), |x| x.raw.title.as_str().to_owned())
}

pub async fn scan_results(
    state: &AppState,
    _: &Grant<ScansRead>,
    id: i64,
    format: Format,
) -> ServiceResult<Export> {
    state.store().scan(id).await?.ok_or(ServiceError::NotFound("scan"))?;
    let rows = state
        .store()
        .scan_results(id, &ResultQuery::default(), PageRequest::new(None, Some(PageRequest::MAX_PER_PAGE)))
        .await?
        .items;
    Ok(match format {
        Format::Csv => Export {
            filename: format!("scan-{id}.csv"),
            content_type: "text/csv; charset=utf-8",
            body: csv(
                "rule_id,title,severity,verdict,reason",
                rows.into_iter().map(|r| {
                    let t = title(state, &r.rule_id);
                    vec![r.rule_id, t, r.severity.as_str().into(), r.verdict.as_str().into(), r.reason]
                }),
            ),
        },
        Format::Json => Export {
            filename: format!("scan-{id}.json"),
            content_type: "application/json",
            body: json!({"scan_id": id, "results": rows}).to_string(),
        },
    })
}

pub async fn host_compliance(
    state: &AppState,
    _: &Grant<HostsRead>,
    id: i64,
    format: Format,
) -> ServiceResult<Export> {
    state.store().host(id).await?.ok_or(ServiceError::NotFound("host"))?;
    let rows = state.store().host_state(id, &ResultQuery::default()).await?;
    Ok(match format {
        Format::Csv => Export {
            filename: format!("host-{id}-compliance.csv"),
            content_type: "text/csv; charset=utf-8",
            body: csv(
                "rule_id,title,severity,verdict,since",
                rows.into_iter().map(|r| {
                    let t = title(state, &r.rule_id);
                    vec![
                        r.rule_id,
                        t,
                        r.severity.as_str().into(),
                        r.verdict.as_str().into(),
                        crate::timefmt::when(Some(r.since_at)),
                    ]
                }),
            ),
        },
        Format::Json => Export {
            filename: format!("host-{id}-compliance.json"),
            content_type: "application/json",
            body: json!({"host_id": id, "rules": rows}).to_string(),
        },
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
