//! OpenWatch's storage. [`Store`] is the combination of one trait per feature ([`UserStore`],
//! [`CredentialStore`], [`HostStore`], [`ScanStore`], [`StateStore`], [`FleetStore`],
//! [`JobStore`], [`ScheduleStore`], [`AuditStore`], [`EventStore`], [`SystemStore`]; all in
//! [`prelude`]), implemented for SQLite ([`SqliteStore`], WAL, the default) and PostgreSQL
//! ([`PgStore`], for several server and worker processes); each backend has its own
//! versioned migrations under `migrations/<backend>/`.
//!
//! Both implementations share one body of SQL, one file per feature under `src/sql/`,
//! compiled once per backend against that backend's concrete sqlx types; only the
//! statements whose dialects differ (job claims, row locks) live in each backend's `dialect`
//! module. Columns with a fixed set of values are typed (`kinds`: transports, host key
//! policies and statuses, reachability, scan statuses; severities and verdicts are the
//! core's own types) and stored as the text they serialize to.
//!
//! A store is opened with two key files kept outside the database ([`KeyFiles`]): one seals
//! credential secrets, bound to their rows; the other keys the audit hash chain.

pub mod audit;
mod channels;
mod error;
mod keys;
mod kinds;
mod migrate;
pub mod model;
mod postgres;
pub mod secrets;
mod sqlite;

use async_trait::async_trait;
use openwatch_core::eval::Status;

pub use channels::*;
pub use error::StoreError;
pub use keys::KeyFiles;
pub use model::*;
pub use postgres::PgStore;
pub use sqlite::SqliteStore;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Open the store a URL names (`sqlite:PATH` or `postgres://...`), migrating it first, with
/// its key files (created at first start). Also returns the key callers seal credential
/// secrets with for transit to and from the store.
pub async fn open(
    url: &str,
    max_connections: u32,
    keys: &KeyFiles,
) -> Result<(std::sync::Arc<dyn Store>, secrets::SecretKey)> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = PgStore::connect(url, max_connections, keys).await?;
        let key = store.credential_key().clone();
        Ok((std::sync::Arc::new(store), key))
    } else if let Some(path) = url.strip_prefix("sqlite:") {
        let store = SqliteStore::open(std::path::Path::new(path), max_connections, keys).await?;
        let key = store.credential_key().clone();
        Ok((std::sync::Arc::new(store), key))
    } else {
        Err(StoreError::Config(format!(
            "unsupported database URL {url:?}: expected sqlite:PATH or postgres://..."
        )))
    }
}

/// Everything the platform keeps: the combination of the feature traits, implemented for
/// any type that implements them all, so callers hold an `Arc<dyn Store>` and import the
/// feature traits they use (or [`prelude`]). Each method takes `now` where time matters so
/// tests and the scheduler decide what time it is.
pub trait Store:
    SystemStore
    + UserStore
    + CredentialStore
    + HostStore
    + ScanStore
    + StateStore
    + FleetStore
    + JobStore
    + ScheduleStore
    + AuditStore
    + EventStore
    + TailoringStore
    + RemediationStore
    + ExceptionStore
    + ChannelStore
    + AlertStore
    + ReportStore
    + ForeignResultStore
    + FactorStore
    + Send
    + Sync
    + std::fmt::Debug
{
}

impl<T> Store for T where
    T: SystemStore
        + UserStore
        + CredentialStore
        + HostStore
        + ScanStore
        + StateStore
        + FleetStore
        + JobStore
        + ScheduleStore
        + AuditStore
        + EventStore
        + TailoringStore
        + RemediationStore
        + ExceptionStore
        + ChannelStore
        + AlertStore
        + ReportStore
        + ForeignResultStore
        + FactorStore
        + Send
        + Sync
        + std::fmt::Debug
        + ?Sized
{
}

