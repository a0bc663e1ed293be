//! Compliance views in real headless Chromium against a real SSH test host: a first scan is
//! one "first scan" line, the dashboard's top failing rule leads to the rule's page naming
//! the host with its reason and evidence, a group's tailoring sets a rule variable that the
//! next scan applies (MaxAuthTries 4 passes the default limit of 4 and fails a limit of 3),
//! the fix steps say the tailored value, control and framework pages agree, and exports keep
//! their filters. Screenshots: target/e2e-screenshots/compliance-*.

mod common;

use common::browser::Browser;
use common::*;
use fantoccini::Locator;
use reqwest::Method as M;
use serde_json::{Value, json};

const RULE: &str = "sshd_set_max_auth_tries";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compliance_views_and_tailoring_in_chromium() {
    if !fleet_available() {
        return;
    }
    let n = 191;
    let (mut fleet, key) = Fleet::with_key();
    fleet.up_root(n, |root| {
        write(root, "/etc/ssh/sshd_config.d/05-test.conf", "MaxAuthTries 4\n");
    });

    let b = Browser::start(&[]).await;
    let api = b.admin_api().await;
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
            json!({"name": "edge-1", "address": addr(n), "credential_id": cred["id"], "groups": ["dmz"],
                "host_key_policy": "accept_new"}),
        )
        .await;
    let id = host["id"].as_i64().unwrap();
    let first = api.scan(id).await;
    assert_eq!(first["status"], "succeeded", "{first}");

    // The first scan is one line on the dashboard, not hundreds of "new" changes.
    b.sign_in("admin", common::browser::PASSWORD).await;
    b.goto("/").await;
    let recent = b.text_of("#chg-h + table").await;
    assert_eq!(recent.matches("First scan").count(), 1, "{recent}");
    assert!(recent.contains("edge-1"), "{recent}");

    // The top failing rule leads to its page, which names the host with reason and evidence.
    b.click("section[aria-labelledby=rules-h] a[href^='/rules/']").await;
    let page = b.text().await;
    assert!(b.path().await.starts_with("/rules/"), "{}", b.path().await);
    assert!(page.contains("edge-1") && page.contains("1 host result: 1 fail"), "{page}");
    b.click("#hosts-verdicts details summary").await;
    let evidence = b.text_of("#hosts-verdicts details[open] dl.evidence").await;
    assert!(evidence.contains("Expected") && evidence.contains("Actual"), "{evidence}");
    b.shot("compliance-rule").await;

    // MaxAuthTries 4 passes the default limit.
    b.goto(&format!("/rules/{RULE}")).await;
    assert!(b.text().await.contains("1 host result: 0 fail, 0 excepted, 1 pass"), "{}", b.text().await);

    // The DMZ group allows 3 at most: tailored on the group's page, applied by the next scan.
    let groups = api.call(M::GET, "/api/v1/groups", Value::Null).await;
    let dmz = groups["items"].as_array().unwrap().iter().find(|g| g["name"] == "dmz").unwrap()["id"].clone();
    b.goto(&format!("/groups/{dmz}")).await;
    b.click("a[href$='/tailoring']").await;
    assert!(b.text().await.contains("Tailoring of group dmz"));
    b.fill("#variables", "sshd_max_auth_tries=3").await;
    b.shot("compliance-tailoring").await;
    b.submit("form[action$='/tailoring'] button[type=submit]").await;
    assert!(b.text().await.contains("Tailoring of group dmz saved"), "{}", b.text().await);
    b.goto(&format!("/hosts/{id}/tailoring")).await;
    assert!(b.text().await.contains("sshd_max_auth_tries=3 (from group dmz)"));
    b.goto(&format!("/hosts/{id}")).await;
    b.submit("form[action$='/scan'] button").await;
    let page = b.until(&format!("/rules/{RULE}"), "1 host result: 1 fail").await;
    assert!(page.contains("edge-1"), "{page}");

    // The host's fix steps say the tailored value.
    b.goto(&format!("/hosts/{id}?verdict=fail")).await;
    let rows = b.c.find_all(Locator::Css("#rules details summary")).await.unwrap();
    for r in rows {
        if r.text().await.unwrap().contains(RULE) {
            r.click().await.unwrap();
        }
    }
    let fix = b.text_of("#rules details[open] .fix").await;
    assert!(fix.contains("MaxAuthTries 3"), "{fix}");

    // The control and framework pages agree with the rule page.
    b.goto("/frameworks/cis_debian12/controls/5.1.16").await;
    let control = b.text().await;
    assert!(control.contains("edge-1") && control.contains("1 host result: 1 fail"), "{control}");
    b.shot("compliance-control").await;
    b.goto("/frameworks/cis_debian12").await;
    let fw = b.text().await;
    assert!(fw.contains("Across the 1 host this framework applies to") && !fw.contains("of 0"), "{fw}");
    b.goto("/frameworks/stig_rhel9").await;
    assert!(b.text().await.contains("No scanned host is one this framework applies to yet."));

    // The control page's export link keeps the page's filters.
    b.goto("/frameworks/cis_debian12/controls/5.1.16?verdict=fail").await;
    let href = b.c.find(Locator::LinkText("Export CSV")).await.unwrap().attr("href").await.unwrap().unwrap();
    assert!(href.contains("verdict=fail") && href.contains("control=5.1.16"), "{href}");
    let csv = api.text(&href).await;
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 2, "{csv}");
    assert!(rows[1].starts_with(&format!("edge-1,{id},{RULE},")) && rows[1].ends_with("5.1.16,"), "{csv}");
    b.c.clone().close().await.unwrap();
}
