//! Administration: users (with password resets), API tokens, credentials (secrets
//! write-only; unused ones deleted) and the audit log. Each section shows only for the
//! permissions that allow it; the handlers check again. A form that fails comes back with
//! what was typed in it, secrets excepted.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use openwatch_store::{AuditQuery, PageRequest};
use serde::Deserialize;

use super::guard::{CredentialsWrite, SignedIn, TokensWrite, UsersWrite, Viewer};
use super::layout::{self, Page, csrf_field, render, when};
use crate::app::AppState;
use crate::auth::rbac::{BUILTIN_ROLES, Permission};
use crate::service::credentials::{self, NewCredentialInput};
use crate::service::users::{self, NewTokenInput, NewUserInput};
use crate::service::{AuditNote, Done, ServiceError, ServiceResult};

#[derive(Debug, Deserialize, Default)]
pub struct AuditFilter {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    flash: Option<String>,
    sig: Option<String>,
    error: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    v: Viewer<SignedIn>,
    Query(q): Query<AuditFilter>,
) -> Response {
    render_page(&state, &v, q, None, &Kept::default()).await
}

/// What a failed form post typed (secrets never kept) and why it failed, to show the form
/// again as it was.
#[derive(Debug, Default)]
struct Kept {
    /// Which form: `user`, `credential`, `token` or `role`.
    form: &'static str,
    values: Vec<(&'static str, String)>,
    error: Option<String>,
}

impl Kept {
    /// The typed value of a field of `form`, or `default` when that form was not submitted.
    fn get<'a>(&'a self, form: &str, field: &str, default: &'a str) -> &'a str {
        if self.form != form {
            return default;
        }
        self.values.iter().find(|(k, _)| *k == field).map_or("", |(_, v)| v.as_str())
    }

