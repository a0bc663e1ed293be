//! Fixing one host over SSH, rule by rule: scan the selected rules, and for each failing one
//! capture the files its remediation touches, plan the change (the core's pure planner),
//! then either show it (dry run) or apply it as a journaled transaction, scan the rule
//! again, and keep the change only if the rule now passes; otherwise roll it back from the
//! journal. Rules are fixed one after another, each planned from a fresh capture, so two
//! rules editing one file compose instead of conflicting.
//!
//! File changes and the steps that are not file edits (services, packages, running kernel
//! values, ...) are applied in one transaction, actions after files; an action that fails
//! rolls the whole transaction back. `manual` steps are listed, never executed: such a rule
//! is reported as not applied, with the reason.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinSet;

use openwatch_collect::capture::{self, PathState};
use openwatch_collect::chain::chain;
use openwatch_collect::deadman;
use openwatch_collect::txn::{self, After, FileChange as TxnChange};
use openwatch_collect::{CollectError, LocalTransport, Scan, ScriptOutput, Transport};
use openwatch_core::eval::Status;
use openwatch_core::fix::{self, FileState, Plan, Risk};
use openwatch_core::plan::FactPlan;
use openwatch_core::report::{EvalOptions, HostError, ScanReport};
use openwatch_core::rule::Rule;
use openwatch_core::vars::{Overrides, bindings_for};
use openwatch_ssh::SshSession;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::runner::FleetJob;

#[derive(Debug, Clone)]
pub struct FixOptions {
    /// Plan and show, change nothing.
    pub dry_run: bool,
    /// The journal directory on the host.
    pub journal: String,
    pub walks: bool,
    /// Seconds a fresh connection has to confirm access after a change that can cut it,
    /// before the host's deadman rolls the change back.
    pub deadman_secs: u32,
    /// When set, only these fixes run, each only while its plan is still the one someone
    /// approved: (host name, rule id) → the approved plan's [`RuleFix::fingerprint`]. A host
    /// that changed since the preview gets no unreviewed change.
    pub approved: Option<BTreeMap<(String, String), String>>,
    /// Told of each failing rule as its fix starts, so a long run shows where it is.
    pub progress: Option<UnboundedSender<FixProgress>>,
}

/// A host's fix reaching its next failing rule.
#[derive(Debug, Clone)]
pub struct FixProgress {
    pub host: String,
    pub rule_id: String,
    /// Rules of this host worked on before this one.
    pub done: usize,
    /// The host's failing rules.
    pub total: usize,
}

impl FixOptions {
    /// Options that apply exactly the fixes a preview planned, and nothing else.
    pub fn approving(mut self, preview: &[HostFix]) -> FixOptions {
        self.approved = Some(
            preview
                .iter()
                .flat_map(|h| {
                    h.rules
                        .iter()
                        .filter(|r| matches!(r.outcome, Outcome::Planned))
                        .map(|r| ((h.host.clone(), r.rule_id.clone()), r.fingerprint.clone()))
                })
                .collect(),
        );
        self
    }
}

/// What happened to one failing rule.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// Dry run: what would change.
    Planned,
    /// Applied, and the rule passes now; the change is kept (and can be rolled back).
    Fixed { transaction_id: String },
    /// Applied, the rule still did not pass, and the change was rolled back.
    RolledBack { transaction_id: String, verdict: Status, reason: String },
    /// Not applied, with why (manual steps, steps not yet executable, a plan error).
    NotApplied { reason: String },
    /// Applying or rolling back failed; the message says what the host is left with.
    Failed { transaction_id: Option<String>, message: String },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RuleFix {
    pub rule_id: String,
    #[serde(flatten)]
    pub outcome: Outcome,
    /// Unified diffs of every file change.
    pub diff: String,
    /// Non-file steps, described, with what a rollback could restore.
    pub actions: Vec<String>,
    /// Steps for the operator; never executed.
    pub manual: Vec<String>,
    pub reboot_required: bool,
    /// The plan's risk tier (none when it could not be planned).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub risk: Option<Risk>,
    /// Whether the change runs (or ran) under the deadman.
    pub deadman: bool,
    /// SHA-256 of the plan as shown (diff and actions): what an approval refers to.
    pub fingerprint: String,
    /// What the change found before it, file by file: the record kept beside the host's
    /// journal (content as a hash: the bytes themselves stay on the host).
    pub pre_state: Vec<PreState>,
    /// What each step other than a file change found before it (a running kernel value, a
    /// unit's enabled and active state, a package's version), as captured into the journal.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub action_pre_state: Vec<ActionPre>,
}

