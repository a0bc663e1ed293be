//! Planning each mechanism against captured files: compositions, byte-exact edits, no-ops
//! and the errors a step cannot be planned past.

use std::collections::BTreeMap;

use super::*;
use crate::library::Library;
use crate::vars::{Overrides, bindings_for};

/// A rule with this check and these remediation steps (YAML flow lines).
fn rule(check: &str, steps: &[&str]) -> Rule {
    let steps: String = steps.iter().map(|s| format!("        - {s}\n")).collect();
    let yaml = format!(
        "id: t\ntitle: T\ndescription: d\nrationale: r\nseverity: low\ncategory: ssh\n\
         platforms: [{{family: debian}}]\nvariables:\n  tries: {{type: int, default: 4, description: d}}\n\
         implementations:\n  - default: true\n    check: {check}\n    remediation:\n      steps:\n{steps}"
    );
    let lib = Library::load([("t.yml", yaml.as_str())]);
    let errors: Vec<String> = lib.errors().map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    lib.rules.into_iter().next().unwrap()
}

const ANY_CHECK: &str = "{file_exists: {path: /etc/hostname}}";

fn remediation(r: &Rule) -> &Remediation {
    r.raw.implementations[0].value.remediation.as_ref().unwrap()
}

/// Plan with these captured files; every other path the steps name is captured as absent.
fn plan_with(r: &Rule, files: &[FileState]) -> Result<Plan, PlanError> {
    let mut map: BTreeMap<String, FileState> = files.iter().map(|f| (f.path.clone(), f.clone())).collect();
    for p in paths_to_capture(&remediation(r).steps) {
        map.entry(p.clone()).or_insert_with(|| FileState::absent(p));
    }
    plan(r, remediation(r), &bindings_for(r, &Overrides::default()), &map)
}

fn file(path: &str, text: &str) -> FileState {
    FileState::regular(path, text, 0o644, "root", "root")
}

fn after<'a>(p: &'a Plan, path: &str) -> &'a FileChange {
    p.changes.iter().find(|c| c.path == path).unwrap_or_else(|| panic!("no change to {path}: {p:?}"))
}

fn text(c: &FileChange) -> &str {
    std::str::from_utf8(&c.after_content).unwrap()
}

#[test]
fn config_set_steps_compose_on_one_file_keeping_comments_and_dropping_duplicates() {
    let r = rule(
        ANY_CHECK,
        &[
            "config_set: {path: /etc/login.defs, key: PASS_MAX_DAYS, value: 365}",
            "config_set: {path: /etc/login.defs, key: PASS_MIN_DAYS, value: {var: tries}}",
        ],
    );
    let before = "# PASS_MAX_DAYS 99999\n\u{e9}t\u{e9} comment\nPASS_MAX_DAYS\t99999\npass_max_days 7\nUMASK 022\nPASS_MIN_DAYS 0";
    let p = plan_with(&r, &[file("/etc/login.defs", before)]).unwrap();
    assert_eq!(p.changes.len(), 1, "two steps, one file, one change");
    let c = after(&p, "/etc/login.defs");
    assert_eq!(
        text(c),
        "# PASS_MAX_DAYS 99999\n\u{e9}t\u{e9} comment\nPASS_MAX_DAYS 365\nUMASK 022\nPASS_MIN_DAYS 4"
    );
    assert!(!text(c).contains('\r'));
    assert_eq!((c.after_mode, c.after_owner.as_str()), (0o644, "root"), "metadata kept");
    assert_eq!(
        unified_diff(c),
        "--- /etc/login.defs\n+++ /etc/login.defs\n@@ -1,6 +1,5 @@\n # PASS_MAX_DAYS 99999\n \u{e9}t\u{e9} comment\n\
         -PASS_MAX_DAYS\t99999\n-pass_max_days 7\n+PASS_MAX_DAYS 365\n UMASK 022\n-PASS_MIN_DAYS 0\n\\ No newline at end of file\n\
         +PASS_MIN_DAYS 4\n\\ No newline at end of file\n"
    );
}

