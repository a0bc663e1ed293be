//! Permissions as types. A handler or use case names the permission it needs in its
//! signature (`Grant<HostsWrite>`), so the need is checked where the grant is made, once,
//! and cannot be forgotten.

use super::rbac::Permission;

/// A permission (or "any signed-in caller") lifted to a type.
pub trait Need: Send + Sync + 'static {
    const PERMISSION: Option<Permission>;
}

macro_rules! needs {
    ($($name:ident => $p:expr),* $(,)?) => {
        $(
            #[derive(Debug)]
            pub struct $name;
            impl Need for $name {
                const PERMISSION: Option<Permission> = $p;
            }
        )*
    };
}

needs! {
    SignedIn => None,
    HostsRead => Some(Permission::HostsRead),
    HostsWrite => Some(Permission::HostsWrite),
    HostsScan => Some(Permission::HostsScan),
    KeysApprove => Some(Permission::HostKeysApprove),
    CredentialsRead => Some(Permission::CredentialsRead),
    CredentialsWrite => Some(Permission::CredentialsWrite),
    CredentialsUse => Some(Permission::CredentialsUse),
    ScansRead => Some(Permission::ScansRead),
    RulesRead => Some(Permission::RulesRead),
    FleetRead => Some(Permission::FleetRead),
    SchedulesRead => Some(Permission::SchedulesRead),
    SchedulesWrite => Some(Permission::SchedulesWrite),
    UsersRead => Some(Permission::UsersRead),
    UsersWrite => Some(Permission::UsersWrite),
    TokensWrite => Some(Permission::TokensWrite),
    AuditRead => Some(Permission::AuditRead),
    EventsRead => Some(Permission::EventsRead),
    RemediationsRead => Some(Permission::RemediationsRead),
    RemediationsRequest => Some(Permission::RemediationsRequest),
    RemediationsApprove => Some(Permission::RemediationsApprove),
    ChannelsManage => Some(Permission::ChannelsManage),
    ExceptionsRead => Some(Permission::ExceptionsRead),
    ExceptionsRequest => Some(Permission::ExceptionsRequest),
    ExceptionsApprove => Some(Permission::ExceptionsApprove),
    AlertsRead => Some(Permission::AlertsRead),
    AlertsManage => Some(Permission::AlertsManage),
}
