//! Roles and permissions. Every route names the one permission it needs; a role is an
//! explicit list of permissions. Built-in roles are fixed here; custom roles live in the
//! database and may only use the permissions listed in [`Permission::ALL`].

use std::collections::BTreeSet;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(into = "&'static str")]
pub enum Permission {
    HostsRead,
    HostsWrite,
    HostsScan,
    HostKeysApprove,
    CredentialsRead,
    CredentialsWrite,
    /// Attach a stored credential to a host, or point a host holding one somewhere else:
    /// whoever chooses where a credential is sent can receive its secret.
    CredentialsUse,
    ScansRead,
    RulesRead,
    FleetRead,
    SchedulesRead,
    SchedulesWrite,
    UsersRead,
    UsersWrite,
    TokensWrite,
    AuditRead,
    EventsRead,
    /// See remediation requests, their previews (diffs) and transactions.
    RemediationsRead,
    /// Ask for fixes (a preview runs at once) and roll back applied ones.
    RemediationsRequest,
    /// Approve or reject someone else's remediation request.
    RemediationsApprove,
    /// Manage notification channels (their secrets are write-only), send test messages and
    /// read deliveries.
    ChannelsManage,
    /// See exceptions (accepted risks).
    ExceptionsRead,
    /// Ask for an exception.
    ExceptionsRequest,
    /// Approve, reject or revoke someone else's exception.
    ExceptionsApprove,
    /// See alerts and alert rules.
    AlertsRead,
    /// Acknowledge and resolve alerts; create, change and delete alert rules.
    AlertsManage,
}

impl From<Permission> for &'static str {
    fn from(p: Permission) -> &'static str {
        p.as_str()
    }
}

impl Permission {
    pub const ALL: &'static [Permission] = &[
        Permission::HostsRead,
        Permission::HostsWrite,
        Permission::HostsScan,
        Permission::HostKeysApprove,
        Permission::CredentialsRead,
        Permission::CredentialsWrite,
        Permission::CredentialsUse,
        Permission::ScansRead,
        Permission::RulesRead,
        Permission::FleetRead,
        Permission::SchedulesRead,
        Permission::SchedulesWrite,
        Permission::UsersRead,
        Permission::UsersWrite,
        Permission::TokensWrite,
        Permission::AuditRead,
        Permission::EventsRead,
        Permission::RemediationsRead,
        Permission::RemediationsRequest,
        Permission::RemediationsApprove,
        Permission::ChannelsManage,
        Permission::ExceptionsRead,
        Permission::ExceptionsRequest,
        Permission::ExceptionsApprove,
        Permission::AlertsRead,
        Permission::AlertsManage,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::HostsRead => "hosts:read",
            Permission::HostsWrite => "hosts:write",
            Permission::HostsScan => "hosts:scan",
            Permission::HostKeysApprove => "host_keys:approve",
            Permission::CredentialsRead => "credentials:read",
            Permission::CredentialsWrite => "credentials:write",
            Permission::CredentialsUse => "credentials:use",
            Permission::ScansRead => "scans:read",
            Permission::RulesRead => "rules:read",
            Permission::FleetRead => "fleet:read",
            Permission::SchedulesRead => "schedules:read",
            Permission::SchedulesWrite => "schedules:write",
            Permission::UsersRead => "users:read",
            Permission::UsersWrite => "users:write",
            Permission::TokensWrite => "tokens:write",
            Permission::AuditRead => "audit:read",
            Permission::EventsRead => "events:read",
            Permission::RemediationsRead => "remediations:read",
            Permission::RemediationsRequest => "remediations:request",
            Permission::RemediationsApprove => "remediations:approve",
            Permission::ChannelsManage => "channels:manage",
            Permission::ExceptionsRead => "exceptions:read",
            Permission::ExceptionsRequest => "exceptions:request",
            Permission::ExceptionsApprove => "exceptions:approve",
            Permission::AlertsRead => "alerts:read",
            Permission::AlertsManage => "alerts:manage",
        }
    }

    pub fn parse(s: &str) -> Option<Permission> {
        Permission::ALL.iter().copied().find(|p| p.as_str() == s)
    }
}

/// The built-in roles, least privileged last.
pub const BUILTIN_ROLES: &[&str] = &["admin", "security_admin", "operator", "auditor", "viewer"];

/// A built-in role's permissions; `None` for a name that is not built in.
pub fn builtin_permissions(role: &str) -> Option<BTreeSet<Permission>> {
    use Permission::*;
    let read = [HostsRead, ScansRead, RulesRead, FleetRead, EventsRead];
    let list: Vec<Permission> = match role {
        "admin" => Permission::ALL.to_vec(),
        "security_admin" => [
            &read[..],
            &[
                HostsWrite,
                HostsScan,
                HostKeysApprove,
                CredentialsRead,
                CredentialsWrite,
                CredentialsUse,
                SchedulesRead,
                SchedulesWrite,
                AuditRead,
                TokensWrite,
                UsersRead,
                RemediationsRead,
                RemediationsRequest,
                RemediationsApprove,
                ChannelsManage,
                ExceptionsRead,
                ExceptionsRequest,
                ExceptionsApprove,
                AlertsRead,
                AlertsManage,
            ],
        ]
        .concat(),
        "operator" => [
            &read[..],
            &[
                HostsWrite,
                HostsScan,
                CredentialsRead,
                SchedulesRead,
                TokensWrite,
                RemediationsRead,
                RemediationsRequest,
                ExceptionsRead,
                ExceptionsRequest,
                AlertsRead,
                AlertsManage,
            ],
        ]
        .concat(),
        "auditor" => [
            &read[..],
            &[
                CredentialsRead,
                SchedulesRead,
                AuditRead,
                UsersRead,
                RemediationsRead,
                ExceptionsRead,
                AlertsRead,
            ],
        ]
        .concat(),
        "viewer" => read.to_vec(),
        _ => return None,
    };
    Some(list.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.as_str()), Some(*p));
        }
    }

    #[test]
    fn roles_are_nested_where_it_matters() {
        let admin = builtin_permissions("admin").unwrap();
        for role in BUILTIN_ROLES {
            assert!(builtin_permissions(role).unwrap().is_subset(&admin), "{role}");
        }
        let viewer = builtin_permissions("viewer").unwrap();
        assert!(!viewer.contains(&Permission::HostsWrite));
        assert!(!viewer.contains(&Permission::AuditRead));
        assert!(!builtin_permissions("operator").unwrap().contains(&Permission::UsersWrite));
        assert!(builtin_permissions("nobody").is_none());
    }
}