    fn has(&self, form: &str, field: &str, value: &str) -> bool {
        self.form == form && self.values.iter().any(|(k, v)| *k == field && v == value)
    }
}

/// The administration page; `new_token` is shown once, right after it was created.
async fn render_page<N: super::guard::Need>(
    state: &AppState,
    v: &Viewer<N>,
    q: AuditFilter,
    new_token: Option<String>,
    kept: &Kept,
) -> Response {
    if !layout::can_admin(&v.caller) {
        return layout::forbidden(&v.caller, &v.csrf, Permission::UsersRead);
    }
    let store = state.store();
    let c = &v.caller;
    // Each section loads only for the permissions that show it; a storage failure is a
    // readable error page (details in the log), never a silently empty section.
    let loaded = async {
        let users = if c.can(Permission::UsersRead) { store.list_users().await? } else { vec![] };
        let tokens = if c.can(Permission::TokensWrite) {
            let scope = if c.can(Permission::UsersWrite) { None } else { Some(c.user_id) };
            store.list_tokens(scope).await?
        } else {
            vec![]
        };
        let custom_roles = if c.can(Permission::UsersRead) || c.can(Permission::TokensWrite) {
            store.custom_roles().await?
        } else {
            vec![]
        };
        let mut factors = std::collections::HashMap::new();
        for u in &users {
            factors.insert(u.id, crate::auth::second_factor::enrolled(store, u.id).await?);
        }
        let creds = if c.can(Permission::CredentialsRead) { store.list_credentials().await? } else { vec![] };
        let audit = if c.can(Permission::AuditRead) {
            let query = AuditQuery {
                actor: (!q.actor.is_empty()).then(|| q.actor.clone()),
                action: (!q.action.is_empty()).then(|| q.action.clone()),
                ..Default::default()
            };
            store.list_audit(&query, PageRequest::new(None, Some(100))).await?.items
        } else {
            vec![]
        };
        Ok::<_, openwatch_store::StoreError>((users, factors, tokens, custom_roles, creds, audit))
    };
    let (users, factors, tokens, custom_roles, creds, audit) = match loaded.await {
        Ok(x) => x,
        Err(e) => return super::page_error(&v.caller, &crate::service::ServiceError::from(e)),
    };
    let body = html! {
        h1 { "Administration" }
        div.stack {
            @if c.can(Permission::UsersRead) {
                section.card aria-labelledby="users-h" {
                    h2 #users-h { "Users" }
                    table {
                        thead { tr { th { "User" } th { "Role" } th { "State" } th { "Second factor" } th { "Created" } @if c.can(Permission::UsersWrite) { th { "Password" } } } }
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
                            @let f = factors.get(&u.id).copied().unwrap_or_default();
                            td {
                                (factor_summary(&f))
                                @if crate::service::factors::required(state, &u.role) { " " span.muted { "(required)" } }
                                @if f.any() && c.can(Permission::UsersWrite) && u.id != c.user_id {
                                    form method="post" action={"/admin/users/" (u.id) "/factors/reset"} {
                                        (csrf_field(&v.csrf))
                                        button.secondary type="submit" aria-label={"Reset the second factors of " (u.username)} { "Reset" }
                                    }
                                }
                            }
                            td.muted { (when(Some(u.created_at))) }
                            @if c.can(Permission::UsersWrite) { td {
                                form.filters method="post" action={"/admin/users/" (u.id) "/password"} {
                                    (csrf_field(&v.csrf))
                                    label { span.skip { "New password for " (u.username) } input name="password" type="password" autocomplete="new-password" minlength="12" required; }
                                    button.secondary type="submit" aria-label={"Reset the password of " (u.username)} { "Set password" }
                                }
                            } }
                        } } }
                    }
                    h2 #sign-in-h { "Sign-in" }
                    (sign_in_policy(state))
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
                                label { "Name (lower case, digits, _)" input name="name" required pattern="[a-z0-9_]+" value=(kept.get("role", "name", "")); }
                                label { "Description" input name="description" value=(kept.get("role", "description", "")); }
                            }
                            fieldset {
                                legend { "Permissions" }
                                @for p in Permission::ALL {
                                    label { span { input type="checkbox" name="permission" value=(p.as_str()) checked[kept.has("role", "permission", p.as_str())]; " " (p.as_str()) } }
                                }
                            }
                            button type="submit" { "Create role" }
                        }
                    }
                    @if c.can(Permission::UsersWrite) {
                        h2 { "Add a user" }
                        form.filters method="post" action="/admin/users" {
                            (csrf_field(&v.csrf))
                            label { "User name" input name="username" required value=(kept.get("user", "username", "")); }
                            label { "Password (12+ characters)" input name="password" type="password" autocomplete="new-password" required; }
                            @let role = kept.get("user", "role", "viewer");
                            label { "Role" select name="role" { @for r in BUILTIN_ROLES { option value=(r) selected[*r == role] { (r) } } @for r in &custom_roles { option value=(r.name) selected[r.name == role] { (r.name) } } } }
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
                    p.muted { "If you have a second factor, confirm a code on " a href="/profile" { "your account page" } " first (valid ten minutes)." }
                    form.filters method="post" action="/admin/tokens" {
                        (csrf_field(&v.csrf))
                        label { "Name" input name="name" required value=(kept.get("token", "name", "")); }
                        @let role = kept.get("token", "role", "viewer");
                        label { "Role (at most yours)" select name="role" { @for r in BUILTIN_ROLES { option value=(r) selected[*r == role] { (r) } } @for r in &custom_roles { option value=(r.name) selected[r.name == role] { (r.name) } } } }
                        label { "Expires in days" input name="expires_in_days" type="number" min="1" max="3650" value=(kept.get("token", "expires_in_days", "90")); }
                        button type="submit" { "Create token" }
                    }
                }
            }
            @if c.can(Permission::CredentialsRead) {
                section.card aria-labelledby="creds-h" {
                    h2 #creds-h { "Credentials" }
                    table {
                        thead { tr { th { "Name" } th { "Kind" } th { "User" } th { "Sudo password" } @if c.can(Permission::CredentialsWrite) { th {} } } }
                        tbody { @for cr in &creds { tr {
                            td { (cr.name) } td { (cr.kind) } td { (cr.username.as_deref().unwrap_or("")) } td { @if cr.has_sudo_password { "set" } @else { "—" } }
                            @if c.can(Permission::CredentialsWrite) { td { a.button.secondary href={"/admin/credentials/" (cr.id) "/delete"} aria-label={"Delete " (cr.name)} { "Delete" } } }
                        } } }
                    }
                    @if c.can(Permission::CredentialsWrite) {
                        h2 { "Add a credential" }
                        p.muted { "Secrets are encrypted at rest and can never be read back." }
                        form method="post" action="/admin/credentials" class="stack" {
                            (csrf_field(&v.csrf))
                            div.grid {
                                label { "Name" input name="name" required value=(kept.get("credential", "name", "")); }
                                label { "Kind" select name="kind" { option value="ssh_key" { "SSH private key" } option value="password" selected[kept.has("credential", "kind", "password")] { "password" } } }
                                label { "SSH user (used for hosts that name none)" input name="username" value=(kept.get("credential", "username", "root")); }
                                label { "Key passphrase (if any)" input name="passphrase" type="password" autocomplete="off"; }
                                label { "Sudo password (if any)" input name="sudo_password" type="password" autocomplete="off"; }
                            }
                            label { "Private key or password" textarea name="secret" required spellcheck="false" {} }
                            button type="submit" { "Add credential" }
                        }
                    }
                }
            }
            @if c.can(Permission::ChannelsManage) {
                section.card aria-labelledby="channels-h" {
                    h2 #channels-h { "Notification channels" }
                    p { a href="/admin/channels" { "Webhooks, Slack and email channels" } ", their test messages and deliveries." }
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
    let flash = match &kept.error {
        Some(e) => Some((true, e.clone())),
        None => crate::web::flash_message(&v.csrf, q.flash.clone(), q.error.clone(), q.sig.as_deref()),
    };
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

fn back(csrf: &str, message: &str, result: Result<AuditNote, &ServiceError>) -> Response {
    super::after_post(csrf, "/admin", message, result)
}

/// Show the page again with the failed form as it was typed, marked as a failure for the
/// audit event.
async fn failed<N: super::guard::Need>(
    state: &AppState,
    v: &Viewer<N>,
    mut kept: Kept,
    e: ServiceError,
) -> Response {
    kept.error = Some(e.to_string());
    let mut resp = render_page(state, v, AuditFilter::default(), None, &kept).await;
    *resp.status_mut() = crate::http::error::classify(&e).status;
    resp.extensions_mut().insert(super::failure(&e));
    resp
}

/// Report a use case's outcome back on the administration page.
fn outcome<T>(csrf: &str, r: ServiceResult<Done<T>>, message: impl FnOnce(&T) -> String) -> Response {
    match r {
        Ok(d) => back(csrf, &message(&d.value), Ok(d.audit)),
        Err(e) => back(csrf, &e.to_string(), Err(&e)),
    }
}

#[derive(Deserialize)]
pub struct CredentialForm {
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
    let kept = Kept {
        form: "credential",
        values: vec![("name", f.name.clone()), ("kind", f.kind.clone()), ("username", f.username.clone())],
        error: None,
    };
    let input = NewCredentialInput {
        name: f.name,
        kind: f.kind,
        username: Some(f.username),
        secret: f.secret,
        passphrase: Some(f.passphrase),
        sudo_password: Some(f.sudo_password),
    };
    match credentials::create(&state, &v.grant, input).await {
        Ok(d) => back(&v.csrf, &format!("Credential {} stored", d.value.name), Ok(d.audit)),
        Err(e) => failed(&state, &v, kept, e).await,
    }
}

pub async fn confirm_delete_credential(
    State(state): State<AppState>,
    v: Viewer<CredentialsWrite>,
    Path(id): Path<i64>,
) -> Response {
    let c = match state.store().credential(id).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return layout::error_page(&v.caller, &v.csrf, StatusCode::NOT_FOUND, "No such credential.");
        }
        Err(e) => return super::page_error(&v.caller, &ServiceError::from(e)),
    };
    super::confirm::page(
        &v,
        super::confirm::Confirm {
            title: "Delete credential",
            section: "Administration",
            question: format!("Delete the credential {}?", c.name),
            consequence: "Its secret is erased. A credential that hosts still use is not deleted: \
                give those hosts another credential first."
                .into(),
            action: format!("/admin/credentials/{id}/delete"),
            button: "Delete credential",
            cancel: "/admin".into(),
        },
    )
}