/// One non-file step's state before a change.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ActionPre {
    /// The step, as [`RuleFix::actions`] describes it.
    pub action: String,
    /// Each captured value by name (`pre`, `side`, `enabled`, `active`); an empty `pre` of a
    /// package means it was not installed.
    pub captured: BTreeMap<String, String>,
}

impl ActionPre {
    fn from_report(plan: &Plan, states: &[txn::ActionPreState]) -> Vec<ActionPre> {
        plan.actions
            .iter()
            .enumerate()
            .filter_map(|(i, a)| {
                let captured: BTreeMap<String, String> = states
                    .iter()
                    .filter(|s| s.index == i)
                    .map(|s| (s.name.clone(), s.value.clone()))
                    .collect();
                (!captured.is_empty()).then(|| ActionPre { action: a.to_string(), captured })
            })
            .collect()
    }
}

/// One file's state before a change.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PreState {
    pub path: String,
    pub exists: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

impl PreState {
    fn of(path: &str, s: &PathState) -> PreState {
        let mut p = PreState {
            path: path.to_owned(),
            exists: !matches!(s, PathState::Absent),
            mode: None,
            owner: None,
            group: None,
            size: None,
            sha256: None,
        };
        if let PathState::Regular { mode, owner, group, content } = s {
            p.mode = Some(format!("{mode:04o}"));
            p.owner = Some(owner.clone());
            p.group = Some(group.clone());
            p.size = Some(content.len() as u64);
            p.sha256 = Some(hex::encode(Sha256::digest(content)));
        }
        p
    }
}

/// The fingerprint of a plan as shown: its diff and its actions.
fn fingerprint(diff: &str, actions: &[String]) -> String {
    let mut h = Sha256::new();
    h.update(diff.as_bytes());
    for a in actions {
        h.update(b"\0");
        h.update(a.as_bytes());
    }
    hex::encode(h.finalize())
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostFix {
    pub host: String,
    pub address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<HostError>,
    /// Transactions an earlier run left open (it died between applying and committing),
    /// found on arrival and rolled back.
    pub recovered: Vec<Recovered>,
    /// Rules that failed before the fix, in library order.
    pub rules: Vec<RuleFix>,
    pub round_trips: u32,
}

/// An open transaction found on the host and what became of it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Recovered {
    pub transaction_id: String,
    /// Its state when found: `applying`, `applied` or `rolling_back`.
    pub found: String,
    /// `rolled back`, or why it could not be.
    pub result: String,
}

fn host_error(kind: &str, message: String) -> HostError {
    HostError { kind: kind.into(), message }
}

/// Whether a plan runs under the deadman: it can cut access, over SSH (a local fix cannot
/// lock the scanner out).
fn under_deadman(plan: &Plan, target: FixTarget<'_>) -> bool {
    fix::cuts_access(plan) && matches!(target, FixTarget::Ssh(_))
}

/// A new transaction id: `ow-` and 16 random hex digits.
pub fn transaction_id() -> String {
    format!("ow-{}", &openwatch_collect::script::new_nonce()[..16])
}

fn file_state(path: &str, s: &PathState) -> Result<FileState, String> {
    match s {
        PathState::Absent => Ok(FileState::absent(path)),
        PathState::Regular { mode, owner, group, content } => {
            Ok(FileState::regular(path, content.clone(), *mode, owner, group))
        }
        PathState::Other { kind } if kind == "directory" => Ok(FileState::directory(path)),
        PathState::Other { .. } => Ok(FileState { exists: true, ..FileState::absent(path) }),
        PathState::TooLarge { size } => Err(format!("{path} is too large to rewrite safely ({size} bytes)")),
        PathState::Unreadable => Err(format!("{path} cannot be read by the scanning user")),
    }
}

