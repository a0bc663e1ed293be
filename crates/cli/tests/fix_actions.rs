//! `openwatch fix` runs the steps that are not file edits on a real SSH test host, in the same
//! transaction as the files. A sysctl rule (persist file plus running value; net.ipv4.* is
//! per network namespace, so the test host's own) is fixed, passes, and rolls back to the
//! exact pre-state, running value included. The test hosts run sshd without systemd, so an
//! sshd rule whose fix restarts the service fails clearly at the restart and the whole
//! transaction is rolled back: the drop-in is gone, the other files are byte for byte as
//! before, and sshd's effective setting is unchanged. A package removal (a stand-in telnet
//! served by a local apt repository) is undone by reinstalling the recorded version.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use common::*;
use serde_json::Value;

/// A file's bytes, mode, owner and group; None when absent.
type Snapshot = Option<(Vec<u8>, u32, u32, u32)>;

/// Each file as seen from this machine.
fn files(root: &Path, paths: &[&str]) -> BTreeMap<String, Snapshot> {
    paths
        .iter()
        .map(|f| {
            let p = root.join(f.trim_start_matches('/'));
            let state = std::fs::symlink_metadata(&p)
                .ok()
                .map(|m| (std::fs::read(&p).unwrap(), m.permissions().mode() & 0o7777, m.uid(), m.gid()));
            ((*f).to_owned(), state)
        })
        .collect()
}

struct Host {
    target: String,
    key: String,
    known_hosts: String,
}

impl Host {
    fn ow(&self, cmd: &str, rule: &str, extra: &[&str]) -> std::process::Output {
        let mut a = vec![cmd, &self.target, "--identity", &self.key, "--known-hosts", &self.known_hosts];
        // These tests are about the steps, not login speed: a loaded test machine (the other
        // tests boot systemd hosts beside) once took the default 10 s for a handshake.
        a.extend(["--no-walk", "--connect-timeout", "30", "--rule", rule]);
        a.extend(extra);
        openwatch(&a, &[])
    }

    fn verdict(&self, rule: &str) -> String {
        let doc = json(&self.ow("scan", rule, &["--format", "json"]));
        verdicts(&doc)[rule].clone()
    }
}

fn host(fleet: &mut Fleet, n: u32, customize: impl FnOnce(&Path)) -> (Host, std::path::PathBuf) {
    let key = fleet.path("id_ed25519");
    if !key.exists() {
        keygen(&key, "ed25519", "");
    }
    let pubkey = fleet.path("id_ed25519.pub");
    let root = fleet.up(n, |root| {
        authorize(root, "/root", 0, &pubkey);
        customize(root);
    });
    let h = Host {
        target: format!("root@{}", addr(n)),
        key: key.display().to_string(),
        known_hosts: fleet.path("known_hosts").display().to_string(),
    };
    (h, root)
}

/// The running value of a kernel parameter inside test host `n`'s network namespace.
fn running(n: u32, key: &str) -> String {
    let path = format!("/proc/sys/{}", key.replace('.', "/"));
    text(&host_sh(&["exec", &n.to_string(), "cat", &path]).stdout).trim().to_owned()
}

#[test]
fn a_sysctl_fix_sets_the_running_value_and_its_rollback_restores_it() {
    if !fleet_available() {
        return;
    }
    const N: u32 = 193;
    const RULE: &str = "sysctl_net_ipv4_conf_all_log_martians";
    const KEY: &str = "net.ipv4.conf.all.log_martians";
    const FILES: &[&str] = &["/etc/sysctl.d/60-openwatch.conf", "/etc/sysctl.conf"];
    let mut fleet = Fleet::new();
    let (h, root) = host(&mut fleet, N, |_| {});
    let pristine = files(&root, FILES);
    assert_eq!(running(N, KEY), "0", "a fresh network namespace does not log martians");
    assert_eq!(h.verdict(RULE), "fail");

    let out = h.ow("fix", RULE, &["--yes", "--format", "json"]);
    let doc: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)));
    let r = &doc[0]["rules"][0];
    assert_eq!(r["status"], "fixed", "{doc:#}\n{}", text(&out.stderr));
    assert_eq!(out.status.code(), Some(0));
    assert!(r["actions"][0].as_str().unwrap().contains(KEY), "{r:#}");
    assert_eq!(running(N, KEY), "1");
    assert_eq!(h.verdict(RULE), "pass", "a fresh scan agrees");
    let journal = root.join("var/lib/openwatch/journal").join(r["transaction_id"].as_str().unwrap());
    assert_eq!(
        std::fs::read_to_string(journal.join("act/0.pre")).unwrap(),
        "0\n",
        "the pre-state is journaled"
    );

    let id = r["transaction_id"].as_str().unwrap();
    let out = h.ow("fix", RULE, &["--rollback", id]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(running(N, KEY), "0", "the running value is back");
    assert_eq!(files(&root, FILES), pristine, "bytes, mode and owner, and absence, as before");
    assert_eq!(h.verdict(RULE), "fail");
}