pub async fn delete_credential(
    State(state): State<AppState>,
    v: Viewer<CredentialsWrite>,
    Path(id): Path<i64>,
) -> Response {
    outcome(&v.csrf, credentials::delete(&state, &v.grant, id).await, |c| {
        format!("Credential {} deleted", c.name)
    })
}

#[derive(Deserialize)]
pub struct UserForm {
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
    let kept = Kept {
        form: "user",
        values: vec![("username", f.username.clone()), ("role", f.role.clone())],
        error: None,
    };
    let input = NewUserInput { username: f.username, password: f.password, role: f.role };
    match users::create(&state, &v.grant, input).await {
        Ok(d) => back(&v.csrf, &format!("User {} added", d.value.username), Ok(d.audit)),
        Err(e) => failed(&state, &v, kept, e).await,
    }
}

#[derive(Deserialize)]
pub struct PasswordForm {
    password: String,
}

impl std::fmt::Debug for PasswordForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordForm")
    }
}

/// Set a user's password (same rules as a new user's); their sessions and tokens end.
pub async fn reset_password(
    State(state): State<AppState>,
    v: Viewer<UsersWrite>,
    Path(id): Path<i64>,
    Form(f): Form<PasswordForm>,
) -> Response {
    let r = users::reset_password(&state, &v.grant, id, f.password).await;
    outcome(&v.csrf, r, |u| {
        format!("Password of {} set; their sessions and API tokens were ended", u.username)
    })
}

