//! Operations endpoints (health, readiness, metrics), the OpenAPI document and its docs
//! page, the enveloped 404, and security headers on every response.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::http::error::{ApiError, ApiResult};

pub async fn healthz() -> &'static str {
    "ok\n"
}

pub async fn readyz(State(state): State<AppState>) -> Response {
    if state.shutting_down() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
    }
    match state.store().ping().await {
        Ok(()) => "ready\n".into_response(),
        Err(e) => {
            // The reason goes to the log; an unauthenticated probe learns only the state.
            tracing::error!(error = %e, "readiness: the database is unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
        }
    }
}

pub async fn metrics(State(state): State<AppState>) -> ApiResult<Response> {
    let d = state.store().queue_depth().await?;
    let text = state.metrics.render(&[
        ("queued", d.queued),
        ("running", d.running),
        ("failed", d.failed),
        ("done", d.done),
    ]);
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}

pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
}

/// `/api/v1/openapi.json` and `/api/v1/docs`, generated from the route table.
pub fn docs_routes(doc: Arc<Value>) -> Router<AppState> {
    let page = Arc::new(crate::http::openapi::docs_page(&doc));
    let d = doc.clone();
    Router::new()
        .route("/api/v1/openapi.json", get(move || async move { axum::Json(json!(*d)) }))
        .route("/api/v1/docs", get(move || async move { Html(page.as_str().to_owned()) }))
}

/// Headers every response carries: a strict CSP (no inline scripts), no sniffing, no framing.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, k: &'static str, v: &'static str| {
        h.entry(k).or_insert(HeaderValue::from_static(v));
    };
    set(
        h,
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    );
    set(h, "x-content-type-options", "nosniff");
    set(h, "x-frame-options", "DENY");
    set(h, "referrer-policy", "same-origin");
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}
