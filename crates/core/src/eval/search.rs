//! filesystem_search: world-writable, unowned, SUID/SGID files from one walk per scan.

use crate::facts::{FactKey, FactValue};
use crate::rule::{FilesystemSearch, SearchKind};

use super::{Context, Outcome, Status};

fn label(kind: SearchKind) -> &'static str {
    match kind {
        SearchKind::WorldWritableFiles => "world-writable files",
        SearchKind::WorldWritableDirsWithoutSticky => "world-writable directories without the sticky bit",
        SearchKind::Unowned => "files owned by no user",
        SearchKind::Ungrouped => "files owned by no group",
        SearchKind::Suid => "SUID programs",
        SearchKind::Sgid => "SGID programs",
    }
}

pub fn evaluate(c: &FilesystemSearch, ctx: &Context<'_>) -> Outcome {
    let what = label(c.find);
    if !ctx.walks_enabled {
        return Outcome::new(
            Status::Skipped,
            format!("filesystem walks are disabled for this scan (search for {what})"),
        );
    }
    let walk = match ctx.facts.get(&FactKey::FilesystemWalk) {
        Some(FactValue::Walk(w)) => w,
        Some(FactValue::Error(e)) => return Outcome::error(format!("filesystem walk failed: {e}")),
        _ => return Outcome::error("the filesystem walk was not collected"),
    };
    let allowed = match c.allowed.as_ref().map(|p| ctx.resolve(p)).transpose() {
        Ok(a) => a.map(|v| v.items()),
        Err(e) => return Outcome::error(e),
    };
    let excluded = |p: &str| {
        c.exclude
            .iter()
            .any(|x| p == x.as_str() || p.starts_with(&format!("{}/", x.as_str().trim_end_matches('/'))))
    };
    let found: Vec<&str> = walk
        .entries
        .iter()
        .filter(|e| e.kind == c.find && !excluded(&e.path))
        .map(|e| e.path.as_str())
        .collect();
    let offending: Vec<&str> = match &allowed {
        Some(list) => found.iter().copied().filter(|p| !list.iter().any(|a| a == p)).collect(),
        None => found.clone(),
    };
    let expected = match &allowed {
        Some(list) => format!("only the {} allowed {what}", list.len()),
        None => format!("no {what}"),
    };
    let ev = ctx.evidence(
        "filesystem_search",
        format!("walk of {}", walk.roots.join(", ")),
        &expected,
        format!("{} found, {} not allowed", found.len(), offending.len()),
        &found.join("\n"),
    );
    let shown: Vec<&str> = offending.iter().copied().take(20).collect();
    let more =
        if offending.len() > 20 { format!(" and {} more", offending.len() - 20) } else { String::new() };
    Outcome::judge(
        offending.is_empty(),
        format!("{} {what} found, none unexpected", found.len()),
        format!("{} unexpected {what}: {}{more}", offending.len(), shown.join(", ")),
    )
    .with(ev)
}

#[cfg(test)]
mod tests {
    use super::super::Status;
    use super::*;
    use crate::facts::{WalkEntry, WalkResult};
    use crate::testkit::Fixture;

    fn walk() -> Fixture {
        let e = |kind, path: &str| WalkEntry { kind, path: path.into(), mode: 0o4755, uid: 0, gid: 0 };
        Fixture::new().fact(
            FactKey::FilesystemWalk,
            FactValue::Walk(WalkResult {
                roots: vec!["/".into()],
                entries: vec![
                    e(SearchKind::Suid, "/usr/bin/passwd"),
                    e(SearchKind::Suid, "/usr/local/bin/evil"),
                    e(SearchKind::WorldWritableFiles, "/var/tmp/cache/x"),
                ],
            }),
        )
    }

    #[test]
    fn search_with_and_without_allowed_lists() {
        let f = walk();
        f.expect("filesystem_search: {find: unowned}", Status::Pass);
        f.expect("filesystem_search: {find: world_writable_files}", Status::Fail);
        f.expect("filesystem_search: {find: world_writable_files, exclude: [/var/tmp]}", Status::Pass);
        f.expect(
            "filesystem_search: {find: suid, allowed: [/usr/bin/passwd, /usr/local/bin/evil]}",
            Status::Pass,
        );
        let out = f.expect("filesystem_search: {find: suid, allowed: [/usr/bin/passwd]}", Status::Fail);
        assert!(out.reason.contains("/usr/local/bin/evil"));
    }

    #[test]
    fn disabled_walks_skip_and_missing_walk_errors() {
        let mut f = walk();
        f.no_walks = true;
        f.expect("filesystem_search: {find: suid}", Status::Skipped);
        Fixture::new().expect("filesystem_search: {find: suid}", Status::Error);
    }
}
