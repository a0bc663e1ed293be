//! Sign in and out. Errors never say which of user name and password was wrong.

use axum::Form;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{DOCTYPE, Markup, html};
use openwatch_store::SessionStage;
use serde::Deserialize;
use serde_json::json;

use super::guard::{SignedIn, Viewer};
use crate::app::AppState;
use crate::auth::Via;
use crate::auth::secret::random_token;
use crate::auth::sign_in::{Refused, session_cookie, sign_in};
use crate::http::client_addr::client_ip;

#[derive(Debug, Deserialize)]
pub struct Next {
    next: Option<String>,
}

/// Only same-origin paths: never redirect off-site after sign-in. Browsers drop tabs and
/// newlines from URLs and read `\` as `/`, so `/<TAB>/evil.example` or `/\evil.example`
/// would become `//evil.example`, another host. Hence: a leading `/` not followed by another,
/// and no backslash, control character or white space anywhere (a value starting with `/`
/// has no scheme). Anything else goes to `/`.
pub(super) fn safe_next(next: Option<&str>) -> String {
    next.filter(|n| {
        n.starts_with('/')
            && !n.starts_with("//")
            && !n.contains('\\')
            && !n.chars().any(|c| c.is_control() || c.is_whitespace())
    })
    .unwrap_or("/")
    .to_owned()
}

/// A page refusing the sign-in for now, with the `Retry-After` the client should honour.
fn retry_page(state: &AppState, next: &str, message: &str, status: StatusCode, secs: u64) -> Response {
    let mut resp = form_page(state, next, Some(message), status);
    resp.headers_mut().insert(header::RETRY_AFTER, secs.into());
    resp
}

/// A page outside the signed-in layout (no navigation): sign-in and its steps.
pub(super) fn bare_page(title: &str, content: Markup, status: StatusCode) -> Response {
    let body = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · OpenWatch" }
                link rel="stylesheet" href="/static/app.css";
                script src="/static/app.js" defer {}
            }
            body {
                main.login {
                    h1 { "OpenWatch" }
                    (content)
                }
            }
        }
    };
    (status, Html(body.into_string())).into_response()
}

pub(super) fn form_page(state: &AppState, next: &str, message: Option<&str>, status: StatusCode) -> Response {
    let content = html! {
        @if let Some(m) = message { div.flash.error role="alert" { (m) } }
        form method="post" action="/login" {
            input type="hidden" name="next" value=(next);
            label { "User name" input #username name="username" autocomplete="username webauthn" required autofocus; }
            label { "Password" input #password name="password" type="password" autocomplete="current-password" required; }
            button type="submit" { "Sign in" }
        }
        p {
            button.secondary #passwordless type="button" data-webauthn="sign-in" data-next=(next) { "Sign in with a security key" }
        }
        p #webauthn-error.flash.error hidden role="alert" {}
        @if !state.config.oidc_providers.is_empty() {
            div.sso {
                @for p in &state.config.oidc_providers {
                    a.button.secondary href={"/auth/oidc/" (p.name) "?next=" (super::form::urlencode(next))} { (p.label()) }
                }
            }
        }
    };
    bare_page("Sign in", content, status)
}

pub async fn form(State(state): State<AppState>, Query(q): Query<Next>) -> Response {
    form_page(&state, &safe_next(q.next.as_deref()), None, StatusCode::OK)
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
                &state,
                &next,
                Some("Sign-in requests must come from this site."),
                StatusCode::FORBIDDEN,
            );
        }
    }
    let rid = random_token("")[..22].to_owned();
    let source = client_ip(addr.ip(), &headers, &state.config.trusted_proxies).to_string();
    match sign_in(&state, &f.username, &f.password, &source, &rid, "web").await {
        Ok(s) => {
            let cookie = session_cookie(&state, &s.token, state.session_limits().absolute_ms / 1000);
            let to = if s.stage == SessionStage::Full {
                next
            } else {
                format!("/login/second-factor?next={}", super::form::urlencode(&next))
            };
            ([(header::SET_COOKIE, cookie)], Redirect::to(&to)).into_response()
        }
        Err(Refused::PasswordsDisabled) => form_page(
            &state,
            &next,
            Some(
                "Password sign-in is reserved for break-glass accounts here. Sign in with your identity provider.",
            ),
            StatusCode::FORBIDDEN,
        ),
        Err(Refused::RateLimited(wait)) => retry_page(
            &state,
            &next,
            "Too many failed sign-ins. Try again later.",
            StatusCode::TOO_MANY_REQUESTS,
            wait,
        ),
        Err(Refused::Busy(wait)) => retry_page(
            &state,
            &next,
            "The server is busy. Try again in a moment.",
            StatusCode::SERVICE_UNAVAILABLE,
            wait,
        ),
        Err(Refused::Invalid) => {
            form_page(&state, &next, Some("Invalid user name or password."), StatusCode::UNAUTHORIZED)
        }
        Err(Refused::Internal(e)) => {
            tracing::error!(error = e, "web sign-in");
            form_page(
                &state,
                &next,
                Some("Signing in failed; see the server log."),
                StatusCode::INTERNAL_SERVER_ERROR,
            )
        }
    }
}