/// The store's traits, for `use openwatch_store::prelude::*`.
pub mod prelude {
    pub use crate::{AlertStore, ChannelStore, FactorStore, ForeignResultStore, ReportStore};
    pub use crate::{
        AuditStore, CredentialStore, EventStore, ExceptionStore, FleetStore, HostStore, JobStore,
        RemediationStore, ScanStore, ScheduleStore, StateStore, Store, SystemStore, TailoringStore,
        UserStore,
    };
}

/// Alert rules and the alerts they raise: one open alert per dedup key, repeats counted,
/// acknowledged and resolved by people or resolved when the condition ends.
#[async_trait]
pub trait AlertStore: Send + Sync {
    async fn create_alert_rule(&self, r: &NewAlertRule, now: Millis) -> Result<AlertRule>;
    async fn alert_rules(&self) -> Result<Vec<AlertRule>>;
    async fn alert_rule(&self, id: i64) -> Result<Option<AlertRule>>;
    async fn update_alert_rule(&self, id: i64, r: &NewAlertRule) -> Result<Option<AlertRule>>;
    async fn delete_alert_rule(&self, id: i64) -> Result<bool>;
    /// Raise an alert: a new one, a repeat of an open one (counted), or one resolved less
    /// than `quiet_ms` ago reopened without counting as fresh.
    async fn raise_alert(&self, a: &NewAlert, quiet_ms: i64, now: Millis) -> Result<Raised>;
    /// Record that an alert's messages are queued.
    async fn mark_alert_notified(&self, id: i64, now: Millis) -> Result<()>;
    /// Resolve the open alert with this key, if any (the condition ended).
    async fn resolve_alert_key(&self, dedup_key: &str, by: &str, now: Millis) -> Result<Option<Alert>>;
    async fn alert(&self, id: i64) -> Result<Option<Alert>>;
    async fn list_alerts(&self, q: &AlertQuery, page: PageRequest) -> Result<Page<Alert>>;
    /// Acknowledge an open alert; `None` when it is not open.
    async fn ack_alert(&self, id: i64, by: &str, now: Millis) -> Result<Option<Alert>>;
    /// Resolve an open or acknowledged alert; `None` when it is already resolved.
    async fn resolve_alert(&self, id: i64, by: &str, now: Millis) -> Result<Option<Alert>>;
    /// Alerts raised but whose messages were not queued yet (a crash in between).
    async fn unnotified_alerts(&self, limit: i64) -> Result<Vec<Alert>>;
    /// A framework's counts summed over the fleet's or a group's hosts: (pass, fail, excepted).
    async fn posture_totals(&self, framework: &str, group_id: Option<i64>) -> Result<(i64, i64, i64)>;
}

/// Results of other scanners (OpenSCAP, InSpec, Nessus, Wazuh), kept beside OpenWatch's own.
#[async_trait]
pub trait ForeignResultStore: Send + Sync {
    /// Keep an import whole, or nothing of it.
    async fn store_import(&self, i: &NewImport, now: Millis) -> Result<StoredImport>;
    /// Newest first.
    async fn list_imports(&self, page: PageRequest) -> Result<Page<StoredImport>>;
    /// A host's results from the newest import of each scanner that covered it.
    async fn host_foreign_results(&self, host_id: i64) -> Result<Vec<HostForeignResult>>;
    /// Results citing a control (`cis:5.1.16`, `nist_800_53:AC-7`) by scanner and verdict, over
    /// the newest import of each scanner for each of its targets.
    async fn control_foreign_counts(&self, reference: &str) -> Result<Vec<(ForeignSource, Status, i64)>>;
}

/// Reports drawn by workers: queued with their job in one transaction, their progress, and
/// the drawn file kept with them.
#[async_trait]
pub trait ReportStore: Send + Sync {
    async fn queue_report(&self, r: &NewReport, now: Millis) -> Result<Report>;
    async fn report(&self, id: i64) -> Result<Option<Report>>;
    /// Newest first.
    async fn list_reports(&self, page: PageRequest) -> Result<Page<Report>>;
    /// Hosts read so far; marks the report running (again, when its job is retried).
    async fn report_progress(&self, id: i64, done: i64, total: i64) -> Result<()>;
    /// Keep the drawn file and complete the job, atomically; false when the job's lease was
    /// lost and nothing was written.
    async fn complete_report(
        &self,
        job: &Job,
        worker: &str,
        id: i64,
        file: &ReportFile,
        now: Millis,
    ) -> Result<bool>;
    /// The report cannot be drawn (the reason is said to its requester).
    async fn fail_report(&self, id: i64, error: &str, now: Millis) -> Result<()>;
    /// The drawn file of a succeeded report.
    async fn report_file(&self, id: i64) -> Result<Option<ReportFile>>;
}

