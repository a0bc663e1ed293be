//! Printing scan reports and rule listings in the formats users ask for.

mod csv;
mod table;

use std::io::Write;

use anyhow::Result;
use openwatch_core::export;
use openwatch_core::report::ScanReport;

use crate::cli::ScanFormat;

pub use csv::csv_row;
pub use table::Table;

/// Several hosts: `openwatch.fleet/v1` (JSON), one row per host and rule (CSV), or a
/// table of hosts.
pub fn write_fleet(
    out: &mut dyn Write,
    reports: &[ScanReport],
    wall_ms: u64,
    format: ScanFormat,
) -> Result<()> {
    let summary = fleet_summary(reports, wall_ms);
    match format {
        ScanFormat::Json | ScanFormat::Jsonl => {
            let doc = serde_json::json!({"schema": openwatch_core::report::FLEET_SCHEMA, "hosts": reports, "summary": summary});
            serde_json::to_writer_pretty(&mut *out, &doc)?;
            writeln!(out)?;
        }
        ScanFormat::Csv => csv::write_fleet(out, reports)?,
        ScanFormat::Table => table::write_fleet(out, reports, &summary)?,
        ScanFormat::Sarif | ScanFormat::Xccdf => write_interchange(out, reports, format)?,
    }
    Ok(())
}

/// Totals over the fleet.
pub fn fleet_summary(reports: &[ScanReport], wall_ms: u64) -> serde_json::Value {
    let mut verdicts = serde_json::Map::new();
    for key in ["pass", "fail", "error", "not_applicable", "skipped", "excepted"] {
        let n: usize = reports.iter().map(|r| r.summary.get(key).copied().unwrap_or(0)).sum();
        verdicts.insert(key.to_owned(), n.into());
    }
    let failed = reports.iter().filter(|r| r.error.is_some()).count();
    serde_json::json!({
        "hosts": reports.len(),
        "hosts_scanned": reports.len() - failed,
        "hosts_failed": failed,
        "verdicts": verdicts,
        "wall_ms": wall_ms,
        "client_cpu_ms": crate::resources::cpu_ms(),
        "client_peak_rss_kib": crate::resources::peak_rss_kib(),
    })
}

pub fn write_report(out: &mut dyn Write, doc: &ScanReport, format: ScanFormat) -> Result<()> {
    match format {
        ScanFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, doc)?;
            writeln!(out)?;
        }
        ScanFormat::Jsonl => {
            serde_json::to_writer(&mut *out, doc)?;
            writeln!(out)?;
        }
        ScanFormat::Csv => csv::write_report(out, doc)?,
        ScanFormat::Table => table::write_report(out, doc)?,
        ScanFormat::Sarif | ScanFormat::Xccdf => write_interchange(out, std::slice::from_ref(doc), format)?,
    }
    Ok(())
}

/// SARIF or XCCDF for one host or several (`openwatch_core::export`).
fn write_interchange(out: &mut dyn Write, reports: &[ScanReport], format: ScanFormat) -> Result<()> {
    let version = env!("CARGO_PKG_VERSION");
    if format == ScanFormat::Sarif {
        serde_json::to_writer_pretty(&mut *out, &export::sarif::write(reports, version))?;
        writeln!(out)?;
    } else {
        out.write_all(export::xccdf::write(reports, version).as_bytes())?;
    }
    Ok(())
}