#[test]
fn an_sshd_fix_whose_restart_cannot_run_is_rolled_back_whole() {
    if !fleet_available() {
        return;
    }
    const N: u32 = 194;
    const RULE: &str = "sshd_set_max_auth_tries";
    const FILES: &[&str] = &[
        "/etc/ssh/sshd_config",
        "/etc/ssh/sshd_config.d/00-openwatch.conf",
        "/etc/ssh/sshd_config.d/05-test.conf",
    ];
    let mut fleet = Fleet::new();
    let (h, root) = host(&mut fleet, N, |root| {
        write(root, "/etc/ssh/sshd_config.d/05-test.conf", "MaxAuthTries 6\n");
    });
    let pristine = files(&root, FILES);
    assert_eq!(h.verdict(RULE), "fail");

    // The plan is the drop-in (it sorts first, so it wins) and a restart of ssh.
    let out = h.ow("fix", RULE, &["--dry-run"]);
    let preview = text(&out.stdout);
    assert!(preview.contains("+MaxAuthTries 4") && preview.contains("restart the service ssh"), "{preview}");

    let out = h.ow("fix", RULE, &["--yes", "--format", "json"]);
    let doc = json(&out);
    let r = &doc[0]["rules"][0];
    assert_eq!(r["status"], "failed", "{doc:#}");
    let msg = r["message"].as_str().unwrap();
    assert!(
        msg.contains("cannot restart ssh: systemd is not running on this host")
            && msg.contains("rolled back"),
        "{msg}"
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(files(&root, FILES), pristine, "the drop-in is gone, the rest byte for byte as before");
    let journal = root.join("var/lib/openwatch/journal").join(r["transaction_id"].as_str().unwrap());
    assert_eq!(std::fs::read_to_string(journal.join("state")).unwrap(), "rolled_back\n");
    // sshd's effective setting (sshd -T on the host) is unchanged, and the host still answers.
    let scan = json(&h.ow("scan", RULE, &["--format", "json"]));
    let result = &scan["results"][0];
    assert_eq!(result["verdict"], "fail");
    assert!(result["reason"].as_str().unwrap().contains('6'), "{result:#}");
}

/// Run `command` on the test host as root over SSH.
fn ssh(h: &Host, command: &str) -> std::process::Output {
    let host = h.target.clone();
    run(std::process::Command::new("ssh").args([
        "-o",
        "BatchMode=yes",
        "-o",
        &format!("UserKnownHostsFile={}", h.known_hosts),
        "-i",
        &h.key,
        &host,
        command,
    ]))
}

/// A stand-in `telnet` package, served to the host by a local apt repository (the test
/// hosts have no network), so its removal can be undone by reinstalling the same version.
fn telnet_repo(root: &Path, version: &str) {
    let work = tempfile::tempdir().unwrap();
    let pkg = work.path().join("pkg");
    std::fs::create_dir_all(pkg.join("DEBIAN")).unwrap();
    std::fs::create_dir_all(pkg.join("usr/share/doc/telnet")).unwrap();
    std::fs::write(pkg.join("usr/share/doc/telnet/openwatch-test"), "a stand-in\n").unwrap();
    let fields = format!(
        "Package: telnet\nVersion: {version}\nArchitecture: all\nMaintainer: OpenWatch tests <tests@invalid>\n\
         Description: stand-in for telnet in the fix tests\n"
    );
    std::fs::write(pkg.join("DEBIAN/control"), &fields).unwrap();
    let repo = root.join("srv/owrepo");
    std::fs::create_dir_all(&repo).unwrap();
    let deb = repo.join("telnet.deb");
    run(std::process::Command::new("dpkg-deb").args(["--build", "--root-owner-group"]).arg(&pkg).arg(&deb));
    let bytes = std::fs::read(&deb).unwrap();
    let sha = text(&run(std::process::Command::new("sha256sum").arg(&deb)).stdout);
    let packages = format!(
        "{fields}Filename: ./telnet.deb\nSize: {}\nSHA256: {}\n",
        bytes.len(),
        sha.split_whitespace().next().unwrap()
    );
    std::fs::write(repo.join("Packages"), packages).unwrap();
    write(root, "/etc/apt/sources.list", "deb [trusted=yes] file:/srv/owrepo ./\n");
}

#[test]
fn a_package_removal_is_undone_by_reinstalling_the_recorded_version() {
    if !fleet_available() {
        return;
    }
    const N: u32 = 195;
    const RULE: &str = "package_telnet_removed";
    const VERSION: &str = "0.17+openwatch1";
    let mut fleet = Fleet::new();
    let (h, root) = host(&mut fleet, N, |root| telnet_repo(root, VERSION));
    ssh(
        &h,
        "apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q telnet >/dev/null",
    );
    let installed =
        || text(&ssh(&h, "dpkg-query -W -f='${db:Status-Abbrev}${Version}' telnet || true").stdout);
    assert_eq!(installed(), format!("ii {VERSION}"));
    assert_eq!(h.verdict(RULE), "fail");

    let out = h.ow("fix", RULE, &["--yes", "--format", "json"]);
    let doc = json(&out);
    let r = &doc[0]["rules"][0];
    assert_eq!(r["status"], "fixed", "{doc:#}\n{}", text(&out.stderr));
    assert!(!installed().starts_with("ii"), "removed: {}", installed());
    assert_eq!(h.verdict(RULE), "pass");
    let journal = root.join("var/lib/openwatch/journal").join(r["transaction_id"].as_str().unwrap());
    assert_eq!(std::fs::read_to_string(journal.join("act/0.pre")).unwrap(), format!("{VERSION}\n"));

    let out = h.ow("fix", RULE, &["--rollback", r["transaction_id"].as_str().unwrap()]);
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{said}\n{}", text(&out.stderr));
    assert!(said.contains(&format!("reinstalled telnet {VERSION}")), "{said}");
    assert_eq!(installed(), format!("ii {VERSION}"), "the same version is back");
    assert_eq!(h.verdict(RULE), "fail");
}
