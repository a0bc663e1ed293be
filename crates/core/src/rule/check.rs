//! The typed check methods a rule may use. Each is a YAML mapping keyed by its method name,
//! so a misspelt method or parameter is an error at its own line.

use serde::Deserialize;

use super::types::{AbsPath, Comparator, GlobPath, Mode, Pattern, Token, WhenMissing};
use super::value::SpannedParam;

/// A check: one method, or a composite of checks.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// Every check passes.
    All(Vec<Check>),
    /// At least one check passes.
    Any(Vec<Check>),
    /// No check passes.
    None(Vec<Check>),
    FileExists(PathCheck),
    FileAbsent(PathCheck),
    FilePermissions(FilePermissions),
    FileContent(FileContent),
    ConfigValue(ConfigValue),
    SshdConfig(KeyComparison),
    Sysctl(KeyComparison),
    KernelModule(KernelModule),
    MountOption(MountOption),
    Package(PackageCheck),
    Service(ServiceCheck),
    AuditRule(AuditRule),
    GrubParameter(GrubParameter),
    PamModule(PamModule),
    Accounts(Accounts),
    FilesystemSearch(FilesystemSearch),
    SetCompare(SetCompare),
    Command(CommandCheck),
}

impl Check {
    /// The method name as written in YAML.
    pub fn method(&self) -> &'static str {
        match self {
            Check::All(_) => "all",
            Check::Any(_) => "any",
            Check::None(_) => "none",
            Check::FileExists(_) => "file_exists",
            Check::FileAbsent(_) => "file_absent",
            Check::FilePermissions(_) => "file_permissions",
            Check::FileContent(_) => "file_content",
            Check::ConfigValue(_) => "config_value",
            Check::SshdConfig(_) => "sshd_config",
            Check::Sysctl(_) => "sysctl",
            Check::KernelModule(_) => "kernel_module",
            Check::MountOption(_) => "mount_option",
            Check::Package(_) => "package",
            Check::Service(_) => "service",
            Check::AuditRule(_) => "audit_rule",
            Check::GrubParameter(_) => "grub_parameter",
            Check::PamModule(_) => "pam_module",
            Check::Accounts(_) => "accounts",
            Check::FilesystemSearch(_) => "filesystem_search",
            Check::SetCompare(_) => "set_compare",
            Check::Command(_) => "command",
        }
    }

    /// Every leaf check, depth first.
    pub fn leaves(&self) -> Vec<&Check> {
        match self {
            Check::All(cs) | Check::Any(cs) | Check::None(cs) => cs.iter().flat_map(Check::leaves).collect(),
            leaf => vec![leaf],
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathCheck {
    pub path: AbsPath,
}

/// Mode is the most permissive mode allowed; owner/group accept names or numeric ids, or a
/// list of them when any may own the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilePermissions {
    pub path: GlobPath,
    #[serde(default)]
    pub mode: Option<Mode>,
    #[serde(default)]
    pub owner: Option<SpannedParam>,
    #[serde(default)]
    pub group: Option<SpannedParam>,
    /// Verdict when nothing matches the path. Default: pass (nothing to protect).
    #[serde(default = "missing_pass")]
    pub missing: WhenMissing,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    #[default]
    Present,
    Absent,
}

/// A regular expression (multi-line mode: `^`/`$` match at line boundaries) searched in files.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileContent {
    pub path: GlobPath,
    pub pattern: Pattern,
    #[serde(default)]
    pub expect: Expect,
    /// Skip lines whose first non-blank character is `#` before matching.
    #[serde(default = "yes")]
    pub ignore_comments: bool,
    #[serde(default = "missing_fail")]
    pub missing: WhenMissing,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum MatchOrder {
    First,
    #[default]
    Last,
}

/// A `key <delimiter> value` setting in a config file and its drop-in files.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigValue {
    pub path: AbsPath,
    /// Drop-in files read after `path`, in lexical order of file name (e.g. `/etc/x.d/*.conf`).
    #[serde(default)]
    pub dropins: Vec<GlobPath>,
    /// Read the drop-ins before `path` instead (libpwquality reads pwquality.conf last).
    #[serde(default)]
    pub dropins_first: bool,
    /// systemd's rule: the drop-ins of every listed directory are read together in file-name
    /// order, and a file in a later-listed directory replaces a same-named one in an earlier.
    #[serde(default)]
    pub dropins_merged: bool,
    pub key: Token,
    /// Separator between key and value; default: whitespace. `=` also trims spaces around it.
    #[serde(default)]
    pub delimiter: Option<String>,
    #[serde(default = "hash")]
    pub comment: String,
    /// Which occurrence wins when a key is set several times.
    #[serde(default)]
    pub r#match: MatchOrder,
    #[serde(default = "yes")]
    pub case_insensitive_key: bool,
    #[serde(default)]
    pub comparator: Comparator,
    pub value: SpannedParam,
    /// Verdict when the key is set nowhere. Default: fail.
    #[serde(default = "missing_fail")]
    pub missing: WhenMissing,
}

/// A named setting compared with an expected value. For `sshd_config`, the effective value
/// from `sshd -T` (falling back to first-match parsing of sshd_config and its Include files
/// when `sshd -T` cannot run); for `sysctl`, the running value and the value persisted in
/// sysctl.d, which must both match.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyComparison {
    pub key: Token,
    #[serde(default)]
    pub comparator: Comparator,
    pub value: SpannedParam,
}

/// A kernel module that must not be loadable: not loaded, `install NAME /bin/false` (or
/// `/bin/true`), and blacklisted. A module the running kernel does not ship passes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KernelModule {
    pub name: Token,
    #[serde(default = "yes")]
    pub require_blacklist: bool,
}

