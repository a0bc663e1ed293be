//! The tailoring pages of a group and of a host: which frameworks' rules apply, which rules
//! are left out, and variable values, with the variables the library declares listed for
//! reference. A host's page also shows what it inherits from its groups.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use maud::{Markup, html};
use openwatch_core::tailoring::{Effective, Tailoring};
use openwatch_store::TailoringScope;

use super::FlashQuery;
use super::guard::{HostsRead, HostsWrite, Viewer};
use super::layout::{Page, csrf_field, render, when};
use crate::app::AppState;
use crate::service::{ServiceError, tailoring};

/// The form as typed, kept when saving fails.
#[derive(Debug, Default)]
struct Typed {
    frameworks: Vec<String>,
    exclude: String,
    variables: String,
}

impl Typed {
    fn of(t: &Tailoring) -> Typed {
        Typed {
            frameworks: t.frameworks.clone(),
            exclude: t.exclude_rules.join("\n"),
            variables: t.variables.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("\n"),
        }
    }

    /// Read the form; a variable line without `=` is an error naming the line.
    fn parse(&self) -> Result<Tailoring, ServiceError> {
        let mut variables = BTreeMap::new();
        for (i, line) in self.variables.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let (k, v) = line.split_once('=').ok_or_else(|| {
                ServiceError::invalid("variables", format!("line {}: `{line}` is not NAME=VALUE", i + 1))
            })?;
            variables.insert(k.trim().to_owned(), v.trim().to_owned());
        }
        Ok(Tailoring {
            frameworks: self.frameworks.clone(),
            exclude_rules: self
                .exclude
                .lines()
                .map(|l| l.trim().to_owned())
                .filter(|l| !l.is_empty())
                .collect(),
            variables,
        })
    }
}

/// What the page is about: its scope, title and address.
struct Subject {
    name: String,
    path: String,
    back: String,
}

async fn subject(state: &AppState, scope: TailoringScope) -> Result<Subject, ServiceError> {
    match scope {
        TailoringScope::Group(id) => {
            let g = state.store().group(id).await?.ok_or(ServiceError::NotFound("group"))?;
            Ok(Subject {
                name: format!("group {}", g.name),
                path: format!("/groups/{id}/tailoring"),
                back: "/groups".into(),
            })
        }
        TailoringScope::Host(id) => {
            let h = state.store().host(id).await?.ok_or(ServiceError::NotFound("host"))?;
            Ok(Subject {
                name: format!("host {}", h.name),
                path: format!("/hosts/{id}/tailoring"),
                back: format!("/hosts/{id}"),
            })
        }
    }
}

pub async fn group_form(
    State(state): State<AppState>,
    v: Viewer<HostsRead>,
    Path(id): Path<i64>,
    Query(f): Query<FlashQuery>,
) -> Response {
    let flash = f.message(&v.csrf);
    show(&state, &v, TailoringScope::Group(id), flash).await
}

pub async fn host_form(
    State(state): State<AppState>,
    v: Viewer<HostsRead>,
    Path(id): Path<i64>,
    Query(f): Query<FlashQuery>,
) -> Response {
    let flash = f.message(&v.csrf);
    show(&state, &v, TailoringScope::Host(id), flash).await
}

async fn show(
    state: &AppState,
    v: &Viewer<HostsRead>,
    scope: TailoringScope,
    flash: Option<(bool, String)>,
) -> Response {
    let loaded = async {
        let s = subject(state, scope).await?;
        let (t, stored) = tailoring::get(state, &v.grant, scope).await?;
        let effective = match scope {
            TailoringScope::Host(id) => Some(tailoring::effective(state, &v.grant, id).await?),
            TailoringScope::Group(_) => None,
        };
        let note = stored.map(|s| format!("Last changed {} by {}.", when(Some(s.updated_at)), s.updated_by));
        Ok::<_, ServiceError>((s, Typed::of(&t), effective, note))
    };
    match loaded.await {
        Ok((s, typed, effective, note)) => page(state, v, &s, &typed, effective.as_ref(), note, Err(flash)),
        Err(e) => super::page_error(&v.caller, &e),
    }
}

pub async fn save_group(
    State(state): State<AppState>,
    v: Viewer<HostsWrite>,
    Path(id): Path<i64>,
    body: String,
) -> Response {
    save(&state, &v, TailoringScope::Group(id), &body).await
}

pub async fn save_host(
    State(state): State<AppState>,
    v: Viewer<HostsWrite>,
    Path(id): Path<i64>,
    body: String,
) -> Response {
    save(&state, &v, TailoringScope::Host(id), &body).await
}

