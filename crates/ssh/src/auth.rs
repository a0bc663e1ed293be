//! Logging in: stored keys, identity files, the ssh-agent, then a password, in that order.

use std::sync::Arc;

use russh::client::Handle;
use russh::keys::agent::AgentIdentity;
use russh::keys::agent::client::AgentClient;
use russh::keys::{PrivateKeyWithHashAlg, load_secret_key};

use crate::session::{Client, FailureKind, SshError, SshTarget, err};

/// Offer one private key; RSA keys use the best SHA-2 signature the server supports.
async fn try_key(
    handle: &mut Handle<Client>,
    user: &str,
    key: russh::keys::PrivateKey,
) -> Result<bool, russh::Error> {
    let hash =
        if key.algorithm().is_rsa() { handle.best_supported_rsa_hash().await?.flatten() } else { None };
    Ok(handle.authenticate_publickey(user, PrivateKeyWithHashAlg::new(Arc::new(key), hash)).await?.success())
}

pub(crate) async fn authenticate(handle: &mut Handle<Client>, target: &SshTarget) -> Result<(), SshError> {
    let host = &target.name;
    let user = target.user.as_str();
    let creds = &target.credentials;
    let proto = |e: russh::Error| err(FailureKind::Protocol, host, format!("during authentication: {e}"));
    let mut tried = Vec::new();
    for (i, text) in creds.private_keys.iter().enumerate() {
        match russh::keys::decode_secret_key(text, creds.passphrase.as_deref()) {
            Ok(key) => {
                if try_key(handle, user, key).await.map_err(proto)? {
                    return Ok(());
                }
                tried.push(format!("stored key {}", i + 1));
            }
            Err(e) => tried.push(format!("stored key {} (unusable: {e})", i + 1)),
        }
    }
    for path in &creds.identities {
        match load_secret_key(path, creds.passphrase.as_deref()) {
            Ok(key) => {
                if try_key(handle, user, key).await.map_err(proto)? {
                    return Ok(());
                }
                tried.push(format!("key {}", path.display()));
            }
            Err(e) => tried.push(format!("key {} (unusable: {e})", path.display())),
        }
    }
    if creds.agent && std::env::var_os("SSH_AUTH_SOCK").is_some() {
        match AgentClient::connect_env().await {
            Ok(mut agent) => {
                let identities = agent.request_identities().await.unwrap_or_default();
                for identity in &identities {
                    let AgentIdentity::PublicKey { key, .. } = identity else {
                        continue;
                    };
                    let hash = if key.algorithm().is_rsa() {
                        handle.best_supported_rsa_hash().await.map_err(proto)?.flatten()
                    } else {
                        None
                    };
                    if let Ok(r) =
                        handle.authenticate_publickey_with(user, key.clone(), hash, &mut agent).await
                        && r.success()
                    {
                        return Ok(());
                    }
                }
                tried.push(format!("ssh-agent ({} keys)", identities.len()));
            }
            Err(e) => tried.push(format!("ssh-agent (unavailable: {e})")),
        }
    }
    if let Some(password) = &creds.password {
        if handle.authenticate_password(user, password.clone()).await.map_err(proto)?.success() {
            return Ok(());
        }
        tried.push("password".to_owned());
    }
    let tried = if tried.is_empty() {
        "no credentials were given".to_owned()
    } else {
        format!("tried {}", tried.join(", "))
    };
    Err(err(FailureKind::Auth, host, format!("authentication as {user} failed: {tried}")))
}