/// Options a mount point must (or must not) have; optionally, that it is a separate mount.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MountOption {
    pub mount_point: AbsPath,
    #[serde(default)]
    pub options: Vec<Token>,
    #[serde(default)]
    pub absent_options: Vec<Token>,
    /// Verdict when the mount point is not separately mounted.
    #[serde(default = "missing_na")]
    pub missing: WhenMissing,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PackageState {
    Installed,
    Absent,
}

/// A package by name, via dpkg or rpm, whichever the host uses.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageCheck {
    pub name: Token,
    pub state: PackageState,
}

/// A systemd unit's state. Without a running systemd, `active` is judged from `process`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceCheck {
    pub name: Token,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub active: Option<bool>,
    #[serde(default)]
    pub masked: Option<bool>,
    /// Process names that show the service runs, when systemd is not running.
    #[serde(default)]
    pub process: Vec<Token>,
    /// Verdict when the unit does not exist. Default: fail if it should be enabled or
    /// active, pass otherwise.
    #[serde(default)]
    pub missing: Option<WhenMissing>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum AuditSource {
    #[default]
    Both,
    Loaded,
    Persisted,
}

/// An audit rule in auditctl syntax (e.g. `-w /etc/passwd -p wa`); keys are ignored.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditRule {
    pub rule: String,
    #[serde(default)]
    pub source: AuditSource,
}

/// A kernel command-line parameter in the boot loader configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrubParameter {
    pub name: Token,
    /// How the parameter's value compares with `value` (e.g. `>=` for audit_backlog_limit).
    #[serde(default)]
    pub comparator: Comparator,
    #[serde(default)]
    pub value: Option<SpannedParam>,
    #[serde(default)]
    pub expect: Expect,
    /// Verdict when no boot loader configuration exists. Default: not_applicable.
    #[serde(default = "missing_na")]
    pub missing: WhenMissing,
}

/// A PAM module line of one type in a service file (following `@include`/`include`/`substack`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PamModule {
    pub service: Token,
    #[serde(rename = "type")]
    pub kind: PamType,
    pub module: Token,
    #[serde(default)]
    pub control: Option<String>,
    /// Arguments that must be present (`name` or `name=value`).
    #[serde(default)]
    pub args: Vec<PamArg>,
    #[serde(default)]
    pub expect: Expect,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PamType {
    Auth,
    Account,
    Password,
    Session,
}

impl PamType {
    pub fn as_str(self) -> &'static str {
        match self {
            PamType::Auth => "auth",
            PamType::Account => "account",
            PamType::Password => "password",
            PamType::Session => "session",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PamArg {
    pub name: Token,
    #[serde(default)]
    pub comparator: Comparator,
    #[serde(default)]
    pub value: Option<SpannedParam>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AccountAssertion {
    OnlyRootUidZero,
    RootGidZero,
    NoEmptyPasswords,
    ShadowedPasswords,
    UniqueUids,
    UniqueGids,
    UniqueUserNames,
    UniqueGroupNames,
    GroupsExist,
    HomeDirsExist,
    HomeDirsOwned,
    HomeDirsMode,
    ShadowGroupEmpty,
    PasswordMaxDays,
    PasswordMinDays,
    PasswordWarnDays,
    InactiveDays,
}

/// A check over all local accounts (/etc/passwd, /etc/group, and a hash-free shadow summary).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accounts {
    pub assert: AccountAssertion,
    /// For home_dirs_mode: the most permissive mode allowed.
    #[serde(default)]
    pub mode: Option<Mode>,
    /// For password_* and inactive_days: the bound.
    #[serde(default)]
    pub value: Option<SpannedParam>,
}

#[derive(Debug, Clone, Copy, Deserialize, serde::Serialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum SearchKind {
    WorldWritableFiles,
    WorldWritableDirsWithoutSticky,
    Unowned,
    Ungrouped,
    Suid,
    Sgid,
}

/// One filesystem-wide walk per scan serves every rule that needs it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesystemSearch {
    pub find: SearchKind,
    /// Paths expected to be found (e.g. an approved SUID inventory); others fail.
    #[serde(default)]
    pub allowed: Option<SpannedParam>,
    /// Path prefixes to ignore.
    #[serde(default)]
    pub exclude: Vec<AbsPath>,
}

/// Where the observed set of a set comparison comes from.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SetSource {
    /// A field of a delimited file such as /etc/passwd, optionally only where another field
    /// equals a value.
    FileField {
        path: AbsPath,
        delimiter: String,
        field: usize,
        #[serde(default)]
        where_field: Option<usize>,
        #[serde(default)]
        equals: Option<String>,
    },
    /// The non-blank lines a command prints.
    Command { argv: Vec<String> },
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SetRelation {
    Equal,
    SubsetOf,
    SupersetOf,
    Disjoint,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetCompare {
    pub source: SetSource,
    pub relation: SetRelation,
    pub expected: SpannedParam,
}

/// Last resort: run a program (argv, no shell) and judge its exit status and output.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandCheck {
    pub argv: Vec<String>,
    #[serde(default)]
    pub expect_exit: Option<i32>,
    #[serde(default)]
    pub expect_stdout: Option<Pattern>,
}

fn yes() -> bool {
    true
}
fn hash() -> String {
    "#".to_owned()
}
fn missing_fail() -> WhenMissing {
    WhenMissing::Fail
}
fn missing_pass() -> WhenMissing {
    WhenMissing::Pass
}
fn missing_na() -> WhenMissing {
    WhenMissing::NotApplicable
}
