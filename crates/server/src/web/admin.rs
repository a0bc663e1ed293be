//! Administration: users, API tokens, credentials (secrets write-only) and the audit log.
//! Each section shows only for the permissions that allow it; the handlers check again.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use openwatch_store::{AuditQuery, NewCredential, NewToken, NewUser, PageRequest, SealedSecrets};
use serde::Deserialize;
use serde_json::json;

use super::guard::{CredentialsWrite, SignedIn, TokensWrite, UsersWrite, Viewer, urlencode};
use super::layout::{self, Page, csrf_field, render, when};
use crate::api::credentials::SecretMaterial;
use crate::app::{AppState, now_ms};
use crate::auth::rbac::{BUILTIN_ROLES, Permission};
use crate::auth::secret::{check_password_strength, hash_password, random_token, token_hash};
use crate::auth::{TOKEN_PREFIX, role_permissions};

#[derive(Debug, Deserialize, Default)]
pub struct AuditFilter {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    flash: Option<String>,
    error: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    v: Viewer<SignedIn>,
    Query(q): Query<AuditFilter>,
) -> Response {
    render_page(&state, &v, q, None).await
}

/// The administration page; `new_token` is shown once, right after it was created.
async fn render_page<N: super::guard::Need>(
    state: &AppState,
    v: &Viewer<N>,
    q: AuditFilter,
    new_token: Option<String>,
) -> Response {
    if !layout::can_admin(&v.caller) {
        return layout::forbidden(&v.caller, &v.csrf, Permission::UsersRead);
    }
    let store = state.store();
    let c = &v.caller;
    let users =
        if c.can(Permission::UsersRead) { store.list_users().await.unwrap_or_default() } else { vec![] };
    let tokens = if c.can(Permission::TokensWrite) {
        let scope = if c.can(Permission::UsersWrite) { None } else { Some(c.user_id) };
        store.list_tokens(scope).await.unwrap_or_default()
    } else {
        vec![]
    };
    let custom_roles =
        if c.can(Permission::UsersRead) { store.custom_roles().await.unwrap_or_default() } else { vec![] };
    let creds = if c.can(Permission::CredentialsRead) {
        store.list_credentials().await.unwrap_or_default()
    } else {
        vec![]
    };
    let audit = if c.can(Permission::AuditRead) {
        let query = AuditQuery {
            actor: (!q.actor.is_empty()).then(|| q.actor.clone()),
            action: (!q.action.is_empty()).then(|| q.action.clone()),
            ..Default::default()
        };
        store.list_audit(&query, PageRequest::new(None, Some(100))).await.map(|p| p.items).unwrap_or_default()
    } else {
        vec![]
    };
    let body = html! {
        h1 { "Administration" }
        div.stack {
            @if c.can(Permission::UsersRead) {
                section.card aria-labelledby="users-h" {
                    h2 #users-h { "Users" }
                    table {
                        thead { tr { th { "User" } th { "Role" } th { "State" } th { "Created" } } }
                        tbody { @for u in &users { tr {
                            td { (u.username) }
                            td {
                                @if c.can(Permission::UsersWrite) && u.id != c.user_id {
                                    form.filters method="post" action={"/admin/users/" (u.id)} {
                                        (csrf_field(&v.csrf))
                                        label { span.skip { "Role of " (u.username) } select name="role" { @for r in BUILTIN_ROLES { option value=(r) selected[*r == u.role] { (r) } } @for r in &custom_roles { option value=(r.name) selected[r.name == u.role] { (r.name) } } } }
                                        label { span { input type="checkbox" name="disabled" value="1" checked[u.disabled]; " disabled" } }
                                        button.secondary type="submit" aria-label={"Save " (u.username)} { "Save" }
                                    }
                                } @else { (u.role) }
                            }
                            td { @if u.disabled { "disabled" } @else { "active" } }
                            td.muted { (when(Some(u.created_at))) }
                        } } }
                    }
                    h2 { "Roles" }
                    table {
                        thead { tr { th { "Role" } th { "Permissions" } } }
                        tbody {
                            @for r in BUILTIN_ROLES { tr { td { (r) " " span.muted { "(built in)" } } td.mono { (crate::auth::rbac::builtin_permissions(r).unwrap_or_default().iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ")) } } }
                            @for r in &custom_roles { tr { td { (r.name) } td.mono { (r.permissions.join(", ")) } } }
                        }
                    }
                    @if c.can(Permission::UsersWrite) {
                        h2 { "Create a custom role" }
                        form method="post" action="/admin/roles" class="stack" {
                            (csrf_field(&v.csrf))
                            div.grid {
                                label { "Name (lower case, digits, _)" input name="name" required pattern="[a-z0-9_]+"; }
                                label { "Description" input name="description"; }
                            }
                            fieldset {
                                legend { "Permissions" }
                                @for p in Permission::ALL {
                                    label { span { input type="checkbox" name="permission" value=(p.as_str()); " " (p.as_str()) } }
                                }
                            }
                            button type="submit" { "Create role" }
                        }
                    }
                    @if c.can(Permission::UsersWrite) {
                        h2 { "Add a user" }
                        form.filters method="post" action="/admin/users" {
                            (csrf_field(&v.csrf))
                            label { "User name" input name="username" required; }
                            label { "Password (12+ characters)" input name="password" type="password" autocomplete="new-password" required; }
                            label { "Role" select name="role" { @for r in BUILTIN_ROLES { option value=(r) selected[*r == "viewer"] { (r) } } } }
                            button type="submit" { "Add user" }
                        }
                    }
                }
            }
            @if c.can(Permission::TokensWrite) {
                section.card aria-labelledby="tokens-h" {
                    h2 #tokens-h { "API tokens" }
                    @if let Some(t) = &new_token {
                        div.flash role="status" { "Copy this token now; it is not shown again: " code #new-token { (t) } }
                    }
                    table {
                        thead { tr { th { "Name" } th { "Role" } th { "Expires" } th { "Last used" } th { "State" } th {} } }
                        tbody { @for t in &tokens { tr {
                            td { (t.name) } td { (t.role) } td { (when(t.expires_at)) } td { (when(t.last_used_at)) }
                            td { @if t.revoked { "revoked" } @else { "active" } }
                            td { @if !t.revoked {
                                form method="post" action={"/admin/tokens/" (t.id) "/revoke"} {
                                    (csrf_field(&v.csrf))
                                    button.secondary type="submit" aria-label={"Revoke " (t.name)} { "Revoke" }
                                }
                            } }
                        } } }
                    }
                    h2 { "Create a token" }
                    form.filters method="post" action="/admin/tokens" {
                        (csrf_field(&v.csrf))
                        label { "Name" input name="name" required; }
                        label { "Role (at most yours)" select name="role" { @for r in BUILTIN_ROLES { option value=(r) selected[*r == "viewer"] { (r) } } } }
                        label { "Expires in days" input name="expires_in_days" type="number" min="1" max="3650" value="90"; }
                        button type="submit" { "Create token" }
                    }
                }
            }
            @if c.can(Permission::CredentialsRead) {
                section.card aria-labelledby="creds-h" {
                    h2 #creds-h { "Credentials" }
                    table {
                        thead { tr { th { "Name" } th { "Kind" } th { "User" } th { "Sudo password" } } }
                        tbody { @for cr in &creds { tr { td { (cr.name) } td { (cr.kind) } td { (cr.username.as_deref().unwrap_or("")) } td { @if cr.has_sudo_password { "set" } @else { "—" } } } } }
                    }
                    @if c.can(Permission::CredentialsWrite) {
                        h2 { "Add a credential" }
                        p.muted { "Secrets are encrypted at rest and can never be read back." }
                        form method="post" action="/admin/credentials" class="stack" {
                            (csrf_field(&v.csrf))
                            div.grid {
                                label { "Name" input name="name" required; }
                                label { "Kind" select name="kind" { option value="ssh_key" { "SSH private key" } option value="password" { "password" } } }
                                label { "SSH user" input name="username" value="root"; }
                                label { "Key passphrase (if any)" input name="passphrase" type="password" autocomplete="off"; }
                                label { "Sudo password (if any)" input name="sudo_password" type="password" autocomplete="off"; }
                            }
                            label { "Private key or password" textarea name="secret" required spellcheck="false" {} }
                            button type="submit" { "Add credential" }
                        }
                    }
                }
            }
            @if c.can(Permission::AuditRead) {
                section.card aria-labelledby="audit-h" {
                    h2 #audit-h { "Audit log" }
                    form.filters method="get" action="/admin" {
                        label { "Actor" input name="actor" value=(q.actor); }
                        label { "Action (prefix)" input name="action" value=(q.action) placeholder="e.g. host."; }
                        button type="submit" { "Filter" }
                        a href="/api/v1/audit/export" { "Export (JSON lines)" }
                    }
                    table {
                        thead { tr { th { "#" } th { "When" } th { "Actor" } th { "Action" } th { "Target" } th { "Outcome" } th { "From" } } }
                        tbody { @for e in &audit { tr {
                            td { (e.seq) } td.muted { (when(Some(e.at))) } td { (e.actor) } td.mono { (e.action) }
                            td.mono { (e.target) } td { (e.outcome) } td.mono { (e.source) }
                        } } }
                    }
                }
            }
        }
    };
    let flash = q.error.map(|e| (true, e)).or(q.flash.map(|m| (false, m)));
    render(
        &Page {
            caller: &v.caller,
            csrf: &v.csrf,
            title: "Administration",
            section: "Administration",
            live: false,
            flash,
        },
        body,
    )
}

fn back(flash: &str, error: bool) -> Response {
    Redirect::to(&format!("/admin?{}={}", if error { "error" } else { "flash" }, urlencode(flash)))
        .into_response()
}

#[derive(Deserialize)]
pub struct CredentialForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    name: String,
    kind: String,
    #[serde(default)]
    username: String,
    secret: String,
    #[serde(default)]
    passphrase: String,
    #[serde(default)]
    sudo_password: String,
}

impl std::fmt::Debug for CredentialForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialForm").field("name", &self.name).finish_non_exhaustive()
    }
}

pub async fn create_credential(
    State(state): State<AppState>,
    v: Viewer<CredentialsWrite>,
    Form(f): Form<CredentialForm>,
) -> Response {
    if let Some(r) = v.csrf_rejection(&f.csrf) {
        return r;
    }
    let passphrase = (!f.passphrase.is_empty()).then_some(f.passphrase);
    let secret = f.secret.replace("\r\n", "\n");
    let valid = match f.kind.as_str() {
        "ssh_key" => russh::keys::decode_secret_key(&secret, passphrase.as_deref())
            .map(|_| ())
            .map_err(|e| format!("not a usable private key: {e}")),
        "password" if !secret.is_empty() => Ok(()),
        _ => Err("choose SSH private key or password and give the secret".into()),
    };
    if let Err(e) =
        valid.and_then(|()| if f.name.trim().is_empty() { Err("a name is required".into()) } else { Ok(()) })
    {
        return back(&e, true);
    }
    let sealed = (|| {
        let material =
            serde_json::to_vec(&SecretMaterial { secret, passphrase }).map_err(|e| e.to_string())?;
        Ok::<_, String>(SealedSecrets {
            secret: state.key.seal(&material).map_err(|e| e.to_string())?,
            sudo_secret: (!f.sudo_password.is_empty())
                .then(|| state.key.seal(f.sudo_password.as_bytes()))
                .transpose()
                .map_err(|e| e.to_string())?,
        })
    })();
    let sealed = match sealed {
        Ok(s) => s,
        Err(e) => return back(&e, true),
    };
    let username = (!f.username.trim().is_empty()).then(|| f.username.trim().to_owned());
    match state
        .store()
        .create_credential(
            &NewCredential { name: f.name.trim().to_owned(), kind: f.kind, username, sealed },
            now_ms(),
        )
        .await
    {
        Ok(c) => {
            v.audit(
                &state,
                "credential.create",
                &format!("credential:{}", c.name),
                "success",
                json!({"kind": c.kind, "via": "web"}),
            )
            .await;
            back(&format!("Credential {} stored", c.name), false)
        }
        Err(e) => back(&e.to_string(), true),
    }
}

#[derive(Deserialize)]
pub struct UserForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    username: String,
    password: String,
    role: String,
}

impl std::fmt::Debug for UserForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserForm").field("username", &self.username).finish_non_exhaustive()
    }
}