/// Where a fix runs: a host over SSH, or this machine.
#[derive(Debug, Clone, Copy)]
pub enum FixTarget<'a> {
    Ssh(&'a FleetJob),
    Local { overrides: &'a Overrides },
}

impl FixTarget<'_> {
    fn name(&self) -> String {
        match self {
            FixTarget::Ssh(job) => job.host.target.name.clone(),
            FixTarget::Local { .. } => LocalTransport.host_name(),
        }
    }

    fn address(&self) -> String {
        match self {
            FixTarget::Ssh(job) => {
                format!("{}:{}", job.host.target.endpoint.host, job.host.target.endpoint.port)
            }
            FixTarget::Local { .. } => LocalTransport.address(),
        }
    }

    fn overrides(&self) -> &Overrides {
        match self {
            FixTarget::Ssh(job) => &job.overrides,
            FixTarget::Local { overrides } => overrides,
        }
    }

    async fn connect(&self) -> Result<Conn, HostError> {
        match self {
            FixTarget::Ssh(job) => SshSession::connect(&job.host.target)
                .await
                .map(|s| Conn::Ssh(Box::new(s)))
                .map_err(|e| host_error(e.kind.as_str(), e.to_string())),
            FixTarget::Local { .. } => Ok(Conn::Local),
        }
    }
}

/// A connection the fix's scripts run over.
enum Conn {
    Ssh(Box<SshSession>),
    Local,
}

impl Conn {
    async fn run(&mut self, script: &str) -> Result<ScriptOutput, HostError> {
        match self {
            Conn::Ssh(s) => {
                s.run_script(script).await.map_err(|e| host_error(e.kind.as_str(), e.to_string()))
            }
            // The local shell blocks; the runtime's other tasks go on meanwhile.
            Conn::Local => tokio::task::block_in_place(|| LocalTransport.run_script(script))
                .map_err(|e| host_error("local", e.to_string())),
        }
    }

    async fn close(self) {
        if let Conn::Ssh(s) = self {
            s.close().await;
        }
    }
}

struct Host<'a> {
    conn: Conn,
    target: FixTarget<'a>,
    opts: &'a FixOptions,
    round_trips: u32,
    /// The last rule's commit or rollback, decided but not yet sent: it rides along with the
    /// next script the host runs (or is sent alone at the end), saving a round trip per rule.
    pending: Option<Settle>,
    /// Each settled rule's final outcome, by its index in [`HostFix::rules`].
    settled: Vec<(usize, Outcome)>,
}

/// A transaction whose fate is decided: keep it (the rule passes), or undo it.
struct Settle {
    /// The rule's index in [`HostFix::rules`].
    index: usize,
    id: String,
    kind: SettleKind,
}

enum SettleKind {
    Commit,
    /// The rule still did not pass after the change.
    Rollback {
        verdict: Status,
        reason: String,
    },
    /// An action failed after the files changed.
    Undo {
        why: String,
    },
}

impl Settle {
    fn script(&self, journal: &str) -> Result<String, txn::TxnError> {
        match self.kind {
            SettleKind::Commit => txn::commit_script(journal, &self.id),
            SettleKind::Rollback { .. } | SettleKind::Undo { .. } => txn::rollback_script(journal, &self.id),
        }
    }

