//! Users, roles and API tokens. Nobody hands out more than they hold: a role, a user's
//! role or a token may only carry permissions the caller has, and a caller cannot change,
//! reset or delete a user more privileged than themselves. Taking an account's password
//! or disabling it also ends its sessions and revokes its tokens.

use std::collections::BTreeSet;

use openwatch_store::{ApiToken, CustomRole, NewToken, NewUser, User};
use serde::Serialize;
use serde_json::json;

use super::{Done, ServiceError, ServiceResult, note};
use crate::app::{AppState, now_ms};
use crate::auth::need::{TokensWrite, UsersRead, UsersWrite};
use crate::auth::rbac::{BUILTIN_ROLES, Permission, builtin_permissions};
use crate::auth::secret::{PasswordGate, check_password_strength, hash_password, random_token, token_hash};
use crate::auth::{Caller, TOKEN_PREFIX, Via, lookup_role, parse_permissions};
use crate::http::guard::Grant;

/// The permissions of a role that exists (built in or custom).
async fn known_role(state: &AppState, role: &str) -> ServiceResult<BTreeSet<Permission>> {
    lookup_role(state.store(), role)
        .await?
        .ok_or_else(|| ServiceError::invalid("role", format!("unknown role `{role}`")))
}

/// Refuse handing out permissions the caller lacks.
fn within(caller: &Caller, wanted: &BTreeSet<Permission>, what: &str) -> ServiceResult<()> {
    let extra: Vec<&str> = wanted.difference(&caller.permissions).map(|p| p.as_str()).collect();
    if extra.is_empty() {
        Ok(())
    } else {
        Err(ServiceError::Forbidden(format!("{what} would have permissions you lack: {}", extra.join(", "))))
    }
}

/// Load a user the caller may manage: one whose permissions are within the caller's.
async fn manageable(state: &AppState, caller: &Caller, id: i64) -> ServiceResult<User> {
    let user = state.store().user(id).await?.ok_or(ServiceError::NotFound("user"))?;
    let theirs = lookup_role(state.store(), &user.role).await?.unwrap_or_default();
    if !theirs.is_subset(&caller.permissions) {
        return Err(ServiceError::Forbidden(format!(
            "{} ({}) holds permissions you lack; only someone holding them can change this account",
            user.username, user.role
        )));
    }
    Ok(user)
}

fn check_username(name: &str) -> ServiceResult<()> {
    if name.is_empty()
        || name.len() > 64
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c))
    {
        return Err(ServiceError::invalid("username", "1-64 characters: letters, digits, . _ - @"));
    }
    Ok(())
}

/// Hash through the process's password gate, so account changes share the sign-in bound on
/// concurrent argon2 runs.
async fn hash(password: String) -> ServiceResult<String> {
    check_password_strength(&password).map_err(|m| ServiceError::invalid("password", m))?;
    PasswordGate::global()
        .run(move || hash_password(&password))
        .await
        .map_err(ServiceError::internal)?
        .map_err(ServiceError::internal)
}

/// End every way an account is signed in: sessions and API tokens.
async fn sign_out_everywhere(state: &AppState, user_id: i64) -> ServiceResult<usize> {
    state.store().delete_user_sessions(user_id).await?;
    let now = now_ms();
    let mut revoked = 0;
    for t in state.store().list_tokens(Some(user_id)).await?.into_iter().filter(|t| !t.revoked) {
        if state.store().revoke_token(t.id, now).await? {
            revoked += 1;
        }
    }
    Ok(revoked)
}

pub async fn list(state: &AppState, _: &Grant<UsersRead>) -> ServiceResult<Vec<User>> {
    Ok(state.store().list_users().await?)
}

#[derive(Debug)]
pub struct NewUserInput {
    pub username: String,
    pub password: String,
    pub role: String,
}

pub async fn create(
    state: &AppState,
    g: &Grant<UsersWrite>,
    input: NewUserInput,
) -> ServiceResult<Done<User>> {
    let username = input.username.trim().to_owned();
    check_username(&username)?;
    let wanted = known_role(state, &input.role).await?;
    within(g.caller(), &wanted, &format!("the role `{}`", input.role))?;
    let password_hash = hash(input.password).await?;
    let user =
        state.store().create_user(&NewUser { username, password_hash, role: input.role }, now_ms()).await?;
    let audit = note(format!("user:{}", user.username), json!({"role": user.role}));
    Ok(Done::new(user, audit))
}

