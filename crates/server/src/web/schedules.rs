//! Scan schedules: the list (target, rule, next run), the form to add one and deletion, all
//! through the same use cases as the API (`service::schedules`).

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use maud::{Markup, html};
use openwatch_core::guidance::spans;
use openwatch_store::{Group, Host, HostQuery, PageRequest, Schedule};
use serde::Deserialize;

use super::guard::{Need, SchedulesRead, SchedulesWrite, Viewer};
use super::layout::{Page, csrf_field, plural, prose, render, when};
use crate::app::{AppState, now_ms};
use crate::auth::rbac::Permission;
use crate::http::guard::Grant;
use crate::service::ServiceError;
use crate::service::schedules::{self, MIN_INTERVAL_MINUTES, ScheduleInput};

/// Hosts offered as targets; a larger fleet schedules by group.
const HOST_CHOICES: i64 = 500;

#[derive(Debug, Deserialize, Default)]
pub struct ListQuery {
    flash: Option<String>,
    sig: Option<String>,
    error: Option<String>,
}

/// The form as posted: `target` is `host:ID` or `group:ID`; one of `cron` and `interval`.
#[derive(Debug, Deserialize, Default)]
pub struct ScheduleForm {
    #[serde(default)]
    target: String,
    #[serde(default)]
    cron: String,
    #[serde(default)]
    interval: String,
}

impl ScheduleForm {
    /// The form as the API's schedule body (validated by the same use case).
    fn input(&self) -> Result<ScheduleInput, ServiceError> {
        let mut input = ScheduleInput::default();
        let id = |s: &str| {
            s.parse::<i64>().map_err(|_| ServiceError::invalid("target", "choose a host or a group"))
        };
        match self.target.split_once(':') {
            Some(("host", h)) => input.host_id = Some(id(h)?),
            Some(("group", g)) => input.group_id = Some(id(g)?),
            _ => return Err(ServiceError::invalid("target", "choose a host or a group")),
        }
        let interval = self.interval.trim();
        if interval.is_empty() && self.cron.trim().is_empty() {
            return Err(ServiceError::invalid("cron", "give a cron expression or an interval in minutes"));
        }
        if !interval.is_empty() {
            input.interval_minutes = Some(interval.parse().map_err(|_| {
                ServiceError::invalid("interval_minutes", format!("`{interval}` is not a number of minutes"))
            })?);
        }
        input.cron = Some(self.cron.clone());
        Ok(input)
    }
}

/// Everything the page shows besides the form's own input.
struct Loaded {
    schedules: Vec<Schedule>,
    hosts: Vec<Host>,
    groups: Vec<Group>,
}

async fn load(state: &AppState, grant: &Grant<SchedulesRead>) -> Result<Loaded, ServiceError> {
    let schedules = schedules::list(state, grant).await?;
    let store = state.store();
    let hosts =
        store.list_hosts(&HostQuery::default(), PageRequest::new(None, Some(HOST_CHOICES))).await?.items;
    let groups = store.list_groups().await?;
    Ok(Loaded { schedules, hosts, groups })
}

pub async fn list(
    State(state): State<AppState>,
    v: Viewer<SchedulesRead>,
    Query(q): Query<ListQuery>,
) -> Response {
    let flash = super::flash_message(&v.csrf, q.flash, q.error, q.sig.as_deref());
    match load(&state, &v.grant).await {
        Ok(l) => page(&v, &l, &ScheduleForm::default(), flash),
        Err(e) => super::page_error(&v.caller, &e),
    }
}

pub async fn create(
    State(state): State<AppState>,
    v: Viewer<SchedulesWrite>,
    Form(f): Form<ScheduleForm>,
) -> Response {
    let result = match f.input() {
        Ok(input) => schedules::create(&state, &v.grant, input).await,
        Err(e) => Err(e),
    };
    let e = match result {
        Ok(d) => {
            let msg = format!("Schedule #{} added", d.value.id);
            return super::after_post(&v.csrf, "/schedules", &msg, Ok(d.audit));
        }
        Err(e) => e,
    };
    // Refused: the page again with the reason and what was typed, marked for the audit event.
    let loaded = match v.grant.also::<SchedulesRead>() {
        Ok(read) => load(&state, &read).await,
        Err(err) => Err(err),
    };
    let mut resp = match loaded {
        Ok(l) => page(&v, &l, &f, Some((true, e.to_string()))),
        Err(err) => return super::page_error(&v.caller, &err),
    };
    let failure = super::failure(&e);
    *resp.status_mut() = failure.status;
    resp.extensions_mut().insert(failure);
    resp
}

pub async fn delete(
    State(state): State<AppState>,
    v: Viewer<SchedulesWrite>,
    Path(id): Path<i64>,
) -> Response {
    match schedules::delete(&state, &v.grant, id).await {
        Ok(d) => super::after_post(&v.csrf, "/schedules", &format!("Schedule #{id} deleted"), Ok(d.audit)),
        Err(e) => super::after_post(&v.csrf, "/schedules", &e.to_string(), Err(&e)),
    }
}

/// How far ahead a time is, in the largest whole unit: "in 3 hours" ("due now" once passed:
/// the scheduler fires it on its next tick).
fn from_now(at: i64, now: i64) -> String {
    if at <= now {
        return "due now".to_owned();
    }
    match (at - now) / 60_000 {
        0 => "in less than a minute".to_owned(),
        m if m < 120 => format!("in {}", plural(m, "minute", "minutes")),
        m if m < 48 * 60 => format!("in {}", plural(m / 60, "hour", "hours")),
        m => format!("in {}", plural(m / (24 * 60), "day", "days")),
    }
}

