//! Running remediation jobs on one host: the preview (a dry run), the approved run (each
//! fix applied only while its plan is still the one previewed and approved) and a rollback.
//! The host work is `openwatch-fleet::fix`, over the same transports as scans.

use anyhow::{Context as _, anyhow};
use openwatch_core::fix::Risk;
use openwatch_fleet::fix::{FixOptions, FixTarget, HostFix, Outcome, fix_host, rollback_host};
use openwatch_fleet::{FleetJob, ResolvedHost};
use openwatch_store::{
    Host, HostFixRun, HostPreview, Job, NewFixTransaction, RemediationStatus, Transport, TxnOutcome,
};
use serde_json::{Value, json};

use super::scan::{Failure, ssh_target, tailored};
use crate::app::{AppState, now_ms};
use crate::service::scans::{Initiator, queue};

/// Where a job's fix runs, with the rules and variable values of the host's tailoring.
struct Prepared {
    rules: Vec<openwatch_core::rule::Rule>,
    overrides: openwatch_core::vars::Overrides,
    job: Option<FleetJob>,
}

impl Prepared {
    fn target(&self) -> FixTarget<'_> {
        match &self.job {
            Some(job) => FixTarget::Ssh(job),
            None => FixTarget::Local { overrides: &self.overrides },
        }
    }
}

async fn prepare(state: &AppState, host: &Host, rule_ids: &[String]) -> Result<Prepared, Failure> {
    let (t, _) = tailored(state, host).await?;
    let rules = t.rules.into_iter().filter(|r| rule_ids.iter().any(|id| id == r.id())).collect();
    let job = match host.transport {
        Transport::Local => None,
        Transport::Ssh => {
            let (target, _) = ssh_target(state, host).await?;
            Some(FleetJob { host: ResolvedHost { target, vars: Vec::new() }, overrides: t.overrides.clone() })
        }
    };
    Ok(Prepared { rules, overrides: t.overrides, job })
}

fn options(state: &AppState, dry_run: bool) -> FixOptions {
    FixOptions {
        dry_run,
        journal: state.config.fix_journal_dir.clone(),
        walks: state.config.scan_walks,
        deadman_secs: state.config.fix_deadman_secs,
        approved: None,
        progress: None,
    }
}

fn host_error(fixed: &HostFix) -> Option<String> {
    fixed.error.as_ref().map(|e| format!("{}: {}", e.kind, e.message))
}

/// The fixes a dry run would make: planned, changing something, with no manual step.
fn would_change(fixed: &HostFix) -> impl Iterator<Item = &openwatch_fleet::fix::RuleFix> {
    fixed.rules.iter().filter(|r| {
        matches!(r.outcome, Outcome::Planned)
            && r.manual.is_empty()
            && !(r.diff.is_empty() && r.actions.is_empty())
    })
}

/// A transaction's pre-state as the store keeps it: each file (`path`, `exists`, `mode`, ...),
/// then each step other than a file change (`action`, `captured`).
fn pre_state_record(r: &openwatch_fleet::fix::RuleFix) -> Value {
    let files = r.pre_state.iter().map(|p| json!(p));
    let actions = r.action_pre_state.iter().map(|a| json!(a));
    Value::Array(files.chain(actions).collect())
}

fn transactions(fixed: &HostFix) -> Vec<NewFixTransaction> {
    fixed
        .rules
        .iter()
        .filter_map(|r| {
            let (id, outcome, message) = match &r.outcome {
                Outcome::Fixed { transaction_id } => (transaction_id, TxnOutcome::Fixed, None),
                Outcome::RolledBack { transaction_id, verdict, reason } => (
                    transaction_id,
                    TxnOutcome::RolledBack,
                    Some(format!("still {} after the fix: {reason}", verdict.as_str())),
                ),
                Outcome::Failed { transaction_id: Some(id), message } => {
                    (id, TxnOutcome::Failed, Some(message.clone()))
                }
                _ => return None,
            };
            Some(NewFixTransaction {
                id: id.clone(),
                rule_id: r.rule_id.clone(),
                outcome,
                risk: r.risk,
                diff: r.diff.clone(),
                actions: json!(r.actions),
                pre_state: pre_state_record(r),
                message,
            })
        })
        .collect()
}

