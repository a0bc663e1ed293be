//! grub_parameter: a kernel command-line parameter in every boot entry (grub.cfg `linux`
//! lines, or BLS `options` lines), falling back to GRUB_CMDLINE_LINUX in /etc/default/grub.

use crate::facts::{FactKey, FileEntry};
use crate::rule::{Comparator, Expect, GrubParameter, Value};

use super::compare::compare;
use super::config::split_line;
use super::files::content_key;
use super::{Context, Outcome, Status};

pub const GRUB_CFGS: &[&str] = &["/boot/grub/grub.cfg", "/boot/grub2/grub.cfg"];
pub const BLS: &str = "/boot/loader/entries/*.conf";
pub const DEFAULT: &str = "/etc/default/grub";
pub const DEFAULT_D: &str = "/etc/default/grub.d/*.cfg";

pub fn needs(out: &mut Vec<FactKey>) {
    out.extend(GRUB_CFGS.iter().chain([&BLS, &DEFAULT, &DEFAULT_D]).map(|p| content_key(p)));
}

/// Kernel command lines with where they came from.
fn boot_lines(ctx: &Context<'_>) -> Result<Vec<(String, String)>, String> {
    let mut lines = Vec::new();
    for cfg in GRUB_CFGS {
        if let Some(f) = ctx.facts.file(cfg)? {
            for (i, l) in f.content.as_deref().unwrap_or("").lines().enumerate() {
                let t = l.trim_start();
                let word = t.split_whitespace().next().unwrap_or("");
                if matches!(word, "linux" | "linux16" | "linuxefi") {
                    lines.push((format!("{cfg}:{}", i + 1), t.to_owned()));
                }
            }
        }
    }
    for f in ctx.facts.files(BLS, true)? {
        for (i, l) in f.content.as_deref().unwrap_or("").lines().enumerate() {
            if let Some(opts) = l.trim_start().strip_prefix("options") {
                lines.push((format!("{}:{}", f.path, i + 1), opts.trim().to_owned()));
            }
        }
    }
    Ok(lines)
}

fn default_lines(ctx: &Context<'_>) -> Result<Vec<(String, String)>, String> {
    let mut files: Vec<&FileEntry> = ctx.facts.file(DEFAULT)?.into_iter().collect();
    files.extend(ctx.facts.files(DEFAULT_D, true)?);
    let mut out = Vec::new();
    let mut cmdline = String::new();
    let mut at = String::new();
    for f in files {
        for (i, l) in f.content.as_deref().unwrap_or("").lines().enumerate() {
            if let Some((k, v)) = split_line(l.trim(), Some("="))
                && (k == "GRUB_CMDLINE_LINUX" || k == "GRUB_CMDLINE_LINUX_DEFAULT")
            {
                cmdline.push(' ');
                cmdline.push_str(v);
                at = format!("{}:{}", f.path, i + 1);
            }
        }
    }
    if !at.is_empty() {
        out.push((at, cmdline.trim().to_owned()));
    }
    Ok(out)
}

