//! Notification channels end to end, on both backends, with real receivers started on
//! loopback (`openwatch_testsupport::receivers`): an HTTP server that records what it is sent
//! (and answers 500 when told to), and an SMTP server that records what it accepts.

mod common;

use std::time::Duration;

use openwatch_server::serve::{self, Role};
use openwatch_server::service::notify::{self, MAX_ATTEMPTS, Message};
use openwatch_server::{AppState, Config};
use openwatch_store::{ChannelKind, Delivery, DeliveryStatus, NewChannel};
use openwatch_testsupport::receivers;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use common::TestApp;

const HOOK_SECRET: &str = "hook-signing-secret-4b1d";
const SMTP_USER: &str = "mailer";
const SMTP_PASSWORD: &str = "smtp-password-9f2e";

fn message(key: &str) -> Message {
    Message {
        dedup_key: key.into(),
        subject: "web-01: sshd MaxAuthTries 4 -> 10".into(),
        text: "web-01 now fails sshd_max_auth_tries: MaxAuthTries 4 -> 10".into(),
        html: "<p>web-01 now fails <code>sshd_max_auth_tries</code>: MaxAuthTries 4 &rarr; 10</p>".into(),
        payload: json!({"event": "rule.failed", "host": "web-01", "rule": "sshd_max_auth_tries", "before": "4", "after": "10"}),
    }
}

