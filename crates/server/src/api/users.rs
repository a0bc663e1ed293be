//! Users, roles and API tokens over JSON: adapters over `service::users`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use openwatch_store::CustomRole;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::auth::need::{TokensWrite, UsersRead, UsersWrite};
use crate::auth::rbac::Permission;
use crate::http::error::ApiResult;
use crate::http::guard::Grant;
use crate::http::json::ApiJson;
use crate::http::{done, respond};
use crate::service::users::{self, NewTokenInput, NewUserInput};

pub async fn list(State(state): State<AppState>, g: Grant<UsersRead>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"items": users::list(&state, &g).await?})))
}

#[derive(Deserialize)]
pub struct NewUserBody {
    username: String,
    password: String,
    role: String,
}

impl std::fmt::Debug for NewUserBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUserBody").field("username", &self.username).finish_non_exhaustive()
    }
}

pub async fn create(
    State(state): State<AppState>,
    g: Grant<UsersWrite>,
    ApiJson(b): ApiJson<NewUserBody>,
) -> ApiResult<Response> {
    let input = NewUserInput { username: b.username, password: b.password, role: b.role };
    Ok(respond(StatusCode::CREATED, users::create(&state, &g, input).await?))
}

#[derive(Debug, Deserialize)]
pub struct UpdateUser {
    role: String,
    #[serde(default)]
    disabled: bool,
}

pub async fn update(
    State(state): State<AppState>,
    g: Grant<UsersWrite>,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<UpdateUser>,
) -> ApiResult<Response> {
    Ok(respond(StatusCode::OK, users::update(&state, &g, id, &b.role, b.disabled).await?))
}

#[derive(Deserialize)]
pub struct PasswordBody {
    password: String,
}

impl std::fmt::Debug for PasswordBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordBody")
    }
}

pub async fn reset_password(
    State(state): State<AppState>,
    g: Grant<UsersWrite>,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<PasswordBody>,
) -> ApiResult<Response> {
    Ok(done(users::reset_password(&state, &g, id, b.password).await?.audit))
}

pub async fn delete(
    State(state): State<AppState>,
    g: Grant<UsersWrite>,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    Ok(done(users::delete(&state, &g, id).await?.audit))
}

pub async fn roles(State(state): State<AppState>, g: Grant<UsersRead>) -> ApiResult<Json<Value>> {
    let all: Vec<&str> = Permission::ALL.iter().map(|p| p.as_str()).collect();
    Ok(Json(json!({"items": users::roles(&state, &g).await?, "permissions": all})))
}

pub async fn put_role(
    State(state): State<AppState>,
    g: Grant<UsersWrite>,
    ApiJson(r): ApiJson<CustomRole>,
) -> ApiResult<Response> {
    Ok(respond(StatusCode::OK, users::put_role(&state, &g, r).await?))
}

pub async fn delete_role(
    State(state): State<AppState>,
    g: Grant<UsersWrite>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    Ok(done(users::delete_role(&state, &g, &name).await?.audit))
}

pub async fn list_tokens(State(state): State<AppState>, g: Grant<TokensWrite>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"items": users::list_tokens(&state, &g).await?})))
}

#[derive(Debug, Deserialize)]
pub struct NewTokenBody {
    name: String,
    role: String,
    expires_in_days: Option<i64>,
}

pub async fn create_token(
    State(state): State<AppState>,
    g: Grant<TokensWrite>,
    ApiJson(b): ApiJson<NewTokenBody>,
) -> ApiResult<Response> {
    let input = NewTokenInput { name: b.name, role: b.role, expires_in_days: b.expires_in_days };
    Ok(respond(StatusCode::CREATED, users::create_token(&state, &g, input).await?))
}

pub async fn revoke_token(
    State(state): State<AppState>,
    g: Grant<TokensWrite>,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    Ok(done(users::revoke_token(&state, &g, id).await?.audit))
}
