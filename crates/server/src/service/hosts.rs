//! Hosts: add, change, delete, test the connection, approve host keys (one or several; an
//! approval queues the host's scan, since the key was what stood in its way).
//!
//! Where a credential is sent is itself a privilege: whoever can attach a stored credential
//! to a host, or move a host holding one to another address, port or user, can receive its
//! password. That needs `credentials:use`; trusting unknown host keys automatically
//! (`accept_new`) needs `host_keys:approve`.

use openwatch_store::{Credential, Host, HostInput, HostKey, HostKeyPolicy, Store, Transport};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::scans::Initiator;
use super::{Done, ServiceError, ServiceResult, note};
use crate::app::{AppState, now_ms};
use crate::auth::need::{CredentialsUse, HostsRead, HostsWrite, KeysApprove};
use crate::http::guard::Grant;
use crate::worker::scan::ConnectionTest;

/// The login name a host is scanned as, and where it comes from in words ("set on the host",
/// "from credential deploy", "default"): the one precedence of `openwatch_fleet::login_user`
/// (the host's user, else the credential's, else root), for pages to show.
pub fn login_user(username: &str, credential: Option<&Credential>) -> (String, String) {
    use openwatch_fleet::UserSource;
    let (user, from) = openwatch_fleet::login_user(username, credential.and_then(|c| c.username.as_deref()));
    let why = match (from, credential) {
        (UserSource::Host, _) => "set on the host".to_owned(),
        (UserSource::Credential, Some(c)) => format!("from credential {}", c.name),
        (UserSource::Credential, None) | (UserSource::Default, _) => "default".to_owned(),
    };
    (user, why)
}

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
    // An omitted address means the name is the address; one given blank is a mistake.
    let address = b.address.map(|a| a.trim().to_owned());
    let address = match (transport, address) {
        (Transport::Local, a) => a.filter(|a| !a.is_empty()).unwrap_or_else(|| "local".into()),
        (_, Some(a)) if a.is_empty() => {
            return Err(ServiceError::invalid(
                "address",
                "an SSH host needs an address (a host name or IP address)",
            ));
        }
        (_, Some(a)) if !a.chars().any(|c| c.is_whitespace() || c.is_control() || c == '/' || c == '@') => a,
        (_, Some(_)) => return Err(ServiceError::invalid("address", "a host name or IP address")),
        (_, None) => name.clone(),
    };
    let username = b.username.map(|u| u.trim().to_owned()).unwrap_or_default();
    if username.len() > 64 || username.chars().any(|c| c.is_whitespace() || c.is_control() || c == '@') {
        return Err(ServiceError::invalid("username", "a login name: up to 64 characters, no spaces or @"));
    }
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
        // Blank means "the credential's user, else root" (`login_user`).
        username,
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

/// Every host matching `q`, page after page (for work over all of them: reports, imports).
pub(crate) async fn all_hosts(state: &AppState, q: &openwatch_store::HostQuery) -> ServiceResult<Vec<Host>> {
    let per_page = openwatch_store::PageRequest::MAX_PER_PAGE;
    let mut out = Vec::new();
    for n in 1.. {
        let page =
            state.store().list_hosts(q, openwatch_store::PageRequest::new(Some(n), Some(per_page))).await?;
        let last = page.items.len() < per_page as usize;
        out.extend(page.items);
        if last {
            break;
        }
    }
    Ok(out)
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

/// Delete a host: it leaves lists, groups' counts and fleet figures; its scans and history
/// stay readable, and queued scans of it fail as `host_deleted`.
pub async fn delete(state: &AppState, _: &Grant<HostsWrite>, id: i64) -> ServiceResult<Done<Host>> {
    let host = state.store().host(id).await?.ok_or(ServiceError::NotFound("host"))?;
    if !state.store().delete_host(id, now_ms()).await? {
        return Err(ServiceError::NotFound("host"));
    }
    let audit = note(format!("host:{id}"), json!({"name": host.name, "address": host.address}));
    Ok(Done::new(host, audit))
}

/// A host key just approved, and the scan that approval queued (none for a host in
/// maintenance).
#[derive(Debug, Serialize)]
pub struct Approved {
    pub host_id: i64,
    pub host: String,
    pub fingerprint: String,
    pub scan_id: Option<i64>,
}

impl Approved {
    /// What a page says about it.
    pub fn message(&self) -> String {
        match self.scan_id {
            Some(id) => format!("Host key approved for {}; scan #{id} queued", self.host),
            None => format!("Host key approved for {}; not scanned (in maintenance)", self.host),
        }
    }
}

/// Approve one key and queue the host's scan.
async fn approve(state: &AppState, g: &Grant<KeysApprove>, key: &HostKey) -> ServiceResult<Approved> {
    let host = state.store().host(key.host_id).await?.ok_or(ServiceError::NotFound("host"))?;
    if !state.store().approve_host_key(host.id, key.id, g.username(), now_ms()).await? {
        return Err(ServiceError::NotFound("host key"));
    }
    let scan_id = if host.maintenance {
        None
    } else {
        Some(super::scans::queue(state, host.id, &Initiator::approval(g)).await?.0.id)
    };
    Ok(Approved { host_id: host.id, host: host.name, fingerprint: key.fingerprint.clone(), scan_id })
}

fn approval_note(a: &Approved, algorithm: &str) -> serde_json::Value {
    json!({"host": a.host, "fingerprint": a.fingerprint, "algorithm": algorithm, "scan_id": a.scan_id})
}

pub async fn approve_key(
    state: &AppState,
    g: &Grant<KeysApprove>,
    id: i64,
    key_id: i64,
) -> ServiceResult<Done<Approved>> {
    let keys = state.store().host_keys(id).await?;
    let key = keys.into_iter().find(|k| k.id == key_id).ok_or(ServiceError::NotFound("host key"))?;
    let approved = approve(state, g, &key).await?;
    let audit = note(format!("host:{id}"), approval_note(&approved, &key.algorithm));
    Ok(Done::new(approved, audit))
}

/// Keys waiting for approval across the fleet.
pub async fn pending_keys(state: &AppState, _: &Grant<HostsRead>) -> ServiceResult<Vec<HostKey>> {
    Ok(state.store().pending_host_keys().await?)
}

/// Approve several pending keys at once (each host's scan queued); all or none: an id that
/// is not a pending key refuses the whole request before anything is approved. The audit
/// event lists every approval.
pub async fn approve_keys(
    state: &AppState,
    g: &Grant<KeysApprove>,
    key_ids: &[i64],
) -> ServiceResult<Done<Vec<Approved>>> {
    if key_ids.is_empty() {
        return Err(ServiceError::invalid("key_id", "choose at least one host key"));
    }
    let pending = state.store().pending_host_keys().await?;
    let mut chosen = Vec::new();
    for id in key_ids {
        let key = pending.iter().find(|k| k.id == *id).ok_or_else(|| {
            ServiceError::invalid("key_id", format!("host key {id} is not waiting for approval"))
        })?;
        if chosen.iter().any(|k: &&HostKey| k.host_id == key.host_id) {
            return Err(ServiceError::invalid("key_id", "choose at most one key per host"));
        }
        chosen.push(key);
    }
    let mut done = Vec::new();
    let mut details = Vec::new();
    for key in chosen {
        let a = approve(state, g, key).await?;
        let mut d = approval_note(&a, &key.algorithm);
        d["host_id"] = json!(a.host_id);
        details.push(d);
        done.push(a);
    }
    let audit = note("host_keys", json!({"approved": details}));
    Ok(Done::new(done, audit))
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