pub async fn create_user(
    State(state): State<AppState>,
    v: Viewer<UsersWrite>,
    Form(f): Form<UserForm>,
) -> Response {
    if let Some(r) = v.csrf_rejection(&f.csrf) {
        return r;
    }
    if let Err(e) = check_password_strength(&f.password) {
        return back(&e, true);
    }
    if !BUILTIN_ROLES.contains(&f.role.as_str()) {
        return back("unknown role", true);
    }
    let pw = f.password.clone();
    let Ok(Ok(password_hash)) = tokio::task::spawn_blocking(move || hash_password(&pw)).await else {
        return back("hashing the password failed", true);
    };
    match state
        .store()
        .create_user(
            &NewUser { username: f.username.trim().to_owned(), password_hash, role: f.role.clone() },
            now_ms(),
        )
        .await
    {
        Ok(u) => {
            v.audit(
                &state,
                "user.create",
                &format!("user:{}", u.username),
                "success",
                json!({"role": u.role, "via": "web"}),
            )
            .await;
            back(&format!("User {} added", u.username), false)
        }
        Err(e) => back(&e.to_string(), true),
    }
}

#[derive(Deserialize)]
pub struct UserUpdateForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    role: String,
    disabled: Option<String>,
}

impl std::fmt::Debug for UserUpdateForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserUpdateForm").field("role", &self.role).finish_non_exhaustive()
    }
}

