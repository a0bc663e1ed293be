//! Single sign-on through a real OpenID provider (the certified `oidc-provider` package on
//! Node.js, installed by scripts/install-test-deps and started here on loopback): sign-in
//! with PKCE, state and nonce; roles from the groups claim, re-evaluated at each sign-in; a
//! user in no mapped group refused; a tampered ID token, one for another audience and an
//! expired one refused; a replayed callback and one finished in another browser refused;
//! the provider's key rotation handled; sign-out offering the provider's end-session page.
//! Both backends.

mod common;

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::{Backend, TestApp, text};
use openwatch_server::config::{OidcProvider, RoleMapping};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The provider process; killed when dropped (also when the test panics).
struct Idp {
    child: Child,
    issuer: String,
    script: PathBuf,
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.script);
    }
}

fn tools() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-tools")
}

impl Idp {
    /// Start the provider on `port` for an OpenWatch at `base` (a new signing key each time).
    fn start(port: u16, base: &str) -> Idp {
        let dir = tools();
        assert!(
            dir.join("node_modules/oidc-provider/package.json").exists(),
            "oidc-provider is missing: run scripts/install-test-deps"
        );
        // Beside its node_modules, so the script's imports resolve; one per provider, as
        // tests run at once.
        let script = dir.join(format!("oidc_provider-{port}.mjs"));
        std::fs::write(&script, include_str!("tools/oidc_provider.mjs")).unwrap();
        let mut child = Command::new("node")
            .arg(&script)
            .current_dir(&dir)
            .env("PORT", port.to_string())
            .env("REDIRECT_URI", format!("{base}/auth/oidc/corp/callback,{base}/auth/oidc/strict/callback"))
            .env("POST_LOGOUT_URI", format!("{base}/login"))
            .env("CLIENT_SECRET", "test-client-secret")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node (scripts/install-test-deps installs it)");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        while line.trim() != "ready" {
            line.clear();
            assert!(out.read_line(&mut line).unwrap() > 0, "the provider exited before listening");
        }
        // Keep reading: the provider's notices would kill it on a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        Idp { child, issuer: format!("http://127.0.0.1:{port}"), script }
    }

    /// Who the provider signs in next, and how it spoils the ID token (if at all).
    async fn mode(&self, user: &str, tamper: &str) {
        let r = reqwest::Client::new()
            .post(format!("{}/__test/mode", self.issuer))
            .body(json!({"user": user, "tamper": tamper}).to_string())
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A browser of its own (cookie jar), following redirects.
fn browser() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).build().unwrap()
}

/// Sign in through the provider with `b`: the final status, path and page text.
async fn sso(app: &TestApp, b: &reqwest::Client) -> (StatusCode, String, String) {
    sso_via(app, b, "corp").await
}

async fn sso_via(app: &TestApp, b: &reqwest::Client, provider: &str) -> (StatusCode, String, String) {
    let resp = b.get(format!("{}/auth/oidc/{provider}?next=/hosts", app.base)).send().await.unwrap();
    let (status, path) = (resp.status(), resp.url().path().to_owned());
    let html = resp.text().await.unwrap();
    // The callback's page moves on by itself (meta refresh), as a browser would follow it.
    if let Some(to) = html.split("id=\"continue\" href=\"").nth(1).and_then(|r| r.split('"').next()) {
        let resp = b.get(format!("{}{}", app.base, to.replace("&amp;", "&"))).send().await.unwrap();
        let (status, path) = (resp.status(), resp.url().path().to_owned());
        return (status, path, text(&resp.text().await.unwrap()));
    }
    (status, path, text(&html))
}

async fn me(app: &TestApp, b: &reqwest::Client) -> Value {
    b.get(format!("{}/api/v1/auth/me", app.base)).send().await.unwrap().json().await.unwrap()
}

async fn sso_events(app: &TestApp) -> Vec<Value> {
    let e = app.get("/api/v1/audit/events?action=auth.sso&per_page=100").await;
    e["items"].as_array().unwrap().clone()
}

