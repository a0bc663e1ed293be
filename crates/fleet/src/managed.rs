//! SSH targets for hosts the server manages. Everything comes from the host's record and
//! its stored credential, nothing from this machine (no agent, no known_hosts file, no
//! environment); the sudo mode and the timeouts are decided as for inventory hosts.
//!
//! The login name follows one precedence everywhere (scans, connection tests, the pages
//! that show it): the host's own user, else the credential's, else `root`. The most
//! specific record wins, as in inventories, where a host's `user` beats its groups'.

use std::fmt;

use openwatch_ssh::{Credentials, Endpoint, HostKeyPolicy, HostKeyTrust, SshTarget};
use russh::keys::PublicKey;

use crate::inventory::{sudo_mode, timeouts};

/// The secret a stored credential holds.
#[derive(Clone)]
pub enum Secret {
    /// A private key (OpenSSH or PEM text) and its passphrase.
    Key {
        private_key: String,
        passphrase: Option<String>,
    },
    Password(String),
}

/// A managed host's record with its credential opened.
#[derive(Clone)]
pub struct ManagedHost {
    pub name: String,
    pub address: String,
    pub port: u16,
    /// The host's own login name; wins when set (see [`login_user`]).
    pub user: String,
    /// The credential's login name, used when the host names none.
    pub credential_user: Option<String>,
    /// The credential's name, so a refused login says which secret was offered.
    pub credential_name: Option<String>,
    pub secret: Secret,
    pub sudo: bool,
    /// The credential's sudo password, used only when `sudo` is set.
    pub sudo_password: Option<String>,
    /// Host keys approved for this host; when there are any, only they are trusted.
    pub approved_keys: Vec<PublicKey>,
    /// The host's policy allows trusting its first key (only while none is approved).
    pub accept_new: bool,
    /// Login timeout in seconds (the default when `None`).
    pub connect_timeout: Option<u64>,
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Secret::Key { .. } => "Secret::Key(..)",
            Secret::Password(_) => "Secret::Password(..)",
        })
    }
}

impl fmt::Debug for ManagedHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagedHost")
            .field("name", &self.name)
            .field("address", &self.address)
            .field("port", &self.port)
            .field("sudo", &self.sudo)
            .finish_non_exhaustive()
    }
}

/// Where the login name of a managed host came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserSource {
    Host,
    Credential,
    Default,
}

impl UserSource {
    /// How pages say it: "host", "credential", "default".
    pub fn as_str(self) -> &'static str {
        match self {
            UserSource::Host => "host",
            UserSource::Credential => "credential",
            UserSource::Default => "default",
        }
    }
}

/// The login name a managed host is reached as, and where it came from: the host's own
/// user, else the credential's, else `root` (blank names count as none).
pub fn login_user(host_user: &str, credential_user: Option<&str>) -> (String, UserSource) {
    let set = |u: &str| Some(u.trim().to_owned()).filter(|u| !u.is_empty());
    if let Some(u) = set(host_user) {
        (u, UserSource::Host)
    } else if let Some(u) = credential_user.and_then(set) {
        (u, UserSource::Credential)
    } else {
        ("root".to_owned(), UserSource::Default)
    }
}

