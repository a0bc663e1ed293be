//! RFC 4180 CSV.

use std::io::Write;

use anyhow::Result;
use openwatch_core::report::ScanReport;

fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

pub fn csv_row(fields: &[&str]) -> String {
    fields
        .iter()
        .map(|f| field(f))
        .collect::<Vec<_>>()
        .join(",")
}

pub fn write_report(out: &mut dyn Write, doc: &ScanReport) -> Result<()> {
    writeln!(
        out,
        "{}",
        csv_row(&[
            "host",
            "rule_id",
            "title",
            "severity",
            "verdict",
            "reason",
            "cis_debian12",
            "nist_800_53",
            "ssg"
        ])
    )?;
    for r in &doc.results {
        let cis = r.references.controls("cis_debian12").join(" ");
        let nist = r.references.nist_800_53.join(" ");
        let ssg = r.references.ssg.join(" ");
        writeln!(
            out,
            "{}",
            csv_row(&[
                &doc.host.name,
                &r.rule_id,
                &r.title,
                r.severity.as_str(),
                r.verdict.as_str(),
                &r.reason,
                &cis,
                &nist,
                &ssg
            ])
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_when_needed() {
        assert_eq!(
            csv_row(&["a", "b,c", "say \"hi\"", "x\ny"]),
            "a,\"b,c\",\"say \"\"hi\"\"\",\"x\ny\""
        );
    }
}