pub fn evaluate(c: &GrubParameter, ctx: &Context<'_>) -> Outcome {
    let name = c.name.as_str();
    let value = match c.value.as_ref().map(|v| ctx.resolve(v)).transpose() {
        Ok(v) => v.map(|v| v.to_text()),
        Err(e) => return Outcome::error(e),
    };
    let wanted = match (&value, c.comparator) {
        (Some(v), Comparator::Eq) => format!("{name}={v}"),
        (Some(v), cmp) => format!("{name} {} {v}", cmp.as_str()),
        (None, _) => name.to_owned(),
    };
    let lines = match boot_lines(ctx).and_then(|b| if b.is_empty() { default_lines(ctx) } else { Ok(b) }) {
        Ok(l) => l,
        Err(e) => return Outcome::error(e),
    };
    let expected = match c.expect {
        Expect::Present => format!("{wanted} on every kernel command line"),
        Expect::Absent => format!("{wanted} on no kernel command line"),
    };
    if lines.is_empty() {
        return Outcome::new(c.missing.into(), "no GRUB or boot loader entry configuration found")
            .with(ctx.evidence("grub_parameter", GRUB_CFGS.join(", "), expected, "absent", ""));
    }
    let has = |line: &str| {
        line.split_whitespace().any(|w| match &value {
            Some(v) => w.split_once('=').is_some_and(|(k, x)| {
                k == name && compare(x, c.comparator, &Value::Str(v.clone()), false).unwrap_or(false)
            }),
            None => w == name || w.split_once('=').is_some_and(|(k, _)| k == name),
        })
    };
    let offending: Vec<&(String, String)> = lines
        .iter()
        .filter(|(_, l)| match c.expect {
            Expect::Present => !has(l),
            Expect::Absent => has(l),
        })
        .collect();
    let observed = lines.iter().map(|(at, l)| format!("{at}: {l}")).collect::<Vec<_>>().join("\n");
    let sources = lines.iter().map(|(at, _)| at.split(':').next().unwrap_or("")).collect::<Vec<_>>();
    let mut sources_dedup = sources.clone();
    sources_dedup.dedup();
    let actual = format!("{} of {} entries comply", lines.len() - offending.len(), lines.len());
    let ev = ctx.evidence("grub_parameter", sources_dedup.join(", "), &expected, &actual, &observed);
    if offending.is_empty() {
        Outcome::pass(format!("{expected}: {actual}")).with(ev)
    } else {
        let at: Vec<&str> = offending.iter().map(|(at, _)| at.as_str()).collect();
        Outcome {
            status: Status::Fail,
            reason: format!("expected {expected}; not so at {}", at.join(", ")),
            evidence: vec![ev],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Status;
    use super::*;
    use crate::testkit::Fixture;

    fn debian(cfg: &str) -> Fixture {
        Fixture::new().file(GRUB_CFGS[0], 0o400, cfg).absent(&[GRUB_CFGS[1], BLS, DEFAULT_D]).file(
            DEFAULT,
            0o644,
            "GRUB_CMDLINE_LINUX=\"\"\n",
        )
    }

    #[test]
    fn every_linux_line_needs_the_parameter() {
        let good = "menuentry 'Debian' {\n\tlinux /vmlinuz root=/dev/sda1 ro audit=1 apparmor=1\n}\n";
        let mixed = "linux /vmlinuz ro audit=1\nlinux /vmlinuz.old ro quiet\n";
        debian(good).expect("grub_parameter: {name: audit, value: '1'}", Status::Pass);
        debian(good).expect("grub_parameter: {name: audit, value: '0'}", Status::Fail);
        debian(mixed).expect("grub_parameter: {name: audit, value: '1'}", Status::Fail);
        debian(good).expect("grub_parameter: {name: audit_backlog_limit}", Status::Fail);
        debian(good).expect("grub_parameter: {name: selinux, value: '0', expect: absent}", Status::Pass);
    }

    #[test]
    fn default_grub_is_the_fallback_and_nothing_is_not_applicable() {
        let f = Fixture::new().absent(&[GRUB_CFGS[0], GRUB_CFGS[1], BLS, DEFAULT_D]).file(
            DEFAULT,
            0o644,
            "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\nGRUB_CMDLINE_LINUX=\"audit=1\"\n",
        );
        f.expect("grub_parameter: {name: audit, value: '1'}", Status::Pass);
        let none = Fixture::new().absent(&[GRUB_CFGS[0], GRUB_CFGS[1], BLS, DEFAULT, DEFAULT_D]);
        none.expect("grub_parameter: {name: audit, value: '1'}", Status::NotApplicable);
        none.expect("grub_parameter: {name: audit, value: '1', missing: fail}", Status::Fail);
        Fixture::new().expect("grub_parameter: {name: audit}", Status::Error);
    }

    #[test]
    fn malformed_boot_entries() {
        let f = debian("linux\n  linux   /vmlinuz audit\n linuxefi /vmlinuz audit=1=1\n");
        f.expect("grub_parameter: {name: audit, value: '1'}", Status::Fail);
        f.expect("grub_parameter: {name: audit}", Status::Fail);
    }

    #[test]
    fn numeric_comparison_of_parameter_values() {
        let f = debian("linux /vmlinuz ro audit=1 audit_backlog_limit=16384\n");
        f.expect("grub_parameter: {name: audit_backlog_limit, comparator: '>=', value: 8192}", Status::Pass);
        f.expect("grub_parameter: {name: audit_backlog_limit, comparator: '>=', value: 32768}", Status::Fail);
        debian("linux /vmlinuz ro audit_backlog_limit=lots\n").expect(
            "grub_parameter: {name: audit_backlog_limit, comparator: '>=', value: 8192}",
            Status::Fail,
        );
    }
}
