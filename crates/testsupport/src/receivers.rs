//! Real receivers for notification tests, on loopback: an HTTP server (axum) that records
//! every request (and answers 500 to the first N, to prove retries), and an SMTP server (the
//! `mailin` crate's SMTP engine over a TCP socket: plain, STARTTLS or implicit TLS) that
//! records every mail. Each runs on its own thread, so synchronous and asynchronous tests use
//! them alike; they live as long as the test process.

use std::io::{BufRead as _, BufReader, Write as _};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

/// One request the HTTP receiver got.
#[derive(Debug, Clone)]
pub struct Seen {
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Whether `X-OpenWatch-Signature` is `sha256=<hex HMAC-SHA256 of the body under key>`,
    /// checked with an HMAC implementation independent of the server's.
    pub fn signed_with(&self, key: &str) -> bool {
        use hmac::{KeyInit as _, Mac as _};
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
        mac.update(&self.body);
        let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        self.header("x-openwatch-signature") == Some(format!("sha256={hex}").as_str())
    }
}

#[derive(Debug, Default)]
pub struct Recorded {
    pub seen: Mutex<Vec<Seen>>,
    /// Answer 500 to this many requests first.
    pub fail_first: usize,
}

/// An HTTP receiver on loopback answering every POST; its URL (`.../hook`) and what it
/// recorded.
pub fn http(fail_first: usize) -> (String, Arc<Recorded>) {
    async fn take(State(r): State<Arc<Recorded>>, headers: HeaderMap, body: Bytes) -> StatusCode {
        let mut seen = r.seen.lock().unwrap();
        seen.push(Seen { headers, body: body.to_vec() });
        if seen.len() <= r.fail_first { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::OK }
    }
    let rec = Arc::new(Recorded { seen: Mutex::default(), fail_first });
    let app = axum::Router::new().route("/{*path}", axum::routing::post(take)).with_state(rec.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    (url, rec)
}

/// One mail the SMTP server accepted.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: Vec<String>,
    pub data: String,
    pub authenticated_as: Option<String>,
}

#[derive(Clone)]
struct MailHandler {
    mails: Arc<Mutex<Vec<Mail>>>,
    login: (String, String),
    to: Vec<String>,
    data: Vec<u8>,
    user: Option<String>,
}

impl mailin::Handler for MailHandler {
    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> mailin::Response {
        self.to = to.to_vec();
        self.data.clear();
        mailin::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> mailin::Response {
        let data = String::from_utf8_lossy(&self.data).into_owned();
        self.mails.lock().unwrap().push(Mail {
            to: self.to.clone(),
            data,
            authenticated_as: self.user.clone(),
        });
        mailin::response::OK
    }

    fn auth_plain(&mut self, _authz: &str, user: &str, password: &str) -> mailin::Response {
        if (user, password) == (self.login.0.as_str(), self.login.1.as_str()) {
            self.user = Some(user.to_owned());
            mailin::response::AUTH_OK
        } else {
            mailin::response::INVALID_CREDENTIALS
        }
    }
}

/// An SMTP server on loopback that accepts AUTH PLAIN with `user` and `password` (over
/// plain TCP: a test relay); its port and the mails it accepted.
pub fn smtp(user: &str, password: &str) -> (u16, Arc<Mutex<Vec<Mail>>>) {
    smtp_server(user, password, Security::Plain)
}

/// The same, offering STARTTLS with this certificate chain and key (PEM) and refusing AUTH
/// before it.
pub fn smtp_starttls(
    user: &str,
    password: &str,
    cert_pem: &[u8],
    key_pem: &[u8],
) -> (u16, Arc<Mutex<Vec<Mail>>>) {
    smtp_server(user, password, Security::StartTls(tls_config(cert_pem, key_pem)))
}

/// The same over implicit TLS (SMTPS, as on port 465): TLS from the first byte, no STARTTLS.
pub fn smtp_tls(user: &str, password: &str, cert_pem: &[u8], key_pem: &[u8]) -> (u16, Arc<Mutex<Vec<Mail>>>) {
    smtp_server(user, password, Security::Implicit(tls_config(cert_pem, key_pem)))
}

fn tls_config(cert_pem: &[u8], key_pem: &[u8]) -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(cert_pem).collect::<Result<_, _>>().expect("a PEM certificate");
    let key = PrivateKeyDer::from_pem_slice(key_pem).expect("a PEM key");
    let config =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("a certificate and its key");
    Arc::new(config)
}

/// How the SMTP server meets TLS.
#[derive(Clone)]
enum Security {
    /// None: AUTH over plain TCP (a test relay).
    Plain,
    /// Offered by STARTTLS; AUTH only after it.
    StartTls(Arc<rustls::ServerConfig>),
    /// From the first byte.
    Implicit(Arc<rustls::ServerConfig>),
}

fn smtp_server(user: &str, password: &str, security: Security) -> (u16, Arc<Mutex<Vec<Mail>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mails = Arc::new(Mutex::new(Vec::new()));
    let handler = MailHandler {
        mails: mails.clone(),
        login: (user.to_owned(), password.to_owned()),
        to: Vec::new(),
        data: Vec::new(),
        user: None,
    };
    let mut builder = mailin::SessionBuilder::new("smtp.test");
    builder.enable_auth(mailin::AuthMechanism::Plain);
    match security {
        Security::Plain => {
            builder.insecure_enable_plaintext_auth();
        }
        // Implicit TLS too: the session is told TLS is active before the greeting.
        Security::StartTls(_) | Security::Implicit(_) => {
            builder.enable_start_tls();
        }
    }
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let Ok(peer) = stream.peer_addr() else { continue };
            let mut session = builder.build(peer.ip(), handler.clone());
            let security = security.clone();
            std::thread::spawn(move || match security {
                Security::Implicit(config) => {
                    let Ok(conn) = rustls::ServerConnection::new(config) else { return };
                    session.tls_active();
                    let mut tls = rustls::StreamOwned::new(conn, stream);
                    if session.greeting().write_to(&mut tls).is_err() || tls.flush().is_err() {
                        return;
                    }
                    converse(&mut session, tls);
                }
                Security::Plain | Security::StartTls(_) => {
                    if session.greeting().write_to(&mut stream).is_err() {
                        return;
                    }
                    let Some(plain) = converse(&mut session, stream) else { return };
                    let Security::StartTls(config) = security else { return };
                    let Ok(conn) = rustls::ServerConnection::new(config) else { return };
                    session.tls_active();
                    converse(&mut session, rustls::StreamOwned::new(conn, plain));
                }
            });
        }
    });
    (port, mails)
}

/// Answer SMTP commands on `stream` until the client leaves (`None`) or asks for STARTTLS
/// (the stream back, to wrap in TLS).
fn converse<S: std::io::Read + std::io::Write>(
    session: &mut mailin::Session<MailHandler>,
    stream: S,
) -> Option<S> {
    let mut input = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line).unwrap_or(0) == 0 {
            return None;
        }
        let res = session.process(&line);
        match res.action {
            mailin::Action::Reply => res.write_to(input.get_mut()).ok()?,
            mailin::Action::Close => {
                let _ = res.write_to(input.get_mut());
                return None;
            }
            mailin::Action::UpgradeTls => {
                res.write_to(input.get_mut()).ok()?;
                input.get_mut().flush().ok()?;
                return Some(input.into_inner());
            }
            mailin::Action::NoReply => {}
        }
        input.get_mut().flush().ok()?;
    }
}
