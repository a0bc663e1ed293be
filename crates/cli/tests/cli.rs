//! End-to-end tests of the `openwatch` binary on this machine.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn openwatch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_openwatch")).args(args).output().expect("openwatch runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn write_rule(dir: &Path, id: &str, body: &str) {
    std::fs::write(dir.join(format!("{id}.yml")), body).unwrap();
}

/// A valid rule with the given check (indented under `check:`) and optional variables.
fn rule(id: &str, severity: &str, check: &str, variables: &str) -> String {
    format!(
        "id: {id}\ntitle: Test rule {id}\ndescription: A test.\nrationale: Testing.\nseverity: {severity}\ncategory: test\n\
         references: {{nist_800_53: [CM-6]}}\nplatforms: [{{family: debian}}, {{family: ubuntu}}, {{family: rhel}}]\n{variables}\
         implementations:\n  - default: true\n    check:\n      {check}\n    remediation: {{steps: [{{manual: {{guidance: Fix it.}}}}]}}\n"
    )
}

#[test]
fn builtin_library_lints_clean() {
    let out = openwatch(&["rules", "lint"]);
    assert!(out.status.success(), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains(" 0 error(s)"));
}

#[test]
fn broken_rules_get_precise_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "unknown_key",
            rule("unknown_key", "low", "file_exists: {path: /etc/passwd}", "")
                .replace("category: test", "category: test\ncolour: red"),
            ":7:1:",
            "unknown field `colour`",
        ),
        (
            "bad_mode",
            rule("bad_mode", "low", "file_permissions: {path: /etc/passwd, mode: \"0899\"}", ""),
            ":12:",
            "invalid mode `0899`",
        ),
        (
            "bad_method",
            rule("bad_method", "low", "file_exist: {path: /etc/passwd}", ""),
            ":12:7:",
            "unknown variant `file_exist`",
        ),
        (
            "bad_severity",
            rule("bad_severity", "urgent", "file_exists: {path: /etc/passwd}", ""),
            ":5:11:",
            "unknown variant `urgent`",
        ),
        ("wrong_type", rule("wrong_type", "low", "file_exists: {path: [a, b]}", ""), ":12:", "expected"),
        (
            "undeclared_var",
            rule("undeclared_var", "low", "sysctl: {key: net.ipv4.ip_forward, value: {var: nope}}", ""),
            ":12:",
            "variable `nope` is not declared",
        ),
        (
            "relative_path",
            rule("relative_path", "low", "file_exists: {path: etc/passwd}", ""),
            ":12:",
            "absolute path",
        ),
        (
            "id_mismatch",
            rule("another_id", "low", "file_exists: {path: /etc/passwd}", ""),
            ":1:5:",
            "must equal the file name",
        ),
    ];
    for (file, body, position, message) in &cases {
        let d = dir.path().join(file);
        std::fs::create_dir(&d).unwrap();
        write_rule(&d, file, body);
        let out = openwatch(&["rules", "lint", d.to_str().unwrap()]);
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{file}: {stdout}");
        let expected_prefix = format!("{}/{file}.yml{position}", d.display());
        assert!(stdout.contains(&expected_prefix), "{file}: expected `{expected_prefix}` in\n{stdout}");
        assert!(stdout.contains(message), "{file}: expected `{message}` in\n{stdout}");
        assert!(
            stdout.contains(" | ") && stdout.contains('^'),
            "{file}: the offending line with a caret:\n{stdout}"
        );
    }
}

