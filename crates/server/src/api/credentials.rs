//! Credentials over JSON: adapters over `service::credentials`. Secrets go in, never out.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::auth::need::{CredentialsRead, CredentialsWrite};
use crate::http::error::ApiResult;
use crate::http::guard::Grant;
use crate::http::json::ApiJson;
use crate::http::{done, respond};
use crate::service::credentials::{self, NewCredentialInput};

pub async fn list(State(state): State<AppState>, g: Grant<CredentialsRead>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"items": credentials::list(&state, &g).await?})))
}

pub async fn create(
    State(state): State<AppState>,
    g: Grant<CredentialsWrite>,
    ApiJson(b): ApiJson<NewCredentialInput>,
) -> ApiResult<Response> {
    Ok(respond(StatusCode::CREATED, credentials::create(&state, &g, b).await?))
}

pub async fn delete(
    State(state): State<AppState>,
    g: Grant<CredentialsWrite>,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    Ok(done(credentials::delete(&state, &g, id).await?.audit))
}
