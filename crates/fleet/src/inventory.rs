//! The inventory file: `defaults`, `groups` and `hosts`, each able to set any host setting.
//! A host's settings are its defaults, overlaid by its groups in order, then by itself.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use openwatch_core::rule::Value;
use openwatch_ssh::{Credentials, Endpoint, HostKeyPolicy, HostKeyTrust, SshTarget, Sudo, Timeouts};
use russh::keys::PublicKey;
use serde::Deserialize;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum InventoryError {
    #[error("{0}")]
    Parse(String),
    #[error("{file}: host `{host}`: {message}")]
    Host { file: String, host: String, message: String },
    #[error("reading {file}: {source}")]
    Io { file: String, source: std::io::Error },
}

/// Settings any level of the inventory (and the command line) may give. Every field is
/// optional; the most specific level that sets one wins.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostSettings {
    /// Hosts only: the name reports use (also the address when `address` is not set).
    pub name: Option<String>,
    /// Hosts only: groups whose settings apply, in order.
    pub groups: Option<Vec<String>>,
    pub address: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub identity_file: Option<String>,
    /// Environment variable holding the identity file's passphrase.
    pub identity_passphrase_env: Option<String>,
    /// Environment variable holding the login password.
    pub password_env: Option<String>,
    pub agent: Option<bool>,
    pub sudo: Option<bool>,
    /// Environment variable holding the sudo password (fed on stdin, never on a command line).
    pub sudo_password_env: Option<String>,
    pub known_hosts: Option<String>,
    pub accept_new_host_keys: Option<bool>,
    /// Pinned host keys, `ssh-ed25519 AAAA...`.
    pub host_keys: Option<Vec<String>>,
    /// `[user@]host[:port]` of a bastion, logged in to with the same credentials.
    pub jump: Option<String>,
    pub connect_timeout: Option<u64>,
    pub command_timeout: Option<u64>,
    #[serde(default)]
    pub vars: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inventory {
    #[serde(default)]
    pub defaults: HostSettings,
    #[serde(default)]
    pub groups: BTreeMap<String, HostSettings>,
    pub hosts: Vec<HostSettings>,
}

/// A host ready to scan.
#[derive(Debug, Clone)]
pub struct ResolvedHost {
    pub target: SshTarget,
    /// Variable overrides from the inventory, as text, typed later against the rules.
    pub vars: Vec<(String, String)>,
}

macro_rules! overlay {
    ($base:expr, $top:expr, $($field:ident),*) => {
        $( if $top.$field.is_some() { $base.$field = $top.$field.clone(); } )*
    };
}

impl HostSettings {
    /// `self` overlaid with every field `top` sets.
    pub fn overlay(&self, top: &HostSettings) -> HostSettings {
        let mut out = self.clone();
        overlay!(
            out,
            top,
            address,
            port,
            user,
            identity_file,
            identity_passphrase_env,
            password_env,
            agent,
            sudo,
            sudo_password_env,
            known_hosts,
            accept_new_host_keys,
            host_keys,
            jump,
            connect_timeout,
            command_timeout
        );
        for (k, v) in &top.vars {
            out.vars.insert(k.clone(), v.clone());
        }
        out
    }
}

fn env_secret(var: &Option<String>, what: &str) -> Result<Option<String>, String> {
    match var {
        None => Ok(None),
        Some(name) => std::env::var(name)
            .map(Some)
            .map_err(|_| format!("{what}: environment variable `{name}` is not set")),
    }
}

fn expand_path(p: &str, base: &Path) -> PathBuf {
    if let Some(rest) = p.strip_prefix("~/")
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home).join(rest);
    }
    let path = PathBuf::from(p);
    if path.is_absolute() { path } else { base.join(path) }
}

fn default_known_hosts() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".ssh/known_hosts"))
}

/// How to become root: a sudo password means `sudo -S` with it, else `sudo` alone means
/// passwordless sudo. Shared with the server's managed hosts.
pub(crate) fn sudo_mode(sudo: bool, password: Option<String>) -> Sudo {
    match (sudo, password) {
        (_, Some(pw)) => Sudo::Password(pw),
        (true, None) => Sudo::NoPassword,
        (false, None) => Sudo::None,
    }
}

