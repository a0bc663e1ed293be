pub mod client_addr;
pub mod error;
pub mod json;
pub mod openapi;
pub mod router;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

pub use router::{AuditNote, note};

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
