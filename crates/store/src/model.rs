//! The records the store keeps. Times are Unix milliseconds ([`Millis`]); the API layer
//! formats them.

use openwatch_core::eval::Status;
use openwatch_core::rule::Severity;
use serde::{Deserialize, Serialize};

pub use crate::kinds::*;
use serde_json::Value;

pub type Millis = i64;

/// A page of a list, with the total the filter matched.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

/// Which page of a list to read; `page` counts from 1.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    pub page: i64,
    pub per_page: i64,
}

impl PageRequest {
    pub const MAX_PER_PAGE: i64 = 500;

    pub fn new(page: Option<i64>, per_page: Option<i64>) -> Self {
        PageRequest {
            page: page.unwrap_or(1).max(1),
            per_page: per_page.unwrap_or(50).clamp(1, Self::MAX_PER_PAGE),
        }
    }

    pub fn offset(&self) -> i64 {
        (self.page - 1) * self.per_page
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub role: String,
    pub disabled: bool,
    pub created_at: Millis,
    #[serde(skip)]
    pub password_hash: String,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub password_hash: String,
    pub role: String,
}

/// A server-side session; the cookie carries the id, the store only its hash.
#[derive(Debug, Clone)]
pub struct Session {
    pub id_hash: String,
    pub user_id: i64,
    pub csrf_token: String,
    pub created_at: Millis,
    pub last_seen_at: Millis,
    pub expires_at: Millis,
    pub stage: SessionStage,
    pub method: SignInMethod,
    /// The identity provider of a single sign-on session.
    pub provider: Option<String>,
    /// When a second factor was last checked in this session.
    pub second_factor_at: Option<Millis>,
    /// The client address it signed in from.
    pub source: String,
}

/// An authenticator app (RFC 6238) of a user; the secret sealed for transit.
#[derive(Clone)]
pub struct TotpFactor {
    pub user_id: i64,
    pub sealed_secret: Vec<u8>,
    pub confirmed_at: Option<Millis>,
    pub last_step: i64,
    pub created_at: Millis,
}

impl std::fmt::Debug for TotpFactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpFactor").field("user_id", &self.user_id).finish_non_exhaustive()
    }
}

/// A WebAuthn credential: `passkey` is the relying party's serialized record of it (public
/// key, counter), nothing secret.
#[derive(Debug, Clone, Serialize)]
pub struct SecurityKey {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub credential_id: String,
    #[serde(skip)]
    pub passkey: String,
    pub created_at: Millis,
    pub last_used_at: Option<Millis>,
}

#[derive(Debug, Clone)]
pub struct NewSecurityKey {
    pub user_id: i64,
    pub name: String,
    pub credential_id: String,
    pub passkey: String,
}

/// A ceremony in flight, found by the hash of a value only its initiator holds.
#[derive(Debug, Clone)]
pub struct AuthChallenge {
    pub id_hash: String,
    pub kind: ChallengeKind,
    pub user_id: Option<i64>,
    pub state: String,
    pub expires_at: Millis,
}