#[test]
fn config_set_appends_after_a_missing_newline_and_creates_missing_files() {
    let r =
        rule(ANY_CHECK, &["config_set: {path: /etc/default/apport, key: enabled, value: 0, delimiter: '='}"]);
    let p = plan_with(&r, &[file("/etc/default/apport", "# set 0 to disable\nfoo=1")]).unwrap();
    assert_eq!(text(&p.changes[0]), "# set 0 to disable\nfoo=1\nenabled=0\n");
    let created = plan_with(&r, &[]).unwrap();
    let c = &created.changes[0];
    assert!(!c.before.exists && c.after_exists);
    assert_eq!(
        (text(c), c.after_mode, c.after_owner.as_str(), c.after_group.as_str()),
        ("enabled=0\n", 0o644, "root", "root")
    );
    assert_eq!(created.notes, ["creates /etc/default/apport (mode 0644, owner root:root)"]);
}

#[test]
fn already_compliant_is_a_no_op_with_an_empty_diff() {
    let r = rule(
        ANY_CHECK,
        &[
            "config_set: {path: /etc/postfix/main.cf, key: inet_interfaces, value: loopback-only, delimiter: ' = '}",
        ],
    );
    let p = plan_with(&r, &[file("/etc/postfix/main.cf", "# x\ninet_interfaces = loopback-only\n")]).unwrap();
    assert!(p.changes[0].is_noop() && p.is_noop());
    assert_eq!(unified_diff(&p.changes[0]), "");
}

#[test]
fn config_set_matches_keys_as_the_rules_check_does() {
    // The check reads keys case-sensitively with `=`, so `INET_INTERFACES` is another key.
    let check = "{config_value: {path: /etc/postfix/main.cf, key: inet_interfaces, delimiter: '=', case_insensitive_key: false, value: loopback-only}}";
    let r = rule(
        check,
        &[
            "config_set: {path: /etc/postfix/main.cf, key: inet_interfaces, value: loopback-only, delimiter: ' = '}",
        ],
    );
    let p = plan_with(&r, &[file("/etc/postfix/main.cf", "INET_INTERFACES = all\ninet_interfaces=all\n")])
        .unwrap();
    assert_eq!(text(&p.changes[0]), "INET_INTERFACES = all\ninet_interfaces = loopback-only\n");
    // Without such a check, keys are case-insensitive (the check's default).
    let loose = rule(ANY_CHECK, &["config_set: {path: /etc/login.defs, key: UMASK, value: '027'}"]);
    let p = plan_with(&loose, &[file("/etc/login.defs", "umask 022\n")]).unwrap();
    assert_eq!(text(&p.changes[0]), "UMASK 027\n");
}

#[test]
fn sshd_dropin_is_created_0600_and_wins_over_earlier_main_settings() {
    let r = rule(
        ANY_CHECK,
        &[
            "config_set_dropin: {dir: /etc/ssh/sshd_config.d, file: 00-openwatch.conf, key: MaxAuthTries, value: {var: tries}}",
            "config_set_dropin: {dir: /etc/ssh/sshd_config.d/, file: 00-openwatch.conf, key: PermitRootLogin, value: 'no'}",
            "service_restart: {name: ssh}",
        ],
    );
    let dropin = "/etc/ssh/sshd_config.d/00-openwatch.conf";
    let main = "Include /etc/ssh/sshd_config.d/*.conf\nMaxAuthTries 6\n";
    let p = plan_with(&r, &[file("/etc/ssh/sshd_config", main)]).unwrap();
    assert_eq!(p.changes.len(), 1, "settings after the Include lose to the drop-in: main untouched");
    assert_eq!(text(after(&p, dropin)), "MaxAuthTries 4\nPermitRootLogin no\n");
    assert_eq!(after(&p, dropin).after_mode, 0o600);
    assert_eq!(p.actions, [Action::ServiceRestart { unit: "ssh".into() }]);

    let early = "maxauthtries 10\nInclude /etc/ssh/sshd_config.d/*.conf\nMatch User x\n  MaxAuthTries 9\n";
    let p = plan_with(&r, &[file("/etc/ssh/sshd_config", early)]).unwrap();
    assert_eq!(
        text(after(&p, "/etc/ssh/sshd_config")),
        "MaxAuthTries 4\nInclude /etc/ssh/sshd_config.d/*.conf\nMatch User x\n  MaxAuthTries 9\n"
    );

    let no_include = "Port 22\nMatch User x\n  PermitRootLogin yes\n";
    let p = plan_with(&r, &[file("/etc/ssh/sshd_config", no_include)]).unwrap();
    assert!(p.changes.iter().all(|c| c.path != dropin), "a drop-in sshd would not read is not written");
    assert_eq!(
        text(after(&p, "/etc/ssh/sshd_config")),
        "Port 22\nMaxAuthTries 4\nPermitRootLogin no\nMatch User x\n  PermitRootLogin yes\n"
    );
    assert!(p.notes[0].contains("does not include"), "{:?}", p.notes);
}

