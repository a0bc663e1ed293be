//! The one error type of every use case. Adapters turn it into the API's envelope or a
//! readable page; storage details go to the log, never to the caller.

use openwatch_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{field}: {problem}")]
    Invalid { field: &'static str, problem: String },
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Forbidden(String),
    /// The change needs a second factor checked in this session within the last minutes.
    #[error("{0}")]
    FreshSecondFactor(String),
    /// Too many failed attempts; retry after this many seconds.
    #[error("too many failed attempts; try again in {0} s")]
    RateLimited(u64),
    /// A failure of ours (storage, hashing, sealing); the text is logged, not shown.
    #[error("an internal error occurred; see the server log")]
    Internal(String),
}

pub type ServiceResult<T> = Result<T, ServiceError>;

impl ServiceError {
    pub fn invalid(field: &'static str, problem: impl Into<String>) -> ServiceError {
        ServiceError::Invalid { field, problem: problem.into() }
    }

    pub fn internal(what: impl std::fmt::Display) -> ServiceError {
        tracing::error!(error = %what, "internal failure");
        ServiceError::Internal(what.to_string())
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> ServiceError {
        match e {
            StoreError::Conflict(what) => ServiceError::Conflict(format!("{what} already exists")),
            StoreError::Invalid(msg) => ServiceError::BadRequest(msg),
            other => ServiceError::internal(other),
        }
    }
}
