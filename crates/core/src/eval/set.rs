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

fn observed(c: &SetCompare, ctx: &Context<'_>) -> Result<(BTreeSet<String>, String, String), String> {
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
                return Err(format!("`{}` exited {}: {}", argv.join(" "), out.exit_code, out.stderr.trim()));
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
    let (got, source, raw) = match observed(c, ctx) {
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
    let ev =
        ctx.evidence("set_compare", &source, format!("{relation} {}", list(&expected)), list(&got), &raw);
    Outcome::judge(
        ok,
        format!("{} is {relation} {}", list(&got), list(&expected)),
        format!("{} is not {relation} {}", list(&got), list(&expected)),
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
}
