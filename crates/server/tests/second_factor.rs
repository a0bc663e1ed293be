//! Second factors against a real server on both backends: enrolling an authenticator app
//! (codes computed as an app does, from the secret the server showed), sign-in that waits
//! for the code, replays refused, recovery codes used once, wrong codes limited per sign-in
//! and per account and audited, enrolment forced by the role policy, fresh checks before
//! API tokens, break-glass-only password sign-in, and the same flow through the web pages.

mod common;

use common::{ADMIN_PASSWORD, Backend, TestApp, text};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The code an authenticator app shows for `secret` (base32) at `secs`.
fn code(secret: &str, secs: i64) -> String {
    let bytes = totp_rs::Secret::try_from_base32(secret).expect("base32 secret").as_bytes().to_vec();
    openwatch_server::auth::totp::code_at(&bytes, secs as u64)
}

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Enrol an authenticator app for the signed-in caller; its secret, recovery codes and the
/// time whose code enrolled it.
async fn enrol(app: &TestApp) -> (String, Vec<String>, i64) {
    let (s, b) = app.post("/api/v1/me/totp", json!({})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let secret = b["secret"].as_str().unwrap().to_owned();
    assert!(b["uri"].as_str().unwrap().starts_with("otpauth://totp/OpenWatch:"), "{b}");
    assert!(b["qr_svg"].as_str().unwrap().contains("<svg"), "the QR code is drawn by the server");
    let (s, b) = app.post("/api/v1/me/totp/confirm", json!({"code": "000000"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "a wrong first code enrols nothing: {b}");
    let at = now_secs();
    let (s, b) = app.post("/api/v1/me/totp/confirm", json!({"code": code(&secret, at)})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let codes: Vec<String> =
        b["recovery_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect();
    assert_eq!(codes.len(), 10);
    (secret, codes, at)
}

/// Sign out and sign in again with the password: the body of the sign-in.
async fn password_again(app: &mut TestApp, user: &str, password: &str) -> Value {
    let (s, _) = app.post("/api/v1/auth/logout", json!({})).await;
    assert!(s.is_success() || s == StatusCode::UNAUTHORIZED, "{s}");
    app.login(user, password).await
}

async fn events(app: &TestApp, action: &str) -> Vec<Value> {
    let e = app.get(&format!("/api/v1/audit/events?action={action}&per_page=200")).await;
    e["items"].as_array().unwrap().clone()
}

both_backends!(an_authenticator_app_guards_sign_in, |backend: Backend| async move {
    let mut app = TestApp::start(backend).await;
    let (secret, recovery, at) = enrol(&app).await;
    let f = app.get("/api/v1/me/factors").await;
    assert_eq!((f["totp"].as_bool(), f["recovery_codes_left"].as_i64()), (Some(true), Some(10)), "{f}");

    // The password alone no longer signs in: the session waits for the code.
    let b = password_again(&mut app, "admin", ADMIN_PASSWORD).await;
    assert_eq!(b["second_factor_required"], true, "{b}");
    assert_eq!(b["methods"], json!(["totp", "recovery_code"]), "{b}");
    let (s, me) = app.send(reqwest::Method::GET, "/api/v1/auth/me", None).await;
    assert_eq!(
        (s, me["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("second_factor_required")),
        "{me}"
    );
    let (s, _) = app.send(reqwest::Method::GET, "/api/v1/hosts", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "nothing else is reachable either");

    // The code used at enrolment is refused (replay); the next step's code signs in.
    let (s, b) = app.post("/api/v1/auth/second-factor", json!({"code": code(&secret, at)})).await;
    assert_eq!((s, b["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_code")), "{b}");
    let next = code(&secret, at + 30);
    let (s, b) = app.post("/api/v1/auth/second-factor", json!({"code": next})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(b["permissions"].as_array().is_some_and(|p| !p.is_empty()), "{b}");
    assert_eq!(app.get("/api/v1/auth/me").await["user"]["username"], "admin");

    // A recovery code works once.
    password_again(&mut app, "admin", ADMIN_PASSWORD).await;
    let (s, b) = app.post("/api/v1/auth/second-factor", json!({"code": recovery[0].to_uppercase()})).await;
    assert_eq!(s, StatusCode::OK, "recovery codes are read case-insensitively: {b}");
    password_again(&mut app, "admin", ADMIN_PASSWORD).await;
    let (s, _) = app.post("/api/v1/auth/second-factor", json!({"code": recovery[0]})).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "a used recovery code is refused");
    let (s, b) = app.post("/api/v1/auth/second-factor", json!({"code": recovery[1]})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(app.get("/api/v1/me/factors").await["recovery_codes_left"], 8);

    // A fresh check in this session allows an API token; a token cannot make another.
    let (s, t) = app.post("/api/v1/tokens", json!({"name": "ci", "role": "admin"})).await;
    assert_eq!(s, StatusCode::CREATED, "signed in with a second factor just now: {t}");
    let token = t["token"].as_str().unwrap().to_owned();
    let (s, b) = app
        .with_token(
            &token,
            reqwest::Method::POST,
            "/api/v1/tokens",
            Some(json!({"name": "x", "role": "viewer"})),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("second_factor_check_required")),
        "{b}"
    );
    let (s, _) = app.with_token(&token, reqwest::Method::GET, "/api/v1/hosts", None).await;
    assert_eq!(s, StatusCode::OK, "API tokens are unaffected by the second factor");

    // Every step is in the audit trail.
    let sf = events(&app, "auth.second_factor").await;
    let count = |outcome: &str, method: &str| {
        sf.iter().filter(|e| e["outcome"] == outcome && e["details"]["method"] == method).count()
    };
    assert_eq!(
        (count("success", "totp"), count("failure", "totp")),
        (2, 2),
        "enrolment and sign-in: {sf:#?}"
    );
    assert_eq!((count("success", "recovery_code"), count("failure", "recovery_code")), (2, 1));
    assert!(!events(&app, "factor.enrol").await.is_empty());
    app.stop().await;
});

both_backends!(guessing_codes_is_limited_and_audited, |backend: Backend| async move {
    let mut app = TestApp::start(backend).await;
    let (secret, _, at) = enrol(&app).await;
    // Five wrong codes end a waiting sign-in.
    for round in 0..2 {
        password_again(&mut app, "admin", ADMIN_PASSWORD).await;
        for i in 0..5 {
            let (s, b) = app
                .post("/api/v1/auth/second-factor", json!({"code": format!("{:06}", round * 10 + i)}))
                .await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{b}");
            let ended = b["error"]["code"] == "session_expired";
            assert_eq!(ended, i == 4, "round {round}, guess {i}: {b}");
        }
    }
    // Ten wrong codes for the account in 15 minutes: even the right code now waits.
    password_again(&mut app, "admin", ADMIN_PASSWORD).await;
    let (s, b) = app.post("/api/v1/auth/second-factor", json!({"code": code(&secret, at + 30)})).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited")),
        "{b}"
    );
    assert!(b["error"]["details"]["retry_after_secs"].as_u64().unwrap() > 0, "{b}");
    let store = app.state.store();
    let audit = store
        .list_audit(
            &openwatch_store::AuditQuery { action: Some("auth.second_factor".into()), ..Default::default() },
            openwatch_store::PageRequest { page: 1, per_page: 100 },
        )
        .await
        .unwrap();
    let failures =
        audit.items.iter().filter(|e| e.outcome == "failure" && e.details["purpose"] == "sign_in").count();
    let denied = audit.items.iter().filter(|e| e.outcome == "denied").count();
    assert_eq!((failures, denied), (10, 1), "every guess and the refusal are audited");
    app.stop().await;
});

both_backends!(a_role_that_requires_a_second_factor_enrols_one_first, |backend: Backend| async move {
    let mut app = TestApp::start_with(backend, |c| c.second_factor_roles = vec!["operator".into()]).await;
    let (s, b) = app
        .post(
            "/api/v1/users",
            json!({"username": "olive", "password": "olive-password-123", "role": "operator"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let b = password_again(&mut app, "olive", "olive-password-123").await;
    assert_eq!(
        (b["stage"].as_str(), b["methods"].clone()),
        (Some("enrol"), json!(["totp_enrolment"])),
        "{b}"
    );
    let (s, _) = app.send(reqwest::Method::GET, "/api/v1/hosts", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "nothing but enrolment until a factor exists");
    let (s, e) = app.post("/api/v1/auth/second-factor/enrol", json!({})).await;
    assert_eq!(s, StatusCode::OK, "{e}");
    let secret = e["secret"].as_str().unwrap().to_owned();
    let (s, again) = app.post("/api/v1/auth/second-factor/enrol", json!({})).await;
    assert_eq!(
        (s, again["secret"].as_str()),
        (StatusCode::OK, Some(secret.as_str())),
        "a reload shows the same secret"
    );
    let (s, b) = app.post("/api/v1/auth/second-factor", json!({"code": code(&secret, now_secs())})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["recovery_codes"].as_array().map(Vec::len), Some(10), "{b}");
    assert_eq!(app.get("/api/v1/auth/me").await["user"]["username"], "olive");
    // The one factor of a role that requires one cannot be removed.
    let (s, b) = app.send(reqwest::Method::DELETE, "/api/v1/me/totp", None).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    // The next sign-in asks for the code.
    let b = password_again(&mut app, "olive", "olive-password-123").await;
    assert_eq!(b["stage"], "second_factor", "{b}");
    // An administrator resets it (lost phone): enrolment again at the next sign-in.
    app.login("admin", ADMIN_PASSWORD).await;
    let olive = app.get("/api/v1/users").await["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "olive")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let (s, b) = app.post(&format!("/api/v1/users/{olive}/factors/reset"), json!({})).await;
    assert_eq!(s, StatusCode::OK, "admin has no factor, so no fresh check is due: {b}");
    let b = password_again(&mut app, "olive", "olive-password-123").await;
    assert_eq!(b["stage"], "enrol", "{b}");
    app.stop().await;
});

both_backends!(password_sign_in_can_be_kept_for_break_glass_accounts, |backend: Backend| async move {
    let mut app =
        TestApp::start_with(backend, |c| c.local_sign_in = openwatch_server::config::LocalSignIn::BreakGlass)
            .await;
    let (s, b) = app
        .post("/api/v1/users", json!({"username": "bob", "password": "bob-password-1234", "role": "viewer"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, b) = app.post("/api/v1/auth/logout", json!({})).await;
    assert!(s.is_success(), "{b}");
    let (s, b) = app
        .send(
            reqwest::Method::POST,
            "/api/v1/auth/login",
            Some(json!({"username": "bob", "password": "bob-password-1234"})),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("password_sign_in_disabled")),
        "{b}"
    );
    app.login("admin", ADMIN_PASSWORD).await;
    let denied = events(&app, "auth.login").await;
    assert!(denied.iter().any(|e| e["actor"] == "bob" && e["outcome"] == "denied"), "{denied:#?}");
    app.stop().await;
});

both_backends!(
    the_web_sign_in_asks_for_the_code_and_the_profile_shows_factors,
    |backend: Backend| async move {
        let app = TestApp::start(backend).await;
        let (secret, _, at) = enrol(&app).await;
        let (s, _) = app.post("/api/v1/auth/logout", json!({})).await;
        assert!(s.is_success());
        // The sign-in form leads to the second-factor step.
        let resp = app
            .client
            .post(format!("{}/login", app.base))
            .form(&[("username", "admin"), ("password", ADMIN_PASSWORD), ("next", "/profile")])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.url().path(), "/login/second-factor", "redirected to the second step");
        let page = resp.text().await.unwrap();
        assert!(text(&page).contains("Enter the code from your authenticator app"), "{}", text(&page));
        let csrf =
            page.split("name=\"_csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
        let (s, _) = app.page("/hosts").await;
        assert_eq!(s, StatusCode::OK, "the redirect to sign-in is followed");
        let resp = app
            .client
            .post(format!("{}/login/second-factor", app.base))
            .form(&[("code", "123456"), ("next", "/profile"), ("_csrf", &csrf)])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert!(text(&resp.text().await.unwrap()).contains("That code is wrong"));
        let good = code(&secret, at + 30);
        let resp = app
            .client
            .post(format!("{}/login/second-factor", app.base))
            .form(&[("code", good.as_str()), ("next", "/profile"), ("_csrf", &csrf)])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.url().path(), "/profile");
        let body = text(&resp.text().await.unwrap());
        assert!(body.contains("Enrolled. Recovery codes left: 10."), "{body}");
        assert!(body.contains("this session"), "{body}");
        app.stop().await;
    }
);