    /// The rule's outcome from what the host answered (`Err`: the script never ran there).
    fn outcome(self, answer: Result<ScriptOutput, String>) -> Outcome {
        let id = self.id;
        let done = answer.and_then(|out| settled_notes(&id, out));
        match (self.kind, done) {
            (SettleKind::Commit, Ok(_)) => Outcome::Fixed { transaction_id: id },
            (SettleKind::Commit, Err(e)) => Outcome::Failed {
                message: format!(
                    "the rule passed after the change, but keeping it failed ({e}); the next fix run finds the \
                     transaction open and rolls it back"
                ),
                transaction_id: Some(id),
            },
            (SettleKind::Rollback { verdict, reason }, Ok(notes)) => Outcome::RolledBack {
                transaction_id: id,
                verdict,
                reason: format!("{reason}{}", notes_text(&notes)),
            },
            (SettleKind::Rollback { verdict, .. }, Err(e)) => Outcome::Failed {
                transaction_id: Some(id),
                message: format!(
                    "the rule is still {} after the fix and rolling back failed: {e}",
                    verdict.as_str()
                ),
            },
            (SettleKind::Undo { why }, Ok(notes)) => Outcome::Failed {
                transaction_id: Some(id),
                message: format!("{why}; rolled back{}", notes_text(&notes)),
            },
            (SettleKind::Undo { why }, Err(e)) => Outcome::Failed {
                transaction_id: Some(id),
                message: format!("{why}; rolling back failed: {e}"),
            },
        }
    }
}

