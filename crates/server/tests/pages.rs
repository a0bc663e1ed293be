//! The web pages as routes of the one table, on both backends: the route walk covers every
//! page (signed out, under-privileged, a write without CSRF proof, one audit event per
//! state change), and the parity test performs each operation both surfaces offer through
//! the API and through the web form and compares what was stored and audited.

mod common;

use common::{Backend, TestApp};
use openwatch_server::http::router::{Access, Surface};
use openwatch_store::{AuditEvent, AuditQuery, PageRequest};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const PW: &str = "a-long-enough-password";

fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| match seg {
            "{file}" => "compliance.csv",
            s if s.starts_with('{') => "1",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// A browser: its own cookies, redirects not followed.
fn browser() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

async fn sign_in(app: &TestApp, who: &str, password: &str) -> (reqwest::Client, String) {
    let b = browser();
    let resp = b
        .post(format!("{}/api/v1/auth/login", app.base))
        .json(&json!({"username": who, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    (b, body["csrf_token"].as_str().unwrap().to_owned())
}

async fn audit_total(app: &TestApp) -> i64 {
    app.state.store().list_audit(&AuditQuery::default(), PageRequest::new(None, Some(1))).await.unwrap().total
}

async fn last_event(app: &TestApp) -> AuditEvent {
    let page =
        app.state.store().list_audit(&AuditQuery::default(), PageRequest::new(None, Some(1))).await.unwrap();
    page.items.into_iter().next().unwrap()
}

both_backends!(every_page_refuses_the_signed_out_and_the_unprivileged, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (_, specs) = openwatch_server::api::build(app.state.clone());
    let (s, _) =
        app.post("/api/v1/roles", json!({"name": "nothing", "description": "", "permissions": []})).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) =
        app.post("/api/v1/users", json!({"username": "nobody", "password": PW, "role": "nothing"})).await;
    assert_eq!(s, StatusCode::CREATED);
    let (nobody, _) = sign_in(&app, "nobody", PW).await;
    let (admin, _) = sign_in(&app, "admin", common::ADMIN_PASSWORD).await;
    let mut checked = 0;
    for spec in specs.iter().filter(|s| s.surface == Surface::Page && s.access != Access::Public) {
        let path = concrete(spec.path);
        let url = format!("{}{path}", app.base);
        let method = Method::from_bytes(spec.method.as_str().as_bytes()).unwrap();
        let writes = spec.changes_state();
        let ctx = format!("{} {path}", spec.method);

        // Signed out: to the sign-in form, with the way back.
        let before = audit_total(&app).await;
        let resp = browser().request(method.clone(), &url).form(&[("x", "1")]).send().await.unwrap();
        assert!(resp.status().is_redirection(), "{ctx} signed out: {}", resp.status());
        let to = resp.headers()["location"].to_str().unwrap().to_owned();
        assert!(to.starts_with("/login?next="), "{ctx}: {to}");
        if writes {
            assert_eq!(audit_total(&app).await, before + 1, "{ctx}: a refused write is one audit event");
            let e = last_event(&app).await;
            assert_eq!((e.action.as_str(), e.outcome.as_str()), (spec.action, "denied"), "{ctx}");
        }

        // Under-privileged (with a good Origin, so only the permission is at stake).
        if let Access::Needs(p) = spec.access {
            let before = audit_total(&app).await;
            let resp = nobody
                .request(method.clone(), &url)
                .header("origin", &app.base)
                .form(&[("x", "1")])
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{ctx} without {}", p.as_str());
            let html = resp.text().await.unwrap();
            assert!(html.contains(p.as_str()), "{ctx}: the page names the missing permission");
            if writes {
                assert_eq!(audit_total(&app).await, before + 1, "{ctx}: one audit event");
                assert_eq!(last_event(&app).await.outcome, "denied", "{ctx}");
            }
            checked += 1;
        }

        // A write without CSRF proof (no header, no Origin, no form field), even by an admin.
        if writes {
            let before = audit_total(&app).await;
            let resp = admin.request(method.clone(), &url).form(&[("x", "1")]).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{ctx} without CSRF proof");
            assert_eq!(audit_total(&app).await, before + 1, "{ctx}: one audit event");
            let e = last_event(&app).await;
            assert_eq!(e.details["error"], "csrf_failed", "{ctx}: {:?}", e.details);
            // A cross-site Origin is refused as well.
            let resp = admin
                .request(method.clone(), &url)
                .header("origin", "https://evil.example")
                .form(&[("x", "1")])
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{ctx} cross-site");
        }
    }
    assert!(checked > 25, "walked {checked} permission-guarded pages");
    app.stop().await;
});

/// Post a web form as the admin browser, with the session's CSRF token in the form.
async fn form(
    app: &TestApp,
    b: &reqwest::Client,
    csrf: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let mut all: Vec<(&str, &str)> = fields.to_vec();
    all.push(("_csrf", csrf));
    b.post(format!("{}{path}", app.base)).form(&all).send().await.unwrap()
}

/// The audit event as both surfaces must agree on it (ids in targets normalised). A refused
/// operation's target is the request's own path, which differs by surface.
fn shape(e: &AuditEvent, id_from: &str, id_to: &str) -> Value {
    let target =
        if e.outcome == "success" { e.target.replace(id_from, id_to) } else { "the request path".into() };
    json!({"action": e.action, "outcome": e.outcome, "actor": e.actor, "target": target,
        "details": e.details.to_string().replace(id_from, id_to)})
}

both_backends!(the_api_and_the_web_forms_do_the_same, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (b, csrf) = sign_in(&app, "admin", common::ADMIN_PASSWORD).await;

    // Add a host.
    let (s, h) =
        app.post("/api/v1/hosts", json!({"name": "h-api", "address": "192.0.2.1", "groups": ["g"]})).await;
    assert_eq!(s, StatusCode::CREATED, "{h}");
    let api_event = last_event(&app).await;
    let resp =
        form(&app, &b, &csrf, "/hosts", &[("name", "h-web"), ("address", "192.0.2.1"), ("groups", "g")])
            .await;
    assert!(resp.status().is_redirection());
    let web_event = last_event(&app).await;
    let web_host = app.state.store().host_by_name("h-web").await.unwrap().unwrap();
    let api_host = app.state.store().host_by_name("h-api").await.unwrap().unwrap();
    assert_eq!(
        (&api_host.address, api_host.port, &api_host.username, &api_host.groups, &api_host.host_key_policy),
        (&web_host.address, web_host.port, &web_host.username, &web_host.groups, &web_host.host_key_policy)
    );
    assert_eq!(
        shape(&api_event, "h-api", "X").to_string().replace(&api_host.id.to_string(), "N"),
        shape(&web_event, "h-web", "X").to_string().replace(&web_host.id.to_string(), "N")
    );

    // A bad host is refused by both, with the same message and audit outcome.
    let (s, bad) = app.post("/api/v1/hosts", json!({"name": "bad name"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let api_event = last_event(&app).await;
    let resp = form(&app, &b, &csrf, "/hosts", &[("name", "bad name")]).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(resp.text().await.unwrap().contains(bad["error"]["message"].as_str().unwrap()));
    assert_eq!(shape(&api_event, "", ""), shape(&last_event(&app).await, "", ""));

    // Scanning a host in maintenance: refused on both.
    let (s, _) = app
        .send(
            Method::PUT,
            &format!("/api/v1/hosts/{}", api_host.id),
            Some(json!({"name": "h-api", "address": "192.0.2.1", "groups": ["g"], "maintenance": true})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app.post(&format!("/api/v1/hosts/{}/scans", api_host.id), json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let api_event = last_event(&app).await;
    let resp = form(&app, &b, &csrf, &format!("/hosts/{}/scan", api_host.id), &[]).await;
    assert!(resp.headers()["location"].to_str().unwrap().contains("error="), "the web says why");
    assert_eq!(shape(&api_event, "", ""), shape(&last_event(&app).await, "", ""));
    assert_eq!(
        app.get(&format!("/api/v1/scans?host_id={}", api_host.id)).await["total"],
        0,
        "nothing queued"
    );

    // Scanning the group: the same scans, the same event.
    let gid = app.get("/api/v1/groups").await["items"][0]["id"].as_i64().unwrap();
    let (s, g) = app.post(&format!("/api/v1/groups/{gid}/scans"), json!({})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{g}");
    assert_eq!(g["scan_ids"].as_array().unwrap().len(), 1, "the maintenance host is skipped: {g}");
    assert_eq!(g["skipped_maintenance"][0], api_host.id);
    let api_event = last_event(&app).await;
    let resp = form(&app, &b, &csrf, "/groups/scan", &[("group_id", &gid.to_string())]).await;
    assert!(resp.status().is_redirection());
    let web_event = last_event(&app).await;
    // The second request finds the first scan still pending and reports the same one.
    assert_eq!(shape(&api_event, "", ""), shape(&web_event, "", ""));

    // Users: custom roles through both; the same validation of names.
    let (s, _) = app
        .post("/api/v1/roles", json!({"name": "ops", "description": "", "permissions": ["hosts:read"]}))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app.post("/api/v1/users", json!({"username": "u-api", "password": PW, "role": "ops"})).await;
    assert_eq!(s, StatusCode::CREATED);
    let api_event = last_event(&app).await;
    form(&app, &b, &csrf, "/admin/users", &[("username", "u-web"), ("password", PW), ("role", "ops")]).await;
    assert_eq!(shape(&api_event, "u-api", "X"), shape(&last_event(&app).await, "u-web", "X"));
    assert_eq!(app.state.store().user_by_name("u-web").await.unwrap().unwrap().role, "ops");
    let (s, _) = app
        .post("/api/v1/users", json!({"username": "no spaces allowed", "password": PW, "role": "ops"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let api_event = last_event(&app).await;
    form(
        &app,
        &b,
        &csrf,
        "/admin/users",
        &[("username", "no spaces allowed"), ("password", PW), ("role", "ops")],
    )
    .await;
    assert_eq!(shape(&api_event, "", ""), shape(&last_event(&app).await, "", ""));
    assert!(app.state.store().user_by_name("no spaces allowed").await.unwrap().is_none());

    // Credentials and tokens.
    let (s, _) = app
        .post("/api/v1/credentials", json!({"name": "c-api", "kind": "password", "secret": "s3cret-value"}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let api_event = last_event(&app).await;
    form(
        &app,
        &b,
        &csrf,
        "/admin/credentials",
        &[("name", "c-web"), ("kind", "password"), ("secret", "s3cret-value")],
    )
    .await;
    assert_eq!(shape(&api_event, "c-api", "X"), shape(&last_event(&app).await, "c-web", "X"));
    let (s, t) =
        app.post("/api/v1/tokens", json!({"name": "t", "role": "viewer", "expires_in_days": 5})).await;
    assert_eq!(s, StatusCode::CREATED);
    let api_event = last_event(&app).await;
    let resp = form(
        &app,
        &b,
        &csrf,
        "/admin/tokens",
        &[("name", "t"), ("role", "viewer"), ("expires_in_days", "5")],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK, "the new token is shown once");
    let web_event = last_event(&app).await;
    let web_id = web_event.target.trim_start_matches("token:").to_owned();
    assert_eq!(shape(&api_event, &t["id"].to_string(), "N"), shape(&web_event, &web_id, "N"));
    let (s, _) = app.send(Method::DELETE, &format!("/api/v1/tokens/{}", t["id"]), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let api_event = last_event(&app).await;
    form(&app, &b, &csrf, &format!("/admin/tokens/{web_id}/revoke"), &[]).await;
    assert_eq!(shape(&api_event, &t["id"].to_string(), "N"), shape(&last_event(&app).await, &web_id, "N"));

    // The host compliance export exists on both and is the same file.
    let api = app
        .client
        .get(format!("{}/api/v1/hosts/{}/export?format=csv", app.base, web_host.id))
        .send()
        .await
        .unwrap();
    let web = b.get(format!("{}/hosts/{}/compliance.csv", app.base, web_host.id)).send().await.unwrap();
    assert_eq!(api.status(), StatusCode::OK);
    assert_eq!(api.text().await.unwrap(), web.text().await.unwrap());
    app.stop().await;
});

both_backends!(malformed_paths_and_queries_get_the_envelope_or_a_page, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (b, _) = sign_in(&app, "admin", common::ADMIN_PASSWORD).await;
    for path in ["/api/v1/hosts?page=abc", "/api/v1/scans/abc", "/api/v1/hosts/1/export?format"] {
        let resp = b.get(format!("{}{path}", app.base)).send().await.unwrap();
        assert!(resp.status().is_client_error(), "{path}: {}", resp.status());
        let body: Value = resp.json().await.unwrap_or_else(|e| panic!("{path}: not JSON: {e}"));
        assert!(body["error"]["code"].as_str().is_some(), "{path}: {body}");
        assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{path}: {body}");
    }
    for path in ["/hosts?page=abc", "/scans/abc", "/hosts/abc"] {
        let resp = b.get(format!("{}{path}", app.base)).send().await.unwrap();
        assert!(resp.status().is_client_error(), "{path}: {}", resp.status());
        let kind = resp.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(kind.starts_with("text/html"), "{path}: {kind}");
        let html = resp.text().await.unwrap();
        assert!(html.contains("not valid") && html.contains("href=\"/\""), "{path}: a readable page");
    }
    app.stop().await;
});

both_backends!(a_crafted_link_cannot_put_text_on_a_page, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (b, csrf) = sign_in(&app, "admin", common::ADMIN_PASSWORD).await;
    let bait = "Your session expired: sign in again at evil.example";
    for page in ["/hosts", "/admin"] {
        for q in ["flash", "error"] {
            let url = format!("{}{page}?{q}={}&sig=00", app.base, bait.replace(' ', "+"));
            let html = b.get(url).send().await.unwrap().text().await.unwrap();
            assert!(!html.contains("evil.example"), "{page}?{q}= shows crafted text");
        }
    }
    // The server's own messages still show.
    let resp = form(
        &app,
        &b,
        &csrf,
        "/admin/credentials",
        &[("name", "c"), ("kind", "password"), ("secret", "s3cret-value")],
    )
    .await;
    let to = resp.headers()["location"].to_str().unwrap().to_owned();
    let html = b.get(format!("{}{to}", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Credential c stored"), "{to}");
    app.stop().await;
});
