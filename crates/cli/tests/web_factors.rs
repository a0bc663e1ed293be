//! Second factors in real headless Chromium against a real `openwatch serve`: enrolling an
//! authenticator app from the profile page (the secret read off the page, codes computed as
//! an app does), signing in with its code, registering a security key with Chromium's
//! virtual authenticator (WebDriver's WebAuthn extension), then signing in with the key as
//! the second factor and without a password. WebAuthn needs a domain, so the pages are
//! opened at localhost. Screenshots land in target/e2e-screenshots/.

mod common;

use std::time::{Duration, Instant};

use common::browser::{Browser, PASSWORD};
use fantoccini::wd::WebDriverCompatibleCommand;
use serde_json::json;

/// WebDriver's "Add Virtual Authenticator" (W3C WebAuthn, section 11.3): a platform
/// authenticator with resident keys and user verification, which says yes.
#[derive(Debug)]
struct AddVirtualAuthenticator;

impl WebDriverCompatibleCommand for AddVirtualAuthenticator {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/webauthn/authenticator", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({"protocol": "ctap2", "transport": "internal", "hasResidentKey": true,
            "hasUserVerification": true, "isUserConsenting": true, "isUserVerified": true});
        (http::Method::POST, Some(body.to_string()))
    }
}

fn code(secret: &str, offset: i64) -> String {
    let bytes = totp_rs::Secret::try_from_base32(secret.trim()).expect("base32").as_bytes().to_vec();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    openwatch_server::auth::totp::code_at(&bytes, (now + offset) as u64)
}

/// Wait until the page's path is `path`.
async fn lands(b: &Browser, path: &str) {
    let t = Instant::now();
    while b.path().await != path {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "never reached {path}; at {}:\n{}",
            b.path().await,
            b.text().await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn sign_out(b: &Browser) {
    b.submit("form[action='/logout'] button").await;
    lands(b, "/login").await;
}

async fn password(b: &Browser, at: &str) {
    b.goto(&format!("{at}/login")).await;
    b.fill("#username", "admin").await;
    b.fill("#password", PASSWORD).await;
    b.submit("form[action='/login'] button[type=submit]").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authenticator_app_and_security_key_in_chromium() {
    let b = Browser::start(&[]).await;
    let at = b.base.replace("127.0.0.1", "localhost");
    b.c.issue_cmd(AddVirtualAuthenticator).await.expect("Chromium's virtual authenticator");

    // Enrol an authenticator app from the profile page.
    password(&b, &at).await;
    lands(&b, "/").await;
    b.goto(&format!("{at}/profile")).await;
    b.submit("form[action='/profile/totp'] button").await;
    let secret = b.text_of("#totp-secret").await;
    assert!(b.c.find(fantoccini::Locator::Css("figure.qr svg")).await.is_ok(), "the QR code is on the page");
    b.shot("profile-totp-enrolment").await;
    b.fill("#totp-code", &code(&secret, 0)).await;
    b.submit("form[action='/profile/totp/confirm'] button").await;
    let codes = b.text_of("#recovery-codes").await;
    assert_eq!(codes.lines().count(), 10, "{codes}");
    b.submit("a.button").await;
    lands(&b, "/profile").await;
    assert!(b.text_of("#totp-status").await.contains("Enrolled"));

    // Register a security key (the session's check is fresh from the enrolment).
    b.fill("#security-key-name", "virtual key").await;
    b.click("#add-security-key").await;
    let t = Instant::now();
    while !b.text().await.contains("virtual key") {
        assert!(t.elapsed() < Duration::from_secs(20), "the key never showed:\n{}", b.text().await);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    b.shot("profile-factors").await;

    // The password is not enough any more: the app's next code finishes signing in.
    sign_out(&b).await;
    password(&b, &at).await;
    lands(&b, "/login/second-factor").await;
    assert!(b.text().await.contains("Enter the code from your authenticator app"));
    b.shot("second-factor").await;
    b.fill("#code", &code(&secret, 30)).await;
    b.submit("form[action='/login/second-factor'] button").await;
    lands(&b, "/").await;

    // The security key as the second factor.
    sign_out(&b).await;
    password(&b, &at).await;
    lands(&b, "/login/second-factor").await;
    b.click("#security-key").await;
    lands(&b, "/").await;

    // And without a password at all.
    sign_out(&b).await;
    b.goto(&format!("{at}/login")).await;
    b.fill("#username", "admin").await;
    b.click("#passwordless").await;
    lands(&b, "/").await;
    b.goto(&format!("{at}/profile")).await;
    let sessions = b.text_of("#sessions").await;
    assert!(sessions.contains("security_key"), "{sessions}");
}
