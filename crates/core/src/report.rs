//! Running the engine over collected facts, and the `openwatch.scan/v1` document.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::capability::CapabilitySet;
use crate::eval::{self, Context, Evidence, Status};
use crate::facts::FactSet;
use crate::plan::OS_RELEASE;
use crate::rule::{HostPlatform, References, Rule, Severity};
use crate::vars::{Overrides, bindings_for};

pub const SCHEMA: &str = "openwatch.scan/v1";
/// Several hosts' reports in one document (`scan` of a fleet, `--format json`).
pub const FLEET_SCHEMA: &str = "openwatch.fleet/v1";

fn schema() -> &'static str {
    SCHEMA
}

/// Why a document could not be read back as scan reports.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{line}:{column}: {message}")]
    Json { line: usize, column: usize, message: String },
    #[error("not an OpenWatch scan: schema {0:?} (expected {SCHEMA} or {FLEET_SCHEMA})")]
    Schema(String),
}

/// The reports in an `openwatch.scan/v1` or `openwatch.fleet/v1` JSON document (what
/// `scan --format json` printed), their summaries derived again.
pub fn read_documents(text: &str) -> Result<Vec<ScanReport>, ReadError> {
    let json = |e: serde_json::Error| {
        let message = e.to_string();
        let at = format!(" at line {} column {}", e.line(), e.column());
        let message = message.strip_suffix(&at).unwrap_or(&message).to_owned();
        ReadError::Json { line: e.line(), column: e.column(), message }
    };
    #[derive(Deserialize)]
    struct Head {
        #[serde(default)]
        schema: String,
    }
    #[derive(Deserialize)]
    struct Fleet {
        hosts: Vec<ScanReport>,
    }
    let head: Head = serde_json::from_str(text).map_err(json)?;
    let mut reports = match head.schema.as_str() {
        SCHEMA => vec![serde_json::from_str::<ScanReport>(text).map_err(json)?],
        FLEET_SCHEMA => serde_json::from_str::<Fleet>(text).map_err(json)?.hosts,
        other => return Err(ReadError::Schema(other.to_owned())),
    };
    for r in &mut reports {
        r.summary = summarize(&r.results);
    }
    Ok(reports)
}

/// The verdict for one rule on one host.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RuleResult {
    pub rule_id: String,
    pub title: String,
    pub severity: Severity,
    pub verdict: Status,
    pub reason: String,
    /// The capability gate of the implementation used (`default` for the fallback).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub implementation: Option<String>,
    pub references: References,
    pub evidence: Vec<Evidence>,
    /// The exception that accepts this failure (verdict `excepted`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exception: Option<crate::exceptions::Excepted>,
}

/// Options for one evaluation.
#[derive(Debug, Clone, Default)]
pub struct EvalOptions {
    pub overrides: Overrides,
    pub walks_enabled: bool,
}

/// What evaluation learnt about the host itself.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HostFacts {
    pub platform: HostPlatform,
    pub capabilities: CapabilitySet,
}

pub fn host_facts(facts: &FactSet) -> HostFacts {
    let platform = facts
        .file(OS_RELEASE)
        .ok()
        .flatten()
        .and_then(|e| e.content.as_deref())
        .map(HostPlatform::from_os_release)
        .unwrap_or_default();
    let capabilities = facts.probes().map(|p| p.capabilities()).unwrap_or_default();
    HostFacts { platform, capabilities }
}

/// Evaluate each rule; results come in the order of `rules`.
pub fn evaluate<'a>(
    rules: impl IntoIterator<Item = &'a Rule>,
    facts: &FactSet,
    host: &HostFacts,
    opts: &EvalOptions,
) -> Vec<RuleResult> {
    rules.into_iter().map(|rule| evaluate_rule(rule, facts, host, opts)).collect()
}

pub fn evaluate_rule(rule: &Rule, facts: &FactSet, host: &HostFacts, opts: &EvalOptions) -> RuleResult {
    let raw = &rule.raw;
    let result = |verdict: Status,
                  reason: String,
                  implementation: Option<String>,
                  evidence: Vec<Evidence>| RuleResult {
        rule_id: rule.id().to_owned(),
        title: raw.title.as_str().to_owned(),
        severity: raw.severity,
        verdict,
        reason,
        implementation,
        references: raw.references.clone(),
        evidence,
        exception: None,
    };
    if !raw.platforms.iter().any(|p| p.matches(&host.platform)) {
        let wanted: Vec<String> = raw.platforms.iter().map(ToString::to_string).collect();
        return result(
            Status::NotApplicable,
            format!("host runs {}; rule targets {}", host.platform.label(), wanted.join(", ")),
            None,
            Vec::new(),
        );
    }
    let Some(imp) = rule.select_implementation(&host.capabilities) else {
        let gates: Vec<String> = raw
            .implementations
            .iter()
            .filter_map(|i| i.value.when.as_ref().map(ToString::to_string))
            .collect();
        return result(
            Status::NotApplicable,
            format!("host lacks what every implementation requires: {}", gates.join(" | ")),
            None,
            Vec::new(),
        );
    };
    let bindings = bindings_for(rule, &opts.overrides);
    let ctx = Context {
        facts,
        capabilities: &host.capabilities,
        platform: &host.platform,
        bindings: &bindings,
        walks_enabled: opts.walks_enabled,
        sensitive: rule.sensitive(),
    };
    let outcome = eval::evaluate(&imp.check, &ctx);
    let gate = imp.when.as_ref().map_or_else(|| "default".to_owned(), ToString::to_string);
    result(outcome.status, outcome.reason, Some(gate), outcome.evidence)
}

