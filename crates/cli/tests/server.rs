//! The server as a process: first start, restarts, scans of a real SSH host with key
//! approval and change tracking, and several worker processes sharing one PostgreSQL
//! (including one killed mid-scan).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::serve::{Api, Proc, backends, database};
use common::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_start_then_restart_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let db = database("sqlite", dir.path());
    let serve = Proc::start("serve", dir.path(), &db, &[]);
    let api = Api::login(&serve.base).await;
    let hosts = api.get("/api/v1/hosts").await;
    assert_eq!(hosts["items"][0]["name"], "localhost", "first start registers this machine");
    let scans = api.get("/api/v1/scans").await;
    let first = api.wait(scans["items"][0]["id"].as_i64().unwrap()).await;
    assert_eq!(
        (first["status"].as_str(), first["trigger"].as_str()),
        (Some("succeeded"), Some("first_start"))
    );
    let key = dir.path().join("credential.key");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&key).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    let db_file = dir.path().join("openwatch.db");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&db_file).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "the database is readable by its owner only");
    serve.stop();

    let serve = Proc::start("serve", dir.path(), &db, &[]);
    let api = Api::login(&serve.base).await;
    assert_eq!(
        api.get("/api/v1/scans").await["total"],
        1,
        "a restart loses nothing and re-bootstraps nothing"
    );
    assert_eq!(api.get("/api/v1/hosts").await["total"], 1);
    serve.stop();
    let verify = || {
        openwatch(
            &["audit", "verify", "--data-dir", dir.path().to_str().unwrap(), "--database-url", &db],
            &[],
        )
    };
    let out = verify();
    assert!(out.status.success(), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("intact"));

    // Someone edits the database behind the server's back: verify names the event.
    let pool = sqlx::SqlitePool::connect(&db).await.unwrap();
    sqlx::query("UPDATE audit_events SET actor = 'mallory' WHERE seq = 1").execute(&pool).await.unwrap();
    let out = verify();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("BROKEN at event 1"), "{}", text(&out.stdout));
    sqlx::query("UPDATE audit_events SET actor = 'admin' WHERE seq = 1").execute(&pool).await.unwrap();
    assert!(verify().status.success(), "restored");
    let last: i64 = sqlx::query_scalar("SELECT MAX(seq) FROM audit_events").fetch_one(&pool).await.unwrap();
    sqlx::query("DELETE FROM audit_events WHERE seq = $1").bind(last).execute(&pool).await.unwrap();
    let out = verify();
    assert_eq!(out.status.code(), Some(1), "a deleted newest event is found too: {}", text(&out.stdout));
}

