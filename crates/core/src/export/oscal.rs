//! OSCAL 1.1.2 documents (JSON) for NIST SP 800-53 rev. 5: Assessment Results and a Plan
//! of Action and Milestones from scans, and a component definition of the rule library.
//! Assessment Results: one result covering the
//! hosts of the reports, each host an inventory item, each evaluated rule on a host an
//! observation (method TEST, type discovery) carrying its evidence, and one finding per
//! control the rules map to, `satisfied` unless a rule mapped to it fails (or is an accepted
//! risk, or undecided) on some host.
//!
//! UUIDs are name-based (v5) from what they identify and the scan times, so the same reports
//! give the same document, and a host or control keeps its UUID within it.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::eval::Status;
use crate::report::{RuleResult, ScanReport};
use crate::rule::Rule;

/// The namespace of every UUID OpenWatch derives.
const NAMESPACE: Uuid = Uuid::from_u128(0x1c88d7b9_5371_4e4d_b432_8c9f7b87e1be);
/// The `ns` of OpenWatch's own properties.
pub const PROP_NS: &str = "urn:openwatch:oscal";
pub const OSCAL_VERSION: &str = "1.1.2";

fn uuid(parts: &[&str]) -> String {
    Uuid::new_v5(&NAMESPACE, parts.join("\u{1f}").as_bytes()).to_string()
}

/// An SP 800-53 identifier as OSCAL's catalog names it: `AC-2(3)` -> `ac-2.3`.
pub fn control_id(nist: &str) -> String {
    let lower = nist.trim().to_ascii_lowercase();
    match lower.split_once('(') {
        Some((base, rest)) => format!("{base}.{}", rest.trim_end_matches(')')),
        None => lower,
    }
}

/// The observations of the reports' results that `keep` selects, produced one at a time
/// while the document is written, so a fleet's document is never held whole in memory.
struct Observations<'a> {
    reports: &'a [ScanReport],
    seed: String,
    keep: fn(&RuleResult) -> bool,
}

impl Observations<'_> {
    fn is_empty(&self) -> bool {
        !self.reports.iter().flat_map(|r| &r.results).any(self.keep)
    }
}

impl Serialize for Observations<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.reports.iter().enumerate().flat_map(|(i, rep)| {
            let index = i.to_string();
            let item = inventory_uuid(&self.seed, &index, rep);
            rep.results
                .iter()
                .filter(|r| (self.keep)(r))
                .map(move |r| observation(rep, r, &observation_uuid(&self.seed, &index, r), &item))
        }))
    }
}

fn inventory_uuid(seed: &str, index: &str, rep: &ScanReport) -> String {
    uuid(&["inventory-item", seed, index, &rep.host.name])
}

fn observation_uuid(seed: &str, index: &str, r: &RuleResult) -> String {
    uuid(&["observation", seed, index, &r.rule_id])
}

/// `{"observation-uuid": ...}`
#[derive(Serialize)]
struct ObservationRef {
    #[serde(rename = "observation-uuid")]
    uuid: String,
}

fn decided(r: &RuleResult) -> bool {
    !matches!(r.verdict, Status::NotApplicable | Status::Skipped)
}

fn failed(r: &RuleResult) -> bool {
    matches!(r.verdict, Status::Fail | Status::Excepted)
}

#[derive(Serialize)]
struct Finding {
    uuid: String,
    title: String,
    description: String,
    target: Value,
    #[serde(rename = "related-observations")]
    related: Vec<ObservationRef>,
}

#[derive(Serialize)]
struct ArDocument<'a> {
    #[serde(rename = "assessment-results")]
    body: ArBody<'a>,
}

#[derive(Serialize)]
struct ArBody<'a> {
    uuid: String,
    metadata: Value,
    #[serde(rename = "import-ap")]
    import_ap: Value,
    results: [ArResult<'a>; 1],
    #[serde(rename = "back-matter")]
    back_matter: Value,
}

#[derive(Serialize)]
struct ArResult<'a> {
    uuid: String,
    title: String,
    description: &'static str,
    start: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    end: &'a str,
    #[serde(rename = "reviewed-controls")]
    reviewed_controls: Value,
    #[serde(rename = "local-definitions")]
    local_definitions: Value,
    #[serde(skip_serializing_if = "Observations::is_empty")]
    observations: Observations<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    findings: Vec<Finding>,
}

