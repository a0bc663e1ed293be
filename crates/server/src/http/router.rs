//! The API's route table. Each route declares its method, path, required access and audit
//! action in one place; [`Api::route`] wraps its handler in [`authorize`], which resolves the
//! caller, checks CSRF and the permission, records latency and, for every state-changing
//! call, writes the audit event. The same table produces the OpenAPI document and drives the
//! test that walks every route.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::handler::Handler;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, on};
use openwatch_store::NewAuditEvent;
use serde_json::{Value, json};

use super::error::{ApiError, ErrorCode, forbidden, unauthenticated};
use crate::app::{AppState, now_ms};
use crate::auth::rbac::Permission;
use crate::auth::{self, CSRF_HEADER, Caller, Via};

/// What a route requires of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (login, health checks).
    Public,
    /// Any signed-in caller (who am I, log out).
    SignedIn,
    Needs(Permission),
}

/// How a state-changing route is audited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditMode {
    /// The middleware writes the event from the route's action and the response.
    Auto,
    /// The handler writes its own events (login, which has no caller yet).
    Handler,
}

#[derive(Debug, Clone)]
pub struct RouteSpec {
    pub method: Method,
    /// Axum path syntax (`/api/v1/hosts/{id}`).
    pub path: &'static str,
    pub access: Access,
    /// Audit action name, e.g. `host.create`.
    pub action: &'static str,
    pub summary: &'static str,
    pub tag: &'static str,
    pub audit: AuditMode,
}

impl RouteSpec {
    pub fn changes_state(&self) -> bool {
        !matches!(self.method, Method::GET | Method::HEAD | Method::OPTIONS)
    }
}

/// What a handler may attach to its response for the audit event.
#[derive(Debug, Clone, Default)]
pub struct AuditNote {
    pub target: Option<String>,
    pub details: Value,
}

pub fn note(target: impl Into<String>, details: Value) -> AuditNote {
    AuditNote { target: Some(target.into()), details }
}

/// A correlation id: the caller's `X-Request-Id` when sane, else a new one.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

pub struct Api {
    state: AppState,
    router: Router<AppState>,
    specs: Vec<RouteSpec>,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api").field("routes", &self.specs.len()).finish()
    }
}

impl Api {
    pub fn new(state: AppState) -> Api {
        Api { state, router: Router::new(), specs: Vec::new() }
    }

    /// Register a route: the handler is only reachable through [`authorize`].
    #[allow(clippy::too_many_arguments)]
    pub fn route<H, T>(
        mut self,
        method: Method,
        path: &'static str,
        access: Access,
        action: &'static str,
        tag: &'static str,
        summary: &'static str,
        handler: H,
    ) -> Api
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let audit = if action == "auth.login" { AuditMode::Handler } else { AuditMode::Auto };
        let spec = RouteSpec { method: method.clone(), path, access, action, summary, tag, audit };
        let guard = middleware::from_fn_with_state((self.state.clone(), Arc::new(spec.clone())), authorize);
        let filter = MethodFilter::try_from(method).expect("a standard method");
        self.router = self.router.route(path, on(filter, handler).route_layer(guard));
        self.specs.push(spec);
        self
    }

    pub fn specs(&self) -> &[RouteSpec] {
        &self.specs
    }

    pub fn into_parts(self) -> (Router<AppState>, Vec<RouteSpec>) {
        (self.router, self.specs)
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

pub fn source_address(req: &Request) -> String {
    req.extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map_or("unknown".into(), |c| c.0.ip().to_string())
}

/// Cookie-authenticated writes must come from our own origin or carry the CSRF token.
fn csrf_ok(state: &AppState, headers: &HeaderMap, csrf_token: &str) -> bool {
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

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The caller (when known) and whether the route may proceed.
async fn check(
    state: &AppState,
    spec: &RouteSpec,
    headers: &HeaderMap,
) -> (Option<Caller>, Result<(), ApiError>) {
    if spec.access == Access::Public {
        return (None, Ok(()));
    }
    let caller = match auth::resolve(state.store(), headers, state.session_limits(), now_ms()).await {
        Ok(Some(c)) => c,
        Ok(None) => return (None, Err(unauthenticated("sign in or send `Authorization: Bearer <token>`"))),
        Err(e) => return (None, Err(e)),
    };
    if spec.changes_state()
        && let Via::Session { csrf_token, .. } = &caller.via
        && !csrf_ok(state, headers, csrf_token)
    {
        let e = forbidden("cross-site request refused: send the X-CSRF-Token header or a same-origin Origin")
            .with_code("csrf_failed");
        return (Some(caller), Err(e));
    }
    let allowed = match spec.access {
        Access::Needs(p) => caller.require(p),
        _ => Ok(()),
    };
    (Some(caller), allowed)
}

/// The guard every route passes through.
pub async fn authorize(
    State((state, spec)): State<(AppState, Arc<RouteSpec>)>,
    mut req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let rid = request_id(&req);
    let source = source_address(&req);
    req.extensions_mut().insert(RequestId(rid.clone()));
    let headers = req.headers().clone();
    let (caller, allowed) = check(&state, &spec, &headers).await;
    let actor = caller.as_ref().map_or_else(|| "anonymous".to_owned(), |c| c.username.clone());
    let mut resp = match allowed {
        Ok(()) => {
            if let Some(c) = caller {
                req.extensions_mut().insert(c);
            }
            next.run(req).await
        }
        Err(e) => e.into_response(),
    };
    let status = resp.status();
    if spec.changes_state() && spec.audit == AuditMode::Auto {
        let note = resp.extensions_mut().remove::<AuditNote>().unwrap_or_default();
        let outcome = if status.is_success() {
            "success"
        } else if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
            "denied"
        } else {
            "failure"
        };
        let mut details = note.details;
        if !status.is_success() {
            let code = resp.extensions().get::<ErrorCode>().map_or("", |c| c.0);
            details = json!({"status": status.as_u16(), "error": code});
        }
        let event = NewAuditEvent {
            at: now_ms(),
            actor,
            action: spec.action.to_owned(),
            target: note.target.unwrap_or_else(|| spec.path.to_owned()),
            outcome: outcome.to_owned(),
            source,
            correlation_id: rid.clone(),
            details,
        };
        if let Err(e) = state.store().append_audit(&event).await {
            // The change happened but could not be recorded: say so loudly, fail the call.
            tracing::error!(error = %e, action = spec.action, "writing the audit event failed");
            resp =
                crate::http::error::internal("the change was made but its audit event could not be written")
                    .into_response();
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
