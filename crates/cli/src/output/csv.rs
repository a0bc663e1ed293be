//! RFC 4180 CSV.

use std::io::Write;

use anyhow::Result;
use openwatch_core::report::ScanReport;

fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_owned() }
}

pub fn csv_row(fields: &[&str]) -> String {
    fields.iter().map(|f| field(f)).collect::<Vec<_>>().join(",")
}

const HEADER: [&str; 10] = [
    "host",
    "rule_id",
    "title",
    "severity",
    "verdict",
    "reason",
    "cis_debian12",
    "nist_800_53",
    "ssg",
    "exception",
];

pub fn write_report(out: &mut dyn Write, doc: &ScanReport) -> Result<()> {
    writeln!(out, "{}", csv_row(&HEADER))?;
    write_rows(out, doc)
}

/// One header, then every host's rows; a host that was not scanned gets one `error` row.
pub fn write_fleet(out: &mut dyn Write, reports: &[ScanReport]) -> Result<()> {
    writeln!(out, "{}", csv_row(&HEADER))?;
    for doc in reports {
        if let Some(e) = &doc.error {
            writeln!(out, "{}", csv_row(&[&doc.host.name, "", "", "", "error", &e.message, "", "", "", ""]))?;
        }
        write_rows(out, doc)?;
    }
    Ok(())
}

fn write_rows(out: &mut dyn Write, doc: &ScanReport) -> Result<()> {
    for r in &doc.results {
        let cis = r.references.controls("cis_debian12").join(" ");
        let nist = r.references.nist_800_53.join(" ");
        let ssg = r.references.ssg.join(" ");
        let exception = r.exception.as_ref().map_or("", |e| e.id.as_str());
        let row = [
            doc.host.name.as_str(),
            &r.rule_id,
            &r.title,
            r.severity.as_str(),
            r.verdict.as_str(),
            &r.reason,
            &cis,
            &nist,
            &ssg,
            exception,
        ];
        writeln!(out, "{}", csv_row(&row))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_when_needed() {
        assert_eq!(csv_row(&["a", "b,c", "say \"hi\"", "x\ny"]), "a,\"b,c\",\"say \"\"hi\"\"\",\"x\ny\"");
    }
}
