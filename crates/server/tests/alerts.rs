//! Alert rules on both backends, from real local scans and a host nothing answers on: a
//! framework below its threshold alerts once and counts repeats; a rule that starts failing
//! alerts with the scan that saw it; an unreachable host alerts and its recovery resolves;
//! an exception about to end alerts from the scheduler; people acknowledge and resolve;
//! bad rules are refused with the field at fault. Also: an unreachable host back (resolved
//! and told), the quiet period (a repeat inside it reopens silently, one after it alerts
//! anew), a changed SSH host key (a real handshake with a loopback SSH server), a group
//! below its threshold, and a fix request waiting for approval.

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

async fn create_rule(app: &TestApp, body: Value) -> i64 {
    let (s, r) = app.post("/api/v1/alert-rules", body).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    r["id"].as_i64().unwrap()
}

/// Scan a host and wait for the scan; its final status.
async fn scan(app: &TestApp, host: i64) -> String {
    let (s, q) = app.post(&format!("/api/v1/hosts/{host}/scans"), json!({})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{q}");
    app.wait_scan(q["scan_id"].as_i64().unwrap()).await["status"].as_str().unwrap().to_owned()
}

/// Wait until the alert `id` reads as `done` says.
async fn wait_for(app: &TestApp, id: i64, done: impl Fn(&Value) -> bool) -> Value {
    let mut a = Value::Null;
    for _ in 0..300 {
        a = app.get(&format!("/api/v1/alerts/{id}")).await;
        if done(&a) {
            return a;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("alert {id} did not change as expected: {a}");
}

/// A webhook channel on a receiver started here.
async fn hook_channel(app: &TestApp) -> std::sync::Arc<openwatch_testsupport::receivers::Recorded> {
    let (url, hook) = openwatch_testsupport::receivers::http(0);
    let (s, c) = app
        .post(
            "/api/v1/channels",
            json!({"name": "ops-hook", "kind": "webhook", "settings": {"url": url}, "secret": "k"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    hook
}

/// A password credential, for SSH hosts (none of which lets it in).
async fn credential(app: &TestApp) -> i64 {
    let (s, c) = app
        .post(
            "/api/v1/credentials",
            json!({"name": "pw", "kind": "password", "username": "scan", "secret": "pw"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    c["id"].as_i64().unwrap()
}

/// Point a host at nothing over SSH (unreachable) or at this machine (scans succeed).
async fn point(app: &TestApp, host: i64, cred: i64, reachable: bool) {
    let body = if reachable {
        json!({"name": "flaky", "transport": "local"})
    } else {
        json!({"name": "flaky", "transport": "ssh", "address": "127.0.0.1", "port": 1, "credential_id": cred})
    };
    let (s, h) = app.send(reqwest::Method::PUT, &format!("/api/v1/hosts/{host}"), Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{h}");
}

both_backends!(
    an_unreachable_host_recovers_and_a_quiet_period_holds_repeats,
    |backend: Backend| async move {
        let app = TestApp::start_with(backend, |c| c.job_retry_base_secs = 0).await;
        let hook = hook_channel(&app).await;
        let cred = credential(&app).await;
        let rule = create_rule(
        &app,
        json!({"name": "down", "kind": "host_unreachable", "params": {"attempts": 1}, "quiet_secs": 3600}),
    )
    .await;
        let host = app
        .host(json!({"name": "flaky", "transport": "ssh", "address": "127.0.0.1", "port": 1, "credential_id": cred}))
        .await;
        assert_eq!(scan(&app, host).await, "failed");
        let down = wait_alert(&app, "host_unreachable").await;
        let first = down["id"].as_i64().unwrap();
        assert_eq!((down["host_id"].as_i64(), down["status"].as_str()), (Some(host), Some("open")), "{down}");
        assert!(down["body"].as_str().unwrap().to_lowercase().contains("refused"), "the reason: {down}");

        // Back: the alert is resolved by the system and people are told.
        point(&app, host, cred, true).await;
        assert_eq!(scan(&app, host).await, "succeeded");
        let up = wait_for(&app, first, |a| a["status"] == "resolved").await;
        assert_eq!(up["resolved_by"], "system", "{up}");

        // Down again within the quiet period: the same alert reopens, counted, nobody told.
        point(&app, host, cred, false).await;
        assert_eq!(scan(&app, host).await, "failed");
        let again = wait_for(&app, first, |a| a["status"] == "open").await;
        assert_eq!(again["occurrences"], 2, "{again}");

        // Once the (now one-second) quiet period has passed after the next recovery, going down
        // is a new alert, told again.
        let (s, r) = app
        .send(
            reqwest::Method::PUT,
            &format!("/api/v1/alert-rules/{rule}"),
            Some(json!({"name": "down", "kind": "host_unreachable", "params": {"attempts": 1}, "quiet_secs": 1})),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{r}");
        point(&app, host, cred, true).await;
        assert_eq!(scan(&app, host).await, "succeeded");
        wait_for(&app, first, |a| a["status"] == "resolved").await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        point(&app, host, cred, false).await;
        assert_eq!(scan(&app, host).await, "failed");
        let mut all = Vec::new();
        for _ in 0..300 {
            all = alerts(&app, "kind=host_unreachable&status=").await;
            if all.len() == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(all.len(), 2, "{all:?}");
        let second = all[0]["id"].as_i64().unwrap();
        assert!(second > first && all[0]["status"] == "open" && all[0]["occurrences"] == 1, "{all:?}");

        // Told: down, back, back, down again; not the repeat inside the quiet period.
        let bodies = || -> Vec<Value> {
            hook.seen.lock().unwrap().iter().map(|s| serde_json::from_slice(&s.body).unwrap()).collect()
        };
        for _ in 0..300 {
            if bodies().len() >= 4 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let told: Vec<(i64, Option<String>)> = bodies()
            .iter()
            .map(|b| (b["alert_id"].as_i64().unwrap(), b["status"].as_str().map(str::to_owned)))
            .collect();
        let resolved = Some("resolved".to_owned());
        assert_eq!(told, [(first, None), (first, resolved.clone()), (first, resolved), (second, None)]);
        assert!(
            bodies()[1]["reason"].as_str().unwrap().contains("flaky is reachable again"),
            "{:?}",
            bodies()[1]
        );
        assert_eq!(app.get("/api/v1/deliveries").await["total"], 4, "nothing else was queued");
        app.stop().await;
    }
);

/// An SSH server on loopback presenting `key`. It lets nobody in, which is all a host-key
/// check needs: the client checks the key in the handshake, before authenticating.
async fn ssh_server(key: russh::keys::PrivateKey) -> u16 {
    struct NoEntry;
    impl russh::server::Handler for NoEntry {
        type Error = russh::Error;
    }
    let config = std::sync::Arc::new(russh::server::Config { keys: vec![key], ..Default::default() });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let config = config.clone();
            tokio::spawn(async move {
                if let Ok(session) = russh::server::run_stream(config, socket, NoEntry).await {
                    let _ = session.await;
                }
            });
        }
    });
    port
}

fn ed25519(seed: u8) -> russh::keys::PrivateKey {
    russh::keys::ssh_key::private::Ed25519Keypair::from_seed(&[seed; 32]).into()
}

both_backends!(a_changed_host_key_alerts_until_a_scan_succeeds, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    create_rule(&app, json!({"name": "keys", "kind": "host_key_changed"})).await;
    let cred = credential(&app).await;
    let (approved, presented) = (ed25519(1), ed25519(2));
    let port = ssh_server(presented.clone()).await;
    let host = app
        .host(json!({"name": "flaky", "transport": "ssh", "address": "127.0.0.1", "port": port, "credential_id": cred}))
        .await;
    let key = |k: &russh::keys::PrivateKey| openwatch_store::ObservedHostKey {
        algorithm: k.algorithm().to_string(),
        fingerprint: openwatch_ssh::hostkey::fingerprint(k.public_key()),
        public_key: k.public_key().to_openssh().unwrap(),
    };
    app.state
        .store()
        .observe_host_key(host, &key(&approved), openwatch_store::HostKeyStatus::Approved, 1)
        .await
        .unwrap();
    assert_eq!(scan(&app, host).await, "failed");
    let changed = wait_alert(&app, "host_key_changed").await;
    assert_eq!(
        (changed["host_id"].as_i64(), changed["severity"].as_str(), changed["status"].as_str()),
        (Some(host), Some("critical"), Some("open")),
        "{changed}"
    );
    assert_eq!(changed["subject"], "flaky: its SSH host key changed", "{changed}");
    let keys = app.get(&format!("/api/v1/hosts/{host}/keys")).await.to_string();
    assert!(keys.contains(&key(&presented).fingerprint), "the new key waits for approval: {keys}");

    // Scanned again (here, locally) with nothing unapproved in the way: resolved.
    point(&app, host, cred, true).await;
    assert_eq!(scan(&app, host).await, "succeeded");
    let done = wait_for(&app, changed["id"].as_i64().unwrap(), |a| a["status"] == "resolved").await;
    assert_eq!(done["resolved_by"], "system", "{done}");
    app.stop().await;
});

both_backends!(
    a_group_below_its_threshold_and_a_fix_awaiting_approval_alert,
    |backend: Backend| async move {
        let app = TestApp::start(backend).await;
        // A group with no scanned host has no score: its rule stays silent. Created first, so it
        // is evaluated before the other in each alerts job.
        app.host(json!({"name": "idle", "transport": "local", "groups": ["empty"]})).await;
        create_rule(
            &app,
            json!({"name": "empty", "kind": "compliance_below",
            "params": {"framework": "cis_debian12", "group": "empty", "threshold": 100}}),
        )
        .await;
        let lab = create_rule(
            &app,
            json!({"name": "lab", "kind": "compliance_below",
            "params": {"framework": "cis_debian12", "group": "lab", "threshold": 100}}),
        )
        .await;
        create_rule(&app, json!({"name": "fixes", "kind": "remediation_awaiting_approval"})).await;
        let (host, scanned) = app.scanned_local_host("here").await;
        let below = wait_alert(&app, "compliance_below").await;
        assert_eq!(alerts(&app, "kind=compliance_below&status=").await.len(), 1, "only the lab group's");
        assert_eq!(below["rule_id"], lab, "{below}");
        assert!(below["subject"].as_str().unwrap().starts_with("cis_debian12 on group lab is at"), "{below}");
        let c = app.get(&format!("/api/v1/hosts/{host}/compliance")).await;
        let cis =
            c["frameworks"].as_array().unwrap().iter().find(|f| f["framework"] == "cis_debian12").unwrap();
        for k in ["pass", "fail", "excepted"] {
            assert_eq!(below["details"][k], cis[k], "the group's figures are its one host's: {below} {cis}");
        }
        // Lowered to 0, the next scan finds the group at or above it: resolved.
        let (s, r) = app
            .send(
                reqwest::Method::PUT,
                &format!("/api/v1/alert-rules/{lab}"),
                Some(json!({"name": "lab", "kind": "compliance_below",
                "params": {"framework": "cis_debian12", "group": "lab", "threshold": 0}})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(scan(&app, host).await, "succeeded");
        wait_for(&app, below["id"].as_i64().unwrap(), |a| a["status"] == "resolved").await;

        // A fix request previewed and waiting for someone's decision.
        let lib = common::library();
        let results =
            app.get(&format!("/api/v1/scans/{}/results?verdict=fail&per_page=500", scanned["id"])).await;
        let fixable = results["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["rule_id"].as_str().unwrap().to_owned())
            .find(|r| lib.rule(r).unwrap().raw.implementations.iter().any(|i| i.value.remediation.is_some()))
            .unwrap_or_else(|| panic!("this machine fails no rule with a fix: {results}"));
        let (s, asked) =
            app.post("/api/v1/remediations", json!({"rule_ids": [fixable], "host_ids": [host]})).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{asked}");
        let waiting = wait_alert(&app, "remediation_awaiting_approval").await;
        assert_eq!(waiting["details"]["remediation_id"], asked["id"], "{waiting}");
        assert!(
            waiting["subject"]
                .as_str()
                .unwrap()
                .starts_with(&format!("Fix request #{} waits for approval", asked["id"])),
            "{waiting}"
        );
        app.stop().await;
    }
);
