//! Job workers: claim a job from the durable queue, keep its lease alive while it runs,
//! complete or fail it. Several workers per process, several processes per database.

pub mod alerts;
pub mod deliver;
pub mod fix;
pub mod report;
pub mod scan;
pub mod scheduler;
pub mod send;

use std::time::Duration;

use tokio::task::JoinSet;

use crate::app::{AppState, now_ms};

/// The job kinds workers run.
pub const KINDS: &[&str] = &["scan", "fix", "fix_rollback", "deliver", "alerts", "report"];

/// Start `n` workers; they return when shutdown is signalled, after finishing the job in hand.
pub fn spawn(state: &AppState, n: usize, set: &mut JoinSet<()>) {
    for i in 0..n {
        let state = state.clone();
        let name = format!("{}-w{i}", state.instance);
        set.spawn(async move { work(state, name).await });
    }
}

async fn work(state: AppState, name: String) {
    let lease_ms = state.config.job_lease_secs as i64 * 1000;
    let mut shutdown = state.shutdown.clone();
    loop {
        if state.shutting_down() {
            return;
        }
        match state.store().claim(&name, KINDS, lease_ms, now_ms()).await {
            Ok(Some(job)) => {
                let beat = heartbeat(state.clone(), job.id, name.clone(), lease_ms);
                let result = match job.kind.as_str() {
                    "scan" => scan::run(&state, &job, &name).await,
                    "fix" => fix::run(&state, &job, &name).await,
                    "fix_rollback" => fix::rollback(&state, &job, &name).await,
                    "deliver" => deliver::run(&state, &job, &name).await,
                    "alerts" => alerts::run(&state, &job, &name).await,
                    "report" => report::run(&state, &job, &name).await,
                    other => Err(anyhow::anyhow!("unknown job kind {other}")),
                };
                beat.abort();
                if let Err(e) = result {
                    tracing::error!(job = job.id, error = %e, "job failed");
                    let retry = (job.attempts < job.max_attempts).then(|| now_ms() + 30_000);
                    if let Err(e) = state.store().fail_job(&job, &name, &e.to_string(), retry, now_ms()).await
                    {
                        tracing::error!(job = job.id, error = %e, "recording a job failure");
                    }
                }
            }
            Ok(None) => {
                tokio::select! {
                    _ = state.jobs_queued.notified() => {}
                    _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                    _ = shutdown.changed() => {}
                }
            }
            Err(e) => {
                tracing::warn!(worker = name, error = %e, "claiming a job");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    }
}

/// Record what a worker did on its own (no request behind it) in the audit log.
pub(crate) async fn audit(
    state: &AppState,
    action: &str,
    target: &str,
    outcome: &str,
    details: serde_json::Value,
) -> Result<(), openwatch_store::StoreError> {
    let event = openwatch_store::NewAuditEvent {
        at: now_ms(),
        actor: "system".into(),
        action: action.into(),
        target: target.into(),
        outcome: outcome.into(),
        source: state.instance.clone(),
        correlation_id: crate::auth::secret::random_token("")[..22].to_owned(),
        details,
    };
    state.store().append_audit(&event).await.map(|_| ())
}

/// Renew a job's lease every third of its length until aborted.
fn heartbeat(state: AppState, job_id: i64, worker: String, lease_ms: i64) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let every = Duration::from_millis((lease_ms / 3).max(100) as u64);
        loop {
            tokio::time::sleep(every).await;
            match state.store().heartbeat(job_id, &worker, lease_ms, now_ms()).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(job_id, "lease lost; the job will be retried elsewhere");
                    return;
                }
                Err(e) => tracing::warn!(job_id, error = %e, "renewing a lease"),
            }
        }
    })
}

/// Forward the database's job notifications (PostgreSQL LISTEN) to this process's workers.
pub fn spawn_listener(state: &AppState, set: &mut JoinSet<()>) {
    let state = state.clone();
    set.spawn(async move {
        let mut shutdown = state.shutdown.clone();
        tokio::select! {
            r = state.store.listen_for_jobs(&state.jobs_queued) => {
                if let Err(e) = r {
                    tracing::warn!(error = %e, "job notifications unavailable; workers poll");
                }
            }
            _ = shutdown.changed() => {}
        }
    });
}
