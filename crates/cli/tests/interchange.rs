//! `scan --format xccdf|sarif` from a real scan of two SSH test hosts (one failure accepted
//! by an exceptions file): the XCCDF is checked by the XCCDF 1.2 schema (xmllint) and read
//! by OpenSCAP (`oscap xccdf validate`, `oscap xccdf generate report`); the SARIF by the
//! SARIF 2.1.0 JSON schema (ajv; `tests/tools/validate-sarif.js`); the saved scan as OSCAL
//! Assessment Results by compliance-trestle (`openwatch report`). All carry exactly the
//! verdicts of the JSON output, and `openwatch import` reads the XCCDF back to the same
//! verdicts, refuses a broken file whole, and reads OpenSCAP's own ARF.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::Value;

const H1: u32 = 184;
const H2: u32 = 185;
const XSD: &str = "/usr/share/openscap/schemas/xccdf/1.2/xccdf_1.2.xsd";
const SSG_DEBIAN: &str = "/usr/share/xml/scap/ssg/content/ssg-debian11-ds.xml";

/// Where scripts/install-test-deps put the SARIF schema and ajv.
fn tools() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-tools")
}

/// `node validate-sarif.js` on `file`: whether it is valid, and what the validator said.
fn sarif_valid(file: &Path) -> (bool, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/validate-sarif.js");
    let out = Command::new("node").arg(script).arg(tools()).arg(file).output().expect("node runs");
    (out.status.success(), text(&out.stderr))
}

/// `trestle validate` on `file` placed as an OSCAL `model` in a fresh trestle workspace:
/// whether it is valid, and what trestle said.
fn trestle_valid(model: &str, file: &Path) -> (bool, String) {
    // Every model's directory is its name, but for component definitions.
    let (dir, stem) = match model {
        "component-definition" => ("component-definitions", model),
        _ => (model, model),
    };
    let trestle = tools().join("venv/bin/trestle");
    let ws = tempfile::tempdir().unwrap();
    let init = Command::new(&trestle).arg("init").current_dir(ws.path()).output().expect("trestle runs");
    assert!(init.status.success(), "trestle init: {}", text(&init.stderr));
    let place = ws.path().join(dir).join("openwatch");
    std::fs::create_dir_all(&place).unwrap();
    let placed = place.join(format!("{stem}.json"));
    std::fs::copy(file, &placed).unwrap();
    let out = Command::new(&trestle)
        .arg("validate")
        .arg("-f")
        .arg(&placed)
        .current_dir(ws.path())
        .output()
        .unwrap();
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    (out.status.success() && said.contains("VALID:") && !said.contains("INVALID"), said)
}

/// (host, rule, verdict) of every result in the JSON fleet document, verdicts in XCCDF's terms.
fn json_verdicts(doc: &Value, xccdf_terms: bool) -> BTreeSet<(String, String, String)> {
    let mut all = BTreeSet::new();
    for h in doc["hosts"].as_array().unwrap() {
        for r in h["results"].as_array().unwrap() {
            let v = r["verdict"].as_str().unwrap();
            let v = if !xccdf_terms {
                v
            } else {
                match v {
                    "not_applicable" => "notapplicable",
                    "skipped" => "notchecked",
                    "excepted" => "informational",
                    other => other,
                }
            };
            all.insert((
                h["host"]["name"].as_str().unwrap().to_owned(),
                r["rule_id"].as_str().unwrap().to_owned(),
                v.to_owned(),
            ));
        }
    }
    all
}

/// (target, rule, result) of every rule-result in an XCCDF document (our own, so a plain
/// scan of its lines is enough).
fn xccdf_verdicts(xml: &str) -> BTreeSet<(String, String, String)> {
    let mut all = BTreeSet::new();
    for tr in xml.split("<TestResult ").skip(1) {
        let between =
            |s: &str, a: &str, b: &str| s.split_once(a).unwrap().1.split_once(b).unwrap().0.to_owned();
        let target = between(tr, "<target>", "</target>");
        for rr in tr.split("<rule-result idref=\"xccdf_org.openwatch_rule_").skip(1) {
            let rule = rr.split_once('"').unwrap().0.to_owned();
            all.insert((target.clone(), rule, between(rr, "<result>", "</result>")));
        }
    }
    all
}