pub async fn update(
    state: &AppState,
    g: &Grant<UsersWrite>,
    id: i64,
    role: &str,
    disabled: bool,
) -> ServiceResult<Done<User>> {
    let user = manageable(state, g.caller(), id).await?;
    let wanted = known_role(state, role).await?;
    if id == g.caller().user_id && (disabled || role != user.role) {
        return Err(ServiceError::Conflict("you cannot change your own role or disable yourself".into()));
    }
    within(g.caller(), &wanted, &format!("the role `{role}`"))?;
    state.store().update_user(id, role, disabled, now_ms()).await?;
    let revoked = if disabled && !user.disabled { sign_out_everywhere(state, id).await? } else { 0 };
    let u = state.store().user(id).await?.ok_or(ServiceError::NotFound("user"))?;
    let audit = note(
        format!("user:{}", u.username),
        json!({"role": role, "disabled": disabled, "was": user.role, "tokens_revoked": revoked}),
    );
    Ok(Done::new(u, audit))
}

pub async fn reset_password(
    state: &AppState,
    g: &Grant<UsersWrite>,
    id: i64,
    password: String,
) -> ServiceResult<Done<User>> {
    let user = manageable(state, g.caller(), id).await?;
    let h = hash(password).await?;
    state.store().set_password(id, &h, now_ms()).await?;
    let revoked = sign_out_everywhere(state, id).await?;
    let audit =
        note(format!("user:{}", user.username), json!({"tokens_revoked": revoked, "sessions_ended": true}));
    Ok(Done::new(user, audit))
}

pub async fn delete(state: &AppState, g: &Grant<UsersWrite>, id: i64) -> ServiceResult<Done<()>> {
    if id == g.caller().user_id {
        return Err(ServiceError::Conflict("you cannot delete yourself".into()));
    }
    let user = manageable(state, g.caller(), id).await?;
    sign_out_everywhere(state, id).await?;
    state.store().delete_user(id).await?;
    Ok(Done::new((), note(format!("user:{}", user.username), json!({}))))
}

/// A role as listed: built in or custom, with its permissions.
#[derive(Debug, Serialize)]
pub struct RoleView {
    pub name: String,
    pub builtin: bool,
    pub description: String,
    pub permissions: Vec<&'static str>,
}

pub async fn roles(state: &AppState, _: &Grant<UsersRead>) -> ServiceResult<Vec<RoleView>> {
    let mut out: Vec<RoleView> = BUILTIN_ROLES
        .iter()
        .map(|r| RoleView {
            name: (*r).to_owned(),
            builtin: true,
            description: String::new(),
            permissions: builtin_permissions(r).unwrap_or_default().iter().map(|p| p.as_str()).collect(),
        })
        .collect();
    for r in state.store().custom_roles().await? {
        let permissions =
            r.permissions.iter().filter_map(|p| Permission::parse(p)).map(|p| p.as_str()).collect();
        out.push(RoleView { name: r.name, builtin: false, description: r.description, permissions });
    }
    Ok(out)
}

pub async fn put_role(
    state: &AppState,
    g: &Grant<UsersWrite>,
    role: CustomRole,
) -> ServiceResult<Done<CustomRole>> {
    let name = role.name.trim().to_owned();
    if builtin_permissions(&name).is_some() {
        return Err(ServiceError::Conflict(format!("`{name}` is a built-in role")));
    }
    if name.is_empty()
        || name.len() > 64
        || !name.chars().all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit())
    {
        return Err(ServiceError::invalid("name", "lower-case letters, digits and _"));
    }
    let mut wanted = BTreeSet::new();
    for p in &role.permissions {
        wanted.insert(
            Permission::parse(p)
                .ok_or_else(|| ServiceError::invalid("permissions", format!("unknown permission `{p}`")))?,
        );
    }
    within(g.caller(), &wanted, &format!("the role `{name}`"))?;
    // Replacing a role changes the rights of everyone holding it: only within the caller's.
    if let Some(old) = state.store().custom_roles().await?.into_iter().find(|r| r.name == name) {
        let had = parse_permissions(&old.permissions);
        within(g.caller(), &had, &format!("the role `{name}` as it stands"))?;
    }
    let role = CustomRole {
        name,
        description: role.description,
        permissions: wanted.iter().map(|p| p.as_str().to_owned()).collect(),
    };
    state.store().put_role(&role, now_ms()).await?;
    let audit = note(format!("role:{}", role.name), json!({"permissions": role.permissions}));
    Ok(Done::new(role, audit))
}

