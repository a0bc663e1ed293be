//! The one guard every route passes through, API and page alike. It resolves the caller,
//! checks CSRF on writes (header, same-origin `Origin`, or the form's `_csrf` field) and the
//! route's permission, then hands the handler a [`Grant`], the only way to obtain one. After
//! the handler it writes the audit event of every state-changing route, refusals included,
//! and fails the request when that write fails.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use openwatch_store::NewAuditEvent;
use serde_json::json;

use super::error::{ApiError, Failure, forbidden, internal, unauthenticated};
use super::router::{Access, AuditMode, RouteSpec, Surface};
use crate::app::{AppState, now_ms};
use crate::auth::need::Need;
use crate::auth::rbac::Permission;
use crate::auth::{self, CSRF_HEADER, Caller, Via};
use crate::service::{AuditNote, ServiceError};

/// Largest form body read to find its `_csrf` field (the CSV import is the biggest form).
const FORM_LIMIT: usize = 8 * 1024 * 1024;

/// A correlation id: the caller's `X-Request-Id` when sane, else a new one.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// What the guard proved, carried to the handler's extractor.
#[derive(Debug, Clone)]
struct Granted {
    caller: Caller,
    permission: Option<Permission>,
}

/// Proof that the guard authenticated the caller and checked permission `N` for this
/// route. Only the guard creates one; use cases take it as an argument, so an operation
/// cannot run for a caller whose permission was not checked.
#[derive(Debug, Clone)]
pub struct Grant<N: Need> {
    caller: Caller,
    _need: PhantomData<N>,
}

impl<N: Need> Grant<N> {
    pub fn caller(&self) -> &Caller {
        &self.caller
    }

    pub fn username(&self) -> &str {
        &self.caller.username
    }

    /// The session's CSRF token, for forms on pages (empty for bearer tokens).
    pub fn csrf(&self) -> &str {
        match &self.caller.via {
            Via::Session { csrf_token, .. } => csrf_token,
            Via::Token { .. } => "",
        }
    }

    /// A further permission an operation needs beyond the route's (attaching a credential
    /// while editing a host, say).
    pub fn also<M: Need>(&self) -> Result<Grant<M>, ServiceError> {
        match M::PERMISSION {
            Some(p) if !self.caller.can(p) => {
                Err(ServiceError::Forbidden(format!("this needs the {} permission", p.as_str())))
            }
            _ => Ok(Grant { caller: self.caller.clone(), _need: PhantomData }),
        }
    }
}

impl<N: Need, S: Send + Sync> FromRequestParts<S> for Grant<N> {
    type Rejection = ApiError;

    /// Fails closed: without the guard, or when the handler asks for another permission
    /// than the route table declares, the request fails instead of running unchecked.
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let granted = parts
            .extensions
            .get::<Granted>()
            .ok_or_else(|| internal("authorization did not run for this route"))?;
        if granted.permission != N::PERMISSION {
            tracing::error!(path = %parts.uri.path(), "the route table and its handler name different permissions");
            return Err(internal("this route is misconfigured"));
        }
        Ok(Grant { caller: granted.caller.clone(), _need: PhantomData })
    }
}

fn request_id(req: &Request) -> String {
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| crate::auth::secret::random_token("")[..22].to_owned())
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A cookie-authenticated write must carry the CSRF token in the header or come from our
/// own origin; the form field is checked separately (it needs the body).
pub(crate) fn csrf_header_or_origin(state: &AppState, headers: &HeaderMap, csrf_token: &str) -> bool {
    if let Some(sent) = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()) {
        return constant_time_eq(sent.as_bytes(), csrf_token.as_bytes());
    }
    let Some(origin) = headers.get("origin").and_then(|v| v.to_str().ok()) else { return false };
    if !state.config.public_origin.is_empty() {
        return origin == state.config.public_origin;
    }
    let Some(host) = headers.get("host").and_then(|v| v.to_str().ok()) else { return false };
    let scheme = if state.config.tls() { "https" } else { "http" };
    origin == format!("{scheme}://{host}")
}

