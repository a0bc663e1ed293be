//! The test harness: a real server (in this process) on a loopback port, on SQLite or on a
//! throwaway PostgreSQL, with workers and scheduler running, and an HTTP client.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use openwatch_core::library::Library as RuleLibrary;
use openwatch_server::serve::{self, Role};
use openwatch_server::{AppState, Config, Library, admin};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::watch;

pub const ADMIN_PASSWORD: &str = "correct-horse-battery-staple";

/// The repository's rule library and catalogs, read from the source tree.
pub fn library() -> Arc<Library> {
    static LIB: std::sync::OnceLock<Arc<Library>> = std::sync::OnceLock::new();
    LIB.get_or_init(|| {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut sources = Vec::new();
        let mut stack = vec![root.join("rules")];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "yml") {
                    sources.push((p.display().to_string(), std::fs::read_to_string(&p).unwrap()));
                }
            }
        }
        let lib = RuleLibrary::load(sources.iter().map(|(n, t)| (n.as_str(), t.as_str())));
        let errors: Vec<String> = lib.errors().map(|e| e.to_string()).take(5).collect();
        assert!(errors.is_empty(), "the rule library loads: {errors:?}");
        let mut catalogs = Vec::new();
        for e in std::fs::read_dir(root.join("catalogs")).unwrap() {
            let p = e.unwrap().path();
            let text = std::fs::read_to_string(&p).unwrap();
            catalogs.push(openwatch_core::catalog::Catalog::parse(&p.display().to_string(), &text).unwrap());
        }
        Arc::new(Library { rules: lib.rules.into(), catalogs })
    })
    .clone()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub base: String,
    pub state: AppState,
    pub client: reqwest::Client,
    pub csrf: String,
    stop: watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

pub fn database_url(backend: Backend, dir: &std::path::Path) -> String {
    match backend {
        Backend::Sqlite => format!("sqlite:{}", dir.join("openwatch.db").display()),
        Backend::Postgres => openwatch_testsupport::TestPostgres::shared()
            .expect("PostgreSQL for tests (install postgresql, or set OPENWATCH_SKIP_PG_TESTS=1)")
            .fresh_database()
            .unwrap(),
    }
}

pub fn skip(backend: Backend) -> bool {
    backend == Backend::Postgres && std::env::var_os("OPENWATCH_SKIP_PG_TESTS").is_some()
}

impl TestApp {
    pub async fn start(backend: Backend) -> TestApp {
        TestApp::start_with(backend, |_| {}).await
    }