/// Wait until a delivery is no longer queued.
async fn settled(state: &AppState, id: i64) -> Delivery {
    for _ in 0..900 {
        let d = state.store().delivery(id).await.unwrap().unwrap();
        if d.status != DeliveryStatus::Queued {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("delivery {id} was not settled");
}

async fn create(app: &TestApp, body: Value) -> Value {
    let (s, c) = app.post("/api/v1/channels", body).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    c
}

/// Fails the first request, so the webhook is retried: the receiver sees the same delivery
/// id twice, each body signed with the channel's secret (checked here with an independent
/// HMAC), and the second answer ends it; both attempts are recorded. The Slack channel gets
/// `{"text": ...}` at its secret URL. The same message queued again is not sent again.
async fn webhook_and_slack(backend: common::Backend) {
    let app = TestApp::start(backend).await;
    let (hook_url, hook) = receivers::http(1);
    let (slack_url, slack) = receivers::http(0);
    let slack_url = format!("{slack_url}/T000/B000/XXXX");
    let w = create(
        &app,
        json!({"name": "ops-hook", "kind": "webhook", "settings": {"url": hook_url}, "secret": HOOK_SECRET}),
    )
    .await;
    let s = create(&app, json!({"name": "ops-slack", "kind": "slack", "secret": slack_url})).await;
    assert_eq!((w["has_secret"].clone(), s["has_secret"].clone()), (json!(true), json!(true)));

    let now = openwatch_server::app::now_ms();
    let queued = notify::queue(app.state.store(), &message("change:1:sshd"), now).await.unwrap();
    assert_eq!(queued.len(), 2, "one delivery per enabled channel");
    for d in &queued {
        assert_eq!(settled(&app.state, d.id).await.status, DeliveryStatus::Delivered);
    }
    let again = notify::queue(app.state.store(), &message("change:1:sshd"), now).await.unwrap();
    assert!(again.is_empty(), "the same dedup key is not queued twice: {again:?}");

    let hooked = queued.iter().find(|d| d.channel_kind == ChannelKind::Webhook).unwrap();
    let seen = hook.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "a failed first attempt and the retry");
    for s in &seen {
        assert!(s.signed_with(HOOK_SECRET), "{:?}", s.headers);
        assert!(!s.signed_with("some-other-secret"));
        assert_eq!(s.headers["x-openwatch-delivery"].to_str().unwrap(), hooked.id.to_string());
        let body: Value = serde_json::from_slice(&s.body).unwrap();
        assert_eq!(body, message("x").payload);
    }
    let slack_seen = slack.seen.lock().unwrap().clone();
    assert_eq!(slack_seen.len(), 1);
    assert_eq!(
        serde_json::from_slice::<Value>(&slack_seen[0].body).unwrap(),
        json!({"text": message("x").text})
    );

    let list = app.get(&format!("/api/v1/deliveries?channel_id={}", w["id"])).await;
    assert_eq!(list["total"], 1, "{list}");
    let d = &list["items"][0];
    assert_eq!(d["status"], "delivered");
    assert_eq!(d["attempts"], 2);
    let log: Vec<(String, String)> = d["attempt_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["outcome"].as_str().unwrap().to_owned(), a["detail"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(log, [("failed".into(), "HTTP 500".into()), ("delivered".into(), "HTTP 200".into())]);

    // Secrets are write-only: in no response, delivery or audit event.
    let mut seen_text = String::new();
    for path in [
        "/api/v1/channels".to_owned(),
        format!("/api/v1/channels/{}", w["id"]),
        format!("/api/v1/channels/{}", s["id"]),
        "/api/v1/deliveries".to_owned(),
        "/api/v1/audit/events?per_page=200".to_owned(),
    ] {
        seen_text.push_str(&app.get(&path).await.to_string());
    }
    seen_text.push_str(&w.to_string());
    seen_text.push_str(&s.to_string());
    assert!(!seen_text.contains(HOOK_SECRET) && !seen_text.contains("T000/B000"), "a secret leaked");
    assert!(seen_text.contains("channel.create"), "channel changes are audited");

    // An update without a secret keeps the stored one.
    let (st, u) = app
        .send(
            Method::PUT,
            &format!("/api/v1/channels/{}", w["id"]),
            Some(json!({"name": "ops-hook", "kind": "webhook", "settings": {"url": hook_url}, "enabled": false})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{u}");
    assert_eq!((u["enabled"].clone(), u["has_secret"].clone()), (json!(false), json!(true)));
    let later = notify::queue(app.state.store(), &message("change:2:sshd"), now).await.unwrap();
    assert_eq!(later.len(), 1, "a disabled channel gets nothing: {later:?}");

    // Channels are for admins and security admins only.
    openwatch_server::admin::create_user(app.state.store(), "viewer", "viewer", common::ADMIN_PASSWORD)
        .await
        .unwrap();
    let mut app = app;
    app.login("viewer", common::ADMIN_PASSWORD).await;
    let (st, body) = app.send(Method::GET, "/api/v1/channels", None).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "forbidden", "the one error envelope: {body}");
    app.stop().await;
}

both_backends!(webhook_retries_signed_and_slack_text, webhook_and_slack);

/// The test button of an email channel: a multipart/alternative mail (plain text and HTML)
/// to every recipient, through a real SMTP server that requires authentication.
async fn email_test_message(backend: common::Backend) {
    let app = TestApp::start(backend).await;
    let (port, mails) = receivers::smtp(SMTP_USER, SMTP_PASSWORD);
    let c = create(
        &app,
        json!({"name": "ops-mail", "kind": "email", "secret": SMTP_PASSWORD, "settings": {
            "host": "127.0.0.1", "port": port, "security": "plain", "username": SMTP_USER,
            "from": "OpenWatch <openwatch@example.test>", "to": ["ops@example.test", "sec@example.test"]}}),
    )
    .await;
    let (st, d) = app.post(&format!("/api/v1/channels/{}/test", c["id"]), json!({})).await;
    assert_eq!(st, StatusCode::ACCEPTED, "{d}");
    let d = settled(&app.state, d["id"].as_i64().unwrap()).await;
    assert_eq!(d.status, DeliveryStatus::Delivered, "{:?}", d.last_error);
    assert!(d.attempt_log[0].detail.starts_with("SMTP 250"), "{:?}", d.attempt_log);

    let mails = mails.lock().unwrap().clone();
    assert_eq!(mails.len(), 1);
    let m = &mails[0];
    assert_eq!(m.authenticated_as.as_deref(), Some(SMTP_USER));
    assert_eq!(m.to, ["ops@example.test", "sec@example.test"]);
    assert!(m.data.contains("multipart/alternative"), "{}", m.data);
    assert!(m.data.contains("Content-Type: text/plain") && m.data.contains("Content-Type: text/html"));
    assert!(m.data.contains("Subject: OpenWatch test message (ops-mail)"), "{}", m.data);
    assert!(m.data.contains("This is a test message from OpenWatch"), "{}", m.data);

    let audit = app.get("/api/v1/audit/events?action=channel.test").await;
    assert_eq!(audit["total"], 1, "the test send is audited: {audit}");
    assert!(!audit.to_string().contains(SMTP_PASSWORD));
    app.stop().await;
}

both_backends!(email_test_button_sends_multipart_mail, email_test_message);

/// A CA and a server certificate it issued for 127.0.0.1 (openssl): (CA PEM, leaf PEM, leaf key PEM).
fn internal_ca(dir: &std::path::Path) -> (String, Vec<u8>, Vec<u8>) {
    let p = |n: &str| dir.join(n).to_str().unwrap().to_owned();
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl").args(args).output().expect("openssl runs");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    openssl(
        &[
            &["req", "-x509"][..],
            &ec,
            &["-days", "1", "-subj", "/CN=OpenWatch test CA", "-keyout", &p("ca.key"), "-out", &p("ca.pem")],
        ]
        .concat(),
    );
    openssl(
        &[&["req"][..], &ec, &["-subj", "/CN=127.0.0.1", "-keyout", &p("leaf.key"), "-out", &p("leaf.csr")]]
            .concat(),
    );
    std::fs::write(
        dir.join("ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        &p("leaf.csr"),
        "-CA",
        &p("ca.pem"),
        "-CAkey",
        &p("ca.key"),
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        &p("ext"),
        "-out",
        &p("leaf.pem"),
    ]);
    let read = |n: &str| std::fs::read(dir.join(n)).unwrap();
    (String::from_utf8(read("ca.pem")).unwrap(), read("leaf.pem"), read("leaf.key"))
}

/// Email over STARTTLS to a relay whose certificate an internal CA issued: delivered when
/// the channel trusts that CA (the password goes only over TLS: the server refuses AUTH
/// before it), refused with a certificate error when it does not; a CA on a plain channel is
/// refused.
async fn email_starttls(backend: common::Backend) {
    let app = TestApp::start_with(backend, |c| c.job_retry_base_secs = 0).await;
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = internal_ca(dir.path());
    let (port, mails) = receivers::smtp_starttls(SMTP_USER, SMTP_PASSWORD, &cert, &key);
    let settings = |ca: Option<&str>, security: &str| {
        let mut s = json!({"host": "127.0.0.1", "port": port, "security": security, "username": SMTP_USER,
            "from": "openwatch@example.test", "to": ["ops@example.test"]});
        if let Some(ca) = ca {
            s["ca_pem"] = json!(ca);
        }
        s
    };
    let (st, e) = app
        .post("/api/v1/channels", json!({"name": "x", "kind": "email", "secret": SMTP_PASSWORD, "settings": settings(Some(&ca), "plain")}))
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let trusted = create(&app, json!({"name": "tls-mail", "kind": "email", "secret": SMTP_PASSWORD, "settings": settings(Some(&ca), "starttls")})).await;
    let (_, d) = app.post(&format!("/api/v1/channels/{}/test", trusted["id"]), json!({})).await;
    let d = settled(&app.state, d["id"].as_i64().unwrap()).await;
    assert_eq!(d.status, DeliveryStatus::Delivered, "{:?}", d.attempt_log);
    let got = mails.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].authenticated_as.as_deref(), Some(SMTP_USER), "authenticated, after STARTTLS");

    let untrusted = create(&app, json!({"name": "no-ca", "kind": "email", "secret": SMTP_PASSWORD, "settings": settings(None, "starttls")})).await;
    let (_, d) = app.post(&format!("/api/v1/channels/{}/test", untrusted["id"]), json!({})).await;
    let d = settled(&app.state, d["id"].as_i64().unwrap()).await;
    assert_eq!(d.status, DeliveryStatus::Dead);
    assert!(
        d.attempt_log.iter().all(|a| a.detail.to_lowercase().contains("certificate")),
        "{:?}",
        d.attempt_log
    );
    assert_eq!(mails.lock().unwrap().len(), 1, "nothing sent to a relay that is not trusted");
    app.stop().await;
}