/// A document's metadata: OSCAL's required fields and who wrote it.
fn metadata(title: &str, last_modified: &str, version: &str) -> Value {
    json!({
        "title": title,
        "last-modified": last_modified,
        "version": version,
        "oscal-version": OSCAL_VERSION,
        "props": [{"name": "generator", "ns": PROP_NS, "value": format!("OpenWatch {version}")}],
    })
}

/// What every document about these reports shares: their time span and the seed of their
/// UUIDs.
struct Span<'a> {
    start: &'a str,
    end: &'a str,
    seed: String,
}

fn span(reports: &[ScanReport]) -> Span<'_> {
    let (start, end) = super::period(reports);
    let hosts: Vec<&str> = reports.iter().map(|r| r.host.name.as_str()).collect();
    Span { start, end, seed: format!("{start}|{end}|{}", hosts.join(",")) }
}

/// The Assessment Results document for these reports, written by OpenWatch `version`;
/// serialize it (once) with serde_json.
pub fn assessment_results<'a>(reports: &'a [ScanReport], version: &str) -> impl Serialize + 'a {
    let Span { start, end, seed } = span(reports);
    let doc_uuid = uuid(&["assessment-results", &seed]);
    let plan_uuid = uuid(&["plan", &seed]);
    let result_uuid = uuid(&["result", &seed]);

    let mut inventory = Vec::new();
    // control -> (observation uuids, whether some result is not a pass)
    let mut controls: BTreeMap<String, (Vec<ObservationRef>, bool)> = BTreeMap::new();
    for (i, rep) in reports.iter().enumerate() {
        let index = i.to_string();
        inventory.push(json!({
            "uuid": inventory_uuid(&seed, &index, rep),
            "description": format!("Host {} ({}){}", rep.host.name, rep.host.address,
                rep.host.platform.pretty_name.as_deref().map(|p| format!(", {p}")).unwrap_or_default()),
            "props": [{"name": "host-name", "ns": PROP_NS, "value": rep.host.name}],
            "remarks": rep.error.as_ref().map_or_else(|| "Scanned.".to_owned(), |e| format!("Not scanned ({}): {}", e.kind, e.message)),
        }));
        for r in rep.results.iter().filter(|r| decided(r)) {
            let failing = r.verdict != Status::Pass;
            for c in &r.references.nist_800_53 {
                let e = controls.entry(control_id(c)).or_default();
                e.0.push(ObservationRef { uuid: observation_uuid(&seed, &index, r) });
                e.1 |= failing;
            }
        }
    }
    let selection = if controls.is_empty() {
        json!({"include-all": {}})
    } else {
        let ids: BTreeSet<&String> = controls.keys().collect();
        json!({"include-controls": ids.into_iter().map(|c| json!({"control-id": c})).collect::<Vec<_>>()})
    };
    let findings: Vec<Finding> = controls
        .into_iter()
        .map(|(control, (related, failing))| {
            let state = if failing { "not-satisfied" } else { "satisfied" };
            Finding {
                uuid: uuid(&["finding", &seed, &control]),
                title: format!("{} {state}", control.to_ascii_uppercase()),
                description: format!(
                    "{} OpenWatch rule result{} on the assessed hosts bear on {control}; {}.",
                    related.len(),
                    if related.len() == 1 { "" } else { "s" },
                    if failing { "at least one is not a pass" } else { "all pass" }
                ),
                target: json!({"type": "objective-id", "target-id": format!("{control}_obj"), "status": {"state": state}}),
                related,
            }
        })
        .collect();
    ArDocument {
        body: ArBody {
            uuid: doc_uuid,
            metadata: metadata("OpenWatch assessment results", end, version),
            import_ap: json!({"href": format!("#{plan_uuid}")}),
            results: [ArResult {
                uuid: result_uuid,
                title: format!(
                    "OpenWatch scan of {} host{}",
                    reports.len(),
                    if reports.len() == 1 { "" } else { "s" }
                ),
                description: "Automated configuration checks of each host against OpenWatch's rule library, mapped to NIST SP 800-53 rev. 5 controls.",
                start,
                end,
                reviewed_controls: json!({"control-selections": [selection]}),
                local_definitions: json!({"inventory-items": inventory}),
                observations: Observations { reports, seed, keep: decided },
                findings,
            }],
            back_matter: json!({"resources": [{
                "uuid": plan_uuid,
                "title": "OpenWatch scan",
                "description": "The assessment plan is the OpenWatch scan itself: every applicable rule of the library, evaluated on each host in one collection pass.",
            }]}),
        },
    }
}

