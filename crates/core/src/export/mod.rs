//! Scan results in the interchange formats other tools read: XCCDF 1.2 results (OpenSCAP's
//! consumers), SARIF 2.1.0 (CI systems), OSCAL (GRC tools), and for people the
//! [`summary`] a report says, drawn as a self-contained HTML page here (and as a PDF by the
//! `openwatch-pdf` crate). Pure: documents are built in memory from
//! [`ScanReport`](crate::report::ScanReport)s; the caller writes them.

pub mod html;
pub mod oscal;
pub mod sarif;
pub mod summary;
pub mod xccdf;

use crate::eval::Evidence;
use crate::report::ScanReport;

/// When the reports' scans ran: the earliest start and the latest finish (RFC 3339), empty
/// for no reports.
pub(crate) fn period(reports: &[ScanReport]) -> (&str, &str) {
    let start = reports.iter().map(|r| r.started_at.as_str()).min().unwrap_or_default();
    let end = reports.iter().map(|r| r.finished_at.as_str()).max().unwrap_or_default();
    (start, end)
}

/// One piece of evidence in a line: `source: expected X, found Y`.
pub(crate) fn evidence_line(e: &Evidence) -> String {
    format!("{}: expected {}, found {}", e.source, e.expected, e.actual)
}

/// Text and attribute values escaped for XML; characters XML 1.0 cannot carry at all
/// (most C0 controls) become U+FFFD.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn escaping_covers_markup_and_controls() {
        assert_eq!(super::escape("a<b>&\"c'\u{1}\n"), "a&lt;b&gt;&amp;&quot;c&apos;\u{FFFD}\n");
    }
}
