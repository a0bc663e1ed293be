//! The web UI: server-rendered pages (maud), organised by feature, with our own CSS and a
//! small script for live updates. Pages are routes of the one route table (see
//! [`pages`]): the guard authenticates, checks CSRF and permission and writes the audit
//! event; handlers call the same use cases as the API and render the outcome.

mod admin;
mod alerts;
mod changes;
mod channels;
mod confirm;
mod dashboard;
pub(crate) mod exceptions;
mod fix;
mod flash;
pub(crate) mod form;
mod frameworks;
mod groups;
mod guard;
mod hosts;
mod imports;
mod keys;
pub(crate) mod layout;
mod login;
mod profile;
mod remediations;
mod reports;
mod rules;
mod scans;
mod schedules;
mod second_factor;
mod sso;
pub mod svg;
mod tailoring;
pub(crate) mod verdicts;

use axum::handler::Handler as _;
use axum::http::{Method, header};
use axum::response::{IntoResponse, Redirect, Response};

use crate::auth::rbac::Permission as P;
use crate::http::error::Failure;
use crate::http::router::{Access, Routes};
use crate::service::{AuditNote, ServiceError};

pub use flash::FlashQuery;
pub use guard::Viewer;

const CSS: &str = include_str!("../../static/app.css");
const JS: &str = include_str!("../../static/app.js");

fn asset(body: &'static str, kind: &'static str) -> Response {
    ([(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "public, max-age=3600")], body).into_response()
}

/// Redirect after a form post with a signed flash message (see [`flash`]). A success carries
/// the use case's audit note; a failure carries its code, so the guard records the right
/// outcome.
pub fn after_post(csrf: &str, to: &str, message: &str, result: Result<AuditNote, &ServiceError>) -> Response {
    let sep = if to.contains('?') { '&' } else { '?' };
    let mut resp =
        Redirect::to(&format!("{to}{sep}{}", flash::query(csrf, message, result.is_err()))).into_response();
    match result {
        Ok(note) => {
            resp.extensions_mut().insert(note);
        }
        Err(e) => {
            resp.extensions_mut().insert(failure(e));
        }
    }
    resp
}

/// The flash message a page was redirected with, if this session's server wrote it.
pub fn flash_message(
    csrf: &str,
    flash: Option<String>,
    error: Option<String>,
    sig: Option<&str>,
) -> Option<(bool, String)> {
    flash::read(csrf, flash, error, sig)
}

/// The audit marker of a failed use case.
pub fn failure(e: &ServiceError) -> Failure {
    crate::http::error::classify(e)
}

/// A use case's failure as a page (storage details stay in the log).
pub fn page_error(caller: &crate::auth::Caller, e: &ServiceError) -> Response {
    let f = failure(e);
    layout::refusal(Some(caller), f.status, f.code, &e.to_string())
}

