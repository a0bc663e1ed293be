//! Hosts and groups: add, change, delete, test the connection, approve host keys.
//!
//! Where a credential is sent is itself a privilege: whoever can attach a stored credential
//! to a host, or move a host holding one to another address, port or user, can receive its
//! password. That needs `credentials:use`; trusting unknown host keys automatically
//! (`accept_new`) needs `host_keys:approve`.

use openwatch_store::{Group, Host, HostInput, HostKey, HostKeyPolicy, Store, Transport};
use serde::Deserialize;
use serde_json::json;

use super::{Done, ServiceError, ServiceResult, note};
use crate::app::{AppState, now_ms};
use crate::auth::need::{CredentialsUse, HostsRead, HostsWrite, KeysApprove};
use crate::http::guard::Grant;
use crate::worker::scan::ConnectionTest;

/// A host as a caller describes it; omitted fields take their defaults.
#[derive(Debug, Default, Deserialize)]
pub struct HostBody {
    pub name: String,
    pub address: Option<String>,
    pub port: Option<i64>,
    pub username: Option<String>,
    pub transport: Option<String>,
    pub credential_id: Option<i64>,
    #[serde(default)]
    pub sudo: bool,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub maintenance: bool,
    pub host_key_policy: Option<String>,
}

/// Validate a host; errors name the field.
pub async fn validate(store: &dyn Store, b: HostBody) -> ServiceResult<HostInput> {
    let name = b.name.trim().to_owned();
    if name.is_empty() || name.len() > 253 || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ServiceError::invalid("name", "1-253 characters, no spaces"));
    }
    let transport = match b.transport.as_deref() {
        None => Transport::Ssh,
        Some(t) => Transport::parse(t).ok_or_else(|| ServiceError::invalid("transport", "ssh or local"))?,
    };
    let address = b.address.map(|a| a.trim().to_owned()).filter(|a| !a.is_empty());
    let address = match (transport, address) {
        (Transport::Local, a) => a.unwrap_or_else(|| "local".into()),
        (_, Some(a)) if !a.chars().any(|c| c.is_whitespace() || c.is_control() || c == '/' || c == '@') => a,
        (_, Some(_)) => return Err(ServiceError::invalid("address", "a host name or IP address")),
        (_, None) => name.clone(),
    };
    let port = b.port.unwrap_or(22);
    if !(1..=65535).contains(&port) {
        return Err(ServiceError::invalid("port", "between 1 and 65535"));
    }
    let policy = match b.host_key_policy.as_deref() {
        None => HostKeyPolicy::Approve,
        Some(p) => HostKeyPolicy::parse(p)
            .ok_or_else(|| ServiceError::invalid("host_key_policy", "approve or accept_new"))?,
    };
    if let Some(id) = b.credential_id
        && store.credential(id).await?.is_none()
    {
        return Err(ServiceError::invalid("credential_id", format!("no credential {id}")));
    }
    let clean = |v: Vec<String>| -> Vec<String> {
        let mut v: Vec<String> =
            v.into_iter().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
        v.sort();
        v.dedup();
        v
    };
    Ok(HostInput {
        name,
        address,
        port,
        // Blank means "the credential's user, else root" (`openwatch_fleet::login_user`).
        username: b.username.map(|u| u.trim().to_owned()).unwrap_or_default(),
        transport,
        credential_id: b.credential_id,
        sudo: b.sudo,
        tags: clean(b.tags),
        groups: clean(b.groups),
        maintenance: b.maintenance,
        host_key_policy: policy,
    })
}

/// The permissions beyond `hosts:write` that a change needs (see the module comment).
pub fn check_trust(g: &Grant<HostsWrite>, before: Option<&Host>, input: &HostInput) -> ServiceResult<()> {
    let attaches =
        input.credential_id.is_some() && before.is_none_or(|b| b.credential_id != input.credential_id);
    let redirects = before.is_some_and(|b| {
        input.credential_id.is_some()
            && (b.address != input.address || b.port != input.port || b.username != input.username)
    });
    if attaches || redirects {
        g.also::<CredentialsUse>()?;
    }
    let trusts_new = input.host_key_policy == HostKeyPolicy::AcceptNew
        && before.is_none_or(|b| b.host_key_policy != HostKeyPolicy::AcceptNew);
    if trusts_new {
        g.also::<KeysApprove>()?;
    }
    Ok(())
}

