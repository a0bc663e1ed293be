//! Sign in and out. Errors never say which of user name and password was wrong.

use std::time::Instant;

use axum::Form;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{DOCTYPE, html};
use openwatch_store::{NewAuditEvent, Session};
use serde::Deserialize;
use serde_json::json;

use super::guard::{SignedIn, Viewer};
use crate::app::{AppState, now_ms};
use crate::auth::secret::{decoy_hash, random_token, token_hash, verify_password};
use crate::auth::{SESSION_COOKIE, SESSION_COOKIE_TLS, SESSION_PREFIX, Via};

#[derive(Debug, Deserialize)]
pub struct Next {
    next: Option<String>,
}

/// Only local paths: never redirect off-site after sign-in.
fn safe_next(next: Option<&str>) -> String {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\')).unwrap_or("/").to_owned()
}

fn form_page(next: &str, message: Option<&str>, status: StatusCode) -> Response {
    let body = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Sign in · OpenWatch" }
                link rel="stylesheet" href="/static/app.css";
            }
            body {
                main.login {
                    h1 { "OpenWatch" }
                    @if let Some(m) = message { div.flash.error role="alert" { (m) } }
                    form method="post" action="/login" {
                        input type="hidden" name="next" value=(next);
                        label { "User name" input #username name="username" autocomplete="username" required autofocus; }
                        label { "Password" input #password name="password" type="password" autocomplete="current-password" required; }
                        button type="submit" { "Sign in" }
                    }
                }
            }
        }
    };
    (status, Html(body.into_string())).into_response()
}

pub async fn form(Query(q): Query<Next>) -> Response {
    form_page(&safe_next(q.next.as_deref()), None, StatusCode::OK)
}

#[derive(Debug, Deserialize)]
pub struct Credentials {
    username: String,
    password: String,
    next: Option<String>,
}

pub async fn submit(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<Credentials>,
) -> Response {
    let next = safe_next(f.next.as_deref());
    // Same-origin posts only (the session cookie does not exist yet, so no token to check).
    if let Some(origin) = headers.get("origin").and_then(|v| v.to_str().ok()) {
        let host = headers.get("host").and_then(|v| v.to_str().ok()).unwrap_or("");
        if !origin.ends_with(&format!("//{host}")) && origin != state.config.public_origin {
            return form_page(
                &next,
                Some("Sign-in requests must come from this site."),
                StatusCode::FORBIDDEN,
            );
        }
    }
    let source = addr.ip().to_string();
    let keys = vec![format!("ip:{source}"), format!("user:{}", f.username.to_lowercase())];
    let audit = |outcome: &str, why: &str| NewAuditEvent {
        at: now_ms(),
        actor: f.username.clone(),
        action: "auth.login".into(),
        target: format!("user:{}", f.username),
        outcome: outcome.into(),
        source: source.clone(),
        correlation_id: random_token("")[..22].to_owned(),
        details: if why.is_empty() { json!({"via": "web"}) } else { json!({"via": "web", "reason": why}) },
    };
    if state.limiter.blocked(&keys, Instant::now()).is_some() {
        let _ = state.store().append_audit(&audit("denied", "rate limited")).await;
        return form_page(
            &next,
            Some("Too many failed sign-ins. Try again later."),
            StatusCode::TOO_MANY_REQUESTS,
        );
    }
    let user = state.store().user_by_name(&f.username).await.ok().flatten();
    let hash = user.as_ref().map_or_else(|| decoy_hash().to_owned(), |u| u.password_hash.clone());
    let pw = f.password.clone();
    let ok = tokio::task::spawn_blocking(move || verify_password(&pw, &hash)).await.unwrap_or(false);
    let Some(user) = user.filter(|u| ok && !u.disabled) else {
        state.limiter.failed(&keys, Instant::now());
        let _ = state.store().append_audit(&audit("failure", "invalid credentials")).await;
        return form_page(&next, Some("Invalid user name or password."), StatusCode::UNAUTHORIZED);
    };
    state.limiter.succeeded(&keys);
    let now = now_ms();
    let token = random_token(SESSION_PREFIX);
    let limits = state.session_limits();
    let session = Session {
        id_hash: token_hash(&token),
        user_id: user.id,
        csrf_token: random_token(""),
        created_at: now,
        last_seen_at: now,
        expires_at: now + limits.absolute_ms,
    };
    if state.store().create_session(&session).await.is_err() {
        return form_page(
            &next,
            Some("Signing in failed; see the server log."),
            StatusCode::INTERNAL_SERVER_ERROR,
        );
    }
    let _ = state.store().append_audit(&audit("success", "")).await;
    let (name, secure) =
        if state.config.tls() { (SESSION_COOKIE_TLS, "; Secure") } else { (SESSION_COOKIE, "") };
    let cookie = format!(
        "{name}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        limits.absolute_ms / 1000
    );
    ([(header::SET_COOKIE, cookie)], Redirect::to(&next)).into_response()
}

#[derive(Debug, Deserialize)]
pub struct CsrfOnly {
    #[serde(rename = "_csrf")]
    csrf: String,
}

pub async fn logout(State(state): State<AppState>, v: Viewer<SignedIn>, Form(f): Form<CsrfOnly>) -> Response {
    if let Some(r) = v.csrf_rejection(&f.csrf) {
        return r;
    }
    if let Via::Session { id_hash, .. } = &v.caller.via {
        let _ = state.store().delete_session(id_hash).await;
    }
    v.audit(&state, "auth.logout", &format!("user:{}", v.caller.username), "success", json!({"via": "web"}))
        .await;
    let name = if state.config.tls() { SESSION_COOKIE_TLS } else { SESSION_COOKIE };
    let secure = if state.config.tls() { "; Secure" } else { "" };
    (
        [(header::SET_COOKIE, format!("{name}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"))],
        Redirect::to("/login"),
    )
        .into_response()
}