both_backends!(email_over_starttls_trusts_only_the_named_ca, email_starttls);

/// Email over implicit TLS (`security: "tls"`, SMTPS) to a relay speaking TLS from its first
/// byte, certified by an internal CA: delivered and authenticated when the channel trusts
/// that CA, refused with a certificate error when it does not.
async fn email_tls(backend: common::Backend) {
    let app = TestApp::start_with(backend, |c| c.job_retry_base_secs = 0).await;
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = internal_ca(dir.path());
    let (port, mails) = receivers::smtp_tls(SMTP_USER, SMTP_PASSWORD, &cert, &key);
    let settings = |ca: Option<&str>, security: &str| {
        let mut s = json!({"host": "127.0.0.1", "port": port, "security": security, "username": SMTP_USER,
            "from": "openwatch@example.test", "to": ["ops@example.test"]});
        if let Some(ca) = ca {
            s["ca_pem"] = json!(ca);
        }
        s
    };
    let send = |name: &'static str, settings: Value| {
        let app = &app;
        async move {
            let c = create(
                app,
                json!({"name": name, "kind": "email", "secret": SMTP_PASSWORD, "settings": settings}),
            )
            .await;
            let (st, d) = app.post(&format!("/api/v1/channels/{}/test", c["id"]), json!({})).await;
            assert_eq!(st, StatusCode::ACCEPTED, "{d}");
            settled(&app.state, d["id"].as_i64().unwrap()).await
        }
    };
    let d = send("tls-mail", settings(Some(&ca), "tls")).await;
    assert_eq!(d.status, DeliveryStatus::Delivered, "{:?}", d.attempt_log);
    assert!(d.attempt_log[0].detail.starts_with("SMTP 250"), "{:?}", d.attempt_log);
    let got = mails.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].authenticated_as.as_deref(), Some(SMTP_USER), "authenticated, over TLS");
    assert!(got[0].data.contains("Subject: OpenWatch test message (tls-mail)"), "{}", got[0].data);

    let d = send("no-ca", settings(None, "tls")).await;
    assert_eq!(d.status, DeliveryStatus::Dead);
    assert!(
        d.attempt_log.iter().all(|a| a.detail.to_lowercase().contains("certificate")),
        "{:?}",
        d.attempt_log
    );
    assert_eq!(mails.lock().unwrap().len(), 1, "nothing sent to a relay that is not trusted");
    app.stop().await;
}

