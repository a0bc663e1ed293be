//! Server configuration: built-in defaults, then `openwatch.toml`, then `OPENWATCH_*`
//! environment variables, then command-line flags (applied by the caller). Every key and its
//! default is documented in docs/server.md.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use serde::{Deserialize, Serialize};

use crate::http::client_addr::TrustedProxies;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the API and web UI listen on.
    pub listen: SocketAddr,
    /// Directory for the SQLite database and the credential and audit keys.
    pub data_dir: PathBuf,
    /// `sqlite:PATH` or `postgres://...`; empty means `sqlite:<data_dir>/openwatch.db`.
    pub database_url: String,
    /// Connections in the database pool.
    pub database_connections: u32,
    /// File with the 32-byte credential encryption key; empty means `<data_dir>/credential.key`.
    pub credential_key_file: PathBuf,
    /// File with the 32-byte key of the audit hash chain; empty means `<data_dir>/audit.key`.
    pub audit_key_file: PathBuf,
    /// PEM certificate chain and private key; both set means HTTPS.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// The origin browsers use to reach the server (for CSRF checks behind a proxy), e.g.
    /// `https://openwatch.example.com`; empty means the request's own Host.
    pub public_origin: String,
    /// Reverse proxies (addresses or CIDR blocks) whose `X-Forwarded-For` names the client;
    /// empty means the TCP peer is the client and the header is ignored.
    pub trusted_proxies: TrustedProxies,
    /// Scans run at once by this process's workers.
    pub worker_concurrency: usize,
    /// A job's lease; workers renew it every third of this while they run.
    pub job_lease_secs: u64,
    /// Attempts before a scan job fails for good.
    pub job_max_attempts: i64,
    /// First retry delay; doubles with each attempt.
    pub job_retry_base_secs: u64,
    /// How often the scheduler and the reaper look for work.
    pub scheduler_tick_secs: u64,
    /// Adaptive scanning: the interval for hosts by their worst failing severity.
    pub adaptive_critical_hours: u64,
    pub adaptive_high_hours: u64,
    pub adaptive_medium_hours: u64,
    pub adaptive_low_hours: u64,
    pub adaptive_compliant_hours: u64,
    /// Whether hosts without a schedule are scanned adaptively.
    pub adaptive_enabled: bool,
    /// Sessions end after this long without a request, and this long after login at most.
    pub session_idle_minutes: u64,
    pub session_absolute_hours: u64,
    /// How often an open event stream re-checks that its session or token still allows it.
    pub events_recheck_secs: u64,
    /// Failed sign-ins per user name from one source address per 15 minutes before that
    /// pair is refused (a source is refused after five times as many, whatever the names).
    pub login_max_failures: u32,
    /// SSH connect timeout for scans.
    pub ssh_connect_timeout_secs: u64,
    /// Whether scans walk the file system (world-writable, unowned, SUID files). The walk is
    /// the slowest part of a scan; without it those rules are reported as skipped.
    pub scan_walks: bool,
    /// Register this machine as host `localhost` and scan it at first start.
    pub register_localhost: bool,
    /// Log format: `text` or `json`.
    pub log_format: String,
    /// Whether a remediation whose previewed fixes are all low risk runs without a second
    /// person's approval. Medium and high risk always need one.
    pub fix_auto_approve_low: bool,
    /// The directory on each host where fix transactions are journaled (root only).
    pub fix_journal_dir: String,
    /// Seconds a fresh SSH connection has to confirm access after a change that can cut it,
    /// before the host's deadman restores the pre-state.
    pub fix_deadman_secs: u32,
    /// The longest an exception may run, in days from the day it is requested.
    pub exception_max_days: u32,
    /// Roles whose members must use a second factor (an authenticator app or a security
    /// key); a member without one enrols one before anything else.
    pub second_factor_roles: Vec<String>,
    /// Who may sign in with a password: `all`, or `break_glass` (only `break_glass_users`;
    /// everyone else through an identity provider or a security key).
    pub local_sign_in: LocalSignIn,
    pub break_glass_users: Vec<String>,
    /// The WebAuthn relying party: a domain, the host of `public_origin` when empty (or of
    /// the request when that is empty too).
    pub webauthn_rp_id: String,
    /// OpenID Connect identity providers offered on the sign-in page.
    pub oidc_providers: Vec<OidcProvider>,
}

/// Who may sign in with a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LocalSignIn {
    All,
    BreakGlass,
}

