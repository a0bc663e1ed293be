//! Exceptions (accepted risks): ask that a rule's failure be accepted on a host, a group or
//! every host until a day, have someone else approve or reject it, revoke it. An approved
//! exception applies from the next scan of each host it covers (one is queued at once for
//! the hosts whose verdict it changes) until its expiry day; the scan after that reports the
//! failure again. The same for the API and the pages.

use openwatch_core::eval::Status;
use openwatch_core::exceptions::{Date, Exception};
use openwatch_store::{
    ExceptionQuery, ExceptionScope, ExceptionStatus, FleetStateQuery, NewException, Page, StoredException,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::scans::{Initiator, queue};
use super::{Done, ServiceError, ServiceResult, note};
use crate::app::{AppState, now_ms};
use crate::auth::need::{ExceptionsApprove, ExceptionsRead, ExceptionsRequest};
use crate::http::guard::Grant;

/// Hosts whose scan a decision queues at once; beyond it, their next scheduled scan.
const RESCAN_LIMIT: i64 = 5000;

/// Today in UTC: an exception applies through its expiry day.
pub fn today() -> Date {
    Date::from_unix_days(now_ms().div_euclid(86_400_000))
}

/// The approved exceptions in force for a host on `today`, as the engine applies them.
pub async fn in_force(
    state: &AppState,
    host_id: i64,
    today: Date,
) -> openwatch_store::Result<Vec<Exception>> {
    let stored = state.store().host_exceptions(host_id, &today.to_string()).await?;
    Ok(stored
        .into_iter()
        .filter_map(|e| {
            Some(Exception {
                id: e.id.to_string(),
                rule: e.rule_id,
                hosts: Vec::new(),
                justification: e.justification,
                expires: Date::parse(&e.expires_on)?,
            })
        })
        .collect())
}

/// A request as callers give it: a host, a group, or neither (every host).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRequest {
    pub rule_id: String,
    #[serde(default)]
    pub host_id: Option<i64>,
    #[serde(default)]
    pub group_id: Option<i64>,
    pub justification: String,
    /// The last day it applies, `YYYY-MM-DD`.
    pub expires: String,
}

/// Ask for an exception; it applies once someone else holding `exceptions:approve` approves.
pub async fn request(
    state: &AppState,
    g: &Grant<ExceptionsRequest>,
    req: NewRequest,
) -> ServiceResult<Done<StoredException>> {
    let rule_id = req.rule_id.trim().to_owned();
    if !state.library.rules.iter().any(|r| r.id() == rule_id) {
        return Err(ServiceError::invalid("rule_id", format!("unknown rule `{rule_id}`")));
    }
    let justification = req.justification.trim().to_owned();
    if justification.is_empty() {
        return Err(ServiceError::invalid("justification", "say why this failure is accepted"));
    }
    if justification.chars().count() > 4000 {
        return Err(ServiceError::invalid("justification", "at most 4000 characters"));
    }
    let expires = Date::parse(req.expires.trim()).ok_or_else(|| {
        ServiceError::invalid("expires", format!("`{}` is not a date (YYYY-MM-DD)", req.expires))
    })?;
    let today = today();
    if expires < today {
        return Err(ServiceError::invalid("expires", format!("{expires} is in the past")));
    }
    let max = state.config.exception_max_days;
    let latest = Date::from_unix_days(today.unix_days() + i64::from(max));
    if expires > latest {
        return Err(ServiceError::invalid(
            "expires",
            format!("at most {max} days ahead (the server's exception_max_days): {latest} at the latest"),
        ));
    }
    let scope = match (req.host_id, req.group_id) {
        (Some(_), Some(_)) => {
            return Err(ServiceError::invalid(
                "host_id",
                "give a host or a group, not both (neither: every host)",
            ));
        }
        (Some(h), None) => {
            state
                .store()
                .host(h)
                .await?
                .ok_or_else(|| ServiceError::invalid("host_id", format!("no host {h}")))?;
            ExceptionScope::Host(h)
        }
        (None, Some(gid)) => {
            state
                .store()
                .group(gid)
                .await?
                .ok_or_else(|| ServiceError::invalid("group_id", format!("no group {gid}")))?;
            ExceptionScope::Group(gid)
        }
        (None, None) => ExceptionScope::Fleet,
    };
    let new = NewException {
        rule_id,
        scope,
        justification,
        expires_on: expires.to_string(),
        requested_by: g.username().to_owned(),
    };
    let e = state.store().create_exception(&new, now_ms()).await?;
    state.events_stored.notify_waiters();
    let audit = note(
        format!("exception:{}", e.id),
        json!({"rule_id": e.rule_id, "scope": e.scope, "host_id": e.host_id, "group_id": e.group_id,
            "expires_on": e.expires_on}),
    );
    Ok(Done::new(e, audit))
}

/// List filters as callers give them.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct ListFilter {
    pub status: Option<String>,
    pub rule_id: Option<String>,
    pub host_id: Option<i64>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

/// An exception as shown: whether it applies today beside its stored status.
#[derive(Debug, Serialize)]
pub struct Shown {
    #[serde(flatten)]
    pub exception: StoredException,
    /// Approved and its expiry day not passed.
    pub in_force: bool,
    /// Approved, but its expiry day has passed.
    pub expired: bool,
}

