//! The shipped framework catalogs: STIG catalogs list every requirement, coverage reports
//! them all, and lint holds rules' STIG references to the catalogs.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn openwatch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_openwatch")).args(args).output().expect("openwatch runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn coverage(framework: &str) -> Value {
    let out = openwatch(&["rules", "coverage", "--framework", framework, "--format", "json"]);
    assert!(out.status.success(), "{framework}: {}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn stig_catalogs_list_every_requirement() {
    // (framework, requirements in the catalogued release, id prefix, vulnerability ids known)
    let stigs = [
        ("stig_rhel8", 369, "RHEL-08-", true),
        ("stig_rhel9", 445, "RHEL-09-", true),
        ("stig_ubuntu2204", 179, "UBTU-22-", true),
        ("stig_ubuntu2404", 188, "UBTU-24-", false),
    ];
    for (framework, total, prefix, with_vuln_ids) in stigs {
        let cov = coverage(framework);
        let controls = cov["controls"].as_array().unwrap();
        assert_eq!(controls.len(), total, "{framework}");
        assert_eq!(cov["total"].as_u64(), Some(total as u64), "{framework}");
        assert!(cov["unknown_references"].as_array().unwrap().is_empty(), "{framework}");
        for c in controls {
            let id = c["id"].as_str().unwrap();
            assert!(id.starts_with(prefix), "{framework}: {id}");
            assert!(["CAT I", "CAT II", "CAT III"].contains(&c["severity"].as_str().unwrap()), "{id}");
            assert_eq!(c["vuln_id"].as_str().is_some_and(|v| v.starts_with("V-")), with_vuln_ids, "{id}");
        }
        let covered = controls.iter().filter(|c| !c["rules"].as_array().unwrap().is_empty()).count();
        assert_eq!(cov["covered"].as_u64(), Some(covered as u64), "{framework}");
        assert!(covered < total, "{framework}: coverage is not claimed beyond the rules");
    }
    // A rule's STIG reference shows up under its requirement, in the table too.
    let rhel9 = coverage("stig_rhel9");
    let row = rhel9["controls"].as_array().unwrap().iter().find(|c| c["id"] == "RHEL-09-654045").unwrap();
    assert_eq!(row["vuln_id"], "V-258183");
    assert!(row["rules"].as_array().unwrap().iter().any(|r| r == "audit_rules_execution_chcon"));
    let table = text(&openwatch(&["rules", "coverage", "--framework", "stig_rhel8"]).stdout);
    assert!(table.contains("RHEL-08-010000  CAT I") && table.contains("- not covered -"), "{table}");
}

fn write_stig_rule(dir: &Path, id: &str, platform: &str, stig: &str) {
    let body = format!(
        "id: {id}\ntitle: Test rule {id}\ndescription: A test.\nrationale: Testing.\nseverity: low\n\
         category: test\nreferences:\n  stig:\n    {platform}: {stig}\n  nist_800_53: [CM-6]\n\
         platforms: [{{family: rhel}}]\nimplementations:\n  - default: true\n    check:\n      \
         file_exists: {{path: /etc/passwd}}\n    remediation: {{steps: [{{manual: {{guidance: Fix it.}}}}]}}\n"
    );
    std::fs::write(dir.join(format!("{id}.yml")), body).unwrap();
}

#[test]
fn lint_holds_stig_references_to_the_catalog() {
    let cases = [
        ("t_stig_ok", "rhel9", "{vuln_id: V-257777, stig_id: RHEL-09-211010, severity: CAT I}", None),
        (
            "t_stig_unknown",
            "rhel9",
            "{vuln_id: V-257777, stig_id: RHEL-09-999999, severity: CAT I}",
            Some("`RHEL-09-999999` is not a control of stig_rhel9"),
        ),
        (
            "t_stig_vuln",
            "rhel9",
            "{vuln_id: V-1, stig_id: RHEL-09-211010, severity: CAT I}",
            Some("`RHEL-09-211010` is V-257777 in stig_rhel9"),
        ),
        (
            "t_stig_no_vuln",
            "rhel9",
            "{stig_id: RHEL-09-211010, severity: CAT I}",
            Some(
                "`RHEL-09-211010` is V-257777 in stig_rhel9 (DISA Red Hat Enterprise Linux 9 STIG V2R9): give its vuln_id",
            ),
        ),
        (
            "t_stig_severity",
            "rhel9",
            "{vuln_id: V-257777, stig_id: RHEL-09-211010, severity: CAT III}",
            Some("`RHEL-09-211010` is CAT I in stig_rhel9"),
        ),
        // Ubuntu 24.04 V1R1 has no vulnerability ids: STIG id and severity suffice.
        ("t_stig_2404_ok", "ubuntu2404", "{stig_id: UBTU-24-100030, severity: CAT I}", None),
        (
            "t_stig_2404_severity",
            "ubuntu2404",
            "{stig_id: UBTU-24-100030, severity: CAT II}",
            Some("`UBTU-24-100030` is CAT I in stig_ubuntu2404"),
        ),
        (
            "t_stig_2404_unknown",
            "ubuntu2404",
            "{stig_id: UBTU-22-215035, severity: CAT I}",
            Some("`UBTU-22-215035` is not a control of stig_ubuntu2404"),
        ),
        ("t_stig_no_severity", "ubuntu2404", "{stig_id: UBTU-24-100030}", Some("missing field `severity`")),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (id, platform, stig, error) in cases {
        let d = dir.path().join(id);
        std::fs::create_dir(&d).unwrap();
        write_stig_rule(&d, id, platform, stig);
        let out = openwatch(&["rules", "lint", d.to_str().unwrap()]);
        let stdout = text(&out.stdout);
        match error {
            None => assert!(out.status.success(), "{id}: {stdout}"),
            Some(message) => {
                assert_eq!(out.status.code(), Some(1), "{id}: {stdout}");
                assert!(stdout.contains(message), "{id}: expected `{message}` in\n{stdout}");
            }
        }
    }
}
