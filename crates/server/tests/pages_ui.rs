//! What the pages say, on both backends: counts in the right number, the host list's
//! failures, groups and tags, host key rows, why a host needs attention, the schedules page,
//! how to fix a failing rule, and code in rule prose.

mod common;

use common::{Backend, TestApp, text};
use openwatch_core::capability::CapabilitySet;
use openwatch_core::guidance::{Span, remediation_steps};
use openwatch_store::{HostKeyStatus, ObservedHostKey, Reachability};
use reqwest::StatusCode;
use serde_json::json;

/// The HTML of a sentence as the pages render it: text escaped, code in `<code>`.
fn rendered(spans: &[Span]) -> String {
    let esc =
        |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    spans
        .iter()
        .map(|s| match s {
            Span::Text(t) => esc(t),
            Span::Code(c) => format!("<code>{}</code>", esc(c)),
        })
        .collect()
}

both_backends!(counts_are_in_the_right_number, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let id = app.host(json!({"name": "solo", "address": "192.0.2.10"})).await;
    let (_, dash) = app.page("/").await;
    let dash = text(&dash);
    assert!(dash.contains("1 host,"), "{dash}");
    assert!(!dash.contains("1 hosts"), "{dash}");
    app.host(json!({"name": "second", "address": "192.0.2.11"})).await;
    assert!(text(&app.page("/").await.1).contains("2 hosts,"));
    // Scanning a selection of one host says "1 scan queued".
    let (s, page) = app.form("/hosts/scan", &[("host_id", &id.to_string())]).await;
    assert_eq!(s, StatusCode::OK);
    let page = text(&page);
    assert!(page.contains("1 scan queued"), "{page}");
    assert!(!page.contains("1 scans"), "{page}");
    // Importing one host: "Import 1 host", then "1 host imported".
    let csv = "name,address\nimported,192.0.2.17\n";
    let (_, preview) = app.form("/hosts/import", &[("csv", csv)]).await;
    assert!(text(&preview).contains("Import 1 host"), "{}", text(&preview));
    assert!(!text(&preview).contains("1 hosts"), "{}", text(&preview));
    let (_, page) = app.form("/hosts/import", &[("csv", csv), ("confirm", "1")]).await;
    assert!(text(&page).contains("1 host imported"), "{}", text(&page));
    app.stop().await;
});

both_backends!(the_host_list_shows_failures_groups_and_tags, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (id, scan) = app.scanned_local_host("here").await;
    let unscanned = app.host(json!({"name": "later", "address": "192.0.2.12", "tags": ["dmz"]})).await;
    let failing = scan["summary"]["verdicts"]["fail"].as_i64().unwrap();
    assert!(failing > 0, "this machine fails some rules: {scan}");
    let (_, list) = app.page("/hosts").await;
    assert!(list.contains(">Failures</th>"), "a failures column");
    let link = format!("href=\"/hosts/{id}?verdict=fail#rules\"");
    let at = list.find(&link).unwrap_or_else(|| panic!("the count links to the failing rules: {list}"));
    let cell = &list[at..at + list[at..].find("</a>").unwrap()];
    assert!(cell.ends_with(&format!(">{failing}")), "{cell}");
    assert!(list.contains("href=\"/hosts?tag=prod\""), "tags are shown and link to the filter");
    assert!(list.contains("href=\"/hosts?group=lab\""), "groups too");
    // The unscanned host has no count, and the tag filter keeps only tagged hosts.
    let row = &list[list.find(&format!("/hosts/{unscanned}\"")).unwrap()..];
    assert!(row[..row.find("</tr>").unwrap()].contains("not scanned yet"), "{row}");
    let (_, dmz) = app.page("/hosts?tag=dmz").await;
    assert!(dmz.contains(">later<") && !dmz.contains(">here<"), "{}", text(&dmz));
    // The failing count link shows that many failing rules.
    let (_, page) = app.page(&format!("/hosts/{id}?verdict=fail")).await;
    assert!(text(&page).contains(&format!("Rules ({failing})")), "{}", text(&page));
    app.stop().await;
});

both_backends!(a_host_key_row_says_the_key_state_once, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let id = app.host(json!({"name": "keyed", "address": "192.0.2.13"})).await;
    let store = app.state.store();
    let key = ObservedHostKey {
        algorithm: "ssh-ed25519".into(),
        fingerprint: "SHA256:testtesttest".into(),
        public_key: "ssh-ed25519 AAAA".into(),
    };
    store.observe_host_key(id, &key, HostKeyStatus::Pending, 1).await.unwrap();
    store.set_reachability(id, Reachability::HostKeyPending, Some("host key not approved")).await.unwrap();
    let page = text(&app.page(&format!("/hosts/{id}")).await.1);
    assert!(!page.contains("pending pending"), "{page}");
    let keys = &page[page.find("SSH host keys").unwrap()..];
    assert!(keys.contains("ssh-ed25519 pending"), "{keys}");
    // Approved while the host errs: the key row says "approved", not "reachable".
    let k = store.host_keys(id).await.unwrap()[0].id;
    assert!(store.approve_host_key(id, k, "admin", 2).await.unwrap());
    store.set_reachability(id, Reachability::Error, Some("connection reset")).await.unwrap();
    let page = text(&app.page(&format!("/hosts/{id}")).await.1);
    let keys = &page[page.find("SSH host keys").unwrap()..page.find("Compliance by framework").unwrap()];
    assert!(keys.contains("approved") && !keys.contains("reachable"), "{keys}");
    app.stop().await;
});

