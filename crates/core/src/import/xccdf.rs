//! XCCDF results from other scanners (OpenSCAP's `--results` and `--results-arf`, or
//! OpenWatch's own `--format xccdf`): every `TestResult` in the document, wherever it sits
//! (a Benchmark, an ARF report, or on its own), in XCCDF 1.2 or 1.1, whatever the namespace
//! prefixes. All or nothing: one bad element fails the whole file, naming where.

use roxmltree::Node;

use super::{ImportError, ImportedHost, ImportedResult};
use crate::eval::Status;

const XCCDF_12: &str = "http://checklists.nist.gov/xccdf/1.2";
const XCCDF_11: &str = "http://checklists.nist.gov/xccdf/1.1";

/// Parse an XCCDF (or ARF) results document; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Vec<ImportedHost>, ImportError> {
    let doc = super::xml(file, text)?;
    let at = |n: Node, what: String| {
        let pos = doc.text_pos_at(n.range().start);
        ImportError::new(file, pos.row, pos.col, what)
    };
    let mut hosts = Vec::new();
    for tr in doc.descendants().filter(|n| is(n, "TestResult")) {
        let target = child(tr, "target")
            .and_then(|t| t.text())
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| at(tr, "a TestResult without a <target>".into()))?;
        let mut results = Vec::new();
        for rr in tr.children().filter(|n| is(n, "rule-result")) {
            let rule = rr.attribute("idref").ok_or_else(|| at(rr, "a rule-result without idref".into()))?;
            let raw = child(rr, "result").and_then(|r| r.text()).map(str::trim).unwrap_or("");
            if raw == "notselected" {
                // Outside the profile that was run: no result at all (OpenSCAP lists every rule).
                continue;
            }
            let messages: Vec<String> = rr
                .children()
                .filter(|n| is(n, "message"))
                .filter_map(|m| m.text())
                .map(str::to_owned)
                .collect();
            let verdict = verdict(raw, &messages).ok_or_else(|| {
                at(rr, format!("rule-result {rule}: result {raw:?} is not an XCCDF result"))
            })?;
            results.push(ImportedResult {
                rule: rule.to_owned(),
                result: raw.to_owned(),
                verdict,
                severity: rr.attribute("severity").map(str::to_owned),
                idents: rr
                    .children()
                    .filter(|n| is(n, "ident"))
                    .filter_map(|i| i.text())
                    .map(str::to_owned)
                    .collect(),
                message: messages.into_iter().next(),
                // A rule-result cites no framework; its rule id ties it (Correlator::rule).
                references: Vec::new(),
            });
        }
        hosts.push(ImportedHost {
            target: target.to_owned(),
            addresses: tr
                .children()
                .filter(|n| is(n, "target-address"))
                .filter_map(|a| a.text())
                .map(str::to_owned)
                .collect(),
            started_at: tr.attribute("start-time").map(str::to_owned),
            finished_at: tr.attribute("end-time").map(str::to_owned),
            profile: child(tr, "profile").and_then(|p| p.attribute("idref")).map(str::to_owned),
            test_system: tr.attribute("test-system").map(str::to_owned),
            results,
        });
    }
    if hosts.is_empty() {
        let root = doc.root_element();
        return Err(at(root, format!("no XCCDF TestResult in this <{}> document", root.tag_name().name())));
    }
    Ok(hosts)
}

fn is(n: &Node, name: &str) -> bool {
    n.is_element()
        && n.tag_name().name() == name
        && matches!(n.tag_name().namespace(), Some(XCCDF_12 | XCCDF_11))
}

fn child<'a, 'i>(n: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    n.children().find(|c| is(c, name))
}

