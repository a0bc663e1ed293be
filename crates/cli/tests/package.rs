//! The Debian package, built by `scripts/package-deb` (cargo-deb) from the debug build, and
//! installed with dpkg into a fresh Debian 12 test host running systemd: the binary, the
//! configuration readable by the service alone, the `openwatch` system user owning the
//! state directory, completions and manual pages; the unit passes `systemd-analyze verify`,
//! is started by the package, runs sandboxed as that user with one capability, keeps its
//! database in the state directory and answers on loopback.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::*;

const N: u32 = 109;

/// Run `cmd` inside the test host (its namespaces and root), without asserting success.
fn inside(cmd: &[&str]) -> Output {
    let mut args = vec!["run".to_owned(), N.to_string()];
    args.extend(cmd.iter().map(|s| (*s).to_owned()));
    Command::new(testfleet("host.sh")).args(&args).output().unwrap()
}

/// Mode (permission bits), owner and group of `path` in the host's root.
fn meta(root: &Path, path: &str) -> (u32, u32, u32) {
    let m =
        std::fs::metadata(root.join(path.trim_start_matches('/'))).unwrap_or_else(|e| panic!("{path}: {e}"));
    (m.permissions().mode() & 0o7777, m.uid(), m.gid())
}

#[test]
fn the_deb_installs_a_hardened_service_that_runs_as_its_own_user() {
    if !fleet_available() {
        return;
    }
    let out_dir = tempfile::tempdir().unwrap();
    let built = run(Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/package-deb"))
        .args(["--profile", "dev", "--no-build", "--out", out_dir.path().to_str().unwrap()]));
    let deb = text(&built.stdout).lines().last().unwrap_or_default().trim().to_owned();
    assert!(deb.ends_with(".deb") && Path::new(&deb).exists(), "no package: {}", text(&built.stdout));

    let (mut fleet, _key) = Fleet::with_key();
    let root = fleet.up_root_systemd(N, |root| {
        std::fs::copy(&deb, root.join("root/openwatch.deb")).unwrap();
    });
    let installed = inside(&["env", "DEBIAN_FRONTEND=noninteractive", "dpkg", "-i", "/root/openwatch.deb"]);
    assert!(installed.status.success(), "dpkg -i: {}{}", text(&installed.stdout), text(&installed.stderr));

    // The user and group: a system account that cannot log in, at home in the state directory.
    let passwd = std::fs::read_to_string(root.join("etc/passwd")).unwrap();
    let entry: Vec<&str> = passwd
        .lines()
        .find(|l| l.starts_with("openwatch:"))
        .unwrap_or_else(|| panic!("no openwatch user: {passwd}"))
        .split(':')
        .collect();
    let (uid, gid): (u32, u32) = (entry[2].parse().unwrap(), entry[3].parse().unwrap());
    assert!(uid < 1000, "a system account: {entry:?}");
    assert_eq!((entry[5], entry[6]), ("/var/lib/openwatch", "/usr/sbin/nologin"), "{entry:?}");

    // Files and permissions: only the service may read its configuration and state.
    assert_eq!(meta(&root, "/usr/bin/openwatch"), (0o755, 0, 0));
    assert_eq!(meta(&root, "/etc/openwatch"), (0o750, 0, gid));
    assert_eq!(meta(&root, "/etc/openwatch/openwatch.toml"), (0o640, 0, gid));
    assert_eq!(meta(&root, "/var/lib/openwatch"), (0o700, uid, gid));
    assert_eq!(meta(&root, "/usr/lib/systemd/system/openwatch.service").0, 0o644);
    for f in [
        "usr/share/bash-completion/completions/openwatch",
        "usr/share/zsh/vendor-completions/_openwatch",
        "usr/share/fish/vendor_completions.d/openwatch.fish",
        "usr/share/man/man1/openwatch.1.gz",
        "usr/share/man/man1/openwatch-serve.1.gz",
        "usr/share/man/man1/openwatch-backup.1.gz",
    ] {
        assert!(root.join(f).is_file(), "{f} is installed");
    }
    let conffiles = std::fs::read_to_string(root.join("var/lib/dpkg/info/openwatch.conffiles")).unwrap();
    assert_eq!(conffiles.trim(), "/etc/openwatch/openwatch.toml", "the configuration survives upgrades");

    // The unit as systemd reads it: no complaint at all. (Its Documentation= page is checked
    // above as a file: a minimal root has no `man` to ask.)
    let verify = inside(&["systemd-analyze", "verify", "--man=no", "openwatch.service"]);
    assert!(
        verify.status.success() && verify.stderr.is_empty() && verify.stdout.is_empty(),
        "systemd-analyze verify: {}{}",
        text(&verify.stdout),
        text(&verify.stderr)
    );

    // Started by the package, and running: as its user, with no capability but binding low
    // ports, unable to gain any, answering on loopback.
    let t = Instant::now();
    let pid = loop {
        let show = inside(&["systemctl", "show", "-p", "ActiveState", "-p", "MainPID", "openwatch"]);
        let shown = text(&show.stdout);
        let pid = shown.lines().find_map(|l| l.strip_prefix("MainPID=")).unwrap_or("0").to_owned();
        if shown.contains("ActiveState=active") && pid != "0" {
            break pid;
        }
        let log = inside(&["journalctl", "-u", "openwatch", "--no-pager", "-n", "30"]);
        assert!(t.elapsed() < Duration::from_secs(60), "not running: {shown}\n{}", text(&log.stdout));
        std::thread::sleep(Duration::from_millis(300));
    };
    let status = text(&inside(&["cat", &format!("/proc/{pid}/status")]).stdout);
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.split_whitespace().next().unwrap_or("").to_owned())
    };
    assert_eq!(field("Uid:"), Some(uid.to_string()), "{status}");
    assert_eq!(field("NoNewPrivs:").as_deref(), Some("1"), "{status}");
    // CAP_NET_BIND_SERVICE is bit 10.
    assert_eq!(field("CapEff:").as_deref(), Some("0000000000000400"), "{status}");
    assert_eq!(field("CapBnd:").as_deref(), Some("0000000000000400"), "{status}");
    let t = Instant::now();
    loop {
        let health = Command::new(testfleet("host.sh"))
            .args(["exec", &N.to_string(), "curl", "-fsS", "http://127.0.0.1:8080/healthz"])
            .output()
            .unwrap();
        if health.status.success() {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "no answer on 127.0.0.1:8080: {}",
            text(&health.stderr)
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    // The database and keys it created are in the state directory, the service's alone.
    for f in ["var/lib/openwatch/openwatch.db", "var/lib/openwatch/credential.key"] {
        let (mode, owner, _) = meta(&root, f);
        assert_eq!((mode & 0o077, owner), (0, uid), "{f}");
    }
    let security = inside(&["systemd-analyze", "security", "--no-pager", "openwatch.service"]);
    eprintln!("{}", text(&security.stdout).lines().last().unwrap_or_default());
}