/// A rule failing on some hosts, as the POA&M gathers it.
struct Failing<'a> {
    /// The first host's result (title, severity, references).
    result: &'a RuleResult,
    observations: Vec<String>,
    /// Every failure is an accepted risk.
    accepted: bool,
    /// The earliest expiry of those acceptances.
    deadline: Option<String>,
}

/// Why there is no POA&M to write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("nothing to plan: no rule fails on the {0} host(s) of this scan (a POA&M needs at least one item)")]
pub struct NothingToPlan(pub usize);

/// The OSCAL 1.1.2 Plan of Action and Milestones for these reports: a POA&M item and a risk
/// per failing rule (across hosts), with an observation per host it fails on. A risk is
/// `open` while a failure on some host is not accepted, `deviation-approved` (with the
/// earliest expiry as its deadline) when every failure is an accepted risk.
pub fn poam<'a>(reports: &'a [ScanReport], version: &str) -> Result<impl Serialize + 'a, NothingToPlan> {
    let Span { end, seed, .. } = span(reports);
    let hosts: Vec<&str> = reports.iter().map(|r| r.host.name.as_str()).collect();
    let mut inventory = Vec::new();
    let mut failing: BTreeMap<&str, Failing> = BTreeMap::new();
    for (i, rep) in reports.iter().enumerate() {
        let index = i.to_string();
        let item = inventory_uuid(&seed, &index, rep);
        let mut used = false;
        for r in rep.results.iter().filter(|r| failed(r)) {
            used = true;
            let obs = observation_uuid(&seed, &index, r);
            let e = failing.entry(&r.rule_id).or_insert(Failing {
                result: r,
                observations: Vec::new(),
                accepted: true,
                deadline: None,
            });
            e.observations.push(obs);
            match &r.exception {
                Some(x) => {
                    let until = format!("{}T23:59:59Z", x.expires);
                    if e.deadline.as_ref().is_none_or(|d| &until < d) {
                        e.deadline = Some(until);
                    }
                }
                None => e.accepted = false,
            }
        }
        if used {
            inventory.push(json!({"uuid": item, "description": format!("Host {} ({})", rep.host.name, rep.host.address)}));
        }
    }
    if failing.is_empty() {
        return Err(NothingToPlan(reports.len()));
    }
    let mut risks = Vec::new();
    let mut items = Vec::new();
    for (rule, Failing { result: r, observations: obs, accepted, deadline }) in &failing {
        let risk = uuid(&["risk", &seed, rule]);
        let related: Vec<Value> = obs.iter().map(|o| json!({"observation-uuid": o})).collect();
        let controls: Vec<String> = r.references.nist_800_53.iter().map(|c| control_id(c)).collect();
        let mut v = json!({
            "uuid": risk,
            "title": r.title,
            "description": format!("{} fails on {} host{} ({} severity).", r.rule_id, obs.len(), if obs.len() == 1 { "" } else { "s" }, r.severity.as_str()),
            "statement": format!("Until fixed, the hosts do not meet {}.",
                if controls.is_empty() { "this rule's requirement".to_owned() } else { controls.join(", ") }),
            "props": [{"name": "rule-id", "ns": PROP_NS, "value": rule}],
            "status": if *accepted { "deviation-approved" } else { "open" },
            "related-observations": related.clone(),
        });
        if *accepted && let Some(d) = deadline {
            v["deadline"] = json!(d);
        }
        risks.push(v);
        items.push(json!({
            "uuid": uuid(&["poam-item", &seed, rule]),
            "title": format!("Fix: {}", r.title),
            "description": format!("Make {rule} pass on every host it fails on; `openwatch fix` previews and applies the rule's remediation."),
            "related-observations": related,
            "related-risks": [{"risk-uuid": risk}],
        }));
    }
    let doc = uuid(&["poam", &seed]);
    Ok(PoamDocument {
        body: PoamBody {
            uuid: doc,
            metadata: metadata("OpenWatch plan of action and milestones", end, version),
            system_id: json!({"identifier-type": "http://ietf.org/rfc/rfc4122", "id": uuid(&["system", &hosts.join(",")])}),
            local_definitions: json!({"inventory-items": inventory}),
            observations: Observations { reports, seed, keep: failed },
            risks,
            poam_items: items,
        },
    })
}

#[derive(Serialize)]
struct PoamDocument<'a> {
    #[serde(rename = "plan-of-action-and-milestones")]
    body: PoamBody<'a>,
}

