//! A forward HTTP proxy that lets the test hosts, which have no route out, install Debian
//! packages: apt inside a host sends its requests to this machine, which fetches them from
//! the origin and streams the answers back. Only hosts that an apt sources file names (this
//! machine's, or the test base's) are fetched, and only test hosts (10.201.0.0/24) are
//! served, so a test reaches the package mirror and nothing else.

use std::collections::BTreeSet;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use reqwest::Url;
use reqwest::header::{HeaderName, HeaderValue};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// This machine's address on the test hosts' bridge (owbr0), where the hosts reach the proxy.
pub const BRIDGE: Ipv4Addr = Ipv4Addr::new(10, 201, 0, 1);

/// Headers that describe one connection rather than the message: never passed on.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "proxy-connection",
    "keep-alive",
    "proxy-authorization",
    "proxy-authenticate",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// A running proxy; dropping it stops it.
#[derive(Debug)]
pub struct AptProxy {
    port: u16,
    requests: Arc<AtomicUsize>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl AptProxy {
    /// A proxy on an ephemeral port; see [`AptProxy::start_on`].
    pub fn start() -> AptProxy {
        AptProxy::start_on(0)
    }

    /// A proxy on `port` (0: any free one). It listens on every address because the bridge's
    /// address exists only once a host has started, and the port must be known before that to
    /// write it into the host's apt configuration; clients from outside the test hosts' subnet
    /// are turned away.
    pub fn start_on(port: u16) -> AptProxy {
        let allowed = Arc::new(apt_source_hosts());
        assert!(!allowed.is_empty(), "no http(s) host in any apt sources file: nothing to proxy to");
        let listener = std::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)))
            .unwrap_or_else(|e| panic!("apt proxy: bind port {port}: {e}"));
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(AtomicUsize::new(0));
        let (stop, stopped) = oneshot::channel();
        let counter = requests.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = TcpListener::from_std(listener).unwrap();
                serve(listener, allowed, counter, stopped).await
            });
        });
        AptProxy { port, requests, stop: Some(stop), thread: Some(thread) }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// How many requests (plain or CONNECT) test hosts have sent: proof that traffic went
    /// through the proxy.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for AptProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            // The thread may have ended on its own (its panic shows in the join below).
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
            && !std::thread::panicking()
        {
            panic!("the apt proxy's thread panicked");
        }
    }
}

/// Point host `root`'s apt at the proxy on `port` (plain requests and CONNECT for https).
pub fn apt_via_proxy(root: &Path, port: u16) {
    let dir = root.join("etc/apt/apt.conf.d");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("99-openwatch-test-proxy"),
        format!("Acquire::http::Proxy \"http://{BRIDGE}:{port}\";\nAcquire::https::Proxy \"http://{BRIDGE}:{port}\";\n"),
    )
    .unwrap();
}

/// The http(s) hosts named by this machine's apt sources (one-line and deb822 files) and by
/// the test base's sources.list, lowercased.
pub fn apt_source_hosts() -> BTreeSet<String> {
    let base = std::env::var_os("OPENWATCH_TESTFLEET_DIR")
        .map_or_else(|| PathBuf::from("/var/cache/openwatch-testfleet"), PathBuf::from);
    let mut files = vec![PathBuf::from("/etc/apt/sources.list"), base.join("rootfs/etc/apt/sources.list")];
    match std::fs::read_dir("/etc/apt/sources.list.d") {
        Ok(dir) => files.extend(
            dir.map(|e| e.unwrap().path())
                .filter(|p| matches!(p.extension().and_then(|x| x.to_str()), Some("list" | "sources"))),
        ),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => panic!("/etc/apt/sources.list.d: {e}"),
    }
    let mut hosts = BTreeSet::new();
    for f in files {
        match std::fs::read_to_string(&f) {
            Ok(text) => hosts.extend(hosts_in(&text)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => panic!("{}: {e}", f.display()),
        }
    }
    hosts
}

/// Hosts of the http(s) URIs in a sources file's text, comments left out.
fn hosts_in(text: &str) -> Vec<String> {
    text.lines()
        .flat_map(|line| line.split('#').next().unwrap_or("").split_whitespace())
        .filter(|word| word.starts_with("http://") || word.starts_with("https://"))
        .filter_map(|word| Url::parse(word).ok()?.host_str().map(str::to_ascii_lowercase))
        .collect()
}

fn in_fleet(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.octets()[..3] == BRIDGE.octets()[..3],
        IpAddr::V6(v6) => v6.to_ipv4_mapped().is_some_and(|v4| in_fleet(IpAddr::V4(v4))),
    }
}

