//! The `sensitive` marker: which rules must carry it (those reading files that hold secrets)
//! and which may (those whose methods can withhold what they read).

use super::validate::{Ctx, Pos, locate};
use super::{Check, RawRule, SetSource};
use crate::eval::redact::holds_secrets;

/// Methods that honour `sensitive`: they withhold what they read, or read nothing but
/// metadata. The others show the system settings they compare, so marking them would promise
/// a redaction they do not make.
const REDACTING: &[&str] = &[
    "file_exists",
    "file_absent",
    "file_permissions",
    "file_content",
    "config_value",
    "set_compare",
    "command",
    "grub_parameter",
];

/// Methods that read metadata only, which `sensitive` has nothing to withhold from.
const METADATA_ONLY: &[&str] = &["file_exists", "file_absent", "file_permissions"];

pub(super) fn check_marker(ctx: &mut Ctx<'_>, raw: &RawRule) {
    let Some(marker) = raw.sensitive.as_ref().filter(|s| s.value) else { return };
    let at = Pos::from(marker.referenced);
    let leaves: Vec<&Check> = raw.implementations.iter().flat_map(|i| i.value.check.leaves()).collect();
    let mut refused: Vec<&str> =
        leaves.iter().map(|c| c.method()).filter(|m| !REDACTING.contains(m)).collect();
    refused.sort_unstable();
    refused.dedup();
    if !refused.is_empty() {
        ctx.error(
            at,
            format!(
                "`sensitive` cannot redact {}, which shows the settings it reads; sensitive rules use {}",
                refused.join(", "),
                REDACTING.join(", ")
            ),
        );
    } else if leaves.iter().all(|c| METADATA_ONLY.contains(&c.method())) {
        ctx.warn(at, "`sensitive` has no effect: no check reads file contents or command output");
    }
}

