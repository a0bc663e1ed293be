pub mod client_addr;
pub mod error;
pub mod guard;
pub mod json;
pub mod openapi;
pub mod router;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::service::Done;
pub use crate::service::{AuditNote, note};

/// A JSON response with the note the audit event should carry.
pub fn audited<T: Serialize>(status: StatusCode, body: T, audit: AuditNote) -> Response {
    let mut resp = (status, Json(body)).into_response();
    resp.extensions_mut().insert(audit);
    resp
}

/// `204 No Content` with the note the audit event should carry.
pub fn done(audit: AuditNote) -> Response {
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.extensions_mut().insert(audit);
    resp
}

/// A use case's result as a JSON response carrying its audit note.
pub fn respond<T: Serialize>(status: StatusCode, done: Done<T>) -> Response {
    audited(status, done.value, done.audit)
}

/// An export as a file download (both surfaces serve exports through this).
pub fn download(e: crate::service::exports::Export) -> Response {
    use axum::http::header;
    let disposition = format!("attachment; filename=\"{}\"", e.filename);
    ([(header::CONTENT_TYPE, e.content_type.to_owned()), (header::CONTENT_DISPOSITION, disposition)], e.body)
        .into_response()
}

/// This server's origin as browsers reach it: `public_origin`, else the request's Host.
pub fn origin(state: &crate::app::AppState, headers: &axum::http::HeaderMap) -> String {
    if !state.config.public_origin.is_empty() {
        return state.config.public_origin.trim_end_matches('/').to_owned();
    }
    let host = headers.get(axum::http::header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("localhost");
    let scheme = if state.config.tls() { "https" } else { "http" };
    format!("{scheme}://{host}")
}
