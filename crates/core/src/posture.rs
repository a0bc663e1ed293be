//! Per-framework posture: how one host's verdicts fall for each framework its rules cite.
//! Computed here once so the server's ingest and its benchmark count alike.

use std::collections::BTreeMap;

use crate::eval::Status;
use crate::rule::References;

/// Verdict counts over the rules of one host's report that cite `framework`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FrameworkPosture {
    pub framework: String,
    pub pass: u32,
    pub fail: u32,
    pub error: u32,
    /// Not applicable and skipped rules: neither counts toward compliance.
    pub not_applicable: u32,
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
            let p = counts.entry(fw).or_insert_with(|| FrameworkPosture {
                framework: fw.to_owned(),
                ..FrameworkPosture::default()
            });
            match verdict {
                Status::Pass => p.pass += 1,
                Status::Fail => p.fail += 1,
                Status::Error => p.error += 1,
                Status::NotApplicable | Status::Skipped => p.not_applicable += 1,
            }
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
        FrameworkPosture { framework: framework.to_owned(), pass, fail, error, not_applicable }
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
