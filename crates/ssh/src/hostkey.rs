//! Host key verification. Unknown keys are refused unless the user opted into accept-new;
//! a changed key is always a hard error naming both fingerprints.

use std::path::PathBuf;

use russh::keys::known_hosts::{known_host_keys_path, learn_known_hosts_path};
use russh::keys::{HashAlg, PublicKey};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKeyPolicy {
    /// Only keys already in known_hosts or pinned are trusted.
    Strict,
    /// A host with no recorded key is trusted on first contact and recorded.
    AcceptNew,
}

/// Where trusted host keys come from.
#[derive(Debug, Clone)]
pub struct HostKeyTrust {
    /// An OpenSSH known_hosts file (hashed and plain names).
    pub known_hosts: Option<PathBuf>,
    /// Keys pinned for this host (`ssh-ed25519 AAAA...`); when set, only these are trusted.
    pub pinned: Vec<PublicKey>,
    pub policy: HostKeyPolicy,
}

/// How the presented key came to be trusted, reported in scan output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeyStatus {
    Known { fingerprint: String },
    Pinned { fingerprint: String },
    AcceptedNew { fingerprint: String, recorded_in: Option<PathBuf> },
}

impl HostKeyStatus {
    pub fn fingerprint(&self) -> &str {
        match self {
            HostKeyStatus::Known { fingerprint }
            | HostKeyStatus::Pinned { fingerprint }
            | HostKeyStatus::AcceptedNew { fingerprint, .. } => fingerprint,
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            HostKeyStatus::Known { .. } => "known",
            HostKeyStatus::Pinned { .. } => "pinned",
            HostKeyStatus::AcceptedNew { .. } => "accepted-new",
        }
    }
}

/// Why a presented key was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeyProblem {
    Unknown { presented: String },
    Changed { presented: String, expected: Vec<String> },
    Unreadable { reason: String },
}

pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

impl HostKeyTrust {
    /// Decide about the key `host:port` presented.
    pub fn verify(&self, host: &str, port: u16, key: &PublicKey) -> Result<HostKeyStatus, HostKeyProblem> {
        let presented = fingerprint(key);
        if !self.pinned.is_empty() {
            return if self.pinned.iter().any(|p| p.key_data() == key.key_data()) {
                Ok(HostKeyStatus::Pinned { fingerprint: presented })
            } else {
                Err(HostKeyProblem::Changed {
                    presented,
                    expected: self.pinned.iter().map(fingerprint).collect(),
                })
            };
        }
        let recorded = match &self.known_hosts {
            Some(path) => known_host_keys_path(host, port, path)
                .map_err(|e| HostKeyProblem::Unreadable { reason: format!("{}: {e}", path.display()) })?,
            None => Vec::new(),
        };
        if recorded.iter().any(|(_, k)| k.key_data() == key.key_data()) {
            return Ok(HostKeyStatus::Known { fingerprint: presented });
        }
        if !recorded.is_empty() {
            // Any recorded key that differs is a change, whatever its type: an attacker could
            // otherwise present a key of another algorithm.
            return Err(HostKeyProblem::Changed {
                presented,
                expected: recorded.iter().map(|(_, k)| fingerprint(k)).collect(),
            });
        }
        match self.policy {
            HostKeyPolicy::Strict => Err(HostKeyProblem::Unknown { presented }),
            HostKeyPolicy::AcceptNew => {
                if let Some(path) = &self.known_hosts {
                    learn_known_hosts_path(host, port, key, path).map_err(|e| {
                        HostKeyProblem::Unreadable {
                            reason: format!("recording the key in {}: {e}", path.display()),
                        }
                    })?;
                }
                Ok(HostKeyStatus::AcceptedNew {
                    fingerprint: presented,
                    recorded_in: self.known_hosts.clone(),
                })
            }
        }
    }
}
