//! Users, roles and API tokens.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use openwatch_store::{CustomRole, NewToken, NewUser};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::{AppState, now_ms};
use crate::auth::rbac::{BUILTIN_ROLES, Permission, builtin_permissions};
use crate::auth::secret::{check_password_strength, hash_password, random_token, token_hash};
use crate::auth::{Caller, TOKEN_PREFIX, role_permissions};
use crate::http::error::{ApiResult, conflict, forbidden, internal, not_found, validation};
use crate::http::json::ApiJson;
use crate::http::{audited, done, note};

async fn known_role(state: &AppState, role: &str) -> ApiResult<()> {
    if builtin_permissions(role).is_some()
        || state.store().custom_roles().await?.iter().any(|r| r.name == role)
    {
        Ok(())
    } else {
        Err(validation("role", format!("unknown role `{role}`")))
    }
}

async fn hash(password: String) -> ApiResult<String> {
    check_password_strength(&password).map_err(|m| validation("password", m))?;
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|_| internal("hashing failed"))?
        .map_err(|e| internal(e.to_string()))
}

pub async fn list(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"items": state.store().list_users().await?})))
}

#[derive(Debug, Deserialize)]
pub struct NewUserBody {
    username: String,
    password: String,
    role: String,
}

pub async fn create(State(state): State<AppState>, ApiJson(b): ApiJson<NewUserBody>) -> ApiResult<Response> {
    let name = b.username.trim();
    if name.is_empty()
        || name.len() > 64
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c))
    {
        return Err(validation("username", "1-64 characters: letters, digits, . _ - @"));
    }
    known_role(&state, &b.role).await?;
    let password_hash = hash(b.password).await?;
    let user = state
        .store()
        .create_user(&NewUser { username: name.to_owned(), password_hash, role: b.role }, now_ms())
        .await?;
    Ok(audited(
        StatusCode::CREATED,
        &user,
        note(format!("user:{}", user.username), json!({"role": user.role})),
    ))
}

#[derive(Debug, Deserialize)]
pub struct UpdateUser {
    role: String,
    #[serde(default)]
    disabled: bool,
}

pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<UpdateUser>,
) -> ApiResult<Response> {
    let user = state.store().user(id).await?.ok_or_else(|| not_found("user"))?;
    known_role(&state, &b.role).await?;
    if id == caller.user_id && (b.disabled || b.role != user.role) {
        return Err(conflict("you cannot change your own role or disable yourself"));
    }
    state.store().update_user(id, &b.role, b.disabled, now_ms()).await?;
    if b.disabled {
        state.store().delete_user_sessions(id).await?;
    }
    let u = state.store().user(id).await?.ok_or_else(|| not_found("user"))?;
    Ok(audited(
        StatusCode::OK,
        &u,
        note(
            format!("user:{}", u.username),
            json!({"role": b.role, "disabled": b.disabled, "was": user.role}),
        ),
    ))
}

#[derive(Debug, Deserialize)]
pub struct PasswordBody {
    password: String,
}

pub async fn reset_password(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<PasswordBody>,
) -> ApiResult<Response> {
    let user = state.store().user(id).await?.ok_or_else(|| not_found("user"))?;
    let h = hash(b.password).await?;
    state.store().set_password(id, &h, now_ms()).await?;
    state.store().delete_user_sessions(id).await?;
    Ok(done(note(format!("user:{}", user.username), json!({}))))
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    if id == caller.user_id {
        return Err(conflict("you cannot delete yourself"));
    }
    let user = state.store().user(id).await?.ok_or_else(|| not_found("user"))?;
    state.store().delete_user(id).await?;
    Ok(done(note(format!("user:{}", user.username), json!({}))))
}

pub async fn roles(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let mut items: Vec<Value> = BUILTIN_ROLES
        .iter()
        .map(|r| json!({"name": r, "builtin": true, "permissions": builtin_permissions(r).unwrap_or_default()}))
        .collect();
    for r in state.store().custom_roles().await? {
        items.push(json!({"name": r.name, "builtin": false, "description": r.description, "permissions": r.permissions}));
    }
    let all: Vec<&str> = Permission::ALL.iter().map(|p| p.as_str()).collect();
    Ok(Json(json!({"items": items, "permissions": all})))
}

pub async fn put_role(State(state): State<AppState>, ApiJson(r): ApiJson<CustomRole>) -> ApiResult<Response> {
    if builtin_permissions(&r.name).is_some() {
        return Err(conflict(format!("`{}` is a built-in role", r.name)));
    }
    if r.name.is_empty() || !r.name.chars().all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit())
    {
        return Err(validation("name", "lower-case letters, digits and _"));
    }
    if let Some(bad) = r.permissions.iter().find(|p| Permission::parse(p).is_none()) {
        return Err(validation("permissions", format!("unknown permission `{bad}`")));
    }
    state.store().put_role(&r, now_ms()).await?;
    Ok(audited(StatusCode::OK, &r, note(format!("role:{}", r.name), json!({"permissions": r.permissions}))))
}

pub async fn delete_role(State(state): State<AppState>, Path(name): Path<String>) -> ApiResult<Response> {
    if state.store().list_users().await?.iter().any(|u| u.role == name) {
        return Err(conflict("the role is assigned to users"));
    }
    if !state.store().delete_role(&name).await? {
        return Err(not_found("custom role"));
    }
    Ok(done(note(format!("role:{name}"), json!({}))))
}

pub async fn list_tokens(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    let scope = if caller.can(Permission::UsersWrite) { None } else { Some(caller.user_id) };
    Ok(Json(json!({"items": state.store().list_tokens(scope).await?})))
}

#[derive(Debug, Deserialize)]
pub struct NewTokenBody {
    name: String,
    role: String,
    expires_in_days: Option<i64>,
}

pub async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<NewTokenBody>,
) -> ApiResult<Response> {
    if b.name.trim().is_empty() {
        return Err(validation("name", "must not be empty"));
    }
    known_role(&state, &b.role).await?;
    let wanted = role_permissions(state.store(), &b.role).await?;
    let owner = role_permissions(state.store(), &caller.role).await?;
    if !wanted.is_subset(&owner) {
        return Err(forbidden(format!(
            "a token cannot have more rights than you: `{}` exceeds `{}`",
            b.role, caller.role
        )));
    }
    let days = b.expires_in_days.unwrap_or(90);
    if !(1..=3650).contains(&days) {
        return Err(validation("expires_in_days", "between 1 and 3650"));
    }
    let secret = random_token(TOKEN_PREFIX);
    let now = now_ms();
    let t = state
        .store()
        .create_token(
            &NewToken {
                user_id: caller.user_id,
                name: b.name.trim().to_owned(),
                role: b.role,
                token_hash: token_hash(&secret),
                expires_at: Some(now + days * 86_400_000),
            },
            now,
        )
        .await?;
    let body = json!({"id": t.id, "token": secret, "name": t.name, "role": t.role, "expires_at": t.expires_at,
        "created_at": t.created_at});
    Ok(audited(
        StatusCode::CREATED,
        body,
        note(format!("token:{}", t.id), json!({"name": t.name, "role": t.role})),
    ))
}

pub async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    let tokens = state.store().list_tokens(None).await?;
    let t = tokens.iter().find(|t| t.id == id).ok_or_else(|| not_found("token"))?;
    if t.user_id != caller.user_id && !caller.can(Permission::UsersWrite) {
        return Err(not_found("token"));
    }
    state.store().revoke_token(id, now_ms()).await?;
    Ok(done(note(format!("token:{id}"), json!({"name": t.name}))))
}