impl Host<'_> {
    async fn run(&mut self, script: &str) -> Result<ScriptOutput, HostError> {
        let mut outs = self.run_parts(&[script]).await?;
        Ok(outs.remove(0))
    }

    /// Run `parts` in one round trip (after the pending settle, if any), each answering as
    /// if it had run alone.
    async fn run_parts(&mut self, parts: &[&str]) -> Result<Vec<ScriptOutput>, HostError> {
        let (settle, settle_script) = match self.pending.take() {
            Some(settle) => match settle.script(&self.opts.journal) {
                Ok(script) => (Some(settle), Some(script)),
                Err(e) => {
                    self.settled.push((settle.index, settle.outcome(Err(e.to_string()))));
                    (None, None)
                }
            },
            None => (None, None),
        };
        let mut all: Vec<&str> = settle_script.iter().map(String::as_str).collect();
        all.extend_from_slice(parts);
        if all.is_empty() {
            return Ok(Vec::new());
        }
        self.round_trips += 1;
        let answered = if all.len() == 1 {
            self.conn.run(all[0]).await.map(|out| vec![out])
        } else {
            match chain(&all) {
                Ok(c) => match self.conn.run(&c.text).await {
                    Ok(out) => c.split(&out).map_err(|e| host_error("protocol", e.to_string())),
                    Err(e) => Err(e),
                },
                Err(e) => Err(host_error("internal", e.to_string())),
            }
        };
        match answered {
            Ok(mut outs) => {
                if let Some(settle) = settle {
                    let out = outs.remove(0);
                    self.settled.push((settle.index, settle.outcome(Ok(out))));
                }
                Ok(outs)
            }
            Err(e) => {
                if let Some(settle) = settle {
                    self.settled.push((settle.index, settle.outcome(Err(e.message.clone()))));
                }
                Err(e)
            }
        }
    }

    /// Send the pending settle, if any, on its own.
    async fn flush(&mut self) {
        if self.pending.is_some() {
            // Its outcome is recorded whatever the answer; a lost connection is the host's error.
            let _ = self.run_parts(&[]).await;
        }
    }

    /// Prove access still works after a change: a new connection (new handshake, new
    /// authentication) tells the host's deadman to stand down.
    async fn confirm_access(&mut self, journal: &str, id: &str) -> Result<(), String> {
        let FixTarget::Ssh(job) = self.target else { return Ok(()) };
        let mut fresh = SshSession::connect(&job.host.target).await.map_err(|e| e.to_string())?;
        self.round_trips += 1;
        let script = deadman::confirm_script(journal, id).map_err(|e| e.to_string());
        let out = match script {
            Ok(s) => fresh.run_script(&s).await.map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        fresh.close().await;
        txn::read_outcome(id, "the fix", out?).map_err(|e| format!("confirming access failed: {e}"))
    }

    /// Roll back every transaction a dead run left open, so the host is back to a state
    /// someone verified before anything new is planned.
    async fn recover(&mut self) -> Result<Vec<Recovered>, HostError> {
        let journal = self.opts.journal.clone();
        let list = openwatch_collect::recover::list_script(&journal)
            .map_err(|e| host_error("internal", e.to_string()))?;
        let out = self.run(&list).await?;
        let mut found = Vec::new();
        for (id, state) in openwatch_collect::recover::parse_open(&out.stdout) {
            let result = match self.rollback(&id).await {
                Ok(notes) => format!("rolled back{}", notes_text(&notes)),
                Err(e) => format!("not rolled back: {e}"),
            };
            found.push(Recovered { transaction_id: id, found: state, result });
        }
        Ok(found)
    }

    /// A scan of `rules` on this host, not yet collected.
    fn new_scan<'r>(&self, rules: &[&'r Rule]) -> Scan<'r> {
        let plan = FactPlan::for_rules(rules.iter().copied(), self.opts.walks);
        let eval = EvalOptions { overrides: self.target.overrides().clone(), walks_enabled: self.opts.walks };
        Scan::new(rules.iter().copied(), [Cow::Owned(plan)], eval)
    }

    fn collection_error(&self) -> impl Fn(CollectError) -> HostError + use<> {
        let name = self.target.name();
        move |e| host_error("collection", format!("{name}: {e}"))
    }

    async fn scan(&mut self, rules: &[&Rule]) -> Result<ScanReport, HostError> {
        let mut scan = self.new_scan(rules);
        self.finish_scan(&mut scan).await?;
        let name = self.target.name();
        Ok(scan.finish(name, self.target.address()).report)
    }

    /// Run the scripts `scan` still has to run.
    async fn finish_scan(&mut self, scan: &mut Scan<'_>) -> Result<(), HostError> {
        let (name, collection) = (self.target.name(), self.collection_error());
        while let Some(script) = scan.next_script().map_err(&collection)? {
            let script = script.to_owned();
            let out = self.run(&script).await?;
            scan.record(&name, &out).map_err(&collection)?;
        }
        Ok(())
    }

    async fn capture(&mut self, paths: &[String]) -> Result<BTreeMap<String, PathState>, String> {
        let nonce = openwatch_collect::script::new_nonce();
        let script = capture::script(paths, &nonce).map_err(|e| e.to_string())?;
        let out = self.run(&script).await.map_err(|e| e.message)?;
        capture::read(&self.target.name(), &out, &nonce, paths).map_err(|e| e.to_string())
    }

    /// Plan one rule from a fresh capture of what it touches.
    async fn plan(
        &mut self,
        rule: &Rule,
        report: &ScanReport,
    ) -> Result<(Plan, BTreeMap<String, PathState>), String> {
        let imp = rule
            .select_implementation(&report.host.capabilities)
            .ok_or("no implementation of the rule fits the host")?;
        let rem = imp.remediation.as_ref().ok_or("the rule has no remediation")?;
        let paths = fix::paths_to_capture(&rem.steps);
        let captured = if paths.is_empty() { BTreeMap::new() } else { self.capture(&paths).await? };
        let files = captured
            .iter()
            .map(|(p, s)| Ok((p.clone(), file_state(p, s)?)))
            .collect::<Result<BTreeMap<_, _>, String>>()?;
        let bindings = bindings_for(rule, self.target.overrides());
        let plan = fix::plan(rule, rem, &bindings, &files).map_err(|e| e.to_string())?;
        Ok((plan, captured))
    }

    async fn txn(
        &mut self,
        script: Result<String, txn::TxnError>,
        id: &str,
        when: &'static str,
    ) -> Result<(), String> {
        let out = self.run(&script.map_err(|e| e.to_string())?).await.map_err(|e| e.message)?;
        txn::read_outcome(id, when, out).map_err(|e| e.to_string())
    }

    /// Roll transaction `id` back; the notes say what could not be restored exactly.
    async fn rollback(&mut self, id: &str) -> Result<Vec<String>, String> {
        let script = txn::rollback_script(&self.opts.journal, id).map_err(|e| e.to_string())?;
        let out = self.run(&script).await.map_err(|e| e.message)?;
        settled_notes(id, out)
    }

    /// Apply one plan and verify the rule; whether to keep it or roll it back is decided
    /// here and sent with the next script (see [`Host::pending`]). The outcome returned is
    /// what that decision will give; the host's answer to it replaces it. Beside it, what the
    /// apply captured of its steps other than file changes.
    async fn apply(
        &mut self,
        index: usize,
        rule: &Rule,
        plan: &Plan,
        captured: &BTreeMap<String, PathState>,
    ) -> (Outcome, Vec<ActionPre>) {
        let changes: Vec<TxnChange> = plan
            .changes
            .iter()
            .map(|c| TxnChange {
                path: c.path.clone(),
                before: captured.get(&c.path).cloned().unwrap_or(PathState::Absent),
                after: if c.after_exists {
                    After::File {
                        content: c.after_content.clone(),
                        mode: c.after_mode,
                        owner: c.after_owner.clone(),
                        group: c.after_group.clone(),
                    }
                } else {
                    After::Absent
                },
            })
            .collect();
        let id = transaction_id();
        let journal = self.opts.journal.clone();
        // A change that can lock the scanner out runs under the deadman, armed first.
        let deadman = under_deadman(plan, self.target);
        if deadman {
            let arm = deadman::arm_script(&journal, &id, self.opts.deadman_secs);
            if let Err(why) = self.txn(arm, &id, "the fix").await {
                let message = format!("not applied: the deadman could not be armed: {why}");
                return (Outcome::Failed { transaction_id: None, message }, Vec::new());
            }
        }
        let script = match txn::apply_all_script(&journal, &id, &changes, &plan.actions) {
            Ok(s) => s,
            Err(e) => return (Outcome::NotApplied { reason: e.to_string() }, Vec::new()),
        };
        // The verifying scan rides with the apply, unless access must be confirmed in between
        // (a change under the deadman): its answer is used only if the apply succeeded.
        let mut scan = self.new_scan(&[rule]);
        let scan_script = match deadman {
            true => None,
            false => match scan.next_script() {
                Ok(s) => s.map(str::to_owned),
                Err(e) => return (Outcome::NotApplied { reason: e.to_string() }, Vec::new()),
            },
        };
        let parts: Vec<&str> = std::iter::once(script.as_str()).chain(scan_script.as_deref()).collect();
        let mut outs = match self.run_parts(&parts).await {
            Ok(outs) => outs.into_iter(),
            Err(e) => return (Outcome::Failed { transaction_id: Some(id), message: e.message }, Vec::new()),
        };
        let applied_out = outs.next().expect("the apply's answer");
        let action_pre = ActionPre::from_report(plan, &txn::action_pre_states(&applied_out));
        let verified = outs.next();
        let outcome = self.verify(index, id, deadman, scan, applied_out, verified).await;
        (outcome, action_pre)
    }

    /// Judge an apply from the host's answer and, when it went through, the verifying scan's
    /// (collected now when it could not ride along), and leave the commit or rollback pending.
    async fn verify(
        &mut self,
        index: usize,
        id: String,
        deadman: bool,
        mut scan: Scan<'_>,
        applied_out: ScriptOutput,
        verified: Option<ScriptOutput>,
    ) -> Outcome {
        let journal = self.opts.journal.clone();
        match txn::read_outcome(&id, "the fix was planned", applied_out) {
            Ok(()) => {}
            // An action failed after the files changed: undo everything it did.
            Err(txn::TxnError::ActionFailed(why)) => {
                return self.settle(index, id, SettleKind::Undo { why });
            }
            Err(e) => {
                return Outcome::Failed { transaction_id: Some(id), message: format!("not applied: {e}") };
            }
        }
        if deadman && let Err(why) = self.confirm_access(&journal, &id).await {
            return Outcome::Failed {
                transaction_id: Some(id),
                message: format!(
                    "a fresh connection failed after the change ({why}); the host's deadman rolls it back within {} s",
                    self.opts.deadman_secs
                ),
            };
        }
        let name = self.target.name();
        let collected = match verified {
            Some(out) => scan.record(&name, &out).map_err(self.collection_error()),
            None => Ok(()),
        };
        let verdict = match collected {
            Ok(()) => match self.finish_scan(&mut scan).await {
                Ok(()) => {
                    let report = scan.finish(name, self.target.address()).report;
                    report.results.into_iter().next().map(|r| (r.verdict, r.reason))
                }
                Err(e) => Some((Status::Error, e.message)),
            },
            Err(e) => Some((Status::Error, e.message)),
        };
        let (verdict, reason) = verdict.unwrap_or((Status::Error, "the rule was not evaluated".into()));
        if verdict == Status::Pass {
            self.settle(index, id, SettleKind::Commit)
        } else {
            self.settle(index, id, SettleKind::Rollback { verdict, reason })
        }
    }

    /// Leave the transaction's commit or rollback for the next script; the outcome it will
    /// give if the host carries it out.
    fn settle(&mut self, index: usize, id: String, kind: SettleKind) -> Outcome {
        let provisional = match &kind {
            SettleKind::Commit => Outcome::Fixed { transaction_id: id.clone() },
            SettleKind::Rollback { verdict, reason } => {
                Outcome::RolledBack { transaction_id: id.clone(), verdict: *verdict, reason: reason.clone() }
            }
            SettleKind::Undo { why } => {
                Outcome::Failed { transaction_id: Some(id.clone()), message: why.clone() }
            }
        };
        self.pending = Some(Settle { index, id, kind });
        provisional
    }
}

