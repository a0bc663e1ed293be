//! Test hosts for the SSH tests: real sshd in network namespaces, built by testfleet/.
#![allow(dead_code)] // each test binary uses its own subset

pub mod apt_proxy;
pub mod browser;
pub mod serve;

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// Fail loudly unless the tests can build hosts; OPENWATCH_SKIP_FLEET_TESTS=1 skips them.
pub fn fleet_available() -> bool {
    if std::env::var_os("OPENWATCH_SKIP_FLEET_TESTS").is_some() {
        eprintln!("OPENWATCH_SKIP_FLEET_TESTS is set: not running tests that need test hosts");
        return false;
    }
    let uid = text(&run(Command::new("id").arg("-u")).stdout);
    assert_eq!(
        uid.trim(),
        "0",
        "these tests build network namespaces and need root (set OPENWATCH_SKIP_FLEET_TESTS=1 to skip them)"
    );
    run(&mut Command::new(testfleet("base.sh")));
    true
}

impl Fleet {
    pub fn new() -> Fleet {
        Fleet { hosts: Vec::new(), dir: tempfile::tempdir().unwrap() }
    }

    /// A fleet with an ed25519 key pair (`id_ed25519`, no passphrase) for root logins: the
    /// fleet and the private key's path.
    pub fn with_key() -> (Fleet, PathBuf) {
        let fleet = Fleet::new();
        let key = fleet.path("id_ed25519");
        keygen(&key, "ed25519", "");
        (fleet, key)
    }

    /// Host `n` taking root logins with the fleet's key (see [`Fleet::with_key`]), then
    /// changed by `customize`; its root directory.
    pub fn up_root(&mut self, n: u32, customize: impl FnOnce(&Path)) -> PathBuf {
        let pubkey = self.path("id_ed25519.pub");
        self.up(n, |root| {
            authorize(root, "/root", 0, &pubkey);
            customize(root);
        })
    }
}

pub fn testfleet(script: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testfleet").join(script)
}

pub fn addr(n: u32) -> String {
    format!("10.201.0.{}", 10 + n)
}

pub fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed: {}{}", text(&out.stdout), text(&out.stderr));
    out
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub fn host_sh(args: &[&str]) -> Output {
    run(Command::new(testfleet("host.sh")).args(args))
}

/// Owns the test hosts; dropping it tears them down.
pub struct Fleet {
    pub hosts: Vec<u32>,
    pub dir: tempfile::TempDir,
}

impl Drop for Fleet {
    fn drop(&mut self) {
        if std::env::var_os("OPENWATCH_KEEP_FLEET").is_some() {
            eprintln!(
                "OPENWATCH_KEEP_FLEET is set: leaving hosts {:?} running (testfleet/host.sh down N)",
                self.hosts
            );
            return;
        }
        for n in &self.hosts {
            let _ = Command::new(testfleet("host.sh")).args(["down", &n.to_string()]).output();
        }
    }
}

impl Fleet {
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Prepare host `n`, let `customize` change its root, start it on `port`, return its root.
    pub fn up(&mut self, n: u32, customize: impl FnOnce(&Path)) -> PathBuf {
        self.up_on(n, 22, customize)
    }

    pub fn up_on(&mut self, n: u32, port: u16, customize: impl FnOnce(&Path)) -> PathBuf {
        self.boot(n, port, false, customize)
    }

    /// Host `n` running systemd (services can be enabled, masked, restarted), taking root
    /// logins with the fleet's key, changed by `customize` before it boots.
    pub fn up_root_systemd(&mut self, n: u32, customize: impl FnOnce(&Path)) -> PathBuf {
        let pubkey = self.path("id_ed25519.pub");
        self.boot(n, 22, true, |root| {
            authorize(root, "/root", 0, &pubkey);
            customize(root);
        })
    }

