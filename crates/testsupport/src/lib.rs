//! A throwaway PostgreSQL server for tests: `initdb` into a temporary directory, started on
//! a free loopback port with trust authentication, one fresh database per caller. The server
//! is started once per test binary and a watchdog stops it and deletes its files when the
//! test process exits (statics are never dropped, so the watchdog is the cleanup).

pub mod receivers;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

#[derive(Debug)]
pub struct TestPostgres {
    port: u16,
    bin: PathBuf,
}

static SHARED: OnceLock<Result<TestPostgres, String>> = OnceLock::new();
static NEXT_DB: AtomicU32 = AtomicU32::new(0);

/// Where the server binaries are: `OPENWATCH_PG_BIN`, else the newest Debian install.
fn pg_bin() -> Result<PathBuf, String> {
    if let Ok(dir) = std::env::var("OPENWATCH_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(
            |_| "PostgreSQL is not installed (apt-get install postgresql, or run scripts/install-test-deps)",
        )?
        .filter_map(|e| {
            let e = e.ok()?;
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    found.sort();
    found
        .pop()
        .map(|(_, b)| b)
        .ok_or_else(|| "no PostgreSQL server binaries under /usr/lib/postgresql".into())
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0).unwrap_or(false)
}

/// A command run as the `postgres` user when we are root (PostgreSQL refuses to run as root).
fn as_server_user(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{what}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

impl TestPostgres {
    /// The server of this test binary, started on first use.
    pub fn shared() -> Result<&'static TestPostgres, String> {
        SHARED.get_or_init(TestPostgres::start).as_ref().map_err(Clone::clone)
    }

    fn start() -> Result<TestPostgres, String> {
        let bin = pg_bin()?;
        let dir =
            tempfile::Builder::new().prefix("openwatch-pg-").tempdir().map_err(|e| e.to_string())?.keep();
        if is_root() {
            run(Command::new("chown").arg("postgres:").arg(&dir), "chown")?;
        }
        let data = dir.join("data");
        run(
            as_server_user(&bin.join("initdb"))
                .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync", "-D"])
                .arg(&data)
                .stdout(Stdio::null()),
            "initdb",
        )?;
        let port = free_port()?;
        // The watchdog: starts postgres, waits for this process to exit, then stops the server
        // and removes its directory.
        let script = format!(
            "{postgres} -D {data} -p {port} -k {dir} -c listen_addresses=127.0.0.1 -c fsync=off \
             -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 >{dir}/log 2>&1 & pg=$!; \
             while [ -d /proc/{parent} ] && kill -0 $pg 2>/dev/null; do sleep 0.5; done; \
             kill -INT $pg 2>/dev/null; wait $pg; rm -rf {dir}",
            postgres = bin.join("postgres").display(),
            data = data.display(),
            dir = dir.display(),
            parent = std::process::id(),
        );
        as_server_user(Path::new("/bin/sh"))
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("starting postgres: {e}"))?;
        let pg = TestPostgres { port, bin };
        for _ in 0..100 {
            let ready = Command::new(pg.bin.join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return Ok(pg);
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
        Err(format!("postgres did not become ready on port {port}: {log}"))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Create a new, empty database and return its URL.
    pub fn fresh_database(&self) -> Result<String, String> {
        let name = format!("t{}_{}", std::process::id(), NEXT_DB.fetch_add(1, Ordering::SeqCst));
        run(
            Command::new(self.bin.join("psql"))
                .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "postgres", "-c"])
                .arg(format!("CREATE DATABASE {name}")),
            "createdb",
        )?;
        Ok(format!("postgres://postgres@127.0.0.1:{}/{name}", self.port))
    }
}
