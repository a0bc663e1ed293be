//! Logging in: stored keys, identity files, the ssh-agent, then a password, in that order.
//! A refusal says what was offered (user, method, key type, where the secret came from),
//! to which address, and what the server still allows: never the secret itself.

use std::sync::Arc;

use russh::client::{AuthResult, Handle};
use russh::keys::agent::AgentIdentity;
use russh::keys::agent::client::AgentClient;
use russh::keys::{PrivateKeyWithHashAlg, load_secret_key};
use russh::{MethodKind, MethodSet};

use crate::session::{Client, FailureKind, SshError, SshTarget, err};

/// Offer one private key; RSA keys use the best SHA-2 signature the server supports.
async fn try_key(
    handle: &mut Handle<Client>,
    user: &str,
    key: russh::keys::PrivateKey,
) -> Result<AuthResult, russh::Error> {
    let hash =
        if key.algorithm().is_rsa() { handle.best_supported_rsa_hash().await?.flatten() } else { None };
    handle.authenticate_publickey(user, PrivateKeyWithHashAlg::new(Arc::new(key), hash)).await
}

/// What was offered and what the server answered, for the message of a refused login.
#[derive(Default)]
struct Attempts {
    offered: Vec<String>,
    /// Offers we could not make (an unreadable key, no agent).
    skipped: Vec<String>,
    /// The methods the server said it would still accept, from its last refusal.
    allowed: Option<Vec<&'static str>>,
}

impl Attempts {
    /// Record a refusal; `Ok(true)` when the server accepted instead.
    fn answer(&mut self, offer: String, result: AuthResult) -> bool {
        match result {
            AuthResult::Success => true,
            AuthResult::Failure { remaining_methods, .. } => {
                self.allowed = Some(names(&remaining_methods));
                self.offered.push(offer);
                false
            }
        }
    }

    fn message(self, target: &SshTarget, from: &str) -> String {
        let address = format!("{}:{}", target.endpoint.host, target.endpoint.port);
        let user = &target.user;
        let mut m = if self.offered.is_empty() {
            format!("nothing to offer {address} for user '{user}'")
        } else {
            format!("the server at {address} accepted none of: {} for user '{user}'", self.offered.join(", "))
        };
        if !self.skipped.is_empty() {
            m.push_str(&format!("; not offered: {}", self.skipped.join(", ")));
        }
        match self.allowed {
            Some(a) if a.is_empty() => m.push_str("; it allows no further methods"),
            Some(a) => m.push_str(&format!("; it allows: {}", a.join(", "))),
            None => {}
        }
        if self.offered.is_empty() && self.skipped.is_empty() {
            m.push_str(&format!(" (no key or password{from})"));
        }
        m
    }
}

fn names(methods: &MethodSet) -> Vec<&'static str> {
    methods.iter().map(|m: &MethodKind| <&'static str>::from(m)).collect()
}

pub(crate) async fn authenticate(handle: &mut Handle<Client>, target: &SshTarget) -> Result<(), SshError> {
    let host = &target.name;
    let user = target.user.as_str();
    let creds = &target.credentials;
    let from = creds.origin.as_deref().map(|o| format!(" from {o}")).unwrap_or_default();
    let proto = |e: russh::Error| err(FailureKind::Protocol, host, format!("during authentication: {e}"));
    let mut at = Attempts::default();
    let many = creds.private_keys.len() > 1;
    for (i, text) in creds.private_keys.iter().enumerate() {
        let which = if many { format!(" {}", i + 1) } else { String::new() };
        match russh::keys::decode_secret_key(text, creds.passphrase.as_deref()) {
            Ok(key) => {
                let offer = format!("publickey ({} key{which}{from})", key.algorithm());
                if at.answer(offer, try_key(handle, user, key).await.map_err(proto)?) {
                    return Ok(());
                }
            }
            Err(e) => at.skipped.push(format!("stored key{which}{from} (unusable: {e})")),
        }
    }
    for path in &creds.identities {
        match load_secret_key(path, creds.passphrase.as_deref()) {
            Ok(key) => {
                let offer = format!("publickey ({} key {})", key.algorithm(), path.display());
                if at.answer(offer, try_key(handle, user, key).await.map_err(proto)?) {
                    return Ok(());
                }
            }
            Err(e) => at.skipped.push(format!("key {} (unusable: {e})", path.display())),
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
                    let offer = format!("publickey ({} key from ssh-agent)", key.algorithm());
                    if let Ok(r) =
                        handle.authenticate_publickey_with(user, key.clone(), hash, &mut agent).await
                        && at.answer(offer, r)
                    {
                        return Ok(());
                    }
                }
                if identities.is_empty() {
                    at.skipped.push("ssh-agent (no keys)".into());
                }
            }
            Err(e) => at.skipped.push(format!("ssh-agent (unavailable: {e})")),
        }
    }
    if let Some(password) = &creds.password {
        let r = handle.authenticate_password(user, password.clone()).await.map_err(proto)?;
        if at.answer(format!("password{from}"), r) {
            return Ok(());
        }
    }
    Err(err(FailureKind::Auth, host, at.message(target, &from)))
}