#[test]
fn xccdf_and_sarif_of_a_fleet_scan_pass_their_validators() {
    if !fleet_available() {
        return;
    }
    let (mut fleet, key) = Fleet::with_key();
    let h1_root =
        fleet.up_root(H1, |root| write(root, "/etc/ssh/sshd_config.d/05-test.conf", "MaxAuthTries 10\n"));
    fleet.up_root(H2, |_| {});
    let dir = tempfile::tempdir().unwrap();
    let exceptions = dir.path().join("exceptions.yml");
    std::fs::write(
        &exceptions,
        format!(
            "exceptions:\n  - id: EX-7\n    rule: sshd_set_max_auth_tries\n    hosts: [\"{}\"]\n    \
             justification: \"legacy <jump> host & its tooling\"\n    expires: 2999-12-31\n",
            addr(H1)
        ),
    )
    .unwrap();
    let kh = fleet.path("known_hosts");
    let (t1, t2) = (format!("root@{}", addr(H1)), format!("root@{}", addr(H2)));
    let scan = |format: &str| {
        let out = openwatch(
            &[
                "scan",
                &t1,
                &t2,
                "--identity",
                key.to_str().unwrap(),
                "--known-hosts",
                kh.to_str().unwrap(),
                "--no-walk",
                "--exceptions",
                exceptions.to_str().unwrap(),
                "--format",
                format,
            ],
            &[],
        );
        assert!(!out.stdout.is_empty(), "{format}: {}", text(&out.stderr));
        out.stdout
    };
    let doc: Value = serde_json::from_slice(&scan("json")).unwrap();
    assert_eq!(doc["summary"]["hosts_scanned"], 2, "{}", doc["summary"]);
    let max_auth: Vec<_> =
        json_verdicts(&doc, false).into_iter().filter(|(_, r, _)| r == "sshd_set_max_auth_tries").collect();
    assert_eq!(doc["summary"]["verdicts"]["excepted"], 1, "{}: {max_auth:?}", doc["summary"]);

    // The saved scan, as OSCAL Assessment Results: valid for compliance-trestle, AC-7 (what
    // sshd_set_max_auth_tries maps to) not satisfied, both hosts in the inventory.
    let saved = dir.path().join("scan.json");
    std::fs::write(&saved, doc.to_string()).unwrap();
    // `openwatch report` of the saved scan into a file of the test directory.
    let report_to = |format: &str, name: &str| {
        let file = dir.path().join(name);
        let out = openwatch(
            &[
                "report",
                "--input",
                saved.to_str().unwrap(),
                "--format",
                format,
                "--output",
                file.to_str().unwrap(),
            ],
            &[],
        );
        assert!(out.status.success(), "{format}: {}", text(&out.stderr));
        file
    };
    let ar_file = report_to("oscal-ar", "ar.json");
    let (ok, why) = trestle_valid("assessment-results", &ar_file);
    assert!(ok, "{why}");
    let ar: Value = serde_json::from_slice(&std::fs::read(&ar_file).unwrap()).unwrap();
    let result = &ar["assessment-results"]["results"][0];
    assert_eq!(result["local-definitions"]["inventory-items"].as_array().unwrap().len(), 2);
    let ac7 = result["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["target"]["target-id"] == "ac-7_obj")
        .unwrap();
    assert_eq!(ac7["target"]["status"]["state"], "not-satisfied", "{ac7}");
    assert!(
        ar.to_string().contains("accepted risk EX-7 until 2999-12-31"),
        "the exception is in the evidence"
    );
    let mut broken = ar.clone();
    broken["assessment-results"]["results"][0]["findings"][0]["target"]["status"]["state"] = "fine".into();
    std::fs::write(&ar_file, broken.to_string()).unwrap();
    let (ok, why) = trestle_valid("assessment-results", &ar_file);
    assert!(!ok && why.contains("state"), "trestle refuses a bad state: {why}");
    // And as a POA&M: valid, one item per failing rule.
    let poam_file = report_to("oscal-poam", "poam.json");
    let (ok, why) = trestle_valid("plan-of-action-and-milestones", &poam_file);
    assert!(ok, "{why}");
    let poam: Value = serde_json::from_slice(&std::fs::read(&poam_file).unwrap()).unwrap();
    let poam = &poam["plan-of-action-and-milestones"];
    let failing: BTreeSet<String> = json_verdicts(&doc, false)
        .into_iter()
        .filter(|(_, _, v)| v == "fail" || v == "excepted")
        .map(|(_, r, _)| r)
        .collect();
    assert_eq!(poam["poam-items"].as_array().unwrap().len(), failing.len());
    let risk = |rule: &str| {
        poam["risks"].as_array().unwrap().iter().find(|r| r["props"][0]["value"] == rule).cloned().unwrap()
    };
    // MaxAuthTries fails on both hosts, accepted on one only: still open.
    assert_eq!(risk("sshd_set_max_auth_tries")["status"], "open");
    assert_eq!(risk("sshd_set_max_auth_tries")["related-observations"].as_array().unwrap().len(), 2);

    // As an HTML report: Chromium renders it, and it carries the scan's own numbers.
    let html_file = report_to("html", "report.html");
    let html = std::fs::read_to_string(&html_file).unwrap();
    let v = &doc["summary"]["verdicts"];
    assert!(
        html.contains(&format!("{} pass, <span class=\"fail\">{} fail</span>", v["pass"], v["fail"])),
        "the fleet's counts: {v}"
    );
    assert!(html.contains("legacy &lt;jump&gt; host &amp; its tooling") && html.contains("<svg"));
    assert!(html.contains("How to fix:"), "fix guidance from the rule library");
    let png = dir.path().join("report.png");
    let profile = tempfile::tempdir().unwrap();
    run(Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"])
        .args(["--disable-background-networking", "--disable-component-update", "--disable-sync"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg("--window-size=1100,1400")
        .arg(format!("file://{}", html_file.display())));
    assert!(std::fs::metadata(&png).unwrap().len() > 20_000, "a rendered page, not a blank one");

    // As a PDF, laid out in-process: poppler draws its first page (kept in
    // target/e2e-screenshots for people to look at) and reads the scan's own numbers back.
    let pdf_file = report_to("pdf", "report.pdf");
    assert!(std::fs::read(&pdf_file).unwrap().starts_with(b"%PDF-"), "a PDF");
    let page = dir.path().join("page");
    run(Command::new("pdftoppm").args(["-png", "-r", "60", "-singlefile"]).arg(&pdf_file).arg(&page));
    let png = dir.path().join("page.png");
    assert!(std::fs::metadata(&png).unwrap().len() > 20_000, "a drawn page, not a blank one");
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/e2e-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    std::fs::copy(&png, shots.join("report-pdf-page1.png")).unwrap();
    let pdf_text = |file: &Path| {
        let out = run(Command::new("pdftotext").args(["-enc", "UTF-8"]).arg(file).arg("-"));
        text(&out.stdout).split_whitespace().collect::<Vec<_>>().join(" ")
    };
    let words = pdf_text(&pdf_file);
    let count = |k: &str| v[k].as_u64().unwrap();
    let decided = count("pass") + count("fail") + count("excepted") + count("error");
    let score = |good: u64| format!("{:.1}%", good as f64 * 100.0 / decided as f64);
    for said in [
        format!("{} pass, {} fail, {} accepted risks", v["pass"], v["fail"], v["excepted"]),
        format!(
            "{} of decided checks pass with accepted risks counted as passing",
            score(count("pass") + count("excepted"))
        ),
        format!("{} without", score(count("pass"))),
        "Accepted risk EX-7 until 2999-12-31: legacy <jump> host & its tooling".to_owned(),
        "How to fix:".to_owned(),
        addr(H1),
    ] {
        assert!(words.contains(&said), "the PDF says {said:?}: {words}");
    }
    // The executive summary of one framework only: that framework's table, no findings.
    let exec = dir.path().join("exec.pdf");
    let out = openwatch(
        &["report", "--input", saved.to_str().unwrap(), "--format", "pdf", "--detail", "executive"],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    std::fs::write(&exec, &out.stdout).unwrap();
    let words = pdf_text(&exec);
    assert!(words.contains("Top risks") && !words.contains("Findings by host"), "{words}");
    let framework = |name: &str| {
        openwatch(
            &["report", "--input", saved.to_str().unwrap(), "--format", "html", "--framework", name],
            &[],
        )
    };
    let out = framework("nist_800_53");
    assert!(text(&out.stdout).contains("OpenWatch compliance report: nist_800_53"), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).contains("<td>cis_debian12</td>"), "only the framework asked for");
    let out = framework("cis_bogus");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no result cites framework cis_bogus (cited: cis_debian12,"),
        "{}",
        text(&out.stderr)
    );

    // The same saved scan as XCCDF, and a file that is not a scan.
    let out = openwatch(&["report", "--input", saved.to_str().unwrap(), "--format", "xccdf"], &[]);
    assert_eq!(xccdf_verdicts(&text(&out.stdout)), json_verdicts(&doc, true));
    let not_scan = dir.path().join("not-a-scan.json");
    std::fs::write(&not_scan, "{\"schema\": \"openwatch.scan/v1\",\n \"host\": 7}").unwrap();
    let out = openwatch(&["report", "--input", not_scan.to_str().unwrap(), "--format", "sarif"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains(&format!("{}:2:", not_scan.display())), "{}", text(&out.stderr));

    // XCCDF: schema-valid, read by OpenSCAP, the same verdicts, the exception said.
    let xml = String::from_utf8(scan("xccdf")).unwrap();
    let xccdf = dir.path().join("results.xml");
    std::fs::write(&xccdf, &xml).unwrap();
    let lint = run(Command::new("xmllint").args(["--noout", "--schema", XSD]).arg(&xccdf));
    assert!(text(&lint.stderr).contains("validates"), "{}", text(&lint.stderr));
    let validate = Command::new("oscap").args(["xccdf", "validate"]).arg(&xccdf).output().unwrap();
    assert!(validate.status.success(), "oscap: {}", text(&validate.stdout));
    // OpenSCAP's HTML report (of one TestResult, whichever host finished last) names its host.
    let report = run(Command::new("oscap").args(["xccdf", "generate", "report"]).arg(&xccdf));
    let html = text(&report.stdout);
    let target =
        html.split_once("Evaluation target</th><td>").map(|(_, t)| t.split('<').next().unwrap_or(""));
    let hosts = [format!("root@{}", addr(H1)), format!("root@{}", addr(H2))];
    assert!(target.is_some_and(|t| hosts.iter().any(|h| h == t)), "{target:?} {}", text(&report.stderr));
    assert_eq!(xccdf_verdicts(&xml), json_verdicts(&doc, true));
    assert!(
        xml.contains(
            "<message severity=\"warning\">Accepted risk EX-7 until 2999-12-31: the check failed; \
             legacy &lt;jump&gt; host &amp; its tooling</message>"
        ),
        "the accepted failure says so, with its exception and justification"
    );
    // Imported back, the export gives the same verdicts for the same rules.
    let back = openwatch(&["import", xccdf.to_str().unwrap(), "--format", "json"], &[]);
    assert!(back.status.success(), "{}", text(&back.stderr));
    let back: Value = serde_json::from_slice(&back.stdout).unwrap();
    let mut round = BTreeSet::new();
    for h in back["hosts"].as_array().unwrap() {
        for r in h["results"].as_array().unwrap() {
            round.insert((
                h["target"].as_str().unwrap().to_owned(),
                r["openwatch_rule"].as_str().unwrap().to_owned(),
                r["verdict"].as_str().unwrap().to_owned(),
            ));
        }
    }
    assert_eq!(round, json_verdicts(&doc, false), "the XCCDF round trip keeps every verdict");

    // A broken file is refused whole, naming where.
    let cut = dir.path().join("cut.xml");
    std::fs::write(&cut, &xml[..xml.len() / 2]).unwrap();
    let out = openwatch(&["import", cut.to_str().unwrap(), "--format", "json"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "nothing is imported from a broken file");
    let err = text(&out.stderr);
    assert!(err.contains(&format!("{}:", cut.display())) && err.contains("not well-formed XML"), "{err}");

    // OpenSCAP's own ARF from ComplianceAsCode's Debian content, evaluated against the test
    // host's file system: read, and its rule tied to OpenWatch's.
    let arf = dir.path().join("arf.xml");
    let eval = Command::new("oscap")
        .env("OSCAP_PROBE_ROOT", &h1_root)
        .args(["xccdf", "eval", "--profile", "xccdf_org.ssgproject.content_profile_standard", "--rule"])
        .arg("xccdf_org.ssgproject.content_rule_sshd_set_max_auth_tries")
        .arg("--results-arf")
        .arg(&arf)
        .arg(SSG_DEBIAN)
        .output()
        .unwrap();
    assert!(matches!(eval.status.code(), Some(0 | 2)), "oscap eval: {}", text(&eval.stderr));
    let imported = openwatch(&["import", arf.to_str().unwrap(), "--format", "json"], &[]);
    assert!(imported.status.success(), "{}", text(&imported.stderr));
    let imported: Value = serde_json::from_slice(&imported.stdout).unwrap();
    let results = imported["hosts"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "only the selected rule: {results:?}");
    assert_eq!(results[0]["rule"], "xccdf_org.ssgproject.content_rule_sshd_set_max_auth_tries");
    assert_eq!(results[0]["openwatch_rule"], "sshd_set_max_auth_tries");
    assert!(imported["hosts"][0]["test_system"].as_str().unwrap().contains("openscap"), "{imported}");

    // A document the schema refuses is refused: the check can fail.
    let broken = dir.path().join("broken.xml");
    std::fs::write(&broken, xml.replacen("<result>pass</result>", "<result>passed</result>", 1)).unwrap();
    let lint = Command::new("xmllint").args(["--noout", "--schema", XSD]).arg(&broken).output().unwrap();
    assert!(!lint.status.success());

    // SARIF: schema-valid, the same verdicts, the exception as an accepted suppression.
    let sarif_bytes = scan("sarif");
    let sarif = dir.path().join("results.sarif");
    std::fs::write(&sarif, &sarif_bytes).unwrap();
    let (ok, why) = sarif_valid(&sarif);
    assert!(ok, "{why}");
    let s: Value = serde_json::from_slice(&sarif_bytes).unwrap();
    let run0 = &s["runs"][0];
    let results = run0["results"].as_array().unwrap();
    let got: BTreeSet<_> = results
        .iter()
        .map(|r| {
            (
                r["properties"]["host"].as_str().unwrap().to_owned(),
                r["ruleId"].as_str().unwrap().to_owned(),
                r["properties"]["verdict"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(got, json_verdicts(&doc, false));
    let rules = run0["tool"]["driver"]["rules"].as_array().unwrap();
    for r in results {
        assert_eq!(rules[r["ruleIndex"].as_u64().unwrap() as usize]["id"], r["ruleId"]);
        let fails = matches!(r["properties"]["verdict"].as_str(), Some("fail" | "excepted"));
        assert_eq!(r["kind"] == "fail", fails, "{r}");
    }
    let accepted: Vec<_> = results.iter().filter(|r| r.get("suppressions").is_some()).collect();
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0]["suppressions"][0]["status"], "accepted");
    assert!(accepted[0]["suppressions"][0]["justification"].as_str().unwrap().contains("EX-7"));
    let mut bad = s.clone();
    bad["runs"][0]["results"][0]["level"] = "severe".into();
    let bad_file = dir.path().join("bad.sarif");
    std::fs::write(&bad_file, bad.to_string()).unwrap();
    let (ok, why) = sarif_valid(&bad_file);
    assert!(!ok && why.contains("level"), "the validator refuses a bad level: {why}");
}

#[test]
fn the_rule_library_as_an_oscal_component_definition() {
    if !fleet_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("component.json");
    let out = openwatch(&["rules", "oscal-component", "--output", file.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (ok, why) = trestle_valid("component-definition", &file);
    assert!(ok, "{why}");
    let doc: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let reqs = doc["component-definition"]["components"][0]["control-implementations"][0]["implemented-requirements"]
        .as_array()
        .unwrap()
        .clone();
    let ac7 = reqs.iter().find(|r| r["control-id"] == "ac-7").expect("AC-7 is checked");
    assert!(
        ac7["props"].as_array().unwrap().iter().any(|p| p["value"] == "sshd_set_max_auth_tries"),
        "{ac7}"
    );
    assert!(reqs.iter().all(|r| {
        r["control-id"]
            .as_str()
            .unwrap()
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
    }));
}
