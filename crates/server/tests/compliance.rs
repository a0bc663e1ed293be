//! Compliance views on both backends, from real local scans: framework figures count only
//! hosts a framework applies to, a first scan is a baseline rather than a flood of changes,
//! rule and control pages name the hosts with verdict, reason and evidence, and exports keep
//! the filters and carry host, reason and control ids.

mod common;

use common::{Backend, TestApp, text};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A rule this machine fails, with a CIS Debian 12 control it implements.
async fn failing_rule(app: &TestApp, scan: &Value) -> (String, String) {
    let id = scan["id"].as_i64().unwrap();
    let results = app.get(&format!("/api/v1/scans/{id}/results?verdict=fail&per_page=500")).await;
    for r in results["items"].as_array().unwrap() {
        let rule = r["rule_id"].as_str().unwrap();
        let lib = common::library();
        let controls = lib.rule(rule).unwrap().raw.references.controls("cis_debian12");
        if let Some(c) = controls.first() {
            return (rule.to_owned(), c.clone());
        }
    }
    panic!("this machine fails no CIS Debian 12 rule: {results}");
}

both_backends!(framework_figures_count_only_hosts_the_framework_applies_to, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (id, _) = app.scanned_local_host("here").await;
    let c = app.get(&format!("/api/v1/hosts/{id}/compliance")).await;
    let frameworks: Vec<&str> =
        c["frameworks"].as_array().unwrap().iter().map(|f| f["framework"].as_str().unwrap()).collect();
    // This machine is Debian 12 (as the test fleet): no RHEL or Ubuntu STIG figures.
    assert!(frameworks.contains(&"cis_debian12") && frameworks.contains(&"nist_800_53"), "{frameworks:?}");
    for other in ["stig_rhel8", "stig_rhel9", "stig_ubuntu2204", "stig_ubuntu2404"] {
        assert!(!frameworks.contains(&other), "{other} does not apply to Debian: {frameworks:?}");
    }
    let summary = app.get("/api/v1/fleet/summary").await;
    assert!(
        summary["frameworks"].as_array().unwrap().iter().all(|f| f["framework"] != "stig_rhel9"),
        "{summary}"
    );
    let (_, page) = app.page("/frameworks/stig_rhel9").await;
    let page = text(&page);
    assert!(page.contains("No scanned host is one this framework applies to yet."), "{page}");
    assert!(!page.contains("failing on"), "no figures for hosts it does not apply to: {page}");
    let (_, page) = app.page("/frameworks/cis_debian12").await;
    let page = text(&page);
    assert!(page.contains("Across the 1 host this framework applies to"), "{page}");
    assert!(page.contains("failing on 1 of 1"), "{page}");
    assert!(!page.contains("failing on 2"), "{page}");
    app.stop().await;
});

both_backends!(a_first_scan_is_a_baseline_not_a_flood_of_changes, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (id, scan) = app.scanned_local_host("here").await;
    let changes = app.get(&format!("/api/v1/hosts/{id}/changes")).await;
    assert_eq!(changes["total"], 0, "no per-rule 'new' entries: {changes}");
    assert_eq!(app.get("/api/v1/changes").await["total"], 0);
    let (_, dash) = app.page("/").await;
    let dash = text(&dash);
    let at = dash.find("Recent changes").unwrap();
    let recent = &dash[at..];
    assert!(recent.contains("here First scan: every rule's verdict recorded as the baseline"), "{recent}");
    assert_eq!(recent.matches("First scan").count(), 1, "shown once: {recent}");
    let (_, host) = app.page(&format!("/hosts/{id}")).await;
    assert!(text(&host).contains("First scan: baseline recorded"));
    assert!(host.contains(&format!("href=\"/scans/{}\"", scan["id"])), "the baseline links to its results");
    app.stop().await;
});

