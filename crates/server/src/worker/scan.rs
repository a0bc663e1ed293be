//! Running one scan job: reach the host (locally or over SSH with its stored credential
//! and pinned host keys), collect and evaluate, and store the outcome with the job's
//! completion in one transaction.

use std::time::Instant;

use openwatch_collect::LocalTransport;
use openwatch_core::eval::Status;
use openwatch_core::plan::FactPlan;
use openwatch_core::posture;
use openwatch_core::report::{EvalOptions, PlatformInfo, ScanReport};
use openwatch_core::rule::{References, Rule};
use openwatch_core::tailoring::Effective;
use openwatch_core::vars::Overrides;
use openwatch_fleet::{ExecMode, FleetJob, FleetOptions, ManagedHost, ResolvedHost, Secret, scan_host};
use openwatch_ssh::{HostKeyPolicy, SshSession, SshTarget};
use openwatch_store::{
    Host, HostKeyStatus, Job, ObservedHostKey, Posture, Reachability, ResultInput, ScanFailure, ScanOutcome,
};
use serde::Serialize;
use serde_json::{Value, json};

use crate::app::{AppState, Library, now_ms};
use crate::service::credentials::SecretMaterial;

/// Why a scan could not run, and what that says about the host.
#[derive(Debug, Clone)]
pub struct Failure {
    pub kind: String,
    pub message: String,
    pub reachability: Reachability,
    pub retryable: bool,
}

fn failure(kind: &str, message: impl Into<String>, reachability: Reachability, retryable: bool) -> Failure {
    Failure { kind: kind.to_owned(), message: message.into(), reachability, retryable }
}

/// The SSH target for a host: its stored credential opened, and its approved keys pinned.
/// What a record means for the connection (login name, sudo mode, trust policy, timeouts)
/// is decided by [`ManagedHost`], as for inventory hosts.
pub(crate) async fn ssh_target(state: &AppState, host: &Host) -> Result<(SshTarget, bool), Failure> {
    let store = state.store();
    let internal =
        |e: openwatch_store::StoreError| failure("internal", e.to_string(), Reachability::Unknown, true);
    let Some(cred_id) = host.credential_id else {
        return Err(failure(
            "auth",
            "the host has no credential; choose one on the host",
            Reachability::AuthFailed,
            false,
        ));
    };
    let cred = store.credential(cred_id).await.map_err(internal)?;
    let sealed = store.credential_secrets(cred_id).await.map_err(internal)?;
    let (Some(cred), Some(sealed)) = (cred, sealed) else {
        return Err(failure("auth", "the host's credential was deleted", Reachability::AuthFailed, false));
    };
    let material: SecretMaterial = serde_json::from_slice(&state.key.open(&sealed.secret).map_err(internal)?)
        .map_err(|e| {
            failure("internal", format!("stored credential is unreadable: {e}"), Reachability::Unknown, false)
        })?;
    let secret = match cred.kind.as_str() {
        "ssh_key" => Secret::Key { private_key: material.secret, passphrase: material.passphrase },
        _ => Secret::Password(material.secret),
    };
    let sudo_password = match (&sealed.sudo_secret, host.sudo) {
        (Some(s), true) => Some(String::from_utf8(state.key.open(s).map_err(internal)?).unwrap_or_default()),
        _ => None,
    };
    let approved_keys: Vec<russh::keys::PublicKey> = store
        .host_keys(host.id)
        .await
        .map_err(internal)?
        .iter()
        .filter(|k| k.status == HostKeyStatus::Approved)
        .filter_map(|k| russh::keys::PublicKey::from_openssh(&k.public_key).ok())
        .collect();
    let pinned = !approved_keys.is_empty();
    let target = ManagedHost {
        name: host.name.clone(),
        address: host.address.clone(),
        port: host.port as u16,
        user: host.username.clone(),
        credential_user: cred.username.clone(),
        credential_name: Some(cred.name.clone()),
        secret,
        sudo: host.sudo,
        sudo_password,
        approved_keys,
        accept_new: host.host_key_policy == openwatch_store::HostKeyPolicy::AcceptNew,
        connect_timeout: Some(state.config.ssh_connect_timeout_secs),
    }
    .target();
    Ok((target, pinned))
}

