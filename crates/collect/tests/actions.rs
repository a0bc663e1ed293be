//! Non-file steps of a fix run by a real shell against stub commands (systemctl, sysctl,
//! apt-get, dpkg-query, modprobe, mount, augenrules, update-grub) placed first on PATH, each
//! recording its argv: so nothing on this machine changes, and the test sees exactly which
//! words each command received. Hostile unit and package names arrive as one word and run
//! nothing; the rollback restores the files first, then undoes the actions last first from
//! the journal alone, and says what it could not restore; an action that fails stops the
//! apply; a pre-state that cannot be captured stops it before anything changed.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use openwatch_collect::capture::capture;
use openwatch_collect::txn::{self, After, FileChange, TxnError};
use openwatch_collect::{LocalTransport, Transport};
use openwatch_core::fix::Action;

struct Stubs {
    dir: tempfile::TempDir,
}

impl Stubs {
    /// Stub commands in `<tmp>/bin`, recording to `<tmp>/log` one line per call: the
    /// command's name, then each argument in brackets.
    fn new() -> Stubs {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let d = dir.path().display();
        let record =
            format!("{{ printf '%s' \"${{0##*/}}\"; printf ' [%s]' \"$@\"; printf '\\n'; }} >> '{d}/log'\n");
        let pkgs = format!("{d}/installed");
        std::fs::write(&pkgs, "installed-pkg\n").unwrap();
        let stubs: &[(&str, String)] = &[
            ("sysctl", String::new()),
            ("modprobe", String::new()),
            ("mount", String::new()),
            ("augenrules", String::new()),
            ("update-grub", String::new()),
            ("runme", String::new()),
            (
                "systemctl",
                "case \"$1\" in is-enabled) echo disabled; exit 1 ;; \
                 is-active) case \"$3\" in ssh.service|failing.service) echo active; exit 0 ;; esac; echo inactive; exit 3 ;; \
                 restart) [ \"$3\" != failing.service ] || exit 1 ;; esac\n"
                    .to_owned(),
            ),
            (
                "dpkg-query",
                format!(
                    "eval \"ow_n=\\${{$#}}\"; if grep -qxF -- \"$ow_n\" '{pkgs}'; then echo \"ii  1.2-3\"; else echo 'un '; fi\n"
                ),
            ),
            (
                "apt-get",
                format!(
                    "ow_n=${{4%%=*}}; case \"$1\" in install) echo \"$ow_n\" >> '{pkgs}' ;; \
                     remove) grep -vxF -- \"$ow_n\" '{pkgs}' > '{pkgs}.new'; mv '{pkgs}.new' '{pkgs}' ;; esac\n"
                ),
            ),
        ];
        for (name, body) in stubs {
            let p = bin.join(name);
            std::fs::write(&p, format!("#!/bin/sh\n{record}{body}exit 0\n")).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        Stubs { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Run a transaction script with the stubs first on its PATH.
    fn run(&self, script: &str) -> openwatch_collect::ScriptOutput {
        let bin = self.path("bin").display().to_string();
        let script = script.replacen("export PATH=", &format!("export PATH={bin}:"), 1);
        LocalTransport.run_script(&script).unwrap()
    }

    /// The calls recorded since the last look, and forget them.
    fn calls(&self) -> Vec<String> {
        let log = self.path("log");
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&log);
        text.lines().map(str::to_owned).collect()
    }
}

fn running_value(key: &str) -> String {
    std::fs::read_to_string(format!("/proc/sys/{}", key.replace('.', "/"))).unwrap().trim_end().to_owned()
}

fn file_change(path: &Path, content: &str) -> FileChange {
    let p = path.display().to_string();
    let pre = capture(std::slice::from_ref(&p), &mut LocalTransport).unwrap();
    let id = |flag: &str| {
        let out = std::process::Command::new("id").arg(flag).output().unwrap().stdout;
        String::from_utf8(out).unwrap().trim().to_owned()
    };
    FileChange {
        path: p.clone(),
        before: pre[&p].clone(),
        after: After::File {
            content: content.as_bytes().to_vec(),
            mode: 0o644,
            owner: id("-un"),
            group: id("-gn"),
        },
    }
}

#[test]
fn every_action_is_applied_with_quoted_argv_and_undone_in_reverse_from_the_journal() {
    let stubs = Stubs::new();
    let d = stubs.dir.path();
    let journal = d.join("journal").display().to_string();
    let conf = d.join("sshd_config");
    std::fs::write(&conf, "MaxAuthTries 6\n").unwrap();
    let pwned = d.join("pwned");
    let hostile_unit = format!("x'; touch {} #.service", pwned.display());
    let hostile_pkg = format!("$(touch {})`touch {}`", pwned.display(), pwned.display());
    let runme = stubs.path("bin/runme").display().to_string();
    let hostile_arg = format!("a b'\"; touch {}", pwned.display());
    let forward = running_value("net.ipv4.ip_forward");
    let redirects = running_value("net.ipv4.conf.all.accept_redirects");
    let actions = vec![
        Action::SysctlRuntime { key: "net.ipv4.ip_forward".into(), value: "1".into() },
        Action::ServiceDisable { unit: hostile_unit.clone(), stop: false },
        Action::PackageInstall { name: hostile_pkg.clone() },
        Action::PackageRemove { name: "installed-pkg".into() },
        Action::ModuleUnload { name: "owtest_not_loaded".into() },
        Action::AuditRulesLoad,
        Action::BootParameter { parameter: "audit=1".into() },
        Action::Command { argv: vec![runme.clone(), hostile_arg.clone()] },
        Action::ServiceRestart { unit: "ssh.service".into() },
        // Not running: left alone, it reads its files when it next starts.
        Action::ServiceRestart { unit: "stopped.service".into() },
    ];
    let systemd = Path::new("/run/systemd/system").exists();
    let changes = vec![file_change(&conf, "MaxAuthTries 4\n")];
    let out = stubs.run(&txn::apply_all_script(&journal, "tx-a", &changes, &actions).unwrap());
    // The pre-state each action captured into the journal is reported back to the caller.
    let pre = txn::action_pre_states(&out);
    let value =
        |i: usize, name: &str| pre.iter().find(|p| p.index == i && p.name == name).map(|p| p.value.clone());
    assert_eq!(value(0, "pre"), Some(forward.clone()), "{pre:?}");
    assert_eq!(value(0, "side"), Some(redirects.clone()), "{pre:?}");
    assert_eq!(value(2, "pre"), Some(String::new()), "not installed before: {pre:?}");
    assert!(value(3, "pre").is_some_and(|v| !v.is_empty()), "installed before: {pre:?}");
    let applied = txn::read_outcome("tx-a", "the fix was planned", out);
    let mut expected = vec![
        // The captures, before anything changes.
        format!("systemctl [is-enabled] [--] [{hostile_unit}]"),
        format!("dpkg-query [-W] [-f=${{db:Status-Abbrev}} ${{Version}}\\n] [{hostile_pkg}]"),
        // What was installed before an install, for its undo.
        "dpkg-query [-W] [-f=${db:Status-Abbrev} ${Package}\\n]".to_owned(),
        "dpkg-query [-W] [-f=${db:Status-Abbrev} ${Version}\\n] [installed-pkg]".to_owned(),
        // The changes, in plan order.
        "sysctl [-q] [-w] [net.ipv4.ip_forward=1]".to_owned(),
        // Forwarding resets accept_redirects in the kernel: it is kept as it was.
        format!("sysctl [-q] [-w] [net.ipv4.conf.all.accept_redirects={redirects}]"),
        format!("systemctl [disable] [--] [{hostile_unit}]"),
        format!("apt-get [install] [-y] [-q] [{hostile_pkg}]"),
        "apt-get [remove] [-y] [-q] [installed-pkg]".to_owned(),
        "augenrules [--load]".to_owned(),
        "update-grub []".to_owned(),
        format!("runme [{hostile_arg}]"),
    ];
    if systemd {
        expected.insert(1, format!("systemctl [is-active] [--] [{hostile_unit}]"));
        expected.insert(5, "systemctl [is-active] [--] [ssh.service]".to_owned());
        expected.push("systemctl [reset-failed] [--] [ssh.service]".to_owned());
        expected.push("systemctl [restart] [--] [ssh.service]".to_owned());
        expected.insert(6, "systemctl [is-active] [--] [stopped.service]".to_owned());
        applied.unwrap();
    } else {
        // Without a running systemd a restart cannot happen: the apply stops there.
        match applied {
            Err(TxnError::ActionFailed(why)) => {
                assert!(why.contains("systemd is not running") && why.contains("ssh.service"), "{why}")
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(stubs.calls(), expected);
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), "MaxAuthTries 4\n");
    assert!(!pwned.exists(), "a hostile name ran a command");
    let act = d.join("journal/tx-a/act");
    assert_eq!(std::fs::read_to_string(act.join("0.pre")).unwrap().trim_end(), forward);
    assert_eq!(std::fs::read_to_string(act.join("1.enabled")).unwrap(), "disabled\n");
    assert_eq!(std::fs::read_to_string(act.join("3.pre")).unwrap(), "1.2-3\n", "the removed version");
    assert_eq!(std::fs::read_to_string(act.join("6.tool")).unwrap(), "update-grub\n", "what was run");

    // Rollback: the file first, then each action's undo, last first.
    let out = stubs.run(&txn::rollback_script(&journal, "tx-a").unwrap());
    let notes = txn::notes(&out);
    txn::read_outcome("tx-a", "the fix", out).unwrap();
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), "MaxAuthTries 6\n");
    let mut expected = vec![
        "update-grub []".to_owned(),
        "augenrules [--load]".to_owned(),
        "dpkg-query [-W] [-f=${db:Status-Abbrev} ${Version}\\n] [installed-pkg]".to_owned(),
        "apt-get [install] [-y] [-q] [installed-pkg=1.2-3]".to_owned(),
        // The install's undo: whatever it brought (the stub lists nothing installed), and it.
        "dpkg-query [-W] [-f=${db:Status-Abbrev} ${Package}\\n]".to_owned(),
        format!("apt-get [purge] [-y] [-q] [{hostile_pkg}]"),
        format!("systemctl [is-enabled] [--] [{hostile_unit}]"),
        format!("systemctl [disable] [--] [{hostile_unit}]"),
        format!("sysctl [-q] [-w] [net.ipv4.ip_forward={forward}]"),
        format!("sysctl [-q] [-w] [net.ipv4.conf.all.accept_redirects={redirects}]"),
    ];
    if systemd {
        // ssh ran before: the restart's undo restarts it on the restored files; the unit that
        // was not running is stopped (it stays stopped).
        expected.insert(0, "systemctl [stop] [--] [stopped.service]".to_owned());
        expected.insert(1, "systemctl [reset-failed] [--] [stopped.service]".to_owned());
        expected.insert(2, "systemctl [reset-failed] [--] [ssh.service]".to_owned());
        expected.insert(3, "systemctl [restart] [--] [ssh.service]".to_owned());
        expected.insert(12, format!("systemctl [stop] [--] [{hostile_unit}]"));
    }
    assert_eq!(stubs.calls(), expected);
    assert!(!pwned.exists(), "a hostile name ran a command");
    let reinstalled = "reinstalled installed-pkg 1.2-3; its configuration files are back only if the package manager kept them";
    for n in [
        "the restored boot configuration takes effect at the next boot",
        reinstalled,
        "cannot be undone automatically; undo it by hand",
        "with the packages installed with it",
    ] {
        assert!(notes.iter().any(|x| x.contains(n)), "{n:?} not in {notes:#?}");
    }
}

#[test]
fn a_failing_action_stops_the_apply_and_the_rollback_undoes_only_what_started() {
    let stubs = Stubs::new();
    let d = stubs.dir.path();
    let journal = d.join("journal").display().to_string();
    let conf = d.join("a.conf");
    std::fs::write(&conf, "a=1\n").unwrap();
    let actions = vec![
        Action::SysctlRuntime { key: "net.ipv4.ip_forward".into(), value: "1".into() },
        Action::ServiceRestart { unit: "failing.service".into() },
        Action::AuditRulesLoad,
    ];
    let changes = vec![file_change(&conf, "a=2\n")];
    let out = stubs.run(&txn::apply_all_script(&journal, "tx-f", &changes, &actions).unwrap());
    match txn::read_outcome("tx-f", "the fix was planned", out) {
        Err(TxnError::ActionFailed(why)) => assert!(why.contains("action 1 failed"), "{why}"),
        other => panic!("{other:?}"),
    }
    let calls = stubs.calls();
    assert!(!calls.iter().any(|c| c.starts_with("augenrules")), "nothing after the failure ran: {calls:?}");
    let out = stubs.run(&txn::rollback_script(&journal, "tx-f").unwrap());
    txn::read_outcome("tx-f", "the fix", out).unwrap();
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), "a=1\n");
    let forward = running_value("net.ipv4.ip_forward");
    let redirects = running_value("net.ipv4.conf.all.accept_redirects");
    let mut expected = vec![
        format!("sysctl [-q] [-w] [net.ipv4.ip_forward={forward}]"),
        format!("sysctl [-q] [-w] [net.ipv4.conf.all.accept_redirects={redirects}]"),
    ];
    if Path::new("/run/systemd/system").exists() {
        // The unit ran before (the stub says so): it is restarted on the restored files.
        expected.insert(0, "systemctl [reset-failed] [--] [failing.service]".to_owned());
        expected.insert(1, "systemctl [restart] [--] [failing.service]".to_owned());
    }
    assert_eq!(stubs.calls(), expected, "the audit load never started, nothing else is undone");
}