/// Sign out: the guard has checked the session and the form's CSRF token and records the
/// event.
pub async fn logout(State(state): State<AppState>, headers: HeaderMap, v: Viewer<SignedIn>) -> Response {
    let mut provider = None;
    if let Via::Session { id_hash, .. } = &v.caller.via {
        let ended = async {
            provider = state.store().session(id_hash).await?.and_then(|s| s.provider);
            state.store().delete_session(id_hash).await
        };
        if let Err(e) = ended.await {
            let e = crate::service::ServiceError::from(e);
            return super::page_error(&v.caller, &e);
        }
    }
    let cookie = session_cookie(&state, "", 0);
    let end = match provider.as_deref().and_then(|p| crate::auth::oidc::provider(&state, p).ok()) {
        Some(p) => state.oidc.end_session(p).await.map(|url| (p, url)),
        None => None,
    };
    let mut resp = match end {
        // Signed out here; the provider's own session is the person's to end, offered.
        Some((p, url)) => {
            let back = format!("{}/login", crate::http::origin(&state, &headers));
            let link = format!(
                "{url}?client_id={}&post_logout_redirect_uri={}",
                super::form::urlencode(&p.client_id),
                super::form::urlencode(&back)
            );
            let content = html! {
                p role="status" { "You are signed out of OpenWatch." }
                p { a.button #provider-sign-out href=(link) { "Also sign out of " (p.name) } }
                p { a href="/login" { "Sign in again" } }
            };
            let mut r = bare_page("Signed out", content, StatusCode::OK);
            r.headers_mut().insert(header::SET_COOKIE, cookie.parse().expect("cookie text is ASCII"));
            r
        }
        None => ([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response(),
    };
    resp.extensions_mut().insert(crate::service::note(format!("user:{}", v.caller.username), json!({})));
    resp
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_same_origin_paths_are_followed() {
        for good in
            ["/", "/hosts", "/hosts/7?tab=rules&q=a%20b", "/scans#latest", "/a/b//c", "/r?to=http://x"]
        {
            assert_eq!(safe_next(Some(good)), good, "{good:?}");
        }
        let hostile = [
            "//evil.example",
            "///evil.example",
            "/\\evil.example",
            "\\/evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r/evil.example",
            "\t//evil.example",
            " //evil.example",
            "/ /evil.example",
            "/\u{0}/evil.example",
            "/\u{7f}/evil.example",
            "/\u{85}/evil.example",
            "/\u{a0}/evil.example",
            "/\u{3000}/evil.example",
            "/hosts\\..\\..\\evil.example",
            "https://evil.example",
            "javascript:alert(1)",
            "evil.example",
            "",
        ];
        for bad in hostile {
            assert_eq!(safe_next(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
