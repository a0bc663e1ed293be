//! `openwatch bench-alerts`: alert evaluation and fan-out at fleet scale. `hosts` hosts get a
//! baseline scan, then one cycle of scans in which `changed` of them start failing a rule;
//! a `new_failure` rule and a webhook channel (created through the API) pointing at a
//! receiver on loopback are in place. The real workers then run every `alerts` job (one per
//! scan) and every `deliver` job; the figures are the evaluation time, the time until the
//! receiver has every message, and the deliveries per second.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use axum::body::Body;
use axum::http::Request;
use openwatch_core::eval::Status;
use openwatch_store::{
    AlertKind, AlertQuery, HostInput, NewAlertRule, NewToken, NewUser, PageRequest, ResultInput, ScanOutcome,
    ScanRequest,
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
pub struct AlertBenchOptions {
    pub hosts: usize,
    /// Hosts that start failing a rule in the measured cycle.
    pub changed: usize,
    pub rules: usize,
    /// Ingesting writers, and workers running the alert and delivery jobs.
    pub concurrency: usize,
}

/// One host's results: every rule passes, except the first one on a changed host.
fn results(lib: &Library, rules: usize, failing: bool) -> (Vec<ResultInput>, Vec<openwatch_store::Posture>) {
    let mut verdicts = Vec::with_capacity(rules);
    let results = lib
        .rules
        .iter()
        .take(rules)
        .enumerate()
        .map(|(i, r)| {
            let fail = failing && i == 0;
            let verdict = if fail { Status::Fail } else { Status::Pass };
            verdicts.push((&r.raw.references, verdict));
            let actual = if fail { "10" } else { "4" };
            ResultInput {
                rule_id: r.id().to_owned(),
                verdict,
                severity: r.raw.severity,
                reason: format!("{} is {}", r.id(), verdict.as_str()),
                evidence: Some(
                    json!([{"method": "config_value", "source": format!("/etc/{}.conf:1", r.id()), "actual": actual}])
                        .to_string(),
                ),
                exception_id: None,
            }
        })
        .collect();
    let debian = PlatformInfo {
        family: Some("debian".into()),
        version: Some("12".into()),
        id: Some("debian".into()),
        id_like: Vec::new(),
        pretty_name: None,
    };
    (results, posture_rows(lib, &debian, &Default::default(), verdicts))
}

/// Queue a scan of every host and complete them all with `concurrency` writers; hosts with an
/// id up to `changed` fail the first rule.
async fn scan_all(state: &AppState, o: &AlertBenchOptions, changed: usize) -> Result<f64> {
    let store = state.store();
    for h in 1..=o.hosts as i64 {
        let req = ScanRequest { host_id: h, trigger: "bench".into(), triggered_by: None, max_attempts: 1 };
        store.queue_scan(&req, now_ms()).await?;
    }
    let t = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..o.concurrency.max(1) {
        let state = state.clone();
        let rules = o.rules;
        tasks.spawn(async move {
            let worker = format!("bench-{w}");
            while let Some(job) = state.store().claim(&worker, &["scan"], 600_000, now_ms()).await? {
                let host = job.host_id.context("scan job without host")?;
                let (r, posture) = results(&state.library, rules, host as usize <= changed);
                let outcome = ScanOutcome {
                    scan_id: job.scan_id.context("scan job without scan")?,
                    host_id: host,
                    finished_at: now_ms(),
                    platform: Some("debian 12".into()),
                    stats: json!({}),
                    summary: json!({}),
                    posture,
                    results: r,
                };
                state.store().complete_scan(&job, &worker, &outcome).await?.context("lease lost")?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    Ok(t.elapsed().as_secs_f64())
}

/// Run the benchmark on the database `cfg` names; prints figures as it goes.
pub async fn run(cfg: Config, library: Arc<Library>, o: &AlertBenchOptions) -> Result<()> {
    let (state, stop) = serve::state(cfg, library.clone(), Role::Worker).await?;
    let store = state.store();
    anyhow::ensure!(store.count_users().await? == 0, "bench-alerts needs an empty database");
    println!(
        "backend: {}, {} hosts x {} rules, {} start failing a rule",
        store.backend(),
        o.hosts,
        o.rules,
        o.changed
    );

    // The receiver: counts the webhook deliveries it accepts.
    let received = Arc::new(AtomicUsize::new(0));
    let counter = received.clone();
    let receiver = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let c = counter.clone();
            async move {
                c.fetch_add(1, Ordering::Relaxed);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let hook = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, receiver).await });

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
                    tags: Vec::new(),
                    groups: vec![format!("group{}", i % 20)],
                    maintenance: false,
                    host_key_policy: openwatch_store::HostKeyPolicy::Approve,
                },
                now_ms(),
            )
            .await?;
    }
    println!("hosts created: {:.1} s", t.elapsed().as_secs_f64());
    let secs = scan_all(&state, o, 0).await?;
    println!("baseline scans ingested: {secs:.1} s");

    // A webhook channel through the API, as an administrator would add it; the alert rule.
    let now = now_ms();
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
    let body =
        json!({"name": "bench", "kind": "webhook", "settings": {"url": hook}, "secret": random_token("")});
    let req = Request::post("/api/v1/channels")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))?;
    let resp = crate::api::app(state.clone()).oneshot(req).await?;
    anyhow::ensure!(resp.status().is_success(), "creating the webhook channel: {}", resp.status());
    store
        .create_alert_rule(
            &NewAlertRule {
                name: "new failures".into(),
                kind: AlertKind::NewFailure,
                params: json!({"min_severity": "low"}),
                quiet_secs: 3600,
                enabled: true,
            },
            now,
        )
        .await?;
    // The baseline's alerts jobs (nothing changed there) are not part of the cycle measured.
    drain_alerts(&state, o.concurrency).await?;
    println!("baseline alert jobs run (nothing to raise)");

    let secs = scan_all(&state, o, o.changed).await?;
    println!("cycle ingested: {} scans, {} with a new failure, in {secs:.1} s", o.hosts, o.changed);
    // Evaluation: every scan's alerts job (the deliveries they queue wait).
    let t = Instant::now();
    drain_alerts(&state, o.concurrency).await?;
    let evaluated = t.elapsed().as_secs_f64();
    let alerts_q = AlertQuery { kind: Some(AlertKind::NewFailure), ..AlertQuery::default() };
    let raised = store.list_alerts(&alerts_q, PageRequest::new(None, Some(1))).await?.total;
    println!(
        "alert evaluation: {} scans looked at, {raised} alerts raised and their messages queued in {evaluated:.1} s = {:.0} scans/s",
        o.hosts,
        o.hosts as f64 / evaluated
    );
    // Fan-out: the real workers send every delivery to the receiver.
    let t = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    crate::worker::spawn(&state, o.concurrency.max(1), &mut tasks);
    while received.load(Ordering::Relaxed) < raised as usize {
        anyhow::ensure!(t.elapsed() < Duration::from_secs(1800), "not every message arrived in 30 minutes");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sent = t.elapsed().as_secs_f64();
    let _ = stop.send(true);
    state.jobs_queued.notify_waiters();
    while tasks.join_next().await.is_some() {}
    let got = received.load(Ordering::Relaxed);
    println!(
        "fan-out: {got} signed webhook deliveries received in {sent:.1} s = {:.0} deliveries/s ({} workers)",
        got as f64 / sent,
        o.concurrency
    );
    println!("total from the end of the cycle's ingest to the last message: {:.1} s", evaluated + sent);
    Ok(())
}

/// Run every queued `alerts` job with `n` tasks; the deliveries they queue wait.
async fn drain_alerts(state: &AppState, n: usize) -> Result<()> {
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..n.max(1) {
        let state = state.clone();
        tasks.spawn(async move {
            let worker = format!("alerts-{w}");
            while let Some(job) = state.store().claim(&worker, &["alerts"], 600_000, now_ms()).await? {
                crate::worker::alerts::run(&state, &job, &worker).await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    Ok(())
}