/// Count of each verdict; every verdict appears, zero or not.
pub fn summarize(results: &[RuleResult]) -> BTreeMap<&'static str, usize> {
    let mut s: BTreeMap<&'static str, usize> = Status::ALL.iter().map(|v| (v.as_str(), 0)).collect();
    for r in results {
        *s.entry(r.verdict.as_str()).or_default() += 1;
    }
    s
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PlatformInfo {
    pub family: Option<String>,
    pub version: Option<String>,
    pub id: Option<String>,
    pub id_like: Vec<String>,
    pub pretty_name: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostInfo {
    pub name: String,
    pub address: String,
    pub platform: PlatformInfo,
    pub capabilities: CapabilitySet,
    /// How the host's SSH key was trusted (absent for local scans).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_key: Option<HostKeyInfo>,
}

/// The SSH host key a scan trusted, and why.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostKeyInfo {
    pub fingerprint: String,
    /// `known`, `pinned` or `accepted-new` (trusted on first use because the user asked).
    pub status: String,
}

/// Why a host could not be scanned.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostError {
    /// `unreachable`, `timeout`, `host_key`, `auth`, `sudo`, `protocol` or `collection`.
    pub kind: String,
    pub message: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Stats {
    /// Set from the results by [`ScanReport::new`].
    pub rules_evaluated: usize,
    pub facts_collected: usize,
    pub round_trips: u32,
    pub bytes_transferred: u64,
    pub duration_ms: u64,
    pub collect_ms: u64,
    pub evaluate_ms: u64,
}

/// One host's scan, as printed by `--format json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScanReport {
    #[serde(skip_deserializing, default = "schema")]
    pub schema: &'static str,
    pub host: HostInfo,
    pub started_at: String,
    pub finished_at: String,
    pub stats: Stats,
    /// Derived from `results` (also when read back: see [`read_documents`]).
    #[serde(skip_deserializing)]
    pub summary: BTreeMap<&'static str, usize>,
    pub results: Vec<RuleResult>,
    /// Set when the host could not be scanned; `results` is then empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<HostError>,
}

impl ScanReport {
    /// Turn the failures `exceptions` accept on this host (by name or address) into
    /// `excepted`, and count again. Returns how many changed.
    pub fn apply_exceptions(
        &mut self,
        exceptions: &[crate::exceptions::Exception],
        today: crate::exceptions::Date,
    ) -> usize {
        let (name, address) = (self.host.name.as_str(), self.host.address.as_str());
        let host = [name, address, bare(name), bare(address)];
        let changed = crate::exceptions::apply(&mut self.results, exceptions, &host, today);
        self.summary = summarize(&self.results);
        changed
    }

    /// A scanned host's report; the rule count and the summary are derived from `results`.
    pub fn new(
        host: HostInfo,
        started_at: String,
        finished_at: String,
        stats: Stats,
        results: Vec<RuleResult>,
    ) -> ScanReport {
        ScanReport {
            schema: SCHEMA,
            host,
            started_at,
            finished_at,
            stats: Stats { rules_evaluated: results.len(), ..stats },
            summary: summarize(&results),
            results,
            error: None,
        }
    }

    /// The report of a host that could not be scanned.
    pub fn failed(
        host: HostInfo,
        started_at: String,
        finished_at: String,
        duration_ms: u64,
        error: HostError,
    ) -> ScanReport {
        let stats = Stats { duration_ms, ..Stats::default() };
        ScanReport { error: Some(error), ..ScanReport::new(host, started_at, finished_at, stats, Vec::new()) }
    }
}

/// A target without `user@` and `:port` (`root@[fe80::1]:2222` -> `fe80::1`), so an
/// exception naming the host matches whichever way the scan was pointed at it.
fn bare(target: &str) -> &str {
    let host = target.rsplit_once('@').map_or(target, |(_, h)| h);
    if let Some(inner) = host.strip_prefix('[') {
        return inner.split_once(']').map_or(inner, |(h, _)| h);
    }
    match host.rsplit_once(':') {
        Some((h, port)) if !h.contains(':') && port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    }
}

impl HostInfo {
    pub fn new(name: String, address: String, host: &HostFacts) -> HostInfo {
        let p = &host.platform;
        HostInfo {
            name,
            address,
            platform: PlatformInfo {
                family: p.family().map(str::to_owned),
                version: p.version_id.clone(),
                id: p.id.clone(),
                id_like: p.id_like.clone(),
                pretty_name: p.pretty_name.clone(),
            },
            capabilities: host.capabilities.clone(),
            host_key: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::bare;

    #[test]
    fn bare_targets_drop_user_and_port() {
        for (target, host) in [
            ("root@10.0.0.5", "10.0.0.5"),
            ("10.0.0.5:22", "10.0.0.5"),
            ("admin@web-01:2200", "web-01"),
            ("root@[fe80::1]:2222", "fe80::1"),
            ("fe80::1", "fe80::1"),
            ("web-01", "web-01"),
        ] {
            assert_eq!(bare(target), host, "{target}");
        }
    }
}
