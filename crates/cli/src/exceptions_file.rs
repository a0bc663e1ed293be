//! `--exceptions FILE`: read and check an exceptions file against the library, print its
//! warnings, refuse it on errors, and apply it to reports.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result, bail};
use openwatch_core::exceptions::{self, Date, Exception};
use openwatch_core::report::ScanReport;
use openwatch_core::rule::Rule;

/// Today in UTC, the day an exception's expiry is compared with.
pub fn today() -> Date {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    Date::from_unix_days((secs / 86_400) as i64)
}

/// The exceptions in force today; warnings (expired entries) go to standard error.
pub fn load(path: &Path, rules: &[Rule]) -> Result<Vec<Exception>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let file = exceptions::parse(&path.display().to_string(), &text, rules, today());
    for f in &file.findings {
        eprintln!("{f}");
    }
    if file.has_errors() {
        bail!("{} has errors: no exception from it was used", path.display());
    }
    Ok(file.exceptions)
}

/// Apply `exceptions` (if any) to every report.
pub fn apply(reports: &mut [ScanReport], exceptions: &[Exception]) {
    if exceptions.is_empty() {
        return;
    }
    let today = today();
    for r in reports {
        r.apply_exceptions(exceptions, today);
    }
}
