//! sysctl: the running value (/proc/sys) and the persisted value (sysctl.d, with systemd's
//! precedence, then /etc/sysctl.conf) must both meet the expectation.

use crate::facts::{FactKey, FileEntry};
use crate::rule::KeyComparison;

use super::compare::{compare, describe};
use super::config::{merge_dirs, settings};
use super::files::content_key;
use super::{Context, Outcome, Status};

/// sysctl.d directories, highest precedence first.
pub const DIRS: &[&str] = &[
    "/etc/sysctl.d/*.conf",
    "/run/sysctl.d/*.conf",
    "/usr/local/lib/sysctl.d/*.conf",
    "/usr/lib/sysctl.d/*.conf",
    "/lib/sysctl.d/*.conf",
];
pub const SYSCTL_CONF: &str = "/etc/sysctl.conf";

pub fn proc_path(key: &str) -> String {
    format!("/proc/sys/{}", key.replace('.', "/"))
}

pub fn needs(c: &KeyComparison, out: &mut Vec<FactKey>) {
    out.push(content_key(&proc_path(c.key.as_str())));
    out.extend(DIRS.iter().map(|d| content_key(d)));
    out.push(content_key(SYSCTL_CONF));
}

fn normalize(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub fn evaluate(c: &KeyComparison, ctx: &Context<'_>) -> Outcome {
    let key = c.key.as_str();
    let expected = match ctx.resolve(&c.value) {
        Ok(v) => v,
        Err(e) => return Outcome::error(e),
    };
    let want = format!("{key} {}", describe(c.comparator, &expected));
    let proc = proc_path(key);
    let runtime = match ctx.facts.file(&proc) {
        Ok(Some(e)) => match &e.content {
            Some(v) => normalize(v),
            None => return Outcome::error(format!("{proc} could not be read")),
        },
        Ok(None) => {
            return Outcome::new(
                Status::NotApplicable,
                format!("kernel parameter {key} does not exist on this kernel"),
            );
        }
        Err(e) => return Outcome::error(e),
    };
    let mut dirs: Vec<&[FileEntry]> = Vec::new();
    for d in DIRS.iter().chain([&SYSCTL_CONF]) {
        match ctx.facts.files(d, true) {
            Ok(e) => dirs.push(e),
            Err(e) => return Outcome::error(e),
        }
    }
    let (conf, dropin_dirs) = dirs.split_last().expect("sysctl.conf is always planned");
    let mut files = merge_dirs(dropin_dirs);
    files.extend(conf.iter());
    let dotted = |k: &str| k.trim_start_matches('-').replace('/', ".");
    // `;` also starts a comment in sysctl.d; settings are read in order, the last one wins.
    let persisted = settings(&files, Some("="), "#")
        .into_iter()
        .rfind(|s| !s.key.starts_with(';') && dotted(&s.key) == key);
    let mut out = Outcome::pass("");
    out.evidence.push(ctx.evidence("sysctl", &proc, &want, &runtime, &runtime));
    let runtime_ok = match compare(&runtime, c.comparator, &expected, false) {
        Ok(ok) => ok,
        Err(e) => return Outcome::fail(format!("{key}: {e}")).with(out.evidence.remove(0)),
    };
    let (persist_ok, persist_text) = match &persisted {
        Some(s) => {
            out.evidence.push(ctx.evidence(
                "sysctl",
                s.location(),
                &want,
                normalize(&s.value),
                &format!("{} = {}", s.key, s.value),
            ));
            (
                compare(&normalize(&s.value), c.comparator, &expected, false).unwrap_or(false),
                format!("{} in {}", normalize(&s.value), s.location()),
            )
        }
        None => {
            out.evidence.push(ctx.evidence(
                "sysctl",
                "sysctl.d, /etc/sysctl.conf",
                &want,
                "not persisted",
                "",
            ));
            (false, "not persisted in any sysctl configuration file".to_owned())
        }
    };
    let shown = describe(c.comparator, &expected);
    out.reason = format!("{key}: running {runtime}, persisted {persist_text}");
    if !(runtime_ok && persist_ok) {
        out.status = Status::Fail;
        out.reason = format!("{}; expected both {shown}", out.reason);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::Status;
    use super::*;
    use crate::testkit::{Fixture, entry};

    fn base(runtime: &str) -> Fixture {
        Fixture::new()
            .file("/proc/sys/net/ipv4/ip_forward", 0o644, runtime)
            .absent(&DIRS[1..])
            .absent(&[SYSCTL_CONF])
    }

    #[test]
    fn runtime_and_persisted_must_agree() {
        let ok = base("0\n").entries(
            DIRS[0],
            vec![entry("/etc/sysctl.d/60-net.conf", 0o644, Some("net.ipv4.ip_forward = 0\n"))],
        );
        ok.expect("sysctl: {key: net.ipv4.ip_forward, value: 0}", Status::Pass);
        let not_persisted = base("0\n").absent(&[DIRS[0]]);
        let out = not_persisted.expect("sysctl: {key: net.ipv4.ip_forward, value: 0}", Status::Fail);
        assert!(out.reason.contains("not persisted"));
        let running_wrong = base("1\n").entries(
            DIRS[0],
            vec![entry("/etc/sysctl.d/60-net.conf", 0o644, Some("net.ipv4.ip_forward=0\n"))],
        );
        running_wrong.expect("sysctl: {key: net.ipv4.ip_forward, value: 0}", Status::Fail);
    }

    #[test]
    fn sysctl_conf_is_read_last_and_etc_hides_usr_lib() {
        let f = base("0\n")
            .entries(
                DIRS[0],
                vec![entry("/etc/sysctl.d/99-x.conf", 0o644, Some("net/ipv4/ip_forward = 0\n"))],
            )
            .entries(
                DIRS[3],
                vec![entry("/usr/lib/sysctl.d/99-x.conf", 0o644, Some("net.ipv4.ip_forward = 1\n"))],
            )
            .file(SYSCTL_CONF, 0o644, "net.ipv4.ip_forward = 1\n");
        let out = f.expect("sysctl: {key: net.ipv4.ip_forward, value: 0}", Status::Fail);
        assert!(out.reason.contains("/etc/sysctl.conf"), "{}", out.reason);
        let g = base("0\n")
            .entries(
                DIRS[0],
                vec![entry("/etc/sysctl.d/99-x.conf", 0o644, Some("net.ipv4.ip_forward = 0\n"))],
            )
            .entries(
                DIRS[3],
                vec![entry("/usr/lib/sysctl.d/99-x.conf", 0o644, Some("net.ipv4.ip_forward = 1\n"))],
            );
        g.expect("sysctl: {key: net.ipv4.ip_forward, value: 0}", Status::Pass);
    }

    #[test]
    fn unknown_key_is_not_applicable_and_uncollected_is_error() {
        let f = Fixture::new().absent(&["/proc/sys/net/ipv6/conf/all/forwarding"]);
        f.expect("sysctl: {key: net.ipv6.conf.all.forwarding, value: 0}", Status::NotApplicable);
        Fixture::new().expect("sysctl: {key: kernel.randomize_va_space, value: 2}", Status::Error);
    }

    #[test]
    fn multi_value_whitespace_is_normalized() {
        let f = Fixture::new()
            .file("/proc/sys/net/ipv4/ip_local_port_range", 0o644, "32768\t60999\n")
            .entries(
                DIRS[0],
                vec![entry(
                    "/etc/sysctl.d/a.conf",
                    0o644,
                    Some("net.ipv4.ip_local_port_range = 32768 60999\n"),
                )],
            )
            .absent(&DIRS[1..])
            .absent(&[SYSCTL_CONF]);
        f.expect("sysctl: {key: net.ipv4.ip_local_port_range, value: '32768 60999'}", Status::Pass);
    }

    #[test]
    fn malformed_values_and_lines() {
        let f = Fixture::new()
            .file("/proc/sys/kernel/randomize_va_space", 0o644, "two\n")
            .entries(
                DIRS[0],
                vec![entry(
                    "/etc/sysctl.d/a.conf",
                    0o644,
                    Some("kernel.randomize_va_space\n= 2\nkernel.randomize_va_space = 2\n"),
                )],
            )
            .absent(&DIRS[1..])
            .absent(&[SYSCTL_CONF]);
        let out =
            f.expect("sysctl: {key: kernel.randomize_va_space, comparator: '>=', value: 2}", Status::Fail);
        assert!(out.reason.contains("not an integer"), "{}", out.reason);
        f.expect("sysctl: {key: kernel.randomize_va_space, value: 2}", Status::Fail);
    }
}
