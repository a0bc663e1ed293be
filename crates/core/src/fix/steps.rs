//! Each typed mechanism as file edits and actions, applied in step order to one working set
//! of files.

use std::collections::BTreeMap;

use crate::rule::{Bindings, Mechanism, Param, Rule, SpannedParam};

use super::action::Action;
use super::fstab::{self, FSTAB};
use super::grub::{self, DEFAULT_GRUB};
use super::keyset::{Reach, set_key};
use super::lines::Lines;
use super::pam;
use super::syntax::{SSHD_DROPIN_DIR, SSHD_MAIN, SYSCTL_CONF, Syntax, glob_matches};
use super::work::Work;
use super::{FileState, Plan, PlanError};

/// Where sysctl_set persists a value when the step names no file.
pub const SYSCTL_DEFAULT_FILE: &str = "/etc/sysctl.d/60-openwatch.conf";
/// The administrator's sysctl drop-ins: any of them may set the same key after ours.
pub const SYSCTL_DROPINS: &str = "/etc/sysctl.d/*.conf";

fn join(dir: &str, file: &str) -> String {
    format!("{}/{file}", dir.trim_end_matches('/'))
}

fn modprobe_file(module: &str) -> String {
    format!("/etc/modprobe.d/openwatch-{module}.conf")
}

/// The files a step reads or writes.
pub(super) fn paths(step: &Mechanism) -> Vec<String> {
    match step {
        Mechanism::ConfigSet { path, .. }
        | Mechanism::FilePermissions { path, .. }
        | Mechanism::FileContent { path, .. }
        | Mechanism::FileAbsent { path } => vec![path.as_str().to_owned()],
        Mechanism::CommentOut { path, .. } => vec![path.as_str().to_owned()],
        Mechanism::ConfigSetDropin { dir, file, .. } => {
            let mut out = vec![join(dir.as_str(), file.as_str())];
            if dir.as_str().trim_end_matches('/') == SSHD_DROPIN_DIR {
                out.push(SSHD_MAIN.to_owned());
            }
            out
        }
        Mechanism::SysctlSet { persist_file, .. } => {
            let file = persist_file.as_ref().map_or(SYSCTL_DEFAULT_FILE, |p| p.as_str());
            vec![file.to_owned(), SYSCTL_CONF.to_owned(), SYSCTL_DROPINS.to_owned()]
        }
        Mechanism::KernelModuleDisable { name } => vec![modprobe_file(name.as_str())],
        Mechanism::MountOptionSet { .. } => vec![FSTAB.to_owned()],
        Mechanism::AuditRuleSet { file, .. } => vec![file.as_str().to_owned()],
        Mechanism::GrubParameterSet { .. } => vec![DEFAULT_GRUB.to_owned()],
        Mechanism::PamModuleArg { service, .. } => vec![format!("/etc/pam.d/{}", service.as_str())],
        Mechanism::PackagePresent { .. }
        | Mechanism::PackageAbsent { .. }
        | Mechanism::ServiceEnabled { .. }
        | Mechanism::ServiceDisabled { .. }
        | Mechanism::ServiceMasked { .. }
        | Mechanism::ServiceRestart { .. }
        | Mechanism::CommandExec { .. }
        | Mechanism::Manual { .. } => Vec::new(),
    }
}

#[derive(Debug)]
pub(super) struct Planner<'a> {
    rule: &'a Rule,
    bindings: &'a Bindings,
    work: Work<'a>,
    actions: Vec<Action>,
    manual: Vec<String>,
}