#[test]
fn a_pre_state_that_cannot_be_captured_stops_the_apply_before_any_change() {
    let stubs = Stubs::new();
    let d = stubs.dir.path();
    let journal = d.join("journal").display().to_string();
    let conf = d.join("fstab");
    std::fs::write(&conf, "x\n").unwrap();
    let not_mounted = d.join("not a mount point").display().to_string();
    let actions = vec![
        Action::SysctlRuntime { key: "net.ipv4.ip_forward".into(), value: "1".into() },
        Action::Remount { mount_point: not_mounted.clone(), options: vec!["nodev".into()] },
    ];
    let changes = vec![file_change(&conf, "y\n")];
    let out = stubs.run(&txn::apply_all_script(&journal, "tx-r", &changes, &actions).unwrap());
    match txn::read_outcome("tx-r", "the fix was planned", out) {
        Err(TxnError::Refused(why)) => {
            assert!(why.contains(&not_mounted) && why.contains("not a mount point"), "{why}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), "x\n");
    assert!(stubs.calls().is_empty(), "no command ran");
    assert!(!d.join("journal/tx-r").exists(), "no journal is left");
}

#[test]
fn a_remount_is_undone_with_the_inverse_of_each_option_it_added() {
    let stubs = Stubs::new();
    let journal = stubs.path("journal").display().to_string();
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
    let root_opts = mounts.lines().rfind(|l| l.split(' ').nth(1) == Some("/")).unwrap();
    let had: Vec<&str> = root_opts.split(' ').nth(3).unwrap().split(',').collect();
    let actions =
        vec![Action::Remount { mount_point: "/".into(), options: vec!["nodev".into(), "nosuid".into()] }];
    let out = stubs.run(&txn::apply_all_script(&journal, "tx-m", &[], &actions).unwrap());
    txn::read_outcome("tx-m", "the fix was planned", out).unwrap();
    assert_eq!(stubs.calls(), vec!["mount [-o] [remount,nodev,nosuid] [--] [/]"]);
    let out = stubs.run(&txn::rollback_script(&journal, "tx-m").unwrap());
    txn::read_outcome("tx-m", "the fix", out).unwrap();
    let inverse: String = [("nodev", "dev"), ("nosuid", "suid")]
        .iter()
        .filter(|(o, _)| !had.contains(o))
        .map(|(_, inv)| format!(",{inv}"))
        .collect();
    let expected =
        if inverse.is_empty() { vec![] } else { vec![format!("mount [-o] [remount{inverse}] [--] [/]")] };
    assert_eq!(stubs.calls(), expected);
}

#[test]
fn names_that_would_become_options_or_bad_keys_are_refused() {
    use openwatch_collect::actions::shell;
    for bad in [
        Action::ServiceRestart { unit: "--now".into() },
        Action::PackageInstall { name: "-oDebug::pkgProblemResolver=1".into() },
        Action::ModuleUnload { name: "a;b".into() },
        Action::SysctlRuntime { key: "../../etc/passwd".into(), value: "1".into() },
        Action::SysctlRuntime { key: "kernel.x".into(), value: "1\n2".into() },
        Action::Remount { mount_point: "tmp".into(), options: vec!["nodev".into()] },
        Action::Remount { mount_point: "/tmp".into(), options: vec!["nodev,suid".into()] },
        Action::BootParameter { parameter: "a b".into() },
        Action::Command { argv: vec![] },
    ] {
        assert!(shell(0, &bad).is_err(), "{bad:?} was accepted");
    }
}

#[test]
fn actions_run_with_a_usual_umask_not_the_journal_s() {
    let stubs = Stubs::new();
    let journal = stubs.path("journal").display().to_string();
    let seen = stubs.path("umask");
    let argv = vec!["/bin/sh".into(), "-c".into(), format!("umask > '{}'", seen.display())];
    let out = stubs.run(&txn::apply_all_script(&journal, "tx-u", &[], &[Action::Command { argv }]).unwrap());
    txn::read_outcome("tx-u", "the fix was planned", out).unwrap();
    assert_eq!(
        std::fs::read_to_string(&seen).unwrap().trim(),
        "0022",
        "files a package script creates are readable"
    );
    let mode = std::fs::metadata(stubs.path("journal/tx-u")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "the journal stays root-only");
}

#[test]
fn a_directory_gets_its_mode_and_owner_and_gets_them_back() {
    let stubs = Stubs::new();
    let d = stubs.dir.path();
    let journal = d.join("journal").display().to_string();
    let dir = d.join("cron.d it's");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(dir.join("job"), "kept\n").unwrap();
    let me = |flag: &str| String::from_utf8(Command::new("id").arg(flag).output().unwrap().stdout).unwrap();
    let (owner, group) = (me("-un").trim().to_owned(), me("-gn").trim().to_owned());
    let actions = vec![Action::DirectoryPermissions {
        path: dir.display().to_string(),
        mode: Some(0o700),
        owner: Some(owner.clone()),
        group: Some(group),
    }];
    let out = stubs.run(&txn::apply_all_script(&journal, "tx-d", &[], &actions).unwrap());
    txn::read_outcome("tx-d", "the fix was planned", out).unwrap();
    assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o7777, 0o700);
    assert_eq!(std::fs::read_to_string(dir.join("job")).unwrap(), "kept\n", "the content is not touched");
    let out = stubs.run(&txn::rollback_script(&journal, "tx-d").unwrap());
    txn::read_outcome("tx-d", "the fix", out).unwrap();
    assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o7777, 0o755);

    // A path that is not a directory (here: a symbolic link to one) is refused before any change.
    let link = d.join("link");
    std::os::unix::fs::symlink(&dir, &link).unwrap();
    let actions = vec![Action::DirectoryPermissions {
        path: link.display().to_string(),
        mode: Some(0o700),
        owner: None,
        group: None,
    }];
    let out = stubs.run(&txn::apply_all_script(&journal, "tx-l", &[], &actions).unwrap());
    let err = txn::read_outcome("tx-l", "the fix was planned", out).unwrap_err();
    assert!(err.to_string().contains("is not a directory"), "{err}");
    assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o7777, 0o755);
}
