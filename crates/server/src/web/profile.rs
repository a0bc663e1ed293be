//! Your own account: second factors (authenticator app, recovery codes, security keys),
//! sessions, API tokens and linked identity providers. Sensitive changes need a code
//! confirmed on this page within the last ten minutes. Adapters over `service::factors`.

use axum::Form;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use maud::{PreEscaped, html};
use serde::Deserialize;

use super::admin::TokenForm;
use super::guard::{SignedIn, TokensWrite, Viewer};
use super::layout::{Page, render};
use crate::app::AppState;
use crate::auth::rbac::Permission;
use crate::auth::second_factor::{Context, Purpose};
use crate::auth::secret::random_token;
use crate::http::client_addr::client_ip;
use crate::service::factors::{self, TotpEnrolment};
use crate::service::users::{self, NewTokenInput};
use crate::timefmt::when;

#[derive(Debug, Deserialize, Default)]
pub struct Flash {
    flash: Option<String>,
    sig: Option<String>,
    error: Option<String>,
}

fn back(
    csrf: &str,
    message: &str,
    result: Result<crate::service::AuditNote, &crate::service::ServiceError>,
) -> Response {
    super::after_post(csrf, "/profile", message, result)
}

pub async fn page(State(state): State<AppState>, v: Viewer<SignedIn>, Query(q): Query<Flash>) -> Response {
    let flash = super::flash_message(&v.csrf, q.flash, q.error, q.sig.as_deref());
    show(&state, &v, flash, None, None).await
}

