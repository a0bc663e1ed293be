//! Nessus `.nessus` (v2) compliance results: every `ReportHost`, and in it every
//! `ReportItem` of a compliance audit (the `cm:compliance-*` elements, whatever the prefix);
//! vulnerability findings are not compliance results and are left out. A check's CIS section
//! and NIST controls come from `compliance-reference` (`800-53|AC-7,CIS|5.2.7`) or, for CIS
//! audits, the section number that starts its name. All or nothing: one bad item fails the
//! whole file, naming where.

use roxmltree::Node;

use super::{ForeignRef, ImportError, ImportedHost, ImportedResult};
use crate::eval::Status;

/// Parse a `.nessus` file; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Vec<ImportedHost>, ImportError> {
    let doc = super::xml(file, text)?;
    let at = |n: Node, what: String| {
        let pos = doc.text_pos_at(n.range().start);
        ImportError::new(file, pos.row, pos.col, what)
    };
    let root = doc.root_element();
    if root.tag_name().name() != "NessusClientData_v2" {
        return Err(at(
            root,
            format!("<{}> is not a Nessus v2 report (NessusClientData_v2)", root.tag_name().name()),
        ));
    }
    let mut hosts = Vec::new();
    for host in root.descendants().filter(|n| n.has_tag_name("ReportHost")) {
        let name = host.attribute("name").ok_or_else(|| at(host, "a ReportHost without a name".into()))?;
        let tag = |want: &str| {
            host.children()
                .filter(|n| n.has_tag_name("HostProperties"))
                .flat_map(|p| p.children())
                .find(|t| t.has_tag_name("tag") && t.attribute("name") == Some(want))
                .and_then(|t| t.text())
                .map(|t| t.trim().to_owned())
        };
        let mut results = Vec::new();
        for item in host.children().filter(|n| n.has_tag_name("ReportItem")) {
            let cm = |local: &str| {
                item.children()
                    .find(|n| n.is_element() && n.tag_name().name() == local)
                    .and_then(|n| n.text())
                    .map(str::trim)
            };
            let Some(raw) = cm("compliance-result") else { continue };
            let check = cm("compliance-check-name")
                .filter(|n| !n.is_empty())
                .ok_or_else(|| at(item, "a compliance result without a compliance-check-name".into()))?;
            let verdict = match raw {
                "PASSED" => Status::Pass,
                "FAILED" => Status::Fail,
                // WARNING: the audit could not decide and asks for a manual check.
                "WARNING" => Status::Skipped,
                "ERROR" => Status::Error,
                other => {
                    return Err(at(
                        item,
                        format!("check {check:?}: result {other:?} is not PASSED, FAILED, WARNING or ERROR"),
                    ));
                }
            };
            let message = match (cm("compliance-actual-value"), cm("compliance-policy-value")) {
                (Some(actual), Some(policy)) => Some(format!("found {actual}; the policy wants {policy}")),
                (Some(actual), None) => Some(format!("found {actual}")),
                _ => cm("compliance-info").map(str::to_owned),
            };
            results.push(ImportedResult {
                rule: cm("compliance-check-id").filter(|i| !i.is_empty()).unwrap_or(check).to_owned(),
                result: raw.to_owned(),
                verdict,
                severity: item.attribute("severity").and_then(severity).map(str::to_owned),
                idents: vec![check.to_owned()],
                message,
                references: references(cm("compliance-reference").unwrap_or(""), check),
            });
        }
        hosts.push(ImportedHost {
            target: tag("host-fqdn").unwrap_or_else(|| name.to_owned()),
            addresses: tag("host-ip").into_iter().collect(),
            started_at: tag("HOST_START"),
            finished_at: tag("HOST_END"),
            profile: None,
            test_system: Some("nessus".to_owned()),
            results,
        });
    }
    Ok(hosts)
}

fn severity(s: &str) -> Option<&'static str> {
    Some(match s {
        "0" => "info",
        "1" => "low",
        "2" => "medium",
        "3" => "high",
        "4" => "critical",
        _ => return None,
    })
}