both_backends!(email_over_implicit_tls_trusts_only_the_named_ca, email_tls);

/// A receiver that always fails: every attempt is made and recorded, then the delivery is
/// dead (a dead letter) and no further attempt comes.
async fn dead_letter(backend: common::Backend) {
    let app = TestApp::start_with(backend, |c| c.job_retry_base_secs = 0).await;
    let (url, hook) = receivers::http(usize::MAX);
    create(&app, json!({"name": "down", "kind": "webhook", "settings": {"url": url}, "secret": HOOK_SECRET}))
        .await;
    let queued = notify::queue(app.state.store(), &message("change:9"), openwatch_server::app::now_ms())
        .await
        .unwrap();
    let d = settled(&app.state, queued[0].id).await;
    assert_eq!(d.status, DeliveryStatus::Dead);
    assert_eq!(d.attempts, MAX_ATTEMPTS);
    assert_eq!(d.attempt_log.len() as i64, MAX_ATTEMPTS);
    assert!(d.attempt_log.iter().all(|a| a.detail == "HTTP 500"), "{:?}", d.attempt_log);
    assert_eq!(hook.seen.lock().unwrap().len() as i64, MAX_ATTEMPTS);
    let dead = app.get("/api/v1/deliveries?status=dead").await;
    assert_eq!(dead["total"], 1, "{dead}");
    app.stop().await;
}

