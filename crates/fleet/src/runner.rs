//! Scanning hosts concurrently: one SSH connection per host, one collection script per host
//! (or, for comparison with the existing tools, one exec per check).

use std::sync::Arc;
use std::time::Instant;

use openwatch_collect::{finish, now_rfc3339, prepare};
use openwatch_core::facts::FactSet;
use openwatch_core::plan::FactPlan;
use openwatch_core::report::{
    self, EvalOptions, HostError, HostFacts, HostInfo, HostKeyInfo, RuleResult, ScanReport, Stats,
};
use openwatch_core::rule::Rule;
use openwatch_core::vars::Overrides;
use openwatch_ssh::{SshError, SshSession};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::inventory::ResolvedHost;

/// How facts travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecMode {
    /// Every fact of the scan in one script over one channel: one round trip.
    Batched,
    /// One exec for the probes, then one exec per rule gathering that rule's facts (the
    /// model of tools that run a command per check). For benchmarks.
    PerCheck,
}

#[derive(Debug, Clone)]
pub struct FleetOptions {
    pub concurrency: usize,
    pub mode: ExecMode,
    pub walks: bool,
    /// Keep each host's facts (for `--save-facts`).
    pub keep_facts: bool,
}

/// One host to scan with its typed variable overrides.
#[derive(Debug, Clone)]
pub struct FleetJob {
    pub host: ResolvedHost,
    pub overrides: Overrides,
}

struct Collected {
    results: Vec<RuleResult>,
    host: HostFacts,
    facts: FactSet,
    round_trips: u32,
    bytes: u64,
    collect_ms: u64,
    evaluate_ms: u64,
}

fn address(job: &FleetJob) -> String {
    let e = &job.host.target.endpoint;
    if e.host.contains(':') { format!("[{}]:{}", e.host, e.port) } else { format!("{}:{}", e.host, e.port) }
}

async fn collect_and_evaluate(
    session: &mut SshSession,
    job: &FleetJob,
    rules: &[Rule],
    plan: &FactPlan,
    opts: &FleetOptions,
) -> Result<Collected, HostError> {
    let name = &job.host.target.name;
    let eval_opts = EvalOptions { overrides: job.overrides.clone(), walks_enabled: opts.walks };
    let collection = |e: openwatch_collect::CollectError| HostError {
        kind: "collection".into(),
        message: format!("{name}: {e}"),
    };
    let ssh = |e: SshError| HostError { kind: e.kind.as_str().into(), message: e.to_string() };
    let t0 = Instant::now();
    match opts.mode {
        ExecMode::Batched => {
            let pending = prepare(plan).map_err(collection)?;
            let out = session.run_script(&pending.script.text).await.map_err(ssh)?;
            let collected = finish(pending, name, &out).map_err(collection)?;
            let collect_ms = t0.elapsed().as_millis() as u64;
            let t1 = Instant::now();
            let host = report::host_facts(&collected.facts);
            let results = report::evaluate(rules, &collected.facts, &host, &eval_opts);
            Ok(Collected {
                results,
                host,
                facts: collected.facts,
                round_trips: collected.round_trips,
                bytes: collected.bytes_transferred,
                collect_ms,
                evaluate_ms: t1.elapsed().as_millis() as u64,
            })
        }
        ExecMode::PerCheck => {
            // Probes once, then one exec per rule for that rule's own facts, evaluated
            // together: the per-check model, as favourable to it as it gets.
            let mut c = Collected {
                results: Vec::new(),
                host: HostFacts::default(),
                facts: FactSet::default(),
                round_trips: 0,
                bytes: 0,
                collect_ms: 0,
                evaluate_ms: 0,
            };
            let base = FactPlan::for_rules(std::iter::empty::<&Rule>(), false);
            let mut all = FactSet::default();
            let mut passes = vec![base.clone()];
            for rule in rules {
                let mut one = FactPlan::for_rules([rule], opts.walks);
                one.keys.retain(|k| !base.keys.contains(k));
                passes.push(one);
            }
            for plan in &passes {
                let pending = prepare(plan).map_err(collection)?;
                let out = session.run_script(&pending.script.text).await.map_err(ssh)?;
                let collected = finish(pending, name, &out).map_err(collection)?;
                all.collected_at = collected.facts.collected_at.clone();
                all.facts.extend(collected.facts.facts);
                c.round_trips += collected.round_trips;
                c.bytes += collected.bytes_transferred;
            }
            c.host = report::host_facts(&all);
            c.results = report::evaluate(rules, &all, &c.host, &eval_opts);
            c.facts = all;
            c.collect_ms = t0.elapsed().as_millis() as u64;
            Ok(c)
        }
    }
}