#[test]
fn file_content_then_permissions_compose_and_permissions_need_a_file() {
    let r = rule(
        ANY_CHECK,
        &[
            "file_content: {path: /etc/issue.net, content: \"Authorized uses only.\\n\"}",
            "file_permissions: {path: /etc/issue.net, mode: '0640', group: adm}",
        ],
    );
    let p = plan_with(&r, &[file("/etc/issue.net", "Ubuntu \\n \\l\n")]).unwrap();
    let c = &p.changes[0];
    assert_eq!(
        (text(c), c.after_mode, c.after_owner.as_str(), c.after_group.as_str()),
        ("Authorized uses only.\n", 0o640, "root", "adm")
    );
    let d = unified_diff(c);
    assert!(
        d.starts_with(
            "old mode 0644\nnew mode 0640\nold owner root:root\nnew owner root:adm\n--- /etc/issue.net\n"
        ),
        "{d}"
    );

    let perms = rule(ANY_CHECK, &["file_permissions: {path: /etc/shadow, mode: '0640', owner: root}"]);
    let err = plan_with(&perms, &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "file_permissions: /etc/shadow does not exist: cannot set permissions of a missing file"
    );
    let ok =
        plan_with(&perms, &[FileState::regular("/etc/shadow", "x", 0o100600, "root", "shadow")]).unwrap();
    assert_eq!(ok.changes[0].after_mode, 0o640, "file type bits dropped, mode set");
    assert_eq!(ok.changes[0].after_content, b"x");
}

#[test]
fn file_absent_removes_and_is_a_no_op_when_already_gone() {
    let r = rule(ANY_CHECK, &["file_absent: {path: /etc/hosts.equiv}"]);
    let p = plan_with(&r, &[file("/etc/hosts.equiv", "+\n")]).unwrap();
    assert!(!p.changes[0].after_exists);
    assert!(
        unified_diff(&p.changes[0])
            .starts_with("deleted file mode 0644 owner root:root\n--- /etc/hosts.equiv\n+++ /dev/null\n")
    );
    let gone = plan_with(&r, &[]).unwrap();
    assert!(gone.is_noop());
}

#[test]
fn sysctl_persists_sets_the_running_value_and_fixes_sysctl_conf() {
    let r = rule(
        ANY_CHECK,
        &[
            "sysctl_set: {key: net.ipv4.ip_forward, value: 0, persist_file: /etc/sysctl.d/60-openwatch.conf}",
            "sysctl_set: {key: kernel.randomize_va_space, value: 2, persist_file: /etc/sysctl.d/60-openwatch.conf}",
        ],
    );
    let conf = "# Uncomment\n#net.ipv4.ip_forward=1\nnet/ipv4/ip_forward = 1\n";
    let p = plan_with(
        &r,
        &[file("/etc/sysctl.d/60-openwatch.conf", "net.ipv4.ip_forward=1\n"), file("/etc/sysctl.conf", conf)],
    )
    .unwrap();
    assert_eq!(
        text(after(&p, "/etc/sysctl.d/60-openwatch.conf")),
        "net.ipv4.ip_forward = 0\nkernel.randomize_va_space = 2\n"
    );
    assert_eq!(
        text(after(&p, "/etc/sysctl.conf")),
        "# Uncomment\n#net.ipv4.ip_forward=1\nnet.ipv4.ip_forward = 0\n"
    );
    assert_eq!(
        p.actions,
        [
            Action::SysctlRuntime { key: "net.ipv4.ip_forward".into(), value: "0".into() },
            Action::SysctlRuntime { key: "kernel.randomize_va_space".into(), value: "2".into() },
        ]
    );
    let fresh = plan_with(&r, &[]).unwrap();
    assert_eq!(fresh.changes.len(), 1, "an absent sysctl.conf is read, not created");

    // Another drop-in that sets the key (and would win at boot if read later) gets the same
    // value; drop-ins that do not set it are left alone.
    let p = plan_with(
        &r,
        &[
            file("/etc/sysctl.d/90-site.conf", "# site\nnet/ipv4/ip_forward = 1\nvm.swappiness = 10\n"),
            file("/etc/sysctl.d/10-other.conf", "vm.swappiness = 10\n"),
        ],
    )
    .unwrap();
    assert_eq!(
        text(after(&p, "/etc/sysctl.d/90-site.conf")),
        "# site\nnet.ipv4.ip_forward = 0\nvm.swappiness = 10\n"
    );
    assert!(!p.changes.iter().any(|c| c.path == "/etc/sysctl.d/10-other.conf"));
    assert!(p.notes.iter().any(|n| n.contains("/etc/sysctl.d/90-site.conf")), "{:?}", p.notes);
}