/// `800-53|AC-7,CSCv7|16.13,CIS|5.2.7`: NIST and CIS references; without a CIS one, the
/// section that starts a CIS audit's check name (`5.2.7 Ensure ...`).
fn references(reference: &str, check: &str) -> Vec<ForeignRef> {
    let mut out = Vec::new();
    for part in reference.split(',') {
        let Some((scheme, id)) = part.split_once('|') else { continue };
        match scheme.trim() {
            s if s.starts_with("800-53") => out.push(ForeignRef::new("nist_800_53", id)),
            "CIS" | "CIS_Recommendation" => out.push(ForeignRef::new("cis", id)),
            other => out.push(ForeignRef::new(other, id)),
        }
    }
    if !out.iter().any(|r| r.scheme == "cis") {
        let first = check.split_whitespace().next().unwrap_or_default();
        if first.contains('.')
            && first.split('.').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        {
            out.push(ForeignRef::new("cis", first));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"<?xml version="1.0" ?>
<NessusClientData_v2>
<Report name="weekly" xmlns:cm="http://www.nessus.org/cm">
<ReportHost name="192.0.2.10"><HostProperties>
<tag name="host-ip">192.0.2.10</tag><tag name="host-fqdn">web-1.example.com</tag>
</HostProperties>
<ReportItem port="0" svc_name="general" protocol="tcp" severity="3" pluginID="21157" pluginName="Unix Compliance Checks" pluginFamily="Policy Compliance">
<cm:compliance-check-name>5.1.7 Ensure sshd MaxAuthTries is configured</cm:compliance-check-name>
<cm:compliance-check-id>0b3c</cm:compliance-check-id>
<cm:compliance-result>FAILED</cm:compliance-result>
<cm:compliance-actual-value>10</cm:compliance-actual-value>
<cm:compliance-policy-value>4</cm:compliance-policy-value>
<cm:compliance-reference>800-53|AC-7,CSCv7|16.13</cm:compliance-reference>
</ReportItem>
<ReportItem port="22" svc_name="ssh" protocol="tcp" severity="2" pluginID="70658" pluginName="SSH Server CBC Mode Ciphers Enabled" pluginFamily="Misc."></ReportItem>
<ReportItem port="0" svc_name="general" protocol="tcp" severity="1" pluginID="21157" pluginName="Unix Compliance Checks" pluginFamily="Policy Compliance">
<cm:compliance-check-name>1.1.1 Ensure cramfs is disabled</cm:compliance-check-name>
<cm:compliance-result>WARNING</cm:compliance-result>
</ReportItem>
</ReportHost>
</Report>
</NessusClientData_v2>"#;

    #[test]
    fn compliance_items_only_with_their_references() {
        let hosts = parse("s.nessus", FILE).unwrap();
        assert_eq!(
            (hosts[0].target.as_str(), hosts[0].addresses.as_slice()),
            ("web-1.example.com", &["192.0.2.10".to_owned()][..])
        );
        let r = &hosts[0].results;
        assert_eq!(r.len(), 2, "the vulnerability finding is not a compliance result");
        assert_eq!(
            (r[0].rule.as_str(), r[0].verdict, r[0].severity.as_deref()),
            ("0b3c", Status::Fail, Some("high"))
        );
        assert_eq!(r[0].message.as_deref(), Some("found 10; the policy wants 4"));
        assert!(r[0].references.contains(&ForeignRef::new("nist_800_53", "AC-7")));
        assert!(r[0].references.contains(&ForeignRef::new("cis", "5.1.7")), "{:?}", r[0].references);
        assert_eq!((r[1].verdict, r[1].rule.as_str()), (Status::Skipped, "1.1.1 Ensure cramfs is disabled"));
    }

    #[test]
    fn a_bad_file_names_where() {
        let e = parse("s.nessus", &FILE.replace(">WARNING<", ">MAYBE<")).unwrap_err();
        assert_eq!(e.line, 16, "{e}");
        assert!(e.what.contains("result \"MAYBE\" is not PASSED"), "{e}");
        let e = parse("s.nessus", "<Other/>").unwrap_err();
        assert!(e.to_string().starts_with("s.nessus:1:1: <Other> is not a Nessus v2 report"), "{e}");
    }
}
