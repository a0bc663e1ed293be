//! The page shell: navigation (by role), sign-out, flash messages, and shared fragments.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::auth::Caller;
use crate::auth::rbac::Permission;

const NAV: &[(&str, &str, Option<Permission>)] = &[
    ("/", "Dashboard", Some(Permission::FleetRead)),
    ("/hosts", "Hosts", Some(Permission::HostsRead)),
    ("/groups", "Groups", Some(Permission::HostsRead)),
    ("/scans", "Scans", Some(Permission::ScansRead)),
    ("/reports", "Reports", Some(Permission::ScansRead)),
    ("/imports", "Imports", Some(Permission::HostsRead)),
    ("/changes", "Changes", Some(Permission::HostsRead)),
    ("/rules", "Rules", Some(Permission::RulesRead)),
    ("/frameworks", "Frameworks", Some(Permission::RulesRead)),
    ("/schedules", "Schedules", Some(Permission::SchedulesRead)),
    ("/remediations", "Fixes", Some(Permission::RemediationsRead)),
    ("/exceptions", "Exceptions", Some(Permission::ExceptionsRead)),
    ("/alerts", "Alerts", Some(Permission::AlertsRead)),
];

/// Whether the caller sees the Administration section at all.
pub fn can_admin(c: &Caller) -> bool {
    c.can(Permission::UsersRead)
        || c.can(Permission::AuditRead)
        || c.can(Permission::CredentialsWrite)
        || c.can(Permission::TokensWrite)
}

pub struct Page<'a> {
    pub caller: &'a Caller,
    pub csrf: &'a str,
    pub title: &'a str,
    pub section: &'a str,
    pub live: bool,
    pub flash: Option<(bool, String)>,
}

pub fn shell(p: &Page<'_>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (p.title) " · OpenWatch" }
                link rel="stylesheet" href="/static/app.css";
                script src="/static/app.js" defer {}
            }
            body {
                a.skip href="#content" { "Skip to content" }
                header.top {
                    a.brand href="/" { "OpenWatch" }
                    nav.main aria-label="Main" {
                        @for (href, label, need) in NAV {
                            @if need.is_none_or(|n| p.caller.can(n)) {
                                a href=(href) aria-current=[(p.section == *label).then_some("page")] { (label) }
                            }
                        }
                        @if can_admin(p.caller) {
                            a href="/admin" aria-current=[(p.section == "Administration").then_some("page")] { "Administration" }
                        }
                    }
                    div.who {
                        a href="/profile" aria-current=[(p.section == "Account").then_some("page")] { (p.caller.username) " (" (p.caller.role) ")" }
                        form method="post" action="/logout" {
                            input type="hidden" name="_csrf" value=(p.csrf);
                            button.secondary type="submit" { "Sign out" }
                        }
                    }
                }
                main #content data-live=[p.live.then_some("1")] {
                    @if let Some((error, msg)) = &p.flash {
                        div.flash.error[*error] role="status" { (msg) }
                    }
                    (body)
                }
            }
        }
    }
}

pub fn render(p: &Page<'_>, body: Markup) -> Response {
    Html(shell(p, body).into_string()).into_response()
}

pub fn error_page(caller: &Caller, csrf: &str, status: StatusCode, message: &str) -> Response {
    let page = Page { caller, csrf, title: "Error", section: "", live: false, flash: None };
    let body = html! { h1 { (status.canonical_reason().unwrap_or("Error")) } p { (message) } p { a href="/" { "Back to the dashboard" } } };
    (status, Html(shell(&page, body).into_string())).into_response()
}

/// A refused or failed request as a page, marked with its code for the audit event. Without
/// a caller (signed out) the page has no navigation.
pub fn refusal(caller: Option<&Caller>, status: StatusCode, code: &'static str, message: &str) -> Response {
    let mut resp = match caller {
        Some(c) => {
            let csrf = match &c.via {
                crate::auth::Via::Session { csrf_token, .. } => csrf_token.as_str(),
                crate::auth::Via::Token { .. } => "",
            };
            error_page(c, csrf, status, message)
        }
        None => {
            let body = html! { (DOCTYPE) html lang="en" { head { meta charset="utf-8"; title { "Error · OpenWatch" } link rel="stylesheet" href="/static/app.css"; }
            body { main #content { h1 { (status.canonical_reason().unwrap_or("Error")) } p { (message) } p { a href="/login" { "Sign in" } } } } } };
            (status, Html(body.into_string())).into_response()
        }
    };
    resp.extensions_mut().insert(crate::http::error::Failure { code, status });
    resp
}

pub fn forbidden(caller: &Caller, csrf: &str, p: Permission) -> Response {
    error_page(
        caller,
        csrf,
        StatusCode::FORBIDDEN,
        &format!("Your role ({}) does not include {}.", caller.role, p.as_str()),
    )
}

pub fn verdict(v: openwatch_core::eval::Status) -> Markup {
    let v = v.as_str();
    html! { span class={"verdict v-" (v)} { (v.replace('_', " ")) } }
}

pub fn badge(v: &str) -> Markup {
    html! { span class={"badge b-" (v)} { (v.replace('_', " ")) } }
}

pub use crate::timefmt::when;

/// A count with its noun in the right number: "1 host", "0 hosts", "3 hosts".
pub fn plural(n: impl Into<i64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Prose from rules (split at its code spans by the core) as text and `<code>`, escaped like
/// any other text: rule files never supply markup.
pub fn prose(s: &openwatch_core::guidance::Sentence) -> Markup {
    use openwatch_core::guidance::Span;
    html! { @for span in &s.0 { @match span { Span::Text(t) => (t), Span::Code(c) => code { (c) } } } }
}

pub fn svg(s: String) -> PreEscaped<String> {
    PreEscaped(s)
}

/// Hidden CSRF field for forms.
pub fn csrf_field(csrf: &str) -> Markup {
    html! { input type="hidden" name="_csrf" value=(csrf); }
}

/// Previous/next links keeping the other query parameters.
pub fn pager(base: &str, query: &[(&str, String)], page: i64, per_page: i64, total: i64) -> Markup {
    let pages = (total + per_page - 1) / per_page.max(1);
    let link = |p: i64| {
        let mut q: Vec<String> = query
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={}", super::form::urlencode(v)))
            .collect();
        q.push(format!("page={p}"));
        format!("{base}?{}", q.join("&"))
    };
    html! {
        nav.pager aria-label="Pages" {
            @if page > 1 { a href=(link(page - 1)) rel="prev" { "← Previous" } }
            span.muted { "Page " (page) " of " (pages.max(1)) " · " (total) " in all" }
            @if page < pages { a href=(link(page + 1)) rel="next" { "Next →" } }
        }
    }
}
