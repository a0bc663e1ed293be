//! audit_rule: a rule in auditctl syntax must be loaded (`auditctl -l`) and persisted
//! (/etc/audit/rules.d). Matching is semantic: keys are ignored, watch permissions and
//! syscall lists may be supersets, and `-S a,b` may be split over several rules.

use std::collections::BTreeSet;

use crate::facts::FactKey;
use crate::rule::{AuditRule, AuditSource};

use super::files::content_key;
use super::{Context, Outcome, Status};

pub const AUDITCTL_L: &[&str] = &["auditctl", "-l"];
pub const AUDITCTL_S: &[&str] = &["auditctl", "-s"];
pub const RULES_D: &str = "/etc/audit/rules.d/*.rules";

/// A parsed audit rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditSpec {
    /// `-w PATH -p PERMS`
    Watch { path: String, perms: BTreeSet<char> },
    /// `-a ACTION,LIST [-F field] [-S syscalls]`
    Syscall { action: String, fields: BTreeSet<String>, perms: BTreeSet<char>, syscalls: BTreeSet<String> },
    /// `-e 2` and similar control lines.
    Control { flag: String, value: String },
}

/// `/etc/apparmor/` and `/etc/apparmor` name the same watch.
fn trim_slash(p: &str) -> String {
    let t = p.trim_end_matches('/');
    if t.is_empty() { "/".to_owned() } else { t.to_owned() }
}

fn normalize_field(f: &str) -> String {
    for op in ["!=", ">=", "<=", "=", ">", "<", "&=", "&"] {
        if let Some((k, v)) = f.split_once(op) {
            let v = match v {
                "4294967295" | "-1" => "unset",
                other => other,
            };
            return format!("{k}{op}{v}");
        }
    }
    f.to_owned()
}

impl AuditSpec {
    pub fn parse(rule: &str) -> Result<AuditSpec, String> {
        let words: Vec<&str> = rule.split_whitespace().collect();
        let mut i = 0;
        let mut watch = None;
        let mut action = None;
        let mut perms = BTreeSet::new();
        let mut fields = BTreeSet::new();
        let mut syscalls = BTreeSet::new();
        let arg =
            |i: usize| words.get(i + 1).copied().ok_or_else(|| format!("`{}` needs an argument", words[i]));
        while i < words.len() {
            match words[i] {
                "-w" => watch = Some(trim_slash(arg(i)?)),
                "-p" => perms.extend(arg(i)?.chars()),
                "-k" => {}
                "-a" | "-A" => {
                    let a = arg(i)?;
                    let mut parts: Vec<&str> = a.split(',').collect();
                    parts.sort_unstable();
                    if parts.len() != 2 {
                        return Err(format!("`-a {a}` should be ACTION,LIST such as always,exit"));
                    }
                    action = Some(parts.join(","));
                }
                "-F" => {
                    let f = arg(i)?;
                    if let Some(p) = f.strip_prefix("perm=") {
                        perms.extend(p.chars());
                    } else if let Some(p) = f.strip_prefix("path=").or_else(|| f.strip_prefix("dir=")) {
                        let key = if f.starts_with("path=") { "path" } else { "dir" };
                        fields.insert(format!("{key}={}", trim_slash(p)));
                    } else if !f.starts_with("key=") {
                        fields.insert(normalize_field(f));
                    }
                }
                "-S" => syscalls.extend(arg(i)?.split(',').map(str::to_owned)),
                // Inter-field comparisons, e.g. `-C euid!=uid` (user emulation).
                "-C" => {
                    fields.insert(format!("-C {}", arg(i)?));
                }
                "-e" | "-f" | "-b" | "-r" => {
                    if words.len() != 2 {
                        return Err(format!("`{}` stands alone on its line", words[i]));
                    }
                    return Ok(AuditSpec::Control { flag: words[0].to_owned(), value: arg(0)?.to_owned() });
                }
                other => {
                    return Err(format!("unexpected `{other}` (supported: -w -p -k -a -F -S -e)"));
                }
            }
            i += 2;
        }
        if let Some(p) = perms.iter().find(|c| !"rwxa".contains(**c)) {
            return Err(format!("permission `{p}` is not one of r, w, x, a"));
        }
        match (watch, action) {
            (Some(path), None) => Ok(AuditSpec::Watch { path, perms }),
            (None, Some(action)) => Ok(AuditSpec::Syscall { action, fields, perms, syscalls }),
            (Some(_), Some(_)) => {
                Err("a rule is either a watch (-w) or a syscall rule (-a), not both".to_owned())
            }
            (None, None) => Err("expected -w PATH or -a ACTION,LIST".to_owned()),
        }
    }

