//! Scan schedules for hosts and groups: a fixed interval or a cron expression. A schedule
//! must fire within a year and never more often than every five minutes, whichever form it
//! takes, so a typo cannot flood the queue.

use openwatch_store::{NewSchedule, Schedule};
use serde::Deserialize;
use serde_json::json;

use super::{Done, ServiceError, ServiceResult, note};
use crate::app::{AppState, now_ms};
use crate::auth::need::{SchedulesRead, SchedulesWrite};
use crate::http::guard::Grant;
use crate::worker::scheduler::next_fire;

/// The shortest time between two scans a schedule may ask for.
pub const MIN_INTERVAL_MINUTES: i64 = 5;
const YEAR_MS: i64 = 366 * 86_400_000;
/// Fires of a cron expression checked against the minimum interval (a week of five-minute
/// fires).
const CRON_FIRES_CHECKED: usize = 2016;

#[derive(Debug, Default, Deserialize)]
pub struct ScheduleInput {
    pub host_id: Option<i64>,
    pub group_id: Option<i64>,
    pub interval_minutes: Option<i64>,
    pub cron: Option<String>,
}

/// When a cron expression first fires after `now`, or why it is refused.
pub fn check_cron(expr: &str, now: i64) -> Result<i64, String> {
    let fields = expr.split_whitespace().count();
    if fields != 5 {
        return Err(format!(
            "`{expr}` has {fields} fields; use five: minute hour day-of-month month day-of-week"
        ));
    }
    let first = next_fire(None, Some(expr), now)
        .map_err(|_| format!("`{expr}` never fires (is the date impossible, such as 30 February?)"))?;
    if first > now + YEAR_MS {
        return Err(format!("`{expr}` does not fire within a year"));
    }
    let mut last = first;
    for _ in 0..CRON_FIRES_CHECKED {
        let Ok(next) = next_fire(None, Some(expr), last) else { break };
        if next - last < MIN_INTERVAL_MINUTES * 60_000 {
            return Err(format!(
                "`{expr}` fires more often than every {MIN_INTERVAL_MINUTES} minutes; use an interval of at least {MIN_INTERVAL_MINUTES} minutes"
            ));
        }
        last = next;
    }
    Ok(first)
}

pub async fn list(state: &AppState, _: &Grant<SchedulesRead>) -> ServiceResult<Vec<Schedule>> {
    Ok(state.store().list_schedules().await?)
}

pub async fn create(
    state: &AppState,
    _: &Grant<SchedulesWrite>,
    input: ScheduleInput,
) -> ServiceResult<Done<Schedule>> {
    let (kind, target) = match (input.host_id, input.group_id) {
        (Some(h), None) => {
            state
                .store()
                .host(h)
                .await?
                .ok_or_else(|| ServiceError::invalid("host_id", format!("no host {h}")))?;
            ("host", h)
        }
        (None, Some(g)) => {
            state
                .store()
                .group(g)
                .await?
                .ok_or_else(|| ServiceError::invalid("group_id", format!("no group {g}")))?;
            ("group", g)
        }
        _ => return Err(ServiceError::invalid("host_id", "give exactly one of host_id and group_id")),
    };
    let now = now_ms();
    let cron = input.cron.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty());
    let (interval_secs, first) = match (input.interval_minutes, &cron) {
        (Some(m), None) if (MIN_INTERVAL_MINUTES..=525_600).contains(&m) => (Some(m * 60), now + m * 60_000),
        (Some(_), None) => {
            return Err(ServiceError::invalid(
                "interval_minutes",
                format!("between {MIN_INTERVAL_MINUTES} and 525600"),
            ));
        }
        (None, Some(expr)) => (None, check_cron(expr, now).map_err(|e| ServiceError::invalid("cron", e))?),
        _ => {
            return Err(ServiceError::invalid(
                "interval_minutes",
                "give exactly one of interval_minutes and cron",
            ));
        }
    };
    let s = state
        .store()
        .create_schedule(
            &NewSchedule {
                target_kind: kind.into(),
                target_id: target,
                interval_secs,
                cron,
                next_fire_at: first,
            },
            now,
        )
        .await?;
    let audit = note(format!("schedule:{}", s.id), json!({"target": format!("{kind}:{target}")}));
    Ok(Done::new(s, audit))
}

pub async fn delete(state: &AppState, _: &Grant<SchedulesWrite>, id: i64) -> ServiceResult<Done<()>> {
    if !state.store().delete_schedule(id).await? {
        return Err(ServiceError::NotFound("schedule"));
    }
    Ok(Done::new((), note(format!("schedule:{id}"), json!({}))))
}

#[cfg(test)]
mod tests {
    use super::check_cron;

    const NOW: i64 = 1_780_000_000_000;

    #[test]
    fn cron_expressions_are_five_fields_within_a_year_and_not_too_often() {
        assert!(check_cron("0 3 * * *", NOW).is_ok());
        assert!(check_cron("*/5 * * * *", NOW).is_ok());
        let six = check_cron("*/2 * * * * *", NOW).unwrap_err();
        assert!(six.contains("6 fields"), "{six}");
        let often = check_cron("*/1 * * * *", NOW).unwrap_err();
        assert!(often.contains("every 5 minutes"), "{often}");
        assert!(check_cron("0-4 3 * * *", NOW).unwrap_err().contains("every 5 minutes"));
        let never = check_cron("0 3 30 2 *", NOW).unwrap_err();
        assert!(never.contains("never fires") || never.contains("within a year"), "{never}");
        assert!(check_cron("not cron at all x", NOW).is_err());
    }
}
