//! Drift against a real SSH test host, through `openwatch serve` on both backends: two
//! settings change on the host (sshd MaxAuthTries 4 -> 6, /etc/shadow 0640 -> 0644) and the
//! rescan records both. The fleet's "what changed" page and `GET /api/v1/changes` filter them
//! by time, group, framework and severity; the host page's change log shows each value
//! before and after.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::serve::{Api, Proc, backends, database};
use common::*;
use openwatch_core::exceptions::Date;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Medium; cited by CIS Debian 12, NIST 800-53 and PCI DSS.
const SSHD: &str = "sshd_set_max_auth_tries";
/// High; cited by the same and by the RHEL 9 STIG too.
const SHADOW: &str = "file_permissions_etc_shadow";

async fn page(api: &Api, path: &str) -> String {
    let resp = api.client.get(format!("{}{path}", api.base)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "{path}");
    resp.text().await.unwrap()
}

/// The rules of the "what changed" table's rows, sorted.
fn rows(html: &str) -> Vec<String> {
    let Some(at) = html.find("<table id=\"changes\"") else { return Vec::new() };
    let table = &html[at..html[at..].find("</table>").map_or(html.len(), |e| at + e)];
    let mut rules: Vec<String> = table
        .split("href=\"/rules/")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].to_owned())
        .collect();
    rules.sort();
    rules
}