/// Fix the failing rules among `rules` on one host (or, with `dry_run`, show the fixes).
pub async fn fix_host(target: FixTarget<'_>, rules: &[Rule], opts: &FixOptions) -> HostFix {
    let mut out = HostFix {
        host: target.name(),
        address: target.address(),
        error: None,
        recovered: Vec::new(),
        rules: Vec::new(),
        round_trips: 0,
    };
    let conn = match target.connect().await {
        Ok(c) => c,
        Err(e) => {
            out.error = Some(e);
            return out;
        }
    };
    let mut host = Host { conn, target, opts, round_trips: 0, pending: None, settled: Vec::new() };
    match host.recover().await {
        Ok(r) => out.recovered = r,
        Err(e) => {
            out.error = Some(e);
            host.conn.close().await;
            out.round_trips = host.round_trips;
            return out;
        }
    }
    let all: Vec<&Rule> = rules.iter().collect();
    let report = match host.scan(&all).await {
        Ok(r) => r,
        Err(e) => {
            out.error = Some(e);
            host.conn.close().await;
            out.round_trips = host.round_trips;
            return out;
        }
    };
    let failing: Vec<&Rule> = rules
        .iter()
        .filter(|r| report.results.iter().any(|x| x.rule_id == r.id() && x.verdict == Status::Fail))
        .collect();
    let total = failing.len();
    for (done, rule) in failing.into_iter().enumerate() {
        if let Some(progress) = &opts.progress {
            // A caller that stopped listening only loses the display.
            let step = FixProgress { host: out.host.clone(), rule_id: rule.id().to_owned(), done, total };
            let _ = progress.send(step);
        }
        let key = (out.host.clone(), rule.id().to_owned());
        let approved = match &opts.approved {
            None => None,
            Some(map) => match map.get(&key) {
                Some(f) => Some(f.as_str()),
                // Not in the approved preview: nobody reviewed a change to this rule here.
                None => continue,
            },
        };
        let fixed = match host.plan(rule, &report).await {
            Err(reason) => RuleFix {
                rule_id: rule.id().to_owned(),
                outcome: Outcome::NotApplied { reason },
                diff: String::new(),
                actions: Vec::new(),
                manual: Vec::new(),
                reboot_required: false,
                risk: None,
                deadman: false,
                fingerprint: String::new(),
                pre_state: Vec::new(),
                action_pre_state: Vec::new(),
            },
            Ok((plan, captured)) => {
                let diff: String = plan.changes.iter().map(fix::unified_diff).collect();
                let actions: Vec<String> = plan.actions.iter().map(ToString::to_string).collect();
                let print = fingerprint(&diff, &actions);
                let not_applied = |reason: &str| (Outcome::NotApplied { reason: reason.into() }, Vec::new());
                let (outcome, action_pre_state) = if opts.dry_run {
                    (Outcome::Planned, Vec::new())
                } else if approved.is_some_and(|a| a != print) {
                    not_applied(
                        "the host changed since the fix was previewed and approved, so the change is no \
                         longer the one approved; request a new preview",
                    )
                } else if !plan.manual.is_empty() {
                    not_applied("the rule has manual steps; do them by hand")
                } else if plan.changes.is_empty() && plan.actions.is_empty() {
                    not_applied("the fix changes nothing on this host")
                } else {
                    host.apply(out.rules.len(), rule, &plan, &captured).await
                };
                RuleFix {
                    rule_id: rule.id().to_owned(),
                    outcome,
                    diff,
                    actions,
                    manual: plan.manual.clone(),
                    reboot_required: plan.reboot_required,
                    risk: Some(fix::risk(&plan)),
                    deadman: under_deadman(&plan, target),
                    fingerprint: print,
                    pre_state: plan
                        .changes
                        .iter()
                        .map(|c| PreState::of(&c.path, captured.get(&c.path).unwrap_or(&PathState::Absent)))
                        .collect(),
                    action_pre_state,
                }
            }
        };
        out.rules.push(fixed);
    }
    host.flush().await;
    for (index, outcome) in std::mem::take(&mut host.settled) {
        out.rules[index].outcome = outcome;
    }
    host.conn.close().await;
    out.round_trips = host.round_trips;
    out
}

