//! Sign-in hardening against a real server on both backends: attempts counted before the
//! password is checked, lockouts per (source, user) so nobody can lock a user out for others,
//! client addresses from trusted proxies only, and same-origin redirects after sign-in.

mod common;

use common::{ADMIN_PASSWORD, Backend, TestApp};
use reqwest::StatusCode;
use reqwest::header::{LOCATION, RETRY_AFTER};
use serde_json::{Value, json};

/// An API sign-in as if from `client` (sent as `X-Forwarded-For` unless empty), without
/// cookies: the status, the body and whether `Retry-After` was sent.
async fn api_login(app: &TestApp, client: &str, password: &str) -> (StatusCode, Value, bool) {
    let mut req = reqwest::Client::new().post(format!("{}/api/v1/auth/login", app.base));
    if !client.is_empty() {
        req = req.header("x-forwarded-for", client);
    }
    let resp = req.json(&json!({"username": "admin", "password": password})).send().await.unwrap();
    let (status, retry_after) = (resp.status(), resp.headers().contains_key(RETRY_AFTER));
    (status, resp.json().await.unwrap(), retry_after)
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// A web-form sign-in as if from `client` (likewise); the redirect is not followed.
async fn web_login(app: &TestApp, client: &str, password: &str, next: &str) -> reqwest::Response {
    let mut req = no_redirects().post(format!("{}/login", app.base));
    if !client.is_empty() {
        req = req.header("x-forwarded-for", client);
    }
    req.form(&[("username", "admin"), ("password", password), ("next", next)]).send().await.unwrap()
}

async fn login_events(app: &TestApp) -> Vec<Value> {
    let events = app.get("/api/v1/audit/events?action=auth.login&per_page=100").await;
    events["items"].as_array().unwrap().clone()
}

both_backends!(parallel_wrong_passwords_check_no_more_than_the_limit, |backend: Backend| async move {
    let app = TestApp::start_with(backend, |c| c.login_max_failures = 3).await;
    let guesses = (0..24).map(|i| {
        let app = &app;
        async move { api_login(app, "", &format!("guess-{i}")).await.0 }
    });
    let statuses = futures_util::future::join_all(guesses).await;
    let checked = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    let refused = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!((checked, refused), (3, 21), "{statuses:?}");
    let failures = login_events(&app).await.iter().filter(|e| e["outcome"] == "failure").count();
    assert_eq!(failures, 3, "only three passwords were checked");
    app.stop().await;
});

both_backends!(a_lockout_from_one_address_locks_nothing_for_another, |backend: Backend| async move {
    let app = TestApp::start_with(backend, |c| {
        c.login_max_failures = 3;
        c.trusted_proxies = "127.0.0.1".parse().unwrap();
    })
    .await;
    let (attacker, user) = ("203.0.113.7", "198.51.100.9");
    for _ in 0..3 {
        assert_eq!(api_login(&app, attacker, "wrong").await.0, StatusCode::UNAUTHORIZED);
    }
    let (s, b, attacker_told_when) = api_login(&app, attacker, ADMIN_PASSWORD).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{b}");
    let web = web_login(&app, attacker, ADMIN_PASSWORD, "/").await;
    assert_eq!(web.status(), StatusCode::TOO_MANY_REQUESTS);
    // The real admin, elsewhere, is not locked out: through the API and the web form.
    let (s, b, _) = api_login(&app, user, ADMIN_PASSWORD).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(web_login(&app, user, ADMIN_PASSWORD, "/").await.status(), StatusCode::SEE_OTHER);
    // The audit trail names the client behind the proxy, not the proxy.
    let events = login_events(&app).await;
    let from = |who: &str, outcome: &str| {
        events.iter().filter(|e| e["source"] == who && e["outcome"] == outcome).count()
    };
    assert_eq!((from(attacker, "failure"), from(attacker, "denied")), (3, 2));
    assert_eq!(from(user, "success"), 2);
    assert!(attacker_told_when && web.headers().contains_key(RETRY_AFTER), "429 carries Retry-After");
    app.stop().await;
});

both_backends!(forwarded_for_from_an_untrusted_peer_is_ignored, |backend: Backend| async move {
    // The test client is 127.0.0.1, outside the trusted block.
    let app = TestApp::start_with(backend, |c| {
        c.login_max_failures = 3;
        c.trusted_proxies = "10.0.0.0/8".parse().unwrap();
    })
    .await;
    for i in 0..3 {
        let spoofed = format!("192.0.2.{i}");
        assert_eq!(api_login(&app, &spoofed, "wrong").await.0, StatusCode::UNAUTHORIZED);
    }
    // A fresh forged address does not escape the lockout of the real one.
    let (s, b, retry_after) = api_login(&app, "192.0.2.99", ADMIN_PASSWORD).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{b}");
    let resp = web_login(&app, "192.0.2.98", ADMIN_PASSWORD, "/").await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.headers().contains_key(RETRY_AFTER));
    let events = login_events(&app).await;
    assert!(events.iter().all(|e| e["source"] == "127.0.0.1"), "{events:?}");
    assert!(retry_after);
    app.stop().await;
});

both_backends!(sign_in_redirects_only_to_same_origin_paths, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let hostile = [
        "//evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "/\\evil.example",
        "/%09/x\t",
        " /evil",
        "https://evil.example/",
        "javascript:alert(1)",
    ];
    for next in hostile {
        let resp = web_login(&app, "", ADMIN_PASSWORD, next).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{next:?}");
        assert_eq!(resp.headers()[LOCATION], "/", "{next:?}");
        // The form carries only the safe value forward, too.
        let form = no_redirects()
            .get(format!("{}/login", app.base))
            .query(&[("next", next)])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(form.contains(r#"name="next" value="/""#), "{next:?}: {form}");
    }
    let resp = web_login(&app, "", ADMIN_PASSWORD, "/hosts?tab=failing").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()[LOCATION], "/hosts?tab=failing");
    app.stop().await;
});