pub async fn update_user(
    State(state): State<AppState>,
    v: Viewer<UsersWrite>,
    Path(id): Path<i64>,
    Form(f): Form<UserUpdateForm>,
) -> Response {
    if let Some(r) = v.csrf_rejection(&f.csrf) {
        return r;
    }
    if id == v.caller.user_id {
        return back("you cannot change your own role or disable yourself", true);
    }
    let custom = state.store().custom_roles().await.unwrap_or_default();
    if !BUILTIN_ROLES.contains(&f.role.as_str()) && !custom.iter().any(|r| r.name == f.role) {
        return back("unknown role", true);
    }
    let Ok(Some(user)) = state.store().user(id).await else { return back("no such user", true) };
    let disabled = f.disabled.is_some();
    if let Err(e) = state.store().update_user(id, &f.role, disabled, now_ms()).await {
        return back(&e.to_string(), true);
    }
    if disabled {
        let _ = state.store().delete_user_sessions(id).await;
    }
    let details = json!({"role": f.role, "disabled": disabled, "was": user.role, "via": "web"});
    v.audit(&state, "user.update", &format!("user:{}", user.username), "success", details).await;
    back(&format!("User {} saved", user.username), false)
}

#[derive(Debug, Deserialize)]
pub struct TokenForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    name: String,
    role: String,
    expires_in_days: Option<i64>,
}

