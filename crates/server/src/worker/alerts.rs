//! The alert rules at work. After each finished scan (an `alerts` job queued with its outcome,
//! so none is missed): new failures at or above a severity, a framework's score falling
//! below a threshold, a host unreachable for so many scans in a row (and back), a changed host
//! key. On each scheduler tick: exceptions about to end, fix requests waiting for approval,
//! exceptions that ended (with or without a rule), and messages of alerts raised but not yet
//! queued (a crash in between).
//!
//! Every alert has a dedup key naming its condition, so evaluating twice (a retried job, two
//! servers) raises it once; its messages go out through `service::notify` with the dedup key
//! `alert:ID`, so they are queued once per channel.

use openwatch_core::eval::Status;
use openwatch_core::exceptions::Date;
use openwatch_store::{
    Alert, AlertKind, AlertQuery, AlertRule, ChangeQuery, Job, NewAlert, NewMessage, PageRequest,
    Reachability, RemediationQuery, RemediationStatus, Scan, ScanQuery, ScanStatus,
};
use serde_json::json;

use crate::app::{AppState, now_ms};
use crate::service::alerts::Params;
use crate::service::{drift, exceptions, notify};

/// The `alerts` job: evaluate the scan-driven rules for one finished scan.
pub async fn run(state: &AppState, job: &Job, worker: &str) -> anyhow::Result<()> {
    let scan_id =
        job.payload["scan_id"].as_i64().ok_or_else(|| anyhow::anyhow!("alerts job without scan_id"))?;
    if let Some(scan) = state.store().scan(scan_id).await? {
        for rule in enabled(state).await? {
            if let Err(e) = on_scan(state, &rule, &scan).await {
                tracing::error!(rule = rule.0.id, scan = scan_id, error = %e, "alert rule");
                return Err(e);
            }
        }
    }
    state.store().complete_job(job.id, worker, now_ms()).await?;
    Ok(())
}

async fn enabled(state: &AppState) -> anyhow::Result<Vec<(AlertRule, Params)>> {
    Ok(state
        .store()
        .alert_rules()
        .await?
        .into_iter()
        .filter(|r| r.enabled)
        .filter_map(|r| match Params::parse(state, r.kind, &r.params) {
            Ok(p) => Some((r, p)),
            Err(e) => {
                tracing::warn!(rule = r.id, error = %e, "alert rule with parameters that no longer fit; skipped");
                None
            }
        })
        .collect())
}