#[test]
fn scan_exit_codes_gate_ci() {
    let dir = tempfile::tempdir().unwrap();
    write_rule(
        dir.path(),
        "t_fail_low",
        &rule("t_fail_low", "low", "file_exists: {path: /nonexistent/openwatch}", ""),
    );
    write_rule(dir.path(), "t_pass", &rule("t_pass", "high", "file_exists: {path: /etc/passwd}", ""));
    let d = dir.path().to_str().unwrap();
    let fail = openwatch(&["scan", "--local", "--rules", d, "--tag", "test", "--no-walk"]);
    assert_eq!(fail.status.code(), Some(1), "{}", text(&fail.stdout));
    let gated =
        openwatch(&["scan", "--local", "--rules", d, "--tag", "test", "--no-walk", "--fail-on", "high"]);
    assert_eq!(gated.status.code(), Some(0), "{}", text(&gated.stdout));
    let pass = openwatch(&["scan", "--local", "--rules", d, "--rule", "t_pass", "--no-walk"]);
    assert_eq!(pass.status.code(), Some(0));
    for bad in [
        vec!["scan"],
        vec!["scan", "--local", "--framework", "cis_windows"],
        vec!["scan", "--local", "--severity", "urgent"],
        vec!["scan", "--local", "--rule", "no_such_rule"],
        vec!["scan", "--local", "--bogus-flag"],
        vec!["scan", "--local", "--var", "no_such_var=1"],
    ] {
        let out = openwatch(&bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", text(&out.stderr));
        assert!(!text(&out.stderr).is_empty());
    }
}

#[test]
fn variables_override_defaults_and_hostile_values_stay_data() {
    let dir = tempfile::tempdir().unwrap();
    let vars = "variables:\n  wanted_list: {type: list, default: [root], description: Accounts expected.}\n";
    let check = "set_compare: {source: {file_field: {path: /etc/passwd, delimiter: ':', field: 1, where_field: 3, equals: '0'}}, relation: superset_of, expected: {var: wanted_list}}";
    write_rule(dir.path(), "t_var", &rule("t_var", "low", check, vars));
    let d = dir.path().to_str().unwrap();
    let ok = openwatch(&["scan", "--local", "--rules", d, "--rule", "t_var", "--no-walk"]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stdout));
    let canary = dir.path().join("pwned");
    let hostile = format!("$(touch {0});`touch {0}`'\"", canary.display());
    let out = openwatch(&[
        "scan",
        "--local",
        "--rules",
        d,
        "--rule",
        "t_var",
        "--no-walk",
        "--format",
        "json",
        "--var",
        &format!("wanted_list={hostile}"),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(!canary.exists(), "a variable value was executed");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let expected = doc["results"][0]["evidence"][0]["expected"].as_str().unwrap();
    assert!(expected.contains(&hostile), "value arrives verbatim: {expected}");
    let bad_type = openwatch(&["scan", "--local", "--rules", d, "--rule", "t_var", "--var", "wanted_list"]);
    assert_eq!(bad_type.status.code(), Some(2));
}

#[test]
fn facts_replay_reproduces_the_scan() {
    let dir = tempfile::tempdir().unwrap();
    let facts = dir.path().join("host.facts.json");
    let f = facts.to_str().unwrap();
    let live = openwatch(&["scan", "--local", "--no-walk", "--format", "json", "--save-facts", f]);
    assert!(live.status.code().is_some_and(|c| c < 2), "{}", text(&live.stderr));
    let replay = openwatch(&["scan", "--facts", f, "--format", "json"]);
    assert!(replay.status.code().is_some_and(|c| c < 2), "{}", text(&replay.stderr));
    let a: Value = serde_json::from_slice(&live.stdout).unwrap();
    let b: Value = serde_json::from_slice(&replay.stdout).unwrap();
    assert_eq!(a["results"], b["results"]);
    assert_eq!(b["stats"]["round_trips"], 0);
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&facts).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "saved facts can hold secrets: owner only");
    let saved = std::fs::read_to_string(&facts).unwrap();
    assert!(!saved.contains("$y$") && !saved.contains("$6$"), "password hashes never leave the host");
}

