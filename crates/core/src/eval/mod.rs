//! Evaluation: rules x facts -> verdicts with evidence. Pure functions of their inputs.

pub mod accounts;
pub mod audit;
pub mod command;
pub mod compare;
pub mod config;
pub mod files;
pub mod grub;
pub mod kmod;
pub mod mount;
pub mod package;
pub mod pam;
pub mod redact;
pub mod search;
pub mod service;
pub mod set;
pub mod sshd;
pub mod sysctl;

use serde::{Deserialize, Serialize};

use crate::capability::CapabilitySet;
use crate::facts::{FactKey, FactSet};
use crate::rule::{Bindings, Check, HostPlatform, Param, SpannedParam, Value, WhenMissing};

/// Longest observed value kept in evidence; longer values are cut and flagged.
pub const OBSERVED_CAP: usize = 4096;

/// The verdict of one check or rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Fail,
    Error,
    NotApplicable,
    Skipped,
    /// A failure an active exception accepts (never the outcome of a check itself).
    Excepted,
}

impl Status {
    pub const ALL: [Status; 6] =
        [Status::Pass, Status::Fail, Status::Error, Status::NotApplicable, Status::Skipped, Status::Excepted];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Error => "error",
            Status::NotApplicable => "not_applicable",
            Status::Skipped => "skipped",
            Status::Excepted => "excepted",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl From<WhenMissing> for Status {
    fn from(w: WhenMissing) -> Status {
        match w {
            WhenMissing::Fail => Status::Fail,
            WhenMissing::Pass => Status::Pass,
            WhenMissing::NotApplicable => Status::NotApplicable,
        }
    }
}

/// What one check looked at and what it found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub method: String,
    /// The path, argv or fact the value came from.
    pub source: String,
    pub expected: String,
    pub actual: String,
    /// The raw observed text, capped at [`OBSERVED_CAP`] bytes; only its line count when the
    /// rule is sensitive or the file holds secrets ([`redact`]).
    pub observed: String,
    pub truncated: bool,
    /// Left out where evidence is stored once for many scans (the server's store).
    #[serde(default)]
    pub collected_at: String,
}

/// The result of evaluating one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: Status,
    pub reason: String,
    pub evidence: Vec<Evidence>,
}

impl Outcome {
    pub fn new(status: Status, reason: impl Into<String>) -> Outcome {
        Outcome { status, reason: reason.into(), evidence: Vec::new() }
    }
    pub fn pass(reason: impl Into<String>) -> Outcome {
        Outcome::new(Status::Pass, reason)
    }
    pub fn fail(reason: impl Into<String>) -> Outcome {
        Outcome::new(Status::Fail, reason)
    }
    pub fn error(reason: impl Into<String>) -> Outcome {
        Outcome::new(Status::Error, reason)
    }
    pub fn with(mut self, evidence: Evidence) -> Outcome {
        self.evidence.push(evidence);
        self
    }
    /// Pass or fail depending on `ok`, with the matching reason.
    pub fn judge(ok: bool, pass: impl Into<String>, fail: impl Into<String>) -> Outcome {
        if ok { Outcome::pass(pass) } else { Outcome::fail(fail) }
    }
}

/// Everything evaluation may read about the host.
#[derive(Debug)]
pub struct Context<'a> {
    pub facts: &'a FactSet,
    pub capabilities: &'a CapabilitySet,
    pub platform: &'a HostPlatform,
    /// Variable values for the rule being evaluated.
    pub bindings: &'a Bindings,
    /// Whether filesystem-wide walks were collected in this scan.
    pub walks_enabled: bool,
    /// The rule is marked `sensitive`: no text read from the host may reach evidence or reasons.
    pub sensitive: bool,
}

impl Context<'_> {
    /// Build evidence, capping the observed text (withheld when the rule is sensitive).
    pub fn evidence(
        &self,
        method: &str,
        source: impl Into<String>,
        expected: impl Into<String>,
        actual: impl Into<String>,
        observed: &str,
    ) -> Evidence {
        self.evidence_hiding(false, method, source, expected, actual, observed)
    }

    /// Build evidence whose observed text is withheld when `hide` or the rule is sensitive.
    pub fn evidence_hiding(
        &self,
        hide: bool,
        method: &str,
        source: impl Into<String>,
        expected: impl Into<String>,
        actual: impl Into<String>,
        observed: &str,
    ) -> Evidence {
        let (observed, truncated) = if hide || self.sensitive {
            (redact::withheld(observed), false)
        } else {
            cap(observed, OBSERVED_CAP)
        };
        Evidence {
            method: method.to_owned(),
            source: source.into(),
            expected: expected.into(),
            actual: actual.into(),
            observed,
            truncated,
            collected_at: self.facts.collected_at.clone(),
        }
    }

    /// The value of a parameter: the literal, or the bound variable.
    pub fn resolve(&self, param: &SpannedParam) -> Result<Value, String> {
        match &param.value {
            Param::Literal(v) => Ok(v.clone()),
            Param::Var(name) => {
                self.bindings.get(name).cloned().ok_or_else(|| format!("variable `{name}` has no value"))
            }
        }
    }

    /// Must text read from `path` stay out of evidence and reasons?
    pub fn hides(&self, path: &str) -> bool {
        self.sensitive || redact::holds_secrets(path)
    }

    pub fn has(&self, capability: &str) -> bool {
        self.capabilities.contains(capability)
    }
}

