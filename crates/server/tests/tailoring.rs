//! Tailoring of groups and hosts on both backends: checked input, the layers' order, real
//! local scans that follow it (rules left out, frameworks chosen, figures counted), the
//! pages and the audit trail.

mod common;

use common::{Backend, TestApp, text};
use openwatch_store::{AuditQuery, PageRequest};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn put(app: &TestApp, path: &str, body: Value) -> (StatusCode, Value) {
    app.send(Method::PUT, path, Some(body)).await
}

async fn group_id(app: &TestApp, name: &str) -> i64 {
    let groups = app.get("/api/v1/groups").await;
    groups["items"].as_array().unwrap().iter().find(|g| g["name"] == name).unwrap()["id"].as_i64().unwrap()
}

async fn rescan(app: &TestApp, host: i64) -> Value {
    let (s, q) = app.post(&format!("/api/v1/hosts/{host}/scans"), json!({})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{q}");
    let scan = app.wait_scan(q["scan_id"].as_i64().unwrap()).await;
    assert_eq!(scan["status"], "succeeded", "{scan}");
    scan
}

both_backends!(tailoring_is_checked_layered_scanned_and_audited, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (host, first) = app.scanned_local_host("here").await;
    let lab = group_id(&app, "lab").await;
    let all_rules = app.get(&format!("/api/v1/scans/{}/results?per_page=500", first["id"])).await["total"]
        .as_i64()
        .unwrap();

    // Every problem at once, nothing saved.
    let bad = json!({"frameworks": ["cis_debian99"], "exclude_rules": ["no_such_rule"],
        "variables": {"no_such_var": "1", "sshd_max_auth_tries": "many"}});
    let (s, e) = put(&app, &format!("/api/v1/groups/{lab}/tailoring"), bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let msg = e["error"]["message"].as_str().unwrap();
    for part in ["cis_debian99", "no_such_rule", "no_such_var", "sshd_max_auth_tries"] {
        assert!(msg.contains(part), "{part} in {msg}");
    }
    assert!(app.get(&format!("/api/v1/groups/{lab}/tailoring")).await["updated_by"].is_null());
    let (s, _) = put(&app, "/api/v1/groups/999/tailoring", json!({})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // The group chooses PCI DSS, leaves a rule out and sets a variable.
    let excluded = "sshd_set_max_auth_tries";
    let body = json!({"frameworks": ["pci_dss_4"], "exclude_rules": [excluded],
        "variables": {"sshd_max_auth_tries": "3"}});
    let (s, saved) = put(&app, &format!("/api/v1/groups/{lab}/tailoring"), body).await;
    assert_eq!(s, StatusCode::OK, "{saved}");
    let eff = app.get(&format!("/api/v1/hosts/{host}/tailoring/effective")).await;
    assert_eq!(eff["frameworks"], json!(["pci_dss_4"]));
    assert_eq!(eff["variables"]["sshd_max_auth_tries"], json!(["3", "group lab"]));
    let audit =
        app.state.store().list_audit(&AuditQuery::default(), PageRequest::new(None, Some(5))).await.unwrap();
    let event = audit.items.iter().find(|e| e.action == "tailoring.put" && e.outcome == "success").unwrap();
    assert_eq!(event.target, format!("group:{lab}"));
    assert_eq!(event.details["after"]["variables"]["sshd_max_auth_tries"], "3");
    assert!(
        audit.items.iter().any(|e| e.action == "tailoring.put" && e.outcome != "success"),
        "refusals too"
    );

    // The next scan follows it: only rules citing PCI DSS, without the excluded one, and
    // figures for PCI DSS only.
    let scan = rescan(&app, host).await;
    let results = app.get(&format!("/api/v1/scans/{}/results?per_page=500", scan["id"])).await;
    let ids: Vec<String> = results["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule_id"].as_str().unwrap().to_owned())
        .collect();
    assert!(!ids.is_empty() && (ids.len() as i64) < all_rules, "{} of {all_rules}", ids.len());
    assert!(!ids.iter().any(|r| r == excluded));
    let lib = common::library();
    assert!(ids.iter().all(|r| !lib.rule(r).unwrap().raw.references.controls("pci_dss_4").is_empty()));
    let c = app.get(&format!("/api/v1/hosts/{host}/compliance")).await;
    let frameworks: Vec<&str> =
        c["frameworks"].as_array().unwrap().iter().map(|f| f["framework"].as_str().unwrap()).collect();
    assert_eq!(frameworks, ["pci_dss_4"], "figures follow the tailoring");
    assert_eq!(c["rules"].as_array().unwrap().len(), ids.len(), "left-out rules leave the current state");

    // The host's own list replaces its groups'.
    let (s, _) =
        put(&app, &format!("/api/v1/hosts/{host}/tailoring"), json!({"frameworks": ["nist_800_53"]})).await;
    assert_eq!(s, StatusCode::OK);
    let eff = app.get(&format!("/api/v1/hosts/{host}/tailoring/effective")).await;
    assert_eq!(
        (eff["frameworks"].clone(), eff["frameworks_from"].clone()),
        (json!(["nist_800_53"]), json!("host"))
    );
    rescan(&app, host).await;
    let c = app.get(&format!("/api/v1/hosts/{host}/compliance")).await;
    assert_eq!(c["frameworks"][0]["framework"], "nist_800_53");
    // An empty tailoring removes the host's own.
    let (s, _) = put(&app, &format!("/api/v1/hosts/{host}/tailoring"), json!({})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        app.get(&format!("/api/v1/hosts/{host}/tailoring/effective")).await["frameworks"],
        json!(["pci_dss_4"])
    );
    app.stop().await;
});

both_backends!(
    the_tailoring_pages_keep_input_on_error_and_show_what_is_inherited,
    |backend: Backend| async move {
        let app = TestApp::start(backend).await;
        let host = app.host(json!({"name": "web-1", "address": "192.0.2.20", "groups": ["dmz"]})).await;
        let dmz = group_id(&app, "dmz").await;
        let (s, page) = app.page(&format!("/groups/{dmz}/tailoring")).await;
        assert_eq!(s, StatusCode::OK);
        assert!(text(&page).contains("Tailoring of group dmz"));
        assert!(page.contains("sshd_max_auth_tries"), "the known variables are listed");

        // A malformed line: refused, with what was typed kept.
        let (s, page) = app
            .form(
                &format!("/groups/{dmz}/tailoring"),
                &[
                    ("framework", "cis_debian12"),
                    ("exclude_rules", "sshd_set_max_sessions"),
                    ("variables", "sshd_max_auth_tries 3"),
                ],
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        let t = text(&page);
        assert!(t.contains("variables: line 1: `sshd_max_auth_tries 3` is not NAME=VALUE"), "{t}");
        assert!(
            page.contains("sshd_max_auth_tries 3</textarea>")
                && page.contains("sshd_set_max_sessions</textarea>")
        );
        assert!(page.contains("value=\"cis_debian12\" checked"), "ticked boxes stay ticked");

        let (s, page) = app
            .form(
                &format!("/groups/{dmz}/tailoring"),
                &[("framework", "cis_debian12"), ("variables", "sshd_max_auth_tries=3")],
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        assert!(
            text(&page).contains("Tailoring of group dmz saved; it applies from the next scan"),
            "{}",
            text(&page)
        );
        let (_, page) = app.page(&format!("/hosts/{host}/tailoring")).await;
        let t = text(&page);
        assert!(t.contains("Frameworks: cis_debian12 (from group dmz)"), "{t}");
        assert!(t.contains("sshd_max_auth_tries=3 (from group dmz)"), "{t}");
        app.stop().await;
    }
);
