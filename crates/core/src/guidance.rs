//! Readable remediation: each typed remediation step as one sentence, and rule prose split at
//! its `code` spans. Kept here, free of markup, so the web page and the CLI's text output say
//! the same words, and no surface has to trust rule text as HTML.

use std::fmt;

use crate::capability::CapabilitySet;
use crate::rule::{Bindings, Mechanism, Param, Remediation, Rule, SpannedParam};
use crate::vars::{Overrides, bindings_for};

/// A piece of prose: plain text, or something to type or look for (a path, a value, a command).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Span {
    Text(String),
    Code(String),
}

/// A sentence made of text and code spans. `Display` writes code between backticks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sentence(pub Vec<Span>);

impl Sentence {
    fn text(mut self, s: &str) -> Self {
        self.0.push(Span::Text(s.to_owned()));
        self
    }

    fn code(mut self, s: impl Into<String>) -> Self {
        self.0.push(Span::Code(s.into()));
        self
    }
}

impl fmt::Display for Sentence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.0 {
            match s {
                Span::Text(t) => f.write_str(t)?,
                Span::Code(c) => write!(f, "`{c}`")?,
            }
        }
        Ok(())
    }
}

/// Rule prose (a description, a rationale, manual guidance) split at backticks: the text
/// between a pair is code. An unpaired backtick stays text.
pub fn spans(text: &str) -> Sentence {
    let mut out = Sentence::default();
    let mut rest = text;
    while let Some(open) = rest.find('`') {
        let Some(len) = rest[open + 1..].find('`') else { break };
        if open > 0 {
            out = out.text(&rest[..open]);
        }
        out = out.code(&rest[open + 1..open + 1 + len]);
        rest = &rest[open + 2 + len..];
    }
    if !rest.is_empty() {
        out = out.text(rest);
    }
    out
}

/// How to fix a rule on a host with these capabilities: the steps of the implementation the
/// scanner chose (the first implementation with steps when the capabilities are unknown),
/// with the rule's variables at their values.
pub fn remediation_steps(
    rule: &Rule,
    capabilities: Option<&CapabilitySet>,
    overrides: &Overrides,
) -> Vec<Sentence> {
    let chosen = capabilities.and_then(|caps| rule.select_implementation(caps));
    let fallback = || rule.raw.implementations.iter().map(|i| &i.value).find(|i| i.remediation.is_some());
    let Some(rem) = chosen.or_else(fallback).and_then(|i| i.remediation.as_ref()) else { return Vec::new() };
    steps(rem, &bindings_for(rule, overrides))
}

/// Every step of a remediation as a sentence, then the reboot it needs, if any.
pub fn steps(rem: &Remediation, bindings: &Bindings) -> Vec<Sentence> {
    let mut out: Vec<Sentence> = rem.steps.iter().map(|s| describe(s, bindings)).collect();
    if rem.reboot_required {
        out.push(Sentence::default().text("Reboot the host for the change to take effect."));
    }
    out
}

fn value(p: &SpannedParam, bindings: &Bindings) -> String {
    match &p.value {
        Param::Literal(v) => v.to_text(),
        Param::Var(name) => bindings.get(name).map_or_else(|| format!("<{name}>"), |v| v.to_text()),
    }
}

