//! set_compare: an observed set (a field of a delimited file, or a command's lines) against a
//! declared set.

use std::collections::BTreeSet;

use crate::facts::FactKey;
use crate::rule::{SetCompare, SetRelation, SetSource};

use super::files::content_key;
use super::{Context, Outcome};

pub fn needs(c: &SetCompare, out: &mut Vec<FactKey>) {
    match &c.source {
        SetSource::FileField { path, .. } => out.push(content_key(path.as_str())),
        SetSource::Command { argv } => out.push(FactKey::Command { argv: argv.clone() }),
    }
}

/// The observed set, where it came from and the text it was read from. `hide` keeps a failed
/// command's error output out of the reason.
fn observed(
    c: &SetCompare,
    ctx: &Context<'_>,
    hide: bool,
) -> Result<(BTreeSet<String>, String, String), String> {
    match &c.source {
        SetSource::FileField { path, delimiter, field, where_field, equals } => {
            let text = match ctx.facts.file(path.as_str())? {
                Some(e) => e.content.clone().ok_or_else(|| format!("{} could not be read", path.as_str()))?,
                None => return Err(format!("{} does not exist", path.as_str())),
            };
            let set = text
                .lines()
                .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
                .filter_map(|l| {
                    let f: Vec<&str> = l.split(delimiter.as_str()).collect();
                    if let (Some(w), Some(eq)) = (where_field, equals)
                        && f.get(w - 1).copied() != Some(eq.as_str())
                    {
                        return None;
                    }
                    f.get(field - 1).map(|s| s.trim().to_owned())
                })
                .collect();
            Ok((set, path.as_str().to_owned(), text))
        }
        SetSource::Command { argv } => {
            let args: Vec<&str> = argv.iter().map(String::as_str).collect();
            let out = ctx.facts.command(&args)?;
            if out.exit_code != 0 {
                let stderr = if hide { "[error output withheld]" } else { out.stderr.trim() };
                return Err(format!("`{}` exited {}: {stderr}", argv.join(" "), out.exit_code));
            }
            let set =
                out.stdout.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect();
            Ok((set, argv.join(" "), out.stdout.clone()))
        }
    }
}

pub fn evaluate(c: &SetCompare, ctx: &Context<'_>) -> Outcome {
    let expected: BTreeSet<String> = match ctx.resolve(&c.expected) {
        Ok(v) => v.items().into_iter().collect(),
        Err(e) => return Outcome::error(e),
    };
    let hide = match &c.source {
        SetSource::FileField { path, .. } => ctx.hides(path.as_str()),
        SetSource::Command { .. } => ctx.sensitive,
    };
    let (got, source, raw) = match observed(c, ctx, hide) {
        Ok(o) => o,
        Err(e) => return Outcome::error(e),
    };
    let list = |s: &BTreeSet<String>| format!("{{{}}}", s.iter().cloned().collect::<Vec<_>>().join(", "));
    let (ok, relation) = match c.relation {
        SetRelation::Equal => (got == expected, "equal to"),
        SetRelation::SubsetOf => (got.is_subset(&expected), "a subset of"),
        SetRelation::SupersetOf => (got.is_superset(&expected), "a superset of"),
        SetRelation::Disjoint => (got.is_disjoint(&expected), "disjoint from"),
    };
    // Withheld, the observed set is told by counts: how many values, how many of them the
    // expected set lacks, how many expected values are missing.
    let shown = if hide {
        format!(
            "{} observed value(s), {} not expected, {} expected missing",
            got.len(),
            got.difference(&expected).count(),
            expected.difference(&got).count()
        )
    } else {
        list(&got)
    };
    let ev = ctx.evidence_hiding(
        hide,
        "set_compare",
        &source,
        format!("{relation} {}", list(&expected)),
        &shown,
        &raw,
    );
    let subject = if hide { format!("the observed set ({shown})") } else { shown.clone() };
    Outcome::judge(
        ok,
        format!("{subject} is {relation} {}", list(&expected)),
        format!("{subject} is not {relation} {}", list(&expected)),
    )
    .with(ev)
}

#[cfg(test)]
mod tests {
    use super::super::Status;
    use crate::testkit::Fixture;

    const PW: &str =
        "root:x:0:0::/root:/bin/bash\nsync:x:4:65534::/bin:/bin/sync\ntoor:x:0:0::/root:/bin/sh\n";

    #[test]
    fn file_field_with_filter() {
        let f = Fixture::new().file("/etc/passwd", 0o644, PW);
        let uid0 = "set_compare: {source: {file_field: {path: /etc/passwd, delimiter: ':', field: 1, where_field: 3, equals: '0'}}, relation: equal, expected: [root]}";
        f.expect(uid0, Status::Fail);
        let ok = Fixture::new().file("/etc/passwd", 0o644, "root:x:0:0::/root:/bin/bash\n");
        ok.expect(uid0, Status::Pass);
        f.expect("set_compare: {source: {file_field: {path: /etc/passwd, delimiter: ':', field: 7}}, relation: superset_of, expected: [/bin/sh]}", Status::Pass);
        f.expect("set_compare: {source: {file_field: {path: /etc/passwd, delimiter: ':', field: 1}}, relation: disjoint, expected: [toor]}", Status::Fail);
        f.expect("set_compare: {source: {file_field: {path: /etc/passwd, delimiter: ':', field: 1}}, relation: subset_of, expected: [root, sync, toor, x]}", Status::Pass);
    }

    #[test]
    fn command_source_and_errors() {
        let f = Fixture::new().command(&["lsmod"], 0, "ext4\nvfat\n").command(&["broken"], 2, "");
        f.expect(
            "set_compare: {source: {command: {argv: [lsmod]}}, relation: disjoint, expected: [cramfs]}",
            Status::Pass,
        );
        f.expect(
            "set_compare: {source: {command: {argv: [broken]}}, relation: disjoint, expected: [x]}",
            Status::Error,
        );
        Fixture::new().absent(&["/etc/x"]).expect("set_compare: {source: {file_field: {path: /etc/x, delimiter: ':', field: 1}}, relation: equal, expected: []}", Status::Error);
    }

    #[test]
    fn short_rows_are_skipped() {
        let f = Fixture::new().file("/etc/passwd", 0o644, "root:x:0:0::/root:/bin/bash\nshort\n");
        f.expect("set_compare: {source: {file_field: {path: /etc/passwd, delimiter: ':', field: 7}}, relation: equal, expected: [/bin/bash]}", Status::Pass);
    }

    #[test]
    fn secret_fields_are_counted_not_listed() {
        let shadow = "root:$6$salt$hash-one:19000::::::\nbob:$6$salt$hash-two:19000::::::\n";
        let f = Fixture::new().file("/etc/shadow", 0o640, shadow);
        let out = f.expect_hidden(
            "set_compare: {source: {file_field: {path: /etc/shadow, delimiter: ':', field: 2}}, relation: disjoint, expected: ['']}",
            Status::Pass,
            "hash-",
        );
        assert_eq!(out.evidence[0].actual, "2 observed value(s), 2 not expected, 1 expected missing");
        let f = Fixture::new().command(&["secrets"], 3, "").command(&["ls"], 0, "tok-1\n").sensitive();
        let out = f.expect(
            "set_compare: {source: {command: {argv: [secrets]}}, relation: equal, expected: []}",
            Status::Error,
        );
        assert!(out.reason.contains("withheld"), "{}", out.reason);
        f.expect_hidden(
            "set_compare: {source: {command: {argv: [ls]}}, relation: equal, expected: []}",
            Status::Fail,
            "tok-1",
        );
    }
}