/// Every page and form target, in the server's one route table.
pub fn pages(r: Routes) -> Routes {
    use Access::{Needs, Public, SignedIn};
    const GET: Method = Method::GET;
    const POST: Method = Method::POST;
    r.page(GET, "/static/app.css", Public, "web.asset", || async { asset(CSS, "text/css; charset=utf-8") })
        .page(GET, "/static/app.js", Public, "web.asset", || async {
            asset(JS, "text/javascript; charset=utf-8")
        })
        .page(GET, "/login", Public, "web.login_form", login::form)
        .page(POST, "/login", Public, "auth.login", login::submit)
        .page(GET, "/auth/oidc/{name}", Public, "web.sso_start", sso::start)
        .page(GET, "/auth/oidc/{name}/callback", Public, "auth.sso", sso::callback)
        .page(GET, "/login/second-factor", Public, "web.second_factor_form", second_factor::form)
        .page(POST, "/login/second-factor", Public, "auth.second_factor", second_factor::submit)
        .page(POST, "/logout", SignedIn, "auth.logout", login::logout)
        .page(GET, "/profile", SignedIn, "web.profile", profile::page)
        .page(POST, "/profile/verify", SignedIn, "auth.verify", profile::verify)
        .page(POST, "/profile/totp", SignedIn, "factor.totp_begin", profile::begin_totp)
        .page(POST, "/profile/totp/confirm", SignedIn, "factor.enrol", profile::confirm_totp)
        .page(POST, "/profile/totp/remove", SignedIn, "factor.remove", profile::remove_totp)
        .page(POST, "/profile/recovery-codes", SignedIn, "factor.recovery_codes", profile::recovery_codes)
        .page(POST, "/profile/sessions/{id}/end", SignedIn, "session.end", profile::end_session)
        .page(POST, "/profile/security-keys/{id}/remove", SignedIn, "factor.remove", profile::remove_key)
        .page(POST, "/profile/tokens", Needs(P::TokensWrite), "token.create", profile::create_token)
        .page(GET, "/", Needs(P::FleetRead), "web.dashboard", dashboard::page)
        .page(GET, "/hosts", Needs(P::HostsRead), "web.hosts", hosts::list)
        .page(POST, "/hosts", Needs(P::HostsWrite), "host.create", hosts::create)
        .page(GET, "/hosts/new", Needs(P::HostsWrite), "web.host_new", hosts::new_form)
        .page(GET, "/hosts/import", Needs(P::HostsWrite), "web.host_import", hosts::import_form)
        .page(POST, "/hosts/import", Needs(P::HostsWrite), "host.import", hosts::import)
        .page(POST, "/hosts/scan", Needs(P::HostsScan), "scan.queue_hosts", hosts::scan_selected)
        .page(GET, "/hosts/keys", Needs(P::HostsRead), "web.host_keys_pending", keys::pending)
        .page(POST, "/hosts/keys/approve", Needs(P::HostKeysApprove), "host.key_approve_many", keys::approve)
        .page(GET, "/hosts/{id}/delete", Needs(P::HostsWrite), "web.host_delete", hosts::confirm_delete)
        .page(POST, "/hosts/{id}/delete", Needs(P::HostsWrite), "host.delete", hosts::delete)
        .page(GET, "/hosts/{id}/edit", Needs(P::HostsWrite), "web.host_edit", hosts::edit_form)
        .page(POST, "/hosts/{id}/edit", Needs(P::HostsWrite), "host.update", hosts::update)
        .page(GET, "/hosts/{id}/{file}", Needs(P::HostsRead), "host.export", hosts::export)
        .page(POST, "/groups/scan", Needs(P::HostsScan), "scan.queue_group", hosts::scan_group)
        .page(GET, "/groups", Needs(P::HostsRead), "web.groups", groups::list)
        .page(POST, "/groups", Needs(P::HostsWrite), "group.create", groups::create)
        .page(GET, "/groups/{id}", Needs(P::HostsRead), "web.group", groups::detail)
        .page(POST, "/groups/{id}", Needs(P::HostsWrite), "group.update", groups::update)
        .page(GET, "/groups/{id}/delete", Needs(P::HostsWrite), "web.group_delete", groups::confirm_delete)
        .page(POST, "/groups/{id}/delete", Needs(P::HostsWrite), "group.delete", groups::delete)
        .page(POST, "/groups/{id}/hosts", Needs(P::HostsWrite), "group.add_host", groups::add_host)
        .page(
            POST,
            "/groups/{id}/hosts/{host_id}/remove",
            Needs(P::HostsWrite),
            "group.remove_host",
            groups::remove_host,
        )
        .page(GET, "/hosts/{id}", Needs(P::HostsRead), "web.host", hosts::detail)
        .page(POST, "/hosts/{id}/scan", Needs(P::HostsScan), "scan.queue", hosts::scan_now)
        .page(POST, "/hosts/{id}/test", Needs(P::HostsWrite), "host.test_connection", hosts::test)
        .page(
            POST,
            "/hosts/{id}/keys/{key_id}/approve",
            Needs(P::HostKeysApprove),
            "host.key_approve",
            hosts::approve_key,
        )
        .page(GET, "/scans", Needs(P::ScansRead), "web.scans", scans::list)
        .page(GET, "/scans/{id}", Needs(P::ScansRead), "web.scan", scans::detail)
        .page(GET, "/scans/{id}/results.csv", Needs(P::ScansRead), "scan.export", scans::export_csv)
        .page(GET, "/scans/{id}/results.json", Needs(P::ScansRead), "scan.export", scans::export_json)
        .page(GET, "/scans/{id}/results.xml", Needs(P::ScansRead), "scan.export", scans::export_xccdf)
        .page(GET, "/scans/{id}/results.sarif", Needs(P::ScansRead), "scan.export", scans::export_sarif)
        .page(GET, "/scans/{id}/report.pdf", Needs(P::ScansRead), "scan.export", scans::export_pdf)
        .page(GET, "/scans/{id}/report.html", Needs(P::ScansRead), "scan.export", scans::export_html)
        .page(
            GET,
            "/scans/{id}/assessment-results.json",
            Needs(P::ScansRead),
            "scan.export",
            scans::export_oscal,
        )
        .page(GET, "/schedules", Needs(P::SchedulesRead), "web.schedules", schedules::list)
        .page(POST, "/schedules", Needs(P::SchedulesWrite), "schedule.create", schedules::create)
        .page(POST, "/schedules/{id}/delete", Needs(P::SchedulesWrite), "schedule.delete", schedules::delete)
        .page(GET, "/remediations", Needs(P::RemediationsRead), "web.remediations", remediations::list)
        .page(
            POST,
            "/remediations",
            Needs(P::RemediationsRequest),
            "remediation.request",
            remediations::create,
        )
        .page(GET, "/remediations/{id}", Needs(P::RemediationsRead), "web.remediation", remediations::detail)
        .page(
            POST,
            "/remediations/{id}/approve",
            Needs(P::RemediationsApprove),
            "remediation.approve",
            remediations::approve,
        )
        .page(
            POST,
            "/remediations/{id}/reject",
            Needs(P::RemediationsApprove),
            "remediation.reject",
            remediations::reject,
        )
        .page(
            POST,
            "/transactions/{id}/rollback",
            Needs(P::RemediationsRequest),
            "remediation.rollback",
            remediations::rollback,
        )
        .page(GET, "/changes", Needs(P::HostsRead), "web.changes", changes::list)
        .page(GET, "/alerts", Needs(P::AlertsRead), "web.alerts", alerts::list)
        .page(
            POST,
            "/alerts/{id}/acknowledge",
            Needs(P::AlertsManage),
            "alert.acknowledge",
            alerts::acknowledge,
        )
        .page(POST, "/alerts/{id}/resolve", Needs(P::AlertsManage), "alert.resolve", alerts::resolve)
        .page(POST, "/alerts/rules", Needs(P::AlertsManage), "alert_rule.create", alerts::create_rule)
        .page(
            POST,
            "/alerts/rules/{id}/delete",
            Needs(P::AlertsManage),
            "alert_rule.delete",
            alerts::delete_rule,
        )
        .page(GET, "/imports", Needs(P::HostsRead), "web.imports", imports::list)
        .page(
            POST,
            "/imports",
            Needs(P::HostsWrite),
            "import.create",
            imports::upload.layer(axum::extract::DefaultBodyLimit::max(crate::service::foreign::MAX_BYTES)),
        )
        .page(GET, "/reports", Needs(P::ScansRead), "web.reports", reports::list)
        .page(POST, "/reports", Needs(P::ScansRead), "report.request", reports::create)
        .page(GET, "/reports/{id}/file", Needs(P::ScansRead), "report.download", reports::file)
        .page(GET, "/exceptions", Needs(P::ExceptionsRead), "web.exceptions", exceptions::list)
        .page(POST, "/exceptions", Needs(P::ExceptionsRequest), "exception.request", exceptions::create)
        .page(
            POST,
            "/exceptions/{id}/approve",
            Needs(P::ExceptionsApprove),
            "exception.approve",
            exceptions::approve,
        )
        .page(
            POST,
            "/exceptions/{id}/reject",
            Needs(P::ExceptionsApprove),
            "exception.reject",
            exceptions::reject,
        )
        .page(
            POST,
            "/exceptions/{id}/revoke",
            Needs(P::ExceptionsApprove),
            "exception.revoke",
            exceptions::revoke,
        )
        .page(GET, "/rules", Needs(P::RulesRead), "web.rules", rules::list)
        .page(GET, "/rules/{id}", Needs(P::RulesRead), "web.rule", rules::rule)
        .page(GET, "/groups/{id}/tailoring", Needs(P::HostsRead), "web.tailoring", tailoring::group_form)
        .page(POST, "/groups/{id}/tailoring", Needs(P::HostsWrite), "tailoring.put", tailoring::save_group)
        .page(GET, "/hosts/{id}/tailoring", Needs(P::HostsRead), "web.tailoring", tailoring::host_form)
        .page(POST, "/hosts/{id}/tailoring", Needs(P::HostsWrite), "tailoring.put", tailoring::save_host)
        .page(GET, "/frameworks", Needs(P::RulesRead), "web.frameworks", frameworks::list)
        .page(GET, "/frameworks/{id}", Needs(P::RulesRead), "web.framework", frameworks::framework)
        .page(
            GET,
            "/frameworks/{id}/controls/{control}",
            Needs(P::RulesRead),
            "web.control",
            frameworks::control,
        )
        .page(GET, "/compliance.csv", Needs(P::HostsRead), "compliance.export", verdicts::export_csv)
        .page(GET, "/compliance.json", Needs(P::HostsRead), "compliance.export", verdicts::export_json)
        .page(GET, "/admin", SignedIn, "web.admin", admin::page)
        .page(
            POST,
            "/admin/credentials",
            Needs(P::CredentialsWrite),
            "credential.create",
            admin::create_credential,
        )
        .page(
            GET,
            "/admin/credentials/{id}/delete",
            Needs(P::CredentialsWrite),
            "web.credential_delete",
            admin::confirm_delete_credential,
        )
        .page(
            POST,
            "/admin/credentials/{id}/delete",
            Needs(P::CredentialsWrite),
            "credential.delete",
            admin::delete_credential,
        )
        .page(GET, "/admin/channels", Needs(P::ChannelsManage), "web.channels", channels::list)
        .page(POST, "/admin/channels", Needs(P::ChannelsManage), "channel.create", channels::create)
        .page(POST, "/admin/channels/{id}/test", Needs(P::ChannelsManage), "channel.test", channels::test)
        .page(
            POST,
            "/admin/channels/{id}/delete",
            Needs(P::ChannelsManage),
            "channel.delete",
            channels::delete,
        )
        .page(POST, "/admin/users", Needs(P::UsersWrite), "user.create", admin::create_user)
        .page(
            POST,
            "/admin/users/{id}/password",
            Needs(P::UsersWrite),
            "user.reset_password",
            admin::reset_password,
        )
        .page(POST, "/admin/users/{id}", Needs(P::UsersWrite), "user.update", admin::update_user)
        .page(
            POST,
            "/admin/users/{id}/factors/reset",
            Needs(P::UsersWrite),
            "user.factors_reset",
            admin::reset_factors,
        )
        .page(POST, "/admin/tokens", Needs(P::TokensWrite), "token.create", admin::create_token)
        .page(POST, "/admin/roles", Needs(P::UsersWrite), "role.put", admin::put_role)
        .page(POST, "/admin/tokens/{id}/revoke", Needs(P::TokensWrite), "token.revoke", admin::revoke_token)
}
