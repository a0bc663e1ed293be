//! Administration: users, API tokens, credentials (secrets write-only) and the audit log.
//! Each section shows only for the permissions that allow it; the handlers check again.

use axum::Form;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use openwatch_store::{AuditQuery, NewCredential, NewUser, PageRequest, SealedSecrets};
use serde::Deserialize;
use serde_json::json;

use super::guard::{CredentialsWrite, SignedIn, UsersWrite, Viewer, urlencode};
use super::layout::{self, Page, csrf_field, render, when};
use crate::api::credentials::SecretMaterial;
use crate::app::{AppState, now_ms};
use crate::auth::rbac::{BUILTIN_ROLES, Permission};
use crate::auth::secret::{check_password_strength, hash_password};

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
    if !layout::can_admin(&v.caller) {
        return layout::forbidden(&v.caller, &v.csrf, Permission::UsersRead);
    }
    let store = state.store();
    let c = &v.caller;
    let users =
        if c.can(Permission::UsersRead) { store.list_users().await.unwrap_or_default() } else { vec![] };
    let tokens = if c.can(Permission::UsersWrite) {
        store.list_tokens(None).await.unwrap_or_default()
    } else {
        vec![]
    };
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
                        tbody { @for u in &users { tr { td { (u.username) } td { (u.role) } td { @if u.disabled { "disabled" } @else { "active" } } td.muted { (when(Some(u.created_at))) } } } }
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
            @if c.can(Permission::UsersWrite) {
                section.card aria-labelledby="tokens-h" {
                    h2 #tokens-h { "API tokens" }
                    p.muted { "Create tokens with POST /api/v1/tokens; they are shown once." }
                    table {
                        thead { tr { th { "Name" } th { "Role" } th { "Expires" } th { "Last used" } th { "State" } } }
                        tbody { @for t in &tokens { tr { td { (t.name) } td { (t.role) } td { (when(t.expires_at)) } td { (when(t.last_used_at)) } td { @if t.revoked { "revoked" } @else { "active" } } } } }
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
