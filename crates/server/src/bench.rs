//! `openwatch bench-server`: generated fleet data at scale, to measure the result ingest
//! rate and the latency of the API's heaviest reads on either backend.
//!
//! It loads `hosts` hosts, ingests one full scan of `rules` results each through the real
//! path (queue, claim, complete), seeds `days` days of history (posture points, change log,
//! fleet trend), then times `GET /api/v1/fleet/summary` and `GET /api/v1/hosts?page=N`
//! through the real router (authorization, store, JSON) with a bearer token, and the web
//! UI's dashboard, host list and host page with a session cookie.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use axum::body::Body;
use axum::http::Request;
use openwatch_core::eval::Status;
use openwatch_store::{
    HostInput, NewToken, NewUser, PageRequest, Posture, ResultInput, ScanOutcome, ScanRequest, SeedChange,
    SeedHistory, TrendPoint,
};
use serde_json::json;
use tower::ServiceExt as _;

use crate::app::{AppState, Library, now_ms};
use crate::auth::secret::{random_token, token_hash};
use crate::config::Config;
use crate::serve::{self, Role};
use crate::worker::scan::posture_rows;
use openwatch_core::report::PlatformInfo;

#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub hosts: usize,
    pub rules: usize,
    pub days: i64,
    /// Ingesting tasks at once (workers finishing scans concurrently).
    pub concurrency: usize,
    /// Timed requests per endpoint.
    pub requests: usize,
}

/// A small deterministic generator (64-bit LCG), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

const VERDICTS: &[Status] = &[
    Status::Pass,
    Status::Pass,
    Status::Pass,
    Status::Fail,
    Status::Fail,
    Status::NotApplicable,
    Status::Error,
];

/// One host's generated results and the posture they make.
fn results(lib: &Library, n: usize, host: usize, rng: &mut Rng) -> (Vec<ResultInput>, Vec<Posture>) {
    let mut verdicts = Vec::with_capacity(n);
    let results = lib
        .rules
        .iter()
        .cycle()
        .take(n)
        .enumerate()
        .map(|(i, r)| {
            let status = VERDICTS[rng.below(VERDICTS.len() as u64) as usize];
            verdicts.push((&r.raw.references, status));
            let verdict = status.as_str();
            let id = if i < lib.rules.len() { r.id().to_owned() } else { format!("{}_{i}", r.id()) };
            // Evidence repeats across hosts as it does in real fleets (same files, same values).
            let evidence = json!([{"method": "config_value", "source": format!("/etc/{id}.conf:1"),
                "expected": "== 1", "actual": format!("{verdict} {}", host % 7), "observed": "setting = 1",
                "truncated": false}]);
            ResultInput {
                rule_id: id,
                verdict: status,
                severity: r.raw.severity,
                reason: format!("{} is {verdict}", r.id()),
                evidence: Some(evidence.to_string()),
                exception_id: None,
            }
        })
        .collect();
    // The benchmark's fleet is Debian 12, as the test fleet is.
    let debian = PlatformInfo {
        family: Some("debian".into()),
        version: Some("12".into()),
        id: Some("debian".into()),
        id_like: Vec::new(),
        pretty_name: None,
    };
    (results, posture_rows(lib, &debian, &Default::default(), verdicts))
}

/// Time one GET; `auth` is a bearer token, or a session cookie when it starts with `Cookie:`.
async fn time_get(app: &axum::Router, auth: &str, uri: &str) -> Result<Duration> {
    let req = match auth.strip_prefix("Cookie:") {
        Some(cookie) => Request::get(uri).header("cookie", cookie),
        None => Request::get(uri).header("authorization", format!("Bearer {auth}")),
    };
    let req = req.body(Body::empty())?;
    let t = Instant::now();
    let resp = app.clone().oneshot(req).await?;
    let status = resp.status();
    axum::body::to_bytes(resp.into_body(), usize::MAX).await?;
    anyhow::ensure!(status.is_success(), "GET {uri}: {status}");
    Ok(t.elapsed())
}