/// A user's account at an identity provider.
#[derive(Debug, Clone, Serialize)]
pub struct SsoIdentity {
    pub provider: String,
    pub subject: String,
    pub user_id: i64,
    pub created_at: Millis,
    pub last_sign_in_at: Millis,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApiToken {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub role: String,
    pub created_at: Millis,
    pub expires_at: Option<Millis>,
    pub last_used_at: Option<Millis>,
    pub revoked: bool,
}

#[derive(Debug, Clone)]
pub struct NewToken {
    pub user_id: i64,
    pub name: String,
    pub role: String,
    pub token_hash: String,
    pub expires_at: Option<Millis>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CustomRole {
    pub name: String,
    pub description: String,
    pub permissions: Vec<String>,
}

/// A credential as everyone but the scanner sees it: never the secret.
#[derive(Debug, Clone, Serialize)]
pub struct Credential {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub username: Option<String>,
    pub has_sudo_password: bool,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// Sealed (encrypted) secret material; see [`crate::secrets`].
#[derive(Clone)]
pub struct SealedSecrets {
    pub secret: Vec<u8>,
    pub sudo_secret: Option<Vec<u8>>,
}

impl std::fmt::Debug for SealedSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealedSecrets(..)")
    }
}

#[derive(Debug, Clone)]
pub struct NewCredential {
    pub name: String,
    pub kind: String,
    pub username: Option<String>,
    pub sealed: SealedSecrets,
}

#[derive(Debug, Clone, Serialize)]
pub struct Group {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub host_count: i64,
    pub created_at: Millis,
}

#[derive(Debug, Clone, Serialize)]
pub struct Host {
    pub id: i64,
    pub name: String,
    pub address: String,
    pub port: i64,
    pub username: String,
    pub transport: Transport,
    pub credential_id: Option<i64>,
    pub sudo: bool,
    pub tags: Vec<String>,
    pub groups: Vec<String>,
    pub maintenance: bool,
    pub host_key_policy: HostKeyPolicy,
    pub platform: Option<String>,
    pub reachability: Reachability,
    pub last_error: Option<String>,
    pub last_scan_at: Option<Millis>,
    pub last_scan_status: Option<ScanStatus>,
    /// Rules failing on the host now; `None` until a scan has stored results.
    pub failing: Option<i64>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// What a caller may set on a host.
#[derive(Debug, Clone, Deserialize)]
pub struct HostInput {
    pub name: String,
    pub address: String,
    pub port: i64,
    pub username: String,
    pub transport: Transport,
    pub credential_id: Option<i64>,
    pub sudo: bool,
    pub tags: Vec<String>,
    pub groups: Vec<String>,
    pub maintenance: bool,
    pub host_key_policy: HostKeyPolicy,
}

#[derive(Debug, Clone, Default)]
pub struct HostQuery {
    pub search: Option<String>,
    pub group: Option<String>,
    pub platform: Option<String>,
    pub tag: Option<String>,
    pub reachability: Option<String>,
    /// Compliance band by worst failing severity: `critical`, `high`, `medium`, `low`,
    /// `compliant` (nothing failing) or `unscanned`.
    pub band: Option<String>,
    /// `name` (default), `-name`, `last_scan_at`, `-last_scan_at`, `failures`, `-failures`.
    pub sort: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HostKey {
    pub id: i64,
    pub host_id: i64,
    pub algorithm: String,
    pub fingerprint: String,
    pub public_key: String,
    pub status: HostKeyStatus,
    pub first_seen_at: Millis,
    pub decided_at: Option<Millis>,
    pub decided_by: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ObservedHostKey {
    pub algorithm: String,
    pub fingerprint: String,
    pub public_key: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Scan {
    pub id: i64,
    pub host_id: i64,
    pub host_name: String,
    pub status: ScanStatus,
    pub trigger: String,
    pub triggered_by: Option<String>,
    pub queued_at: Millis,
    pub started_at: Option<Millis>,
    pub finished_at: Option<Millis>,
    pub error_kind: Option<String>,
    pub error_message: Option<String>,
    pub stats: Option<Value>,
    pub summary: Option<Value>,
}

#[derive(Debug, Clone, Default)]
pub struct ScanQuery {
    pub host_id: Option<i64>,
    pub status: Option<String>,
}

/// How a scan came to be queued.
#[derive(Debug, Clone)]
pub struct ScanRequest {
    pub host_id: i64,
    pub trigger: String,
    pub triggered_by: Option<String>,
    pub max_attempts: i64,
}

/// One rule's result as ingested: evidence as its JSON text (stored once per distinct text).
#[derive(Debug, Clone)]
pub struct ResultInput {
    pub rule_id: String,
    pub verdict: Status,
    pub severity: Severity,
    pub reason: String,
    pub evidence: Option<String>,
    /// The exception that made a failure `excepted`.
    pub exception_id: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StoredResult {
    pub rule_id: String,
    pub verdict: Status,
    pub severity: Severity,
    pub reason: String,
    pub evidence_hash: Option<String>,
    pub exception_id: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct ResultQuery {
    pub verdict: Option<Status>,
    pub severity: Option<Severity>,
    /// Restrict to these rule ids (the API resolves framework/control filters to rule ids).
    pub rule_ids: Option<Vec<String>>,
}

/// One framework's counts on one host.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Posture {
    pub framework: String,
    pub pass: i64,
    pub fail: i64,
    pub error: i64,
    pub not_applicable: i64,
    /// Failures an exception accepts (a pass "with exceptions", a failure without).
    #[serde(default)]
    pub excepted: i64,
}

/// A successful scan's outcome, stored with the job's completion in one transaction.
#[derive(Debug, Clone)]
pub struct ScanOutcome {
    pub scan_id: i64,
    pub host_id: i64,
    pub finished_at: Millis,
    pub platform: Option<String>,
    pub stats: Value,
    pub summary: Value,
    pub results: Vec<ResultInput>,
    pub posture: Vec<Posture>,
}

/// A scan that could not complete.
#[derive(Debug, Clone)]
pub struct ScanFailure {
    pub scan_id: i64,
    pub host_id: i64,
    pub finished_at: Millis,
    pub kind: String,
    pub message: String,
    /// The host's reachability this failure implies.
    pub reachability: Reachability,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct IngestStats {
    pub results: usize,
    pub changes: usize,
    pub new_evidence: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct RuleState {
    pub rule_id: String,
    pub verdict: Status,
    pub severity: Severity,
    pub scan_id: i64,
    pub evidence_hash: Option<String>,
    pub since_at: Millis,
    /// The exception that makes this failure `excepted`.
    pub exception_id: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub id: i64,
    pub host_id: i64,
    pub host_name: String,
    pub rule_id: String,
    pub scan_id: i64,
    pub old_verdict: Option<Status>,
    pub new_verdict: Status,
    pub old_severity: Option<Severity>,
    pub new_severity: Severity,
    pub changed_at: Millis,
    /// The evidence before and after (value-level drift), by hash.
    pub old_evidence_hash: Option<String>,
    pub new_evidence_hash: Option<String>,
}

/// Filters over the current rule state across hosts: the rule and control pages and the
/// fleet-wide exports.
#[derive(Debug, Clone, Default)]
pub struct FleetStateQuery {
    pub rule_ids: Option<Vec<String>>,
    pub host_id: Option<i64>,
    pub group_id: Option<i64>,
    /// Only hosts this framework applies to (those with posture rows for it).
    pub framework: Option<String>,
    pub verdict: Option<Status>,
    pub severity: Option<Severity>,
    /// Host names containing this text, matched literally and without case.
    pub host_search: Option<String>,
    pub limit: i64,
}

/// One host's current verdict on one rule, with the reason of the scan that decided it.
#[derive(Debug, Clone, Serialize)]
pub struct HostRuleRow {
    pub host_id: i64,
    pub host_name: String,
    pub rule_id: String,
    pub verdict: Status,
    pub severity: Severity,
    pub since_at: Millis,
    pub scan_id: i64,
    pub reason: String,
    pub evidence_hash: Option<String>,
    pub exception_id: Option<i64>,
}

/// A host's first successful scan: its baseline, shown once instead of a change per rule.
#[derive(Debug, Clone, Serialize)]
pub struct FirstScan {
    pub host_id: i64,
    pub host_name: String,
    pub scan_id: i64,
    pub at: Millis,
}

#[derive(Debug, Clone, Serialize)]
pub struct PosturePoint {
    pub at: Millis,
    pub scan_id: i64,
    #[serde(flatten)]
    pub posture: Posture,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct SeverityCounts {
    pub critical: i64,
    pub high: i64,
    pub medium: i64,
    pub low: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct FrameworkSummary {
    pub framework: String,
    pub hosts: i64,
    pub pass: i64,
    pub fail: i64,
    pub error: i64,
    pub not_applicable: i64,
    pub excepted: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Ranked {
    pub id: String,
    pub name: String,
    pub failing: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TrendPoint {
    pub day: i64,
    pub framework: String,
    pub hosts: i64,
    pub pass: i64,
    pub fail: i64,
    /// Failures accepted by an exception: a pass "with exceptions", a failure without.
    pub excepted: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct FleetSummary {
    pub hosts: i64,
    pub scanned_hosts: i64,
    pub frameworks: Vec<FrameworkSummary>,
    pub failing_by_severity: SeverityCounts,
    pub top_failing_rules: Vec<Ranked>,
    pub top_failing_hosts: Vec<Ranked>,
    pub needs_attention: Vec<Ranked>,
    pub trend: Vec<TrendPoint>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub payload: Value,
    pub host_id: Option<i64>,
    pub scan_id: Option<i64>,
    pub attempts: i64,
    pub max_attempts: i64,
    pub locked_by: Option<String>,
    pub lease_until: Option<Millis>,
}

#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: String,
    pub payload: Value,
    pub host_id: Option<i64>,
    pub scan_id: Option<i64>,
    pub max_attempts: i64,
    pub run_after: Millis,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct QueueDepth {
    pub queued: i64,
    pub running: i64,
    pub failed: i64,
    pub done: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Schedule {
    pub id: i64,
    /// `host` or `group`.
    pub target_kind: String,
    pub target_id: i64,
    pub interval_secs: Option<i64>,
    pub cron: Option<String>,
    pub enabled: bool,
    pub next_fire_at: Millis,
}

#[derive(Debug, Clone, Deserialize)]
pub struct NewSchedule {
    pub target_kind: String,
    pub target_id: i64,
    pub interval_secs: Option<i64>,
    pub cron: Option<String>,
    pub next_fire_at: Millis,
}

/// A host the adaptive scheduler considers: when it was last scanned and how bad it is.
#[derive(Debug, Clone)]
pub struct AdaptiveCandidate {
    pub host_id: i64,
    pub last_scan_at: Option<Millis>,
    pub failing: SeverityCounts,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuditEvent {
    pub seq: i64,
    pub at: Millis,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
    pub source: String,
    pub correlation_id: String,
    pub details: Value,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Debug, Clone)]
pub struct NewAuditEvent {
    pub at: Millis,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
    pub source: String,
    pub correlation_id: String,
    pub details: Value,
}

#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub since: Option<Millis>,
    pub until: Option<Millis>,
}

/// Where an audit chain first breaks.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AuditBreak {
    pub seq: i64,
    pub problem: String,
}

/// What verifying the audit log found.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AuditVerification {
    /// Events checked.
    pub events: i64,
    /// Events in the pre-key segment (written before the audit key existed), checked with
    /// plain SHA-256 and pinned by the first keyed event.
    pub unkeyed_events: i64,
    /// The first break, if any.
    pub broken: Option<AuditBreak>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StreamEvent {
    pub id: i64,
    pub at: Millis,
    pub kind: String,
    pub data: Value,
}

/// A synthetic change-log row, for [`crate::Store::seed_history`].
#[derive(Debug, Clone)]
pub struct SeedChange {
    pub host_id: i64,
    pub rule_id: String,
    pub old_verdict: Status,
    pub new_verdict: Status,
    pub severity: Severity,
    pub changed_at: Millis,
}

/// Bulk history for benchmarks and demonstrations: posture points, change-log rows and
/// fleet trend days, written as they would have been over past scans.
#[derive(Debug, Clone, Default)]
pub struct SeedHistory {
    pub posture: Vec<(i64, Millis, Posture)>,
    pub changes: Vec<SeedChange>,
    pub trend: Vec<TrendPoint>,
}

/// What a tailoring belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "scope", content = "id", rename_all = "snake_case")]
pub enum TailoringScope {
    Group(i64),
    Host(i64),
}

impl TailoringScope {
    pub fn kind(&self) -> &'static str {
        match self {
            TailoringScope::Group(_) => "group",
            TailoringScope::Host(_) => "host",
        }
    }

    pub fn id(&self) -> i64 {
        match self {
            TailoringScope::Group(id) | TailoringScope::Host(id) => *id,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct StoredTailoring {
    pub body: serde_json::Value,
    pub updated_at: Millis,
    pub updated_by: String,
}

/// The layers of one host's tailoring, groups as (name, body).
#[derive(Debug, Clone, Default)]
pub struct HostTailorings {
    pub groups: Vec<(String, serde_json::Value)>,
    pub host: Option<serde_json::Value>,
}

/// A remediation request as asked for: these rules on these hosts.
#[derive(Debug, Clone)]
pub struct NewRemediation {
    pub host_ids: Vec<i64>,
    pub rule_ids: Vec<String>,
    pub requested_by: String,
    pub note: String,
    /// Attempts each of its jobs gets.
    pub max_attempts: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Remediation {
    pub id: i64,
    pub status: RemediationStatus,
    /// The highest tier among the previewed fixes (none until the previews are in, or when
    /// nothing needs fixing).
    pub risk: Option<openwatch_core::fix::Risk>,
    pub rule_ids: Vec<String>,
    pub requested_by: String,
    pub requested_at: Millis,
    pub note: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<Millis>,
    pub decision_note: Option<String>,
    pub finished_at: Option<Millis>,
    pub hosts: i64,
    /// Fixes the previews planned, over all hosts.
    pub planned: i64,
}

/// One host of a remediation request.
#[derive(Debug, Clone, Serialize)]
pub struct RemediationHost {
    pub remediation_id: i64,
    pub host_id: i64,
    pub host_name: String,
    pub phase: FixPhase,
    pub risk: Option<openwatch_core::fix::Risk>,
    pub planned: i64,
    pub error: Option<String>,
    /// The dry run's report (the fleet crate's `HostFix`, as JSON).
    pub preview: Option<Value>,
    /// The run's report.
    pub result: Option<Value>,
    pub updated_at: Millis,
}

/// What a host's dry run found.
#[derive(Debug, Clone)]
pub struct HostPreview {
    pub host_id: i64,
    pub risk: Option<openwatch_core::fix::Risk>,
    /// Fixes that would change something.
    pub planned: i64,
    pub report: Option<Value>,
    pub error: Option<String>,
}

/// A transaction a run opened on a host.
#[derive(Debug, Clone)]
pub struct NewFixTransaction {
    pub id: String,
    pub rule_id: String,
    pub outcome: TxnOutcome,
    pub risk: Option<openwatch_core::fix::Risk>,
    pub diff: String,
    pub actions: Value,
    pub pre_state: Value,
    pub message: Option<String>,
}

/// What a host's run did.
#[derive(Debug, Clone)]
pub struct HostFixRun {
    pub host_id: i64,
    pub report: Option<Value>,
    pub error: Option<String>,
    pub transactions: Vec<NewFixTransaction>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FixTransaction {
    pub id: String,
    pub remediation_id: i64,
    pub host_id: i64,
    pub host_name: String,
    pub rule_id: String,
    pub outcome: TxnOutcome,
    pub risk: Option<openwatch_core::fix::Risk>,
    pub diff: String,
    pub actions: Value,
    pub pre_state: Value,
    pub message: Option<String>,
    pub created_at: Millis,
    pub rollback_status: Option<RollbackStatus>,
    pub rollback_by: Option<String>,
    pub rollback_at: Option<Millis>,
    pub rollback_message: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct RemediationQuery {
    pub status: Option<RemediationStatus>,
    pub host_id: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct FixTransactionQuery {
    pub host_id: Option<i64>,
    pub remediation_id: Option<i64>,
}

/// Where an exception applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExceptionScope {
    Host(i64),
    Group(i64),
    /// Every host.
    Fleet,
}

#[derive(Debug, Clone)]
pub struct NewException {
    pub rule_id: String,
    pub scope: ExceptionScope,
    pub justification: String,
    /// The last day it applies, `YYYY-MM-DD`.
    pub expires_on: String,
    pub requested_by: String,
}

/// An accepted risk as stored: a rule's failure on a host, a group or every host.
#[derive(Debug, Clone, Serialize)]
pub struct StoredException {
    pub id: i64,
    pub rule_id: String,
    /// `host`, `group` or `fleet`.
    pub scope: &'static str,
    pub host_id: Option<i64>,
    pub host_name: Option<String>,
    pub group_id: Option<i64>,
    pub group_name: Option<String>,
    pub justification: String,
    pub expires_on: String,
    pub status: crate::ExceptionStatus,
    pub requested_by: String,
    pub requested_at: Millis,
    pub decided_by: Option<String>,
    pub decided_at: Option<Millis>,
    pub decision_note: Option<String>,
    pub revoked_by: Option<String>,
    pub revoked_at: Option<Millis>,
}

#[derive(Debug, Clone, Default)]
pub struct ExceptionQuery {
    pub status: Option<crate::ExceptionStatus>,
    pub rule_id: Option<String>,
    /// Exceptions that apply to this host: its own, its groups' and fleet-wide ones.
    pub host_id: Option<i64>,
}

/// Filters over the change log ("what changed").
#[derive(Debug, Clone, Default)]
pub struct ChangeQuery {
    pub host_id: Option<i64>,
    /// The changes one scan recorded.
    pub scan_id: Option<i64>,
    pub group_id: Option<i64>,
    /// Only these rules (a framework or control resolved to its rules).
    pub rule_ids: Option<Vec<String>>,
    /// The severity the rule has now.
    pub severity: Option<Severity>,
    /// From this time on (inclusive).
    pub since: Option<Millis>,
    /// Before this time.
    pub until: Option<Millis>,
}

/// An alert rule as callers give it.
#[derive(Debug, Clone)]
pub struct NewAlertRule {
    pub name: String,
    pub kind: crate::AlertKind,
    /// The kind's parameters (a minimum severity, a framework and threshold, ...).
    pub params: Value,
    pub quiet_secs: i64,
    pub enabled: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct AlertRule {
    pub id: i64,
    pub name: String,
    pub kind: crate::AlertKind,
    pub params: Value,
    pub quiet_secs: i64,
    pub enabled: bool,
    pub created_at: Millis,
}

/// Something worth telling people, as an evaluator raises it.
#[derive(Debug, Clone)]
pub struct NewAlert {
    pub rule_id: Option<i64>,
    pub kind: crate::AlertKind,
    /// The same condition gets the same key: while an alert with it is open, raising it
    /// again counts up instead of alerting twice.
    pub dedup_key: String,
    pub severity: String,
    pub subject: String,
    pub body: String,
    pub details: Value,
    pub host_id: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    pub id: i64,
    pub rule_id: Option<i64>,
    pub kind: crate::AlertKind,
    pub dedup_key: String,
    pub severity: String,
    pub subject: String,
    pub body: String,
    pub details: Value,
    pub host_id: Option<i64>,
    pub status: crate::AlertStatus,
    pub occurrences: i64,
    pub first_at: Millis,
    pub last_at: Millis,
    pub notified_at: Option<Millis>,
    pub acked_by: Option<String>,
    pub acked_at: Option<Millis>,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<Millis>,
}

/// What raising an alert did.
#[derive(Debug, Clone)]
pub struct Raised {
    pub alert: Alert,
    /// A new alert (or one back after its quiet period): people should be told, unless they
    /// already were (`alert.notified_at`).
    pub fresh: bool,
}

#[derive(Debug, Clone, Default)]
pub struct AlertQuery {
    pub status: Option<crate::AlertStatus>,
    pub kind: Option<crate::AlertKind>,
    pub host_id: Option<i64>,
    pub dedup_key: Option<String>,
}

/// A report to draw: its scope, framework, format and level of detail.
#[derive(Debug, Clone)]
pub struct NewReport {
    pub scope: crate::ReportScope,
    /// The host or group, for those scopes.
    pub scope_id: Option<i64>,
    /// The host's or group's name, or `fleet`, kept with the report.
    pub scope_name: String,
    pub framework: Option<String>,
    pub format: crate::ReportFormat,
    pub detail: crate::ReportDetail,
    pub requested_by: String,
}

/// A report and where it is; the drawn file is fetched apart ([`crate::ReportStore::report_file`]).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub id: i64,
    pub scope: crate::ReportScope,
    pub scope_id: Option<i64>,
    pub scope_name: String,
    pub framework: Option<String>,
    pub format: crate::ReportFormat,
    pub detail: crate::ReportDetail,
    pub status: crate::ReportStatus,
    /// Hosts read so far, of `total`.
    pub done: i64,
    pub total: i64,
    pub requested_by: String,
    pub requested_at: Millis,
    pub finished_at: Option<Millis>,
    pub error: Option<String>,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub size: Option<i64>,
}

/// A drawn report's file.
#[derive(Debug, Clone)]
pub struct ReportFile {
    pub filename: String,
    pub content_type: String,
    pub body: Vec<u8>,
}

/// Another scanner's results to keep: the file's hosts, each matched to a host of the
/// server when its name or address is known.
#[derive(Debug, Clone)]
pub struct NewImport {
    pub source: crate::ForeignSource,
    pub filename: String,
    pub imported_by: String,
    pub hosts: Vec<NewImportedHost>,
}

#[derive(Debug, Clone)]
pub struct NewImportedHost {
    pub host_id: Option<i64>,
    pub target: String,
    pub results: Vec<ForeignResult>,
}

/// One result of another scanner, with what it is tied or related to.
#[derive(Debug, Clone, Serialize)]
pub struct ForeignResult {
    pub rule: String,
    pub result: String,
    pub verdict: Status,
    pub severity: Option<String>,
    pub message: Option<String>,
    /// `scheme:id` (`cis:5.1.16`, `nist_800_53:AC-7`).
    pub references: Vec<String>,
    pub openwatch_rule: Option<String>,
    pub related_rules: Vec<String>,
}

/// A kept import.
#[derive(Debug, Clone, Serialize)]
pub struct StoredImport {
    pub id: i64,
    pub source: crate::ForeignSource,
    pub filename: String,
    pub imported_by: String,
    pub imported_at: Millis,
    pub hosts: i64,
    /// Hosts of the file that are hosts of the server.
    pub matched_hosts: i64,
    pub results: i64,
}

/// A host's result from another scanner, with the import it came in.
#[derive(Debug, Clone, Serialize)]
pub struct HostForeignResult {
    pub import_id: i64,
    pub source: crate::ForeignSource,
    pub imported_at: Millis,
    pub target: String,
    #[serde(flatten)]
    pub result: ForeignResult,
}
