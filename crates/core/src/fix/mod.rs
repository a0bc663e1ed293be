//! Remediation planning: what a rule's typed steps would do to one host, computed from the
//! captured pre-state of the files they touch. Pure, so a dry run, an approval and the real
//! run all show the same diff, and the host-side executor only writes what the plan says.
//! File edits follow the same key rules the checks read (`syntax.rs`), so a planned edit is
//! what the next scan reads as passing. No shell text here: actions are typed.

mod action;
mod diff;
mod fstab;
mod grub;
mod keyset;
mod lines;
mod pam;
mod risk;
mod steps;
mod syntax;
mod work;

use std::collections::BTreeMap;

use crate::rule::{Bindings, Mechanism, Remediation, Rule};

pub use action::{Action, Reversal};
pub use diff::unified_diff;
pub use risk::{Risk, cuts_access, risk};

/// A file as captured on the host before a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileState {
    pub path: String,
    pub exists: bool,
    pub content: Vec<u8>,
    /// Permission bits (`0o7777` at most); file type bits are ignored.
    pub mode: u32,
    pub owner: String,
    pub group: String,
    /// False for a directory, a device or a socket: the planner refuses to edit those.
    pub is_regular: bool,
    /// A directory: its mode and owner can be set (by an action), its content cannot.
    pub is_dir: bool,
}

impl FileState {
    /// A path that does not exist on the host.
    pub fn absent(path: impl Into<String>) -> FileState {
        FileState {
            path: path.into(),
            exists: false,
            content: Vec::new(),
            mode: 0,
            owner: String::new(),
            group: String::new(),
            is_regular: false,
            is_dir: false,
        }
    }

    /// A directory (its mode and owner are read on the host when they are changed).
    pub fn directory(path: impl Into<String>) -> FileState {
        FileState { exists: true, is_dir: true, ..FileState::absent(path) }
    }

    /// A regular file.
    pub fn regular(
        path: impl Into<String>,
        content: impl Into<Vec<u8>>,
        mode: u32,
        owner: &str,
        group: &str,
    ) -> FileState {
        FileState {
            path: path.into(),
            exists: true,
            content: content.into(),
            mode,
            owner: owner.to_owned(),
            group: group.to_owned(),
            is_regular: true,
            is_dir: false,
        }
    }
}

/// A file's state after the fix. `after_exists` false means the file is removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    pub path: String,
    pub before: FileState,
    pub after_exists: bool,
    pub after_content: Vec<u8>,
    pub after_mode: u32,
    pub after_owner: String,
    pub after_group: String,
}

impl FileChange {
    /// Nothing about the file changes (the host already complies).
    pub fn is_noop(&self) -> bool {
        let b = &self.before;
        match (b.exists, self.after_exists) {
            (false, false) => true,
            (true, true) => {
                b.content == self.after_content
                    && b.mode & 0o7777 == self.after_mode & 0o7777
                    && b.owner == self.after_owner
                    && b.group == self.after_group
            }
            _ => false,
        }
    }
}

/// What a remediation will do on one host for one rule. The executor applies `changes`
/// first, then `actions` in order; `manual` steps are shown, never executed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub rule_id: String,
    /// One entry per file touched, in the order the steps first touch them; steps that touch
    /// the same file are composed into its one final state.
    pub changes: Vec<FileChange>,
    pub actions: Vec<Action>,
    pub manual: Vec<String>,
    /// Things the reader should know, such as a file the fix creates and with which mode.
    pub notes: Vec<String>,
    pub reboot_required: bool,
}

impl Plan {
    /// Nothing to change and nothing to run: the host already complies as far as files go.
    pub fn is_noop(&self) -> bool {
        self.changes.iter().all(FileChange::is_noop) && self.actions.is_empty()
    }
}

/// Why a step cannot be planned. `step` names the mechanism, so a caller can group them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("{step}: {path} was not captured before planning (paths_to_capture names it)")]
    NotCaptured { step: &'static str, path: String },
    #[error("{step}: {path} exists but is not a regular file; refusing to edit it")]
    NotRegularFile { step: &'static str, path: String },
    #[error("{step}: {path} does not exist: {why}")]
    MissingFile { step: &'static str, path: String, why: String },
    #[error("{step}: the variable `{name}` has no value")]
    UnboundVariable { step: &'static str, name: String },
    #[error("{step}: {why}")]
    Unplannable { step: &'static str, why: String },
}

impl PlanError {
    /// The mechanism whose step failed.
    pub fn step(&self) -> &'static str {
        match self {
            PlanError::NotCaptured { step, .. }
            | PlanError::NotRegularFile { step, .. }
            | PlanError::MissingFile { step, .. }
            | PlanError::UnboundVariable { step, .. }
            | PlanError::Unplannable { step, .. } => step,
        }
    }
}

/// Paths whose pre-state must be captured before planning, in first-use order. Includes
/// files a step reads to stay correct, such as `/etc/sysctl.conf` (read after sysctl.d, so
/// a value there would override the fix) and `/etc/ssh/sshd_config` for sshd drop-ins.
pub fn paths_to_capture(steps: &[Mechanism]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for step in steps {
        for p in steps::paths(step) {
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out
}

/// Plan one rule's remediation from the captured files. `files` must hold every path
/// [`paths_to_capture`] names (an absent file as [`FileState::absent`]).
pub fn plan(
    rule: &Rule,
    remediation: &Remediation,
    bindings: &Bindings,
    files: &BTreeMap<String, FileState>,
) -> Result<Plan, PlanError> {
    let mut ctx = steps::Planner::new(rule, bindings, files);
    for step in &remediation.steps {
        ctx.step(step)?;
    }
    Ok(ctx.finish(rule.id(), remediation.reboot_required))
}

#[cfg(test)]
mod checks_pass;
#[cfg(test)]
mod tests;
