//! Capabilities: what a host has (a package manager, systemd, sshd...). They are probed in the
//! same collection pass as every other fact and select a rule's implementation.

use std::collections::BTreeSet;

/// How a capability is detected on a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// One of these commands is on the PATH (sbin directories included).
    Command(&'static [&'static str]),
    /// One of these paths exists.
    Path(&'static [&'static str]),
    /// The collection runs with effective UID 0.
    Root,
}

/// Every capability a rule may name in `when`, with how it is detected.
pub const CAPABILITIES: &[(&str, Probe, &str)] = &[
    ("apparmor", Probe::Path(&["/sys/kernel/security/apparmor"]), "AppArmor is enabled in the kernel"),
    ("auditd", Probe::Command(&["auditd"]), "the audit daemon is installed"),
    ("chrony", Probe::Command(&["chronyd"]), "chrony is installed"),
    ("cron", Probe::Command(&["cron", "crond"]), "a cron daemon is installed"),
    ("dpkg", Probe::Command(&["dpkg-query"]), "packages are managed by dpkg"),
    ("firewalld", Probe::Command(&["firewall-cmd"]), "firewalld is installed"),
    ("gnu_find", Probe::Command(&["find"]), "find is available for filesystem searches"),
    (
        "grub",
        Probe::Path(&["/boot/grub/grub.cfg", "/boot/grub2/grub.cfg", "/etc/default/grub"]),
        "the host boots with GRUB",
    ),
    ("iptables", Probe::Command(&["iptables"]), "iptables is installed"),
    (
        "journald",
        Probe::Path(&["/lib/systemd/systemd-journald", "/usr/lib/systemd/systemd-journald"]),
        "systemd-journald is installed",
    ),
    ("nftables", Probe::Command(&["nft"]), "nftables is installed"),
    ("pam", Probe::Path(&["/etc/pam.d"]), "PAM is configured"),
    ("root", Probe::Root, "facts are collected with root privileges"),
    ("rpm", Probe::Command(&["rpm"]), "packages are managed by rpm"),
    ("rsyslog", Probe::Command(&["rsyslogd"]), "rsyslog is installed"),
    ("selinux", Probe::Path(&["/sys/fs/selinux/enforce"]), "SELinux is enabled in the kernel"),
    ("sshd", Probe::Command(&["sshd"]), "the OpenSSH server is installed"),
    ("sudo", Probe::Command(&["sudo"]), "sudo is installed"),
    ("systemctl", Probe::Command(&["systemctl"]), "systemctl is installed"),
    ("systemd", Probe::Path(&["/run/systemd/system"]), "systemd is running as the init system"),
    (
        "timesyncd",
        Probe::Path(&["/lib/systemd/systemd-timesyncd", "/usr/lib/systemd/systemd-timesyncd"]),
        "systemd-timesyncd is installed",
    ),
    ("ufw", Probe::Command(&["ufw"]), "ufw is installed"),
];

/// Whether `name` is a capability rules may use.
pub fn is_known(name: &str) -> bool {
    CAPABILITIES.iter().any(|(n, _, _)| *n == name)
}

/// The names of every known capability, for error messages.
pub fn known_names() -> String {
    CAPABILITIES.iter().map(|(n, _, _)| *n).collect::<Vec<_>>().join(", ")
}

/// The capabilities a host was found to have.
pub type CapabilitySet = BTreeSet<String>;
