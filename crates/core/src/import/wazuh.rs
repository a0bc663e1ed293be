//! Wazuh SCA results as its API returns them (`GET /sca/{agent_id}/checks/{policy_id}`:
//! `{"data": {"affected_items": [...]}}`), or the bare list of checks. The results name no
//! host (the agent is in the request), so the caller says which host they are for. A check's
//! CIS sections and NIST controls come from its `compliance` list. All or nothing: a file
//! that is not such a result fails whole, naming where.

use serde::Deserialize;
use serde_json::Value;

use super::{ForeignRef, ImportError, ImportedHost, ImportedResult};
use crate::eval::Status;

#[derive(Deserialize)]
struct Api {
    data: Data,
}

#[derive(Deserialize)]
struct Data {
    affected_items: Vec<Check>,
}

#[derive(Deserialize)]
struct Check {
    id: i64,
    #[serde(default)]
    title: String,
    #[serde(default)]
    policy_id: Option<String>,
    /// `passed`, `failed`, `not applicable` (older managers: empty, with `status`).
    #[serde(default)]
    result: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    compliance: Vec<Compliance>,
}

#[derive(Deserialize)]
struct Compliance {
    key: String,
    value: Value,
}

/// Parse Wazuh SCA results for the host `target`; `file` names it in errors.
pub fn parse(file: &str, text: &str, target: &str) -> Result<Vec<ImportedHost>, ImportError> {
    let json_error = |e: serde_json::Error| {
        super::json_error(
            file,
            "not Wazuh SCA results (the API's data.affected_items, or a list of checks)",
            &e,
        )
    };
    // The API's envelope, or the list of checks on its own.
    let checks = if text.trim_start().starts_with('[') {
        serde_json::from_str::<Vec<Check>>(text).map_err(json_error)?
    } else {
        serde_json::from_str::<Api>(text).map_err(json_error)?.data.affected_items
    };
    let mut results = Vec::with_capacity(checks.len());
    let mut policy = None;
    for c in checks {
        let raw = if c.result.is_empty() { c.status.clone().unwrap_or_default() } else { c.result.clone() };
        let verdict = match raw.to_ascii_lowercase().as_str() {
            "passed" => Status::Pass,
            "failed" => Status::Fail,
            "not applicable" => Status::NotApplicable,
            other => {
                let (line, col) = super::position(text, &[&c.id.to_string(), &format!("\"{raw}\"")]);
                return Err(ImportError::new(
                    file,
                    line,
                    col,
                    format!("check {}: result {other:?} is not passed, failed or not applicable", c.id),
                ));
            }
        };
        policy = policy.or(c.policy_id.clone());
        let mut references = Vec::new();
        for comp in &c.compliance {
            let scheme = match comp.key.as_str() {
                "cis" => "cis",
                k if k.starts_with("nist_800_53") => "nist_800_53",
                k => k,
            };
            let values = match &comp.value {
                Value::String(s) => s.split(',').map(str::to_owned).collect(),
                Value::Array(a) => a.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
                other => vec![other.to_string()],
            };
            references
                .extend(values.iter().filter(|v| !v.trim().is_empty()).map(|v| ForeignRef::new(scheme, v)));
        }
        results.push(ImportedResult {
            rule: c.id.to_string(),
            result: raw,
            verdict,
            severity: None,
            idents: vec![c.title],
            message: c.reason.filter(|r| !r.is_empty()),
            references,
        });
    }
    Ok(vec![ImportedHost {
        target: target.to_owned(),
        addresses: Vec::new(),
        started_at: None,
        finished_at: None,
        profile: policy,
        test_system: Some("wazuh-sca".to_owned()),
        results,
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    const API: &str = r#"{"data": {"affected_items": [
      {"id": 28552, "policy_id": "cis_debian12", "title": "Ensure sshd MaxAuthTries is configured.", "result": "failed",
       "compliance": [{"key": "cis", "value": "5.1.7"}, {"key": "nist_800_53", "value": "AC-7, AU-3"}]},
      {"id": 28500, "policy_id": "cis_debian12", "title": "Ensure cramfs is not available.", "result": "passed",
       "compliance": [{"key": "cis", "value": "1.1.1.1"}]},
      {"id": 28600, "policy_id": "cis_debian12", "title": "Ensure GDM is removed.", "result": "", "status": "Not applicable",
       "reason": "Could not open file '/etc/gdm3/custom.conf'"}
    ], "total_affected_items": 3}, "error": 0}"#;

    #[test]
    fn checks_with_their_references() {
        let hosts = parse("sca.json", API, "web-1").unwrap();
        assert_eq!((hosts[0].target.as_str(), hosts[0].profile.as_deref()), ("web-1", Some("cis_debian12")));
        let v: Vec<Status> = hosts[0].results.iter().map(|r| r.verdict).collect();
        assert_eq!(v, [Status::Fail, Status::Pass, Status::NotApplicable]);
        assert_eq!(
            hosts[0].results[0].references,
            [
                ForeignRef::new("cis", "5.1.7"),
                ForeignRef::new("nist_800_53", "AC-7"),
                ForeignRef::new("nist_800_53", "AU-3")
            ]
        );
        assert!(hosts[0].results[2].message.as_deref().unwrap().contains("custom.conf"));
    }

    #[test]
    fn a_bad_file_names_where() {
        let e = parse("sca.json", "{\"data\": {\"affected_items\": [\n {\"id\": \"x\"}]}}", "h").unwrap_err();
        assert!(e.to_string().starts_with("sca.json:2:"), "{e}");
        let e = parse("sca.json", &API.replace("\"passed\"", "\"maybe\""), "h").unwrap_err();
        assert!(e.what.contains("check 28500: result \"maybe\""), "{e}");
        assert_eq!((e.line, e.col), (4, 104), "{e}");
    }
}