/// The page, with an enrolment in progress or a token just made when there is one.
async fn show(
    state: &AppState,
    v: &Viewer<SignedIn>,
    flash: Option<(bool, String)>,
    enrolling: Option<TotpEnrolment>,
    new_token: Option<String>,
) -> Response {
    let o = match factors::overview(state, &v.grant).await {
        Ok(o) => o,
        Err(e) => return super::page_error(&v.caller, &e),
    };
    let tokens = match v.grant.also::<TokensWrite>() {
        Ok(g) => match users::list_tokens(state, &g).await {
            Ok(all) => all.into_iter().filter(|t| t.user_id == v.caller.user_id).collect(),
            Err(e) => return super::page_error(&v.caller, &e),
        },
        Err(_) => Vec::new(),
    };
    let csrf = &v.csrf;
    let body = html! {
        h1 { "Your account" }
        p.muted { "Signed in as " strong { (v.caller.username) } " (" (v.caller.role) ")." }
        section.card aria-labelledby="verify-h" {
            h2 #verify-h { "Confirm it is you" }
            p.muted { "Adding or removing a second factor and creating an API token need a code confirmed in the last ten minutes." }
            form.filters method="post" action="/profile/verify" {
                input type="hidden" name="_csrf" value=(csrf);
                label { "Code from your app, or a recovery code" input name="code" autocomplete="one-time-code" required; }
                button type="submit" { "Confirm" }
            }
        }
        section.card aria-labelledby="factors-h" {
            h2 #factors-h { "Second factors" }
            @if o.required { p { "Your role requires a second factor." } }
            h3 { "Authenticator app" }
            @if let Some(e) = &enrolling {
                p { "Scan this code with an authenticator app, then enter the six digits it shows." }
                figure.qr { (PreEscaped(&e.qr_svg)) }
                p { "Cannot scan? Enter this key: " code #totp-secret { (e.secret) } }
                form.filters method="post" action="/profile/totp/confirm" {
                    input type="hidden" name="_csrf" value=(csrf);
                    label { "Code" input #totp-code name="code" autocomplete="one-time-code" required autofocus; }
                    button type="submit" { "Confirm and enrol" }
                }
            } @else if o.totp {
                p #totp-status { "Enrolled. Recovery codes left: " (o.recovery_codes_left) "." }
                form.inline method="post" action="/profile/recovery-codes" {
                    input type="hidden" name="_csrf" value=(csrf);
                    button.secondary type="submit" { "New recovery codes" }
                }
                form.inline method="post" action="/profile/totp/remove" {
                    input type="hidden" name="_csrf" value=(csrf);
                    button.secondary type="submit" { "Remove the authenticator app" }
                }
            } @else {
                p #totp-status { "Not enrolled." }
                form method="post" action="/profile/totp" {
                    input type="hidden" name="_csrf" value=(csrf);
                    button type="submit" { "Set up an authenticator app" }
                }
            }
            h3 { "Security keys and passkeys" }
            @if o.security_keys.is_empty() { p.muted { "None registered." } }
            @else {
                table #security-keys {
                    thead { tr { th { "Name" } th { "Added" } th { "Last used" } th {} } }
                    tbody { @for k in &o.security_keys { tr {
                        td { (k.name) }
                        td { (when(Some(k.created_at))) }
                        td { (when(k.last_used_at)) }
                        td { form method="post" action={"/profile/security-keys/" (k.id) "/remove"} {
                            input type="hidden" name="_csrf" value=(csrf);
                            button.secondary type="submit" { "Remove" }
                        } }
                    } } }
                }
            }
            div.filters {
                label { "Name of the new key" input #security-key-name name="name" value="Security key"; }
                button #add-security-key type="button" data-webauthn="register" data-csrf=(csrf) { "Add a security key" }
            }
            p #webauthn-error.flash.error hidden role="alert" {}
        }
        section.card aria-labelledby="sessions-h" {
            h2 #sessions-h { "Sessions" }
            table #sessions {
                thead { tr { th { "Signed in" } th { "How" } th { "From" } th { "Last seen" } th {} } }
                tbody { @for s in &o.sessions { tr {
                    td { (when(Some(s.created_at))) }
                    td { (s.method.as_str()) @if let Some(p) = &s.provider { " (" (p) ")" } }
                    td.mono { (s.source) }
                    td { (when(Some(s.last_seen_at))) }
                    td { @if s.current { "this session" } @else {
                        form method="post" action={"/profile/sessions/" (s.id) "/end"} {
                            input type="hidden" name="_csrf" value=(csrf);
                            button.secondary type="submit" { "End" }
                        }
                    } }
                } } }
            }
        }
        @if v.caller.can(Permission::TokensWrite) {
            section.card aria-labelledby="tokens-h" {
                h2 #tokens-h { "Your API tokens" }
                @if let Some(t) = &new_token {
                    div.flash role="status" { "Copy this token now; it is not shown again: " code #new-token { (t) } }
                }
                @if tokens.is_empty() { p.muted { "None." } }
                @else {
                    table #tokens {
                        thead { tr { th { "Name" } th { "Role" } th { "Expires" } th { "Last used" } th {} } }
                        tbody { @for t in &tokens { tr {
                            td { (t.name) }
                            td { (t.role) }
                            td { (when(t.expires_at)) }
                            td { (when(t.last_used_at)) }
                            td { @if t.revoked { "revoked" } @else {
                                form method="post" action={"/admin/tokens/" (t.id) "/revoke"} {
                                    input type="hidden" name="_csrf" value=(csrf);
                                    button.secondary type="submit" { "Revoke" }
                                }
                            } }
                        } } }
                    }
                }
                form.filters method="post" action="/profile/tokens" {
                    input type="hidden" name="_csrf" value=(csrf);
                    label { "Name" input name="name" required; }
                    label { "Role" input name="role" value=(v.caller.role) required; }
                    label { "Expires in days" input name="expires_in_days" type="number" min="1" max="3650" value="90"; }
                    button type="submit" { "Create token" }
                }
            }
        }
        @if !o.identities.is_empty() {
            section.card aria-labelledby="sso-h" {
                h2 #sso-h { "Identity providers" }
                ul { @for i in &o.identities { li { (i.provider) ": " span.mono { (i.subject) } " · last sign-in " (when(Some(i.last_sign_in_at))) } } }
            }
        }
    };
    render(
        &Page { caller: &v.caller, csrf, title: "Your account", section: "Account", live: false, flash },
        body,
    )
}

#[derive(Deserialize)]
pub struct CodeForm {
    code: String,
}

impl std::fmt::Debug for CodeForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeForm")
    }
}

fn context<'a>(
    state: &AppState,
    addr: std::net::SocketAddr,
    headers: &HeaderMap,
    source: &'a mut String,
    rid: &'a mut String,
    purpose: Purpose,
) -> Context<'a> {
    *source = client_ip(addr.ip(), headers, &state.config.trusted_proxies).to_string();
    *rid = random_token("")[..22].to_owned();
    Context { source, correlation_id: rid, via: "web", purpose }
}