/// Record what a host-key failure means: a key to approve (first contact) or a changed key.
async fn host_key_problem(
    state: &AppState,
    host: &Host,
    pinned: bool,
    presented: Option<String>,
    message: String,
) -> Failure {
    if let Some(key) = presented.as_deref().and_then(|k| russh::keys::PublicKey::from_openssh(k).ok()) {
        let observed = ObservedHostKey {
            algorithm: key.algorithm().to_string(),
            fingerprint: openwatch_ssh::hostkey::fingerprint(&key),
            public_key: presented.clone().unwrap_or_default(),
        };
        if let Err(e) =
            state.store().observe_host_key(host.id, &observed, HostKeyStatus::Pending, now_ms()).await
        {
            tracing::error!(error = %e, host = host.name, "recording a host key");
        }
    }
    if pinned {
        failure("host_key_changed", message, Reachability::HostKeyChanged, false)
    } else {
        failure(
            "host_key_pending",
            format!("{}: the host key must be approved before the first scan", host.name),
            Reachability::HostKeyPending,
            false,
        )
    }
}

fn ssh_failure(kind: &str, message: String) -> Failure {
    match kind {
        "unreachable" | "timeout" => failure(kind, message, Reachability::Unreachable, true),
        "auth" | "sudo" => failure(kind, message, Reachability::AuthFailed, false),
        _ => failure(kind, message, Reachability::Error, true),
    }
}

/// The rules a host is scanned with and their variable values: the library, tailored.
pub(crate) struct Tailored {
    pub rules: Vec<Rule>,
    pub overrides: Overrides,
}

/// The library as a host's tailoring shapes it.
pub(crate) async fn tailored(state: &AppState, host: &Host) -> Result<(Tailored, Effective), Failure> {
    let tailoring = |m: String| failure("tailoring", m, Reachability::Unknown, false);
    let effective = crate::service::tailoring::resolve(state, host.id)
        .await
        .map_err(|e| tailoring(format!("the host's tailoring could not be read: {e}")))?;
    let overrides = effective
        .overrides(&state.library.rules)
        .map_err(|e| tailoring(format!("the host's tailoring no longer fits the rule library: {e}")))?;
    let rules: Vec<Rule> = state.library.rules.iter().filter(|r| effective.selects(r)).cloned().collect();
    Ok((Tailored { rules, overrides }, effective))
}

fn local_report(state: &AppState, t: &Tailored) -> Result<ScanReport, Failure> {
    let walks = state.config.scan_walks;
    let plan = FactPlan::for_rules(t.rules.iter(), walks);
    let eval = EvalOptions { overrides: t.overrides.clone(), walks_enabled: walks };
    openwatch_collect::scan(t.rules.iter(), &plan, eval, &mut LocalTransport)
        .map(|scanned| scanned.report)
        .map_err(|e| failure("collection", e.to_string(), Reachability::Error, true))
}

async fn ssh_report(state: &AppState, host: &Host, t: &Tailored) -> Result<ScanReport, Failure> {
    let (target, pinned) = ssh_target(state, host).await?;
    let accept_new = target.trust.policy == HostKeyPolicy::AcceptNew;
    let job = FleetJob { host: ResolvedHost { target, vars: Vec::new() }, overrides: t.overrides.clone() };
    let plan = FactPlan::for_rules(t.rules.iter(), state.config.scan_walks);
    let opts = FleetOptions {
        concurrency: 1,
        mode: ExecMode::Batched,
        walks: state.config.scan_walks,
        keep_facts: false,
    };
    let scan = scan_host(&job, &t.rules, &plan, &opts).await;
    if let Some(e) = &scan.report.error {
        return Err(if e.kind == "host_key" {
            host_key_problem(state, host, pinned, scan.presented_key.clone(), e.message.clone()).await
        } else {
            ssh_failure(&e.kind, e.message.clone())
        });
    }
    if accept_new && let Some(line) = &scan.presented_key {
        // Trusted on first use because the host's policy says so: pin it from now on.
        if let Ok(key) = russh::keys::PublicKey::from_openssh(line) {
            let observed = ObservedHostKey {
                algorithm: key.algorithm().to_string(),
                fingerprint: openwatch_ssh::hostkey::fingerprint(&key),
                public_key: line.clone(),
            };
            state
                .store()
                .observe_host_key(host.id, &observed, HostKeyStatus::Approved, now_ms())
                .await
                .map_err(|e| failure("internal", e.to_string(), Reachability::Unknown, true))?;
            // Trust nobody approved by hand is still a trust decision: record it.
            let details = json!({"fingerprint": observed.fingerprint, "algorithm": observed.algorithm,
                "address": host.address, "port": host.port});
            super::audit(state, "host.key_accept_new", &format!("host:{}", host.id), "success", details)
                .await
                .map_err(|e| {
                    failure(
                        "internal",
                        format!("recording the trusted key: {e}"),
                        Reachability::Unknown,
                        true,
                    )
                })?;
        }
    }
    Ok(scan.report)
}