impl<'a> Planner<'a> {
    pub fn new(
        rule: &'a Rule,
        bindings: &'a Bindings,
        files: &'a BTreeMap<String, FileState>,
    ) -> Planner<'a> {
        Planner { rule, bindings, work: Work::new(files), actions: Vec::new(), manual: Vec::new() }
    }

    pub fn finish(self, rule_id: &str, reboot_required: bool) -> Plan {
        let (changes, notes) = self.work.finish();
        Plan {
            rule_id: rule_id.to_owned(),
            changes,
            actions: self.actions,
            manual: self.manual,
            notes,
            reboot_required,
        }
    }

    /// An action, once: two steps restarting the same service restart it once.
    fn act(&mut self, a: Action) {
        if !self.actions.contains(&a) {
            self.actions.push(a);
        }
    }

    /// One remount per mount point, with every option the steps ask for.
    fn remount(&mut self, mount_point: &str, options: &[&str]) {
        let mut wanted: Vec<String> = self
            .actions
            .iter()
            .find_map(|a| match a {
                Action::Remount { mount_point: mp, options } if mp == mount_point => Some(options.clone()),
                _ => None,
            })
            .unwrap_or_default();
        for o in options {
            if !wanted.iter().any(|w| w == o) {
                wanted.push((*o).to_owned());
            }
        }
        let merged = Action::Remount { mount_point: mount_point.to_owned(), options: wanted };
        let at = self
            .actions
            .iter()
            .position(|a| matches!(a, Action::Remount { mount_point: mp, .. } if mp == mount_point));
        match at {
            Some(i) => self.actions[i] = merged,
            None => self.actions.push(merged),
        }
    }

    fn value(&self, step: &'static str, p: &SpannedParam) -> Result<String, PlanError> {
        match &p.value {
            Param::Literal(v) => Ok(v.to_text()),
            Param::Var(name) => self
                .bindings
                .get(name)
                .map(|v| v.to_text())
                .ok_or_else(|| PlanError::UnboundVariable { step, name: name.clone() }),
        }
    }

    /// A value written into one line: a line break would smuggle in another setting.
    fn line_value(&self, step: &'static str, p: &SpannedParam) -> Result<String, PlanError> {
        let v = self.value(step, p)?;
        if v.contains(['\n', '\r']) {
            return Err(PlanError::Unplannable { step, why: format!("the value {v:?} spans several lines") });
        }
        Ok(v)
    }

    pub fn step(&mut self, step: &Mechanism) -> Result<(), PlanError> {
        let name = step.name();
        match step {
            Mechanism::ConfigSet { path, key, value, delimiter } => {
                let v = self.line_value(name, value)?;
                let line = format!("{key}{}{v}", delimiter.as_deref().unwrap_or(" "));
                let syntax = Syntax::for_path(self.rule, path.as_str(), delimiter.as_deref());
                self.work.edit_lines(name, path.as_str(), |doc| {
                    set_key(doc, &syntax, key.as_str(), &line, Reach::Upsert);
                })?;
            }
            Mechanism::ConfigSetDropin { dir, file, key, value, delimiter } => {
                let v = self.line_value(name, value)?;
                let line = format!("{key}{}{v}", delimiter.as_deref().unwrap_or(" "));
                let path = join(dir.as_str(), file.as_str());
                let sshd = dir.as_str().trim_end_matches('/') == SSHD_DROPIN_DIR;
                if sshd && !self.sshd_main_reads_dropins(name, key.as_str(), &line)? {
                    return Ok(());
                }
                let syntax = Syntax::for_path(self.rule, &path, delimiter.as_deref());
                self.work.edit_lines(name, &path, |doc| {
                    set_key(doc, &syntax, key.as_str(), &line, Reach::Upsert);
                })?;
            }
            Mechanism::FilePermissions { path, mode, owner, group } => {
                if self.work.is_dir(path.as_str()) {
                    self.act(Action::DirectoryPermissions {
                        path: path.as_str().to_owned(),
                        mode: mode.as_ref().map(|m| m.0),
                        owner: owner.as_ref().map(|o| o.as_str().to_owned()),
                        group: group.as_ref().map(|g| g.as_str().to_owned()),
                    });
                    return Ok(());
                }
                let a = self.work.get(name, path.as_str())?;
                if !a.exists {
                    return Err(PlanError::MissingFile {
                        step: name,
                        path: path.as_str().to_owned(),
                        why: "cannot set permissions of a missing file".to_owned(),
                    });
                }
                if let Some(m) = mode {
                    a.mode = m.0;
                }
                if let Some(o) = owner {
                    a.owner = o.as_str().to_owned();
                }
                if let Some(g) = group {
                    a.group = g.as_str().to_owned();
                }
            }
            Mechanism::FileContent { path, content, mode } => {
                let text = self.value(name, content)?;
                let a = self.work.create(name, path.as_str())?;
                a.content = text.into_bytes();
                if let Some(m) = mode {
                    a.mode = m.0;
                }
            }
            Mechanism::FileAbsent { path } => {
                let a = self.work.get(name, path.as_str())?;
                a.exists = false;
                a.content.clear();
            }
            Mechanism::CommentOut { path, pattern } => {
                let glob = path.as_str();
                for file in self.work.captured_matching(|p| glob_matches(glob.as_bytes(), p.as_bytes())) {
                    let (_, content) = self.work.peek(name, &file)?;
                    let mut doc = Lines::parse(&content);
                    let hits = comment_out(&mut doc, &pattern.regex);
                    if hits > 0 {
                        self.work.get(name, &file)?.content = doc.to_bytes();
                        let s = if hits == 1 { "" } else { "s" };
                        self.work.notes.push(format!("comments out {hits} line{s} in {file}"));
                    }
                }
            }
            Mechanism::SysctlSet { key, value, persist_file } => {
                let v = self.line_value(name, value)?;
                let file = persist_file.as_ref().map_or(SYSCTL_DEFAULT_FILE, |p| p.as_str());
                let line = format!("{key} = {v}");
                self.work.edit_lines(name, file, |doc| {
                    set_key(doc, &Syntax::sysctl(), key.as_str(), &line, Reach::Upsert);
                })?;
                // /etc/sysctl.conf is read after sysctl.d: a value there would win.
                if file != SYSCTL_CONF {
                    let (exists, content) = self.work.peek(name, SYSCTL_CONF)?;
                    let mut doc = Lines::parse(&content);
                    if exists
                        && set_key(
                            &mut doc,
                            &Syntax::sysctl(),
                            key.as_str(),
                            &line,
                            Reach::ReplaceBefore(usize::MAX),
                        )
                    {
                        self.work.get(name, SYSCTL_CONF)?.content = doc.to_bytes();
                        self.work
                            .notes
                            .push(format!("also sets {key} in {SYSCTL_CONF}, which is read after {file}"));
                    }
                }
                // Another drop-in in /etc/sysctl.d may set the key too (a later one would win
                // at boot): it gets the same value.
                for other in self.work.captured_matching(|p| {
                    p != file && p.starts_with("/etc/sysctl.d/") && p.ends_with(".conf")
                }) {
                    let (_, content) = self.work.peek(name, &other)?;
                    let mut doc = Lines::parse(&content);
                    if set_key(
                        &mut doc,
                        &Syntax::sysctl(),
                        key.as_str(),
                        &line,
                        Reach::ReplaceBefore(usize::MAX),
                    ) {
                        let bytes = doc.to_bytes();
                        if bytes != content {
                            self.work.get(name, &other)?.content = bytes;
                            self.work.notes.push(format!("also sets {key} in {other}, which sets it too"));
                        }
                    }
                }
                self.act(Action::SysctlRuntime { key: key.as_str().to_owned(), value: v });
            }
            Mechanism::PackagePresent { name: p } => {
                self.act(Action::PackageInstall { name: p.as_str().to_owned() })
            }
            Mechanism::PackageAbsent { name: p } => {
                self.act(Action::PackageRemove { name: p.as_str().to_owned() })
            }
            Mechanism::ServiceEnabled { name: u, start } => {
                self.act(Action::ServiceEnable { unit: u.as_str().to_owned(), start: *start })
            }
            Mechanism::ServiceDisabled { name: u, stop } => {
                self.act(Action::ServiceDisable { unit: u.as_str().to_owned(), stop: *stop })
            }
            Mechanism::ServiceMasked { name: u } => {
                self.act(Action::ServiceMask { unit: u.as_str().to_owned() })
            }
            Mechanism::ServiceRestart { name: u } => {
                self.act(Action::ServiceRestart { unit: u.as_str().to_owned() })
            }
            Mechanism::KernelModuleDisable { name: m } => {
                let m = m.as_str();
                let a = self.work.create(name, &modprobe_file(m))?;
                a.content = format!("install {m} /bin/false\nblacklist {m}\n").into_bytes();
                self.act(Action::ModuleUnload { name: m.to_owned() });
            }
            Mechanism::MountOptionSet { mount_point, options } => {
                let mp = mount_point.as_str();
                let opts: Vec<&str> = options.iter().map(|o| o.as_str()).collect();
                let why = "mount options are made permanent there";
                let entries =
                    self.work.edit_existing(name, FSTAB, why, |doc| fstab::add_options(doc, mp, &opts))?;
                if entries == 0 {
                    return Err(PlanError::Unplannable {
                        step: name,
                        why: format!(
                            "{mp} has no entry in {FSTAB} (not a separate file system, or mounted by a systemd unit)"
                        ),
                    });
                }
                self.remount(mp, &opts);
            }
            Mechanism::AuditRuleSet { rule, file } => {
                let rule = rule.trim();
                if rule.contains(['\n', '\r']) {
                    return Err(PlanError::Unplannable {
                        step: name,
                        why: "an audit rule is one line".to_owned(),
                    });
                }
                self.work.edit_lines(name, file.as_str(), |doc| {
                    if !doc.contains_trimmed(rule) {
                        doc.push(rule);
                    }
                })?;
                self.act(Action::AuditRulesLoad);
            }
            Mechanism::GrubParameterSet { name: param, value } => {
                let word = match value {
                    Some(v) => format!("{param}={}", self.value(name, v)?),
                    None => param.as_str().to_owned(),
                };
                grub::check_word(&word).map_err(|why| PlanError::Unplannable { step: name, why })?;
                let why = "the kernel command line for every boot entry is set there";
                self.work.edit_existing(name, DEFAULT_GRUB, why, |doc| {
                    grub::set_parameter(doc, param.as_str(), &word)
                })?;
                self.act(Action::BootParameter { parameter: word });
            }
            Mechanism::PamModuleArg { service, kind, module, arg, value } => {
                let word = match value {
                    Some(v) => format!("{arg}={}", self.value(name, v)?),
                    None => arg.as_str().to_owned(),
                };
                if word.contains(|c: char| c.is_whitespace() || c == '[' || c == ']') {
                    return Err(PlanError::Unplannable {
                        step: name,
                        why: format!("the PAM argument {word:?} is not one word"),
                    });
                }
                let path = format!("/etc/pam.d/{}", service.as_str());
                let (kind, module) = (kind.as_str(), module.as_str());
                let lines = self.work.edit_existing(name, &path, "the PAM service to edit", |doc| {
                    pam::set_arg(doc, kind, module, arg.as_str(), &word)
                })?;
                if lines == 0 {
                    return Err(PlanError::Unplannable {
                        step: name,
                        why: format!(
                            "{path} has no `{kind}` line calling {module} itself (it may come from an included file): add the module first"
                        ),
                    });
                }
            }
            Mechanism::CommandExec { argv } => self.act(Action::Command { argv: argv.clone() }),
            Mechanism::Manual { guidance } => self.manual.push(guidance.as_str().trim().to_owned()),
        }
        Ok(())
    }

    /// sshd reads a drop-in only through an `Include` in sshd_config, and keeps the first
    /// value it reads: a setting before the `Include` wins over any drop-in. So such settings
    /// get the new value too, and without an `Include` the setting goes into sshd_config
    /// itself. Returns whether the drop-in should be written.
    fn sshd_main_reads_dropins(
        &mut self,
        step: &'static str,
        key: &str,
        line: &str,
    ) -> Result<bool, PlanError> {
        let (exists, content) = self.work.peek(step, SSHD_MAIN)?;
        if !exists {
            return Ok(true);
        }
        let sshd = Syntax::sshd();
        let mut doc = Lines::parse(&content);
        let include = (0..doc.len()).find(|i| sshd.key_of(&doc.text(*i)).as_deref() == Some("include"));
        let Some(include) = include else {
            self.work.notes.push(format!(
                "{SSHD_MAIN} does not include {SSHD_DROPIN_DIR}: {key} is set in {SSHD_MAIN} itself"
            ));
            self.work.edit_lines(step, SSHD_MAIN, |doc| {
                set_key(doc, &sshd, key, line, Reach::Upsert);
            })?;
            return Ok(false);
        };
        if set_key(&mut doc, &sshd, key, line, Reach::ReplaceBefore(include)) {
            self.work.get(step, SSHD_MAIN)?.content = doc.to_bytes();
            self.work.notes.push(format!(
                "{SSHD_MAIN} sets {key} before its Include line, where it would win: set there too"
            ));
        }
        Ok(true)
    }
}

/// Put `# ` before each line `re` matches that is not a comment already; returns how many.
fn comment_out(doc: &mut Lines, re: &regex::Regex) -> usize {
    let mut hits = 0;
    for i in 0..doc.len() {
        let text = doc.text(i);
        if text.trim_start().starts_with('#') || !re.is_match(&text) {
            continue;
        }
        doc.prefix(i, b"# ");
        hits += 1;
    }
    hits
}
