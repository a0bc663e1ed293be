use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration {version} ({name}) failed: {source}")]
    Migration { version: i64, name: String, source: sqlx::Error },
    #[error("{0}")]
    Config(String),
    /// A uniqueness rule was broken (a name taken, say).
    #[error("{0} already exists")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("secret error: {0}")]
    Secret(String),
}

impl StoreError {
    /// Map a unique-constraint violation to [`StoreError::Conflict`] naming `what`.
    pub(crate) fn conflict_or(e: sqlx::Error, what: &str) -> StoreError {
        match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict(what.to_owned()),
            _ => StoreError::Database(e),
        }
    }
}
