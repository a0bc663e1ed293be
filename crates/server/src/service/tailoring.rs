//! Tailoring of groups and hosts: read, replace (checked against the library, audited) and
//! the effective result for one host, which is what the worker scans with.

use openwatch_core::tailoring::{Effective, Tailoring};
use openwatch_store::{StoredTailoring, TailoringScope};
use serde_json::json;

use super::{Done, ServiceError, ServiceResult, note};
use crate::app::{AppState, now_ms};
use crate::auth::need::{HostsRead, HostsWrite};
use crate::http::guard::Grant;

async fn exists(state: &AppState, scope: TailoringScope) -> ServiceResult<()> {
    match scope {
        TailoringScope::Group(id) => {
            state.store().group(id).await?.map(|_| ()).ok_or(ServiceError::NotFound("group"))
        }
        TailoringScope::Host(id) => {
            state.store().host(id).await?.map(|_| ()).ok_or(ServiceError::NotFound("host"))
        }
    }
}

fn parse(body: serde_json::Value) -> ServiceResult<Tailoring> {
    serde_json::from_value(body).map_err(|e| ServiceError::internal(format!("a stored tailoring: {e}")))
}

fn target(scope: TailoringScope) -> String {
    format!("{}:{}", scope.kind(), scope.id())
}

/// A group's or host's own tailoring (empty when it has none) and who last changed it.
pub async fn get(
    state: &AppState,
    _: &Grant<HostsRead>,
    scope: TailoringScope,
) -> ServiceResult<(Tailoring, Option<StoredTailoring>)> {
    exists(state, scope).await?;
    match state.store().tailoring(scope).await? {
        Some(s) => Ok((parse(s.body.clone())?, Some(s))),
        None => Ok((Tailoring::default(), None)),
    }
}

/// Replace a group's or host's tailoring. Every problem is reported at once; nothing is
/// saved unless all of it is valid. An empty tailoring removes it.
pub async fn put(
    state: &AppState,
    g: &Grant<HostsWrite>,
    scope: TailoringScope,
    mut t: Tailoring,
) -> ServiceResult<Done<Tailoring>> {
    exists(state, scope).await?;
    for list in [&mut t.frameworks, &mut t.exclude_rules] {
        list.iter_mut().for_each(|s| *s = s.trim().to_owned());
        list.retain(|s| !s.is_empty());
        list.sort();
        list.dedup();
    }
    let problems = t.check(&state.library.rules);
    if !problems.is_empty() {
        return Err(ServiceError::invalid("tailoring", problems.join("; ")));
    }
    let before = state.store().tailoring(scope).await?.map(|s| s.body);
    let body = serde_json::to_value(&t).map_err(ServiceError::internal)?;
    if t.is_empty() {
        state.store().delete_tailoring(scope).await?;
    } else {
        state.store().put_tailoring(scope, &body, g.username(), now_ms()).await?;
    }
    let audit = note(target(scope), json!({"before": before, "after": body}));
    Ok(Done::new(t, audit))
}

/// What a host is scanned with: its groups' tailorings by name, then its own.
pub async fn effective(state: &AppState, _: &Grant<HostsRead>, host_id: i64) -> ServiceResult<Effective> {
    exists(state, TailoringScope::Host(host_id)).await?;
    resolve(state, host_id).await
}

/// The worker's view of [`effective`]: the scan runs for the system, not for a caller.
pub(crate) async fn resolve(state: &AppState, host_id: i64) -> ServiceResult<Effective> {
    let layers = state.store().host_tailorings(host_id).await?;
    let groups = layers
        .groups
        .into_iter()
        .map(|(name, body)| Ok((name, parse(body)?)))
        .collect::<ServiceResult<Vec<_>>>()?;
    let host = layers.host.map(parse).transpose()?;
    Ok(Effective::resolve(&groups, host.as_ref()))
}