/// Paths whose contents a check reads (not just stats).
fn content_paths(check: &Check) -> Vec<&str> {
    match check {
        Check::FileContent(c) => vec![c.path.as_str()],
        Check::ConfigValue(c) => {
            std::iter::once(c.path.as_str()).chain(c.dropins.iter().map(|d| d.as_str())).collect()
        }
        Check::SetCompare(c) => match &c.source {
            SetSource::FileField { path, .. } => vec![path.as_str()],
            SetSource::Command { .. } => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// A check that reads a file known to hold secrets must be in a rule marked `sensitive`, so
/// what the engine withholds anyway is also what the rule says.
pub(super) fn check_secrets(ctx: &mut Ctx<'_>, raw: &RawRule, check: &Check, at: Pos) {
    if raw.sensitive.as_ref().is_some_and(|s| s.value) {
        return;
    }
    let mut seen = std::collections::BTreeSet::new();
    for leaf in check.leaves() {
        for path in content_paths(leaf).into_iter().filter(|p| holds_secrets(p) && seen.insert(*p)) {
            let at = locate_path(ctx.text, path).unwrap_or(at);
            ctx.error(
                at,
                format!(
                    "{} reads {path}, which can hold secrets (passwords, hashes, keys): mark the rule `sensitive: true`",
                    leaf.method()
                ),
            );
        }
    }
}

/// Where a check names `path` (as `path:` or in a `dropins` list), not where prose does.
fn locate_path(text: &str, path: &str) -> Option<Pos> {
    ["path: ", "[", ", "].iter().find_map(|lead| {
        let at = locate(text, &format!("{lead}{path}"))?;
        Some(Pos { line: at.line, column: at.column + lead.len() as u64 })
    })
}

#[cfg(test)]
mod tests {
    use crate::eval::Status;
    use crate::report::{EvalOptions, HostFacts, evaluate_rule};
    use crate::rule::{FindingLevel, parse_rule};
    use crate::testkit::Fixture;

    const SECRET: &str = "hunter2-in-netrc";

    fn rule(extra: &str, check: &str) -> String {
        format!(
            "id: r\ntitle: T\ndescription: D\nrationale: R\nseverity: low\ncategory: test\n\
             references: {{nist_800_53: [IA-5]}}\nplatforms: [{{family: debian}}]\n{extra}\
             implementations:\n  - default: true\n    check:\n      {check}\n    \
             remediation: {{steps: [{{manual: {{guidance: g}}}}]}}\n"
        )
    }

    fn findings(text: &str) -> Vec<String> {
        parse_rule("r.yml", text).findings.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn reading_a_secret_file_requires_the_marker_at_its_line() {
        let check = "file_content: {path: /home/*/.netrc, pattern: '^', expect: absent}";
        let f = findings(&rule("", check));
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].starts_with("r.yml:12:"), "{}", f[0]);
        assert!(f[0].contains("/home/*/.netrc, which can hold secrets"), "{}", f[0]);
        assert!(findings(&rule("sensitive: true\n", check)).is_empty());
        // A rule may not opt out where the engine withholds anyway.
        assert_eq!(findings(&rule("sensitive: false\n", check)).len(), 1);
        for check in [
            "config_value: {path: /etc/snmp/snmpd.conf, key: rocommunity, comparator: '!=', value: public}",
            "set_compare: {source: {file_field: {path: /etc/shadow, delimiter: ':', field: 2}}, relation: disjoint, expected: ['']}",
        ] {
            assert_eq!(findings(&rule("", check)).len(), 1, "{check}");
        }
        // Metadata only: nothing is read.
        assert!(findings(&rule("", "file_permissions: {path: /etc/shadow, mode: '0640'}")).is_empty());
    }

    #[test]
    fn the_marker_is_typed_and_only_where_it_can_redact() {
        let f = findings(&rule("sensitive: sometimes\n", "file_exists: {path: /etc/issue}"));
        assert!(f.len() == 1 && f[0].starts_with("r.yml:9:12: error:"), "{f:?}");
        let f = findings(&rule("sensitive: true\n", "sysctl: {key: kernel.randomize_va_space, value: 2}"));
        assert!(
            f.len() == 1 && f[0].starts_with("r.yml:9:12: error: `sensitive` cannot redact sysctl"),
            "{f:?}"
        );
        let parsed = parse_rule("r.yml", &rule("sensitive: true\n", "file_exists: {path: /etc/issue}"));
        assert!(parsed.rule.is_some());
        assert_eq!(parsed.findings.len(), 1);
        assert_eq!(parsed.findings[0].level, FindingLevel::Warning);
        assert!(parsed.findings[0].message.contains("no effect"), "{:?}", parsed.findings);
    }

    #[test]
    fn a_sensitive_rule_reports_the_decision_not_the_text() {
        let text = rule(
            "sensitive: true\n",
            "file_content: {path: /srv/app/env, pattern: '^TOKEN=', expect: absent, ignore_comments: true}",
        );
        let rule = parse_rule("r.yml", &text).rule.expect("valid");
        assert!(rule.sensitive());
        let f = Fixture::new().file("/srv/app/env", 0o600, &format!("# keys\nUSER=app\nTOKEN={SECRET}\n"));
        let host = HostFacts { platform: f.platform.clone(), capabilities: f.caps.clone() };
        let r = evaluate_rule(&rule, &f.facts, &host, &EvalOptions::default());
        assert_eq!(r.verdict, Status::Fail);
        let shown = serde_json::to_string(&r).unwrap();
        assert!(!shown.contains(SECRET) && !shown.contains("USER=app"), "{shown}");
        assert_eq!(r.reason, "forbidden content found: /srv/app/env:3");
        assert_eq!(r.evidence[0].actual, "matched at line 3");
        assert_eq!(r.evidence[0].observed, "[withheld: 3 lines]");
        assert_eq!(r.evidence[0].source, "/srv/app/env");
    }
}
