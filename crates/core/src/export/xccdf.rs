//! XCCDF 1.2 results: a `Benchmark` holding the rules that were evaluated and one
//! `TestResult` per host, the shape OpenSCAP's `--results` writes, so tools that read
//! OpenSCAP's output (report generators, SCAP-aware GRC tools) read ours.
//!
//! Verdicts map to XCCDF results: pass, fail, error, `notapplicable`, `notchecked`
//! (skipped). An accepted risk is `informational` with a warning message that starts with
//! [`ACCEPTED_RISK`] and names the exception, its expiry and justification, so the failure
//! stays visible and the file round-trips. (Not an `override`: OpenSCAP's schematron then
//! rejects every other result of the host.)

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::escape as esc;
use crate::eval::Status;
use crate::report::{RuleResult, ScanReport};

/// The reverse-DNS part of every XCCDF id we write (`xccdf_<this>_rule_<id>`).
pub const NAMESPACE: &str = "org.openwatch";
/// How the message of an accepted failure begins.
pub const ACCEPTED_RISK: &str = "Accepted risk";
/// The checking system of every rule: OpenWatch's typed checks, named by rule id.
pub const CHECK_SYSTEM: &str = "urn:openwatch:check:v1";
/// Where a rule's ComplianceAsCode equivalents are named (`ident@system`).
pub const SSG_IDENT_SYSTEM: &str = "https://github.com/ComplianceAsCode/content";

/// The XCCDF document for these reports, written by OpenWatch `version`.
pub fn write(reports: &[ScanReport], version: &str) -> String {
    let mut rules: BTreeMap<&str, &RuleResult> = BTreeMap::new();
    for r in reports.iter().flat_map(|r| &r.results) {
        rules.entry(&r.rule_id).or_insert(r);
    }
    let mut x = String::new();
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<Benchmark xmlns=\"http://checklists.nist.gov/xccdf/1.2\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" id=\"xccdf_{NAMESPACE}_benchmark_openwatch\" \
         resolved=\"1\" xml:lang=\"en\" style=\"SCAP_1.2\">"
    );
    x.push_str("  <status>accepted</status>\n  <title>OpenWatch rule library</title>\n");
    let _ = writeln!(
        x,
        "  <description>Results of an OpenWatch scan ({} host{}).</description>",
        reports.len(),
        if reports.len() == 1 { "" } else { "s" }
    );
    let _ = writeln!(x, "  <version>{}</version>", esc(version));
    x.push_str("  <metadata><dc:creator>OpenWatch</dc:creator></metadata>\n");
    for r in rules.values() {
        rule(&mut x, r);
    }
    let mut ids = BTreeMap::<String, usize>::new();
    for report in reports {
        test_result(&mut x, report, version, &mut ids);
    }
    x.push_str("</Benchmark>\n");
    x
}

/// An XCCDF rule id for an OpenWatch rule id.
pub fn rule_id(id: &str) -> String {
    format!("xccdf_{NAMESPACE}_rule_{id}")
}

/// The XCCDF result name of a verdict.
pub fn result_name(s: Status) -> &'static str {
    match s {
        Status::Pass => "pass",
        Status::Fail => "fail",
        Status::Error => "error",
        Status::NotApplicable => "notapplicable",
        Status::Skipped => "notchecked",
        Status::Excepted => "informational",
    }
}

fn rule(x: &mut String, r: &RuleResult) {
    let _ = writeln!(
        x,
        "  <Rule id=\"{}\" selected=\"true\" severity=\"{}\">",
        esc(&rule_id(&r.rule_id)),
        r.severity.as_str()
    );
    let _ = writeln!(x, "    <title>{}</title>", esc(&r.title));
    let refs = &r.references;
    for (platform, cis) in &refs.cis {
        reference(x, &format!("CIS {platform}"), cis.section.as_str());
    }
    for (platform, stigs) in &refs.stig {
        for s in stigs.iter() {
            reference(x, &format!("DISA STIG {platform}"), s.stig_id.as_str());
        }
    }
    for (source, ids) in [
        ("NIST SP 800-53", &refs.nist_800_53),
        ("NIST SP 800-171", &refs.nist_800_171),
        ("PCI DSS 4.0", &refs.pci_dss_4),
        ("ISO/IEC 27001:2022", &refs.iso_27001_2022),
    ] {
        for id in ids {
            reference(x, source, id);
        }
    }
    for ssg in &refs.ssg {
        let _ = writeln!(x, "    <ident system=\"{SSG_IDENT_SYSTEM}\">{}</ident>", esc(ssg));
    }
    check(x, "    ", &r.rule_id);
    x.push_str("  </Rule>\n");
}