both_backends!(
    rule_and_control_pages_name_the_hosts_filterable_and_exportable,
    |backend: Backend| async move {
        let app = TestApp::start(backend).await;
        let (alpha, scan) = app.scanned_local_host("alpha").await;
        let beta = app.host(json!({"name": "beta", "transport": "local", "groups": ["dmz"]})).await;
        let (_, q) = app.post(&format!("/api/v1/hosts/{beta}/scans"), json!({})).await;
        app.wait_scan(q["scan_id"].as_i64().unwrap()).await;
        let (rule, control) = failing_rule(&app, &scan).await;

        // The dashboard's top failing rules lead to the rule's page, which names both hosts.
        let (_, dash) = app.page("/").await;
        assert!(dash.contains("href=\"/rules/"), "top failing rules link to rule pages");
        let (s, page) = app.page(&format!("/rules/{rule}")).await;
        assert_eq!(s, StatusCode::OK);
        let t = text(&page);
        assert!(t.contains("alpha") && t.contains("beta"), "{t}");
        assert!(t.contains("2 host results: 2 fail"), "{t}");
        assert!(page.contains("<dl class=\"facts evidence\">"), "evidence for an admin");
        assert!(t.contains("How to fix"), "{t}");
        let reason = app.get(&format!("/api/v1/scans/{}/results/{rule}", scan["id"])).await["reason"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(t.contains(&text(&reason)), "the reason is shown: {reason}");

        // Filters: group, host name, verdict.
        let t = text(&app.page(&format!("/rules/{rule}?group=lab")).await.1);
        assert!(t.contains("1 host result") && t.contains("alpha") && !t.contains("beta"), "{t}");
        let t = text(&app.page(&format!("/rules/{rule}?host=BET")).await.1);
        assert!(t.contains("beta") && !t.contains(">alpha"), "{t}");
        let t = text(&app.page(&format!("/rules/{rule}?verdict=pass")).await.1);
        assert!(t.contains("0 host results"), "{t}");
        let (s, page) = app.page(&format!("/rules/{rule}?group=nosuch")).await;
        assert_eq!(s, StatusCode::OK);
        assert!(text(&page).contains("group: there is no group named `nosuch`"), "a readable refusal");

        // The page's export keeps its filters and names host, reason and controls.
        let (s, disposition, csv) = app.download(&format!("/compliance.csv?rule={rule}&group=lab")).await;
        assert_eq!(s, StatusCode::OK);
        assert!(disposition.contains(&format!("rule-{rule}-hosts.csv")), "{disposition}");
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "host,host_id,rule_id,title,severity,verdict,since,reason,controls,exception_id"
        );
        assert_eq!(lines.len(), 2, "one host in lab: {csv}");
        assert!(lines[1].starts_with(&format!("alpha,{alpha},{rule},")), "{csv}");
        assert!(lines[1].contains(&format!("cis_debian12:{control}")), "control ids: {csv}");

        // The control page: its rules' counts and the hosts, and the same through the API.
        let (s, page) = app.page(&format!("/frameworks/cis_debian12/controls/{control}")).await;
        assert_eq!(s, StatusCode::OK);
        let t = text(&page);
        assert!(t.contains("alpha") && t.contains("beta") && t.contains(&rule), "{t}");
        assert!(
            page.contains(&format!("href=\"/compliance.csv?framework=cis_debian12&amp;control={control}")),
            "{page}"
        );
        let api = app
            .get(&format!("/api/v1/compliance?framework=cis_debian12&control={control}&verdict=fail"))
            .await;
        let hosts: Vec<&str> =
            api["items"].as_array().unwrap().iter().map(|r| r["host_name"].as_str().unwrap()).collect();
        assert!(hosts.contains(&"alpha") && hosts.contains(&"beta"), "{api}");
        let (s, e) = app.send(reqwest::Method::GET, "/api/v1/compliance?verdict=maybe", None).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(e["error"]["message"].as_str().unwrap().contains("`maybe` is not one of"), "{e}");
        app.stop().await;
    }
);

