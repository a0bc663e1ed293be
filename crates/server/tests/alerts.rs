//! Alert rules on both backends, from real local scans and a host nothing answers on: a
//! framework below its threshold alerts once and counts repeats; a rule that starts failing
//! alerts with the scan that saw it; an unreachable host alerts and its recovery resolves;
//! an exception about to end alerts from the scheduler; people acknowledge and resolve;
//! bad rules are refused with the field at fault.

mod common;

use std::time::Duration;

use common::{Backend, TestApp};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn alerts(app: &TestApp, q: &str) -> Vec<Value> {
    app.get(&format!("/api/v1/alerts?{q}")).await["items"].as_array().unwrap().clone()
}

/// Wait until an alert of `kind` exists (the alerts job and the scheduler run on their own).
async fn wait_alert(app: &TestApp, kind: &str) -> Value {
    for _ in 0..300 {
        if let Some(a) = alerts(app, &format!("kind={kind}&status=")).await.into_iter().next() {
            return a;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no {kind} alert: {:?}", alerts(app, "status=").await);
}

fn in_days(n: i64) -> String {
    let today = (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
        / 86_400) as i64;
    openwatch_core::exceptions::Date::from_unix_days(today + n).to_string()
}

both_backends!(alert_rules_raise_count_and_resolve, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    for (body, field) in [
        (json!({"name": "x", "kind": "nope"}), "kind"),
        (json!({"name": "x", "kind": "compliance_below", "params": {"threshold": 90}}), "params"),
        (
            json!({"name": "x", "kind": "compliance_below", "params": {"framework": "cis_debian12", "threshold": 120}}),
            "params",
        ),
        (json!({"name": "x", "kind": "new_failure", "params": {"min_severity": "urgent"}}), "params"),
        (json!({"name": " ", "kind": "host_key_changed"}), "name"),
        (json!({"name": "x", "kind": "host_key_changed", "quiet_secs": -1}), "quiet_secs"),
    ] {
        let (s, e) = app.post("/api/v1/alert-rules", body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {e}");
        assert_eq!(e["error"]["details"]["field"], field, "{body}: {e}");
    }
    let rule = |name: &str, kind: &str, params: Value| json!({"name": name, "kind": kind, "params": params});
    for r in [
        rule("cis", "compliance_below", json!({"framework": "cis_debian12", "threshold": 100})),
        rule("new failures", "new_failure", json!({"min_severity": "low"})),
        rule("unreachable", "host_unreachable", json!({"attempts": 1})),
        rule("exceptions", "exception_expiring", json!({"days": 30})),
    ] {
        let (s, r) = app.post("/api/v1/alert-rules", r).await;
        assert_eq!(s, StatusCode::CREATED, "{r}");
    }
    let (s, _) = app.post("/api/v1/alert-rules", rule("cis", "host_key_changed", json!({}))).await;
    assert_eq!(s, StatusCode::CONFLICT, "names are unique");

    // This machine fails some CIS rule: below 100% after its first scan, which is a baseline
    // (no "started failing" alert for it).
    let (host, scan) = app.scanned_local_host("here").await;
    let below = wait_alert(&app, "compliance_below").await;
    assert_eq!((below["status"].as_str(), below["occurrences"].as_i64()), (Some("open"), Some(1)), "{below}");
    assert!(below["subject"].as_str().unwrap().contains("cis_debian12 on the fleet is at"), "{below}");
    assert!(alerts(&app, "kind=new_failure&status=").await.is_empty(), "a baseline is not a new failure");
    let (s, q) = app.post(&format!("/api/v1/hosts/{host}/scans"), json!({})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{q}");
    app.wait_scan(q["scan_id"].as_i64().unwrap()).await;
    let mut again = Value::Null;
    for _ in 0..100 {
        again = app.get(&format!("/api/v1/alerts/{}", below["id"])).await;
        if again["occurrences"] == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(again["occurrences"], 2, "a repeat counts up, no second alert: {again}");
    assert_eq!(alerts(&app, "kind=compliance_below&status=").await.len(), 1);

    // A rule accepted by an exception, then failing again: that is a new failure.
    let failing = app.get(&format!("/api/v1/scans/{}/results?verdict=fail&per_page=1", scan["id"])).await["items"][0]
        ["rule_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let store = app.state.store();
    let e = store
        .create_exception(
            &openwatch_store::NewException {
                rule_id: failing.clone(),
                scope: openwatch_store::ExceptionScope::Host(host),
                justification: "for the test".into(),
                expires_on: in_days(10),
                requested_by: "olga".into(),
            },
            1,
        )
        .await
        .unwrap();
    let (s, d) = app.post(&format!("/api/v1/exceptions/{}/approve", e.id), json!({})).await;
    assert_eq!(s, StatusCode::OK, "{d}");
    // The exception ends within the rule's 30 days: the scheduler says so.
    let ending = wait_alert(&app, "exception_expiring").await;
    assert!(
        ending["subject"].as_str().unwrap().contains(&format!("Exception #{} for {failing} ends on", e.id)),
        "{ending}"
    );
    for _ in 0..100 {
        let c = app.get(&format!("/api/v1/hosts/{host}/compliance")).await;
        if c["rules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["rule_id"] == failing && r["verdict"] == "excepted")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (s, d) = app.post(&format!("/api/v1/exceptions/{}/revoke", e.id), json!({})).await;
    assert_eq!(s, StatusCode::OK, "{d}");
    let new = wait_alert(&app, "new_failure").await;
    assert_eq!(new["host_id"], host, "{new}");
    assert!(new["subject"].as_str().unwrap().starts_with("here: 1 rule started failing"), "{new}");
    assert!(new["body"].as_str().unwrap().contains(&failing), "{new}");
    assert_eq!(new["details"]["failures"][0]["was"], "excepted", "{new}");

    // People acknowledge and resolve.
    let id = below["id"].as_i64().unwrap();
    let (s, a) = app.post(&format!("/api/v1/alerts/{id}/acknowledge"), json!({})).await;
    assert_eq!(
        (s, a["status"].as_str(), a["acked_by"].as_str()),
        (StatusCode::OK, Some("acknowledged"), Some("admin"))
    );
    let (s, _) = app.post(&format!("/api/v1/alerts/{id}/acknowledge"), json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT, "acknowledged once");
    let (s, a) = app.post(&format!("/api/v1/alerts/{id}/resolve"), json!({})).await;
    assert_eq!((s, a["status"].as_str()), (StatusCode::OK, Some("resolved")));
    let (_, page) = app.page("/alerts?status=").await;
    let t = common::text(&page);
    assert!(t.contains("started failing") && t.contains("cis_debian12 on the fleet"), "{t}");

    // A host nothing answers on: unreachable after one failed scan.
    let dead = app.host(json!({"name": "dead", "address": "127.0.0.1", "port": 1, "username": "root", "transport": "ssh"})).await;
    let (s, q) = app.post(&format!("/api/v1/hosts/{dead}/scans"), json!({})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{q}");
    let down = wait_alert(&app, "host_unreachable").await;
    assert_eq!((down["host_id"].as_i64(), down["status"].as_str()), (Some(dead), Some("open")), "{down}");
    let actions: Vec<String> = app.get("/api/v1/audit/events?per_page=100").await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    for a in ["alert_rule.create", "alert.acknowledge", "alert.resolve"] {
        assert!(actions.iter().any(|x| x == a), "{a} audited: {actions:?}");
    }
    app.stop().await;
});
