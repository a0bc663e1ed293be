//! The sign-in step after the password: a code from the authenticator app, a recovery code
//! or a security key; or, when the account's role requires a second factor it does not have
//! yet, enrolling an authenticator app (QR code drawn by the server) before going on.

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{PreEscaped, html};
use openwatch_store::{Session, SessionStage, User};
use serde::Deserialize;

use super::login::{bare_page, safe_next};
use crate::app::{AppState, now_ms};
use crate::auth::pending::{NotYet, finish};
use crate::auth::second_factor::enrolled;
use crate::auth::secret::random_token;
use crate::auth::sign_in::session_cookie;
use crate::http::client_addr::client_ip;
use crate::http::guard::{constant_time_eq, csrf_header_or_origin};
use crate::service::{ServiceError, factors};

#[derive(Debug, Deserialize)]
pub struct Next {
    next: Option<String>,
}

fn to_login(next: &str) -> Response {
    Redirect::to(&format!("/login?next={}", super::form::urlencode(next))).into_response()
}

/// A use case's failure on this bare page (storage details stay in the log).
fn failed(e: &ServiceError) -> Response {
    let status = crate::http::error::classify(e).status;
    bare_page("Second factor", html! { div.flash.error role="alert" { (e.to_string()) } }, status)
}

/// The step's page: the code form (and the security key button), or the enrolment.
async fn step_page(
    state: &AppState,
    session: &Session,
    user: &User,
    next: &str,
    message: Option<&str>,
    status: StatusCode,
) -> Response {
    let enrol = if session.stage == SessionStage::Enrol {
        match factors::begin_totp(state, user).await {
            Ok(e) => Some(e),
            Err(e) => return failed(&e),
        }
    } else {
        None
    };
    let keys = match enrolled(state.store(), user.id).await {
        Ok(e) => e.security_keys,
        Err(e) => return failed(&ServiceError::from(e)),
    };
    let content = html! {
        @if let Some(m) = message { div.flash.error role="alert" { (m) } }
        @if let Some(e) = &enrol {
            h2 { "Set up a second factor" }
            p { "Your role (" (user.role) ") requires a second factor. Scan this code with an authenticator app, then enter the six digits it shows." }
            figure.qr { (PreEscaped(&e.qr_svg)) }
            p { "Cannot scan? Enter this key: " code #totp-secret { (e.secret) } }
        } @else {
            h2 { "Second factor" }
            p { "Signed in as " strong { (user.username) } ". Enter the code from your authenticator app, or one of your recovery codes." }
        }
        form method="post" action="/login/second-factor" {
            input type="hidden" name="next" value=(next);
            input type="hidden" name="_csrf" value=(session.csrf_token);
            label { "Code" input #code name="code" autocomplete="one-time-code" required autofocus; }
            button type="submit" { @if enrol.is_some() { "Confirm and continue" } @else { "Verify" } }
        }
        @if keys > 0 && enrol.is_none() {
            p {
                button #security-key type="button" data-webauthn="sign-in-second-factor" data-next=(next) data-csrf=(session.csrf_token) { "Use a security key" }
            }
            p #webauthn-error.flash.error hidden role="alert" {}
        }
        p { a href="/login" { "Start again" } }
    };
    bare_page("Second factor", content, status)
}

pub async fn form(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<Next>) -> Response {
    let next = safe_next(q.next.as_deref());
    match crate::auth::pending(state.store(), &headers, now_ms()).await {
        Ok(Some((session, user))) => step_page(&state, &session, &user, &next, None, StatusCode::OK).await,
        Ok(None) => to_login(&next),
        Err(e) => {
            bare_page("Second factor", html! { div.flash.error role="alert" { (e.message) } }, e.status)
        }
    }
}

#[derive(Deserialize)]
pub struct CodeForm {
    code: String,
    next: Option<String>,
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

impl std::fmt::Debug for CodeForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeForm")
    }
}

pub async fn submit(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    axum::Form(f): axum::Form<CodeForm>,
) -> Response {
    let next = safe_next(f.next.as_deref());
    let (session, user) = match crate::auth::pending(state.store(), &headers, now_ms()).await {
        Ok(Some(p)) => p,
        Ok(None) => return to_login(&next),
        Err(e) => {
            return bare_page(
                "Second factor",
                html! { div.flash.error role="alert" { (e.message) } },
                e.status,
            );
        }
    };
    let csrf_ok = constant_time_eq(f.csrf.as_bytes(), session.csrf_token.as_bytes())
        || csrf_header_or_origin(&state, &headers, &session.csrf_token);
    if !csrf_ok {
        let m = "The form expired or came from another site. Reload the page and try again.";
        return step_page(&state, &session, &user, &next, Some(m), StatusCode::FORBIDDEN).await;
    }
    let source = client_ip(addr.ip(), &headers, &state.config.trusted_proxies).to_string();
    let rid = random_token("")[..22].to_owned();
    match finish(&state, &session, &user, &f.code, &source, &rid, "web").await {
        Ok(done) => match done.recovery_codes {
            Some(codes) => recovery_codes_page(&codes, &next),
            None => Redirect::to(&next).into_response(),
        },
        Err(NotYet::Invalid { ended: false }) => {
            let m = "That code is wrong, expired or already used.";
            step_page(&state, &session, &user, &next, Some(m), StatusCode::UNAUTHORIZED).await
        }
        Err(NotYet::Invalid { ended: true }) => {
            let mut resp = to_login(&next);
            resp.headers_mut().insert(
                header::SET_COOKIE,
                session_cookie(&state, "", 0).parse().expect("cookie text is ASCII"),
            );
            resp
        }
        Err(NotYet::RateLimited(wait)) => {
            let m = "Too many wrong codes for this account. Try again later.";
            let mut resp =
                step_page(&state, &session, &user, &next, Some(m), StatusCode::TOO_MANY_REQUESTS).await;
            resp.headers_mut().insert(header::RETRY_AFTER, wait.into());
            resp
        }
        Err(NotYet::Internal(e)) => {
            tracing::error!(error = e, "web second factor");
            let m = "Checking the code failed; see the server log.";
            step_page(&state, &session, &user, &next, Some(m), StatusCode::INTERNAL_SERVER_ERROR).await
        }
    }
}

/// Recovery codes, shown this once.
pub fn recovery_codes_page(codes: &[String], next: &str) -> Response {
    let content = html! {
        h2 { "Save your recovery codes" }
        p { "Each code signs you in once if you lose your authenticator. They are shown only now: print them or keep them in a password manager." }
        ol #recovery-codes { @for c in codes { li { code { (c) } } } }
        p { a.button href=(next) { "Continue" } }
    };
    bare_page("Recovery codes", content, StatusCode::OK)
}