/// Accepted risks: requested by one user, approved or rejected by another, revocable; an
/// approved one applies to the scans of its hosts through its expiry day.
#[async_trait]
pub trait ExceptionStore: Send + Sync {
    async fn create_exception(&self, e: &NewException, now: Millis) -> Result<StoredException>;
    async fn exception(&self, id: i64) -> Result<Option<StoredException>>;
    async fn list_exceptions(&self, q: &ExceptionQuery, page: PageRequest) -> Result<Page<StoredException>>;
    /// Approve or reject a requested exception; `None` when it is not waiting for a decision.
    async fn decide_exception(
        &self,
        id: i64,
        approve: bool,
        by: &str,
        note: &str,
        now: Millis,
    ) -> Result<Option<StoredException>>;
    /// Revoke an approved exception; `None` when it is not approved.
    async fn revoke_exception(&self, id: i64, by: &str, now: Millis) -> Result<Option<StoredException>>;
    /// The approved exceptions that apply to a host on `today` (`YYYY-MM-DD`).
    async fn host_exceptions(&self, host_id: i64, today: &str) -> Result<Vec<StoredException>>;
    /// Approved exceptions whose last day is between `from` and `to` (inclusive).
    async fn expiring_exceptions(&self, from: &str, to: &str) -> Result<Vec<StoredException>>;
}

/// Notification channels and the durable delivery of messages to them. A channel's secret
/// is sealed like a credential's (bound to its row); each delivery is queued with its
/// `deliver` job in one transaction and keeps every attempt.
#[async_trait]
pub trait ChannelStore: Send + Sync {
    /// Insert a channel; its secret arrives sealed for transit and is stored bound to the row.
    async fn create_channel(&self, c: &NewChannel, now: Millis) -> Result<Channel>;
    async fn list_channels(&self) -> Result<Vec<Channel>>;
    async fn channel(&self, id: i64) -> Result<Option<Channel>>;
    /// Replace a channel's name, settings and enabled flag, and its secret when one is given
    /// (`None` keeps the stored one); `Ok(None)` when there is no such channel.
    async fn update_channel(&self, id: i64, c: &NewChannel, now: Millis) -> Result<Option<Channel>>;
    /// Delete a channel with its deliveries; their queued jobs find nothing to send.
    async fn delete_channel(&self, id: i64) -> Result<bool>;
    /// A channel's secret sealed for transit (`Ok(None)`: no channel, or no secret).
    async fn channel_secret(&self, id: i64) -> Result<Option<Vec<u8>>>;
    /// Queue a message to the given channels (every enabled channel when `None`), one
    /// delivery and one job per channel, in one transaction. A channel that already has a
    /// delivery with the message's dedup key is skipped; returns the deliveries queued.
    async fn queue_deliveries(
        &self,
        m: &NewMessage,
        channel_ids: Option<&[i64]>,
        max_attempts: i64,
        now: Millis,
    ) -> Result<Vec<Delivery>>;
    async fn delivery(&self, id: i64) -> Result<Option<Delivery>>;
    /// Deliveries, newest first, with their attempts.
    async fn list_deliveries(&self, q: &DeliveryQuery, page: PageRequest) -> Result<Page<Delivery>>;
    /// Record one attempt of a delivery and settle its job in one transaction: delivered
    /// (job done), failed with a retry at `retry_at` (job requeued), or failed for the last
    /// time (delivery dead, job failed). `false` when the worker lost the job's lease and
    /// nothing was written.
    async fn record_attempt(
        &self,
        job: &Job,
        worker: &str,
        delivery_id: i64,
        attempt: &NewAttempt,
        retry_at: Option<Millis>,
    ) -> Result<bool>;
}

