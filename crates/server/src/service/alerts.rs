//! Alert rules (what is worth telling people) and the alerts they raise: list, acknowledge,
//! resolve. The evaluation itself is the workers' (`worker::alerts`); these are the
//! operations people do, the same for the API and the pages.

use openwatch_core::rule::Severity;
use openwatch_store::{Alert, AlertKind, AlertQuery, AlertRule, AlertStatus, NewAlertRule, Page};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Done, ServiceError, ServiceResult, note};
use crate::app::{AppState, now_ms};
use crate::auth::need::{AlertsManage, AlertsRead};
use crate::http::guard::Grant;

/// How long a resolved alert that comes back stays quiet, unless the rule says otherwise.
pub const DEFAULT_QUIET_SECS: i64 = 3600;

/// A rule's parameters, typed per kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Params {
    /// A rule starting to fail on a host at or above a severity.
    NewFailure {
        min_severity: Severity,
    },
    /// A framework's score (with exceptions) over the fleet or a group below a percentage.
    ComplianceBelow {
        framework: String,
        group: Option<String>,
        threshold: f64,
    },
    /// So many scans in a row failed to reach the host; its recovery is told too.
    HostUnreachable {
        attempts: i64,
    },
    HostKeyChanged,
    /// An approved exception ending within so many days (its end alerts without any rule:
    /// `worker::alerts::tick`).
    ExceptionExpiring {
        days: i64,
    },
    RemediationAwaitingApproval,
}

impl Params {
    /// Check `v` for `kind`, filling defaults.
    pub fn parse(state: &AppState, kind: AlertKind, v: &Value) -> ServiceResult<Params> {
        let obj = match v {
            Value::Null => serde_json::Map::new(),
            Value::Object(o) => o.clone(),
            _ => return Err(ServiceError::invalid("params", "an object")),
        };
        let int =
            |k: &'static str, default: i64, range: std::ops::RangeInclusive<i64>| -> ServiceResult<i64> {
                match obj.get(k) {
                    None => Ok(default),
                    Some(x) => x
                        .as_i64()
                        .or_else(|| x.as_str().and_then(|s| s.trim().parse().ok()))
                        .filter(|n| range.contains(n))
                        .ok_or_else(|| {
                            ServiceError::invalid(
                                "params",
                                format!("{k}: a whole number from {} to {}", range.start(), range.end()),
                            )
                        }),
                }
            };
        let text = |k: &str| obj.get(k).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
        Ok(match kind {
            AlertKind::NewFailure => {
                let s = text("min_severity").unwrap_or("medium");
                let min_severity = Severity::parse(s).ok_or_else(|| {
                    ServiceError::invalid(
                        "params",
                        format!("min_severity: `{s}` is not low, medium, high or critical"),
                    )
                })?;
                Params::NewFailure { min_severity }
            }
            AlertKind::ComplianceBelow => {
                let framework = text("framework")
                    .ok_or_else(|| ServiceError::invalid("params", "framework: which framework to watch"))?;
                if !state.library.frameworks().any(|f| f == framework) {
                    return Err(ServiceError::invalid(
                        "params",
                        format!("framework: unknown framework `{framework}`"),
                    ));
                }
                let threshold = obj
                    .get("threshold")
                    .and_then(|x| x.as_f64().or_else(|| x.as_str().and_then(|s| s.trim().parse().ok())))
                    .filter(|t| (0.0..=100.0).contains(t))
                    .ok_or_else(|| {
                        ServiceError::invalid("params", "threshold: a percentage from 0 to 100")
                    })?;
                Params::ComplianceBelow {
                    framework: framework.to_owned(),
                    group: text("group").map(str::to_owned),
                    threshold,
                }
            }
            AlertKind::HostUnreachable => Params::HostUnreachable { attempts: int("attempts", 3, 1..=100)? },
            AlertKind::HostKeyChanged => Params::HostKeyChanged,
            AlertKind::ExceptionExpiring => Params::ExceptionExpiring { days: int("days", 14, 1..=365)? },
            AlertKind::RemediationAwaitingApproval => Params::RemediationAwaitingApproval,
        })
    }

    /// The stored form (defaults filled).
    pub fn to_json(&self) -> Value {
        match self {
            Params::NewFailure { min_severity } => json!({"min_severity": min_severity.as_str()}),
            Params::ComplianceBelow { framework, group, threshold } => {
                json!({"framework": framework, "group": group, "threshold": threshold})
            }
            Params::HostUnreachable { attempts } => json!({"attempts": attempts}),
            Params::ExceptionExpiring { days } => json!({"days": days}),
            Params::HostKeyChanged | Params::RemediationAwaitingApproval => json!({}),
        }
    }
}

/// A rule as callers give it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    pub name: String,
    pub kind: String,
    #[serde(default)]
    pub params: Value,
    #[serde(default)]
    pub quiet_secs: Option<i64>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

