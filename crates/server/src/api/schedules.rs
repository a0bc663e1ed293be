//! Scan schedules over JSON: adapters over `service::schedules`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::auth::need::{SchedulesRead, SchedulesWrite};
use crate::http::error::ApiResult;
use crate::http::guard::Grant;
use crate::http::json::ApiJson;
use crate::http::{done, respond};
use crate::service::schedules::{self, ScheduleInput};

pub async fn list(State(state): State<AppState>, g: Grant<SchedulesRead>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"items": schedules::list(&state, &g).await?})))
}

pub async fn create(
    State(state): State<AppState>,
    g: Grant<SchedulesWrite>,
    ApiJson(b): ApiJson<ScheduleInput>,
) -> ApiResult<Response> {
    Ok(respond(StatusCode::CREATED, schedules::create(&state, &g, b).await?))
}

pub async fn delete(
    State(state): State<AppState>,
    g: Grant<SchedulesWrite>,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    Ok(done(schedules::delete(&state, &g, id).await?.audit))
}
