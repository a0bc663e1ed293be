//! Who is looking at a page. `Viewer<P>` resolves the session and checks permission `P`
//! before a handler runs (authorization as a type); signed-out visitors are redirected to
//! the login form, under-privileged ones get a 403 page.

use std::marker::PhantomData;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use openwatch_store::NewAuditEvent;
use serde_json::Value;

use super::layout;
use crate::app::{AppState, now_ms};
use crate::auth::rbac::Permission;
use crate::auth::{self, Caller, Via};

/// A permission as a type, so a handler's signature states what it needs.
pub trait Need: Send + Sync + 'static {
    const PERMISSION: Option<Permission>;
}

macro_rules! needs {
    ($($name:ident => $p:expr),* $(,)?) => {
        $(
            #[derive(Debug)]
            pub struct $name;
            impl Need for $name {
                const PERMISSION: Option<Permission> = $p;
            }
        )*
    };
}

needs! {
    SignedIn => None,
    HostsRead => Some(Permission::HostsRead),
    HostsWrite => Some(Permission::HostsWrite),
    HostsScan => Some(Permission::HostsScan),
    KeysApprove => Some(Permission::HostKeysApprove),
    ScansRead => Some(Permission::ScansRead),
    RulesRead => Some(Permission::RulesRead),
    FleetRead => Some(Permission::FleetRead),
    CredentialsWrite => Some(Permission::CredentialsWrite),
    UsersWrite => Some(Permission::UsersWrite),
    TokensWrite => Some(Permission::TokensWrite),
}

#[derive(Debug)]
pub struct Viewer<N: Need> {
    pub caller: Caller,
    pub csrf: String,
    pub source: String,
    pub path: String,
    _need: PhantomData<N>,
}

impl<N: Need> FromRequestParts<AppState> for Viewer<N> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let path = parts.uri.path_and_query().map_or("/".to_owned(), |p| p.as_str().to_owned());
        let to_login = || Redirect::to(&format!("/login?next={}", urlencode(&path))).into_response();
        let caller =
            match auth::resolve(state.store(), &parts.headers, state.session_limits(), now_ms()).await {
                Ok(Some(c)) if matches!(c.via, Via::Session { .. }) => c,
                _ => return Err(to_login()),
            };
        let Via::Session { csrf_token, .. } = &caller.via else { return Err(to_login()) };
        let csrf = csrf_token.clone();
        if let Some(p) = N::PERMISSION
            && !caller.can(p)
        {
            return Err(layout::forbidden(&caller, &csrf, p));
        }
        let source = parts
            .extensions
            .get::<ConnectInfo<std::net::SocketAddr>>()
            .map_or("unknown".into(), |c| c.0.ip().to_string());
        Ok(Viewer { caller, csrf, source, path, _need: PhantomData })
    }
}

impl<N: Need> Viewer<N> {
    /// The refusal to send when a form's CSRF token is not this session's.
    pub fn csrf_rejection(&self, sent: &str) -> Option<Response> {
        let ok = sent.len() == self.csrf.len()
            && sent.bytes().zip(self.csrf.bytes()).fold(0u8, |a, (x, y)| a | (x ^ y)) == 0;
        if ok {
            None
        } else {
            Some(layout::error_page(
                &self.caller,
                &self.csrf,
                axum::http::StatusCode::FORBIDDEN,
                "The form expired or came from another site. Reload the page and try again.",
            ))
        }
    }

    /// Record a state change made through the web UI.
    pub async fn audit(&self, state: &AppState, action: &str, target: &str, outcome: &str, details: Value) {
        let event = NewAuditEvent {
            at: now_ms(),
            actor: self.caller.username.clone(),
            action: action.to_owned(),
            target: target.to_owned(),
            outcome: outcome.to_owned(),
            source: self.source.clone(),
            correlation_id: crate::auth::secret::random_token("")[..22].to_owned(),
            details,
        };
        if let Err(e) = state.store().append_audit(&event).await {
            tracing::error!(error = %e, action, "writing a web audit event");
        }
    }
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `application/x-www-form-urlencoded` pairs, keeping repeated keys (for checkbox lists).
pub fn form_pairs(body: &str) -> Vec<(String, String)> {
    fn decode(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            let hex = (b[i] == b'%')
                .then(|| s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok()))
                .flatten();
            match (b[i], hex) {
                (_, Some(byte)) => {
                    out.push(byte);
                    i += 3;
                }
                (b'+', None) => {
                    out.push(b' ');
                    i += 1;
                }
                (c, None) => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    body.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (decode(k), decode(v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn form_pairs_keep_repeats_and_decode() {
        let p = super::form_pairs("_csrf=a%2Bb&host_id=1&host_id=22&x=a+b&y=%zz%4");
        assert_eq!(p[0], ("_csrf".into(), "a+b".into()));
        assert_eq!(p.iter().filter(|(k, _)| k == "host_id").count(), 2);
        assert_eq!(p[3].1, "a b");
        assert_eq!(p[4].1, "%zz%4");
    }
}
