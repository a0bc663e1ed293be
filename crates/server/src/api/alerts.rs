//! Alerts over JSON: the list, one alert, acknowledge, resolve; alert rules. Adapters over
//! `service::alerts`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::auth::need::{AlertsManage, AlertsRead};
use crate::http::error::ApiResult;
use crate::http::guard::Grant;
use crate::http::json::ApiJson;
use crate::http::respond;
use crate::service::alerts::{self, ListFilter, RuleInput};

pub async fn list(
    State(state): State<AppState>,
    g: Grant<AlertsRead>,
    Query(f): Query<ListFilter>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(alerts::list(&state, &g, &f).await?)))
}

pub async fn get(
    State(state): State<AppState>,
    g: Grant<AlertsRead>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(alerts::get(&state, &g, id).await?)))
}

pub async fn acknowledge(
    State(state): State<AppState>,
    g: Grant<AlertsManage>,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    Ok(respond(StatusCode::OK, alerts::acknowledge(&state, &g, id).await?))
}

pub async fn resolve(
    State(state): State<AppState>,
    g: Grant<AlertsManage>,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    Ok(respond(StatusCode::OK, alerts::resolve(&state, &g, id).await?))
}

pub async fn rules(State(state): State<AppState>, g: Grant<AlertsRead>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"items": alerts::rules(&state, &g).await?})))
}

pub async fn create_rule(
    State(state): State<AppState>,
    g: Grant<AlertsManage>,
    ApiJson(r): ApiJson<RuleInput>,
) -> ApiResult<Response> {
    Ok(respond(StatusCode::CREATED, alerts::create_rule(&state, &g, r).await?))
}

pub async fn update_rule(
    State(state): State<AppState>,
    g: Grant<AlertsManage>,
    Path(id): Path<i64>,
    ApiJson(r): ApiJson<RuleInput>,
) -> ApiResult<Response> {
    Ok(respond(StatusCode::OK, alerts::update_rule(&state, &g, id, r).await?))
}

pub async fn delete_rule(
    State(state): State<AppState>,
    g: Grant<AlertsManage>,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    Ok(respond(StatusCode::OK, alerts::delete_rule(&state, &g, id).await?))
}