/// The SSH timeouts, in seconds where set, else the transport's defaults.
pub(crate) fn timeouts(connect: Option<u64>, command: Option<u64>) -> Timeouts {
    let d = Timeouts::default();
    Timeouts {
        connect: connect.map_or(d.connect, Duration::from_secs),
        command: command.map_or(d.command, Duration::from_secs),
        ..d
    }
}

/// Build an SSH target from fully merged settings. `base` resolves relative paths.
pub fn target(name: &str, s: &HostSettings, base: &Path) -> Result<SshTarget, String> {
    let address = s.address.clone().unwrap_or_else(|| name.to_owned());
    let mut endpoint = Endpoint::parse(&address).map_err(|e| e.to_string())?;
    if let Some(p) = s.port {
        endpoint.port = p;
    }
    // `user@` written in the address is the most specific choice for that host.
    let user = endpoint.user.clone().or_else(|| s.user.clone()).unwrap_or_else(|| "root".to_owned());
    let pinned = s
        .host_keys
        .iter()
        .flatten()
        .map(|k| {
            PublicKey::from_openssh(k.trim())
                .map_err(|e| format!("host key `{k}` is not an OpenSSH public key: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let trust = HostKeyTrust {
        known_hosts: s.known_hosts.as_deref().map(|p| expand_path(p, base)).or_else(default_known_hosts),
        pinned,
        policy: if s.accept_new_host_keys == Some(true) {
            HostKeyPolicy::AcceptNew
        } else {
            HostKeyPolicy::Strict
        },
    };
    let credentials = Credentials {
        private_keys: Vec::new(),
        identities: s.identity_file.iter().map(|p| expand_path(p, base)).collect(),
        passphrase: env_secret(&s.identity_passphrase_env, "identity_passphrase_env")?,
        agent: s.agent.unwrap_or(true),
        password: env_secret(&s.password_env, "password_env")?,
        origin: None,
    };
    let sudo = sudo_mode(s.sudo.unwrap_or(false), env_secret(&s.sudo_password_env, "sudo_password_env")?);
    let timeouts = timeouts(s.connect_timeout, s.command_timeout);
    let jump = match &s.jump {
        Some(j) => {
            let mut js = s.clone();
            js.jump = None;
            js.address = Some(j.clone());
            js.port = None;
            js.sudo = Some(false);
            js.sudo_password_env = None;
            js.host_keys = None;
            let jt = target(j, &js, base).map_err(|e| format!("jump host: {e}"))?;
            Some(Box::new(jt))
        }
        None => None,
    };
    Ok(SshTarget { name: name.to_owned(), endpoint, user, credentials, sudo, trust, jump, timeouts })
}

impl Inventory {
    pub fn parse(file: &str, text: &str) -> Result<Inventory, InventoryError> {
        serde_saphyr::from_str(text).map_err(|e| {
            let (line, col) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
            let msg = e.without_snippet().to_string();
            let msg = msg
                .split_once(": ")
                .filter(|(h, _)| h.contains("line "))
                .map_or(msg.as_str(), |(_, m)| m)
                .to_owned();
            let source = text.lines().nth(line.saturating_sub(1) as usize).unwrap_or("");
            InventoryError::Parse(format!("{file}:{line}:{col}: {msg}\n  | {source}"))
        })
    }

    pub fn load(path: &Path) -> Result<(Inventory, PathBuf), InventoryError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|source| InventoryError::Io { file: file.clone(), source })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok((Inventory::parse(&file, &text)?, base))
    }

    /// Every host with its merged settings (defaults, then its groups in order, then the
    /// host, then `cli`), in file order. Unknown groups and duplicate names are errors.
    pub fn resolve(
        &self,
        file: &str,
        base: &Path,
        cli: &HostSettings,
    ) -> Result<Vec<ResolvedHost>, InventoryError> {
        let mut seen = std::collections::BTreeSet::new();
        let mut out = Vec::new();
        if self.defaults.name.is_some() || self.defaults.groups.is_some() {
            return Err(InventoryError::Parse(format!("{file}: `defaults` cannot set `name` or `groups`")));
        }
        if let Some((g, _)) = self.groups.iter().find(|(_, g)| g.name.is_some() || g.groups.is_some()) {
            return Err(InventoryError::Parse(format!("{file}: group `{g}` cannot set `name` or `groups`")));
        }
        for (i, h) in self.hosts.iter().enumerate() {
            let name = h.name.clone().or_else(|| h.address.clone()).unwrap_or_default();
            let fail =
                |message: String| InventoryError::Host { file: file.to_owned(), host: name.clone(), message };
            if name.is_empty() {
                return Err(InventoryError::Parse(format!(
                    "{file}: host #{} has neither `name` nor `address`",
                    i + 1
                )));
            }
            if !seen.insert(name.clone()) {
                return Err(fail("duplicate host name".into()));
            }
            let mut s = self.defaults.clone();
            for g in h.groups.iter().flatten() {
                let group = self.groups.get(g).ok_or_else(|| fail(format!("unknown group `{g}`")))?;
                s = s.overlay(group);
            }
            // Command-line flags override the file.
            s = s.overlay(h).overlay(cli);
            let target = target(&name, &s, base).map_err(fail)?;
            let vars = s.vars.iter().map(|(k, v)| (k.clone(), v.to_text())).collect();
            out.push(ResolvedHost { target, vars });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INV: &str = r#"
defaults:
  user: scanner
  sudo: true
  known_hosts: known_hosts
  vars: {sshd_max_auth_tries: 4}
groups:
  web:
    port: 2222
    vars: {sshd_max_auth_tries: 3}
hosts:
  - name: web-01
    address: 10.0.0.5
    groups: [web]
  - name: db-01
    address: "root@10.0.0.6:2200"
    sudo: false
    vars: {banner_text: "$(reboot)"}
"#;

    #[test]
    fn levels_merge_most_specific_last() {
        let inv = Inventory::parse("inv.yml", INV).unwrap();
        let hosts = inv.resolve("inv.yml", Path::new("/etc/ow"), &HostSettings::default()).unwrap();
        let web = &hosts[0];
        assert_eq!(web.target.user, "scanner");
        assert_eq!(web.target.endpoint.port, 2222);
        assert_eq!(web.target.sudo, Sudo::NoPassword);
        assert_eq!(web.target.trust.known_hosts.as_deref(), Some(Path::new("/etc/ow/known_hosts")));
        assert_eq!(web.vars, vec![("sshd_max_auth_tries".to_owned(), "3".to_owned())]);
        let db = &hosts[1];
        assert_eq!(db.target.user, "root", "user@ in the address beats an inherited user");
        assert_eq!(db.target.endpoint.port, 2200);
        assert_eq!(db.target.sudo, Sudo::None);
        assert!(db.vars.contains(&("banner_text".to_owned(), "$(reboot)".to_owned())));
    }

    #[test]
    fn errors_name_the_place() {
        let e = Inventory::parse("inv.yml", "hosts:\n  - name: a\n    adress: x\n").unwrap_err().to_string();
        assert!(e.starts_with("inv.yml:3:5:"), "{e}");
        assert!(e.contains("adress"), "{e}");
        let inv = Inventory::parse("inv.yml", "hosts:\n  - {name: a, groups: [nope]}\n").unwrap();
        let e = inv.resolve("inv.yml", Path::new("."), &HostSettings::default()).unwrap_err().to_string();
        assert!(e.contains("unknown group `nope`"), "{e}");
        let inv =
            Inventory::parse("inv.yml", "hosts:\n  - {name: a, password_env: OPENWATCH_TEST_UNSET_VAR}\n")
                .unwrap();
        let e = inv.resolve("inv.yml", Path::new("."), &HostSettings::default()).unwrap_err().to_string();
        assert!(e.contains("OPENWATCH_TEST_UNSET_VAR"), "{e}");
        let inv =
            Inventory::parse("inv.yml", "hosts:\n  - {name: a, address: '-oProxyCommand=x'}\n").unwrap();
        assert!(inv.resolve("inv.yml", Path::new("."), &HostSettings::default()).is_err());
    }
}