/// Remediation requests, their per-host previews and runs, and the transactions the runs
/// opened. A request's jobs are queued with it (previews), with its approval (runs) and with
/// a rollback, in the same transaction as the state they belong to.
#[async_trait]
pub trait RemediationStore: Send + Sync {
    /// Insert a request and queue one preview job per host.
    async fn create_remediation(&self, r: &NewRemediation, now: Millis) -> Result<Remediation>;
    async fn remediation(&self, id: i64) -> Result<Option<Remediation>>;
    async fn remediation_hosts(&self, id: i64) -> Result<Vec<RemediationHost>>;
    async fn list_remediations(&self, q: &RemediationQuery, page: PageRequest) -> Result<Page<Remediation>>;
    /// Store a host's dry run and complete its job; once every host is previewed the request
    /// waits for a decision (or is done, when nothing needs fixing). `Ok(None)` when the
    /// worker lost the job's lease and nothing was written.
    async fn record_preview(
        &self,
        job: &Job,
        worker: &str,
        remediation_id: i64,
        p: &HostPreview,
        now: Millis,
    ) -> Result<Option<Remediation>>;
    /// Approve (queueing a run per host with something to fix) or reject a request that is
    /// waiting for a decision; `Ok(None)` when it is not waiting (any more).
    async fn decide_remediation(
        &self,
        id: i64,
        approve: bool,
        by: &str,
        note: &str,
        max_attempts: i64,
        now: Millis,
    ) -> Result<Option<Remediation>>;
    /// Store a host's run and its transactions and complete its job; the request is done
    /// when every host has run. `Ok(None)` when the lease was lost.
    async fn record_fix(
        &self,
        job: &Job,
        worker: &str,
        remediation_id: i64,
        run: &HostFixRun,
        now: Millis,
    ) -> Result<Option<Remediation>>;
    async fn fix_transactions(&self, q: &FixTransactionQuery) -> Result<Vec<FixTransaction>>;
    async fn fix_transaction(&self, id: &str) -> Result<Option<FixTransaction>>;
    /// Queue the rollback of a kept transaction; false when it was not kept or a rollback is
    /// already queued or done.
    async fn queue_rollback(&self, id: &str, by: &str, max_attempts: i64, now: Millis) -> Result<bool>;
    /// Store how a rollback ended and complete its job; false when the lease was lost.
    async fn record_rollback(
        &self,
        job: &Job,
        worker: &str,
        id: &str,
        ok: bool,
        message: &str,
        now: Millis,
    ) -> Result<bool>;
}

/// Tailorings of groups and hosts (the body is the core's `Tailoring` as JSON).
#[async_trait]
pub trait TailoringStore: Send + Sync {
    async fn tailoring(&self, scope: TailoringScope) -> Result<Option<StoredTailoring>>;
    /// Remove a scope's tailoring (its hosts go back to the library as it is).
    async fn delete_tailoring(&self, scope: TailoringScope) -> Result<()>;
    /// Save (or replace) a scope's tailoring.
    async fn put_tailoring(
        &self,
        scope: TailoringScope,
        body: &serde_json::Value,
        by: &str,
        now: Millis,
    ) -> Result<()>;
    /// The tailorings that shape one host: its live groups' (with their names) and its own.
    async fn host_tailorings(&self, host_id: i64) -> Result<HostTailorings>;
}

/// Which database this is and whether it answers.
#[async_trait]
pub trait SystemStore: Send + Sync {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// The applied migration versions, oldest first.
    async fn migrations(&self) -> Result<Vec<i64>>;
    async fn ping(&self) -> Result<()>;
    /// Write a consistent copy of the whole database to `dest` (a new file) while the
    /// store stays in use: SQLite's `VACUUM INTO`. PostgreSQL is refused: it is backed up
    /// with its own tools (`pg_dump`), which know its roles, extensions and versions.
    async fn backup_to(&self, dest: &std::path::Path) -> Result<()>;
}