#[derive(Serialize)]
struct PoamBody<'a> {
    uuid: String,
    metadata: Value,
    #[serde(rename = "system-id")]
    system_id: Value,
    #[serde(rename = "local-definitions")]
    local_definitions: Value,
    observations: Observations<'a>,
    risks: Vec<Value>,
    #[serde(rename = "poam-items")]
    poam_items: Vec<Value>,
}

/// The catalog the component definition's controls come from: NIST's OSCAL SP 800-53 rev. 5.
pub const SP800_53_CATALOG: &str = "https://raw.githubusercontent.com/usnistgov/oscal-content/main/nist.gov/SP800-53/rev5/json/NIST_SP-800-53_rev5_catalog.json";

/// An OSCAL 1.1.2 component definition of the rule library `rules`: one software component,
/// and per SP 800-53 control the rules that check it. `last_modified` is an RFC 3339 time
/// (the caller's clock; the core has none).
pub fn component_definition(rules: &[Rule], version: &str, last_modified: &str) -> Value {
    let mut by_control: BTreeMap<String, Vec<&Rule>> = BTreeMap::new();
    for r in rules {
        for c in &r.raw.references.nist_800_53 {
            by_control.entry(control_id(c)).or_default().push(r);
        }
    }
    let seed = format!("{version}|{}", rules.len());
    let requirements: Vec<Value> = by_control
        .iter()
        .map(|(control, rs)| {
            let names: Vec<String> = rs.iter().map(|r| format!("{} ({})", r.raw.title.as_str(), r.id())).collect();
            json!({
                "uuid": uuid(&["implemented-requirement", &seed, control]),
                "control-id": control,
                "description": format!("Checked on each host by OpenWatch: {}.", names.join("; ")),
                "props": rs.iter().map(|r| json!({"name": "rule-id", "ns": PROP_NS, "value": r.id()})).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({"component-definition": {
        "uuid": uuid(&["component-definition", &seed]),
        "metadata": {
            "title": "OpenWatch rule library",
            "last-modified": last_modified,
            "version": version,
            "oscal-version": OSCAL_VERSION,
        },
        "components": [{
            "uuid": uuid(&["component", &seed]),
            "type": "software",
            "title": "OpenWatch",
            "description": format!("OpenWatch's rule library: {} typed configuration checks for Linux hosts, run agentlessly over SSH.", rules.len()),
            "control-implementations": [{
                "uuid": uuid(&["control-implementation", &seed]),
                "source": SP800_53_CATALOG,
                "description": "The NIST SP 800-53 rev. 5 controls OpenWatch's rules check, and the rules that check each.",
                "implemented-requirements": requirements,
            }],
        }],
    }})
}

fn observation(rep: &ScanReport, r: &RuleResult, obs: &str, item: &str) -> Value {
    let collected = r.evidence.first().map_or(rep.finished_at.as_str(), |e| e.collected_at.as_str());
    let mut description = format!("{}: {}", r.verdict.as_str(), r.reason);
    if let Some(e) = &r.exception {
        description.push_str(&format!(" (accepted risk {} until {}: {})", e.id, e.expires, e.justification));
    }
    let mut props = vec![
        json!({"name": "rule-id", "ns": PROP_NS, "value": r.rule_id}),
        json!({"name": "verdict", "ns": PROP_NS, "value": r.verdict.as_str()}),
        json!({"name": "severity", "ns": PROP_NS, "value": r.severity.as_str()}),
    ];
    for (platform, cis) in &r.references.cis {
        props.push(json!({"name": "cis", "ns": PROP_NS, "class": platform, "value": cis.section.as_str()}));
    }
    let mut v = json!({
        "uuid": obs,
        "title": r.title,
        "description": description,
        "props": props,
        "methods": ["TEST"],
        "types": ["discovery"],
        "subjects": [{"subject-uuid": item, "type": "inventory-item"}],
        "collected": collected,
    });
    if !r.evidence.is_empty() {
        v["relevant-evidence"] = json!(
            r.evidence.iter().map(|e| json!({"description": super::evidence_line(e)})).collect::<Vec<_>>()
        );
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_ids_follow_the_catalog() {
        assert_eq!(control_id("AC-2(3)"), "ac-2.3");
        assert_eq!(control_id("SC-7"), "sc-7");
        assert_eq!(control_id(" IA-5(1) "), "ia-5.1");
    }

    #[test]
    fn uuids_are_stable_and_distinct() {
        assert_eq!(uuid(&["a", "b"]), uuid(&["a", "b"]));
        assert_ne!(uuid(&["a", "b"]), uuid(&["ab"]));
    }
}