both_backends!(a_delivery_failing_every_attempt_ends_dead, dead_letter);

fn config(url: &str, dir: &std::path::Path, workers: usize) -> Config {
    Config {
        data_dir: dir.to_path_buf(),
        database_url: url.to_owned(),
        scan_walks: false,
        register_localhost: false,
        worker_concurrency: workers,
        scheduler_tick_secs: 1,
        job_retry_base_secs: 1,
        adaptive_enabled: false,
        ..Config::default()
    }
}

/// A message queued by a server with no workers survives its stop (and a credential key
/// rotation): the next server on the same database delivers it, once, signed with the
/// channel's secret, and does not queue it again.
async fn restart(backend: common::Backend) {
    let dir = tempfile::tempdir().unwrap();
    let url = common::database_url(backend, dir.path());
    let (hook_url, hook) = receivers::http(0);
    let (first, stop_first) =
        serve::state(config(&url, dir.path(), 0), common::library(), Role::Serve).await.unwrap();
    let channel = NewChannel {
        name: "ops-hook".into(),
        kind: ChannelKind::Webhook,
        settings: json!({"url": hook_url}),
        sealed_secret: Some(first.key.seal(HOOK_SECRET.as_bytes()).unwrap()),
        enabled: true,
    };
    first.store().create_channel(&channel, 1).await.unwrap();
    let queued =
        notify::queue(first.store(), &message("change:3"), openwatch_server::app::now_ms()).await.unwrap();
    assert_eq!(queued.len(), 1);
    // Key rotation re-seals channel secrets with credentials (the next process opens them).
    first.store().rotate_credential_key(2).await.unwrap();
    stop_first.send(true).unwrap();
    drop(first);

    let (second, stop_second) =
        serve::state(config(&url, dir.path(), 2), common::library(), Role::Serve).await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    openwatch_server::worker::spawn(&second, 2, &mut tasks);
    let d = settled(&second, queued[0].id).await;
    assert_eq!(d.status, DeliveryStatus::Delivered);
    assert_eq!(d.attempts, 1);
    let again =
        notify::queue(second.store(), &message("change:3"), openwatch_server::app::now_ms()).await.unwrap();
    assert!(again.is_empty());
    stop_second.send(true).unwrap();
    second.jobs_queued.notify_waiters();
    while tasks.join_next().await.is_some() {}
    let seen = hook.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "delivered exactly once");
    assert_eq!(seen[0].headers["x-openwatch-delivery"].to_str().unwrap(), queued[0].id.to_string());
    assert!(seen[0].signed_with(HOOK_SECRET), "{:?}", seen[0].headers);
}

both_backends!(a_delivery_queued_before_a_restart_is_sent_once, restart);

