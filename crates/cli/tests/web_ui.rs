//! Pages in real headless Chromium: a failing rule's panel says how to fix it on a real
//! scanned SSH test host, a 60-character host and group name does not widen the page (at
//! 1366 px and at a narrow width), and a schedule is refused, added and deleted through its
//! page. Screenshots land in target/e2e-screenshots/.

mod common;

use common::browser::{Browser, PASSWORD};
use common::*;
use fantoccini::Locator;

/// Does the page fit the window's width (nothing pushes it sideways)?
async fn fits(b: &Browser) -> bool {
    b.c.execute("return document.documentElement.scrollWidth <= window.innerWidth", vec![])
        .await
        .unwrap()
        .as_bool()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remediation_long_names_and_schedules_in_chromium() {
    if !fleet_available() {
        return;
    }
    let n = 171;
    let (mut fleet, key) = Fleet::with_key();
    fleet.up_root(n, |root| {
        write(root, "/etc/ssh/sshd_config.d/05-test.conf", "MaxAuthTries 6\n");
    });

    let b = Browser::start(&[]).await;
    let c = &b.c;
    b.sign_in("admin", PASSWORD).await;

    // A credential and a host with a 60-character name in a 60-character group.
    b.goto("/admin").await;
    b.fill("form[action='/admin/credentials'] input[name=name]", "root-key").await;
    b.fill("textarea[name=secret]", &std::fs::read_to_string(&key).unwrap()).await;
    b.submit("form[action='/admin/credentials'] button").await;
    let name = format!("long-host-name-{}", "x".repeat(45));
    let group = format!("long-group-name-{}", "g".repeat(44));
    assert_eq!((name.len(), group.len()), (60, 60));
    b.goto("/hosts/new").await;
    b.fill("input[name=name]", &name).await;
    b.fill("input[name=address]", &addr(n)).await;
    b.fill("input[name=groups]", &group).await;
    b.select("select[name=credential_id]", "1").await;
    b.submit("form[action='/hosts'] button[type=submit]").await;
    let host_page = b.path().await;
    assert!(host_page.starts_with("/hosts/"), "{host_page}");

    // Scan, approve the key, scan again.
    b.submit("form[action$='/scan'] button").await;
    b.until(&host_page, "Approve").await;
    b.submit("form[action*='/keys/'] button").await;
    b.submit("form[action$='/scan'] button").await;
    b.until(&host_page, " pass · ").await;

    // The failing MaxAuthTries rule says what to change, next to its evidence.
    b.goto(&format!("{host_page}?verdict=fail")).await;
    let summary = "#rules details summary";
    let panels = c.find_all(Locator::Css(summary)).await.unwrap();
    let mut opened = false;
    for p in panels {
        if p.text().await.unwrap().contains("sshd_set_max_auth_tries") {
            p.click().await.unwrap();
            opened = true;
            break;
        }
    }
    assert!(opened, "MaxAuthTries fails on the host:\n{}", b.text().await);
    let panel = b.text_of("#rules details[open]").await;
    assert!(panel.contains("Actual"), "evidence: {panel}");
    assert!(panel.contains("How to fix"), "{panel}");
    assert!(
        panel.contains("Set MaxAuthTries 4 in the drop-in file /etc/ssh/sshd_config.d/00-openwatch.conf."),
        "{panel}"
    );
    assert!(panel.contains("Restart the service ssh."), "{panel}");
    let code = b.text_of("#rules details[open] .fix code").await;
    assert_eq!(code, "MaxAuthTries 4", "values are shown as code");
    c.execute("document.querySelector('#rules details[open]').scrollIntoView()", vec![]).await.unwrap();
    b.shot("remediation").await;

    // Long names wrap: no page is wider than the window, at 1366 px or at 760 px.
    for width in [1366, 760] {
        c.set_window_size(width, 900).await.unwrap();
        for page in ["/", "/hosts", host_page.as_str(), "/schedules"] {
            b.goto(page).await;
            assert!(b.text().await.contains(&name[..20]), "{page} names the host");
            assert!(fits(&b).await, "{page} fits {width} px");
        }
        b.goto("/hosts").await;
        b.shot(&format!("hosts-long-names-{width}")).await;
    }
    c.set_window_size(1366, 900).await.unwrap();

    // Schedules: a flooding cron is refused with the reason and the input kept, a good one
    // is listed, and deleting asks first.
    b.goto("/schedules").await;
    assert!(b.text().await.contains("0 schedules"));
    let id = host_page.trim_start_matches("/hosts/");
    b.select("select[name=target]", &format!("host:{id}")).await;
    b.fill("input[name=cron]", "*/1 * * * *").await;
    b.submit("form[action='/schedules'] button[type=submit]").await;
    let refused = b.text().await;
    assert!(refused.contains("fires more often than every 5 minutes"), "{refused}");
    let kept = c.find(Locator::Css("input[name=cron]")).await.unwrap().prop("value").await.unwrap();
    assert_eq!(kept.as_deref(), Some("*/1 * * * *"));
    b.shot("schedules-refused").await;
    b.fill("input[name=cron]", "0 3 * * *").await;
    b.submit("form[action='/schedules'] button[type=submit]").await;
    let listed = b.text().await;
    assert!(listed.contains("Schedule #1 added") && listed.contains("1 schedule."), "{listed}");
    assert!(
        listed.contains(&name) && listed.contains("0 3 * * *") && listed.contains("03:00 UTC"),
        "{listed}"
    );
    b.shot("schedules").await;
    b.submit("form[action='/schedules/1/delete'] button").await;
    let gone = b.text().await;
    assert!(gone.contains("Schedule #1 deleted") && gone.contains("0 schedules"), "{gone}");
    b.c.clone().close().await.unwrap();
}