    fn boot(&mut self, n: u32, port: u16, systemd: bool, customize: impl FnOnce(&Path)) -> PathBuf {
        let _ = Command::new(testfleet("host.sh")).args(["down", &n.to_string()]).output();
        self.hosts.push(n);
        host_sh(&["prepare", &n.to_string()]);
        let root = PathBuf::from(text(&host_sh(&["root", &n.to_string()]).stdout).trim());
        customize(&root);
        let init = if systemd { "systemd" } else { "sshd" };
        run(Command::new(testfleet("host.sh"))
            .args(["start", &n.to_string(), &port.to_string()])
            .env("OPENWATCH_TESTFLEET_INIT", init));
        let key = std::fs::read_to_string(root.join("etc/ssh/ssh_host_ed25519_key.pub")).unwrap();
        let mut kh = std::fs::read_to_string(self.path("known_hosts")).unwrap_or_default();
        let name = if port == 22 { addr(n) } else { format!("[{}]:{port}", addr(n)) };
        kh.push_str(&format!("{name} {}\n", key.split_whitespace().take(2).collect::<Vec<_>>().join(" ")));
        std::fs::write(self.path("known_hosts"), kh).unwrap();
        root
    }
}

/// A fresh key pair at `path` (`path.pub` beside it) of `kind` (`ed25519`, `ecdsa`, `rsa`).
pub fn keygen(path: &Path, kind: &str, passphrase: &str) {
    run(Command::new("ssh-keygen").args(["-q", "-t", kind, "-N", passphrase, "-f", path.to_str().unwrap()]));
}

pub fn authorize(root: &Path, user_home: &str, uid: u32, pubkey: &Path) {
    let ssh = root.join(user_home.trim_start_matches('/')).join(".ssh");
    std::fs::create_dir_all(&ssh).unwrap();
    std::fs::copy(pubkey, ssh.join("authorized_keys")).unwrap();
    run(Command::new("chown").args(["-R", &format!("{uid}:{uid}"), ssh.to_str().unwrap()]));
    run(Command::new("chmod").args(["700", ssh.to_str().unwrap()]));
}

pub fn write(root: &Path, path: &str, content: &str) {
    let p = root.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, content).unwrap();
}

pub fn append(root: &Path, path: &str, content: &str) {
    let p = root.join(path.trim_start_matches('/'));
    let mut s = std::fs::read_to_string(&p).unwrap();
    s.push_str(content);
    std::fs::write(p, s).unwrap();
}

pub fn openwatch(args: &[&str], env: &[(&str, &str)]) -> Output {
    let t = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_openwatch"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("openwatch runs");
    eprintln!("{:>6} ms  openwatch {}", t.elapsed().as_millis(), args.join(" "));
    out
}

pub fn verdicts(doc: &Value) -> BTreeMap<String, String> {
    doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["rule_id"].as_str().unwrap().to_owned(), r["verdict"].as_str().unwrap().to_owned()))
        .collect()
}

pub fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", text(&out.stdout), text(&out.stderr)))
}

/// Every file of the host's own layer (the overlay's upper directory holds exactly what
/// differs from the shared base), with its bytes' hash, mode and owner; login records and
/// temporary directories, which any SSH session touches, left out.
pub fn host_layer(root: &Path) -> BTreeMap<String, (Vec<u8>, u32, u32, u32)> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, (Vec<u8>, u32, u32, u32)>) {
        // A file the host removes while the walk runs (a timer's own script) is not there.
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(base).unwrap().display().to_string();
            if ["var/log", "tmp", "run", "var/tmp"]
                .iter()
                .any(|x| rel == *x || rel.starts_with(&format!("{x}/")))
            {
                continue;
            }
            let Ok(m) = std::fs::symlink_metadata(&p) else { continue };
            let bytes = if m.is_file() {
                match std::fs::read(&p) {
                    Ok(b) => b,
                    Err(_) => continue,
                }
            } else {
                Vec::new()
            };
            out.insert(rel, (bytes, m.permissions().mode(), m.uid(), m.gid()));
            if m.is_dir() {
                walk(base, &p, out);
            }
        }
    }
    let upper = root.parent().unwrap().join("upper");
    let mut out = BTreeMap::new();
    walk(&upper, &upper, &mut out);
    out
}