fn checked(state: &AppState, r: RuleInput) -> ServiceResult<NewAlertRule> {
    let name = r.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ServiceError::invalid("name", "1 to 100 characters"));
    }
    let kind = AlertKind::parse(r.kind.trim()).ok_or_else(|| {
        let all: Vec<&str> = AlertKind::ALL.iter().map(|k| k.as_str()).collect();
        ServiceError::invalid("kind", format!("`{}` is not one of {}", r.kind, all.join(", ")))
    })?;
    let params = Params::parse(state, kind, &r.params)?.to_json();
    let quiet_secs = r.quiet_secs.unwrap_or(DEFAULT_QUIET_SECS);
    if !(0..=30 * 86_400).contains(&quiet_secs) {
        return Err(ServiceError::invalid("quiet_secs", "from 0 to 2592000 (30 days)"));
    }
    Ok(NewAlertRule { name, kind, params, quiet_secs, enabled: r.enabled.unwrap_or(true) })
}

pub async fn create_rule(
    state: &AppState,
    _g: &Grant<AlertsManage>,
    r: RuleInput,
) -> ServiceResult<Done<AlertRule>> {
    let new = checked(state, r)?;
    let rule = state.store().create_alert_rule(&new, now_ms()).await?;
    let audit = note(
        format!("alert_rule:{}", rule.id),
        json!({"name": rule.name, "kind": rule.kind, "params": rule.params}),
    );
    Ok(Done::new(rule, audit))
}

pub async fn update_rule(
    state: &AppState,
    _g: &Grant<AlertsManage>,
    id: i64,
    r: RuleInput,
) -> ServiceResult<Done<AlertRule>> {
    let new = checked(state, r)?;
    let rule =
        state.store().update_alert_rule(id, &new).await?.ok_or(ServiceError::NotFound("alert rule"))?;
    let audit = note(
        format!("alert_rule:{id}"),
        json!({"name": rule.name, "kind": rule.kind, "params": rule.params, "enabled": rule.enabled}),
    );
    Ok(Done::new(rule, audit))
}

pub async fn delete_rule(state: &AppState, _g: &Grant<AlertsManage>, id: i64) -> ServiceResult<Done<()>> {
    let rule = state.store().alert_rule(id).await?.ok_or(ServiceError::NotFound("alert rule"))?;
    state.store().delete_alert_rule(id).await?;
    Ok(Done::new((), note(format!("alert_rule:{id}"), json!({"name": rule.name}))))
}

pub async fn rules(state: &AppState, _g: &Grant<AlertsRead>) -> ServiceResult<Vec<AlertRule>> {
    Ok(state.store().alert_rules().await?)
}

/// List filters as callers give them.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct ListFilter {
    pub status: Option<String>,
    pub kind: Option<String>,
    pub host_id: Option<i64>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

pub async fn list(state: &AppState, _g: &Grant<AlertsRead>, f: &ListFilter) -> ServiceResult<Page<Alert>> {
    let status = match f.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(AlertStatus::parse(s).ok_or_else(|| {
            ServiceError::invalid("status", format!("`{s}` is not open, acknowledged or resolved"))
        })?),
    };
    let kind = match f.kind.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(k) => Some(
            AlertKind::parse(k)
                .ok_or_else(|| ServiceError::invalid("kind", format!("unknown kind `{k}`")))?,
        ),
    };
    let q = AlertQuery { status, kind, host_id: f.host_id, dedup_key: None };
    Ok(state.store().list_alerts(&q, super::page(f.page, f.per_page)?).await?)
}

pub async fn get(state: &AppState, _g: &Grant<AlertsRead>, id: i64) -> ServiceResult<Alert> {
    state.store().alert(id).await?.ok_or(ServiceError::NotFound("alert"))
}

/// Acknowledge an open alert: someone is on it (it stays open until resolved).
pub async fn acknowledge(state: &AppState, g: &Grant<AlertsManage>, id: i64) -> ServiceResult<Done<Alert>> {
    let a = get_any(state, id).await?;
    let done = state
        .store()
        .ack_alert(id, g.username(), now_ms())
        .await?
        .ok_or_else(|| ServiceError::Conflict(format!("alert {id} is {}, not open", a.status)))?;
    state.events_stored.notify_waiters();
    Ok(Done::new(done, note(format!("alert:{id}"), json!({"subject": a.subject}))))
}

/// Resolve an alert by hand (the condition may come back; it then alerts again after the
/// rule's quiet period).
pub async fn resolve(state: &AppState, g: &Grant<AlertsManage>, id: i64) -> ServiceResult<Done<Alert>> {
    let a = get_any(state, id).await?;
    let done = state
        .store()
        .resolve_alert(id, g.username(), now_ms())
        .await?
        .ok_or_else(|| ServiceError::Conflict(format!("alert {id} is already resolved")))?;
    state.events_stored.notify_waiters();
    Ok(Done::new(done, note(format!("alert:{id}"), json!({"subject": a.subject}))))
}

async fn get_any(state: &AppState, id: i64) -> ServiceResult<Alert> {
    state.store().alert(id).await?.ok_or(ServiceError::NotFound("alert"))
}
