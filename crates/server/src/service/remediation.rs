//! Remediation requests: ask for fixes (hosts × rules; a dry run on each host previews
//! them), approve or reject someone else's request, roll back a kept fix. The workers do
//! the host work (`worker::fix`); these are the decisions people make, the same for the API
//! and the pages.

use std::collections::BTreeSet;

use openwatch_core::eval::Status;
use openwatch_store::{
    FixTransaction, FixTransactionQuery, FleetStateQuery, Page, Remediation, RemediationHost,
    RemediationQuery, RemediationStatus, TxnOutcome,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Done, ServiceError, ServiceResult, note};
use crate::app::{AppState, now_ms};
use crate::auth::need::{RemediationsApprove, RemediationsRead, RemediationsRequest};
use crate::http::guard::Grant;

/// Hosts a request may name at once.
pub const MAX_HOSTS: usize = 1000;
/// Rules a request may name at once.
pub const MAX_RULES: usize = 500;

/// A request as callers give it.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRequest {
    /// The hosts to fix; with `failing_hosts`, may be empty.
    #[serde(default)]
    pub host_ids: Vec<i64>,
    pub rule_ids: Vec<String>,
    /// Also every host currently failing one of the rules.
    #[serde(default)]
    pub failing_hosts: bool,
    #[serde(default)]
    pub note: String,
}

/// Ask for fixes: each host previews them at once (a dry run); the request then waits for
/// someone else's approval, or runs when the server's policy lets low-risk fixes through.
pub async fn request(
    state: &AppState,
    g: &Grant<RemediationsRequest>,
    req: NewRequest,
) -> ServiceResult<Done<Remediation>> {
    let rules: BTreeSet<String> =
        req.rule_ids.iter().map(|r| r.trim().to_owned()).filter(|r| !r.is_empty()).collect();
    if rules.is_empty() {
        return Err(ServiceError::invalid("rule_ids", "choose at least one rule"));
    }
    if rules.len() > MAX_RULES {
        return Err(ServiceError::invalid("rule_ids", format!("at most {MAX_RULES} rules per request")));
    }
    for id in &rules {
        let rule = state
            .library
            .rules
            .iter()
            .find(|r| r.id() == id)
            .ok_or_else(|| ServiceError::invalid("rule_ids", format!("unknown rule `{id}`")))?;
        if rule.raw.implementations.iter().all(|i| i.value.remediation.is_none()) {
            return Err(ServiceError::invalid("rule_ids", format!("`{id}` has no remediation to apply")));
        }
    }
    let mut hosts: BTreeSet<i64> = req.host_ids.iter().copied().collect();
    if req.failing_hosts {
        let q = FleetStateQuery {
            rule_ids: Some(rules.iter().cloned().collect()),
            verdict: Some(Status::Fail),
            limit: MAX_HOSTS as i64 + 1,
            ..FleetStateQuery::default()
        };
        hosts.extend(state.store().fleet_state(&q).await?.iter().map(|r| r.host_id));
    }
    if hosts.is_empty() {
        return Err(ServiceError::invalid(
            "host_ids",
            if req.failing_hosts { "no host fails these rules" } else { "choose at least one host" },
        ));
    }
    if hosts.len() > MAX_HOSTS {
        return Err(ServiceError::invalid("host_ids", format!("at most {MAX_HOSTS} hosts per request")));
    }
    let mut maintenance = Vec::new();
    for &id in &hosts {
        match state.store().host(id).await? {
            None => return Err(ServiceError::invalid("host_ids", format!("no host {id}"))),
            Some(h) if h.maintenance => maintenance.push(h.name),
            Some(_) => {}
        }
    }
    if !maintenance.is_empty() {
        return Err(ServiceError::Conflict(format!(
            "in maintenance, so not fixed: {}; take them out of maintenance first",
            maintenance.join(", ")
        )));
    }
    let new = openwatch_store::NewRemediation {
        host_ids: hosts.iter().copied().collect(),
        rule_ids: rules.into_iter().collect(),
        requested_by: g.username().to_owned(),
        note: req.note.trim().to_owned(),
        max_attempts: state.config.job_max_attempts,
    };
    let r = state.store().create_remediation(&new, now_ms()).await?;
    state.jobs_queued.notify_waiters();
    state.events_stored.notify_waiters();
    let audit = note(format!("remediation:{}", r.id), json!({"hosts": new.host_ids, "rules": new.rule_ids}));
    Ok(Done::new(r, audit))
}

/// List filters as callers give them.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct ListFilter {
    pub status: Option<String>,
    pub host_id: Option<i64>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