/// Scan a host now (in this task), as its tailoring says, and return its report with the
/// tailoring it was scanned with. Failures the approved exceptions in force for the host
/// accept are `excepted`.
pub async fn scan_report(state: &AppState, host: &Host) -> Result<(ScanReport, Effective), Failure> {
    let (t, effective) = tailored(state, host).await?;
    let mut report = match host.transport.as_str() {
        "local" => {
            let s = state.clone();
            tokio::task::spawn_blocking(move || local_report(&s, &t))
                .await
                .map_err(|e| failure("internal", e.to_string(), Reachability::Unknown, true))??
        }
        _ => ssh_report(state, host, &t).await?,
    };
    let today = crate::service::exceptions::today();
    let exceptions = crate::service::exceptions::in_force(state, host.id, today).await.map_err(|e| {
        failure("internal", format!("reading the host's exceptions: {e}"), Reachability::Unknown, true)
    })?;
    report.apply_exceptions(&exceptions, today);
    Ok((report, effective))
}

/// The store's posture rows for one host's results: the core's count per framework, over
/// the frameworks we ship catalogs of that apply to the host's platform and that its
/// tailoring keeps.
pub fn posture_rows<'r>(
    library: &Library,
    platform: &PlatformInfo,
    tailoring: &Effective,
    results: impl IntoIterator<Item = (&'r References, Status)>,
) -> Vec<Posture> {
    let (family, version) = (platform.family.as_deref(), platform.version.as_deref());
    let applies = library
        .frameworks()
        .filter(|f| posture::framework_applies(f, family, version) && tailoring.counts(f));
    posture::by_framework(applies, results)
        .into_iter()
        .map(|p| Posture {
            framework: p.framework,
            pass: p.pass.into(),
            fail: p.fail.into(),
            error: p.error.into(),
            not_applicable: p.not_applicable.into(),
            excepted: p.excepted.into(),
        })
        .collect()
}

/// The stored form of a report: evidence without per-scan timestamps (so identical evidence
/// is stored once), and per-framework posture for the frameworks we ship catalogs of.
pub fn outcome(
    state: &AppState,
    scan_id: i64,
    host_id: i64,
    report: &ScanReport,
    tailoring: &Effective,
) -> ScanOutcome {
    let results = report
        .results
        .iter()
        .map(|r| {
            let verdict = r.verdict;
            let evidence: Vec<Value> = r
                .evidence
                .iter()
                .map(|e| {
                    json!({"method": e.method, "source": e.source, "expected": e.expected, "actual": e.actual,
                        "observed": e.observed, "truncated": e.truncated})
                })
                .collect();
            ResultInput {
                rule_id: r.rule_id.clone(),
                verdict,
                severity: r.severity,
                reason: r.reason.clone(),
                evidence: (!evidence.is_empty()).then(|| Value::Array(evidence).to_string()),
                exception_id: r.exception.as_ref().and_then(|e| e.id.parse().ok()),
            }
        })
        .collect();
    let p = &report.host.platform;
    let platform =
        p.id.as_ref().map(|id| format!("{id} {}", p.version.as_deref().unwrap_or("")).trim().to_owned());
    let posture = posture_rows(
        &state.library,
        &report.host.platform,
        tailoring,
        report.results.iter().map(|r| (&r.references, r.verdict)),
    );
    ScanOutcome {
        scan_id,
        host_id,
        finished_at: now_ms(),
        platform,
        stats: json!(report.stats),
        summary: json!({"verdicts": report.summary, "host_key": report.host.host_key,
            "collected_at": report.finished_at, "rules": report.results.len(),
            "system": {"platform": report.host.platform, "capabilities": report.host.capabilities}}),
        results,
        posture,
    }
}

