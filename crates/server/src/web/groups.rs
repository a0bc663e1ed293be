//! Host groups: the list with host counts, one group's hosts, and the forms to create,
//! rename and remove a group and to put hosts in or take them out (`service::groups`).

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use openwatch_store::{Group, Host, HostQuery, PageRequest};
use serde::Deserialize;

use super::FlashQuery;
use super::confirm::{self, Confirm};
use super::guard::{HostsRead, HostsWrite, Viewer};
use super::layout::{self, Page, csrf_field, plural, render};
use crate::app::AppState;
use crate::auth::rbac::Permission;
use crate::service::groups::{self, GroupBody};
use crate::service::{Done, ServiceError, ServiceResult};

fn after<T>(csrf: &str, to: &str, r: ServiceResult<Done<T>>, message: impl FnOnce(&T) -> String) -> Response {
    match r {
        Ok(d) => super::after_post(csrf, to, &message(&d.value), Ok(d.audit)),
        Err(e) => super::after_post(csrf, to, &e.to_string(), Err(&e)),
    }
}

pub async fn list(
    State(state): State<AppState>,
    v: Viewer<HostsRead>,
    Query(q): Query<FlashQuery>,
) -> Response {
    let all = match groups::list(&state, &v.grant).await {
        Ok(g) => g,
        Err(e) => return super::page_error(&v.caller, &e),
    };
    let write = v.caller.can(Permission::HostsWrite);
    let body = html! {
        h1 { "Groups" }
        p.muted { "A host may be in several groups. Removing a group keeps its hosts; scans and schedules of a group cover the hosts in it at the time." }
        section.card aria-labelledby="groups-h" {
            h2 #groups-h { (plural(all.len() as i64, "group", "groups")) }
            table #groups {
                thead { tr { th { "Group" } th { "Description" } th { "Hosts" } } }
                tbody { @for g in &all { tr {
                    td { a href={"/groups/" (g.id)} { (g.name) } }
                    td { (g.description) }
                    td { a href={"/hosts?group=" (super::form::urlencode(&g.name))} { (plural(g.host_count, "host", "hosts")) } }
                } } }
            }
        }
        @if write {
            section.card aria-labelledby="new-group-h" {
                h2 #new-group-h { "Create a group" }
                form.filters method="post" action="/groups" {
                    (csrf_field(&v.csrf))
                    label { "Name" input name="name" required; }
                    label { "Description" input name="description"; }
                    button type="submit" { "Create group" }
                }
            }
        }
    };
    let flash = q.message(&v.csrf);
    render(
        &Page { caller: &v.caller, csrf: &v.csrf, title: "Groups", section: "Groups", live: false, flash },
        body,
    )
}

pub async fn create(
    State(state): State<AppState>,
    v: Viewer<HostsWrite>,
    Form(b): Form<GroupBody>,
) -> Response {
    match groups::create(&state, &v.grant, b).await {
        Ok(d) => {
            let to = format!("/groups/{}", d.value.id);
            super::after_post(&v.csrf, &to, &format!("Group {} created", d.value.name), Ok(d.audit))
        }
        Err(e) => super::after_post(&v.csrf, "/groups", &e.to_string(), Err(&e)),
    }
}

async fn load(state: &AppState, id: i64) -> Result<Option<(Group, Vec<Host>, Vec<Host>)>, ServiceError> {
    let store = state.store();
    let Some(g) = store.group(id).await? else { return Ok(None) };
    let all = PageRequest::new(None, Some(PageRequest::MAX_PER_PAGE));
    let members =
        store.list_hosts(&HostQuery { group: Some(g.name.clone()), ..Default::default() }, all).await?;
    let hosts = store.list_hosts(&HostQuery::default(), all).await?;
    let others = hosts.items.into_iter().filter(|h| !h.groups.contains(&g.name)).collect();
    Ok(Some((g, members.items, others)))
}

