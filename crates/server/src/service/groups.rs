//! Host groups: create, rename, remove (its hosts stay), and put hosts in or take them out.
//! A group is also what schedules and scans of many hosts name, so removing one removes
//! its schedules too (the store does this in the same transaction).

use openwatch_store::Group;
use serde::Deserialize;
use serde_json::json;

use super::{Done, ServiceError, ServiceResult, note};
use crate::app::{AppState, now_ms};
use crate::auth::need::{HostsRead, HostsWrite};
use crate::http::guard::Grant;

/// A group as a caller describes it.
#[derive(Debug, Default, Deserialize)]
pub struct GroupBody {
    pub name: String,
    #[serde(default)]
    pub description: String,
}

/// The same rule as a host's group list: no blank names, no commas (the host form lists
/// groups separated by commas).
fn check(b: &GroupBody) -> ServiceResult<(String, String)> {
    let name = b.name.trim();
    if name.is_empty() || name.len() > 100 || name.contains(',') || name.chars().any(char::is_control) {
        return Err(ServiceError::invalid("name", "1-100 characters, no commas"));
    }
    Ok((name.to_owned(), b.description.trim().to_owned()))
}

pub async fn list(state: &AppState, _: &Grant<HostsRead>) -> ServiceResult<Vec<Group>> {
    Ok(state.store().list_groups().await?)
}

pub async fn create(state: &AppState, _: &Grant<HostsWrite>, b: GroupBody) -> ServiceResult<Done<Group>> {
    let (name, description) = check(&b)?;
    let g = state.store().create_group(&name, &description, now_ms()).await?;
    let audit = note(format!("group:{}", g.id), json!({"name": g.name}));
    Ok(Done::new(g, audit))
}

pub async fn update(
    state: &AppState,
    _: &Grant<HostsWrite>,
    id: i64,
    b: GroupBody,
) -> ServiceResult<Done<Group>> {
    let before = state.store().group(id).await?.ok_or(ServiceError::NotFound("group"))?;
    let (name, description) = check(&b)?;
    if !state.store().update_group(id, &name, &description).await? {
        return Err(ServiceError::NotFound("group"));
    }
    let g = state.store().group(id).await?.ok_or(ServiceError::NotFound("group"))?;
    let audit = note(format!("group:{id}"), json!({"name": g.name, "was": before.name}));
    Ok(Done::new(g, audit))
}

pub async fn delete(state: &AppState, _: &Grant<HostsWrite>, id: i64) -> ServiceResult<Done<Group>> {
    let g = state.store().group(id).await?.ok_or(ServiceError::NotFound("group"))?;
    state.store().delete_group(id).await?;
    let audit = note(format!("group:{id}"), json!({"name": g.name, "hosts": g.host_count}));
    Ok(Done::new(g, audit))
}

/// Put a host in a group (`member`) or take it out; the host itself is unchanged.
pub async fn set_member(
    state: &AppState,
    _: &Grant<HostsWrite>,
    group_id: i64,
    host_id: i64,
    member: bool,
) -> ServiceResult<Done<Group>> {
    let host = state.store().host(host_id).await?.ok_or(ServiceError::NotFound("host"))?;
    if !state.store().set_group_member(group_id, host_id, member).await? {
        return Err(ServiceError::NotFound("group"));
    }
    let g = state.store().group(group_id).await?.ok_or(ServiceError::NotFound("group"))?;
    let audit =
        note(format!("group:{group_id}"), json!({"name": g.name, "host": host.name, "member": member}));
    Ok(Done::new(g, audit))
}