/// One OpenID Connect provider (authorization code flow with PKCE).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcProvider {
    /// In addresses (`/auth/oidc/<name>`) and audit events: lower-case letters, digits, `-`.
    pub name: String,
    /// The sign-in button's text; `Sign in with <name>` when empty.
    #[serde(default)]
    pub title: String,
    /// The issuer; its discovery document is `<issuer>/.well-known/openid-configuration`.
    pub issuer: String,
    pub client_id: String,
    /// A file holding the client secret (kept out of this file and off command lines); none
    /// for a public client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_file: Option<PathBuf>,
    #[serde(default = "OidcProvider::default_scopes")]
    pub scopes: Vec<String>,
    /// The ID token claim that names the OpenWatch user.
    #[serde(default = "OidcProvider::default_username_claim")]
    pub username_claim: String,
    /// The ID token claim listing the user's groups or roles at the provider.
    #[serde(default = "OidcProvider::default_groups_claim")]
    pub groups_claim: String,
    /// Provider groups to OpenWatch roles, first match wins; applied at every sign-in.
    #[serde(default)]
    pub role_mapping: Vec<RoleMapping>,
    /// The role of a user no mapping matches; none refuses them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_role: Option<String>,
    /// Create users on their first sign-in; otherwise an account of that name must exist.
    #[serde(default = "OidcProvider::yes")]
    pub create_users: bool,
    /// Trust the provider's own second factor: `second_factor_roles` then asks nothing more
    /// of users who sign in here.
    #[serde(default)]
    pub provider_second_factor: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleMapping {
    pub group: String,
    pub role: String,
}

impl OidcProvider {
    fn default_scopes() -> Vec<String> {
        ["openid", "profile", "email"].map(String::from).to_vec()
    }
    fn default_username_claim() -> String {
        "preferred_username".into()
    }
    fn default_groups_claim() -> String {
        "groups".into()
    }
    fn yes() -> bool {
        true
    }

    /// The role for these provider groups, if any.
    pub fn role_for(&self, groups: &[String]) -> Option<String> {
        self.role_mapping
            .iter()
            .find(|m| groups.contains(&m.group))
            .map(|m| m.role.clone())
            .or_else(|| self.default_role.clone())
    }

    /// The button's text.
    pub fn label(&self) -> String {
        if self.title.is_empty() { format!("Sign in with {}", self.name) } else { self.title.clone() }
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("openwatch-data"),
            database_url: String::new(),
            database_connections: 8,
            credential_key_file: PathBuf::new(),
            audit_key_file: PathBuf::new(),
            tls_cert: None,
            tls_key: None,
            public_origin: String::new(),
            trusted_proxies: TrustedProxies::default(),
            worker_concurrency: 8,
            job_lease_secs: 60,
            job_max_attempts: 3,
            job_retry_base_secs: 30,
            scheduler_tick_secs: 15,
            adaptive_critical_hours: 4,
            adaptive_high_hours: 12,
            adaptive_medium_hours: 24,
            adaptive_low_hours: 36,
            adaptive_compliant_hours: 48,
            adaptive_enabled: true,
            session_idle_minutes: 30,
            session_absolute_hours: 12,
            events_recheck_secs: 30,
            login_max_failures: 10,
            ssh_connect_timeout_secs: 10,
            scan_walks: true,
            register_localhost: true,
            log_format: "text".into(),
            fix_auto_approve_low: false,
            fix_journal_dir: openwatch_collect::txn::JOURNAL_DIR.into(),
            fix_deadman_secs: openwatch_collect::deadman::DEFAULT_SECS,
            exception_max_days: 365,
            second_factor_roles: Vec::new(),
            local_sign_in: LocalSignIn::All,
            break_glass_users: vec!["admin".into()],
            webauthn_rp_id: String::new(),
            oidc_providers: Vec::new(),
        }
    }
}

const ENV_PREFIX: &str = "OPENWATCH_";

impl Config {
    /// Defaults, overlaid by the TOML file (when `file` exists or was named explicitly) and
    /// by `OPENWATCH_<KEY>` environment variables.
    pub fn load(file: Option<&Path>) -> Result<Config> {
        Config::load_with(file, std::env::vars())
    }