async fn serve(
    listener: TcpListener,
    allowed: Arc<BTreeSet<String>>,
    requests: Arc<AtomicUsize>,
    mut stop: oneshot::Receiver<()>,
) {
    // Redirects go back to apt, which follows them through the proxy like any request.
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap();
    loop {
        tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        eprintln!("apt proxy: accept: {e}");
                        continue;
                    }
                };
                if !in_fleet(peer.ip()) {
                    eprintln!("apt proxy: refused {peer}: not a test host");
                    continue;
                }
                let (client, allowed, requests) = (client.clone(), allowed.clone(), requests.clone());
                tokio::spawn(async move {
                    if let Err(e) = connection(stream, &client, &allowed, &requests).await {
                        eprintln!("apt proxy: {peer}: {e}");
                    }
                });
            }
        }
    }
}

/// One request's head: request line and headers.
struct Head {
    method: String,
    target: String,
    version: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Whether the client wants the connection kept after this request (HTTP/1.1 does unless
    /// it says otherwise).
    fn keep_alive(&self) -> bool {
        let says = |word: &str| {
            [self.header("connection"), self.header("proxy-connection")]
                .into_iter()
                .flatten()
                .any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(word)))
        };
        if self.version == "HTTP/1.0" { says("keep-alive") } else { !says("close") }
    }
}

type Client = BufReader<TcpStream>;

/// Serve a client's requests in order (apt pipelines them) until it closes or a request
/// cannot be followed by another.
async fn connection(
    stream: TcpStream,
    http: &reqwest::Client,
    allowed: &BTreeSet<String>,
    requests: &AtomicUsize,
) -> io::Result<()> {
    let mut stream = BufReader::new(stream);
    while let Some(head) = read_head(&mut stream).await? {
        requests.fetch_add(1, Ordering::SeqCst);
        if head.method.eq_ignore_ascii_case("CONNECT") {
            return tunnel(stream, &head, allowed).await;
        }
        if !forward(&mut stream, http, &head, allowed).await? {
            break;
        }
    }
    stream.shutdown().await
}

/// The next request's head, or None when the client closed between requests.
async fn read_head(stream: &mut Client) -> io::Result<Option<Head>> {
    const LIMIT: usize = 64 * 1024;
    let mut lines = Vec::new();
    let mut size = 0;
    loop {
        let mut line = String::new();
        let n = stream.read_line(&mut line).await?;
        size += n;
        if n == 0 {
            return if lines.is_empty() {
                Ok(None)
            } else {
                Err(io::Error::new(io::ErrorKind::UnexpectedEof, "request head cut short"))
            };
        }
        if size > LIMIT {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "request head too long"));
        }
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        if line.is_empty() {
            if lines.is_empty() {
                continue; // a stray line break between requests
            }
            break;
        }
        lines.push(line);
    }
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("bad request {what}"));
    let mut words = lines[0].split_whitespace();
    let (Some(method), Some(target), Some(version), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return Err(bad(&format!("line {:?}", lines[0])));
    };
    let headers = lines[1..]
        .iter()
        .map(|l| l.split_once(':').map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned())))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| bad("header"))?;
    Ok(Some(Head {
        method: method.to_owned(),
        target: target.to_owned(),
        version: version.to_owned(),
        headers,
    }))
}

/// A short answer of the proxy's own (refusals and errors); the connection stays usable.
async fn respond(stream: &mut Client, code: u16, reason: &str, body: &str) -> io::Result<()> {
    let text = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(text.as_bytes()).await?;
    stream.flush().await
}

