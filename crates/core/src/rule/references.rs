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

/// A DISA STIG requirement, per platform key such as `ubuntu2204`. The STIG id and severity
/// are always known; the vulnerability id and CCIs are absent where the only source of a
/// release publishes none (Ubuntu 24.04 V1R1), and lint requires the vulnerability id
/// wherever the platform's catalog has one.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StigRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vuln_id: Option<Text>,
    pub stig_id: Text,
    pub severity: StigCategory,
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

impl StigCategory {
    pub fn as_str(self) -> &'static str {
        match self {
            StigCategory::CatI => "CAT I",
            StigCategory::CatII => "CAT II",
            StigCategory::CatIII => "CAT III",
        }
    }
}

/// The STIG requirements a rule checks on one platform: one map, or a non-empty list of them
/// when the rule covers several requirements. A single requirement is written back as a map.
#[derive(Debug, Clone)]
pub struct StigRefs(pub Vec<StigRef>);

impl std::ops::Deref for StigRefs {
    type Target = [StigRef];
    fn deref(&self) -> &[StigRef] {
        &self.0
    }
}

impl Serialize for StigRefs {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [one] => one.serialize(s),
            many => many.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for StigRefs {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<StigRefs, D::Error> {
        use serde::de::{self, value::MapAccessDeserializer, value::SeqAccessDeserializer};
        struct OneOrMany;
        impl<'de> de::Visitor<'de> for OneOrMany {
            type Value = StigRefs;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a STIG reference {stig_id, severity, ...} or a non-empty list of them")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<StigRefs, A::Error> {
                Ok(StigRefs(vec![StigRef::deserialize(MapAccessDeserializer::new(map))?]))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<StigRefs, A::Error> {
                let refs = Vec::<StigRef>::deserialize(SeqAccessDeserializer::new(seq))?;
                if refs.is_empty() {
                    return Err(de::Error::invalid_length(0, &self));
                }
                Ok(StigRefs(refs))
            }
        }
        d.deserialize_any(OneOrMany)
    }
}

/// Every framework reference of a rule.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct References {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub cis: BTreeMap<String, CisRef>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub stig: BTreeMap<String, StigRefs>,
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
                .stig(platform)
                .iter()
                .flat_map(|s| {
                    std::iter::once(s.stig_id.as_str().to_owned())
                        .chain(s.vuln_id.as_ref().map(|v| v.as_str().to_owned()))
                })
                .collect();
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

    /// The STIG requirements this rule checks on a platform key; empty when it cites none.
    pub fn stig(&self, platform: &str) -> &[StigRef] {
        self.stig.get(platform).map_or(&[], |s| s)
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
    fn stig_references_are_one_map_or_a_list() {
        let one: References =
            serde_saphyr::from_str("stig: {rhel9: {vuln_id: V-1, stig_id: RHEL-09-1, severity: CAT II}}")
                .unwrap();
        assert_eq!(one.controls("stig_rhel9"), ["RHEL-09-1", "V-1"]);
        assert_eq!(one.stig("rhel9")[0].severity, StigCategory::CatII);
        assert!(one.stig("rhel8").is_empty());
        let many: References = serde_saphyr::from_str(
            "stig:\n  rhel8:\n    - {vuln_id: V-1, stig_id: RHEL-08-1, severity: CAT I}\n    \
             - {vuln_id: V-2, stig_id: RHEL-08-2, severity: CAT III}\n",
        )
        .unwrap();
        assert_eq!(many.controls("stig_rhel8"), ["RHEL-08-1", "V-1", "RHEL-08-2", "V-2"]);
        // One requirement is written back as a map, several as a list.
        let json = serde_json::to_value(&one).unwrap();
        assert!(json["stig"]["rhel9"].is_object());
        assert_eq!(serde_json::to_value(&many).unwrap()["stig"]["rhel8"].as_array().unwrap().len(), 2);
        for bad in [
            "stig: {rhel9: []}",
            // The STIG id and the severity are required.
            "stig: {rhel9: [{vuln_id: V-1, severity: CAT II}]}",
            "stig: {rhel9: [{vuln_id: V-1, stig_id: RHEL-09-1}]}",
            "stig: {rhel9: {stig_id: RHEL-09-1, severity: CAT IV}}",
            "stig: {rhel9: {stig_id: RHEL-09-1, severity: CAT II, vuln_id: \"\"}}",
            "stig: {rhel9: {vuln: V-1}}",
        ] {
            assert!(serde_saphyr::from_str::<References>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn stig_references_may_omit_the_vulnerability_id_and_ccis() {
        let r: References =
            serde_saphyr::from_str("stig: {ubuntu2404: {stig_id: UBTU-24-100030, severity: CAT I}}").unwrap();
        let s = &r.stig("ubuntu2404")[0];
        assert!(s.vuln_id.is_none() && s.cci.is_empty());
        assert_eq!(s.severity, StigCategory::CatI);
        // Only the STIG id is a control; nothing empty stands in for the vulnerability id.
        assert_eq!(r.controls("stig_ubuntu2404"), ["UBTU-24-100030"]);
        // Absent fields stay absent when written back.
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(
            json["stig"]["ubuntu2404"],
            serde_json::json!({"stig_id": "UBTU-24-100030", "severity": "CAT I"})
        );
    }

    #[test]
    fn framework_names_are_validated() {
        assert!(is_known_framework("cis_debian12"));
        assert!(is_known_framework("stig_ubuntu2204"));
        assert!(!is_known_framework("cis_windows"));
    }
}