#[test]
fn full_local_scan_evaluates_every_rule_with_evidence() {
    let out = openwatch(&["scan", "--local", "--format", "json"]);
    assert!(out.status.code().is_some_and(|c| c < 2), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["schema"], "openwatch.scan/v1");
    for key in ["name", "address", "platform", "capabilities"] {
        assert!(!doc["host"][key].is_null(), "host.{key}");
    }
    for key in ["rules_evaluated", "round_trips", "bytes_transferred", "duration_ms"] {
        assert!(doc["stats"][key].is_u64(), "stats.{key}");
    }
    assert_eq!(doc["stats"]["round_trips"], 1);
    let results = doc["results"].as_array().unwrap();
    assert!(!results.is_empty());
    let errors: Vec<&Value> = results.iter().filter(|r| r["verdict"] == "error").collect();
    assert!(
        errors.len() * 20 < results.len(),
        "{} of {} verdicts are errors: {errors:#?}",
        errors.len(),
        results.len()
    );
    for r in results {
        assert!(!r["reason"].as_str().unwrap().is_empty(), "{}", r["rule_id"]);
        if r["verdict"] == "pass" || r["verdict"] == "fail" {
            let ev = r["evidence"].as_array().unwrap();
            assert!(!ev.is_empty(), "{} has no evidence", r["rule_id"]);
            for e in ev {
                for k in ["method", "source", "expected", "actual", "observed", "truncated", "collected_at"] {
                    assert!(!e[k].is_null(), "{} evidence lacks {k}", r["rule_id"]);
                }
            }
        }
    }
}

#[test]
fn output_formats() {
    let csv = openwatch(&["scan", "--local", "--no-walk", "--format", "csv", "--severity", "high"]);
    assert!(text(&csv.stdout).starts_with("host,rule_id,title,severity,verdict,reason"));
    let jsonl = openwatch(&["scan", "--local", "--no-walk", "--format", "jsonl", "--severity", "high"]);
    let lines: Vec<String> = text(&jsonl.stdout).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 1);
    let _: Value = serde_json::from_str(&lines[0]).unwrap();
    let table = openwatch(&["scan", "--local", "--no-walk", "--severity", "high"]);
    assert!(text(&table.stdout).contains("VERDICT"));
    let list = openwatch(&["rules", "list", "--format", "json"]);
    let rules: Value = serde_json::from_slice(&list.stdout).unwrap();
    for r in rules.as_array().unwrap() {
        for k in ["id", "title", "severity", "platforms", "references"] {
            assert!(!r[k].is_null(), "rules list lacks {k}");
        }
    }
    let show = openwatch(&["rules", "show", "sshd_disable_root_login"]);
    assert!(text(&show.stdout).contains("id: sshd_disable_root_login"));
    let cov = openwatch(&["rules", "coverage", "--framework", "nist_800_53"]);
    assert!(cov.status.success());
    let cov = text(&cov.stdout);
    assert!(cov.contains("AC-6(2)") && cov.contains("- not covered -"), "every control is listed");
    let cis: Value = serde_json::from_slice(
        &openwatch(&["rules", "coverage", "--framework", "cis_debian12", "--format", "json"]).stdout,
    )
    .unwrap();
    let controls = cis["controls"].as_array().unwrap();
    assert_eq!(cis["total"].as_u64().unwrap() as usize, controls.len());
    assert!(controls.len() > 300, "the whole benchmark is catalogued");
    let covered = controls.iter().filter(|c| !c["rules"].as_array().unwrap().is_empty()).count();
    assert_eq!(cis["covered"].as_u64().unwrap() as usize, covered);
    assert!(covered < controls.len(), "coverage is not claimed beyond the rules");
}

#[test]
fn undecided_rules_fail_the_gate_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let facts = dir.path().join("host.facts.json");
    let live = openwatch(&[
        "scan",
        "--local",
        "--no-walk",
        "--rule",
        "file_permissions_etc_passwd",
        "--save-facts",
        facts.to_str().unwrap(),
    ]);
    assert_eq!(live.status.code(), Some(0), "{}", text(&live.stdout));
    // Drop the fact the rule needs: the replay cannot decide it.
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&facts).unwrap()).unwrap();
    doc["facts"]["facts"].as_array_mut().unwrap().retain(|f| f["key"]["pattern"] != "/etc/passwd");
    std::fs::write(&facts, doc.to_string()).unwrap();
    let f = facts.to_str().unwrap();
    let lenient =
        openwatch(&["scan", "--facts", f, "--rule", "file_permissions_etc_passwd", "--format", "json"]);
    let out: Value = serde_json::from_slice(&lenient.stdout).unwrap();
    assert_eq!(out["results"][0]["verdict"], "error");
    assert_eq!(lenient.status.code(), Some(0));
    let strict =
        openwatch(&["scan", "--facts", f, "--rule", "file_permissions_etc_passwd", "--fail-on-error"]);
    assert_eq!(strict.status.code(), Some(1));
}

