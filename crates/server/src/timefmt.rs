//! Times as people read them, shared by pages and exports.

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
