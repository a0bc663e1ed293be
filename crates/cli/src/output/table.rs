//! Plain aligned text tables for terminals.

use std::io::Write;

use anyhow::Result;
use openwatch_core::report::ScanReport;

/// A table whose columns are as wide as their widest cell (the last column is not padded).
#[derive(Debug, Default)]
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table { rows: vec![header.iter().map(|s| (*s).to_owned()).collect()] }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn write(&self, out: &mut dyn Write) -> Result<()> {
        let cols = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..cols)
            .map(|c| self.rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0))
            .collect();
        for row in &self.rows {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                if i + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    line.push_str(&format!("{cell:<w$}  ", w = widths[i]));
                }
            }
            writeln!(out, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

pub fn write_report(out: &mut dyn Write, doc: &ScanReport) -> Result<()> {
    let mut t = Table::new(&["VERDICT", "SEVERITY", "RULE", "REASON"]);
    for r in &doc.results {
        let mut reason = match &r.exception {
            Some(e) => {
                format!("[excepted by {} until {}: {}] {}", e.id, e.expires, e.justification, r.reason)
            }
            None => r.reason.clone(),
        }
        .replace('\n', " ");
        if reason.chars().count() > 140 {
            reason = reason.chars().take(137).collect::<String>() + "...";
        }
        t.row(vec![r.verdict.as_str().to_owned(), r.severity.as_str().to_owned(), r.rule_id.clone(), reason]);
    }
    t.write(out)?;
    let p = &doc.host.platform;
    writeln!(out)?;
    writeln!(
        out,
        "host {} ({}) | {} rules in {} ms ({} facts, {} round trip(s), {} bytes)",
        doc.host.name,
        p.pretty_name.as_deref().or(p.id.as_deref()).unwrap_or("unknown platform"),
        doc.stats.rules_evaluated,
        doc.stats.duration_ms,
        doc.stats.facts_collected,
        doc.stats.round_trips,
        doc.stats.bytes_transferred
    )?;
    let s = &doc.summary;
    writeln!(
        out,
        "pass {}  fail {}  error {}  not_applicable {}  skipped {}  excepted {}",
        s["pass"], s["fail"], s["error"], s["not_applicable"], s["skipped"], s["excepted"]
    )?;
    Ok(())
}

pub fn write_fleet(out: &mut dyn Write, reports: &[ScanReport], summary: &serde_json::Value) -> Result<()> {
    let mut t =
        Table::new(&["HOST", "ADDRESS", "PASS", "FAIL", "ERROR", "N/A", "SKIPPED", "EXCEPTED", "MS", "NOTE"]);
    for r in reports {
        let s = &r.summary;
        let note = match (&r.error, &r.host.host_key) {
            (Some(e), _) => format!("NOT SCANNED ({}): {}", e.kind, e.message),
            (None, Some(k)) if k.status == "accepted-new" => {
                format!("host key {} accepted on first use", k.fingerprint)
            }
            _ => String::new(),
        };
        t.row(vec![
            r.host.name.clone(),
            r.host.address.clone(),
            s["pass"].to_string(),
            s["fail"].to_string(),
            s["error"].to_string(),
            s["not_applicable"].to_string(),
            s["skipped"].to_string(),
            s["excepted"].to_string(),
            r.stats.duration_ms.to_string(),
            note,
        ]);
    }
    t.write(out)?;
    writeln!(
        out,
        "\n{} host(s): {} scanned, {} not scanned, in {} ms",
        summary["hosts"], summary["hosts_scanned"], summary["hosts_failed"], summary["wall_ms"]
    )?;
    Ok(())
}
