//! mount_option: options of a mounted file system (as the kernel reports them).

use crate::facts::FactKey;
use crate::rule::{MountOption, WhenMissing};

use super::files::content_key;
use super::{Context, Outcome, Status};

pub const MOUNTS: &str = "/proc/self/mounts";

pub fn needs(out: &mut Vec<FactKey>) {
    out.push(content_key(MOUNTS));
}

/// Undo the octal escapes /proc/self/mounts uses for spaces and tabs.
fn unescape(s: &str) -> String {
    s.replace("\\040", " ").replace("\\011", "\t").replace("\\134", "\\")
}

pub fn evaluate(c: &MountOption, ctx: &Context<'_>) -> Outcome {
    let mp = c.mount_point.as_str();
    let content = match ctx.facts.file(MOUNTS) {
        Ok(Some(e)) => e.content.clone().unwrap_or_default(),
        Ok(None) => return Outcome::error(format!("{MOUNTS} does not exist")),
        Err(e) => return Outcome::error(e),
    };
    // The last entry for a mount point is the one on top.
    let entry = content.lines().rev().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() >= 4 && unescape(f[1]) == mp).then(|| (l.to_owned(), f[2].to_owned(), f[3].to_owned()))
    });
    let mut expected: Vec<String> = c.options.iter().map(|o| o.to_string()).collect();
    expected.extend(c.absent_options.iter().map(|o| format!("no {o}")));
    let expected = if expected.is_empty() { "a separate mount".to_owned() } else { expected.join(", ") };
    let Some((line, fstype, opts)) = entry else {
        let status: Status = c.missing.into();
        let reason = match c.missing {
            WhenMissing::NotApplicable => format!("{mp} is not a separate mount point"),
            _ => format!("{mp} is not a separate mount point, expected {expected}"),
        };
        return Outcome::new(status, reason).with(ctx.evidence(
            "mount_option",
            MOUNTS,
            expected,
            "not mounted",
            "",
        ));
    };
    let have: Vec<&str> = opts.split(',').collect();
    let missing: Vec<&str> = c.options.iter().map(|o| o.as_str()).filter(|o| !have.contains(o)).collect();
    let forbidden: Vec<&str> =
        c.absent_options.iter().map(|o| o.as_str()).filter(|o| have.contains(o)).collect();
    let ev = ctx.evidence(
        "mount_option",
        format!("{MOUNTS} ({mp})"),
        &expected,
        format!("{fstype} {opts}"),
        &line,
    );
    let mut problems = Vec::new();
    if !missing.is_empty() {
        problems.push(format!("missing {}", missing.join(",")));
    }
    if !forbidden.is_empty() {
        problems.push(format!("has {}", forbidden.join(",")));
    }
    Outcome::judge(
        problems.is_empty(),
        format!("{mp} is mounted with {opts}"),
        format!("{mp} is mounted with {opts}: {}", problems.join("; ")),
    )
    .with(ev)
}

#[cfg(test)]
mod tests {
    use super::super::Status;
    use super::*;
    use crate::testkit::Fixture;

    const M: &str = "proc /proc proc rw,nosuid,nodev,noexec 0 0\n\
        tmpfs /tmp tmpfs rw,nosuid,nodev 0 0\n\
        /dev/sdb1 /my\\040data ext4 rw,relatime 0 0\n\
        tmpfs /dev/shm tmpfs rw,nosuid,nodev,noexec 0 0\n\
        tmpfs /dev/shm tmpfs rw 0 0\n";

    #[test]
    fn options_present_missing_and_forbidden() {
        let f = Fixture::new().file(MOUNTS, 0o444, M);
        f.expect("mount_option: {mount_point: /tmp, options: [nodev, nosuid]}", Status::Pass);
        let out = f.expect("mount_option: {mount_point: /tmp, options: [noexec]}", Status::Fail);
        assert!(out.reason.contains("missing noexec"));
        f.expect("mount_option: {mount_point: /tmp, absent_options: [exec]}", Status::Pass);
        f.expect("mount_option: {mount_point: /my data, options: [relatime]}", Status::Pass);
    }

    #[test]
    fn top_mount_wins_and_unmounted_follows_missing() {
        let f = Fixture::new().file(MOUNTS, 0o444, M);
        f.expect("mount_option: {mount_point: /dev/shm, options: [nodev]}", Status::Fail);
        f.expect("mount_option: {mount_point: /home, options: [nodev]}", Status::NotApplicable);
        f.expect("mount_option: {mount_point: /var, missing: fail}", Status::Fail);
        f.expect("mount_option: {mount_point: /tmp, missing: fail}", Status::Pass);
        Fixture::new().expect("mount_option: {mount_point: /tmp, options: [nodev]}", Status::Error);
    }

    #[test]
    fn malformed_mount_lines_are_ignored() {
        let f = Fixture::new().file(MOUNTS, 0o444, "garbage\n/tmp\ntmpfs /tmp\n");
        f.expect("mount_option: {mount_point: /tmp, options: [nodev]}", Status::NotApplicable);
    }
}