    pub async fn start_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        // Bound first, so `tweak` knows the address (identity providers need it).
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let mut cfg = Config {
            listen: std_listener.local_addr().unwrap(),
            data_dir: dir.path().to_path_buf(),
            database_url: database_url(backend, dir.path()),
            scan_walks: false,
            register_localhost: false,
            worker_concurrency: 2,
            scheduler_tick_secs: 1,
            job_retry_base_secs: 1,
            adaptive_enabled: false,
            ..Config::default()
        };
        tweak(&mut cfg);
        let (state, stop) = serve::state(cfg, library(), Role::Serve).await.unwrap();
        admin::create_user(state.store(), "admin", "admin", ADMIN_PASSWORD).await.unwrap();
        let mut tasks = tokio::task::JoinSet::new();
        openwatch_server::worker::spawn(&state, state.config.worker_concurrency, &mut tasks);
        openwatch_server::worker::spawn_listener(&state, &mut tasks);
        openwatch_server::worker::scheduler::spawn(&state, &mut tasks);
        tokio::spawn(async move { while tasks.join_next().await.is_some() {} });
        let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = openwatch_server::api::app(state.clone())
            .into_make_service_with_connect_info::<std::net::SocketAddr>();
        let mut rx = state.shutdown.clone();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.changed().await;
                })
                .await
                .unwrap();
        });
        let client = reqwest::Client::builder().cookie_store(true).build().unwrap();
        let mut app = TestApp { base, state, client, csrf: String::new(), stop, _dir: dir };
        app.login("admin", ADMIN_PASSWORD).await;
        app
    }

    pub async fn login(&mut self, user: &str, password: &str) -> Value {
        let (status, body) = self
            .send(
                reqwest::Method::POST,
                "/api/v1/auth/login",
                Some(json!({"username": user, "password": password})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        self.csrf = body["csrf_token"].as_str().unwrap().to_owned();
        body
    }

    /// A request with the session cookie (and CSRF token on writes).
    pub async fn send(
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
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub async fn get(&self, path: &str) -> Value {
        let (status, body) = self.send(reqwest::Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    /// A bearer-token request with no cookies.
    pub async fn with_token(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req =
            reqwest::Client::new().request(method, format!("{}{path}", self.base)).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// A page's HTML, with the session (redirects followed, as a browser does).
    pub async fn page(&self, path: &str) -> (StatusCode, String) {
        let resp = self.client.get(format!("{}{path}", self.base)).send().await.unwrap();
        (resp.status(), resp.text().await.unwrap())
    }

    /// Post a web form with the session's CSRF token in it; the page it ends on.
    pub async fn form(&self, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
        let mut all = fields.to_vec();
        all.push(("_csrf", &self.csrf));
        let resp = self.client.post(format!("{}{path}", self.base)).form(&all).send().await.unwrap();
        (resp.status(), resp.text().await.unwrap())
    }

    /// A download with the session: status, `Content-Disposition` and body.
    pub async fn download(&self, path: &str) -> (StatusCode, String, String) {
        let resp = self.client.get(format!("{}{path}", self.base)).send().await.unwrap();
        let status = resp.status();
        let disposition = resp
            .headers()
            .get("content-disposition")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, disposition, resp.text().await.unwrap())
    }

    /// A binary download with the session: status, `Content-Type` and bytes.
    pub async fn download_bytes(&self, path: &str) -> (StatusCode, String, Vec<u8>) {
        let resp = self.client.get(format!("{}{path}", self.base)).send().await.unwrap();
        let status = resp.status();
        let kind =
            resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        (status, kind, resp.bytes().await.unwrap().to_vec())
    }

    /// Add a host through the API; its id.
    pub async fn host(&self, body: Value) -> i64 {
        let (s, h) = self.post("/api/v1/hosts", body).await;
        assert_eq!(s, StatusCode::CREATED, "{h}");
        h["id"].as_i64().unwrap()
    }

    /// Add this machine as a host (tagged `prod`, in group `lab`) and scan it: a real local
    /// scan by the real worker. The host's id and the finished scan.
    pub async fn scanned_local_host(&self, name: &str) -> (i64, Value) {
        let id =
            self.host(json!({"name": name, "transport": "local", "tags": ["prod"], "groups": ["lab"]})).await;
        let (s, q) = self.post(&format!("/api/v1/hosts/{id}/scans"), json!({})).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{q}");
        let scan = self.wait_scan(q["scan_id"].as_i64().unwrap()).await;
        assert_eq!(scan["status"], "succeeded", "{scan}");
        (id, scan)
    }

    /// Wait until a scan is no longer queued or running.
    pub async fn wait_scan(&self, id: i64) -> Value {
        for _ in 0..600 {
            let s = self.get(&format!("/api/v1/scans/{id}")).await;
            if s["status"] == "succeeded" || s["status"] == "failed" {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("scan {id} did not finish");
    }

    /// Wait until a report is drawn or failed; the report as the API shows it then.
    pub async fn wait_report(&self, id: i64) -> Value {
        for _ in 0..1200 {
            let r = self.get(&format!("/api/v1/reports/{id}")).await;
            if r["status"] == "succeeded" || r["status"] == "failed" {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("report {id} was not drawn");
    }

    /// Ask for a report and wait until it is drawn (it must succeed, every host read).
    pub async fn drawn_report(&self, ask: Value) -> Value {
        let (s, r) = self.post("/api/v1/reports", ask).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{r}");
        let r = self.wait_report(r["id"].as_i64().unwrap()).await;
        assert_eq!(r["status"], "succeeded", "{r}");
        assert_eq!(r["done"], r["total"], "{r}");
        r
    }

    /// The audit log's newest events as `action:outcome`.
    pub async fn audit_actions(&self) -> Vec<String> {
        self.get("/api/v1/audit/events?per_page=100").await["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| format!("{}:{}", e["action"].as_str().unwrap(), e["outcome"].as_str().unwrap()))
            .collect()
    }

    /// Run one SQL statement on the server's database, for what no request can do (a day
    /// passing); the rows it changed.
    pub async fn sql(&self, statement: &str) -> u64 {
        let url = &self.state.config.database_url;
        if url.starts_with("sqlite:") {
            let pool = sqlx::SqlitePool::connect(url).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(statement.to_owned()))
                .execute(&pool)
                .await
                .unwrap()
                .rows_affected()
        } else {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(statement.to_owned()))
                .execute(&pool)
                .await
                .unwrap()
                .rows_affected()
        }
    }

    pub async fn stop(self) {
        let _ = self.stop.send(true);
        self.state.jobs_queued.notify_waiters();
        self.state.events_stored.notify_waiters();
    }
}

/// The text a reader sees in a page: tags dropped, entities decoded, whitespace collapsed.
pub fn text(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    let out = out.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&amp;", "&");
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Define a test once, run it on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                ($body)(common::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if common::skip(common::Backend::Postgres) {
                    return;
                }
                ($body)(common::Backend::Postgres).await;
            }
        }
    };
}
