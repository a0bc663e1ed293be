//! The scheduler: fires host and group schedules, scans unscheduled hosts adaptively (worse
//! hosts more often), reaps jobs whose worker died and rolls up the fleet trend. Every
//! `serve` and `worker` process runs it; each firing is claimed in the database, so it
//! happens once however many processes run.

use std::time::Duration;

use chrono::{TimeZone as _, Utc};
use openwatch_store::{AdaptiveCandidate, Schedule};

use crate::app::{AppState, now_ms};
use crate::config::Config;
use crate::service::ServiceError;
use crate::service::scans::{self, Initiator};

/// When a schedule fires next after `after` (ms).
pub fn next_fire(interval_secs: Option<i64>, cron: Option<&str>, after: i64) -> Result<i64, String> {
    match (interval_secs, cron) {
        (Some(s), _) if s > 0 => Ok(after + s * 1000),
        (_, Some(expr)) => {
            let cron: croner::Cron =
                expr.parse().map_err(|e| format!("`{expr}` is not a cron expression: {e}"))?;
            let from = Utc.timestamp_millis_opt(after).single().ok_or("time out of range")?;
            let next = cron.find_next_occurrence(&from, false).map_err(|e| format!("`{expr}`: {e}"))?;
            Ok(next.timestamp_millis())
        }
        _ => Err("a schedule needs an interval or a cron expression".into()),
    }
}

/// The adaptive interval for a host: by its worst failing severity.
pub fn adaptive_interval_ms(cfg: &Config, c: &AdaptiveCandidate) -> i64 {
    let f = &c.failing;
    let hours = if f.critical > 0 {
        cfg.adaptive_critical_hours
    } else if f.high > 0 {
        cfg.adaptive_high_hours
    } else if f.medium > 0 {
        cfg.adaptive_medium_hours
    } else if f.low > 0 {
        cfg.adaptive_low_hours
    } else {
        cfg.adaptive_compliant_hours
    };
    hours as i64 * 3_600_000
}

async fn fire(state: &AppState, s: &Schedule, now: i64) -> anyhow::Result<()> {
    let store = state.store();
    if store.claim_fire(&format!("schedule:{}", s.id), s.next_fire_at).await? {
        let who = Initiator::schedule(s.id);
        let queued = match s.target_kind.as_str() {
            "group" => scans::scan_group(state, &who, s.target_id).await.map(|_| ()),
            _ => scans::scan_host(state, &who, s.target_id).await.map(|_| ()),
        };
        match queued {
            // A host in maintenance, or deleted since, is skipped until the next fire.
            Ok(()) | Err(ServiceError::Conflict(_) | ServiceError::NotFound(_)) => {}
            Err(e) => return Err(anyhow::anyhow!("schedule {}: {e}", s.id)),
        }
    }
    let next =
        next_fire(s.interval_secs, s.cron.as_deref(), s.next_fire_at.max(now)).map_err(anyhow::Error::msg)?;
    store.set_next_fire(s.id, next).await?;
    Ok(())
}

/// One pass of every scheduler duty.
pub async fn tick(state: &AppState) -> anyhow::Result<()> {
    let store = state.store();
    crate::instances::reclaim(state).await?;
    let now = now_ms();
    let reaped = store.reap(now).await?;
    if reaped > 0 {
        tracing::warn!(jobs = reaped, "requeued jobs whose worker stopped renewing its lease");
        state.jobs_queued.notify_waiters();
    }
    for s in store.due_schedules(now).await? {
        if let Err(e) = fire(state, &s, now).await {
            tracing::error!(schedule = s.id, error = %e, "firing a schedule");
        }
    }
    if state.config.adaptive_enabled {
        for c in store.adaptive_candidates().await? {
            let due_at = c.last_scan_at.map_or(0, |t| t + adaptive_interval_ms(&state.config, &c));
            if due_at <= now
                && !store.scan_pending(c.host_id).await?
                && store.claim_fire(&format!("adaptive:{}", c.host_id), due_at).await?
            {
                match scans::scan_host(state, &Initiator::system("adaptive"), c.host_id).await {
                    Ok(_) | Err(ServiceError::Conflict(_) | ServiceError::NotFound(_)) => {}
                    Err(e) => return Err(anyhow::anyhow!("adaptive scan of host {}: {e}", c.host_id)),
                }
            }
        }
    }
    if let Err(e) = super::alerts::tick(state).await {
        tracing::error!(error = %e, "alert rules");
    }
    let slot = now - now.rem_euclid(300_000);
    if store.claim_fire("trend_rollup", slot).await? {
        store.roll_up_trend(now).await?;
    }
    Ok(())
}

pub fn spawn(state: &AppState, set: &mut tokio::task::JoinSet<()>) {
    let state = state.clone();
    set.spawn(async move {
        let mut shutdown = state.shutdown.clone();
        let every = Duration::from_secs(state.config.scheduler_tick_secs.max(1));
        loop {
            if let Err(e) = tick(&state).await {
                tracing::error!(error = %e, "scheduler tick");
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.changed() => return,
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use openwatch_store::SeverityCounts;

    #[test]
    fn intervals_and_cron() {
        assert_eq!(next_fire(Some(60), None, 1_000), Ok(61_000));
        // 2026-01-01T00:00:00Z, daily at 03:00 UTC.
        let t = 1_767_225_600_000;
        assert_eq!(next_fire(None, Some("0 3 * * *"), t), Ok(t + 3 * 3_600_000));
        assert!(next_fire(None, Some("not cron"), t).is_err());
        assert!(next_fire(None, None, t).is_err());
    }

    #[test]
    fn worse_hosts_are_scanned_more_often() {
        let cfg = Config::default();
        let c = |critical, low| AdaptiveCandidate {
            host_id: 1,
            last_scan_at: None,
            failing: SeverityCounts { critical, high: 0, medium: 0, low },
        };
        assert_eq!(adaptive_interval_ms(&cfg, &c(1, 5)), 4 * 3_600_000);
        assert_eq!(adaptive_interval_ms(&cfg, &c(0, 5)), 36 * 3_600_000);
        assert_eq!(adaptive_interval_ms(&cfg, &c(0, 0)), 48 * 3_600_000);
    }
}