    /// Is this (required) rule satisfied by the `actual` rules?
    pub fn satisfied_by(&self, actual: &[AuditSpec]) -> bool {
        match self {
            AuditSpec::Watch { path, perms } => actual.iter().any(|a| match a {
                AuditSpec::Watch { path: p, perms: q } => p == path && perms.is_subset(q),
                AuditSpec::Syscall { fields, perms: q, .. } => {
                    (fields.contains(&format!("path={path}")) || fields.contains(&format!("dir={path}")))
                        && perms.is_subset(q)
                }
                AuditSpec::Control { .. } => false,
            }),
            AuditSpec::Syscall { action, fields, perms, syscalls } => {
                let covers = |a: &AuditSpec, sc: Option<&String>| match a {
                    AuditSpec::Syscall { action: b, fields: g, perms: q, syscalls: t } => {
                        b == action
                            && fields.is_subset(g)
                            && perms.is_subset(q)
                            && sc.is_none_or(|s| t.contains(s))
                    }
                    _ => false,
                };
                if syscalls.is_empty() {
                    actual.iter().any(|a| covers(a, None))
                } else {
                    syscalls.iter().all(|s| actual.iter().any(|a| covers(a, Some(s))))
                }
            }
            AuditSpec::Control { flag, value } => actual
                .iter()
                .any(|a| matches!(a, AuditSpec::Control { flag: f, value: v } if f == flag && v == value)),
        }
    }
}

pub fn needs(out: &mut Vec<FactKey>) {
    for argv in [AUDITCTL_L, AUDITCTL_S] {
        out.push(FactKey::Command { argv: argv.iter().map(|s| (*s).to_owned()).collect() });
    }
    out.push(content_key(RULES_D));
}

fn parse_all<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<AuditSpec> {
    lines
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| AuditSpec::parse(l).ok())
        .collect()
}

