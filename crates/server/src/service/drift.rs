//! What changed: the change log across hosts or on one, filtered by time, group, framework
//! and severity, each change with the values behind it before and after (the evidence's
//! `actual` per thing inspected: `MaxAuthTries 4` then `10`, a mode `0600` then `0644`).

use std::collections::{BTreeMap, HashMap};

use openwatch_core::exceptions::Date;
use openwatch_store::{Change, ChangeQuery, Page};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::scans::{ResultFilter, result_query};
use super::{ServiceError, ServiceResult};
use crate::app::AppState;
use crate::auth::need::HostsRead;
use crate::http::guard::Grant;

/// Filters as callers give them (query string or form).
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct ChangeFilter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_id: Option<i64>,
    /// A group's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framework: Option<String>,
    /// The rule's severity now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// First day (UTC, `YYYY-MM-DD`), inclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Last day (UTC, `YYYY-MM-DD`), inclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_page: Option<i64>,
}

/// One value that differs between the evidence before and after a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValueChange {
    /// The method and the file, command or fact it read (without a line number).
    pub source: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// A change with the rule's title and the values that moved.
#[derive(Debug, Serialize)]
pub struct Drift {
    #[serde(flatten)]
    pub change: Change,
    pub title: Option<String>,
    pub values: Vec<ValueChange>,
}

const DAY_MS: i64 = 86_400_000;

fn day(field: &'static str, v: &Option<String>) -> ServiceResult<Option<i64>> {
    match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => Date::parse(s)
            .map(|d| Some(d.unix_days() * DAY_MS))
            .ok_or_else(|| ServiceError::invalid(field, format!("`{s}` is not a date (YYYY-MM-DD)"))),
    }
}

/// The change log with `f`'s filters, newest first, each change with its values.
pub async fn changes(
    state: &AppState,
    _g: &Grant<HostsRead>,
    f: &ChangeFilter,
) -> ServiceResult<Page<Drift>> {
    let rq = result_query(
        &state.library,
        &ResultFilter {
            severity: f.severity.clone(),
            framework: f.framework.clone(),
            ..ResultFilter::default()
        },
    )?;
    let mut q = ChangeQuery {
        host_id: f.host_id,
        rule_ids: rq.rule_ids,
        severity: rq.severity,
        since: day("since", &f.since)?,
        until: day("until", &f.until)?.map(|t| t + DAY_MS),
        ..ChangeQuery::default()
    };
    if let Some(h) = f.host_id {
        state.store().host(h).await?.ok_or(ServiceError::NotFound("host"))?;
    }
    if let Some(name) = f.group.as_deref().filter(|g| !g.is_empty()) {
        let groups = state.store().list_groups().await?;
        let g = groups
            .iter()
            .find(|g| g.name == name)
            .ok_or_else(|| ServiceError::invalid("group", format!("there is no group named `{name}`")))?;
        q.group_id = Some(g.id);
    }
    let page = state.store().find_changes(&q, super::page(f.page, f.per_page)?).await?;
    let items = with_values(state, page.items).await?;
    Ok(Page { items, total: page.total, page: page.page, per_page: page.per_page })
}

/// Changes with their rules' titles and the values before and after.
pub async fn with_values(state: &AppState, changes: Vec<Change>) -> openwatch_store::Result<Vec<Drift>> {
    let hashes: Vec<String> = changes
        .iter()
        .flat_map(|c| [c.old_evidence_hash.clone(), c.new_evidence_hash.clone()])
        .flatten()
        .collect();
    let bodies = state.store().evidence_many(&hashes).await?;
    Ok(changes
        .into_iter()
        .map(|change| {
            let read = |h: &Option<String>| h.as_ref().and_then(|h| bodies.get(h)).map(|b| actuals(b));
            let values = value_changes(read(&change.old_evidence_hash), read(&change.new_evidence_hash));
            let title = state.library.rule(&change.rule_id).map(|r| r.raw.title.as_str().to_owned());
            Drift { change, title, values }
        })
        .collect())
}

/// Each thing inspected in stored evidence (`method: source`, without `:LINE`) and what was
/// found there.
fn actuals(body: &str) -> BTreeMap<String, String> {
    let items: Vec<Value> = serde_json::from_str(body).unwrap_or_default();
    let mut seen: HashMap<String, usize> = HashMap::new();
    items
        .iter()
        .map(|e| {
            let source = e["source"].as_str().unwrap_or("");
            let file = match source.rsplit_once(':') {
                Some((path, line)) if !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit()) => path,
                _ => source,
            };
            let mut key = format!("{}: {file}", e["method"].as_str().unwrap_or(""));
            // One check may read the same thing twice: keep both apart, in order.
            let n = seen.entry(key.clone()).or_default();
            *n += 1;
            if *n > 1 {
                key = format!("{key} ({n})");
            }
            (key, e["actual"].as_str().unwrap_or("").to_owned())
        })
        .collect()
}

/// The values that differ, by what was inspected: changed, appeared or gone.
fn value_changes(
    before: Option<BTreeMap<String, String>>,
    after: Option<BTreeMap<String, String>>,
) -> Vec<ValueChange> {
    let (before, after) = (before.unwrap_or_default(), after.unwrap_or_default());
    let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| before.get(*k) != after.get(*k))
        .map(|k| ValueChange {
            source: k.clone(),
            before: before.get(k).cloned(),
            after: after.get(k).cloned(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_pair_by_what_was_read_whatever_its_line() {
        let before = actuals(
            r#"[{"method":"sshd_config","source":"/etc/ssh/sshd_config:12","actual":"4"},
                {"method":"file","source":"/etc/passwd","actual":"mode 0644"},
                {"method":"file","source":"/etc/gone","actual":"exists"}]"#,
        );
        let after = actuals(
            r#"[{"method":"sshd_config","source":"/etc/ssh/sshd_config:30","actual":"10"},
                {"method":"file","source":"/etc/passwd","actual":"mode 0644"},
                {"method":"file","source":"/etc/new","actual":"exists"}]"#,
        );
        let v = value_changes(Some(before), Some(after));
        let shown: Vec<(&str, Option<&str>, Option<&str>)> =
            v.iter().map(|c| (c.source.as_str(), c.before.as_deref(), c.after.as_deref())).collect();
        assert_eq!(
            shown,
            [
                ("file: /etc/gone", Some("exists"), None),
                ("file: /etc/new", None, Some("exists")),
                ("sshd_config: /etc/ssh/sshd_config", Some("4"), Some("10")),
            ]
        );
        assert!(value_changes(None, None).is_empty());
    }
}