both_backends!(exports_keep_the_filters_and_carry_host_reason_and_controls, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (id, scan) = app.scanned_local_host("here").await;
    let scan_id = scan["id"].as_i64().unwrap();

    // A host's export with the host page's filters: only failing rules, with the host named.
    let (s, _, csv) =
        app.download(&format!("/hosts/{id}/compliance.csv?verdict=fail&framework=cis_debian12")).await;
    assert_eq!(s, StatusCode::OK);
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r.starts_with(&format!("here,{id},")) && r.contains(",fail,")), "{csv}");
    assert!(
        rows.iter().all(|r| r
            .rsplit_once(',')
            .unwrap()
            .0
            .ends_with(|c: char| c.is_ascii_alphanumeric() || c == '"')),
        "controls, then the (empty) exception id: {csv}"
    );
    // The API serves the same bytes.
    let (_, _, api) = app
        .download(&format!("/api/v1/hosts/{id}/export?format=csv&verdict=fail&framework=cis_debian12"))
        .await;
    assert_eq!(api, csv);

    // A scan's export with the scan page's filter.
    let (_, _, csv) = app.download(&format!("/scans/{scan_id}/results.csv?verdict=pass")).await;
    assert!(
        csv.starts_with("host,scan_id,rule_id,title,severity,verdict,reason,controls,exception_id\n"),
        "{csv}"
    );
    assert!(csv.lines().skip(1).all(|r| r.starts_with(&format!("here,{scan_id},")) && r.contains(",pass,")));

    // The same scan as documents for other tools, from the stored results and evidence.
    let (s, disposition, xml) = app.download(&format!("/api/v1/scans/{scan_id}/export?format=xccdf")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(disposition.contains(&format!("scan-{scan_id}-results.xml")), "{disposition}");
    assert!(xml.contains("<TestResult ") && xml.contains("<target>here</target>"), "{xml}");
    let xsd = "/usr/share/openscap/schemas/xccdf/1.2/xccdf_1.2.xsd";
    if std::path::Path::new(xsd).exists() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("scan.xml");
        std::fs::write(&file, &xml).unwrap();
        let lint = std::process::Command::new("xmllint")
            .args(["--noout", "--schema", xsd])
            .arg(&file)
            .output()
            .unwrap();
        assert!(lint.status.success(), "{}", String::from_utf8_lossy(&lint.stderr));
    }
    let (_, _, page_xml) = app.download(&format!("/scans/{scan_id}/results.xml")).await;
    assert_eq!(page_xml, xml, "the scan page's XCCDF link serves the same bytes");
    let (_, _, page) = app.download(&format!("/scans/{scan_id}")).await;
    assert!(
        page.contains(&format!("/scans/{scan_id}/assessment-results.json")),
        "the page links the documents"
    );
    let (_, _, sarif) = app.download(&format!("/api/v1/scans/{scan_id}/export?format=sarif")).await;
    let sarif: Value = serde_json::from_str(&sarif).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(!results.is_empty() && results.iter().all(|r| r["properties"]["host"] == "here"), "{sarif}");
    assert!(
        results.iter().any(|r| !r["properties"]["evidence"].as_array().unwrap().is_empty()),
        "evidence is kept"
    );
    let (_, _, ar) = app.download(&format!("/api/v1/scans/{scan_id}/export?format=oscal-ar")).await;
    let ar: Value = serde_json::from_str(&ar).unwrap();
    assert_eq!(ar["assessment-results"]["metadata"]["oscal-version"], "1.1.2");
    let (s, _, err) = app.download(&format!("/api/v1/scans/{scan_id}/export?format=docx")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert!(err.contains("oscal-ar, oscal-poam, pdf or html"), "{err}");
    let (s, kind, pdf) = app.download_bytes(&format!("/scans/{scan_id}/report.pdf")).await;
    assert_eq!((s, kind.as_str()), (StatusCode::OK, "application/pdf"));
    assert!(pdf.starts_with(b"%PDF-"), "the scan page's PDF link");

    // The fleet-wide export, CSV and JSON, on both surfaces.
    let (s, disposition, web) = app.download("/compliance.csv?severity=high").await;
    assert_eq!(s, StatusCode::OK);
    assert!(disposition.contains("fleet-compliance.csv"), "{disposition}");
    assert!(web.lines().skip(1).all(|r| r.contains(",high,")), "{web}");
    let (_, _, api) = app.download("/api/v1/compliance/export?format=csv&severity=high").await;
    assert_eq!(api, web);
    let (_, _, json) = app.download("/compliance.json?verdict=fail").await;
    let doc: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["filters"], json!({"verdict": "fail"}));
    let row = &doc["rows"][0];
    assert_eq!(row["host"], "here");
    assert!(!row["reason"].as_str().unwrap().is_empty() && row["controls"].as_array().is_some(), "{row}");
    app.stop().await;
});