#[test]
fn audit_rules_are_added_once_and_loaded_once() {
    let rule_a = "-w /etc/sudoers -p wa -k scope";
    let r = rule(
        ANY_CHECK,
        &[
            &format!("audit_rule_set: {{rule: '{rule_a}', file: /etc/audit/rules.d/50-openwatch.rules}}"),
            &format!("audit_rule_set: {{rule: '{rule_a}', file: /etc/audit/rules.d/50-openwatch.rules}}"),
            "audit_rule_set: {rule: '-w /etc/sudoers.d -p wa -k scope', file: /etc/audit/rules.d/50-openwatch.rules}",
        ],
    );
    let p = plan_with(&r, &[]).unwrap();
    assert_eq!(text(&p.changes[0]), format!("{rule_a}\n-w /etc/sudoers.d -p wa -k scope\n"));
    assert_eq!(p.changes[0].after_mode, 0o640, "audit configuration is created 0640");
    assert_eq!(p.actions, [Action::AuditRulesLoad]);
    let present = format!("  {rule_a}\n-w /etc/sudoers.d -p wa -k scope\n");
    let same = plan_with(&r, &[file("/etc/audit/rules.d/50-openwatch.rules", &present)]).unwrap();
    assert!(same.changes[0].is_noop());
}

#[test]
fn kernel_module_gets_its_own_modprobe_file_and_an_unload() {
    let r = rule(ANY_CHECK, &["kernel_module_disable: {name: cramfs}"]);
    let p = plan_with(&r, &[]).unwrap();
    let c = after(&p, "/etc/modprobe.d/openwatch-cramfs.conf");
    assert_eq!((text(c), c.after_mode), ("install cramfs /bin/false\nblacklist cramfs\n", 0o644));
    assert_eq!(p.actions, [Action::ModuleUnload { name: "cramfs".into() }]);
}

#[test]
fn mount_options_go_to_fstab_and_a_remount() {
    let r = rule(
        ANY_CHECK,
        &[
            "mount_option_set: {mount_point: /tmp, options: [nodev]}",
            "mount_option_set: {mount_point: /tmp, options: [nosuid]}",
        ],
    );
    let fstab = "# <fs> <mp>\nUUID=1 / ext4 errors=remount-ro 0 1\ntmpfs /tmp tmpfs defaults 0 0\n";
    let p = plan_with(&r, &[file("/etc/fstab", fstab)]).unwrap();
    assert_eq!(
        text(&p.changes[0]),
        "# <fs> <mp>\nUUID=1 / ext4 errors=remount-ro 0 1\ntmpfs /tmp tmpfs defaults,nodev,nosuid 0 0\n"
    );
    assert_eq!(
        p.actions,
        [Action::Remount { mount_point: "/tmp".into(), options: vec!["nodev".into(), "nosuid".into()] }],
        "one remount with both options"
    );
    let err = plan_with(&r, &[file("/etc/fstab", "UUID=1 / ext4 defaults 0 1\n")]).unwrap_err();
    assert!(err.to_string().contains("/tmp has no entry in /etc/fstab"), "{err}");
    assert!(matches!(plan_with(&r, &[]), Err(PlanError::MissingFile { step: "mount_option_set", .. })));
}

#[test]
fn grub_parameters_edit_default_grub_and_update_the_boot_entries() {
    let r = rule(
        ANY_CHECK,
        &[
            "grub_parameter_set: {name: apparmor, value: '1'}",
            "grub_parameter_set: {name: security, value: apparmor}",
        ],
    );
    let p = plan_with(
        &r,
        &[file("/etc/default/grub", "GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX=\"quiet security=selinux\"\n")],
    )
    .unwrap();
    assert_eq!(
        text(&p.changes[0]),
        "GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX=\"quiet security=apparmor apparmor=1\"\n"
    );
    assert_eq!(
        p.actions,
        [
            Action::BootParameter { parameter: "apparmor=1".into() },
            Action::BootParameter { parameter: "security=apparmor".into() }
        ]
    );
    assert!(matches!(plan_with(&r, &[]), Err(PlanError::MissingFile { step: "grub_parameter_set", .. })));
    let evil = rule(ANY_CHECK, &["grub_parameter_set: {name: audit, value: '1\"; reboot; \"'}"]);
    let err = plan_with(&evil, &[file("/etc/default/grub", "")]).unwrap_err();
    assert!(matches!(err, PlanError::Unplannable { .. }), "{err}");
}

