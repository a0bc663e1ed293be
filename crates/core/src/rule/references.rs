//! Framework references a rule cites. Identifiers are facts; titles and prose are our own.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Text;

/// A CIS benchmark recommendation, per platform key such as `debian12`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CisRef {
    pub section: Text,
    pub level: CisLevel,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
pub enum CisLevel {
    L1,
    L2,
}

/// A DISA STIG finding, per platform key such as `ubuntu2204`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StigRef {
    pub vuln_id: Text,
    pub stig_id: Text,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<StigCategory>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cci: Vec<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
pub enum StigCategory {
    #[serde(rename = "CAT I")]
    CatI,
    #[serde(rename = "CAT II")]
    CatII,
    #[serde(rename = "CAT III")]
    CatIII,
}

/// Every framework reference of a rule.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct References {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub cis: BTreeMap<String, CisRef>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub stig: BTreeMap<String, StigRef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nist_800_53: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nist_800_171: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pci_dss_4: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub iso_27001_2022: Vec<String>,
    /// ComplianceAsCode rule ids of the equivalent rule(s).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ssg: Vec<String>,
}

/// The CIS and STIG platform keys a rule may use (`<family><version without dots>`).
pub const PLATFORM_KEYS: &[&str] = &[
    "debian11",
    "debian12",
    "debian13",
    "ubuntu2004",
    "ubuntu2204",
    "ubuntu2404",
    "rhel8",
    "rhel9",
    "rhel10",
];

impl References {
    /// The control ids this rule maps to in `framework` (e.g. `cis_debian12`, `nist_800_53`).
    pub fn controls(&self, framework: &str) -> Vec<String> {
        if let Some(platform) = framework.strip_prefix("cis_") {
            return self.cis.get(platform).map(|c| vec![c.section.as_str().to_owned()]).unwrap_or_default();
        }
        if let Some(platform) = framework.strip_prefix("stig_") {
            return self
                .stig
                .get(platform)
                .map(|s| vec![s.stig_id.as_str().to_owned(), s.vuln_id.as_str().to_owned()])
                .unwrap_or_default();
        }
        match framework {
            "nist_800_53" => self.nist_800_53.clone(),
            "nist_800_171" => self.nist_800_171.clone(),
            "pci_dss_4" => self.pci_dss_4.clone(),
            "iso_27001_2022" => self.iso_27001_2022.clone(),
            "ssg" => self.ssg.clone(),
            _ => Vec::new(),
        }
    }
}

/// Whether `name` is a framework the engine understands.
pub fn is_known_framework(name: &str) -> bool {
    matches!(name, "nist_800_53" | "nist_800_171" | "pci_dss_4" | "iso_27001_2022" | "ssg")
        || name.strip_prefix("cis_").is_some_and(|p| PLATFORM_KEYS.contains(&p))
        || name.strip_prefix("stig_").is_some_and(|p| PLATFORM_KEYS.contains(&p))
}

/// Every framework name, for help and error messages.
pub fn framework_names() -> Vec<String> {
    let mut names: Vec<String> =
        ["nist_800_53", "nist_800_171", "pci_dss_4", "iso_27001_2022", "ssg"].map(String::from).to_vec();
    for p in PLATFORM_KEYS {
        names.push(format!("cis_{p}"));
        names.push(format!("stig_{p}"));
    }
    names
}

/// Does a control id match the user's `--control` filter? `AC-6` matches `AC-6` and `AC-6(2)`;
/// `5.2` matches `5.2` and `5.2.4` but not `5.20`.
pub fn control_matches(control: &str, filter: &str) -> bool {
    let (c, f) = (control.to_ascii_uppercase(), filter.to_ascii_uppercase());
    c == f || c.strip_prefix(&f).is_some_and(|rest| rest.starts_with(['.', '(', ' ']))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_filter_matches_enhancements_and_subsections_only() {
        assert!(control_matches("AC-6(2)", "AC-6"));
        assert!(control_matches("ac-6", "AC-6"));
        assert!(!control_matches("AC-61", "AC-6"));
        assert!(control_matches("5.2.4", "5.2"));
        assert!(!control_matches("5.20", "5.2"));
    }

    #[test]
    fn framework_names_are_validated() {
        assert!(is_known_framework("cis_debian12"));
        assert!(is_known_framework("stig_ubuntu2204"));
        assert!(!is_known_framework("cis_windows"));
    }
}
