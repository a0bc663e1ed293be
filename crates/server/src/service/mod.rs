//! The server's operations, each written once. Every use case takes a typed input and the
//! caller's [`Grant`](crate::http::guard::Grant) for the permission it needs, and returns a
//! [`ServiceError`] on failure. The API handlers, the web pages and the scheduler are thin
//! adapters over these functions: parse, call, render.

pub mod alerts;
pub mod channels;
pub mod compliance;
pub mod credentials;
pub mod drift;
pub mod error;
pub mod exceptions;
pub mod exports;
pub mod factors;
pub mod foreign;
pub mod groups;
pub mod hosts;
pub mod import;
pub mod notify;
pub mod remediation;
pub mod reports;
pub mod scans;
pub mod schedules;
pub mod tailoring;
pub mod users;

use serde_json::Value;

pub use error::{ServiceError, ServiceResult};

/// What a state change records in its audit event, beside the route's action.
#[derive(Debug, Clone, Default)]
pub struct AuditNote {
    pub target: Option<String>,
    pub details: Value,
}

pub fn note(target: impl Into<String>, details: Value) -> AuditNote {
    AuditNote { target: Some(target.into()), details }
}

/// The result of a state change with the note for its audit event, so both surfaces record
/// the same event for the same operation.
#[derive(Debug)]
pub struct Done<T> {
    pub value: T,
    pub audit: AuditNote,
}

impl<T> Done<T> {
    pub fn new(value: T, audit: AuditNote) -> Done<T> {
        Done { value, audit }
    }
}

/// The highest page number accepted; beyond it offsets stop meaning anything.
pub const MAX_PAGE: i64 = 1_000_000;

/// A page request from caller input: a page number out of range is an error, not an
/// overflow; `per_page` is clamped to what the store serves.
pub fn page(page: Option<i64>, per_page: Option<i64>) -> ServiceResult<openwatch_store::PageRequest> {
    if let Some(p) = page
        && !(1..=MAX_PAGE).contains(&p)
    {
        return Err(ServiceError::invalid("page", format!("between 1 and {MAX_PAGE}")));
    }
    Ok(openwatch_store::PageRequest::new(page, per_page))
}