impl ManagedHost {
    /// The target to connect to; see the module for what is decided here.
    pub fn target(self) -> SshTarget {
        let (user, _) = login_user(&self.user, self.credential_user.as_deref());
        let mut credentials = Credentials {
            origin: self.credential_name.map(|n| format!("credential '{n}'")),
            ..Default::default()
        };
        match self.secret {
            Secret::Key { private_key, passphrase } => {
                credentials.private_keys.push(private_key);
                credentials.passphrase = passphrase;
            }
            Secret::Password(password) => credentials.password = Some(password),
        }
        let policy = if self.accept_new && self.approved_keys.is_empty() {
            HostKeyPolicy::AcceptNew
        } else {
            HostKeyPolicy::Strict
        };
        SshTarget {
            name: self.name,
            endpoint: Endpoint { user: Some(user.clone()), host: self.address, port: self.port },
            user,
            credentials,
            sudo: sudo_mode(self.sudo, self.sudo_password.filter(|_| self.sudo)),
            trust: HostKeyTrust { known_hosts: None, pinned: self.approved_keys, policy },
            jump: None,
            timeouts: timeouts(self.connect_timeout, None),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use openwatch_ssh::{Sudo, Timeouts};

    use super::*;

    const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPJMVgMCeQtzvPZJirgzL+1TfHElbqdSK4YaxBTg5MNh";

    fn host() -> ManagedHost {
        ManagedHost {
            name: "web1".into(),
            address: "10.0.0.5".into(),
            port: 2222,
            user: "scan".into(),
            credential_user: None,
            credential_name: Some("ops-key".into()),
            secret: Secret::Password("pw".into()),
            sudo: false,
            sudo_password: Some("sudo-pw".into()),
            approved_keys: Vec::new(),
            accept_new: false,
            connect_timeout: None,
        }
    }

    #[test]
    fn the_hosts_login_name_wins_over_the_credentials() {
        let t = host().target();
        assert_eq!((t.user.as_str(), t.endpoint.user.as_deref()), ("scan", Some("scan")));
        assert_eq!((t.endpoint.host.as_str(), t.endpoint.port), ("10.0.0.5", 2222));
        let t = ManagedHost { credential_user: Some("ops".into()), ..host() }.target();
        assert_eq!((t.user.as_str(), t.endpoint.user.as_deref()), ("scan", Some("scan")));
        let t = ManagedHost { user: String::new(), credential_user: Some("ops".into()), ..host() }.target();
        assert_eq!((t.user.as_str(), t.endpoint.user.as_deref()), ("ops", Some("ops")));
        let t = ManagedHost { user: " ".into(), credential_user: Some(String::new()), ..host() }.target();
        assert_eq!(t.user, "root");
        assert_eq!(login_user("scan", Some("ops")), ("scan".into(), UserSource::Host));
        assert_eq!(login_user("", Some("ops")), ("ops".into(), UserSource::Credential));
        assert_eq!(login_user("", None), ("root".into(), UserSource::Default));
    }

    #[test]
    fn a_refused_login_can_name_the_credential() {
        assert_eq!(host().target().credentials.origin.as_deref(), Some("credential 'ops-key'"));
    }

    #[test]
    fn nothing_comes_from_this_machine() {
        let t = host().target();
        assert!(!t.credentials.agent);
        assert!(t.credentials.identities.is_empty());
        assert!(t.trust.known_hosts.is_none());
        assert!(t.jump.is_none());
        assert_eq!(t.credentials.password.as_deref(), Some("pw"));
        let key = Secret::Key { private_key: "KEY".into(), passphrase: Some("pp".into()) };
        let t = ManagedHost { secret: key, ..host() }.target();
        assert_eq!(t.credentials.private_keys, vec!["KEY".to_owned()]);
        assert_eq!(t.credentials.passphrase.as_deref(), Some("pp"));
        assert!(t.credentials.password.is_none());
    }

    #[test]
    fn the_sudo_password_is_used_only_with_sudo() {
        assert_eq!(host().target().sudo, Sudo::None);
        let t = ManagedHost { sudo: true, ..host() }.target();
        assert_eq!(t.sudo, Sudo::Password("sudo-pw".into()));
        let t = ManagedHost { sudo: true, sudo_password: None, ..host() }.target();
        assert_eq!(t.sudo, Sudo::NoPassword);
    }

    #[test]
    fn approved_keys_are_pinned_and_disable_accept_new() {
        assert_eq!(host().target().trust.policy, HostKeyPolicy::Strict);
        let t = ManagedHost { accept_new: true, ..host() }.target();
        assert_eq!(t.trust.policy, HostKeyPolicy::AcceptNew);
        let key = PublicKey::from_openssh(KEY).unwrap();
        let t = ManagedHost { accept_new: true, approved_keys: vec![key.clone()], ..host() }.target();
        assert_eq!((t.trust.policy, t.trust.pinned), (HostKeyPolicy::Strict, vec![key]));
    }

    #[test]
    fn timeouts_default_as_for_inventory_hosts() {
        let (d, t) = (Timeouts::default(), host().target().timeouts);
        assert_eq!((t.connect, t.command, t.keepalive), (d.connect, d.command, d.keepalive));
        let t = ManagedHost { connect_timeout: Some(3), ..host() }.target().timeouts;
        assert_eq!((t.connect, t.command), (Duration::from_secs(3), d.command));
    }
}
