//! The host-side shell for a fix's steps that are not file edits (the core's typed
//! [`Action`]s). Each action becomes three pieces of shell, all built through [`quote`]:
//! a capture that writes the pre-state a rollback needs into the transaction's journal
//! (`$ow_A.*`, before anything changes), the change itself, and an undo that the rollback
//! runs from the journal alone, after the files are restored, in reverse order. What an undo
//! cannot restore it says in a `note` line rather than failing the rollback.
//!
//! Names (units, packages, modules) starting with `-` are refused so no value can become an
//! option; everything else, however hostile, reaches the commands as one quoted word.

use std::fmt::Write as _;

use openwatch_core::fix::Action;
use thiserror::Error;

use crate::quote::{QuoteError, quote};

#[derive(Debug, Error)]
pub enum ActionError {
    #[error(transparent)]
    Quote(#[from] QuoteError),
    #[error("{what} {value:?} is not acceptable: {why}")]
    Invalid { what: &'static str, value: String, why: &'static str },
}

/// Shell functions the apply and rollback scripts share (after the transaction prelude).
/// `ow_fail` stops an apply with exit 78 (the caller rolls back); `ow_refuse` stops it
/// before anything changed, removing the journal (exit 79); `ow_note` tells the caller what
/// an undo could not restore.
pub const PRELUDE: &str = r#"ow_fail() { printf 'action %s failed: %s\n' "$1" "$2" >&2; exit 78; }
ow_refuse() { printf '%s\n' "$1" >&2; rm -rf -- "$ow_j"; exit 79; }
ow_note() { printf 'note %s\n' "$1"; }
ow_systemd() { [ -d /run/systemd/system ]; }
ow_has() { command -v "$1" >/dev/null 2>&1; }
ow_pkgmgr() {
  if ow_has apt-get; then echo apt-get; elif ow_has dnf; then echo dnf
  elif ow_has yum; then echo yum; else echo none; fi
}
# ow_pkgver NAME: the installed version of NAME, or nothing.
ow_pkgver() {
  if ow_has dpkg-query; then
    dpkg-query -W -f='${db:Status-Abbrev} ${Version}\n' "$1" 2>/dev/null | awk 'substr($1, 2, 1) == "i" { print $2 }'
  elif ow_has rpm; then
    rpm -q --qf '%{EPOCHNUM}:%{VERSION}-%{RELEASE}\n' "$1" 2>/dev/null | grep -v 'not installed'
  fi
  return 0
}
# ow_pkglist: the names of the installed packages, sorted.
ow_pkglist() {
  if ow_has dpkg-query; then
    dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' 2>/dev/null | awk 'substr($1, 2, 1) == "i" { print $2 }' | sort -u
  elif ow_has rpm; then
    rpm -qa --qf '%{NAME}\n' 2>/dev/null | sort -u
  fi
  return 0
}
# ow_pkgpurge: remove the packages named on standard input (one per line, each one word to
# the package manager), with their configuration.
ow_pkgpurge() {
  set --
  while IFS= read -r ow_p; do [ -z "$ow_p" ] || set -- "$@" "$ow_p"; done
  [ $# -gt 0 ] || return 0
  case "$(ow_pkgmgr)" in
    # sudo refuses its own removal on a host without a root password unless told: these
    # are packages the fix installed, so removing them is going back, not locking out.
    apt-get) DEBIAN_FRONTEND=noninteractive SUDO_FORCE_REMOVE=yes apt-get purge -y -q "$@" ;;
    dnf|yum) "$(ow_pkgmgr)" remove -y -q "$@" ;;
    *) return 1 ;;
  esac
}
# ow_pkg install|remove NAME [VERSION]
ow_pkg() {
  case "$(ow_pkgmgr)" in
    apt-get) if [ -n "$3" ]; then ow_w="$2=$3"; else ow_w=$2; fi
      DEBIAN_FRONTEND=noninteractive apt-get "$1" -y -q "$ow_w" ;;
    dnf|yum) if [ -n "$3" ]; then ow_w="$2-$3"; else ow_w=$2; fi
      "$(ow_pkgmgr)" "$1" -y -q "$ow_w" ;;
    *) echo "no package manager (apt-get, dnf, yum) on this host" >&2; return 1 ;;
  esac
}
"#;

