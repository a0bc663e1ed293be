//! Connecting, authenticating and running a collection script over SSH.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openwatch_collect::ScriptOutput;
use russh::client::{self, Handle};
use russh::keys::agent::AgentIdentity;
use russh::keys::agent::client::AgentClient;
use russh::keys::{PrivateKeyWithHashAlg, PublicKeyOrCertificate, load_secret_key};
use russh::{ChannelMsg, Disconnect};
use thiserror::Error;

use crate::endpoint::Endpoint;
use crate::hostkey::{HostKeyProblem, HostKeyStatus, HostKeyTrust};

/// What went wrong with a host, for reports and exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    Unreachable,
    Timeout,
    HostKey,
    Auth,
    Sudo,
    Protocol,
}

impl FailureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Unreachable => "unreachable",
            FailureKind::Timeout => "timeout",
            FailureKind::HostKey => "host_key",
            FailureKind::Auth => "auth",
            FailureKind::Sudo => "sudo",
            FailureKind::Protocol => "protocol",
        }
    }
}

/// A failure on one host; the message never contains a secret.
#[derive(Debug, Clone, Error)]
#[error("{host}: {message}")]
pub struct SshError {
    pub kind: FailureKind,
    pub host: String,
    pub message: String,
    /// For host key failures: the key the server presented (`ssh-ed25519 AAAA...`), so a
    /// caller can show it for approval.
    pub presented_key: Option<String>,
}

#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    pub command: Duration,
    pub keepalive: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            connect: Duration::from_secs(10),
            command: Duration::from_secs(600),
            keepalive: Duration::from_secs(15),
        }
    }
}

/// How to become root on the host.
#[derive(Clone, PartialEq, Eq)]
pub enum Sudo {
    None,
    /// `sudo -n`: passwordless sudo.
    NoPassword,
    /// `sudo -S` with this password fed on standard input (never on a command line).
    Password(String),
}

impl fmt::Debug for Sudo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Sudo::None => "None",
            Sudo::NoPassword => "NoPassword",
            Sudo::Password(_) => "Password(<redacted>)",
        })
    }
}

/// Ways to log in, tried in order: identity files, the ssh-agent, a password.
#[derive(Clone, Default)]
pub struct Credentials {
    /// Private keys held in memory (OpenSSH or PEM text), tried before `identities`.
    pub private_keys: Vec<String>,
    pub identities: Vec<PathBuf>,
    pub passphrase: Option<String>,
    pub agent: bool,
    pub password: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("private_keys", &format_args!("<{} redacted>", self.private_keys.len()))
            .field("identities", &self.identities)
            .field("passphrase", &self.passphrase.as_ref().map(|_| "<redacted>"))
            .field("agent", &self.agent)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Everything needed to reach and log in to one host.
#[derive(Debug, Clone)]
pub struct SshTarget {
    /// The name reports use.
    pub name: String,
    pub endpoint: Endpoint,
    pub user: String,
    pub credentials: Credentials,
    pub sudo: Sudo,
    pub trust: HostKeyTrust,
    pub jump: Option<Box<SshTarget>>,
    pub timeouts: Timeouts,
}

type Outcome = Arc<Mutex<Option<Result<HostKeyStatus, HostKeyProblem>>>>;
/// The key the server presented, in OpenSSH public key form.
type Presented = Arc<Mutex<Option<String>>>;

struct Client {
    host: String,
    port: u16,
    trust: HostKeyTrust,
    outcome: Outcome,
    presented: Presented,
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(&mut self, key: &PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        let result = match key {
            PublicKeyOrCertificate::PublicKey { key, .. } => {
                *self.presented.lock().expect("presented key lock") = key.to_openssh().ok();
                self.trust.verify(&self.host, self.port, key)
            }
            PublicKeyOrCertificate::Certificate(_) => Err(HostKeyProblem::Unreadable {
                reason: "host certificates are not supported; pin the host key".into(),
            }),
        };
        let ok = result.is_ok();
        *self.outcome.lock().expect("host key lock") = Some(result);
        Ok(ok)
    }
}

/// An authenticated connection to one host.
pub struct SshSession {
    name: String,
    handle: Handle<Client>,
    /// Kept open for as long as the session tunnels through it.
    jump: Option<Handle<Client>>,
    host_key: HostKeyStatus,
    host_public_key: Option<String>,
    sudo: Sudo,
    timeouts: Timeouts,
}

impl fmt::Debug for SshSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SshSession")
            .field("name", &self.name)
            .field("host_key", &self.host_key)
            .finish_non_exhaustive()
    }
}