/// OpenWatch's verdict for an XCCDF result. `informational` is an accepted risk when its
/// first message says so (OpenWatch's own export), otherwise not a verdict at all (skipped).
fn verdict(result: &str, messages: &[String]) -> Option<Status> {
    Some(match result {
        "pass" | "fixed" => Status::Pass,
        "fail" => Status::Fail,
        "error" | "unknown" => Status::Error,
        "notapplicable" => Status::NotApplicable,
        "notchecked" => Status::Skipped,
        "informational"
            if messages.first().is_some_and(|m| m.starts_with(crate::export::xccdf::ACCEPTED_RISK)) =>
        {
            Status::Excepted
        }
        "informational" => Status::Skipped,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARF: &str = r#"<?xml version="1.0"?>
<arf:asset-report-collection xmlns:arf="http://scap.nist.gov/schema/asset-reporting-format/1.1">
  <arf:reports><arf:report id="r1"><arf:content>
    <x:TestResult xmlns:x="http://checklists.nist.gov/xccdf/1.2" id="xccdf_org.open-scap_testresult_p"
        start-time="2026-12-01T10:00:00+00:00" end-time="2026-12-01T10:01:00+00:00" test-system="cpe:/a:redhat:openscap:1.3.7">
      <x:profile idref="xccdf_org.ssgproject.content_profile_standard"/>
      <x:target>web-01</x:target>
      <x:target-address>192.0.2.10</x:target-address>
      <x:rule-result idref="xccdf_org.ssgproject.content_rule_sshd_set_max_auth_tries" severity="medium">
        <x:result>fail</x:result>
        <x:ident system="https://ncp.nist.gov/cce">CCE-83500-3</x:ident>
      </x:rule-result>
      <x:rule-result idref="xccdf_org.ssgproject.content_rule_package_telnet_removed"><x:result>notselected</x:result></x:rule-result>
    </x:TestResult>
  </arf:content></arf:report></arf:reports>
</arf:asset-report-collection>"#;

    #[test]
    fn arf_with_prefixes_is_read() {
        let hosts = parse("r.xml", ARF).unwrap();
        assert_eq!(hosts.len(), 1);
        let h = &hosts[0];
        assert_eq!((h.target.as_str(), h.addresses.as_slice()), ("web-01", &["192.0.2.10".to_owned()][..]));
        assert_eq!(h.profile.as_deref(), Some("xccdf_org.ssgproject.content_profile_standard"));
        assert_eq!(h.results.len(), 1, "rules outside the profile (notselected) are left out");
        assert_eq!(
            (h.results[0].verdict, h.results[0].idents.as_slice()),
            (Status::Fail, &["CCE-83500-3".to_owned()][..])
        );
    }

    #[test]
    fn bad_files_name_what_and_where() {
        let e = parse("r.xml", "<a><b></a>").unwrap_err();
        assert!(e.to_string().starts_with("r.xml:1:"), "{e}");
        let bad = ARF.replace("<x:result>fail</x:result>", "<x:result>failed</x:result>");
        let e = parse("r.xml", &bad).unwrap_err().to_string();
        assert!(
            e.starts_with("r.xml:9:7: rule-result xccdf_org.ssgproject.content_rule_sshd_set_max_auth_tries"),
            "{e}"
        );
        assert!(e.contains("\"failed\""), "{e}");
        let e = parse("r.xml", "<Benchmark xmlns=\"http://checklists.nist.gov/xccdf/1.2\"/>").unwrap_err();
        assert_eq!(e.to_string(), "r.xml:1:1: no XCCDF TestResult in this <Benchmark> document");
        let none = ARF.replace("<x:target>web-01</x:target>", "");
        assert!(parse("r.xml", &none).unwrap_err().to_string().contains("without a <target>"));
    }

    #[test]
    fn accepted_risks_come_back_as_excepted() {
        let msg = |m: &str| vec![m.to_owned()];
        assert_eq!(
            verdict("informational", &msg("Accepted risk EX-1 until 2027-01-01: x")),
            Some(Status::Excepted)
        );
        assert_eq!(verdict("informational", &msg("Just so you know")), Some(Status::Skipped));
        assert_eq!(verdict("fixed", &[]), Some(Status::Pass));
        assert_eq!(verdict("passed", &[]), None);
    }
}