/// One host's report, and its facts when `FleetOptions::keep_facts` asked for them.
#[derive(Debug)]
pub struct HostScan {
    pub report: ScanReport,
    pub facts: Option<FactSet>,
    /// The host key the server presented (OpenSSH form), also when it was refused.
    pub presented_key: Option<String>,
}

/// Scan one host; a failure becomes a report with `error` set, never a panic or an abort.
pub async fn scan_host(job: &FleetJob, rules: &[Rule], plan: &FactPlan, opts: &FleetOptions) -> HostScan {
    let started = Instant::now();
    let started_at = now_rfc3339();
    let target = &job.host.target;
    let failed = |error: HostError, started_at: String| {
        let host = HostInfo::new(target.name.clone(), address(job), &HostFacts::default());
        ScanReport::failed(host, started_at, now_rfc3339(), started.elapsed().as_millis() as u64, error)
    };
    let mut session = match SshSession::connect(target).await {
        Ok(s) => s,
        Err(e) => {
            let presented_key = e.presented_key.clone();
            let report =
                failed(HostError { kind: e.kind.as_str().into(), message: e.to_string() }, started_at);
            return HostScan { report, facts: None, presented_key };
        }
    };
    let host_key = HostKeyInfo {
        fingerprint: session.host_key().fingerprint().to_owned(),
        status: session.host_key().label().to_owned(),
    };
    let presented_key = session.host_public_key().map(str::to_owned);
    let outcome = collect_and_evaluate(&mut session, job, rules, plan, opts).await;
    session.close().await;
    match outcome {
        Err(e) => {
            let mut report = failed(e, started_at);
            report.host.host_key = Some(host_key);
            HostScan { report, facts: None, presented_key }
        }
        Ok(c) => {
            let mut host = HostInfo::new(target.name.clone(), address(job), &c.host);
            host.host_key = Some(host_key);
            let stats = Stats {
                facts_collected: c.facts.facts.len(),
                round_trips: c.round_trips,
                bytes_transferred: c.bytes,
                duration_ms: started.elapsed().as_millis() as u64,
                collect_ms: c.collect_ms,
                evaluate_ms: c.evaluate_ms,
                ..Stats::default()
            };
            let report = ScanReport::new(host, started_at, now_rfc3339(), stats, c.results);
            HostScan { report, facts: opts.keep_facts.then_some(c.facts), presented_key }
        }
    }
}

/// Scan every job, at most `opts.concurrency` at once. `on_done` sees each report as its
/// host finishes; the returned reports are in job order.
pub async fn scan_fleet(
    jobs: Vec<FleetJob>,
    rules: Arc<[Rule]>,
    opts: FleetOptions,
    mut on_done: impl FnMut(&ScanReport),
) -> Vec<HostScan> {
    let plan = Arc::new(FactPlan::for_rules(rules.iter(), opts.walks));
    let permits = Arc::new(Semaphore::new(opts.concurrency.max(1)));
    let opts = Arc::new(opts);
    let count = jobs.len();
    let mut set = JoinSet::new();
    for (i, job) in jobs.into_iter().enumerate() {
        let (permits, rules, plan, opts) = (permits.clone(), rules.clone(), plan.clone(), opts.clone());
        set.spawn(async move {
            let _permit = permits.acquire_owned().await.expect("the semaphore is never closed");
            (i, scan_host(&job, &rules, &plan, &opts).await)
        });
    }
    let mut out: Vec<Option<HostScan>> = (0..count).map(|_| None).collect();
    while let Some(joined) = set.join_next().await {
        let (i, scan) = joined.expect("a host scan task does not panic");
        on_done(&scan.report);
        out[i] = Some(scan);
    }
    out.into_iter().flatten().collect()
}
