//! The `deliver` job: send one delivery to its channel, record the attempt, and either
//! finish, retry later (waits doubling from `job_retry_base_secs`) or, after the last
//! attempt, leave the delivery dead. A delivery that is no longer queued (already sent by
//! a worker whose job outlived it) is not sent again.

use anyhow::{Context as _, anyhow};
use openwatch_store::{AttemptOutcome, DeliveryStatus, Job, NewAttempt};

use super::send;
use crate::app::{AppState, now_ms};

pub async fn run(state: &AppState, job: &Job, worker: &str) -> anyhow::Result<()> {
    let id =
        job.payload["delivery_id"].as_i64().ok_or_else(|| anyhow!("a deliver job without a delivery id"))?;
    let store = state.store();
    let delivery = store.delivery(id).await.context("reading the delivery")?;
    let Some(delivery) = delivery.filter(|d| d.status == DeliveryStatus::Queued) else {
        store.complete_job(job.id, worker, now_ms()).await.context("completing the job")?;
        return Ok(());
    };
    let outcome = match store.channel(delivery.channel_id).await.context("reading the channel")? {
        None => Err("the channel was deleted".to_owned()),
        Some(channel) => match secret(state, channel.id).await {
            Ok(secret) => send::send(&channel, secret.as_deref(), &delivery).await,
            Err(e) => Err(e),
        },
    };
    let (outcome, detail) = match outcome {
        Ok(detail) => (AttemptOutcome::Delivered, detail),
        Err(detail) => (AttemptOutcome::Failed, detail),
    };
    let now = now_ms();
    let retry_at = (outcome == AttemptOutcome::Failed && job.attempts < job.max_attempts).then(|| {
        let wait = state.config.job_retry_base_secs.saturating_mul(1 << (job.attempts - 1).clamp(0, 10));
        now + i64::try_from(wait.saturating_mul(1000)).unwrap_or(i64::MAX / 2)
    });
    let attempt = NewAttempt { outcome, detail, at: now };
    if !store.record_attempt(job, worker, id, &attempt, retry_at).await.context("recording the attempt")? {
        tracing::warn!(delivery = id, "lease lost before the attempt was recorded");
    }
    if outcome == AttemptOutcome::Failed {
        tracing::warn!(delivery = id, attempt = job.attempts, dead = retry_at.is_none(), detail = %attempt.detail, "delivery attempt failed");
    }
    Ok(())
}

/// The channel's secret in the clear. A secret that does not open (this process still holds
/// the key from before a rotation) fails the attempt, visibly, instead of the job.
async fn secret(state: &AppState, channel_id: i64) -> Result<Option<Vec<u8>>, String> {
    let sealed =
        state.store().channel_secret(channel_id).await.map_err(|e| format!("reading the secret: {e}"))?;
    sealed.map(|s| state.key.open(&s)).transpose().map_err(|e| format!("opening the secret: {e}"))
}