#[derive(Debug, Deserialize)]
pub struct UserUpdateForm {
    role: String,
    disabled: Option<String>,
}

pub async fn update_user(
    State(state): State<AppState>,
    v: Viewer<UsersWrite>,
    Path(id): Path<i64>,
    Form(f): Form<UserUpdateForm>,
) -> Response {
    let r = users::update(&state, &v.grant, id, &f.role, f.disabled.is_some()).await;
    outcome(&v.csrf, r, |u| format!("User {} saved", u.username))
}

/// A new API token as a form sends it (the administration and account pages).
#[derive(Debug, Deserialize)]
pub struct TokenForm {
    pub(super) name: String,
    pub(super) role: String,
    pub(super) expires_in_days: Option<i64>,
}

pub async fn create_token(
    State(state): State<AppState>,
    v: Viewer<TokensWrite>,
    Form(f): Form<TokenForm>,
) -> Response {
    let kept = Kept {
        form: "token",
        values: vec![
            ("name", f.name.clone()),
            ("role", f.role.clone()),
            ("expires_in_days", f.expires_in_days.map(|d| d.to_string()).unwrap_or_default()),
        ],
        error: None,
    };
    let input = NewTokenInput { name: f.name, role: f.role, expires_in_days: f.expires_in_days };
    match users::create_token(&state, &v.grant, input).await {
        Ok(d) => {
            let mut resp =
                render_page(&state, &v, AuditFilter::default(), Some(d.value.token), &Kept::default()).await;
            resp.extensions_mut().insert(d.audit);
            resp
        }
        Err(e) => failed(&state, &v, kept, e).await,
    }
}