/// Results of scanners that name no OpenWatch rule are related to the rules citing the same
/// CIS section or NIST control; the scanner is recognised from the file, and Wazuh's results
/// (which name no host) need --target.
#[test]
fn imports_from_inspec_nessus_and_wazuh_relate_by_control() {
    let dir = tempfile::tempdir().unwrap();
    let files = [
        (
            "inspec.json",
            r#"{"platform": {"name": "debian", "release": "12", "target_id": "web-1"}, "version": "5.22.3",
  "profiles": [{"name": "baseline", "controls": [{"id": "ssh-07", "impact": 0.7,
  "tags": {"nist": ["AC-7"], "cis": "5.1.16"}, "results": [{"status": "failed", "code_desc": "MaxAuthTries <= 4"}]}]}]}"#,
        ),
        (
            "scan.nessus",
            r#"<NessusClientData_v2><Report name="r"><ReportHost name="192.0.2.9"><HostProperties/>
<ReportItem severity="3" pluginID="21157"><cm:compliance-check-name xmlns:cm="http://www.nessus.org/cm">5.1.16 Ensure sshd MaxAuthTries is configured</cm:compliance-check-name>
<cm:compliance-result xmlns:cm="http://www.nessus.org/cm">PASSED</cm:compliance-result></ReportItem></ReportHost></Report></NessusClientData_v2>"#,
        ),
        (
            "sca.json",
            r#"{"data": {"affected_items": [{"id": 28552, "title": "MaxAuthTries", "result": "failed",
  "compliance": [{"key": "nist_800_53", "value": "AC-7"}]}]}}"#,
        ),
    ];
    for (name, body) in files {
        let file = dir.path().join(name);
        std::fs::write(&file, body).unwrap();
        let path = file.to_str().unwrap();
        let mut args = vec!["import", path, "--format", "json"];
        if name == "sca.json" {
            let out = openwatch(&args);
            assert_eq!(out.status.code(), Some(2));
            assert!(text(&out.stderr).contains("--target NAME"), "{}", text(&out.stderr));
            args.extend(["--target", "web-1"]);
        }
        let out = openwatch(&args);
        assert!(out.status.success(), "{name}: {}", text(&out.stderr));
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let r = &doc["hosts"][0]["results"][0];
        let related: Vec<&str> =
            r["related_rules"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        assert!(related.contains(&"sshd_set_max_auth_tries"), "{name}: {r}");
    }
    let odd = dir.path().join("odd.json");
    std::fs::write(&odd, "{\"hello\": 1}").unwrap();
    let out = openwatch(&["import", odd.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("say which with --from"), "{}", text(&out.stderr));
}

#[test]
fn completions_and_manual_pages_come_from_the_command_line_definition() {
    for (shell, marker) in
        [("bash", "_openwatch()"), ("zsh", "#compdef openwatch"), ("fish", "complete -c openwatch")]
    {
        let out = openwatch(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", text(&out.stderr));
        let script = text(&out.stdout);
        assert!(script.contains(marker), "{shell}: {}", &script[..script.len().min(300)]);
        assert!(
            script.contains("backup") && script.contains("with-keys"),
            "{shell} knows the commands and flags"
        );
    }
    // bash reads the script without complaint.
    let out = openwatch(&["completions", "bash"]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("openwatch.bash"), &out.stdout).unwrap();
    let check = Command::new("bash").arg("-n").arg(dir.path().join("openwatch.bash")).output().unwrap();
    assert!(check.status.success(), "{}", text(&check.stderr));

    let man = dir.path().join("man");
    let out = openwatch(&["man", "--out", man.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for page in ["openwatch.1", "openwatch-scan.1", "openwatch-backup.1", "openwatch-serve.1"] {
        let roff = std::fs::read_to_string(man.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(roff.contains(".TH"), "{page} is a manual page");
    }
    let scan = std::fs::read_to_string(man.join("openwatch-scan.1")).unwrap();
    assert!(scan.contains("no\\-walk"), "the scan page lists its options");
}