/// Cut `text` to at most `max` bytes on a character boundary.
pub fn cap(text: &str, max: usize) -> (String, bool) {
    if text.len() <= max {
        return (text.to_owned(), false);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (text[..end].to_owned(), true)
}

/// The facts a check needs, for planning the collection pass.
pub fn needs(check: &Check, out: &mut Vec<FactKey>) {
    match check {
        Check::All(cs) | Check::Any(cs) | Check::None(cs) => {
            cs.iter().for_each(|c| needs(c, out));
        }
        Check::FileExists(c) | Check::FileAbsent(c) => out.push(files::stat_key(c.path.as_str())),
        Check::FilePermissions(c) => out.push(files::stat_key(c.path.as_str())),
        Check::FileContent(c) => out.push(files::content_key(c.path.as_str())),
        Check::ConfigValue(c) => config::needs(c, out),
        Check::SshdConfig(_) => sshd::needs(out),
        Check::Sysctl(c) => sysctl::needs(c, out),
        Check::KernelModule(_) => kmod::needs(out),
        Check::MountOption(_) => mount::needs(out),
        Check::Package(_) => package::needs(out),
        Check::Service(c) => service::needs(c, out),
        Check::AuditRule(_) => audit::needs(out),
        Check::GrubParameter(_) => grub::needs(out),
        Check::PamModule(_) => pam::needs(out),
        Check::Accounts(c) => accounts::needs(c, out),
        Check::FilesystemSearch(_) => out.push(FactKey::FilesystemWalk),
        Check::SetCompare(c) => set::needs(c, out),
        Check::Command(c) => out.push(FactKey::Command { argv: c.argv.clone() }),
    }
}

/// Evaluate one check against the facts.
pub fn evaluate(check: &Check, ctx: &Context<'_>) -> Outcome {
    match check {
        Check::All(cs) => combine_all(cs.iter().map(|c| evaluate(c, ctx)).collect()),
        Check::Any(cs) => combine_any(cs.iter().map(|c| evaluate(c, ctx)).collect()),
        Check::None(cs) => combine_none(cs.iter().map(|c| evaluate(c, ctx)).collect()),
        Check::FileExists(c) => files::exists(c, ctx, true),
        Check::FileAbsent(c) => files::exists(c, ctx, false),
        Check::FilePermissions(c) => files::permissions(c, ctx),
        Check::FileContent(c) => files::content(c, ctx),
        Check::ConfigValue(c) => config::evaluate(c, ctx),
        Check::SshdConfig(c) => sshd::evaluate(c, ctx),
        Check::Sysctl(c) => sysctl::evaluate(c, ctx),
        Check::KernelModule(c) => kmod::evaluate(c, ctx),
        Check::MountOption(c) => mount::evaluate(c, ctx),
        Check::Package(c) => package::evaluate(c, ctx),
        Check::Service(c) => service::evaluate(c, ctx),
        Check::AuditRule(c) => audit::evaluate(c, ctx),
        Check::GrubParameter(c) => grub::evaluate(c, ctx),
        Check::PamModule(c) => pam::evaluate(c, ctx),
        Check::Accounts(c) => accounts::evaluate(c, ctx),
        Check::FilesystemSearch(c) => search::evaluate(c, ctx),
        Check::SetCompare(c) => set::evaluate(c, ctx),
        Check::Command(c) => command::evaluate(c, ctx),
    }
}

/// The picked outcomes as one: their reasons' clauses each said once, in order (two checks of
/// one setting in two places would otherwise repeat the same clause), and all evidence.
fn merge(outcomes: &[Outcome], status: Status, pick: impl Fn(&Outcome) -> bool) -> Outcome {
    let mut clauses: Vec<&str> = Vec::new();
    for clause in outcomes.iter().filter(|o| pick(o)).flat_map(|o| o.reason.split("; ")) {
        if !clause.is_empty() && !clauses.contains(&clause) {
            clauses.push(clause);
        }
    }
    Outcome {
        status,
        reason: clauses.join("; "),
        evidence: outcomes.iter().flat_map(|o| o.evidence.iter().cloned()).collect(),
    }
}

/// Fail if any fails; else error if any errs; not applicable only if all are; else pass.
fn combine_all(outcomes: Vec<Outcome>) -> Outcome {
    let has = |s: Status| outcomes.iter().any(|o| o.status == s);
    if has(Status::Fail) {
        merge(&outcomes, Status::Fail, |o| o.status == Status::Fail)
    } else if has(Status::Error) {
        merge(&outcomes, Status::Error, |o| o.status == Status::Error)
    } else if outcomes.iter().all(|o| o.status == Status::NotApplicable) {
        merge(&outcomes, Status::NotApplicable, |_| true)
    } else {
        merge(&outcomes, Status::Pass, |o| o.status == Status::Pass)
    }
}

/// Pass if any passes; else error if any errs; else fail (or not applicable if all are).
fn combine_any(outcomes: Vec<Outcome>) -> Outcome {
    let has = |s: Status| outcomes.iter().any(|o| o.status == s);
    if has(Status::Pass) {
        merge(&outcomes, Status::Pass, |o| o.status == Status::Pass)
    } else if has(Status::Error) {
        merge(&outcomes, Status::Error, |o| o.status == Status::Error)
    } else if outcomes.iter().all(|o| o.status == Status::NotApplicable) {
        merge(&outcomes, Status::NotApplicable, |_| true)
    } else {
        merge(&outcomes, Status::Fail, |o| o.status == Status::Fail)
    }
}

/// Pass if none passes (errors make it an error); fail naming those that passed.
fn combine_none(outcomes: Vec<Outcome>) -> Outcome {
    let has = |s: Status| outcomes.iter().any(|o| o.status == s);
    if has(Status::Pass) {
        let mut o = merge(&outcomes, Status::Fail, |o| o.status == Status::Pass);
        o.reason = format!("a condition that must not hold holds: {}", o.reason);
        o
    } else if has(Status::Error) {
        merge(&outcomes, Status::Error, |o| o.status == Status::Error)
    } else {
        let mut o = merge(&outcomes, Status::Pass, |_| true);
        o.reason = format!("none of the conditions holds: {}", o.reason);
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(status: Status) -> Outcome {
        Outcome::new(status, status.as_str())
    }

    #[test]
    fn all_fails_on_any_failure_and_errors_before_passing() {
        assert_eq!(combine_all(vec![o(Status::Pass), o(Status::Fail)]).status, Status::Fail);
        assert_eq!(combine_all(vec![o(Status::Pass), o(Status::Error)]).status, Status::Error);
        assert_eq!(combine_all(vec![o(Status::Fail), o(Status::Error)]).status, Status::Fail);
        assert_eq!(combine_all(vec![o(Status::Pass), o(Status::NotApplicable)]).status, Status::Pass);
        assert_eq!(combine_all(vec![o(Status::NotApplicable)]).status, Status::NotApplicable);
    }

    #[test]
    fn a_clause_two_checks_give_is_said_once() {
        let unset = || Outcome::new(Status::Fail, "INACTIVE is not set in /etc/default/useradd");
        let other = Outcome::new(Status::Fail, "umask is 022; INACTIVE is not set in /etc/default/useradd");
        let merged = combine_all(vec![unset(), unset(), other]);
        assert_eq!(merged.reason, "INACTIVE is not set in /etc/default/useradd; umask is 022");
    }

    #[test]
    fn any_passes_on_one_pass() {
        assert_eq!(combine_any(vec![o(Status::Fail), o(Status::Pass)]).status, Status::Pass);
        assert_eq!(combine_any(vec![o(Status::Fail), o(Status::Error)]).status, Status::Error);
        assert_eq!(combine_any(vec![o(Status::Fail), o(Status::Fail)]).status, Status::Fail);
    }

    #[test]
    fn none_fails_when_one_holds() {
        assert_eq!(combine_none(vec![o(Status::Fail), o(Status::Pass)]).status, Status::Fail);
        assert_eq!(combine_none(vec![o(Status::Fail), o(Status::Fail)]).status, Status::Pass);
        assert_eq!(combine_none(vec![o(Status::Fail), o(Status::Error)]).status, Status::Error);
    }

    #[test]
    fn cap_cuts_on_char_boundaries() {
        assert_eq!(cap("héllo", 2), ("h".to_owned(), true));
        assert_eq!(cap("abc", 3), ("abc".to_owned(), false));
    }
}
