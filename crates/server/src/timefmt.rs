//! Times as people (and, in RFC 3339, other tools) read them, shared by pages and exports.

/// A Unix-milliseconds time as UTC text to the minute; `never` for none.
pub fn when(ms: Option<i64>) -> String {
    let Some(ms) = ms else { return "never".into() };
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC")).ok()
        })
        .unwrap_or_else(|| ms.to_string())
}

/// A Unix-milliseconds time in RFC 3339 (UTC), as documents for other tools want it; empty
/// for none.
pub fn rfc3339(ms: Option<i64>) -> String {
    ms.and_then(|ms| time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000).ok())
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}