/// Keys whose write makes the kernel reset [`ACCEPT_REDIRECTS`] (`inet_forward_change`).
const FORWARDING: &[&str] = &["net.ipv4.ip_forward", "net.ipv4.conf.all.forwarding"];
const ACCEPT_REDIRECTS: &str = "net.ipv4.conf.all.accept_redirects";

/// One action's shell: `capture` and `apply` run in the apply script, `undo` is stored in
/// the journal for the rollback. All three read `$ow_A`, the action's journal prefix.
#[derive(Debug, Clone)]
pub struct ActionShell {
    pub capture: String,
    pub apply: String,
    pub undo: String,
}

fn invalid(what: &'static str, value: &str, why: &'static str) -> ActionError {
    ActionError::Invalid { what, value: value.to_owned(), why }
}

/// A unit, package or module name: never empty, never an option, one line.
fn name<'a>(what: &'static str, v: &'a str) -> Result<&'a str, ActionError> {
    if v.is_empty() || v.starts_with('-') || v.contains('\n') {
        return Err(invalid(what, v, "empty, starting with `-` or spanning lines"));
    }
    Ok(v)
}

/// The running value's file under /proc/sys: dots (or slashes) separate the components.
fn sysctl_path(key: &str) -> Result<String, ActionError> {
    let sep = if key.contains('/') { '/' } else { '.' };
    let parts: Vec<&str> = key.split(sep).collect();
    let ok = parts.iter().all(|p| {
        !p.is_empty() && *p != ".." && p.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
    });
    if !ok || key.starts_with('-') {
        return Err(invalid("the kernel parameter", key, "not a sysctl key"));
    }
    Ok(format!("/proc/sys/{}", parts.join("/")))
}

/// A mount point as /proc/self/mounts writes it (octal escapes for blanks and `\`).
fn mounts_escape(mp: &str) -> String {
    let mut out = String::new();
    for c in mp.chars() {
        match c {
            ' ' => out.push_str("\\040"),
            '\t' => out.push_str("\\011"),
            '\n' => out.push_str("\\012"),
            '\\' => out.push_str("\\134"),
            c => out.push(c),
        }
    }
    out
}

/// The mount option that undoes `o`, for those the kernel can switch back on a remount.
fn inverse(o: &str) -> Option<&'static str> {
    Some(match o {
        "nodev" => "dev",
        "dev" => "nodev",
        "nosuid" => "suid",
        "suid" => "nosuid",
        "noexec" => "exec",
        "exec" => "noexec",
        "ro" => "rw",
        "rw" => "ro",
        _ => return None,
    })
}

