//! Changes that are not file contents. Each is typed data: the host-side executor turns it
//! into argv, and its capture records the state a rollback restores.

use std::fmt;

/// One non-file change a remediation makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Set a kernel parameter's running value (`/proc/sys`).
    SysctlRuntime {
        key: String,
        value: String,
    },
    PackageInstall {
        name: String,
    },
    PackageRemove {
        name: String,
    },
    ServiceEnable {
        unit: String,
        start: bool,
    },
    ServiceDisable {
        unit: String,
        stop: bool,
    },
    ServiceMask {
        unit: String,
    },
    /// Restart a unit if it is running, so that it reads its changed files.
    ServiceRestart {
        unit: String,
    },
    /// Unload a kernel module if it is loaded.
    ModuleUnload {
        name: String,
    },
    /// Remount a mounted file system with extra options (the fstab edit makes it last).
    Remount {
        mount_point: String,
        options: Vec<String>,
    },
    /// Load the persisted audit rules (rules.d) into the kernel.
    AuditRulesLoad,
    /// Put a kernel command-line parameter on every boot entry: regenerate the boot loader
    /// configuration from `/etc/default/grub`, or update the BLS entries.
    BootParameter {
        parameter: String,
    },
    /// Set a directory's mode and owner (a file's are part of its file change).
    DirectoryPermissions {
        path: String,
        mode: Option<u32>,
        owner: Option<String>,
        group: Option<String>,
    },
    /// Run a program (argv, never a shell).
    Command {
        argv: Vec<String>,
    },
}

/// What a rollback can do about an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reversal {
    /// The captured pre-state is restored exactly.
    Exact,
    /// Restored, with a caveat the description states.
    Partial,
    /// Not reversible; the operator must undo it by hand.
    None,
}

impl Action {
    /// What a rollback can restore, and how well.
    pub fn rollback(&self) -> (Reversal, String) {
        match self {
            Action::SysctlRuntime { key, .. } => {
                (Reversal::Exact, format!("the running value of {key} captured before the change"))
            }
            Action::PackageInstall { name } => (
                Reversal::Exact,
                format!("removes {name} again, with the packages installed with it and their configuration"),
            ),
            Action::PackageRemove { name } => (
                Reversal::Partial,
                format!(
                    "reinstalls {name} at the recorded version if the repositories still offer it; \
                     its configuration files are restored only if the package manager kept them"
                ),
            ),
            Action::ServiceEnable { unit, .. }
            | Action::ServiceDisable { unit, .. }
            | Action::ServiceMask { unit } => {
                (Reversal::Exact, format!("the enablement, mask and running state of {unit} captured before"))
            }
            Action::ServiceRestart { unit } => {
                (Reversal::Partial, format!("restarts {unit} again after the files are restored"))
            }
            Action::ModuleUnload { name } => {
                (Reversal::Partial, format!("loads {name} again if it was loaded before"))
            }
            Action::Remount { mount_point, .. } => {
                (Reversal::Exact, format!("remounts {mount_point} with the options it had before"))
            }
            Action::AuditRulesLoad => {
                (Reversal::Partial, "reloads the restored rules; fails while the audit configuration is immutable (-e 2) until a reboot".to_owned())
            }
            Action::BootParameter { parameter } => (
                Reversal::Partial,
                format!("regenerates the boot configuration from the restored /etc/default/grub (removes {parameter}); takes effect at the next boot"),
            ),
            Action::DirectoryPermissions { path, .. } => {
                (Reversal::Exact, format!("the mode, owner and group of {path} captured before"))
            }
            Action::Command { argv } => {
                (Reversal::None, format!("`{}` cannot be undone automatically", argv.join(" ")))
            }
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::SysctlRuntime { key, value } => {
                write!(f, "set the running kernel parameter {key} = {value}")
            }
            Action::PackageInstall { name } => write!(f, "install the package {name}"),
            Action::PackageRemove { name } => write!(f, "remove the package {name}"),
            Action::ServiceEnable { unit, start } => {
                write!(f, "enable the service {unit}{}", if *start { " and start it" } else { "" })
            }
            Action::ServiceDisable { unit, stop } => {
                write!(f, "disable the service {unit}{}", if *stop { " and stop it" } else { "" })
            }
            Action::ServiceMask { unit } => write!(f, "mask the service {unit}"),
            Action::ServiceRestart { unit } => write!(f, "restart the service {unit} if it is running"),
            Action::ModuleUnload { name } => write!(f, "unload the kernel module {name} if it is loaded"),
            Action::Remount { mount_point, options } => {
                write!(f, "remount {mount_point} with {}", options.join(","))
            }
            Action::AuditRulesLoad => f.write_str("load the audit rules from /etc/audit/rules.d"),
            Action::BootParameter { parameter } => {
                write!(f, "add {parameter} to every boot entry's kernel command line")
            }
            Action::DirectoryPermissions { path, mode, owner, group } => {
                write!(f, "set the directory {path}")?;
                if let Some(m) = mode {
                    write!(f, " to mode {m:04o}")?;
                }
                match (owner, group) {
                    (Some(o), Some(g)) => write!(f, ", owner {o}:{g}"),
                    (Some(o), None) => write!(f, ", owner {o}"),
                    (None, Some(g)) => write!(f, ", group {g}"),
                    (None, None) => Ok(()),
                }
            }
            Action::Command { argv } => write!(f, "run {}", argv.join(" ")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_read_as_sentences_and_say_what_rollback_restores() {
        let a = Action::ServiceDisable { unit: "avahi-daemon.service".into(), stop: true };
        assert_eq!(a.to_string(), "disable the service avahi-daemon.service and stop it");
        assert_eq!(a.rollback().0, Reversal::Exact);
        let c = Action::Command { argv: vec!["/usr/bin/true".into(), "x".into()] };
        assert_eq!(c.rollback().0, Reversal::None);
        let r =
            Action::Remount { mount_point: "/tmp".into(), options: vec!["nodev".into(), "nosuid".into()] };
        assert_eq!(r.to_string(), "remount /tmp with nodev,nosuid");
        assert!(Action::PackageRemove { name: "telnet".into() }.rollback().1.contains("recorded version"));
    }
}