/// Run a claimed `fix` job: the preview or, once approved, the run, of one host.
pub async fn run(state: &AppState, job: &Job, worker: &str) -> anyhow::Result<()> {
    let store = state.store();
    let rid = job.payload["remediation_id"].as_i64().context("a fix job without its remediation")?;
    let apply = job.payload["apply"].as_bool().unwrap_or(false);
    let host_id = job.host_id.context("a fix job without its host")?;
    let r = store.remediation(rid).await?.ok_or_else(|| anyhow!("remediation {rid} vanished"))?;
    let host = store.host(host_id).await?;
    let fixed = match &host {
        None => Err("the host was deleted".to_owned()),
        Some(host) => match prepare(state, host, &r.rule_ids).await {
            Err(f) => Err(format!("{}: {}", f.kind, f.message)),
            Ok(p) => {
                let mut opts = options(state, !apply);
                if apply {
                    let hosts = store.remediation_hosts(rid).await?;
                    // The stored preview, read back: only its planned fixes are approved.
                    let preview: Vec<HostFix> = hosts
                        .iter()
                        .find(|h| h.host_id == host_id)
                        .and_then(|h| h.preview.clone())
                        .map(serde_json::from_value)
                        .transpose()?
                        .into_iter()
                        .collect();
                    opts = opts.approving(&preview);
                }
                Ok(fix_host(p.target(), &p.rules, &opts).await)
            }
        },
    };
    if apply {
        let run = match &fixed {
            Ok(f) => HostFixRun {
                host_id,
                report: Some(json!(f)),
                error: host_error(f),
                transactions: transactions(f),
            },
            Err(e) => HostFixRun { host_id, report: None, error: Some(e.clone()), transactions: Vec::new() },
        };
        if store.record_fix(job, worker, rid, &run, now_ms()).await?.is_none() {
            tracing::warn!(remediation = rid, host_id, "lease lost before the run was stored");
            return Ok(());
        }
        let count = |o: TxnOutcome| run.transactions.iter().filter(|t| t.outcome == o).count();
        let details = json!({"remediation_id": rid, "fixed": count(TxnOutcome::Fixed),
            "rolled_back": count(TxnOutcome::RolledBack), "failed": count(TxnOutcome::Failed),
            "transactions": run.transactions.iter().map(|t| &t.id).collect::<Vec<_>>(), "error": run.error});
        let outcome = if run.error.is_some() { "failure" } else { "success" };
        super::audit(state, "remediation.run", &format!("host:{host_id}"), outcome, details).await?;
        // The host's state changed: scan it, so every page shows what is true now.
        if host.is_some() {
            queue(state, host_id, &Initiator::system("remediation")).await.map_err(|e| anyhow!("{e}"))?;
        }
    } else {
        let preview = match &fixed {
            Ok(f) => HostPreview {
                host_id,
                risk: would_change(f).filter_map(|r| r.risk).max(),
                planned: would_change(f).count() as i64,
                report: Some(json!(f)),
                error: host_error(f),
            },
            Err(e) => HostPreview { host_id, risk: None, planned: 0, report: None, error: Some(e.clone()) },
        };
        let Some(after) = store.record_preview(job, worker, rid, &preview, now_ms()).await? else {
            tracing::warn!(remediation = rid, host_id, "lease lost before the preview was stored");
            return Ok(());
        };
        if after.status == RemediationStatus::AwaitingApproval
            && after.risk == Some(Risk::Low)
            && state.config.fix_auto_approve_low
        {
            auto_approve(state, rid).await?;
        }
    }
    state.jobs_queued.notify_waiters();
    state.events_stored.notify_waiters();
    Ok(())
}

/// The server's policy lets low-risk fixes run without a second person: approve on its behalf.
async fn auto_approve(state: &AppState, rid: i64) -> anyhow::Result<()> {
    let why = "every previewed fix is low risk and the server's policy (fix_auto_approve_low) runs those without approval";
    let decided = state
        .store()
        .decide_remediation(rid, true, "system", why, state.config.job_max_attempts, now_ms())
        .await?;
    if decided.is_some() {
        let details = json!({"decision": "approved", "risk": "low", "by": "policy"});
        super::audit(state, "remediation.approve", &format!("remediation:{rid}"), "success", details).await?;
    }
    Ok(())
}

/// Run a claimed `fix_rollback` job: restore a kept fix's pre-state from the host's journal.
pub async fn rollback(state: &AppState, job: &Job, worker: &str) -> anyhow::Result<()> {
    let store = state.store();
    let id = job.payload["transaction_id"].as_str().context("a rollback job without its transaction")?;
    let t = store.fix_transaction(id).await?.ok_or_else(|| anyhow!("transaction {id} vanished"))?;
    let host = store.host(t.host_id).await?;
    let result = match &host {
        None => Err("the host was deleted".to_owned()),
        Some(host) => match prepare(state, host, &[]).await {
            Err(f) => Err(format!("{}: {}", f.kind, f.message)),
            Ok(p) => rollback_host(p.target(), &state.config.fix_journal_dir, id).await,
        },
    };
    let (ok, message) = match &result {
        Ok(notes) if notes.is_empty() => (true, "rolled back: the pre-state is restored".to_owned()),
        Ok(notes) => (true, format!("rolled back; {}", notes.join("; "))),
        Err(e) => (false, e.clone()),
    };
    if !store.record_rollback(job, worker, id, ok, &message, now_ms()).await? {
        tracing::warn!(transaction = id, "lease lost before the rollback was stored");
        return Ok(());
    }
    let details = json!({"transaction_id": id, "rule_id": t.rule_id, "remediation_id": t.remediation_id,
        "message": message});
    let outcome = if ok { "success" } else { "failure" };
    super::audit(state, "remediation.rollback_run", &format!("host:{}", t.host_id), outcome, details).await?;
    if ok && host.is_some() {
        queue(state, t.host_id, &Initiator::system("rollback")).await.map_err(|e| anyhow!("{e}"))?;
    }
    state.jobs_queued.notify_waiters();
    state.events_stored.notify_waiters();
    Ok(())
}
