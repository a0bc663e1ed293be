//! file_exists, file_absent, file_permissions and file_content.

use crate::facts::{FactKey, FileEntry, FileKind};
use crate::rule::{Expect, FileContent, FilePermissions, PathCheck, Value};

use super::{Context, Outcome, Status};

pub fn stat_key(pattern: &str) -> FactKey {
    FactKey::Files { pattern: pattern.to_owned(), content: false }
}

pub fn content_key(pattern: &str) -> FactKey {
    FactKey::Files { pattern: pattern.to_owned(), content: true }
}

pub fn exists(c: &PathCheck, ctx: &Context<'_>, want: bool) -> Outcome {
    let path = c.path.as_str();
    let method = if want { "file_exists" } else { "file_absent" };
    let entries = match ctx.facts.files(path, false) {
        Ok(e) => e,
        Err(e) => return Outcome::error(e),
    };
    let found = !entries.is_empty();
    let actual = if found { "exists" } else { "absent" };
    let expected = if want { "exists" } else { "absent" };
    Outcome::judge(found == want, format!("{path} {actual}"), format!("{path} {actual}, expected {expected}"))
        .with(ctx.evidence(
            method,
            path,
            expected,
            actual,
            &entries.first().map(describe_entry).unwrap_or_default(),
        ))
}

/// `mode 0644 owner root:root` for evidence.
pub fn describe_entry(e: &FileEntry) -> String {
    format!("{} mode {:04o} owner {}({}) group {}({})", e.path, e.mode, e.user, e.uid, e.group, e.gid)
}

/// A list allows any of its names or numeric ids.
fn identity_matches(name: &str, id: u32, expected: &Value) -> bool {
    expected.items().iter().any(|want| want == name || want.parse::<u32>().is_ok_and(|n| n == id))
}

pub fn permissions(c: &FilePermissions, ctx: &Context<'_>) -> Outcome {
    let pattern = c.path.as_str();
    let entries = match ctx.facts.files(pattern, false) {
        Ok(e) => e,
        Err(e) => return Outcome::error(e),
    };
    let owner = match c.owner.as_ref().map(|p| ctx.resolve(p)).transpose() {
        Ok(v) => v,
        Err(e) => return Outcome::error(e),
    };
    let group = match c.group.as_ref().map(|p| ctx.resolve(p)).transpose() {
        Ok(v) => v,
        Err(e) => return Outcome::error(e),
    };
    let mut expected = Vec::new();
    if let Some(m) = c.mode {
        expected.push(format!("mode <= {m}"));
    }
    if let Some(o) = &owner {
        expected.push(format!("owner {o}"));
    }
    if let Some(g) = &group {
        expected.push(format!("group {g}"));
    }
    let expected = expected.join(", ");
    if entries.is_empty() {
        return Outcome::new(c.missing.into(), format!("nothing exists at {pattern}")).with(ctx.evidence(
            "file_permissions",
            pattern,
            &expected,
            "absent",
            "",
        ));
    }
    let mut outcome = Outcome::pass(format!("{} path(s) at {pattern} meet {expected}", entries.len()));
    let mut problems = Vec::new();
    for e in entries {
        let mut wrong = Vec::new();
        if let Some(m) = c.mode {
            let extra = e.mode & 0o7777 & !m.0;
            if extra != 0 {
                wrong.push(format!("mode {:04o} has bits {:04o} beyond {m}", e.mode, extra));
            }
        }
        if let Some(o) = &owner
            && !identity_matches(&e.user, e.uid, o)
        {
            wrong.push(format!("owner is {}", e.user));
        }
        if let Some(g) = &group
            && !identity_matches(&e.group, e.gid, g)
        {
            wrong.push(format!("group is {}", e.group));
        }
        let actual = format!("mode {:04o}, owner {}, group {}", e.mode, e.user, e.group);
        outcome.evidence.push(ctx.evidence(
            "file_permissions",
            &e.path,
            &expected,
            actual,
            &describe_entry(e),
        ));
        if !wrong.is_empty() {
            problems.push(format!("{}: {}", e.path, wrong.join(", ")));
        }
    }
    if !problems.is_empty() {
        outcome.status = Status::Fail;
        outcome.reason = problems.join("; ");
    }
    outcome
}

/// The text searched by file_content (the file, minus comment lines when asked), and the
/// file's line number of each of its lines.
fn searchable(content: &str, ignore_comments: bool) -> (String, Vec<usize>) {
    let kept: Vec<(usize, &str)> = content
        .lines()
        .enumerate()
        .filter(|(_, l)| !ignore_comments || !l.trim_start().starts_with('#'))
        .map(|(i, l)| (i + 1, l))
        .collect();
    if !ignore_comments {
        return (content.to_owned(), kept.iter().map(|(n, _)| *n).collect());
    }
    (kept.iter().map(|(_, l)| *l).collect::<Vec<_>>().join("\n"), kept.iter().map(|(n, _)| *n).collect())
}

