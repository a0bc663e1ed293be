//! The route table of the whole server, API and pages. Each route declares its method,
//! path, surface, required access and audit action in one place; every handler is wrapped
//! in [`authorize`](super::guard::authorize). The same table produces the OpenAPI document
//! (API routes) and drives the test that walks every route.

use std::sync::Arc;

use axum::Router;
use axum::handler::Handler;
use axum::http::Method;
use axum::middleware;
use axum::routing::{MethodFilter, on};

use super::guard::authorize;
use crate::app::AppState;
use crate::auth::rbac::Permission;

pub use super::guard::RequestId;

/// What a route requires of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (sign-in, health checks, static assets).
    Public,
    /// Any signed-in caller (who am I, sign out).
    SignedIn,
    Needs(Permission),
}

/// Who a route answers: programs (JSON, 401 and the error envelope) or browsers (HTML,
/// redirect to sign-in, error pages, CSRF also from the form field, sessions only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    Api,
    Page,
}

/// How a state-changing route is audited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditMode {
    /// The guard writes the event from the route's action and the response.
    Auto,
    /// The handler writes its own events (sign-in, which has no caller yet).
    Handler,
}

impl AuditMode {
    /// Sign-in has no caller until it succeeds, so its steps record their own events.
    fn for_action(action: &str) -> AuditMode {
        if matches!(
            action,
            "auth.login"
                | "auth.second_factor"
                | "auth.second_factor_enrol"
                | "auth.sso"
                | "auth.security_key"
        ) {
            AuditMode::Handler
        } else {
            AuditMode::Auto
        }
    }
}

#[derive(Debug, Clone)]
pub struct RouteSpec {
    pub method: Method,
    /// Axum path syntax (`/api/v1/hosts/{id}`).
    pub path: &'static str,
    pub surface: Surface,
    pub access: Access,
    /// Audit action name, e.g. `host.create`; the same operation has the same action on
    /// both surfaces.
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

/// Builds the router and the table side by side, so nothing is reachable unlisted.
pub struct Routes {
    state: AppState,
    router: Router<AppState>,
    specs: Vec<RouteSpec>,
}

impl std::fmt::Debug for Routes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Routes").field("routes", &self.specs.len()).finish()
    }
}

impl Routes {
    pub fn new(state: AppState) -> Routes {
        Routes { state, router: Router::new(), specs: Vec::new() }
    }

    fn add<H, T>(mut self, spec: RouteSpec, handler: H) -> Routes
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let guard = middleware::from_fn_with_state((self.state.clone(), Arc::new(spec.clone())), authorize);
        let filter = MethodFilter::try_from(spec.method.clone()).expect("a standard method");
        self.router = self.router.route(spec.path, on(filter, handler).route_layer(guard));
        self.specs.push(spec);
        self
    }

    /// An API route (documented in OpenAPI under `tag`).
    #[allow(clippy::too_many_arguments)]
    pub fn route<H, T>(
        self,
        method: Method,
        path: &'static str,
        access: Access,
        action: &'static str,
        tag: &'static str,
        summary: &'static str,
        handler: H,
    ) -> Routes
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let audit = AuditMode::for_action(action);
        let spec = RouteSpec { method, path, surface: Surface::Api, access, action, summary, tag, audit };
        self.add(spec, handler)
    }

    /// A web page or form target.
    pub fn page<H, T>(
        self,
        method: Method,
        path: &'static str,
        access: Access,
        action: &'static str,
        handler: H,
    ) -> Routes
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let audit = AuditMode::for_action(action);
        let spec = RouteSpec {
            method,
            path,
            surface: Surface::Page,
            access,
            action,
            summary: "",
            tag: "web",
            audit,
        };
        self.add(spec, handler)
    }

    pub fn specs(&self) -> &[RouteSpec] {
        &self.specs
    }

    pub fn into_parts(self) -> (Router<AppState>, Vec<RouteSpec>) {
        (self.router, self.specs)
    }
}