fn err(kind: FailureKind, host: &str, message: impl Into<String>) -> SshError {
    SshError { kind, host: host.to_owned(), message: message.into(), presented_key: None }
}

fn connect_error(target: &SshTarget, e: russh::Error, outcome: &Outcome) -> SshError {
    let host = &target.name;
    let problem = outcome.lock().expect("host key lock").take();
    match (e, problem) {
        (_, Some(Err(HostKeyProblem::Changed { presented, expected }))) => err(
            FailureKind::HostKey,
            host,
            format!(
                "HOST KEY CHANGED for {}: it presented {presented} but {} is trusted; this may be a man-in-the-middle attack, so the host is not scanned",
                target.endpoint,
                expected.join(", ")
            ),
        ),
        (_, Some(Err(HostKeyProblem::Unknown { presented }))) => err(
            FailureKind::HostKey,
            host,
            format!(
                "unknown host key {presented} for {}: verify it and add it to {}, pin it, or pass --accept-new-host-keys",
                target.endpoint,
                target
                    .trust
                    .known_hosts
                    .as_ref()
                    .map_or("a known_hosts file".to_owned(), |p| p.display().to_string())
            ),
        ),
        (_, Some(Err(HostKeyProblem::Unreadable { reason }))) => err(FailureKind::HostKey, host, reason),
        (russh::Error::IO(io), _) => {
            err(FailureKind::Unreachable, host, format!("cannot connect to {}: {io}", target.endpoint))
        }
        (russh::Error::ConnectionTimeout | russh::Error::KeepaliveTimeout, _) => {
            err(FailureKind::Timeout, host, format!("{} stopped answering", target.endpoint))
        }
        (e, _) => err(FailureKind::Protocol, host, format!("SSH with {} failed: {e}", target.endpoint)),
    }
}

fn config(t: &Timeouts) -> Arc<client::Config> {
    Arc::new(client::Config {
        // Without TCP_NODELAY every exchange waits on Nagle's algorithm (44 ms vs 1.6 ms).
        nodelay: true,
        keepalive_interval: Some(t.keepalive),
        keepalive_max: 3,
        inactivity_timeout: None,
        ..client::Config::default()
    })
}

async fn handshake(
    target: &SshTarget,
    via: Option<&Handle<Client>>,
) -> Result<(Handle<Client>, HostKeyStatus, Option<String>), SshError> {
    let outcome: Outcome = Arc::new(Mutex::new(None));
    let presented: Presented = Arc::new(Mutex::new(None));
    let handler = Client {
        host: target.endpoint.host.clone(),
        port: target.endpoint.port,
        trust: target.trust.clone(),
        outcome: outcome.clone(),
        presented: presented.clone(),
    };
    let cfg = config(&target.timeouts);
    let attempt = async {
        match via {
            None => {
                client::connect(cfg, (target.endpoint.host.as_str(), target.endpoint.port), handler).await
            }
            Some(jump) => {
                let channel = jump
                    .channel_open_direct_tcpip(
                        target.endpoint.host.clone(),
                        u32::from(target.endpoint.port),
                        "127.0.0.1",
                        0,
                    )
                    .await?;
                client::connect_stream(cfg, channel.into_stream(), handler).await
            }
        }
    };
    let handle = tokio::time::timeout(target.timeouts.connect, attempt)
        .await
        .map_err(|_| {
            err(
                FailureKind::Timeout,
                &target.name,
                format!("no SSH answer from {} within {:?}", target.endpoint, target.timeouts.connect),
            )
        })?
        .map_err(|e| SshError {
            presented_key: presented.lock().expect("presented key lock").clone(),
            ..connect_error(target, e, &outcome)
        })?;
    let status = match outcome.lock().expect("host key lock").take() {
        Some(Ok(status)) => status,
        _ => {
            return Err(err(FailureKind::HostKey, &target.name, "the server's host key was never checked"));
        }
    };
    let key = presented.lock().expect("presented key lock").take();
    Ok((handle, status, key))
}

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