#[test]
fn pam_arguments_edit_the_service_file_or_say_why_not() {
    let r = rule(
        ANY_CHECK,
        &[
            "pam_module_arg: {service: common-password, type: password, module: pam_pwhistory.so, arg: remember, value: 24}",
        ],
    );
    let pam = "password requisite pam_pwhistory.so remember=5 use_authtok\npassword [success=1 default=ignore] pam_unix.so obscure\n";
    let p = plan_with(&r, &[file("/etc/pam.d/common-password", pam)]).unwrap();
    assert_eq!(text(&p.changes[0]), pam.replace("remember=5", "remember=24"));
    let err = plan_with(&r, &[file("/etc/pam.d/common-password", "@include common-auth\n")]).unwrap_err();
    assert!(err.to_string().contains("no `password` line calling pam_pwhistory.so"), "{err}");
    assert!(matches!(plan_with(&r, &[]), Err(PlanError::MissingFile { .. })));
}

#[test]
fn packages_services_commands_are_actions_and_manual_steps_are_listed() {
    let r = rule(
        ANY_CHECK,
        &[
            "package_absent: {name: telnet}",
            "package_present: {name: auditd}",
            "service_enabled: {name: auditd.service}",
            "service_disabled: {name: avahi-daemon.service, stop: false}",
            "service_masked: {name: avahi-daemon.service}",
            "service_restart: {name: auditd.service}",
            "service_restart: {name: auditd.service}",
            "command_exec: {argv: [/usr/sbin/augenrules, --load]}",
            "manual: {guidance: \"  Review `x`.\\n\"}",
        ],
    );
    let p = plan_with(&r, &[]).unwrap();
    assert!(p.changes.is_empty());
    assert_eq!(
        p.actions,
        [
            Action::PackageRemove { name: "telnet".into() },
            Action::PackageInstall { name: "auditd".into() },
            Action::ServiceEnable { unit: "auditd.service".into(), start: true },
            Action::ServiceDisable { unit: "avahi-daemon.service".into(), stop: false },
            Action::ServiceMask { unit: "avahi-daemon.service".into() },
            Action::ServiceRestart { unit: "auditd.service".into() },
            Action::Command { argv: vec!["/usr/sbin/augenrules".into(), "--load".into()] },
        ]
    );
    assert_eq!(p.manual, ["Review `x`."]);
}

#[test]
fn unplannable_inputs_are_errors_naming_the_step() {
    let r = rule(
        ANY_CHECK,
        &["config_set: {path: /etc/ssh/sshd_config, key: MaxAuthTries, value: {var: tries}}"],
    );
    let rem = remediation(&r);
    let empty = BTreeMap::new();
    let err = plan(&r, rem, &Bindings::new(), &empty).unwrap_err();
    assert_eq!(err, PlanError::UnboundVariable { step: "config_set", name: "tries".into() });
    let bindings = bindings_for(&r, &Overrides::default());
    let err = plan(&r, rem, &bindings, &empty).unwrap_err();
    assert!(err.to_string().contains("was not captured"), "{err}");
    let mut dir = FileState::absent("/etc/ssh/sshd_config");
    dir.exists = true;
    let files = BTreeMap::from([(dir.path.clone(), dir)]);
    let err = plan(&r, rem, &bindings, &files).unwrap_err();
    assert_eq!(
        err.to_string(),
        "config_set: /etc/ssh/sshd_config exists but is not a regular file; refusing to edit it"
    );
    let two_lines =
        BTreeMap::from([("tries".to_owned(), crate::rule::Value::Str("4\nPermitRootLogin yes".into()))]);
    let err = plan(&r, rem, &two_lines, &files).unwrap_err();
    assert!(err.to_string().contains("spans several lines"), "{err}");
}

