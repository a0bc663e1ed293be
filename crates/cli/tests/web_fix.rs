//! Fixes in real headless Chromium against a real SSH test host: the Fix button on a failing
//! rule of a host's page asks for a preview (the diff is shown, nothing changes on the host);
//! its requester is told someone else must decide; an approver finds it in the approval
//! queue, approves it, and the page shows the kept transaction; Roll back restores the file
//! byte for byte. "Fix on every failing host" on the rule's page makes a request for every
//! host failing it. Screenshots: target/e2e-screenshots/fix-*.

mod common;

use common::browser::{Browser, PASSWORD};
use common::*;
use fantoccini::Locator;
use reqwest::Method as M;
use serde_json::json;

const RULE: &str = "account_disable_post_pw_expiration";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fix_preview_approve_and_roll_back_in_chromium() {
    if !fleet_available() {
        return;
    }
    let n = 179;
    let (mut fleet, key) = Fleet::with_key();
    let root = fleet.up_root(n, |_| {});
    let useradd = root.join("etc/default/useradd");
    let pristine = std::fs::read(&useradd).unwrap();

    let b = Browser::start(&[]).await;
    let api = b.admin_api().await;
    api.call(
        M::POST,
        "/api/v1/users",
        json!({"username": "approver", "password": "approver-password-1", "role": "security_admin"}),
    )
    .await;
    let cred = api
        .call(
            M::POST,
            "/api/v1/credentials",
            json!({"name": "root-key", "kind": "ssh_key", "username": "root", "secret": std::fs::read_to_string(&key).unwrap()}),
        )
        .await;
    let host = api
        .call(
            M::POST,
            "/api/v1/hosts",
            json!({"name": "web-1", "address": addr(n), "credential_id": cred["id"], "host_key_policy": "accept_new"}),
        )
        .await;
    let id = host["id"].as_i64().unwrap();
    assert_eq!(api.scan(id).await["status"], "succeeded");

    // The Fix button on the failing rule asks for a preview.
    b.sign_in("admin", PASSWORD).await;
    b.goto(&format!("/hosts/{id}?verdict=fail")).await;
    let row =
        b.c.find(Locator::XPath(&format!("//table[@id='rules']//tr[.//summary[contains(., '{RULE}')]]")))
            .await
            .unwrap();
    row.find(Locator::Css("summary")).await.unwrap().click().await.unwrap();
    b.submit(&format!("form.fix-request button[aria-label='Fix {RULE} on this host']")).await;
    assert!(b.path().await.starts_with("/remediations/"), "{}", b.path().await);
    let page = b.path().await;
    assert!(b.text().await.contains("created: previewing on 1 host"), "{}", b.text().await);
    let shown = b.until(&page, "awaiting approval").await;
    assert!(shown.contains("+INACTIVE=45") && shown.contains("risk low"), "{shown}");
    assert!(shown.contains("someone else holding remediations:approve must decide"), "{shown}");
    assert!(b.c.find(Locator::Css("#approve")).await.is_err(), "the requester gets no Approve button");
    assert_eq!(std::fs::read(&useradd).unwrap(), pristine, "a preview changes nothing");
    b.shot("fix-preview").await;

    // The approver finds it in the queue and approves it; the run keeps the fix.
    b.c.delete_all_cookies().await.unwrap();
    b.sign_in("approver", "approver-password-1").await;
    b.goto("/remediations?status=awaiting_approval").await;
    let queue = b.text().await;
    assert!(queue.contains(RULE) && queue.contains("admin"), "{queue}");
    b.shot("fix-queue").await;
    b.click("#remediations a[href^='/remediations/']").await;
    b.fill("#approve-note", "change 42").await;
    b.submit("#approve").await;
    assert!(b.text().await.contains("approved: the fixes run now"), "{}", b.text().await);
    let done = b.until(&page, "Finished.").await;
    assert!(done.contains("fixed") && done.contains("Approved by approver"), "{done}");
    assert!(std::fs::read_to_string(&useradd).unwrap().contains("INACTIVE=45"));
    b.shot("fix-done").await;

    // Roll back from the transaction list: the file is as it was, byte for byte.
    b.submit("#transactions button[aria-label^='Roll back']").await;
    assert!(b.text().await.contains("Rollback of"), "{}", b.text().await);
    let rolled = b.until(&page, "the pre-state is restored").await;
    assert!(rolled.contains("done"), "{rolled}");
    assert_eq!(std::fs::read(&useradd).unwrap(), pristine, "rolled back byte for byte");
    b.shot("fix-rolled-back").await;

    // From the rule's page: every failing host (the scan after the rollback says it fails again).
    b.until(&format!("/rules/{RULE}"), "1 fail").await;
    b.submit("form.fix-request button[aria-label$='on every failing host']").await;
    let shown = b.until(&b.path().await, "awaiting approval").await;
    assert!(shown.contains("web-1"), "{shown}");
    b.goto("/remediations").await;
    assert!(b.text().await.contains("Fixes"), "the navigation names the section");
}