/// Users, custom roles, sessions and API tokens.
#[async_trait]
pub trait UserStore: Send + Sync {
    async fn create_user(&self, user: &NewUser, now: Millis) -> Result<User>;
    async fn user_by_name(&self, username: &str) -> Result<Option<User>>;
    async fn user(&self, id: i64) -> Result<Option<User>>;
    async fn list_users(&self) -> Result<Vec<User>>;
    async fn count_users(&self) -> Result<i64>;
    async fn set_password(&self, id: i64, password_hash: &str, now: Millis) -> Result<()>;
    async fn update_user(&self, id: i64, role: &str, disabled: bool, now: Millis) -> Result<()>;
    async fn delete_user(&self, id: i64) -> Result<()>;
    async fn custom_roles(&self) -> Result<Vec<CustomRole>>;
    async fn put_role(&self, role: &CustomRole, now: Millis) -> Result<()>;
    async fn delete_role(&self, name: &str) -> Result<bool>;
    async fn create_session(&self, session: &Session) -> Result<()>;
    async fn session(&self, id_hash: &str) -> Result<Option<Session>>;
    async fn touch_session(&self, id_hash: &str, now: Millis) -> Result<()>;
    async fn delete_session(&self, id_hash: &str) -> Result<()>;
    async fn delete_user_sessions(&self, user_id: i64) -> Result<()>;
    async fn create_token(&self, token: &NewToken, now: Millis) -> Result<ApiToken>;
    /// The live (not revoked, not expired) token with this hash, marking it used.
    async fn use_token(&self, token_hash: &str, now: Millis) -> Result<Option<ApiToken>>;
    async fn list_tokens(&self, user_id: Option<i64>) -> Result<Vec<ApiToken>>;
    async fn revoke_token(&self, id: i64, now: Millis) -> Result<bool>;
}

/// Second factors (authenticator apps, recovery codes, security keys), single sign-on
/// identities, ceremonies in flight and the sign-in state of sessions.
#[async_trait]
pub trait FactorStore: Send + Sync {
    /// Start (or restart) enrolling an authenticator app with a secret sealed for transit; a
    /// conflict when the user already has a confirmed one.
    async fn begin_totp(&self, user_id: i64, sealed_secret: &[u8], now: Millis) -> Result<()>;
    /// The user's authenticator app, its secret sealed for transit.
    async fn totp(&self, user_id: i64) -> Result<Option<TotpFactor>>;
    /// Accept time step `step` if it is later than every step accepted before (so a code
    /// works once), confirming an enrolment on its first use. Whether it was accepted.
    async fn use_totp_step(&self, user_id: i64, step: i64, now: Millis) -> Result<bool>;
    async fn delete_totp(&self, user_id: i64) -> Result<bool>;
    /// Replace the user's recovery codes with these hashes.
    async fn replace_recovery_codes(&self, user_id: i64, hashes: &[String], now: Millis) -> Result<()>;
    /// Use the unused recovery code with this hash; whether there was one.
    async fn use_recovery_code(&self, user_id: i64, hash: &str, now: Millis) -> Result<bool>;
    async fn recovery_codes_left(&self, user_id: i64) -> Result<i64>;
    async fn delete_recovery_codes(&self, user_id: i64) -> Result<()>;
    async fn add_security_key(&self, k: &NewSecurityKey, now: Millis) -> Result<SecurityKey>;
    async fn security_keys(&self, user_id: i64) -> Result<Vec<SecurityKey>>;
    /// Record a use of a key: its updated record (the counter) and when.
    async fn used_security_key(&self, id: i64, passkey: &str, now: Millis) -> Result<()>;
    async fn delete_security_key(&self, user_id: i64, id: i64) -> Result<Option<SecurityKey>>;
    /// Keep a ceremony in flight (expired ones are dropped on the way).
    async fn put_challenge(&self, c: &AuthChallenge, now: Millis) -> Result<()>;
    /// Take (and delete) an unexpired ceremony of this kind: it can be finished once.
    async fn take_challenge(
        &self,
        id_hash: &str,
        kind: ChallengeKind,
        now: Millis,
    ) -> Result<Option<AuthChallenge>>;
    /// The user an identity provider's subject is linked to.
    async fn sso_user(&self, provider: &str, subject: &str) -> Result<Option<i64>>;
    /// Link a subject to a user (or record another sign-in of a linked one).
    async fn link_sso(&self, provider: &str, subject: &str, user_id: i64, now: Millis) -> Result<()>;
    async fn sso_identities(&self, user_id: i64) -> Result<Vec<SsoIdentity>>;
    /// The user's sessions, newest first.
    async fn user_sessions(&self, user_id: i64) -> Result<Vec<Session>>;
    /// A second factor was checked: the session is signed in (whatever its stage was) and
    /// its second-factor time is now. False when the session is gone.
    async fn second_factor_checked(&self, id_hash: &str, now: Millis) -> Result<bool>;
    /// Count a failed second-factor attempt of a session; the count so far.
    async fn count_second_factor_failure(&self, id_hash: &str) -> Result<i64>;
}

