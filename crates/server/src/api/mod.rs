//! The REST API, one module per feature. [`build`] registers every route, API and page,
//! with its access rule in one table; nothing is reachable that is not in it.

mod alerts;
mod audit;
mod auth_routes;
mod channels;
pub(crate) mod credentials;
pub(crate) mod events;
mod exceptions;
mod factors;
mod fleet;
mod groups;
pub(crate) mod hosts;
mod imports;
mod library;
mod ops;
mod remediations;
mod reports;
pub(crate) mod scans;
mod schedules;
mod security_keys;
mod tailoring;
mod users;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler as _;
use axum::http::Method;

use crate::app::AppState;
use crate::auth::rbac::Permission as P;
use crate::http::router::{Access, RouteSpec, Routes};

const GET: Method = Method::GET;
const POST: Method = Method::POST;
const PUT: Method = Method::PUT;
const DELETE: Method = Method::DELETE;

/// Every route of the server, API and pages (and the table they were built from).
pub fn build(state: AppState) -> (Router<AppState>, Vec<RouteSpec>) {
    use Access::{Needs, Public, SignedIn};
    let api = Routes::new(state)
        .route(
            POST,
            "/api/v1/auth/login",
            Public,
            "auth.login",
            "auth",
            "Sign in; sets the session cookie",
            auth_routes::login,
        )
        .route(POST, "/api/v1/auth/logout", SignedIn, "auth.logout", "auth", "Sign out", auth_routes::logout)
        .route(
            GET,
            "/api/v1/auth/me",
            SignedIn,
            "auth.me",
            "auth",
            "The signed-in caller and its permissions",
            auth_routes::me,
        )
        .route(
            GET,
            "/api/v1/auth/providers",
            Public,
            "auth.providers",
            "auth",
            "The identity providers to sign in with, and whether passwords are accepted",
            auth_routes::providers,
        )
        .route(
            POST,
            "/api/v1/auth/second-factor",
            Public,
            "auth.second_factor",
            "auth",
            "Finish a waiting sign-in with an authenticator or recovery code",
            auth_routes::second_factor,
        )
        .route(
            POST,
            "/api/v1/auth/second-factor/enrol",
            Public,
            "auth.second_factor_enrol",
            "auth",
            "In a sign-in waiting for enrolment: the authenticator app secret to enrol",
            auth_routes::second_factor_enrol,
        )
        .route(
            POST,
            "/api/v1/auth/security-key/begin",
            Public,
            "auth.security_key_begin",
            "auth",
            "Start signing in with a security key (the waiting sign-in's, or by user name)",
            security_keys::begin_sign_in,
        )
        .route(
            POST,
            "/api/v1/auth/security-key",
            Public,
            "auth.security_key",
            "auth",
            "Finish signing in with a security key",
            security_keys::finish_sign_in,
        )
        .route(
            POST,
            "/api/v1/me/security-keys/begin",
            SignedIn,
            "factor.security_key_begin",
            "auth",
            "Start registering a security key or passkey",
            security_keys::begin_registration,
        )
        .route(
            POST,
            "/api/v1/me/security-keys",
            SignedIn,
            "factor.enrol",
            "auth",
            "Finish registering a security key or passkey",
            security_keys::finish_registration,
        )
        .route(
            DELETE,
            "/api/v1/me/security-keys/{id}",
            SignedIn,
            "factor.remove",
            "auth",
            "Remove a security key",
            security_keys::remove,
        )
        .route(
            POST,
            "/api/v1/auth/verify",
            SignedIn,
            "auth.verify",
            "auth",
            "Check a second factor now, for sensitive changes in the next minutes",
            factors::verify,
        )
        .route(
            GET,
            "/api/v1/me/factors",
            SignedIn,
            "factor.list",
            "auth",
            "Your second factors and sessions",
            factors::overview,
        )
        .route(
            POST,
            "/api/v1/me/totp",
            SignedIn,
            "factor.totp_begin",
            "auth",
            "Start enrolling an authenticator app",
            factors::begin_totp,
        )
        .route(
            POST,
            "/api/v1/me/totp/confirm",
            SignedIn,
            "factor.enrol",
            "auth",
            "Finish enrolling an authenticator app; returns recovery codes once",
            factors::confirm_totp,
        )
        .route(
            DELETE,
            "/api/v1/me/totp",
            SignedIn,
            "factor.remove",
            "auth",
            "Remove your authenticator app",
            factors::remove_totp,
        )
        .route(
            POST,
            "/api/v1/me/recovery-codes",
            SignedIn,
            "factor.recovery_codes",
            "auth",
            "New recovery codes (the old ones stop working)",
            factors::recovery_codes,
        )
        .route(
            DELETE,
            "/api/v1/me/sessions/{id}",
            SignedIn,
            "session.end",
            "auth",
            "End one of your sessions",
            factors::end_session,
        )
        .route(
            POST,
            "/api/v1/users/{id}/factors/reset",
            Needs(P::UsersWrite),
            "user.factors_reset",
            "users",
            "Remove a user's second factors (they enrol again if their role requires one)",
            factors::reset,
        )
        .route(GET, "/api/v1/users", Needs(P::UsersRead), "user.list", "users", "List users", users::list)
        .route(
            POST,
            "/api/v1/users",
            Needs(P::UsersWrite),
            "user.create",
            "users",
            "Create a user",
            users::create,
        )
        .route(
            PUT,
            "/api/v1/users/{id}",
            Needs(P::UsersWrite),
            "user.update",
            "users",
            "Change a user's role or disable it",
            users::update,
        )
        .route(
            POST,
            "/api/v1/users/{id}/password",
            Needs(P::UsersWrite),
            "user.reset_password",
            "users",
            "Set a user's password",
            users::reset_password,
        )
        .route(
            DELETE,
            "/api/v1/users/{id}",
            Needs(P::UsersWrite),
            "user.delete",
            "users",
            "Delete a user",
            users::delete,
        )
        .route(
            GET,
            "/api/v1/roles",
            Needs(P::UsersRead),
            "role.list",
            "users",
            "List roles and their permissions",
            users::roles,
        )
        .route(
            POST,
            "/api/v1/roles",
            Needs(P::UsersWrite),
            "role.put",
            "users",
            "Create or replace a custom role",
            users::put_role,
        )
        .route(
            DELETE,
            "/api/v1/roles/{name}",
            Needs(P::UsersWrite),
            "role.delete",
            "users",
            "Delete a custom role",
            users::delete_role,
        )
        .route(
            GET,
            "/api/v1/tokens",
            Needs(P::TokensWrite),
            "token.list",
            "tokens",
            "List API tokens (yours; all for user admins)",
            users::list_tokens,
        )
        .route(
            POST,
            "/api/v1/tokens",
            Needs(P::TokensWrite),
            "token.create",
            "tokens",
            "Create an API token (shown once)",
            users::create_token,
        )
        .route(
            DELETE,
            "/api/v1/tokens/{id}",
            Needs(P::TokensWrite),
            "token.revoke",
            "tokens",
            "Revoke an API token",
            users::revoke_token,
        )
        .route(
            GET,
            "/api/v1/credentials",
            Needs(P::CredentialsRead),
            "credential.list",
            "credentials",
            "List credentials (never their secrets)",
            credentials::list,
        )
        .route(
            POST,
            "/api/v1/credentials",
            Needs(P::CredentialsWrite),
            "credential.create",
            "credentials",
            "Store a credential (encrypted)",
            credentials::create,
        )
        .route(
            DELETE,
            "/api/v1/credentials/{id}",
            Needs(P::CredentialsWrite),
            "credential.delete",
            "credentials",
            "Delete an unused credential",
            credentials::delete,
        )
        .route(
            GET,
            "/api/v1/hosts",
            Needs(P::HostsRead),
            "host.list",
            "hosts",
            "List hosts (search, filters, sorting, pages)",
            hosts::list,
        )
        .route(
            POST,
            "/api/v1/hosts",
            Needs(P::HostsWrite),
            "host.create",
            "hosts",
            "Add a host",
            hosts::create,
        )
        .route(
            POST,
            "/api/v1/hosts/import",
            Needs(P::HostsWrite),
            "host.import",
            "hosts",
            "Import hosts from CSV (dry_run=true previews)",
            hosts::import,
        )
        .route(GET, "/api/v1/hosts/{id}", Needs(P::HostsRead), "host.get", "hosts", "One host", hosts::get)
        .route(
            PUT,
            "/api/v1/hosts/{id}",
            Needs(P::HostsWrite),
            "host.update",
            "hosts",
            "Change a host",
            hosts::update,
        )
        .route(
            DELETE,
            "/api/v1/hosts/{id}",
            Needs(P::HostsWrite),
            "host.delete",
            "hosts",
            "Delete a host (history is kept)",
            hosts::delete,
        )
        .route(
            POST,
            "/api/v1/hosts/{id}/test",
            Needs(P::HostsWrite),
            "host.test_connection",
            "hosts",
            "Try to connect and log in",
            hosts::test_connection,
        )
        .route(
            GET,
            "/api/v1/hosts/{id}/keys",
            Needs(P::HostsRead),
            "host.keys",
            "hosts",
            "The host's SSH keys and their approval state",
            hosts::keys,
        )
        .route(
            POST,
            "/api/v1/hosts/{id}/keys/{key_id}/approve",
            Needs(P::HostKeysApprove),
            "host.key_approve",
            "hosts",
            "Trust a host key and queue the host's scan",
            hosts::approve_key,
        )
        .route(
            GET,
            "/api/v1/host-keys/pending",
            Needs(P::HostsRead),
            "host.keys_pending",
            "hosts",
            "Host keys waiting for approval, across hosts",
            hosts::pending_keys,
        )
        .route(
            POST,
            "/api/v1/host-keys/approve",
            Needs(P::HostKeysApprove),
            "host.key_approve_many",
            "hosts",
            "Trust several pending host keys ({\"key_ids\": [...]}, at most one per host) and queue their hosts' scans",
            hosts::approve_keys,
        )
        .route(
            POST,
            "/api/v1/hosts/{id}/scans",
            Needs(P::HostsScan),
            "scan.queue",
            "scans",
            "Queue a scan of a host",
            scans::queue_host,
        )
        .route(
            GET,
            "/api/v1/hosts/{id}/compliance",
            Needs(P::HostsRead),
            "host.compliance",
            "compliance",
            "Current state per rule and per framework",
            fleet::host_compliance,
        )
        .route(
            GET,
            "/api/v1/hosts/{id}/export",
            Needs(P::HostsRead),
            "host.export",
            "compliance",
            "Current compliance as a download (format=csv or json)",
            fleet::host_export,
        )
        .route(
            GET,
            "/api/v1/hosts/{id}/changes",
            Needs(P::HostsRead),
            "host.changes",
            "compliance",
            "The host's change log, with values before and after (filter by framework, severity, since, until)",
            fleet::host_changes,
        )
        .route(
            GET,
            "/api/v1/hosts/{id}/posture",
            Needs(P::HostsRead),
            "host.posture",
            "compliance",
            "Per-framework posture over time",
            fleet::host_posture,
        )
        .route(GET, "/api/v1/groups", Needs(P::HostsRead), "group.list", "groups", "List groups", groups::list)
        .route(
            POST,
            "/api/v1/groups",
            Needs(P::HostsWrite),
            "group.create",
            "groups",
            "Create a group",
            groups::create,
        )
        .route(
            PUT,
            "/api/v1/groups/{id}",
            Needs(P::HostsWrite),
            "group.update",
            "groups",
            "Rename a group or change its description",
            groups::update,
        )
        .route(
            DELETE,
            "/api/v1/groups/{id}",
            Needs(P::HostsWrite),
            "group.delete",
            "groups",
            "Delete a group (its hosts stay; its schedules go)",
            groups::delete,
        )
        .route(
            GET,
            "/api/v1/groups/{id}/tailoring",
            Needs(P::HostsRead),
            "tailoring.get",
            "tailoring",
            "A group's tailoring: frameworks, left-out rules, variable values",
            tailoring::get_group,
        )
        .route(
            PUT,
            "/api/v1/groups/{id}/tailoring",
            Needs(P::HostsWrite),
            "tailoring.put",
            "tailoring",
            "Replace a group's tailoring (an empty one removes it)",
            tailoring::put_group,
        )
        .route(
            GET,
            "/api/v1/hosts/{id}/tailoring",
            Needs(P::HostsRead),
            "tailoring.get",
            "tailoring",
            "A host's own tailoring",
            tailoring::get_host,
        )
        .route(
            PUT,
            "/api/v1/hosts/{id}/tailoring",
            Needs(P::HostsWrite),
            "tailoring.put",
            "tailoring",
            "Replace a host's own tailoring (an empty one removes it)",
            tailoring::put_host,
        )
        .route(
            GET,
            "/api/v1/hosts/{id}/tailoring/effective",
            Needs(P::HostsRead),
            "tailoring.effective",
            "tailoring",
            "What a host is scanned with: its groups' tailorings by name, then its own",
            tailoring::effective,
        )
        .route(
            POST,
            "/api/v1/remediations",
            Needs(P::RemediationsRequest),
            "remediation.request",
            "remediations",
            "Request fixes (hosts x rules); each host previews them at once",
            remediations::create,
        )
        .route(
            GET,
            "/api/v1/remediations",
            Needs(P::RemediationsRead),
            "remediation.list",
            "remediations",
            "List remediation requests (filter by status, host)",
            remediations::list,
        )
        .route(
            GET,
            "/api/v1/remediations/{id}",
            Needs(P::RemediationsRead),
            "remediation.get",
            "remediations",
            "A remediation request: hosts with their previews (diffs) and runs, transactions",
            remediations::get,
        )
        .route(
            POST,
            "/api/v1/remediations/{id}/approve",
            Needs(P::RemediationsApprove),
            "remediation.approve",
            "remediations",
            "Approve someone else's request; its hosts' runs are queued",
            remediations::approve,
        )
        .route(
            POST,
            "/api/v1/remediations/{id}/reject",
            Needs(P::RemediationsApprove),
            "remediation.reject",
            "remediations",
            "Reject someone else's request, saying why",
            remediations::reject,
        )
        .route(
            GET,
            "/api/v1/alerts",
            Needs(P::AlertsRead),
            "alert.list",
            "alerts",
            "List alerts (filter by status, kind, host_id), newest first",
            alerts::list,
        )
        .route(
            GET,
            "/api/v1/alerts/{id}",
            Needs(P::AlertsRead),
            "alert.get",
            "alerts",
            "One alert",
            alerts::get,
        )
        .route(
            POST,
            "/api/v1/alerts/{id}/acknowledge",
            Needs(P::AlertsManage),
            "alert.acknowledge",
            "alerts",
            "Acknowledge an open alert (someone is on it)",
            alerts::acknowledge,
        )
        .route(
            POST,
            "/api/v1/alerts/{id}/resolve",
            Needs(P::AlertsManage),
            "alert.resolve",
            "alerts",
            "Resolve an alert",
            alerts::resolve,
        )
        .route(
            GET,
            "/api/v1/alert-rules",
            Needs(P::AlertsRead),
            "alert_rule.list",
            "alerts",
            "The alert rules",
            alerts::rules,
        )
        .route(
            POST,
            "/api/v1/alert-rules",
            Needs(P::AlertsManage),
            "alert_rule.create",
            "alerts",
            "Create an alert rule (kind, params, quiet_secs)",
            alerts::create_rule,
        )
        .route(
            PUT,
            "/api/v1/alert-rules/{id}",
            Needs(P::AlertsManage),
            "alert_rule.update",
            "alerts",
            "Change an alert rule",
            alerts::update_rule,
        )
        .route(
            DELETE,
            "/api/v1/alert-rules/{id}",
            Needs(P::AlertsManage),
            "alert_rule.delete",
            "alerts",
            "Delete an alert rule",
            alerts::delete_rule,
        )
        .route(
            POST,
            "/api/v1/imports",
            Needs(P::HostsWrite),
            "import.create",
            "imports",
            "Keep another scanner's results (the file as the body; XCCDF/ARF, InSpec JSON, Nessus, Wazuh SCA)",
            imports::create.layer(DefaultBodyLimit::max(crate::service::foreign::MAX_BYTES)),
        )
        .route(GET, "/api/v1/imports", Needs(P::HostsRead), "import.list", "imports", "List imports, newest first", imports::list)
        .route(
            GET,
            "/api/v1/hosts/{id}/foreign-results",
            Needs(P::HostsRead),
            "import.host_results",
            "imports",
            "A host's results from the newest import of each other scanner",
            imports::host,
        )
        .route(
            POST,
            "/api/v1/reports",
            Needs(P::ScansRead),
            "report.request",
            "reports",
            "Ask for a report of the fleet, a group or a host (pdf, html, oscal-ar, oscal-poam, xccdf, sarif); a worker draws it",
            reports::create,
        )
        .route(GET, "/api/v1/reports", Needs(P::ScansRead), "report.list", "reports", "List reports, newest first, with their progress", reports::list)
        .route(GET, "/api/v1/reports/{id}", Needs(P::ScansRead), "report.get", "reports", "A report and its progress", reports::get)
        .route(
            GET,
            "/api/v1/reports/{id}/file",
            Needs(P::ScansRead),
            "report.download",
            "reports",
            "A drawn report's file",
            reports::file,
        )
        .route(
            POST,
            "/api/v1/exceptions",
            Needs(P::ExceptionsRequest),
            "exception.request",
            "exceptions",
            "Ask that a rule's failure be accepted on a host, a group or every host until a day",
            exceptions::create,
        )
        .route(
            GET,
            "/api/v1/exceptions",
            Needs(P::ExceptionsRead),
            "exception.list",
            "exceptions",
            "List exceptions (filter by status, rule, host: those that apply to it)",
            exceptions::list,
        )
        .route(
            GET,
            "/api/v1/exceptions/{id}",
            Needs(P::ExceptionsRead),
            "exception.get",
            "exceptions",
            "An exception, with whether it is in force today",
            exceptions::get,
        )
        .route(
            POST,
            "/api/v1/exceptions/{id}/approve",
            Needs(P::ExceptionsApprove),
            "exception.approve",
            "exceptions",
            "Approve someone else's exception; the hosts it changes are scanned again",
            exceptions::approve,
        )
        .route(
            POST,
            "/api/v1/exceptions/{id}/reject",
            Needs(P::ExceptionsApprove),
            "exception.reject",
            "exceptions",
            "Reject someone else's exception, saying why",
            exceptions::reject,
        )
        .route(
            POST,
            "/api/v1/exceptions/{id}/revoke",
            Needs(P::ExceptionsApprove),
            "exception.revoke",
            "exceptions",
            "Revoke an approved exception; its failures come back with the scans queued",
            exceptions::revoke,
        )
        .route(
            GET,
            "/api/v1/hosts/{id}/transactions",
            Needs(P::RemediationsRead),
            "remediation.host_transactions",
            "remediations",
            "A host's fix transactions, newest first",
            remediations::host_transactions,
        )
        .route(
            POST,
            "/api/v1/transactions/{id}/rollback",
            Needs(P::RemediationsRequest),
            "remediation.rollback",
            "remediations",
            "Roll back a kept fix (restores the host's pre-state from its journal)",
            remediations::rollback,
        )
        .route(
            PUT,
            "/api/v1/groups/{id}/hosts/{host_id}",
            Needs(P::HostsWrite),
            "group.add_host",
            "groups",
            "Put a host in a group",
            groups::add_host,
        )
        .route(
            DELETE,
            "/api/v1/groups/{id}/hosts/{host_id}",
            Needs(P::HostsWrite),
            "group.remove_host",
            "groups",
            "Take a host out of a group",
            groups::remove_host,
        )
        .route(
            POST,
            "/api/v1/groups/{id}/scans",
            Needs(P::HostsScan),
            "scan.queue_group",
            "scans",
            "Queue a scan of every host in a group",
            scans::queue_group,
        )
        .route(
            POST,
            "/api/v1/scans",
            Needs(P::HostsScan),
            "scan.queue_hosts",
            "scans",
            "Queue scans of several hosts ({\"host_ids\": [...]}; maintenance hosts are skipped)",
            scans::queue_hosts,
        )
        .route(GET, "/api/v1/scans", Needs(P::ScansRead), "scan.list", "scans", "List scans", scans::list)
        .route(GET, "/api/v1/scans/{id}", Needs(P::ScansRead), "scan.get", "scans", "One scan", scans::get)
        .route(
            GET,
            "/api/v1/scans/{id}/results",
            Needs(P::ScansRead),
            "scan.results",
            "scans",
            "A scan's results (filters: verdict, severity, framework, control)",
            scans::results,
        )
        .route(
            GET,
            "/api/v1/scans/{id}/results/{rule_id}",
            Needs(P::ScansRead),
            "scan.result",
            "scans",
            "One result with its evidence and rule text",
            scans::result,
        )
        .route(
            GET,
            "/api/v1/scans/{id}/export",
            Needs(P::ScansRead),
            "scan.export",
            "scans",
            "A scan's results as a download (format=csv, json, xccdf (XCCDF 1.2 results), sarif (SARIF 2.1.0) or oscal-ar (OSCAL Assessment Results))",
            scans::export,
        )
        .route(
            GET,
            "/api/v1/changes",
            Needs(P::HostsRead),
            "change.list",
            "compliance",
            "What changed across the fleet, with values before and after (filter by host_id, group, framework, severity, since, until)",
            fleet::changes,
        )
        .route(
            GET,
            "/api/v1/compliance",
            Needs(P::HostsRead),
            "compliance.list",
            "compliance",
            "Current verdicts across hosts, filtered (rule, framework, control, verdict, severity, group, host)",
            fleet::compliance,
        )
        .route(
            GET,
            "/api/v1/compliance/export",
            Needs(P::HostsRead),
            "compliance.export",
            "compliance",
            "The fleet's current compliance as a download (format=csv or json), with the same filters",
            fleet::fleet_export,
        )
        .route(
            GET,
            "/api/v1/fleet/summary",
            Needs(P::FleetRead),
            "fleet.summary",
            "compliance",
            "Fleet compliance per framework, failures, trend",
            fleet::summary,
        )
        .route(GET, "/api/v1/rules", Needs(P::RulesRead), "rule.list", "rules", "List rules", library::rules)
        .route(GET, "/api/v1/rules/{id}", Needs(P::RulesRead), "rule.get", "rules", "One rule", library::rule)
        .route(
            GET,
            "/api/v1/frameworks",
            Needs(P::RulesRead),
            "framework.list",
            "rules",
            "Frameworks with coverage figures",
            library::frameworks,
        )
        .route(
            GET,
            "/api/v1/frameworks/{id}",
            Needs(P::RulesRead),
            "framework.get",
            "rules",
            "A framework's controls and the rules covering them",
            library::framework,
        )
        .route(
            GET,
            "/api/v1/schedules",
            Needs(P::SchedulesRead),
            "schedule.list",
            "schedules",
            "List scan schedules",
            schedules::list,
        )
        .route(
            POST,
            "/api/v1/schedules",
            Needs(P::SchedulesWrite),
            "schedule.create",
            "schedules",
            "Schedule scans of a host or group (interval or cron)",
            schedules::create,
        )
        .route(
            DELETE,
            "/api/v1/schedules/{id}",
            Needs(P::SchedulesWrite),
            "schedule.delete",
            "schedules",
            "Delete a schedule",
            schedules::delete,
        )
        .route(
            GET,
            "/api/v1/audit/events",
            Needs(P::AuditRead),
            "audit.list",
            "audit",
            "Audit events (filters: actor, action, since, until)",
            audit::list,
        )
        .route(
            GET,
            "/api/v1/audit/export",
            Needs(P::AuditRead),
            "audit.export",
            "audit",
            "All audit events as JSON lines",
            audit::export,
        )
        .route(
            GET,
            "/api/v1/audit/verify",
            Needs(P::AuditRead),
            "audit.verify",
            "audit",
            "Verify the audit hash chain",
            audit::verify,
        )
        .route(
            GET,
            "/api/v1/events",
            Needs(P::EventsRead),
            "events.stream",
            "events",
            "Server-sent events; resume with Last-Event-ID",
            events::stream,
        )
        .route(
            GET,
            "/api/v1/channels",
            Needs(P::ChannelsManage),
            "channel.list",
            "channels",
            "List notification channels (never their secrets)",
            channels::list,
        )
        .route(
            POST,
            "/api/v1/channels",
            Needs(P::ChannelsManage),
            "channel.create",
            "channels",
            "Create a notification channel (webhook, slack or email; the secret is stored encrypted)",
            channels::create,
        )
        .route(
            GET,
            "/api/v1/channels/{id}",
            Needs(P::ChannelsManage),
            "channel.get",
            "channels",
            "One notification channel",
            channels::get,
        )
        .route(
            PUT,
            "/api/v1/channels/{id}",
            Needs(P::ChannelsManage),
            "channel.update",
            "channels",
            "Change a channel (an absent secret keeps the stored one)",
            channels::update,
        )
        .route(
            DELETE,
            "/api/v1/channels/{id}",
            Needs(P::ChannelsManage),
            "channel.delete",
            "channels",
            "Delete a channel and its deliveries",
            channels::delete,
        )
        .route(
            POST,
            "/api/v1/channels/{id}/test",
            Needs(P::ChannelsManage),
            "channel.test",
            "channels",
            "Queue a test message to one channel",
            channels::test,
        )
        .route(
            GET,
            "/api/v1/deliveries",
            Needs(P::ChannelsManage),
            "delivery.list",
            "channels",
            "Deliveries with their attempts, newest first (filters: channel_id, status)",
            channels::deliveries,
        )
        .route(GET, "/healthz", Public, "ops.healthz", "ops", "Liveness", ops::healthz)
        .route(GET, "/readyz", Public, "ops.readyz", "ops", "Readiness (database reachable)", ops::readyz)
        .route(GET, "/metrics", Public, "ops.metrics", "ops", "Prometheus metrics", ops::metrics);
    crate::web::pages(api).into_parts()
}

/// The whole HTTP application: API routes, OpenAPI, docs page and an enveloped 404.
pub fn app(state: AppState) -> Router {
    let (router, specs) = build(state.clone());
    let doc = std::sync::Arc::new(crate::http::openapi::document(&specs));
    router
        .merge(ops::docs_routes(doc))
        .fallback(ops::not_found)
        .layer(axum::middleware::from_fn(ops::security_headers))
        .with_state(state)
}