async fn on_scan(state: &AppState, (rule, params): &(AlertRule, Params), scan: &Scan) -> anyhow::Result<()> {
    let host = scan.host_id;
    match params {
        Params::NewFailure { min_severity } if scan.status == ScanStatus::Succeeded => {
            let q = ChangeQuery { host_id: Some(host), scan_id: Some(scan.id), ..ChangeQuery::default() };
            let changes = state.store().find_changes(&q, PageRequest::new(None, Some(500))).await?.items;
            let failing: Vec<_> = changes
                .into_iter()
                .filter(|c| c.new_verdict == Status::Fail && c.old_verdict != Some(Status::Fail))
                .filter(|c| c.new_severity >= *min_severity)
                .collect();
            if failing.is_empty() {
                return Ok(());
            }
            let drifts = drift::with_values(state, failing).await?;
            let mut lines = Vec::new();
            let mut items = Vec::new();
            for d in &drifts {
                let c = &d.change;
                let was = c.old_verdict.map_or("new".to_owned(), |v| v.as_str().to_owned());
                lines.push(format!(
                    "- {} ({}, {}): {was} -> fail",
                    d.title.as_deref().unwrap_or(&c.rule_id),
                    c.rule_id,
                    c.new_severity.as_str()
                ));
                for v in &d.values {
                    lines.push(format!(
                        "    {}: {} -> {}",
                        v.source,
                        v.before.as_deref().unwrap_or("(none)"),
                        v.after.as_deref().unwrap_or("(none)")
                    ));
                }
                items.push(json!({"rule_id": c.rule_id, "title": d.title, "severity": c.new_severity,
                    "was": c.old_verdict, "values": d.values}));
            }
            let worst = drifts.iter().map(|d| d.change.new_severity).max().unwrap_or(*min_severity);
            let n = drifts.len();
            raise(
                state,
                rule,
                NewAlert {
                    rule_id: Some(rule.id),
                    kind: AlertKind::NewFailure,
                    dedup_key: format!("new_failure:{}:scan:{}", rule.id, scan.id),
                    severity: worst.as_str().to_owned(),
                    subject: format!(
                        "{}: {n} rule{} started failing",
                        scan.host_name,
                        if n == 1 { "" } else { "s" }
                    ),
                    body: format!("Scan #{} of {} found:\n{}", scan.id, scan.host_name, lines.join("\n")),
                    details: json!({"host": scan.host_name, "scan_id": scan.id, "failures": items}),
                    host_id: Some(host),
                },
            )
            .await
        }
        Params::NewFailure { .. } => Ok(()),
        Params::ComplianceBelow { framework, group, threshold } => {
            let group_id = match group {
                Some(name) => {
                    match state.store().list_groups().await?.into_iter().find(|g| &g.name == name) {
                        Some(g) => Some(g.id),
                        None => return Ok(()),
                    }
                }
                None => None,
            };
            let (pass, fail, excepted) = state.store().posture_totals(framework, group_id).await?;
            let total = pass + fail + excepted;
            if total == 0 {
                return Ok(());
            }
            let score = (pass + excepted) as f64 * 100.0 / total as f64;
            let key = format!("compliance_below:{}", rule.id);
            let scope = group.as_deref().map_or("the fleet".to_owned(), |g| format!("group {g}"));
            if score < *threshold {
                raise(
                    state,
                    rule,
                    NewAlert {
                        rule_id: Some(rule.id),
                        kind: AlertKind::ComplianceBelow,
                        dedup_key: key,
                        severity: "high".into(),
                        subject: format!("{framework} on {scope} is at {score:.1}%, below {threshold}%"),
                        body: format!(
                            "{framework} compliance on {scope} (with exceptions): {score:.1}% ({pass} pass, {excepted} excepted, {fail} fail), below the rule's {threshold}%."
                        ),
                        details: json!({"framework": framework, "group": group, "score": score, "threshold": threshold,
                            "pass": pass, "fail": fail, "excepted": excepted}),
                        host_id: None,
                    },
                )
                .await
            } else {
                resolved(
                    state,
                    &key,
                    format!("{framework} on {scope} is back at {score:.1}% (threshold {threshold}%)"),
                )
                .await
            }
        }
        Params::HostUnreachable { attempts } => {
            let key = format!("host_unreachable:{}:host:{host}", rule.id);
            if scan.status == ScanStatus::Succeeded {
                return resolved(
                    state,
                    &key,
                    format!("{} is reachable again (scan #{})", scan.host_name, scan.id),
                )
                .await;
            }
            let h = state.store().host(host).await?;
            let unreachable = h.as_ref().is_some_and(|h| {
                matches!(
                    h.reachability,
                    Reachability::Unreachable | Reachability::Error | Reachability::AuthFailed
                )
            });
            if !unreachable {
                return Ok(());
            }
            let recent = state
                .store()
                .list_scans(
                    &ScanQuery { host_id: Some(host), status: None },
                    PageRequest::new(None, Some(*attempts)),
                )
                .await?
                .items;
            let in_a_row = recent.iter().take_while(|s| s.status == ScanStatus::Failed).count() as i64;
            if in_a_row < *attempts {
                return Ok(());
            }
            let why = scan.error_message.clone().unwrap_or_default();
            raise(
                state,
                rule,
                NewAlert {
                    rule_id: Some(rule.id),
                    kind: AlertKind::HostUnreachable,
                    dedup_key: key,
                    severity: "high".into(),
                    subject: format!("{} unreachable for {in_a_row} scans in a row", scan.host_name),
                    body: format!(
                        "The last {in_a_row} scans of {} failed; the latest: {why}",
                        scan.host_name
                    ),
                    details: json!({"host": scan.host_name, "scans_failed": in_a_row, "error": why}),
                    host_id: Some(host),
                },
            )
            .await
        }
        Params::HostKeyChanged => {
            let key = format!("host_key_changed:{}:host:{host}", rule.id);
            let h = state.store().host(host).await?;
            if h.as_ref().is_some_and(|h| h.reachability == Reachability::HostKeyChanged) {
                raise(
                    state,
                    rule,
                    NewAlert {
                        rule_id: Some(rule.id),
                        kind: AlertKind::HostKeyChanged,
                        dedup_key: key,
                        severity: "critical".into(),
                        subject: format!("{}: its SSH host key changed", scan.host_name),
                        body: format!(
                            "{} presented a host key other than the approved one; it is not scanned until someone approves the new key. {}",
                            scan.host_name,
                            scan.error_message.clone().unwrap_or_default()
                        ),
                        details: json!({"host": scan.host_name, "scan_id": scan.id}),
                        host_id: Some(host),
                    },
                )
                .await
            } else if scan.status == ScanStatus::Succeeded {
                resolved(state, &key, format!("{} is scanned again with an approved key", scan.host_name))
                    .await
            } else {
                Ok(())
            }
        }
        Params::ExceptionExpiring { .. } | Params::RemediationAwaitingApproval => Ok(()),
    }
}

