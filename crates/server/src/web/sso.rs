//! Signing in through an identity provider in the browser: the start (to the provider) and
//! the callback (back from it). The callback answers with a page that moves on by itself:
//! the session cookie is SameSite=Strict, which a browser withholds from a redirect chain
//! that began on the provider's site, but sends on a navigation this site starts.

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{DOCTYPE, html};
use openwatch_store::SessionStage;
use serde::Deserialize;
use serde_json::json;

use super::login::{form_page, safe_next};
use crate::app::AppState;
use crate::auth::oidc::{self, BINDING_COOKIE, Callback, SsoError};
use crate::auth::secret::random_token;
use crate::auth::sign_in::{browsers_use_https, session_cookie};
use crate::auth::{cookie_value, sso};
use crate::http::client_addr::client_ip;
use crate::http::origin;

#[derive(Debug, Deserialize)]
pub struct Next {
    next: Option<String>,
}

/// The binding cookie: Lax, so the provider's redirect back to us carries it.
fn binding_cookie(state: &AppState, value: &str, max_age: i64) -> String {
    let secure = if browsers_use_https(state) { "; Secure" } else { "" };
    format!("{BINDING_COOKIE}={value}; Path=/auth/oidc; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
}

pub async fn start(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Query(q): Query<Next>,
) -> Response {
    let next = safe_next(q.next.as_deref());
    match oidc::begin(&state, &name, &origin(&state, &headers), &next).await {
        Ok(r) => ([(header::SET_COOKIE, binding_cookie(&state, &r.binding, 600))], Redirect::to(&r.url))
            .into_response(),
        Err(e) => {
            tracing::warn!(provider = name, error = %e, "single sign-on could not start");
            let status = match e {
                SsoError::UnknownProvider(_) => StatusCode::NOT_FOUND,
                _ => StatusCode::BAD_GATEWAY,
            };
            form_page(&state, &next, Some(&format!("Signing in with {name} failed: {e}.")), status)
        }
    }
}

pub async fn callback(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    Query(cb): Query<Callback>,
) -> Response {
    let source = client_ip(addr.ip(), &headers, &state.config.trusted_proxies).to_string();
    let rid = random_token("")[..22].to_owned();
    let binding = cookie_value(&headers, BINDING_COOKIE);
    let clear = binding_cookie(&state, "", 0);
    let signed = match oidc::finish(&state, &name, &cb, binding.as_deref()).await {
        Ok((id, next)) => match sso::sign_in(&state, &id, &source).await {
            Ok(s) => Ok((id, next, s)),
            Err(e) => Err((Some(id), e)),
        },
        Err(e) => Err((None, e)),
    };
    match signed {
        Ok((id, next, s)) => {
            let details =
                json!({"subject": id.subject, "groups": id.groups, "role": s.user.role, "stage": s.stage});
            sso::audit(&state, &s.user.username, &name, &source, &rid, "success", details).await;
            let to = if s.stage == SessionStage::Full {
                next
            } else {
                format!("/login/second-factor?next={}", super::form::urlencode(&next))
            };
            let page = html! {
                (DOCTYPE)
                html lang="en" {
                    head {
                        meta charset="utf-8";
                        meta http-equiv="refresh" content={"0;url=" (to)};
                        title { "Signing in · OpenWatch" }
                        link rel="stylesheet" href="/static/app.css";
                    }
                    body { main.login { h1 { "OpenWatch" } p { "Signed in. " a #continue href=(to) { "Continue" } } } }
                }
            };
            let session = session_cookie(&state, &s.token, state.session_limits().absolute_ms / 1000);
            let mut resp = Html(page.into_string()).into_response();
            let h = resp.headers_mut();
            h.append(header::SET_COOKIE, session.parse().expect("cookie text is ASCII"));
            h.append(header::SET_COOKIE, clear.parse().expect("cookie text is ASCII"));
            resp
        }
        Err((id, e)) => {
            let who = id.as_ref().map_or("", |i| i.username.as_str());
            let mut details = json!({"reason": e.to_string()});
            if let Some(i) = &id {
                details["subject"] = json!(i.subject);
                details["groups"] = json!(i.groups);
            }
            if let SsoError::Internal(detail) = &e {
                tracing::error!(provider = name, error = detail, "single sign-on");
            }
            sso::audit(&state, who, &name, &source, &rid, "failure", details).await;
            let status = match e {
                SsoError::Provider(_) => StatusCode::BAD_GATEWAY,
                SsoError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
                SsoError::UnknownProvider(_) => StatusCode::NOT_FOUND,
                _ => StatusCode::UNAUTHORIZED,
            };
            let mut resp =
                form_page(&state, "/", Some(&format!("Signing in with {name} failed: {e}.")), status);
            resp.headers_mut().append(header::SET_COOKIE, clear.parse().expect("cookie text is ASCII"));
            resp
        }
    }
}