/// Read a form body to compare its `_csrf` field, then put the body back for the handler.
async fn csrf_form_field(req: Request, csrf_token: &str) -> (Request, bool) {
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return (req, false);
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, FORM_LIMIT).await else {
        return (Request::from_parts(parts, Body::empty()), false);
    };
    let text = String::from_utf8_lossy(&bytes);
    let ok = crate::web::form::pairs(&text)
        .iter()
        .any(|(k, v)| k == "_csrf" && constant_time_eq(v.as_bytes(), csrf_token.as_bytes()));
    (Request::from_parts(parts, Body::from(bytes)), ok)
}

/// Why a request was refused before its handler ran.
enum Refusal {
    SignedOut(ApiError),
    Csrf,
    Forbidden(Permission),
    Error(ApiError),
}

impl Refusal {
    fn render(self, surface: Surface, caller: Option<&Caller>, path: &str) -> Response {
        match (surface, self) {
            (Surface::Api, Refusal::SignedOut(e) | Refusal::Error(e)) => e.into_response(),
            (Surface::Api, Refusal::Csrf) => {
                forbidden("cross-site request refused: send the X-CSRF-Token header or a same-origin Origin")
                    .with_code("csrf_failed")
                    .into_response()
            }
            (Surface::Api, Refusal::Forbidden(p)) => {
                forbidden(format!("this needs the {} permission", p.as_str())).into_response()
            }
            (Surface::Page, Refusal::SignedOut(_)) => {
                let mut resp = Redirect::to(&format!("/login?next={}", crate::web::form::urlencode(path)))
                    .into_response();
                resp.extensions_mut()
                    .insert(Failure { code: "unauthenticated", status: StatusCode::UNAUTHORIZED });
                resp
            }
            (Surface::Page, Refusal::Csrf) => crate::web::layout::refusal(
                caller,
                StatusCode::FORBIDDEN,
                "csrf_failed",
                "The form expired or came from another site. Reload the page and try again.",
            ),
            (Surface::Page, Refusal::Forbidden(p)) => {
                let role = caller.map_or("none", |c| c.role.as_str());
                crate::web::layout::refusal(
                    caller,
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    &format!("Your role ({role}) does not include {}.", p.as_str()),
                )
            }
            (Surface::Page, Refusal::Error(e)) => {
                crate::web::layout::refusal(caller, e.status, e.code, &e.message)
            }
        }
    }
}

/// Authenticate, check CSRF and permission; the request comes back to run the handler.
async fn check(
    state: &AppState,
    spec: &RouteSpec,
    req: Request,
) -> (Request, Option<Caller>, Result<(), Refusal>) {
    if spec.access == Access::Public {
        return (req, None, Ok(()));
    }
    let caller = match auth::resolve(state.store(), req.headers(), state.session_limits(), now_ms()).await {
        Ok(Some(c)) if spec.surface == Surface::Api || matches!(c.via, Via::Session { .. }) => c,
        Ok(_) => {
            let e = unauthenticated("sign in or send `Authorization: Bearer <token>`");
            return (req, None, Err(Refusal::SignedOut(e)));
        }
        Err(e) if e.status == StatusCode::UNAUTHORIZED => return (req, None, Err(Refusal::SignedOut(e))),
        Err(e) => return (req, None, Err(Refusal::Error(e))),
    };
    let mut req = req;
    if spec.changes_state()
        && let Via::Session { csrf_token, .. } = &caller.via
        && !csrf_header_or_origin(state, req.headers(), csrf_token)
    {
        let ok;
        (req, ok) =
            if spec.surface == Surface::Page { csrf_form_field(req, csrf_token).await } else { (req, false) };
        if !ok {
            return (req, Some(caller), Err(Refusal::Csrf));
        }
    }
    if let Access::Needs(p) = spec.access
        && !caller.can(p)
    {
        return (req, Some(caller), Err(Refusal::Forbidden(p)));
    }
    (req, Some(caller), Ok(()))
}