/// A `reference` naming the source in Dublin Core terms and the identifier as its text.
fn reference(x: &mut String, source: &str, id: &str) {
    let _ = writeln!(
        x,
        "    <reference><dc:publisher>{}</dc:publisher><dc:identifier>{}</dc:identifier></reference>",
        esc(source),
        esc(id)
    );
}

fn test_result(x: &mut String, report: &ScanReport, version: &str, ids: &mut BTreeMap<String, usize>) {
    let host = &report.host;
    let base: String = host
        .name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '-' })
        .collect();
    let n = ids.entry(base.clone()).or_default();
    *n += 1;
    let id = if *n == 1 { base } else { format!("{base}-{n}") };
    let _ = writeln!(
        x,
        "  <TestResult id=\"xccdf_{NAMESPACE}_testresult_{}\" test-system=\"cpe:/a:openwatch:openwatch:{}\" \
         start-time=\"{}\" end-time=\"{}\">",
        esc(&id),
        esc(version),
        esc(&report.started_at),
        esc(&report.finished_at)
    );
    let _ = writeln!(x, "    <benchmark href=\"#xccdf_{NAMESPACE}_benchmark_openwatch\"/>");
    let _ = writeln!(x, "    <title>OpenWatch scan of {}</title>", esc(&host.name));
    if let Some(e) = &report.error {
        let _ = writeln!(x, "    <remark>Not scanned ({}): {}</remark>", esc(&e.kind), esc(&e.message));
    }
    let _ = writeln!(x, "    <target>{}</target>", esc(&host.name));
    let _ = writeln!(x, "    <target-address>{}</target-address>", esc(&host.address));
    x.push_str("    <target-facts>\n");
    fact(x, "urn:xccdf:fact:asset:identifier:host_name", &host.name);
    for (name, value) in [
        ("urn:openwatch:fact:os:id", &host.platform.id),
        ("urn:openwatch:fact:os:version", &host.platform.version),
        ("urn:openwatch:fact:os:pretty_name", &host.platform.pretty_name),
    ] {
        if let Some(v) = value {
            fact(x, name, v);
        }
    }
    x.push_str("    </target-facts>\n");
    for r in &report.results {
        rule_result(x, report, r);
    }
    let pass = report.results.iter().filter(|r| r.verdict == Status::Pass).count();
    let fail = report.results.iter().filter(|r| r.verdict == Status::Fail).count();
    let score = if pass + fail == 0 { 0.0 } else { pass as f64 * 100.0 / (pass + fail) as f64 };
    let _ = writeln!(x, "    <score system=\"urn:xccdf:scoring:default\" maximum=\"100\">{score:.2}</score>");
    x.push_str("  </TestResult>\n");
}

fn fact(x: &mut String, name: &str, value: &str) {
    let _ = writeln!(x, "      <fact name=\"{}\" type=\"string\">{}</fact>", esc(name), esc(value));
}

fn rule_result(x: &mut String, report: &ScanReport, r: &RuleResult) {
    let time = r.evidence.first().map_or(report.finished_at.as_str(), |e| e.collected_at.as_str());
    let _ = writeln!(
        x,
        "    <rule-result idref=\"{}\" severity=\"{}\" time=\"{}\">",
        esc(&rule_id(&r.rule_id)),
        r.severity.as_str(),
        esc(time)
    );
    let _ = writeln!(x, "      <result>{}</result>", result_name(r.verdict));
    for ssg in &r.references.ssg {
        let _ = writeln!(x, "      <ident system=\"{SSG_IDENT_SYSTEM}\">{}</ident>", esc(ssg));
    }
    if let Some(e) = &r.exception {
        let _ = writeln!(
            x,
            "      <message severity=\"warning\">{ACCEPTED_RISK} {} until {}: the check failed; {}</message>",
            esc(&e.id),
            e.expires,
            esc(&e.justification)
        );
    }
    if !r.reason.is_empty() {
        let _ = writeln!(x, "      <message severity=\"info\">{}</message>", esc(&r.reason));
    }
    if matches!(r.verdict, Status::Fail | Status::Excepted | Status::Error) {
        for e in &r.evidence {
            let _ =
                writeln!(x, "      <message severity=\"info\">{}</message>", esc(&super::evidence_line(e)));
        }
    }
    check(x, "      ", &r.rule_id);
    x.push_str("    </rule-result>\n");
}

/// The link to the check that decided the rule: the OpenWatch rule itself.
fn check(x: &mut String, indent: &str, rule_id: &str) {
    let _ = writeln!(
        x,
        "{indent}<check system=\"{CHECK_SYSTEM}\"><check-content-ref href=\"openwatch-rules\" name=\"{}\"/></check>",
        esc(rule_id)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_map_to_xccdf_results() {
        let names: Vec<_> = Status::ALL.iter().map(|s| result_name(*s)).collect();
        assert_eq!(names, ["pass", "fail", "error", "notapplicable", "notchecked", "informational"]);
    }
}
