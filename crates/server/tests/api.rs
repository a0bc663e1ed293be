//! The REST API against a real server on both backends.

mod common;

use common::{ADMIN_PASSWORD, Backend, TestApp};
use openwatch_server::http::router::{Access, Surface};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            if seg.starts_with('{') {
                if seg.contains("name") || seg.contains("rule") { "x" } else { "1" }
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn assert_envelope(body: &Value, code: &str, ctx: &str) {
    assert_eq!(body["error"]["code"], code, "{ctx}: {body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{ctx}: {body}");
}

both_backends!(every_route_refuses_the_unauthenticated_and_the_unprivileged, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (_, specs) = openwatch_server::api::build(app.state.clone());
    // A role with no permissions at all, and a token for it.
    let (s, _) =
        app.post("/api/v1/roles", json!({"name": "nothing", "description": "", "permissions": []})).await;
    assert_eq!(s, StatusCode::OK);
    let (s, tok) =
        app.post("/api/v1/tokens", json!({"name": "none", "role": "nothing", "expires_in_days": 1})).await;
    assert_eq!(s, StatusCode::CREATED, "{tok}");
    let token = tok["token"].as_str().unwrap().to_owned();
    let (_, viewer) =
        app.post("/api/v1/tokens", json!({"name": "v", "role": "viewer", "expires_in_days": 1})).await;
    let viewer = viewer["token"].as_str().unwrap().to_owned();
    let mut checked = 0;
    // Pages have their own walk (tests/pages.rs): they redirect instead of answering 401.
    for spec in specs.iter().filter(|s| s.surface == Surface::Api) {
        let path = concrete(spec.path);
        let method = Method::from_bytes(spec.method.as_str().as_bytes()).unwrap();
        let body = spec.changes_state().then(|| json!({}));
        if spec.access == Access::Public {
            continue;
        }
        let mut req = reqwest::Client::new().request(method.clone(), format!("{}{path}", app.base));
        if let Some(b) = &body {
            req = req.json(b);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{} {path} without credentials", spec.method);
        assert_envelope(&resp.json().await.unwrap(), "unauthenticated", spec.path);
        if let Access::Needs(p) = spec.access {
            let (status, b) = app.with_token(&token, method.clone(), &path, body.clone()).await;
            assert_eq!(
                status,
                StatusCode::FORBIDDEN,
                "{} {path} with a role lacking {}: {b}",
                spec.method,
                p.as_str()
            );
            assert_envelope(&b, "forbidden", spec.path);
            let viewer_may =
                openwatch_server::auth::rbac::builtin_permissions("viewer").unwrap().contains(&p);
            if !viewer_may {
                let (status, _) = app.with_token(&viewer, method, &path, body).await;
                assert_eq!(status, StatusCode::FORBIDDEN, "{} {path} as viewer", spec.method);
            }
            checked += 1;
        }
    }
    assert!(checked > 40, "walked {checked} permission-guarded routes");
    // Every route is in the OpenAPI document with its permission.
    let doc = app.get("/api/v1/openapi.json").await;
    for spec in specs.iter().filter(|s| s.surface == Surface::Api) {
        let op = &doc["paths"][spec.path][spec.method.as_str().to_lowercase()];
        assert_eq!(op["operationId"], spec.action, "{} {}", spec.method, spec.path);
    }
    app.stop().await;
});

both_backends!(sign_in_sessions_csrf_and_tokens, |backend: Backend| async move {
    let mut app = TestApp::start(backend).await;
    // Wrong password and unknown user look the same.
    let (s1, b1) = app.post("/api/v1/auth/login", json!({"username": "admin", "password": "nope"})).await;
    let (s2, b2) = app.post("/api/v1/auth/login", json!({"username": "ghost", "password": "nope"})).await;
    assert_eq!((s1, s2), (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED));
    assert_eq!(b1, b2);
    assert_envelope(&b1, "invalid_credentials", "login");
    // The cookie session works; a cookie write without CSRF token or same-origin Origin does not.
    let me = app.get("/api/v1/auth/me").await;
    assert_eq!(me["user"]["username"], "admin");
    let resp = app
        .client
        .post(format!("{}/api/v1/groups", app.base))
        .json(&json!({"name": "web"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_envelope(&resp.json().await.unwrap(), "csrf_failed", "csrf");
    let resp = app
        .client
        .post(format!("{}/api/v1/groups", app.base))
        .header("origin", app.base.clone())
        .json(&json!({"name": "web"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED, "same-origin writes pass");
    let resp = app
        .client
        .post(format!("{}/api/v1/groups", app.base))
        .header("origin", "https://evil.example")
        .json(&json!({"name": "web2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN, "cross-origin writes fail");

    // Tokens: shown once, hashed at rest, bounded by the owner's role, revocable.
    let (s, t) =
        app.post("/api/v1/tokens", json!({"name": "ci", "role": "operator", "expires_in_days": 30})).await;
    assert_eq!(s, StatusCode::CREATED);
    let token = t["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("owt_"));
    let listed = app.get("/api/v1/tokens").await;
    assert!(!listed.to_string().contains(&token), "the token is never shown again");
    let (s, _) = app.with_token(&token, Method::POST, "/api/v1/groups", Some(json!({"name": "db"}))).await;
    assert_eq!(s, StatusCode::CREATED, "bearer writes need no CSRF token");
    let (s, _) = app.with_token(&token, Method::GET, "/api/v1/users", None).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "operators cannot list users");
    let (s, _) = app.send(Method::DELETE, &format!("/api/v1/tokens/{}", t["id"]), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, b) = app.with_token(&token, Method::GET, "/api/v1/hosts", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{b}");

    // A viewer cannot mint a token with more rights than it has.
    let (s, _) = app
        .post(
            "/api/v1/users",
            json!({"username": "vera", "password": "a-long-enough-password", "role": "viewer"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, b) =
        app.post("/api/v1/users", json!({"username": "x", "password": "short", "role": "viewer"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_envelope(&b, "validation_failed", "weak password");
    app.login("vera", "a-long-enough-password").await;
    let (s, _) = app.post("/api/v1/tokens", json!({"name": "t", "role": "viewer"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "viewers lack tokens:write");

    // Logout ends the session; an idle session expires.
    let (s, _) = app.send(Method::POST, "/api/v1/auth/logout", None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app.send(Method::GET, "/api/v1/auth/me", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    app.login("admin", ADMIN_PASSWORD).await;
    let cookie_sessions = app.state.store().list_users().await.unwrap();
    assert!(!cookie_sessions.is_empty());
    app.stop().await;
});

both_backends!(login_is_rate_limited, |backend: Backend| async move {
    let app = TestApp::start_with(backend, |c| c.login_max_failures = 3).await;
    for _ in 0..3 {
        let (s, _) = app.post("/api/v1/auth/login", json!({"username": "admin", "password": "wrong"})).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    let (s, b) =
        app.post("/api/v1/auth/login", json!({"username": "admin", "password": ADMIN_PASSWORD})).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{b}");
    assert_envelope(&b, "rate_limited", "limit");
    let events = app.get("/api/v1/audit/events?action=auth.login").await;
    let outcomes: Vec<&str> =
        events["items"].as_array().unwrap().iter().map(|e| e["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes.iter().filter(|o| **o == "failure").count(), 3);
    assert!(outcomes.contains(&"denied"));
    app.stop().await;
});

both_backends!(a_scan_queued_through_the_api_is_run_and_stored, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (s, host) =
        app.post("/api/v1/hosts", json!({"name": "here", "transport": "local", "groups": ["lab"]})).await;
    assert_eq!(s, StatusCode::CREATED, "{host}");
    let id = host["id"].as_i64().unwrap();
    let (s, q) = app.post(&format!("/api/v1/hosts/{id}/scans"), json!({})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{q}");
    let scan = app.wait_scan(q["scan_id"].as_i64().unwrap()).await;
    assert_eq!(scan["status"], "succeeded", "{scan}");
    assert_eq!(scan["trigger"], "manual");
    assert_eq!(scan["triggered_by"], "admin");
    assert_eq!(scan["stats"]["round_trips"], 1);
    let sid = scan["id"].as_i64().unwrap();
    let rules = common::library().rules.len() as i64;
    let all = app.get(&format!("/api/v1/scans/{sid}/results?per_page=500")).await;
    assert_eq!(all["total"], rules);
    let failed = app.get(&format!("/api/v1/scans/{sid}/results?verdict=fail&per_page=1")).await;
    let rule = failed["items"][0]["rule_id"].as_str().unwrap().to_owned();
    let one = app.get(&format!("/api/v1/scans/{sid}/results/{rule}")).await;
    assert_eq!(one["verdict"], "fail");
    assert!(one["evidence"].as_array().is_some_and(|e| !e.is_empty()), "{one}");
    assert!(one["rule"]["rationale"].as_str().is_some());
    let cis = app.get(&format!("/api/v1/scans/{sid}/results?framework=cis_debian12&per_page=500")).await;
    assert!(cis["total"].as_i64().unwrap() < rules);
    let (s, b) = app.send(Method::GET, &format!("/api/v1/scans/{sid}/results?verdict=maybe"), None).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_envelope(&b, "validation_failed", "bad verdict");

    let compliance = app.get(&format!("/api/v1/hosts/{id}/compliance")).await;
    assert_eq!(compliance["rules"].as_array().unwrap().len() as i64, rules);
    assert!(compliance["frameworks"].as_array().unwrap().iter().any(|f| f["framework"] == "cis_debian12"));
    let changes = app.get(&format!("/api/v1/hosts/{id}/changes?per_page=1")).await;
    assert_eq!(changes["total"], 0, "the first scan is a baseline, not a change per rule");

    // The same machine scanned again: nothing changed, nothing recorded.
    let (_, q2) = app.post(&format!("/api/v1/hosts/{id}/scans"), json!({})).await;
    let scan2 = app.wait_scan(q2["scan_id"].as_i64().unwrap()).await;
    assert_eq!(scan2["status"], "succeeded");
    assert_eq!(app.get(&format!("/api/v1/hosts/{id}/changes?per_page=1")).await["total"], 0);
    let posture = app.get(&format!("/api/v1/hosts/{id}/posture")).await;
    assert!(posture["items"].as_array().unwrap().len() >= 2);

    let summary = app.get("/api/v1/fleet/summary").await;
    assert_eq!(summary["hosts"], 1);
    assert_eq!(summary["scanned_hosts"], 1);
    assert!(!summary["frameworks"].as_array().unwrap().is_empty());
    let groups = app.get("/api/v1/groups").await;
    let lab = groups["items"].as_array().unwrap().iter().find(|g| g["name"] == "lab").unwrap().clone();
    let (s, g) = app.post(&format!("/api/v1/groups/{}/scans", lab["id"]), json!({})).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(g["scan_ids"].as_array().unwrap().len(), 1);
    app.stop().await;
});

both_backends!(events_stream_and_resume, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (_, host) = app.post("/api/v1/hosts", json!({"name": "here", "transport": "local"})).await;
    let id = host["id"].as_i64().unwrap();
    let resp = app.client.get(format!("{}/api/v1/events", app.base)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let (_, q) = app.post(&format!("/api/v1/hosts/{id}/scans"), json!({})).await;
    let mut resp = resp;
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    while !text.contains("event: scan.completed") {
        let chunk =
            tokio::time::timeout_at(deadline, resp.chunk()).await.expect("events arrive").unwrap().unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(text.contains("event: scan.queued"), "{text}");
    assert!(text.contains("event: scan.started"), "{text}");
    assert!(text.contains(&format!("\"scan_id\":{}", q["scan_id"])), "{text}");
    // Resuming after the first event replays the rest.
    let first_id: i64 = text.lines().find_map(|l| l.strip_prefix("id: ")).unwrap().trim().parse().unwrap();
    let mut again = app
        .client
        .get(format!("{}/api/v1/events", app.base))
        .header("last-event-id", first_id.to_string())
        .send()
        .await
        .unwrap();
    let mut replay = String::new();
    while !replay.contains("event: scan.completed") {
        let chunk = tokio::time::timeout_at(deadline, again.chunk()).await.expect("replay").unwrap().unwrap();
        replay.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(!replay.contains(&format!("id: {first_id}\n")), "resume starts after Last-Event-ID");
    app.stop().await;
});

both_backends!(every_state_change_is_audited_and_the_chain_holds, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (_, h) = app.post("/api/v1/hosts", json!({"name": "a1", "address": "10.9.9.9"})).await;
    let id = h["id"].as_i64().unwrap();
    app.send(
        Method::PUT,
        &format!("/api/v1/hosts/{id}"),
        Some(json!({"name": "a1", "address": "10.9.9.8", "tags": ["x"]})),
    )
    .await;
    app.send(Method::DELETE, &format!("/api/v1/hosts/{id}"), None).await;
    let (s, _) = app.post("/api/v1/hosts", json!({"name": "bad name"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let events = app.get("/api/v1/audit/events?per_page=100").await;
    let actions: Vec<(String, String)> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap().to_owned(), e["outcome"].as_str().unwrap().to_owned()))
        .collect();
    for want in [
        ("host.create", "success"),
        ("host.update", "success"),
        ("host.delete", "success"),
        ("host.create", "failure"),
    ] {
        assert!(actions.contains(&(want.0.to_owned(), want.1.to_owned())), "{want:?} in {actions:?}");
    }
    let e = &events["items"][0];
    assert!(e["correlation_id"].as_str().is_some_and(|c| !c.is_empty()));
    assert_eq!(e["source"], "127.0.0.1");
    let v = app.get("/api/v1/audit/verify").await;
    assert_eq!(v["intact"], true, "{v}");
    let export = app
        .client
        .get(format!("{}/api/v1/audit/export", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(export.lines().count() as i64, events["total"].as_i64().unwrap());
    app.stop().await;
});

both_backends!(errors_use_one_envelope_and_csv_import_reports_rows, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (s, b) = app.send(Method::GET, "/api/v1/nope", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_envelope(&b, "not_found", "unknown route");
    let (s, b) = app.send(Method::GET, "/api/v1/hosts/999", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_envelope(&b, "not_found", "unknown host");
    let resp = app
        .client
        .post(format!("{}/api/v1/hosts", app.base))
        .header("x-csrf-token", &app.csrf)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_envelope(&resp.json().await.unwrap(), "invalid_request", "bad json");
    let (s, b) = app.post("/api/v1/hosts", json!({"name": "h", "port": 70000})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(b["error"]["details"]["field"], "port");
    app.post("/api/v1/hosts", json!({"name": "taken"})).await;
    let (s, b) = app.post("/api/v1/hosts", json!({"name": "taken"})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_envelope(&b, "conflict", "duplicate");

    let csv = "name,address,port,groups,credential\nweb1,10.0.0.1,22,web;prod,\nweb2,10.0.0.2,notaport,web,\ntaken,10.0.0.3,22,,\nweb4,10.0.0.4,22,,nokey\n";
    let send = |dry: bool| {
        app.client
            .post(format!("{}/api/v1/hosts/import?dry_run={dry}", app.base))
            .header("x-csrf-token", &app.csrf)
            .body(csv)
            .send()
    };
    let resp = send(false).await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let b: Value = resp.json().await.unwrap();
    assert_eq!(b["imported"], false);
    assert_eq!(b["errors"], 3, "{b}");
    let rows = b["results"].as_array().unwrap();
    assert_eq!(rows[1]["line"], 3);
    assert!(rows[1]["error"].as_str().unwrap().contains("notaport"));
    assert!(rows[2]["error"].as_str().unwrap().contains("already exists"));
    assert!(rows[3]["error"].as_str().unwrap().contains("nokey"));
    assert_eq!(app.get("/api/v1/hosts").await["total"], 1, "nothing was written");
    let good = "name,address,groups\nweb1,10.0.0.1,web;prod\nweb2,10.0.0.2,web\n";
    let resp = app
        .client
        .post(format!("{}/api/v1/hosts/import", app.base))
        .header("x-csrf-token", &app.csrf)
        .body(good)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let hosts = app.get("/api/v1/hosts?group=web&sort=-name").await;
    assert_eq!(hosts["total"], 2);
    assert_eq!(hosts["items"][0]["name"], "web2");
    assert_eq!(app.get("/api/v1/hosts?band=unscanned").await["total"], 3, "taken, web1 and web2");
    assert_eq!(app.get("/api/v1/hosts?band=compliant").await["total"], 0);
    app.stop().await;
});

both_backends!(credentials_are_write_only, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (s, b) = app.post("/api/v1/credentials", json!({"name": "pw", "kind": "password", "username": "scan", "secret": "s3cret-value-123", "sudo_password": "sudo-secret-456"})).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["has_sudo_password"], true);
    let (s, b) =
        app.post("/api/v1/credentials", json!({"name": "k", "kind": "ssh_key", "secret": "not a key"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let listed = app.get("/api/v1/credentials").await.to_string();
    assert!(!listed.contains("s3cret") && !listed.contains("sudo-secret"), "{listed}");
    let audit = app.get("/api/v1/audit/events?per_page=100").await.to_string();
    assert!(!audit.contains("s3cret") && !audit.contains("sudo-secret"));
    app.stop().await;
});

both_backends!(schedules_and_adaptive_scanning_fire_once, |backend: Backend| async move {
    let app = TestApp::start_with(backend, |c| c.adaptive_enabled = true).await;
    // Adaptive: a host with no schedule and no scan is due at once.
    let (_, a) = app.post("/api/v1/hosts", json!({"name": "adaptive", "transport": "local"})).await;
    // Scheduled: a host with a schedule is left to it. It is created in maintenance, so the
    // adaptive scheduler (ticking every second) cannot take it before its schedule exists.
    let (_, s) = app
        .post("/api/v1/hosts", json!({"name": "scheduled", "transport": "local", "maintenance": true}))
        .await;
    let (status, b) = app.post("/api/v1/schedules", json!({"host_id": s["id"], "interval_minutes": 1})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (status, b) = app.post("/api/v1/schedules", json!({"host_id": s["id"], "cron": "not a cron"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (status, sch) =
        app.post("/api/v1/schedules", json!({"host_id": s["id"], "interval_minutes": 60})).await;
    assert_eq!(status, StatusCode::CREATED, "{sch}");
    let (status, b) = app
        .send(
            Method::PUT,
            &format!("/api/v1/hosts/{}", s["id"]),
            Some(json!({"name": "scheduled", "transport": "local"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{b}");
    // Make it due now, as the clock would an hour later.
    let store = app.state.store();
    store
        .create_schedule(
            &openwatch_store::NewSchedule {
                target_kind: "host".into(),
                target_id: s["id"].as_i64().unwrap(),
                interval_secs: Some(3600),
                cron: None,
                next_fire_at: 0,
            },
            0,
        )
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let triggers = loop {
        let scans = app.get("/api/v1/scans?status=succeeded").await;
        let t: Vec<(i64, String)> = scans["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| (x["host_id"].as_i64().unwrap(), x["trigger"].as_str().unwrap().to_owned()))
            .collect();
        if t.len() >= 2 || std::time::Instant::now() > deadline {
            break t;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert!(triggers.contains(&(a["id"].as_i64().unwrap(), "adaptive".into())), "{triggers:?}");
    assert!(triggers.contains(&(s["id"].as_i64().unwrap(), "schedule".into())), "{triggers:?}");
    // Several scheduler ticks later, each fired exactly once.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(app.get("/api/v1/scans").await["total"], 2);
    let next = app.get("/api/v1/schedules").await;
    assert!(next["items"].as_array().unwrap().iter().all(|x| x["next_fire_at"].as_i64().unwrap() > 0));
    let metrics = app.client.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
    // Two scans, and the alerts job each finished scan queues.
    assert!(metrics.contains("openwatch_jobs{status=\"done\"} 4"), "{metrics}");
    assert!(metrics.contains("openwatch_scan_duration_seconds_count{outcome=\"succeeded\"} 2"));
    app.stop().await;
});

both_backends!(schedules_refuse_crons_that_flood_or_never_fire, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (_, host) = app.post("/api/v1/hosts", json!({"name": "here", "transport": "local"})).await;
    let id = host["id"].as_i64().unwrap();
    for (cron, says) in [
        ("*/2 * * * * *", "five"),
        ("* * * * *", "every 5 minutes"),
        ("0 3 30 2 *", "fire"),
        ("every day", "fields"),
    ] {
        let (s, b) = app.post("/api/v1/schedules", json!({"host_id": id, "cron": cron})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{cron}: {b}");
        assert_envelope(&b, "validation_failed", cron);
        assert!(b["error"]["message"].as_str().unwrap().contains(says), "{cron}: {b}");
    }
    let (s, b) = app.post("/api/v1/schedules", json!({"host_id": id, "cron": "0 3 * * 1"})).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(app.get("/api/v1/schedules").await["items"].as_array().unwrap().len(), 1);
    app.stop().await;
});