/// Axum's extractors answer a malformed path, query or body with plain text. Every answer of
/// ours carries the envelope or a page, so a plain-text client error without our failure
/// marker is such a rejection: give it the same form as every other error.
async fn normalise_rejection(surface: Surface, caller: Option<&Caller>, resp: Response) -> Response {
    let status = resp.status();
    let plain = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    if !status.is_client_error() || !plain || resp.extensions().get::<Failure>().is_some() {
        return resp;
    }
    let bytes = axum::body::to_bytes(resp.into_body(), 16 * 1024).await.unwrap_or_default();
    let detail = String::from_utf8_lossy(&bytes).trim().to_owned();
    let code =
        if status == StatusCode::UNPROCESSABLE_ENTITY { "validation_failed" } else { "invalid_request" };
    match surface {
        Surface::Api => ApiError::new(status, code, detail).into_response(),
        Surface::Page => {
            let message = format!("This address or form is not valid ({detail}).");
            crate::web::layout::refusal(caller, status, code, &message)
        }
    }
}

/// The middleware of every route in the table.
pub async fn authorize(
    State((state, spec)): State<(AppState, Arc<RouteSpec>)>,
    mut req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let rid = request_id(&req);
    let source = super::client_addr::source(&req, &state.config.trusted_proxies);
    let path = req.uri().path_and_query().map_or("/".to_owned(), |p| p.as_str().to_owned());
    // A refused or failed change is recorded against the path it was aimed at.
    let aimed_at = req.uri().path().to_owned();
    req.extensions_mut().insert(RequestId(rid.clone()));
    let (mut req, caller, allowed) = check(&state, &spec, req).await;
    let actor = caller.as_ref().map_or_else(|| "anonymous".to_owned(), |c| c.username.clone());
    let mut resp = match allowed {
        Ok(()) => {
            if let Some(c) = caller.clone() {
                let permission = match spec.access {
                    Access::Needs(p) => Some(p),
                    _ => None,
                };
                req.extensions_mut().insert(Granted { caller: c, permission });
            }
            let resp = next.run(req).await;
            normalise_rejection(spec.surface, caller.as_ref(), resp).await
        }
        Err(refusal) => {
            // After signing in, a form post cannot be repeated: go back to the start instead.
            let back = if spec.changes_state() { "/" } else { path.as_str() };
            refusal.render(spec.surface, caller.as_ref(), back)
        }
    };
    let status = resp.status();
    if spec.changes_state() && spec.audit == AuditMode::Auto {
        let note = resp.extensions_mut().remove::<AuditNote>().unwrap_or_default();
        let failure = resp.extensions().get::<Failure>().copied();
        let (outcome, details) = match failure {
            Some(f) => {
                let denied = matches!(f.status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN);
                (
                    if denied { "denied" } else { "failure" },
                    json!({"status": f.status.as_u16(), "error": f.code}),
                )
            }
            None if status.is_success() || status.is_redirection() => ("success", note.details),
            None => ("failure", json!({"status": status.as_u16()})),
        };
        let event = NewAuditEvent {
            at: now_ms(),
            actor,
            action: spec.action.to_owned(),
            target: note.target.unwrap_or(aimed_at),
            outcome: outcome.to_owned(),
            source,
            correlation_id: rid.clone(),
            details,
        };
        if let Err(e) = state.store().append_audit(&event).await {
            // The change may have happened but is not recorded: fail the call, loudly.
            tracing::error!(error = %e, action = spec.action, "writing the audit event failed");
            let message = "the request was processed but its audit event could not be written";
            resp = match spec.surface {
                Surface::Api => internal(message).into_response(),
                Surface::Page => crate::web::layout::refusal(
                    caller.as_ref(),
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    message,
                ),
            };
        }
    }
    if let Ok(v) = HeaderValue::from_str(&rid) {
        resp.headers_mut().insert("x-request-id", v);
    }
    state.metrics.observe_http(
        spec.method.as_str(),
        spec.path,
        status.as_u16(),
        started.elapsed().as_secs_f64(),
    );
    resp
}
