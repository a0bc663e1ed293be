//! Current verdicts across hosts: which hosts pass or fail a rule, a control or anything in
//! the fleet. One filter, parsed once, serves the rule and control pages, their downloads,
//! the host export and the fleet-wide export, on both surfaces.

use openwatch_store::{FleetStateQuery, HostRuleRow};
use serde::{Deserialize, Serialize};

use super::scans::{ResultFilter, result_query};
use super::{ServiceError, ServiceResult};
use crate::app::AppState;
use crate::auth::need::HostsRead;
use crate::http::guard::Grant;

/// Most rows a page shows; the download has them all (up to [`EXPORT_LIMIT`]).
pub const PAGE_LIMIT: i64 = 500;
/// Most rows one download holds; a larger selection is refused with a hint to narrow it.
pub const EXPORT_LIMIT: i64 = 500_000;

/// What a selection covers besides its filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Fleet,
    Host(i64),
}

/// The filters as a query string carries them (pages, downloads and the API alike). Empty
/// values mean "any", as a form's empty option sends them.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct StateParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// Rules citing this framework, on hosts it applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framework: Option<String>,
    /// With `framework`: rules implementing this control.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control: Option<String>,
    /// One rule's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// A group's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Host names containing this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl StateParams {
    /// The query string of these filters (for export links that keep a page's filters).
    pub fn query_string(&self) -> String {
        serde_urlencoded::to_string(self).unwrap_or_default()
    }

    pub fn framework(&self) -> Option<&str> {
        given(&self.framework)
    }

    pub fn control(&self) -> Option<&str> {
        given(&self.control)
    }

    pub fn rule(&self) -> Option<&str> {
        given(&self.rule)
    }
}

/// Check the filters and resolve them (framework and control to rule ids, a group's name to
/// its id) into the store's query.
pub async fn query(
    state: &AppState,
    scope: &Scope,
    p: &StateParams,
    limit: i64,
) -> ServiceResult<FleetStateQuery> {
    let rq = result_query(
        &state.library,
        &ResultFilter {
            verdict: p.verdict.clone(),
            severity: p.severity.clone(),
            framework: p.framework.clone(),
            control: p.control.clone(),
            page: None,
            per_page: None,
        },
    )?;
    let mut q = FleetStateQuery {
        rule_ids: rq.rule_ids,
        verdict: rq.verdict,
        severity: rq.severity,
        framework: p.framework().map(str::to_owned),
        host_search: given(&p.host).map(str::to_owned),
        limit,
        ..FleetStateQuery::default()
    };
    match scope {
        Scope::Fleet => {}
        Scope::Host(id) => {
            state.store().host(*id).await?.ok_or(ServiceError::NotFound("host"))?;
            q.host_id = Some(*id);
        }
    }
    if let Some(id) = given(&p.rule) {
        state
            .library
            .rule(id)
            .ok_or_else(|| ServiceError::invalid("rule", format!("there is no rule `{id}`")))?;
        let wanted = q.rule_ids.as_ref().is_none_or(|ids| ids.iter().any(|r| r == id));
        q.rule_ids = Some(if wanted { vec![id.to_owned()] } else { Vec::new() });
    }
    if let Some(name) = given(&p.group) {
        let groups = state.store().list_groups().await?;
        let g = groups
            .iter()
            .find(|g| g.name == name)
            .ok_or_else(|| ServiceError::invalid("group", format!("there is no group named `{name}`")))?;
        q.group_id = Some(g.id);
    }
    Ok(q)
}

/// Up to `limit` rows of the selection, and whether there were more.
pub async fn rows(
    state: &AppState,
    _: &Grant<HostsRead>,
    scope: &Scope,
    p: &StateParams,
    limit: i64,
) -> ServiceResult<(Vec<HostRuleRow>, bool)> {
    let q = query(state, scope, p, limit + 1).await?;
    let mut rows = state.store().fleet_state(&q).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    Ok((rows, more))
}