    /// [`Config::load`] with the environment given, so it can be tested.
    pub fn load_with(file: Option<&Path>, env: impl IntoIterator<Item = (String, String)>) -> Result<Config> {
        let mut table = toml::Table::try_from(Config::default()).context("default configuration")?;
        let (path, explicit) = match file {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from("openwatch.toml"), false),
        };
        if explicit || path.exists() {
            let text =
                std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            let file_table: toml::Table =
                toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            for (k, v) in file_table {
                if !table.contains_key(&k) && !Config::optional_keys().contains(&k.as_str()) {
                    bail!("{}: unknown setting `{k}` (see docs/server.md)", path.display());
                }
                table.insert(k, v);
            }
        }
        for (key, value) in env {
            let Some(name) = key.strip_prefix(ENV_PREFIX) else { continue };
            let name = name.to_ascii_lowercase();
            if !table.contains_key(&name) && !Config::optional_keys().contains(&name.as_str()) {
                continue; // other OPENWATCH_* variables (the admin password, test knobs)
            }
            // A TOML value when it parses as one (numbers, booleans, lists), else a string.
            let parsed = toml::from_str::<toml::Table>(&format!("v = {value}"))
                .ok()
                .and_then(|mut t| t.remove("v"))
                .unwrap_or(toml::Value::String(value));
            table.insert(name, parsed);
        }
        let cfg: Config = table.try_into().map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn optional_keys() -> &'static [&'static str] {
        &["tls_cert", "tls_key"]
    }

    pub fn validate(&self) -> Result<()> {
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            bail!("tls_cert and tls_key must be given together");
        }
        if self.worker_concurrency == 0 && self.job_lease_secs == 0 {
            bail!("job_lease_secs must be positive");
        }
        if !self.fix_journal_dir.starts_with('/') {
            bail!("fix_journal_dir must be an absolute path, not `{}`", self.fix_journal_dir);
        }
        if !(10..=3600).contains(&self.fix_deadman_secs) {
            bail!("fix_deadman_secs must be between 10 and 3600, not {}", self.fix_deadman_secs);
        }
        if !(1..=3650).contains(&self.exception_max_days) {
            bail!("exception_max_days must be between 1 and 3650, not {}", self.exception_max_days);
        }
        let mut names = std::collections::BTreeSet::new();
        for p in &self.oidc_providers {
            if p.name.is_empty()
                || !p.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                bail!("oidc_providers: name `{}` must be lower-case letters, digits and -", p.name);
            }
            if !names.insert(p.name.as_str()) {
                bail!("oidc_providers: `{}` is configured twice", p.name);
            }
            if !(p.issuer.starts_with("https://") || p.issuer.starts_with("http://")) {
                bail!("oidc_providers.{}: issuer must be an http(s) address, not `{}`", p.name, p.issuer);
            }
            if !p.scopes.iter().any(|s| s == "openid") {
                bail!("oidc_providers.{}: scopes must include openid", p.name);
            }
        }
        if !["text", "json"].contains(&self.log_format.as_str()) {
            bail!("log_format must be `text` or `json`, not `{}`", self.log_format);
        }
        Ok(())
    }

    pub fn database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!("sqlite:{}", self.data_dir.join("openwatch.db").display())
        } else {
            self.database_url.clone()
        }
    }

    pub fn credential_key_path(&self) -> PathBuf {
        if self.credential_key_file.as_os_str().is_empty() {
            self.data_dir.join("credential.key")
        } else {
            self.credential_key_file.clone()
        }
    }

    pub fn audit_key_path(&self) -> PathBuf {
        if self.audit_key_file.as_os_str().is_empty() {
            self.data_dir.join("audit.key")
        } else {
            self.audit_key_file.clone()
        }
    }

    pub fn tls(&self) -> bool {
        self.tls_cert.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_environment_override_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("openwatch.toml");
        std::fs::write(&path, "listen = \"0.0.0.0:9000\"\nworker_concurrency = 3\n").unwrap();
        let cfg = Config::load(Some(&path)).unwrap();
        assert_eq!(cfg.listen.port(), 9000);
        assert_eq!(cfg.worker_concurrency, 3);
        assert_eq!(cfg.session_idle_minutes, 30);
        assert_eq!(cfg.database_url(), "sqlite:openwatch-data/openwatch.db");
    }

    #[test]
    fn trusted_proxies_come_from_the_file_or_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("openwatch.toml");
        std::fs::write(&path, "trusted_proxies = [\"10.0.0.0/8\", \"::1\"]\n").unwrap();
        let trusts = |c: &Config, ip: &str| c.trusted_proxies.trusts(ip.parse().unwrap());
        let cfg = Config::load_with(Some(&path), []).unwrap();
        assert!(trusts(&cfg, "10.1.2.3") && trusts(&cfg, "::1") && !trusts(&cfg, "127.0.0.1"));
        let env = |v: &str| [("OPENWATCH_TRUSTED_PROXIES".to_owned(), v.to_owned())];
        let cfg = Config::load_with(Some(&path), env("127.0.0.1, 192.0.2.0/24")).unwrap();
        assert!(trusts(&cfg, "127.0.0.1") && trusts(&cfg, "192.0.2.77") && !trusts(&cfg, "10.1.2.3"));
        let cfg = Config::load_with(None, env(r#"["192.0.2.1"]"#)).unwrap();
        assert!(trusts(&cfg, "192.0.2.1"));
        assert!(Config::load_with(None, []).unwrap().trusted_proxies.is_empty());
        let err = Config::load_with(None, env("proxy.internal")).unwrap_err().to_string();
        assert!(err.contains("proxy.internal"), "{err}");
    }

    #[test]
    fn unknown_keys_in_the_file_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("openwatch.toml");
        std::fs::write(&path, "listn = \"0.0.0.0:9000\"\n").unwrap();
        assert!(Config::load(Some(&path)).unwrap_err().to_string().contains("unknown setting `listn`"));
    }
}