#[test]
fn capture_covers_every_file_a_step_reads_or_writes() {
    let r = rule(
        ANY_CHECK,
        &[
            "config_set_dropin: {dir: /etc/ssh/sshd_config.d, file: 00-openwatch.conf, key: A, value: b}",
            "sysctl_set: {key: fs.suid_dumpable, value: 0}",
            "kernel_module_disable: {name: usb-storage}",
            "mount_option_set: {mount_point: /tmp, options: [nodev]}",
            "grub_parameter_set: {name: audit, value: '1'}",
            "pam_module_arg: {service: common-password, type: password, module: pam_unix.so, arg: sha512}",
            "file_absent: {path: /etc/ssh/sshd_config}",
            "service_restart: {name: ssh}",
        ],
    );
    assert_eq!(
        paths_to_capture(&remediation(&r).steps),
        [
            "/etc/ssh/sshd_config.d/00-openwatch.conf",
            "/etc/ssh/sshd_config",
            "/etc/sysctl.d/60-openwatch.conf",
            "/etc/sysctl.conf",
            "/etc/sysctl.d/*.conf",
            "/etc/modprobe.d/openwatch-usb-storage.conf",
            "/etc/fstab",
            "/etc/default/grub",
            "/etc/pam.d/common-password",
        ]
    );
}

#[test]
fn permissions_of_a_directory_are_an_action_not_a_file_edit() {
    let r =
        rule(ANY_CHECK, &["file_permissions: {path: /etc/cron.d, mode: '0700', owner: root, group: root}"]);
    let dir = FileState::directory("/etc/cron.d");
    let files = BTreeMap::from([(dir.path.clone(), dir)]);
    let p = plan(&r, remediation(&r), &Bindings::new(), &files).unwrap();
    assert!(p.changes.is_empty(), "{:?}", p.changes);
    assert_eq!(
        p.actions,
        [Action::DirectoryPermissions {
            path: "/etc/cron.d".into(),
            mode: Some(0o700),
            owner: Some("root".into()),
            group: Some("root".into()),
        }]
    );
    assert_eq!(p.actions[0].to_string(), "set the directory /etc/cron.d to mode 0700, owner root:root");
    assert_eq!(risk(&p), Risk::Medium);
}

#[test]
fn comment_out_disarms_matching_lines_in_every_file_a_glob_matches_and_nothing_else() {
    let r = rule(
        ANY_CHECK,
        &[
            r#"file_content: {path: /etc/profile.d/50-ours.sh, content: "TMOUT=900\n"}"#,
            r"comment_out: {path: /etc/profile.d/*.sh, pattern: '^\s*(export\s+)?TMOUT=(0+|[1-9][0-9]{3,})\b'}",
            r"comment_out: {path: /etc/bashrc, pattern: 'TMOUT=0'}",
        ],
    );
    let mut odd = file("/etc/profile.d/odd.sh", "");
    odd.content = b"  export TMOUT=3600 # \xff\n# TMOUT=0 already a comment\nTMOUT=600\n".to_vec();
    let p = plan_with(
        &r,
        &[
            odd,
            file("/etc/profile.d/clean.sh", "TMOUT=600\n"),
            file("/etc/profile.d/sub/deep.sh", "TMOUT=0\n"),
        ],
    )
    .unwrap();
    let c = after(&p, "/etc/profile.d/odd.sh");
    assert_eq!(
        c.after_content, b"#   export TMOUT=3600 # \xff\n# TMOUT=0 already a comment\nTMOUT=600\n",
        "the line's own bytes kept, behind `# `"
    );
    assert_eq!(after(&p, "/etc/profile.d/50-ours.sh").after_content, b"TMOUT=900\n", "ours does not match");
    let touched: Vec<&str> = p.changes.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(touched, ["/etc/profile.d/50-ours.sh", "/etc/profile.d/odd.sh"], "a glob does not cross `/`");
    assert!(p.notes.iter().any(|n| n == "comments out 1 line in /etc/profile.d/odd.sh"), "{:?}", p.notes);
}

#[test]
fn a_comment_out_pattern_that_is_not_a_regex_is_a_lint_error() {
    let yaml = "id: t\ntitle: T\ndescription: d\nrationale: r\nseverity: low\ncategory: ssh\n\
                platforms: [{family: debian}]\nimplementations:\n  - default: true\n    check: {file_exists: {path: /etc/hostname}}\n    remediation:\n      steps:\n        - comment_out: {path: /etc/a, pattern: 'x('}\n";
    let lib = Library::load([("t.yml", yaml)]);
    let errors: Vec<String> = lib.errors().map(|e| e.to_string()).collect();
    assert!(
        errors.iter().any(|e| e.contains("t.yml:13:") && e.contains("invalid regular expression")),
        "{errors:?}"
    );
}
