//! The web UI end to end in real headless Chromium (Debian's `chromium` and `chromedriver`):
//! sign in, store a credential, add an SSH test host, approve its key, scan it, watch the
//! dashboard update live, read a failed rule's evidence, and check a viewer sees no admin
//! controls. Screenshots of each page land in target/e2e-screenshots/.

mod common;

use std::time::{Duration, Instant};

use common::browser::{Browser, PASSWORD};
use common::*;
use fantoccini::Locator;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_ui_end_to_end_in_chromium() {
    if !fleet_available() {
        return;
    }
    let n = 131;
    let (mut fleet, key) = Fleet::with_key();
    let root = fleet.up_root(n, |root| {
        write(root, "/etc/ssh/sshd_config.d/05-test.conf", "MaxAuthTries 4\n");
    });

    let b = Browser::start(&[]).await;
    let c = &b.c;
    let base = b.base.clone();

    // Sign in; a wrong password says nothing about which part was wrong.
    b.sign_in("admin", "wrong password").await;
    assert!(b.text().await.contains("Invalid user name or password."));
    b.shot("01-login").await;
    b.sign_in("admin", PASSWORD).await;
    assert_eq!(c.current_url().await.unwrap().path(), "/");
    let nav = c.find(Locator::Css("nav.main")).await.unwrap().text().await.unwrap();
    for item in ["Dashboard", "Hosts", "Scans", "Rules", "Frameworks", "Administration"] {
        assert!(nav.contains(item), "{item} in {nav}");
    }
    b.shot("02-dashboard-empty").await;

    // A credential (write-only), then the host.
    c.goto(&format!("{base}/admin")).await.unwrap();
    b.fill("form[action='/admin/credentials'] input[name=name]", "root-key").await;
    b.fill("textarea[name=secret]", &std::fs::read_to_string(&key).unwrap()).await;
    b.submit("form[action='/admin/credentials'] button").await;
    assert!(b.text().await.contains("Credential root-key stored"), "{}", b.text().await);
    b.shot("03-administration").await;
    c.goto(&format!("{base}/hosts/new")).await.unwrap();
    b.fill("input[name=name]", "web-host").await;
    b.fill("input[name=address]", &addr(n)).await;
    c.find(Locator::Css("select[name=credential_id]")).await.unwrap().select_by_value("1").await.unwrap();
    b.shot("04-add-host").await;
    b.submit("form[action='/hosts'] button[type=submit]").await;
    let host_url = c.current_url().await.unwrap();
    assert!(host_url.path().starts_with("/hosts/"), "{host_url}");
    let host_page = format!("{base}{}", host_url.path());

    // First scan: the key waits for approval; approve it, scan again.
    b.submit("form[action$='/scan'] button").await;
    // The key is recorded before the scan's failure is: wait for the failure, which names it.
    let body = b.until(&host_page, "host key pending").await;
    assert!(body.contains("Approve"), "{body}");
    b.shot("05-host-key-pending").await;
    b.submit("form[action*='/keys/'] button").await;
    assert!(b.text().await.contains("Host key approved"));
    b.submit("form[action$='/scan'] button").await;
    let host_text = b.until(&host_page, " pass · ").await;
    assert!(host_text.contains("Debian GNU/Linux 12"), "detected system facts are shown");
    b.shot("06-host").await;

    // Live pages hold an event stream only while shown: ten live pages in a row all load
    // (with a stream per visited page left open, the browser's per-site connection limit
    // would stall the seventh).
    for i in 0..10 {
        let url = if i % 2 == 0 { host_page.clone() } else { format!("{base}/hosts") };
        c.goto(&url).await.unwrap();
        assert!(!b.text().await.is_empty(), "live page {i} loads");
    }

    // The dashboard updates live when a scan completes (server-sent events, no reload).
    c.goto(&format!("{base}/")).await.unwrap();
    assert!(b.text().await.contains("1 scanned successfully"));
    write(&root, "/etc/ssh/sshd_config.d/05-test.conf", "MaxAuthTries 6\n");
    c.execute("document.querySelector('main').setAttribute('data-marker', 'before')", vec![]).await.unwrap();
    let (api, csrf) = b.api().await;
    let id = host_url.path().trim_start_matches("/hosts/").to_owned();
    let queued = api
        .post(format!("{base}/api/v1/hosts/{id}/scans"))
        .header("x-csrf-token", &csrf)
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
    b.shot("07-dashboard-live").await;

    // A failed rule's evidence: what was read, expected, actual.
    c.goto(&format!("{host_page}?verdict=fail")).await.unwrap();
    b.click("#rules details summary").await;
    let evidence =
        c.find(Locator::Css("#rules details[open] dl.evidence")).await.unwrap().text().await.unwrap();
    for part in ["Read", "Expected", "Actual"] {
        assert!(evidence.contains(part), "{part} in {evidence}");
    }
    b.shot("08-evidence").await;
    for page in ["/scans", "/rules", "/frameworks", "/frameworks/cis_debian12"] {
        c.goto(&format!("{base}{page}")).await.unwrap();
        b.shot(&format!("09-{}", page.trim_start_matches('/').replace('/', "-"))).await;
    }

    // Bulk import: a preview lists each row's problem; nothing is written until all are fine.
    c.goto(&format!("{base}/hosts/import")).await.unwrap();
    b.fill("#csv", "name,address,port,groups\nbulk1,10.9.0.1,22,lab\nbulk2,10.9.0.2,notaport,lab\n").await;
    b.submit("form[action='/hosts/import'] button").await;
    let preview = b.text().await;
    assert!(preview.contains("1 with errors") && preview.contains("notaport"), "{preview}");
    assert!(!preview.contains("Import 2 hosts"));
    b.shot("09-import-preview").await;
    b.fill("#csv", "name,address,port,groups\nbulk1,10.9.0.1,22,lab\nbulk2,10.9.0.2,2222,lab\n").await;
    b.submit("form[action='/hosts/import'] button").await;
    assert!(b.text().await.contains("0 with errors"));
    b.submit("#preview ~ form button").await;
    assert!(b.text().await.contains("2 hosts imported"));
    let hosts = b.text().await;
    assert!(hosts.contains("bulk1") && hosts.contains("bulk2"));

    // Compliance bands: the imported hosts are not scanned yet, the SSH host is.
    c.goto(&format!("{base}/hosts?band=unscanned")).await.unwrap();
    let unscanned = b.text().await;
    assert!(unscanned.contains("bulk1") && !unscanned.contains("web-host"), "{unscanned}");

    // A control's rules with their verdicts across the fleet (MaxAuthTries now fails).
    c.goto(&format!("{base}/frameworks/cis_debian12/controls/5.1.16")).await.unwrap();
    let control = b.text().await;
    assert!(control.contains("SSH server limits authentication attempts per connection"), "{control}");
    let row = c.find(Locator::Css("tbody tr")).await.unwrap().text().await.unwrap();
    let counts: Vec<&str> = row.split_whitespace().rev().take(4).collect();
    assert_eq!(counts, ["0", "0", "1", "0"], "not applicable, error, fail 1, pass 0: {row}");
    b.shot("09-control").await;

    // A custom role from checkboxes.
    c.goto(&format!("{base}/admin")).await.unwrap();
    b.fill("form[action='/admin/roles'] input[name=name]", "reporter").await;
    b.click("form[action='/admin/roles'] input[value='fleet:read']").await;
    b.submit("form[action='/admin/roles'] button").await;
    let admin = b.text().await;
    assert!(admin.contains("Role reporter saved") && admin.contains("reporter"), "{admin}");

    // An API token is shown once, at creation.
    c.goto(&format!("{base}/admin")).await.unwrap();
    b.fill("form[action='/admin/tokens'] input[name=name]", "ci").await;
    b.submit("form[action='/admin/tokens'] button").await;
    let token = c.find(Locator::Css("#new-token")).await.unwrap().text().await.unwrap();
    assert!(token.starts_with("owt_"), "{token}");
    c.goto(&format!("{base}/admin")).await.unwrap();
    assert!(!b.text().await.contains(&token), "the token is not shown again");

    // A viewer: no admin controls, and the server refuses them anyway.
    c.goto(&format!("{base}/admin")).await.unwrap();
    b.fill("form[action='/admin/users'] input[name=username]", "vic").await;
    b.fill("form[action='/admin/users'] input[name=password]", "viewer-password-123").await;
    b.submit("form[action='/admin/users'] button").await;
    assert!(b.text().await.contains("User vic added"));
    b.submit("form[action='/logout'] button").await;
    b.sign_in("vic", "viewer-password-123").await;
    let nav = c.find(Locator::Css("nav.main")).await.unwrap().text().await.unwrap();
    assert!(!nav.contains("Administration"), "{nav}");
    c.goto(&host_page).await.unwrap();
    let body = b.text().await;
    assert!(
        !body.contains("Scan now") && !body.contains("Test connection"),
        "a viewer sees no scan controls"
    );
    c.goto(&format!("{base}/admin")).await.unwrap();
    assert!(b.text().await.contains("does not include"));
    b.shot("10-viewer-refused").await;
    b.c.clone().close().await.unwrap();
}