async fn authenticate(handle: &mut Handle<Client>, target: &SshTarget) -> Result<(), SshError> {
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

/// The prompt sudo prints when it reads the password from stdin; removed from stderr.
const SUDO_PROMPT: &str = "[openwatch sudo password]";

impl SshSession {
    /// Connect (through the jump host if any), verify the host key and log in.
    pub async fn connect(target: &SshTarget) -> Result<SshSession, SshError> {
        let jump = match &target.jump {
            Some(j) => {
                let (mut handle, _, _) = handshake(j, None).await.map_err(|e| SshError {
                    message: format!("jump host {}: {}", j.endpoint, e.message),
                    host: target.name.clone(),
                    ..e
                })?;
                authenticate(&mut handle, j).await.map_err(|e| SshError {
                    message: format!("jump host {}: {}", j.endpoint, e.message),
                    host: target.name.clone(),
                    ..e
                })?;
                Some(handle)
            }
            None => None,
        };
        let (mut handle, host_key, host_public_key) = handshake(target, jump.as_ref()).await?;
        authenticate(&mut handle, target).await?;
        Ok(SshSession {
            name: target.name.clone(),
            handle,
            jump,
            host_key,
            host_public_key,
            sudo: target.sudo.clone(),
            timeouts: target.timeouts,
        })
    }

    pub fn host_key(&self) -> &HostKeyStatus {
        &self.host_key
    }

    /// The host key the server presented, in OpenSSH public key form.
    pub fn host_public_key(&self) -> Option<&str> {
        self.host_public_key.as_deref()
    }

    /// Run `script` with /bin/sh (as root through sudo when asked) on one channel: one round
    /// trip. The script travels on stdin, never on a command line.
    pub async fn run_script(&mut self, script: &str) -> Result<ScriptOutput, SshError> {
        let name = self.name.clone();
        let proto = |e: russh::Error| {
            err(FailureKind::Protocol, &name, format!("running the collection script: {e}"))
        };
        let command = match &self.sudo {
            Sudo::None => "/bin/sh -s".to_owned(),
            Sudo::NoPassword => "sudo -n -- /bin/sh -s".to_owned(),
            Sudo::Password(_) => format!("sudo -S -p '{SUDO_PROMPT}' -- /bin/sh -s"),
        };
        let run = async {
            let channel = self.handle.channel_open_session().await.map_err(proto)?;
            channel.exec(true, command).await.map_err(proto)?;
            let mut input = Vec::with_capacity(script.len() + 64);
            if let Sudo::Password(pw) = &self.sudo {
                input.extend_from_slice(pw.as_bytes());
                input.push(b'\n');
            }
            input.extend_from_slice(script.as_bytes());
            channel.data_bytes(input).await.map_err(proto)?;
            channel.eof().await.map_err(proto)?;
            let mut channel = channel;
            let (mut stdout, mut stderr, mut code) = (Vec::new(), Vec::new(), None);
            while let Some(msg) = channel.wait().await {
                match msg {
                    ChannelMsg::Data { data } => stdout.extend_from_slice(&data),
                    ChannelMsg::ExtendedData { data, ext: 1 } => stderr.extend_from_slice(&data),
                    ChannelMsg::ExitStatus { exit_status } => code = Some(exit_status as i32),
                    ChannelMsg::Close => break,
                    _ => {}
                }
            }
            Ok::<_, SshError>(ScriptOutput { stdout, stderr, exit_code: code, round_trips: 1 })
        };
        let mut out = tokio::time::timeout(self.timeouts.command, run).await.map_err(|_| {
            err(
                FailureKind::Timeout,
                &self.name,
                format!("the collection script did not finish within {:?}", self.timeouts.command),
            )
        })??;
        let stderr = String::from_utf8_lossy(&out.stderr).replace(SUDO_PROMPT, "");
        if self.sudo != Sudo::None && out.exit_code != Some(0) && stderr.contains("sudo:") {
            let first = stderr.lines().find(|l| l.contains("sudo:")).unwrap_or("").trim().to_owned();
            return Err(err(FailureKind::Sudo, &self.name, format!("sudo refused: {first}")));
        }
        out.stderr = stderr.into_bytes();
        Ok(out)
    }

    /// Close the connection (and the jump connection) politely.
    pub async fn close(self) {
        let _ = self.handle.disconnect(Disconnect::ByApplication, "", "en").await;
        if let Some(j) = self.jump {
            let _ = j.disconnect(Disconnect::ByApplication, "", "en").await;
        }
    }
}
