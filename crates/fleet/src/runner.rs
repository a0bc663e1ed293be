//! Scanning hosts concurrently: one SSH connection per host, one collection script per host
//! (or, for comparison with the existing tools, one exec per check).

use std::borrow::Cow;
use std::sync::Arc;

use openwatch_collect::{CollectError, Scan};
use openwatch_core::facts::FactSet;
use openwatch_core::plan::FactPlan;
use openwatch_core::report::{EvalOptions, HostError, HostKeyInfo, ScanReport};
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

fn address(job: &FleetJob) -> String {
    let e = &job.host.target.endpoint;
    if e.host.contains(':') { format!("[{}]:{}", e.host, e.port) } else { format!("{}:{}", e.host, e.port) }
}

/// What one host's scan collects: the whole plan in one pass, or (per check) the probes
/// and then each rule's own facts, the per-check model as favourable to it as it gets.
fn passes<'a>(rules: &[Rule], plan: &'a FactPlan, opts: &FleetOptions) -> Vec<Cow<'a, FactPlan>> {
    match opts.mode {
        ExecMode::Batched => vec![Cow::Borrowed(plan)],
        ExecMode::PerCheck => {
            let base = FactPlan::for_rules(std::iter::empty::<&Rule>(), false);
            let mut passes = Vec::with_capacity(rules.len() + 1);
            for rule in rules {
                let mut one = FactPlan::for_rules([rule], opts.walks);
                one.keys.retain(|k| !base.keys.contains(k));
                passes.push(Cow::Owned(one));
            }
            passes.insert(0, Cow::Owned(base));
            passes
        }
    }
}

/// Run every pass of `scan` over the session: the SSH side of [`Scan::collect`].
async fn collect(session: &mut SshSession, scan: &mut Scan<'_>, name: &str) -> Result<(), HostError> {
    let collection =
        |e: CollectError| HostError { kind: "collection".into(), message: format!("{name}: {e}") };
    while let Some(script) = scan.next_script().map_err(collection)? {
        let out = session
            .run_script(script)
            .await
            .map_err(|e: SshError| HostError { kind: e.kind.as_str().into(), message: e.to_string() })?;
        scan.record(name, &out).map_err(collection)?;
    }
    Ok(())
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
    let target = &job.host.target;
    let eval = EvalOptions { overrides: job.overrides.clone(), walks_enabled: opts.walks };
    let mut scan = Scan::new(rules, passes(rules, plan, opts), eval);
    let mut session = match SshSession::connect(target).await {
        Ok(s) => s,
        Err(e) => {
            let presented_key = e.presented_key.clone();
            let error = HostError { kind: e.kind.as_str().into(), message: e.to_string() };
            let report = scan.failed(target.name.clone(), address(job), error);
            return HostScan { report, facts: None, presented_key };
        }
    };
    let host_key = HostKeyInfo {
        fingerprint: session.host_key().fingerprint().to_owned(),
        status: session.host_key().label().to_owned(),
    };
    let presented_key = session.host_public_key().map(str::to_owned);
    let outcome = collect(&mut session, &mut scan, &target.name).await;
    session.close().await;
    let (mut report, facts) = match outcome {
        Err(e) => (scan.failed(target.name.clone(), address(job), e), None),
        Ok(()) => {
            let done = scan.finish(target.name.clone(), address(job));
            (done.report, opts.keep_facts.then_some(done.facts))
        }
    };
    report.host.host_key = Some(host_key);
    HostScan { report, facts, presented_key }
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
