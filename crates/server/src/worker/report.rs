//! The `report` job: read the latest successful scan of every host the report covers
//! (progress after each host), draw the report on a blocking thread, and keep the file with
//! the report, completing the job in the same transaction. A report that cannot be drawn
//! (no host of its scope was ever scanned, a POA&M with nothing failing) fails with that
//! reason instead of retrying; a store error is retried like any job.

use anyhow::{Context as _, anyhow};
use openwatch_store::{Job, ReportStatus};
use serde_json::json;

use crate::app::{AppState, now_ms};
use crate::service::ServiceError;
use crate::service::reports::{hosts_in_scope, latest_report, other_sources, render, trend};

pub async fn run(state: &AppState, job: &Job, worker: &str) -> anyhow::Result<()> {
    let id = job.payload["report_id"].as_i64().ok_or_else(|| anyhow!("a report job without a report id"))?;
    let store = state.store();
    let Some(report) = store.report(id).await.context("reading the report")? else {
        store.complete_job(job.id, worker, now_ms()).await.context("completing the job")?;
        return Ok(());
    };
    if report.status == ReportStatus::Succeeded {
        store.complete_job(job.id, worker, now_ms()).await.context("completing the job")?;
        return Ok(());
    }
    let hosts = hosts_in_scope(state, &report).await.map_err(|e| anyhow!("{e}"))?;
    let total = i64::try_from(hosts.len()).unwrap_or(i64::MAX);
    store.report_progress(id, 0, total).await.context("recording progress")?;
    let mut reports = Vec::with_capacity(hosts.len());
    for (i, (host_id, _)) in hosts.iter().enumerate() {
        if let Some(r) = latest_report(state, *host_id).await.map_err(|e| anyhow!("{e}"))? {
            reports.push(r);
        }
        store.report_progress(id, i as i64 + 1, total).await.context("recording progress")?;
    }
    let outcome = if reports.is_empty() {
        Err(format!("no host of {} has a successful scan yet", report.scope_name))
    } else {
        let trend = trend(state, &report).await.map_err(|e| anyhow!("{e}"))?;
        let others = other_sources(state, &hosts).await.map_err(|e| anyhow!("{e}"))?;
        match render(state, &report, reports, trend, others).await {
            Ok(file) => Ok(file),
            // The report's own problem (nothing to plan): said, not retried.
            Err(ServiceError::Conflict(why)) => Err(why),
            Err(e) => return Err(anyhow!("drawing report {id}: {e}")),
        }
    };
    let now = now_ms();
    match outcome {
        Ok(file) => {
            let size = file.body.len();
            if !store.complete_report(job, worker, id, &file, now).await.context("storing the report")? {
                tracing::warn!(report = id, "lease lost before the report was stored");
                return Ok(());
            }
            super::audit(
                state,
                "report.drawn",
                &format!("report:{id}"),
                "success",
                json!({"hosts": total, "bytes": size}),
            )
            .await
            .context("auditing")?;
        }
        Err(why) => {
            store.fail_report(id, &why, now).await.context("recording the failure")?;
            store.complete_job(job.id, worker, now).await.context("completing the job")?;
            super::audit(state, "report.drawn", &format!("report:{id}"), "failure", json!({"error": why}))
                .await
                .context("auditing")?;
        }
    }
    Ok(())
}
