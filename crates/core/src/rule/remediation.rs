//! Typed remediation: ordered steps, each a mechanism with parameters. Executed by a later
//! layer; the engine only validates them.

use serde::Deserialize;

use super::types::{AbsPath, GlobPath, Mode, Pattern, Text, Token};
use super::value::SpannedParam;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Remediation {
    pub steps: Vec<Mechanism>,
    /// The fix takes effect only after a reboot.
    #[serde(default)]
    pub reboot_required: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mechanism {
    /// Set `key` in a config file, replacing existing occurrences.
    ConfigSet {
        path: AbsPath,
        key: Token,
        value: SpannedParam,
        #[serde(default)]
        delimiter: Option<String>,
    },
    /// Write `key value` into a drop-in file that takes precedence.
    ConfigSetDropin {
        dir: AbsPath,
        file: Token,
        key: Token,
        value: SpannedParam,
        #[serde(default)]
        delimiter: Option<String>,
    },
    FilePermissions {
        path: AbsPath,
        #[serde(default)]
        mode: Option<Mode>,
        #[serde(default)]
        owner: Option<Token>,
        #[serde(default)]
        group: Option<Token>,
    },
    FileContent {
        path: AbsPath,
        content: SpannedParam,
        #[serde(default)]
        mode: Option<Mode>,
    },
    FileAbsent {
        path: AbsPath,
    },
    /// Comment out (`# ` in front) every line matching `pattern` in the file `path`, or in
    /// each file a glob in `path` matches: a setting that contradicts the fix elsewhere, kept
    /// in place for the record. Missing files are nothing to do.
    CommentOut {
        path: GlobPath,
        pattern: Pattern,
    },
    SysctlSet {
        key: Token,
        value: SpannedParam,
        #[serde(default)]
        persist_file: Option<AbsPath>,
    },
    PackagePresent {
        name: Token,
    },
    PackageAbsent {
        name: Token,
    },
    ServiceEnabled {
        name: Token,
        #[serde(default = "yes")]
        start: bool,
    },
    ServiceDisabled {
        name: Token,
        #[serde(default = "yes")]
        stop: bool,
    },
    ServiceMasked {
        name: Token,
    },
    ServiceRestart {
        name: Token,
    },
    KernelModuleDisable {
        name: Token,
    },
    MountOptionSet {
        mount_point: AbsPath,
        options: Vec<Token>,
    },
    AuditRuleSet {
        rule: String,
        file: AbsPath,
    },
    GrubParameterSet {
        name: Token,
        #[serde(default)]
        value: Option<SpannedParam>,
    },
    PamModuleArg {
        service: Token,
        #[serde(rename = "type")]
        kind: super::check::PamType,
        module: Token,
        arg: Token,
        #[serde(default)]
        value: Option<SpannedParam>,
    },
    /// Run a program (argv, no shell). Discouraged: not reversible.
    CommandExec {
        argv: Vec<String>,
    },
    /// No safe automatic fix; tell the operator what to do.
    Manual {
        guidance: Text,
    },
}

impl Mechanism {
    pub fn name(&self) -> &'static str {
        match self {
            Mechanism::ConfigSet { .. } => "config_set",
            Mechanism::ConfigSetDropin { .. } => "config_set_dropin",
            Mechanism::FilePermissions { .. } => "file_permissions",
            Mechanism::FileContent { .. } => "file_content",
            Mechanism::FileAbsent { .. } => "file_absent",
            Mechanism::CommentOut { .. } => "comment_out",
            Mechanism::SysctlSet { .. } => "sysctl_set",
            Mechanism::PackagePresent { .. } => "package_present",
            Mechanism::PackageAbsent { .. } => "package_absent",
            Mechanism::ServiceEnabled { .. } => "service_enabled",
            Mechanism::ServiceDisabled { .. } => "service_disabled",
            Mechanism::ServiceMasked { .. } => "service_masked",
            Mechanism::ServiceRestart { .. } => "service_restart",
            Mechanism::KernelModuleDisable { .. } => "kernel_module_disable",
            Mechanism::MountOptionSet { .. } => "mount_option_set",
            Mechanism::AuditRuleSet { .. } => "audit_rule_set",
            Mechanism::GrubParameterSet { .. } => "grub_parameter_set",
            Mechanism::PamModuleArg { .. } => "pam_module_arg",
            Mechanism::CommandExec { .. } => "command_exec",
            Mechanism::Manual { .. } => "manual",
        }
    }

    /// Parameters that may reference variables, for validation.
    pub fn params(&self) -> Vec<&SpannedParam> {
        match self {
            Mechanism::ConfigSet { value, .. }
            | Mechanism::ConfigSetDropin { value, .. }
            | Mechanism::SysctlSet { value, .. } => vec![value],
            Mechanism::FileContent { content, .. } => vec![content],
            Mechanism::GrubParameterSet { value, .. } | Mechanism::PamModuleArg { value, .. } => {
                value.iter().collect()
            }
            _ => Vec::new(),
        }
    }
}

fn yes() -> bool {
    true
}