pub async fn verify(
    State(state): State<AppState>,
    v: Viewer<SignedIn>,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<CodeForm>,
) -> Response {
    let (mut source, mut rid) = (String::new(), String::new());
    let ctx = context(&state, addr, &headers, &mut source, &mut rid, Purpose::FreshCheck);
    match factors::verify(&state, &v.grant, &f.code, &ctx).await {
        Ok(d) => back(&v.csrf, "Confirmed for the next ten minutes", Ok(d.audit)),
        Err(e) => back(&v.csrf, &e.to_string(), Err(&e)),
    }
}

pub async fn begin_totp(State(state): State<AppState>, v: Viewer<SignedIn>) -> Response {
    match factors::begin_own_totp(&state, &v.grant).await {
        Ok(d) => {
            let mut resp = show(&state, &v, None, Some(d.value), None).await;
            resp.extensions_mut().insert(d.audit);
            resp
        }
        Err(e) => back(&v.csrf, &e.to_string(), Err(&e)),
    }
}

pub async fn confirm_totp(
    State(state): State<AppState>,
    v: Viewer<SignedIn>,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<CodeForm>,
) -> Response {
    let (mut source, mut rid) = (String::new(), String::new());
    let ctx = context(&state, addr, &headers, &mut source, &mut rid, Purpose::Enrolment);
    match factors::confirm_own_totp(&state, &v.grant, &f.code, &ctx).await {
        Ok(d) => {
            let mut resp = super::second_factor::recovery_codes_page(&d.value, "/profile");
            resp.extensions_mut().insert(d.audit);
            resp
        }
        Err(e) => back(&v.csrf, &e.to_string(), Err(&e)),
    }
}

pub async fn remove_totp(State(state): State<AppState>, v: Viewer<SignedIn>) -> Response {
    match factors::remove_totp(&state, &v.grant).await {
        Ok(d) => back(&v.csrf, "Authenticator app removed", Ok(d.audit)),
        Err(e) => back(&v.csrf, &e.to_string(), Err(&e)),
    }
}

pub async fn recovery_codes(State(state): State<AppState>, v: Viewer<SignedIn>) -> Response {
    match factors::new_recovery_codes(&state, &v.grant).await {
        Ok(d) => {
            let mut resp = super::second_factor::recovery_codes_page(&d.value, "/profile");
            resp.extensions_mut().insert(d.audit);
            resp
        }
        Err(e) => back(&v.csrf, &e.to_string(), Err(&e)),
    }
}

pub async fn end_session(
    State(state): State<AppState>,
    v: Viewer<SignedIn>,
    Path(id): Path<String>,
) -> Response {
    match factors::end_session(&state, &v.grant, &id).await {
        Ok(d) => back(&v.csrf, "Session ended", Ok(d.audit)),
        Err(e) => back(&v.csrf, &e.to_string(), Err(&e)),
    }
}

pub async fn create_token(
    State(state): State<AppState>,
    v: Viewer<TokensWrite>,
    Form(f): Form<TokenForm>,
) -> Response {
    let input = NewTokenInput { name: f.name, role: f.role, expires_in_days: f.expires_in_days };
    let signed = match v.grant.also::<SignedIn>() {
        Ok(g) => Viewer { caller: v.caller.clone(), csrf: v.csrf.clone(), grant: g },
        Err(e) => return super::page_error(&v.caller, &e),
    };
    match users::create_token(&state, &v.grant, input).await {
        Ok(d) => {
            let mut resp = show(&state, &signed, None, None, Some(d.value.token)).await;
            resp.extensions_mut().insert(d.audit);
            resp
        }
        Err(e) => super::after_post(&v.csrf, "/profile", &e.to_string(), Err(&e)),
    }
}

pub async fn remove_key(State(state): State<AppState>, v: Viewer<SignedIn>, Path(id): Path<i64>) -> Response {
    match factors::remove_key(&state, &v.grant, id).await {
        Ok(d) => back(&v.csrf, "Security key removed", Ok(d.audit)),
        Err(e) => back(&v.csrf, &e.to_string(), Err(&e)),
    }
}
