//! Exceptions on both backends, from real local scans: one approved by a second user turns
//! a failure into `excepted` (with its id) and moves the compliance figure; self-approval
//! is refused and audited; revocation and expiry bring the failure back, and an end is
//! alerted to the channels with no alert rule; bad requests get the field at fault.

mod common;

use common::{Backend, TestApp};
use openwatch_testsupport::receivers;
use reqwest::StatusCode;
use serde_json::{Value, json};

const PW: &str = "operator-password-1";

/// A rule this machine fails that CIS Debian 12 cites.
async fn failing_rule(app: &TestApp, scan: &Value) -> String {
    let id = scan["id"].as_i64().unwrap();
    let results = app.get(&format!("/api/v1/scans/{id}/results?verdict=fail&per_page=500")).await;
    let lib = common::library();
    results["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule_id"].as_str().unwrap().to_owned())
        .find(|r| !lib.rule(r).unwrap().raw.references.controls("cis_debian12").is_empty())
        .unwrap_or_else(|| panic!("this machine fails no CIS Debian 12 rule: {results}"))
}

/// The host's current verdict on `rule` and the exception behind it.
async fn latest(app: &TestApp, host: i64, rule: &str) -> (String, Value) {
    let c = app.get(&format!("/api/v1/hosts/{host}/compliance")).await;
    let r =
        c["rules"].as_array().unwrap().iter().find(|r| r["rule_id"] == rule).unwrap_or_else(|| panic!("{c}"));
    (r["verdict"].as_str().unwrap().to_owned(), r["exception_id"].clone())
}

async fn cis(app: &TestApp, host: i64) -> Value {
    let c = app.get(&format!("/api/v1/hosts/{host}/compliance")).await;
    c["frameworks"].as_array().unwrap().iter().find(|f| f["framework"] == "cis_debian12").unwrap().clone()
}

/// A CSV export's `exception_id` column by rule.
fn exception_ids(csv: &str) -> std::collections::BTreeMap<String, String> {
    let mut r = csv::Reader::from_reader(csv.as_bytes());
    let header = r.headers().unwrap().clone();
    let col =
        |name: &str| header.iter().position(|h| h == name).unwrap_or_else(|| panic!("{name}: {header:?}"));
    let (rule, exception) = (col("rule_id"), col("exception_id"));
    r.records().map(|row| row.unwrap()).map(|row| (row[rule].to_owned(), row[exception].to_owned())).collect()
}

