//! The checks read the planned files as passing: each edit is evaluated by the check method
//! that judges it, before (fails) and after (passes) the plan.

use std::collections::BTreeMap;

use super::*;
use crate::eval::Status;
use crate::eval::{grub, kmod, sshd, sysctl};
use crate::library::Library;
use crate::testkit::{Fixture, entry};
use crate::vars::{Overrides, bindings_for};

/// A rule with one check (a flow mapping without its braces) and these steps.
fn rule(check: &str, steps: &[&str]) -> Rule {
    let steps: String = steps.iter().map(|s| format!("        - {s}\n")).collect();
    let yaml = format!(
        "id: t\ntitle: T\ndescription: d\nrationale: r\nseverity: low\ncategory: ssh\n\
         platforms: [{{family: debian}}]\n\
         implementations:\n  - default: true\n    check: {{{check}}}\n    remediation:\n      steps:\n{steps}"
    );
    let lib = Library::load([("t.yml", yaml.as_str())]);
    assert_eq!(lib.errors().count(), 0, "{:?}", lib.findings);
    lib.rules.into_iter().next().unwrap()
}

/// The files after planning `r` on a host holding `files` (path, content).
fn planned(r: &Rule, files: &[(&str, &str)]) -> BTreeMap<String, Option<String>> {
    let rem = r.raw.implementations[0].value.remediation.as_ref().unwrap();
    let mut map: BTreeMap<String, FileState> = files
        .iter()
        .map(|(p, t)| ((*p).to_owned(), FileState::regular(*p, *t, 0o644, "root", "root")))
        .collect();
    for p in paths_to_capture(&rem.steps) {
        map.entry(p.clone()).or_insert_with(|| FileState::absent(p));
    }
    let p = plan(r, rem, &bindings_for(r, &Overrides::default()), &map).unwrap();
    let mut out: BTreeMap<String, Option<String>> =
        files.iter().map(|(p, t)| ((*p).to_owned(), Some((*t).to_owned()))).collect();
    for c in p.changes {
        let text = c.after_exists.then(|| String::from_utf8(c.after_content).unwrap());
        out.insert(c.path, text);
    }
    out
}

fn entries(files: &BTreeMap<String, Option<String>>, dir: &str) -> Vec<crate::facts::FileEntry> {
    files
        .iter()
        .filter(|(p, t)| t.is_some() && p.rsplit_once('/').is_some_and(|(d, _)| d == dir))
        .map(|(p, t)| entry(p, 0o644, t.as_deref()))
        .collect()
}

#[test]
fn sshd_fallback_reads_the_planned_dropin_and_main_file() {
    let check = "sshd_config: {key: maxauthtries, comparator: '<=', value: 4}";
    let r = rule(
        check,
        &[
            "config_set_dropin: {dir: /etc/ssh/sshd_config.d, file: 00-openwatch.conf, key: MaxAuthTries, value: 4}",
        ],
    );
    for main in [
        "Include /etc/ssh/sshd_config.d/*.conf\nMaxAuthTries 6\n",
        "MaxAuthTries 10\nInclude /etc/ssh/sshd_config.d/*.conf\n",
        "Port 22\nMatch User bob\n  MaxAuthTries 10\n",
    ] {
        let fixture = |files: &BTreeMap<String, Option<String>>| {
            Fixture::new()
                .command(sshd::SSHD_T, 1, "")
                .file(sshd::MAIN, 0o600, files[sshd::MAIN].as_deref().unwrap())
                .entries(sshd::DROPINS, entries(files, "/etc/ssh/sshd_config.d"))
        };
        let before: BTreeMap<String, Option<String>> =
            [(sshd::MAIN.to_owned(), Some(main.to_owned()))].into();
        fixture(&before).expect(check, Status::Fail);
        fixture(&planned(&r, &[(sshd::MAIN, main)])).expect(check, Status::Pass);
    }
}