fn cadence(s: &Schedule) -> Markup {
    match (&s.cron, s.interval_secs) {
        (Some(c), _) => html! { "cron " code { (c) } },
        (None, Some(secs)) => html! { "every " (plural(secs / 60, "minute", "minutes")) },
        (None, None) => html! { "—" },
    }
}

fn target(s: &Schedule, l: &Loaded) -> Markup {
    if s.target_kind == "group" {
        let name = l.groups.iter().find(|g| g.id == s.target_id).map(|g| g.name.as_str());
        html! { "group " a.group href={"/hosts?group=" (super::form::urlencode(name.unwrap_or("")))} title=[name] { (name.unwrap_or("(deleted)")) } }
    } else {
        let name = l.hosts.iter().find(|h| h.id == s.target_id).map(|h| h.name.as_str());
        html! { "host " a href={"/hosts/" (s.target_id)} title=[name] { (name.map_or_else(|| format!("#{}", s.target_id), str::to_owned)) } }
    }
}

fn page<N: Need>(v: &Viewer<N>, l: &Loaded, f: &ScheduleForm, flash: Option<(bool, String)>) -> Response {
    let can_write = v.caller.can(Permission::SchedulesWrite);
    let now = now_ms();
    // Refusals name the expression between backticks: shown as code, not as raw marks.
    let flash_markup = flash.as_ref().map(|(error, msg)| (*error, prose(&spans(msg))));
    let body = html! {
        h1 { "Schedules" }
        @if let Some((error, msg)) = &flash_markup {
            div.flash.error[*error] role=(if *error { "alert" } else { "status" }) { (msg) }
        }
        div.stack {
            p.muted { (plural(l.schedules.len() as i64, "schedule", "schedules")) ". Times are UTC." }
            table #schedules {
                thead { tr { th { "Target" } th { "When" } th { "Next run" } th { "State" } @if can_write { th {} } } }
                tbody {
                    @for s in &l.schedules {
                        tr {
                            td { (target(s, l)) }
                            td { (cadence(s)) }
                            td { (when(Some(s.next_fire_at))) " " span.muted { "(" (from_now(s.next_fire_at, now)) ")" } }
                            td { @if s.enabled { "active" } @else { span.muted { "paused" } } }
                            @if can_write {
                                td {
                                    form method="post" action={"/schedules/" (s.id) "/delete"} data-confirm={"Delete schedule #" (s.id) "?"} {
                                        (csrf_field(&v.csrf))
                                        button.secondary type="submit" aria-label={"Delete schedule #" (s.id)} { "Delete" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if l.schedules.is_empty() { p.muted { "No schedules yet." } }
            @if can_write { (form(v, l, f)) }
        }
    };
    render(
        &Page {
            caller: &v.caller,
            csrf: &v.csrf,
            title: "Schedules",
            section: "Schedules",
            live: false,
            flash: None,
        },
        body,
    )
}

fn form<N: Need>(v: &Viewer<N>, l: &Loaded, f: &ScheduleForm) -> Markup {
    html! {
        section.card aria-labelledby="new-h" {
            h2 #new-h { "Add a schedule" }
            form.stack method="post" action="/schedules" {
                (csrf_field(&v.csrf))
                label { "Scan" select name="target" required {
                    option value="" { "choose a host or a group" }
                    @if !l.groups.is_empty() {
                        optgroup label="Groups" { @for g in &l.groups {
                            @let value = format!("group:{}", g.id);
                            option value=(value) selected[f.target == value] { (g.name) " (" (plural(g.host_count, "host", "hosts")) ")" }
                        } }
                    }
                    optgroup label="Hosts" { @for h in &l.hosts {
                        @let value = format!("host:{}", h.id);
                        option value=(value) selected[f.target == value] { (h.name) }
                    } }
                } }
                div.grid {
                    label { "Cron expression (UTC)" input name="cron" value=(f.cron) placeholder="0 3 * * *" aria-describedby="cron-help"; }
                    label { "or every N minutes" input name="interval" type="number" min=(MIN_INTERVAL_MINUTES) value=(f.interval) placeholder="60"; }
                }
                div.help #cron-help {
                    p { "Five fields: minute, hour, day of month, month, day of week. Give a cron expression or an interval, not both; a schedule may not fire more often than every " (plural(MIN_INTERVAL_MINUTES, "minute", "minutes")) "." }
                    ul {
                        li { code { "0 3 * * *" } " every day at 03:00" }
                        li { code { "*/30 * * * *" } " every 30 minutes" }
                        li { code { "0 6 * * 1-5" } " weekdays at 06:00" }
                        li { code { "0 2 1 * *" } " the first of every month at 02:00" }
                    }
                }
                div.actions { button type="submit" { "Add schedule" } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::from_now;

    #[test]
    fn next_runs_read_in_the_largest_whole_unit() {
        let min = 60_000;
        assert_eq!(from_now(0, 1), "due now");
        assert_eq!(from_now(30_000, 0), "in less than a minute");
        assert_eq!(from_now(min, 0), "in 1 minute");
        assert_eq!(from_now(119 * min, 0), "in 119 minutes");
        assert_eq!(from_now(3 * 60 * min, 0), "in 3 hours");
        assert_eq!(from_now(72 * 60 * min, 0), "in 3 days");
    }
}
