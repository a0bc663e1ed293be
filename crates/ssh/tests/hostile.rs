//! Hostile SSH servers on loopback, started by each test: one that never sends its banner,
//! one that stalls authentication, and ones that flood standard output or standard error.
//! Every call is guarded so that a hang fails the test instead of blocking the run.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use openwatch_ssh::{
    Credentials, Endpoint, FailureKind, HostKeyPolicy, HostKeyTrust, MAX_STDERR_BYTES, MAX_STDOUT_BYTES,
    SshError, SshSession, SshTarget, Sudo, Timeouts,
};
use russh::keys::ssh_key::private::Ed25519Keypair;
use russh::keys::{PrivateKey, PublicKey};
use russh::server::{self, Auth, ChannelOpenHandle, Msg, Session};
use russh::{Channel, ChannelId};
use tokio::net::TcpListener;

/// Long enough for any healthy run on a loaded machine; reaching it means a hang.
const HANG: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Copy)]
enum Behaviour {
    /// Never answers the password.
    StallAuthentication,
    /// Writes this many bytes to standard output (1) or standard error (2), then exits 0.
    Flood { ext: u32, bytes: usize },
}

#[derive(Debug)]
struct Hostile(Behaviour);

impl server::Handler for Hostile {
    type Error = russh::Error;

    async fn auth_password(&mut self, _: &str, _: &str) -> Result<Auth, Self::Error> {
        match self.0 {
            Behaviour::StallAuthentication => std::future::pending().await,
            Behaviour::Flood { .. } => Ok(Auth::Accept),
        }
    }

    async fn channel_open_session(
        &mut self,
        _: Channel<Msg>,
        reply: ChannelOpenHandle,
        _: &mut Session,
    ) -> Result<(), Self::Error> {
        reply.accept().await;
        Ok(())
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        _: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)?;
        let Behaviour::Flood { ext, bytes } = self.0 else { return Ok(()) };
        let handle = session.handle();
        tokio::spawn(async move {
            const CHUNK: usize = 32 * 1024;
            for _ in 0..bytes / CHUNK {
                let chunk = vec![b'y'; CHUNK];
                let sent = if ext == 1 {
                    handle.data(channel, chunk).await
                } else {
                    handle.extended_data(channel, 1, chunk).await
                };
                if sent.is_err() {
                    return; // the client hung up, as it should at the cap
                }
            }
            let _ = handle.exit_status_request(channel, 0).await;
            let _ = handle.close(channel).await;
        });
        Ok(())
    }
}

fn host_key() -> PrivateKey {
    PrivateKey::from(Ed25519Keypair::from_seed(&[7; 32]))
}

/// Serve `behaviour` on a loopback port; the server lives as long as the test's runtime.
async fn serve(behaviour: Behaviour) -> SocketAddr {
    let config = Arc::new(server::Config { keys: vec![host_key()], ..server::Config::default() });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let config = config.clone();
            tokio::spawn(async move {
                if let Ok(session) = server::run_stream(config, socket, Hostile(behaviour)).await {
                    let _ = session.await;
                }
            });
        }
    });
    addr
}

fn target(addr: SocketAddr, connect: Duration) -> SshTarget {
    let public: PublicKey = host_key().public_key().clone();
    SshTarget {
        name: "hostile".into(),
        endpoint: Endpoint { user: Some("scanner".into()), host: addr.ip().to_string(), port: addr.port() },
        user: "scanner".into(),
        credentials: Credentials { password: Some("pw".into()), ..Credentials::default() },
        sudo: Sudo::None,
        trust: HostKeyTrust { known_hosts: None, pinned: vec![public], policy: HostKeyPolicy::Strict },
        jump: None,
        timeouts: Timeouts { connect, ..Timeouts::default() },
    }
}

async fn connect(target: &SshTarget) -> Result<SshSession, SshError> {
    tokio::time::timeout(HANG, SshSession::connect(target)).await.expect("connect hung")
}

#[tokio::test]
async fn a_server_that_never_sends_its_banner_times_out_in_the_handshake() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Accept and hold the connection without writing a byte.
    let held = tokio::spawn(async move { listener.accept().await });
    let e = connect(&target(addr, Duration::from_secs(1))).await.unwrap_err();
    assert_eq!(e.kind, FailureKind::Timeout, "{e}");
    assert!(e.message.contains("SSH handshake"), "names the phase: {e}");
    held.abort();
}

#[tokio::test]
async fn a_server_that_stalls_authentication_times_out_in_authentication() {
    let addr = serve(Behaviour::StallAuthentication).await;
    let e = connect(&target(addr, Duration::from_secs(2))).await.unwrap_err();
    assert_eq!(e.kind, FailureKind::Timeout, "{e}");
    assert!(e.message.contains("during authentication"), "names the phase: {e}");
    assert!(e.message.contains("connect timeout"), "says which setting to raise: {e}");
}

async fn flood(ext: u32, cap: usize) -> SshError {
    let addr = serve(Behaviour::Flood { ext, bytes: 4 * cap }).await;
    let mut session = connect(&target(addr, Duration::from_secs(30))).await.unwrap();
    let run = tokio::time::timeout(HANG, session.run_script("exit 0\n")).await.expect("run_script hung");
    session.close().await;
    match run {
        Ok(out) => panic!(
            "four times the cap was read whole: {} bytes of standard output, {} of standard error",
            out.stdout.len(),
            out.stderr.len()
        ),
        Err(e) => e,
    }
}

#[tokio::test]
async fn a_host_flooding_standard_output_is_cut_off_at_the_cap() {
    let e = flood(1, MAX_STDOUT_BYTES).await;
    assert_eq!(e.kind, FailureKind::OutputLimit, "{e}");
    assert_eq!(e.kind.as_str(), "output_limit");
    assert!(e.message.contains("more than 64 MiB to standard output"), "{e}");
}

#[tokio::test]
async fn a_host_flooding_standard_error_is_cut_off_at_the_cap() {
    let e = flood(2, MAX_STDERR_BYTES).await;
    assert_eq!(e.kind, FailureKind::OutputLimit, "{e}");
    assert!(e.message.contains("more than 1 MiB to standard error"), "{e}");
}
