//! Administration through both surfaces, on both backends: deleting hosts and credentials,
//! managing groups, resetting passwords, approving host keys (one or several, each
//! approval queueing a scan), what a host logs in as, and the refusals (permission, not
//! found, a credential in use, an SSH host without an address). Each state change is
//! checked in the store and in its audit event; a failed admin form comes back filled in.

mod common;

use common::{Backend, TestApp};
use openwatch_store::{AuditEvent, AuditQuery, HostKeyStatus, ObservedHostKey, PageRequest};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const PW: &str = "a-long-enough-password";

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
    assert_eq!(resp.status(), StatusCode::OK, "{who} signs in");
    let body: Value = resp.json().await.unwrap();
    (b, body["csrf_token"].as_str().unwrap().to_owned())
}

async fn last_event(app: &TestApp) -> AuditEvent {
    let page =
        app.state.store().list_audit(&AuditQuery::default(), PageRequest::new(None, Some(1))).await.unwrap();
    page.items.into_iter().next().unwrap()
}

/// Post a web form with the session's CSRF token in it.
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

/// Where a form post redirected, percent-decoded (the flash message is in it).
fn location(resp: &reqwest::Response) -> String {
    assert!(resp.status().is_redirection(), "a redirect, not {}", resp.status());
    let raw = resp.headers()["location"].to_str().unwrap();
    decode(raw)
}

