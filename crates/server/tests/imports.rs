//! Other scanners' results kept by the server, on both backends: a real local scan exported
//! as XCCDF comes back through the import with the same verdicts, tied to the same rules and
//! matched to the same host; an InSpec report is related by control; the host page shows
//! them; a broken file is refused whole and keeps nothing.

mod common;

use std::collections::BTreeSet;

use common::{Backend, TestApp};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Upload a file through the API; status and body.
async fn upload(app: &TestApp, query: &str, body: &str) -> (StatusCode, Value) {
    let resp = app
        .client
        .post(format!("{}/api/v1/imports?{query}", app.base))
        .header("x-csrf-token", &app.csrf)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, serde_json::from_str(&resp.text().await.unwrap()).unwrap())
}

both_backends!(imported_results_sit_beside_the_hosts_own, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (id, scan) = app.scanned_local_host("alpha").await;
    let scan_id = scan["id"].as_i64().unwrap();

    // OpenWatch's own XCCDF of the scan, imported back: every verdict as the scan had it.
    let (_, _, xml) = app.download(&format!("/api/v1/scans/{scan_id}/export?format=xccdf")).await;
    let (s, i) = upload(&app, "filename=alpha.xml", &xml).await;
    assert_eq!(s, StatusCode::CREATED, "{i}");
    assert_eq!(
        (i["source"].as_str(), i["hosts"].as_i64(), i["matched_hosts"].as_i64()),
        (Some("xccdf"), Some(1), Some(1)),
        "{i}"
    );
    let own: BTreeSet<(String, String)> =
        app.get(&format!("/api/v1/scans/{scan_id}/results?per_page=500")).await["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["verdict"] != "skipped" && r["verdict"] != "not_applicable")
            .map(|r| (r["rule_id"].as_str().unwrap().to_owned(), r["verdict"].as_str().unwrap().to_owned()))
            .collect();
    let foreign = app.get(&format!("/api/v1/hosts/{id}/foreign-results")).await;
    let back: BTreeSet<(String, String)> = foreign["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["verdict"] != "skipped" && r["verdict"] != "not_applicable")
        .map(|r| {
            (r["openwatch_rule"].as_str().unwrap().to_owned(), r["verdict"].as_str().unwrap().to_owned())
        })
        .collect();
    assert!(!own.is_empty());
    assert_eq!(back, own, "the XCCDF round trip through the server keeps every decided verdict");

    // InSpec names no OpenWatch rule: related through its NIST control and CIS section.
    let inspec = json!({"platform": {"name": "debian", "release": "12", "target_id": "alpha"}, "version": "5.22.3",
        "profiles": [{"name": "baseline", "controls": [{"id": "ssh-07", "impact": 0.7,
        "tags": {"nist": ["AC-7"], "cis": "5.1.16"}, "results": [{"status": "failed", "code_desc": "MaxAuthTries <= 4"}]}]}]});
    let (s, i) = upload(&app, "", &inspec.to_string()).await;
    assert_eq!((s, i["source"].as_str()), (StatusCode::CREATED, Some("inspec")), "{i}");
    let foreign = app.get(&format!("/api/v1/hosts/{id}/foreign-results")).await;
    let ssh = foreign["items"].as_array().unwrap().iter().find(|r| r["source"] == "inspec").unwrap();
    assert!(ssh["related_rules"].as_array().unwrap().contains(&json!("sshd_set_max_auth_tries")), "{ssh}");
    assert_eq!(ssh["verdict"], "fail");

    // The host page shows both scanners.
    let (_, page) = app.page(&format!("/hosts/{id}")).await;
    assert!(
        page.contains("Other scanners") && page.contains("ssh-07") && page.contains("xccdf: "),
        "the card"
    );

    // Refused whole, naming where; nothing kept.
    let (s, e) = upload(&app, "filename=cut.xml", &xml[..xml.len() / 2]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e["error"]["message"].as_str().unwrap().starts_with("file: cut.xml:"), "{e}");
    let (s, e) = upload(&app, "source=wazuh", "{\"data\": {\"affected_items\": []}}").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("do not name their host"), "{e}");
    assert_eq!(app.get("/api/v1/imports").await["total"], 2);

    // The page's upload (multipart, same origin).
    let form = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::text(inspec.to_string()).file_name("inspec.json"))
        .text("source", "")
        .text("target", "");
    let resp = app
        .client
        .post(format!("{}/imports", app.base))
        .header("origin", &app.base)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let page = resp.text().await.unwrap();
    assert!(page.contains("Import #3: 1 results of 1 host(s), 1 matched to hosts here"), "{page}");

    // So does the control's page, for the control the InSpec result cites.
    let (_, page) = app.page("/frameworks/nist_800_53/controls/AC-7").await;
    let card = page.split_once("id=\"control-foreign\"").map(|(_, c)| common::text(c)).unwrap_or_default();
    assert!(
        card.contains("Other scanners Imported results") && card.contains("inspec 0 1 0 Hosts"),
        "{card}"
    );

    // A report of the host says what the other scanners said.
    let r = app
        .drawn_report(json!({"scope": "host", "scope_id": id, "format": "html", "detail": "executive"}))
        .await;
    let (_, _, html) = app.download(&format!("/api/v1/reports/{}/file", r["id"])).await;
    assert!(
        html.contains("Results from other scanners")
            && html.contains("<td>alpha</td><td>inspec</td><td>0</td><td>1</td>"),
        "{html}"
    );

    let actions = app.audit_actions().await;
    assert!(actions.iter().filter(|a| *a == "import.create:success").count() == 3, "{actions:?}");
    app.stop().await;
});