fn shown(e: StoredException, today: Date) -> Shown {
    let approved = e.status == ExceptionStatus::Approved;
    let past = Date::parse(&e.expires_on).is_none_or(|d| d < today);
    Shown { in_force: approved && !past, expired: approved && past, exception: e }
}

pub async fn list(
    state: &AppState,
    _g: &Grant<ExceptionsRead>,
    f: &ListFilter,
) -> ServiceResult<Page<Shown>> {
    let status = match f.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(ExceptionStatus::parse(s).ok_or_else(|| {
            let all: Vec<&str> = ExceptionStatus::ALL.iter().map(|s| s.as_str()).collect();
            ServiceError::invalid("status", format!("`{s}` is not one of {}", all.join(", ")))
        })?),
    };
    let q =
        ExceptionQuery { status, rule_id: f.rule_id.clone().filter(|r| !r.is_empty()), host_id: f.host_id };
    let page = state.store().list_exceptions(&q, super::page(f.page, f.per_page)?).await?;
    let today = today();
    Ok(Page {
        items: page.items.into_iter().map(|e| shown(e, today)).collect(),
        total: page.total,
        page: page.page,
        per_page: page.per_page,
    })
}

pub async fn get(state: &AppState, _g: &Grant<ExceptionsRead>, id: i64) -> ServiceResult<Shown> {
    let e = state.store().exception(id).await?.ok_or(ServiceError::NotFound("exception"))?;
    Ok(shown(e, today()))
}

/// A decision or revocation as callers give it.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    #[serde(default)]
    pub note: String,
}

/// What a decision did: the exception, and the scans queued so its hosts show it.
#[derive(Debug, Serialize)]
pub struct Decided {
    pub exception: StoredException,
    pub scans_queued: usize,
}

/// Approve or reject a requested exception. Nobody decides their own request; a rejection
/// says why. Approval queues a scan of each host where the rule fails within its scope.
pub async fn decide(
    state: &AppState,
    g: &Grant<ExceptionsApprove>,
    id: i64,
    approve: bool,
    d: Decision,
) -> ServiceResult<Done<Decided>> {
    let e = state.store().exception(id).await?.ok_or(ServiceError::NotFound("exception"))?;
    if e.requested_by == g.username() {
        return Err(ServiceError::Forbidden(format!(
            "you requested exception {id}; someone else holding exceptions:approve must decide it"
        )));
    }
    if !approve && d.note.trim().is_empty() {
        return Err(ServiceError::invalid("note", "say why the exception is rejected"));
    }
    let decided = state
        .store()
        .decide_exception(id, approve, g.username(), d.note.trim(), now_ms())
        .await?
        .ok_or_else(|| {
        ServiceError::Conflict(format!("exception {id} is {}, not waiting for a decision", e.status))
    })?;
    let scans_queued = if approve { rescan(state, &decided, Status::Fail).await? } else { 0 };
    state.events_stored.notify_waiters();
    let audit = note(
        format!("exception:{id}"),
        json!({"decision": if approve { "approved" } else { "rejected" }, "rule_id": e.rule_id,
            "requested_by": e.requested_by, "note": d.note.trim(), "scans_queued": scans_queued}),
    );
    Ok(Done::new(Decided { exception: decided, scans_queued }, audit))
}

/// Revoke an approved exception: the failures it accepted come back with the scans queued
/// now for the hosts where it applied.
pub async fn revoke(
    state: &AppState,
    g: &Grant<ExceptionsApprove>,
    id: i64,
    d: Decision,
) -> ServiceResult<Done<Decided>> {
    let e = state.store().exception(id).await?.ok_or(ServiceError::NotFound("exception"))?;
    let revoked = state.store().revoke_exception(id, g.username(), now_ms()).await?.ok_or_else(|| {
        ServiceError::Conflict(format!("exception {id} is {}, so there is nothing to revoke", e.status))
    })?;
    let scans_queued = rescan(state, &revoked, Status::Excepted).await?;
    state.events_stored.notify_waiters();
    let audit = note(
        format!("exception:{id}"),
        json!({"rule_id": e.rule_id, "note": d.note.trim(), "scans_queued": scans_queued}),
    );
    Ok(Done::new(Decided { exception: revoked, scans_queued }, audit))
}

/// Queue a scan of each host in the exception's scope whose current verdict on its rule is
/// `verdict` (the ones whose result the decision changes); maintenance hosts wait.
async fn rescan(state: &AppState, e: &StoredException, verdict: Status) -> ServiceResult<usize> {
    let q = FleetStateQuery {
        rule_ids: Some(vec![e.rule_id.clone()]),
        host_id: e.host_id,
        group_id: e.group_id,
        verdict: Some(verdict),
        limit: RESCAN_LIMIT,
        ..FleetStateQuery::default()
    };
    let who = Initiator::system("exception");
    let mut queued = 0;
    for row in state.store().fleet_state(&q).await? {
        match state.store().host(row.host_id).await? {
            Some(h) if !h.maintenance => {
                queue(state, h.id, &who).await?;
                queued += 1;
            }
            _ => {}
        }
    }
    Ok(queued)
}