/// Credentials, kept as sealed secrets only (see `secrets`). Callers seal secrets for transit
/// with the store's credential key; the store keeps them bound to their row and field.
#[async_trait]
pub trait CredentialStore: Send + Sync {
    async fn create_credential(&self, c: &NewCredential, now: Millis) -> Result<Credential>;
    async fn list_credentials(&self) -> Result<Vec<Credential>>;
    async fn credential(&self, id: i64) -> Result<Option<Credential>>;
    /// A credential's secrets, sealed for transit; an error when a stored ciphertext does
    /// not belong to this row and field (moved from another row, or tampered with).
    async fn credential_secrets(&self, id: i64) -> Result<Option<SealedSecrets>>;
    async fn delete_credential(&self, id: i64) -> Result<bool>;
    /// Generate a new credential key and re-seal every credential under it in one
    /// transaction, then replace the key file. Processes that have the store open keep the
    /// old key until they restart. Returns the credentials re-sealed.
    async fn rotate_credential_key(&self, now: Millis) -> Result<usize>;
}

/// Host groups, hosts, their reachability and SSH host keys.
#[async_trait]
pub trait HostStore: Send + Sync {
    async fn create_group(&self, name: &str, description: &str, now: Millis) -> Result<Group>;
    async fn list_groups(&self) -> Result<Vec<Group>>;
    async fn group(&self, id: i64) -> Result<Option<Group>>;
    async fn delete_group(&self, id: i64) -> Result<bool>;
    /// Rename a group or change its description; `false` when there is no such group.
    async fn update_group(&self, id: i64, name: &str, description: &str) -> Result<bool>;
    /// Put a host in a group or take it out; `false` when the group or host does not exist.
    async fn set_group_member(&self, group_id: i64, host_id: i64, member: bool) -> Result<bool>;
    async fn group_host_ids(&self, group_id: i64) -> Result<Vec<i64>>;
    async fn create_host(&self, host: &HostInput, now: Millis) -> Result<Host>;
    async fn host(&self, id: i64) -> Result<Option<Host>>;
    async fn host_by_name(&self, name: &str) -> Result<Option<Host>>;
    async fn list_hosts(&self, q: &HostQuery, page: PageRequest) -> Result<Page<Host>>;
    async fn update_host(&self, id: i64, host: &HostInput, now: Millis) -> Result<Option<Host>>;
    /// Soft delete: the host leaves lists and fleet figures; its history stays.
    async fn delete_host(&self, id: i64, now: Millis) -> Result<bool>;
    async fn host_keys(&self, host_id: i64) -> Result<Vec<HostKey>>;
    /// Keys waiting for approval, of hosts that are not deleted, by host.
    async fn pending_host_keys(&self) -> Result<Vec<HostKey>>;
    /// Record a key seen on contact; returns the stored key (its status says whether to trust it).
    async fn observe_host_key(
        &self,
        host_id: i64,
        key: &ObservedHostKey,
        status: HostKeyStatus,
        now: Millis,
    ) -> Result<HostKey>;
    /// Approve one key of a host (any other approved key of that host is revoked).
    async fn approve_host_key(&self, host_id: i64, key_id: i64, by: &str, now: Millis) -> Result<bool>;
    async fn set_reachability(
        &self,
        host_id: i64,
        reachability: Reachability,
        error: Option<&str>,
    ) -> Result<()>;
}