pub async fn create_token(
    State(state): State<AppState>,
    v: Viewer<TokensWrite>,
    Form(f): Form<TokenForm>,
) -> Response {
    if let Some(r) = v.csrf_rejection(&f.csrf) {
        return r;
    }
    let store = state.store();
    let (Ok(wanted), Ok(own)) =
        (role_permissions(store, &f.role).await, role_permissions(store, &v.caller.role).await)
    else {
        return back("the roles could not be read", true);
    };
    let days = f.expires_in_days.unwrap_or(90);
    if f.name.trim().is_empty() || !BUILTIN_ROLES.contains(&f.role.as_str()) || !(1..=3650).contains(&days) {
        return back("a token needs a name, a role and 1 to 3650 days", true);
    }
    if !wanted.is_subset(&own) {
        return back(
            &format!("a token cannot have more rights than you: {} exceeds {}", f.role, v.caller.role),
            true,
        );
    }
    let secret = random_token(TOKEN_PREFIX);
    let now = now_ms();
    let token = NewToken {
        user_id: v.caller.user_id,
        name: f.name.trim().to_owned(),
        role: f.role.clone(),
        token_hash: token_hash(&secret),
        expires_at: Some(now + days * 86_400_000),
    };
    match store.create_token(&token, now).await {
        Ok(t) => {
            v.audit(
                &state,
                "token.create",
                &format!("token:{}", t.id),
                "success",
                json!({"name": t.name, "role": t.role, "via": "web"}),
            )
            .await;
            render_page(&state, &v, AuditFilter::default(), Some(secret)).await
        }
        Err(e) => back(&e.to_string(), true),
    }
}

pub async fn revoke_token(
    State(state): State<AppState>,
    v: Viewer<TokensWrite>,
    Path(id): Path<i64>,
    Form(f): Form<super::login::CsrfOnly>,
) -> Response {
    if let Some(r) = v.csrf_rejection(&f.csrf) {
        return r;
    }
    let tokens = state.store().list_tokens(None).await.unwrap_or_default();
    let Some(t) = tokens.iter().find(|t| t.id == id) else { return back("no such token", true) };
    if t.user_id != v.caller.user_id && !v.caller.can(Permission::UsersWrite) {
        return back("no such token", true);
    }
    if let Err(e) = state.store().revoke_token(id, now_ms()).await {
        return back(&e.to_string(), true);
    }
    v.audit(&state, "token.revoke", &format!("token:{id}"), "success", json!({"name": t.name, "via": "web"}))
        .await;
    back(&format!("Token {} revoked", t.name), false)
}

/// Create (or replace) a custom role from the form's repeated `permission` checkboxes.
pub async fn put_role(State(state): State<AppState>, v: Viewer<UsersWrite>, body: String) -> Response {
    let pairs = super::guard::form_pairs(&body);
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map_or(String::new(), |(_, v)| v.clone());
    if let Some(r) = v.csrf_rejection(&get("_csrf")) {
        return r;
    }
    let name = get("name").trim().to_owned();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
        return back("role names use lower-case letters, digits and _", true);
    }
    if BUILTIN_ROLES.contains(&name.as_str()) {
        return back(&format!("{name} is a built-in role"), true);
    }
    let permissions: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "permission")
        .filter(|(_, p)| Permission::parse(p).is_some())
        .map(|(_, p)| p.clone())
        .collect();
    let role =
        openwatch_store::CustomRole { name: name.clone(), description: get("description"), permissions };
    if let Err(e) = state.store().put_role(&role, now_ms()).await {
        return back(&e.to_string(), true);
    }
    v.audit(
        &state,
        "role.put",
        &format!("role:{name}"),
        "success",
        json!({"permissions": role.permissions, "via": "web"}),
    )
    .await;
    back(&format!("Role {name} saved"), false)
}