both_backends!(sign_in_through_a_real_openid_provider, |backend: Backend| async move {
    let port = free_port();
    let secret_dir = tempfile::tempdir().unwrap();
    let secret_file = secret_dir.path().join("client-secret");
    std::fs::write(&secret_file, "test-client-secret\n").unwrap();
    let mut idp = None;
    let app = TestApp::start_with(backend, |c| {
        let base = format!("http://{}", c.listen);
        idp = Some(Idp::start(port, &base));
        c.oidc_providers = vec![OidcProvider {
            name: "corp".into(),
            title: "Sign in with Corp ID".into(),
            issuer: format!("http://127.0.0.1:{port}"),
            client_id: "openwatch".into(),
            client_secret_file: Some(secret_file.clone()),
            scopes: vec!["openid".into(), "profile".into(), "email".into()],
            username_claim: "preferred_username".into(),
            groups_claim: "groups".into(),
            role_mapping: vec![
                RoleMapping { group: "ow-admins".into(), role: "admin".into() },
                RoleMapping { group: "ow-viewers".into(), role: "viewer".into() },
            ],
            default_role: None,
            create_users: true,
            provider_second_factor: false,
        }];
        // The same provider again, for accounts an administrator creates beforehand.
        let strict = OidcProvider {
            name: "strict".into(),
            title: String::new(),
            create_users: false,
            ..c.oidc_providers[0].clone()
        };
        c.oidc_providers.push(strict);
    })
    .await;
    let idp = idp.unwrap();

    // The sign-in page offers the provider.
    let page = reqwest::get(format!("{}/login", app.base)).await.unwrap().text().await.unwrap();
    assert!(page.contains("href=\"/auth/oidc/corp?next=/\""), "{page}");
    assert!(text(&page).contains("Sign in with Corp ID"));

    // alice is in ow-admins: created as an admin on first sign-in, sent on to /hosts.
    let alice = browser();
    let (s, path, body) = sso(&app, &alice).await;
    assert_eq!((s, path.as_str()), (StatusCode::OK, "/hosts"), "{body}");
    let who = me(&app, &alice).await;
    assert_eq!(
        (who["user"]["username"].as_str(), who["user"]["role"].as_str()),
        (Some("alice"), Some("admin")),
        "{who}"
    );

    // bob is in ow-viewers; a role changed here is put back at his next sign-in.
    idp.mode("bob", "").await;
    let bob = browser();
    assert_eq!(sso(&app, &bob).await.1, "/hosts");
    let who = me(&app, &bob).await;
    assert_eq!(who["user"]["role"], "viewer", "{who}");
    let bob_id = who["user"]["id"].as_i64().unwrap();
    let (s, b) = app
        .send(reqwest::Method::PUT, &format!("/api/v1/users/{bob_id}"), Some(json!({"role": "operator"})))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let again = browser();
    sso(&app, &again).await;
    assert_eq!(
        me(&app, &again).await["user"]["role"],
        "viewer",
        "roles come from the provider at each sign-in"
    );

    // carol is in no mapped group: refused, no account made.
    idp.mode("carol", "").await;
    let (s, _, body) = sso(&app, &browser()).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body.contains("carol is in no group that maps to an OpenWatch role"), "{body}");

    // A provider account named like an unlinked local one never takes it over.
    idp.mode("admin", "").await;
    let (s, _, body) = sso(&app, &browser()).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body.contains("an account named admin already exists and is not linked to corp"), "{body}");

    // Where accounts must exist beforehand: refused until an administrator creates it.
    idp.mode("dave", "").await;
    let (s, _, body) = sso_via(&app, &browser(), "strict").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body.contains("no account named dave exists here"), "{body}");
    let (s, b) = app
        .post(
            "/api/v1/users",
            json!({"username": "dave", "password": "dave-local-password", "role": "viewer"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let dave = browser();
    assert_eq!(sso_via(&app, &dave, "strict").await.1, "/hosts");
    assert_eq!(me(&app, &dave).await["user"]["username"], "dave");

    // The administration page shows the providers and their role mappings.
    let (_, admin_page) = app.page("/admin").await;
    let admin_text = text(&admin_page);
    assert!(admin_text.contains("ow-admins → admin"), "{admin_text}");
    assert!(admin_text.contains("must exist"), "{admin_text}");

    // ID tokens that must not be believed.
    for (tamper, why) in [
        ("signature", "its signature is not valid"),
        ("audience", "it was issued for another client (audience)"),
        ("expired", "it has expired"),
    ] {
        idp.mode("alice", tamper).await;
        let b = browser();
        let (s, _, body) = sso(&app, &b).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{tamper}: {body}");
        assert!(body.contains(&format!("the ID token was refused: {why}")), "{tamper}: {body}");
        assert_eq!(me(&app, &b).await["error"]["code"], "unauthenticated", "{tamper}: not signed in");
    }
    let users = app.get("/api/v1/users").await;
    assert!(!users.to_string().contains("mallory"), "the tampered token's name made no account");

    // A callback replayed, or finished in another browser, is refused.
    idp.mode("alice", "").await;
    let stop_at_callback = reqwest::redirect::Policy::custom(|a| {
        if a.url().path().ends_with("/callback") { a.stop() } else { a.follow() }
    });
    let victim = reqwest::Client::builder().cookie_store(true).redirect(stop_at_callback).build().unwrap();
    let r = victim.get(format!("{}/auth/oidc/corp", app.base)).send().await.unwrap();
    let callback = r.headers()["location"].to_str().unwrap().to_owned();
    let elsewhere = browser().get(&callback).send().await.unwrap();
    assert_eq!(elsewhere.status(), StatusCode::UNAUTHORIZED);
    assert!(text(&elsewhere.text().await.unwrap()).contains("started in another browser"));
    let replay = victim.get(&callback).send().await.unwrap();
    assert!(text(&replay.text().await.unwrap()).contains("unknown or expired"), "taken once");

    // The provider rotates its signing key (restarted with a new one): the cached key set
    // is fetched again and sign-in works.
    drop(idp);
    let idp = Idp::start(port, &app.base);
    let rotated = browser();
    let (s, path, body) = sso(&app, &rotated).await;
    assert_eq!((s, path.as_str()), (StatusCode::OK, "/hosts"), "{body}");

    // Signing out ends the session here and offers the provider's end-session page.
    let csrf = me(&app, &rotated).await["csrf_token"].as_str().unwrap().to_owned();
    let out =
        rotated.post(format!("{}/logout", app.base)).form(&[("_csrf", csrf.as_str())]).send().await.unwrap();
    let page = out.text().await.unwrap();
    assert!(text(&page).contains("You are signed out of OpenWatch"), "{page}");
    let end = page
        .split("id=\"provider-sign-out\" href=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    assert!(end.starts_with(&format!("{}/session/end?client_id=openwatch", idp.issuer)), "{end}");
    assert!(rotated.get(&end).send().await.unwrap().status().is_success(), "the provider's page");
    assert_eq!(me(&app, &rotated).await["error"]["code"], "unauthenticated");

    // Every attempt is audited with its reason.
    let events = sso_events(&app).await;
    let failures: Vec<&str> = events
        .iter()
        .filter(|e| e["outcome"] == "failure")
        .filter_map(|e| e["details"]["reason"].as_str())
        .collect();
    assert!(failures.iter().any(|r| r.contains("signature is not valid")), "{failures:?}");
    assert!(failures.iter().any(|r| r.contains("audience")), "{failures:?}");
    assert!(failures.iter().any(|r| r.contains("expired")), "{failures:?}");
    assert!(failures.iter().any(|r| r.contains("no group")), "{failures:?}");
    let ok = events.iter().filter(|e| e["outcome"] == "success").count();
    assert_eq!(ok, 5, "alice, bob twice, dave, alice after the rotation");
    app.stop().await;
});
