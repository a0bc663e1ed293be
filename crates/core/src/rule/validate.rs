//! Parsing a rule file and the cross-field checks that serde cannot express. Every finding
//! carries file:line:column and the offending source line.

use std::fmt;

use serde_saphyr::Location;

use super::{Check, Comparator, Mechanism, Param, RawRule, Rule, SetSource, SpannedParam, Value, VarType};
use crate::eval::audit::AuditSpec;
use crate::rule::{AccountAssertion, PLATFORM_KEYS};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FindingLevel {
    Warning,
    Error,
}

/// A problem in a rule file, at a precise place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub level: FindingLevel,
    pub file: String,
    pub line: u64,
    pub column: u64,
    pub message: String,
    /// The source line the finding points at (empty when unknown).
    pub source_line: String,
}

/// A rule that could not be loaded.
pub type RuleError = Finding;

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.level {
            FindingLevel::Error => "error",
            FindingLevel::Warning => "warning",
        };
        write!(f, "{}:{}:{}: {level}: {}", self.file, self.line, self.column, self.message)?;
        if !self.source_line.is_empty() {
            let gutter = self.line.to_string().len();
            let caret = " ".repeat(self.column.saturating_sub(1) as usize);
            write!(f, "\n{:gutter$} |\n{} | {}\n{:gutter$} | {caret}^", "", self.line, self.source_line, "")?;
        }
        Ok(())
    }
}

/// A 1-based line and column in a rule file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub line: u64,
    pub column: u64,
}

impl From<Location> for Pos {
    fn from(l: Location) -> Pos {
        Pos { line: l.line().max(1), column: l.column().max(1) }
    }
}

pub(super) struct Ctx<'a> {
    file: &'a str,
    pub(super) text: &'a str,
    findings: Vec<Finding>,
}

impl Ctx<'_> {
    fn push(&mut self, level: FindingLevel, at: impl Into<Pos>, message: impl Into<String>) {
        let Pos { line, column } = at.into();
        let source_line = self.text.lines().nth((line - 1) as usize).unwrap_or_default().to_owned();
        self.findings.push(Finding {
            level,
            file: self.file.to_owned(),
            line,
            column,
            message: message.into(),
            source_line,
        });
    }
    pub(super) fn error(&mut self, at: impl Into<Pos>, message: impl Into<String>) {
        self.push(FindingLevel::Error, at, message);
    }
    pub(super) fn warn(&mut self, at: impl Into<Pos>, message: impl Into<String>) {
        self.push(FindingLevel::Warning, at, message);
    }
}

/// The outcome of loading one rule file: the rule when it has no error, and every finding.
#[derive(Debug)]
pub struct Parsed {
    pub rule: Option<Rule>,
    pub findings: Vec<Finding>,
}

/// Parse and validate one rule file. `file` names it in findings; a `.yml`/`.yaml` file's
/// stem must equal the rule id.
pub fn parse_rule(file: &str, text: &str) -> Parsed {
    let mut ctx = Ctx { file, text, findings: Vec::new() };
    let raw: RawRule = match serde_saphyr::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            let at = e.location().unwrap_or(Location::UNKNOWN);
            ctx.error(at, clean_message(&e.without_snippet().to_string()));
            return Parsed { rule: None, findings: ctx.findings };
        }
    };
    validate(&mut ctx, &raw);
    let has_error = ctx.findings.iter().any(|f| f.level == FindingLevel::Error);
    let rule = (!has_error).then(|| Rule { raw, source_name: file.to_owned(), source_text: text.to_owned() });
    Parsed { rule, findings: ctx.findings }
}

/// serde-saphyr prefixes messages with `error: line N column M: `; we print our own.
fn clean_message(msg: &str) -> String {
    let first = msg.lines().next().unwrap_or(msg);
    let m = first.strip_prefix("error: ").unwrap_or(first);
    match m.split_once(": ") {
        Some((head, rest)) if head.starts_with("line ") && head.contains(" column ") => rest.to_owned(),
        _ => m.to_owned(),
    }
}