/// One step as a sentence, such as "Set `MaxAuthTries 4` in `/etc/ssh/sshd_config`."
pub fn describe(step: &Mechanism, bindings: &Bindings) -> Sentence {
    let s = Sentence::default();
    let setting = |key: &str, delimiter: &Option<String>, v: &SpannedParam| {
        format!("{key}{}{}", delimiter.as_deref().unwrap_or(" "), value(v, bindings))
    };
    match step {
        Mechanism::ConfigSet { path, key, value: v, delimiter } => s
            .text("Set ")
            .code(setting(key.as_str(), delimiter, v))
            .text(" in ")
            .code(path.as_str())
            .text(", replacing any other setting of it."),
        Mechanism::ConfigSetDropin { dir, file, key, value: v, delimiter } => s
            .text("Set ")
            .code(setting(key.as_str(), delimiter, v))
            .text(" in the drop-in file ")
            .code(format!("{}/{}", dir.as_str().trim_end_matches('/'), file.as_str()))
            .text("."),
        Mechanism::FilePermissions { path, mode, owner, group } => {
            let mut parts = Vec::new();
            if let Some(m) = mode {
                parts.push(("mode ", m.to_string()));
            }
            if let Some(o) = owner {
                parts.push(("owner ", o.as_str().to_owned()));
            }
            if let Some(g) = group {
                parts.push(("group ", g.as_str().to_owned()));
            }
            let mut s = s.text("Set ");
            for (i, (what, v)) in parts.into_iter().enumerate() {
                if i > 0 {
                    s = s.text(", ");
                }
                s = s.text(what).code(v);
            }
            s.text(" on ").code(path.as_str()).text(".")
        }
        Mechanism::FileContent { path, content, mode } => {
            let s = s.text("Write ").code(path.as_str());
            let s = match mode {
                Some(m) => s.text(" (mode ").code(m.to_string()).text(")"),
                None => s,
            };
            s.text(" with this content: ").code(value(content, bindings))
        }
        Mechanism::FileAbsent { path } => s.text("Remove ").code(path.as_str()).text("."),
        Mechanism::CommentOut { path, pattern } => s
            .text("Comment out the lines matching ")
            .code(pattern.source.as_str())
            .text(" in ")
            .code(path.as_str())
            .text("."),
        Mechanism::SysctlSet { key, value: v, persist_file } => s
            .text("Set the kernel parameter ")
            .code(format!("{} = {}", key.as_str(), value(v, bindings)))
            .text(" now and persist it in ")
            .code(persist_file.as_ref().map_or("/etc/sysctl.d/", |p| p.as_str()))
            .text("."),
        Mechanism::PackagePresent { name } => s.text("Install the package ").code(name.as_str()).text("."),
        Mechanism::PackageAbsent { name } => s.text("Remove the package ").code(name.as_str()).text("."),
        Mechanism::ServiceEnabled { name, start } => s
            .text("Enable the service ")
            .code(name.as_str())
            .text(if *start { " and start it." } else { "." }),
        Mechanism::ServiceDisabled { name, stop } => {
            s.text("Disable the service ").code(name.as_str()).text(if *stop { " and stop it." } else { "." })
        }
        Mechanism::ServiceMasked { name } => {
            s.text("Mask the service ").code(name.as_str()).text(" so nothing can start it.")
        }
        Mechanism::ServiceRestart { name } => s.text("Restart the service ").code(name.as_str()).text("."),
        Mechanism::KernelModuleDisable { name } => s
            .text("Keep the kernel module ")
            .code(name.as_str())
            .text(" from loading (")
            .code(format!("install {} /bin/false", name.as_str()))
            .text(" in ")
            .code("/etc/modprobe.d/")
            .text(") and unload it."),
        Mechanism::MountOptionSet { mount_point, options } => {
            let opts: Vec<&str> = options.iter().map(|o| o.as_str()).collect();
            s.text("Mount ")
                .code(mount_point.as_str())
                .text(" with the options ")
                .code(opts.join(","))
                .text(" (in ")
                .code("/etc/fstab")
                .text(").")
        }
        Mechanism::AuditRuleSet { rule, file } => {
            s.text("Add the audit rule ").code(rule.as_str()).text(" to ").code(file.as_str()).text(".")
        }
        Mechanism::GrubParameterSet { name, value: v } => {
            let param = match v {
                Some(v) => format!("{}={}", name.as_str(), value(v, bindings)),
                None => name.as_str().to_owned(),
            };
            s.text("Add ")
                .code(param)
                .text(" to the kernel command line (")
                .code("GRUB_CMDLINE_LINUX")
                .text(" in ")
                .code("/etc/default/grub")
                .text(") and regenerate the GRUB configuration.")
        }
        Mechanism::PamModuleArg { service, kind, module, arg, value: v } => {
            let arg = match v {
                Some(v) => format!("{}={}", arg.as_str(), value(v, bindings)),
                None => arg.as_str().to_owned(),
            };
            s.text("In ")
                .code(format!("/etc/pam.d/{}", service.as_str()))
                .text(", give the ")
                .code(kind.as_str())
                .text(" line of ")
                .code(module.as_str())
                .text(" the argument ")
                .code(arg)
                .text(".")
        }
        Mechanism::CommandExec { argv } => s.text("Run ").code(argv.join(" ")).text("."),
        Mechanism::Manual { guidance } => spans(guidance.as_str().trim()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::library::Library;

    fn rule(yaml: &str) -> Rule {
        let lib = Library::load([("t.yml", yaml)]);
        let errors: Vec<String> = lib.errors().map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{errors:?}");
        lib.rules.into_iter().next().unwrap()
    }

    const RULE: &str = "id: t\ntitle: T\ndescription: d\nrationale: r\nseverity: low\ncategory: ssh\n\
        platforms: [{family: debian}]\nvariables:\n  tries: {type: int, default: 4, description: d}\n\
        implementations:\n  - when: sshd\n    check: {file_exists: {path: /etc/a}}\n    remediation:\n      steps:\n\
        \x20       - config_set: {path: /etc/ssh/sshd_config, key: MaxAuthTries, value: {var: tries}}\n\
        \x20       - file_permissions: {path: /etc/shadow, mode: \"0600\", owner: root}\n\
        \x20       - manual: {guidance: \"Check with `sshd -T`.\"}\n      reboot_required: true\n\
        \x20 - default: true\n    check: {file_exists: {path: /etc/a}}\n    remediation:\n      steps:\n\
        \x20       - package_present: {name: openssh-server}\n";

    #[test]
    fn steps_read_as_sentences_with_variables_bound() {
        let r = rule(RULE);
        let caps: CapabilitySet = ["sshd".to_owned()].into();
        let text: Vec<String> = remediation_steps(&r, Some(&caps), &Overrides::default())
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            text,
            [
                "Set `MaxAuthTries 4` in `/etc/ssh/sshd_config`, replacing any other setting of it.",
                "Set mode `0600`, owner `root` on `/etc/shadow`.",
                "Check with `sshd -T`.",
                "Reboot the host for the change to take effect.",
            ]
        );
        let overrides: Overrides = [("tries".to_owned(), crate::rule::Value::Int(3))].into();
        assert!(remediation_steps(&r, Some(&caps), &overrides)[0].to_string().contains("`MaxAuthTries 3`"));
        // Another host's capabilities choose the other implementation.
        let other = remediation_steps(&r, Some(&CapabilitySet::new()), &Overrides::default());
        assert_eq!(other[0].to_string(), "Install the package `openssh-server`.");
        // Unknown capabilities: the first implementation with steps.
        assert_eq!(remediation_steps(&r, None, &Overrides::default()).len(), 4);
    }

    #[test]
    fn prose_splits_at_paired_backticks_only() {
        assert_eq!(
            spans("Run `sshd -T` then `x`.").0,
            [
                Span::Text("Run ".into()),
                Span::Code("sshd -T".into()),
                Span::Text(" then ".into()),
                Span::Code("x".into()),
                Span::Text(".".into())
            ]
        );
        assert_eq!(spans("a ` b").0, [Span::Text("a ` b".into())]);
        assert_eq!(spans("<b>`<i>`").0, [Span::Text("<b>".into()), Span::Code("<i>".into())]);
        assert_eq!(spans("").0, []);
    }
}