/// The rules of an API page of changes, sorted.
fn rule_ids(changes: &Value) -> Vec<String> {
    let mut ids: Vec<String> = changes["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["rule_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

/// How a value change reads in a page: before, an arrow, after.
fn before_after(v: &Value) -> String {
    let esc = |s: &Value| {
        s.as_str()
            .unwrap_or("(none)")
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    format!(
        "<span class=\"mono before\">{}</span> → <span class=\"mono after\">{}</span>",
        esc(&v["before"]),
        esc(&v["after"])
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_changed_filters_and_the_host_log_show_values_before_and_after() {
    if !fleet_available() {
        return;
    }
    for (i, backend) in backends().into_iter().enumerate() {
        let n = [188, 189][i];
        let (mut fleet, key) = Fleet::with_key();
        let root =
            fleet.up_root(n, |root| write(root, "/etc/ssh/sshd_config.d/05-test.conf", "MaxAuthTries 4\n"));
        let dir = tempfile::tempdir().unwrap();
        let db = database(backend, dir.path());
        let serve = Proc::start("serve", dir.path(), &db, &[("OPENWATCH_REGISTER_LOCALHOST", "false")]);
        let api = Api::login(&serve.base).await;
        let id = api.root_host(&format!("web-{n}"), n, &key).await;
        let web = api.post("/api/v1/groups", json!({"name": "web"})).await;
        let (s, b) = api.call(Method::PUT, &format!("/api/v1/groups/{}/hosts/{id}", web["id"]), None).await;
        assert!(s.is_success(), "{s} {b}");
        api.post("/api/v1/groups", json!({"name": "db"})).await;
        assert_eq!(api.scan(id).await["status"], "succeeded", "{backend}: the baseline");

        write(&root, "/etc/ssh/sshd_config.d/05-test.conf", "MaxAuthTries 6\n");
        std::fs::set_permissions(root.join("etc/shadow"), std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(api.scan(id).await["status"], "succeeded");

        let all = api.get("/api/v1/changes").await;
        assert_eq!(rule_ids(&all), [SHADOW, SSHD], "{backend}: {all}");
        let change =
            |rule: &str| all["items"].as_array().unwrap().iter().find(|c| c["rule_id"] == rule).unwrap();
        let (sshd, shadow) = (change(SSHD), change(SHADOW));
        for (c, severity) in [(sshd, "medium"), (shadow, "high")] {
            assert_eq!(
                (c["old_verdict"].as_str(), c["new_verdict"].as_str(), c["new_severity"].as_str()),
                (Some("pass"), Some("fail"), Some(severity)),
                "{c}"
            );
        }
        let values = |c: &Value| c["values"].as_array().unwrap().clone();
        let max_tries = values(sshd).into_iter().find(|v| v["before"] == "4" && v["after"] == "6");
        let max_tries = max_tries.unwrap_or_else(|| panic!("MaxAuthTries 4 -> 6: {sshd}"));
        let mode = values(shadow).into_iter().find(|v| {
            v["before"].as_str().is_some_and(|b| b.contains("0640"))
                && v["after"].as_str().is_some_and(|a| a.contains("0644"))
        });
        let mode = mode.unwrap_or_else(|| panic!("mode 0640 -> 0644: {shadow}"));

        // The API's framework filter: rules citing the framework.
        assert_eq!(rule_ids(&api.get("/api/v1/changes?framework=stig_rhel9").await), [SHADOW]);
        assert_eq!(rule_ids(&api.get("/api/v1/changes?framework=cis_debian12").await), [SHADOW, SSHD]);
        assert_eq!(
            rule_ids(&api.get("/api/v1/changes?framework=stig_rhel9&severity=medium").await),
            Vec::<String>::new()
        );
        let (s, e) = api.call(Method::GET, "/api/v1/changes?framework=nope", None).await;
        assert_eq!(
            (s, e["error"]["details"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("framework"))
        );

        // The page, filter by filter (the days are UTC, like the change times).
        let today = Date::from_unix_days(sshd["changed_at"].as_i64().unwrap().div_euclid(86_400_000));
        let day = |d: i64| Date::from_unix_days(today.unix_days() + d).to_string();
        let both = vec![SHADOW.to_owned(), SSHD.to_owned()];
        for (query, expected) in [
            (String::new(), both.clone()),
            ("?severity=high".into(), vec![SHADOW.to_owned()]),
            ("?severity=medium".into(), vec![SSHD.to_owned()]),
            ("?framework=stig_rhel9".into(), vec![SHADOW.to_owned()]),
            ("?framework=pci_dss_4".into(), both.clone()),
            ("?group=web".into(), both.clone()),
            ("?group=db".into(), vec![]),
            (format!("?since={today}&until={today}"), both.clone()),
            (format!("?until={}", day(-1)), vec![]),
            (format!("?since={}", day(1)), vec![]),
            (
                format!("?group=web&framework=cis_debian12&severity=medium&since={today}"),
                vec![SSHD.to_owned()],
            ),
        ] {
            let html = page(&api, &format!("/changes{query}")).await;
            assert_eq!(rows(&html), expected, "{backend}: /changes{query}");
            assert_eq!(
                html.contains("Nothing changed that matches."),
                expected.is_empty(),
                "/changes{query}"
            );
        }
        let html = page(&api, "/changes?severity=medium").await;
        assert!(html.contains(&before_after(&max_tries)), "the row says the values: {html}");
        assert!(html.contains(&format!("href=\"/hosts/{id}\">web-{n}</a>")), "and the host: {html}");
        for (query, message) in
            [("?group=nope", "there is no group named `nope`"), ("?since=2026-13-01", "is not a date")]
        {
            let html = page(&api, &format!("/changes{query}")).await;
            assert!(html.contains(message), "{query}: {html}");
        }

        // The host page's change log: each rule with its values before and after.
        let html = page(&api, &format!("/hosts/{id}")).await;
        let log = &html[html.find("id=\"chg-h\"").expect("a change log")..];
        for (rule, v) in [(SSHD, &max_tries), (SHADOW, &mode)] {
            let row = &log[log.find(&format!(">{rule}<")).unwrap_or_else(|| panic!("{rule}: {log}"))..];
            let row = &row[..row.find("</tr>").unwrap()];
            assert!(row.contains(&before_after(v)), "{rule}: {row}");
        }
        serve.stop();
    }
}