/// Run the benchmark on the database `cfg` names; prints figures as it goes.
pub async fn run(cfg: Config, library: Arc<Library>, o: &BenchOptions) -> Result<()> {
    let (state, _stop) = serve::state(cfg, library.clone(), Role::Worker).await?;
    let store = state.store();
    anyhow::ensure!(store.count_users().await? == 0, "bench-server needs an empty database");
    println!(
        "backend: {}, {} hosts x {} rules, {} days of history",
        store.backend(),
        o.hosts,
        o.rules,
        o.days
    );

    let t = Instant::now();
    for i in 0..o.hosts {
        store
            .create_host(
                &HostInput {
                    name: format!("host{i:05}.example.net"),
                    address: format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256),
                    port: 22,
                    username: "root".into(),
                    transport: openwatch_store::Transport::Ssh,
                    credential_id: None,
                    sudo: false,
                    tags: vec![if i % 3 == 0 { "prod" } else { "dev" }.into()],
                    groups: vec![format!("group{}", i % 20)],
                    maintenance: false,
                    host_key_policy: openwatch_store::HostKeyPolicy::Approve,
                },
                now_ms(),
            )
            .await?;
    }
    println!("hosts created: {:.1} s", t.elapsed().as_secs_f64());

    let t = Instant::now();
    let mut scan_ids = Vec::with_capacity(o.hosts);
    for h in 1..=o.hosts as i64 {
        let req = ScanRequest { host_id: h, trigger: "bench".into(), triggered_by: None, max_attempts: 1 };
        scan_ids.push(store.queue_scan(&req, now_ms()).await?.id);
    }
    println!("scans queued: {:.1} s", t.elapsed().as_secs_f64());

    // Ingest: N tasks claim and complete scans with generated results.
    let t = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..o.concurrency.max(1) {
        let state: AppState = state.clone();
        let (rules, hosts) = (o.rules, o.hosts);
        tasks.spawn(async move {
            let mut rng = Rng(w as u64 + 1);
            let worker = format!("bench-{w}");
            let mut n = 0usize;
            while let Some(job) = state.store().claim(&worker, &["scan"], 600_000, now_ms()).await? {
                let host = job.host_id.context("scan job without host")?;
                let (r, posture) = results(&state.library, rules, host as usize % hosts, &mut rng);
                let outcome = ScanOutcome {
                    scan_id: job.scan_id.context("scan job without scan")?,
                    host_id: host,
                    finished_at: now_ms(),
                    platform: Some("debian 12".into()),
                    stats: json!({"round_trips": 1}),
                    summary: json!({}),
                    posture,
                    results: r,
                };
                state.store().complete_scan(&job, &worker, &outcome).await?.context("lease lost")?;
                n += rules;
            }
            anyhow::Ok(n)
        });
    }
    let mut ingested = 0;
    while let Some(r) = tasks.join_next().await {
        ingested += r??;
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "ingest: {ingested} results in {secs:.1} s = {:.0} results/s ({} concurrent writers; target > 50,000)",
        ingested as f64 / secs,
        o.concurrency
    );

    // History: posture per day, a few changes per host per day, the fleet trend.
    let t = Instant::now();
    let day_ms = 86_400_000;
    let now = now_ms();
    let mut rng = Rng(99);
    let rule_ids: Vec<String> = library.rules.iter().map(|r| r.id().to_owned()).collect();
    let frameworks: Vec<String> = library.frameworks().map(str::to_owned).collect();
    for chunk in (1..=o.hosts as i64).collect::<Vec<_>>().chunks(500) {
        let mut h = SeedHistory::default();
        for host in chunk {
            for d in 1..=o.days {
                let at = now - d * day_ms;
                for fw in &frameworks {
                    let pass = 60 + rng.below(40) as i64;
                    h.posture.push((
                        *host,
                        at,
                        Posture {
                            framework: fw.clone(),
                            pass,
                            fail: 100 - pass,
                            error: 1,
                            not_applicable: 20,
                            excepted: 0,
                        },
                    ));
                }
                for _ in 0..2 {
                    let flip = rng.below(2) == 0;
                    h.changes.push(SeedChange {
                        host_id: *host,
                        rule_id: rule_ids[rng.below(rule_ids.len() as u64) as usize].clone(),
                        old_verdict: if flip { Status::Pass } else { Status::Fail },
                        new_verdict: if flip { Status::Fail } else { Status::Pass },
                        severity: openwatch_core::rule::Severity::Medium,
                        changed_at: at,
                    });
                }
            }
        }
        store.seed_history(&h).await?;
    }
    let today = now.div_euclid(day_ms);
    let trend = (1..=o.days)
        .flat_map(|d| {
            frameworks.iter().map(move |fw| TrendPoint {
                day: today - d,
                framework: fw.clone(),
                hosts: o.hosts as i64,
                pass: 70 * o.hosts as i64,
                fail: 30 * o.hosts as i64,
                excepted: 0,
            })
        })
        .collect();
    store.seed_history(&SeedHistory { trend, ..Default::default() }).await?;
    store.roll_up_trend(now).await?;
    println!("history seeded: {:.1} s", t.elapsed().as_secs_f64());

    // Reads through the real router with a bearer token.
    let hash = crate::auth::secret::hash_password(&random_token(""))?;
    let user = store
        .create_user(&NewUser { username: "bench".into(), password_hash: hash, role: "admin".into() }, now)
        .await?;
    let token = random_token(crate::auth::TOKEN_PREFIX);
    store
        .create_token(
            &NewToken {
                user_id: user.id,
                name: "bench".into(),
                role: "admin".into(),
                token_hash: token_hash(&token),
                expires_at: None,
            },
            now,
        )
        .await?;
    let app = crate::api::app(state.clone());
    let pages = (o.hosts as u64).div_ceil(50).max(1);
    let total = store.list_hosts(&Default::default(), PageRequest::new(None, Some(1))).await?.total;
    anyhow::ensure!(total == o.hosts as i64, "expected {} hosts, found {total}", o.hosts);
    for _ in 0..10 {
        time_get(&app, &token, "/api/v1/fleet/summary").await?;
    }
    let mut summary = Vec::new();
    for _ in 0..o.requests {
        summary.push(time_get(&app, &token, "/api/v1/fleet/summary").await?);
    }
    let mut hosts = Vec::new();
    for _ in 0..o.requests {
        let page = rng.below(pages) + 1;
        hosts.push(time_get(&app, &token, &format!("/api/v1/hosts?page={page}&per_page=50")).await?);
    }
    let mut sorted_by_failures = Vec::new();
    for _ in 0..o.requests {
        let page = rng.below(pages) + 1;
        sorted_by_failures.push(
            time_get(&app, &token, &format!("/api/v1/hosts?page={page}&per_page=50&sort=-failures")).await?,
        );
    }
    // Web pages, as a signed-in browser gets them (session cookie).
    let session = random_token(crate::auth::SESSION_PREFIX);
    store
        .create_session(&openwatch_store::Session {
            id_hash: token_hash(&session),
            user_id: user.id,
            csrf_token: random_token(""),
            created_at: now,
            last_seen_at: now_ms(),
            expires_at: now_ms() + 3_600_000,
            stage: openwatch_store::SessionStage::Full,
            method: openwatch_store::SignInMethod::Password,
            provider: None,
            second_factor_at: None,
            source: "127.0.0.1".into(),
        })
        .await?;
    let cookie = format!("Cookie:{}={session}", crate::auth::SESSION_COOKIE);
    let mut dashboard = Vec::new();
    let mut host_list = Vec::new();
    let mut host_page = Vec::new();
    let mut control_page = Vec::new();
    for _ in 0..o.requests.min(100) {
        control_page.push(time_get(&app, &cookie, "/frameworks/cis_debian12/controls/5.1.16").await?);
        dashboard.push(time_get(&app, &cookie, "/").await?);
        let page = rng.below(pages) + 1;
        host_list.push(time_get(&app, &cookie, &format!("/hosts?page={page}")).await?);
        let host = rng.below(o.hosts as u64) + 1;
        host_page.push(time_get(&app, &cookie, &format!("/hosts/{host}")).await?);
    }
    for (name, mut v) in [
        ("GET /api/v1/fleet/summary", summary),
        ("GET /api/v1/hosts?page=N&per_page=50", hosts),
        ("GET /api/v1/hosts?page=N&per_page=50&sort=-failures", sorted_by_failures),
        ("web GET / (dashboard)", dashboard),
        ("web GET /hosts?page=N", host_list),
        ("web GET /hosts/ID (all rules with evidence)", host_page),
        ("web GET /frameworks/F/controls/C (verdicts across the fleet)", control_page),
    ] {
        v.sort();
        println!(
            "{name}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms over {} requests",
            percentile(&v, 0.5),
            percentile(&v, 0.99),
            percentile(&v, 1.0),
            v.len()
        );
    }
    Ok(())
}
