//! Chef InSpec's `--reporter json` output: one host (the report's platform), a result per
//! control of every profile, decided by the control's tests (any failed: fail; all skipped:
//! skipped; none run: skipped), a waived control `excepted`. The controls a control cites
//! come from its tags (`nist`, `cis_controls`, a `cis` section) and are kept as references.
//! All or nothing: a file that is not such a report fails whole, naming where.

use serde::Deserialize;
use serde_json::Value;

use super::{ForeignRef, ImportError, ImportedHost, ImportedResult};
use crate::eval::Status;

#[derive(Deserialize)]
struct Report {
    platform: Platform,
    profiles: Vec<Profile>,
    #[serde(default)]
    version: Option<String>,
}

#[derive(Deserialize)]
struct Platform {
    name: String,
    #[serde(default)]
    release: Option<String>,
    #[serde(default)]
    target_id: Option<String>,
}

#[derive(Deserialize)]
struct Profile {
    name: String,
    #[serde(default)]
    controls: Vec<Control>,
}

#[derive(Deserialize)]
struct Control {
    id: String,
    #[serde(default)]
    impact: f64,
    #[serde(default)]
    tags: serde_json::Map<String, Value>,
    #[serde(default)]
    results: Vec<TestResult>,
    #[serde(default)]
    waiver_data: Option<Value>,
}

#[derive(Deserialize)]
struct TestResult {
    status: String,
    #[serde(default)]
    code_desc: String,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    skip_message: Option<String>,
    #[serde(default)]
    start_time: Option<String>,
}

/// Parse an InSpec JSON report; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Vec<ImportedHost>, ImportError> {
    let report: Report =
        serde_json::from_str(text).map_err(|e| super::json_error(file, "not an InSpec JSON report", &e))?;
    let mut results = Vec::new();
    let mut started: Option<String> = None;
    for profile in &report.profiles {
        for c in &profile.controls {
            let statuses: Vec<&str> = c.results.iter().map(|r| r.status.as_str()).collect();
            if let Some(bad) =
                statuses.iter().find(|s| !matches!(**s, "passed" | "failed" | "skipped" | "error"))
            {
                // serde_json keeps no positions after parsing: found again in the text, after
                // the control's id.
                let (line, col) = super::position(text, &[&format!("\"{}\"", c.id), &format!("\"{bad}\"")]);
                return Err(ImportError::new(
                    file,
                    line,
                    col,
                    format!(
                        "control {} of profile {}: test status {bad:?} is not passed, failed or skipped",
                        c.id, profile.name
                    ),
                ));
            }
            let waived = c.waiver_data.as_ref().is_some_and(|w| {
                w.get("skipped_due_to_waiver") == Some(&Value::Bool(true))
                    || w.get("run") == Some(&Value::Bool(false))
            });
            let (raw, verdict) = if statuses.contains(&"failed") {
                if waived { ("failed (waived)", Status::Excepted) } else { ("failed", Status::Fail) }
            } else if statuses.contains(&"error") {
                ("error", Status::Error)
            } else if !statuses.is_empty() && statuses.iter().all(|s| *s == "passed") {
                ("passed", Status::Pass)
            } else if statuses.contains(&"passed") {
                // Some tests passed, the others were skipped: nothing failed.
                ("passed", Status::Pass)
            } else if waived {
                ("skipped (waived)", Status::Excepted)
            } else {
                ("skipped", Status::Skipped)
            };
            let message = c
                .results
                .iter()
                .find(|r| r.status == "failed")
                .map(|r| r.message.clone().unwrap_or_else(|| r.code_desc.clone()))
                .or_else(|| c.results.iter().find_map(|r| r.skip_message.clone()));
            if started.is_none() {
                started = c.results.iter().find_map(|r| r.start_time.clone());
            }
            results.push(ImportedResult {
                rule: c.id.clone(),
                result: raw.to_owned(),
                verdict,
                severity: Some(severity(c.impact).to_owned()),
                idents: strings(c.tags.get("cci")).chain(strings(c.tags.get("stig_id"))).collect(),
                message,
                references: references(&c.tags),
            });
        }
    }
    let target = report.platform.target_id.clone().filter(|t| !t.is_empty()).unwrap_or_else(|| {
        format!("{} {}", report.platform.name, report.platform.release.as_deref().unwrap_or(""))
            .trim()
            .to_owned()
    });
    Ok(vec![ImportedHost {
        target,
        addresses: Vec::new(),
        started_at: started,
        finished_at: None,
        profile: report.profiles.first().map(|p| p.name.clone()),
        test_system: Some(format!("inspec {}", report.version.as_deref().unwrap_or("")).trim().to_owned()),
        results,
    }])
}

