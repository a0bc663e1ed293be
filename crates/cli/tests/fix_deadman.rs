//! The deadman on real SSH test hosts: a fix that locks root out (pam_access denying root,
//! or an sshd setting denying root, applied with a restart of sshd on a systemd host) is
//! applied under the deadman; the fresh connection that should confirm access is refused,
//! so the host rolls the change back by itself within the timeout, and root can log in
//! again with the files byte for byte as before.

mod common;

use std::time::{Duration, Instant};

use common::*;

const N: u32 = 198;
const N_SSHD: u32 = 196;
const RULE: &str = "id: test_root_login_denied\ntitle: Root may not log in\ndescription: Test rule.\n\
rationale: Test.\nseverity: high\ncategory: test\nreferences: {nist_800_53: [AC-6]}\n\
platforms: [{family: debian}]\nimplementations:\n  - default: true\n    check:\n      \
file_content: {path: /etc/security/access.conf, pattern: '^-:root:ALL$'}\n    remediation:\n      \
steps:\n        - file_content: {path: /etc/security/access.conf, content: \"-:root:ALL\\n\", mode: \"0644\"}\n";

#[test]
fn a_change_that_locks_the_scanner_out_is_undone_by_the_host() {
    if !fleet_available() {
        return;
    }
    let (mut fleet, key) = Fleet::with_key();
    let root = fleet.up_root(N, |root| {
        append(root, "/etc/pam.d/sshd", "account required pam_access.so\n");
    });
    let rules = fleet.path("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(rules.join("test_root_login_denied.yml"), RULE).unwrap();
    let target = format!("root@{}", addr(N));
    let (k, kh, r) = (
        key.display().to_string(),
        fleet.path("known_hosts").display().to_string(),
        rules.display().to_string(),
    );
    let base = [
        "--identity",
        &k,
        "--known-hosts",
        &kh,
        "--no-walk",
        "--rules",
        &r,
        "--rule",
        "test_root_login_denied",
    ];
    let access = root.join("etc/security/access.conf");
    let pristine = std::fs::read(&access).unwrap();

    let mut fix = vec!["fix", &target, "--yes", "--deadman-secs", "5"];
    fix.extend(base);
    let started = Instant::now();
    let out = openwatch(&fix, &[]);
    let shown = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{shown}\n{}", text(&out.stderr));
    assert!(shown.contains("a fresh connection failed after the change"), "{shown}");
    assert!(shown.contains("deadman rolls it back within 5 s"), "{shown}");
    assert!(shown.contains("[risk high, under the deadman]"), "{shown}");

    // The lockout is real until the deadman fires; then root gets in again.
    let mut scan = vec!["scan", &target];
    scan.extend(base);
    let journal = root.join("var/lib/openwatch/journal");
    let state = || {
        std::fs::read_dir(&journal)
            .ok()?
            .flatten()
            .filter(|e| e.path().is_dir())
            .find_map(|e| std::fs::read_to_string(e.path().join("state")).ok())
    };
    while state().as_deref() != Some("rolled_back\n") {
        assert!(started.elapsed() < Duration::from_secs(60), "the deadman never fired: {:?}", state());
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(std::fs::read(&access).unwrap(), pristine, "the file is as before");
    let marker = std::fs::read_dir(&journal).unwrap().flatten().any(|e| e.path().join("deadman").exists());
    assert!(marker, "the journal says the deadman rolled it back");
    let out = openwatch(&scan, &[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "root logs in again (the rule fails, the host is reached): {}",
        text(&out.stderr)
    );
}

const SSHD_RULE: &str = "id: test_sshd_denies_root\ntitle: sshd denies root\ndescription: Test rule.\n\
rationale: Test.\nseverity: high\ncategory: test\nreferences: {nist_800_53: [AC-6]}\n\
platforms: [{family: debian}]\nimplementations:\n  - default: true\n    check:\n      \
file_content: {path: /etc/ssh/sshd_config.d/00-lockout.conf, pattern: '^DenyUsers root$'}\n    \
remediation:\n      steps:\n        \
- config_set_dropin: {dir: /etc/ssh/sshd_config.d, file: 00-lockout.conf, key: DenyUsers, value: root}\n        \
- service_restart: {name: ssh}\n";

/// The deadman's promise as the issue states it: an sshd change that shuts the scanner out
/// is undone by the host within the timeout, sshd runs again with its old settings and the
/// scanner logs in.
#[test]
fn an_sshd_change_that_locks_the_scanner_out_is_undone_within_the_timeout() {
    if !fleet_available() {
        return;
    }
    const DEADMAN_SECS: u64 = 8;
    let (mut fleet, key) = Fleet::with_key();
    let root = fleet.up_root_systemd(N_SSHD, |_| {});
    let rules = fleet.path("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(rules.join("test_sshd_denies_root.yml"), SSHD_RULE).unwrap();
    let target = format!("root@{}", addr(N_SSHD));
    let (k, kh, r) = (
        key.display().to_string(),
        fleet.path("known_hosts").display().to_string(),
        rules.display().to_string(),
    );
    let base = [
        "--identity",
        &k,
        "--known-hosts",
        &kh,
        "--no-walk",
        "--rules",
        &r,
        "--rule",
        "test_sshd_denies_root",
    ];
    let dropin = root.join("etc/ssh/sshd_config.d/00-lockout.conf");
    assert!(!dropin.exists());

    let secs = DEADMAN_SECS.to_string();
    let mut fix = vec!["fix", &target, "--yes", "--deadman-secs", &secs];
    fix.extend(base);
    let out = openwatch(&fix, &[]);
    let applied = Instant::now();
    let shown = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{shown}\n{}", text(&out.stderr));
    assert!(shown.contains("a fresh connection failed after the change"), "{shown}");
    assert!(shown.contains("[risk high, under the deadman]"), "{shown}");

    // Locked out now (sshd restarted with DenyUsers root), let in again once the deadman
    // has fired: the first scan that reaches the host comes within the timeout plus the time
    // sshd takes to restart and a scan attempt takes on a loaded machine, counted from the
    // end of the fix (the timer started before).
    let mut scan = vec!["scan", &target];
    scan.extend(base);
    let mut locked_out = false;
    let reached = loop {
        let out = openwatch(&scan, &[]);
        match out.status.code() {
            Some(1) => break applied.elapsed(),
            _ => locked_out = true,
        }
        assert!(
            applied.elapsed() < Duration::from_secs(DEADMAN_SECS + 30),
            "root never got back in: {}",
            text(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    assert!(locked_out, "the change did shut root out before the deadman fired");
    assert!(
        reached < Duration::from_secs(DEADMAN_SECS + 15),
        "access came back after {reached:?}, not within the {DEADMAN_SECS} s deadman"
    );
    assert!(!dropin.exists(), "the drop-in the fix wrote is gone");
    let journal = root.join("var/lib/openwatch/journal");
    let marker = std::fs::read_dir(&journal).unwrap().flatten().any(|e| e.path().join("deadman").exists());
    assert!(marker, "the journal says the deadman rolled it back");
}