/// Wait for the scans a decision queued to finish.
async fn settle(app: &TestApp, host: i64) {
    for _ in 0..600 {
        let scans = app.get(&format!("/api/v1/scans?host_id={host}")).await;
        if scans["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "succeeded" || s["status"] == "failed")
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the host's scans did not finish");
}

fn in_days(n: i64) -> String {
    let today = openwatch_core::exceptions::Date::from_unix_days(
        (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() / 86_400)
            as i64,
    );
    openwatch_core::exceptions::Date::from_unix_days(today.unix_days() + n).to_string()
}

both_backends!(
    an_exception_approved_by_someone_else_turns_a_failure_into_excepted,
    |backend: Backend| async move {
        let mut app = TestApp::start(backend).await;
        let (host, scan) = app.scanned_local_host("here").await;
        let rule = failing_rule(&app, &scan).await;
        let before = cis(&app, host).await;
        assert_eq!(before["excepted"], 0, "{before}");
        let (s, _) =
            app.post("/api/v1/users", json!({"username": "olga", "password": PW, "role": "operator"})).await;
        assert_eq!(s, StatusCode::CREATED);

        // The requester cannot approve their own exception, even holding the permission.
        let ask = json!({"rule_id": rule, "host_id": host, "justification": "vendor appliance", "expires": in_days(30)});
        let (s, own) = app.post("/api/v1/exceptions", ask.clone()).await;
        assert_eq!(s, StatusCode::CREATED, "{own}");
        assert_eq!((own["status"].as_str(), own["scope"].as_str()), (Some("requested"), Some("host")));
        let own_id = own["id"].as_i64().unwrap();
        let (s, e) = app.post(&format!("/api/v1/exceptions/{own_id}/approve"), json!({})).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{e}");
        assert!(e["error"]["message"].as_str().unwrap().contains("someone else"), "{e}");
        let denied = app.get("/api/v1/audit/events?action=exception.approve").await;
        assert_eq!(denied["items"][0]["outcome"], "denied", "{denied}");
        // A rejection says why.
        let (s, e) = app.post(&format!("/api/v1/exceptions/{own_id}/reject"), json!({})).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{e}");

        // An operator asks; the admin approves; the host is scanned again at once.
        app.login("olga", PW).await;
        let (s, asked) = app.post("/api/v1/exceptions", ask).await;
        assert_eq!(s, StatusCode::CREATED, "{asked}");
        let id = asked["id"].as_i64().unwrap();
        let (s, e) = app.post(&format!("/api/v1/exceptions/{id}/approve"), json!({})).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "an operator does not approve: {e}");
        app.login("admin", common::ADMIN_PASSWORD).await;
        let (s, e) = app.post(&format!("/api/v1/exceptions/{id}/reject"), json!({})).await;
        assert_eq!(
            (s, e["error"]["details"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("note")),
            "{e}"
        );
        let (s, d) = app
            .post(&format!("/api/v1/exceptions/{id}/approve"), json!({"note": "accepted until the upgrade"}))
            .await;
        assert_eq!(s, StatusCode::OK, "{d}");
        assert_eq!(
            (d["exception"]["status"].as_str(), d["scans_queued"].as_i64()),
            (Some("approved"), Some(1)),
            "{d}"
        );
        settle(&app, host).await;
        assert_eq!(latest(&app, host, &rule).await, ("excepted".into(), json!(id)));
        let after = cis(&app, host).await;
        assert_eq!(after["excepted"], 1, "{after}");
        assert_eq!(
            after["fail"].as_i64().unwrap(),
            before["fail"].as_i64().unwrap() - 1,
            "{before} -> {after}"
        );
        // The daily trend keeps the accepted failure apart too.
        app.state.store().roll_up_trend(openwatch_server::app::now_ms()).await.unwrap();
        let summary = app.get("/api/v1/fleet/summary").await;
        let point =
            summary["trend"].as_array().unwrap().iter().find(|t| t["framework"] == "cis_debian12").cloned();
        assert_eq!(point.as_ref().map(|t| t["excepted"].clone()), Some(json!(1)), "{summary}");
        let shown = app.get(&format!("/api/v1/exceptions/{id}")).await;
        assert_eq!(
            (shown["in_force"].as_bool(), shown["decided_by"].as_str()),
            (Some(true), Some("admin")),
            "{shown}"
        );
        let listed = app.get(&format!("/api/v1/exceptions?host_id={host}&status=approved")).await;
        assert_eq!(listed["total"], 1, "{listed}");
        let scan_id =
            app.get(&format!("/api/v1/scans?host_id={host}")).await["items"][0]["id"].as_i64().unwrap();
        let results = app.get(&format!("/api/v1/scans/{scan_id}/results?verdict=excepted")).await;
        assert_eq!(results["items"][0]["rule_id"], rule.as_str(), "{results}");
        assert_eq!(results["items"][0]["exception_id"], id, "{results}");
        // The scan page names the exception; both CSV exports of the scan carry its id on
        // that row, and on no other.
        let (_, page) = app.page(&format!("/scans/{scan_id}?verdict=excepted")).await;
        assert!(page.contains(&format!("status=approved#exception-{id}\"")), "{page}");
        assert!(
            common::text(&page).contains(&format!("excepted exception #{id}")),
            "{}",
            common::text(&page)
        );
        for path in
            [format!("/api/v1/scans/{scan_id}/export?format=csv"), format!("/scans/{scan_id}/results.csv")]
        {
            let (s, _, body) = app.download(&path).await;
            assert_eq!(s, StatusCode::OK, "{path}: {body}");
            let ids = exception_ids(&body);
            assert_eq!(ids.get(&rule).map(String::as_str), Some(id.to_string().as_str()), "{path}: {body}");
            assert!(ids.iter().all(|(r, e)| *r == rule || e.is_empty()), "{path}: {body}");
            assert!(ids.len() > 1, "every result is exported: {body}");
        }

        // Revoked: the failure is back.
        let (s, d) = app.post(&format!("/api/v1/exceptions/{id}/revoke"), json!({"note": "upgraded"})).await;
        assert_eq!((s, d["scans_queued"].as_i64()), (StatusCode::OK, Some(1)), "{d}");
        settle(&app, host).await;
        assert_eq!(latest(&app, host, &rule).await.0, "fail");
        let (s, _) = app.post(&format!("/api/v1/exceptions/{id}/revoke"), json!({})).await;
        assert_eq!(s, StatusCode::CONFLICT, "revoked once");
        let actions: Vec<String> = app.get("/api/v1/audit/events?per_page=100").await["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["outcome"] == "success")
            .map(|e| e["action"].as_str().unwrap().to_owned())
            .collect();
        for a in ["exception.request", "exception.approve", "exception.revoke"] {
            assert!(actions.iter().any(|x| x == a), "{a} audited: {actions:?}");
        }
        app.stop().await;
    }
);

both_backends!(an_expired_exception_no_longer_accepts_the_failure, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (host, scan) = app.scanned_local_host("here").await;
    let rule = failing_rule(&app, &scan).await;
    // Fleet-wide, approved, and its last day was yesterday (written to the store directly:
    // the API refuses a past date).
    let store = app.state.store();
    let new = openwatch_store::NewException {
        rule_id: rule.clone(),
        scope: openwatch_store::ExceptionScope::Fleet,
        justification: "was accepted".into(),
        expires_on: in_days(-1),
        requested_by: "olga".into(),
    };
    let e = store.create_exception(&new, 1).await.unwrap();
    store.decide_exception(e.id, true, "admin", "", 2).await.unwrap().unwrap();
    let shown = app.get(&format!("/api/v1/exceptions/{}", e.id)).await;
    assert_eq!(
        (shown["in_force"].as_bool(), shown["expired"].as_bool()),
        (Some(false), Some(true)),
        "{shown}"
    );
    // A second one, in force through today, for the same rule on this host's group.
    let group = app.get("/api/v1/groups").await["items"][0]["id"].as_i64().unwrap();
    let today = json!({"rule_id": rule, "group_id": group, "justification": "lab", "expires": in_days(0)});
    let (s, asked) = app.post("/api/v1/exceptions", today).await;
    assert_eq!(s, StatusCode::CREATED, "{asked}");
    store.decide_exception(asked["id"].as_i64().unwrap(), true, "someone", "", 3).await.unwrap().unwrap();
    let (s, q) = app.post(&format!("/api/v1/hosts/{host}/scans"), json!({})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{q}");
    app.wait_scan(q["scan_id"].as_i64().unwrap()).await;
    assert_eq!(
        latest(&app, host, &rule).await,
        ("excepted".into(), asked["id"].clone()),
        "the group's, not the expired one"
    );
    app.stop().await;
});

/// Scan the host again and wait for the scan.
async fn rescan(app: &TestApp, host: i64) {
    let (s, q) = app.post(&format!("/api/v1/hosts/{host}/scans"), json!({})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{q}");
    let scan = app.wait_scan(q["scan_id"].as_i64().unwrap()).await;
    assert_eq!(scan["status"], "succeeded", "{scan}");
}

async fn ended_alerts(app: &TestApp) -> Vec<Value> {
    let all = app.get("/api/v1/alerts?kind=exception_expiring&status=").await;
    all["items"].as_array().unwrap().clone()
}

both_backends!(
    an_exception_past_its_last_day_brings_the_failure_back_and_alerts,
    |backend: Backend| async move {
        let app = TestApp::start(backend).await;
        // A channel and no alert rule at all: the end of an exception is told anyway.
        let (hook_url, hook) = receivers::http(0);
        let (s, c) = app
            .post(
                "/api/v1/channels",
                json!({"name": "ops-hook", "kind": "webhook", "settings": {"url": hook_url}, "secret": "k"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        let (host, scan) = app.scanned_local_host("here").await;
        let rule = failing_rule(&app, &scan).await;
        let before = cis(&app, host).await;
        let store = app.state.store();
        let new = openwatch_store::NewException {
            rule_id: rule.clone(),
            scope: openwatch_store::ExceptionScope::Host(host),
            justification: "until the migration".into(),
            expires_on: in_days(0),
            requested_by: "olga".into(),
        };
        let e = store.create_exception(&new, 1).await.unwrap();
        store.decide_exception(e.id, true, "admin", "", 2).await.unwrap().unwrap();
        rescan(&app, host).await;
        assert_eq!(
            latest(&app, host, &rule).await,
            ("excepted".into(), json!(e.id)),
            "in force through today"
        );
        let during = cis(&app, host).await;
        assert_eq!(
            (during["excepted"].as_i64(), during["fail"].as_i64()),
            (Some(1), Some(before["fail"].as_i64().unwrap() - 1)),
            "{before} -> {during}"
        );
        assert!(ended_alerts(&app).await.is_empty(), "its last day is not its end");

        // The day passes (no request moves a date into the past).
        let yesterday = in_days(-1);
        let changed =
            app.sql(&format!("UPDATE exceptions SET expires_on = '{yesterday}' WHERE id = {}", e.id)).await;
        assert_eq!(changed, 1);
        let mut ended = Vec::new();
        for _ in 0..300 {
            ended = ended_alerts(&app).await;
            if !ended.is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(ended.len(), 1, "one alert for the end, from the scheduler: {ended:?}");
        let a = &ended[0];
        assert_eq!(a["subject"], format!("Exception #{} for {rule} has ended", e.id), "{a}");
        assert_eq!((a["rule_id"].clone(), a["host_id"].clone()), (Value::Null, json!(host)), "{a}");
        assert_eq!(a["details"]["expired_on"], yesterday.as_str(), "{a}");
        let told = |id: &Value| {
            hook.seen
                .lock()
                .unwrap()
                .iter()
                .filter(|s| serde_json::from_slice::<Value>(&s.body).unwrap()["alert_id"] == *id)
                .count()
        };
        for _ in 0..300 {
            if told(&a["id"]) > 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(told(&a["id"]), 1, "the channel is told, with no alert rule");

        // The next evaluation reports the failure again and the figure is what it was.
        rescan(&app, host).await;
        assert_eq!(latest(&app, host, &rule).await, ("fail".into(), Value::Null));
        let after = cis(&app, host).await;
        assert_eq!(
            (after["excepted"].as_i64(), after["fail"].as_i64()),
            (Some(0), before["fail"].as_i64()),
            "{during} -> {after}"
        );

        // An end happens once: resolved, it is not raised again by later ticks.
        let (s, r) = app.post(&format!("/api/v1/alerts/{}/resolve", a["id"]), json!({})).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        openwatch_server::worker::alerts::tick(&app.state).await.unwrap();
        let ended = ended_alerts(&app).await;
        assert_eq!(ended.len(), 1, "{ended:?}");
        assert_eq!(
            (ended[0]["status"].as_str(), ended[0]["occurrences"].as_i64()),
            (Some("resolved"), Some(1))
        );
        assert_eq!(told(&a["id"]), 1);
        app.stop().await;
    }
);

both_backends!(bad_requests_name_the_field_at_fault, |backend: Backend| async move {
    let app = TestApp::start_with(backend, |c| c.exception_max_days = 90).await;
    let (host, _) = app.scanned_local_host("here").await;
    let ok = json!({"rule_id": "file_permissions_etc_passwd", "justification": "j", "expires": in_days(10)});
    let with = |k: &str, v: Value| {
        let mut b = ok.clone();
        b[k] = v;
        b
    };
    for (body, field, words) in [
        (with("rule_id", json!("no_such_rule")), "rule_id", "unknown rule"),
        (with("justification", json!("  ")), "justification", "say why"),
        (with("expires", json!("2026-02-30")), "expires", "not a date"),
        (with("expires", json!(in_days(-1))), "expires", "in the past"),
        (with("expires", json!(in_days(91))), "expires", "at most 90 days"),
        (with("host_id", json!(99_999)), "host_id", "no host"),
        (with("group_id", json!(99_999)), "group_id", "no group"),
        (
            json!({"rule_id": "file_permissions_etc_passwd", "justification": "j", "expires": in_days(10), "host_id": host, "group_id": 1}),
            "host_id",
            "not both",
        ),
    ] {
        let (s, e) = app.post("/api/v1/exceptions", body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {e}");
        assert_eq!(e["error"]["details"]["field"], field, "{body}: {e}");
        assert!(e["error"]["message"].as_str().unwrap().contains(words), "{body}: {e}");
    }
    let (s, e) = app.post("/api/v1/exceptions", with("hosts", json!([1]))).await;
    assert!(s.is_client_error(), "unknown fields are refused: {e}");
    let (s, _) = app.post("/api/v1/exceptions", ok).await;
    assert_eq!(s, StatusCode::CREATED, "fleet-wide, 10 days");
    app.stop().await;
});

both_backends!(the_pages_ask_decide_and_show_an_exception, |backend: Backend| async move {
    let mut app = TestApp::start(backend).await;
    let (host, scan) = app.scanned_local_host("here").await;
    let rule = failing_rule(&app, &scan).await;
    let (s, _) =
        app.post("/api/v1/users", json!({"username": "olga", "password": PW, "role": "operator"})).await;
    assert_eq!(s, StatusCode::CREATED);
    app.login("olga", PW).await;
    let (_, page) = app.page(&format!("/hosts/{host}?verdict=fail")).await;
    assert!(page.contains("Accept the risk") && page.contains("every host in group lab"), "{page}");
    let scope = format!("host:{host}");
    let back = format!("/hosts/{host}");
    let until = in_days(20);
    let (s, page) = app
        .form(
            "/exceptions",
            &[
                ("rule_id", &rule),
                ("scope", &scope),
                ("justification", "  "),
                ("expires", &until),
                ("back", &back),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        common::text(&page).contains("say why this failure is accepted"),
        "refused, back on the host page"
    );
    let (_, page) = app
        .form(
            "/exceptions",
            &[
                ("rule_id", &rule),
                ("scope", &scope),
                ("justification", "kiosk image"),
                ("expires", &until),
                ("back", &back),
            ],
        )
        .await;
    let t = common::text(&page);
    assert!(t.contains(&format!("Exception #1 for {rule} requested")) && t.contains("kiosk image"), "{t}");
    assert!(!page.contains("/exceptions/1/approve"), "an operator is not offered the decision: {page}");

    app.login("admin", common::ADMIN_PASSWORD).await;
    let (_, page) = app.form("/exceptions/1/reject", &[("note", "")]).await;
    assert!(common::text(&page).contains("say why the exception is rejected"), "{}", common::text(&page));
    let (_, page) = app.form("/exceptions/1/approve", &[("note", "ok until the kiosk is replaced")]).await;
    assert!(
        common::text(&page).contains("Exception #1 approved; 1 host scan(s) queued"),
        "{}",
        common::text(&page)
    );
    settle(&app, host).await;
    let (_, page) = app.page(&format!("/hosts/{host}?verdict=excepted")).await;
    let t = common::text(&page);
    assert!(t.contains("Accepted by exception #1") && t.contains(&rule), "{t}");
    assert!(t.contains("1 excepted ("), "the figure says what it reads without: {t}");
    let (_, page) = app.page("/").await;
    assert!(common::text(&page).contains("1 excepted ("), "{}", common::text(&page));
    let (_, page) = app.form("/exceptions/1/revoke", &[]).await;
    assert!(
        common::text(&page).contains("Exception #1 revoked; 1 host scan(s) queued"),
        "{}",
        common::text(&page)
    );
    app.stop().await;
});