/// The first match: the file's line number where it starts, and the whole lines it spans.
fn first_match(c: &FileContent, text: &str) -> Option<(usize, String)> {
    let (hay, numbers) = searchable(text, c.ignore_comments);
    let m = c.pattern.regex.find(&hay)?;
    let start = hay[..m.start()].rfind('\n').map_or(0, |i| i + 1);
    let end = hay[m.end()..].find('\n').map_or(hay.len(), |i| m.end() + i);
    let index = hay[..start].matches('\n').count();
    Some((numbers.get(index).copied().unwrap_or(index + 1), hay[start..end].to_owned()))
}

pub fn content(c: &FileContent, ctx: &Context<'_>) -> Outcome {
    let pattern = c.path.as_str();
    let entries = match ctx.facts.files(pattern, true) {
        Ok(e) => e,
        Err(e) => return Outcome::error(e),
    };
    let files: Vec<&FileEntry> = entries.iter().filter(|e| e.kind == FileKind::Regular).collect();
    let want = match c.expect {
        Expect::Present => format!("a line matching /{}/", c.pattern.source),
        Expect::Absent => format!("no line matching /{}/", c.pattern.source),
    };
    if files.is_empty() {
        return Outcome::new(c.missing.into(), format!("no file exists at {pattern}")).with(ctx.evidence(
            "file_content",
            pattern,
            &want,
            "absent",
            "",
        ));
    }
    let mut evidence = Vec::new();
    let mut matched_in = Vec::new();
    for f in &files {
        let Some(text) = &f.content else {
            return Outcome::error(format!("{} exists but could not be read", f.path));
        };
        // A file that can hold secrets shows where a match is, never what it says.
        let hide = ctx.hides(&f.path);
        let found = first_match(c, text);
        let actual = match &found {
            Some((n, _)) if hide => format!("matched at line {n}"),
            Some((_, line)) => format!("matched: {line}"),
            None => "no match".to_owned(),
        };
        let mut ev = ctx.evidence_hiding(hide, "file_content", &f.path, &want, actual, text);
        ev.truncated |= f.truncated;
        evidence.push(ev);
        match found {
            Some((n, _)) if hide => matched_in.push(format!("{}:{n}", f.path)),
            Some((_, line)) => matched_in.push(format!("{}: {line}", f.path)),
            None => {}
        }
    }
    let truncated_note =
        if files.iter().any(|f| f.truncated) { " (file truncated at collection cap)" } else { "" };
    let mut out = match (c.expect, matched_in.is_empty()) {
        (Expect::Present, false) => Outcome::pass(format!("found {}", matched_in.join("; "))),
        (Expect::Present, true) => {
            Outcome::fail(format!("no line in {pattern} matches /{}/{truncated_note}", c.pattern.source))
        }
        (Expect::Absent, true) => {
            Outcome::pass(format!("no line in {pattern} matches /{}/{truncated_note}", c.pattern.source))
        }
        (Expect::Absent, false) => {
            Outcome::fail(format!("forbidden content found: {}", matched_in.join("; ")))
        }
    };
    out.evidence = evidence;
    out
}

#[cfg(test)]
mod tests {
    use super::super::Status;
    use crate::rule::Value;
    use crate::testkit::{Fixture, entry};

    #[test]
    fn exists_and_absent() {
        let f = Fixture::new().file("/etc/issue", 0o644, "hi").absent(&["/etc/hosts.equiv"]);
        f.expect("file_exists: {path: /etc/issue}", Status::Pass);
        f.expect("file_absent: {path: /etc/issue}", Status::Fail);
        f.expect("file_absent: {path: /etc/hosts.equiv}", Status::Pass);
        f.expect("file_exists: {path: /etc/hosts.equiv}", Status::Fail);
        // Not collected at all: an error, never a pass.
        f.expect("file_exists: {path: /etc/motd}", Status::Error);
    }

    #[test]
    fn permissions_mask_owner_group_and_globs() {
        let mut key = entry("/etc/ssh/ssh_host_ed25519_key", 0o600, Some(""));
        let mut bad = entry("/etc/ssh/ssh_host_rsa_key", 0o644, Some(""));
        bad.group = "ssh_keys".into();
        bad.gid = 101;
        key.uid = 0;
        let f = Fixture::new()
            .file("/etc/shadow", 0o640, "")
            .entries("/etc/ssh/ssh_host_*_key", vec![key, bad])
            .absent(&["/etc/nothing*"])
            .var("owner", Value::Str("root".into()));
        f.expect("file_permissions: {path: /etc/shadow, mode: \"0640\", owner: root}", Status::Pass);
        f.expect("file_permissions: {path: /etc/shadow, mode: \"0600\"}", Status::Fail);
        f.expect("file_permissions: {path: /etc/shadow, owner: {var: owner}, group: \"0\"}", Status::Pass);
        f.expect("file_permissions: {path: /etc/shadow, group: shadow}", Status::Fail);
        let out = f.expect("file_permissions: {path: /etc/ssh/ssh_host_*_key, mode: \"0600\"}", Status::Fail);
        assert!(out.reason.contains("ssh_host_rsa_key"), "{}", out.reason);
        assert_eq!(out.evidence.len(), 2);
        f.expect("file_permissions: {path: /etc/nothing*, mode: \"0600\"}", Status::Pass);
        f.expect("file_permissions: {path: /etc/nothing*, mode: \"0600\", missing: fail}", Status::Fail);
        f.expect("file_permissions: {path: /etc/motd, mode: \"0600\"}", Status::Error);
    }

