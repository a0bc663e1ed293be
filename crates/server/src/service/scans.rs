//! Queueing scans (one host, chosen hosts, a group: for people and for the scheduler alike)
//! and turning result filters into a store query.

use openwatch_core::eval::Status;
use openwatch_core::rule::{Severity, control_matches};
use openwatch_store::{PageRequest, ResultQuery, Scan, ScanQuery, ScanRequest};
use serde::Serialize;
use serde_json::json;

use super::{Done, ServiceError, ServiceResult, note};
use crate::app::{AppState, Library, now_ms};
use crate::auth::need::HostsScan;
use crate::http::guard::Grant;

/// Who asked for a scan: a person holding `hosts:scan`, or a schedule.
#[derive(Debug, Clone)]
pub struct Initiator {
    trigger: &'static str,
    by: String,
}

impl Initiator {
    pub fn person(g: &Grant<HostsScan>) -> Initiator {
        Initiator { trigger: "manual", by: g.username().to_owned() }
    }

    /// Approving a host's key queues its scan, on the approver's behalf.
    pub(crate) fn approval(g: &Grant<crate::auth::need::KeysApprove>) -> Initiator {
        Initiator { trigger: "key_approved", by: g.username().to_owned() }
    }

    /// The scheduler acts on a schedule someone with `schedules:write` created.
    pub(crate) fn schedule(id: i64) -> Initiator {
        Initiator { trigger: "schedule", by: format!("schedule:{id}") }
    }

    /// The server itself: the first scan of this machine, adaptive scans.
    pub(crate) fn system(trigger: &'static str) -> Initiator {
        Initiator { trigger, by: "system".into() }
    }
}

/// Queue a scan of one host unless one is already queued or running; returns the scan and
/// whether it is new.
pub(crate) async fn queue(state: &AppState, host_id: i64, who: &Initiator) -> ServiceResult<(Scan, bool)> {
    if state.store().scan_pending(host_id).await? {
        let pending = state
            .store()
            .list_scans(&ScanQuery { host_id: Some(host_id), status: None }, PageRequest::new(None, Some(5)))
            .await?
            .items
            .into_iter()
            .find(|s| s.status.is_pending());
        if let Some(s) = pending {
            return Ok((s, false));
        }
    }
    let req = ScanRequest {
        host_id,
        trigger: who.trigger.to_owned(),
        triggered_by: Some(who.by.clone()),
        max_attempts: state.config.job_max_attempts,
    };
    let scan = state.store().queue_scan(&req, now_ms()).await?;
    state.jobs_queued.notify_waiters();
    state.events_stored.notify_waiters();
    Ok((scan, true))
}

#[derive(Debug, Serialize)]
pub struct HostScan {
    pub scan: Scan,
    pub new: bool,
}

/// Scan one host now; a host in maintenance is refused, not silently skipped.
pub async fn scan_host(state: &AppState, who: &Initiator, host_id: i64) -> ServiceResult<Done<HostScan>> {
    let host = state.store().host(host_id).await?.ok_or(ServiceError::NotFound("host"))?;
    if host.maintenance {
        return Err(ServiceError::Conflict(format!(
            "{} is in maintenance; take it out of maintenance to scan it",
            host.name
        )));
    }
    let (scan, new) = queue(state, host_id, who).await?;
    let audit = note(format!("host:{host_id}"), json!({"scan_id": scan.id, "new": new}));
    Ok(Done::new(HostScan { scan, new }, audit))
}

/// What scanning several hosts did, host by host.
#[derive(Debug, Default, Serialize)]
pub struct BatchScan {
    pub scan_ids: Vec<i64>,
    /// Hosts left out because they are in maintenance.
    pub skipped_maintenance: Vec<i64>,
    pub missing: Vec<i64>,
}

async fn scan_many(state: &AppState, who: &Initiator, ids: &[i64]) -> ServiceResult<BatchScan> {
    let mut out = BatchScan::default();
    for &id in ids {
        match state.store().host(id).await? {
            None => out.missing.push(id),
            Some(h) if h.maintenance => out.skipped_maintenance.push(id),
            Some(_) => out.scan_ids.push(queue(state, id, who).await?.0.id),
        }
    }
    Ok(out)
}

/// Scan the hosts a person picked; hosts in maintenance are skipped and reported.
pub async fn scan_hosts(state: &AppState, who: &Initiator, ids: &[i64]) -> ServiceResult<Done<BatchScan>> {
    if ids.is_empty() {
        return Err(ServiceError::invalid("host_id", "choose at least one host"));
    }
    let batch = scan_many(state, who, ids).await?;
    let audit = note(
        "hosts",
        json!({"hosts": ids, "scans": batch.scan_ids.len(), "skipped": batch.skipped_maintenance.len()}),
    );
    Ok(Done::new(batch, audit))
}

/// Scan every host of a group (maintenance hosts are skipped and reported).
pub async fn scan_group(state: &AppState, who: &Initiator, group_id: i64) -> ServiceResult<Done<BatchScan>> {
    let group = state.store().group(group_id).await?.ok_or(ServiceError::NotFound("group"))?;
    let ids = state.store().group_host_ids(group_id).await?;
    let batch = scan_many(state, who, &ids).await?;
    let audit = note(
        format!("group:{group_id}"),
        json!({"group": group.name, "scans": batch.scan_ids.len(), "skipped": batch.skipped_maintenance.len()}),
    );
    Ok(Done::new(batch, audit))
}

/// Result filters as callers give them.
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct ResultFilter {
    pub verdict: Option<String>,
    pub severity: Option<String>,
    pub framework: Option<String>,
    pub control: Option<String>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

/// Check the filters against the core's verdicts and severities and turn framework/control
/// into the rule ids they select.
pub fn result_query(lib: &Library, q: &ResultFilter) -> ServiceResult<ResultQuery> {
    let verdict = match q.verdict.as_deref().filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => Some(Status::parse(v).ok_or_else(|| {
            let all: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
            ServiceError::invalid("verdict", format!("`{v}` is not one of {}", all.join(", ")))
        })?),
    };
    let severity = match q.severity.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(Severity::parse(s).ok_or_else(|| {
            let all: Vec<&str> = Severity::ALL.iter().map(|s| s.as_str()).collect();
            ServiceError::invalid("severity", format!("`{s}` is not one of {}", all.join(", ")))
        })?),
    };
    let framework = q.framework.as_ref().filter(|f| !f.is_empty());
    let control = q.control.as_ref().filter(|c| !c.is_empty());
    let rule_ids = match (framework, control) {
        (None, None) => None,
        (None, Some(_)) => return Err(ServiceError::invalid("control", "needs a framework")),
        (Some(f), control) => {
            if !openwatch_core::rule::is_known_framework(f) {
                return Err(ServiceError::invalid("framework", format!("unknown framework `{f}`")));
            }
            Some(
                lib.rules
                    .iter()
                    .filter(|r| {
                        let controls = r.raw.references.controls(f);
                        !controls.is_empty()
                            && control.is_none_or(|c| controls.iter().any(|x| control_matches(x, c)))
                    })
                    .map(|r| r.id().to_owned())
                    .collect(),
            )
        }
    };
    Ok(ResultQuery { verdict, severity, rule_ids })
}
