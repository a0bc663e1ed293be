//! How much a planned fix can hurt, by criteria written down once (docs/fix.md, "Risk"):
//! what decides whether it needs a second person's approval and whether it runs under the
//! deadman.

use serde::{Deserialize, Serialize};

use super::{Action, Plan};

/// A plan's risk tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Risk {
    /// File contents and permissions outside the places below.
    Low,
    /// Running state: services, packages, kernel values and modules, mounts, audit rules,
    /// programs run.
    Medium,
    /// Remote access and privilege (SSH, PAM, sudo, firewall, TCP wrappers) or boot.
    High,
}

impl Risk {
    pub const ALL: &'static [Risk] = &[Risk::Low, Risk::Medium, Risk::High];

    pub fn parse(s: &str) -> Option<Risk> {
        Risk::ALL.iter().copied().find(|r| r.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Low => "low",
            Risk::Medium => "medium",
            Risk::High => "high",
        }
    }
}

/// Paths whose change can lock people (and the scanner) out.
const ACCESS_PATHS: &[&str] = &[
    "/etc/ssh/",
    "/etc/pam.d/",
    "/etc/security/",
    "/etc/sudoers",
    "/etc/nftables",
    "/etc/iptables/",
    "/etc/ufw/",
    "/etc/firewalld/",
    "/etc/hosts.allow",
    "/etc/hosts.deny",
    "/etc/nsswitch.conf",
    "/etc/shadow",
    "/etc/passwd",
];

/// Units whose state is remote access or filtering.
const ACCESS_UNITS: &[&str] = &["ssh", "sshd", "nftables", "iptables", "ip6tables", "ufw", "firewalld"];

fn access_unit(unit: &str) -> bool {
    let base = unit.strip_suffix(".service").unwrap_or(unit);
    ACCESS_UNITS.contains(&base)
}

/// Whether applying the plan can cut remote access: such a change runs under the deadman.
pub fn cuts_access(plan: &Plan) -> bool {
    plan.changes.iter().any(|c| !c.is_noop() && ACCESS_PATHS.iter().any(|p| c.path.starts_with(p)))
        || plan.actions.iter().any(|a| match a {
            Action::ServiceEnable { unit, .. }
            | Action::ServiceDisable { unit, .. }
            | Action::ServiceMask { unit }
            | Action::ServiceRestart { unit } => access_unit(unit),
            Action::PackageRemove { name } => name.contains("ssh") || name == "sudo",
            _ => false,
        })
}

/// The plan's risk tier: high for access or boot, medium for running state, else low.
pub fn risk(plan: &Plan) -> Risk {
    if cuts_access(plan) || plan.actions.iter().any(|a| matches!(a, Action::BootParameter { .. })) {
        Risk::High
    } else if !plan.actions.is_empty() {
        Risk::Medium
    } else {
        Risk::Low
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fix::{FileChange, FileState};

    fn plan(path: &str, actions: Vec<Action>) -> Plan {
        let before = FileState::regular(path, b"a\n".to_vec(), 0o644, "root", "root");
        let change = FileChange {
            path: path.into(),
            before,
            after_exists: true,
            after_content: b"b\n".to_vec(),
            after_mode: 0o644,
            after_owner: "root".into(),
            after_group: "root".into(),
        };
        Plan {
            rule_id: "r".into(),
            changes: vec![change],
            actions,
            manual: Vec::new(),
            notes: Vec::new(),
            reboot_required: false,
        }
    }

    #[test]
    fn tiers_follow_the_documented_criteria() {
        assert_eq!(risk(&plan("/etc/default/useradd", vec![])), Risk::Low);
        assert_eq!(risk(&plan("/etc/ssh/sshd_config.d/00-openwatch.conf", vec![])), Risk::High);
        assert_eq!(risk(&plan("/etc/pam.d/common-auth", vec![])), Risk::High);
        assert_eq!(risk(&plan("/etc/sudoers.d/x", vec![])), Risk::High);
        let restart = |u: &str| vec![Action::ServiceRestart { unit: u.into() }];
        assert_eq!(risk(&plan("/etc/default/useradd", restart("ssh"))), Risk::High);
        assert_eq!(risk(&plan("/etc/default/useradd", restart("sshd.service"))), Risk::High);
        assert_eq!(risk(&plan("/etc/default/useradd", restart("auditd"))), Risk::Medium);
        let boot = vec![Action::BootParameter { parameter: "audit=1".into() }];
        assert_eq!(risk(&plan("/etc/default/grub", boot)), Risk::High);
        assert!(cuts_access(&plan("/etc/ssh/sshd_config", vec![])));
        assert!(!cuts_access(&plan("/etc/issue", vec![])));
    }
}