pub async fn list(
    state: &AppState,
    _g: &Grant<RemediationsRead>,
    f: &ListFilter,
) -> ServiceResult<Page<Remediation>> {
    let status = match f.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(RemediationStatus::parse(s).ok_or_else(|| {
            let all: Vec<&str> = RemediationStatus::ALL.iter().map(|s| s.as_str()).collect();
            ServiceError::invalid("status", format!("`{s}` is not one of {}", all.join(", ")))
        })?),
    };
    let q = RemediationQuery { status, host_id: f.host_id };
    Ok(state.store().list_remediations(&q, super::page(f.page, f.per_page)?).await?)
}

/// A request with its hosts (previews and runs) and the transactions its runs opened.
#[derive(Debug, Serialize)]
pub struct Detail {
    #[serde(flatten)]
    pub remediation: Remediation,
    pub host_results: Vec<RemediationHost>,
    pub transactions: Vec<FixTransaction>,
}

pub async fn get(state: &AppState, _g: &Grant<RemediationsRead>, id: i64) -> ServiceResult<Detail> {
    let remediation = state.store().remediation(id).await?.ok_or(ServiceError::NotFound("remediation"))?;
    let host_results = state.store().remediation_hosts(id).await?;
    let q = FixTransactionQuery { remediation_id: Some(id), host_id: None };
    let transactions = state.store().fix_transactions(&q).await?;
    Ok(Detail { remediation, host_results, transactions })
}

/// A decision as callers give it.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    #[serde(default)]
    pub note: String,
}

/// Approve (the hosts' runs are queued) or reject a request waiting for a decision. Nobody
/// decides their own request.
pub async fn decide(
    state: &AppState,
    g: &Grant<RemediationsApprove>,
    id: i64,
    approve: bool,
    d: Decision,
) -> ServiceResult<Done<Remediation>> {
    let r = state.store().remediation(id).await?.ok_or(ServiceError::NotFound("remediation"))?;
    if r.requested_by == g.username() {
        return Err(ServiceError::Forbidden(format!(
            "you requested remediation {id}; someone else holding remediations:approve must decide it"
        )));
    }
    if !approve && d.note.trim().is_empty() {
        return Err(ServiceError::invalid("note", "say why the request is rejected"));
    }
    let decided = state
        .store()
        .decide_remediation(id, approve, g.username(), d.note.trim(), state.config.job_max_attempts, now_ms())
        .await?
        .ok_or_else(|| not_waiting(&r))?;
    state.jobs_queued.notify_waiters();
    state.events_stored.notify_waiters();
    let audit = note(
        format!("remediation:{id}"),
        json!({"decision": if approve { "approved" } else { "rejected" }, "risk": r.risk,
            "requested_by": r.requested_by, "note": d.note.trim()}),
    );
    Ok(Done::new(decided, audit))
}

fn not_waiting(r: &Remediation) -> ServiceError {
    ServiceError::Conflict(format!(
        "remediation {} is {}, not waiting for a decision",
        r.id,
        r.status.as_str().replace('_', " ")
    ))
}

/// The fix transactions of a host, newest first.
pub async fn host_transactions(
    state: &AppState,
    _g: &Grant<RemediationsRead>,
    host_id: i64,
) -> ServiceResult<Vec<FixTransaction>> {
    state.store().host(host_id).await?.ok_or(ServiceError::NotFound("host"))?;
    let q = FixTransactionQuery { host_id: Some(host_id), remediation_id: None };
    Ok(state.store().fix_transactions(&q).await?)
}

/// Queue the rollback of a kept fix; a worker restores the host's pre-state from its journal
/// (refusing, with a conflict report, files changed since the fix).
pub async fn rollback(
    state: &AppState,
    g: &Grant<RemediationsRequest>,
    transaction_id: &str,
) -> ServiceResult<Done<FixTransaction>> {
    let t =
        state.store().fix_transaction(transaction_id).await?.ok_or(ServiceError::NotFound("transaction"))?;
    if t.outcome != TxnOutcome::Fixed {
        return Err(ServiceError::Conflict(format!(
            "transaction {} was not kept ({}), so there is nothing to roll back",
            t.id,
            t.outcome.as_str().replace('_', " ")
        )));
    }
    if !state.store().queue_rollback(&t.id, g.username(), state.config.job_max_attempts, now_ms()).await? {
        return Err(ServiceError::Conflict(format!(
            "transaction {} already has a rollback {}",
            t.id,
            t.rollback_status.map(|s| s.as_str()).unwrap_or("queued")
        )));
    }
    state.jobs_queued.notify_waiters();
    state.events_stored.notify_waiters();
    let audit = note(
        format!("host:{}", t.host_id),
        json!({"transaction_id": t.id, "rule_id": t.rule_id, "remediation_id": t.remediation_id}),
    );
    let t = state.store().fix_transaction(&t.id).await?.ok_or(ServiceError::NotFound("transaction"))?;
    Ok(Done::new(t, audit))
}