/// (actor, action, target, outcome, source) of every audit event, oldest first.
async fn audit_rows(db: &str) -> Vec<[String; 5]> {
    let sql = "SELECT actor, action, target, outcome, source FROM audit_events ORDER BY seq";
    let row = |r: &dyn Fn(usize) -> String| [r(0), r(1), r(2), r(3), r(4)];
    if db.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(db).await.unwrap();
        let rows = sqlx::query(sql).fetch_all(&pool).await.unwrap();
        rows.iter().map(|r| row(&|i| sqlx::Row::get(r, i))).collect()
    } else {
        let pool = sqlx::PgPool::connect(db).await.unwrap();
        let rows = sqlx::query(sql).fetch_all(&pool).await.unwrap();
        rows.iter().map(|r| row(&|i| sqlx::Row::get(r, i))).collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_commands_are_audited_as_the_cli_user() {
    let user = nix::unistd::User::from_uid(nix::unistd::getuid()).unwrap().unwrap().name;
    let actor = format!("cli:{user}");
    for backend in backends() {
        let dir = tempfile::tempdir().unwrap();
        let db = database(backend, dir.path());
        let admin = |args: &[&str]| {
            let common = ["--data-dir", dir.path().to_str().unwrap(), "--database-url", &db];
            let args: Vec<&str> = ["admin"].iter().chain(args).chain(&common).copied().collect();
            openwatch(&args, &[("OPENWATCH_NEW_PASSWORD", "a-long-enough-password")])
        };
        assert!(admin(&["create-user", "bob", "--role", "auditor"]).status.success());
        assert!(admin(&["reset-password", "bob"]).status.success());
        assert!(admin(&["rotate-key"]).status.success());
        assert!(!admin(&["create-user", "bob"]).status.success(), "bob exists already");
        for key in ["credential.key", "audit.key"] {
            let meta = std::fs::metadata(dir.path().join(key)).unwrap();
            assert_eq!(std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777, 0o600, "{key}");
        }

        let want = [
            ("user.create", "user:bob", "success"),
            ("user.reset_password", "user:bob", "success"),
            ("credential.rotate_key", "credentials", "success"),
            ("user.create", "user:bob", "failure"),
        ];
        let got = audit_rows(&db).await;
        assert_eq!(got.len(), want.len(), "{backend}: {got:?}");
        for (row, (action, target, outcome)) in got.iter().zip(want) {
            assert_eq!(row, &[actor.as_str(), action, target, outcome, "cli"], "{backend}");
        }
        let out = openwatch(
            &["audit", "verify", "--data-dir", dir.path().to_str().unwrap(), "--database-url", &db],
            &[],
        );
        assert!(text(&out.stdout).contains("intact: 4 events"), "{backend}: {}", text(&out.stdout));
    }
}

fn host_key_line(root: &Path) -> String {
    std::fs::read_to_string(root.join("etc/ssh/ssh_host_ed25519_key.pub")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_host_key_approval_and_exactly_one_change() {
    if !fleet_available() {
        return;
    }
    for (i, backend) in backends().into_iter().enumerate() {
        let n = 121 + i as u32;
        let mut fleet = Fleet::new();
        let key = fleet.path("id_ed25519");
        keygen(&key, "ed25519", "");
        let pubkey = fleet.path("id_ed25519.pub");
        let root = fleet.up(n, |root| {
            authorize(root, "/root", 0, &pubkey);
            write(root, "/etc/ssh/sshd_config.d/05-test.conf", "MaxAuthTries 4\n");
        });
        let dir = tempfile::tempdir().unwrap();
        let db = database(backend, dir.path());
        let serve = Proc::start("serve", dir.path(), &db, &[("OPENWATCH_REGISTER_LOCALHOST", "false")]);
        let api = Api::login(&serve.base).await;
        let cred = api
            .post(
                "/api/v1/credentials",
                json!({"name": "root", "kind": "ssh_key", "username": "root", "secret": std::fs::read_to_string(&key).unwrap()}),
            )
            .await;
        let host = api
            .post(
                "/api/v1/hosts",
                json!({"name": format!("h{n}"), "address": addr(n), "credential_id": cred["id"]}),
            )
            .await;
        let id = host["id"].as_i64().unwrap();

        // First contact: the key waits for approval and the host says so.
        let s = api.scan(id).await;
        assert_eq!(
            (s["status"].as_str(), s["error_kind"].as_str()),
            (Some("failed"), Some("host_key_pending")),
            "{backend}: {s}"
        );
        let h = api.get(&format!("/api/v1/hosts/{id}")).await;
        assert_eq!(h["host"]["reachability"], "host_key_pending");
        let keys = h["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0]["status"], "pending");
        let expected = host_key_line(&root);
        let presented = keys[0]["public_key"].as_str().unwrap();
        assert!(
            expected.starts_with(presented.split_whitespace().take(2).collect::<Vec<_>>().join(" ").as_str()),
            "{presented}"
        );
        let test = api.post(&format!("/api/v1/hosts/{id}/test"), json!({})).await;
        assert_eq!(test["status"], "host_key_pending");
        api.post(&format!("/api/v1/hosts/{id}/keys/{}/approve", keys[0]["id"]), json!({})).await;
        let test = api.post(&format!("/api/v1/hosts/{id}/test"), json!({})).await;
        assert_eq!(test["status"], "ok", "{test}");

        // A host whose policy trusts the first key seen: scanned at once, and the trust is
        // in the audit log.
        let tofu = api
            .post(
                "/api/v1/hosts",
                json!({"name": format!("t{n}"), "address": addr(n), "credential_id": cred["id"], "host_key_policy": "accept_new"}),
            )
            .await;
        let st = api.scan(tofu["id"].as_i64().unwrap()).await;
        assert_eq!(st["status"], "succeeded", "{backend}: {st}");
        let trusted = api.get("/api/v1/audit/events?action=host.key_accept_new").await;
        let e = &trusted["items"][0];
        assert_eq!(
            (e["actor"].as_str(), e["target"].as_str()),
            (Some("system"), Some(format!("host:{}", tofu["id"]).as_str())),
            "{trusted}"
        );
        assert!(e["details"]["fingerprint"].as_str().is_some_and(|f| f.starts_with("SHA256:")), "{e}");

        let s1 = api.scan(id).await;
        assert_eq!(s1["status"], "succeeded", "{backend}: {s1}");
        let base =
            api.get(&format!("/api/v1/hosts/{id}/changes?per_page=1")).await["total"].as_i64().unwrap();
        let s2 = api.scan(id).await;
        assert_eq!(s2["status"], "succeeded");
        assert_eq!(
            api.get(&format!("/api/v1/hosts/{id}/changes?per_page=1")).await["total"],
            base,
            "nothing changed"
        );

        // One setting changes on the host: exactly one change is recorded.
        write(&root, "/etc/ssh/sshd_config.d/05-test.conf", "MaxAuthTries 6\n");
        let s3 = api.scan(id).await;
        assert_eq!(s3["status"], "succeeded");
        let changes = api.get(&format!("/api/v1/hosts/{id}/changes")).await;
        assert_eq!(changes["total"].as_i64().unwrap(), base + 1, "{backend}: {}", changes["items"][0]);
        let c = &changes["items"][0];
        assert_eq!(
            (c["rule_id"].as_str(), c["old_verdict"].as_str(), c["new_verdict"].as_str()),
            (Some("sshd_set_max_auth_tries"), Some("pass"), Some("fail"))
        );
        assert_eq!(c["scan_id"], s3["id"]);

        // The value changes again and the verdict does not: still one change, with the values.
        write(&root, "/etc/ssh/sshd_config.d/05-test.conf", "MaxAuthTries 8\n");
        assert_eq!(api.scan(id).await["status"], "succeeded");
        let changes = api.get(&format!("/api/v1/changes?host_id={id}")).await;
        assert_eq!(changes["total"].as_i64().unwrap(), base + 2, "{backend}: {}", changes["items"][0]);
        let c = &changes["items"][0];
        assert_eq!(
            (c["rule_id"].as_str(), c["old_verdict"].as_str(), c["new_verdict"].as_str()),
            (Some("sshd_set_max_auth_tries"), Some("fail"), Some("fail"))
        );
        assert!(
            c["values"].as_array().unwrap().iter().any(|v| v["before"] == "6" && v["after"] == "8"),
            "{backend}: {c}"
        );

        // A restart loses nothing.
        serve.stop();
        let serve = Proc::start("serve", dir.path(), &db, &[("OPENWATCH_REGISTER_LOCALHOST", "false")]);
        let api = Api::login(&serve.base).await;
        assert_eq!(
            api.get(&format!("/api/v1/hosts/{id}/changes?per_page=1")).await["total"].as_i64().unwrap(),
            base + 2
        );
        // The first contact, the scan the key approval queued, the trusting host's and four more.
        assert_eq!(api.get("/api/v1/scans").await["total"], 7);

        // The host comes back with a new key: scanning stops with a visible error.
        drop(fleet.up(n, |root| {
            authorize(root, "/root", 0, &pubkey);
        }));
        let s4 = api.scan(id).await;
        assert_eq!(
            (s4["status"].as_str(), s4["error_kind"].as_str()),
            (Some("failed"), Some("host_key_changed")),
            "{s4}"
        );
        assert!(s4["error_message"].as_str().unwrap().contains("CHANGED"));
        let h = api.get(&format!("/api/v1/hosts/{id}")).await;
        assert_eq!(h["host"]["reachability"], "host_key_changed");
        assert_eq!(h["keys"].as_array().unwrap().len(), 2, "the new key is recorded, pending approval");
        let summary = api.get("/api/v1/fleet/summary").await;
        assert_eq!(summary["needs_attention"][0]["name"], format!("h{n}"));
        serve.stop();
    }
}

fn psql(url: &str, sql: &str) -> String {
    text(&run(Command::new("psql").args(["-At", url, "-c", sql])).stdout).trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_share_a_postgres_queue_and_survive_a_kill() {
    if std::env::var_os("OPENWATCH_SKIP_PG_TESTS").is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = database("postgres", dir.path());
    // Long leases while 200 scans compete for two cores; short ones for the kill below, so the
    // killed worker's job is reaped quickly.
    let env = [("OPENWATCH_REGISTER_LOCALHOST", "false"), ("OPENWATCH_JOB_LEASE_SECS", "60")];
    let short = [("OPENWATCH_REGISTER_LOCALHOST", "false"), ("OPENWATCH_JOB_LEASE_SECS", "3")];
    // serve runs no workers of its own here: the two worker processes do all the scanning.
    let serve =
        Proc::start("serve", dir.path(), &db, &[&env[..], &[("OPENWATCH_WORKER_CONCURRENCY", "0")]].concat());
    let api = Api::login(&serve.base).await;
    let mut csv = String::from("name,transport,groups\n");
    for i in 0..200 {
        csv.push_str(&format!("local{i:03},local,all\n"));
    }
    let resp = api
        .client
        .post(format!("{}/api/v1/hosts/import", api.base))
        .header("x-csrf-token", &api.csrf)
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let workers: Vec<Proc> = (0..2)
        .map(|_| {
            Proc::start(
                "worker",
                dir.path(),
                &db,
                &[&env[..], &[("OPENWATCH_WORKER_CONCURRENCY", "3")]].concat(),
            )
        })
        .collect();
    let group = api.get("/api/v1/groups").await["items"][0]["id"].as_i64().unwrap();
    let queued = api.post(&format!("/api/v1/groups/{group}/scans"), json!({})).await;
    assert_eq!(queued["scan_ids"].as_array().unwrap().len(), 200);
    let t = Instant::now();
    loop {
        let done = api.get("/api/v1/scans?status=succeeded&per_page=1").await["total"].as_i64().unwrap();
        if done == 200 {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(600), "only {done} of 200 scans finished");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!("200 scans by 2 worker processes in {:.1} s", t.elapsed().as_secs_f64());
    assert_eq!(psql(&db, "SELECT COUNT(*) FROM jobs WHERE kind = 'scan' AND status = 'done'"), "200");
    assert_eq!(
        psql(&db, "SELECT COUNT(*) FROM jobs WHERE kind = 'scan' AND attempts <> 1"),
        "0",
        "each job ran exactly once"
    );
    let rules = psql(&db, "SELECT COUNT(*) FROM scan_results WHERE scan_id = (SELECT MIN(id) FROM scans)");
    assert_eq!(
        psql(&db, "SELECT COUNT(*) FROM scan_results"),
        (rules.parse::<i64>().unwrap() * 200).to_string()
    );
    let per_process =
        psql(&db, "SELECT COUNT(DISTINCT regexp_replace(locked_by, '-w[0-9]+$', '')) FROM jobs");
    assert_eq!(per_process, "2", "both worker processes took jobs");
    drop(workers);

    // A worker killed mid-scan: its lease runs out, the job is retried by another worker.
    let slow =
        Proc::start("worker", dir.path(), &db, &[&short[..], &[("OPENWATCH_SCAN_WALKS", "true")]].concat());
    let q = api.post("/api/v1/hosts/1/scans", json!({})).await;
    let scan = q["scan_id"].as_i64().unwrap();
    let t = Instant::now();
    while api.get(&format!("/api/v1/scans/{scan}")).await["status"] != "running" {
        assert!(t.elapsed() < Duration::from_secs(60), "the slow worker never started the scan");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let owner = psql(&db, &format!("SELECT locked_by FROM jobs WHERE scan_id = {scan}"));
    assert!(owner.contains(&format!("-{}-", slow.pid())), "{owner}");
    run(Command::new("kill").args(["-KILL", &slow.pid().to_string()]));
    drop(slow);
    let _rescuer = Proc::start("worker", dir.path(), &db, &short);
    let s = api.wait(scan).await;
    assert_eq!(s["status"], "succeeded", "{s}");
    assert_eq!(
        psql(&db, &format!("SELECT attempts FROM jobs WHERE scan_id = {scan}")),
        "2",
        "retried, not lost"
    );
    serve.stop();
}

#[test]
fn https_with_secure_host_cookies() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    run(Command::new("openssl").args([
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=localhost",
        "-keyout",
        key.to_str().unwrap(),
        "-out",
        cert.to_str().unwrap(),
    ]));
    let db = database("sqlite", dir.path());
    let serve = Proc::start(
        "serve",
        dir.path(),
        &db,
        &[("OPENWATCH_TLS_CERT", cert.to_str().unwrap()), ("OPENWATCH_TLS_KEY", key.to_str().unwrap())],
    );
    assert!(serve.base.starts_with("https://"), "{}", serve.base);
    let health = run(Command::new("curl").args(["-sSk", &format!("{}/healthz", serve.base)]));
    assert_eq!(text(&health.stdout), "ok\n");
    let login = run(Command::new("curl").args([
        "-sSki",
        "-H",
        "content-type: application/json",
        "-d",
        &format!("{{\"username\":\"admin\",\"password\":\"{}\"}}", common::serve::ADMIN_PASSWORD),
        &format!("{}/api/v1/auth/login", serve.base),
    ]));
    let head = text(&login.stdout).to_lowercase();
    let cookie = head.lines().find(|l| l.starts_with("set-cookie:")).expect("a session cookie");
    for part in ["__host-openwatch_session=", "httponly", "samesite=strict", "secure", "path=/"] {
        assert!(cookie.contains(part), "{part} in {cookie}");
    }
    assert!(head.contains("content-security-policy: default-src 'self'"));
    let plain = Command::new("curl")
        .args(["-sS", &format!("{}/healthz", serve.base.replace("https", "http"))])
        .output()
        .unwrap();
    assert!(!text(&plain.stdout).contains("ok"), "no plain HTTP on the TLS port");
    serve.stop();
}
