//! Regression tests for the server's security findings, on both backends: credentials
//! cannot be redirected by those who may not use them, `users:write` grants nothing its
//! holder lacks, tokens are bounded by the token that made them, and the smaller ones
//! (paging, cookies, event streams).

mod common;

use common::{ADMIN_PASSWORD, Backend, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const PW: &str = "a-long-enough-password";

async fn user(app: &TestApp, name: &str, role: &str) -> i64 {
    let (s, b) = app.post("/api/v1/users", json!({"username": name, "password": PW, "role": role})).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    b["id"].as_i64().unwrap()
}

async fn role(app: &TestApp, name: &str, permissions: &[&str]) {
    let (s, b) =
        app.post("/api/v1/roles", json!({"name": name, "description": "", "permissions": permissions})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
}

async fn put(app: &TestApp, path: &str, body: Value) -> (StatusCode, Value) {
    app.send(Method::PUT, path, Some(body)).await
}

/// Counts TCP connections to a loopback port: where a stolen password would be sent.
async fn trap() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let h = hits.clone();
    tokio::spawn(async move {
        while let Ok((_sock, _)) = listener.accept().await {
            h.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    (port, hits)
}

both_backends!(an_operator_cannot_send_a_stored_password_elsewhere, |backend: Backend| async move {
    let mut app = TestApp::start(backend).await;
    let (s, cred) = app
        .post(
            "/api/v1/credentials",
            json!({"name": "fleet", "kind": "password", "secret": "the-stored-password", "sudo_password": "sudo-pw"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{cred}");
    let cid = cred["id"].as_i64().unwrap();
    // Port 1 on loopback is closed: connecting to the real host fails at once.
    let (s, host) = app
        .post(
            "/api/v1/hosts",
            json!({"name": "db1", "address": "127.0.0.1", "port": 1, "credential_id": cid}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{host}");
    let hid = host["id"].as_i64().unwrap();
    user(&app, "olga", "operator").await;
    let (trap_port, hits) = trap().await;

    app.login("olga", PW).await;
    let moved = json!({"name": "db1", "address": "127.0.0.1", "port": trap_port, "credential_id": cid});
    let (s, b) = put(&app, &format!("/api/v1/hosts/{hid}"), moved).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "moving a host holding a credential: {b}");
    assert!(b["error"]["message"].as_str().unwrap().contains("credentials:use"), "{b}");
    let (s, b) = app
        .post(
            "/api/v1/hosts",
            json!({"name": "trap", "address": "127.0.0.1", "port": trap_port, "credential_id": cid}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "a new host with a stored credential: {b}");
    let (s, mine) =
        app.post("/api/v1/hosts", json!({"name": "mine", "address": "127.0.0.1", "port": trap_port})).await;
    assert_eq!(s, StatusCode::CREATED, "hosts without credentials are fine: {mine}");
    let mine_id = mine["id"].as_i64().unwrap();
    let attach = json!({"name": "mine", "address": "127.0.0.1", "port": trap_port, "credential_id": cid});
    let (s, _) = put(&app, &format!("/api/v1/hosts/{mine_id}"), attach).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "attaching a credential");
    let (s, _) = app
        .post(
            "/api/v1/hosts",
            json!({"name": "tofu", "address": "127.0.0.2", "host_key_policy": "accept_new"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "trusting first-seen keys needs host_keys:approve");
    let csv = format!("name,address,port,credential\nsneaky,127.0.0.1,{trap_port},fleet\n");
    let resp = app
        .client
        .post(format!("{}/api/v1/hosts/import", app.base))
        .header("x-csrf-token", &app.csrf)
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY, "the CSV import checks the same");
    // The web form runs the same use case.
    let form = [
        ("name", "db1"),
        ("address", "127.0.0.1"),
        ("port", &trap_port.to_string()),
        ("credential_id", &cid.to_string()),
    ];
    let resp = app
        .client
        .post(format!("{}/hosts/{hid}/edit", app.base))
        .header("origin", &app.base)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    // Harmless edits still work, and a connection test goes where the host really is.
    let (s, b) = put(
        &app,
        &format!("/api/v1/hosts/{hid}"),
        json!({"name": "db1", "address": "127.0.0.1", "port": 1, "credential_id": cid, "maintenance": true}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, t) = app.post(&format!("/api/v1/hosts/{hid}/test"), json!({})).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_ne!(t["status"], "ok");
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0, "nothing reached the trap");
    let stored = app.state.store().host(hid).await.unwrap().unwrap();
    assert_eq!((stored.address.as_str(), stored.port), ("127.0.0.1", 1));
    // Every refusal is in the audit log.
    app.login("admin", ADMIN_PASSWORD).await;
    let events = app.get("/api/v1/audit/events?actor=olga&per_page=100").await;
    let refused =
        events["items"].as_array().unwrap().iter().filter(|e| e["details"]["error"] == "forbidden").count();
    assert!(refused >= 5, "{events}");
    // Someone holding credentials:use may.
    user(&app, "sam", "security_admin").await;
    app.login("sam", PW).await;
    let moved = json!({"name": "db1", "address": "127.0.0.3", "port": 22, "credential_id": cid, "host_key_policy": "accept_new"});
    let (s, b) = put(&app, &format!("/api/v1/hosts/{hid}"), moved).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    app.stop().await;
});

both_backends!(users_write_grants_nothing_its_holder_lacks, |backend: Backend| async move {
    let mut app = TestApp::start(backend).await;
    role(&app, "helpdesk", &["users:read", "users:write", "hosts:read", "tokens:write"]).await;
    role(&app, "reader", &["hosts:read", "tokens:write"]).await;
    let hd = user(&app, "hd", "helpdesk").await;
    let vic = user(&app, "vic", "reader").await;
    let admin_id = app.get("/api/v1/auth/me").await["user"]["id"].as_i64().unwrap();
    app.login("vic", PW).await;
    let (s, t) =
        app.post("/api/v1/tokens", json!({"name": "vic", "role": "reader", "expires_in_days": 1})).await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    let vic_token = t["token"].as_str().unwrap().to_owned();
    let parent_expiry = t["expires_at"].as_i64().unwrap();

    app.login("hd", PW).await;
    let (s, b) =
        app.post("/api/v1/users", json!({"username": "evil", "password": PW, "role": "admin"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "creating an admin: {b}");
    let (s, _) = put(&app, &format!("/api/v1/users/{vic}"), json!({"role": "admin"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "granting admin to another");
    let (s, _) = put(&app, &format!("/api/v1/users/{hd}"), json!({"role": "admin"})).await;
    assert_ne!(s, StatusCode::OK, "granting admin to oneself");
    let (s, _) = app
        .post("/api/v1/roles", json!({"name": "boss", "description": "", "permissions": ["hosts:write"]}))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "a role with permissions the caller lacks");
    let (s, _) = app
        .post("/api/v1/roles", json!({"name": "helpdesk", "description": "", "permissions": ["users:read", "users:write", "hosts:read", "tokens:write", "audit:read"]}))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "widening one's own role");
    let (s, _) = app
        .post(&format!("/api/v1/users/{admin_id}/password"), json!({"password": "pwned-pwned-pwned"}))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "resetting a more privileged user's password");
    let (s, _) =
        put(&app, &format!("/api/v1/users/{admin_id}"), json!({"role": "admin", "disabled": true})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "disabling a more privileged user");
    let (s, _) = app.send(Method::DELETE, &format!("/api/v1/users/{admin_id}"), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "deleting a more privileged user");
    // The web form is the same use case: no admin role through it either.
    let resp = app
        .client
        .post(format!("{}/admin/users", app.base))
        .header("origin", &app.base)
        .form(&[("username", "evil2"), ("password", PW), ("role", "admin")])
        .send()
        .await
        .unwrap();
    // The form comes back filled in (password excepted) with the reason.
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let html = resp.text().await.unwrap();
    assert!(html.contains("permissions you lack") && html.contains(r#"value="evil2""#), "{html}");
    assert!(app.state.store().user_by_name("evil2").await.unwrap().is_none());

    // A token works until its owner's password is reset, which revokes it.
    let (s, _) = app.with_token(&vic_token, Method::GET, "/api/v1/hosts", None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, b) = app
        .post(&format!("/api/v1/users/{vic}/password"), json!({"password": "another-long-password"}))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
    let (s, _) = app.with_token(&vic_token, Method::GET, "/api/v1/hosts", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "a password reset revokes the user's tokens");

    // A token creates tokens only within its own rights and lifetime.
    app.login("vic", "another-long-password").await;
    let (_, t) =
        app.post("/api/v1/tokens", json!({"name": "parent", "role": "reader", "expires_in_days": 1})).await;
    let parent = t["token"].as_str().unwrap().to_owned();
    let parent_expiry = t["expires_at"].as_i64().unwrap().max(parent_expiry);
    let (s, b) = app
        .with_token(&parent, Method::POST, "/api/v1/tokens", Some(json!({"name": "child", "role": "viewer"})))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "a viewer token exceeds a reader token: {b}");
    let (s, b) = app
        .with_token(
            &parent,
            Method::POST,
            "/api/v1/tokens",
            Some(json!({"name": "child", "role": "reader", "expires_in_days": 3650})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert!(b["expires_at"].as_i64().unwrap() <= parent_expiry, "the child expires with its parent: {b}");
    // Disabling an account revokes its tokens too.
    app.login("admin", ADMIN_PASSWORD).await;
    let (s, _) =
        put(&app, &format!("/api/v1/users/{vic}"), json!({"role": "reader", "disabled": true})).await;
    assert_eq!(s, StatusCode::OK);
    let tokens = app.get("/api/v1/tokens").await;
    let live = tokens["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["user_id"] == vic && t["revoked"] == false)
        .count();
    assert_eq!(live, 0, "{tokens}");
    app.stop().await;
});

both_backends!(huge_page_numbers_are_refused_not_overflowed, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    for path in ["/api/v1/hosts", "/api/v1/scans", "/api/v1/audit/events", "/api/v1/changes"] {
        let (s, b) = app.send(Method::GET, &format!("{path}?page=9223372036854775807"), None).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {b}");
        assert_eq!(b["error"]["details"]["field"], "page", "{path}: {b}");
    }
    let resp = app.client.get(format!("{}/hosts?page=9223372036854775807", app.base)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "the page list shows the last page instead");
    app.stop().await;
});

both_backends!(the_session_cookie_is_secure_behind_an_https_origin, |backend: Backend| async move {
    let app = TestApp::start_with(backend, |c| c.public_origin = "https://openwatch.example".into()).await;
    let resp = reqwest::Client::new()
        .post(format!("{}/api/v1/auth/login", app.base))
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookie = resp.headers().get("set-cookie").unwrap().to_str().unwrap().to_owned();
    assert!(cookie.starts_with("__Host-") && cookie.contains("; Secure"), "{cookie}");
    app.stop().await;
});

both_backends!(event_streams_are_capped_per_user, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (_, t) =
        app.post("/api/v1/tokens", json!({"name": "sse", "role": "viewer", "expires_in_days": 1})).await;
    let token = t["token"].as_str().unwrap().to_owned();
    let client = reqwest::Client::new();
    let mut open = Vec::new();
    for _ in 0..8 {
        let resp =
            client.get(format!("{}/api/v1/events", app.base)).bearer_auth(&token).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        open.push(resp);
    }
    let resp = client.get(format!("{}/api/v1/events", app.base)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    // Closing one frees its slot.
    drop(open.pop());
    let mut freed = false;
    for _ in 0..50 {
        let resp =
            client.get(format!("{}/api/v1/events", app.base)).bearer_auth(&token).send().await.unwrap();
        if resp.status() == StatusCode::OK {
            freed = true;
            open.push(resp);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(freed, "a closed stream gives its slot back");
    drop(open);
    app.stop().await;
});

both_backends!(an_event_stream_ends_when_its_token_is_revoked, |backend: Backend| async move {
    let app = TestApp::start_with(backend, |c| c.events_recheck_secs = 1).await;
    let (_, t) =
        app.post("/api/v1/tokens", json!({"name": "sse", "role": "viewer", "expires_in_days": 1})).await;
    let token = t["token"].as_str().unwrap().to_owned();
    let mut resp = reqwest::Client::new()
        .get(format!("{}/api/v1/events", app.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let (s, _) = app.send(Method::DELETE, &format!("/api/v1/tokens/{}", t["id"]), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let ended = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while let Ok(Some(_)) = resp.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "the stream ends once the token is revoked");
    app.stop().await;
});

both_backends!(evidence_needs_scans_read_on_both_surfaces, |backend: Backend| async move {
    let mut app = TestApp::start(backend).await;
    let (_, host) = app.post("/api/v1/hosts", json!({"name": "here", "transport": "local"})).await;
    let id = host["id"].as_i64().unwrap();
    let (_, q) = app.post(&format!("/api/v1/hosts/{id}/scans"), json!({})).await;
    let scan = app.wait_scan(q["scan_id"].as_i64().unwrap()).await;
    assert_eq!(scan["status"], "succeeded", "{scan}");
    let failed = app.get(&format!("/api/v1/scans/{}/results?verdict=fail&per_page=1", scan["id"])).await;
    let rule = failed["items"][0]["rule_id"].as_str().unwrap().to_owned();
    role(&app, "hosts_only", &["hosts:read"]).await;
    user(&app, "hank", "hosts_only").await;
    role(&app, "hosts_and_scans", &["hosts:read", "scans:read"]).await;
    user(&app, "sara", "hosts_and_scans").await;

    app.login("hank", PW).await;
    let (s, _) = app.send(Method::GET, &format!("/api/v1/scans/{}/results/{rule}", scan["id"]), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "the API withholds evidence without scans:read");
    let page = app.client.get(format!("{}/hosts/{id}", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Evidence needs the scans:read permission."), "the page does too");
    assert!(!page.contains("<dt>Expected</dt>"), "no evidence rendered");

    app.login("sara", PW).await;
    let (s, one) = app.send(Method::GET, &format!("/api/v1/scans/{}/results/{rule}", scan["id"]), None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(one["evidence"].as_array().is_some_and(|e| !e.is_empty()));
    let page = app.client.get(format!("{}/hosts/{id}", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("<dt>Expected</dt>"), "with scans:read the page shows the evidence");
    app.stop().await;
});

/// `/readyz` is public: when the database is gone it says so, and nothing of the database's
/// own error (names, addresses) reaches an anonymous caller.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_hides_the_database_error() {
    if common::skip(Backend::Postgres) {
        return;
    }
    let app = TestApp::start(Backend::Postgres).await;
    let url = app.state.config.database_url.clone();
    let (server, name) = url.rsplit_once('/').unwrap();
    let port = server.rsplit_once(':').unwrap().1;
    let resp = reqwest::get(format!("{}/readyz", app.base)).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let out = std::process::Command::new("psql")
        .args(["-q", "-h", "127.0.0.1", "-p", port, "-U", "postgres", "-c"])
        .arg(format!("DROP DATABASE {name} WITH (FORCE)"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let resp = reqwest::get(format!("{}/readyz", app.base)).await.unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = resp.text().await.unwrap();
    assert_eq!(body, "database unavailable\n");
    assert!(!body.contains(name));
    app.stop().await;
}