/// Run a claimed scan job to completion (stored) or failure (retried or final).
pub async fn run(state: &AppState, job: &Job, worker: &str) -> anyhow::Result<()> {
    let store = state.store();
    let scan_id = job.scan_id.ok_or_else(|| anyhow::anyhow!("scan job {} has no scan", job.id))?;
    let scan = store.scan(scan_id).await?.ok_or_else(|| anyhow::anyhow!("scan {scan_id} vanished"))?;
    let started = Instant::now();
    let fail = |f: Failure| ScanFailure {
        scan_id,
        host_id: scan.host_id,
        finished_at: now_ms(),
        kind: f.kind,
        message: f.message,
        reachability: f.reachability,
    };
    let Some(host) = store.host(scan.host_id).await? else {
        let f =
            failure("host_deleted", "the host was deleted before the scan ran", Reachability::Unknown, false);
        store.fail_scan(job, worker, &fail(f), None).await?;
        return Ok(());
    };
    store.mark_scan_running(scan_id, now_ms()).await?;
    state.events_stored.notify_waiters();
    match scan_report(state, &host).await {
        Ok((report, tailoring)) => {
            let o = outcome(state, scan_id, host.id, &report, &tailoring);
            match store.complete_scan(job, worker, &o).await? {
                Some(stats) => {
                    tracing::info!(
                        host = host.name,
                        scan_id,
                        results = stats.results,
                        changes = stats.changes,
                        ms = started.elapsed().as_millis() as u64,
                        "scan stored"
                    );
                    state.metrics.observe_scan("succeeded", started.elapsed().as_secs_f64());
                }
                None => {
                    tracing::warn!(scan_id, "lease lost before completion; another worker retries the scan")
                }
            }
        }
        Err(f) => {
            let retry_at = (f.retryable && job.attempts < job.max_attempts).then(|| {
                let backoff =
                    state.config.job_retry_base_secs.saturating_mul(1 << (job.attempts - 1).clamp(0, 10));
                now_ms() + backoff as i64 * 1000
            });
            tracing::warn!(
                host = host.name,
                scan_id,
                kind = f.kind,
                error = f.message,
                retry = retry_at.is_some(),
                "scan failed"
            );
            state.metrics.observe_scan("failed", started.elapsed().as_secs_f64());
            store.fail_scan(job, worker, &fail(f), retry_at).await?;
        }
    }
    state.events_stored.notify_waiters();
    Ok(())
}

/// The result of a connection test.
#[derive(Debug, Serialize)]
pub struct ConnectionTest {
    /// `ok`, or the failure kind (`unreachable`, `host_key_pending`, `auth`...).
    pub status: String,
    pub message: String,
    pub host_key: Option<Value>,
}

/// Connect and log in without scanning; a first-contact key is recorded for approval.
pub async fn test_connection(
    state: &AppState,
    host: &Host,
) -> Result<ConnectionTest, crate::service::ServiceError> {
    if host.transport == openwatch_store::Transport::Local {
        return Ok(ConnectionTest { status: "ok".into(), message: "local host".into(), host_key: None });
    }
    let (target, pinned) = match ssh_target(state, host).await {
        Ok(t) => t,
        Err(f) => return Ok(ConnectionTest { status: f.kind, message: f.message, host_key: None }),
    };
    let result = SshSession::connect(&target).await;
    let outcome = match result {
        Ok(s) => {
            let key = json!({"fingerprint": s.host_key().fingerprint(), "status": s.host_key().label()});
            s.close().await;
            state.store().set_reachability(host.id, Reachability::Reachable, None).await?;
            ConnectionTest {
                status: "ok".into(),
                message: "connected and logged in".into(),
                host_key: Some(key),
            }
        }
        Err(e) => {
            let f = if e.kind == openwatch_ssh::FailureKind::HostKey {
                host_key_problem(state, host, pinned, e.presented_key.clone(), e.to_string()).await
            } else {
                ssh_failure(e.kind.as_str(), e.to_string())
            };
            state.store().set_reachability(host.id, f.reachability, Some(&f.message)).await?;
            ConnectionTest { status: f.kind, message: f.message, host_key: None }
        }
    };
    Ok(outcome)
}