#[test]
fn config_value_reads_the_planned_login_defs() {
    let check = "config_value: {path: /etc/login.defs, key: PASS_MAX_DAYS, comparator: '<=', value: 365}";
    let r = rule(check, &["config_set: {path: /etc/login.defs, key: PASS_MAX_DAYS, value: 365}"]);
    let before = "PASS_MAX_DAYS 99999\n# PASS_MAX_DAYS 1\npass_max_days 400\n";
    Fixture::new().file("/etc/login.defs", 0o644, before).expect(check, Status::Fail);
    let after = planned(&r, &[("/etc/login.defs", before)]);
    Fixture::new()
        .file("/etc/login.defs", 0o644, after["/etc/login.defs"].as_deref().unwrap())
        .expect(check, Status::Pass);
}

#[test]
fn sysctl_reads_the_planned_dropin_and_sysctl_conf() {
    let check = "sysctl: {key: net.ipv4.ip_forward, value: 0}";
    let r = rule(
        check,
        &["sysctl_set: {key: net.ipv4.ip_forward, value: 0, persist_file: /etc/sysctl.d/60-openwatch.conf}"],
    );
    let files = planned(&r, &[("/etc/sysctl.conf", "net.ipv4.ip_forward = 1\n")]);
    // The running value is what the SysctlRuntime action sets.
    Fixture::new()
        .file("/proc/sys/net/ipv4/ip_forward", 0o644, "0\n")
        .entries(sysctl::DIRS[0], entries(&files, "/etc/sysctl.d"))
        .absent(&sysctl::DIRS[1..])
        .file(sysctl::SYSCTL_CONF, 0o644, files["/etc/sysctl.conf"].as_deref().unwrap())
        .expect(check, Status::Pass);
}

#[test]
fn kernel_module_check_reads_the_planned_modprobe_file() {
    let r = rule("kernel_module: {name: cramfs}", &["kernel_module_disable: {name: cramfs}"]);
    let files = planned(&r, &[]);
    // After the ModuleUnload action, the module is not in /proc/modules.
    Fixture::new()
        .file(kmod::PROC_MODULES, 0o444, "ext4 1 0 - Live 0x0\n")
        .entries(kmod::DIRS[0], entries(&files, "/etc/modprobe.d"))
        .absent(&kmod::DIRS[1..])
        .module_index(0, "available cramfs\n")
        .expect("kernel_module: {name: cramfs}", Status::Pass);
}

#[test]
fn pam_and_grub_checks_read_the_planned_files() {
    let check = "pam_module: {service: common-password, type: password, module: pam_pwhistory.so, args: [{name: remember, comparator: '>=', value: 24}]}";
    let r = rule(
        check,
        &[
            "pam_module_arg: {service: common-password, type: password, module: pam_pwhistory.so, arg: remember, value: 24}",
        ],
    );
    let pam = "password requisite pam_pwhistory.so remember=5 use_authtok\n";
    let fixture = |text: &str| {
        Fixture::new().entries("/etc/pam.d/*", vec![entry("/etc/pam.d/common-password", 0o644, Some(text))])
    };
    fixture(pam).expect(check, Status::Fail);
    let files = planned(&r, &[("/etc/pam.d/common-password", pam)]);
    fixture(files["/etc/pam.d/common-password"].as_deref().unwrap()).expect(check, Status::Pass);

    let check = "grub_parameter: {name: audit, value: '1'}";
    let r = rule(check, &["grub_parameter_set: {name: audit, value: '1'}"]);
    let default = "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet audit=0\"\nGRUB_CMDLINE_LINUX=\"\"\n";
    let fixture = |text: &str| {
        Fixture::new().absent(grub::GRUB_CFGS).absent(&[grub::BLS, grub::DEFAULT_D]).file(
            grub::DEFAULT,
            0o644,
            text,
        )
    };
    fixture(default).expect(check, Status::Fail);
    let files = planned(&r, &[(grub::DEFAULT, default)]);
    fixture(files[grub::DEFAULT].as_deref().unwrap()).expect(check, Status::Pass);
}