/// Scans, their results and evidence.
#[async_trait]
pub trait ScanStore: Send + Sync {
    /// Insert a queued scan and its job in one transaction.
    async fn queue_scan(&self, req: &ScanRequest, now: Millis) -> Result<Scan>;
    async fn scan(&self, id: i64) -> Result<Option<Scan>>;
    async fn list_scans(&self, q: &ScanQuery, page: PageRequest) -> Result<Page<Scan>>;
    async fn mark_scan_running(&self, scan_id: i64, now: Millis) -> Result<()>;
    /// Store a finished scan and complete its job, atomically; `Ok(None)` when the job's
    /// lease was lost (another worker owns it now) and nothing was written.
    async fn complete_scan(
        &self,
        job: &Job,
        worker: &str,
        outcome: &ScanOutcome,
    ) -> Result<Option<IngestStats>>;
    /// Record a scan failure: final (job failed) or to be retried at `retry_at`.
    async fn fail_scan(
        &self,
        job: &Job,
        worker: &str,
        failure: &ScanFailure,
        retry_at: Option<Millis>,
    ) -> Result<bool>;
    async fn scan_results(
        &self,
        scan_id: i64,
        q: &ResultQuery,
        page: PageRequest,
    ) -> Result<Page<StoredResult>>;
    async fn evidence(&self, hash: &str) -> Result<Option<String>>;
    /// Several evidence bodies at once, by hash.
    async fn evidence_many(&self, hashes: &[String]) -> Result<std::collections::HashMap<String, String>>;
}

/// Each host's current rule state, its change log and its posture.
#[async_trait]
pub trait StateStore: Send + Sync {
    async fn host_state(&self, host_id: i64, q: &ResultQuery) -> Result<Vec<RuleState>>;
    async fn host_changes(&self, host_id: Option<i64>, page: PageRequest) -> Result<Page<Change>>;
    /// The change log filtered by host, group, rules, new severity and time, newest first.
    async fn find_changes(&self, q: &ChangeQuery, page: PageRequest) -> Result<Page<Change>>;
    /// The newest changes across the fleet, without counting them all (dashboards).
    async fn recent_changes(&self, limit: i64) -> Result<Vec<Change>>;
    /// The newest baselines (first successful scans), of one host or of the fleet.
    async fn first_scans(&self, host_id: Option<i64>, limit: i64) -> Result<Vec<FirstScan>>;
    /// Current verdicts across hosts, filtered, ordered by host name and rule.
    async fn fleet_state(&self, q: &FleetStateQuery) -> Result<Vec<HostRuleRow>>;
    async fn host_posture(&self, host_id: i64) -> Result<Vec<Posture>>;
    async fn posture_history(&self, host_id: i64, since: Millis) -> Result<Vec<PosturePoint>>;
}

/// Figures across the fleet, and its synthetic history.
#[async_trait]
pub trait FleetStore: Send + Sync {
    async fn fleet_summary(&self, now: Millis) -> Result<FleetSummary>;
    /// Current verdict counts across live hosts for a few rules: (rule, verdict, hosts); with
    /// a framework, over the hosts it applies to.
    async fn rule_verdicts(
        &self,
        rule_ids: &[String],
        framework: Option<&str>,
    ) -> Result<Vec<(String, Status, i64)>>;
    /// Hosts a framework applies to that currently fail each rule (rules failing nowhere are
    /// absent), so a framework page's figures add up to its host count.
    async fn failing_hosts_by_rule(&self, framework: &str) -> Result<std::collections::HashMap<String, i64>>;
    /// Recompute today's fleet trend point from current posture.
    async fn roll_up_trend(&self, now: Millis) -> Result<()>;
    /// Bulk-load synthetic history (benchmarks, demonstrations). Its rows name no real scan:
    /// the change log records scan 0, posture history the negated time.
    async fn seed_history(&self, h: &SeedHistory) -> Result<()>;
}

