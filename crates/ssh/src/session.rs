//! Connecting to a host and logging in, each hop within its connect timeout.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::Disconnect;
use russh::client::{self, Handle};
use russh::keys::PublicKeyOrCertificate;
use thiserror::Error;
use tokio::net::TcpStream;

use crate::auth::authenticate;
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
    /// The host wrote more output than `MAX_STDOUT_BYTES` or `MAX_STDERR_BYTES` allow.
    OutputLimit,
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
            FailureKind::OutputLimit => "output_limit",
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
    /// Bounds each hop's whole login: TCP connect, SSH banner and key exchange, and
    /// authentication, so a host that accepts and then stalls cannot hold a scan slot. Also
    /// bounds how long sudo may take to ask for its password or start the shell.
    pub connect: Duration,
    /// Bounds one run of the collection script.
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
    /// Where the keys and password come from (`credential 'deploy'`), named when a login is
    /// refused so the reader knows which secret to fix.
    pub origin: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("private_keys", &format_args!("<{} redacted>", self.private_keys.len()))
            .field("identities", &self.identities)
            .field("passphrase", &self.passphrase.as_ref().map(|_| "<redacted>"))
            .field("agent", &self.agent)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("origin", &self.origin)
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

pub(crate) struct Client {
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
    pub(crate) name: String,
    pub(crate) handle: Handle<Client>,
    /// Kept open for as long as the session tunnels through it.
    jump: Option<Handle<Client>>,
    host_key: HostKeyStatus,
    host_public_key: Option<String>,
    pub(crate) sudo: Sudo,
    pub(crate) timeouts: Timeouts,
}

impl fmt::Debug for SshSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SshSession")
            .field("name", &self.name)
            .field("host_key", &self.host_key)
            .finish_non_exhaustive()
    }
}

pub(crate) fn err(kind: FailureKind, host: &str, message: impl Into<String>) -> SshError {
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
        keepalive_interval: Some(t.keepalive),
        keepalive_max: 3,
        inactivity_timeout: None,
        ..client::Config::default()
    })
}

/// How far a login got, so a timeout can say where the host stalled.
#[derive(Debug, Clone, Copy)]
enum Phase {
    Connecting,
    Handshake,
    Authentication,
}

impl Phase {
    fn describe(self) -> &'static str {
        match self {
            Phase::Connecting => "connecting",
            Phase::Handshake => "the SSH handshake (banner and key exchange)",
            Phase::Authentication => "authentication",
        }
    }
}

/// A connection whose host key was verified, with how it was trusted and the presented key.
type Verified = (Handle<Client>, HostKeyStatus, Option<String>);

async fn handshake(
    target: &SshTarget,
    via: Option<&Handle<Client>>,
    phase: &mut Phase,
) -> Result<Verified, SshError> {
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
                let socket =
                    TcpStream::connect((target.endpoint.host.as_str(), target.endpoint.port)).await?;
                // Without TCP_NODELAY every exchange waits on Nagle's algorithm (44 ms vs 1.6 ms).
                socket.set_nodelay(true)?;
                *phase = Phase::Handshake;
                client::connect_stream(cfg, socket, handler).await
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
                *phase = Phase::Handshake;
                client::connect_stream(cfg, channel.into_stream(), handler).await
            }
        }
    };
    let handle = attempt.await.map_err(|e| SshError {
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

/// Connect, verify the host key and authenticate within `target.timeouts.connect` as a whole.
async fn login(target: &SshTarget, via: Option<&Handle<Client>>) -> Result<Verified, SshError> {
    let mut phase = Phase::Connecting;
    let attempt = async {
        let (mut handle, status, key) = handshake(target, via, &mut phase).await?;
        phase = Phase::Authentication;
        authenticate(&mut handle, target).await?;
        Ok((handle, status, key))
    };
    let limit = target.timeouts.connect;
    let result = tokio::time::timeout(limit, attempt).await;
    result.unwrap_or_else(|_| {
        Err(err(
            FailureKind::Timeout,
            &target.name,
            format!(
                "timed out during {} with {} (the connect timeout, {}s, covers connecting, key exchange and authentication)",
                phase.describe(),
                target.endpoint,
                limit.as_secs_f64()
            ),
        ))
    })
}

impl SshSession {
    /// Connect (through the jump host if any), verify the host key and log in.
    pub async fn connect(target: &SshTarget) -> Result<SshSession, SshError> {
        let jump = match &target.jump {
            Some(j) => {
                let (handle, _, _) = login(j, None).await.map_err(|e| SshError {
                    message: format!("jump host {}: {}", j.endpoint, e.message),
                    host: target.name.clone(),
                    ..e
                })?;
                Some(handle)
            }
            None => None,
        };
        let (handle, host_key, host_public_key) = login(target, jump.as_ref()).await?;
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

    /// Close the connection (and the jump connection) politely.
    pub async fn close(self) {
        let _ = self.handle.disconnect(Disconnect::ByApplication, "", "en").await;
        if let Some(j) = self.jump {
            let _ = j.disconnect(Disconnect::ByApplication, "", "en").await;
        }
    }
}