pub async fn detail(
    State(state): State<AppState>,
    v: Viewer<HostsRead>,
    Path(id): Path<i64>,
    Query(q): Query<FlashQuery>,
) -> Response {
    let (g, members, others) = match load(&state, id).await {
        Ok(Some(x)) => x,
        Ok(None) => return layout::error_page(&v.caller, &v.csrf, StatusCode::NOT_FOUND, "No such group."),
        Err(e) => return super::page_error(&v.caller, &e),
    };
    let write = v.caller.can(Permission::HostsWrite);
    let body = html! {
        h1 { "Group " (g.name) }
        @if !g.description.is_empty() { p { (g.description) } }
        p { a.button.secondary href={"/groups/" (g.id) "/tailoring"} { "Tailoring" } " "
            span.muted { "which frameworks and rules apply to its hosts, and rule variables" } }
        section.card aria-labelledby="members-h" {
            h2 #members-h { (plural(members.len() as i64, "host", "hosts")) }
            table #members {
                thead { tr { th { "Host" } th { "Address" } @if write { th {} } } }
                tbody { @for h in &members { tr {
                    td { a href={"/hosts/" (h.id)} { (h.name) } }
                    td.mono { (h.address) }
                    @if write { td {
                        form method="post" action={"/groups/" (g.id) "/hosts/" (h.id) "/remove"} {
                            (csrf_field(&v.csrf))
                            button.secondary type="submit" aria-label={"Remove " (h.name) " from " (g.name)} { "Remove from group" }
                        }
                    } }
                } } }
            }
            @if write && !others.is_empty() {
                form.filters method="post" action={"/groups/" (g.id) "/hosts"} {
                    (csrf_field(&v.csrf))
                    label { "Host" select name="host_id" { @for h in &others { option value=(h.id) { (h.name) } } } }
                    button type="submit" { "Add to group" }
                }
            }
        }
        @if write {
            section.card aria-labelledby="rename-h" {
                h2 #rename-h { "Rename" }
                form.filters method="post" action={"/groups/" (g.id)} {
                    (csrf_field(&v.csrf))
                    label { "Name" input name="name" value=(g.name) required; }
                    label { "Description" input name="description" value=(g.description); }
                    button type="submit" { "Save" }
                }
            }
            div.actions { a.button.secondary href={"/groups/" (g.id) "/delete"} { "Delete group" } }
        }
    };
    let flash = q.message(&v.csrf);
    let title = format!("Group {}", g.name);
    render(
        &Page { caller: &v.caller, csrf: &v.csrf, title: &title, section: "Groups", live: false, flash },
        body,
    )
}

pub async fn update(
    State(state): State<AppState>,
    v: Viewer<HostsWrite>,
    Path(id): Path<i64>,
    Form(b): Form<GroupBody>,
) -> Response {
    let r = groups::update(&state, &v.grant, id, b).await;
    after(&v.csrf, &format!("/groups/{id}"), r, |g| format!("Group {} saved", g.name))
}

pub async fn confirm_delete(
    State(state): State<AppState>,
    v: Viewer<HostsWrite>,
    Path(id): Path<i64>,
) -> Response {
    let g = match state.store().group(id).await {
        Ok(Some(g)) => g,
        Ok(None) => return layout::error_page(&v.caller, &v.csrf, StatusCode::NOT_FOUND, "No such group."),
        Err(e) => return super::page_error(&v.caller, &ServiceError::from(e)),
    };
    confirm::page(
        &v,
        Confirm {
            title: "Delete group",
            section: "Groups",
            question: format!("Delete the group {}?", g.name),
            consequence: format!(
                "Its {} stay, in their other groups; schedules of this group are removed.",
                plural(g.host_count, "host", "hosts")
            ),
            action: format!("/groups/{id}/delete"),
            button: "Delete group",
            cancel: format!("/groups/{id}"),
        },
    )
}

pub async fn delete(State(state): State<AppState>, v: Viewer<HostsWrite>, Path(id): Path<i64>) -> Response {
    match groups::delete(&state, &v.grant, id).await {
        Ok(d) => {
            super::after_post(&v.csrf, "/groups", &format!("Group {} deleted", d.value.name), Ok(d.audit))
        }
        Err(e) => super::after_post(&v.csrf, &format!("/groups/{id}"), &e.to_string(), Err(&e)),
    }
}

#[derive(Debug, Deserialize)]
pub struct MemberForm {
    host_id: i64,
}

pub async fn add_host(
    State(state): State<AppState>,
    v: Viewer<HostsWrite>,
    Path(id): Path<i64>,
    Form(f): Form<MemberForm>,
) -> Response {
    let r = groups::set_member(&state, &v.grant, id, f.host_id, true).await;
    after(&v.csrf, &format!("/groups/{id}"), r, |g| format!("Host added to {}", g.name))
}

pub async fn remove_host(
    State(state): State<AppState>,
    v: Viewer<HostsWrite>,
    Path((id, host_id)): Path<(i64, i64)>,
) -> Response {
    let r = groups::set_member(&state, &v.grant, id, host_id, false).await;
    after(&v.csrf, &format!("/groups/{id}"), r, |g| format!("Host removed from {}", g.name))
}
