//! Notification channels and deliveries over JSON: adapters over `service::channels`.
//! Secrets go in, never out.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::auth::need::ChannelsManage;
use crate::http::error::ApiResult;
use crate::http::guard::Grant;
use crate::http::json::ApiJson;
use crate::http::{done, respond};
use crate::service::channels::{self, ChannelInput, DeliveryFilter};

pub async fn list(State(state): State<AppState>, g: Grant<ChannelsManage>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"items": channels::list(&state, &g).await?})))
}

pub async fn create(
    State(state): State<AppState>,
    g: Grant<ChannelsManage>,
    ApiJson(b): ApiJson<ChannelInput>,
) -> ApiResult<Response> {
    Ok(respond(StatusCode::CREATED, channels::create(&state, &g, b).await?))
}

pub async fn get(
    State(state): State<AppState>,
    g: Grant<ChannelsManage>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(channels::get(&state, &g, id).await?)))
}

pub async fn update(
    State(state): State<AppState>,
    g: Grant<ChannelsManage>,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<ChannelInput>,
) -> ApiResult<Response> {
    Ok(respond(StatusCode::OK, channels::update(&state, &g, id, b).await?))
}

pub async fn delete(
    State(state): State<AppState>,
    g: Grant<ChannelsManage>,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    Ok(done(channels::delete(&state, &g, id).await?.audit))
}

pub async fn test(
    State(state): State<AppState>,
    g: Grant<ChannelsManage>,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    Ok(respond(StatusCode::ACCEPTED, channels::send_test(&state, &g, id).await?))
}

pub async fn deliveries(
    State(state): State<AppState>,
    g: Grant<ChannelsManage>,
    Query(f): Query<DeliveryFilter>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(channels::deliveries(&state, &g, &f).await?)))
}
