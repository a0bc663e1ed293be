//! Alerts from a real host to real receivers, through `openwatch serve` as a process on both
//! backends: a setting changes on an SSH test host, the rescan raises a new-failure alert,
//! and it reaches a signed webhook (whose receiver fails the first attempt) and an SMTP
//! server with the value before and after. The server is killed (SIGKILL) between the failed
//! first attempt and its retry, and restarted on the same database: nothing is lost and
//! nothing is sent twice.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::serve::{Api, Proc, backends, database};
use common::*;
use openwatch_testsupport::receivers;
use serde_json::{Value, json};

const HOOK_SECRET: &str = "e2e-hook-secret-71c3";
const SMTP_USER: &str = "alerts";
const SMTP_PASSWORD: &str = "e2e-smtp-password-5d0a";

/// Wait until `done` holds, for at most 45 s (less than a job lease).
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let t = Instant::now();
    while !done() {
        assert!(t.elapsed() < Duration::from_secs(45), "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_setting_reaches_webhook_and_mail_once_across_a_kill() {
    if !fleet_available() {
        return;
    }
    for (i, backend) in backends().into_iter().enumerate() {
        let n = 182 + i as u32;
        let (mut fleet, key) = Fleet::with_key();
        let root =
            fleet.up_root(n, |root| write(root, "/etc/ssh/sshd_config.d/05-test.conf", "MaxAuthTries 4\n"));
        let dir = tempfile::tempdir().unwrap();
        let db = database(backend, dir.path());
        // Retries wait 5 s: time enough to kill the server between the two attempts. Leases
        // keep their default (60 s): a job the killed server held is taken back as soon as
        // the restarted one sees the dead process's lock free (`instances`), not after it.
        let env = [("OPENWATCH_REGISTER_LOCALHOST", "false"), ("OPENWATCH_JOB_RETRY_BASE_SECS", "5")];
        let serve = Proc::start("serve", dir.path(), &db, &env);
        let api = Api::login(&serve.base).await;
        let id = api.root_host(&format!("e2e-{n}"), n, &key).await;
        let s = api.scan(id).await;
        assert_eq!(s["status"], "succeeded", "{backend}: {s}");

        // Channels and the rule come after the baseline, so only what changes is reported.
        let (hook_url, hook) = receivers::http(1);
        let (port, mails) = receivers::smtp(SMTP_USER, SMTP_PASSWORD);
        api.post(
            "/api/v1/channels",
            json!({"name": "ops-hook", "kind": "webhook", "settings": {"url": hook_url}, "secret": HOOK_SECRET}),
        )
        .await;
        api.post(
            "/api/v1/channels",
            json!({"name": "ops-mail", "kind": "email", "secret": SMTP_PASSWORD, "settings": {
                "host": "127.0.0.1", "port": port, "security": "plain", "username": SMTP_USER,
                "from": "OpenWatch <openwatch@example.test>", "to": ["ops@example.test"]}}),
        )
        .await;
        api.post(
            "/api/v1/alert-rules",
            json!({"name": "new failures", "kind": "new_failure", "params": {"min_severity": "low"}}),
        )
        .await;

        write(&root, "/etc/ssh/sshd_config.d/05-test.conf", "MaxAuthTries 6\n");
        let s = api.scan(id).await;
        assert_eq!(s["status"], "succeeded", "{backend}: {s}");

        // The first webhook attempt is refused; the server dies before the retry.
        until("the first webhook attempt", || !hook.seen.lock().unwrap().is_empty()).await;
        run(Command::new("kill").args(["-KILL", &serve.pid().to_string()]));
        drop(serve);
        let serve = Proc::start("serve", dir.path(), &db, &env);
        let api = Api::login(&serve.base).await;
        until("the webhook retry", || hook.seen.lock().unwrap().len() >= 2).await;
        until("the mail", || !mails.lock().unwrap().is_empty()).await;
        let t = Instant::now();
        loop {
            let d = api.get("/api/v1/deliveries").await;
            let items = d["items"].as_array().unwrap();
            if items.len() == 2 && items.iter().all(|d| d["status"] == "delivered") {
                break;
            }
            assert!(t.elapsed() < Duration::from_secs(60), "{backend}: deliveries not settled: {d}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // A later scheduler tick or worker pass must not send anything again.
        tokio::time::sleep(Duration::from_secs(8)).await;

        let seen = hook.seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 2, "{backend}: one refused attempt and one accepted retry");
        assert_eq!(seen[0].header("x-openwatch-delivery"), seen[1].header("x-openwatch-delivery"));
        for s in &seen {
            assert!(s.signed_with(HOOK_SECRET), "{backend}: {:?}", s.headers);
            assert!(!s.signed_with("not-the-secret"));
        }
        let body: Value = serde_json::from_slice(&seen[1].body).unwrap();
        assert_eq!(body["kind"], "new_failure", "{body}");
        let failures = body["details"]["failures"].as_array().unwrap();
        assert_eq!(failures.len(), 1, "{backend}: only the changed rule: {body}");
        assert_eq!(failures[0]["rule_id"], "sshd_set_max_auth_tries");
        let values = failures[0]["values"].as_array().unwrap();
        assert!(
            values.iter().any(|v| v["before"] == "4" && v["after"] == "6"),
            "{backend}: the value before and after: {values:?}"
        );

        let mails = mails.lock().unwrap().clone();
        assert_eq!(mails.len(), 1, "{backend}: one mail");
        let m = &mails[0];
        assert_eq!(m.authenticated_as.as_deref(), Some(SMTP_USER));
        // The text part is quoted-printable: join its soft line breaks.
        let text = m.data.replace("=\r\n", "").replace("=\n", "");
        assert!(text.contains("sshd_set_max_auth_tries"), "{text}");
        assert!(text.contains("sshd -T: 4 -> 6"), "{backend}: before/after in the text body: {text}");
        assert!(m.data.contains("Content-Type: text/html"), "{}", m.data);

        let alerts = api.get("/api/v1/alerts").await;
        assert_eq!(alerts["total"], 1, "{backend}: {alerts}");
        serve.stop();
    }
}