/// InSpec's impact (0 to 1) as a severity word, as InSpec itself names the bands.
fn severity(impact: f64) -> &'static str {
    match impact {
        i if i >= 0.9 => "critical",
        i if i >= 0.7 => "high",
        i if i >= 0.4 => "medium",
        i if i > 0.0 => "low",
        _ => "none",
    }
}

/// A tag's strings: one string, or a list of them.
fn strings(tag: Option<&Value>) -> impl Iterator<Item = String> + '_ {
    let list: Vec<String> = match tag {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    };
    list.into_iter()
}

/// NIST controls from `nist` (`AC-7`, `AC-7 a`: the control part kept), CIS sections from
/// `cis` or `cis_section`; `cis_controls` (CIS Controls, not benchmark sections) kept apart.
fn references(tags: &serde_json::Map<String, Value>) -> Vec<ForeignRef> {
    let mut out = Vec::new();
    for n in strings(tags.get("nist")) {
        let control = n.split_whitespace().next().unwrap_or_default();
        if !control.is_empty() && control != "Rev_4" && control != "Rev_5" {
            out.push(ForeignRef::new("nist_800_53", control));
        }
    }
    for key in ["cis", "cis_section"] {
        out.extend(strings(tags.get(key)).map(|s| ForeignRef::new("cis", &s)));
    }
    out.extend(strings(tags.get("cis_controls")).map(|s| ForeignRef::new("cis_controls", &s)));
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = r#"{
      "platform": {"name": "debian", "release": "12.5", "target_id": "web-1"},
      "profiles": [{"name": "linux-baseline", "controls": [
        {"id": "sshd-01", "impact": 0.7, "tags": {"nist": ["AC-7 a", "Rev_4"], "cis": "5.1.7"},
         "results": [{"status": "passed", "code_desc": "ok", "start_time": "2026-12-01T10:00:00+00:00"},
                     {"status": "failed", "code_desc": "MaxAuthTries should be <= 4", "message": "expected 10"}]},
        {"id": "os-02", "impact": 0.3, "results": [{"status": "passed", "code_desc": "ok"}]},
        {"id": "os-03", "impact": 0.0, "results": [{"status": "skipped", "code_desc": "", "skip_message": "not here"}]},
        {"id": "os-04", "impact": 0.5, "waiver_data": {"run": false, "justification": "legacy"},
         "results": [{"status": "skipped", "code_desc": ""}]}
      ]}],
      "version": "5.22.3"
    }"#;

    #[test]
    fn controls_are_decided_by_their_tests() {
        let hosts = parse("r.json", REPORT).unwrap();
        assert_eq!(hosts[0].target, "web-1");
        let v: Vec<(&str, Status)> = hosts[0].results.iter().map(|r| (r.rule.as_str(), r.verdict)).collect();
        assert_eq!(
            v,
            [
                ("sshd-01", Status::Fail),
                ("os-02", Status::Pass),
                ("os-03", Status::Skipped),
                ("os-04", Status::Excepted)
            ]
        );
        let r = &hosts[0].results[0];
        assert_eq!(r.message.as_deref(), Some("expected 10"));
        assert_eq!(r.severity.as_deref(), Some("high"));
        assert_eq!(r.references, [ForeignRef::new("nist_800_53", "AC-7"), ForeignRef::new("cis", "5.1.7")]);
    }

    #[test]
    fn a_bad_file_names_where() {
        let e = parse("r.json", "{\"platform\": {\"name\": \"x\"},\n \"profiles\": 3}").unwrap_err();
        assert_eq!((e.line, e.col), (2, 14), "{e}");
        assert!(e.to_string().starts_with("r.json:2:14: not an InSpec JSON report: invalid type"), "{e}");
        let e = parse(
            "r.json",
            &REPORT.replace(
                "\"skipped\", \"code_desc\": \"\", \"skip",
                "\"maybe\", \"code_desc\": \"\", \"skip",
            ),
        )
        .unwrap_err();
        assert!(e.what.contains("control os-03 of profile linux-baseline: test status \"maybe\""), "{e}");
        assert_eq!((e.line, e.col), (8, 63), "{e}");
    }
}
