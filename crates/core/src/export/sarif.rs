//! SARIF 2.1.0, so CI systems show a scan's findings natively: one run, every rule that
//! was evaluated in `tool.driver.rules`, and one result per host and rule. Failures and
//! errors are `fail`/`review` results with a level from the rule's severity; passes,
//! not-applicable and skipped rules are kept (kinds `pass`, `notApplicable`, `informational`)
//! so the file is the whole scan; an accepted risk is a failure with an accepted external
//! suppression carrying the exception's id, justification and expiry.
//!
//! Findings are about hosts, not source files, so each result's location is a logical
//! location, the host (kind `resource`); the evidence is in the result's `properties`.

use std::collections::HashMap;

use serde::Serialize;

use serde_json::{Value, json};

use crate::eval::Status;
use crate::report::{RuleResult, ScanReport};
use crate::rule::Severity;

/// The SARIF document for these reports, written by OpenWatch `version`; serialize it (once)
/// with serde_json. Results are produced one at a time while it is written.
pub fn write<'a>(reports: &'a [ScanReport], version: &str) -> impl Serialize + 'a {
    let mut index = HashMap::<&'a str, usize>::new();
    let mut rules = Vec::new();
    for r in reports.iter().flat_map(|r| &r.results) {
        if !index.contains_key(r.rule_id.as_str()) {
            index.insert(&r.rule_id, rules.len());
            rules.push(rule(r));
        }
    }
    let notifications: Vec<Value> = reports
        .iter()
        .filter_map(|rep| {
            rep.error.as_ref().map(|e| {
                json!({
                    "level": "error",
                    "message": {"text": format!("{} was not scanned ({}): {}", rep.host.name, e.kind, e.message)},
                    "locations": [host_location(rep)],
                })
            })
        })
        .collect();
    let (started, finished) = super::period(reports);
    let mut invocation = json!({"executionSuccessful": reports.iter().all(|r| r.error.is_none())});
    if !started.is_empty() {
        invocation["startTimeUtc"] = json!(started);
        invocation["endTimeUtc"] = json!(finished);
    }
    if !notifications.is_empty() {
        invocation["toolExecutionNotifications"] = json!(notifications);
    }
    Log {
        schema: "https://json.schemastore.org/sarif-2.1.0.json",
        version: "2.1.0",
        runs: [Run {
            tool: json!({"driver": {"name": "OpenWatch", "semanticVersion": version, "rules": rules}}),
            invocations: [invocation],
            results: Results { reports, index },
        }],
    }
}

#[derive(Serialize)]
struct Log<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: [Run<'a>; 1],
}

#[derive(Serialize)]
struct Run<'a> {
    tool: Value,
    invocations: [Value; 1],
    results: Results<'a>,
}

/// Every host's results, written one at a time.
struct Results<'a> {
    reports: &'a [ScanReport],
    index: HashMap<&'a str, usize>,
}

impl Serialize for Results<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(
            self.reports.iter().flat_map(|rep| {
                rep.results.iter().map(move |r| result(rep, r, self.index[r.rule_id.as_str()]))
            }),
        )
    }
}

/// The SARIF level of a failing rule of this severity.
pub fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "note",
    }
}

/// A 0.0-10.0 score for code-scanning UIs that rank by `security-severity`.
fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
    }
}

fn rule(r: &RuleResult) -> Value {
    let refs = &r.references;
    let mut tags = vec!["security".to_owned(), "compliance".to_owned()];
    for (platform, cis) in &refs.cis {
        tags.push(format!("CIS-{platform}-{}", cis.section.as_str()));
    }
    tags.extend(refs.nist_800_53.iter().map(|c| format!("NIST-800-53-{c}")));
    tags.extend(refs.pci_dss_4.iter().map(|c| format!("PCI-DSS-4-{c}")));
    json!({
        "id": r.rule_id,
        "shortDescription": {"text": r.title},
        "defaultConfiguration": {"level": level(r.severity)},
        "properties": {
            "tags": tags,
            "security-severity": security_severity(r.severity),
            "severity": r.severity.as_str(),
            "references": refs,
        },
    })
}

fn host_location(rep: &ScanReport) -> Value {
    json!({"logicalLocations": [{
        "name": rep.host.name,
        "fullyQualifiedName": format!("{}/{}", rep.host.name, rep.host.address),
        "kind": "resource",
    }]})
}

fn result(rep: &ScanReport, r: &RuleResult, rule_index: usize) -> Value {
    let (kind, level) = match r.verdict {
        Status::Fail | Status::Excepted => ("fail", level(r.severity)),
        Status::Error => ("review", "warning"),
        Status::Pass => ("pass", "none"),
        Status::NotApplicable => ("notApplicable", "none"),
        Status::Skipped => ("informational", "none"),
    };
    let text = if r.reason.is_empty() {
        format!("{}: {}", r.title, r.verdict.as_str())
    } else {
        format!("{}: {}", r.title, r.reason)
    };
    let evidence: Vec<Value> = r
        .evidence
        .iter()
        .map(|e| json!({"source": e.source, "expected": e.expected, "actual": e.actual}))
        .collect();
    let mut v = json!({
        "ruleId": r.rule_id,
        "ruleIndex": rule_index,
        "kind": kind,
        "level": level,
        "message": {"text": text},
        "locations": [host_location(rep)],
        "partialFingerprints": {"openwatch/host-rule/v1": format!("{}:{}", rep.host.name, r.rule_id)},
        "properties": {"host": rep.host.name, "verdict": r.verdict.as_str(), "evidence": evidence},
    });
    if let Some(e) = &r.exception {
        v["suppressions"] = json!([{
            "kind": "external",
            "status": "accepted",
            "justification": format!("{} (exception {}, until {})", e.justification, e.id, e.expires),
        }]);
    }
    v
}
