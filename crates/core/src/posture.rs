//! Per-framework posture: how one host's verdicts fall for each framework its rules cite.
//! Computed here once so the server's ingest and its benchmark count alike.

use std::collections::BTreeMap;

use crate::eval::Status;
use crate::rule::PLATFORM_KEYS;
use crate::rule::References;

/// The platform key a framework is written for (`cis_debian12` → `debian12`,
/// `stig_ubuntu2204` → `ubuntu2204`), or `None` for frameworks that hold for any Linux host
/// (NIST 800-53, PCI DSS).
pub fn framework_platform(framework: &str) -> Option<&str> {
    framework
        .strip_prefix("cis_")
        .or_else(|| framework.strip_prefix("stig_"))
        .filter(|k| PLATFORM_KEYS.contains(k))
}

/// A host's platform key from its os-release family and version: Ubuntu releases are
/// `major.minor` (`ubuntu2204`), the others are named by major version (`debian12`, `rhel9`).
pub fn platform_key(family: &str, version: &str) -> String {
    let parts: Vec<&str> = version.split('.').collect();
    let take = if family == "ubuntu" { 2 } else { 1 };
    format!("{family}{}", parts.iter().take(take).copied().collect::<String>())
}

/// Whether `framework` applies to a host: a platform-neutral framework always does; a
/// platform's benchmark only on that platform, so a RHEL STIG is neither shown nor counted
/// for a Debian host. A host whose platform is unknown keeps every framework, since nothing
/// says one does not apply.
pub fn framework_applies(framework: &str, family: Option<&str>, version: Option<&str>) -> bool {
    match (framework_platform(framework), family, version) {
        (None, _, _) => true,
        (Some(key), Some(family), Some(version)) => platform_key(family, version) == key,
        (Some(key), Some(family), None) => key.starts_with(family),
        (Some(_), None, _) => true,
    }
}

/// Verdict counts over the rules of one host's report that cite `framework`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FrameworkPosture {
    pub framework: String,
    pub pass: u32,
    pub fail: u32,
    pub error: u32,
    /// Not applicable and skipped rules: neither counts toward compliance.
    pub not_applicable: u32,
    /// Failures an exception accepts: a pass "with exceptions", a failure without.
    pub excepted: u32,
}

impl FrameworkPosture {
    /// Count one result.
    pub fn count(&mut self, verdict: Status) {
        match verdict {
            Status::Pass => self.pass += 1,
            Status::Fail => self.fail += 1,
            Status::Error => self.error += 1,
            Status::NotApplicable | Status::Skipped => self.not_applicable += 1,
            Status::Excepted => self.excepted += 1,
        }
    }

    /// Add another's counts (another host's, say) to these.
    pub fn add(&mut self, other: &FrameworkPosture) {
        self.pass += other.pass;
        self.fail += other.fail;
        self.error += other.error;
        self.not_applicable += other.not_applicable;
        self.excepted += other.excepted;
    }
}

/// Count each result under every framework of `frameworks` it cites. Frameworks no result
/// cites are left out; the rest come sorted by name, the order the store writes rows in.
pub fn by_framework<'a, 'r>(
    frameworks: impl IntoIterator<Item = &'a str>,
    results: impl IntoIterator<Item = (&'r References, Status)>,
) -> Vec<FrameworkPosture> {
    let mut frameworks: Vec<&str> = frameworks.into_iter().collect();
    frameworks.sort_unstable();
    frameworks.dedup();
    let mut counts: BTreeMap<&str, FrameworkPosture> = BTreeMap::new();
    for (refs, verdict) in results {
        for &fw in &frameworks {
            if refs.controls(fw).is_empty() {
                continue;
            }
            counts
                .entry(fw)
                .or_insert_with(|| FrameworkPosture {
                    framework: fw.to_owned(),
                    ..FrameworkPosture::default()
                })
                .count(verdict);
        }
    }
    counts.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(nist: &[&str], pci: &[&str]) -> References {
        References {
            nist_800_53: nist.iter().map(|s| (*s).to_owned()).collect(),
            pci_dss_4: pci.iter().map(|s| (*s).to_owned()).collect(),
            ..References::default()
        }
    }

    fn posture(framework: &str, pass: u32, fail: u32, error: u32, not_applicable: u32) -> FrameworkPosture {
        FrameworkPosture { framework: framework.to_owned(), pass, fail, error, not_applicable, excepted: 0 }
    }

    #[test]
    fn platform_frameworks_apply_only_to_their_platform() {
        let debian = (Some("debian"), Some("12"));
        assert!(framework_applies("cis_debian12", debian.0, debian.1));
        assert!(framework_applies("nist_800_53", debian.0, debian.1));
        assert!(framework_applies("pci_dss_4", debian.0, debian.1));
        for other in ["stig_rhel9", "stig_rhel8", "stig_ubuntu2204", "stig_ubuntu2404"] {
            assert!(!framework_applies(other, debian.0, debian.1), "{other} on debian 12");
        }
        assert!(!framework_applies("cis_debian12", Some("debian"), Some("11")));
        assert!(framework_applies("stig_rhel9", Some("rhel"), Some("9.4")));
        assert!(!framework_applies("stig_rhel8", Some("rhel"), Some("9.4")));
        assert!(framework_applies("stig_ubuntu2204", Some("ubuntu"), Some("22.04")));
        assert!(!framework_applies("stig_ubuntu2404", Some("ubuntu"), Some("22.04")));
        assert!(framework_applies("stig_rhel9", Some("rhel"), None), "no version: the family decides");
        assert!(framework_applies("stig_rhel9", None, None), "an unknown platform keeps every framework");
    }

    #[test]
    fn counts_each_verdict_under_every_cited_framework() {
        let both = refs(&["AC-6"], &["2.2.1"]);
        let nist = refs(&["CM-6"], &[]);
        let results = [
            (&both, Status::Pass),
            (&both, Status::Fail),
            (&nist, Status::Error),
            (&nist, Status::NotApplicable),
            (&nist, Status::Skipped),
            (&nist, Status::Pass),
        ];
        assert_eq!(
            by_framework(["pci_dss_4", "nist_800_53"], results),
            vec![posture("nist_800_53", 2, 1, 1, 2), posture("pci_dss_4", 1, 1, 0, 0)]
        );
    }

    #[test]
    fn leaves_out_frameworks_no_result_cites_and_results_citing_none() {
        let none = References::default();
        let nist = refs(&["CM-6"], &[]);
        let results = [(&none, Status::Fail), (&nist, Status::Fail)];
        assert_eq!(
            by_framework(["cis_debian12", "nist_800_53", "pci_dss_4"], results),
            vec![posture("nist_800_53", 0, 1, 0, 0)]
        );
        assert!(by_framework(["nist_800_53"], std::iter::empty()).is_empty());
    }

    #[test]
    fn a_framework_listed_twice_is_counted_once() {
        let nist = refs(&["CM-6"], &[]);
        assert_eq!(
            by_framework(["nist_800_53", "nist_800_53"], [(&nist, Status::Pass)]),
            vec![posture("nist_800_53", 1, 0, 0, 0)]
        );
    }
}
