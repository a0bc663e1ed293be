//! The web UI end to end in real headless Chromium (Debian's `chromium` and `chromedriver`):
//! sign in, store a credential, add an SSH test host, approve its key, scan it, watch the
//! dashboard update live, read a failed rule's evidence, and check a viewer sees no admin
//! controls. Screenshots of each page land in target/e2e-screenshots/.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

const PASSWORD: &str = "web-test-password";

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn shots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/e2e-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    std::fs::write(shots().join(format!("{name}.png")), png).unwrap();
}

/// The main content's text, once the page (perhaps still loading after a form post) settles.
async fn text(c: &Client) -> String {
    let t = Instant::now();
    loop {
        let ready = c.execute("return document.readyState", vec![]).await.ok();
        if ready.as_ref().and_then(|r| r.as_str()) == Some("complete")
            && let Ok(main) = c.find(Locator::Css("main")).await
            && let Ok(text) = main.text().await
        {
            return text;
        }
        assert!(t.elapsed() < Duration::from_secs(15), "the page never settled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Reload `url` until the main content contains `needle`.
async fn until(c: &Client, url: &str, needle: &str) -> String {
    let t = Instant::now();
    loop {
        c.goto(url).await.unwrap();
        let body = text(c).await;
        if body.contains(needle) {
            return body;
        }
        assert!(t.elapsed() < Duration::from_secs(90), "{url} never showed {needle:?}:\n{body}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn fill(c: &Client, css: &str, value: &str) {
    let e = c.find(Locator::Css(css)).await.unwrap();
    e.clear().await.unwrap();
    e.send_keys(value).await.unwrap();
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css)).await.unwrap().click().await.unwrap();
}

/// Click a button that submits a form and wait until the next page has loaded.
async fn submit(c: &Client, css: &str) {
    c.execute("window.__owMarker = true", vec![]).await.unwrap();
    click(c, css).await;
    let t = Instant::now();
    loop {
        let state = c
            .execute("return window.__owMarker === undefined && document.readyState === 'complete'", vec![])
            .await
            .ok()
            .and_then(|v| v.as_bool());
        if state == Some(true) {
            return;
        }
        assert!(t.elapsed() < Duration::from_secs(30), "{css}: the next page never loaded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn sign_in(c: &Client, base: &str, user: &str, password: &str) {
    c.goto(&format!("{base}/")).await.unwrap();
    assert_eq!(c.current_url().await.unwrap().path(), "/login", "signed-out visitors land on the login form");
    fill(c, "#username", user).await;
    fill(c, "#password", password).await;
    submit(c, "button[type=submit]").await;
    // Wait for the answer: a page away from the form, or the form again with its message.
    let t = Instant::now();
    while c.current_url().await.unwrap().path() == "/login" && !text(c).await.contains("Invalid") {
        assert!(t.elapsed() < Duration::from_secs(15), "no answer to the sign-in");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_ui_end_to_end_in_chromium() {
    if !fleet_available() {
        return;
    }
    let n = 131;
    let mut fleet = Fleet::new();
    let key = fleet.path("id_ed25519");
    keygen(&key, "ed25519", "");
    let pubkey = fleet.path("id_ed25519.pub");
    let root = fleet.up(n, |root| {
        authorize(root, "/root", 0, &pubkey);
        write(root, "/etc/ssh/sshd_config.d/05-test.conf", "MaxAuthTries 4\n");
    });

    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _serve = Kill(
        Command::new(env!("CARGO_BIN_EXE_openwatch"))
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
                dir.path().to_str().unwrap(),
            ])
            .env("OPENWATCH_ADMIN_PASSWORD", PASSWORD)
            .env("OPENWATCH_REGISTER_LOCALHOST", "false")
            .env("OPENWATCH_SCAN_WALKS", "false")
            .env("OPENWATCH_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let driver_port = free_port();
    let _driver = Kill(
        Command::new("chromedriver")
            .arg(format!("--port={driver_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (apt-get install chromium chromium-driver)"),
    );
    for _ in 0..100 {
        let up = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            && std::net::TcpStream::connect(("127.0.0.1", driver_port)).is_ok();
        if up {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let profile = tempfile::tempdir().unwrap();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({"binary": "/usr/bin/chromium", "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--window-size=1366,900", format!("--user-data-dir={}", profile.path().display())]}),
    );
    let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{driver_port}"))
        .await
        .expect("a Chromium session");

    // Sign in; a wrong password says nothing about which part was wrong.
    sign_in(&c, &base, "admin", "wrong password").await;
    assert!(text(&c).await.contains("Invalid user name or password."));
    shot(&c, "01-login").await;
    sign_in(&c, &base, "admin", PASSWORD).await;
    assert_eq!(c.current_url().await.unwrap().path(), "/");
    let nav = c.find(Locator::Css("nav.main")).await.unwrap().text().await.unwrap();
    for item in ["Dashboard", "Hosts", "Scans", "Rules", "Frameworks", "Administration"] {
        assert!(nav.contains(item), "{item} in {nav}");
    }
    shot(&c, "02-dashboard-empty").await;

    // A credential (write-only), then the host.
    c.goto(&format!("{base}/admin")).await.unwrap();
    fill(&c, "form[action='/admin/credentials'] input[name=name]", "root-key").await;
    fill(&c, "textarea[name=secret]", &std::fs::read_to_string(&key).unwrap()).await;
    submit(&c, "form[action='/admin/credentials'] button").await;
    assert!(text(&c).await.contains("Credential root-key stored"), "{}", text(&c).await);
    shot(&c, "03-administration").await;
    c.goto(&format!("{base}/hosts/new")).await.unwrap();
    fill(&c, "input[name=name]", "web-host").await;
    fill(&c, "input[name=address]", &addr(n)).await;
    c.find(Locator::Css("select[name=credential_id]")).await.unwrap().select_by_value("1").await.unwrap();
    shot(&c, "04-add-host").await;
    submit(&c, "form[action='/hosts'] button[type=submit]").await;
    let host_url = c.current_url().await.unwrap();
    assert!(host_url.path().starts_with("/hosts/"), "{host_url}");
    let host_page = format!("{base}{}", host_url.path());

    // First scan: the key waits for approval; approve it, scan again.
    submit(&c, "form[action$='/scan'] button").await;
    let body = until(&c, &host_page, "Approve").await;
    assert!(body.contains("host key pending"), "{body}");
    shot(&c, "05-host-key-pending").await;
    submit(&c, "form[action*='/keys/'] button").await;
    assert!(text(&c).await.contains("Host key approved"));
    submit(&c, "form[action$='/scan'] button").await;
    let host_text = until(&c, &host_page, " pass · ").await;
    assert!(host_text.contains("Debian GNU/Linux 12"), "detected system facts are shown");
    shot(&c, "06-host").await;

    // Live pages hold an event stream only while shown: ten live pages in a row all load
    // (with a stream per visited page left open, the browser's per-site connection limit
    // would stall the seventh).
    for i in 0..10 {
        let url = if i % 2 == 0 { host_page.clone() } else { format!("{base}/hosts") };
        c.goto(&url).await.unwrap();
        assert!(!text(&c).await.is_empty(), "live page {i} loads");
    }

    // The dashboard updates live when a scan completes (server-sent events, no reload).
    c.goto(&format!("{base}/")).await.unwrap();
    assert!(text(&c).await.contains("1 scanned successfully"));
    write(&root, "/etc/ssh/sshd_config.d/05-test.conf", "MaxAuthTries 6\n");
    c.execute("document.querySelector('main').setAttribute('data-marker', 'before')", vec![]).await.unwrap();
    let api = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let login: serde_json::Value = api
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": "admin", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = host_url.path().trim_start_matches("/hosts/").to_owned();
    let queued = api
        .post(format!("{base}/api/v1/hosts/{id}/scans"))
        .header("x-csrf-token", login["csrf_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert!(queued.status().is_success());
    let t = Instant::now();
    loop {
        let main = c.find(Locator::Css("main")).await.unwrap();
        let refreshed = main.attr("data-refreshed").await.unwrap();
        let marker = main.attr("data-marker").await.unwrap();
        let body = main.text().await.unwrap();
        if refreshed.is_some() && body.contains("SSH server limits authentication attempts per connection") {
            assert_eq!(marker.as_deref(), Some("before"), "updated in place, not reloaded");
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(60), "the dashboard did not update live:\n{body}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    shot(&c, "07-dashboard-live").await;

    // A failed rule's evidence: what was read, expected, actual.
    c.goto(&format!("{host_page}?verdict=fail")).await.unwrap();
    click(&c, "#rules details summary").await;
    let evidence =
        c.find(Locator::Css("#rules details[open] dl.evidence")).await.unwrap().text().await.unwrap();
    for part in ["Read", "Expected", "Actual"] {
        assert!(evidence.contains(part), "{part} in {evidence}");
    }
    shot(&c, "08-evidence").await;
    for page in ["/scans", "/rules", "/frameworks", "/frameworks/cis_debian12"] {
        c.goto(&format!("{base}{page}")).await.unwrap();
        shot(&c, &format!("09-{}", page.trim_start_matches('/').replace('/', "-"))).await;
    }

    // Bulk import: a preview lists each row's problem; nothing is written until all are fine.
    c.goto(&format!("{base}/hosts/import")).await.unwrap();
    fill(&c, "#csv", "name,address,port,groups\nbulk1,10.9.0.1,22,lab\nbulk2,10.9.0.2,notaport,lab\n").await;
    submit(&c, "form[action='/hosts/import'] button").await;
    let preview = text(&c).await;
    assert!(preview.contains("1 with errors") && preview.contains("notaport"), "{preview}");
    assert!(!preview.contains("Import 2 hosts"));
    shot(&c, "09-import-preview").await;
    fill(&c, "#csv", "name,address,port,groups\nbulk1,10.9.0.1,22,lab\nbulk2,10.9.0.2,2222,lab\n").await;
    submit(&c, "form[action='/hosts/import'] button").await;
    assert!(text(&c).await.contains("0 with errors"));
    submit(&c, "#preview ~ form button").await;
    assert!(text(&c).await.contains("2 hosts imported"));
    let hosts = text(&c).await;
    assert!(hosts.contains("bulk1") && hosts.contains("bulk2"));

    // Compliance bands: the imported hosts are not scanned yet, the SSH host is.
    c.goto(&format!("{base}/hosts?band=unscanned")).await.unwrap();
    let unscanned = text(&c).await;
    assert!(unscanned.contains("bulk1") && !unscanned.contains("web-host"), "{unscanned}");

    // A control's rules with their verdicts across the fleet (MaxAuthTries now fails).
    c.goto(&format!("{base}/frameworks/cis_debian12/controls/5.1.16")).await.unwrap();
    let control = text(&c).await;
    assert!(control.contains("SSH server limits authentication attempts per connection"), "{control}");
    let row = c.find(Locator::Css("tbody tr")).await.unwrap().text().await.unwrap();
    let counts: Vec<&str> = row.split_whitespace().rev().take(4).collect();
    assert_eq!(counts, ["0", "0", "1", "0"], "not applicable, error, fail 1, pass 0: {row}");
    shot(&c, "09-control").await;

    // A custom role from checkboxes.
    c.goto(&format!("{base}/admin")).await.unwrap();
    fill(&c, "form[action='/admin/roles'] input[name=name]", "reporter").await;
    click(&c, "form[action='/admin/roles'] input[value='fleet:read']").await;
    submit(&c, "form[action='/admin/roles'] button").await;
    let admin = text(&c).await;
    assert!(admin.contains("Role reporter saved") && admin.contains("reporter"), "{admin}");

    // An API token is shown once, at creation.
    c.goto(&format!("{base}/admin")).await.unwrap();
    fill(&c, "form[action='/admin/tokens'] input[name=name]", "ci").await;
    submit(&c, "form[action='/admin/tokens'] button").await;
    let token = c.find(Locator::Css("#new-token")).await.unwrap().text().await.unwrap();
    assert!(token.starts_with("owt_"), "{token}");
    c.goto(&format!("{base}/admin")).await.unwrap();
    assert!(!text(&c).await.contains(&token), "the token is not shown again");

    // A viewer: no admin controls, and the server refuses them anyway.
    c.goto(&format!("{base}/admin")).await.unwrap();
    fill(&c, "form[action='/admin/users'] input[name=username]", "vic").await;
    fill(&c, "form[action='/admin/users'] input[name=password]", "viewer-password-123").await;
    submit(&c, "form[action='/admin/users'] button").await;
    assert!(text(&c).await.contains("User vic added"));
    submit(&c, "form[action='/logout'] button").await;
    sign_in(&c, &base, "vic", "viewer-password-123").await;
    let nav = c.find(Locator::Css("nav.main")).await.unwrap().text().await.unwrap();
    assert!(!nav.contains("Administration"), "{nav}");
    c.goto(&host_page).await.unwrap();
    let body = text(&c).await;
    assert!(
        !body.contains("Scan now") && !body.contains("Test connection"),
        "a viewer sees no scan controls"
    );
    c.goto(&format!("{base}/admin")).await.unwrap();
    assert!(text(&c).await.contains("does not include"));
    shot(&c, "10-viewer-refused").await;
    c.close().await.unwrap();
}