pub async fn delete_role(state: &AppState, g: &Grant<UsersWrite>, name: &str) -> ServiceResult<Done<()>> {
    let Some(old) = state.store().custom_roles().await?.into_iter().find(|r| r.name == name) else {
        return Err(ServiceError::NotFound("custom role"));
    };
    let had = parse_permissions(&old.permissions);
    within(g.caller(), &had, &format!("the role `{name}`"))?;
    if state.store().list_users().await?.iter().any(|u| u.role == name) {
        return Err(ServiceError::Conflict("the role is assigned to users".into()));
    }
    if !state.store().delete_role(name).await? {
        return Err(ServiceError::NotFound("custom role"));
    }
    Ok(Done::new((), note(format!("role:{name}"), json!({}))))
}

/// Tokens the caller may see: their own, or everyone's for user administrators.
pub async fn list_tokens(state: &AppState, g: &Grant<TokensWrite>) -> ServiceResult<Vec<ApiToken>> {
    let scope = if g.caller().can(Permission::UsersWrite) { None } else { Some(g.caller().user_id) };
    Ok(state.store().list_tokens(scope).await?)
}

#[derive(Debug)]
pub struct NewTokenInput {
    pub name: String,
    pub role: String,
    pub expires_in_days: Option<i64>,
}

/// A token just created; `secret` is shown this once.
#[derive(Serialize)]
pub struct CreatedToken {
    pub id: i64,
    pub token: String,
    pub name: String,
    pub role: String,
    pub expires_at: Option<i64>,
    pub created_at: i64,
}

impl std::fmt::Debug for CreatedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedToken").field("id", &self.id).field("name", &self.name).finish_non_exhaustive()
    }
}

/// A token carries at most the caller's effective permissions; one made by a token also
/// expires no later than that token.
pub async fn create_token(
    state: &AppState,
    g: &Grant<TokensWrite>,
    input: NewTokenInput,
) -> ServiceResult<Done<CreatedToken>> {
    let name = input.name.trim().to_owned();
    if name.is_empty() || name.len() > 100 {
        return Err(ServiceError::invalid("name", "1-100 characters"));
    }
    super::factors::require_fresh(state, g.caller(), "creating an API token").await?;
    let wanted = known_role(state, &input.role).await?;
    within(g.caller(), &wanted, &format!("a token with the role `{}`", input.role))?;
    let days = input.expires_in_days.unwrap_or(90);
    if !(1..=3650).contains(&days) {
        return Err(ServiceError::invalid("expires_in_days", "between 1 and 3650"));
    }
    let now = now_ms();
    let mut expires_at = now + days * 86_400_000;
    if let Via::Token { expires_at: Some(parent), .. } = g.caller().via {
        expires_at = expires_at.min(parent);
    }
    let secret = random_token(TOKEN_PREFIX);
    let token = NewToken {
        user_id: g.caller().user_id,
        name,
        role: input.role,
        token_hash: token_hash(&secret),
        expires_at: Some(expires_at),
    };
    let t = state.store().create_token(&token, now).await?;
    let audit = note(format!("token:{}", t.id), json!({"name": t.name, "role": t.role}));
    let created = CreatedToken {
        id: t.id,
        token: secret,
        name: t.name,
        role: t.role,
        expires_at: t.expires_at,
        created_at: t.created_at,
    };
    Ok(Done::new(created, audit))
}

pub async fn revoke_token(state: &AppState, g: &Grant<TokensWrite>, id: i64) -> ServiceResult<Done<()>> {
    let tokens = state.store().list_tokens(None).await?;
    let t = tokens.iter().find(|t| t.id == id).ok_or(ServiceError::NotFound("token"))?;
    if t.user_id != g.caller().user_id && !g.caller().can(Permission::UsersWrite) {
        return Err(ServiceError::NotFound("token"));
    }
    state.store().revoke_token(id, now_ms()).await?;
    Ok(Done::new((), note(format!("token:{id}"), json!({"name": t.name}))))
}