both_backends!(needs_attention_says_why, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let store = app.state.store();
    let down = app.host(json!({"name": "down", "address": "192.0.2.14"})).await;
    store
        .set_reachability(down, Reachability::Unreachable, Some("connect to 192.0.2.14:22: timed out"))
        .await
        .unwrap();
    let pending = app.host(json!({"name": "new-key", "address": "192.0.2.15"})).await;
    store.set_reachability(pending, Reachability::HostKeyPending, None).await.unwrap();
    let dash = text(&app.page("/").await.1);
    let attention = &dash[dash.find("Needs attention").unwrap()..dash.find("Recent changes").unwrap()];
    assert!(attention.contains("Unreachable: connect to 192.0.2.14:22: timed out"), "{attention}");
    assert!(
        attention.contains("new-key host key pending Its SSH host key waits for approval"),
        "{attention}"
    );
    app.stop().await;
});

both_backends!(schedules_are_listed_added_and_deleted_on_their_page, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let id = app.host(json!({"name": "nightly", "address": "192.0.2.16", "groups": ["web"]})).await;
    let (s, page) = app.page("/schedules").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("<a href=\"/schedules\" aria-current=\"page\">Schedules</a>"), "in the navigation");
    assert!(text(&page).contains("0 schedules"), "{}", text(&page));
    assert!(
        page.contains(&format!("value=\"host:{id}\"")) && page.contains(">web (1 host)<"),
        "targets offered"
    );

    // A cron that fires every minute is refused with a readable reason and the input kept.
    let target = format!("host:{id}");
    let (s, page) = app.form("/schedules", &[("target", &target), ("cron", "*/1 * * * *")]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.contains("<code>*/1 * * * *</code> fires more often than every 5 minutes"),
        "{}",
        text(&page)
    );
    assert!(page.contains("value=\"*/1 * * * *\""), "the input is kept");
    assert!(page.contains(&format!("value=\"{target}\" selected")), "the target is kept");
    let (s, page) = app.form("/schedules", &[("target", &target), ("cron", "0 3 30 2 *")]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(&page).contains("never fires"), "{}", text(&page));
    let (s, page) = app.form("/schedules", &[("target", &target)]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(&page).contains("give a cron expression or an interval"), "{}", text(&page));
    assert!(app.state.store().list_schedules().await.unwrap().is_empty());

    // Added: listed with its target and next run.
    let (s, page) = app.form("/schedules", &[("target", &target), ("cron", "0 3 * * *")]).await;
    assert_eq!(s, StatusCode::OK);
    let t = text(&page);
    assert!(t.contains("Schedule #1 added") && t.contains("1 schedule."), "{t}");
    assert!(t.contains("host nightly cron 0 3 * * *") && t.contains(" 03:00 UTC (in "), "{t}");
    let group = app.state.store().list_groups().await.unwrap()[0].id;
    let (_, page) =
        app.form("/schedules", &[("target", &format!("group:{group}")), ("interval", "90")]).await;
    assert!(text(&page).contains("group web every 90 minutes"), "{}", text(&page));
    let listed = app.get("/api/v1/schedules").await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 2, "the API sees what the page made");

    // Deleted (the button asks first).
    assert!(page.contains("action=\"/schedules/1/delete\" data-confirm=\"Delete schedule #1?\""));
    let (s, page) = app.form("/schedules/1/delete", &[]).await;
    assert_eq!(s, StatusCode::OK);
    let t = text(&page);
    assert!(t.contains("Schedule #1 deleted") && !t.contains("host nightly"), "{t}");
    let (_, page) = app.form("/schedules/1/delete", &[]).await;
    assert!(text(&page).contains("schedule not found"), "{}", text(&page));
    app.stop().await;
});

both_backends!(a_failing_rule_says_how_to_fix_it, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (id, scan) = app.scanned_local_host("here").await;
    let caps: CapabilitySet = scan["summary"]["system"]["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    let (_, page) = app.page(&format!("/hosts/{id}?verdict=fail")).await;
    let lib = common::library();
    let failing = app.get(&format!("/api/v1/scans/{}/results?verdict=fail&per_page=500", scan["id"])).await;
    let mut checked = 0;
    for r in failing["items"].as_array().unwrap() {
        let rule = lib.rule(r["rule_id"].as_str().unwrap()).unwrap();
        let steps = remediation_steps(rule, Some(&caps), &Default::default());
        let at = page.find(&format!("<span class=\"muted mono\">{}</span>", rule.id())).unwrap();
        let panel = &page[at..at + page[at..].find("</details>").unwrap()];
        assert!(panel.contains("How to fix"), "{panel}");
        for s in &steps {
            assert!(panel.contains(&format!("<li>{}</li>", rendered(&s.0))), "{s} in {panel}");
        }
        checked += steps.len();
    }
    assert!(checked > 0, "some failing rule has steps");
    app.stop().await;
});

both_backends!(code_in_rule_prose_is_shown_as_code, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (_, page) = app.page("/rules?q=sshd_set_max_auth_tries").await;
    assert!(page.contains("no more than <code>sshd_max_auth_tries</code> (4 by default)"), "{page}");
    assert!(!text(&page).contains('`'), "no raw backticks");
    app.stop().await;
});