/// Fix every job's host, at most `concurrency` at once; `on_done` sees each host as it
/// finishes (progress); the results are in job order.
pub async fn fix_fleet(
    jobs: Vec<FleetJob>,
    rules: Arc<[Rule]>,
    opts: FixOptions,
    concurrency: usize,
    mut on_done: impl FnMut(&HostFix),
) -> Vec<HostFix> {
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let opts = Arc::new(opts);
    let count = jobs.len();
    let mut set = JoinSet::new();
    for (i, job) in jobs.into_iter().enumerate() {
        let (permits, rules, opts) = (permits.clone(), rules.clone(), opts.clone());
        set.spawn(async move {
            let _permit = permits.acquire_owned().await.expect("the semaphore is never closed");
            (i, fix_host(FixTarget::Ssh(&job), &rules, &opts).await)
        });
    }
    let mut out: Vec<Option<HostFix>> = (0..count).map(|_| None).collect();
    while let Some(joined) = set.join_next().await {
        let (i, fixed) = joined.expect("a host's fix does not panic");
        on_done(&fixed);
        out[i] = Some(fixed);
    }
    out.into_iter().flatten().collect()
}

/// Roll transaction `id` back on one host; returns what could not be restored exactly.
pub async fn rollback_host(target: FixTarget<'_>, journal: &str, id: &str) -> Result<Vec<String>, String> {
    let conn = target.connect().await.map_err(|e| e.message)?;
    let opts = FixOptions {
        dry_run: false,
        journal: journal.to_owned(),
        walks: false,
        deadman_secs: 0,
        approved: None,
        progress: None,
    };
    let mut host = Host { conn, target, opts: &opts, round_trips: 0, pending: None, settled: Vec::new() };
    let result = host.rollback(id).await;
    host.conn.close().await;
    result
}

/// What the host said to a commit or rollback of transaction `id`: the rollback's notes (what
/// it could not restore exactly), or why it was not carried out.
fn settled_notes(id: &str, out: ScriptOutput) -> Result<Vec<String>, String> {
    let notes = txn::notes(&out);
    txn::read_outcome(id, "the fix", out).map_err(|e| e.to_string())?;
    Ok(notes)
}

/// Rollback notes appended to a message.
fn notes_text(notes: &[String]) -> String {
    notes.iter().map(|n| format!("; {n}")).collect()
}