fn validate(ctx: &mut Ctx<'_>, raw: &RawRule) {
    let id_at = Pos::from(raw.id.referenced);
    if let Some(stem) = file_stem(ctx.file)
        && stem != raw.id.value.as_str()
    {
        ctx.error(id_at, format!("rule id `{}` must equal the file name `{stem}`", raw.id.value));
    }
    if raw.platforms.is_empty() {
        ctx.error(id_at, "`platforms` is empty, expected at least one platform");
    }
    for key in raw.references.cis.keys().chain(raw.references.stig.keys()) {
        if !PLATFORM_KEYS.contains(&key.as_str()) {
            let at = locate(ctx.text, key).unwrap_or(id_at);
            ctx.error(
                at,
                format!("unknown platform key `{key}`, expected one of {}", PLATFORM_KEYS.join(", ")),
            );
        }
    }
    for refs in raw.references.stig.values() {
        let mut seen = std::collections::BTreeSet::new();
        for r in refs.iter() {
            if !seen.insert(r.stig_id.as_str().to_ascii_uppercase()) {
                // Point at the repeat, the last line that names the id.
                let at = ctx
                    .text
                    .lines()
                    .enumerate()
                    .filter_map(|(i, l)| {
                        l.find(r.stig_id.as_str()).map(|c| Pos { line: i as u64 + 1, column: c as u64 + 1 })
                    })
                    .last()
                    .unwrap_or(id_at);
                ctx.error(at, format!("STIG id `{}` is cited twice for one platform", r.stig_id.as_str()));
            }
        }
    }
    for control in &raw.references.nist_800_53 {
        if !is_nist_control(control) {
            let at = locate(ctx.text, control).unwrap_or(id_at);
            ctx.error(at, format!("invalid NIST 800-53 control `{control}`, expected e.g. AC-6 or AC-6(2)"));
        }
    }
    if raw.references.nist_800_53.is_empty() {
        ctx.warn(id_at, "no nist_800_53 reference");
    }
    for (name, decl) in &raw.variables {
        let found = decl.default.value.kind();
        if found != decl.ty {
            ctx.error(
                decl.default.referenced,
                format!(
                    "default of variable `{name}` is a {}, expected a {}",
                    found.as_str(),
                    decl.ty.as_str()
                ),
            );
        }
    }
    super::sensitive::check_marker(ctx, raw);
    if raw.implementations.is_empty() {
        ctx.error(id_at, "`implementations` is empty, expected at least one");
    }
    let count = raw.implementations.len();
    for (i, imp) in raw.implementations.iter().enumerate() {
        let at = Pos::from(imp.referenced);
        let imp = &imp.value;
        match (&imp.when, imp.default) {
            (Some(_), true) => {
                ctx.error(at, "an implementation has either `when` or `default: true`, not both")
            }
            (None, false) => ctx.error(at, "implementation has neither `when` nor `default: true`"),
            (None, true) if i + 1 != count => {
                ctx.error(at, "the `default: true` implementation must be the last one")
            }
            _ => {}
        }
        check_check(ctx, raw, &imp.check, at);
        super::sensitive::check_secrets(ctx, raw, &imp.check, at);
        match &imp.remediation {
            None => ctx.warn(at, "no remediation (use `manual` with guidance if no safe fix exists)"),
            Some(rem) => {
                if rem.steps.is_empty() {
                    ctx.error(at, "remediation `steps` is empty");
                }
                for step in &rem.steps {
                    for p in step.params() {
                        check_param(ctx, raw, p, None);
                    }
                    match step {
                        Mechanism::CommandExec { argv } => {
                            if argv.is_empty() {
                                ctx.error(at, "command_exec `argv` is empty");
                            }
                            ctx.warn(at, "command_exec remediation is discouraged: it cannot be verified or rolled back");
                        }
                        Mechanism::AuditRuleSet { rule, .. } => {
                            if let Err(e) = AuditSpec::parse(rule) {
                                let at = locate(ctx.text, rule).unwrap_or(at);
                                ctx.error(at, format!("invalid audit rule: {e}"));
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
    }
}

fn check_check(ctx: &mut Ctx<'_>, raw: &RawRule, check: &Check, at: Pos) {
    match check {
        Check::All(cs) | Check::Any(cs) | Check::None(cs) => {
            if cs.is_empty() {
                ctx.error(at, format!("`{}` needs at least one check", check.method()));
            }
            for c in cs {
                check_check(ctx, raw, c, at);
            }
        }
        Check::FilePermissions(c) => {
            if c.mode.is_none() && c.owner.is_none() && c.group.is_none() {
                ctx.error(at, "file_permissions needs at least one of mode, owner, group");
            }
            // A name, a numeric id, or a list of either (any may own the file).
            for p in c.owner.iter().chain(c.group.iter()) {
                check_param(ctx, raw, p, None);
            }
        }
        Check::ConfigValue(c) => {
            if c.delimiter.as_deref() == Some("") {
                ctx.error(at, "config_value `delimiter` is empty; omit it for whitespace");
            }
            check_compare(ctx, raw, c.comparator, &c.value);
        }
        Check::SshdConfig(c) => check_compare(ctx, raw, c.comparator, &c.value),
        Check::Sysctl(c) => check_compare(ctx, raw, c.comparator, &c.value),
        Check::MountOption(c) => {
            if c.options.is_empty() && c.absent_options.is_empty() && c.missing != super::WhenMissing::Fail {
                ctx.error(at, "mount_option needs options or absent_options (or missing: fail to require a separate mount)");
            }
        }
        Check::Service(c) => {
            if c.enabled.is_none() && c.active.is_none() && c.masked.is_none() {
                ctx.error(at, "service needs at least one of enabled, active, masked");
            }
        }
        Check::AuditRule(c) => {
            if let Err(e) = AuditSpec::parse(&c.rule) {
                let at = locate(ctx.text, &c.rule).unwrap_or(at);
                ctx.error(at, format!("invalid audit rule: {e}"));
            }
        }
        Check::GrubParameter(c) => {
            if let Some(v) = &c.value {
                check_compare(ctx, raw, c.comparator, v);
            }
        }
        Check::PamModule(c) => {
            for arg in &c.args {
                if let Some(v) = &arg.value {
                    check_compare(ctx, raw, arg.comparator, v);
                }
            }
        }
        Check::Accounts(c) => {
            use AccountAssertion as A;
            match c.assert {
                A::HomeDirsMode if c.mode.is_none() => ctx.error(at, "accounts home_dirs_mode needs `mode`"),
                A::PasswordMaxDays | A::PasswordMinDays | A::PasswordWarnDays | A::InactiveDays => {
                    match &c.value {
                        Some(v) => check_param(ctx, raw, v, Some(VarType::Int)),
                        None => ctx.error(at, "this accounts assertion needs `value`"),
                    }
                }
                _ => {}
            }
        }
        Check::FilesystemSearch(c) => {
            if let Some(p) = &c.allowed {
                check_param(ctx, raw, p, Some(VarType::List));
            }
        }
        Check::SetCompare(c) => {
            match &c.source {
                SetSource::FileField { field, where_field, equals, .. } => {
                    if *field == 0 || *where_field == Some(0) {
                        ctx.error(at, "set_compare fields are numbered from 1");
                    }
                    if where_field.is_some() != equals.is_some() {
                        ctx.error(at, "set_compare `where_field` and `equals` go together");
                    }
                }
                SetSource::Command { argv } => {
                    if argv.is_empty() {
                        ctx.error(at, "set_compare command `argv` is empty");
                    }
                }
            }
            check_param(ctx, raw, &c.expected, Some(VarType::List));
        }
        Check::Command(c) => {
            if c.argv.is_empty() || c.argv[0].is_empty() {
                ctx.error(at, "command `argv` is empty");
            }
            if c.expect_exit.is_none() && c.expect_stdout.is_none() {
                ctx.error(at, "command needs expect_exit or expect_stdout");
            }
            ctx.warn(at, "the `command` check is a last resort: prefer a typed check method");
        }
        Check::FileExists(_)
        | Check::FileAbsent(_)
        | Check::FileContent(_)
        | Check::KernelModule(_)
        | Check::Package(_) => {}
    }
}

fn check_compare(ctx: &mut Ctx<'_>, raw: &RawRule, cmp: Comparator, param: &SpannedParam) {
    let want = if cmp.wants_list() { Some(VarType::List) } else { None };
    check_param(ctx, raw, param, want);
    if cmp.is_numeric() {
        let numeric = match &param.value {
            Param::Literal(Value::Int(_)) => true,
            Param::Literal(Value::Str(s)) => s.trim().parse::<i64>().is_ok(),
            Param::Literal(_) => false,
            Param::Var(name) => var_type(raw, name).is_none_or(|t| t == VarType::Int),
        };
        if !numeric {
            ctx.error(param.referenced, format!("comparator {} needs an integer value", cmp.as_str()));
        }
    }
    if cmp == Comparator::Matches
        && let Param::Literal(Value::Str(re)) = &param.value
        && let Err(e) = regex::Regex::new(re)
    {
        ctx.error(param.referenced, format!("invalid regular expression: {e}"));
    }
}

fn var_type(raw: &RawRule, name: &str) -> Option<VarType> {
    raw.variables.iter().find(|(k, _)| k.as_str() == name).map(|(_, d)| d.ty)
}

fn check_param(ctx: &mut Ctx<'_>, raw: &RawRule, param: &SpannedParam, want: Option<VarType>) {
    let found = match &param.value {
        Param::Literal(v) => v.kind(),
        Param::Var(name) => match var_type(raw, name) {
            Some(t) => t,
            None => {
                let declared: Vec<&str> = raw.variables.keys().map(|k| k.as_str()).collect();
                ctx.error(
                    param.referenced,
                    format!(
                        "variable `{name}` is not declared in `variables` (declared: {})",
                        if declared.is_empty() { "none".to_owned() } else { declared.join(", ") }
                    ),
                );
                return;
            }
        },
    };
    if let Some(want) = want
        && want != found
        && !(want == VarType::String && found == VarType::Int)
    {
        ctx.error(param.referenced, format!("expected a {} here, found a {}", want.as_str(), found.as_str()));
    }
}

fn file_stem(file: &str) -> Option<&str> {
    let base = file.rsplit('/').next()?;
    base.strip_suffix(".yml").or_else(|| base.strip_suffix(".yaml"))
}

/// Best-effort position of `needle` in the text, for findings on values without a span.
pub(super) fn locate(text: &str, needle: &str) -> Option<Pos> {
    text.lines()
        .enumerate()
        .find_map(|(i, line)| line.find(needle).map(|col| Pos { line: i as u64 + 1, column: col as u64 + 1 }))
}

fn is_nist_control(c: &str) -> bool {
    let (family, rest) = match c.split_once('-') {
        Some(p) => p,
        None => return false,
    };
    let (num, enh) = match rest.split_once('(') {
        Some((n, e)) => (n, Some(e)),
        None => (rest, None),
    };
    family.len() == 2
        && family.bytes().all(|b| b.is_ascii_uppercase())
        && !num.is_empty()
        && num.bytes().all(|b| b.is_ascii_digit())
        && enh.is_none_or(|e| {
            e.strip_suffix(')').is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        })
}
