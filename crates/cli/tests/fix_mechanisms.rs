//! The remediation mechanisms no library rule can prove on a test host by itself (the
//! library's rules using them also carry manual steps, or need a boot loader), proven with
//! test rules on a real SSH test host: `file_absent`, `grub_parameter_set` (against the
//! host's /etc/default/grub, `update-grub` a recording stand-in: a test host boots no
//! kernel), `audit_rule_set` (a persisted rule; `augenrules` likewise a stand-in) and
//! `command_exec`. Each is fixed, passes a fresh scan, is rolled back, and the host's files
//! are compared before and after (bytes, mode, owner); `command_exec`, which cannot be
//! undone, says so at rollback.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use common::*;
use serde_json::Value;

const N: u32 = 110;

/// (rule id, check, remediation steps), as YAML fragments.
const RULES: &[(&str, &str, &str)] = &[
    (
        "test_no_hosts_equiv",
        "file_absent: {path: /etc/hosts.equiv}",
        "- file_absent: {path: /etc/hosts.equiv}",
    ),
    (
        "test_boot_audit",
        "grub_parameter: {name: audit, value: \"1\"}",
        "- grub_parameter_set: {name: audit, value: \"1\"}",
    ),
    (
        "test_audit_sudoers",
        "audit_rule: {rule: '-w /etc/sudoers -p wa', source: persisted}",
        "- audit_rule_set: {rule: '-w /etc/sudoers -p wa -k scope', file: /etc/audit/rules.d/50-openwatch.rules}",
    ),
    (
        "test_command_marker",
        "file_content: {path: /etc/openwatch-marker, pattern: '^done$'}",
        "- command_exec: {argv: [/bin/sh, -c, 'echo done > /etc/openwatch-marker']}",
    ),
];

fn rule_yaml(id: &str, check: &str, steps: &str) -> String {
    format!(
        "id: {id}\ntitle: Test {id}\ndescription: Test rule.\nrationale: Test.\nseverity: low\n\
         category: test\nreferences: {{nist_800_53: [CM-6]}}\nplatforms: [{{family: debian}}]\n\
         implementations:\n  - default: true\n    check:\n      {check}\n    remediation:\n      \
         steps:\n        {steps}\n"
    )
}

/// The host's own files, the fix journal and the directories holding it left out (it keeps
/// every transaction's record), and directories as the shared base has them (the overlay
/// copies a directory up when a file in it changes; it is no change of the host's).
fn files(root: &Path) -> BTreeMap<String, (Vec<u8>, u32, u32, u32)> {
    let dir =
        std::env::var("OPENWATCH_TESTFLEET_DIR").unwrap_or_else(|_| "/var/cache/openwatch-testfleet".into());
    let base = Path::new(&dir).join("rootfs");
    let as_in_base = |k: &str, mode: u32, uid: u32, gid: u32| {
        std::fs::symlink_metadata(base.join(k))
            .is_ok_and(|m| m.is_dir() && (m.mode(), m.uid(), m.gid()) == (mode, uid, gid))
    };
    host_layer(root)
        .into_iter()
        .filter(|(k, _)| !(k == "var" || k == "var/lib" || k.starts_with("var/lib/openwatch")))
        .filter(|(k, (_, mode, uid, gid))| !as_in_base(k, *mode, *uid, *gid))
        .collect()
}

/// The paths whose state differs between two snapshots.
fn differences(
    a: &BTreeMap<String, (Vec<u8>, u32, u32, u32)>,
    b: &BTreeMap<String, (Vec<u8>, u32, u32, u32)>,
) -> Vec<String> {
    a.keys().chain(b.keys()).filter(|k| a.get(*k) != b.get(*k)).cloned().collect()
}

#[test]
fn every_mechanism_is_fixed_verified_and_rolled_back_on_a_real_host() {
    if !fleet_available() {
        return;
    }
    let (mut fleet, key) = Fleet::with_key();
    let stand_in = "#!/bin/sh\necho \"$0 $*\" >> /run/openwatch-stand-ins\n";
    let root = fleet.up_root(N, |root| {
        write(root, "/etc/hosts.equiv", "+trusted.example.com\n");
        write(
            root,
            "/etc/default/grub",
            "GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\nGRUB_CMDLINE_LINUX=\"\"\n",
        );
        write(root, "/usr/local/sbin/update-grub", stand_in);
        write(root, "/usr/local/sbin/augenrules", stand_in);
        for f in ["usr/local/sbin/update-grub", "usr/local/sbin/augenrules"] {
            run(std::process::Command::new("chmod").args(["0755", root.join(f).to_str().unwrap()]));
        }
    });
    let rules = fleet.path("rules");
    std::fs::create_dir_all(&rules).unwrap();
    for (id, check, steps) in RULES {
        std::fs::write(rules.join(format!("{id}.yml")), rule_yaml(id, check, steps)).unwrap();
    }
    let target = format!("root@{}", addr(N));
    let (k, kh, r) = (
        key.display().to_string(),
        fleet.path("known_hosts").display().to_string(),
        rules.display().to_string(),
    );
    let base = ["--identity", k.as_str(), "--known-hosts", kh.as_str(), "--no-walk", "--rules", r.as_str()];
    let verdict = |id: &str| {
        let mut a = vec!["scan", target.as_str(), "--format", "json", "--rule", id];
        a.extend(base);
        let doc = json(&openwatch(&a, &[]));
        verdicts(&doc).get(id).cloned().unwrap_or_default()
    };

    for (id, _, _) in RULES {
        assert_eq!(verdict(id), "fail", "{id} fails before its fix");
        let before = files(&root);
        let mut fix = vec!["fix", target.as_str(), "--yes", "--format", "json", "--rule", id];
        fix.extend(base);
        let out = openwatch(&fix, &[]);
        let doc: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{id}: {e}: {}{}", text(&out.stdout), text(&out.stderr)));
        let fixed = &doc[0]["rules"][0];
        assert_eq!(fixed["status"], "fixed", "{id}: {doc:#}");
        assert_eq!(verdict(id), "pass", "{id}: a fresh scan agrees");
        let tx = fixed["transaction_id"].as_str().unwrap();

        let mut back = vec!["fix", target.as_str(), "--rollback", tx];
        back.extend(base);
        let out = openwatch(&back, &[]);
        let said = text(&out.stdout);
        assert!(out.status.success(), "{id}: {said}{}", text(&out.stderr));
        if *id == "test_command_marker" {
            // A command has no pre-state to restore: the rollback says so, the file stays.
            assert!(said.contains("cannot be undone automatically"), "{said}");
            assert!(root.join("etc/openwatch-marker").exists());
            std::fs::remove_file(root.join("etc/openwatch-marker")).unwrap();
        }
        let changed = differences(&before, &files(&root));
        assert!(changed.is_empty(), "{id}: not as before: {changed:?}");
        assert_eq!(verdict(id), "fail", "{id} fails again after the rollback");
    }
    // The boot loader and audit stand-ins ran for the fix and for its undo.
    let calls = text(&host_sh(&["run", &N.to_string(), "cat", "/run/openwatch-stand-ins"]).stdout);
    assert!(calls.matches("update-grub").count() >= 2, "{calls}");
}
