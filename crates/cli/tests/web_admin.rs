//! Administration in real headless Chromium against real SSH test hosts: approve two
//! pending host keys at once (each host is then scanned), delete a host after its confirm
//! page, manage a group (create, add a host, rename, remove the host, delete), and reset a
//! user's password, then sign in with the new one. Screenshots: target/e2e-screenshots/admin-*.

mod common;

use common::browser::{Browser, PASSWORD};
use common::*;
use serde_json::{Value, json};

/// An API call as the signed-in admin; panics unless it succeeds.
async fn call(
    api: &(reqwest::Client, String),
    base: &str,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> Value {
    let resp = api
        .0
        .request(method, format!("{base}{path}"))
        .header("x-csrf-token", &api.1)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let v: Value = resp.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{path}: {status} {v}");
    v
}

async fn wait_scan(api: &(reqwest::Client, String), base: &str, id: i64) -> Value {
    let t = std::time::Instant::now();
    loop {
        let s = call(api, base, reqwest::Method::GET, &format!("/api/v1/scans/{id}"), Value::Null).await;
        if s["status"] == "succeeded" || s["status"] == "failed" {
            return s;
        }
        assert!(t.elapsed() < std::time::Duration::from_secs(180), "scan {id} stuck: {s}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administration_in_chromium() {
    if !fleet_available() {
        return;
    }
    let (mut fleet, key) = Fleet::with_key();
    let hosts = [162u32, 163];
    for n in hosts {
        fleet.up_root(n, |_| {});
    }

    let b = Browser::start(&[]).await;
    let base = b.base.clone();
    let api = b.api().await;
    use reqwest::Method as M;
    let cred = call(
        &api,
        &base,
        M::POST,
        "/api/v1/credentials",
        json!({"name": "root-key", "kind": "ssh_key", "username": "root", "secret": std::fs::read_to_string(&key).unwrap()}),
    )
    .await;
    let mut ids = Vec::new();
    for n in hosts {
        let h = call(
            &api,
            &base,
            M::POST,
            "/api/v1/hosts",
            json!({"name": format!("h{n}"), "address": addr(n), "credential_id": cred["id"]}),
        )
        .await;
        ids.push(h["id"].as_i64().unwrap());
    }
    // A first scan attempt records each host's key for approval.
    for id in &ids {
        let q = call(&api, &base, M::POST, &format!("/api/v1/hosts/{id}/scans"), json!({})).await;
        let s = wait_scan(&api, &base, q["scan_id"].as_i64().unwrap()).await;
        assert_eq!(s["error_kind"], "host_key_pending", "{s}");
    }
    b.sign_in("admin", PASSWORD).await;

    // Two pending keys approved at once; each host is scanned right away.
    b.goto("/hosts").await;
    b.submit("a[href='/hosts/keys']").await;
    assert_eq!(b.path().await, "/hosts/keys");
    let pending = call(&api, &base, M::GET, "/api/v1/host-keys/pending", Value::Null).await;
    let keys: Vec<i64> =
        pending["items"].as_array().unwrap().iter().map(|k| k["id"].as_i64().unwrap()).collect();
    assert_eq!(keys.len(), 2, "{pending}");
    for k in &keys {
        b.click(&format!("input[name=key_id][value='{k}']")).await;
    }
    b.shot("admin-pending-keys").await;
    b.submit("form[action='/hosts/keys/approve'] button[type=submit]").await;
    let text = b.text().await;
    assert!(text.contains("2 host keys approved; 2 scans queued (h162, h163)"), "{text}");
    assert!(text.contains("0 keys waiting"), "{text}");
    for id in &ids {
        let body = b.until(&format!("/hosts/{id}"), " pass · ").await;
        assert!(body.contains("root (from credential root-key)"), "{body}");
    }
    b.shot("admin-host-after-approval").await;

    // A group: create, add a host, rename, take the host out, delete (its hosts stay).
    b.goto("/groups").await;
    b.fill("form[action='/groups'] input[name=name]", "dmz").await;
    b.submit("form[action='/groups'] button").await;
    assert!(b.text().await.contains("Group dmz created"));
    b.select("select[name=host_id]", &ids[0].to_string()).await;
    b.submit("form[action$='/hosts'] button").await;
    let text = b.text().await;
    assert!(text.contains("Host added to dmz") && text.contains("h162"), "{text}");
    let group_path = b.path().await;
    b.fill(&format!("form[action='{group_path}'] input[name=name]"), "edge").await;
    b.submit(&format!("form[action='{group_path}'] button")).await;
    assert!(b.text().await.contains("Group edge saved"));
    b.shot("admin-group").await;
    b.goto("/groups").await;
    assert!(b.text_of("#groups").await.contains("edge"));
    b.shot("admin-groups").await;
    b.goto(&group_path).await;
    b.submit("form[action$='/remove'] button").await;
    assert!(b.text().await.contains("Host removed from edge"));
    b.submit("a[href$='/delete']").await;
    b.shot("admin-delete-group").await;
    b.submit("form[action$='/delete'] button").await;
    let text = b.text().await;
    assert!(text.contains("Group edge deleted"), "{text}");
    assert!(
        call(&api, &base, M::GET, &format!("/api/v1/hosts/{}", ids[0]), Value::Null).await["host"]["groups"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Delete a host: from its edit page, through the confirm page.
    b.goto(&format!("/hosts/{}/edit", ids[1])).await;
    b.submit(&format!("a[href='/hosts/{}/delete']", ids[1])).await;
    assert!(b.text().await.contains("Delete the host h163"));
    b.shot("admin-delete-host").await;
    b.submit("form[action$='/delete'] button").await;
    assert_eq!(b.path().await, "/hosts");
    let text = b.text().await;
    assert!(text.contains("Host h163 deleted") && !text.contains("10.201.0.173"), "{text}");

    // Reset a password; the user signs in with the new one only.
    let vic = call(
        &api,
        &base,
        M::POST,
        "/api/v1/users",
        json!({"username": "vic", "password": "first-password-123", "role": "viewer"}),
    )
    .await;
    let vic = vic["id"].as_i64().unwrap();
    b.goto("/admin").await;
    let form = format!("form[action='/admin/users/{vic}/password']");
    b.fill(&format!("{form} input[name=password]"), "second-password-456").await;
    b.shot("admin-reset-password").await;
    b.submit(&format!("{form} button")).await;
    assert!(b.text().await.contains("Password of vic set"));
    b.submit("form[action='/logout'] button").await;
    b.sign_in("vic", "first-password-123").await;
    assert!(b.text().await.contains("Invalid user name or password."));
    b.sign_in("vic", "second-password-456").await;
    assert_eq!(b.path().await, "/");
    assert!(b.text_of("div.who").await.contains("vic"));
}
