//! `openwatch serve` and `openwatch worker` as processes, and a signed-in API client for them.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::run;

/// The first admin's password in every server these tests start.
pub const ADMIN_PASSWORD: &str = "server-test-password";

/// A running `openwatch serve` or `openwatch worker`; killed when dropped.
pub struct Proc {
    pub child: Child,
    pub base: String,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    pub fn start(cmd: &str, data: &Path, db: &str, env: &[(&str, &str)]) -> Proc {
        let mut child = Command::new(env!("CARGO_BIN_EXE_openwatch"))
            .args([
                cmd,
                "--listen",
                "127.0.0.1:0",
                "--data-dir",
                data.to_str().unwrap(),
                "--database-url",
                db,
            ])
            .env("OPENWATCH_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("OPENWATCH_SCAN_WALKS", "false")
            .env("OPENWATCH_SCHEDULER_TICK_SECS", "1")
            .env("OPENWATCH_JOB_RETRY_BASE_SECS", "1")
            .env("OPENWATCH_ADAPTIVE_ENABLED", "false")
            .env("OPENWATCH_LOG", "warn,sqlx=error")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("openwatch starts");
        let mut base = String::new();
        if cmd == "serve" {
            let mut out = BufReader::new(child.stdout.take().unwrap());
            let mut line = String::new();
            while out.read_line(&mut line).unwrap() > 0 {
                if let Some(url) = line.trim().strip_prefix("OpenWatch listening on ") {
                    base = url.to_owned();
                    break;
                }
                line.clear();
            }
            assert!(!base.is_empty(), "serve printed its address");
        }
        Proc { child, base }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM and wait: the graceful path.
    pub fn stop(mut self) {
        run(Command::new("kill").args(["-TERM", &self.child.id().to_string()]));
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(40) {
            if self.child.try_wait().unwrap().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the process did not stop on SIGTERM");
    }
}

pub struct Api {
    pub base: String,
    pub client: reqwest::Client,
    pub csrf: String,
}

impl Api {
    pub async fn login(base: &str) -> Api {
        Api::login_as(base, "admin", ADMIN_PASSWORD).await
    }

    pub async fn login_as(base: &str, user: &str, password: &str) -> Api {
        let client = reqwest::Client::builder().cookie_store(true).build().unwrap();
        let r: Value = client
            .post(format!("{base}/api/v1/auth/login"))
            .json(&json!({"username": user, "password": password}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        Api {
            base: base.to_owned(),
            client,
            csrf: r["csrf_token"].as_str().unwrap_or_else(|| panic!("signed in: {r}")).to_owned(),
        }
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req =
            self.client.request(method, format!("{}{path}", self.base)).header("x-csrf-token", &self.csrf);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> Value {
        let (s, b) = self.call(reqwest::Method::GET, path, None).await;
        assert_eq!(s, StatusCode::OK, "{path}: {b}");
        b
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        let (s, b) = self.call(reqwest::Method::POST, path, Some(body)).await;
        assert!(s.is_success(), "{path}: {s} {b}");
        b
    }

    pub async fn scan(&self, host: i64) -> Value {
        let q = self.post(&format!("/api/v1/hosts/{host}/scans"), json!({})).await;
        self.wait(q["scan_id"].as_i64().unwrap()).await
    }

    pub async fn wait(&self, scan: i64) -> Value {
        let t = Instant::now();
        loop {
            let s = self.get(&format!("/api/v1/scans/{scan}")).await;
            if s["status"] == "succeeded" || s["status"] == "failed" {
                return s;
            }
            assert!(t.elapsed() < Duration::from_secs(180), "scan {scan} stuck: {s}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// The backends a server test runs on: SQLite, and PostgreSQL unless
/// OPENWATCH_SKIP_PG_TESTS is set.
pub fn backends() -> Vec<&'static str> {
    if std::env::var_os("OPENWATCH_SKIP_PG_TESTS").is_some() {
        vec!["sqlite"]
    } else {
        vec!["sqlite", "postgres"]
    }
}

/// A fresh database of `backend` (a file in `dir` for SQLite).
pub fn database(backend: &str, dir: &Path) -> String {
    match backend {
        "postgres" => openwatch_testsupport::TestPostgres::shared().unwrap().fresh_database().unwrap(),
        _ => format!("sqlite:{}", dir.join("openwatch.db").display()),
    }
}

impl Api {
    /// A root-login SSH key credential and a host at test host `n` using it (its first key
    /// trusted); the host's id.
    pub async fn root_host(&self, name: &str, n: u32, key: &Path) -> i64 {
        let cred = self
            .post(
                "/api/v1/credentials",
                json!({"name": format!("{name}-root"), "kind": "ssh_key", "username": "root",
                    "secret": std::fs::read_to_string(key).unwrap()}),
            )
            .await;
        let host = self
            .post(
                "/api/v1/hosts",
                json!({"name": name, "address": super::addr(n), "credential_id": cred["id"],
                    "host_key_policy": "accept_new"}),
            )
            .await;
        host["id"].as_i64().unwrap()
    }
}