/// The tick-driven rules, ended exceptions, and messages left unqueued by a crash.
pub async fn tick(state: &AppState) -> anyhow::Result<()> {
    for (rule, params) in enabled(state).await? {
        match &params {
            Params::ExceptionExpiring { days } => {
                let today = exceptions::today();
                let until = Date::from_unix_days(today.unix_days() + days);
                for e in state.store().expiring_exceptions(&today.to_string(), &until.to_string()).await? {
                    let scope = e.host_name.clone().or(e.group_name.clone().map(|g| format!("group {g}")));
                    let scope = scope.unwrap_or_else(|| "every host".into());
                    raise(
                        state,
                        &rule,
                        NewAlert {
                            rule_id: Some(rule.id),
                            kind: AlertKind::ExceptionExpiring,
                            dedup_key: format!("exception_expiring:{}:{}", rule.id, e.id),
                            severity: "medium".into(),
                            subject: format!("Exception #{} for {} ends on {}", e.id, e.rule_id, e.expires_on),
                            body: format!(
                                "Exception #{} ({} on {scope}: {}) applies through {}; after that the failures it accepts are reported again.",
                                e.id, e.rule_id, e.justification, e.expires_on
                            ),
                            details: json!({"exception_id": e.id, "rule_id": e.rule_id, "expires_on": e.expires_on}),
                            host_id: e.host_id,
                        },
                    )
                    .await?;
                }
            }
            Params::RemediationAwaitingApproval => {
                let q = RemediationQuery { status: Some(RemediationStatus::AwaitingApproval), host_id: None };
                for r in state.store().list_remediations(&q, PageRequest::new(None, Some(200))).await?.items {
                    let risk = r.risk.map_or("unknown", |k| k.as_str());
                    raise(
                        state,
                        &rule,
                        NewAlert {
                            rule_id: Some(rule.id),
                            kind: AlertKind::RemediationAwaitingApproval,
                            dedup_key: format!("remediation_awaiting:{}:{}", rule.id, r.id),
                            severity: "medium".into(),
                            subject: format!("Fix request #{} waits for approval ({risk} risk)", r.id),
                            body: format!(
                                "{} asked to fix {} on {} host(s); someone else holding remediations:approve must decide it.",
                                r.requested_by,
                                r.rule_ids.join(", "),
                                r.hosts
                            ),
                            details: json!({"remediation_id": r.id, "risk": r.risk, "rules": r.rule_ids}),
                            host_id: None,
                        },
                    )
                    .await?;
                }
            }
            _ => {}
        }
    }
    ended_exceptions(state).await?;
    for a in state.store().unnotified_alerts(100).await? {
        tell(state, &a).await?;
    }
    Ok(())
}