type SideFn = fn(&AuditSpec, &Context<'_>) -> Result<Side, String>;

enum Side {
    Ok(bool, String),
    Unknown(Status, String),
}

fn loaded(spec: &AuditSpec, ctx: &Context<'_>) -> Result<Side, String> {
    let (argv, what) = match spec {
        AuditSpec::Control { .. } => (AUDITCTL_S, "auditctl -s"),
        _ => (AUDITCTL_L, "auditctl -l"),
    };
    let out = ctx.facts.command(argv)?;
    if out.not_found() {
        return Ok(Side::Unknown(Status::Fail, "auditctl is not installed (auditd missing)".to_owned()));
    }
    if out.exit_code != 0 {
        return Ok(Side::Unknown(Status::Error, format!("{what} failed: {}", out.stderr.trim())));
    }
    let actual = match spec {
        AuditSpec::Control { flag, .. } if flag == "-e" => out
            .stdout
            .lines()
            .filter_map(|l| l.strip_prefix("enabled "))
            .map(|v| AuditSpec::Control { flag: "-e".into(), value: v.trim().into() })
            .collect(),
        _ => parse_all(out.stdout.lines()),
    };
    Ok(Side::Ok(spec.satisfied_by(&actual), out.stdout.clone()))
}

fn persisted(spec: &AuditSpec, ctx: &Context<'_>) -> Result<Side, String> {
    let files = ctx.facts.files(RULES_D, true)?;
    let text: String = files.iter().filter_map(|f| f.content.as_deref()).collect::<Vec<_>>().join("\n");
    let actual = parse_all(text.lines());
    // For `-e`, only the last control line counts.
    let ok = match spec {
        AuditSpec::Control { flag, .. } => actual
            .iter()
            .rev()
            .find(|a| matches!(a, AuditSpec::Control { flag: f, .. } if f == flag))
            .is_some_and(|last| spec.satisfied_by(std::slice::from_ref(last))),
        _ => spec.satisfied_by(&actual),
    };
    Ok(Side::Ok(ok, text))
}

pub fn evaluate(c: &AuditRule, ctx: &Context<'_>) -> Outcome {
    let spec = match AuditSpec::parse(&c.rule) {
        Ok(s) => s,
        Err(e) => return Outcome::error(format!("invalid audit rule `{}`: {e}", c.rule)),
    };
    let mut out = Outcome::pass(format!("audit rule `{}` is in place", c.rule));
    let mut problems = Vec::new();
    let sides: &[(&str, SideFn)] = match c.source {
        AuditSource::Both => &[("loaded", loaded), ("persisted", persisted)],
        AuditSource::Loaded => &[("loaded", loaded)],
        AuditSource::Persisted => &[("persisted", persisted)],
    };
    for (name, side) in sides {
        let source = if *name == "loaded" { "auditctl" } else { RULES_D };
        match side(&spec, ctx) {
            Err(e) => return Outcome::error(e),
            Ok(Side::Unknown(status, why)) => {
                out.evidence.push(ctx.evidence("audit_rule", source, &c.rule, "unknown", &why));
                if out.status != Status::Fail {
                    out.status = status;
                }
                problems.push(why);
            }
            Ok(Side::Ok(found, observed)) => {
                let actual = if found { "present" } else { "absent" };
                out.evidence.push(ctx.evidence("audit_rule", source, &c.rule, actual, &observed));
                if !found {
                    out.status = Status::Fail;
                    problems.push(format!("not {name}"));
                }
            }
        }
    }
    if !problems.is_empty() {
        out.reason = format!("audit rule `{}`: {}", c.rule, problems.join("; "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::Status;
    use super::*;
    use crate::testkit::{Fixture, entry};

    #[test]
    fn parse_rejects_garbage_and_normalizes() {
        assert!(AuditSpec::parse("-w /etc/passwd -p wa -k identity").is_ok());
        assert!(AuditSpec::parse("-w /etc/passwd -p wz").is_err());
        assert!(AuditSpec::parse("-a always -S open").is_err());
        assert!(AuditSpec::parse("rm -rf /").is_err());
        assert!(AuditSpec::parse("-w").is_err());
        assert_eq!(
            AuditSpec::parse("-a exit,always -F auid!=4294967295 -S open"),
            AuditSpec::parse("-a always,exit -F auid!=unset -S open -k x")
        );
    }

    #[test]
    fn semantic_matching() {
        let actual = vec![
            AuditSpec::parse("-w /etc/passwd -p rwa -k identity").unwrap(),
            AuditSpec::parse("-a always,exit -F arch=b64 -S adjtimex -F key=time").unwrap(),
            AuditSpec::parse("-a always,exit -F arch=b64 -S settimeofday,clock_settime -F key=time").unwrap(),
        ];
        let watch = AuditSpec::parse("-w /etc/passwd -p wa").unwrap();
        assert!(watch.satisfied_by(&actual));
        assert!(!AuditSpec::parse("-w /etc/passwd -p x").unwrap().satisfied_by(&actual));
        let split = AuditSpec::parse("-a always,exit -F arch=b64 -S adjtimex,settimeofday").unwrap();
        assert!(split.satisfied_by(&actual));
        let other_arch = AuditSpec::parse("-a always,exit -F arch=b32 -S adjtimex").unwrap();
        assert!(!other_arch.satisfied_by(&actual));
    }

    fn host(loaded: &str, persisted: &str) -> Fixture {
        Fixture::new()
            .command(AUDITCTL_L, 0, loaded)
            .command(AUDITCTL_S, 0, "enabled 2\nfailure 1\n")
            .entries(RULES_D, vec![entry("/etc/audit/rules.d/50-identity.rules", 0o640, Some(persisted))])
    }

    #[test]
    fn loaded_and_persisted_both_required() {
        let r = "audit_rule: {rule: '-w /etc/group -p wa'}";
        host("-w /etc/group -p wa -k identity\n", "-w /etc/group -p wa -k identity\n")
            .expect(r, Status::Pass);
        let out = host("No rules\n", "-w /etc/group -p wa -k identity\n").expect(r, Status::Fail);
        assert!(out.reason.contains("not loaded"));
        host("-w /etc/group -p wa -k identity\n", "# -w /etc/group -p wa\n").expect(r, Status::Fail);
        host("No rules\n", "-w /etc/group -p wa\n")
            .expect("audit_rule: {rule: '-w /etc/group -p wa', source: persisted}", Status::Pass);
    }

    #[test]
    fn immutable_mode_uses_last_control_line_and_auditctl_s() {
        let r = "audit_rule: {rule: '-e 2'}";
        host("", "-e 1\n-e 2\n").expect(r, Status::Pass);
        host("", "-e 2\n-e 1\n").expect(r, Status::Fail);
    }

    #[test]
    fn missing_auditctl_fails_and_permission_problem_errors() {
        let f = Fixture::new().command(AUDITCTL_L, 127, "").command(AUDITCTL_S, 127, "").absent(&[RULES_D]);
        f.expect("audit_rule: {rule: '-w /etc/group -p wa'}", Status::Fail);
        let g = Fixture::new().command(AUDITCTL_L, 1, "").absent(&[RULES_D]);
        g.expect("audit_rule: {rule: '-w /etc/group -p wa', source: loaded}", Status::Error);
    }

    #[test]
    fn garbage_auditctl_output_is_not_a_rule() {
        let r = "audit_rule: {rule: '-w /etc/group -p wa', source: loaded}";
        host("-w\n-w /etc/group\n-p wa\nrandom text\n", "").expect(r, Status::Fail);
    }

    #[test]
    fn field_comparisons_and_trailing_slashes() {
        let emulation =
            AuditSpec::parse("-a always,exit -F arch=b64 -C euid!=uid -F auid!=unset -S execve").unwrap();
        let loaded = [AuditSpec::parse(
            "-a always,exit -F arch=b64 -S execve -C euid!=uid -F auid!=-1 -F key=user_emulation",
        )
        .unwrap()];
        assert!(emulation.satisfied_by(&loaded));
        let without_c = [AuditSpec::parse("-a always,exit -F arch=b64 -S execve -F auid!=-1").unwrap()];
        assert!(!emulation.satisfied_by(&without_c));
        let watch = AuditSpec::parse("-w /etc/apparmor -p wa").unwrap();
        assert!(watch.satisfied_by(&[AuditSpec::parse("-w /etc/apparmor/ -p wa -k mac").unwrap()]));
        assert!(
            watch.satisfied_by(&[
                AuditSpec::parse("-a always,exit -F dir=/etc/apparmor/ -F perm=wa").unwrap()
            ])
        );
    }
}
