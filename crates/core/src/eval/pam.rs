//! pam_module: a module line of one type in a PAM service, following `@include`, `include`
//! and `substack` the way libpam does.

use crate::facts::{FactKey, FileEntry};
use crate::rule::{Expect, PamModule};

use super::compare::{compare, describe};
use super::files::content_key;
use super::{Context, Outcome};

pub const PAM_D: &str = "/etc/pam.d/*";

pub fn needs(out: &mut Vec<FactKey>) {
    out.push(content_key(PAM_D));
}

/// One effective PAM line.
#[derive(Debug, Clone)]
struct PamLine {
    at: String,
    kind: String,
    control: String,
    module: String,
    args: Vec<String>,
    text: String,
}

fn tokens(line: &str) -> Vec<String> {
    // Bracketed controls such as `[success=1 default=ignore]` are one token.
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0;
    for ch in line.chars() {
        match ch {
            '[' => {
                depth += 1;
                cur.push(ch);
            }
            ']' => {
                depth -= 1;
                cur.push(ch);
            }
            c if c.is_whitespace() && depth == 0 => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn expand(
    files: &[FileEntry],
    service: &str,
    only: Option<&str>,
    depth: usize,
    out: &mut Vec<PamLine>,
) -> bool {
    let path = format!("/etc/pam.d/{service}");
    let Some(file) = files.iter().find(|f| f.path == path) else {
        return false;
    };
    if depth > 8 {
        return true;
    }
    for (i, raw) in file.content.as_deref().unwrap_or("").lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let t = tokens(line);
        if t[0] == "@include" {
            if let Some(inc) = t.get(1) {
                expand(files, inc, only, depth + 1, out);
            }
            continue;
        }
        if t.len() < 3 {
            continue;
        }
        let kind = t[0].trim_start_matches('-').to_owned();
        if only.is_some_and(|k| k != kind) {
            continue;
        }
        if t[1] == "include" || t[1] == "substack" {
            expand(files, &t[2], Some(&kind), depth + 1, out);
            continue;
        }
        let module = t[2].rsplit('/').next().unwrap_or(&t[2]).to_owned();
        out.push(PamLine {
            at: format!("{path}:{}", i + 1),
            kind,
            control: t[1].clone(),
            module,
            args: t[3..].to_vec(),
            text: line.to_owned(),
        });
    }
    true
}

pub fn evaluate(c: &PamModule, ctx: &Context<'_>) -> Outcome {
    let files = match ctx.facts.files(PAM_D, true) {
        Ok(f) => f,
        Err(e) => return Outcome::error(e),
    };
    let service = c.service.as_str();
    let mut lines = Vec::new();
    if !expand(files, service, None, 0, &mut lines) {
        return Outcome::fail(format!("/etc/pam.d/{service} does not exist")).with(ctx.evidence(
            "pam_module",
            format!("/etc/pam.d/{service}"),
            "exists",
            "absent",
            "",
        ));
    }
    let mut wanted = Vec::new();
    for a in &c.args {
        let value = match a.value.as_ref().map(|v| ctx.resolve(v)).transpose() {
            Ok(v) => v,
            Err(e) => return Outcome::error(e),
        };
        wanted.push((a.name.as_str(), a.comparator, value));
    }
    let kind = c.kind.as_str();
    let module = c.module.as_str();
    let arg_ok = |line: &PamLine, name: &str, cmp, value: &Option<crate::rule::Value>| {
        line.args.iter().any(|arg| match (arg.split_once('='), value) {
            (Some((k, v)), Some(want)) => k == name && compare(v, cmp, want, false).unwrap_or(false),
            (None, None) => arg == name,
            (Some((k, _)), None) => k == name,
            (None, Some(_)) => false,
        })
    };
    let candidates: Vec<&PamLine> = lines
        .iter()
        .filter(|l| {
            l.kind == kind && l.module == module && c.control.as_deref().is_none_or(|ctl| ctl == l.control)
        })
        .collect();
    let matching: Vec<&&PamLine> =
        candidates.iter().filter(|l| wanted.iter().all(|(n, cmp, v)| arg_ok(l, n, *cmp, v))).collect();
    let args_text: Vec<String> = wanted
        .iter()
        .map(|(n, cmp, v)| match v {
            Some(v) => format!("{n} {}", describe(*cmp, v)),
            None => (*n).to_owned(),
        })
        .collect();
    let what = if args_text.is_empty() {
        format!("{kind} {module}")
    } else {
        format!("{kind} {module} with {}", args_text.join(", "))
    };
    let observed = candidates.iter().map(|l| format!("{}: {}", l.at, l.text)).collect::<Vec<_>>().join("\n");
    let actual = match matching.first() {
        Some(l) => format!("{}: {}", l.at, l.text),
        None if candidates.is_empty() => format!("no {kind} {module} line"),
        None => format!("{kind} {module} without the required arguments"),
    };
    let (expected, ok) = match c.expect {
        Expect::Present => (what.clone(), !matching.is_empty()),
        Expect::Absent => (format!("no {what}"), matching.is_empty()),
    };
    let ev = ctx.evidence("pam_module", format!("/etc/pam.d/{service}"), &expected, &actual, &observed);
    Outcome::judge(
        ok,
        format!("{service}: {actual}"),
        format!("{service}: expected {expected}; found {actual}"),
    )
    .with(ev)
}

#[cfg(test)]
mod tests {
    use super::super::Status;
    use super::*;
    use crate::testkit::{Fixture, entry};

    fn debian() -> Fixture {
        Fixture::new().entries(
            PAM_D,
            vec![
                entry("/etc/pam.d/common-password", 0o644, Some(
                    "password\trequisite\t\t\tpam_pwquality.so retry=3 minlen=14\n\
                     password\t[success=1 default=ignore]\tpam_unix.so obscure use_authtok try_first_pass yescrypt remember=5\n",
                )),
                entry("/etc/pam.d/common-auth", 0o644, Some("auth [success=1 default=ignore] pam_unix.so nullok\nauth requisite pam_deny.so\n")),
                entry("/etc/pam.d/passwd", 0o644, Some("@include common-password\n")),
                entry("/etc/pam.d/system-auth", 0o644, Some("auth include common-auth\n-session optional pam_systemd.so\n")),
            ],
        )
    }

    #[test]
    fn module_and_arguments_through_includes() {
        let f = debian();
        f.expect("pam_module: {service: passwd, type: password, module: pam_pwquality.so}", Status::Pass);
        f.expect("pam_module: {service: passwd, type: password, module: pam_pwquality.so, args: [{name: retry, comparator: '<=', value: 3}]}", Status::Pass);
        f.expect("pam_module: {service: passwd, type: password, module: pam_pwquality.so, args: [{name: minlen, comparator: '>=', value: 15}]}", Status::Fail);
        f.expect(
            "pam_module: {service: passwd, type: password, module: pam_unix.so, args: [{name: yescrypt}]}",
            Status::Pass,
        );
        f.expect("pam_module: {service: passwd, type: password, module: pam_unix.so, control: '[success=1 default=ignore]'}", Status::Pass);
        f.expect("pam_module: {service: passwd, type: auth, module: pam_unix.so}", Status::Fail);
        f.expect("pam_module: {service: system-auth, type: auth, module: pam_unix.so, args: [{name: nullok}], expect: absent}", Status::Fail);
        f.expect("pam_module: {service: system-auth, type: session, module: pam_systemd.so}", Status::Pass);
        f.expect(
            "pam_module: {service: common-password, type: password, module: pam_faillock.so}",
            Status::Fail,
        );
    }

    #[test]
    fn missing_service_fails_and_uncollected_errors() {
        debian().expect("pam_module: {service: sshd, type: auth, module: pam_unix.so}", Status::Fail);
        Fixture::new().expect("pam_module: {service: sshd, type: auth, module: pam_unix.so}", Status::Error);
    }

    #[test]
    fn short_lines_and_include_loops_do_not_break_evaluation() {
        let f = Fixture::new().entries(
            PAM_D,
            vec![
                entry(
                    "/etc/pam.d/a",
                    0o644,
                    Some("auth\nauth required\n@include b\nauth required pam_unix.so\n"),
                ),
                entry("/etc/pam.d/b", 0o644, Some("@include a\n")),
            ],
        );
        f.expect("pam_module: {service: a, type: auth, module: pam_unix.so}", Status::Pass);
        f.expect("pam_module: {service: b, type: auth, module: pam_deny.so}", Status::Fail);
    }
}
