//! kernel_module: a module must not be loadable. It passes when the running kernel does not
//! ship it; otherwise it must be unloaded, have `install NAME /bin/false` (or /bin/true) and,
//! unless waived, a `blacklist NAME` line in modprobe configuration.

use crate::facts::{FactKey, FactValue, FileEntry};
use crate::rule::KernelModule;

use super::config::merge_dirs;
use super::files::content_key;
use super::{Context, Outcome};

/// modprobe.d directories, highest precedence first.
pub const DIRS: &[&str] = &[
    "/etc/modprobe.d/*.conf",
    "/run/modprobe.d/*.conf",
    "/usr/local/lib/modprobe.d/*.conf",
    "/usr/lib/modprobe.d/*.conf",
    "/lib/modprobe.d/*.conf",
];
pub const PROC_MODULES: &str = "/proc/modules";

pub fn needs(out: &mut Vec<FactKey>) {
    out.push(content_key(PROC_MODULES));
    out.extend(DIRS.iter().map(|d| content_key(d)));
    out.push(FactKey::ModuleIndex);
}

fn norm(name: &str) -> String {
    name.replace('-', "_")
}

/// Parsed output of the module index fact: `available NAME` / `builtin NAME` lines.
fn index(ctx: &Context<'_>) -> Option<(Vec<String>, Vec<String>)> {
    let Some(FactValue::Command(out)) = ctx.facts.get(&FactKey::ModuleIndex) else {
        return None;
    };
    if out.exit_code != 0 {
        return None;
    }
    let (mut available, mut builtin) = (Vec::new(), Vec::new());
    for line in out.stdout.lines() {
        match line.split_once(' ') {
            Some(("available", n)) => available.push(norm(n)),
            Some(("builtin", n)) => builtin.push(norm(n)),
            _ => {}
        }
    }
    Some((available, builtin))
}

pub fn evaluate(c: &KernelModule, ctx: &Context<'_>) -> Outcome {
    let name = norm(c.name.as_str());
    let loaded = match ctx.facts.file(PROC_MODULES) {
        Ok(Some(e)) => e
            .content
            .as_deref()
            .unwrap_or("")
            .lines()
            .any(|l| l.split_whitespace().next().is_some_and(|m| norm(m) == name)),
        Ok(None) => false,
        Err(e) => return Outcome::error(e),
    };
    let mut dirs: Vec<&[FileEntry]> = Vec::new();
    for d in DIRS {
        match ctx.facts.files(d, true) {
            Ok(e) => dirs.push(e),
            Err(e) => return Outcome::error(e),
        }
    }
    let files = merge_dirs(&dirs);
    let mut install: Option<(String, String)> = None;
    let mut blacklist: Option<String> = None;
    let mut observed = Vec::new();
    for f in &files {
        for (i, line) in f.content.as_deref().unwrap_or("").lines().enumerate() {
            let words: Vec<&str> = line.split_whitespace().collect();
            let at = format!("{}:{}", f.path, i + 1);
            match words.as_slice() {
                ["install", m, cmd @ ..] if norm(m) == name => {
                    observed.push(format!("{at}: {line}"));
                    if install.is_none() {
                        install = Some((cmd.join(" "), at));
                    }
                }
                ["blacklist", m] if norm(m) == name => {
                    observed.push(format!("{at}: {line}"));
                    blacklist.get_or_insert(at);
                }
                _ => {}
            }
        }
    }
    let disabled_cmd =
        |cmd: &str| matches!(cmd, "/bin/false" | "/bin/true" | "/usr/bin/false" | "/usr/bin/true");
    let install_ok = install.as_ref().is_some_and(|(cmd, _)| disabled_cmd(cmd));
    let blacklist_ok = blacklist.is_some() || !c.require_blacklist;
    let actual = format!(
        "loaded: {}, install: {}, blacklisted: {}",
        if loaded { "yes" } else { "no" },
        install.as_ref().map_or("none".to_owned(), |(cmd, at)| format!("{cmd} ({at})")),
        blacklist.as_deref().unwrap_or("no"),
    );
    let expected = "not loaded, install /bin/false, blacklisted";
    let ev =
        ctx.evidence("kernel_module", "/proc/modules, modprobe.d", expected, &actual, &observed.join("\n"));
    if let Some((available, builtin)) = index(ctx) {
        if builtin.contains(&name) {
            return Outcome::fail(format!("{name} is built into the kernel and cannot be disabled")).with(ev);
        }
        if !loaded && !available.contains(&name) {
            return Outcome::pass(format!("{name} is not available in the running kernel")).with(ev);
        }
    }
    let mut problems = Vec::new();
    if loaded {
        problems.push("is loaded");
    }
    if !install_ok {
        problems.push("has no `install ... /bin/false` line");
    }
    if !blacklist_ok {
        problems.push("is not blacklisted");
    }
    Outcome::judge(
        problems.is_empty(),
        format!("{name} is disabled: {actual}"),
        format!("{name} {}", problems.join(", ")),
    )
    .with(ev)
}

#[cfg(test)]
mod tests {
    use super::super::Status;
    use super::*;
    use crate::testkit::{Fixture, entry};

    fn base(modules: &str, conf: Option<&str>) -> Fixture {
        let f = Fixture::new().file(PROC_MODULES, 0o444, modules).absent(&DIRS[1..]);
        match conf {
            Some(c) => f.entries(DIRS[0], vec![entry("/etc/modprobe.d/cramfs.conf", 0o644, Some(c))]),
            None => f.absent(&[DIRS[0]]),
        }
    }

    #[test]
    fn disabled_needs_install_false_blacklist_and_not_loaded() {
        let cfg = "install cramfs /bin/false\nblacklist cramfs\n";
        let f = base("ext4 1 0 - Live 0x0\n", Some(cfg)).module_index(0, "available cramfs\n");
        f.expect("kernel_module: {name: cramfs}", Status::Pass);
        let loaded = base("cramfs 1 0 - Live 0x0\n", Some(cfg)).module_index(0, "available cramfs\n");
        loaded.expect("kernel_module: {name: cramfs}", Status::Fail);
        let no_bl = base("", Some("install cramfs /bin/true\n")).module_index(0, "available cramfs\n");
        no_bl.expect("kernel_module: {name: cramfs}", Status::Fail);
        no_bl.expect("kernel_module: {name: cramfs, require_blacklist: false}", Status::Pass);
        let nothing = base("", None).module_index(1, "");
        nothing.expect("kernel_module: {name: cramfs}", Status::Fail);
    }

    #[test]
    fn module_absent_from_kernel_passes_and_builtin_fails() {
        let f = base("", None).module_index(0, "available ext4\nbuiltin vfat\n");
        f.expect("kernel_module: {name: cramfs}", Status::Pass);
        f.expect("kernel_module: {name: vfat}", Status::Fail);
    }

    #[test]
    fn dash_and_underscore_are_the_same_module() {
        let f = base("", Some("install usb-storage /bin/false\nblacklist usb_storage\n")).module_index(1, "");
        f.expect("kernel_module: {name: usb_storage}", Status::Pass);
    }

    #[test]
    fn uncollected_is_an_error() {
        Fixture::new().expect("kernel_module: {name: cramfs}", Status::Error);
    }

    #[test]
    fn malformed_config_and_module_lists_are_ignored() {
        let f = base("garbage\n\n", Some("install\nblacklist\ninstall cramfs\nblacklist cramfs extra\n"))
            .module_index(0, "junk\navailable cramfs\n");
        f.expect("kernel_module: {name: cramfs}", Status::Fail);
    }
}