/// Fetch an absolute-form GET or HEAD from its origin and stream the answer back; whether the
/// connection can carry another request.
async fn forward(
    stream: &mut Client,
    http: &reqwest::Client,
    head: &Head,
    allowed: &BTreeSet<String>,
) -> io::Result<bool> {
    let is_head = head.method == "HEAD";
    if head.method != "GET" && !is_head {
        // A request body would have to be read to find the next request: close instead.
        respond(stream, 405, "Method Not Allowed", "the test proxy serves GET and HEAD\n").await?;
        return Ok(false);
    }
    let url = match Url::parse(&head.target) {
        Ok(u) if u.scheme() == "http" && u.host_str().is_some() => u,
        _ => {
            respond(stream, 400, "Bad Request", "the test proxy takes absolute http:// targets\n").await?;
            return Ok(head.keep_alive());
        }
    };
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    if !allowed.contains(&host) {
        eprintln!("apt proxy: refused {}: {host} is in no apt sources file", head.target);
        respond(stream, 403, "Forbidden", "host not in apt sources\n").await?;
        return Ok(head.keep_alive());
    }
    let mut request = http.request(if is_head { reqwest::Method::HEAD } else { reqwest::Method::GET }, url);
    for (name, value) in &head.headers {
        let lower = name.to_ascii_lowercase();
        if lower == "host" || HOP_BY_HOP.contains(&lower.as_str()) {
            continue;
        }
        let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) else {
            respond(stream, 400, "Bad Request", "malformed header\n").await?;
            return Ok(false);
        };
        request = request.header(n, v);
    }
    let mut response = match request.send().await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("apt proxy: {}: {e}", head.target);
            respond(stream, 502, "Bad Gateway", &format!("{e}\n")).await?;
            return Ok(head.keep_alive());
        }
    };
    let status = response.status();
    let bodiless = is_head || status.is_informational() || status.as_u16() == 204 || status.as_u16() == 304;
    let sized = response.headers().contains_key(reqwest::header::CONTENT_LENGTH);
    // An answer of unknown length goes chunked to an HTTP/1.1 client, else ends with the
    // connection.
    let chunked = !bodiless && !sized && head.version != "HTTP/1.0";
    let keep = head.keep_alive() && (bodiless || sized || chunked);
    let mut out =
        format!("HTTP/1.1 {} {}\r\n", status.as_u16(), status.canonical_reason().unwrap_or("")).into_bytes();
    for (name, value) in response.headers() {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            out.extend_from_slice(name.as_str().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
    if chunked {
        out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
    }
    out.extend_from_slice(if keep {
        b"Connection: keep-alive\r\n\r\n"
    } else {
        b"Connection: close\r\n\r\n"
    });
    stream.write_all(&out).await?;
    if !bodiless {
        while let Some(chunk) = response.chunk().await.map_err(io::Error::other)? {
            if chunked {
                stream.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).await?;
                stream.write_all(&chunk).await?;
                stream.write_all(b"\r\n").await?;
            } else {
                stream.write_all(&chunk).await?;
            }
        }
        if chunked {
            stream.write_all(b"0\r\n\r\n").await?;
        }
    }
    stream.flush().await?;
    Ok(keep)
}

/// CONNECT host:port (apt's https through a proxy): a byte tunnel to an allowed host.
async fn tunnel(mut stream: Client, head: &Head, allowed: &BTreeSet<String>) -> io::Result<()> {
    let target = head
        .target
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.trim_matches(['[', ']']), p.parse::<u16>().ok()?)));
    let Some((host, port)) = target else {
        return respond(&mut stream, 400, "Bad Request", "CONNECT takes host:port\n").await;
    };
    let host = host.to_ascii_lowercase();
    if !allowed.contains(&host) {
        eprintln!("apt proxy: refused CONNECT {}: {host} is in no apt sources file", head.target);
        return respond(&mut stream, 403, "Forbidden", "host not in apt sources\n").await;
    }
    let mut origin = match TcpStream::connect((host.as_str(), port)).await {
        Ok(o) => o,
        Err(e) => {
            eprintln!("apt proxy: CONNECT {}: {e}", head.target);
            return respond(&mut stream, 502, "Bad Gateway", &format!("{e}\n")).await;
        }
    };
    stream.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await?;
    stream.flush().await?;
    tokio::io::copy_bidirectional(&mut stream, &mut origin).await.map(|_| ())
}