fn decode(s: &str) -> String {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(v) = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn page(b: &reqwest::Client, app: &TestApp, path: &str) -> (StatusCode, String) {
    let resp = b.get(format!("{}{path}", app.base)).send().await.unwrap();
    (resp.status(), resp.text().await.unwrap())
}

/// A viewer (no write permissions) signed in through a browser.
async fn viewer(app: &TestApp) -> (reqwest::Client, String) {
    let (s, _) =
        app.post("/api/v1/users", json!({"username": "vera", "password": PW, "role": "viewer"})).await;
    assert_eq!(s, StatusCode::CREATED);
    sign_in(app, "vera", PW).await
}

async fn host(app: &TestApp, body: Value) -> i64 {
    let (s, h) = app.post("/api/v1/hosts", body).await;
    assert_eq!(s, StatusCode::CREATED, "{h}");
    h["id"].as_i64().unwrap()
}

both_backends!(hosts_are_deleted_through_the_api_and_the_page, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (b, csrf) = sign_in(&app, "admin", common::ADMIN_PASSWORD).await;
    let a = host(&app, json!({"name": "del-api", "address": "192.0.2.1", "groups": ["g"]})).await;
    let w = host(&app, json!({"name": "del-web", "address": "192.0.2.2", "groups": ["g"]})).await;

    let (s, _) = app.send(Method::DELETE, &format!("/api/v1/hosts/{a}"), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let e = last_event(&app).await;
    assert_eq!(
        (e.action.as_str(), e.outcome.as_str(), e.target.clone()),
        ("host.delete", "success", format!("host:{a}"))
    );
    assert_eq!(e.details["name"], "del-api");

    // The page asks first, then deletes.
    let (s, html) = page(&b, &app, &format!("/hosts/{w}/delete")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("Delete the host del-web"), "{html}");
    assert!(app.state.store().host(w).await.unwrap().is_some(), "asking deletes nothing");
    let resp = form(&app, &b, &csrf, &format!("/hosts/{w}/delete"), &[]).await;
    let to = location(&resp);
    assert!(to.starts_with("/hosts?flash=Host del-web deleted"), "{to}");
    assert!(app.state.store().host(w).await.unwrap().is_none());
    let e = last_event(&app).await;
    assert_eq!(
        (e.action.as_str(), e.outcome.as_str(), e.target.clone()),
        ("host.delete", "success", format!("host:{w}"))
    );
    let (_, edit) = page(&b, &app, &format!("/hosts/{w}/edit")).await;
    assert!(!edit.contains("del-web"), "a deleted host has no edit page");
    let groups = app.get("/api/v1/groups").await;
    assert_eq!(groups["items"][0]["host_count"], 0, "the group no longer counts them");

    // Not found, on both.
    let (s, body) = app.send(Method::DELETE, &format!("/api/v1/hosts/{a}"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{body}");
    let resp = form(&app, &b, &csrf, &format!("/hosts/{a}/delete"), &[]).await;
    assert!(location(&resp).contains("error=host not found"));
    assert_eq!(last_event(&app).await.details["error"], "not_found");

    // A viewer may do neither.
    let keep = host(&app, json!({"name": "keep", "address": "192.0.2.3"})).await;
    let (vb, vcsrf) = viewer(&app).await;
    let resp = vb
        .delete(format!("{}/api/v1/hosts/{keep}", app.base))
        .header("x-csrf-token", &vcsrf)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = form(&app, &vb, &vcsrf, &format!("/hosts/{keep}/delete"), &[]).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(last_event(&app).await.outcome, "denied");
    assert!(app.state.store().host(keep).await.unwrap().is_some());
    app.stop().await;
});

both_backends!(a_credential_in_use_is_not_deleted, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (b, csrf) = sign_in(&app, "admin", common::ADMIN_PASSWORD).await;
    let cred =
        |name: &str| json!({"name": name, "kind": "password", "username": "scan", "secret": "pw-secret"});
    let (_, used) = app.post("/api/v1/credentials", cred("used")).await;
    let (_, spare) = app.post("/api/v1/credentials", cred("spare")).await;
    let (used, spare) = (used["id"].as_i64().unwrap(), spare["id"].as_i64().unwrap());
    let h = host(&app, json!({"name": "h1", "address": "192.0.2.1", "credential_id": used})).await;

    let (s, body) = app.send(Method::DELETE, &format!("/api/v1/credentials/{used}"), None).await;
    assert_eq!(s, StatusCode::CONFLICT, "{body}");
    let msg = body["error"]["message"].as_str().unwrap().to_owned();
    assert!(msg.contains("used cannot be deleted") && msg.contains("1 host"), "{msg}");
    let e = last_event(&app).await;
    assert_eq!(
        (e.action.as_str(), e.outcome.as_str(), e.details["error"].as_str()),
        ("credential.delete", "failure", Some("conflict"))
    );
    let resp = form(&app, &b, &csrf, &format!("/admin/credentials/{used}/delete"), &[]).await;
    assert_eq!(
        location(&resp),
        format!("/admin?error={msg}&sig={}", location(&resp).rsplit("sig=").next().unwrap())
    );
    assert!(app.state.store().credential(used).await.unwrap().is_some());

    // The page asks first; once no host uses it, it goes, on both surfaces.
    let (s, html) = page(&b, &app, &format!("/admin/credentials/{used}/delete")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("Delete the credential used?"), "{html}");
    let (s, _) = app
        .send(Method::PUT, &format!("/api/v1/hosts/{h}"), Some(json!({"name": "h1", "address": "192.0.2.1"})))
        .await;
    assert_eq!(s, StatusCode::OK);
    let resp = form(&app, &b, &csrf, &format!("/admin/credentials/{used}/delete"), &[]).await;
    assert!(location(&resp).starts_with("/admin?flash=Credential used deleted"));
    let e = last_event(&app).await;
    assert_eq!(
        (e.action.as_str(), e.outcome.as_str(), e.target.as_str()),
        ("credential.delete", "success", "credential:used")
    );
    assert!(app.state.store().credential(used).await.unwrap().is_none());
    let (s, _) = app.send(Method::DELETE, &format!("/api/v1/credentials/{spare}"), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app.send(Method::DELETE, &format!("/api/v1/credentials/{spare}"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let resp = form(&app, &b, &csrf, &format!("/admin/credentials/{spare}/delete"), &[]).await;
    assert!(location(&resp).contains("error=credential not found"));
    let (vb, vcsrf) = viewer(&app).await;
    let resp = form(&app, &vb, &vcsrf, &format!("/admin/credentials/{spare}/delete"), &[]).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    app.stop().await;
});

both_backends!(groups_are_renamed_filled_emptied_and_removed, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (b, csrf) = sign_in(&app, "admin", common::ADMIN_PASSWORD).await;
    let h1 = host(&app, json!({"name": "h1", "address": "192.0.2.1"})).await;
    let h2 = host(&app, json!({"name": "h2", "address": "192.0.2.2"})).await;

    // Through the API.
    let (s, g) = app.post("/api/v1/groups", json!({"name": "web"})).await;
    assert_eq!(s, StatusCode::CREATED);
    let g = g["id"].as_i64().unwrap();
    let (s, body) = app
        .send(
            Method::PUT,
            &format!("/api/v1/groups/{g}"),
            Some(json!({"name": "frontend", "description": "public"})),
        )
        .await;
    assert_eq!((s, body["name"].as_str()), (StatusCode::OK, Some("frontend")));
    let e = last_event(&app).await;
    assert_eq!((e.action.as_str(), e.details["was"].as_str()), ("group.update", Some("web")));
    let (s, body) = app.send(Method::PUT, &format!("/api/v1/groups/{g}/hosts/{h1}"), None).await;
    assert_eq!((s, body["host_count"].as_i64()), (StatusCode::OK, Some(1)));
    assert_eq!(app.state.store().host(h1).await.unwrap().unwrap().groups, vec!["frontend"]);
    assert_eq!(last_event(&app).await.action, "group.add_host");
    let (s, body) = app.send(Method::DELETE, &format!("/api/v1/groups/{g}/hosts/{h1}"), None).await;
    assert_eq!((s, body["host_count"].as_i64()), (StatusCode::OK, Some(0)));
    assert_eq!(last_event(&app).await.action, "group.remove_host");
    let (s, _) = app.send(Method::PUT, "/api/v1/groups/9999", Some(json!({"name": "x"}))).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app.send(Method::PUT, &format!("/api/v1/groups/{g}/hosts/9999"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app.send(Method::PUT, &format!("/api/v1/groups/{g}"), Some(json!({"name": "a,b"}))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    // Through the pages.
    let resp = form(&app, &b, &csrf, "/groups", &[("name", "db"), ("description", "")]).await;
    let to = location(&resp);
    assert!(to.contains("flash=Group db created"), "{to}");
    let db = app.state.store().list_groups().await.unwrap().into_iter().find(|g| g.name == "db").unwrap().id;
    let resp = form(&app, &b, &csrf, &format!("/groups/{db}/hosts"), &[("host_id", &h1.to_string())]).await;
    assert!(location(&resp).contains("flash=Host added to db"));
    form(&app, &b, &csrf, &format!("/groups/{db}/hosts"), &[("host_id", &h2.to_string())]).await;
    let (_, list) = page(&b, &app, "/groups").await;
    assert!(list.contains("2 hosts") && list.contains("frontend"), "{list}");
    let (_, one) = page(&b, &app, &format!("/groups/{db}")).await;
    assert!(one.contains("h1") && one.contains("h2") && one.contains("Remove from group"), "{one}");
    let resp = form(&app, &b, &csrf, &format!("/groups/{db}/hosts/{h2}/remove"), &[]).await;
    assert!(location(&resp).contains("flash=Host removed from db"));
    assert!(app.state.store().host(h2).await.unwrap().unwrap().groups.is_empty());
    let resp =
        form(&app, &b, &csrf, &format!("/groups/{db}"), &[("name", "frontend"), ("description", "")]).await;
    assert!(location(&resp).contains("error=group frontend already exists"), "a taken name is refused");
    assert_eq!(last_event(&app).await.details["error"], "conflict");
    let resp =
        form(&app, &b, &csrf, &format!("/groups/{db}"), &[("name", "database"), ("description", "pg")]).await;
    assert!(location(&resp).contains("flash=Group database saved"));
    let (s, confirm) = page(&b, &app, &format!("/groups/{db}/delete")).await;
    assert!(
        s == StatusCode::OK
            && confirm.contains("Delete the group database?")
            && confirm.contains("1 host stay")
    );
    let resp = form(&app, &b, &csrf, &format!("/groups/{db}/delete"), &[]).await;
    assert!(location(&resp).starts_with("/groups?flash=Group database deleted"));
    let e = last_event(&app).await;
    assert_eq!(
        (e.action.as_str(), e.target.clone(), e.details["hosts"].as_i64()),
        ("group.delete", format!("group:{db}"), Some(1))
    );
    assert!(app.state.store().host(h1).await.unwrap().is_some(), "the hosts stay");
    assert!(app.state.store().host(h1).await.unwrap().unwrap().groups.is_empty());

    // A viewer sees the groups but changes nothing.
    let (vb, vcsrf) = viewer(&app).await;
    let (s, list) = page(&vb, &app, "/groups").await;
    assert!(s == StatusCode::OK && !list.contains("Create a group"));
    let resp = form(&app, &vb, &vcsrf, &format!("/groups/{g}/hosts"), &[("host_id", &h1.to_string())]).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    app.stop().await;
});

both_backends!(a_password_reset_follows_the_rules_and_ends_sessions, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (b, csrf) = sign_in(&app, "admin", common::ADMIN_PASSWORD).await;
    let (s, u) =
        app.post("/api/v1/users", json!({"username": "vic", "password": PW, "role": "operator"})).await;
    assert_eq!(s, StatusCode::CREATED);
    let vic = u["id"].as_i64().unwrap();
    let (vb, _) = sign_in(&app, "vic", PW).await;
    assert_eq!(page(&vb, &app, "/api/v1/auth/me").await.0, StatusCode::OK);

    // The page: a short password is refused with the creation rules' message, a good one set.
    let resp = form(&app, &b, &csrf, &format!("/admin/users/{vic}/password"), &[("password", "short")]).await;
    let to = location(&resp);
    assert!(to.contains("error=password:"), "{to}");
    assert_eq!(last_event(&app).await.details["error"], "validation_failed");
    assert_eq!(page(&vb, &app, "/api/v1/auth/me").await.0, StatusCode::OK, "a refused reset ends nothing");
    let (_, admin_page) = page(&b, &app, "/admin").await;
    assert!(admin_page.contains(&format!("/admin/users/{vic}/password")), "the users table has the form");
    let new_pw = "another-long-password-1";
    let resp = form(&app, &b, &csrf, &format!("/admin/users/{vic}/password"), &[("password", new_pw)]).await;
    let to = location(&resp);
    assert!(to.contains("flash=Password of vic set"), "{to}");
    let e = last_event(&app).await;
    assert_eq!(
        (e.action.as_str(), e.outcome.as_str(), e.target.as_str()),
        ("user.reset_password", "success", "user:vic")
    );
    assert!(!e.details.to_string().contains(new_pw), "no secret in the audit log");
    assert_eq!(page(&vb, &app, "/api/v1/auth/me").await.0, StatusCode::UNAUTHORIZED, "the old session ended");
    let resp = browser()
        .post(format!("{}/api/v1/auth/login", app.base))
        .json(&json!({"username": "vic", "password": PW}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "the old password is gone");
    let (vb, vcsrf) = sign_in(&app, "vic", new_pw).await;

    // The API does the same; an operator may not.
    let (s, _) = app.post(&format!("/api/v1/users/{vic}/password"), json!({"password": PW})).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(last_event(&app).await.action, "user.reset_password");
    let (s, _) = app.post("/api/v1/users/9999/password", json!({"password": PW})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (vb2, vcsrf2) = sign_in(&app, "vic", PW).await;
    drop((vb, vcsrf));
    let resp =
        form(&app, &vb2, &vcsrf2, "/admin/users/1/password", &[("password", "hijacked-password-1")]).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(last_event(&app).await.outcome, "denied");
    app.stop().await;
});

/// Record a key as first seen on contact, waiting for approval.
async fn pending_key(app: &TestApp, host_id: i64, n: u8) -> i64 {
    let key = ObservedHostKey {
        algorithm: "ssh-ed25519".into(),
        fingerprint: format!("SHA256:test{n}"),
        public_key: format!("ssh-ed25519 AAAATEST{n}"),
    };
    app.state.store().observe_host_key(host_id, &key, HostKeyStatus::Pending, 1).await.unwrap().id
}

both_backends!(approving_keys_queues_scans_one_or_several_at_once, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (b, csrf) = sign_in(&app, "admin", common::ADMIN_PASSWORD).await;
    // Port 1 on loopback refuses at once, so the queued scans fail fast and harmlessly.
    let mut hosts = Vec::new();
    for i in 0..5 {
        let maintenance = i == 4;
        hosts.push(host(&app, json!({"name": format!("k{i}"), "address": "127.0.0.1", "port": 1, "maintenance": maintenance})).await);
    }
    let mut keys = Vec::new();
    for (i, h) in hosts.iter().enumerate() {
        keys.push(pending_key(&app, *h, i as u8).await);
    }

    // One, through the API: the answer and the audit event name the scan it queued.
    let (s, body) =
        app.post(&format!("/api/v1/hosts/{}/keys/{}/approve", hosts[0], keys[0]), json!({})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let scan = body["scan_id"].as_i64().expect("a scan was queued");
    let sc = app.get(&format!("/api/v1/scans/{scan}")).await;
    assert_eq!(
        (sc["host_id"].as_i64(), sc["trigger"].as_str(), sc["triggered_by"].as_str()),
        (Some(hosts[0]), Some("key_approved"), Some("admin"))
    );
    let e = last_event(&app).await;
    assert_eq!((e.action.as_str(), e.details["scan_id"].as_i64()), ("host.key_approve", Some(scan)));

    // One, through the page: the flash says a scan was queued.
    let resp = form(&app, &b, &csrf, &format!("/hosts/{}/keys/{}/approve", hosts[1], keys[1]), &[]).await;
    let to = location(&resp);
    assert!(to.contains("flash=Host key approved for k1; scan #"), "{to}");

    // Several: the pending list, then one request approving two, each host scanned.
    let pending = app.get("/api/v1/host-keys/pending").await;
    let ids: Vec<i64> =
        pending["items"].as_array().unwrap().iter().map(|k| k["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, keys[2..].to_vec());
    let (_, list) = page(&b, &app, "/hosts/keys").await;
    assert!(
        list.contains("SHA256:test2") && list.contains("Approve selected") && !list.contains("SHA256:test0"),
        "{list}"
    );
    let (k2, k3) = (keys[2].to_string(), keys[3].to_string());
    let resp = form(&app, &b, &csrf, "/hosts/keys/approve", &[("key_id", &k2), ("key_id", &k3)]).await;
    let to = location(&resp);
    assert!(to.contains("flash=2 host keys approved; 2 scans queued (k2, k3)"), "{to}");
    let e = last_event(&app).await;
    assert_eq!((e.action.as_str(), e.outcome.as_str()), ("host.key_approve_many", "success"));
    let approved = e.details["approved"].as_array().unwrap();
    assert_eq!(approved.len(), 2, "each approval is in the audit event: {}", e.details);
    assert_eq!(approved[1]["host"], "k3");
    assert!(approved.iter().all(|a| a["scan_id"].is_i64() && a["fingerprint"].is_string()));
    for h in &hosts[2..4] {
        let keys = app.get(&format!("/api/v1/hosts/{h}/keys")).await;
        assert_eq!(keys["items"][0]["status"], "approved");
        let scans = app.get(&format!("/api/v1/scans?host_id={h}")).await;
        assert_eq!(scans["total"], 1, "host {h} has its scan");
    }

    // Refusals: not pending (already approved), none chosen, unknown; nothing approved.
    let (s, body) = app.post("/api/v1/host-keys/approve", json!({"key_ids": [keys[4], keys[0]]})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("is not waiting for approval"));
    assert_eq!(app.get(&format!("/api/v1/hosts/{}/keys", hosts[4])).await["items"][0]["status"], "pending");
    let resp = form(&app, &b, &csrf, "/hosts/keys/approve", &[]).await;
    assert!(location(&resp).contains("error=key_id: choose at least one host key"));
    let (s, _) = app.post(&format!("/api/v1/hosts/{}/keys/9999/approve", hosts[0]), json!({})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // A host in maintenance is approved but not scanned, and the answer says so.
    let (s, body) = app.post("/api/v1/host-keys/approve", json!({"key_ids": [keys[4]]})).await;
    assert_eq!(s, StatusCode::OK);
    assert!(body["items"][0]["scan_id"].is_null(), "{body}");

    // Approving needs host_keys:approve on both surfaces.
    let k = pending_key(&app, hosts[0], 9).await;
    let (vb, vcsrf) = viewer(&app).await;
    let resp = form(&app, &vb, &vcsrf, "/hosts/keys/approve", &[("key_id", &k.to_string())]).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = vb
        .post(format!("{}/api/v1/host-keys/approve", app.base))
        .header("x-csrf-token", &vcsrf)
        .json(&json!({"key_ids": [k]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    app.stop().await;
});

both_backends!(
    an_ssh_host_needs_an_address_and_failed_admin_forms_keep_their_input,
    |backend: Backend| async move {
        let app = TestApp::start(backend).await;
        let (b, csrf) = sign_in(&app, "admin", common::ADMIN_PASSWORD).await;
        let (s, body) = app.post("/api/v1/hosts", json!({"name": "blank", "address": " "})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        let msg = body["error"]["message"].as_str().unwrap().to_owned();
        assert!(msg.contains("an SSH host needs an address"), "{msg}");
        let resp =
            form(&app, &b, &csrf, "/hosts", &[("name", "blank"), ("address", ""), ("transport", "ssh")])
                .await;
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(resp.text().await.unwrap().contains(&msg));
        assert!(app.state.store().host_by_name("blank").await.unwrap().is_none());
        let resp =
            form(&app, &b, &csrf, "/hosts", &[("name", "here"), ("address", ""), ("transport", "local")])
                .await;
        assert!(resp.status().is_redirection(), "a local host needs no address");

        // A refused user keeps its name and role in the form, never the password.
        let resp = form(
            &app,
            &b,
            &csrf,
            "/admin/users",
            &[("username", "keepme"), ("password", "short-pw"), ("role", "auditor")],
        )
        .await;
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = resp.text().await.unwrap();
        assert!(html.contains(r#"name="username" required value="keepme""#), "the name is kept");
        assert!(html.contains(r#"<option value="auditor" selected>"#), "the role is kept");
        assert!(!html.contains("short-pw"), "the password is not");
        assert!(html.contains("password:"), "the reason is shown");
        assert_eq!(last_event(&app).await.details["error"], "validation_failed");
        // A refused credential keeps name, kind and user, never the secret.
        let resp = form(
            &app,
            &b,
            &csrf,
            "/admin/credentials",
            &[("name", "mykey"), ("kind", "ssh_key"), ("username", "deploy"), ("secret", "NOT-A-KEY-xyzzy")],
        )
        .await;
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = resp.text().await.unwrap();
        assert!(
            html.contains(r#"value="mykey""#) && html.contains(r#"value="deploy""#),
            "typed fields are kept"
        );
        assert!(!html.contains("NOT-A-KEY-xyzzy"), "the secret is not");
        // A refused token keeps its name.
        let resp = form(
            &app,
            &b,
            &csrf,
            "/admin/tokens",
            &[("name", "ci"), ("role", "nosuchrole"), ("expires_in_days", "30")],
        )
        .await;
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = resp.text().await.unwrap();
        assert!(html.contains(r#"value="ci""#) && html.contains(r#"value="30""#), "typed fields are kept");
        app.stop().await;
    }
);

both_backends!(
    the_import_preview_and_the_host_page_show_who_a_host_logs_in_as,
    |backend: Backend| async move {
        let app = TestApp::start(backend).await;
        let (b, csrf) = sign_in(&app, "admin", common::ADMIN_PASSWORD).await;
        let (_, c) = app
            .post(
                "/api/v1/credentials",
                json!({"name": "rootpw", "kind": "password", "username": "root", "secret": "pw"}),
            )
            .await;
        let csv = "name,address,username,credential\nmine,192.0.2.1,tester,rootpw\ntheirs,192.0.2.2,,rootpw\nbare,192.0.2.3,,\n";
        let resp = app
            .client
            .post(format!("{}/api/v1/hosts/import?dry_run=true", app.base))
            .header("x-csrf-token", &app.csrf)
            .body(csv)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let body: Value = resp.json().await.unwrap();
        let who: Vec<(String, String)> = body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["user"].as_str().unwrap().to_owned(), r["user_from"].as_str().unwrap().to_owned()))
            .collect();
        assert_eq!(
            who,
            vec![
                ("tester".to_owned(), "set on the host".to_owned()),
                ("root".to_owned(), "from credential rootpw".to_owned()),
                ("root".to_owned(), "default".to_owned()),
            ]
        );
        let resp = form(&app, &b, &csrf, "/hosts/import", &[("csv", csv)]).await;
        let html = resp.text().await.unwrap();
        assert!(
            html.contains("Logs in as") && html.contains("tester") && html.contains("(set on the host)"),
            "{html}"
        );

        let id = host(
            &app,
            json!({"name": "mine", "address": "192.0.2.1", "username": "tester", "credential_id": c["id"]}),
        )
        .await;
        let (_, html) = page(&b, &app, &format!("/hosts/{id}")).await;
        assert!(
            html.contains(r#"<dd id="login-user">tester <span class="muted">(set on the host)</span>"#),
            "{html}"
        );
        let (_, edit) = page(&b, &app, &format!("/hosts/{id}/edit")).await;
        assert!(edit.contains(r#"value="tester""#), "the edit page shows the user that is used");
        app.stop().await;
    }
);
