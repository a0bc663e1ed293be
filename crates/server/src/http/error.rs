//! The one error envelope every API failure uses: `{"error": {"code", "message", "details"}}`
//! with a stable machine-readable `code`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use openwatch_store::StoreError;

use crate::service::ServiceError;
use serde_json::{Value, json};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Value,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), details: Value::Null }
    }

    pub fn with_details(mut self, details: Value) -> ApiError {
        self.details = details;
        self
    }
}

pub fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
}

pub fn validation(field: &str, message: impl Into<String>) -> ApiError {
    let message = message.into();
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", format!("{field}: {message}"))
        .with_details(json!({ "field": field, "problem": message }))
}

pub fn not_found(what: &str) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("{what} not found"))
}

pub fn conflict(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, "conflict", message)
}

pub fn unauthenticated(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
}

pub fn forbidden(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
}

pub fn internal(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::Conflict(what) => conflict(format!("{what} already exists")),
            StoreError::Invalid(msg) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", msg)
            }
            other => {
                tracing::error!(error = %other, "storage failure");
                internal("a storage error occurred; see the server log")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message, "details": self.details}});
        let mut resp = (self.status, axum::Json(body)).into_response();
        resp.extensions_mut().insert(Failure { code: self.code, status: self.status });
        resp
    }
}

/// Marks a response as a failure, with its stable code, for the audit event. Pages answer
/// some failures with a redirect, so the status alone cannot tell.
#[derive(Debug, Clone, Copy)]
pub struct Failure {
    pub code: &'static str,
    pub status: StatusCode,
}

/// The status and code a use case's error answers with, on either surface.
pub fn classify(e: &ServiceError) -> Failure {
    let (status, code) = match e {
        ServiceError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
        ServiceError::Invalid { .. } | ServiceError::BadRequest(_) => {
            (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
        }
        ServiceError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
        ServiceError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
        ServiceError::FreshSecondFactor(_) => (StatusCode::FORBIDDEN, "second_factor_check_required"),
        ServiceError::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
        ServiceError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    };
    Failure { code, status }
}

impl From<ServiceError> for ApiError {
    /// Status and code from [`classify`] (the one mapping both surfaces use); the message
    /// is the error's own text, which never holds storage details.
    fn from(e: ServiceError) -> ApiError {
        let Failure { code, status } = classify(&e);
        let details = match &e {
            ServiceError::Invalid { field, problem } => json!({ "field": field, "problem": problem }),
            ServiceError::RateLimited(secs) => json!({ "retry_after_secs": secs }),
            _ => Value::Null,
        };
        ApiError { status, code, message: e.to_string(), details }
    }
}