/// The job queue workers claim from.
#[async_trait]
pub trait JobStore: Send + Sync {
    async fn enqueue(&self, job: &NewJob, now: Millis) -> Result<i64>;
    /// Claim the oldest runnable job of `kinds`, never two running jobs for one host.
    async fn claim(&self, worker: &str, kinds: &[&str], lease_ms: i64, now: Millis) -> Result<Option<Job>>;
    /// Extend a lease; false when the worker no longer owns the job.
    async fn heartbeat(&self, job_id: i64, worker: &str, lease_ms: i64, now: Millis) -> Result<bool>;
    async fn complete_job(&self, job_id: i64, worker: &str, now: Millis) -> Result<bool>;
    async fn fail_job(
        &self,
        job: &Job,
        worker: &str,
        error: &str,
        retry_at: Option<Millis>,
        now: Millis,
    ) -> Result<bool>;
    /// Requeue (or fail, when out of attempts) running jobs whose lease expired.
    async fn reap(&self, now: Millis) -> Result<u64>;
    /// End now the leases of the running jobs whose lock owner starts with `owner` (a process
    /// known to be dead), so the next [`JobStore::reap`] requeues them; returns how many.
    async fn expire_leases(&self, owner: &str, now: Millis) -> Result<u64>;
    async fn queue_depth(&self) -> Result<QueueDepth>;
    /// Wake `wake` whenever any process queues a job (PostgreSQL LISTEN); returns at once on
    /// SQLite, whose workers poll.
    async fn listen_for_jobs(&self, wake: &tokio::sync::Notify) -> Result<()>;
}

/// Schedules and their once-per-time firings.
#[async_trait]
pub trait ScheduleStore: Send + Sync {
    async fn create_schedule(&self, s: &NewSchedule, now: Millis) -> Result<Schedule>;
    async fn list_schedules(&self) -> Result<Vec<Schedule>>;
    async fn delete_schedule(&self, id: i64) -> Result<bool>;
    async fn due_schedules(&self, now: Millis) -> Result<Vec<Schedule>>;
    async fn set_next_fire(&self, id: i64, next_fire_at: Millis) -> Result<()>;
    /// Claim one firing: true for exactly one caller per (key, time), however many processes try.
    async fn claim_fire(&self, key: &str, fire_at: Millis) -> Result<bool>;
    async fn adaptive_candidates(&self) -> Result<Vec<AdaptiveCandidate>>;
    /// Whether a host has a scan queued or running.
    async fn scan_pending(&self, host_id: i64) -> Result<bool>;
}

/// The audit log: a hash chain keyed with the audit key file.
#[async_trait]
pub trait AuditStore: Send + Sync {
    async fn append_audit(&self, event: &NewAuditEvent) -> Result<AuditEvent>;
    async fn list_audit(&self, q: &AuditQuery, page: PageRequest) -> Result<Page<AuditEvent>>;
    /// Every event in order, for export and verification.
    async fn all_audit(&self) -> Result<Vec<AuditEvent>>;
    /// Check the whole chain and its head against the audit key (see `audit`).
    async fn verify_audit(&self) -> Result<AuditVerification>;
}

/// The stream of events the server pushes to browsers.
#[async_trait]
pub trait EventStore: Send + Sync {
    async fn append_event(&self, kind: &str, data: &serde_json::Value, now: Millis) -> Result<i64>;
    async fn events_after(&self, id: i64, limit: i64) -> Result<Vec<StreamEvent>>;
    async fn last_event_id(&self) -> Result<i64>;
}