/// Exceptions whose last day was within the past week, each alerted once whether or not an
/// `exception_expiring` rule exists: the failures they accepted count again from the next
/// scan, and whoever relied on the exception must hear it without having asked beforehand.
/// A week covers a server that was down when the day passed.
async fn ended_exceptions(state: &AppState) -> anyhow::Result<()> {
    let today = exceptions::today();
    let week_ago = Date::from_unix_days(today.unix_days() - 7);
    let yesterday = Date::from_unix_days(today.unix_days() - 1);
    for e in state.store().expiring_exceptions(&week_ago.to_string(), &yesterday.to_string()).await? {
        let dedup_key = format!("exception_expired:{}", e.id);
        // An end happens once: an alert people resolved is not raised again.
        let q = AlertQuery { dedup_key: Some(dedup_key.clone()), ..AlertQuery::default() };
        if state.store().list_alerts(&q, PageRequest::new(None, Some(1))).await?.total > 0 {
            continue;
        }
        let a = NewAlert {
            rule_id: None,
            kind: AlertKind::ExceptionExpiring,
            dedup_key,
            severity: "high".into(),
            subject: format!("Exception #{} for {} has ended", e.id, e.rule_id),
            body: format!(
                "Exception #{} for {} ended on {}: the failures it accepted are reported as failures again.",
                e.id, e.rule_id, e.expires_on
            ),
            details: json!({"exception_id": e.id, "rule_id": e.rule_id, "expired_on": e.expires_on}),
            host_id: e.host_id,
        };
        announce(state, &a, 0).await?;
    }
    Ok(())
}

/// Raise an alert of a rule, quiet for the rule's quiet period after it was resolved.
async fn raise(state: &AppState, rule: &AlertRule, a: NewAlert) -> anyhow::Result<()> {
    announce(state, &a, rule.quiet_secs * 1000).await
}

/// Raise an alert and tell people if it is new (and nobody was told yet).
async fn announce(state: &AppState, a: &NewAlert, quiet_ms: i64) -> anyhow::Result<()> {
    let raised = state.store().raise_alert(a, quiet_ms, now_ms()).await?;
    if raised.alert.notified_at.is_none() {
        tell(state, &raised.alert).await?;
    }
    Ok(())
}

/// The condition ended: resolve its open alert and say so.
async fn resolved(state: &AppState, key: &str, why: String) -> anyhow::Result<()> {
    if let Some(a) = state.store().resolve_alert_key(key, "system", now_ms()).await? {
        let m = NewMessage {
            dedup_key: format!("alert:{}:resolved:{}", a.id, a.resolved_at.unwrap_or_default()),
            subject: format!("Resolved: {}", a.subject),
            text: why.clone(),
            html: format!("<p>{}</p>", escape(&why)),
            payload: json!({"alert_id": a.id, "kind": a.kind, "status": "resolved", "subject": a.subject, "reason": why}),
        };
        notify::queue(state.store(), &m, now_ms()).await?;
        state.jobs_queued.notify_waiters();
    }
    state.events_stored.notify_waiters();
    Ok(())
}

/// Queue an alert's messages (once per channel, whatever happens) and record it.
async fn tell(state: &AppState, a: &Alert) -> anyhow::Result<()> {
    let m = NewMessage {
        dedup_key: format!("alert:{}", a.id),
        subject: format!("[{}] {}", a.severity, a.subject),
        text: a.body.clone(),
        html: format!("<p><strong>{}</strong></p><pre>{}</pre>", escape(&a.subject), escape(&a.body)),
        payload: json!({"alert_id": a.id, "kind": a.kind, "severity": a.severity, "subject": a.subject,
            "body": a.body, "details": a.details, "host_id": a.host_id, "first_at": a.first_at}),
    };
    notify::queue(state.store(), &m, now_ms()).await?;
    state.store().mark_alert_notified(a.id, now_ms()).await?;
    state.jobs_queued.notify_waiters();
    state.events_stored.notify_waiters();
    Ok(())
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