/// The administration page: add a channel with the form, press its Test button, and see the
/// delivery with its attempt; the secret typed in is never shown back.
async fn admin_page(backend: common::Backend) {
    let app = TestApp::start(backend).await;
    let (_, admin) = app.page("/admin").await;
    assert!(admin.contains("href=\"/admin/channels\""), "the administration page links to the channels");
    let (url, hook) = receivers::http(0);
    let (st, html) = app
        .form(
            "/admin/channels",
            &[("name", "page-hook"), ("kind", "webhook"), ("url", &url), ("secret", HOOK_SECRET)],
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let text = common::text(&html);
    assert!(text.contains("Channel page-hook added") && text.contains(&url), "{text}");
    let id = app.get("/api/v1/channels").await["items"][0]["id"].as_i64().unwrap();
    let (st, html) = app.form(&format!("/admin/channels/{id}/test"), &[]).await;
    assert_eq!(st, StatusCode::OK);
    assert!(common::text(&html).contains("Test message queued to page-hook"), "{html}");
    let delivery = app.get("/api/v1/deliveries").await["items"][0]["id"].as_i64().unwrap();
    assert_eq!(settled(&app.state, delivery).await.status, DeliveryStatus::Delivered);
    assert_eq!(hook.seen.lock().unwrap().len(), 1);
    let (st, html) = app.page("/admin/channels").await;
    assert_eq!(st, StatusCode::OK);
    let text = common::text(&html);
    assert!(text.contains("delivered") && text.contains("HTTP 200"), "{text}");
    assert!(!html.contains(HOOK_SECRET));
    let (st, html) =
        app.form("/admin/channels", &[("name", "bad"), ("kind", "webhook"), ("url", "ftp://x")]).await;
    assert_eq!(st, StatusCode::OK);
    assert!(common::text(&html).contains("settings.url: must be an http:// or https:// URL"), "{html}");
    app.stop().await;
}

both_backends!(the_admin_page_adds_tests_and_lists_channels, admin_page);

/// A worker that dies holding a delivery's last attempt: the reaper fails the job and the
/// delivery with it (dead, the loss recorded), so nothing waits forever on a job that is gone.
async fn lost_last_attempt(backend: common::Backend) {
    let dir = tempfile::tempdir().unwrap();
    let url = common::database_url(backend, dir.path());
    let (state, _stop) =
        serve::state(config(&url, dir.path(), 0), common::library(), Role::Serve).await.unwrap();
    let store = state.store();
    let channel = NewChannel {
        name: "hook".into(),
        kind: ChannelKind::Webhook,
        settings: json!({"url": "http://127.0.0.1:9/hook"}),
        sealed_secret: Some(state.key.seal(HOOK_SECRET.as_bytes()).unwrap()),
        enabled: true,
    };
    store.create_channel(&channel, 1).await.unwrap();
    let queued = store.queue_deliveries(&message("change:4"), None, 1, 10).await.unwrap();
    let job = store.claim("doomed-worker", &["deliver"], 1_000, 20).await.unwrap().unwrap();
    assert_eq!(job.payload["delivery_id"], queued[0].id);
    assert_eq!(store.reap(2_000).await.unwrap(), 1);
    let d = store.delivery(queued[0].id).await.unwrap().unwrap();
    assert_eq!((d.status, d.attempts, d.attempt_log.len()), (DeliveryStatus::Dead, 1, 1));
    assert!(d.last_error.unwrap().contains("stopped renewing its lease"));
}

both_backends!(a_delivery_whose_worker_died_on_the_last_attempt_is_dead, lost_last_attempt);

/// After a credential key rotation this process still holds the old key: a delivery whose
/// secret no longer opens fails its attempts with the reason (no secret in it) and ends dead,
/// instead of a job failing out of sight.
async fn unopenable_secret(backend: common::Backend) {
    let app = TestApp::start_with(backend, |c| c.job_retry_base_secs = 0).await;
    let (url, hook) = receivers::http(0);
    create(&app, json!({"name": "hook", "kind": "webhook", "settings": {"url": url}, "secret": HOOK_SECRET}))
        .await;
    app.state.store().rotate_credential_key(openwatch_server::app::now_ms()).await.unwrap();
    let queued = notify::queue(app.state.store(), &message("change:5"), openwatch_server::app::now_ms())
        .await
        .unwrap();
    let d = settled(&app.state, queued[0].id).await;
    assert_eq!((d.status, d.attempts), (DeliveryStatus::Dead, MAX_ATTEMPTS));
    assert!(
        d.attempt_log.iter().all(|a| a.detail.contains("channel:1:secret does not decrypt")),
        "{:?}",
        d.attempt_log
    );
    assert!(!format!("{d:?}").contains(HOOK_SECRET));
    assert!(hook.seen.lock().unwrap().is_empty());
    app.stop().await;
}

both_backends!(a_secret_that_no_longer_opens_fails_visibly, unopenable_secret);