pub async fn revoke_token(
    State(state): State<AppState>,
    v: Viewer<TokensWrite>,
    Path(id): Path<i64>,
) -> Response {
    match users::revoke_token(&state, &v.grant, id).await {
        Ok(d) => back(&v.csrf, "Token revoked", Ok(d.audit)),
        Err(e) => back(&v.csrf, &e.to_string(), Err(&e)),
    }
}

/// Create (or replace) a custom role from the form's repeated `permission` checkboxes.
pub async fn put_role(State(state): State<AppState>, v: Viewer<UsersWrite>, body: String) -> Response {
    let pairs = super::form::pairs(&body);
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map_or(String::new(), |(_, v)| v.clone());
    let permissions: Vec<String> =
        pairs.iter().filter(|(k, _)| k == "permission").map(|(_, p)| p.clone()).collect();
    let mut values = vec![("name", get("name")), ("description", get("description"))];
    values.extend(permissions.iter().map(|p| ("permission", p.clone())));
    let kept = Kept { form: "role", values, error: None };
    let role =
        openwatch_store::CustomRole { name: get("name"), description: get("description"), permissions };
    match users::put_role(&state, &v.grant, role).await {
        Ok(d) => back(&v.csrf, &format!("Role {} saved", d.value.name), Ok(d.audit)),
        Err(e) => failed(&state, &v, kept, e).await,
    }
}

/// What second factors an account has, in a few words.
fn factor_summary(f: &crate::auth::second_factor::Enrolled) -> String {
    let mut parts = Vec::new();
    if f.totp {
        parts.push("app".to_owned());
    }
    match f.security_keys {
        0 => {}
        1 => parts.push("1 key".into()),
        n => parts.push(format!("{n} keys")),
    }
    if parts.is_empty() { "none".into() } else { parts.join(", ") }
}

/// The sign-in policy and identity providers as configured (openwatch.toml).
fn sign_in_policy(state: &AppState) -> maud::Markup {
    let cfg = &state.config;
    html! {
        p.muted { "Set in openwatch.toml (see docs/server.md, \"Sign-in\")." }
        dl #sign-in-policy {
            dt { "Second factor required for" }
            dd { @if cfg.second_factor_roles.is_empty() { "no role" } @else { (cfg.second_factor_roles.join(", ")) } }
            dt { "Password sign-in" }
            dd { @match cfg.local_sign_in {
                crate::config::LocalSignIn::All => "everyone",
                crate::config::LocalSignIn::BreakGlass => { "break-glass accounts only: " (cfg.break_glass_users.join(", ")) },
            } }
        }
        @if cfg.oidc_providers.is_empty() { p { "No identity provider is configured." } }
        @else {
            table #providers {
                thead { tr { th { "Provider" } th { "Issuer" } th { "Client" } th { "Groups to roles" } th { "Accounts" } th { "Second factor" } } }
                tbody { @for p in &cfg.oidc_providers { tr {
                    td { (p.name) }
                    td.mono { (p.issuer) }
                    td.mono { (p.client_id) }
                    td {
                        @for m in &p.role_mapping { (m.group) " → " (m.role) br; }
                        @if let Some(r) = &p.default_role { "anyone else → " (r) } @else { "anyone else refused" }
                        " (claim " code { (p.groups_claim) } ")"
                    }
                    td { @if p.create_users { "created at first sign-in" } @else { "must exist" } }
                    td { @if p.provider_second_factor { "the provider's" } @else { "OpenWatch policy" } }
                } } }
            }
        }
    }
}

/// Remove someone's second factors (a lost phone); they enrol again if their role requires.
pub async fn reset_factors(
    State(state): State<AppState>,
    v: Viewer<UsersWrite>,
    Path(id): Path<i64>,
) -> Response {
    outcome(&v.csrf, crate::service::factors::reset(&state, &v.grant, id).await, |_| {
        "Second factors removed; the user's sessions were ended".to_owned()
    })
}
