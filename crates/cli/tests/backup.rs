//! `openwatch backup` and `openwatch restore` against a real `openwatch serve` on SQLite:
//! a backup taken while the server runs (with its keys), restored into an empty data
//! directory, serves the same hosts, scan results and audit chain (`audit verify` passes);
//! a non-empty target, an existing database and a backup without keys are refused with a
//! clear message; PostgreSQL is pointed to its own tools.

mod common;

use std::time::{Duration, Instant};

use common::serve::{Api, Proc};
use common::*;
use serde_json::Value;

fn ok(out: &std::process::Output) -> String {
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    text
}

fn refused(out: &std::process::Output) -> String {
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "expected a refusal: {text}");
    text
}

/// What a server holds that a restore must keep: hosts, the latest scan's results, users.
async fn contents(api: &Api) -> (Vec<String>, Value, usize) {
    let hosts = api.get("/api/v1/hosts").await;
    let names =
        hosts["items"].as_array().unwrap().iter().map(|h| h["name"].as_str().unwrap().to_owned()).collect();
    let id = hosts["items"][0]["id"].as_i64().unwrap();
    let scans = api.get(&format!("/api/v1/scans?host_id={id}")).await;
    let scan = scans["items"][0]["id"].as_i64().unwrap();
    let results = api.get(&format!("/api/v1/scans/{scan}/results?per_page=500")).await;
    let users = api.get("/api/v1/users").await["items"].as_array().unwrap().len();
    (names, results["items"].clone(), users)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_restored_into_an_empty_directory_serves_the_same_data() {
    let dir = tempfile::tempdir().unwrap();
    let (data, restored, copy) =
        (dir.path().join("data"), dir.path().join("restored"), dir.path().join("backup"));
    let url = |d: &std::path::Path| format!("sqlite:{}", d.join("openwatch.db").display());
    let s = |p: &std::path::Path| p.to_str().unwrap().to_owned();
    // `openwatch` with these words, then the server options of data directory `d`.
    let ow = |words: &[&str], d: &std::path::Path| {
        let mut args: Vec<String> = words.iter().map(|w| (*w).to_owned()).collect();
        args.extend(["--data-dir".to_owned(), s(d), "--database-url".to_owned(), url(d)]);
        openwatch(&args.iter().map(String::as_str).collect::<Vec<_>>(), &[])
    };

    // A server that registered and scanned this machine.
    let serve = Proc::start("serve", &data, &url(&data), &[]);
    let api = Api::login(&serve.base).await;
    let t = Instant::now();
    let host = loop {
        let hosts = api.get("/api/v1/hosts").await;
        if let Some(h) = hosts["items"].as_array().and_then(|a| a.first()).cloned() {
            let scans = api.get(&format!("/api/v1/scans?host_id={}", h["id"])).await;
            if scans["items"][0]["status"] == "succeeded" {
                break h;
            }
        }
        assert!(t.elapsed() < Duration::from_secs(120), "the first scan never finished");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(host["name"], "localhost");
    let before = contents(&api).await;
    assert!(before.1.as_array().is_some_and(|r| r.len() > 50), "{}", before.1);

    // Backed up while it runs, keys included on request.
    let (copy_s, bare_s) = (s(&copy), s(&dir.path().join("bare")));
    let out = ok(&ow(&["backup", "--to", &copy_s, "--with-keys"], &data));
    assert!(out.contains("keys included"), "{out}");
    for f in ["openwatch.db", "credential.key", "audit.key", "manifest.json"] {
        assert!(copy.join(f).exists(), "{f}");
    }
    assert!(refused(&ow(&["backup", "--to", &copy_s, "--with-keys"], &data)).contains("is not empty"));
    serve.stop();

    // Restored into an empty data directory: the audit chain verifies with the restored key.
    let out = ok(&ow(&["restore", "--from", &copy_s], &restored));
    assert!(out.contains("audit log intact"), "{out}");
    let again = refused(&ow(&["restore", "--from", &copy_s], &restored));
    assert!(again.contains("exists: restore into an empty data directory"), "{again}");
    assert!(ok(&ow(&["audit", "verify"], &restored)).contains("audit log intact"));

    // And served: the same hosts, results and users.
    let serve =
        Proc::start("serve", &restored, &url(&restored), &[("OPENWATCH_REGISTER_LOCALHOST", "false")]);
    let api = Api::login(&serve.base).await;
    assert_eq!(contents(&api).await, before);
    let events = api.get("/api/v1/audit/events?action=system.restore").await;
    assert_eq!(events["items"].as_array().map(Vec::len), Some(1), "{events}");
    serve.stop();

    // A backup without keys cannot be restored where the keys are missing, and says so.
    assert!(ok(&ow(&["backup", "--to", &bare_s], &restored)).contains("keys NOT included"));
    let missing = refused(&ow(&["restore", "--from", &bare_s], &dir.path().join("empty")));
    assert!(missing.contains("the backup has no credential.key"), "{missing}");

    // PostgreSQL goes to its own tools.
    let pg =
        ["backup", "--to", &s(&dir.path().join("pg")), "--database-url", "postgres://ow@db.example.com/ow"];
    assert!(refused(&openwatch(&pg, &[])).contains("pg_dump"));
}
