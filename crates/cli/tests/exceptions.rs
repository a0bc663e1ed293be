//! `openwatch scan --exceptions FILE`: accepted failures become `excepted` in every output
//! format and stop failing the exit code; a bad file is refused with file:line:column.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn openwatch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_openwatch")).args(args).output().expect("openwatch runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn rule(dir: &Path, id: &str, severity: &str, path: &str) {
    let body = format!(
        "id: {id}\ntitle: Test rule {id}\ndescription: A test.\nrationale: Testing.\nseverity: {severity}\ncategory: test\n\
         references: {{nist_800_53: [CM-6]}}\nplatforms: [{{family: debian}}, {{family: ubuntu}}, {{family: rhel}}]\n\
         implementations:\n  - default: true\n    check:\n      file_exists: {{path: {path}}}\n    remediation: {{steps: [{{manual: {{guidance: Fix it.}}}}]}}\n"
    );
    std::fs::write(dir.join(format!("{id}.yml")), body).unwrap();
}

fn verdicts(json: &Value) -> Vec<(String, String)> {
    json["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["rule_id"].as_str().unwrap().to_owned(), r["verdict"].as_str().unwrap().to_owned()))
        .collect()
}

#[test]
fn accepted_failures_are_excepted_everywhere_and_leave_the_gate() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    rule(&rules, "t_low", "low", "/nonexistent/openwatch-a");
    rule(&rules, "t_high", "high", "/nonexistent/openwatch-b");
    rule(&rules, "t_pass", "low", "/etc/passwd");
    let r = rules.to_str().unwrap();
    let scan = |extra: &[&str]| {
        let mut args = vec!["scan", "--local", "--no-walk", "--rules", r, "--tag", "test"];
        args.extend_from_slice(extra);
        openwatch(&args)
    };
    let plain = scan(&["--format", "json"]);
    let doc: Value = serde_json::from_slice(&plain.stdout).unwrap();
    let me = doc["host"]["name"].as_str().unwrap().to_owned();

    let file = dir.path().join("exceptions.yml");
    std::fs::write(
        &file,
        format!(
            "exceptions:\n  - rule: t_high\n    justification: the appliance vendor forbids it\n    expires: 2999-12-31\n\
             \x20 - rule: t_low\n    hosts: [some-other-host]\n    justification: not this one\n    expires: 2999-12-31\n\
             \x20 - id: OLD-1\n    rule: t_low\n    hosts: [{me}]\n    justification: was accepted last year\n    expires: 2020-01-31\n"
        ),
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let out = scan(&["--format", "json", "--exceptions", f]);
    assert_eq!(out.status.code(), Some(1), "t_low still fails: {}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(&format!(
            "{f}:13:14: warning: the exception for `t_low` expired on 2020-01-31: ignored"
        )),
        "{}",
        text(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut got = verdicts(&doc);
    got.sort();
    assert_eq!(
        got,
        [
            ("t_high".into(), "excepted".into()),
            ("t_low".into(), "fail".into()),
            ("t_pass".into(), "pass".into())
        ]
    );
    let high = doc["results"].as_array().unwrap().iter().find(|x| x["rule_id"] == "t_high").unwrap();
    assert_eq!(high["exception"]["id"], format!("{f}:2"));
    assert_eq!(high["exception"]["justification"], "the appliance vendor forbids it");
    assert_eq!(high["exception"]["expires"], "2999-12-31");
    assert_eq!((doc["summary"]["excepted"].as_u64(), doc["summary"]["fail"].as_u64()), (Some(1), Some(1)));

    // The only failure at or above high is accepted: the gate passes.
    let gated = scan(&["--exceptions", f, "--fail-on", "high"]);
    assert_eq!(gated.status.code(), Some(0), "{}", text(&gated.stdout));
    let table = text(&gated.stdout);
    assert!(table.contains("excepted") && table.contains("excepted 1"), "{table}");
    assert!(
        table.contains(&format!("[excepted by {f}:2 until 2999-12-31: the appliance vendor forbids it]")),
        "{table}"
    );
    let csv = text(&scan(&["--exceptions", f, "--format", "csv"]).stdout);
    assert!(csv.lines().next().unwrap().ends_with(",exception"), "{csv}");
    let row = csv.lines().find(|l| l.contains(",t_high,")).unwrap();
    assert!(row.contains(",excepted,") && row.ends_with(&format!(",{f}:2")), "{row}");

    // Naming the host covers it.
    std::fs::write(
        &file,
        format!("exceptions:\n  - rule: t_low\n    hosts: [{me}]\n    justification: lab machine\n    expires: 2999-01-01\n"),
    )
    .unwrap();
    let doc: Value = serde_json::from_slice(&scan(&["--format", "json", "--exceptions", f]).stdout).unwrap();
    assert!(verdicts(&doc).contains(&("t_low".into(), "excepted".into())));
}

#[test]
fn a_bad_exceptions_file_is_refused_with_its_places_before_any_scan() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ex.yml");
    let f = file.to_str().unwrap();
    std::fs::write(
        &file,
        "exceptions:\n  - rule: no_such_rule\n    justification: x\n    expires: 2999-02-30\n",
    )
    .unwrap();
    let out = openwatch(&[
        "scan",
        "--local",
        "--no-walk",
        "--rule",
        "file_permissions_etc_passwd",
        "--exceptions",
        f,
    ]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("{f}:2:11: error: unknown rule `no_such_rule`")), "{err}");
    assert!(err.contains(&format!("{f}:4:14: error: `2999-02-30` is not a date (YYYY-MM-DD)")), "{err}");
    assert!(err.contains("no exception from it was used"), "{err}");
    assert!(out.stdout.is_empty(), "nothing scanned: {}", text(&out.stdout));
    std::fs::write(&file, "exceptions:\n  - rule: file_permissions_etc_passwd\n    expires: 2999-01-01\n")
        .unwrap();
    let err = text(&openwatch(&["scan", "--local", "--no-walk", "--exceptions", f]).stderr);
    assert!(err.contains(&format!("{f}:3:5: error: missing field `justification`\n")), "{err}");
}