/// The shell for action number `i` of a transaction.
pub fn shell(i: usize, action: &Action) -> Result<ActionShell, ActionError> {
    let fail = |msg: &str| -> Result<String, QuoteError> { Ok(format!("ow_fail {i} {}", quote(msg)?)) };
    let note = |msg: &str| -> Result<String, QuoteError> { Ok(format!("ow_note {}", quote(msg)?)) };
    let mut capture = String::new();
    let mut apply = String::new();
    let mut undo = String::new();
    match action {
        Action::SysctlRuntime { key, value } => {
            let p = sysctl_path(key)?;
            if value.contains('\n') {
                return Err(invalid("the value", value, "spans lines"));
            }
            let _ = writeln!(
                capture,
                "cat {qp} > \"$ow_A.pre\" || ow_refuse {m}",
                qp = quote(&p)?,
                m = quote(&format!("cannot read the running value of {key} ({p})"))?
            );
            let _ = writeln!(
                apply,
                "sysctl -q -w {kv} || {f}",
                kv = quote(&format!("{key}={value}"))?,
                f = fail(&format!("sysctl could not set {key}"))?
            );
            let _ = writeln!(
                undo,
                "sysctl -q -w {k}=\"$(cat \"$ow_A.pre\")\" || {n}",
                k = quote(key)?,
                n = note(&format!("could not restore the running value of {key}"))?
            );
            // Writing IPv4 forwarding makes the kernel reset accept_redirects for every
            // interface: keep that value as it was, on the change and on its undo, so the
            // fix changes only its own key (and a redirects fix made before stays made).
            if FORWARDING.contains(&key.as_str()) {
                let r = quote(&sysctl_path(ACCEPT_REDIRECTS)?)?;
                let _ = writeln!(
                    capture,
                    "cat {r} > \"$ow_A.side\" || ow_refuse {m}",
                    m = quote(&format!("cannot read {ACCEPT_REDIRECTS}"))?
                );
                let keep =
                    format!("sysctl -q -w {k}=\"$(cat \"$ow_A.side\")\"", k = quote(ACCEPT_REDIRECTS)?);
                let _ = writeln!(
                    apply,
                    "{keep} || {f}",
                    f = fail(&format!("sysctl could not keep {ACCEPT_REDIRECTS}"))?
                );
                let _ = writeln!(
                    undo,
                    "{keep} || {n}",
                    n = note(&format!("could not restore {ACCEPT_REDIRECTS}"))?
                );
            }
        }
        Action::PackageInstall { name: n } | Action::PackageRemove { name: n } => {
            let q = quote(name("the package", n)?)?;
            let install = matches!(action, Action::PackageInstall { .. });
            let _ = writeln!(
                capture,
                "ow_pkgver {q} > \"$ow_A.pre\"\n[ \"$(ow_pkgmgr)\" != none ] || ow_refuse {m}",
                m = quote(&format!(
                    "cannot {} {n}: no package manager (apt-get, dnf, yum) on this host",
                    if install { "install" } else { "remove" }
                ))?
            );
            if install {
                // What was installed before, so the undo removes exactly what came with it.
                let _ = writeln!(capture, "ow_pkglist > \"$ow_A.list\"");
                let _ = writeln!(
                    apply,
                    "[ -s \"$ow_A.pre\" ] || ow_pkg install {q} || {f}",
                    f = fail(&format!("installing {n} failed"))?
                );
                let _ = writeln!(
                    undo,
                    "if [ ! -s \"$ow_A.pre\" ] && [ -e \"$ow_A.started\" ]; then\n\
                     \x20 ow_pkglist > \"$ow_A.now\"\n\
                     \x20 if {{ comm -13 \"$ow_A.list\" \"$ow_A.now\"; printf '%s\\n' {q}; }} | sort -u | grep -v '^-' | ow_pkgpurge; then {ok}; else {bad}; fi\nfi",
                    ok = note(&format!(
                        "removed {n} again, with the packages installed with it and their configuration"
                    ))?,
                    bad = note(&format!("could not remove {n} again"))?
                );
            } else {
                let _ = writeln!(
                    apply,
                    "[ ! -s \"$ow_A.pre\" ] || ow_pkg remove {q} || {f}",
                    f = fail(&format!("removing {n} failed"))?
                );
                let _ = writeln!(
                    undo,
                    "if [ -s \"$ow_A.pre\" ] && [ -e \"$ow_A.started\" ]; then\n\
                     \x20 ow_v=$(cat \"$ow_A.pre\")\n\
                     \x20 if [ -n \"$(ow_pkgver {q})\" ]; then :\n\
                     \x20 elif ow_pkg install {q} \"$ow_v\"; then ow_note {ok}\"$ow_v\"{ok2}\n\
                     \x20 else ow_note {bad}\"$ow_v\"{bad2}; fi\nfi",
                    ok = quote(&format!("reinstalled {n} "))?,
                    ok2 = quote("; its configuration files are back only if the package manager kept them")?,
                    bad = quote(&format!("could not reinstall {n} "))?,
                    bad2 = quote(": the repositories may no longer offer that version")?,
                );
            }
        }
        Action::ServiceEnable { unit, .. }
        | Action::ServiceDisable { unit, .. }
        | Action::ServiceMask { unit } => {
            let q = quote(name("the unit", unit)?)?;
            let (verb, run) = match action {
                Action::ServiceEnable { start, .. } => ("enable", start.then_some("start")),
                Action::ServiceDisable { stop, .. } => ("disable", stop.then_some("stop")),
                _ => ("mask", None),
            };
            let _ = writeln!(
                capture,
                "ow_has systemctl || ow_refuse {m}\n\
                 ow_e=$(systemctl is-enabled -- {q} 2>/dev/null); echo \"${{ow_e:-unknown}}\" > \"$ow_A.enabled\"\n\
                 if ow_systemd; then ow_e=$(systemctl is-active -- {q} 2>/dev/null); else ow_e=offline; fi\n\
                 echo \"${{ow_e:-unknown}}\" > \"$ow_A.active\"",
                m = quote(&format!("cannot {verb} {unit}: systemctl is not on this host"))?
            );
            if let Some(run) = run {
                let _ = writeln!(
                    apply,
                    "ow_systemd || {f}",
                    f = fail(&format!(
                        "cannot {run} {unit}: systemd is not running on this host (no /run/systemd/system)"
                    ))?
                );
            }
            let _ = writeln!(
                apply,
                "systemctl {verb} -- {q} || {f}",
                f = fail(&format!("systemctl {verb} {unit} failed"))?
            );
            if let Some(run) = run {
                let _ = writeln!(
                    apply,
                    "systemctl {run} -- {q} || {f}",
                    f = fail(&format!("systemctl {run} {unit} failed"))?
                );
            }
            let _ = writeln!(
                undo,
                "ow_e=$(cat \"$ow_A.enabled\")\n\
                 case \"$ow_e\" in\n\
                 \x20 masked) systemctl mask -- {q} || {nm} ;;\n\
                 \x20 masked-runtime) systemctl mask --runtime -- {q} || {nm} ;;\n\
                 \x20 *) if [ \"$(systemctl is-enabled -- {q} 2>/dev/null)\" = masked ]; then systemctl unmask -- {q} || {nu}; fi\n\
                 \x20   case \"$ow_e\" in\n\
                 \x20     enabled) systemctl enable -- {q} || {ne} ;;\n\
                 \x20     disabled) systemctl disable -- {q} || {nd} ;;\n\
                 \x20   esac ;;\n\
                 esac\n\
                 if ow_systemd; then\n\
                 \x20 case \"$(cat \"$ow_A.active\")\" in\n\
                 \x20   active) systemctl start -- {q} || {ns} ;;\n\
                 \x20   inactive|failed) systemctl stop -- {q} || {nt} ;;\n\
                 \x20 esac\n\
                 fi",
                nm = note(&format!("could not mask {unit} again"))?,
                nu = note(&format!("could not unmask {unit}"))?,
                ne = note(&format!("could not enable {unit} again"))?,
                nd = note(&format!("could not disable {unit} again"))?,
                ns = note(&format!("could not start {unit} again"))?,
                nt = note(&format!("could not stop {unit} again"))?,
            );
        }
        // A restart makes a running unit read its changed files; a unit that is not running
        // reads them when it next starts, and a fix does not start what its owner stopped (nor
        // one that cannot run here, such as auditd in a container). A restart clears the
        // unit's failed state first: several fixes in a row restart one unit more often than
        // systemd's start limit allows. Its undo returns the unit to how it was: one that ran
        // is restarted whenever the restart was attempted, so a unit that failed to start on
        // the changed files runs again on the restored ones (an sshd that did not come back is
        // access lost); one that was stopped is stopped again.
        Action::ServiceRestart { unit } => {
            let q = quote(name("the unit", unit)?)?;
            let _ = writeln!(
                capture,
                "if ow_systemd; then systemctl is-active -- {q} > \"$ow_A.pre\" 2>/dev/null; fi; :"
            );
            let _ = writeln!(
                apply,
                "ow_systemd || {f}\ncase \"$(cat \"$ow_A.pre\")\" in\n  active|activating|reloading)\n    \
                 systemctl reset-failed -- {q} 2>/dev/null\n    systemctl restart -- {q} || {g} ;;\nesac",
                f = fail(&format!(
                    "cannot restart {unit}: systemd is not running on this host (no /run/systemd/system)"
                ))?,
                g = fail(&format!("systemctl restart {unit} failed"))?
            );
            let _ = writeln!(
                undo,
                "if [ -e \"$ow_A.started\" ] && ow_systemd; then\n  \
                 if [ \"$(cat \"$ow_A.pre\" 2>/dev/null)\" = active ]; then\n    \
                 systemctl reset-failed -- {q} 2>/dev/null\n    systemctl restart -- {q} || {n}\n  \
                 else\n    systemctl stop -- {q} 2>/dev/null; systemctl reset-failed -- {q} 2>/dev/null; :\n  fi\nfi",
                n = note(&format!("could not restart {unit} after restoring its files"))?
            );
        }
        Action::ModuleUnload { name: m } => {
            let m = name("the kernel module", m)?;
            if !m.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
                return Err(invalid("the kernel module", m, "not a module name"));
            }
            let q = quote(m)?;
            let _ = writeln!(
                capture,
                "if awk -v m={norm} '$1 == m {{ f = 1 }} END {{ exit !f }}' /proc/modules 2>/dev/null; then echo loaded; else echo absent; fi > \"$ow_A.pre\"",
                norm = quote(&m.replace('-', "_"))?
            );
            let _ = writeln!(
                apply,
                "[ \"$(cat \"$ow_A.pre\")\" != loaded ] || modprobe -r -- {q} || {f}",
                f = fail(&format!("modprobe -r {m} failed (the module may be in use)"))?
            );
            let _ = writeln!(
                undo,
                "[ \"$(cat \"$ow_A.pre\")\" != loaded ] || modprobe -- {q} || {n}",
                n = note(&format!("could not load {m} again"))?
            );
        }
        Action::DirectoryPermissions { path, mode, owner, group } => {
            if !path.starts_with('/') || path.contains('\n') {
                return Err(invalid("the directory", path, "not an absolute path on one line"));
            }
            let q = quote(path)?;
            let _ = writeln!(
                capture,
                "[ -d {q} ] && [ ! -L {q} ] || ow_refuse {m}\nstat -c '%a %U %G' -- {q} > \"$ow_A.pre\" || ow_refuse {m}",
                m = quote(&format!("{path} is not a directory"))?
            );
            let who = match (owner, group) {
                (Some(o), Some(g)) => Some(format!("{}:{}", name("the owner", o)?, name("the group", g)?)),
                (Some(o), None) => Some(name("the owner", o)?.to_owned()),
                (None, Some(g)) => Some(format!(":{}", name("the group", g)?)),
                (None, None) => None,
            };
            if let Some(w) = who {
                let _ = writeln!(
                    apply,
                    "chown -- {w} {q} || {f}",
                    w = quote(&w)?,
                    f = fail(&format!("chown {w} {path} failed"))?
                );
            }
            // Owner first: a chown may clear set-id bits the mode then sets.
            if let Some(m) = mode {
                let _ = writeln!(
                    apply,
                    "chmod {m:o} -- {q} || {f}",
                    f = fail(&format!("chmod {m:04o} {path} failed"))?
                );
            }
            let _ = writeln!(
                undo,
                "read -r ow_m ow_o ow_g < \"$ow_A.pre\" && chown -- \"$ow_o:$ow_g\" {q} && chmod \"$ow_m\" -- {q} || {n}",
                n = note(&format!("could not restore the mode and owner of {path}"))?
            );
        }
        Action::Remount { mount_point, options } => {
            if !mount_point.starts_with('/') || mount_point.contains('\n') {
                return Err(invalid("the mount point", mount_point, "not an absolute path on one line"));
            }
            for o in options {
                if o.is_empty() || !o.bytes().all(|b| b.is_ascii_alphanumeric() || b"_=.-".contains(&b)) {
                    return Err(invalid("the mount option", o, "not a mount option"));
                }
            }
            let q = quote(mount_point)?;
            let _ = writeln!(
                capture,
                "ow_o=\nwhile read -r ow_1 ow_2 ow_3 ow_4 ow_5; do [ \"$ow_2\" != {esc} ] || ow_o=$ow_4; done < /proc/self/mounts\n\
                 [ -n \"$ow_o\" ] || ow_refuse {m}\nprintf '%s\\n' \"$ow_o\" > \"$ow_A.pre\"",
                esc = quote(&mounts_escape(mount_point))?,
                m = quote(&format!("cannot remount {mount_point}: it is not a mount point"))?
            );
            let _ = writeln!(
                apply,
                "mount -o {o} -- {q} || {f}",
                o = quote(&format!("remount,{}", options.join(",")))?,
                f = fail(&format!("remounting {mount_point} failed"))?
            );
            let _ = writeln!(undo, "ow_u=");
            for o in options {
                match inverse(o) {
                    Some(inv) => {
                        let _ = writeln!(
                            undo,
                            "case \",$(cat \"$ow_A.pre\"),\" in *,{o},*) ;; *) ow_u=\"$ow_u,\"{inv} ;; esac",
                            o = quote(o)?,
                            inv = quote(inv)?
                        );
                    }
                    None => {
                        let _ =
                            writeln!(undo, "{}", note(&format!("cannot switch {o} back on {mount_point}"))?);
                    }
                }
            }
            let _ = writeln!(
                undo,
                "[ -z \"$ow_u\" ] || mount -o \"remount$ow_u\" -- {q} || {n}",
                n = note(&format!("could not remount {mount_point} with its previous options"))?
            );
        }
        Action::AuditRulesLoad => {
            let load =
                "if ow_has augenrules; then augenrules --load; else auditctl -R /etc/audit/audit.rules; fi";
            let _ = writeln!(apply, "{load} || {f}", f = fail("loading the audit rules failed")?);
            let _ = writeln!(
                undo,
                "{load} || {n}",
                n = note("could not load the restored audit rules (immutable with -e 2 until a reboot?)")?
            );
        }
        Action::BootParameter { parameter } => {
            if parameter.is_empty() || parameter.starts_with('-') || parameter.contains(char::is_whitespace) {
                return Err(invalid("the kernel parameter", parameter, "empty, an option or with blanks"));
            }
            let qp = quote(parameter)?;
            // The tool is chosen and recorded at capture, so the undo runs the same one.
            let _ = writeln!(
                capture,
                "if ow_has grubby; then echo grubby\n\
                 elif ow_has update-grub; then echo update-grub\n\
                 elif ow_has grub2-mkconfig; then echo grub2-mkconfig\n\
                 elif ow_has grub-mkconfig; then echo grub-mkconfig\n\
                 else echo none; fi > \"$ow_A.tool\"\n\
                 [ \"$(cat \"$ow_A.tool\")\" != none ] || ow_refuse {m}\n\
                 if [ \"$(cat \"$ow_A.tool\")\" = grubby ]; then\n\
                 \x20 grubby --info=ALL | sed -n 's/^args=\"\\(.*\\)\"$/ \\1 /p' | grep -c -v -F -e \" \"{qp}\" \" > \"$ow_A.lacking\"\n\
                 fi\n\
                 ow_grub() {{\n\
                 \x20 case \"$(cat \"$ow_A.tool\")\" in\n\
                 \x20   update-grub) update-grub ;;\n\
                 \x20   grub2-mkconfig) grub2-mkconfig -o /boot/grub2/grub.cfg ;;\n\
                 \x20   grub-mkconfig) grub-mkconfig -o /boot/grub/grub.cfg ;;\n\
                 \x20 esac\n\
                 }}",
                m = quote(&format!(
                    "cannot add {parameter}: no boot loader tool (grubby, update-grub, grub2-mkconfig, grub-mkconfig) on this host"
                ))?
            );
            let _ = writeln!(
                apply,
                "if [ \"$(cat \"$ow_A.tool\")\" = grubby ]; then grubby --update-kernel=ALL --args={qp}; else ow_grub; fi || {f}",
                f = fail(&format!("updating the boot entries with {parameter} failed"))?
            );
            let _ = writeln!(
                undo,
                "if [ \"$(cat \"$ow_A.tool\")\" = grubby ]; then\n\
                 \x20 if [ \"$(cat \"$ow_A.lacking\")\" != 0 ]; then grubby --update-kernel=ALL --remove-args={qp} || {n}; fi\n\
                 \x20 [ \"$(cat \"$ow_A.lacking\")\" = 0 ] || {partial}\n\
                 else\n\
                 \x20 case \"$(cat \"$ow_A.tool\")\" in\n\
                 \x20   update-grub) update-grub ;;\n\
                 \x20   grub2-mkconfig) grub2-mkconfig -o /boot/grub2/grub.cfg ;;\n\
                 \x20   grub-mkconfig) grub-mkconfig -o /boot/grub/grub.cfg ;;\n\
                 \x20 esac || {n}\n\
                 fi\n{later}",
                n = note(&format!("could not remove {parameter} from the boot configuration"))?,
                partial = note(&format!(
                    "removed {parameter} from every boot entry, including any that had it before"
                ))?,
                later = note("the restored boot configuration takes effect at the next boot")?
            );
        }
        Action::Command { argv } => {
            let Some(first) = argv.first() else {
                return Err(invalid("the command", "", "empty"));
            };
            if first.starts_with('-') {
                return Err(invalid("the command", first, "starts with `-`"));
            }
            let words = argv.iter().map(|a| quote(a)).collect::<Result<Vec<_>, _>>()?;
            let _ =
                writeln!(apply, "{} || {}", words.join(" "), fail(&format!("`{}` failed", argv.join(" ")))?);
            let _ = writeln!(
                undo,
                "{}",
                note(&format!("`{}` cannot be undone automatically; undo it by hand", argv.join(" ")))?
            );
        }
    }
    Ok(ActionShell { capture, apply, undo })
}