async fn save(state: &AppState, v: &Viewer<HostsWrite>, scope: TailoringScope, body: &str) -> Response {
    let pairs = super::form::pairs(body);
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map_or(String::new(), |(_, v)| v.clone());
    let typed = Typed {
        frameworks: pairs.iter().filter(|(k, _)| k == "framework").map(|(_, f)| f.clone()).collect(),
        exclude: get("exclude_rules"),
        variables: get("variables"),
    };
    let s = match subject(state, scope).await {
        Ok(s) => s,
        Err(e) => return super::page_error(&v.caller, &e),
    };
    let result = match typed.parse() {
        Ok(t) => tailoring::put(state, &v.grant, scope, t).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(d) => {
            let msg = format!("Tailoring of {} saved; it applies from the next scan", s.name);
            super::after_post(&v.csrf, &s.path, &msg, Ok(d.audit))
        }
        Err(e) => {
            let effective = match scope {
                TailoringScope::Host(id) => tailoring::resolve(state, id).await.ok(),
                TailoringScope::Group(_) => None,
            };
            let mut resp = page(state, v, &s, &typed, effective.as_ref(), None, Ok(e.to_string()));
            *resp.status_mut() = crate::http::error::classify(&e).status;
            resp.extensions_mut().insert(super::failure(&e));
            resp
        }
    }
}

fn page<N: super::guard::Need>(
    state: &AppState,
    v: &Viewer<N>,
    s: &Subject,
    typed: &Typed,
    effective: Option<&Effective>,
    note: Option<String>,
    // A failed save's message shown in the form, or the flash after a redirect.
    message: Result<String, Option<(bool, String)>>,
) -> Response {
    let (error, flash) = match message {
        Ok(e) => (Some(e), None),
        Err(f) => (None, f),
    };
    let can_write = v.caller.can(crate::auth::rbac::Permission::HostsWrite);
    let body = html! {
        h1 { "Tailoring of " (s.name) }
        p { "Choose which frameworks' rules apply, leave rules out, and set rule variables (as "
            code { "openwatch scan --var NAME=VALUE" } " does). A host takes its groups' tailorings in name order, then its own; "
            "the scanner and every compliance figure use the result from the next scan." }
        @if let Some(n) = &note { p.muted { (n) } }
        @if let Some(e) = &error { div.flash.error role="alert" { (e) } }
        @if let Some(e) = effective { (inherited(e)) }
        form.card method="post" action=(s.path) {
            (csrf_field(&v.csrf))
            fieldset {
                legend { "Frameworks (none ticked: every rule applies)" }
                @for f in state.library.frameworks() {
                    label.check { input type="checkbox" name="framework" value=(f) checked[typed.frameworks.iter().any(|x| x == f)]; " " (f) }
                }
            }
            label for="exclude_rules" { "Rules left out (one rule id per line)" }
            textarea #exclude_rules name="exclude_rules" rows="4" { (typed.exclude) }
            label for="variables" { "Variables (one NAME=VALUE per line)" }
            textarea #variables name="variables" rows="4" placeholder="sshd_max_auth_tries=3" { (typed.variables) }
            @if can_write { button type="submit" { "Save tailoring" } }
            @else { p.muted { "Changing a tailoring needs the hosts:write permission." } }
        }
        (variables(state))
        p { a href=(s.back) { "Back" } }
    };
    render(
        &Page { caller: &v.caller, csrf: &v.csrf, title: "Tailoring", section: "Hosts", live: false, flash },
        body,
    )
}

/// A host's effective tailoring, with where each setting comes from.
fn inherited(e: &Effective) -> Markup {
    html! {
        section.card #effective aria-labelledby="eff-h" {
            h2 #eff-h { "In effect for this host" }
            @if e.frameworks.is_empty() && e.exclude_rules.is_empty() && e.variables.is_empty() {
                p.muted { "Nothing: every rule with its default values." }
            }
            @if !e.frameworks.is_empty() {
                p { "Frameworks: " (e.frameworks.join(", ")) " " span.muted { "(from " (e.frameworks_from.as_deref().unwrap_or("")) ")" } }
            }
            @for (r, from) in &e.exclude_rules { p { "Left out: " code { (r) } " " span.muted { "(from " (from) ")" } } }
            @for (k, (val, from)) in &e.variables { p { code { (k) "=" (val) } " " span.muted { "(from " (from) ")" } } }
        }
    }
}

/// Every variable the library declares: its type, default and what it means.
fn variables(state: &AppState) -> Markup {
    let mut all: BTreeMap<&str, (String, String, String, Vec<&str>)> = BTreeMap::new();
    for r in state.library.rules.iter() {
        for (name, d) in r.variable_defaults() {
            let e = all.entry(name).or_insert_with(|| {
                (
                    d.ty.as_str().to_owned(),
                    d.default.value.to_string(),
                    d.description.as_str().to_owned(),
                    Vec::new(),
                )
            });
            e.3.push(r.id());
        }
    }
    html! {
        details.card #known-variables {
            summary { "Variables the rules declare (" (all.len()) ")" }
            table {
                thead { tr { th { "Name" } th { "Type" } th { "Default" } th { "Meaning" } th { "Rules" } } }
                tbody { @for (name, (ty, default, desc, rules)) in &all { tr {
                    td.mono { (name) } td { (ty) } td.mono { (default) } td { (desc) } td.mono { (rules.join(", ")) }
                } } }
            }
        }
    }
}