    #[test]
    fn content_present_absent_multiline_and_comments() {
        let f = Fixture::new()
            .file("/etc/issue", 0o644, "Authorized uses only.\n# \\v kernel\n")
            .file("/etc/motd", 0o644, "line one\nline two\n")
            .absent(&["/etc/issue.net"]);
        f.expect("file_content: {path: /etc/issue, pattern: 'Authorized'}", Status::Pass);
        f.expect("file_content: {path: /etc/issue, pattern: '\\\\v', expect: absent}", Status::Pass);
        f.expect(
            "file_content: {path: /etc/issue, pattern: '\\\\v', expect: absent, ignore_comments: false}",
            Status::Fail,
        );
        f.expect("file_content: {path: /etc/motd, pattern: '(?s)one\\nline two'}", Status::Pass);
        f.expect("file_content: {path: /etc/motd, pattern: '^two'}", Status::Fail);
        f.expect("file_content: {path: /etc/issue.net, pattern: x}", Status::Fail);
        f.expect(
            "file_content: {path: /etc/issue.net, pattern: x, missing: not_applicable}",
            Status::NotApplicable,
        );
    }

    #[test]
    fn unreadable_file_is_an_error() {
        let mut e = entry("/etc/sudoers", 0o440, Some(""));
        e.content = None;
        e.kind = crate::facts::FileKind::Regular;
        let f = Fixture::new().entries("/etc/sudoers", vec![e]);
        f.expect("file_content: {path: /etc/sudoers, pattern: x}", Status::Error);
    }

    #[test]
    fn truncated_content_is_flagged() {
        let mut e = entry("/var/log/big", 0o640, Some("head of a large file"));
        e.truncated = true;
        let f = Fixture::new().entries("/var/log/big", vec![e]);
        let out = f.expect("file_content: {path: /var/log/big, pattern: secret}", Status::Fail);
        assert!(out.reason.contains("truncated"), "{}", out.reason);
        assert!(out.evidence[0].truncated);
    }

    #[test]
    fn any_of_several_groups_may_own_each_file() {
        let mut adm = entry("/var/log/audit/audit.log.1", 0o640, Some(""));
        adm.group = "adm".into();
        adm.gid = 4;
        let mut tester = entry("/var/log/audit/audit.log.2", 0o640, Some(""));
        tester.group = "tester".into();
        tester.gid = 1000;
        let ok = Fixture::new().entries(
            "/var/log/audit/*",
            vec![entry("/var/log/audit/audit.log", 0o600, Some("")), adm.clone()],
        );
        ok.expect("file_permissions: {path: /var/log/audit/*, group: [root, adm]}", Status::Pass);
        let bad = Fixture::new().entries("/var/log/audit/*", vec![adm, tester]);
        let out = bad.expect("file_permissions: {path: /var/log/audit/*, group: [root, adm]}", Status::Fail);
        assert!(out.reason.contains("audit.log.2"), "{}", out.reason);
    }

    #[test]
    fn secret_files_show_where_content_matched_never_what() {
        let netrc = "machine h login u password pw-in-netrc\n";
        let f = Fixture::new()
            .entries(
                "/home/*/.netrc",
                vec![entry("/home/a/.netrc", 0o600, Some(netrc)), entry("/home/b/.netrc", 0o600, Some(""))],
            )
            .file("/etc/issue", 0o644, "# note\nAuthorized uses only.\n");
        // On the list of secret files, the unmarked rule is redacted all the same.
        let out = f.expect_hidden(
            "file_content: {path: /home/*/.netrc, pattern: '^', expect: absent, ignore_comments: false}",
            Status::Fail,
            "pw-in-netrc",
        );
        assert_eq!(out.reason, "forbidden content found: /home/a/.netrc:1; /home/b/.netrc:1");
        assert_eq!(out.evidence[0].actual, "matched at line 1");
        assert_eq!(out.evidence[0].observed, "[withheld: 1 line]");
        assert_eq!(
            (out.evidence[1].actual.as_str(), out.evidence[1].observed.as_str()),
            ("matched at line 1", "")
        );
        // Elsewhere the matched line is the proof; marked sensitive, only its number is.
        let out = f.expect("file_content: {path: /etc/issue, pattern: Authorized}", Status::Pass);
        assert_eq!(out.reason, "found /etc/issue: Authorized uses only.");
        assert!(out.evidence[0].observed.contains("# note"));
        let sensitive = f.sensitive();
        let out = sensitive.expect_hidden(
            "file_content: {path: /etc/issue, pattern: Authorized}",
            Status::Pass,
            "uses",
        );
        assert_eq!(out.reason, "found /etc/issue:2", "line numbers count skipped comments");
    }
}
