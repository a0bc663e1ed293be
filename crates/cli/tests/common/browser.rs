//! Real headless Chromium driving a real `openwatch serve`, for the browser tests. Each test
//! gets its own server (own data directory and port), chromedriver and browser profile;
//! dropping the [`Browser`] stops them.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// The bootstrap admin's password in every browser test.
pub const PASSWORD: &str = "web-test-password";

/// A child process killed when dropped (also when the test panics).
pub struct Kill(pub Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn shots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/e2e-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub struct Browser {
    pub c: Client,
    /// `http://127.0.0.1:PORT`, the server's address.
    pub base: String,
    _serve: Kill,
    _driver: Kill,
    _profile: tempfile::TempDir,
    _data: tempfile::TempDir,
}

impl Browser {
    /// Start a server (extra environment in `env`), chromedriver and a Chromium session.
    pub async fn start(env: &[(&str, &str)]) -> Browser {
        let data = tempfile::tempdir().unwrap();
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let serve = Kill(
            Command::new(env!("CARGO_BIN_EXE_openwatch"))
                .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
                .arg(data.path())
                .env("OPENWATCH_ADMIN_PASSWORD", PASSWORD)
                .env("OPENWATCH_REGISTER_LOCALHOST", "false")
                .env("OPENWATCH_SCAN_WALKS", "false")
                .env("OPENWATCH_LOG", "warn")
                .envs(env.iter().copied())
                .stdout(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let driver_port = free_port();
        let driver = Kill(
            Command::new("chromedriver")
                .arg(format!("--port={driver_port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("chromedriver (scripts/install-test-deps installs chromium and its driver)"),
        );
        let t = Instant::now();
        while !(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            && std::net::TcpStream::connect(("127.0.0.1", driver_port)).is_ok())
        {
            assert!(t.elapsed() < Duration::from_secs(30), "the server or chromedriver never listened");
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::tempdir().unwrap();
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({"binary": "/usr/bin/chromium", "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1366,900", format!("--user-data-dir={}", profile.path().display())]}),
        );
        let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{driver_port}"))
            .await
            .expect("a Chromium session");
        Browser { c, base, _serve: serve, _driver: driver, _profile: profile, _data: data }
    }

    /// Open a page by its path (`/hosts`) or full URL.
    pub async fn goto(&self, path: &str) {
        let url = if path.starts_with("http") { path.to_owned() } else { format!("{}{path}", self.base) };
        self.c.goto(&url).await.unwrap();
    }

    /// The current path.
    pub async fn path(&self) -> String {
        self.c.current_url().await.unwrap().path().to_owned()
    }

    pub async fn shot(&self, name: &str) {
        let png = self.c.screenshot().await.unwrap();
        std::fs::write(shots().join(format!("{name}.png")), png).unwrap();
    }

    /// The main content's text, once the page (perhaps still loading after a form post) settles.
    pub async fn text(&self) -> String {
        let t = Instant::now();
        loop {
            let ready = self.c.execute("return document.readyState", vec![]).await.ok();
            if ready.as_ref().and_then(|r| r.as_str()) == Some("complete")
                && let Ok(main) = self.c.find(Locator::Css("main")).await
                && let Ok(text) = main.text().await
            {
                return text;
            }
            assert!(t.elapsed() < Duration::from_secs(15), "the page never settled");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The text of the first element matching `css`.
    pub async fn text_of(&self, css: &str) -> String {
        self.c.find(Locator::Css(css)).await.unwrap().text().await.unwrap()
    }

    /// Reload `path` until the main content contains `needle`.
    pub async fn until(&self, path: &str, needle: &str) -> String {
        let t = Instant::now();
        loop {
            self.goto(path).await;
            let body = self.text().await;
            if body.contains(needle) {
                return body;
            }
            assert!(t.elapsed() < Duration::from_secs(90), "{path} never showed {needle:?}:\n{body}");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    pub async fn fill(&self, css: &str, value: &str) {
        let e = self.c.find(Locator::Css(css)).await.unwrap();
        e.clear().await.unwrap();
        e.send_keys(value).await.unwrap();
    }

    pub async fn select(&self, css: &str, value: &str) {
        self.c.find(Locator::Css(css)).await.unwrap().select_by_value(value).await.unwrap();
    }

    pub async fn click(&self, css: &str) {
        self.c.find(Locator::Css(css)).await.unwrap().click().await.unwrap();
    }

    /// Click a button that submits a form and wait until the next page has loaded. Confirm
    /// dialogs (`onsubmit=confirm(...)`) are accepted.
    pub async fn submit(&self, css: &str) {
        self.c.execute("window.__owMarker = true; window.confirm = () => true", vec![]).await.unwrap();
        self.click(css).await;
        let t = Instant::now();
        loop {
            let state = self
                .c
                .execute(
                    "return window.__owMarker === undefined && document.readyState === 'complete'",
                    vec![],
                )
                .await
                .ok()
                .and_then(|v| v.as_bool());
            if state == Some(true) {
                return;
            }
            assert!(t.elapsed() < Duration::from_secs(30), "{css}: the next page never loaded");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn sign_in(&self, user: &str, password: &str) {
        self.goto("/").await;
        assert_eq!(self.path().await, "/login", "signed-out visitors land on the login form");
        self.fill("#username", user).await;
        self.fill("#password", password).await;
        self.submit("button[type=submit]").await;
        // Wait for the answer: a page away from the form, or the form again with its message.
        let t = Instant::now();
        while self.path().await == "/login" && !self.text().await.contains("Invalid") {
            assert!(t.elapsed() < Duration::from_secs(15), "no answer to the sign-in");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// An API client signed in as the bootstrap admin, with its CSRF token.
    pub async fn api(&self) -> (reqwest::Client, String) {
        let api = reqwest::Client::builder().cookie_store(true).build().unwrap();
        let login: Value = api
            .post(format!("{}/api/v1/auth/login", self.base))
            .json(&json!({"username": "admin", "password": PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (api, login["csrf_token"].as_str().unwrap().to_owned())
    }
}

/// The API as the bootstrap admin, beside the browser (setting up what a test does not
/// click through).
pub struct AdminApi {
    pub base: String,
    pub client: reqwest::Client,
    pub csrf: String,
}

impl Browser {
    pub async fn admin_api(&self) -> AdminApi {
        let (client, csrf) = self.api().await;
        AdminApi { base: self.base.clone(), client, csrf }
    }
}

impl AdminApi {
    /// A call that must succeed; its JSON body (null when it has none).
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let mut req =
            self.client.request(method, format!("{}{path}", self.base)).header("x-csrf-token", &self.csrf);
        if !body.is_null() {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {v}");
        v
    }

    /// A GET's body as text (downloads).
    pub async fn text(&self, path: &str) -> String {
        let resp = self.client.get(format!("{}{path}", self.base)).send().await.unwrap();
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        resp.text().await.unwrap()
    }

    /// Wait until a scan is no longer queued or running.
    pub async fn wait_scan(&self, id: i64) -> Value {
        let t = Instant::now();
        loop {
            let s = self.call(reqwest::Method::GET, &format!("/api/v1/scans/{id}"), Value::Null).await;
            if s["status"] == "succeeded" || s["status"] == "failed" {
                return s;
            }
            assert!(t.elapsed() < Duration::from_secs(180), "scan {id} stuck: {s}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Queue a scan of a host and wait for it.
    pub async fn scan(&self, host: i64) -> Value {
        let q = self.call(reqwest::Method::POST, &format!("/api/v1/hosts/{host}/scans"), json!({})).await;
        self.wait_scan(q["scan_id"].as_i64().unwrap()).await
    }
}
