//! Scan schedules for hosts and groups: a fixed interval or a cron expression.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use openwatch_store::NewSchedule;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::{AppState, now_ms};
use crate::auth::need::{SchedulesRead, SchedulesWrite};
use crate::http::error::{ApiResult, not_found, validation};
use crate::http::guard::Grant;
use crate::http::json::ApiJson;
use crate::http::{audited, done, note};
use crate::worker::scheduler::next_fire;

pub async fn list(State(state): State<AppState>, _: Grant<SchedulesRead>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"items": state.store().list_schedules().await?})))
}

#[derive(Debug, Deserialize)]
pub struct ScheduleBody {
    host_id: Option<i64>,
    group_id: Option<i64>,
    interval_minutes: Option<i64>,
    cron: Option<String>,
}

pub async fn create(
    State(state): State<AppState>,
    _: Grant<SchedulesWrite>,
    ApiJson(b): ApiJson<ScheduleBody>,
) -> ApiResult<Response> {
    let (kind, target) = match (b.host_id, b.group_id) {
        (Some(h), None) => {
            state.store().host(h).await?.ok_or_else(|| validation("host_id", format!("no host {h}")))?;
            ("host", h)
        }
        (None, Some(g)) => {
            state.store().group(g).await?.ok_or_else(|| validation("group_id", format!("no group {g}")))?;
            ("group", g)
        }
        _ => return Err(validation("host_id", "give exactly one of host_id and group_id")),
    };
    let interval_secs = match (b.interval_minutes, &b.cron) {
        (Some(m), None) if (5..=525_600).contains(&m) => Some(m * 60),
        (Some(_), None) => return Err(validation("interval_minutes", "between 5 and 525600")),
        (None, Some(_)) => None,
        _ => return Err(validation("interval_minutes", "give exactly one of interval_minutes and cron")),
    };
    let now = now_ms();
    let first = next_fire(interval_secs, b.cron.as_deref(), now).map_err(|e| validation("cron", e))?;
    let s = state
        .store()
        .create_schedule(
            &NewSchedule {
                target_kind: kind.into(),
                target_id: target,
                interval_secs,
                cron: b.cron,
                next_fire_at: first,
            },
            now,
        )
        .await?;
    Ok(audited(
        StatusCode::CREATED,
        &s,
        note(format!("schedule:{}", s.id), json!({"target": format!("{kind}:{target}")})),
    ))
}

pub async fn delete(
    State(state): State<AppState>,
    _: Grant<SchedulesWrite>,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    if !state.store().delete_schedule(id).await? {
        return Err(not_found("schedule"));
    }
    Ok(done(note(format!("schedule:{id}"), json!({}))))
}