pub async fn create(state: &AppState, g: &Grant<HostsWrite>, body: HostBody) -> ServiceResult<Done<Host>> {
    let input = validate(state.store(), body).await?;
    check_trust(g, None, &input)?;
    let host = state.store().create_host(&input, now_ms()).await?;
    let audit = note(format!("host:{}", host.id), json!({"name": host.name}));
    Ok(Done::new(host, audit))
}

pub async fn get(state: &AppState, _: &Grant<HostsRead>, id: i64) -> ServiceResult<(Host, Vec<HostKey>)> {
    let host = state.store().host(id).await?.ok_or(ServiceError::NotFound("host"))?;
    let keys = state.store().host_keys(id).await?;
    Ok((host, keys))
}

pub async fn update(
    state: &AppState,
    g: &Grant<HostsWrite>,
    id: i64,
    body: HostBody,
) -> ServiceResult<Done<Host>> {
    let before = state.store().host(id).await?.ok_or(ServiceError::NotFound("host"))?;
    let input = validate(state.store(), body).await?;
    check_trust(g, Some(&before), &input)?;
    let host =
        state.store().update_host(id, &input, now_ms()).await?.ok_or(ServiceError::NotFound("host"))?;
    let audit = note(format!("host:{id}"), json!({"name": host.name, "was": before.name}));
    Ok(Done::new(host, audit))
}

pub async fn delete(state: &AppState, _: &Grant<HostsWrite>, id: i64) -> ServiceResult<Done<()>> {
    let host = state.store().host(id).await?.ok_or(ServiceError::NotFound("host"))?;
    state.store().delete_host(id, now_ms()).await?;
    Ok(Done::new((), note(format!("host:{id}"), json!({"name": host.name}))))
}

pub async fn approve_key(
    state: &AppState,
    g: &Grant<KeysApprove>,
    id: i64,
    key_id: i64,
) -> ServiceResult<Done<HostKey>> {
    let keys = state.store().host_keys(id).await?;
    let key = keys.into_iter().find(|k| k.id == key_id).ok_or(ServiceError::NotFound("host key"))?;
    if !state.store().approve_host_key(id, key_id, g.username(), now_ms()).await? {
        return Err(ServiceError::NotFound("host key"));
    }
    let audit =
        note(format!("host:{id}"), json!({"fingerprint": key.fingerprint, "algorithm": key.algorithm}));
    Ok(Done::new(key, audit))
}

/// Connecting sends the host's credential: the same right as scanning it with that
/// credential, so `hosts:write` (which may not redirect credentials) suffices.
pub async fn test_connection(
    state: &AppState,
    _: &Grant<HostsWrite>,
    id: i64,
) -> ServiceResult<Done<ConnectionTest>> {
    let host = state.store().host(id).await?.ok_or(ServiceError::NotFound("host"))?;
    let result = crate::worker::scan::test_connection(state, &host).await?;
    let audit = note(format!("host:{id}"), json!({"outcome": result.status}));
    Ok(Done::new(result, audit))
}

pub async fn create_group(
    state: &AppState,
    _: &Grant<HostsWrite>,
    name: &str,
    description: &str,
) -> ServiceResult<Done<Group>> {
    let name = name.trim();
    if name.is_empty() {
        return Err(ServiceError::invalid("name", "must not be empty"));
    }
    let g = state.store().create_group(name, description, now_ms()).await?;
    let audit = note(format!("group:{}", g.id), json!({"name": g.name}));
    Ok(Done::new(g, audit))
}

pub async fn delete_group(state: &AppState, _: &Grant<HostsWrite>, id: i64) -> ServiceResult<Done<()>> {
    let g = state.store().group(id).await?.ok_or(ServiceError::NotFound("group"))?;
    state.store().delete_group(id).await?;
    Ok(Done::new((), note(format!("group:{id}"), json!({"name": g.name}))))
}
